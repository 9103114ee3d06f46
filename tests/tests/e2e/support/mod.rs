//! Helpers of the end-to-end tests (the sandbox, a `headroomd` child and audio helpers are the
//! `headroom-tests` library): the routing backends, graph reading, players.

pub mod backend;
pub mod graph;
pub mod play;

pub use backend::{Backend, DaemonBackend, Driver};
pub use graph::*;
pub use play::*;
