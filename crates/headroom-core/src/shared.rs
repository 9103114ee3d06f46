//! Lock-free hand-off of meter values from the audio thread to control threads.
//!
//! The audio thread calls [`AtomicMeters::store`] once per processed block (wait-free relaxed
//! stores of `f32` bit patterns); any other thread calls [`AtomicMeters::load`] for a
//! [`MeterSnapshot`]. Fields are individually consistent; a snapshot may mix two adjacent
//! blocks, which is harmless for display and control.
//!
//! The two true peaks are held, not overwritten: a block's peak is a few milliseconds of
//! audio and a reader comes by every 100 ms, so a plain store would show the peak of
//! whichever block came last and miss the rest. Each store raises the held peaks to its
//! block's; one reader (the daemon's tick) takes them with [`AtomicMeters::take`], which
//! starts the next hold, and so reads the true peak of everything stored in between.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Values the chain publishes after each block. Loudness values at or below
/// [`crate::LUFS_FLOOR`] mean "no measurement".
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MeterSnapshot {
    /// Input momentary loudness, LUFS.
    pub in_momentary_lufs: f32,
    /// Input short-term loudness, LUFS.
    pub in_short_term_lufs: f32,
    /// Input gated integrated loudness, LUFS.
    pub in_integrated_lufs: f32,
    /// Input true peak, dBTP: of the last block in a snapshot the chain makes; of every
    /// block since the last [`AtomicMeters::take`] in one read from [`AtomicMeters`].
    pub in_true_peak_dbtp: f32,
    /// Output momentary loudness, LUFS.
    pub out_momentary_lufs: f32,
    /// Output short-term loudness, LUFS.
    pub out_short_term_lufs: f32,
    /// Output gated integrated loudness, LUFS.
    pub out_integrated_lufs: f32,
    /// Output true peak, dBTP (held as `in_true_peak_dbtp` is).
    pub out_true_peak_dbtp: f32,
    /// Current AGC gain, dB.
    pub agc_gain_db: f32,
    /// Current compressor gain reduction, dB (≥ 0).
    pub compressor_gr_db: f32,
    /// Current limiter gain reduction, dB (≥ 0).
    pub limiter_gr_db: f32,
    /// AGC target in force, LUFS.
    pub target_lufs: f32,
    /// Whether the chain is bypassed.
    pub bypass: bool,
    /// Frames processed since the chain was created.
    pub frames: u64,
}

/// Field indices of the two held true peaks in [`AtomicMeters`]'s `fields`.
const PEAK_FIELDS: [usize; 2] = [3, 7];

/// An `f32` as a `u32` whose unsigned order is the floats' order (negative values below
/// positive ones, more negative lower), so that `fetch_max` holds the highest value.
fn order_key(v: f32) -> u32 {
    let b = v.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The `f32` an [`order_key`] was made from.
fn from_order_key(k: u32) -> f32 {
    if k & 0x8000_0000 != 0 {
        f32::from_bits(k & 0x7fff_ffff)
    } else {
        f32::from_bits(!k)
    }
}

/// Atomic mirror of a [`MeterSnapshot`], with the true peaks held between
/// [`take`](Self::take)s (module docs).
#[derive(Debug)]
pub struct AtomicMeters {
    fields: [AtomicU32; 12],
    bypass: AtomicU32,
    frames: AtomicU64,
}

impl Default for AtomicMeters {
    fn default() -> Self {
        Self::new()
    }
}

impl MeterSnapshot {
    /// A snapshot with no measurement: loudness and peaks at [`crate::LUFS_FLOOR`], no gain
    /// change, no frames.
    pub fn unmeasured() -> Self {
        let floor = crate::LUFS_FLOOR as f32;
        MeterSnapshot {
            in_momentary_lufs: floor,
            in_short_term_lufs: floor,
            in_integrated_lufs: floor,
            in_true_peak_dbtp: floor,
            out_momentary_lufs: floor,
            out_short_term_lufs: floor,
            out_integrated_lufs: floor,
            out_true_peak_dbtp: floor,
            ..Default::default()
        }
    }
}

impl AtomicMeters {
    /// Creates meters that read "no measurement" ([`MeterSnapshot::unmeasured`]) until the
    /// first store. Allocation: none (the struct is plain atomics).
    pub fn new() -> Self {
        let m = Self {
            fields: Default::default(),
            bypass: AtomicU32::new(0),
            frames: AtomicU64::new(0),
        };
        // The peak fields start at 0, the lowest key of all (a NaN's): the first store's
        // `fetch_max` sets them.
        m.store(&MeterSnapshot::unmeasured());
        m
    }

    /// Publishes a snapshot: the loudness readings, gains and counters replace the last
    /// ones, the true peaks raise the held ones (a lower peak leaves them as they are).
    /// Real-time safe: wait-free relaxed stores and `fetch_max`es.
    pub fn store(&self, m: &MeterSnapshot) {
        let vals = [
            m.in_momentary_lufs,
            m.in_short_term_lufs,
            m.in_integrated_lufs,
            m.in_true_peak_dbtp,
            m.out_momentary_lufs,
            m.out_short_term_lufs,
            m.out_integrated_lufs,
            m.out_true_peak_dbtp,
            m.agc_gain_db,
            m.compressor_gr_db,
            m.limiter_gr_db,
            m.target_lufs,
        ];
        for (i, (slot, v)) in self.fields.iter().zip(vals).enumerate() {
            if PEAK_FIELDS.contains(&i) {
                slot.fetch_max(order_key(v), Ordering::Relaxed);
            } else {
                slot.store(v.to_bits(), Ordering::Relaxed);
            }
        }
        self.bypass.store(m.bypass as u32, Ordering::Relaxed);
        self.frames.store(m.frames, Ordering::Release);
    }

    /// Reads the latest published values; the true peaks are the highest stored since the
    /// last [`take`](Self::take) (no measurement if nothing was stored since). The hold goes on.
    pub fn load(&self) -> MeterSnapshot {
        self.read(|slot| slot.load(Ordering::Relaxed))
    }

    /// Reads as [`load`](Self::load) does and starts a new hold of the true peaks: the next
    /// read sees only the blocks stored after this one. A peak stored while this runs lands
    /// in one hold or the other, never in none. For one reader: two readers taking in turn
    /// would each see only part of the peaks.
    pub fn take(&self) -> MeterSnapshot {
        let floor = order_key(crate::LUFS_FLOOR as f32);
        self.read(|slot| slot.swap(floor, Ordering::Relaxed))
    }

    /// A snapshot with the held peaks read by `peak`.
    fn read(&self, peak: impl Fn(&AtomicU32) -> u32) -> MeterSnapshot {
        let _ = self.frames.load(Ordering::Acquire);
        let f = |i: usize| match self.fields.get(i) {
            Some(slot) if PEAK_FIELDS.contains(&i) => from_order_key(peak(slot)),
            Some(slot) => f32::from_bits(slot.load(Ordering::Relaxed)),
            None => crate::LUFS_FLOOR as f32,
        };
        MeterSnapshot {
            in_momentary_lufs: f(0),
            in_short_term_lufs: f(1),
            in_integrated_lufs: f(2),
            in_true_peak_dbtp: f(3),
            out_momentary_lufs: f(4),
            out_short_term_lufs: f(5),
            out_integrated_lufs: f(6),
            out_true_peak_dbtp: f(7),
            agc_gain_db: f(8),
            compressor_gr_db: f(9),
            limiter_gr_db: f(10),
            target_lufs: f(11),
            bypass: self.bypass.load(Ordering::Relaxed) != 0,
            frames: self.frames.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_meters_read_no_measurement() {
        let m = AtomicMeters::new().load();
        assert_eq!(m, MeterSnapshot::unmeasured());
        assert!(m.in_momentary_lufs <= crate::LUFS_FLOOR as f32);
        assert!(m.out_true_peak_dbtp <= crate::LUFS_FLOOR as f32);
        assert_eq!(m.frames, 0);
    }

    #[test]
    fn store_then_load_round_trips() {
        let m = MeterSnapshot {
            in_momentary_lufs: -23.5,
            out_short_term_lufs: -16.25,
            limiter_gr_db: 1.5,
            target_lufs: -16.0,
            bypass: true,
            frames: 4800,
            ..Default::default()
        };
        let a = AtomicMeters::new();
        a.store(&m);
        assert_eq!(a.load(), m);
    }

    #[test]
    fn order_keys_sort_as_the_floats_do() {
        let vals = [
            f32::NEG_INFINITY,
            -300.0,
            -20.5,
            -1.0e-30,
            -0.0,
            0.0,
            1.0e-30,
            0.5,
            3.25,
            f32::INFINITY,
        ];
        for w in vals.windows(2) {
            assert!(order_key(w[0]) <= order_key(w[1]), "{w:?}");
        }
        for v in vals {
            assert_eq!(from_order_key(order_key(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn true_peaks_are_held_until_taken() {
        let a = AtomicMeters::new();
        let block = |in_tp: f32, out_tp: f32, frames: u64| MeterSnapshot {
            in_momentary_lufs: -20.0 - frames as f32,
            in_true_peak_dbtp: in_tp,
            out_true_peak_dbtp: out_tp,
            frames,
            ..MeterSnapshot::unmeasured()
        };
        a.store(&block(-12.0, -6.0, 1));
        a.store(&block(-0.5, -9.0, 2));
        a.store(&block(-30.0, -1.0, 3));
        // The loudness is the last block's, each peak the highest of the three; a load
        // leaves the hold as it is.
        for _ in 0..2 {
            let m = a.load();
            assert_eq!(m.in_momentary_lufs, -23.0);
            assert_eq!((m.in_true_peak_dbtp, m.out_true_peak_dbtp), (-0.5, -1.0));
        }
        let t = a.take();
        assert_eq!((t.in_true_peak_dbtp, t.out_true_peak_dbtp), (-0.5, -1.0));
        assert_eq!(t.frames, 3);
        // Nothing stored since: no measurement; then only what came after the take.
        let floor = crate::LUFS_FLOOR as f32;
        let m = a.load();
        assert_eq!((m.in_true_peak_dbtp, m.out_true_peak_dbtp), (floor, floor));
        assert_eq!(m.in_momentary_lufs, -23.0);
        a.store(&block(-18.0, -14.0, 4));
        let t = a.take();
        assert_eq!((t.in_true_peak_dbtp, t.out_true_peak_dbtp), (-18.0, -14.0));
    }
}
