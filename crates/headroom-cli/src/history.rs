//! `headroom history`: the daemon's per-second samples summarised into rows of a chosen
//! length (one a minute by default), in local time or UTC, with the marked moments
//! (restarts, bypass, profile changes, alerts) between the rows they fall in.
//!
//! A row summarises the samples of its span: input and output short-term loudness as the
//! energy mean of the measured samples (`—` when none was measured), the mean AGC gain, the
//! largest compressor and limiter gain reduction, the mean callback time and the xruns that
//! happened in the span.

use headroom_ipc::{History, HistoryMark, HistorySample, MarkKind};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::format::{lufs, measured, table, uptime};

/// How the history is shown.
#[derive(Debug, Clone)]
pub struct View {
    /// Length of one row, ms (≥ 1; the sample interval or less shows every sample).
    pub every_ms: u64,
    /// Time zone of the times shown.
    pub tz: TimeZone,
    /// Name of the zone for the header (`local`, `UTC`).
    pub tz_label: String,
    /// How far back the user asked for, s (`None`: everything kept).
    pub since_secs: Option<u64>,
    /// Now, ms since the Unix epoch (to tell whether `since_secs` reaches beyond what is kept).
    pub now_unix_ms: u64,
}

impl View {
    /// Local time (the system zone), or UTC with `utc`.
    pub fn new(every_ms: u64, utc: bool, since_secs: Option<u64>, now_unix_ms: u64) -> Self {
        let (tz, tz_label) = if utc {
            (TimeZone::UTC, "UTC".to_string())
        } else {
            (TimeZone::system(), "local".to_string())
        };
        View {
            every_ms: every_ms.max(1),
            tz,
            tz_label,
            since_secs,
            now_unix_ms,
        }
    }
}

/// `unix_ms` as `YYYY-MM-DD HH:MM:SS` in `tz`.
pub fn time_in(unix_ms: u64, tz: &TimeZone) -> String {
    match Timestamp::from_millisecond(unix_ms as i64) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => crate::format::utc_time(unix_ms),
    }
}

/// Energy mean of the measured loudness values (`None`: none measured).
fn loudness_mean(values: impl Iterator<Item = f32>) -> Option<f32> {
    let (mut sum, mut n) = (0.0f64, 0u32);
    for v in values.filter(|v| measured(*v)) {
        sum += 10f64.powf(f64::from(v) / 10.0);
        n += 1;
    }
    (n > 0).then(|| (10.0 * (sum / f64::from(n)).log10()) as f32)
}

/// One summarised row.
fn row(samples: &[HistorySample], prev_xruns: Option<u64>, tz: &TimeZone) -> Vec<String> {
    let first = &samples[0];
    let n = samples.len() as f32;
    let mean = |f: fn(&HistorySample) -> f32| samples.iter().map(f).sum::<f32>() / n;
    let max = |f: fn(&HistorySample) -> f32| samples.iter().map(f).fold(0.0f32, f32::max);
    // Xruns count since the daemon started: a smaller value means it restarted.
    let mut xruns = 0;
    let mut last = prev_xruns;
    for s in samples {
        xruns += match last {
            Some(p) if s.xruns >= p => s.xruns - p,
            Some(_) => s.xruns,
            None => 0,
        };
        last = Some(s.xruns);
    }
    let show = |v: Option<f32>| v.map_or_else(|| "—".to_string(), lufs);
    vec![
        time_in(first.unix_ms, tz),
        show(loudness_mean(samples.iter().map(|s| s.in_short_term_lufs))),
        show(loudness_mean(samples.iter().map(|s| s.out_short_term_lufs))),
        format!("{:+.1}", mean(|s| s.agc_gain_db)),
        format!("{:.1}", max(|s| s.compressor_gr_db)),
        format!("{:.1}", max(|s| s.limiter_gr_db)),
        format!("{:.0}", mean(|s| s.dsp_mean_us)),
        xruns.to_string(),
    ]
}

fn mark_symbol(k: MarkKind) -> &'static str {
    match k {
        MarkKind::Started => "▶",
        MarkKind::Stopped => "■",
        MarkKind::Alert => "!",
        MarkKind::Cleared => "✓",
        MarkKind::Bypass | MarkKind::Profile | MarkKind::Unknown => "*",
    }
}

fn mark_line(m: &HistoryMark, tz: &TimeZone) -> String {
    format!(
        "  {} {}  {}",
        mark_symbol(m.kind),
        time_in(m.unix_ms, tz),
        crate::format::printable(&m.text)
    )
}

/// `headroom history`, summarised as `view` says.
pub fn render(h: &History, view: &View) -> String {
    let mut out = kept_note(h, view).unwrap_or_default();
    if h.samples.is_empty() && h.marks.is_empty() {
        out.push_str("(no history in that window)\n");
        return out;
    }
    // Rows: samples grouped by span (aligned to the span), marks after the row they fall in.
    let every = view.every_ms;
    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    let mut prev_xruns = None;
    let mut i = 0;
    while i < h.samples.len() {
        let bucket = h.samples[i].unix_ms / every;
        let j = h.samples[i..]
            .iter()
            .position(|s| s.unix_ms / every != bucket)
            .map_or(h.samples.len(), |k| i + k);
        rows.push((bucket * every, row(&h.samples[i..j], prev_xruns, &view.tz)));
        prev_xruns = h.samples.get(j - 1).map(|s| s.xruns);
        i = j;
    }
    let header = [
        "TIME", "IN S", "OUT S", "AGC dB", "COMP GR", "LIM GR", "DSP µs", "XRUNS",
    ];
    let table_rows: Vec<Vec<String>> = rows.iter().map(|(_, r)| r.clone()).collect();
    let text = table(&header, &table_rows);
    let mut lines = text.lines();
    if let Some(h) = lines.next() {
        out.push_str(h);
        out.push('\n');
    }
    let mut marks = h.marks.iter().peekable();
    for (k, line) in lines.enumerate() {
        // Marks before this row's span.
        while let Some(m) = marks.next_if(|m| m.unix_ms < rows[k].0) {
            out.push_str(&mark_line(m, &view.tz));
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
        let end = rows[k].0 + every;
        while let Some(m) = marks.next_if(|m| m.unix_ms < end) {
            out.push_str(&mark_line(m, &view.tz));
            out.push('\n');
        }
    }
    for m in marks {
        out.push_str(&mark_line(m, &view.tz));
        out.push('\n');
    }
    out.push_str(&format!(
        "{} samples in {} rows of {}; times {}; IN/OUT S: energy mean, GR: largest, XRUNS: new\n",
        h.samples.len(),
        rows.len(),
        span_text(every),
        view.tz_label
    ));
    out
}

fn span_text(ms: u64) -> String {
    if ms.is_multiple_of(3_600_000) {
        format!("{} h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{} min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// Minimum, median, 95th percentile and maximum of one figure over a span.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Smallest value.
    pub min: f32,
    /// Median (nearest rank).
    pub median: f32,
    /// 95th percentile (nearest rank).
    pub p95: f32,
    /// Largest value.
    pub max: f32,
    /// How many samples had a value (loudness: measured, above the −70 LUFS gate).
    pub samples: usize,
}

impl Stats {
    /// The statistics of `values` (`None` when there are none). Percentiles by nearest rank:
    /// the smallest value with at least p % of the values at or below it.
    pub fn of(mut values: Vec<f32>) -> Option<Stats> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        values.sort_by(f32::total_cmp);
        let n = values.len();
        let rank = |p: usize| values[(p * n).div_ceil(100).clamp(1, n) - 1];
        Some(Stats {
            min: values[0],
            median: rank(50),
            p95: rank(95),
            max: values[n - 1],
            samples: n,
        })
    }
}

/// `headroom history --summary`: each figure's statistics over the span (`--json` form).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// First sample, ms since the Unix epoch (`None`: no samples).
    pub from_unix_ms: Option<u64>,
    /// Last sample, ms since the Unix epoch.
    pub to_unix_ms: Option<u64>,
    /// Samples in the span.
    pub samples: usize,
    /// Input short-term loudness, LUFS (measured samples only).
    pub in_short_term_lufs: Option<Stats>,
    /// Output short-term loudness, LUFS (measured samples only).
    pub out_short_term_lufs: Option<Stats>,
    /// AGC gain, dB.
    pub agc_gain_db: Option<Stats>,
    /// Compressor gain reduction, dB.
    pub compressor_gr_db: Option<Stats>,
    /// Limiter gain reduction, dB.
    pub limiter_gr_db: Option<Stats>,
    /// Mean audio callback time, µs.
    pub dsp_mean_us: Option<Stats>,
    /// Xruns that happened in the span (restarts counted from zero).
    pub xruns: u64,
    /// Marked moments in the span (restarts, bypass, profile changes, alerts).
    pub marks: usize,
    /// Of which alerts raised.
    pub alerts: usize,
}

/// New xruns over `samples` (the counter restarts with the daemon).
fn new_xruns(samples: &[HistorySample]) -> u64 {
    samples
        .windows(2)
        .map(|w| {
            if w[1].xruns >= w[0].xruns {
                w[1].xruns - w[0].xruns
            } else {
                w[1].xruns
            }
        })
        .sum()
}

/// The statistics of every figure of `h`.
pub fn summary(h: &History) -> Summary {
    let pick = |f: fn(&HistorySample) -> f32, loudness: bool| {
        Stats::of(
            h.samples
                .iter()
                .map(f)
                .filter(|v| !loudness || measured(*v))
                .collect(),
        )
    };
    Summary {
        from_unix_ms: h.samples.first().map(|s| s.unix_ms),
        to_unix_ms: h.samples.last().map(|s| s.unix_ms),
        samples: h.samples.len(),
        in_short_term_lufs: pick(|s| s.in_short_term_lufs, true),
        out_short_term_lufs: pick(|s| s.out_short_term_lufs, true),
        agc_gain_db: pick(|s| s.agc_gain_db, false),
        compressor_gr_db: pick(|s| s.compressor_gr_db, false),
        limiter_gr_db: pick(|s| s.limiter_gr_db, false),
        dsp_mean_us: pick(|s| s.dsp_mean_us, false),
        xruns: new_xruns(&h.samples),
        marks: h.marks.len(),
        alerts: h.marks.iter().filter(|m| m.kind == MarkKind::Alert).count(),
    }
}

/// The note for a `--since` reaching beyond what is kept, if it does.
fn kept_note(h: &History, view: &View) -> Option<String> {
    let (since, kept) = (view.since_secs?, h.kept_since_unix_ms?);
    let asked_from = view.now_unix_ms.saturating_sub(since.saturating_mul(1000));
    // A window reaching more than a minute before the oldest sample kept.
    (asked_from + 60_000 < kept).then(|| {
        format!(
            "note: headroomd keeps history from {} ({} back) — showing all of it\n",
            time_in(kept, &view.tz),
            uptime(view.now_unix_ms.saturating_sub(kept) / 1000)
        )
    })
}

/// The span line shared by `--summary` and `--plot`.
fn span_line(h: &History, view: &View) -> String {
    let (Some(first), Some(last)) = (h.samples.first(), h.samples.last()) else {
        return String::new();
    };
    format!(
        "{} to {} ({}, {} samples); times {}\n",
        time_in(first.unix_ms, &view.tz),
        time_in(last.unix_ms, &view.tz),
        uptime(last.unix_ms.saturating_sub(first.unix_ms) / 1000 + 1),
        h.samples.len(),
        view.tz_label
    )
}

/// `headroom history --summary`: minimum, median, 95th percentile and maximum of each
/// figure over the span, then the xruns and marks in it.
pub fn render_summary(h: &History, view: &View) -> String {
    let mut out = kept_note(h, view).unwrap_or_default();
    if h.samples.is_empty() {
        out.push_str("(no history in that window)\n");
        return out;
    }
    let s = summary(h);
    out.push_str(&span_line(h, view));
    let row = |name: &str, st: Option<Stats>, fmt: fn(f32) -> String| -> Vec<String> {
        let mut r = vec![name.to_string()];
        match st {
            Some(st) => {
                r.extend([st.min, st.median, st.p95, st.max].map(fmt));
                r.push(st.samples.to_string());
            }
            None => {
                r.extend(std::iter::repeat_n("—".to_string(), 4));
                r.push("0".into());
            }
        }
        r
    };
    let one = |v: f32| format!("{v:.1}");
    let signed = |v: f32| format!("{v:+.1}");
    let whole = |v: f32| format!("{v:.0}");
    let rows = vec![
        row("in S (LUFS)", s.in_short_term_lufs, one),
        row("out S (LUFS)", s.out_short_term_lufs, one),
        row("AGC gain (dB)", s.agc_gain_db, signed),
        row("comp GR (dB)", s.compressor_gr_db, one),
        row("limiter GR (dB)", s.limiter_gr_db, one),
        row("DSP mean (µs)", s.dsp_mean_us, whole),
    ];
    out.push_str(&table(
        &["FIGURE", "MIN", "MEDIAN", "P95", "MAX", "SAMPLES"],
        &rows,
    ));
    out.push_str(&format!(
        "xruns: {}; marks: {}, alerts raised: {}; loudness: measured samples only (above -70 LUFS)\n",
        s.xruns, s.marks, s.alerts
    ));
    out
}

/// Lowest loudness drawn by `--plot`, LUFS.
const PLOT_FLOOR: f64 = -60.0;

/// One value per column bucket of the span: the energy mean (loudness) or the mean (gains)
/// of the samples falling in it; buckets without samples are left out.
fn buckets(h: &History, n: usize, f: fn(&HistorySample) -> f32, loudness: bool) -> Vec<(f64, f64)> {
    let (Some(first), Some(last)) = (h.samples.first(), h.samples.last()) else {
        return Vec::new();
    };
    let (t0, span) = (first.unix_ms, (last.unix_ms - first.unix_ms).max(1));
    let mut out = Vec::new();
    let mut i = 0;
    while i < h.samples.len() {
        let b = |s: &HistorySample| {
            ((s.unix_ms - t0) as u128 * n as u128 / (span as u128 + 1)) as usize
        };
        let k = b(&h.samples[i]);
        let j = h.samples[i..]
            .iter()
            .position(|s| b(s) != k)
            .map_or(h.samples.len(), |x| i + x);
        let part = &h.samples[i..j];
        let v = if loudness {
            loudness_mean(part.iter().map(f)).map(|v| f64::from(v).max(PLOT_FLOOR))
        } else {
            Some(part.iter().map(|s| f64::from(f(s))).sum::<f64>() / part.len() as f64)
        };
        if let Some(v) = v {
            // The bucket's middle, in seconds from the first sample.
            let x = (k as f64 + 0.5) * (span as f64 + 1.0) / n as f64 / 1000.0;
            out.push((x, v));
        }
        i = j;
    }
    out
}

/// `headroom history --plot`: two charts over the span, `width` × `height` characters in
/// all — input and output short-term loudness (energy mean per column, −60…0 LUFS) above,
/// the AGC gain and the compressor + limiter gain reduction (as a negative gain) below —
/// drawn with ratatui into a buffer and printed once. With `color`, ANSI colours; without,
/// the series still differ by their marks (input `•`, output braille; GR `•`, AGC braille).
pub fn render_plot(h: &History, view: &View, width: u16, height: u16, color: bool) -> String {
    use ratatui::buffer::Buffer;
    use ratatui::layout::{Constraint, Layout, Rect};
    use ratatui::style::{Color, Style};
    use ratatui::symbols::Marker;
    use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Widget};

    let mut out = kept_note(h, view).unwrap_or_default();
    let (Some(first), Some(last)) = (h.samples.first(), h.samples.last()) else {
        out.push_str("(no history in that window)\n");
        return out;
    };
    out.push_str(&span_line(h, view));
    let (width, height) = (width.max(40), height.max(16));
    let area = Rect::new(0, 0, width, height);
    let mut buf = Buffer::empty(area);
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let span_s = (last.unix_ms - first.unix_ms + 1) as f64 / 1000.0;
    // Two buckets per column at least (braille has two dots across a cell).
    let n = usize::from(width) * 2;
    let input = buckets(h, n, |s| s.in_short_term_lufs, true);
    let output = buckets(h, n, |s| s.out_short_term_lufs, true);
    let agc = buckets(h, n, |s| s.agc_gain_db, false);
    let gr = buckets(h, n, |s| -(s.compressor_gr_db + s.limiter_gr_db), false);
    // `HH:MM`, with the day (`MM-DD HH:MM`) when the span is a day or longer.
    let long = last.unix_ms - first.unix_ms >= 86_400_000;
    let hhmm = |ms: u64| {
        let t = time_in(ms, &view.tz);
        if long {
            t[5..16].to_string()
        } else {
            t[11..16].to_string()
        }
    };
    let x_labels = [
        hhmm(first.unix_ms),
        hhmm(first.unix_ms + (last.unix_ms - first.unix_ms) / 2),
        hhmm(last.unix_ms),
    ];
    let dataset = |name: &'static str, marker, c: Color, data| {
        Dataset::default()
            .name(name)
            .marker(marker)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(c))
            .data(data)
    };
    let x_axis = || {
        Axis::default()
            .bounds([0.0, span_s])
            .labels(x_labels.clone())
    };
    let loud_labels: Vec<String> = if top.height >= 12 {
        (0..=6).map(|i| format!("{}", -60 + 10 * i)).collect()
    } else {
        (0..=3).map(|i| format!("{}", -60 + 20 * i)).collect()
    };
    Chart::new(vec![
        dataset("in S", Marker::Dot, Color::Blue, &input),
        dataset("out S", Marker::Braille, Color::Green, &output),
    ])
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(" Short-term loudness, LUFS: • in  ⠤ out "),
    )
    .x_axis(x_axis())
    .y_axis(
        Axis::default()
            .bounds([PLOT_FLOOR, 0.0])
            .labels(loud_labels),
    )
    // The legend is in the title, never over the data.
    .legend_position(None)
    .render(top, &mut buf);
    // Gains: from the span's extremes, rounded out to 6 dB, always including 0.
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for &(_, v) in agc.iter().chain(&gr) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let (lo, hi) = (
        (lo / 6.0).floor() * 6.0,
        ((hi / 6.0).ceil() * 6.0).max(lo + 6.0),
    );
    let mid = ((lo + hi) / 2.0).round();
    Chart::new(vec![
        dataset("GR", Marker::Dot, Color::Magenta, &gr),
        dataset("AGC", Marker::Braille, Color::Cyan, &agc),
    ])
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(" Gain, dB: ⠤ AGC  • compressor + limiter reduction "),
    )
    .x_axis(x_axis())
    .y_axis(
        Axis::default()
            .bounds([lo, hi])
            .labels([lo, mid, hi].map(|v| {
                if v == 0.0 {
                    "0".to_string()
                } else {
                    format!("{v:+.0}")
                }
            })),
    )
    // The legend is in the title, never over the data.
    .legend_position(None)
    .render(bottom, &mut buf);
    out.push_str(&buffer_text(&buf, color));
    let s = summary(h);
    out.push_str(&format!(
        "xruns: {}; marks: {}, alerts raised: {} (`headroom history` lists them)\n",
        s.xruns, s.marks, s.alerts
    ));
    out
}

/// A rendered buffer as text, trailing spaces cut; with `color`, ANSI foreground colours.
fn buffer_text(buf: &ratatui::buffer::Buffer, color: bool) -> String {
    use ratatui::style::Color;
    let code = |c: Color| -> Option<u8> {
        Some(match c {
            Color::Red => 31,
            Color::Green => 32,
            Color::Yellow => 33,
            Color::Blue => 34,
            Color::Magenta => 35,
            Color::Cyan => 36,
            _ => return None,
        })
    };
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        let mut current = None;
        for x in area.left()..area.right() {
            let cell = &buf[(x, y)];
            if color {
                let want = code(cell.fg).filter(|_| cell.symbol() != " ");
                if want != current {
                    match want {
                        Some(c) => line.push_str(&format!("\x1b[{c}m")),
                        None => line.push_str("\x1b[0m"),
                    }
                    current = want;
                }
            }
            line.push_str(cell.symbol());
        }
        if current.is_some() {
            line.push_str("\x1b[0m");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(Stats::of(vec![]), None);
        assert_eq!(Stats::of(vec![f32::NAN]), None);
        let s = Stats::of((1..=20).rev().map(|v| v as f32).collect()).unwrap();
        assert_eq!(
            (s.min, s.median, s.p95, s.max, s.samples),
            (1.0, 10.0, 19.0, 20.0, 20)
        );
        let s = Stats::of(vec![-3.0]).unwrap();
        assert_eq!((s.min, s.median, s.p95, s.max), (-3.0, -3.0, -3.0, -3.0));
    }

    #[test]
    fn energy_mean_ignores_unmeasured_values() {
        assert_eq!(loudness_mean([-70.0f32, -80.0].into_iter()), None);
        let m = loudness_mean([-20.0f32, -70.0].into_iter()).unwrap();
        assert!((m + 20.0).abs() < 1e-4, "{m}");
        // −10 and −20 LUFS: 10·log10((0.1 + 0.01)/2) ≈ −12.6.
        let m = loudness_mean([-10.0f32, -20.0].into_iter()).unwrap();
        assert!((m + 12.596).abs() < 0.01, "{m}");
    }
}
