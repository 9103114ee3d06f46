//! `headroom render`: the chain over files, into WAV or FLAC.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;

use headroom_core::meter::LiveMeter;
use headroom_core::{Chain, ChainParams};
use serde::Serialize;

use super::output::{self, Target};
use super::{db, expand_inputs, lufs, open_input, render_stream};
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

fn is_stream_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device() || m.file_type().is_fifo())
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
        let mut seen = Vec::new();
        for input in expand_inputs(paths)? {
            if let Some(id) = output::file_id(&input) {
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
            }
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
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError::failed(format!("{}: cannot create folder: {e}", dir.display()))
        })?;
        for input in expand_inputs(paths)? {
            let c = container
                .or_else(|| Container::from_path(&input))
                .unwrap_or(Container::Flac);
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
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError::failed(format!("{}: cannot create folder: {e}", dir.display()))
        })?;
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
        let c = match container.or_else(|| Container::from_path(out)) {
            Some(c) => c,
            None if is_stream_device(out) => Container::Wav,
            None => {
                return Err(CliError::usage(format!(
                    "{}: cannot tell the output format from the name; use .wav or .flac, or --format wav|flac",
                    out.display()
                )))
            }
        };
        jobs.push(Job {
            input: input.clone(),
            output: out.clone(),
            container: c,
        });
    }
    if jobs.is_empty() {
        return Err(CliError::failed("no audio files to render"));
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
    let (target, file) = output::open(&job.output, output::file_id(&job.input), opts.in_place)?;
    let result = run(&mut dec, &target, file, &spec, opts, interrupt);
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

/// Loudness figures of one side of a render (from the live meter, which measures as
/// `analyze` does with 0.01 LU histograms and short-term values every 100 ms).
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
    fn of(m: &LiveMeter) -> Figures {
        Figures {
            integrated_lufs: m.integrated_lufs(),
            lra_lu: m.loudness_range_lu(),
            true_peak_dbtp: m.true_peak_dbtp(),
            sample_peak_dbfs: m.sample_peak_dbfs(),
        }
    }
}

/// Frames decoded, processed and written at a time.
const BATCH_FRAMES: usize = 16_384;
/// Batches in flight between two stages.
const DEPTH: usize = 4;

/// A decoded batch: `len` samples of `buf` (fewer than a whole batch only at the end).
struct Decoded {
    buf: Vec<f32>,
    len: usize,
}

/// The reading side of a render, on its own thread: decodes batches into recycled buffers
/// (`free`) and measures the input. Stops after the last (short) batch, at the first error
/// (sent on, so it arrives in order), on an interrupt, or when the processing side is gone.
fn read_side(
    dec: &mut crate::audio::Decoder,
    mut meter: Option<LiveMeter>,
    tx: std::sync::mpsc::SyncSender<CliResult<Decoded>>,
    free: std::sync::mpsc::Receiver<Vec<f32>>,
    batch_len: usize,
    interrupt: &AtomicUsize,
) -> Option<LiveMeter> {
    loop {
        if let Some(sig) = output::pending_interrupt(interrupt) {
            let _ = tx.send(Err(output::interrupted(sig)));
            break;
        }
        let mut buf = free.try_recv().unwrap_or_else(|_| vec![0.0; batch_len]);
        let len = match dec.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Err(e.into()));
                break;
            }
        };
        if let Some(m) = meter.as_mut() {
            m.process(&buf[..len]);
        }
        let end = len < buf.len();
        if tx.send(Ok(Decoded { buf, len })).is_err() || end {
            break;
        }
    }
    meter
}

/// The writing side of a render, on its own thread: encodes and measures the chain's
/// output, and hands each buffer back (`free`) for the next batch.
fn write_side(
    mut enc: Encoder,
    mut meter: Option<LiveMeter>,
    rx: std::sync::mpsc::Receiver<Vec<f32>>,
    free: std::sync::mpsc::Sender<Vec<f32>>,
    bar: &indicatif::ProgressBar,
    channels: usize,
) -> CliResult<Option<LiveMeter>> {
    for batch in rx {
        enc.write(&batch)?;
        if let Some(m) = meter.as_mut() {
            m.process(&batch);
        }
        bar.inc((batch.len() / channels) as u64);
        let _ = free.send(batch);
    }
    enc.finish()?;
    Ok(meter)
}

/// Renders in three stages on three threads — decoding (and the input's meter), the chain
/// (this thread), encoding and writing (and the output's meter) — with batches of
/// [`BATCH_FRAMES`] passed on bounded channels and their buffers recycled, so that the
/// stages overlap and nothing is allocated per batch. The chain sees the blocks it would
/// see reading the file itself (`render_stream`'s partition), so the output is the same.
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
    let (rate, ch) = (spec.rate, spec.channels);
    let mut chain = Chain::new(rate, ch, opts.block, &opts.params);
    let latency = chain.latency_frames();
    let meter = || opts.measure.then(|| LiveMeter::new(rate, ch));
    let (before, after) = (meter(), meter());
    let bar = if opts.progress {
        super::frames_bar(spec.frames_hint, rate, &shown.display().to_string())
    } else {
        indicatif::ProgressBar::hidden()
    };
    let batch_len = BATCH_FRAMES * ch;
    let (in_tx, in_rx) = sync_channel::<CliResult<Decoded>>(DEPTH);
    let (in_free_tx, in_free_rx) = channel::<Vec<f32>>();
    let (out_tx, out_rx) = sync_channel::<Vec<f32>>(DEPTH);
    let (out_free_tx, out_free_rx) = channel::<Vec<f32>>();
    let (rendered, read, written) = std::thread::scope(|scope| {
        let reader =
            scope.spawn(|| read_side(dec, before, in_tx, in_free_rx, batch_len, interrupt));
        let writer = scope.spawn(|| write_side(enc, after, out_rx, out_free_tx, &bar, ch));
        let mut current = Decoded {
            buf: Vec::new(),
            len: 0,
        };
        let mut pos = 0;
        let mut input_ended = false;
        let mut out = Vec::with_capacity(batch_len);
        let send = |out: &mut Vec<f32>| -> CliResult {
            let next = out_free_rx.try_recv().map_or_else(
                |_| Vec::with_capacity(batch_len),
                |mut v| {
                    v.clear();
                    v
                },
            );
            // A closed channel means the writer failed; its error is reported below.
            out_tx
                .send(std::mem::replace(out, next))
                .map_err(|_| CliError::failed("the output writer stopped"))
        };
        let rendered = render_stream(
            &mut chain,
            opts.block,
            |buf| {
                let mut filled = 0;
                while filled < buf.len() {
                    if pos == current.len {
                        if input_ended {
                            break;
                        }
                        let done = std::mem::take(&mut current.buf);
                        if !done.is_empty() {
                            let _ = in_free_tx.send(done);
                        }
                        match in_rx.recv() {
                            Ok(Ok(d)) => {
                                // A short batch is the last one.
                                input_ended = d.len < d.buf.len();
                                current = d;
                                pos = 0;
                            }
                            Ok(Err(e)) => return Err(e),
                            Err(_) => input_ended = true,
                        }
                        continue;
                    }
                    let n = (buf.len() - filled).min(current.len - pos);
                    buf[filled..filled + n].copy_from_slice(&current.buf[pos..pos + n]);
                    filled += n;
                    pos += n;
                }
                Ok(filled)
            },
            |chunk| {
                out.extend_from_slice(chunk);
                if out.len() >= batch_len {
                    send(&mut out)?;
                }
                Ok(())
            },
        )
        .and_then(|n| {
            if !out.is_empty() {
                send(&mut out)?;
            }
            Ok(n)
        });
        drop(out_tx);
        // Unblocks the reader if the chain stopped early.
        drop(in_rx);
        let read = reader.join().ok().flatten();
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(CliError::failed("the output writer failed")));
        (rendered, read, written)
    });
    bar.finish_and_clear();
    if let Some(sig) = output::pending_interrupt(interrupt) {
        return Err(output::interrupted(sig));
    }
    // A write error explains a stopped render better than the stop itself.
    let (samples, after) = match (rendered, written) {
        (_, Err(e)) | (Err(e), Ok(_)) => return Err(e),
        (Ok(n), Ok(a)) => (n, a),
    };
    let loudness = match (read, after) {
        (Some(b), Some(a)) => Some(Loudness {
            before: Figures::of(&b),
            after: Figures::of(&a),
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
