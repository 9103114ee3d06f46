//! Levelling behaviour of the whole chain on synthesised programmes, with the `ebur128`
//! crate as the loudness oracle and a 16× oversampling check of the ceiling. (Each shipped
//! profile's own levelling is tested in `headroom-profile`'s tests, on the same programmes.)
//!
//! Short-term criterion: a segment's first 3 s are settling time; a short-term value counts
//! once its whole 3 s window lies after the settling time (i.e. from 6 s into the segment).

use crate::support::levelling::*;
use headroom_core::{agc, ChainParams};

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
fn full_scale_white_noise_driven_into_the_limiter_stays_under_the_ceiling() {
    // A user's profile with the AGC off and 24 dB of makeup drives full-scale white noise
    // far into the limiter. Such noise builds inter-sample peaks from sinc tails longer than
    // the detector's 12 taps: a margin of 2 dB in all (1.5 for noise) let it out 0.3 dB over
    // the ceiling on a long interpolation (`make sweep`'s `agc-off-makeup24` on `noise0`).
    let mut p = ChainParams::default();
    p.agc.enabled = false;
    p.compressor.makeup_db = 24.0;
    let mut x = Vec::new();
    for (l, r) in headroom_tests::audio::white_noise(3 * RATE as usize, 690)
        .zip(headroom_tests::audio::white_noise(3 * RATE as usize, 691))
    {
        x.push(l as f32);
        x.push(r as f32);
    }
    let out = run_aligned(&p, &x);
    // Read with `analyze`'s long sinc (checked against a brute-force 128-tap, 32x
    // reference in its own tests); the 16x, 64-tap check reads such noise lower.
    let mut fine = headroom_core::finepeak::FineTruePeak::new(CH);
    fine.process(&out);
    let tp = fine.true_peak_dbtp();
    let tp16 = Oversampler16::new().true_peak_db(&out, CEILING, None);
    eprintln!("white noise into the limiter: {tp:.3} dBTP (long sinc), {tp16:.3} (16x)");
    assert!(tp <= CEILING, "true peak {tp:.3} dBTP over the ceiling");
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

#[test]
fn a_compressor_at_the_edge_of_its_range_still_lands_on_the_target() {
    // threshold −60 dBFS, ratio 20: the compressor takes 40–50 dB off a programme levelled to
    // −16 LUFS; it is made up (hard knee or the widest soft one) to within a few LU: between
    // syllables such a compressor releases by tens of dB and the loudness ceiling holds the
    // next syllable's attack, so speech lands up to about 4 LU under the target (not 17 LU,
    // as with the makeup capped at 30 dB).
    for knee in [0.0, 24.0] {
        let mut p = ChainParams::default();
        p.compressor.threshold_db = -60.0;
        p.compressor.ratio = 20.0;
        p.compressor.knee_db = knee;
        let mut x = speech_at(20.0, 620, -30.0);
        x.extend(music_at(20.0, 621, -12.0));
        let out = run_aligned(&p, &x);
        for (a, b) in [(6.0, 20.0), (26.0, 40.0)] {
            let l = integrated_between(&out, a, b);
            eprintln!("compressor −60 dBFS 20:1 knee {knee}: {a}-{b} s {l:.2} LUFS");
            assert!(
                l - TARGET <= 1.0 && l - TARGET >= -4.0,
                "knee {knee}: {a}-{b} s at {l} LUFS"
            );
        }
        check_ceiling(&out, "compressor −60 dBFS 20:1");
    }
}

#[test]
fn a_compressor_far_under_the_programme_never_drops_the_sound_out() {
    // Compressor at −60 dBFS 20:1: its makeup is 40 dB and more. It used to start from 0 and
    // to drop to 0 at a loud onset, to be learnt anew over a second or two: the first
    // seconds of a programme and of a loud advert after speech came out 40 dB under what
    // the AGC alone made of them.
    let mut p = ChainParams::default();
    p.compressor.threshold_db = -60.0;
    p.compressor.ratio = 20.0;
    p.compressor.knee_db = 0.0;
    let mut plain = p;
    plain.compressor.enabled = false;
    let mut x = speech_at(12.0, 650, -40.0);
    x.extend(music_at(8.0, 651, -6.0));
    let out = run_aligned(&p, &x);
    let agc_only = momentary_series(&run_aligned(&plain, &x));
    let m_in = momentary_series(&x);
    for (((t, m), (_, a)), (_, mi)) in momentary_series(&out).into_iter().zip(agc_only).zip(m_in) {
        // Every reading of the input with sound (speech's pauses aside) in the first
        // seconds of each part (once the first programme estimate, 0.4 s, has a reading's
        // window behind it) comes out within 12 LU of what the AGC alone makes of it. (Later
        // such a compressor still breathes: its makeup follows what it measures, which a
        // quiet moment in the speech can pull down by 15 dB for a second or two.)
        if ((0.9..4.0).contains(&t) || (12.5..15.5).contains(&t)) && mi > -50.0 {
            assert!(
                m >= a - 12.0,
                "at {t:.1} s: {m:.1} LUFS out, {a:.1} without the compressor (in {mi:.1})"
            );
        }
    }
    check_ceiling(&out, "compressor −60 dBFS 20:1, onset");
}

/// Compressor at −60 dBFS 20:1 with a hard knee (a user's "flatten everything"), the rest
/// as the default profile.
fn heavy_compressor_params() -> ChainParams {
    let mut p = ChainParams::default();
    p.compressor.threshold_db = -60.0;
    p.compressor.ratio = 20.0;
    p.compressor.knee_db = 0.0;
    p
}

/// A quiet voice (−40 LUFS) in room noise (−66 LUFS throughout) with pauses of room noise
/// alone, 3 s long, after 8 s and 19 s of speech: `(signal, pauses as (start, end) s)`.
fn voice_in_room_noise() -> (Vec<f32>, Vec<(f64, f64)>) {
    let mut x = speech_at(8.0, 660, -40.0);
    x.extend(silence(3.0));
    x.extend(speech_at(8.0, 661, -40.0));
    x.extend(silence(3.0));
    x.extend(speech_at(6.0, 662, -40.0));
    let mut noise = pink_noise(x.len() as f64 / (CH as f64 * RATE as f64), 663);
    normalise(&mut noise, -66.0);
    x.iter_mut().zip(&noise).for_each(|(v, n)| *v += n);
    (x, vec![(8.0, 11.0), (19.0, 22.0)])
}

#[test]
fn a_compressor_far_under_the_programme_keeps_room_noise_under_the_voice() {
    // The curve of a compressor at −60 dBFS 20:1 takes 25 of the 26 LU between the voice and
    // the room noise away, and the makeup that brings the voice to the target brought the
    // noise in every pause up to nearly the voice's level. The makeup lifts what lies under
    // the programme at most 10 dB more than the programme.
    let (x, pauses) = voice_in_room_noise();
    let out = run_aligned(&heavy_compressor_params(), &x);
    let voice = integrated_between(&out, 3.0, 8.0);
    eprintln!("voice {voice:.1} LUFS");
    assert!((voice + 16.0).abs() <= 2.0, "voice at {voice:.1} LUFS");
    for (a, b) in pauses {
        // Readings whose 400 ms window lies inside the pause.
        let noise = max_momentary_between(&out, a + 0.45, b);
        eprintln!("pause {a}-{b} s: room noise up to {noise:.1} LUFS");
        assert!(
            noise <= voice - 12.0,
            "room noise in the pause at {a} s up to {noise:.1} LUFS, the voice at {voice:.1}"
        );
    }
}

#[test]
fn a_compressor_far_under_the_programme_does_not_breathe_after_a_pause() {
    // The same voice after each pause of room noise comes out where it was before it. The
    // pause used to be learnt as the programme's loss (the AGC counts a gap as a possible
    // new programme, and the re-learning ran on the noise in it): the makeup fell by 15 dB
    // and the voice came back that far down for a second or two.
    let (x, pauses) = voice_in_room_noise();
    let out = run_aligned(&heavy_compressor_params(), &x);
    let voice = integrated_between(&out, 3.0, 8.0);
    let m_in = momentary_series(&x);
    for (_, b) in pauses {
        for ((t, m), (_, mi)) in momentary_series(&out).into_iter().zip(&m_in) {
            // Readings of the voice at its level (windows past the pause, not the voice's own
            // short pauses between phrases).
            if t >= b + 0.4 && t <= b + 3.0 && *mi > -44.0 {
                assert!(
                    m >= voice - 6.0,
                    "{t:.1} s after the pause: {m:.1} LUFS, the voice at {voice:.1} before it"
                );
            }
        }
    }
}

#[test]
fn a_loud_advert_after_quiet_speech_is_not_dug_under_the_target() {
    // Quiet speech lifted by 24 dB, a moment of silence, then a dense advert 37 LU louder.
    // Three things dug its first half second under the target:
    // * the onset gain was capped at `max_cut_db` on its own, so with the speech's boost
    //   still in force the advert went in 13 dB hot, and the loudness ceiling cut it too;
    // * the ceiling's and the compressor's levels still held those hot milliseconds when
    //   the AGC's gain had taken the cut over, and let go over their release times;
    // * with a heavy compressor the makeup fell to what the curve takes off the speech's
    //   level at the onset's cut (nearly nothing), not off the advert's.
    // Before: 3.7 LU under the target with the default parameters, 10 LU with a compressor
    // at −60 dBFS 20:1.
    for (name, p, bound) in [
        ("default", ChainParams::default(), 3.0),
        ("compressor −60 dBFS 20:1", heavy_compressor_params(), 4.5),
    ] {
        let mut x = speech_at(15.0, 680, -40.0);
        x.extend(silence(0.1));
        let mut advert = dense_music_like(5.0, 681);
        normalise(&mut advert, -3.0);
        x.extend(advert);
        let out = run_aligned(&p, &x);
        // Readings whose 400 ms window lies in the advert's first two seconds.
        let first: Vec<f64> = momentary_series(&out)
            .into_iter()
            .filter(|&(t, _)| (15.5..17.1).contains(&t))
            .map(|(_, m)| m)
            .collect();
        let low = first.iter().copied().fold(f64::INFINITY, f64::min);
        // Nor is it let through louder: a cut lets nothing go that the loudness ceiling
        // holds (readings from the onset on).
        let high = max_momentary_between(&out, 15.1, 17.1);
        let advert_out = integrated_between(&out, 16.1, 20.1);
        eprintln!("{name}: advert {advert_out:.1} LUFS, its first seconds {low:.1} … {high:.1}");
        assert!(
            low >= TARGET - bound,
            "{name}: the advert's first seconds down to {low:.1} LUFS"
        );
        let limit = TARGET + f64::from(p.agc.max_momentary_lu) + 0.5;
        assert!(
            high <= limit,
            "{name}: the advert's first seconds up to {high:.1} LUFS"
        );
        assert!(
            (advert_out - TARGET).abs() <= 1.5,
            "{name}: advert at {advert_out:.1} LUFS"
        );
    }
}

#[test]
fn a_slam_after_quiet_speech_does_not_leave_the_voice_after_it_far_down() {
    // Quiet speech lifted by 24 dB, a 60 ms slam 37 LU louder, 0.4 s of silence, the voice
    // again. The slam engaged the onset gain and, still in the onset's energy average when
    // the onset was confirmed 150 ms on, became the programme estimate: the voice after it
    // came out 30–37 LU under itself for half a second and climbed back over another.
    for (name, p) in [
        ("default", ChainParams::default()),
        ("compressor −60 dBFS 20:1", heavy_compressor_params()),
    ] {
        let mut x = speech_at(15.0, 700, -40.0);
        let mut loud = dense_music_like(1.0, 701);
        normalise(&mut loud, -3.0);
        x.extend_from_slice(&loud[..(0.06 * RATE as f64) as usize * CH]);
        x.extend(silence(0.4));
        x.extend(speech_at(6.0, 702, -40.0));
        let out = run_aligned(&p, &x);
        let voice = integrated_between(&out, 5.0, 15.0);
        let resumed = 15.46;
        let m_in = momentary_series(&x);
        let mut worst = f64::INFINITY;
        for ((t, m), (_, mi)) in momentary_series(&out).into_iter().zip(&m_in) {
            // Readings of the voice after the slam (their window past the silence).
            if t >= resumed + 0.4 && t <= resumed + 2.0 && *mi > -44.0 {
                worst = worst.min(m);
            }
        }
        eprintln!("{name}: voice {voice:.1} LUFS before the slam, down to {worst:.1} after it");
        assert!(worst.is_finite());
        assert!(
            worst >= voice - 6.0,
            "{name}: the voice after the slam down to {worst:.1} LUFS, {voice:.1} before it"
        );
    }
}

#[test]
fn a_shouted_word_does_not_leave_the_dialogue_after_it_low() {
    // Quiet dialogue lifted by 24 dB, one word 20 LU louder that lasts half a second, a
    // 0.2 s pause, the dialogue again. The word takes the programme estimate over (as a
    // confirmed onset, or through the readings while the loudness ceiling holds it); the
    // dialogue after it waited for 0.3–0.6 s of its own sound before the AGC resumed or
    // adopted it, and came out 10–15 LU under itself meanwhile; and the makeup behind the
    // compressor, dropped at the onset and learnt anew, came back over seconds.
    let mut firm = ChainParams::default();
    firm.compressor.threshold_db = -20.0;
    firm.compressor.ratio = 4.0;
    let mut failed = Vec::new();
    for (name, p) in [
        ("default", ChainParams::default()),
        ("compressor −20 dBFS 4:1", firm),
    ] {
        let mut x = speech_at(15.0, 710, -40.0);
        let mut word = dense_music_like(1.0, 711);
        normalise(&mut word, -20.0);
        x.extend_from_slice(&word[..(0.5 * RATE as f64) as usize * CH]);
        x.extend(silence(0.2));
        x.extend(speech_at(8.0, 712, -40.0));
        let out = run_aligned(&p, &x);
        let voice = integrated_between(&out, 5.0, 15.0);
        let back = 15.7;
        let first = integrated_between(&out, back, back + 1.5);
        let after = integrated_between(&out, back + 1.5, back + 4.0);
        // What the chain adds to the dialogue (output less input momentary loudness): its
        // median before the word, its least from the first reading whose window lies past
        // the pause on.
        let lift = momentary_lift(&x, &out);
        let usual = median(values_in(&lift, 5.0..15.0));
        let least = values_in(&lift, back + 0.4..=back + 2.0).fold(f64::INFINITY, f64::min);
        eprintln!(
            "{name}: voice {voice:.1} LUFS before the word, lifted {usual:.1} dB; after it \
             {first:.1} over the first 1.5 s (lifted down to {least:.1} dB), {after:.1} over \
             the next 2.5 s"
        );
        // (The least lift, in the reading whose window starts at the end of the pause,
        // was 5.6 dB under the usual one; 6.1 since the compressor lets a level that lasts
        // less than a step go to the limiter — the word's first milliseconds.)
        if first < voice - 1.0 || least < usual - 6.5 || (after - voice).abs() > 1.0 {
            failed.push(name);
        }
    }
    assert!(
        failed.is_empty(),
        "the dialogue after the word off its level: {failed:?}"
    );
}

#[test]
fn a_chime_over_dialogue_does_not_leave_the_rest_of_the_sentence_down() {
    // Quiet dialogue lifted by 24 dB and a notification's 0.3 s chime, about 30 LU louder,
    // over it (a flat tone and a struck, decaying one). The chime became the programme (a
    // confirmed onset) and the dialogue going on after it came out 20–25 dB down until a
    // pause of silence let the AGC resume it: the rest of the sentence inaudible.
    let mut night = ChainParams::default();
    night.agc.target_lufs = -20.0;
    night.limiter.ceiling_dbtp = -3.0;
    let rate = RATE as f64;
    let chime = |struck: bool| -> Vec<f32> {
        let n = (0.3 * rate) as usize;
        (0..n)
            .flat_map(|i| {
                let t = i as f64 / rate;
                let (f, env) = if struck {
                    (1318.5, (t / 0.002).min(1.0) * (-t / 0.08).exp())
                } else {
                    (1000.0, (t / 0.005).min((0.3 - t) / 0.005).clamp(0.0, 1.0))
                };
                let v = (0.5 * env * (2.0 * std::f64::consts::PI * f * t).sin()) as f32;
                [v, v]
            })
            .collect()
    };
    let mut failed = Vec::new();
    for (name, p) in [("default", ChainParams::default()), ("night-like", night)] {
        for struck in [false, true] {
            let mut x = speech_at(24.0, 720, -40.0);
            let at = 15.0;
            let from = (at * rate) as usize * CH;
            for (v, c) in x[from..].iter_mut().zip(chime(struck)) {
                *v += c;
            }
            let out = run_aligned(&p, &x);
            // What the chain adds to the dialogue (output less input momentary loudness):
            // its median before the chime, its least in the readings whose window lies
            // 0.3 s or more past the chime's end, while the voice talks on.
            let lift = momentary_lift(&x, &out);
            let usual = median(values_in(&lift, 5.0..at));
            let after: Vec<f64> = values_in(&lift, at + 0.3 + 0.3 + 0.4..=at + 2.0).collect();
            let least = after.iter().copied().fold(f64::INFINITY, f64::min);
            eprintln!(
                "{name}, {} chime: dialogue lifted {usual:.1} dB before it, down to \
                 {least:.1} dB after it ({} readings)",
                if struck { "struck" } else { "flat" },
                after.len()
            );
            // The voice talks on after the chime (else this tests nothing).
            assert!(after.len() >= 5, "{name}: no dialogue after the chime");
            // (27–33 dB under the usual lift before; 2.2–3.0 since.)
            if least < usual - 4.0 {
                failed.push((name, struck, usual, least));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "the dialogue after the chime left down: {failed:?}"
    );
}

/// 12 s of a voice at −24 LUFS, `laugh_s` of laughter at `laugh_lufs`, 0.3 s of silence and
/// 6 s of the voice again (seeds from `seed`), through the default chain: what the chain
/// adds to the programme between two times (output less input loudness, dB), and when the
/// voice comes back, s.
fn voice_laughter_voice(
    seed: u64,
    laugh_s: f64,
    laugh_lufs: f64,
) -> (impl Fn(f64, f64) -> f64, f64) {
    let mut x = speech_at(12.0, seed, -24.0);
    let mut laugh = laughter_like(laugh_s, seed + 1);
    normalise(&mut laugh, laugh_lufs);
    x.extend(laugh);
    x.extend(silence(0.3));
    let back = (x.len() / CH) as f64 / RATE as f64;
    x.extend(speech_at(6.0, seed + 2, -24.0));
    let out = run_aligned(&ChainParams::default(), &x);
    let lift = move |a: f64, b: f64| integrated_between(&out, a, b) - integrated_between(&x, a, b);
    (lift, back)
}

#[test]
fn the_voice_after_laughter_comes_back_on_its_level() {
    // A voice lifted by 8 dB, two seconds of laughter 11 LU over it, 0.3 s of silence, the
    // voice again. The voice's loudest syllables reached into the relative gate of the
    // laughter's level, so it was not resumed but adopted from its first syllables.
    let (lift, back) = voice_laughter_voice(730, 2.0, -13.0);
    // What the chain adds to the voice before the laughter, over the first second after it
    // and over the next two.
    let (before, first, next) = (
        lift(2.0, 12.0),
        lift(back, back + 1.0),
        lift(back + 1.0, back + 3.0),
    );
    eprintln!(
        "the voice lifted {before:.1} dB before the laughter; after it {first:.1} over the \
         first second, {next:.1} over the next two"
    );
    // (Before: 9.5 dB under the usual lift over the first second, 1.6 over the next two.)
    assert!(
        first >= before - 2.0 && next >= before - 1.0,
        "the voice after the laughter lifted {first:.1} / {next:.1} dB, {before:.1} before it"
    );
}

#[test]
fn the_voice_resumed_after_a_burst_of_laughter_is_back_on_its_level_at_once() {
    // A voice, a second of laughter 12 LU over it, 0.3 s of silence, the voice again. The
    // laughter (speech-like itself) raised the 2 s window's estimate 9 LU, less than the
    // relative gate, so it was remembered in the voice's place and the voice after it was
    // adopted anew: 6.8 dB under its usual lift over its first second, 7 over the first half.
    // The memory is now kept through such a burst and the voice resumed from the smaller
    // rise, and the gain goes back to it with a 40 ms time constant, not the ordinary 150 ms.
    let (lift, back) = voice_laughter_voice(750, 1.0, -12.0);
    let (before, half, second) = (
        lift(2.0, 12.0),
        lift(back, back + 0.5),
        lift(back, back + 1.0),
    );
    eprintln!(
        "the voice lifted {before:.1} dB before the laughter; after it {half:.1} over the \
         first half second, {second:.1} over the first second"
    );
    assert!(
        half >= before - 4.0 && second >= before - 1.5 && second <= before + 2.0,
        "the voice after the laughter lifted {half:.1} / {second:.1} dB, {before:.1} before it"
    );
}

#[test]
fn an_explosion_after_a_whisper_does_not_leave_a_hole_behind_it() {
    // A whisper at −42 LUFS, lifted 26 dB, and an explosion: rumbling noise (pink noise
    // through two 150 Hz one-pole low-passes) with a 5 ms attack and a 0.4 s decay, peaking
    // at −0.2 dBFS, over the whisper. The AGC's fast level read the rumble through the
    // whisper's K-weighting correction (+6 LU; the rumble's own is −4): the estimate the
    // confirmed onset set was 10 LU over the explosion, which came out 6–7 dB under its own
    // level, 14 LU under the whisper before it, for as long as it lasted.
    let mut x = speech_at(12.0, 770, -42.0);
    let at = (x.len() / CH) as f64 / RATE as f64 - 4.0;
    let mut boom = pink_noise(2.0, 771);
    let a = (-2.0 * std::f64::consts::PI * 150.0 / RATE as f64).exp();
    let mut st = [[0.0f64; 2]; 2];
    for (i, f) in boom.chunks_exact_mut(CH).enumerate() {
        let t = i as f64 / RATE as f64;
        let env = (t / 0.005).min(1.0) * (-t / 0.4).exp();
        for (c, v) in f.iter_mut().enumerate() {
            st[c][0] = a * st[c][0] + (1.0 - a) * f64::from(*v);
            st[c][1] = a * st[c][1] + (1.0 - a) * st[c][0];
            *v = (st[c][1] * env) as f32;
        }
    }
    let peak = boom.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    gain(&mut boom, -0.2 - 20.0 * f64::from(peak).log10());
    let start = (at * RATE as f64) as usize * CH;
    for (o, b) in x[start..].iter_mut().zip(&boom) {
        *o += b;
    }
    let p = ChainParams::default();
    let out = run_aligned(&p, &x);
    let target = f64::from(p.agc.target_lufs);
    let (bed, body_in, body, most) = (
        integrated_between(&out, at - 1.5, at),
        integrated_between(&x, at + 0.2, at + 1.0),
        integrated_between(&out, at + 0.2, at + 1.0),
        max_momentary_between(&out, at, at + 2.0),
    );
    eprintln!(
        "whisper before {bed:.1} LUFS; the explosion's body {body_in:.1} in, {body:.1} out; \
         largest momentary {most:.1}"
    );
    // Its body is no louder than the target: what cut there is comes from its attack.
    // (Before: 6.4 dB under its input, 14 LU under the whisper.)
    assert!(
        body >= body_in - 3.0 && most <= target + f64::from(p.agc.max_momentary_lu) + 0.5,
        "the explosion's body came out at {body:.1} LUFS (largest momentary {most:.1}), \
         the whisper before it at {bed:.1}"
    );
}

#[test]
fn typing_in_a_calls_silence_is_not_lifted_as_the_next_programme() {
    // A quiet voice (−34 LUFS, lifted 18 dB), a second of digital silence, then 12 s of
    // typing: 8 ms clicks every 130–310 ms, its momentary loudness 2–4 LU over the silence
    // gate (−60). Its clicks' 100 ms readings spread like syllables: it was adopted as the
    // programme after the gap and lifted to the 30 dB limit, 12 dB over the voice's gain.
    let mut x = speech_at(10.0, 780, -34.0);
    x.extend(silence(1.0));
    let from = (x.len() / CH) as f64 / RATE as f64;
    let mut typing = silence(12.0);
    let noise = pink_noise(12.0, 781);
    let mut at = 0usize;
    let mut k = 0u64;
    while at + 400 < typing.len() / CH {
        for i in at..at + 384 {
            let env = (-((i - at) as f64) / 60.0).exp() as f32;
            typing[i * CH] = noise[i * CH] * env;
            typing[i * CH + 1] = noise[i * CH + 1] * env;
        }
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        at += 6240 + (k >> 33) as usize % 8640;
    }
    normalise(&mut typing, -57.5);
    x.extend(typing);
    let out = run_aligned(&ChainParams::default(), &x);
    let lift = |a: f64, b: f64| integrated_between(&out, a, b) - integrated_between(&x, a, b);
    let (voice, typed) = (lift(2.0, 10.0), lift(from + 2.0, from + 12.0));
    eprintln!("the voice lifted {voice:.1} dB, the typing after it {typed:.1}");
    assert!(
        typed <= voice + 2.0,
        "the typing was lifted {typed:.1} dB, the voice {voice:.1}"
    );
}

#[test]
fn a_voice_in_the_surround_channels_is_held_under_the_momentary_limit_as_in_stereo() {
    // A quiet voice with one shouted phrase, as a stereo stream and in the surround channels
    // (Ls, Rs) of a 5.1 one, through a night-like chain (target −20, momentary limit 2.5 LU
    // over it). The AGC's level is a mean over the channels and the loudness weighs the
    // surround channels 1.41: the correction between them (9.3 LU and more here) was capped
    // at 8, so the shouted phrase was predicted 1.3 LU quieter than it came out and passed
    // the limit by that much more than in stereo.
    let mut p = ChainParams::default();
    p.agc.target_lufs = -20.0;
    p.agc.max_momentary_lu = 2.5;
    p.limiter.ceiling_dbtp = -3.0;
    let mut x = speech_at(12.0, 740, -32.0);
    x.extend(speech_at(1.5, 741, -20.0));
    x.extend(speech_at(6.0, 742, -32.0));
    let out2 = run_aligned(&p, &x);
    let frames = x.len() / CH;
    let mut x6 = vec![0.0f32; frames * 6];
    for (f, s) in x6.chunks_exact_mut(6).zip(x.chunks_exact(CH)) {
        f[4] = s[0];
        f[5] = s[1];
    }
    let mut chain = headroom_core::Chain::new(RATE, 6, 1024, &p);
    let lat = chain.latency_frames();
    x6.extend(std::iter::repeat_n(0.0, lat * 6));
    for b in x6.chunks_mut(1024 * 6) {
        assert_no_alloc::assert_no_alloc(|| chain.process(b));
    }
    // The surround pair as the stereo pair again: what the 5.1 loudness of the output is,
    // less the surround channels' weight (1.5 dB).
    let out6: Vec<f32> = x6[lat * 6..]
        .chunks_exact(6)
        .flat_map(|f| [f[4], f[5]])
        .collect();
    let weight_db = 10.0 * 1.41f64.log10();
    let limit = f64::from(p.agc.target_lufs + p.agc.max_momentary_lu);
    let m2 = max_momentary_between(&out2, 3.0, 19.0);
    let m6 = max_momentary_between(&out6, 3.0, 19.0) + weight_db;
    eprintln!("largest momentary: stereo {m2:.1} LUFS, 5.1 surround {m6:.1} (limit {limit:.1})");
    assert!(
        m6 <= m2 + 0.4,
        "the voice in the surround channels {m6:.1} LUFS at most, in stereo {m2:.1}"
    );
}

#[test]
fn a_rumble_in_the_lfe_channel_is_no_loud_onset_for_the_agc() {
    // 5.1: a quiet voice in the centre channel, and for two seconds a 40 Hz rumble in the LFE
    // channel alone, which BS.1770 leaves out of the loudness. Counted in the AGC's own
    // level, the rumble (−10.5 dBFS) read as a loud onset: the AGC cut the voice with it by
    // 20 dB. (What the
    // limiter takes to keep the rumble itself under the ceiling is another matter.)
    let p = ChainParams::default();
    let voice = speech_at(16.0, 750, -32.0);
    let frames = voice.len() / CH;
    let mut x6 = vec![0.0f32; frames * 6];
    let (from, to) = (8 * RATE as usize, 10 * RATE as usize);
    for (i, (f, s)) in x6
        .chunks_exact_mut(6)
        .zip(voice.chunks_exact(CH))
        .enumerate()
    {
        f[2] = s[0];
        if (from..to).contains(&i) {
            let t = (i - from) as f64 / RATE as f64;
            let edge = (t / 0.05).min((2.0 - t) / 0.05).clamp(0.0, 1.0);
            f[3] = (0.3 * edge * (2.0 * std::f64::consts::PI * 40.0 * t).sin()) as f32;
        }
    }
    let mut chain = headroom_core::Chain::new(RATE, 6, 480, &p);
    let mut gains = Vec::new();
    for (k, b) in x6.chunks_mut(480 * 6).enumerate() {
        assert_no_alloc::assert_no_alloc(|| chain.process(b));
        gains.push(((k + 1) as f64 / 100.0, f64::from(chain.agc().gain_db())));
    }
    let within = |a: f64, b: f64| gains.iter().filter(move |(t, _)| (a..b).contains(t));
    let before = within(3.0, 8.0).map(|&(_, g)| g).sum::<f64>() / within(3.0, 8.0).count() as f64;
    let least = within(8.0, 10.5).fold(f64::INFINITY, |m, &(_, g)| m.min(g));
    eprintln!("the AGC's gain {before:.1} dB before the rumble, down to {least:.1} dB with it");
    assert!(
        least >= before - 2.0,
        "the AGC's gain down to {least:.1} dB with the rumble, {before:.1} before it"
    );
}

#[test]
fn a_lowered_target_is_reached_without_a_hole() {
    // Music levelled to −16, then the target set to −30 (a user turning it down, or a
    // quieter profile). The loudness ceiling glided to the new limit as fast as the AGC's
    // gain, found the louder 400 ms before the change over it and cut up to 24 dB on top of
    // the AGC's fall: the momentary loudness fell to −42 for half a second, 12 LU under the
    // new target.
    let x = music_at(16.0, 760, -20.0);
    let mut chain = headroom_core::Chain::new(RATE, CH, 1024, &ChainParams::default());
    let half = 10 * RATE as usize * CH;
    let mut y = run(&mut chain, &x[..half], 480);
    let mut p = ChainParams::default();
    p.agc.target_lufs = -30.0;
    assert_no_alloc::assert_no_alloc(|| chain.set_params(&p));
    y.extend(run(&mut chain, &x[half..], 480));
    // The output's momentary loudness less the input's (the music moves by itself), from
    // the change on: how far under the new gain it falls on the way.
    let lift = momentary_lift(&x, &y);
    let settled = median(values_in(&lift, 13.0..16.0));
    let least = values_in(&lift, 10.0..13.0).fold(f64::INFINITY, f64::min);
    eprintln!("lift {settled:.1} dB once settled, down to {least:.1} dB on the way");
    assert!(
        least >= settled - 2.0,
        "the lowered target: lifted {least:.1} dB on the way, {settled:.1} once there"
    );
}

#[test]
fn loud_music_after_speech_gets_no_credit_for_the_speechs_limiter_loss() {
    // The loud night again, with loud music after quiet speech. The limiter took 3–4 dB off
    // the speech, and the loudness ceiling held the level going into it that much higher;
    // the music loses less in the limiter, and came out 2.1 LU over the 1 LU limit until
    // the output meter showed it. At a loud onset that credit starts again from 0.
    let p = loud_night_params();
    let mut x = speech_at(20.0, 670, -45.0);
    x.extend(music_at(10.0, 671, -8.0));
    let out = run_aligned(&p, &x);
    let max_m = max_momentary_between(&out, 20.0, f64::INFINITY);
    eprintln!("loud night, advert: max momentary {max_m:.2} LUFS");
    assert!(max_m <= -30.0 + 1.0 + 1.5, "momentary up to {max_m} LUFS");
    let advert = integrated_between(&out, 22.0, 30.0);
    assert!((advert + 30.0).abs() <= 1.5, "advert at {advert} LUFS");
}

#[test]
fn a_loudness_ceiling_close_to_the_limiter_holds_what_comes_out_and_lands_on_the_target() {
    // A user's "loud night": target −30 LUFS, the limiter's ceiling only 10 dB over it, the
    // loudness ceiling 1 LU over the target and a compressor at −60 dBFS 20:1. The limiter
    // takes 2–4 dB off such speech. The loudness ceiling holds the loudness that comes out
    // of the limiter, not what goes into it (which left the speech 3–4 LU under the target),
    // and the limiter's ceiling bounds what a heavy compressor's attack lets through, so the
    // ceiling does not cut each word's start by 20 dB.
    let p = loud_night_params();
    let mut x = speech_at(20.0, 640, -45.0);
    x.extend(speech_at(20.0, 641, -15.0));
    let out = run_aligned(&p, &x);
    for (a, b) in [(6.0, 20.0), (26.0, 40.0)] {
        let l = integrated_between(&out, a, b);
        eprintln!("loud night: {a}-{b} s {l:.2} LUFS");
        assert!((l + 30.0).abs() <= 1.5, "{a}-{b} s at {l} LUFS");
    }
    let max_m = max_momentary_between(&out, 6.0, f64::INFINITY);
    eprintln!("loud night: max momentary {max_m:.2} LUFS");
    assert!(max_m <= -30.0 + 1.0 + 1.5, "momentary up to {max_m} LUFS");
    let tp = Oversampler16::new().true_peak_db(&out, -20.0, Some(6.0));
    assert!(tp <= -20.0, "true peak {tp} dBTP over the ceiling");
}

#[test]
fn a_loud_voices_room_noise_at_a_quiet_voices_level_is_not_that_voice_resuming() {
    // A quiet voice (−45 LUFS) is remembered while a loud one (−20) talks; the loud voice's
    // room noise, 28 LU under it, lies at the quiet voice's level. In its pauses the noise
    // must be held as a pause, not taken for the quiet voice coming back (which lifted it
    // 25 dB, to a few LU under the target), at every programme window.
    for window in [0.4, 1.5, 2.0] {
        let mut p = ChainParams::default();
        p.agc.window_s = window;
        let mut x = speech_at(10.0, 660, -45.0);
        x.extend(speech_at(5.0, 661, -20.0));
        let mut noise = pink_noise(2.0, 662);
        normalise(&mut noise, -48.0);
        x.extend(noise);
        let out = run_aligned(&p, &x);
        let noise_out = integrated_between(&out, 15.5, 17.0);
        eprintln!("window {window}: the loud voice's room noise comes out at {noise_out:.1} LUFS");
        assert!(
            noise_out <= TARGET - 20.0,
            "window {window}: noise lifted to {noise_out:.1} LUFS"
        );
    }
}

#[test]
fn a_low_target_cuts_loud_speech_by_max_cut_at_most_and_lifts_the_quiet_voice_after_it() {
    // target −40 LUFS with 20 dB of cut: a −18 LUFS speaker needs 22 dB, more than allowed.
    // The onset gain must not hold it further down (the AGC's whole cut stays within
    // max_cut_db) nor stay engaged, which would freeze the programme estimate and leave the
    // quiet voice after it 20 dB under the target.
    let mut p = ChainParams::default();
    p.agc.target_lufs = -40.0;
    p.agc.max_cut_db = 20.0;
    let mut x = speech_at(10.0, 630, -40.0);
    x.extend(speech_at(10.0, 631, -18.0));
    x.extend(speech_at(10.0, 632, -40.0));
    let out = run_aligned(&p, &x);
    let loud = integrated_between(&out, 13.0, 20.0);
    let quiet = integrated_between(&out, 23.0, 30.0);
    eprintln!("target −40: loud voice {loud:.2} LUFS, quiet voice after it {quiet:.2} LUFS");
    assert!(loud >= -18.0 - 20.0 - 0.5, "loud voice cut to {loud} LUFS");
    assert!((quiet + 40.0).abs() <= 1.5, "quiet voice at {quiet} LUFS");
}

#[test]
fn noise_on_its_own_is_not_pumped_up_however_it_starts() {
    // Pink noise at −48.5 LUFS, 12 s: from the first sample, after 21 ms of silence (an
    // encoder's priming), after 2 s of silence, and after a tone at the target and a 2 s gap.
    let p = ChainParams::default();
    let mut noise = pink_noise(12.0, 77);
    normalise(&mut noise, -48.5);
    let tone = {
        let mut t = sine(440.0, 0.1, 5.0);
        normalise(&mut t, -16.0);
        t
    };
    let cases: [(&str, Vec<f32>); 4] = [
        ("from the first sample", Vec::new()),
        ("after 21 ms of silence", silence(0.021)),
        ("after 2 s of silence", silence(2.0)),
        ("after a tone and a 2 s gap", [tone, silence(2.0)].concat()),
    ];
    for (what, lead) in cases {
        let start = lead.len() as f64 / (RATE as f64 * CH as f64);
        let x = [lead, noise.clone()].concat();
        let out = run_aligned(&p, &x);
        let end = x.len() as f64 / (RATE as f64 * CH as f64);
        let got = integrated_between(&out, start + 1.0, end);
        eprintln!("noise {what}: -48.5 → {got:.2} LUFS");
        assert!(
            got <= -48.5 + agc::STEADY_MAX_BOOST_DB + 0.5,
            "noise {what} lifted to {got:.2} LUFS"
        );
        // The most it may reach at any moment.
        let m = max_momentary_between(&out, start + 0.4 + 1e-9, f64::INFINITY);
        assert!(
            m <= -48.5 + agc::STEADY_MAX_BOOST_DB + 1.5,
            "noise {what}: momentary {m:.2}"
        );
    }
}

#[test]
fn steady_noise_a_little_under_the_speech_before_it_is_not_lifted_onto_the_target() {
    // Speech at −30 LUFS, then 15 s of steady pink noise 6–10 LU under it (rain, an
    // ambience): within the relative gate, each reading of the noise entered the programme
    // estimate as the programme going on more quietly, and the noise came out at the target
    // (lifted 20–24 dB, the speech's gain and more) in every profile with a short window;
    // 12 LU under the speech it was held and then capped as stationary sound (+6.6 dB). Now
    // the same at every level: never more than the stationary cap over its own level, at the
    // shipped profiles' windows. (A compressor far under the programme levels the noise by
    // itself, and a 0.4 s window is filled by the readings that still hold the speech before
    // the noise shows as steady: PLAN.md, Known gaps.)
    for window in [2.0, 1.5, 15.0] {
        let mut p = ChainParams::default();
        p.agc.window_s = window;
        let target = f64::from(p.agc.target_lufs);
        for under in [6.0, 8.0, 10.0, 12.0] {
            let mut x = speech_at(8.0, 730, -30.0);
            let mut noise = pink_noise(15.0, 731);
            normalise(&mut noise, -30.0 - under);
            x.extend(noise);
            let out = run_aligned(&p, &x);
            // From 5 s into the noise (a long window holds it at the speech's gain for half
            // the window less a second before it is adopted).
            let from = 8.0 + 5.0f64.max(agc::long_window_adopt_s(f64::from(window)) + 1.0);
            let lifted = integrated_between(&out, from, 23.0) - (-30.0 - under);
            eprintln!("window {window} s: noise {under} LU under the speech lifted {lifted:.1} dB");
            assert!(
                lifted <= agc::STEADY_MAX_BOOST_DB + 1.0 && lifted < target + 30.0 + under,
                "window {window} s: noise {under} LU under the speech lifted {lifted:.1} dB \
                 (target {target})"
            );
        }
    }
}

#[test]
fn noise_after_speech_is_levelled_alike_wherever_the_meters_grid_falls() {
    // Speech at −30 LUFS, then 15 s of steady pink noise 12 or 20 LU under it. The speech's
    // own room noise (heard in its pauses) is held at the speech's gain however long it
    // lasts; new sound after clean pauses is adopted as stationary sound, at most
    // STEADY_MAX_BOOST_DB over its level. Neither may depend on where the meters' 100 ms grid
    // falls. Before, the quiet sub-blocks right after the speech, still inside the momentary
    // readings that held it, were taken for its pauses in 3 start phases of 10 (the noise
    // came out 8 dB louder there); and room noise less than 15 LU under the speech was not
    // recognised as its floor: 4 s into a pause it was adopted as a new programme, capped
    // 8 dB down (pink) or lifted onto the target (noise that is not stationary).
    let p = ChainParams::default();
    for (room, under) in [(false, 20.0), (true, 20.0), (true, 12.0)] {
        let mut base = speech_at(8.0, 9, -30.0);
        let mut noise = pink_noise(23.0, 10);
        normalise(&mut noise, -30.0 - under);
        if room {
            for (a, b) in base.iter_mut().zip(&noise) {
                *a += *b;
            }
        }
        let speech_len = base.len();
        base.extend_from_slice(&noise[speech_len..]);
        let mut lifts = Vec::new();
        for k in 0..10 {
            let t0 = 0.01 * k as f64;
            let mut x = silence(t0);
            x.extend_from_slice(&base);
            let out = run_aligned(&p, &x);
            let speech_gain = integrated_between(&out, t0 + 2.0, t0 + 8.0)
                - integrated_between(&x, t0 + 2.0, t0 + 8.0);
            let lifted = integrated_between(&out, t0 + 13.0, t0 + 23.0) + 30.0 + under;
            eprintln!(
                "room {room}, {under} LU under, start {t0:.2} s: speech {speech_gain:+.1} dB, \
                 noise {lifted:+.1} dB"
            );
            if room {
                // Held where it was under the speech (which the compressor takes 1–2 dB
                // more from than the noise in its pauses), not capped as stationary sound.
                assert!(
                    lifted > agc::STEADY_MAX_BOOST_DB + 3.0 && lifted <= speech_gain + 3.0,
                    "room noise after the speech at {lifted:.1} dB, the speech at {speech_gain:.1}"
                );
            } else {
                assert!(
                    lifted <= agc::STEADY_MAX_BOOST_DB + 1.0,
                    "noise lifted {lifted:.1} dB"
                );
            }
            lifts.push(lifted);
        }
        let lo = lifts.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = lifts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            hi - lo <= 1.0,
            "room {room}: the noise's gain spans {lo:.1} … {hi:.1} dB"
        );
    }
}

#[test]
fn a_dc_offset_is_not_lifted_with_a_quiet_voice() {
    // A quiet voice (−35 LUFS) recorded with an offset of 0.01 (a cheap microphone): the
    // AGC lifts the voice ≈ 19 dB and lifted the offset with it (0.095 out); with an offset
    // of 0.05, 0.44 came out and the limiter held the shifted peaks: the voice 1.5 LU under
    // itself. The offset is taken off in front of the AGC: the voice comes out as without it.
    let p = ChainParams::default();
    let voice = speech_at(20.0, 61, -35.0);
    let clean = run_aligned(&p, &voice);
    let want = integrated_between(&clean, 8.0, 20.0);
    for dc in [0.01f32, 0.05] {
        let x: Vec<f32> = voice.iter().map(|v| v + dc).collect();
        let out = run_aligned(&p, &x);
        let from = 8 * RATE as usize * CH;
        let mean =
            out[from..].iter().map(|&v| f64::from(v)).sum::<f64>() / (out.len() - from) as f64;
        let got = integrated_between(&out, 8.0, 20.0);
        eprintln!("offset {dc}: {mean:.5} out, {got:.2} LUFS (without it {want:.2})");
        assert!(mean.abs() < 1e-3, "offset {dc}: {mean} left in the output");
        assert!(
            (got - want).abs() < 0.3,
            "offset {dc}: {got} LUFS against {want}"
        );
        check_ceiling(&out, "voice with an offset");
    }
    // With the AGC off, the compressor's makeup lifts it as much.
    let mut q = ChainParams::default();
    q.agc.enabled = false;
    q.compressor.makeup_db = 12.0;
    let x: Vec<f32> = voice.iter().map(|v| v + 0.01).collect();
    let out = run_aligned(&q, &x);
    let from = 8 * RATE as usize * CH;
    let mean = out[from..].iter().map(|&v| f64::from(v)).sum::<f64>() / (out.len() - from) as f64;
    assert!(mean.abs() < 1e-3, "makeup 12 dB: {mean} left in the output");
}

#[test]
fn room_noise_at_the_silence_gate_does_not_take_over_a_pause() {
    // A quiet voice (−40 LUFS) over room noise right at the silence gate (−60 LUFS, the
    // default gate), a 12 s pause with the noise alone, then the voice again. The noise's
    // readings fell on both sides of the gate: half a second of them under it was a gap,
    // the window restarted with the noise after it, and the noise became the programme;
    // the first word after the pause came out ≈ 15 LU under the target.
    let p = ChainParams::default();
    let target = f64::from(p.agc.target_lufs);
    for seed in [41u64, 42, 43] {
        let mut voice = speech_at(8.0, seed, -40.0);
        voice.extend(silence(12.0));
        voice.extend(speech_at(6.0, seed + 100, -40.0));
        let mut noise = pink_noise(26.0, seed + 200);
        normalise(&mut noise, f64::from(p.agc.silence_gate_lufs));
        let x: Vec<f32> = voice.iter().zip(&noise).map(|(v, n)| v + n).collect();
        let out = run_aligned(&p, &x);
        let before = integrated_between(&out, 4.0, 8.0);
        let after = integrated_between(&out, 20.0, 21.5);
        let pause = integrated_between(&out, 12.0, 20.0) - integrated_between(&x, 12.0, 20.0);
        eprintln!(
            "seed {seed}: voice before {before:.1} LUFS, first words after {after:.1}, \
             noise in the pause lifted {pause:+.1} dB"
        );
        assert!(
            (before - target).abs() <= 2.0,
            "voice before the pause at {before:.1}"
        );
        assert!(
            (after - target).abs() <= 3.0,
            "the first words after the pause at {after:.1} LUFS (target {target})"
        );
    }
}

#[test]
fn a_music_bed_swelling_in_the_pauses_of_the_voice_over_it_is_not_lifted() {
    // A voice at −24 LUFS over a music bed 16 LU under it, with pauses of 3–3.5 s in which
    // the bed swells by 3 dB within a second (as a score does when the voice stops). The
    // bed's 100 ms loudness spreads as far as syllables do, and it was taken for a new,
    // quieter programme 0.6 s into a pause and lifted 11–14 dB over the voice's gain
    // within half a second. (Sound that is not speech-like and lasts `STEADY_ADOPT_S` is
    // a new programme: a bed left alone longer is risen to at the ordinary rate.)
    let p = ChainParams::default();
    let rate = RATE as f64;
    // Wherever the meters' 100 ms grid falls on the programme (a live stream starts
    // anywhere on it): a bed's slow swell and ebb over two seconds made a dip on some grids.
    for (seed, lead) in [
        (61u64, 0usize),
        (62, 0),
        (63, 0),
        (61, 1200),
        (62, 2400),
        (63, 3600),
    ] {
        let (voice, pauses) = voice_with_pauses(seed, lead, -24.0, &[3.0, 3.5, 3.0]);
        let secs = voice.len() as f64 / (rate * CH as f64);
        let mut bed = music_at(secs, seed + 200, -40.0);
        // The swell: +3 dB over the first second of each pause, held, back at its end.
        for (i, f) in bed.chunks_exact_mut(CH).enumerate() {
            let t = i as f64 / rate;
            let db = pauses
                .iter()
                .find(|&&(a, b)| (a..b).contains(&t))
                .map_or(0.0, |&(a, b)| 3.0 * ((t - a).min(1.0)).min((b - t) / 0.2));
            let g = 10f64.powf(db / 20.0) as f32;
            f.iter_mut().for_each(|v| *v *= g);
        }
        let x: Vec<f32> = voice.iter().zip(&bed).map(|(v, b)| v + b).collect();
        let out = run_aligned(&p, &x);
        let gain = |a: f64, b: f64| integrated_between(&out, a, b) - integrated_between(&x, a, b);
        let (s0, _) = pauses[0];
        let voice_gain = gain(s0 - 4.0, s0);
        for &(a, b) in &pauses {
            // The bed's gain over each half second of the pause (its first quarter second
            // still holds the voice's end) against the voice's before the first pause.
            let mut t = a + 0.25;
            while t + 0.5 <= b - 0.2 {
                let g = gain(t, t + 0.5);
                assert!(
                    g - voice_gain <= 4.0,
                    "seed {seed}: the bed at {t:.2}–{:.2} s lifted {:+.1} dB over the voice's \
                     gain ({voice_gain:+.1} dB)",
                    t + 0.5,
                    g - voice_gain
                );
                t += 0.5;
            }
            // Nor is the voice back over it lifted with it.
            let after = gain(b, b + 1.0);
            assert!(
                after - voice_gain <= 2.0,
                "seed {seed}: the voice after the pause at {b:.1} s lifted {:+.1} dB over its \
                 gain before",
                after - voice_gain
            );
        }
    }
}

#[test]
fn clicks_over_a_quiet_voice_do_not_duck_it() {
    // A voice at −35 LUFS with a 2-sample full-scale click every 0.97 s, as on a worn record
    // or a call with a noisy cable, against the same voice without them. The compressor
    // took each click for a level (11 dB of reduction) and the limiter held it for its
    // whole release: the voice after every click dipped by up to 20 dB for 0.3 s.
    let p = ChainParams::default();
    let voice = speech_at(14.0, 91, -35.0);
    let mut clicks = voice.clone();
    let every = (0.97 * RATE as f64) as usize;
    let mut at = every / 2;
    let mut marks = Vec::new();
    while (at + 2) * CH <= clicks.len() {
        for (k, v) in [0.99f32, -0.99].into_iter().enumerate() {
            for c in 0..CH {
                clicks[(at + k) * CH + c] = v;
            }
        }
        marks.push(at);
        at += every;
    }
    let out = run_aligned(&p, &clicks);
    let clean = run_aligned(&p, &voice);
    // The output's level against the clean render's, per 50 ms, from 3 s on, leaving out
    // the windows with a click in them (the limiter holds the click itself).
    let win = (0.05 * RATE as f64) as usize;
    let mut d = Vec::new();
    for w in (3 * RATE as usize / win)..(out.len() / CH / win) {
        let (a, b) = (w * win, (w + 1) * win);
        if marks.iter().any(|&m| m + 2 >= a && m < b) {
            continue;
        }
        let e = |x: &[f32]| {
            x[a * CH..b * CH]
                .iter()
                .map(|&v| f64::from(v).powi(2))
                .sum::<f64>()
        };
        let (y, z) = (e(&out), e(&clean));
        if z > 1e-6 * (win * CH) as f64 {
            d.push(10.0 * (y / z).log10());
        }
    }
    d.sort_by(f64::total_cmp);
    let median = d[d.len() / 2];
    let p10 = d[d.len() / 10];
    let least = d[0];
    eprintln!("voice with clicks against without: median {median:+.1} dB, 10th percentile {p10:+.1}, least {least:+.1}");
    assert!(
        p10 >= median - 2.0 && least >= median - 6.0,
        "the voice dips after the clicks: 10th percentile {p10:+.1} dB, least {least:+.1} \
         (median {median:+.1})"
    );
}

/// A crowd-like bed: pink noise whose level wanders ±3 dB, to a new level every 0.2–0.5 s
/// (a stadium's murmur, a room full of people), at `lufs`.
fn crowd_at(secs: f64, seed: u64, lufs: f64) -> Vec<f32> {
    let mut x = pink_noise(secs, seed);
    let mut st = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut rnd = move || {
        st = st
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (st >> 11) as f64 / (1u64 << 53) as f64
    };
    let rate = RATE as f64;
    let (mut from, mut to) = (0.0f64, 0.0f64);
    let (mut left, mut len) = (0usize, 1usize);
    for f in x.chunks_exact_mut(CH) {
        if left == 0 {
            from = to;
            to = rnd() * 6.0 - 3.0;
            len = (rate * (0.2 + 0.3 * rnd())) as usize;
            left = len;
        }
        left -= 1;
        let ph = 1.0 - left as f64 / len as f64;
        let db = from + (to - from) * ph;
        let g = 10f64.powf(db / 20.0) as f32;
        f.iter_mut().for_each(|v| *v *= g);
    }
    normalise(&mut x, lufs);
    x
}

#[test]
fn a_crowd_under_a_commentator_is_not_lifted_in_the_pauses() {
    // A voice at −24 LUFS over a crowd 8–12 LU under it, with pauses of 3, 4 and 6 s. The
    // crowd's momentary readings in a pause lie within the relative gate of the voice's
    // estimate and pulled it down onto the crowd within the window: it rose 6–11 dB over the
    // voice's gain (8–12 LU under), and the voice after the pause came out up to 2.5 dB hot.
    let p = ChainParams::default();
    let rate = RATE as f64;
    for under in [8.0, 10.0, 12.0] {
        for seed in [71u64, 72] {
            let (voice, pauses) = voice_with_pauses(seed, 0, -24.0, &[3.0, 4.0, 6.0]);
            let secs = voice.len() as f64 / (rate * CH as f64);
            let bed = crowd_at(secs, seed + 200, -24.0 - under);
            let x: Vec<f32> = voice.iter().zip(&bed).map(|(v, b)| v + b).collect();
            let out = run_aligned(&p, &x);
            let gain =
                |a: f64, b: f64| integrated_between(&out, a, b) - integrated_between(&x, a, b);
            let voice_gain = gain(pauses[0].0 - 4.0, pauses[0].0);
            for &(a, b) in &pauses {
                let mut t = a + 0.25;
                while t + 0.5 <= b - 0.2 {
                    let g = gain(t, t + 0.5) - voice_gain;
                    assert!(
                        g <= 2.5,
                        "{under} LU under, seed {seed}: the crowd at {t:.2}–{:.2} s lifted \
                         {g:+.1} dB over the voice's gain ({voice_gain:+.1} dB)",
                        t + 0.5
                    );
                    t += 0.5;
                }
                let after = gain(b, b + 1.0) - voice_gain;
                assert!(
                    after <= 2.0,
                    "{under} LU under, seed {seed}: the voice after the pause at {b:.1} s \
                     lifted {after:+.1} dB over its gain before"
                );
            }
        }
    }
}

#[test]
fn a_loud_start_after_a_quiet_voice_leaves_no_hole_under_a_low_target() {
    // A quiet voice (−42 LUFS), 100 ms of silence, then steady loud noise (−8.5), with
    // targets a user sets for quiet listening. The noise's first step comes out at the
    // voice's gain (the onset gain comes a step later) and stays in the loudness ceiling's
    // momentary window: counted as over the low limit, it held the ceiling at its deepest
    // cut until it left the window — the noise 22 dB under its own level for 0.3 s with a
    // target of −28. Nothing is cut to pay for what already came out: from 30 ms after the
    // start, no 10 ms of the noise comes out more than 6 dB under where it settles. The
    // momentary loudness stays within 1.5 LU of the profile's limit (−32: 1.1 over in the
    // first 0.4 s — the noise is counted at the voice's K-weighting until its first 100 ms
    // close, PLAN.md Known gaps — where the deepest cut had held it under).
    for target in [-16.0f32, -28.0, -32.0] {
        let mut p = ChainParams::default();
        p.agc.target_lufs = target;
        let mut x = speech_at(15.0, 690, -42.0);
        x.extend(silence(0.1));
        let mut noise = pink_noise(5.0, 691);
        normalise(&mut noise, -8.5);
        x.extend(noise);
        let out = run_aligned(&p, &x);
        let start = 15.1;
        let rms_db = |a: f64, b: f64| {
            let at = |t: f64| (t * RATE as f64) as usize * CH;
            let s = &out[at(a)..at(b)];
            10.0 * (s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len() as f64)
                .max(1e-30)
                .log10()
        };
        let settled = rms_db(start + 2.0, start + 5.0);
        let lowest = (3..100)
            .map(|k| rms_db(start + k as f64 * 0.01, start + (k + 1) as f64 * 0.01))
            .fold(f64::INFINITY, f64::min);
        let max_m = max_momentary_between(&out, start + 0.4, start + 5.0);
        eprintln!(
            "target {target}: noise settles at {settled:.1} dBFS RMS, lowest 10 ms after \
             its start {lowest:.1}; max momentary {max_m:.2} LUFS"
        );
        assert!(
            lowest >= settled - 6.0,
            "target {target}: a hole {:.1} dB under the settled level",
            settled - lowest
        );
        assert!(
            max_m <= f64::from(target) + f64::from(p.agc.max_momentary_lu) + 1.5,
            "target {target}: momentary up to {max_m:.2} LUFS"
        );
    }
}
