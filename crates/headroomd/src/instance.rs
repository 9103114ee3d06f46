//! One headroomd per user: an exclusive lock (`flock`) on `headroomd.lock` in the state
//! directory, taken before anything touches PipeWire, the control socket or the state files.
//!
//! The control socket alone does not keep a second daemon out: one started with another
//! socket path (`HEADROOM_SOCKET`) would create a second processed sink, tap the same
//! applications (the two fighting over their volumes) and share `routes.json`, `state.json`
//! and the history. The lock belongs to the state directory those files live in, so daemons
//! with separate `XDG_STATE_HOME`s (tests, sandboxes) do not collide.
//!
//! The holder writes its pid and socket path into the file, so a second daemon can name it.
//! The lock goes with the process (the kernel drops it when the descriptor closes, however
//! the daemon ends); the file stays, and its contents only count while it is locked.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// The lock file's name, in the state directory.
pub const LOCK_FILE_NAME: &str = "headroomd.lock";

/// Largest lock file read back (a pid and a path).
const MAX_LOCK_FILE_BYTES: u64 = 16 * 1024;

/// Who holds the lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The running daemon's process id.
    pub pid: u32,
    /// Its control socket.
    pub socket: PathBuf,
}

/// Why the instance lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// Another headroomd holds the lock.
    #[error(
        "another headroomd is already running ({}lock {})",
        holder.as_ref().map_or_else(String::new, |h| format!(
            "pid {}, socket {}; ",
            h.pid,
            h.socket.display()
        )),
        lock.display()
    )]
    AlreadyRunning {
        /// The lock file.
        lock: PathBuf,
        /// The running daemon, when its lock file says.
        holder: Option<Holder>,
    },
    /// The lock file could not be opened, locked or written.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// The held instance lock; dropping it releases the lock (the file stays).
#[derive(Debug)]
pub struct InstanceLock {
    path: PathBuf,
    _file: Flock<File>,
}

impl InstanceLock {
    /// Takes the lock in `state_dir` (created if missing) for a daemon serving `socket`, and
    /// writes this process's pid and `socket` into the lock file. Never waits: when another
    /// process holds the lock, [`InstanceError::AlreadyRunning`] names it.
    pub fn acquire(state_dir: &Path, socket: &Path) -> Result<Self, InstanceError> {
        let io = |context: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| InstanceError::Io {
                context,
                path,
                source,
            }
        };
        std::fs::create_dir_all(state_dir).map_err(io("creating directory", state_dir))?;
        let path = state_dir.join(LOCK_FILE_NAME);
        let file = crate::files::open_own(
            &path,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600),
        )
        .map_err(io("opening", &path))?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(f) => f,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                return Err(InstanceError::AlreadyRunning {
                    holder: read_holder(&mut file),
                    lock: path,
                })
            }
            Err((_, e)) => return Err(io("locking", &path)(io::Error::from(e))),
        };
        let holder = Holder {
            pid: std::process::id(),
            socket: socket.to_owned(),
        };
        let mut text = serde_json::to_vec(&holder).map_err(|e| io("writing", &path)(e.into()))?;
        text.push(b'\n');
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(&text))
            .map_err(io("writing", &path))?;
        Ok(InstanceLock { path, _file: file })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The holder the lock file names, if it can be read (it may be empty for a moment, while
/// the holder is writing it).
fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = Vec::new();
    file.rewind().ok()?;
    file.take(MAX_LOCK_FILE_BYTES).read_to_end(&mut text).ok()?;
    serde_json::from_slice(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_in_the_same_directory_names_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state/headroom");
        let first = InstanceLock::acquire(&dir, Path::new("/run/a.sock")).unwrap();
        assert_eq!(first.path(), dir.join(LOCK_FILE_NAME));
        let e = InstanceLock::acquire(&dir, Path::new("/run/b.sock")).unwrap_err();
        let InstanceError::AlreadyRunning { holder, lock } = &e else {
            panic!("{e}");
        };
        assert_eq!(lock, &dir.join(LOCK_FILE_NAME));
        assert_eq!(
            holder.as_ref(),
            Some(&Holder {
                pid: std::process::id(),
                socket: "/run/a.sock".into()
            })
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "another headroomd is already running (pid {}, socket /run/a.sock; lock ",
                std::process::id()
            )),
            "{msg}"
        );
        drop(first);
        let again = InstanceLock::acquire(&dir, Path::new("/run/b.sock")).unwrap();
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert!(text.contains("/run/b.sock"), "{text}");
        assert!(
            !text.contains("/run/a.sock"),
            "rewritten, not appended: {text}"
        );
    }

    #[test]
    fn separate_state_directories_do_not_collide() {
        let tmp = tempfile::tempdir().unwrap();
        let _a = InstanceLock::acquire(&tmp.path().join("a"), Path::new("/a.sock")).unwrap();
        let _b = InstanceLock::acquire(&tmp.path().join("b"), Path::new("/b.sock")).unwrap();
    }

    #[test]
    fn an_unreadable_holder_is_still_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let _first = InstanceLock::acquire(tmp.path(), Path::new("/a.sock")).unwrap();
        std::fs::write(tmp.path().join(LOCK_FILE_NAME), b"garbage").unwrap();
        let e = InstanceLock::acquire(tmp.path(), Path::new("/b.sock")).unwrap_err();
        assert!(
            matches!(e, InstanceError::AlreadyRunning { holder: None, .. }),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("another headroomd is already running (lock "),
            "{e}"
        );
    }

    #[test]
    fn a_symlink_at_the_lock_path_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("elsewhere");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, tmp.path().join(LOCK_FILE_NAME)).unwrap();
        let e = InstanceLock::acquire(tmp.path(), Path::new("/a.sock")).unwrap_err();
        assert!(matches!(e, InstanceError::Io { .. }), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }
}
