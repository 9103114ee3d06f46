//! `headroom`: the headroom command line. See `headroom --help`.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use headroom_cli::cli::Cli;
use headroom_cli::error::EXIT_ERROR;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            eprintln!("headroom: {e}");
            ExitCode::from(e.code)
        }
    }
}
