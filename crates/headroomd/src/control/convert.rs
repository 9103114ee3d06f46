//! Conversions from the DSP crate's types to their wire mirrors (the wire crate does not
//! depend on the DSP crate).

use headroom_core::{MeterSnapshot, TimingSnapshot};
use headroom_ipc::{DspTiming, Meters};

/// Wire [`Meters`] from a core [`MeterSnapshot`]. Allocation: none.
pub fn meters_from_core(m: &MeterSnapshot) -> Meters {
    Meters {
        in_momentary_lufs: m.in_momentary_lufs,
        in_short_term_lufs: m.in_short_term_lufs,
        in_integrated_lufs: m.in_integrated_lufs,
        in_true_peak_dbtp: m.in_true_peak_dbtp,
        out_momentary_lufs: m.out_momentary_lufs,
        out_short_term_lufs: m.out_short_term_lufs,
        out_integrated_lufs: m.out_integrated_lufs,
        out_true_peak_dbtp: m.out_true_peak_dbtp,
        agc_gain_db: m.agc_gain_db,
        compressor_gr_db: m.compressor_gr_db,
        limiter_gr_db: m.limiter_gr_db,
        target_lufs: m.target_lufs,
        bypass: m.bypass,
        frames: m.frames,
    }
}

/// Wire [`DspTiming`] from a core [`TimingSnapshot`]. Allocation: none.
pub fn dsp_timing_from_core(t: &TimingSnapshot) -> DspTiming {
    DspTiming {
        call_count: t.call_count,
        mean_us: t.mean_us(),
        max_us: t.max_us,
        spike_count: t.spike_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_meter_field_is_carried() {
        let core = MeterSnapshot {
            in_momentary_lufs: -1.0,
            in_short_term_lufs: -2.0,
            in_integrated_lufs: -3.0,
            in_true_peak_dbtp: -4.0,
            out_momentary_lufs: -5.0,
            out_short_term_lufs: -6.0,
            out_integrated_lufs: -7.0,
            out_true_peak_dbtp: -8.0,
            agc_gain_db: 9.0,
            compressor_gr_db: 10.0,
            limiter_gr_db: 11.0,
            target_lufs: -12.0,
            bypass: true,
            frames: 13,
        };
        // Same field names on both sides: compare through JSON, so a field added to the
        // core snapshot but not mirrored here shows up as a difference.
        let a = serde_json::to_value(core).unwrap();
        let b = serde_json::to_value(meters_from_core(&core)).unwrap();
        assert_eq!(a, b);
        let t = TimingSnapshot {
            call_count: 4,
            sum_us: 10,
            max_us: 5,
            spike_count: 1,
            last_spike_us: 5,
            last_spike_at_call: 3,
        };
        let d = dsp_timing_from_core(&t);
        assert_eq!(
            (d.call_count, d.mean_us, d.max_us, d.spike_count),
            (4, 2.5, 5, 1)
        );
    }
}
