//! Offline loudness analysis of whole files (`headroom analyze`): K-weighting by the
//! `ebur128` crate, gating, loudness range and peaks here.
//!
//! [`analyze`] measures a complete interleaved buffer; [`StreamingAnalyzer`] accepts the same
//! audio in chunks of any length so that big files can be streamed. Both report an
//! [`Analysis`]: integrated loudness, loudness range, the maxima of momentary and short-term
//! loudness, true peak and sample peak.
//!
//! ## Maximum momentary / short-term loudness
//! Tech 3341 cases 10 and 13 place 3 s and 400 ms bursts at 150 ms and 20 ms offsets, so the
//! maxima must be read on a fine grid. The audio is fed to `ebur128` in *hops* of 10 ms (20,
//! 40 or 50 ms at sample rates that are not a multiple of 100 Hz, chosen so a hop is a whole
//! number of frames that divides 400 ms), and after every hop the K-weighted energy of that
//! hop is read back with `loudness_window`. Momentary and short-term loudness after each hop
//! are then the means of the last 40 / 300 hop energies (10 ms hops), which is exactly what
//! `loudness_momentary` / `loudness_shortterm` would return at that instant, at O(1) cost
//! per hop instead of re-summing up to 3 s of audio. At rates where no such hop exists, the
//! crate's momentary and short-term values are read directly every ~10 ms.
//!
//! ## Integrated loudness and loudness range
//! The 400 ms gating blocks (every 100 ms, the crate's own grid) and the 3 s short-term values
//! (every 100 ms from 3 s, as the live meters and ffmpeg take them; libebur128 takes one per
//! second) go into a [`LoudnessHistogram`] of
//! 0.01 LU bins (as the live meters') that keeps each bin's exact energy sum; integrated
//! loudness (BS.1770-4 gates)
//! and loudness range (EBU Tech 3342) are computed from it. The crate's own gating would
//! re-sum 400 ms of audio every 100 ms; the histogram also lets several files be measured as
//! one programme (album loudness) by merging.
//!
//! ## Channel weights
//! The crate's channel map is set from [`crate::meter::channel_weight`], so this analysis
//! and the [`crate::meter::LiveMeter`] weight channels by the same rule (front 1.0, surround 1.41, LFE
//! left out; the layout is the default one of the channel count). The crate's own default
//! map would measure only the first six channels.
//!
//! ## Peaks
//! True peak and sample peak come from a [`FineTruePeak`] fed the same audio: a 64-tap
//! windowed-sinc interpolation at 16 points per sample wherever the meters' BS.1770-4 Annex 2
//! interpolator says the peak may be ([`crate::finepeak`]), so that the true peak agrees with
//! long-filter meters (ffmpeg's reads up to ≈ 0.6 dB lower on full-scale noise, the Annex 2
//! filter up to ≈ 1.5 dB lower on clicks and noise).
//!
//! ## Floors (no −∞ in JSON)
//! * Loudness values with no measurement (silence, or too short) are [`crate::LUFS_FLOOR`]
//!   (−70 LUFS); measured values below it are clamped to it.
//! * Loudness range with nothing above the gates is 0 LU.
//! * Peaks of digital silence are [`crate::meter::PEAK_FLOOR_DB`] (−144 dB).
//!
//! ## Input sanitising
//! Samples go through the same [`crate::util::sanitize`] as the [`crate::Chain`]'s input
//! (which its input meter reads): non-finite samples (NaN, ±∞) and denormals are measured as
//! digital silence, magnitudes beyond ±1000 (+60 dBFS) are clamped to it. So an analysis
//! reads what the chain's input meter reads for the same samples, garbage included.

use ebur128::{Channel, EbuR128, Mode};
use serde::{Deserialize, Serialize};

use crate::finepeak::FineTruePeak;
use crate::meter::lufs_to_energy;
use crate::LUFS_FLOOR;

/// Result of an offline analysis. Every field is finite (see the module documentation for
/// the floors used).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Gated integrated loudness (BS.1770-4), LUFS; [`LUFS_FLOOR`] when nothing passed the
    /// gates.
    pub integrated_lufs: f64,
    /// Loudness range (EBU Tech 3342), LU; 0 when nothing passed the gates.
    pub lra_lu: f64,
    /// Maximum momentary loudness (400 ms window) over the file, LUFS.
    pub max_momentary_lufs: f64,
    /// Maximum short-term loudness (3 s window) over the file, LUFS.
    pub max_short_term_lufs: f64,
    /// Maximum true peak across channels, dBTP (at least −144).
    pub true_peak_dbtp: f64,
    /// Maximum sample peak across channels, dBFS (at least −144).
    pub sample_peak_dbfs: f64,
}

/// Why an analysis could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// The channel count is 0 or above 64.
    #[error("unsupported channel count {0} (1 to 64 are supported)")]
    InvalidChannels(usize),
    /// The sample rate is outside 8 kHz to 768 kHz.
    #[error("unsupported sample rate {0} Hz (8000 to 768000 Hz are supported)")]
    InvalidSampleRate(u32),
    /// The number of samples is not a whole number of frames.
    #[error("{samples} samples are not a whole number of {channels}-channel frames")]
    PartialFrame {
        /// Number of interleaved samples given.
        samples: usize,
        /// Channel count.
        channels: usize,
    },
    /// The `ebur128` crate reported an error.
    #[error("loudness measurement failed: {0}")]
    Measurement(String),
}

/// The `ebur128` channel map giving each channel the weight of
/// [`crate::meter::channel_weight`]: the crate weighs `Unused` 0, `LeftSurround` 1.41 and
/// `Center` 1.0.
fn channel_map(channels: usize) -> Vec<Channel> {
    (0..channels)
        .map(|c| {
            let w = crate::meter::channel_weight(channels, c);
            if w == 0.0 {
                Channel::Unused
            } else if w == crate::meter::SURROUND_WEIGHT {
                Channel::LeftSurround
            } else {
                Channel::Center
            }
        })
        .collect()
}

fn measurement(e: ebur128::Error) -> AnalysisError {
    AnalysisError::Measurement(e.to_string())
}

/// Hop length in ms for the max-M/S grid at `rate`, if an exact one exists.
fn hop_ms(rate: u32) -> Option<u32> {
    let sub = (rate as u64 + 5) / 10;
    // The crate's 100 ms is `(rate + 5) / 10` frames; the hop must tile it exactly.
    [10u32, 20, 25, 50, 100].into_iter().find(|&ms| {
        (rate as u64 * ms as u64).is_multiple_of(1000)
            && (rate as u64 * ms as u64 / 1000) * (100 / ms as u64) == sub
    })
}

/// Streaming analysis: feed chunks with [`add`](Self::add), then read the result with
/// [`finish`](Self::finish). Allocates (it is an offline tool).
pub struct StreamingAnalyzer {
    ebu: EbuR128,
    channels: usize,
    /// Frames per hop.
    hop: usize,
    /// Hop length in ms when hop energies are read back with `loudness_window`.
    hop_ms: Option<u32>,
    /// Frames already fed in the current hop.
    hop_pos: usize,
    /// Energies of the last hops (ring), for momentary and short-term sums.
    hop_energy: Vec<f64>,
    hop_idx: usize,
    hops_m: usize,
    max_m: f64,
    max_s: f64,
    /// Incomplete trailing frame carried to the next chunk.
    pending: Vec<f32>,
    /// Sanitised copy of the current chunk.
    scratch: Vec<f32>,
    /// Frames of the crate's 100 ms step (`(rate + 5) / 10`).
    step: u64,
    /// Frames fed so far.
    fed: u64,
    /// Frame position of the next 400 ms gating block's end (every 100 ms from 400 ms).
    next_block: u64,
    /// Frame position of the next short-term value for the histogram (every second from 3 s).
    next_short: u64,
    /// Momentary and short-term energies at the end of the last hop.
    last_m: f64,
    last_s: f64,
    hist: LoudnessHistogram,
    /// True peak and sample peak.
    peaks: FineTruePeak,
}

impl StreamingAnalyzer {
    /// Creates an analyser for interleaved audio with `channels` channels at `sample_rate`.
    ///
    /// # Errors
    /// [`AnalysisError::InvalidChannels`], [`AnalysisError::InvalidSampleRate`], or
    /// [`AnalysisError::Measurement`] if `ebur128` refuses the configuration.
    pub fn new(sample_rate: u32, channels: usize) -> Result<Self, AnalysisError> {
        if channels == 0 || channels > 64 {
            return Err(AnalysisError::InvalidChannels(channels));
        }
        if !(8_000..=768_000).contains(&sample_rate) {
            return Err(AnalysisError::InvalidSampleRate(sample_rate));
        }
        // The crate K-weights and keeps the last 3 s of weighted energy; the gating blocks,
        // short-term values and peaks are taken here (see the module documentation).
        let mode = Mode::M | Mode::S;
        let mut ebu = EbuR128::new(channels as u32, sample_rate, mode).map_err(measurement)?;
        ebu.set_channel_map(&channel_map(channels))
            .map_err(measurement)?;
        let hop_ms = hop_ms(sample_rate);
        let (hop, hops_m, ring) = match hop_ms {
            Some(ms) => {
                let hop = (sample_rate as usize * ms as usize) / 1000;
                (hop, (400 / ms) as usize, (3000 / ms) as usize)
            }
            // Direct reads roughly every 10 ms.
            None => ((sample_rate as usize / 100).max(1), 0, 0),
        };
        Ok(Self {
            ebu,
            channels,
            hop,
            hop_ms,
            hop_pos: 0,
            hop_energy: vec![0.0; ring],
            hop_idx: 0,
            hops_m,
            max_m: f64::NEG_INFINITY,
            max_s: f64::NEG_INFINITY,
            pending: Vec::with_capacity(channels),
            scratch: Vec::new(),
            step: (u64::from(sample_rate) + 5) / 10,
            fed: 0,
            next_block: 4 * ((u64::from(sample_rate) + 5) / 10),
            next_short: 30 * ((u64::from(sample_rate) + 5) / 10),
            last_m: 0.0,
            last_s: 0.0,
            hist: LoudnessHistogram::new(),
            peaks: FineTruePeak::new(channels),
        })
    }

    /// Adds interleaved samples. Chunks need not hold whole frames: an incomplete trailing
    /// frame is kept for the next call. Samples are sanitised as [`crate::Chain`] sanitises
    /// its input ([`crate::util::sanitize`]): non-finite ones count as silence, magnitudes
    /// beyond ±1000 (+60 dBFS) are clamped.
    ///
    /// # Errors
    /// [`AnalysisError::Measurement`] if `ebur128` fails.
    pub fn add(&mut self, interleaved: &[f32]) -> Result<(), AnalysisError> {
        let ch = self.channels;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(&self.pending);
        // The chain's own input sanitising, so that this measures what `Chain` meters.
        scratch.extend(interleaved.iter().map(|&x| crate::util::sanitize(x)));
        let whole = scratch.len() / ch * ch;
        self.pending.clear();
        self.pending.extend_from_slice(&scratch[whole..]);
        self.peaks.process(&scratch[..whole]);
        let result = self.feed(&scratch[..whole]);
        self.scratch = scratch;
        result
    }

    /// Feeds whole frames, split at hop and gating-block boundaries.
    fn feed(&mut self, mut frames: &[f32]) -> Result<(), AnalysisError> {
        let ch = self.channels;
        while !frames.is_empty() {
            let to_block = (self.next_block.min(self.next_short) - self.fed) as usize;
            let n = (self.hop - self.hop_pos)
                .min(frames.len() / ch)
                .min(to_block);
            let (head, tail) = frames.split_at(n * ch);
            self.ebu.add_frames_f32(head).map_err(measurement)?;
            self.hop_pos += n;
            self.fed += n as u64;
            frames = tail;
            let at_hop_end = self.hop_pos == self.hop;
            if at_hop_end {
                self.hop_pos = 0;
                self.end_hop()?;
            }
            // With a hop grid the block ends fall on hop ends and the hop ring holds the
            // energies; otherwise the crate is asked directly.
            let exact = at_hop_end && self.hop_ms.is_some();
            if self.fed == self.next_block {
                let e = if exact {
                    self.last_m
                } else {
                    energy_of(self.ebu.loudness_momentary().map_err(measurement)?)
                };
                self.hist.blocks.add(e);
                self.next_block += self.step;
            }
            if self.fed == self.next_short {
                let e = if exact {
                    self.last_s
                } else {
                    energy_of(self.ebu.loudness_shortterm().map_err(measurement)?)
                };
                self.hist.short_term.add(e);
                self.next_short += SHORT_TERM_STEPS * self.step;
            }
        }
        Ok(())
    }

    /// Updates the momentary and short-term maxima at a hop boundary.
    fn end_hop(&mut self) -> Result<(), AnalysisError> {
        match self.hop_ms {
            Some(ms) => {
                let l = self.ebu.loudness_window(ms).map_err(measurement)?;
                let e = if l.is_finite() {
                    lufs_to_energy(l)
                } else {
                    0.0
                };
                let len = self.hop_energy.len();
                if let Some(slot) = self.hop_energy.get_mut(self.hop_idx % len.max(1)) {
                    *slot = e;
                }
                self.hop_idx = (self.hop_idx + 1) % len.max(1);
                // Sums over the last hops_m and all `len` hops (exact re-summation; the ring
                // is at most 300 entries and this runs once per hop).
                let mut m = 0.0;
                for k in 1..=self.hops_m {
                    m += self.hop_energy[(self.hop_idx + len - k) % len];
                }
                let s: f64 = self.hop_energy.iter().sum();
                self.last_m = m / self.hops_m as f64;
                self.last_s = s / len as f64;
                self.note(self.last_m, self.last_s);
            }
            None => {
                let m = self.ebu.loudness_momentary().map_err(measurement)?;
                let s = self.ebu.loudness_shortterm().map_err(measurement)?;
                self.note_lufs(m, s);
            }
        }
        Ok(())
    }

    fn note(&mut self, m_energy: f64, s_energy: f64) {
        let to_l = crate::meter::energy_to_lufs;
        self.note_lufs(to_l(m_energy), to_l(s_energy));
    }

    /// Counts momentary and short-term readings in the maxima, each once its window is
    /// full: before, the window would hold silence the file does not have (a 100 ms tone
    /// read 6 dB under its level; ffmpeg's `ebur128` shows no value until then either).
    fn note_lufs(&mut self, m: f64, s: f64) {
        if self.fed >= 4 * self.step {
            self.max_m = self.max_m.max(m);
        }
        if self.fed >= 30 * self.step {
            self.max_s = self.max_s.max(s);
        }
    }

    /// Completes the measurement (the last partial hop is evaluated too) and returns it.
    ///
    /// # Errors
    /// [`AnalysisError::PartialFrame`] if an incomplete frame is left over;
    /// [`AnalysisError::Measurement`] if `ebur128` fails.
    pub fn finish(self) -> Result<Analysis, AnalysisError> {
        self.finish_with_histogram().map(|(a, _)| a)
    }

    /// Like [`finish`](Self::finish), and also returns the file's [`LoudnessHistogram`], to
    /// be merged with other files' for an album (or any set of files) measurement.
    ///
    /// # Errors
    /// As [`finish`](Self::finish).
    pub fn finish_with_histogram(mut self) -> Result<(Analysis, LoudnessHistogram), AnalysisError> {
        if !self.pending.is_empty() {
            return Err(AnalysisError::PartialFrame {
                samples: self.pending.len(),
                channels: self.channels,
            });
        }
        if self.hop_pos > 0 {
            // Momentary / short-term at the very end of the file.
            let m = self.ebu.loudness_momentary().map_err(measurement)?;
            let s = self.ebu.loudness_shortterm().map_err(measurement)?;
            self.note_lufs(m, s);
        }
        let floor = |l: f64| if l > LUFS_FLOOR { l } else { LUFS_FLOOR };
        let hist = std::mem::take(&mut self.hist);
        let analysis = Analysis {
            integrated_lufs: hist.integrated_lufs(),
            lra_lu: hist.loudness_range_lu(),
            max_momentary_lufs: floor(self.max_m),
            max_short_term_lufs: floor(self.max_s),
            true_peak_dbtp: self.peaks.true_peak_dbtp(),
            sample_peak_dbfs: self.peaks.sample_peak_dbfs(),
        };
        Ok((analysis, hist))
    }
}

fn energy_of(lufs: f64) -> f64 {
    if lufs.is_finite() {
        lufs_to_energy(lufs)
    } else {
        0.0
    }
}

/// Short-term values for the loudness range are taken every 100 ms (from 3 s on), as the
/// live meters and ffmpeg's `ebur128` filter take them, so that `analyze` and `render`'s
/// summary read the same range for the same audio. (libebur128 and the `ebur128` crate take
/// one per second, and read up to a few LU apart on short or slowly swinging programmes.)
const SHORT_TERM_STEPS: u64 = 1;

/// Bins of [`GatedBins`]: 0.01 LU from the absolute gate (−70 LUFS) to +30 LUFS. (At 0.1 LU,
/// a bin at the relative gate held blocks on both sides of it and counted all or none of
/// them: 0.07 LU off BS.1770 on a programme whose quiet parts lay at the gate.)
const BINS: usize = 10_000;
/// Bin width, LU.
const BIN_LU: f64 = 0.01;

/// Counts and energy sums of loudness values in 0.01 LU bins above the absolute gate
/// (−70 LUFS); values below it are not kept. Fixed size whatever the duration.
#[derive(Debug, Clone, PartialEq)]
pub struct GatedBins {
    count: Vec<u64>,
    energy: Vec<f64>,
}

impl Default for GatedBins {
    fn default() -> Self {
        Self {
            count: vec![0; BINS],
            energy: vec![0.0; BINS],
        }
    }
}

impl GatedBins {
    fn bin_of(e: f64) -> Option<usize> {
        let l = crate::meter::energy_to_lufs(e);
        if l.is_nan() || l < LUFS_FLOOR {
            return None;
        }
        Some((((l - LUFS_FLOOR) / BIN_LU).floor() as usize).min(BINS - 1))
    }

    /// Adds one energy (mean square, K-weighted and channel-weighted).
    pub fn add(&mut self, e: f64) {
        if let Some(b) = Self::bin_of(e) {
            self.count[b] += 1;
            self.energy[b] += e;
        }
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &GatedBins) {
        for (a, b) in self.count.iter_mut().zip(&other.count) {
            *a += b;
        }
        for (a, b) in self.energy.iter_mut().zip(&other.energy) {
            *a += b;
        }
    }

    /// Number of values kept.
    pub fn len(&self) -> u64 {
        self.count.iter().sum()
    }

    /// True when no value passed the absolute gate.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first bin of values at or above the relative gate `factor` × mean energy, and
    /// whether that bin itself passes (its mean is at or above the gate).
    fn gate(&self, factor: f64) -> Option<(usize, bool)> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let rel = self.energy.iter().sum::<f64>() / n as f64 * factor;
        let b = Self::bin_of(rel).unwrap_or(0);
        let passes = crate::meter::energy_to_lufs(rel) < LUFS_FLOOR
            || (self.count[b] > 0 && self.energy[b] / self.count[b] as f64 >= rel);
        Some((b, passes))
    }

    /// Gated mean loudness (relative gate −10 LU), LUFS; [`LUFS_FLOOR`] when empty.
    fn integrated_lufs(&self) -> f64 {
        let Some((b, passes)) = self.gate(0.1) else {
            return LUFS_FLOOR;
        };
        let from = if passes { b } else { b + 1 };
        let c: u64 = self.count[from.min(BINS)..].iter().sum();
        let e: f64 = self.energy[from.min(BINS)..].iter().sum();
        if c == 0 {
            return LUFS_FLOOR;
        }
        crate::meter::energy_to_lufs(e / c as f64).max(LUFS_FLOOR)
    }

    /// Loudness range (relative gate −20 LU, 10th to 95th percentile), LU; 0 when empty.
    fn range_lu(&self) -> f64 {
        let Some((b, passes)) = self.gate(0.01) else {
            return 0.0;
        };
        let from = if passes { b } else { b + 1 };
        let kept = &self.count[from.min(BINS)..];
        let n: u64 = kept.iter().sum();
        if n == 0 {
            return 0.0;
        }
        let rank_bin = |rank: u64| {
            let mut acc = 0;
            for (i, &c) in kept.iter().enumerate() {
                acc += c;
                if acc > rank {
                    return i;
                }
            }
            kept.len() - 1
        };
        let lo = rank_bin(((n - 1) as f64 * 0.10 + 0.5) as u64);
        let hi = rank_bin(((n - 1) as f64 * 0.95 + 0.5) as u64);
        (hi - lo) as f64 * BIN_LU
    }
}

/// The loudness distribution of a file: its 400 ms gating blocks (every 100 ms) and its 3 s
/// short-term values (every second), binned above the absolute gate. Merging the histograms
/// of several files gives the integrated loudness and loudness range of the set as if it were
/// one programme — the album loudness of ReplayGain 2 / EBU R128 — in fixed memory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoudnessHistogram {
    /// Gating blocks (integrated loudness).
    pub blocks: GatedBins,
    /// Short-term values (loudness range).
    pub short_term: GatedBins,
}

impl LoudnessHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LoudnessHistogram) {
        self.blocks.merge(&other.blocks);
        self.short_term.merge(&other.short_term);
    }

    /// Gated integrated loudness of everything merged (BS.1770-4), LUFS; [`LUFS_FLOOR`]
    /// when nothing passed the gates. Blocks in the bin of the relative gate count when the
    /// bin's mean is above the gate (0.01 LU resolution at the gate only).
    pub fn integrated_lufs(&self) -> f64 {
        self.blocks.integrated_lufs()
    }

    /// Loudness range of everything merged (EBU Tech 3342), LU, to 0.01 LU; 0 when nothing
    /// passed the gates.
    pub fn loudness_range_lu(&self) -> f64 {
        self.short_term.range_lu()
    }
}

/// Analyses a complete interleaved buffer.
///
/// # Errors
/// [`AnalysisError::InvalidChannels`], [`AnalysisError::InvalidSampleRate`],
/// [`AnalysisError::PartialFrame`] when `interleaved.len()` is not a multiple of `channels`,
/// or [`AnalysisError::Measurement`].
pub fn analyze(
    interleaved: &[f32],
    sample_rate: u32,
    channels: usize,
) -> Result<Analysis, AnalysisError> {
    let mut a = StreamingAnalyzer::new(sample_rate, channels)?;
    if !interleaved.len().is_multiple_of(channels) {
        return Err(AnalysisError::PartialFrame {
            samples: interleaved.len(),
            channels,
        });
    }
    // Feed in bounded pieces so the sanitising copy stays small.
    for chunk in interleaved.chunks(65_536 * channels) {
        a.add(chunk)?;
    }
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_grid_tiles_the_crate_100ms() {
        assert_eq!(hop_ms(48_000), Some(10));
        assert_eq!(hop_ms(44_100), Some(10));
        assert_eq!(hop_ms(22_050), Some(20));
        assert_eq!(hop_ms(8_000), Some(10));
        assert_eq!(hop_ms(11_025), None);
    }

    #[test]
    fn silence_gives_documented_floors() {
        let a = analyze(&vec![0.0; 48_000 * 2 * 4], 48_000, 2).unwrap();
        assert_eq!(a.integrated_lufs, LUFS_FLOOR);
        assert_eq!(a.max_momentary_lufs, LUFS_FLOOR);
        assert_eq!(a.max_short_term_lufs, LUFS_FLOOR);
        assert_eq!(a.lra_lu, 0.0);
        assert_eq!(a.true_peak_dbtp, crate::meter::PEAK_FLOOR_DB);
        assert_eq!(a.sample_peak_dbfs, crate::meter::PEAK_FLOOR_DB);
        for v in [
            a.integrated_lufs,
            a.lra_lu,
            a.max_momentary_lufs,
            a.max_short_term_lufs,
            a.true_peak_dbtp,
            a.sample_peak_dbfs,
        ] {
            assert!(v.is_finite());
        }
    }

    /// Garbage is measured as the chain's input meter measures it: sanitised by the same
    /// function (clamped at +60 dBFS, non-finite samples as silence).
    #[test]
    fn garbage_is_measured_as_the_chain_sanitises_it() {
        let garbage = [1e30f32, -1e30, f32::NAN, f32::INFINITY, 0.5, -0.25, 1e-30];
        let raw: Vec<f32> = (0..48_000 * 2 * 3).map(|i| garbage[i % 7]).collect();
        let clean: Vec<f32> = raw.iter().map(|&x| crate::util::sanitize(x)).collect();
        let a = analyze(&raw, 48_000, 2).unwrap();
        assert_eq!(a, analyze(&clean, 48_000, 2).unwrap());
        assert!((50.0..65.0).contains(&a.integrated_lufs), "{a:?}");
        assert_eq!(a.sample_peak_dbfs, 60.0);
    }

    #[test]
    fn high_and_odd_rates_work() {
        for rate in [192_000u32, 11_025, 8_000] {
            let sig: Vec<f32> = (0..rate as usize * 2)
                .map(|n| (0.25 * (n as f64 * 0.05).sin()) as f32)
                .collect();
            let a = analyze(&sig, rate, 1).unwrap();
            assert!(a.integrated_lufs > -30.0, "{rate}: {a:?}");
            assert!(
                a.max_momentary_lufs >= a.integrated_lufs - 0.5,
                "{rate}: {a:?}"
            );
            assert!((a.sample_peak_dbfs - 20.0 * 0.25f64.log10()).abs() < 0.1);
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            analyze(&[0.0; 3], 48_000, 2),
            Err(AnalysisError::PartialFrame {
                samples: 3,
                channels: 2
            })
        );
        assert_eq!(
            analyze(&[], 48_000, 0),
            Err(AnalysisError::InvalidChannels(0))
        );
        assert_eq!(
            analyze(&[], 100, 1),
            Err(AnalysisError::InvalidSampleRate(100))
        );
    }

    #[test]
    fn streaming_in_odd_chunks_matches_whole_buffer() {
        let rate = 44_100;
        let sig: Vec<f32> = (0..rate as usize * 5)
            .flat_map(|n| {
                let t = n as f64 / rate as f64;
                let env = if (t % 1.3) < 0.6 { 0.3 } else { 0.03 };
                let x = (env * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as f32;
                [x, x * 0.5, f32::NAN]
            })
            .collect();
        let whole = analyze(&sig, rate, 3).unwrap();
        let mut s = StreamingAnalyzer::new(rate, 3).unwrap();
        for chunk in sig.chunks(1237) {
            s.add(chunk).unwrap();
        }
        let streamed = s.finish().unwrap();
        assert_eq!(whole, streamed);
        assert!(whole.integrated_lufs > -30.0 && whole.integrated_lufs < -10.0);
    }

    #[test]
    fn max_momentary_matches_direct_reads() {
        // Compare the hop-energy maxima with the crate's own momentary/short-term reads
        // taken at every 10 ms, once their windows are full.
        let rate = 48_000u32;
        let sig: Vec<f32> = (0..rate as usize * 6)
            .map(|n| {
                let t = n as f64 / rate as f64;
                let env = if (2.17..2.57).contains(&t) || (4.0..4.13).contains(&t) {
                    0.5
                } else {
                    0.01
                };
                (env * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32
            })
            .collect();
        let a = analyze(&sig, rate, 1).unwrap();
        let mut e = EbuR128::new(1, rate, Mode::M | Mode::S).unwrap();
        let (mut mm, mut ms) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for (i, hop) in sig.chunks(480).enumerate() {
            e.add_frames_f32(hop).unwrap();
            let fed = (i + 1) * 480;
            if fed >= 19_200 {
                mm = mm.max(e.loudness_momentary().unwrap());
            }
            if fed >= 144_000 {
                ms = ms.max(e.loudness_shortterm().unwrap());
            }
        }
        assert!((a.max_momentary_lufs - mm).abs() < 1e-6, "{a:?} {mm}");
        assert!((a.max_short_term_lufs - ms).abs() < 1e-6, "{a:?} {ms}");
    }

    /// A file shorter than a window has no reading of it (as ffmpeg's `ebur128` shows none),
    /// not one diluted by silence the file does not have; from a full window on, the level.
    #[test]
    fn maxima_count_full_windows_only() {
        let rate = 48_000u32;
        let tone = |secs: f64| -> Vec<f32> {
            (0..(rate as f64 * secs) as usize)
                .flat_map(|n| {
                    let x =
                        (2.0 * std::f64::consts::PI * 997.0 * n as f64 / rate as f64).sin() as f32;
                    [x, x]
                })
                .collect()
        };
        // A steady tone: every full window reads its integrated loudness.
        let short = analyze(&tone(0.1), rate, 2).unwrap();
        assert_eq!(short.max_momentary_lufs, LUFS_FLOOR, "{short:?}");
        assert_eq!(short.max_short_term_lufs, LUFS_FLOOR, "{short:?}");
        let second = analyze(&tone(1.0), rate, 2).unwrap();
        let level = second.integrated_lufs;
        assert!(level > -1.0, "{second:?}");
        assert!(
            (second.max_momentary_lufs - level).abs() < 0.1,
            "{second:?}"
        );
        assert_eq!(second.max_short_term_lufs, LUFS_FLOOR, "{second:?}");
        let four = analyze(&tone(4.0), rate, 2).unwrap();
        assert!((four.max_momentary_lufs - level).abs() < 0.1, "{four:?}");
        assert!((four.max_short_term_lufs - level).abs() < 0.1, "{four:?}");
    }

    /// A programme with level changes: 1 kHz tone whose level steps every 1.7 s.
    fn programme(rate: u32, secs: f64, seed: usize) -> Vec<f32> {
        let levels = [0.3, 0.05, 0.15, 0.01, 0.4, 0.08];
        (0..(rate as f64 * secs) as usize)
            .flat_map(|n| {
                let t = n as f64 / rate as f64;
                let amp = levels[((t / 1.7) as usize + seed) % levels.len()];
                let x = (amp * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32;
                [x, 0.7 * x]
            })
            .collect()
    }

    fn measure(sig: &[f32], rate: u32) -> (Analysis, LoudnessHistogram) {
        let mut a = StreamingAnalyzer::new(rate, 2).unwrap();
        for chunk in sig.chunks(4321) {
            a.add(chunk).unwrap();
        }
        a.finish_with_histogram().unwrap()
    }

    #[test]
    fn gating_and_range_match_the_ebur128_crate() {
        for rate in [48_000u32, 44_100, 11_025, 96_000] {
            let sig = programme(rate, 20.0, 0);
            let (a, h) = measure(&sig, rate);
            assert_eq!(h.integrated_lufs(), a.integrated_lufs);
            let mut reference =
                EbuR128::new(2, rate, Mode::I | Mode::LRA | Mode::TRUE_PEAK).unwrap();
            reference.add_frames_f32(&sig).unwrap();
            let (i, lra) = (
                reference.loudness_global().unwrap(),
                reference.loudness_range().unwrap(),
            );
            assert!((a.integrated_lufs - i).abs() < 0.02, "{rate}: {a:?} vs {i}");
            // The range from short-term values every 100 ms, as the live meter (and ffmpeg)
            // take them: the same as the meter's up to the histograms' bins (0.1 / 0.01 LU);
            // the crate takes one per second, which reads a little apart.
            let mut live = crate::meter::LiveMeter::new(rate, 2);
            live.process(&sig);
            let want = live.loudness_range_lu();
            assert!((a.lra_lu - want).abs() < 0.11, "{rate}: {a:?} vs {want}");
            assert!((a.lra_lu - lra).abs() < 1.0, "{rate}: {a:?} vs {lra}");
            assert!(a.lra_lu > 5.0, "{a:?}");
            // True peak: the Annex 2 interpolator is specified for 48 kHz; at 11 kHz it
            // overshoots a 1 kHz tone by 0.2 dB (within Tech 3341's +0.2/−0.4 dB).
            let tp = (0..2)
                .map(|c| reference.true_peak(c).unwrap())
                .fold(0.0, f64::max);
            let tol = if rate < 44_100 { 0.25 } else { 0.05 };
            assert!(
                (a.true_peak_dbtp - 20.0 * tp.log10()).abs() < tol,
                "{rate}: {a:?} vs {tp}"
            );
        }
    }

    /// Clicks, full-scale noise, an inter-sample-peak sine and programme-like material read
    /// within 0.2 dB of a brute-force long sinc (the meters' 4× Annex 2 interpolation reads
    /// up to ≈ 0.9 dB under it on these).
    #[test]
    fn true_peak_agrees_with_a_long_sinc() {
        for (name, x) in crate::finepeak::reference::signals() {
            let a = analyze(&x, 48_000, 1).unwrap();
            let want = crate::finepeak::reference::true_peak_db(&x);
            assert!(
                (a.true_peak_dbtp - want).abs() <= 0.2,
                "{name}: {} dBTP, reference {want:.3}",
                a.true_peak_dbtp
            );
        }
    }

    #[test]
    fn merged_histograms_measure_the_set_as_one_programme() {
        let rate = 48_000;
        let a = programme(rate, 12.0, 0);
        let b: Vec<f32> = programme(rate, 9.0, 3).iter().map(|x| x * 0.3).collect();
        let (_, ha) = measure(&a, rate);
        let (_, hb) = measure(&b, rate);
        let mut album = LoudnessHistogram::new();
        album.merge(&ha);
        album.merge(&hb);
        let joined: Vec<f32> = a.iter().chain(&b).copied().collect();
        let (whole, _) = measure(&joined, rate);
        // Only the blocks that straddle the join differ.
        assert!(
            (album.integrated_lufs() - whole.integrated_lufs).abs() < 0.1,
            "{} vs {}",
            album.integrated_lufs(),
            whole.integrated_lufs
        );
        assert!((album.loudness_range_lu() - whole.lra_lu).abs() < 1.0);
        assert_eq!(LoudnessHistogram::new().integrated_lufs(), LUFS_FLOOR);
        assert_eq!(LoudnessHistogram::new().loudness_range_lu(), 0.0);
    }
}
