//! The `headroom` command's tests: the built binary (exit codes, help and man pages), the
//! offline commands on files of every format (`offline`), against a fake daemon, the output formats, the monitor's view model and layout,
//! the systemd unit, and — under `live` — against a real headroomd in a PipeWire sandbox.

mod binary;
mod docs_pages;
mod fake_daemon;
mod format_golden;
mod help_examples;
mod live;
mod modules;
mod monitor_events;
mod monitor_keys;
mod monitor_layout;
mod offline;
mod support;
mod systemd_unit;
