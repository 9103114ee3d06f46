//! The glob matcher of every routing rule: the profile's `[[route.rules]]` and the runtime
//! `headroom route set APP` rules.
//!
//! Syntax: `*` matches any run of characters (including none), `?` matches exactly one
//! character, `[abc]` matches one of the listed characters, `[a-z]` a range, `[!abc]` or
//! `[^abc]` anything but the listed characters, and `\x` matches `x` literally. A `]` right
//! after the opening `[` (or after `[!`) is a literal member. A match always covers the whole
//! string.
//!
//! **Matching ignores case** (Unicode lower-case folding of pattern and text; a class matches a
//! character when the character or its upper-case form is in it): `firefox` matches
//! `Firefox`, `[A-Z]*` matches `mpv`. Application names and binaries differ in case
//! (`Firefox` / `firefox`, `VLC media player` / `vlc`) and users type them loosely; no
//! PipeWire property headroom matches on needs case to tell two streams apart.

use std::fmt;

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyOne,
    AnyRun,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    fn matches_char(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyOne => true,
            Token::AnyRun => false,
            Token::Class { negated, ranges } => {
                // `c` is folded to lower case; a class written in upper case still matches.
                let inside = |x: char| ranges.iter().any(|&(lo, hi)| lo <= x && x <= hi);
                let hit = inside(c) || c.to_uppercase().any(inside);
                hit != *negated
            }
        }
    }
}

/// A compiled glob pattern (case-insensitive, see the module docs). Compares equal when the
/// source text is equal.
#[derive(Debug, Clone)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Glob {}

/// Why a glob pattern was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError {
    /// Character offset in the pattern where the problem starts.
    pub position: usize,
    /// Human-readable reason.
    pub reason: &'static str,
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at character {}", self.reason, self.position + 1)
    }
}

impl std::error::Error for GlobError {}

impl Glob {
    /// Compiles `pattern`. Allocates.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            match c {
                '*' => {
                    // Collapse runs of stars: they mean the same as one.
                    if tokens.last() != Some(&Token::AnyRun) {
                        tokens.push(Token::AnyRun);
                    }
                    i += 1;
                }
                '?' => {
                    tokens.push(Token::AnyOne);
                    i += 1;
                }
                '\\' => match chars.get(i + 1) {
                    Some(&next) => {
                        tokens.extend(next.to_lowercase().map(Token::Literal));
                        i += 2;
                    }
                    None => {
                        return Err(GlobError {
                            position: i,
                            reason: "trailing `\\` escapes nothing",
                        })
                    }
                },
                '[' => {
                    let start = i;
                    i += 1;
                    let negated = matches!(chars.get(i), Some('!') | Some('^'));
                    if negated {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    let mut first = true;
                    loop {
                        let Some(&m) = chars.get(i) else {
                            return Err(GlobError {
                                position: start,
                                reason: "unclosed `[`",
                            });
                        };
                        if m == ']' && !first {
                            i += 1;
                            break;
                        }
                        first = false;
                        let lo = if m == '\\' {
                            i += 1;
                            match chars.get(i) {
                                Some(&e) => e,
                                None => {
                                    return Err(GlobError {
                                        position: start,
                                        reason: "unclosed `[`",
                                    })
                                }
                            }
                        } else {
                            m
                        };
                        i += 1;
                        // A range `a-z` (a `-` before the closing `]` is literal).
                        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&n| n != ']')
                        {
                            let hi = chars.get(i + 1).copied().unwrap_or(lo);
                            if hi < lo {
                                return Err(GlobError {
                                    position: i - 1,
                                    reason: "range in `[...]` runs backwards",
                                });
                            }
                            ranges.push((lo, hi));
                            i += 2;
                        } else {
                            ranges.push((lo, lo));
                        }
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                other => {
                    tokens.extend(other.to_lowercase().map(Token::Literal));
                    i += 1;
                }
            }
        }
        Ok(Glob {
            source: pattern.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the two patterns are the same but for the case of their literal characters (so
    /// the same text matches both).
    pub fn same_pattern(&self, other: &Glob) -> bool {
        self.tokens == other.tokens
    }

    /// Whether the whole of `text` matches the pattern, ignoring case. Allocates a little (not
    /// for the audio thread).
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
        let pat = &self.tokens;
        let (mut ti, mut pi) = (0usize, 0usize);
        // Position of the last `*` seen and the text position it currently absorbs up to.
        let mut backtrack: Option<(usize, usize)> = None;
        while let Some(&c) = text.get(ti) {
            match pat.get(pi) {
                Some(Token::AnyRun) => {
                    backtrack = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                Some(tok) if tok.matches_char(c) => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
            match backtrack {
                Some((star_pi, star_ti)) => {
                    pi = star_pi + 1;
                    ti = star_ti + 1;
                    backtrack = Some((star_pi, star_ti + 1));
                }
                None => return false,
            }
        }
        while pat.get(pi) == Some(&Token::AnyRun) {
            pi += 1;
        }
        pi == pat.len()
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).unwrap().matches(t)
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(m("Firefox", "Firefox"));
        assert!(!m("Firefox", "Firefox2"));
        assert!(!m("Firefox", "Firefox2"));
        assert!(m("Firefox*", "Firefox"));
        assert!(m("Firefox*", "Firefox Nightly"));
        assert!(!m("Firefox*", "MyFirefox"));
        assert!(m("*fox", "Firefox"));
        assert!(m("*re*ox*", "Firefox"));
        assert!(m("F?refox", "Firefox"));
        assert!(!m("F?refox", "Frefox"));
        assert!(m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("?", ""));
        assert!(m("a**b", "ab"));
        assert!(m("*a*a*a*b", "aaaaaaaaaaaaab"));
        assert!(!m("*a*a*a*b", "aaaaaaaaaaaaaa"));
    }

    #[test]
    fn classes() {
        assert!(m("[abc]x", "bx"));
        assert!(!m("[abc]x", "dx"));
        assert!(m("[a-c]", "b"));
        assert!(!m("[a-c]", "d"));
        assert!(m("[!a-c]", "d"));
        assert!(!m("[^a-c]", "a"));
        assert!(m("[]]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("mpv[0-9]", "mpv7"));
    }

    /// The cases the runtime rules' matcher was specified with before it became this one.
    #[test]
    fn runtime_rule_cases() {
        assert!(m("firefox", "Firefox"));
        assert!(m("fire*", "firefox"));
        assert!(m("*fox", "firefox"));
        assert!(m("f?re*x", "firefox"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(!m("fire", "firefox"));
        assert!(!m("?", ""));
        assert!(!m("", "x"));
        assert!(m("", ""));
        assert!(m("**x", "x"));
    }

    #[test]
    fn case_is_ignored() {
        assert!(m("Firefox", "firefox"));
        assert!(m("firefox", "FIREFOX"));
        assert!(m("fire*", "FireFox Nightly"));
        assert!(m("[A-Z]pv", "mpv"));
        assert!(m("[a-z]PV", "MPV"));
        assert!(!m("[!A-Z]pv", "mpv"));
        assert!(m("ÉCLAIR", "éclair"));
        assert!(m("a\\B", "ab"));
        assert!(Glob::new("Firefox")
            .unwrap()
            .same_pattern(&Glob::new("fireFOX").unwrap()));
        assert!(!Glob::new("fire*")
            .unwrap()
            .same_pattern(&Glob::new("fire?").unwrap()));
    }

    #[test]
    fn escapes_and_unicode() {
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(m("é*", "éclair"));
        assert!(m("?", "ß"));
    }

    #[test]
    fn invalid_patterns() {
        assert_eq!(Glob::new("Fire[fox").unwrap_err().reason, "unclosed `[`");
        assert_eq!(Glob::new("Fire[fox").unwrap_err().position, 4);
        assert!(Glob::new("abc\\").is_err());
        assert!(Glob::new("[z-a]").is_err());
        assert!(Glob::new("[]").is_err());
    }
}
