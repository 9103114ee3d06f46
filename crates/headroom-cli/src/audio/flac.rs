//! FLAC output with the `flacenc` encoder, frame by frame.
//!
//! `flacenc`'s one-call API builds the whole stream in memory; here each block of 4096 frames
//! is encoded with `encode_fixed_size_frame` and written at once, so memory stays bounded. The
//! stream header (STREAMINFO, then a Vorbis comment with the carried-over tags) is written
//! first with the lengths unknown and rewritten in place at the end with the total length,
//! frame sizes and MD5 — STREAMINFO has a fixed size, so nothing moves. On a non-seekable
//! output the header keeps "unknown length", which FLAC allows.

use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flacenc::bitsink::ByteSink;
use flacenc::component::{BitRepr, MetadataBlockData, Stream};
use flacenc::error::{Verified, Verify};
use flacenc::source::{Context, Fill, FrameBuf};

use super::dither::Quantizer;
use super::{AudioError, AudioResult, EncoderSpec, Output, Tag};

/// Frames per FLAC block (the reference encoder's default at levels 3-8).
const BLOCK: usize = 4096;

/// Highest sample rate written as FLAC, Hz: the encoder's own limit (the format allows more).
/// Faster material is rendered to WAV.
pub const MAX_RATE: u32 = 96_000;

/// A FLAC file being written block by block.
pub struct FlacWriter {
    out: BufWriter<Box<dyn Output>>,
    seekable: bool,
    shown: PathBuf,
    config: Verified<flacenc::config::Encoder>,
    stream: Stream,
    fb: FrameBuf,
    ctx: Context,
    channels: usize,
    quant: Quantizer,
    /// Quantised interleaved samples waiting for a full block.
    pending: Vec<i32>,
    sink: ByteSink,
}

fn vorbis_comment(tags: &[Tag]) -> Vec<u8> {
    let vendor = concat!("headroom ", env!("CARGO_PKG_VERSION"));
    let mut b = Vec::new();
    b.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    b.extend_from_slice(vendor.as_bytes());
    b.extend_from_slice(&(tags.len() as u32).to_le_bytes());
    for t in tags {
        let entry = format!("{}={}", t.key, t.value);
        b.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        b.extend_from_slice(entry.as_bytes());
    }
    b
}

impl FlacWriter {
    /// Starts a FLAC stream on `out` (see [`super::Encoder::new`]).
    ///
    /// # Errors
    /// Float output (FLAC stores integers), a rate or channel count FLAC cannot hold, or an
    /// I/O error.
    pub fn new(
        out: Box<dyn Output>,
        seekable: bool,
        shown: &Path,
        spec: &EncoderSpec,
    ) -> AudioResult<FlacWriter> {
        let bits = spec.samples.int_bits().ok_or_else(|| {
            AudioError::format(
                shown,
                "FLAC stores integer samples: use --format s16 or s24",
            )
        })?;
        let bad = |e: &dyn std::fmt::Display| {
            AudioError::format(shown, format!("cannot encode FLAC: {e}"))
        };
        if !(1..=8).contains(&spec.channels) {
            return Err(AudioError::format(
                shown,
                format!("FLAC holds 1 to 8 channels, not {}", spec.channels),
            ));
        }
        let mut config = flacenc::config::Encoder::default();
        config.block_size = BLOCK;
        // LPC order 8, as the reference encoder's default level 5 uses; flacenc's default
        // (order 10) costs more time for a fraction of a percent of size.
        config.subframe_coding.qlpc.lpc_order = 8;
        let config = config.into_verified().map_err(|(_, e)| bad(&e))?;
        let mut stream =
            Stream::new(spec.rate as usize, spec.channels, bits as usize).map_err(|e| bad(&e))?;
        stream
            .stream_info_mut()
            .set_block_sizes(BLOCK, BLOCK)
            .map_err(|e| bad(&e))?;
        let tags: Vec<Tag> = spec
            .tags
            .iter()
            .filter(|t| t.value.len() < 1 << 20)
            .cloned()
            .collect();
        let comment = vorbis_comment(&tags);
        if comment.len() < (1 << 24) {
            stream.add_metadata_block(
                MetadataBlockData::new_unknown(4, &comment).map_err(|e| bad(&e))?,
            );
        }
        let fb = FrameBuf::with_size(spec.channels, BLOCK).map_err(|e| bad(&e))?;
        let mut w = FlacWriter {
            out: BufWriter::with_capacity(1 << 18, out),
            seekable,
            shown: shown.to_path_buf(),
            config,
            stream,
            fb,
            ctx: Context::new(bits as usize, spec.channels),
            channels: spec.channels,
            quant: Quantizer::new(bits),
            pending: Vec::with_capacity(BLOCK * spec.channels),
            sink: ByteSink::new(),
        };
        w.write_header()?;
        Ok(w)
    }

    fn err(&self, e: std::io::Error) -> AudioError {
        AudioError::io(&self.shown, "cannot write", e)
    }

    fn write_header(&mut self) -> AudioResult {
        self.sink.clear();
        self.stream
            .write(&mut self.sink)
            .map_err(|e| AudioError::format(&self.shown, format!("cannot encode FLAC: {e:?}")))?;
        let bytes = self.sink.as_slice().to_vec();
        self.out.write_all(&bytes).map_err(|e| self.err(e))
    }

    /// Encodes and writes the pending samples as one frame.
    fn flush_block(&mut self) -> AudioResult {
        if self.pending.is_empty() {
            return Ok(());
        }
        let bad = |e: &dyn std::fmt::Debug, shown: &Path| {
            AudioError::format(shown, format!("cannot encode FLAC: {e:?}"))
        };
        (&mut self.fb, &mut self.ctx)
            .fill_interleaved(&self.pending)
            .map_err(|e| bad(&e, &self.shown))?;
        let number = self.ctx.current_frame_number().unwrap_or(0);
        let frame = flacenc::encode_fixed_size_frame(
            &self.config,
            &self.fb,
            number,
            self.stream.stream_info(),
        )
        .map_err(|e| bad(&e, &self.shown))?;
        self.stream.stream_info_mut().update_frame_info(&frame);
        self.sink.clear();
        frame
            .write(&mut self.sink)
            .map_err(|e| bad(&e, &self.shown))?;
        let Self { out, sink, .. } = self;
        out.write_all(sink.as_slice())
            .map_err(|e| AudioError::io(&self.shown, "cannot write", e))?;
        self.pending.clear();
        Ok(())
    }

    /// Appends interleaved samples.
    pub fn write(&mut self, samples: &[f32]) -> AudioResult {
        let full = BLOCK * self.channels;
        for &s in samples {
            self.pending.push(self.quant.quantize(s));
            if self.pending.len() == full {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    /// Writes the last (short) frame and completes STREAMINFO.
    pub fn finish(mut self) -> AudioResult {
        self.flush_block()?;
        self.out.flush().map_err(|e| self.err(e))?;
        if !self.seekable {
            return Ok(());
        }
        let info = self.stream.stream_info_mut();
        // STREAMINFO's block sizes exclude the last block (which may be shorter than 16 and
        // than the others); `update_frame_info` counted it.
        info.set_block_sizes(BLOCK, BLOCK)
            .map_err(|e| AudioError::format(&self.shown, format!("cannot encode FLAC: {e}")))?;
        info.set_md5_digest(&self.ctx.md5_digest());
        info.set_total_samples(self.ctx.total_samples());
        self.sink.clear();
        self.stream
            .write(&mut self.sink)
            .map_err(|e| AudioError::format(&self.shown, format!("cannot encode FLAC: {e:?}")))?;
        let header = self.sink.as_slice().to_vec();
        let out = self.out.get_mut();
        let r = out
            .seek(SeekFrom::Start(0))
            .and_then(|_| out.write_all(&header))
            .and_then(|()| out.flush());
        r.map_err(|e| AudioError::io(&self.shown, "cannot write", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{Audio, Container, Encoder, OutputSamples};

    #[test]
    fn flac_round_trips_at_every_tail_length_with_tags() {
        let dir = tempfile::tempdir().unwrap();
        // Lengths around block boundaries, including a last block shorter than 16 frames.
        for (frames, samples, tol) in [
            (4096usize, OutputSamples::S16, 2.0 / 32768.0),
            (4097, OutputSamples::S16, 2.0 / 32768.0),
            (12_000, OutputSamples::S24, 2.0 / 8_388_608.0),
            (100, OutputSamples::S24, 2.0 / 8_388_608.0),
        ] {
            let p = dir.path().join(format!("{frames}.flac"));
            let src: Vec<f32> = (0..frames * 2)
                .map(|i| 0.4 * ((i / 2) as f32 * 0.013).sin())
                .collect();
            let spec = EncoderSpec {
                rate: 96_000,
                channels: 2,
                samples,
                container: Container::Flac,
                frames_hint: None,
                tags: vec![Tag {
                    key: "TITLE".into(),
                    value: "Tune".into(),
                }],
            };
            let f = std::fs::File::create(&p).unwrap();
            let mut enc = Encoder::new(Box::new(f), true, &p, &spec).unwrap();
            for chunk in src.chunks(2 * 1000) {
                enc.write(chunk).unwrap();
            }
            enc.finish().unwrap();
            let dec = crate::audio::open(&p).unwrap();
            let info = dec.info();
            assert_eq!(
                (info.rate, info.channels, info.frames),
                (96_000, 2, Some(frames as u64))
            );
            assert_eq!(info.container, Some(Container::Flac));
            assert!(
                info.tags
                    .iter()
                    .any(|t| t.key == "TITLE" && t.value == "Tune"),
                "{:?}",
                info.tags
            );
            let back = Audio::read(&p).unwrap();
            assert_eq!(back.frames(), frames);
            let worst = src
                .iter()
                .zip(&back.samples)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst <= tol, "{frames}: {worst}");
        }
    }

    #[test]
    fn float_flac_is_refused() {
        let spec = EncoderSpec {
            rate: 48_000,
            channels: 1,
            samples: OutputSamples::F32,
            container: Container::Flac,
            frames_hint: None,
            tags: vec![],
        };
        let out = std::io::Cursor::new(Vec::new());
        let e = Encoder::new(Box::new(out), true, Path::new("x.flac"), &spec)
            .err()
            .unwrap();
        assert!(e.to_string().contains("integer"), "{e}");
    }
}
