//! What is wrong with a damaged Ogg or MP4 file, from its structure, for the error a decoder
//! gives: damage (a page that fails its checksum, bytes that are no page, a missing page)
//! and truncation (the file ends inside a page or a box) read alike to symphonia, which skips
//! a damaged Ogg page silently and reports an MP4 without its index as no audio file at all.
//!
//! Only the error paths (and the end of an Ogg stream) read the file again for this.

use super::wav::read_full;
use std::io::BufReader;
use std::path::Path;

/// What a structure check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The data is damaged: `at` is the granule position (frames) at the end of the last
    /// intact Ogg page before it, if there was one.
    Corrupt {
        /// Frames before the damage.
        at: Option<u64>,
    },
    /// The file ends inside a page (Ogg) or a box (MP4) and nothing before is damaged: it
    /// was cut off. `at` as for [`Damage::Corrupt`].
    Truncated {
        /// Frames before the cut.
        at: Option<u64>,
    },
}

/// The Ogg CRC-32 (polynomial 0x04C11DB7, not reflected, initial value 0, no final xor).
fn ogg_crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut r = (i as u32) << 24;
        for _ in 0..8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04C1_1DB7
            } else {
                r << 1
            };
        }
        *e = r;
    }
    t
}

fn ogg_crc(table: &[u32; 256], crc: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(crc, |c, &b| {
        (c << 8) ^ table[(((c >> 24) as u8) ^ b) as usize]
    })
}

/// Walks the pages of an Ogg file: the first page that fails its checksum, bytes where a
/// page should start that are no page, or a page missing from a logical stream (a gap in its
/// sequence numbers) is damage; a file that ends inside a page is truncated. `None` when
/// every page is whole and intact.
pub fn ogg(path: &Path) -> std::io::Result<Option<Damage>> {
    let table = ogg_crc_table();
    let mut r = BufReader::with_capacity(1 << 16, super::open_read(path)?);
    let mut seq: Vec<(u32, u32)> = Vec::new();
    let mut at = None;
    let mut body = Vec::new();
    loop {
        let mut head = [0u8; 27];
        let n = read_full(&mut r, &mut head)?;
        if n == 0 {
            return Ok(None);
        }
        if n < 4 || &head[..4] != b"OggS" {
            return Ok(Some(Damage::Corrupt { at }));
        }
        if n < 27 {
            return Ok(Some(Damage::Truncated { at }));
        }
        let mut segs = vec![0u8; usize::from(head[26])];
        if read_full(&mut r, &mut segs)? < segs.len() {
            return Ok(Some(Damage::Truncated { at }));
        }
        body.resize(segs.iter().map(|&s| usize::from(s)).sum(), 0);
        if read_full(&mut r, &mut body)? < body.len() {
            return Ok(Some(Damage::Truncated { at }));
        }
        let stored = u32::from_le_bytes([head[22], head[23], head[24], head[25]]);
        head[22..26].fill(0);
        let crc = ogg_crc(
            &table,
            ogg_crc(&table, ogg_crc(&table, 0, &head), &segs),
            &body,
        );
        if crc != stored {
            return Ok(Some(Damage::Corrupt { at }));
        }
        let serial = u32::from_le_bytes([head[14], head[15], head[16], head[17]]);
        let number = u32::from_le_bytes([head[18], head[19], head[20], head[21]]);
        match seq.iter_mut().find(|(s, _)| *s == serial) {
            Some((_, last)) if number != last.wrapping_add(1) => {
                return Ok(Some(Damage::Corrupt { at }));
            }
            Some((_, last)) => *last = number,
            None => seq.push((serial, number)),
        }
        let granule = u64::from_le_bytes([
            head[6], head[7], head[8], head[9], head[10], head[11], head[12], head[13],
        ]);
        // −1: no packet ends on this page.
        if granule != u64::MAX {
            at = Some(granule);
        }
    }
}

/// Walks the top-level boxes of an ISO media (MP4/M4A) file: one that runs past the end of
/// the file is truncation; a box of impossible size is damage; whole boxes without the
/// index (`moov`) are an unfinished file, reported as truncated. `None` when the boxes are
/// whole and the index is there.
pub fn mp4(path: &Path) -> std::io::Result<Option<Damage>> {
    use std::io::{Seek, SeekFrom};
    let mut f = super::open_read(path)?;
    let len = f.metadata()?.len();
    let mut pos = 0u64;
    let mut moov = false;
    while pos < len {
        let mut head = [0u8; 16];
        f.seek(SeekFrom::Start(pos))?;
        let n = read_full(&mut f, &mut head)?;
        if n < 8 {
            return Ok(Some(Damage::Truncated { at: None }));
        }
        let kind = &head[4..8];
        if !kind.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            return Ok(Some(Damage::Corrupt { at: None }));
        }
        let size = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            0 => len - pos,
            1 if n == 16 => u64::from_be_bytes([
                head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
            ]),
            1 => return Ok(Some(Damage::Truncated { at: None })),
            s => u64::from(s),
        };
        if size < 8 {
            return Ok(Some(Damage::Corrupt { at: None }));
        }
        moov |= kind == b"moov";
        match pos.checked_add(size) {
            Some(end) if end <= len => pos = end,
            _ => return Ok(Some(Damage::Truncated { at: None })),
        }
    }
    Ok((!moov).then_some(Damage::Truncated { at: None }))
}

/// Whether `head` (the first bytes of a file) starts an ISO media file (`ftyp` box first).
pub fn is_mp4(head: &[u8]) -> bool {
    head.len() >= 8 && &head[4..8] == b"ftyp"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal Ogg page with a correct checksum.
    fn page(serial: u32, seq: u32, granule: u64, body: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(b"OggS");
        p.push(0);
        p.push(0);
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&serial.to_le_bytes());
        p.extend_from_slice(&seq.to_le_bytes());
        p.extend_from_slice(&[0; 4]);
        p.push(1);
        p.push(body.len() as u8);
        p.extend_from_slice(body);
        let t = ogg_crc_table();
        let crc = ogg_crc(&t, 0, &p);
        p[22..26].copy_from_slice(&crc.to_le_bytes());
        p
    }

    #[test]
    fn ogg_pages_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.ogg");
        let pages: Vec<Vec<u8>> = (0..4)
            .map(|i| page(7, i, 1000 * u64::from(i), b"abc"))
            .collect();
        let whole = pages.concat();
        let check = |bytes: &[u8]| {
            std::fs::write(&f, bytes).unwrap();
            ogg(&f).unwrap()
        };
        assert_eq!(check(&whole), None);
        // Cut inside the last page.
        assert_eq!(
            check(&whole[..whole.len() - 2]),
            Some(Damage::Truncated { at: Some(2000) })
        );
        // A flipped byte in the third page's body.
        let mut bad = whole.clone();
        bad[2 * pages[0].len() + 29] ^= 1;
        assert_eq!(check(&bad), Some(Damage::Corrupt { at: Some(1000) }));
        // A page missing.
        let gap = [pages[0].clone(), pages[2].clone(), pages[3].clone()].concat();
        assert_eq!(check(&gap), Some(Damage::Corrupt { at: Some(0) }));
    }

    #[test]
    fn mp4_boxes_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.m4a");
        let bx = |kind: &[u8; 4], len: usize| {
            let mut b = ((8 + len) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.resize(8 + len, 0);
            b
        };
        let check = |bytes: &[u8]| {
            std::fs::write(&f, bytes).unwrap();
            mp4(&f).unwrap()
        };
        let whole = [bx(b"ftyp", 8), bx(b"mdat", 100), bx(b"moov", 20)].concat();
        assert!(is_mp4(&whole));
        assert_eq!(check(&whole), None);
        assert_eq!(check(&whole[..60]), Some(Damage::Truncated { at: None }));
        let unfinished = [bx(b"ftyp", 8), bx(b"mdat", 100)].concat();
        assert_eq!(check(&unfinished), Some(Damage::Truncated { at: None }));
        let mut bad = whole.clone();
        bad[16 + 4..16 + 8].copy_from_slice(&[0, 1, 2, 3]);
        assert_eq!(check(&bad), Some(Damage::Corrupt { at: None }));
    }
}
