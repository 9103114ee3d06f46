//! Players and measurements of the routing scenarios.

use anyhow::{Context, Result};
use headroom_tests::Sandbox;

/// A `pw-play` of `wav` as application `app` (default target: WirePlumber decides; the
/// router moves it).
pub fn play(sb: &Sandbox, wav: &std::path::Path, app: &str) -> Result<std::process::Child> {
    sb.command("pw-play")
        .arg("-P")
        .arg(format!("{{ application.name={app} }}"))
        .arg(wav)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting pw-play")
}

/// Amplitude (peak, linear) of the `freq` component of channel 0 of `w` between `from` and
/// `to` seconds (Goertzel over the window).
pub fn tone_amplitude(w: &headroom_tests::Wav, freq: f64, from: f64, to: f64) -> f64 {
    let r = f64::from(w.rate);
    let a = (from * r) as usize;
    let b = ((to * r) as usize).min(w.frames());
    if b <= a {
        return 0.0;
    }
    let n = (b - a) as f64;
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / r).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for i in a..b {
        let x = f64::from(w.samples[i * w.channels]);
        let s0 = x + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    2.0 * power.max(0.0).sqrt() / n
}
