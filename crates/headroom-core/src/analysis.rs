//! Offline loudness analysis of whole files (`headroom analyze`), built on the `ebur128`
//! crate.
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
//! ## Floors (no −∞ in JSON)
//! * Loudness values with no measurement (silence, or too short) are [`crate::LUFS_FLOOR`]
//!   (−70 LUFS); measured values below it are clamped to it.
//! * Loudness range with nothing above the gates is 0 LU.
//! * Peaks of digital silence are [`crate::meter::PEAK_FLOOR_DB`] (−144 dB).
//!
//! Non-finite samples (NaN, ±∞) are measured as digital silence.

use ebur128::{EbuR128, Mode};
use serde::{Deserialize, Serialize};

use crate::meter::{lufs_to_energy, peak_to_db};
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
        let mode = Mode::I
            | Mode::LRA
            | Mode::M
            | Mode::S
            | Mode::TRUE_PEAK
            | Mode::SAMPLE_PEAK
            | Mode::HISTOGRAM;
        let ebu = EbuR128::new(channels as u32, sample_rate, mode).map_err(measurement)?;
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
        })
    }

    /// Adds interleaved samples. Chunks need not hold whole frames: an incomplete trailing
    /// frame is kept for the next call. Non-finite samples count as silence.
    ///
    /// # Errors
    /// [`AnalysisError::Measurement`] if `ebur128` fails.
    pub fn add(&mut self, interleaved: &[f32]) -> Result<(), AnalysisError> {
        let ch = self.channels;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(&self.pending);
        scratch.extend(
            interleaved
                .iter()
                .map(|&x| if x.is_finite() { x } else { 0.0 }),
        );
        let whole = scratch.len() / ch * ch;
        self.pending.clear();
        self.pending.extend_from_slice(&scratch[whole..]);
        let result = self.feed(&scratch[..whole]);
        self.scratch = scratch;
        result
    }

    /// Feeds whole frames, split at hop boundaries.
    fn feed(&mut self, mut frames: &[f32]) -> Result<(), AnalysisError> {
        let ch = self.channels;
        while !frames.is_empty() {
            let n = (self.hop - self.hop_pos).min(frames.len() / ch);
            let (head, tail) = frames.split_at(n * ch);
            self.ebu.add_frames_f32(head).map_err(measurement)?;
            self.hop_pos += n;
            frames = tail;
            if self.hop_pos == self.hop {
                self.hop_pos = 0;
                self.end_hop()?;
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
                self.note(m / self.hops_m as f64, s / len as f64);
            }
            None => {
                let m = self.ebu.loudness_momentary().map_err(measurement)?;
                let s = self.ebu.loudness_shortterm().map_err(measurement)?;
                self.max_m = self.max_m.max(m);
                self.max_s = self.max_s.max(s);
            }
        }
        Ok(())
    }

    fn note(&mut self, m_energy: f64, s_energy: f64) {
        let to_l = crate::meter::energy_to_lufs;
        self.max_m = self.max_m.max(to_l(m_energy));
        self.max_s = self.max_s.max(to_l(s_energy));
    }

    /// Completes the measurement (the last partial hop is evaluated too) and returns it.
    ///
    /// # Errors
    /// [`AnalysisError::PartialFrame`] if an incomplete frame is left over;
    /// [`AnalysisError::Measurement`] if `ebur128` fails.
    pub fn finish(mut self) -> Result<Analysis, AnalysisError> {
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
            self.max_m = self.max_m.max(m);
            self.max_s = self.max_s.max(s);
        }
        let floor = |l: f64| if l > LUFS_FLOOR { l } else { LUFS_FLOOR };
        let ch = self.channels as u32;
        let mut tp = 0.0f64;
        let mut sp = 0.0f64;
        for c in 0..ch {
            tp = tp.max(self.ebu.true_peak(c).map_err(measurement)?);
            sp = sp.max(self.ebu.sample_peak(c).map_err(measurement)?);
        }
        let lra = self.ebu.loudness_range().map_err(measurement)?;
        Ok(Analysis {
            integrated_lufs: floor(self.ebu.loudness_global().map_err(measurement)?),
            lra_lu: if lra.is_finite() && lra > 0.0 {
                lra
            } else {
                0.0
            },
            max_momentary_lufs: floor(self.max_m),
            max_short_term_lufs: floor(self.max_s),
            true_peak_dbtp: peak_to_db(tp.max(sp)),
            sample_peak_dbfs: peak_to_db(sp),
        })
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
        // taken at every 10 ms.
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
        for hop in sig.chunks(480) {
            e.add_frames_f32(hop).unwrap();
            mm = mm.max(e.loudness_momentary().unwrap());
            ms = ms.max(e.loudness_shortterm().unwrap());
        }
        assert!((a.max_momentary_lufs - mm).abs() < 1e-6, "{a:?} {mm}");
        assert!((a.max_short_term_lufs - ms).abs() < 1e-6, "{a:?} {ms}");
    }
}
