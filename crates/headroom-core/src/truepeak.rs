//! True-peak detection per ITU-R BS.1770-4 Annex 2.
//!
//! The signal of each channel is oversampled by an interpolating polyphase FIR and the
//! largest absolute value of the interpolated points is the true peak.
//!
//! * Below 96 kHz: 4× oversampling with the 48-tap filter published in BS.1770-4 Annex 2
//!   (4 phases of 12 taps).
//! * 96 kHz up to (not including) 192 kHz: 2× oversampling, using phases 0 and 2 of the same
//!   filter (interpolated points half an input sample apart).
//! * 192 kHz and above: no oversampling; the sample peak already is within the tolerance
//!   BS.1770 asks for, so [`TruePeakDetector::push`] returns `|x|` with no delay.
//!
//! The Annex 2 prototype filter is symmetric about the middle of its 48 taps, so in the
//! oversampled domain it delays by 23.5 points, i.e. 5.875 input frames: the four
//! interpolated points produced for input frame `n` lie at frames `n − 5.875`, `n − 5.625`,
//! `n − 5.375` and `n − 5.125`. Together with them [`TruePeakDetector::push`] reports the raw
//! input sample `n − 6`, so the maximum over all pushed frames never misses a sample peak
//! (except for the last 6 frames, which are still in the interpolator) and each returned value
//! describes the signal between input frames `n − 6` and `n − 5`:
//! [`TruePeakDetector::latency_frames`] is 6 (0 without oversampling).
//!
//! Input sanitising (shared with [`crate::meter`]): non-finite samples count as 0, magnitudes
//! below 1e−20 (−400 dBFS) are flushed to 0 so that no denormal enters the filter, and
//! magnitudes above 1e12 (+240 dBFS) are clamped so that the `f32` arithmetic cannot overflow.
//!
//! # Why one file
//! The interpolating filter, its coefficient design and the per-channel state are one
//! algorithm (BS.1770-4 Annex 2); its compliance tests against the Annex's figures follow it.

/// Taps per polyphase branch.
pub(crate) const TAPS: usize = 12;
/// Maximum oversampling factor.
pub(crate) const PHASES: usize = 4;
/// Delay of the reported values in input frames when oversampling.
pub(crate) const DELAY: usize = 6;

/// BS.1770-4 Annex 2 interpolation filter: `ANNEX2[p][i]` is the coefficient of phase `p`
/// applied to input sample `x[n − i]`.
const ANNEX2: [[f64; TAPS]; PHASES] = [
    [
        0.001_708_984_375,
        0.010_986_328_125,
        -0.019_653_320_312_5,
        0.033_203_125,
        -0.059_448_242_187_5,
        0.137_329_101_562_5,
        0.972_167_968_75,
        -0.102_294_921_875,
        0.047_607_421_875,
        -0.026_611_328_125,
        0.014_892_578_125,
        -0.008_300_781_25,
    ],
    [
        -0.029_174_804_687_5,
        0.029_296_875,
        -0.051_757_812_5,
        0.089_111_328_125,
        -0.166_503_906_25,
        0.465_087_890_625,
        0.779_785_156_25,
        -0.200_317_382_812_5,
        0.101_562_5,
        -0.058_227_539_062_5,
        0.033_081_054_687_5,
        -0.018_920_898_437_5,
    ],
    [
        -0.018_920_898_437_5,
        0.033_081_054_687_5,
        -0.058_227_539_062_5,
        0.101_562_5,
        -0.200_317_382_812_5,
        0.779_785_156_25,
        0.465_087_890_625,
        -0.166_503_906_25,
        0.089_111_328_125,
        -0.051_757_812_5,
        0.029_296_875,
        -0.029_174_804_687_5,
    ],
    [
        -0.008_300_781_25,
        0.014_892_578_125,
        -0.026_611_328_125,
        0.047_607_421_875,
        -0.102_294_921_875,
        0.972_167_968_75,
        0.137_329_101_562_5,
        -0.059_448_242_187_5,
        0.033_203_125,
        -0.019_653_320_312_5,
        0.010_986_328_125,
        0.001_708_984_375,
    ],
];

/// Oversampling factor at `sample_rate` and the Annex 2 coefficients rearranged for a window
/// ordered oldest → newest: `coef[j][slot]` multiplies window element `j` (input
/// `x[n − (TAPS − 1 − j)]`) for the `slot`-th phase in use (all four at 4×, phases 0 and 2 at
/// 2×, none at 1×). Unused slots are zero.
pub(crate) fn window_coefficients(sample_rate: u32) -> (usize, [[f32; PHASES]; TAPS]) {
    let factor = if sample_rate < 96_000 {
        4
    } else if sample_rate < 192_000 {
        2
    } else {
        1
    };
    let mut coef = [[0.0f32; PHASES]; TAPS];
    let used: &[usize] = match factor {
        4 => &[0, 1, 2, 3],
        2 => &[0, 2],
        _ => &[],
    };
    for (slot, &p) in used.iter().enumerate() {
        for (j, row) in coef.iter_mut().enumerate() {
            row[slot] = ANNEX2[p][TAPS - 1 - j] as f32;
        }
    }
    (factor, coef)
}

/// Whether the CPU has AVX2 and the portable kernels are not forced
/// ([`crate::util::portable_forced`]; checked once, when a [`BlockInterpolator`] is created).
fn detect_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !crate::util::portable_forced() && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Block form of the interpolator, shared by [`crate::meter::LiveMeter`] and
/// [`crate::limiter::Limiter`]: output `i` filters the window `src[i..i + TAPS]` (oldest →
/// newest) with every phase in use.
///
/// At 4× the Annex 2 filter's symmetry is used: phase 3 is phase 0 reversed and phase 2 is
/// phase 1 reversed, so with `s_j = w_j + w_{11−j}` and `d_j = w_j − w_{11−j}` (`j < 6`) the sums
/// `o0 ± o3` and `o1 ± o2` need 6 multiplications each, and
/// `max(|a|, |b|) = (|a + b| + |a − b|) / 2` gives the peak of each pair without separating it
/// (24 multiplications per output instead of 48). At 2× the phases in use (0 and 2) are not a
/// mirrored pair and the plain form runs.
///
/// Every output goes through the same sequence of `f32` operations whatever the number of
/// lanes (8 with AVX2, 4 otherwise — SSE2 intrinsics on x86-64 for the folded form —, 1 for
/// tails), so the result does not depend on the CPU or on how a signal is split into blocks.
#[derive(Debug, Clone)]
pub(crate) struct BlockInterpolator {
    factor: usize,
    /// Plain coefficients (see [`window_coefficients`]).
    coef: [[f32; PHASES]; TAPS],
    /// Folded coefficients for 4×: `sym[j] = [(c0[j] + c3[j]), (c0[j] − c3[j]), (c1[j] + c2[j]),
    /// (c1[j] − c2[j])] / 2` for window element `j < 6`, where `cp[j]` multiplies window element
    /// `j` for phase `p`.
    sym: [[f32; 4]; TAPS / 2],
    /// Whether the AVX2 build of the kernels may be used (detected once in `new`).
    wide: bool,
    /// See [`bound_gain`](Self::bound_gain).
    bound_gain: f32,
}

/// One kernel form: the interpolated peak of `L` consecutive outputs.
trait Points {
    /// Largest |value| over the phases for outputs `0..L` of `win` (at least `TAPS + L − 1`
    /// long; zeros otherwise).
    fn points<const L: usize>(&self, win: &[f32]) -> [f32; L];
}

/// Folded 4× form.
struct Folded<'a>(&'a [[f32; 4]; TAPS / 2]);
/// Plain form (any phases; unused ones are zero).
struct Plain<'a>(&'a [[f32; PHASES]; TAPS]);

/// [`Folded`] over 4 outputs with SSE2 (part of every x86-64 CPU): the same operations in
/// the same order per lane as the generic form, so the same results bit for bit. (The
/// generic form at 4 lanes compiles to scalar loads and shuffles that rebuild the
/// overlapping windows, about twice the instructions.)
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn folded4_sse2(k: &[[f32; 4]; TAPS / 2], win: &[f32]) -> [f32; 4] {
    use std::arch::x86_64::*;
    if win.len() < TAPS + 3 {
        return [0.0; 4];
    }
    let p = win.as_ptr();
    // SAFETY: SSE2 is part of the x86-64 baseline; every load reads 4 `f32` starting at most
    // at index TAPS − 1, inside `win` (checked above: at least TAPS + 3 long).
    unsafe {
        let load = |j: usize| (_mm_loadu_ps(p.add(j)), _mm_loadu_ps(p.add(TAPS - 1 - j)));
        let (lo, hi) = load(0);
        let (s, d) = (_mm_add_ps(lo, hi), _mm_sub_ps(lo, hi));
        let c = k[0];
        let mut a0 = _mm_mul_ps(_mm_set1_ps(c[0]), s);
        let mut a1 = _mm_mul_ps(_mm_set1_ps(c[1]), d);
        let mut a2 = _mm_mul_ps(_mm_set1_ps(c[2]), s);
        let mut a3 = _mm_mul_ps(_mm_set1_ps(c[3]), d);
        for (j, c) in k.iter().enumerate().skip(1) {
            let (lo, hi) = load(j);
            let (s, d) = (_mm_add_ps(lo, hi), _mm_sub_ps(lo, hi));
            a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_set1_ps(c[0]), s));
            a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_set1_ps(c[1]), d));
            a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_set1_ps(c[2]), s));
            a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_set1_ps(c[3]), d));
        }
        let m = _mm_castsi128_ps(_mm_set1_epi32(0x7fff_ffff));
        let p03 = _mm_add_ps(_mm_and_ps(a0, m), _mm_and_ps(a1, m));
        let p12 = _mm_add_ps(_mm_and_ps(a2, m), _mm_and_ps(a3, m));
        // `p12 > p03 ? p12 : p03`, which is what `maxps(p12, p03)` computes.
        let mut out = [0.0f32; 4];
        _mm_storeu_ps(out.as_mut_ptr(), _mm_max_ps(p12, p03));
        out
    }
}

impl Points for Folded<'_> {
    #[inline(always)]
    fn points<const L: usize>(&self, win: &[f32]) -> [f32; L] {
        #[cfg(target_arch = "x86_64")]
        if L == 4 {
            let v = folded4_sse2(self.0, win);
            let mut out = [0.0f32; L];
            for (o, x) in out.iter_mut().zip(v) {
                *o = x;
            }
            return out;
        }
        let mut a = [[0.0f32; L]; 4];
        for (j, k) in self.0.iter().enumerate() {
            let (Some(lo), Some(hi)) = (win.get(j..j + L), win.get(TAPS - 1 - j..TAPS - 1 - j + L))
            else {
                return [0.0; L];
            };
            let mut s = [0.0f32; L];
            let mut d = [0.0f32; L];
            for l in 0..L {
                s[l] = lo[l] + hi[l];
                d[l] = lo[l] - hi[l];
            }
            if j == 0 {
                // The sums start at the first products (the same as adding them to 0, up to
                // the sign of a zero, which the magnitudes below drop).
                for l in 0..L {
                    a[0][l] = k[0] * s[l];
                    a[1][l] = k[1] * d[l];
                    a[2][l] = k[2] * s[l];
                    a[3][l] = k[3] * d[l];
                }
            } else {
                for l in 0..L {
                    a[0][l] += k[0] * s[l];
                    a[1][l] += k[1] * d[l];
                    a[2][l] += k[2] * s[l];
                    a[3][l] += k[3] * d[l];
                }
            }
        }
        let mut out = [0.0f32; L];
        for l in 0..L {
            let p03 = a[0][l].abs() + a[1][l].abs();
            let p12 = a[2][l].abs() + a[3][l].abs();
            out[l] = if p12 > p03 { p12 } else { p03 };
        }
        out
    }
}

impl Points for Plain<'_> {
    #[inline(always)]
    fn points<const L: usize>(&self, win: &[f32]) -> [f32; L] {
        let mut acc = [[0.0f32; L]; PHASES];
        for (k, row) in self.0.iter().enumerate() {
            let Some(x) = win.get(k..k + L) else {
                return [0.0; L];
            };
            for (a, &c) in acc.iter_mut().zip(row) {
                for l in 0..L {
                    a[l] += c * x[l];
                }
            }
        }
        let mut out = [0.0f32; L];
        for a in &acc {
            for l in 0..L {
                let v = a[l].abs();
                out[l] = if v > out[l] { v } else { out[l] };
            }
        }
        out
    }
}

/// Largest interpolated point over outputs `0..n`: `L` at a time, then one at a time.
#[inline(always)]
fn peak_lanes<const L: usize, K: Points>(k: &K, src: &[f32], n: usize) -> f32 {
    let mut mx = [0.0f32; L];
    let mut i = 0;
    while i + L <= n {
        let Some(win) = src.get(i..i + TAPS + L - 1) else {
            break;
        };
        let v = k.points::<L>(win);
        for l in 0..L {
            mx[l] = if v[l] > mx[l] { v[l] } else { mx[l] };
        }
        i += L;
    }
    let mut m = mx.iter().fold(0.0f32, |a, &b| if b > a { b } else { a });
    while i < n {
        let Some(win) = src.get(i..i + TAPS) else {
            break;
        };
        let [v] = k.points::<1>(win);
        m = if v > m { v } else { m };
        i += 1;
    }
    m
}

/// Whether every |element| of `win` (`TAPS + L − 1` long) times `gain` is below `floor`:
/// then no output of the `L` outputs it holds can reach `floor` (see
/// [`BlockInterpolator::bound_gain`]). Lane-wise maxima over `L`-wide loads covering the
/// window, then one comparison per lane.
#[inline(always)]
fn below<const L: usize>(win: &[f32], gain: f32, floor: f32) -> bool {
    let mut m = [0.0f32; L];
    let mut o = 0;
    loop {
        // Loads at 0, L, 2L, … while they start inside the first TAPS − 1 elements, then one
        // ending at the last element: together they cover the window.
        let at = if o < TAPS - 1 { o } else { TAPS - 1 };
        let Some(x) = win.get(at..at + L) else {
            return false;
        };
        for l in 0..L {
            let a = x[l].abs();
            m[l] = if a > m[l] { a } else { m[l] };
        }
        if at == TAPS - 1 {
            break;
        }
        o += L;
    }
    let mut reach = false;
    for &v in &m {
        reach |= v * gain >= floor;
    }
    !reach
}

/// Sets (`SET`) or raises `peaks[i]` to the interpolated peak of output `i` and to its raw
/// sample (window element `TAPS − 1 − DELAY`): `L` at a time, then one at a time. A group of
/// `L` outputs whose window cannot reach `floor` ([`below`]) gets only its raw samples, which
/// are below `floor` too: every value at or above `floor` is exact, every other one stays
/// below it.
#[inline(always)]
fn raise_lanes<const L: usize, const SET: bool, K: Points>(
    k: &K,
    src: &[f32],
    peaks: &mut [f32],
    gain: f32,
    floor: f32,
) {
    let n = peaks.len();
    let mut i = 0;
    while i + L <= n {
        let (Some(win), Some(out)) = (src.get(i..i + TAPS + L - 1), peaks.get_mut(i..i + L)) else {
            break;
        };
        let v = if floor > 0.0 && below::<L>(win, gain, floor) {
            [0.0f32; L]
        } else {
            k.points::<L>(win)
        };
        if let Some(raw) = win.get(TAPS - 1 - DELAY..TAPS - 1 - DELAY + L) {
            for l in 0..L {
                let r = raw[l].abs();
                let m = if v[l] > r { v[l] } else { r };
                out[l] = if SET || m > out[l] { m } else { out[l] };
            }
        }
        i += L;
    }
    while i < n {
        let (Some(win), Some(p)) = (src.get(i..i + TAPS), peaks.get_mut(i)) else {
            break;
        };
        let [v] = k.points::<1>(win);
        let r = win.get(TAPS - 1 - DELAY).copied().unwrap_or(0.0).abs();
        let m = if v > r { v } else { r };
        *p = if SET || m > *p { m } else { *p };
        i += 1;
    }
}

/// The kernels compiled for AVX2 (8 lanes).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;

    #[target_feature(enable = "avx2")]
    pub(super) fn peak<K: Points>(k: &K, src: &[f32], n: usize) -> f32 {
        peak_lanes::<8, K>(k, src, n)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn raise<const SET: bool, K: Points>(
        k: &K,
        src: &[f32],
        peaks: &mut [f32],
        gain: f32,
        floor: f32,
    ) {
        raise_lanes::<8, SET, K>(k, src, peaks, gain, floor)
    }
}

impl BlockInterpolator {
    /// Interpolator for `sample_rate` (see [`window_coefficients`] for the factor). Checks
    /// the CPU features once.
    pub(crate) fn new(sample_rate: u32) -> Self {
        let (factor, coef) = window_coefficients(sample_rate);
        let mut sym = [[0.0f32; 4]; TAPS / 2];
        for (j, k) in sym.iter_mut().enumerate() {
            let m = TAPS - 1 - j;
            // Exact: the Annex 2 coefficients are short binary fractions.
            *k = [
                0.5 * (coef[j][0] + coef[m][0]),
                0.5 * (coef[j][0] - coef[m][0]),
                0.5 * (coef[j][1] + coef[m][1]),
                0.5 * (coef[j][1] - coef[m][1]),
            ];
        }
        // Bound on |output| / max |window element| over every phase in use, as computed:
        // folded, |a0| + |a1| ≤ Σ (|k0| + |k1|)·max(|s|, |d|) ≤ 2·Σ (|k0| + |k1|)·max|w| (the
        // same for phases 1/2); plain, Σ |c|·max|w| per phase. The raw sample (|w| ≤ max|w|)
        // is within it too (the sums are above 1). The 0.1 % on top covers the `f32`
        // rounding of the few operations per output (≈ 1e−6).
        let sum = |f: &dyn Fn(usize) -> f64| (0..TAPS).map(f).sum::<f64>();
        let exact = match factor {
            4 => {
                let s = |a: usize, b: usize| {
                    sum(&|j| {
                        sym.get(j)
                            .map_or(0.0, |k| 2.0 * (k[a].abs() as f64 + k[b].abs() as f64))
                    })
                };
                s(0, 1).max(s(2, 3))
            }
            2 => (0..PHASES)
                .map(|p| sum(&|j| coef[j][p].abs() as f64))
                .fold(0.0, f64::max),
            _ => 1.0,
        };
        Self {
            factor,
            coef,
            sym,
            wide: detect_avx2(),
            bound_gain: (exact.max(1.0) * 1.001) as f32,
        }
    }

    /// Upper bound on |interpolated point| (and on the raw sample) of one output divided by
    /// the largest |element| of its window, with room for rounding: a window whose largest
    /// |element| times this is below a level cannot produce a value at that level.
    #[cfg(test)]
    pub(crate) fn bound_gain(&self) -> f32 {
        self.bound_gain
    }

    /// Oversampling factor (4, 2 or 1; at 1 there are no interpolated points).
    pub(crate) fn factor(&self) -> usize {
        self.factor
    }

    /// Forces the portable (non-AVX2) kernels.
    #[cfg(test)]
    pub(crate) fn portable(mut self) -> Self {
        self.wide = false;
        self
    }

    /// Largest |interpolated point| of outputs `0..n` (0 at factor 1 or when `src` is shorter
    /// than `n + TAPS − 1`, for the outputs it cannot hold). Real-time safe.
    #[inline]
    pub(crate) fn peak(&self, src: &[f32], n: usize) -> f32 {
        match self.factor {
            4 => self.peak_with(&Folded(&self.sym), src, n),
            2 => self.peak_with(&Plain(&self.coef), src, n),
            _ => 0.0,
        }
    }

    /// Raises `peaks[i]` to the largest of the interpolated points of output `i` and the raw
    /// sample `DELAY` frames before the newest of its window (at factor 1: to the raw newest
    /// sample `|src[i + TAPS − 1]|`). Real-time safe.
    ///
    /// Values under `floor` may be left lower than that (the raw samples only) where the
    /// window shows that no interpolated point can reach `floor`; every value at or above
    /// `floor` is exact. A `floor` of 0 computes every point.
    #[inline]
    pub(crate) fn raise(&self, src: &[f32], peaks: &mut [f32], floor: f32) {
        self.detect_into::<false>(src, peaks, floor);
    }

    /// As [`raise`](Self::raise), but overwrites `peaks[i]` (as if they were 0 before): for
    /// the first channel. Real-time safe.
    #[inline]
    pub(crate) fn detect(&self, src: &[f32], peaks: &mut [f32], floor: f32) {
        self.detect_into::<true>(src, peaks, floor);
    }

    #[inline(always)]
    fn detect_into<const SET: bool>(&self, src: &[f32], peaks: &mut [f32], floor: f32) {
        match self.factor {
            4 => self.raise_with::<SET, _>(&Folded(&self.sym), src, peaks, floor),
            2 => self.raise_with::<SET, _>(&Plain(&self.coef), src, peaks, floor),
            _ => {
                for (p, &x) in peaks.iter_mut().zip(src.iter().skip(TAPS - 1)) {
                    *p = if SET { x.abs() } else { p.max(x.abs()) };
                }
            }
        }
    }

    #[inline(always)]
    fn peak_with<K: Points>(&self, k: &K, src: &[f32], n: usize) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if self.wide {
            // SAFETY: `wide` is only true when `is_x86_feature_detected!("avx2")` returned
            // true in `new`, so the CPU supports the instructions this function uses.
            return unsafe { avx2::peak(k, src, n) };
        }
        peak_lanes::<4, K>(k, src, n)
    }

    #[inline(always)]
    fn raise_with<const SET: bool, K: Points>(
        &self,
        k: &K,
        src: &[f32],
        peaks: &mut [f32],
        floor: f32,
    ) {
        let gain = self.bound_gain;
        #[cfg(target_arch = "x86_64")]
        if self.wide {
            // SAFETY: as in `peak_with`.
            unsafe { avx2::raise::<SET, K>(k, src, peaks, gain, floor) };
            return;
        }
        raise_lanes::<4, SET, K>(k, src, peaks, gain, floor)
    }
}

/// Largest magnitude the meters take in (+240 dBFS): only keeps the squares finite, so that
/// the meters measure what arrives however loud.
pub(crate) const METER_MAX_INPUT: f32 = 1e12;

/// Makes an input sample safe for the metering filters ([`crate::util::sanitize_below`] at
/// [`METER_MAX_INPUT`]).
#[inline(always)]
pub(crate) fn sanitize(x: f32) -> f32 {
    crate::util::sanitize_below(x, METER_MAX_INPUT)
}

/// Largest |value| of the interpolated points of one window (oldest → newest) over all
/// phases. Unused phases have zero coefficients and contribute 0.
#[inline(always)]
fn phases_peak(coef: &[[f32; PHASES]; TAPS], window: &[f32; TAPS]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE and SSE2 are part of the x86_64 baseline, so these instructions are
        // always available; each `_mm_loadu_ps` reads exactly the 4 `f32` of one `coef` row.
        unsafe {
            let mut part = [_mm_setzero_ps(); 3];
            for (g, acc) in part.iter_mut().enumerate() {
                for j in 4 * g..4 * g + 4 {
                    let c = _mm_loadu_ps(coef[j].as_ptr());
                    *acc = _mm_add_ps(*acc, _mm_mul_ps(c, _mm_set1_ps(window[j])));
                }
            }
            let sum = _mm_add_ps(_mm_add_ps(part[0], part[1]), part[2]);
            let abs = _mm_and_ps(sum, _mm_castsi128_ps(_mm_set1_epi32(0x7fff_ffff)));
            let m = _mm_max_ps(abs, _mm_movehl_ps(abs, abs));
            let m = _mm_max_ss(m, _mm_shuffle_ps::<0b01>(m, m));
            _mm_cvtss_f32(m)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut acc = [0.0f32; PHASES];
        for (c, &w) in coef.iter().zip(window.iter()) {
            for p in 0..PHASES {
                acc[p] += c[p] * w;
            }
        }
        acc.iter().fold(0.0f32, |m, &a| m.max(a.abs()))
    }
}

/// Per-channel interpolator state: a doubled ring of the last [`TAPS`] inputs so that the
/// newest `TAPS` samples are always one contiguous slice.
#[derive(Debug, Clone)]
struct ChannelState {
    ring: [f32; 2 * TAPS],
    /// Index of the oldest sample of the contiguous window `ring[pos..pos + TAPS]`.
    pos: usize,
}

impl ChannelState {
    const fn new() -> Self {
        Self {
            ring: [0.0; 2 * TAPS],
            pos: 0,
        }
    }
}

/// Oversampling true-peak detector for a set of channels (one interpolator per channel).
///
/// See the [module documentation](self) for the filter, the oversampling factor per sample
/// rate and the latency.
#[derive(Debug, Clone)]
pub struct TruePeakDetector {
    /// Oversampling factor: 4, 2 or 1.
    factor: usize,
    /// Coefficients rearranged for the window order oldest → newest: `coef[j][p]` multiplies
    /// window element `j` (input `x[n − (TAPS − 1 − j)]`) for phase `p`. Phases not used at the
    /// current factor are zero.
    coef: [[f32; PHASES]; TAPS],
    states: Vec<ChannelState>,
}

impl TruePeakDetector {
    /// Creates a detector for `channels` channels at `sample_rate` Hz.
    ///
    /// Allocates. A `channels` of 0 is treated as 1.
    pub fn new(sample_rate: u32, channels: usize) -> Self {
        let (factor, coef) = window_coefficients(sample_rate);
        Self {
            factor,
            coef,
            states: vec![ChannelState::new(); channels.max(1)],
        }
    }

    /// Clears the interpolator history of every channel. Real-time safe.
    pub fn reset(&mut self) {
        for s in &mut self.states {
            *s = ChannelState::new();
        }
    }

    /// Number of channels this detector was created for.
    pub fn channels(&self) -> usize {
        self.states.len()
    }

    /// Oversampling factor in use (4, 2 or 1).
    pub fn oversampling(&self) -> usize {
        self.factor
    }

    /// Feeds one sample of channel `ch` and returns the largest absolute value (linear) of
    /// the interpolated points this sample produced, together with the raw sample delayed by
    /// [`latency_frames`](Self::latency_frames).
    ///
    /// Real-time safe: no allocation, no panic for any input. Input is sanitised as described
    /// in the [module documentation](self) (NaN/∞ count as 0). A `ch` out of range returns the
    /// sanitised `|x|` and changes no state.
    #[inline]
    pub fn push(&mut self, ch: usize, x: f32) -> f32 {
        let x = sanitize(x);
        let Some(st) = self.states.get_mut(ch) else {
            return x.abs();
        };
        if self.factor == 1 {
            return x.abs();
        }
        let pos = st.pos % TAPS;
        st.ring[pos] = x;
        st.ring[pos + TAPS] = x;
        let start = (pos + 1) % TAPS;
        st.pos = start;
        let window: &[f32; TAPS] = match st.ring[start..start + TAPS].try_into() {
            Ok(w) => w,
            Err(_) => return x.abs(),
        };
        // The raw sample n − DELAY sits at window index TAPS − 1 − DELAY.
        let raw = window[TAPS - 1 - DELAY].abs();
        phases_peak(&self.coef, window).max(raw)
    }

    /// Delay, in input frames, between a sample entering [`push`](Self::push) and the value
    /// describing it coming out: 6 when oversampling (the filter's group delay of 5.875 frames
    /// rounded up; see the [module documentation](self)), 0 at 192 kHz and above.
    pub fn latency_frames(&self) -> usize {
        if self.factor == 1 {
            0
        } else {
            DELAY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// Every phase in use, straight from the Annex 2 table, in `f64`.
    fn direct_points(rate: u32, win: &[f32]) -> f64 {
        let phases: &[usize] = match window_coefficients(rate).0 {
            4 => &[0, 1, 2, 3],
            2 => &[0, 2],
            _ => &[],
        };
        let mut m = 0.0f64;
        for &p in phases {
            let acc: f64 = (0..TAPS)
                .map(|i| ANNEX2[p][i] * win[TAPS - 1 - i] as f64)
                .sum();
            m = m.max(acc.abs());
        }
        m
    }

    #[test]
    fn block_kernels_match_the_filter_and_each_other() {
        for rate in [44_100u32, 48_000, 96_000] {
            let fast = BlockInterpolator::new(rate);
            let port = fast.clone().portable();
            for n in [0usize, 1, 3, 4, 5, 7, 8, 9, 64, 203] {
                let src = noise(n + TAPS - 1, 7 + n as u32);
                // Bit-identical whatever the lane count (AVX2, portable, one at a time).
                let wide = fast.peak(&src, n);
                assert_eq!(
                    wide.to_bits(),
                    port.peak(&src, n).to_bits(),
                    "rate {rate} n {n}"
                );
                let mut one = 0.0f32;
                for i in 0..n {
                    one = one.max(port.peak(&src[i..], 1));
                }
                assert_eq!(wide.to_bits(), one.to_bits(), "rate {rate} n {n}");
                let mut want = 0.0f64;
                for i in 0..n {
                    want = want.max(direct_points(rate, &src[i..i + TAPS]));
                }
                assert!((wide as f64 - want).abs() <= 1e-6, "{wide} vs {want}");
                let mut pw = vec![0.1f32; n];
                let mut pp = vec![0.1f32; n];
                fast.raise(&src, &mut pw, 0.0);
                port.raise(&src, &mut pp, 0.0);
                assert_eq!(pw, pp);
                for (i, &p) in pw.iter().enumerate() {
                    let raw = src[i + TAPS - 1 - DELAY].abs() as f64;
                    let want = direct_points(rate, &src[i..i + TAPS]).max(raw).max(0.1);
                    assert!((p as f64 - want).abs() <= 1e-6, "{p} vs {want}");
                }
            }
        }
        // Without oversampling: no interpolated points, the raise is the newest raw sample.
        let none = BlockInterpolator::new(192_000);
        let src = noise(20, 3);
        assert_eq!(none.peak(&src, 9), 0.0);
        let mut p = vec![0.0f32; 9];
        none.raise(&src, &mut p, 0.0);
        for (i, &v) in p.iter().enumerate() {
            assert_eq!(v, src[i + TAPS - 1].abs());
        }
    }

    #[test]
    fn values_at_or_above_the_floor_are_exact() {
        for rate in [48_000u32, 96_000] {
            let fast = BlockInterpolator::new(rate);
            let port = fast.clone().portable();
            // Quiet stretches with a few loud bursts: most windows cannot reach the floor.
            let n = 500;
            let mut src = noise(n + TAPS - 1, 5);
            for (i, x) in src.iter_mut().enumerate() {
                *x *= if (i / 40) % 5 == 2 { 1.0 } else { 0.05 };
            }
            for floor in [0.0f32, 0.05, 0.2, 0.45, 2.0] {
                let mut exact = vec![0.0f32; n];
                fast.detect(&src, &mut exact, 0.0);
                for tp in [&fast, &port] {
                    let mut p = vec![0.0f32; n];
                    tp.detect(&src, &mut p, floor);
                    let mut q = vec![0.01f32; n];
                    tp.raise(&src, &mut q, floor);
                    for i in 0..n {
                        let want = exact[i];
                        if want >= floor {
                            assert_eq!(p[i].to_bits(), want.to_bits(), "floor {floor} i {i}");
                            assert_eq!(q[i].to_bits(), want.max(0.01).to_bits());
                        } else {
                            assert!(p[i] < floor && p[i] <= want, "floor {floor} i {i}");
                            assert!(q[i] < floor.max(0.010_001));
                        }
                    }
                }
            }
            // Every window can be bounded: the gain is at least the largest phase's sum.
            assert!(fast.bound_gain() > 1.4 && fast.bound_gain() < 3.0);
        }
    }

    #[test]
    fn block_kernel_tolerates_short_input() {
        let tp = BlockInterpolator::new(48_000);
        let src = noise(30, 11);
        // Outputs that the source cannot hold are skipped, nothing panics.
        assert!(tp.peak(&src, 100) > 0.0);
        let mut p = vec![0.0f32; 100];
        tp.raise(&src, &mut p, 0.0);
        assert!(p[..19].iter().all(|&v| v > 0.0));
        assert!(p[19..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn annex2_filter_is_symmetric_with_near_unity_dc_gain() {
        // Prototype h[4i + p] = ANNEX2[p][i] is symmetric about its centre.
        let mut h = [0.0f64; 48];
        for (p, row) in ANNEX2.iter().enumerate() {
            for (i, &c) in row.iter().enumerate() {
                h[4 * i + p] = c;
            }
        }
        for j in 0..48 {
            assert_eq!(h[j], h[47 - j], "tap {j}");
        }
        for row in &ANNEX2 {
            let dc: f64 = row.iter().sum();
            // The published filter's phases 1 and 2 have a DC gain of 0.973 (−0.24 dB).
            assert!((dc - 1.0).abs() < 0.03, "phase DC gain {dc}");
        }
    }

    #[test]
    fn dc_settles_to_its_level_after_latency() {
        let mut d = TruePeakDetector::new(48_000, 1);
        let mut last = 0.0;
        for _ in 0..20 {
            last = d.push(0, 0.5);
        }
        assert!((last - 0.5).abs() < 0.01, "{last}");
    }

    #[test]
    fn impulse_reports_raw_sample_after_latency() {
        let mut d = TruePeakDetector::new(48_000, 1);
        let lat = d.latency_frames();
        assert_eq!(lat, 6);
        let mut out = Vec::new();
        out.push(d.push(0, 1.0));
        for _ in 0..20 {
            out.push(d.push(0, 0.0));
        }
        let (imax, vmax) =
            out.iter()
                .enumerate()
                .fold((0, 0.0f32), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        assert_eq!(imax, lat);
        assert_eq!(vmax, 1.0);
    }

    #[test]
    fn quarter_rate_sine_at_45_degrees_overshoots_3db() {
        for rate in [44_100, 48_000, 96_000] {
            let mut d = TruePeakDetector::new(rate, 2);
            let mut peak = 0.0f32;
            for n in 0..4000 {
                let ph = std::f64::consts::FRAC_PI_2 * n as f64 + std::f64::consts::FRAC_PI_4;
                let x = (0.5 * ph.sin()) as f32;
                peak = peak.max(d.push(1, x));
            }
            // The samples themselves are at 0.5 · cos 45° (−3.01 dB relative to the true
            // peak of 0.5); the detector must see the overshoot within +0.2/−0.4 dB.
            let over = 20.0 * (peak as f64 / (0.5 * 0.5f64.sqrt())).log10();
            assert!(
                over > 3.01 - 0.4 && over < 3.01 + 0.2,
                "rate {rate}: {over} dB"
            );
        }
    }

    #[test]
    fn out_of_range_channel_and_bad_input() {
        let mut d = TruePeakDetector::new(48_000, 1);
        assert_eq!(d.push(5, -0.25), 0.25);
        assert_eq!(d.push(0, f32::NAN), 0.0);
        assert_eq!(d.push(0, f32::INFINITY), 0.0);
        assert!(d.push(0, f32::MAX).is_finite());
        for _ in 0..20 {
            assert!(d.push(0, 1e-40).is_finite());
        }
    }

    #[test]
    fn very_high_rates_do_not_oversample() {
        let mut d = TruePeakDetector::new(192_000, 1);
        assert_eq!(d.latency_frames(), 0);
        assert_eq!(d.oversampling(), 1);
        assert_eq!(d.push(0, -0.75), 0.75);
    }
}
