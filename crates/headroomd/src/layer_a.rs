//! Layer A: per-stream pre-levelling at the streams' own volume, before they reach the chain.
//! One application much louder than the bus target is turned down, so that it does not
//! dominate the bus (and pull the AGC down for every other app); and while several apps play
//! at once, a much quieter one is lifted toward the others, so that a quiet call is not lost
//! under music.
//!
//! [`LayerA`] is a pure gain computer, one per tapped stream, stepped by the engine at about
//! 10 Hz with the stream's loudness (read from its tap), the bus target and — when other
//! streams play at the same time — a common level to aim at ([`common_level`]).
//!
//! ## Definition
//! * Input per step: the tap's **momentary** loudness (400 ms window, measured after the
//!   stream volume) and, for display, its short-term loudness.
//! * The tap sits after the stream's own volume, so it hears our gain. Each momentary reading
//!   is compensated by the mean power gain `g² = 10^(gain/10)` in force over the last
//!   400 ms, giving the stream's own momentary energy; exact for a steady stream, so the loop
//!   has no feedback oscillation.
//! * **Gating / freeze:** a step whose momentary loudness is at or below [`GATE_LUFS`] (−70
//!   LUFS, also "no measurement" / NaN), or more than [`RELATIVE_GATE_LU`] below the current
//!   estimate, is silence: the gain is held and the step does not enter the estimate. A pause
//!   never releases a reduction (the app does not come back at full level) nor a boost (its
//!   room noise is not pumped), and fade-outs do not count as "calm". Sound that stays under
//!   the relative gate for [`QUIET_RELEASE_S`] (not silence) while the stream is not lifted
//!   is quieter content, the loud part over: the estimate starts again from it and the
//!   reduction is released at `release_db_per_s`, never turned into a boost (the quieter
//!   content may be the room's noise), so a loud intro's cut does not stay on the quiet
//!   speech after it, nor come back beside another stream. A lifted stream's long pause
//!   stays a pause (its lift held for the voice's return).
//! * The stream's loudness `L_raw` is the mean energy of the compensated momentary readings
//!   of the last 3 s of *active* steps (a short-term loudness that skips pauses).
//! * **Alone** (no other tapped stream active): the wanted gain is
//!   `−clamp(L_raw − target − threshold_lu, 0, max_reduction_db)`: an app is untouched up to
//!   `threshold_lu` above the bus target and, above that, brought back to
//!   `target + threshold_lu` (continuous — no jump when the threshold is crossed). A quiet
//!   app playing alone is the bus AGC's business, not Layer A's: it is not lifted. A lift
//!   it was given while others played is **kept** once it plays alone, as far as it leaves
//!   the app at or under `target + threshold_lu` (the part over that is taken back at the
//!   attack rate, or the release rate if faster): the bus AGC levels the app either way,
//!   and a lift let go at the release rate was a slow fall the AGC could only chase — the
//!   quiet app came out 3–4 LU under the target for ≈ 12 s after the loud one stopped
//!   (and a steady one, which the AGC boosts 6 dB at most, for good). The cut of an app
//!   playing alone is taken off again at the bus input
//!   ([`crate::routing::RoutingController::bus_compensation_db`]), so the chain levels it
//!   as `render` does; the cut is there, in the app's volume, for when another app joins.
//! * **With others** (two or more tapped streams active): every active stream aims at one
//!   common level `C` — the bus target, or as close to it as `max_boost_db` (for the
//!   quietest) and `max_reduction_db` (for the loudest) allow — and the wanted gain is
//!   `C − L_raw` less a [`DEADBAND_LU`] each way, clamped to `[−max_reduction_db,
//!   +max_boost_db]`: apps within the limits end up within `2 × DEADBAND_LU` (3 LU) of each
//!   other, and the bus AGC then levels the mix.
//! * The applied gain moves toward the wanted one by at most `attack_db_per_s` when moving
//!   away from 0 dB (more cut or more boost), `release_db_per_s` when a cut is let go, and
//!   the fastest of the two and [`LIFT_TAKE_BACK_DB_PER_S`] when a boost is taken back (down
//!   is the safe way: a quiet voice lifted 20 dB that turned 15 dB louder stood ≈ 10 dB over
//!   the music beside it for 6 s at the release rate).
//! * **Disabled:** the gain is 0 and the volume 1 at once (turning Layer A off restores
//!   every stream's volume immediately).
//!
//! Output: `volume_lin = 10^(gain_db/20)` for the stream's master `volume` property (at most
//! 10, +20 dB, PipeWire's limit). The user's own stream volume (`channelVolumes`, what desktop
//! mixers show and set) is never written; the stream's converter applies the product of the
//! two, and the tap hears both: the user's volume is taken out of the tap's readings like
//! Layer A's own ([`LayerA::set_user_volume`]), so a stream is judged by its own loudness and
//! a cut the user makes in a mixer stays on top of Layer A's gain. The bus limiter still
//! guarantees the ceiling whatever the streams' volumes.

use headroom_core::LayerAParams;
use serde::{Deserialize, Serialize};

/// Momentary loudness at or below this is silence: the reduction freezes, LUFS. The meters'
/// "no measurement" floor ([`headroom_core::LUFS_FLOOR`], the BS.1770 absolute gate).
pub const GATE_LUFS: f64 = headroom_core::LUFS_FLOOR;

/// A step more than this below the current loudness estimate is a pause or a fade: the
/// reduction freezes, LU.
pub const RELATIVE_GATE_LU: f64 = 20.0;

/// Sound that stays more than [`RELATIVE_GATE_LU`] under the estimate (not silence) for this
/// long is quieter content, not a pause: a reduction made for the loud content is released,
/// s. (Held for good, a loud intro's cut stayed on the quiet speech after it for as long as
/// the stream played.)
pub const QUIET_RELEASE_S: f32 = 3.0;

/// Window of the loudness estimate (active time), s.
const ESTIMATE_S: f32 = 3.0;

/// Window of the gain compensation (the momentary window), s.
const MOMENTARY_S: f32 = 0.4;

/// History slots (enough for 3 s at up to 100 steps per second).
const HISTORY: usize = 300;

/// Largest boost PipeWire's stream volume allows (10×), dB.
pub const MAX_BOOST_DB: f32 = 20.0;

/// Half the spread left between streams that play together, LU.
pub const DEADBAND_LU: f64 = 1.5;

/// Slowest a lift is taken back once the stream no longer needs it (it got louder), dB/s,
/// whatever the profile's attack: with `music`'s 3 dB/s a talk app lifted 12 dB in a quiet
/// passage stood up to 12 dB over its mark for seconds once it spoke up, and the bus AGC's
/// long window kept the cut it made for that for 8 s.
pub const LIFT_TAKE_BACK_DB_PER_S: f32 = 12.0;

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
    /// Current reduction, dB: positive turns the stream down, negative lifts it.
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
    /// Gain applied, dB: negative turns down, positive lifts.
    gain_db: f32,
    /// Power gain in force per step.
    gains: Ring,
    /// Compensated momentary energy per active step.
    energies: Ring,
    last_sent_db: Option<f32>,
    /// Power gain of the user's own volume for the stream (its `channelVolumes`, what mixers
    /// set), which the tap hears too: taken out of the tap's readings like Layer A's own
    /// gain, so the stream's loudness is judged before it and the user's volume stays on top.
    user_pow: f64,
    /// Unity was sent for bypass ([`LayerA::unity_to_send`]) and not yet undone.
    at_unity: bool,
    /// How long the sound has stayed under the relative gate (silence not counted), s.
    quiet_s: f32,
    /// The estimate was started again from quieter content after a loud part
    /// ([`QUIET_RELEASE_S`]): that content is never lifted (module docs).
    quieter_content: bool,
    last_short_term: Option<f64>,
}

impl LayerA {
    /// A computer with no reduction.
    pub fn new(params: LayerAParams) -> Self {
        Self {
            params,
            gain_db: 0.0,
            gains: Ring::new(),
            energies: Ring::new(),
            last_sent_db: None,
            user_pow: 1.0,
            at_unity: false,
            quiet_s: 0.0,
            quieter_content: false,
            last_short_term: None,
        }
    }

    /// Replaces the parameters. Disabling resets the gain to 0 at once; a lower
    /// `max_reduction_db` or `max_boost_db` clamps it at once.
    pub fn set_params(&mut self, params: LayerAParams) {
        self.params = params;
        if !params.enabled {
            self.gain_db = 0.0;
            self.gains.clear();
            self.energies.clear();
        } else {
            self.gain_db = self.gain_db.clamp(-self.max_reduction(), self.max_boost());
        }
    }

    /// The user's own volume for the stream (linear amplitude, the channels' power mean of
    /// its `channelVolumes`); ignored unless finite and positive (a muted or zeroed stream
    /// is silent to the tap, which holds the gain anyway).
    pub fn set_user_volume(&mut self, lin: f32) {
        if lin.is_finite() && lin > 0.0 {
            self.user_pow = f64::from(lin) * f64::from(lin);
        }
    }

    /// The user's own volume taken out of the tap's readings (linear; 1 until one is known).
    pub fn user_volume(&self) -> f32 {
        self.user_pow.sqrt() as f32
    }

    fn max_reduction(&self) -> f32 {
        finite_or(self.params.max_reduction_db, 0.0).max(0.0)
    }

    fn max_boost(&self) -> f32 {
        finite_or(self.params.max_boost_db, 0.0).clamp(0.0, MAX_BOOST_DB)
    }

    /// The parameters in force.
    pub fn params(&self) -> &LayerAParams {
        &self.params
    }

    /// Current reduction, dB: positive turns the stream down, negative lifts it.
    pub fn reduction_db(&self) -> f32 {
        // `0 − g`, not `−g`: no gain is a reduction of 0, not −0 (which JSON shows as -0.0).
        0.0 - self.gain_db
    }

    /// Current gain, dB: negative turns the stream down, positive lifts it.
    pub fn gain_db(&self) -> f32 {
        self.gain_db
    }

    /// The gain of the volume last sent to PipeWire ([`LayerA::volume_to_send`]), dB: what
    /// the stream's audio carries (0 before any was sent).
    pub fn sent_gain_db(&self) -> f32 {
        self.last_sent_db.unwrap_or(0.0)
    }

    /// Volume to apply to the stream, linear.
    pub fn volume_lin(&self) -> f32 {
        10f32.powf(self.gain_db / 20.0)
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
    /// `target_lufs`; `aim` is the common level to aim at while other streams play (see
    /// [`common_level`]), `None` while this one plays alone. Returns the reduction now
    /// applied, dB (negative: a boost). Never panics; a non-finite or negative `dt_s` counts
    /// as 0.
    pub fn update(
        &mut self,
        reading: TapReading,
        target_lufs: f32,
        dt_s: f32,
        aim: Option<f64>,
    ) -> f32 {
        let dt = if dt_s.is_finite() { dt_s.max(0.0) } else { 0.0 };
        let valid = |l: f64| (l.is_finite() && l > GATE_LUFS).then_some(l);
        self.last_short_term = valid(reading.short_term_lufs);
        if !self.params.enabled {
            self.gain_db = 0.0;
            self.gains.clear();
            self.energies.clear();
            return 0.0;
        }
        // The gain in force during the interval that just ended.
        if dt > 0.0 {
            self.gains.push(
                dt,
                10f64.powf(f64::from(self.gain_db) / 10.0) * self.user_pow,
            );
        }
        let Some(m) = valid(reading.momentary_lufs) else {
            return -self.gain_db; // silence: hold
        };
        let comp = self
            .gains
            .mean(MOMENTARY_S)
            .unwrap_or_else(|| 10f64.powf(f64::from(self.gain_db) / 10.0) * self.user_pow)
            .max(1e-12);
        let raw_m = m - 10.0 * comp.log10();
        if let Some(l) = self.raw_lufs() {
            if raw_m < l - RELATIVE_GATE_LU {
                // A pause or fade: hold — unless it has lasted and the stream is not lifted:
                // quieter content after a loud part. The estimate then starts again from it
                // (judged against the loud part's, every later step would be a pause: the
                // estimate, the monitor's reading of the stream and, beside other streams, a
                // cut stayed where the loud part left them), and the reduction is released,
                // never turned into a boost. A lifted stream's long pause stays a pause: its
                // lift is held for the voice's return.
                self.quiet_s += dt;
                if self.quiet_s < QUIET_RELEASE_S || self.gain_db > 0.0 {
                    return -self.gain_db;
                }
                self.energies.clear();
                self.quieter_content = true;
            }
        }
        self.quiet_s = 0.0;
        if dt > 0.0 {
            self.energies.push(dt, 10f64.powf((raw_m + 0.691) / 10.0));
        } else if self.energies.len == 0 {
            self.energies.push(1e-3, 10f64.powf((raw_m + 0.691) / 10.0));
        }
        let Some(raw) = self.raw_lufs() else {
            return -self.gain_db;
        };
        // Alone, a boost given while others played is kept up to the alone rule's limit
        // (see the module docs); moving down to that limit is a cut, at the attack rate.
        let mut held_boost = false;
        let wanted = match aim.filter(|c| c.is_finite()) {
            None => {
                let excess = raw - f64::from(target_lufs);
                let threshold = f64::from(finite_or(self.params.threshold_lu, 0.0));
                if self.gain_db > 0.0 && excess <= threshold {
                    held_boost = true;
                    self.gain_db.min((threshold - excess) as f32)
                } else {
                    -(((excess - threshold).max(0.0) as f32).min(self.max_reduction()))
                }
            }
            Some(c) => {
                let d = c - raw;
                let d = if d.abs() <= DEADBAND_LU {
                    0.0
                } else {
                    d - DEADBAND_LU.copysign(d)
                };
                (d as f32).clamp(-self.max_reduction(), self.max_boost())
            }
        };
        if !wanted.is_finite() {
            return -self.gain_db;
        }
        // Quieter content after a loud part may be the room's noise: released, not lifted.
        let wanted = if self.quieter_content && !held_boost {
            wanted.min(0.0)
        } else {
            wanted
        };
        let attack = finite_or(self.params.attack_db_per_s, 0.0).max(0.0) * dt;
        let release = finite_or(self.params.release_db_per_s, 0.0).max(0.0) * dt;
        let g = self.gain_db;
        self.gain_db = if held_boost {
            (g - attack.max(release)).max(wanted)
        } else if g == 0.0 || (g > 0.0) == (wanted > 0.0) && wanted.abs() >= g.abs() {
            // Away from 0 dB (or staying on the same side, further out): attack.
            if wanted > g {
                (g + attack).min(wanted)
            } else {
                (g - attack).max(wanted)
            }
        } else if g > 0.0 {
            // A lift taken back (the stream got louder beside the others, or they got
            // quieter): at `LIFT_TAKE_BACK_DB_PER_S` at least, or the attack or release rate
            // if faster — down is the safe way, as a cut's attack is. At the release rate, a
            // quiet voice lifted 20 dB that turned 15 dB louder stood ≈ 10 dB over the music
            // beside it for 6 s.
            (g - attack.max(release).max(LIFT_TAKE_BACK_DB_PER_S * dt)).max(wanted)
        } else {
            (g + release).min(wanted)
        };
        -self.gain_db
    }

    /// The volume to send to PipeWire: the first call always returns one (Layer A owns the
    /// volume of the streams it taps — WirePlumber's restore-stream may have given a new
    /// stream the reduced volume of that app's previous stream, which must not stick), later
    /// calls only when it moved by at least [`SEND_STEP_DB`] since the last one sent (or
    /// reached exactly 0 dB / the bound). Marks it as sent.
    pub fn volume_to_send(&mut self) -> Option<f32> {
        let r = self.gain_db;
        let due = match self.last_sent_db {
            None => true,
            Some(s) => {
                (s - r).abs() >= SEND_STEP_DB
                    || (r == 0.0 && s != 0.0)
                    || ((r == -self.max_reduction() || r == self.max_boost()) && s != r)
            }
        };
        if due {
            self.last_sent_db = Some(r);
            Some(self.volume_lin())
        } else {
            None
        }
    }

    /// Advances by `dt_s` seconds while bypass holds the stream at unity volume: the tap's
    /// `reading` keeps the loudness estimate and the monitor's reading current (the gain in
    /// force is recorded as unity), the computed gain is held — it is what
    /// [`LayerA::resume`] restores. Does not depend on the sign of the gain.
    pub fn hold_at_unity(&mut self, reading: TapReading, dt_s: f32) {
        let dt = if dt_s.is_finite() { dt_s.max(0.0) } else { 0.0 };
        let valid = |l: f64| (l.is_finite() && l > GATE_LUFS).then_some(l);
        self.last_short_term = valid(reading.short_term_lufs);
        if !self.params.enabled || dt == 0.0 {
            return;
        }
        self.gains.push(dt, self.user_pow);
        let Some(m) = valid(reading.momentary_lufs) else {
            return;
        };
        let comp = self
            .gains
            .mean(MOMENTARY_S)
            .unwrap_or(self.user_pow)
            .max(1e-12);
        let raw_m = m - 10.0 * comp.log10();
        if let Some(l) = self.raw_lufs() {
            if raw_m < l - RELATIVE_GATE_LU {
                return;
            }
        }
        self.energies.push(dt, 10f64.powf((raw_m + 0.691) / 10.0));
    }

    /// The unity volume to send when bypass starts (or a stream is tapped during bypass):
    /// `Some(1.0)` unless unity is what was sent last. Marks it as sent.
    pub fn unity_to_send(&mut self) -> Option<f32> {
        if self.at_unity {
            return None;
        }
        self.last_sent_db = Some(0.0);
        self.at_unity = true;
        Some(1.0)
    }

    /// Bypass ended: the next [`LayerA::volume_to_send`] sends the computed volume, whatever
    /// its size.
    pub fn resume(&mut self) {
        self.at_unity = false;
        self.last_sent_db = None;
    }

    /// The state for the monitor.
    pub fn state(&self, node_id: u32, app: &str) -> LayerAState {
        LayerAState {
            node_id,
            app: app.to_string(),
            volume_lin: self.volume_lin(),
            reduction_db: self.reduction_db(),
            short_term_lufs: self.last_short_term,
            raw_lufs: self.raw_lufs(),
        }
    }
}

/// The level streams that play together aim at: the bus `target_lufs`, or as close to it
/// as lifting the quietest by `max_boost_db` and turning the loudest down by
/// `max_reduction_db` allow (between the two when even that does not reach). `None` for
/// fewer than two active streams (`raw`: the active streams' own loudness, LUFS).
pub fn common_level(raw: &[f64], target_lufs: f32, params: &LayerAParams) -> Option<f64> {
    let mut active = raw.iter().copied().filter(|l| l.is_finite());
    let first = active.next()?;
    let (mut lo, mut hi, mut n) = (first, first, 1usize);
    for l in active {
        lo = lo.min(l);
        hi = hi.max(l);
        n += 1;
    }
    if n < 2 {
        return None;
    }
    let boost = f64::from(finite_or(params.max_boost_db, 0.0).clamp(0.0, MAX_BOOST_DB));
    let cut = f64::from(finite_or(params.max_reduction_db, 0.0).max(0.0));
    let (floor, ceil) = (hi - cut, lo + boost);
    let t = f64::from(target_lufs);
    Some(if floor <= ceil {
        t.clamp(floor, ceil)
    } else {
        (floor + ceil) / 2.0
    })
}

fn finite_or(v: f32, d: f32) -> f32 {
    if v.is_finite() {
        v
    } else {
        d
    }
}

#[cfg(test)]
mod tests;
