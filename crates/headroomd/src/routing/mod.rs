//! Routing rules: which application output streams go through the levelling chain
//! (`headroom-processed`) and which bypass it to the real output device.
//!
//! [`Router`] is pure state: it never talks to PipeWire. The engine feeds it graph events
//! (stream added/removed, real sink changed, link targets) and rule changes, and sends the
//! [`Move`]s it returns as `PwCommand::MoveStream`. Each move writes (or, with `target: None`,
//! deletes) the `target.object` key of the stream in the `default` metadata, which
//! WirePlumber's `policy.move` turns into a relink.
//!
//! ## Precedence
//! User rules (`route set APP processed|bypass`, newest first), then the profile's rules in
//! file order, first match wins; otherwise the profile's `route.default`. Both usages are
//! natural: an allow-list is `default = "bypass"` plus `processed` rules, a block-list is
//! `default = "processed"` plus `bypass` rules.
//!
//! ## Matching
//! A profile rule matches a stream when every one of its keys matches
//! ([`RouteRule::matches`]; keys `app` — matching `application.name` **or**
//! `application.process.binary` —, `application.name`, `application.process.binary`,
//! `media.role`, `media.name`, `node.name`; a key the stream does not carry never matches). A
//! user rule `route set APP …` is a glob on `app` ([`UserRule`]). Both use the one
//! [`headroom_profile::Glob`], which ignores case: users type app names loosely.
//!
//! ## Which streams are routed
//! Only `Stream/Output/Audio` nodes. Never headroom's own streams (`node.name` starting with
//! `headroom-`, `application.name = headroomd`, or carrying [`HEADROOM_ROLE_PROP`]), and never
//! streams with `node.dont-reconnect = true` (reported as [`StreamStatus::Fixed`]).
//!
//! ## Targets
//! Processed streams are sent to the processed sink by name; bypassed streams are sent to the
//! real sink **explicitly** by name, so a bypass holds even when someone makes
//! `headroom-processed` the default sink. Until the real sink is known, a bypassed stream is
//! left where WirePlumber put it (its target key deleted if we had set one).
//!
//! ## WirePlumber's restore-stream
//! restore-stream (0.4.13) remembers a per-app target (key e.g.
//! `Output/Audio:media.role:Music:target`) whenever `target.object` is written for a stream,
//! and re-applies it to that app's next stream. We cannot set `state.restore-target=false` on
//! other clients' streams, so the router writes node **names**, never serials: measured on
//! 0.4.13 (test `e2e::routing::moves`), a serial write is remembered, a name write stores no target
//! and clears a remembered one, and a delete leaves what is stored untouched. Consequences:
//! * the daemon's moves never leave a remembered target pointing at `headroom-processed` (or
//!   at the real sink) after it exits — nothing stale survives a crash or an uninstall;
//! * every new stream is routed afresh by the rules. For a moment after a stream appears
//!   WirePlumber links it to the default sink, until our move lands (≈ 50–200 ms measured);
//! * routing an app erases a target the user gave it earlier with a mixer (pavucontrol); the
//!   rules are the way to pin an app.
//!
//! On shutdown, [`Router::shutdown_moves`] deletes every key we wrote so the streams go back to
//! the default sink.
//!
//! Other clients' moves: if someone else writes `target.object` for a stream we routed, the
//! router leaves it alone until a rule change re-decides that stream.
//!
//! Layer A volumes go through the same store: Layer A writes a stream's master `volume` (never
//! the user's `channelVolumes`), and restore-stream saves both per app key, so a reduced
//! volume could carry over to the app's next stream.
//! [`crate::layer_a::LayerA::volume_to_send`] therefore always sends the volume once when a
//! stream is tapped, and leaving Layer A (bypass, Layer A off, shutdown) sends 1.0. A daemon
//! killed with SIGKILL cannot do that: the app's next stream starts with the stored reduction
//! until it is tapped again.
//!
//! Files: [`router`] (rules and per-stream decisions: [`Router`]) and [`controller`]
//! (routing and Layer A in the PipeWire thread's terms: [`RoutingController`]).

pub mod controller;
pub mod router;

pub use controller::RoutingController;
pub use headroom_profile::{MatchKey, Route, RouteConfig, RouteRule, UserRule, UserRules};
pub use router::{
    MatchedRule, Move, Router, RuleSource, StreamNode, StreamRoute, StreamStatus, PROCESSED_SINK,
};

pub use crate::names::{HEADROOM_ROLE_PROP, OWN_APP_NAME, OWN_NODE_PREFIX};
