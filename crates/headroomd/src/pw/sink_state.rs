//! The auto-promote and sink-volume state of the PipeWire thread, and the decisions made on
//! it without PipeWire (see `promote` for what it is for). A leaf module: the bus, the thread
//! and `promote` share it.

use std::cell::RefCell;
use std::rc::Rc;

use pipewire::spa;

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
    /// promoted; with nothing configured, the default WirePlumber picked); `None` while unknown.
    pub(super) user_sink: Option<String>,
    /// Started without promotion while a user's sink was remembered (the last run was
    /// promoted and did not give the default back: killed, crashed): once the default
    /// metadata is read, a configured default still naming `headroom-processed` is given
    /// back to that sink, and the sink is forgotten either way.
    pub(super) recover: bool,
    /// While recovering: since when the default metadata has been read, `headroom-processed`
    /// has been there and the configured default has not named it (see
    /// [`RECOVER_SETTLE`]).
    pub(super) not_ours_since: Option<std::time::Instant>,
}

/// How long a recovering start waits, with the default known and `headroom-processed`
/// there, for the configured default to name `headroom-processed` before it forgets the
/// user's sink: the metadata's keys arrive one by one, and the default is known before the
/// configured one at times (the default was then forgotten, never given back).
pub(super) const RECOVER_SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

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
