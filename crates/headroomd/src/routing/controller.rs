//! [`RoutingController`]: the [`Router`] and one [`LayerA`] per tapped stream, fed with
//! [`PwEvent`]s, rule and setting changes and a ~10 Hz tick, answering with [`PwCommand`]s. No
//! I/O: the engine sends what it returns.

use std::collections::BTreeMap;

use headroom_core::LayerAParams;
use headroom_profile::{RouteConfig, UserRule, UserRules};

use super::router::{Move, Router, StreamNode, StreamRoute};
use crate::layer_a::{common_level, LayerA, LayerAState, TapReading, GATE_LUFS};
use crate::names::HEADROOM_ROLE_PROP;
use crate::pw::taps::TapReadings;
use crate::pw::{Graph, PwCommand, PwEvent};

/// Routing and Layer A together, speaking the PipeWire thread's language: feed it every
/// [`PwEvent`], rule and setting change and a ~10 Hz [`tick`](RoutingController::tick); send
/// every returned [`PwCommand`] to the bus. It owns the [`Router`] and one [`LayerA`] per
/// tapped stream; it never blocks and never talks to PipeWire itself.
///
/// Taps: while Layer A is enabled every stream routed to the processed sink gets a tap
/// ([`PwCommand::AttachTap`]); a stream leaving the processed route (or Layer A being
/// disabled) loses its tap and gets its volume back to 1 ([`PwCommand::SetStreamVolume`]).
/// The PipeWire thread destroys a tap by itself when its stream disappears.
///
/// Bypass ([`set_bypass`](RoutingController::set_bypass)) lifts Layer A with the chain: every
/// tapped stream is set to volume 1.0 at once and held there (taps stay attached, the
/// estimates keep running); turning bypass off sends each stream its computed volume again.
///
/// The bus compensation ([`bus_compensation_db`](RoutingController::bus_compensation_db)):
/// while one stream plays alone, Layer A's cut of it is a gain in front of the whole chain,
/// which the chain's AGC would take for the programme getting quieter — it had already cut
/// for the loud start, and a quieter steady sound is lifted 6 dB at most, speech only after
/// a wait: a loud app came out up to 7 LU under the target for as long as it played, and a
/// loud track after quiet music dipped up to 12 LU for seconds while the cut came in. So the
/// bus input is raised by that cut again (the chain sees the app as `render` does); the
/// stream's volume still carries it, ready for when another app plays. While two or more
/// streams play, Layer A moves them apart (the loud one further down, a quiet one up), and
/// what its volume changes do to their level together — each stream's loudness before
/// Layer A weighted by the gains sent before and after a tick — is taken off at the bus
/// input as well: the chain hears the mix at the level it has without Layer A, balanced
/// anew (held, the loud app's further cut when a quiet one started was a falling level the
/// AGC trailed, 5–8 LU under the target for 2–3 s); it never goes above the largest cut of a
/// tapped stream nor under 0 (a lift of every stream is the AGC's to meet). In a pause, and
/// when a stream other than its own plays alone, it is held (a constant gain in front of
/// the chain, which levels the mix with it; let go at the release rate it was a falling
/// level the AGC trailed, 2–3 LU under the target for seconds); when its stream — the one
/// with the largest cut — plays alone again (the only tapped stream, or the others silent
/// for 2 s: not a pause of another voice) it follows it again (a larger cut caught up with
/// at 10 dB/s); it ends once its stream has left the bus and nothing plays, at once under
/// bypass and with Layer A off.
#[derive(Debug, Clone)]
pub struct RoutingController {
    router: Router,
    layer_a: LayerAParams,
    levels: BTreeMap<u32, LayerA>,
    /// Each application stream's own volume as PipeWire reports it (linear), for Layer A.
    user_volumes: BTreeMap<u32, f32>,
    bus_target_lufs: f32,
    bus_ready: bool,
    bypass: bool,
    /// The bus compensation in force, dB (≥ 0), and the stream whose cut it is.
    bus_comp_db: f32,
    bus_comp_of: Option<u32>,
    /// The compensation follows its stream alone (it was not held since).
    comp_following: bool,
    /// Time since two or more tapped streams last played together (or one was tapped beside
    /// others), s.
    since_several_s: f32,
    /// Tapped streams at the last tick.
    tapped_before: usize,
    /// How long each tapped stream has been silent, s (0 while it plays; absent before it
    /// first played).
    silent_s: BTreeMap<u32, f32>,
    /// Which tapped streams played at the last tick.
    playing: Playing,
}

/// How fast the bus compensation catches up with a larger cut of its stream, once that
/// plays alone again after the compensation was held, dB/s.
const COMP_CATCH_UP_DB_PER_S: f32 = 10.0;

/// How long the other tapped streams must have been silent before one of several counts
/// as playing alone for the bus compensation, s.
const COMP_ALONE_AFTER_S: f32 = 2.0;

/// Which tapped streams play (a reading above the gate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Playing {
    Nothing,
    Alone(u32),
    Several,
}

impl RoutingController {
    /// A controller for the processed sink `processed_sink`, with Layer A parameters
    /// `layer_a` and the bus target `bus_target_lufs` (the AGC target).
    pub fn new(processed_sink: &str, layer_a: LayerAParams, bus_target_lufs: f32) -> Self {
        Self {
            router: Router::new(processed_sink),
            layer_a,
            levels: BTreeMap::new(),
            user_volumes: BTreeMap::new(),
            bus_target_lufs,
            bus_ready: false,
            bypass: false,
            bus_comp_db: 0.0,
            bus_comp_of: None,
            comp_following: false,
            since_several_s: f32::INFINITY,
            tapped_before: 0,
            silent_s: BTreeMap::new(),
            playing: Playing::Nothing,
        }
    }

    /// Gain the bus input gets before the chain, dB (≥ 0): the Layer A cut of a stream that
    /// plays alone, taken off again (see the type's docs).
    pub fn bus_compensation_db(&self) -> f32 {
        self.bus_comp_db
    }

    /// Follows the stream that plays alone with the bus compensation, and takes off what
    /// Layer A's volume changes did to the level of several playing together,
    /// `mix_change_db` (0 for an event between ticks); `dt_s` since the last call (0: an
    /// event between ticks, nothing is let go). See the type's docs.
    fn update_compensation(&mut self, dt_s: f32, mix_change_db: f32) {
        if self.bypass || !self.layer_a.enabled {
            self.bus_comp_db = 0.0;
            self.bus_comp_of = None;
            self.comp_following = false;
            return;
        }
        let cut_of = |la: &LayerA| (0.0 - la.sent_gain_db()).max(0.0);
        // In a pause the one tapped stream there is counts as alone (its gain holds). Beside
        // others, a stream counts as alone once they have been silent for
        // `COMP_ALONE_AFTER_S`: a pause of the other voice is no time to move the mix's level.
        let playing = match (self.playing, self.levels.len()) {
            (Playing::Nothing, 1) => self
                .levels
                .keys()
                .next()
                .map_or(Playing::Nothing, |id| Playing::Alone(*id)),
            (Playing::Alone(_), n) if n > 1 && self.since_several_s < COMP_ALONE_AFTER_S => {
                Playing::Several
            }
            (p, _) => p,
        };
        let owner = self.bus_comp_of;
        match playing {
            // Its stream plays alone: exactly its cut, both ways (they cancel) — but back
            // from a time the compensation was held, a larger cut is caught up with at
            // `COMP_CATCH_UP_DB_PER_S` (the bus gets louder; no jump to brace for).
            Playing::Alone(id) if owner == Some(id) => {
                let cut = self.levels.get(&id).map_or(0.0, cut_of);
                if self.comp_following || cut <= self.bus_comp_db {
                    self.bus_comp_db = cut;
                    self.comp_following = true;
                } else {
                    self.bus_comp_db = (self.bus_comp_db + COMP_CATCH_UP_DB_PER_S * dt_s).min(cut);
                    self.comp_following = self.bus_comp_db >= cut;
                }
            }
            // None in force: a stream alone takes it over at once (its volume carries the
            // cut as it is; after bypass, at the same moment as its volume).
            Playing::Alone(id) if owner.is_none() => {
                self.bus_comp_db = self.levels.get(&id).map_or(0.0, cut_of);
                self.bus_comp_of = Some(id);
                self.comp_following = true;
            }
            // Its stream gone from the bus and nothing plays: let go (nothing to hear).
            Playing::Nothing if owner.is_some_and(|id| !self.levels.contains_key(&id)) => {
                self.bus_comp_db = 0.0;
                self.comp_following = false;
            }
            // Its stream gone and another one alone whose cut is as large: that one's now
            // (caught up with from here).
            Playing::Alone(id)
                if owner.is_some_and(|o| !self.levels.contains_key(&o))
                    && self.levels.get(&id).map_or(0.0, cut_of) >= self.bus_comp_db =>
            {
                self.bus_comp_of = Some(id);
                self.comp_following = false;
            }
            // Several play: Layer A moves them apart (the loud one down, a quiet one up),
            // and what that does to their level together is taken off, so the chain hears
            // the mix at the level it has without Layer A, only balanced anew. Held, the
            // loud app's further cut at a quiet one's start was a falling level in front of
            // the AGC (5–8 LU under the target for 2–3 s). It rises no higher than the
            // largest cut of a tapped stream and falls no lower than 0 (a lift of them all
            // is left to the AGC); its stream is the one with that cut.
            Playing::Several => {
                let owner_cut = owner
                    .and_then(|id| self.levels.get(&id))
                    .map_or(0.0, cut_of);
                let (top, top_cut) = self.levels.iter().map(|(id, la)| (*id, cut_of(la))).fold(
                    (owner, owner_cut),
                    |best, (id, cut)| {
                        if cut > best.1 {
                            (Some(id), cut)
                        } else {
                            best
                        }
                    },
                );
                let wanted = self.bus_comp_db - mix_change_db;
                self.bus_comp_db = if wanted > self.bus_comp_db {
                    wanted.min(top_cut.max(self.bus_comp_db))
                } else {
                    wanted.max(0.0)
                };
                self.bus_comp_of = top;
                self.comp_following = false;
            }
            // Another stream alone, or a pause: held. A constant gain in front of the chain
            // is levelled with the rest; letting it go while sound plays would be a falling
            // level the AGC trails (2–3 LU under the target for seconds, a slow release
            // measured that way).
            _ => self.comp_following = false,
        }
        if self.bus_comp_db == 0.0 {
            self.bus_comp_of = None;
        }
    }

    /// The router (rules and per-stream decisions).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The Layer A parameters in force.
    pub fn layer_a_params(&self) -> LayerAParams {
        self.layer_a
    }

    fn moves(moves: impl IntoIterator<Item = Move>) -> Vec<PwCommand> {
        moves
            .into_iter()
            .map(|m| PwCommand::MoveStream {
                node_id: m.node_id,
                target: m.target,
            })
            .collect()
    }

    /// Moves are held back until the processed sink exists (then [`Router::reapply`]).
    fn gated(&self, moves: Vec<Move>) -> Vec<PwCommand> {
        if self.bus_ready {
            Self::moves(moves)
        } else {
            Vec::new()
        }
    }

    /// Attaches taps to processed streams that lack one and detaches (restoring volume) the
    /// taps of streams no longer processed.
    fn sync_taps(&mut self) -> Vec<PwCommand> {
        let mut out = Vec::new();
        let want: Vec<u32> = if self.layer_a.enabled && self.bus_ready {
            self.router.processed_streams()
        } else {
            Vec::new()
        };
        let stale: Vec<u32> = self
            .levels
            .keys()
            .copied()
            .filter(|id| !want.contains(id))
            .collect();
        for id in stale {
            self.levels.remove(&id);
            out.push(PwCommand::DetachTap { node_id: id });
            out.push(PwCommand::SetStreamVolume {
                node_id: id,
                volume: 1.0,
            });
        }
        for id in want {
            if let std::collections::btree_map::Entry::Vacant(e) = self.levels.entry(id) {
                let la = e.insert(LayerA::new(self.layer_a));
                if let Some(&v) = self.user_volumes.get(&id) {
                    la.set_user_volume(v);
                }
                out.push(PwCommand::AttachTap { node_id: id });
            }
        }
        out
    }

    /// Handles one event of the PipeWire thread. `graph` (a snapshot, read after the event)
    /// is used to report what streams are actually linked to.
    pub fn on_event(&mut self, ev: &PwEvent, graph: Option<&Graph>) -> Vec<PwCommand> {
        let mut out = Vec::new();
        match ev {
            PwEvent::Disconnected { .. } => {
                self.bus_ready = false;
                self.router.clear_streams();
                self.levels.clear();
                self.user_volumes.clear();
            }
            PwEvent::BusReady { .. } => {
                self.bus_ready = true;
                let moves = self.router.reapply();
                out.extend(Self::moves(moves));
                out.extend(self.sync_taps());
            }
            PwEvent::NodeAdded {
                id,
                props,
                media_class,
                ..
            } => {
                let node = StreamNode {
                    id: *id,
                    media_class: media_class.clone().unwrap_or_default(),
                    props: props.clone(),
                };
                let existing = graph.and_then(|g| g.targets.get(id)).map(String::as_str);
                let m = self.router.on_stream_added_with_target(node, existing);
                let tracked = self.router.app_of(*id).is_some();
                out.extend(self.gated(m.into_iter().collect()));
                out.extend(self.sync_taps());
                // An app stream Layer A does not tap starts at master volume 1: restore-stream
                // may have given it the reduction a killed daemon left on the app's previous
                // stream, and desktop mixers do not show the master volume, so the user could
                // not undo it. (A tapped stream gets the same from its first Layer A step.)
                if tracked && self.bus_ready && !self.levels.contains_key(id) {
                    out.push(PwCommand::SetStreamVolume {
                        node_id: *id,
                        volume: 1.0,
                    });
                }
            }
            PwEvent::NodeChanged { id, props } => {
                let m = self.router.on_stream_changed(*id, props.clone());
                out.extend(self.gated(m.into_iter().collect()));
                out.extend(self.sync_taps());
            }
            PwEvent::NodeRemoved { id } => {
                // The PipeWire thread destroys the tap with the stream.
                self.router.on_stream_removed(*id);
                self.levels.remove(id);
                self.user_volumes.remove(id);
            }
            PwEvent::StreamVolume { id, volume } => {
                self.user_volumes.insert(*id, *volume);
                if let Some(la) = self.levels.get_mut(id) {
                    la.set_user_volume(*volume);
                }
            }
            PwEvent::RealSinkChanged { name } => {
                let moves = self.router.on_real_sink_changed(name.as_deref());
                out.extend(self.gated(moves));
            }
            PwEvent::TargetChanged {
                node_id,
                key,
                target,
            } => {
                let m = self
                    .router
                    .on_target_changed(*node_id, key, target.as_deref());
                out.extend(self.gated(m.into_iter().collect()));
                out.extend(self.sync_taps());
            }
            _ => {}
        }
        if let Some(g) = graph {
            self.update_links(g);
        }
        // A stream that left the bus takes its compensation with it.
        self.update_compensation(0.0, 0.0);
        out
    }

    /// Refreshes every stream's actual link target from `graph`.
    pub fn update_links(&mut self, graph: &Graph) {
        let ids = self.router.stream_ids();
        for id in ids {
            let nodes: Vec<_> = graph
                .link_targets(id)
                .into_iter()
                .filter_map(|t| graph.nodes.get(&t))
                // Our own taps are not where the stream "plays".
                .filter(|n| !n.props.contains_key(HEADROOM_ROLE_PROP))
                .collect();
            let names: Vec<String> = nodes.iter().filter_map(|n| n.name.clone()).collect();
            let descriptions: Vec<String> = nodes
                .iter()
                .filter_map(|n| n.props.get("node.description").or(n.name.as_ref()).cloned())
                .collect();
            self.router.set_link_target(
                id,
                (!names.is_empty()).then(|| names.join(", ")),
                (!descriptions.is_empty()).then(|| descriptions.join(", ")),
            );
        }
    }

    /// `route set APP ROUTE`.
    pub fn set_user_rule(&mut self, rule: UserRule) -> Vec<PwCommand> {
        let moves = self.router.set_user_rule(rule);
        let mut out = self.gated(moves);
        out.extend(self.sync_taps());
        out
    }

    /// `route unset APP`; the bool tells whether a rule existed.
    pub fn unset_user_rule(&mut self, app: &str) -> (bool, Vec<PwCommand>) {
        let (removed, moves) = self.router.unset_user_rule(app);
        let mut out = self.gated(moves);
        out.extend(self.sync_taps());
        (removed, out)
    }

    /// Replaces all user rules, e.g. from the persisted config at start.
    pub fn set_user_rules(&mut self, rules: UserRules) -> Vec<PwCommand> {
        let moves = self.router.set_user_rules(rules);
        let mut out = self.gated(moves);
        out.extend(self.sync_taps());
        out
    }

    /// New profile routing (profile switch or reload).
    pub fn set_profile_rules(&mut self, config: RouteConfig) -> Vec<PwCommand> {
        let moves = self.router.set_profile_rules(config);
        let mut out = self.gated(moves);
        out.extend(self.sync_taps());
        out
    }

    /// New Layer A parameters. Disabling restores every tapped stream's volume at once and
    /// removes the taps; enabling attaches them.
    pub fn set_layer_a(&mut self, params: LayerAParams) -> Vec<PwCommand> {
        self.layer_a = params;
        let mut out = Vec::new();
        if params.enabled {
            for la in self.levels.values_mut() {
                la.set_params(params);
            }
        }
        out.extend(self.sync_taps());
        self.update_compensation(0.0, 0.0);
        out
    }

    /// Bypass on or off (the chain's `bypass` in force). On: every tapped stream's volume goes
    /// to exactly 1.0 now, whatever Layer A computed; off: each gets its computed volume back.
    /// Returns the volume changes (none when the state does not change).
    pub fn set_bypass(&mut self, bypass: bool) -> Vec<PwCommand> {
        if bypass == self.bypass {
            return Vec::new();
        }
        self.bypass = bypass;
        let mut out = Vec::new();
        for (id, la) in &mut self.levels {
            let volume = if bypass {
                la.unity_to_send()
            } else {
                la.resume();
                la.volume_to_send()
            };
            if let Some(volume) = volume {
                out.push(PwCommand::SetStreamVolume {
                    node_id: *id,
                    volume,
                });
            }
        }
        self.update_compensation(0.0, 0.0);
        out
    }

    /// Whether bypass is in force (see [`RoutingController::set_bypass`]).
    pub fn bypass(&self) -> bool {
        self.bypass
    }

    /// The bus loudness target (AGC `target_lufs`) Layer A compares streams with.
    pub fn set_bus_target(&mut self, lufs: f32) {
        self.bus_target_lufs = lufs;
    }

    /// Steps every tapped stream's [`LayerA`] by `dt_s` with its tap's latest reading and
    /// returns the volume changes. Call at about 10 Hz.
    pub fn tick(&mut self, taps: &TapReadings, dt_s: f32) -> Vec<PwCommand> {
        let mut out = Vec::new();
        // Streams playing now (a reading above the gate), and the level they aim at
        // together when there are two or more.
        let playing = |r: &TapReading| r.momentary_lufs.is_finite() && r.momentary_lufs > GATE_LUFS;
        let now: Vec<(u32, &LayerA)> = self
            .levels
            .iter()
            .filter(|(id, _)| taps.get(**id).is_some_and(|r| playing(&r)))
            .map(|(id, la)| (*id, la))
            .collect();
        let raw: Vec<f64> = now.iter().filter_map(|(_, la)| la.raw_lufs()).collect();
        let common = common_level(&raw, self.bus_target_lufs, &self.layer_a);
        self.playing = match now[..] {
            [] => Playing::Nothing,
            [(id, _)] => Playing::Alone(id),
            _ => Playing::Several,
        };
        // A stream tapped beside others counts as playing with them from its start.
        let joined = self.levels.len() > 1 && self.levels.len() > self.tapped_before;
        self.tapped_before = self.levels.len();
        self.since_several_s = if self.playing == Playing::Several || joined {
            0.0
        } else {
            self.since_several_s + dt_s
        };
        // The gain sent to each stream so far.
        let sent_before: Vec<f32> = self.levels.values().map(LayerA::sent_gain_db).collect();
        for (id, la) in &mut self.levels {
            let reading = taps.get(*id).unwrap_or(TapReading::SILENT);
            let volume = if self.bypass {
                la.hold_at_unity(reading, dt_s);
                la.unity_to_send()
            } else {
                let aim = common.filter(|_| playing(&reading));
                la.update(reading, self.bus_target_lufs, dt_s, aim);
                la.volume_to_send()
            };
            if let Some(volume) = volume {
                out.push(PwCommand::SetStreamVolume {
                    node_id: *id,
                    volume,
                });
            }
        }
        // What the volumes just sent do to the level of the mix: the streams playing now or
        // within `COMP_ALONE_AFTER_S` (a pause of one voice leaves it in the mix, so what
        // Layer A does to the others meanwhile weighs as it will when the voice is back),
        // each with its loudness before Layer A (and with the user's volume, as the bus
        // hears it), as power, through the gain sent before and after.
        for id in self.levels.keys() {
            let heard = taps.get(*id).is_some_and(|r| playing(&r));
            match self.silent_s.get_mut(id) {
                Some(s) if !heard => *s += dt_s,
                Some(s) => *s = 0.0,
                None if heard => {
                    self.silent_s.insert(*id, 0.0);
                }
                None => {}
            }
        }
        let levels = &self.levels;
        self.silent_s.retain(|id, _| levels.contains_key(id));
        let pow = |db: f64| 10f64.powf(db / 10.0);
        let (mut before, mut after) = (0.0f64, 0.0f64);
        for ((id, la), sent) in self.levels.iter().zip(sent_before) {
            let in_mix = self
                .silent_s
                .get(id)
                .is_some_and(|s| *s < COMP_ALONE_AFTER_S);
            let Some(raw) = la.raw_lufs().filter(|_| in_mix) else {
                continue;
            };
            let p = pow(raw) * f64::from(la.user_volume()).powi(2);
            before += p * pow(f64::from(sent));
            after += p * pow(f64::from(la.sent_gain_db()));
        }
        let mix_change_db = if before > 0.0 && after > 0.0 && (after / before).is_finite() {
            (10.0 * (after / before).log10()) as f32
        } else {
            0.0
        };
        self.update_compensation(dt_s, mix_change_db);
        out
    }

    /// Layer A state of every tapped stream. Under bypass the volume in force is 1.0 and the
    /// reduction 0, whatever Layer A holds for later.
    pub fn layer_a_state(&self) -> Vec<LayerAState> {
        self.levels
            .iter()
            .map(|(id, la)| {
                let mut st = la.state(*id, &self.router.app_of(*id).unwrap_or_default());
                if self.bypass {
                    st.volume_lin = 1.0;
                    st.reduction_db = 0.0;
                }
                st
            })
            .collect()
    }

    /// Per-stream routing state.
    pub fn state(&self) -> Vec<StreamRoute> {
        self.router.state()
    }

    /// What to send before the bus goes away: volumes back to 1, taps removed, our targets
    /// deleted (streams return to the default sink).
    pub fn shutdown(&mut self) -> Vec<PwCommand> {
        let mut out = Vec::new();
        for id in std::mem::take(&mut self.levels).into_keys() {
            out.push(PwCommand::SetStreamVolume {
                node_id: id,
                volume: 1.0,
            });
            out.push(PwCommand::DetachTap { node_id: id });
        }
        out.extend(Self::moves(self.router.shutdown_moves()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{Route, PROCESSED_SINK};

    fn user(app: &str, route: Route) -> UserRule {
        UserRule::new(app, route).unwrap()
    }

    fn added(id: u32, app: &str) -> PwEvent {
        PwEvent::NodeAdded {
            id,
            serial: Some(u64::from(id) + 1000),
            props: [("application.name", app), ("node.name", "pw-play")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            media_class: Some("Stream/Output/Audio".into()),
        }
    }

    fn ready() -> PwEvent {
        PwEvent::BusReady {
            latency_frames: 72,
            sink_id: 30,
            playback_id: 31,
            channels: "FL FR".into(),
        }
    }

    fn ctl() -> RoutingController {
        let mut c = RoutingController::new(PROCESSED_SINK, LayerAParams::default(), -16.0);
        c.on_event(
            &PwEvent::RealSinkChanged {
                name: Some("speakers".into()),
            },
            None,
        );
        c
    }

    fn mvc(id: u32, t: Option<&str>) -> PwCommand {
        PwCommand::MoveStream {
            node_id: id,
            target: t.map(str::to_string),
        }
    }

    #[test]
    fn a_streams_own_volume_reaches_its_layer_a_whenever_it_comes() {
        let vol = |id, volume| PwEvent::StreamVolume { id, volume };
        let mut c = ctl();
        // Known before the stream is tapped (the param comes with the node).
        assert!(c.on_event(&vol(50, 0.125), None).is_empty());
        c.on_event(&ready(), None);
        c.on_event(&added(50, "a"), None);
        assert_eq!(c.levels[&50].user_volume(), 0.125);
        // Changed while tapped.
        c.on_event(&vol(50, 0.5), None);
        assert_eq!(c.levels[&50].user_volume(), 0.5);
        // Gone with the stream: a new stream of the same id starts at 1.
        c.on_event(&PwEvent::NodeRemoved { id: 50 }, None);
        c.on_event(&added(50, "a"), None);
        assert_eq!(c.levels[&50].user_volume(), 1.0);
    }

    #[test]
    fn controller_holds_moves_until_the_bus_is_ready() {
        let mut c = ctl();
        assert!(c.on_event(&added(50, "a"), None).is_empty());
        let cmds = c.on_event(&ready(), None);
        assert_eq!(
            cmds,
            vec![
                mvc(50, Some(PROCESSED_SINK)),
                PwCommand::AttachTap { node_id: 50 }
            ]
        );
        // Later streams move at once.
        let cmds = c.on_event(&added(51, "b"), None);
        assert_eq!(
            cmds,
            vec![
                mvc(51, Some(PROCESSED_SINK)),
                PwCommand::AttachTap { node_id: 51 }
            ]
        );
    }

    #[test]
    fn controller_taps_only_processed_streams_and_restores_volume_on_bypass() {
        let mut c = ctl();
        c.on_event(&ready(), None);
        c.on_event(&added(50, "a"), None);
        let cmds = c.set_user_rule(user("a", Route::Bypass));
        assert_eq!(
            cmds,
            vec![
                mvc(50, Some("speakers")),
                PwCommand::DetachTap { node_id: 50 },
                PwCommand::SetStreamVolume {
                    node_id: 50,
                    volume: 1.0
                },
            ]
        );
        assert!(c.layer_a_state().is_empty());
        let (removed, cmds) = c.unset_user_rule("a");
        assert!(removed);
        assert_eq!(
            cmds,
            vec![
                mvc(50, Some(PROCESSED_SINK)),
                PwCommand::AttachTap { node_id: 50 }
            ]
        );
        // Removal forgets the stream (the bus destroys the tap itself).
        assert!(c
            .on_event(&PwEvent::NodeRemoved { id: 50 }, None)
            .is_empty());
        assert!(c.layer_a_state().is_empty());
        assert!(c.state().is_empty());
    }

    #[test]
    fn controller_levels_a_loud_stream_and_disabling_restores_it() {
        let mut c = ctl();
        c.on_event(&ready(), None);
        c.on_event(&added(50, "loud"), None);
        c.on_event(&added(51, "quiet"), None);
        let taps = TapReadings::default();
        // No tap readings registered: silence, only the initial unity volumes are sent.
        let cmds = c.tick(&taps, 0.1);
        assert_eq!(cmds.len(), 2);
        assert!(c.tick(&taps, 0.1).is_empty());
        let loud = std::sync::Arc::new(crate::pw::taps::TapMeter::default());
        let quiet = std::sync::Arc::new(crate::pw::taps::TapMeter::default());
        taps.insert_for_tests(50, loud.clone());
        taps.insert_for_tests(51, quiet.clone());
        let volume = |c: &RoutingController, id: u32| {
            let v = c
                .layer_a_state()
                .iter()
                .find(|s| s.node_id == id)
                .unwrap()
                .volume_lin;
            20.0 * f64::from(v).log10()
        };
        // The loud one alone (−4 LUFS vs −16 target, 6 LU threshold → 6 dB); the tap hears
        // the reduced level.
        for _ in 0..200 {
            let heard = -4.0 + volume(&c, 50);
            loud.publish(heard, heard);
            for cmd in c.tick(&taps, 0.1) {
                assert!(matches!(
                    cmd,
                    PwCommand::SetStreamVolume { node_id: 50, .. }
                ));
            }
        }
        let st = c.layer_a_state();
        assert_eq!(st[0].app, "loud");
        assert!((st[0].reduction_db - 6.0).abs() < 0.1, "{st:?}");
        assert_eq!(st[1].reduction_db, 0.0);
        // The quiet one (−30) plays too: both meet near the target, within 3 LU.
        for _ in 0..300 {
            let (hl, hq) = (-4.0 + volume(&c, 50), -30.0 + volume(&c, 51));
            loud.publish(hl, hl);
            quiet.publish(hq, hq);
            c.tick(&taps, 0.1);
        }
        let (hl, hq) = (-4.0 + volume(&c, 50), -30.0 + volume(&c, 51));
        assert!((hl - hq).abs() <= 3.05, "loud heard {hl:.2}, quiet {hq:.2}");
        let st = c.layer_a_state();
        assert!(
            st[0].reduction_db > 6.0 && st[1].reduction_db < 0.0,
            "{st:?}"
        );
        let off = LayerAParams {
            enabled: false,
            ..LayerAParams::default()
        };
        let cmds = c.set_layer_a(off);
        for id in [50, 51] {
            assert!(cmds.contains(&PwCommand::SetStreamVolume {
                node_id: id,
                volume: 1.0
            }));
            assert!(cmds.contains(&PwCommand::DetachTap { node_id: id }));
        }
        // Back on: taps again.
        let cmds = c.set_layer_a(LayerAParams::default());
        assert_eq!(cmds.len(), 2);
    }

    /// A controller with the bus ready and one stream, 50 ("loud"), tapped: its taps and
    /// the stream's tap meter.
    fn loud_alone() -> (
        RoutingController,
        TapReadings,
        std::sync::Arc<crate::pw::taps::TapMeter>,
    ) {
        let mut c = ctl();
        c.on_event(&ready(), None);
        c.on_event(&added(50, "loud"), None);
        let taps = TapReadings::default();
        let loud = std::sync::Arc::new(crate::pw::taps::TapMeter::default());
        taps.insert_for_tests(50, loud.clone());
        (c, taps, loud)
    }

    #[test]
    fn bypass_holds_tapped_streams_at_unity_and_restores_the_computed_volume() {
        let (mut c, taps, loud) = loud_alone();
        let mut sent = 1.0f32;
        for _ in 0..100 {
            loud.publish(-4.0 + 20.0 * f64::from(sent).log10(), -4.0);
            for cmd in c.tick(&taps, 0.1) {
                if let PwCommand::SetStreamVolume { volume, .. } = cmd {
                    sent = volume;
                }
            }
        }
        assert!(sent < 0.7, "Layer A turned the loud stream down: {sent}");
        let computed = c.layer_a_state()[0].reduction_db;
        // On: unity at once, once.
        let cmds = c.set_bypass(true);
        assert_eq!(
            cmds,
            vec![PwCommand::SetStreamVolume {
                node_id: 50,
                volume: 1.0
            }]
        );
        assert_eq!(c.layer_a_state()[0].volume_lin, 1.0);
        assert_eq!(c.layer_a_state()[0].reduction_db, 0.0);
        for _ in 0..50 {
            loud.publish(-4.0, -4.0);
            assert!(c.tick(&taps, 0.1).is_empty(), "held at unity");
        }
        // A stream tapped during bypass gets unity on its first tick.
        c.on_event(&added(51, "new"), None);
        let cmds = c.tick(&taps, 0.1);
        assert!(cmds.contains(&PwCommand::SetStreamVolume {
            node_id: 51,
            volume: 1.0
        }));
        // Off: the computed volume comes back at once.
        let cmds = c.set_bypass(false);
        let back = cmds
            .iter()
            .find_map(|c| match c {
                PwCommand::SetStreamVolume {
                    node_id: 50,
                    volume,
                } => Some(*volume),
                _ => None,
            })
            .expect("volume restored");
        assert!((back - 10f32.powf(-computed / 20.0)).abs() < 1e-3, "{back}");
        assert!(c.set_bypass(false).is_empty());
    }

    /// A loud stream alone: the bus input gets its Layer A cut back exactly (what was sent);
    /// a pause holds it; while a second stream plays it is held, also through a pause of
    /// that one; alone again, it follows again (a larger cut caught up with at 10 dB/s);
    /// bypass and Layer A off end it at once, the stream leaving the bus once nothing plays.
    #[test]
    fn the_cut_of_a_stream_playing_alone_is_taken_off_at_the_bus_input() {
        let (mut c, taps, loud) = loud_alone();
        let mut sent = 1.0f32;
        let sent_db = |v: f32| 20.0 * f64::from(v).log10();
        // `ticks` ticks of the loud stream (tap meter `loud`, volume last sent `sent`) at
        // `level` LUFS, and whatever else plays; whether the compensation was exactly the
        // stream's cut at every one of them.
        let run = |c: &mut RoutingController,
                   (taps, loud): (&TapReadings, &crate::pw::taps::TapMeter),
                   sent: &mut f32,
                   level: f64,
                   ticks: usize| {
            let mut exact = true;
            for _ in 0..ticks {
                let heard = level + sent_db(*sent);
                loud.publish(heard, heard);
                for cmd in c.tick(taps, 0.1) {
                    if let PwCommand::SetStreamVolume {
                        node_id: 50,
                        volume,
                    } = cmd
                    {
                        *sent = volume;
                    }
                }
                let comp = f64::from(c.bus_compensation_db());
                exact &= (comp + sent_db(*sent).min(0.0)).abs() < 1e-4;
            }
            exact
        };
        assert!(
            run(&mut c, (&taps, &loud), &mut sent, -4.0, 100),
            "follows the cut exactly"
        );
        let cut = c.bus_compensation_db();
        assert!((cut - 6.0).abs() < 0.2, "alone at −4 LUFS: 6 dB cut, {cut}");
        // A pause holds it.
        loud.publish(-90.0, -90.0);
        for _ in 0..30 {
            c.tick(&taps, 0.1);
        }
        assert_eq!(c.bus_compensation_db(), cut);
        // Bypass: none; back: the cut again at once, with the volume.
        c.set_bypass(true);
        assert_eq!(c.bus_compensation_db(), 0.0);
        let back = c.set_bypass(false);
        let Some(PwCommand::SetStreamVolume { volume, .. }) = back.first() else {
            panic!("{back:?}")
        };
        let cut = c.bus_compensation_db();
        assert!(
            (f64::from(cut) + sent_db(*volume)).abs() < 1e-4,
            "{cut} {volume}"
        );
        sent = *volume;
        // A quiet stream joins (−30 LUFS): Layer A cuts the loud one further and lifts the
        // quiet one, and what that does to the two together is taken off at the bus input
        // tick by tick: the mix reaches the chain at its level without Layer A.
        c.on_event(&added(51, "other"), None);
        let other = std::sync::Arc::new(crate::pw::taps::TapMeter::default());
        taps.insert_for_tests(51, other.clone());
        let pow = |db: f64| 10f64.powf(db / 10.0);
        // Ticks with the loud stream at −4 LUFS and the other at −30 (silent but for
        // `other_plays`), each heard through the volume last sent to it (`vols`); the largest
        // distance of the mix's level at the bus input — both streams, each through its
        // volume — from their level together without Layer A, dB.
        let raw_mix = 10.0 * (pow(-4.0) + pow(-30.0)).log10();
        let both =
            |c: &mut RoutingController, vols: &mut (f32, f32), other_plays: bool, ticks: usize| {
                let mut worst = 0.0f64;
                for _ in 0..ticks {
                    let heard = -4.0 + sent_db(vols.0);
                    loud.publish(heard, heard);
                    let heard_other = if other_plays {
                        -30.0 + sent_db(vols.1)
                    } else {
                        -90.0
                    };
                    other.publish(heard_other, heard_other);
                    for cmd in c.tick(&taps, 0.1) {
                        if let PwCommand::SetStreamVolume { node_id, volume } = cmd {
                            *(if node_id == 50 {
                                &mut vols.0
                            } else {
                                &mut vols.1
                            }) = volume;
                        }
                    }
                    let mix = pow(-4.0 + sent_db(vols.0)) + pow(-30.0 + sent_db(vols.1));
                    let bus = 10.0 * mix.log10() + f64::from(c.bus_compensation_db());
                    worst = worst.max((bus - raw_mix).abs());
                }
                worst
            };
        let mut vols = (sent, 1.0f32);
        let worst = both(&mut c, &mut vols, true, 60);
        let (sent_other, mut sent) = (vols.1, vols.0);
        let together = -sent_db(sent) as f32;
        assert!(
            together > cut + 3.0 && sent_db(sent_other) > 10.0,
            "moved apart beside the other: {together} dB cut, {} dB lift",
            sent_db(sent_other)
        );
        assert!(
            worst < 0.5,
            "the mix at the bus input {worst:.2} dB from its level without Layer A"
        );
        // A pause of the other (1.5 s) is no time alone: the other stays in the mix, and
        // what Layer A does to the loud one meanwhile (it lets the further cut go) is weighed
        // as in the mix — undone when the other is back, so nothing drifts.
        let release = sent_db(sent);
        let mut vols = (sent, sent_other);
        let worst = both(&mut c, &mut vols, false, 15);
        sent = vols.0;
        assert!(
            sent_db(sent) - release > 1.5 && worst < 0.3,
            "released {:.2} dB in the pause; the mix {worst:.2} dB off",
            sent_db(sent) - release
        );
        let worst = both(&mut c, &mut vols, true, 20);
        sent = vols.0;
        assert!(worst < 0.3, "{worst:.2} dB off when the other is back");
        // The other gone: alone again, its larger cut caught up with at 10 dB/s, then
        // followed exactly as Layer A lets it go.
        let held = c.bus_compensation_db();
        c.on_event(&PwEvent::NodeRemoved { id: 51 }, None);
        run(&mut c, (&taps, &loud), &mut sent, -4.0, 1);
        let first = c.bus_compensation_db();
        assert!(
            held < -sent_db(sent) as f32 - 1.0 && (first - (held + 1.0)).abs() < 1e-3,
            "{held} → {first}, cut {}",
            -sent_db(sent)
        );
        run(&mut c, (&taps, &loud), &mut sent, -4.0, 200);
        assert!(
            run(&mut c, (&taps, &loud), &mut sent, -4.0, 10),
            "follows again"
        );
        // Layer A off: none.
        c.set_layer_a(LayerAParams {
            enabled: false,
            ..LayerAParams::default()
        });
        assert_eq!(c.bus_compensation_db(), 0.0);

        // A quiet stream alone, then a loud one joins while the quiet one pauses: the loud
        // one's cut is taken off as it comes (it is nearly all of the mix's level), so the
        // chain meets its start as it would without Layer A, not a start and then a fall.
        let (mut c, taps, quiet) = loud_alone();
        quiet.publish(-30.0, -30.0);
        for _ in 0..30 {
            c.tick(&taps, 0.1);
        }
        assert_eq!(c.bus_compensation_db(), 0.0);
        quiet.publish(-90.0, -90.0);
        c.on_event(&added(51, "loud"), None);
        let loud = std::sync::Arc::new(crate::pw::taps::TapMeter::default());
        taps.insert_for_tests(51, loud.clone());
        let mut sent = 1.0f32;
        for _ in 0..15 {
            let heard = -2.0 + sent_db(sent);
            loud.publish(heard, heard);
            for cmd in c.tick(&taps, 0.1) {
                if let PwCommand::SetStreamVolume {
                    node_id: 51,
                    volume,
                } = cmd
                {
                    sent = volume;
                }
            }
        }
        let comp = f64::from(c.bus_compensation_db());
        assert!(
            sent_db(sent) < -3.0 && (comp + sent_db(sent)).abs() < 0.05,
            "cut {:.2} dB, taken off {comp:.2} dB",
            -sent_db(sent)
        );

        // Its stream leaves the bus while another plays: held; once nothing plays, none.
        let (mut c, taps, loud) = loud_alone();
        let mut sent = 1.0;
        assert!(run(&mut c, (&taps, &loud), &mut sent, -4.0, 100));
        let cut = c.bus_compensation_db();
        c.on_event(&added(51, "other"), None);
        let other = std::sync::Arc::new(crate::pw::taps::TapMeter::default());
        taps.insert_for_tests(51, other.clone());
        other.publish(-30.0, -30.0);
        c.tick(&taps, 0.1);
        c.on_event(&PwEvent::NodeRemoved { id: 50 }, None);
        c.tick(&taps, 0.1);
        assert_eq!(c.bus_compensation_db(), cut);
        c.on_event(&PwEvent::NodeRemoved { id: 51 }, None);
        c.tick(&taps, 0.1);
        assert_eq!(c.bus_compensation_db(), 0.0);
    }

    #[test]
    fn untapped_new_streams_start_at_master_volume_one() {
        let mut c = ctl();
        c.on_event(&ready(), None);
        // Tapped: Layer A's first step sets the volume, nothing extra now.
        let cmds = c.on_event(&added(50, "a"), None);
        assert!(!cmds
            .iter()
            .any(|c| matches!(c, PwCommand::SetStreamVolume { .. })));
        // Untapped (Layer A off): the master volume is reset once when the stream appears.
        c.set_layer_a(LayerAParams {
            enabled: false,
            ..LayerAParams::default()
        });
        let cmds = c.on_event(&added(51, "b"), None);
        assert!(cmds.contains(&PwCommand::SetStreamVolume {
            node_id: 51,
            volume: 1.0
        }));
        // Not for nodes the router does not manage.
        let own = PwEvent::NodeAdded {
            id: 61,
            serial: None,
            props: [("node.name".to_string(), "headroom-tap-50".to_string())].into(),
            media_class: Some("Stream/Input/Audio".into()),
        };
        assert!(c.on_event(&own, None).is_empty());
    }

    #[test]
    fn controller_ignores_own_nodes_and_forgets_all_on_disconnect() {
        let mut c = ctl();
        c.on_event(&ready(), None);
        let own = PwEvent::NodeAdded {
            id: 60,
            serial: None,
            props: [("node.name".to_string(), "headroom-tap-50".to_string())].into(),
            media_class: Some("Stream/Input/Audio".into()),
        };
        assert!(c.on_event(&own, None).is_empty());
        c.on_event(&added(50, "a"), None);
        c.on_event(&PwEvent::Disconnected { reason: "x".into() }, None);
        assert!(c.state().is_empty());
        assert!(c.layer_a_state().is_empty());
        // After reconnect nothing moves before the bus is ready again.
        assert!(c.on_event(&added(70, "a"), None).is_empty());
    }

    #[test]
    fn controller_shutdown_undoes_everything() {
        let mut c = ctl();
        c.on_event(&ready(), None);
        c.on_event(&added(50, "a"), None);
        let cmds = c.shutdown();
        assert_eq!(
            cmds,
            vec![
                PwCommand::SetStreamVolume {
                    node_id: 50,
                    volume: 1.0
                },
                PwCommand::DetachTap { node_id: 50 },
                mvc(50, None),
            ]
        );
    }

    #[test]
    fn controller_reports_link_targets_without_taps() {
        use crate::pw::{GraphLink, GraphNode};
        let mut c = ctl();
        c.on_event(&ready(), None);
        c.on_event(&added(50, "a"), None);
        let mut g = Graph::default();
        let node = |id: u32, name: &str, tap: bool| GraphNode {
            id,
            serial: None,
            name: Some(name.into()),
            media_class: None,
            props: if tap {
                [(HEADROOM_ROLE_PROP.to_string(), "tap".to_string())].into()
            } else {
                BTreeMap::new()
            },
        };
        g.nodes.insert(30, node(30, PROCESSED_SINK, false));
        g.nodes.insert(80, node(80, "headroom-tap-50", true));
        for (lid, to) in [(1, 30), (2, 80)] {
            g.links.insert(
                lid,
                GraphLink {
                    id: lid,
                    output_node: 50,
                    output_port: 0,
                    input_node: to,
                    input_port: 0,
                },
            );
        }
        c.update_links(&g);
        assert_eq!(c.state()[0].linked_to.as_deref(), Some(PROCESSED_SINK));
    }
}
