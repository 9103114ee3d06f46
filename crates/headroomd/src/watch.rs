//! The state word and the alerts: what the engine sees on its tick, turned into one word
//! ([`StateWord`]) and edge-triggered alerts ([`AlertKind`]).
//!
//! [`Watch`] is pure: the engine hands it an [`Observation`] every tick (meters and counters
//! the audio thread already publishes in atomics, the connection state, the real sink), the
//! bypass in force whenever it changes ([`Watch::set_bypass`]) and the session and profile
//! facts it learns from events, and gets back the `alerts/raised`
//! and `alerts/cleared` events to publish. Time is the caller's (milliseconds on a monotonic
//! clock), so tests drive it with synthetic sequences. The rules and their thresholds are
//! the constants below; `PLAN.md` ("State word and alerts") states them for people.
//!
//! Every condition is entered when its entry test has held for a while and left when its
//! (different) exit test has held for a while, so neither the word nor the alerts flicker;
//! an alert is raised once when its condition starts and cleared once when it ends.

use std::collections::{BTreeMap, VecDeque};

use headroom_ipc::{Alert, AlertCleared, AlertKind, Event, StateWord};

/// No output: entered after the real sink (or PipeWire) has been missing this long, ms.
pub const NO_OUTPUT_ENTER_MS: u64 = 2_000;
/// No output: left after the real sink has been back this long, ms.
pub const NO_OUTPUT_LEAVE_MS: u64 = 1_000;
/// Quiet: entered after the input has been below the AGC's silence gate (or no audio has
/// flowed) this long, ms.
pub const QUIET_ENTER_MS: u64 = 2_000;
/// Quiet: left once the input is [`QUIET_LEAVE_ABOVE_GATE_LU`] over the gate this long, ms.
pub const QUIET_LEAVE_MS: u64 = 300;
/// Quiet: how far over the silence gate the input must be to leave, LU.
pub const QUIET_LEAVE_ABOVE_GATE_LU: f32 = 3.0;
/// Time constant of the smoothed limiter gain reduction the limiting rules read, ms.
pub const LIMITER_SMOOTHING_MS: f32 = 1_000.0;
/// Limiting: entered when the smoothed limiter reduction is at least this, dB …
pub const LIMITING_ENTER_DB: f32 = 3.0;
/// … for this long, ms.
pub const LIMITING_ENTER_MS: u64 = 2_000;
/// Limiting: left when the smoothed limiter reduction is below this, dB …
pub const LIMITING_LEAVE_DB: f32 = 1.5;
/// … for this long, ms.
pub const LIMITING_LEAVE_MS: u64 = 2_000;
/// Sustained-limiting alert: raised when the smoothed limiter reduction is at least this,
/// dB …
pub const SUSTAINED_LIMITING_DB: f32 = 6.0;
/// … for this long, ms.
pub const SUSTAINED_LIMITING_MS: u64 = 10_000;
/// Sustained-limiting alert: cleared when the smoothed reduction is below this, dB …
pub const SUSTAINED_LIMITING_CLEAR_DB: f32 = 3.0;
/// … for this long, ms.
pub const SUSTAINED_LIMITING_CLEAR_MS: u64 = 5_000;
/// Xrun burst: raised at this many xruns …
pub const XRUN_BURST_COUNT: usize = 3;
/// … within this window, ms.
pub const XRUN_BURST_WINDOW_MS: u64 = 10_000;
/// Xrun burst: cleared after this long without an xrun, ms.
pub const XRUN_CLEAR_MS: u64 = 60_000;
/// Input clipping: a tick whose input true peak is at least this is "hot", dBTP.
pub const CLIP_DBTP: f32 = 0.0;
/// Input clipping: raised at this many hot ticks …
pub const CLIP_COUNT: usize = 5;
/// … within this window, ms.
pub const CLIP_WINDOW_MS: u64 = 10_000;
/// Input clipping: cleared after this long without a hot tick, ms.
pub const CLIP_CLEAR_MS: u64 = 30_000;

/// What the engine sees at one tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation<'a> {
    /// Monotonic time, ms (any origin; only differences count).
    pub now_ms: u64,
    /// Wall-clock time, ms since the Unix epoch (for the events).
    pub unix_ms: u64,
    /// Connected to PipeWire.
    pub pipewire_connected: bool,
    /// The real sink played into, if any.
    pub real_sink: Option<&'a str>,
    /// Frames the chain has processed (audio flows while it grows).
    pub frames: u64,
    /// Input momentary loudness, LUFS.
    pub in_momentary_lufs: f32,
    /// Input true peak of the latest block, dBTP.
    pub in_true_peak_dbtp: f32,
    /// The largest lift Layer A's volumes put on a stream in the last ticks ([`RecentLifts`]),
    /// dB (0 when none is lifted): the input reads the apps through those volumes, so a
    /// quiet app Layer A lifts 12 dB reads 12 dB hotter than it plays. Taken off the true peak before it counts as
    /// clipping (the largest lift for the mix as a whole: a bound, not per app).
    pub input_lift_db: f32,
    /// Limiter gain reduction, dB (≥ 0).
    pub limiter_gr_db: f32,
    /// The AGC's silence gate in force, LUFS.
    pub silence_gate_lufs: f32,
    /// Xruns of the bus so far (a counter).
    pub xruns: u64,
}

/// What the engine learns about the session manager from the PipeWire thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionFact {
    /// WirePlumber is gone.
    WirePlumberMissing,
    /// WirePlumber is back (the session is judged next: [`SessionFact::Whole`] or
    /// [`SessionFact::Incomplete`]).
    WirePlumberBack,
    /// WirePlumber does not link the bus.
    Incomplete,
    /// The bus is linked again (or linked once WirePlumber is back).
    Whole,
    /// A new connection to PipeWire: the last session's facts are void (the PipeWire
    /// thread reports this one's anew, after its grace times).
    NewSession,
}

/// A condition entered and left on separate tests, each held for its own time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Hold {
    on: bool,
    pending_since: Option<u64>,
}

impl Hold {
    /// Updates the condition at `now`; `Some(new)` when it just changed.
    fn update(
        &mut self,
        now: u64,
        enter: bool,
        leave: bool,
        enter_ms: u64,
        leave_ms: u64,
    ) -> Option<bool> {
        let (test, need) = if self.on {
            (leave, leave_ms)
        } else {
            (enter, enter_ms)
        };
        if !test {
            self.pending_since = None;
            return None;
        }
        let since = *self.pending_since.get_or_insert(now);
        if now.saturating_sub(since) >= need {
            self.on = !self.on;
            self.pending_since = None;
            Some(self.on)
        } else {
            None
        }
    }
}

/// Counts occurrences in a sliding window (xruns, hot ticks).
#[derive(Debug, Clone, Default)]
struct Burst {
    times: VecDeque<u64>,
    last: Option<u64>,
}

impl Burst {
    /// Adds `n` occurrences at `now`, forgets those older than `window`, returns how many
    /// are left.
    fn add(&mut self, now: u64, n: u64, window: u64, cap: usize) -> usize {
        for _ in 0..n.min(cap as u64) {
            if self.times.len() >= cap {
                self.times.pop_front();
            }
            self.times.push_back(now);
        }
        if n > 0 {
            self.last = Some(now);
        }
        while self
            .times
            .front()
            .is_some_and(|&t| now.saturating_sub(t) > window)
        {
            self.times.pop_front();
        }
        self.times.len()
    }

    /// Time since the last occurrence (`None`: never).
    fn quiet_for(&self, now: u64) -> Option<u64> {
        self.last.map(|t| now.saturating_sub(t))
    }
}

/// The largest Layer A lift of the last [`LIFT_TICKS`] ticks, dB: the true peak a tick reads
/// was made under the lifts commanded a tick or two before (PipeWire applies a volume a
/// quantum or more after it is set). Taken with the lift just set alone, every tick of a
/// lift coming down read the app that much hotter than it played — 0.4 dB per tick was
/// enough — and raised `input_clipping` for an app that clipped nothing.
#[derive(Debug, Clone, Default)]
pub struct RecentLifts {
    last: [f32; LIFT_TICKS],
    pos: usize,
}

/// Ticks of Layer A lifts [`RecentLifts`] keeps.
pub const LIFT_TICKS: usize = 3;

impl RecentLifts {
    /// Records the lift set at this tick (dB; not finite or negative counts as 0) and returns
    /// the largest of the last [`LIFT_TICKS`].
    pub fn push(&mut self, db: f32) -> f32 {
        let db = if db.is_finite() { db.max(0.0) } else { 0.0 };
        if let Some(slot) = self.last.get_mut(self.pos) {
            *slot = db;
        }
        self.pos = (self.pos + 1) % LIFT_TICKS;
        self.last.iter().fold(0.0f32, |a, &b| a.max(b))
    }
}

/// The state word and the active alerts. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    no_output: Hold,
    /// PipeWire was not connected at the last tick: the word says NO OUTPUT at once (the
    /// alert still waits [`NO_OUTPUT_ENTER_MS`], so a restart of PipeWire raises none).
    disconnected: bool,
    quiet: Hold,
    limiting: Hold,
    sustained: Hold,
    bypass: bool,
    smoothed_gr_db: f32,
    last_now: Option<u64>,
    last_frames: Option<u64>,
    last_xruns: Option<u64>,
    xruns: Burst,
    clips: Burst,
    wireplumber_missing: bool,
    session_incomplete: bool,
    /// WirePlumber is back after it was missing, and whether it links the bus is not known
    /// yet: the alert stays until it is.
    session_judging: bool,
    active: BTreeMap<AlertKind, Alert>,
}

impl Watch {
    /// A watch with nothing seen yet: no alerts, and the state QUIET (nothing has been heard
    /// yet) until sound is over the gate for [`QUIET_LEAVE_MS`].
    pub fn new() -> Self {
        let mut w = Self::default();
        w.quiet.on = true;
        w
    }

    /// The state word now: the most important condition that holds (no output, degraded,
    /// bypass, limiting, quiet), else levelling.
    pub fn state(&self) -> StateWord {
        if self.no_output.on || self.disconnected {
            StateWord::NoOutput
        } else if self.active.contains_key(&AlertKind::XrunBurst)
            || self.active.contains_key(&AlertKind::SessionBroken)
        {
            StateWord::Degraded
        } else if self.bypass {
            StateWord::Bypass
        } else if self.limiting.on {
            StateWord::Limiting
        } else if self.quiet.on {
            StateWord::Quiet
        } else {
            StateWord::Levelling
        }
    }

    /// Bypass went on or off. The engine calls this whenever it puts chain parameters in
    /// force, so the word says BYPASS exactly when the chain's `bypass` (the one the status,
    /// the meters and Layer A's unity volumes follow) is on, from that moment.
    pub fn set_bypass(&mut self, bypass: bool) {
        self.bypass = bypass;
    }

    /// The alerts active now, oldest first.
    pub fn active(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self.active.values().cloned().collect();
        v.sort_by_key(|a| a.since_unix_ms);
        v
    }

    /// Whether an alert of `kind` is active.
    pub fn is_active(&self, kind: AlertKind) -> bool {
        self.active.contains_key(&kind)
    }

    /// One tick: updates every condition; returns the alerts raised and cleared.
    pub fn observe(&mut self, o: &Observation<'_>) -> Vec<Event> {
        let mut out = Vec::new();
        let now = o.now_ms;
        let dt = self.last_now.map_or(0, |t| now.saturating_sub(t));
        self.last_now = Some(now);
        let flowing = self.last_frames.is_some_and(|f| o.frames > f);
        self.last_frames = Some(o.frames);

        // No output.
        self.disconnected = !o.pipewire_connected;
        let missing = !o.pipewire_connected || o.real_sink.is_none();
        match self.no_output.update(
            now,
            missing,
            !missing,
            NO_OUTPUT_ENTER_MS,
            NO_OUTPUT_LEAVE_MS,
        ) {
            Some(true) => {
                let message = if o.pipewire_connected {
                    "no real sink to play into: nothing is heard through headroom".to_string()
                } else {
                    "PipeWire is not connected: nothing is heard through headroom".to_string()
                };
                self.raise(AlertKind::RealSinkMissing, message, o.unix_ms, &mut out);
            }
            Some(false) => {
                let message = format!("playing into {}", o.real_sink.unwrap_or("the real sink"));
                self.clear(AlertKind::RealSinkMissing, message, o.unix_ms, &mut out);
            }
            None => {}
        }

        // Quiet.
        let below = !flowing || o.in_momentary_lufs < o.silence_gate_lufs;
        let above =
            flowing && o.in_momentary_lufs >= o.silence_gate_lufs + QUIET_LEAVE_ABOVE_GATE_LU;
        self.quiet
            .update(now, below, above, QUIET_ENTER_MS, QUIET_LEAVE_MS);

        // Limiting (the limiter's reduction, smoothed; none while no audio flows).
        let gr = if flowing && o.limiter_gr_db.is_finite() {
            o.limiter_gr_db.max(0.0)
        } else {
            0.0
        };
        let k = (dt as f32 / LIMITER_SMOOTHING_MS).min(1.0);
        self.smoothed_gr_db += (gr - self.smoothed_gr_db) * k;
        let s = self.smoothed_gr_db;
        self.limiting.update(
            now,
            s >= LIMITING_ENTER_DB,
            s < LIMITING_LEAVE_DB,
            LIMITING_ENTER_MS,
            LIMITING_LEAVE_MS,
        );
        match self.sustained.update(
            now,
            s >= SUSTAINED_LIMITING_DB,
            s < SUSTAINED_LIMITING_CLEAR_DB,
            SUSTAINED_LIMITING_MS,
            SUSTAINED_LIMITING_CLEAR_MS,
        ) {
            Some(true) => self.raise(
                AlertKind::SustainedLimiting,
                format!(
                    "the limiter has held about {s:.1} dB of gain reduction for {} s",
                    SUSTAINED_LIMITING_MS / 1000
                ),
                o.unix_ms,
                &mut out,
            ),
            Some(false) => self.clear(
                AlertKind::SustainedLimiting,
                format!("limiter reduction back under {SUSTAINED_LIMITING_CLEAR_DB} dB"),
                o.unix_ms,
                &mut out,
            ),
            None => {}
        }

        // Xruns (a counter that may restart with the bus: count only increases). Those
        // counted while there is no real sink or no PipeWire to play into drop out of
        // nothing the user hears: after an outage they kept the state at degraded for a
        // minute of clean audio.
        let new_xruns = match self.last_xruns {
            Some(prev) if o.xruns >= prev && o.real_sink.is_some() && o.pipewire_connected => {
                o.xruns - prev
            }
            _ => 0,
        };
        self.last_xruns = Some(o.xruns);
        let in_window = self.xruns.add(now, new_xruns, XRUN_BURST_WINDOW_MS, 64);
        if !self.is_active(AlertKind::XrunBurst) && in_window >= XRUN_BURST_COUNT {
            self.raise(
                AlertKind::XrunBurst,
                format!(
                    "{in_window} xruns within {} s: audio drops out",
                    XRUN_BURST_WINDOW_MS / 1000
                ),
                o.unix_ms,
                &mut out,
            );
        } else if self.is_active(AlertKind::XrunBurst)
            && self
                .xruns
                .quiet_for(now)
                .is_some_and(|q| q >= XRUN_CLEAR_MS)
        {
            self.clear(
                AlertKind::XrunBurst,
                format!("no xruns for {} s", XRUN_CLEAR_MS / 1000),
                o.unix_ms,
                &mut out,
            );
        }

        // Clipping arriving upstream.
        // (What Layer A lifted is not the app's clipping: the float bus does not clip.)
        let lift = if o.input_lift_db.is_finite() {
            o.input_lift_db.max(0.0)
        } else {
            0.0
        };
        let hot = flowing && o.in_true_peak_dbtp - lift >= CLIP_DBTP;
        let hot_ticks = self.clips.add(now, u64::from(hot), CLIP_WINDOW_MS, 256);
        if !self.is_active(AlertKind::InputClipping) && hot_ticks >= CLIP_COUNT {
            self.raise(
                AlertKind::InputClipping,
                format!(
                    "the input reaches full scale (true peak at or over {CLIP_DBTP:.0} dBTP {hot_ticks} times in {} s): an app plays too hot, or several together do; lower the app's volume",
                    CLIP_WINDOW_MS / 1000
                ),
                o.unix_ms,
                &mut out,
            );
        } else if self.is_active(AlertKind::InputClipping)
            && self
                .clips
                .quiet_for(now)
                .is_some_and(|q| q >= CLIP_CLEAR_MS)
        {
            self.clear(
                AlertKind::InputClipping,
                format!("no clipped input for {} s", CLIP_CLEAR_MS / 1000),
                o.unix_ms,
                &mut out,
            );
        }
        out
    }

    /// A session-manager fact from the PipeWire thread; returns the alerts raised and
    /// cleared.
    pub fn session(&mut self, fact: SessionFact, unix_ms: u64) -> Vec<Event> {
        let mut out = Vec::new();
        match fact {
            SessionFact::WirePlumberMissing => self.wireplumber_missing = true,
            SessionFact::WirePlumberBack => {
                self.session_judging = self.wireplumber_missing;
                self.wireplumber_missing = false;
            }
            SessionFact::Incomplete => {
                self.session_incomplete = true;
                self.session_judging = false;
            }
            SessionFact::Whole => {
                self.session_incomplete = false;
                self.session_judging = false;
            }
            SessionFact::NewSession => {
                self.wireplumber_missing = false;
                self.session_incomplete = false;
                self.session_judging = false;
            }
        }
        let broken = self.wireplumber_missing || self.session_incomplete || self.session_judging;
        let message = if self.session_incomplete {
            "WirePlumber does not link headroom's streams: restart PipeWire and WirePlumber together"
        } else {
            "WirePlumber is not running: streams cannot be routed"
        };
        match (broken, self.is_active(AlertKind::SessionBroken)) {
            (true, false) => {
                self.raise(AlertKind::SessionBroken, message.into(), unix_ms, &mut out);
            }
            (true, true) => {
                // One condition, one raise: WirePlumber back but not linking is the same
                // broken session; the alert in force (status, snapshots) says what to do now.
                if let Some(a) = self.active.get_mut(&AlertKind::SessionBroken) {
                    if a.message != message {
                        a.message = message.into();
                    }
                }
            }
            (false, true) => self.clear(
                AlertKind::SessionBroken,
                if fact == SessionFact::NewSession {
                    "PipeWire restarted: a new session".into()
                } else {
                    "the session is whole again".into()
                },
                unix_ms,
                &mut out,
            ),
            (false, false) => {}
        }
        out
    }

    /// The profile store's verdict: `Some(message)` — a profile or the config file failed to
    /// load (the alert's message: the error and what it means for the profile in force);
    /// `None` — a profile loaded. Returns the alerts raised and cleared.
    pub fn profile(&mut self, error: Option<String>, unix_ms: u64) -> Vec<Event> {
        let mut out = Vec::new();
        match (error, self.is_active(AlertKind::ProfileError)) {
            (Some(message), false) => {
                self.raise(AlertKind::ProfileError, message, unix_ms, &mut out);
            }
            (None, true) => self.clear(
                AlertKind::ProfileError,
                "the file in error loads again or is gone".into(),
                unix_ms,
                &mut out,
            ),
            _ => {}
        }
        out
    }

    fn raise(&mut self, kind: AlertKind, message: String, unix_ms: u64, out: &mut Vec<Event>) {
        let alert = Alert {
            kind,
            message,
            since_unix_ms: unix_ms,
        };
        self.active.insert(kind, alert.clone());
        out.push(Event::AlertRaised(alert));
    }

    fn clear(&mut self, kind: AlertKind, message: String, unix_ms: u64, out: &mut Vec<Event>) {
        if let Some(a) = self.active.remove(&kind) {
            out.push(Event::AlertCleared(AlertCleared {
                kind,
                message,
                since_unix_ms: a.since_unix_ms,
                unix_ms,
            }));
        }
    }
}

#[cfg(test)]
mod tests;
