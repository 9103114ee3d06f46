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
        m.text
    )
}

/// `headroom history`, summarised as `view` says.
pub fn render(h: &History, view: &View) -> String {
    let mut out = String::new();
    if let (Some(since), Some(kept)) = (view.since_secs, h.kept_since_unix_ms) {
        let asked_from = view.now_unix_ms.saturating_sub(since.saturating_mul(1000));
        // A window reaching more than a minute before the oldest sample kept.
        if asked_from + 60_000 < kept {
            out.push_str(&format!(
                "note: headroomd keeps history from {} ({} back) — showing all of it\n",
                time_in(kept, &view.tz),
                uptime(view.now_unix_ms.saturating_sub(kept) / 1000)
            ));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
