//! The connection to headroomd: where its socket is, connecting, and what a failed call means
//! for the command (its exit code).

use std::path::{Path, PathBuf};

use headroom_client::{Client, ClientError};

use crate::error::{CliError, CliResult};

/// The control socket path: `--socket`, else `$HEADROOM_SOCKET` when set and not empty (an
/// empty variable counts as unset, as for headroomd), else
/// `$XDG_RUNTIME_DIR/headroom/control.sock` ([`headroom_ipc::default_socket_path`]).
pub fn socket_path(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(headroom_ipc::default_socket_path)
}

/// Maps a client error onto the command's error and exit code: 3 when the daemon is not
/// running, 1 otherwise.
pub fn client_error(e: ClientError, socket: &Path) -> CliError {
    match e {
        ClientError::NotRunning { stale: false, .. } => CliError::daemon_down(socket),
        ClientError::NotRunning { stale: true, .. } => CliError::daemon_stale(socket),
        ClientError::Server(err) => CliError::refused(err.code.as_str(), err.message),
        other => CliError::failed(other.to_string()),
    }
}

/// Connects to the daemon at `socket`.
pub fn connect(socket: &Path) -> CliResult<Client> {
    Client::connect_to(socket).map_err(|e| client_error(e, socket))
}
