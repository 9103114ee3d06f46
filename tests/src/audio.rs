//! Audio helpers: [`Wav`] (interleaved samples read from or written to WAV files — the
//! command line's own audio buffer, so there is one WAV reader and writer), a sine generator,
//! short-term loudness through the `ebur128` crate.

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
