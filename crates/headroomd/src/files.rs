//! Opening the files headroomd is pointed at — profiles, `config.toml`, `state.json`,
//! `routes.json`, history segments — without trusting what they are.
//!
//! * Only regular files are read. A file is opened with `O_NONBLOCK`, so a FIFO does not wait
//!   for a writer, and checked with `fstat` on the open descriptor (no race with a rename): a
//!   FIFO, socket or device (say a symlink to `/dev/zero`) is refused with a clear error.
//!   Symlinks to regular files are fine where the user names or may link a file (profiles,
//!   `config.toml`, `state.json`, `routes.json`: written through the link, see
//!   [`crate::state_file::write_atomic`]); the history segments and the instance lock are
//!   opened with `O_NOFOLLOW` ([`open_own`]).
//! * Every read is capped ([`MAX_FILE_BYTES`] for whole files, [`MAX_HISTORY_LINE_BYTES`] per
//!   history line): a larger file is an error naming the limit, never an unbounded allocation.
//!
//! The reading of the files a user names is [`headroom_profile::file`]'s (the command line
//! reads profiles with it too), re-exported here.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub use headroom_profile::file::{
    check_regular, open_regular, read_capped, read_regular, read_regular_to_string, MAX_FILE_BYTES,
};

/// Longest line of a history segment, in bytes (a sample is about 250); longer lines are
/// skipped unread.
pub const MAX_HISTORY_LINE_BYTES: usize = 4096;

/// Opens one of headroomd's own files (`options` say how) without following a symlink at
/// `path` (`O_NOFOLLOW`: a symlink there is an error, whatever it points at) and without
/// blocking on a FIFO; anything but a regular file is refused.
pub fn open_own(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let f = options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a symbolic link: refused (headroom does not follow links to its own files)",
                )
            } else {
                e
            }
        })?;
    check_regular(f)
}

/// Calls `line` with each line of `r` (without the `\n`) of at most `max_line` bytes, until it
/// returns `false`; longer lines are skipped without being held in memory. Stops after
/// `max_total` bytes.
pub fn for_each_capped_line(
    r: impl Read,
    max_line: usize,
    max_total: u64,
    mut line: impl FnMut(&[u8]) -> bool,
) -> io::Result<()> {
    use std::io::BufRead;
    let mut r = io::BufReader::new(r.take(max_total));
    let mut cur: Vec<u8> = Vec::with_capacity(256);
    let mut too_long = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            if !too_long && !cur.is_empty() {
                line(&cur);
            }
            return Ok(());
        }
        let (chunk, consumed, ends) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if !too_long {
            if cur.len() + chunk.len() > max_line {
                too_long = true;
                cur.clear();
            } else {
                cur.extend_from_slice(chunk);
            }
        }
        r.consume(consumed);
        if ends {
            if !too_long && !line(&cur) {
                return Ok(());
            }
            cur.clear();
            too_long = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_over_the_cap_are_skipped() {
        let text = format!("a\n{}\nbc\nlast", "x".repeat(100));
        let mut got = Vec::new();
        for_each_capped_line(text.as_bytes(), 10, u64::MAX, |l| {
            got.push(String::from_utf8_lossy(l).into_owned());
            true
        })
        .unwrap();
        assert_eq!(got, ["a", "bc", "last"]);
        let mut n = 0;
        for_each_capped_line(text.as_bytes(), 10, 4, |_| {
            n += 1;
            true
        })
        .unwrap();
        assert_eq!(n, 2, "stops after max_total bytes");
        let mut n = 0;
        for_each_capped_line(text.as_bytes(), 10, u64::MAX, |_| {
            n += 1;
            false
        })
        .unwrap();
        assert_eq!(n, 1, "stops when asked");
    }
}
