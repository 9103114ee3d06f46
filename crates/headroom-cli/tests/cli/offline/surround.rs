//! Surround files: `analyze` and `render`'s "before" figure weight the channels of the
//! file's default layout alike (front 1.0, surround 1.41, LFE left out), every channel of
//! 7.1 included.

use headroom_cli::audio::{Audio, OutputSamples};

use crate::support::audio::analyze_json;
use crate::support::{headroom, text};

/// A 1 kHz sine of −12 dBFS peak in channel `only` of `channels` otherwise silent ones.
fn sine_in(channels: usize, only: usize, secs: f64) -> Audio {
    let rate = 48_000u32;
    let n = (secs * f64::from(rate)) as usize;
    let mut samples = vec![0.0f32; n * channels];
    for i in 0..n {
        let t = i as f64 / f64::from(rate);
        samples[i * channels + only] =
            (0.25 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32;
    }
    Audio {
        rate,
        channels,
        samples,
    }
}

/// (analyze's integrated loudness, render's "before" integrated loudness) of the file.
fn both(dir: &std::path::Path, audio: &Audio) -> (f64, f64) {
    let input = dir.join("in.wav");
    audio.write_wav(&input, OutputSamples::S24).unwrap();
    let a = analyze_json(dir, &input)["integrated_lufs"]
        .as_f64()
        .unwrap();
    let r = headroom(dir, &["--json", "render", "in.wav", "out.wav"]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    std::fs::remove_file(dir.join("out.wav")).unwrap();
    (a, v["before"]["integrated_lufs"].as_f64().unwrap())
}

#[test]
fn analyze_and_render_weight_surround_channels_alike() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 7.1 (L R C LFE Lb Rb Ls Rs): the side pair is measured, as a surround pair (+1.5 dB
    // over the −15.0 LUFS of the tone in a front channel).
    for only in [6, 7] {
        let (a, r) = both(d, &sine_in(8, only, 4.0));
        assert!((a - -13.55).abs() <= 0.1, "7.1 channel {only}: analyze {a}");
        assert!(
            (r - a).abs() <= 0.1,
            "7.1 channel {only}: render {r}, analyze {a}"
        );
    }
    // 5.1 (L R C LFE Ls Rs): the LFE channel alone is no measurement.
    let (a, r) = both(d, &sine_in(6, 3, 4.0));
    assert_eq!(a, -70.0, "5.1 LFE: analyze");
    assert_eq!(r, -70.0, "5.1 LFE: render");
}
