//! The thin thread around the [`Engine`]: channels in, outputs out.
//!
//! [`run`] is the daemon: it builds the engine's parts (profile store, PipeWire bus, control
//! socket, file watcher, signal waiter, history), then feeds the engine on the calling thread
//! until SIGTERM/SIGINT/SIGHUP. [`EngineThread`] does the same feeding on a thread of its own, for
//! tests that run a real engine in-process (with a real bus, or with none at all).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_channel::{at, bounded, select, tick, unbounded, Receiver, RecvTimeoutError, Sender};
use headroom_ipc::{ErrorCode, Event, IpcError, Request, Topic};

use super::{Engine, Input, Output, ROUTES_FILE_NAME, TICK};
use crate::code_pages::Released;
use crate::control::{Broadcaster, Handler, Reply, Server, ServerConfig};
use crate::history::{History, HistoryConfig};
use crate::notify::{Bus as NotifyBus, Notifications};
use crate::profiles::{ProfileEvent, ProfileStore, StorePaths};
use crate::pw::{AudioBus, BusOptions, BusShared, CommandSink, PwCommand, PwEvent};
use crate::DaemonConfig;

/// How long a connection thread waits for the engine to take up one request before it replies
/// `busy` (the request is then withdrawn and never applied). A request the engine has taken
/// up is always answered with its real outcome, however long it takes.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

type Inspect = Box<dyn FnOnce(&Engine) + Send>;

/// Who a queued request belongs to: [`WAITING`] until the engine takes it up ([`TAKEN`]) or
/// the connection gives up on it ([`WITHDRAWN`]); exactly one of the two wins.
type Claim = Arc<AtomicU8>;
const WAITING: u8 = 0;
const TAKEN: u8 = 1;
const WITHDRAWN: u8 = 2;

enum EngineMsg {
    Request(Request, Claim, Sender<Result<Reply, IpcError>>),
    Snapshot(Vec<Topic>, Sender<Vec<Event>>),
    Inspect(Inspect),
    Shutdown(String),
}

/// The control socket's view of the engine: forwards requests to the engine's thread.
#[derive(Clone)]
pub struct EngineHandler {
    tx: Sender<EngineMsg>,
}

impl Handler for EngineHandler {
    fn handle(&self, req: Request) -> Result<Reply, IpcError> {
        let (reply_tx, reply_rx) = bounded(1);
        let claim: Claim = Arc::new(AtomicU8::new(WAITING));
        let gone = || IpcError::new(ErrorCode::Busy, "the daemon is shutting down");
        self.tx
            .send(EngineMsg::Request(req, claim.clone(), reply_tx))
            .map_err(|_| gone())?;
        match reply_rx.recv_timeout(REQUEST_TIMEOUT) {
            Ok(r) => r,
            Err(RecvTimeoutError::Disconnected) => Err(gone()),
            Err(RecvTimeoutError::Timeout) => {
                if claim
                    .compare_exchange(WAITING, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    // Not taken up: withdrawn, it will never be applied.
                    return Err(IpcError::new(
                        ErrorCode::Busy,
                        "the daemon is busy; the request was not applied",
                    ));
                }
                // The engine is working on it: its outcome is the answer.
                reply_rx.recv().unwrap_or_else(|_| Err(gone()))
            }
        }
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

/// Commands sent to the PipeWire side so far, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SentCommands {
    /// Every command.
    pub total: u64,
    /// [`PwCommand::MoveStream`]s.
    pub moves: u64,
    /// [`PwCommand::AttachTap`]s.
    pub taps_attached: u64,
}

#[derive(Default)]
struct Counters {
    total: AtomicU64,
    moves: AtomicU64,
    taps_attached: AtomicU64,
}

impl Counters {
    fn count(&self, cmd: &PwCommand) {
        self.total.fetch_add(1, Ordering::Relaxed);
        match cmd {
            PwCommand::MoveStream { .. } => self.moves.fetch_add(1, Ordering::Relaxed),
            PwCommand::AttachTap { .. } => self.taps_attached.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    fn load(&self) -> SentCommands {
        SentCommands {
            total: self.total.load(Ordering::Relaxed),
            moves: self.moves.load(Ordering::Relaxed),
            taps_attached: self.taps_attached.load(Ordering::Relaxed),
        }
    }
}

/// Where the engine's outputs go.
struct Outlets<'a> {
    commands: &'a dyn CommandSink,
    bus: &'a BusShared,
    broadcaster: &'a Broadcaster,
    counters: &'a Counters,
    /// Desktop notifications of alerts (`[alerts] notify`, followed on every reload).
    notifications: Option<&'a Notifications>,
}

impl Outlets<'_> {
    /// Carries `outputs` out in order; the reply (or snapshot) goes to `reply` (`snapshot`).
    fn dispatch(
        &self,
        outputs: Vec<Output>,
        reply: Option<&Sender<Result<Reply, IpcError>>>,
        snapshot: Option<&Sender<Vec<Event>>>,
    ) {
        let mut pw_up = true;
        let mut warning = None;
        for o in outputs {
            match o {
                Output::Warning(w) => {
                    // Several are joined, as one reply carries one warning.
                    warning = Some(match warning.take() {
                        Some(before) => format!("{before}; {w}"),
                        None => w,
                    });
                }
                Output::Reply(r) => {
                    if let Some(tx) = reply {
                        let _ = tx.send(r.map(|result| Reply {
                            result,
                            warning: warning.take(),
                        }));
                    }
                }
                Output::Snapshot(events) => {
                    if let Some(tx) = snapshot {
                        let _ = tx.send(events);
                    }
                }
                Output::Publish(ev) => {
                    if let Some(n) = self.notifications {
                        n.offer(&ev);
                    }
                    self.broadcaster.publish(&ev)
                }
                Output::Params(p) => self.bus.set_params(p),
                Output::AlertsNotify(on) => {
                    if let Some(n) = self.notifications {
                        n.set_enabled(on);
                    }
                }
                Output::Pw(cmd) => {
                    self.counters.count(&cmd);
                    if pw_up {
                        if let Err(e) = self.commands.send_command(cmd) {
                            tracing::warn!("PipeWire thread unavailable: {e}");
                            pw_up = false;
                        }
                    }
                }
            }
        }
    }
}

/// How long after the bus is first ready start-up counts as over (the routing of the streams
/// already playing applied): then the start-up code's pages are released.
const START_UP_SETTLE: Duration = Duration::from_secs(1);

/// Feeds `engine` until it is told to stop (or its inputs go away), then shuts it down.
/// Returns why it stopped.
fn serve(
    engine: &mut Engine,
    outlets: &Outlets<'_>,
    rx: &Receiver<EngineMsg>,
    pw_rx: &Receiver<PwEvent>,
    prof_rx: &Receiver<ProfileEvent>,
) -> String {
    outlets.dispatch(engine.on(Input::Start), None, None);
    let ticker = tick(TICK);
    // Without a file watcher (it could not start) the profile channel is closed: wait on a
    // channel that never delivers instead of waking up for the closed one over and over.
    let never = crossbeam_channel::never();
    let mut prof_rx = prof_rx;
    let no_ticks = crossbeam_channel::never();
    // Start-up is over once the bus is first ready and the engine has had a moment to apply
    // routing to the streams already playing: then the code only start-up ran is released
    // from the resident memory, once (`code_pages`).
    let mut release_code_at: Option<Instant> = None;
    let mut code_released = false;
    let reason = loop {
        // Idle and nobody subscribed: no ticks until the next input (see `Engine::is_idle`).
        let ticks = if engine.is_idle() && outlets.broadcaster.subscriber_count() == 0 {
            &no_ticks
        } else {
            &ticker
        };
        let release_code = release_code_at.map_or_else(crossbeam_channel::never, at);
        select! {
            recv(rx) -> msg => match msg {
                Ok(EngineMsg::Request(req, claim, reply)) => {
                    // A request its connection gave up on (it answered `busy`) is dropped.
                    if claim
                        .compare_exchange(WAITING, TAKEN, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        outlets.dispatch(engine.on(Input::Request(req)), Some(&reply), None);
                    }
                }
                Ok(EngineMsg::Snapshot(topics, reply)) => {
                    outlets.dispatch(engine.on(Input::Snapshot(topics)), None, Some(&reply));
                }
                Ok(EngineMsg::Inspect(f)) => f(engine),
                Ok(EngineMsg::Shutdown(why)) => break why,
                Err(_) => break "control channel closed".into(),
            },
            recv(pw_rx) -> ev => match ev {
                Ok(ev) => {
                    if !code_released && matches!(ev, PwEvent::BusReady { .. }) {
                        release_code_at = Some(Instant::now() + START_UP_SETTLE);
                    }
                    outlets.dispatch(engine.on(Input::Pw(ev)), None, None)
                }
                Err(_) => break "the PipeWire thread ended".into(),
            },
            recv(prof_rx) -> ev => match ev {
                Ok(ev) => outlets.dispatch(engine.on(Input::Profile(ev)), None, None),
                Err(_) => prof_rx = &never,
            },
            recv(release_code) -> _ => {
                release_code_at = None;
                code_released = true;
                match crate::code_pages::release_code_pages() {
                    Ok(Released::Dropped { resident_kb }) => tracing::info!(
                        "start-up over: {resident_kb} kB of resident code released"
                    ),
                    Ok(r) => tracing::info!("start-up over: code kept resident ({r:?})"),
                    Err(e) => tracing::info!("start-up over: code kept resident ({e})"),
                }
            }
            recv(ticks) -> _ => {
                outlets.dispatch(engine.on(Input::Tick { now: Instant::now() }), None, None);
            }
        }
    };
    tracing::info!("stopping: {reason}");
    outlets.dispatch(
        engine.on(Input::Shutdown {
            reason: reason.clone(),
        }),
        None,
        None,
    );
    reason
}

/// Runs the daemon: takes the instance lock in the state directory and binds the control
/// socket (refusing to start when another headroomd holds either, see [`crate::instance`]),
/// starts the PipeWire bus and the profile watcher, and serves until SIGTERM, SIGINT or SIGHUP.
/// Call [`crate::block_shutdown_signals`] first, before any thread exists.
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
    let socket = headroom_ipc::default_socket_path();
    // A socket path that cannot be bound is said before anything is made for the daemon.
    crate::control::check_path(&socket)?;
    // One daemon per state directory, whatever its socket: taken before the state files,
    // the socket or PipeWire are touched, held until the end.
    let _instance = crate::instance::InstanceLock::acquire(&state_dir, &socket)?;
    // The store logs its start-up warnings itself, once each.
    let store = ProfileStore::open(paths);
    let _ = store.take_warnings();
    // `[alerts] notify` as the store read it at start-up (an invalid value leaves them off);
    // every reload of the files, hot or `profile.reload`, reports a change to the engine,
    // which passes it on (`Output::AlertsNotify`).
    let notifications = Notifications::new(NotifyBus::Session);
    notifications.set_enabled(store.alerts_notify());

    let (tx, rx) = unbounded();
    let broadcaster = Broadcaster::new();
    let handler: Arc<dyn Handler> = Arc::new(EngineHandler { tx: tx.clone() });
    let server_cfg = ServerConfig {
        daemon_version: env!("CARGO_PKG_VERSION").to_string(),
        ..ServerConfig::default()
    };
    let mut server = Server::start_with(&socket, handler, broadcaster.clone(), server_cfg)
        .with_context(|| format!("starting the control socket {}", socket.display()))?;
    tracing::info!("control socket at {}", socket.display());

    let effective = store.effective();
    let preferred = config
        .preferred_real_sink
        .clone()
        .or_else(|| effective.preferred_real_sink.clone());
    let (user_sink, promote_warning) =
        super::promote::load_user_sink(&state_dir.join(super::promote::PROMOTE_FILE_NAME));
    let (pw_tx, pw_rx) = unbounded();
    let bus = AudioBus::start(
        BusOptions {
            params: Engine::chain_params(&effective, config.bypass),
            preferred_real_sink: preferred,
            promote_default: config.promote_default || effective.promote_default,
            user_sink,
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
        let _ = sig_tx.send(EngineMsg::Shutdown(format!("{sig} received")));
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

    let shared = bus.shared();
    let mut engine = Engine::new(
        store,
        shared.clone(),
        history,
        state_dir.join(ROUTES_FILE_NAME),
        &config,
    );
    // Read (and moved aside when corrupt) before the engine, for the bus.
    engine.note_file_warning(promote_warning);
    let counters = Counters::default();
    let outlets = Outlets {
        commands: &bus,
        bus: &shared,
        broadcaster: &broadcaster,
        counters: &counters,
        notifications: Some(&notifications),
    };
    serve(&mut engine, &outlets, &rx, &pw_rx, &prof_rx);
    let stats = bus.stats();
    if let Err(e) = bus.join() {
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
    drop(rx);
    server.shutdown();
    // Stopped cleanly: the streams' volumes are back (the engine's shutdown restored them
    // before the bus stopped); the guard leaves them alone.
    crate::guard::dismiss();
    Ok(())
}

/// An [`Engine`] fed on a thread of its own, as [`run`] feeds it: requests through
/// [`EngineThread::handler`] (also a [`Handler`] for a control [`Server`]), the PipeWire
/// side's events from `pw_events`, profile changes from `profile_events`, a 100 ms ticker.
/// Its commands go to `commands` — an [`crate::pw::AudioHandle`] for a real bus, or a channel
/// that records them — and its events to `broadcaster`.
///
/// Stopping ([`EngineThread::stop`], or dropping it) shuts the engine down: routing and
/// volumes are undone and [`PwCommand::Shutdown`] is sent; joining the bus is the caller's.
pub struct EngineThread {
    tx: Sender<EngineMsg>,
    thread: Option<JoinHandle<String>>,
    counters: Arc<Counters>,
}

impl EngineThread {
    /// Starts feeding `engine` on a new thread.
    pub fn spawn(
        engine: Engine,
        commands: Box<dyn CommandSink + Send>,
        broadcaster: Broadcaster,
        pw_events: Receiver<PwEvent>,
        profile_events: Receiver<ProfileEvent>,
    ) -> std::io::Result<Self> {
        Self::spawn_notifying(
            engine,
            commands,
            broadcaster,
            pw_events,
            profile_events,
            None,
        )
    }

    /// [`EngineThread::spawn`], with its alerts also offered to `notifications`, which
    /// follow the engine's [`Output::AlertsNotify`] as in [`run`].
    pub fn spawn_notifying(
        mut engine: Engine,
        commands: Box<dyn CommandSink + Send>,
        broadcaster: Broadcaster,
        pw_events: Receiver<PwEvent>,
        profile_events: Receiver<ProfileEvent>,
        notifications: Option<Arc<Notifications>>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = unbounded();
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("headroom-engine".into())
            .spawn(move || {
                let bus = engine.bus().clone();
                let outlets = Outlets {
                    commands: commands.as_ref(),
                    bus: &bus,
                    broadcaster: &broadcaster,
                    counters: &c,
                    notifications: notifications.as_deref(),
                };
                serve(&mut engine, &outlets, &rx, &pw_events, &profile_events)
            })?;
        Ok(EngineThread {
            tx,
            thread: Some(thread),
            counters,
        })
    }

    /// The engine's request handler (cloneable; hand it to a control [`Server`]).
    pub fn handler(&self) -> EngineHandler {
        EngineHandler {
            tx: self.tx.clone(),
        }
    }

    /// Runs `f` on the engine's thread, between two inputs, and returns its result (`None`
    /// once the engine has stopped).
    pub fn inspect<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = bounded(1);
        self.tx
            .send(EngineMsg::Inspect(Box::new(move |e| {
                let _ = tx.send(f(e));
            })))
            .ok()?;
        rx.recv_timeout(REQUEST_TIMEOUT).ok()
    }

    /// Commands sent to the PipeWire side so far.
    pub fn commands_sent(&self) -> SentCommands {
        self.counters.load()
    }

    /// Shuts the engine down (see the type docs) and waits for its thread. Returns why it
    /// stopped.
    pub fn stop(mut self, reason: &str) -> String {
        self.stop_inner(reason)
    }

    fn stop_inner(&mut self, reason: &str) -> String {
        let _ = self.tx.send(EngineMsg::Shutdown(reason.to_string()));
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(why)) => why,
            Some(Err(_)) => "the engine thread panicked".into(),
            None => "already stopped".into(),
        }
    }
}

impl Drop for EngineThread {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_inner("dropped");
        }
    }
}
