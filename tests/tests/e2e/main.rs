//! headroom end to end, each test in its own private PipeWire sandbox (`headroom-tests`):
//! the audio path, the control plane, faults and recovery, the preferred real sink, profiles,
//! auto-promote to the default sink, a surround real sink,
//! routing, a soak, and `make demo`'s desktop-session path. Sandboxes are serialised by a
//! process-wide lock, so at most one is up at a time.
//!
//! Needs the workspace binaries built (`cargo build --workspace --bins`; `make test` does).

mod alerts;
mod audio;
mod control;
mod demo;
mod faults;
mod levelling;
mod profiles;
mod promote;
mod real_sink;
mod routing;
mod smoke;
mod soak;
mod support;
mod surround;
mod trust;
