//! Writing a command's result: human-readable text, or JSON with `--json`.

use std::io::Write;

use serde::Serialize;

use crate::error::{CliError, CliResult};

/// Writes `value` as pretty JSON (`json`), else the text `human` makes, to `out`.
pub fn emit<T: Serialize>(
    out: &mut dyn Write,
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> CliResult {
    if json {
        let s = serde_json::to_string_pretty(value).map_err(|e| CliError::failed(e.to_string()))?;
        writeln!(out, "{s}")?;
    } else {
        out.write_all(human().as_bytes())?;
    }
    Ok(())
}
