//! EBU Tech 3341 (v3, 2016) minimum-requirements test cases 1–6, 9, 10, 12, 13 and 15–23,
//! synthesised here from the definitions in Table 1 of the specification, run against both
//! the offline `analysis::analyze` and the `LiveMeter`.
//!
//! Tolerances are the specification's: ±0.1 LU for M, S and I; +0.2/−0.4 dB for true peak.

use crate::support::{feed_live, tone_segments, tp_burst, tp_sine};
use headroom_core::analysis::{analyze, Analysis};
use headroom_core::meter::LiveMeter;

const RATES: [u32; 2] = [48_000, 44_100];

fn near(v: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (v - want).abs() <= tol,
        "{what}: {v:.3}, want {want} ±{tol}"
    );
}

fn tp_ok(v: f64, want: f64, what: &str) {
    assert!(
        v - want <= 0.2 && v - want >= -0.4,
        "{what}: {v:.3} dBTP, want {want} +0.2/−0.4"
    );
}

fn both(sig: &[f32], rate: u32, ch: usize) -> (Analysis, LiveMeter) {
    let a = analyze(sig, rate, ch).expect("analyze");
    let mut m = LiveMeter::new(rate, ch);
    m.process(sig);
    (a, m)
}

/// Cases 1 and 2: M, S, I of a steady stereo tone.
#[test]
fn tech3341_cases_1_and_2_steady_tone() {
    for rate in RATES {
        for level in [-23.0, -33.0] {
            let sig = tone_segments(rate, &[(20.0, Some(level))]);
            let (a, _) = both(&sig, rate, 2);
            let what = format!("{rate} Hz {level} dBFS");
            near(a.integrated_lufs, level, 0.1, &format!("analysis I {what}"));
            near(
                a.max_momentary_lufs,
                level,
                0.1,
                &format!("analysis max M {what}"),
            );
            near(
                a.max_short_term_lufs,
                level,
                0.1,
                &format!("analysis max S {what}"),
            );
            let mut m = LiveMeter::new(rate, 2);
            feed_live(&mut m, &sig, 2, |t, m| {
                if t >= 0.4 {
                    near(
                        m.momentary_lufs(),
                        level,
                        0.1,
                        &format!("live M {what} t={t}"),
                    );
                }
                if t >= 3.0 {
                    near(
                        m.short_term_lufs(),
                        level,
                        0.1,
                        &format!("live S {what} t={t}"),
                    );
                }
            });
            near(m.integrated_lufs(), level, 0.1, &format!("live I {what}"));
        }
    }
}

/// Cases 3, 4 and 5: gating of quiet and loud segments; I = −23.
#[test]
fn tech3341_cases_3_to_5_gating() {
    let cases: [&[(f64, Option<f64>)]; 3] = [
        &[
            (10.0, Some(-36.0)),
            (60.0, Some(-23.0)),
            (10.0, Some(-36.0)),
        ],
        &[
            (10.0, Some(-72.0)),
            (10.0, Some(-36.0)),
            (60.0, Some(-23.0)),
            (10.0, Some(-36.0)),
            (10.0, Some(-72.0)),
        ],
        &[
            (20.0, Some(-26.0)),
            (20.1, Some(-20.0)),
            (20.0, Some(-26.0)),
        ],
    ];
    for (i, segs) in cases.iter().enumerate() {
        let rate = 48_000;
        let sig = tone_segments(rate, segs);
        let (a, m) = both(&sig, rate, 2);
        near(
            a.integrated_lufs,
            -23.0,
            0.1,
            &format!("analysis I case {}", i + 3),
        );
        near(
            m.integrated_lufs(),
            -23.0,
            0.1,
            &format!("live I case {}", i + 3),
        );
    }
}

/// Case 6: 5.0 channels (L, R, C, Ls, Rs) at −28, −28, −24, −30, −30 dBFS; I = −23.
#[test]
fn tech3341_case_6_five_channels() {
    for rate in RATES {
        let n = crate::support::frames(rate, 20.0);
        let lv = [-28.0, -28.0, -24.0, -30.0, -30.0];
        let chans: Vec<Vec<f64>> = lv
            .iter()
            .map(|&l| crate::support::sine(rate, 1000.0, crate::support::db(l), 0.0, n))
            .collect();
        let sig = crate::support::interleave(&chans);
        let (a, m) = both(&sig, rate, 5);
        near(a.integrated_lufs, -23.0, 0.1, "analysis I case 6");
        near(m.integrated_lufs(), -23.0, 0.1, "live I case 6");
    }
}

/// Case 9: (1.34 s at −20, 1.66 s at −30) × 5: S = −23 constant after 3 s.
#[test]
fn tech3341_case_9_short_term_constant() {
    for rate in RATES {
        let segs: Vec<(f64, Option<f64>)> = (0..5)
            .flat_map(|_| [(1.34, Some(-20.0)), (1.66, Some(-30.0))])
            .collect();
        let sig = tone_segments(rate, &segs);
        let a = analyze(&sig, rate, 2).unwrap();
        near(a.max_short_term_lufs, -23.0, 0.1, "analysis max S case 9");
        let mut m = LiveMeter::new(rate, 2);
        let mut checked = 0;
        feed_live(&mut m, &sig, 2, |t, m| {
            if t >= 3.0 - 1e-9 {
                near(
                    m.short_term_lufs(),
                    -23.0,
                    0.1,
                    &format!("live S case 9 t={t}"),
                );
                checked += 1;
            }
        });
        assert!(checked >= 120);
    }
}

/// Case 10: for i in 0..20, (i·0.15 s silence; 3 s at −23; 1 s silence): max S = −23.
/// The live meter reads S every 100 ms: its maximum is taken over the readings at the
/// sub-block boundaries, which lie at most 50 ms from the end of the burst (−0.07 LU).
#[test]
fn tech3341_case_10_short_term_bursts() {
    for rate in RATES {
        for i in 0..20 {
            let sig = tone_segments(
                rate,
                &[(i as f64 * 0.15, None), (3.0, Some(-23.0)), (1.0, None)],
            );
            let a = analyze(&sig, rate, 2).unwrap();
            near(
                a.max_short_term_lufs,
                -23.0,
                0.1,
                &format!("analysis max S 10-{i}"),
            );
            let mut m = LiveMeter::new(rate, 2);
            let mut max_s = f64::NEG_INFINITY;
            let end = i as f64 * 0.15 + 3.0;
            feed_live(&mut m, &sig, 2, |t, m| {
                max_s = max_s.max(m.short_term_lufs());
                // At the boundary nearest the end of the burst the window misses only the
                // part of the burst it cannot see.
                if (t - end).abs() < 0.05 + 1e-6 {
                    let seen = 3.0 - (t - end).abs();
                    let want = -23.0 + 10.0 * (seen / 3.0).log10();
                    near(
                        m.short_term_lufs(),
                        want,
                        0.1,
                        &format!("live S 10-{i} t={t}"),
                    );
                }
            });
            near(max_s, -23.0, 0.1, &format!("live max S 10-{i}"));
        }
    }
}

/// Case 12: (0.18 s at −20, 0.22 s at −30) × 25: M = −23 constant after 1 s.
#[test]
fn tech3341_case_12_momentary_constant() {
    for rate in RATES {
        let segs: Vec<(f64, Option<f64>)> = (0..25)
            .flat_map(|_| [(0.18, Some(-20.0)), (0.22, Some(-30.0))])
            .collect();
        let sig = tone_segments(rate, &segs);
        let a = analyze(&sig, rate, 2).unwrap();
        near(a.max_momentary_lufs, -23.0, 0.1, "analysis max M case 12");
        let mut m = LiveMeter::new(rate, 2);
        let mut checked = 0;
        feed_live(&mut m, &sig, 2, |t, m| {
            if t >= 1.0 - 1e-9 {
                near(
                    m.momentary_lufs(),
                    -23.0,
                    0.1,
                    &format!("live M case 12 t={t}"),
                );
                checked += 1;
            }
        });
        assert!(checked >= 90);
    }
}

/// Case 13: for i in 0..20, (i·20 ms silence; 400 ms at −23; 1 s silence): max M = −23 on
/// the analysis grid. The live meter updates M every 100 ms (the O(1) design), so only the
/// bursts whose end falls on a sub-block boundary (i = 0, 5, 10, 15) can read −23 there; for
/// every i the reading at each boundary must equal the loudness of the part of the burst
/// inside the 400 ms window.
#[test]
fn tech3341_case_13_momentary_bursts() {
    for rate in RATES {
        for i in 0..20 {
            let start = i as f64 * 0.02;
            let sig = tone_segments(rate, &[(start, None), (0.4, Some(-23.0)), (1.0, None)]);
            let a = analyze(&sig, rate, 2).unwrap();
            near(
                a.max_momentary_lufs,
                -23.0,
                0.1,
                &format!("analysis max M 13-{i}"),
            );
            let mut m = LiveMeter::new(rate, 2);
            let mut max_m = f64::NEG_INFINITY;
            let end = start + 0.4;
            feed_live(&mut m, &sig, 2, |t, m| {
                max_m = max_m.max(m.momentary_lufs());
                let overlap = (t.min(end) - (t - 0.4).max(start)).max(0.0);
                // Skip windows that only graze the burst edges (filter transients dominate).
                if overlap >= 0.2 {
                    let want = -23.0 + 10.0 * (overlap / 0.4).log10();
                    near(
                        m.momentary_lufs(),
                        want,
                        0.1,
                        &format!("live M 13-{i} t={t}"),
                    );
                }
            });
            if i % 5 == 0 {
                near(max_m, -23.0, 0.1, &format!("live max M 13-{i}"));
            }
        }
    }
}

/// Cases 15–19: sines at fs/4, fs/6, fs/8 with specific phases (true peak between samples).
#[test]
fn tech3341_cases_15_to_19_true_peak_sines() {
    // (case, divisor of fs, amplitude, phase in degrees, expected dBTP)
    let cases = [
        (15, 4.0, 0.5, 0.0, -6.0),
        (16, 4.0, 0.5, 45.0, -6.0),
        (17, 6.0, 0.5, 60.0, -6.0),
        (18, 8.0, 0.5, 67.5, -6.0),
        (19, 4.0, 1.41, 45.0, 3.0),
    ];
    for rate in RATES {
        for (case, div, amp, phase, want) in cases {
            let sig = tp_sine(rate, div, amp, phase);
            let (a, m) = both(&sig, rate, 2);
            tp_ok(
                a.true_peak_dbtp,
                want,
                &format!("analysis TP case {case} at {rate}"),
            );
            tp_ok(
                m.true_peak_dbtp(),
                want,
                &format!("live TP case {case} at {rate}"),
            );
            // The sample peak of the phase-shifted cases is well below the true peak.
            if case == 16 || case == 19 {
                assert!(m.sample_peak_dbfs() < m.true_peak_dbtp() - 2.5);
            }
        }
    }
}

/// Cases 20–23: a single period of fs/4 inside an fs/6 tone, synthesised at 4·fs,
/// anti-alias filtered and decimated with offsets 0–3: max true peak 0.0 dBTP.
#[test]
fn tech3341_cases_20_to_23_true_peak_bursts() {
    for rate in RATES {
        for offset in 0..4 {
            let (sig, peak_4fs) = tp_burst(rate, offset);
            // The band-limited signal itself peaks at 0 dBFS (within the filter ripple).
            assert!(
                (crate::support::lin_db(peak_4fs)).abs() < 0.2,
                "4·fs peak {peak_4fs}"
            );
            let (a, m) = both(&sig, rate, 2);
            let case = 20 + offset;
            tp_ok(
                a.true_peak_dbtp,
                0.0,
                &format!("analysis TP case {case} at {rate}"),
            );
            tp_ok(
                m.true_peak_dbtp(),
                0.0,
                &format!("live TP case {case} at {rate}"),
            );
        }
    }
}
