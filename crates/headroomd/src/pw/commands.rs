//! The commands the engine sends to the PipeWire thread ([`PwCommand`]): stream moves, stream
//! volumes, the preferred sink, Layer A taps, shutdown.

use std::time::Instant;

use pipewire as pw;
use pw::spa;
use spa::pod::Pod;

use super::format::volume_pod;
use super::thread::State;
use super::PwCommand;

impl State {
    pub(super) fn command(&mut self, cmd: PwCommand) {
        tracing::debug!(?cmd, "command");
        match cmd {
            PwCommand::MoveStream { node_id, target } => {
                let Some((_, md, _)) = self.session.as_ref().and_then(|s| s.metadata.as_ref())
                else {
                    tracing::warn!(
                        node_id,
                        "cannot move the stream: no session manager metadata"
                    );
                    return;
                };
                md.set_property(node_id, "target.object", None, target.as_deref());
                if target.is_some() {
                    self.routed.insert(node_id);
                } else {
                    self.routed.remove(&node_id);
                }
            }
            PwCommand::SetStreamVolume { node_id, volume } => {
                let Some((node, _)) = self.session.as_ref().and_then(|s| s.nodes.get(&node_id))
                else {
                    tracing::debug!(node_id, "volume for an unknown node");
                    return;
                };
                match volume_pod(volume.max(0.0)) {
                    Ok(bytes) => {
                        if let Some(pod) = Pod::from_bytes(&bytes) {
                            node.set_param(spa::param::ParamType::Props, 0, pod);
                            // The guard puts it back at 1 if headroomd dies before it does.
                            crate::guard::volume_set(node_id, volume.max(0.0));
                        }
                    }
                    Err(e) => tracing::warn!("{e}"),
                }
            }
            PwCommand::SetPreferredSink(name) => {
                self.opts.preferred_real_sink = name;
                self.reconcile();
            }
            PwCommand::AttachTap { node_id } => self.attach_tap(node_id),
            PwCommand::DetachTap { node_id } => {
                if let Some(s) = self.session.as_mut() {
                    s.taps.detach(node_id);
                }
            }
            PwCommand::SetPromote(on) => self.set_promotion(on),
            PwCommand::Shutdown => self.begin_shutdown(),
        }
    }

    /// Taps a known application playback stream (never one of headroomd's own nodes).
    fn attach_tap(&mut self, node_id: u32) {
        let app = {
            let g = self.graph.read();
            match g.nodes.get(&node_id) {
                Some(n) if n.is_output_stream() && !n.is_headroom_bus() => Some(
                    [
                        "application.name",
                        "application.process.binary",
                        "node.name",
                    ]
                    .iter()
                    .find_map(|k| n.props.get(*k).filter(|v| !v.is_empty()).cloned()),
                ),
                _ => None,
            }
        };
        let (Some(app), Some(session)) = (app, self.session.as_mut()) else {
            tracing::debug!(
                node_id,
                "not tapping: unknown or not an app playback stream"
            );
            return;
        };
        let description = tap_description(node_id, app.as_deref());
        // Its links follow once PipeWire has announced the filter's ports (registry).
        if let Err(e) = session.taps.attach(&session.core, node_id, &description) {
            tracing::warn!("{e}");
        }
    }

    fn begin_shutdown(&mut self) {
        if self.shutting_down.is_some() {
            return;
        }
        self.shutting_down = Some(Instant::now());
        let Some(session) = self.session.as_mut() else {
            self.quit = true;
            return;
        };
        if let Some((_, md, _)) = session.metadata.as_ref() {
            for id in &self.routed {
                md.set_property(*id, "target.object", None, None);
            }
        }
        if !self.routed.is_empty() {
            tracing::info!(streams = self.routed.len(), "moved routed streams back");
        }
        if self.promotion.on {
            self.restore_default();
        }
        let Some(session) = self.session.as_mut() else {
            return;
        };
        // Remove the bus now so WirePlumber re-links everything that played into it.
        session.bus = None;
        match session.core.sync(0) {
            Ok(seq) => session.flags.shutdown_sync.set(Some(seq)),
            Err(_) => session.flags.shutdown_synced.set(true),
        }
    }
}

/// What mixers show for the tap of stream `node_id`: `Headroom tap: APP` (the stream's
/// `application.name`, else its binary or node name), `Headroom tap on ID` without one.
pub(super) fn tap_description(node_id: u32, app: Option<&str>) -> String {
    match app {
        Some(a) => format!("Headroom tap: {a}"),
        None => format!("Headroom tap on {node_id}"),
    }
}

#[cfg(test)]
mod tap_name_tests {
    use super::tap_description;

    #[test]
    fn taps_are_named_after_their_app() {
        assert_eq!(
            tap_description(52, Some("Spotify")),
            "Headroom tap: Spotify"
        );
        assert_eq!(tap_description(52, None), "Headroom tap on 52");
    }
}
