//! The engine: the daemon's single state owner.
//!
//! One thread ([`run`]) owns every piece of mutable daemon state — the profile store, the
//! routing controller, the metrics history, the PipeWire status — and reacts to four inputs:
//!
//! * control requests from the socket's connection threads ([`EngineHandler`] turns each
//!   [`Request`] into a message and waits for the reply, bounded by [`REQUEST_TIMEOUT`]);
//! * [`PwEvent`]s from the PipeWire thread (graph changes, reconnects, the real sink);
//! * [`ProfileEvent`]s from the profile watcher (hot reload);
//! * a 100 ms ticker: meters to subscribers (10 Hz), Layer A steps, and once a second a
//!   history sample.
//!
//! Nothing here runs on the audio thread: parameters reach it through
//! [`AudioHandle::set_params`] (lock-free for the audio side), meters come back through
//! atomics. The engine never blocks on a subscriber ([`Broadcaster::publish`] never blocks).
//!
//! Runtime route rules (`route set`) persist in `$XDG_STATE_HOME/headroom/routes.json`,
//! written atomically; setting overrides persist through the profile store's state file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::{bounded, select, tick, unbounded, Receiver, Sender};
use headroom_ipc::{
    BypassMode, BypassState, ErrorCode, Event, IpcError, LayerALevel, PipewireState, ProfileActive,
    ProfileEntry, ProfileList, ProfileShow, ProfileSource, Request, Response, Route, RouteRule,
    Routes, SettingEntry, SettingValue, Settings, Status, StreamInfo, Topic,
};
use headroom_profile::{Profile, ProfileDiff, Route as CoreRoute, UserRule, UserRules};

use crate::control::{
    dsp_timing_from_core, meters_from_core, Broadcaster, Handler, Server, ServerConfig,
};
use crate::history::{History, HistoryConfig, Sample};
use crate::profiles::{ProfileEvent, ProfileStore, StoreError, StorePaths};
use crate::pw::{AudioBus, AudioHandle, BusOptions, PwCommand, PwEvent, BUS_SINK_NAME};
use crate::routing::{RoutingController, StreamRoute};
use crate::DaemonConfig;

/// How long a connection thread waits for the engine to answer one request before it replies
/// `busy`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Interval of the engine's ticker (meters at 10 Hz, Layer A steps).
pub const TICK: Duration = Duration::from_millis(100);

/// File name of the persisted runtime route rules, in the state directory.
pub const ROUTES_FILE_NAME: &str = "routes.json";

enum EngineMsg {
    Request(Request, Sender<Result<Response, IpcError>>),
    Snapshot(Vec<Topic>, Sender<Vec<Event>>),
    Shutdown(&'static str),
}

/// The control socket's view of the engine: forwards requests to the engine thread.
#[derive(Clone)]
pub struct EngineHandler {
    tx: Sender<EngineMsg>,
}

impl Handler for EngineHandler {
    fn handle(&self, req: Request) -> Result<Response, IpcError> {
        let (reply_tx, reply_rx) = bounded(1);
        self.tx
            .send(EngineMsg::Request(req, reply_tx))
            .map_err(|_| IpcError::new(ErrorCode::Busy, "the daemon is shutting down"))?;
        reply_rx
            .recv_timeout(REQUEST_TIMEOUT)
            .map_err(|_| IpcError::new(ErrorCode::Busy, "the daemon did not answer in time"))?
    }

    fn snapshot(&self, topics: &[Topic]) -> Vec<Event> {
        let (reply_tx, reply_rx) = bounded(1);
        if self
            .tx
            .send(EngineMsg::Snapshot(topics.to_vec(), reply_tx))
            .is_err()
        {
            return Vec::new();
        }
        reply_rx.recv_timeout(REQUEST_TIMEOUT).unwrap_or_default()
    }
}

/// Runs the daemon: binds the control socket (refusing to start when another headroomd
/// owns it), starts the PipeWire bus and the profile watcher, and serves until SIGTERM or
/// SIGINT. Call [`crate::block_shutdown_signals`] first, before any thread exists.
pub fn run(config: DaemonConfig) -> anyhow::Result<()> {
    let mut paths = StorePaths::from_env().context("finding the config directory")?;
    if let Some(p) = &config.config_path {
        paths.config_file = p.clone();
    }
    let state_dir = paths
        .state_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let store = ProfileStore::open(paths);
    for w in store.take_warnings() {
        tracing::warn!("{w}");
    }

    let (tx, rx) = unbounded();
    let broadcaster = Broadcaster::new();
    let socket = headroom_ipc::default_socket_path();
    let handler: Arc<dyn Handler> = Arc::new(EngineHandler { tx: tx.clone() });
    let server_cfg = ServerConfig {
        daemon_version: env!("CARGO_PKG_VERSION").to_string(),
        ..ServerConfig::default()
    };
    let mut server = Server::start_with(&socket, handler, broadcaster.clone(), server_cfg)
        .with_context(|| format!("starting the control socket {}", socket.display()))?;
    tracing::info!("control socket at {}", socket.display());

    let effective = store.effective();
    let mut params = effective.chain;
    params.bypass |= config.bypass;
    let preferred = config
        .preferred_real_sink
        .clone()
        .or_else(|| effective.preferred_real_sink.clone());
    let (pw_tx, pw_rx) = unbounded();
    let bus = AudioBus::start(
        BusOptions {
            params,
            preferred_real_sink: preferred,
            ..BusOptions::default()
        },
        pw_tx,
    )?;

    let (prof_tx, prof_rx) = unbounded();
    let _watch = match store.watch(prof_tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("profile hot reload is off: {e}");
            None
        }
    };

    let sig_tx = tx.clone();
    crate::spawn_signal_waiter(move |sig| {
        tracing::info!("{sig} received, shutting down");
        let _ = sig_tx.send(EngineMsg::Shutdown(sig));
    })?;

    let history = match History::new(&HistoryConfig::default()) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("metrics history keeps memory only: {e}");
            History::new(&HistoryConfig {
                dir: None,
                ..HistoryConfig::default()
            })?
        }
    };

    let mut engine = Engine::new(store, bus, broadcaster, history, &config, state_dir);
    engine.publish(Event::started(env!("CARGO_PKG_VERSION")));
    let reason = engine.serve(&rx, &pw_rx, &prof_rx);
    tracing::info!("stopping: {reason}");
    engine.shutdown(reason);
    drop(rx);
    server.shutdown();
    Ok(())
}

struct Engine {
    started: Instant,
    store: ProfileStore,
    bus: AudioHandle,
    routing: RoutingController,
    broadcaster: Broadcaster,
    history: History,
    pipewire: PipewireState,
    real_sink: Option<String>,
    /// `--bypass` on the command line: bypass regardless of profile and overrides.
    force_bypass: bool,
    /// `--real-sink` on the command line: wins over the profile.
    cli_real_sink: Option<String>,
    routes_file: PathBuf,
    last_streams: BTreeMap<u32, StreamInfo>,
    last_taps: BTreeSet<u32>,
    last_history: Instant,
    last_timing: headroom_core::TimingSnapshot,
}

/// The warning to log when a preferred real sink is configured but the output plays elsewhere
/// (the preferred sink is absent), `None` when there is nothing to say.
fn preferred_sink_note(preferred: Option<&str>, playing: Option<&str>) -> Option<String> {
    let p = preferred?;
    (playing != Some(p)).then(|| {
        format!(
            "the preferred real sink `{p}` is not present; playing into {} until it appears",
            playing.unwrap_or("(no sink)")
        )
    })
}

fn core_route(r: Route) -> CoreRoute {
    match r {
        Route::Processed => CoreRoute::Processed,
        Route::Bypass => CoreRoute::Bypass,
    }
}

fn ipc_route(r: CoreRoute) -> Route {
    match r {
        CoreRoute::Processed => Route::Processed,
        CoreRoute::Bypass => Route::Bypass,
    }
}

fn to_ipc_value(v: &headroom_profile::SettingValue) -> SettingValue {
    use headroom_profile::SettingValue as C;
    match v {
        C::Bool(b) => SettingValue::Bool(*b),
        C::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => SettingValue::Int(*n as i64),
        C::Number(n) => SettingValue::Float(*n),
        C::String(s) => SettingValue::String(s.clone()),
    }
}

fn to_core_value(v: &SettingValue) -> headroom_profile::SettingValue {
    use headroom_profile::SettingValue as C;
    match v {
        SettingValue::Bool(b) => C::Bool(*b),
        SettingValue::Int(n) => C::Number(*n as f64),
        SettingValue::Float(n) => C::Number(*n),
        SettingValue::String(s) => C::String(s.clone()),
    }
}

fn store_error(e: StoreError) -> IpcError {
    use headroom_profile::ErrorKind;
    match &e {
        StoreError::Profile(pe) if pe.kind == ErrorKind::UnknownKey => {
            IpcError::new(ErrorCode::UnknownKey, e.to_string())
        }
        StoreError::Profile(_) | StoreError::Config(_) => {
            IpcError::new(ErrorCode::InvalidValue, e.to_string())
        }
        StoreError::NotFound { .. } => IpcError::new(ErrorCode::NotFound, e.to_string()),
        _ => IpcError::internal(e.to_string()),
    }
}

fn stream_info(s: &StreamRoute, reduction: Option<f32>) -> StreamInfo {
    StreamInfo {
        node_id: s.node_id,
        app: s.app.clone(),
        binary: s.binary.clone(),
        media_name: s.media_name.clone(),
        matched_rule: s.matched.as_ref().map(|m| m.description.clone()),
        route: s.route.map(ipc_route).unwrap_or(Route::Bypass),
        target: s.linked_to.clone().or_else(|| s.target.clone()),
        layer_a_reduction_db: reduction,
    }
}

/// Loads the persisted runtime route rules (newest first); a corrupt file is reported, kept
/// aside as `routes.json.corrupt` and ignored, a rule whose pattern is not a valid glob is
/// reported and skipped.
fn load_user_rules(path: &Path) -> UserRules {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return UserRules::new(),
        Err(e) => {
            tracing::warn!(
                "cannot read {}: {e}; starting without user rules",
                path.display()
            );
            return UserRules::new();
        }
    };
    match serde_json::from_str::<Vec<(String, Route)>>(&text) {
        Ok(rules) => rules
            .into_iter()
            .filter_map(|(app, r)| match UserRule::new(&app, core_route(r)) {
                Ok(rule) => Some(rule),
                Err(e) => {
                    tracing::warn!("{}: skipping the rule `{app}`: {e}", path.display());
                    None
                }
            })
            .collect(),
        Err(e) => {
            let backup = path.with_extension("json.corrupt");
            let _ = std::fs::rename(path, &backup);
            tracing::warn!(
                "{} is corrupt ({e}); moved to {} and starting without user rules",
                path.display(),
                backup.display()
            );
            UserRules::new()
        }
    }
}

impl Engine {
    fn new(
        store: ProfileStore,
        bus: AudioHandle,
        broadcaster: Broadcaster,
        history: History,
        config: &DaemonConfig,
        state_dir: PathBuf,
    ) -> Self {
        let profile = store.effective();
        let mut routing = RoutingController::new(
            BUS_SINK_NAME,
            profile.layer_a,
            profile.chain.agc.target_lufs,
        );
        let routes_file = state_dir.join(ROUTES_FILE_NAME);
        let user_rules = load_user_rules(&routes_file);
        // Nothing to send yet: moves are held until the bus is ready.
        let _ = routing.set_profile_rules(profile.route.clone());
        let _ = routing.set_user_rules(user_rules);
        let timing = bus.timing().snapshot();
        Engine {
            started: Instant::now(),
            store,
            bus,
            routing,
            broadcaster,
            history,
            pipewire: PipewireState::Disconnected {
                reason: "connecting".into(),
            },
            real_sink: None,
            force_bypass: config.bypass,
            cli_real_sink: config.preferred_real_sink.clone(),
            routes_file,
            last_streams: BTreeMap::new(),
            last_taps: BTreeSet::new(),
            last_history: Instant::now(),
            last_timing: timing,
        }
    }

    fn publish(&self, ev: Event) {
        self.broadcaster.publish(&ev);
    }

    fn send_all(&self, cmds: Vec<PwCommand>) {
        for c in cmds {
            if let Err(e) = self.bus.send(c) {
                tracing::warn!("PipeWire thread unavailable: {e}");
                return;
            }
        }
    }

    /// Serves until shutdown; returns the reason.
    fn serve(
        &mut self,
        rx: &Receiver<EngineMsg>,
        pw_rx: &Receiver<PwEvent>,
        prof_rx: &Receiver<ProfileEvent>,
    ) -> String {
        let ticker = tick(TICK);
        loop {
            select! {
                recv(rx) -> msg => match msg {
                    Ok(EngineMsg::Request(req, reply)) => {
                        let r = self.handle(req);
                        let _ = reply.send(r);
                    }
                    Ok(EngineMsg::Snapshot(topics, reply)) => {
                        let _ = reply.send(self.snapshot(&topics));
                    }
                    Ok(EngineMsg::Shutdown(sig)) => return format!("{sig} received"),
                    Err(_) => return "control channel closed".into(),
                },
                recv(pw_rx) -> ev => match ev {
                    Ok(ev) => self.on_pw_event(ev),
                    Err(_) => return "the PipeWire thread ended".into(),
                },
                recv(prof_rx) -> ev => {
                    if let Ok(ev) = ev {
                        self.on_profile_event(ev);
                    }
                }
                recv(ticker) -> _ => self.on_tick(),
            }
        }
    }

    fn on_pw_event(&mut self, ev: PwEvent) {
        match &ev {
            PwEvent::Connected => {
                tracing::info!("connected to PipeWire");
                self.pipewire = PipewireState::Connected;
            }
            PwEvent::Disconnected { reason } => {
                tracing::warn!("PipeWire connection lost: {reason}; reconnecting");
                self.pipewire = PipewireState::Disconnected {
                    reason: reason.clone(),
                };
            }
            PwEvent::BusReady { latency_frames, .. } => {
                tracing::info!(latency_frames, "processed sink `{BUS_SINK_NAME}` is ready");
            }
            PwEvent::RealSinkChanged { name } => {
                tracing::info!("playing into {}", name.as_deref().unwrap_or("(no sink)"));
                let preferred = self.preferred_real_sink();
                if let Some(note) = preferred_sink_note(preferred.as_deref(), name.as_deref()) {
                    tracing::warn!("{note}");
                }
                self.real_sink = name.clone();
            }
            PwEvent::WirePlumberMissing => {
                tracing::warn!("the session manager (WirePlumber) is gone; streams cannot be routed until it is back");
            }
            PwEvent::SessionIncomplete => tracing::warn!(
                "the session manager does not link headroom's streams (WirePlumber was restarted \
                 without PipeWire?); restart PipeWire and WirePlumber together to recover"
            ),
            PwEvent::SessionWhole => tracing::info!("the session is whole again"),
            _ => {}
        }
        let graph = self.bus.graph();
        let cmds = {
            let g = graph.read();
            self.routing.on_event(&ev, Some(&g))
        };
        self.send_all(cmds);
        self.publish_routing_deltas();
    }

    fn on_profile_event(&mut self, ev: ProfileEvent) {
        match ev {
            ProfileEvent::Changed {
                profile, detail, ..
            } => {
                tracing::info!("profile `{}` (re)loaded", profile.name);
                self.apply(&profile, detail);
                self.publish(Event::profile_changed(
                    self.store.active_name(),
                    self.profile_source(),
                ));
            }
            ProfileEvent::Error {
                file,
                line,
                column,
                message,
            } => {
                tracing::warn!(
                    "{}:{line}:{column}: {message} (keeping the last good profile)",
                    file.display()
                );
                self.publish(Event::ProfileError(headroom_ipc::event::ProfileError {
                    file: file.display().to_string(),
                    line: (line > 0).then_some(line as u32),
                    column: (column > 0).then_some(column as u32),
                    message,
                }));
            }
        }
    }

    fn profile_source(&self) -> ProfileSource {
        match self.store.active_source() {
            crate::profiles::ProfileSource::Shipped | crate::profiles::ProfileSource::BuiltIn => {
                ProfileSource::Shipped
            }
            _ => ProfileSource::User,
        }
    }

    /// Pushes an effective profile to the running parts: chain parameters (smoothed by the
    /// chain), Layer A, routing rules, preferred sink.
    fn apply(&mut self, profile: &Profile, diff: ProfileDiff) {
        let mut params = profile.chain;
        params.bypass |= self.force_bypass;
        self.bus.set_params(params);
        self.routing.set_bus_target(profile.chain.agc.target_lufs);
        let mut cmds = Vec::new();
        if diff.layer_a || diff.layer_a_toggled {
            cmds.extend(self.routing.set_layer_a(profile.layer_a));
        }
        if diff.routing {
            cmds.extend(self.routing.set_profile_rules(profile.route.clone()));
        }
        if diff.sink && self.cli_real_sink.is_none() {
            if let Some(p) = profile.preferred_real_sink.as_deref() {
                let graph = self.bus.graph();
                let present = graph
                    .read()
                    .real_sinks()
                    .any(|n| n.name.as_deref() == Some(p));
                if !present {
                    if let Some(note) = preferred_sink_note(Some(p), self.real_sink.as_deref()) {
                        tracing::warn!("{note}");
                    }
                }
            }
            cmds.push(PwCommand::SetPreferredSink(
                profile.preferred_real_sink.clone(),
            ));
        } else if diff.sink {
            tracing::warn!(
                "preferred_real_sink = {:?} is not applied: `--real-sink {}` is in force",
                profile.preferred_real_sink.as_deref().unwrap_or(""),
                self.cli_real_sink.as_deref().unwrap_or_default()
            );
        }
        self.send_all(cmds);
        self.publish_routing_deltas();
    }

    /// The preferred real sink in force: `--real-sink`, else the effective profile's.
    fn preferred_real_sink(&self) -> Option<String> {
        self.cli_real_sink
            .clone()
            .or_else(|| self.store.effective().preferred_real_sink.clone())
    }

    fn on_tick(&mut self) {
        let taps = self.bus.taps();
        let cmds = self.routing.tick(&taps, TICK.as_secs_f32());
        self.send_all(cmds);
        let m = self.bus.meters().load();
        if self.broadcaster.has_subscribers(Topic::Meters) {
            self.publish(Event::meters_tick(self.meters(), self.layer_a_levels()));
        }
        if self.last_history.elapsed() >= Duration::from_secs(1) {
            self.last_history = Instant::now();
            let t = self.bus.timing().snapshot();
            let calls = t.call_count.saturating_sub(self.last_timing.call_count);
            let mean = if calls > 0 {
                t.sum_us.saturating_sub(self.last_timing.sum_us) as f32 / calls as f32
            } else {
                0.0
            };
            let sample = Sample {
                unix_ms: crate::history::now_unix_ms(),
                in_momentary_lufs: m.in_momentary_lufs,
                in_short_term_lufs: m.in_short_term_lufs,
                out_momentary_lufs: m.out_momentary_lufs,
                out_short_term_lufs: m.out_short_term_lufs,
                agc_gain_db: m.agc_gain_db,
                compressor_gr_db: m.compressor_gr_db,
                limiter_gr_db: m.limiter_gr_db,
                dsp_mean_us: mean,
                dsp_max_us: t.max_us as f32,
                spikes: t.spike_count,
                xruns: self.bus.xruns(),
            };
            self.last_timing = t;
            if let Err(e) = self.history.record(sample) {
                tracing::debug!("history: {e}");
            }
        }
    }

    /// The bus meters as published by the audio thread, with the target and bypass the engine
    /// has put in force (the audio thread only publishes while audio flows: the bus suspends
    /// when idle, and the parameters must show at once).
    fn meters(&self) -> headroom_ipc::Meters {
        let params = self.bus.params();
        let mut m = meters_from_core(&self.bus.meters().load());
        m.target_lufs = params.agc.target_lufs;
        m.bypass = params.bypass;
        m
    }

    fn layer_a_levels(&self) -> Vec<LayerALevel> {
        self.routing
            .layer_a_state()
            .into_iter()
            .map(|s| LayerALevel {
                node_id: s.node_id,
                app: s.app,
                // The stream's own loudness, before Layer A (as IPC.md documents).
                short_term_lufs: s.raw_lufs.unwrap_or(headroom_ipc::LUFS_FLOOR as f64) as f32,
                reduction_db: s.reduction_db,
            })
            .collect()
    }

    fn streams(&self) -> BTreeMap<u32, StreamInfo> {
        let reductions: BTreeMap<u32, f32> = self
            .routing
            .layer_a_state()
            .into_iter()
            .map(|s| (s.node_id, s.reduction_db))
            .collect();
        self.routing
            .state()
            .iter()
            .map(|s| {
                (
                    s.node_id,
                    stream_info(s, reductions.get(&s.node_id).copied()),
                )
            })
            .collect()
    }

    /// Publishes `stream_routed` / `stream_removed` / `layer_a_*` for what changed since the
    /// last call.
    fn publish_routing_deltas(&mut self) {
        let now = self.streams();
        for (id, info) in &now {
            let changed = self.last_streams.get(id).is_none_or(|old| {
                old.route != info.route || old.target != info.target || old.app != info.app
            });
            if changed {
                self.publish(Event::StreamRouted(info.clone()));
            }
        }
        for id in self.last_streams.keys() {
            if !now.contains_key(id) {
                self.publish(Event::StreamRemoved(headroom_ipc::event::StreamRemoved {
                    node_id: *id,
                }));
            }
        }
        let taps: BTreeSet<u32> = self
            .routing
            .layer_a_state()
            .iter()
            .map(|s| s.node_id)
            .collect();
        for id in taps.difference(&self.last_taps) {
            let app = now.get(id).map(|s| s.app.clone()).unwrap_or_default();
            self.publish(Event::LayerAAttached(headroom_ipc::event::LayerAAttached {
                node_id: *id,
                app,
            }));
        }
        for id in self.last_taps.difference(&taps) {
            self.publish(Event::LayerADetached(headroom_ipc::event::LayerADetached {
                node_id: *id,
            }));
        }
        self.last_streams = now;
        self.last_taps = taps;
    }

    fn status(&self) -> Status {
        let t = self.bus.timing().snapshot();
        Status {
            daemon_version: env!("CARGO_PKG_VERSION").to_string(),
            protocol_version: headroom_ipc::PROTOCOL_VERSION,
            uptime_s: self.started.elapsed().as_secs(),
            pipewire: self.pipewire.clone(),
            real_sink: self.real_sink.clone(),
            processed_sink: BUS_SINK_NAME.to_string(),
            profile: self.store.active_name(),
            bypass: self.bus.params().bypass,
            dsp: dsp_timing_from_core(&t),
            xruns: self.bus.xruns(),
            meters: self.meters(),
            streams: self.last_streams.len() as u32,
        }
    }

    fn routes(&self) -> Routes {
        let mut rules: Vec<RouteRule> = self
            .routing
            .router()
            .user_rules()
            .iter()
            .map(|r| RouteRule {
                app: r.app.to_string(),
                route: ipc_route(r.route),
                source: headroom_ipc::RuleSource::User,
            })
            .collect();
        let profile = self.store.effective();
        rules.extend(profile.route.rules.iter().map(|r| {
            RouteRule {
                app: r
                    .matches
                    .iter()
                    .map(|(k, g)| format!("{k}={g}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                route: ipc_route(r.route),
                source: headroom_ipc::RuleSource::Profile,
            }
        }));
        Routes {
            rules,
            streams: self.streams().into_values().collect(),
        }
    }

    fn profile_list(&self) -> ProfileList {
        let active = self.store.active_name();
        ProfileList {
            profiles: self
                .store
                .list()
                .into_iter()
                .map(|p| ProfileEntry {
                    active: p.active,
                    source: match p.source {
                        crate::profiles::ProfileSource::Shipped
                        | crate::profiles::ProfileSource::BuiltIn => ProfileSource::Shipped,
                        _ => ProfileSource::User,
                    },
                    name: p.name,
                })
                .collect(),
            active,
        }
    }

    fn settings(&self) -> Settings {
        let effective = self.store.effective();
        let overrides = self.store.overrides();
        Settings {
            settings: Profile::keys()
                .into_iter()
                .filter_map(|info| {
                    let value = effective.get(info.key).ok()?;
                    Some(SettingEntry {
                        key: info.key.to_string(),
                        value: to_ipc_value(&value),
                        default: to_ipc_value(&info.default),
                        overridden: overrides.get(info.key).is_some(),
                    })
                })
                .collect(),
        }
    }

    fn setting(&self, key: &str) -> Result<SettingEntry, IpcError> {
        let unknown =
            |e: headroom_profile::ProfileError| IpcError::new(ErrorCode::UnknownKey, e.message);
        let info = Profile::key_info(key).map_err(unknown)?;
        let value = self.store.effective().get(key).map_err(unknown)?;
        Ok(SettingEntry {
            key: key.to_string(),
            value: to_ipc_value(&value),
            default: to_ipc_value(&info.default),
            overridden: self.store.overrides().get(key).is_some(),
        })
    }

    fn after_store_change(&mut self, diff: ProfileDiff, changed_keys: &[String]) {
        let profile = self.store.effective();
        self.apply(&profile, diff);
        for key in changed_keys {
            if let Ok(v) = profile.get(key) {
                self.publish(Event::setting_changed(key.clone(), to_ipc_value(&v)));
            }
        }
    }

    fn save_user_rules(&self, rules: &UserRules) -> Result<(), IpcError> {
        let rules: Vec<(String, Route)> = rules
            .iter()
            .map(|r| (r.app.to_string(), ipc_route(r.route)))
            .collect();
        let json =
            serde_json::to_vec_pretty(&rules).map_err(|e| IpcError::internal(e.to_string()))?;
        if let Some(dir) = self.routes_file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| IpcError::internal(e.to_string()))?;
        }
        crate::state_file::write_atomic(&self.routes_file, &json)
            .map_err(|e| IpcError::internal(format!("saving {}: {e}", self.routes_file.display())))
    }

    fn handle(&mut self, req: Request) -> Result<Response, IpcError> {
        req.validate()?;
        match req {
            Request::Status => Ok(Response::Status(self.status())),
            Request::ProfileList => Ok(Response::ProfileList(self.profile_list())),
            Request::ProfileShow { name } => {
                let name = name.unwrap_or_else(|| self.store.active_name());
                let profile = self.store.load(&name).map_err(store_error)?;
                let info = self.store.list().into_iter().find(|p| p.name == name);
                let (source, path) = match info.map(|i| i.source) {
                    Some(crate::profiles::ProfileSource::User { path, .. })
                    | Some(crate::profiles::ProfileSource::Path(path)) => {
                        (ProfileSource::User, path.display().to_string())
                    }
                    _ => (
                        ProfileSource::Shipped,
                        format!("(built in) profiles/{name}.toml"),
                    ),
                };
                let toml = match &source {
                    ProfileSource::User => {
                        std::fs::read_to_string(&path).unwrap_or_else(|_| profile.to_toml())
                    }
                    ProfileSource::Shipped => headroom_profile::shipped_profiles()
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, t)| t.to_string())
                        .unwrap_or_else(|| profile.to_toml()),
                };
                Ok(Response::ProfileShow(ProfileShow {
                    name,
                    source,
                    path,
                    toml,
                }))
            }
            Request::ProfileUse { name } => {
                let diff = self.store.use_profile(&name).map_err(store_error)?;
                self.after_store_change(diff, &[]);
                let active = self.store.active_name();
                self.publish(Event::profile_changed(
                    active.clone(),
                    self.profile_source(),
                ));
                Ok(Response::ProfileActive(ProfileActive { name: active }))
            }
            Request::ProfileReload => {
                match self.store.reload() {
                    Some(ProfileEvent::Error {
                        file,
                        line,
                        column,
                        message,
                    }) => {
                        let msg = format!("{}:{line}:{column}: {message}", file.display());
                        self.on_profile_event(ProfileEvent::Error {
                            file,
                            line,
                            column,
                            message,
                        });
                        return Err(IpcError::new(
                            ErrorCode::InvalidValue,
                            format!("{msg} (the last good profile stays active)"),
                        ));
                    }
                    Some(ev) => self.on_profile_event(ev),
                    None => {}
                }
                Ok(Response::ProfileActive(ProfileActive {
                    name: self.store.active_name(),
                }))
            }
            Request::RouteList => Ok(Response::Routes(self.routes())),
            Request::RouteSet { app, route } => {
                let rule = UserRule::new(&app, core_route(route)).map_err(|e| {
                    IpcError::invalid_params(format!("`{app}` is not a valid glob: {e}"))
                })?;
                let mut rules = self.routing.router().user_rules().clone();
                rules.set(rule);
                self.save_user_rules(&rules)?;
                let cmds = self.routing.set_user_rules(rules);
                self.send_all(cmds);
                self.publish(Event::rule_changed(
                    app,
                    Some(route),
                    headroom_ipc::RuleSource::User,
                ));
                self.publish_routing_deltas();
                Ok(Response::Ok)
            }
            Request::RouteUnset { app } => {
                let mut rules = self.routing.router().user_rules().clone();
                if !rules.unset(&app) {
                    return Err(IpcError::not_found(format!("no user rule for `{app}`")));
                }
                self.save_user_rules(&rules)?;
                let cmds = self.routing.set_user_rules(rules);
                self.send_all(cmds);
                self.publish(Event::rule_changed(
                    app,
                    None,
                    headroom_ipc::RuleSource::User,
                ));
                self.publish_routing_deltas();
                Ok(Response::Ok)
            }
            Request::SettingGet { key } => Ok(Response::Setting(self.setting(&key)?)),
            Request::SettingSet { key, value } => {
                let diff = self
                    .store
                    .set_override(&key, to_core_value(&value))
                    .map_err(store_error)?;
                self.after_store_change(diff, std::slice::from_ref(&key));
                Ok(Response::Setting(self.setting(&key)?))
            }
            Request::SettingList => Ok(Response::Settings(self.settings())),
            Request::SettingReset { key, all } => {
                let keys: Vec<String> = if all {
                    self.store
                        .overrides()
                        .iter()
                        .map(|(k, _)| k.to_string())
                        .collect()
                } else {
                    key.iter().cloned().collect()
                };
                let diff = if all {
                    self.store.reset_all()
                } else {
                    self.store.reset(key.as_deref().unwrap_or_default())
                }
                .map_err(store_error)?;
                self.after_store_change(diff, &keys);
                let settings = keys.iter().filter_map(|k| self.setting(k).ok()).collect();
                Ok(Response::Settings(Settings { settings }))
            }
            Request::BypassSet { mode } => {
                let current = self.store.effective().chain.bypass;
                let want = match mode {
                    BypassMode::On => true,
                    BypassMode::Off => false,
                    BypassMode::Toggle => !current,
                };
                let diff = self
                    .store
                    .set_override("bypass", headroom_profile::SettingValue::Bool(want))
                    .map_err(store_error)?;
                self.after_store_change(diff, &["bypass".to_string()]);
                Ok(Response::Bypass(BypassState {
                    bypass: self.bus.params().bypass,
                }))
            }
            Request::Subscribe { .. } => Err(IpcError::bad_request(
                "subscribe is handled by the connection, not the engine",
            )),
            Request::History { since_secs } => {
                let since = since_secs
                    .map(|s| crate::history::now_unix_ms().saturating_sub(s * 1000))
                    .unwrap_or(0);
                let samples = self
                    .history
                    .query(since)
                    .map_err(|e| IpcError::internal(e.to_string()))?;
                Ok(Response::History(headroom_ipc::History {
                    interval_ms: self.history.interval_ms(),
                    samples: samples
                        .into_iter()
                        .map(|s| headroom_ipc::HistorySample {
                            unix_ms: s.unix_ms,
                            in_short_term_lufs: s.in_short_term_lufs,
                            out_short_term_lufs: s.out_short_term_lufs,
                            agc_gain_db: s.agc_gain_db,
                            compressor_gr_db: s.compressor_gr_db,
                            limiter_gr_db: s.limiter_gr_db,
                            dsp_mean_us: s.dsp_mean_us,
                            dsp_max_us: s.dsp_max_us,
                            spikes: s.spikes,
                            xruns: s.xruns,
                        })
                        .collect(),
                }))
            }
        }
    }

    fn snapshot(&self, topics: &[Topic]) -> Vec<Event> {
        let mut out = Vec::new();
        for t in topics {
            match t {
                Topic::Daemon => out.push(Event::DaemonSnapshot(Box::new(self.status()))),
                Topic::Routing => out.push(Event::RoutingSnapshot(self.routes())),
                Topic::Meters => out.push(Event::meters_tick(self.meters(), self.layer_a_levels())),
                Topic::Profile => out.push(Event::ProfileSnapshot(self.profile_list())),
                Topic::Settings => out.push(Event::SettingsSnapshot(self.settings())),
            }
        }
        out
    }

    fn shutdown(mut self, reason: String) {
        self.publish(Event::shutdown(reason));
        let cmds = self.routing.shutdown();
        self.send_all(cmds);
        let _ = self.bus.send(PwCommand::Shutdown);
        if let Err(e) = self.history.flush_to_disk() {
            tracing::debug!("history flush: {e}");
        }
        let stats = self.bus.stats();
        if let Err(e) = self.bus.join() {
            tracing::warn!("PipeWire thread: {e}");
        }
        tracing::info!(
            callbacks = stats.timing.call_count,
            xruns = stats.xruns,
            mean_us = format!("{:.1}", stats.timing.mean_us()),
            max_us = stats.timing.max_us,
            spikes = stats.timing.spike_count,
            "audio bus stopped"
        );
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
