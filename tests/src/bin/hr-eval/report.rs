//! From a rendered programme and its description to the figures (per programme × profile),
//! the table, the per-section details and the pass/fail list of the levelling requirements.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use headroom_profile::{Profile, SettingValue};
use serde::Serialize;

use crate::assemble::{Description, Kind, Section};
use crate::meter::{self, percentile, Series, HOP, MOMENTARY, SHORT_TERM, SUB_S};

/// Seconds each section is given to settle before its short-term values count.
pub const SETTLE_S: f64 = 3.0;
/// Momentary values in this long after a loud onset are checked for overshoot.
pub const ONSET_S: f64 = 2.0;
/// Recovery: the programme after a loud passage is compared this long after it ends…
pub const RECOVER_S: f64 = 5.0;
/// …over at most this long, with the same span before the passage.
pub const COMPARE_S: f64 = 15.0;

/// A profile under evaluation and the figures the checks need from it.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileInfo {
    /// File stem.
    pub name: String,
    /// The TOML file.
    pub path: PathBuf,
    /// `agc.target_lufs`.
    pub target: f64,
    /// `agc.max_boost_db`.
    pub max_boost: f64,
    /// `limiter.ceiling_dbtp`.
    pub ceiling: f64,
}

impl ProfileInfo {
    /// Reads the keys the checks need from a profile file (missing keys take headroom's
    /// built-in defaults, as the product does). Only these keys are read, so profiles of
    /// other versions of headroom load too.
    pub fn load(path: &Path) -> Result<ProfileInfo> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("parsing {}", path.display()))?;
        let get = |key: &str| -> f64 {
            let (section, name) = key.split_once('.').expect("dotted key");
            let number =
                |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
            match table
                .get(section)
                .and_then(|s| s.get(name))
                .and_then(number)
            {
                Some(v) => v,
                None => match Profile::default().get(key) {
                    Ok(SettingValue::Number(v)) => v,
                    _ => f64::NAN,
                },
            }
        };
        Ok(ProfileInfo {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: path.to_path_buf(),
            target: get("agc.target_lufs"),
            max_boost: get("agc.max_boost_db"),
            ceiling: get("limiter.ceiling_dbtp"),
        })
    }

    /// Which shipped profile's own requirements apply: the one whose name the
    /// file stem starts with (`night`, `night-try2`, …).
    pub fn role(&self) -> Option<&'static str> {
        ["default", "night", "speech", "music"]
            .into_iter()
            .find(|r| self.name.starts_with(r))
    }
}

/// Figures of one section.
#[derive(Debug, Clone, Serialize)]
pub struct SectionFigures {
    /// Integrated loudness of its programme segments after the settling time, LUFS.
    pub settled: Option<f64>,
    /// Integrated loudness of its programme segments, all of it, LUFS.
    pub whole: Option<f64>,
    /// Its loudness range, LU.
    pub lra: Option<f64>,
}

/// A noise pause and the speech around it.
#[derive(Debug, Clone, Serialize)]
pub struct Pause {
    /// The section of the speech before it.
    pub section: usize,
    /// Start, seconds.
    pub start: f64,
    /// Highest momentary loudness inside the pause, LUFS.
    pub max_momentary: Option<f64>,
    /// Integrated loudness of the speech segments just before and after it, LUFS.
    pub speech: Option<f64>,
}

impl Pause {
    /// How far under the speech the pause stays, LU.
    pub fn under(&self) -> Option<f64> {
        Some(self.speech? - self.max_momentary?)
    }
}

/// The programme after a loud passage.
#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    /// Seconds after the passage ends until the loudness of what followed it (the last up to
    /// 3 s of it, at least 400 ms) is first within 2 LU of the target; `None`: not before the
    /// section ends.
    pub time: Option<f64>,
    /// Short-term loudness 5 s after the passage, LUFS.
    pub s_at_5: Option<f64>,
    /// Level of the programme before the passage (the last up to 15 s after settling), LUFS.
    pub before: Option<f64>,
    /// Level of the programme from 5 s to at most 20 s after the passage, LUFS.
    pub after: Option<f64>,
}

impl Recovery {
    /// After minus before, LU.
    pub fn delta(&self) -> Option<f64> {
        Some(self.after? - self.before?)
    }
}

/// A run of loud sections (with the gaps between them).
#[derive(Debug, Clone, Serialize)]
pub struct LoudBlock {
    /// First loud section.
    pub first: usize,
    /// Last loud section.
    pub last: usize,
    /// The non-loud programme section before it.
    pub before: Option<usize>,
    /// The non-loud programme section right after it.
    pub after: Option<usize>,
    /// Highest momentary loudness in the 2 s after the onset, LUFS (when quieter programme
    /// came before it).
    pub onset_max_momentary: Option<f64>,
    /// The programme after it (when one follows without a gap).
    pub recovery: Option<Recovery>,
}

/// Everything measured on one file.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// Integrated loudness (`ebur128` crate), LUFS.
    pub integrated: f64,
    /// Loudness range (short-term every 100 ms), LU.
    pub lra: f64,
    /// 4× true peak (`ebur128` crate), dBTP.
    pub true_peak: f64,
    /// 16× true-peak check, dBTP.
    pub true_peak_16x: f64,
    /// Integrated loudness by the sub-block meter (cross-check), LUFS.
    pub own_integrated: Option<f64>,
    /// P95 of |short-term − target| over programme sections after settling, LU.
    pub p95: Option<f64>,
    /// Highest momentary loudness, LUFS.
    pub max_momentary: f64,
    /// Per section.
    pub sections: Vec<SectionFigures>,
    /// Noise pauses.
    pub pauses: Vec<Pause>,
    /// Loud passages.
    pub blocks: Vec<LoudBlock>,
}

/// Time ranges → sub-block ranges.
fn ranges(s: &Series, spans: impl IntoIterator<Item = (f64, f64)>) -> Vec<(usize, usize)> {
    spans
        .into_iter()
        .filter(|(a, b)| b > a)
        .map(|(a, b)| (s.idx(a), s.idx(b)))
        .collect()
}

/// The programme segments of section `i` clipped to `[from, to]`.
fn programme_spans(d: &Description, i: usize, from: f64, to: f64) -> Vec<(f64, f64)> {
    d.segments
        .iter()
        .filter(|g| g.section == i && g.programme)
        .map(|g| (g.start.max(from), g.end.min(to)))
        .collect()
}

fn loud_blocks(sections: &[Section]) -> Vec<(usize, usize, Option<usize>, Option<usize>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < sections.len() {
        if !(sections[i].programme && sections[i].loud) {
            i += 1;
            continue;
        }
        let first = i;
        let mut last = i;
        let mut j = i + 1;
        while j < sections.len() && (!sections[j].programme || sections[j].loud) {
            if sections[j].programme {
                last = j;
            }
            j += 1;
        }
        let before = (0..first)
            .rev()
            .find(|&k| sections[k].programme && !sections[k].loud);
        let after =
            (last + 1 < sections.len() && sections[last + 1].programme && !sections[last + 1].loud)
                .then_some(last + 1);
        out.push((first, last, before, after));
        i = last + 1;
    }
    out
}

/// Measures interleaved `samples` of programme `d` against `target` (LUFS; NaN for the
/// input, where only target-free figures matter).
pub fn measure(
    d: &Description,
    samples: &[f32],
    channels: usize,
    rate: u32,
    target: f64,
) -> Result<Figures> {
    let r = meter::reference(samples, channels, rate, true)?;
    let tp16 = meter::true_peak_16x(samples, channels, r.true_peak, 4.0);
    let s = Series::new(samples, channels, rate);
    let n = s.len();

    let sections: Vec<SectionFigures> = d
        .sections
        .iter()
        .enumerate()
        .map(|(i, sec)| {
            let all = |from: f64| {
                if sec.programme {
                    programme_spans(d, i, from, sec.end)
                } else {
                    vec![(from, sec.end)]
                }
            };
            SectionFigures {
                settled: s.integrated(&ranges(&s, all(sec.start + SETTLE_S))),
                whole: s.integrated(&ranges(&s, all(sec.start))),
                lra: s.lra(s.idx(sec.start), s.idx(sec.end)),
            }
        })
        .collect();

    let mut dev = Vec::new();
    for sec in d.sections.iter().filter(|sec| sec.programme) {
        // Windows wholly inside the section that end after its settling time.
        let mut e = s
            .idx(sec.start + SETTLE_S)
            .max(s.idx(sec.start) + SHORT_TERM);
        while e <= s.idx(sec.end) {
            if let Some(v) = s.short_term(e) {
                dev.push((v - target).abs());
            }
            e += HOP;
        }
    }
    dev.sort_by(f64::total_cmp);
    let p95 = (!dev.is_empty() && target.is_finite()).then(|| percentile(&dev, 0.95));

    let max_momentary = (MOMENTARY..=n)
        .filter_map(|e| s.momentary(e))
        .fold(f64::NEG_INFINITY, f64::max);

    let mut pauses = Vec::new();
    for (k, g) in d.segments.iter().enumerate() {
        if g.kind != Kind::Noise {
            continue;
        }
        let prev = d.segments[..k].iter().rev().find(|x| x.programme);
        let next = d.segments[k + 1..].iter().find(|x| x.programme);
        let speech = s.integrated(&ranges(
            &s,
            prev.into_iter().chain(next).map(|x| (x.start, x.end)),
        ));
        let (a, b) = (s.idx(g.start), s.idx(g.end));
        let max_m = (a + MOMENTARY..=b)
            .filter_map(|e| s.momentary(e))
            .reduce(f64::max);
        pauses.push(Pause {
            section: prev.map(|x| x.section).unwrap_or(g.section),
            start: g.start,
            max_momentary: max_m,
            speech,
        });
    }

    let blocks = loud_blocks(&d.sections)
        .into_iter()
        .map(|(first, last, before, after)| {
            let onset = s.idx(d.sections[first].start);
            let onset_max_momentary = before.and_then(|_| {
                (onset + 1..=(onset + s.idx(ONSET_S)).min(n))
                    .filter_map(|e| s.momentary(e))
                    .reduce(f64::max)
            });
            let recovery = after.map(|a| {
                let (end, stop) = (d.sections[last].end, d.sections[a].end);
                let (e0, e1) = (s.idx(end), s.idx(stop));
                // The loudness of what came after the passage only: the last up to 3 s of it
                // (a short-term window that does not reach back into the passage).
                let time = (e0 + MOMENTARY..=e1)
                    .step_by(HOP)
                    .find(|&e| {
                        (s.loudness(e.saturating_sub(SHORT_TERM).max(e0), e) - target).abs() <= 2.0
                    })
                    .map(|e| (e - e0) as f64 * SUB_S);
                let before = before.and_then(|b| {
                    let sec = &d.sections[b];
                    let from = (sec.start + SETTLE_S).max(sec.end - COMPARE_S);
                    s.integrated(&ranges(&s, programme_spans(d, b, from, sec.end)))
                });
                let after = s.integrated(&ranges(
                    &s,
                    programme_spans(d, a, end + RECOVER_S, stop.min(end + RECOVER_S + COMPARE_S)),
                ));
                Recovery {
                    time,
                    s_at_5: s.short_term(s.idx(end + RECOVER_S)),
                    before,
                    after,
                }
            });
            LoudBlock {
                first,
                last,
                before,
                after,
                onset_max_momentary,
                recovery,
            }
        })
        .collect();

    Ok(Figures {
        integrated: r.integrated,
        lra: s.lra(0, n).unwrap_or(f64::NAN),
        true_peak: r.true_peak,
        true_peak_16x: tp16,
        own_integrated: s.integrated(&[(0, n)]),
        p95,
        max_momentary,
        sections,
        pauses,
        blocks,
    })
}

/// Formats one figure of a recovery for a profile with target (second argument).
type RecoveryCell = fn(&Recovery, f64) -> String;

/// Everything the report is made of.
pub struct Report<'a> {
    /// Programme descriptions, in order.
    pub programmes: &'a [Description],
    /// Profiles, in order.
    pub profiles: &'a [ProfileInfo],
    /// Input figures by programme.
    pub inputs: &'a BTreeMap<String, Figures>,
    /// Output figures by (programme, profile).
    pub outputs: &'a BTreeMap<(String, String), Figures>,
}

fn f(v: Option<f64>, prec: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.prec$}"),
        Some(x) if x == f64::NEG_INFINITY => "-inf".into(),
        _ => "—".into(),
    }
}

fn sf(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:+.1}"),
        _ => "—".into(),
    }
}

/// LRA reduction in percent (positive: narrower).
fn reduction(lra_in: f64, lra_out: f64) -> Option<f64> {
    (lra_in > 0.0 && lra_in.is_finite() && lra_out.is_finite())
        .then(|| (lra_in - lra_out) / lra_in * 100.0)
}

/// The worst recovery of a programme: the longest time (never beats any time) and the
/// largest |after − before|.
fn worst_recovery(fig: &Figures) -> (Option<String>, Option<f64>) {
    let recs: Vec<&Recovery> = fig
        .blocks
        .iter()
        .filter_map(|b| b.recovery.as_ref())
        .collect();
    if recs.is_empty() {
        return (None, None);
    }
    let time = if recs.iter().any(|r| r.time.is_none()) {
        "never".to_string()
    } else {
        format!(
            "{:.1} s",
            recs.iter().filter_map(|r| r.time).fold(0.0, f64::max)
        )
    };
    let delta = recs
        .iter()
        .filter_map(|r| r.delta())
        .max_by(|a, b| a.abs().total_cmp(&b.abs()));
    (Some(time), delta)
}

impl Report<'_> {
    /// The table: one row per programme × profile.
    pub fn table(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "{:<13} {:<10} {:>6} {:>6} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>6}",
            "programme", "profile", "target", "I out", "I-T", "P95", "M-T", "onset", "TP", "TP16", "LRA in", "out", "red.", "recovery", "aft-bef"
        );
        let _ = writeln!(
            o,
            "{:<13} {:<10} {:>6} {:>6} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>6}",
            "", "", "LUFS", "LUFS", "LU", "|S-T|", "max", "M-T", "dBTP", "dBTP", "LU", "LU", "%", "", "LU"
        );
        for d in self.programmes {
            let input = &self.inputs[&d.name];
            for p in self.profiles {
                let Some(fig) = self.outputs.get(&(d.name.clone(), p.name.clone())) else {
                    continue;
                };
                let onset = fig
                    .blocks
                    .iter()
                    .filter_map(|b| b.onset_max_momentary)
                    .reduce(f64::max)
                    .map(|m| m - p.target);
                let (rec, delta) = worst_recovery(fig);
                let _ = writeln!(
                    o,
                    "{:<13} {:<10} {:>6.1} {:>6.1} {:>5} {:>6} {:>6} {:>6} {:>6.1} {:>6.1} {:>6.1} {:>6.1} {:>6} {:>8} {:>6}",
                    d.name,
                    p.name,
                    p.target,
                    fig.integrated,
                    sf(Some(fig.integrated - p.target)),
                    f(fig.p95, 1),
                    sf(Some(fig.max_momentary - p.target)),
                    sf(onset),
                    fig.true_peak,
                    fig.true_peak_16x,
                    input.lra,
                    fig.lra,
                    f(reduction(input.lra, fig.lra), 0),
                    rec.unwrap_or_else(|| "—".into()),
                    sf(delta),
                );
            }
        }
        o
    }

    /// Per programme: each section's input and settled output loudness per profile (with the
    /// difference to the profile's target), noise pauses, playlist tracks, loud passages.
    pub fn details(&self) -> String {
        let mut o = String::new();
        for d in self.programmes {
            let input = &self.inputs[&d.name];
            let profiles: Vec<&ProfileInfo> = self
                .profiles
                .iter()
                .filter(|p| self.outputs.contains_key(&(d.name.clone(), p.name.clone())))
                .collect();
            let fig = |p: &ProfileInfo| &self.outputs[&(d.name.clone(), p.name.clone())];
            let _ = writeln!(o, "\n== {} ({:.1} s): {}", d.name, d.duration_s, d.title);
            // One line: a label, the input's cell, one cell per profile.
            let mut row = |label: &str, input: String, cell: &dyn Fn(&ProfileInfo) -> String| {
                let label: String = label.chars().take(38).collect();
                let mut line = format!("  {label:<38} {input:>7}");
                for p in &profiles {
                    let _ = write!(line, " {:>14}", cell(p));
                }
                let _ = writeln!(o, "{}", line.trim_end());
            };
            row(
                "section (start s): settled LUFS (vs T)",
                "input".into(),
                &|p| format!("{} ({})", p.name, p.target),
            );
            for (i, sec) in d.sections.iter().enumerate() {
                if !sec.programme {
                    continue;
                }
                row(
                    &format!("{} ({:.0})", sec.label, sec.start),
                    f(sec.input_lufs, 1),
                    &|p| {
                        let v = fig(p).sections[i].settled;
                        format!("{} ({})", f(v, 1), sf(v.map(|v| v - p.target)))
                    },
                );
                if sec.kind == Kind::Music && d.name == "playlist" {
                    row("  whole track, LUFS (vs T)", f(sec.input_lufs, 1), &|p| {
                        let v = fig(p).sections[i].whole;
                        format!("{} ({})", f(v, 1), sf(v.map(|v| v - p.target)))
                    });
                    let lra_in = input.sections[i].lra;
                    row("  LRA, LU (reduction)", f(lra_in, 1), &|p| {
                        let out = fig(p).sections[i].lra;
                        let red = lra_in.zip(out).and_then(|(a, b)| reduction(a, b));
                        format!("{} ({}%)", f(out, 1), f(red, 0))
                    });
                }
                let pauses: Vec<usize> = (0..input.pauses.len())
                    .filter(|&k| input.pauses[k].section == i)
                    .collect();
                if !pauses.is_empty() {
                    let min_under = |f: &Figures| {
                        pauses
                            .iter()
                            .filter_map(|&k| f.pauses[k].under())
                            .reduce(f64::min)
                    };
                    row(
                        "  noise pauses under speech, min LU",
                        f(min_under(input), 1),
                        &|p| f(min_under(fig(p)), 1),
                    );
                }
            }
            for (b, block) in input.blocks.iter().enumerate() {
                let first = &d.sections[block.first];
                let end = d.sections[block.last].end;
                row(
                    &format!("loud passage {:.1}–{:.1} s:", first.start, end),
                    String::new(),
                    &|_| String::new(),
                );
                if block.onset_max_momentary.is_some() {
                    row(
                        "  max momentary 2 s after onset, vs T",
                        String::new(),
                        &|p| sf(fig(p).blocks[b].onset_max_momentary.map(|m| m - p.target)),
                    );
                }
                if block.recovery.is_none() {
                    continue;
                }
                let rows: [(&str, RecoveryCell); 4] = [
                    ("  recovery: first within 2 LU of T", |r, _| match r.time {
                        Some(t) => format!("{t:.1} s"),
                        None => "never".into(),
                    }),
                    ("  short-term 5 s after, vs T", |r, t| {
                        sf(r.s_at_5.map(|v| v - t))
                    }),
                    ("  level before → after, LUFS", |r, _| {
                        format!("{}→{}", f(r.before, 1), f(r.after, 1))
                    }),
                    ("  after − before, LU", |r, _| sf(r.delta())),
                ];
                for (label, cell) in rows {
                    row(label, String::new(), &|p| {
                        fig(p).blocks[b]
                            .recovery
                            .as_ref()
                            .map(|r| cell(r, p.target))
                            .unwrap_or_default()
                    });
                }
            }
        }
        o
    }

    /// The pass/fail list of the requirements.
    pub fn checks(&self) -> Vec<Check> {
        let mut out = Vec::new();
        for p in self.profiles {
            let get = |prog: &str| {
                self.outputs
                    .get(&(prog.to_string(), p.name.clone()))
                    .map(|f| (self.desc(prog), f))
            };
            let t = p.target;
            let mut add = |requirement: &str, prog: &str, what: String, pass: Option<bool>| {
                out.push(Check {
                    requirement: requirement.into(),
                    profile: p.name.clone(),
                    programme: prog.into(),
                    what,
                    pass,
                })
            };
            match p.role() {
                Some("default") => {
                    if let Some((_, fig)) = get("tv-evening") {
                        let e = fig.integrated - t;
                        add(
                            "default profile",
                            "tv-evening",
                            format!(
                                "integrated {:.1} LUFS, {e:+.1} LU from target (±1)",
                                fig.integrated
                            ),
                            Some(e.abs() <= 1.0),
                        );
                        add(
                            "default profile",
                            "tv-evening",
                            format!(
                                "P95 |S-T| {} LU after {SETTLE_S} s settling (≤ 2)",
                                f(fig.p95, 2)
                            ),
                            fig.p95.map(|v| v <= 2.0),
                        );
                    }
                }
                Some("night") => {
                    if let Some((d, fig)) = get("film-night") {
                        for (i, sec) in d
                            .sections
                            .iter()
                            .enumerate()
                            .filter(|(_, s)| s.kind == Kind::Speech)
                        {
                            let v = fig.sections[i].settled;
                            add("night profile", "film-night", format!(
                                "dialogue at {} LUFS ({:.0} s) → {} LUFS, {} LU from target (reaches it: ±1)",
                                f(sec.input_lufs, 1), sec.start, f(v, 1), sf(v.map(|v| v - t))),
                                v.map(|v| (v - t).abs() <= 1.0));
                        }
                        let m = fig.max_momentary - t;
                        add(
                            "night profile",
                            "film-night",
                            format!("max momentary {m:+.1} LU over target (≤ +3)"),
                            Some(m <= 3.0),
                        );
                        add(
                            "night profile",
                            "film-night",
                            format!("P95 |S-T| {} LU (≤ 1.5)", f(fig.p95, 2)),
                            fig.p95.map(|v| v <= 1.5),
                        );
                        add(
                            "night profile",
                            "film-night",
                            format!(
                                "true peak {:.2} dBTP (16×: {:.2}) (≤ -3.0)",
                                fig.true_peak, fig.true_peak_16x
                            ),
                            Some(fig.true_peak <= -3.0),
                        );
                    }
                }
                Some("speech") => {
                    for prog in ["speech-noise", "podcast"] {
                        let Some((d, fig)) = get(prog) else { continue };
                        for (i, sec) in d
                            .sections
                            .iter()
                            .enumerate()
                            .filter(|(_, s)| s.kind == Kind::Speech)
                        {
                            let v = fig.sections[i].settled;
                            add(
                                "speech profile",
                                prog,
                                format!(
                                    "{} at {} LUFS ({:.0} s) → {} LUFS, {} LU from target (±1.5)",
                                    sec.label,
                                    f(sec.input_lufs, 1),
                                    sec.start,
                                    f(v, 1),
                                    sf(v.map(|v| v - t))
                                ),
                                v.map(|v| (v - t).abs() <= 1.5),
                            );
                        }
                        let under = fig.pauses.iter().filter_map(Pause::under).reduce(f64::min);
                        add(
                            "speech profile",
                            prog,
                            format!(
                                "room noise in the pauses at least {} LU under the speech (≥ 20)",
                                f(under, 1)
                            ),
                            under.map(|u| u >= 20.0),
                        );
                    }
                }
                Some("music") => {
                    if let Some((d, fig)) = get("playlist") {
                        let input = &self.inputs["playlist"];
                        for (i, sec) in d
                            .sections
                            .iter()
                            .enumerate()
                            .filter(|(_, s)| s.kind == Kind::Music)
                        {
                            let s = &fig.sections[i];
                            add(
                                "music profile",
                                "playlist",
                                format!(
                                    "{} at {} LUFS → {} LUFS, {} LU from target (±1)",
                                    sec.label,
                                    f(sec.input_lufs, 1),
                                    f(s.whole, 1),
                                    sf(s.whole.map(|v| v - t))
                                ),
                                s.whole.map(|v| (v - t).abs() <= 1.0),
                            );
                            let red = input.sections[i]
                                .lra
                                .zip(s.lra)
                                .and_then(|(a, b)| reduction(a, b));
                            add(
                                "music profile",
                                "playlist",
                                format!(
                                    "{} LRA {} → {} LU, reduced by {}% (≤ 30 %)",
                                    sec.label,
                                    f(input.sections[i].lra, 1),
                                    f(s.lra, 1),
                                    f(red, 0)
                                ),
                                red.map(|r| r <= 30.0),
                            );
                        }
                    }
                }
                _ => {}
            }
            if let Some((d, fig)) = get("recovery") {
                for block in &fig.blocks {
                    let (Some(r), Some(a)) = (&block.recovery, block.after) else {
                        continue;
                    };
                    let input = d.sections[a].input_lufs.unwrap_or(f64::NAN);
                    let reach = input + p.max_boost;
                    let time = match r.time {
                        Some(v) => format!("after {v:.1} s"),
                        None => "never".into(),
                    };
                    let s5 = r.s_at_5.map(|v| v - t);
                    let after = r.after.map(|v| v - t);
                    // Judged on the level from +5 s on (integrated over the programme
                    // spans, pauses gated as the input's own loudness is): a short-term
                    // reading at one instant of phrases and pauses sits a few LU under the
                    // programme's loudness in the input already (shown, not judged).
                    let what = format!(
                        "within 2 LU of target from {RECOVER_S} s after the loud passage: level from +{RECOVER_S} s {} LU \
                         (short-term at +{RECOVER_S} s {} LU; first within 2 LU: {time})",
                        sf(after),
                        sf(s5)
                    );
                    if reach < t - 2.0 {
                        add("recovery", "recovery", format!("{what} — n/a: max_boost_db {} lifts {input:.1} LUFS to {reach:.1} at most", p.max_boost), None);
                    } else {
                        add(
                            "recovery",
                            "recovery",
                            what,
                            Some(after.is_some_and(|a| a.abs() <= 2.0)),
                        );
                    }
                    add(
                        "recovery",
                        "recovery",
                        format!(
                            "within 1 LU of the level before: {} → {} LUFS ({} LU)",
                            f(r.before, 1),
                            f(r.after, 1),
                            sf(r.delta())
                        ),
                        r.delta().map(|v| v.abs() <= 1.0),
                    );
                }
            }
            if let Some((_, fig)) = get("onset") {
                for block in &fig.blocks {
                    if let Some(m) = block.onset_max_momentary {
                        add("onset", "onset", format!("momentary in the {ONSET_S} s after the onset {:+.1} LU over target (≤ +3)", m - t), Some(m - t <= 3.0));
                    }
                }
            }
        }
        let rank = |c: &Check| {
            let order = [
                "default profile",
                "night profile",
                "speech profile",
                "music profile",
                "recovery",
                "onset",
            ];
            order
                .iter()
                .position(|r| *r == c.requirement)
                .unwrap_or(order.len())
        };
        out.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.profile.cmp(&b.profile)));
        out
    }

    fn desc(&self, name: &str) -> &Description {
        self.programmes
            .iter()
            .find(|d| d.name == name)
            .expect("programme measured")
    }
}

/// One line of the pass/fail list.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Requirement: what a shipped profile must do (`night profile`, …), `recovery` after a
    /// loud passage, or `onset` of a loud passage.
    pub requirement: String,
    /// Profile.
    pub profile: String,
    /// Programme.
    pub programme: String,
    /// What was measured against what.
    pub what: String,
    /// `None`: does not apply.
    pub pass: Option<bool>,
}

impl std::fmt::Display for Check {
    fn fmt(&self, fm: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = match self.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "n/a ",
        };
        write!(
            fm,
            "{verdict}  {:<15} {:<8} {:<13} {}",
            self.requirement, self.profile, self.programme, self.what
        )
    }
}
