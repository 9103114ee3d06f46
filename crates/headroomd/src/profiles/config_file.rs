//! The daemon config file (`config.toml`): which profile is active (`profile = "name"`) and
//! whether alerts are sent as desktop notifications (`[alerts] notify`), read with positions
//! for errors, written by changing the `profile` value only (comments and layout stay).

use std::io;
use std::path::Path;

use headroom_profile::config::{
    config_alerts_notify, config_profile, config_profile_position, config_unknown_keys,
};
use headroom_profile::DEFAULT_PROFILE_NAME;

use super::StoreError;
use crate::state_file::write_atomic;

/// A problem in the daemon config file, with its position (0 when it has none).
pub(super) use headroom_profile::config::ConfigProblem;

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
    config_profile(&text)
}

/// Where the `profile` value starts in the config file (line, column; `(0, 0)` when unknown).
pub(super) fn profile_position(path: &Path) -> (usize, usize) {
    crate::files::read_regular_to_string(path).map_or((0, 0), |t| config_profile_position(&t))
}

pub(super) fn read_config(path: &Path) -> Result<String, StoreError> {
    read_config_located(path)
        .map_err(|p| StoreError::Config(p.located(&path.display().to_string())))
}

/// The comment a config file written from scratch starts with.
const CONFIG_HEADER: &str =
    "# headroom daemon configuration. `profile` is the active profile (a name from\n\
     # `headroom profile list`, or a path to a .toml file). `[alerts] notify = true`\n\
     # also sends alerts as desktop notifications (followed while headroomd runs).\n";

/// Sets `profile = name` in the config file. Only that value changes: the rest of the text
/// (other keys, tables, comments, layout) stays as the user wrote it. A missing file is
/// created with a comment on its keys; an invalid one is an error and stays untouched.
pub(super) fn write_config(path: &Path, name: &str) -> Result<(), StoreError> {
    let text = match crate::files::read_regular_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let new_text = match text {
        None => format!("{CONFIG_HEADER}{}", profile_line(name)),
        Some(t) => with_profile(&t, name).map_err(|p| {
            StoreError::Config(
                ConfigProblem {
                    message: format!("cannot update it, it is not valid TOML: {}", p.message),
                    ..p
                }
                .located(&path.display().to_string()),
            )
        })?,
    };
    write_atomic(path, new_text.as_bytes()).map_err(|e| StoreError::io(path, e))
}

/// `profile = "name"` and a newline, the name quoted and escaped as TOML wants it.
fn profile_line(name: &str) -> String {
    format!("profile = {}\n", toml::Value::String(name.into()))
}

/// `text` (a config file) with its top-level `profile` set to `name`: the old value's text
/// replaced where there is one, else the key inserted after the file's opening comments
/// (top-level keys come before any table, so the file's meaning is otherwise unchanged).
/// Where the key is something other than a value (a table), the file is written anew from
/// its parsed keys. The parser's error, with its line and column, if `text` is not valid
/// TOML.
fn with_profile(text: &str, name: &str) -> Result<String, ConfigProblem> {
    let problem = |offset: Option<usize>, message: String| {
        let (line, column) = offset.map_or((0, 0), |o| headroom_profile::line_col(text, o));
        ConfigProblem {
            line,
            column,
            message,
        }
    };
    let doc = toml::de::DeTable::parse(text)
        .map_err(|e| problem(e.span().map(|s| s.start), e.message().to_owned()))?;
    let quoted = toml::Value::String(name.into()).to_string();
    let edited = match doc.get_ref().get("profile") {
        Some(v) if !matches!(v.get_ref(), toml::de::DeValue::Table(_)) => {
            let span = v.span();
            text.get(..span.start)
                .zip(text.get(span.end..))
                .map(|(head, tail)| format!("{head}{quoted}{tail}"))
        }
        Some(_) => None,
        None => {
            // After the opening run of comment and blank lines.
            let mut at = 0;
            for line in text.split_inclusive('\n') {
                let t = line.trim_start();
                if !(t.is_empty() || t.starts_with('#')) || !line.ends_with('\n') {
                    break;
                }
                at += line.len();
            }
            text.get(..at)
                .zip(text.get(at..))
                .map(|(head, tail)| format!("{head}{}{tail}", profile_line(name)))
        }
    };
    // The edit must read back as the same file with the new profile; anything else (never
    // expected) falls back to writing the parsed keys anew.
    let reads_back = |t: &String| {
        toml::from_str::<toml::Table>(t).ok().is_some_and(|mut t| {
            let ok = t.remove("profile") == Some(toml::Value::String(name.into()));
            let mut old = toml::from_str::<toml::Table>(text).unwrap_or_default();
            old.remove("profile");
            ok && t == old
        })
    };
    if let Some(t) = edited.filter(reads_back) {
        return Ok(t);
    }
    let mut table = toml::from_str::<toml::Table>(text)
        .map_err(|e| problem(e.span().map(|s| s.start), e.message().to_owned()))?;
    table.insert("profile".into(), toml::Value::String(name.into()));
    Ok(format!(
        "{CONFIG_HEADER}{}",
        toml::to_string(&table).map_err(|e| problem(None, e.to_string()))?
    ))
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
    config_alerts_notify(&text).map_err(|p| p.located(&path.display().to_string()))
}

/// Keys of the config file headroomd does not know, one warning each in file order
/// (``file:line:col: unknown key `profle` (did you mean `profile`?); ignored``). A typo
/// does not keep the file from loading: the known keys are read as usual. None when the file
/// is missing, unreadable or not valid TOML (errors reported by the readers of its keys).
pub fn unknown_key_warnings(path: &Path) -> Vec<String> {
    let Ok(text) = crate::files::read_regular_to_string(path) else {
        return Vec::new();
    };
    let file = path.display().to_string();
    config_unknown_keys(&text)
        .iter()
        .map(|p| p.located(&file))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::with_profile;

    #[test]
    fn only_the_profile_value_changes() {
        let text = "# my setup\nprofile = \"night\"   # the quiet one\n\n[alerts]\n# on the laptop\nnotify = true\n";
        assert_eq!(
            with_profile(text, "music").unwrap(),
            "# my setup\nprofile = \"music\"   # the quiet one\n\n[alerts]\n# on the laptop\nnotify = true\n"
        );
        // A literal string, no newline at the end.
        assert_eq!(
            with_profile("profile = 'a'", "b").unwrap(),
            "profile = \"b\""
        );
    }

    #[test]
    fn a_missing_key_goes_after_the_opening_comments() {
        assert_eq!(
            with_profile("# c\n\n[alerts]\nnotify = true\n", "x").unwrap(),
            "# c\n\nprofile = \"x\"\n[alerts]\nnotify = true\n"
        );
        assert_eq!(with_profile("", "x").unwrap(), "profile = \"x\"\n");
        assert_eq!(with_profile("# c", "x").unwrap(), "profile = \"x\"\n# c");
    }

    #[test]
    fn names_are_quoted_and_odd_files_still_read_back() {
        let name = "/home/u/my \"odd\" \\ profile.toml";
        let t = with_profile("profile = \"night\"\n", name).unwrap();
        let table: toml::Table = toml::from_str(&t).unwrap();
        assert_eq!(table["profile"].as_str(), Some(name));
        // `profile` as a table: written anew, the other keys kept.
        let t = with_profile("[profile]\nx = 1\n[alerts]\nnotify = true\n", "n").unwrap();
        let table: toml::Table = toml::from_str(&t).unwrap();
        assert_eq!(table["profile"].as_str(), Some("n"));
        assert_eq!(table["alerts"]["notify"].as_bool(), Some(true));
    }

    #[test]
    fn invalid_toml_is_an_error() {
        let e = with_profile("# c\nprofile = \n", "x").unwrap_err();
        assert_eq!((e.line, e.column), (2, 11), "{e:?}");
        assert!(with_profile("[alerts\n", "x").is_err());
    }
}
