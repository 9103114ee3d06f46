//! `headroom monitor`: the full-screen live view (ratatui) and its NDJSON mode.
//!
//! [`MonitorState`] is a pure view model updated from daemon events; [`draw`] renders it.
//! The terminal loop lives in [`run`](crate::monitor::run) (raw mode, alternate screen, a
//! panic hook that restores the terminal, reconnection when the daemon comes back).

mod draw;
mod state;

pub use draw::draw;
pub use state::{
    Banner, DspView, MeterView, MonitorState, StreamRow, HISTORY_SPAN_S, STALE_AFTER_MS,
};
