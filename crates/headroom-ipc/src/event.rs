//! Events pushed to subscribers:
//! `{"type":"event","topic":"meters","event":"tick","data":{…}}`.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::alert::{Alert, AlertCleared, Alerts, StateWord};
use crate::request::{Route, SettingValue, Topic};
use crate::response::{
    sanitize_gain, sanitize_level, Meters, ProfileList, ProfileSource, Routes, RuleSource,
    Settings, Status, StreamInfo,
};

/// An event. Each variant belongs to one [`Topic`] and has a wire name; see
/// [`Event::topic`] and [`Event::name`].
///
/// Unknown `(topic, event)` pairs decode as [`Event::Other`] so that older clients keep
/// working when events are added.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `daemon/started`.
    DaemonStarted(DaemonStarted),
    /// `daemon/shutdown`.
    DaemonShutdown(DaemonShutdown),
    /// `daemon/overflow`: events were dropped for this subscriber because it read too slowly.
    Overflow(Overflow),
    /// `daemon/snapshot`: current status, sent first to a new `daemon` subscriber.
    DaemonSnapshot(Box<Status>),
    /// `routing/rule_changed`.
    RuleChanged(RuleChanged),
    /// `routing/stream_routed`: a stream appeared or its routing changed.
    StreamRouted(StreamInfo),
    /// `routing/stream_removed`.
    StreamRemoved(StreamRemoved),
    /// `routing/layer_a_attached`.
    LayerAAttached(LayerAAttached),
    /// `routing/layer_a_detached`.
    LayerADetached(LayerADetached),
    /// `routing/snapshot`: current rules and streams, sent first to a new `routing` subscriber.
    RoutingSnapshot(Routes),
    /// `meters/tick` (about 10 Hz). Doubles as the `meters` snapshot.
    MetersTick(MetersTick),
    /// `profile/changed`.
    ProfileChanged(ProfileChanged),
    /// `profile/error`: a profile file failed to load (the previous profile stays active).
    ProfileError(ProfileError),
    /// `profile/snapshot`: the profile list, sent first to a new `profile` subscriber.
    ProfileSnapshot(ProfileList),
    /// `settings/changed`.
    SettingChanged(SettingChanged),
    /// `settings/snapshot`: all settings, sent first to a new `settings` subscriber.
    SettingsSnapshot(Settings),
    /// `alerts/raised`: a condition started.
    AlertRaised(Alert),
    /// `alerts/cleared`: a condition ended.
    AlertCleared(AlertCleared),
    /// `alerts/snapshot`: the active alerts, sent first to a new `alerts` subscriber.
    AlertsSnapshot(Alerts),
    /// An event this library version does not know.
    Other {
        /// Topic.
        topic: Topic,
        /// Event name.
        event: String,
        /// Raw payload.
        data: Value,
    },
}

/// `daemon/started` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStarted {
    /// Daemon version.
    pub daemon_version: String,
    /// Protocol version.
    pub protocol_version: u32,
}

/// `daemon/shutdown` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonShutdown {
    /// Why the daemon stops (e.g. `"signal"`).
    pub reason: String,
}

/// `daemon/overflow` payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Overflow {
    /// Events dropped per topic since the previous overflow notice.
    pub dropped: BTreeMap<Topic, u64>,
}

/// `routing/rule_changed` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleChanged {
    /// Application match of the rule.
    pub app: String,
    /// New route; `null` when the rule was removed.
    pub route: Option<Route>,
    /// Rule origin.
    pub source: RuleSource,
}

/// `routing/stream_removed` payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRemoved {
    /// PipeWire node id of the stream that went away.
    pub node_id: u32,
}

/// `routing/layer_a_attached` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerAAttached {
    /// Stream node id.
    pub node_id: u32,
    /// Application name.
    pub app: String,
}

/// `routing/layer_a_detached` payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerADetached {
    /// Stream node id.
    pub node_id: u32,
}

/// `meters/tick` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetersTick {
    /// Meters of the processed bus.
    pub meters: Meters,
    /// Per-stream Layer A levels.
    pub layer_a: Vec<LayerALevel>,
    /// The daemon's state word at this tick (absent from daemons that do not send it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateWord>,
}

fn level<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f32(sanitize_level(*v))
}

fn gain<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f32(sanitize_gain(*v))
}

/// Layer A levels of one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerALevel {
    /// Stream node id.
    pub node_id: u32,
    /// Application name.
    pub app: String,
    /// Short-term loudness of the stream before Layer A, LUFS ([`crate::LUFS_FLOOR`] = none).
    #[serde(serialize_with = "level")]
    pub short_term_lufs: f32,
    /// Current reduction applied by Layer A, dB: positive turns the stream down, negative
    /// lifts it (a quiet stream playing together with louder ones).
    #[serde(serialize_with = "gain")]
    pub reduction_db: f32,
}

/// `profile/changed` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileChanged {
    /// Name of the profile now active (also sent when the active file was reloaded).
    pub name: String,
    /// Its origin.
    pub source: ProfileSource,
}

/// `profile/error` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileError {
    /// File that failed.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// What is wrong.
    pub message: String,
}

/// `settings/changed` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingChanged {
    /// Dotted key.
    pub key: String,
    /// New effective value.
    pub value: SettingValue,
    /// Whether a runtime override is in force now, as [`crate::SettingEntry::overridden`]:
    /// `true` after `setting.set`, `false` after `setting.reset`. Absent (`None`) only from
    /// daemons that predate it; a client then keeps what it knew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden: Option<bool>,
}

impl Event {
    /// `daemon/started` for this daemon version.
    pub fn started(daemon_version: impl Into<String>) -> Event {
        Event::DaemonStarted(DaemonStarted {
            daemon_version: daemon_version.into(),
            protocol_version: crate::PROTOCOL_VERSION,
        })
    }

    /// `daemon/shutdown`.
    pub fn shutdown(reason: impl Into<String>) -> Event {
        Event::DaemonShutdown(DaemonShutdown {
            reason: reason.into(),
        })
    }

    /// `daemon/overflow` with per-topic drop counts.
    pub fn overflow(dropped: BTreeMap<Topic, u64>) -> Event {
        Event::Overflow(Overflow { dropped })
    }

    /// `meters/tick`.
    pub fn meters_tick(meters: Meters, layer_a: Vec<LayerALevel>) -> Event {
        Event::MetersTick(MetersTick {
            meters,
            layer_a,
            state: None,
        })
    }

    /// `meters/tick` carrying the daemon's state word.
    pub fn meters_tick_in(state: StateWord, meters: Meters, layer_a: Vec<LayerALevel>) -> Event {
        Event::MetersTick(MetersTick {
            meters,
            layer_a,
            state: Some(state),
        })
    }

    /// `settings/changed`: the new effective value of `key`, and whether it is a runtime
    /// override.
    pub fn setting_changed(key: impl Into<String>, value: SettingValue, overridden: bool) -> Event {
        Event::SettingChanged(SettingChanged {
            key: key.into(),
            value,
            overridden: Some(overridden),
        })
    }

    /// `profile/changed`.
    pub fn profile_changed(name: impl Into<String>, source: ProfileSource) -> Event {
        Event::ProfileChanged(ProfileChanged {
            name: name.into(),
            source,
        })
    }

    /// `routing/rule_changed` (`route: None` = rule removed).
    pub fn rule_changed(app: impl Into<String>, route: Option<Route>, source: RuleSource) -> Event {
        Event::RuleChanged(RuleChanged {
            app: app.into(),
            route,
            source,
        })
    }

    /// The topic the event belongs to.
    pub fn topic(&self) -> Topic {
        match self {
            Event::DaemonStarted(_)
            | Event::DaemonShutdown(_)
            | Event::Overflow(_)
            | Event::DaemonSnapshot(_) => Topic::Daemon,
            Event::RuleChanged(_)
            | Event::StreamRouted(_)
            | Event::StreamRemoved(_)
            | Event::LayerAAttached(_)
            | Event::LayerADetached(_)
            | Event::RoutingSnapshot(_) => Topic::Routing,
            Event::MetersTick(_) => Topic::Meters,
            Event::ProfileChanged(_) | Event::ProfileError(_) | Event::ProfileSnapshot(_) => {
                Topic::Profile
            }
            Event::SettingChanged(_) | Event::SettingsSnapshot(_) => Topic::Settings,
            Event::AlertRaised(_) | Event::AlertCleared(_) | Event::AlertsSnapshot(_) => {
                Topic::Alerts
            }
            Event::Other { topic, .. } => *topic,
        }
    }

    /// The wire event name within its topic, e.g. `"tick"`.
    pub fn name(&self) -> &str {
        match self {
            Event::DaemonStarted(_) => "started",
            Event::DaemonShutdown(_) => "shutdown",
            Event::Overflow(_) => "overflow",
            Event::DaemonSnapshot(_)
            | Event::RoutingSnapshot(_)
            | Event::ProfileSnapshot(_)
            | Event::SettingsSnapshot(_)
            | Event::AlertsSnapshot(_) => "snapshot",
            Event::AlertRaised(_) => "raised",
            Event::AlertCleared(_) => "cleared",
            Event::RuleChanged(_) => "rule_changed",
            Event::StreamRouted(_) => "stream_routed",
            Event::StreamRemoved(_) => "stream_removed",
            Event::LayerAAttached(_) => "layer_a_attached",
            Event::LayerADetached(_) => "layer_a_detached",
            Event::MetersTick(_) => "tick",
            Event::ProfileChanged(_) | Event::SettingChanged(_) => "changed",
            Event::ProfileError(_) => "error",
            Event::Other { event, .. } => event,
        }
    }

    fn data(&self) -> Result<Value, serde_json::Error> {
        match self {
            Event::DaemonStarted(d) => serde_json::to_value(d),
            Event::DaemonShutdown(d) => serde_json::to_value(d),
            Event::Overflow(d) => serde_json::to_value(d),
            Event::DaemonSnapshot(d) => serde_json::to_value(d),
            Event::RuleChanged(d) => serde_json::to_value(d),
            Event::StreamRouted(d) => serde_json::to_value(d),
            Event::StreamRemoved(d) => serde_json::to_value(d),
            Event::LayerAAttached(d) => serde_json::to_value(d),
            Event::LayerADetached(d) => serde_json::to_value(d),
            Event::RoutingSnapshot(d) => serde_json::to_value(d),
            Event::MetersTick(d) => serde_json::to_value(d),
            Event::ProfileChanged(d) => serde_json::to_value(d),
            Event::ProfileError(d) => serde_json::to_value(d),
            Event::ProfileSnapshot(d) => serde_json::to_value(d),
            Event::SettingChanged(d) => serde_json::to_value(d),
            Event::SettingsSnapshot(d) => serde_json::to_value(d),
            Event::AlertRaised(d) => serde_json::to_value(d),
            Event::AlertCleared(d) => serde_json::to_value(d),
            Event::AlertsSnapshot(d) => serde_json::to_value(d),
            Event::Other { data, .. } => Ok(data.clone()),
        }
    }

    /// Builds an event from its wire parts. Unknown pairs give [`Event::Other`]; a known
    /// pair with a malformed payload is an error.
    pub fn from_parts(topic: Topic, event: &str, data: Value) -> Result<Event, serde_json::Error> {
        use serde_json::from_value as v;
        Ok(match (topic, event) {
            (Topic::Daemon, "started") => Event::DaemonStarted(v(data)?),
            (Topic::Daemon, "shutdown") => Event::DaemonShutdown(v(data)?),
            (Topic::Daemon, "overflow") => Event::Overflow(v(data)?),
            (Topic::Daemon, "snapshot") => Event::DaemonSnapshot(Box::new(v(data)?)),
            (Topic::Routing, "rule_changed") => Event::RuleChanged(v(data)?),
            (Topic::Routing, "stream_routed") => Event::StreamRouted(v(data)?),
            (Topic::Routing, "stream_removed") => Event::StreamRemoved(v(data)?),
            (Topic::Routing, "layer_a_attached") => Event::LayerAAttached(v(data)?),
            (Topic::Routing, "layer_a_detached") => Event::LayerADetached(v(data)?),
            (Topic::Routing, "snapshot") => Event::RoutingSnapshot(v(data)?),
            (Topic::Meters, "tick") => Event::MetersTick(v(data)?),
            (Topic::Profile, "changed") => Event::ProfileChanged(v(data)?),
            (Topic::Profile, "error") => Event::ProfileError(v(data)?),
            (Topic::Profile, "snapshot") => Event::ProfileSnapshot(v(data)?),
            (Topic::Settings, "changed") => Event::SettingChanged(v(data)?),
            (Topic::Settings, "snapshot") => Event::SettingsSnapshot(v(data)?),
            (Topic::Alerts, "raised") => Event::AlertRaised(v(data)?),
            (Topic::Alerts, "cleared") => Event::AlertCleared(v(data)?),
            (Topic::Alerts, "snapshot") => Event::AlertsSnapshot(v(data)?),
            (topic, event) => Event::Other {
                topic,
                event: event.to_owned(),
                data,
            },
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireEvent<'a> {
    #[serde(rename = "type")]
    ty: std::borrow::Cow<'a, str>,
    topic: Topic,
    event: std::borrow::Cow<'a, str>,
    #[serde(default)]
    data: Value,
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let data = self.data().map_err(serde::ser::Error::custom)?;
        WireEvent {
            ty: "event".into(),
            topic: self.topic(),
            event: self.name().into(),
            data,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireEvent::deserialize(d)?;
        if w.ty != "event" {
            return Err(D::Error::custom(format!(
                "expected \"type\":\"event\", got {:?}",
                w.ty
            )));
        }
        Event::from_parts(w.topic, &w.event, w.data).map_err(D::Error::custom)
    }
}
