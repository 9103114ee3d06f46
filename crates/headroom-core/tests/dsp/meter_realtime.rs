//! Real-time contract of `LiveMeter::process` and `TruePeakDetector::push`: no allocation
//! (checked by `assert_no_alloc`), no panic and no NaN out for any block size from 1 to 8192
//! frames and for NaN, ±∞, denormal and huge input; the meter recovers afterwards.

use crate::support::{db, same_on_all, sine, Rng};
use assert_no_alloc::assert_no_alloc;
use headroom_core::meter::LiveMeter;
use headroom_core::truepeak::TruePeakDetector;

const BLOCK_SIZES: [usize; 14] = [
    1, 2, 3, 7, 31, 64, 128, 255, 256, 1000, 1024, 2048, 4097, 8192,
];

/// Hostile samples: NaN, ±∞, denormals, huge finite values, mixed with noise.
fn hostile(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match rng.int(0, 9) {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => f32::NEG_INFINITY,
            3 => 1e-40,
            4 => -1e-39,
            5 => f32::MAX,
            6 => f32::MIN_POSITIVE,
            _ => rng.range(-1.0, 1.0) as f32,
        })
        .collect()
}

fn assert_readings_sane(m: &LiveMeter) {
    for v in [
        m.momentary_lufs(),
        m.short_term_lufs(),
        m.integrated_lufs(),
        m.loudness_range_lu(),
        m.true_peak_dbtp(),
        m.sample_peak_dbfs(),
        m.block_true_peak_dbtp(),
        m.momentary_energy(),
        m.short_term_energy(),
    ] {
        assert!(!v.is_nan(), "NaN reading");
        assert!(v.is_finite(), "non-finite reading {v}");
    }
}

#[test]
fn live_meter_process_is_alloc_free_for_all_block_sizes_and_hostile_input() {
    let mut rng = Rng::new(7);
    for ch in [1usize, 2, 3, 6] {
        let mut m = LiveMeter::new(48_000, ch);
        let data = hostile(&mut rng, 8192 * ch + 5);
        let all_small = 1..=64usize;
        for bs in all_small.chain(BLOCK_SIZES) {
            let block = &data[..bs * ch];
            let odd = &data[..bs * ch + 1];
            assert_no_alloc(|| {
                m.process(block);
                m.process(odd); // incomplete trailing frame
                m.process(&[]);
                // Reads are real-time safe too.
                let _ = m.momentary_lufs() + m.short_term_lufs() + m.integrated_lufs();
                let _ = m.loudness_range_lu() + m.block_true_peak_dbtp();
            });
            assert_readings_sane(&m);
        }
        assert_no_alloc(|| m.reset());
    }
}

#[test]
fn live_meter_recovers_after_hostile_input() {
    let rate = 48_000;
    let mut m = LiveMeter::new(rate, 2);
    let mut rng = Rng::new(99);
    let junk = hostile(&mut rng, 2 * rate as usize);
    for chunk in junk.chunks(2 * 333) {
        assert_no_alloc(|| m.process(chunk));
    }
    assert_readings_sane(&m);
    // 4 s of a 1 kHz sine at −23 dBFS on both channels: stereo reads −23 LUFS (±0.1).
    let clean = same_on_all(&sine(rate, 1000.0, db(-23.0), 0.0, 4 * rate as usize), 2);
    for chunk in clean.chunks(2 * 512) {
        assert_no_alloc(|| m.process(chunk));
    }
    assert_readings_sane(&m);
    assert!(
        (m.momentary_lufs() + 23.0).abs() < 0.1,
        "M {}",
        m.momentary_lufs()
    );
    assert!(
        (m.short_term_lufs() + 23.0).abs() < 0.1,
        "S {}",
        m.short_term_lufs()
    );
    assert!(
        (m.block_true_peak_dbtp() + 23.0).abs() < 0.2,
        "block TP {}",
        m.block_true_peak_dbtp()
    );
}

#[test]
fn long_silence_after_signal_stays_fast_and_finite() {
    // Decaying filter states must be flushed (no denormals): a long silence after a signal
    // reads the floor, without NaN.
    let rate = 44_100;
    let mut m = LiveMeter::new(rate, 1);
    let tone = sine(rate, 50.0, 0.9, 0.0, rate as usize);
    let tone: Vec<f32> = tone.iter().map(|&x| x as f32).collect();
    m.process(&tone);
    let silence = vec![0.0f32; 8192];
    for _ in 0..200 {
        assert_no_alloc(|| m.process(&silence));
    }
    assert_eq!(m.momentary_lufs(), headroom_core::LUFS_FLOOR);
    assert_eq!(m.momentary_energy(), 0.0);
    assert_readings_sane(&m);
}

#[test]
fn true_peak_push_is_alloc_free_and_finite() {
    let mut rng = Rng::new(3);
    for rate in [44_100u32, 48_000, 96_000, 192_000] {
        let mut d = TruePeakDetector::new(rate, 2);
        let data = hostile(&mut rng, 8192);
        for &bs in &BLOCK_SIZES {
            assert_no_alloc(|| {
                for (i, &x) in data[..bs].iter().enumerate() {
                    let y = d.push(i % 3, x); // channel 2 is out of range
                    assert!(y.is_finite() && y >= 0.0);
                }
            });
        }
        assert_no_alloc(|| d.reset());
        // After reset the detector is quiet again.
        let mut out = 0.0f32;
        for _ in 0..20 {
            out = out.max(d.push(0, 0.0));
        }
        assert_eq!(out, 0.0);
    }
}

#[test]
fn live_meter_any_rate_and_channel_count_is_alloc_free() {
    // Odd rates (clamped to 8 kHz, or high enough to switch the true-peak oversampling to 2×
    // and off), 0 channels (treated as 1), odd channel counts, and blocks that split frames
    // at every position.
    let mut rng = Rng::new(11);
    let data = hostile(&mut rng, 3 * 4096 + 13);
    for rate in [0u32, 1, 8_000, 44_100, 96_000, 192_000, 384_000] {
        for ch in [0usize, 1, 5, 8] {
            let mut m = LiveMeter::new(rate, ch);
            let mut pos = 0;
            for len in [1usize, 7, 100, 2049, 3, 4096, 5, 0, 4096] {
                let block = &data[pos..pos + len];
                pos += len;
                assert_no_alloc(|| {
                    m.process(block);
                    let _ = m.integrated_lufs() + m.loudness_range_lu();
                });
                assert_readings_sane(&m);
            }
        }
    }
}
