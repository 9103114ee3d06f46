//! Synthetic meter sequences through the state rules and the alert edges.

use super::*;

/// A running sequence of 100 ms ticks of one changing observation.
struct Seq {
    watch: Watch,
    now_ms: u64,
    frames: u64,
    obs: Obs,
}

/// The parts of an [`Observation`] a test changes.
#[derive(Clone, Copy)]
struct Obs {
    connected: bool,
    sink: bool,
    flowing: bool,
    in_m: f32,
    in_tp: f32,
    lift: f32,
    gr: f32,
    xruns: u64,
}

impl Seq {
    /// A watch with a programme playing for a while (past the start's QUIET).
    fn new() -> Self {
        let mut s = Seq::fresh();
        // (The first tick cannot tell whether audio flows: one more.)
        s.run(QUIET_LEAVE_MS + 200);
        assert_eq!(s.state(), StateWord::Levelling);
        s
    }

    /// A watch that has seen nothing yet.
    fn fresh() -> Self {
        Seq {
            watch: Watch::new(),
            now_ms: 0,
            frames: 0,
            obs: Obs {
                connected: true,
                sink: true,
                flowing: true,
                in_m: -20.0,
                in_tp: -6.0,
                lift: 0.0,
                gr: 0.0,
                xruns: 0,
            },
        }
    }

    /// Runs `ms` of ticks; returns the events and the state word after each tick.
    fn run(&mut self, ms: u64) -> (Vec<Event>, Vec<StateWord>) {
        let mut events = Vec::new();
        let mut words = Vec::new();
        for _ in 0..ms / 100 {
            self.now_ms += 100;
            if self.obs.flowing {
                self.frames += 4800;
            }
            let o = Observation {
                now_ms: self.now_ms,
                unix_ms: 1_700_000_000_000 + self.now_ms,
                pipewire_connected: self.obs.connected,
                real_sink: self.obs.sink.then_some("speakers"),
                frames: self.frames,
                in_momentary_lufs: self.obs.in_m,
                in_true_peak_dbtp: self.obs.in_tp,
                input_lift_db: self.obs.lift,
                limiter_gr_db: self.obs.gr,
                silence_gate_lufs: -60.0,
                xruns: self.obs.xruns,
            };
            events.extend(self.watch.observe(&o));
            words.push(self.watch.state());
        }
        (events, words)
    }

    fn state(&self) -> StateWord {
        self.watch.state()
    }
}

fn raised(events: &[Event]) -> Vec<AlertKind> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::AlertRaised(a) => Some(a.kind),
            _ => None,
        })
        .collect()
}

fn cleared(events: &[Event]) -> Vec<AlertKind> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::AlertCleared(c) => Some(c.kind),
            _ => None,
        })
        .collect()
}

/// Number of changes of the word along a run.
fn flips(words: &[StateWord]) -> usize {
    words.windows(2).filter(|w| w[0] != w[1]).count()
}

#[test]
fn programme_above_the_gate_is_levelling() {
    let mut s = Seq::new();
    let (events, words) = s.run(5_000);
    assert!(events.is_empty(), "{events:?}");
    assert!(
        words.iter().all(|w| *w == StateWord::Levelling),
        "{words:?}"
    );
}

#[test]
fn quiet_is_entered_after_two_seconds_below_the_gate_and_left_quickly() {
    let mut s = Seq::new();
    s.run(1_000);
    s.obs.in_m = -65.0;
    let (_, words) = s.run(1_900);
    assert!(
        words.iter().all(|w| *w == StateWord::Levelling),
        "{words:?}"
    );
    s.run(300);
    assert_eq!(s.state(), StateWord::Quiet);
    // Just over the gate is not enough to leave (hysteresis) …
    s.obs.in_m = -59.0;
    s.run(2_000);
    assert_eq!(s.state(), StateWord::Quiet);
    // … 3 LU over it for 300 ms is.
    s.obs.in_m = -40.0;
    s.run(200);
    assert_eq!(s.state(), StateWord::Quiet);
    s.run(200);
    assert_eq!(s.state(), StateWord::Levelling);
}

#[test]
fn no_audio_flowing_is_quiet_even_with_stale_meters() {
    let mut s = Seq::new();
    s.run(1_000);
    s.obs.flowing = false; // the bus suspended: meters frozen at −20 LUFS
    s.run(2_500);
    assert_eq!(s.state(), StateWord::Quiet);
}

#[test]
fn a_loudness_hovering_at_the_gate_does_not_flicker() {
    let mut s = Seq::new();
    s.run(1_000);
    let mut all = Vec::new();
    for i in 0..200 {
        // −61 … −58.5 LUFS: across the gate, never 3 LU over it.
        s.obs.in_m = if i % 3 == 0 { -58.5 } else { -61.0 };
        let (_, w) = s.run(100);
        all.extend(w);
    }
    assert!(flips(&all) <= 1, "{} flips: {all:?}", flips(&all));
}

#[test]
fn limiting_needs_sustained_reduction_and_a_lower_exit() {
    let mut s = Seq::new();
    // Transient peaks (one tick of 8 dB in ten) average under the entry threshold.
    let mut words = Vec::new();
    for i in 0..100 {
        s.obs.gr = if i % 10 == 0 { 8.0 } else { 0.0 };
        words.extend(s.run(100).1);
    }
    assert!(
        words.iter().all(|w| *w == StateWord::Levelling),
        "{words:?}"
    );
    s.obs.gr = 4.0;
    s.run(5_000);
    assert_eq!(s.state(), StateWord::Limiting);
    // 2 dB is under the entry but over the exit threshold: it stays.
    s.obs.gr = 2.0;
    let (_, words) = s.run(10_000);
    assert!(words.iter().all(|w| *w == StateWord::Limiting), "{words:?}");
    s.obs.gr = 0.0;
    s.run(5_000);
    assert_eq!(s.state(), StateWord::Levelling);
}

#[test]
fn sustained_limiting_is_raised_once_and_cleared_once() {
    let mut s = Seq::new();
    s.obs.gr = 8.0;
    let (events, _) = s.run(30_000);
    assert_eq!(raised(&events), [AlertKind::SustainedLimiting]);
    assert!(s.watch.is_active(AlertKind::SustainedLimiting));
    s.obs.gr = 4.0; // under the raise level, over the clear level: still active
    let (events, _) = s.run(20_000);
    assert!(events.is_empty(), "{events:?}");
    s.obs.gr = 0.0;
    let (events, _) = s.run(10_000);
    assert_eq!(cleared(&events), [AlertKind::SustainedLimiting]);
    assert!(raised(&events).is_empty());
}

#[test]
fn sustained_limiting_needs_its_duration() {
    let mut s = Seq::new();
    s.obs.gr = 8.0;
    let (events, _) = s.run(9_000);
    assert!(events.is_empty(), "{events:?}");
    s.obs.gr = 0.0;
    let (events, _) = s.run(10_000);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn a_missing_real_sink_gives_no_output_and_one_alert_each_way() {
    let mut s = Seq::new();
    s.run(1_000);
    s.obs.sink = false;
    // A sink gone for a moment (a device switch) is not reported.
    let (events, words) = s.run(1_500);
    assert!(events.is_empty() && words.iter().all(|w| *w == StateWord::Levelling));
    s.obs.sink = true;
    s.run(500);
    s.obs.sink = false;
    let (events, _) = s.run(10_000);
    assert_eq!(raised(&events), [AlertKind::RealSinkMissing]);
    assert_eq!(s.state(), StateWord::NoOutput);
    let a = &s.watch.active()[0];
    assert!(a.message.contains("no real sink"), "{}", a.message);
    s.obs.sink = true;
    let (events, _) = s.run(5_000);
    assert_eq!(cleared(&events), [AlertKind::RealSinkMissing]);
    assert!(raised(&events).is_empty());
    assert_eq!(s.state(), StateWord::Levelling);
}

#[test]
fn pipewire_gone_is_no_output_and_wins_over_bypass() {
    let mut s = Seq::new();
    s.watch.set_bypass(true);
    s.run(1_000);
    assert_eq!(s.state(), StateWord::Bypass);
    s.obs.connected = false;
    // The word at once (it said LEVELLING or BYPASS for 2 s); the alert after 2 s.
    let (events, words) = s.run(100);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(words, [StateWord::NoOutput]);
    let (events, words) = s.run(3_000);
    assert!(words.iter().all(|w| *w == StateWord::NoOutput), "{words:?}");
    let Some(Event::AlertRaised(a)) = events.first() else {
        panic!("{events:?}")
    };
    assert!(a.message.contains("PipeWire"), "{}", a.message);
    // A restart of PipeWire shorter than that shows in the word and raises nothing.
    let mut s = Seq::new();
    s.run(1_000);
    s.obs.connected = false;
    let (events, words) = s.run(1_000);
    assert!(words.iter().all(|w| *w == StateWord::NoOutput), "{words:?}");
    s.obs.connected = true;
    let (more, words) = s.run(1_000);
    assert!(events.is_empty() && more.is_empty(), "{events:?} {more:?}");
    assert_eq!(words.last(), Some(&StateWord::Levelling));
}

#[test]
fn bypass_shows_at_once_and_over_limiting() {
    let mut s = Seq::new();
    s.obs.gr = 5.0;
    s.run(5_000);
    assert_eq!(s.state(), StateWord::Limiting);
    s.watch.set_bypass(true);
    s.run(100);
    assert_eq!(s.state(), StateWord::Bypass);
    s.watch.set_bypass(false);
    s.run(100);
    assert_eq!(s.state(), StateWord::Limiting);
}

#[test]
fn an_xrun_burst_degrades_until_a_minute_without_xruns() {
    let mut s = Seq::new();
    s.run(500);
    // Two xruns far apart: no burst.
    s.obs.xruns = 1;
    s.run(15_000);
    s.obs.xruns = 2;
    let (events, _) = s.run(1_000);
    assert!(events.is_empty(), "{events:?}");
    // Two more within 10 s of the second: a burst.
    s.obs.xruns = 4;
    let (events, _) = s.run(1_000);
    assert_eq!(raised(&events), [AlertKind::XrunBurst]);
    assert_eq!(s.state(), StateWord::Degraded);
    // More xruns while it lasts raise nothing new.
    s.obs.xruns = 10;
    let (events, _) = s.run(30_000);
    assert!(events.is_empty(), "{events:?}");
    let (events, _) = s.run(29_000);
    assert!(events.is_empty(), "{events:?}");
    let (events, _) = s.run(2_000);
    assert_eq!(cleared(&events), [AlertKind::XrunBurst]);
    assert_eq!(s.state(), StateWord::Levelling);
}

/// The real sink gone (or PipeWire): the bus's xruns then drop nothing out of anything the
/// user hears, and kept the state at degraded for a minute after the sink came back.
#[test]
fn xruns_with_no_real_sink_are_no_burst() {
    let mut s = Seq::new();
    s.obs.sink = false;
    s.obs.flowing = false;
    for k in 1..=20 {
        s.obs.xruns = 5 * k;
        s.run(200);
    }
    s.obs.connected = false;
    s.obs.xruns = 200;
    s.run(1_000);
    s.obs.connected = true;
    s.obs.sink = true;
    s.obs.flowing = true;
    let (events, words) = s.run(3_000);
    assert!(
        !raised(&events).contains(&AlertKind::XrunBurst)
            && !s.watch.is_active(AlertKind::XrunBurst),
        "{events:?}"
    );
    assert_eq!(words.last(), Some(&StateWord::Levelling));
    // With the sink there, a burst counts as before.
    s.obs.xruns = 203;
    let (events, _) = s.run(1_000);
    assert_eq!(raised(&events), [AlertKind::XrunBurst]);
}

#[test]
fn a_counter_that_restarts_is_not_a_burst() {
    let mut s = Seq::new();
    s.obs.xruns = 100;
    s.run(1_000);
    s.obs.xruns = 0; // the bus was rebuilt
    let (events, _) = s.run(1_000);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn clipped_input_is_raised_once_and_cleared_after_a_clean_half_minute() {
    let mut s = Seq::new();
    // A single over now and then is no alert.
    for _ in 0..5 {
        s.obs.in_tp = 0.5;
        s.run(100);
        s.obs.in_tp = -3.0;
        s.run(4_000);
    }
    assert!(!s.watch.is_active(AlertKind::InputClipping));
    s.obs.in_tp = 0.2;
    let (events, _) = s.run(20_000);
    assert_eq!(raised(&events), [AlertKind::InputClipping]);
    s.obs.in_tp = -1.0;
    let (events, _) = s.run(29_000);
    assert!(events.is_empty(), "{events:?}");
    let (events, _) = s.run(2_000);
    assert_eq!(cleared(&events), [AlertKind::InputClipping]);
}

/// A quiet app Layer A lifts reads that much hotter at the bus input: its lift is no
/// clipping of the app's (the float bus does not clip), and `input_clipping` told the user
/// to turn down an app that delivered −12 dBTP. Over the lift it still counts.
#[test]
fn a_peak_layer_a_lifted_is_no_clipped_input() {
    let mut s = Seq::new();
    s.obs.lift = 12.0;
    s.obs.in_tp = 0.5;
    let (events, _) = s.run(20_000);
    assert!(events.is_empty(), "{events:?}");
    s.obs.in_tp = 12.5;
    let (events, _) = s.run(20_000);
    assert_eq!(raised(&events), [AlertKind::InputClipping]);
}

/// Layer A bringing a lift down as the app gets loud: each tick's true peak was made under
/// the lift of the tick before. An app at −0.4 dBTP whose lift falls 12 → 0 dB by 0.5 dB a
/// tick clipped nothing; taken against the lift just set, every tick of the fall read 0.1 dB
/// over and raised `input_clipping`.
#[test]
fn a_lift_coming_down_is_no_clipped_input() {
    let mut s = Seq::new();
    let mut lifts = RecentLifts::default();
    let mut before = 12.0f32;
    lifts.push(before);
    let mut events = Vec::new();
    for k in 0..=24 {
        let now = 12.0 - 0.5 * k as f32;
        s.obs.lift = lifts.push(now);
        s.obs.in_tp = -0.4 + before;
        events.extend(s.run(100).0);
        before = now;
    }
    assert!(events.is_empty(), "{events:?}");
    // The same fall read against the lift just set: the alert this guards against.
    let mut s = Seq::new();
    let mut before = 12.0f32;
    let mut events = Vec::new();
    for k in 0..=24 {
        let now = 12.0 - 0.5 * k as f32;
        s.obs.lift = now;
        s.obs.in_tp = -0.4 + before;
        events.extend(s.run(100).0);
        before = now;
    }
    assert_eq!(raised(&events), [AlertKind::InputClipping]);
}

#[test]
fn recent_lifts_are_the_largest_of_the_last_ticks() {
    let mut l = RecentLifts::default();
    assert_eq!(l.push(6.0), 6.0);
    assert_eq!(l.push(2.0), 6.0);
    assert_eq!(l.push(f32::NAN), 6.0);
    assert_eq!(l.push(-3.0), 2.0);
    assert_eq!(l.push(1.0), 1.0);
}

#[test]
fn session_and_profile_alerts_follow_their_facts_without_repeats() {
    let mut w = Watch::new();
    assert_eq!(
        raised(&w.session(SessionFact::WirePlumberMissing, 1)),
        [AlertKind::SessionBroken]
    );
    assert_eq!(w.state(), StateWord::Degraded);
    assert!(w.session(SessionFact::Incomplete, 2).is_empty());
    assert!(w.session(SessionFact::WirePlumberBack, 3).is_empty());
    assert_eq!(
        cleared(&w.session(SessionFact::Whole, 4)),
        [AlertKind::SessionBroken]
    );
    assert!(w.session(SessionFact::Whole, 5).is_empty());
    // A restart of PipeWire (a new connection) voids the last session's facts: the PipeWire
    // thread forgets what it reported then, and reports the new session's anew.
    assert_eq!(
        raised(&w.session(SessionFact::Incomplete, 5)),
        [AlertKind::SessionBroken]
    );
    assert_eq!(
        cleared(&w.session(SessionFact::NewSession, 5)),
        [AlertKind::SessionBroken]
    );
    assert_ne!(w.state(), StateWord::Degraded);
    assert!(w.session(SessionFact::NewSession, 5).is_empty());

    // WirePlumber restarted on its own: gone, back, then judged. Back is no end of the
    // condition until the bus is seen linked (it used to clear at once and be raised again
    // when the link did not come: two notifications for one broken session); not linked,
    // the alert in force gives the advice that fits.
    assert_eq!(
        raised(&w.session(SessionFact::WirePlumberMissing, 6)),
        [AlertKind::SessionBroken]
    );
    assert!(w.session(SessionFact::WirePlumberBack, 7).is_empty());
    assert!(w.is_active(AlertKind::SessionBroken));
    assert!(w.session(SessionFact::Incomplete, 8).is_empty());
    let advice = w
        .active()
        .into_iter()
        .find(|a| a.kind == AlertKind::SessionBroken);
    assert!(
        advice.is_some_and(|a| a
            .message
            .contains("restart PipeWire and WirePlumber together")),
        "{:?}",
        w.active()
    );
    assert_eq!(
        cleared(&w.session(SessionFact::Whole, 9)),
        [AlertKind::SessionBroken]
    );
    // Back and linked: one clear.
    assert_eq!(
        raised(&w.session(SessionFact::WirePlumberMissing, 10)),
        [AlertKind::SessionBroken]
    );
    assert!(w.session(SessionFact::WirePlumberBack, 11).is_empty());
    assert_eq!(
        cleared(&w.session(SessionFact::Whole, 12)),
        [AlertKind::SessionBroken]
    );
    assert!(w.session(SessionFact::WirePlumberBack, 13).is_empty());
    assert!(!w.is_active(AlertKind::SessionBroken));

    let e = w.profile(Some("night.toml:3:14: expected a number".into()), 6);
    assert_eq!(raised(&e), [AlertKind::ProfileError]);
    assert!(w
        .profile(Some("night.toml:4:1: other".into()), 7)
        .is_empty());
    // A profile error leaves the word alone (QUIET here: nothing was heard yet): the last
    // good profile still levels.
    assert_eq!(w.state(), StateWord::Quiet);
    let e = w.profile(None, 8);
    assert_eq!(cleared(&e), [AlertKind::ProfileError]);
    let Event::AlertCleared(c) = &e[0] else {
        panic!()
    };
    assert_eq!((c.since_unix_ms, c.unix_ms), (6, 8));
    assert!(w.profile(None, 9).is_empty());
    assert!(w.active().is_empty());
}

#[test]
fn a_fresh_daemon_is_quiet_until_sound_comes() {
    // Nothing heard yet: QUIET at once (not LEVELLING for the 2 s QUIET takes to enter).
    let mut s = Seq::fresh();
    s.obs.in_m = -70.0;
    let (events, words) = s.run(3_000);
    assert!(events.is_empty(), "{events:?}");
    assert!(words.iter().all(|w| *w == StateWord::Quiet), "{words:?}");
    // Sound over the gate leaves it as usual.
    s.obs.in_m = -20.0;
    s.run(QUIET_LEAVE_MS);
    assert_eq!(s.state(), StateWord::Quiet);
    s.run(100);
    assert_eq!(s.state(), StateWord::Levelling);
}
