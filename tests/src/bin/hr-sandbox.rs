//! `hr-sandbox`: runs a command inside a fresh headless PipeWire sandbox and tears the sandbox
//! down afterwards, whatever the command's outcome.
//!
//! Usage: `hr-sandbox run -- COMMAND [ARGS...]`. The command sees the sandbox environment
//! (`XDG_RUNTIME_DIR`, `DBUS_SESSION_BUS_ADDRESS`, …) and `HEADROOM_SANDBOX_SINK`, the name of
//! the default null sink. The exit code is the command's.

use anyhow::{bail, Context, Result};
use headroom_tests::{Sandbox, DEFAULT_SINK};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = match args.split_first() {
        Some((verb, rest)) if verb == "run" => rest,
        _ => bail!("usage: hr-sandbox run -- COMMAND [ARGS...]"),
    };
    let cmd = match rest.first().map(String::as_str) {
        Some("--") => &rest[1..],
        _ => rest,
    };
    let Some((prog, prog_args)) = cmd.split_first() else {
        bail!("usage: hr-sandbox run -- COMMAND [ARGS...]");
    };
    let sb = Sandbox::start_unserialised().context("starting the PipeWire sandbox")?;
    eprintln!("hr-sandbox: private PipeWire up in {}", sb.dir().display());
    let status = sb
        .command(prog)
        .args(prog_args)
        .env("HEADROOM_SANDBOX_SINK", DEFAULT_SINK)
        .stdin(std::process::Stdio::inherit())
        .status()
        .with_context(|| format!("running {prog}"))?;
    drop(sb);
    std::process::exit(status.code().unwrap_or(1));
}
