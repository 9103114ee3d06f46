//! Reading a file a user names (a profile, a config file) without trusting what it is:
//! shared by the daemon and the command line, so both refuse the same things the same way.
//!
//! * Only regular files are read. A file is opened with `O_NONBLOCK`, so a FIFO does not wait
//!   for a writer, and checked with `fstat` on the open descriptor (no race with a rename): a
//!   FIFO, socket or device (say a symlink to `/dev/zero`) is refused with a clear error.
//!   Symlinks to regular files are followed.
//! * Every read is capped ([`MAX_FILE_BYTES`]): a larger file is an error naming the limit,
//!   never an unbounded allocation.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest profile, config, state or routes file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// What kind of file `m` describes, for an error message.
fn kind(m: &std::fs::Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// `f` if it is a regular file, else an error naming what it is (`a FIFO, not a regular
/// file: refused`).
pub fn check_regular(f: File) -> io::Result<File> {
    let m = f.metadata()?;
    if !m.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}, not a regular file: refused", kind(&m)),
        ));
    }
    Ok(f)
}

/// Opens `path` for reading if it is a regular file (following symlinks): never blocks on a
/// FIFO, refuses anything but a regular file.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    check_regular(f)
}

/// Reads all of `f`, at most `max` bytes; a longer file is an error naming the limit.
pub fn read_capped(f: File, max: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {max}-byte limit: refused"),
        ));
    }
    Ok(buf)
}

/// Reads the regular file `path` (see [`open_regular`]), at most [`MAX_FILE_BYTES`].
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    read_capped(open_regular(path)?, MAX_FILE_BYTES)
}

/// [`read_regular`] as UTF-8 text.
pub fn read_regular_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not valid UTF-8"))
}

/// For a symlink that leads nowhere, why: its target is missing, or the links loop. `None`
/// for anything else (a file, a link that resolves, no entry at all).
pub fn broken_link(p: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(p).ok()?;
    if !meta.file_type().is_symlink() {
        return None;
    }
    let to = std::fs::read_link(p).map_or_else(|_| "?".to_owned(), |t| t.display().to_string());
    match std::fs::metadata(p) {
        Ok(_) => None,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Some(format!(
            "it is a symlink to {to}, and the links from there lead back in a loop"
        )),
        Err(_) => Some(format!("it is a symlink to {to}, which does not exist")),
    }
}

/// Whether `name` can name a user profile: not empty, not hidden (`.NAME`, an editor's or a
/// sync tool's file), without a control character (a line break, a tab: nothing a
/// command line could select, nor print as it is) and not ending in `.toml` (such a name is
/// read as a path: `x.toml.toml` was listed as `x.toml`, invalid, and could not be used).
pub fn is_profile_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with(".toml")
        && !name.chars().any(char::is_control)
}

/// The profile name of `path`, an entry of the user's profiles directory: `NAME` of
/// `NAME.toml` when [`is_profile_name`] takes it and the entry exists (a dangling link is
/// none) and is not a directory; a FIFO or device named so counts (it is listed as a
/// profile that does not load, as the daemon's watcher reports it). The daemon's list and
/// the command line's use this one rule.
pub fn user_profile_name(path: &Path) -> Option<String> {
    if path.extension().is_none_or(|x| x != "toml") {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    (is_profile_name(stem) && path.exists() && !path.is_dir()).then(|| stem.to_owned())
}
