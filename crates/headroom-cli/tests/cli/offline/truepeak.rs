//! The true peak of `analyze` and of `render`'s summary on clicks, full-scale noise, an
//! inter-sample-peak sine and programme-like material: within 0.2 dB of a brute-force long
//! sinc, and not under ffmpeg's `ebur128=peak=true`.

use std::f64::consts::PI;
use std::path::Path;

use headroom_cli::audio::{Audio, OutputSamples};

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
    // fs/4 at 45°: samples at ±1, crests of √2 (+3.01 dBTP) between them; faded in over
    // 10 ms so that the onset does not ring.
    let sine: Vec<f32> = (0..24_000)
        .map(|n| {
            let fade = (n as f64 / 480.0).min(1.0);
            (fade * 2f64.sqrt() * (PI / 2.0 * n as f64 + PI / 4.0).sin()) as f32
        })
        .collect();
    // Programme-like: a chord with a moving level, noise hits, soft clipping.
    let mut hiss = noise(72_000, 5);
    let prog: Vec<f32> = (0..72_000)
        .map(|n| {
            let t = n as f64 / f64::from(RATE);
            let env = 0.5 + 0.4 * (2.0 * PI * 0.7 * t).sin();
            let chord: f64 = [196.0, 246.9, 293.7, 2349.0]
                .iter()
                .enumerate()
                .map(|(k, f)| (2.0 * PI * f * t + k as f64).sin() / (1.0 + k as f64))
                .sum();
            let hit = (-(t * 3.0).fract() * 25.0).exp();
            let h = f64::from(hiss.next().unwrap_or(0.0));
            (1.3 * (env * chord * 0.6 + hit * h)).tanh() as f32
        })
        .collect();
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
