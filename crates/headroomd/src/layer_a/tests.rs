//! Unit tests of the Layer A gain computer: a simulated tap hears the stream after the
//! volume Layer A asks for.

use super::*;

const TARGET: f32 = -16.0;
const DT: f32 = 0.1;

fn params() -> LayerAParams {
    LayerAParams {
        enabled: true,
        threshold_lu: 6.0,
        max_reduction_db: 12.0,
        max_boost_db: 20.0,
        attack_db_per_s: 6.0,
        release_db_per_s: 1.5,
    }
}

fn lufs(p: f64) -> f64 {
    if p > 0.0 {
        10.0 * p.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// A stream whose own loudness per 100 ms is `raw`; the tap measures it after the applied
/// reduction, averaged in power over 400 ms (momentary) and 3 s (short-term).
struct Sim {
    la: LayerA,
    powers: Vec<f64>,
}

impl Sim {
    fn new(p: LayerAParams) -> Self {
        Self {
            la: LayerA::new(p),
            powers: Vec::new(),
        }
    }

    fn reading(&self) -> TapReading {
        let mean = |n: usize| {
            let n = self.powers.len().min(n);
            self.powers[self.powers.len() - n..].iter().sum::<f64>() / n.max(1) as f64
        };
        TapReading {
            momentary_lufs: lufs(mean(4)),
            short_term_lufs: lufs(mean(30)),
        }
    }

    fn step(&mut self, raw: Option<f64>) -> f32 {
        let g = f64::from(self.la.volume_lin());
        let p = raw.map_or(0.0, |l| 10f64.powf(l / 10.0) * g * g);
        self.powers.push(p);
        let r = self.reading();
        self.la.update(r, TARGET, DT, None)
    }

    fn run(&mut self, raw: Option<f64>, secs: f32) -> f32 {
        let mut r = 0.0;
        for _ in 0..(secs / DT).round() as usize {
            r = self.step(raw);
        }
        r
    }
}

fn reading(l: f64) -> TapReading {
    TapReading {
        momentary_lufs: l,
        short_term_lufs: l,
    }
}

#[test]
fn quiet_and_moderate_streams_are_untouched() {
    for raw in [-30.0, -16.0, -10.5] {
        let mut s = Sim::new(params());
        assert_eq!(s.run(Some(raw), 20.0), 0.0, "raw {raw}");
        assert_eq!(s.la.volume_lin(), 1.0);
        // Unity is sent once (the stream may have started with a restored volume).
        assert_eq!(s.la.volume_to_send(), Some(1.0));
        assert_eq!(s.la.volume_to_send(), None);
    }
}

#[test]
fn loud_stream_settles_at_excess_minus_threshold() {
    // −4 LUFS: 12 LU over the −16 target, 6 over the threshold → 6 dB.
    let mut s = Sim::new(params());
    let r = s.run(Some(-4.0), 20.0);
    assert!((r - 6.0).abs() < 0.05, "reduction {r}");
    // The estimate of the stream's own loudness undoes the reduction...
    let raw = s.la.raw_lufs().unwrap();
    assert!((raw + 4.0).abs() < 0.1, "raw estimate {raw}");
    // ...while the tap hears the reduced stream at target + threshold.
    let heard = s.reading().short_term_lufs;
    assert!((heard + 10.0).abs() < 0.1, "heard {heard}");
    let v = s.la.volume_lin();
    assert!((20.0 * v.log10() + 6.0).abs() < 0.05);
}

#[test]
fn reduction_is_bounded_by_max() {
    let mut s = Sim::new(params());
    assert_eq!(s.run(Some(10.0), 30.0), 12.0);
}

#[test]
fn attack_rate_limits_the_rise() {
    let mut la = LayerA::new(params());
    for _ in 0..10 {
        la.update(reading(10.0), TARGET, DT, None);
    }
    assert!(
        (la.reduction_db() - 6.0).abs() < 1e-3,
        "{}",
        la.reduction_db()
    );
    let mut s = Sim::new(params());
    let mut prev = 0.0;
    for _ in 0..50 {
        let r = s.step(Some(0.0));
        assert!(r >= prev && r - prev <= 6.0 * DT + 1e-4, "{prev} → {r}");
        prev = r;
    }
    assert!(prev > 9.9);
}

#[test]
fn pauses_freeze_and_calm_releases_slowly() {
    let mut s = Sim::new(params());
    let r0 = s.run(Some(-4.0), 20.0);
    assert!((r0 - 6.0).abs() < 0.05);
    // A 10 s pause: held (the momentary tail as the pause starts barely counts).
    let r1 = s.run(None, 10.0);
    assert!((r1 - r0).abs() < 0.3, "pause moved {r0} → {r1}");
    assert_eq!(s.la.update(reading(-80.0), TARGET, DT, None), r1);
    assert_eq!(s.la.update(reading(f64::NAN), TARGET, DT, None), r1);
    // Back loud: where it was, no burst.
    for _ in 0..10 {
        let r = s.step(Some(-4.0));
        assert!((r - r0).abs() < 0.5, "{r} vs {r0}");
    }
    // Calm (−20 LUFS): released at 1.5 dB/s; the estimate forgets the loud part within
    // 3 s, then 6 dB take 4 s.
    let mut prev = s.la.reduction_db();
    let mut steps = 0;
    while s.la.reduction_db() > 0.0 && steps < 200 {
        let r = s.step(Some(-20.0));
        assert!(prev - r <= 1.5 * DT + 1e-4, "release too fast");
        prev = r;
        steps += 1;
    }
    assert_eq!(s.la.reduction_db(), 0.0);
    assert!((38..=75).contains(&steps), "released in {steps} steps");
}

#[test]
fn quieter_content_that_lasts_releases_the_reduction_but_is_never_boosted() {
    // A loud intro (−4 LUFS: 6 dB cut alone), then quiet speech 26 LU under it: a pause at
    // first (held), quieter content once it has lasted QUIET_RELEASE_S — the cut is released
    // at 1.5 dB/s and stops at 0 dB (the cut used to stay for as long as the stream played).
    let mut s = Sim::new(params());
    let r0 = s.run(Some(-4.0), 20.0);
    assert!((r0 - 6.0).abs() < 0.05);
    let r1 = s.run(Some(-30.0), 2.5);
    assert!(
        (r1 - r0).abs() < 0.3,
        "a short quiet stretch moved {r0} → {r1}"
    );
    let r2 = s.run(Some(-30.0), 3.0);
    assert!(r2 < r1 - 2.0 && r2 > 0.0, "{r1} → {r2}");
    let r3 = s.run(Some(-30.0), 10.0);
    assert_eq!(r3, 0.0, "released to {r3}");
    // Digital silence between does not count as quieter content, and nothing lifts it.
    let mut s = Sim::new(params());
    s.run(Some(-4.0), 20.0);
    let held = s.run(None, 10.0);
    assert!(
        (held - 6.0).abs() < 0.3,
        "silence released the cut to {held}"
    );
    let r = s.run(Some(-30.0), 1.0);
    assert!((r - held).abs() < 0.3, "{held} → {r}");
    // The loud part back: cut again at the attack rate, from where the release left it.
    let mut s = Sim::new(params());
    s.run(Some(-4.0), 20.0);
    s.run(Some(-30.0), 20.0);
    assert_eq!(s.la.reduction_db(), 0.0);
    let back = s.run(Some(-4.0), 4.0);
    assert!((back - 6.0).abs() < 0.3, "back loud: {back}");
}

#[test]
fn disabling_restores_at_once() {
    let mut s = Sim::new(params());
    s.run(Some(-4.0), 20.0);
    assert!(s.la.volume_to_send().is_some());
    let mut p = params();
    p.enabled = false;
    s.la.set_params(p);
    assert_eq!(s.la.reduction_db(), 0.0);
    assert_eq!(s.la.volume_to_send(), Some(1.0));
    assert_eq!(s.run(Some(0.0), 5.0), 0.0);
    // Re-enabled: starts from 0 and attacks again.
    s.la.set_params(params());
    assert!(s.run(Some(-4.0), 20.0) > 5.9);
}

#[test]
fn lower_max_clamps_at_once() {
    let mut s = Sim::new(params());
    s.run(Some(10.0), 30.0);
    let mut p = params();
    p.max_reduction_db = 3.0;
    s.la.set_params(p);
    assert_eq!(s.la.reduction_db(), 3.0);
}

#[test]
fn volume_is_sent_only_on_meaningful_change() {
    let mut la = LayerA::new(params());
    assert_eq!(la.volume_to_send(), Some(1.0));
    assert_eq!(la.volume_to_send(), None);
    la.update(reading(0.0), TARGET, DT, None);
    let v = la.volume_to_send().unwrap();
    assert!((20.0 * v.log10() + 0.6).abs() < 1e-3);
    assert_eq!(la.volume_to_send(), None);
    la.update(reading(0.0), TARGET, 0.001, None);
    assert_eq!(la.volume_to_send(), None, "0.006 dB is below the send step");
}

#[test]
fn state_reports_short_term_and_volume() {
    let mut s = Sim::new(params());
    s.run(Some(-4.0), 20.0);
    let st = s.la.state(42, "loud");
    assert_eq!(st.node_id, 42);
    assert_eq!(st.app, "loud");
    assert!((st.short_term_lufs.unwrap() + 10.0).abs() < 0.1);
    assert!((st.raw_lufs.unwrap() + 4.0).abs() < 0.1);
    assert!((st.volume_lin - s.la.volume_lin()).abs() < 1e-6);
    s.run(None, 5.0);
    assert_eq!(s.la.state(42, "loud").short_term_lufs, None);
}

#[test]
fn bad_inputs_do_not_panic_or_poison() {
    let mut la = LayerA::new(LayerAParams {
        enabled: true,
        threshold_lu: f32::NAN,
        max_reduction_db: f32::INFINITY,
        max_boost_db: f32::NAN,
        attack_db_per_s: -1.0,
        release_db_per_s: f32::NAN,
    });
    for m in [f64::INFINITY, f64::NEG_INFINITY, 0.0, f64::NAN, 1e300] {
        for dt in [f32::NAN, -1.0, 0.0, 0.1, f32::INFINITY] {
            let r = la.update(reading(m), f32::NAN, dt, Some(f64::from(dt)));
            assert!(r.is_finite() && r >= 0.0);
        }
    }
    assert!(la.volume_lin().is_finite());
}

/// Two streams stepped together, as the controller does.
fn step_two(a: &mut Sim, b: &mut Sim, ra: Option<f64>, rb: Option<f64>) {
    for (s, raw) in [(&mut *a, ra), (&mut *b, rb)] {
        let g = f64::from(s.la.volume_lin());
        let p = raw.map_or(0.0, |l| 10f64.powf(l / 10.0) * g * g);
        s.powers.push(p);
    }
    let (rda, rdb) = (a.reading(), b.reading());
    let playing = |r: &TapReading| r.momentary_lufs > GATE_LUFS;
    let raw: Vec<f64> = [(&*a, &rda), (&*b, &rdb)]
        .iter()
        .filter(|(_, r)| playing(r))
        .filter_map(|(s, _)| s.la.raw_lufs())
        .collect();
    let common = common_level(&raw, TARGET, &params());
    a.la.update(rda, TARGET, DT, common.filter(|_| playing(&rda)));
    b.la.update(rdb, TARGET, DT, common.filter(|_| playing(&rdb)));
}

#[test]
fn common_level_is_the_target_when_reachable_else_the_middle() {
    let p = params();
    assert_eq!(common_level(&[-20.0], TARGET, &p), None);
    assert_eq!(common_level(&[-20.0, f64::NAN], TARGET, &p), None);
    assert_eq!(common_level(&[-10.0, -30.0], TARGET, &p), Some(-16.0));
    // The quiet one can reach −24 at most: the level goes down to it (the loud one can
    // come down to −17 at least).
    assert_eq!(common_level(&[-5.0, -44.0], TARGET, &p), Some(-20.5));
    // Louder than the loud one can be brought down to: no common level reaches the
    // target, the loud one's floor wins over the target.
    assert_eq!(common_level(&[5.0, -8.0], TARGET, &p), Some(-7.0));
}

#[test]
fn two_apps_playing_together_meet_within_3_lu() {
    // Music at −6 LUFS and a quiet call at −36: 30 LU apart.
    let (mut a, mut b) = (Sim::new(params()), Sim::new(params()));
    for _ in 0..200 {
        step_two(&mut a, &mut b, Some(-6.0), Some(-36.0));
    }
    let heard = |s: &Sim| s.reading().short_term_lufs;
    let (ha, hb) = (heard(&a), heard(&b));
    assert!((ha - hb).abs() <= 3.05, "music {ha:.2}, call {hb:.2}");
    assert!(a.la.gain_db() < 0.0 && b.la.gain_db() > 0.0);
    // The call is lifted at most max_boost_db; the volume goes above 1.
    assert!(b.la.gain_db() <= 20.0 && b.la.volume_lin() > 1.0);
    assert_eq!(b.la.reduction_db(), -b.la.gain_db());
    // The call pauses: once its momentary window is empty, its boost is held (its room
    // noise is not pumped).
    for _ in 0..5 {
        step_two(&mut a, &mut b, Some(-6.0), None);
    }
    let g = b.la.gain_db();
    for _ in 0..25 {
        step_two(&mut a, &mut b, Some(-6.0), None);
    }
    assert_eq!(b.la.gain_db(), g);
    // The call ends for good... well, stays silent: the music alone goes back to its
    // own rule (threshold over the target), at the release rate.
    for _ in 0..100 {
        step_two(&mut a, &mut b, Some(-6.0), None);
    }
    assert!((a.la.gain_db() + 4.0).abs() < 0.05, "{}", a.la.gain_db());
}

/// A quiet call lifted beside music turns 15 dB louder (the other speaker, or the call's own
/// loud part): its lift comes down at [`LIFT_TAKE_BACK_DB_PER_S`] at least (the attack rate
/// when that is faster) — at the release rate it stood ≈ 10 dB over the music for 6 s —
/// and the two meet again.
#[test]
fn a_lifted_app_that_turns_loud_has_its_lift_taken_back_fast() {
    let (mut a, mut b) = (Sim::new(params()), Sim::new(params()));
    for _ in 0..200 {
        step_two(&mut a, &mut b, Some(-8.0), Some(-43.0));
    }
    let lift = b.la.gain_db();
    assert!(lift > 19.0, "lifted {lift}");
    let mut steps = 0;
    let mut fastest = 0.0f32;
    while steps < 100 {
        let before = b.la.gain_db();
        step_two(&mut a, &mut b, Some(-8.0), Some(-28.0));
        fastest = fastest.max(before - b.la.gain_db());
        steps += 1;
        let (ha, hb) = (a.reading().short_term_lufs, b.reading().short_term_lufs);
        if (ha - hb).abs() <= 3.05 && steps > 30 {
            break;
        }
    }
    assert!(
        fastest > 0.65 && fastest <= LIFT_TAKE_BACK_DB_PER_S * DT + 1e-4,
        "lift taken back by {fastest} dB per step at most"
    );
    assert!(
        steps <= 60,
        "the two meet again after {steps} steps (lift {:.2} dB)",
        b.la.gain_db()
    );
}

/// The loud app stops and the quiet one plays on alone: the lift it was given is kept (the
/// bus AGC levels it either way; let go at the release rate it was a slow fall the AGC could
/// only chase). Grown loud alone, it is taken back to the alone rule at the attack rate.
#[test]
fn a_lift_given_beside_a_loud_app_is_kept_once_the_quiet_app_plays_alone() {
    let (mut a, mut b) = (Sim::new(params()), Sim::new(params()));
    for _ in 0..200 {
        step_two(&mut a, &mut b, Some(-6.0), Some(-36.0));
    }
    let lift = b.la.gain_db();
    assert!(lift > 15.0, "lifted {lift}");
    // The music ends; the call goes on alone for 20 s.
    for i in 0..200 {
        step_two(&mut a, &mut b, None, Some(-36.0));
        let g = b.la.gain_db();
        assert!((g - lift).abs() < 1e-4, "step {i}: {lift} → {g}");
    }
    // The call grows loud (−14 LUFS, 2 LU over the target): at most target + threshold − raw
    // = 4 dB of lift is left, at the attack rate (6 dB/s) once its estimate has moved.
    let mut steps = 0;
    while b.la.gain_db() > 4.0 + 1e-4 && steps < 100 {
        let before = b.la.gain_db();
        step_two(&mut a, &mut b, None, Some(-14.0));
        assert!(before - b.la.gain_db() <= 6.0 * DT + 1e-4);
        steps += 1;
    }
    assert!(
        steps < 60,
        "still {} dB after {steps} steps",
        b.la.gain_db()
    );
    assert!((b.la.gain_db() - 4.0).abs() < 0.05, "{}", b.la.gain_db());
    // A quiet app that was never lifted is not lifted alone.
    let mut s = Sim::new(params());
    assert_eq!(s.run(Some(-36.0), 10.0), 0.0);
}

#[test]
fn apps_close_to_each_other_are_left_alone() {
    let (mut a, mut b) = (Sim::new(params()), Sim::new(params()));
    for _ in 0..100 {
        step_two(&mut a, &mut b, Some(-15.0), Some(-17.0));
    }
    assert_eq!(a.la.gain_db(), 0.0);
    assert_eq!(b.la.gain_db(), 0.0);
}

#[test]
fn boost_is_bounded_and_disable_restores_unity() {
    let mut p = params();
    p.max_boost_db = 6.0;
    let (mut a, mut b) = (Sim::new(p), Sim::new(p));
    a.la.set_params(p);
    b.la.set_params(p);
    for _ in 0..200 {
        step_two(&mut a, &mut b, Some(-16.0), Some(-40.0));
    }
    // step_two aims with params() (max boost 20); the stream's own limit still holds.
    assert_eq!(b.la.gain_db(), 6.0);
    p.enabled = false;
    b.la.set_params(p);
    assert_eq!(b.la.volume_lin(), 1.0);
}

#[test]
fn no_reduction_reads_as_plus_zero() {
    let la = LayerA::new(params());
    assert!(la.reduction_db() == 0.0 && la.reduction_db().is_sign_positive());
    let st = la.state(3, "app");
    assert!(st.reduction_db.is_sign_positive());
    assert_eq!(serde_json::to_string(&st.reduction_db).unwrap(), "0.0");
}

#[test]
fn the_users_own_volume_stays_on_top() {
    // A quiet call (−35 LUFS) levelled toward music at −20 LUFS (several apps play). The
    // user turns the call down 18 dB in a mixer: the tap hears that too. Layer A judges the
    // stream by its own loudness, so its gain is what it was and the user's cut stays (it
    // lifted the call back up to its 20 dB limit before).
    let gain_with = |user_db: f32| {
        let mut la = LayerA::new(params());
        la.set_user_volume(10f32.powf(user_db / 20.0));
        let mut powers: Vec<f64> = Vec::new();
        let mut r = 0.0;
        for _ in 0..600 {
            let g = f64::from(la.volume_lin()) * 10f64.powf(f64::from(user_db) / 20.0);
            powers.push(10f64.powf(-35.0 / 10.0) * g * g);
            let mean = |n: usize| {
                let n = powers.len().min(n);
                powers[powers.len() - n..].iter().sum::<f64>() / n as f64
            };
            let reading = TapReading {
                momentary_lufs: lufs(mean(4)),
                short_term_lufs: lufs(mean(30)),
            };
            r = la.update(reading, TARGET, DT, Some(-20.0));
        }
        -r
    };
    let (plain, cut) = (gain_with(0.0), gain_with(-18.0));
    assert!(plain > 10.0, "the call lifted {plain:.1} dB");
    assert!(
        (plain - cut).abs() < 0.5,
        "{plain:.1} dB, with the user's cut {cut:.1} dB"
    );
    // Nonsense volumes are ignored.
    let mut la = LayerA::new(params());
    for v in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        la.set_user_volume(v);
    }
    assert_eq!(la.user_pow, 1.0);
}

/// A loud part that lasted, then quieter content: the estimate (what the monitor shows as
/// the stream's loudness) starts again from the quieter content instead of staying at the
/// loud part's level for good, and beside another stream the quieter one is neither cut
/// again for the loud part nor lifted (it may be the room's noise). A 30 s loud passage
/// left the estimate at −11 LUFS for as long as the stream played, and the stream cut while
/// it played at −35 LUFS next to music.
#[test]
fn quieter_content_after_a_long_loud_part_is_estimated_again_and_never_cut_for_it() {
    // Alone.
    let mut s = Sim::new(params());
    s.run(Some(-8.0), 30.0);
    assert!((s.la.raw_lufs().unwrap() + 8.0).abs() < 0.1);
    s.run(Some(-35.0), 10.0);
    let raw = s.la.raw_lufs().unwrap();
    assert!((raw + 35.0).abs() < 0.5, "estimate {raw}");
    assert_eq!(s.la.reduction_db(), 0.0);
    // Beside music at −20 LUFS: x is loud (cut toward the common level), then quiet.
    let (mut x, mut y) = (Sim::new(params()), Sim::new(params()));
    for _ in 0..300 {
        step_two(&mut x, &mut y, Some(-8.0), Some(-20.0));
    }
    assert!(x.la.reduction_db() > 2.0, "{}", x.la.reduction_db());
    let mut most = f32::MAX;
    for i in 0..300 {
        step_two(&mut x, &mut y, Some(-35.0), Some(-20.0));
        let r = x.la.reduction_db();
        // Once released, the cut never comes back; and nothing lifts it.
        if i > 30 {
            assert!(r <= most + 1e-6, "cut again: {most} → {r} at step {i}");
        }
        most = most.min(r);
        assert!(r >= 0.0, "lifted: {r}");
    }
    assert_eq!(x.la.reduction_db(), 0.0);
    let raw = x.la.raw_lufs().unwrap();
    assert!((raw + 35.0).abs() < 0.5, "estimate {raw}");
}
