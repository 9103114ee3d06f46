//! `status`, the meters as subscribers see them, and the snapshot a new subscriber gets.

use headroom_ipc::{DaemonState, Event, LayerALevel, Meters, ProfileInForce, Status, Topic};

use super::Engine;
use crate::control::convert::{dsp_timing_from_core, meters_from_core};
use crate::names::BUS_SINK_NAME;

/// How long the bus's frame count must stand still before its momentary, short-term and
/// true-peak readings are reported as no measurement (longer than any graph quantum).
pub(super) const METERS_STALE_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

impl Engine {
    /// The `status` reply (also the `daemon` snapshot).
    pub(super) fn status(&self) -> Status {
        let t = self.bus.timing().snapshot();
        Status {
            state: self.watch.state(),
            daemon_version: env!("CARGO_PKG_VERSION").to_string(),
            protocol_version: headroom_ipc::PROTOCOL_VERSION,
            uptime_s: self.started.elapsed().as_secs(),
            pipewire: self.pipewire.clone(),
            real_sink: self.real_sink.clone(),
            processed_sink: BUS_SINK_NAME.to_string(),
            processed_channels: self.processed_channels.clone(),
            promote_default: self.promote_default(),
            profile: self.store.active_name(),
            bypass: self.params.bypass,
            dsp: dsp_timing_from_core(&t),
            xruns: self.bus.xruns(),
            meters: self.meters(),
            streams: self.last_streams.len() as u32,
            profile_error: self.profile_error.clone(),
            profile_error_active: self.profile_error_active(),
            profile_in_force: self.profile_in_force(),
            alerts: self.watch.active(),
            config_warnings: self.store.config_warnings(),
            file_warnings: self.file_warnings.clone(),
        }
    }

    /// While a profile error is reported: whether it is about what the config file selects
    /// (the config file or the active profile's file) rather than another profile's file.
    fn profile_error_active(&self) -> Option<bool> {
        self.profile_error.as_ref()?;
        let file = self.profile_error_file.as_deref()?;
        Some(self.concerns_selection(file))
    }

    /// What is in force while a profile error is reported: the start-up fallback, if one is
    /// still in force, else the last good version of the active profile.
    fn profile_in_force(&self) -> Option<ProfileInForce> {
        use crate::profiles::Fallback;
        self.profile_error.as_ref()?;
        Some(match self.store.fallback() {
            None => ProfileInForce::LastGood,
            Some(Fallback::Default) => ProfileInForce::Default,
            Some(Fallback::Shipped) => ProfileInForce::Shipped,
            Some(Fallback::BuiltIn) => ProfileInForce::BuiltIn,
        })
    }

    /// The bus meters as published by the audio thread, with the target and bypass the engine
    /// has put in force (the audio thread only publishes while audio flows: the bus suspends
    /// when idle, and the parameters must show at once). Under bypass the gains in force are
    /// none: the AGC gain and the gain reductions read 0 (the chain's last values would be
    /// stale, not applied). Once no audio has gone through the bus for [`METERS_STALE_AFTER`]
    /// (nothing plays: the graph stops calling the bus, so its meters keep their last values),
    /// momentary, short-term and true peak read as no measurement; integrated loudness and the
    /// gains keep theirs. The true peaks are those of the audio between the last two ticks
    /// (100 ms), taken by the tick.
    pub(super) fn meters(&self) -> Meters {
        let mut m = meters_from_core(&self.bus.meters().load());
        (m.in_true_peak_dbtp, m.out_true_peak_dbtp) = self.tick_peaks;
        if m.frames == self.last_tick_frames
            && self.clock.saturating_duration_since(self.frames_moved_at) >= METERS_STALE_AFTER
        {
            let none = headroom_ipc::LUFS_FLOOR;
            m.in_momentary_lufs = none;
            m.in_short_term_lufs = none;
            m.in_true_peak_dbtp = none;
            m.out_momentary_lufs = none;
            m.out_short_term_lufs = none;
            m.out_true_peak_dbtp = none;
        }
        m.target_lufs = self.params.agc.target_lufs;
        m.bypass = self.params.bypass;
        if m.bypass {
            m.agc_gain_db = 0.0;
            m.compressor_gr_db = 0.0;
            m.limiter_gr_db = 0.0;
        }
        m
    }

    /// Layer A state of every tapped stream, for the meter ticks.
    pub(super) fn layer_a_levels(&self) -> Vec<LayerALevel> {
        self.routing
            .layer_a_state()
            .into_iter()
            .map(|s| LayerALevel {
                node_id: s.node_id,
                app: s.app,
                // The stream's own loudness, before Layer A (as IPC.md documents).
                short_term_lufs: s.raw_lufs.unwrap_or(headroom_core::LUFS_FLOOR) as f32,
                reduction_db: s.reduction_db,
            })
            .collect()
    }

    /// The snapshot events of `topics`, for a new subscriber: the state of those topics,
    /// replicated the way every client folds it back ([`headroom_ipc::state`]).
    pub(super) fn snapshot(&self, topics: &[Topic]) -> Vec<Event> {
        let mut state = DaemonState::new();
        for t in topics {
            match t {
                Topic::Daemon => state.status = Some(self.status()),
                Topic::Routing => {
                    let routes = self.routes();
                    state.rules = routes.rules;
                    state.streams = routes.streams.into_iter().map(|s| (s.node_id, s)).collect();
                }
                Topic::Meters => {
                    state.meters = Some(self.meters());
                    state.layer_a = self.layer_a_levels();
                    state.state_word = Some(self.watch.state());
                }
                Topic::Alerts => state.alerts = Some(self.watch.active()),
                Topic::Profile => state.profiles = Some(self.profile_list()),
                Topic::Settings => state.settings = self.settings().settings,
            }
        }
        state.replicate(topics)
    }
}
