//! # headroomd
//!
//! The headroom daemon as a library: [`run`] starts everything and returns when the daemon is
//! asked to stop. The `headroomd` binary is a thin wrapper, so integration tests can start a
//! real daemon in-process or as a child process.

#![warn(missing_docs)]

pub mod history;

/// Daemon start-up configuration (command line and environment).
#[derive(Debug, Clone, Default)]
pub struct DaemonConfig {
    /// Path of the daemon config file (`$XDG_CONFIG_HOME/headroom/config.toml` when `None`).
    pub config_path: Option<std::path::PathBuf>,
}

/// Runs the daemon until it is told to stop (placeholder until implemented).
pub fn run(_config: DaemonConfig) -> anyhow::Result<()> {
    anyhow::bail!("headroomd is not implemented yet")
}
