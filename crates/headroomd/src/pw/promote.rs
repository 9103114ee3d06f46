//! Auto-promote (`route.promote_default`) and the processed sink's volume, on the PipeWire
//! thread.
//!
//! **Promotion.** While promotion is on, `headroom-processed` is written as the configured
//! default sink (`default.configured.audio.sink` in the `default` metadata, the key desktop
//! settings and `wpctl set-default` write); WirePlumber then makes it the default, so every new
//! stream that follows the default lands in the processed sink. The sink configured before is
//! the *user's sink*: it becomes the real sink (after a preferred sink, which still wins) and
//! is given back as the configured default when promotion is turned off or the daemon stops
//! cleanly. When the user configures another sink while promoted, that sink becomes the
//! user's sink and `headroom-processed` is written back as the default. Every change of the
//! user's sink is reported ([`PwEvent::UserSinkChanged`]) so the engine can persist it: after
//! a crash WirePlumber's configured default still names `headroom-processed` (it falls back to
//! another sink by itself while that node is gone), and only the persisted name says which sink
//! was the user's. A start with promotion off gives that configured default back to it, once,
//! and forgets it.
//!
//! **Volume.** When `headroom-processed` is the default sink, desktop volume keys and mixers
//! change *its* volume (`channelVolumes`, `mute`, rarely the master `volume`). The capture
//! stream's converter would apply that volume to the chain's *input*, where the AGC would level
//! it away. Instead the volume is applied after the chain, as the user's master volume: the
//! capture stream's controls are watched ([`SinkVolume`], filled from the stream's
//! `control_info` events), its converter is told to apply unity (`softVolumes = 1`,
//! `softMute = false`: the converter applies the soft volumes when they are set, while the node
//! keeps reporting the user's `channelVolumes` and `mute` to mixers), and the same volumes are
//! set on the playback stream, whose converter applies them to the processed output. The audio
//! callback is not involved at all. The pre-chain volume can be in force for at most one
//! housekeeping tick (50 ms) after a change, until the soft volumes are set again.

use pipewire::spa;

use super::sink_state::{
    default_sink_value, promote_step, DefaultAction, CONFIGURED_SINK_KEY, RECOVER_SETTLE,
};
use super::thread::State;
use super::PwEvent;
use crate::names::BUS_SINK_NAME;

impl State {
    /// Housekeeping: keeps `headroom-processed` the configured default while promotion is
    /// on (adopting a sink the user configured meanwhile), and applies the processed sink's
    /// volume after the chain.
    pub(super) fn check_promotion(&mut self) {
        self.apply_sink_volume();
        if !self.promotion.on {
            self.recover_default();
            return;
        }
        let (configured, default, bus_sink_present) = {
            let g = self.graph.read();
            (
                g.configured_default_sink.clone(),
                g.default_sink.clone(),
                g.bus.sink.is_some() && g.node_by_name(BUS_SINK_NAME).is_some(),
            )
        };
        if !bus_sink_present {
            return;
        }
        match promote_step(
            configured.as_deref(),
            default.as_deref(),
            self.promotion.user_sink.as_deref(),
        ) {
            DefaultAction::Keep => {}
            DefaultAction::Adopt(name) => {
                tracing::info!(
                    sink = %name,
                    "the user's sink: playing into it, {BUS_SINK_NAME} is the default sink"
                );
                self.promotion.user_sink = Some(name.clone());
                self.emit(PwEvent::UserSinkChanged { name: Some(name) });
                self.write_configured_default(Some(BUS_SINK_NAME));
                self.reconcile();
            }
            DefaultAction::Promote => {
                tracing::info!(
                    user_sink = ?self.promotion.user_sink,
                    "making {BUS_SINK_NAME} the default sink"
                );
                self.write_configured_default(Some(BUS_SINK_NAME));
            }
        }
    }

    /// Started unpromoted after a run that left `headroom-processed` the configured default
    /// ([`Promotion::recover`](super::sink_state::Promotion)): once the default metadata is
    /// read (the session manager's default sink is known), gives the default back to the
    /// remembered user's sink if it names `headroom-processed` — at once, or within
    /// [`RECOVER_SETTLE`] of `headroom-processed` being there — and forgets that sink
    /// (reported, so the engine persists it): a default the user picks later is theirs.
    fn recover_default(&mut self) {
        if !self.promotion.recover {
            return;
        }
        let (configured, default, bus_sink_present) = {
            let g = self.graph.read();
            (
                g.configured_default_sink.clone(),
                g.default_sink.clone(),
                g.bus.sink.is_some() && g.node_by_name(BUS_SINK_NAME).is_some(),
            )
        };
        let ours = configured.as_deref() == Some(BUS_SINK_NAME);
        if !ours {
            if default.is_none() || !bus_sink_present {
                return;
            }
            let since = *self
                .promotion
                .not_ours_since
                .get_or_insert_with(std::time::Instant::now);
            if since.elapsed() < RECOVER_SETTLE {
                return;
            }
        }
        self.promotion.recover = false;
        self.promotion.not_ours_since = None;
        if ours {
            let user = self.promotion.user_sink.clone();
            tracing::info!(
                sink = ?user,
                "{BUS_SINK_NAME} was left the default sink by the last run; giving it back"
            );
            self.write_configured_default(user.as_deref());
        }
        self.promotion.user_sink = None;
        self.emit(PwEvent::UserSinkChanged { name: None });
    }

    /// Turns promotion on or off; off gives the default back at once.
    pub(super) fn set_promotion(&mut self, on: bool) {
        if self.promotion.on == on {
            return;
        }
        self.promotion.on = on;
        self.promotion.recover = false;
        if on {
            self.check_promotion();
        } else {
            self.restore_default();
        }
        self.reconcile();
    }

    /// Gives the configured default back to the user's sink (deletes it when the user had
    /// none), if it still names `headroom-processed`.
    pub(super) fn restore_default(&mut self) {
        let configured = self.graph.read().configured_default_sink.clone();
        if configured.as_deref() != Some(BUS_SINK_NAME) {
            return;
        }
        let user = self.promotion.user_sink.clone();
        tracing::info!(sink = ?user, "giving the default sink back");
        self.write_configured_default(user.as_deref());
    }

    fn write_configured_default(&mut self, sink: Option<&str>) {
        let Some((_, md, _)) = self.session.as_ref().and_then(|s| s.metadata.as_ref()) else {
            return;
        };
        match sink {
            Some(s) => md.set_property(
                0,
                CONFIGURED_SINK_KEY,
                Some("Spa:String:JSON"),
                Some(&default_sink_value(s)),
            ),
            None => md.set_property(0, CONFIGURED_SINK_KEY, None, None),
        }
        // What was written is what the metadata holds now: the session manager echoes an
        // unchanged value with no event, so the graph must not wait for one (a stale value
        // would make the housekeeping write it again and again, and `restore_default` think
        // the default was not ours to give back).
        self.graph.write().configured_default_sink = sink.map(str::to_string);
    }

    /// The user's sink while promotion is on (a candidate for the real sink after the
    /// preferred one).
    pub(super) fn promoted_user_sink(&self) -> Option<&str> {
        self.promotion
            .on
            .then_some(self.promotion.user_sink.as_deref())
            .flatten()
    }

    /// Applies a changed sink volume: unity before the chain (soft volumes on the capture
    /// stream), the user's volume after it (on the playback stream).
    fn apply_sink_volume(&mut self) {
        let Some(bus) = self.session.as_ref().and_then(|s| s.bus.as_ref()) else {
            return;
        };
        let v = {
            let mut v = bus.volume.borrow_mut();
            if !v.dirty {
                return;
            }
            v.dirty = false;
            v.clone()
        };
        let unity = vec![1.0f32; v.channels.len().max(1)];
        let results = [
            bus.capture
                .set_control(spa::sys::SPA_PROP_softVolumes, &unity),
            bus.capture.set_control(spa::sys::SPA_PROP_softMute, &[0.0]),
            bus.playback
                .set_control(spa::sys::SPA_PROP_volume, &[v.volume]),
            bus.playback
                .set_control(spa::sys::SPA_PROP_channelVolumes, &v.channels),
            bus.playback
                .set_control(spa::sys::SPA_PROP_mute, &[if v.mute { 1.0 } else { 0.0 }]),
        ];
        for r in results {
            if let Err(e) = r {
                tracing::warn!("applying the sink volume after the chain: {e}");
            }
        }
        tracing::debug!(volume = v.volume, channels = ?v.channels, mute = v.mute, "sink volume applied after the chain");
    }
}
