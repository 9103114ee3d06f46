//! [`Chain`]: AGC → compressor → lookahead true-peak limiter, with input and output meters
//! and bypass.
//!
//! # Processing model
//! Audio is processed frame by frame in internal sub-steps that end at fixed control points
//! (every [`crate::agc::STEP`] frames, counted from the last `new`/`prepare`), never at call
//! boundaries. Every stage keeps per-sample state, so the output is bit-identical however a
//! stream is split into `process` calls, as long as the parameter changes arrive at the same
//! frame positions.
//!
//! Only the AGC and the compressor need the control points. The meters, the limiter and the
//! bypass mix run over up to 1024 frames at a time (the two meters' filters in one loop) and
//! are brought up to date at a control point only when a meter closes a 100 ms sub-block
//! there (the only time their readings change), which gives the same output and readings.
//!
//! 1. Input sanitising: NaN/±∞ → 0, denormals → 0, magnitudes above +60 dBFS clamped
//!    ([`crate::util::sanitize`]).
//! 2. Input [`LiveMeter`] (its momentary and sub-block loudness drive the AGC) and
//!    [`Flatness`] (how noise-like each sub-block's spectrum is, for the AGC's judgement of
//!    stationary sound).
//! 3. While the AGC or the compressor runs, [`DcBlocker`] takes a DC offset off the
//!    processed path (the input meter and the dry path see the input as it is).
//! 4. [`Agc`], [`Compressor`] with the automatic makeup, [`Limiter`] (the limiter adds
//!    `latency_frames()` of delay).
//! 5. Bypass: a 10 ms crossfade to the input delayed by the same latency, so toggling never
//!    jumps in time; stages and meters keep running.
//! 6. Output [`LiveMeter`].
//!
//! # The target is the output loudness
//! The AGC steers the loudness going *into* the compressor toward the target. What the
//! compressor and the limiter then take away from the programme's loudness is made up
//! behind the compressor (before the limiter), so it never changes what the compressor sees
//! (no loop through it). The automatic makeup has three parts:
//! * what the compressor's static curve takes off the programme's level going in (the AGC's
//!   estimate of its input plus its gain, at most the target; while a loud onset is caught,
//!   until it is confirmed or let go, the onset's own level), computed, not measured: it
//!   moves with the AGC's gain at once. A compressor far under the programme (−60 dBFS,
//!   20:1) takes 40 dB and more; a makeup that had to be learnt after every move of the gain
//!   in front of it left the programme that far down for seconds;
//! * what the compressor takes beyond that: its loss from its static curve for the level it
//!   detects (its detector follows peaks), per control step, energy-weighted over programme
//!   time (1 s), less the curve's reduction at the level going in over the same steps;
//! * the rest — the limiter, and the compressor's attack and release — by comparing the
//!   output meter's 100 ms sub-blocks with the input meter's times the gains in force; at
//!   most [`MAX_LIMITER_MAKEUP_DB`] of it is made up (more would only push the programme
//!   into the ceiling).
//!
//! The measured parts count only programme: not silence, not sound under the silence gate
//! (room noise in a pause), not the first moments of a loud onset. They fall at once and rise
//! at most [`MAKEUP_RISE_DB_PER_S`]; after a programme change (loud onset, adopted quieter
//! programme, a gap) they are re-learnt for 1 s with a short time
//! constant, and a loud onset drops the makeup first to the curve's part plus the limiter's,
//! so the onset never comes out louder than the target. `compressor.makeup_db` applies only
//! while the AGC is off. With an aggressive compressor (say −40 dBFS, 10:1) the programme
//! still lands on its target.
//!
//! Such a compressor with its makeup would also lift everything under the programme to
//! nearly the programme's level — room noise 25 LU under a voice included, in every pause.
//! The compressor's reduction is kept at least the makeup less [`MAX_MAKEUP_LIFT_DB`]
//! (10 dB, the AGC's relative gate): quiet syllables are lifted as the curve asks, up to
//! 10 dB more than the programme; nothing under the programme is lifted further.
//!
//! # Why one file
//! The chain owns the order of the stages and everything that lives between them (the
//! automatic makeup, the loudness ceiling, the compressor's and the ceiling's rescale on sharp
//! AGC cuts, the meters around the stages); those in-between parts read more than one stage
//! and belong to no single one.

use crate::agc::{Agc, ONSET_CONFIRM_S, ONSET_EXCESS_LU, STEP, TAU_GAIN};
use crate::compressor::Compressor;
use crate::dc::DcBlocker;
use crate::flatness::Flatness;
use crate::limiter::Limiter;
use crate::meter::{peak_to_db, LiveMeter};
use crate::params::{ChainParams, CompressorParams};
use crate::shared::MeterSnapshot;
use crate::util::{db_to_lin, db_to_lin64, detect_avx, one_pole_alpha, sanitize_and_copy, Memo};
use crate::LUFS_FLOOR;

/// Time constant of the measured loss (energy averages over programme time), s.
/// Fast level (the AGC's, 20 ms) at and under which the input is digital silence or the last
/// bit of a dither rather than a pause with sound in it, LUFS: the compressor's pause floor
/// ([`Chain::update_pause_floor`]) protects nothing there, and the compressor releases as
/// before.
const PAUSE_MIN_LUFS: f64 = -90.0;

const LOSS_TAU_S: f64 = 1.0;

/// After a programme change the loss is re-learnt with this time constant, s …
const RELEARN_TAU_S: f64 = 0.15;

/// … for this long, s.
const RELEARN_S: f64 = 1.0;

/// A programme the AGC resumes within this of the level the losses kept at the last loud
/// onset were learnt at is the one they were learnt on, LU (the remembered level is the
/// estimate of the last reading before the onset).
const RESUMED_SAME_LU: f32 = 1.0;

/// Largest part of the automatic makeup that makes up for the limiter, dB: more would only
/// push the programme harder into the ceiling.
pub const MAX_LIMITER_MAKEUP_DB: f64 = 2.0;

/// Largest part of the automatic makeup that makes up for the limiter and the compressor's
/// attack and release, with a heavy compressor (see [`Chain::update_makeup`]), dB.
const HEAVY_LIMITER_MAKEUP_DB: f64 = 8.0;
/// Most the loudness ceiling's limit is raised for what the limiter takes, dB.
pub const MAX_CEILING_LIMITER_DB: f64 = 6.0;
/// How fast that raise grows back after the output passed the limit, dB/s.
const CEILING_CREDIT_RISE_DB_PER_S: f64 = 2.0;

/// Largest automatic makeup, dB, unless the compressor's curve takes more off a full-scale
/// level: then that plus [`MAX_LIMITER_MAKEUP_DB`], up to [`MAX_AUTO_MAKEUP_CAP_DB`].
const MAX_AUTO_MAKEUP_DB: f64 = 30.0;

/// Largest automatic makeup for a compressor set far under the programme, dB: enough for the
/// compressor's whole range (−60 dBFS at 20:1 takes 57 dB off a full-scale level).
const MAX_AUTO_MAKEUP_CAP_DB: f64 = 60.0;

/// An AGC gain drop larger than this in one control step (only a caught loud onset does
/// that) rescales the compressor's held peaks, dB.
const SHARP_DROP_DB: f32 = 1.0;

/// An AGC gain that falls faster than this, dB/s (a louder programme taken down at
/// `fall_db_per_s`: an advert that fades in too gradually for the onset gain), is treated
/// like a sharp drop step by step, and hands the loudness ceiling's cut over as far as the
/// level behind the compressor falls. Left to their release times on top of the AGC's
/// fall, the compressor's reduction and the ceiling's cut dug the advert 6 dB under its
/// settled gain for half a second.
const FAST_FALL_DB_PER_S: f64 = 20.0;

/// Time constant of the short level the loudness ceiling holds, s (≈ a 200 ms window).
pub const SHORT_TAU_S: f64 = 0.1;
/// Time constant of the fast level behind the compressor that the loudness ceiling's
/// momentary prediction extends, s.
pub const CEILING_FAST_TAU_S: f64 = 0.02;
/// How far ahead the loudness ceiling predicts the momentary (400 ms) loudness, s: the
/// loudness of the last 400 ms less this, plus this much more at the fast level.
pub const CEILING_HORIZON_S: f64 = 0.1;
/// The momentary prediction is held this far above `agc.max_momentary_lu`, LU: it guards
/// against what the short level is too slow for, and leaves ordinary loud words to it.
/// The prediction reads a rising syllable up to ≈ 0.3 LU under what comes out (its next
/// 100 ms are louder than its last 20 ms): at 0.2 a loud syllable of quiet dialogue came out
/// at `night`'s limit + 2.9995 LU, the profile's "+3" met by 0.0005 LU, and any change to
/// the gains before it (a makeup 0.05 dB higher) took it over; at 0.1, +2.95.
pub const CEILING_PREDICT_MARGIN_LU: f64 = 0.1;
/// Attack time constant of a cut made for the momentary prediction, s. At the ordinary
/// 20 ms a sudden loud stretch came out over the limit for the tens of milliseconds the cut
/// took to arrive (an advert fading in: `default` +4.8 LU where its limit is 4, `night`
/// +3.2 where it promises 3), and the cut that arrived late also had to be held longer,
/// digging a hole under the advert's settled level. The AGC still judges a loud onset
/// against the cut at the ordinary attack (see `Chain::ceiling_judged_db`).
const CEILING_PREDICT_ATTACK_S: f64 = 0.005;
/// Release time constant of a cut made for the momentary prediction alone, s (it is over as
/// soon as the prediction is).
const CEILING_PREDICT_RELEASE_S: f64 = 0.05;
/// How many windows ending within the horizon the momentary prediction holds under the
/// limit: the one ending at the horizon and those ending a quarter, half and three quarters
/// of the way to it. Only the one at the horizon was checked before: a loud stretch was let
/// in as far as the oldest 100 ms of the window would make room when they left it, while
/// the momentary loudness measured on the way there still held them (a loud syllable after
/// a loud start came out 0.3–0.7 LU over the limit).
const CEILING_HORIZON_CHECKS: usize = 4;
/// Deepest cut made for the momentary prediction, dB.
const CEILING_PREDICT_MAX_CUT_DB: f64 = 24.0;

/// How much later than the AGC's gain the loudness ceiling's limit glides down to a
/// lowered one (`target_lufs`, `max_momentary_lu`), s: the momentary loudness (400 ms)
/// follows the gain about that much later. Gliding with the gain itself, the ceiling found
/// the louder 400 ms before the change over the new limit and cut up to 24 dB on top of the
/// AGC's fall: the target set from −16 to −30 on music, the momentary loudness fell to −42
/// for half a second.
const CEILING_GLIDE_LAG_S: f64 = 0.25;
/// How close to a lowered limit the ceiling's glide counts as arrived, LU.
const GLIDE_DONE_LU: f64 = 0.01;
/// Length of the momentary loudness window, s.
const MOMENTARY_S: f64 = 0.4;
/// Attack and release time constants of the loudness ceiling, s.
const CEILING_ATTACK_S: f64 = 0.02;
const CEILING_RELEASE_S: f64 = 0.3;

/// Fastest rise of the automatic makeup, dB/s.
pub const MAKEUP_RISE_DB_PER_S: f64 = 3.0;

/// Fastest rise of the automatic makeup while it is re-learnt after a programme change, dB/s.
const RELEARN_MAKEUP_RISE_DB_PER_S: f64 = 12.0;

/// A compressor whose curve takes more than this off a programme's peaks at the target, dB,
/// is heavy (only a compressor set far under the programme takes that much).
const LARGE_MAKEUP_DB: f64 = 12.0;

/// Level of a programme's peaks at the target, dBFS above the target's LUFS (speech and
/// music levelled to −16 LUFS peak around −6 dBFS).
const TARGET_PEAK_DB: f64 = 10.0;

/// Most that the automatic makeup lifts sound under the programme beyond the programme
/// itself, dB: the compressor's reduction is kept at least this much under what it takes
/// from the programme. A compressor far under the programme (−60 dBFS at 20:1) with the
/// makeup that matches it would otherwise bring room noise 25 LU under a voice up to the
/// voice's level in every pause. The same distance as the AGC's relative gate: sound more
/// than 10 LU under the programme is not programme.
pub const MAX_MAKEUP_LIFT_DB: f64 = 10.0;

/// Smallest change of the automatic makeup handed to the compressor, dB.
const MAKEUP_STEP_DB: f64 = 0.05;

/// Bypass crossfade length, s.
const BYPASS_FADE_S: f32 = 0.01;

/// Frames processed per part (the length of the sanitised input copy).
const PART: usize = 1024;

/// The compressor's parameters in the chain: with the AGC on, the makeup is automatic (see
/// [`Chain::auto_makeup_db`]) and `compressor.makeup_db` is not applied, so the target stays
/// the output loudness; with the AGC off it is a plain makeup gain.
fn compressor_params(p: &ChainParams) -> CompressorParams {
    let mut c = p.compressor;
    if p.agc.enabled {
        c.makeup_db = 0.0;
    }
    c
}

/// Whether a stage that can lift the programme (and an offset with it) runs: the AGC, or the
/// compressor with its makeup. The DC blocker works then.
fn lifts_gain(p: &ChainParams) -> bool {
    p.agc.enabled || p.compressor.enabled
}

/// The levelling chain for one bus of interleaved `f32` audio.
#[derive(Debug)]
pub struct Chain {
    rate: u32,
    channels: usize,
    max_block: usize,
    params: ChainParams,
    frames: u64,
    /// DC removal in front of the AGC, on while the AGC or the compressor is.
    dc: DcBlocker,
    agc: Agc,
    compressor: Compressor,
    limiter: Limiter,
    in_meter: LiveMeter,
    /// The input's spectral flatness per sub-block, handed to the AGC with the meter's readings.
    flatness: Flatness,
    out_meter: LiveMeter,
    /// Copy of the sanitised input of the current part (at most [`PART`] frames).
    scratch: Vec<f32>,
    /// Whether the part loop's own kernels run compiled for AVX ([`detect_avx`], at
    /// construction).
    avx: bool,
    /// Dry delay line for bypass, `latency × channels`.
    dry: Vec<f32>,
    dry_pos: usize,
    /// Bypass crossfade position: 0 = processed, 1 = dry.
    bypass_mix: f32,
    bypass_step: f32,
    /// Frames done in the current control step.
    step_pos: usize,
    /// True peak of the last `process` call, linear (converted to dBTP when read).
    in_block_peak: f32,
    /// Short level behind the compressor without the ceiling (mean square), the ceiling
    /// gain, dB, and the target it holds to.
    short_ms: f64,
    ceiling_db: f64,
    /// The ceiling's cut as the ordinary attack ([`CEILING_ATTACK_S`]) would make it, dB:
    /// what the AGC is told is in force when it judges a loud onset. The cut itself attacks
    /// faster when the momentary prediction asks ([`CEILING_PREDICT_ATTACK_S`]); judged on
    /// that, a louder programme (a second speaker 12 LU louder) was taken for a loud word
    /// the ceiling already held, the onset gain stayed off and the programme came out at the
    /// limit for half a second instead of at the target.
    ceiling_judged_db: f64,
    /// The limit the ceiling holds to (`target + max_momentary_lu`, LUFS), gliding down
    /// to a lowered one (see `update_ceiling`).
    ceiling_limit: f64,
    /// Fast level behind the compressor without the ceiling (mean square, [`CEILING_FAST_TAU_S`]).
    fast_ms: f64,
    /// K-weighted output mean squares (with the ceiling) of the steps of the last momentary
    /// window (ring), the sum of its newest steps less the horizon, the sums of the oldest
    /// (the horizon's length, in [`CEILING_HORIZON_CHECKS`] bands from the newest of them to
    /// the oldest: what leaves the windows that end within the horizon), and the steps of
    /// the window and horizon.
    mom_ring: Vec<f64>,
    mom_pos: usize,
    mom_sum: f64,
    mom_bands: [f64; CEILING_HORIZON_CHECKS],
    mom_steps: usize,
    horizon_steps: usize,
    /// Steps entered since the input meter last closed a sub-block, and the K-weighting
    /// correction they were entered with (LU, and as a power ratio).
    mom_sub_steps: usize,
    mom_k: f64,
    mom_k_lin: f64,
    /// The AGC's gain cut at the last control point when it was sharp, dB (else 0).
    ramp_drop_db: f32,
    /// Meter update the AGC last saw, and its momentary and sub-block loudness.
    agc_seen: u64,
    agc_m: f64,
    agc_sb: f64,
    /// What the automatic makeup and the loudness ceiling's credit have learnt of the
    /// programme.
    learnt: Learnt,
    /// Energy averages of the limiter's input and output.
    lim_in: f64,
    lim_out: f64,
    /// The limiter's own loss, as energy averages of its input (the ceiling's estimate of
    /// each sub-block behind it) and of the output meter's sub-blocks: the loudness ceiling
    /// holds the loudness that comes out of the limiter.
    ceil_pre: f64,
    ceil_out: f64,
    /// Energy and energy-weighted power gain of the steps since the last meter reading, and
    /// whether all of them were programme.
    fold_e: f64,
    fold_w: f64,
    fold_counts: bool,
    /// Interval of the meter readings, s.
    agc_reading_s: f64,
    /// One-pole coefficients of the compressor averages per step (normal, re-learning).
    loss_alpha: f64,
    relearn_alpha: f64,
    /// Frames of control steps since the last one with bypass on (saturating): the output
    /// meter's readings measure the chain's losses only once no dry sound is left in them.
    since_bypass: usize,
    /// Programme changes seen, and the re-learning time left, s.
    changes_seen: u32,
    relearn_s: f64,
    /// What was learnt of the programme's losses when the last loud onset dropped it, and
    /// the AGC's transients and resumptions seen: an onset let go as a transient gives it
    /// back, and so does the programme from before the onset when the AGC resumes it.
    before_onset: Option<LearntLosses>,
    transients_seen: u32,
    resumptions_seen: u32,
    /// True peak of the last `process` call at the output, linear (as `in_block_peak`).
    out_block_peak: f32,
    /// Powers and exponentials of the control updates whose arguments rarely change.
    memo: ControlMemo,
}

/// What the automatic makeup and the loudness ceiling's credit have learnt of a programme.
#[derive(Debug, Clone, Copy, Default)]
struct Learnt {
    /// Energy averages behind the automatic makeup: compressor input and its output without
    /// makeup.
    comp_in: f64,
    comp_out: f64,
    /// Energy-weighted average of the static curve's reduction at the programme's level going
    /// in, not capped at the target ([`Chain::programme_curve_db`]), over the same steps,
    /// times `comp_in`'s weights: the measured loss less this is what the compressor takes
    /// beyond its curve at that level.
    comp_curve: f64,
    /// The measured part of the automatic makeup in force (beyond the curve's reduction at
    /// the programme's level: the compressor's and the limiter's), dB.
    makeup_extra_db: f64,
    /// Programme time those compressor averages hold since they were started, s.
    comp_learnt_s: f64,
    /// How far the loudness ceiling's limit is raised for the limiter's loss now, dB.
    ceil_credit: f64,
}

/// What was learnt of a programme when a loud onset dropped it, kept in case the onset
/// turns out to be a transient or the programme is resumed ([`Chain`]'s `before_onset`).
#[derive(Debug, Clone, Copy)]
struct LearntLosses {
    /// The AGC's programme estimate they were learnt at, LUFS.
    programme_lufs: f32,
    losses: Learnt,
}

/// Last arguments and values of the powers and exponentials in [`Chain::track_loss`] and
/// [`Chain::update_ceiling`] (most stay the same from one control step to the next).
#[derive(Debug, Clone, Copy)]
struct ControlMemo {
    /// `db_to_lin64` of the AGC's gain in force over the step.
    agc_lin: Memo,
    /// `db_to_lin64` of the compressor's makeup in force.
    makeup_lin: Memo,
    /// `10^(x / 10)` of what the compressor adds.
    post_pow: Memo,
    /// `exp(−t / tau)` of the limiter-loss average, the short level and the ceiling.
    loss_exp: Memo,
    short_exp: Memo,
    ceiling_exp: Memo,
    judged_exp: Memo,
    /// `exp(−t / tau)` of the fast level; `10^(x / 10)` of the K-weighting correction, the
    /// ceiling gain in force and the loudness limit.
    fast_exp: Memo,
    k_pow: Memo,
    k_sub_pow: Memo,
    /// `10^(x / 10)` of the target's distance under the momentary prediction's limit.
    onset_floor_pow: Memo,
    ceiling_pow: Memo,
    limit_pow: Memo,
    /// `10^(x / 10)` of the onset threshold and of the ceiling's limit as mean squares: a
    /// level clearly under either needs no `log10` to be judged (see [`surely_under`]).
    hot_pow: Memo,
    steady_pow: Memo,
    /// `10^(x / 10)` of the limiter's ceiling: the most a step's mean square can come out at.
    peak_pow: Memo,
}

impl ControlMemo {
    const fn new() -> Self {
        Self {
            agc_lin: Memo::new(),
            makeup_lin: Memo::new(),
            post_pow: Memo::new(),
            loss_exp: Memo::new(),
            short_exp: Memo::new(),
            ceiling_exp: Memo::new(),
            judged_exp: Memo::new(),
            fast_exp: Memo::new(),
            k_pow: Memo::new(),
            k_sub_pow: Memo::new(),
            onset_floor_pow: Memo::new(),
            ceiling_pow: Memo::new(),
            limit_pow: Memo::new(),
            hot_pow: Memo::new(),
            steady_pow: Memo::new(),
            peak_pow: Memo::new(),
        }
    }
}

/// One control step of a loudness-ceiling cut `cut` (dB, ≤ 0) toward `want`: at `attack_s`
/// when it deepens, at the prediction's release when only the momentary prediction holds it
/// (`net`), at the ordinary release otherwise; a cut within 0.001 dB of none is none.
/// `exp` memoises `exp(−dt / tau)`. Real-time safe.
fn follow_cut(cut: f64, want: f64, net: bool, attack_s: f64, dt: f64, exp: &mut Memo) -> f64 {
    let tau = if want < cut {
        attack_s
    } else if net {
        CEILING_PREDICT_RELEASE_S
    } else {
        CEILING_RELEASE_S
    };
    let e = exp.get(-dt / tau, f64::exp);
    let cut = cut + (1.0 - e) * (want - cut);
    if cut > -1e-3 {
        0.0
    } else {
        cut
    }
}

/// Whether the mean square `ms` is surely under the mean square `limit_ms` whose loudness
/// it would be compared with: true only with a margin (10⁻⁹ relative) far wider than the
/// rounding of `log10`/`powf`, so that skipping the `log10` of `ms` then never changes the
/// outcome of the comparison in loudness — the output stays bit-identical.
#[inline]
fn surely_under(ms: f64, limit_ms: f64) -> bool {
    ms < limit_ms * (1.0 - 1e-9)
}

impl Chain {
    /// Creates a chain for `channels` interleaved channels at `sample_rate`, able to take
    /// blocks of any length (internally the chain works in sub-steps of
    /// [`crate::agc::STEP`] frames; `max_block` is kept for the caller's bookkeeping).
    /// Allocates all buffers.
    pub fn new(sample_rate: u32, channels: usize, max_block: usize, params: &ChainParams) -> Self {
        let rate = sample_rate.max(1);
        let channels = channels.max(1);
        let limiter = Limiter::new(rate, channels, &params.limiter);
        let latency = limiter.latency_frames();
        let bypass_mix = if params.bypass { 1.0 } else { 0.0 };
        let steps_per_s = rate as f64 / STEP as f64;
        let mom_steps = ((MOMENTARY_S * steps_per_s).round() as usize).max(2);
        let horizon_steps =
            ((CEILING_HORIZON_S * steps_per_s).round() as usize).clamp(1, mom_steps - 1);
        Self {
            rate,
            channels,
            max_block: max_block.max(1),
            params: *params,
            frames: 0,
            agc: Agc::new(rate, channels, &params.agc),
            dc: DcBlocker::new(rate, channels, lifts_gain(params)),
            compressor: Compressor::new(rate, channels, &compressor_params(params)),
            limiter,
            in_meter: LiveMeter::new(rate, channels),
            flatness: Flatness::new(rate, channels, LiveMeter::sub_block_frames_at(rate)),
            out_meter: LiveMeter::new(rate, channels),
            scratch: vec![0.0; PART * channels],
            avx: detect_avx(),
            dry: vec![0.0; latency * channels],
            dry_pos: 0,
            bypass_mix,
            bypass_step: 1.0 / (BYPASS_FADE_S * rate as f32).max(1.0),
            step_pos: 0,
            in_block_peak: 0.0,
            short_ms: 0.0,
            ceiling_db: 0.0,
            ceiling_judged_db: 0.0,
            ceiling_limit: f64::NAN,
            fast_ms: 0.0,
            mom_ring: vec![0.0; mom_steps],
            mom_pos: 0,
            mom_sum: 0.0,
            mom_bands: [0.0; CEILING_HORIZON_CHECKS],
            mom_steps,
            horizon_steps,
            mom_sub_steps: 0,
            mom_k: 0.0,
            mom_k_lin: 1.0,
            ramp_drop_db: 0.0,
            agc_seen: 0,
            agc_m: LUFS_FLOOR,
            agc_sb: LUFS_FLOOR,
            learnt: Learnt::default(),
            lim_in: 0.0,
            lim_out: 0.0,
            ceil_pre: 0.0,
            ceil_out: 0.0,
            loss_alpha: one_pole_alpha(LOSS_TAU_S, rate as f64 / STEP as f64),
            relearn_alpha: one_pole_alpha(RELEARN_TAU_S, rate as f64 / STEP as f64),
            since_bypass: if params.bypass { 0 } else { usize::MAX },
            changes_seen: 0,
            relearn_s: 0.0,
            before_onset: None,
            transients_seen: 0,
            resumptions_seen: 0,
            fold_e: 0.0,
            fold_w: 0.0,
            fold_counts: true,
            agc_reading_s: ((rate as usize + 5) / 10) as f64 / rate as f64,
            out_block_peak: 0.0,
            memo: ControlMemo::new(),
        }
    }

    /// Re-prepares for a new sample rate or block size: rebuilds every stage with the
    /// parameters in force (a changed `limiter.lookahead_ms` takes effect here) and resets all
    /// state, meters and the frame counter (the meters' true-peak setting is kept).
    /// Allocates.
    pub fn prepare(&mut self, sample_rate: u32, max_block: usize) {
        let tp = self.in_meter.true_peak_enabled();
        *self = Self::new(sample_rate, self.channels, max_block, &self.params);
        self.set_meter_true_peak(tp);
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The `max_block` given at creation / preparation.
    pub fn max_block(&self) -> usize {
        self.max_block
    }

    /// Hands in new parameters; every change is smoothed (gains glide, bypass crossfades).
    /// `limiter.lookahead_ms` changes the latency and therefore only takes effect at the next
    /// [`prepare`](Self::prepare). A new AGC target starts both meters' integrated loudness
    /// and loudness range again (they are read against the target in force: after a change
    /// of profile, the loudness integrated under the old one said nothing of the new). Real-
    /// time safe (no allocation; a new target clears the meters' histograms).
    pub fn set_params(&mut self, params: &ChainParams) {
        if params.agc.target_lufs.to_bits() != self.params.agc.target_lufs.to_bits() {
            self.in_meter.restart_integration();
            self.out_meter.restart_integration();
        }
        self.params = *params;
        self.dc.set_on(lifts_gain(params));
        self.agc.set_params(&params.agc);
        self.compressor.set_params(&compressor_params(params));
        self.limiter.set_params(&params.limiter);
    }

    /// The parameters in force.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// Latency the chain adds, in frames (the limiter lookahead). Constant between
    /// `prepare` calls, the same whether stages are enabled or bypassed.
    pub fn latency_frames(&self) -> usize {
        self.limiter.latency_frames()
    }

    /// Processes interleaved audio in place. Any length (a trailing partial frame is zeroed).
    /// Real-time safe: no allocation, lock, syscall or panic, for any input.
    pub fn process(&mut self, buf: &mut [f32]) {
        let ch = self.channels;
        let whole = buf.len() / ch * ch;
        let (body, tail) = buf.split_at_mut(whole);
        tail.iter_mut().for_each(|x| *x = 0.0);
        self.in_block_peak = 0.0;
        self.out_block_peak = 0.0;
        for part in body.chunks_mut(PART * ch) {
            self.process_part(part);
        }
        self.frames += (whole / ch) as u64;
    }

    /// Processes at most [`PART`] whole frames.
    ///
    /// The AGC and the compressor run sub-step by sub-step (their control runs at every
    /// control point). The meters, limiter and dry mix run over as many frames at once as they
    /// can: the meters' readings change only when a 100 ms sub-block closes, so at a control
    /// point they are brought up to date only if one closes in the frames they have not seen
    /// yet; otherwise their readings are the same as if they had. Every stage keeps per-sample
    /// state and the meters' readings do not depend on how their input is split, so the
    /// output is the same as running everything sub-step by sub-step.
    fn process_part(&mut self, part: &mut [f32]) {
        let ch = self.channels;
        let n = (part.len() / ch).min(self.scratch.len() / ch);
        // Sanitise in place and keep a copy (input meter, dry path), in one pass.
        sanitize_and_copy(part, &mut self.scratch, self.avx);
        // The offset off the processed path (the copy keeps it: the dry path is the input).
        self.dc.process(part);
        // Frames done by the AGC and compressor, and by the meters, limiter and dry mix.
        let mut pos = 0;
        let mut done = 0;
        while pos < n {
            let todo = (STEP - self.step_pos.min(STEP - 1)).min(n - pos);
            if let Some(seg) = part.get_mut(pos * ch..(pos + todo) * ch) {
                self.agc.process(seg, ch);
                self.compressor.process_within_step(seg);
            }
            pos += todo;
            self.step_pos += todo;
            if self.step_pos >= STEP {
                self.step_pos = 0;
                let due = self
                    .in_meter
                    .frames_to_sub_block_end()
                    .min(self.out_meter.frames_to_sub_block_end());
                if pos - done >= due {
                    self.run_rest(part, done, pos);
                    done = pos;
                }
                let seen = self.in_meter.sub_blocks_seen();
                let fresh = seen != self.agc_seen;
                if fresh {
                    self.agc_seen = seen;
                    self.agc_m = self.in_meter.momentary_lufs();
                    self.agc_sb = self.in_meter.sub_block_lufs();
                    // The flatness analyser counts the same sub-blocks as the meter.
                    debug_assert_eq!(self.flatness.sub_blocks_seen(), seen);
                    self.agc.set_flatness_db(self.flatness.last_db());
                }
                let gain_db = self.agc.gain_db();
                // The compressor's gain in force over the step that just ended (its makeup
                // less its reduction), before anything below moves it.
                let post_db = self.compressor.makeup_in_force_db()
                    - f64::from(self.compressor.gain_reduction_db());
                // What the compressor adds (makeup less the reduction its curve asks for now,
                // with the loudness ceiling's cut in force): the AGC holds loud onsets at the
                // target as it comes out, and leaves a loud word the ceiling already holds to
                // it (an onset would also restart the programme estimate at the word's level).
                self.agc.set_post_gain_db(
                    self.compressor.makeup_in_force_db()
                        - self.compressor.target_gain_reduction_db()
                        + self.ceiling_judged_db,
                );
                self.agc.control(self.agc_m, self.agc_sb, fresh);
                self.update_pause_floor();
                // How far the gains in front of the loudness ceiling move at this control
                // point (see below), dB.
                let mut moved_db = 0.0;
                if self.ramp_drop_db > 0.0 {
                    // The step that just ended ramped down through the last cut: its peak
                    // was partly from before, and the compressor's reduction made for the
                    // levels before the cut comes off now (not while the AGC's gain was
                    // ramping down, which would have bulged the output).
                    self.compressor
                        .rescale_current_step(db_to_lin(-self.ramp_drop_db));
                    moved_db += self.compressor.lower_reduction_for_cut(self.ramp_drop_db);
                }
                let drop_db = gain_db - self.agc.gain_db();
                self.ramp_drop_db = 0.0;
                let fast_fall = f64::from(drop_db) * self.rate as f64
                    > FAST_FALL_DB_PER_S * crate::agc::STEP as f64;
                if drop_db > SHARP_DROP_DB || fast_fall {
                    // A loud onset caught, or the gain falling fast to a louder programme:
                    // the compressor's held peaks (this step's too) are from before.
                    self.compressor.rescale_held(db_to_lin(-drop_db));
                    self.ramp_drop_db = drop_db;
                    moved_db -= f64::from(drop_db);
                }
                if fast_fall && moved_db < 0.0 {
                    // The AGC takes over what the loudness ceiling cut, as far as the level
                    // behind the compressor falls with it: the cut would otherwise let go
                    // over its release on top of the AGC's fall.
                    self.ceiling_db = (self.ceiling_db - moved_db).min(0.0);
                    self.ceiling_judged_db = (self.ceiling_judged_db - moved_db).min(0.0);
                }
                self.update_ceiling(gain_db, post_db, moved_db, fresh);
                self.compressor.end_step();
                self.track_loss(gain_db, fresh);
            }
        }
        self.run_rest(part, done, n);
    }

    /// Input meter, limiter, dry mix and output meter over frames `from..to` of the current
    /// part (the input meter reads the sanitised copy). The two meters run together
    /// ([`LiveMeter::process_pair`]).
    fn run_rest(&mut self, part: &mut [f32], from: usize, to: usize) {
        let ch = self.channels;
        if to <= from {
            return;
        }
        let Some(seg) = part.get_mut(from * ch..to * ch) else {
            return;
        };
        self.limiter.process(seg);
        self.mix_dry(seg, from);
        let dry = self.scratch.get(from * ch..to * ch).unwrap_or(&[]);
        LiveMeter::process_pair(&mut self.in_meter, dry, &mut self.out_meter, seg);
        self.flatness.process(dry);
        self.in_block_peak = self.in_block_peak.max(self.in_meter.block_true_peak());
        self.out_block_peak = self.out_block_peak.max(self.out_meter.block_true_peak());
    }

    /// Takes back what was learnt of a programme before a loud onset dropped it (see
    /// [`LearntLosses`]): the compressor's loss averages, the makeup and the loudness
    /// ceiling's credit, with no re-learning. Real-time safe.
    fn restore_losses(&mut self, b: LearntLosses) {
        self.learnt = b.losses;
        self.relearn_s = 0.0;
        self.update_makeup();
    }

    /// Adds the step that just ended (the AGC's gain `gain_db` was in force) to the loss
    /// measurements; with a `fresh` meter reading, measures the limiter's loss and updates
    /// the makeup.
    ///
    /// * Compressor, every step: its input is the AGC's input energy times the AGC gain², its
    ///   output without makeup that times the compressor's power gain.
    /// * Limiter, every 100 ms: the output meter's last sub-block against the input meter's
    ///   times the energy-weighted power gain of the AGC, compressor and makeup over the
    ///   steps since the last reading (K-weighted, like the loudness itself).
    ///
    /// Only programme counts (not silence, pauses or the first moments of a loud onset), except
    /// right after a programme change, when everything with sound counts, with a short time
    /// constant. Everything here runs at control points on per-step sums, so it does not
    /// depend on how the audio is split into calls.
    fn track_loss(&mut self, gain_db: f32, fresh: bool) {
        let (sum, frames) = self.agc.step_energy();
        self.since_bypass = if self.params.bypass {
            0
        } else {
            self.since_bypass.saturating_add(frames)
        };
        if self.agc.programme_changes() != self.changes_seen {
            self.changes_seen = self.agc.programme_changes();
            self.relearn_s = RELEARN_S;
            if self.agc.onset_elapsed_s().is_some() {
                // A loud onset: what the compressor took from the quieter programme before
                // says nothing about it. The makeup drops at once to what the compressor's
                // curve takes off the level going in (plus the limiter's part) and is learnt
                // anew from there, so the onset never comes out louder than the target.
                self.before_onset = Some(LearntLosses {
                    programme_lufs: self.agc.programme_lufs(),
                    losses: self.learnt,
                });
                self.learnt.comp_in = 0.0;
                self.learnt.comp_out = 0.0;
                self.learnt.comp_curve = 0.0;
                self.learnt.comp_learnt_s = 0.0;
                let lim = self.limiter_makeup_db().0;
                self.learnt.makeup_extra_db = self.learnt.makeup_extra_db.min(lim);
                // Nor does what the limiter took from it: the loudness ceiling's credit for
                // the limiter's loss starts again from 0 (a dense advert after speech loses
                // far less in the limiter than the speech did).
                self.learnt.ceil_credit = 0.0;
                let keep = self.programme_curve_db(true) + lim;
                self.compressor
                    .set_auto_makeup_db(self.compressor.auto_makeup_db().min(keep));
            }
        }
        if self.agc.transients() != self.transients_seen {
            self.transients_seen = self.agc.transients();
            if let Some(b) = self.before_onset.take() {
                // The onset was a transient (a slam, a shot) and the programme before it goes
                // on: what was learnt of it comes back, and the makeup with it.
                self.restore_losses(b);
            }
        }
        if self.agc.resumptions() != self.resumptions_seen {
            self.resumptions_seen = self.agc.resumptions();
            // The programme from before a louder one is back (the dialogue after a shouted
            // word or an action scene), resumed at its remembered level: when that is the
            // programme the last onset dropped, what was learnt of it comes back too.
            // (Learnt anew, the makeup took seconds to return and left the dialogue 2–3 LU
            // under itself meanwhile.)
            let now = self.agc.programme_lufs();
            if let Some(b) = self
                .before_onset
                .take_if(|b| (b.programme_lufs - now).abs() <= RESUMED_SAME_LU)
            {
                self.restore_losses(b);
            } else if self.agc.back_from_short_moment() {
                // A short louder moment the compressor held (no onset): the losses learnt of
                // the programme before it still hold; learnt anew from its first second they
                // came out a decibel or so off.
                self.relearn_s = 0.0;
            }
        }
        // Under the silence gate nothing is learnt: a gap in the programme (which the AGC
        // counts as a possible programme change) would otherwise learn the room noise in it
        // as the new programme's loss. (The time to re-learn runs on through the gap: had it
        // waited for sound, the first second after every pause would be learnt with the
        // short time constant, and a loud word there pulls the makeup up.)
        let silent = self.agc.is_silent();
        let relearn = self.relearn_s > 0.0;
        if relearn {
            self.relearn_s -= frames as f64 / self.rate as f64;
        }
        // The first moments of a loud onset (compressor and limiter catching it) say nothing
        // about the programme.
        let transient = self
            .agc
            .onset_elapsed_s()
            .is_some_and(|t| t < ONSET_CONFIRM_S);
        if transient {
            self.relearn_s = RELEARN_S;
        }
        // Nor do steps while the gain is still moving to a new programme: the compressor
        // sees a level on its way there.
        let counts = frames > 0
            && sum > 0.0
            && !transient
            && !silent
            && self.agc.total_settled()
            && (self.agc.programme_active() || relearn);
        let a = if relearn {
            self.relearn_alpha
        } else {
            self.loss_alpha
        };
        let g = self.memo.agc_lin.get(gain_db as f64, db_to_lin64);
        let e_in = sum / frames.max(1) as f64 * g * g;
        let kept = self.compressor.last_step_power_gain();
        // A step far over the target is a loud onset not caught yet; its energy would swamp
        // the averages.
        let hot_lufs = self.params.agc.target_lufs as f64 + ONSET_EXCESS_LU;
        let hot_ms = self
            .memo
            .hot_pow
            .get((hot_lufs + 0.691) / 10.0, |x| 10f64.powf(x));
        let hot = !surely_under(e_in, hot_ms) && 10.0 * e_in.max(1e-30).log10() - 0.691 > hot_lufs;
        let counts = counts && !hot;
        if counts {
            self.learnt.comp_learnt_s += frames as f64 / self.rate as f64;
            // Not capped at the target: what the compressor takes off a programme the AGC
            // cannot bring down to the target (at its largest cut) is not made up.
            let curve = self.programme_curve_db(false);
            self.learnt.comp_in += a * (e_in - self.learnt.comp_in);
            self.learnt.comp_out += a * (e_in * kept - self.learnt.comp_out);
            self.learnt.comp_curve += a * (e_in * curve - self.learnt.comp_curve);
        }
        let mk = self
            .memo
            .makeup_lin
            .get(self.compressor.makeup_in_force_db(), db_to_lin64);
        self.fold_e += sum;
        self.fold_w += sum * g * g * kept * mk * mk;
        self.fold_counts &= counts;
        if fresh {
            let (w, e, all) = (self.fold_w, self.fold_e, self.fold_counts);
            self.fold_w = 0.0;
            self.fold_e = 0.0;
            self.fold_counts = true;
            let expected = self.in_meter.sub_block_energy() * if e > 0.0 { w / e } else { 0.0 };
            let actual = self.out_meter.sub_block_energy();
            // Not while re-learning: right after a programme change the compressor is still
            // settling, and what it takes away beyond its curve would be taken for the
            // limiter's loss. Nor while the output holds dry sound (bypass, its crossfade):
            // the dry input's level against the levelled one was learnt as a loss, and the
            // programme came back 2 dB over its level for seconds after bypass.
            if all && !relearn && self.output_is_processed() && expected > 0.0 && actual > 0.0 {
                let b = self.loss_reading_alpha();
                self.lim_in += b * (expected - self.lim_in);
                self.lim_out += b * (actual - self.lim_out);
            }
            self.update_makeup();
        }
    }

    /// The loudness ceiling: from the step that just ended (the AGC's gain `gain_db` was in
    /// force), the short level coming out of the compressor without the ceiling (a one-pole
    /// mean square, about 200 ms) is held to `target + agc.max_momentary_lu` plus what the
    /// limiter takes ([`Chain::limiter_loss_db`], as far as the output meter shows the limit
    /// kept: the limit holds the loudness that comes out of the limiter): the ceiling
    /// gain, applied with the makeup, falls with a 20 ms and recovers with a 300 ms time
    /// constant. It works behind the compressor, so the compressor does not undo it. A step
    /// counts at most at the limiter's ceiling (nothing comes out louder), so a heavy
    /// compressor's first milliseconds of a word, which the limiter holds, are not cut.
    ///
    /// The short level lags a sudden loud word or effect by tens of milliseconds, long
    /// enough for the 400 ms momentary loudness to pass the limit. So the ceiling also
    /// predicts the momentary loudness [`CEILING_HORIZON_S`] ahead — what came out over the
    /// last 400 ms less the horizon (a ring of per-step output energies, K-weighted: first
    /// with the programme's correction, then, once the input meter closes their 100 ms
    /// sub-block, with that sub-block's own, so a word or effect brighter than the
    /// programme counts as loud as it sounds) plus the horizon at a 20 ms level — and cuts
    /// as far as that prediction would pass the limit by more than
    /// [`CEILING_PREDICT_MARGIN_LU`], for the window ending at the horizon and for those
    /// ending on the way there ([`CEILING_HORIZON_CHECKS`]: they still hold the oldest
    /// steps the one at the horizon has let go). Such a cut comes within 5 ms
    /// ([`CEILING_PREDICT_ATTACK_S`]) and is let go within 50 ms once the prediction is
    /// under the limit again. Everything runs on per-step sums at control points, so it
    /// does not depend on the block partition.
    ///
    /// `gain_db` and `post` are the AGC's and the compressor's gains in force over the step
    /// (dB; the compressor's is its makeup less its reduction), `moved_db` how far the gains
    /// in front of the ceiling move at this control point outside their ordinary course (a
    /// sharp AGC cut, the compressor's reduction taken off after one).
    fn update_ceiling(&mut self, gain_db: f32, post: f64, moved_db: f64, fresh: bool) {
        let (sum, frames) = self.agc.step_energy();
        let dt = frames as f64 / self.rate as f64;
        let k = self.agc.k_correction_lu();
        if frames > 0 {
            let g = self.memo.agc_lin.get(gain_db as f64, db_to_lin64);
            let pow = self.memo.post_pow.get(post / 10.0, |x| 10f64.powf(x));
            let c = self
                .memo
                .ceiling_pow
                .get(self.ceiling_db / 10.0, |x| 10f64.powf(x));
            let ms = sum / frames as f64 * g * g * pow;
            // The limiter lets nothing out above its ceiling: a step cannot come out with a
            // mean square over the ceiling's square, whatever the gains before it (a heavy
            // compressor's makeup lets a word's first milliseconds through 30–40 dB over the
            // programme, which the limiter then holds). Referred back to the ceiling's input
            // at the cut in force.
            let ms = if self.params.limiter.enabled {
                let peak = self
                    .memo
                    .peak_pow
                    .get(f64::from(self.params.limiter.ceiling_dbtp) / 10.0, |x| {
                        10f64.powf(x)
                    });
                ms.min(peak / c.max(1e-30))
            } else {
                ms
            };
            let e = self.memo.short_exp.get(-dt / SHORT_TAU_S, f64::exp);
            self.short_ms += (1.0 - e) * (ms - self.short_ms);
            if self.short_ms < 1e-20 {
                self.short_ms = 0.0;
            }
            let f = self.memo.fast_exp.get(-dt / CEILING_FAST_TAU_S, f64::exp);
            self.fast_ms += (1.0 - f) * (ms - self.fast_ms);
            if self.fast_ms < 1e-20 {
                self.fast_ms = 0.0;
            }
            if moved_db != 0.0 {
                // The gains in front moved at this control point (a sharp AGC cut, the
                // compressor's reduction coming off after one): what comes out from now on
                // comes out that much lower or higher, and the levels follow at once (what
                // already came out stays in the momentary window).
                let r = db_to_lin64(moved_db);
                self.short_ms *= r * r;
                self.fast_ms *= r * r;
            }
            // What came out over the step (the ceiling in force over it), K-weighted, into
            // the momentary window.
            let out = ms * c * self.mom_k_lin;
            let n = self.mom_ring.len().max(1);
            // Each step moves one band older: the newest band's first step leaves the recent
            // sum, each band's oldest goes into the next, and the oldest step of the window
            // (overwritten now) leaves it.
            let mut enters = out;
            let mut age = self.mom_steps - self.horizon_steps;
            let q = self.horizon_steps / CEILING_HORIZON_CHECKS;
            let mut sum = &mut self.mom_sum;
            for band in 0..=CEILING_HORIZON_CHECKS {
                let leaves = if band == CEILING_HORIZON_CHECKS {
                    self.mom_ring.get(self.mom_pos).copied().unwrap_or(0.0)
                } else {
                    // The step `age` old once this one is in (`age` < n).
                    self.mom_ring
                        .get((self.mom_pos + n - age % n) % n)
                        .copied()
                        .unwrap_or(0.0)
                };
                *sum += enters - leaves;
                enters = leaves;
                age += q;
                match self.mom_bands.get_mut(band) {
                    Some(b) => sum = b,
                    None => break,
                }
            }
            if let Some(slot) = self.mom_ring.get_mut(self.mom_pos) {
                *slot = out;
            }
            self.mom_pos = (self.mom_pos + 1) % n;
            self.mom_sub_steps += 1;
            if fresh {
                // The meter closed a sub-block: its own K-weighting is known now. The steps
                // of it still in the ring were entered with the programme's; rescale them.
                let r = self.memo.k_sub_pow.get(
                    (self.agc.sub_block_k_correction_lu() - self.mom_k) / 10.0,
                    |x| 10f64.powf(x),
                );
                let steps = self.mom_sub_steps.min(n);
                let mut pre = 0.0;
                for j in 0..steps {
                    if let Some(slot) = self.mom_ring.get_mut((self.mom_pos + n - 1 - j) % n) {
                        *slot *= r;
                        pre += *slot;
                    }
                }
                self.mom_sub_steps = 0;
                self.track_limiter_loss(pre / steps.max(1) as f64);
            }
            if self.mom_pos == 0 || fresh {
                // Re-summed: no drift from the running subtraction.
                self.resum_momentary();
            }
            self.mom_sum = self.mom_sum.max(0.0);
        }
        if fresh {
            self.mom_k = k;
            self.mom_k_lin = self.memo.k_pow.get(k / 10.0, |x| 10f64.powf(x));
        }
        let k_lin = self.mom_k_lin;
        let p = &self.params.agc;
        let max = if p.max_momentary_lu.is_finite() {
            f64::from(p.max_momentary_lu).max(0.0)
        } else {
            8.0
        };
        if fresh {
            // The limiter's loss is an average: where it takes less than that (music after
            // speech), the output would pass the limit. The credit falls at once by twice
            // what the output meter shows over the limit, and grows back toward the loss
            // slowly; it is never more than the loss (none with the limiter off). The dry
            // sound of bypass says nothing of it.
            let limit = self.ceiling_limit + CEILING_PREDICT_MARGIN_LU;
            let over = if self.output_is_processed() {
                self.out_meter.momentary_lufs() - limit
            } else {
                0.0
            };
            let loss = self.limiter_loss_db();
            self.learnt.ceil_credit = if over > 0.0 {
                (self.learnt.ceil_credit - 2.0 * over).max(0.0)
            } else {
                self.learnt.ceil_credit + CEILING_CREDIT_RISE_DB_PER_S * self.agc_reading_s
            }
            .min(loss);
        }
        let lim_loss = self.learnt.ceil_credit;
        // A lowered limit (a lower target, a lower momentary limit) is reached as the AGC's
        // gain moves (its time constant, at most its fall rate); the ceiling glides with it
        // instead of cutting at once — as the momentary loudness follows the gain, a window
        // later (CEILING_GLIDE_LAG_S). What came out before the change is not made up for.
        let wanted = p.target_lufs as f64 + max;
        let fall = f64::from(p.fall_db_per_s).max(0.01);
        self.ceiling_limit = if self.ceiling_limit.is_finite() {
            let v = ((wanted - self.ceiling_limit) / (TAU_GAIN + CEILING_GLIDE_LAG_S)).max(-fall);
            wanted.max(self.ceiling_limit + v * dt)
        } else {
            wanted
        };
        let gliding = self.ceiling_limit > wanted + GLIDE_DONE_LU;
        let want = if p.enabled && self.short_ms > 0.0 {
            let limit = self.ceiling_limit + lim_loss;
            // Under the limit (by more than rounding) the steady cut is 0 without the log.
            let steady_ms = self
                .memo
                .steady_pow
                .get((limit + 0.691 - k) / 10.0, |x| 10f64.powf(x));
            let steady = if surely_under(self.short_ms, steady_ms) {
                0.0
            } else {
                let out = 10.0 * self.short_ms.log10() - 0.691 + k;
                (limit - out).clamp(-60.0, 0.0)
            };
            // The momentary loudness `horizon` ahead if the fast level went on: what came out
            // over the window less the horizon, plus the horizon at the fast level. The
            // ceiling gain that keeps it at the limit catches a sudden loud word or effect
            // within milliseconds, where the short level is still rising.
            let lim_ms = self
                .memo
                .limit_pow
                .get((limit + CEILING_PREDICT_MARGIN_LU + 0.691) / 10.0, |x| {
                    10f64.powf(x)
                });
            let room = lim_ms * self.mom_steps as f64 - self.mom_sum;
            let ahead = self.fast_ms * k_lin * self.horizon_steps as f64;
            // The windows ending before the horizon hold what leaves the window by then: each
            // gets no more per step than its own room (one already over whatever comes is
            // left to the others).
            let h = self.horizon_steps;
            let q = h / CEILING_HORIZON_CHECKS;
            let mut per_step = room / h as f64;
            let mut left = room;
            for (j, band) in self
                .mom_bands
                .iter()
                .enumerate()
                .take(CEILING_HORIZON_CHECKS - 1)
            {
                left -= band;
                let s = h - (j + 1) * q;
                if q > 0 && left > 0.0 && left < per_step * s as f64 {
                    per_step = left / s as f64;
                }
            }
            let room = if room > 0.0 {
                per_step * h as f64
            } else {
                room
            };
            // Within a window of a loud onset, what comes is never held under the target to
            // make up for what already came out: the onset's first step, at the gain of the
            // quiet sound before (the onset gain comes a step later), can fill a low
            // target's limit on its own, and was met with the deepest cut until it left the
            // window — a hole 22 dB under the programme for 0.3 s with a target of −28. While
            // the limit glides down, what comes is not cut under the gliding limit for what
            // came out under the higher one before (another profile's): counted against the
            // new limit, it left music 20–25 dB under where it settled for a quarter of a
            // second after a switch from `speech` to `night`.
            let room = if self.agc.onset_elapsed_s().is_some_and(|t| t < MOMENTARY_S) {
                let floor = self
                    .memo
                    .onset_floor_pow
                    .get(-(max + CEILING_PREDICT_MARGIN_LU) / 10.0, |x| 10f64.powf(x));
                room.max(lim_ms * floor * h as f64)
            } else if gliding {
                room.max(lim_ms * h as f64)
            } else {
                room
            };
            let predicted = if ahead <= 0.0 || room >= ahead {
                0.0
            } else if room <= 0.0 {
                -CEILING_PREDICT_MAX_CUT_DB
            } else {
                (10.0 * (room / ahead).log10()).max(-CEILING_PREDICT_MAX_CUT_DB)
            };
            (steady.min(predicted), predicted < steady)
        } else {
            (0.0, false)
        };
        let (want, net) = want;
        let attack = if net {
            CEILING_PREDICT_ATTACK_S
        } else {
            CEILING_ATTACK_S
        };
        self.ceiling_db = follow_cut(
            self.ceiling_db,
            want,
            net,
            attack,
            dt,
            &mut self.memo.ceiling_exp,
        );
        self.ceiling_judged_db = follow_cut(
            self.ceiling_judged_db,
            want,
            net,
            CEILING_ATTACK_S,
            dt,
            &mut self.memo.judged_exp,
        );
        self.compressor.set_ceiling_db(self.ceiling_db);
    }

    /// Sums the ceiling's momentary ring anew: the newest steps less the horizon, and the
    /// horizon's bands (see `mom_bands`). Real-time safe.
    fn resum_momentary(&mut self) {
        let n = self.mom_ring.len().max(1);
        let recent = self.mom_steps - self.horizon_steps;
        let q = self.horizon_steps / CEILING_HORIZON_CHECKS;
        self.mom_sum = 0.0;
        self.mom_bands = [0.0; CEILING_HORIZON_CHECKS];
        for age in 0..n {
            let v = self
                .mom_ring
                .get((self.mom_pos + n - 1 - age) % n)
                .copied()
                .unwrap_or(0.0);
            let slot = if age < recent {
                &mut self.mom_sum
            } else {
                // As the steps move per step: with bands of no step (a horizon shorter
                // than the checks, none of them made) everything older is in the last.
                let band = match (age - recent).checked_div(q) {
                    Some(b) => b.min(CEILING_HORIZON_CHECKS - 1),
                    None => CEILING_HORIZON_CHECKS - 1,
                };
                match self.mom_bands.get_mut(band) {
                    Some(b) => b,
                    None => continue,
                }
            };
            *slot += v;
        }
    }

    /// Adds a closed sub-block to the limiter's loss: `pre`, the ceiling's estimate of the
    /// K-weighted mean square going into the limiter over it, against the output meter's
    /// sub-block. Only programme counts (as for the makeup), and only with the limiter
    /// running and bypass off.
    fn track_limiter_loss(&mut self, pre: f64) {
        let actual = self.out_meter.sub_block_energy();
        let counts = self.params.limiter.enabled
            && self.output_is_processed()
            && self.agc.total_settled()
            && self.agc.programme_active()
            && self.agc.onset_elapsed_s().is_none()
            && pre > 0.0
            && actual > 0.0;
        if counts {
            let b = self.loss_reading_alpha();
            self.ceil_pre += b * (pre - self.ceil_pre);
            self.ceil_out += b * (actual - self.ceil_out);
        }
    }

    /// Whether the output meter's last closed sub-block holds processed sound only: bypass
    /// has been off at the control points for a sub-block, the crossfade and a part since
    /// (judged on the parameters at control points, not on the crossfade's position: that
    /// moves with the limiter and meters, which run ahead of the control points by up to a
    /// part, so the output would depend on how the input is split into calls).
    fn output_is_processed(&self) -> bool {
        let rate = self.rate as usize;
        let fade = (BYPASS_FADE_S * self.rate as f32) as usize;
        self.since_bypass >= rate / 10 + fade + PART
    }

    /// One-pole coefficient of the limiter-loss averages per meter reading ([`LOSS_TAU_S`]).
    fn loss_reading_alpha(&mut self) -> f64 {
        1.0 - self
            .memo
            .loss_exp
            .get(-self.agc_reading_s / LOSS_TAU_S, f64::exp)
    }

    /// What the limiter takes from the programme's loudness, dB (at most
    /// [`MAX_CEILING_LIMITER_DB`]): the loudness ceiling holds the momentary loudness
    /// before the limiter this much higher, so that what comes out of it is held at the limit.
    /// Real-time safe.
    pub fn limiter_loss_db(&self) -> f64 {
        if self.ceil_pre > 1e-20 && self.ceil_out > 1e-20 && self.params.limiter.enabled {
            (10.0 * (self.ceil_pre / self.ceil_out).log10()).clamp(0.0, MAX_CEILING_LIMITER_DB)
        } else {
            0.0
        }
    }

    /// The measured losses behind the automatic makeup: the compressor's (its curve, over
    /// the programme) and the limiter's (with whatever else the output meter finds missing),
    /// dB. Real-time safe.
    pub fn measured_losses_db(&self) -> (f64, f64) {
        let ratio_db = |i: f64, o: f64| {
            if i > 1e-20 && o > 1e-20 {
                (10.0 * (i / o).log10()).max(0.0)
            } else {
                0.0
            }
        };
        (
            ratio_db(self.learnt.comp_in, self.learnt.comp_out),
            ratio_db(self.lim_in, self.lim_out),
        )
    }

    /// The part of the automatic makeup for the limiter's loss (with a heavy compressor, its
    /// attack and release too), dB, and whether the compressor is heavy: one whose curve
    /// takes more than [`LARGE_MAKEUP_DB`] off a programme's peaks at the target (−60 dBFS
    /// at 20:1).
    fn limiter_makeup_db(&self) -> (f64, bool) {
        let (_, lim) = self.measured_losses_db();
        let peaks = self.params.agc.target_lufs as f64 + TARGET_PEAK_DB;
        let heavy = self.params.compressor.enabled
            && Compressor::static_gain_reduction_db(&self.params.compressor, peaks)
                > LARGE_MAKEUP_DB;
        // Such a compressor's attack and release take several dB beyond its curve (the
        // gain still held down tens of dB after a syllable), measured with the limiter's.
        let cap = if heavy {
            HEAVY_LIMITER_MAKEUP_DB
        } else {
            MAX_LIMITER_MAKEUP_DB
        };
        (lim.min(cap), heavy)
    }

    /// What the compressor's curve takes off the programme's level as it goes into the
    /// compressor (the AGC's estimate of its input plus its gain — while a loud onset is
    /// caught, the onset's own level, [`Agc::level_in_force_lufs`]; with `capped`, at most
    /// the target), dB. The automatic makeup is this (capped) plus what the compressor takes
    /// beyond it (measured against the level not capped) and the limiter's part, so it moves
    /// with the AGC's gain at once: a compressor at −60 dBFS 20:1 takes 40 dB and more, and a
    /// makeup learnt after every change of the gain in front of it would leave the programme
    /// that far down while it is learnt. It is also what is left of the makeup at a loud
    /// onset. Noise the AGC does not lift to the target gets only what the curve takes off
    /// it.
    fn programme_curve_db(&self, capped: bool) -> f64 {
        if self.params.agc.enabled && self.params.compressor.enabled {
            let level = f64::from(self.agc.level_in_force_lufs()) + f64::from(self.agc.gain_db());
            let level = if capped {
                level.min(f64::from(self.params.agc.target_lufs))
            } else {
                level
            };
            Compressor::static_gain_reduction_db(&self.params.compressor, level)
        } else {
            0.0
        }
    }

    /// Sets the compressor's automatic makeup: the curve's reduction at the programme's level
    /// going in ([`Chain::programme_curve_db`], at once), plus what the compressor takes
    /// beyond its curve and (up to [`MAX_LIMITER_MAKEUP_DB`]) what the limiter takes, both
    /// measured on the programme; that measured part falls at once and rises at most
    /// [`MAKEUP_RISE_DB_PER_S`] (faster while re-learning), and while it is learnt it counts
    /// as at least the limiter's part. Also sets the compressor's smallest reduction, so that
    /// the makeup lifts sound under the programme at most [`MAX_MAKEUP_LIFT_DB`] more than
    /// the programme.
    fn update_makeup(&mut self) {
        let (comp, _) = self.measured_losses_db();
        let (lim, _) = self.limiter_makeup_db();
        if !self.params.agc.enabled {
            self.learnt.makeup_extra_db = 0.0;
            self.compressor.set_auto_makeup_db(0.0);
            self.compressor.set_min_reduction_db(0.0);
            return;
        }
        let curve_now = self.programme_curve_db(true);
        let cap = if self.params.compressor.enabled {
            let full = Compressor::static_gain_reduction_db(&self.params.compressor, 0.0);
            (full + lim).clamp(MAX_AUTO_MAKEUP_DB, MAX_AUTO_MAKEUP_CAP_DB)
        } else {
            MAX_AUTO_MAKEUP_DB
        };
        // What the compressor took beyond its curve at the level going in while it was
        // measured (its detector follows peaks, its attack and release), and the limiter's.
        let beyond = if self.learnt.comp_in > 1e-20 && comp > 0.0 {
            comp - self.learnt.comp_curve / self.learnt.comp_in
        } else {
            0.0
        };
        let extra = (beyond + lim).max(0.0);
        // While the makeup is re-learnt after a programme change (or less than a second of
        // programme has been measured since the start or a loud onset), the measured part
        // counts as at least the limiter's.
        let learning = self.relearn_s > 0.0 || self.learnt.comp_learnt_s < RELEARN_S;
        // Down at once (never too loud), up at a limited rate (a quieter programme comes in
        // slightly low for a moment rather than the makeup chasing the compressor).
        let rise = if self.relearn_s > 0.0 {
            RELEARN_MAKEUP_RISE_DB_PER_S
        } else {
            MAKEUP_RISE_DB_PER_S
        };
        let mut part = extra.min(self.learnt.makeup_extra_db + rise * self.agc_reading_s);
        if learning {
            part = part.max(lim);
        }
        self.learnt.makeup_extra_db = part;
        let want = (curve_now + part).clamp(0.0, cap);
        let now = self.compressor.auto_makeup_db();
        if (want - now).abs() >= MAKEUP_STEP_DB {
            self.compressor.set_auto_makeup_db(want);
        }
        // The makeup lifts what lies under the programme at most MAX_MAKEUP_LIFT_DB more than
        // the programme: the compressor takes at least the makeup less that. (The limiter's
        // part is taken back from the programme's peaks by the limiter, never from quieter
        // sound: it counts as lift.)
        let min_gr = if self.params.compressor.enabled {
            self.compressor.auto_makeup_db() - MAX_MAKEUP_LIFT_DB
        } else {
            0.0
        };
        self.compressor.set_min_reduction_db(min_gr);
    }

    /// At every control point: input whose fast level (20 ms) lies more than the relative
    /// gate under the programme estimate, with sound in it (over [`PAUSE_MIN_LUFS`]), is a
    /// pause (room noise between sentences, a breath, the gap between two words), and the
    /// compressor's release stops at the automatic makeup while it lasts
    /// ([`Compressor::set_pause_floor_db`]): the pause keeps the programme's gain. Released
    /// to its curve, the compressor let the makeup lift the noise in every pause by the
    /// reduction the speech asked for (night: room noise 12 LU under a quiet voice came
    /// out 5–6.5 LU under it). Real-time safe.
    fn update_pause_floor(&mut self) {
        let fast = self.agc.fast_lufs();
        let pause = self.params.agc.enabled
            && self.params.compressor.enabled
            && fast > PAUSE_MIN_LUFS
            && fast < f64::from(self.agc.programme_lufs()) - crate::agc::RELATIVE_GATE_LU;
        let floor = if pause {
            self.compressor.auto_makeup_db()
        } else {
            0.0
        };
        self.compressor.set_pause_floor_db(floor);
    }

    /// Runs the dry delay line and the bypass crossfade over `seg`, whose dry input starts at
    /// frame `at` of the sanitised copy.
    fn mix_dry(&mut self, seg: &mut [f32], at: usize) {
        let ch = self.channels;
        let latency = self.dry.len() / ch;
        let target = if self.params.bypass { 1.0 } else { 0.0 };
        let n = seg.len() / ch;
        if self.bypass_mix == 0.0 && target == 0.0 {
            // Not bypassed: only keep the dry line filled, in bulk. Only the last `latency`
            // frames stay in it: earlier ones would be overwritten within this call, so they
            // are skipped (the ring ends in the same state).
            let mut done = 0;
            if n > latency && latency > 0 {
                done = n - latency;
                self.dry_pos = (self.dry_pos + done) % latency;
            }
            while done < n && latency > 0 {
                let room = (latency - self.dry_pos).min(n - done);
                if let (Some(d), Some(x)) = (
                    self.dry
                        .get_mut(self.dry_pos * ch..(self.dry_pos + room) * ch),
                    self.scratch.get((at + done) * ch..(at + done + room) * ch),
                ) {
                    d.copy_from_slice(x);
                }
                done += room;
                self.dry_pos += room;
                if self.dry_pos >= latency {
                    self.dry_pos = 0;
                }
            }
            return;
        }
        for i in 0..n {
            let (Some(out), Some(inp)) = (
                seg.get_mut(i * ch..(i + 1) * ch),
                self.scratch.get((at + i) * ch..(at + i + 1) * ch),
            ) else {
                break;
            };
            if self.bypass_mix != target {
                let d = target - self.bypass_mix;
                self.bypass_mix = if d.abs() <= self.bypass_step {
                    target
                } else {
                    self.bypass_mix + self.bypass_step.copysign(d)
                };
            }
            let mix = self.bypass_mix;
            let base = self.dry_pos * ch;
            if let Some(line) = self.dry.get_mut(base..base + ch) {
                if mix == 0.0 {
                    line.copy_from_slice(inp);
                } else {
                    let keep = 1.0 - mix;
                    for ((o, d), &x) in out.iter_mut().zip(line.iter_mut()).zip(inp) {
                        *o = *o * keep + *d * mix;
                        *d = x;
                    }
                }
            } else {
                // No delay line (zero latency): dry is the input itself.
                let keep = 1.0 - mix;
                for (o, &x) in out.iter_mut().zip(inp) {
                    *o = *o * keep + x * mix;
                }
            }
            self.dry_pos += 1;
            if self.dry_pos >= latency {
                self.dry_pos = 0;
            }
        }
    }

    /// Current meter values. Real-time safe.
    pub fn meters(&self) -> MeterSnapshot {
        MeterSnapshot {
            in_momentary_lufs: self.in_meter.momentary_lufs() as f32,
            in_short_term_lufs: self.in_meter.short_term_lufs() as f32,
            in_integrated_lufs: self.in_meter.integrated_lufs() as f32,
            in_true_peak_dbtp: peak_to_db(f64::from(self.in_block_peak)) as f32,
            out_momentary_lufs: self.out_meter.momentary_lufs() as f32,
            out_short_term_lufs: self.out_meter.short_term_lufs() as f32,
            out_integrated_lufs: self.out_meter.integrated_lufs() as f32,
            out_true_peak_dbtp: peak_to_db(f64::from(self.out_block_peak)) as f32,
            agc_gain_db: self.agc.gain_db(),
            compressor_gr_db: self.compressor.gain_reduction_db(),
            limiter_gr_db: self.limiter.gain_reduction_db(),
            target_lufs: self.params.agc.target_lufs,
            bypass: self.params.bypass,
            frames: self.frames,
        }
    }

    /// Loudness-ceiling gain in force, dB (≤ 0). Real-time safe.
    pub fn ceiling_gain_db(&self) -> f32 {
        self.ceiling_db as f32
    }

    /// Automatic makeup in force: the loudness the compressor and limiter take away from the
    /// programme, made up behind the compressor, dB. Real-time safe.
    pub fn auto_makeup_db(&self) -> f32 {
        self.compressor.auto_makeup_db() as f32
    }

    /// The AGC stage (read access: programme estimate, gain). Real-time safe.
    pub fn agc(&self) -> &Agc {
        &self.agc
    }

    /// The compressor stage (read access). Real-time safe.
    pub fn compressor(&self) -> &Compressor {
        &self.compressor
    }

    /// The limiter stage (read access). Real-time safe.
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// The input meter (full access: loudness range, sample peak, …). Real-time safe.
    pub fn input_meter(&self) -> &LiveMeter {
        &self.in_meter
    }

    /// The output meter. Real-time safe.
    pub fn output_meter(&self) -> &LiveMeter {
        &self.out_meter
    }

    /// Turns the true-peak interpolation of both meters on (the default) or off
    /// ([`LiveMeter::set_true_peak`]): off, [`meters`](Self::meters) reports sample peaks as
    /// the true peaks and the chain costs about a fifth less. The audio is the same either
    /// way: nothing in the levelling reads the meters' true peaks. Real-time safe.
    pub fn set_meter_true_peak(&mut self, on: bool) {
        self.in_meter.set_true_peak(on);
        self.out_meter.set_true_peak(on);
    }
}
