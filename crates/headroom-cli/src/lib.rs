//! # headroom-cli
//!
//! The `headroom` command line as a library, so that its parts can be tested: the clap
//! grammar ([`cli`]), the connection to the daemon ([`connection`]) and the commands that use
//! it ([`daemon`]), output formatting ([`mod@format`], [`output`]), the offline commands
//! ([`offline`]), the live monitor ([`monitor`]) and the systemd unit helper ([`service`]).
//! The binary is a thin wrapper around [`run`].

pub mod cli;
pub mod connection;
pub mod core_api;
pub mod daemon;
pub mod error;
pub mod format;
pub mod history;
pub mod monitor;
pub mod offline;
pub mod output;
pub mod service;
pub mod wav;

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, Command, ServiceCmd};
use crate::error::{CliError, CliResult};
use crate::output::emit;

/// Runs one parsed command, writing its normal output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> CliResult {
    let json = cli.json;
    match cli.command {
        Command::Completions { shell } => {
            // clap_complete panics on a failed write: generate into memory, write from there.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "headroom", &mut script);
            out.write_all(&script)?;
            Ok(())
        }
        Command::Man { dir: None } => {
            let man = clap_mangen::Man::new(Cli::command());
            man.render(out)?;
            Ok(())
        }
        Command::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir)
                .and_then(|()| clap_mangen::generate_to(Cli::command(), &dir))
                .map_err(|e| CliError::failed(format!("{}: {e}", dir.display())))?;
            emit(out, json, &serde_json::json!({"dir": dir}), || {
                format!("man pages written to {}\n", dir.display())
            })
        }
        Command::Render(args) => {
            let params = core_api::render_params(args.profile.as_deref(), &args.sets)?;
            let summary =
                offline::render_file(&args.input, &args.output, &params, args.block as usize)?;
            emit(out, json, &summary, || summary.human())
        }
        Command::Analyze { file } => {
            let report = offline::analyze_file(&file)?;
            emit(out, json, &report, || report.human())
        }
        Command::Validate { file } => {
            let msg = core_api::validate_profile(&file)?;
            emit(
                out,
                json,
                &serde_json::json!({"file": file, "valid": true}),
                || msg,
            )
        }
        Command::Service(cmd) => {
            let msg = match cmd {
                ServiceCmd::Install { exec, no_enable } => service::install(exec, no_enable)?,
                ServiceCmd::Uninstall { no_enable } => service::uninstall(no_enable)?,
            };
            emit(
                out,
                json,
                &serde_json::json!({"message": msg.trim_end()}),
                || msg,
            )
        }
        other => daemon::run(other, cli.socket, json, out),
    }
}
