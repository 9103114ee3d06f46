//! Signal synthesis shared by the meter tests (every test signal is generated here; there are
//! no fixture files), and, as [`levelling`], the programme builders and loudness oracles of
//! the chain and levelling tests (`tests/levelling_support`, which `headroom-profile`'s
//! levelling tests use too).

#[path = "../levelling_support/mod.rs"]
pub mod levelling;

use std::f64::consts::PI;

/// Small deterministic PRNG (xorshift64*), enough for test noise and random block sizes.
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator (0 is remapped).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Uniform integer in lo..=hi.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// dBFS to linear amplitude.
pub fn db(d: f64) -> f64 {
    10f64.powf(d / 20.0)
}

/// Mono sine: `amp · sin(2π f n / rate + phase)` for `frames` frames.
pub fn sine(rate: u32, freq: f64, amp: f64, phase: f64, frames: usize) -> Vec<f64> {
    (0..frames)
        .map(|n| amp * (2.0 * PI * freq * n as f64 / rate as f64 + phase).sin())
        .collect()
}

/// Frames in `secs` seconds (rounded).
pub fn frames(rate: u32, secs: f64) -> usize {
    (rate as f64 * secs).round() as usize
}

/// Interleaves per-channel signals (all the same length) to f32.
pub fn interleave(chans: &[Vec<f64>]) -> Vec<f32> {
    let n = chans.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::with_capacity(n * chans.len());
    for i in 0..n {
        for c in chans {
            out.push(c.get(i).copied().unwrap_or(0.0) as f32);
        }
    }
    out
}

/// The same mono signal on `ch` channels, interleaved.
pub fn same_on_all(mono: &[f64], ch: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(mono.len() * ch);
    for &x in mono {
        for _ in 0..ch {
            out.push(x as f32);
        }
    }
    out
}

/// A random programme of `secs` seconds on `ch` channels: segments of noise bursts, sines
/// and silence with random levels and lengths.
pub fn programme(seed: u64, rate: u32, ch: usize, secs: f64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let total = frames(rate, secs);
    let mut chans: Vec<Vec<f64>> = vec![Vec::with_capacity(total); ch];
    while chans[0].len() < total {
        let len = frames(rate, rng.range(0.05, 2.5)).min(total - chans[0].len());
        let kind = rng.int(0, 3);
        let level = db(rng.range(-45.0, -3.0));
        let freq = rng.range(40.0, 0.3 * rate as f64);
        let phase = rng.range(0.0, 2.0 * PI);
        for (c, chan) in chans.iter_mut().enumerate() {
            let gain = if ch > 1 { rng.range(0.5, 1.0) } else { 1.0 };
            match kind {
                0 => chan.extend(std::iter::repeat_n(0.0, len)),
                1 => chan.extend(sine(rate, freq, level * gain, phase + c as f64, len)),
                _ => {
                    // Sum of uniforms (roughly Gaussian, peak-limited), low-passed at
                    // 0.2·fs like programme material (little content near Nyquist).
                    let fc = 0.2 * rate as f64;
                    let (mut lp1, mut lp2) = (Lowpass::new(rate, fc), Lowpass::new(rate, fc));
                    for _ in 0..len {
                        let g = rng.unit() + rng.unit() + rng.unit() - 1.5;
                        let y = lp2.run(lp1.run(2.0 * g));
                        chan.push(level * gain * y);
                    }
                }
            }
        }
    }
    interleave(&chans)
}

/// Butterworth low-pass biquad (bilinear transform).
pub struct Lowpass {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
}

impl Lowpass {
    /// Low-pass at `fc` Hz, Q = 1/√2.
    pub fn new(rate: u32, fc: f64) -> Self {
        let k = (PI * fc / rate as f64).tan();
        let q = std::f64::consts::FRAC_1_SQRT_2;
        let norm = 1.0 / (1.0 + k / q + k * k);
        let b0 = k * k * norm;
        Lowpass {
            b: [b0, 2.0 * b0, b0],
            a: [2.0 * (k * k - 1.0) * norm, (1.0 - k / q + k * k) * norm],
            z: [0.0; 2],
        }
    }
    /// Filters one sample.
    pub fn run(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

/// Loudness range per EBU Tech 3342 computed exactly from a list of short-term loudness
/// values (LUFS): absolute gate −70, relative gate −20 LU below the energy mean, then the
/// spread between the 10th and 95th percentiles (nearest rank, as libebur128 rounds).
pub fn lra_from_short_term(values: &[f64]) -> f64 {
    let e = |l: f64| 10f64.powf((l + 0.691) / 10.0);
    let abs: Vec<f64> = values.iter().copied().filter(|&l| l >= -70.0).collect();
    if abs.is_empty() {
        return 0.0;
    }
    let mean = abs.iter().map(|&l| e(l)).sum::<f64>() / abs.len() as f64;
    let gate = -0.691 + 10.0 * mean.log10() - 20.0;
    let mut rel: Vec<f64> = abs.into_iter().filter(|&l| l >= gate).collect();
    if rel.is_empty() {
        return 0.0;
    }
    rel.sort_by(f64::total_cmp);
    let n = rel.len() as f64;
    let lo = ((n - 1.0) * 0.10 + 0.5).floor() as usize;
    let hi = ((n - 1.0) * 0.95 + 0.5).floor() as usize;
    rel[hi] - rel[lo]
}

/// Stereo 1 kHz sine in phase on both channels, as in EBU Tech 3341 case 1, made of
/// segments `(seconds, level dBFS)`; `None` is silence. The phase runs on continuously.
pub fn tone_segments(rate: u32, segments: &[(f64, Option<f64>)]) -> Vec<f32> {
    let mut out = Vec::new();
    let mut n0 = 0usize;
    for &(secs, level) in segments {
        let len = frames(rate, secs);
        for n in n0..n0 + len {
            let x = match level {
                Some(l) => db(l) * (2.0 * PI * 1000.0 * n as f64 / rate as f64).sin(),
                None => 0.0,
            };
            out.push(x as f32);
            out.push(x as f32);
        }
        n0 += len;
    }
    out
}

/// Feeds `sig` (interleaved, `ch` channels) to `meter` one 100 ms sub-block at a time and
/// calls `at` after each complete sub-block with the time in seconds.
pub fn feed_live(
    meter: &mut headroom_core::meter::LiveMeter,
    sig: &[f32],
    ch: usize,
    mut at: impl FnMut(f64, &headroom_core::meter::LiveMeter),
) {
    let sub = meter.sub_block_frames();
    let rate_guess = sub * 10;
    let mut frames_done = 0usize;
    for chunk in sig.chunks(sub * ch) {
        meter.process(chunk);
        frames_done += chunk.len() / ch;
        if chunk.len() == sub * ch {
            at(frames_done as f64 / rate_guess as f64, meter);
        }
    }
}

/// Linear amplitude to dB.
pub fn lin_db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// EBU Tech 3341 true-peak signals 15–19: stereo sine of `fs / divisor` with amplitude `amp`
/// and initial phase `phase_deg`, 1 s long, tapered with 10 ms fade-in and fade-out.
pub fn tp_sine(rate: u32, divisor: f64, amp: f64, phase_deg: f64) -> Vec<f32> {
    let len = rate as usize;
    let fade = frames(rate, 0.010);
    let mut mono = Vec::with_capacity(len);
    for n in 0..len {
        let g = if n < fade {
            n as f64 / fade as f64
        } else if n >= len - fade {
            (len - 1 - n) as f64 / fade as f64
        } else {
            1.0
        };
        let ph = 2.0 * PI * n as f64 / divisor + phase_deg.to_radians();
        mono.push(g * amp * ph.sin());
    }
    same_on_all(&mono, 2)
}

/// EBU Tech 3341 true-peak signals 20–23: at 4·fs, a sine of fs/6 with amplitude 0.5
/// containing one period of fs/4 with amplitude 1.0 (phase-continuous on both sides),
/// tapered, low-pass filtered (windowed-sinc anti-alias filter with its cut-off at fs/2) and
/// decimated to fs taking every 4th sample from `offset` (0–3). Returns the stereo signal
/// at fs and the largest absolute value of the filtered signal at 4·fs.
pub fn tp_burst(rate: u32, offset: usize) -> (Vec<f32>, f64) {
    let up = 4 * rate as usize;
    let len = up / 2; // 0.5 s
    let p6 = 24usize; // period of fs/6 at 4·fs
    let p4 = 16usize; // period of fs/4 at 4·fs
    let fade = up / 100; // 10 ms
    let burst_at = (len / 2) / p6 * p6; // a rising zero crossing of the fs/6 sine
    let mut x = Vec::with_capacity(len);
    for n in 0..len {
        let v = if n < burst_at {
            0.5 * (2.0 * PI * n as f64 / p6 as f64).sin()
        } else if n < burst_at + p4 {
            (2.0 * PI * (n - burst_at) as f64 / p4 as f64).sin()
        } else {
            0.5 * (2.0 * PI * (n - burst_at - p4) as f64 / p6 as f64).sin()
        };
        let g = if n < fade {
            n as f64 / fade as f64
        } else if n >= len - fade {
            (len - 1 - n) as f64 / fade as f64
        } else {
            1.0
        };
        x.push(g * v);
    }
    // Blackman-windowed sinc low-pass, cut-off fs/2 = 0.125 of the 4·fs rate.
    let taps = 255usize;
    let mid = (taps / 2) as f64;
    let fc = 0.125;
    let h: Vec<f64> = (0..taps)
        .map(|k| {
            let m = k as f64 - mid;
            let sinc = if m == 0.0 {
                2.0 * fc
            } else {
                (2.0 * PI * fc * m).sin() / (PI * m)
            };
            let w = 0.42 - 0.5 * (2.0 * PI * k as f64 / (taps - 1) as f64).cos()
                + 0.08 * (4.0 * PI * k as f64 / (taps - 1) as f64).cos();
            sinc * w
        })
        .collect();
    let norm: f64 = h.iter().sum();
    let y: Vec<f64> = (0..len)
        .map(|n| {
            let mut acc = 0.0;
            for (k, &c) in h.iter().enumerate() {
                let i = n as isize + k as isize - mid as isize;
                if i >= 0 && (i as usize) < len {
                    acc += c * x[i as usize];
                }
            }
            acc / norm
        })
        .collect();
    let peak = y.iter().fold(0.0f64, |a, &v| a.max(v.abs()));
    let mono: Vec<f64> = y.iter().skip(offset).step_by(4).copied().collect();
    (same_on_all(&mono, 2), peak)
}
