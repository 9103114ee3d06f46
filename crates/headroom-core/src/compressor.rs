//! Feed-forward, stereo-linked compressor with a soft knee.
//!
//! Level detection: the largest absolute sample over all channels of the input with its low
//! band taken down (what lies under [`LOW_BAND_HZ`] is read `sidechain_bass_cut_db` under its
//! level, 6 dB by default: a kick drum does not duck the sound over it), confirmed over
//! [`CONFIRM_MS`] (each step's level is the lower of its peak and the peak of the step before
//! it: a click of a few samples is left to the limiter), held over the last [`HOLD_MS`] (the
//! maximum of those levels over the last `HOLD_MS / STEP` steps and one, so that the detected
//! level of any periodic signal above 25 Hz is constant: no gain ripple, no intermodulation
//! on steady tones), goes through the static curve (threshold, ratio, knee) in dB. The resulting gain reduction is smoothed with
//! separate attack and release time constants and the gain is updated every [`STEP`] frames
//! (counted from the last reset, not from call boundaries) and ramped linearly sample by
//! sample in between, so the output is identical however the input is split into blocks.
//!
//! Two floors handed in by the chain bound the release: the reduction never falls under
//! [`Compressor::set_min_reduction_db`]'s, and while the chain hears a pause (sound far
//! under the programme) it is released no further than [`Compressor::set_pause_floor_db`]'s
//! (the automatic makeup), so the noise between sentences keeps the programme's gain.
//!
//! Parameter changes (threshold, ratio, knee, makeup, enable) go through the same smoothing:
//! no gain jumps.

use crate::params::CompressorParams;
use crate::util::{
    db_to_lin, finite_clamp, fold_sum8, gain_ramp, one_pole_alpha, GroupGather, Memo,
};

/// Control interval in frames: the gain curve is evaluated once per step and ramped linearly
/// in between.
pub const STEP: usize = 64;

/// Length of the peak hold in front of the gain computer, ms.
pub const HOLD_MS: f32 = 20.0;

/// How long a level must last to be detected, ms: each step's level is the lower of the
/// peaks of the steps spanning this much (at least two steps), so a click or a crackle
/// (a few samples, which the limiter holds on its own) does not pull the gain down for the
/// whole release after it — a 2-sample click over a quiet voice ducked it by 11 dB for
/// 0.3 s. Sound that lasts, a drum hit included, is detected as before, a step later. (A
/// click that straddles two steps, one in 32 for two samples at 48 kHz, is still seen; three
/// steps would catch those too, but let the onsets of loud speech 0.5–1 LU further over
/// the loudness ceiling.)
pub const CONFIRM_MS: f32 = 1.0;

/// Time constant of the makeup and enable transitions, s.
const MAKEUP_TAU_S: f64 = 0.02;

/// Corner of the detector's low band, Hz: the complement of a second-order Butterworth
/// high-pass there (what the high-pass takes away).
pub const LOW_BAND_HZ: f64 = 80.0;

/// Frames per group of the detector's low band: it is estimated from each group's mean, at
/// an eighth of the sample rate (a bass estimate does not need more), and subtracted from
/// every frame of the group. Groups are counted from the start of a step ([`STEP`] is a
/// multiple), so they never depend on how the input is split into calls.
const GROUP: usize = 8;

/// The compressor of a [`crate::Chain`].
#[derive(Debug, Clone)]
pub struct Compressor {
    rate: u32,
    channels: usize,
    params: CompressorParams,
    /// Coefficients `[b0, a1, a2]` of the low band's high-pass at the group rate (numerator
    /// `b0·[1, −2, 1]`; the low band is a group's mean less its high-passed value).
    low_hp: [f64; 3],
    /// The low band's high-pass state per channel, `[x1, x2, y1, y2]` (group means in,
    /// high-passed out).
    low_state: Vec<[f64; 4]>,
    /// Share of the low band the detector subtracts from its input
    /// (`1 − 10^(−sidechain_bass_cut_db / 20)`): bass well under [`LOW_BAND_HZ`] is read that
    /// much under its level, sound well over it at its own.
    low_cut: f64,
    /// Frames of a group not yet complete (interleaved).
    group: GroupGather,
    /// Levels of the last steps for the hold (ring; each the lowest peak of its
    /// [`CONFIRM_MS`] of steps), the current step's running peak and the ring position.
    step_peaks: Vec<f32>,
    /// Raw peaks of the last steps the confirmation looks at (ring) and its position.
    recent: Vec<f32>,
    recent_pos: usize,
    step_peak: f32,
    ring_pos: usize,
    /// Smoothed gain reduction, dB (≥ 0).
    gr_db: f64,
    /// Smoothed makeup, dB.
    makeup_db: f64,
    /// Automatic makeup handed in by the chain (what the compressor and limiter take away
    /// from the programme's loudness), dB.
    auto_makeup_db: f64,
    /// Loudness-ceiling gain handed in by the chain, dB (≤ 0), applied with the makeup.
    ceiling_db: f64,
    /// Smallest gain reduction, dB (≥ 0), handed in by the chain with the automatic makeup:
    /// sound far under the programme is lifted by the makeup at most this much less than
    /// the programme's own reduction (see [`Compressor::set_min_reduction_db`]).
    min_gr_db: f64,
    /// Reduction the release stops at while the sound is a pause under the programme, dB
    /// (≥ 0; 0: none), handed in by the chain (see [`Compressor::set_pause_floor_db`]).
    pause_floor_db: f64,
    /// Static (curve) gain reduction for the detected level at the last two control points,
    /// dB: what the compressor takes away once its attack and release have settled.
    static_prev_db: f64,
    static_db: f64,
    /// `10^(−static_prev_db / 10)` and `10^(−static_db / 10)`, computed when they change.
    static_prev_pow: f64,
    static_pow: f64,
    /// `log10` of the held peak at the last control point that needed it.
    log_held: Memo,
    /// Gain at the start and end of the current ramp.
    gain_from: f32,
    gain_to: f32,
    /// Frames done in the current step.
    pos: usize,
    attack_alpha: f64,
    release_alpha: f64,
    makeup_alpha: f64,
    /// Detected level below which the curve gives no reduction (linear), so no logarithm is
    /// needed there.
    knee_floor: f32,
    /// `gain_to` in dB (the conversion is skipped while it does not change).
    gain_to_db: f32,
}

impl Compressor {
    /// Creates a compressor for `channels` interleaved channels at `sample_rate`. Allocates.
    pub fn new(sample_rate: u32, channels: usize, params: &CompressorParams) -> Self {
        let rate = sample_rate.max(1);
        let hold_len = ((HOLD_MS / 1000.0) * rate as f32).round().max(1.0) as usize;
        // The confirmation: the steps spanning CONFIRM_MS, at least two. The hold is longer
        // by as many steps less one, so that the detected level of a periodic signal is
        // still constant (its peaks are confirmed later).
        let step_ms = STEP as f32 * 1000.0 / rate as f32;
        let confirm = ((CONFIRM_MS / step_ms).ceil() as usize + 1).max(2);
        let hold_steps = hold_len.div_ceil(STEP).max(1) + confirm - 1;
        let channels = channels.max(1);
        let group_rate = f64::from(rate) / GROUP as f64;
        let w = (std::f64::consts::PI * LOW_BAND_HZ.min(0.4 * group_rate) / group_rate).tan();
        let q = std::f64::consts::FRAC_1_SQRT_2;
        let a0 = 1.0 + w / q + w * w;
        let mut c = Self {
            rate,
            channels,
            low_hp: [
                1.0 / a0,
                2.0 * (w * w - 1.0) / a0,
                (1.0 - w / q + w * w) / a0,
            ],
            low_state: vec![[0.0; 4]; channels],
            group: GroupGather::new(GROUP * channels),
            low_cut: 0.0,
            params: *params,
            step_peaks: vec![0.0; hold_steps],
            recent: vec![0.0; confirm],
            recent_pos: 0,
            step_peak: 0.0,
            ring_pos: 0,
            gr_db: 0.0,
            makeup_db: 0.0,
            auto_makeup_db: 0.0,
            ceiling_db: 0.0,
            min_gr_db: 0.0,
            pause_floor_db: 0.0,
            static_prev_db: 0.0,
            static_db: 0.0,
            static_prev_pow: 1.0,
            static_pow: 1.0,
            log_held: Memo::new(),
            gain_from: 1.0,
            gain_to: 1.0,
            pos: 0,
            attack_alpha: 1.0,
            release_alpha: 1.0,
            makeup_alpha: 1.0,
            knee_floor: 0.0,
            gain_to_db: f32::NAN,
        };
        c.set_params(params);
        c.reset();
        c
    }

    /// Returns to the initial state (no gain reduction, makeup in force). Real-time safe.
    pub fn reset(&mut self) {
        self.low_state.iter_mut().for_each(|s| *s = [0.0; 4]);
        self.group.clear();
        self.step_peaks.iter_mut().for_each(|p| *p = 0.0);
        self.recent.iter_mut().for_each(|p| *p = 0.0);
        self.recent_pos = 0;
        self.step_peak = 0.0;
        self.ring_pos = 0;
        self.gr_db = 0.0;
        self.static_prev_db = 0.0;
        self.static_db = 0.0;
        self.static_prev_pow = 1.0;
        self.static_pow = 1.0;
        self.ceiling_db = 0.0;
        self.min_gr_db = 0.0;
        self.pause_floor_db = 0.0;
        self.auto_makeup_db = 0.0;
        self.makeup_db = self.makeup_target();
        let g = db_to_lin(self.makeup_db as f32);
        self.gain_from = g;
        self.gain_to = g;
        self.gain_to_db = self.makeup_db as f32;
        self.pos = 0;
    }

    /// Hands in new parameters; the gain moves to the new curve through the attack/release
    /// and makeup smoothing. Real-time safe.
    pub fn set_params(&mut self, p: &CompressorParams) {
        self.params = *p;
        let step_rate = self.rate as f64 / STEP as f64;
        let attack_s = finite_clamp(p.attack_ms, 10.0, 0.01, 10_000.0) as f64 / 1000.0;
        let release_s = finite_clamp(p.release_ms, 200.0, 0.01, 60_000.0) as f64 / 1000.0;
        self.attack_alpha = one_pole_alpha(attack_s, step_rate);
        self.release_alpha = one_pole_alpha(release_s, step_rate);
        self.makeup_alpha = one_pole_alpha(MAKEUP_TAU_S, step_rate);
        let t = finite_clamp(p.threshold_db, -18.0, -120.0, 60.0);
        let w = finite_clamp(p.knee_db, 0.0, 0.0, 60.0);
        let bass_db = finite_clamp(p.sidechain_bass_cut_db, 6.0, 0.0, 60.0);
        self.low_cut = 1.0 - 10f64.powf(-f64::from(bass_db) / 20.0);
        // A little below the knee start, so rounding never skips a reduction.
        self.knee_floor = db_to_lin(t - w / 2.0 - 0.01);
    }

    /// The parameters in force.
    pub fn params(&self) -> &CompressorParams {
        &self.params
    }

    fn makeup_target(&self) -> f64 {
        let own = if self.params.enabled {
            finite_clamp(self.params.makeup_db, 0.0, -60.0, 60.0) as f64
        } else {
            0.0
        };
        own + self.auto_makeup_db
    }

    /// Sets the automatic makeup applied after the gain reduction, dB (clamped to
    /// 0 … 60); it is reached through the makeup smoothing. Real-time safe.
    pub fn set_auto_makeup_db(&mut self, db: f64) {
        self.auto_makeup_db = if db.is_finite() {
            db.clamp(0.0, 60.0)
        } else {
            0.0
        };
    }

    /// Sets the loudness-ceiling gain applied with the makeup from the next control point
    /// on, dB (clamped to −90 … 0; the caller smooths it). Real-time safe.
    pub fn set_ceiling_db(&mut self, db: f64) {
        self.ceiling_db = if db.is_finite() {
            db.clamp(-90.0, 0.0)
        } else {
            0.0
        };
    }

    /// Sets the smallest gain reduction, dB (clamped to 0 … 60), from the next control point
    /// on: the static curve's reduction counts as at least this much. With a compressor far
    /// under the programme and the automatic makeup that matches it, the curve would lift
    /// everything under the programme to nearly its level (room noise in a pause of speech
    /// included); the chain sets this to the programme's reduction less the most it lets
    /// the makeup lift quieter sound. Real-time safe.
    pub fn set_min_reduction_db(&mut self, db: f64) {
        self.min_gr_db = if db.is_finite() {
            db.clamp(0.0, 60.0)
        } else {
            0.0
        };
    }

    /// Sets the reduction the release stops at, dB (clamped to 0 … 60; 0 turns it off), from
    /// the next control point on: while the chain hears a pause (sound far under the
    /// programme: room noise between sentences) the reduction is released no further than
    /// this, and never raised to it. The chain hands in the automatic makeup, so what lies
    /// under the programme keeps the programme's gain instead of rising by the makeup the
    /// programme's own reduction asked for (noise between sentences would otherwise come
    /// up as the compressor releases: breathing). Real-time safe.
    pub fn set_pause_floor_db(&mut self, db: f64) {
        self.pause_floor_db = if db.is_finite() {
            db.clamp(0.0, 60.0)
        } else {
            0.0
        };
    }

    /// The loudness-ceiling gain in force, dB. Real-time safe.
    pub fn ceiling_db(&self) -> f64 {
        self.ceiling_db
    }

    /// The makeup in force (own and automatic, smoothed), dB. Real-time safe.
    pub fn makeup_in_force_db(&self) -> f64 {
        self.makeup_db
    }

    /// The automatic makeup in force (its target), dB. Real-time safe.
    pub fn auto_makeup_db(&self) -> f64 {
        self.auto_makeup_db
    }

    /// Power gain of the static curve (makeup excluded) for the level detected over the
    /// last completed step: what the compressor keeps of its input's energy once its attack
    /// and release have settled. The makeup is derived from it, so that a compressor still
    /// releasing from a sudden peak does not pull the makeup up. Real-time safe.
    pub fn last_step_power_gain(&self) -> f64 {
        0.5 * (self.static_prev_pow + self.static_pow)
    }

    /// Static curve: gain reduction in dB (≥ 0) for a detected level in dBFS.
    pub fn static_gain_reduction_db(p: &CompressorParams, level_db: f64) -> f64 {
        let t = finite_clamp(p.threshold_db, -18.0, -120.0, 60.0) as f64;
        let w = finite_clamp(p.knee_db, 0.0, 0.0, 60.0) as f64;
        let slope = curve_slope(p);
        let over = level_db - t;
        let gr = if 2.0 * over <= -w {
            0.0
        } else if w > 0.0 && 2.0 * over < w {
            let k = over + w / 2.0;
            slope * k * k / (2.0 * w)
        } else {
            slope * over
        };
        gr.max(0.0)
    }

    /// End-of-step control update.
    #[inline(never)]
    fn control(&mut self) {
        if let Some(slot) = self.recent.get_mut(self.recent_pos) {
            *slot = self.step_peak;
        }
        self.recent_pos += 1;
        if self.recent_pos >= self.recent.len() {
            self.recent_pos = 0;
        }
        let confirmed = self.recent.iter().fold(f32::INFINITY, |a, &b| a.min(b));
        if let Some(slot) = self.step_peaks.get_mut(self.ring_pos) {
            *slot = confirmed;
        }
        self.ring_pos += 1;
        if self.ring_pos >= self.step_peaks.len() {
            self.ring_pos = 0;
        }
        self.step_peak = 0.0;
        for v in self.low_state.iter_mut().flatten() {
            if v.abs() < 1e-30 {
                *v = 0.0;
            }
        }
        let held = self.step_peaks.iter().fold(0.0f32, |a, &b| a.max(b));
        let mut target = if self.params.enabled && held > self.knee_floor {
            let level_db = 20.0 * self.log_held.get(held as f64, f64::log10);
            Self::static_gain_reduction_db(&self.params, level_db).max(self.min_gr_db)
        } else if self.params.enabled {
            self.min_gr_db
        } else {
            0.0
        };
        if self.params.enabled && target < self.gr_db && self.pause_floor_db > 0.0 {
            // A pause: released no further than the floor (and not raised to it).
            target = target.max(self.gr_db.min(self.pause_floor_db));
        }
        self.static_prev_db = self.static_db;
        self.static_prev_pow = self.static_pow;
        if target.to_bits() != self.static_db.to_bits() {
            self.static_pow = 10f64.powf(-target / 10.0);
        }
        self.static_db = target;
        let a = if target > self.gr_db {
            self.attack_alpha
        } else {
            self.release_alpha
        };
        self.gr_db += a * (target - self.gr_db);
        if self.gr_db < 1e-9 {
            self.gr_db = 0.0;
        }
        self.makeup_db += self.makeup_alpha * (self.makeup_target() - self.makeup_db);
        if (self.makeup_db - self.makeup_target()).abs() < 1e-9 {
            self.makeup_db = self.makeup_target();
        }
        self.gain_from = self.gain_to;
        let g_db = (self.makeup_db - self.gr_db + self.ceiling_db) as f32;
        if g_db != self.gain_to_db {
            self.gain_to_db = g_db;
            self.gain_to = db_to_lin(g_db);
        }
        self.pos = 0;
    }

    /// Processes interleaved frames in place. `buf.len()` should be a multiple of the channel
    /// count; a trailing partial frame is left untouched. Real-time safe.
    #[inline]
    pub fn process(&mut self, buf: &mut [f32]) {
        let ch = self.channels;
        let whole = buf.len() / ch * ch;
        let mut rest = buf.get_mut(..whole).unwrap_or(&mut []);
        // Runs up to the next control point: detection first (the input before the gain),
        // then the gain ramp.
        while rest.len() >= ch {
            let todo = STEP.saturating_sub(self.pos).max(1).min(rest.len() / ch);
            let (run, next) = rest.split_at_mut(todo * ch);
            rest = next;
            self.run(run);
            if self.pos >= STEP {
                self.control();
            }
        }
    }

    /// Processes interleaved frames that do not reach past the next control point (at most
    /// `STEP − frames done in this step`; extra frames get the end gain) without running the
    /// control update at its end: the caller runs [`end_step`](Self::end_step) there, after
    /// telling the compressor about gain changes in front of it
    /// ([`rescale_held`](Self::rescale_held)). Real-time safe.
    #[inline]
    pub fn process_within_step(&mut self, buf: &mut [f32]) {
        let ch = self.channels;
        let whole = buf.len() / ch * ch;
        if let Some(run) = buf.get_mut(..whole) {
            self.run(run);
        }
        self.pos = self.pos.min(STEP);
    }

    /// Runs the control update if the current step is complete (see
    /// [`process_within_step`](Self::process_within_step)). Real-time safe.
    pub fn end_step(&mut self) {
        if self.pos >= STEP {
            self.control();
        }
    }

    /// Detection and gain ramp over `run` (whole frames within one step).
    #[inline]
    fn run(&mut self, run: &mut [f32]) {
        let ch = self.channels;
        self.detect(run);
        let (from, to) = (self.gain_from, self.gain_to);
        if from == to {
            // Flat ramp: every frame gets exactly `from` (what the ramp formula gives).
            run.iter_mut().for_each(|x| *x *= from);
        } else {
            gain_ramp(run, ch, from, to, self.pos, STEP);
        }
        self.pos += run.len() / ch;
    }

    /// Level detection over `run` (whole frames within one step): complete groups go through
    /// [`detect_groups`](Self::detect_groups), a group's frames that come in several calls are
    /// gathered first.
    #[inline]
    fn detect(&mut self, run: &[f32]) {
        let len = self.group.group_len();
        let mut rest = run;
        if self.group.is_partial() {
            let mut gather = std::mem::take(&mut self.group);
            let (whole, tail) = gather.complete(rest);
            let done = whole.map(|g| self.detect_groups(g));
            self.group = gather;
            let Some(d) = done else {
                return;
            };
            self.step_peak = self.step_peak.max(d);
            rest = tail;
        }
        let whole = rest.len() / len * len;
        let (groups, tail) = rest.split_at(whole);
        if !groups.is_empty() {
            let d = self.detect_groups(groups);
            self.step_peak = self.step_peak.max(d);
        }
        self.group.hold(tail);
    }

    /// Complete groups (`GROUP` interleaved frames each): per channel, each group's mean goes
    /// through the low band's filter; returns the largest `|x − low_cut · low|` over them.
    /// That is `max(max x − low, low − min x)` per group bit for bit (rounding is monotonic),
    /// so only the groups' extremes are needed. Sums, extremes and filter run in one fixed
    /// order whatever the code path ([`groups_stereo_portable`] spells it out).
    #[inline]
    fn detect_groups(&mut self, g: &[f32]) -> f32 {
        let ch = self.channels;
        let (coef, cut) = (self.low_hp, self.low_cut);
        if let [l, r] = &mut self.low_state[..] {
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU has it.
                return unsafe { groups_stereo_sse2(l, r, coef, cut, g) };
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                return groups_stereo_portable(l, r, coef, cut, g);
            }
        }
        let mut peak = 0.0f32;
        for grp in g.chunks_exact(GROUP * ch) {
            for (c, st) in self.low_state.iter_mut().enumerate() {
                let mut v = [0.0f32; GROUP];
                for (d, &x) in v.iter_mut().zip(grp.iter().skip(c).step_by(ch)) {
                    *d = x;
                }
                let (sum, lo, hi) = fold_group(&v);
                peak = peak.max(close_group(st, coef, cut, sum, lo, hi));
            }
        }
        peak
    }

    /// Tells the compressor that the gain in front of it has just changed by `ratio` (linear):
    /// the peaks it holds for detection are scaled to match, so a sudden large cut in front
    /// (a loud onset caught by the AGC) does not leave it reducing for a peak that no longer
    /// comes. Real-time safe.
    pub fn rescale_held(&mut self, ratio: f32) {
        if !(ratio.is_finite() && ratio > 0.0) {
            return;
        }
        self.step_peaks.iter_mut().for_each(|p| *p *= ratio);
        self.recent.iter_mut().for_each(|p| *p *= ratio);
        self.step_peak *= ratio;
        let r = f64::from(ratio);
        self.low_state.iter_mut().flatten().for_each(|v| *v *= r);
    }

    /// Takes what the curve's slope makes of a cut of `drop_db` in front off the gain
    /// reduction in force (never under the smallest reduction), so that after a sudden large
    /// cut (a loud onset caught by the AGC) it does not release from a reduction made for
    /// levels that no longer come over its release time. Call once the cut has been ramped
    /// through (the control point after it), so that the two gains never move against each
    /// other within one step. Returns how far the reduction fell, dB (≥ 0). Real-time safe.
    pub fn lower_reduction_for_cut(&mut self, drop_db: f32) -> f64 {
        if !(self.params.enabled && drop_db.is_finite() && drop_db > 0.0) {
            return 0.0;
        }
        let slope = curve_slope(&self.params);
        let before = self.gr_db;
        self.gr_db = (before - f64::from(drop_db) * slope).max(self.min_gr_db.min(before));
        before - self.gr_db
    }

    /// Scales the peak detected so far in the current step by `ratio` (linear): that step
    /// ramped from the gain before a sudden cut in front to the gain after it. Call before
    /// [`end_step`](Self::end_step). Real-time safe.
    pub fn rescale_current_step(&mut self, ratio: f32) {
        if ratio.is_finite() && ratio > 0.0 {
            self.step_peak *= ratio;
        }
    }

    /// Gain reduction of the static curve for the level detected at the last control point,
    /// dB (≥ 0): where the gain reduction is heading. Real-time safe.
    pub fn target_gain_reduction_db(&self) -> f64 {
        self.static_db
    }

    /// Current gain reduction, dB (≥ 0). Real-time safe.
    pub fn gain_reduction_db(&self) -> f32 {
        self.gr_db as f32
    }
}

/// Sum ([`fold_sum8`]), smallest and largest value of one channel's group, the extremes in
/// the same order as the sum: frames `i` and `i + 4`, then `i` and `i + 2`, then the two.
#[inline(always)]
fn fold_group(v: &[f32; GROUP]) -> (f32, f32, f32) {
    let min = |a: f32, b: f32| if b < a { b } else { a };
    let max = |a: f32, b: f32| if b > a { b } else { a };
    let lo = |i: usize| min(min(v[i], v[i + 4]), min(v[i + 2], v[i + 6]));
    let hi = |i: usize| max(max(v[i], v[i + 4]), max(v[i + 2], v[i + 6]));
    (fold_sum8(v, 1, 0), min(lo(0), lo(1)), max(hi(0), hi(1)))
}

/// One channel's group through the detector's low band: `st` is the filter state `[x1, x2,
/// y1, y2]`, `coef` its `[b0, a1, a2]`, `cut` the share of the low band taken away; `sum`,
/// `lo` and `hi` the group's sum and extremes. Returns the group's largest
/// `|x − cut · low|`.
#[inline(always)]
fn close_group(st: &mut [f64; 4], coef: [f64; 3], cut: f64, sum: f32, lo: f32, hi: f32) -> f32 {
    let [b0, a1, a2] = coef;
    let [x1, x2, y1, y2] = *st;
    let m = f64::from(sum) * (1.0 / GROUP as f64);
    let y = b0 * (m - 2.0 * x1 + x2) - a2 * y2 - a1 * y1;
    *st = [m, x1, y, y1];
    let low = (cut * (m - y)) as f32;
    (hi - low).max(low - lo)
}

/// [`Compressor::detect_groups`] for two channels in portable code: each group's frames are
/// folded as by [`fold_group`], then both channels go through [`close_group`].
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn groups_stereo_portable(
    l: &mut [f64; 4],
    r: &mut [f64; 4],
    coef: [f64; 3],
    cut: f64,
    g: &[f32],
) -> f32 {
    let mut peak = 0.0f32;
    for grp in g.chunks_exact(2 * GROUP) {
        let mut v = [[0.0f32; GROUP]; 2];
        for (i, f) in grp.chunks_exact(2).enumerate() {
            v[0][i] = f[0];
            v[1][i] = f[1];
        }
        for (st, v) in [&mut *l, &mut *r].into_iter().zip(&v) {
            let (sum, lo, hi) = fold_group(v);
            peak = peak.max(close_group(st, coef, cut, sum, lo, hi));
        }
    }
    peak
}

/// [`groups_stereo_portable`] with SSE2 (part of every x86-64 CPU), the filter state in
/// registers across groups: the same operations in the same order per channel, so the same
/// results (the stereo frames' channels fall into alternate lanes, so the fold's halves are
/// whole registers).
///
/// # Safety
/// The CPU must support SSE2 (every x86-64 CPU does).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
unsafe fn groups_stereo_sse2(
    l: &mut [f64; 4],
    r: &mut [f64; 4],
    coef: [f64; 3],
    cut: f64,
    g: &[f32],
) -> f32 {
    use std::arch::x86_64::*;
    let lane = |i: usize| _mm_set_pd(r[i], l[i]);
    let (mut x1, mut x2, mut y1, mut y2) = (lane(0), lane(1), lane(2), lane(3));
    let [b0, a1, a2] = coef.map(|c| _mm_set1_pd(c));
    let two = _mm_set1_pd(2.0);
    let scale = _mm_set1_pd(1.0 / GROUP as f64);
    let cut = _mm_set1_pd(cut);
    let mut peak = _mm_setzero_ps();
    for grp in g.chunks_exact(2 * GROUP) {
        // SAFETY: `grp` holds 16 floats; each unaligned load reads 4 of them.
        let (v0, v1, v2, v3) = unsafe {
            let p = grp.as_ptr();
            (
                _mm_loadu_ps(p),
                _mm_loadu_ps(p.add(4)),
                _mm_loadu_ps(p.add(8)),
                _mm_loadu_ps(p.add(12)),
            )
        };
        // Lane k of v0..v3: channel k mod 2 of frames k/2, 2 + k/2, 4 + k/2, 6 + k/2.
        // `_mm_min_ps(b, a)` is `if b < a { b } else { a }`, as in `fold_group`.
        let s4 = _mm_add_ps(_mm_add_ps(v0, v2), _mm_add_ps(v1, v3));
        let sum = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        let lo4 = _mm_min_ps(_mm_min_ps(v3, v1), _mm_min_ps(v2, v0));
        let lo = _mm_min_ps(_mm_movehl_ps(lo4, lo4), lo4);
        let hi4 = _mm_max_ps(_mm_max_ps(v3, v1), _mm_max_ps(v2, v0));
        let hi = _mm_max_ps(_mm_movehl_ps(hi4, hi4), hi4);
        let m = _mm_mul_pd(_mm_cvtps_pd(sum), scale);
        let y = _mm_sub_pd(
            _mm_sub_pd(
                _mm_mul_pd(b0, _mm_add_pd(_mm_sub_pd(m, _mm_mul_pd(two, x1)), x2)),
                _mm_mul_pd(a2, y2),
            ),
            _mm_mul_pd(a1, y1),
        );
        (x2, x1) = (x1, m);
        (y2, y1) = (y1, y);
        let low = _mm_cvtpd_ps(_mm_mul_pd(cut, _mm_sub_pd(m, y)));
        let d = _mm_max_ps(_mm_sub_ps(hi, low), _mm_sub_ps(low, lo));
        peak = _mm_max_ps(peak, d);
    }
    let lo = |v: __m128d| _mm_cvtsd_f64(v);
    let hi = |v: __m128d| _mm_cvtsd_f64(_mm_unpackhi_pd(v, v));
    *l = [lo(x1), lo(x2), lo(y1), lo(y2)];
    *r = [hi(x1), hi(x2), hi(y1), hi(y2)];
    // Lanes 0 and 1 are the two channels' (lanes 2 and 3 hold the folds' upper halves).
    let p1 = _mm_shuffle_ps::<0b01>(peak, peak);
    _mm_cvtss_f32(_mm_max_ss(peak, p1))
}

/// Slope of the static curve above its knee: the reduction per dB over the threshold,
/// `1 − 1/ratio` (0 at a ratio of 1, or one that is not finite).
fn curve_slope(p: &CompressorParams) -> f64 {
    1.0 - 1.0 / finite_clamp(p.ratio, 1.0, 1.0, 1000.0) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_curve_has_threshold_knee_and_ratio() {
        let p = CompressorParams {
            threshold_db: -10.0,
            ratio: 4.0,
            knee_db: 6.0,
            ..Default::default()
        };
        // Below the knee: nothing; above it: (1 − 1/R) of the overshoot; knee is continuous.
        assert_eq!(Compressor::static_gain_reduction_db(&p, -20.0), 0.0);
        assert_eq!(Compressor::static_gain_reduction_db(&p, -13.0), 0.0);
        let above = Compressor::static_gain_reduction_db(&p, 0.0);
        assert!((above - 7.5).abs() < 1e-9, "{above}");
        let at_t = Compressor::static_gain_reduction_db(&p, -10.0);
        assert!((at_t - 0.75 * 9.0 / 12.0).abs() < 1e-9, "{at_t}");
        let edge = Compressor::static_gain_reduction_db(&p, -7.0);
        assert!((edge - 0.75 * 3.0).abs() < 1e-9, "{edge}");
    }

    /// Deterministic test signal: a 40 Hz tone, a 3 kHz tone and noise, scaled by `amp`.
    fn mix(frames: usize, amp: f32, seed: u32) -> Vec<f32> {
        let mut r = seed.max(1);
        let mut noise = move || {
            r ^= r << 13;
            r ^= r >> 17;
            r ^= r << 5;
            r as f32 / u32::MAX as f32 - 0.5
        };
        (0..frames * 2)
            .map(|i| {
                let t = (i / 2) as f32 / 48_000.0;
                let w = std::f32::consts::TAU;
                amp * (0.6 * (w * 40.0 * t).sin() + 0.2 * (w * 3000.0 * t).sin() + 0.2 * noise())
            })
            .collect()
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn stereo_detector_kernels_agree_bit_for_bit() {
        let c = Compressor::new(48_000, 2, &CompressorParams::default());
        for (amp, seed) in [(1.0, 1), (1000.0, 2), (1e-6, 3), (0.0, 4)] {
            let x = mix(4096, amp, seed);
            let (mut l1, mut r1, mut l2, mut r2) = ([0.0; 4], [0.0; 4], [0.0; 4], [0.0; 4]);
            for part in x.chunks(2 * GROUP * 7) {
                let part = &part[..part.len() / (2 * GROUP) * (2 * GROUP)];
                let a = groups_stereo_portable(&mut l1, &mut r1, c.low_hp, c.low_cut, part);
                // SAFETY: SSE2 is part of the x86-64 baseline.
                let b = unsafe { groups_stereo_sse2(&mut l2, &mut r2, c.low_hp, c.low_cut, part) };
                assert_eq!(a.to_bits(), b.to_bits(), "peak, amplitude {amp}");
                for (p, q) in l1.iter().chain(&r1).zip(l2.iter().chain(&r2)) {
                    assert_eq!(p.to_bits(), q.to_bits(), "state, amplitude {amp}");
                }
            }
        }
    }

    #[test]
    fn the_output_does_not_depend_on_how_the_input_is_split() {
        let p = CompressorParams {
            threshold_db: -30.0,
            ratio: 4.0,
            ..Default::default()
        };
        for ch in [1, 2, 3] {
            let x: Vec<f32> = mix(20_000 * ch / 2, 0.8, 7)
                .into_iter()
                .take(20_000 * ch)
                .collect();
            let mut whole = x.clone();
            Compressor::new(48_000, ch, &p).process(&mut whole);
            let mut split = x.clone();
            let mut c = Compressor::new(48_000, ch, &p);
            let mut pos = 0;
            for (k, n) in [1, 7, 64, 3, 200, 13, 1000].iter().cycle().enumerate() {
                if pos >= split.len() {
                    break;
                }
                let end = (pos + n * ch).min(split.len());
                if k % 2 == 0 {
                    c.process(&mut split[pos..end]);
                } else {
                    // The chain's way: runs within a step, then the control point.
                    let mut at = pos;
                    while at < end {
                        let room = (STEP - c.pos) * ch;
                        let e = (at + room).min(end);
                        c.process_within_step(&mut split[at..e]);
                        c.end_step();
                        at = e;
                    }
                }
                pos = end;
            }
            let same = whole
                .iter()
                .zip(&split)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{ch} channels: output depends on the split");
        }
    }

    #[test]
    fn bass_is_read_under_its_level_as_set() {
        // A 40 Hz tone and a 2 kHz tone at the same peak: with the default 6 dB the
        // detector reads the bass 6–7.5 dB lower (the low band's complement rises a little
        // over 1 towards its corner: 7.5 dB at 40 Hz), with 0 both alike.
        let reduction = |freq: f32, cut_db: f32| {
            let p = CompressorParams {
                threshold_db: -40.0,
                ratio: 2.0,
                knee_db: 0.0,
                sidechain_bass_cut_db: cut_db,
                ..Default::default()
            };
            let mut c = Compressor::new(48_000, 2, &p);
            let mut x: Vec<f32> = (0..96_000)
                .map(|i| 0.5 * (std::f32::consts::TAU * freq * (i / 2) as f32 / 48_000.0).sin())
                .collect();
            c.process(&mut x);
            f64::from(c.gain_reduction_db())
        };
        let (bass, treble) = (reduction(40.0, 6.0), reduction(2000.0, 6.0));
        // Half of the level difference (ratio 2), the treble read at its own level.
        assert!(
            (treble - 0.5 * (40.0 - 6.02)).abs() < 0.1,
            "treble {treble}"
        );
        let read_under = 2.0 * (treble - bass);
        assert!(
            (5.5..8.0).contains(&read_under),
            "bass read {read_under} dB under"
        );
        let (bass0, treble0) = (reduction(40.0, 0.0), reduction(2000.0, 0.0));
        assert!(
            (bass0 - treble0).abs() < 0.1,
            "full band: {bass0} vs {treble0}"
        );
    }

    #[test]
    fn steady_tone_gets_a_constant_gain_and_disable_returns_to_unity() {
        let mut p = CompressorParams {
            threshold_db: -20.0,
            ratio: 4.0,
            knee_db: 0.0,
            ..Default::default()
        };
        let mut c = Compressor::new(48_000, 1, &p);
        let tone = |n: usize| 0.5 * (n as f32 * 2.0 * std::f32::consts::PI / 48.0).sin();
        let mut buf: Vec<f32> = (0..48_000).map(tone).collect();
        c.process(&mut buf);
        // −6.02 dBFS peak, 13.98 dB over: 10.49 dB reduction, constant once settled.
        let want = 0.75 * (20.0 * 0.5f32.log10() + 20.0);
        assert!(
            (c.gain_reduction_db() - want).abs() < 0.01,
            "{}",
            c.gain_reduction_db()
        );
        let ratios: Vec<f32> = buf[40_000..]
            .iter()
            .enumerate()
            .filter(|(_, v)| v.abs() > 0.05)
            .map(|(i, v)| v / tone(40_000 + i))
            .collect();
        let (lo, hi) = ratios
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &r| (a.min(r), b.max(r)));
        assert!(hi - lo < 1e-5, "gain varies {lo}..{hi}");
        p.enabled = false;
        c.set_params(&p);
        let mut buf: Vec<f32> = (0..144_000).map(tone).collect();
        c.process(&mut buf);
        assert!(c.gain_reduction_db() < 1e-3, "{}", c.gain_reduction_db());
        assert!((buf[143_000] - tone(143_000)).abs() < 1e-4);
    }

    #[test]
    fn a_pause_floor_stops_the_release_and_never_raises_the_reduction() {
        let p = CompressorParams {
            threshold_db: -20.0,
            ratio: 4.0,
            knee_db: 0.0,
            release_ms: 100.0,
            ..Default::default()
        };
        let tone = |n: usize, amp: f32| amp * (n as f32 * 2.0 * std::f32::consts::PI / 48.0).sin();
        // A tone 14 dB over the threshold (10.5 dB reduction), then one 30 dB quieter: the
        // reduction releases to 0 without a floor, stops at the floor with one.
        let run = |floor: f64| {
            let mut c = Compressor::new(48_000, 1, &p);
            let mut loud: Vec<f32> = (0..48_000).map(|n| tone(n, 0.5)).collect();
            c.process(&mut loud);
            let before = c.gain_reduction_db();
            c.set_pause_floor_db(floor);
            let mut quiet: Vec<f32> = (0..48_000).map(|n| tone(n, 0.0158)).collect();
            c.process(&mut quiet);
            (before, c.gain_reduction_db())
        };
        let (before, free) = run(0.0);
        assert!(before > 10.0 && free < 0.01, "{before} → {free}");
        let (_, held) = run(6.0);
        assert!(
            (held - 6.0).abs() < 1e-3,
            "released to {held} with a floor of 6 dB"
        );
        // A floor above the reduction in force holds it where it is: never raised to it.
        let (_, held) = run(20.0);
        assert!(
            (held - before).abs() < 1e-3,
            "{before} → {held} with a floor of 20 dB"
        );
        // Off again, the release goes on; a sound over the floor's level is still caught.
        let mut c = Compressor::new(48_000, 1, &p);
        c.set_pause_floor_db(6.0);
        let mut quiet: Vec<f32> = (0..48_000).map(|n| tone(n, 0.0158)).collect();
        c.process(&mut quiet);
        assert!(c.gain_reduction_db() < 1e-9, "{}", c.gain_reduction_db());
        let mut loud: Vec<f32> = (0..48_000).map(|n| tone(n, 0.5)).collect();
        c.process(&mut loud);
        assert!(c.gain_reduction_db() > 10.0, "{}", c.gain_reduction_db());
        c.set_pause_floor_db(0.0);
        c.process(&mut quiet);
        assert!(c.gain_reduction_db() < 0.01, "{}", c.gain_reduction_db());
        c.set_pause_floor_db(f64::NAN);
        assert_eq!(c.pause_floor_db, 0.0);
    }

    #[test]
    fn a_click_is_no_level_but_sound_that_lasts_is() {
        // A quiet tone under the threshold, a 2-sample full-scale click: no reduction (it
        // took 11 dB and released it over `release_ms`). The same tone then 20 dB up for
        // 10 ms: reduced.
        let p = CompressorParams {
            threshold_db: -20.0,
            ratio: 4.0,
            knee_db: 0.0,
            attack_ms: 1.0,
            release_ms: 200.0,
            ..CompressorParams::default()
        };
        let tone = |n: usize, amp: f32| -> Vec<f32> {
            (0..n)
                .flat_map(|i| {
                    let v = amp * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 48_000.0).sin();
                    [v, v]
                })
                .collect()
        };
        let mut c = Compressor::new(48_000, 2, &p);
        let mut x = tone(4_800, 0.03);
        for k in [2_400usize, 2_401] {
            x[2 * k] = 0.99;
            x[2 * k + 1] = 0.99;
        }
        c.process(&mut x);
        assert!(
            c.gain_reduction_db() < 0.01,
            "{:.2} dB of reduction after a click",
            c.gain_reduction_db()
        );
        let mut loud = tone(480, 0.3);
        c.process(&mut loud);
        assert!(
            c.gain_reduction_db() > 3.0,
            "{:.2} dB of reduction on sound 20 dB up for 10 ms",
            c.gain_reduction_db()
        );
    }
}
