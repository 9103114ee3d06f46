//! # headroom-cli
//!
//! The `headroom` command line as a library, so that its parts can be tested: the clap
//! grammar ([`cli`]), the connection to the daemon ([`connection`]) and the commands that use
//! it ([`daemon`]), output formatting ([`mod@format`], [`output`]), the offline commands
//! ([`offline`]) and their audio files ([`audio`]), the live monitor ([`monitor`]) and the
//! systemd unit helper ([`service`]). The binary is a thin wrapper around [`run`].

pub mod audio;
pub mod cli;
pub mod connection;
pub mod core_api;
pub mod daemon;
pub mod error;
pub mod format;
pub mod history;
pub mod manpages;
pub mod monitor;
pub mod offline;
pub mod output;
pub mod service;

use std::io::Write;

use crate::cli::{Cli, Command, ProfileCmd, ServiceCmd};
use crate::error::{CliError, CliResult};
use crate::output::emit;

/// Runs one parsed command, writing its normal output to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> CliResult {
    let json = cli.json;
    match cli.command {
        Command::Completions { shell } => {
            out.write_all(&manpages::completion_script(shell))?;
            Ok(())
        }
        Command::Profile(ProfileCmd::List { names: true }) => {
            let names = core_api::profile_names();
            emit(out, json, &serde_json::json!({"names": names}), || {
                names.iter().map(|n| format!("{n}\n")).collect()
            })
        }
        Command::Man { dir: None } => {
            manpages::headroom_page(out)?;
            Ok(())
        }
        Command::Man { dir: Some(dir) } => {
            manpages::write_all(&dir)
                .map_err(|e| CliError::failed(format!("{}: {e}", dir.display())))?;
            emit(out, json, &serde_json::json!({"dir": dir}), || {
                format!("man pages written to {}\n", dir.display())
            })
        }
        Command::Render(args) => {
            let profile = core_api::render_profile(args.profile.as_deref(), &args.sets)?;
            if !args.quiet {
                // Valid settings that will not do what the rest of the profile asks.
                for a in profile.advice() {
                    eprintln!("headroom: warning: {a}");
                }
            }
            let params = profile.chain;
            let (container, samples) = offline::render::parse_format(&args.format)?;
            let jobs = offline::render::plan(
                &args.paths,
                args.output_dir.as_deref(),
                args.in_place,
                container,
            )?;
            let opts = offline::render::RenderOptions {
                params,
                block: args.block as usize,
                container,
                samples,
                in_place: args.in_place,
                measure: json || !args.quiet,
                progress: !args.quiet,
            };
            offline::render::render(&jobs, &opts, json, args.quiet, out)
        }
        Command::Analyze(args) => {
            let jobs = args.jobs.map(|j| j as usize).unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            });
            offline::analyze::analyze(&args.paths, jobs, json, out)
        }
        Command::Validate { file } if file.file_name().is_some_and(|n| n == "config.toml") => {
            let c = core_api::validate_config(&file)?;
            emit(
                out,
                json,
                &serde_json::json!({
                    "file": file,
                    "valid": true,
                    "kind": "config",
                    "profile": c.profile,
                    "notify": c.notify,
                    "warnings": c.warnings,
                }),
                || {
                    let mut t: String = c.warnings.iter().map(|w| format!("{w}\n")).collect();
                    t += &format!(
                        "{}: ok (headroomd config: profile `{}`, desktop notifications {})\n",
                        file.display(),
                        c.profile,
                        if c.notify { "on" } else { "off" }
                    );
                    t
                },
            )
        }
        Command::Validate { file } => {
            let (msg, warnings) = core_api::validate_profile(&file)?;
            emit(
                out,
                json,
                &serde_json::json!({"file": file, "valid": true, "warnings": warnings}),
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
