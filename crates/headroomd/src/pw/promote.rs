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
//! was the user's.
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

use std::cell::RefCell;
use std::rc::Rc;

use pipewire as pw;
use pw::spa;

use super::thread::State;
use super::PwEvent;
use crate::names::BUS_SINK_NAME;

/// Metadata key of the user's configured default sink.
pub(super) const CONFIGURED_SINK_KEY: &str = "default.configured.audio.sink";

/// The metadata value naming `sink` (as WirePlumber and desktop settings write it).
pub(super) fn default_sink_value(sink: &str) -> String {
    serde_json::json!({ "name": sink }).to_string()
}

/// Promotion state of the PipeWire thread (alive across reconnects).
#[derive(Debug, Clone, Default)]
pub(super) struct Promotion {
    /// `route.promote_default` (or `--promote-default`) in force.
    pub(super) on: bool,
    /// The sink the user configured as default before headroom was promoted (or chose while
    /// promoted); `None` when the user had configured none.
    pub(super) user_sink: Option<String>,
}

/// What the housekeeping should do about the configured default sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DefaultAction {
    /// Nothing.
    Keep,
    /// Record this sink as the user's (it is not headroom's) and write `headroom-processed`.
    Adopt(String),
    /// Write `headroom-processed` (nothing configured, or the configured sink is the user's).
    Promote,
}

/// Decides the promotion step while promotion is on and the processed sink exists, from the
/// configured default `configured`, the session manager's current default `default` and the
/// user's sink known so far. With no configured default, the current default sink is the
/// user's (WirePlumber picked it by priority); it is written as the configured default when
/// the default is given back.
pub(super) fn promote_step(
    configured: Option<&str>,
    default: Option<&str>,
    user_sink: Option<&str>,
) -> DefaultAction {
    match configured {
        Some(BUS_SINK_NAME) => DefaultAction::Keep,
        Some(name) if Some(name) != user_sink => DefaultAction::Adopt(name.to_string()),
        Some(_) => DefaultAction::Promote,
        None => match default {
            Some(d) if d != BUS_SINK_NAME && user_sink.is_none() => {
                DefaultAction::Adopt(d.to_string())
            }
            _ => DefaultAction::Promote,
        },
    }
}

/// The processed sink's volume as its node reports it (what mixers set), collected from the
/// capture stream's `control_info` events on the PipeWire thread.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SinkVolume {
    /// Master `volume`.
    pub(super) volume: f32,
    /// `channelVolumes` (the mixer volume), one per channel.
    pub(super) channels: Vec<f32>,
    /// `mute`.
    pub(super) mute: bool,
    /// Changed since last applied.
    pub(super) dirty: bool,
}

impl Default for SinkVolume {
    fn default() -> Self {
        SinkVolume {
            volume: 1.0,
            channels: vec![1.0, 1.0],
            mute: false,
            dirty: false,
        }
    }
}

impl SinkVolume {
    /// Takes one control's new values (`id` a `SPA_PROP_*`); other controls are ignored.
    pub(super) fn update(&mut self, id: u32, values: &[f32]) {
        match id {
            spa::sys::SPA_PROP_volume => {
                if let Some(&v) = values.first() {
                    self.volume = v;
                    self.dirty = true;
                }
            }
            spa::sys::SPA_PROP_mute => {
                if let Some(&v) = values.first() {
                    self.mute = v >= 0.5;
                    self.dirty = true;
                }
            }
            spa::sys::SPA_PROP_channelVolumes if !values.is_empty() => {
                self.channels = values.to_vec();
                self.dirty = true;
            }
            _ => {}
        }
    }
}

/// Shared between the capture stream's `control_info` listener and the housekeeping.
pub(super) type SharedSinkVolume = Rc<RefCell<SinkVolume>>;

impl State {
    /// Housekeeping: keeps `headroom-processed` the configured default while promotion is
    /// on (adopting a sink the user configured meanwhile), and applies the processed sink's
    /// volume after the chain.
    pub(super) fn check_promotion(&mut self) {
        self.apply_sink_volume();
        if !self.promotion.on {
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

    /// Turns promotion on or off; off gives the default back at once.
    pub(super) fn set_promotion(&mut self, on: bool) {
        if self.promotion.on == on {
            return;
        }
        self.promotion.on = on;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promote_step_adopts_a_users_choice_and_keeps_its_own() {
        let adopt = |s: &str| DefaultAction::Adopt(s.into());
        // Promoted already (also the stale value a killed daemon leaves behind).
        assert_eq!(
            promote_step(Some(BUS_SINK_NAME), Some("x"), Some("a")),
            DefaultAction::Keep
        );
        // The user's configured sink is known: promote.
        assert_eq!(
            promote_step(Some("a"), Some("a"), Some("a")),
            DefaultAction::Promote
        );
        // The user configured another sink (before the start, or while promoted).
        assert_eq!(promote_step(Some("b"), Some("b"), Some("a")), adopt("b"));
        assert_eq!(promote_step(Some("b"), None, None), adopt("b"));
        // Nothing configured: WirePlumber's choice is the user's sink, unless one is known.
        assert_eq!(promote_step(None, Some("c"), None), adopt("c"));
        assert_eq!(
            promote_step(None, Some("c"), Some("a")),
            DefaultAction::Promote
        );
        assert_eq!(
            promote_step(None, Some(BUS_SINK_NAME), None),
            DefaultAction::Promote
        );
        assert_eq!(promote_step(None, None, None), DefaultAction::Promote);
    }

    #[test]
    fn sink_volume_takes_the_mixer_controls_only() {
        let mut v = SinkVolume::default();
        v.update(spa::sys::SPA_PROP_softVolumes, &[0.1, 0.1]);
        assert!(!v.dirty);
        v.update(spa::sys::SPA_PROP_channelVolumes, &[0.125, 0.25]);
        v.update(spa::sys::SPA_PROP_mute, &[1.0]);
        assert!(v.dirty);
        assert_eq!(v.channels, vec![0.125, 0.25]);
        assert!(v.mute);
        assert_eq!(default_sink_value("x y"), r#"{"name":"x y"}"#);
    }
}
