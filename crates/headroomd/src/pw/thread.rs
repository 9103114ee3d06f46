//! The PipeWire thread: main loop, connection management, graph tracking, the bus streams and
//! real-sink routing. Nothing here runs in the real-time callback except what [`super::rt`]
//! installs.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::{Rc, Weak};
use std::sync::atomic::AtomicPtr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use headroom_core::Chain;
use parking_lot::RwLock;
use pipewire as pw;
use pw::context::ContextRc;
use pw::core::CoreRc;
use pw::main_loop::{MainLoopRc, MainLoopWeak};
use pw::metadata::{Metadata, MetadataListener};
use pw::node::{Node, NodeListener};
use pw::properties::PropertiesBox;
use pw::registry::{GlobalObject, RegistryRc};
use pw::spa;
use pw::spa::utils::dict::DictRef;
use pw::stream::{StreamFlags, StreamListener, StreamRc, StreamState};
use pw::types::ObjectType;
use spa::pod::Pod;
use spa::utils::result::AsyncSeq;

use super::graph::{parse_default_node_value, Graph, GraphLink, GraphNode};
use super::rt::{self, RtCapture, RtShared};
use super::{
    BusOptions, PwCommand, PwEvent, BUS_SINK_DESCRIPTION, BUS_SINK_NAME, PLAYBACK_NODE_NAME,
};

/// How often the loop's housekeeping runs.
const TICK: Duration = Duration::from_millis(50);
/// First reconnect delay; doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long the `default` metadata may be missing before we warn.
const WP_GRACE: Duration = Duration::from_secs(3);
/// How long the bus may stay unlinked (with a real sink present) before we warn.
const LINK_GRACE: Duration = Duration::from_secs(3);
/// How long shutdown waits for the server to confirm the routing clean-up.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Flags set from PipeWire callbacks that must not borrow [`State`].
#[derive(Default)]
struct CoreFlags {
    dead: Cell<bool>,
    dead_reason: RefCell<String>,
    pending_sync: Cell<Option<AsyncSeq>>,
    synced: Cell<bool>,
    shutdown_sync: Cell<Option<AsyncSeq>>,
    shutdown_synced: Cell<bool>,
}

/// The two streams of the bus. Field order is drop order.
struct Bus {
    capture_listener: Option<StreamListener<RtCapture>>,
    capture_io_listener: Option<StreamListener<()>>,
    capture: StreamRc,
    playback: StreamRc,
    created: Instant,
    /// Frames of latency the bus's chain adds (the limiter lookahead).
    latency_frames: usize,
}

impl Drop for Bus {
    fn drop(&mut self) {
        // Stop the real-time callback before its state and the playback stream go away.
        let _ = self.capture.set_active(false);
        let _ = self.capture.disconnect();
        self.capture_listener.take();
        self.capture_io_listener.take();
        let _ = self.playback.disconnect();
    }
}

/// Everything that belongs to one connection. Field order is drop order.
struct Session {
    bus: Option<Bus>,
    taps: super::taps::Taps,
    metadata: Option<(u32, Metadata, MetadataListener)>,
    nodes: HashMap<u32, (Node, NodeListener)>,
    _registry_listener: pw::registry::Listener,
    registry: RegistryRc,
    _core_listener: pw::core::Listener,
    core: CoreRc,
    _context: ContextRc,
    flags: Rc<CoreFlags>,
}

struct State {
    opts: BusOptions,
    shared: Arc<RtShared>,
    graph: Arc<RwLock<Graph>>,
    events: crossbeam_channel::Sender<PwEvent>,
    main_loop: MainLoopWeak,
    me: Weak<RefCell<State>>,
    session: Option<Session>,
    reconnect_at: Instant,
    backoff: Duration,
    disconnected_reported: bool,
    real_sink: Option<String>,
    applied_target: Option<(u32, String)>,
    routed: BTreeSet<u32>,
    bus_ready_reported: bool,
    bus_retry_at: Option<Instant>,
    wp_missing_since: Option<Instant>,
    wp_missing_reported: bool,
    unlinked_since: Option<Instant>,
    incomplete_reported: bool,
    shutting_down: Option<Instant>,
    /// Node ids whose first full info was reported.
    announced: BTreeSet<u32>,
}

/// Thread entry point.
pub(super) fn run(
    opts: BusOptions,
    shared: Arc<RtShared>,
    graph: Arc<RwLock<Graph>>,
    cmd_rx: pw::channel::Receiver<PwCommand>,
    events: crossbeam_channel::Sender<PwEvent>,
) {
    pw::init();
    let main_loop = match MainLoopRc::new(None) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot create the PipeWire main loop: {e}");
            let _ = events.send(PwEvent::Disconnected {
                reason: format!("main loop: {e}"),
            });
            return;
        }
    };
    let state = Rc::new_cyclic(|me| {
        RefCell::new(State {
            opts,
            shared,
            graph,
            events,
            main_loop: main_loop.downgrade(),
            me: me.clone(),
            session: None,
            reconnect_at: Instant::now(),
            backoff: BACKOFF_MIN,
            disconnected_reported: false,
            real_sink: None,
            applied_target: None,
            routed: BTreeSet::new(),
            bus_ready_reported: false,
            bus_retry_at: None,
            wp_missing_since: None,
            wp_missing_reported: false,
            unlinked_since: None,
            incomplete_reported: false,
            shutting_down: None,
            announced: BTreeSet::new(),
        })
    });

    let _receiver = {
        let st = Rc::downgrade(&state);
        cmd_rx.attach(main_loop.loop_(), move |cmd| {
            if let Some(st) = st.upgrade() {
                st.borrow_mut().command(cmd);
            }
        })
    };
    let tick = {
        let st = Rc::downgrade(&state);
        main_loop.loop_().add_timer(move |_| {
            if let Some(st) = st.upgrade() {
                if let Ok(mut s) = st.try_borrow_mut() {
                    s.tick();
                }
            }
        })
    };
    tick.update_timer(Some(Duration::from_millis(1)), Some(TICK));
    main_loop.run();
    drop(tick);
    let mut s = state.borrow_mut();
    s.session = None;
    s.graph.write().connected = false;
    tracing::debug!("PipeWire thread ends");
}

fn dict_to_map(d: &DictRef) -> BTreeMap<String, String> {
    d.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The bus's (and the Layer A taps') audio format: F32 interleaved, 48 kHz, FL FR.
pub(super) fn format_pod() -> Result<Vec<u8>, String> {
    let mut info = spa::param::audio::AudioInfoRaw::new();
    info.set_format(spa::param::audio::AudioFormat::F32LE);
    info.set_rate(rt::RATE);
    info.set_channels(rt::CHANNELS as u32);
    let mut position = [0; spa::param::audio::MAX_CHANNELS];
    position[0] = spa::sys::SPA_AUDIO_CHANNEL_FL;
    position[1] = spa::sys::SPA_AUDIO_CHANNEL_FR;
    info.set_position(position);
    spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &spa::pod::Value::Object(spa::pod::Object {
            type_: spa::sys::SPA_TYPE_OBJECT_Format,
            id: spa::sys::SPA_PARAM_EnumFormat,
            properties: info.into(),
        }),
    )
    .map(|(c, _)| c.into_inner())
    .map_err(|e| format!("serialising the format: {e:?}"))
}

/// A Props param setting the stream's master `volume` to `volume`. Layer A owns this property
/// and leaves `channelVolumes` alone: that is the volume desktop mixers (pavucontrol, wpctl,
/// pipewire-pulse clients) set, and the stream's converter applies the product of the two.
fn volume_pod(volume: f32) -> Result<Vec<u8>, String> {
    spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &spa::pod::Value::Object(spa::pod::Object {
            type_: spa::sys::SPA_TYPE_OBJECT_Props,
            id: spa::sys::SPA_PARAM_Props,
            properties: vec![spa::pod::Property {
                key: spa::sys::SPA_PROP_volume,
                flags: spa::pod::PropertyFlags::empty(),
                value: spa::pod::Value::Float(volume),
            }],
        }),
    )
    .map(|(c, _)| c.into_inner())
    .map_err(|e| format!("serialising the volume: {e:?}"))
}

impl State {
    fn emit(&self, ev: PwEvent) {
        tracing::debug!(?ev, "event");
        let _ = self.events.send(ev);
    }

    // ---------------------------------------------------------------- housekeeping

    fn tick(&mut self) {
        if let Some(since) = self.shutting_down {
            let synced = self
                .session
                .as_ref()
                .is_none_or(|s| s.flags.shutdown_synced.get() || s.flags.dead.get());
            if synced || since.elapsed() > SHUTDOWN_GRACE {
                if let Some(l) = self.main_loop.upgrade() {
                    l.quit();
                }
            }
            return;
        }
        if let Some(s) = &self.session {
            if s.flags.dead.get() {
                let reason = s.flags.dead_reason.borrow().clone();
                self.teardown(&reason);
            }
        }
        if self.session.is_none() {
            if Instant::now() >= self.reconnect_at {
                self.try_connect();
            }
            return;
        }
        self.check_bus();
        self.reconcile();
        self.check_session_manager();
    }

    fn teardown(&mut self, reason: &str) {
        tracing::warn!("lost PipeWire ({reason}); reconnecting");
        self.session = None;
        {
            let mut g = self.graph.write();
            *g = Graph::default();
            g.real_sink = self.real_sink.clone();
        }
        self.applied_target = None;
        self.routed.clear();
        self.announced.clear();
        self.bus_ready_reported = false;
        self.bus_retry_at = None;
        self.wp_missing_since = None;
        self.wp_missing_reported = false;
        self.unlinked_since = None;
        self.incomplete_reported = false;
        self.backoff = BACKOFF_MIN;
        self.reconnect_at = Instant::now() + BACKOFF_MIN;
        self.disconnected_reported = true;
        self.emit(PwEvent::Disconnected {
            reason: reason.to_string(),
        });
    }

    fn try_connect(&mut self) {
        match self.connect() {
            Ok(session) => {
                tracing::info!("connected to PipeWire");
                self.session = Some(session);
                self.graph.write().connected = true;
                self.backoff = BACKOFF_MIN;
                self.disconnected_reported = false;
                self.wp_missing_since = Some(Instant::now());
                self.emit(PwEvent::Connected);
            }
            Err(e) => {
                if !self.disconnected_reported {
                    tracing::warn!("cannot connect to PipeWire ({e}); retrying");
                    self.disconnected_reported = true;
                    self.emit(PwEvent::Disconnected { reason: e.clone() });
                } else {
                    tracing::debug!("cannot connect to PipeWire ({e}); retrying");
                }
                self.reconnect_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
        }
    }

    fn connect(&mut self) -> Result<Session, String> {
        let main_loop = self.main_loop.upgrade().ok_or("main loop gone")?;
        let mut cprops = PropertiesBox::new();
        // Real-time scheduling of the data thread needs the RT client config.
        cprops.insert("config.name", "client-rt.conf");
        let context =
            ContextRc::new(&main_loop, Some(cprops)).map_err(|e| format!("context: {e}"))?;
        let mut core_props = PropertiesBox::new();
        if let Some(r) = &self.opts.remote {
            core_props.insert("remote.name", r.as_str());
        }
        let core = context
            .connect_rc(Some(core_props))
            .map_err(|e| format!("connect: {e}"))?;
        let registry = core
            .get_registry_rc()
            .map_err(|e| format!("registry: {e}"))?;
        let flags = Rc::new(CoreFlags::default());

        let core_listener = {
            let f_err = flags.clone();
            let f_done = flags.clone();
            core.add_listener_local()
                .error(move |id, _seq, res, msg| {
                    if id == pw::core::PW_ID_CORE {
                        if res == -libc::EPIPE {
                            *f_err.dead_reason.borrow_mut() = format!("{msg} (EPIPE)");
                            f_err.dead.set(true);
                        } else if res == -libc::ENOENT {
                            // A request on an object that just went away (a stream that
                            // ended while we moved it): harmless.
                            tracing::debug!("PipeWire: {msg}");
                        } else {
                            tracing::warn!("PipeWire core error {res}: {msg}");
                        }
                    } else {
                        tracing::debug!("PipeWire error on proxy {id}: {res} {msg}");
                    }
                })
                .done(move |id, seq| {
                    if id != pw::core::PW_ID_CORE {
                        return;
                    }
                    if f_done.pending_sync.get() == Some(seq) {
                        f_done.synced.set(true);
                    }
                    if f_done.shutdown_sync.get() == Some(seq) {
                        f_done.shutdown_synced.set(true);
                    }
                })
                .register()
        };
        let registry_listener = {
            let st_g = self.me.clone();
            let st_r = self.me.clone();
            registry
                .add_listener_local()
                .global(move |obj| {
                    if let Some(st) = st_g.upgrade() {
                        if let Ok(mut s) = st.try_borrow_mut() {
                            s.on_global(obj);
                        }
                    }
                })
                .global_remove(move |id| {
                    if let Some(st) = st_r.upgrade() {
                        if let Ok(mut s) = st.try_borrow_mut() {
                            s.on_global_remove(id);
                        }
                    }
                })
                .register()
        };
        // The bus is created once the initial registry contents have arrived, so its playback
        // stream can name the real sink from the start.
        let seq = core.sync(0).map_err(|e| format!("sync: {e}"))?;
        flags.pending_sync.set(Some(seq));
        Ok(Session {
            bus: None,
            taps: super::taps::Taps::new(self.shared.taps.clone()),
            metadata: None,
            nodes: HashMap::new(),
            _registry_listener: registry_listener,
            registry,
            _core_listener: core_listener,
            core,
            _context: context,
            flags,
        })
    }

    // ---------------------------------------------------------------- registry

    fn on_global(&mut self, obj: &GlobalObject<&DictRef>) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let props = obj.props.map(dict_to_map).unwrap_or_default();
        match obj.type_ {
            ObjectType::Node => {
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
                        let st = self.me.clone();
                        let id = obj.id;
                        let listener = proxy
                            .add_listener_local()
                            .info(move |info| {
                                if let (Some(st), Some(p)) = (st.upgrade(), info.props()) {
                                    if let Ok(mut s) = st.try_borrow_mut() {
                                        s.on_node_info(id, dict_to_map(p));
                                    }
                                }
                            })
                            .register();
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
            ObjectType::Metadata => {
                if props.get("metadata.name").map(String::as_str) != Some("default") {
                    return;
                }
                match session.registry.bind::<Metadata, _>(obj) {
                    Ok(md) => {
                        let st = self.me.clone();
                        let listener = md
                            .add_listener_local()
                            .property(move |subject, key, _type, value| {
                                if let Some(st) = st.upgrade() {
                                    if let Ok(mut s) = st.try_borrow_mut() {
                                        s.on_metadata(subject, key, value);
                                    }
                                }
                                0
                            })
                            .register();
                        session.metadata = Some((obj.id, md, listener));
                        self.applied_target = None;
                        self.graph.write().session_manager = true;
                        self.wp_missing_since = None;
                        if self.wp_missing_reported {
                            self.wp_missing_reported = false;
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

    fn on_global_remove(&mut self, id: u32) {
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
        let (node, link) = {
            let mut g = self.graph.write();
            let node = g.nodes.remove(&id);
            let link = g.links.remove(&id);
            g.targets.remove(&id);
            (node, link)
        };
        if node.is_some() {
            self.routed.remove(&id);
            self.announced.remove(&id);
            self.emit(PwEvent::NodeRemoved { id });
        }
        if link.is_some() {
            self.emit(PwEvent::LinkRemoved { id });
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
                    target: value.map(str::to_string),
                });
            }
            _ => {}
        }
    }

    // ---------------------------------------------------------------- the bus

    fn check_bus(&mut self) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if session.bus.is_none() {
            if !session.flags.synced.get() {
                return;
            }
            if self.bus_retry_at.is_some_and(|t| Instant::now() < t) {
                return;
            }
            // Pick the real sink first so the playback stream is created pointing at it.
            let want = self.graph.read().choose_real_sink(
                self.opts.preferred_real_sink.as_deref(),
                self.real_sink.as_deref(),
            );
            self.set_real_sink(want);
            let Some(session) = self.session.as_mut() else {
                return;
            };
            match create_bus(session, &self.shared, self.real_sink.as_deref()) {
                Ok(bus) => {
                    session.bus = Some(bus);
                    self.bus_retry_at = None;
                }
                Err(e) => {
                    tracing::error!("cannot create the bus streams: {e}");
                    self.bus_retry_at = Some(Instant::now() + Duration::from_secs(1));
                }
            }
            return;
        }
        let Some(bus) = session.bus.as_ref() else {
            return;
        };
        let (cs, ps) = (bus.capture.state(), bus.playback.state());
        if let StreamState::Error(e) = &cs {
            let e = e.clone();
            self.bus_failed(&format!("capture stream: {e}"));
            return;
        }
        let gone = |s: &StreamState| matches!(s, StreamState::Unconnected);
        if (gone(&cs) || gone(&ps)) && bus.created.elapsed() > Duration::from_secs(1) {
            self.bus_failed("a stream was disconnected");
            return;
        }
        if let StreamState::Error(e) = &ps {
            let e = e.clone();
            self.bus_failed(&format!("playback stream: {e}"));
            return;
        }
        let ready = |s: &StreamState| matches!(s, StreamState::Paused | StreamState::Streaming);
        if !self.bus_ready_reported && ready(&cs) && ready(&ps) {
            let (sink_id, playback_id) = (bus.capture.node_id(), bus.playback.node_id());
            if sink_id == u32::MAX || playback_id == u32::MAX {
                return;
            }
            let since = bus.created.elapsed();
            {
                let mut g = self.graph.write();
                g.bus.sink = Some(sink_id);
                g.bus.playback = Some(playback_id);
            }
            self.bus_ready_reported = true;
            let latency_frames = bus.latency_frames;
            tracing::info!(
                sink_id,
                playback_id,
                latency_frames,
                real_sink = ?self.real_sink,
                "bus {BUS_SINK_NAME} ready after {since:?}"
            );
            self.emit(PwEvent::BusReady {
                latency_frames,
                sink_id,
                playback_id,
            });
        }
    }

    fn bus_failed(&mut self, why: &str) {
        tracing::warn!("bus stream failed ({why}); recreating it");
        if let Some(s) = self.session.as_mut() {
            s.bus = None;
        }
        {
            let mut g = self.graph.write();
            g.bus = Default::default();
        }
        self.applied_target = None;
        self.bus_ready_reported = false;
        self.bus_retry_at = Some(Instant::now() + Duration::from_millis(500));
    }

    fn set_real_sink(&mut self, want: Option<String>) {
        if want != self.real_sink {
            tracing::info!(from = ?self.real_sink, to = ?want, "real sink changed");
            self.real_sink = want.clone();
            self.graph.write().real_sink = want.clone();
            self.emit(PwEvent::RealSinkChanged { name: want });
        }
    }

    /// Keeps the playback stream pinned to the chosen real sink.
    fn reconcile(&mut self) {
        let (want, playback) = {
            let g = self.graph.read();
            (
                g.choose_real_sink(
                    self.opts.preferred_real_sink.as_deref(),
                    self.real_sink.as_deref(),
                ),
                g.bus.playback,
            )
        };
        self.set_real_sink(want);
        let (Some(pb), Some(name)) = (playback, self.real_sink.clone()) else {
            return;
        };
        if self.applied_target.as_ref() == Some(&(pb, name.clone())) {
            return;
        }
        let Some((_, md, _)) = self.session.as_ref().and_then(|s| s.metadata.as_ref()) else {
            return;
        };
        tracing::debug!(playback = pb, sink = %name, "pinning the bus output");
        md.set_property(pb, "target.object", None, Some(&name));
        self.applied_target = Some((pb, name));
    }

    fn check_session_manager(&mut self) {
        let now = Instant::now();
        let (sm, linked, want_link) = {
            let g = self.graph.read();
            let linked = g.bus.playback.is_some_and(|pb| g.has_output_link(pb));
            (
                g.session_manager,
                linked,
                g.bus.playback.is_some() && self.real_sink.is_some(),
            )
        };
        if !sm {
            if let Some(since) = self.wp_missing_since {
                if !self.wp_missing_reported && now.duration_since(since) > WP_GRACE {
                    self.wp_missing_reported = true;
                    tracing::warn!(
                        "no session manager: the `default` metadata is missing, nothing will be \
                         linked (is WirePlumber running?)"
                    );
                    self.emit(PwEvent::WirePlumberMissing);
                }
            }
            return;
        }
        if want_link && !linked {
            let since = *self.unlinked_since.get_or_insert(now);
            if !self.incomplete_reported && now.duration_since(since) > LINK_GRACE {
                self.incomplete_reported = true;
                tracing::warn!(
                    "the session manager does not link {PLAYBACK_NODE_NAME} to {:?}: the session is \
                     incomplete (WirePlumber restarted on its own?). Restart PipeWire together \
                     with WirePlumber, e.g. `systemctl --user restart pipewire wireplumber`; \
                     headroomd reconnects by itself",
                    self.real_sink
                );
                self.emit(PwEvent::SessionIncomplete);
            }
        } else {
            self.unlinked_since = None;
            if linked && self.incomplete_reported {
                self.incomplete_reported = false;
                tracing::info!("the bus is linked again");
                self.emit(PwEvent::SessionWhole);
            }
        }
    }

    // ---------------------------------------------------------------- commands

    fn command(&mut self, cmd: PwCommand) {
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
            PwCommand::Shutdown => self.begin_shutdown(),
        }
    }

    /// Taps a known application playback stream (never one of headroomd's own nodes).
    fn attach_tap(&mut self, node_id: u32) {
        let target = {
            let g = self.graph.read();
            match g.nodes.get(&node_id) {
                Some(n) if n.is_output_stream() && !n.is_headroom_bus() => {
                    n.serial.map(|s| s.to_string()).or_else(|| n.name.clone())
                }
                _ => None,
            }
        };
        let (Some(target), Some(session)) = (target, self.session.as_mut()) else {
            tracing::debug!(
                node_id,
                "not tapping: unknown or not an app playback stream"
            );
            return;
        };
        if let Err(e) = session.taps.attach(&session.core, node_id, &target) {
            tracing::warn!("{e}");
        }
    }

    fn begin_shutdown(&mut self) {
        if self.shutting_down.is_some() {
            return;
        }
        self.shutting_down = Some(Instant::now());
        let Some(session) = self.session.as_mut() else {
            if let Some(l) = self.main_loop.upgrade() {
                l.quit();
            }
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
        // Remove the bus now so WirePlumber re-links everything that played into it.
        session.bus = None;
        match session.core.sync(0) {
            Ok(seq) => session.flags.shutdown_sync.set(Some(seq)),
            Err(_) => session.flags.shutdown_synced.set(true),
        }
    }
}

fn create_bus(
    session: &mut Session,
    shared: &Arc<RtShared>,
    real_sink: Option<&str>,
) -> Result<Bus, String> {
    let group = format!("headroom-bus-{}", std::process::id());
    let common = |p: &mut PropertiesBox| {
        p.insert("media.type", "Audio");
        p.insert("node.group", group.as_str());
        p.insert("node.link-group", group.as_str());
        p.insert("audio.channels", "2");
        p.insert("audio.position", "[ FL FR ]");
        p.insert("audio.rate", "48000");
        p.insert("application.name", "headroomd");
        p.insert("object.linger", "false");
    };
    let mut pprops = PropertiesBox::new();
    common(&mut pprops);
    pprops.insert("media.class", "Stream/Output/Audio");
    pprops.insert("media.category", "Playback");
    pprops.insert("node.name", PLAYBACK_NODE_NAME);
    pprops.insert("node.description", "Headroom (output)");
    pprops.insert("state.restore-target", "false");
    pprops.insert("state.restore-props", "false");
    // Passive: the bus output alone does not keep the real sink (and the graph) running, so
    // with nothing playing into headroom-processed everything suspends (no idle CPU, no
    // awake sound card); a stream into headroom-processed starts it again.
    pprops.insert("node.passive", "true");
    if let Some(t) = real_sink {
        pprops.insert("target.object", t);
    }
    let mut cprops = PropertiesBox::new();
    common(&mut cprops);
    cprops.insert("media.class", "Audio/Sink");
    cprops.insert("media.category", "Capture");
    cprops.insert("node.name", BUS_SINK_NAME);
    cprops.insert("node.description", BUS_SINK_DESCRIPTION);
    cprops.insert("node.virtual", "true");

    let playback = StreamRc::new(session.core.clone(), PLAYBACK_NODE_NAME, pprops)
        .map_err(|e| format!("playback stream: {e}"))?;
    let capture = StreamRc::new(session.core.clone(), BUS_SINK_NAME, cprops)
        .map_err(|e| format!("capture stream: {e}"))?;

    let position = Arc::new(AtomicPtr::new(std::ptr::null_mut()));
    let rt_state = RtCapture {
        playback: playback.as_raw_ptr(),
        chain: Chain::new(
            rt::RATE,
            rt::CHANNELS,
            rt::MAX_BLOCK,
            &shared.params.latest(),
        ),
        shared: shared.clone(),
        position: position.clone(),
        next_position: 0,
        clock_id: 0,
        offset: 0,
        last_duration: 0,
    };
    // The chain is what adds latency; the stream pair itself adds none (same cycle).
    let latency_frames = rt_state.chain.latency_frames();
    // Drain a value that is already reflected in the new chain.
    // SAFETY: no capture callback is running (the previous bus, if any, is gone).
    let _ = unsafe { shared.params.read_new() };

    let capture_listener = capture
        .add_local_listener_with_user_data(rt_state)
        // SAFETY: this is the capture stream's own process callback.
        .process(|stream, st| unsafe { rt::on_capture_process(stream.as_raw_ptr(), st) })
        .register()
        .map_err(|e| format!("capture listener: {e}"))?;
    let capture_io_listener = capture
        .add_local_listener_with_user_data(())
        .io_changed(move |_, _, id, area, size| {
            if id == spa::sys::SPA_IO_Position {
                let ok = !area.is_null()
                    && size as usize >= std::mem::size_of::<spa::sys::spa_io_position>();
                let p = if ok {
                    area as *mut spa::sys::spa_io_position
                } else {
                    std::ptr::null_mut()
                };
                position.store(p, std::sync::atomic::Ordering::Release);
            }
        })
        .register()
        .map_err(|e| format!("capture io listener: {e}"))?;

    let fmt = format_pod()?;
    let connect = |s: &StreamRc, dir, flags| {
        let pod = Pod::from_bytes(&fmt).ok_or("bad format pod")?;
        let mut params = [pod];
        s.connect(dir, None, flags, &mut params)
            .map_err(|e| format!("connect: {e}"))
    };
    let base = StreamFlags::AUTOCONNECT | StreamFlags::MAP_BUFFERS | StreamFlags::RT_PROCESS;
    connect(
        &playback,
        spa::utils::Direction::Output,
        base | StreamFlags::TRIGGER,
    )?;
    connect(&capture, spa::utils::Direction::Input, base)?;
    tracing::debug!(real_sink = ?real_sink, "bus streams connecting");
    Ok(Bus {
        capture_listener: Some(capture_listener),
        capture_io_listener: Some(capture_io_listener),
        capture,
        playback,
        created: Instant::now(),
        latency_frames,
    })
}
