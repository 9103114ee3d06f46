//! Layer A: per-stream pre-levelling. One application much louder than the bus target is
//! turned down at its own stream volume before it reaches the chain, so that it does not
//! dominate the bus (and pull the AGC down for every other app).
//!
//! [`LayerA`] is a pure gain computer, one per tapped stream, stepped by the engine at about
//! 10 Hz with the stream's short-term loudness (read from its tap) and the bus target.
//!
//! ## Definition
//! * Input per step: the tap's **momentary** loudness (400 ms window, measured after the
//!   stream volume) and, for display, its short-term loudness.
//! * The tap sits after the stream's own volume, so it hears our reduction. Each momentary
//!   reading is compensated by the mean power gain `g² = 10^(−reduction/10)` in force over the
//!   last 400 ms, giving the stream's own momentary energy; exact for a steady stream, so the
//!   loop has no feedback oscillation.
//! * **Gating / freeze:** a step whose momentary loudness is at or below [`GATE_LUFS`] (−70
//!   LUFS, also "no measurement" / NaN), or more than [`RELATIVE_GATE_LU`] below the current
//!   estimate, is silence: the reduction is held and the step does not enter the estimate. A
//!   pause never releases the reduction, so the app does not come back at full level, and
//!   fade-outs do not count as "calm".
//! * The stream's loudness `L_raw` is the mean energy of the compensated momentary readings
//!   of the last 3 s of *active* steps (a short-term loudness that skips pauses).
//! * `excess = L_raw − target_lufs`. The **wanted reduction** is
//!   `clamp(excess − threshold_lu, 0, max_reduction_db)`: an app is untouched up to
//!   `threshold_lu` above the bus target and, above that, brought back to
//!   `target + threshold_lu` (continuous — no jump when the threshold is crossed).
//! * The applied reduction moves toward the wanted one by at most `attack_db_per_s` when
//!   increasing and `release_db_per_s` when decreasing.
//! * **Disabled:** the reduction is 0 and the volume 1 at once (turning Layer A off restores
//!   every stream's volume immediately).
//!
//! Output: `volume_lin = 10^(−reduction_db/20)` for the stream's master `volume` property.
//! The user's own stream volume (`channelVolumes`, what desktop mixers show and set) is never
//! written; the stream's converter applies the product of the two, and the tap hears both.

use headroom_core::LayerAParams;
use serde::{Deserialize, Serialize};

/// Momentary loudness at or below this is silence: the reduction freezes, LUFS. The meters'
/// "no measurement" floor ([`headroom_core::LUFS_FLOOR`], the BS.1770 absolute gate).
pub const GATE_LUFS: f64 = headroom_core::LUFS_FLOOR;

/// A step more than this below the current loudness estimate is a pause or a fade: the
/// reduction freezes, LU.
pub const RELATIVE_GATE_LU: f64 = 20.0;

/// Window of the loudness estimate (active time), s.
const ESTIMATE_S: f32 = 3.0;

/// Window of the gain compensation (the momentary window), s.
const MOMENTARY_S: f32 = 0.4;

/// History slots (enough for 3 s at up to 100 steps per second).
const HISTORY: usize = 300;

/// Smallest volume change worth sending to PipeWire, dB.
pub const SEND_STEP_DB: f32 = 0.05;

/// One reading of a stream's tap. Values at or below [`GATE_LUFS`] (or NaN) mean "nothing
/// measured".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TapReading {
    /// Momentary loudness (400 ms), LUFS.
    pub momentary_lufs: f64,
    /// Short-term loudness (3 s), LUFS.
    pub short_term_lufs: f64,
}

impl TapReading {
    /// A reading of silence.
    pub const SILENT: TapReading = TapReading {
        momentary_lufs: GATE_LUFS,
        short_term_lufs: GATE_LUFS,
    };
}

/// Layer A state of one stream, published for the monitor and `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerAState {
    /// Stream node id.
    pub node_id: u32,
    /// Application name.
    pub app: String,
    /// Stream volume Layer A asks for, linear (1 = untouched).
    pub volume_lin: f32,
    /// Current reduction, dB (≥ 0).
    pub reduction_db: f32,
    /// Short-term loudness measured at the tap (after the reduction), LUFS; `None` below the
    /// gate or before a measurement.
    pub short_term_lufs: Option<f64>,
    /// The stream's own loudness before Layer A (the estimate the reduction is computed from:
    /// reduction undone, pauses skipped, last 3 s of activity), LUFS; `None` before any
    /// active step.
    pub raw_lufs: Option<f64>,
}

/// A fixed-size ring of `(duration s, value)` pairs, newest last.
#[derive(Debug, Clone)]
struct Ring {
    items: [(f32, f64); HISTORY],
    head: usize,
    len: usize,
}

impl Ring {
    fn new() -> Self {
        Self {
            items: [(0.0, 0.0); HISTORY],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, dt: f32, v: f64) {
        self.items[self.head] = (dt, v);
        self.head = (self.head + 1) % HISTORY;
        self.len = (self.len + 1).min(HISTORY);
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    /// Duration-weighted mean of the newest entries covering `window` seconds.
    fn mean(&self, window: f32) -> Option<f64> {
        let (mut t, mut acc) = (0.0f32, 0.0f64);
        for i in 0..self.len {
            let (dt, v) = self.items[(self.head + HISTORY - 1 - i) % HISTORY];
            t += dt;
            acc += f64::from(dt) * v;
            if t >= window {
                break;
            }
        }
        (t > 0.0).then(|| acc / f64::from(t))
    }
}

/// The gain computer of one stream.
#[derive(Debug, Clone)]
pub struct LayerA {
    params: LayerAParams,
    reduction_db: f32,
    /// Power gain in force per step.
    gains: Ring,
    /// Compensated momentary energy per active step.
    energies: Ring,
    last_sent_db: Option<f32>,
    last_short_term: Option<f64>,
}

impl LayerA {
    /// A computer with no reduction.
    pub fn new(params: LayerAParams) -> Self {
        Self {
            params,
            reduction_db: 0.0,
            gains: Ring::new(),
            energies: Ring::new(),
            last_sent_db: None,
            last_short_term: None,
        }
    }

    /// Replaces the parameters. Disabling resets the reduction to 0 at once; a lower
    /// `max_reduction_db` clamps it at once.
    pub fn set_params(&mut self, params: LayerAParams) {
        self.params = params;
        if !params.enabled {
            self.reduction_db = 0.0;
            self.gains.clear();
            self.energies.clear();
        } else {
            self.reduction_db = self.reduction_db.min(self.max_reduction());
        }
    }

    fn max_reduction(&self) -> f32 {
        finite_or(self.params.max_reduction_db, 0.0).max(0.0)
    }

    /// The parameters in force.
    pub fn params(&self) -> &LayerAParams {
        &self.params
    }

    /// Current reduction, dB (≥ 0).
    pub fn reduction_db(&self) -> f32 {
        self.reduction_db
    }

    /// Volume to apply to the stream, linear.
    pub fn volume_lin(&self) -> f32 {
        10f32.powf(-self.reduction_db / 20.0)
    }

    /// The stream's own loudness (reduction undone, pauses skipped, last 3 s of activity),
    /// LUFS; `None` before any active step.
    pub fn raw_lufs(&self) -> Option<f64> {
        self.energies
            .mean(ESTIMATE_S)
            .filter(|e| *e > 0.0)
            .map(|e| 10.0 * e.log10() - 0.691)
    }

    /// Advances by `dt_s` seconds with the tap's latest `reading` and the bus target
    /// `target_lufs`. Returns the reduction now applied, dB. Never panics; a non-finite or
    /// negative `dt_s` counts as 0.
    pub fn update(&mut self, reading: TapReading, target_lufs: f32, dt_s: f32) -> f32 {
        let dt = if dt_s.is_finite() { dt_s.max(0.0) } else { 0.0 };
        let valid = |l: f64| (l.is_finite() && l > GATE_LUFS).then_some(l);
        self.last_short_term = valid(reading.short_term_lufs);
        if !self.params.enabled {
            self.reduction_db = 0.0;
            self.gains.clear();
            self.energies.clear();
            return 0.0;
        }
        // The gain in force during the interval that just ended.
        if dt > 0.0 {
            self.gains
                .push(dt, 10f64.powf(-f64::from(self.reduction_db) / 10.0));
        }
        let Some(m) = valid(reading.momentary_lufs) else {
            return self.reduction_db; // silence: hold
        };
        let comp = self
            .gains
            .mean(MOMENTARY_S)
            .unwrap_or_else(|| 10f64.powf(-f64::from(self.reduction_db) / 10.0))
            .max(1e-12);
        let raw_m = m - 10.0 * comp.log10();
        if let Some(l) = self.raw_lufs() {
            if raw_m < l - RELATIVE_GATE_LU {
                return self.reduction_db; // a pause or fade: hold
            }
        }
        if dt > 0.0 {
            self.energies.push(dt, 10f64.powf((raw_m + 0.691) / 10.0));
        } else if self.energies.len == 0 {
            self.energies.push(1e-3, 10f64.powf((raw_m + 0.691) / 10.0));
        }
        let Some(raw) = self.raw_lufs() else {
            return self.reduction_db;
        };
        let excess = raw - f64::from(target_lufs);
        let threshold = f64::from(finite_or(self.params.threshold_lu, 0.0));
        let wanted = ((excess - threshold).max(0.0) as f32).min(self.max_reduction());
        let attack = finite_or(self.params.attack_db_per_s, 0.0).max(0.0) * dt;
        let release = finite_or(self.params.release_db_per_s, 0.0).max(0.0) * dt;
        if !wanted.is_finite() {
            return self.reduction_db;
        }
        if wanted > self.reduction_db {
            self.reduction_db = (self.reduction_db + attack).min(wanted);
        } else {
            self.reduction_db = (self.reduction_db - release).max(wanted);
        }
        self.reduction_db
    }

    /// The volume to send to PipeWire: the first call always returns one (Layer A owns the
    /// volume of the streams it taps — WirePlumber's restore-stream may have given a new
    /// stream the reduced volume of that app's previous stream, which must not stick), later
    /// calls only when it moved by at least [`SEND_STEP_DB`] since the last one sent (or
    /// reached exactly 0 dB / the bound). Marks it as sent.
    pub fn volume_to_send(&mut self) -> Option<f32> {
        let r = self.reduction_db;
        let due = match self.last_sent_db {
            None => true,
            Some(s) => {
                (s - r).abs() >= SEND_STEP_DB
                    || (r == 0.0 && s != 0.0)
                    || (r == self.max_reduction() && s != r)
            }
        };
        if due {
            self.last_sent_db = Some(r);
            Some(self.volume_lin())
        } else {
            None
        }
    }

    /// The state for the monitor.
    pub fn state(&self, node_id: u32, app: &str) -> LayerAState {
        LayerAState {
            node_id,
            app: app.to_string(),
            volume_lin: self.volume_lin(),
            reduction_db: self.reduction_db,
            short_term_lufs: self.last_short_term,
            raw_lufs: self.raw_lufs(),
        }
    }
}

fn finite_or(v: f32, d: f32) -> f32 {
    if v.is_finite() {
        v
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: f32 = -16.0;
    const DT: f32 = 0.1;

    fn params() -> LayerAParams {
        LayerAParams {
            enabled: true,
            threshold_lu: 6.0,
            max_reduction_db: 12.0,
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
            self.la.update(r, TARGET, DT)
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
            la.update(reading(10.0), TARGET, DT);
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
        assert_eq!(s.la.update(reading(-80.0), TARGET, DT), r1);
        assert_eq!(s.la.update(reading(f64::NAN), TARGET, DT), r1);
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
        la.update(reading(0.0), TARGET, DT);
        let v = la.volume_to_send().unwrap();
        assert!((20.0 * v.log10() + 0.6).abs() < 1e-3);
        assert_eq!(la.volume_to_send(), None);
        la.update(reading(0.0), TARGET, 0.001);
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
            attack_db_per_s: -1.0,
            release_db_per_s: f32::NAN,
        });
        for m in [f64::INFINITY, f64::NEG_INFINITY, 0.0, f64::NAN, 1e300] {
            for dt in [f32::NAN, -1.0, 0.0, 0.1, f32::INFINITY] {
                let r = la.update(reading(m), f32::NAN, dt);
                assert!(r.is_finite() && r >= 0.0);
            }
        }
        assert!(la.volume_lin().is_finite());
    }
}
