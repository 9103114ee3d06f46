//! `headroomd`: the headroom daemon binary.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Parser;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// System-wide loudness leveller for PipeWire: provides the `headroom-processed` sink.
#[derive(Debug, Parser)]
#[command(name = "headroomd", version, about, long_about = None)]
struct Args {
    /// Config file (default: $XDG_CONFIG_HOME/headroom/config.toml). Its folder must exist;
    /// a missing file is written when a profile is chosen or a setting saved.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Play into this sink (node name) when it exists, instead of the default sink.
    #[arg(long, value_name = "NODE_NAME", env = "HEADROOM_REAL_SINK")]
    real_sink: Option<String>,
    /// Start with the levelling chain bypassed.
    #[arg(long)]
    bypass: bool,
    /// Make headroom-processed the default sink while running (the previous default becomes
    /// the real sink and is restored on exit); same as `route.promote_default = true`.
    #[arg(long)]
    promote_default: bool,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The message and its causes on one line, after the program's name as the
            // `headroom` command's errors are: `main` returning the error printed its `Debug`
            // form, a stack backtrace included whenever RUST_BACKTRACE is set.
            eprintln!("headroomd: {}", one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// `e` and its causes on one line, joined by `: `. A cause whose text is already in the line
/// is left out: an error that quotes its source (`binding PATH: {source}`) is not followed by
/// that source again.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

fn run() -> anyhow::Result<()> {
    headroomd::fix_malloc_mmap_threshold();
    // Before any thread exists, so every thread inherits the blocked mask.
    headroomd::block_shutdown_signals()?;
    let args = Args::parse();
    // Still before any thread exists: the guard is a fork of this process.
    let guard = headroomd::guard::start();
    let (filter, bad_filter) = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .with(filter)
        .init();
    if let Some(why) = bad_filter {
        tracing::warn!("ignoring RUST_LOG ({why}); logging at info");
    }
    if let Err(e) = guard {
        tracing::warn!("{e}: after SIGKILL or a crash the streams keep their Layer A volume");
    }
    if let Some(own) = args
        .real_sink
        .as_deref()
        .filter(|s| s.starts_with(headroomd::names::OWN_NODE_PREFIX))
    {
        // As `set preferred_real_sink` refuses it: headroom would play into itself.
        anyhow::bail!(
            "the real sink `{own}` (--real-sink or HEADROOM_REAL_SINK) is headroomd's own node, \
             not an output device (name the device the processed sound should play into: \
             `wpctl status` lists the sinks)"
        );
    }
    if let Some(path) = args.config.as_deref().filter(|p| !p.exists()) {
        // Given by hand, a missing file is more likely a typo than a first start; a missing
        // folder certainly is: it is not made (a typo left stray folders behind).
        let folder = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !folder.is_dir() {
            anyhow::bail!(
                "--config {}: the folder {} does not exist (create it first, or give a file in \
                 an existing folder)",
                path.display(),
                folder.display()
            );
        }
        tracing::warn!(
            "--config {}: no such file; starting with the defaults (the file is written when \
             a profile is chosen or a setting saved)",
            path.display()
        );
    }
    headroomd::run(headroomd::DaemonConfig {
        config_path: args.config,
        preferred_real_sink: args.real_sink,
        bypass: args.bypass,
        promote_default: args.promote_default,
    })
}

/// The log filter from `RUST_LOG` (`level` or `target=level` directives separated by commas,
/// e.g. `debug` or `warn,headroomd=debug`); `info` when unset, empty or invalid, with the reason
/// it was invalid.
fn log_filter(spec: Option<&str>) -> (Targets, Option<String>) {
    let default = Targets::new().with_default(LevelFilter::INFO);
    match spec.map(str::trim) {
        None | Some("") => (default, None),
        Some(s) => match s.parse::<Targets>() {
            Ok(t) => (t, None),
            Err(e) => (default, Some(format!("{s:?}: {e}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn log_filter_reads_levels_and_targets() {
        let (t, bad) = log_filter(Some("warn,headroomd=debug"));
        assert!(bad.is_none());
        assert!(t.would_enable("headroomd::engine", &Level::DEBUG));
        assert!(!t.would_enable("pipewire", &Level::INFO));
        let (t, _) = log_filter(Some("debug"));
        assert!(t.would_enable("anything", &Level::DEBUG));
        let (t, bad) = log_filter(None);
        assert!(bad.is_none());
        assert!(t.would_enable("headroomd", &Level::INFO));
        assert!(!t.would_enable("headroomd", &Level::DEBUG));
    }

    /// Each cause once: an error whose message quotes its source (the control socket's
    /// `binding PATH: {source}`) was printed with the source a second time.
    #[test]
    fn a_fatal_error_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = anyhow::Error::new(headroomd::control::ControlError::Io {
            context: "binding",
            path: PathBuf::from("/run/x.sock"),
            source: io,
        })
        .context("starting the control socket /run/x.sock");
        assert_eq!(
            one_line(&e),
            "starting the control socket /run/x.sock: binding /run/x.sock: denied"
        );
        let e = anyhow::Error::new(std::io::Error::other("inner")).context("outer");
        assert_eq!(one_line(&e), "outer: inner");
    }

    #[test]
    fn invalid_log_filter_falls_back_to_info_with_a_reason() {
        let (t, bad) = log_filter(Some("headroomd=loud"));
        assert!(bad.unwrap().contains("headroomd=loud"));
        assert!(t.would_enable("headroomd", &Level::INFO));
        assert!(!t.would_enable("headroomd", &Level::DEBUG));
    }
}
