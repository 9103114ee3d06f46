//! Socket file handling: directory and file permissions, stale socket replacement, peer
//! credential checks.

use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use headroom_ipc::{ErrorCode, IpcError};

use super::ControlError;

/// Identity of a socket file (device, inode), to unlink only our own socket.
pub(crate) type FileId = (u64, u64);

/// The longest path a Unix socket address holds, bytes
/// ([`headroom_ipc::MAX_SOCKET_PATH_BYTES`], which clients check too).
pub fn max_path_bytes() -> usize {
    headroom_ipc::MAX_SOCKET_PATH_BYTES
}

/// Refuses a socket path longer than a Unix socket address holds
/// ([`ControlError::PathTooLong`], naming the path and the limit), before anything is made
/// for it.
pub fn check_path(path: &Path) -> Result<(), ControlError> {
    match headroom_ipc::socket_path_too_long(path) {
        Some(len) => Err(ControlError::PathTooLong {
            path: path.to_owned(),
            len,
            max: max_path_bytes(),
        }),
        None => Ok(()),
    }
}

/// Creates the socket's directory (mode 0700) if needed and binds `path` (mode 0600).
///
/// A path too long for a socket address is refused before the directory is made. A socket
/// file nobody listens on (left by a crashed daemon) is replaced. A live socket is left
/// alone and [`ControlError::AlreadyRunning`] is returned. A non-socket file at `path` is
/// never removed.
pub(crate) fn bind(path: &Path) -> Result<(UnixListener, FileId), ControlError> {
    let io = |context: &'static str| {
        move |source| ControlError::Io {
            context,
            path: path.to_owned(),
            source,
        }
    };
    check_path(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        prepare_dir(dir)?;
    }
    let listener = match UnixListener::bind(path) {
        Ok(l) => l,
        Err(e) if e.kind() == ErrorKind::AddrInUse => {
            let meta = std::fs::symlink_metadata(path).map_err(io("inspecting"))?;
            if !meta.file_type().is_socket() {
                return Err(ControlError::NotASocket {
                    path: path.to_owned(),
                });
            }
            match UnixStream::connect(path) {
                Ok(_) => {
                    return Err(ControlError::AlreadyRunning {
                        path: path.to_owned(),
                    })
                }
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    tracing::info!("replacing stale control socket {}", path.display());
                    std::fs::remove_file(path).map_err(io("removing stale socket"))?;
                    UnixListener::bind(path).map_err(|e| {
                        if e.kind() == ErrorKind::AddrInUse {
                            ControlError::AlreadyRunning {
                                path: path.to_owned(),
                            }
                        } else {
                            io("binding")(e)
                        }
                    })?
                }
                Err(e) => return Err(io("probing existing socket")(e)),
            }
        }
        Err(e) => return Err(io("binding")(e)),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io("setting permissions of"))?;
    let meta = std::fs::symlink_metadata(path).map_err(io("inspecting"))?;
    Ok((listener, (meta.dev(), meta.ino())))
}

/// Identity of the file now at `path`, if any.
pub(crate) fn file_id(path: &Path) -> Option<FileId> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

fn prepare_dir(dir: &Path) -> Result<(), ControlError> {
    let euid = nix::unistd::geteuid().as_raw();
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| ControlError::Io {
                context: "creating directory",
                path: dir.to_owned(),
                source,
            }),
        Err(source) => Err(ControlError::Io {
            context: "inspecting directory",
            path: dir.to_owned(),
            source,
        }),
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(ControlError::InsecureDir {
                    path: dir.to_owned(),
                    reason: "it is not a directory".into(),
                });
            }
            let mode = meta.mode() & 0o7777;
            let shared_sticky = mode & 0o1000 != 0;
            if meta.uid() != euid && !(meta.uid() == 0 && shared_sticky) {
                return Err(ControlError::InsecureDir {
                    path: dir.to_owned(),
                    reason: format!("it belongs to uid {}, not to us ({euid})", meta.uid()),
                });
            }
            // Our own private directory is tightened to 0700; shared sticky directories
            // (e.g. /tmp with HEADROOM_SOCKET) are left as they are, the socket itself is 0600.
            if meta.uid() == euid && !shared_sticky && mode != 0o700 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
                    |source| ControlError::Io {
                        context: "setting permissions of",
                        path: dir.to_owned(),
                        source,
                    },
                )?;
            }
            Ok(())
        }
    }
}

/// The uid of the process at the other end of `stream` (SO_PEERCRED).
pub fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    let cred = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
        .map_err(std::io::Error::from)?;
    Ok(cred.uid())
}

/// Decides whether a peer running as `peer_uid` may talk to a daemon serving `allowed_uid`:
/// only the same user may. The error is the frame sent before closing.
pub fn check_peer(peer_uid: u32, allowed_uid: u32) -> Result<(), IpcError> {
    if peer_uid == allowed_uid {
        Ok(())
    } else {
        Err(IpcError::new(
            ErrorCode::PermissionDenied,
            format!(
                "permission denied: this headroomd serves uid {allowed_uid}, the client runs as uid {peer_uid}"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared limit is what this system's socket address holds.
    #[test]
    fn the_path_limit_is_the_socket_address_s() {
        // SAFETY: `sockaddr_un` is plain data (a family and a byte array), valid all zero.
        let addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        assert_eq!(max_path_bytes(), addr.sun_path.len() - 1);
    }

    #[test]
    fn other_uids_are_refused() {
        assert!(check_peer(1000, 1000).is_ok());
        let e = check_peer(1001, 1000).unwrap_err();
        assert_eq!(e.code, ErrorCode::PermissionDenied);
        assert!(e.message.contains("1001"), "{}", e.message);
        assert_eq!(
            check_peer(0, 1000).unwrap_err().code,
            ErrorCode::PermissionDenied
        );
    }

    #[test]
    fn peer_uid_of_a_socketpair_is_our_uid() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(peer_uid(&a).unwrap(), nix::unistd::geteuid().as_raw());
    }

    #[test]
    fn directory_is_created_private_and_socket_is_0600() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/control.sock");
        let (_l, id) = bind(&path).unwrap();
        let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let sock_mode = std::fs::symlink_metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(sock_mode, 0o600);
        assert_eq!(file_id(&path), Some(id));
    }

    #[test]
    fn a_regular_file_is_never_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("control.sock");
        std::fs::write(&path, b"data").unwrap();
        let e = bind(&path).unwrap_err();
        assert!(matches!(e, ControlError::NotASocket { .. }), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
    }
}
