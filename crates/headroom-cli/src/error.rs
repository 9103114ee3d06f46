//! Errors of the `headroom` command and their exit codes.

use std::fmt;
use std::path::Path;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the daemon refused the request, or bad input.
pub const EXIT_ERROR: u8 = 1;
/// Exit code: usage error (what clap uses for bad arguments).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: headroomd is not running.
pub const EXIT_DAEMON_DOWN: u8 = 3;

/// An error that ends the command, with the exit code it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// Process exit code (one of the `EXIT_*` constants).
    pub code: u8,
    /// Message printed to stderr (without the `headroom: ` prefix).
    pub message: String,
}

impl CliError {
    /// A failed request or bad input (exit code 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_ERROR,
            message: message.into(),
        }
    }

    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// The daemon is not reachable at `socket` (exit code 3).
    pub fn daemon_down(socket: &Path) -> Self {
        Self {
            code: EXIT_DAEMON_DOWN,
            message: format!(
                "headroomd is not running (no control socket at {}) — start it with \
                 `systemctl --user start headroomd` or `headroomd`",
                socket.display()
            ),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::failed(e.to_string())
    }
}

/// Result type of every command.
pub type CliResult<T = ()> = Result<T, CliError>;
