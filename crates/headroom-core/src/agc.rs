//! Automatic gain control toward a loudness target.
//!
//! The AGC is driven by the gated momentary loudness (BS.1770, 400 ms) of the chain input,
//! which the input meter updates every 100 ms; the gain is controlled every [`STEP`] frames.
//! It keeps an estimate of the *programme loudness* and moves its gain toward
//! `target − programme + loss`, where `loss` is the loudness the compressor and limiter take
//! away (measured by the chain from its two meters, made up for up to
//! [`MAX_LOSS_MAKEUP_DB`]):
//!
//! * **Small changes** (within [`FAST_UP_LU`] above and [`PAUSE_LU`] below the estimate) are
//!   followed by an energy average with a 1 s time constant: energies, not decibels, so the
//!   estimate matches the programme loudness of fluctuating material such as speech.
//! * **Louder input** by more than [`FAST_UP_LU`] (a loud scene must not blast) is followed
//!   with 80 ms until the estimate is within 1 LU of it.
//! * **Quieter input** by more than [`PAUSE_LU`] is treated as a pause and freezes the
//!   estimate, unless it persists for [`SCENE_CHANGE_S`] *and* is steady (its momentary
//!   loudness moved less than [`STEADY_LU`] over the last second): then it is a new, quieter
//!   programme and is followed (in dB) with a 250 ms time constant. Fade-outs keep falling,
//!   so they are not taken for a quieter programme and not pumped up.
//! * **Silence** (momentary loudness below `silence_gate_lufs`) freezes everything. After a gap,
//!   the first [`ONSET_S`] of sound can only lower the estimate's gain, never raise it (the
//!   400 ms window is still partly silent), so sound after silence never comes back louder.
//! * The gain itself moves toward its goal with a 150 ms time constant, limited to
//!   `rise_db_per_s` / `fall_db_per_s`, clamped to `max_boost_db` / `max_cut_db`, and is
//!   ramped linearly sample by sample between control points: no zipper, no steps.
//!
//! Control points fall every [`STEP`] frames counted from the last reset, so the output does
//! not depend on how the audio is split into blocks.

use crate::params::AgcParams;
use crate::util::{db_to_lin, finite_clamp};
use crate::LUFS_FLOOR;

/// Control interval in frames.
pub const STEP: usize = 64;
/// Input louder than the estimate by more than this is followed fast, LU.
pub const FAST_UP_LU: f64 = 6.0;
/// Input quieter than the estimate by more than this is a pause unless it persists, LU.
pub const PAUSE_LU: f64 = 10.0;
/// How long a quieter level must persist to count as a new programme, s.
pub const SCENE_CHANGE_S: f64 = 1.2;
/// How steady (max change over the last second) a quieter level must be, LU.
pub const STEADY_LU: f64 = 4.0;
/// After silence, how long the estimate may only rise, s.
pub const ONSET_S: f64 = 0.4;

/// The gain counts as settled within this distance of its goal, dB.
pub const SETTLED_DB: f64 = 1.5;
/// Largest compressor loss the AGC makes up for, dB.
pub const MAX_LOSS_MAKEUP_DB: f32 = 3.0;

const TAU_UP_SLOW: f64 = 1.0;
const TAU_UP_FAST: f64 = 0.08;
const TAU_DOWN_SLOW: f64 = 1.0;
const TAU_DOWN_FAST: f64 = 0.25;
const TAU_GAIN: f64 = 0.15;
const HISTORY_LEN: usize = 11;

/// The AGC of a [`crate::Chain`].
#[derive(Debug, Clone)]
pub struct Agc {
    channels: usize,
    params: AgcParams,
    /// Control interval, s.
    dt: f64,
    /// Programme loudness estimate, LUFS (valid once `has_level`).
    level: f64,
    has_level: bool,
    /// Gain in force at the last control point, dB.
    gain_db: f64,
    gain_from: f32,
    gain_to: f32,
    /// `gain_to` in dB (the conversion is skipped while it does not change).
    gain_to_db: f64,
    pos: usize,
    /// Time the input has been above the silence gate without interruption, s.
    active_s: f64,
    /// Time the input has been more than `PAUSE_LU` under the estimate, s.
    below_s: f64,
    /// Following a quieter programme until it is reached.
    tracking_down: bool,
    /// Following a louder programme until it is reached.
    tracking_up: bool,
    history: [f64; HISTORY_LEN],
    history_pos: usize,
    /// Interval of the meter's momentary readings, s.
    reading_dt: f64,
    /// Gain goal at the last control point, dB.
    goal_db: f64,
}

impl Agc {
    /// Creates an AGC for `channels` interleaved channels at `sample_rate`, starting at unity
    /// gain. Allocation: none.
    pub fn new(sample_rate: u32, channels: usize, params: &AgcParams) -> Self {
        let rate = sample_rate.max(1);
        let mut a = Self {
            channels: channels.max(1),
            params: *params,
            dt: STEP as f64 / rate as f64,
            level: 0.0,
            has_level: false,
            gain_db: 0.0,
            gain_from: 1.0,
            gain_to: 1.0,
            gain_to_db: 0.0,
            pos: 0,
            active_s: 0.0,
            below_s: 0.0,
            tracking_down: false,
            tracking_up: false,
            history: [LUFS_FLOOR; HISTORY_LEN],
            history_pos: 0,
            reading_dt: ((rate as usize + 5) / 10) as f64 / rate as f64,
            goal_db: 0.0,
        };
        a.reset();
        a
    }

    /// Returns to unity gain with no loudness estimate. Real-time safe.
    pub fn reset(&mut self) {
        self.level = 0.0;
        self.has_level = false;
        self.gain_db = 0.0;
        self.gain_from = 1.0;
        self.gain_to = 1.0;
        self.gain_to_db = 0.0;
        self.pos = 0;
        self.active_s = 0.0;
        self.below_s = 0.0;
        self.tracking_down = false;
        self.tracking_up = false;
        self.history = [LUFS_FLOOR; HISTORY_LEN];
        self.history_pos = 0;
        self.goal_db = 0.0;
    }

    /// Hands in new parameters; the gain moves to the new goal at the configured rates.
    /// Real-time safe.
    pub fn set_params(&mut self, p: &AgcParams) {
        self.params = *p;
    }

    /// The parameters in force.
    pub fn params(&self) -> &AgcParams {
        &self.params
    }

    /// Gain at the last control point, dB. Real-time safe.
    pub fn gain_db(&self) -> f32 {
        self.gain_db as f32
    }

    /// Whether the gain is within [`SETTLED_DB`] of its goal. Real-time safe.
    pub fn is_settled(&self) -> bool {
        (self.goal_db - self.gain_db).abs() < SETTLED_DB
    }

    /// Programme loudness estimate of the input, LUFS ([`LUFS_FLOOR`] before the first one).
    pub fn programme_lufs(&self) -> f32 {
        if self.has_level {
            self.level as f32
        } else {
            LUFS_FLOOR as f32
        }
    }

    /// Frames left until the next control point (1..=[`STEP`]). The caller must not hand
    /// [`process`](Self::process) more frames than this before calling
    /// [`control`](Self::control).
    pub fn frames_to_control(&self) -> usize {
        STEP - self.pos.min(STEP - 1)
    }

    /// Applies the gain ramp to interleaved frames in place, at most
    /// [`frames_to_control`](Self::frames_to_control) frames (extra frames get the end gain).
    /// Real-time safe.
    #[inline]
    pub fn process(&mut self, buf: &mut [f32]) {
        let inv = 1.0 / STEP as f32;
        let (from, to) = (self.gain_from, self.gain_to);
        let ch = self.channels;
        let mut pos = self.pos;
        if from == to {
            // Flat ramp: every frame gets exactly `from` (what the ramp formula gives).
            let n = buf.len() / ch;
            buf.iter_mut().take(n * ch).for_each(|x| *x *= from);
            pos = pos.saturating_add(n).min(STEP);
        } else {
            for frame in buf.chunks_exact_mut(ch) {
                pos = (pos + 1).min(STEP);
                let g = from + (to - from) * (pos as f32 * inv);
                for x in frame.iter_mut() {
                    *x *= g;
                }
            }
        }
        self.pos = pos;
    }

    /// Control update at the end of a step. `momentary_lufs`: gated momentary loudness of the
    /// input at this point ([`LUFS_FLOOR`] or lower for none); `fresh`: whether the meter
    /// produced a new reading since the last call (the programme estimate moves only then,
    /// once per 100 ms meter update; the gain moves every step); `loss_db`: loudness the stages
    /// after the AGC remove (compressor), made up for. Real-time safe.
    pub fn control(&mut self, momentary_lufs: f64, fresh: bool, loss_db: f32) {
        self.pos = 0;
        let p = self.params;
        let dt = self.dt;
        let target = finite_clamp(p.target_lufs, -16.0, -70.0, 0.0) as f64;
        let gate =
            finite_clamp(p.silence_gate_lufs, -50.0, -100.0, 0.0).max(LUFS_FLOOR as f32) as f64;
        let max_boost = finite_clamp(p.max_boost_db, 18.0, 0.0, 60.0) as f64;
        let max_cut = finite_clamp(p.max_cut_db, 24.0, 0.0, 90.0) as f64;
        let rise = finite_clamp(p.rise_db_per_s, 3.0, 0.01, 1000.0) as f64;
        let fall = finite_clamp(p.fall_db_per_s, 10.0, 0.01, 1000.0) as f64;
        let m = if momentary_lufs.is_finite() {
            momentary_lufs
        } else {
            LUFS_FLOOR
        };

        // Stationarity history: one entry per meter reading (100 ms).
        if fresh {
            self.history_pos = (self.history_pos + 1) % HISTORY_LEN;
            if let Some(h) = self.history.get_mut(self.history_pos) {
                *h = m;
            }
        }
        // The oldest entry is about one second old.
        let second_ago = self
            .history
            .get((self.history_pos + 1) % HISTORY_LEN)
            .copied()
            .unwrap_or(m);

        let silent = m <= gate || m <= LUFS_FLOOR;
        if silent {
            self.active_s = 0.0;
            self.below_s = 0.0;
        } else {
            self.active_s += dt;
            if fresh {
                self.update_level(m, second_ago, self.reading_dt);
            }
        }

        let goal = if p.enabled && self.has_level {
            (target - self.level + finite_clamp(loss_db, 0.0, 0.0, MAX_LOSS_MAKEUP_DB) as f64)
                .clamp(-max_cut, max_boost)
        } else if p.enabled {
            self.gain_db
        } else {
            0.0
        };
        let goal = if silent && p.enabled {
            // Frozen: never move toward a boost while silent, but do honour a lowered
            // limit (parameter change) or a disabled stage.
            self.gain_db.min(goal).max(-max_cut)
        } else {
            goal
        };
        self.goal_db = goal;
        let v = ((goal - self.gain_db) / TAU_GAIN).clamp(-fall, rise);
        let mut next = self.gain_db + v * dt;
        if (goal - next).abs() < 1e-6 {
            next = goal;
        }
        self.gain_db = next;
        self.gain_from = self.gain_to;
        if self.gain_db != self.gain_to_db {
            self.gain_to_db = self.gain_db;
            self.gain_to = db_to_lin(self.gain_db as f32);
        }
    }

    fn update_level(&mut self, m: f64, second_ago: f64, dt: f64) {
        if !self.has_level {
            // Wait for the 400 ms window to fill before the first estimate.
            if self.active_s >= ONSET_S {
                self.level = m;
                self.has_level = true;
            }
            return;
        }
        let diff = m - self.level;
        let tau = if diff >= 0.0 {
            self.below_s = 0.0;
            self.tracking_down = false;
            if diff > FAST_UP_LU {
                self.tracking_up = true;
            } else if diff < 1.0 {
                self.tracking_up = false;
            }
            if self.tracking_up {
                TAU_UP_FAST
            } else {
                TAU_UP_SLOW
            }
        } else if self.active_s < ONSET_S {
            // Window still partly silent: a low reading means nothing yet.
            return;
        } else if self.tracking_down {
            self.tracking_up = false;
            if diff > -1.0 {
                self.tracking_down = false;
            }
            TAU_DOWN_FAST
        } else if diff < -PAUSE_LU {
            self.below_s += dt;
            if self.below_s >= SCENE_CHANGE_S && (m - second_ago).abs() < STEADY_LU {
                self.tracking_down = true;
                TAU_DOWN_FAST
            } else {
                return;
            }
        } else {
            self.below_s = 0.0;
            TAU_DOWN_SLOW
        };
        let a = 1.0 - (-dt / tau).exp();
        if tau == TAU_DOWN_FAST {
            // Toward a much quieter programme: move in dB, so the last decibels come as fast
            // as the first.
            self.level += a * diff;
        } else {
            // Otherwise average energies, as loudness itself does: a dB average would sit
            // below the programme loudness of fluctuating material such as speech.
            let e = 10f64.powf(self.level / 10.0);
            let em = 10f64.powf(m / 10.0);
            self.level = 10.0 * (e + a * (em - e)).max(1e-12).log10();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the control law with a fresh reading every 100 ms for `secs`.
    fn drive(a: &mut Agc, m: f64, secs: f64) {
        let steps = (secs * 48_000.0 / STEP as f64) as usize;
        for k in 0..steps {
            let fresh = (k * STEP) % 4800 < STEP;
            a.control(m, fresh, 0.0);
        }
    }

    #[test]
    fn reaches_target_and_freezes_in_silence() {
        let mut a = Agc::new(48_000, 2, &AgcParams::default());
        drive(&mut a, -30.0, 6.0);
        assert!((a.gain_db() - 14.0).abs() < 0.2, "{}", a.gain_db());
        let g = a.gain_db();
        drive(&mut a, LUFS_FLOOR, 10.0);
        assert_eq!(a.gain_db(), g);
        // Louder programme: cut fast.
        drive(&mut a, -6.0, 1.5);
        assert!((a.gain_db() + 10.0).abs() < 0.5, "{}", a.gain_db());
    }

    #[test]
    fn respects_limits_and_disable() {
        let p = AgcParams {
            max_boost_db: 6.0,
            ..Default::default()
        };
        let mut a = Agc::new(48_000, 2, &p);
        drive(&mut a, -40.0, 10.0);
        assert!((a.gain_db() - 6.0).abs() < 1e-3);
        a.set_params(&AgcParams {
            enabled: false,
            ..p
        });
        drive(&mut a, -40.0, 5.0);
        assert!(a.gain_db().abs() < 1e-3);
    }
}
