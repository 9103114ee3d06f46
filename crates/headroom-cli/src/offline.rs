//! The offline commands: `render`, `analyze`, `validate`. None needs the daemon.

use std::path::Path;

use headroom_core::{Chain, ChainParams};
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::wav::{Audio, WavOut, WavSource};

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

/// `headroom render`: streams `input` through the chain with `params` into `output` (32-bit
/// float, same rate and channels, time-aligned). The output is written to a temporary file
/// next to `output` and renamed into place only when everything succeeded, so a failed render
/// leaves no partial file and never clobbers an existing one.
pub fn render_file(
    input: &Path,
    output: &Path,
    params: &ChainParams,
    block: usize,
) -> CliResult<RenderSummary> {
    let mut src = WavSource::open(input)?;
    let (rate, ch) = (src.rate, src.channels);
    let mut chain = Chain::new(rate, ch, block, params);
    let latency = chain.latency_frames();
    let tmp = temp_path(output);
    let result = (|| {
        let mut w = WavOut::create(&tmp, output, rate, ch)?;
        let n = render_stream(&mut chain, block, |b| src.read(b), |c| w.write(c))?;
        w.finish()?;
        Ok(n)
    })();
    let samples = match result {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, output).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::failed(format!("{}: cannot write: {e}", output.display()))
    })?;
    Ok(RenderSummary {
        input: input.display().to_string(),
        output: output.display().to_string(),
        rate,
        channels: ch,
        frames: samples.div_ceil(ch as u64) as usize,
        latency_frames: latency,
        block,
    })
}

fn temp_path(output: &Path) -> std::path::PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out.wav".into());
    output.with_file_name(format!(".{name}.{}.partial", std::process::id()))
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

/// `headroom analyze`: measures a WAV file, streaming it through
/// [`headroom_core::analysis::StreamingAnalyzer`].
pub fn analyze_file(path: &Path) -> CliResult<AnalysisReport> {
    let mut src = WavSource::open(path)?;
    let fail = |e: headroom_core::analysis::AnalysisError| {
        CliError::failed(format!("{}: {e}", path.display()))
    };
    let mut an =
        headroom_core::analysis::StreamingAnalyzer::new(src.rate, src.channels).map_err(fail)?;
    let ch = src.channels;
    let mut buf = vec![0.0f32; 16384 * ch];
    loop {
        let n = src.read(&mut buf)?;
        // Whole frames only; a trailing partial frame is padded with silence.
        let whole = n.div_ceil(ch) * ch;
        buf[n..whole].fill(0.0);
        an.add(&buf[..whole]).map_err(fail)?;
        if n < buf.len() {
            break;
        }
    }
    Ok(report(&an.finish().map_err(fail)?))
}

fn report(a: &headroom_core::analysis::Analysis) -> AnalysisReport {
    AnalysisReport {
        integrated_lufs: a.integrated_lufs,
        lra_lu: a.lra_lu,
        max_momentary_lufs: a.max_momentary_lufs,
        max_short_term_lufs: a.max_short_term_lufs,
        true_peak_dbtp: a.true_peak_dbtp,
        sample_peak_dbfs: a.sample_peak_dbfs,
    }
}

/// Measures audio already in memory.
pub fn analyze_audio(audio: &Audio) -> Result<AnalysisReport, String> {
    headroom_core::analysis::analyze(&audio.samples, audio.rate, audio.channels)
        .map(|a| report(&a))
        .map_err(|e| e.to_string())
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
