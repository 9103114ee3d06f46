//! Assembling programmes: stereo buffers, parts with their segments, levelling a part to an
//! exact loudness (and, where the level asks for it, a compressor and a peak limiter of the
//! kind that masters loud adverts and action scenes), and the machine-readable description
//! written next to each programme WAV.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::material::RATE;
use crate::meter::{Series, SUB_S};

/// Frames per 10 ms: every segment boundary lies on this grid.
pub const GRID: usize = (RATE as usize) / 100;

/// Stereo interleaved audio at [`RATE`].
#[derive(Clone, Default)]
pub struct Audio {
    /// Interleaved L/R samples.
    pub data: Vec<f32>,
}

impl Audio {
    /// From interleaved samples of `channels` channels (mono goes to both sides, channels
    /// beyond two are dropped).
    pub fn from_interleaved(samples: &[f32], channels: usize) -> Audio {
        let data = match channels {
            1 => samples.iter().flat_map(|&s| [s, s]).collect(),
            2 => samples.to_vec(),
            n => samples.chunks_exact(n).flat_map(|f| [f[0], f[1]]).collect(),
        };
        Audio { data }
    }

    /// `secs` of digital silence (rounded to the 10 ms grid).
    pub fn silence(secs: f64) -> Audio {
        Audio {
            data: vec![0.0; 2 * frames_on_grid(secs)],
        }
    }

    /// Length in frames.
    pub fn frames(&self) -> usize {
        self.data.len() / 2
    }

    /// Appends `other`.
    pub fn append(&mut self, other: &Audio) {
        self.data.extend_from_slice(&other.data);
    }

    /// Adds `other × gain` starting at frame `at`, growing the buffer if needed.
    pub fn mix(&mut self, other: &Audio, at: usize, gain: f64) {
        let need = 2 * at + other.data.len();
        if self.data.len() < need {
            self.data.resize(need, 0.0);
        }
        for (d, s) in self.data[2 * at..].iter_mut().zip(&other.data) {
            *d += (*s as f64 * gain) as f32;
        }
    }

    /// Multiplies by `gain` (linear).
    pub fn scale(&mut self, gain: f64) {
        self.data
            .iter_mut()
            .for_each(|s| *s = (*s as f64 * gain) as f32);
    }

    /// Pads with silence (or cuts) to exactly `frames`.
    pub fn set_frames(&mut self, frames: usize) {
        self.data.resize(2 * frames, 0.0);
    }

    /// Pads with silence up to the next 10 ms boundary.
    pub fn pad_to_grid(&mut self) {
        let f = self.frames().div_ceil(GRID) * GRID;
        self.set_frames(f);
    }

    /// Raised-cosine fade in and out over the given lengths.
    pub fn fade(&mut self, in_s: f64, out_s: f64) {
        let n = self.frames();
        let fi = ((in_s * RATE as f64) as usize).min(n);
        let fo = ((out_s * RATE as f64) as usize).min(n);
        for i in 0..fi {
            let g = 0.5 - 0.5 * (std::f64::consts::PI * i as f64 / fi as f64).cos();
            self.data[2 * i] *= g as f32;
            self.data[2 * i + 1] *= g as f32;
        }
        for i in 0..fo {
            let g = 0.5 - 0.5 * (std::f64::consts::PI * i as f64 / fo as f64).cos();
            let k = n - 1 - i;
            self.data[2 * k] *= g as f32;
            self.data[2 * k + 1] *= g as f32;
        }
    }

    /// Exponential decay with time constant `tau_s` after a 5 ms attack (an explosion's
    /// envelope).
    pub fn decay(&mut self, tau_s: f64) {
        let attack = 0.005 * RATE as f64;
        for i in 0..self.frames() {
            let t = i as f64;
            let g = if t < attack {
                t / attack
            } else {
                (-(t - attack) / (tau_s * RATE as f64)).exp()
            };
            self.data[2 * i] *= g as f32;
            self.data[2 * i + 1] *= g as f32;
        }
    }

    /// Integrated loudness (the evaluation's meter), LUFS.
    pub fn loudness(&self) -> f64 {
        let s = Series::new(&self.data, 2, RATE);
        s.integrated(&[(0, s.len())]).unwrap_or(f64::NEG_INFINITY)
    }

    /// Sample peak (linear).
    pub fn peak(&self) -> f32 {
        self.data.iter().fold(0f32, |m, s| m.max(s.abs()))
    }

    /// Median 50 ms RMS over both channels, dBFS (windows below −70 dBFS ignored).
    pub fn rms50_median(&self) -> f64 {
        let w = RATE as usize / 20;
        let mut v: Vec<f64> = self
            .data
            .chunks_exact(2 * w)
            .map(|c| {
                10.0 * (c.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / c.len() as f64)
                    .max(1e-30)
                    .log10()
            })
            .filter(|&d| d > -70.0)
            .collect();
        v.sort_by(f64::total_cmp);
        crate::meter::percentile(&v, 0.5)
    }
}

/// `secs` rounded to whole 10 ms, in frames.
pub fn frames_on_grid(secs: f64) -> usize {
    (secs / SUB_S).round() as usize * GRID
}

/// What a stretch of a programme is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Dialogue, narration, a podcast voice.
    Speech,
    /// Music.
    Music,
    /// Room noise (pauses between sentences, between podcast turns).
    Noise,
    /// Digital silence.
    Silence,
    /// A loud, compressed advert (music and speech).
    Advert,
    /// Loud action: orchestral hits, explosions, effects.
    Action,
}

impl Kind {
    /// Whether the levelling target applies to it (not to noise and silence).
    pub fn programme(self) -> bool {
        !matches!(self, Kind::Noise | Kind::Silence)
    }
}

/// A piece of audio with its segments (kind, first frame, end frame), before it is placed.
#[derive(Clone, Default)]
pub struct Part {
    /// The audio.
    pub audio: Audio,
    /// Segments in frames relative to the part.
    pub segs: Vec<(Kind, usize, usize)>,
}

impl Part {
    /// A part that is one segment of `kind`.
    pub fn single(kind: Kind, mut audio: Audio) -> Part {
        audio.pad_to_grid();
        let n = audio.frames();
        Part {
            audio,
            segs: vec![(kind, 0, n)],
        }
    }

    /// Appends `audio` as a segment of `kind` (merged with the previous one when it has the
    /// same kind).
    pub fn push(&mut self, kind: Kind, mut audio: Audio) {
        audio.pad_to_grid();
        let (a, b) = (self.audio.frames(), self.audio.frames() + audio.frames());
        self.audio.append(&audio);
        match self.segs.last_mut() {
            Some(last) if last.0 == kind && last.2 == a => last.2 = b,
            _ => self.segs.push((kind, a, b)),
        }
    }

    /// Cuts the part at `frames` (a 10 ms boundary) with a 10 ms fade-out; segments end
    /// there.
    pub fn truncate(&mut self, frames: usize) {
        if self.audio.frames() > frames {
            self.audio.set_frames(frames);
            self.audio.fade(0.0, 0.01);
        }
        self.segs.retain(|s| s.1 < frames);
        if let Some(last) = self.segs.last_mut() {
            last.2 = last.2.min(frames);
        }
    }

    /// Integrated loudness of the programme segments (gating blocks wholly inside them, as
    /// the report measures sections).
    pub fn programme_loudness(&self) -> f64 {
        let s = Series::new(&self.audio.data, 2, RATE);
        let ranges: Vec<(usize, usize)> = self
            .segs
            .iter()
            .filter(|g| g.0.programme())
            .map(|&(_, a, b)| (a / GRID, b / GRID))
            .collect();
        s.integrated(&ranges).unwrap_or(f64::NEG_INFINITY)
    }
}

/// How a part is levelled before it is placed.
#[derive(Debug, Clone, Copy)]
pub enum Level {
    /// Scaled to this integrated loudness (of its programme segments). Should the scaled
    /// part peak above −1 dBFS, it is peak-limited instead, with the gain that reaches the
    /// loudness (as a mastering engineer would).
    Lufs(f64),
    /// Compressed, soft-clipped and limited ("broadcast loud") to this integrated loudness.
    Loud(f64),
    /// Compressed, soft-clipped and limited until the median 50 ms RMS is this many dBFS.
    Rms50(f64),
}

impl Level {
    /// How the level reads in the description.
    pub fn describe(self) -> String {
        match self {
            Level::Lufs(l) => format!("{l} LUFS"),
            Level::Loud(l) => format!("{l} LUFS, compressed, clipped and limited"),
            Level::Rms50(d) => {
                format!("50 ms RMS {d} dBFS (median), compressed, clipped and limited")
            }
        }
    }
}

/// Levels `part` as `level` asks; fails when the level cannot be reached.
pub fn level(part: &mut Part, level: Level) -> Result<()> {
    const PEAK_CEILING: f32 = 0.891; // −1 dBFS
    part.audio = match level {
        Level::Lufs(target) => {
            let gain = db_to_lin(target - part.programme_loudness());
            let mut scaled = part.audio.clone();
            scaled.scale(gain);
            if scaled.peak() <= PEAK_CEILING {
                scaled
            } else {
                master(part, false, PEAK_CEILING, target, |p| {
                    p.programme_loudness()
                })?
            }
        }
        Level::Loud(target) => master(part, true, 0.966, target, |p| p.programme_loudness())?,
        Level::Rms50(target) => master(part, true, 0.966, target, |p| p.audio.rms50_median())?,
    };
    Ok(())
}

/// The gain (found by bisection) that, followed by the optional compressor and soft clipper
/// and the peak limiter at `ceiling`, makes `measure` read `target`. Fails when no gain
/// reaches it (without the clipper the limiter keeps the waveform, so a signal's crest factor
/// bounds how loud it can get).
fn master(
    part: &Part,
    compressor: bool,
    ceiling: f32,
    target: f64,
    measure: impl Fn(&Part) -> f64,
) -> Result<Audio> {
    let render = |gain_db: f64| {
        let mut p = part.clone();
        p.audio.scale(db_to_lin(gain_db));
        if compressor {
            compress(&mut p.audio, -24.0, 4.0, 5.0, 120.0);
            p.audio.scale(db_to_lin(18.0));
            // A soft clipper: what lets a broadcast master sit a few dB under full scale.
            p.audio
                .data
                .iter_mut()
                .for_each(|s| *s = ceiling * (*s / ceiling).tanh());
        }
        limit(&mut p.audio, ceiling, 2.0, 60.0);
        p
    };
    let (mut lo, mut hi) = (-40.0, 60.0);
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        let p = render(mid);
        let v = measure(&p);
        if (v - target).abs() < 0.005 {
            return Ok(p.audio);
        }
        if v < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let most = measure(&render(60.0));
    bail!("cannot master to {target}: at most {most:.2} with this material")
}

/// A feed-forward compressor on the louder channel's level: threshold (dBFS), ratio, attack
/// and release of the level detector (ms).
pub fn compress(a: &mut Audio, threshold_db: f64, ratio: f64, attack_ms: f64, release_ms: f64) {
    let coef = |ms: f64| (-1.0 / (ms * 1e-3 * RATE as f64)).exp();
    let (att, rel) = (coef(attack_ms), coef(release_ms));
    let mut env = -120.0f64;
    for f in a.data.chunks_exact_mut(2) {
        let lvl = 20.0 * (f[0].abs().max(f[1].abs()) as f64).max(1e-9).log10();
        let c = if lvl > env { att } else { rel };
        env = c * env + (1.0 - c) * lvl;
        let over = env - threshold_db;
        if over > 0.0 {
            let g = db_to_lin(-over * (1.0 - 1.0 / ratio)) as f32;
            f[0] *= g;
            f[1] *= g;
        }
    }
}

/// A look-ahead peak limiter: the gain each frame needs to stay under `ceiling`, its minimum
/// over ± `lookahead_ms`, averaged over the same span (so every peak is still met) and
/// released exponentially with `release_ms`. No sample ends above the ceiling.
pub fn limit(a: &mut Audio, ceiling: f32, lookahead_ms: f64, release_ms: f64) {
    let n = a.frames();
    let l = (lookahead_ms * 1e-3 * RATE as f64) as usize;
    let need: Vec<f64> = a
        .data
        .chunks_exact(2)
        .map(|f| {
            let p = f[0].abs().max(f[1].abs());
            if p > ceiling {
                (ceiling / p) as f64
            } else {
                1.0
            }
        })
        .collect();
    // Sliding minimum over [i-l, i+l] with a monotonic queue.
    let mut mins = vec![1.0; n];
    let mut q: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut next = 0;
    for (i, m) in mins.iter_mut().enumerate() {
        while next < n && next <= i + l {
            while q.back().is_some_and(|&j| need[j] >= need[next]) {
                q.pop_back();
            }
            q.push_back(next);
            next += 1;
        }
        while q.front().is_some_and(|&j| j + l < i) {
            q.pop_front();
        }
        *m = need[q[0]];
    }
    // Moving average over the same span.
    let mut prefix = vec![0.0; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + mins[i];
    }
    let rel = (-1.0 / (release_ms * 1e-3 * RATE as f64)).exp();
    let mut g = 1.0f64;
    for i in 0..n {
        let (lo, hi) = (i.saturating_sub(l), (i + l + 1).min(n));
        // Every minimum in the span is at most this frame's need, so is their mean.
        let avg = (prefix[hi] - prefix[lo]) / (hi - lo) as f64;
        g = (rel * g + (1.0 - rel) * avg).min(avg);
        a.data[2 * i] = (a.data[2 * i] as f64 * g) as f32;
        a.data[2 * i + 1] = (a.data[2 * i + 1] as f64 * g) as f32;
    }
}

/// dB → linear amplitude.
pub fn db_to_lin(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// One level section of a programme: a stretch at one design level, the unit that settling
/// and the per-section figures refer to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Section {
    /// What it is, e.g. `quiet dialogue`.
    pub label: String,
    /// Its main kind.
    pub kind: Kind,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Whether the target checks apply (speech, music, advert, action).
    pub programme: bool,
    /// A loud passage: its onset is checked for overshoot, the programme after it for
    /// recovery.
    pub loud: bool,
    /// The level it was made at.
    pub design: String,
    /// Its input loudness as measured (programme segments; all of it for noise/silence).
    pub input_lufs: Option<f64>,
}

/// A segment: a stretch of one kind inside a section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Segment {
    /// What it is.
    pub kind: Kind,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Whether the target checks apply.
    pub programme: bool,
    /// Index into the sections.
    pub section: usize,
}

/// The description written next to the WAV (`NAME.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Description {
    /// Programme name (file stem).
    pub name: String,
    /// What it is.
    pub title: String,
    /// Sample rate.
    pub rate: u32,
    /// Channels.
    pub channels: u32,
    /// Length in frames.
    pub frames: usize,
    /// Length in seconds.
    pub duration_s: f64,
    /// Hash of the recipe and material (the cache key).
    pub key: String,
    /// The level sections.
    pub sections: Vec<Section>,
    /// The segments.
    pub segments: Vec<Segment>,
}

/// A programme being built.
pub struct Programme {
    /// Name (file stem).
    pub name: String,
    /// What it is.
    pub title: String,
    /// The audio so far.
    pub audio: Audio,
    /// Sections so far.
    pub sections: Vec<Section>,
    /// Segments so far.
    pub segments: Vec<Segment>,
}

fn secs(frames: usize) -> f64 {
    frames as f64 / RATE as f64
}

impl Programme {
    /// An empty programme.
    pub fn new(name: &str, title: &str) -> Programme {
        Programme {
            name: name.into(),
            title: title.into(),
            audio: Audio::default(),
            sections: Vec::new(),
            segments: Vec::new(),
        }
    }

    /// Levels `part` and appends it as a section. With `bed`, the bed clip is mixed under
    /// the levelled part `below` LU under its loudness (room noise, a music bed).
    pub fn section(
        &mut self,
        label: &str,
        loud: bool,
        mut part: Part,
        lvl: Level,
        bed: Option<(&Audio, f64)>,
    ) -> Result<()> {
        level(&mut part, lvl)?;
        let mut design = lvl.describe();
        if let Some((bed, below)) = bed {
            let target = part.programme_loudness() - below;
            let mut b = bed.clone();
            b.set_frames(part.audio.frames());
            let gain = db_to_lin(target - b.loudness());
            part.audio.mix(&b, 0, gain);
            design.push_str(&format!(", bed {below} LU under"));
        }
        self.place(label, loud, part, design);
        Ok(())
    }

    /// Appends a part exactly as it is (already levelled), e.g. a repeat of earlier audio.
    pub fn place(&mut self, label: &str, loud: bool, part: Part, design: String) {
        let at = self.audio.frames();
        let idx = self.sections.len();
        let main = part
            .segs
            .iter()
            .filter(|s| s.0.programme())
            .map(|s| s.0)
            .next()
            .unwrap_or(part.segs.first().map(|s| s.0).unwrap_or(Kind::Silence));
        for &(kind, a, b) in &part.segs {
            self.segments.push(Segment {
                kind,
                start: secs(at + a),
                end: secs(at + b),
                programme: kind.programme(),
                section: idx,
            });
        }
        self.audio.append(&part.audio);
        self.sections.push(Section {
            label: label.into(),
            kind: main,
            start: secs(at),
            end: secs(self.audio.frames()),
            programme: main.programme(),
            loud,
            design,
            input_lufs: None,
        });
    }

    /// A gap of `secs` of `kind` (silence, or `noise` at `lufs`).
    pub fn gap(&mut self, secs: f64, kind: Kind, noise: Option<(&Audio, f64)>) {
        let mut a = Audio::silence(secs);
        let mut design = "nothing".to_string();
        if let Some((n, lufs)) = noise {
            let mut b = n.clone();
            b.set_frames(a.frames());
            let gain = db_to_lin(lufs - b.loudness());
            a.mix(&b, 0, gain);
            design = format!("{lufs} LUFS");
        }
        let label = match kind {
            Kind::Noise => "room noise",
            _ => "gap",
        };
        self.place(label, false, Part::single(kind, a), design);
    }

    /// Mixes `noise` under the whole programme at `lufs` (constant room noise).
    pub fn room_noise(&mut self, noise: &Audio, lufs: f64) {
        let mut b = noise.clone();
        b.set_frames(self.audio.frames());
        let gain = db_to_lin(lufs - b.loudness());
        self.audio.mix(&b, 0, gain);
        for s in &mut self.sections {
            s.design
                .push_str(&format!(", room noise {lufs} LUFS throughout"));
        }
    }

    /// Measures each section's input loudness and returns the description.
    pub fn finish(&mut self, key: &str) -> Description {
        let series = Series::new(&self.audio.data, 2, RATE);
        for (i, s) in self.sections.iter_mut().enumerate() {
            let ranges: Vec<(usize, usize)> = self
                .segments
                .iter()
                .filter(|g| g.section == i && (g.programme || !s.programme))
                .map(|g| (series.idx(g.start), series.idx(g.end)))
                .collect();
            s.input_lufs = series
                .integrated(&ranges)
                .map(|l| (l * 100.0).round() / 100.0);
        }
        Description {
            name: self.name.clone(),
            title: self.title.clone(),
            rate: RATE,
            channels: 2,
            frames: self.audio.frames(),
            duration_s: secs(self.audio.frames()),
            key: key.into(),
            sections: self.sections.clone(),
            segments: self.segments.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(secs: f64, amp: f32) -> Audio {
        let n = (secs * RATE as f64) as usize;
        let data = (0..n)
            .flat_map(|i| {
                let v = amp * (i as f32 * 0.0654).sin() * (1.0 + 0.8 * (i as f32 * 0.0003).sin());
                [v, v]
            })
            .collect();
        Audio { data }
    }

    #[test]
    fn limiter_keeps_every_sample_under_the_ceiling() {
        let mut a = tone(2.0, 1.7);
        limit(&mut a, 0.891, 2.0, 60.0);
        assert!(a.peak() <= 0.891 + 1e-6, "{}", a.peak());
    }

    #[test]
    fn levels_land_exactly() {
        let mut p = Part::single(Kind::Music, tone(5.0, 0.1));
        level(&mut p, Level::Lufs(-30.0)).unwrap();
        assert!((p.programme_loudness() + 30.0).abs() < 0.01);
        let mut p = Part::single(Kind::Advert, tone(5.0, 0.1));
        level(&mut p, Level::Loud(-9.0)).unwrap();
        assert!(
            (p.programme_loudness() + 9.0).abs() < 0.02,
            "{}",
            p.programme_loudness()
        );
        assert!(p.audio.peak() <= 0.967);
    }
}
