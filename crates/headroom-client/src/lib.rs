//! # headroom-client
//!
//! A small blocking client for the headroomd control socket (placeholder until implemented).

#![warn(missing_docs)]

pub use headroom_ipc::PROTOCOL_VERSION;
