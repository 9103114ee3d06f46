//! Lookahead true-peak limiter.
//!
//! # How the ceiling is guaranteed
//! 1. Every input frame goes through the BS.1770 Annex 2 interpolator (4× polyphase below
//!    96 kHz, the coefficients of [`crate::truepeak`], run block-wise here so that it
//!    vectorises; the same points as a [`crate::truepeak::TruePeakDetector`] up to `f32`
//!    rounding, as the block form uses the filter's symmetry). The value for
//!    frame `n` (the largest interpolated point and the raw sample) describes the signal
//!    between frames `n − D` and `n − D + 1` (`D` = its latency).
//! 2. The gain needed for that stretch is `r = ceiling / (margin · peak)` (or 1). The
//!    `margin` covers what the short (12-tap-per-phase) detector can under-read against a
//!    long, finer interpolation of the output (16×, 64-tap; a long sinc for noise). For
//!    tonal and ordinary programme material that is a few hundredths of a dB; for broadband
//!    noise-like material it is typically about 1.2 dB and has been seen at 2.3 dB
//!    (full-scale white noise driven into the limiter, on a long-sinc reading; ≈ 0.6 dB at
//!    the edges of hard square waves), because such peaks build up from far sinc tails the
//!    short filter does not see. The margin is therefore adaptive: a base of
//!    [`BASE_MARGIN_DB`] plus up to [`noise_margin_db`] (2 dB with 4×
//!    oversampling, more at 96 kHz and above where the detector oversamples less) scaled by
//!    how strong the signal's high-frequency content is (the recent peak of its second
//!    difference relative to its recent peak level).
//!    A 16× (or finer) measurement of the output then stays under the ceiling.
//! 3. `r` passes an instant-attack envelope with a fast exponential release
//!    ([`TRANSIENT_RELEASE_MS`]) and a second, sustained envelope that follows the reduction
//!    that lasts down over [`SUSTAIN_ATTACK_MS`] and releases over `release_ms`; the lower
//!    of the two goes on (a lone peak or a click is let go within milliseconds, a reduction
//!    that lasts releases at the profile's rate). What lasts is the least reduction needed
//!    in two blocks of [`SUSTAIN_BLOCK_MS`] one block apart: every such block of a held bass
//!    note holds a crest, a click lies in one (or two side by side). Following the fast
//!    envelope itself, the sustained one settled half-way between a low note's crests and
//!    the fast one shaped the gain inside every cycle (50 Hz held at the ceiling: 19 dB of
//!    harmonics). Then a sliding minimum over
//!    `W + 2G + 1` frames, then a moving average over `W` frames. At the time a frame leaves
//!    the delay line, every value inside the moving average is at most the `r` of every
//!    detector reading within `G` frames of it, so the applied gain is at most `r` there and
//!    reaches it along a smooth ramp (no step, no click). The audio is delayed by
//!    `L = W + D + G − 1` frames: exactly the lookahead, reported by
//!    [`Limiter::latency_frames`].
//! 4. A final sample clamp at the ceiling catches anything left (it never acts on
//!    band-limited input).
//!
//! While nothing needs reducing and both windows hold only 1, the hold and the average are
//! skipped (the gain is exactly 1 either way). The detector skips the interpolation of a
//! group of frames whose window cannot reach the level at which a reading can need any
//! reduction (its largest sample times the filter's bound is under it); those readings only
//! stay under that level, so the gains are the same as with every point computed.
//!
//! Processing runs in chunks of 64 frames and in passes over each chunk (detector history,
//! per-frame measurements, interpolation, the serial gain computation, then delay, gain and
//! clamp), each pass doing per frame exactly what a frame-by-frame loop would, so the output
//! is bit-identical however the audio is split into calls.
//!
//! Disabling the limiter keeps the delay (no jump in time); the gain releases to unity.
//! Ceiling changes glide at [`CEILING_GLIDE_DB_PER_S`].
//!
//! The lookahead is fixed when the limiter is created (it sets the latency); a changed
//! `lookahead_ms` takes effect at the next [`Limiter::new`] / [`crate::Chain::prepare`].
//!
//! # Why one file
//! Lookahead delay, peak detection, gain smoothing and the fine true-peak check of the
//! output are one feedback loop around one delay line; they are kept together with their
//! tests.

use crate::params::LimiterParams;
use crate::truepeak::{sanitize, BlockInterpolator};
use crate::util::{db_to_lin, finite_clamp, one_pole_alpha, SlidingMin};

/// Frames of guard on each side of a detected peak over which the gain is held flat at the
/// required value.
const GUARD: usize = 3;

/// Interpolator taps per phase (BS.1770 Annex 2).
const TAPS: usize = 12;
/// Delay of the detector reading, frames (the raw sample it reports is `n − 6`).
const DET_DELAY: usize = 6;
/// Frames detected per block.
const CHUNK: usize = 64;
/// Length of one channel's history buffer.
const HIST: usize = TAPS - 1 + CHUNK;

/// Release of the limiter's fast envelope, ms (at most `release_ms`): a peak that does not
/// last (a click, a lone transient) is let go this fast instead of ducking the sound after
/// it over the whole release.
pub const TRANSIENT_RELEASE_MS: f32 = 5.0;

/// How fast a reduction that lasts becomes the sustained one (which releases over
/// `release_ms`), ms: the time constant with which that envelope follows it down.
pub const SUSTAIN_ATTACK_MS: f32 = 5.0;

/// Blocks over which a reduction is judged to last, ms: the least reduction needed in a
/// block and in the block before the one before it lasts. Every 12 ms of a note at 42 Hz
/// and up holds a crest of it (lower notes are held within a dB).
pub const SUSTAIN_BLOCK_MS: f32 = 12.0;

/// The lasting reduction ([`SUSTAIN_BLOCK_MS`]): loop-carried state of the gain
/// computation.
#[derive(Debug, Clone, Copy)]
struct Lasting {
    /// Frames per block.
    len: u32,
    /// Frames left in the current block.
    left: u32,
    /// Least required gain in the current block so far.
    min: f32,
    /// Least required gain of the last block and the one before it.
    last: f32,
    before: f32,
    /// What lasts: the larger of the last block's least gain and the one two blocks back.
    gain: f32,
}

impl Lasting {
    fn new(rate: u32) -> Self {
        Self::new_idle(((SUSTAIN_BLOCK_MS / 1000.0 * rate as f32).round() as u32).max(1))
    }

    /// Nothing reduced, blocks of `len` frames.
    const fn new_idle(len: u32) -> Self {
        Self {
            len,
            left: len,
            min: 1.0,
            last: 1.0,
            before: 1.0,
            gain: 1.0,
        }
    }

    /// Counts frame `r` (its required gain) in.
    #[inline(always)]
    fn push(&mut self, r: f32) {
        if r < self.min {
            self.min = r;
        }
        self.left -= 1;
        if self.left == 0 {
            let now = self.min;
            self.gain = if now > self.before { now } else { self.before };
            self.before = self.last;
            self.last = now;
            self.min = 1.0;
            self.left = self.len;
        }
    }
}

/// Largest lookahead accepted, ms.
pub const MAX_LOOKAHEAD_MS: f32 = 1.5;

/// How fast the effective ceiling follows a changed `ceiling_dbtp`, dB per second.
pub const CEILING_GLIDE_DB_PER_S: f32 = 60.0;

/// Margin for the detector's under-read on ordinary material, dB.
pub const BASE_MARGIN_DB: f32 = 0.5;
/// Extra margin for broadband noise-like material, dB, for a detector oversampling
/// `factor` times (4 below 96 kHz, 2 below 192 kHz, 1 from there): without oversampling a
/// full-band signal can peak 6 dB and more between its samples. Set so that full-scale
/// white noise driven 24 dB into the limiter stays under the ceiling on a long-sinc reading
/// at 44.1–384 kHz (0.2–0.8 dB under it).
pub fn noise_margin_db(factor: usize) -> f32 {
    match factor {
        4 => 2.0,
        2 => 2.5,
        _ => 6.5,
    }
}
/// Ratio of the recent peak second difference to the recent peak level at and above which
/// the full extra margin applies (white noise and hard edges: 2 or more), and below which
/// none does (music and speech: well under 0.5; a sine at frequency `f`:
/// `2 − 2 cos(2π f / fs)`).
const HF_FULL: f32 = 1.5;
const HF_NONE: f32 = 0.5;
/// Decay time constant of the two peak trackers, s.
const HF_TAU_S: f64 = 0.005;

/// One step of a decaying peak tracker: `max(x, v · decay)`, flushed to 0 below 1e−20
/// ([`flush`]). Inputs are never NaN (`x` is a maximum of magnitudes taken with
/// NaN-ignoring `max`), and both are ≥ 0, so plain compare-and-select gives the same values as
/// `f32::max`.
///
/// The serial loop runs the tracker without the flush ([`decay_max`]) and flushes where the
/// value is read: `flush(max(x, flush(v)·decay)) = flush(max(x, v·decay))` for `v, x ≥ 0`
/// (when `v` < 1e−20 both sides are `flush(x)`; otherwise `flush(v)` is `v`), so flushing
/// only the values read gives the same values as flushing every step, with a shorter
/// dependency chain (a multiply and a select per frame instead of also a compare and a mask).
#[cfg(test)]
fn track(v: f32, x: f32, decay: f32) -> f32 {
    flush(decay_max(v, x, decay))
}

/// `max(x, v · decay)` (see [`track`]).
#[inline(always)]
fn decay_max(v: f32, x: f32, decay: f32) -> f32 {
    let d = v * decay;
    if x > d {
        x
    } else {
        d
    }
}

/// Four steps of [`decay_max`] over the frames `x` (oldest first), for `v, x ≥ 0`: the same
/// value. Rounding is monotonic, so `fl(max(a, b)·decay) = max(fl(a·decay), fl(b·decay))`:
/// each frame's value decays on its own (independent) chain, and the running value's four
/// multiplies need not wait for the comparisons in between — 4 multiplies and a max on the
/// loop-carried path instead of 4 of each.
#[inline(always)]
fn decay_max4(v: f32, x: [f32; 4], decay: f32) -> f32 {
    let m = |a: f32, b: f32| if a > b { a } else { b };
    let t0 = ((x[0] * decay) * decay) * decay;
    let t1 = (x[1] * decay) * decay;
    let t2 = x[2] * decay;
    let tv = (((v * decay) * decay) * decay) * decay;
    m(m(m(x[3], t2), m(t1, t0)), tv)
}

/// The first four values of `s`, if it has them.
#[inline(always)]
fn take4(s: Option<&[f32]>) -> Option<[f32; 4]> {
    s?.get(..4)?.try_into().ok()
}

/// 0 below 1e−20, else the value (for values ≥ 0).
#[inline(always)]
fn flush(m: f32) -> f32 {
    if m < 1e-20 {
        0.0
    } else {
        m
    }
}

/// `x.clamp(-c, c)` for `c ≥ 0` as selects (no panic path, vectorises).
#[inline(always)]
fn clamp(x: f32, c: f32) -> f32 {
    let y = if x < -c { -c } else { x };
    if y > c {
        c
    } else {
        y
    }
}

/// The limiter of a [`crate::Chain`].
#[derive(Debug, Clone)]
pub struct Limiter {
    rate: u32,
    channels: usize,
    params: LimiterParams,
    /// Detector interpolator (oversampling factor 4, 2 or 1; CPU features checked once in
    /// `new`).
    tp: BlockInterpolator,
    /// Per channel: the last `TAPS − 1` inputs followed by room for one chunk.
    hist: Vec<f32>,
    /// Per frame of the current chunk: detector reading, largest `|x|` and largest
    /// `|second difference|` over the channels.
    peaks: Vec<f32>,
    hf_e_frame: Vec<f32>,
    hf_d_frame: Vec<f32>,
    /// Per sample (interleaved like the audio) of the current chunk: gain and ceiling applied.
    gains: Vec<f32>,
    ceils: Vec<f32>,
    /// Total delay in frames.
    latency: usize,
    /// Moving-average length in frames.
    avg_len: usize,
    /// Audio delay line, `latency` frames × channels, interleaved.
    delay: Vec<f32>,
    delay_pos: usize,
    /// Required gain with instant attack and the fast release ([`TRANSIENT_RELEASE_MS`]).
    env: f32,
    /// The sustained reduction: follows what lasts ([`Lasting`]) down over
    /// [`SUSTAIN_ATTACK_MS`] and releases over `release_ms`. The gain is the lower of the two.
    slow: f32,
    lasting: Lasting,
    fast_alpha: f32,
    sustain_alpha: f32,
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
    /// The threshold at the target ceiling (where a glide ends).
    target_threshold: f32,
    /// Extra margin factor − 1 for fully noise-like material.
    noise_extra: f32,
    /// Last two input samples per channel (for the second difference).
    prev: Vec<[f32; 2]>,
    /// Decaying peaks of |x| and of its second difference.
    hf_e: f32,
    hf_d: f32,
    hf_decay: f32,
    glide_step_db: f32,
    /// Gain applied to the last output frame.
    gain: f32,
    /// Consecutive frames with the released requirement at exactly 1, and the count after
    /// which both windows hold only 1s (then the idle fast path runs).
    idle: usize,
    idle_after: usize,
    /// Whether the bulk passes run compiled for AVX ([`crate::util::detect_avx`], at
    /// construction).
    avx: bool,
}

/// The gain computation's loop-carried state and constants for one chunk
/// ([`Limiter::compute_gains`]): copied out of the limiter at the chunk's start and back at
/// its end, so that the per-frame step works on locals.
struct GainState {
    target: f32,
    enabled: bool,
    env: f32,
    slow: f32,
    lasting: Lasting,
    hf_e: f32,
    hf_d: f32,
    avg_sum: f64,
    avg_pos: usize,
    idle: usize,
    gain: f32,
    hf_decay: f32,
    fast_alpha: f32,
    sustain_alpha: f32,
    release_alpha: f32,
    noise_extra: f32,
    idle_after: usize,
    avg_len: usize,
    inv_avg_len: f64,
    threshold: f32,
    ceil: f32,
    ceiling_db: f32,
    glide_step_db: f32,
}

impl GainState {
    /// Whether the idle fast path may run: the gain is exactly 1 and stays so while no
    /// reading needs reducing (the release leaves 1 at 1, the windows hold only 1s, the
    /// ceiling is still).
    #[inline(always)]
    fn idle_ready(&self) -> bool {
        self.env == 1.0
            && self.slow == 1.0
            && self.idle > self.idle_after
            && self.ceiling_db == self.target
    }

    /// Whether detector reading `peak_in` is within the largest margin of the threshold (only
    /// those can need any reduction).
    #[inline(always)]
    fn hot(&self, peak_in: f32) -> bool {
        self.enabled && peak_in * (1.0 + self.noise_extra) > self.threshold
    }

    /// The chunk's frames (`peaks`, `es`, `ds` per frame; `gains`, `ceils` per sample,
    /// `ch` interleaved channels): idle stretches in a tight loop with their outputs filled
    /// in bulk, every other frame by [`GainState::general`]. Real-time safe.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn run(
        &mut self,
        peaks: &[f32],
        es: &[f32],
        ds: &[f32],
        gains: &mut [f32],
        ceils: &mut [f32],
        ch: usize,
        hold: &mut SlidingMin,
        avg: &mut [f32],
    ) {
        let n = peaks.len().min(es.len()).min(ds.len());
        let mut i = 0;
        while i < n {
            if self.idle_ready() {
                // Only the high-frequency trackers move. Same values as the general path.
                let start = i;
                // Four frames at a time while none of them is hot, then frame by frame.
                let k = self.hf_decay;
                while let (Some(p4), Some(e4), Some(d4)) = (
                    take4(peaks.get(i..)),
                    take4(es.get(i..)),
                    take4(ds.get(i..)),
                ) {
                    if p4.iter().any(|&p| self.hot(p)) {
                        break;
                    }
                    self.hf_e = decay_max4(self.hf_e, e4, k);
                    self.hf_d = decay_max4(self.hf_d, d4, k);
                    i += 4;
                }
                while let (Some(&p), Some(&e), Some(&d)) = (peaks.get(i), es.get(i), ds.get(i)) {
                    if self.hot(p) {
                        break;
                    }
                    self.hf_e = decay_max(self.hf_e, e, self.hf_decay);
                    self.hf_d = decay_max(self.hf_d, d, self.hf_decay);
                    i += 1;
                }
                if i > start {
                    // Nothing needed reducing for a while: what lasted is over.
                    self.lasting = Lasting::new_idle(self.lasting.len);
                    if let (Some(gs), Some(cs)) = (
                        gains.get_mut(start * ch..i * ch),
                        ceils.get_mut(start * ch..i * ch),
                    ) {
                        gs.fill(1.0);
                        cs.fill(self.ceil);
                    }
                    self.gain = 1.0;
                }
            }
            let (Some(&p), Some(&e), Some(&d)) = (peaks.get(i), es.get(i), ds.get(i)) else {
                break;
            };
            let g = self.general(p, e, d, hold, avg);
            if let (Some(gs), Some(cs)) = (
                gains.get_mut(i * ch..(i + 1) * ch),
                ceils.get_mut(i * ch..(i + 1) * ch),
            ) {
                gs.fill(g);
                cs.fill(self.ceil);
            }
            i += 1;
        }
    }

    /// One frame outside the idle fast path: detector reading `peak_in`, the frame's largest
    /// `|x|` (`e`) and largest `|second difference|` (`d`); returns its gain (the ceiling in
    /// force is `self.ceil`). Real-time safe (no allocation, no panic).
    #[inline(always)]
    fn general(
        &mut self,
        peak_in: f32,
        e: f32,
        d: f32,
        hold: &mut SlidingMin,
        avg: &mut [f32],
    ) -> f32 {
        if self.ceiling_db != self.target {
            let diff = self.target - self.ceiling_db;
            self.ceiling_db = if diff.abs() <= self.glide_step_db {
                self.target
            } else {
                self.ceiling_db + self.glide_step_db.copysign(diff)
            };
            self.ceil = db_to_lin(self.ceiling_db);
            self.threshold = self.ceil / db_to_lin(BASE_MARGIN_DB);
        }
        // 1. How noise-like the signal is.
        self.hf_e = decay_max(self.hf_e, e, self.hf_decay);
        self.hf_d = decay_max(self.hf_d, d, self.hf_decay);
        // 2. Required gain (only readings within the largest margin of the threshold can
        // need any), release.
        let threshold = self.threshold;
        let r = if self.enabled && peak_in * (1.0 + self.noise_extra) > threshold {
            let (fe, fd) = (flush(self.hf_e), flush(self.hf_d));
            let noisy = if fd > HF_NONE * fe {
                ((fd / fe.max(1e-30) - HF_NONE) / (HF_FULL - HF_NONE)).min(1.0)
            } else {
                0.0
            };
            let peak = peak_in * (1.0 + self.noise_extra * noisy);
            if peak > threshold {
                threshold / peak
            } else {
                1.0
            }
        } else {
            1.0
        };
        // At unity with nothing required the releases below leave both envelopes at
        // exactly 1 (1 + 0·α = 1); skip them.
        self.lasting.push(r);
        let lasting = self.lasting.gain;
        let mut env = self.env;
        let mut slow = self.slow;
        if !(env == 1.0 && slow == 1.0 && r == 1.0 && lasting == 1.0) {
            // Instant attack, fast release: a click or a lone peak is let go within
            // milliseconds.
            let mut released = env + (1.0 - env) * self.fast_alpha;
            if released > 1.0 - 1e-6 || released == env {
                // Snap the last micro-decibel, or where a step no longer moves it (f32
                // would otherwise never reach 1: (1 − env)·α under half an ulp of 1).
                released = 1.0;
            }
            env = if r < released { r } else { released };
            // What lasts pulls the sustained envelope down, which releases at the
            // profile's rate: dense material is not pumped at the fast one, a held note is
            // not shaped inside its cycles.
            slow = if lasting < slow {
                slow + (lasting - slow) * self.sustain_alpha
            } else {
                let s = slow + (lasting - slow) * self.release_alpha;
                // As the fast envelope: a release of 100 ms stalled 1.4e-4 under 1
                // (−0.0012 dB for good, and the idle path never taken again).
                if s > 1.0 - 1e-6 || (s == slow && lasting == 1.0) {
                    1.0
                } else {
                    s
                }
            };
            self.env = env;
            self.slow = slow;
        }
        let env = if slow < env { slow } else { env };
        // 3. Hold + moving average. Idle fast path: once every value inside both windows
        // is exactly 1 the gain is exactly 1 and stays so while nothing new is needed.
        let g = if env == 1.0 && self.idle >= self.idle_after {
            if self.idle == self.idle_after {
                hold.reset();
                self.avg_sum = self.avg_len as f64;
                self.idle += 1;
            }
            1.0
        } else {
            if env == 1.0 {
                self.idle += 1;
            } else {
                self.idle = 0;
            }
            let h = hold.push(env);
            if let Some(slot) = avg.get_mut(self.avg_pos) {
                self.avg_sum += h as f64 - *slot as f64;
                *slot = h;
            }
            self.avg_pos += 1;
            if self.avg_pos >= self.avg_len {
                self.avg_pos = 0;
                // Re-sum once per cycle so rounding can never accumulate.
                self.avg_sum = avg.iter().map(|&v| v as f64).sum();
            }
            ((self.avg_sum * self.inv_avg_len) as f32).min(1.0)
        };
        self.gain = g;
        g
    }
}

impl Limiter {
    /// Creates a limiter for `channels` interleaved channels at `sample_rate`; the lookahead
    /// (≤ [`MAX_LOOKAHEAD_MS`]) fixes the latency. Allocates.
    pub fn new(sample_rate: u32, channels: usize, params: &LimiterParams) -> Self {
        let rate = sample_rate.max(1);
        let channels = channels.max(1);
        let tp = BlockInterpolator::new(rate);
        let factor = tp.factor();
        let d = if factor == 1 { 0 } else { DET_DELAY };
        let la_ms = finite_clamp(params.lookahead_ms, MAX_LOOKAHEAD_MS, 0.0, MAX_LOOKAHEAD_MS);
        let wanted = (la_ms / 1000.0 * rate as f32).round() as usize;
        let latency = wanted.max(d + GUARD);
        let avg_len = latency + 1 - d - GUARD;
        let mut l = Self {
            rate,
            channels,
            params: *params,
            tp,
            hist: vec![0.0; channels * HIST],
            peaks: vec![0.0; CHUNK],
            hf_e_frame: vec![0.0; CHUNK],
            hf_d_frame: vec![0.0; CHUNK],
            avx: crate::util::detect_avx(),
            gains: vec![1.0; CHUNK * channels],
            ceils: vec![1.0; CHUNK * channels],
            latency,
            avg_len,
            delay: vec![0.0; latency * channels],
            delay_pos: 0,
            env: 1.0,
            slow: 1.0,
            lasting: Lasting::new(rate),
            fast_alpha: 1.0,
            sustain_alpha: one_pole_alpha(SUSTAIN_ATTACK_MS as f64 / 1000.0, rate as f64) as f32,
            release_alpha: 1.0,
            hold: SlidingMin::new(avg_len + 2 * GUARD + 1),
            avg: vec![1.0; avg_len],
            avg_pos: 0,
            avg_sum: avg_len as f64,
            inv_avg_len: 1.0 / avg_len as f64,
            ceiling_db: 0.0,
            ceiling_lin: 1.0,
            threshold: 1.0,
            target_threshold: 1.0,
            noise_extra: db_to_lin(noise_margin_db(factor)) - 1.0,
            prev: vec![[0.0; 2]; channels],
            hf_e: 0.0,
            hf_d: 0.0,
            hf_decay: 1.0 - one_pole_alpha(HF_TAU_S, rate as f64) as f32,
            glide_step_db: CEILING_GLIDE_DB_PER_S / rate as f32,
            gain: 1.0,
            idle: 0,
            idle_after: 2 * avg_len + 2 * GUARD + 1,
        };
        l.set_params(params);
        l.reset();
        l
    }

    /// Clears the delay line and the gain state; the ceiling jumps to its target. Real-time
    /// safe.
    pub fn reset(&mut self) {
        self.hist.iter_mut().for_each(|x| *x = 0.0);
        self.delay.iter_mut().for_each(|x| *x = 0.0);
        self.delay_pos = 0;
        self.env = 1.0;
        self.slow = 1.0;
        self.lasting = Lasting::new_idle(self.lasting.len);
        self.hold.reset();
        self.avg.iter_mut().for_each(|x| *x = 1.0);
        self.avg_pos = 0;
        self.avg_sum = self.avg_len as f64;
        self.gain = 1.0;
        self.idle = 0;
        self.prev.iter_mut().for_each(|p| *p = [0.0; 2]);
        self.hf_e = 0.0;
        self.hf_d = 0.0;
        self.set_ceiling_db(self.ceiling_target());
    }

    fn ceiling_target(&self) -> f32 {
        finite_clamp(self.params.ceiling_dbtp, -1.0, -60.0, 0.0)
    }

    fn set_ceiling_db(&mut self, db: f32) {
        self.ceiling_db = db;
        self.ceiling_lin = db_to_lin(db);
        self.threshold = self.ceiling_lin / db_to_lin(BASE_MARGIN_DB);
    }

    /// Hands in new parameters. The ceiling glides to its new value; `lookahead_ms` is not
    /// applied until the next [`new`](Self::new). Real-time safe.
    pub fn set_params(&mut self, p: &LimiterParams) {
        self.params = *p;
        self.target_threshold = db_to_lin(self.ceiling_target()) / db_to_lin(BASE_MARGIN_DB);
        let rel_s = finite_clamp(p.release_ms, 100.0, 1.0, 60_000.0) as f64 / 1000.0;
        self.release_alpha = one_pole_alpha(rel_s, self.rate as f64) as f32;
        let fast_s = rel_s.min(f64::from(TRANSIENT_RELEASE_MS) / 1000.0);
        self.fast_alpha = one_pole_alpha(fast_s, self.rate as f64) as f32;
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
        #[cfg(target_arch = "x86_64")]
        if self.avx {
            // SAFETY: `self.avx` is only true when `detect_avx` returned true in `new`, so
            // the CPU supports the instructions this function uses.
            return unsafe { self.process_avx(buf) };
        }
        // Read on x86-64 only.
        let _ = self.avx;
        self.process_chunks(buf);
    }

    /// [`Self::process_chunks`] compiled for AVX: the bulk passes (history, measurements,
    /// delay and gain) vectorise eight lanes wide instead of four. The same operations per
    /// sample (no fused multiply-add), so the same results bit for bit.
    ///
    /// # Safety
    /// The CPU must support AVX.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn process_avx(&mut self, buf: &mut [f32]) {
        self.process_chunks(buf);
    }

    /// The work of [`Self::process`], chunk by chunk.
    #[inline(always)]
    fn process_chunks(&mut self, buf: &mut [f32]) {
        let ch = self.channels;
        for chunk in buf.chunks_mut(CHUNK * ch) {
            let n = (chunk.len() / ch).min(CHUNK);
            let Some(frames) = chunk.get_mut(..n * ch) else {
                break;
            };
            // Same arithmetic, in the same order per frame, as one frame-by-frame loop, but in
            // passes: the per-frame measurements that need no state (in bulk), the serial
            // gain computation (the only loop-carried work), then the delay line and the gain
            // (in bulk). The measurements run between filling the detector history and
            // reading it back in wide loads, so the stores have drained by then.
            self.fill_history(frames, n);
            self.measure_hf(frames, n);
            self.detect(n);
            self.compute_gains(n);
            self.apply(frames, n);
        }
    }

    /// Copies the chunk, sanitised, after each channel's detector history.
    #[inline(always)]
    fn fill_history(&mut self, buf: &[f32], n: usize) {
        let ch = self.channels;
        if ch == 2 {
            let (ha, hb) = self.hist.split_at_mut(HIST);
            if let (Some(da), Some(db)) = (
                ha.get_mut(TAPS - 1..TAPS - 1 + n),
                hb.get_mut(TAPS - 1..TAPS - 1 + n),
            ) {
                for ((a, b), f) in da.iter_mut().zip(db.iter_mut()).zip(buf.chunks_exact(2)) {
                    if let [l, r] = *f {
                        *a = sanitize(l);
                        *b = sanitize(r);
                    }
                }
            }
            return;
        }
        for (c, hist) in self.hist.chunks_exact_mut(HIST).enumerate() {
            if let Some(dst) = hist.get_mut(TAPS - 1..TAPS - 1 + n) {
                for (h, &x) in dst.iter_mut().zip(buf.iter().skip(c).step_by(ch)) {
                    *h = sanitize(x);
                }
            }
        }
    }

    /// Fills `peaks[..n]` with the detector reading of each frame (largest over channels)
    /// and moves each channel's history on.
    fn detect(&mut self, n: usize) {
        let Some(peaks) = self.peaks.get_mut(..n) else {
            return;
        };
        // A reading matters only where `reading · (1 + noise_extra)` exceeds the threshold
        // (`compute_gains`); under this floor it cannot, whatever the ceiling's glide does
        // within the chunk (it moves between the ceiling in force and its target), so the
        // interpolator may skip windows that cannot reach it (the 0.01 % absorbs rounding).
        let floor = self.threshold.min(self.target_threshold) / (1.0 + self.noise_extra) * 0.9999;
        for (c, hist) in self.hist.chunks_exact_mut(HIST).enumerate() {
            if c == 0 {
                self.tp.detect(hist, peaks, floor);
            } else {
                self.tp.raise(hist, peaks, floor);
            }
            // Fixed-size copy (a few register moves, no library call).
            if let Some(tail) = hist.get(n..n + TAPS - 1) {
                let mut keep = [0.0f32; TAPS - 1];
                keep.copy_from_slice(tail);
                if let Some(head) = hist.get_mut(..TAPS - 1) {
                    head.copy_from_slice(&keep);
                }
            }
        }
    }

    /// Pass 1: for each frame the largest `|x|` and the largest `|second difference|` over
    /// the channels (raw input, as the frame arrives), into `hf_frame`.
    #[inline(always)]
    fn measure_hf(&mut self, buf: &[f32], n: usize) {
        let ch = self.channels;
        let (Some(es), Some(ds)) = (self.hf_e_frame.get_mut(..n), self.hf_d_frame.get_mut(..n))
        else {
            return;
        };
        if let [pl, pr] = &mut self.prev[..] {
            // Stereo: the history in locals.
            let ([mut l1, mut l2], [mut r1, mut r2]) = (*pl, *pr);
            for ((e, d), f) in es.iter_mut().zip(ds.iter_mut()).zip(buf.chunks_exact(2)) {
                if let [l, r] = *f {
                    *e = 0.0f32.max(l.abs()).max(r.abs());
                    *d = 0.0f32
                        .max((l - 2.0 * l1 + l2).abs())
                        .max((r - 2.0 * r1 + r2).abs());
                    (l2, l1, r2, r1) = (l1, l, r1, r);
                }
            }
            *pl = [l1, l2];
            *pr = [r1, r2];
            return;
        }
        for ((e, d), frame) in es.iter_mut().zip(ds.iter_mut()).zip(buf.chunks_exact(ch)) {
            let mut em = 0.0f32;
            let mut dm = 0.0f32;
            for (&x, p) in frame.iter().zip(self.prev.iter_mut()) {
                em = em.max(x.abs());
                dm = dm.max((x - 2.0 * p[0] + p[1]).abs());
                *p = [x, p[0]];
            }
            *e = em;
            *d = dm;
        }
    }

    /// Pass 2: per frame the required gain, release, hold and average, into `gains` (and the
    /// ceiling in force, into `ceils`).
    ///
    /// Idle stretches run in a tight loop of their own and are filled in bulk, every other
    /// frame goes through [`GainState::general`]; the loop-carried state lives in
    /// [`GainState`] (locals, written back below), so that it stays in registers instead of
    /// going through memory every frame. The same arithmetic in the same order as one
    /// frame-by-frame loop.
    fn compute_gains(&mut self, n: usize) {
        let ch = self.channels.max(1);
        let mut st = GainState {
            target: self.ceiling_target(),
            enabled: self.params.enabled,
            env: self.env,
            slow: self.slow,
            lasting: self.lasting,
            // The high-frequency trackers run unflushed here (see `track`).
            hf_e: self.hf_e,
            hf_d: self.hf_d,
            avg_sum: self.avg_sum,
            avg_pos: self.avg_pos,
            idle: self.idle,
            gain: self.gain,
            hf_decay: self.hf_decay,
            fast_alpha: self.fast_alpha,
            sustain_alpha: self.sustain_alpha,
            release_alpha: self.release_alpha,
            noise_extra: self.noise_extra,
            idle_after: self.idle_after,
            avg_len: self.avg_len,
            inv_avg_len: self.inv_avg_len,
            threshold: self.threshold,
            ceil: self.ceiling_lin,
            ceiling_db: self.ceiling_db,
            glide_step_db: self.glide_step_db,
        };
        let n = n
            .min(self.peaks.len())
            .min(self.hf_e_frame.len())
            .min(self.hf_d_frame.len())
            .min(self.gains.len() / ch)
            .min(self.ceils.len() / ch);
        let (Some(peaks), Some(es), Some(ds), Some(gains), Some(ceils)) = (
            self.peaks.get(..n),
            self.hf_e_frame.get(..n),
            self.hf_d_frame.get(..n),
            self.gains.get_mut(..n * ch),
            self.ceils.get_mut(..n * ch),
        ) else {
            return;
        };
        let (hold, avg) = (&mut self.hold, &mut self.avg[..]);
        // The same loop, with the channel count a constant for stereo.
        if ch == 2 {
            st.run(peaks, es, ds, gains, ceils, 2, hold, avg);
        } else {
            st.run(peaks, es, ds, gains, ceils, ch, hold, avg);
        }
        self.env = st.env;
        self.slow = st.slow;
        self.lasting = st.lasting;
        // Flushed once per chunk: the unflushed trackers never reach the denormal range
        // within one (see `track`).
        self.hf_e = flush(st.hf_e);
        self.hf_d = flush(st.hf_d);
        self.avg_sum = st.avg_sum;
        self.avg_pos = st.avg_pos;
        self.idle = st.idle;
        self.gain = st.gain;
        if st.ceiling_db != self.ceiling_db {
            self.set_ceiling_db(st.ceiling_db);
        }
    }

    /// Pass 3: delay each frame, apply its gain, clamp at its ceiling.
    #[inline(always)]
    fn apply(&mut self, buf: &mut [f32], n: usize) {
        let ch = self.channels;
        let latency = self.latency;
        let enabled = self.params.enabled;
        let mut delay_pos = self.delay_pos;
        let mut i = 0;
        while i < n && delay_pos < latency {
            // Up to the end of the delay ring in one go.
            let len = (n - i).min(latency - delay_pos);
            let (Some(xs), Some(ds), Some(gs), Some(cs)) = (
                buf.get_mut(i * ch..(i + len) * ch),
                self.delay.get_mut(delay_pos * ch..(delay_pos + len) * ch),
                self.gains.get(i * ch..(i + len) * ch),
                self.ceils.get(i * ch..(i + len) * ch),
            ) else {
                break;
            };
            // Sample by sample (gains and ceilings are per sample): vectorises.
            let samples = xs.iter_mut().zip(ds.iter_mut()).zip(gs.iter().zip(cs));
            if enabled {
                for ((x, d), (&g, &c)) in samples {
                    let out = *d * g;
                    *d = sanitize(*x);
                    *x = clamp(out, c);
                }
            } else {
                for ((x, d), (&g, _)) in samples {
                    let out = *d * g;
                    *d = sanitize(*x);
                    *x = out;
                }
            }
            i += len;
            delay_pos += len;
            if delay_pos >= latency {
                delay_pos = 0;
            }
        }
        self.delay_pos = delay_pos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_limiter_after_a_hard_limit_reads_no_reduction() {
        // A loud burst, then a quiet tone for 2 s: the gain is back at unity (its release
        // stalled 1.4e-4 under it in f32, −0.0012 dB for good) and the meter reads 0.
        let tone = |amp: f32, frames: usize| -> Vec<f32> {
            (0..frames)
                .flat_map(|i| {
                    let v = amp * (i as f32 * 0.05).sin();
                    [v, v]
                })
                .collect()
        };
        let mut l = Limiter::new(48_000, 2, &LimiterParams::default());
        l.process(&mut tone(2.0, 9600));
        assert!(l.gain_reduction_db() > 3.0, "{}", l.gain_reduction_db());
        for _ in 0..200 {
            l.process(&mut tone(0.01, 960));
        }
        assert_eq!(l.gain, 1.0);
        assert_eq!(l.gain_reduction_db(), 0.0);
    }

    #[test]
    fn unflushed_tracker_reads_the_same_as_the_flushed_one() {
        // Long decays through the flush level, fresh peaks, zeros: flushing every step and
        // flushing only the values read agree bit for bit.
        let mut s = 17u32;
        for decay in [0.5f32, 0.9, 0.995_845] {
            let (mut flushed, mut raw) = (0.0f32, 0.0f32);
            for i in 0..20_000 {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let x = match (i / 500) % 4 {
                    0 => (s >> 8) as f32 / (1u32 << 24) as f32,
                    1 => 0.0,
                    2 => (s >> 8) as f32 * 1e-28,
                    _ => {
                        if i % 97 == 0 {
                            1e-19
                        } else {
                            0.0
                        }
                    }
                };
                flushed = track(flushed, x, decay);
                raw = decay_max(raw, x, decay);
                assert_eq!(
                    flushed.to_bits(),
                    flush(raw).to_bits(),
                    "decay {decay} i {i}"
                );
                if i % 64 == 63 {
                    raw = flush(raw);
                }
            }
        }
    }

    #[test]
    fn four_tracker_steps_at_once_are_four_single_steps() {
        // Peaks, long decays (into denormals), zeros, huge values: bit for bit.
        let mut s = 29u32;
        for decay in [0.5f32, 0.9, 0.995_845, 0.999_99] {
            let (mut one, mut four) = (0.0f32, 0.0f32);
            for i in 0..40_000 {
                let mut x = [0.0f32; 4];
                for v in &mut x {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    *v = match (i / 300 + (s as usize >> 30)) % 5 {
                        0 => (s >> 8) as f32 / (1u32 << 24) as f32,
                        1 => 0.0,
                        2 => (s >> 8) as f32 * 1e-40,
                        3 => (s >> 8) as f32 * 1e20,
                        _ => ((s >> 8) as f32 / (1u32 << 24) as f32).powi(8),
                    };
                }
                for &v in &x {
                    one = decay_max(one, v, decay);
                }
                four = decay_max4(four, x, decay);
                assert_eq!(one.to_bits(), four.to_bits(), "decay {decay} i {i} {x:?}");
            }
        }
    }

    #[test]
    fn latency_is_the_lookahead_at_common_rates() {
        for (rate, want) in [(44_100u32, 66usize), (48_000, 72), (96_000, 144)] {
            let l = Limiter::new(rate, 2, &LimiterParams::default());
            assert_eq!(l.latency_frames(), want, "rate {rate}");
        }
        // Too short a lookahead is raised to what the detector needs.
        let p = LimiterParams {
            lookahead_ms: 0.0,
            ..Default::default()
        };
        assert_eq!(
            Limiter::new(48_000, 2, &p).latency_frames(),
            DET_DELAY + GUARD
        );
    }

    #[test]
    fn loud_square_is_held_under_the_ceiling_smoothly() {
        let p = LimiterParams::default();
        let mut l = Limiter::new(48_000, 1, &p);
        let mut buf: Vec<f32> = (0..9600)
            .map(|i| if (i / 40) % 2 == 0 { 2.0 } else { -2.0 })
            .collect();
        l.process(&mut buf);
        let ceil = db_to_lin(p.ceiling_dbtp);
        assert!(buf.iter().all(|v| v.abs() <= ceil));
        assert!(l.gain_reduction_db() > 6.0);
        // Disabled: the gain releases back to unity, the delay stays.
        let q = LimiterParams {
            enabled: false,
            ..p
        };
        l.set_params(&q);
        let mut quiet = vec![0.1f32; 48_000];
        l.process(&mut quiet);
        assert!(l.gain_reduction_db() < 0.01);
        assert_eq!(l.latency_frames(), 72);
    }

    #[test]
    fn a_lone_peak_is_let_go_fast_and_a_lasting_reduction_at_the_release_rate() {
        // A 2-sample spike over a quiet tone: held under the ceiling, then let go within
        // milliseconds (it ducked the sound after it over the whole release). A full-scale
        // square that lasts half a second: released at `release_ms` after it.
        let p = LimiterParams::default();
        let ceil = db_to_lin(p.ceiling_dbtp);
        let quiet = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|i| 0.05 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 48_000.0).sin())
                .collect()
        };
        let mut l = Limiter::new(48_000, 1, &p);
        let mut x = quiet(4_800);
        x[2_400] = 1.0;
        x[2_401] = -1.0;
        x.extend(quiet(960));
        l.process(&mut x);
        assert!(x.iter().all(|v| v.abs() <= ceil));
        // 20 ms after the spike left the delay line.
        let after_spike = l.gain_reduction_db();
        let mut l = Limiter::new(48_000, 1, &p);
        let mut x: Vec<f32> = (0..24_000)
            .map(|i| if (i / 40) % 2 == 0 { 2.0 } else { -2.0 })
            .collect();
        x.extend(quiet(960));
        l.process(&mut x);
        assert!(x.iter().all(|v| v.abs() <= ceil));
        let after_square = l.gain_reduction_db();
        assert!(
            after_spike < 0.5,
            "{after_spike:.2} dB still taken 20 ms after a 2-sample spike"
        );
        // 20 ms into a 100 ms release from ≈ 7 dB: most of it still there.
        assert!(
            after_square > 3.0,
            "only {after_square:.2} dB left 20 ms after half a second of limiting"
        );
    }

    #[test]
    fn a_held_low_note_is_limited_without_shaping_its_cycles() {
        // A 30, 50 or 100 Hz sine held 6 dB over the ceiling for a second. Following the fast
        // envelope, the sustained one settled half-way between the crests and the gain moved
        // inside every cycle: 19 dB (50 Hz) and 26 dB (100 Hz) of harmonics under the note.
        let p = LimiterParams::default();
        for freq in [30.0f64, 50.0, 100.0] {
            let mut l = Limiter::new(48_000, 1, &p);
            let amp = 2.0 * db_to_lin(p.ceiling_dbtp);
            let w = 2.0 * std::f64::consts::PI * freq / 48_000.0;
            let mut x: Vec<f32> = (0..48_000)
                .map(|i| (f64::from(amp) * (w * i as f64).sin()) as f32)
                .collect();
            l.process(&mut x);
            // The last half second against the best fitting sine of the note's frequency
            // (the delay shifts its phase): what is left is what the gain added.
            let tail: Vec<f64> = x[24_000..].iter().map(|&v| f64::from(v)).collect();
            let (mut ss, mut sc, mut cc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (k, &y) in tail.iter().enumerate() {
                let (sn, cs) = (w * (24_000 + k) as f64).sin_cos();
                ss += sn * sn;
                sc += sn * cs;
                cc += cs * cs;
                ys += y * sn;
                yc += y * cs;
            }
            let det = ss * cc - sc * sc;
            let (a, b) = ((ys * cc - yc * sc) / det, (yc * ss - ys * sc) / det);
            let (mut note, mut rest) = (0.0, 0.0);
            for (k, &y) in tail.iter().enumerate() {
                let (sn, cs) = (w * (24_000 + k) as f64).sin_cos();
                let fit = a * sn + b * cs;
                note += fit * fit;
                rest += (y - fit) * (y - fit);
            }
            let distortion_db = 10.0 * (rest / note).log10();
            assert!(
                distortion_db < -40.0,
                "{freq} Hz held at the ceiling: {distortion_db:.1} dB of it is not the note"
            );
            assert!(x.iter().all(|v| v.abs() <= db_to_lin(p.ceiling_dbtp)));
        }
    }
}
