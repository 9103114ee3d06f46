//! [`RecurHold`]: a reduction that comes back in a pattern (a beat, syllables) is held
//! between its peaks instead of released and caught again at each.
//!
//! A compressor that releases between the kicks of a beat moves everything over the beat
//! with it: with `night` a pad under a kick every half second came back up by 4.4 dB between
//! kicks, pumping at the beat. Held at the lower of its last two peaks, the reduction stays
//! put while the pattern goes on and is released once it stops; a single loud moment, with
//! no peak before it within [`RECUR_MAX_S`], is released as before. The compressor holds its
//! detected level this way ([`crate::compressor`]).
//!
//! The hold works on a *depth* (≥ 0, larger is more reduction: a detected level), once per
//! control point.

/// Longest time from one peak's start to the next for the two to be a pattern, s.
pub const RECUR_MAX_S: f64 = 1.0;

/// How long a pattern's depth is held after its last peak started, in intervals between
/// its last two peaks: a beat that goes on finds it still held, one that stops is released
/// a quarter interval after its next peak would have come.
pub const RECUR_HOLD: f64 = 1.25;

/// A peak ends when the depth falls under this share of its highest.
pub const PEAK_END: f64 = 0.5;

/// The memory of the last peaks of a depth. Allocation: none; every method is real-time safe.
#[derive(Debug, Clone, Copy)]
pub struct RecurHold {
    /// The shortest interval between two peaks (see [`RecurHold::new`]) and [`RECUR_MAX_S`],
    /// in control points.
    min_steps: u32,
    max_steps: u32,
    /// Control points since the last peak started (saturating).
    since_start: u32,
    /// Control points between the last two peaks' starts (0: none within reach).
    interval: u32,
    /// Whether a peak is on, and its highest depth so far (after it ends: the last peak's).
    on: bool,
    peak: f64,
    /// The highest depth of the peak before that (0: none within reach).
    prev_peak: f64,
    /// The depth held, and for how many more control points.
    level: f64,
    left: u32,
}

impl RecurHold {
    /// A hold with nothing remembered, for control points at `step_rate` per second. A depth
    /// that comes back within `min_s` of its peak's start is the same peak (a kick's or a
    /// low note's cycles, a syllable's bursts).
    pub fn new(step_rate: f64, min_s: f64) -> Self {
        let steps = |s: f64| (s * step_rate).max(0.0) as u32;
        Self {
            min_steps: steps(min_s),
            max_steps: steps(RECUR_MAX_S),
            since_start: u32::MAX,
            interval: 0,
            on: false,
            peak: 0.0,
            prev_peak: 0.0,
            level: 0.0,
            left: 0,
        }
    }

    /// Forgets every peak.
    pub fn reset(&mut self) {
        *self = Self {
            min_steps: self.min_steps,
            max_steps: self.max_steps,
            ..Self::new(0.0, 0.0)
        };
    }

    /// One control point: `depth` now, and whether it is deep enough to start a peak.
    /// Returns the depth to act on: `depth`, or the higher held depth while a pattern's is
    /// held. A peak starts where `starts` and ends where the depth falls under [`PEAK_END`]
    /// of its highest; one that starts within [`RECUR_MAX_S`] of the one before recurs, and
    /// when it ends the lower of the two peaks is held until [`RECUR_HOLD`] intervals after
    /// its start.
    pub fn step(&mut self, depth: f64, starts: bool) -> f64 {
        self.since_start = self.since_start.saturating_add(1);
        if self.on {
            self.peak = self.peak.max(depth);
            if depth < PEAK_END * self.peak {
                self.on = false;
                if self.interval > 0 && self.prev_peak > 0.0 {
                    let until = (f64::from(self.interval) * RECUR_HOLD) as u32;
                    self.level = self.peak.min(self.prev_peak);
                    self.left = until.saturating_sub(self.since_start);
                }
            }
        } else if starts && self.since_start < self.min_steps {
            // Back soon after its start: the same peak.
            self.on = true;
            self.peak = self.peak.max(depth);
        } else if starts {
            let within = self.since_start <= self.max_steps && self.peak > 0.0;
            self.interval = if within { self.since_start } else { 0 };
            self.prev_peak = if within { self.peak } else { 0.0 };
            self.since_start = 0;
            self.on = true;
            self.peak = depth;
        }
        if self.left > 0 {
            self.left -= 1;
            depth.max(self.level)
        } else {
            self.level = 0.0;
            depth
        }
    }

    /// Scales every depth remembered by `r` (a level whose source moved by that factor).
    pub fn scale(&mut self, r: f64) {
        self.peak *= r;
        self.prev_peak *= r;
        self.level *= r;
    }

    /// The depth held now (0: none).
    pub fn held(&self) -> f64 {
        if self.left > 0 {
            self.level
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 control points per second.
    fn run(h: &mut RecurHold, depths: impl IntoIterator<Item = f64>) -> Vec<f64> {
        depths.into_iter().map(|d| h.step(d, d >= 1.0)).collect()
    }

    fn beat(period: usize, peak: usize, n: usize, hi: f64) -> Vec<f64> {
        (0..n)
            .map(|i| if i % period < peak { hi } else { 0.0 })
            .collect()
    }

    #[test]
    fn a_beat_is_held_between_its_peaks_and_released_after_it_stops() {
        let mut h = RecurHold::new(100.0, 0.1);
        let mut d = beat(50, 5, 300, 6.0);
        d.extend(std::iter::repeat_n(0.0, 200));
        let out = run(&mut h, d);
        // The first kick is released (nothing before it to recur with)...
        assert_eq!(out[20], 0.0);
        // ...from the second one on the depth is held up to the last kick...
        assert!(
            out[50..300].iter().all(|&x| x == 6.0),
            "{:?}",
            &out[50..300]
        );
        // ...and let go 1.25 intervals after the last kick started (250 + 62).
        assert_eq!(out[311], 6.0);
        assert_eq!(out[313], 0.0);
        assert!(out[313..].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn a_single_peak_and_peaks_too_far_apart_are_not_held() {
        let mut h = RecurHold::new(100.0, 0.1);
        let out = run(&mut h, beat(150, 10, 600, 6.0));
        let held: Vec<usize> = (0..600)
            .filter(|&i| out[i] > 0.0 && i % 150 >= 10)
            .collect();
        assert!(held.is_empty(), "held at {held:?}");
    }

    #[test]
    fn the_lower_of_the_last_two_peaks_is_held_and_bursts_are_one_peak() {
        let mut h = RecurHold::new(100.0, 0.1);
        // Peaks of 8 then 4 (each two bursts 30 ms apart: one peak), 40 apart.
        let mut d = vec![0.0; 160];
        for (start, hi) in [(0, 8.0), (40, 4.0), (80, 8.0)] {
            for k in [0, 1, 3, 4] {
                d[start + k] = hi;
            }
        }
        let out = run(&mut h, d);
        assert_eq!(out[20], 0.0, "the first peak alone is not held");
        assert_eq!(out[60], 4.0, "the lower of 8 and 4");
        assert_eq!(out[100], 4.0, "the lower of 4 and 8");
        assert_eq!(
            out[140], 0.0,
            "released 1.25 intervals after the last start"
        );
    }

    #[test]
    fn scaling_moves_what_is_held() {
        let mut h = RecurHold::new(100.0, 0.1);
        run(&mut h, beat(40, 3, 100, 2.0));
        assert!(h.held() > 0.0);
        h.scale(0.5);
        assert_eq!(h.held(), 1.0);
        h.reset();
        assert_eq!(h.held(), 0.0);
    }
}
