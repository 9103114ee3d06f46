//! Shared support for the chain and levelling tests: synthetic programmes, a 16× oversampling
//! true-peak check, an `ebur128` oracle and a chain runner that runs every `process` call
//! under `assert_no_alloc`.
#![allow(dead_code)]

use headroom_core::finepeak::bessel_i0;
use headroom_core::{Chain, ChainParams};

/// Sample rate of every synthesised programme.
pub const RATE: u32 = 48_000;
/// Channels of every synthesised programme.
pub const CH: usize = 2;

/// Deterministic xorshift generator of the programmes (shared with the other crates' tests).
pub use headroom_tests::audio::XorShift as Rng;

/// A two-pole resonator (band-pass) in direct form.
struct Resonator {
    a1: f64,
    a2: f64,
    g: f64,
    y1: f64,
    y2: f64,
}

impl Resonator {
    fn new(freq: f64, q: f64) -> Self {
        let w = 2.0 * std::f64::consts::PI * freq / RATE as f64;
        let r = 1.0 - w / (2.0 * q);
        Self {
            a1: 2.0 * r * w.cos(),
            a2: -r * r,
            g: 1.0 - r,
            y1: 0.0,
            y2: 0.0,
        }
    }
    fn run(&mut self, x: f64) -> f64 {
        let y = self.g * x + self.a1 * self.y1 + self.a2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// Speech-like stereo signal: noise through three formant resonators, amplitude-modulated by
/// syllables (≈ 4–6 per second) grouped into phrases separated by short pauses. Unscaled.
pub fn speech_like(secs: f64, seed: u64) -> Vec<f32> {
    let n = (secs * RATE as f64) as usize;
    let mut rng = Rng::new(seed);
    let mut f1 = Resonator::new(500.0, 4.0);
    let mut f2 = Resonator::new(1500.0, 5.0);
    let mut f3 = Resonator::new(2500.0, 6.0);
    let mut out = Vec::with_capacity(n * CH);
    let mut syl_left = 0usize;
    let mut syl_len = 1usize;
    let mut syl_amp = 0.0;
    let mut phrase_left = (RATE as f64 * 2.0) as usize;
    let mut pause_left = 0usize;
    for _ in 0..n {
        if pause_left > 0 {
            pause_left -= 1;
        } else if phrase_left == 0 {
            pause_left = (RATE as f64 * (0.25 + 0.35 * rng.uniform())) as usize;
            phrase_left = (RATE as f64 * (1.5 + 2.0 * rng.uniform())) as usize;
        } else {
            phrase_left -= 1;
        }
        if syl_left == 0 {
            syl_len = (RATE as f64 * (0.12 + 0.12 * rng.uniform())) as usize;
            syl_left = syl_len;
            syl_amp = 0.4 + 0.6 * rng.uniform();
        }
        syl_left -= 1;
        let ph = 1.0 - syl_left as f64 / syl_len as f64;
        let env = if pause_left > 0 {
            0.0
        } else {
            syl_amp * (std::f64::consts::PI * ph).sin().powi(2)
        };
        let e = rng.bipolar();
        let v = f1.run(e) * 1.0 + f2.run(e) * 0.6 + f3.run(e) * 0.3;
        let s = v * env;
        out.push(s as f32);
        out.push((s * 0.95) as f32);
    }
    out
}

/// Laughter-like stereo signal: noise through two broad resonances, pulsed five times a
/// second ("ha-ha"), 50 ms in and 200 ms out. Unscaled.
pub fn laughter_like(secs: f64, seed: u64) -> Vec<f32> {
    let n = (secs * RATE as f64) as usize;
    let mut rng = Rng::new(seed);
    let mut f1 = Resonator::new(1000.0, 1.0);
    let mut f2 = Resonator::new(2500.0, 1.5);
    let mut out = Vec::with_capacity(n * CH);
    for i in 0..n {
        let t = i as f64 / RATE as f64;
        let pulse = (0.5 + 0.5 * (2.0 * std::f64::consts::PI * 5.0 * t).sin()).powi(2);
        let edge = (t / 0.05).min((secs - t) / 0.2).clamp(0.0, 1.0);
        let e = rng.bipolar();
        let v = (f1.run(e) + 0.5 * f2.run(e)) * pulse * edge;
        out.push(v as f32);
        out.push((v * 0.9) as f32);
    }
    out
}

/// Music-like stereo signal: a chord of sines plus noise and a kick every 500 ms, saturated
/// (tanh) so the crest factor is small, with phrased dynamics: every beat (250 ms) is
/// accented at its own level (±3 dB), as played music is, so that its 100 ms loudness
/// spreads over a few LU (steady sound — tones, noise — does not). Unscaled.
pub fn music_like(secs: f64, seed: u64) -> Vec<f32> {
    let mut x = dense_music_like(secs, seed);
    let mut rng = Rng::new(seed ^ 0x5eed);
    let beat = RATE as usize / 4;
    let mut from = 1.0f64;
    for chunk in x.chunks_mut(beat * CH) {
        let to = 10f64.powf((rng.uniform() * 6.0 - 3.0) / 20.0);
        let n = chunk.len() / CH;
        for (i, f) in chunk.chunks_exact_mut(CH).enumerate() {
            // Glide over the first 20 ms of the beat (no clicks), then hold.
            let t = (i as f64 / (0.02 * RATE as f64)).min(1.0);
            let g = (from + (to - from) * t) as f32;
            f.iter_mut().for_each(|v| *v *= g);
        }
        let _ = n;
        from = to;
    }
    x
}

/// Dense, heavily compressed music-like stereo signal: a chord of sines plus pink-ish noise
/// and a kick every 500 ms, saturated (tanh) so the crest factor is small; its loudness
/// hardly moves. Unscaled.
pub fn dense_music_like(secs: f64, seed: u64) -> Vec<f32> {
    let n = (secs * RATE as f64) as usize;
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n * CH);
    let freqs = [110.0, 164.8, 220.0, 277.2, 329.6, 440.0, 659.3, 1318.5];
    let mut lp_l = 0.0;
    let mut lp_r = 0.0;
    let tau = 2.0 * std::f64::consts::PI / RATE as f64;
    for i in 0..n {
        let t = i as f64;
        let mut tone = 0.0;
        for (k, f) in freqs.iter().enumerate() {
            tone += (tau * f * t + k as f64).sin() / (1.0 + k as f64 * 0.3);
        }
        tone *= 0.25;
        lp_l += 0.2 * (rng.bipolar() - lp_l);
        lp_r += 0.2 * (rng.bipolar() - lp_r);
        let kt = (i % (RATE as usize / 2)) as f64 / RATE as f64;
        let kick = (tau * 60.0 * i as f64).sin() * (-kt * 20.0).exp() * 1.5;
        let l = (0.9 * (tone + 1.5 * lp_l + kick)).tanh();
        let r = (0.9 * (tone * 0.9 + 1.5 * lp_r + kick)).tanh();
        out.push(l as f32);
        out.push(r as f32);
    }
    out
}

/// Stereo 1 kHz (or any) sine at `amp` (linear peak).
pub fn sine(freq: f64, amp: f64, secs: f64) -> Vec<f32> {
    let n = (secs * RATE as f64) as usize;
    let mut out = Vec::with_capacity(n * CH);
    for i in 0..n {
        let x = (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / RATE as f64).sin()) as f32;
        out.push(x);
        out.push(x);
    }
    out
}

/// Stereo pink-ish noise (white noise through a 3-pole approximation of a −3 dB/octave
/// filter, Paul Kellet's), different in both channels. Unscaled.
pub fn pink_noise(secs: f64, seed: u64) -> Vec<f32> {
    let n = (secs * RATE as f64) as usize;
    let mut rng = Rng::new(seed);
    let mut st = [[0.0f64; 3]; 2];
    let mut out = Vec::with_capacity(n * CH);
    for _ in 0..n {
        for b in st.iter_mut() {
            let w = rng.bipolar();
            b[0] = 0.99765 * b[0] + w * 0.0990460;
            b[1] = 0.96300 * b[1] + w * 0.2965164;
            b[2] = 0.57000 * b[2] + w * 1.0526913;
            out.push((b[0] + b[1] + b[2] + w * 0.1848) as f32);
        }
    }
    out
}

/// Stereo brown noise (integrated white noise, leaky below 5 Hz), different in both
/// channels: rumble. Unscaled.
pub fn brown_noise(secs: f64, seed: u64) -> Vec<f32> {
    let n = (secs * RATE as f64) as usize;
    let mut rng = Rng::new(seed);
    let mut st = [0.0f64; 2];
    let leak = 1.0 - 2.0 * std::f64::consts::PI * 5.0 / RATE as f64;
    let mut out = Vec::with_capacity(n * CH);
    for _ in 0..n {
        for b in st.iter_mut() {
            *b = leak * *b + rng.bipolar();
            out.push(*b as f32);
        }
    }
    out
}

/// `x` with its level drifting by ±`depth_db` (a sine over `period_s`): room tone or a
/// rumble that is not perfectly still.
pub fn drifting(mut x: Vec<f32>, depth_db: f64, period_s: f64) -> Vec<f32> {
    for (i, f) in x.chunks_exact_mut(CH).enumerate() {
        let t = i as f64 / RATE as f64;
        let g = 10f64.powf(depth_db * (2.0 * std::f64::consts::PI * t / period_s).sin() / 20.0);
        f.iter_mut().for_each(|v| *v = (*v as f64 * g) as f32);
    }
    x
}

/// Quiet, sparse tonal music: chords of three notes with four partials each, a new chord
/// every 0.5–1.5 s, each beat (250 ms) at its own level (±2 dB), nothing noise-like in it —
/// its 100 ms loudness spreads 1–4 LU, as little as drifting noise's. Unscaled.
pub fn chords_like(secs: f64, seed: u64) -> Vec<f32> {
    let n = (secs * RATE as f64) as usize;
    let mut rng = Rng::new(seed);
    let roots = [196.0, 220.0, 246.9, 261.6, 293.7, 329.6];
    let mut out = Vec::with_capacity(n * CH);
    let (mut root, mut next_chord) = (roots[0], 0usize);
    let (mut from, mut to, mut next_beat) = (1.0f64, 1.0f64, 0usize);
    let beat = RATE as usize / 4;
    for i in 0..n {
        if i >= next_chord {
            root = roots[(rng.uniform() * roots.len() as f64) as usize % roots.len()];
            next_chord = i + ((0.5 + rng.uniform()) * RATE as f64) as usize;
        }
        if i >= next_beat {
            from = to;
            to = 10f64.powf((rng.uniform() * 4.0 - 2.0) / 20.0);
            next_beat = i + beat;
        }
        let glide = (((i + beat - next_beat) as f64) / (0.02 * RATE as f64)).min(1.0);
        let g = from + (to - from) * glide;
        let t = i as f64 / RATE as f64;
        let mut v = 0.0;
        for ratio in [1.0, 1.26, 1.5] {
            for h in 1..=4 {
                let f = root * ratio * h as f64;
                v += (2.0 * std::f64::consts::PI * f * t).sin() / h as f64;
            }
        }
        let v = (0.1 * g * v) as f32;
        out.push(v);
        out.push(v * 0.9);
    }
    out
}

/// Digital silence.
pub fn silence(secs: f64) -> Vec<f32> {
    vec![0.0; (secs * RATE as f64) as usize * CH]
}

/// Scales `x` by `db`.
pub fn gain(x: &mut [f32], db: f64) {
    let g = 10f64.powf(db / 20.0) as f32;
    x.iter_mut().for_each(|v| *v *= g);
}

/// Integrated loudness (ebur128 crate), LUFS.
pub fn integrated(x: &[f32]) -> f64 {
    let mut m = ebur128::EbuR128::new(CH as u32, RATE, ebur128::Mode::I).unwrap();
    m.add_frames_f32(x).unwrap();
    m.loudness_global().unwrap()
}

/// Scales `x` so its integrated loudness is `lufs`.
pub fn normalise(x: &mut [f32], lufs: f64) {
    let l = integrated(x);
    gain(x, lufs - l);
}

/// Short-term loudness (ebur128 crate) every 100 ms: `(time_s, lufs)` where `time_s` is the
/// end of the 3 s window.
pub fn short_term_series(x: &[f32]) -> Vec<(f64, f64)> {
    let mut m = ebur128::EbuR128::new(CH as u32, RATE, ebur128::Mode::S).unwrap();
    let hop = RATE as usize / 10;
    let mut out = Vec::new();
    for (k, chunk) in x.chunks(hop * CH).enumerate() {
        m.add_frames_f32(chunk).unwrap();
        if chunk.len() == hop * CH {
            let t = (k + 1) as f64 * 0.1;
            out.push((t, m.loudness_shortterm().unwrap()));
        }
    }
    out
}

/// Momentary loudness (ebur128 crate) every 100 ms, `(time_s, lufs)`.
pub fn momentary_series(x: &[f32]) -> Vec<(f64, f64)> {
    let mut m = ebur128::EbuR128::new(CH as u32, RATE, ebur128::Mode::M).unwrap();
    let hop = RATE as usize / 10;
    let mut out = Vec::new();
    for (k, chunk) in x.chunks(hop * CH).enumerate() {
        m.add_frames_f32(chunk).unwrap();
        if chunk.len() == hop * CH {
            out.push(((k + 1) as f64 * 0.1, m.loudness_momentary().unwrap()));
        }
    }
    out
}

/// 16× oversampling interpolator: Kaiser-windowed sinc, 64 taps per phase.
pub struct Oversampler16 {
    /// `coef[p][j]` multiplies `x[n − HALF + 1 + j]` for the point at `n + p/16`.
    coef: Vec<[f64; 2 * Self::HALF]>,
}

impl Oversampler16 {
    pub const HALF: usize = 32;
    pub const FACTOR: usize = 16;

    pub fn new() -> Self {
        let beta = 10.0;
        let half = Self::HALF as f64;
        let i0b = bessel_i0(beta);
        let mut coef = Vec::new();
        for p in 0..Self::FACTOR {
            let frac = p as f64 / Self::FACTOR as f64;
            let mut row = [0.0; 2 * Self::HALF];
            for (j, c) in row.iter_mut().enumerate() {
                // Tap j is sample n − HALF + 1 + j; distance from the point n + frac.
                let d = (j as f64 - (half - 1.0)) - frac;
                let sinc = if d.abs() < 1e-12 {
                    1.0
                } else {
                    (std::f64::consts::PI * d).sin() / (std::f64::consts::PI * d)
                };
                let r = d / half;
                let w = if r.abs() >= 1.0 {
                    0.0
                } else {
                    bessel_i0(beta * (1.0 - r * r).sqrt()) / i0b
                };
                *c = sinc * w;
            }
            coef.push(row);
        }
        Self { coef }
    }

    /// Largest |value| over all 16× points of channel `ch` of interleaved `x`. With
    /// `screen_db = Some(d)`, intervals whose two neighbouring samples are both more than `d`
    /// below `limit` are skipped (a speed-up for long programmes); `None` checks every point.
    ///
    /// `x` is taken as the start of a stream: before it there is silence (the chain's output
    /// really starts with its delay line's zeros), but after it the signal goes on. So points
    /// between samples whose interpolation window reaches past the end are not evaluated
    /// (samples are): zero-padding there would invent a hard cut whose Gibbs ringing (up to
    /// ≈ 0.8 dB over the last samples for a sine cut mid-slope) is not in the signal.
    pub fn max_abs(&self, x: &[f32], ch: usize, limit: f64, screen_db: Option<f64>) -> f64 {
        let n = x.len() / CH;
        let h = Self::HALF;
        let mut pad = vec![0.0f64; n + 2 * h];
        for i in 0..n {
            pad[h + i] = x[i * CH + ch] as f64;
        }
        let screen = screen_db.map(|d| limit * 10f64.powf(-d / 20.0));
        let mut peak = 0.0f64;
        for i in 0..n {
            let here = pad[h + i].abs();
            peak = peak.max(here);
            if let Some(sc) = screen {
                if here < sc && pad[h + i + 1].abs() < sc {
                    continue;
                }
            }
            if i + h >= n {
                continue;
            }
            // Taps x[i − HALF + 1 ..= i + HALF] are pad[i + 1 .. i + 1 + 2·HALF].
            let win = &pad[i + 1..i + 1 + 2 * h];
            for row in self.coef.iter().skip(1) {
                let acc: f64 = row.iter().zip(win).map(|(c, v)| c * v).sum();
                peak = peak.max(acc.abs());
            }
        }
        peak
    }

    /// True peak of interleaved stereo `x` in dBTP (16×).
    pub fn true_peak_db(&self, x: &[f32], limit_db: f64, screen_db: Option<f64>) -> f64 {
        let limit = 10f64.powf(limit_db / 20.0);
        let mut p = 0.0f64;
        for c in 0..CH {
            p = p.max(self.max_abs(x, c, limit, screen_db));
        }
        20.0 * p.max(1e-30).log10()
    }
}

/// Runs `x` through `chain` in blocks of `block` frames, every call under `assert_no_alloc`.
pub fn run(chain: &mut Chain, x: &[f32], block: usize) -> Vec<f32> {
    let mut out = x.to_vec();
    for b in out.chunks_mut(block.max(1) * CH) {
        assert_no_alloc::assert_no_alloc(|| chain.process(b));
    }
    out
}

/// Runs `x` through a fresh chain with `params` (blocks of 1024 frames) and returns the
/// output with the latency removed (same length as the input).
pub fn run_aligned(params: &ChainParams, x: &[f32]) -> Vec<f32> {
    let mut chain = Chain::new(RATE, CH, 1024, params);
    let lat = chain.latency_frames();
    let mut padded = x.to_vec();
    padded.extend(std::iter::repeat_n(0.0, lat * CH));
    let out = run(&mut chain, &padded, 1024);
    out[lat * CH..].to_vec()
}

/// Fraction of `(t, st)` short-term values, for `t` in `[from, to)` with the input's own
/// momentary loudness above −60 LUFS (non-silent), that lie within `tol` of `target`.
pub fn fraction_within(
    st: &[(f64, f64)],
    input_m: &[(f64, f64)],
    from: f64,
    to: f64,
    target: f64,
    tol: f64,
) -> (f64, usize) {
    let mut n = 0usize;
    let mut ok = 0usize;
    for (i, &(t, l)) in st.iter().enumerate() {
        if t < from || t >= to {
            continue;
        }
        let active = input_m.get(i).map(|&(_, m)| m > -60.0).unwrap_or(false);
        if !active {
            continue;
        }
        n += 1;
        if (l - target).abs() <= tol {
            ok += 1;
        }
    }
    (if n == 0 { 0.0 } else { ok as f64 / n as f64 }, n)
}

/// What the chain adds to `input`'s momentary loudness (output less input, every 100 ms),
/// where the input reads over −50 LUFS: `(time_s, dB)`.
pub fn momentary_lift(input: &[f32], out: &[f32]) -> Vec<(f64, f64)> {
    momentary_series(out)
        .into_iter()
        .zip(momentary_series(input))
        .filter(|(_, (_, mi))| *mi > -50.0)
        .map(|((t, m), (_, mi))| (t, m - mi))
        .collect()
}

/// The values of `(time_s, value)` pairs whose time lies in `range`.
pub fn values_in<'a>(
    v: &'a [(f64, f64)],
    range: impl std::ops::RangeBounds<f64> + 'a,
) -> impl Iterator<Item = f64> + 'a {
    v.iter()
        .filter(move |(t, _)| range.contains(t))
        .map(|&(_, x)| x)
}

/// The median of `values` (the upper one of an even count; NaN for none).
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The highest momentary loudness (ebur128, every 100 ms) of `x` whose reading time lies in
/// `[a, b]` seconds; −∞ when there is none.
pub fn max_momentary_between(x: &[f32], a: f64, b: f64) -> f64 {
    momentary_series(x)
        .into_iter()
        .filter(|&(t, _)| t >= a && t <= b)
        .map(|(_, m)| m)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Integrated loudness (ebur128) of `x` between `a` and `b` seconds.
pub fn integrated_between(x: &[f32], a: f64, b: f64) -> f64 {
    let at = |t: f64| ((t * RATE as f64) as usize * CH).min(x.len());
    integrated(&x[at(a)..at(b)])
}

/// The chain's gain over `[a, b]` seconds, dB: the integrated loudness of its output `out`
/// there less that of its input `x` (aligned: [`run_aligned`]'s output).
pub fn gain_between(out: &[f32], x: &[f32], a: f64, b: f64) -> f64 {
    integrated_between(out, a, b) - integrated_between(x, a, b)
}

pub fn speech_at(secs: f64, seed: u64, lufs: f64) -> Vec<f32> {
    let mut v = speech_like(secs, seed);
    normalise(&mut v, lufs);
    v
}

pub fn music_at(secs: f64, seed: u64, lufs: f64) -> Vec<f32> {
    let mut v = music_like(secs, seed);
    normalise(&mut v, lufs);
    v
}

/// A voice at `lufs` after `lead` frames of silence: 6 s phrases with silent pauses of the
/// given lengths between them, and a last phrase after the last pause (phrase `k` from seed
/// `seed + 10·k`, the last from `seed + 90`). Returns the signal and the pauses as (start,
/// end) in s.
pub fn voice_with_pauses(
    seed: u64,
    lead: usize,
    lufs: f64,
    pauses: &[f64],
) -> (Vec<f32>, Vec<(f64, f64)>) {
    let rate = RATE as f64;
    let mut voice = vec![0.0f32; lead * CH];
    let mut spans = Vec::new();
    for (k, &pause) in pauses.iter().enumerate() {
        voice.extend(speech_at(6.0, seed + 10 * k as u64, lufs));
        let start = voice.len() as f64 / (rate * CH as f64);
        spans.push((start, start + pause));
        voice.extend(silence(pause));
    }
    voice.extend(speech_at(6.0, seed + 90, lufs));
    (voice, spans)
}

/// A user's "loud night" profile at the edges of its ranges: target −30 LUFS (40 dB of boost,
/// a 0.4 s window), the limiter's ceiling only 10 dB over it (−20 dBTP), the loudness ceiling
/// 1 LU over the target and a compressor at −60 dBFS 20:1 with a hard knee.
pub fn loud_night_params() -> ChainParams {
    let mut p = ChainParams::default();
    p.agc.target_lufs = -30.0;
    p.agc.max_boost_db = 40.0;
    p.agc.window_s = 0.4;
    p.agc.max_momentary_lu = 1.0;
    p.limiter.ceiling_dbtp = -20.0;
    p.compressor.threshold_db = -60.0;
    p.compressor.ratio = 20.0;
    p.compressor.knee_db = 0.0;
    p
}
