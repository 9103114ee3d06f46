//! Requests: what a client asks the daemon (`{"id":1,"method":"…","params":{…}}`).

use serde::{Deserialize, Serialize};

use crate::error::IpcError;
use crate::{MAX_NAME_BYTES, MAX_PATTERN_BYTES};

/// A request body: the `method` and its `params`. The envelope with the request `id` is
/// [`RequestFrame`].
///
/// Wire form: `{"method":"setting.set","params":{"key":"agc.target_lufs","value":-18}}`.
/// Methods without parameters omit `params` (an empty object or `null` is accepted too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", deny_unknown_fields)]
pub enum Request {
    /// `status` → [`crate::Response::Status`].
    #[serde(rename = "status")]
    Status,
    /// `profile.list` → [`crate::Response::ProfileList`].
    #[serde(rename = "profile.list")]
    ProfileList,
    /// `profile.show {name?}` → [`crate::Response::ProfileShow`]; the active profile when
    /// `name` is absent.
    #[serde(rename = "profile.show")]
    ProfileShow {
        /// Profile name; `None` means the active profile.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// `profile.use {name}` → [`crate::Response::ProfileActive`].
    #[serde(rename = "profile.use")]
    ProfileUse {
        /// Profile to activate.
        name: String,
    },
    /// `profile.reload` → [`crate::Response::ProfileActive`]: re-reads the active profile.
    #[serde(rename = "profile.reload")]
    ProfileReload,
    /// `route.list {cursor?}` → [`crate::Response::Routes`]: one page; the next one is
    /// asked for with the `next_cursor` of the answer (see [`crate::Routes::next_cursor`]).
    #[serde(rename = "route.list")]
    RouteList {
        /// Where to continue (a previous page's `next_cursor`); absent: the first page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<u64>,
    },
    /// `route.set {app, route}` → [`crate::Response::Ok`]: adds or replaces a user rule.
    #[serde(rename = "route.set")]
    RouteSet {
        /// Application match (application name or binary, case-insensitive).
        app: String,
        /// Where matching streams go.
        route: Route,
    },
    /// `route.unset {app}` → [`crate::Response::Ok`]: removes the user rule for `app`.
    #[serde(rename = "route.unset")]
    RouteUnset {
        /// Application match of the rule to remove.
        app: String,
    },
    /// `setting.get {key}` → [`crate::Response::Setting`].
    #[serde(rename = "setting.get")]
    SettingGet {
        /// Dotted setting key, e.g. `agc.target_lufs`.
        key: String,
    },
    /// `setting.set {key, value}` → [`crate::Response::Setting`] (the new state).
    #[serde(rename = "setting.set")]
    SettingSet {
        /// Dotted setting key.
        key: String,
        /// New value (number, bool or string).
        value: SettingValue,
    },
    /// `setting.list` → [`crate::Response::Settings`].
    #[serde(rename = "setting.list")]
    SettingList,
    /// `setting.reset {key}` or `setting.reset {all: true}` → [`crate::Response::Settings`]
    /// (the entries that were reset, in their new state). Exactly one of `key` and `all`.
    #[serde(rename = "setting.reset")]
    SettingReset {
        /// Key to reset to its profile/default value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Reset every overridden key.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        all: bool,
    },
    /// `bypass.set {mode}` → [`crate::Response::Bypass`].
    #[serde(rename = "bypass.set")]
    BypassSet {
        /// `on`, `off` or `toggle`.
        mode: BypassMode,
    },
    /// `subscribe {topics}` → [`crate::Response::Subscribed`], then snapshot events, then
    /// deltas on the same connection. Handled by the server itself.
    #[serde(rename = "subscribe")]
    Subscribe {
        /// Topics to receive; must not be empty.
        topics: Vec<Topic>,
    },
    /// `history {since_secs?, from_unix_ms?}` → [`crate::Response::History`]: one page of at
    /// most [`crate::HISTORY_PAGE_SAMPLES`] samples; everything kept when both are absent. The
    /// next page is asked for with `from_unix_ms` = the answer's
    /// [`crate::History::next_unix_ms`].
    #[serde(rename = "history")]
    History {
        /// Only samples from the last `since_secs` seconds.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "saturating_u64"
        )]
        since_secs: Option<u64>,
        /// Only samples at or after this time (ms since the Unix epoch); with `since_secs`
        /// the later of the two bounds applies.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "saturating_u64"
        )]
        from_unix_ms: Option<u64>,
    },
}

/// An optional bound read from any whole JSON number of 0 or more: one beyond `u64::MAX`
/// (which JSON parsers hold as a float, e.g. `1e23`) saturates at it, so any such number
/// means what it says ("everything"). A negative or fractional number is refused.
fn saturating_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct Bound;
    impl serde::de::Visitor<'_> for Bound {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number of 0 or more")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| {
                E::custom(format!(
                    "{v} is negative (a whole number of 0 or more is expected)"
                ))
            })
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            if v >= 0.0 && v.fract() == 0.0 {
                // `as` saturates: anything at or beyond 2^64 is u64::MAX.
                Ok(v as u64)
            } else {
                Err(E::custom(format!("{v} is not a whole number of 0 or more")))
            }
        }
    }
    struct Opt;
    impl<'de> serde::de::Visitor<'de> for Opt {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number of 0 or more, or null")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Option<u64>, D2::Error> {
            d.deserialize_any(Bound).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

/// Every method name, in the order of [`Request`]'s variants.
pub const METHODS: &[&str] = &[
    "status",
    "profile.list",
    "profile.show",
    "profile.use",
    "profile.reload",
    "route.list",
    "route.set",
    "route.unset",
    "setting.get",
    "setting.set",
    "setting.list",
    "setting.reset",
    "bypass.set",
    "subscribe",
    "history",
];

impl Request {
    /// The wire method name, e.g. `"setting.set"`.
    pub fn method(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::ProfileList => "profile.list",
            Request::ProfileShow { .. } => "profile.show",
            Request::ProfileUse { .. } => "profile.use",
            Request::ProfileReload => "profile.reload",
            Request::RouteList { .. } => "route.list",
            Request::RouteSet { .. } => "route.set",
            Request::RouteUnset { .. } => "route.unset",
            Request::SettingGet { .. } => "setting.get",
            Request::SettingSet { .. } => "setting.set",
            Request::SettingList => "setting.list",
            Request::SettingReset { .. } => "setting.reset",
            Request::BypassSet { .. } => "bypass.set",
            Request::Subscribe { .. } => "subscribe",
            Request::History { .. } => "history",
        }
    }

    /// Checks constraints serde cannot express (non-empty names, exactly one of
    /// `key`/`all`, a non-empty topic list). Decoding calls this; an error is
    /// `invalid_params`.
    pub fn validate(&self) -> Result<(), IpcError> {
        let name = |what: &str, s: &str, max: usize| {
            if s.trim().is_empty() {
                Err(IpcError::invalid_params(format!(
                    "`{what}` must not be empty"
                )))
            } else if s.len() > max {
                Err(IpcError::invalid_params(format!(
                    "`{what}` is {} bytes long; at most {max} are accepted",
                    s.len()
                )))
            } else if let Some(c) = s.chars().find(|c| c.is_control()) {
                // Nothing a command line could name again (a rule with a NUL in it could
                // not be removed with `headroom route unset`), and nothing an app is called.
                Err(IpcError::invalid_params(format!(
                    "`{what}` holds the control character U+{:04X}; names, patterns and keys \
                     are text without control characters",
                    u32::from(c)
                )))
            } else {
                Ok(())
            }
        };
        match self {
            Request::ProfileShow { name: Some(n) } => name("name", n, MAX_NAME_BYTES),
            Request::ProfileUse { name: n } => name("name", n, MAX_NAME_BYTES),
            Request::RouteSet { app, .. } => {
                name("app", app, MAX_PATTERN_BYTES)?;
                if app.trim() != app {
                    // A rule for ` firefox ` would never match: no app is called that. (One
                    // stored before this was refused can still be removed.)
                    return Err(IpcError::invalid_params(format!(
                        "`app` {app:?} begins or ends with blanks; no app is called that"
                    )));
                }
                Ok(())
            }
            Request::RouteUnset { app } => name("app", app, MAX_PATTERN_BYTES),
            Request::SettingGet { key } => name("key", key, MAX_NAME_BYTES),
            Request::SettingSet { key, value } => {
                name("key", key, MAX_NAME_BYTES)?;
                match value {
                    SettingValue::String(v) if v.len() > MAX_NAME_BYTES => {
                        Err(IpcError::invalid_params(format!(
                            "the value is {} bytes long; at most {MAX_NAME_BYTES} are accepted",
                            v.len()
                        )))
                    }
                    _ => Ok(()),
                }
            }
            Request::SettingReset { key, all } => match (key, all) {
                (Some(k), false) => name("key", k, MAX_NAME_BYTES),
                (None, true) => Ok(()),
                _ => Err(IpcError::invalid_params(
                    "setting.reset takes exactly one of `key` or `all: true`",
                )),
            },
            Request::Subscribe { topics } if topics.is_empty() => Err(IpcError::invalid_params(
                "subscribe needs at least one topic",
            )),
            _ => Ok(()),
        }
    }
}

/// A request with its `id`; the response echoes the `id`.
///
/// Wire form: `{"id":1,"method":"status"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFrame {
    /// Client-chosen request id, echoed by the response.
    pub id: u64,
    /// Method and parameters.
    pub request: Request,
}

impl Serialize for RequestFrame {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            id: u64,
            #[serde(flatten)]
            request: &'a Request,
        }
        Wire {
            id: self.id,
            request: &self.request,
        }
        .serialize(s)
    }
}

/// Where a routing rule sends an application's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Through the levelling chain (the `headroom-processed` sink).
    Processed,
    /// Straight to the real output device, untouched.
    Bypass,
}

/// `bypass.set` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BypassMode {
    /// Bypass the chain (audio passes unprocessed).
    On,
    /// Process audio.
    Off,
    /// Flip the current state.
    Toggle,
}

/// Event topic (see [`crate::Event`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Daemon life cycle and queue overflow notices.
    Daemon,
    /// Rules, stream routing, Layer A taps.
    Routing,
    /// Meter ticks (about 10 Hz).
    Meters,
    /// Active profile changes and profile file errors.
    Profile,
    /// Setting changes.
    Settings,
    /// Alerts raised and cleared.
    Alerts,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; Topic::COUNT] = [
        Topic::Daemon,
        Topic::Routing,
        Topic::Meters,
        Topic::Profile,
        Topic::Settings,
        Topic::Alerts,
    ];

    /// Number of topics.
    pub const COUNT: usize = 6;

    /// The wire spelling, e.g. `"meters"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Daemon => "daemon",
            Topic::Routing => "routing",
            Topic::Meters => "meters",
            Topic::Profile => "profile",
            Topic::Settings => "settings",
            Topic::Alerts => "alerts",
        }
    }

    /// Index of the topic in [`Topic::ALL`] (handy for per-topic counters).
    pub fn index(self) -> usize {
        match self {
            Topic::Daemon => 0,
            Topic::Routing => 1,
            Topic::Meters => 2,
            Topic::Profile => 3,
            Topic::Settings => 4,
            Topic::Alerts => 5,
        }
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Topic {
    type Err = IpcError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Topic::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| IpcError::invalid_params(format!("unknown topic `{s}`")))
    }
}

/// A setting value: JSON bool, integer, float or string.
///
/// Integers and floats are kept apart so that a value round-trips with its exact spelling
/// (`-18` stays `-18`, `-18.5` stays `-18.5`); use [`SettingValue::as_f64`] to read either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SettingValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction or exponent (or beyond the `i64` range).
    Float(f64),
    /// A string.
    String(String),
}

impl SettingValue {
    /// The value as a number, for `Int` and `Float`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SettingValue::Int(i) => Some(*i as f64),
            SettingValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            SettingValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SettingValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Parses a command-line spelling: `true`/`false`, an integer, a float, else a string.
    pub fn parse_cli(s: &str) -> SettingValue {
        if let Ok(b) = s.parse::<bool>() {
            SettingValue::Bool(b)
        } else if let Ok(i) = s.parse::<i64>() {
            SettingValue::Int(i)
        } else if let Some(f) = s.parse::<f64>().ok().filter(|f| f.is_finite()) {
            SettingValue::Float(f)
        } else {
            SettingValue::String(s.to_owned())
        }
    }
}

impl std::fmt::Display for SettingValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingValue::Bool(b) => write!(f, "{b}"),
            SettingValue::Int(i) => write!(f, "{i}"),
            SettingValue::Float(x) => write!(f, "{x}"),
            SettingValue::String(s) => f.write_str(s),
        }
    }
}

impl From<bool> for SettingValue {
    fn from(v: bool) -> Self {
        SettingValue::Bool(v)
    }
}
impl From<i64> for SettingValue {
    fn from(v: i64) -> Self {
        SettingValue::Int(v)
    }
}
impl From<i32> for SettingValue {
    fn from(v: i32) -> Self {
        SettingValue::Int(v.into())
    }
}
impl From<f64> for SettingValue {
    fn from(v: f64) -> Self {
        SettingValue::Float(v)
    }
}
impl From<f32> for SettingValue {
    fn from(v: f32) -> Self {
        SettingValue::Float(v.into())
    }
}
impl From<&str> for SettingValue {
    fn from(v: &str) -> Self {
        SettingValue::String(v.to_owned())
    }
}
impl From<String> for SettingValue {
    fn from(v: String) -> Self {
        SettingValue::String(v)
    }
}
