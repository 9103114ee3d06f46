//! Audio helpers: [`Wav`] (interleaved samples read from or written to WAV files — the
//! command line's own audio buffer, so there is one WAV reader and writer), a sine generator,
//! short-term loudness through the `ebur128` crate.

use std::path::Path;

use anyhow::{Context, Result};

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
