//! Settings written on a command line: `key=value` assignments and loosely typed values.

use crate::{ErrorKind, ProfileError, SettingValue};

/// Splits a command-line assignment such as `agc.target_lufs=-18` into key and value.
///
/// The value is typed loosely: `true`/`false` → bool, a finite number → number, a quoted
/// string → the text inside the quotes, anything else → string. [`crate::Profile::set`] converts it
/// to the setting's own type.
pub fn parse_assignment(s: &str) -> Result<(String, SettingValue), ProfileError> {
    let Some((key, raw)) = s.split_once('=') else {
        return Err(ProfileError::new(
            ErrorKind::InvalidAssignment,
            None,
            format!("`{s}` is not an assignment: write KEY=VALUE, e.g. agc.target_lufs=-18"),
        ));
    };
    let key = key.trim();
    if key.is_empty() {
        return Err(ProfileError::new(
            ErrorKind::InvalidAssignment,
            None,
            format!("`{s}` has no key before `=`"),
        ));
    }
    Ok((key.to_owned(), parse_value(raw)))
}

/// Types a value written on the command line (see [`parse_assignment`]).
pub fn parse_value(raw: &str) -> SettingValue {
    let raw = raw.trim();
    match raw {
        "true" => return SettingValue::Bool(true),
        "false" => return SettingValue::Bool(false),
        _ => {}
    }
    if let Ok(n) = raw.parse::<f64>() {
        if n.is_finite() {
            return SettingValue::Number(n);
        }
    }
    for q in ['"', '\''] {
        if raw.len() >= 2 && raw.starts_with(q) && raw.ends_with(q) {
            return SettingValue::String(raw[1..raw.len() - 1].to_owned());
        }
    }
    SettingValue::String(raw.to_owned())
}
