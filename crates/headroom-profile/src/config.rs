//! The daemon config file (`config.toml`) read from its text: which profile is active
//! (`profile = "name"`, a name or a path), whether alerts are also sent as desktop
//! notifications (`[alerts] notify = true`), and the keys that are neither (typos, reported
//! as warnings: they do not keep the file from loading). headroomd reads its config file
//! with these, and `headroom validate config.toml` checks a file with the same code.
//!
//! ```toml
//! profile = "night"
//! [alerts]
//! notify = true
//! ```

use crate::{closest, line_col, DEFAULT_PROFILE_NAME};

/// A problem in a config file, at `line:column` (1-based; 0 when it has no position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Line, 1-based (0: no position).
    pub line: usize,
    /// Column, 1-based (0: no position).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl ConfigProblem {
    fn at(text: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_col(text, offset);
        ConfigProblem {
            line,
            column,
            message: message.into(),
        }
    }

    /// `file:line:col: message` (`file: message` without a position).
    pub fn located(&self, file: &str) -> String {
        if self.line == 0 {
            format!("{file}: {}", self.message)
        } else {
            format!("{file}:{}:{}: {}", self.line, self.column, self.message)
        }
    }
}

/// The config file's keys: at the top level, and in `[alerts]`.
pub const TOP_LEVEL_KEYS: &[&str] = &["profile", "alerts"];
/// The keys of the config file's `[alerts]` table.
pub const ALERTS_KEYS: &[&str] = &["notify"];

fn parse(text: &str) -> Result<toml::Spanned<toml::de::DeTable<'_>>, ConfigProblem> {
    toml::de::DeTable::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        ConfigProblem::at(
            text,
            at,
            format!(
                "TOML syntax error: {}",
                crate::syntax_message(text, at, e.message())
            ),
        )
    })
}

/// The active profile `text` names (`default` when it names none).
pub fn config_profile(text: &str) -> Result<String, ConfigProblem> {
    let doc = parse(text)?;
    match doc.get_ref().get("profile") {
        None => Ok(DEFAULT_PROFILE_NAME.into()),
        Some(v) => match v.get_ref() {
            toml::de::DeValue::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            _ => Err(ConfigProblem::at(
                text,
                v.span().start,
                "`profile` must be a non-empty string (a profile name or path)",
            )),
        },
    }
}

/// Where the value of `profile` starts in `text` (line, column; 1-based): what an error
/// about the profile it names points at. `(0, 0)` when the text does not parse or has no
/// `profile`.
pub fn config_profile_position(text: &str) -> (usize, usize) {
    match parse(text) {
        Ok(doc) => doc
            .get_ref()
            .get("profile")
            .map_or((0, 0), |v| line_col(text, v.span().start)),
        Err(_) => (0, 0),
    }
}

/// `[alerts] notify` of `text`: `false` when the table or the key is missing.
pub fn config_alerts_notify(text: &str) -> Result<bool, ConfigProblem> {
    let doc = parse(text)?;
    let Some(alerts) = doc.get_ref().get("alerts") else {
        return Ok(false);
    };
    let toml::de::DeValue::Table(t) = alerts.get_ref() else {
        return Err(ConfigProblem::at(
            text,
            alerts.span().start,
            "`alerts` must be a table (`[alerts]`)",
        ));
    };
    match t.get("notify") {
        None => Ok(false),
        Some(v) => match v.get_ref() {
            toml::de::DeValue::Boolean(b) => Ok(*b),
            _ => Err(ConfigProblem::at(
                text,
                v.span().start,
                "`alerts.notify` must be true or false",
            )),
        },
    }
}

/// Each key of `text` that the config file does not have, in file order, with the closest
/// known key as a hint (``unknown key `profle` (did you mean `profile`?); ignored``). None
/// when `text` is not valid TOML (that is [`config_profile`]'s error).
pub fn config_unknown_keys(text: &str) -> Vec<ConfigProblem> {
    let Ok(doc) = toml::de::DeTable::parse(text) else {
        return Vec::new();
    };
    let mut found: Vec<(usize, String)> = Vec::new();
    let mut check =
        |key: &toml::Spanned<std::borrow::Cow<'_, str>>, place: &str, known: &[&str]| {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                return;
            }
            let hint = closest(name, known.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            found.push((
                key.span().start,
                format!("unknown key `{name}`{place}{hint}; ignored"),
            ));
        };
    for (key, value) in doc.get_ref() {
        check(key, "", TOP_LEVEL_KEYS);
        if key.get_ref() == "alerts" {
            if let toml::de::DeValue::Table(t) = value.get_ref() {
                for k in t.keys() {
                    check(k, " in [alerts]", ALERTS_KEYS);
                }
            }
        }
    }
    found.sort_by_key(|(at, _)| *at);
    found
        .into_iter()
        .map(|(at, msg)| ConfigProblem::at(text, at, msg))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: usize, column: usize, message: &str) -> ConfigProblem {
        ConfigProblem {
            line,
            column,
            message: message.into(),
        }
    }

    #[test]
    fn unknown_keys_are_found_with_positions_and_suggestions() {
        let text = "# mine\nprofle = \"night\"\n\n[alerts]\nnotfy = true\nnotify = false\n\n[alrets]\nx = 1\n";
        assert_eq!(
            config_unknown_keys(text),
            [
                p(
                    2,
                    1,
                    "unknown key `profle` (did you mean `profile`?); ignored"
                ),
                p(
                    5,
                    1,
                    "unknown key `notfy` in [alerts] (did you mean `notify`?); ignored"
                ),
                p(
                    8,
                    2,
                    "unknown key `alrets` (did you mean `alerts`?); ignored"
                ),
            ]
        );
        // Dotted keys, and a key too far from any known one for a suggestion.
        assert_eq!(
            config_unknown_keys("alerts.notfy = true\nvolume = 3\n"),
            [
                p(
                    1,
                    8,
                    "unknown key `notfy` in [alerts] (did you mean `notify`?); ignored"
                ),
                p(2, 1, "unknown key `volume`; ignored"),
            ]
        );
        // Known keys only, an empty file, and invalid TOML (reported elsewhere): nothing.
        assert!(config_unknown_keys("profile = \"night\"\n[alerts]\nnotify = true\n").is_empty());
        assert!(config_unknown_keys("").is_empty());
        assert!(config_unknown_keys("profle = \n").is_empty());
    }

    #[test]
    fn the_profile_and_notify_with_their_errors() {
        assert_eq!(config_profile("").unwrap(), DEFAULT_PROFILE_NAME);
        assert_eq!(config_profile("profile = \" night \"\n").unwrap(), "night");
        assert_eq!(
            config_profile("\nprofile = 3\n").unwrap_err(),
            p(
                2,
                11,
                "`profile` must be a non-empty string (a profile name or path)"
            )
        );
        assert_eq!(config_profile("profile = \n").unwrap_err().line, 1);
        assert_eq!(
            config_profile_position("# mine\n[x]\n"),
            (0, 0),
            "no profile key"
        );
        assert_eq!(
            config_profile_position("# mine\nprofile = \"nosuch\"\n"),
            (2, 11)
        );
        assert_eq!(config_profile_position("profile = "), (0, 0), "no TOML");
        assert!(!config_alerts_notify("profile = \"x\"\n").unwrap());
        assert!(config_alerts_notify("[alerts]\nnotify = true\n").unwrap());
        assert_eq!(
            config_alerts_notify("[alerts]\nnotify = \"yes\"\n").unwrap_err(),
            p(2, 10, "`alerts.notify` must be true or false")
        );
        assert_eq!(
            config_alerts_notify("alerts = 1\n").unwrap_err().message,
            "`alerts` must be a table (`[alerts]`)"
        );
        assert_eq!(p(0, 0, "gone").located("c.toml"), "c.toml: gone");
        assert_eq!(p(3, 4, "bad").located("c.toml"), "c.toml:3:4: bad");
    }
}
