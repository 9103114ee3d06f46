//! [`Profile`]: a validated profile, its dotted-key settings and what changes between two.

use headroom_core::params::{ChainParams, LayerAParams};

use crate::error::{key_path, Invalid, Seg};
use crate::schema::{self, closest, format_number, SettingInfo, SettingKind, SettingValue};
use crate::shipped::{DEFAULT_DESCRIPTION, DEFAULT_PROFILE_NAME};
use crate::{ErrorKind, Glob, MatchKey, ProfileError, RouteConfig};

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

impl Profile {
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
        crate::parse::parse(name, text, path)
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

    /// The profile as TOML text (without comments) that [`Profile::parse`] reads back to an
    /// equal profile: every setting of the schema in its section, then the routing rules.
    pub fn to_toml(&self) -> String {
        crate::write::to_toml(self)
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
