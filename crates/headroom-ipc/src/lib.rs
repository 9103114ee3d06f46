//! # headroom-ipc
//!
//! Wire types and framing of the headroom control protocol, shared by `headroomd` (server),
//! `headroom-client` and anyone writing a client. The specification follows below (it is the
//! repository's `IPC.md`, tested against these types); the types are its source of truth.
//!
//! * Transport: a Unix stream socket at [`default_socket_path`]
//!   (`$XDG_RUNTIME_DIR/headroom/control.sock`, overridable with [`SOCKET_ENV`]).
//! * Framing: newline-delimited JSON, one object per line, at most [`MAX_FRAME_BYTES`] per
//!   client frame ([`LineDecoder`]).
//! * Handshake: the server greets with [`ServerHello`]; a client may answer with
//!   [`ClientHello`]; a different [`PROTOCOL_VERSION`] is refused with `version_mismatch`.
//! * Requests: [`RequestFrame`] = `id` + [`Request`]; results: [`Response`]; errors:
//!   [`IpcError`] with an [`ErrorCode`]; subscription events: [`Event`] by [`Topic`].
//! * [`state`]: events folded into the daemon's state ([`DaemonState`]) and replicated as a
//!   subscriber's snapshot — the one fold the daemon and its clients share.
//!
//! This crate does not depend on the DSP crate: meters are mirrored as plain [`Meters`].
//!
//! ---
//!
#![doc = include_str!("../../../IPC.md")]

use std::path::PathBuf;

pub mod alert;
pub mod error;
pub mod event;
pub mod frame;
pub mod request;
pub mod response;
pub mod state;

pub use alert::{Alert, AlertCleared, AlertKind, Alerts, StateWord};
pub use error::{ErrorCode, IpcError};
pub use event::{
    DaemonShutdown, DaemonStarted, Event, LayerAAttached, LayerADetached, LayerALevel, MetersTick,
    Overflow, ProfileChanged, ProfileError, RuleChanged, SettingChanged, StreamRemoved,
};
pub use frame::{
    decode_client_frame, decode_server_frame, encode_line, ClientFrame, ClientHello, DecodeError,
    FrameTooLarge, LineDecoder, ServerFrame, ServerHello,
};
pub use request::{BypassMode, Request, RequestFrame, Route, SettingValue, Topic, METHODS};
pub use response::page_streams;
pub use response::{
    BypassState, DspTiming, History, HistoryMark, HistorySample, MarkKind, Meters, PipewireState,
    ProfileActive, ProfileEntry, ProfileInForce, ProfileList, ProfileShow, ProfileSource, Response,
    RouteRule, Routes, RuleSource, SettingEntry, Settings, Status, StreamInfo, Subscribed,
};
pub use state::DaemonState;

/// Protocol (major) version spoken by this crate. Additive changes (new methods, new
/// optional fields, new events, new error codes) keep it; incompatible changes bump it.
pub const PROTOCOL_VERSION: u32 = 1;

/// Maximum size of one client → server frame in bytes, excluding the `\n`. A longer frame
/// gets a `frame_too_large` error and the connection is closed.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Maximum size of one server → client frame in bytes, excluding the `\n` (results such as
/// `history` or `profile.show` can be larger than requests). Clients drop longer frames.
pub const MAX_SERVER_FRAME_BYTES: usize = 4 * 1024 * 1024;

/// Longest application pattern of `route.set` / `route.unset`, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;

/// Most runtime (user) route rules the daemon keeps; `route.set` of a new pattern beyond them
/// is refused (`invalid_params`).
pub const MAX_USER_RULES: usize = 256;

/// Longest name (profile, setting key, string setting value) a request may carry, in bytes;
/// application names, binaries and media names of streams are cut to this length on the wire.
pub const MAX_NAME_BYTES: usize = 1024;

/// Most samples one `history` answer carries (an hour at the default interval); longer
/// histories are paged (see [`History::next_unix_ms`]).
pub const HISTORY_PAGE_SAMPLES: usize = 3600;

/// Budget of one `route.list` answer (and of the `routing_snapshot` event) for its streams, in
/// encoded bytes; more streams are paged (see [`Routes::next_cursor`]), or in a subscription,
/// follow the snapshot as `stream_routed` events. Well below [`MAX_SERVER_FRAME_BYTES`]:
/// the rules (at most [`MAX_USER_RULES`] user rules and a profile's) come on top.
pub const ROUTES_PAGE_BYTES: usize = 1024 * 1024;

/// Loudness published when there is no measurement yet (the BS.1770 absolute gate). Meter
/// values at or below it mean "no measurement". Part of the wire spec; the same value as
/// `headroom_core::LUFS_FLOOR` (this crate does not depend on the DSP; the daemon's tests
/// check that the two agree).
pub const LUFS_FLOOR: f32 = -70.0;

/// `s` cut to at most `max` bytes on a character boundary (names the daemon reports, e.g. a
/// stream's application name, are cut to [`MAX_NAME_BYTES`]).
pub fn truncate_name(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Environment variable overriding the socket path.
pub const SOCKET_ENV: &str = "HEADROOM_SOCKET";

/// The longest control socket path, bytes: what a Unix socket address holds on Linux
/// (`sun_path`'s 108 bytes less its closing NUL). The daemon refuses to listen on a longer
/// path and clients refuse to connect to one, each naming the path's length and this limit.
pub const MAX_SOCKET_PATH_BYTES: usize = 107;

/// `Some` of `path`'s length in bytes when it is longer than [`MAX_SOCKET_PATH_BYTES`]: no
/// socket can be bound or reached there.
pub fn socket_path_too_long(path: &std::path::Path) -> Option<usize> {
    use std::os::unix::ffi::OsStrExt;
    let len = path.as_os_str().as_bytes().len();
    (len > MAX_SOCKET_PATH_BYTES).then_some(len)
}

/// The control socket path: `$HEADROOM_SOCKET` if set and non-empty, else
/// `$XDG_RUNTIME_DIR/headroom/control.sock`, else (no usable `XDG_RUNTIME_DIR`)
/// `<temp dir>/headroom-<uid>/control.sock`.
pub fn default_socket_path() -> PathBuf {
    if let Some(p) = std::env::var_os(SOCKET_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    socket_dir().join("control.sock")
}

fn socket_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        Some(dir) => dir.join("headroom"),
        None => {
            // SAFETY: geteuid has no preconditions and cannot fail.
            let uid = unsafe { libc::geteuid() };
            std::env::temp_dir().join(format!("headroom-{uid}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test owns the environment of this test binary (no other test reads it).
    #[test]
    fn socket_path_honours_override_then_runtime_dir() {
        std::env::set_var(SOCKET_ENV, "/tmp/custom/hr.sock");
        assert_eq!(default_socket_path(), PathBuf::from("/tmp/custom/hr.sock"));
        std::env::set_var(SOCKET_ENV, "");
        std::env::set_var("XDG_RUNTIME_DIR", "/run/user/4242");
        assert_eq!(
            default_socket_path(),
            PathBuf::from("/run/user/4242/headroom/control.sock")
        );
        std::env::set_var("XDG_RUNTIME_DIR", "relative/dir");
        let p = default_socket_path();
        assert!(
            p.is_absolute() && p.ends_with("control.sock"),
            "{}",
            p.display()
        );
        std::env::remove_var("XDG_RUNTIME_DIR");
        std::env::remove_var(SOCKET_ENV);
        let p = default_socket_path();
        assert!(p.starts_with(std::env::temp_dir()), "{}", p.display());
    }
}
