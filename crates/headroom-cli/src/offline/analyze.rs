//! `headroom analyze`: loudness of files and folders, in parallel, with an album row.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use headroom_core::analysis::{Analysis, LoudnessHistogram, StreamingAnalyzer};
use serde::Serialize;

use super::{db, expand_inputs, frames_bar, lufs, open_input};
use crate::audio::SourceInfo;
use crate::error::{CliError, CliResult};

/// Frames decoded and measured per step.
const BLOCK_FRAMES: usize = 16_384;

/// The measurement of one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// The file as named on the command line or found in a folder.
    pub file: String,
    /// Codec or container ("WAV", "FLAC", "MP3", …).
    pub codec: String,
    /// Sample format ("16-bit", "24-bit", "32-bit float", "lossy").
    pub format: String,
    /// Sample rate, Hz.
    pub rate: u32,
    /// Channel count.
    pub channels: usize,
    /// Duration, seconds.
    pub duration_s: f64,
    /// Loudness and peaks.
    #[serde(flatten)]
    pub analysis: Analysis,
}

/// The whole set measured as one programme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlbumReport {
    /// Files measured.
    pub files: usize,
    /// Total duration, seconds.
    pub duration_s: f64,
    /// Integrated loudness and loudness range of all files together (from their merged
    /// loudness histograms); maxima and peaks over all files.
    #[serde(flatten)]
    pub analysis: Analysis,
}

/// Accumulates files into an [`AlbumReport`] in fixed memory.
#[derive(Debug, Default)]
pub struct Album {
    hist: LoudnessHistogram,
    files: usize,
    duration_s: f64,
    max_m: f64,
    max_s: f64,
    tp: f64,
    sp: f64,
}

impl Album {
    /// Adds one file.
    pub fn add(&mut self, report: &FileReport, hist: &LoudnessHistogram) {
        let a = &report.analysis;
        if self.files == 0 {
            self.max_m = a.max_momentary_lufs;
            self.max_s = a.max_short_term_lufs;
            self.tp = a.true_peak_dbtp;
            self.sp = a.sample_peak_dbfs;
        }
        self.hist.merge(hist);
        self.files += 1;
        self.duration_s += report.duration_s;
        self.max_m = self.max_m.max(a.max_momentary_lufs);
        self.max_s = self.max_s.max(a.max_short_term_lufs);
        self.tp = self.tp.max(a.true_peak_dbtp);
        self.sp = self.sp.max(a.sample_peak_dbfs);
    }

    /// The set's figures (`None` when no file was added).
    pub fn report(&self) -> Option<AlbumReport> {
        (self.files > 0).then(|| AlbumReport {
            files: self.files,
            duration_s: self.duration_s,
            analysis: Analysis {
                integrated_lufs: self.hist.integrated_lufs(),
                lra_lu: self.hist.loudness_range_lu(),
                max_momentary_lufs: self.max_m,
                max_short_term_lufs: self.max_s,
                true_peak_dbtp: self.tp,
                sample_peak_dbfs: self.sp,
            },
        })
    }
}

/// Measures one file, streaming it; `progress` is told the file's headers and the frames
/// measured so far.
pub fn analyze_file(
    path: &Path,
    progress: &dyn Fn(&SourceInfo, u64),
) -> CliResult<(FileReport, LoudnessHistogram)> {
    let mut dec = open_input(path)?;
    let info = dec.info().clone();
    let fail = |e: headroom_core::analysis::AnalysisError| {
        CliError::failed(format!("{}: {e}", path.display()))
    };
    let mut an = StreamingAnalyzer::new(info.rate, info.channels).map_err(fail)?;
    let mut buf = vec![0.0f32; BLOCK_FRAMES * info.channels];
    let mut frames = 0u64;
    loop {
        let n = dec.read(&mut buf)?;
        an.add(&buf[..n]).map_err(fail)?;
        frames += (n / info.channels) as u64;
        progress(&info, frames);
        if n < buf.len() {
            break;
        }
    }
    for w in dec.sample_warnings() {
        eprintln!("{w}");
    }
    let (analysis, hist) = an.finish_with_histogram().map_err(fail)?;
    Ok((
        FileReport {
            file: path.display().to_string(),
            codec: info.codec.clone(),
            format: info.format.to_string(),
            rate: info.rate,
            channels: info.channels,
            duration_s: frames as f64 / f64::from(info.rate),
            analysis,
        },
        hist,
    ))
}

/// Measures `files` on up to `jobs` threads and hands each result to `each` in the order of
/// `files` (as soon as it and every file before it are done). Histograms are handed over
/// with the result, so the caller can fold them into an [`Album`] and memory stays bounded
/// by the number of reports, not by the audio. `progress` is told of each file done,
/// `file_progress` of the frames measured within a file (see [`analyze_file`]).
pub fn analyze_many(
    files: &[PathBuf],
    jobs: usize,
    progress: &dyn Fn(u64),
    file_progress: &(dyn Fn(&SourceInfo, u64) + Sync),
    mut each: impl FnMut(usize, CliResult<(FileReport, LoudnessHistogram)>) -> CliResult,
) -> CliResult {
    let jobs = jobs.clamp(1, files.len().max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| -> CliResult {
        for _ in 0..jobs {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                let r = analyze_file(path, file_progress);
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut due = 0;
        let mut result = Ok(());
        for (i, r) in rx {
            progress(1);
            waiting.insert(i, r);
            while let Some(r) = waiting.remove(&due) {
                if result.is_ok() {
                    result = each(due, r);
                    if result.is_err() {
                        // Stop handing out work; the running files finish.
                        next.store(files.len(), Ordering::Relaxed);
                    }
                }
                due += 1;
            }
        }
        result
    })
}

/// Header of the table of several files.
pub const TABLE_HEADER: &str =
    "INTEGRATED     LRA   MAX M   MAX S  TRUE PEAK  SAMPLE PEAK  FILE\n      LUFS      LU    LUFS    LUFS       dBTP         dBFS\n";

/// One table row (the name's control characters written out as escapes: a line break or
/// a terminal escape in a file name neither breaks the row nor reaches the terminal).
pub fn table_row(a: &Analysis, name: &str) -> String {
    let name = crate::format::printable(name);
    format!(
        "{:>10} {:>7.1} {:>7} {:>7} {:>10} {:>12}  {name}\n",
        lufs(a.integrated_lufs),
        a.lra_lu,
        lufs(a.max_momentary_lufs),
        lufs(a.max_short_term_lufs),
        db(a.true_peak_dbtp),
        db(a.sample_peak_dbfs),
    )
}

/// A loudness over windows of `window_s` seconds, of a file `duration_s` long: none when the
/// file is shorter than one window (its readings count once a window is full).
fn loud(v: f64, window_s: f64, duration_s: f64) -> String {
    if v > headroom_core::LUFS_FLOOR {
        format!("{v:.1} LUFS")
    } else if duration_s < window_s {
        format!("— (no measurement: the file is shorter than the {window_s} s window)")
    } else {
        "— (no measurement: at or below the -70 LUFS gate)".to_string()
    }
}

fn num(v: f64, unit: &str) -> String {
    if v > headroom_core::meter::PEAK_FLOOR_DB {
        format!("{v:.1} {unit}")
    } else {
        format!("-inf {unit}")
    }
}

/// The figures of one file as a vertical table.
pub fn single_table(r: &FileReport) -> String {
    let a = &r.analysis;
    format!(
        "file                  {} ({} {}, {} Hz, {} ch, {:.1} s)\n\
         integrated loudness   {}\n\
         loudness range        {}\n\
         max momentary         {}\n\
         max short-term        {}\n\
         true peak             {}\n\
         sample peak           {}\n",
        r.file,
        r.codec,
        r.format,
        r.rate,
        r.channels,
        r.duration_s,
        loud(a.integrated_lufs, 0.4, r.duration_s),
        num(a.lra_lu, "LU"),
        loud(a.max_momentary_lufs, 0.4, r.duration_s),
        loud(a.max_short_term_lufs, 3.0, r.duration_s),
        num(a.true_peak_dbtp, "dBTP"),
        num(a.sample_peak_dbfs, "dBFS"),
    )
}

fn to_line<T: Serialize>(v: &T) -> CliResult<String> {
    serde_json::to_string(v).map_err(|e| CliError::failed(e.to_string()))
}

/// `headroom analyze`: measures `paths` (files and folders) on `jobs` threads and prints the
/// result (see `headroom analyze --help`).
pub fn analyze(paths: &[PathBuf], jobs: usize, json: bool, out: &mut dyn Write) -> CliResult {
    let files = expand_inputs(paths)?;
    if files.is_empty() {
        let named: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(CliError::failed(format!(
            "no audio files found in {}",
            named.join(", ")
        )));
    }
    let single = files.len() == 1 && !paths.iter().any(|p| p.is_dir());
    // On a terminal: files done of several, or the frames of a single file.
    let bar = if files.len() > 1 && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::with_draw_target(
            Some(files.len() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {wide_bar} {pos}/{len} files, eta {eta}",
        ) {
            b.set_style(style);
        }
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let file_bar = std::sync::OnceLock::new();
    let file_progress = |info: &SourceInfo, frames: u64| {
        if files.len() == 1 {
            file_bar
                .get_or_init(|| {
                    frames_bar(info.frames, info.rate, &info.path.display().to_string())
                })
                .set_position(frames);
        }
    };
    let mut album = Album::default();
    let mut errors = 0usize;
    if !json && !single {
        out.write_all(TABLE_HEADER.as_bytes())?;
    }
    analyze_many(&files, jobs, &|n| bar.inc(n), &file_progress, |i, r| {
        match r {
            Ok((report, hist)) => {
                album.add(&report, &hist);
                let text = if json {
                    to_line(&report)? + "\n"
                } else if single {
                    single_table(&report)
                } else {
                    table_row(&report.analysis, &report.file)
                };
                if let Some(b) = file_bar.get() {
                    b.finish_and_clear();
                }
                bar.suspend(|| out.write_all(text.as_bytes()))?;
            }
            Err(e) if single => return Err(e),
            Err(e) => {
                errors += 1;
                bar.suspend(|| eprintln!("headroom: {e}"));
                if json {
                    let line = to_line(&serde_json::json!({"file": files[i], "error": e.message}))?;
                    writeln!(out, "{line}")?;
                }
            }
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    if !single {
        if let Some(a) = album.report() {
            if json {
                writeln!(out, "{}", to_line(&serde_json::json!({ "album": a }))?)?;
            } else {
                out.write_all(
                    table_row(
                        &a.analysis,
                        &format!(
                            "ALBUM ({} file{}, {:.1} s)",
                            a.files,
                            if a.files == 1 { "" } else { "s" },
                            a.duration_s
                        ),
                    )
                    .as_bytes(),
                )?;
            }
        }
    }
    if errors > 0 {
        return Err(CliError::failed(format!(
            "{errors} of {} files could not be measured (see above)",
            files.len()
        )));
    }
    Ok(())
}
