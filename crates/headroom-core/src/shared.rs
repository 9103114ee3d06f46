//! Lock-free hand-off of meter values from the audio thread to control threads.
//!
//! The audio thread calls [`AtomicMeters::store`] once per processed block (wait-free relaxed
//! stores of `f32` bit patterns); any other thread calls [`AtomicMeters::load`] for a
//! [`MeterSnapshot`]. Fields are individually consistent; a snapshot may mix two adjacent
//! blocks, which is harmless for display and control.

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
    /// Input true peak of the last block, dBTP.
    pub in_true_peak_dbtp: f32,
    /// Output momentary loudness, LUFS.
    pub out_momentary_lufs: f32,
    /// Output short-term loudness, LUFS.
    pub out_short_term_lufs: f32,
    /// Output gated integrated loudness, LUFS.
    pub out_integrated_lufs: f32,
    /// Output true peak of the last block, dBTP.
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

/// Atomic mirror of a [`MeterSnapshot`].
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
        m.store(&MeterSnapshot::unmeasured());
        m
    }

    /// Publishes a snapshot. Real-time safe: wait-free relaxed stores.
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
        for (slot, v) in self.fields.iter().zip(vals) {
            slot.store(v.to_bits(), Ordering::Relaxed);
        }
        self.bypass.store(m.bypass as u32, Ordering::Relaxed);
        self.frames.store(m.frames, Ordering::Release);
    }

    /// Reads the latest published values.
    pub fn load(&self) -> MeterSnapshot {
        let _ = self.frames.load(Ordering::Acquire);
        let f = |i: usize| f32::from_bits(self.fields[i].load(Ordering::Relaxed));
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
}
