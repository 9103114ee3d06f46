//! The daemon config file (`config.toml`): which profile is active (`profile = "name"`) and
//! whether alerts are sent as desktop notifications (`[alerts] notify`), read with positions
//! for errors, written keeping the file's other keys.

use std::io;
use std::path::Path;

use headroom_profile::{line_col, DEFAULT_PROFILE_NAME};

use super::StoreError;
use crate::state_file::write_atomic;

/// A problem in the daemon config file, with its position (0 when it has none).
pub(super) struct ConfigProblem {
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) message: String,
}

/// Reads `profile = "…"` from the config file. A missing file or key means `default`.
pub(super) fn read_config_located(path: &Path) -> Result<String, ConfigProblem> {
    let text = match crate::files::read_regular_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DEFAULT_PROFILE_NAME.into()),
        Err(e) => {
            return Err(ConfigProblem {
                line: 0,
                column: 0,
                message: format!("cannot read it: {e}"),
            })
        }
    };
    let doc = toml::de::DeTable::parse(&text).map_err(|e| {
        let (line, column) = line_col(&text, e.span().map_or(0, |s| s.start));
        ConfigProblem {
            line,
            column,
            message: format!("TOML syntax error: {}", e.message()),
        }
    })?;
    match doc.get_ref().get("profile") {
        None => Ok(DEFAULT_PROFILE_NAME.into()),
        Some(v) => match v.get_ref() {
            toml::de::DeValue::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            _ => {
                let (line, column) = line_col(&text, v.span().start);
                Err(ConfigProblem {
                    line,
                    column,
                    message: "`profile` must be a non-empty string (a profile name or path)".into(),
                })
            }
        },
    }
}

pub(super) fn read_config(path: &Path) -> Result<String, StoreError> {
    read_config_located(path).map_err(|p| {
        StoreError::Config(if p.line == 0 {
            format!("{}: {}", path.display(), p.message)
        } else {
            format!("{}:{}:{}: {}", path.display(), p.line, p.column, p.message)
        })
    })
}

/// Sets `profile = name` in the config file, keeping its other keys.
pub(super) fn write_config(path: &Path, name: &str) -> Result<(), StoreError> {
    let mut table = match crate::files::read_regular_to_string(path) {
        Ok(t) => toml::from_str::<toml::Table>(&t).map_err(|e| {
            StoreError::Config(format!(
                "{}: cannot update it, it is not valid TOML: {}",
                path.display(),
                e.message()
            ))
        })?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => toml::Table::new(),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    table.insert("profile".into(), toml::Value::String(name.into()));
    let text = format!(
        "# headroom daemon configuration. `profile` is the active profile (a name from\n\
         # `headroom profile list`, or a path to a .toml file). `[alerts] notify = true`\n\
         # also sends alerts as desktop notifications (followed while headroomd runs).\n{}",
        toml::to_string(&table).map_err(|e| StoreError::Config(e.to_string()))?
    );
    write_atomic(path, text.as_bytes()).map_err(|e| StoreError::io(path, e))
}

/// Reads `[alerts] notify` (desktop notifications of alerts) from the config file: `false`
/// when the file, the table or the key is missing; an error with `file:line:col` when it is
/// not a boolean or the file is not valid TOML.
pub fn read_alerts_notify(path: &Path) -> Result<bool, String> {
    let text = match crate::files::read_regular_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("{}: cannot read it: {e}", path.display())),
    };
    let at = |offset: usize, msg: &str| {
        let (line, column) = line_col(&text, offset);
        format!("{}:{line}:{column}: {msg}", path.display())
    };
    let doc = toml::de::DeTable::parse(&text).map_err(|e| {
        at(
            e.span().map_or(0, |s| s.start),
            &format!("TOML syntax error: {}", e.message()),
        )
    })?;
    let Some(alerts) = doc.get_ref().get("alerts") else {
        return Ok(false);
    };
    let toml::de::DeValue::Table(t) = alerts.get_ref() else {
        return Err(at(
            alerts.span().start,
            "`alerts` must be a table (`[alerts]`)",
        ));
    };
    match t.get("notify") {
        None => Ok(false),
        Some(v) => match v.get_ref() {
            toml::de::DeValue::Boolean(b) => Ok(*b),
            _ => Err(at(v.span().start, "`alerts.notify` must be true or false")),
        },
    }
}
