//! Following the PipeWire thread: connection state, the real sink, the session manager, and
//! every graph event handed to routing (whose moves, taps and volumes go back as commands).

use headroom_ipc::PipewireState;

use super::{Engine, Output};
use crate::names::BUS_SINK_NAME;
use crate::pw::PwEvent;
use crate::watch::SessionFact;

/// The warning to log when a preferred real sink is configured but the output plays elsewhere
/// (the preferred sink is absent), `None` when there is nothing to say.
pub(super) fn preferred_sink_note(
    preferred: Option<&str>,
    playing: Option<&str>,
) -> Option<String> {
    let p = preferred?;
    (playing != Some(p)).then(|| {
        format!(
            "the preferred real sink `{p}` is not present; playing into {} until it appears",
            playing.unwrap_or("(no sink)")
        )
    })
}

impl Engine {
    /// An event of the PipeWire thread (the graph model is already up to date).
    pub(super) fn on_pw_event(&mut self, ev: PwEvent, out: &mut Vec<Output>) {
        match &ev {
            PwEvent::Connected => {
                tracing::info!("connected to PipeWire");
                self.pipewire = PipewireState::Connected;
                // A session manager problem of the last connection (the advice was to
                // restart PipeWire and WirePlumber) is void; this session's is reported anew.
                self.session_fact(SessionFact::NewSession, out);
            }
            PwEvent::Disconnected { reason } => {
                tracing::warn!("PipeWire connection lost: {reason}; reconnecting");
                self.processed_channels = None;
                self.pipewire = PipewireState::Disconnected {
                    reason: reason.clone(),
                };
            }
            PwEvent::BusReady {
                latency_frames,
                channels,
                ..
            } => {
                tracing::info!(
                    latency_frames,
                    channels,
                    "processed sink `{BUS_SINK_NAME}` is ready"
                );
                self.processed_channels = Some(channels.clone());
            }
            PwEvent::RealSinkChanged { name } => {
                tracing::info!("playing into {}", name.as_deref().unwrap_or("(no sink)"));
                let preferred = self.preferred_real_sink();
                if let Some(note) = preferred_sink_note(preferred.as_deref(), name.as_deref()) {
                    tracing::warn!("{note}");
                }
                self.real_sink = name.clone();
            }
            PwEvent::BusStreaming { streaming } => self.bus_streaming = *streaming,
            PwEvent::UserSinkChanged { name } => self.remember_user_sink(name.as_deref()),
            PwEvent::WirePlumberMissing => {
                tracing::warn!("the session manager (WirePlumber) is gone; streams cannot be routed until it is back");
                self.session_fact(SessionFact::WirePlumberMissing, out);
            }
            PwEvent::WirePlumberBack => self.session_fact(SessionFact::WirePlumberBack, out),
            PwEvent::SessionIncomplete => {
                tracing::warn!(
                    "the session manager does not link headroom's streams (WirePlumber was restarted \
                     without PipeWire?); restart PipeWire and WirePlumber together to recover"
                );
                self.session_fact(SessionFact::Incomplete, out);
            }
            PwEvent::SessionWhole => {
                tracing::info!("the session is whole again");
                self.session_fact(SessionFact::Whole, out);
            }
            _ => {}
        }
        let graph = self.bus.graph();
        let cmds = {
            let g = graph.read();
            self.routing.on_event(&ev, Some(&g))
        };
        out.extend(cmds.into_iter().map(Output::Pw));
        self.publish_routing_deltas(out);
    }

    fn session_fact(&mut self, fact: SessionFact, out: &mut Vec<Output>) {
        let events = self.watch.session(fact, crate::history::now_unix_ms());
        self.publish_alerts(events, out);
    }
}

#[cfg(test)]
mod tests {
    use super::preferred_sink_note;

    #[test]
    fn preferred_sink_note_only_when_playing_elsewhere() {
        assert_eq!(preferred_sink_note(None, Some("speakers")), None);
        assert_eq!(preferred_sink_note(Some("hdmi"), Some("hdmi")), None);
        let note = preferred_sink_note(Some("hdmi"), Some("speakers")).unwrap();
        assert!(note.contains("`hdmi` is not present"), "{note}");
        assert!(note.contains("playing into speakers"), "{note}");
        let note = preferred_sink_note(Some("hdmi"), None).unwrap();
        assert!(note.contains("(no sink)"), "{note}");
    }
}
