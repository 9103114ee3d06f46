//! Offline true peak (`headroom analyze`, `headroom render`'s summary): a long
//! windowed-sinc interpolation, computed where a short one says the peak may be.
//!
//! The meters' BS.1770-4 Annex 2 interpolator ([`crate::truepeak`]: 4×, 12 taps per phase)
//! under-reads broadband peaks: its short filter rolls off well below Nyquist and drops the
//! far sinc tails that clicks and noise build their peaks from, and its 4 points per sample
//! miss up to 0.7 dB of a peak near Nyquist. On full-scale white noise it reads ≈ 0.5 dB under
//! ffmpeg's `ebur128=peak=true` (libswresample to 192 kHz: 32 taps, Kaiser β 9) and ≈ 1.4 dB
//! under a long sinc; on three alternating full-scale samples 0.3 dB under ffmpeg and 0.4 dB
//! under the sinc. Meters that people check files with read higher, and a true-peak reading
//! that is low hides overs, so the offline figures use this detector instead:
//!
//! * **Fine interpolator**: 16 points per input sample (15 between every two samples, and the
//!   samples themselves) from a Kaiser-windowed sinc (β 8) of 96 taps (48 each side), every
//!   phase normalised to a DC gain of 1. On the signals of the tests (clicks, full-scale
//!   noise, an inter-sample-peak sine, programme material) it reads within 0.1 dB of a
//!   128-tap, 32× sinc, and its 16-point grid misses at most 0.04 dB of a peak.
//! * **Screen**: the Annex 2 interpolator's value for each sample interval (its four points
//!   and the interval's first sample, vectorised, as the meters run it). An interval is a
//!   candidate when that value is within [`SCREEN_MARGIN_DB`] of the highest value found so
//!   far; candidates are refined highest screen value first (the threshold rises as they
//!   are). The screen under-reads the fine value of the interval holding the peak by less than
//!   2 dB on full-scale white noise, the worst case measured. On dense loud material (a steady
//!   loud tone: every interval near its crests is a candidate, and their peaks repeat) at most
//!   [`MAX_REFINED`] per chunk of 1024 frames and channel are refined, but in the first chunk
//!   of a stream (a signal that starts at full level rings into the silence before it).
//!   Content within ≈ 5 % of Nyquist with a fast envelope (the screen attenuates it by several
//!   dB) next to louder steady material is the limit.
//! * **Refinement** in two steps: the fine filter's points at ¼, ½ and ¾ first; the other 12
//!   only when those (with the samples) are within [`GRID_MARGIN_DB`] of the highest value
//!   found (a band-limited signal's peak between points ¼ sample apart is at most 0.7 dB above
//!   the higher of them) and, when the highest of the five points lies inside the interval,
//!   the parabola through it and its neighbours rises above that value (so a steady tone's
//!   repeated crests take three points each, not fifteen).
//!
//! A chunk whose samples (with the history its windows reach) are all below the highest value
//! found divided by the fine filter's gain bound (the largest phase's sum of |coefficients|)
//! cannot hold a new peak and is not screened at all.
//!
//! So the cost is the screen's (that of a meter's true peak, less the quiet chunks) plus, on loud dense material,
//! a few refinements per hundred samples: full-scale white noise refines ≈ 1 % of its sample
//! intervals, programme material far fewer, a steady loud tone [`MAX_REFINED`] per chunk.
//!
//! The audio is measured in chunks of 1024 frames counted from the start of the stream (a
//! last, incomplete chunk when the reading is taken), so the reading does not depend on how
//! the audio is split into [`FineTruePeak::process`] calls.
//!
//! Ends: before the first sample the signal is silence (as for every meter here). Intervals
//! whose fine window reaches past the last sample are not interpolated (their samples count):
//! zero-padding there would invent a hard cut, and ffmpeg's meter does not interpolate them
//! either.
//!
//! Samples are sanitised as the chain's input is ([`crate::util::sanitize`]): non-finite ones
//! count as silence, magnitudes beyond ±1000 (+60 dBFS) are clamped, so `analyze` and
//! `render`'s "before" read the same for any input.
//!
//! Allocates (it is for offline use); not real-time safe.

use crate::meter::{load_stereo_dispatch, peak_to_db};
use crate::truepeak::{sanitize, BlockInterpolator, DELAY, TAPS};
use crate::util::abs_peak;

/// Taps on each side of an interpolated point.
const HALF: usize = 48;
/// Taps of the fine interpolator.
const FINE_TAPS: usize = 2 * HALF;
/// Points per sample interval of the fine interpolator (the sample itself included).
const FACTOR: usize = 16;
/// Kaiser window parameter of the fine interpolator.
const BETA: f64 = 8.0;
/// Frames per processing chunk.
const CHUNK: usize = 1024;
/// Samples of history kept per channel: the fine window of the chunk's first interval.
const HIST: usize = FINE_TAPS;
/// Index in a fine window (and, for the chunk's interval `i`, in the channel buffer minus
/// `i`) of the interval's first sample.
const LEFT: usize = HALF - 1;
/// Where the screen's windows start in the channel buffer: its window element
/// `TAPS − 1 − DELAY` is the raw sample its points follow.
const SCREEN_START: usize = LEFT - (TAPS - 1 - DELAY);

/// At most this many intervals of a chunk of 1024 frames are refined per channel (those
/// with the highest screen values), but for the first chunk of a stream. Only dense loud
/// material has more candidates (a steady loud tone: every interval near its crests), and its
/// highest points repeat.
pub const MAX_REFINED: usize = 16;
/// An interval is refined when its screen value is at most this far under the highest value
/// found so far.
pub const SCREEN_MARGIN_DB: f64 = 3.0;
/// The fine points at ¼, ½ and ¾ of an interval lead to the other 12 when they are at most
/// this far under the highest value found so far.
pub const GRID_MARGIN_DB: f64 = 0.75;

/// The modified Bessel function of the first kind of order 0, I₀(x), which Kaiser windows are
/// made of: `w(r) = I₀(β·√(1 − r²)) / I₀(β)` for `|r| ≤ 1`. This interpolator's window uses it,
/// and so do the long-sinc true-peak references of the tests and of the evaluation's meter.
///
/// Sums the power series `Σₖ ((x/2)ᵏ / k!)²`, each term from the one before
/// (`termₖ = termₖ₋₁ · (x / 2k)²`), until a term no longer changes the sum once the terms are
/// falling (`2k ≥ |x|`): every later term is smaller still, so the result is the series'
/// sum to within rounding. For `|x| ≤ 20` that is the same value, bit for bit, as summing a
/// fixed 59 terms. Even in `x`; NaN for NaN, +∞ for ±∞ and where I₀ overflows (`|x|` above
/// about 713). Does not allocate.
pub fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0f64;
    let mut term = 1.0f64;
    let mut k = 1.0f64;
    loop {
        term *= (x / (2.0 * k)).powi(2);
        let next = sum + term;
        if !next.is_finite() || (next == sum && 2.0 * k >= x.abs()) {
            return next;
        }
        sum = next;
        k += 1.0;
    }
}

/// The fine interpolator's phases: `coef[p − 1][j]` multiplies window element `j` (sample
/// `t − (HALF − 1) + j`) for the point at `t + p / FACTOR`, `p` in `1..FACTOR`.
fn fine_coefficients() -> Vec<[f32; FINE_TAPS]> {
    let i0b = bessel_i0(BETA);
    (1..FACTOR)
        .map(|p| {
            let frac = p as f64 / FACTOR as f64;
            let mut row = [0.0f64; FINE_TAPS];
            for (j, c) in row.iter_mut().enumerate() {
                let d = j as f64 - (HALF as f64 - 1.0) - frac;
                let x = std::f64::consts::PI * d;
                let sinc = if d.abs() < 1e-12 { 1.0 } else { x.sin() / x };
                let r = d / HALF as f64;
                let w = if r.abs() >= 1.0 {
                    0.0
                } else {
                    bessel_i0(BETA * (1.0 - r * r).sqrt()) / i0b
                };
                *c = sinc * w;
            }
            let dc: f64 = row.iter().sum();
            let mut out = [0.0f32; FINE_TAPS];
            for (o, &c) in out.iter_mut().zip(&row) {
                *o = (c / dc) as f32;
            }
            out
        })
        .collect()
}

/// `Σ c[j]·w[j]` over the fine window (8 partial sums, which the compiler vectorises).
#[inline]
fn dot(c: &[f32; FINE_TAPS], w: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (cc, ww) in c.chunks_exact(8).zip(w.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += cc[l] * ww[l];
        }
    }
    acc.iter().sum()
}

/// Per-channel history and the chunk being measured.
#[derive(Debug, Clone)]
struct Chan {
    /// `[HIST history samples | up to CHUNK new ones]`.
    buf: Vec<f32>,
}

/// Offline true-peak meter for interleaved audio; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct FineTruePeak {
    channels: usize,
    screen: BlockInterpolator,
    coef: Vec<[f32; FINE_TAPS]>,
    chans: Vec<Chan>,
    /// Screen values of the chunk.
    vals: Vec<f32>,
    /// Intervals to refine: (screen value, index in the chunk).
    cand: Vec<(f32, usize)>,
    /// Samples of an incomplete trailing frame carried to the next call.
    pending: Vec<f32>,
    /// Highest value found: samples and fine points.
    best: f32,
    sample_peak: f32,
    /// Linear factors of [`SCREEN_MARGIN_DB`] and [`GRID_MARGIN_DB`].
    screen_gain: f32,
    /// Bound on |fine point| / largest |sample| of its window (the largest phase's sum of
    /// |coefficients|, with room for rounding).
    fine_gain: f32,
    grid_gain: f32,
    /// Sample intervals refined (for the tests of the cost).
    refined: u64,
    /// Whether the CPU has AVX (checked once in `new`), for the stereo de-interleaving.
    avx: bool,
    /// Chunks measured.
    chunks: u64,
    /// Frames loaded into the current chunk.
    filled: usize,
}

impl FineTruePeak {
    /// A meter for `channels` channels (0 is taken as 1). The method does not depend on the
    /// sample rate: it interpolates the band-limited signal the samples describe.
    pub fn new(channels: usize) -> Self {
        let channels = channels.max(1);
        let coef = fine_coefficients();
        let fine_gain = coef
            .iter()
            .map(|c| c.iter().map(|v| v.abs()).sum::<f32>())
            .fold(1.0f32, f32::max)
            * 1.001;
        Self {
            channels,
            // The 4× form (the one used below 96 kHz) whatever the rate.
            screen: BlockInterpolator::new(48_000),
            coef,
            fine_gain,
            chans: vec![
                Chan {
                    buf: vec![0.0; HIST + CHUNK],
                };
                channels
            ],
            vals: vec![0.0; CHUNK],
            cand: Vec::with_capacity(CHUNK),
            pending: Vec::with_capacity(channels),
            best: 0.0,
            sample_peak: 0.0,
            screen_gain: 10f64.powf(SCREEN_MARGIN_DB / 20.0) as f32,
            grid_gain: 10f64.powf(GRID_MARGIN_DB / 20.0) as f32,
            refined: 0,
            avx: crate::util::detect_avx(),
            chunks: 0,
            filled: 0,
        }
    }

    /// Measures interleaved samples. Any length is accepted: an incomplete trailing frame is
    /// kept and completed by the next call. Frames are measured in chunks of 1024 counted
    /// from the start of the stream, so the result does not depend on how the audio is split
    /// into calls.
    pub fn process(&mut self, interleaved: &[f32]) {
        let ch = self.channels;
        let mut rest = interleaved;
        if !self.pending.is_empty() {
            let take = (ch - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == ch {
                let frame = std::mem::take(&mut self.pending);
                self.add_frames(&frame);
                self.pending = frame;
                self.pending.clear();
            }
        }
        let frames = rest.len() / ch;
        self.add_frames(&rest[..frames * ch]);
        self.pending.extend_from_slice(&rest[frames * ch..]);
    }

    /// Loads whole frames, measuring every chunk they complete.
    fn add_frames(&mut self, mut x: &[f32]) {
        let ch = self.channels;
        while !x.is_empty() {
            let n = (x.len() / ch).min(CHUNK - self.filled);
            let (head, tail) = x.split_at(n * ch);
            self.load(head, n);
            x = tail;
            if self.filled == CHUNK {
                self.measure(CHUNK);
                self.filled = 0;
                self.chunks += 1;
            }
        }
    }

    /// The highest value, with the frames of the incomplete chunk measured too.
    fn settled(&self) -> f32 {
        if self.filled == 0 {
            return self.best;
        }
        let mut rest = self.clone();
        rest.measure(self.filled);
        rest.best
    }

    /// Maximum true peak across channels, dBTP (at least [`crate::meter::PEAK_FLOOR_DB`]);
    /// never below the sample peak.
    pub fn true_peak_dbtp(&self) -> f64 {
        peak_to_db(self.settled() as f64)
    }

    /// Maximum sample peak across channels, dBFS (at least [`crate::meter::PEAK_FLOOR_DB`]).
    pub fn sample_peak_dbfs(&self) -> f64 {
        peak_to_db(self.sample_peak as f64)
    }

    /// Number of sample intervals that have been refined with the fine interpolator.
    pub fn refined_intervals(&self) -> u64 {
        self.refined
    }

    /// De-interleaves and sanitises `n` ≤ `CHUNK − filled` whole frames into the current
    /// chunk.
    fn load(&mut self, x: &[f32], n: usize) {
        let ch = self.channels;
        let at = HIST + self.filled;
        let mut peak = 0.0f32;
        if let [a, b] = &mut self.chans[..] {
            if let (Some(da), Some(db), Some(x)) = (
                a.buf.get_mut(at..at + n),
                b.buf.get_mut(at..at + n),
                x.get(..2 * n),
            ) {
                let (ma, mb) = load_stereo_dispatch(da, db, x, self.avx);
                peak = ma.max(mb);
            }
        } else {
            for (c, chan) in self.chans.iter_mut().enumerate() {
                let Some(dst) = chan.buf.get_mut(at..at + n) else {
                    continue;
                };
                for (d, &s) in dst.iter_mut().zip(x.iter().skip(c).step_by(ch)) {
                    let v = sanitize(s);
                    let a = v.abs();
                    peak = if a > peak { a } else { peak };
                    *d = v;
                }
            }
        }
        if peak > crate::util::MAX_INPUT {
            // Beyond what the chain takes in: clamped as its input is.
            for chan in &mut self.chans {
                for v in chan.buf.iter_mut().skip(at).take(n) {
                    *v = crate::util::sanitize(*v);
                }
            }
            peak = crate::util::MAX_INPUT;
        }
        self.sample_peak = self.sample_peak.max(peak);
        // The samples are points of the signal.
        self.best = self.best.max(peak);
        self.filled += n;
    }

    /// Screens and refines the first `n` intervals of the chunk in every channel.
    fn measure(&mut self, n: usize) {
        for c in 0..self.chans.len() {
            self.measure_chan(c, n);
        }
    }

    /// Screens and refines the `n` intervals of channel `c` whose fine windows end in this
    /// chunk, then keeps the history.
    fn measure_chan(&mut self, c: usize, n: usize) {
        let Some(chan) = self.chans.get(c) else {
            return;
        };
        let buf = &chan.buf;
        // No fine point of this chunk can reach `best` when the samples its windows hold are
        // all below `best / fine_gain`: nothing to screen.
        let loudest = abs_peak(buf.get(..HIST + n).unwrap_or_default());
        if loudest * self.fine_gain < self.best {
            if let Some(chan) = self.chans.get_mut(c) {
                chan.buf.copy_within(n..n + HIST, 0);
            }
            return;
        }
        let mut all = std::mem::take(&mut self.vals);
        let vals = &mut all[..n];
        let floor = self.best / self.screen_gain;
        self.screen
            .detect(&buf[SCREEN_START..HIST + n], vals, floor);
        // Candidates, highest screen value first (it raises the threshold soonest); on dense
        // loud material only the highest MAX_REFINED.
        let gain = self.screen_gain;
        // (The values are magnitudes: their largest |value| is their largest.)
        let top = abs_peak(vals);
        let mut cand = std::mem::take(&mut self.cand);
        cand.clear();
        if top > 0.0 && top * gain >= self.best {
            cand.extend(
                vals.iter()
                    .enumerate()
                    .filter(|&(_, &v)| v > 0.0 && v * gain >= self.best)
                    .map(|(i, &v)| (v, i)),
            );
        }
        let by_value = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        // The first chunk is refined in full: a signal that starts at full level rings into
        // the silence before it, and those intervals look like ordinary ones to the screen.
        if cand.len() > MAX_REFINED && self.chunks > 0 {
            cand.select_nth_unstable_by(MAX_REFINED, by_value);
            cand.truncate(MAX_REFINED);
        }
        cand.sort_unstable_by(by_value);
        let mut best = self.best;
        let mut refined = 0;
        for &(v, i) in &cand {
            if v * gain < best {
                break;
            }
            if let Some(w) = buf.get(i..i + FINE_TAPS) {
                best = best.max(refine(&self.coef, self.grid_gain, w, best));
                refined += 1;
            }
        }
        self.cand = cand;
        self.vals = all;
        self.best = best;
        self.refined += refined;
        if let Some(chan) = self.chans.get_mut(c) {
            chan.buf.copy_within(n..n + HIST, 0);
        }
    }
}

/// Highest |value| of the fine points of the interval between `w[LEFT]` and `w[LEFT + 1]`
/// (and of those two samples): the points at ¼, ½ and ¾, and the other 12 when those can lead
/// above `best` — raised by `grid_gain`, and, when the highest of the five lies inside the
/// interval, by the parabola through it and its neighbours (within 0.05 dB of a crest up to
/// 0.45·fs, 0.07 dB at Nyquist: so the repeated crests of a steady tone, which cannot beat
/// `best`, stop here). `coef` as from [`fine_coefficients`].
fn refine(coef: &[[f32; FINE_TAPS]], grid_gain: f32, w: &[f32], best: f32) -> f32 {
    let (Some(&a), Some(&b)) = (w.get(LEFT), w.get(LEFT + 1)) else {
        return 0.0;
    };
    let quarter = FACTOR / 4;
    let point = |p: usize| coef.get(p - 1).map_or(0.0, |c| dot(c, w));
    // The points at 0, ¼, ½, ¾ and 1 of the interval.
    let v = [a, point(quarter), point(2 * quarter), point(3 * quarter), b];
    let (k, top) =
        v.iter().enumerate().fold(
            (0, 0.0f32),
            |m, (i, &x)| if x.abs() > m.1 { (i, x.abs()) } else { m },
        );
    let mut m = top;
    if m * grid_gain < best.max(m) {
        return m;
    }
    if (1..4).contains(&k) {
        let s = v[k].signum();
        let (y0, y1, y2) = (s * v[k - 1], s * v[k], s * v[k + 1]);
        let den = y0 - 2.0 * y1 + y2;
        if den < 0.0 && y1 - 0.125 * (y0 - y2) * (y0 - y2) / den <= best {
            return m;
        }
    }
    for (i, c) in coef.iter().enumerate() {
        if (i + 1) % quarter != 0 {
            m = m.max(dot(c, w).abs());
        }
    }
    m
}

/// Test signals and a brute-force reference, shared with the analysis tests.
#[cfg(test)]
pub(crate) mod reference {
    use headroom_tests::audio::{programme_like, quarter_rate_sine_at_45, white_noise};

    /// True peak (dB) of mono `x` by brute force (the tests' shared reference: 32 points
    /// per sample of a 128-tap Kaiser-windowed sinc).
    pub(crate) use headroom_tests::audio::true_peak_reference_db as true_peak_db;

    /// The signals of the comparison, mono at 48 kHz: (name, samples).
    pub(crate) fn signals() -> Vec<(&'static str, Vec<f32>)> {
        let silence = |n: usize| vec![0.0f32; n];
        let clicks = |pattern: &[f32]| {
            let mut v = silence(3000);
            v.extend_from_slice(pattern);
            v.extend(silence(3000));
            v
        };
        let mut train = silence(200);
        for (k, a) in [1.0f32, -0.8, 0.6, -1.0].iter().enumerate() {
            train.extend_from_slice(&[*a, -*a]);
            train.extend(silence(700 + 37 * k));
        }
        let white: Vec<f32> = white_noise(48_000, 3).map(|v| v as f32).collect();
        let isp = quarter_rate_sine_at_45(24_000);
        let prog = programme_like(96_000, 11);
        vec![
            ("impulse", clicks(&[1.0])),
            ("pair", clicks(&[1.0, -1.0])),
            ("triple", clicks(&[1.0, -1.0, 1.0])),
            ("pair of pairs", clicks(&[1.0, 1.0, -1.0, -1.0])),
            ("click train", train),
            ("white noise", white),
            ("fs/4 at 45°", isp),
            ("programme", prog),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fine_db(x: &[f32], channels: usize) -> f64 {
        let mut tp = FineTruePeak::new(channels);
        tp.process(x);
        tp.true_peak_dbtp()
    }

    #[test]
    fn reads_within_a_fifth_of_a_db_of_a_long_sinc() {
        for (name, x) in reference::signals() {
            let want = reference::true_peak_db(&x);
            let got = fine_db(&x, 1);
            assert!(
                (got - want).abs() <= 0.15,
                "{name}: {got:.3} dBTP, reference {want:.3}"
            );
            // The meters' Annex 2 reading, for the record: never above the reference by more
            // than its ripple.
            let mut m = crate::meter::LiveMeter::new(48_000, 1);
            m.process(&x);
            assert!(m.true_peak_dbtp() <= want + 0.1, "{name}");
        }
    }

    #[test]
    fn inter_sample_peak_sine_reads_plus_3_db() {
        let (_, x) = reference::signals()
            .into_iter()
            .find(|(n, _)| n.starts_with("fs/4"))
            .unwrap_or_default();
        let got = fine_db(&x, 1);
        assert!((got - 3.01).abs() < 0.05, "{got}");
    }

    #[test]
    fn channels_split_calls_and_the_maximum() {
        let sigs = reference::signals();
        let (a, b) = (&sigs[1].1, &sigs[5].1);
        let n = a.len().min(b.len());
        let mut inter = Vec::with_capacity(2 * n);
        for i in 0..n {
            inter.extend_from_slice(&[a[i], 0.5 * b[i]]);
        }
        let whole = fine_db(&inter, 2);
        let want = fine_db(&a[..n], 1).max(fine_db(
            &b[..n].iter().map(|v| 0.5 * v).collect::<Vec<_>>(),
            1,
        ));
        assert_eq!(whole, want);
        // Any split into calls, partial frames included, gives the same bits (a steady loud
        // tone, where at most MAX_REFINED intervals per chunk are refined, among them).
        for piece in [1usize, 3, 1023, 4097] {
            let mut tp = FineTruePeak::new(2);
            for c in inter.chunks(piece) {
                tp.process(c);
            }
            assert_eq!(tp.true_peak_dbtp().to_bits(), whole.to_bits(), "{piece}");
            for (name, x) in &sigs {
                let mut tp = FineTruePeak::new(1);
                for c in x.chunks(piece) {
                    tp.process(c);
                }
                let once = fine_db(x, 1);
                assert_eq!(
                    tp.true_peak_dbtp().to_bits(),
                    once.to_bits(),
                    "{name} {piece}"
                );
            }
        }
    }

    #[test]
    fn refines_few_intervals() {
        for (name, x) in reference::signals() {
            let mut tp = FineTruePeak::new(1);
            tp.process(&x);
            let done = tp.refined_intervals();
            let share = done as f64 / x.len() as f64;
            // Steady loud material reaches the cap per chunk; clicks and programme far less.
            let most = match name {
                "fs/4 at 45°" => 1.0,
                "white noise" => 0.03,
                _ => 0.01,
            };
            // The first chunk is refined in full.
            let cap = CHUNK + MAX_REFINED * x.len().div_ceil(CHUNK);
            assert!((done as usize) <= cap, "{name}");
            assert!(share <= most, "{name}: {share}");
        }
    }

    #[test]
    fn bessel_i0_matches_tabulated_values() {
        // I₀(x) evaluated in arbitrary precision, rounded to the nearest f64.
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 1.063_483_370_741_323_6),
            (1.0, 1.266_065_877_752_008_4),
            (5.0, 27.239_871_823_604_446),
            (8.0, 427.564_115_721_804_8),
            (10.0, 2_815.716_628_466_254_4),
            (20.0, 43_558_282.559_553_534),
            (100.0, 1.073_751_707_131_073_8e42),
        ] {
            for got in [bessel_i0(x), bessel_i0(-x)] {
                assert!(
                    (got - want).abs() <= 1e-14 * want,
                    "I0({x}) = {got}, want {want}"
                );
            }
        }
        assert!(bessel_i0(f64::NAN).is_nan());
        assert_eq!(bessel_i0(f64::INFINITY), f64::INFINITY);
        assert_eq!(bessel_i0(800.0), f64::INFINITY);
    }

    #[test]
    fn silence_garbage_and_floors() {
        let mut tp = FineTruePeak::new(2);
        tp.process(&[0.0; 5000]);
        assert_eq!(tp.true_peak_dbtp(), crate::meter::PEAK_FLOOR_DB);
        assert_eq!(tp.sample_peak_dbfs(), crate::meter::PEAK_FLOOR_DB);
        tp.process(&[f32::NAN, f32::INFINITY, 1e30, -0.5]);
        assert_eq!(tp.sample_peak_dbfs(), 60.0);
        assert!(tp.true_peak_dbtp().is_finite() && tp.true_peak_dbtp() >= tp.sample_peak_dbfs());
        // A DC level reads its value (every phase has a DC gain of 1).
        let mut dc = FineTruePeak::new(1);
        let ramp: Vec<f32> = (0..3000)
            .map(|n| 0.5 * (n as f32 / 1000.0).min(1.0))
            .collect();
        dc.process(&ramp);
        let got = dc.true_peak_dbtp();
        assert!((got - 20.0 * 0.5f64.log10()).abs() < 0.01, "{got}");
    }
}
