//! The live bus levels as `headroom render` does, in every shipped profile and a user's
//! own: a programme with a quiet voice, a loud passage and the voice again, played into
//! `headroom-processed`, comes out of the real sink at the loudness the offline render of
//! the same file gives (the same chain, fresh in both), near the profile's target and
//! under its ceiling.
//!
//! Layer A is switched off for these runs (its own tests are in `routing`), but for one: a
//! lone app that Layer A turns down, whose cut the bus input takes off again.
//!
//! The programme is built so that the outcome does not hang on where it starts against the
//! meters' 100 ms grid (a live stream's start is not aligned to it, a render's is): each
//! syllable of the voice has its own length and level, and the loud passage has no dips.
//! Syllables all alike read as steady sound in one phase of the grid and as speech in
//! another, so the voice after the loud passage was brought back up in some runs and held
//! as noise in others; a loud passage that falls back near the remembered level about a
//! second after it began sits at the AGC's resumption threshold (PLAN.md, Known gaps).

use headroom_ipc::SettingValue;
use headroom_tests::audio::{syllables, white_noise};
use headroom_tests::daemon::{concat, write_wav, Daemon, BUS_SINK};
use headroom_tests::{workspace_bin, Sandbox, Wav, DEFAULT_SINK};

use crate::trust::{client, write_user_profile};

/// Integrated loudness (LUFS) and true peak (dBTP, over both channels) of `w`, by the
/// `ebur128` crate.
fn loudness(w: &Wav) -> (f64, f64) {
    let mut m = ebur128::EbuR128::new(
        w.channels as u32,
        w.rate,
        ebur128::Mode::I | ebur128::Mode::TRUE_PEAK,
    )
    .expect("meter");
    m.add_frames_f32(&w.samples).expect("frames");
    let tp = (0..w.channels as u32)
        .map(|c| m.true_peak(c).expect("true peak"))
        .fold(0.0f64, f64::max);
    (m.loudness_global().expect("integrated"), 20.0 * tp.log10())
}

/// A quiet voice ([`headroom_tests::audio::syllables`]) as a WAV.
fn voice(secs: f64, seed: u64) -> Wav {
    Wav {
        rate: 48_000,
        channels: 2,
        samples: syllables(secs, seed),
    }
}

/// 5 s of a quiet voice ([`voice`]), 5 s of loud, steady programme (a chord with hiss,
/// ≈ 13 dB under full scale, with a 1 ms full-scale 3 kHz click every 200 ms: a crest the
/// levelling gain pushes over every ceiling, so the limiter has to hold it), 4 s of the
/// voice again; stereo 48 kHz.
fn programme() -> Wav {
    use std::f64::consts::PI;
    let mut hiss = white_noise(5 * 48_000, 7);
    let loud: Vec<f32> = (0..5 * 48_000)
        .map(|n| {
            let t = n as f64 / 48_000.0;
            let chord: f64 = [220.0, 277.2, 329.6, 1760.0]
                .iter()
                .enumerate()
                .map(|(k, f)| (2.0 * PI * f * t + k as f64).sin() / (1.0 + k as f64))
                .sum();
            let click = if n % 9_600 < 48 {
                (2.0 * PI * 3_000.0 * t).sin()
            } else {
                0.0
            };
            let h = hiss.next().unwrap_or(0.0);
            (0.12 * chord + 0.03 * h + 0.7 * click).clamp(-1.0, 1.0) as f32
        })
        .flat_map(|v| [v, v])
        .collect();
    concat(&[
        voice(5.0, 3),
        Wav {
            rate: 48_000,
            channels: 2,
            samples: loud,
        },
        voice(4.0, 5),
    ])
}

/// Frames of `w` (from `a` to `b`) in runs of at least 256 frames of exact digital silence.
fn silent_frames(w: &Wav, a: usize, b: usize) -> usize {
    let ch = w.channels;
    let (mut total, mut run) = (0, 0);
    for f in a..b.min(w.samples.len() / ch) {
        if w.samples[f * ch..(f + 1) * ch].iter().all(|&v| v == 0.0) {
            run += 1;
        } else {
            if run >= 256 {
                total += run;
            }
            run = 0;
        }
    }
    if run >= 256 {
        total += run;
    }
    total
}

/// One run of [`live_matches_render`]: what reached the real sink and the render.
struct Run {
    live: Wav,
    offline: Wav,
    log: String,
    target: f64,
    ceiling: f64,
}

/// Plays the programme through a fresh headroomd with `profile` active (Layer A on or off)
/// and renders the same file with `headroom render --profile PROFILE`.
fn play_and_render(profile: &str, user_toml: Option<&str>, layer_a: bool) -> Run {
    let sb = Sandbox::start().expect("sandbox");
    if let Some(toml) = user_toml {
        write_user_profile(&sb, profile, toml);
    }
    let wav = write_wav(&sb, "programme.wav", &programme()).expect("programme");
    let mut d = Daemon::start(&sb, &[]).expect("headroomd");
    let mut c = client(&sb);
    c.profile_use(profile).expect("profile.use");
    c.setting_set("layer_a.enabled", SettingValue::Bool(layer_a))
        .expect("layer_a on or off");
    let number = |c: &mut headroom_client::Client, key: &str| {
        c.setting_get(key)
            .expect("setting.get")
            .value
            .as_f64()
            .expect("a number")
    };
    let target = number(&mut c, "agc.target_lufs");
    let ceiling = number(&mut c, "limiter.ceiling_dbtp");

    let rec = sb
        .record(DEFAULT_SINK, &sb.path("live.wav"))
        .expect("recorder");
    sb.play(&wav, BUS_SINK, &["application.name=levelling"])
        .expect("play");
    // The end of the programme has left the bus (its lookahead, one quantum) well before the
    // recorder stops: pw-play returns once its stream drained.
    let live = rec.stop().expect("recording");
    let log = d.terminate().expect("headroomd stops");

    let out = sb.path("render.wav");
    let st = sb
        .command(workspace_bin("headroom").expect("headroom built"))
        .args(["render", "--quiet", "--profile", profile])
        .arg(&wav)
        .arg(&out)
        .status()
        .expect("headroom render");
    assert!(st.success(), "headroom render --profile {profile}: {st}");
    let offline = headroom_tests::read_wav(&out).expect("render output");
    Run {
        live,
        offline,
        log,
        target,
        ceiling,
    }
}

/// Compares what reaches the real sink with the render of the same file ([`play_and_render`]).
/// A recording with more digital silence than the render has (gaps: a quantum the player
/// did not deliver or the recorder did not take on a loaded machine) says nothing about
/// levelling: such a run is played once more, and the second is judged whatever it holds
/// (its gaps named in the messages).
fn live_matches_render(profile: &str, user_toml: Option<&str>) {
    live_matches_render_with(profile, user_toml, false);
}

/// [`live_matches_render`] with Layer A on or off.
fn live_matches_render_with(profile: &str, user_toml: Option<&str>, layer_a: bool) {
    for attempt in 1..=2 {
        let Run {
            live,
            offline,
            log,
            target,
            ceiling,
        } = play_and_render(profile, user_toml, layer_a);
        let (a, b) = live
            .active_range(1e-4)
            .unwrap_or_else(|| panic!("nothing reached {DEFAULT_SINK}\n{log}"));
        let (c, d) = offline
            .active_range(1e-4)
            .unwrap_or_else(|| panic!("{profile}: the render is silent"));
        // The voice's pauses between syllables are digital silence in both (≈ 1.5 s of
        // the 9 s of voice), so the measure is never empty.
        let pauses = silent_frames(&offline, c, d);
        assert!(
            pauses > 24_000,
            "{profile}: {pauses} frames of pauses in the render"
        );
        let gaps = silent_frames(&live, a, b).saturating_sub(pauses);
        if gaps > 2_048 && attempt == 1 {
            eprintln!(
                "{profile}: the recording has {:.0} ms more of digital silence than the \
                 render (gaps in the player or recorder); played again",
                gaps as f64 / 48.0
            );
            continue;
        }
        let gaps_note = format!("({:.0} ms of gaps in the recording)", gaps as f64 / 48.0);
        let (live_i, live_tp) = loudness(&live);
        let (off_i, off_tp) = loudness(&offline);
        assert!(
            (b - a) as f64 > 0.9 * 14.0 * 48_000.0,
            "{profile}: only {:.1} s of the 14 s programme reached the real sink {gaps_note}\n{log}",
            (b - a) as f64 / 48_000.0
        );
        assert!(
            (live_i - off_i).abs() <= 0.5,
            "{profile}: live {live_i:.2} LUFS, render {off_i:.2} LUFS (target {target}) \
             {gaps_note}\n{log}"
        );
        assert!(
            (live_i - target).abs() <= 2.0,
            "{profile}: live {live_i:.2} LUFS against the target {target} {gaps_note}\n{log}"
        );
        // The meter's 4× interpolation may read a little over the limiter's finer one.
        assert!(
            live_tp <= ceiling + 0.3 && off_tp <= ceiling + 0.3,
            "{profile}: true peak live {live_tp:.2} / render {off_tp:.2} dBTP, ceiling \
             {ceiling}\n{log}"
        );
        // The loud passage alone (from 0.5 s into it to its end), where Layer A acts.
        let passage = |w: &Wav, from: usize| Wav {
            rate: w.rate,
            channels: w.channels,
            samples: w.samples[(from + 5 * 48_000 + 24_000) * 2..(from + 10 * 48_000) * 2].to_vec(),
        };
        let (live_p, _) = loudness(&passage(&live, a));
        let (off_p, _) = loudness(&passage(&offline, c));
        if layer_a {
            assert!(
                (live_p - off_p).abs() <= 0.5,
                "{profile}: the loud passage live {live_p:.2} LUFS, render {off_p:.2} LUFS \
                 (target {target}) {gaps_note}\n{log}"
            );
        }
        eprintln!(
            "{profile}: live {live_i:.2} LUFS {live_tp:.2} dBTP, render {off_i:.2} LUFS \
             {off_tp:.2} dBTP, target {target}, ceiling {ceiling}; loud passage live \
             {live_p:.2}, render {off_p:.2} LUFS {gaps_note}"
        );
        return;
    }
}

#[test]
fn live_bus_levels_as_render_does_default() {
    live_matches_render("default", None);
}

#[test]
fn live_bus_levels_as_render_does_music() {
    live_matches_render("music", None);
}

#[test]
fn live_bus_levels_as_render_does_night() {
    live_matches_render("night", None);
}

#[test]
fn live_bus_levels_as_render_does_speech() {
    live_matches_render("speech", None);
}

/// A user's own profile: a quieter target and a lower ceiling than any shipped one, the
/// rest as the defaults.
#[test]
fn live_bus_levels_as_render_does_a_user_profile() {
    live_matches_render(
        "mine",
        Some("[agc]\ntarget_lufs = -23.0\n\n[limiter]\nceiling_dbtp = -2.0\n"),
    );
}

/// Layer A on, with a user's target far under the loud passage: Layer A turns the app down
/// while it plays alone (its loud passage is more than `threshold_lu` over the target), and
/// the bus input takes that cut off again, so what comes out is what the render gives —
/// not the AGC's cut for the loud start plus Layer A's on top of it (which left a lone loud
/// app several LU under the target for as long as it played).
#[test]
fn live_bus_levels_as_render_does_with_layer_a_cutting_a_lone_app() {
    live_matches_render_with(
        "quiet",
        Some("[agc]\ntarget_lufs = -30.0\n\n[limiter]\nceiling_dbtp = -3.0\n"),
        true,
    );
}

/// Pink noise (white noise through Paul Kellet's economy filter), `secs` long; stereo
/// 48 kHz: steady, broadband programme.
fn pink(secs: f64) -> Wav {
    let (mut b0, mut b1, mut b2) = (0.0f64, 0.0f64, 0.0f64);
    let samples = white_noise((secs * 48_000.0) as usize, 11)
        .map(|w| {
            b0 = 0.99765 * b0 + w * 0.099_046_0;
            b1 = 0.963 * b1 + w * 0.296_516_4;
            b2 = 0.57 * b2 + w * 1.052_691_3;
            (0.1 * (b0 + b1 + b2 + w * 0.1848)) as f32
        })
        .flat_map(|v| [v, v])
        .collect();
    Wav {
        rate: 48_000,
        channels: 2,
        samples,
    }
}

/// A fresh headroomd in `sb` with the `default` profile and Layer A on or off; returns it
/// and the profile's target (LUFS).
fn start_default(sb: &Sandbox, layer_a: bool) -> (Daemon, f64) {
    let d = Daemon::start(sb, &[]).expect("headroomd");
    let mut c = client(sb);
    c.profile_use("default").expect("profile.use");
    c.setting_set("layer_a.enabled", SettingValue::Bool(layer_a))
        .expect("layer_a on or off");
    let target = c
        .setting_get("agc.target_lufs")
        .expect("setting.get")
        .value
        .as_f64()
        .expect("a number");
    (d, target)
}

/// `w` scaled to the integrated loudness `lufs` (clipped at full scale).
fn at_lufs(mut w: Wav, lufs: f64) -> Wav {
    let g = 10f64.powf((lufs - loudness(&w).0) / 20.0);
    for v in &mut w.samples {
        *v = (f64::from(*v) * g).clamp(-1.0, 1.0) as f32;
    }
    w
}

/// Layer A on (`default`): a loud app plays alone, then a quiet voice starts beside it.
/// Layer A turns the loud app further down and lifts the voice, in front of the chain; what
/// that does to the two together is taken off at the bus input, so the chain meets the mix
/// at its own level and what comes out stays where it was — no fall for the AGC to chase
/// (held, the loud app's further cut came out as a dip of 5–8 LU for 2–3 s).
#[test]
fn a_quiet_app_joining_a_loud_one_does_not_dip_the_output() {
    use std::time::{Duration, Instant};
    let sb = Sandbox::start().expect("sandbox");
    // Pink noise at −8.5 LUFS and a quiet voice at −40: Layer A takes the noise down from
    // 2.5 dB (alone: 6 LU over the target) to ≈ 10 dB and lifts the voice ≈ 19 dB.
    let loud = write_wav(&sb, "loud.wav", &at_lufs(pink(24.0), -8.5)).expect("loud");
    let quiet = write_wav(&sb, "voice.wav", &at_lufs(voice(9.0, 21), -40.0)).expect("voice");
    let (mut d, target) = start_default(&sb, true);
    let rec = sb
        .record(DEFAULT_SINK, &sb.path("live.wav"))
        .expect("recorder");
    let mut pl = sb
        .play_cmd(&loud, BUS_SINK, &["application.name=loud-app"])
        .spawn()
        .expect("pw-play");
    let t0 = Instant::now();
    // The scenario's own timeline: 15 s of the loud app alone (Layer A's estimate and cut
    // settle within 3 s, the AGC's within 10 s), then the voice.
    std::thread::sleep(Duration::from_secs(15));
    let join = t0.elapsed().as_secs_f64();
    let st = sb
        .play_cmd(&quiet, BUS_SINK, &["application.name=quiet-app"])
        .status()
        .expect("pw-play");
    assert!(st.success(), "the voice's pw-play: {st}");
    let _ = pl.wait();
    let live = rec.stop().expect("recording");
    let log = d.terminate().expect("headroomd stops");

    let (a, _) = live
        .active_range(1e-4)
        .unwrap_or_else(|| panic!("nothing reached {DEFAULT_SINK}\n{log}"));
    let s = headroom_tests::short_term_series(&live).expect("short-term series");
    // Entry i: the 3 s window ending at (i + 1) × 100 ms of the recording.
    let at = |secs: f64| ((a as f64 / 48_000.0 + secs) * 10.0).round() as usize;
    let before = s[at(join) - 1];
    let after = &s[at(join)..at(join + 6.0).min(s.len())];
    let lowest = after.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = after.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    eprintln!(
        "short-term before the voice {before:.2} LUFS (target {target}); over the 6 s after \
         it {lowest:.2} … {highest:.2}"
    );
    assert!(
        (before - target).abs() < 2.0,
        "the loud app alone at {before:.2} LUFS, target {target}\n{log}"
    );
    assert!(
        lowest > before - 2.0 && highest < before + 2.0,
        "the voice's start moved the output {lowest:.2} … {highest:.2} LUFS from {before:.2}\n{log}"
    );
}

/// Music-like programme, `secs` long at `lufs`: a chord with a little hiss whose level
/// swells by ±3 dB over a few seconds (`seed` sets the hiss) — sound that moves, but with
/// no syllables (not speech-like) and not steady; stereo 48 kHz.
fn music(secs: f64, seed: u64, lufs: f64) -> Wav {
    use std::f64::consts::PI;
    let mut hiss = white_noise((secs * 48_000.0) as usize, seed);
    let samples = (0..(secs * 48_000.0) as usize)
        .flat_map(|n| {
            let t = n as f64 / 48_000.0;
            let swell = 10f64.powf(4.0 * (2.0 * PI * 1.5 * t).sin() / 20.0);
            let chord: f64 = [196.0, 246.9, 293.7, 392.0, 987.8]
                .iter()
                .enumerate()
                .map(|(k, f)| (2.0 * PI * f * t + k as f64).sin() / (1.0 + k as f64))
                .sum();
            let v = (swell * (0.3 * chord + 0.05 * hiss.next().unwrap_or(0.0))) as f32;
            [v, v]
        })
        .collect();
    at_lufs(
        Wav {
            rate: 48_000,
            channels: 2,
            samples,
        },
        lufs,
    )
}

/// A loud track, a pause of 3 s, a quiet track (`default`, Layer A off). Between two
/// streams the graph stops calling the idle sink: the chain heard no silence, took the
/// quiet track for the loud one going on more quietly and held it 8–11 LU under the target
/// for 5–8 s, where `headroom render` of the two with the silence between them takes it up
/// within a second. The daemon now runs the chain over the pause's silence (up to 1.2 s).
#[test]
fn a_quiet_track_after_a_pause_is_levelled_as_after_silence() {
    use std::time::Duration;
    let sb = Sandbox::start().expect("sandbox");
    let loud = write_wav(&sb, "loud.wav", &music(20.0, 41, -10.0)).expect("loud");
    let quiet = write_wav(&sb, "quiet.wav", &music(10.0, 42, -34.0)).expect("quiet");
    let (mut d, target) = start_default(&sb, false);
    // The loud track's player is stopped while it plays (a player quit, a track skipped):
    // its stream goes at once, with no silence drained after it.
    let mut player = sb
        .play_cmd(&loud, BUS_SINK, &["application.name=player"])
        .spawn()
        .expect("pw-play");
    // The scenario's own timeline: 6 s of the loud track, then the pause between the
    // tracks.
    std::thread::sleep(Duration::from_secs(6));
    let _ = player.kill();
    let _ = player.wait();
    std::thread::sleep(Duration::from_secs(3));
    // Nothing else plays meanwhile: the graph stops. (A recorder running through the pause
    // would keep it running, and the bus with it.)
    let rec = sb
        .record(DEFAULT_SINK, &sb.path("live.wav"))
        .expect("recorder");
    sb.play(&quiet, BUS_SINK, &["application.name=player"])
        .expect("play the quiet track");
    let live = rec.stop().expect("recording");
    let log = d.terminate().expect("headroomd stops");

    // The recording holds the quiet track only: it starts with the first sound.
    let first = live
        .samples
        .iter()
        .position(|v| v.abs() > 1e-5)
        .unwrap_or_else(|| panic!("nothing reached {DEFAULT_SINK}\n{log}"));
    let start = (first / 2) as f64 / 48_000.0;
    let s = headroom_tests::short_term_series(&live).expect("short-term series");
    // Entry i: the 3 s window ending at (i + 1) × 100 ms of the recording. Without the
    // pause's silence the AGC waited 4 s for the quiet track (here 25.7 LUFS 2 s in, 19.5
    // at 3 s; 28 LUFS 3–5 s into a recorded track); after silence it is taken up within
    // about a second (19.6–20.1 … 17.1 here, the first second of the window still quiet).
    let at = |secs: f64| ((start + secs) * 10.0).round() as usize;
    let window = &s[at(2.0).min(s.len())..at(3.0).min(s.len())];
    assert!(
        !window.is_empty(),
        "the quiet track was not recorded\n{log}"
    );
    let lowest = window.iter().copied().fold(f64::INFINITY, f64::min);
    eprintln!("the quiet track 2–3 s in: short-term from {lowest:.2} LUFS (target {target})");
    assert!(
        lowest > target - 5.5,
        "the quiet track held at {lowest:.2} LUFS 2–3 s in, target {target}\n{log}"
    );
}
