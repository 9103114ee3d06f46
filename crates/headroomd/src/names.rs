//! Names and properties headroomd gives its own PipeWire nodes, shared by the PipeWire side
//! ([`crate::pw`]: it creates the nodes) and routing ([`crate::routing`]: it must never route
//! or tap them). A leaf module: it depends on nothing in the crate.

/// `node.name` of the processed sink.
pub const BUS_SINK_NAME: &str = "headroom-processed";
/// `node.description` of the processed sink.
pub const BUS_SINK_DESCRIPTION: &str = "Headroom (processed)";
/// `node.name` of the bus's playback stream (into the real sink).
pub const PLAYBACK_NODE_NAME: &str = "headroom-output";
/// `node.name` prefix of the Layer A taps (`headroom-tap-<node id>`).
pub const TAP_NAME_PREFIX: &str = "headroom-tap-";
/// `node.name` prefix of every node headroom creates.
pub const OWN_NODE_PREFIX: &str = "headroom-";
/// The `application.name` of the daemon's own streams.
pub const OWN_APP_NAME: &str = "headroomd";
/// Property headroom sets on its own nodes (taps: `headroom.role = tap`); streams carrying it
/// are never routed or tapped.
pub const HEADROOM_ROLE_PROP: &str = "headroom.role";
