//! Snapshot tests of the monitor layout on a `TestBackend` with fixed data.

use headroom_cli::monitor::{draw, Banner, DspView, MeterView, MonitorState, StreamRow};
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

fn render(state: &MonitorState, w: u16, h: u16) -> (Vec<String>, ratatui::buffer::Buffer) {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, state)).unwrap();
    let buf = term.backend().buffer().clone();
    let lines = (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect();
    (lines, buf)
}

fn find(lines: &[String], needle: &str) -> Option<(usize, usize)> {
    lines
        .iter()
        .enumerate()
        .find_map(|(y, l)| l.find(needle).map(|byte| (l[..byte].chars().count(), y)))
}

fn has(lines: &[String], needle: &str) -> bool {
    find(lines, needle).is_some()
}

/// Braille cells (chart points) in `rows` of a 100-column buffer, by colour: input
/// (blue), output (green), gain reduction (red).
fn chart_dots(buf: &ratatui::buffer::Buffer, rows: std::ops::Range<u16>) -> (usize, usize, usize) {
    let (mut blue, mut green, mut red) = (0, 0, 0);
    for y in rows {
        for x in 0..100u16 {
            let c = &buf[(x, y)];
            if c.symbol()
                .chars()
                .any(|ch| ('\u{2801}'..='\u{28ff}').contains(&ch))
            {
                match c.fg {
                    Color::Blue => blue += 1,
                    Color::Green => green += 1,
                    Color::Red => red += 1,
                    _ => {}
                }
            }
        }
    }
    (blue, green, red)
}

fn live_state() -> MonitorState {
    let mut s = MonitorState::new(vec!["meters".into(), "routing".into()]);
    s.set_status(
        "0.1.0",
        "night",
        7500,
        DspView {
            mean_us: 12.5,
            max_us: 95,
            spikes: 0,
            xruns: 3,
            calls: 0,
            load_pct: None,
        },
        100_000,
    );
    for i in 0..50u64 {
        s.set_meters(
            MeterView {
                in_m: -21.0,
                in_s: -22.4,
                in_i: -23.0,
                out_m: -16.2,
                out_s: -16.1,
                out_i: -16.0,
                out_tp: -1.3,
                agc_gain_db: 6.2,
                comp_gr_db: 2.5,
                lim_gr_db: 0.7,
                target_lufs: -16.0,
                bypass: false,
            },
            100_000 + i * 100,
        );
    }
    s.tick(105_000);
    s.set_streams(vec![
        StreamRow {
            node_id: 41,
            app: "Firefox".into(),
            media: Some("Some video".into()),
            route: "processed".into(),
            layer_a_db: Some(3.5),
            rule_app: Some("Firefox".into()),
            sink: Some("Headroom (processed)".into()),
        },
        StreamRow {
            node_id: 42,
            app: "mpv".into(),
            media: None,
            route: "bypass".into(),
            layer_a_db: None,
            rule_app: Some("mpv".into()),
            sink: Some("Speakers".into()),
        },
    ]);
    s
}

/// [`live_state`] with the state word LIMITING, Firefox's own loudness from its Layer A tap
/// and an active sustained-limiting alert.
fn limiting_state() -> MonitorState {
    use headroom_ipc::{Alert, AlertKind, Event, LayerALevel, Meters, StateWord};
    let mut s = live_state();
    s.daemon.apply(&Event::meters_tick_in(
        StateWord::Limiting,
        Meters::silent(-16.0),
        vec![LayerALevel {
            node_id: 41,
            app: "Firefox".into(),
            short_term_lufs: -12.3,
            reduction_db: 3.5,
        }],
    ));
    s.daemon.apply(&Event::AlertRaised(Alert {
        kind: AlertKind::SustainedLimiting,
        message: "the limiter has held about 6.5 dB".into(),
        since_unix_ms: 1,
    }));
    s
}

#[test]
fn live_layout_shows_every_panel_with_values() {
    let (lines, _) = render(&live_state(), 100, 34);
    let screen = lines.join("\n");
    for needle in [
        "headroom monitor",
        "headroomd 0.1.0",
        "profile night",
        "up 2h 05m",
        "Bus DSP",
        "AGC gain    +6.2 dB",
        "Comp GR      2.5 dB",
        "Limiter GR   0.7 dB",
        "True peak   -1.3 / -1.0 dBTP",
        "Loudness (LUFS)",
        "Short-term loudness, last 60 s",
        "Streams (2)",
        "Firefox",
        "Some video",
        "processed",
        "-3.5 dB",
        "mpv",
        "bypass",
        "DSP load —  mean 12.5 µs  max 95 µs  spikes 0  xruns 3",
        "topics: meters,routing",
        "q quit",
    ] {
        assert!(has(&lines, needle), "missing {needle:?} in\n{screen}");
    }
    assert!(!screen.contains("stale"), "{screen}");
    assert!(!screen.contains("DISCONNECTED"), "{screen}");
    // Loudness table: the short-term row reads in, out, target in that order.
    let (_, y) = find(&lines, "Short-term ").unwrap();
    let row = &lines[y];
    let (a, b, c) = (
        row.find("-22.4").unwrap(),
        row.find("-16.1").unwrap(),
        row.rfind("-16.0").unwrap(),
    );
    assert!(a < b && b < c, "{row}");
}

#[test]
fn chart_plots_both_series() {
    let (lines, buf) = render(&live_state(), 100, 34);
    let (_, top) = find(&lines, "Short-term loudness, last 60 s").unwrap();
    let (_, streams) = find(&lines, "Streams (2)").unwrap();
    let (blue, green, red) = chart_dots(&buf, top as u16..streams as u16);
    // …and the gain reduction (3.2 dB in every tick of the fixture).
    assert!(
        blue > 0 && green > 0 && red > 0,
        "in={blue} out={green} gain reduction={red}\n{}",
        lines.join("\n")
    );
}

#[test]
fn no_measurement_and_stale_values_are_greyed() {
    let mut s = live_state();
    let mut m = s.meters.unwrap();
    m.in_m = -70.0;
    m.in_i = f32::NEG_INFINITY;
    s.set_meters(m, 105_000);
    s.tick(105_100);
    let (lines, buf) = render(&s, 100, 34);
    let (_, y) = find(&lines, "Momentary").unwrap();
    let row = &lines[y];
    assert!(row.contains('—'), "{row}");
    let dash_x = row.chars().position(|c| c == '—').unwrap() as u16;
    assert_eq!(buf[(dash_x, y as u16)].fg, Color::DarkGray);
    let out_x = row[..row.find("-16.2").unwrap()].chars().count() as u16;
    assert_ne!(
        buf[(out_x, y as u16)].fg,
        Color::DarkGray,
        "live value greyed: {row}"
    );

    // Ten seconds without a meter tick: everything greys and the title says stale.
    s.tick(115_000);
    let (lines, buf) = render(&s, 100, 34);
    assert!(
        has(&lines, "Loudness (LUFS) — stale"),
        "{}",
        lines.join("\n")
    );
    let (_, y) = find(&lines, "Momentary").unwrap();
    let row = &lines[y];
    let out_x = row[..row.find("-16.2").unwrap()].chars().count() as u16;
    assert_eq!(
        buf[(out_x, y as u16)].fg,
        Color::DarkGray,
        "stale value not greyed: {row}"
    );
}

#[test]
fn banners_and_bypass_show() {
    let mut s = limiting_state();
    let (lines, _) = render(&s, 100, 34);
    assert!(lines[0].contains("LIMITING"), "{}", lines[0]);
    s.disconnected("connection refused", 106_000);
    // Said in the title (not the daemon's last state word) and in the banner, also in a
    // small terminal (at 60×15 the chart squeezed the banner out).
    for (w, h) in [(100, 34), (80, 24), (60, 15), (60, 12)] {
        let (lines, _) = render(&s, w, h);
        let screen = lines.join("\n");
        assert!(lines[0].contains("DISCONNECTED"), "{w}x{h}:\n{screen}");
        assert!(!lines[0].contains("LIMITING"), "{w}x{h}:\n{screen}");
        assert!(
            has(&lines, "DISCONNECTED: connection"),
            "{w}x{h}:\n{screen}"
        );
    }

    let mut s = live_state();
    s.set_banner(Banner::Overflow("12 events dropped".into()), 105_000);
    let mut m = s.meters.unwrap();
    m.bypass = true;
    s.set_meters(m, 105_000);
    let (lines, _) = render(&s, 100, 34);
    assert!(
        has(&lines, "OVERFLOW: 12 events dropped"),
        "{}",
        lines.join("\n")
    );
    assert!(lines[0].contains("BYPASS"), "{}", lines[0]);
    // The gain gauges say BYPASS instead of the chain's last gains.
    for g in ["AGC gain", "Comp GR", "Limiter GR"] {
        let row = lines.iter().find(|l| l.contains(g)).unwrap();
        assert!(row.contains("BYPASS"), "{row}");
        assert!(!row.contains(" dB"), "stale gain shown: {row}");
    }
}

#[test]
fn empty_state_and_help_overlay() {
    let mut s = MonitorState::new(vec![]);
    let (lines, _) = render(&s, 80, 24);
    let screen = lines.join("\n");
    assert!(has(&lines, "(no streams)"), "{screen}");
    assert!(has(&lines, "topics: all"), "{screen}");
    assert!(has(&lines, "stale"), "{screen}");
    assert!(!has(&lines, "toggle bypass"));
    s.show_help = true;
    let (lines, _) = render(&s, 80, 24);
    assert!(has(&lines, "toggle bypass"), "{}", lines.join("\n"));
    assert!(has(&lines, "next profile"));
}

#[test]
fn tiny_terminal_does_not_panic() {
    let s = live_state();
    for (w, h) in [(1, 1), (10, 3), (20, 10), (40, 12)] {
        let _ = render(&s, w, h);
    }
}

#[test]
fn chart_leaves_out_points_without_measurement() {
    let mut s = MonitorState::new(vec![]);
    for i in 0..100u64 {
        let m = MeterView {
            in_s: -70.0,
            out_s: f32::NEG_INFINITY,
            ..Default::default()
        };
        s.set_meters(m, i * 100);
    }
    let (lines, _) = render(&s, 100, 34);
    let plotted = lines
        .iter()
        .flat_map(|l| l.chars())
        .filter(|c| ('\u{2801}'..='\u{28ff}').contains(c))
        .count();
    assert_eq!(plotted, 0, "{}", lines.join("\n"));
}

#[test]
fn dsp_line_shows_load_and_alerts() {
    let mut s = live_state();
    s.dsp.load_pct = Some(2.54);
    s.dsp.spikes = 4;
    let (lines, buf) = render(&s, 100, 34);
    let (x, y) = find(&lines, "DSP load 2.5 %  mean 12.5 µs").expect("dsp line");
    let (sx, _) = find(&lines, "spikes 4").unwrap();
    assert_eq!(
        buf[(sx as u16, y as u16)].fg,
        Color::Red,
        "spikes not highlighted"
    );
    assert_ne!(buf[(x as u16 + 1, y as u16)].fg, Color::Red);
}

/// At 80×24: the state word first in the title, an active alert, each app's loudness in the
/// streams table, the LUFS axis labelled every 10 LU, the target in the legend, the footer.
#[test]
fn state_word_alerts_app_loudness_and_axis_at_80x24() {
    let s = limiting_state();
    let (lines, _) = render(&s, 80, 24);
    let screen = lines.join("\n");
    assert!(lines[0].contains(" LIMITING "), "{}", lines[0]);
    let word = lines[0].find("LIMITING").unwrap();
    assert!(
        word < lines[0].find("headroom monitor").unwrap(),
        "{}",
        lines[0]
    );
    assert!(has(&lines, "ALERT sustained_limiting"), "{screen}");
    assert!(has(&lines, "-12.3"), "{screen}");
    // mpv has no tap: no loudness, a dash.
    let mpv = lines.iter().find(|l| l.contains("mpv")).unwrap();
    assert!(mpv.contains('—'), "{mpv}");
    for label in ["-40", "-20"] {
        assert!(has(&lines, label), "axis label {label}:\n{screen}");
    }
    // With room for them, a label every 10 LU.
    let (tall, _) = render(&s, 120, 40);
    for label in ["-50", "-40", "-30", "-20", "-10"] {
        assert!(
            has(&tall, label),
            "axis label {label}:\n{}",
            tall.join("\n")
        );
    }
    // The legend (with the target line) where the chart has room for it.
    assert!(has(&tall, "target"), "{}", tall.join("\n"));
    assert!(has(&lines, "q quit"), "footer:\n{screen}");
}

/// Without meters (e.g. `monitor routing`), loudness shows "—", never 0.0.
#[test]
fn absent_meters_show_dashes_not_zero() {
    let mut s = MonitorState::new(vec!["routing".into()]);
    s.tick(1_000);
    let (lines, _) = render(&s, 100, 34);
    for row in ["Momentary", "Short-term", "Integrated", "True peak"] {
        let line = lines.iter().find(|l| l.contains(row)).unwrap();
        let line = &line[line.find(row).unwrap()..];
        assert!(line.contains('—') && !line.contains("0.0 "), "{line}");
    }
}

/// At 80×24, 120×40 and 200×60 with an alert and a long profile error: the title whole,
/// the chart with more than 4 plot rows, every 10 LU labelled, its target line and legend;
/// the streams table with each app's loudness; the error wrapped at spaces with nothing lost;
/// the footer intact.
#[test]
fn layout_stays_readable_at_80x24_120x40_200x60() {
    let mut s = limiting_state();
    let error = "/home/user/.config/headroom/profiles/night.toml:12:5: agc.target_lufs must be \
                 between -40 and -10, got -5 (the profile keeps its last good version)";
    s.set_banner(Banner::Error(error.into()), 105_000);
    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        let (lines, buf) = render(&s, w, h);
        let screen = lines.join("\n");
        let at = format!("{w}×{h}:\n{screen}");
        for needle in ["LIMITING", "headroom monitor", "profile night", "up 2h 05m"] {
            assert!(lines[0].contains(needle), "title {needle:?} at {at}");
        }
        // The chart: title row, plot rows down to the axis line.
        let (_, top) = find(&lines, "Short-term loudness, last 60 s").expect(&at);
        assert!(lines[top].contains("• target"), "legend at {at}");
        assert!(
            lines[top].contains("■ GR dB"),
            "gain reduction legend at {at}"
        );
        let axis = (top + 1..lines.len())
            .find(|&y| lines[y].contains("└──"))
            .expect(&at);
        let plot_rows = axis - top - 1;
        assert!(plot_rows > 4, "{plot_rows} plot rows at {at}");
        for label in ["-60", "-50", "-40", "-30", "-20", "-10", "0 "] {
            assert!(
                lines[top + 1..axis]
                    .iter()
                    .any(|l| l[..l.char_indices().nth(8).map_or(l.len(), |(i, _)| i)]
                        .contains(label)),
                "axis label {label:?} at {at}"
            );
        }
        let target_dots = (top + 1..axis)
            .flat_map(|y| (0..w).map(move |x| (x, y as u16)))
            .filter(|&(x, y)| buf[(x, y)].symbol() == "•" && buf[(x, y)].fg == Color::Yellow)
            .count();
        assert!(target_dots > 10, "target line at {at}");
        // Streams, each app's loudness.
        for needle in [
            "Streams (2)",
            "Firefox",
            "-12.3",
            "-3.5 dB",
            "mpv",
            "bypass",
        ] {
            assert!(has(&lines, needle), "{needle:?} at {at}");
        }
        // The sink each stream plays into, where the table has room for it (it is left
        // out whole at 80 columns, never cut).
        if w >= 120 {
            for needle in ["Sink", "Headroom (processed)", "Speakers"] {
                assert!(has(&lines, needle), "{needle:?} at {at}");
            }
        } else {
            assert!(!has(&lines, "Headroom (proc"), "a cut sink name at {at}");
        }
        assert!(has(&lines, "ALERT sustained_limiting"), "alert at {at}");
        // The error: wrapped at spaces, every word there, in order.
        let (_, first) = find(&lines, "ERROR:").expect(&at);
        let footer = lines.len() - 2;
        assert!(
            lines[footer].contains("q quit") && lines[footer].contains("? help"),
            "{at}"
        );
        let shown: Vec<&str> = lines[first..footer]
            .iter()
            .flat_map(|l| l.trim_matches(|c| c == '│' || c == ' ').split_whitespace())
            .collect();
        let want: Vec<&str> = format!("ERROR: {error}")
            .leak()
            .split_whitespace()
            .collect();
        assert_eq!(shown, want, "error text at {at}");
    }
}

/// Started against a daemon with history, the chart shows the last minute at once.
#[test]
fn chart_starts_with_the_daemons_history() {
    let mut s = MonitorState::new(vec![]);
    let now_unix = 1_700_000_000_000u64;
    let samples: Vec<(u64, f32, f32, f32)> = (0..60)
        .map(|i| {
            (
                now_unix - 59_000 + i * 1000,
                -30.0,
                -18.0,
                if i >= 30 { 6.0 } else { 0.0 },
            )
        })
        .collect();
    s.prefill_history(&samples, now_unix, 5_000);
    s.tick(5_000);
    let (lines, buf) = render(&s, 100, 34);
    let (_, top) = find(&lines, "Short-term loudness, last 60 s").unwrap();
    let (blue, green, red) = chart_dots(&buf, top as u16..34);
    // 60 s of both series across the plot (≈ 90 columns); the gain reduction only over
    // the last 30 s, where there was some.
    assert!(
        blue > 60 && green > 60,
        "in={blue} out={green}\n{}",
        lines.join("\n")
    );
    assert!(
        (15..60).contains(&red),
        "gain reduction over half the chart: {red} cells\n{}",
        lines.join("\n")
    );
}

/// A media name longer than its column ends in `…`, leaving a space before the loudness.
#[test]
fn long_names_end_in_an_ellipsis() {
    let mut s = live_state();
    s.streams[0].media = Some("/tmp/headroom-sandbox-MkH5W/a-very-long-file-name.wav".into());
    let (lines, _) = render(&s, 80, 24);
    let row = lines.iter().find(|l| l.contains("Firefox")).unwrap();
    assert!(row.contains("… "), "{row}");
    assert!(row.contains(" processed"), "{row}");
}

#[test]
fn the_title_names_a_surround_buses_channels_and_not_a_stereo_ones() {
    let mut s = live_state();
    s.real_sink = "receiver".into();
    s.channels = 6;
    let (lines, _) = render(&s, 120, 34);
    assert!(has(&lines, "— → receiver, 6 ch "), "{}", lines[0]);
    s.channels = 2;
    let (lines, _) = render(&s, 120, 34);
    assert!(has(&lines, "— → receiver "), "{}", lines[0]);
    assert!(!has(&lines, " ch "), "{}", lines[0]);
}

#[test]
fn a_profile_change_shows_the_new_profiles_ceiling_at_once() {
    use headroom_ipc::{Event, ProfileSource, SettingEntry, SettingValue, Settings};
    let settings = |ceiling: f64| {
        Event::SettingsSnapshot(Settings {
            settings: vec![SettingEntry {
                key: "limiter.ceiling_dbtp".into(),
                value: SettingValue::Float(ceiling),
                default: SettingValue::Float(ceiling),
                overridden: false,
            }],
        })
    };
    let mut s = live_state();
    headroom_cli::monitor::apply_event(&mut s, &settings(-1.0), 105_000);
    // What the daemon publishes when another profile goes in force: every setting, then
    // the profile's name.
    headroom_cli::monitor::apply_event(&mut s, &settings(-3.0), 105_100);
    headroom_cli::monitor::apply_event(
        &mut s,
        &Event::profile_changed("speech", ProfileSource::Shipped),
        105_100,
    );
    let (lines, _) = render(&s, 100, 34);
    let screen = lines.join("\n");
    assert!(has(&lines, "profile speech"), "{screen}");
    assert!(has(&lines, "True peak   -1.3 / -3.0 dBTP"), "{screen}");
    assert_eq!(
        s.daemon.setting("limiter.ceiling_dbtp").unwrap().default,
        SettingValue::Float(-3.0)
    );
}
