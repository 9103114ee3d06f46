//! `headroom render`: the chain over files, into WAV or FLAC.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;

use headroom_core::finepeak::FineTruePeak;
use headroom_core::meter::LiveMeter;
use headroom_core::{Chain, ChainParams};
use serde::Serialize;

use super::output::{self, Target};
use super::{db, expand_inputs, expand_inputs_except, lufs, open_input};
use crate::audio::flac::MAX_RATE as FLAC_MAX_RATE;
use crate::audio::{tag_is_stale, Container, Encoder, EncoderSpec, OutputSamples};
use crate::cli::FormatArg;
use crate::error::{CliError, CliResult};

/// How to render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Chain parameters (profile and `--set` overrides applied).
    pub params: ChainParams,
    /// Frames per processing block.
    pub block: usize,
    /// Container asked for with `--format`.
    pub container: Option<Container>,
    /// Sample format asked for with `--format`.
    pub samples: Option<OutputSamples>,
    /// `--in-place`: the output may be the input.
    pub in_place: bool,
    /// Measure the input and output (for the summary).
    pub measure: bool,
    /// Show a progress bar on stderr when it is a terminal.
    pub progress: bool,
}

/// Splits `--format` values into a container and a sample format; two of a kind conflict.
pub fn parse_format(values: &[FormatArg]) -> CliResult<(Option<Container>, Option<OutputSamples>)> {
    let (mut c, mut s) = (None, None);
    for v in values {
        let (cv, sv) = match v {
            FormatArg::Wav => (Some(Container::Wav), None),
            FormatArg::Flac => (Some(Container::Flac), None),
            FormatArg::S16 => (None, Some(OutputSamples::S16)),
            FormatArg::S24 => (None, Some(OutputSamples::S24)),
            FormatArg::F32 => (None, Some(OutputSamples::F32)),
        };
        if let Some(cv) = cv {
            if c.is_some_and(|x| x != cv) {
                return Err(CliError::usage(
                    "--format: give one container (wav or flac)",
                ));
            }
            c = Some(cv);
        }
        if let Some(sv) = sv {
            if s.is_some_and(|x| x != sv) {
                return Err(CliError::usage(
                    "--format: give one sample format (s16, s24 or f32)",
                ));
            }
            s = Some(sv);
        }
    }
    if c == Some(Container::Flac) && s == Some(OutputSamples::F32) {
        return Err(CliError::usage(
            "--format: FLAC stores integers; use s16 or s24 (or wav,f32)",
        ));
    }
    Ok((c, s))
}

/// One input and where its render goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Input file.
    pub input: PathBuf,
    /// Output file.
    pub output: PathBuf,
    /// Output container.
    pub container: Container,
}

/// Whether `path` is written as a stream: a character device or a FIFO, or this process's
/// standard output whatever it is (`/dev/stdout` redirected to a file included).
fn is_stream_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device() || m.file_type().is_fifo())
        || output::is_stdout(path)
}

/// Refuses `-o out.wav` (the ffmpeg/sox habit) unless `out.wav` is an existing folder: `-o`
/// takes a folder, and making a folder named like an audio file, with the render inside, is
/// almost never what was meant. A folder that already has such a name is used as any other.
fn refuse_file_name_as_output_dir(paths: &[PathBuf], dir: &Path) -> CliResult {
    let audio_name = super::has_audio_extension(dir);
    if dir.is_file() {
        // `cannot create folder: File exists` said less.
        return Err(CliError::usage(format!(
            "-o takes a folder; {} is a file",
            dir.display()
        )));
    }
    if let Ok(out) = std::fs::canonicalize(dir) {
        // The outputs would land among the inputs: a.wav refused as its own output, while
        // sub/a.wav was rendered into the input folder beside the originals.
        if let Some(same) = paths
            .iter()
            .find(|p| p.is_dir() && std::fs::canonicalize(p).is_ok_and(|c| c == out))
        {
            return Err(CliError::usage(format!(
                "-o {}: that is the input folder {}; give a folder of its own (e.g. -o {})",
                dir.display(),
                same.display(),
                same.join("levelled").display()
            )));
        }
    }
    if !audio_name || dir.is_dir() {
        return Ok(());
    }
    let input = match paths {
        [one] if !one.is_dir() => one.display().to_string(),
        _ => "IN".to_string(),
    };
    Err(CliError::usage(format!(
        "-o takes a folder, not a file name like {out}; to write one file, give its name \
         after the input: headroom render {input} {out}",
        out = dir.display()
    )))
}

/// Works out the jobs of one `render` command line (see `headroom render --help` for the
/// three forms).
pub fn plan(
    paths: &[PathBuf],
    output_dir: Option<&Path>,
    in_place: bool,
    container: Option<Container>,
) -> CliResult<Vec<Job>> {
    let mut jobs = Vec::new();
    if in_place {
        // Every argument is a file to replace: one that is not there is most likely an
        // output named out of habit (`--in-place a.wav out.wav`), and is refused before
        // anything is rewritten (a.wav was replaced, then out.wav failed).
        if let Some(missing) = paths.iter().find(|p| std::fs::symlink_metadata(p).is_err()) {
            return Err(CliError::failed(format!(
                "{}: no such file; with --in-place every argument is a file to replace (to \
                 render into another file: `headroom render IN OUT`); nothing was rendered",
                missing.display()
            )));
        }
        for input in expand_inputs(paths)? {
            let c = Container::from_path(&input).ok_or_else(|| {
                CliError::failed(format!(
                    "{}: --in-place writes WAV or FLAC; render this file to a new .wav or .flac with -o DIR",
                    input.display()
                ))
            })?;
            if container.is_some_and(|x| x != c) {
                return Err(CliError::usage(format!(
                    "{}: --in-place keeps the container; --format {} does not match the name",
                    input.display(),
                    container.map(Container::extension).unwrap_or_default()
                )));
            }
            jobs.push(Job {
                output: input.clone(),
                input,
                container: c,
            });
        }
    } else if let Some(dir) = output_dir {
        refuse_file_name_as_output_dir(paths, dir)?;
        // The folder is made once an input is known to exist (below).
        for input in expand_inputs_except(paths, Some(dir))? {
            let mut c = container
                .or_else(|| Container::from_path(&input))
                .unwrap_or(Container::Flac);
            if container.is_none() && c == Container::Flac {
                // Over FLAC's rate here, the container the folder would keep is WAV.
                let rate = crate::audio::open(&input).ok().map(|d| d.info().rate);
                if let Some(rate) = rate.filter(|&r| r > FLAC_MAX_RATE) {
                    eprintln!(
                        "headroom: {}: {rate} Hz is over the {FLAC_MAX_RATE} Hz FLAC is written \
                         at: rendered to WAV",
                        input.display()
                    );
                    c = Container::Wav;
                }
            }
            let stem = input.file_stem().unwrap_or_default();
            let mut name = stem.to_os_string();
            name.push(".");
            name.push(c.extension());
            let output = dir.join(name);
            if let Some(other) = jobs.iter().find(|j: &&Job| j.output == output) {
                return Err(CliError::failed(format!(
                    "{} and {} would both be written to {}",
                    other.input.display(),
                    input.display(),
                    output.display()
                )));
            }
            jobs.push(Job {
                input,
                output,
                container: c,
            });
        }
        // Not for inputs none of which exists: each fails on its own, and nothing is made.
        if jobs.iter().any(|j| j.input.exists()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                CliError::failed(format!("{}: cannot create folder: {e}", dir.display()))
            })?;
        }
    } else {
        let [input, out] = paths else {
            return Err(CliError::usage(
                "render needs IN OUT, or IN... -o DIR, or FILE... --in-place (see headroom render --help)",
            ));
        };
        if input.is_dir() {
            return Err(CliError::usage(format!(
                "{} is a folder: render folders with -o DIR",
                input.display()
            )));
        }
        let named = Container::from_path(out);
        if let (Some(asked), Some(named)) = (container, named) {
            if asked != named {
                return Err(CliError::usage(format!(
                    "{}: the name says {} but --format says {}; rename the output or leave the container out of --format",
                    out.display(),
                    named.extension(),
                    asked.extension()
                )));
            }
        }
        let c = match container.or(named) {
            Some(c) => c,
            None if is_stream_device(out) => Container::Wav,
            None if out.is_dir() => {
                return Err(CliError::usage(format!(
                    "{}: is a folder; to render into it use -o {0}",
                    out.display()
                )))
            }
            None => {
                // A container it reads but does not write (MP3, Ogg, M4A, AIFF) says so.
                let read_only = out
                    .extension()
                    .and_then(|x| x.to_str())
                    .map(str::to_ascii_lowercase)
                    .filter(|x| super::AUDIO_EXTENSIONS.contains(&x.as_str()));
                return Err(CliError::usage(match read_only {
                    Some(x) => format!(
                        "{}: render writes WAV or FLAC, not .{x} (it reads .{x}); name the output .wav or .flac, or use --format wav|flac",
                        out.display()
                    ),
                    None => format!(
                        "{}: cannot tell the output format from the name; use .wav or .flac, or --format wav|flac",
                        out.display()
                    ),
                }));
            }
        };
        jobs.push(Job {
            input: input.clone(),
            output: out.clone(),
            container: c,
        });
    }
    if jobs.is_empty() {
        let named: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(CliError::failed(format!(
            "no audio files to render in {}",
            named.join(", ")
        )));
    }
    Ok(jobs)
}

/// Before/after loudness figures of a render.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Loudness {
    /// The input.
    pub before: Figures,
    /// The output.
    pub after: Figures,
}

/// What `headroom render` did with one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderSummary {
    /// Input path.
    pub input: String,
    /// Output path.
    pub output: String,
    /// Output container.
    pub container: Container,
    /// Output sample format.
    pub samples: OutputSamples,
    /// Sample rate, Hz.
    pub rate: u32,
    /// Channel count.
    pub channels: usize,
    /// Frames written (= frames read).
    pub frames: u64,
    /// Chain latency that was compensated, frames.
    pub latency_frames: usize,
    /// Processing block size, frames.
    pub block: usize,
    /// Tags carried over.
    pub tags: usize,
    /// Loudness of the input and the output (absent with `--quiet`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<Loudness>,
}

impl RenderSummary {
    /// Human-readable summary: what was written, then before → after figures.
    pub fn human(&self) -> String {
        let mut s = format!(
            "rendered {} -> {} ({} {}): {} frames, {} ch, {} Hz (chain latency {} frames compensated, block {})\n",
            self.input,
            self.output,
            self.container.extension().to_uppercase(),
            self.samples,
            self.frames,
            self.channels,
            self.rate,
            self.latency_frames,
            self.block
        );
        if let Some(l) = &self.loudness {
            s.push_str(&format!(
                "  integrated {} -> {} LUFS, loudness range {:.1} -> {:.1} LU, true peak {} -> {} dBTP\n",
                lufs(l.before.integrated_lufs),
                lufs(l.after.integrated_lufs),
                l.before.lra_lu,
                l.after.lra_lu,
                db(l.before.true_peak_dbtp),
                db(l.after.true_peak_dbtp)
            ));
        }
        s
    }
}

/// Renders one file (see `headroom render --help` for what is written and how safely).
pub fn render_file(
    job: &Job,
    opts: &RenderOptions,
    interrupt: &AtomicUsize,
) -> CliResult<RenderSummary> {
    let mut dec = open_input(&job.input)?;
    let info = dec.info().clone();
    let samples = opts
        .samples
        .unwrap_or_else(|| OutputSamples::keeping(info.format, job.container));
    if job.container == Container::Flac && samples == OutputSamples::F32 {
        return Err(CliError::usage(
            "--format: FLAC stores integers; use s16 or s24",
        ));
    }
    if job.container == Container::Flac && info.rate > FLAC_MAX_RATE {
        return Err(CliError::failed(format!(
            "{}: {} Hz: FLAC is written at up to {FLAC_MAX_RATE} Hz; render to WAV (a .wav \
             name, or --format wav)",
            job.output.display(),
            info.rate
        )));
    }
    let tags: Vec<_> = info
        .tags
        .iter()
        .filter(|t| !tag_is_stale(&t.key))
        .cloned()
        .collect();
    let spec = EncoderSpec {
        rate: info.rate,
        channels: info.channels,
        samples,
        container: job.container,
        frames_hint: info.frames,
        tags,
    };
    let (target, file) = output::open(
        &job.output,
        output::file_id(&job.input),
        opts.in_place,
        interrupt,
    )?;
    let result = run(&mut dec, &target, file, &spec, opts, interrupt);
    for w in dec.sample_warnings() {
        eprintln!("{w}");
    }
    match result {
        Ok((frames, latency, loudness)) => {
            output::commit(&target)?;
            Ok(RenderSummary {
                input: job.input.display().to_string(),
                output: job.output.display().to_string(),
                container: job.container,
                samples,
                rate: info.rate,
                channels: info.channels,
                frames,
                latency_frames: latency,
                block: opts.block,
                tags: spec.tags.len(),
                loudness,
            })
        }
        Err(e) => {
            output::abandon(&target);
            Err(e)
        }
    }
}

/// Loudness figures of one side of a render. Loudness, range and sample peak are read from
/// the chain's own meters (the [`LiveMeter`]s that drive it: 0.01 LU histograms, a
/// short-term value every 100 ms), so they cost no metering of their own; the true peak is
/// the offline one of `analyze` ([`FineTruePeak`], on the reading and writing threads), not
/// the meters' 4× Annex 2 reading, which is lower on clicks and noise:
/// * before: the chain's input meter read when the last input sample has gone through it,
///   before the zeros that flush the lookahead — exactly what a meter over the decoded input
///   reads (the chain clamps samples beyond ±1000, +60 dBFS, where a meter alone would not);
/// * after: the chain's output meter at the end — the samples written (before dither),
///   preceded by the `latency_frames` of silence the lookahead puts out first. The peaks are
///   those of the written samples (before dither) exactly; the 100 ms blocks of the loudness
///   and range start that many frames (a few ms) earlier than in the file, which moves those
///   figures by ten-thousandths of an LU (the test allows 0.01).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    /// Gated integrated loudness, LUFS (−70 when nothing passed the gates).
    pub integrated_lufs: f64,
    /// Loudness range, LU.
    pub lra_lu: f64,
    /// True peak, dBTP.
    pub true_peak_dbtp: f64,
    /// Sample peak, dBFS.
    pub sample_peak_dbfs: f64,
}

impl Figures {
    fn of(m: &LiveMeter, tp: &FineTruePeak) -> Figures {
        Figures {
            integrated_lufs: m.integrated_lufs(),
            lra_lu: m.loudness_range_lu(),
            true_peak_dbtp: tp.true_peak_dbtp(),
            sample_peak_dbfs: m.sample_peak_dbfs(),
        }
    }
}

/// Frames decoded, processed and written at a time (rounded down to whole processing
/// blocks).
const BATCH_FRAMES: usize = 65_536;
/// Batches in flight between two stages.
const DEPTH: usize = 8;

/// A batch of interleaved samples on its way through a render: `buf[..len]` holds samples
/// (fewer than `buf.len()` only in the last batch of the input); on the way to the writer,
/// `buf[skip..len]` is what is written (the chain's first `latency_frames` are dropped).
struct Batch {
    buf: Vec<f32>,
    skip: usize,
    len: usize,
}

/// The reading side of a render, on its own thread: decodes batches into recycled buffers
/// (`free`, handed back by the writer) and measures their true peak into `peak` (for the
/// summary). Stops after the last (short) batch, at the first error (sent on, so it arrives
/// in order), on an interrupt, or when the processing side is gone.
fn read_side(
    dec: &mut crate::audio::Decoder,
    tx: std::sync::mpsc::SyncSender<CliResult<Batch>>,
    free: std::sync::mpsc::Receiver<Vec<f32>>,
    batch_len: usize,
    interrupt: &AtomicUsize,
    mut peak: Option<&mut FineTruePeak>,
) {
    loop {
        if let Some(sig) = output::pending_interrupt(interrupt) {
            let _ = tx.send(Err(output::interrupted(
                sig,
                "the partial output was removed",
            )));
            break;
        }
        // The buffer of the lookahead's flush comes back too; only batch-sized ones are
        // reused.
        let mut buf = free
            .try_recv()
            .ok()
            .filter(|b| b.len() == batch_len)
            .unwrap_or_else(|| vec![0.0; batch_len]);
        let len = match dec.read(&mut buf) {
            Ok(n) => n.min(batch_len),
            Err(e) => {
                let _ = tx.send(Err(e.into()));
                break;
            }
        };
        let end = len < batch_len;
        if let Some(p) = peak.as_deref_mut() {
            p.process(&buf[..len]);
        }
        if tx.send(Ok(Batch { buf, skip: 0, len })).is_err() || end {
            break;
        }
    }
}

/// The writing side of a render, on its own thread: measures the true peak of the chain's
/// output into `peak` (for the summary), encodes it and hands each buffer back to the reader
/// (`free`).
fn write_side(
    mut enc: Encoder,
    rx: std::sync::mpsc::Receiver<Batch>,
    free: std::sync::mpsc::Sender<Vec<f32>>,
    bar: &indicatif::ProgressBar,
    channels: usize,
    mut peak: Option<&mut FineTruePeak>,
) -> CliResult {
    for b in rx {
        let out = &b.buf[b.skip..b.len];
        if let Some(p) = peak.as_deref_mut() {
            p.process(out);
        }
        enc.write(out)?;
        bar.inc((out.len() / channels) as u64);
        let _ = free.send(b.buf);
    }
    enc.finish()?;
    Ok(())
}

/// Renders in three stages on three threads — decoding, the chain (this thread, over each
/// batch in place), encoding and writing — with batches of [`BATCH_FRAMES`] passed on
/// bounded channels and their buffers recycled, so that the stages overlap and nothing is
/// copied or allocated per batch. The chain gets the input in blocks of `opts.block` frames,
/// a trailing partial frame padded with zeros, then `latency_frames` of zeros that flush its
/// lookahead; its first `latency_frames` of output are dropped — what
/// [`render_stream`](super::render_stream)
/// does, and since the chain's output does not depend on how its input is split, the same
/// output. The summary's figures are read from the chain's meters ([`Figures`]).
fn run(
    dec: &mut crate::audio::Decoder,
    target: &Target,
    file: std::fs::File,
    spec: &EncoderSpec,
    opts: &RenderOptions,
    interrupt: &AtomicUsize,
) -> CliResult<(u64, usize, Option<Loudness>)> {
    use std::sync::mpsc::{channel, sync_channel};
    let shown = target.path().to_path_buf();
    let enc = Encoder::new(Box::new(file), target.seekable(), &shown, spec)?;
    let (rate, ch) = (spec.rate, spec.channels.max(1));
    let mut chain = Chain::new(rate, ch, opts.block, &opts.params);
    // The summary's true peaks are measured on the reading and writing threads
    // (`FineTruePeak`); the meters' own would be read by nobody.
    chain.set_meter_true_peak(false);
    let latency = chain.latency_frames();
    let bar = if opts.progress {
        super::frames_bar(spec.frames_hint, rate, &shown.display().to_string())
    } else {
        indicatif::ProgressBar::hidden()
    };
    let block_len = opts.block.max(1) * ch;
    let batch_len = (BATCH_FRAMES * ch / block_len).max(1) * block_len;
    let (in_tx, in_rx) = sync_channel::<CliResult<Batch>>(DEPTH);
    let (out_tx, out_rx) = sync_channel::<Batch>(DEPTH);
    let (free_tx, free_rx) = channel::<Vec<f32>>();
    let mut in_peak = opts.measure.then(|| FineTruePeak::new(ch));
    let mut out_peak = opts.measure.then(|| FineTruePeak::new(ch));
    let (rendered, written) = std::thread::scope(|scope| {
        let in_p = in_peak.as_mut();
        let out_p = out_peak.as_mut();
        let reader = scope.spawn(|| read_side(dec, in_tx, free_rx, batch_len, interrupt, in_p));
        let writer = scope.spawn(|| write_side(enc, out_rx, free_tx, &bar, ch, out_p));
        let mut to_skip = latency * ch;
        // Runs the chain over `b` in place and passes it on.
        let mut pass_on = |chain: &mut Chain, mut b: Batch| -> CliResult {
            for piece in b.buf[..b.len].chunks_mut(block_len) {
                chain.process(piece);
            }
            b.skip = to_skip.min(b.len);
            to_skip -= b.skip;
            // A closed channel means the writer failed; its error is reported below.
            out_tx
                .send(b)
                .map_err(|_| CliError::failed("the output writer stopped"))
        };
        let rendered = (|| -> CliResult<(u64, Option<LiveMeter>)> {
            let mut total_in = 0u64;
            loop {
                let mut b = match in_rx.recv() {
                    Ok(Ok(b)) => b,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => break,
                };
                total_in += b.len as u64;
                // A short batch is the last one; a trailing partial frame is padded.
                let end = b.len < b.buf.len();
                let whole = b.len.div_ceil(ch) * ch;
                b.buf[b.len..whole].fill(0.0);
                b.len = whole;
                pass_on(&mut chain, b)?;
                if end {
                    break;
                }
            }
            // The input's true peak is read when the reader is done (below).
            let before = opts.measure.then(|| chain.input_meter().clone());
            if latency > 0 {
                let flush = vec![0.0; latency * ch];
                let len = flush.len();
                pass_on(
                    &mut chain,
                    Batch {
                        buf: flush,
                        skip: 0,
                        len,
                    },
                )?;
            }
            Ok((total_in, before))
        })();
        drop(out_tx);
        // Unblocks the reader if the chain stopped early.
        drop(in_rx);
        let _ = reader.join();
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(CliError::failed("the output writer failed")));
        (rendered, written)
    });
    bar.finish_and_clear();
    if let Some(sig) = output::pending_interrupt(interrupt) {
        return Err(output::interrupted(sig, target.interrupted_note()));
    }
    // A write error explains a stopped render better than the stop itself.
    let (samples, before) = match (rendered, written) {
        (_, Err(e)) | (Err(e), Ok(())) => return Err(e),
        (Ok(r), Ok(())) => r,
    };
    let loudness = match (before, &in_peak, &out_peak) {
        (Some(before), Some(tp_in), Some(tp_out)) => Some(Loudness {
            before: Figures::of(&before, tp_in),
            after: Figures::of(chain.output_meter(), tp_out),
        }),
        _ => None,
    };
    Ok((samples.div_ceil(ch as u64), latency, loudness))
}

/// `headroom render`: runs every job, printing a summary per file (text unless `quiet`, or
/// one JSON object per line). A file that fails is reported and the others are still
/// rendered; an interrupt stops everything.
pub fn render(
    jobs: &[Job],
    opts: &RenderOptions,
    json: bool,
    quiet: bool,
    out: &mut dyn Write,
) -> CliResult {
    let interrupt = output::interrupt_flag();
    let mut failed = None;
    // The audio itself goes to standard output: the summaries go to standard error.
    let mut stderr = std::io::stderr();
    let out: &mut dyn Write = if jobs.iter().any(|j| output::is_stdout(&j.output)) {
        &mut stderr
    } else {
        out
    };
    for job in jobs {
        match render_file(job, opts, &interrupt) {
            Ok(summary) => {
                if json {
                    let line = serde_json::to_string(&summary)
                        .map_err(|e| CliError::failed(e.to_string()))?;
                    writeln!(out, "{line}")?;
                } else if !quiet {
                    out.write_all(summary.human().as_bytes())?;
                }
                out.flush()?;
            }
            Err(e) if output::pending_interrupt(&interrupt).is_some() || jobs.len() == 1 => {
                return Err(e)
            }
            Err(e) => {
                eprintln!("headroom: {e}");
                if json {
                    // One line per input with `--json`, as `analyze` does: the failed one
                    // says which and why.
                    let line = serde_json::json!({
                        "input": job.input.to_string_lossy(),
                        "output": job.output.to_string_lossy(),
                        "error": e.message,
                    });
                    writeln!(out, "{line}")?;
                    out.flush()?;
                }
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(_) => Err(CliError::failed(
            "some files could not be rendered (see above)",
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Audio;

    /// A programme with quiet and loud stretches (the limiter works in the loud ones).
    fn programme(rate: u32, channels: usize, frames: usize) -> Audio {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut samples = Vec::with_capacity(frames * channels);
        for i in 0..frames {
            let t = i as f64 / f64::from(rate);
            let level = if (t as usize / 2).is_multiple_of(2) {
                0.05
            } else {
                0.9
            };
            let tone = (2.0 * std::f64::consts::PI * 440.0 * t).sin();
            for c in 0..channels {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let noise = (seed >> 40) as f64 / f64::from(1u32 << 24) - 0.5;
                let x = level * (0.6 * tone + 0.5 * noise) * (1.0 - 0.2 * c as f64);
                samples.push(x as f32);
            }
        }
        Audio {
            rate,
            channels,
            samples,
        }
    }

    fn figures_over(rate: u32, channels: usize, samples: &[f32]) -> Figures {
        let mut m = LiveMeter::new(rate, channels);
        m.process(samples);
        let mut tp = FineTruePeak::new(channels);
        tp.process(samples);
        Figures::of(&m, &tp)
    }

    /// The summary's figures, read from the chain's meters and the true-peak meters of the
    /// reading and writing threads, are those of meters of their own over the input and over
    /// the chain's aligned output: the input's exactly, the output's
    /// peaks exactly and its loudness and range within a hundredth of an LU — the range's
    /// histogram bin — (its 100 ms blocks start `latency_frames` earlier).
    #[test]
    fn summary_figures_are_those_of_the_input_and_of_the_output() {
        let dir = tempfile::tempdir().unwrap();
        for (rate, channels, frames) in [
            (48_000u32, 2usize, 48_000 * 12 + 777),
            (44_100, 1, 44_100 * 5),
        ] {
            let input = dir.path().join(format!("in-{rate}.wav"));
            let audio = programme(rate, channels, frames);
            audio.write_wav(&input, OutputSamples::S24).unwrap();
            let params = headroom_profile::Profile::default().chain;
            let opts = RenderOptions {
                params,
                block: 1024,
                container: None,
                samples: None,
                in_place: false,
                measure: true,
                progress: false,
            };
            let job = Job {
                input: input.clone(),
                output: dir.path().join(format!("out-{rate}.wav")),
                container: Container::Wav,
            };
            let summary = render_file(&job, &opts, &AtomicUsize::new(0)).unwrap();
            let got = summary.loudness.unwrap();
            let read = Audio::read(&input).unwrap();
            assert_eq!(got.before, figures_over(rate, channels, &read.samples));
            let mut chain = Chain::new(rate, channels, 1024, &params);
            let out = super::super::render_aligned(&mut chain, &read.samples, 1024);
            let want = figures_over(rate, channels, &out);
            let a = got.after;
            assert_eq!(a.true_peak_dbtp, want.true_peak_dbtp, "{rate}");
            assert_eq!(a.sample_peak_dbfs, want.sample_peak_dbfs, "{rate}");
            assert!(
                (a.integrated_lufs - want.integrated_lufs).abs() < 0.01,
                "{rate}: {a:?} vs {want:?}"
            );
            // (The range comes in 0.01 LU bins: shifted blocks may land one bin apart.)
            assert!(
                (a.lra_lu - want.lra_lu).abs() < 0.01 + 1e-9,
                "{rate}: {a:?} vs {want:?}"
            );
            assert!(a.integrated_lufs > -40.0 && a.lra_lu > 1.0, "{rate}: {a:?}");
        }
    }
}
