//! Chain contract tests: latency, bypass, bad input, allocation, smoothing, meters.

use crate::support::levelling::*;
use headroom_core::{Chain, ChainParams};

/// Env var that turns `allocation_inside_assert_no_alloc_aborts` into the child process.
const CHILD_ENV: &str = "HEADROOM_ALLOC_ABORT_CHILD";

#[test]
fn oversampler_sees_the_quarter_rate_overshoot() {
    // fs/4 sine sampled 45° off its zero crossings: samples at 0.707, true peak 1.0.
    let n = 4800;
    let mut x = Vec::with_capacity(n * CH);
    for i in 0..n {
        // Hann fade over 400 samples at each end so the excerpt has no edges.
        let fade = (i.min(n - 1 - i) as f64 / 400.0).min(1.0);
        let w = 0.5 - 0.5 * (std::f64::consts::PI * fade).cos();
        let v =
            (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin() * 0.5 * w;
        x.push(v as f32);
        x.push(v as f32);
    }
    let os = Oversampler16::new();
    let tp = os.true_peak_db(&x, 0.0, None);
    let want = 20.0 * 0.5f64.log10();
    assert!((tp - want).abs() < 0.01, "16x peak {tp} dB, want {want}");
}

#[test]
fn latency_equals_lookahead_and_impulse_comes_out_there() {
    let p = ChainParams::default();
    let mut chain = Chain::new(RATE, CH, 1024, &p);
    let lat = chain.latency_frames();
    assert_eq!(
        lat,
        (p.limiter.lookahead_ms / 1000.0 * RATE as f32).round() as usize
    );
    // Low-level noise burst; find the lag of the cross-correlation maximum.
    let mut rng = Rng::new(7);
    let n = 4096;
    let mut x = vec![0.0f32; n * CH];
    for i in 0..1000 {
        let v = (rng.bipolar() * 0.01) as f32;
        x[(1000 + i) * CH] = v;
        x[(1000 + i) * CH + 1] = v;
    }
    let y = run(&mut chain, &x, 256);
    let mut best = (0usize, f64::MIN);
    for lag in 0..200 {
        let mut c = 0.0f64;
        for i in 0..n - lag {
            c += x[i * CH] as f64 * y[(i + lag) * CH] as f64;
        }
        if c > best.1 {
            best = (lag, c);
        }
    }
    assert_eq!(best.0, lat, "cross-correlation peak at lag {}", best.0);

    // An impulse through a chain with all stages disabled comes out exactly `lat` later.
    let mut q = p;
    q.agc.enabled = false;
    q.compressor.enabled = false;
    q.limiter.enabled = false;
    let mut chain = Chain::new(RATE, CH, 1024, &q);
    assert_eq!(chain.latency_frames(), lat);
    let mut x = vec![0.0f32; 512 * CH];
    x[10 * CH] = 0.5;
    x[10 * CH + 1] = -0.25;
    let y = run(&mut chain, &x, 64);
    for (i, v) in y.iter().enumerate() {
        let want = if i == (10 + lat) * CH {
            0.5
        } else if i == (10 + lat) * CH + 1 {
            -0.25
        } else {
            0.0
        };
        assert_eq!(*v, want, "sample {i}");
    }
}

#[test]
fn bypass_is_the_delayed_input_and_toggling_keeps_time() {
    let mut p = ChainParams {
        bypass: true,
        ..Default::default()
    };
    let mut x = music_like(1.0, 3);
    gain(&mut x, -6.0);
    let mut chain = Chain::new(RATE, CH, 1024, &p);
    let lat = chain.latency_frames();
    let y = run(&mut chain, &x, 100);
    for i in 0..x.len() - lat * CH {
        assert_eq!(y[i + lat * CH], x[i], "sample {i}");
    }
    assert!(chain.meters().bypass);
    // Un-bypass at 1 s: a 10 ms crossfade, no jump larger than the signal's own steps.
    p.bypass = false;
    chain.set_params(&p);
    let x2 = music_like(0.5, 4);
    let y2 = run(&mut chain, &x2, 100);
    let max_step_in = x2
        .chunks(CH)
        .zip(x2.chunks(CH).skip(1))
        .map(|(a, b)| (a[0] - b[0]).abs())
        .fold(0.0f32, f32::max);
    let max_step_out = y2
        .chunks(CH)
        .zip(y2.chunks(CH).skip(1))
        .map(|(a, b)| (a[0] - b[0]).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max_step_out <= max_step_in * 1.05,
        "{max_step_out} > {max_step_in}"
    );
    assert!(!chain.meters().bypass);
    // Bypass again: after the 10 ms fade the output is exactly the input, still delayed.
    p.bypass = true;
    chain.set_params(&p);
    let x3 = music_like(0.5, 6);
    let y3 = run(&mut chain, &x3, 77);
    let fade = (RATE as usize / 100 + lat) * CH;
    for i in fade..x3.len() {
        assert_eq!(y3[i], x3[i - lat * CH], "sample {i}");
    }
}

#[test]
fn nan_inf_and_denormals_become_silence_without_poisoning_state() {
    let p = ChainParams::default();
    let x = {
        let mut v = speech_like(3.0, 11);
        normalise(&mut v, -30.0);
        v
    };
    let block = 480 * CH;
    let bad_block = 100; // block index (of 480 frames) that goes bad
    let mut a = Chain::new(RATE, CH, 1024, &p);
    let mut b = Chain::new(RATE, CH, 1024, &p);
    let mut out_a = Vec::new();
    let mut out_b = Vec::new();
    for (k, chunk) in x.chunks(block).enumerate() {
        let mut ca = chunk.to_vec();
        let mut cb = chunk.to_vec();
        if k == bad_block {
            for (i, v) in ca.iter_mut().enumerate() {
                *v = match i % 4 {
                    0 => f32::NAN,
                    1 => f32::INFINITY,
                    2 => f32::NEG_INFINITY,
                    _ => 1e-39,
                };
            }
            cb.iter_mut().for_each(|v| *v = 0.0);
        }
        assert_no_alloc::assert_no_alloc(|| a.process(&mut ca));
        assert_no_alloc::assert_no_alloc(|| b.process(&mut cb));
        out_a.extend_from_slice(&ca);
        out_b.extend_from_slice(&cb);
    }
    assert!(out_a.iter().all(|v| v.is_finite()));
    // Garbage was treated exactly as silence: identical output from then on.
    assert_eq!(out_a, out_b);
    let m = a.meters();
    assert!(m.in_momentary_lufs.is_finite() && m.out_short_term_lufs.is_finite());
    assert!(m.agc_gain_db.is_finite());
    // And the chain still produces sound afterwards.
    let tail_energy: f64 = out_a[out_a.len() - RATE as usize..]
        .iter()
        .map(|&v| (v as f64).powi(2))
        .sum();
    assert!(tail_energy > 0.0);
}

#[test]
fn any_block_size_including_odd_lengths_and_huge_buffers() {
    let p = ChainParams::default();
    let mut x = music_like(0.5, 5);
    gain(&mut x, -10.0);
    let mut chain = Chain::new(RATE, CH, 64, &p);
    // A buffer far above max_block, then a trailing partial frame that must be zeroed.
    let mut big = x.clone();
    assert_no_alloc::assert_no_alloc(|| chain.process(&mut big));
    let mut odd = vec![0.3f32; 2 * CH + 1];
    assert_no_alloc::assert_no_alloc(|| chain.process(&mut odd));
    assert_eq!(odd[2 * CH], 0.0);
    assert_eq!(chain.meters().frames, (x.len() / CH + 2) as u64);
    let mut empty: [f32; 0] = [];
    assert_no_alloc::assert_no_alloc(|| chain.process(&mut empty));
    // Mono and 6-channel chains work too.
    for ch in [1usize, 6] {
        let mut c = Chain::new(44_100, ch, 256, &p);
        let mut buf = vec![0.9f32; 1000 * ch];
        assert_no_alloc::assert_no_alloc(|| c.process(&mut buf));
        assert!(buf.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
        assert_eq!(c.channels(), ch);
        assert_eq!(c.sample_rate(), 44_100);
    }
}

#[test]
fn meters_report_levels_gain_and_reductions() {
    let p = ChainParams::default();
    let mut x = music_like(6.0, 9);
    normalise(&mut x, -8.0);
    let mut chain = Chain::new(RATE, CH, 1024, &p);
    let _ = run(&mut chain, &x, 1024);
    let m = chain.meters();
    assert!((m.in_integrated_lufs + 8.0).abs() < 0.5, "{m:?}");
    assert!((m.in_short_term_lufs + 8.0).abs() < 1.0, "{m:?}");
    assert!((m.out_short_term_lufs + 16.0).abs() < 2.0, "{m:?}");
    assert!(m.agc_gain_db < -4.0, "{m:?}");
    assert!(m.out_true_peak_dbtp <= -0.9, "{m:?}");
    assert!(m.in_true_peak_dbtp > -6.0, "{m:?}");
    assert!(m.compressor_gr_db >= 0.0 && m.limiter_gr_db >= 0.0);
    assert_eq!(m.target_lufs, -16.0);
    assert_eq!(m.frames, (x.len() / CH) as u64);
}

#[test]
fn meters_without_true_peak_leave_the_audio_and_the_loudness_alone() {
    let p = ChainParams::default();
    let mut x = music_like(6.0, 9);
    normalise(&mut x, -30.0);
    // Then a quarter-rate sine at 45° (its samples at 0.707 of its peak): its true peak is
    // 3 dB over its sample peak, and over anything in the music.
    for i in 0..9600 {
        let v = (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin() * 0.5;
        x.extend([v as f32; CH]);
    }
    for block in [64, 1024] {
        let mut on = Chain::new(RATE, CH, block, &p);
        let mut off = Chain::new(RATE, CH, block, &p);
        off.set_meter_true_peak(false);
        let (a, b) = (run(&mut on, &x, block), run(&mut off, &x, block));
        let bits = |v: &[f32]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
        assert!(bits(&a) == bits(&b), "block {block}: the audio differs");
        let (m_on, m_off) = (on.meters(), off.meters());
        for (what, x, y) in [
            ("in M", m_on.in_momentary_lufs, m_off.in_momentary_lufs),
            ("in S", m_on.in_short_term_lufs, m_off.in_short_term_lufs),
            ("in I", m_on.in_integrated_lufs, m_off.in_integrated_lufs),
            ("out M", m_on.out_momentary_lufs, m_off.out_momentary_lufs),
            ("out S", m_on.out_short_term_lufs, m_off.out_short_term_lufs),
            ("out I", m_on.out_integrated_lufs, m_off.out_integrated_lufs),
        ] {
            assert_eq!(x, y, "block {block}: {what}");
        }
        for (on, off) in [
            (on.input_meter(), off.input_meter()),
            (on.output_meter(), off.output_meter()),
        ] {
            assert_eq!(on.sample_peak_dbfs(), off.sample_peak_dbfs());
            assert_eq!(on.loudness_range_lu(), off.loudness_range_lu());
            assert_eq!(off.true_peak_dbtp(), off.sample_peak_dbfs());
        }
        // The input's true peak: the sine's, 3 dB over its samples, only when interpolated.
        let tp_in = on.input_meter().true_peak_dbtp();
        assert!((tp_in + 6.02).abs() < 0.1, "block {block}: {tp_in} dBTP");
        assert!(tp_in > off.input_meter().true_peak_dbtp() + 2.5);
        assert!(
            m_on.in_true_peak_dbtp > m_off.in_true_peak_dbtp + 2.5,
            "block {block}"
        );
    }
    // Kept through `prepare`.
    let mut c = Chain::new(RATE, CH, 256, &p);
    c.set_meter_true_peak(false);
    c.prepare(44_100, 512);
    assert!(!c.input_meter().true_peak_enabled() && !c.output_meter().true_peak_enabled());
}

#[test]
fn target_change_glides_without_clicks() {
    let p = ChainParams::default();
    let x = sine(1000.0, 0.1, 16.0);
    let mut chain = Chain::new(RATE, CH, 1024, &p);
    let y1 = run(&mut chain, &x[..x.len() / 2], 256);
    let mut q = p;
    q.agc.target_lufs = -26.0;
    chain.set_params(&q);
    let y2 = run(&mut chain, &x[x.len() / 2..], 256);
    let y: Vec<f32> = y1.into_iter().chain(y2).collect();
    // Per-period peak (48 samples) may change by at most 0.1 dB between periods.
    let peaks: Vec<f64> = y
        .chunks(48 * CH)
        .map(|c| c.iter().map(|v| v.abs() as f64).fold(0.0, f64::max))
        .collect();
    let start = (RATE as usize * 7) / 48;
    let mut max_step = 0.0f64;
    for w in peaks[start..].windows(2) {
        max_step = max_step.max((20.0 * (w[1] / w[0]).log10()).abs());
    }
    assert!(max_step < 0.1, "largest step between periods {max_step} dB");
    // And it got there: output ~10 dB lower at the end than before the change.
    let before = peaks[start];
    let after = *peaks.last().unwrap();
    let drop = 20.0 * (before / after).log10();
    assert!((drop - 10.0).abs() < 1.0, "drop {drop} dB");
}

#[test]
fn allocation_inside_assert_no_alloc_aborts() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // Child: allocate on purpose where allocation is forbidden.
        let v = assert_no_alloc::assert_no_alloc(|| {
            let v: Vec<u64> = Vec::with_capacity(std::hint::black_box(64));
            v.capacity()
        });
        println!("child survived with {v}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    // This test's name in the test binary: its module path without the crate, then its own.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = format!("{module}::allocation_inside_assert_no_alloc_aborts");
    let out = std::process::Command::new(exe)
        .args(["--exact", &name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && !stdout.contains("child survived"),
        "child status {:?}, stdout {stdout}",
        out.status
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert!(
            out.status.signal().is_some(),
            "child should die by a signal (abort): {:?}",
            out.status
        );
    }
}

#[test]
fn prepare_applies_rate_and_lookahead_and_set_params_does_not_move_latency() {
    let mut p = ChainParams::default();
    let mut chain = Chain::new(RATE, CH, 1024, &p);
    assert_eq!(chain.latency_frames(), 72);
    p.limiter.lookahead_ms = 1.0;
    chain.set_params(&p);
    // The latency only changes at prepare (it would otherwise jump the audio in time).
    assert_eq!(chain.latency_frames(), 72);
    assert_eq!(chain.params().limiter.lookahead_ms, 1.0);
    chain.prepare(44_100, 256);
    assert_eq!(chain.sample_rate(), 44_100);
    assert_eq!(chain.max_block(), 256);
    assert_eq!(chain.latency_frames(), 44);
    assert_eq!(chain.meters().frames, 0);
    let mut buf = vec![0.25f32; 300 * CH];
    assert_no_alloc::assert_no_alloc(|| chain.process(&mut buf));
    assert_eq!(chain.meters().frames, 300);
}

/// A new target starts the meters' integrated loudness again (what `status` shows beside
/// the target: after a change of profile, the loudness integrated under the old target said
/// nothing of the new); another change of the parameters leaves it running.
#[test]
fn a_new_target_starts_the_integrated_loudness_again() {
    let p = ChainParams::default();
    let mut loud = pink_noise(6.0, 31);
    normalise(&mut loud, -12.0);
    let mut quiet = pink_noise(6.0, 32);
    normalise(&mut quiet, -26.0);
    let integrated = |change: &dyn Fn(&mut ChainParams)| {
        let mut chain = Chain::new(RATE, CH, 1024, &p);
        run(&mut chain, &loud, 256);
        let mut q = p;
        change(&mut q);
        chain.set_params(&q);
        run(&mut chain, &quiet, 256);
        f64::from(chain.meters().in_integrated_lufs)
    };
    // A new target: the input's integrated loudness is the quiet part's alone.
    let i = integrated(&|q| q.agc.target_lufs = -20.0);
    assert!((i + 26.0).abs() < 0.3, "{i}");
    // Another parameter: it goes on over both parts (the quiet one, 14 LU under, is gated
    // out by the relative gate).
    let i = integrated(&|q| q.compressor.ratio = 3.0);
    assert!((i + 12.5).abs() < 1.0, "{i}");
}
