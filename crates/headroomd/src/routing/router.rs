//! [`Router`]: the routing rules and every stream's decision. Pure state: it never talks to
//! PipeWire; it returns [`Move`]s (see the module docs of [`crate::routing`]).

use std::collections::BTreeMap;

use headroom_profile::{is_notification_role, Route, RouteConfig, UserRule, UserRules};
use serde::{Deserialize, Serialize};

use crate::names::{BUS_SINK_NAME, HEADROOM_ROLE_PROP, OWN_APP_NAME, OWN_NODE_PREFIX};

/// Name of the processed sink streams are routed into.
pub const PROCESSED_SINK: &str = BUS_SINK_NAME;

/// A stream move for the PipeWire thread: write `target.object = target` for `node_id` in the
/// `default` metadata, or delete the key when `target` is `None` (back to the default sink).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// The stream's node id (the metadata subject).
    pub node_id: u32,
    /// Target sink node name, or `None` to delete the key.
    pub target: Option<String>,
}

/// A node as the PipeWire thread reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamNode {
    /// Node id.
    pub id: u32,
    /// `media.class`, e.g. `Stream/Output/Audio`.
    pub media_class: String,
    /// All node properties.
    pub props: BTreeMap<String, String>,
}

impl StreamNode {
    /// Builds a node from its id, media class and properties.
    pub fn new<K, V>(
        id: u32,
        media_class: impl Into<String>,
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            id,
            media_class: media_class.into(),
            props: props
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    fn prop(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    /// Whether this is one of headroom's own nodes (bus streams, taps).
    pub fn is_own(&self) -> bool {
        self.prop("node.name")
            .is_some_and(|n| n.starts_with(OWN_NODE_PREFIX))
            || self.prop("application.name") == Some(OWN_APP_NAME)
            || self.props.contains_key(HEADROOM_ROLE_PROP)
    }

    /// Whether this is an application playback stream.
    pub fn is_output_stream(&self) -> bool {
        self.media_class == "Stream/Output/Audio"
    }

    fn dont_reconnect(&self) -> bool {
        self.prop("node.dont-reconnect")
            .is_some_and(|v| v == "true" || v == "1")
    }

    /// The output the app itself asked for in its stream properties (`target.object`, else
    /// the older `node.target`), e.g. `pw-play --target NAME`; `None` when it named none.
    pub fn own_target(&self) -> Option<&str> {
        ["target.object", "node.target"]
            .iter()
            .filter_map(|k| self.prop(k))
            .map(str::trim)
            .find(|v| names_a_target(v))
    }
}

/// Whether a target value (a node property or a metadata entry) names a target: empty and
/// `-1` (what PipeWire and WirePlumber write for "no target") do not.
fn names_a_target(value: &str) -> bool {
    let v = value.trim();
    !v.is_empty() && v != "-1"
}

/// Where the rule that decided a stream's route comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    /// A runtime user rule (`route set`).
    User,
    /// A rule of the active profile.
    Profile,
    /// The profile's `route.default`.
    Default,
    /// `route.bypass_notifications`: a notification-like `media.role`.
    Role,
}

/// The rule that decided a stream's route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedRule {
    /// Where it comes from.
    pub source: RuleSource,
    /// Human-readable form, e.g. `app=firefox` or `default`.
    pub description: String,
    /// Index among the user rules (newest first) or profile rules; `None` for the default.
    pub index: Option<usize>,
}

/// How headroom treats a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    /// Routed by the rules.
    Routed,
    /// `node.dont-reconnect = true`: left where it is.
    Fixed,
    /// The app named its own output (`target.object` / `node.target` in its properties) and
    /// no rule says `processed`: left where the app sent it.
    AppTarget,
    /// Someone else (a mixer such as pavucontrol, on the user's behalf) set the stream's
    /// target in the metadata and no rule says `processed`: left where the user put it.
    UserTarget,
}

/// One stream's routing state, for `route list` and the monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRoute {
    /// Node id.
    pub node_id: u32,
    /// `application.name` (empty when unset).
    pub app: String,
    /// `application.process.binary`, if set.
    pub binary: Option<String>,
    /// `media.name`, if set.
    pub media_name: Option<String>,
    /// Routed or fixed.
    pub status: StreamStatus,
    /// The rule that decided the route (`None` for fixed streams).
    pub matched: Option<MatchedRule>,
    /// Decided route (`None` for fixed streams).
    pub route: Option<Route>,
    /// The sink we asked WirePlumber to link it to (`None`: no target written).
    pub target: Option<String>,
    /// The node the stream is actually linked to, as last reported from the graph's links.
    pub linked_to: Option<String>,
    /// The `node.description` of that node (what mixers show), when it has one.
    pub linked_description: Option<String>,
    /// The route the rules give the stream, even when it is left where it is
    /// ([`StreamStatus::AppTarget`], [`StreamStatus::UserTarget`]).
    pub rule_route: Option<Route>,
    /// The target the app named itself ([`StreamNode::own_target`]).
    pub app_target: Option<String>,
    /// A target someone else wrote for it in the metadata.
    pub user_target: Option<String>,
}

impl StreamRoute {
    /// Why the stream is not where its rule wants it, in a few words, or `None` when it is
    /// (or nothing is known about its links yet).
    pub fn note(&self) -> Option<String> {
        match self.status {
            StreamStatus::Fixed => {
                return Some("the app does not allow moving it (node.dont-reconnect)".into())
            }
            StreamStatus::AppTarget => {
                return Some(format!(
                    "the app chose its output ({})",
                    self.app_target.as_deref().unwrap_or("its own target")
                ))
            }
            StreamStatus::UserTarget => {
                return Some(format!(
                    "moved by the user ({})",
                    self.user_target.as_deref().unwrap_or("another output")
                ))
            }
            // Sent into the processed sink by the app itself, which a rule's `bypass` does
            // not override (route list showed the rule and `processed`, with no word why).
            StreamStatus::Routed if self.rule_route.is_some() && self.rule_route != self.route => {
                return Some(format!(
                    "the app chose its output ({})",
                    self.app_target.as_deref().unwrap_or("its own target")
                ))
            }
            StreamStatus::Routed => {}
        }
        let want = self.target.as_deref()?;
        match self.linked_to.as_deref() {
            None => Some(format!("pending: not linked yet (to {want})")),
            Some(l) if l.split(", ").any(|n| n == want) => None,
            Some(_) => Some(format!("pending: moving to {want}")),
        }
    }
}

/// What [`Router::classify`] decides: status, rule, the route to apply (`None`: leave the
/// stream where it is) and the route the rules give.
type Decision = (
    StreamStatus,
    Option<MatchedRule>,
    Option<Route>,
    Option<Route>,
);

#[derive(Debug, Clone)]
struct StreamState {
    node: StreamNode,
    status: StreamStatus,
    matched: Option<MatchedRule>,
    route: Option<Route>,
    rule_route: Option<Route>,
    /// What we last wrote into the metadata for this stream (`None`: nothing / deleted).
    written: Option<String>,
    /// Targets someone else wrote for it in the metadata, by key (`target.object`,
    /// `target.node`).
    foreign: BTreeMap<String, String>,
    linked_to: Option<String>,
    linked_description: Option<String>,
}

/// The routing state: rules and per-stream decisions.
#[derive(Debug, Clone)]
pub struct Router {
    processed_sink: String,
    real_sink: Option<String>,
    user_rules: UserRules,
    profile: RouteConfig,
    streams: BTreeMap<u32, StreamState>,
}

impl Default for Router {
    fn default() -> Self {
        Self::new(PROCESSED_SINK)
    }
}

impl Router {
    /// A router sending processed streams to the sink named `processed_sink`, with no rules
    /// (everything processed) and no real sink known yet.
    pub fn new(processed_sink: impl Into<String>) -> Self {
        Self {
            processed_sink: processed_sink.into(),
            real_sink: None,
            user_rules: UserRules::new(),
            profile: RouteConfig::default(),
            streams: BTreeMap::new(),
        }
    }

    /// The processed sink's node name.
    pub fn processed_sink(&self) -> &str {
        &self.processed_sink
    }

    /// The real sink's node name, once known.
    pub fn real_sink(&self) -> Option<&str> {
        self.real_sink.as_deref()
    }

    /// User rules, newest first.
    pub fn user_rules(&self) -> &UserRules {
        &self.user_rules
    }

    /// The profile's routing section.
    pub fn profile_rules(&self) -> &RouteConfig {
        &self.profile
    }

    /// Decides where `node` goes (ignoring the real sink): `None` when it is not routed at all
    /// (not an app output stream, or our own). `user_target`: whether someone else set its
    /// target in the metadata. Returns the status, the rule, the route to apply (`None`:
    /// leave it) and the route the rules give.
    fn classify(&self, node: &StreamNode, user_target: bool) -> Option<Decision> {
        if !node.is_output_stream() || node.is_own() {
            return None;
        }
        if node.dont_reconnect() {
            return Some((StreamStatus::Fixed, None, None, None));
        }
        let (m, r) = self.decide(node);
        // A rule naming the stream (user or profile) that says `processed` wins over a
        // choice of output made by the app or the user; nothing else does.
        let rule_says_processed =
            matches!(m.source, RuleSource::User | RuleSource::Profile) && r == Route::Processed;
        if !rule_says_processed {
            if user_target {
                return Some((StreamStatus::UserTarget, Some(m), None, Some(r)));
            }
            match node.own_target() {
                // Sent into the processed sink by the app itself: processed (and tapped).
                Some(t) if t == self.processed_sink => {
                    return Some((
                        StreamStatus::Routed,
                        Some(m),
                        Some(Route::Processed),
                        Some(r),
                    ))
                }
                Some(_) => return Some((StreamStatus::AppTarget, Some(m), None, Some(r))),
                None => {}
            }
        }
        Some((StreamStatus::Routed, Some(m), Some(r), Some(r)))
    }

    /// The rule and route for `node` by precedence: user rules, profile rules, a
    /// notification-like `media.role` (`route.bypass_notifications`), default.
    pub fn decide(&self, node: &StreamNode) -> (MatchedRule, Route) {
        if let Some((i, rule)) = self.user_rules.first_match(|k| node.prop(k)) {
            return (
                MatchedRule {
                    source: RuleSource::User,
                    description: format!("app={}", rule.app),
                    index: Some(i),
                },
                rule.route,
            );
        }
        for (i, rule) in self.profile.rules.iter().enumerate() {
            if rule.matches(|k| node.prop(k)) {
                let description = if rule.matches.is_empty() {
                    "(any)".to_string()
                } else {
                    rule.matches
                        .iter()
                        .map(|(k, g)| format!("{k}={}", g.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return (
                    MatchedRule {
                        source: RuleSource::Profile,
                        description,
                        index: Some(i),
                    },
                    rule.route,
                );
            }
        }
        if self.profile.bypass_notifications {
            if let Some(role) = node.prop("media.role").filter(|r| is_notification_role(r)) {
                return (
                    MatchedRule {
                        source: RuleSource::Role,
                        description: format!("media.role={role}"),
                        index: None,
                    },
                    Route::Bypass,
                );
            }
        }
        (
            MatchedRule {
                source: RuleSource::Default,
                description: "default".to_string(),
                index: None,
            },
            self.profile.default,
        )
    }

    /// The sink a stream with `route` should be linked to; `None` when unknown (bypass with
    /// no real sink yet).
    fn target_for(&self, route: Option<Route>) -> Option<String> {
        match route? {
            Route::Processed => Some(self.processed_sink.clone()),
            Route::Bypass => self.real_sink.clone(),
        }
    }

    /// Recomputes one stream's decision; returns the move needed, if any.
    fn reroute(&mut self, id: u32) -> Option<Move> {
        let st = self.streams.get(&id)?;
        let user_target = st
            .foreign
            .values()
            .any(|v| !self.consistent_with_routing(v));
        let (status, matched, route, rule_route) = self.classify(&st.node, user_target)?;
        let want = if status == StreamStatus::Routed {
            self.target_for(route)
        } else {
            None
        };
        let st = self.streams.get_mut(&id)?;
        st.status = status;
        st.matched = matched;
        st.route = route;
        st.rule_route = rule_route;
        if st.written == want {
            return None;
        }
        st.written = want.clone();
        Some(Move {
            node_id: id,
            target: want,
        })
    }

    fn reroute_all(&mut self) -> Vec<Move> {
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        ids.into_iter().filter_map(|id| self.reroute(id)).collect()
    }

    /// A node appeared. Returns the move that routes it, if it is an app output stream that
    /// needs one. Nodes that are not routed (sinks, capture streams, headroom's own) are
    /// ignored. A node id seen again replaces the old entry.
    pub fn on_stream_added(&mut self, node: StreamNode) -> Option<Move> {
        self.on_stream_added_with_target(node, None)
    }

    /// Like [`Router::on_stream_added`], with a target already in the metadata for the node
    /// when it appeared (`existing`, e.g. restored by the session manager from the user's
    /// earlier choice): it counts as the user's, unless it names the processed or the real
    /// sink (what our own routing writes: a leftover of ours).
    pub fn on_stream_added_with_target(
        &mut self,
        node: StreamNode,
        existing: Option<&str>,
    ) -> Option<Move> {
        let id = node.id;
        self.classify(&node, false)?;
        let foreign = existing
            .filter(|v| names_a_target(v) && Some(*v) != self.real_sink.as_deref())
            .map(|v| ("target.node".to_string(), v.to_string()))
            .into_iter()
            .collect();
        self.streams.insert(
            id,
            StreamState {
                node,
                status: StreamStatus::Routed,
                matched: None,
                route: None,
                rule_route: None,
                written: None,
                foreign,
                linked_to: None,
                linked_description: None,
            },
        );
        self.reroute(id)
    }

    /// Whether a target value sends the stream into the processed sink (by name): no
    /// conflict with the rules, not a choice to respect against them.
    fn consistent_with_routing(&self, value: &str) -> bool {
        value == self.processed_sink
    }

    /// A `target.object` / `target.node` value (`key`) in the metadata changed for stream
    /// `id` (`None`: deleted). A value we did not write is someone else's choice (a mixer,
    /// on the user's behalf): the stream is left there unless a rule says `processed`.
    /// Returns the move, if one is needed. Unknown ids are ignored.
    pub fn on_target_changed(&mut self, id: u32, key: &str, value: Option<&str>) -> Option<Move> {
        let st = self.streams.get_mut(&id)?;
        // "No target" (WirePlumber writes `target.node = -1` for a stream whose app named
        // its own output) is no one's choice of output.
        match value.filter(|v| names_a_target(v)) {
            Some(v) if key == "target.object" && st.written.as_deref() == Some(v) => return None,
            Some(v) => {
                st.foreign.insert(key.to_string(), v.to_string());
                if key == "target.object" {
                    // Theirs replaced ours.
                    st.written = None;
                }
            }
            None => {
                st.foreign.remove(key);
                if key == "target.object" {
                    st.written = None;
                }
            }
        }
        self.reroute(id)
    }

    /// A tracked node's properties changed (e.g. `media.name` on a new track): re-decides its
    /// route. Returns the move, if one is needed. Unknown ids are ignored.
    pub fn on_stream_changed(&mut self, id: u32, props: BTreeMap<String, String>) -> Option<Move> {
        let st = self.streams.get_mut(&id)?;
        st.node.props = props;
        self.reroute(id)
    }

    /// Writes every stream's target again (after the processed sink came (back) up, so moves
    /// issued while it was missing take effect). Returns the moves.
    pub fn reapply(&mut self) -> Vec<Move> {
        for st in self.streams.values_mut() {
            st.written = None;
        }
        self.reroute_all()
    }

    /// Forgets every stream (the connection to PipeWire was lost: node ids are void).
    pub fn clear_streams(&mut self) {
        self.streams.clear();
    }

    /// A node went away; forgets it. Returns whether it was a tracked stream.
    pub fn on_stream_removed(&mut self, id: u32) -> bool {
        self.streams.remove(&id).is_some()
    }

    /// Adds or replaces a user rule (see [`UserRules::set`]); it becomes the newest rule.
    /// Returns the moves that re-route existing streams.
    pub fn set_user_rule(&mut self, rule: UserRule) -> Vec<Move> {
        self.user_rules.set(rule);
        self.reroute_all()
    }

    /// Removes the user rule for `app` (see [`UserRules::unset`]). Returns whether one existed
    /// and the moves that re-route existing streams.
    pub fn unset_user_rule(&mut self, app: &str) -> (bool, Vec<Move>) {
        let removed = self.user_rules.unset(app);
        (removed, self.reroute_all())
    }

    /// Replaces all user rules (e.g. loaded from the user's config at start).
    pub fn set_user_rules(&mut self, rules: UserRules) -> Vec<Move> {
        self.user_rules = rules;
        self.reroute_all()
    }

    /// Replaces the profile's rules (profile switch or hot reload). Returns the moves.
    pub fn set_profile_rules(&mut self, config: RouteConfig) -> Vec<Move> {
        self.profile = config;
        self.reroute_all()
    }

    /// The real output device changed (or became known: `Some`), or vanished (`None`).
    /// Bypassed streams follow it. Returns the moves.
    pub fn on_real_sink_changed(&mut self, name: Option<&str>) -> Vec<Move> {
        // The processed sink can never be the real sink.
        self.real_sink = name
            .filter(|n| *n != self.processed_sink)
            .map(str::to_string);
        self.reroute_all()
    }

    /// Records what a stream is actually linked to (from the graph's links: node names and
    /// descriptions), for [`Router::state`]. Unknown ids are ignored.
    pub fn set_link_target(
        &mut self,
        id: u32,
        linked_to: Option<String>,
        description: Option<String>,
    ) {
        if let Some(st) = self.streams.get_mut(&id) {
            st.linked_to = linked_to;
            st.linked_description = description;
        }
    }

    /// Ids of every tracked stream.
    pub fn stream_ids(&self) -> Vec<u32> {
        self.streams.keys().copied().collect()
    }

    /// Ids of the streams currently routed to the processed sink (the ones Layer A taps).
    pub fn processed_streams(&self) -> Vec<u32> {
        self.streams
            .iter()
            .filter(|(_, s)| s.route == Some(Route::Processed))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Whether `id` is a tracked stream routed to the processed sink.
    pub fn is_processed(&self, id: u32) -> bool {
        self.streams
            .get(&id)
            .is_some_and(|s| s.route == Some(Route::Processed))
    }

    /// The app name of a tracked stream (`application.name`, else the binary, else empty).
    pub fn app_of(&self, id: u32) -> Option<String> {
        self.streams.get(&id).map(|s| app_name(&s.node))
    }

    /// Moves that undo ours: deletes every `target.object` we wrote, so the streams go back to
    /// the default sink. Call once before the bus goes away; forgets what was written.
    pub fn shutdown_moves(&mut self) -> Vec<Move> {
        let mut out = Vec::new();
        for (id, st) in &mut self.streams {
            if st.written.take().is_some() {
                out.push(Move {
                    node_id: *id,
                    target: None,
                });
            }
        }
        out
    }

    /// Per-stream routing state, by node id.
    pub fn state(&self) -> Vec<StreamRoute> {
        self.streams
            .iter()
            .map(|(id, s)| StreamRoute {
                node_id: *id,
                app: app_name(&s.node),
                binary: s.node.props.get("application.process.binary").cloned(),
                media_name: s.node.props.get("media.name").cloned(),
                status: s.status,
                matched: s.matched.clone(),
                route: s.route,
                target: s.written.clone(),
                linked_to: s.linked_to.clone(),
                linked_description: s.linked_description.clone(),
                rule_route: s.rule_route,
                app_target: s.node.own_target().map(str::to_string),
                user_target: s
                    .foreign
                    .values()
                    .find(|v| !self.consistent_with_routing(v))
                    .cloned(),
            })
            .collect()
    }
}

pub(super) fn app_name(node: &StreamNode) -> String {
    node.prop("application.name")
        .or_else(|| node.prop("application.process.binary"))
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests;
