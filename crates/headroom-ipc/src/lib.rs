//! # headroom-ipc
//!
//! Wire types and framing of the headroom control protocol (placeholder until implemented;
//! `IPC.md` is the spec).

#![warn(missing_docs)]

/// Protocol version spoken by this crate.
pub const PROTOCOL_VERSION: u32 = 1;
