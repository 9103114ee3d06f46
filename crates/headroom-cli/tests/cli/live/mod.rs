//! The `headroom` binary against a real headroomd in a private PipeWire sandbox (what `make
//! check` leaves out: `--skip live::`).

mod daemon;
mod monitor;
mod monitor_keys;
