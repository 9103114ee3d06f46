//! `headroomd`: the headroom daemon binary.

use std::path::PathBuf;

use clap::Parser;

/// System-wide loudness leveller for PipeWire: provides the `headroom-processed` sink.
#[derive(Debug, Parser)]
#[command(name = "headroomd", version, about, long_about = None)]
struct Args {
    /// Config file (default: $XDG_CONFIG_HOME/headroom/config.toml).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Play into this sink (node name) when it exists, instead of the default sink.
    #[arg(long, value_name = "NODE_NAME", env = "HEADROOM_REAL_SINK")]
    real_sink: Option<String>,
    /// Start with the levelling chain bypassed.
    #[arg(long)]
    bypass: bool,
}

fn main() -> anyhow::Result<()> {
    // Before any thread exists, so every thread inherits the blocked mask.
    headroomd::block_shutdown_signals()?;
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    headroomd::run(headroomd::DaemonConfig {
        config_path: args.config,
        preferred_real_sink: args.real_sink,
        bypass: args.bypass,
    })
}
