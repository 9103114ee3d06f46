//! `hr-sandbox`: runs a command inside a fresh headless PipeWire sandbox and tears the sandbox
//! down afterwards, whatever the command's outcome.
//!
//! Usage: `hr-sandbox run -- COMMAND [ARGS...]`. The command sees the sandbox environment
//! (`XDG_RUNTIME_DIR`, `DBUS_SESSION_BUS_ADDRESS`, …) and `HEADROOM_SANDBOX_SINK`, the name of
//! the default null sink. The exit code is the command's. SIGINT, SIGTERM or SIGHUP to
//! `hr-sandbox` is passed on to the command, and the sandbox is torn down once it has ended
//! (after 5 s it is killed).

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use headroom_tests::{Sandbox, DEFAULT_SINK};

const USAGE: &str = "usage: hr-sandbox run -- COMMAND [ARGS...]\n\
    Runs COMMAND inside a private headless PipeWire, WirePlumber and D-Bus session whose \
    default sink is a null sink, and tears it down afterwards.";

/// The last terminating signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::Relaxed);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match args.split_first() {
        Some((verb, rest)) if verb == "run" => match rest.first().map(String::as_str) {
            Some("--") => &rest[1..],
            Some("-h" | "--help") => usage(0),
            _ => rest,
        },
        Some((verb, _)) if verb == "-h" || verb == "--help" || verb == "help" => usage(0),
        _ => usage(2),
    };
    if cmd.is_empty() {
        usage(2);
    }
    match run(cmd) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("hr-sandbox: {e:#}");
            std::process::exit(1);
        }
    }
}

fn usage(code: i32) -> ! {
    if code == 0 {
        println!("{USAGE}");
    } else {
        eprintln!("{USAGE}");
    }
    std::process::exit(code)
}

/// Starts the sandbox, runs `cmd` in it and returns its exit code (128 + the signal that
/// ended it).
fn run(cmd: &[String]) -> Result<i32> {
    let (prog, prog_args) = cmd.split_first().context("no command")?;
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe; the
        // processes started later get the default disposition back at exec.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
    let sb = Sandbox::start_unserialised().context("starting the PipeWire sandbox")?;
    eprintln!("hr-sandbox: private PipeWire up in {}", sb.dir().display());
    let mut child = sb
        .command(prog)
        .args(prog_args)
        .env("HEADROOM_SANDBOX_SINK", DEFAULT_SINK)
        .stdin(std::process::Stdio::inherit())
        .spawn()
        .with_context(|| format!("running {prog}"))?;
    let mut passed_on = None;
    let status = loop {
        if let Some(s) = child.try_wait().context("waiting for the command")? {
            break s;
        }
        let sig = SIGNAL.load(Ordering::Relaxed);
        match passed_on {
            None if sig != 0 => {
                // SAFETY: kill(2) on the child we spawned and have not reaped.
                unsafe {
                    libc::kill(child.id() as i32, sig);
                }
                passed_on = Some(Instant::now());
            }
            Some(at) if at.elapsed() > Duration::from_secs(5) => {
                let _ = child.kill();
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(sb);
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1))
}
