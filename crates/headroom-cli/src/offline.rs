//! The offline commands: `render`, `analyze`, `validate`. None needs the daemon.

use std::path::Path;

use headroom_core::{Chain, ChainParams};
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::wav::{read_wav, write_wav_f32, Audio};

/// Runs `chain` over `input` (interleaved, `channels` wide) in blocks of `block` frames and
/// returns exactly as many frames, time-aligned with the input: the first
/// `chain.latency_frames()` output frames are dropped and the input is followed by that many
/// frames of zeros to flush the lookahead.
pub fn render_aligned(chain: &mut Chain, input: &[f32], block: usize) -> Vec<f32> {
    let ch = chain.channels().max(1);
    let frames = input.len() / ch;
    let latency = chain.latency_frames();
    let block = block.max(1);
    let mut out = Vec::with_capacity(frames * ch);
    let mut buf = vec![0.0f32; block * ch];
    let mut to_skip = latency * ch;
    let total = frames + latency;
    let mut pos = 0usize;
    while pos < total {
        let n = block.min(total - pos);
        let chunk = &mut buf[..n * ch];
        chunk.fill(0.0);
        if pos < frames {
            let avail = (frames - pos).min(n);
            chunk[..avail * ch].copy_from_slice(&input[pos * ch..(pos + avail) * ch]);
        }
        chain.process(chunk);
        let skip = to_skip.min(chunk.len());
        to_skip -= skip;
        out.extend_from_slice(&chunk[skip..]);
        pos += n;
    }
    out.truncate(frames * ch);
    out
}

/// `headroom render`: reads `input`, runs the chain with `params`, writes `output` (32-bit
/// float, same rate and channels, time-aligned). Returns the audio format and latency for the
/// summary line.
pub fn render_file(
    input: &Path,
    output: &Path,
    params: &ChainParams,
    block: usize,
) -> CliResult<RenderSummary> {
    let audio = read_wav(input)?;
    let mut chain = Chain::new(audio.rate, audio.channels, block, params);
    let latency = chain.latency_frames();
    let out = render_aligned(&mut chain, &audio.samples, block);
    write_wav_f32(output, audio.rate, audio.channels, &out)?;
    Ok(RenderSummary {
        input: input.display().to_string(),
        output: output.display().to_string(),
        rate: audio.rate,
        channels: audio.channels,
        frames: audio.frames(),
        latency_frames: latency,
        block,
    })
}

/// What `headroom render` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderSummary {
    /// Input path.
    pub input: String,
    /// Output path.
    pub output: String,
    /// Sample rate, Hz.
    pub rate: u32,
    /// Channel count.
    pub channels: usize,
    /// Frames written (= frames read).
    pub frames: usize,
    /// Chain latency that was compensated, frames.
    pub latency_frames: usize,
    /// Processing block size, frames.
    pub block: usize,
}

impl RenderSummary {
    /// Human-readable one-liner.
    pub fn human(&self) -> String {
        format!(
            "rendered {} -> {}: {} frames, {} ch, {} Hz (chain latency {} frames compensated, block {})\n",
            self.input, self.output, self.frames, self.channels, self.rate, self.latency_frames, self.block
        )
    }
}

/// Loudness and peak measurements of a file, as printed by `headroom analyze`. Every value is
/// finite: loudness with no measurement (silence, too short) is −70 LUFS, peaks of digital
/// silence −144 dB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AnalysisReport {
    /// Gated integrated loudness, LUFS.
    pub integrated_lufs: f64,
    /// Loudness range, LU.
    pub lra_lu: f64,
    /// Highest momentary (400 ms) loudness, LUFS.
    pub max_momentary_lufs: f64,
    /// Highest short-term (3 s) loudness, LUFS.
    pub max_short_term_lufs: f64,
    /// True peak (4× oversampled), dBTP.
    pub true_peak_dbtp: f64,
    /// Sample peak, dBFS.
    pub sample_peak_dbfs: f64,
}

fn loud(v: f64) -> String {
    if v.is_finite() && v > headroom_core::LUFS_FLOOR {
        format!("{v:.1} LUFS")
    } else {
        "— (no measurement: at or below the -70 LUFS gate)".to_string()
    }
}

fn num(v: f64, unit: &str) -> String {
    if v.is_finite() {
        format!("{v:.1} {unit}")
    } else if v.is_sign_negative() {
        format!("-inf {unit}")
    } else {
        "n/a".to_string()
    }
}

impl AnalysisReport {
    /// Human-readable table.
    pub fn human(&self) -> String {
        format!(
            "integrated loudness   {}\n\
             loudness range        {}\n\
             max momentary         {}\n\
             max short-term        {}\n\
             true peak             {}\n\
             sample peak           {}\n",
            loud(self.integrated_lufs),
            num(self.lra_lu, "LU"),
            loud(self.max_momentary_lufs),
            loud(self.max_short_term_lufs),
            num(self.true_peak_dbtp, "dBTP"),
            num(self.sample_peak_dbfs, "dBFS"),
        )
    }
}

/// `headroom analyze`: measures a WAV file.
pub fn analyze_file(path: &Path) -> CliResult<AnalysisReport> {
    let audio = read_wav(path)?;
    analyze_audio(&audio).map_err(|e| CliError::failed(format!("{}: {e}", path.display())))
}

/// Measures audio already in memory.
pub fn analyze_audio(audio: &Audio) -> Result<AnalysisReport, String> {
    crate::core_api::analyze(&audio.samples, audio.rate, audio.channels)
}
