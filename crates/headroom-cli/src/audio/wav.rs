//! WAV files: RIFF WAVE, RF64 and BW64, read and written block by block.
//!
//! Reading: integer PCM in 8 (unsigned), 16, 24 and 32-bit containers, with any number of
//! valid bits (WAVE_FORMAT_EXTENSIBLE stores them left-justified, so a 24-in-32 sample is read
//! as the 32-bit value it is), and IEEE float of 32 or 64 bits. RF64/BW64 take their lengths
//! from the `ds64` chunk; a `data` length of 0xFFFFFFFF (as written by streaming encoders)
//! means "to the end of the file", and so does 0 with sound after it (no chunk header
//! follows). Tags come from a `LIST`/`INFO` chunk before or after the data.
//!
//! Writing: 16/24-bit integer (TPDF-dithered) or 32-bit float, with a 28-byte `JUNK` chunk
//! reserved after the RIFF header (EBU Tech 3306): a file that grows past 4 GiB has that
//! chunk turned into `ds64` and `RIFF` into `RF64` when it is finished, so no length field
//! ever wraps. Float, not being PCM, has the 18-byte `fmt` chunk (`cbSize` = 0) and a `fact`
//! chunk with the frame count (0xFFFFFFFF in an RF64 file, whose `ds64` holds it). On a
//! non-seekable output the lengths are written up front when the frame count is known,
//! otherwise as 0xFFFFFFFF ("unknown").

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::dither::Quantizer;
use super::{
    AudioError, AudioResult, Container, EncoderSpec, Output, OutputSamples, SampleFormat,
    SourceInfo, Tag,
};

/// True when `head` (the first 12 bytes of a file) starts a RIFF, RF64 or BW64 WAVE file.
pub fn is_wav(head: &[u8]) -> bool {
    head.len() >= 12
        && matches!(&head[0..4], b"RIFF" | b"RF64" | b"BW64")
        && &head[8..12] == b"WAVE"
}

/// The sample layout of a data chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// Unsigned 8-bit.
    U8,
    /// Signed little-endian integer in a container of this many bytes (2 to 4).
    Int(usize),
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Encoding::U8 => 1,
            Encoding::Int(b) => b,
            Encoding::F32 => 4,
            Encoding::F64 => 8,
        }
    }
}

/// A WAV file being read block by block.
pub struct WavReader {
    info: SourceInfo,
    file: BufReader<File>,
    enc: Encoding,
    block_align: usize,
    /// Data bytes still to read; `None` means up to the end of the file.
    remaining: Option<u64>,
    /// Frames the header announces (when it announces any).
    announced: Option<u64>,
    frames_read: u64,
    lenient: bool,
    raw: Vec<u8>,
    /// Float samples that were not numbers (NaN, infinite, or a double too large for a
    /// float), read as 0.
    not_numbers: u64,
    /// Float samples read so far beyond ±[`headroom_core::util::MAX_INPUT`].
    over_range: u64,
}

impl std::fmt::Debug for WavReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavReader")
            .field("info", &self.info)
            .finish()
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes([
        b[i],
        b[i + 1],
        b[i + 2],
        b[i + 3],
        b[i + 4],
        b[i + 5],
        b[i + 6],
        b[i + 7],
    ])
}

/// Fills `buf` from `r` as far as the data goes; returns the bytes read (short only at EOF).
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Chunks larger than this (other than `data`) are skipped rather than read.
const MAX_META_CHUNK: u64 = 1 << 20;

/// INFO ids and the tag keys they carry.
const INFO_KEYS: &[(&[u8; 4], &str)] = &[
    (b"INAM", "TITLE"),
    (b"IART", "ARTIST"),
    (b"IPRD", "ALBUM"),
    (b"ICRD", "DATE"),
    (b"IGNR", "GENRE"),
    (b"ICMT", "COMMENT"),
    (b"ITRK", "TRACKNUMBER"),
    (b"ICOP", "COPYRIGHT"),
    (b"IENG", "ENGINEER"),
    (b"ISFT", "ENCODER"),
];

fn parse_info(body: &[u8], tags: &mut Vec<Tag>) {
    if body.len() < 4 || &body[0..4] != b"INFO" {
        return;
    }
    let mut i = 4;
    while i + 8 <= body.len() {
        let id = &body[i..i + 4];
        let len = u32_at(body, i + 4) as usize;
        let start = i + 8;
        let end = start.saturating_add(len).min(body.len());
        if let Some((_, key)) = INFO_KEYS.iter().find(|(k, _)| &k[..] == id) {
            let text = String::from_utf8_lossy(&body[start..end]);
            let value = text.trim_end_matches('\0').trim().to_string();
            if !value.is_empty() {
                tags.push(Tag {
                    key: (*key).to_string(),
                    value,
                });
            }
        }
        i = start.saturating_add(len).saturating_add(len & 1);
    }
}

/// Whether what follows a `data` chunk of length 0 is nothing or another chunk (a `LIST`
/// after an empty data chunk), rather than sound a streaming writer left its length unset
/// for: the next 8 bytes (of `left` in the file) read as a chunk header, four printable
/// ASCII characters and a length that fits. Looks into the read buffer without consuming.
fn chunk_follows(r: &mut BufReader<std::fs::File>, left: u64) -> bool {
    if left == 0 {
        return true;
    }
    let Ok(buf) = r.fill_buf() else {
        return true;
    };
    let Some(head) = buf.get(..8) else {
        return false;
    };
    let id_ok = head[..4].iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    id_ok && u64::from(u32_at(head, 4)) <= left - 8
}

impl WavReader {
    /// Opens a WAV file: errors name the file and say what is wrong (not a WAV file,
    /// unsupported encoding, inconsistent header, truncated data).
    pub fn open(path: &Path) -> AudioResult<WavReader> {
        Self::open_with(path, false)
    }

    /// Opens a WAV file that may have unfinalised lengths or be cut short: whatever whole
    /// frames are there are read, and no truncation error is raised.
    pub fn open_lenient(path: &Path) -> AudioResult<WavReader> {
        Self::open_with(path, true)
    }

    fn open_with(path: &Path, lenient: bool) -> AudioResult<WavReader> {
        let file = super::open_read(path).map_err(|e| AudioError::io(path, "cannot open", e))?;
        let file_len = file
            .metadata()
            .map_err(|e| AudioError::io(path, "cannot read", e))?
            .len();
        let mut r = BufReader::with_capacity(1 << 16, file);
        let io = |e| AudioError::io(path, "cannot read", e);
        let bad = |why: &str| AudioError::format(path, format!("not a valid WAV file ({why})"));
        let mut head = [0u8; 12];
        if read_full(&mut r, &mut head).map_err(io)? < 12 || !is_wav(&head) {
            return Err(bad("no RIFF/RF64 WAVE header"));
        }
        let rf64 = &head[0..4] != b"RIFF";
        let mut pos = 12u64;
        let mut ds64_data: Option<u64> = None;
        let mut fmt: Option<Vec<u8>> = None;
        let mut tags = Vec::new();
        let data_len: Option<u64>;
        loop {
            let mut ch = [0u8; 8];
            if read_full(&mut r, &mut ch).map_err(io)? < 8 {
                return Err(bad("no data chunk"));
            }
            pos += 8;
            let id = [ch[0], ch[1], ch[2], ch[3]];
            let size = u64::from(u32_at(&ch, 4));
            if &id == b"data" {
                data_len = if rf64 && size == 0xFFFF_FFFF {
                    Some(ds64_data.ok_or_else(|| bad("RF64 file without a ds64 chunk"))?)
                } else if size == 0xFFFF_FFFF
                    || (size == 0 && (lenient || !chunk_follows(&mut r, file_len - pos)))
                {
                    // Unfinalised by a streaming writer (0xFFFFFFFF, or 0 with sound after
                    // it, as ffmpeg reads it too): up to the end of the file.
                    None
                } else {
                    Some(size)
                };
                break;
            }
            let padded = size + (size & 1);
            if size > MAX_META_CHUNK || !matches!(&id, b"fmt " | b"ds64" | b"LIST") {
                r.seek_relative(padded as i64).map_err(io)?;
                pos += padded;
                continue;
            }
            let mut body = vec![0u8; size as usize];
            if read_full(&mut r, &mut body).map_err(io)? < body.len() {
                return Err(bad("a header chunk is cut short"));
            }
            if size & 1 == 1 {
                r.seek_relative(1).map_err(io)?;
            }
            pos += padded;
            match &id {
                b"fmt " => fmt = Some(body),
                b"ds64" if body.len() >= 24 => ds64_data = Some(u64_at(&body, 8)),
                b"LIST" => parse_info(&body, &mut tags),
                _ => {}
            }
        }
        let data_start = pos;
        let fmt = fmt.ok_or_else(|| bad("no fmt chunk before the data"))?;
        if fmt.len() < 16 {
            return Err(bad("fmt chunk too short"));
        }
        let mut tag = u16_at(&fmt, 0);
        let channels = usize::from(u16_at(&fmt, 2));
        let rate = u32_at(&fmt, 4);
        let block_align = usize::from(u16_at(&fmt, 12));
        let container_bits = u32::from(u16_at(&fmt, 14));
        let mut valid_bits = container_bits;
        if tag == 0xFFFE {
            if fmt.len() < 40 {
                return Err(bad("WAVE_FORMAT_EXTENSIBLE fmt chunk too short"));
            }
            let v = u32::from(u16_at(&fmt, 18));
            if v != 0 {
                valid_bits = v;
            }
            tag = u16_at(&fmt, 24);
            if fmt[26..40]
                != [
                    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B,
                    0x71,
                ]
            {
                return Err(AudioError::format(path, "unsupported WAV encoding (unknown WAVE_FORMAT_EXTENSIBLE sub-format); headroom reads integer PCM and IEEE float"));
            }
        }
        if channels == 0 {
            return Err(bad("the header declares 0 channels"));
        }
        if rate == 0 {
            return Err(bad("the header declares a 0 Hz sample rate"));
        }
        let unsupported = |what: String| {
            AudioError::format(
                path,
                format!("unsupported WAV sample format ({what}); headroom reads 8/16/24/32-bit integer and 32/64-bit float PCM"),
            )
        };
        let (enc, format) = match (tag, container_bits) {
            (1, 8) => (Encoding::U8, SampleFormat::Int(valid_bits.min(8))),
            (1, 16 | 24 | 32) => (
                Encoding::Int(container_bits as usize / 8),
                SampleFormat::Int(valid_bits.min(container_bits)),
            ),
            (3, 32) => (Encoding::F32, SampleFormat::Float(32)),
            (3, 64) => (Encoding::F64, SampleFormat::Float(64)),
            (1, b) => return Err(unsupported(format!("{b}-bit integer"))),
            (3, b) => return Err(unsupported(format!("{b}-bit float"))),
            (t, _) => return Err(unsupported(format!("encoding 0x{t:04x}"))),
        };
        if valid_bits == 0 || valid_bits > container_bits {
            return Err(bad("valid bits per sample exceed the container"));
        }
        if block_align != channels * enc.bytes() {
            return Err(bad(&format!(
                "block align {block_align} does not match {channels} channels of {container_bits} bits"
            )));
        }
        let available = file_len.saturating_sub(data_start);
        let announced = data_len.map(|d| d / block_align as u64);
        if let Some(d) = data_len {
            if d > available && !lenient {
                return Err(AudioError::format(
                    path,
                    format!(
                        "truncated: the header announces {} frames, the file holds {}",
                        d / block_align as u64,
                        available / block_align as u64
                    ),
                ));
            }
            // Tags in a LIST chunk after the data.
            if d < available {
                let after = data_start + d + (d & 1);
                if r.seek(SeekFrom::Start(after)).is_ok() {
                    read_trailing_info(&mut r, &mut tags);
                }
                r.seek(SeekFrom::Start(data_start)).map_err(io)?;
            }
        }
        let frames = match data_len {
            Some(d) if !lenient => Some(d / block_align as u64),
            _ => Some(available / block_align as u64),
        };
        if frames == Some(0) {
            return Err(AudioError::format(
                path,
                "the file holds no audio (0 frames)",
            ));
        }
        let info = SourceInfo {
            path: PathBuf::from(path),
            rate,
            channels,
            frames,
            format,
            codec: if rf64 {
                "RF64 WAV".into()
            } else {
                "WAV".into()
            },
            container: Some(Container::Wav),
            tags,
            file_len,
        };
        Ok(WavReader {
            info,
            file: r,
            enc,
            block_align,
            remaining: if lenient { None } else { data_len },
            announced,
            frames_read: 0,
            lenient,
            raw: Vec::new(),
            not_numbers: 0,
            over_range: 0,
        })
    }

    /// What the header says.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Float samples read so far that were not numbers (NaN, infinite) and were read as 0.
    pub fn not_numbers(&self) -> u64 {
        self.not_numbers
    }

    /// Float samples read so far beyond ±[`headroom_core::util::MAX_INPUT`] (+60 dBFS), which
    /// the chain and the analysis clamp to it.
    pub fn over_range(&self) -> u64 {
        self.over_range
    }

    /// Fills `buf` with the next interleaved samples in [-1, 1]; returns how many were
    /// written, always whole frames. Fewer than fit means the end of the data.
    ///
    /// # Errors
    /// An I/O error, or (unless opened leniently) data that ends before the header said.
    pub fn read(&mut self, buf: &mut [f32]) -> AudioResult<usize> {
        let ch = self.info.channels;
        let mut want = (buf.len() / ch * self.block_align) as u64;
        if let Some(rem) = self.remaining {
            want = want.min(rem);
        }
        self.raw.resize(want as usize, 0);
        let got = read_full(&mut self.file, &mut self.raw)
            .map_err(|e| AudioError::io(&self.info.path, "cannot read", e))?;
        if let Some(rem) = self.remaining.as_mut() {
            *rem -= got as u64;
        }
        if (got as u64) < want && self.remaining.is_some() && !self.lenient {
            let at = self.frames_read + (got / self.block_align) as u64;
            return Err(AudioError::format(
                &self.info.path,
                format!(
                    "truncated or corrupt: the data ends after {at} of {} frames",
                    self.announced.unwrap_or(0)
                ),
            ));
        }
        let frames = got / self.block_align;
        let n = frames * ch;
        let raw = &self.raw[..frames * self.block_align];
        let out = &mut buf[..n];
        const S31: f32 = 1.0 / 2_147_483_648.0;
        match self.enc {
            Encoding::U8 => {
                for (o, &b) in out.iter_mut().zip(raw) {
                    *o = (f32::from(b) - 128.0) * (1.0 / 128.0);
                }
            }
            Encoding::Int(2) => {
                for (o, b) in out.iter_mut().zip(raw.chunks_exact(2)) {
                    *o = f32::from(i16::from_le_bytes([b[0], b[1]])) * (1.0 / 32768.0);
                }
            }
            Encoding::Int(3) => {
                for (o, b) in out.iter_mut().zip(raw.chunks_exact(3)) {
                    *o = i32::from_le_bytes([0, b[0], b[1], b[2]]) as f32 * S31;
                }
            }
            Encoding::Int(_) => {
                for (o, b) in out.iter_mut().zip(raw.chunks_exact(4)) {
                    *o = i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 * S31;
                }
            }
            Encoding::F32 => {
                for (o, b) in out.iter_mut().zip(raw.chunks_exact(4)) {
                    *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
                self.not_numbers += zero_non_finite(out);
                self.over_range += count_over_range(out);
            }
            Encoding::F64 => {
                for (o, b) in out.iter_mut().zip(raw.chunks_exact(8)) {
                    *o =
                        f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32;
                }
                self.not_numbers += zero_non_finite(out);
                self.over_range += count_over_range(out);
            }
        }
        self.frames_read += frames as u64;
        Ok(n)
    }
}

/// Sets the samples of `out` that are not finite to 0; returns how many there were.
fn zero_non_finite(out: &mut [f32]) -> u64 {
    let mut n = 0;
    for o in out.iter_mut().filter(|o| !o.is_finite()) {
        *o = 0.0;
        n += 1;
    }
    n
}

/// How many samples of `out` lie beyond ±[`headroom_core::util::MAX_INPUT`].
fn count_over_range(out: &[f32]) -> u64 {
    let max = headroom_core::util::MAX_INPUT;
    out.iter().filter(|o| o.abs() > max).count() as u64
}

/// Reads `LIST`/`INFO` chunks from the current position to the end of the file.
fn read_trailing_info(r: &mut BufReader<File>, tags: &mut Vec<Tag>) {
    for _ in 0..64 {
        let mut ch = [0u8; 8];
        if read_full(r, &mut ch).unwrap_or(0) < 8 {
            return;
        }
        let size = u64::from(u32_at(&ch, 4));
        if &ch[0..4] == b"LIST" && size <= MAX_META_CHUNK {
            let mut body = vec![0u8; size as usize];
            if read_full(r, &mut body).unwrap_or(0) < body.len() {
                return;
            }
            parse_info(&body, tags);
            if size & 1 == 1 && r.seek_relative(1).is_err() {
                return;
            }
        } else if r.seek_relative((size + (size & 1)) as i64).is_err() {
            return;
        }
    }
}

/// Size of the reserved `JUNK`/`ds64` chunk body.
const DS64_LEN: usize = 28;

/// A WAV file being written block by block (see the module documentation).
pub struct WavWriter {
    out: BufWriter<Box<dyn Output>>,
    seekable: bool,
    shown: PathBuf,
    samples: OutputSamples,
    quant: Option<Quantizer>,
    /// Offset of the data chunk's size field.
    data_size_pos: u64,
    /// Offset of the `fact` chunk's frame count (float output only).
    fact_pos: Option<u64>,
    data_bytes: u64,
    frames: u64,
    channels: usize,
    raw: Vec<u8>,
    /// Files whose RIFF length would exceed this are finished as RF64 (u32::MAX; smaller in
    /// tests).
    rf64_threshold: u64,
}

fn info_chunk(tags: &[Tag]) -> Vec<u8> {
    let mut body = b"INFO".to_vec();
    for (id, key) in INFO_KEYS {
        // A Vorbis comment's free text is `COMMENT` or `DESCRIPTION` (ffmpeg writes its
        // `comment` as the latter): either is the INFO comment.
        let found = tags.iter().find(|t| t.key == *key).or_else(|| {
            (*key == "COMMENT")
                .then(|| tags.iter().find(|t| t.key == "DESCRIPTION"))
                .flatten()
        });
        if let Some(t) = found {
            let mut v = t.value.as_bytes().to_vec();
            v.truncate(65_000);
            v.push(0);
            body.extend_from_slice(&id[..]);
            body.extend_from_slice(&(v.len() as u32).to_le_bytes());
            body.extend_from_slice(&v);
            if v.len() & 1 == 1 {
                body.push(0);
            }
        }
    }
    if body.len() == 4 {
        Vec::new()
    } else {
        body
    }
}

impl WavWriter {
    /// Starts a WAV file on `out` (see [`super::Encoder::new`]).
    ///
    /// # Errors
    /// An I/O error, or a channel count WAV cannot hold.
    pub fn new(
        out: Box<dyn Output>,
        seekable: bool,
        shown: &Path,
        spec: &EncoderSpec,
    ) -> AudioResult<WavWriter> {
        let mut w = WavWriter {
            out: BufWriter::with_capacity(1 << 18, out),
            seekable,
            shown: shown.to_path_buf(),
            samples: spec.samples,
            quant: spec.samples.int_bits().map(Quantizer::new),
            data_size_pos: 0,
            fact_pos: None,
            data_bytes: 0,
            frames: 0,
            channels: spec.channels,
            raw: Vec::new(),
            rf64_threshold: u64::from(u32::MAX),
        };
        let ch = u16::try_from(spec.channels)
            .ok()
            .filter(|&c| c > 0)
            .ok_or_else(|| {
                AudioError::format(shown, format!("WAV cannot hold {} channels", spec.channels))
            })?;
        let bytes: u16 = match spec.samples {
            OutputSamples::S16 => 2,
            OutputSamples::S24 => 3,
            OutputSamples::F32 => 4,
        };
        let float = spec.samples == OutputSamples::F32;
        let mut fmt = Vec::with_capacity(40);
        let extensible = ch > 2;
        fmt.extend_from_slice(
            &(if extensible {
                0xFFFEu16
            } else if float {
                3
            } else {
                1
            })
            .to_le_bytes(),
        );
        fmt.extend_from_slice(&ch.to_le_bytes());
        fmt.extend_from_slice(&spec.rate.to_le_bytes());
        fmt.extend_from_slice(
            &(spec.rate.saturating_mul(u32::from(ch) * u32::from(bytes))).to_le_bytes(),
        );
        fmt.extend_from_slice(&(ch * bytes).to_le_bytes());
        fmt.extend_from_slice(&(bytes * 8).to_le_bytes());
        if extensible {
            fmt.extend_from_slice(&22u16.to_le_bytes());
            fmt.extend_from_slice(&(bytes * 8).to_le_bytes());
            fmt.extend_from_slice(&0u32.to_le_bytes()); // no speaker positions
            fmt.extend_from_slice(&(if float { 3u16 } else { 1 }).to_le_bytes());
            fmt.extend_from_slice(&[
                0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
            ]);
        } else if float {
            // A format other than PCM carries the size of its extension, none here.
            fmt.extend_from_slice(&0u16.to_le_bytes());
        }
        let info = info_chunk(&spec.tags);
        let list_len = if info.is_empty() { 0 } else { 8 + info.len() };
        let fact_len = if float { 8 + 4 } else { 0 };
        let header_len = 12 + 8 + DS64_LEN + 8 + fmt.len() + fact_len + list_len + 8;
        // Lengths written up front: exact when the size is known and a streaming output
        // cannot be revisited, placeholders otherwise (completed by `finish`).
        let known_data = spec
            .frames_hint
            .filter(|_| !seekable)
            .map(|f| f * u64::from(ch) * u64::from(bytes));
        let riff_len = known_data.map(|d| d + (d & 1) + header_len as u64 - 8);
        let big = riff_len.is_some_and(|l| l > w.rf64_threshold);
        let mut h = Vec::with_capacity(header_len);
        h.extend_from_slice(if big { b"RF64" } else { b"RIFF" });
        h.extend_from_slice(
            &(match riff_len {
                Some(l) if !big => l as u32,
                _ => u32::MAX,
            })
            .to_le_bytes(),
        );
        h.extend_from_slice(b"WAVE");
        h.extend_from_slice(if big { b"ds64" } else { b"JUNK" });
        h.extend_from_slice(&(DS64_LEN as u32).to_le_bytes());
        let mut ds64 = [0u8; DS64_LEN];
        if big {
            let (rl, d) = (riff_len.unwrap_or(0), known_data.unwrap_or(0));
            ds64[0..8].copy_from_slice(&rl.to_le_bytes());
            ds64[8..16].copy_from_slice(&d.to_le_bytes());
            ds64[16..24].copy_from_slice(&spec.frames_hint.unwrap_or(0).to_le_bytes());
        }
        h.extend_from_slice(&ds64);
        h.extend_from_slice(b"fmt ");
        h.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        h.extend_from_slice(&fmt);
        if float {
            h.extend_from_slice(b"fact");
            h.extend_from_slice(&4u32.to_le_bytes());
            w.fact_pos = Some(h.len() as u64);
            h.extend_from_slice(
                &(match spec.frames_hint.filter(|_| known_data.is_some()) {
                    Some(f) if !big => u32::try_from(f).unwrap_or(u32::MAX),
                    _ => u32::MAX,
                })
                .to_le_bytes(),
            );
        }
        if !info.is_empty() {
            h.extend_from_slice(b"LIST");
            h.extend_from_slice(&(info.len() as u32).to_le_bytes());
            h.extend_from_slice(&info);
        }
        h.extend_from_slice(b"data");
        w.data_size_pos = h.len() as u64;
        h.extend_from_slice(
            &(match known_data {
                Some(d) if !big => d as u32,
                _ => u32::MAX,
            })
            .to_le_bytes(),
        );
        w.out.write_all(&h).map_err(|e| w.err(e))?;
        Ok(w)
    }

    fn err(&self, e: std::io::Error) -> AudioError {
        AudioError::io(&self.shown, "cannot write", e)
    }

    /// Sets the RIFF length above which the file is finished as RF64 (tests use a small one
    /// to exercise the RF64 path without writing 4 GiB).
    pub fn set_rf64_threshold(&mut self, bytes: u64) {
        self.rf64_threshold = bytes;
    }

    /// Appends interleaved samples.
    pub fn write(&mut self, samples: &[f32]) -> AudioResult {
        let width = match self.samples {
            OutputSamples::S16 => 2,
            OutputSamples::S24 => 3,
            OutputSamples::F32 => 4,
        };
        self.raw.resize(samples.len() * width, 0);
        match self.quant.as_mut() {
            Some(q) => q.quantize_into(samples, &mut self.raw, width),
            None => {
                for (o, &s) in self.raw.chunks_exact_mut(4).zip(samples) {
                    o.copy_from_slice(&s.to_le_bytes());
                }
            }
        }
        self.out.write_all(&self.raw).map_err(|e| self.err(e))?;
        self.data_bytes += self.raw.len() as u64;
        self.frames += (samples.len() / self.channels.max(1)) as u64;
        Ok(())
    }

    /// Pads the data to an even length, completes the lengths (as RF64 when the file has
    /// grown past 4 GiB) and flushes.
    pub fn finish(mut self) -> AudioResult {
        if self.data_bytes & 1 == 1 {
            self.out.write_all(&[0]).map_err(|e| self.err(e))?;
        }
        self.out.flush().map_err(|e| self.err(e))?;
        if !self.seekable {
            return Ok(());
        }
        let riff_len = self.data_size_pos + 4 + self.data_bytes + (self.data_bytes & 1) - 8;
        let result = (|| -> std::io::Result<()> {
            let out = self.out.get_mut();
            if riff_len > self.rf64_threshold {
                out.seek(SeekFrom::Start(0))?;
                out.write_all(b"RF64")?;
                out.write_all(&u32::MAX.to_le_bytes())?;
                out.seek(SeekFrom::Start(12))?;
                out.write_all(b"ds64")?;
                out.write_all(&(DS64_LEN as u32).to_le_bytes())?;
                out.write_all(&riff_len.to_le_bytes())?;
                out.write_all(&self.data_bytes.to_le_bytes())?;
                out.write_all(&self.frames.to_le_bytes())?;
                out.write_all(&0u32.to_le_bytes())?;
                out.seek(SeekFrom::Start(self.data_size_pos))?;
                out.write_all(&u32::MAX.to_le_bytes())?;
            } else {
                out.seek(SeekFrom::Start(4))?;
                out.write_all(&(riff_len as u32).to_le_bytes())?;
                out.seek(SeekFrom::Start(self.data_size_pos))?;
                out.write_all(&(self.data_bytes as u32).to_le_bytes())?;
                if let Some(at) = self.fact_pos {
                    out.seek(SeekFrom::Start(at))?;
                    out.write_all(&u32::try_from(self.frames).unwrap_or(u32::MAX).to_le_bytes())?;
                }
            }
            out.flush()
        })();
        result.map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{Audio, Encoder};
    use std::io::Cursor;

    fn sine(rate: u32, ch: usize, frames: usize, amp: f32) -> Audio {
        let samples = (0..frames * ch)
            .map(|i| amp * ((i / ch) as f32 * 0.031).sin())
            .collect();
        Audio {
            rate,
            channels: ch,
            samples,
        }
    }

    fn spec(samples: OutputSamples, ch: usize, tags: Vec<Tag>) -> EncoderSpec {
        EncoderSpec {
            rate: 44_100,
            channels: ch,
            samples,
            container: Container::Wav,
            frames_hint: None,
            tags,
        }
    }

    #[test]
    fn integer_and_float_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let a = sine(44_100, 3, 5_001, 0.5);
        for (fmt, tol, bits) in [
            (OutputSamples::S16, 2.0 / 32768.0, SampleFormat::Int(16)),
            (OutputSamples::S24, 2.0 / 8_388_608.0, SampleFormat::Int(24)),
            (OutputSamples::F32, 0.0, SampleFormat::Float(32)),
        ] {
            let p = dir.path().join(format!("{fmt}.wav"));
            a.write_wav(&p, fmt).unwrap();
            let r = WavReader::open(&p).unwrap();
            assert_eq!(r.info().format, bits);
            assert_eq!(r.info().frames, Some(5_001));
            let b = Audio::read(&p).unwrap();
            assert_eq!((b.rate, b.channels, b.frames()), (44_100, 3, 5_001));
            let worst = a
                .samples
                .iter()
                .zip(&b.samples)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(worst <= tol, "{fmt}: {worst}");
            // hound, an independent reader, agrees on the layout.
            let h = hound::WavReader::open(&p).unwrap();
            assert_eq!(h.duration(), 5_001, "{fmt}");
        }
    }

    /// A `data` length of 0 with sound after it (a streaming writer that never went back to
    /// set it) reads to the end of the file, as ffmpeg reads it; an empty `data` chunk with
    /// another chunk after it stays empty.
    #[test]
    fn a_data_length_of_zero_reads_what_follows_unless_a_chunk_does() {
        let dir = tempfile::tempdir().unwrap();
        let a = sine(44_100, 2, 5_001, 0.5);
        let p = dir.path().join("zero.wav");
        a.write_wav(&p, OutputSamples::S16).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        let at = bytes.windows(4).position(|w| w == b"data").unwrap() + 4;
        bytes[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let b = Audio::read(&p).unwrap();
        assert_eq!(b.frames(), 5_001);

        let mut empty = bytes[..at + 4].to_vec();
        empty.extend_from_slice(b"LIST");
        empty.extend_from_slice(&4u32.to_le_bytes());
        empty.extend_from_slice(b"INFO");
        let q = dir.path().join("empty.wav");
        std::fs::write(&q, &empty).unwrap();
        let e = WavReader::open(&q).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("holds no audio (0 frames)"), "{e}");
    }

    /// The chunks of a WAV file after `WAVE`: id and body.
    fn chunks(b: &[u8]) -> Vec<([u8; 4], &[u8])> {
        let mut out = Vec::new();
        let mut at = 12;
        while at + 8 <= b.len() {
            let id = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            let size = (u32_at(b, at + 4) as usize).min(b.len() - at - 8);
            out.push((id, &b[at + 8..at + 8 + size]));
            at += 8 + size + (size & 1);
        }
        out
    }

    /// Float output, not being PCM, has the 18-byte `fmt` chunk (`cbSize` = 0; 40 bytes when
    /// extensible) and a `fact` chunk holding the frame count, on a file, on a stream of
    /// known length, and as 0xFFFFFFFF in RF64 (whose `ds64` holds the count); integer output
    /// keeps the 16-byte `fmt` chunk and no `fact`. Every file reads back, here and in hound.
    #[test]
    fn float_output_has_the_extended_fmt_and_a_fact_chunk() {
        let dir = tempfile::tempdir().unwrap();
        for (samples, ch, fmt_len, fact) in [
            (OutputSamples::F32, 2, 18, Some(3_001)),
            (OutputSamples::F32, 3, 40, Some(3_001)),
            (OutputSamples::S16, 2, 16, None),
        ] {
            let p = dir.path().join(format!("{samples}-{ch}.wav"));
            sine(48_000, ch, 3_001, 0.5).write_wav(&p, samples).unwrap();
            let b = std::fs::read(&p).unwrap();
            let c = chunks(&b);
            let fmt = c.iter().find(|(id, _)| id == b"fmt ").unwrap().1;
            assert_eq!(fmt.len(), fmt_len, "{samples} {ch} ch");
            if fmt_len > 16 {
                assert_eq!(u16_at(fmt, 16), (fmt_len - 18) as u16, "cbSize");
            }
            let got = c
                .iter()
                .find(|(id, _)| id == b"fact")
                .map(|(_, body)| u32_at(body, 0));
            assert_eq!(got, fact, "{samples} {ch} ch");
            let fact_at = c.iter().position(|(id, _)| id == b"fact");
            let data_at = c.iter().position(|(id, _)| id == b"data").unwrap();
            assert!(fact_at.is_none_or(|f| f < data_at));
            assert_eq!(Audio::read(&p).unwrap().frames(), 3_001);
            assert_eq!(hound::WavReader::open(&p).unwrap().duration(), 3_001);
        }
        // A stream of known length carries the count up front.
        let sink = Shared::default();
        let mut w = WavWriter::new(
            Box::new(sink.clone()),
            false,
            Path::new("-"),
            &EncoderSpec {
                frames_hint: Some(500),
                ..spec(OutputSamples::F32, 2, vec![])
            },
        )
        .unwrap();
        w.write(&[0.5; 1000]).unwrap();
        w.finish().unwrap();
        let head = sink.0.lock().unwrap().head.clone();
        let fact = chunks(&head)
            .into_iter()
            .find(|(id, _)| id == b"fact")
            .map(|(_, body)| u32_at(body, 0));
        assert_eq!(fact, Some(500));
        // RF64: the count is in ds64.
        let p = dir.path().join("rf.wav");
        let mut w = WavWriter::new(
            Box::new(File::create(&p).unwrap()),
            true,
            &p,
            &spec(OutputSamples::F32, 2, vec![]),
        )
        .unwrap();
        w.set_rf64_threshold(1000);
        w.write(&[0.25; 2000]).unwrap();
        w.finish().unwrap();
        let b = std::fs::read(&p).unwrap();
        assert_eq!(&b[0..4], b"RF64");
        let fact = chunks(&b)
            .into_iter()
            .find(|(id, _)| id == b"fact")
            .map(|(_, body)| u32_at(body, 0));
        assert_eq!(fact, Some(u32::MAX));
        assert_eq!(Audio::read(&p).unwrap().frames(), 1_000);
    }

    #[test]
    fn tags_round_trip_through_list_info() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.wav");
        let tags = vec![
            Tag {
                key: "TITLE".into(),
                value: "Ünïcode title".into(),
            },
            Tag {
                key: "ARTIST".into(),
                value: "Odd".into(),
            },
        ];
        let f = File::create(&p).unwrap();
        let mut enc = Encoder::new(
            Box::new(f),
            true,
            &p,
            &spec(OutputSamples::S16, 1, tags.clone()),
        )
        .unwrap();
        enc.write(&[0.1; 100]).unwrap();
        enc.finish().unwrap();
        let r = WavReader::open(&p).unwrap();
        assert_eq!(r.info().tags, tags);
    }

    /// ffmpeg writes a FLAC's `comment` as `DESCRIPTION`: into WAV it is the INFO comment
    /// (it was dropped), unless there is a `COMMENT` too.
    #[test]
    fn a_description_is_the_info_comment() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.wav");
        let tag = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        for (tags, want) in [
            (vec![tag("DESCRIPTION", "from ffmpeg")], "from ffmpeg"),
            (
                vec![
                    tag("DESCRIPTION", "long text"),
                    tag("COMMENT", "the comment"),
                ],
                "the comment",
            ),
        ] {
            let f = File::create(&p).unwrap();
            let mut enc =
                Encoder::new(Box::new(f), true, &p, &spec(OutputSamples::S16, 1, tags)).unwrap();
            enc.write(&[0.1; 100]).unwrap();
            enc.finish().unwrap();
            let r = WavReader::open(&p).unwrap();
            assert_eq!(r.info().tags, vec![tag("COMMENT", want)]);
        }
    }

    /// A seekable sink that keeps only the first 4 KiB and counts the rest, so a writer can
    /// produce a many-GiB file without the disk.
    #[derive(Default)]
    struct Sparse {
        head: Vec<u8>,
        pos: u64,
        len: u64,
    }

    impl std::io::Write for Sparse {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.pos < 4096 {
                let at = self.pos as usize;
                let n = buf.len().min(4096 - at);
                if self.head.len() < at + n {
                    self.head.resize(at + n, 0);
                }
                self.head[at..at + n].copy_from_slice(&buf[..n]);
            }
            self.pos += buf.len() as u64;
            self.len = self.len.max(self.pos);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Seek for Sparse {
        fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
            self.pos = match to {
                SeekFrom::Start(p) => p,
                SeekFrom::End(d) => (self.len as i64 + d) as u64,
                SeekFrom::Current(d) => (self.pos as i64 + d) as u64,
            };
            Ok(self.pos)
        }
    }

    /// A `Sparse` shared with the test through a pointer-free handle.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Sparse>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Seek for Shared {
        fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
            self.0.lock().unwrap().seek(to)
        }
    }

    #[test]
    fn output_past_4_gib_is_rf64_with_exact_lengths() {
        // 2^29 + 5 stereo f32 frames = 4 GiB + 40 bytes of data: the RIFF lengths would wrap.
        let sink = Shared::default();
        let mut w = WavWriter::new(
            Box::new(sink.clone()),
            true,
            Path::new("big.wav"),
            &spec(OutputSamples::F32, 2, vec![]),
        )
        .unwrap();
        let block = vec![0.25f32; 2 * 65_536];
        let frames: u64 = (1 << 29) + 5;
        let mut left = frames;
        while left > 0 {
            let n = left.min(65_536) as usize;
            w.write(&block[..n * 2]).unwrap();
            left -= n as u64;
        }
        w.finish().unwrap();
        let s = sink.0.lock().unwrap();
        let data = frames * 8;
        let h = &s.head;
        assert_eq!(&h[0..4], b"RF64");
        assert_eq!(u32_at(h, 4), u32::MAX);
        assert_eq!(&h[12..16], b"ds64");
        assert_eq!(u64_at(h, 20), s.len - 8, "RIFF length");
        assert_eq!(u64_at(h, 28), data, "data length");
        assert_eq!(u64_at(h, 36), frames, "sample count");
        let data_at = h.windows(4).position(|w| w == b"data").unwrap();
        assert_eq!(u32_at(h, data_at + 4), u32::MAX);
        assert_eq!(s.len, data_at as u64 + 8 + data);
    }

    #[test]
    fn rf64_files_read_back() {
        // The same promotion at a small threshold gives a file small enough to read back.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rf.wav");
        let a = sine(48_000, 2, 3_000, 0.5);
        let f = File::create(&p).unwrap();
        let mut w = WavWriter::new(
            Box::new(f),
            true,
            &p,
            &EncoderSpec {
                rate: 48_000,
                ..spec(OutputSamples::S24, 2, vec![])
            },
        )
        .unwrap();
        w.set_rf64_threshold(1000);
        w.write(&a.samples).unwrap();
        w.finish().unwrap();
        let head = std::fs::read(&p).unwrap();
        assert_eq!(&head[0..4], b"RF64");
        let r = WavReader::open(&p).unwrap();
        assert_eq!(r.info().frames, Some(3_000));
        assert_eq!(r.info().codec, "RF64 WAV");
        let b = Audio::read(&p).unwrap();
        assert_eq!(b.frames(), 3_000);
        assert!((b.samples[101] - a.samples[101]).abs() < 1e-6);
    }

    #[test]
    fn streamed_output_carries_known_or_unknown_lengths() {
        for hint in [Some(1000u64), None] {
            let mut out = Cursor::new(Vec::new());
            {
                let sink = Shared::default();
                let mut w = WavWriter::new(
                    Box::new(sink.clone()),
                    false,
                    Path::new("-"),
                    &EncoderSpec {
                        frames_hint: hint,
                        ..spec(OutputSamples::S16, 1, vec![])
                    },
                )
                .unwrap();
                w.write(&[0.5; 1000]).unwrap();
                w.finish().unwrap();
                out.get_mut()
                    .extend_from_slice(&sink.0.lock().unwrap().head);
            }
            let h = out.into_inner();
            let data_at = h.windows(4).position(|w| w == b"data").unwrap();
            let want = hint.map_or(u32::MAX, |_| 2000);
            assert_eq!(u32_at(&h, data_at + 4), want, "{hint:?}");
        }
    }

    /// A WAVE_FORMAT_EXTENSIBLE file: `valid` bits left-justified in `container`-bit words.
    fn extensible(valid: u16, container: u16, samples: &[i32]) -> Vec<u8> {
        let bytes = container / 8;
        let mut b = Vec::new();
        let data_len = samples.len() * bytes as usize;
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(4 + 8 + 40 + 8 + data_len as u32).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&40u32.to_le_bytes());
        b.extend_from_slice(&0xFFFEu16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&48_000u32.to_le_bytes());
        b.extend_from_slice(&(48_000 * u32::from(bytes)).to_le_bytes());
        b.extend_from_slice(&bytes.to_le_bytes());
        b.extend_from_slice(&container.to_le_bytes());
        b.extend_from_slice(&22u16.to_le_bytes());
        b.extend_from_slice(&valid.to_le_bytes());
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&[
            0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
        ]);
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data_len as u32).to_le_bytes());
        for &s in samples {
            // Left-justified: the valid bits are the high bits of the container.
            let word = (s as i64) << (container - valid);
            b.extend_from_slice(&word.to_le_bytes()[..bytes as usize]);
        }
        b
    }

    #[test]
    fn extensible_24_in_32_is_read_left_justified() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ext.wav");
        // Half scale and minus full scale at 24 bits.
        std::fs::write(&p, extensible(24, 32, &[1 << 22, -(1 << 23), 0, 12345])).unwrap();
        let r = WavReader::open(&p).unwrap();
        assert_eq!(r.info().format, SampleFormat::Int(24));
        let a = Audio::read(&p).unwrap();
        assert_eq!(a.samples[0], 0.5);
        assert_eq!(a.samples[1], -1.0);
        assert!((a.samples[3] - 12345.0 / 8_388_608.0).abs() < 1e-9);
        // 20 valid bits in a 24-bit container.
        std::fs::write(&p, extensible(20, 24, &[1 << 18, -(1 << 19)])).unwrap();
        let a = Audio::read(&p).unwrap();
        assert_eq!(a.samples, vec![0.5, -1.0]);
    }

    #[test]
    fn bad_headers_give_errors_that_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "junk.wav",
                b"RIFF\x10\0\0\0WAVEjunkjunk".to_vec(),
                "no data chunk",
            ),
            (
                "nofmt.wav",
                b"RIFF\x10\0\0\0WAVEdata\x04\0\0\0\0\0\0\0".to_vec(),
                "no fmt chunk",
            ),
            (
                "cut.wav",
                {
                    let mut b = extensible(24, 32, &[1, 2, 3, 4]);
                    b.truncate(b.len() - 5);
                    b
                },
                "truncated",
            ),
            (
                "valid.wav",
                {
                    let mut b = extensible(24, 32, &[1]);
                    b[38] = 40; // valid bits 40 > container 32
                    b
                },
                "valid bits",
            ),
        ];
        for (name, bytes, needle) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let e = WavReader::open(&p).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains(needle), "{name}: {e}");
        }
        // Lenient reading takes what is there.
        let p = dir.path().join("cut.wav");
        let a = Audio::read_wav_lenient(&p).unwrap();
        assert_eq!(a.frames(), 2);
    }
}
