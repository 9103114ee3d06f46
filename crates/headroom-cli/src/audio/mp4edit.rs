//! The edit list of an MP4/M4A audio track: which of its decoded frames are the programme.
//!
//! An AAC encoder's output starts with its priming (1024 frames for ffmpeg's and Apple's
//! encoders) and ends padded to a whole packet; the file's edit list (`moov/trak/edts/elst`)
//! says where the programme starts in the decoded audio (`media_time`) and how long it is
//! (`segment_duration`). symphonia 0.6 reads the box but applies nothing, so the decoded
//! audio was 21 ms late and longer than the source at 48 kHz. [`audio_edit`] reads the list
//! of the audio track the decoder plays, in frames at the track's rate; the decoder drops
//! what lies outside it.
//!
//! Only the simple, common form is followed: empty edits (`media_time` −1, a delay before the
//! track) are skipped, and exactly one edit with media must remain. Anything else (several
//! media edits, rate changes) is left alone: the audio is decoded whole, as before.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The part of a track's decoded audio its edit list keeps, in frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    /// Frames to drop at the start (the encoder's priming).
    pub skip: u64,
    /// Frames to keep after them (`None`: to the end).
    pub keep: Option<u64>,
}

/// Largest `moov` box read (the index of a long video file with audio is a few MB).
const MAX_MOOV: u64 = 64 << 20;

/// The edit of the audio track with ID `track_id` (or, if no track has that ID, the first
/// audio track), in frames at `rate`; `None` when the file has no such edit list or one that
/// is not followed (module docs), or cannot be read.
pub fn audio_edit(path: &Path, track_id: u32, rate: u32) -> Option<Edit> {
    let moov = read_moov(path)?;
    let movie_scale = children(&moov)
        .find(|(k, _)| k == b"mvhd")
        .and_then(|(_, b)| header_timescale(b))?;
    let mut first = None;
    for (kind, trak) in children(&moov) {
        if kind != *b"trak" {
            continue;
        }
        let Some(t) = Track::parse(trak) else {
            continue;
        };
        if !t.sound {
            continue;
        }
        if t.id == track_id {
            return t.edit(movie_scale, rate);
        }
        first.get_or_insert(t);
    }
    first.and_then(|t| t.edit(movie_scale, rate))
}

/// What the edit needs of one `trak` box.
struct Track {
    id: u32,
    sound: bool,
    media_scale: u32,
    /// The media's length in its own time scale (`mdhd`), 0 when not given.
    media_duration: u64,
    /// (segment duration in the movie's time scale, media time in the track's).
    edits: Vec<(u64, i64)>,
}

impl Track {
    fn parse(trak: &[u8]) -> Option<Track> {
        let mut t = Track {
            id: 0,
            sound: false,
            media_scale: 0,
            media_duration: 0,
            edits: Vec::new(),
        };
        for (kind, b) in children(trak) {
            match &kind {
                b"tkhd" => {
                    // version(1) flags(3), then creation and modification times (4 or 8
                    // bytes each), then the track ID.
                    let at = if *b.first()? == 1 { 4 + 16 } else { 4 + 8 };
                    t.id = be_u32(b, at)?;
                }
                b"mdia" => {
                    for (k, m) in children(b) {
                        match &k {
                            b"mdhd" => {
                                t.media_scale = header_timescale(m)?;
                                t.media_duration = header_duration(m).unwrap_or(0);
                            }
                            // version/flags(4), pre_defined(4), handler type.
                            b"hdlr" => t.sound = m.get(8..12) == Some(b"soun"),
                            _ => {}
                        }
                    }
                }
                b"edts" => {
                    if let Some((_, elst)) = children(b).find(|(k, _)| k == b"elst") {
                        t.edits = parse_elst(elst)?;
                    }
                }
                _ => {}
            }
        }
        Some(t)
    }

    /// The edit in frames at `rate`, if the list is one this follows.
    fn edit(&self, movie_scale: u32, rate: u32) -> Option<Edit> {
        let mut media = self.edits.iter().filter(|(_, time)| *time >= 0);
        let &(duration, time) = media.next()?;
        if media.next().is_some() || self.media_scale == 0 || movie_scale == 0 {
            return None;
        }
        let frames = |v: u64, scale: u32| {
            (u128::from(v) * u128::from(rate) + u128::from(scale) / 2) / u128::from(scale)
        };
        let skip = u64::try_from(frames(time.unsigned_abs(), self.media_scale)).ok()?;
        // A duration of 0 means "to the end of the media" in files written by some tools.
        // The segment's duration is in the movie's time scale, often milliseconds: ffmpeg
        // rounds it up, so an ALAC track of 575 968 frames (11 999.33 ms) announced 576 000
        // and was refused as truncated. No edit keeps more than the media holds after the
        // skip.
        let media = (self.media_duration > 0)
            .then(|| u64::try_from(frames(self.media_duration, self.media_scale)).ok())
            .flatten()
            .map(|m| m.saturating_sub(skip));
        let keep = (duration > 0)
            .then(|| u64::try_from(frames(duration, movie_scale)).ok())
            .flatten()
            .map(|k| media.map_or(k, |m| k.min(m)));
        (skip > 0 || keep.is_some()).then_some(Edit { skip, keep })
    }
}

/// The entries of an `elst` box: (segment duration, media time); rate changes other than 1
/// are not followed (`None`).
fn parse_elst(b: &[u8]) -> Option<Vec<(u64, i64)>> {
    let version = *b.first()?;
    let count = be_u32(b, 4)? as usize;
    let size = if version == 1 { 20 } else { 12 };
    if count > 1024 || b.len() < 8 + count * size {
        return None;
    }
    (0..count)
        .map(|i| {
            let at = 8 + i * size;
            let (duration, time, rate_at) = if version == 1 {
                (be_u64(b, at)?, be_u64(b, at + 8)? as i64, at + 16)
            } else {
                (
                    u64::from(be_u32(b, at)?),
                    i64::from(be_u32(b, at + 4)? as i32),
                    at + 8,
                )
            };
            // media_rate_integer 1, media_rate_fraction 0: played at normal speed.
            (be_u32(b, rate_at)? == 0x0001_0000).then_some((duration, time))
        })
        .collect()
}

/// The time scale of an `mvhd` or `mdhd` box: after version/flags and the creation and
/// modification times (4 or 8 bytes each).
fn header_timescale(b: &[u8]) -> Option<u32> {
    let at = if *b.first()? == 1 { 4 + 16 } else { 4 + 8 };
    be_u32(b, at).filter(|&s| s > 0)
}

/// The duration of an `mvhd` or `mdhd` box, in its time scale: after the time scale (4 or 8
/// bytes, as the times).
fn header_duration(b: &[u8]) -> Option<u64> {
    if *b.first()? == 1 {
        be_u64(b, 4 + 16 + 4)
    } else {
        be_u32(b, 4 + 8 + 4).map(u64::from)
    }
}

/// The body of the top-level `moov` box (at most [`MAX_MOOV`] bytes).
fn read_moov(path: &Path) -> Option<Vec<u8>> {
    let mut f = super::open_read(path).ok()?;
    let len = f.metadata().ok()?.len();
    let mut pos = 0u64;
    while pos + 8 <= len {
        let mut head = [0u8; 16];
        f.seek(SeekFrom::Start(pos)).ok()?;
        let n = super::wav::read_full(&mut f, &mut head).ok()?;
        if n < 8 {
            return None;
        }
        let (size, header) = match be_u32(&head, 0)? {
            0 => (len - pos, 8),
            1 if n == 16 => (be_u64(&head, 8)?, 16),
            s => (u64::from(s), 8),
        };
        if size < header || pos.checked_add(size)? > len {
            return None;
        }
        if &head[4..8] == b"moov" {
            let body = size - header;
            if body > MAX_MOOV {
                return None;
            }
            f.seek(SeekFrom::Start(pos + header)).ok()?;
            let mut out = vec![0u8; body as usize];
            f.read_exact(&mut out).ok()?;
            return Some(out);
        }
        pos += size;
    }
    None
}

/// The boxes inside `body`, as (type, body); stops at the first malformed one.
fn children(body: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let size = be_u32(body, pos)? as usize;
        let kind: [u8; 4] = body.get(pos + 4..pos + 8)?.try_into().ok()?;
        let (size, header) = match size {
            0 => (body.len() - pos, 8),
            1 => (usize::try_from(be_u64(body, pos + 8)?).ok()?, 16),
            s => (s, 8),
        };
        if size < header {
            return None;
        }
        let inner = body.get(pos + header..pos.checked_add(size)?)?;
        pos += size;
        Some((kind, inner))
    })
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    /// Version 0 `mvhd`/`mdhd`: version/flags, two times, the time scale, a duration.
    fn header(kind: &[u8; 4], scale: u32) -> Vec<u8> {
        header_of(kind, scale, 0)
    }

    fn header_of(kind: &[u8; 4], scale: u32, duration: u32) -> Vec<u8> {
        let mut b = vec![0u8; 12];
        b.extend_from_slice(&scale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&[0; 4]);
        boxed(kind, &b)
    }

    fn trak(id: u32, handler: &[u8; 4], scale: u32, edits: &[(u32, i32)]) -> Vec<u8> {
        trak_of(id, handler, scale, 0, edits)
    }

    fn trak_of(
        id: u32,
        handler: &[u8; 4],
        scale: u32,
        duration: u32,
        edits: &[(u32, i32)],
    ) -> Vec<u8> {
        let mut tkhd = vec![0u8; 12];
        tkhd.extend_from_slice(&id.to_be_bytes());
        tkhd.extend_from_slice(&[0; 8]);
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(handler);
        hdlr.extend_from_slice(&[0; 12]);
        let mdia = boxed(
            b"mdia",
            &[header_of(b"mdhd", scale, duration), boxed(b"hdlr", &hdlr)].concat(),
        );
        let mut elst = vec![0u8; 4];
        elst.extend_from_slice(&(edits.len() as u32).to_be_bytes());
        for &(d, t) in edits {
            elst.extend_from_slice(&d.to_be_bytes());
            elst.extend_from_slice(&t.to_be_bytes());
            elst.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        }
        let edts = boxed(b"edts", &boxed(b"elst", &elst));
        boxed(b"trak", &[boxed(b"tkhd", &tkhd), mdia, edts].concat())
    }

    fn file(traks: &[Vec<u8>]) -> tempfile::NamedTempFile {
        let moov = boxed(
            b"moov",
            &[vec![header(b"mvhd", 1000)], traks.to_vec()]
                .concat()
                .concat(),
        );
        let bytes = [
            boxed(b"ftyp", b"M4A \0\0\0\0"),
            boxed(b"mdat", &[0; 64]),
            moov,
        ]
        .concat();
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    #[test]
    fn the_priming_and_the_length_of_the_audio_track_are_read() {
        // ffmpeg's AAC: 5 s (movie scale 1000), media from frame 1024 (media scale 48 kHz);
        // a video track first, with an edit of its own.
        let f = file(&[
            trak(1, b"vide", 90_000, &[(5000, 3003)]),
            trak(2, b"soun", 48_000, &[(5000, 1024)]),
        ]);
        let want = Edit {
            skip: 1024,
            keep: Some(240_000),
        };
        assert_eq!(audio_edit(f.path(), 2, 48_000), Some(want));
        // Another ID: the first audio track.
        assert_eq!(audio_edit(f.path(), 9, 48_000), Some(want));
        // At another rate than the media's scale (a decoder at twice the rate).
        assert_eq!(
            audio_edit(f.path(), 2, 96_000),
            Some(Edit {
                skip: 2048,
                keep: Some(480_000)
            })
        );
    }

    #[test]
    fn an_edit_rounded_up_to_the_movies_time_scale_keeps_what_the_media_holds() {
        // ffmpeg's ALAC: 575 968 frames (media scale 48 kHz), the edit 12 000 ms (rounded
        // up from 11 999.33).
        let f = file(&[trak_of(1, b"soun", 48_000, 575_968, &[(12_000, 0)])]);
        assert_eq!(
            audio_edit(f.path(), 1, 48_000),
            Some(Edit {
                skip: 0,
                keep: Some(575_968)
            })
        );
        // With priming: what the media holds after it.
        let f = file(&[trak_of(1, b"soun", 48_000, 577_000, &[(12_000, 1024)])]);
        assert_eq!(
            audio_edit(f.path(), 1, 48_000),
            Some(Edit {
                skip: 1024,
                keep: Some(575_976)
            })
        );
        // An edit shorter than the media is kept as it is.
        let f = file(&[trak_of(1, b"soun", 48_000, 600_000, &[(12_000, 1024)])]);
        assert_eq!(
            audio_edit(f.path(), 1, 48_000),
            Some(Edit {
                skip: 1024,
                keep: Some(576_000)
            })
        );
    }

    #[test]
    fn lists_that_are_not_followed_leave_the_audio_whole() {
        // An empty edit (a delay) before the media's is skipped.
        let f = file(&[trak(1, b"soun", 44_100, &[(500, -1), (2000, 2112)])]);
        assert_eq!(
            audio_edit(f.path(), 1, 44_100),
            Some(Edit {
                skip: 2112,
                keep: Some(88_200)
            })
        );
        // Two media edits: not followed.
        let f = file(&[trak(1, b"soun", 44_100, &[(1000, 0), (1000, 50_000)])]);
        assert_eq!(audio_edit(f.path(), 1, 44_100), None);
        // No audio track, no moov, not an MP4.
        let f = file(&[trak(1, b"vide", 44_100, &[(1000, 10)])]);
        assert_eq!(audio_edit(f.path(), 1, 44_100), None);
        let g = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(g.path(), boxed(b"ftyp", b"M4A ")).unwrap();
        assert_eq!(audio_edit(g.path(), 1, 44_100), None);
        std::fs::write(g.path(), b"RIFF....WAVE").unwrap();
        assert_eq!(audio_edit(g.path(), 1, 44_100), None);
    }
}
