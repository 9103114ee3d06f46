//! The engine: the daemon's single state owner, as a state machine.
//!
//! [`Engine::on`] takes one [`Input`] — a control request, a subscriber's snapshot request, an
//! event of the PipeWire thread, a profile file change, the 100 ms tick, start or shutdown —
//! and returns what has to happen as [`Output`]s: the reply, events to publish, commands for
//! the PipeWire thread, new chain parameters for the audio thread, desktop notifications on or
//! off. It is synchronous and does no waiting: no threads, no channels, no PipeWire. What it
//! reads from the bus (meters, timing, xruns, tap readings, the graph model) it reads from a
//! [`BusShared`], plain shared memory a test can fill in. It does file I/O of its own state only: the profile store,
//! `routes.json`, the history spill.
//!
//! [`run`] is the thin thread around it: it owns the channels, feeds the engine (control
//! requests from the socket's connection threads through [`EngineHandler`], [`PwEvent`]s,
//! [`ProfileEvent`]s, a 100 ms ticker) and carries the outputs out (replies, the
//! [`crate::control::Broadcaster`], the PipeWire thread, the parameter mailbox).
//!
//! Requests are handled by domain, one file each: [`routes`] (`route.*`), [`settings`]
//! (`setting.*`, and how a changed profile is applied), [`profiles`] (`profile.*` and file
//! changes), [`history`], [`bypass`]; [`status`] builds `status`, meters and snapshots;
//! [`pipewire`] follows the PipeWire thread.
//!
//! Nothing here runs on the audio thread: parameters reach it through the bus's lock-free
//! mailbox ([`Output::Params`]), meters come back through atomics.
//!
//! Runtime route rules (`route set`) persist in `$XDG_STATE_HOME/headroom/routes.json`,
//! written atomically; setting overrides persist through the profile store's state file; the
//! user's sink of auto-promote in `promote.json` ([`promote`]).

pub mod bypass;
pub mod history;
pub mod pipewire;
pub mod profiles;
pub mod promote;
pub mod routes;
mod run;
pub mod settings;
pub mod status;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use headroom_core::{ChainParams, TimingSnapshot};
use headroom_ipc::{Event, IpcError, PipewireState, Request, Response, StreamInfo, Topic};
use headroom_profile::Profile;

use crate::history::History;
use crate::names::BUS_SINK_NAME;
use crate::profiles::{ProfileEvent, ProfileStore};
use crate::pw::{BusShared, PwCommand, PwEvent};
use crate::routing::RoutingController;
use crate::watch::{Observation, Watch};
use crate::DaemonConfig;

pub use run::{run, EngineHandler, EngineThread, SentCommands, REQUEST_TIMEOUT};

/// Interval of the engine's ticker (meters at 10 Hz, Layer A steps).
pub const TICK: Duration = Duration::from_millis(100);

/// Interval of the history samples.
const HISTORY_INTERVAL: Duration = Duration::from_secs(1);

/// File name of the persisted runtime route rules, in the state directory.
pub const ROUTES_FILE_NAME: &str = "routes.json";

/// What the engine reacts to.
#[derive(Debug)]
pub enum Input {
    /// The daemon is up: announce it (`daemon/started`).
    Start,
    /// A control request (never `subscribe`: the connection handles it). Answered by exactly
    /// one [`Output::Reply`], the last output (with an [`Output::Warning`] right before it
    /// when the request was carried out but something about it went wrong).
    Request(Request),
    /// A new subscriber's snapshot of `topics`. Answered by one [`Output::Snapshot`].
    Snapshot(Vec<Topic>),
    /// An event of the PipeWire thread (the graph model in the [`BusShared`] is already
    /// updated for it).
    Pw(PwEvent),
    /// The profile store saw a file change.
    Profile(ProfileEvent),
    /// The ticker: Layer A steps, a meter tick for subscribers, and — when a second has
    /// passed since the last one at `now` — a history sample.
    Tick {
        /// The time of the tick.
        now: Instant,
    },
    /// Stop: announce it, undo routing and stream volumes, stop the bus, flush the history.
    Shutdown {
        /// Why (e.g. `SIGTERM received`).
        reason: String,
    },
}

/// What the engine asks for, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The warning the next [`Output::Reply`] carries (it comes right before it): the
    /// request was carried out, but something about it went wrong.
    Warning(String),
    /// The reply to an [`Input::Request`].
    Reply(Result<Response, IpcError>),
    /// The events answering an [`Input::Snapshot`].
    Snapshot(Vec<Event>),
    /// An event for the subscribers of its topic.
    Publish(Event),
    /// A command for the PipeWire thread.
    Pw(PwCommand),
    /// New chain parameters for the audio thread (smoothed there).
    Params(ChainParams),
    /// Desktop notifications of alerts on or off: `[alerts] notify` in the config file
    /// changed.
    AlertsNotify(bool),
}

/// The daemon's state and its reactions. See the module docs.
pub struct Engine {
    started: Instant,
    store: ProfileStore,
    bus: BusShared,
    routing: RoutingController,
    history: History,
    pipewire: PipewireState,
    real_sink: Option<String>,
    /// The processed sink's channel positions since it was last ready (`None` before, and
    /// while PipeWire is gone).
    processed_channels: Option<String>,
    /// The chain parameters handed to the audio thread last.
    params: ChainParams,
    /// `--bypass` on the command line: bypass regardless of profile and overrides.
    force_bypass: bool,
    /// The bypass in force when the history last marked it (or at the start): a mark is
    /// kept when it changes, not for every request that sets it again.
    marked_bypass: bool,
    /// `--real-sink` on the command line: wins over the profile.
    cli_real_sink: Option<String>,
    /// `--promote-default` on the command line: promote regardless of profile and overrides.
    cli_promote: bool,
    /// The user's sink while promoted (persisted in `promote_file`).
    user_sink: Option<String>,
    promote_file: PathBuf,
    routes_file: PathBuf,
    /// What was wrong with the daemon's own state files at start (`status`'s
    /// `file_warnings`).
    file_warnings: Vec<String>,
    /// The bus input gain in force, dB, and the one asked at the last tick (a rise is
    /// applied a tick late: see [`Engine::on`]).
    input_gain_db: f32,
    rise_asked_db: f32,
    last_streams: BTreeMap<u32, StreamInfo>,
    last_taps: BTreeSet<u32>,
    last_history: Instant,
    last_timing: TimingSnapshot,
    /// The last error of the active profile's (or the config) file while the last good
    /// profile stays in force; cleared when a profile loads.
    profile_error: Option<String>,
    /// The file `profile_error` is about, when the error came from the file watcher or a
    /// reload (the start-up error leaves it unset): its repair clears the error.
    profile_error_file: Option<std::path::PathBuf>,
    /// Errors of other profiles' files not shown while another error is (at most
    /// [`profiles::MAX_WAITING_ERRORS`], newest last): one is shown when the error in force
    /// clears, as long as its file has neither loaded again nor been removed.
    waiting_profile_errors: Vec<(std::path::PathBuf, String)>,
    /// Whether the error shown was about what the config file selects when it was met (a
    /// reload of the selection clears only such an error).
    profile_error_selected: bool,
    /// The state word and the alerts.
    watch: Watch,
    /// Xruns at the last history sample (new ones are logged with it).
    last_xruns: u64,
    /// The frame counter at the last tick.
    last_tick_frames: u64,
    /// The bus's input and output true peaks (dBTP) over the blocks between the last two
    /// ticks ([`AtomicMeters::take`](headroom_core::AtomicMeters::take)): what every
    /// reading of the meters shows until the next tick.
    tick_peaks: (f32, f32),
    /// Layer A's lifts of the last ticks, for the true peak of the blocks they were in force.
    recent_lifts: crate::watch::RecentLifts,
    /// When a tick last saw the bus's frame count move (audio flowing through the chain).
    frames_moved_at: Instant,
    /// The latest time an input brought (a tick's own time, else the time it arrived).
    clock: Instant,
    /// Whether the bus's capture stream streams (audio flows through it).
    bus_streaming: bool,
    /// Nothing would change on further ticks (see [`Engine::is_idle`]).
    idle: bool,
}

impl Engine {
    /// The chain parameters to run for the effective `profile`: its chain, bypassed when
    /// `force_bypass` (`--bypass`) is set.
    pub fn chain_params(profile: &Profile, force_bypass: bool) -> ChainParams {
        let mut params = profile.chain;
        params.bypass |= force_bypass;
        params
    }

    /// An engine for the profiles of `store`, reading the bus through `bus`, keeping
    /// `history`, with the runtime route rules persisted in `routes_file` (loaded now) and the
    /// user's sink of auto-promote next to it ([`promote::PROMOTE_FILE_NAME`]).
    /// `config` gives the command-line overrides (`--bypass`, `--real-sink`). The bus is
    /// expected to run [`Engine::chain_params`] of the store's effective profile already.
    pub fn new(
        store: ProfileStore,
        bus: BusShared,
        history: History,
        routes_file: PathBuf,
        config: &DaemonConfig,
    ) -> Self {
        let profile = store.effective();
        let mut routing = RoutingController::new(
            BUS_SINK_NAME,
            profile.layer_a,
            profile.chain.agc.target_lufs,
        );
        // Nothing to send yet: moves are held until the bus is ready.
        let _ = routing.set_profile_rules(profile.route.clone());
        let (rules, mut file_warnings) = routes::load_user_rules(&routes_file);
        let _ = routing.set_user_rules(rules);
        let (user_sink, promote_warning) =
            promote::load_user_sink(&routes_file.with_file_name(promote::PROMOTE_FILE_NAME));
        file_warnings.extend(store.state_file_warning());
        file_warnings.extend(promote_warning);
        let params = Self::chain_params(&profile, config.bypass);
        let _ = routing.set_bypass(params.bypass);
        let timing = bus.timing().snapshot();
        let profile_error = store.startup_error();
        let profile_error_file = store.startup_error_file();
        // The word and the alerts start from the same facts the status reports.
        let mut watch = Watch::new();
        watch.set_bypass(params.bypass);
        let _ = watch.profile(
            profile_error
                .as_deref()
                .map(|e| profiles::alert_message(e, true, store.fallback())),
            crate::history::now_unix_ms(),
        );
        Engine {
            started: Instant::now(),
            marked_bypass: params.bypass,
            params,
            store,
            bus,
            routing,
            history,
            pipewire: PipewireState::Disconnected {
                reason: "connecting".into(),
            },
            real_sink: None,
            processed_channels: None,
            force_bypass: config.bypass,
            cli_real_sink: config.preferred_real_sink.clone(),
            cli_promote: config.promote_default,
            user_sink,
            promote_file: routes_file.with_file_name(promote::PROMOTE_FILE_NAME),
            routes_file,
            file_warnings,
            input_gain_db: 0.0,
            rise_asked_db: 0.0,
            last_streams: BTreeMap::new(),
            last_taps: BTreeSet::new(),
            last_history: Instant::now(),
            last_timing: timing,
            profile_error,
            profile_error_file,
            waiting_profile_errors: Vec::new(),
            profile_error_selected: true,
            watch,
            last_xruns: 0,
            last_tick_frames: 0,
            tick_peaks: (headroom_ipc::LUFS_FLOOR, headroom_ipc::LUFS_FLOOR),
            recent_lifts: crate::watch::RecentLifts::default(),
            frames_moved_at: Instant::now(),
            clock: Instant::now(),
            bus_streaming: false,
            idle: false,
        }
    }

    /// Adds `warning` to what `status` reports about the daemon's own state files
    /// (`file_warnings`): a file read before the engine was made (the user's sink, read for
    /// the bus).
    pub fn note_file_warning(&mut self, warning: Option<String>) {
        if let Some(w) = warning {
            if !self.file_warnings.contains(&w) {
                self.file_warnings.push(w);
            }
        }
    }

    /// Reacts to one input. Never blocks; see [`Input`] for what each input is answered with.
    pub fn on(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        let tick = matches!(input, Input::Tick { .. });
        let now = match &input {
            Input::Tick { now } => *now,
            _ => Instant::now(),
        };
        self.clock = self.clock.max(now);
        if self.idle {
            self.wake(now);
        }
        match input {
            Input::Start => out.push(Output::Publish(Event::started(env!("CARGO_PKG_VERSION")))),
            Input::Request(req) => {
                let reply = self.request(req, &mut out);
                out.push(Output::Reply(reply));
            }
            Input::Snapshot(topics) => {
                let events = self.snapshot(&topics);
                out.push(Output::Snapshot(events));
            }
            Input::Pw(ev) => self.on_pw_event(ev, &mut out),
            Input::Profile(ev) => self.on_profile_event(ev, &mut out),
            Input::Tick { now } => self.on_tick(now, &mut out),
            Input::Shutdown { reason } => self.shutdown(reason, &mut out),
        }
        for o in &out {
            if let Output::Publish(e) = o {
                self.note_event(e);
            }
        }
        // Layer A's cut of a stream playing alone, taken off again at the bus input
        // (`RoutingController::bus_compensation_db`): after every input that can move it
        // (a tick, bypass, a setting, a stream leaving the bus). A fall at once; a rise one
        // tick after it was asked: it compensates a cut of the stream's volume sent with it,
        // which PipeWire applies a cycle or two later, and the bus input gain in the same
        // cycle — at once, the output stood the whole cut over the source until the volume
        // came (+7 dB for a quantum of 2048 frames as bypass went off, now and then).
        let want = self.routing.bus_compensation_db();
        let next = if want <= self.input_gain_db {
            want
        } else if tick {
            want.min(self.rise_asked_db.max(self.input_gain_db))
        } else {
            self.input_gain_db
        };
        if tick {
            self.rise_asked_db = want;
        }
        self.input_gain_db = next;
        self.bus.set_input_gain_db(next);
        self.note_bypass();
        out
    }

    /// Routes a request to its handler, in the file of its domain.
    fn request(&mut self, req: Request, out: &mut Vec<Output>) -> Result<Response, IpcError> {
        req.validate()?;
        match req {
            Request::Status => Ok(Response::Status(Box::new(self.status()))),
            Request::RouteList { cursor } => Ok(Response::Routes(self.routes_page(cursor))),
            Request::RouteSet { app, route } => routes::set(self, app, route, out),
            Request::RouteUnset { app } => routes::unset(self, app, out),
            Request::SettingGet { key } => Ok(Response::Setting(self.setting(&key)?)),
            Request::SettingSet { key, value } => settings::set(self, key, value, out),
            Request::SettingList => Ok(Response::Settings(self.settings())),
            Request::SettingReset { key, all } => settings::reset(self, key, all, out),
            Request::ProfileList => Ok(Response::ProfileList(self.profile_list())),
            Request::ProfileShow { name } => profiles::show(self, name),
            Request::ProfileUse { name } => profiles::activate(self, name, out),
            Request::ProfileReload => profiles::reload(self, out),
            Request::BypassSet { mode } => bypass::set(self, mode, out),
            Request::History {
                since_secs,
                from_unix_ms,
            } => history::query(self, since_secs, from_unix_ms),
            Request::Subscribe { .. } => Err(IpcError::bad_request(
                "subscribe is handled by the connection, not the engine",
            )),
        }
    }

    /// The 100 ms tick: Layer A steps, the state word and alerts, the meters for
    /// subscribers, a history sample a second.
    fn on_tick(&mut self, now: Instant, out: &mut Vec<Output>) {
        let taps = self.bus.taps();
        let cmds = self.routing.tick(&taps, TICK.as_secs_f32());
        out.extend(cmds.into_iter().map(Output::Pw));
        // The one reader that takes the held true peaks: each tick sees every block's.
        let m = self.bus.meters().take();
        self.tick_peaks = (m.in_true_peak_dbtp, m.out_true_peak_dbtp);
        // The largest lift Layer A's volumes put on a stream (none under bypass), and the
        // largest of the last ticks': the peaks just taken were made under those.
        let lift_now = self
            .routing
            .layer_a_state()
            .iter()
            .map(|s| s.volume_lin)
            .filter(|v| v.is_finite() && *v > 1.0)
            .fold(0.0f32, |a, v| a.max(20.0 * v.log10()));
        let input_lift_db = self.recent_lifts.push(lift_now);
        let observation = Observation {
            now_ms: now.saturating_duration_since(self.started).as_millis() as u64,
            unix_ms: crate::history::now_unix_ms(),
            pipewire_connected: matches!(self.pipewire, PipewireState::Connected),
            real_sink: self.real_sink.as_deref(),
            frames: m.frames,
            in_momentary_lufs: m.in_momentary_lufs,
            in_true_peak_dbtp: m.in_true_peak_dbtp,
            input_lift_db,
            limiter_gr_db: m.limiter_gr_db,
            silence_gate_lufs: self.params.agc.silence_gate_lufs,
            xruns: self.bus.xruns(),
        };
        let alerts = self.watch.observe(&observation);
        let settled = self.watch_settled(&observation);
        self.publish_alerts(alerts, out);
        out.push(Output::Publish(Event::meters_tick_in(
            self.watch.state(),
            self.meters(),
            self.layer_a_levels(),
        )));
        if now.saturating_duration_since(self.last_history) >= HISTORY_INTERVAL {
            self.last_history = now;
            self.record_history(crate::history::now_unix_ms());
        }
        let flowing = m.frames != self.last_tick_frames;
        self.last_tick_frames = m.frames;
        if flowing {
            self.frames_moved_at = now;
        }
        // Not before the meters read as no measurement: the idle seconds are filled in
        // with what the last tick saw.
        self.idle = !flowing
            && now.saturating_duration_since(self.frames_moved_at) >= status::METERS_STALE_AFTER
            && !self.bus_streaming
            && self.routing.layer_a_state().is_empty()
            && !out.iter().any(|o| matches!(o, Output::Pw(_)))
            && settled;
    }

    /// Whether the state word and the alerts stay as they are if every later tick observes
    /// what `o` did (nothing flows, nothing changes): probed on a copy of the watch, two
    /// observations a minute apart (longer than any of its hold and clear times).
    fn watch_settled(&self, o: &Observation<'_>) -> bool {
        let mut probe = self.watch.clone();
        let state = probe.state();
        (1..=2u64).all(|k| {
            let later = Observation {
                now_ms: o.now_ms + k * 61_000,
                unix_ms: o.unix_ms + k * 61_000,
                ..*o
            };
            probe.observe(&later).is_empty() && probe.state() == state
        })
    }

    /// Whether the engine is idle: no audio flows, no stream is tapped, the state word and
    /// alerts are settled, so ticks would change nothing but the history, which [`Engine::on`]
    /// fills in for the idle time when the next input arrives. The thread feeding the engine
    /// stops its ticker while this holds and nobody is subscribed, and starts it again after
    /// the next input (a request, a PipeWire event such as [`PwEvent::BusStreaming`], a
    /// profile change). An idle daemon then does not wake up at all.
    pub fn is_idle(&self) -> bool {
        self.idle
    }

    /// Leaves idle at `now`: records the history samples the ticks would have taken since the
    /// last one. Nothing changed meanwhile (no frames, no xruns, no callbacks), so they are
    /// what those ticks would have recorded, one per second.
    fn wake(&mut self, now: Instant) {
        self.idle = false;
        let behind = now.saturating_duration_since(self.last_history);
        let missed = behind.as_secs();
        if missed == 0 {
            return;
        }
        let now_unix = crate::history::now_unix_ms();
        let behind_ms = behind.as_millis() as u64;
        for k in 1..=missed {
            let unix_ms = now_unix.saturating_sub(behind_ms.saturating_sub(k * 1000));
            self.record_history(unix_ms);
        }
        self.last_history += HISTORY_INTERVAL * missed as u32;
    }

    fn shutdown(&mut self, reason: String, out: &mut Vec<Output>) {
        out.push(Output::Publish(Event::shutdown(reason)));
        out.extend(self.routing.shutdown().into_iter().map(Output::Pw));
        out.push(Output::Pw(PwCommand::Shutdown));
        if let Err(e) = self.history.flush_to_disk() {
            tracing::debug!("history flush: {e}");
        }
    }

    /// Publishes alert edges (and keeps them in the history).
    pub(super) fn publish_alerts(&mut self, events: Vec<Event>, out: &mut Vec<Output>) {
        for e in events {
            match &e {
                Event::AlertRaised(a) => tracing::warn!("alert: {}: {}", a.kind, a.message),
                Event::AlertCleared(c) => {
                    tracing::info!("alert cleared: {}: {}", c.kind, c.message)
                }
                _ => {}
            }
            out.push(Output::Publish(e));
        }
    }

    /// The state word and the alerts.
    pub fn watch(&self) -> &Watch {
        &self.watch
    }

    /// The routing controller (rules, streams, Layer A), for inspection.
    pub fn routing(&self) -> &RoutingController {
        &self.routing
    }

    /// The profile store.
    pub fn store(&self) -> &ProfileStore {
        &self.store
    }

    /// The chain parameters in force (the last [`Output::Params`], or the start-up ones).
    pub fn params(&self) -> ChainParams {
        self.params
    }

    /// The bus state the engine reads.
    pub fn bus(&self) -> &BusShared {
        &self.bus
    }
}
