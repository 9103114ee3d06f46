//! The evaluation's own loudness meter, independent of headroom's: BS.1770-4 K-weighting into
//! 10 ms sub-blocks of channel-summed mean square, from which momentary (400 ms) and
//! short-term (3 s) loudness follow for any window position on a 10 ms grid, gated integrated
//! loudness over any set of time ranges and LRA (EBU Tech 3342) over any range, from
//! short-term values every 100 ms as ffmpeg's `ebur128` filter takes them (libebur128 and the
//! `ebur128` crate take one every second, which on programmes of a minute or two reads up to
//! ~3 LU apart). Whole-file integrated loudness and 4× true peak come from the `ebur128` crate
//! (a port of libebur128); a 16×-oversampled true-peak check refines the places where the peak
//! can be.

use anyhow::Result;
use ebur128::{EbuR128, Mode};
use headroom_core::finepeak::bessel_i0;

/// Sub-block length: 10 ms.
pub const SUB_S: f64 = 0.01;
/// Momentary window in sub-blocks (400 ms).
pub const MOMENTARY: usize = 40;
/// Short-term window in sub-blocks (3 s).
pub const SHORT_TERM: usize = 300;
/// Hop of the gating blocks and of the LRA's short-term values, in sub-blocks (100 ms).
pub const HOP: usize = 10;

/// BS.1770 loudness of a channel-summed mean square.
pub fn lufs(mean_square: f64) -> f64 {
    if mean_square > 0.0 {
        -0.691 + 10.0 * mean_square.log10()
    } else {
        f64::NEG_INFINITY
    }
}

fn mean_square(lufs: f64) -> f64 {
    10f64.powf((lufs + 0.691) / 10.0)
}

/// A biquad in transposed direct form II, f64.
#[derive(Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
}

impl Biquad {
    fn run(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

/// The two K-weighting stages (high shelf, high pass) for `rate`, as libebur128 derives them
/// from the analogue prototypes of BS.1770 (identical to the standard's 48 kHz coefficients).
fn k_weighting(rate: u32) -> [Biquad; 2] {
    let rate = rate as f64;
    let (f0, g, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        z: [0.0; 2],
    };
    let (f0, q) = (38.13547087602444, 0.5003270373238773);
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let highpass = Biquad {
        b: [1.0, -2.0, 1.0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        z: [0.0; 2],
    };
    [shelf, highpass]
}

/// K-weighted energy of a signal in 10 ms sub-blocks, with prefix sums so that any window's
/// mean square costs O(1). Channels are weighted 1.0 (mono and stereo programmes).
pub struct Series {
    /// Cumulative sums of the sub-blocks' channel-summed mean squares; `prefix[i]` is the sum
    /// over sub-blocks `0..i`.
    prefix: Vec<f64>,
}

impl Series {
    /// Measures interleaved `samples`. A trailing partial sub-block is ignored.
    pub fn new(samples: &[f32], channels: usize, rate: u32) -> Series {
        let sub = (rate as f64 * SUB_S).round() as usize;
        let mut filters = vec![k_weighting(rate); channels];
        let frames = samples.len() / channels;
        let n = frames / sub;
        let mut prefix = Vec::with_capacity(n + 1);
        prefix.push(0.0);
        let mut acc = 0.0;
        for block in samples.chunks_exact(sub * channels).take(n) {
            let mut energy = 0.0;
            for (c, f) in filters.iter_mut().enumerate() {
                let mut sum = 0.0;
                for frame in block.chunks_exact(channels) {
                    let shelved = f[0].run(frame[c] as f64);
                    let y = f[1].run(shelved);
                    sum += y * y;
                }
                energy += sum / sub as f64;
            }
            acc += energy;
            prefix.push(acc);
        }
        Series { prefix }
    }

    /// Number of complete sub-blocks.
    pub fn len(&self) -> usize {
        self.prefix.len() - 1
    }

    /// Sub-block index of time `t` (seconds), rounded to the 10 ms grid.
    pub fn idx(&self, t: f64) -> usize {
        ((t / SUB_S).round().max(0.0) as usize).min(self.len())
    }

    /// Mean square over sub-blocks `a..b`.
    fn mean(&self, a: usize, b: usize) -> f64 {
        if b <= a {
            return 0.0;
        }
        // Guard against negative rounding residue of the prefix difference.
        ((self.prefix[b] - self.prefix[a]) / (b - a) as f64).max(0.0)
    }

    /// Loudness of the window of `len` sub-blocks ending at sub-block boundary `end`, or
    /// `None` when the window would start before the signal.
    pub fn window(&self, end: usize, len: usize) -> Option<f64> {
        (end >= len && end <= self.len()).then(|| lufs(self.mean(end - len, end)))
    }

    /// Loudness (ungated mean square) of sub-blocks `a..b`.
    pub fn loudness(&self, a: usize, b: usize) -> f64 {
        lufs(self.mean(a, b.min(self.len())))
    }

    /// Momentary loudness (400 ms) of the window ending at `end`.
    pub fn momentary(&self, end: usize) -> Option<f64> {
        self.window(end, MOMENTARY)
    }

    /// Short-term loudness (3 s) of the window ending at `end`.
    pub fn short_term(&self, end: usize) -> Option<f64> {
        self.window(end, SHORT_TERM)
    }

    /// Gated integrated loudness (BS.1770-4: 400 ms blocks every 100 ms, absolute gate −70
    /// LUFS, relative gate −10 LU) over the blocks that lie wholly inside one of `ranges`
    /// (sub-block index pairs). `None` when no block passes the gates.
    pub fn integrated(&self, ranges: &[(usize, usize)]) -> Option<f64> {
        let mut blocks = Vec::new();
        for &(a, b) in ranges {
            let mut s = a;
            while s + MOMENTARY <= b.min(self.len()) {
                blocks.push(self.mean(s, s + MOMENTARY));
                s += HOP;
            }
        }
        gated_mean(&blocks, -10.0).map(lufs)
    }

    /// Loudness range (EBU Tech 3342) of sub-blocks `a..b`: short-term values every 100 ms
    /// with windows wholly inside the range, absolute gate −70 LUFS, relative gate −20 LU,
    /// 95th minus 10th percentile.
    pub fn lra(&self, a: usize, b: usize) -> Option<f64> {
        let mut st = Vec::new();
        let mut end = a + SHORT_TERM;
        while end <= b.min(self.len()) {
            st.push(self.mean(end - SHORT_TERM, end));
            end += HOP;
        }
        let abs = mean_square(-70.0);
        let gated: Vec<f64> = st.into_iter().filter(|&e| e > abs).collect();
        if gated.is_empty() {
            return None;
        }
        let rel = gated.iter().sum::<f64>() / gated.len() as f64 * 10f64.powf(-20.0 / 10.0);
        let mut l: Vec<f64> = gated.into_iter().filter(|&e| e > rel).map(lufs).collect();
        l.sort_by(f64::total_cmp);
        Some(percentile(&l, 0.95) - percentile(&l, 0.10))
    }
}

/// Mean of the blocks above the absolute gate (−70 LUFS) and above `rel_lu` relative to the
/// mean of those.
fn gated_mean(blocks: &[f64], rel_lu: f64) -> Option<f64> {
    let abs = mean_square(-70.0);
    let above: Vec<f64> = blocks.iter().copied().filter(|&e| e > abs).collect();
    if above.is_empty() {
        return None;
    }
    let rel = above.iter().sum::<f64>() / above.len() as f64 * 10f64.powf(rel_lu / 10.0);
    let kept: Vec<f64> = above.into_iter().filter(|&e| e > rel).collect();
    (!kept.is_empty()).then(|| kept.iter().sum::<f64>() / kept.len() as f64)
}

/// Percentile `p` (0..=1) of sorted values, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Whole-signal figures from the `ebur128` crate.
pub struct Reference {
    /// Integrated loudness, LUFS.
    pub integrated: f64,
    /// 4× true peak, dBTP (maximum over channels).
    pub true_peak: f64,
}

/// Integrated loudness and true peak of interleaved `samples` by the `ebur128` crate.
pub fn reference(
    samples: &[f32],
    channels: usize,
    rate: u32,
    true_peak: bool,
) -> Result<Reference> {
    let mut mode = Mode::I;
    if true_peak {
        mode |= Mode::TRUE_PEAK;
    }
    let mut m = EbuR128::new(channels as u32, rate, mode)?;
    m.add_frames_f32(samples)?;
    let tp = if true_peak {
        let mut peak = 0f64;
        for c in 0..channels as u32 {
            peak = peak.max(m.true_peak(c)?);
        }
        db(peak)
    } else {
        f64::NAN
    };
    Ok(Reference {
        integrated: m.loudness_global()?,
        true_peak: tp,
    })
}

/// Amplitude → dB.
pub fn db(x: f64) -> f64 {
    20.0 * x.max(1e-20).log10()
}

/// Taps per phase of the 16× interpolator.
const TP_TAPS: usize = 32;
/// Oversampling of the true-peak check.
const TP_OVERSAMPLE: usize = 16;

/// 16×-oversampled true peak, dBTP: a Kaiser-windowed sinc (32 taps per phase) evaluated at
/// 15 points between two samples, but only where one of the two samples is within `margin_db`
/// of `near_dbtp` (the 4× true peak): a band-limited peak lies far above both neighbouring
/// samples only for content near Nyquist, which the 4× figure covers. Returns the larger of
/// the sample peak and the interpolated peak.
pub fn true_peak_16x(samples: &[f32], channels: usize, near_dbtp: f64, margin_db: f64) -> f64 {
    let coef = interpolator();
    let thr = 10f64.powf((near_dbtp - margin_db) / 20.0) as f32;
    let frames = samples.len() / channels;
    let half = TP_TAPS / 2;
    let mut peak = samples.iter().fold(0f32, |m, &x| m.max(x.abs())) as f64;
    let mut taps = vec![0f64; TP_TAPS];
    for c in 0..channels {
        let at = |n: isize| -> f64 {
            if n < 0 || n as usize >= frames {
                0.0
            } else {
                samples[n as usize * channels + c] as f64
            }
        };
        for n in 0..frames.saturating_sub(1) {
            let (x0, x1) = (samples[n * channels + c], samples[(n + 1) * channels + c]);
            if x0.abs() < thr && x1.abs() < thr {
                continue;
            }
            for (i, t) in taps.iter_mut().enumerate() {
                *t = at(n as isize + 1 + i as isize - half as isize);
            }
            for phase in &coef {
                let y: f64 = phase.iter().zip(&taps).map(|(h, x)| h * x).sum();
                peak = peak.max(y.abs());
            }
        }
    }
    db(peak)
}

/// Coefficients for positions `n + k/16`, k = 1..15, over samples `n+1-16 ..= n+16`.
fn interpolator() -> Vec<[f64; TP_TAPS]> {
    let half = (TP_TAPS / 2) as f64;
    let beta = 8.6;
    (1..TP_OVERSAMPLE)
        .map(|k| {
            let frac = k as f64 / TP_OVERSAMPLE as f64;
            let mut h = [0f64; TP_TAPS];
            for (i, v) in h.iter_mut().enumerate() {
                // Distance from the interpolated point to sample n+1+i-half.
                let d = frac - (i as f64 + 1.0 - half);
                let sinc = if d.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * d).sin() / (std::f64::consts::PI * d)
                };
                let u = d / half;
                let w = if u.abs() <= 1.0 {
                    bessel_i0(beta * (1.0 - u * u).sqrt()) / bessel_i0(beta)
                } else {
                    0.0
                };
                *v = sinc * w;
            }
            let sum: f64 = h.iter().sum();
            h.iter_mut().for_each(|v| *v /= sum);
            h
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stereo test programme, 20 s at 48 kHz: 1 kHz left, 100 Hz right, the level rising
    /// steadily by 30 dB (a ramp: both ways of sampling short-term loudness for the LRA see
    /// the same distribution).
    fn programme() -> Vec<f32> {
        let rate = 48_000.0;
        (0..20 * 48_000)
            .flat_map(|i| {
                let t = i as f64 / rate;
                let db = -40.0 + 1.5 * t;
                let amp = 10f64.powf(db / 20.0);
                let l = amp * (2.0 * std::f64::consts::PI * 1000.0 * t).sin();
                let r = amp * (2.0 * std::f64::consts::PI * 100.0 * t).sin();
                [l as f32, r as f32]
            })
            .collect()
    }

    #[test]
    fn matches_the_ebur128_crate() {
        let x = programme();
        let s = Series::new(&x, 2, 48_000);
        let r = reference(&x, 2, 48_000, false).unwrap();
        let i = s.integrated(&[(0, s.len())]).unwrap();
        assert!((i - r.integrated).abs() < 0.05, "{i} vs {}", r.integrated);
        // Short-term values rise 1.5 LU/s from 3 s to 20 s: LRA = (0.95 − 0.10) × 17 × 1.5.
        // The crate takes a value every second (1.5 LU apart), this meter every 100 ms.
        let lra = s.lra(0, s.len()).unwrap();
        assert!((lra - 0.85 * 17.0 * 1.5).abs() < 0.2, "{lra}");
        let mut m = EbuR128::new(2, 48_000, Mode::LRA).unwrap();
        m.add_frames_f32(&x).unwrap();
        let crate_lra = m.loudness_range().unwrap();
        assert!((lra - crate_lra).abs() < 1.5, "{lra} vs {crate_lra}");
        // Momentary and short-term at one position against the crate's running values.
        let mut m = EbuR128::new(2, 48_000, Mode::S).unwrap();
        m.add_frames_f32(&x[..2 * 48_000 * 7]).unwrap();
        let end = s.idx(7.0);
        assert!((s.momentary(end).unwrap() - m.loudness_momentary().unwrap()).abs() < 0.02);
        assert!((s.short_term(end).unwrap() - m.loudness_shortterm().unwrap()).abs() < 0.02);
    }

    #[test]
    fn sixteen_times_oversampling_finds_the_intersample_peak() {
        // fs/4 sine sampled 45° off its peaks: samples at 0.707 of a full-scale peak. Faded
        // in and out over 1000 samples (an abrupt start would overshoot, rightly so).
        let n = 48_000;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                let fade = (i.min(n - 1 - i) as f64 / 1000.0).min(1.0);
                (fade * (std::f64::consts::PI / 2.0 * i as f64 + std::f64::consts::PI / 4.0).sin())
                    as f32
            })
            .collect();
        let sample_peak = db(x.iter().fold(0f32, |m, v| m.max(v.abs())) as f64);
        assert!((sample_peak + 3.01).abs() < 0.01);
        let tp = true_peak_16x(&x, 1, 0.0, 6.0);
        assert!(tp.abs() < 0.05, "{tp} dBTP");
    }
}
