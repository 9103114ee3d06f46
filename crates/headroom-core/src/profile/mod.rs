//! TOML profiles and dotted-key settings.
//!
//! A profile is a TOML file (see `profiles/default.toml` for a fully commented example):
//!
//! ```toml
//! description = "Balanced levelling for mixed desktop audio"
//! bypass = false
//! preferred_real_sink = ""     # node.name of the sink to play into; "" = the default sink
//!
//! [agc]          # automatic gain control (AgcParams)
//! target_lufs = -16.0
//! [compressor]   # CompressorParams
//! [limiter]      # LimiterParams
//! [layer_a]      # per-stream taps (LayerAParams)
//!
//! [route]
//! default = "processed"        # or "bypass": what streams no rule matches get
//! [[route.rules]]              # first match wins; every key in `match` must match
//! match = { "application.name" = "Firefox*" }
//! route = "bypass"
//! ```
//!
//! Every section and key is optional; missing ones take the built-in defaults
//! ([`ChainParams::default`] etc.). Unknown keys are errors (with a suggestion for typos),
//! and every number is range-checked. The table of keys, types and ranges is available at run
//! time through [`Profile::keys`]:
//!
//! | key | type | range |
//! |-----|------|-------|
//! | `description` | string | |
//! | `bypass` | bool | |
//! | `preferred_real_sink` | string | |
//! | `agc.enabled` | bool | |
//! | `agc.target_lufs` | number | −40 … −5 LUFS |
//! | `agc.max_boost_db` | number | 0 … 40 dB |
//! | `agc.max_cut_db` | number | 0 … 40 dB |
//! | `agc.rise_db_per_s` | number | > 0 … 100 dB/s |
//! | `agc.fall_db_per_s` | number | > 0 … 100 dB/s |
//! | `agc.silence_gate_lufs` | number | −70 … −10 LUFS, below `agc.target_lufs` |
//! | `agc.window_s` | number | 0.4 … 60 s |
//! | `agc.max_momentary_lu` | number | 1 … 30 LU |
//! | `compressor.enabled` | bool | |
//! | `compressor.threshold_db` | number | −60 … 0 dBFS |
//! | `compressor.ratio` | number | 1 … 20 |
//! | `compressor.knee_db` | number | 0 … 24 dB |
//! | `compressor.attack_ms` | number | > 0 … 500 ms |
//! | `compressor.release_ms` | number | > 0 … 5000 ms |
//! | `compressor.makeup_db` | number | −24 … 24 dB |
//! | `limiter.enabled` | bool | |
//! | `limiter.ceiling_dbtp` | number | −20 … 0 dBTP, above `agc.target_lufs` |
//! | `limiter.lookahead_ms` | number | > 0 … 1.5 ms |
//! | `limiter.release_ms` | number | > 0 … 5000 ms |
//! | `layer_a.enabled` | bool | |
//! | `layer_a.threshold_lu` | number | 0 … 30 LU |
//! | `layer_a.max_reduction_db` | number | 0 … 40 dB |
//! | `layer_a.attack_db_per_s` | number | > 0 … 100 dB/s |
//! | `layer_a.release_db_per_s` | number | > 0 … 100 dB/s |
//! | `route.default` | route | `"processed"` or `"bypass"` |
//!
//! Routing rules (`[[route.rules]]`) are not dotted-key settings; their `match` keys are
//! `app` (matches `application.name` or `application.process.binary`),
//! `application.name`, `application.process.binary`, `media.role`, `media.name` and
//! `node.name`, each with a case-sensitive glob (`*`, `?`, `[abc]`, `[!abc]`, `[a-z]`).
//!
//! Nothing here does I/O: callers read files and pass the text to [`Profile::parse`].

mod glob;
mod parse;
mod route;
mod schema;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::params::{AgcParams, ChainParams, CompressorParams, LayerAParams, LimiterParams};

pub use glob::{Glob, GlobError};
pub use route::{MatchKey, Route, RouteConfig, RouteRule};
pub use schema::{
    closest, edit_distance, format_number, Bound, NumRange, SettingInfo, SettingKind, SettingValue,
};

/// Description of the built-in default profile.
pub const DEFAULT_DESCRIPTION: &str = "Balanced levelling for mixed desktop audio";

/// Name of the built-in default profile.
pub const DEFAULT_PROFILE_NAME: &str = "default";

static SHIPPED: &[(&str, &str)] = &[
    ("default", include_str!("../../../../profiles/default.toml")),
    ("music", include_str!("../../../../profiles/music.toml")),
    ("night", include_str!("../../../../profiles/night.toml")),
    ("speech", include_str!("../../../../profiles/speech.toml")),
];

/// The profiles shipped with headroom, embedded in the binary: `(name, toml text)`, sorted
/// by name.
pub fn shipped_profiles() -> &'static [(&'static str, &'static str)] {
    SHIPPED
}

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
}

/// Where in a file a problem is. Lines and columns count from 1; columns count characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name as given to [`Profile::parse`].
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
    fn at(kind: ErrorKind, key: &str, message: String) -> Self {
        Invalid {
            kind,
            key: key.to_owned(),
            message,
            path: key_path(key),
            fallback: None,
            at_key: false,
        }
    }

    fn into_error(self) -> ProfileError {
        ProfileError::new(self.kind, Some(self.key), self.message)
    }
}

pub(crate) fn key_path(key: &str) -> Vec<Seg> {
    key.split('.').map(|s| Seg::Key(s.to_owned())).collect()
}

/// A validated profile: everything the daemon needs to configure the chain, Layer A and
/// routing.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Name (the file stem, e.g. `night`).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Chain parameters (AGC, compressor, limiter, bypass).
    pub chain: ChainParams,
    /// Per-stream Layer A parameters.
    pub layer_a: LayerAParams,
    /// Routing rules.
    pub route: RouteConfig,
    /// `node.name` of the real sink to play into; `None` follows the default sink.
    pub preferred_real_sink: Option<String>,
}

impl Default for Profile {
    /// The built-in defaults; identical to the shipped `profiles/default.toml`.
    fn default() -> Self {
        Profile {
            name: DEFAULT_PROFILE_NAME.to_owned(),
            description: DEFAULT_DESCRIPTION.to_owned(),
            chain: ChainParams::default(),
            layer_a: LayerAParams::default(),
            route: RouteConfig::default(),
            preferred_real_sink: None,
        }
    }
}

/// The raw, unvalidated shape of a profile file, for serde. Every section is optional.
/// Convert with [`Profile::try_from`] (validates) and [`Profile::to_file`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileFile {
    /// One-line description.
    pub description: String,
    /// Bypass the chain.
    pub bypass: bool,
    /// `node.name` of the real sink; `""` = follow the default sink.
    pub preferred_real_sink: String,
    /// `[agc]`.
    pub agc: AgcParams,
    /// `[compressor]`.
    pub compressor: CompressorParams,
    /// `[limiter]`.
    pub limiter: LimiterParams,
    /// `[layer_a]`.
    pub layer_a: LayerAParams,
    /// `[route]`.
    pub route: RouteFile,
}

/// The raw `[route]` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteFile {
    /// Route for unmatched streams.
    pub default: Route,
    /// `[[route.rules]]`, first match wins.
    pub rules: Vec<RouteRuleFile>,
}

/// One raw `[[route.rules]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRuleFile {
    /// Property name → glob.
    #[serde(rename = "match")]
    pub matches: BTreeMap<String, String>,
    /// Route for matching streams.
    pub route: Route,
}

pub(crate) fn rule_key(i: usize) -> String {
    format!("route.rules[{i}]")
}

/// Builds a validated rule from raw strings. `path` locates errors.
pub(crate) fn build_match(i: usize, key: &str, pattern: &str) -> Result<(MatchKey, Glob), Invalid> {
    let mut path = vec![
        Seg::Key("route".into()),
        Seg::Key("rules".into()),
        Seg::Index(i),
        Seg::Key("match".into()),
        Seg::Key(key.to_owned()),
    ];
    let mk = key.parse::<MatchKey>().map_err(|()| {
        let hint = match closest(key, MatchKey::ALL.iter().map(|k| k.as_str())) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => format!(
                " (expected one of {})",
                MatchKey::ALL
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Invalid {
            kind: ErrorKind::InvalidMatch,
            key: format!("{}.match", rule_key(i)),
            message: format!("unknown match key `{key}` in {}{hint}", rule_key(i)),
            path: path.clone(),
            fallback: None,
            at_key: true,
        }
    })?;
    let glob = Glob::new(pattern).map_err(|e| {
        let k = format!("{}.match.\"{key}\"", rule_key(i));
        Invalid {
            kind: ErrorKind::InvalidMatch,
            message: format!("{k} = {pattern:?} is not a valid glob: {e}"),
            key: k,
            path: std::mem::take(&mut path),
            fallback: None,
            at_key: false,
        }
    })?;
    Ok((mk, glob))
}

fn empty_match(i: usize) -> Invalid {
    let mut inv = Invalid::at(
        ErrorKind::InvalidMatch,
        &format!("{}.match", rule_key(i)),
        format!(
            "{}.match is empty: give at least one key (use route.default for a catch-all)",
            rule_key(i)
        ),
    );
    inv.path = vec![
        Seg::Key("route".into()),
        Seg::Key("rules".into()),
        Seg::Index(i),
        Seg::Key("match".into()),
    ];
    inv
}

impl TryFrom<ProfileFile> for Profile {
    type Error = ProfileError;

    /// Validates a raw profile. The name is left empty: set [`Profile::name`] afterwards.
    fn try_from(file: ProfileFile) -> Result<Self, Self::Error> {
        Profile::from_raw(file).map_err(Invalid::into_error)
    }
}

impl Profile {
    fn from_raw(file: ProfileFile) -> Result<Self, Invalid> {
        let mut rules = Vec::with_capacity(file.route.rules.len());
        for (i, raw) in file.route.rules.into_iter().enumerate() {
            if raw.matches.is_empty() {
                return Err(empty_match(i));
            }
            let mut matches = BTreeMap::new();
            for (k, pattern) in &raw.matches {
                let (mk, glob) = build_match(i, k, pattern)?;
                matches.insert(mk, glob);
            }
            rules.push(RouteRule {
                matches,
                route: raw.route,
            });
        }
        let profile = Profile {
            name: String::new(),
            description: file.description,
            chain: ChainParams {
                agc: file.agc,
                compressor: file.compressor,
                limiter: file.limiter,
                bypass: file.bypass,
            },
            layer_a: file.layer_a,
            route: RouteConfig {
                default: file.route.default,
                rules,
            },
            preferred_real_sink: if file.preferred_real_sink.is_empty() {
                None
            } else {
                Some(file.preferred_real_sink)
            },
        };
        profile.check()?;
        Ok(profile)
    }

    /// Parses and validates a profile file. `path` is used for the profile name (its file
    /// stem) and in error messages (`path:line:col: …`). Allocates; does no I/O.
    pub fn parse(text: &str, path: &str) -> Result<Profile, ProfileError> {
        let stem = std::path::Path::new(path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(path);
        Profile::parse_named(stem, text, path)
    }

    /// Like [`Profile::parse`] with an explicit profile name.
    pub fn parse_named(name: &str, text: &str, path: &str) -> Result<Profile, ProfileError> {
        parse::parse(name, text, path)
    }

    /// A shipped profile by name, parsed from the embedded text.
    pub fn shipped(name: &str) -> Option<Result<Profile, ProfileError>> {
        shipped_profiles()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Profile::parse_named(n, text, &format!("profiles/{n}.toml")))
    }

    /// Checks every range and ordering rule.
    pub fn validate(&self) -> Result<(), ProfileError> {
        self.check().map_err(Invalid::into_error)
    }

    pub(crate) fn check(&self) -> Result<(), Invalid> {
        for f in schema::FIELDS {
            if let (Some(range), SettingValue::Number(v)) = (f.range, (f.get)(self)) {
                if !range.contains(v) {
                    return Err(Invalid::at(
                        ErrorKind::OutOfRange,
                        f.key,
                        format!(
                            "{} = {} is out of range (must be {range})",
                            f.key,
                            format_number(v)
                        ),
                    ));
                }
            }
        }
        let agc = &self.chain.agc;
        if agc.silence_gate_lufs >= agc.target_lufs {
            let mut inv = Invalid::at(
                ErrorKind::Ordering,
                "agc.silence_gate_lufs",
                format!(
                    "agc.silence_gate_lufs = {} must be below agc.target_lufs = {}",
                    format_number(schema::widen(agc.silence_gate_lufs)),
                    format_number(schema::widen(agc.target_lufs))
                ),
            );
            inv.fallback = Some(key_path("agc.target_lufs"));
            return Err(inv);
        }
        let ceiling = self.chain.limiter.ceiling_dbtp;
        if agc.target_lufs >= ceiling {
            let mut inv = Invalid::at(
                ErrorKind::Ordering,
                "agc.target_lufs",
                format!(
                    "agc.target_lufs = {} must be below limiter.ceiling_dbtp = {} \
                     (the limiter would hold every signal under the target)",
                    format_number(schema::widen(agc.target_lufs)),
                    format_number(schema::widen(ceiling))
                ),
            );
            inv.fallback = Some(key_path("limiter.ceiling_dbtp"));
            return Err(inv);
        }
        for (i, r) in self.route.rules.iter().enumerate() {
            if r.matches.is_empty() {
                return Err(empty_match(i));
            }
        }
        Ok(())
    }

    /// The raw form, for writing back to TOML.
    pub fn to_file(&self) -> ProfileFile {
        ProfileFile {
            description: self.description.clone(),
            bypass: self.chain.bypass,
            preferred_real_sink: self.preferred_real_sink.clone().unwrap_or_default(),
            agc: self.chain.agc,
            compressor: self.chain.compressor,
            limiter: self.chain.limiter,
            layer_a: self.layer_a,
            route: RouteFile {
                default: self.route.default,
                rules: self
                    .route
                    .rules
                    .iter()
                    .map(|r| RouteRuleFile {
                        matches: r
                            .matches
                            .iter()
                            .map(|(k, g)| (k.as_str().to_owned(), g.as_str().to_owned()))
                            .collect(),
                        route: r.route,
                    })
                    .collect(),
            },
        }
    }

    /// The profile as TOML text (without comments) that [`Profile::parse`] reads back to an
    /// equal profile.
    pub fn to_toml(&self) -> String {
        // Serialising plain structs of numbers, bools and strings cannot fail.
        toml::to_string(&self.to_file()).unwrap_or_default()
    }

    /// Every dotted-key setting with its type, built-in default, range and description.
    pub fn keys() -> Vec<SettingInfo> {
        let defaults = Profile::default();
        schema::FIELDS
            .iter()
            .map(|f| SettingInfo {
                key: f.key,
                kind: f.kind,
                default: (f.get)(&defaults),
                range: f.range,
                doc: f.doc,
            })
            .collect()
    }

    /// Type and range of one setting.
    pub fn key_info(key: &str) -> Result<SettingInfo, ProfileError> {
        let f = lookup(key)?;
        Ok(SettingInfo {
            key: f.key,
            kind: f.kind,
            default: (f.get)(&Profile::default()),
            range: f.range,
            doc: f.doc,
        })
    }

    /// Reads a setting by dotted key, e.g. `agc.target_lufs`.
    pub fn get(&self, key: &str) -> Result<SettingValue, ProfileError> {
        Ok((lookup(key)?.get)(self))
    }

    /// Changes a setting by dotted key. The value is converted to the setting's type (a
    /// string `"on"` for a bool, `"-18"` for a number), then the whole profile is validated;
    /// on any error the profile is left unchanged.
    pub fn set(&mut self, key: &str, value: SettingValue) -> Result<(), ProfileError> {
        let f = lookup(key)?;
        let v = schema::coerce(f.kind, &value).map_err(|()| wrong_type(f, &value))?;
        let mut next = self.clone();
        (f.put)(&mut next, &v);
        next.check().map_err(Invalid::into_error)?;
        *self = next;
        Ok(())
    }

    /// What changed between `self` (old) and `new`.
    pub fn diff(&self, new: &Profile) -> ProfileDiff {
        let (a, b) = (&self.chain, &new.chain);
        let mut a_no_la = *a;
        a_no_la.limiter.lookahead_ms = b.limiter.lookahead_ms;
        ProfileDiff {
            metadata: self.name != new.name || self.description != new.description,
            chain: a_no_la != *b,
            latency: a.limiter.lookahead_ms != b.limiter.lookahead_ms,
            layer_a: self.layer_a != new.layer_a,
            layer_a_toggled: self.layer_a.enabled != new.layer_a.enabled,
            routing: self.route != new.route,
            sink: self.preferred_real_sink != new.preferred_real_sink,
        }
    }
}

fn wrong_type(f: &schema::Field, value: &SettingValue) -> ProfileError {
    let kind = if f.kind == SettingKind::Route && matches!(value, SettingValue::String(_)) {
        ErrorKind::InvalidRoute
    } else {
        ErrorKind::WrongType
    };
    let msg = if kind == ErrorKind::InvalidRoute {
        format!(
            "{} = {value} is not a route (expected \"processed\" or \"bypass\")",
            f.key
        )
    } else {
        format!(
            "{} must be {}, got {} ({value})",
            f.key,
            f.kind.expected(),
            value.type_name()
        )
    };
    ProfileError::new(kind, Some(f.key.to_owned()), msg)
}

fn lookup(key: &str) -> Result<&'static schema::Field, ProfileError> {
    schema::field(key).ok_or_else(|| {
        let hint = closest(key, schema::FIELDS.iter().map(|f| f.key))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        ProfileError::new(
            ErrorKind::UnknownKey,
            Some(key.to_owned()),
            format!("unknown setting `{key}`{hint}"),
        )
    })
}

/// Splits a command-line assignment such as `agc.target_lufs=-18` into key and value.
///
/// The value is typed loosely: `true`/`false` → bool, a finite number → number, a quoted
/// string → the text inside the quotes, anything else → string. [`Profile::set`] converts it
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

/// How a new profile differs from the running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProfileDiff {
    /// Name or description changed (nothing to do for the audio).
    pub metadata: bool,
    /// Chain parameters other than the lookahead changed (including bypass).
    pub chain: bool,
    /// The limiter lookahead, hence the latency, changed.
    pub latency: bool,
    /// Any Layer A parameter changed.
    pub layer_a: bool,
    /// Layer A was switched on or off (taps must be created or removed).
    pub layer_a_toggled: bool,
    /// Routing default or rules changed: re-evaluate the routes of existing streams.
    pub routing: bool,
    /// The preferred real sink changed: re-link the output.
    pub sink: bool,
}

/// CamillaDSP-style summary of a [`ProfileDiff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// New parameter values for the running graph: hand them to the audio thread.
    ParamsOnly,
    /// The graph must be rebuilt (latency, real sink or Layer A taps changed).
    Rebuild,
}

impl ProfileDiff {
    /// Whether nothing at all changed.
    pub fn is_empty(&self) -> bool {
        *self == ProfileDiff::default()
    }

    /// `None` when nothing changed; [`ChangeKind::Rebuild`] when the lookahead, real sink or
    /// Layer A on/off changed; otherwise [`ChangeKind::ParamsOnly`] (including routing-only
    /// changes, which re-route streams without touching the graph).
    pub fn kind(&self) -> Option<ChangeKind> {
        if self.is_empty() {
            None
        } else if self.latency || self.sink || self.layer_a_toggled {
            Some(ChangeKind::Rebuild)
        } else {
            Some(ChangeKind::ParamsOnly)
        }
    }
}
