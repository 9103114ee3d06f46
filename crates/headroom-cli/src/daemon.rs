//! The commands that talk to headroomd over its control socket.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::Command;
use crate::error::{CliError, CliResult};

/// The control socket path: `--socket` / `$HEADROOM_SOCKET`, else
/// `$XDG_RUNTIME_DIR/headroom/control.sock`.
pub fn socket_path(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(p) = explicit {
        return p;
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    runtime.join("headroom").join("control.sock")
}

/// Runs a daemon command.
pub fn run(cmd: Command, socket: Option<PathBuf>, json: bool, out: &mut dyn Write) -> CliResult {
    let path = socket_path(socket);
    let _ = (cmd, json, out);
    if std::os::unix::net::UnixStream::connect(&path).is_err() {
        return Err(CliError::daemon_down(&path));
    }
    Err(CliError::failed(
        "this command is not available in this build",
    ))
}
