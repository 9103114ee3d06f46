//! Where `render` writes, safely.
//!
//! * A regular (or new) output is written to a hidden temporary file next to it,
//!   `.NAME.PID.partial` (`NAME` shortened and hashed when the whole would be longer than
//!   the file system's longest name: [`temp_path`]), created exclusively, and renamed over the output only when the whole
//!   render succeeded: a failed or interrupted render never leaves a partial file and never
//!   damages an existing one. An existing file this user may not write is refused (as a
//!   shell's `>` would refuse it), although the rename would be allowed. A replaced file
//!   keeps its permissions and, where this user may give it, its owner; through a symlink,
//!   the file it points to is replaced and the link stays.
//! * An output that is the input itself (the same inode: the same path, a hard link, or a
//!   symlink to it) is refused unless `--in-place` is given; then the render goes to the
//!   temporary file and replaces the input atomically at the end.
//! * A character device (`/dev/null`, a terminal) or a FIFO is written directly, as a stream
//!   (no temporary file, no rename: a device node is never replaced by a regular file). Block
//!   devices, sockets and directories are refused.
//! * This process's standard output (`/dev/stdout`) is a stream whatever it is: redirected
//!   to a regular file, that file is written through standard output itself, from where it
//!   stands (after what was written before it, at the end with `>>`), never replaced.
//! * SIGINT, SIGTERM and SIGHUP (the terminal or the ssh session closed) during a render set
//!   a flag that the render loop checks every block; it stops, removes the temporary file and
//!   exits with 130 / 143 / 129. A second signal ends the process at once (for a write
//!   blocked on a FIFO nobody reads).
//! * A temporary file another render left next to the output when it was killed (SIGKILL,
//!   a crash: `.NAME.PID.partial` of a process that no longer runs) is removed when the
//!   output is written again.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::error::{CliError, CliResult, ErrorKind};

/// Identity of a file: device and inode.
pub type FileId = (u64, u64);

/// The identity of an existing file (following symlinks).
pub fn file_id(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// An opened output.
#[derive(Debug)]
pub enum Target {
    /// A regular file written through a temporary file and renamed into place.
    Replace {
        /// The output path as given.
        path: PathBuf,
        /// The file replaced at the end: `path`, or the file a symlink at `path` points to.
        dest: PathBuf,
        /// The temporary file being written (next to `dest`).
        temp: PathBuf,
    },
    /// A character device or FIFO written directly.
    Stream {
        /// The output path as given.
        path: PathBuf,
    },
}

impl Target {
    /// The path the user named.
    pub fn path(&self) -> &Path {
        match self {
            Target::Replace { path, .. } | Target::Stream { path } => path,
        }
    }

    /// Whether the output can be revisited to complete headers.
    pub fn seekable(&self) -> bool {
        matches!(self, Target::Replace { .. })
    }

    /// What becomes of the output when a render into it is interrupted: a file's partial
    /// output is removed (what was at the path stays as it was); what went into a FIFO or a
    /// device has gone.
    pub fn interrupted_note(&self) -> &'static str {
        match self {
            Target::Replace { .. } => "the partial output was removed",
            Target::Stream { .. } => "what was written to it stays written",
        }
    }
}

/// Prepares `output` for a render of the file identified by `input`: checks it (see the
/// module documentation) and opens the file to write. Returns the target and the file.
///
/// A FIFO is opened without blocking: while no process reads it yet, the open is retried
/// every 50 ms (saying so once on standard error) until one does or `interrupt` reports a
/// signal, so the wait can always be ended with Ctrl-C or SIGTERM.
pub fn open(
    output: &Path,
    input: Option<FileId>,
    in_place: bool,
    interrupt: &AtomicUsize,
) -> CliResult<(Target, File)> {
    let shown = output.display();
    let mut kept = None;
    match std::fs::metadata(output) {
        Ok(meta) => {
            kept = Some((meta.permissions(), meta.uid(), meta.gid()));
            let ft = meta.file_type();
            if input == Some((meta.dev(), meta.ino())) && !in_place {
                return Err(CliError::failed(format!(
                    "{shown}: the output is the input file; pass --in-place to replace it"
                )));
            }
            if ft.is_dir() {
                return Err(CliError::failed(format!("{shown}: is a directory")));
            }
            if ft.is_file() && is_stdout(output) {
                // Through the descriptor the shell opened: its position and `O_APPEND` hold.
                use std::os::fd::AsFd;
                let f = std::io::stdout()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| CliError::failed(format!("{shown}: cannot write: {e}")))?;
                return Ok((
                    Target::Stream {
                        path: output.to_path_buf(),
                    },
                    File::from(f),
                ));
            }
            if ft.is_char_device() || ft.is_fifo() {
                // Without blocking (a FIFO nobody reads yet would block the open where no
                // signal ends it); writes block as usual once it is open.
                let mut said = false;
                let f = loop {
                    match OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_NONBLOCK)
                        .open(output)
                    {
                        Ok(f) => break f,
                        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                            if let Some(sig) = pending_interrupt(interrupt) {
                                return Err(interrupted(sig, "nothing was written"));
                            }
                            if !said {
                                eprintln!(
                                    "headroom: {shown}: waiting for a process to read this FIFO (Ctrl-C stops)"
                                );
                                said = true;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(50));
                        }
                        Err(e) => {
                            return Err(CliError::failed(format!("{shown}: cannot write: {e}")))
                        }
                    }
                };
                blocking(&f)
                    .map_err(|e| CliError::failed(format!("{shown}: cannot write: {e}")))?;
                return Ok((
                    Target::Stream {
                        path: output.to_path_buf(),
                    },
                    f,
                ));
            }
            if !ft.is_file() {
                return Err(CliError::failed(format!(
                    "{shown}: is a {} — refusing to write to it",
                    if ft.is_block_device() {
                        "block device"
                    } else {
                        "socket or other special file"
                    }
                )));
            }
            // Replaced by a rename, which the directory's permissions allow: a file this
            // user may not write is refused as writing to it would be.
            if let Err(e) = writable(output) {
                return Err(CliError::failed(format!("{shown}: cannot write: {e}")));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CliError::failed(format!("{shown}: cannot write: {e}"))),
    }
    // Through a symlink, the file it points to is replaced and the link stays.
    let is_link = std::fs::symlink_metadata(output).is_ok_and(|m| m.file_type().is_symlink());
    let dest = if is_link {
        std::fs::canonicalize(output).unwrap_or_else(|_| output.to_path_buf())
    } else {
        output.to_path_buf()
    };
    remove_stale_partials(&dest);
    let temp = temp_path(&dest);
    let f = OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| CliError::failed(format!("{shown}: cannot write: {e}")))?;
    // A replaced file keeps its owner (where this user may give it: root, or a group of
    // the user's own) and its permissions (after the owner: a change of owner clears
    // set-ID bits).
    if let Some((mode, uid, gid)) = kept {
        let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
            .or_else(|_| std::os::unix::fs::fchown(&f, None, Some(gid)));
        let _ = f.set_permissions(mode);
    }
    Ok((
        Target::Replace {
            path: output.to_path_buf(),
            dest,
            temp,
        },
        f,
    ))
}

/// Whether this process may write the existing file `path` (`access(2)` with `W_OK`: the
/// real user's permission, as a shell's `>` would find it; root may write any).
fn writable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call; `access` only
    // reads it.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Removes the temporary files of `output` that renders killed before they could remove them
/// left behind: `.NAME.PID.partial` (the unshortened form of [`temp_path`]) whose process no
/// longer runs. A running render's file is left alone (its PID answers `kill(PID, 0)`).
fn remove_stale_partials(output: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let (Some(dir), Some(name)) = (output.parent(), output.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut prefix = b".".to_vec();
    prefix.extend_from_slice(name.as_bytes());
    prefix.push(b'.');
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file
            .as_bytes()
            .strip_prefix(prefix.as_slice())
            .and_then(|rest| rest.strip_suffix(b".partial"))
            .and_then(|pid| std::str::from_utf8(pid).ok())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
            .filter(|&pid| pid > 0)
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists; nothing is sent.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Completes a successful render: renames the temporary file over the output.
pub fn commit(target: &Target) -> CliResult {
    if let Target::Replace { path, dest, temp } = target {
        std::fs::rename(temp, dest).map_err(|e| {
            let _ = std::fs::remove_file(temp);
            CliError::failed(format!("{}: cannot write: {e}", path.display()))
        })?;
    }
    Ok(())
}

/// Abandons a render: removes the temporary file.
pub fn abandon(target: &Target) {
    if let Target::Replace { temp, .. } = target {
        let _ = std::fs::remove_file(temp);
    }
}

/// `.NAME.PID.partial` next to `output`; when that would be longer than the directory's
/// longest file name (`pathconf(_PC_NAME_MAX)`, 255 when it cannot say), `NAME` is shortened
/// to as many of its first bytes as fit (whole characters when it is UTF-8) followed by `~`
/// and 16 hex digits of a hash of the whole name, so any name the file system takes for the
/// output fits, and two outputs whose names differ only beyond the cut still get different
/// temporary files.
pub fn temp_path(output: &Path) -> PathBuf {
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty());
    let limit = name_max(dir.unwrap_or(Path::new(".")));
    temp_path_within(output, limit)
}

/// [`temp_path`] for a directory whose file names hold at most `limit` bytes.
pub fn temp_path_within(output: &Path, limit: usize) -> PathBuf {
    use std::hash::{Hash, Hasher};
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let name = output
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_else(|| b"out".to_vec());
    let suffix = format!(".{}.partial", std::process::id());
    let mut temp = Vec::with_capacity(limit);
    temp.push(b'.');
    if 1 + name.len() + suffix.len() <= limit {
        temp.extend_from_slice(&name);
    } else {
        // DefaultHasher::new() has fixed keys: the same name gives the same hash.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        let tag = format!("~{:016x}", h.finish());
        let room = limit.saturating_sub(1 + tag.len() + suffix.len());
        let mut cut = room.min(name.len());
        if let Ok(text) = std::str::from_utf8(&name) {
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
        }
        temp.extend_from_slice(&name[..cut]);
        temp.extend_from_slice(tag.as_bytes());
    }
    temp.extend_from_slice(suffix.as_bytes());
    output.with_file_name(std::ffi::OsString::from_vec(temp))
}

/// The longest file name `dir`'s file system takes, bytes (`pathconf(_PC_NAME_MAX)`; 255,
/// Linux's `NAME_MAX`, when it cannot say).
fn name_max(dir: &Path) -> usize {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return 255;
    };
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call; pathconf
    // only reads it.
    let n = unsafe { libc::pathconf(c.as_ptr(), libc::_PC_NAME_MAX) };
    if n > 0 {
        usize::try_from(n).unwrap_or(255)
    } else {
        255
    }
}

/// The signal that interrupted the render (0 when none).
static INTERRUPT: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// Installs the SIGINT/SIGTERM/SIGHUP handlers (once per process) and returns the flag they
/// set: the number of the first signal received, 0 before. A second signal exits at once.
pub fn interrupt_flag() -> Arc<AtomicUsize> {
    INTERRUPT
        .get_or_init(|| {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            let flag = Arc::new(AtomicUsize::new(0));
            let again = Arc::new(AtomicBool::new(false));
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                // Order matters: the conditional shutdown sees `again` before it is set by
                // the first signal, so only a second signal exits.
                let _ = signal_hook::flag::register_conditional_shutdown(
                    sig,
                    128 + sig,
                    Arc::clone(&again),
                );
                let _ = signal_hook::flag::register(sig, Arc::clone(&again));
                let _ = signal_hook::flag::register_usize(sig, Arc::clone(&flag), sig as usize);
            }
            flag
        })
        .clone()
}

/// The error for a render stopped by `signal`; `left` says what became of the output
/// ([`Target::interrupted_note`], or that nothing was written).
pub fn interrupted(signal: usize, left: &str) -> CliError {
    use signal_hook::consts::{SIGHUP, SIGTERM};
    let name = match i32::try_from(signal) {
        Ok(SIGTERM) => "SIGTERM",
        Ok(SIGHUP) => "SIGHUP",
        _ => "SIGINT",
    };
    CliError::new(
        ErrorKind::Interrupted(u8::try_from(signal).unwrap_or(u8::MAX)),
        format!("interrupted by {name}; {left}"),
    )
}

/// Whether an interrupt arrived (see [`interrupt_flag`]).
pub fn pending_interrupt(flag: &AtomicUsize) -> Option<usize> {
    match flag.load(Ordering::Relaxed) {
        0 => None,
        s => Some(s),
    }
}

/// Clears `O_NONBLOCK` on `f` (opened with it so that the open itself could not block).
pub(crate) fn blocking(f: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: `fd` is an open descriptor owned by `f` for the duration of both calls;
    // F_GETFL/F_SETFL only read and set its status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `path` is this process's standard output (the same open file, e.g.
/// `/dev/stdout`, or the FIFO or device it is connected to).
pub fn is_stdout(path: &Path) -> bool {
    use std::os::fd::AsFd;
    let Ok(m) = std::fs::metadata(path) else {
        return false;
    };
    let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return false;
    };
    File::from(fd)
        .metadata()
        .is_ok_and(|o| (o.dev(), o.ino()) == (m.dev(), m.ino()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    fn name_of(p: &Path) -> Vec<u8> {
        p.file_name().unwrap().as_bytes().to_vec()
    }

    #[test]
    fn temporary_names_fit_the_limit_and_stay_hidden_and_distinct() {
        let pid = std::process::id();
        // Short names are kept whole.
        let t = temp_path_within(Path::new("/d/out.wav"), 255);
        assert_eq!(t, PathBuf::from(format!("/d/.out.wav.{pid}.partial")));
        for limit in [255usize, 143, 64] {
            for len in [limit - 20, limit - 1, limit] {
                let a = format!("{}a.wav", "x".repeat(len - 5));
                let b = format!("{}b.wav", "x".repeat(len - 5));
                let (ta, tb) = (
                    temp_path_within(&Path::new("/d").join(&a), limit),
                    temp_path_within(&Path::new("/d").join(&b), limit),
                );
                for t in [&ta, &tb] {
                    let n = name_of(t);
                    assert!(n.len() <= limit, "{limit}/{len}: {} bytes", n.len());
                    assert!(n.starts_with(b".x") && n.ends_with(b".partial"));
                    assert_eq!(t.parent(), Some(Path::new("/d")));
                }
                assert_ne!(ta, tb, "{limit}/{len}: names differing at the end");
                // The same name gives the same temporary name.
                assert_eq!(ta, temp_path_within(&Path::new("/d").join(&a), limit));
            }
        }
        // A cut never splits a character.
        let long = "é".repeat(127);
        let t = temp_path_within(&Path::new("/d").join(&long), 255);
        let n = name_of(&t);
        assert!(n.len() <= 255);
        assert!(std::str::from_utf8(&n).is_ok(), "{n:?}");
    }
}
