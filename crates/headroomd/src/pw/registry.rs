//! The registry side of the PipeWire thread: nodes, links and the `default` metadata as they
//! appear, change and go, mirrored into the [`Graph`] and reported as [`PwEvent`]s.

use std::collections::BTreeMap;
use std::time::Instant;

use pipewire as pw;
use pw::metadata::Metadata;
use pw::node::Node;
use pw::registry::GlobalObject;
use pw::spa::utils::dict::DictRef;
use pw::types::ObjectType;

use super::graph::{parse_default_node_value, GraphLink, GraphNode, GraphPort};
use super::thread::{Inbox, Incoming, State};
use super::PwEvent;

fn dict_to_map(d: &DictRef) -> BTreeMap<String, String> {
    d.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl State {
    /// The inbox PipeWire's listeners deliver to.
    pub(super) fn inbox(&self) -> Inbox {
        Inbox::new(self.me.clone(), self.pending.clone())
    }

    /// Applies the events that arrived while the state was borrowed, in order.
    pub(super) fn apply_pending(&mut self) {
        let events = std::mem::take(&mut *self.pending.borrow_mut());
        for e in events {
            self.apply(e);
        }
    }

    /// Applies one event to the graph.
    pub(super) fn apply(&mut self, event: Incoming) {
        match event {
            Incoming::Global(obj) => self.on_global(&obj),
            Incoming::GlobalRemove(id) => self.on_global_remove(id),
            Incoming::NodeInfo(id, props) => self.on_node_info(id, props),
            Incoming::Metadata(subject, key, value) => {
                self.on_metadata(subject, key.as_deref(), value.as_deref())
            }
            Incoming::StreamVolume(id, volume) => {
                if self.stream_volumes.insert(id, volume) != Some(volume) {
                    self.emit(PwEvent::StreamVolume { id, volume });
                }
            }
        }
        crate::guard::watch(self.graph.read().bus_in_use());
    }

    pub(super) fn on_global<P: AsRef<DictRef>>(&mut self, obj: &GlobalObject<P>) {
        let inbox = self.inbox();
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let props = obj
            .props
            .as_ref()
            .map(|p| dict_to_map(p.as_ref()))
            .unwrap_or_default();
        match obj.type_ {
            ObjectType::Node => {
                // An application's playback stream: its own volume is followed too (Layer A
                // takes it out of what the stream's tap hears).
                let app_stream =
                    props.get("media.class").map(String::as_str) == Some("Stream/Output/Audio");
                let node = GraphNode {
                    id: obj.id,
                    serial: props.get("object.serial").and_then(|s| s.parse().ok()),
                    name: props.get("node.name").cloned(),
                    media_class: props.get("media.class").cloned(),
                    props,
                };
                self.graph.write().nodes.insert(obj.id, node);
                // Bind it for its full properties (application.*, media.role …) and for volume.
                match session.registry.bind::<Node, _>(obj) {
                    Ok(proxy) => {
                        let inbox = inbox.clone();
                        let id = obj.id;
                        let params_inbox = inbox.clone();
                        let mut builder = proxy.add_listener_local().info(move |info| {
                            if let Some(p) = info.props() {
                                inbox.deliver(Incoming::NodeInfo(id, dict_to_map(p)));
                            }
                        });
                        if app_stream {
                            builder = builder.param(move |_, kind, _, _, pod| {
                                if kind != pw::spa::param::ParamType::Props {
                                    return;
                                }
                                let volume = pod
                                    .and_then(|p| super::format::channel_volume_of(p.as_bytes()));
                                if let Some(v) = volume {
                                    params_inbox.deliver(Incoming::StreamVolume(id, v));
                                }
                            });
                        }
                        let listener = builder.register();
                        if app_stream {
                            proxy.subscribe_params(&[pw::spa::param::ParamType::Props]);
                        }
                        session.nodes.insert(obj.id, (proxy, listener));
                    }
                    Err(e) => tracing::debug!("cannot bind node {}: {e}", obj.id),
                }
            }
            ObjectType::Link => {
                let get = |k: &str| props.get(k).and_then(|v| v.parse::<u32>().ok());
                if let (Some(on), Some(op), Some(inn), Some(ip)) = (
                    get("link.output.node"),
                    get("link.output.port"),
                    get("link.input.node"),
                    get("link.input.port"),
                ) {
                    let link = GraphLink {
                        id: obj.id,
                        output_node: on,
                        output_port: op,
                        input_node: inn,
                        input_port: ip,
                    };
                    self.graph.write().links.insert(obj.id, link);
                    self.emit(PwEvent::LinkAdded(link));
                }
            }
            ObjectType::Port => {
                let port = GraphPort {
                    id: obj.id,
                    node: props
                        .get("node.id")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(u32::MAX),
                    output: props.get("port.direction").map(String::as_str) == Some("out"),
                    channel: props.get("audio.channel").cloned(),
                    monitor: props.get("port.monitor").map(String::as_str) == Some("true"),
                };
                self.graph.write().ports.insert(obj.id, port);
                self.sync_tap_links();
            }
            ObjectType::Metadata => {
                if props.get("metadata.name").map(String::as_str) != Some("default") {
                    return;
                }
                match session.registry.bind::<Metadata, _>(obj) {
                    Ok(md) => {
                        let listener = md
                            .add_listener_local()
                            .property(move |subject, key, _type, value| {
                                inbox.deliver(Incoming::Metadata(
                                    subject,
                                    key.map(str::to_string),
                                    value.map(str::to_string),
                                ));
                                0
                            })
                            .register();
                        session.metadata = Some((obj.id, md, listener));
                        self.applied_target = None;
                        self.graph.write().session_manager = true;
                        self.wp_missing_since = None;
                        if self.wp_missing_reported {
                            self.wp_missing_reported = false;
                            self.judge_after_back = true;
                            tracing::info!("session manager is back (default metadata present)");
                            self.emit(PwEvent::WirePlumberBack);
                        }
                    }
                    Err(e) => tracing::warn!("cannot bind the default metadata: {e}"),
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_global_remove(&mut self, id: u32) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        session.nodes.remove(&id);
        session.taps.detach(id);
        if session
            .metadata
            .as_ref()
            .is_some_and(|(mid, _, _)| *mid == id)
        {
            session.metadata = None;
            {
                let mut g = self.graph.write();
                g.session_manager = false;
                g.default_sink = None;
                g.configured_default_sink = None;
                g.targets.clear();
            }
            self.applied_target = None;
            self.wp_missing_since = Some(Instant::now());
            tracing::warn!(
                "the session manager's default metadata disappeared (WirePlumber stopped?)"
            );
            self.wp_missing_reported = true;
            self.emit(PwEvent::WirePlumberMissing);
            return;
        }
        let (node, link, port) = {
            let mut g = self.graph.write();
            let node = g.nodes.remove(&id);
            let link = g.links.remove(&id);
            let port = g.ports.remove(&id);
            g.targets.remove(&id);
            (node, link, port)
        };
        if port.is_some() {
            self.sync_tap_links();
        }
        if node.is_some() {
            crate::guard::node_gone(id);
            self.routed.remove(&id);
            self.announced.remove(&id);
            self.stream_volumes.remove(&id);
            self.emit(PwEvent::NodeRemoved { id });
        }
        if link.is_some() {
            self.emit(PwEvent::LinkRemoved { id });
        }
    }

    /// Links every tap to its stream's output ports as they are now (see
    /// [`super::taps::Taps::sync_links`]).
    pub(super) fn sync_tap_links(&mut self) {
        if let Some(session) = self.session.as_mut() {
            let g = self.graph.read();
            session.taps.sync_links(&session.core, &g);
        }
    }

    fn on_node_info(&mut self, id: u32, props: BTreeMap<String, String>) {
        let (changed, serial, media_class) = {
            let mut g = self.graph.write();
            let Some(node) = g.nodes.get_mut(&id) else {
                return;
            };
            let mut merged = node.props.clone();
            merged.extend(props);
            let changed = merged != node.props;
            node.props = merged;
            node.name = node.props.get("node.name").cloned().or(node.name.take());
            node.media_class = node
                .props
                .get("media.class")
                .cloned()
                .or(node.media_class.take());
            node.serial = node
                .props
                .get("object.serial")
                .and_then(|s| s.parse().ok())
                .or(node.serial);
            (changed, node.serial, node.media_class.clone())
        };
        let props = self.graph.read().nodes.get(&id).map(|n| n.props.clone());
        let Some(props) = props else { return };
        if self.announced.insert(id) {
            self.emit(PwEvent::NodeAdded {
                id,
                serial,
                props,
                media_class,
            });
        } else if changed {
            self.emit(PwEvent::NodeChanged { id, props });
        }
    }

    fn on_metadata(&mut self, subject: u32, key: Option<&str>, value: Option<&str>) {
        // Every property as it arrives (main loop, not the data thread): what reached
        // headroomd when a default change seems not to have.
        tracing::debug!(subject, ?key, ?value, "metadata property");
        let Some(key) = key else {
            let mut g = self.graph.write();
            g.targets.clear();
            g.default_sink = None;
            g.configured_default_sink = None;
            return;
        };
        match (subject, key) {
            (0, "default.audio.sink") => {
                let name = value.and_then(parse_default_node_value);
                let changed = {
                    let mut g = self.graph.write();
                    let changed = g.default_sink != name;
                    g.default_sink = name.clone();
                    changed
                };
                if changed {
                    tracing::info!(sink = ?name, "default sink changed");
                    self.emit(PwEvent::DefaultSinkChanged { name });
                }
            }
            (0, "default.configured.audio.sink") => {
                self.graph.write().configured_default_sink =
                    value.and_then(parse_default_node_value);
            }
            (s, "target.object") | (s, "target.node") if s != 0 => {
                {
                    let mut g = self.graph.write();
                    match value {
                        Some(v) => g.targets.insert(s, v.to_string()),
                        None => g.targets.remove(&s),
                    };
                }
                self.emit(PwEvent::TargetChanged {
                    node_id: s,
                    key: key.to_string(),
                    target: value.map(str::to_string),
                });
            }
            _ => {}
        }
    }
}
