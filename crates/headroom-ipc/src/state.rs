//! The daemon's state as its events describe it: [`DaemonState::apply`] folds one event in,
//! [`DaemonState::replicate`] gives the events that bring an empty state to this one — the
//! snapshot a new subscriber receives.
//!
//! One module for both sides: `headroomd` builds its subscribers' snapshots by replicating a
//! state, and a client (the `headroom monitor`) follows the daemon by applying what it
//! receives. Whatever the two agree on here, a subscriber that applies the snapshot and then
//! every delta holds the daemon's state: deltas carry the new state, so applying them in order
//! is always correct, also when a change appears both in the snapshot and as a following
//! delta.

use std::collections::BTreeMap;

use crate::alert::{Alert, AlertKind, Alerts, StateWord};
use crate::event::{Event, LayerALevel, ProfileError};
use crate::request::Topic;
use crate::response::{
    Meters, ProfileList, RouteRule, Routes, SettingEntry, Settings, Status, StreamInfo,
};

/// What a subscriber knows of the daemon, topic by topic. Parts of topics that were never
/// subscribed to stay empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DaemonState {
    /// `daemon`: the status of the last snapshot (its meters are those of that moment).
    pub status: Option<Status>,
    /// `daemon`: the daemon's version, from `daemon/started` or a snapshot.
    pub daemon_version: Option<String>,
    /// `daemon`: why the daemon shut down, once it has (cleared by `daemon/started`).
    pub shutdown: Option<String>,
    /// `daemon`: events dropped for this subscriber so far, by topic.
    pub dropped: BTreeMap<Topic, u64>,
    /// `routing`: the rules, the user's first (newest first), then the active profile's.
    pub rules: Vec<RouteRule>,
    /// `routing`: the streams, by node id.
    pub streams: BTreeMap<u32, StreamInfo>,
    /// `meters`: the latest meters.
    pub meters: Option<Meters>,
    /// `meters`: the latest Layer A levels.
    pub layer_a: Vec<LayerALevel>,
    /// `profile`: the profiles and the active one.
    pub profiles: Option<ProfileList>,
    /// `profile`: the last profile file error, until a profile change.
    pub profile_error: Option<ProfileError>,
    /// `settings`: every setting, in the daemon's order.
    pub settings: Vec<SettingEntry>,
    /// `meters` (each tick) or `daemon` (the snapshot): the daemon's state word.
    pub state_word: Option<StateWord>,
    /// `alerts`: the active alerts, oldest first (`None` until the snapshot arrives).
    pub alerts: Option<Vec<Alert>>,
    /// `alerts`: the alerts seen raised or cleared since subscribing, newest last (at most
    /// [`RECENT_ALERTS`]).
    pub recent_alerts: Vec<AlertNote>,
}

/// How many raised/cleared notes [`DaemonState::recent_alerts`] keeps.
pub const RECENT_ALERTS: usize = 32;

/// An alert seen raised or cleared, as a client lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertNote {
    /// What it is about.
    pub kind: AlertKind,
    /// Raised (`true`) or cleared.
    pub raised: bool,
    /// The event's message.
    pub message: String,
    /// When, milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

impl DaemonState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one event in. Unknown events ([`Event::Other`]) change nothing.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::DaemonStarted(d) => {
                self.daemon_version = Some(d.daemon_version.clone());
                self.shutdown = None;
            }
            Event::DaemonShutdown(d) => self.shutdown = Some(d.reason.clone()),
            Event::Overflow(o) => {
                for (t, n) in &o.dropped {
                    *self.dropped.entry(*t).or_default() += n;
                }
            }
            Event::DaemonSnapshot(s) => {
                self.daemon_version = Some(s.daemon_version.clone());
                self.status = Some((**s).clone());
                self.state_word = Some(s.state);
            }
            Event::RuleChanged(rc) => {
                let same = |r: &RouteRule| {
                    r.source == rc.source && r.app.to_lowercase() == rc.app.to_lowercase()
                };
                self.rules.retain(|r| !same(r));
                if let Some(route) = rc.route {
                    // Newest first within its source; the user's rules come first.
                    let at = self
                        .rules
                        .iter()
                        .position(|r| r.source == rc.source)
                        .unwrap_or(self.rules.len());
                    self.rules.insert(
                        at,
                        RouteRule {
                            app: rc.app.clone(),
                            route,
                            source: rc.source,
                        },
                    );
                }
            }
            Event::StreamRouted(s) => {
                self.streams.insert(s.node_id, s.clone());
            }
            Event::StreamRemoved(r) => {
                self.streams.remove(&r.node_id);
                self.layer_a.retain(|l| l.node_id != r.node_id);
            }
            Event::LayerAAttached(a) => {
                if let Some(s) = self.streams.get_mut(&a.node_id) {
                    s.layer_a_reduction_db.get_or_insert(0.0);
                }
            }
            Event::LayerADetached(d) => {
                if let Some(s) = self.streams.get_mut(&d.node_id) {
                    s.layer_a_reduction_db = None;
                }
                self.layer_a.retain(|l| l.node_id != d.node_id);
            }
            Event::RoutingSnapshot(r) => {
                self.rules = r.rules.clone();
                self.streams = r.streams.iter().map(|s| (s.node_id, s.clone())).collect();
            }
            Event::MetersTick(t) => {
                self.meters = Some(t.meters);
                self.layer_a = t.layer_a.clone();
                if let Some(w) = t.state {
                    self.state_word = Some(w);
                    if let Some(s) = self.status.as_mut() {
                        s.state = w;
                    }
                }
                for l in &t.layer_a {
                    if let Some(s) = self.streams.get_mut(&l.node_id) {
                        s.layer_a_reduction_db = Some(l.reduction_db);
                    }
                }
            }
            Event::ProfileChanged(p) => {
                if let Some(list) = self.profiles.as_mut() {
                    list.active = p.name.clone();
                    for e in &mut list.profiles {
                        e.active = e.name == p.name;
                    }
                }
                if let Some(s) = self.status.as_mut() {
                    s.profile = p.name.clone();
                }
                self.profile_error = None;
            }
            Event::ProfileError(e) => self.profile_error = Some(e.clone()),
            Event::ProfileSnapshot(p) => self.profiles = Some(p.clone()),
            Event::SettingChanged(c) => match self.settings.iter_mut().find(|e| e.key == c.key) {
                Some(e) => {
                    e.value = c.value.clone();
                    // An older daemon does not say; what was known stays.
                    if let Some(o) = c.overridden {
                        e.overridden = o;
                    }
                }
                None => self.settings.push(SettingEntry {
                    key: c.key.clone(),
                    value: c.value.clone(),
                    default: c.value.clone(),
                    overridden: c.overridden.unwrap_or(false),
                }),
            },
            Event::SettingsSnapshot(s) => self.settings = s.settings.clone(),
            Event::AlertRaised(a) => {
                let active = self.alerts.get_or_insert_with(Vec::new);
                active.retain(|x| x.kind != a.kind);
                active.push(a.clone());
                self.note(AlertNote {
                    kind: a.kind,
                    raised: true,
                    message: a.message.clone(),
                    unix_ms: a.since_unix_ms,
                });
            }
            Event::AlertCleared(c) => {
                if let Some(active) = self.alerts.as_mut() {
                    active.retain(|x| x.kind != c.kind);
                }
                self.note(AlertNote {
                    kind: c.kind,
                    raised: false,
                    message: c.message.clone(),
                    unix_ms: c.unix_ms,
                });
            }
            Event::AlertsSnapshot(a) => self.alerts = Some(a.active.clone()),
            Event::Other { .. } => {}
        }
    }

    fn note(&mut self, n: AlertNote) {
        if self.recent_alerts.len() >= RECENT_ALERTS {
            self.recent_alerts.remove(0);
        }
        self.recent_alerts.push(n);
    }

    /// The active profile's name, from the profile list or the status.
    pub fn active_profile(&self) -> Option<&str> {
        self.profiles
            .as_ref()
            .map(|p| p.active.as_str())
            .or_else(|| self.status.as_ref().map(|s| s.profile.as_str()))
    }

    /// One setting's entry.
    pub fn setting(&self, key: &str) -> Option<&SettingEntry> {
        self.settings.iter().find(|e| e.key == key)
    }

    /// The snapshot events of `topics`, in that order: applied to an empty state they give
    /// this state's parts of those topics. A topic this state knows nothing of (no status, no
    /// meters, no profile list) gives no event.
    pub fn replicate(&self, topics: &[Topic]) -> Vec<Event> {
        let mut out = Vec::new();
        for t in topics {
            match t {
                Topic::Daemon => {
                    if let Some(s) = &self.status {
                        out.push(Event::DaemonSnapshot(Box::new(s.clone())));
                    }
                }
                Topic::Routing => {
                    // The snapshot carries what fits one frame; further streams follow as
                    // `stream_routed` events, which the fold applies the same way.
                    let (first, rest) = crate::response::page_streams(
                        self.streams.values(),
                        crate::ROUTES_PAGE_BYTES,
                    );
                    out.push(Event::RoutingSnapshot(Routes {
                        rules: self.rules.clone(),
                        streams: first,
                        next_cursor: None,
                    }));
                    out.extend(rest.into_iter().map(Event::StreamRouted));
                }
                Topic::Meters => {
                    if let Some(m) = self.meters {
                        out.push(Event::MetersTick(crate::MetersTick {
                            meters: m,
                            layer_a: self.layer_a.clone(),
                            state: self.state_word,
                        }));
                    }
                }
                Topic::Profile => {
                    if let Some(p) = &self.profiles {
                        out.push(Event::ProfileSnapshot(p.clone()));
                    }
                }
                Topic::Settings => out.push(Event::SettingsSnapshot(Settings {
                    settings: self.settings.clone(),
                })),
                Topic::Alerts => {
                    if let Some(a) = &self.alerts {
                        out.push(Event::AlertsSnapshot(Alerts { active: a.clone() }));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{LayerAAttached, LayerADetached, StreamRemoved};
    use crate::request::{Route, SettingValue};
    use crate::response::{DspTiming, PipewireState, ProfileEntry, ProfileSource, RuleSource};

    fn stream(id: u32, app: &str, route: Route) -> StreamInfo {
        StreamInfo {
            node_id: id,
            app: app.into(),
            binary: None,
            media_name: None,
            matched_rule: None,
            route,
            target: None,
            layer_a_reduction_db: None,
            sink: None,
            note: None,
        }
    }

    fn full_state() -> DaemonState {
        DaemonState {
            status: Some(Status {
                state: StateWord::Quiet,
                daemon_version: "0.1.0".into(),
                protocol_version: 1,
                uptime_s: 3,
                pipewire: PipewireState::Connected,
                real_sink: Some("speakers".into()),
                processed_sink: "headroom-processed".into(),
                processed_channels: None,
                promote_default: false,
                profile: "night".into(),
                bypass: false,
                dsp: DspTiming::default(),
                xruns: 0,
                meters: Meters::silent(-16.0),
                streams: 2,
                profile_error: None,
                profile_error_active: None,
                profile_in_force: None,
                alerts: vec![],
                config_warnings: vec![],
                file_warnings: vec![],
            }),
            state_word: Some(StateWord::Quiet),
            alerts: Some(vec![Alert {
                kind: AlertKind::XrunBurst,
                message: "4 xruns in 10 s".into(),
                since_unix_ms: 5,
            }]),
            daemon_version: Some("0.1.0".into()),
            rules: vec![RouteRule {
                app: "firefox".into(),
                route: Route::Bypass,
                source: RuleSource::User,
            }],
            streams: [
                (1, stream(1, "a", Route::Processed)),
                (2, stream(2, "b", Route::Bypass)),
            ]
            .into(),
            meters: Some(Meters::silent(-18.0)),
            profiles: Some(ProfileList {
                profiles: vec![ProfileEntry {
                    name: "night".into(),
                    source: ProfileSource::Shipped,
                    active: true,
                    description: String::new(),
                    error: None,
                }],
                active: "night".into(),
            }),
            settings: vec![SettingEntry {
                key: "agc.target_lufs".into(),
                value: SettingValue::Int(-18),
                default: SettingValue::Int(-16),
                overridden: true,
            }],
            ..DaemonState::default()
        }
    }

    #[test]
    fn replicate_then_apply_gives_the_same_state() {
        let s = full_state();
        let mut copy = DaemonState::new();
        for e in s.replicate(&Topic::ALL) {
            copy.apply(&e);
        }
        assert_eq!(copy, s);
        // Only the topics asked for.
        let events = s.replicate(&[Topic::Settings, Topic::Daemon]);
        assert!(matches!(events[0], Event::SettingsSnapshot(_)));
        assert!(matches!(events[1], Event::DaemonSnapshot(_)));
        assert_eq!(DaemonState::new().replicate(&[Topic::Meters]), vec![]);
    }

    #[test]
    fn deltas_update_streams_rules_layer_a_profile_and_settings() {
        let mut s = full_state();
        s.apply(&Event::StreamRouted(stream(2, "b", Route::Processed)));
        s.apply(&Event::StreamRouted(stream(3, "c", Route::Processed)));
        s.apply(&Event::StreamRemoved(StreamRemoved { node_id: 1 }));
        assert_eq!(s.streams.keys().copied().collect::<Vec<_>>(), [2, 3]);
        assert_eq!(s.streams[&2].route, Route::Processed);
        s.apply(&Event::LayerAAttached(LayerAAttached {
            node_id: 3,
            app: "c".into(),
        }));
        assert_eq!(s.streams[&3].layer_a_reduction_db, Some(0.0));
        s.apply(&Event::meters_tick(
            Meters::silent(-16.0),
            vec![LayerALevel {
                node_id: 3,
                app: "c".into(),
                short_term_lufs: -10.0,
                reduction_db: 4.0,
            }],
        ));
        assert_eq!(s.streams[&3].layer_a_reduction_db, Some(4.0));
        s.apply(&Event::LayerADetached(LayerADetached { node_id: 3 }));
        assert_eq!(s.streams[&3].layer_a_reduction_db, None);
        assert!(s.layer_a.is_empty());
        // A user rule replaces the one for the same app (any case) and becomes the newest.
        s.apply(&Event::rule_changed(
            "mpv",
            Some(Route::Bypass),
            RuleSource::User,
        ));
        s.apply(&Event::rule_changed(
            "FIREFOX",
            Some(Route::Processed),
            RuleSource::User,
        ));
        let apps: Vec<&str> = s.rules.iter().map(|r| r.app.as_str()).collect();
        assert_eq!(apps, ["FIREFOX", "mpv"]);
        s.apply(&Event::rule_changed("mpv", None, RuleSource::User));
        assert_eq!(s.rules.len(), 1);
        s.apply(&Event::profile_changed("default", ProfileSource::Shipped));
        assert_eq!(s.active_profile(), Some("default"));
        assert_eq!(s.status.as_ref().unwrap().profile, "default");
        // `agc.target_lufs` was overridden: a reset gives it back the profile's value.
        s.apply(&Event::setting_changed(
            "agc.target_lufs",
            SettingValue::Int(-16),
            false,
        ));
        s.apply(&Event::setting_changed(
            "bypass",
            SettingValue::Bool(true),
            true,
        ));
        let target = s.setting("agc.target_lufs").unwrap();
        assert_eq!(
            (&target.value, target.overridden),
            (&SettingValue::Int(-16), false)
        );
        let bypass = s.setting("bypass").unwrap();
        assert_eq!(
            (&bypass.value, bypass.overridden),
            (&SettingValue::Bool(true), true)
        );
        // An older daemon's event says nothing of it: what was known stays.
        s.apply(&Event::SettingChanged(crate::SettingChanged {
            key: "bypass".into(),
            value: SettingValue::Bool(false),
            overridden: None,
        }));
        let bypass = s.setting("bypass").unwrap();
        assert_eq!(
            (&bypass.value, bypass.overridden),
            (&SettingValue::Bool(false), true)
        );
        s.apply(&Event::shutdown("signal"));
        assert_eq!(s.shutdown.as_deref(), Some("signal"));
        s.apply(&Event::started("0.2.0"));
        assert_eq!(s.shutdown, None);
        assert_eq!(s.daemon_version.as_deref(), Some("0.2.0"));
        s.apply(&Event::AlertRaised(Alert {
            kind: AlertKind::RealSinkMissing,
            message: "no real sink".into(),
            since_unix_ms: 10,
        }));
        s.apply(&Event::AlertCleared(crate::AlertCleared {
            kind: AlertKind::XrunBurst,
            message: "no xruns for 60 s".into(),
            since_unix_ms: 5,
            unix_ms: 20,
        }));
        let active: Vec<AlertKind> = s.alerts.iter().flatten().map(|a| a.kind).collect();
        assert_eq!(active, [AlertKind::RealSinkMissing]);
        assert_eq!(s.recent_alerts.len(), 2);
        assert!(s.recent_alerts[0].raised && !s.recent_alerts[1].raised);
        s.apply(&Event::meters_tick_in(
            StateWord::NoOutput,
            Meters::silent(-16.0),
            vec![],
        ));
        assert_eq!(s.state_word, Some(StateWord::NoOutput));
        assert_eq!(s.status.as_ref().unwrap().state, StateWord::NoOutput);
        s.apply(&Event::overflow([(Topic::Meters, 3)].into()));
        s.apply(&Event::overflow([(Topic::Meters, 2)].into()));
        assert_eq!(s.dropped[&Topic::Meters], 5);
    }
}
