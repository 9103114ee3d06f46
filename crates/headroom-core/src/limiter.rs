//! Lookahead true-peak limiter.
//!
//! # How the ceiling is guaranteed
//! 1. Every input frame goes through a [`TruePeakDetector`] (BS.1770 4× polyphase below
//!    96 kHz). The value it returns for frame `n` describes the signal between frames
//!    `n − D` and `n − D + 1` (`D` = its latency).
//! 2. The gain needed for that stretch is `r = ceiling / (margin · peak)` (or 1). The
//!    `margin` covers what an oversampled detector can under-read between its interpolated
//!    points and the ripple of its filter, so that a 16× (or finer) measurement of the output
//!    stays under the ceiling.
//! 3. `r` passes an instant-attack exponential release, then a sliding minimum over
//!    `W + 2G + 1` frames, then a moving average over `W` frames. At the time a frame leaves
//!    the delay line, every value inside the moving average is at most the `r` of every
//!    detector reading within `G` frames of it, so the applied gain is at most `r` there and
//!    reaches it along a smooth ramp (no step, no click). The audio is delayed by
//!    `L = W + D + G − 1` frames: exactly the lookahead, reported by
//!    [`Limiter::latency_frames`].
//! 4. A final sample clamp at the ceiling catches anything left (it never acts on
//!    band-limited input).
//!
//! Disabling the limiter keeps the delay (no jump in time); the gain releases to unity.
//! Ceiling changes glide at [`CEILING_GLIDE_DB_PER_S`].
//!
//! The lookahead is fixed when the limiter is created (it sets the latency); a changed
//! `lookahead_ms` takes effect at the next [`Limiter::new`] / [`crate::Chain::prepare`].

use crate::params::LimiterParams;
use crate::truepeak::TruePeakDetector;
use crate::util::{db_to_lin, finite_clamp, one_pole_alpha, SlidingMin};

/// Frames of guard on each side of a detected peak over which the gain is held flat at the
/// required value.
const GUARD: usize = 3;

/// Largest lookahead accepted, ms.
pub const MAX_LOOKAHEAD_MS: f32 = 1.5;

/// How fast the effective ceiling follows a changed `ceiling_dbtp`, dB per second.
pub const CEILING_GLIDE_DB_PER_S: f32 = 60.0;

/// Detector under-read margin in dB for a given oversampling factor: a 4× reading of a
/// signal component at frequency `f` can be low by up to `1 / cos(π f / (4 fs))` (0.69 dB at
/// `fs / 2`), plus the ripple of the 48-tap filter; at 2× and 1× the margin assumes content
/// below 20 kHz at 96/192 kHz.
fn margin_db(oversampling: usize) -> f32 {
    match oversampling {
        4 => 0.75,
        2 => 0.6,
        _ => 0.6,
    }
}

/// The limiter of a [`crate::Chain`].
#[derive(Debug, Clone)]
pub struct Limiter {
    rate: u32,
    channels: usize,
    params: LimiterParams,
    detector: TruePeakDetector,
    /// Total delay in frames.
    latency: usize,
    /// Moving-average length in frames.
    avg_len: usize,
    /// Audio delay line, `latency` frames × channels, interleaved.
    delay: Vec<f32>,
    delay_pos: usize,
    /// Release-smoothed required gain.
    env: f32,
    release_alpha: f32,
    hold: SlidingMin,
    avg: Vec<f32>,
    avg_pos: usize,
    avg_sum: f64,
    inv_avg_len: f64,
    /// Effective ceiling (gliding), dBTP and linear.
    ceiling_db: f32,
    ceiling_lin: f32,
    /// `ceiling_lin / margin`: the detector reading that needs no reduction.
    threshold: f32,
    margin_lin: f32,
    glide_step_db: f32,
    /// Gain applied to the last output frame.
    gain: f32,
}

impl Limiter {
    /// Creates a limiter for `channels` interleaved channels at `sample_rate`; the lookahead
    /// (≤ [`MAX_LOOKAHEAD_MS`]) fixes the latency. Allocates.
    pub fn new(sample_rate: u32, channels: usize, params: &LimiterParams) -> Self {
        let rate = sample_rate.max(1);
        let channels = channels.max(1);
        let detector = TruePeakDetector::new(rate, channels);
        let d = detector.latency_frames();
        let la_ms = finite_clamp(params.lookahead_ms, MAX_LOOKAHEAD_MS, 0.0, MAX_LOOKAHEAD_MS);
        let wanted = (la_ms / 1000.0 * rate as f32).round() as usize;
        let latency = wanted.max(d + GUARD);
        let avg_len = latency + 1 - d - GUARD;
        let margin_lin = db_to_lin(margin_db(detector.oversampling()));
        let mut l = Self {
            rate,
            channels,
            params: *params,
            detector,
            latency,
            avg_len,
            delay: vec![0.0; latency * channels],
            delay_pos: 0,
            env: 1.0,
            release_alpha: 1.0,
            hold: SlidingMin::new(avg_len + 2 * GUARD + 1),
            avg: vec![1.0; avg_len],
            avg_pos: 0,
            avg_sum: avg_len as f64,
            inv_avg_len: 1.0 / avg_len as f64,
            ceiling_db: 0.0,
            ceiling_lin: 1.0,
            threshold: 1.0,
            margin_lin,
            glide_step_db: CEILING_GLIDE_DB_PER_S / rate as f32,
            gain: 1.0,
        };
        l.set_params(params);
        l.reset();
        l
    }

    /// Clears the delay line and the gain state; the ceiling jumps to its target. Real-time
    /// safe.
    pub fn reset(&mut self) {
        self.detector.reset();
        self.delay.iter_mut().for_each(|x| *x = 0.0);
        self.delay_pos = 0;
        self.env = 1.0;
        self.hold.reset();
        self.avg.iter_mut().for_each(|x| *x = 1.0);
        self.avg_pos = 0;
        self.avg_sum = self.avg_len as f64;
        self.gain = 1.0;
        self.set_ceiling_db(self.ceiling_target());
    }

    fn ceiling_target(&self) -> f32 {
        finite_clamp(self.params.ceiling_dbtp, -1.0, -60.0, 0.0)
    }

    fn set_ceiling_db(&mut self, db: f32) {
        self.ceiling_db = db;
        self.ceiling_lin = db_to_lin(db);
        self.threshold = self.ceiling_lin / self.margin_lin;
    }

    /// Hands in new parameters. The ceiling glides to its new value; `lookahead_ms` is not
    /// applied until the next [`new`](Self::new). Real-time safe.
    pub fn set_params(&mut self, p: &LimiterParams) {
        self.params = *p;
        let rel_s = finite_clamp(p.release_ms, 100.0, 1.0, 60_000.0) as f64 / 1000.0;
        self.release_alpha = one_pole_alpha(rel_s, self.rate as f64) as f32;
    }

    /// The parameters in force (note: the lookahead in force is [`latency_frames`]).
    ///
    /// [`latency_frames`]: Self::latency_frames
    pub fn params(&self) -> &LimiterParams {
        &self.params
    }

    /// Delay the limiter adds, frames. Constant for the life of the limiter.
    pub fn latency_frames(&self) -> usize {
        self.latency
    }

    /// Current gain reduction, dB (≥ 0). Real-time safe.
    pub fn gain_reduction_db(&self) -> f32 {
        if self.gain > 0.0 {
            (-20.0 * self.gain.log10()).max(0.0)
        } else {
            0.0
        }
    }

    /// Processes interleaved frames in place (output delayed by
    /// [`latency_frames`](Self::latency_frames)). A trailing partial frame is left untouched.
    /// Real-time safe.
    #[inline]
    pub fn process(&mut self, buf: &mut [f32]) {
        let ch = self.channels;
        let target = self.ceiling_target();
        let enabled = self.params.enabled;
        for frame in buf.chunks_exact_mut(ch) {
            if self.ceiling_db != target {
                let diff = target - self.ceiling_db;
                let next = if diff.abs() <= self.glide_step_db {
                    target
                } else {
                    self.ceiling_db + self.glide_step_db.copysign(diff)
                };
                self.set_ceiling_db(next);
            }
            // 1. Detect.
            let mut peak = 0.0f32;
            for (c, &x) in frame.iter().enumerate() {
                peak = peak.max(self.detector.push(c, x));
            }
            // 2. Required gain, release.
            let r = if enabled && peak > self.threshold {
                self.threshold / peak
            } else {
                1.0
            };
            let released = self.env + (1.0 - self.env) * self.release_alpha;
            self.env = if r < released { r } else { released };
            // 3. Hold + moving average.
            let h = self.hold.push(self.env);
            if let Some(slot) = self.avg.get_mut(self.avg_pos) {
                self.avg_sum += h as f64 - *slot as f64;
                *slot = h;
            }
            self.avg_pos += 1;
            if self.avg_pos >= self.avg_len {
                self.avg_pos = 0;
                // Re-sum once per cycle so rounding can never accumulate.
                self.avg_sum = self.avg.iter().map(|&v| v as f64).sum();
            }
            let g = ((self.avg_sum * self.inv_avg_len) as f32).min(1.0);
            self.gain = g;
            // 4. Delay, apply, clamp.
            let ceil = self.ceiling_lin;
            let base = self.delay_pos * ch;
            if let Some(line) = self.delay.get_mut(base..base + ch) {
                for (x, d) in frame.iter_mut().zip(line.iter_mut()) {
                    let out = *d * g;
                    *d = *x;
                    *x = if enabled { out.clamp(-ceil, ceil) } else { out };
                }
            }
            self.delay_pos += 1;
            if self.delay_pos >= self.latency {
                self.delay_pos = 0;
            }
        }
    }
}
