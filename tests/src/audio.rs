//! Audio helpers: [`Wav`] (interleaved samples read from or written to WAV files), a sine
//! generator, loudness through the `ebur128` crate.

use std::path::Path;

use anyhow::{Context, Result};

/// Interleaved audio read from or written to a WAV file.
#[derive(Debug, Clone)]
pub struct Wav {
    /// Sample rate, Hz.
    pub rate: u32,
    /// Channels.
    pub channels: usize,
    /// Interleaved samples, full scale ±1.0.
    pub samples: Vec<f32>,
}

impl Wav {
    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }

    /// Frames `[start, end)` as a new `Wav`.
    pub fn slice(&self, start: usize, end: usize) -> Wav {
        let end = end.min(self.frames());
        let start = start.min(end);
        Wav {
            rate: self.rate,
            channels: self.channels,
            samples: self.samples[start * self.channels..end * self.channels].to_vec(),
        }
    }

    /// The frame range holding signal: first to last frame whose magnitude exceeds
    /// `threshold` (linear). `None` when everything is below it.
    pub fn active_range(&self, threshold: f32) -> Option<(usize, usize)> {
        let ch = self.channels.max(1);
        let first = self.samples.iter().position(|s| s.abs() > threshold)? / ch;
        let last = self.samples.iter().rposition(|s| s.abs() > threshold)? / ch;
        Some((first, last + 1))
    }

    /// RMS over all samples, dBFS (−inf for silence).
    pub fn rms_db(&self) -> f64 {
        if self.samples.is_empty() {
            return f64::NEG_INFINITY;
        }
        let e: f64 = self.samples.iter().map(|&s| (s as f64) * (s as f64)).sum();
        10.0 * (e / self.samples.len() as f64).log10()
    }

    /// Sample peak, dBFS.
    pub fn peak_db(&self) -> f64 {
        let p = self.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        20.0 * (p as f64).log10()
    }

    /// Integrated loudness (BS.1770) via the `ebur128` crate, LUFS.
    pub fn integrated_lufs(&self) -> Result<f64> {
        let mut m = ebur128::EbuR128::new(self.channels as u32, self.rate, ebur128::Mode::I)?;
        m.add_frames_f32(&self.samples)?;
        Ok(m.loudness_global()?)
    }

    /// Short-term loudness every 100 ms (3 s window), LUFS, via the `ebur128` crate. Entry
    /// `i` covers the window ending at `(i + 1) × 100 ms`.
    pub fn short_term_series(&self) -> Result<Vec<f64>> {
        let mut m = ebur128::EbuR128::new(self.channels as u32, self.rate, ebur128::Mode::S)?;
        let hop = (self.rate / 10) as usize * self.channels;
        let mut out = Vec::new();
        for chunk in self.samples.chunks(hop) {
            m.add_frames_f32(chunk)?;
            out.push(m.loudness_shortterm()?);
        }
        Ok(out)
    }

    /// Writes the audio as 32-bit float WAV.
    pub fn write(&self, path: &Path) -> Result<()> {
        let spec = hound::WavSpec {
            channels: self.channels as u16,
            sample_rate: self.rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(path, spec)?;
        for &s in &self.samples {
            w.write_sample(s)?;
        }
        w.finalize()?;
        Ok(())
    }
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

/// Reads a WAV file (any of hound's integer or float formats) as interleaved `f32`.
/// Tolerates a header whose length fields were never finalised (as a killed `pw-record`
/// leaves them), reading what is there.
pub fn read_wav(path: &Path) -> Result<Wav> {
    let mut r =
        hound::WavReader::open(path).with_context(|| format!("opening {}", path.display()))?;
    let spec = r.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map_while(|s| s.ok()).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map_while(|s| s.ok())
                .map(|s| s as f32 * scale)
                .collect()
        }
    };
    Ok(Wav {
        rate: spec.sample_rate,
        channels: spec.channels as usize,
        samples,
    })
}
