//! Levelling behaviour of the whole chain on synthesised programmes, with the `ebur128`
//! crate as the loudness oracle and a 16× oversampling check of the ceiling.
//!
//! Short-term criterion: a segment's first 3 s are settling time; a short-term value counts
//! once its whole 3 s window lies after the settling time (i.e. from 6 s into the segment).

mod levelling_support;

use headroom_core::ChainParams;
use levelling_support::*;

#[cfg(debug_assertions)]
#[global_allocator]
static A: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const TARGET: f64 = -16.0;
const CEILING: f64 = -1.0;

/// Checks the short-term criterion for each `(start, end)` segment; returns the worst
/// fraction.
fn check_segments(out: &[f32], input: &[f32], segments: &[(f64, f64)], what: &str) -> f64 {
    let st = short_term_series(out);
    let m_in = momentary_series(input);
    if std::env::var_os("LEVELLING_TRACE").is_some() {
        let st_in = short_term_series(input);
        for (k, ((t, l), (_, li))) in st.iter().zip(&st_in).enumerate() {
            if k % 5 == 4 {
                eprintln!("{what} t={t:.1} out_st={l:.1} in_st={li:.1}");
            }
        }
    }
    let mut worst = 1.0f64;
    for &(a, b) in segments {
        let (frac, n) = fraction_within(&st, &m_in, a + 6.0, b, TARGET, 2.0);
        eprintln!(
            "{what}: segment {a:.0}-{b:.0} s: {:.1} % of {n} within ±2 LU",
            frac * 100.0
        );
        assert!(n > 0);
        worst = worst.min(frac);
    }
    worst
}

fn check_ceiling(out: &[f32], what: &str) {
    let os = Oversampler16::new();
    let tp = os.true_peak_db(out, CEILING, Some(6.0));
    eprintln!("{what}: output true peak (16x) {tp:.3} dBTP");
    assert!(
        tp <= CEILING,
        "{what}: true peak {tp} dBTP over the ceiling"
    );
}

#[test]
fn levels_quiet_speech_and_loud_music_swings() {
    let seg = 20.0;
    let mut x = Vec::new();
    let mut segments = Vec::new();
    for k in 0..4 {
        let mut s = if k % 2 == 0 {
            let mut v = speech_like(seg, 100 + k);
            normalise(&mut v, -36.0);
            v
        } else {
            let mut v = music_like(seg, 200 + k);
            normalise(&mut v, -8.0);
            v
        };
        segments.push((k as f64 * seg, (k + 1) as f64 * seg));
        x.append(&mut s);
    }
    let out = run_aligned(&ChainParams::default(), &x);
    let i = integrated(&out);
    eprintln!("swings: integrated {i:.2} LUFS");
    let worst = check_segments(&out, &x, &segments, "swings");
    check_ceiling(&out, "swings");
    assert!((i - TARGET).abs() <= 1.0, "integrated {i}");
    assert!(worst >= 0.95, "short-term within ±2 LU only {worst}");
}

#[test]
fn follows_a_slow_30_lu_crescendo() {
    let secs = 40.0;
    let mut x = music_like(secs, 31);
    normalise(&mut x, -25.0);
    // −30 dB → 0 dB over the programme (linear in dB).
    let n = x.len() / CH;
    for i in 0..n {
        let db = -30.0 + 30.0 * i as f64 / n as f64 + 15.0;
        let g = 10f64.powf(db / 20.0) as f32;
        x[i * CH] *= g;
        x[i * CH + 1] *= g;
    }
    let out = run_aligned(&ChainParams::default(), &x);
    let i = integrated(&out);
    eprintln!(
        "crescendo: integrated {i:.2} LUFS, input {:.2}",
        integrated(&x)
    );
    let worst = check_segments(&out, &x, &[(0.0, secs)], "crescendo");
    check_ceiling(&out, "crescendo");
    // A steady rise of 0.75 dB/s is followed with the programme window's lag (about half of
    // `agc.window_s` times the slope: ≈ 0.75 LU hot at the default 2 s).
    assert!((i - TARGET).abs() <= 1.25, "integrated {i}");
    assert!(worst >= 0.95, "short-term within ±2 LU only {worst}");
}

#[test]
fn speech_after_ten_seconds_of_silence_is_not_louder() {
    let mut x = Vec::new();
    let mut onsets = Vec::new();
    let mut t = 0.0;
    for k in 0..3 {
        if k > 0 {
            x.extend(silence(10.0));
            t += 10.0;
            onsets.push(t);
        }
        let mut s = speech_like(12.0, 300 + k);
        normalise(&mut s, -30.0);
        x.extend(s);
        t += 12.0;
    }
    let p = ChainParams::default();
    let mut chain = headroom_core::Chain::new(RATE, CH, 512, &p);
    let lat = chain.latency_frames();
    let mut gains = Vec::new();
    let mut out = Vec::new();
    for b in x.chunks(512 * CH) {
        let mut buf = b.to_vec();
        assert_no_alloc::assert_no_alloc(|| chain.process(&mut buf));
        gains.push(chain.meters().agc_gain_db);
        out.extend(buf);
    }
    let out = &out[lat * CH..];
    let i = integrated(out);
    eprintln!("gaps: integrated {i:.2}");
    assert!((i - TARGET).abs() <= 1.0, "integrated {i}");
    for &on in &onsets {
        let a = (on * RATE as f64) as usize * CH;
        let b = ((on + 2.0) * RATE as f64) as usize * CH;
        let l = integrated(&out[a..b]);
        eprintln!("gaps: first 2 s after the gap at {on} s: {l:.2} LUFS");
        assert!(l <= TARGET + 1.0, "onset at {on}: {l} LUFS");
        // The gain did not move during the silence.
        let blk = |s: f64| (s * RATE as f64 / 512.0) as usize;
        let g0 = gains[blk(on - 9.0)];
        let g1 = gains[blk(on - 0.1)];
        assert!((g0 - g1).abs() < 0.01, "gain moved in silence: {g0} → {g1}");
    }
    check_ceiling(out, "gaps");
}

#[test]
fn full_scale_transients_with_inter_sample_peaks_stay_under_the_ceiling() {
    // Bursts of a 0 dBFS-sample fs/4 sine at 45° (true peak +3 dBTP), square clicks and
    // full-scale noise, separated by quiet speech.
    let mut x = Vec::new();
    let mut rng = Rng::new(77);
    for k in 0..6 {
        let mut s = speech_like(1.0, 400 + k);
        normalise(&mut s, -30.0);
        x.extend(s);
        let len = 2400 + 500 * k as usize;
        for i in 0..len {
            let v = match k % 3 {
                0 => {
                    ((std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin()
                        * std::f64::consts::SQRT_2) as f32
                }
                1 => {
                    if (i / 3).is_multiple_of(2) {
                        1.0
                    } else {
                        -1.0
                    }
                }
                _ => rng.bipolar() as f32,
            };
            x.push(v);
            x.push(if k == 4 { -v } else { v });
        }
    }
    let out = run_aligned(&ChainParams::default(), &x);
    let os = Oversampler16::new();
    let tp = os.true_peak_db(&out, CEILING, None);
    eprintln!("transients: output true peak (16x) {tp:.3} dBTP");
    assert!(tp <= CEILING, "true peak {tp}");
    // The limiter did not just mute them: the loud parts are within 3 dB of the ceiling.
    assert!(tp > CEILING - 3.0, "true peak {tp}");
}

#[test]
fn steady_sine_is_clean_and_still() {
    let x = sine(1000.0, 0.1, 14.0);
    let out = run_aligned(&ChainParams::default(), &x);
    // Settled after 8 s: last 4 s (a whole number of periods).
    let a = 10 * RATE as usize;
    let b = 14 * RATE as usize;
    let y: Vec<f64> = (a..b).map(|i| out[i * CH] as f64).collect();
    // Least-squares fit of the 1 kHz fundamental (sin, cos, DC) and residual.
    let w = 2.0 * std::f64::consts::PI * 1000.0 / RATE as f64;
    let (mut ss, mut sc, mut cc, mut ys, mut yc, mut yd) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (k, &v) in y.iter().enumerate() {
        let t = (a + k) as f64;
        let (s, c) = (w * t).sin_cos();
        ss += s * s;
        sc += s * c;
        cc += c * c;
        ys += v * s;
        yc += v * c;
        yd += v;
    }
    let det = ss * cc - sc * sc;
    let bs = (ys * cc - yc * sc) / det;
    let bc = (yc * ss - ys * sc) / det;
    let dc = yd / y.len() as f64;
    let mut res = 0.0;
    let mut sig = 0.0;
    for (k, &v) in y.iter().enumerate() {
        let t = (a + k) as f64;
        let f = bs * (w * t).sin() + bc * (w * t).cos();
        res += (v - f - dc).powi(2);
        sig += f * f;
    }
    let thdn = 10.0 * (res / sig).log10();
    // Gain ripple: per-period RMS over the same span.
    let rms: Vec<f64> = y
        .chunks(48)
        .map(|c| (c.iter().map(|v| v * v).sum::<f64>() / 48.0).sqrt())
        .collect();
    let lo = rms.iter().cloned().fold(f64::MAX, f64::min);
    let hi = rms.iter().cloned().fold(0.0, f64::max);
    let ripple = 20.0 * (hi / lo).log10();
    let level = 20.0 * (bs.hypot(bc)).log10();
    eprintln!("sine: THD+N {thdn:.1} dB, ripple {ripple:.4} dB, level {level:.2} dBFS");
    assert!(thdn <= -90.0, "THD+N {thdn} dB");
    assert!(ripple <= 0.1, "gain ripple {ripple} dB");
    // And it was levelled: a stereo sine at −16 LUFS has a peak of about −16 dBFS.
    let l = integrated(&out[a * CH..b * CH]);
    assert!((l - TARGET).abs() <= 1.0, "sine loudness {l}");
}

#[test]
fn gain_is_steady_on_steady_speech() {
    // No "insects": once settled on a steady talker the AGC gain neither jitters per block
    // nor wanders.
    let mut x = speech_like(30.0, 500);
    normalise(&mut x, -30.0);
    let mut chain = headroom_core::Chain::new(RATE, CH, 256, &ChainParams::default());
    let mut gains = Vec::new();
    for b in x.chunks(4800 * CH) {
        let mut buf = b.to_vec();
        for sub in buf.chunks_mut(256 * CH) {
            assert_no_alloc::assert_no_alloc(|| chain.process(sub));
        }
        gains.push(chain.meters().agc_gain_db as f64);
    }
    let settled = &gains[100..];
    let lo = settled.iter().cloned().fold(f64::MAX, f64::min);
    let hi = settled.iter().cloned().fold(f64::MIN, f64::max);
    let max_step = settled
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "steady speech: gain {lo:.2}..{hi:.2} dB, largest change per 100 ms {max_step:.3} dB"
    );
    assert!(hi - lo <= 3.0, "gain wanders {lo}..{hi}");
    assert!(max_step <= 0.6, "gain jumps {max_step} dB in 100 ms");
}

// ---------------------------------------------------------------------------------------
// The target is the output loudness, in every profile (shipped and a user's own).

const PROFILES: [&str; 4] = ["default", "night", "music", "speech"];

fn shipped(name: &str) -> ChainParams {
    headroom_core::profile::Profile::shipped(name)
        .expect("shipped profile")
        .expect("valid")
        .chain
}

/// Integrated loudness (ebur128) of `x` between `a` and `b` seconds.
fn integrated_between(x: &[f32], a: f64, b: f64) -> f64 {
    let at = |t: f64| ((t * RATE as f64) as usize * CH).min(x.len());
    integrated(&x[at(a)..at(b)])
}

fn speech_at(secs: f64, seed: u64, lufs: f64) -> Vec<f32> {
    let mut v = speech_like(secs, seed);
    normalise(&mut v, lufs);
    v
}

fn music_at(secs: f64, seed: u64, lufs: f64) -> Vec<f32> {
    let mut v = music_like(secs, seed);
    normalise(&mut v, lufs);
    v
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

#[test]
fn a_user_profile_with_an_aggressive_compressor_still_lands_on_its_target() {
    let mut p = ChainParams::default();
    p.agc.target_lufs = -18.0;
    p.compressor.threshold_db = -40.0;
    p.compressor.ratio = 10.0;
    p.compressor.knee_db = 0.0;
    p.compressor.attack_ms = 2.0;
    let mut x = speech_at(20.0, 610, -30.0);
    x.extend(music_at(20.0, 611, -12.0));
    let out = run_aligned(&p, &x);
    for (a, b) in [(6.0, 20.0), (26.0, 40.0)] {
        let l = integrated_between(&out, a, b);
        eprintln!("aggressive compressor: {a}-{b} s {l:.2} LUFS");
        assert!((l + 18.0).abs() <= 1.0, "{a}-{b} s at {l} LUFS");
    }
    check_ceiling(&out, "aggressive compressor");
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
                // speech and default profiles keep it 20 LU under, night (firmer) 18.
                let under = if name == "night" { 18.0 } else { 20.0 };
                assert!(
                    noise <= voice - under,
                    "{name}: noise {noise} LUFS against voice {voice}"
                );
            }
        }
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
        check_ceiling(&out, name);
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
