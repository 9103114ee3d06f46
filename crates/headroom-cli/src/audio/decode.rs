//! Opening an audio file of any supported format as a stream of interleaved `f32` blocks.

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_AAC, CODEC_ID_ALAC, CODEC_ID_FLAC, CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3,
    CODEC_ID_VORBIS,
};
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::{MetadataOptions, MetadataRevision, RawValue, StandardTag};

use super::damage::Damage;
use super::wav::{is_wav, WavReader};
use super::{AudioError, AudioResult, Container, SampleFormat, SourceInfo, Tag};

/// A decoder for one file: [`WavReader`] for WAV/RF64, symphonia for the rest.
pub enum Decoder {
    /// WAV, RF64, BW64.
    Wav(Box<WavReader>),
    /// Everything symphonia reads.
    Other(Box<SymphoniaSource>),
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Decoder").field(self.info()).finish()
    }
}

impl Decoder {
    /// What the file holds.
    pub fn info(&self) -> &SourceInfo {
        match self {
            Decoder::Wav(w) => w.info(),
            Decoder::Other(s) => &s.info,
        }
    }

    /// Fills `buf` with the next interleaved samples (whole frames); returns how many were
    /// written. Fewer than fit means the end.
    ///
    /// # Errors
    /// Corrupt data (a frame or page fails its checksum or structure, or was skipped: a gap
    /// in the stream's timestamps, an Ogg page missing), truncated data (the file ends early),
    /// or an I/O error. The message names the file and, where known, the position in the
    /// audio: the end of the audio decoded before the damage, the same whatever the size of
    /// `buf`, so `analyze` and `render` name the same place.
    pub fn read(&mut self, buf: &mut [f32]) -> AudioResult<usize> {
        match self {
            Decoder::Wav(w) => w.read(buf),
            Decoder::Other(s) => s.read(buf),
        }
    }

    /// Samples read so far that were not numbers (NaN or infinite float samples of a damaged
    /// file) and were read as 0 (silence).
    pub fn not_numbers(&self) -> u64 {
        match self {
            Decoder::Wav(w) => w.not_numbers(),
            Decoder::Other(_) => 0,
        }
    }

    /// Float samples read so far beyond ±[`headroom_core::util::MAX_INPUT`] (+60 dBFS),
    /// which the chain and the analysis clamp to it.
    pub fn over_range(&self) -> u64 {
        match self {
            Decoder::Wav(w) => w.over_range(),
            Decoder::Other(_) => 0,
        }
    }

    /// The warnings for [`not_numbers`](Self::not_numbers) and
    /// [`over_range`](Self::over_range), one line each, for those there were.
    pub fn sample_warnings(&self) -> Vec<String> {
        let path = self.info().path.display();
        let were = |n: u64| if n == 1 { " was" } else { "s were" };
        let mut out = Vec::new();
        let n = self.not_numbers();
        if n > 0 {
            out.push(format!(
                "headroom: warning: {path}: {n} sample{} not a number (NaN or infinite: damaged \
                 float data), read as silence",
                were(n)
            ));
        }
        let n = self.over_range();
        if n > 0 {
            let max = headroom_core::util::MAX_INPUT;
            out.push(format!(
                "headroom: warning: {path}: {n} sample{} beyond ±{max} (+60 dBFS: damaged or \
                 wrongly scaled float data), read as ±{max}; the peaks and loudness reported \
                 are of the clamped audio",
                were(n)
            ));
        }
        out
    }
}

/// Opens `path` for decoding. The format is found from the file's contents (the extension is
/// only a hint). Errors name the file and the reason: cannot open, not an audio file headroom
/// reads, no audio track, unsupported codec, no audio; an MP4 cut off before its index (the
/// `moov` box, which ffmpeg and recorders write last) is truncated, not "not audio".
pub fn open(path: &Path) -> AudioResult<Decoder> {
    let mut file = super::open_read(path).map_err(|e| AudioError::io(path, "cannot open", e))?;
    let meta = file
        .metadata()
        .map_err(|e| AudioError::io(path, "cannot read", e))?;
    if !meta.is_file() {
        return Err(AudioError::format(
            path,
            "not a regular file (headroom reads audio from files, not from devices, FIFOs or directories)",
        ));
    }
    let mut head = [0u8; 12];
    let n = file
        .read(&mut head)
        .map_err(|e| AudioError::io(path, "cannot read", e))?;
    if n == 0 {
        return Err(AudioError::format(path, "empty file"));
    }
    if is_wav(&head[..n]) {
        return WavReader::open(path).map(|w| Decoder::Wav(Box::new(w)));
    }
    if n >= 4 && (&head[0..4] == b"RIFF" || &head[0..4] == b"RF64") {
        return Err(AudioError::format(
            path,
            "not a valid WAV file (a RIFF file without a WAVE form)",
        ));
    }
    drop(file);
    SymphoniaSource::open(path, meta.len()).map_err(|e| {
        // symphonia takes an MP4 without its index for no audio file at all.
        if super::damage::is_mp4(&head[..n]) {
            match super::damage::mp4(path) {
                Ok(Some(Damage::Truncated { .. })) => {
                    return AudioError::format(
                        path,
                        "truncated: the MP4 file ends before its index (the `moov` box): it was cut off or never finished",
                    )
                }
                Ok(Some(Damage::Corrupt { .. })) => {
                    return AudioError::format(path, "corrupt: the MP4 file's box structure is damaged")
                }
                _ => {}
            }
        }
        e
    })
    .map(|s| Decoder::Other(Box::new(s)))
}

/// A file decoded by symphonia.
pub struct SymphoniaSource {
    /// What the file holds.
    pub info: SourceInfo,
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    /// Decoded samples not yet handed out.
    pending: Vec<f32>,
    pending_pos: usize,
    frames_out: u64,
    /// Frames decoded so far: where damage found now lies in the audio, whatever the
    /// callers' block sizes (errors name it).
    decoded: u64,
    /// The latest a packet may start, in the track's time base: the last packet's timestamp
    /// plus all its frames (trimmed ones included). A later one means audio was skipped.
    next_pts: Option<i64>,
    /// Seconds per tick of the packets' timestamps.
    tick_s: f64,
    /// Where the track says its first packet starts, and where it did.
    start_ts: i64,
    first_pts: Option<i64>,
    /// Decoded frames still to drop before the programme (an MP4 edit list's priming,
    /// [`super::mp4edit`]).
    skip_left: u64,
    /// The programme's length in frames, when an MP4 edit list gives it: decoding stops
    /// there (the encoder's padding after it is dropped).
    keep: Option<u64>,
    done: bool,
    lossless: bool,
    /// Ogg: damage is looked for in the page structure ([`super::damage::ogg`]), since the
    /// reader skips a damaged page without a word.
    ogg: bool,
    /// MP4: a reading error is checked against the box structure ([`super::damage::mp4`]),
    /// which tells a file cut inside its audio data from a damaged one.
    mp4: bool,
    /// The packets' timestamps come from the stream (not counted by the reader, as MP3's
    /// are), so a stream that ends early without a gap was cut off.
    stream_timestamps: bool,
}

fn sym_err(path: &Path, e: SymError, at: &str) -> AudioError {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::format(path, format!("truncated: the data ends unexpectedly{at}"))
        }
        SymError::IoError(io) => AudioError::io(path, "cannot read", io),
        SymError::Unsupported(what) => AudioError::format(
            path,
            format!("unsupported audio format or codec ({what}){at}"),
        ),
        other => AudioError::format(path, format!("corrupt audio data ({other}){at}")),
    }
}

/// An error while opening: `unsupported` explains an unsupported format or codec.
fn open_err(path: &Path, e: SymError, unsupported: &str) -> AudioError {
    match e {
        SymError::Unsupported(_) => AudioError::format(path, unsupported),
        other => sym_err(path, other, ""),
    }
}

fn panicked(path: &Path) -> AudioError {
    AudioError::format(
        path,
        "corrupt audio data (the decoder could not make sense of it)",
    )
}

fn codec_name(id: symphonia::core::codecs::audio::AudioCodecId) -> &'static str {
    match id {
        CODEC_ID_FLAC => "FLAC",
        CODEC_ID_MP3 => "MP3",
        CODEC_ID_MP2 => "MP2",
        CODEC_ID_MP1 => "MP1",
        CODEC_ID_VORBIS => "Vorbis",
        CODEC_ID_AAC => "AAC",
        CODEC_ID_ALAC => "ALAC",
        _ => "PCM",
    }
}

fn std_tag(tag: &StandardTag) -> Option<(&'static str, String)> {
    use StandardTag as S;
    Some(match tag {
        S::TrackTitle(v) => ("TITLE", v.to_string()),
        S::Artist(v) => ("ARTIST", v.to_string()),
        S::Album(v) => ("ALBUM", v.to_string()),
        S::AlbumArtist(v) => ("ALBUMARTIST", v.to_string()),
        S::Genre(v) => ("GENRE", v.to_string()),
        S::ReleaseDate(v) | S::RecordingDate(v) => ("DATE", v.to_string()),
        S::TrackNumber(n) => ("TRACKNUMBER", n.to_string()),
        S::DiscNumber(n) => ("DISCNUMBER", n.to_string()),
        S::Comment(v) => ("COMMENT", v.to_string()),
        S::Composer(v) => ("COMPOSER", v.to_string()),
        S::Copyright(v) => ("COPYRIGHT", v.to_string()),
        S::Label(v) => ("LABEL", v.to_string()),
        S::IdentIsrc(v) => ("ISRC", v.to_string()),
        _ => return None,
    })
}

/// Whether `raw` is an ID3 user text frame (`TXXX`) whose description is "comment".
fn is_comment_text_frame(raw: &symphonia::core::meta::RawTag) -> bool {
    raw.key == "TXXX"
        && raw.sub_fields.as_deref().is_some_and(|f| {
            f.iter().any(|s| {
                s.field == "DESCRIPTION"
                    && matches!(&s.value, RawValue::String(d) if d.eq_ignore_ascii_case("comment"))
            })
        })
}

/// Collects tags from a metadata revision. Vorbis-comment keys (FLAC, Ogg) are kept as they
/// are; other containers' tags are kept when they map to a standard one.
fn collect_tags(rev: &MetadataRevision, vorbis_keys: bool, tags: &mut Vec<Tag>) {
    let all = rev
        .media
        .tags
        .iter()
        .chain(rev.per_track.iter().flat_map(|t| t.metadata.tags.iter()));
    for t in all {
        let (key, value) = match (&t.std, &t.raw.value) {
            (_, RawValue::String(v)) if vorbis_keys => {
                (t.raw.key.to_ascii_uppercase(), v.to_string())
            }
            (Some(s), _) => match std_tag(s) {
                Some((k, v)) => (k.to_string(), v),
                None => continue,
            },
            // ffmpeg writes an MP3's `comment` as ID3's user text frame described "comment".
            (None, RawValue::String(v)) if is_comment_text_frame(&t.raw) => {
                ("COMMENT".to_string(), v.to_string())
            }
            _ => continue,
        };
        let valid_key = !key.is_empty()
            && key.len() <= 64
            && key.bytes().all(|b| (0x20..=0x7d).contains(&b) && b != b'=');
        if valid_key && !value.is_empty() && !tags.iter().any(|t| t.key == key && t.value == value)
        {
            tags.push(Tag { key, value });
        }
    }
}

impl SymphoniaSource {
    fn open(path: &Path, file_len: u64) -> AudioResult<SymphoniaSource> {
        let file = super::open_read(path).map_err(|e| AudioError::io(path, "cannot open", e))?;
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let probed = catch_unwind(AssertUnwindSafe(|| {
            symphonia::default::get_probe().probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
        }))
        .map_err(|_| panicked(path))?;
        let mut reader = probed.map_err(|e| {
            open_err(
                path,
                e,
                "not an audio file headroom reads (supported: WAV, FLAC, MP3, Ogg Vorbis, AAC/ALAC in MP4/M4A, AIFF)",
            )
        })?;
        let track = reader
            .default_track(TrackType::Audio)
            .ok_or_else(|| AudioError::format(path, "no audio track"))?;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| AudioError::format(path, "no audio track"))?
            .clone();
        let track_id = track.id;
        let frames = track.num_frames;
        let time_base = track.time_base;
        let start_ts = track.start_ts.get();
        let codec = params.codec;
        let decoder = catch_unwind(AssertUnwindSafe(|| {
            symphonia::default::get_codecs()
                .make_audio_decoder(&params, &AudioDecoderOptions::default().gapless(true))
        }))
        .map_err(|_| panicked(path))?
        .map_err(|e| {
            open_err(
                path,
                e,
                "unsupported codec (headroom decodes FLAC, MP3, Vorbis, AAC-LC, ALAC and PCM)",
            )
        })?;
        let rate = params
            .sample_rate
            .filter(|&r| r > 0)
            .ok_or_else(|| AudioError::format(path, "the stream does not say its sample rate"))?;
        let channels = params
            .channels
            .as_ref()
            .map(|c| c.count())
            .filter(|&c| c > 0)
            .ok_or_else(|| AudioError::format(path, "the stream does not say its channel count"))?;
        let lossy = matches!(
            codec,
            CODEC_ID_MP3 | CODEC_ID_MP2 | CODEC_ID_MP1 | CODEC_ID_VORBIS | CODEC_ID_AAC
        );
        let format = if lossy {
            SampleFormat::Lossy
        } else {
            match params.sample_format {
                Some(symphonia::core::audio::sample::SampleFormat::F32) => SampleFormat::Float(32),
                Some(symphonia::core::audio::sample::SampleFormat::F64) => SampleFormat::Float(64),
                _ => SampleFormat::Int(params.bits_per_sample.unwrap_or(16).clamp(1, 32)),
            }
        };
        let short = reader.format_info().short_name.to_ascii_lowercase();
        let mp4 = short.contains("mp4");
        // The encoder's priming and padding, as the edit list says (AAC; ALAC has none).
        let edit = if mp4 {
            super::mp4edit::audio_edit(path, track_id, rate)
        } else {
            None
        };
        let frames = match edit.and_then(|e| e.keep) {
            Some(keep) => Some(keep),
            None => frames.map(|f| f.saturating_sub(edit.map_or(0, |e| e.skip))),
        };
        let mut name = codec_name(codec).to_string();
        if name == "PCM" && short.contains("aiff") {
            name = "AIFF".into();
        } else if short.contains("mp4") || short.contains("isomp4") {
            name = format!("{name} (MP4)");
        } else if short.contains("ogg") && name != "Vorbis" {
            name = format!("{name} (Ogg)");
        }
        let vorbis_keys = matches!(codec, CODEC_ID_FLAC | CODEC_ID_VORBIS);
        let mut tags = Vec::new();
        {
            let mut meta = reader.metadata();
            while let Some(rev) = meta.pop() {
                collect_tags(&rev, vorbis_keys, &mut tags);
            }
            if let Some(rev) = meta.current() {
                collect_tags(rev, vorbis_keys, &mut tags);
            }
        }
        Ok(SymphoniaSource {
            info: SourceInfo {
                path: path.to_path_buf(),
                rate,
                channels,
                frames: frames.filter(|&f| f > 0),
                format,
                codec: name,
                container: if codec == CODEC_ID_FLAC && short.contains("flac") {
                    Some(Container::Flac)
                } else {
                    None
                },
                tags,
                file_len,
            },
            reader,
            decoder,
            track_id,
            pending: Vec::new(),
            pending_pos: 0,
            frames_out: 0,
            decoded: 0,
            next_pts: None,
            start_ts,
            first_pts: None,
            skip_left: edit.map_or(0, |e| e.skip),
            keep: edit.and_then(|e| e.keep),
            tick_s: time_base.map_or(1.0 / f64::from(rate), |tb| {
                f64::from(tb.numer.get()) / f64::from(tb.denom.get())
            }),
            done: false,
            lossless: !lossy,
            ogg: short.contains("ogg"),
            mp4,
            stream_timestamps: !matches!(codec, CODEC_ID_MP3 | CODEC_ID_MP2 | CODEC_ID_MP1),
        })
    }

    /// Where the audio decoded so far ends, for errors: the same for every caller.
    fn at(&self) -> String {
        format!(
            " at {:.2} s",
            self.decoded as f64 / f64::from(self.info.rate)
        )
    }

    /// What the Ogg page structure says is wrong, if anything (a page that fails its
    /// checksum or is missing, or a file cut inside a page), as the error to give.
    fn ogg_damage(&self) -> Option<AudioError> {
        let path = &self.info.path;
        let secs = |at: Option<u64>| {
            at.map_or(String::new(), |f| {
                format!(" at {:.2} s", f as f64 / f64::from(self.info.rate))
            })
        };
        match super::damage::ogg(path) {
            Ok(Some(Damage::Corrupt { at })) => Some(AudioError::format(
                path,
                format!(
                    "corrupt audio data{}: an Ogg page is damaged or missing (its audio could not be read)",
                    secs(at)
                ),
            )),
            Ok(Some(Damage::Truncated { at })) => Some(AudioError::format(
                path,
                format!("truncated: the data ends unexpectedly{}", secs(at)),
            )),
            Ok(None) => None,
            Err(e) => Some(AudioError::io(path, "cannot read", e)),
        }
    }

    /// Checks that `packet` follows the one before it without a gap: the containers whose
    /// packets carry their own position (FLAC frame headers, Ogg granule positions) skip
    /// damaged data silently, and the jump is what shows it.
    fn check_continuous(&mut self, packet: &symphonia::core::packet::Packet) -> AudioResult {
        let pts = packet.pts.get();
        // A stream may start later than the track says (cut from a longer one) and still
        // play: a late first packet only explains a stream that ends short
        // (`check_complete`).
        self.first_pts.get_or_insert(pts);
        if let Some(next) = self.next_pts {
            if pts > next {
                let missing = (pts - next) as f64 * self.tick_s;
                return Err(AudioError::format(
                    &self.info.path,
                    format!(
                        "corrupt audio data{}: {missing:.2} s of audio could not be read (damaged data was skipped)",
                        self.at()
                    ),
                ));
            }
        }
        let span = packet.trim_start.get() + packet.dur.get() + packet.trim_end.get();
        self.next_pts = Some(pts.saturating_add(i64::try_from(span).unwrap_or(i64::MAX)));
        Ok(())
    }

    /// Decodes the next packet of the track into `pending`; false at the end.
    fn refill(&mut self) -> AudioResult<bool> {
        let path = self.info.path.clone();
        loop {
            let packet = catch_unwind(AssertUnwindSafe(|| self.reader.next_packet()))
                .map_err(|_| panicked(&path))?;
            let packet =
                match packet {
                    Ok(Some(p)) => p,
                    Ok(None) => {
                        if self.ogg {
                            if let Some(e) = self.ogg_damage() {
                                return Err(e);
                            }
                        }
                        return Ok(false);
                    }
                    Err(SymError::ResetRequired) => return Err(AudioError::format(
                        &path,
                        "the stream changes its format midway (chained streams are not supported)",
                    )),
                    Err(SymError::IoError(io))
                        if self.ogg && io.kind() == std::io::ErrorKind::UnexpectedEof =>
                    {
                        return Err(self
                            .ogg_damage()
                            .unwrap_or_else(|| sym_err(&path, SymError::IoError(io), &self.at())))
                    }
                    Err(e) if self.mp4 => {
                        return Err(match super::damage::mp4(&path) {
                            // The reader may stop at the first packet: no position.
                            Ok(Some(Damage::Truncated { .. })) => AudioError::format(
                                &path,
                                "truncated: the MP4 file is cut off (a box runs past its end)",
                            ),
                            _ => sym_err(&path, e, &self.at()),
                        });
                    }
                    Err(e) => return Err(sym_err(&path, e, &self.at())),
                };
            if packet.track_id != self.track_id {
                continue;
            }
            self.check_continuous(&packet)?;
            let ch = self.info.channels;
            let pending = &mut self.pending;
            let decoder = &mut self.decoder;
            let decoded = catch_unwind(AssertUnwindSafe(|| -> Result<bool, SymError> {
                let buf = decoder.decode(&packet)?;
                if buf.spec().channels().count() != ch {
                    return Ok(false);
                }
                pending.clear();
                buf.copy_to_vec_interleaved::<f32>(pending);
                Ok(true)
            }))
            .map_err(|_| panicked(&path))?;
            match decoded {
                Ok(true) => {
                    let frames = (self.pending.len() / ch) as u64;
                    self.decoded += frames;
                    // The priming an edit list leaves out.
                    let skip = self.skip_left.min(frames);
                    self.skip_left -= skip;
                    self.pending_pos = skip as usize * ch;
                    if self.pending_pos < self.pending.len() {
                        return Ok(true);
                    }
                }
                Ok(false) => {
                    return Err(AudioError::format(
                        &path,
                        format!("the channel count changes midway{}", self.at()),
                    ))
                }
                Err(e) => return Err(sym_err(&path, e, &self.at())),
            }
        }
    }

    fn read(&mut self, buf: &mut [f32]) -> AudioResult<usize> {
        let ch = self.info.channels;
        let mut want = buf.len() / ch * ch;
        if let Some(keep) = self.keep {
            // The edit list's end: the padding after it is not the programme.
            let left = keep.saturating_sub(self.frames_out);
            if (left as usize).saturating_mul(ch) <= want {
                want = left as usize * ch;
                self.done |= left == 0;
            }
        }
        let mut n = 0;
        while n < want && !self.done {
            if self.pending_pos >= self.pending.len() && !self.refill()? {
                self.done = true;
                self.check_complete(self.frames_out + (n / ch) as u64)?;
                break;
            }
            let take = (want - n).min(self.pending.len() - self.pending_pos);
            buf[n..n + take]
                .copy_from_slice(&self.pending[self.pending_pos..self.pending_pos + take]);
            self.pending_pos += take;
            n += take;
        }
        let n = n / ch * ch;
        self.frames_out += (n / ch) as u64;
        Ok(n)
    }

    /// At the end: a lossless stream that announced its length must have delivered it.
    fn check_complete(&self, out: u64) -> AudioResult {
        if let Some(total) = self.info.frames {
            let slack = if self.lossless {
                0
            } else {
                (total / 100).max(8192)
            };
            if out + slack < total {
                // With the stream's own timestamps a lost stretch inside it is a gap, found
                // where it is: what is missing at the end was cut off. MP3's are counted
                // by the reader, which skips damage silently.
                let rate = f64::from(self.info.rate);
                let lost = self
                    .first_pts
                    .map_or(0, |p| p.saturating_sub(self.start_ts));
                if self.stream_timestamps && lost > 0 {
                    return Err(AudioError::format(
                        &self.info.path,
                        format!(
                            "corrupt audio data at 0.00 s: the first {:.2} s could not be read (damaged data was skipped)",
                            lost as f64 * self.tick_s
                        ),
                    ));
                }
                let what = if self.stream_timestamps {
                    "truncated"
                } else {
                    "corrupt or truncated"
                };
                return Err(AudioError::format(
                    &self.info.path,
                    format!(
                        "{what}: the stream ends at {:.3} s, its header announces {:.3} s ({out} of {total} frames)",
                        out as f64 / rate,
                        total as f64 / rate
                    ),
                ));
            }
        }
        if out == 0 {
            return Err(AudioError::format(
                &self.info.path,
                "the file holds no audio (0 frames)",
            ));
        }
        Ok(())
    }
}
