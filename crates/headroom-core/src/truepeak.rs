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

/// Taps per polyphase branch.
pub(crate) const TAPS: usize = 12;
/// Maximum oversampling factor.
pub(crate) const PHASES: usize = 4;
/// Delay of the reported values in input frames when oversampling.
const DELAY: usize = 6;

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

/// Makes an input sample safe for the metering filters: non-finite → 0, |x| < 1e−20 → 0,
/// |x| > 1e12 → ±1e12.
#[inline(always)]
pub(crate) fn sanitize(x: f32) -> f32 {
    // Written as selects (no branches) so that block loops vectorise. NaN fails every
    // comparison and ends up as 0, like ±∞.
    let a = x.abs();
    let y = if a < 1e-20 { 0.0 } else { x };
    if a <= 1e12 {
        y
    } else if a < f32::INFINITY {
        1e12f32.copysign(x)
    } else {
        0.0
    }
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
