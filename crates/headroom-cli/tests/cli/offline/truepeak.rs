//! The true peak of `analyze` and of `render`'s summary on clicks, full-scale noise, an
//! inter-sample-peak sine and programme-like material: within 0.2 dB of a brute-force long
//! sinc, and not under ffmpeg's `ebur128=peak=true`.

use std::path::Path;

use headroom_cli::audio::{Audio, OutputSamples};
use headroom_tests::audio::{programme_like, quarter_rate_sine_at_45};

use crate::support::audio::{analyze_json, ffmpeg_true_peak_db, true_peak_reference_db};
use crate::support::{headroom, text};

const RATE: u32 = 48_000;

fn noise(len: usize, seed: u64) -> impl Iterator<Item = f32> {
    headroom_tests::audio::white_noise(len, seed).map(|v| v as f32)
}

/// (name, mono samples at 48 kHz).
fn signals() -> Vec<(&'static str, Vec<f32>)> {
    let clicks = |pattern: &[f32]| {
        let mut v = vec![0.0f32; 4000];
        v.extend_from_slice(pattern);
        v.extend(std::iter::repeat_n(0.0, 4000));
        v
    };
    let sine = quarter_rate_sine_at_45(24_000);
    let prog = programme_like(72_000, 5);
    vec![
        ("alternating pair", clicks(&[1.0, -1.0])),
        ("alternating triple", clicks(&[0.9, -0.9, 0.9])),
        ("full-scale white noise", noise(48_000, 9).collect()),
        ("fs/4 sine at 45°", sine),
        ("programme", prog),
    ]
}

fn write(path: &Path, samples: &[f32]) {
    Audio {
        rate: RATE,
        channels: 1,
        samples: samples.to_vec(),
    }
    .write_wav(path, OutputSamples::F32)
    .unwrap();
}

#[test]
fn analyze_reads_the_true_peak_of_clicks_and_noise() {
    let dir = tempfile::tempdir().unwrap();
    for (name, x) in signals() {
        let file = dir.path().join("x.wav");
        write(&file, &x);
        let got = analyze_json(dir.path(), &file)["true_peak_dbtp"]
            .as_f64()
            .unwrap();
        let want = true_peak_reference_db(&x);
        assert!(
            (got - want).abs() <= 0.2,
            "{name}: analyze {got:.3} dBTP, reference {want:.3}"
        );
        // ffmpeg prints one decimal; its shorter filter reads these lower or the same.
        let ff = ffmpeg_true_peak_db(&file);
        assert!(got >= ff - 0.06, "{name}: analyze {got:.3}, ffmpeg {ff}");
    }
}

#[test]
fn render_summary_reads_the_true_peak_of_input_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, x) in signals() {
        let input = d.join("in.wav");
        let output = d.join("out.wav");
        write(&input, &x);
        let out = headroom(
            d,
            &[
                "--json",
                "render",
                input.to_str().unwrap(),
                output.to_str().unwrap(),
                "--format",
                "f32",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let before = v["before"]["true_peak_dbtp"].as_f64().unwrap();
        let want = true_peak_reference_db(&x);
        assert!(
            (before - want).abs() <= 0.2,
            "{name}: input {before:.3} dBTP, reference {want:.3}"
        );
        let after = v["after"]["true_peak_dbtp"].as_f64().unwrap();
        let written = Audio::read(&output).unwrap().samples;
        let want = true_peak_reference_db(&written);
        assert!(
            (after - want).abs() <= 0.2,
            "{name}: output {after:.3} dBTP, reference {want:.3}"
        );
    }
}
