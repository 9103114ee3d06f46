//! Audio helpers: [`Wav`] (interleaved samples read from or written to WAV files — the
//! command line's own audio buffer, so there is one WAV reader and writer), a sine generator,
//! deterministic white noise ([`XorShift`], [`white_noise`]), short-term loudness through the
//! `ebur128` crate and the true-peak tests' long-sinc reference.

use std::path::Path;

use anyhow::{Context, Result};
use headroom_core::finepeak::bessel_i0;

/// Interleaved audio read from or written to a WAV file: the command line's
/// [`headroom_cli::audio::Audio`] (frames, slices, RMS, peak, reading and writing).
pub use headroom_cli::audio::Audio as Wav;

/// Short-term loudness every 100 ms (3 s window), LUFS, via the `ebur128` crate. Entry `i`
/// covers the window ending at `(i + 1) × 100 ms`.
pub fn short_term_series(w: &Wav) -> Result<Vec<f64>> {
    let mut m = ebur128::EbuR128::new(w.channels as u32, w.rate, ebur128::Mode::S)?;
    let hop = (w.rate / 10) as usize * w.channels;
    let mut out = Vec::new();
    for chunk in w.samples.chunks(hop) {
        m.add_frames_f32(chunk)?;
        out.push(m.loudness_shortterm()?);
    }
    Ok(out)
}

/// A stereo sine at `freq` Hz with peak `peak_dbfs`, `secs` long, at 48 kHz.
pub fn sine(freq: f64, peak_dbfs: f64, secs: f64) -> Wav {
    let rate = 48_000u32;
    let n = (secs * rate as f64).round() as usize;
    let amp = 10f64.powf(peak_dbfs / 20.0);
    let mut samples = Vec::with_capacity(n * 2);
    for i in 0..n {
        let v = (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32;
        samples.push(v);
        samples.push(v);
    }
    Wav {
        rate,
        channels: 2,
        samples,
    }
}

/// Deterministic pseudo-random numbers for test signals: xorshift64 (shifts 13, 7, 17), the
/// seed multiplied by 2⁶⁴/φ and its lowest bit set so that the state is never 0. The same
/// seed gives the same sequence on every machine, so a signal made from it is reproducible.
/// Enough for white test noise and random test parameters; not of statistical quality.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator whose sequence is determined by `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 bits of the sequence.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [0, 1): the top 53 bits of [`next_u64`](Self::next_u64) over 2⁵³.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [−1, 1): `2 · uniform() − 1` (the top 53 bits over 2⁵², minus 1, exactly).
    pub fn bipolar(&mut self) -> f64 {
        2.0 * self.uniform() - 1.0
    }
}

/// A quiet voice-like signal, `secs` long, stereo interleaved at 48 kHz: syllables of noise
/// every 300 ms, each 140–240 ms long at its own level (−38 dBFS RMS ± 5 dB), silence between
/// — the spread of its 100 ms loudness is a voice's whatever the phase of the meters' grid
/// (syllables of one length and level read as steady sound in one phase and as speech in
/// another).
pub fn syllables(secs: f64, seed: u64) -> Vec<f32> {
    let mut rng = XorShift::new(seed);
    let n = (secs * 48_000.0) as usize;
    let mut out = Vec::with_capacity(2 * n);
    let (mut on, mut amp) = (0usize, 0.0f64);
    for i in 0..n {
        if i % 14_400 == 0 {
            on = 6_720 + (rng.uniform() * 4_800.0) as usize;
            amp = 10f64.powf((-38.0 + 10.0 * rng.uniform() - 5.0) / 20.0) * 3f64.sqrt();
        }
        let v = if i % 14_400 < on {
            (rng.bipolar() * amp) as f32
        } else {
            0.0
        };
        out.extend_from_slice(&[v, v]);
    }
    out
}

/// `len` samples of full-scale white noise, uniform in [−1, 1): the [`XorShift::bipolar`]
/// values of `XorShift::new(seed)` (the true-peak tests' broadband signal).
pub fn white_noise(len: usize, seed: u64) -> impl Iterator<Item = f64> {
    let mut rng = XorShift::new(seed);
    (0..len).map(move |_| rng.bipolar())
}

/// `frames` mono samples at 48 kHz of a sine at a quarter of the rate sampled 45° off its
/// zero crossings: samples at ±1, crests of √2 (+3.01 dBTP) between them, faded in over
/// 10 ms so that the onset does not ring (the true-peak tests' worst inter-sample case).
pub fn quarter_rate_sine_at_45(frames: usize) -> Vec<f32> {
    use std::f64::consts::PI;
    (0..frames)
        .map(|n| {
            let fade = (n as f64 / 480.0).min(1.0);
            let ph = PI / 2.0 * n as f64 + PI / 4.0;
            (fade * 2f64.sqrt() * ph.sin()) as f32
        })
        .collect()
}

/// `frames` mono samples at 48 kHz of programme-like test material for the true-peak tests:
/// a chord whose level moves, drum-like bursts of [`white_noise`] (`seed`) four times a
/// second, soft-clipped.
pub fn programme_like(frames: usize, seed: u64) -> Vec<f32> {
    use std::f64::consts::PI;
    let mut hiss = white_noise(frames, seed);
    (0..frames)
        .map(|n| {
            let t = n as f64 / 48_000.0;
            let env = 0.5 + 0.4 * (2.0 * PI * 0.7 * t).sin();
            let chord: f64 = [220.0, 277.2, 329.6, 1760.0]
                .iter()
                .enumerate()
                .map(|(k, f)| (2.0 * PI * f * t + k as f64).sin() / (1.0 + k as f64))
                .sum();
            let hit = (-((t * 4.0).fract()) * 30.0).exp();
            let h = hiss.next().unwrap_or(0.0);
            (1.2 * (env * chord * 0.6 + hit * h)).tanh() as f32
        })
        .collect()
}

/// Reads a WAV file (integer or float, RIFF or RF64) as interleaved `f32`. Tolerates a
/// header whose length fields were never finalised (as a killed `pw-record` leaves them),
/// reading what is there.
pub fn read_wav(path: &Path) -> Result<Wav> {
    Wav::read_wav_lenient(path).with_context(|| format!("reading {}", path.display()))
}

/// True peak (dB) of mono `x` by brute force, the reference of the true-peak tests: 32
/// points per sample of a 128-tap Kaiser-windowed sinc (β 10), every interval from the
/// silence before the first sample up to those whose window reaches past the last one (the
/// samples all count).
pub fn true_peak_reference_db(x: &[f32]) -> f64 {
    const H: isize = 64;
    const F: usize = 32;
    let beta = 10.0;
    let taps: Vec<Vec<f64>> = (1..F)
        .map(|p| {
            (0..2 * H)
                .map(|j| {
                    let d = (j - (H - 1)) as f64 - p as f64 / F as f64;
                    let r = d / H as f64;
                    let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta);
                    let a = std::f64::consts::PI * d;
                    w * a.sin() / a
                })
                .collect()
        })
        .collect();
    let n = x.len() as isize;
    let mut peak = x.iter().fold(0.0f64, |m, &v| m.max(v.abs() as f64));
    for t in -H..n - H {
        for row in &taps {
            let mut acc = 0.0;
            for (j, c) in row.iter().enumerate() {
                let k = t - (H - 1) + j as isize;
                if k >= 0 {
                    acc += c * x[k as usize] as f64;
                }
            }
            peak = peak.max(acc.abs());
        }
    }
    20.0 * peak.log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_noise_is_the_xorshift_sequence_spread_over_minus_one_to_one() {
        // The sequence the tests' signals were made from: state ← xorshift(13, 7, 17) of
        // seed · 2⁶⁴/φ | 1, sample = (state >> 11) / 2⁵² − 1.
        let mut s = 3u64.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let noise: Vec<f64> = white_noise(48_000, 3).collect();
        assert_eq!(noise.len(), 48_000);
        for &v in &noise[..1000] {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            assert_eq!(
                v.to_bits(),
                ((s >> 11) as f64 / (1u64 << 52) as f64 - 1.0).to_bits()
            );
        }
        assert!(noise.iter().all(|v| (-1.0..1.0).contains(v)));
        let mean = noise.iter().sum::<f64>() / noise.len() as f64;
        let rms = (noise.iter().map(|v| v * v).sum::<f64>() / noise.len() as f64).sqrt();
        assert!(mean.abs() < 0.01, "{mean}");
        // Uniform on [−1, 1): RMS 1/√3.
        assert!((rms - 3f64.sqrt().recip()).abs() < 0.01, "{rms}");
        // Another seed, another sequence; the generator itself gives the same values.
        assert_ne!(white_noise(4, 4).collect::<Vec<_>>(), noise[..4]);
        let mut rng = XorShift::new(3);
        assert!(noise[..4].iter().all(|&v| v == rng.bipolar()));
    }
}
