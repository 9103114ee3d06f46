//! How much a sound's spectrum looks like noise: the fine-grained spectral flatness of each
//! 100 ms sub-block of the input, for the AGC's judgement of noise against quiet music.
//!
//! # Why
//! The AGC does not lift sound that holds still on its own (a steady hiss, a hum) by more
//! than [`crate::agc::STEADY_MAX_BOOST_DB`]. By level alone, *still* had to mean a spread of
//! its 100 ms loudness under 1 LU: room tone, rumble or drifting hiss spread 2–4 LU by
//! themselves and were lifted by the whole boost, while quiet recorded music (an
//! orchestral opening at −45 … −50 LUFS) spreads as little over 100 ms, so a wider spread
//! could not be allowed. Their spectra differ: music is made of partials, lines that stand
//! far over the spectrum between them; noise has a smooth spectrum, whatever its colour.
//!
//! # The measure
//! The channels are summed and decimated by a boxcar of [`decimation`] frames (to about
//! 3 kHz; the sums alias what lies over 1.5 kHz into the band a little). When a sub-block
//! closes, the newest [`FFT_LEN`] decimated samples (≈ 85 ms) go through a Hann window and
//! an FFT (11.7 Hz bins at 48 kHz; a complex FFT of half the length, the real spectrum
//! taken apart from it). Between [`LOW_HZ`] and [`HIGH_HZ`] the power spectrum
//! is cut into groups of [`GROUP_BINS`] neighbouring bins; each group's geometric mean over
//! its arithmetic mean is its local flatness. The reading is
//! `10·log10(Σ geometric means / Σ arithmetic means)`: the local flatness weighted by each
//! group's power, so the loud part of the spectrum decides.
//!
//! Noise of any colour reads about −2 dB (a periodogram's bins scatter exponentially about
//! the smooth spectrum: −2.5 dB for a single bin pair, less with Hann leakage); pink, brown
//! and white noise −1.5 … −3.6 dB over any 0.5 s, at 44.1 to 96 kHz. Music reads −8 … −11
//! dB in the median (Wesnoth's orchestral tracks: 0–16 % of 0.5 s windows above −3.5 dB, in
//! silences, fades and percussion), a voice −4 … −6.5, a whisper −1.5 (as noise-like as
//! breath: its syllables tell it apart). A reading is a level-free shape: the same at
//! −60 LUFS as at −10.
//!
//! Measured at 6 kHz up to 2 kHz (twice the FFT) the readings told noise from music alike.
//! The cost is about 0.5 ns per frame at 48 kHz against the whole chain's 20: the
//! decimation sums, gathered whole and added in eight lanes in one order (≈ 0.25 ns), and
//! one 128-point complex FFT per sub-block (≈ 1.1 µs); a first version (a 512-point
//! complex FFT at 6 kHz, the decimation summed frame by frame) cost 2.7–3 ns. The FFT is
//! `rustfft`'s scalar one, so the reading is the same on every CPU (the chain's output does
//! not depend on which SIMD path runs). Sub-blocks are counted from creation, as
//! the input meter counts them; the chain hands the AGC each reading with the meter's.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlannerScalar};

use crate::util::GroupGather;

/// Decimated samples per FFT (≈ 85 ms at 3 kHz).
pub const FFT_LEN: usize = 256;
/// Lowest frequency of the measured band, Hz (under it, a bin holds a large share of a
/// low note's width).
pub const LOW_HZ: f64 = 100.0;
/// Highest frequency of the measured band, Hz (partials of voices and instruments stand
/// out below it, and most of music's power lies there; above, the boxcar's aliasing starts
/// to fill the spectrum).
pub const HIGH_HZ: f64 = 1400.0;
/// Neighbouring bins per group whose flatness is taken.
pub const GROUP_BINS: usize = 8;
/// Decimated rate aimed at, Hz.
const DECIMATED_HZ: f64 = 3000.0;
/// Added to every bin's power so that a silent bin does not make a group's product 0.
const POWER_FLOOR: f64 = 1e-30;

/// Boxcar decimation factor for `rate`: the whole number of frames that brings the rate
/// closest to 3 kHz (at least 1).
pub fn decimation(rate: u32) -> usize {
    ((f64::from(rate.max(1)) / DECIMATED_HZ).round() as usize).max(1)
}

/// Sum of every sample of a decimation group (all its frames' channels), in eight lanes
/// folded in one fixed order, so that it vectorises and gives the same sum wherever the
/// group came from.
#[inline]
fn group_sum(g: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut chunks = g.chunks_exact(8);
    for c in chunks.by_ref() {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    for (l, &x) in lanes.iter_mut().zip(chunks.remainder()) {
        *l += x;
    }
    ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
        + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]))
}

/// Spectral flatness per 100 ms sub-block. [`new`](Self::new) allocates; every other
/// method is real-time safe (no allocation, lock, syscall or panic, for any input).
#[derive(Clone)]
pub struct Flatness {
    channels: usize,
    decimation: usize,
    sub_len: usize,
    /// Frames into the current sub-block.
    frame_pos: usize,
    /// The samples of the current, incomplete decimation group.
    group: GroupGather,
    /// The newest decimated samples, oldest at `ring_pos`.
    ring: Vec<f32>,
    ring_pos: usize,
    window: Vec<f32>,
    /// A complex FFT of half the length: the windowed real samples go in as pairs (even
    /// samples real, odd imaginary) and the real spectrum is taken apart from its output.
    fft: Arc<dyn Fft<f32>>,
    buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// `exp(−2πik/FFT_LEN)` for `k < FFT_LEN / 2`.
    twiddles: Vec<Complex<f32>>,
    /// First bin of the measured band and the number of whole groups in it.
    first_bin: usize,
    groups: usize,
    sub_blocks: u64,
    last_db: f64,
}

impl std::fmt::Debug for Flatness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flatness")
            .field("channels", &self.channels)
            .field("decimation", &self.decimation)
            .field("sub_len", &self.sub_len)
            .field("sub_blocks", &self.sub_blocks)
            .field("last_db", &self.last_db)
            .finish_non_exhaustive()
    }
}

impl Flatness {
    /// An analyser for `channels` interleaved channels at `rate` Hz whose sub-blocks are
    /// `sub_len` frames long (the input meter's). Allocates (the FFT plan and buffers).
    pub fn new(rate: u32, channels: usize, sub_len: usize) -> Self {
        let decimation = decimation(rate);
        let fs = f64::from(rate.max(1)) / decimation as f64;
        let bin_hz = fs / FFT_LEN as f64;
        let first_bin = ((LOW_HZ / bin_hz).ceil() as usize).max(1);
        let last_bin = ((HIGH_HZ.min(0.5 * fs) / bin_hz).floor() as usize).min(FFT_LEN / 2 - 1);
        let groups = (last_bin + 1).saturating_sub(first_bin) / GROUP_BINS;
        let fft = FftPlannerScalar::new().plan_fft_forward(FFT_LEN / 2);
        let twiddles = (0..FFT_LEN / 2)
            .map(|k| {
                let a = -std::f64::consts::TAU * k as f64 / FFT_LEN as f64;
                Complex::new(a.cos() as f32, a.sin() as f32)
            })
            .collect();
        let scratch = vec![Complex::default(); fft.get_inplace_scratch_len()];
        // Periodic Hann window.
        let window = (0..FFT_LEN)
            .map(|i| {
                let x = std::f64::consts::TAU * i as f64 / FFT_LEN as f64;
                (0.5 - 0.5 * x.cos()) as f32
            })
            .collect();
        Self {
            channels: channels.max(1),
            decimation,
            sub_len: sub_len.max(1),
            frame_pos: 0,
            group: GroupGather::new(decimation * channels.max(1)),
            ring: vec![0.0; FFT_LEN],
            ring_pos: 0,
            window,
            fft,
            buf: vec![Complex::default(); FFT_LEN / 2],
            scratch,
            twiddles,
            first_bin,
            groups,
            sub_blocks: 0,
            last_db: f64::NAN,
        }
    }

    /// Takes interleaved whole frames (a trailing partial frame is ignored). A sub-block
    /// that closes inside them is measured where it closes, so the readings do not depend
    /// on how the input is split. Real-time safe.
    pub fn process(&mut self, interleaved: &[f32]) {
        let ch = self.channels;
        let mut rest = interleaved
            .get(..interleaved.len() / ch * ch)
            .unwrap_or(&[]);
        while !rest.is_empty() {
            let n = (rest.len() / ch).min(self.sub_len - self.frame_pos);
            let (now, later) = rest.split_at(n * ch);
            self.decimate(now);
            self.frame_pos += n;
            rest = later;
            if self.frame_pos >= self.sub_len {
                self.frame_pos = 0;
                self.close_sub_block();
            }
        }
    }

    /// Adds whole frames to the decimation groups; each complete group's sum goes into the
    /// ring. A group split between calls is gathered first, so every group is summed from
    /// all its samples at once, in one order.
    fn decimate(&mut self, samples: &[f32]) {
        let len = self.group.group_len();
        let mut rest = samples;
        if self.group.is_partial() || rest.len() < len {
            let (whole, tail) = self.group.complete(rest);
            let Some(sum) = whole.map(group_sum) else {
                return;
            };
            self.push(sum);
            rest = tail;
        }
        let mut groups = rest.chunks_exact(len);
        for g in groups.by_ref() {
            self.push(group_sum(g));
        }
        self.group.hold(groups.remainder());
    }

    /// Appends a decimated sample to the ring.
    fn push(&mut self, v: f32) {
        if let Some(slot) = self.ring.get_mut(self.ring_pos) {
            *slot = v;
        }
        self.ring_pos = (self.ring_pos + 1) % FFT_LEN;
    }

    /// Measures the newest decimated samples at the end of a sub-block.
    fn close_sub_block(&mut self) {
        let (newer, older) = self.ring.split_at(self.ring_pos);
        let mut samples = older.iter().chain(newer).zip(&self.window);
        for b in &mut self.buf {
            let mut next = || samples.next().map_or(0.0, |(&x, &w)| x * w);
            *b = Complex::new(next(), next());
        }
        self.fft
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        let mut geo = 0.0f64;
        let mut arith = 0.0f64;
        for g in 0..self.groups {
            let mut product = 1.0f64;
            let mut sum = 0.0f64;
            for k in self.first_bin + g * GROUP_BINS..self.first_bin + (g + 1) * GROUP_BINS {
                let p = self.power(k) + POWER_FLOOR;
                product *= p;
                sum += p;
            }
            geo += product.sqrt().sqrt().sqrt();
            arith += sum / GROUP_BINS as f64;
        }
        self.last_db = if arith > 0.0 && geo.is_finite() && arith.is_finite() {
            (10.0 * (geo / arith).log10()).min(0.0)
        } else {
            f64::NAN
        };
        self.sub_blocks += 1;
    }

    /// Power of bin `k` (`1 ≤ k < FFT_LEN / 2`) of the real spectrum, from the half-length
    /// complex FFT in `buf`: with `Z` that FFT, `E = (Z[k] + conj Z[M−k]) / 2` is the even
    /// samples' spectrum, `O = (Z[k] − conj Z[M−k]) / 2i` the odd ones', and
    /// `X[k] = E + exp(−2πik/N)·O`.
    fn power(&self, k: usize) -> f64 {
        let m = FFT_LEN / 2;
        let (Some(&z), Some(&zc), Some(&w)) = (
            self.buf.get(k % m),
            self.buf.get((m - k % m) % m),
            self.twiddles.get(k % m),
        ) else {
            return 0.0;
        };
        let zc = zc.conj();
        let e = (z + zc) * 0.5;
        let o = (z - zc) * Complex::new(0.0, -0.5);
        let x = e + w * o;
        f64::from(x.re) * f64::from(x.re) + f64::from(x.im) * f64::from(x.im)
    }

    /// The flatness of the last closed sub-block, dB (≤ 0: about −2 for noise, far lower for
    /// tones and music); NaN before the first one closes. Real-time safe.
    pub fn last_db(&self) -> f64 {
        self.last_db
    }

    /// Number of sub-blocks measured since creation. Real-time safe.
    pub fn sub_blocks_seen(&self) -> u64 {
        self.sub_blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), uniform in −1 … 1.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
        }
    }

    fn readings(rate: u32, ch: usize, x: &[f32], block: usize) -> Vec<f64> {
        let mut f = Flatness::new(rate, ch, (rate as usize + 5) / 10);
        let mut out = Vec::new();
        let mut seen = 0;
        for b in x.chunks(block * ch) {
            f.process(b);
            if f.sub_blocks_seen() != seen {
                seen = f.sub_blocks_seen();
                out.push(f.last_db());
            }
        }
        out
    }

    /// White, pink-ish (one-pole low-passed) and brown (integrated) noise, `ch` channels.
    fn noise(rate: u32, ch: usize, secs: f64, colour: f32, seed: u64) -> Vec<f32> {
        let mut r = Rng(seed);
        let n = (secs * f64::from(rate)) as usize;
        let mut y = 0.0f32;
        let mut out = Vec::with_capacity(n * ch);
        for _ in 0..n {
            y = colour * y + r.next();
            let v = 0.01 * y * (1.0 - colour).max(0.01);
            for _ in 0..ch {
                out.push(v);
            }
        }
        out
    }

    /// A chord of three notes with a few harmonics each, changing every half second.
    fn chord(rate: u32, ch: usize, secs: f64) -> Vec<f32> {
        let n = (secs * f64::from(rate)) as usize;
        let roots = [220.0, 246.9, 261.6, 293.7];
        let mut out = Vec::with_capacity(n * ch);
        for i in 0..n {
            let t = i as f64 / f64::from(rate);
            let root = roots[(t * 2.0) as usize % roots.len()];
            let mut v = 0.0;
            for ratio in [1.0, 1.25, 1.5] {
                for h in 1..=4 {
                    let f = root * ratio * f64::from(h);
                    v += (std::f64::consts::TAU * f * t).sin() / f64::from(h);
                }
            }
            for _ in 0..ch {
                out.push((0.001 * v) as f32);
            }
        }
        out
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    #[test]
    fn noise_of_any_colour_reads_flat_and_chords_do_not() {
        for rate in [44_100, 48_000, 96_000] {
            for (colour, name) in [(0.0, "white"), (0.9, "pink-ish"), (0.999, "brown")] {
                let r = readings(rate, 2, &noise(rate, 2, 6.0, colour, 7), 256);
                assert!(r.len() >= 59 && r.iter().all(|v| v.is_finite()), "{r:?}");
                // Skip the first readings (the ring still partly empty).
                let r = &r[2..];
                let lo = r.iter().cloned().fold(f64::INFINITY, f64::min);
                eprintln!(
                    "{name} noise at {rate}: mean {:.2}, lowest {lo:.2}",
                    mean(r)
                );
                assert!(
                    mean(r) > -3.0 && lo > -4.5,
                    "{name} noise at {rate}: mean {:.2}, lowest {lo:.2}",
                    mean(r)
                );
            }
            let r = readings(rate, 2, &chord(rate, 2, 6.0), 256);
            assert!(r.len() >= 59 && r.iter().all(|v| v.is_finite()), "{r:?}");
            eprintln!("chords at {rate}: mean {:.2}", mean(&r[2..]));
            let hi = r[2..].iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            assert!(hi < -8.0, "chords at {rate}: highest {hi:.2}");
        }
    }

    #[test]
    fn the_half_length_fft_gives_the_real_spectrum() {
        let mut f = Flatness::new(48_000, 1, 4800);
        let x = noise(48_000, 1, 0.2, 0.5, 11);
        f.process(&x);
        // The decimated samples as `close_sub_block` windowed them, and their DFT directly.
        let (newer, older) = f.ring.split_at(f.ring_pos);
        let w: Vec<f64> = older
            .iter()
            .chain(newer)
            .zip(&f.window)
            .map(|(&x, &w)| f64::from(x * w))
            .collect();
        for k in [1, 9, 40, 119, FFT_LEN / 2 - 1] {
            let (mut re, mut im) = (0.0, 0.0);
            for (n, &v) in w.iter().enumerate() {
                let a = -std::f64::consts::TAU * (k * n) as f64 / FFT_LEN as f64;
                re += v * a.cos();
                im += v * a.sin();
            }
            let want = re * re + im * im;
            let got = f.power(k);
            assert!(
                (got - want).abs() <= 1e-4 * want.max(1e-12),
                "bin {k}: {got} against {want}"
            );
        }
    }

    #[test]
    fn readings_do_not_depend_on_level_or_the_block_partition() {
        let x = noise(48_000, 2, 3.0, 0.9, 3);
        let quiet: Vec<f32> = x.iter().map(|v| v * 1e-3).collect();
        let a = readings(48_000, 2, &x, 256);
        let b = readings(48_000, 2, &x, 1);
        let c = readings(48_000, 2, &x, 4799);
        assert_eq!(a, b);
        assert_eq!(a, c);
        let q = readings(48_000, 2, &quiet, 256);
        for (u, v) in a.iter().zip(&q) {
            assert!((u - v).abs() < 0.05, "{u} against {v}");
        }
    }

    #[test]
    fn odd_rates_channels_and_bad_input_give_readings_without_panic() {
        for (rate, ch) in [(8_000, 1), (22_050, 6), (192_000, 2), (1, 1)] {
            let mut f = Flatness::new(rate, ch, (rate as usize + 5) / 10);
            let mut x = noise(rate.max(8_000), ch, 0.5, 0.5, 1);
            x.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0]);
            x.extend(std::iter::repeat_n(0.0, ch * rate as usize));
            f.process(&x);
            assert!(f.sub_blocks_seen() >= 1, "{rate} Hz");
            let db = f.last_db();
            assert!(db.is_nan() || db <= 0.0, "{rate} Hz: {db}");
        }
    }
}
