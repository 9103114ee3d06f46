//! The offline commands `render` and `analyze` (`validate` is in [`crate::core_api`]). None
//! needs the daemon.
//!
//! * [`open_input`] is the one input check both commands use: the file must decode
//!   ([`crate::audio::open`]) and its rate, channel count and announced length must be in
//!   range ([`check_input`]).
//! * [`render`] runs the chain over files into WAV or FLAC with safe output handling
//!   ([`output`]); [`analyze`] measures files and folders in parallel, with an album row.

pub mod analyze;
pub mod output;
pub mod render;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use headroom_core::Chain;
#[cfg(test)]
use headroom_core::ChainParams;

use crate::audio::{AudioError, Decoder, SourceInfo};
use crate::error::{CliError, CliResult};

/// A loudness for display: one decimal, or "—" at or below the −70 LUFS floor (no
/// measurement).
fn lufs(v: f64) -> String {
    if v > headroom_core::LUFS_FLOOR {
        format!("{v:.1}")
    } else {
        "—".into()
    }
}

/// A peak for display: one decimal, or "-inf" at the meters' floor (digital silence).
fn db(v: f64) -> String {
    if v > headroom_core::meter::PEAK_FLOOR_DB {
        format!("{v:.1}")
    } else {
        "-inf".into()
    }
}

/// Files at most this long (seconds) get no progress bar: they are done before it would
/// tell anything.
pub const PROGRESS_MIN_SECS: u64 = 10;

/// A progress bar on stderr over the frames of one file, labelled `label`, or a hidden one
/// when stderr is not a terminal or the file is known to last at most
/// [`PROGRESS_MIN_SECS`] (a file of unknown length gets a spinner).
pub fn frames_bar(frames: Option<u64>, rate: u32, label: &str) -> indicatif::ProgressBar {
    let long = frames.is_none_or(|f| f > PROGRESS_MIN_SECS * u64::from(rate));
    if !long || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(frames, indicatif::ProgressDrawTarget::stderr());
    let template = if frames.is_some() {
        "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% eta {eta}  {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {msg}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(label.to_string());
    bar
}

/// Runs `chain` over a stream of interleaved samples in blocks of `block` frames, time-aligned:
/// the first `chain.latency_frames()` output frames are dropped and the input is followed by
/// that many frames of zeros to flush the lookahead, so `sink` receives exactly as many
/// samples as `source` gave (a trailing partial frame is padded with zeros). `source` fills
/// the buffer and returns the count; fewer than asked means the end. Returns the number of
/// input samples.
pub fn render_stream<E>(
    chain: &mut Chain,
    block: usize,
    mut source: impl FnMut(&mut [f32]) -> Result<usize, E>,
    mut sink: impl FnMut(&[f32]) -> Result<(), E>,
) -> Result<u64, E> {
    let ch = chain.channels().max(1);
    let latency = chain.latency_frames() * ch;
    let mut buf = vec![0.0f32; block.max(1) * ch];
    let mut to_skip = latency;
    let mut flush_left = latency;
    let mut input_done = false;
    let mut total_in = 0u64;
    loop {
        let mut n = 0;
        if !input_done {
            n = source(&mut buf)?.min(buf.len());
            total_in += n as u64;
            if n < buf.len() {
                input_done = true;
                // Pad a trailing partial frame.
                let whole = n.div_ceil(ch) * ch;
                buf[n..whole].fill(0.0);
                n = whole;
            }
        }
        if input_done {
            let z = flush_left.min(buf.len() - n);
            buf[n..n + z].fill(0.0);
            n += z;
            flush_left -= z;
        }
        if n == 0 {
            break;
        }
        let chunk = &mut buf[..n];
        chain.process(chunk);
        let skip = to_skip.min(n);
        to_skip -= skip;
        if skip < n {
            sink(&chunk[skip..])?;
        }
        if input_done && flush_left == 0 {
            break;
        }
    }
    Ok(total_in)
}

/// [`render_stream`] over a buffer in memory; returns the aligned output.
pub fn render_aligned(chain: &mut Chain, input: &[f32], block: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(input.len());
    let mut pos = 0;
    let _ = render_stream::<()>(
        chain,
        block,
        |buf| {
            let n = buf.len().min(input.len() - pos);
            buf[..n].copy_from_slice(&input[pos..pos + n]);
            pos += n;
            Ok(n)
        },
        |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        },
    );
    out
}

/// Lowest sample rate accepted, Hz.
pub const MIN_RATE: u32 = 8_000;
/// Highest sample rate accepted, Hz.
pub const MAX_RATE: u32 = 768_000;
/// Most channels accepted.
pub const MAX_CHANNELS: usize = 64;
/// Longest announced duration accepted, seconds (7 days).
pub const MAX_DURATION_SECS: u64 = 7 * 24 * 3600;

impl From<AudioError> for CliError {
    fn from(e: AudioError) -> Self {
        CliError::failed(e.to_string())
    }
}

/// The input checks `analyze` and `render` share: sample rate 8 kHz to 768 kHz, 1 to 64
/// channels, and an announced length of at most 7 days. Errors name the file.
pub fn check_input(info: &SourceInfo) -> CliResult {
    let shown = info.path.display();
    if !(MIN_RATE..=MAX_RATE).contains(&info.rate) {
        return Err(CliError::failed(format!(
            "{shown}: unsupported sample rate {} Hz ({MIN_RATE} to {MAX_RATE} Hz are supported)",
            info.rate
        )));
    }
    if info.channels == 0 || info.channels > MAX_CHANNELS {
        return Err(CliError::failed(format!(
            "{shown}: unsupported channel count {} (1 to {MAX_CHANNELS} are supported)",
            info.channels
        )));
    }
    if let Some(frames) = info.frames {
        if frames / u64::from(info.rate) > MAX_DURATION_SECS {
            return Err(CliError::failed(format!(
                "{shown}: the header announces {:.0} hours of audio (at most {} are supported); the file is corrupt or not audio",
                frames as f64 / f64::from(info.rate) / 3600.0,
                MAX_DURATION_SECS / 3600
            )));
        }
    }
    Ok(())
}

/// Opens an input for `analyze` or `render`: decodes its headers and applies
/// [`check_input`].
pub fn open_input(path: &Path) -> CliResult<Decoder> {
    let dec = crate::audio::open(path)?;
    check_input(dec.info())?;
    Ok(dec)
}

/// Expands the command line's paths: files are kept as given, directories are walked
/// (recursively, sorted by name, hidden entries skipped, symbolic links to folders followed,
/// each folder once) for files with an audio extension. A file met again (named twice, in a
/// folder named too, or through a link) is taken once, where it was first met, with a note
/// on standard error: it would count twice in `analyze`'s album and be rendered twice. A path
/// that does not exist (or cannot be looked at) is kept as a file: opening it fails for that
/// file alone, as for any file that cannot be read, and the others are done.
pub fn expand_inputs(paths: &[PathBuf]) -> CliResult<Vec<PathBuf>> {
    expand_inputs_except(paths, None)
}

/// [`expand_inputs`], but the walk does not enter the folder `skip` below a folder given
/// (`render DIR -o DIR/out` a second time took the first run's outputs as inputs); it says so
/// on standard error when it meets it. Files and folders named on the command line are
/// taken wherever they are.
pub fn expand_inputs_except(paths: &[PathBuf], skip: Option<&Path>) -> CliResult<Vec<PathBuf>> {
    let mut walk = Walk {
        skip: skip.and_then(|d| std::fs::canonicalize(d).ok()),
        seen: std::collections::BTreeSet::new(),
        files: std::collections::BTreeMap::new(),
        out: Vec::new(),
    };
    for p in paths {
        if std::fs::metadata(p).is_ok_and(|m| m.is_dir()) {
            walk.folder(p)?;
        } else {
            walk.file(p.clone());
        }
    }
    Ok(walk.out)
}

/// File name extensions `analyze DIR` and `render DIR` pick up.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "rf64", "bwf", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "m4b", "aac", "alac",
    "aif", "aiff", "aifc",
];

/// Whether `path`'s name ends in one of [`AUDIO_EXTENSIONS`] (any case).
pub fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| AUDIO_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
}

/// A walk of input folders: the output folder not to enter, the folders walked (by their
/// real path: a link to a folder already walked, or to one of its parents, is not walked
/// again), the files taken (by device and inode, with the path each was taken as), and the
/// files found.
struct Walk {
    skip: Option<PathBuf>,
    seen: std::collections::BTreeSet<PathBuf>,
    files: std::collections::BTreeMap<output::FileId, PathBuf>,
    out: Vec<PathBuf>,
}

impl Walk {
    /// Takes `path` unless the same file was taken already (then says so).
    fn file(&mut self, path: PathBuf) {
        if let Some(id) = output::file_id(&path) {
            if let Some(first) = self.files.get(&id) {
                if *first == path {
                    eprintln!("headroom: {}: named twice: taken once", path.display());
                } else {
                    eprintln!(
                        "headroom: {}: the same file as {}: taken once",
                        path.display(),
                        first.display()
                    );
                }
                return;
            }
            self.files.insert(id, path.clone());
        }
        self.out.push(path);
    }

    /// Walks `dir` unless it was walked already.
    fn folder(&mut self, dir: &Path) -> CliResult {
        self.folder_at(dir, std::fs::canonicalize(dir).ok())
    }

    /// [`Walk::folder`] with `dir`'s real path, when it has one.
    fn folder_at(&mut self, dir: &Path, real: Option<PathBuf>) -> CliResult {
        if let Some(real) = real {
            if !self.seen.insert(real) {
                return Ok(());
            }
        }
        let rd = std::fs::read_dir(dir)
            .map_err(|e| CliError::failed(format!("{}: cannot read folder: {e}", dir.display())))?;
        let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() || (ft.is_symlink() && path.is_dir()) {
                let real = std::fs::canonicalize(&path).ok();
                if self.skip.is_some() && real == self.skip {
                    eprintln!(
                        "headroom: {}: the output folder is not searched for inputs",
                        path.display()
                    );
                    continue;
                }
                self.folder_at(&path, real)?;
            } else if (ft.is_file() || (ft.is_symlink() && path.is_file()))
                && has_audio_extension(&path)
            {
                self.file(path);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transparent() -> ChainParams {
        let mut p = ChainParams::default();
        p.agc.enabled = false;
        p.compressor.enabled = false;
        p
    }

    #[test]
    fn impulse_stays_in_place_and_length_is_kept() {
        for (rate, ch) in [(48000u32, 2usize), (44100, 1), (96000, 3)] {
            let frames = 5000;
            let at = 1234;
            let mut input = vec![0.0f32; frames * ch];
            input[at * ch] = 0.5;
            for block in [1usize, 7, 64, 1024, 100_000] {
                let mut chain = Chain::new(rate, ch, block, &transparent());
                assert!(chain.latency_frames() > 0, "the limiter adds latency");
                let out = render_aligned(&mut chain, &input, block);
                assert_eq!(out.len(), input.len(), "rate {rate} ch {ch} block {block}");
                let peak = out
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                    .map(|(i, _)| i)
                    .unwrap();
                assert_eq!(peak, at * ch, "rate {rate} ch {ch} block {block}");
            }
        }
    }

    #[test]
    fn output_does_not_depend_on_the_block_size() {
        let ch = 2;
        let input: Vec<f32> = (0..48000 * ch)
            .map(|i| (i as f32 * 0.01).sin() * if i > 40000 { 0.9 } else { 0.05 })
            .collect();
        let reference = render_aligned(
            &mut Chain::new(48000, ch, 1024, &ChainParams::default()),
            &input,
            1024,
        );
        for block in [7usize, 333, 1024, 4096] {
            let out = render_aligned(
                &mut Chain::new(48000, ch, block, &ChainParams::default()),
                &input,
                block,
            );
            assert_eq!(out.len(), reference.len());
            let worst = out
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "block {block}: worst difference {worst}");
        }
    }

    #[test]
    fn partial_trailing_frame_is_padded() {
        let mut chain = Chain::new(48000, 2, 16, &transparent());
        let out = render_aligned(&mut chain, &[0.1, 0.2, 0.3], 16);
        assert_eq!(out.len(), 4);
    }
}
