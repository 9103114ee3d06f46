//! ITU-R BS.1770-4 / EBU R128 loudness metering with O(1) live reads.
//!
//! [`LiveMeter`] K-weights every channel (two cascaded biquads per channel, coefficients from
//! the bilinear-transform formulas used by libebur128, so any sample rate works), squares and
//! sums each channel frame by frame, and closes a *sub-block* every 100 ms
//! (`(sample_rate + 5) / 10` frames, the rounding libebur128 uses), where the channel sums are
//! weighted and added. The sums run in the same order however the input is split into
//! `process` calls, so every reading is bit-for-bit independent of the call sizes.
//!
//! ## Design: why the reads are O(1)
//! The energy of each completed sub-block goes into a ring of the last 30 sub-blocks. When a
//! sub-block closes, the sum of the last 4 (momentary, 400 ms) and of the last 30 (short-term,
//! 3 s) ring entries is recomputed from the ring (34 additions per 100 ms, so no drift from
//! running add/subtract). A momentary or short-term read is then one division of a stored
//! sum by the window length and one logarithm — constant time, independent of the window.
//! Between sub-block boundaries a read reflects the last complete sub-block. Before the window
//! is full, the missing sub-blocks count as silence (the window length still divides), which is
//! what libebur128 and the `ebur128` crate report as well.
//!
//! Since the readings change only when a sub-block closes, each of the momentary, short-term
//! and integrated loudness is kept once read, until the next sub-block closes: the daemon
//! reads all three of both the chain's meters every graph cycle (≈ 19 times per sub-block at
//! a 256-frame quantum), and each is now computed once per 100 ms (≈ 0.5 µs per cycle saved
//! after the data thread's sleep, when the histograms' cache lines are cold).
//!
//! Integrated loudness (gated: absolute −70 LUFS, relative −10 LU) is kept in a histogram of
//! 400 ms block energies with 0.01 LU bins covering −70…+5 LUFS (louder blocks go into the top
//! bin). Each bin holds the *exact* count and energy sum of its blocks, stored in Fenwick
//! (binary indexed) trees, so a read costs two O(log bins) suffix sums and the result differs
//! from exact block-by-block gating only for blocks within 0.01 LU of the relative gate.
//! Loudness range (EBU Tech 3342) uses a short-term value every 100 ms (≥ 10 Hz as the
//! specification asks) in a histogram of the same shape: absolute gate −70 LUFS, relative gate
//! −20 LU below the energy mean, then the 10th and 95th percentiles (O(log bins) each).
//!
//! ## Channel weights
//! Channels are weighted by [`channel_weight`], one rule by channel count that the offline
//! analysis ([`crate::analysis`]) uses too: front channels (L, R, C) 1.0, surround channels
//! 1.41 (+1.5 dB), LFE 0 (excluded). The layouts are the default WAV / ffmpeg layouts of each
//! count, and the weights are those ffmpeg's `ebur128` filter gives them:
//!
//! | channels | layout                      | weights                         |
//! |----------|-----------------------------|---------------------------------|
//! | 1        | mono                        | 1                               |
//! | 2        | L R                         | 1 1                             |
//! | 3        | L R C                       | 1 1 1                           |
//! | 4        | quad: L R Ls Rs             | 1 1 1.41 1.41                   |
//! | 5        | 5.0: L R C Ls Rs            | 1 1 1 1.41 1.41                 |
//! | 6        | 5.1: L R C LFE Ls Rs        | 1 1 1 0 1.41 1.41               |
//! | 7        | 6.1: L R C LFE Bc Ls Rs     | 1 1 1 0 1.41 1.41 1.41          |
//! | 8        | 7.1: L R C LFE Lb Rb Ls Rs  | 1 1 1 0 1.41 1.41 1.41 1.41     |
//! | 9 and up | no standard layout          | the 7.1 weights, then 1         |
//!
//! Three channels are taken as L R C (as libebur128 does); ffmpeg guesses 2.1 (L R LFE) for
//! a three-channel file without a channel mask and then leaves channel 2 out.
//!
//! ## Input
//! Samples are sanitised as in [`crate::truepeak`]: NaN and ±∞ count as 0, magnitudes below
//! 1e−20 as 0 (no denormals), magnitudes above 1e12 are clamped. Filter states are flushed to
//! zero when they fall below 1e−30, at every sub-block boundary and at the end of each
//! `process` call.
//!
//! # Why one file
//! The live meter's K-weighting, sub-block energies, momentary/short-term rings, gated
//! integrated histogram, loudness range and true-peak hand-off share one per-sample loop and
//! one sub-block clock; that loop is the meter's cost, and keeping it with the state it feeds
//! is what keeps it allocation-free and fast. The Tech 3341/3342 conformance tests are at the
//! end of the file.

use std::cell::Cell;

use crate::truepeak::{sanitize, BlockInterpolator, METER_MAX_INPUT, TAPS};
use crate::LUFS_FLOOR;

/// Peak value (dBFS / dBTP) reported for digital silence: −144 dB (the floor of 24-bit audio
/// with margin). Peak readings never go below it, so they stay finite.
pub const PEAK_FLOOR_DB: f64 = -144.0;

/// Loudness offset of BS.1770: `L = −0.691 + 10·log10(energy)`.
const LUFS_OFFSET: f64 = -0.691;

/// Histogram resolution in LU.
const BIN_LU: f64 = 0.01;
/// Lowest loudness held by the histograms (the absolute gate).
const HIST_MIN_LUFS: f64 = crate::LUFS_FLOOR;
/// Number of bins: −70…+5 LUFS at 0.01 LU.
const NBINS: usize = 7500;

/// BS.1770 weight of surround channels (+1.5 dB).
pub const SURROUND_WEIGHT: f64 = 1.41;

/// BS.1770 weight of channel `index` of interleaved audio with `channels` channels in the
/// default layout of that count: 1.0 for front channels, [`SURROUND_WEIGHT`] for surround
/// channels, 0 for LFE. See the [module documentation](self#channel-weights) for the table.
/// Channels past `channels` (and any channel of a 0-channel layout) weigh 0.
pub fn channel_weight(channels: usize, index: usize) -> f64 {
    const S: f64 = SURROUND_WEIGHT;
    const LAYOUTS: [&[f64]; 8] = [
        &[1.0],
        &[1.0, 1.0],
        &[1.0, 1.0, 1.0],
        &[1.0, 1.0, S, S],
        &[1.0, 1.0, 1.0, S, S],
        &[1.0, 1.0, 1.0, 0.0, S, S],
        &[1.0, 1.0, 1.0, 0.0, S, S, S],
        &[1.0, 1.0, 1.0, 0.0, S, S, S, S],
    ];
    if index >= channels {
        return 0.0;
    }
    let layout = LAYOUTS[channels.min(LAYOUTS.len()) - 1];
    layout.get(index).copied().unwrap_or(1.0)
}

/// Converts a mean-square energy (K-weighted, channel-weighted) to LUFS:
/// `−0.691 + 10·log10(e)`. Returns −∞ for `e ≤ 0` and for NaN.
#[inline]
pub fn energy_to_lufs(e: f64) -> f64 {
    if e > 0.0 {
        LUFS_OFFSET + 10.0 * e.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// Converts LUFS to a mean-square energy, the inverse of [`energy_to_lufs`]:
/// `10^((l + 0.691) / 10)`.
#[inline]
pub fn lufs_to_energy(l: f64) -> f64 {
    10f64.powf((l - LUFS_OFFSET) / 10.0)
}

/// Converts a linear peak to dB, never below [`PEAK_FLOOR_DB`].
#[inline]
pub(crate) fn peak_to_db(p: f64) -> f64 {
    if p > 0.0 {
        (20.0 * p.log10()).max(PEAK_FLOOR_DB)
    } else {
        PEAK_FLOOR_DB
    }
}

/// Clamps a loudness to [`LUFS_FLOOR`] (also mapping −∞/NaN to it).
#[inline]
fn floor_lufs(l: f64) -> f64 {
    if l > LUFS_FLOOR {
        l
    } else {
        LUFS_FLOOR
    }
}

/// One biquad section, `a0` normalised to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Biquad {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
}

/// K-weighting as two biquads (high-shelf "pre-filter", then the RLB high-pass), with the
/// coefficient formulas of libebur128 evaluated at `rate`.
fn k_weighting(rate: f64) -> [Biquad; 2] {
    let f0 = 1_681.974_450_955_533;
    let g = 3.999_843_853_973_347;
    let q = 0.707_175_236_955_419_6;
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b0: (vh + vb * k / q + k * k) / a0,
        b1: 2.0 * (k * k - vh) / a0,
        b2: (vh - vb * k / q + k * k) / a0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    let f0 = 38.135_470_876_024_44;
    let q = 0.500_327_037_323_877_3;
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let highpass = Biquad {
        b0: 1.0,
        b1: -2.0,
        b2: 1.0,
        a1: 2.0 * (k * k - 1.0) / a0,
        a2: (1.0 - k / q + k * k) / a0,
    };
    [shelf, highpass]
}

/// Per-channel K-weighting state (direct form I, two sections sharing the middle history):
/// `[x1, x2, y1, y2, z1, z2]` — inputs, shelf outputs and high-pass outputs of the last two
/// samples. Direct form I keeps the recursive dependency to one multiply and one subtract
/// per section, which is what bounds the speed of this serial loop.
#[derive(Debug, Clone, Copy, Default)]
struct KState {
    z: [f64; 6],
}

impl KState {
    /// One sample through both sections. The high-pass numerator is `[1, −2, 1]` (see
    /// [`k_weighting`]), so `y − 2·y1 + y2` is exactly what multiplying by it gives.
    #[inline(always)]
    fn run(&mut self, f: &[Biquad; 2], x: f64) -> f64 {
        let [s, h] = f;
        let [x1, x2, y1, y2, z1, z2] = self.z;
        let y = (s.b0 * x + s.b1 * x1 + s.b2 * x2 - s.a2 * y2) - s.a1 * y1;
        let z = (y - 2.0 * y1 + y2 - h.a2 * z2) - h.a1 * z1;
        self.z = [x, x1, y, y1, z, z1];
        z
    }

    /// Two channels in lock-step (the same operations as [`run`](Self::run) per channel, in
    /// one SSE2 register per state pair on x86-64); returns `sums` plus the squares of the
    /// outputs.
    #[inline(always)]
    fn run_pair(
        a: &mut Self,
        b: &mut Self,
        f: &[Biquad; 2],
        xa: &[f32],
        xb: &[f32],
        sums: [f64; 2],
    ) -> [f64; 2] {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU has it.
            unsafe { Self::run_pair_sse2(a, b, f, xa, xb, sums) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self::run_pair_portable(a, b, f, xa, xb, sums)
        }
    }

    /// [`run_pair`](Self::run_pair) with SSE2 (part of every x86-64 CPU): the same operations
    /// in the same order per lane, so the same results bit for bit.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    #[inline]
    fn run_pair_sse2(
        a: &mut Self,
        b: &mut Self,
        f: &[Biquad; 2],
        xa: &[f32],
        xb: &[f32],
        sums: [f64; 2],
    ) -> [f64; 2] {
        use std::arch::x86_64::*;
        let [s, h] = f;
        let lane = |i: usize| _mm_set_pd(b.z[i], a.z[i]);
        let (mut x1, mut x2, mut y1, mut y2, mut z1, mut z2) =
            (lane(0), lane(1), lane(2), lane(3), lane(4), lane(5));
        let [sb0, sb1, sb2, sa1, sa2] = [s.b0, s.b1, s.b2, s.a1, s.a2].map(|c| _mm_set1_pd(c));
        let [ha1, ha2, two] = [h.a1, h.a2, 2.0].map(|c| _mm_set1_pd(c));
        let mut e = _mm_set_pd(sums[1], sums[0]);
        for (&va, &vb) in xa.iter().zip(xb) {
            let x = _mm_set_pd(vb as f64, va as f64);
            let y = _mm_sub_pd(
                _mm_sub_pd(
                    _mm_add_pd(
                        _mm_add_pd(_mm_mul_pd(sb0, x), _mm_mul_pd(sb1, x1)),
                        _mm_mul_pd(sb2, x2),
                    ),
                    _mm_mul_pd(sa2, y2),
                ),
                _mm_mul_pd(sa1, y1),
            );
            let z = _mm_sub_pd(
                _mm_sub_pd(
                    _mm_add_pd(_mm_sub_pd(y, _mm_mul_pd(two, y1)), y2),
                    _mm_mul_pd(ha2, z2),
                ),
                _mm_mul_pd(ha1, z1),
            );
            e = _mm_add_pd(e, _mm_mul_pd(z, z));
            (x2, x1) = (x1, x);
            (y2, y1) = (y1, y);
            (z2, z1) = (z1, z);
        }
        let lo = |v: __m128d| _mm_cvtsd_f64(v);
        let hi = |v: __m128d| _mm_cvtsd_f64(_mm_unpackhi_pd(v, v));
        a.z = [lo(x1), lo(x2), lo(y1), lo(y2), lo(z1), lo(z2)];
        b.z = [hi(x1), hi(x2), hi(y1), hi(y2), hi(z1), hi(z2)];
        [lo(e), hi(e)]
    }

    /// [`run_pair`](Self::run_pair) in portable code.
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    #[inline(always)]
    fn run_pair_portable(
        a: &mut Self,
        b: &mut Self,
        f: &[Biquad; 2],
        xa: &[f32],
        xb: &[f32],
        sums: [f64; 2],
    ) -> [f64; 2] {
        let [s, h] = f;
        let [ax1, ax2, ay1, ay2, az1, az2] = a.z;
        let [bx1, bx2, by1, by2, bz1, bz2] = b.z;
        let (mut x1, mut x2) = ([ax1, bx1], [ax2, bx2]);
        let (mut y1, mut y2) = ([ay1, by1], [ay2, by2]);
        let (mut z1, mut z2) = ([az1, bz1], [az2, bz2]);
        let mut e = sums;
        for (&va, &vb) in xa.iter().zip(xb) {
            let x = [va as f64, vb as f64];
            let mut y = [0.0f64; 2];
            let mut z = [0.0f64; 2];
            for l in 0..2 {
                y[l] = (s.b0 * x[l] + s.b1 * x1[l] + s.b2 * x2[l] - s.a2 * y2[l]) - s.a1 * y1[l];
            }
            for l in 0..2 {
                z[l] = (y[l] - 2.0 * y1[l] + y2[l] - h.a2 * z2[l]) - h.a1 * z1[l];
            }
            for l in 0..2 {
                e[l] += z[l] * z[l];
            }
            (x2, x1) = (x1, x);
            (y2, y1) = (y1, y);
            (z2, z1) = (z1, z);
        }
        a.z = [x1[0], x2[0], y1[0], y2[0], z1[0], z2[0]];
        b.z = [x1[1], x2[1], y1[1], y2[1], z1[1], z2[1]];
        e
    }

    #[inline]
    fn flush_denormals(&mut self) {
        for z in &mut self.z {
            if z.abs() < 1e-30 {
                *z = 0.0;
            }
        }
    }
}

/// Four channels in lock-step: the same operations as [`KState::run`] per channel, lane-wise;
/// returns `sums` plus the squares of the outputs.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
#[inline(always)]
fn run_quad(st: &mut [KState; 4], f: &[Biquad; 2], xs: [&[f32]; 4], sums: [f64; 4]) -> [f64; 4] {
    let [s, h] = f;
    let mut x1 = [0.0f64; 4];
    let mut x2 = [0.0f64; 4];
    let mut y1 = [0.0f64; 4];
    let mut y2 = [0.0f64; 4];
    let mut z1 = [0.0f64; 4];
    let mut z2 = [0.0f64; 4];
    for (l, k) in st.iter().enumerate() {
        [x1[l], x2[l], y1[l], y2[l], z1[l], z2[l]] = k.z;
    }
    let mut e = sums;
    let [xa, xb, xc, xd] = xs;
    for (((&va, &vb), &vc), &vd) in xa.iter().zip(xb).zip(xc).zip(xd) {
        let x = [va as f64, vb as f64, vc as f64, vd as f64];
        let mut y = [0.0f64; 4];
        let mut z = [0.0f64; 4];
        for l in 0..4 {
            y[l] = (s.b0 * x[l] + s.b1 * x1[l] + s.b2 * x2[l] - s.a2 * y2[l]) - s.a1 * y1[l];
        }
        for l in 0..4 {
            z[l] = (y[l] - 2.0 * y1[l] + y2[l] - h.a2 * z2[l]) - h.a1 * z1[l];
        }
        for l in 0..4 {
            e[l] += z[l] * z[l];
        }
        (x2, x1) = (x1, x);
        (y2, y1) = (y1, y);
        (z2, z1) = (z1, z);
    }
    for (l, k) in st.iter_mut().enumerate() {
        k.z = [x1[l], x2[l], y1[l], y2[l], z1[l], z2[l]];
    }
    e
}

/// [`run_quad`] compiled for AVX (one register per state vector) when `wide`.
#[inline]
fn run_quad_dispatch(
    st: &mut [KState; 4],
    f: &[Biquad; 2],
    xs: [&[f32]; 4],
    sums: [f64; 4],
    wide: bool,
) -> [f64; 4] {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` is only true when `is_x86_feature_detected!("avx")` returned true
        // in `LiveMeter::new`, so the CPU supports the instructions this function uses.
        return unsafe { run_quad_avx(st, f, xs, sums) };
    }
    let _ = wide;
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU has it.
        unsafe { run_quad_sse2(st, f, xs, sums) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    run_quad(st, f, xs, sums)
}

/// [`run_quad`] with SSE2 (part of every x86-64 CPU), two registers per state vector (lanes
/// 0–1 and 2–3): the same operations in the same order per lane, so the same results bit for
/// bit. (The generic form compiles to mostly scalar code.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn run_quad_sse2(
    st: &mut [KState; 4],
    f: &[Biquad; 2],
    xs: [&[f32]; 4],
    sums: [f64; 4],
) -> [f64; 4] {
    use std::arch::x86_64::*;
    let [s, h] = f;
    let lane = |i: usize, p: usize| _mm_set_pd(st[2 * p + 1].z[i], st[2 * p].z[i]);
    let mut z = [[_mm_setzero_pd(); 6]; 2];
    for (p, zp) in z.iter_mut().enumerate() {
        for (i, v) in zp.iter_mut().enumerate() {
            *v = lane(i, p);
        }
    }
    let [[mut x1a, mut x2a, mut y1a, mut y2a, mut z1a, mut z2a], [mut x1b, mut x2b, mut y1b, mut y2b, mut z1b, mut z2b]] =
        z;
    let [sb0, sb1, sb2, sa1, sa2] = [s.b0, s.b1, s.b2, s.a1, s.a2].map(|c| _mm_set1_pd(c));
    let [ha1, ha2, two] = [h.a1, h.a2, 2.0].map(|c| _mm_set1_pd(c));
    let mut ea = _mm_set_pd(sums[1], sums[0]);
    let mut eb = _mm_set_pd(sums[3], sums[2]);
    let [xa, xb, xc, xd] = xs;
    // One section pair of one register: (y, z) from x and the history.
    let step = |x: __m128d,
                x1: __m128d,
                x2: __m128d,
                y1: __m128d,
                y2: __m128d,
                z1: __m128d,
                z2: __m128d| {
        let y = _mm_sub_pd(
            _mm_sub_pd(
                _mm_add_pd(
                    _mm_add_pd(_mm_mul_pd(sb0, x), _mm_mul_pd(sb1, x1)),
                    _mm_mul_pd(sb2, x2),
                ),
                _mm_mul_pd(sa2, y2),
            ),
            _mm_mul_pd(sa1, y1),
        );
        let z = _mm_sub_pd(
            _mm_sub_pd(
                _mm_add_pd(_mm_sub_pd(y, _mm_mul_pd(two, y1)), y2),
                _mm_mul_pd(ha2, z2),
            ),
            _mm_mul_pd(ha1, z1),
        );
        (y, z)
    };
    for (((&va, &vb), &vc), &vd) in xa.iter().zip(xb).zip(xc).zip(xd) {
        let xa4 = _mm_set_pd(vb as f64, va as f64);
        let xb4 = _mm_set_pd(vd as f64, vc as f64);
        let (ya, za) = step(xa4, x1a, x2a, y1a, y2a, z1a, z2a);
        let (yb, zb) = step(xb4, x1b, x2b, y1b, y2b, z1b, z2b);
        ea = _mm_add_pd(ea, _mm_mul_pd(za, za));
        eb = _mm_add_pd(eb, _mm_mul_pd(zb, zb));
        (x2a, x1a, y2a, y1a, z2a, z1a) = (x1a, xa4, y1a, ya, z1a, za);
        (x2b, x1b, y2b, y1b, z2b, z1b) = (x1b, xb4, y1b, yb, z1b, zb);
    }
    let lo = |v: __m128d| _mm_cvtsd_f64(v);
    let hi = |v: __m128d| _mm_cvtsd_f64(_mm_unpackhi_pd(v, v));
    let regs = [
        [x1a, x2a, y1a, y2a, z1a, z2a],
        [x1b, x2b, y1b, y2b, z1b, z2b],
    ];
    for (p, r) in regs.iter().enumerate() {
        if let Some([k0, k1]) = st.get_mut(2 * p..2 * p + 2) {
            k0.z = r.map(lo);
            k1.z = r.map(hi);
        }
    }
    [lo(ea), hi(ea), lo(eb), hi(eb)]
}

/// [`run_quad`] with one AVX register per state vector: the same operations in the same order
/// per lane (no fused multiply-add), so the same results bit for bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn run_quad_avx(
    st: &mut [KState; 4],
    f: &[Biquad; 2],
    xs: [&[f32]; 4],
    sums: [f64; 4],
) -> [f64; 4] {
    use std::arch::x86_64::*;
    let [s, h] = f;
    let lane = |i: usize| -> __m256d {
        let [a, b, c, d] = [st[0].z[i], st[1].z[i], st[2].z[i], st[3].z[i]];
        _mm256_set_pd(d, c, b, a)
    };
    let (mut x1, mut x2, mut y1, mut y2, mut z1, mut z2) =
        (lane(0), lane(1), lane(2), lane(3), lane(4), lane(5));
    let [sb0, sb1, sb2, sa1, sa2] = [s.b0, s.b1, s.b2, s.a1, s.a2].map(|c| _mm256_set1_pd(c));
    let [ha1, ha2, two] = [h.a1, h.a2, 2.0].map(|c| _mm256_set1_pd(c));
    let mut e = _mm256_set_pd(sums[3], sums[2], sums[1], sums[0]);
    let [xa, xb, xc, xd] = xs;
    for (((&va, &vb), &vc), &vd) in xa.iter().zip(xb).zip(xc).zip(xd) {
        let x = _mm256_cvtps_pd(_mm_set_ps(vd, vc, vb, va));
        // y = (b0·x + b1·x1 + b2·x2 − a2·y2) − a1·y1
        let y = _mm256_sub_pd(
            _mm256_sub_pd(
                _mm256_add_pd(
                    _mm256_add_pd(_mm256_mul_pd(sb0, x), _mm256_mul_pd(sb1, x1)),
                    _mm256_mul_pd(sb2, x2),
                ),
                _mm256_mul_pd(sa2, y2),
            ),
            _mm256_mul_pd(sa1, y1),
        );
        // z = (y − 2·y1 + y2 − a2·z2) − a1·z1
        let z = _mm256_sub_pd(
            _mm256_sub_pd(
                _mm256_add_pd(_mm256_sub_pd(y, _mm256_mul_pd(two, y1)), y2),
                _mm256_mul_pd(ha2, z2),
            ),
            _mm256_mul_pd(ha1, z1),
        );
        e = _mm256_add_pd(e, _mm256_mul_pd(z, z));
        (x2, x1) = (x1, x);
        (y2, y1) = (y1, y);
        (z2, z1) = (z1, z);
    }
    let mut v = [[0.0f64; 4]; 7];
    for (dst, src) in v.iter_mut().zip([x1, x2, y1, y2, z1, z2, e]) {
        let [a, b, c, d] = dst;
        let lo = _mm256_castpd256_pd128(src);
        let hi = _mm256_extractf128_pd::<1>(src);
        *a = _mm_cvtsd_f64(lo);
        *b = _mm_cvtsd_f64(_mm_unpackhi_pd(lo, lo));
        *c = _mm_cvtsd_f64(hi);
        *d = _mm_cvtsd_f64(_mm_unpackhi_pd(hi, hi));
    }
    for (l, k) in st.iter_mut().enumerate() {
        k.z = [v[0][l], v[1][l], v[2][l], v[3][l], v[4][l], v[5][l]];
    }
    v[6]
}

/// De-interleaves and sanitises the stereo frames `x` into `da` and `db` (the same length,
/// half of `x`'s); returns each channel's sample peak. Written in fixed-size arrays of eight
/// frames so that it vectorises: the form for other CPUs and for the last frames of the
/// register forms that [`load_stereo_dispatch`] runs on x86-64 (the same values bit for bit).
#[inline(always)]
fn load_stereo(da: &mut [f32], db: &mut [f32], x: &[f32]) -> (f32, f32) {
    let mut ma = 0.0f32;
    let mut mb = 0.0f32;
    // Eight frames at a time in fixed-size arrays (vectorises), then the rest.
    let mut m = [0.0f32; 16];
    let mut src = x.chunks_exact(16);
    let mut dst_a = da.chunks_exact_mut(8);
    let mut dst_b = db.chunks_exact_mut(8);
    for ((f, oa), ob) in src.by_ref().zip(dst_a.by_ref()).zip(dst_b.by_ref()) {
        let (Ok(f), Ok(oa), Ok(ob)) = (
            <&[f32; 16]>::try_from(f),
            <&mut [f32; 8]>::try_from(oa),
            <&mut [f32; 8]>::try_from(ob),
        ) else {
            continue;
        };
        let mut v = [0.0f32; 16];
        for k in 0..16 {
            v[k] = sanitize(f[k]);
            let a = v[k].abs();
            m[k] = if a > m[k] { a } else { m[k] };
        }
        for k in 0..8 {
            oa[k] = v[2 * k];
            ob[k] = v[2 * k + 1];
        }
    }
    for k in 0..8 {
        ma = if m[2 * k] > ma { m[2 * k] } else { ma };
        mb = if m[2 * k + 1] > mb { m[2 * k + 1] } else { mb };
    }
    let rest = src.remainder().chunks_exact(2).zip(
        dst_a
            .into_remainder()
            .iter_mut()
            .zip(dst_b.into_remainder()),
    );
    for (f, (pa, pb)) in rest {
        if let [l, r] = *f {
            let (l, r) = (sanitize(l), sanitize(r));
            let (al, ar) = (l.abs(), r.abs());
            ma = if al > ma { al } else { ma };
            mb = if ar > mb { ar } else { mb };
            *pa = l;
            *pb = r;
        }
    }
    (ma, mb)
}

/// [`load_stereo`] with AVX registers: eight frames per step, sanitised (the same selects as
/// [`sanitize`], lane by lane) and split into the two channels with in-register shuffles, so
/// the same values bit for bit. (Compiled from the lane arrays, the split went through the
/// stack and reloaded halves of two stores, which the CPU cannot forward: a stall on every
/// eight frames.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn load_stereo_avx(da: &mut [f32], db: &mut [f32], x: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    let n = da.len().min(db.len()).min(x.len() / 2);
    let body = n / 8 * 8;
    let abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let sign = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MIN));
    let lim = _mm256_set1_ps(METER_MAX_INPUT);
    let tiny = _mm256_set1_ps(1e-20);
    let inf = _mm256_set1_ps(f32::INFINITY);
    // `sanitize`: 1e−20 ≤ |v| < ∞ keeps `v` (clamped to ±limit), anything else (NaN too,
    // which fails every comparison) is 0.
    let san = |v: __m256| -> __m256 {
        let a = _mm256_and_ps(v, abs);
        let over = _mm256_cmp_ps::<_CMP_GT_OQ>(a, lim);
        let clamped = _mm256_blendv_ps(v, _mm256_or_ps(lim, _mm256_and_ps(v, sign)), over);
        let keep = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GE_OQ>(a, tiny),
            _mm256_cmp_ps::<_CMP_LT_OQ>(a, inf),
        );
        _mm256_and_ps(keep, clamped)
    };
    let (mut ma, mut mb) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i < body {
        // SAFETY: i + 8 ≤ n, so the loads read x[2i .. 2i + 16] ⊂ x (2n ≤ x.len()) and the
        // stores write da[i .. i + 8] and db[i .. i + 8] (n ≤ both lengths).
        let (a, b) = unsafe {
            let p = x.as_ptr().add(2 * i);
            let y0 = san(_mm256_loadu_ps(p));
            let y1 = san(_mm256_loadu_ps(p.add(8)));
            // [l0 r0 l1 r1 l4 r4 l5 r5] and [l2 r2 l3 r3 l6 r6 l7 r7] (frames 0–3 | 4–7 in
            // the two halves), then even and odd elements of each half.
            let lo = _mm256_permute2f128_ps::<0x20>(y0, y1);
            let hi = _mm256_permute2f128_ps::<0x31>(y0, y1);
            let a = _mm256_shuffle_ps::<0x88>(lo, hi);
            let b = _mm256_shuffle_ps::<0xDD>(lo, hi);
            _mm256_storeu_ps(da.as_mut_ptr().add(i), a);
            _mm256_storeu_ps(db.as_mut_ptr().add(i), b);
            (a, b)
        };
        // `if |v| > m { |v| } else { m }`, which is what `maxps(|v|, m)` computes.
        ma = _mm256_max_ps(_mm256_and_ps(a, abs), ma);
        mb = _mm256_max_ps(_mm256_and_ps(b, abs), mb);
        i += 8;
    }
    let (mut la, mut lb) = ([0.0f32; 8], [0.0f32; 8]);
    // SAFETY: each store writes the 8 `f32` of a local array.
    unsafe {
        _mm256_storeu_ps(la.as_mut_ptr(), ma);
        _mm256_storeu_ps(lb.as_mut_ptr(), mb);
    }
    load_stereo_rest(da, db, x, body, n, (&la, &lb))
}

/// [`load_stereo`] with SSE2 registers (part of every x86-64 CPU): four frames per step, the
/// same operations as [`load_stereo_avx`] on half the width, so the same values bit for bit.
#[cfg(target_arch = "x86_64")]
fn load_stereo_sse2(da: &mut [f32], db: &mut [f32], x: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    let n = da.len().min(db.len()).min(x.len() / 2);
    let body = n / 4 * 4;
    // SAFETY: SSE2 is part of the x86-64 baseline, so every intrinsic here is available.
    // i + 4 ≤ n in the loop, so its loads read x[2i .. 2i + 8] ⊂ x (2n ≤ x.len()) and its
    // stores write da[i .. i + 4] and db[i .. i + 4] (n ≤ both lengths); the last stores
    // write the 4 `f32` of local arrays.
    let (la, lb) = unsafe {
        let abs = _mm_castsi128_ps(_mm_set1_epi32(0x7fff_ffff));
        let sign = _mm_castsi128_ps(_mm_set1_epi32(i32::MIN));
        let lim = _mm_set1_ps(METER_MAX_INPUT);
        let tiny = _mm_set1_ps(1e-20);
        let inf = _mm_set1_ps(f32::INFINITY);
        let san = |v: __m128| -> __m128 {
            let a = _mm_and_ps(v, abs);
            let over = _mm_cmpgt_ps(a, lim);
            let signed = _mm_or_ps(lim, _mm_and_ps(v, sign));
            let clamped = _mm_or_ps(_mm_and_ps(over, signed), _mm_andnot_ps(over, v));
            let keep = _mm_and_ps(_mm_cmpge_ps(a, tiny), _mm_cmplt_ps(a, inf));
            _mm_and_ps(keep, clamped)
        };
        let (mut ma, mut mb) = (_mm_setzero_ps(), _mm_setzero_ps());
        let mut i = 0;
        while i < body {
            let p = x.as_ptr().add(2 * i);
            let q0 = san(_mm_loadu_ps(p));
            let q1 = san(_mm_loadu_ps(p.add(4)));
            let a = _mm_shuffle_ps::<0x88>(q0, q1);
            let b = _mm_shuffle_ps::<0xDD>(q0, q1);
            _mm_storeu_ps(da.as_mut_ptr().add(i), a);
            _mm_storeu_ps(db.as_mut_ptr().add(i), b);
            ma = _mm_max_ps(_mm_and_ps(a, abs), ma);
            mb = _mm_max_ps(_mm_and_ps(b, abs), mb);
            i += 4;
        }
        let (mut la, mut lb) = ([0.0f32; 4], [0.0f32; 4]);
        _mm_storeu_ps(la.as_mut_ptr(), ma);
        _mm_storeu_ps(lb.as_mut_ptr(), mb);
        (la, lb)
    };
    load_stereo_rest(da, db, x, body, n, (&la, &lb))
}

/// The end of [`load_stereo_avx`] and [`load_stereo_sse2`]: frames `body..n` (fewer than
/// one register's worth) through the lane arrays, and the two channels' peaks from the
/// registers' lanes (`lanes`) and those frames.
#[cfg(target_arch = "x86_64")]
fn load_stereo_rest(
    da: &mut [f32],
    db: &mut [f32],
    x: &[f32],
    body: usize,
    n: usize,
    lanes: (&[f32], &[f32]),
) -> (f32, f32) {
    let top = |l: &[f32]| l.iter().fold(0.0f32, |m, &v| if v > m { v } else { m });
    let (pa, pb) = match (
        da.get_mut(body..n),
        db.get_mut(body..n),
        x.get(2 * body..2 * n),
    ) {
        (Some(ra), Some(rb), Some(rx)) => load_stereo(ra, rb, rx),
        _ => (0.0, 0.0),
    };
    (top(lanes.0).max(pa), top(lanes.1).max(pb))
}

/// [`load_stereo`] in registers: with AVX when `wide`, else with SSE2 (on x86-64; the lane
/// arrays elsewhere). The same values and peaks on every path.
#[inline]
pub(crate) fn load_stereo_dispatch(
    da: &mut [f32],
    db: &mut [f32],
    x: &[f32],
    wide: bool,
) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        if wide {
            // SAFETY: `wide` is only true when `is_x86_feature_detected!("avx")` returned
            // true (`crate::util::detect_avx`), so the CPU supports the instructions this
            // function uses.
            return unsafe { load_stereo_avx(da, db, x) };
        }
        load_stereo_sse2(da, db, x)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = wide;
        load_stereo(da, db, x)
    }
}

/// Fenwick tree over `NBINS` bins holding a count and an energy sum per bin.
#[derive(Debug, Clone)]
struct Histogram {
    count: Vec<f64>,
    energy: Vec<f64>,
    total_count: f64,
    total_energy: f64,
}

impl Histogram {
    fn new() -> Self {
        Self {
            count: vec![0.0; NBINS + 1],
            energy: vec![0.0; NBINS + 1],
            total_count: 0.0,
            total_energy: 0.0,
        }
    }

    /// A histogram with no bins (for a loudness-only meter): adds only count the totals.
    fn disabled() -> Self {
        Self {
            count: Vec::new(),
            energy: Vec::new(),
            total_count: 0.0,
            total_energy: 0.0,
        }
    }

    fn clear(&mut self) {
        self.count.fill(0.0);
        self.energy.fill(0.0);
        self.total_count = 0.0;
        self.total_energy = 0.0;
    }

    /// Bin of an energy at or above the absolute gate.
    #[inline]
    fn bin_of(e: f64) -> usize {
        let idx = ((energy_to_lufs(e) - HIST_MIN_LUFS) / BIN_LU).floor();
        if idx >= 0.0 {
            (idx as usize).min(NBINS - 1)
        } else {
            0
        }
    }

    fn add(&mut self, e: f64) {
        let mut i = Self::bin_of(e) + 1;
        while i <= NBINS {
            if let (Some(c), Some(s)) = (self.count.get_mut(i), self.energy.get_mut(i)) {
                *c += 1.0;
                *s += e;
            }
            i += i & i.wrapping_neg();
        }
        self.total_count += 1.0;
        self.total_energy += e;
    }

    /// Count and energy of bins `0..n`.
    fn prefix(&self, n: usize) -> (f64, f64) {
        let mut i = n.min(NBINS);
        let (mut c, mut s) = (0.0, 0.0);
        while i > 0 {
            c += self.count.get(i).copied().unwrap_or(0.0);
            s += self.energy.get(i).copied().unwrap_or(0.0);
            i -= i & i.wrapping_neg();
        }
        (c, s)
    }

    /// Count and energy of bins `from..NBINS`.
    fn suffix(&self, from: usize) -> (f64, f64) {
        let (c, s) = self.prefix(from);
        (
            (self.total_count - c).max(0.0),
            (self.total_energy - s).max(0.0),
        )
    }

    /// Smallest bin `b` such that the count of bins `0..=b` exceeds `rank` (0-based rank of a
    /// value in sorted order).
    fn bin_of_rank(&self, rank: f64) -> usize {
        let mut pos = 0usize;
        let mut rem = rank;
        let mut step = NBINS.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= NBINS {
                let c = self.count.get(next).copied().unwrap_or(0.0);
                if c <= rem {
                    pos = next;
                    rem -= c;
                }
            }
            step >>= 1;
        }
        pos.min(NBINS - 1)
    }
}

/// Frames measured per inner pass (bounded so the per-channel scratch stays small).
const CHUNK: usize = 256;
/// Interpolator history kept in front of each channel's chunk (taps − 1).
const HIST: usize = TAPS - 1;

/// Per-channel state: K-weighting filter, weight, and the true-peak input buffer (the last
/// `HIST` samples of the previous chunk followed by the current chunk).
#[derive(Debug, Clone)]
struct Chan {
    k: KState,
    weight: f64,
    /// Sum of squares of the K-weighted samples of the current sub-block (summed frame by
    /// frame across calls, so it does not depend on how the input is split into calls).
    sum: f64,
    buf: Vec<f32>,
}

/// Live BS.1770-4 / EBU R128 meter: momentary, short-term, integrated, loudness range, true
/// peak and sample peak. See the [module documentation](self) for the design.
#[derive(Debug, Clone)]
pub struct LiveMeter {
    channels: usize,
    sub_len: usize,
    filters: [Biquad; 2],
    chans: Vec<Chan>,
    /// True-peak interpolator (see [`crate::truepeak`]; CPU features checked once in `new`).
    tp: BlockInterpolator,
    /// Whether the CPU has AVX (checked once in `new`), for [`LiveMeter::process_pair`].
    avx: bool,
    /// Samples of an incomplete trailing frame carried to the next `process` call.
    pending: Vec<f32>,
    pending_len: usize,
    /// Frames in the current sub-block.
    frame_pos: usize,
    /// Channel-weighted sums of squares of the last 30 sub-blocks.
    ring: [f64; 30],
    ring_pos: usize,
    sub_blocks: u64,
    /// Sub-blocks before the integration's start ([`LiveMeter::restart_integration`]): the
    /// integrated loudness and the range take only windows wholly after it.
    integration_from: u64,
    m_sum: f64,
    s_sum: f64,
    integrated: Histogram,
    lra: Histogram,
    /// Whether integrated loudness, LRA and true peak are measured (see
    /// [`LiveMeter::loudness_only`]).
    full: bool,
    /// Whether the true peak is interpolated (see [`LiveMeter::set_true_peak`]).
    true_peak: bool,
    max_true_peak: f32,
    max_sample_peak: f32,
    block_peak: f32,
    /// Loudness readings computed since the last sub-block closed (see [`Readings`]).
    readings: Cell<Readings>,
}

/// The momentary, short-term and integrated loudness of a [`LiveMeter`] change only when a
/// sub-block closes; a caller that reads them every graph cycle (the daemon publishes them
/// every quantum) converts each once per 100 ms instead of every time. `at` is the sub-block
/// count the values belong to (`u64::MAX`: none); a value not computed yet is NaN.
#[derive(Debug, Clone, Copy)]
struct Readings {
    at: u64,
    momentary: f64,
    short_term: f64,
    integrated: f64,
}

impl Readings {
    const NONE: Self = Self {
        at: u64::MAX,
        momentary: f64::NAN,
        short_term: f64::NAN,
        integrated: f64::NAN,
    };
}

impl LiveMeter {
    /// Creates a meter for interleaved audio with `channels` channels at `sample_rate` Hz.
    ///
    /// Allocates (K-weighting state per channel, true-peak buffers, histograms).
    /// A `channels` of 0 is treated as 1; `sample_rate` is clamped to at least 8000 Hz (the
    /// K-weighting shelf at 1.68 kHz needs it).
    pub fn new(sample_rate: u32, channels: usize) -> Self {
        let channels = channels.max(1);
        let rate = sample_rate.max(8000);
        Self {
            channels,
            sub_len: Self::sub_block_frames_at(rate),
            filters: k_weighting(rate as f64),
            chans: (0..channels)
                .map(|c| Chan {
                    k: KState::default(),
                    weight: channel_weight(channels, c),
                    sum: 0.0,
                    buf: vec![0.0; HIST + CHUNK],
                })
                .collect(),
            tp: BlockInterpolator::new(rate),
            avx: crate::util::detect_avx(),
            pending: vec![0.0; channels],
            pending_len: 0,
            frame_pos: 0,
            ring: [0.0; 30],
            ring_pos: 0,
            sub_blocks: 0,
            integration_from: 0,
            m_sum: 0.0,
            s_sum: 0.0,
            integrated: Histogram::new(),
            lra: Histogram::new(),
            full: true,
            true_peak: true,
            max_true_peak: 0.0,
            max_sample_peak: 0.0,
            block_peak: 0.0,
            readings: Cell::new(Readings::NONE),
        }
    }

    /// A meter of momentary and short-term loudness (and sample peak) only, e.g. for a
    /// per-stream tap: no integrated-loudness or LRA histograms (≈ 240 kB less memory) and no
    /// true-peak interpolation (much less CPU). Its momentary and short-term readings are
    /// identical to a [`LiveMeter::new`] meter's; [`integrated_lufs`](Self::integrated_lufs)
    /// reads "no measurement", [`loudness_range_lu`](Self::loudness_range_lu) 0, and the true
    /// peaks are the sample peaks.
    ///
    /// Allocates (K-weighting state per channel, sample buffers).
    pub fn loudness_only(sample_rate: u32, channels: usize) -> Self {
        let mut m = Self::new(sample_rate, channels);
        m.full = false;
        m.integrated = Histogram::disabled();
        m.lra = Histogram::disabled();
        m
    }

    /// Turns the true-peak interpolation on (the default) or off. Off, the meter skips the
    /// 4× (or 2×) interpolation, most of its cost after the K-weighting, and its true peaks
    /// ([`true_peak_dbtp`](Self::true_peak_dbtp),
    /// [`block_true_peak_dbtp`](Self::block_true_peak_dbtp)) read the sample peaks; loudness,
    /// range and sample peak are unchanged. For a meter whose true peak nobody reads (the
    /// offline render measures its own). Takes effect from the next `process` call; real-time
    /// safe.
    pub fn set_true_peak(&mut self, on: bool) {
        self.true_peak = on;
    }

    /// Whether the true peak is interpolated ([`set_true_peak`](Self::set_true_peak)).
    pub fn true_peak_enabled(&self) -> bool {
        self.true_peak
    }

    /// Starts the integrated loudness and the loudness range again from here: they take only
    /// the 400 ms and 3 s windows that begin after the sub-block under way (the momentary and
    /// short-term windows, the filters and the peaks go on). Real-time safe (no allocation;
    /// clears the two histograms).
    pub fn restart_integration(&mut self) {
        self.integrated.clear();
        self.lra.clear();
        self.integration_from = self.sub_blocks + 1;
        self.readings.set(Readings::NONE);
    }

    /// Forgets everything measured so far. Real-time safe (no allocation).
    pub fn reset(&mut self) {
        for ch in &mut self.chans {
            ch.k = KState::default();
            ch.sum = 0.0;
            ch.buf.fill(0.0);
        }
        self.pending_len = 0;
        self.frame_pos = 0;
        self.ring = [0.0; 30];
        self.ring_pos = 0;
        self.sub_blocks = 0;
        self.integration_from = 0;
        self.m_sum = 0.0;
        self.s_sum = 0.0;
        self.integrated.clear();
        self.lra.clear();
        self.max_true_peak = 0.0;
        self.max_sample_peak = 0.0;
        self.block_peak = 0.0;
        self.readings.set(Readings::NONE);
    }

    /// One of the loudness readings: the value computed since the last sub-block closed, or
    /// `compute`'s (then kept). Real-time safe.
    fn reading(&self, field: fn(&mut Readings) -> &mut f64, compute: impl FnOnce() -> f64) -> f64 {
        let mut r = self.readings.get();
        if r.at != self.sub_blocks {
            r = Readings {
                at: self.sub_blocks,
                ..Readings::NONE
            };
        }
        let v = *field(&mut r);
        if !v.is_nan() {
            return v;
        }
        let v = compute();
        *field(&mut r) = v;
        self.readings.set(r);
        v
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Frames per 100 ms sub-block of a meter made by [`new`](Self::new) at `sample_rate`.
    pub fn sub_block_frames_at(sample_rate: u32) -> usize {
        (sample_rate.max(8000) as usize + 5) / 10
    }

    /// Frames per 100 ms sub-block.
    pub fn sub_block_frames(&self) -> usize {
        self.sub_len
    }

    /// Measures interleaved samples. Any length is accepted: an incomplete trailing frame is
    /// kept and completed by the next call. Non-finite samples count as 0.
    ///
    /// Real-time safe: no allocation, no locks, no panics.
    pub fn process(&mut self, interleaved: &[f32]) {
        self.block_peak = 0.0;
        let ch = self.channels;
        let mut rest = interleaved;
        if self.pending_len > 0 {
            let take = ch.saturating_sub(self.pending_len).min(rest.len());
            let (head, tail) = rest.split_at(take);
            if let Some(dst) = self
                .pending
                .get_mut(self.pending_len..self.pending_len + take)
            {
                dst.copy_from_slice(head);
            }
            self.pending_len += take;
            rest = tail;
            if self.pending_len >= ch {
                self.pending_len = 0;
                let mut frame = std::mem::take(&mut self.pending);
                self.run_frames(&frame, 1);
                std::mem::swap(&mut self.pending, &mut frame);
            }
        }
        let frames = rest.len() / ch;
        let mut done = 0;
        while done < frames {
            let n = (frames - done)
                .min(CHUNK)
                .min(self.sub_len.saturating_sub(self.frame_pos).max(1));
            if let Some(chunk) = rest.get(done * ch..(done + n) * ch) {
                self.run_frames(chunk, n);
            }
            done += n;
        }
        if let Some(tail) = rest.get(frames * ch..) {
            if !tail.is_empty() {
                if let Some(dst) = self.pending.get_mut(..tail.len()) {
                    dst.copy_from_slice(tail);
                    self.pending_len = tail.len();
                }
            }
        }
        self.end_call();
    }

    /// End of a `process` call: filter states flushed, maximum true peak.
    fn end_call(&mut self) {
        for c in &mut self.chans {
            c.k.flush_denormals();
        }
        self.max_true_peak = self.max_true_peak.max(self.block_peak);
    }

    /// Measures `xa` with `a` and `xb` with `b`, the same as `a.process(xa); b.process(xb)`.
    /// When both are stereo meters at the same rate and at the same position in their
    /// sub-blocks, with blocks of the same whole number of frames, the two meters' filters
    /// run in one loop (four independent recursions, in one AVX register when the CPU has
    /// it), which takes little longer than one meter alone. Real-time safe.
    pub fn process_pair(a: &mut Self, xa: &[f32], b: &mut Self, xb: &[f32]) {
        let same = a.channels == 2
            && b.channels == 2
            && a.pending_len == 0
            && b.pending_len == 0
            && a.filters == b.filters
            && a.sub_len == b.sub_len
            && a.frame_pos == b.frame_pos
            && xa.len() == xb.len()
            && xa.len().is_multiple_of(2);
        if !same {
            a.process(xa);
            b.process(xb);
            return;
        }
        a.block_peak = 0.0;
        b.block_peak = 0.0;
        let frames = xa.len() / 2;
        let mut done = 0;
        while done < frames {
            let n = (frames - done)
                .min(CHUNK)
                .min(a.sub_len.saturating_sub(a.frame_pos).max(1));
            if let (Some(ca), Some(cb)) = (
                xa.get(done * 2..(done + n) * 2),
                xb.get(done * 2..(done + n) * 2),
            ) {
                let pa = a.load(ca, n);
                let pb = b.load(cb, n);
                Self::k_weight_quad(a, b, n);
                a.finish(n, pa);
                b.finish(n, pb);
            }
            done += n;
        }
        a.end_call();
        b.end_call();
    }

    /// [`k_weight`](Self::k_weight) of two stereo meters in one loop.
    fn k_weight_quad(a: &mut Self, b: &mut Self, n: usize) {
        let filters = a.filters;
        let wide = a.avx;
        if let ([a0, a1], [b0, b1]) = (&mut a.chans[..], &mut b.chans[..]) {
            if let (Some(x0), Some(x1), Some(x2), Some(x3)) = (
                a0.buf.get(HIST..HIST + n),
                a1.buf.get(HIST..HIST + n),
                b0.buf.get(HIST..HIST + n),
                b1.buf.get(HIST..HIST + n),
            ) {
                let mut st = [a0.k, a1.k, b0.k, b1.k];
                let sums = [a0.sum, a1.sum, b0.sum, b1.sum];
                let xs = [x0, x1, x2, x3];
                let out = run_quad_dispatch(&mut st, &filters, xs, sums, wide);
                [a0.k, a1.k, b0.k, b1.k] = st;
                [a0.sum, a1.sum, b0.sum, b1.sum] = out;
            }
        }
    }

    /// Measures `n` ≤ [`CHUNK`] whole frames that do not cross a sub-block boundary.
    fn run_frames(&mut self, x: &[f32], n: usize) {
        let n = n.min(CHUNK);
        let chunk_peak = self.load(x, n);
        self.k_weight(n);
        self.finish(n, chunk_peak);
    }

    /// De-interleaves and sanitises `n` ≤ [`CHUNK`] frames into each channel's buffer;
    /// returns their sample peak.
    fn load(&mut self, x: &[f32], n: usize) -> f32 {
        let ch = self.channels;
        let mut chunk_peak = 0.0f32;
        // De-interleave and sanitise into each channel's buffer; sample peak.
        if let [a, b] = &mut self.chans[..] {
            let wide = self.avx;
            let (ma, mb) = match (
                a.buf.get_mut(HIST..HIST + n),
                b.buf.get_mut(HIST..HIST + n),
                x.get(..2 * n),
            ) {
                (Some(da), Some(db), Some(x)) => load_stereo_dispatch(da, db, x, wide),
                _ => (0.0, 0.0),
            };
            chunk_peak = ma.max(mb);
        } else {
            for (c, chan) in self.chans.iter_mut().enumerate() {
                let Some(dst) = chan.buf.get_mut(HIST..HIST + n) else {
                    continue;
                };
                let mut amax = 0.0f32;
                for (d, &s) in dst.iter_mut().zip(x.iter().skip(c).step_by(ch)) {
                    let v = sanitize(s);
                    let a = v.abs();
                    amax = if a > amax { a } else { amax };
                    *d = v;
                }
                chunk_peak = chunk_peak.max(amax);
            }
        }
        chunk_peak
    }

    /// K-weighting and sums of squares of the `n` loaded frames. Two channels run in one
    /// loop so that their serial filter recursions overlap.
    fn k_weight(&mut self, n: usize) {
        let filters = self.filters;
        let mut pairs = self.chans.chunks_exact_mut(2);
        for pair in pairs.by_ref() {
            if let [a, b] = pair {
                if let (Some(xa), Some(xb)) = (a.buf.get(HIST..HIST + n), b.buf.get(HIST..HIST + n))
                {
                    [a.sum, b.sum] =
                        KState::run_pair(&mut a.k, &mut b.k, &filters, xa, xb, [a.sum, b.sum]);
                }
            }
        }
        for c in pairs.into_remainder() {
            let mut st = c.k;
            let mut e = c.sum;
            if let Some(xs) = c.buf.get(HIST..HIST + n) {
                for &v in xs {
                    let y = st.run(&filters, v as f64);
                    e += y * y;
                }
            }
            c.k = st;
            c.sum = e;
        }
    }

    /// True peak of the `n` loaded frames, history, sample peak, sub-block bookkeeping.
    fn finish(&mut self, n: usize, chunk_peak: f32) {
        let mut peak = self.block_peak.max(chunk_peak);
        // Interpolated points (true peak).
        if self.full && self.true_peak && self.tp.factor() > 1 {
            for c in self.chans.iter() {
                if let Some(src) = c.buf.get(..HIST + n) {
                    peak = peak.max(self.tp.peak(src, n));
                }
            }
        }
        for c in self.chans.iter_mut() {
            // Fixed-size copy (a few register moves, no library call).
            if let Some(tail) = c.buf.get(n..n + HIST) {
                let mut keep = [0.0f32; HIST];
                keep.copy_from_slice(tail);
                if let Some(head) = c.buf.get_mut(..HIST) {
                    head.copy_from_slice(&keep);
                }
            }
        }
        self.block_peak = peak;
        self.max_sample_peak = self.max_sample_peak.max(chunk_peak);
        self.frame_pos += n;
        if self.frame_pos >= self.sub_len {
            // Channel-weighted sum of the sub-block.
            let mut energy = 0.0;
            let mut pairs = self.chans.chunks_exact_mut(2);
            for pair in pairs.by_ref() {
                if let [a, b] = pair {
                    energy += a.weight * a.sum + b.weight * b.sum;
                    a.sum = 0.0;
                    b.sum = 0.0;
                }
            }
            for c in pairs.into_remainder() {
                energy += c.weight * c.sum;
                c.sum = 0.0;
            }
            self.close_sub_block(energy);
        }
    }

    /// Closes the current 100 ms sub-block: ring, window sums, histograms.
    fn close_sub_block(&mut self, energy: f64) {
        let pos = self.ring_pos % 30;
        self.ring[pos] = energy;
        self.ring_pos = (pos + 1) % 30;
        self.frame_pos = 0;
        self.sub_blocks += 1;
        let mut m = 0.0;
        for k in 0..4 {
            m += self.ring[(pos + 30 - k) % 30];
        }
        self.m_sum = m;
        self.s_sum = self.ring.iter().sum();
        let gate = lufs_to_energy(HIST_MIN_LUFS);
        if self.full && self.sub_blocks >= self.integration_from + 4 {
            let e = self.m_sum / (4 * self.sub_len) as f64;
            if e >= gate {
                self.integrated.add(e);
            }
        }
        if self.full && self.sub_blocks >= self.integration_from + 30 {
            let e = self.s_sum / (30 * self.sub_len) as f64;
            if e >= gate {
                self.lra.add(e);
            }
        }
        for c in &mut self.chans {
            c.k.flush_denormals();
        }
    }

    /// Momentary energy (400 ms window ending at the last sub-block boundary): linear,
    /// K-weighted, channel-weighted mean square; 0 when there is none. O(1): one division.
    pub fn momentary_energy(&self) -> f64 {
        self.m_sum / (4 * self.sub_len) as f64
    }

    /// Energy of the last complete 100 ms sub-block, as
    /// [`momentary_energy`](Self::momentary_energy); 0 before the first one. O(1).
    pub fn sub_block_energy(&self) -> f64 {
        self.ring[(self.ring_pos + 29) % 30] / self.sub_len as f64
    }

    /// Loudness of the last complete 100 ms sub-block in LUFS, at least [`LUFS_FLOOR`]. O(1).
    pub fn sub_block_lufs(&self) -> f64 {
        floor_lufs(energy_to_lufs(self.sub_block_energy()))
    }

    /// Short-term energy (3 s window ending at the last sub-block boundary), as
    /// [`momentary_energy`](Self::momentary_energy). O(1): one division.
    pub fn short_term_energy(&self) -> f64 {
        self.s_sum / (30 * self.sub_len) as f64
    }

    /// Momentary loudness in LUFS, at least [`LUFS_FLOOR`] (returned for silence and when
    /// nothing has been measured). O(1).
    pub fn momentary_lufs(&self) -> f64 {
        self.reading(
            |r| &mut r.momentary,
            || floor_lufs(energy_to_lufs(self.momentary_energy())),
        )
    }

    /// Short-term loudness in LUFS, at least [`LUFS_FLOOR`]. O(1).
    pub fn short_term_lufs(&self) -> f64 {
        self.reading(
            |r| &mut r.short_term,
            || floor_lufs(energy_to_lufs(self.short_term_energy())),
        )
    }

    /// Gated integrated loudness (BS.1770-4: 400 ms blocks every 100 ms, absolute gate
    /// −70 LUFS, relative gate −10 LU) since the last reset, in LUFS; [`LUFS_FLOOR`] when no
    /// block passed the gates. O(log bins). Real-time safe.
    pub fn integrated_lufs(&self) -> f64 {
        self.reading(|r| &mut r.integrated, || self.compute_integrated_lufs())
    }

    /// [`integrated_lufs`](Self::integrated_lufs), computed from the histogram.
    fn compute_integrated_lufs(&self) -> f64 {
        let h = &self.integrated;
        if h.total_count <= 0.0 {
            return LUFS_FLOOR;
        }
        let rel = h.total_energy / h.total_count * 0.1;
        let b = Histogram::bin_of(rel);
        // Bins above the gate bin count fully; the gate bin itself counts if its mean is
        // above the gate.
        let (c_hi, e_hi) = h.suffix(b + 1);
        let (c_b, e_b) = {
            let (c1, e1) = h.suffix(b);
            (c1 - c_hi, e1 - e_hi)
        };
        let (c, e) = if c_b > 0.5 && e_b / c_b >= rel {
            (c_hi + c_b, e_hi + e_b)
        } else {
            (c_hi, e_hi)
        };
        if c <= 0.0 {
            return LUFS_FLOOR;
        }
        floor_lufs(energy_to_lufs(e / c))
    }

    /// Loudness range (EBU Tech 3342) in LU since the last reset: short-term values every
    /// 100 ms, absolute gate −70 LUFS, relative gate −20 LU, spread between the 10th and 95th
    /// percentiles (0.01 LU resolution). 0 when no short-term value passed the gates.
    /// O(log bins). Real-time safe.
    pub fn loudness_range_lu(&self) -> f64 {
        let h = &self.lra;
        if h.total_count <= 0.0 {
            return 0.0;
        }
        let rel = h.total_energy / h.total_count * 0.01;
        let b = if energy_to_lufs(rel) < HIST_MIN_LUFS {
            0
        } else {
            Histogram::bin_of(rel)
        };
        let (below, _) = h.prefix(b);
        let n = h.total_count - below;
        if n < 1.0 {
            return 0.0;
        }
        let lo = ((n - 1.0) * 0.10 + 0.5).floor();
        let hi = ((n - 1.0) * 0.95 + 0.5).floor();
        let lo_bin = h.bin_of_rank(below + lo);
        let hi_bin = h.bin_of_rank(below + hi);
        // Whole bins apart: counted in bins and divided once, so the result is the nearest
        // double to its hundredths (19.7, not 19.700000000000003).
        hi_bin.saturating_sub(lo_bin) as f64 / (1.0 / BIN_LU).round()
    }

    /// Maximum true peak (dBTP) since the last reset, across channels: the larger of the
    /// oversampled peak and the sample peak, as BS.1770 and libebur128 report it. At least
    /// [`PEAK_FLOOR_DB`].
    pub fn true_peak_dbtp(&self) -> f64 {
        peak_to_db(self.max_true_peak.max(self.max_sample_peak) as f64)
    }

    /// Maximum sample peak (dBFS) since the last reset, across channels; at least
    /// [`PEAK_FLOOR_DB`].
    pub fn sample_peak_dbfs(&self) -> f64 {
        peak_to_db(self.max_sample_peak as f64)
    }

    /// True peak (dBTP) over the samples of the last [`process`](Self::process) call (the
    /// interpolated values lag the input by the interpolator latency of 6 frames); at least
    /// [`PEAK_FLOOR_DB`].
    pub fn block_true_peak_dbtp(&self) -> f64 {
        peak_to_db(self.block_peak as f64)
    }

    /// [`block_true_peak_dbtp`](Self::block_true_peak_dbtp) as a linear magnitude (no
    /// logarithm: a caller taking the largest over several calls converts once).
    pub(crate) fn block_true_peak(&self) -> f32 {
        self.block_peak
    }

    /// Frames still to come before the current 100 ms sub-block closes (at least 1; an
    /// incomplete frame carried over counts as not yet there).
    pub fn frames_to_sub_block_end(&self) -> usize {
        self.sub_len.saturating_sub(self.frame_pos).max(1)
    }

    /// Number of complete 100 ms sub-blocks measured since the last reset.
    pub fn sub_blocks_seen(&self) -> u64 {
        self.sub_blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, amp: f64, secs: f64, ch: usize) -> Vec<f32> {
        let n = (rate as f64 * secs) as usize;
        let mut v = Vec::with_capacity(n * ch);
        for i in 0..n {
            let x =
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32;
            for _ in 0..ch {
                v.push(x);
            }
        }
        v
    }

    #[test]
    fn interpolation_kernels_agree_with_the_detector() {
        // The portable kernel, the AVX2 kernel (when the CPU has it) and the per-sample
        // TruePeakDetector see the same interpolated points.
        let tp = BlockInterpolator::new(48_000);
        let mut s = 0x9e37_79b9u32;
        let mut src = vec![0.0f32; HIST + 203];
        for v in src.iter_mut().skip(HIST) {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *v = (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
        }
        let n = 203;
        let narrow = tp.clone().portable().peak(&src, n);
        let wide = tp.peak(&src, n);
        assert!((narrow - wide).abs() <= 1e-6 * narrow, "{narrow} vs {wide}");
        let mut d = crate::truepeak::TruePeakDetector::new(48_000, 1);
        let mut det = 0.0f32;
        for &v in &src[HIST..] {
            det = det.max(d.push(0, v));
        }
        // The detector also reports the delayed raw samples; the kernel's points must reach
        // at least as high as the detector's interpolated points.
        let raw = src.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
        assert!(
            (det - narrow.max(raw)).abs() <= 1e-5,
            "{det} vs {narrow}/{raw}"
        );
    }

    #[test]
    fn conversions_round_trip() {
        for l in [-70.0, -23.0, 0.0, 3.5] {
            assert!((energy_to_lufs(lufs_to_energy(l)) - l).abs() < 1e-12);
        }
        assert_eq!(energy_to_lufs(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn k_weighting_48k_matches_bs1770_table() {
        // BS.1770-4 Table 1 and 2 (48 kHz).
        let [s, h] = k_weighting(48_000.0);
        assert!((s.b0 - 1.535_124_859_586_97).abs() < 1e-9);
        assert!((s.b1 + 2.691_696_189_406_38).abs() < 1e-9);
        assert!((s.b2 - 1.198_392_810_852_85).abs() < 1e-9);
        assert!((s.a1 + 1.690_659_293_182_41).abs() < 1e-9);
        assert!((s.a2 - 0.732_480_774_215_85).abs() < 1e-9);
        assert!((h.a1 + 1.990_047_454_833_98).abs() < 1e-9);
        assert!((h.a2 - 0.990_072_250_366_21).abs() < 1e-9);
    }

    #[test]
    fn sine_1k_at_minus_23_dbfs_stereo_reads_minus_23_lufs() {
        let mut m = LiveMeter::new(48_000, 2);
        let amp = 10f64.powf(-23.0 / 20.0);
        m.process(&sine(48_000, 1000.0, amp, 5.0, 2));
        assert_eq!(m.sub_blocks_seen(), 50);
        for v in [m.momentary_lufs(), m.short_term_lufs(), m.integrated_lufs()] {
            assert!((v + 23.0).abs() < 0.05, "{v}");
        }
        assert!(m.loudness_range_lu() < 0.05);
        assert!((m.sample_peak_dbfs() + 23.0).abs() < 0.01);
    }

    #[test]
    fn silence_reads_floors() {
        let mut m = LiveMeter::new(44_100, 2);
        m.process(&vec![0.0; 44_100 * 2]);
        assert_eq!(m.momentary_lufs(), LUFS_FLOOR);
        assert_eq!(m.short_term_lufs(), LUFS_FLOOR);
        assert_eq!(m.integrated_lufs(), LUFS_FLOOR);
        assert_eq!(m.loudness_range_lu(), 0.0);
        assert_eq!(m.true_peak_dbtp(), PEAK_FLOOR_DB);
        assert_eq!(m.sample_peak_dbfs(), PEAK_FLOOR_DB);
        assert_eq!(m.momentary_energy(), 0.0);
    }

    #[test]
    fn partial_frames_are_carried_over() {
        let sig = sine(48_000, 997.0, 0.3, 1.0, 3);
        let mut a = LiveMeter::new(48_000, 3);
        a.process(&sig);
        let mut b = LiveMeter::new(48_000, 3);
        for chunk in sig.chunks(7) {
            b.process(chunk);
        }
        assert_eq!(a.sub_blocks_seen(), b.sub_blocks_seen());
        assert!((a.momentary_lufs() - b.momentary_lufs()).abs() < 1e-9);
        assert_eq!(a.true_peak_dbtp(), b.true_peak_dbtp());
    }

    #[test]
    fn readings_do_not_depend_on_call_sizes() {
        for ch in [1usize, 2, 3] {
            let mut sig = sine(48_000, 997.0, 0.3, 1.3, ch);
            for (i, v) in sig.iter_mut().enumerate() {
                *v += ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.05;
            }
            let mut whole = LiveMeter::new(48_000, ch);
            whole.process(&sig);
            for split in [1usize, 37, 64, 4801] {
                let mut m = LiveMeter::new(48_000, ch);
                for chunk in sig.chunks(split * ch) {
                    m.process(chunk);
                }
                assert_eq!(m.sub_blocks_seen(), whole.sub_blocks_seen());
                assert_eq!(
                    m.momentary_energy(),
                    whole.momentary_energy(),
                    "{ch} ch, {split}"
                );
                assert_eq!(m.short_term_energy(), whole.short_term_energy());
                assert_eq!(m.integrated_lufs(), whole.integrated_lufs());
                assert_eq!(m.true_peak_dbtp(), whole.true_peak_dbtp());
            }
        }
    }

    #[test]
    fn loudness_only_meter_reads_the_same_momentary_and_short_term() {
        let mut sig = sine(48_000, 997.0, 0.5, 3.7, 2);
        for (i, v) in sig.iter_mut().enumerate() {
            *v += ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.05;
        }
        let mut full = LiveMeter::new(48_000, 2);
        let mut light = LiveMeter::loudness_only(48_000, 2);
        assert!(light.integrated.count.capacity() == 0 && light.lra.energy.capacity() == 0);
        for chunk in sig.chunks(256 * 2) {
            full.process(chunk);
            light.process(chunk);
            assert_eq!(light.momentary_energy(), full.momentary_energy());
            assert_eq!(light.short_term_energy(), full.short_term_energy());
            assert_eq!(light.sample_peak_dbfs(), full.sample_peak_dbfs());
        }
        assert!(full.integrated_lufs() > -30.0);
        assert_eq!(light.integrated_lufs(), LUFS_FLOOR);
        assert_eq!(light.loudness_range_lu(), 0.0);
        assert_eq!(light.true_peak_dbtp(), light.sample_peak_dbfs());
        light.reset();
        assert_eq!(light.momentary_energy(), 0.0);
    }

    #[test]
    fn pair_processing_matches_two_meters() {
        let a_sig = sine(48_000, 997.0, 0.3, 1.2, 2);
        let mut b_sig = sine(48_000, 61.0, 0.7, 1.2, 2);
        for (i, v) in b_sig.iter_mut().enumerate() {
            *v += ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.1;
        }
        let mut a_ref = LiveMeter::new(48_000, 2);
        let mut b_ref = LiveMeter::new(48_000, 2);
        a_ref.process(&a_sig);
        b_ref.process(&b_sig);
        // With the AVX kernel (when the CPU has it) and with the portable one.
        for avx in [crate::util::detect_avx(), false] {
            let mut a = LiveMeter::new(48_000, 2);
            let mut b = LiveMeter::new(48_000, 2);
            a.avx = avx;
            let mut pos = 0;
            for len in [64usize, 1, 300, 4800, 37].iter().cycle() {
                if pos >= a_sig.len() {
                    break;
                }
                let end = (pos + 2 * len).min(a_sig.len());
                LiveMeter::process_pair(&mut a, &a_sig[pos..end], &mut b, &b_sig[pos..end]);
                pos = end;
            }
            for (m, r) in [(&a, &a_ref), (&b, &b_ref)] {
                assert_eq!(m.sub_blocks_seen(), r.sub_blocks_seen());
                assert_eq!(m.momentary_energy(), r.momentary_energy(), "avx {avx}");
                assert_eq!(m.short_term_energy(), r.short_term_energy());
                assert_eq!(m.integrated_lufs(), r.integrated_lufs());
                assert_eq!(m.true_peak_dbtp(), r.true_peak_dbtp());
                assert_eq!(m.sample_peak_dbfs(), r.sample_peak_dbfs());
            }
        }
        // Meters that cannot run together (channel counts differ) still measure correctly.
        let mono = sine(48_000, 997.0, 0.3, 1.2, 1);
        let mut m1 = LiveMeter::new(48_000, 1);
        let mut s2 = LiveMeter::new(48_000, 2);
        LiveMeter::process_pair(&mut m1, &mono, &mut s2, &a_sig);
        let mut m_ref = LiveMeter::new(48_000, 1);
        m_ref.process(&mono);
        assert_eq!(m1.momentary_energy(), m_ref.momentary_energy());
        assert_eq!(s2.momentary_energy(), a_ref.momentary_energy());
    }

    #[test]
    fn stereo_loads_agree_bit_for_bit_with_the_scalar_sanitiser() {
        let odd = [
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            1e-21,
            -1e-20,
            1e-20,
            f32::MIN_POSITIVE / 2.0,
            1e13,
            -1e13,
            1e12,
            -0.5,
            0.25,
            f32::MAX,
            -3.0,
        ];
        for len in 0..41usize {
            let x: Vec<f32> = (0..2 * len)
                .map(|i| odd[(i * 7 + len) % odd.len()] * if i % 3 == 0 { -1.0 } else { 1.0 })
                .collect();
            // Reference: `sanitize` sample by sample.
            let want: Vec<f32> = x.iter().map(|&v| sanitize(v)).collect();
            let peak = |c: usize| {
                want.iter()
                    .skip(c)
                    .step_by(2)
                    .fold(0.0f32, |m, v| m.max(v.abs()))
            };
            for wide in [false, crate::util::detect_avx()] {
                let (mut da, mut db) = (vec![9.0f32; len], vec![9.0f32; len]);
                let (pa, pb) = load_stereo_dispatch(&mut da, &mut db, &x, wide);
                for (i, (a, b)) in da.iter().zip(&db).enumerate() {
                    assert_eq!(
                        a.to_bits(),
                        want[2 * i].to_bits(),
                        "len {len} wide {wide} l{i}"
                    );
                    assert_eq!(b.to_bits(), want[2 * i + 1].to_bits(), "len {len} r{i}");
                }
                assert_eq!((pa, pb), (peak(0), peak(1)), "len {len} wide {wide}");
            }
        }
    }

    #[test]
    fn filter_kernels_agree_bit_for_bit() {
        let f = k_weighting(44_100.0);
        let sig = sine(44_100, 443.0, 0.5, 0.05, 4);
        let xs: Vec<Vec<f32>> = (0..4)
            .map(|c| {
                sig.iter()
                    .skip(c)
                    .step_by(4)
                    .enumerate()
                    .map(|(i, &v)| v + ((i * (31 + c) % 97) as f32 - 48.0) * 0.003)
                    .collect()
            })
            .collect();
        // One channel at a time (reference).
        let mut one = [KState::default(); 4];
        let mut e1 = [0.25f64; 4];
        for (c, st) in one.iter_mut().enumerate() {
            for &v in &xs[c] {
                let y = st.run(&f, v as f64);
                e1[c] += y * y;
            }
        }
        // Pairs: SIMD (on x86-64) and portable.
        let mut p = [KState::default(); 4];
        let [p0, p1, p2, p3] = &mut p;
        let ea = KState::run_pair(p0, p1, &f, &xs[0], &xs[1], [0.25; 2]);
        let eb = KState::run_pair(p2, p3, &f, &xs[2], &xs[3], [0.25; 2]);
        let mut q = [KState::default(); 2];
        let [q0, q1] = &mut q;
        let eq = KState::run_pair_portable(q0, q1, &f, &xs[0], &xs[1], [0.25; 2]);
        assert_eq!(ea, [e1[0], e1[1]]);
        assert_eq!(eq, [e1[0], e1[1]]);
        assert_eq!(eb, [e1[2], e1[3]]);
        // Four at once: AVX (when the CPU has it) and portable.
        for wide in [crate::util::detect_avx(), false] {
            let mut st = [KState::default(); 4];
            let xr = [&xs[0][..], &xs[1][..], &xs[2][..], &xs[3][..]];
            let e4 = run_quad_dispatch(&mut st, &f, xr, [0.25; 4], wide);
            assert_eq!(e4, e1, "wide {wide}");
            for (a, b) in st.iter().zip(&one) {
                assert_eq!(a.z, b.z);
            }
        }
        // The generic form (the kernel off x86-64).
        let mut st = [KState::default(); 4];
        let xr = [&xs[0][..], &xs[1][..], &xs[2][..], &xs[3][..]];
        assert_eq!(run_quad(&mut st, &f, xr, [0.25; 4]), e1);
        for (a, b) in st.iter().zip(&one) {
            assert_eq!(a.z, b.z);
        }
        for (a, b) in p.iter().zip(&one) {
            assert_eq!(a.z, b.z);
        }
        assert_eq!(q[0].z, one[0].z);
        assert_eq!(q[1].z, one[1].z);
    }

    #[test]
    fn kept_readings_are_the_computed_ones_at_every_point() {
        // Reads between, right at and right after sub-block boundaries, across a level change,
        // after a reset and after a clone: each kept reading equals the one computed anew.
        let mut m = LiveMeter::new(48_000, 2);
        let loud = sine(48_000, 1000.0, 0.5, 1.3, 2);
        let quiet = sine(48_000, 440.0, 0.01, 1.3, 2);
        let check = |m: &LiveMeter, at: &str| {
            let fresh = (
                floor_lufs(energy_to_lufs(m.momentary_energy())),
                floor_lufs(energy_to_lufs(m.short_term_energy())),
                m.compute_integrated_lufs(),
            );
            for _ in 0..2 {
                let kept = (m.momentary_lufs(), m.short_term_lufs(), m.integrated_lufs());
                assert_eq!(kept, fresh, "{at}");
            }
        };
        let mut reads = 0;
        for (k, signal) in [&loud, &quiet, &loud].into_iter().enumerate() {
            // Calls of 1 … 997 frames: reads fall everywhere against the 4800-frame grid.
            let mut pos = 0;
            let mut n = 1;
            while pos < signal.len() {
                let end = (pos + 2 * n).min(signal.len());
                m.process(&signal[pos..end]);
                check(&m, &format!("part {k}, sample {pos}"));
                reads += 1;
                pos = end;
                n = (n * 7 + 3) % 997 + 1;
            }
            if k == 1 {
                let copy = m.clone();
                check(&copy, "clone");
                m.reset();
                check(&m, "reset");
                assert_eq!(m.momentary_lufs(), LUFS_FLOOR);
            }
        }
        assert!(reads > 100 && m.sub_blocks_seen() > 10);
        assert!(m.integrated_lufs() > -10.0);
    }

    #[test]
    fn reset_forgets() {
        let mut m = LiveMeter::new(48_000, 1);
        m.process(&sine(48_000, 1000.0, 0.5, 1.0, 1));
        assert!(m.momentary_lufs() > -20.0);
        m.reset();
        assert_eq!(m.sub_blocks_seen(), 0);
        assert_eq!(m.momentary_lufs(), LUFS_FLOOR);
        assert_eq!(m.integrated_lufs(), LUFS_FLOOR);
        assert_eq!(m.true_peak_dbtp(), PEAK_FLOOR_DB);
    }
}
