//! The PipeWire side of headroomd: the processed bus and the graph model.
//!
//! [`AudioBus::start`] spawns a thread that owns the PipeWire main loop. On it live:
//!
//! * the bus: a virtual stereo sink `headroom-processed` ("Headroom (processed)") made of a
//!   pair of `pw_stream`s in the module-loopback shape — a capture stream with
//!   `media.class=Audio/Sink` and a playback stream `headroom-output` (`Stream/Output/Audio`),
//!   sharing `node.group`/`node.link-group`. The capture stream's real-time callback dequeues
//!   both buffers, runs the [`headroom_core::Chain`] into the playback buffer, queues both and
//!   triggers the playback stream (see [`rt`]);
//! * the graph model ([`Graph`]): nodes, links and the `default` metadata, exposed as a
//!   snapshot to other threads and as [`PwEvent`]s;
//! * real-sink tracking: the playback stream plays into the default sink other than
//!   `headroom-processed` (or the preferred one), pinned with `target.object` in the `default`
//!   metadata and re-pinned whenever the choice changes;
//! * auto-promote (`promote`): while `route.promote_default` is on, `headroom-processed` is
//!   the configured default sink and the user's sink is the real sink; the processed sink's
//!   volume (what desktop volume keys change) is applied after the chain;
//! * reconnection: when PipeWire goes away the bus is torn down and rebuilt (backoff 100 ms →
//!   1 s), then [`PwEvent::Connected`] and [`PwEvent::BusReady`] tell the engine to re-apply
//!   its routing.
//!
//! Files by concern: `thread` (the main loop, the connection's life, housekeeping),
//! `session` (one connection's proxies), `registry` (nodes, links and metadata into the
//! [`Graph`]), `bus` (the stream pair), `commands` ([`PwCommand`]s from the engine), `promote` and `sink_state` (auto-promote, the sink volume), [`rt`]
//! (the real-time callback and its hand-offs), [`taps`] (Layer A taps), [`mod@format`] (the audio
//! format and the pods sent to PipeWire) and [`graph`] (the graph model).
//!
//! Feedback loops are impossible by construction: the playback stream carries the bus's
//! `node.link-group`, and WirePlumber never links a stream into a node of its own link group,
//! whatever the default sink is. The playback stream deliberately does *not* set
//! `node.dont-reconnect` (WirePlumber would destroy it when its sink disappears); it sets
//! `state.restore-target=false` and `state.restore-props=false` so restore-stream never learns
//! headroomd's own moves.

mod bus;
mod commands;
#[cfg(test)]
mod fake_buffer;
pub mod format;
pub mod graph;
mod promote;
mod registry;
pub mod rt;
mod session;
mod sink_state;
pub mod taps;
mod thread;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use headroom_core::{AtomicMeters, ChainParams, PlaybackTiming, TimingSnapshot};
use parking_lot::RwLock;

pub use graph::{BusNodes, Graph, GraphLink, GraphNode};

pub use crate::names::{BUS_SINK_DESCRIPTION, BUS_SINK_NAME, PLAYBACK_NODE_NAME};

/// Start-up options of the bus.
#[derive(Debug, Clone)]
pub struct BusOptions {
    /// Chain parameters to start with.
    pub params: ChainParams,
    /// Sink to play into when present (node name), instead of the default sink.
    pub preferred_real_sink: Option<String>,
    /// PipeWire remote to connect to (`None`: the default, `$PIPEWIRE_REMOTE` or `pipewire-0`).
    pub remote: Option<String>,
    /// Spike threshold of the callback timing, µs (new spikes are logged with the history
    /// sample of their second).
    pub spike_threshold_us: u64,
    /// Make `headroom-processed` the configured default sink while running (see
    /// [`PwCommand::SetPromote`]).
    pub promote_default: bool,
    /// The user's sink remembered from an earlier run (the sink to give the default back to).
    pub user_sink: Option<String>,
}

impl Default for BusOptions {
    fn default() -> Self {
        Self {
            params: ChainParams::default(),
            preferred_real_sink: None,
            remote: None,
            spike_threshold_us: headroom_core::timing::DEFAULT_SPIKE_THRESHOLD_US,
            promote_default: false,
            user_sink: None,
        }
    }
}

/// Requests to the PipeWire thread.
#[derive(Debug, Clone, PartialEq)]
pub enum PwCommand {
    /// Routes a playback stream: writes `target.object` (a node name or `object.serial`) for
    /// `node_id` in the `default` metadata, or deletes it (`None`: back to the default sink).
    /// Streams moved with a target are moved back (key deleted) when the bus shuts down.
    MoveStream {
        /// Global id of the stream node.
        node_id: u32,
        /// Node name or `object.serial` of the target, `None` to delete the key.
        target: Option<String>,
    },
    /// Sets a stream node's master `volume` (Props param), linear gain; the stream's
    /// `channelVolumes` (the volume users set in their mixer) is left alone and multiplies.
    SetStreamVolume {
        /// Global id of the stream node.
        node_id: u32,
        /// Linear gain (1.0 = unity).
        volume: f32,
    },
    /// Plays into this sink (node name) when present instead of the default sink.
    SetPreferredSink(Option<String>),
    /// Creates a Layer A loudness tap on the playback stream `node_id` (see [`taps`]); its
    /// readings appear in [`BusShared::taps`]. The tap is destroyed when the stream goes
    /// away or on [`PwCommand::DetachTap`].
    AttachTap {
        /// Global id of the stream node.
        node_id: u32,
    },
    /// Destroys the tap on `node_id`, if any.
    DetachTap {
        /// Global id of the stream node.
        node_id: u32,
    },
    /// Turns auto-promote on or off: while on, `headroom-processed` is the configured default
    /// sink and the sink the user configured is the real sink; off gives the default back.
    SetPromote(bool),
    /// Moves routed streams back, gives the default sink back when promoted, tears the bus
    /// down and ends the thread.
    Shutdown,
}

/// What the PipeWire thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum PwEvent {
    /// Connected to PipeWire (first time or after a reconnect): the engine re-applies routing
    /// once [`PwEvent::BusReady`] follows.
    Connected,
    /// Lost PipeWire (or could not connect); reconnecting with backoff.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The processed sink is up and routable.
    BusReady {
        /// Latency the chain adds, frames at 48 kHz.
        latency_frames: usize,
        /// Node id of `headroom-processed`.
        sink_id: u32,
        /// Node id of the playback stream.
        playback_id: u32,
        /// Its channel positions, space-separated (`FL FR FC LFE RL RR`).
        channels: String,
    },
    /// The sink headroomd plays into changed.
    RealSinkChanged {
        /// Its node name (`None`: no real sink available).
        name: Option<String>,
    },
    /// A node appeared (reported once its full properties are known).
    NodeAdded {
        /// Global id.
        id: u32,
        /// `object.serial`.
        serial: Option<u64>,
        /// All its properties.
        props: BTreeMap<String, String>,
        /// `media.class`.
        media_class: Option<String>,
    },
    /// A node's properties changed after it was added.
    NodeChanged {
        /// Global id.
        id: u32,
        /// All its properties.
        props: BTreeMap<String, String>,
    },
    /// A node disappeared.
    NodeRemoved {
        /// Global id.
        id: u32,
    },
    /// A link appeared.
    LinkAdded(GraphLink),
    /// A link disappeared.
    LinkRemoved {
        /// Global id of the link.
        id: u32,
    },
    /// The default sink (as the session manager reports it) changed.
    DefaultSinkChanged {
        /// Node name.
        name: Option<String>,
    },
    /// An application output stream's own volume (its `channelVolumes`, what mixers set)
    /// is known or changed: the power mean of its channels, linear. Layer A takes it out of
    /// what the stream's tap hears.
    StreamVolume {
        /// Node id.
        id: u32,
        /// Linear amplitude.
        volume: f32,
    },
    /// A `target.object`/`target.node` value in the `default` metadata changed.
    TargetChanged {
        /// Subject node id.
        node_id: u32,
        /// `target.object` or `target.node`.
        key: String,
        /// New value (`None`: deleted).
        target: Option<String>,
    },
    /// While promoted: the sink the user configured as default (before promotion, or chosen
    /// since) changed — the sink to give the default back to. Persist it: after a crash only
    /// the persisted name says which sink was the user's.
    UserSinkChanged {
        /// Node name (`None`: the user had configured no default sink).
        name: Option<String>,
    },
    /// The processed sink's capture stream started (`true`) or stopped (`false`) streaming:
    /// audio is flowing through the bus, or the graph left it idle.
    BusStreaming {
        /// Whether it streams now.
        streaming: bool,
    },
    /// No session manager: the `default` metadata is missing, nothing gets linked.
    WirePlumberMissing,
    /// The session manager is back (the `default` metadata exists again); whether it links
    /// the bus follows ([`PwEvent::SessionWhole`] or [`PwEvent::SessionIncomplete`]).
    WirePlumberBack,
    /// The session manager is up but does not link the bus (WirePlumber restarted on its own
    /// breaks linking until PipeWire and WirePlumber are restarted together).
    SessionIncomplete,
    /// The bus is linked again after [`PwEvent::SessionIncomplete`], or the session is whole
    /// once the session manager is back after [`PwEvent::WirePlumberMissing`].
    SessionWhole,
}

/// Errors of [`AudioBus::start`] and [`AudioHandle`].
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The thread could not be spawned.
    #[error("spawning the PipeWire thread: {0}")]
    Spawn(#[from] std::io::Error),
    /// The PipeWire thread has ended.
    #[error("the PipeWire thread is not running")]
    Stopped,
    /// The PipeWire thread panicked.
    #[error("the PipeWire thread panicked")]
    Panicked,
}

/// What the bus shares with the rest of the daemon, without PipeWire: the chain parameters
/// (a lock-free mailbox the audio thread reads), its meters and callback timing (atomics the
/// audio thread writes), the xrun count, the Layer A tap readings and the graph model (written
/// by the PipeWire thread). Cloning shares the same state.
///
/// [`AudioBus::start`] creates one for the PipeWire thread it spawns; the engine holds a clone
/// to read from. Tests create one with [`BusShared::new`] and play the PipeWire thread's part
/// themselves (filling the graph, publishing tap readings).
#[derive(Clone)]
pub struct BusShared {
    rt: Arc<rt::RtShared>,
    graph: Arc<RwLock<Graph>>,
}

impl BusShared {
    /// Shared state holding `params`, with nothing measured yet and an empty graph. The
    /// timing statistics count callbacks over `spike_threshold_us` as spikes.
    pub fn new(params: ChainParams, spike_threshold_us: u64) -> Self {
        BusShared {
            rt: Arc::new(rt::RtShared {
                params: rt::Mailbox::new(params),
                meters: Arc::new(AtomicMeters::new()),
                timing: Arc::new(PlaybackTiming::new(spike_threshold_us)),
                xruns: Arc::new(AtomicU64::new(0)),
                processed_blocks: AtomicU64::new(0),
                taps: taps::TapReadings::default(),
                input_gain: std::sync::atomic::AtomicU32::new(1.0f32.to_bits()),
            }),
            graph: Arc::new(RwLock::new(Graph::default())),
        }
    }

    /// Hands new chain parameters to the audio thread. Lock-free for the audio thread (a
    /// triple buffer); the latest value always wins, also across reconnects.
    pub fn set_params(&self, params: ChainParams) {
        self.rt.params.write(params);
    }

    /// The parameters last handed in.
    pub fn params(&self) -> ChainParams {
        self.rt.params.latest()
    }

    /// Live meters of the chain.
    pub fn meters(&self) -> Arc<AtomicMeters> {
        self.rt.meters.clone()
    }

    /// Callback timing statistics.
    pub fn timing(&self) -> Arc<PlaybackTiming> {
        self.rt.timing.clone()
    }

    /// xruns of the bus: graph cycles the capture callback missed (the graph position advanced
    /// by more than one cycle between two callbacks) plus callbacks where the playback stream
    /// had no free buffer.
    pub fn xruns(&self) -> u64 {
        self.rt.xruns.load(Ordering::Relaxed)
    }

    /// All counters at once.
    pub fn stats(&self) -> BusStats {
        BusStats {
            timing: self.rt.timing.snapshot(),
            xruns: self.xruns(),
            processed_blocks: self.rt.processed_blocks.load(Ordering::Relaxed),
        }
    }

    /// Sets the gain the captured audio gets before the chain, dB (clamped to 0..+24 dB; the
    /// audio thread ramps to it over its next block): Layer A's cut of a stream that plays
    /// alone, taken off again.
    pub fn set_input_gain_db(&self, db: f32) {
        let db = if db.is_finite() {
            db.clamp(0.0, 24.0)
        } else {
            0.0
        };
        let lin = headroom_core::util::db_to_lin(db).min(rt::MAX_INPUT_GAIN);
        self.rt.input_gain.store(lin.to_bits(), Ordering::Relaxed);
    }

    /// Readings of the Layer A taps, by tapped stream node id.
    pub fn taps(&self) -> taps::TapReadings {
        self.rt.taps.clone()
    }

    /// The graph model (read-only for other threads; never read it from the audio thread).
    pub fn graph(&self) -> Arc<RwLock<Graph>> {
        self.graph.clone()
    }
}

/// Where the engine's [`PwCommand`]s go: the PipeWire thread ([`AudioHandle`], [`Commander`])
/// or, in tests, a channel that records them.
pub trait CommandSink {
    /// Sends one command; an error means the receiving side is gone.
    fn send_command(&self, cmd: PwCommand) -> Result<(), BusError>;
}

impl CommandSink for crossbeam_channel::Sender<PwCommand> {
    fn send_command(&self, cmd: PwCommand) -> Result<(), BusError> {
        self.send(cmd).map_err(|_| BusError::Stopped)
    }
}

/// The PipeWire side of the daemon.
pub struct AudioBus;

impl AudioBus {
    /// Spawns the PipeWire thread and returns at once; the bus
    /// comes up asynchronously ([`PwEvent::BusReady`]) and keeps reconnecting while PipeWire is
    /// unavailable. Events go to `events`.
    pub fn start(
        opts: BusOptions,
        events: crossbeam_channel::Sender<PwEvent>,
    ) -> Result<AudioHandle, BusError> {
        let shared = BusShared::new(opts.params, opts.spike_threshold_us);
        let (cmd_tx, cmd_rx) = pipewire::channel::channel::<PwCommand>();
        let thread = {
            let rt = shared.rt.clone();
            let graph = shared.graph.clone();
            std::thread::Builder::new()
                .name("headroom-pw".into())
                .spawn(move || thread::run(opts, rt, graph, cmd_rx, events))?
        };
        Ok(AudioHandle {
            cmd: cmd_tx,
            shared,
            thread: Some(thread),
        })
    }
}

/// A cloneable sender of [`PwCommand`]s (e.g. for a signal-handling thread).
#[derive(Clone)]
pub struct Commander(pipewire::channel::Sender<PwCommand>);

impl Commander {
    /// Sends a command to the PipeWire thread.
    pub fn send(&self, cmd: PwCommand) -> Result<(), BusError> {
        self.0.send(cmd).map_err(|_| BusError::Stopped)
    }
}

impl CommandSink for Commander {
    fn send_command(&self, cmd: PwCommand) -> Result<(), BusError> {
        self.send(cmd)
    }
}

/// Handle on the running bus. Dropping it shuts the bus down and joins the thread. Derefs to
/// its [`BusShared`] (parameters, meters, timing, taps, graph).
pub struct AudioHandle {
    cmd: pipewire::channel::Sender<PwCommand>,
    shared: BusShared,
    thread: Option<JoinHandle<()>>,
}

/// Counters of the bus for status displays and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BusStats {
    /// Callback timing.
    pub timing: TimingSnapshot,
    /// xruns counted (see [`BusShared::xruns`]).
    pub xruns: u64,
    /// Callbacks that processed audio.
    pub processed_blocks: u64,
}

impl std::ops::Deref for AudioHandle {
    type Target = BusShared;

    fn deref(&self) -> &BusShared {
        &self.shared
    }
}

impl CommandSink for AudioHandle {
    fn send_command(&self, cmd: PwCommand) -> Result<(), BusError> {
        self.send(cmd)
    }
}

impl AudioHandle {
    /// The state shared with the bus (a clone: it stays valid after the handle is gone).
    pub fn shared(&self) -> BusShared {
        self.shared.clone()
    }

    /// Sends a command to the PipeWire thread.
    pub fn send(&self, cmd: PwCommand) -> Result<(), BusError> {
        self.cmd.send(cmd).map_err(|_| BusError::Stopped)
    }

    /// A cloneable command sender.
    pub fn commander(&self) -> Commander {
        Commander(self.cmd.clone())
    }

    /// Whether the PipeWire thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the PipeWire thread to end (after [`PwCommand::Shutdown`]).
    pub fn join(mut self) -> Result<(), BusError> {
        self.join_inner()
    }

    fn join_inner(&mut self) -> Result<(), BusError> {
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| BusError::Panicked),
            None => Ok(()),
        }
    }
}

impl Drop for AudioHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.cmd.send(PwCommand::Shutdown);
            let _ = self.join_inner();
        }
    }
}
