//! EBU Tech 3342 loudness-range test cases 1–4, synthesised from Table 1 of the
//! specification, against both `analysis::analyze` and `LiveMeter` (tolerance ±1 LU).
//! Also checks the live meter's range against an exact Tech 3342 computation from its own
//! short-term readings.

use crate::support::{feed_live, lra_from_short_term, tone_segments};
use headroom_core::analysis::analyze;
use headroom_core::meter::LiveMeter;

fn run_case(case: usize, levels: &[f64], want: f64) {
    for rate in [48_000u32, 44_100] {
        let segs: Vec<(f64, Option<f64>)> = levels.iter().map(|&l| (20.0, Some(l))).collect();
        let sig = tone_segments(rate, &segs);
        let a = analyze(&sig, rate, 2).expect("analyze");
        assert!(
            (a.lra_lu - want).abs() <= 1.0,
            "analysis LRA case {case} at {rate}: {:.2}, want {want} ±1",
            a.lra_lu
        );
        let mut m = LiveMeter::new(rate, 2);
        let mut st = Vec::new();
        feed_live(&mut m, &sig, 2, |t, m| {
            if t >= 3.0 - 1e-9 {
                st.push(m.short_term_lufs());
            }
        });
        let lra = m.loudness_range_lu();
        // Whole 0.01 LU bins: the figure is its hundredths exactly (no 19.700000000000003
        // in JSON output).
        for v in [lra, a.lra_lu] {
            assert_eq!(v, (v * 100.0).round() / 100.0, "case {case} at {rate}");
        }
        assert!(
            (lra - want).abs() <= 1.0,
            "live LRA case {case} at {rate}: {lra:.2}, want {want} ±1"
        );
        // The histogram (0.01 LU bins) agrees with the exact percentile computation on the
        // same short-term values.
        let exact = lra_from_short_term(&st);
        assert!(
            (lra - exact).abs() <= 0.02,
            "live LRA case {case}: {lra:.3} vs exact {exact:.3}"
        );
    }
}

#[test]
fn tech3342_case_1_ten_lu() {
    run_case(1, &[-20.0, -30.0], 10.0);
}

#[test]
fn tech3342_case_2_five_lu() {
    run_case(2, &[-20.0, -15.0], 5.0);
}

#[test]
fn tech3342_case_3_twenty_lu() {
    run_case(3, &[-40.0, -20.0], 20.0);
}

#[test]
fn tech3342_case_4_fifteen_lu() {
    run_case(4, &[-50.0, -35.0, -20.0, -35.0, -50.0], 15.0);
}
