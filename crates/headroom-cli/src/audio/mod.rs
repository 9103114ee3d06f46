//! Audio files for the offline commands (and the test suites): decoding any supported input
//! to interleaved `f32` block by block, and encoding WAV or FLAC block by block, so that files
//! of any length use bounded memory.
//!
//! * [`open`] probes a file and returns a [`Decoder`]: WAV/RF64/BW64 are read by the
//!   [`wav`] module (symphonia's RIFF reader has no RF64), everything else — FLAC, MP3, Ogg
//!   Vorbis, AAC and ALAC in MP4/M4A, AIFF — by symphonia.
//! * [`Encoder`] writes WAV ([`wav::WavWriter`], RF64 past 4 GiB) or FLAC
//!   ([`flac::FlacWriter`]) as 16-bit or 24-bit integers with TPDF dither ([`dither`]) or as
//!   32-bit float (WAV only).
//! * [`Audio`] is a whole file in memory, for tests and small tools.
//!
//! Every error names the file and says what is wrong; nothing here panics on bad input.

pub mod damage;
pub mod decode;
pub mod dither;
pub mod flac;
pub mod mp4edit;
pub mod wav;

use std::path::{Path, PathBuf};

pub use decode::{open, Decoder};

/// Why an audio file could not be read or written. The message names the file.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened, read or written.
    #[error("{file}: {what}: {source}")]
    Io {
        /// The file as the user named it.
        file: PathBuf,
        /// What was being done ("cannot open", "cannot read", "cannot write").
        what: &'static str,
        /// The system error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not in a format headroom reads, or is corrupt.
    #[error("{file}: {reason}")]
    Format {
        /// The file as the user named it.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl AudioError {
    /// A format error for `file`.
    pub fn format(file: &Path, reason: impl Into<String>) -> Self {
        AudioError::Format {
            file: file.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// An I/O error for `file`.
    pub fn io(file: &Path, what: &'static str, source: std::io::Error) -> Self {
        AudioError::Io {
            file: file.to_path_buf(),
            what,
            source,
        }
    }
}

/// Result of the audio functions.
pub type AudioResult<T = ()> = Result<T, AudioError>;

/// How samples are stored in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleFormat {
    /// Integer PCM with this many significant bits (8 to 32).
    Int(u32),
    /// IEEE float with this many bits (32 or 64).
    Float(u32),
    /// A lossy codec (MP3, Vorbis, AAC): decoded to float, no integer resolution.
    Lossy,
}

impl std::fmt::Display for SampleFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleFormat::Int(b) => write!(f, "{b}-bit"),
            SampleFormat::Float(b) => write!(f, "{b}-bit float"),
            SampleFormat::Lossy => f.write_str("lossy"),
        }
    }
}

/// The sample formats `render` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OutputSamples {
    /// 16-bit integer, TPDF-dithered.
    S16,
    /// 24-bit integer, TPDF-dithered.
    S24,
    /// 32-bit IEEE float (WAV only).
    F32,
}

impl OutputSamples {
    /// The output format that keeps `input`'s resolution in `container`: 8/16-bit integer →
    /// s16, up to 24-bit → s24, 32-bit integer, float and lossy → f32 in WAV (s24 in FLAC,
    /// which stores integers only).
    pub fn keeping(input: SampleFormat, container: Container) -> OutputSamples {
        match (input, container) {
            (SampleFormat::Int(b), _) if b <= 16 => OutputSamples::S16,
            (SampleFormat::Int(b), _) if b <= 24 => OutputSamples::S24,
            (_, Container::Flac) => OutputSamples::S24,
            (_, Container::Wav) => OutputSamples::F32,
        }
    }

    /// Integer bits, or `None` for float.
    pub fn int_bits(self) -> Option<u32> {
        match self {
            OutputSamples::S16 => Some(16),
            OutputSamples::S24 => Some(24),
            OutputSamples::F32 => None,
        }
    }
}

impl std::fmt::Display for OutputSamples {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OutputSamples::S16 => "s16",
            OutputSamples::S24 => "s24",
            OutputSamples::F32 => "f32",
        })
    }
}

/// The containers `render` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// RIFF WAVE (RF64 past 4 GiB).
    Wav,
    /// FLAC.
    Flac,
}

impl Container {
    /// The container a file name's extension asks for, if it is one headroom writes.
    pub fn from_path(path: &Path) -> Option<Container> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "wav" | "wave" | "rf64" | "bwf" => Some(Container::Wav),
            "flac" => Some(Container::Flac),
            _ => None,
        }
    }

    /// File name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Wav => "wav",
            Container::Flac => "flac",
        }
    }
}

/// What a file holds, from its headers.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// The file as the user named it.
    pub path: PathBuf,
    /// Sample rate, Hz (≥ 1).
    pub rate: u32,
    /// Channel count (≥ 1).
    pub channels: usize,
    /// Frames the headers announce, if they do.
    pub frames: Option<u64>,
    /// How the samples are stored.
    pub format: SampleFormat,
    /// Codec or container name for display ("WAV", "FLAC", "MP3", "AAC", …).
    pub codec: String,
    /// The writable container this file is in (WAV or FLAC), if it is one.
    pub container: Option<Container>,
    /// Tags, with Vorbis-comment style keys.
    pub tags: Vec<Tag>,
    /// File size, bytes.
    pub file_len: u64,
}

impl SourceInfo {
    /// Duration in seconds, when the frame count is known.
    pub fn duration_secs(&self) -> Option<f64> {
        self.frames.map(|f| f as f64 / f64::from(self.rate))
    }
}

/// One metadata tag, with a Vorbis-comment style upper-case key (`TITLE`, `ARTIST`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Upper-case key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Tags that describe the audio's loudness or exact content and no longer hold after
/// processing: they are not carried over.
pub fn tag_is_stale(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    k.starts_with("REPLAYGAIN_") || k.starts_with("R128_") || k == "ITUNNORM" || k == "ITUNSMPB"
}

/// A file's audio in memory as interleaved `f32` samples in [-1, 1].
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

    /// Frames `[start, end)` as a new `Audio` (clamped to the length).
    pub fn slice(&self, start: usize, end: usize) -> Audio {
        let end = end.min(self.frames());
        let start = start.min(end);
        Audio {
            rate: self.rate,
            channels: self.channels,
            samples: self.samples[start * self.channels..end * self.channels].to_vec(),
        }
    }

    /// The frame range holding signal: first to last frame with a sample whose magnitude
    /// exceeds `threshold` (linear). `None` when everything is below it.
    pub fn active_range(&self, threshold: f32) -> Option<(usize, usize)> {
        let ch = self.channels.max(1);
        let first = self.samples.iter().position(|s| s.abs() > threshold)? / ch;
        let last = self.samples.iter().rposition(|s| s.abs() > threshold)? / ch;
        Some((first, last + 1))
    }

    /// RMS over all samples, dBFS (−inf for silence or no samples).
    pub fn rms_db(&self) -> f64 {
        if self.samples.is_empty() {
            return f64::NEG_INFINITY;
        }
        let e: f64 = self
            .samples
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum();
        10.0 * (e / self.samples.len() as f64).log10()
    }

    /// Sample peak, dBFS (−inf for silence).
    pub fn peak_db(&self) -> f64 {
        let p = self.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        20.0 * f64::from(p).log10()
    }

    /// Reads a whole file of any supported format (see [`open`]).
    pub fn read(path: &Path) -> AudioResult<Audio> {
        let mut dec = open(path)?;
        let (rate, ch) = (dec.info().rate, dec.info().channels);
        Self::collect(rate, ch, |buf| dec.read(buf))
    }

    /// Reads a WAV file leniently: a header whose lengths were never finalised, or a file cut
    /// short, yields the whole frames that are there (as a killed recorder leaves them).
    pub fn read_wav_lenient(path: &Path) -> AudioResult<Audio> {
        let mut r = wav::WavReader::open_lenient(path)?;
        let (rate, ch) = (r.info().rate, r.info().channels);
        Self::collect(rate, ch, |buf| r.read(buf))
    }

    /// Reads blocks from `read` (whole frames, fewer than asked at the end) into memory.
    fn collect(
        rate: u32,
        channels: usize,
        mut read: impl FnMut(&mut [f32]) -> AudioResult<usize>,
    ) -> AudioResult<Audio> {
        let mut samples = Vec::new();
        let mut buf = vec![0.0f32; 8192 * channels];
        loop {
            let n = read(&mut buf)?;
            samples.extend_from_slice(&buf[..n]);
            if n < buf.len() {
                break;
            }
        }
        samples.truncate(samples.len() / channels * channels);
        Ok(Audio {
            rate,
            channels,
            samples,
        })
    }

    /// Writes the audio as a WAV file in `format` (integer formats TPDF-dithered).
    pub fn write_wav(&self, path: &Path, format: OutputSamples) -> AudioResult {
        let file =
            std::fs::File::create(path).map_err(|e| AudioError::io(path, "cannot write", e))?;
        let spec = EncoderSpec {
            rate: self.rate,
            channels: self.channels,
            samples: format,
            container: Container::Wav,
            frames_hint: Some(self.frames() as u64),
            tags: Vec::new(),
        };
        let mut enc = Encoder::new(Box::new(file), true, path, &spec)?;
        enc.write(&self.samples)?;
        enc.finish()
    }

    /// Writes the audio as 32-bit float WAV.
    pub fn write(&self, path: &Path) -> AudioResult {
        self.write_wav(path, OutputSamples::F32)
    }
}

/// What an [`Encoder`] writes.
#[derive(Debug, Clone)]
pub struct EncoderSpec {
    /// Sample rate, Hz.
    pub rate: u32,
    /// Channel count.
    pub channels: usize,
    /// Sample format.
    pub samples: OutputSamples,
    /// Container.
    pub container: Container,
    /// Expected frame count, if known: lets a non-seekable WAV output carry exact lengths.
    pub frames_hint: Option<u64>,
    /// Tags to write (WAV: LIST/INFO for the common ones; FLAC: a Vorbis comment).
    pub tags: Vec<Tag>,
}

/// A seekable or streaming output.
pub trait Output: std::io::Write + std::io::Seek + Send {}
impl<T: std::io::Write + std::io::Seek + Send> Output for T {}

/// Writes interleaved `f32` blocks as WAV or FLAC.
pub enum Encoder {
    /// WAV.
    Wav(Box<wav::WavWriter>),
    /// FLAC.
    Flac(Box<flac::FlacWriter>),
}

impl Encoder {
    /// Starts writing to `out`. `seekable` says whether the headers can be completed at the
    /// end (false for a FIFO or a character device); `shown` is the name used in errors.
    ///
    /// # Errors
    /// A FLAC output in float, or an I/O error.
    pub fn new(
        out: Box<dyn Output>,
        seekable: bool,
        shown: &Path,
        spec: &EncoderSpec,
    ) -> AudioResult<Encoder> {
        Ok(match spec.container {
            Container::Wav => {
                Encoder::Wav(Box::new(wav::WavWriter::new(out, seekable, shown, spec)?))
            }
            Container::Flac => {
                Encoder::Flac(Box::new(flac::FlacWriter::new(out, seekable, shown, spec)?))
            }
        })
    }

    /// Appends interleaved samples (a whole number of frames).
    pub fn write(&mut self, samples: &[f32]) -> AudioResult {
        match self {
            Encoder::Wav(w) => w.write(samples),
            Encoder::Flac(w) => w.write(samples),
        }
    }

    /// Completes the headers and flushes.
    pub fn finish(self) -> AudioResult {
        match self {
            Encoder::Wav(w) => (*w).finish(),
            Encoder::Flac(w) => (*w).finish(),
        }
    }
}

/// Opens `path` for reading without blocking on a FIFO or device that has no writer (a
/// blocked open could not be interrupted); reads block as usual afterwards. The callers
/// refuse anything but a regular file.
pub(crate) fn open_read(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    crate::offline::output::blocking(&f)?;
    Ok(f)
}
