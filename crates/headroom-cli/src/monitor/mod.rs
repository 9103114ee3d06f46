//! `headroom monitor`: the full-screen live view (ratatui) and its NDJSON mode.
//!
//! [`MonitorState`] is a pure view model updated from daemon events ([`apply_event`]);
//! [`draw`] renders it. [`run`] owns the terminal: it connects before entering raw mode (so
//! a daemon that is down is reported plainly), restores the terminal on exit and on panic,
//! and reconnects when the daemon comes back.

mod draw;
mod events;
mod keys;
mod run;
mod state;

pub use draw::draw;
pub use events::{apply_event, apply_status, meter_view};
pub use keys::{literal_glob, on_key, perform, Action, Control};
pub use run::run;
pub use state::{
    Banner, DspView, MeterView, MonitorState, StreamRow, ERROR_BANNER_MS, HISTORY_SPAN_S,
    STALE_AFTER_MS,
};
