//! The glob matcher of every routing rule: the profile's `[[route.rules]]` and the runtime
//! `headroom route set APP` rules.
//!
//! Syntax: `*` matches any run of characters (including none), `?` matches exactly one
//! character, `[abc]` matches one of the listed characters, `[a-z]` a range, `[!abc]` or
//! `[^abc]` anything but the listed characters, and `\x` matches `x` literally. A `]` right
//! after the opening `[` (or after `[!`) is a literal member. A match always covers the whole
//! string.
//!
//! **Matching ignores case**, for all of Unicode by simple case folding (the one-character
//! mappings of Unicode's `CaseFolding.txt`, as `regex`'s `(?i)` uses them): a character of the
//! pattern matches every character of its case-fold set (`k`, `K` and the Kelvin sign `K`;
//! `σ`, `ς` and `Σ`; `ä` and `Ä`), and a class matches a character when any character of its
//! set is in the class (`[Ä]` matches `ä`, `[A-Z]` matches `mpv`'s `m`). One character of
//! the text stays one character (`?` matches `İ`; `ß` does not match `ss`). `firefox` matches
//! `Firefox`, `ÉCOLE*` matches `école`. Application names and binaries differ in case
//! (`Firefox` / `firefox`, `VLC media player` / `vlc`) and users type them loosely; no
//! PipeWire property headroom matches on needs case to tell two streams apart.

use std::fmt;

use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};

/// The representative of `c`'s simple case-fold set (its smallest character), so that two
/// characters are equal but for case exactly when their representatives are equal.
/// Allocates for characters outside ASCII.
fn fold(c: char) -> char {
    if c.is_ascii() {
        // An ASCII letter's set holds both its ASCII forms (and perhaps characters above
        // ASCII, like the Kelvin sign): the upper-case one is the smallest.
        return c.to_ascii_uppercase();
    }
    let mut set = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    set.case_fold_simple();
    set.ranges().first().map_or(c, |r| r.start())
}

/// `ranges` with every character's simple case-fold set added. Allocates.
fn fold_ranges(ranges: &[(char, char)]) -> Vec<(char, char)> {
    let mut set = ClassUnicode::new(
        ranges
            .iter()
            .map(|&(lo, hi)| ClassUnicodeRange::new(lo, hi)),
    );
    set.case_fold_simple();
    set.ranges().iter().map(|r| (r.start(), r.end())).collect()
}

/// One element of a compiled pattern. A literal holds its character's [`fold`]; a class's
/// ranges are closed under case folding.
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
    /// Whether the token consumes `c`, a text character already [`fold`]ed.
    fn matches_char(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyOne => true,
            Token::AnyRun => false,
            Token::Class { negated, ranges } => {
                // The ranges hold every case of their characters, so the folded `c` is in
                // them exactly when one of its cases was written.
                let hit = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
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
                        tokens.push(Token::Literal(fold(next)));
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
                    tokens.push(Token::Class {
                        negated,
                        ranges: fold_ranges(&ranges),
                    });
                }
                other => {
                    tokens.push(Token::Literal(fold(other)));
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
    ///
    /// Linear in the length of `text`: the pattern is run as a bit-parallel automaton (one bit
    /// per token, `*` a state that stays active), so each character of the text costs a few
    /// word operations per 64 tokens plus one test per active `[...]` class — no
    /// backtracking, whatever the pattern.
    pub fn matches(&self, text: &str) -> bool {
        let pat = &self.tokens;
        let states = pat.len() + 1;
        let words = states.div_ceil(64);
        let mut star = vec![0u64; words];
        let mut any_one = vec![0u64; words];
        // Per literal character, the tokens it is (one mask each); the classes, tested one by
        // one (each has at least three characters of pattern).
        let mut literals: Vec<(char, Vec<u64>)> = Vec::new();
        let mut classes: Vec<usize> = Vec::new();
        for (i, t) in pat.iter().enumerate() {
            match t {
                Token::AnyRun => star[i / 64] |= 1 << (i % 64),
                Token::AnyOne => any_one[i / 64] |= 1 << (i % 64),
                Token::Literal(l) => {
                    let k = match literals.binary_search_by(|(c, _)| c.cmp(l)) {
                        Ok(k) => k,
                        Err(k) => {
                            literals.insert(k, (*l, vec![0u64; words]));
                            k
                        }
                    };
                    literals[k].1[i / 64] |= 1 << (i % 64);
                }
                Token::Class { .. } => classes.push(i),
            }
        }
        let set = |v: &mut [u64], i: usize| v[i / 64] |= 1 << (i % 64);
        // `*` can match nothing: a state before a star also enables the one after it (stars
        // are collapsed, so one step is enough).
        let close = |d: &mut [u64]| {
            let mut carry = 0u64;
            for w in 0..words {
                let s = d[w] & star[w];
                let shifted = (s << 1) | carry;
                carry = s >> 63;
                d[w] |= shifted;
            }
        };
        let mut d = vec![0u64; words];
        set(&mut d, 0);
        close(&mut d);
        let mut consume = vec![0u64; words];
        let mut next = vec![0u64; words];
        for c in text.chars().map(fold) {
            // Tokens that consume `c`.
            consume.copy_from_slice(&any_one);
            if let Ok(k) = literals.binary_search_by(|(l, _)| l.cmp(&c)) {
                for (w, m) in consume.iter_mut().zip(&literals[k].1) {
                    *w |= m;
                }
            }
            for &i in &classes {
                if d[i / 64] & (1 << (i % 64)) != 0 && pat[i].matches_char(c) {
                    set(&mut consume, i);
                }
            }
            let mut carry = 0u64;
            let mut alive = false;
            for w in 0..words {
                let m = d[w] & consume[w];
                next[w] = (m << 1) | carry | (d[w] & star[w]);
                carry = m >> 63;
                alive |= next[w] != 0;
            }
            if !alive {
                return false;
            }
            std::mem::swap(&mut d, &mut next);
            close(&mut d);
        }
        let last = states - 1;
        d[last / 64] & (1 << (last % 64)) != 0
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

    /// The definition, by recursion (exponential; for short strings only).
    fn reference(pat: &[Token], text: &[char]) -> bool {
        match pat.split_first() {
            None => text.is_empty(),
            Some((Token::AnyRun, rest)) => (0..=text.len()).any(|k| reference(rest, &text[k..])),
            Some((t, rest)) => {
                text.first().is_some_and(|&c| t.matches_char(c)) && reference(rest, &text[1..])
            }
        }
    }

    #[test]
    fn automaton_agrees_with_the_definition() {
        let mut x = 0x2545_f491u32;
        let mut next = |n: u32| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x % n
        };
        let atoms = [
            "a", "b", "Ä", "ä", "*", "?", "[ab]", "[!a]", "[A-Z]", "\\*", "**", "Σ", "ς", "[σ]",
            "[Ää]", "İ",
        ];
        for _ in 0..20_000 {
            let p: String = (0..next(7))
                .map(|_| atoms[next(atoms.len() as u32) as usize])
                .collect();
            let t: String = (0..next(9))
                .map(|_| {
                    ["a", "b", "A", "Ä", "ä", "*", "z", "σ", "ς", "Σ", "İ", "i"][next(12) as usize]
                })
                .collect();
            let g = Glob::new(&p).unwrap();
            let chars: Vec<char> = t.chars().map(fold).collect();
            assert_eq!(
                g.matches(&t),
                reference(&g.tokens, &chars),
                "{p:?} on {t:?}"
            );
        }
    }

    #[test]
    fn long_patterns_and_names_match_without_backtracking() {
        // The shape that costs a backtracking matcher |text| × |pattern| steps.
        let pat = format!("*{}b", "a*".repeat(120));
        let text = "a".repeat(100_000);
        assert!(!m(&pat, &text));
        assert!(m(&pat, &format!("{text}b")));
        // More than 64 tokens: the automaton spans several words.
        let long = "x".repeat(200);
        assert!(m(&format!("{long}*"), &format!("{long}yz")));
        assert!(!m(&format!("{long}?"), &long));
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

    /// Every Unicode letter, by simple case folding, in literals and classes alike.
    #[test]
    fn case_is_ignored_for_all_of_unicode() {
        for t in ["Ärzte ohne Grenzen", "ärzte", "ÄRZTE"] {
            assert!(m("Ärzte*", t), "{t}");
            assert!(m("ärzte*", t), "{t}");
        }
        assert!(!m("Ärzte*", "Arzte"));
        for p in ["[Ää]", "[Ä]", "[ä]", "[À-Ö]"] {
            assert!(m(p, "ä") && m(p, "Ä"), "{p}");
            assert!(!m(p, "a"), "{p}");
        }
        assert!(!m("[!Ä]", "ä") && m("[!Ä]", "a"));
        for t in ["ÉCOLE", "école", "École"] {
            assert!(m("ÉCOLE", t) && m("[é]cole", t) && m("[É]COLE", t), "{t}");
        }
        assert!(!m("ÉCOLE", "ecole"));
        // Characters whose upper and lower forms are not each other's only case.
        assert!(m("ΟΔΥΣΣΕΥΣ", "οδυσσευς") && m("*[ς]", "ΟΔΥΣΣΕΥΣ") && m("[σ]", "ς"));
        assert!(m("[k]", "\u{212A}") && m("\u{212A}elvin", "KELVIN"));
        assert!(m("[ǅ]", "ǆ") && m("ǅ", "Ǆ"));
        // One character of text is one character.
        assert!(m("?stanbul", "İstanbul"));
        assert!(!m("straße", "STRASSE"));
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
