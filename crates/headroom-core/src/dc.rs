//! DC offset removal in front of the AGC.
//!
//! A recording with a DC offset (a cheap microphone or sound card: 0.005 is common) would
//! have its offset lifted with the programme — a quiet voice lifted 20 dB carries 0.05 of DC
//! into the speakers, and the limiter holds the shifted peaks, so the programme also comes
//! out under its target. [`DcBlocker`] takes each channel's slow mean off: the mean is two
//! one-pole low-passes at [`DC_CORNER_HZ`] in a row (an offset is gone within half a second;
//! the programme is changed by less than 0.15 dB from 15 Hz up, at most 1 dB around 2 Hz).
//!
//! The mean is followed at an eighth of the sample rate: each group of [`GROUP`] frames'
//! mean goes through the low-passes, and the estimate is subtracted from the next group on a
//! straight line from the last one (a group late, which at 2 Hz is nothing), so the serial
//! recursion costs one step per group, not per frame. (One pole left a 1 kHz tone's own
//! residue, 48 dB down, in the estimate, and the straight lines made images of it 75 dB
//! under the tone; two leave it 108 dB down.) Groups are counted from the
//! blocker's creation, so the output does not depend on how the input is split into calls.
//! A group of digital silence (every sample exactly 0) starts the estimate afresh, so
//! silence after a programme comes out as silence from the second group on (a mean still
//! decaying, lifted by the AGC, read as −70 dBFS in the pause of a TV programme).
//! It works while the AGC or the compressor does (what lifts an offset: the AGC's gain, the
//! compressor's makeup; the chain switches it), fading in and out over [`FADE_GROUPS`]
//! groups, so a chain with every stage off stays the delayed input bit for bit.

use crate::util::{fold_sum8, one_pole_alpha};

/// Corner of each of the two low-passes that follow the mean, Hz.
pub const DC_CORNER_HZ: f64 = 2.0;

/// Frames per group.
pub const GROUP: usize = 8;

/// Groups over which switching the blocker on or off fades (≈ 10 ms at 48 kHz).
pub const FADE_GROUPS: u32 = 64;

/// Removes DC from interleaved audio in place. [`new`](Self::new) allocates; every other
/// method is real-time safe.
#[derive(Debug, Clone)]
pub struct DcBlocker {
    channels: usize,
    /// One-pole coefficient per group.
    alpha: f64,
    /// Running mean per channel: the first low-pass's and the second's.
    mean: Vec<[f64; 2]>,
    /// Value subtracted at the last frame of the previous group, and the one the current
    /// group's line ends at, per channel (the weight applied).
    from: Vec<f32>,
    to: Vec<f32>,
    /// Input samples of the group not yet complete, and how many it holds.
    group: Vec<f32>,
    group_len: usize,
    /// Share of the estimate subtracted (0 … 1), and whether it heads for 1.
    weight: f32,
    on: bool,
}

impl DcBlocker {
    /// A blocker for `channels` interleaved channels at `rate` Hz, on or off from the start.
    /// Allocates.
    pub fn new(rate: u32, channels: usize, on: bool) -> Self {
        let channels = channels.max(1);
        let group_rate = f64::from(rate.max(1)) / GROUP as f64;
        let tau = 1.0 / (2.0 * std::f64::consts::PI * DC_CORNER_HZ);
        Self {
            channels,
            alpha: one_pole_alpha(tau, group_rate),
            mean: vec![[0.0; 2]; channels],
            from: vec![0.0; channels],
            to: vec![0.0; channels],
            group: vec![0.0; GROUP * channels],
            group_len: 0,
            weight: if on { 1.0 } else { 0.0 },
            on,
        }
    }

    /// Switches the blocker on or off; the change fades over [`FADE_GROUPS`] groups.
    /// Real-time safe.
    pub fn set_on(&mut self, on: bool) {
        self.on = on;
    }

    /// Whether it is fully off (nothing subtracted now or later unless switched on).
    /// Real-time safe.
    pub fn is_off(&self) -> bool {
        !self.on && self.weight == 0.0 && self.to.iter().chain(&self.from).all(|&v| v == 0.0)
    }

    /// Processes interleaved frames in place; a trailing partial frame is left untouched.
    /// Real-time safe.
    pub fn process(&mut self, buf: &mut [f32]) {
        let ch = self.channels;
        let len = GROUP * ch;
        let whole = buf.len() / ch * ch;
        let mut rest = buf.get_mut(..whole).unwrap_or(&mut []);
        if self.group_len > 0 {
            let take = (len - self.group_len).min(rest.len());
            let (head, tail) = rest.split_at_mut(take);
            if let Some(dst) = self.group.get_mut(self.group_len..self.group_len + take) {
                dst.copy_from_slice(head);
            }
            self.subtract(head, self.group_len / ch);
            self.group_len += take;
            rest = tail;
            if self.group_len < len {
                return;
            }
            let group = std::mem::take(&mut self.group);
            self.close_group(&group);
            self.group = group;
            self.group_len = 0;
        }
        let whole_groups = rest.len() / len * len;
        if ch == 2 && whole_groups > 0 {
            let (groups, tail) = rest.split_at_mut(whole_groups);
            self.groups_stereo(groups);
            rest = tail;
        }
        let mut groups = rest.chunks_exact_mut(len);
        for g in groups.by_ref() {
            // The means are of the input: taken before the subtraction.
            if let Some(dst) = self.group.get_mut(..len) {
                dst.copy_from_slice(g);
            }
            self.subtract(g, 0);
            let group = std::mem::take(&mut self.group);
            self.close_group(&group);
            self.group = group;
        }
        let tail = groups.into_remainder();
        if let Some(dst) = self.group.get_mut(..tail.len()) {
            dst.copy_from_slice(tail);
        }
        self.subtract(tail, 0);
        self.group_len = tail.len();
    }

    /// Whole stereo groups (`groups.len()` a multiple of `2 · GROUP`).
    #[inline]
    fn groups_stereo(&mut self, groups: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU has it.
            unsafe { groups_stereo_sse2(self, groups) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self.groups_stereo_portable(groups);
        }
    }

    /// [`groups_stereo`](Self::groups_stereo) in portable code.
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    fn groups_stereo_portable(&mut self, groups: &mut [f32]) {
        for g in groups.chunks_exact_mut(2 * GROUP) {
            if let Ok(g) = <&mut [f32; 2 * GROUP]>::try_from(g) {
                self.group_stereo(g);
            }
        }
    }

    /// One whole stereo group: the same sums (in [`fold_sum8`]'s order) and the same
    /// subtraction as the general path, laid out for vector operations.
    #[inline]
    fn group_stereo(&mut self, g: &mut [f32; 2 * GROUP]) {
        let silent = g.iter().all(|&x| x == 0.0);
        let mut s8 = [0.0f32; GROUP];
        for (i, s) in s8.iter_mut().enumerate() {
            *s = g[i] + g[i + GROUP];
        }
        let mut s4 = [0.0f32; 4];
        for (i, s) in s4.iter_mut().enumerate() {
            *s = s8[i] + s8[i + 4];
        }
        let sums = [s4[0] + s4[2], s4[1] + s4[3]];
        if let ([a0, a1], [b0, b1]) = (&self.from[..], &self.to[..]) {
            if [*a0, *a1, *b0, *b1] != [0.0; 4] {
                let (a, b) = ([*a0, *a1], [*b0, *b1]);
                for (k, x) in g.iter_mut().enumerate() {
                    let r = (k / 2 + 1) as f32 / GROUP as f32;
                    let (a, b) = (a[k % 2], b[k % 2]);
                    *x -= a + (b - a) * r;
                }
            }
        }
        self.close_with(&sums, silent);
    }

    /// Subtracts the current line from `run` (whole frames of the current group, the first
    /// at position `at` in it).
    #[inline]
    fn subtract(&self, run: &mut [f32], at: usize) {
        let ch = self.channels;
        if self.to.iter().chain(&self.from).all(|&v| v == 0.0) {
            return;
        }
        for (i, frame) in run.chunks_exact_mut(ch).enumerate() {
            let r = (at + i + 1) as f32 / GROUP as f32;
            for ((x, &a), &b) in frame.iter_mut().zip(&self.from).zip(&self.to) {
                *x -= a + (b - a) * r;
            }
        }
    }

    /// Closes a complete group from its input samples (interleaved).
    fn close_group(&mut self, g: &[f32]) {
        let ch = self.channels;
        for c in 0..ch {
            let s = fold_sum8(g, ch, c);
            self.close_channel(c, s);
        }
        self.finish_group(g.iter().all(|&x| x == 0.0));
    }

    /// Closes a complete group from its per-channel sums; `silent`: every sample was 0.
    fn close_with(&mut self, sums: &[f32], silent: bool) {
        for (c, &s) in sums.iter().enumerate() {
            self.close_channel(c, s);
        }
        self.finish_group(silent);
    }

    /// After a group's means are in: the weight moves, the lines are updated (a silent
    /// group starts the estimate afresh).
    fn finish_group(&mut self, silent: bool) {
        self.advance_weight();
        if silent {
            self.mean.iter_mut().for_each(|m| *m = [0.0; 2]);
            self.from.iter_mut().for_each(|v| *v = 0.0);
            self.to.iter_mut().for_each(|v| *v = 0.0);
        } else {
            self.update_lines();
        }
    }

    fn close_channel(&mut self, c: usize, sum: f32) {
        if let Some([m1, m2]) = self.mean.get_mut(c) {
            let x = f64::from(sum) / GROUP as f64;
            *m1 += self.alpha * (x - *m1);
            *m2 += self.alpha * (*m1 - *m2);
            for m in [m1, m2] {
                if m.abs() < 1e-30 {
                    *m = 0.0;
                }
            }
        }
    }

    fn advance_weight(&mut self) {
        self.weight = next_weight(self.weight, self.on);
    }

    fn update_lines(&mut self) {
        let w = f64::from(self.weight);
        for ((f, t), m) in self.from.iter_mut().zip(self.to.iter_mut()).zip(&self.mean) {
            *f = *t;
            *t = (w * m[1]) as f32;
        }
    }
}

/// The weight after one more group, heading for 1 when `on`, else for 0.
#[inline(always)]
fn next_weight(w: f32, on: bool) -> f32 {
    let step = 1.0 / FADE_GROUPS as f32;
    if on {
        (w + step).min(1.0)
    } else {
        (w - step).max(0.0)
    }
}

/// [`DcBlocker::groups_stereo_portable`] with SSE2 (part of every x86-64 CPU), the state in
/// registers across groups: per channel the same operations in the same order, so the same
/// results (the stereo frames' channels fall into alternate lanes).
///
/// # Safety
/// The CPU must support SSE2 (every x86-64 CPU does).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
unsafe fn groups_stereo_sse2(b: &mut DcBlocker, groups: &mut [f32]) {
    use std::arch::x86_64::*;
    let (Some(&[m1l, m2l]), Some(&[m1r, m2r])) = (b.mean.first(), b.mean.get(1)) else {
        return;
    };
    let (Some(&fl), Some(&fr), Some(&tl), Some(&tr)) =
        (b.from.first(), b.from.get(1), b.to.first(), b.to.get(1))
    else {
        return;
    };
    let mut m1 = _mm_set_pd(m1r, m1l);
    let mut m2 = _mm_set_pd(m2r, m2l);
    let mut from = _mm_set_ps(fr, fl, fr, fl);
    let mut to = _mm_set_ps(tr, tl, tr, tl);
    let alpha = _mm_set1_pd(b.alpha);
    let scale = _mm_set1_pd(1.0 / GROUP as f64);
    let tiny = _mm_set1_pd(1e-30);
    let sign = _mm_set1_pd(-0.0);
    let zero = _mm_setzero_ps();
    // Lane k of the four loads holds frame 2j + k / 2 (j = 0…3): r = frame / 8 + 1 / 8.
    let r = |j: usize| {
        let a = (2 * j + 1) as f32 / GROUP as f32;
        let b = (2 * j + 2) as f32 / GROUP as f32;
        _mm_set_ps(b, b, a, a)
    };
    let rs = [r(0), r(1), r(2), r(3)];
    let mut weight = b.weight;
    for grp in groups.chunks_exact_mut(2 * GROUP) {
        let p = grp.as_mut_ptr();
        // SAFETY: `grp` holds 16 floats; each unaligned load and store covers 4 of them.
        let v = unsafe {
            [
                _mm_loadu_ps(p),
                _mm_loadu_ps(p.add(4)),
                _mm_loadu_ps(p.add(8)),
                _mm_loadu_ps(p.add(12)),
            ]
        };
        let nonzero = _mm_or_ps(
            _mm_or_ps(_mm_cmpneq_ps(v[0], zero), _mm_cmpneq_ps(v[1], zero)),
            _mm_or_ps(_mm_cmpneq_ps(v[2], zero), _mm_cmpneq_ps(v[3], zero)),
        );
        let silent = _mm_movemask_ps(nonzero) == 0;
        let s4 = _mm_add_ps(_mm_add_ps(v[0], v[2]), _mm_add_ps(v[1], v[3]));
        let sum = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        let d = _mm_sub_ps(to, from);
        for (k, (&x, &rk)) in v.iter().zip(&rs).enumerate() {
            let y = _mm_sub_ps(x, _mm_add_ps(from, _mm_mul_ps(d, rk)));
            // SAFETY: as the loads.
            unsafe { _mm_storeu_ps(p.add(4 * k), y) };
        }
        let x = _mm_mul_pd(_mm_cvtps_pd(sum), scale);
        m1 = _mm_add_pd(m1, _mm_mul_pd(alpha, _mm_sub_pd(x, m1)));
        m2 = _mm_add_pd(m2, _mm_mul_pd(alpha, _mm_sub_pd(m1, m2)));
        m1 = _mm_andnot_pd(_mm_cmplt_pd(_mm_andnot_pd(sign, m1), tiny), m1);
        m2 = _mm_andnot_pd(_mm_cmplt_pd(_mm_andnot_pd(sign, m2), tiny), m2);
        weight = next_weight(weight, b.on);
        if silent {
            m1 = _mm_setzero_pd();
            m2 = _mm_setzero_pd();
            from = zero;
            to = zero;
        } else {
            from = to;
            let t = _mm_cvtpd_ps(_mm_mul_pd(_mm_set1_pd(f64::from(weight)), m2));
            to = _mm_movelh_ps(t, t);
        }
    }
    let lo = |v: __m128d| _mm_cvtsd_f64(v);
    let hi = |v: __m128d| _mm_cvtsd_f64(_mm_unpackhi_pd(v, v));
    b.mean[0] = [lo(m1), lo(m2)];
    b.mean[1] = [hi(m1), hi(m2)];
    let lane = |v: __m128, i: usize| {
        let mut a = [0.0f32; 4];
        // SAFETY: `a` holds 4 floats.
        unsafe { _mm_storeu_ps(a.as_mut_ptr(), v) };
        a[i]
    };
    b.from[0] = lane(from, 0);
    b.from[1] = lane(from, 1);
    b.to[0] = lane(to, 0);
    b.to[1] = lane(to, 1);
    b.weight = weight;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(frames: usize, ch: usize, dc: f32) -> Vec<f32> {
        (0..frames * ch)
            .map(|i| {
                let t = (i / ch) as f32 / 48_000.0;
                dc + 0.3 * (std::f32::consts::TAU * 220.0 * t + (i % ch) as f32).sin()
            })
            .collect()
    }

    #[test]
    fn an_offset_is_removed_and_the_tone_kept() {
        let mut b = DcBlocker::new(48_000, 2, true);
        let mut x = signal(96_000, 2, 0.1);
        b.process(&mut x);
        // After 1 s (the two low-passes settle within half a second), no offset is left.
        let tail = &x[96_000..];
        let mean = tail.iter().map(|&v| f64::from(v)).sum::<f64>() / tail.len() as f64;
        assert!(mean.abs() < 1e-4, "offset left {mean}");
        let peak = tail.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.3).abs() < 0.003, "tone peak {peak}");
    }

    #[test]
    fn the_output_does_not_depend_on_how_the_input_is_split() {
        for ch in [1, 2, 3, 9] {
            let x = signal(10_000, ch, 0.05);
            let mut whole = x.clone();
            DcBlocker::new(48_000, ch, true).process(&mut whole);
            let mut split = x.clone();
            let mut b = DcBlocker::new(48_000, ch, true);
            let mut pos = 0;
            for n in [1, 7, 8, 3, 64, 13, 1000].iter().cycle() {
                if pos >= split.len() {
                    break;
                }
                let end = (pos + n * ch).min(split.len());
                b.process(&mut split[pos..end]);
                pos = end;
            }
            let same = whole
                .iter()
                .zip(&split)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{ch} channels: output depends on the split");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn stereo_kernels_agree_bit_for_bit() {
        let mut x = signal(20_000, 2, 0.03);
        x.extend(std::iter::repeat_n(0.0, 2_000 * 2));
        x.extend(signal(6_000, 2, -0.2));
        for on in [true, false] {
            let (mut a, mut b) = (DcBlocker::new(48_000, 2, on), DcBlocker::new(48_000, 2, on));
            let (mut ya, mut yb) = (x.clone(), x.clone());
            for (k, (pa, pb)) in ya
                .chunks_mut(2 * GROUP * 50)
                .zip(yb.chunks_mut(2 * GROUP * 50))
                .enumerate()
            {
                if k == 10 {
                    a.set_on(!on);
                    b.set_on(!on);
                }
                let n = pa.len() / (2 * GROUP) * (2 * GROUP);
                a.groups_stereo_portable(&mut pa[..n]);
                // SAFETY: SSE2 is part of the x86-64 baseline.
                unsafe { groups_stereo_sse2(&mut b, &mut pb[..n]) };
            }
            assert!(
                ya.iter().zip(&yb).all(|(p, q)| p.to_bits() == q.to_bits()),
                "on {on}"
            );
            let bits = |d: &DcBlocker| {
                let m: Vec<u64> = d.mean.iter().flatten().map(|v| v.to_bits()).collect();
                let l: Vec<u32> = d.from.iter().chain(&d.to).map(|v| v.to_bits()).collect();
                (m, l, d.weight.to_bits())
            };
            assert_eq!(bits(&a), bits(&b));
        }
    }

    #[test]
    fn digital_silence_after_a_programme_stays_digital_silence() {
        let mut b = DcBlocker::new(48_000, 2, true);
        let mut x = signal(48_000, 2, 0.05);
        x.extend(std::iter::repeat_n(0.0, 48_000 * 2));
        b.process(&mut x);
        // The input's step itself, then two groups at most, then nothing.
        let after = &x[(48_000 + 2 * GROUP) * 2..];
        assert!(after.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn off_is_exact_and_switching_fades() {
        let x = signal(4_800, 2, 0.2);
        let mut y = x.clone();
        let mut b = DcBlocker::new(48_000, 2, false);
        b.process(&mut y);
        assert!(x.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()));
        b.set_on(true);
        let mut y = signal(48_000, 2, 0.2);
        b.process(&mut y);
        // The offset fades out: no step from one frame to the next beyond the tone's own.
        let step = y
            .chunks(2)
            .zip(y.chunks(2).skip(1))
            .map(|(a, b)| (a[0] - b[0]).abs())
            .fold(0.0f32, f32::max);
        assert!(
            step < 0.3 * std::f32::consts::TAU * 220.0 / 48_000.0 + 1e-3,
            "step {step}"
        );
        b.set_on(false);
        let mut y = signal(48_000, 2, 0.2);
        b.process(&mut y);
        assert!(b.is_off());
        let x = signal(100, 2, 0.2);
        let mut y = x.clone();
        b.process(&mut y);
        assert!(x.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
