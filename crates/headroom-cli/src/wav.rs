//! WAV input and output for the offline commands.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::error::{CliError, CliResult};

/// A whole WAV file in memory as interleaved `f32` samples in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Sample rate, Hz.
    pub rate: u32,
    /// Channel count (≥ 1).
    pub channels: usize,
    /// Interleaved samples; the length is a multiple of `channels`.
    pub samples: Vec<f32>,
}

impl Audio {
    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }
}

type Samples<S> = hound::WavIntoSamples<BufReader<File>, S>;

enum Decoder {
    Float(Samples<f32>),
    Int(Samples<i32>, f64),
}

/// A WAV file opened for streaming: 8/16/24/32-bit integer PCM or 32-bit float, decoded to
/// `f32` in [-1, 1] block by block so that files of any length use bounded memory.
pub struct WavSource {
    /// Sample rate, Hz.
    pub rate: u32,
    /// Channel count (≥ 1).
    pub channels: usize,
    /// Frames the header announces.
    pub frames: u64,
    shown: String,
    decoder: Decoder,
}

impl std::fmt::Debug for WavSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSource")
            .field("file", &self.shown)
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .field("frames", &self.frames)
            .finish()
    }
}

impl WavSource {
    /// Opens and checks a WAV file. Errors name the file and say what is wrong (unreadable,
    /// not a WAV file, unsupported format, no audio).
    pub fn open(path: &Path) -> CliResult<WavSource> {
        let shown = path.display().to_string();
        let file =
            File::open(path).map_err(|e| CliError::failed(format!("{shown}: cannot open: {e}")))?;
        let reader = hound::WavReader::new(BufReader::new(file)).map_err(|e| match e {
            hound::Error::IoError(io) => CliError::failed(format!("{shown}: cannot read: {io}")),
            hound::Error::FormatError(what)
                if what.contains("bits per sample") || what.contains("format") =>
            {
                CliError::failed(format!(
                    "{shown}: unsupported WAV sample format ({what}); use 16/24/32-bit integer or 32-bit float PCM"
                ))
            }
            hound::Error::FormatError(what) => {
                CliError::failed(format!("{shown}: not a valid WAV file ({what})"))
            }
            hound::Error::Unsupported => CliError::failed(format!(
                "{shown}: unsupported WAV format (use 16/24/32-bit integer or 32-bit float PCM)"
            )),
            other => CliError::failed(format!("{shown}: {other}")),
        })?;
        let spec = reader.spec();
        if spec.channels == 0 {
            return Err(CliError::failed(format!(
                "{shown}: WAV header declares 0 channels"
            )));
        }
        if spec.sample_rate == 0 {
            return Err(CliError::failed(format!(
                "{shown}: WAV header declares a 0 Hz sample rate"
            )));
        }
        let frames = u64::from(reader.duration());
        if frames == 0 {
            return Err(CliError::failed(format!(
                "{shown}: the file holds no audio (0 frames)"
            )));
        }
        let decoder = match (spec.sample_format, spec.bits_per_sample) {
            (hound::SampleFormat::Float, 32) => Decoder::Float(reader.into_samples::<f32>()),
            (hound::SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
                Decoder::Int(reader.into_samples::<i32>(), 1.0 / (1u64 << (bits - 1)) as f64)
            }
            (fmt, bits) => {
                return Err(CliError::failed(format!(
                    "{shown}: unsupported sample format ({bits}-bit {}); use 16/24/32-bit integer or 32-bit float",
                    if fmt == hound::SampleFormat::Float { "float" } else { "integer" }
                )))
            }
        };
        Ok(WavSource {
            rate: spec.sample_rate,
            channels: spec.channels as usize,
            frames,
            shown,
            decoder,
        })
    }

    /// Fills `buf` with the next samples; returns how many were written. Fewer than
    /// `buf.len()` means the end of the data. A truncated or corrupt data chunk is an error.
    pub fn read(&mut self, buf: &mut [f32]) -> CliResult<usize> {
        let shown = &self.shown;
        let err = |e: hound::Error| {
            CliError::failed(format!("{shown}: corrupt or truncated sample data: {e}"))
        };
        let mut n = 0;
        for slot in buf.iter_mut() {
            let next = match &mut self.decoder {
                Decoder::Float(it) => it.next().map(|r| r.map_err(err)),
                Decoder::Int(it, scale) => {
                    let scale = *scale;
                    it.next()
                        .map(|r| r.map(|v| (f64::from(v) * scale) as f32).map_err(err))
                }
            };
            match next {
                Some(v) => *slot = v?,
                None => break,
            }
            n += 1;
        }
        Ok(n)
    }
}

/// Reads a whole WAV file into memory (see [`WavSource::open`] for the formats and errors).
pub fn read_wav(path: &Path) -> CliResult<Audio> {
    let mut src = WavSource::open(path)?;
    let ch = src.channels;
    let mut samples = Vec::with_capacity((src.frames as usize).saturating_mul(ch));
    let mut buf = vec![0.0f32; 4096 * ch];
    loop {
        let n = src.read(&mut buf)?;
        samples.extend_from_slice(&buf[..n]);
        if n < buf.len() {
            break;
        }
    }
    if samples.len() < ch {
        return Err(CliError::failed(format!(
            "{}: the file holds no audio (0 frames)",
            path.display()
        )));
    }
    samples.truncate(samples.len() / ch * ch);
    Ok(Audio {
        rate: src.rate,
        channels: ch,
        samples,
    })
}

/// A 32-bit float WAV file being written block by block.
pub struct WavOut {
    writer: hound::WavWriter<std::io::BufWriter<File>>,
    shown: String,
}

impl WavOut {
    /// Creates `path` (errors are reported against `shown_as`, the name the user gave).
    pub fn create(path: &Path, shown_as: &Path, rate: u32, channels: usize) -> CliResult<WavOut> {
        let shown = shown_as.display().to_string();
        let channels = u16::try_from(channels)
            .map_err(|_| CliError::failed(format!("{shown}: too many channels for WAV")))?;
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let writer = hound::WavWriter::create(path, spec)
            .map_err(|e| CliError::failed(format!("{shown}: cannot write: {e}")))?;
        Ok(WavOut { writer, shown })
    }

    /// Appends interleaved samples.
    pub fn write(&mut self, samples: &[f32]) -> CliResult {
        for &s in samples {
            self.writer
                .write_sample(s)
                .map_err(|e| CliError::failed(format!("{}: cannot write: {e}", self.shown)))?;
        }
        Ok(())
    }

    /// Writes the final header.
    pub fn finish(self) -> CliResult {
        let shown = self.shown;
        self.writer
            .finalize()
            .map_err(|e| CliError::failed(format!("{shown}: cannot write: {e}")))
    }
}

/// Writes interleaved samples as a 32-bit float WAV file.
pub fn write_wav_f32(path: &Path, rate: u32, channels: usize, samples: &[f32]) -> CliResult {
    let mut w = WavOut::create(path, path, rate, channels)?;
    w.write(samples)?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_int(path: &Path, bits: u16, vals: &[i32]) {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44100,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &v in vals {
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn reads_integer_formats_scaled_to_unit_range() {
        let dir = tempfile::tempdir().unwrap();
        for (bits, full) in [(16u16, 1i32 << 15), (24, 1 << 23), (32, i32::MIN)] {
            let p = dir.path().join(format!("i{bits}.wav"));
            let half = if bits == 32 { 1 << 30 } else { full / 2 };
            let neg_full = if bits == 32 { i32::MIN } else { -full };
            write_int(&p, bits, &[half, neg_full, 0, 0]);
            let a = read_wav(&p).unwrap();
            assert_eq!((a.rate, a.channels, a.frames()), (44100, 2, 2));
            assert!((a.samples[0] - 0.5).abs() < 1e-6, "{bits}: {:?}", a.samples);
            assert!((a.samples[1] + 1.0).abs() < 1e-6, "{bits}: {:?}", a.samples);
        }
    }

    #[test]
    fn float_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.wav");
        let data = [0.25f32, -0.75, 0.5, 0.0, 1.0, -1.0];
        write_wav_f32(&p, 48000, 3, &data).unwrap();
        let a = read_wav(&p).unwrap();
        assert_eq!((a.rate, a.channels), (48000, 3));
        assert_eq!(a.samples, data);
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_wav(&dir.path().join("nope.wav")).unwrap_err();
        assert!(missing.message.contains("cannot open"), "{missing}");

        let text = dir.path().join("text.wav");
        std::fs::write(&text, "this is not audio at all, just some words").unwrap();
        let e = read_wav(&text).unwrap_err();
        assert!(e.message.contains("not a valid WAV"), "{e}");

        let empty_file = dir.path().join("zero.wav");
        std::fs::write(&empty_file, b"").unwrap();
        assert_eq!(
            read_wav(&empty_file).unwrap_err().code,
            crate::error::EXIT_ERROR
        );

        // A well-formed 64-bit float WAV: valid, but not a format we read.
        let f64_wav = dir.path().join("f64.wav");
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36u32 + 16).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
        b.extend_from_slice(&1u16.to_le_bytes()); // channels
        b.extend_from_slice(&48000u32.to_le_bytes());
        b.extend_from_slice(&(48000u32 * 8).to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes()); // block align
        b.extend_from_slice(&64u16.to_le_bytes()); // bits
        b.extend_from_slice(b"data");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&[0u8; 16]);
        std::fs::write(&f64_wav, b).unwrap();
        let e = read_wav(&f64_wav).unwrap_err();
        assert!(e.message.contains("unsupported"), "{e}");

        let empty = dir.path().join("empty.wav");
        write_int(&empty, 16, &[]);
        let e = read_wav(&empty).unwrap_err();
        assert!(e.message.contains("no audio"), "{e}");
    }
}
