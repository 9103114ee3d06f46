//! `headroom`: the headroom command line. See `headroom --help`.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use headroom_cli::cli::Cli;
use headroom_cli::error::EXIT_ERROR;

/// Whether `--json` is on the command line (before it could be parsed).
fn wants_json() -> bool {
    std::env::args_os().skip(1).any(|a| a == "--json")
}

/// With `--json`, an error is also printed on standard output as
/// `{"error":{"code":…,"message":…}}` (the exit code is unchanged).
fn json_error(code: &str, message: &str) {
    let v = serde_json::json!({"error": {"code": code, "message": message}});
    println!("{v}");
}

/// When `--set KEY VALUE` was typed (a space instead of `=`), how to write it.
fn set_hint() -> Option<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.windows(3).find_map(|w| {
        (w[0] == "--set" && !w[1].contains('=') && !w[1].starts_with('-')).then(|| {
            format!(
                "--set takes KEY=VALUE as one argument: --set {}={}",
                w[1], w[2]
            )
        })
    })
}

/// A value clap refused (`headroom route set mpv elsewhere`, or one its value parser rejected:
/// `--since soon`) as one line: the bad value and, when clap knows them, the values that are
/// valid — `error: invalid value 'elsewhere' for
/// '<ROUTE>' (possible values: processed, bypass)`.
fn invalid_value_line(rendered: &str) -> Option<String> {
    let mut lines = rendered.lines();
    let first = lines.next()?.trim_end();
    let possible = lines.find_map(|l| {
        l.trim()
            .strip_prefix("[possible values: ")
            .and_then(|v| v.strip_suffix(']'))
    });
    Some(match possible {
        Some(v) => format!("{first} (possible values: {v})"),
        None => first.to_string(),
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            let informational = matches!(e.kind(), K::DisplayHelp | K::DisplayVersion)
                || matches!(e.kind(), K::DisplayHelpOnMissingArgumentOrSubcommand);
            let hint = set_hint();
            if wants_json() && matches!(e.kind(), K::DisplayHelpOnMissingArgumentOrSubcommand) {
                // `headroom --json route`: the help text is no answer a script can read.
                let text = e.render().to_string();
                let usage = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("Usage: "))
                    .unwrap_or("headroom <COMMAND>");
                json_error(
                    "usage",
                    &format!("a subcommand is missing: {usage} (see --help)"),
                );
            }
            if wants_json() && !informational {
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or_default();
                let msg = first.trim_start_matches("error: ");
                match &hint {
                    Some(h) => json_error("usage", &format!("{msg}; {h}")),
                    None => json_error("usage", msg),
                }
            }
            if let (Some(h), false) = (&hint, informational) {
                // The hint replaces clap's `use '-- -20'` tip, which does not apply here.
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or_default();
                eprintln!("{first}\n\n  hint: {h}\n");
                return ExitCode::from(2);
            }
            if matches!(e.kind(), K::InvalidValue | K::ValueValidation) {
                if let Some(line) = invalid_value_line(&e.render().to_string()) {
                    eprintln!("{line}");
                    return ExitCode::from(2);
                }
            }
            e.exit();
        }
    };
    let json = cli.json;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = headroom_cli::run(cli, &mut out);
    let flushed = out.flush();
    match result {
        Ok(()) => match flushed {
            Ok(()) => ExitCode::SUCCESS,
            // A closed pipe (`headroom status | head -1`) is not worth a message.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("headroom: cannot write output: {e}");
                ExitCode::from(EXIT_ERROR)
            }
        },
        // The reader of our output went away (`headroom monitor --json | head -1`).
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                let _ = writeln!(out, "{}", e.to_json());
                let _ = out.flush();
            }
            // The message may quote what the daemon or a file said: no control characters
            // reach the terminal. Each line of a message of several (one per problem, as
            // `validate` gives them) is prefixed alike, so every line reads the same way.
            for line in headroom_cli::format::printable_text(&e.to_string()).lines() {
                eprintln!("headroom: {line}");
            }
            ExitCode::from(e.code)
        }
    }
}
