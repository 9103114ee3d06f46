//! Human-readable formatting of values shared by the commands and the monitor.

use headroom_core::LUFS_FLOOR;
use headroom_ipc::{
    AlertKind, PipewireState, ProfileList, ProfileShow, ProfileSource, Route, Routes, RuleSource,
    SettingEntry, Status,
};

/// A loudness value, or `—` when at or below the −70 LUFS floor (no measurement).
pub fn lufs(v: f32) -> String {
    if v.is_finite() && f64::from(v) > LUFS_FLOOR {
        format!("{v:.1}")
    } else {
        "—".to_string()
    }
}

/// Whether a loudness value is a real measurement (above the floor).
pub fn measured(v: f32) -> bool {
    v.is_finite() && f64::from(v) > LUFS_FLOOR
}

/// A duration in seconds as `3d 4h`, `2h 05m`, `12m 30s` or `42s`.
pub fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn utc_time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (proleptic Gregorian), after H. Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A table with left-aligned columns separated by two spaces; trailing spaces trimmed.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(c)).collect())
        .collect();
    let rows = &rows[..];
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(c);
            if i + 1 < cells.len() {
                l.extend(std::iter::repeat_n(
                    ' ',
                    widths[i].saturating_sub(c.chars().count()),
                ));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

fn route_str(r: Route) -> &'static str {
    match r {
        Route::Processed => "processed",
        Route::Bypass => "bypass",
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Layer A's gain for a stream from its reduction (dB, positive = turned down, negative =
/// lifted), signed: `-3.5 dB` for a stream turned down, `+17.4 dB` for one lifted, `0.0 dB`
/// when there is neither.
pub fn layer_a_gain(reduction_db: f32) -> String {
    let gain = if reduction_db.is_finite() {
        -reduction_db
    } else {
        0.0
    };
    if gain.abs() < 0.05 {
        "0.0 dB".to_string()
    } else {
        format!("{gain:+.1} dB")
    }
}

/// The gain line of `status`: BYPASS while bypassed (nothing is applied, neither the chain
/// nor Layer A), else the gains in force.
fn gains(bypass: bool, m: &headroom_ipc::Meters) -> String {
    if bypass {
        "BYPASS (audio passes unchanged: no chain gain, no Layer A)".to_string()
    } else {
        format!(
            "AGC {:+.1} dB, compressor GR {:.1} dB, limiter GR {:.1} dB",
            m.agc_gain_db, m.compressor_gr_db, m.limiter_gr_db
        )
    }
}

/// The state word line and one line per active alert, as `status` starts. A profile error
/// the status carries in `profile_error` is shown once, on its own line at the end.
pub fn state_lines(s: &Status) -> String {
    let mut out = format!("State      {}\n", s.state.label());
    for a in &s.alerts {
        if a.kind == AlertKind::ProfileError && s.profile_error.is_some() {
            continue;
        }
        out.push_str(&format!(
            "Alert      {}: {}\n",
            a.kind,
            printable(&a.message)
        ));
    }
    out
}

/// `headroom status`.
pub fn status(s: &Status) -> String {
    state_lines(s) + &status_body(s)
}

fn status_body(s: &Status) -> String {
    let m = &s.meters;
    let pw = match &s.pipewire {
        PipewireState::Connected => "connected".to_string(),
        PipewireState::Disconnected { reason } => format!("disconnected ({})", printable(reason)),
    };
    let tp = if measured(m.out_true_peak_dbtp) {
        format!("{:.1} dBTP", m.out_true_peak_dbtp)
    } else {
        "—".to_string()
    };
    format!(
        "headroomd {} (protocol {}), up {}\n\
         PipeWire   {pw}\n\
         Output     {} → {}\n\
         Profile    {}\n\
         Bypass     {}\n\
         Loudness   in   M {:>5}  S {:>5}  I {:>5} LUFS\n\
         \x20          out  M {:>5}  S {:>5}  I {:>5} LUFS  (target {:.1})\n\
         True peak  out {tp}\n\
         Gain       {}\n\
         DSP        mean {:.1} µs, max {} µs, {} spikes, {} xruns\n\
         Streams    {}\n{}",
        s.daemon_version,
        s.protocol_version,
        uptime(s.uptime_s),
        printable(&s.processed_sink),
        output_target(s),
        printable(&s.profile),
        on_off(s.bypass),
        lufs(m.in_momentary_lufs),
        lufs(m.in_short_term_lufs),
        lufs(m.in_integrated_lufs),
        lufs(m.out_momentary_lufs),
        lufs(m.out_short_term_lufs),
        lufs(m.out_integrated_lufs),
        m.target_lufs,
        gains(s.bypass, m),
        s.dsp.mean_us,
        s.dsp.max_us,
        s.dsp.spike_count,
        s.xruns,
        s.streams,
        match &s.profile_error {
            Some(e) => format!("Profile error  {}{}\n", printable_text(e), in_force(s)),
            None => String::new(),
        } + &s
            .config_warnings
            .iter()
            .map(|w| format!("Config     {}\n", printable(w)))
            .collect::<String>()
            + &s.file_warnings
                .iter()
                .map(|w| format!("File       {}\n", printable(w)))
                .collect::<String>(),
    )
}

/// What a profile error means for what is in force, as the daemon says: whether the error
/// is about another profile's file ([`Status::profile_error_active`]) and what is in force
/// ([`Status::profile_in_force`]); nothing from daemons that say neither.
fn in_force(s: &Status) -> String {
    use headroom_ipc::ProfileInForce as F;
    let profile = printable(&s.profile);
    let fallback = match s.profile_in_force {
        Some(F::LastGood) | None => None,
        Some(F::Shipped) => Some(format!("in force: the shipped `{profile}` profile")),
        Some(F::Default) => Some(format!("in force: the `{profile}` profile")),
        Some(F::BuiltIn) => Some("in force: the built-in defaults".into()),
    };
    if s.profile_error_active == Some(false) {
        // Another profile's file: the active profile is not concerned.
        let unaffected = format!("not the active profile: `{profile}` is not affected");
        return match fallback {
            Some(f) => format!(" ({unaffected}; {f})"),
            None => format!(" ({unaffected})"),
        };
    }
    match (s.profile_in_force, fallback) {
        (_, Some(f)) => format!(" ({f})"),
        (Some(F::LastGood), None) => " (the last good profile stays active)".into(),
        _ => String::new(),
    }
}

/// How many channels the processed sink has (`processed_channels` counted), if known.
pub fn processed_channel_count(s: &Status) -> Option<usize> {
    s.processed_channels
        .as_deref()
        .map(|c| c.split_whitespace().count())
}

/// Where the processed sink plays, for the `Output` lines: the real sink, its channels when
/// the processed sink has other than two, and whether the processed sink is promoted to the
/// default sink.
fn output_target(s: &Status) -> String {
    let mut sink = printable(s.real_sink.as_deref().unwrap_or("(no output device)"));
    if let (Some(n), Some(ch)) = (processed_channel_count(s), s.processed_channels.as_deref()) {
        if n != 2 {
            sink = format!("{sink}, {n} channels ({})", printable(ch));
        }
    }
    if matches!(s.pipewire, PipewireState::Disconnected { .. }) && s.real_sink.is_some() {
        // Kept to play into once PipeWire is back; nothing plays meanwhile.
        return format!("{sink}  (once PipeWire is back: nothing plays now)");
    }
    if s.promote_default {
        format!(
            "{sink}  (promoted: {} is the default sink, {sink} your sink)",
            printable(&s.processed_sink)
        )
    } else {
        sink
    }
}

/// The `Output` line `headroom route list` starts with: the processed sink, the real sink it
/// plays into, and whether auto-promote is on.
pub fn output_line(s: &Status) -> String {
    format!(
        "Output     {} → {}\n",
        printable(&s.processed_sink),
        output_target(s)
    )
}

/// `headroom route list`.
pub fn routes(r: &Routes) -> String {
    let mut out = String::from("Rules\n");
    if r.rules.is_empty() {
        out.push_str("  (none: every stream takes the default route)\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .rules
            .iter()
            .map(|x| {
                vec![
                    x.app.clone(),
                    route_str(x.route).to_string(),
                    match x.source {
                        RuleSource::User => "user",
                        RuleSource::Profile => "profile",
                    }
                    .to_string(),
                ]
            })
            .collect();
        for l in table(&["APP", "ROUTE", "SOURCE"], &rows).lines() {
            out.push_str(&format!("  {l}\n"));
        }
    }
    out.push_str("Streams\n");
    if r.streams.is_empty() {
        out.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .streams
            .iter()
            .map(|x| {
                vec![
                    x.node_id.to_string(),
                    if x.app.is_empty() {
                        x.binary.clone().unwrap_or_else(|| "?".into())
                    } else {
                        x.app.clone()
                    },
                    route_str(x.route).to_string(),
                    x.matched_rule.clone().unwrap_or_else(|| "(none)".into()),
                    x.sink
                        .clone()
                        .or_else(|| x.target.clone())
                        .unwrap_or_else(|| "(not linked)".into()),
                    x.layer_a_reduction_db
                        .map(layer_a_gain)
                        .unwrap_or_else(|| "—".into()),
                    x.media_name.clone().unwrap_or_default(),
                ]
            })
            .collect();
        for l in table(
            &["ID", "APP", "ROUTE", "RULE", "SINK", "LAYER A", "MEDIA"],
            &rows,
        )
        .lines()
        {
            out.push_str(&format!("  {l}\n"));
        }
        for x in r.streams.iter().filter(|x| x.note.is_some()) {
            out.push_str(&format!(
                "  note: {} ({}): {}\n",
                x.node_id,
                printable(if x.app.is_empty() {
                    x.binary.as_deref().unwrap_or("?")
                } else {
                    &x.app
                }),
                printable(x.note.as_deref().unwrap_or_default())
            ));
        }
    }
    out
}

/// A setting's value as the CLI shows it: an empty string as `""` (else nothing would show
/// after `=`), anything else as it is.
fn value_text(v: &headroom_ipc::SettingValue) -> String {
    match v {
        headroom_ipc::SettingValue::String(s) if s.is_empty() => "\"\"".to_string(),
        v => v.to_string(),
    }
}

/// `headroom get KEY` / `headroom set KEY VALUE`.
pub fn setting(e: &SettingEntry) -> String {
    let (key, value) = (printable(&e.key), printable(&value_text(&e.value)));
    if e.overridden {
        let default = printable(&value_text(&e.default));
        format!("{key} = {value} (profile: {default})\n")
    } else {
        format!("{key} = {value}\n")
    }
}

/// `s` cut to `max` characters, ending in `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `headroom settings` / `headroom setting reset` (long values are clipped; `headroom get
/// KEY` and `--json` show them whole).
pub fn settings(list: &[SettingEntry]) -> String {
    if list.is_empty() {
        return "(no settings)\n".to_string();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|e| {
            vec![
                e.key.clone(),
                clip(&value_text(&e.value), 32),
                clip(&value_text(&e.default), 32),
                if e.overridden { "*" } else { "" }.to_string(),
            ]
        })
        .collect();
    let mut out = table(&["KEY", "VALUE", "PROFILE", "OVERRIDDEN"], &rows);
    if list.iter().any(|e| e.overridden) {
        out.push_str(
            "* set at run time; `headroom setting reset KEY|--all` restores the profile value\n",
        );
    }
    out
}

/// `headroom profile list`.
pub fn profile_list(p: &ProfileList) -> String {
    let rows: Vec<Vec<String>> = p
        .profiles
        .iter()
        .map(|e| {
            vec![
                if e.active { "*" } else { " " }.to_string(),
                e.name.clone(),
                match e.source {
                    ProfileSource::Shipped => "shipped",
                    ProfileSource::User => "user",
                }
                .to_string(),
                match &e.error {
                    Some(err) => format!("INVALID: {err}"),
                    None => e.description.clone(),
                },
            ]
        })
        .collect();
    table(&[" ", "NAME", "SOURCE", "DESCRIPTION"], &rows)
}

/// `headroom profile show`: a header, the settings changed at run time that are in force
/// over the profile and any errors of its file as comments, then the file.
pub fn profile_show(p: &ProfileShow) -> String {
    let mut out = format!(
        "# profile {} ({}, {})\n",
        printable(&p.name),
        match p.source {
            ProfileSource::Shipped => "shipped",
            ProfileSource::User => "user",
        },
        printable(&p.path)
    );
    // Comments only: the output stays a profile file (`profile show > mine.toml`).
    if !p.overrides.is_empty() {
        out.push_str("# runtime overrides in force (headroom set), over the values below:\n");
        for e in &p.overrides {
            out.push_str(&format!("#   {}", setting(e)));
        }
        out.push_str("# `headroom setting reset KEY|--all` restores the profile's values\n");
    }
    if let Some(err) = &p.error {
        out.push_str("# INVALID — this profile cannot be used until these are fixed:\n");
        for l in err.lines() {
            out.push_str(&format!("#   {}\n", printable(l)));
        }
    }
    let toml = printable_text(&p.toml);
    out.push_str(&toml);
    if !toml.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// `headroom profile use|reload`.
pub fn profile_active(name: &str) -> String {
    format!("active profile: {}\n", printable(name))
}

/// `headroom bypass …`.
pub fn bypass(on: bool) -> String {
    if on {
        "bypass on: audio passes unprocessed\n".to_string()
    } else {
        "bypass off: audio is processed\n".to_string()
    }
}

/// `headroom route set|unset`.
pub fn route_changed(app: &str, route: Option<Route>) -> String {
    match route {
        Some(r) => format!("{}: {}\n", printable(app), route_str(r)),
        None => format!("{}: rule removed (default route applies)\n", printable(app)),
    }
}

/// `s` with its control characters (escape sequences, newlines, …) written out as escapes
/// (`\u{1b}`): names and titles come from other programs (a stream's application and media
/// name), and must not act on the terminal or break a table's lines.
pub fn printable(s: &str) -> String {
    escape_controls(s, |_| false)
}

/// [`printable`] for text of several lines (a file, a multi-line message): its line breaks
/// (`\n`, `\r\n`) and tabs are kept, every other control character is written out as an
/// escape.
pub fn printable_text(s: &str) -> String {
    escape_controls(&s.replace("\r\n", "\n"), |c| c == '\n' || c == '\t')
}

/// `s` with every control character but those `keep` accepts written out as an escape.
fn escape_controls(s: &str, keep: impl Fn(char) -> bool) -> String {
    let escaped = |c: char| c.is_control() && !keep(c);
    if !s.chars().any(escaped) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if escaped(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_means_no_measurement() {
        assert_eq!(lufs(-23.04), "-23.0");
        assert_eq!(lufs(-70.0), "—");
        assert_eq!(lufs(f32::NEG_INFINITY), "—");
        assert!(!measured(-70.0));
        assert!(measured(-69.9));
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(layer_a_gain(0.0), "0.0 dB");
        assert_eq!(layer_a_gain(-0.01), "0.0 dB");
        assert_eq!(layer_a_gain(3.46), "-3.5 dB");
        // A lifted stream (negative reduction) shows its boost.
        assert_eq!(layer_a_gain(-17.4), "+17.4 dB");
        assert_eq!(layer_a_gain(f32::NAN), "0.0 dB");
    }

    #[test]
    fn names_from_other_programs_cannot_reach_the_terminal() {
        assert_eq!(printable("mpv"), "mpv");
        assert_eq!(printable("évil\u{1b}[31mred\n"), "évil\\u{1b}[31mred\\n");
        let t = table(&["APP"], &[vec!["a\u{1b}]0;title\u{7}".into()]]);
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        assert_eq!(t.lines().count(), 2);
    }

    #[test]
    fn uptime_and_time() {
        assert_eq!(uptime(42), "42s");
        assert_eq!(uptime(750), "12m 30s");
        assert_eq!(uptime(7500), "2h 05m");
        assert_eq!(uptime(3 * 86400 + 4 * 3600 + 5), "3d 4h");
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00");
    }
}
