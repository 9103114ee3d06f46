//! [`Graph`]: the daemon's model of the PipeWire graph (nodes, links, default metadata).
//!
//! The PipeWire thread is its only writer; other threads read a snapshot through
//! [`crate::pw::BusShared::graph`]. The real-time callback never touches it.

use std::collections::BTreeMap;

use crate::names::{BUS_SINK_NAME, PLAYBACK_NODE_NAME};

/// One node of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphNode {
    /// Global id (reused by PipeWire after the node is gone).
    pub id: u32,
    /// `object.serial` (never reused), if announced.
    pub serial: Option<u64>,
    /// `node.name`, if any.
    pub name: Option<String>,
    /// `media.class`, e.g. `Audio/Sink` or `Stream/Output/Audio`.
    pub media_class: Option<String>,
    /// All properties known (the full info properties once the node was bound, the
    /// registry's subset before).
    pub props: BTreeMap<String, String>,
}

impl GraphNode {
    /// A property value.
    pub fn prop(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    /// Whether this is an audio sink (`media.class == "Audio/Sink"`).
    pub fn is_audio_sink(&self) -> bool {
        self.media_class.as_deref() == Some("Audio/Sink")
    }

    /// Whether this is an application playback stream (`Stream/Output/Audio`).
    pub fn is_output_stream(&self) -> bool {
        self.media_class.as_deref() == Some("Stream/Output/Audio")
    }

    /// Whether the node belongs to headroomd's own bus (its sink or its playback stream).
    pub fn is_headroom_bus(&self) -> bool {
        matches!(
            self.name.as_deref(),
            Some(BUS_SINK_NAME) | Some(PLAYBACK_NODE_NAME)
        )
    }
}

/// One link between two ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphLink {
    /// Global id of the link.
    pub id: u32,
    /// Node the link leaves.
    pub output_node: u32,
    /// Port the link leaves.
    pub output_port: u32,
    /// Node the link enters.
    pub input_node: u32,
    /// Port the link enters.
    pub input_port: u32,
}

/// One port of a node (what the Layer A taps link by).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphPort {
    /// Global id.
    pub id: u32,
    /// Node the port belongs to.
    pub node: u32,
    /// Whether it is an output port (`port.direction == "out"`).
    pub output: bool,
    /// `audio.channel` (`FL`, `FR`, `MONO` …), if announced.
    pub channel: Option<String>,
    /// Whether it is a sink's monitor port (`port.monitor`).
    pub monitor: bool,
}

/// Node ids of headroomd's own bus, once PipeWire assigned them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BusNodes {
    /// The `headroom-processed` sink (capture stream).
    pub sink: Option<u32>,
    /// The playback stream feeding the real sink.
    pub playback: Option<u32>,
}

/// The PipeWire graph as far as headroomd cares about it.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Whether the daemon is connected to PipeWire.
    pub connected: bool,
    /// Whether the `default` metadata (owned by the session manager) exists.
    pub session_manager: bool,
    /// Nodes by id.
    pub nodes: BTreeMap<u32, GraphNode>,
    /// Links by id.
    pub links: BTreeMap<u32, GraphLink>,
    /// Ports by id.
    pub ports: BTreeMap<u32, GraphPort>,
    /// `default.audio.sink` (node name), as the session manager reports it.
    pub default_sink: Option<String>,
    /// `default.configured.audio.sink` (node name): the user's choice.
    pub configured_default_sink: Option<String>,
    /// `target.object` / `target.node` values in the `default` metadata, by subject node id.
    pub targets: BTreeMap<u32, String>,
    /// The sink headroomd plays its processed output into.
    pub real_sink: Option<String>,
    /// headroomd's own nodes.
    pub bus: BusNodes,
}

impl Graph {
    /// The node with `node.name == name`.
    pub fn node_by_name(&self, name: &str) -> Option<&GraphNode> {
        self.nodes
            .values()
            .find(|n| n.name.as_deref() == Some(name))
    }

    /// Audio sinks other than headroomd's own.
    pub fn real_sinks(&self) -> impl Iterator<Item = &GraphNode> {
        self.nodes
            .values()
            .filter(|n| n.is_audio_sink() && !n.is_headroom_bus())
    }

    /// Application playback streams (headroomd's own excluded).
    pub fn output_streams(&self) -> impl Iterator<Item = &GraphNode> {
        self.nodes
            .values()
            .filter(|n| n.is_output_stream() && !n.is_headroom_bus())
    }

    /// The nodes `node_id`'s output ports are linked into (sorted, deduplicated): for a playback
    /// stream, the sink it actually plays into.
    pub fn link_targets(&self, node_id: u32) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .links
            .values()
            .filter(|l| l.output_node == node_id)
            .map(|l| l.input_node)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Whether streams depend on headroomd's sink: a link enters it (only application
    /// streams link into it), or it is the default sink (new streams go to it).
    pub fn bus_in_use(&self) -> bool {
        let Some(sink) = self.bus.sink else {
            return false;
        };
        self.default_sink.as_deref() == Some(BUS_SINK_NAME)
            || self.links.values().any(|l| l.input_node == sink)
    }

    /// Whether `node_id` has at least one outgoing link.
    pub fn has_output_link(&self, node_id: u32) -> bool {
        self.links.values().any(|l| l.output_node == node_id)
    }

    /// Picks the sink headroomd should play into: `preferred` when present, else `user` (the
    /// user's sink while headroom is promoted to the default), else the default sink, else the
    /// configured default, else the previous choice `current`, else the sink with the highest
    /// `priority.session`. headroomd's own sink is never chosen.
    pub fn choose_real_sink(
        &self,
        preferred: Option<&str>,
        user: Option<&str>,
        current: Option<&str>,
    ) -> Option<String> {
        let present = |name: &str| self.real_sinks().any(|n| n.name.as_deref() == Some(name));
        for cand in [
            preferred,
            user,
            self.default_sink.as_deref(),
            self.configured_default_sink.as_deref(),
            current,
        ]
        .into_iter()
        .flatten()
        {
            if present(cand) {
                return Some(cand.to_string());
            }
        }
        self.real_sinks()
            .filter_map(|n| {
                let prio = n
                    .prop("priority.session")
                    .and_then(|p| p.parse::<i64>().ok())
                    .unwrap_or(0);
                n.name
                    .as_ref()
                    .map(|name| (prio, std::cmp::Reverse(n.id), name))
            })
            .max()
            .map(|(_, _, name)| name.clone())
    }
}

/// Parses the value of `default.audio.sink`-style metadata (`{ "name": "alsa_output…" }`);
/// a bare string is taken as the name.
pub fn parse_default_node_value(value: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::Object(o)) => {
            o.get("name").and_then(|n| n.as_str()).map(str::to_string)
        }
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => {
            let t = value.trim();
            (!t.is_empty()).then(|| t.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(id: u32, name: &str, prio: Option<i64>) -> GraphNode {
        let mut props = BTreeMap::new();
        if let Some(p) = prio {
            props.insert("priority.session".into(), p.to_string());
        }
        GraphNode {
            id,
            serial: Some(id as u64 + 100),
            name: Some(name.into()),
            media_class: Some("Audio/Sink".into()),
            props,
        }
    }

    fn graph() -> Graph {
        let mut g = Graph::default();
        for n in [
            sink(30, "speakers", Some(1000)),
            sink(31, "hdmi", Some(900)),
            sink(32, BUS_SINK_NAME, Some(5000)),
        ] {
            g.nodes.insert(n.id, n);
        }
        g
    }

    #[test]
    fn preferred_wins_when_present() {
        let mut g = graph();
        g.default_sink = Some("speakers".into());
        assert_eq!(
            g.choose_real_sink(Some("hdmi"), None, None).as_deref(),
            Some("hdmi")
        );
        assert_eq!(
            g.choose_real_sink(Some("absent"), None, None).as_deref(),
            Some("speakers")
        );
    }

    #[test]
    fn own_sink_as_default_is_never_chosen() {
        let mut g = graph();
        g.default_sink = Some(BUS_SINK_NAME.into());
        assert_eq!(
            g.choose_real_sink(None, None, Some("hdmi")).as_deref(),
            Some("hdmi")
        );
        // No previous choice: the highest priority real sink, not our 5000 one.
        assert_eq!(
            g.choose_real_sink(None, None, None).as_deref(),
            Some("speakers")
        );
    }

    #[test]
    fn the_users_sink_comes_after_the_preferred_one() {
        let mut g = graph();
        g.default_sink = Some(BUS_SINK_NAME.into());
        g.configured_default_sink = Some(BUS_SINK_NAME.into());
        assert_eq!(
            g.choose_real_sink(None, Some("hdmi"), Some("speakers"))
                .as_deref(),
            Some("hdmi")
        );
        assert_eq!(
            g.choose_real_sink(Some("speakers"), Some("hdmi"), None)
                .as_deref(),
            Some("speakers")
        );
        // An absent user sink falls through to the usual choice.
        assert_eq!(
            g.choose_real_sink(None, Some("gone"), Some("hdmi"))
                .as_deref(),
            Some("hdmi")
        );
    }

    #[test]
    fn no_real_sink_gives_none() {
        let mut g = Graph::default();
        let own = sink(32, BUS_SINK_NAME, None);
        g.nodes.insert(own.id, own);
        g.default_sink = Some(BUS_SINK_NAME.into());
        assert_eq!(g.choose_real_sink(None, None, None), None);
    }

    #[test]
    fn link_targets_follow_links() {
        let mut g = graph();
        for (id, o, i) in [(50, 40, 30), (51, 40, 30), (52, 41, 31)] {
            g.links.insert(
                id,
                GraphLink {
                    id,
                    output_node: o,
                    output_port: 0,
                    input_node: i,
                    input_port: 0,
                },
            );
        }
        assert_eq!(g.link_targets(40), vec![30]);
        assert!(g.has_output_link(41));
        assert!(!g.has_output_link(30));
    }

    #[test]
    fn the_bus_is_in_use_while_a_stream_plays_into_it_or_it_is_the_default() {
        let mut g = graph();
        assert!(!g.bus_in_use(), "no bus yet");
        g.bus.sink = Some(32);
        g.default_sink = Some("speakers".into());
        let link = |id, o, i| GraphLink {
            id,
            output_node: o,
            output_port: 0,
            input_node: i,
            input_port: 0,
        };
        g.links.insert(60, link(60, 40, 30));
        assert!(!g.bus_in_use(), "a stream on the real sink");
        g.links.insert(61, link(61, 41, 32));
        assert!(g.bus_in_use(), "a stream into the bus");
        g.links.remove(&61);
        assert!(!g.bus_in_use());
        g.default_sink = Some(BUS_SINK_NAME.into());
        assert!(g.bus_in_use(), "the bus as the default sink");
    }

    #[test]
    fn parses_default_sink_values() {
        assert_eq!(
            parse_default_node_value(r#"{ "name": "fake-speakers" }"#).as_deref(),
            Some("fake-speakers")
        );
        assert_eq!(parse_default_node_value(r#""x""#).as_deref(), Some("x"));
        assert_eq!(parse_default_node_value("{}"), None);
        assert_eq!(parse_default_node_value(""), None);
    }
}
