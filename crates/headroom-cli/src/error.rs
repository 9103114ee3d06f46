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

/// What kind of failure ended the command; it decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The daemon refused the request, or the input was bad (exit code 1).
    Failed,
    /// The command line was wrong (exit code 2).
    Usage,
    /// headroomd is not running, or went away (exit code 3).
    DaemonDown,
    /// Reading or writing failed (exit code 1), with the I/O error's kind: e.g. a closed
    /// standard output (`BrokenPipe`, `headroom status | head -1`), which `main` treats as
    /// a normal end.
    Io(std::io::ErrorKind),
    /// A signal (SIGINT, SIGTERM) stopped the command (exit code 128 + the signal's number,
    /// as a shell reports a process killed by it).
    Interrupted(u8),
}

impl ErrorKind {
    /// The process exit code of this kind of failure.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Failed | ErrorKind::Io(_) => EXIT_ERROR,
            ErrorKind::Usage => EXIT_USAGE,
            ErrorKind::DaemonDown => EXIT_DAEMON_DOWN,
            ErrorKind::Interrupted(signal) => 128u8.saturating_add(signal),
        }
    }
}

/// An error that ends the command, with the exit code it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// Process exit code (`kind.exit_code()`, one of the `EXIT_*` constants).
    pub code: u8,
    /// Message printed to stderr (without the `headroom: ` prefix).
    pub message: String,
    /// The daemon's error code (`unknown_key`, `invalid_value`, …) when the daemon refused
    /// the request.
    pub daemon_code: Option<String>,
}

impl CliError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            code: kind.exit_code(),
            message: message.into(),
            daemon_code: None,
        }
    }

    /// A request the daemon refused with the error code `code`.
    pub fn refused(code: &str, message: impl Into<String>) -> Self {
        Self {
            daemon_code: Some(code.to_string()),
            ..Self::failed(message)
        }
    }

    /// The error's code for `--json`: the daemon's (`unknown_key`, …) when it refused the
    /// request, else `failed`, `usage`, `daemon_down`, `io` or `interrupted`.
    pub fn code_name(&self) -> &str {
        if let Some(c) = &self.daemon_code {
            return c;
        }
        match self.kind {
            ErrorKind::Failed => "failed",
            ErrorKind::Usage => "usage",
            ErrorKind::DaemonDown => "daemon_down",
            ErrorKind::Io(_) => "io",
            ErrorKind::Interrupted(_) => "interrupted",
        }
    }

    /// The error as `--json` prints it on standard output:
    /// `{"error":{"code":…,"message":…}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code_name(), "message": self.message}})
    }

    /// A failed request or bad input (exit code 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }

    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// The daemon's socket file at `socket` is left over from a daemon that stopped without
    /// removing it (killed, crashed): connecting is refused (exit code 3).
    pub fn daemon_stale(socket: &Path) -> Self {
        Self::new(
            ErrorKind::DaemonDown,
            format!(
                "headroomd is not running (connection refused: {} is left over from a daemon \
                 that stopped) — start it with `systemctl --user start headroomd` or \
                 `headroomd`, which replaces the old socket",
                socket.display()
            ),
        )
    }

    /// The daemon is not reachable at `socket` (exit code 3).
    pub fn daemon_down(socket: &Path) -> Self {
        Self::new(
            ErrorKind::DaemonDown,
            format!(
                "headroomd is not running (no control socket at {}) — start it with \
                 `systemctl --user start headroomd` or `headroomd`",
                socket.display()
            ),
        )
    }

    /// Whether this is a write into a closed pipe (the reader has gone: not worth a
    /// message).
    pub fn is_broken_pipe(&self) -> bool {
        self.kind == ErrorKind::Io(std::io::ErrorKind::BrokenPipe)
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
        Self::new(ErrorKind::Io(e.kind()), e.to_string())
    }
}

/// Result type of every command.
pub type CliResult<T = ()> = Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_exit_codes_and_io_errors_keep_their_kind() {
        assert_eq!(CliError::failed("x").code, EXIT_ERROR);
        assert_eq!(CliError::usage("x").code, EXIT_USAGE);
        assert_eq!(
            CliError::daemon_down(Path::new("/s")).code,
            EXIT_DAEMON_DOWN
        );
        let pipe: CliError = std::io::Error::from(std::io::ErrorKind::BrokenPipe).into();
        assert!(pipe.is_broken_pipe());
        assert_eq!(pipe.code, EXIT_ERROR);
        let full: CliError = std::io::Error::from(std::io::ErrorKind::StorageFull).into();
        assert!(!full.is_broken_pipe());
        assert_eq!(CliError::new(ErrorKind::Interrupted(15), "x").code, 143);
        // A message that merely mentions a broken pipe is not one.
        assert!(!CliError::failed("Broken pipe (os error 32)").is_broken_pipe());
    }
}
