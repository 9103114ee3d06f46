//! Each shipped profile's levelling, on the synthesised programmes of the DSP's levelling
//! tests: the target is the loudness that comes out; quiet voices are lifted and room noise
//! is not; quiet speech comes back after a loud passage; loud onsets are caught; steady
//! material is left still.

use crate::levelling_support::*;
use headroom_core::ChainParams;

#[cfg(debug_assertions)]
#[global_allocator]
static A: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

// ---------------------------------------------------------------------------------------
// The target is the output loudness, in every profile (shipped and a user's own).

const PROFILES: [&str; 4] = ["default", "night", "music", "speech"];

fn shipped(name: &str) -> ChainParams {
    headroom_profile::Profile::shipped(name)
        .expect("shipped profile")
        .expect("valid")
        .chain
}

#[test]
fn every_shipped_profile_lands_on_its_own_target() {
    // Steady speech at −21.5 LUFS, then quiet speech / a loud advert / quiet speech.
    let steady = speech_at(30.0, 600, -21.5);
    let mut mixed = speech_at(20.0, 601, -30.0);
    mixed.extend(music_at(20.0, 602, -10.0));
    mixed.extend(speech_at(20.0, 603, -30.0));
    for name in PROFILES {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let out = run_aligned(&p, &steady);
        let l = integrated_between(&out, 8.0, 30.0);
        eprintln!("{name}: steady speech {l:.2} LUFS (target {t})");
        assert!(
            (l - t).abs() <= 1.0,
            "{name}: steady speech at {l} LUFS, target {t}"
        );
        let out = run_aligned(&p, &mixed);
        for (a, b) in [(6.0, 20.0), (26.0, 40.0), (46.0, 60.0)] {
            let l = integrated_between(&out, a, b);
            eprintln!("{name}: mixed {a}-{b} s {l:.2} LUFS");
            assert!(
                (l - t).abs() <= 1.0,
                "{name}: {a}-{b} s at {l} LUFS, target {t}"
            );
        }
        let os = Oversampler16::new();
        let tp = os.true_peak_db(&out, p.limiter.ceiling_dbtp as f64, Some(6.0));
        assert!(
            tp <= p.limiter.ceiling_dbtp as f64,
            "{name}: true peak {tp}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Quiet programmes and noise told apart.

/// Speech with pauses filled by pink noise `noise_lu` under it; `long_pause` s of noise
/// alone in the middle. Returns the signal and the (start, end) of every noise-only pause.
fn speech_with_room_noise(
    lufs: f64,
    noise_lu: f64,
    long_pause: f64,
) -> (Vec<f32>, Vec<(f64, f64)>) {
    let mut x = Vec::new();
    let mut pauses = Vec::new();
    let mut t = 0.0;
    let mut rng = Rng::new(620);
    for k in 0..10 {
        let len = 3.0 + 2.0 * rng.uniform();
        x.extend(speech_at(len, 621 + k, lufs));
        t += len;
        let pause = if k == 5 {
            long_pause
        } else {
            0.5 + 2.5 * rng.uniform()
        };
        x.extend(silence(pause));
        pauses.push((t, t + pause));
        t += pause;
    }
    let mut n = pink_noise(t, 629);
    normalise(&mut n, lufs - noise_lu);
    for (v, w) in x.iter_mut().zip(&n) {
        *v += *w;
    }
    (x, pauses)
}

#[test]
fn a_quiet_voice_is_lifted_and_room_noise_between_sentences_is_not() {
    for name in ["default", "speech", "night"] {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        for (lufs, noise_lu) in [(-45.0, 25.0), (-20.0, 27.0), (-30.0, 30.0)] {
            let (x, pauses) = speech_with_room_noise(lufs, noise_lu, 6.0);
            let mut chain = headroom_core::Chain::new(RATE, CH, 256, &p);
            let lat = chain.latency_frames();
            let mut out = Vec::with_capacity(x.len());
            let mut gains = Vec::new();
            for b in x.chunks(256 * CH) {
                let mut buf = b.to_vec();
                assert_no_alloc::assert_no_alloc(|| chain.process(&mut buf));
                gains.push(chain.agc().gain_db());
                out.extend(buf);
            }
            let out = &out[lat * CH..];
            // The voice (after the first sentence) lands on the target …
            let voice = integrated_between(out, 5.0, out.len() as f64 / (RATE as f64 * CH as f64));
            eprintln!("{name}: voice at {lufs} LUFS (noise {noise_lu} LU under) → {voice:.2} LUFS");
            assert!(
                (voice - t).abs() <= 1.5,
                "{name}: voice {lufs} → {voice}, target {t}"
            );
            // … and the noise in its pauses stays well under it, not pumped up: the gain at
            // the end of each pause is not above the gain at its start.
            let blk = |s: f64| ((s * RATE as f64) as usize / 256).min(gains.len() - 1);
            for &(a, b) in pauses.iter().skip(1) {
                if b - a < 1.0 {
                    continue;
                }
                let (g0, g1) = (gains[blk(a + 0.5)], gains[blk(b - 0.05)]);
                assert!(
                    g1 <= g0 + 0.5,
                    "{name}: gain rose in the pause {a:.1}-{b:.1} s: {g0} → {g1}"
                );
                let noise = integrated_between(out, a + 0.5, b - 0.05);
                eprintln!("{name}: pause {a:.1}-{b:.1} s: noise {noise:.1} LUFS");
                // Compression lifts the noise against the voice by what it makes up: the
                // speech and default profiles keep noise 25–30 LU under the voice at least
                // 19 LU under, night (firmer) 18. (The makeup holds through a pause, as it
                // must for the voice after it: it used to fall in each pause, and the voice
                // came back low. The compressor's release stops at the makeup in a pause, so
                // the noise keeps about the voice's gain: see the next test.)
                let under = if name == "night" { 18.0 } else { 19.0 };
                assert!(
                    noise <= voice - under,
                    "{name}: noise {noise} LUFS against voice {voice}"
                );
            }
        }
    }
}

#[test]
fn room_noise_close_under_a_quiet_voice_keeps_its_distance() {
    // A quiet voice (−40 LUFS) over room noise only 12 LU under it (a laptop's microphone).
    // Lifted onto the target, the voice is compressed and its makeup lifts everything; the
    // compressor released in every pause (and in the gaps between words) and the makeup
    // then lifted the noise by the reduction the voice had asked for: on average over the
    // pauses the noise came out 5.8 LU closer to the voice with `night`, 3.8 with
    // `speech`, 2.1 with `default`. The release stops at the makeup in a pause now (the
    // fast level more than the relative gate under the programme): 3.6, 2.7 and 1.3 (what
    // is left is the release within the last syllable, before the pause is heard).
    let (x, pauses) = speech_with_room_noise(-40.0, 12.0, 6.0);
    let secs = x.len() as f64 / (RATE as f64 * CH as f64);
    for (name, most) in [
        ("default", 1.8),
        ("speech", 3.3),
        ("night", 4.2),
        ("music", 0.5),
    ] {
        let p = shipped(name);
        let out = run_aligned(&p, &x);
        let gap = |s: &[f32], a: f64, b: f64| {
            integrated_between(s, 5.0, secs) - integrated_between(s, a + 0.5, b - 0.05)
        };
        let closer: Vec<f64> = pauses
            .iter()
            .skip(1)
            .filter(|&&(a, b)| b - a >= 1.0)
            .map(|&(a, b)| {
                let (before, after) = (gap(&x, a, b), gap(&out, a, b));
                eprintln!(
                    "{name}: pause {a:.1}-{b:.1} s: noise {before:.1} LU under the voice → {after:.1}"
                );
                before - after
            })
            .collect();
        assert!(closer.len() >= 5, "{name}: {} pauses", closer.len());
        let mean = closer.iter().sum::<f64>() / closer.len() as f64;
        eprintln!("{name}: the noise comes out {mean:.2} LU closer to the voice on average");
        assert!(
            mean <= most,
            "{name}: the noise in the pauses came out {mean:.2} LU closer to the voice"
        );
    }
}

/// Noise that is not perfectly still, alone: pink room tone drifting ±1 dB, brown rumble
/// drifting ±2 dB, a low rumble (pink noise under 400 Hz) drifting ±1.5 dB over 3 s. (Noise
/// whose level swings further, its 100 ms loudness spreading `agc::NOISE_SPREAD_LU` or more, is
/// modulated sound: PLAN.md, Known gaps.)
fn drifting_noises() -> [(&'static str, Vec<f32>); 3] {
    let mut pink = drifting(pink_noise(20.0, 640), 1.0, 5.0);
    normalise(&mut pink, -55.0);
    let mut brown = drifting(brown_noise(20.0, 641), 2.0, 7.0);
    normalise(&mut brown, -50.0);
    let mut low = pink_noise(20.0, 642);
    let mut lp = [0.0f32; 2];
    let a = 1.0 - (-2.0 * std::f32::consts::PI * 400.0 / RATE as f32).exp();
    for f in low.chunks_exact_mut(CH) {
        for (v, s) in f.iter_mut().zip(lp.iter_mut()) {
            *s += a * (*v - *s);
            *v = *s;
        }
    }
    let mut low = drifting(low, 1.5, 3.0);
    normalise(&mut low, -56.0);
    [
        ("pink room tone", pink),
        ("brown rumble", brown),
        ("low rumble", low),
    ]
}

#[test]
fn noise_alone_that_drifts_is_not_lifted_past_the_stationary_cap() {
    // Room tone and rumble spread 2–4 LU over 100 ms by themselves: judged by their level
    // alone they were lifted by the whole `max_boost_db` (brown rumble at −50 LUFS came out
    // at −20 with `default`). Their spectra are like noise's, so they are stationary sound.
    let cap = headroom_core::agc::STEADY_MAX_BOOST_DB;
    for (what, x) in drifting_noises() {
        for name in PROFILES {
            let p = shipped(name);
            let out = run_aligned(&p, &x);
            let lift = gain_between(&out, &x, 4.0, 20.0);
            let worst = momentary_series(&out)
                .into_iter()
                .zip(momentary_series(&x))
                .filter(|&((t, _), _)| t >= 1.0)
                .map(|((_, o), (_, i))| o - i)
                .fold(f64::NEG_INFINITY, f64::max);
            eprintln!("{name}: {what}: lifted {lift:+.2} dB, at most {worst:+.2}");
            assert!(
                lift <= cap + 0.3 && worst <= cap + 1.0,
                "{name}: {what} lifted {lift:+.2} dB (at most {worst:+.2}), cap {cap}"
            );
        }
    }
}

#[test]
fn quiet_tonal_music_that_spreads_as_little_as_noise_is_still_lifted() {
    // The other side of the test above: sparse tonal music at −48 LUFS whose 100 ms loudness
    // spreads as little as drifting noise's is music, lifted to the target (or by the whole
    // boost where that does not reach it).
    let mut x = chords_like(20.0, 650);
    normalise(&mut x, -48.0);
    for name in PROFILES {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let want = (t + 48.0).min(p.agc.max_boost_db as f64);
        let out = run_aligned(&p, &x);
        let lift = gain_between(&out, &x, 6.0, 20.0);
        eprintln!("{name}: chords at -48 LUFS lifted {lift:+.2} dB (wanted {want:+.1})");
        assert!(
            lift >= want - 1.5,
            "{name}: chords lifted {lift:+.2} dB, wanted {want:+.1}"
        );
    }
}

#[test]
fn quiet_music_that_opens_like_noise_is_lifted_once_it_plays() {
    // A track at −52 LUFS that opens on a second of noise-like sound (a cymbal roll), then
    // plays tonal music: the opening is judged like noise (held, then capped), and the music
    // is then met as an adopted programme. Rising from the cap at `rise_db_per_s`, a Wesnoth
    // track that opens so reached its gain 3 s later than before the cap (an outside test).
    let mut x = drifting(pink_noise(1.2, 680), 1.0, 2.0);
    normalise(&mut x, -54.0);
    let mut music = chords_like(12.0, 681);
    normalise(&mut music, -52.0);
    x.extend(music);
    for name in PROFILES {
        let p = shipped(name);
        let out = run_aligned(&p, &x);
        let settled = gain_between(&out, &x, 6.0, 13.2);
        let early = gain_between(&out, &x, 2.2, 3.2);
        eprintln!("{name}: music 1-2 s in {early:+.2} dB, settled {settled:+.2}");
        assert!(
            early >= settled - 3.0,
            "{name}: the music 1-2 s in at {early:+.2} dB, then {settled:+.2}"
        );
    }
}

#[test]
fn a_quiet_voice_after_rumble_is_lifted_within_a_second() {
    // Rumble alone for 8 s (held at the stationary cap), then a quiet voice 16 LU over it:
    // the voice is a programme over the rumble, met as an adopted one. Rising from the cap
    // at `rise_db_per_s`, its first second came out 9–14 dB under the rest of it.
    let mut rumble = drifting(brown_noise(16.0, 660), 2.0, 7.0);
    normalise(&mut rumble, -56.0);
    let mut x = silence(8.0);
    x.extend(speech_at(8.0, 661, -40.0));
    for (v, r) in x.iter_mut().zip(&rumble) {
        *v += *r;
    }
    for name in PROFILES {
        let p = shipped(name);
        let out = run_aligned(&p, &x);
        let before = gain_between(&out, &x, 4.0, 8.0);
        let settled = gain_between(&out, &x, 11.0, 16.0);
        let early = gain_between(&out, &x, 8.3, 9.3);
        eprintln!(
            "{name}: rumble {before:+.2} dB, voice 8.3-9.3 s {early:+.2}, 11-16 s {settled:+.2}"
        );
        let cap = headroom_core::agc::STEADY_MAX_BOOST_DB;
        assert!(before <= cap + 0.3, "{name}: rumble lifted {before:+.2} dB");
        assert!(
            early >= settled - 2.5,
            "{name}: the voice's first second at {early:+.2} dB, then {settled:+.2}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Recovery after a loud passage.

#[test]
fn quiet_speech_comes_back_after_a_loud_passage() {
    let mut x = speech_at(20.0, 630, -36.0);
    x.extend(music_at(15.0, 631, -15.6));
    x.extend(speech_at(20.0, 632, -36.0));
    for name in ["default", "night", "speech"] {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let out = run_aligned(&p, &x);
        let before = integrated_between(&out, 5.0, 20.0);
        let after5 = integrated_between(&out, 40.0, 45.0);
        let after = integrated_between(&out, 40.0, 55.0);
        eprintln!("{name}: speech before {before:.2}, 5-10 s after {after5:.2}, 5-20 s after {after:.2} LUFS");
        assert!(
            (after5 - t).abs() <= 2.0,
            "{name}: {after5} LUFS 5 s after the loud passage"
        );
        assert!(
            (after - before).abs() <= 1.0,
            "{name}: {after} after against {before} before"
        );
    }
}

#[test]
fn a_quiet_voice_from_the_first_second_of_a_file_is_lifted_within_about_a_second() {
    // A quiet voice from the very start (a film whose first scene is a whisper, a quiet
    // podcast started from the beginning). Its first estimate comes 0.4 s in; risen to at
    // `rise_db_per_s`, the voice 0.5–1.5 s in came out 5–14 LU under the target (now
    // 1.6–3.2: `agc::FIRST_RISE_MARGIN_DB`).
    for lufs in [-34.0, -40.0] {
        let x = speech_at(8.0, 670, lufs);
        for name in ["default", "night", "speech"] {
            let p = shipped(name);
            let t = p.agc.target_lufs as f64;
            let max_m = p.agc.max_momentary_lu as f64;
            let out = run_aligned(&p, &x);
            let first = integrated_between(&out, 0.5, 1.5);
            let settled = integrated_between(&out, 3.0, 8.0);
            let loudest = momentary_every_10ms(&out)
                .into_iter()
                .fold(f64::MIN, |a, (_, m)| a.max(m));
            eprintln!(
                "{name}: voice at {lufs} LUFS: 0.5–1.5 s {first:.2}, 3–8 s {settled:.2} LUFS, loudest momentary {:+.2} LU",
                loudest - t
            );
            assert!(
                first >= t - 4.5,
                "{name}: {lufs} LUFS voice at {first:.2} LUFS 0.5–1.5 s in, target {t}"
            );
            // Not by overshooting: the settled voice on target, nothing over the limit.
            assert!(
                (settled - t).abs() <= 1.5,
                "{name}: settled at {settled:.2}"
            );
            assert!(
                loudest <= t + max_m + 0.5,
                "{name}: momentary {:+.2} LU over the target",
                loudest - t
            );
        }
    }
}

#[test]
fn a_louder_track_after_a_pause_is_met_within_its_first_second_in_every_profile() {
    // A quiet track (boosted), a pause with nothing playing, then a louder track: the gain
    // held from the quiet one met the louder one at `fall_db_per_s` while its first
    // readings (whose 400 ms still held the pause) were averaged into the new estimate —
    // 0.6–1.6 s in it came out 1.4–2.0 LU over the rest of it here (recorded music with
    // `music`, whose gain falls at 10 dB/s: 5–7 LU over the target for its first second).
    // The louder track 7 LU over the quiet one: at the quiet one's gain it comes out 7 LU
    // over the target, under what a loud onset after a pause is caught at.
    let start = 23.0;
    for name in PROFILES {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let mut x = music_at(15.0, 880, t - 12.0);
        x.extend(silence(8.0));
        // It starts softly (6 dB up over its first 0.6 s), as recorded tracks do: no loud
        // onset.
        let mut louder = music_at(10.0, 881, t - 5.0);
        for (i, f) in louder.chunks_exact_mut(CH).enumerate() {
            let s = i as f64 / RATE as f64;
            if s < 0.6 {
                let g = 10f64.powf(-6.0 * (1.0 - s / 0.6) / 20.0) as f32;
                f.iter_mut().for_each(|v| *v *= g);
            }
        }
        x.extend(louder);
        let out = run_aligned(&p, &x);
        let first = integrated_between(&out, start + 0.6, start + 1.6);
        let later = integrated_between(&out, start + 4.0, start + 10.0);
        eprintln!(
            "{name}: the louder track 0.6–1.6 s in {:+.1} LU, later {:+.1} LU",
            first - t,
            later - t
        );
        assert!(
            first <= later + 1.5,
            "{name}: the louder track's first second came out {:.1} LU over the rest of it",
            first - later
        );
    }
}

#[test]
fn quiet_speech_after_loud_music_and_a_second_of_silence_is_heard_from_its_first_phrase() {
    // Music at −9 LUFS, 1.5 s of digital silence, then quiet speech (a video's loud intro,
    // then its presenter; at −41.5 as well, where a loud app's Layer A cut still holds).
    // The speech came after the gap as a quieter sound to be judged like any other (0.6 s
    // of its sound on each side of a fade test) and its first 1.3 s came out 6.6–8.4 LU
    // under the target here (recorded speech at −41.5: 19–21 LU under, its pauses under the
    // silence gate restarting the judging). Modulated sound after a gap is judged on its
    // first full sub-blocks now: 3.9–5.3 LU under for those 1.3 s (recorded: 1.3–6.7),
    // the 0.4 s it takes to be judged included.
    for lufs in [-35.0, -41.5] {
        let mut x = music_at(10.0, 640, -9.0);
        x.extend(silence(1.5));
        x.extend(speech_at(12.0, 641, lufs));
        for name in ["default", "night", "speech"] {
            let p = shipped(name);
            let t = p.agc.target_lufs as f64;
            let out = run_aligned(&p, &x);
            let first = integrated_between(&out, 11.5, 12.8);
            let later = integrated_between(&out, 15.0, 23.5);
            eprintln!(
                "{name}: speech at {lufs} after the gap: first 1.3 s {:+.1} LU, later {:+.1} LU",
                first - t,
                later - t
            );
            assert!(
                first >= t - 6.0,
                "{name}: the first 1.3 s of speech at {lufs} LUFS came out {:.1} LU under the target",
                t - first
            );
            assert!(
                (later - t).abs() <= 1.5,
                "{name}: the speech later at {later:.1}"
            );
        }
    }
}

#[test]
fn dialogue_after_an_action_scene_is_back_on_target_within_a_second() {
    // Dialogue, a loud scene 25 LU above it, then dialogue again: the programme heard
    // before the loud one resumes at its known level instead of being adopted anew.
    let mut x = speech_at(12.0, 633, -38.0);
    x.extend(music_at(8.0, 634, -13.0));
    x.extend(speech_at(10.0, 635, -36.0));
    for name in ["default", "night", "speech"] {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let out = run_aligned(&p, &x);
        // The gain in the second after the first one (the loud scene's tail, the first words
        // heard as the dialogue they are and the gain's rise take that first second) against
        // the gain once settled: measured as output minus input loudness, so the dialogue's
        // own ups and downs do not count.
        let gain = |a: f64, b: f64| gain_between(&out, &x, a, b);
        let (early, later) = (gain(21.0, 22.0), gain(23.0, 30.0));
        let settled = integrated_between(&out, 23.0, 30.0);
        eprintln!(
            "{name}: gain 1-2 s after the loud scene {early:.2} dB, settled {later:.2} dB ({settled:.2} LUFS)"
        );
        assert!(
            early >= later - 2.0,
            "{name}: {early} dB 1-2 s into the dialogue after the loud scene, {later} dB settled"
        );
        assert!(
            (settled - t).abs() <= 1.0,
            "{name}: {settled} LUFS once settled"
        );
    }
}

/// A notification's struck chime (0.3 s, 1318.5 Hz, 2 ms attack, 80 ms decay) or a door
/// slam (0.15 s of noise, 30 ms decay), peaking at `peak_dbfs`.
fn short_sound(door: bool, peak_dbfs: f64) -> Vec<f32> {
    let rate = 48_000.0;
    let secs = if door { 0.15 } else { 0.3 };
    let noise = pink_noise(secs, 660);
    let amp = 10f64.powf(peak_dbfs / 20.0);
    let mut x: Vec<f32> = (0..(secs * rate) as usize)
        .flat_map(|i| {
            let t = i as f64 / rate;
            let v = if door {
                f64::from(noise[2 * i]) * (-t / 0.03).exp()
            } else {
                (t / 0.002).min(1.0)
                    * (-t / 0.08).exp()
                    * (2.0 * std::f64::consts::PI * 1318.5 * t).sin()
            };
            [v as f32, v as f32]
        })
        .collect();
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for v in &mut x {
        *v = (f64::from(*v) * amp / f64::from(peak)) as f32;
    }
    x
}

#[test]
fn the_sentence_after_a_chime_in_a_pause_starts_on_its_level_in_every_profile() {
    // A quiet voice, a pause with a short loud sound in it (a chime, a door) and silence or
    // room noise, the voice again. The sound took the estimate; the pause after it held
    // the gain there, and the next sentence's first 0.2 s came out 15–20 dB under itself
    // (0.3 s chime in silence, every profile; 2–7 dB over the first half second in room
    // noise) until its first 100 ms had been heard as the voice. The voice after the pause
    // is now lifted as before it from its first syllable, and room noise in the pause is
    // not lifted for it (no more than in the same pause without the sound).
    let signal = |bed: bool, sound: Option<bool>| {
        let mut x = speech_at(10.0, 661, -34.0);
        x.extend(silence(0.6));
        let s = short_sound(sound.unwrap_or(false), -3.0);
        match sound {
            Some(_) => x.extend(s),
            None => x.extend(silence((s.len() / 2) as f64 / 48_000.0)),
        }
        x.extend(silence(1.5));
        let back = (x.len() / 2) as f64 / 48_000.0;
        x.extend(speech_at(6.0, 662, -34.0));
        if bed {
            let mut noise = pink_noise((x.len() / 2) as f64 / 48_000.0, 665);
            normalise(&mut noise, -58.0);
            for (v, n) in x.iter_mut().zip(&noise) {
                *v += n;
            }
        }
        (x, back)
    };
    let mut failed = Vec::new();
    for bed in [false, true] {
        for name in PROFILES {
            let p = shipped(name);
            // The pause's noise without the sound, for comparison.
            let (plain, back) = signal(bed, None);
            let plain_noise = integrated_between(&run_aligned(&p, &plain), back - 0.6, back);
            for door in [false, true] {
                let (x, back) = signal(bed, Some(door));
                let out = run_aligned(&p, &x);
                let lift = |a: f64, b: f64| gain_between(&out, &x, a, b);
                let (before, first) = (lift(4.0, 10.0), lift(back, back + 0.5));
                let what = format!(
                    "{name}, {} in {}",
                    if door { "door" } else { "chime" },
                    if bed { "room noise" } else { "silence" }
                );
                eprintln!(
                    "{what}: the voice lifted {before:.1} dB before, {first:.1} over its first \
                     0.5 s after the pause"
                );
                // (Before: 2–7 dB under over the first half second.)
                if first < before - 2.0 || first > before + 3.0 {
                    failed.push(format!("{what}: {first:.1} dB, {before:.1} before"));
                }
                if bed && !door {
                    // The noise in the pause is not lifted for the voice: at most where the
                    // same pause without the sound puts it. (After the door, which does not
                    // take the estimate, `night` and `speech` put it 2–3.5 dB over that, the
                    // compressor's release in a pause: PLAN.md, Known gaps.)
                    let noise = integrated_between(&out, back - 0.6, back);
                    eprintln!("{what}: noise {noise:.1} LUFS, {plain_noise:.1} without the sound");
                    if noise > plain_noise + 1.0 {
                        failed.push(format!("{what}: noise {noise:.1} LUFS, {plain_noise:.1}"));
                    }
                }
            }
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn a_loud_programme_after_a_short_sound_and_silence_is_still_caught() {
    // The other side of resuming in the silence after a short loud sound: what follows may
    // be the loud programme the sound began (an advert's jingle, a pause, its voice). It
    // comes in at the quiet voice's gain and must be caught as a loud onset after the voice
    // is (the same signal with the sound left out): the sound had been the reference of
    // what is new, and the programme came out at the voice's gain until the estimate rose,
    // 6–10 LU over the target with `speech` and `music`.
    let signal = |sound: bool| {
        let mut x = speech_at(10.0, 663, -34.0);
        x.extend(silence(0.4));
        let s = short_sound(false, -3.0);
        if sound {
            x.extend(s);
        } else {
            x.extend(silence((s.len() / 2) as f64 / 48_000.0));
        }
        x.extend(silence(0.8));
        let loud = (x.len() / 2) as f64 / 48_000.0;
        x.extend(music_at(6.0, 664, -12.0));
        (x, loud)
    };
    for name in PROFILES {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let mut most = [0.0; 2];
        for (k, sound) in [true, false].into_iter().enumerate() {
            let (x, loud) = signal(sound);
            let out = run_aligned(&p, &x);
            most[k] = max_momentary_between(&out, loud, loud + 3.0);
            let settled = integrated_between(&out, loud + 3.0, loud + 6.0);
            assert!((settled - t).abs() <= 1.5, "{name}: then {settled:.1} LUFS");
            let tp =
                Oversampler16::new().true_peak_db(&out, p.limiter.ceiling_dbtp as f64, Some(6.0));
            assert!(
                tp <= p.limiter.ceiling_dbtp as f64,
                "{name}: true peak {tp}"
            );
        }
        eprintln!(
            "{name}: largest momentary {:.1} LUFS after the sound, {:.1} without it (target {t})",
            most[0], most[1]
        );
        assert!(
            most[0] <= most[1] + 1.5 && most[0] <= t + f64::from(p.agc.max_momentary_lu) + 1.0,
            "{name}: the loud programme reached {:.1} LUFS after the sound, {:.1} without it",
            most[0],
            most[1]
        );
    }
}

#[test]
fn another_voice_after_an_action_scene_is_not_left_in_a_hole() {
    // A quiet speaker (remembered), a loud scene 30 LU over them, then a louder speaker
    // 14 LU over the remembered one (no resumption: not the voice heard before). The new
    // voice waited for a dip between its 100 ms readings to be told from a pause of the
    // loud scene (and, its first words the loudest, for a fade of it): continuous dialogue
    // had none for 1.4 s and sat 20–25 LU under the target at the loud scene's gain. Far
    // under the estimate, steps up and down between its 100 ms readings will do.
    let mut x = speech_at(12.0, 640, -44.0);
    x.extend(music_at(6.0, 641, -14.0));
    let back = (x.len() / 2) as f64 / 48_000.0;
    // Its first words louder than the rest (the first line of a scene): the quieter sound
    // then also read as a fade of the loud one until as loud a word came again.
    let mut voice = continuous_speech(8.0, 642, -32.0);
    gain(&mut voice[..28_800], 5.0);
    x.extend(voice);
    for name in ["default", "night", "speech"] {
        let p = shipped(name);
        let out = run_aligned(&p, &x);
        let settled = gain_between(&out, &x, back + 3.0, back + 8.0);
        // How long the new voice's momentary loudness stays 6 dB or more under its settled
        // lift (the hole).
        let lift = momentary_lift(&x, &out);
        let hole = lift
            .iter()
            .filter(|(t, _)| *t >= back + 0.4)
            .find(|(_, g)| *g >= settled - 6.0)
            .map_or(f64::INFINITY, |(t, _)| t - back);
        eprintln!("{name}: the new voice in a hole for {hole:.2} s (settled lift {settled:.1} dB)");
        // (Before: 1.5–1.6 s.)
        assert!(
            hole <= 1.35,
            "{name}: the new voice in a hole for {hole:.2} s"
        );
    }
}

/// Speech with no pause between its words (a fast talker, a dubbed line): the speech-like
/// signal's syllables at `lufs`, its gaps filled by the speech a second later.
fn continuous_speech(secs: f64, seed: u64, lufs: f64) -> Vec<f32> {
    let a = speech_at(secs + 1.0, seed, lufs);
    let b = speech_at(secs + 1.0, seed + 100, lufs);
    let mut x: Vec<f32> = a
        .chunks_exact(2)
        .zip(b.chunks_exact(2).skip(24_000))
        .flat_map(|(p, q)| [p[0] + 0.7 * q[0], p[1] + 0.7 * q[1]])
        .take((secs * 48_000.0) as usize * 2)
        .collect();
    normalise(&mut x, lufs);
    x
}

// ---------------------------------------------------------------------------------------
// Loud onsets.

#[test]
fn a_loud_onset_is_caught_within_tens_of_milliseconds_in_every_profile() {
    // Quiet speech, then a dense advert (50 ms RMS about −5 dBFS).
    let mut x = speech_at(20.0, 640, -40.0);
    let mut advert = dense_music_like(10.0, 641);
    normalise(&mut advert, -6.0);
    x.extend(advert);
    let onset = 20.0;
    for name in PROFILES {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let mut chain = headroom_core::Chain::new(RATE, CH, 64, &p);
        let mut out = x.clone();
        let mut engaged_at = None;
        let mut before = f32::NAN;
        for (k, b) in out.chunks_mut(64 * CH).enumerate() {
            assert_no_alloc::assert_no_alloc(|| chain.process(b));
            let at = (k + 1) as f64 * 64.0 / RATE as f64;
            if at <= onset {
                before = chain.agc().gain_db();
            } else if engaged_at.is_none() && chain.agc().gain_db() < before - 10.0 {
                engaged_at = Some(at - onset);
            }
        }
        let caught = engaged_at.expect("the gain came down");
        eprintln!(
            "{name}: gain down 10 dB from {before:.1} dB {:.1} ms after the onset",
            caught * 1000.0
        );
        assert!(caught <= 0.03, "{name}: caught after {caught} s");
        let m = momentary_series(&out);
        let worst = m
            .iter()
            .filter(|(s, _)| *s > onset && *s <= onset + 2.0)
            .map(|&(_, l)| l)
            .fold(f64::MIN, f64::max);
        eprintln!(
            "{name}: momentary within 2 s after the onset at most {:.2} LU over",
            worst - t
        );
        assert!(
            worst <= t + 3.0,
            "{name}: momentary {worst} LUFS after the onset"
        );
        let os = Oversampler16::new();
        let ceiling = p.limiter.ceiling_dbtp as f64;
        let tp = os.true_peak_db(&out, ceiling, Some(6.0));
        assert!(tp <= ceiling, "{name}: true peak {tp} dBTP");
    }
}

#[test]
fn a_louder_speaker_straight_after_a_quieter_one_is_caught_by_the_onset_gain() {
    // A host at −22 LUFS, then straight on a reporter 12 LU louder (each with their own room
    // noise, as in the eval's speech-noise programme). The onset gain catches the reporter's
    // first words (with this voice; with others the loudness ceiling holds them and the AGC
    // falls at its rate). The AGC judges an onset against what the ceiling already cuts:
    // when that was the ceiling's faster cut for the momentary prediction, the AGC took the
    // reporter for a loud word the ceiling held, and on the eval's voices `default` came out
    // at +4.8 LU for half a second (its limit is 4) instead of near the target.
    let voice = |secs: f64, seed: u64, lufs: f64, noise_lu: f64| {
        let mut v = speech_at(secs, seed, lufs);
        let mut n = pink_noise(secs, seed + 1);
        normalise(&mut n, lufs - noise_lu);
        v.iter_mut().zip(&n).for_each(|(a, b)| *a += *b);
        v
    };
    let switch = 12.0;
    let mut x = voice(switch, 710, -22.0, 30.0);
    x.extend(voice(6.0, 715, -10.0, 26.0));
    for name in PROFILES {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let mut chain = headroom_core::Chain::new(RATE, CH, 64, &p);
        let mut out = x.clone();
        let mut onset_gain = 0.0f32;
        for (k, b) in out.chunks_mut(64 * CH).enumerate() {
            chain.process(b);
            let at = (k + 1) as f64 * 64.0 / RATE as f64;
            if at > switch && at < switch + 0.2 {
                onset_gain = onset_gain.min(chain.agc().onset_gain_db());
            }
        }
        let high = max_momentary_between(&out, switch, switch + 2.0);
        eprintln!(
            "{name}: onset gain {onset_gain:.1} dB, the reporter's first 2 s at most {:+.2} LU",
            high - t
        );
        if name != "night" {
            // (`night`'s compressor and ceiling hold the reporter without it.)
            assert!(
                onset_gain < -10.0,
                "{name}: the onset gain did not engage ({onset_gain:.1} dB)"
            );
        }
        assert!(
            high <= t + f64::from(p.agc.max_momentary_lu),
            "{name}: the reporter's first words {:+.2} LU over the target",
            high - t
        );
    }
}

/// A voice at `lufs` for `secs` with its room noise 26 LU under it.
fn noisy_voice(secs: f64, seed: u64, lufs: f64) -> Vec<f32> {
    let mut v = speech_at(secs, seed, lufs);
    let mut n = pink_noise(secs, seed + 1);
    normalise(&mut n, lufs - 26.0);
    v.iter_mut().zip(&n).for_each(|(a, b)| *a += *b);
    v
}

/// `lead_ms` of silence, 10 s of a voice with its room noise 1 LU under `target`, 0.4 s of
/// silence, then `louder`; and when `louder` starts, s.
fn after_a_voice_and_a_pause(lead_ms: u32, target: f64, louder: Vec<f32>) -> (Vec<f32>, f64) {
    let mut x = silence(f64::from(lead_ms) / 1000.0);
    x.extend(noisy_voice(10.0, 730, target - 1.0));
    x.extend(silence(0.4));
    x.extend(louder);
    (x, f64::from(lead_ms) / 1000.0 + 10.4)
}

/// A quiet voice (−28 LUFS) for `switch` s after `lead_ms` of silence, then straight on a
/// louder one (−19 LUFS: `make eval`'s anchor and field reporter), started by `first` (a
/// word, or nothing); each with its room noise 26 LU under it.
fn louder_voice_after(lead_ms: u32, switch: f64, first: &[f32]) -> Vec<f32> {
    let mut x = silence(f64::from(lead_ms) / 1000.0);
    x.extend(noisy_voice(switch, 720, -28.0));
    x.extend_from_slice(first);
    x.extend(noisy_voice(8.0, 722, -19.0));
    x
}

#[test]
fn a_louder_voices_first_word_is_caught_wherever_it_falls_on_the_meters_grid() {
    // The onset gain judges a word's fast level against the loudest of the 2 s before it,
    // kept per 100 ms sub-block. The fast level rises over tens of milliseconds at a word's
    // start; where a sub-block closed within that rise, its first part became the reference
    // for the rest, and whether a louder voice came out on the target or (with `music`'s
    // 15 s window) 4–5 LU over it for 12 s depended on nothing but where the stream's start
    // fell on the grid (`make eval` tv-evening, live and in `render` after 68 ms of silence).
    // Here the louder voice's first word starts hard (10 ms) and the start moves across
    // the grid in 5 ms steps: `music` and `speech` leave that word to the onset gain (the
    // other profiles' compressors and loudness ceilings hold it first, and their windows
    // follow the voice within a second or two). Every profile then levels the voice alike
    // wherever it falls: with `music` it also came out at −1.1 or at +3.4 … +3.7 LU over 8 s,
    // where the quieter voice was resumed in the louder one's quieter words.
    let switch = 12.0;
    let mut word = pink_noise(0.5, 724);
    normalise(&mut word, -12.0);
    word.truncate(14_400 * CH);
    let ramp = 480;
    for (k, f) in word.chunks_exact_mut(CH).take(ramp).enumerate() {
        let a = k as f32 / ramp as f32;
        f.iter_mut().for_each(|v| *v *= a);
    }
    for name in PROFILES {
        let p = shipped(name);
        let t = f64::from(p.agc.target_lufs);
        let mut missed = Vec::new();
        let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
        for lead_ms in (0..100).step_by(5) {
            let x = louder_voice_after(lead_ms, switch, &word);
            let at = f64::from(lead_ms) / 1000.0 + switch;
            let mut chain = headroom_core::Chain::new(RATE, CH, 64, &p);
            let mut out = x.clone();
            let mut onset_gain = 0.0f32;
            for (k, b) in out.chunks_mut(64 * CH).enumerate() {
                chain.process(b);
                let now = (k + 1) as f64 * 64.0 / f64::from(RATE);
                if now > at && now < at + 0.1 {
                    onset_gain = onset_gain.min(chain.agc().onset_gain_db());
                }
            }
            if onset_gain > -3.0 {
                missed.push(lead_ms);
            }
            let level = integrated_between(&out, at, at + 8.0);
            low = low.min(level);
            high = high.max(level);
        }
        eprintln!(
            "{name}: the louder voice at {:+.2} … {:+.2} LU; the onset gain missed its first \
             word after {missed:?} ms of lead",
            low - t,
            high - t
        );
        assert!(
            high - low <= 1.0 && (low - t).abs() <= 1.5 && (high - t).abs() <= 1.5,
            "{name}: the louder voice at {:+.2} … {:+.2} LU depending on the grid",
            low - t,
            high - t
        );
        if name == "music" || name == "speech" {
            assert!(
                missed.is_empty(),
                "{name}: the onset gain missed the first word after {missed:?} ms of lead"
            );
        }
    }
}

#[test]
fn a_louder_voice_that_no_onset_catches_is_taken_up_within_three_seconds_in_every_profile() {
    // The same voices with soft first syllables, which the onset gain may miss: a short
    // window follows the louder voice as its energy fills it; `music`'s 15 s window
    // followed it at ≈ 0.3 dB/s and left it 5–7 dB over its gain 3 s in. A louder *voice*
    // (speech-like, 6 LU or more over the window's older readings for 1.5 s) now starts a
    // long window over too; a louder passage of music does not (`make eval`'s playlist:
    // unchanged).
    let switch = 12.0;
    for name in PROFILES {
        let p = shipped(name);
        let want = f64::from(p.agc.target_lufs) + 19.0;
        for lead_ms in (0..100).step_by(10) {
            let x = louder_voice_after(lead_ms, switch, &[]);
            let at = f64::from(lead_ms) / 1000.0 + switch + 3.0;
            let mut chain = headroom_core::Chain::new(RATE, CH, 64, &p);
            let mut out = x.clone();
            let mut gain = f32::NAN;
            for (k, b) in out.chunks_mut(64 * CH).enumerate() {
                chain.process(b);
                if ((k + 1) as f64 * 64.0 / f64::from(RATE)) <= at {
                    gain = chain.agc().gain_db() + chain.agc().onset_gain_db();
                }
            }
            let off = f64::from(gain) - want;
            eprintln!("{name}, {lead_ms} ms of lead: the gain 3 s in {off:+.2} dB off");
            assert!(
                off.abs() <= 2.5,
                "{name}: the gain 3 s into the louder voice {off:+.2} dB off its own"
            );
        }
    }
}

#[test]
fn speech_and_music_never_engage_the_onset_gain() {
    let mut x = speech_at(20.0, 650, -25.0);
    x.extend(music_at(20.0, 651, -25.0));
    for name in PROFILES {
        let p = shipped(name);
        let mut chain = headroom_core::Chain::new(RATE, CH, 256, &p);
        let mut buf = x.clone();
        let mut worst = 0.0f32;
        for (k, b) in buf.chunks_mut(256 * CH).enumerate() {
            chain.process(b);
            if k as f64 * 256.0 / RATE as f64 > 3.0 {
                worst = worst.min(chain.agc().onset_gain_db());
            }
        }
        eprintln!("{name}: deepest onset gain {worst:.2} dB");
        assert!(
            worst > -0.5,
            "{name}: onset gain {worst} dB on steady programme"
        );
    }
}

#[test]
fn a_steady_sine_is_clean_and_still_in_every_profile() {
    let x = sine(1000.0, 0.1, 14.0);
    for name in PROFILES {
        let p = shipped(name);
        let out = run_aligned(&p, &x);
        let a = 10 * RATE as usize;
        let b = 14 * RATE as usize;
        let y: Vec<f64> = (a..b).map(|i| out[i * CH] as f64).collect();
        // 10 ms envelope (RMS of 480 samples, whole periods) peak to peak.
        let rms: Vec<f64> = y
            .chunks(480)
            .map(|c| (c.iter().map(|v| v * v).sum::<f64>() / c.len() as f64).sqrt())
            .collect();
        let lo = rms.iter().cloned().fold(f64::MAX, f64::min);
        let hi = rms.iter().cloned().fold(0.0, f64::max);
        let ripple = 20.0 * (hi / lo).log10();
        eprintln!("{name}: sine envelope ripple {ripple:.4} dB");
        assert!(ripple <= 0.1, "{name}: ripple {ripple} dB");
    }
}

// ---------------------------------------------------------------------------------------
// The loudness ceiling.

/// Momentary loudness (ebur128 crate) every 10 ms, `(time_s, lufs)`: the grid a meter
/// that shows the highest momentary reading uses.
fn momentary_every_10ms(x: &[f32]) -> Vec<(f64, f64)> {
    let mut m = ebur128::EbuR128::new(CH as u32, RATE, ebur128::Mode::M).unwrap();
    let hop = RATE as usize / 100;
    let mut out = Vec::new();
    for (k, chunk) in x.chunks(hop * CH).enumerate() {
        m.add_frames_f32(chunk).unwrap();
        if chunk.len() == hop * CH {
            out.push(((k + 1) as f64 * 0.01, m.loudness_momentary().unwrap()));
        }
    }
    out
}

/// The loudest `secs` of `x` (by energy, on a 10 ms grid).
fn loudest_part(x: &[f32], secs: f64) -> Vec<f32> {
    let len = (secs * RATE as f64) as usize * CH;
    let hop = RATE as usize / 100 * CH;
    let energy = |s: &[f32]| s.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>();
    let best = (0..x.len().saturating_sub(len))
        .step_by(hop)
        .max_by(|&a, &b| energy(&x[a..a + len]).total_cmp(&energy(&x[b..b + len])))
        .unwrap_or(0);
    x[best..best + len].to_vec()
}

#[test]
fn a_sudden_loud_word_in_quiet_dialogue_stays_under_target_plus_3_lu_with_night() {
    // Quiet dialogue at −38 LUFS, and three single words (0.45 s) 10 LU louder than it, one
    // of them brighter than the voice (its highs raised: it weighs more in the K-weighting).
    // The ceiling's short level alone lets such a word through at +3.2 … +3.6 LU.
    let mut x = speech_at(16.0, 660, -38.0);
    let words = [(6.0, 661, false), (9.0, 662, true), (12.0, 663, false)];
    for (at, seed, bright) in words {
        let mut w = loudest_part(&speech_at(3.0, seed, -28.0), 0.45);
        if bright {
            let mut prev = [0.0f32; CH];
            for frame in w.chunks_mut(CH) {
                for (v, p) in frame.iter_mut().zip(prev.iter_mut()) {
                    let d = *v - 0.7 * *p;
                    *p = *v;
                    *v = d;
                }
            }
        }
        let l = integrated(&w);
        gain(&mut w, -28.0 - l);
        let start = (at * RATE as f64) as usize * CH;
        for (v, d) in x[start..].iter_mut().zip(&w) {
            *v += *d;
        }
    }
    let p = shipped("night");
    let t = p.agc.target_lufs as f64;
    let limit = t + 3.0;
    let out = run_aligned(&p, &x);
    let worst = momentary_every_10ms(&out)
        .into_iter()
        .filter(|&(s, _)| s > 3.0)
        .fold((0.0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
    eprintln!(
        "night: highest momentary {:.2} LU over the target at {:.2} s",
        worst.1 - t,
        worst.0
    );
    assert!(
        worst.1 <= limit,
        "night: momentary {:.2} LUFS at {:.2} s, over {limit}",
        worst.1,
        worst.0
    );
    // Not by turning the dialogue down: before the first word it is on the target.
    let dialogue = integrated_between(&out, 3.0, 5.9);
    eprintln!("night: dialogue {dialogue:.2} LUFS");
    assert!(
        (dialogue - t).abs() <= 1.0,
        "night: dialogue at {dialogue} LUFS, target {t}"
    );
}

#[test]
fn quiet_music_after_an_action_scene_is_not_taken_for_the_dialogue_before_it() {
    // A quiet voice (remembered at ≈ −33 LUFS), 8 s of loud music at −14, then quiet music
    // at −26: within the range a resumption accepts whenever the music's beats spread its
    // 100 ms loudness over 3 LU for a moment. About 4 s into the quiet music, in some phases
    // of the meters' grid, it was taken for the voice coming back: the estimate set at the
    // voice's level for half the 15 s window, the music 2.7 LU over the target for 10 s and
    // more (0.4 LU under it in the other phases). Every start 0–90 ms now gives the same.
    let p = shipped("music");
    let target = f64::from(p.agc.target_lufs);
    let mut levels = Vec::new();
    for k in 0..10 {
        let t0 = 0.01 * k as f64;
        let mut x = silence(t0);
        x.extend(headroom_tests::audio::syllables(8.0, 3));
        x.extend(music_at(8.0, 4, -14.0));
        x.extend(music_at(15.0, 6, -26.0));
        let out = run_aligned(&p, &x);
        // (The quiet music is held at the loud passage's gain for its first 6.5 s, half the
        // window less a second: a quiet passage inside a track is no new programme.)
        levels.push(integrated_between(&out, t0 + 24.0, t0 + 31.0));
    }
    let lo = levels.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = levels.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    eprintln!("quiet music after the loud passage: {lo:.1} … {hi:.1} LUFS (target {target})");
    assert!(
        hi - lo <= 0.5 && (hi - target).abs() <= 1.0 && (lo - target).abs() <= 1.0,
        "quiet music at {levels:.1?} LUFS depending on where it starts (target {target})"
    );
}

#[test]
fn a_quiet_passage_inside_a_track_keeps_its_distance_with_the_music_profile() {
    // Music at −14 LUFS for 20 s, then a quiet passage 14 LU under it. Inside a track (no
    // gap) the quiet passage keeps the loud one's gain for half the 15 s window less a
    // second: it was a new programme after 4 s (1.5 s when its loudness moved like speech)
    // and came up 14 dB at 100 dB/s, every decrescendo of an orchestral track lifted (the
    // loudness range of whole tracks cut by 46–49 %). After a gap (the next track) the same
    // quiet music is the new programme within the short rules' 4 s.
    let p = shipped("music");
    let target = f64::from(p.agc.target_lufs);
    let gain = |out: &[f32], x: &[f32], a: f64, b: f64| {
        integrated_between(out, a, b) - integrated_between(x, a, b)
    };
    let mut x = music_at(20.0, 21, -14.0);
    x.extend(music_at(12.0, 22, -28.0));
    let out = run_aligned(&p, &x);
    let (loud, quiet) = (gain(&out, &x, 14.0, 19.5), gain(&out, &x, 20.5, 26.0));
    eprintln!("inside the track: loud passage {loud:+.1} dB, quiet passage {quiet:+.1} dB");
    assert!(
        (quiet - loud).abs() <= 2.0,
        "the quiet passage got {quiet:+.1} dB, the loud one {loud:+.1}"
    );

    let mut x = music_at(20.0, 21, -14.0);
    x.extend(silence(1.5));
    x.extend(music_at(12.0, 22, -28.0));
    let out = run_aligned(&p, &x);
    let next = integrated_between(&out, 27.0, 33.5);
    eprintln!("the next track after a gap: {next:.1} LUFS (target {target})");
    assert!(
        (next - target).abs() <= 1.5,
        "the next track at {next:.1} LUFS"
    );
}

/// How much the gain on the high frequencies of `x` moves in `out` between 5 and 19 s:
/// P95 − P5 of the gain over 25 ms blocks, dB, read through a double difference (a
/// high-pass that leaves a 55 Hz kick 86 dB down and white or pink noise's top octaves in).
fn treble_gain_spread(x: &[f32], out: &[f32]) -> f64 {
    let energy = |v: &[f32], from: usize, to: usize| -> f64 {
        (from.max(2)..to)
            .map(|i| {
                let d = |c: usize| {
                    f64::from(v[i * CH + c]) - 2.0 * f64::from(v[(i - 1) * CH + c])
                        + f64::from(v[(i - 2) * CH + c])
                };
                d(0) * d(0) + d(1) * d(1)
            })
            .sum()
    };
    let block = RATE as usize / 40;
    let mut gains: Vec<f64> = (5 * 40..19 * 40)
        .map(|k| {
            let (a, b) = (k * block, (k + 1) * block);
            10.0 * (energy(out, a, b) / energy(x, a, b)).log10()
        })
        .collect();
    gains.sort_by(f64::total_cmp);
    let n = gains.len();
    gains[n - 1 - n / 20] - gains[n / 20]
}

#[test]
fn a_kick_drum_does_not_duck_the_sound_over_it() {
    // A steady hiss bed (pink noise at −30 LUFS) with a 55 Hz kick at −3 dBFS every 0.5 s.
    // The compressor's detector read the kick at its level, and every beat turned the bed
    // down with it (P95 − P5 of the bed's gain: 1.1 dB with `default`, 4.0 with `speech`,
    // 4.3 with `night`). It reads bass 6 dB under its level (`night`: 3 dB) now: 0.2, 0.9
    // and 3.1 dB (`night`'s rest is the limiter's, which holds the kick's peaks).
    let secs = 20.0;
    let mut x = pink_noise(secs, 31);
    normalise(&mut x, -30.0);
    let frames = x.len() / CH;
    let beat = RATE as usize / 2;
    let len = RATE as usize * 15 / 100;
    for i in 0..frames {
        let t = i % beat;
        if t < len {
            let env = (t as f64 / 96.0).min(1.0) * ((len - t) as f64 / 5760.0).min(1.0);
            let k = 0.7 * env * (2.0 * std::f64::consts::PI * 55.0 * t as f64 / RATE as f64).sin();
            x[i * CH] += k as f32;
            x[i * CH + 1] += k as f32;
        }
    }
    for (name, most) in [
        ("default", 0.6),
        ("speech", 1.5),
        ("music", 0.5),
        ("night", 3.6),
    ] {
        let p = shipped(name);
        let spread = treble_gain_spread(&x, &run_aligned(&p, &x));
        let mut full = p;
        full.compressor.sidechain_bass_cut_db = 0.0;
        let full_band = treble_gain_spread(&x, &run_aligned(&full, &x));
        eprintln!("{name}: the bed's gain moves {spread:.1} dB ({full_band:.1} with the detector on the full band)");
        assert!(
            spread <= most,
            "{name}: the bed's gain moves {spread:.1} dB with the kick"
        );
    }
}

#[test]
fn noise_in_bursts_is_levelled_wherever_its_gaps_fall_on_the_meters_grid() {
    // Noise in bursts, 200 ms on and 100 ms off, at −30 dBFS: modulated sound, levelled onto
    // the target. Where the gaps straddled the meter's 100 ms sub-blocks no sub-block was
    // quiet, its loudness spread only 4 LU, and the noise-like spectrum had it capped as
    // stationary noise: 3.6 LU under the target in `default` for as long as it lasted, in two
    // of every five grid phases (a live test failed on it as often).
    let mut burst = pink_noise(14.0, 77);
    normalise(&mut burst, -30.0);
    for (k, f) in burst.chunks_exact_mut(CH).enumerate() {
        if k % 14_400 >= 9_600 {
            f.iter_mut().for_each(|v| *v = 0.0);
        }
    }
    for name in PROFILES {
        let p = shipped(name);
        let t = f64::from(p.agc.target_lufs);
        // The bursts' level against the target, one per grid phase (leading silence).
        let levels: Vec<f64> = (0..100u32)
            .step_by(10)
            .map(|lead_ms| {
                let at = f64::from(lead_ms) / 1000.0;
                let mut x = silence(at);
                x.extend_from_slice(&burst);
                integrated_between(&run_aligned(&p, &x), at + 9.0, at + 14.0) - t
            })
            .collect();
        let (low, high) = levels
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        let said = format!("{name}: the bursts at {low:+.2} … {high:+.2} LU");
        eprintln!("{said}");
        assert!(
            high - low <= 0.5 && low.abs() <= 1.0 && high.abs() <= 1.0,
            "{said}"
        );
    }
}

#[test]
fn room_noise_in_a_long_pause_is_not_lifted() {
    // A loud voice (−12 LUFS) over room noise 9 LU under it (too close to it to be told
    // from the voice's own quiet syllables), then an 8 s pause with the noise alone, then the
    // voice again. After 4 s the noise was adopted as a new, quieter programme and lifted
    // 2.5–5 dB within a tenth of a second; it stays where it was now, in every profile, and
    // the voice comes back on its level.
    for name in PROFILES {
        let p = shipped(name);
        let mut voice = speech_at(8.0, 70, -12.0);
        voice.extend(silence(8.0));
        voice.extend(speech_at(4.0, 71, -12.0));
        let mut noise = pink_noise(20.0, 72);
        normalise(&mut noise, -21.0);
        let x: Vec<f32> = voice.iter().zip(&noise).map(|(v, n)| v + n).collect();
        let out = run_aligned(&p, &x);
        let early = integrated_between(&out, 9.0, 11.0);
        let late = integrated_between(&out, 13.5, 15.8);
        let before = integrated_between(&out, 5.0, 8.0);
        let after = integrated_between(&out, 16.5, 20.0);
        eprintln!(
            "{name}: noise early in the pause {early:.1} LUFS, late {late:.1}; voice before \
             {before:.1}, after {after:.1}"
        );
        assert!(
            late - early <= 1.0,
            "{name}: the noise rose {:.1} dB in the pause",
            late - early
        );
        assert!(
            (after - before).abs() <= 1.5,
            "{name}: the voice came back at {after:.1} LUFS after {before:.1}"
        );
    }
}

#[test]
fn a_loud_advert_that_fades_in_after_quiet_dialogue_leaves_no_hole() {
    // Quiet dialogue (−35 LUFS, lifted 15–19 dB), then an advert of speech over music at −12
    // that fades in over 0.3 s or 1 s: too gradual for the onset gain, so the AGC falls at
    // `fall_db_per_s` while the compressor and the loudness ceiling hold the advert's first
    // hot moments. Their reductions let go over their release times on top of the AGC's
    // fall: the gain dipped 5.8–6.4 dB under the advert's settled gain with `default` and
    // `night` (0.3 s fade), 2.7–4.0 dB (1 s fade); now 3.2–4.0 and up to 2.3. Its loudest
    // moment passed the profile's momentary limit by up to 0.8 LU (`default` +4.8 where the
    // limit is 4, `night` +3.2 where it promises 3): the loudness ceiling's cut arrived tens
    // of milliseconds late and held only the window ending at its horizon; now +0.3 at most.
    for fade_s in [0.3, 1.0] {
        let mut x = speech_at(12.0, 690, -35.0);
        let mut advert = music_at(6.0, 691, -14.0);
        for (a, b) in advert.iter_mut().zip(&speech_at(6.0, 692, -14.0)) {
            *a += *b;
        }
        normalise(&mut advert, -12.0);
        let n = (fade_s * RATE as f64) as usize;
        for (i, frame) in advert.chunks_mut(CH).enumerate().take(n) {
            let g = (i as f64 / n as f64).powi(2) as f32;
            frame.iter_mut().for_each(|v| *v *= g);
        }
        x.extend(advert);
        for name in ["default", "night", "speech"] {
            let p = shipped(name);
            let t = p.agc.target_lufs as f64;
            let out = run_aligned(&p, &x);
            // The gain the momentary loudness shows (out − in), against the advert's
            // settled one.
            let lift: Vec<(f64, f64)> = momentary_every_10ms(&out)
                .into_iter()
                .zip(momentary_every_10ms(&x))
                .map(|((s, o), (_, i))| (s, o - i))
                .collect();
            let between = |a: f64, b: f64| lift.iter().filter(move |&&(s, _)| s >= a && s < b);
            let settled = median(between(15.0, 18.0).map(|&(_, v)| v));
            let dip = between(12.0 + fade_s + 0.1, 14.5).fold(f64::INFINITY, |a, &(_, v)| a.min(v));
            let high = max_momentary_between(&out, 12.0, 14.5);
            eprintln!(
                "{name}, fade {fade_s} s: the advert's first seconds {:.2} dB under its settled gain, loudest {:+.2} LU",
                settled - dip,
                high - t
            );
            assert!(
                settled - dip <= 4.5,
                "{name}: a hole {:.2} dB deep",
                settled - dip
            );
            assert!(
                high <= t + f64::from(p.agc.max_momentary_lu) + 0.4,
                "{name}: {:+.2} LU",
                high - t
            );
        }
    }
}

#[test]
fn a_loud_start_on_a_fresh_chain_is_held_to_the_limit_without_a_hole() {
    // The first sound a chain hears (the daemon's first after it starts, a file's start in
    // `render`) has no programme before it to be judged against, and no estimate for 0.4 s:
    // loud music from its first frame was left to the loudness ceiling, which let its first
    // 200 ms out with all the room of a momentary window that held silence, then cut deep
    // to keep the 400 ms loudness at the limit — a punch, then a hole 4–6 dB under the gain
    // the music settles at (16 dB for clipped music with `night`, whose compressor held the
    // start), and with `default` 0.3–0.6 LU over its limit. Before the first estimate, a
    // start 6 LU over the target going into the compressor is a loud onset. Measured
    // against the same music after a voice at the target.
    let mut signals: Vec<(String, Vec<f32>)> = [
        (670, -8.0),
        (671, -9.0),
        (672, -10.0),
        (673, -11.0),
        (674, -12.0),
    ]
    .into_iter()
    .map(|(seed, lufs)| (format!("music at {lufs} LUFS"), music_at(5.0, seed, lufs)))
    .collect();
    // Clipped at full scale (≈ −2 LUFS, bright: read quietly before the K-weighting
    // correction is learnt).
    let mut clipped = music_like(5.0, 675);
    clipped
        .iter_mut()
        .for_each(|v| *v = (*v * 16.0).clamp(-1.0, 1.0));
    signals.push(("clipped music at full scale".to_string(), clipped));
    for name in PROFILES {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let limit = f64::from(p.agc.max_momentary_lu);
        for (what, x) in &signals {
            let lead = 8.0;
            let mut after = speech_at(lead, 680, t);
            after.extend(x);
            let mut figures = [(0.0, 0.0); 2];
            for (k, (signal, at)) in [(x, 0.0), (&after, lead)].into_iter().enumerate() {
                let out = run_aligned(&p, signal);
                let most = max_momentary_between(&out, at, at + 2.0) - t;
                let lift = momentary_lift(signal, &out);
                let settled = median(values_in(&lift, at + 3.0..=at + 5.0));
                let least = values_in(&lift, at + 0.5..=at + 2.0).fold(f64::INFINITY, f64::min);
                figures[k] = (most, settled - least);
            }
            let [(most, hole), (most_after, hole_after)] = figures;
            eprintln!(
                "{name}: {what} from the start: up to {most:+.1} LU over the target (limit \
                 {limit:+.1}), at most {hole:.1} dB under its settled gain; after a voice \
                 {most_after:+.1} LU, {hole_after:.1} dB"
            );
            // (After a voice the ceiling itself lets the momentary loudness pass the limit by
            // up to 0.4 LU on this music, and a beat louder than the first ones meets its cut.)
            assert!(
                most <= limit.max(most_after) + 0.25,
                "{name}, {what}: up to {most:.2} LU over the target from the start, \
                 {most_after:.2} after a voice (limit {limit:+.1})"
            );
            assert!(
                hole <= hole_after.max(2.5) + 0.5,
                "{name}, {what}: {hole:.1} dB under its settled gain from the start, \
                 {hole_after:.1} after a voice"
            );
        }
    }
}

#[test]
fn steady_sound_after_loud_music_is_taken_up_and_room_noise_after_a_voice_is_not() {
    // Steady sound straight after a programme was held at that programme's gain for as long
    // as it lasted, as a speech programme's room noise must be: a tone or a pad after loud
    // music stayed 21–23 LU under the target. After music (no pauses of speech) it is the
    // next programme, lifted within the stationary cap; after a voice, room noise that
    // lasts stays where the voice left it.
    for name in PROFILES {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let mut x = music_at(12.0, 690, -8.0);
        let from = 12.0;
        let mut tone = sine(1000.0, 0.1, 40.0);
        normalise(&mut tone, t - 4.0);
        x.extend(&tone);
        let out = run_aligned(&p, &x);
        let gain = gain_between(&out, &x, from + 30.0, from + 40.0);
        eprintln!("{name}: a tone 4 LU under the target after loud music: {gain:+.1} dB");
        assert!(
            gain >= 3.0,
            "{name}: the tone after loud music held at {gain:+.1} dB"
        );

        // A loud voice (cut 4 dB): its room noise, adopted, would be lifted up to the
        // stationary cap (6 dB) — 10 dB over the voice's gain.
        let mut y = speech_at(12.0, 691, t + 4.0);
        let mut noise = pink_noise(20.0, 692);
        normalise(&mut noise, t - 16.0);
        y.extend(&noise);
        let out = run_aligned(&p, &y);
        let speech = gain_between(&out, &y, 4.0, 12.0);
        let lift = gain_between(&out, &y, 22.0, 32.0);
        eprintln!("{name}: room noise after a voice: {lift:+.1} dB (the voice {speech:+.1})");
        // (The compressor's release in a pause brings the noise up to ≈ 1 dB; PLAN.md.)
        assert!(
            lift <= speech + 1.5,
            "{name}: room noise after a voice lifted {lift:+.1} dB over the voice's {speech:+.1}"
        );
    }
}

#[test]
fn hiss_under_the_gate_after_loud_music_keeps_the_musics_gain_after_a_quiet_voice() {
    // A quiet voice, loud music for 15 s, then hiss under the silence gate (a track's run-out,
    // a player left open): the music's last second, once the silence had filled most of the
    // 3 s history, looked like a short loud moment in the voice's pause, and the voice's
    // gain (+19 dB) was resumed — the hiss came out 25 LU louder than `render` of the music
    // alone puts it (found live, where a voice had played earlier).
    for name in PROFILES {
        let p = shipped(name);
        let gate = p.agc.silence_gate_lufs as f64;
        let mut x = speech_at(12.0, 693, -35.0);
        x.extend(music_at(15.0, 694, -9.0));
        let from = 27.0;
        let mut hiss = pink_noise(8.0, 695);
        normalise(&mut hiss, gate - 2.0);
        x.extend(&hiss);
        let out = run_aligned(&p, &x);
        let music = gain_between(&out, &x, from - 5.0, from);
        let lift = gain_between(&out, &x, from + 1.0, from + 8.0);
        eprintln!(
            "{name}: hiss under the gate after loud music {lift:+.1} dB (the music {music:+.1})"
        );
        assert!(
            lift <= music + 2.0,
            "{name}: hiss under the gate lifted {lift:+.1} dB over the music's {music:+.1}"
        );
    }
}

#[test]
fn hiss_after_a_long_louder_programme_that_ends_on_quieter_bars_keeps_its_gain() {
    // A quiet voice, 30 s of louder music whose last 2 s are quieter bars, a pause, then
    // hiss under the silence gate (a player left open): the music's end, once the silence
    // had filled the rest of the 3 s history, looked like a short loud moment in the voice's
    // pause (a chime), and the voice's gain was resumed in the silence — the hiss came out
    // at it, 16 dB over the music's gain (found comparing a live run with `render` of the
    // same files).
    for name in PROFILES {
        let p = shipped(name);
        let t = p.agc.target_lufs as f64;
        let mut x = speech_at(12.0, 696, t - 18.0);
        let mut music = music_at(30.0, 697, t - 2.0);
        let n = music.len() / CH;
        for f in music[(n - 2 * RATE as usize) * CH..].chunks_exact_mut(CH) {
            f.iter_mut()
                .for_each(|v| *v *= 10f64.powf(-8.0 / 20.0) as f32);
        }
        x.extend(&music);
        x.extend(silence(4.0));
        let from = 46.0;
        let gate = p.agc.silence_gate_lufs as f64;
        let mut hiss = pink_noise(10.0, 698);
        normalise(&mut hiss, gate - 3.0);
        x.extend(&hiss);
        let out = run_aligned(&p, &x);
        let music = gain_between(&out, &x, 30.0, 40.0);
        let end = gain_between(&out, &x, 40.5, 42.0);
        let lift = gain_between(&out, &x, from + 2.0, from + 10.0);
        eprintln!(
            "{name}: the hiss after the pause {lift:+.1} dB (the music {music:+.1}, its last bars {end:+.1})"
        );
        // (The compressor lets go on the hiss: `night` ≈ 1 dB over the last bars.)
        assert!(
            lift <= end.max(music) + 2.0,
            "{name}: hiss after a long louder programme lifted {lift:+.1} dB, its last bars {end:+.1}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Switching profiles while a programme plays.

#[test]
fn switching_to_a_profile_with_a_lower_limit_while_music_plays_leaves_no_hole() {
    // Music with a loud phrase, levelled by one profile; at the phrase's loudest the user
    // switches to a profile whose loudness limit (target + max_momentary_lu) is lower. The
    // 400 ms that came out before the switch stood over the new limit, and the loudness
    // ceiling cut 20–25 dB for a quarter of a second to make up for them (recorded music,
    // `speech` → `night`: the output 22 dB under where it settled; here 19–21 dB with
    // `speech` or `music` → `night`, 5 dB with → `default`, whose limit the output reached
    // while the old one's history was still in the window).
    let mut x = music_at(16.0, 770, -24.0);
    let rate = RATE as f64;
    let at = |t: f64| (t * rate) as usize * CH;
    // The loud phrase: +8 dB from 9 s to 11 s, gliding over 50 ms at each end.
    let (a, b, glide) = (at(9.0), at(11.0), at(0.05));
    for (i, v) in x.iter_mut().enumerate().take(b + glide).skip(a) {
        let t = if i < a + glide {
            (i - a) as f64 / glide as f64
        } else if i >= b {
            1.0 - (i - b) as f64 / glide as f64
        } else {
            1.0
        };
        *v *= 10f64.powf(8.0 * t / 20.0) as f32;
    }
    let limit = |p: &ChainParams| p.agc.target_lufs + p.agc.max_momentary_lu;
    let mut holes = Vec::new();
    for from in PROFILES {
        for to in PROFILES {
            let (p1, p2) = (shipped(from), shipped(to));
            if limit(&p2) >= limit(&p1) {
                continue;
            }
            let mut chain = headroom_core::Chain::new(RATE, CH, 1024, &p1);
            let lat = chain.latency_frames();
            let mut padded = x.clone();
            padded.extend(std::iter::repeat_n(0.0, lat * CH));
            let switch = at(9.6);
            let mut y = run(&mut chain, &padded[..switch], 480);
            assert_no_alloc::assert_no_alloc(|| chain.set_params(&p2));
            y.extend(run(&mut chain, &padded[switch..], 480));
            let y = y[lat * CH..].to_vec();
            // The chain's gain over 20 ms blocks (the music moves by itself): once the new
            // profile has settled on the phrase, and on the way.
            let gain = gain_every_20ms(&x, &y);
            let settled = median(values_in(&gain, 10.4..11.0));
            let least = values_in(&gain, 9.6..10.4).fold(f64::INFINITY, f64::min);
            let before = max_momentary_between(&y, 9.0, 9.6);
            let after = max_momentary_between(&y, 10.6, 11.0);
            eprintln!(
                "{from} → {to}: {before:.1} LUFS before the switch (new limit {:.1}); \
                 gain {settled:.1} dB once settled, down to {least:.1} dB on the way; \
                 a second after it {after:.1} LUFS",
                limit(&p2)
            );
            if least < settled - 3.0 {
                holes.push(format!(
                    "{from} → {to}: gain {least:.1} dB on the way, {settled:.1} once settled"
                ));
            }
            // And the new limit is kept a second after the switch.
            assert!(
                after <= limit(&p2) as f64 + 1.0,
                "{from} → {to}: {after:.1} LUFS a second after the switch, limit {}",
                limit(&p2)
            );
        }
    }
    assert!(holes.is_empty(), "holes after a switch: {holes:#?}");
}

/// The gain from `x` to `y` (output less input level) over each 20 ms block: `(end of the
/// block, s; dB)`.
fn gain_every_20ms(x: &[f32], y: &[f32]) -> Vec<(f64, f64)> {
    let block = RATE as usize / 50 * CH;
    let energy = |v: &[f32]| v.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>();
    x.chunks(block)
        .zip(y.chunks(block))
        .enumerate()
        .map(|(k, (a, b))| {
            let t = (k + 1) as f64 / 50.0;
            (
                t,
                10.0 * (energy(b).max(1e-30) / energy(a).max(1e-30)).log10(),
            )
        })
        .collect()
}

#[test]
fn leaving_bypass_comes_back_at_the_level_it_left_in_every_profile() {
    // Five seconds of bypass in the middle of a programme: while the output was the dry
    // input, its level against the levelled one was learnt as the limiter's loss, and a
    // tone came back 2 dB over its level, music 1–2 dB off, for seconds. The chain that
    // went through bypass must come out as one that never did, once the crossfade is over.
    let rate = RATE as f64;
    let at = |t: f64| (t * rate) as usize * CH;
    let programmes = [
        ("tone", sine(1000.0, 0.1, 20.0)),
        ("music", music_at(20.0, 780, -24.0)),
    ];
    for name in PROFILES {
        let p = shipped(name);
        let mut bypassed = p;
        bypassed.bypass = true;
        for (what, x) in &programmes {
            let mut through = headroom_core::Chain::new(RATE, CH, 1024, &p);
            let mut plain = headroom_core::Chain::new(RATE, CH, 1024, &p);
            let reference = run(&mut plain, x, 480);
            let mut y = run(&mut through, &x[..at(10.0)], 480);
            assert_no_alloc::assert_no_alloc(|| through.set_params(&bypassed));
            y.extend(run(&mut through, &x[at(10.0)..at(15.0)], 480));
            assert_no_alloc::assert_no_alloc(|| through.set_params(&p));
            y.extend(run(&mut through, &x[at(15.0)..], 480));
            let apart = gain_every_20ms(&reference, &y);
            let worst = values_in(&apart, 15.1..20.0).fold(0.0f64, |m, d| m.max(d.abs()));
            eprintln!(
                "{name}, {what}: after bypass at most {worst:.2} dB from the chain without it"
            );
            assert!(
                worst <= 1.0,
                "{name}, {what}: {worst:.2} dB from the chain that was not bypassed"
            );
        }
    }
}

#[test]
fn a_songs_final_decay_fades_out_in_every_profile() {
    // The last chord of a song rings out: 40 dB down over 5 s. Followed as a quieter
    // programme (each 100 ms within the estimate's relative gate of the last), it was
    // held at one level by `speech` and `night` — lifted 30 dB by its end (recorded music,
    // Wesnoth's elf-land) — where `default` let it fade.
    let mut x = music_at(20.0, 790, -20.0);
    x.extend(faded_out(music_at(6.0, 791, -20.0), 0.0, 6.0, 48.0));
    x.extend(silence(2.0));
    for name in PROFILES {
        let p = shipped(name);
        let out = run_aligned(&p, &x);
        let lift = momentary_lift(&x, &out);
        let body = median(values_in(&lift, 15.0..20.0));
        let most = values_in(&lift, 20.5..26.0).fold(f64::NEG_INFINITY, f64::max);
        eprintln!("{name}: the music lifted {body:.1} dB, its decay up to {most:.1} dB");
        assert!(
            most <= body + 2.0,
            "{name}: the decay lifted up to {most:.1} dB, the music {body:.1} dB"
        );
    }
}

#[test]
fn a_dense_louder_programme_after_a_voice_is_on_target_within_a_second_and_a_half() {
    // A voice, 0.4 s of silence, then a dense, steady programme 10–12 LU louder (an advert's
    // compressed bed after the news). Not sudden enough for the onset gain once the loudness
    // ceiling holds it, it was left to the programme window, whose estimate climbs over the
    // window's length: 1.9–2.8 LU over the target from 1.2 to 2.5 s in, in every short-window
    // profile (`make eval`'s tv-evening: its first advert 2–3.6 LU over for 2.5 s).
    for name in ["default", "night", "speech"] {
        for (voice, louder, seed) in [(-3.0, 7.0, 700), (-6.0, 4.0, 702), (-2.0, 10.0, 704)] {
            let p = shipped(name);
            let t = p.agc.target_lufs as f64;
            let mut x = speech_at(10.0, seed, t + voice);
            x.extend(silence(0.4));
            let mut advert = pink_noise(8.0, seed + 1);
            normalise(&mut advert, t + louder);
            x.extend(advert);
            let out = run_aligned(&p, &x);
            let early = integrated_between(&out, 11.6, 12.9) - t;
            let later = integrated_between(&out, 14.4, 18.4) - t;
            eprintln!(
                "{name}: a voice at T{voice:+}, then T{louder:+}: 1.2–2.5 s in {early:+.1} LU, later {later:+.1} LU"
            );
            assert!(
                early <= 1.5,
                "{name}: the louder programme came out {early:+.1} LU over the target 1.2–2.5 s in"
            );
            assert!(later.abs() <= 1.0, "{name}: later {later:+.1} LU");
        }
    }
}

#[test]
fn a_loud_advert_after_a_voice_and_a_short_pause_is_caught_wherever_it_falls_on_the_grid() {
    // A voice with its room noise, 0.4 s of silence, then a steady programme 10 LU louder
    // (an advert's compressed bed after the news). Its 20 ms level lies at the voice's
    // loudest syllables, so it is no sudden onset: what catches it is its fast level held
    // for 100 ms far over the loudness of the 2 s before. That was asked to be 9 LU over
    // (and over the target); the bed's level held at 8.5–9 LU over, and whether `music`
    // caught it came down to where the stream's start fell on the 100 ms grid — caught:
    // on the target; missed: 6.5–8 LU over it for 2 s, 1.3–5.5 LU for the 2 s after
    // (`make eval`'s tv-evening rendered after 18, 24, 36 or 78–96 ms of silence: its
    // first advert +6 LU for 2 s; live in one run of three).
    for name in PROFILES {
        let p = shipped(name);
        let t = f64::from(p.agc.target_lufs);
        let mut worst = f64::NEG_INFINITY;
        for lead_ms in (0..100).step_by(20) {
            let mut advert = pink_noise(6.0, 731);
            normalise(&mut advert, t + 9.0);
            let (x, at) = after_a_voice_and_a_pause(lead_ms, t, advert);
            let out = run_aligned(&p, &x);
            let first = integrated_between(&out, at, at + 2.0) - t;
            let later = integrated_between(&out, at + 2.0, at + 6.0) - t;
            eprintln!(
                "{name}, {lead_ms} ms of lead: the advert's first 2 s {first:+.1} LU, the next 4 s {later:+.1} LU"
            );
            assert!(
                later.abs() <= 1.0,
                "{name}, {lead_ms} ms of lead: the advert 2–6 s in {later:+.1} LU off the target"
            );
            worst = worst.max(first);
        }
        assert!(
            worst <= 4.0,
            "{name}: the advert's first 2 s up to {worst:+.1} LU over the target"
        );
    }
}

#[test]
fn a_steady_programme_louder_than_a_levelled_voice_is_on_target_within_two_seconds() {
    // A voice levelled to the target, 0.4 s of silence, then a dense, steady programme
    // 7 or 8 LU louder: under the onset gain's thresholds, so each profile's window takes
    // it. A short window follows it within a second or two; `music`'s 15 s window climbed
    // to it over its whole length and left it 4.4–4.9 LU over the target 2–4 s in and
    // 3.4–3.6 LU 4–6 s in. After talk the gain had levelled, a louder programme that holds
    // still now starts a long window over too (a louder passage of music still does not).
    for name in PROFILES {
        let p = shipped(name);
        let t = f64::from(p.agc.target_lufs);
        for louder in [7.0, 8.0] {
            for lead_ms in [0u32, 50] {
                let mut advert = dense_music_like(6.0, 731);
                normalise(&mut advert, t - 1.0 + louder);
                let (x, at) = after_a_voice_and_a_pause(lead_ms, t, advert);
                let out = run_aligned(&p, &x);
                let later = integrated_between(&out, at + 2.0, at + 6.0) - t;
                eprintln!(
                    "{name}, {louder} LU louder, {lead_ms} ms of lead: 2–6 s in {later:+.1} LU"
                );
                assert!(
                    later.abs() <= 1.0,
                    "{name}: a programme {louder} LU over the voice came out {later:+.1} LU \
                     off the target 2–6 s in"
                );
            }
        }
    }
}

/// `x` faded out: its level falls by `depth_db` from `from_s` s over `secs` s, linearly in
/// dB, and stays there.
fn faded_out(mut x: Vec<f32>, from_s: f64, secs: f64, depth_db: f64) -> Vec<f32> {
    for (i, f) in x.chunks_exact_mut(CH).enumerate() {
        let t = i as f64 / RATE as f64 - from_s;
        if t > 0.0 {
            let g = 10f64.powf(-depth_db * (t / secs).min(1.0) / 20.0) as f32;
            f.iter_mut().for_each(|v| *v *= g);
        }
    }
    x
}

#[test]
fn a_song_that_fades_out_is_not_lifted_back_up_in_any_profile() {
    // A song at −16 LUFS whose last 12 s fade by 50 dB, its beats (±3 dB) and swells
    // scattered over the fall. Its quieter sound was adopted 4 s into the fade (its last
    // 0.6 s no longer fell clearly under the 0.6 s before) and lifted 17–28 dB, or followed
    // up as the estimate went down with it whenever a swell broke the steady fall: the song
    // faded, came back almost to full loudness and faded again. The gain now rises at most
    // a few dB while it fades, and the fade is heard as one.
    for seed in [31, 32] {
        let mut x = music_at(32.0, seed, -16.0);
        x = faded_out(x, 20.0, 12.0, 50.0);
        x.extend(silence(2.0));
        for name in PROFILES {
            let p = shipped(name);
            let out = run_aligned(&p, &x);
            let before = gain_between(&out, &x, 14.0, 20.0);
            let most = (20..31)
                .map(|s| gain_between(&out, &x, s as f64, s as f64 + 1.0))
                .fold(f64::NEG_INFINITY, f64::max);
            eprintln!("{name} (seed {seed}): gain {before:+.1} dB before the fade, at most {most:+.1} in it");
            assert!(
                most <= before + 6.0,
                "{name} (seed {seed}): the fade lifted to {most:+.1} dB from {before:+.1}"
            );
        }
    }
}
