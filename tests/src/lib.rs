//! # headroom-tests
//!
//! The headless PipeWire sandbox that headroom's end-to-end tests (and `make demo`) run in, plus
//! small audio helpers: WAV synthesis and reading, capture with `pw-record`, loudness via the
//! `ebur128` crate.
//!
//! A [`Sandbox`] owns a private `XDG_RUNTIME_DIR` with a session `dbus-daemon`, `pipewire`
//! and `wireplumber`, and a stereo null sink made the default sink. Readiness is polled
//! (`pw-cli info 0`, `pw-metadata -n default`), never slept for. Every process it starts is
//! killed and reaped when the sandbox is dropped — also when a test panics — and, should the
//! test process itself die, by `PR_SET_PDEATHSIG`.
//!
//! Sandboxes within one test binary are serialised by a process-wide lock (timing-sensitive
//! audio tests on a 2-core machine must not compete); cargo runs test binaries one after
//! another, so at most one sandbox is up at a time.
//!
//! Modules: [`sandbox`] (the session and the processes in it), [`daemon`] (a `headroomd` in a
//! sandbox, signal helpers), [`audio`] ([`Wav`], synthesis, loudness), [`wait`] (polling) and
//! [`modules`] (a crate's module graph, for the no-import-cycles tests of every crate).

pub mod audio;
pub mod daemon;
pub mod modules;
pub mod sandbox;
pub mod wait;

pub use audio::{read_wav, short_term_series, sine, Wav};
pub use sandbox::{
    checkout_root, merge_dumps, metadata_value_name, stop_child, which, workspace_bin, Recorder,
    Sandbox, CHECKOUT_MARKER, DEFAULT_SINK, SANDBOX_MARKER,
};
pub use wait::wait_for;
