//! Small numeric helpers shared by the stages. All functions are real-time safe.

use std::sync::atomic::{AtomicBool, Ordering};

/// Environment variable that, when set to anything but empty or `0`, makes every meter and
/// limiter created afterwards use the portable kernels instead of the AVX / AVX2 ones (to
/// compare the two paths; their output is the same bit for bit).
pub const PORTABLE_ENV: &str = "HEADROOM_PORTABLE_SIMD";

static FORCE_PORTABLE: AtomicBool = AtomicBool::new(false);

/// Makes every meter and limiter created after this call use the portable kernels (`true`)
/// or the CPU's best ones (`false`, the default; [`PORTABLE_ENV`] still applies). Stages
/// already created keep the kernels they chose. For benchmarks and tests: the output does not
/// change.
pub fn force_portable(on: bool) {
    FORCE_PORTABLE.store(on, Ordering::Relaxed);
}

/// Whether stages created now use the portable kernels whatever the CPU has
/// ([`force_portable`] or [`PORTABLE_ENV`]). Reads the environment: call it only where
/// allocation is allowed (constructors).
pub fn portable_forced() -> bool {
    FORCE_PORTABLE.load(Ordering::Relaxed)
        || std::env::var_os(PORTABLE_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether the CPU has AVX and the portable kernels are not forced
/// ([`portable_forced`]; checked once, at construction).
pub(crate) fn detect_avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !portable_forced() && std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Sanitises the interleaved samples of `part` in place ([`sanitize`]) and copies them into
/// `copy` (as far as both go). Compiled for AVX when `wide` (the same operations per
/// sample, so the same results bit for bit).
#[inline]
pub(crate) fn sanitize_and_copy(part: &mut [f32], copy: &mut [f32], wide: bool) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` is only true when `detect_avx` returned true, so the CPU supports
        // the instructions this function uses.
        return unsafe { sanitize_and_copy_avx(part, copy) };
    }
    let _ = wide;
    sanitize_and_copy_body(part, copy);
}

/// [`sanitize_and_copy_body`] compiled for AVX.
///
/// # Safety
/// The CPU must support AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn sanitize_and_copy_avx(part: &mut [f32], copy: &mut [f32]) {
    sanitize_and_copy_body(part, copy);
}

#[inline(always)]
fn sanitize_and_copy_body(part: &mut [f32], copy: &mut [f32]) {
    for (x, d) in part.iter_mut().zip(copy.iter_mut()) {
        *x = sanitize(*x);
        *d = *x;
    }
}

/// Converts decibels to a linear gain factor.
#[inline]
pub fn db_to_lin(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Converts a linear gain factor to decibels (−inf for 0).
#[inline]
pub fn lin_to_db(lin: f32) -> f32 {
    20.0 * lin.log10()
}

/// Converts decibels to a linear gain factor, in `f64`.
#[inline]
pub fn db_to_lin64(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Largest magnitude an input sample may have after [`sanitize`]: +60 dBFS. Anything louder
/// is garbage, and clamping keeps squares and sums finite.
pub const MAX_INPUT: f32 = 1000.0;

/// Makes an input sample safe for the levelling stages: NaN and ±∞ become 0 (silence),
/// magnitudes below 1e−20 (denormal territory) become 0, magnitudes above [`MAX_INPUT`] are
/// clamped to it. [`sanitize_below`] with the levelling stages' limit. Real-time safe.
#[inline(always)]
pub fn sanitize(x: f32) -> f32 {
    sanitize_below(x, MAX_INPUT)
}

/// Makes an input sample safe for arithmetic: NaN and ±∞ become 0, magnitudes below 1e−20
/// (denormal territory) become 0, magnitudes above `limit` are clamped to ±`limit`.
///
/// The stages differ only in `limit`: the levelling stages use [`MAX_INPUT`] (+60 dBFS: a
/// gain computed from louder input would be meaningless); the meters clamp at 1e12 only to
/// keep squares finite, so that they measure what arrives, however loud. Written as selects
/// (no branches) so that block loops vectorise; NaN fails every comparison and ends up as 0,
/// like ±∞. Real-time safe.
#[inline(always)]
pub fn sanitize_below(x: f32, limit: f32) -> f32 {
    let a = x.abs();
    let clamped = if a > limit { limit.copysign(x) } else { x };
    if (1e-20..f32::INFINITY).contains(&a) {
        clamped
    } else {
        0.0
    }
}

/// Flushes a state value that decayed to denormal range (|x| < 1e−20) to exactly 0.
#[inline(always)]
pub fn flush(x: f32) -> f32 {
    if x.abs() < 1e-20 {
        0.0
    } else {
        x
    }
}

/// One-pole smoothing coefficient for a time constant of `tau_s` seconds evaluated every
/// `1 / update_rate_hz` seconds: `y += (1 − a)·(x − y)` reaches 63 % after `tau_s`. Returns the
/// `1 − a` factor (0 < result ≤ 1); a non-positive or non-finite time constant gives 1
/// (no smoothing).
#[inline]
pub fn one_pole_alpha(tau_s: f64, update_rate_hz: f64) -> f64 {
    if !(tau_s.is_finite() && tau_s > 0.0 && update_rate_hz.is_finite() && update_rate_hz > 0.0) {
        return 1.0;
    }
    1.0 - (-1.0 / (tau_s * update_rate_hz)).exp()
}

/// Sum of `x²` over `buf`, accumulated in `f32` lanes so that it vectorises (exact enough for
/// blocks of a few thousand samples). Real-time safe.
#[inline]
pub fn sum_squares(buf: &[f32]) -> f64 {
    const L: usize = 8;
    let mut acc = [0.0f32; L];
    let mut chunks = buf.chunks_exact(L);
    for c in chunks.by_ref() {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x * x;
        }
    }
    let mut s: f64 = acc.iter().map(|&a| f64::from(a)).sum();
    for &x in chunks.remainder() {
        s += f64::from(x * x);
    }
    s
}

/// Applies a linear gain ramp over one control step to interleaved frames in place: frame `k`
/// of `buf` (counted from 0) is multiplied by `from + (to − from)·(q / step)` with
/// `q = min(pos + k + 1, step)`, where `pos` is the number of frames of the step done before
/// (frames past the step's end get `to`). Returns the new position, `min(pos + frames, step)`.
/// A trailing partial frame is left untouched.
///
/// Stereo runs eight frames at a time with the gains spelled out per sample (so that it
/// vectorises); every sample goes through the same `f32` operations as the one-frame-at-a-time
/// form, so the result is the same bit for bit. Real-time safe.
#[inline]
pub fn gain_ramp(
    buf: &mut [f32],
    channels: usize,
    from: f32,
    to: f32,
    pos: usize,
    step: usize,
) -> usize {
    let ch = channels.max(1);
    let frames = buf.len() / ch;
    let inv = 1.0 / step as f32;
    let d = to - from;
    let end = pos.saturating_add(frames).min(step);
    let mut pos = pos.min(step);
    let mut rest = buf.get_mut(..frames * ch).unwrap_or(&mut []);
    if ch == 2 {
        // Frame offsets 1..=8, once per channel.
        const OFF: [f32; 16] = [
            1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 8.0, 8.0,
        ];
        // Whole numbers below 2^24 are exact in f32, so `base + off` is `(pos + k + 1) as f32`.
        let stepf = step as f32;
        let mut chunks = rest.chunks_exact_mut(16);
        for c in chunks.by_ref() {
            let base = pos as f32;
            for (x, &o) in c.iter_mut().zip(OFF.iter()) {
                let q = (base + o).min(stepf);
                *x *= from + d * (q * inv);
            }
            pos = (pos + 8).min(step);
        }
        rest = chunks.into_remainder();
    }
    for frame in rest.chunks_exact_mut(ch) {
        pos = (pos + 1).min(step);
        let g = from + d * (pos as f32 * inv);
        for x in frame.iter_mut() {
            *x *= g;
        }
    }
    end
}

/// The last argument and value of a pure `f64` function (a power, exponential or logarithm
/// in a control update), so that an update that sees the same argument as the last one skips
/// the call and gets the same value bit for bit. Starts with NaN, so `f` must map NaN to NaN
/// (every `powf`, `exp` and `log10` does). Real-time safe.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memo {
    arg: u64,
    val: f64,
}

impl Memo {
    /// An empty memo (the first call computes).
    pub(crate) const fn new() -> Self {
        Self {
            arg: 0x7ff8_0000_0000_0000,
            val: f64::NAN,
        }
    }

    /// `f(x)`, computed only when `x` differs (bitwise) from the last argument.
    #[inline]
    pub(crate) fn get(&mut self, x: f64, f: impl FnOnce(f64) -> f64) -> f64 {
        if x.to_bits() != self.arg {
            self.arg = x.to_bits();
            self.val = f(x);
        }
        self.val
    }
}

/// Sum of squares accumulated across calls so that the result does not depend on how the
/// samples were split into calls: sample `k` (counted since the last [`take`](Self::take))
/// always goes to lane `k mod 8`, each lane adds in sample order, and the lanes are summed
/// in a fixed order. Vectorises on whole lanes. Real-time safe.
#[derive(Debug, Clone, Copy, Default)]
pub struct LaneEnergy {
    lanes: [f32; 8],
    /// Samples added since the last `take`, modulo 8.
    offset: usize,
}

impl LaneEnergy {
    /// Adds the squares of `buf`.
    #[inline]
    pub fn add(&mut self, buf: &[f32]) {
        let mut rest = buf;
        // Head: up to the next lane boundary.
        while self.offset != 0 {
            let Some((&x, tail)) = rest.split_first() else {
                return;
            };
            if let Some(l) = self.lanes.get_mut(self.offset) {
                *l += x * x;
            }
            self.offset = (self.offset + 1) % 8;
            rest = tail;
        }
        let mut chunks = rest.chunks_exact(8);
        for c in chunks.by_ref() {
            for (l, &x) in self.lanes.iter_mut().zip(c) {
                *l += x * x;
            }
        }
        for (l, &x) in self.lanes.iter_mut().zip(chunks.remainder()) {
            *l += x * x;
        }
        self.offset = chunks.remainder().len();
    }

    /// The sum so far; starts over.
    #[inline]
    pub fn take(&mut self) -> f64 {
        let s = self.lanes.iter().map(|&l| f64::from(l)).sum();
        *self = Self::default();
        s
    }
}

/// The samples of a group of frames (a fixed number of interleaved samples) that arrive over
/// several calls, gathered so that the group is used whole, the same as one that came in one
/// call: what works on groups then does not depend on how the audio is split. [`new`](Self::new)
/// allocates; every other method is real-time safe. (`Default` is an empty gatherer, made
/// without allocating: a stand-in while one is taken out to be used.)
#[derive(Debug, Clone, Default)]
pub struct GroupGather {
    buf: Vec<f32>,
    len: usize,
}

impl GroupGather {
    /// A gatherer for groups of `samples` interleaved samples (at least 1). Allocates.
    pub fn new(samples: usize) -> Self {
        Self {
            buf: vec![0.0; samples.max(1)],
            len: 0,
        }
    }

    /// Samples in a whole group.
    pub fn group_len(&self) -> usize {
        self.buf.len()
    }

    /// Whether part of a group is held.
    pub fn is_partial(&self) -> bool {
        self.len > 0
    }

    /// Takes from the front of `rest` what completes the held group; returns the whole group
    /// when it is complete (it is then no longer held) and the samples left over.
    pub fn complete<'a>(&mut self, rest: &'a [f32]) -> (Option<&[f32]>, &'a [f32]) {
        let take = (self.buf.len() - self.len).min(rest.len());
        let (head, tail) = rest.split_at(take);
        if let Some(dst) = self.buf.get_mut(self.len..self.len + take) {
            dst.copy_from_slice(head);
        }
        self.len += take;
        if self.len < self.buf.len() {
            return (None, tail);
        }
        self.len = 0;
        (Some(&self.buf), tail)
    }

    /// Holds `tail` (shorter than a group) as the start of the next group.
    pub fn hold(&mut self, tail: &[f32]) {
        if let Some(dst) = self.buf.get_mut(..tail.len()) {
            dst.copy_from_slice(tail);
            self.len = tail.len();
        }
    }

    /// Drops what is held.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

/// Sum of channel `c` over a group of eight `ch`-channel interleaved frames in `g`, in the
/// one order the groups of the compressor's detector and the DC blocker are summed in
/// (frames `i` and `i + 4`, then `i` and `i + 2`, then the two), so that their stereo
/// kernels, whose lanes fold the same way, give the same results. Frames missing from `g`
/// count as 0. Real-time safe.
#[inline(always)]
pub fn fold_sum8(g: &[f32], ch: usize, c: usize) -> f32 {
    let v = |i: usize| g.get(i * ch + c).copied().unwrap_or(0.0);
    let s = |i: usize| (v(i) + v(i + 4)) + (v(i + 2) + v(i + 6));
    s(0) + s(1)
}

/// Largest `|x|` in `buf` (0 for an empty slice; NaN values are ignored). Exact, in lanes so
/// that it vectorises. Real-time safe.
#[inline]
pub fn abs_peak(buf: &[f32]) -> f32 {
    const L: usize = 8;
    let mut m = [0.0f32; L];
    let mut chunks = buf.chunks_exact(L);
    for c in chunks.by_ref() {
        for (mi, &x) in m.iter_mut().zip(c) {
            let a = x.abs();
            *mi = if a > *mi { a } else { *mi };
        }
    }
    let mut peak = 0.0f32;
    for &x in chunks.remainder() {
        let a = x.abs();
        peak = if a > peak { a } else { peak };
    }
    m.iter().fold(peak, |p, &a| if a > p { a } else { p })
}

/// Returns `v` if finite, else `fallback`; then clamps to `lo..=hi`.
#[inline]
pub fn finite_clamp(v: f32, fallback: f32, lo: f32, hi: f32) -> f32 {
    let v = if v.is_finite() { v } else { fallback };
    v.clamp(lo, hi)
}

/// Sliding-window maximum over the last `window` pushed values (monotonic queue in a fixed
/// ring). [`new`](Self::new) allocates; [`push`](Self::push) is real-time safe and O(1)
/// amortised.
#[derive(Debug, Clone)]
pub struct SlidingMax {
    /// Ring of (index, value) candidates, values strictly decreasing from head to tail.
    idx: Vec<u64>,
    val: Vec<f32>,
    head: usize,
    len: usize,
    window: u64,
    n: u64,
}

impl SlidingMax {
    /// Creates a window of `window` values (at least 1). Allocates.
    pub fn new(window: usize) -> Self {
        let cap = window.max(1) + 1;
        Self {
            idx: vec![0; cap],
            val: vec![0.0; cap],
            head: 0,
            len: 0,
            window: window.max(1) as u64,
            n: 0,
        }
    }

    /// Window length in pushed values.
    pub fn window(&self) -> usize {
        self.window as usize
    }

    /// Forgets all values. Real-time safe.
    pub fn reset(&mut self) {
        self.head = 0;
        self.len = 0;
        self.n = 0;
    }

    /// Pushes `v` and returns the maximum of the last `window` values (including `v`).
    /// Real-time safe.
    #[inline]
    pub fn push(&mut self, v: f32) -> f32 {
        let cap = self.idx.len();
        // Drop candidates that can never be the maximum again.
        while self.len > 0 {
            let mut tail = self.head + self.len - 1;
            if tail >= cap {
                tail -= cap;
            }
            if self.val.get(tail).copied().unwrap_or(f32::INFINITY) <= v {
                self.len -= 1;
            } else {
                break;
            }
        }
        // Drop the head if it left the window.
        if self.len > 0 {
            let h = self.idx.get(self.head).copied().unwrap_or(self.n);
            if h + self.window <= self.n {
                self.head += 1;
                if self.head >= cap {
                    self.head = 0;
                }
                self.len -= 1;
            }
        }
        if self.len < cap {
            let mut slot = self.head + self.len;
            if slot >= cap {
                slot -= cap;
            }
            if let (Some(i), Some(x)) = (self.idx.get_mut(slot), self.val.get_mut(slot)) {
                *i = self.n;
                *x = v;
                self.len += 1;
            }
        }
        self.n += 1;
        self.val.get(self.head).copied().unwrap_or(v)
    }
}

/// Sliding-window minimum over the last `window` pushed values (fewer right after
/// [`new`](Self::new) / [`reset`](Self::reset): then the minimum of those pushed so far).
///
/// Block algorithm (van Herk / Gil–Werman): the pushes are split into blocks of `window`; the
/// minimum of the window is the smaller of the running minimum of the current block and the
/// minimum of the previous block's values from the same position on (computed once per
/// block). No data-dependent branches per push, so it is fast on arbitrary input; the result
/// is exactly the minimum. [`new`](Self::new) allocates; [`push`](Self::push) is real-time
/// safe and O(1) amortised.
#[derive(Debug, Clone)]
pub struct SlidingMin {
    /// Values of the current block, `window` long.
    block: Vec<f32>,
    /// `suffix[j]` = minimum of the previous block's values `j..`, `window + 1` long (the
    /// last entry is +∞).
    suffix: Vec<f32>,
    /// Position in the current block.
    pos: usize,
    /// Minimum of the current block so far.
    prefix: f32,
}

impl SlidingMin {
    /// Creates a window of `window` values (at least 1). Allocates.
    pub fn new(window: usize) -> Self {
        let w = window.max(1);
        Self {
            block: vec![f32::INFINITY; w],
            suffix: vec![f32::INFINITY; w + 1],
            pos: 0,
            prefix: f32::INFINITY,
        }
    }

    /// Forgets all values. Real-time safe.
    pub fn reset(&mut self) {
        self.suffix.iter_mut().for_each(|s| *s = f32::INFINITY);
        self.pos = 0;
        self.prefix = f32::INFINITY;
    }

    /// Pushes `v` and returns the minimum of the last `window` values. Real-time safe.
    #[inline]
    pub fn push(&mut self, v: f32) -> f32 {
        let prefix = if v < self.prefix { v } else { self.prefix };
        let older = self
            .suffix
            .get(self.pos + 1)
            .copied()
            .unwrap_or(f32::INFINITY);
        if let Some(b) = self.block.get_mut(self.pos) {
            *b = v;
        }
        self.pos += 1;
        if self.pos >= self.block.len() {
            self.end_block();
        } else {
            self.prefix = prefix;
        }
        if older < prefix {
            older
        } else {
            prefix
        }
    }

    /// The current block is complete: its suffix minima become the older half of the next
    /// windows.
    #[inline(never)]
    fn end_block(&mut self) {
        let mut m = f32::INFINITY;
        for (s, &b) in self.suffix.iter_mut().zip(self.block.iter()).rev() {
            m = if b < m { b } else { m };
            *s = m;
        }
        self.pos = 0;
        self.prefix = f32::INFINITY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_ramp_matches_frame_by_frame() {
        let mut s = 99u32;
        for ch in [1usize, 2, 3] {
            for pos in [0usize, 1, 7, 40, 63, 64] {
                for frames in [0usize, 1, 5, 8, 9, 24, 63, 64, 70] {
                    let (from, to) = (0.73f32, 1.91f32);
                    let mut a: Vec<f32> = (0..frames * ch + ch - 1)
                        .map(|_| {
                            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
                        })
                        .collect();
                    let mut b = a.clone();
                    let end = gain_ramp(&mut a, ch, from, to, pos, 64);
                    let mut p = pos;
                    for frame in b[..frames * ch].chunks_exact_mut(ch) {
                        p = (p + 1).min(64);
                        let g = from + (to - from) * (p as f32 * (1.0 / 64.0));
                        frame.iter_mut().for_each(|x| *x *= g);
                    }
                    assert_eq!(end, (pos + frames).min(64));
                    let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "ch {ch} pos {pos} frames {frames}");
                }
            }
        }
    }

    #[test]
    fn sliding_max_matches_brute_force() {
        let mut s = 12345u32;
        let mut vals = Vec::new();
        for w in [1usize, 2, 5, 17] {
            let mut m = SlidingMax::new(w);
            vals.clear();
            for _ in 0..500 {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let v = ((s >> 8) % 1000) as f32;
                vals.push(v);
                let got = m.push(v);
                let lo = vals.len().saturating_sub(w);
                let want = vals[lo..].iter().cloned().fold(f32::MIN, f32::max);
                assert_eq!(got, want, "window {w}");
            }
        }
    }

    #[test]
    fn sliding_min_matches_brute_force_across_resets() {
        let mut s = 777u32;
        let mut vals: Vec<f32> = Vec::new();
        for w in [1usize, 2, 3, 7, 71] {
            let mut m = SlidingMin::new(w);
            vals.clear();
            for k in 0..1000 {
                if k == 333 || k == 700 {
                    m.reset();
                    vals.clear();
                }
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let v = ((s >> 8) % 1000) as f32 / 7.0;
                vals.push(v);
                let got = m.push(v);
                let lo = vals.len().saturating_sub(w);
                let want = vals[lo..].iter().cloned().fold(f32::MAX, f32::min);
                assert_eq!(got, want, "window {w} push {k}");
            }
        }
    }

    #[test]
    fn abs_peak_is_the_largest_magnitude() {
        assert_eq!(abs_peak(&[]), 0.0);
        for n in [1usize, 7, 8, 9, 17, 64] {
            for at in [0, n / 2, n - 1] {
                let mut v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 0.5).collect();
                v[at] = -0.9;
                assert_eq!(abs_peak(&v), 0.9, "n {n} at {at}");
            }
        }
        assert_eq!(abs_peak(&[f32::NAN, -0.25, 0.125]), 0.25);
    }

    #[test]
    fn sliding_min_and_sanitize() {
        let mut m = SlidingMin::new(3);
        assert_eq!(m.push(3.0), 3.0);
        assert_eq!(m.push(1.0), 1.0);
        assert_eq!(m.push(2.0), 1.0);
        assert_eq!(m.push(5.0), 1.0);
        assert_eq!(m.push(6.0), 2.0);
        assert_eq!(sanitize(f32::NAN), 0.0);
        assert_eq!(sanitize(f32::NEG_INFINITY), 0.0);
        assert_eq!(sanitize(1e-30), 0.0);
        assert_eq!(sanitize(-1e9), -MAX_INPUT);
        assert_eq!(sanitize(0.5), 0.5);
        assert_eq!(sanitize(f32::MIN_POSITIVE), 0.0);
        assert_eq!(sanitize(-1e-19), -1e-19);
        assert_eq!(sanitize_below(5e12, 1e12), 1e12);
        assert_eq!(sanitize_below(-5e12, 1e12), -1e12);
        assert_eq!(sanitize_below(5e11, 1e12), 5e11);
        assert_eq!(sanitize_below(f32::INFINITY, 1e12), 0.0);
        assert!((one_pole_alpha(1.0, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        assert_eq!(one_pole_alpha(0.0, 48000.0), 1.0);
    }
}
