//! Responses: typed result payloads, one kind per method.

use serde::{Deserialize, Serialize, Serializer};

use crate::alert::{Alert, StateWord};
use crate::request::{Route, SettingValue, Topic};
use crate::LUFS_FLOOR;

/// A successful result. Wire form: `{"id":1,"result":{"kind":"…", …}}`; `kind` names the
/// payload so that results are self-describing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// Result of `route.set` and `route.unset`: `{"kind":"ok"}`.
    Ok,
    /// Result of `status`.
    Status(Box<Status>),
    /// Result of `profile.list`.
    ProfileList(ProfileList),
    /// Result of `profile.show`.
    ProfileShow(ProfileShow),
    /// Result of `profile.use` and `profile.reload`.
    ProfileActive(ProfileActive),
    /// Result of `route.list`.
    Routes(Routes),
    /// Result of `setting.get` and `setting.set`.
    Setting(SettingEntry),
    /// Result of `setting.list` and `setting.reset`.
    Settings(Settings),
    /// Result of `bypass.set`.
    Bypass(BypassState),
    /// Result of `subscribe`.
    Subscribed(Subscribed),
    /// Result of `history`.
    History(History),
}

impl Response {
    /// The wire `kind`, e.g. `"status"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Response::Ok => "ok",
            Response::Status(_) => "status",
            Response::ProfileList(_) => "profile_list",
            Response::ProfileShow(_) => "profile_show",
            Response::ProfileActive(_) => "profile_active",
            Response::Routes(_) => "routes",
            Response::Setting(_) => "setting",
            Response::Settings(_) => "settings",
            Response::Bypass(_) => "bypass",
            Response::Subscribed(_) => "subscribed",
            Response::History(_) => "history",
        }
    }
}

/// Daemon status (`status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// What the daemon is doing, in one word (see [`StateWord`]).
    pub state: StateWord,
    /// Daemon version, e.g. `"0.1.0"`.
    pub daemon_version: String,
    /// Protocol version the daemon speaks.
    pub protocol_version: u32,
    /// Seconds since the daemon started.
    pub uptime_s: u64,
    /// PipeWire connection state.
    pub pipewire: PipewireState,
    /// Node name of the real output device the processed sink plays to, if known.
    pub real_sink: Option<String>,
    /// Node name of the virtual processed sink (`headroom-processed`).
    pub processed_sink: String,
    /// The processed sink's channel positions as PipeWire names them, space-separated
    /// (`"FL FR"`, `"FL FR FC LFE RL RR"`): the real sink's layout where headroom can level
    /// it, stereo otherwise (optional: absent while the sink is not up, and from daemons that
    /// predate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_channels: Option<String>,
    /// Whether auto-promote is on (`route.promote_default`): the processed sink is the
    /// default sink and `real_sink` is the sink the user chose. Absent (`false`) from daemons
    /// that predate it.
    #[serde(default)]
    pub promote_default: bool,
    /// Active profile name.
    pub profile: String,
    /// Whether the chain is bypassed.
    pub bypass: bool,
    /// Audio callback timing.
    pub dsp: DspTiming,
    /// Xruns seen on the processed stream since start.
    pub xruns: u64,
    /// Latest meters of the processed bus.
    pub meters: Meters,
    /// Number of application output streams currently known.
    pub streams: u32,
    /// The last error of the active profile's file or the config file
    /// (`file:line:col: message`) while the last good profile stays in force, or of another
    /// profile's file edited into an invalid state; absent when the files are fine
    /// (optional). [`profile_error_active`](Self::profile_error_active) tells the two apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_error: Option<String>,
    /// Whether `profile_error` is about what the config file selects (the config file or the
    /// active profile's file: `true`) or about another profile's file (`false`: the active
    /// profile is not affected). Optional: present while `profile_error` is, absent from
    /// daemons that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_error_active: Option<bool>,
    /// What is in force while `profile_error` is set: the last good version of the active
    /// profile (the active profile as it is, for another profile's error), or the fallback
    /// taken when it could not be loaded at start-up (optional:
    /// absent when `profile_error` is, and from daemons that predate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_in_force: Option<ProfileInForce>,
    /// Alerts active now, oldest first.
    #[serde(default)]
    pub alerts: Vec<Alert>,
    /// Keys of the config file the daemon does not know, one warning each in file order
    /// (``file:line:col: unknown key `profle` (did you mean `profile`?); ignored``), then an
    /// `[alerts] notify` that is not `true` or `false` (``file:line:col: `alerts.notify` must
    /// be true or false; desktop notifications are off``): the rest of the file loads all the
    /// same. Empty (absent on the wire) when there are none, and from daemons that predate
    /// it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_warnings: Vec<String>,
    /// What the daemon found wrong with its own state files when it started (`routes.json`,
    /// `state.json`, `promote.json`): a file it could not read, moved aside to
    /// `<name>.corrupt-<unix seconds>` so nothing is lost, or rules it skipped. One message
    /// each, kept until the daemon restarts. Empty (absent on the wire) when the files were
    /// fine, and from daemons that predate it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_warnings: Vec<String>,
}

/// PipeWire connection state: `{"state":"connected"}` or
/// `{"state":"disconnected","reason":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PipewireState {
    /// Connected to the PipeWire server.
    Connected,
    /// Not connected; the daemon keeps retrying.
    Disconnected {
        /// Why (last error).
        reason: String,
    },
}

/// Audio callback timing statistics.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DspTiming {
    /// Callbacks recorded.
    pub call_count: u64,
    /// Mean callback duration, µs.
    pub mean_us: f64,
    /// Longest callback, µs.
    pub max_us: u64,
    /// Callbacks longer than the spike threshold.
    pub spike_count: u64,
}

fn level<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f32(sanitize_level(*v))
}

fn gain<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f32(sanitize_gain(*v))
}

/// Maps a loudness/peak value onto the wire: non-finite values and values below
/// [`LUFS_FLOOR`] become [`LUFS_FLOOR`] ("no measurement").
pub fn sanitize_level(v: f32) -> f32 {
    if v.is_finite() && v > LUFS_FLOOR {
        v
    } else {
        LUFS_FLOOR
    }
}

/// Maps a gain/gain-reduction value onto the wire: non-finite values become `0`.
pub fn sanitize_gain(v: f32) -> f32 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

/// Meters of the processed bus: a mirror of the core meter snapshot.
///
/// "Input" is the chain's input: what the apps routed through it play, after Layer A's
/// volumes — except that the cut of an app playing alone is taken off again there (so it
/// reads that app's own loudness), a gain kept while others play beside it.
///
/// Loudness (LUFS) and true-peak (dBTP) fields at or below [`LUFS_FLOOR`] mean
/// "no measurement yet"; they are serialised clamped to the floor (and non-finite gain values
/// as `0`), so the JSON always holds plain numbers.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Meters {
    /// Input momentary loudness, LUFS.
    #[serde(serialize_with = "level")]
    pub in_momentary_lufs: f32,
    /// Input short-term loudness, LUFS.
    #[serde(serialize_with = "level")]
    pub in_short_term_lufs: f32,
    /// Input gated integrated loudness, LUFS.
    #[serde(serialize_with = "level")]
    pub in_integrated_lufs: f32,
    /// Input true peak, dBTP.
    #[serde(serialize_with = "level")]
    pub in_true_peak_dbtp: f32,
    /// Output momentary loudness, LUFS.
    #[serde(serialize_with = "level")]
    pub out_momentary_lufs: f32,
    /// Output short-term loudness, LUFS.
    #[serde(serialize_with = "level")]
    pub out_short_term_lufs: f32,
    /// Output gated integrated loudness, LUFS.
    #[serde(serialize_with = "level")]
    pub out_integrated_lufs: f32,
    /// Output true peak, dBTP.
    #[serde(serialize_with = "level")]
    pub out_true_peak_dbtp: f32,
    /// Current AGC gain, dB.
    #[serde(serialize_with = "gain")]
    pub agc_gain_db: f32,
    /// Compressor gain reduction, dB (≥ 0).
    #[serde(serialize_with = "gain")]
    pub compressor_gr_db: f32,
    /// Limiter gain reduction, dB (≥ 0).
    #[serde(serialize_with = "gain")]
    pub limiter_gr_db: f32,
    /// AGC target in force, LUFS.
    #[serde(serialize_with = "gain")]
    pub target_lufs: f32,
    /// Whether the chain is bypassed.
    pub bypass: bool,
    /// Frames processed since the chain was created.
    pub frames: u64,
}

impl Meters {
    /// Meters reading "no measurement" everywhere, no gain, given target.
    pub fn silent(target_lufs: f32) -> Self {
        Meters {
            in_momentary_lufs: LUFS_FLOOR,
            in_short_term_lufs: LUFS_FLOOR,
            in_integrated_lufs: LUFS_FLOOR,
            in_true_peak_dbtp: LUFS_FLOOR,
            out_momentary_lufs: LUFS_FLOOR,
            out_short_term_lufs: LUFS_FLOOR,
            out_integrated_lufs: LUFS_FLOOR,
            out_true_peak_dbtp: LUFS_FLOOR,
            target_lufs,
            ..Default::default()
        }
    }
}

/// One profile in `profile.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEntry {
    /// Profile name.
    pub name: String,
    /// Where it comes from.
    pub source: ProfileSource,
    /// Whether it is the active profile.
    pub active: bool,
    /// Its one-line `description` (empty when it has none or does not parse). Optional:
    /// clients treat a missing field as empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Why it cannot be used (`file:line:col: message`), when it does not parse. Optional:
    /// clients treat a missing field as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What is in force while a profile or the config file is in error
/// ([`Status::profile_in_force`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileInForce {
    /// The last version of the active profile that loaded (the error came after it).
    LastGood,
    /// The shipped profile of the active profile's name: the user's file of that name could
    /// not be loaded at start-up.
    Shipped,
    /// The `default` profile: the config file could not be read at start-up.
    Default,
    /// The built-in defaults: the active profile could not be loaded at start-up and no
    /// profile of that name is shipped.
    BuiltIn,
}

/// Origin of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileSource {
    /// Installed with headroom.
    Shipped,
    /// From the user's config directory (overrides a shipped profile of the same name).
    User,
}

/// Result of `profile.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileList {
    /// All profiles, sorted by name.
    pub profiles: Vec<ProfileEntry>,
    /// Name of the active profile.
    pub active: String,
}

/// Result of `profile.show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileShow {
    /// Profile name.
    pub name: String,
    /// Where it comes from.
    pub source: ProfileSource,
    /// File path.
    pub path: String,
    /// The TOML text of the file.
    pub toml: String,
    /// Why the profile cannot be used (`file:line:col: message`, one a line), when the file
    /// does not parse; absent when it is valid (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The settings changed at run time (`setting.set`) that are in force over this
    /// profile, as `setting.list` gives them: only when it is the active profile; absent
    /// when there are none (optional).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<SettingEntry>,
}

/// Result of `profile.use` / `profile.reload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileActive {
    /// Name of the profile now active.
    pub name: String,
}

/// Origin of a routing rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    /// Set with `route.set` (persisted in the user's config); wins over profile rules.
    User,
    /// From the active profile.
    Profile,
}

/// A routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRule {
    /// Application match (application name or binary, case-insensitive).
    pub app: String,
    /// Where matching streams go.
    pub route: Route,
    /// Where the rule comes from.
    pub source: RuleSource,
}

/// An application output stream and how it is routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// PipeWire node id.
    pub node_id: u32,
    /// `application.name` (empty when the stream has none).
    pub app: String,
    /// `application.process.binary`, if set.
    pub binary: Option<String>,
    /// `media.name`, if set.
    pub media_name: Option<String>,
    /// The rule that decided the route: `app=GLOB` (a user rule), the keys of a profile
    /// rule (`app=firefox, media.role=Movie`), `media.role=ROLE` (a notification-like role,
    /// `route.bypass_notifications`) or `default` (`route.default`); `null` for a stream
    /// headroom may not move (`node.dont-reconnect`).
    pub matched_rule: Option<String>,
    /// Route decided for the stream.
    pub route: Route,
    /// Node name the stream is actually linked to, if linked.
    pub target: Option<String>,
    /// Current Layer A (per-stream pre-levelling) reduction in dB, when a tap is attached:
    /// positive turns the stream down, negative lifts it.
    pub layer_a_reduction_db: Option<f32>,
    /// The description (`node.description`, what mixers show, e.g. `Headroom (processed)`)
    /// of the node the stream plays into; absent while unlinked (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<String>,
    /// Why the stream is not where its rule wants it (the app chose its output, moved by the
    /// user, pending); absent when it is (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Result of `route.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routes {
    /// User rules first, then profile rules (in the first page only).
    pub rules: Vec<RouteRule>,
    /// Known application output streams (this page's).
    pub streams: Vec<StreamInfo>,
    /// Present when more streams follow: ask `route.list` again with this `cursor`. Absent
    /// on the last (usually the only) page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<u64>,
}

/// Splits `streams` into the first ones whose encoded size stays within `budget` bytes (at
/// least one) and the rest, in order.
pub fn page_streams<'a>(
    streams: impl IntoIterator<Item = &'a StreamInfo>,
    budget: usize,
) -> (Vec<StreamInfo>, Vec<StreamInfo>) {
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    let mut used = 0usize;
    for s in streams {
        if rest.is_empty() {
            let len = serde_json::to_string(s).map_or(0, |t| t.len() + 1);
            if first.is_empty() || used + len <= budget {
                used += len;
                first.push(s.clone());
                continue;
            }
        }
        rest.push(s.clone());
    }
    (first, rest)
}

/// One setting with its effective value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingEntry {
    /// Dotted key, e.g. `agc.target_lufs`.
    pub key: String,
    /// Effective value.
    pub value: SettingValue,
    /// Value from the active profile (or the built-in default).
    pub default: SettingValue,
    /// Whether a runtime override is in force (`value` differs from `default` by choice).
    pub overridden: bool,
}

/// Result of `setting.list` / `setting.reset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Entries sorted by key.
    pub settings: Vec<SettingEntry>,
}

/// Result of `bypass.set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BypassState {
    /// Bypass state after the request.
    pub bypass: bool,
}

/// Result of `subscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    /// Topics now subscribed (deduplicated, sorted).
    pub topics: Vec<Topic>,
}

/// Result of `history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Nominal interval between samples, ms.
    pub interval_ms: u64,
    /// Samples, oldest first.
    pub samples: Vec<HistorySample>,
    /// Present when more samples follow: ask `history` again with `from_unix_ms` set to it.
    /// Absent on the last (usually the only) page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_unix_ms: Option<u64>,
    /// Marked moments in the same span (restarts, bypass, profile changes, alerts), oldest
    /// first.
    #[serde(default)]
    pub marks: Vec<HistoryMark>,
    /// Time of the oldest sample the daemon keeps at all, ms since the Unix epoch (`null`:
    /// none yet). A `since_secs` reaching further back than this gets what is kept.
    #[serde(default)]
    pub kept_since_unix_ms: Option<u64>,
}

/// A marked moment of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryMark {
    /// When, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// What kind of moment.
    pub kind: MarkKind,
    /// What happened, for people.
    pub text: String,
}

/// What a [`HistoryMark`] marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// The daemon started.
    Started,
    /// The daemon stopped.
    Stopped,
    /// The bypass in force turned on or off (by a request, a reset or a profile; setting it
    /// to what it already is marks nothing).
    Bypass,
    /// Another profile became active (or the active one was reloaded).
    Profile,
    /// An alert was raised.
    Alert,
    /// An alert cleared.
    Cleared,
    /// A kind this library version does not know.
    #[serde(other)]
    Unknown,
}

/// One history sample of the processed bus.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistorySample {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Input short-term loudness, LUFS.
    #[serde(serialize_with = "level")]
    pub in_short_term_lufs: f32,
    /// Output short-term loudness, LUFS.
    #[serde(serialize_with = "level")]
    pub out_short_term_lufs: f32,
    /// AGC gain, dB.
    #[serde(serialize_with = "gain")]
    pub agc_gain_db: f32,
    /// Compressor gain reduction, dB.
    #[serde(serialize_with = "gain")]
    pub compressor_gr_db: f32,
    /// Limiter gain reduction, dB.
    #[serde(serialize_with = "gain")]
    pub limiter_gr_db: f32,
    /// Mean audio callback duration over the interval, µs (absent from older daemons: 0).
    #[serde(default, serialize_with = "gain")]
    pub dsp_mean_us: f32,
    /// Longest audio callback since the daemon started, µs.
    #[serde(default, serialize_with = "gain")]
    pub dsp_max_us: f32,
    /// Callbacks over the spike threshold since the daemon started.
    #[serde(default)]
    pub spikes: u64,
    /// Xruns since the daemon started.
    #[serde(default)]
    pub xruns: u64,
}
