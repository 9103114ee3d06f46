//! The table of every dotted-key setting: type, range, documentation, accessors.
//!
//! This one table ([`FIELDS`]) is the schema. Everything else is derived from it: profile
//! parsing (which sections and keys exist, which type each has), validation (ranges),
//! writing a profile back ([`crate::Profile::to_toml`]), `headroom get/set`, runtime
//! overrides, [`crate::Profile::keys`], the settings table of the crate docs
//! ([`crate::settings_markdown`], kept in `SETTINGS.md` by a test) and the settings list of
//! `headroom set --help` and its man page ([`crate::settings_help`]).
//!
//! ## Adding a setting
//! 1. Add the field (with its default) to the parameter struct in `headroom-core`'s
//!    `params.rs` (or to [`crate::Profile`] for a non-DSP setting).
//! 2. Add one row here: `num_field!("section.key", path.to.field, range, "doc, unit")` or
//!    `bool_field!(…)`, in the order it should appear in listings and files.
//! 3. Run `HEADROOM_BLESS=1 cargo test -p headroom-profile settings_doc` to regenerate
//!    `SETTINGS.md`, and document the key in `profiles/*.toml`.
//!
//! Parsing, validation, `to_toml`, `headroom get/set/settings`, the IPC setting list and the
//! help texts pick the new key up from the row.

use std::fmt;

use serde::{Deserialize, Serialize};

use headroom_core::LUFS_FLOOR;

use crate::profile::Profile;
use crate::route::Route;

/// A setting's value as typed on the command line, stored in the state file or sent over IPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettingValue {
    /// `true` / `false`.
    Bool(bool),
    /// Any number (integers included).
    Number(f64),
    /// A string (also used for routes: `"processed"`, `"bypass"`).
    String(String),
}

impl fmt::Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingValue::Bool(b) => write!(f, "{b}"),
            SettingValue::Number(n) => write!(f, "{}", format_number(*n)),
            SettingValue::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl SettingValue {
    /// Name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            SettingValue::Bool(_) => "a boolean",
            SettingValue::Number(_) => "a number",
            SettingValue::String(_) => "a string",
        }
    }
}

/// The type a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingKind {
    /// A boolean.
    Bool,
    /// A finite number.
    Number,
    /// Free text.
    String,
    /// A route: `"processed"` or `"bypass"`.
    Route,
}

impl SettingKind {
    /// Short name: `bool`, `number`, `string`, `route`.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingKind::Bool => "bool",
            SettingKind::Number => "number",
            SettingKind::String => "string",
            SettingKind::Route => "route",
        }
    }

    /// What a command line may give for this kind, for messages ("must be a number"): a
    /// boolean also takes yes/no, on/off and 1/0 ([`parse_bool`]).
    pub fn expected_loose(self) -> &'static str {
        match self {
            SettingKind::Bool => "a boolean (true/false, yes/no, on/off or 1/0)",
            other => other.expected(),
        }
    }

    /// Name with an article, for messages ("must be a number").
    pub fn expected(self) -> &'static str {
        match self {
            SettingKind::Bool => "a boolean (true or false)",
            SettingKind::Number => "a number",
            SettingKind::String => "a string",
            SettingKind::Route => "a route (\"processed\" or \"bypass\")",
        }
    }
}

impl fmt::Display for SettingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One end of a numeric range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// The value may equal the bound.
    Inclusive(f64),
    /// The value must differ from the bound.
    Exclusive(f64),
}

/// The allowed range of a numeric setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumRange {
    /// Lower end.
    pub min: Bound,
    /// Upper end.
    pub max: Bound,
}

impl NumRange {
    /// Whether `v` is finite and inside the range.
    pub fn contains(&self, v: f64) -> bool {
        if !v.is_finite() {
            return false;
        }
        let lo = match self.min {
            Bound::Inclusive(b) => v >= b,
            Bound::Exclusive(b) => v > b,
        };
        let hi = match self.max {
            Bound::Inclusive(b) => v <= b,
            Bound::Exclusive(b) => v < b,
        };
        lo && hi
    }

    /// Human description, e.g. `> 0 and ≤ 500` or `between -40 and -5`.
    pub fn describe(&self) -> String {
        match (self.min, self.max) {
            (Bound::Inclusive(a), Bound::Inclusive(b)) => {
                format!("between {} and {}", format_number(a), format_number(b))
            }
            (lo, hi) => {
                let lo = match lo {
                    Bound::Inclusive(a) => format!("≥ {}", format_number(a)),
                    Bound::Exclusive(a) => format!("> {}", format_number(a)),
                };
                let hi = match hi {
                    Bound::Inclusive(b) => format!("≤ {}", format_number(b)),
                    Bound::Exclusive(b) => format!("< {}", format_number(b)),
                };
                format!("{lo} and {hi}")
            }
        }
    }
}

impl fmt::Display for NumRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Formats a number without a spurious `.0` or binary noise: `-16`, `1.5`, `0.1`; numbers
/// of 1e16 and more in size, or under 1e-6 but not 0, in exponent form (`-1e308`, not 309
/// digits; `1e-100`, not `0`).
pub fn format_number(v: f64) -> String {
    if v.is_finite() && (v.abs() >= 1e16 || (v != 0.0 && v.abs() < 1e-6)) {
        return format!("{v:e}");
    }
    let as_f32 = v as f32;
    if f64::from(as_f32) == v || (as_f32 as f64 - v).abs() < 1e-9 * v.abs().max(1.0) {
        format!("{as_f32}")
    } else {
        format!("{v}")
    }
}

/// Widens an `f32` parameter to the `f64` a reader expects: `0.1f32` becomes `0.1`, not
/// `0.10000000149011612`.
pub(crate) fn widen(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// Description of one setting, as listed by [`Profile::keys`].
#[derive(Debug, Clone, PartialEq)]
pub struct SettingInfo {
    /// Dotted key, e.g. `agc.target_lufs`.
    pub key: &'static str,
    /// Type.
    pub kind: SettingKind,
    /// Value in the built-in default profile.
    pub default: SettingValue,
    /// Allowed numeric range (numbers only).
    pub range: Option<NumRange>,
    /// One-line description with unit.
    pub doc: &'static str,
}

/// One row of the settings table.
pub struct Field {
    /// Dotted key, e.g. `agc.target_lufs`; the part before the dot is the profile section.
    pub key: &'static str,
    /// Type.
    pub kind: SettingKind,
    /// Allowed range (numbers only).
    pub range: Option<NumRange>,
    /// One-line description with unit.
    pub doc: &'static str,
    /// Reads the setting from a profile.
    pub get: fn(&Profile) -> SettingValue,
    /// Stores a value already coerced to `kind` (other variants are ignored).
    pub put: fn(&mut Profile, &SettingValue),
}

impl Field {
    /// The section (`agc` for `agc.target_lufs`), `None` for a top-level key.
    pub fn section(&self) -> Option<&'static str> {
        self.key.split_once('.').map(|(s, _)| s)
    }

    /// The key inside its section (`target_lufs` for `agc.target_lufs`).
    pub fn name(&self) -> &'static str {
        self.key.split_once('.').map_or(self.key, |(_, k)| k)
    }
}

const fn incl(a: f64, b: f64) -> Option<NumRange> {
    Some(NumRange {
        min: Bound::Inclusive(a),
        max: Bound::Inclusive(b),
    })
}

const fn excl_incl(a: f64, b: f64) -> Option<NumRange> {
    Some(NumRange {
        min: Bound::Exclusive(a),
        max: Bound::Inclusive(b),
    })
}

macro_rules! num_field {
    ($key:literal, $($path:ident).+, $range:expr, $doc:literal) => {
        Field {
            key: $key,
            kind: SettingKind::Number,
            range: $range,
            doc: $doc,
            get: |p| SettingValue::Number(widen(p.$($path).+)),
            put: |p, v| {
                if let SettingValue::Number(n) = v {
                    p.$($path).+ = *n as f32;
                }
            },
        }
    };
}

macro_rules! bool_field {
    ($key:literal, $($path:ident).+, $doc:literal) => {
        Field {
            key: $key,
            kind: SettingKind::Bool,
            range: None,
            doc: $doc,
            get: |p| SettingValue::Bool(p.$($path).+),
            put: |p, v| {
                if let SettingValue::Bool(b) = v {
                    p.$($path).+ = *b;
                }
            },
        }
    };
}

/// Every setting. Order is the order of `headroom get` listings and of the profile file.
pub static FIELDS: &[Field] = &[
    Field {
        key: "description",
        kind: SettingKind::String,
        range: None,
        doc: "One-line description of the profile",
        get: |p| SettingValue::String(p.description.clone()),
        put: |p, v| {
            if let SettingValue::String(s) = v {
                p.description = s.clone();
            }
        },
    },
    bool_field!(
        "bypass",
        chain.bypass,
        "Pass audio through unchanged (same latency; meters keep running)"
    ),
    Field {
        key: "preferred_real_sink",
        kind: SettingKind::String,
        range: None,
        doc: "node.name of the sink to play into; \"\" follows the default sink",
        get: |p| SettingValue::String(p.preferred_real_sink.clone().unwrap_or_default()),
        put: |p, v| {
            if let SettingValue::String(s) = v {
                p.preferred_real_sink = if s.is_empty() { None } else { Some(s.clone()) };
            }
        },
    },
    bool_field!("agc.enabled", chain.agc.enabled, "Run the AGC stage"),
    num_field!(
        "agc.target_lufs",
        chain.agc.target_lufs,
        incl(-40.0, -5.0),
        "Loudness the AGC steers toward, LUFS"
    ),
    num_field!(
        "agc.max_boost_db",
        chain.agc.max_boost_db,
        incl(0.0, 40.0),
        "Largest boost the AGC may apply, dB"
    ),
    num_field!(
        "agc.max_cut_db",
        chain.agc.max_cut_db,
        incl(0.0, 40.0),
        "Largest cut the AGC may apply, dB"
    ),
    num_field!(
        "agc.rise_db_per_s",
        chain.agc.rise_db_per_s,
        excl_incl(0.0, 100.0),
        "How fast the AGC gain may rise while it follows the programme, dB/s (a new, quieter programme after a pause or a loud passage is taken up within a fraction of a second)"
    ),
    num_field!(
        "agc.fall_db_per_s",
        chain.agc.fall_db_per_s,
        excl_incl(0.0, 100.0),
        "How fast the AGC gain may fall, dB/s"
    ),
    num_field!(
        "agc.silence_gate_lufs",
        chain.agc.silence_gate_lufs,
        incl(LUFS_FLOOR, -10.0),
        "Below this loudness the AGC gain freezes, LUFS (must be below agc.target_lufs)"
    ),
    num_field!(
        "agc.window_s",
        chain.agc.window_s,
        incl(0.4, 60.0),
        "Length of the programme loudness window, s (short: even loudness; long: keeps dynamics)"
    ),
    num_field!(
        "agc.max_momentary_lu",
        chain.agc.max_momentary_lu,
        incl(1.0, 30.0),
        "Largest momentary loudness above the target, LU (louder moments are pulled down fast)"
    ),
    bool_field!(
        "compressor.enabled",
        chain.compressor.enabled,
        "Run the compressor"
    ),
    num_field!(
        "compressor.threshold_db",
        chain.compressor.threshold_db,
        incl(-60.0, 0.0),
        "Compressor threshold, dBFS"
    ),
    num_field!(
        "compressor.ratio",
        chain.compressor.ratio,
        incl(1.0, 20.0),
        "Compression ratio (1 = none)"
    ),
    num_field!(
        "compressor.knee_db",
        chain.compressor.knee_db,
        incl(0.0, 24.0),
        "Soft-knee width, dB (0 = hard knee)"
    ),
    num_field!(
        "compressor.attack_ms",
        chain.compressor.attack_ms,
        excl_incl(0.0, 500.0),
        "Compressor attack time, ms"
    ),
    num_field!(
        "compressor.release_ms",
        chain.compressor.release_ms,
        excl_incl(0.0, 5000.0),
        "Compressor release time, ms"
    ),
    num_field!(
        "compressor.makeup_db",
        chain.compressor.makeup_db,
        incl(-24.0, 24.0),
        "Gain after compression, dB"
    ),
    num_field!(
        "compressor.sidechain_bass_cut_db",
        chain.compressor.sidechain_bass_cut_db,
        incl(0.0, 24.0),
        "How far under its level the compressor's detector reads bass under 80 Hz, dB (0 = full band; more: a kick drum ducks the sound over it less)"
    ),
    bool_field!(
        "limiter.enabled",
        chain.limiter.enabled,
        "Run the limiter (its lookahead delay stays in the path either way)"
    ),
    num_field!(
        "limiter.ceiling_dbtp",
        chain.limiter.ceiling_dbtp,
        incl(-20.0, 0.0),
        "Highest true peak of the output, dBTP (must be above agc.target_lufs)"
    ),
    num_field!(
        "limiter.lookahead_ms",
        chain.limiter.lookahead_ms,
        excl_incl(0.0, 1.5),
        "Limiter lookahead = latency added by the chain, ms"
    ),
    num_field!(
        "limiter.release_ms",
        chain.limiter.release_ms,
        excl_incl(0.0, 5000.0),
        "Limiter release time, ms"
    ),
    bool_field!(
        "layer_a.enabled",
        layer_a.enabled,
        "Run per-stream taps that turn single loud applications down"
    ),
    num_field!(
        "layer_a.threshold_lu",
        layer_a.threshold_lu,
        incl(0.0, 30.0),
        "A stream louder than the target by more than this is turned down, LU"
    ),
    num_field!(
        "layer_a.max_reduction_db",
        layer_a.max_reduction_db,
        incl(0.0, 40.0),
        "Largest reduction applied to one stream, dB"
    ),
    num_field!(
        "layer_a.max_boost_db",
        layer_a.max_boost_db,
        incl(0.0, 20.0),
        "Largest boost of one stream while others play, dB (PipeWire allows up to +20)"
    ),
    num_field!(
        "layer_a.attack_db_per_s",
        layer_a.attack_db_per_s,
        excl_incl(0.0, 100.0),
        "How fast a stream's reduction is applied, dB/s"
    ),
    num_field!(
        "layer_a.release_db_per_s",
        layer_a.release_db_per_s,
        excl_incl(0.0, 100.0),
        "How fast a stream's reduction is released, dB/s"
    ),
    bool_field!(
        "route.bypass_notifications",
        route.bypass_notifications,
        "Streams with media.role Notification, Event, Alert, Alarm or Emergency bypass the chain unless a rule matches them"
    ),
    Field {
        key: "route.default",
        kind: SettingKind::Route,
        range: None,
        doc: "Route for streams no rule matches: \"processed\" or \"bypass\"",
        get: |p| SettingValue::String(p.route.default.as_str().to_owned()),
        put: |p, v| {
            if let SettingValue::String(s) = v {
                if let Ok(r) = s.parse::<Route>() {
                    p.route.default = r;
                }
            }
        },
    },
    bool_field!(
        "route.promote_default",
        promote_default,
        "Make headroom-processed the default sink while headroomd runs; the previous default becomes the real sink and is restored on exit"
    ),
];

/// Looks a setting up by dotted key.
pub(crate) fn field(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

/// The profile's sections (`agc`, `compressor`, …, `route`), in schema order.
pub fn sections() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for s in FIELDS.iter().filter_map(Field::section) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The settings of `section` (`None`: the top-level keys), in schema order.
pub fn fields_in(section: Option<&str>) -> impl Iterator<Item = &'static Field> + '_ {
    FIELDS.iter().filter(move |f| f.section() == section)
}

/// The one boolean parser for text a user typed (command lines, `--set`, loosely typed IPC
/// values): `true`/`yes`/`on`/`1` and `false`/`no`/`off`/`0`, ignoring case and surrounding
/// blanks. `None` for anything else.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Converts `value` to the type `kind` takes, accepting the loose forms a command line
/// produces (`"on"` for a bool, a number for a string, …). `Err` carries the reason.
pub(crate) fn coerce(kind: SettingKind, value: &SettingValue) -> Result<SettingValue, ()> {
    match (kind, value) {
        (SettingKind::Bool, SettingValue::Bool(_)) => Ok(value.clone()),
        (SettingKind::Bool, SettingValue::String(s)) => {
            parse_bool(s).map(SettingValue::Bool).ok_or(())
        }
        (SettingKind::Bool, SettingValue::Number(n)) if *n == 0.0 || *n == 1.0 => {
            Ok(SettingValue::Bool(*n == 1.0))
        }
        (SettingKind::Number, SettingValue::Number(_)) => Ok(value.clone()),
        (SettingKind::Number, SettingValue::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(SettingValue::Number)
            .map_err(|_| ()),
        (SettingKind::String, SettingValue::String(_)) => Ok(value.clone()),
        (SettingKind::String, SettingValue::Number(n)) => {
            Ok(SettingValue::String(format_number(*n)))
        }
        (SettingKind::String, SettingValue::Bool(b)) => Ok(SettingValue::String(b.to_string())),
        (SettingKind::Route, SettingValue::String(s)) => {
            s.parse::<Route>().map(|_| value.clone()).map_err(|_| ())
        }
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_describe_and_contain() {
        let r = excl_incl(0.0, 1.5).unwrap();
        assert!(!r.contains(0.0));
        assert!(r.contains(1.5));
        assert!(!r.contains(f64::NAN));
        assert_eq!(r.describe(), "> 0 and ≤ 1.5");
        assert_eq!(incl(-40.0, -5.0).unwrap().describe(), "between -40 and -5");
    }

    #[test]
    fn one_boolean_parser_for_every_spelling() {
        for (t, want) in [
            ("true", true),
            ("Yes", true),
            ("ON", true),
            ("1", true),
            (" false ", false),
            ("no", false),
            ("off", false),
            ("0", false),
        ] {
            assert_eq!(parse_bool(t), Some(want), "{t}");
            assert_eq!(
                coerce(SettingKind::Bool, &SettingValue::String(t.into())),
                Ok(SettingValue::Bool(want)),
                "{t}"
            );
        }
        for bad in ["", "2", "enabled", "tru", "-1"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
        assert_eq!(
            coerce(SettingKind::Bool, &SettingValue::Number(0.0)),
            Ok(SettingValue::Bool(false))
        );
        assert_eq!(
            coerce(SettingKind::Bool, &SettingValue::Number(1.0)),
            Ok(SettingValue::Bool(true))
        );
        assert!(coerce(SettingKind::Bool, &SettingValue::Number(2.0)).is_err());
    }

    #[test]
    fn numbers_format_cleanly() {
        assert_eq!(format_number(-16.0), "-16");
        assert_eq!(format_number(widen(0.1)), "0.1");
        assert_eq!(widen(0.1f32), 0.1);
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(format_number(1e-100), "1e-100");
        assert_eq!(format_number(-2.5e-7), "-2.5e-7");
        assert_eq!(format_number(0.000_5), "0.0005");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(-1e308), "-1e308");
    }

    #[test]
    fn every_field_round_trips_through_get_and_put() {
        let mut p = Profile::default();
        for f in FIELDS {
            let v = (f.get)(&p);
            (f.put)(&mut p, &v);
            assert_eq!((f.get)(&p), v, "{}", f.key);
            assert_eq!(coerce(f.kind, &v), Ok(v.clone()), "{}", f.key);
            assert_eq!(
                f.range.is_some(),
                f.kind == SettingKind::Number,
                "{}",
                f.key
            );
        }
    }
}
