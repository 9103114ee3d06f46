//! Errors of profile parsing and of settings: what went wrong, with the key concerned and, for
//! files, the position (`file:line:column`).

use std::fmt;

/// Line and column (both from 1, columns in characters) of a byte offset into `text`, e.g.
/// to locate a `toml` error span. Offsets past the end or inside a character are clamped.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut off = offset.min(text.len());
    while !text.is_char_boundary(off) {
        off -= 1;
    }
    let before = &text[..off];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The TOML parser's `message` for a syntax error at byte `offset` of `text`, with a hint
/// where it is about a bare word as a value (`profile = night`): a name starting like
/// `nan`, `inf`, `true` or `false` is read as the start of that value, and the parser said
/// `invalid float, expected `nan`` instead of that strings are quoted.
pub fn syntax_message(text: &str, offset: usize, message: &str) -> String {
    let mut off = offset.min(text.len());
    while !text.is_char_boundary(off) {
        off -= 1;
    }
    let line_start = text[..off].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[off..].find('\n').map_or(text.len(), |i| off + i);
    let line = &text[line_start..line_end];
    let hint = line.split_once('=').and_then(|(key, value)| {
        let key = key.trim();
        let word = value.split('#').next().unwrap_or_default().trim();
        let bare = word.chars().next().is_some_and(char::is_alphabetic)
            && word
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
            && !matches!(word, "true" | "false" | "nan" | "inf");
        let plain_key = !key.is_empty() && !key.starts_with('[');
        (bare && plain_key && !message.contains("must be quoted"))
            .then(|| format!("; text values are quoted: {key} = \"{word}\""))
    });
    format!("{message}{}", hint.unwrap_or_default())
}

/// What kind of problem a [`ProfileError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The text is not valid TOML.
    Syntax,
    /// A key that does not exist (in a file or as a dotted setting).
    UnknownKey,
    /// A required key of a routing rule is missing.
    MissingKey,
    /// A value of the wrong type.
    WrongType,
    /// A number outside its documented range.
    OutOfRange,
    /// Two values in the wrong order (e.g. silence gate above the target).
    Ordering,
    /// An unknown match key, empty match table or invalid glob in a routing rule.
    InvalidMatch,
    /// A route value other than `"processed"` / `"bypass"`.
    InvalidRoute,
    /// A `key=value` assignment that cannot be split.
    InvalidAssignment,
    /// A profile file with no settings at all (empty, or comments only): what a file looks
    /// like while it is being written, so it is not taken for a profile of defaults where it
    /// would replace one in force (see [`crate::has_settings`]).
    Empty,
}

/// Where in a file a problem is. Lines and columns count from 1; columns count characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name as given to [`crate::Profile::parse`].
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column (in characters), from 1.
    pub column: usize,
}

/// A profile that failed to parse or validate, or a rejected setting.
///
/// Displays as `file:line:col: message` when it comes from a file, e.g.
/// ``profiles/night.toml:12:1: unknown key `targte_lufs` in [agc] (did you mean `target_lufs`?)``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    /// Class of the problem.
    pub kind: ErrorKind,
    /// Dotted key concerned, when there is one (e.g. `agc.target_lufs`).
    pub key: Option<String>,
    /// Position in the file (absent for settings changed at run time).
    pub location: Option<Location>,
    /// What is wrong, naming the key, without the location prefix.
    pub message: String,
}

impl ProfileError {
    pub(crate) fn new(kind: ErrorKind, key: Option<String>, message: String) -> Self {
        ProfileError {
            kind,
            key,
            location: None,
            message,
        }
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{}:{}:{}: {}", l.file, l.line, l.column, self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ProfileError {}

/// One step of a path into the profile document, for locating validation errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A validation failure before it is given a file position.
#[derive(Debug, Clone)]
pub(crate) struct Invalid {
    pub kind: ErrorKind,
    pub key: String,
    pub message: String,
    /// Where the offending value is; `fallback` is tried when `path` is not in the file.
    pub path: Vec<Seg>,
    pub fallback: Option<Vec<Seg>>,
    /// Point at the key itself rather than at its value.
    pub at_key: bool,
}

impl Invalid {
    pub(crate) fn at(kind: ErrorKind, key: &str, message: String) -> Self {
        Invalid {
            kind,
            key: key.to_owned(),
            message,
            path: key_path(key),
            fallback: None,
            at_key: false,
        }
    }

    pub(crate) fn into_error(self) -> ProfileError {
        ProfileError::new(self.kind, Some(self.key), self.message)
    }
}

pub(crate) fn key_path(key: &str) -> Vec<Seg> {
    key.split('.').map(|s| Seg::Key(s.to_owned())).collect()
}
