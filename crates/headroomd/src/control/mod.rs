//! The control plane: the Unix-socket server that `headroom` (CLI, TUI) talks to.
//!
//! * [`Server::start`] binds the socket (stale socket replaced, a live daemon never stolen,
//!   directory 0700, socket 0600, peers of other uids refused) and serves each connection on
//!   its own thread.
//! * The daemon's engine implements [`Handler`]: it answers requests and provides the
//!   snapshot events a new subscriber gets first.
//! * The engine publishes changes through a [`Broadcaster`] (never from the audio thread);
//!   slow subscribers lose events (counted and reported with `daemon/overflow`, followed by
//!   fresh snapshots of the topics concerned), never slow anyone else down.
//! * Deadlines: reads have three (first frame, rest of a frame, idle without a
//!   subscription), replies one ([`WRITE_TIMEOUT`]); events none, so a paused subscriber is
//!   never cut off for not reading.
//!
//! Wire format and semantics: `IPC.md` and the `headroom-ipc` crate.

mod broadcast;
pub mod convert;
mod server;
mod socket;

use std::path::PathBuf;

pub use broadcast::{Broadcaster, SUBSCRIBER_QUEUE_CAPACITY};
pub use headroom_ipc::{Event, IpcError, Request, Response, Topic};
pub use server::{
    Server, ServerConfig, ServerHandle, FIRST_FRAME_TIMEOUT, FRAME_TIMEOUT, IDLE_TIMEOUT,
    MAX_CLIENTS, MAX_CONSECUTIVE_BAD_FRAMES, SHUTDOWN_GRACE, WRITE_TIMEOUT,
};
pub use socket::{check_path, check_peer, max_path_bytes, peer_uid};

/// A successful answer to a request: its result, and the warning the reply carries when the
/// request was carried out but something about it went wrong (`IPC.md`: a change in force
/// that could not be saved, say).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The result.
    pub result: Response,
    /// What went wrong although the request was carried out, if anything.
    pub warning: Option<String>,
}

impl From<Response> for Reply {
    fn from(result: Response) -> Self {
        Reply {
            result,
            warning: None,
        }
    }
}

/// What the daemon's engine implements to serve the control socket. Called from connection
/// threads, concurrently; both methods must be quick (no waiting on PipeWire round trips
/// longer than a few milliseconds) and must not call [`Broadcaster::publish`] while holding
/// a lock that publishing code paths also take in the reverse order.
pub trait Handler: Send + Sync {
    /// Answers one request. Never receives [`Request::Subscribe`] (the server handles it).
    /// The result kind must match the method (see `IPC.md`). A panic becomes an `internal`
    /// error reply.
    fn handle(&self, req: Request) -> Result<Reply, IpcError>;

    /// Snapshot events for a new subscriber to `topics`, sent before any delta: e.g.
    /// `daemon/snapshot` (status), `routing/snapshot`, `profile/snapshot`,
    /// `settings/snapshot`, a `meters/tick`. Events of other topics are filtered out. Also
    /// asked for (from the subscriber's event thread) for the topics a subscriber lost
    /// events of, sent right after its `daemon/overflow` notice.
    fn snapshot(&self, topics: &[Topic]) -> Vec<Event>;
}

/// Errors starting the control server.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Another daemon answers on the socket.
    #[error("another headroomd is already running (socket {})", path.display())]
    AlreadyRunning {
        /// Socket path.
        path: PathBuf,
    },
    /// Something that is not a socket sits at the socket path.
    #[error("{} exists and is not a socket; refusing to replace it", path.display())]
    NotASocket {
        /// Socket path.
        path: PathBuf,
    },
    /// The socket path is longer than a Unix socket address holds.
    #[error(
        "control socket path {} is {len} bytes long; a Unix socket path holds at most {max} \
         (HEADROOM_SOCKET or XDG_RUNTIME_DIR sets it: choose a shorter one)",
        path.display()
    )]
    PathTooLong {
        /// Socket path.
        path: PathBuf,
        /// Its length, bytes.
        len: usize,
        /// The longest a socket path may be, bytes ([`max_path_bytes`]).
        max: usize,
    },
    /// The socket directory is not safe to use.
    #[error("refusing to use socket directory {}: {reason}", path.display())]
    InsecureDir {
        /// Directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file system or socket call failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}
