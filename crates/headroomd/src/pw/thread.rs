//! The PipeWire thread: its main loop, the connection's life (connect, lose, reconnect with
//! backoff) and the housekeeping that keeps the bus up and pinned to the real sink. The
//! registry ([`super::registry`]) and the engine's commands ([`super::commands`]) are handled
//! by the same [`State`] in their own files. Nothing here runs in the real-time callback
//! except what [`super::rt`] installs.
//!
//! The housekeeping runs every [`TICK`] only while something is under way (connecting, the
//! bus coming up, a grace period running, shutting down) and once after anything the loop
//! dispatched (registry and stream events, commands); when the connection and the bus are
//! settled the thread sleeps in the loop until PipeWire or the engine has something for it,
//! so an idle daemon has no periodic wakeups here.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use pipewire as pw;
use pw::main_loop::{MainLoopRc, MainLoopWeak};
use pw::properties::PropertiesBox;
use pw::registry::GlobalObject;
use pw::stream::StreamState;

use super::bus::create_bus;
use super::format::BusLayout;
use super::graph::Graph;
use super::rt::RtShared;
use super::session::{connect, Session};
use super::sink_state::Promotion;
use super::{BusOptions, PwCommand, PwEvent};
use crate::names::{BUS_SINK_NAME, PLAYBACK_NODE_NAME};

/// How often the loop's housekeeping runs.
const TICK: Duration = Duration::from_millis(50);
/// First reconnect delay; doubles up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long the `default` metadata may be missing before we warn.
const WP_GRACE: Duration = Duration::from_secs(3);
/// How long the bus may stay unlinked (with a real sink present) before we warn.
const LINK_GRACE: Duration = Duration::from_secs(3);
/// How long the bus waits for the real sink's full properties (its channel layout) before it
/// is made in stereo.
const LAYOUT_WAIT: Duration = Duration::from_secs(1);
/// How long shutdown waits for the server to confirm the routing clean-up.
pub(super) const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// The PipeWire thread's state: one per thread, alive across reconnects.
/// A registry, node or metadata event from PipeWire, handed to the state through an
/// [`Inbox`].
pub(super) enum Incoming {
    /// A new global object.
    Global(GlobalObject<PropertiesBox>),
    /// A global object went away.
    GlobalRemove(u32),
    /// A node's full properties.
    NodeInfo(u32, BTreeMap<String, String>),
    /// A `default` metadata property: subject, key, value.
    Metadata(u32, Option<String>, Option<String>),
    /// An application output stream's own volume (`channelVolumes`, power mean, linear).
    StreamVolume(u32, f32),
}

/// Where PipeWire's registry, node and metadata listeners deliver their events. While the
/// state is borrowed (one of our callbacks running when PipeWire dispatched the event) the
/// event is kept and applied in order, before the next one and at the next housekeeping,
/// instead of being lost: the graph is state, not notifications.
#[derive(Clone)]
pub(super) struct Inbox {
    state: Weak<RefCell<State>>,
    pending: Rc<RefCell<Vec<Incoming>>>,
}

impl Inbox {
    pub(super) fn new(state: Weak<RefCell<State>>, pending: Rc<RefCell<Vec<Incoming>>>) -> Self {
        Self { state, pending }
    }

    /// Applies `event` now, after anything still pending, or keeps it for later.
    pub(super) fn deliver(&self, event: Incoming) {
        let Some(st) = self.state.upgrade() else {
            return;
        };
        match st.try_borrow_mut() {
            Ok(mut s) => {
                s.apply_pending();
                s.apply(event);
            }
            Err(_) => self.pending.borrow_mut().push(event),
        };
    }
}

pub(super) struct State {
    pub(super) opts: BusOptions,
    pub(super) shared: Arc<RtShared>,
    pub(super) graph: Arc<RwLock<Graph>>,
    pub(super) events: crossbeam_channel::Sender<PwEvent>,
    pub(super) main_loop: MainLoopWeak,
    pub(super) me: Weak<RefCell<State>>,
    /// Events that arrived while the state was borrowed (see [`Inbox`]).
    pub(super) pending: Rc<RefCell<Vec<Incoming>>>,
    pub(super) session: Option<Session>,
    pub(super) reconnect_at: Instant,
    pub(super) backoff: Duration,
    pub(super) disconnected_reported: bool,
    pub(super) real_sink: Option<String>,
    pub(super) applied_target: Option<(u32, String)>,
    pub(super) routed: BTreeSet<u32>,
    pub(super) bus_ready_reported: bool,
    pub(super) bus_retry_at: Option<Instant>,
    /// Since when the bus waits for the real sink's properties ([`LAYOUT_WAIT`]).
    pub(super) layout_wait_since: Option<Instant>,
    pub(super) wp_missing_since: Option<Instant>,
    pub(super) wp_missing_reported: bool,
    pub(super) unlinked_since: Option<Instant>,
    pub(super) incomplete_reported: bool,
    /// The session manager came back after it was reported missing: the session is judged
    /// (linked: [`PwEvent::SessionWhole`]; not linked within the grace:
    /// [`PwEvent::SessionIncomplete`]) before the alert may clear.
    pub(super) judge_after_back: bool,
    pub(super) shutting_down: Option<Instant>,
    /// Node ids whose first full info was reported.
    pub(super) announced: BTreeSet<u32>,
    /// The last own volume reported per application stream (reported again only when it
    /// changes: Layer A's own writes to the same Props param come back as events too).
    pub(super) stream_volumes: BTreeMap<u32, f32>,
    /// Auto-promote state (see [`super::promote`]).
    pub(super) promotion: Promotion,
    /// Whether the bus's capture stream was streaming at the last housekeeping (reported to
    /// the engine as [`PwEvent::BusStreaming`] when it changes).
    pub(super) bus_streaming: bool,
    /// Set to end the thread's loop.
    pub(super) quit: bool,
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
    let promotion = Promotion {
        on: opts.promote_default,
        user_sink: opts.user_sink.clone(),
        recover: !opts.promote_default && opts.user_sink.is_some(),
        not_ours_since: None,
    };
    let state = Rc::new_cyclic(|me| {
        RefCell::new(State {
            opts,
            shared,
            graph,
            events,
            main_loop: main_loop.downgrade(),
            me: me.clone(),
            pending: Rc::default(),
            session: None,
            reconnect_at: Instant::now(),
            backoff: BACKOFF_MIN,
            disconnected_reported: false,
            real_sink: None,
            applied_target: None,
            routed: BTreeSet::new(),
            bus_ready_reported: false,
            bus_retry_at: None,
            layout_wait_since: None,
            wp_missing_since: None,
            wp_missing_reported: false,
            unlinked_since: None,
            incomplete_reported: false,
            judge_after_back: false,
            shutting_down: None,
            announced: BTreeSet::new(),
            stream_volumes: BTreeMap::new(),
            promotion,
            bus_streaming: false,
            quit: false,
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
    run_loop(&main_loop, &state);
    let mut s = state.borrow_mut();
    s.session = None;
    s.graph.write().connected = false;
    tracing::debug!("PipeWire thread ends");
}

/// Iterates the loop until [`State::quit`]: housekeeping at most every [`TICK`], after
/// anything was dispatched and while [`State::settled`] is false; otherwise it sleeps until
/// the loop has something to dispatch.
fn run_loop(main_loop: &MainLoopRc, state: &Rc<RefCell<State>>) {
    let loop_ = main_loop.loop_();
    let mut last_tick: Option<Instant> = None;
    // Something was dispatched since the last housekeeping (the first one runs at once).
    let mut pending = true;
    loop {
        let due = {
            let s = state.borrow();
            if s.quit {
                break;
            }
            if pending || !s.settled() {
                Some(last_tick.map_or_else(Instant::now, |t| t + TICK))
            } else {
                None
            }
        };
        let now = Instant::now();
        if due.is_none_or(|d| d > now) {
            let timeout = match due {
                Some(d) => pw::loop_::Timeout::Finite(d - now),
                None => pw::loop_::Timeout::Infinite,
            };
            if loop_.iterate(timeout) > 0 {
                pending = true;
            }
            continue;
        }
        last_tick = Some(now);
        pending = false;
        if let Ok(mut s) = state.try_borrow_mut() {
            s.tick();
        }
    }
}

impl State {
    /// Whether the housekeeping has nothing to wait for: connected, the bus up and reported,
    /// no retry, grace period, recovery wait or shutdown running. Anything that can unsettle
    /// it arrives as something the loop dispatches.
    fn settled(&self) -> bool {
        let Some(session) = self.session.as_ref() else {
            return false;
        };
        let Some(bus) = session.bus.as_ref() else {
            return false;
        };
        self.shutting_down.is_none()
            && !session.flags.dead.get()
            && self.bus_ready_reported
            && self.bus_retry_at.is_none()
            // The capture and playback states are checked for a disconnect 1 s after creation.
            && bus.created.elapsed() > Duration::from_secs(2)
            && (self.wp_missing_since.is_none() || self.wp_missing_reported)
            && (self.unlinked_since.is_none() || self.incomplete_reported)
            && !self.judge_after_back
            // A recovering start waiting out RECOVER_SETTLE: nothing is dispatched when it
            // ends.
            && !(self.promotion.recover && self.promotion.not_ours_since.is_some())
    }

    pub(super) fn emit(&self, ev: PwEvent) {
        tracing::debug!(?ev, "event");
        let _ = self.events.send(ev);
    }

    // ---------------------------------------------------------------- housekeeping

    fn tick(&mut self) {
        self.apply_pending();
        if let Some(since) = self.shutting_down {
            let synced = self
                .session
                .as_ref()
                .is_none_or(|s| s.flags.shutdown_synced.get() || s.flags.dead.get());
            if synced || since.elapsed() > SHUTDOWN_GRACE {
                self.quit = true;
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
        self.check_promotion();
        self.check_session_manager();
    }

    fn teardown(&mut self, reason: &str) {
        tracing::warn!("lost PipeWire ({reason}); reconnecting");
        self.session = None;
        self.bus_streaming = false;
        {
            let mut g = self.graph.write();
            *g = Graph::default();
            g.real_sink = self.real_sink.clone();
        }
        self.applied_target = None;
        self.routed.clear();
        self.announced.clear();
        self.stream_volumes.clear();
        // The nodes of the lost connection are gone with it.
        crate::guard::forget_all();
        self.bus_ready_reported = false;
        self.bus_retry_at = None;
        self.layout_wait_since = None;
        self.wp_missing_since = None;
        self.wp_missing_reported = false;
        self.unlinked_since = None;
        self.incomplete_reported = false;
        self.judge_after_back = false;
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
        let (inbox_g, inbox_r) = (self.inbox(), self.inbox());
        connect(
            &main_loop,
            self.opts.remote.as_deref(),
            self.shared.taps.clone(),
            move |obj| inbox_g.deliver(Incoming::Global(obj.to_owned())),
            move |id| inbox_r.deliver(Incoming::GlobalRemove(id)),
        )
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
                self.promoted_user_sink(),
                self.real_sink.as_deref(),
            );
            self.set_real_sink(want);
            // In the real sink's channel layout, once its properties are known.
            let layout = match self.real_sink_layout() {
                Some(layout) => layout,
                None if self.real_sink_present()
                    && self
                        .layout_wait_since
                        .get_or_insert_with(Instant::now)
                        .elapsed()
                        < LAYOUT_WAIT =>
                {
                    return;
                }
                None => BusLayout::default(),
            };
            self.layout_wait_since = None;
            if layout != BusLayout::default() {
                tracing::info!(real_sink = ?self.real_sink, "the bus takes the real sink's {layout}");
            }
            let Some(session) = self.session.as_mut() else {
                return;
            };
            match create_bus(
                &session.core,
                &self.shared,
                self.real_sink.as_deref(),
                &layout,
            ) {
                Ok(bus) => {
                    session.bus = Some(bus);
                    // The taps hear the streams in the bus's channels.
                    session.taps.set_layout(&session.core, &layout);
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
        let streaming = matches!(cs, StreamState::Streaming);
        if streaming != self.bus_streaming {
            self.bus_streaming = streaming;
            tracing::debug!(streaming, "bus capture stream");
            let _ = self.events.send(PwEvent::BusStreaming { streaming });
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
            let channels = bus.layout.positions();
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
                channels,
            });
        }
    }

    fn bus_failed(&mut self, why: &str) {
        tracing::warn!("bus stream failed ({why}); recreating it");
        self.drop_bus();
        self.bus_retry_at = Some(Instant::now() + Duration::from_millis(500));
    }

    /// The channel layout of the real sink in force: `None` while there is none, or while its
    /// full properties have not arrived (the registry's subset does not name its channels).
    fn real_sink_layout(&self) -> Option<BusLayout> {
        let name = self.real_sink.as_deref()?;
        let g = self.graph.read();
        let node = g.node_by_name(name)?;
        self.announced
            .contains(&node.id)
            .then(|| BusLayout::for_sink(node.prop("audio.position")))
    }

    /// Whether the real sink in force is in the graph.
    fn real_sink_present(&self) -> bool {
        self.real_sink
            .as_deref()
            .is_some_and(|name| self.graph.read().node_by_name(name).is_some())
    }

    /// Makes the bus anew when the real sink in force has another channel layout than the
    /// bus (the user switched from stereo headphones to 5.1 speakers): at once, so that the
    /// streams WirePlumber moves to the real sink as the old `headroom-processed` goes are
    /// back in the new one within a few cycles (their `target.object` names it). Returns
    /// whether it dropped the bus.
    fn follow_real_sink_layout(&mut self) -> bool {
        let Some(want) = self.real_sink_layout() else {
            return false;
        };
        let Some(have) = self
            .session
            .as_ref()
            .and_then(|s| s.bus.as_ref())
            .map(|b| b.layout.clone())
        else {
            return false;
        };
        if want == have {
            return false;
        }
        tracing::info!(
            real_sink = ?self.real_sink,
            "the real sink has {want}, the bus {have}: making the bus anew"
        );
        self.drop_bus();
        self.bus_retry_at = None;
        true
    }

    /// Drops the bus streams and forgets what was known of them.
    fn drop_bus(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.bus = None;
        }
        self.bus_streaming = false;
        {
            let mut g = self.graph.write();
            g.bus = Default::default();
        }
        self.applied_target = None;
        self.bus_ready_reported = false;
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
    pub(super) fn reconcile(&mut self) {
        let (want, playback) = {
            let g = self.graph.read();
            (
                g.choose_real_sink(
                    self.opts.preferred_real_sink.as_deref(),
                    self.promoted_user_sink(),
                    self.real_sink.as_deref(),
                ),
                g.bus.playback,
            )
        };
        self.set_real_sink(want);
        if self.follow_real_sink_layout() {
            // The new bus's playback stream is made pointing at the real sink.
            return;
        }
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
                self.judge_after_back = false;
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
                self.judge_after_back = false;
                tracing::info!("the bus is linked again");
                self.emit(PwEvent::SessionWhole);
            } else if self.judge_after_back {
                self.judge_after_back = false;
                tracing::info!("the session is whole with the session manager back");
                self.emit(PwEvent::SessionWhole);
            }
        }
    }
}
