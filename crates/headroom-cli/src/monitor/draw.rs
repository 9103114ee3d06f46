//! Drawing of the monitor: a pure function of [`MonitorState`].

use headroom_ipc::StateWord;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, LineGauge, Paragraph, Row, Table,
    TableState,
};
use ratatui::Frame;

use super::state::{Banner, MeterView, MonitorState};
use crate::format::{clip, lufs, measured, uptime};

/// Lowest loudness drawn in the history chart, LUFS.
const CHART_FLOOR: f64 = -60.0;

fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}

/// The colours of the state word.
fn word_style(w: StateWord) -> Style {
    let (fg, bg) = match w {
        StateWord::Levelling => (Color::Black, Color::Green),
        StateWord::Quiet => (Color::Black, Color::Gray),
        StateWord::Limiting => (Color::Black, Color::Magenta),
        StateWord::Bypass => (Color::Black, Color::Yellow),
        StateWord::NoOutput | StateWord::Degraded => (Color::White, Color::Red),
        StateWord::Unknown => (Color::Black, Color::Gray),
    };
    Style::default().fg(fg).bg(bg).add_modifier(Modifier::BOLD)
}

/// Whether `spans` plus `extra` fit in `width` columns.
fn fits(spans: &[Span], extra: &str, width: usize) -> bool {
    spans
        .iter()
        .map(|s| s.content.chars().count())
        .sum::<usize>()
        + extra.chars().count()
        <= width
}

/// The title: the state word first, then as many of the other parts as fit whole in
/// `width` (a part that does not fit is left out, never cut).
fn title_line(s: &MonitorState, width: usize) -> Line<'static> {
    let mut spans = Vec::new();
    let disconnected = matches!(s.banner, Some(Banner::Disconnected(_)));
    match s.daemon.state_word {
        // The daemon is gone: its last word no longer says what it does.
        _ if disconnected => spans.push(Span::styled(
            " DISCONNECTED ",
            Style::default().fg(Color::White).bg(Color::Red),
        )),
        Some(w) => spans.push(Span::styled(format!(" {} ", w.label()), word_style(w))),
        None if s.meters.is_some_and(|m| m.bypass) => spans.push(Span::styled(
            " BYPASS ",
            Style::default().fg(Color::Black).bg(Color::Yellow),
        )),
        None => {}
    }
    spans.push(Span::styled(
        " headroom monitor ",
        Style::default().add_modifier(Modifier::BOLD),
    ));
    let mut parts = Vec::new();
    if !s.version.is_empty() {
        parts.push(format!("— profile {} ", s.profile));
        parts.push(format!("— up {} ", uptime(s.uptime_now())));
        if !s.real_sink.is_empty() {
            match s.channels {
                0 | 2 => parts.push(format!("— → {} ", s.real_sink)),
                n => parts.push(format!("— → {}, {n} ch ", s.real_sink)),
            }
        }
        parts.push(format!("— headroomd {} ", s.version));
    }
    // In display order: version, profile, uptime, sink; dropped from the end of `parts`
    // (version first, then the sink) when the line is too narrow.
    let promoted = s.promoted.then_some(" DEFAULT SINK ");
    let mut keep = parts.len();
    let total = |k: usize| {
        parts[..k].iter().map(|p| p.chars().count()).sum::<usize>()
            + promoted.map_or(0, |p| p.chars().count())
    };
    while keep > 0 && !fits(&spans, &" ".repeat(total(keep)), width) {
        keep -= 1;
    }
    let mut shown: Vec<&String> = parts[..keep].iter().collect();
    // The version reads first when it is shown.
    if keep == parts.len() && keep > 0 {
        shown.rotate_right(1);
    }
    spans.extend(shown.into_iter().map(|p| Span::raw(p.clone())));
    if let Some(p) = promoted {
        if fits(&spans, p, width) {
            spans.push(Span::styled(
                p,
                Style::default().fg(Color::Black).bg(Color::Cyan),
            ));
        }
    }
    Line::from(spans)
}

/// `text` broken into lines of at most `width` columns at spaces; a word longer than a line
/// is the only thing broken inside (it could not be shown otherwise).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let (lw, ww) = (line.chars().count(), word.chars().count());
        if lw > 0 && lw + 1 + ww <= width {
            line.push(' ');
            line.push_str(word);
            continue;
        }
        if lw > 0 {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest: Vec<char> = word.chars().collect();
        while rest.len() > width {
            lines.push(rest.drain(..width).collect());
        }
        line = rest.into_iter().collect();
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// At most `max` lines; when there were more, the last shown ends with `…` (after a whole
/// word).
fn at_most(mut lines: Vec<String>, max: usize, width: usize) -> Vec<String> {
    if lines.len() > max && max > 0 {
        lines.truncate(max);
        let last = lines.last_mut().expect("max > 0");
        while last.chars().count() + 2 > width {
            match last.rfind(' ') {
                Some(i) => last.truncate(i),
                None => {
                    last.clear();
                    break;
                }
            }
        }
        last.push_str(" …");
    }
    lines
}

/// The banner's text and colours.
fn banner_text(b: &Banner) -> (String, Style) {
    match b {
        Banner::Disconnected(why) => (
            format!("DISCONNECTED: {why} — retrying"),
            Style::default().fg(Color::White).bg(Color::Red),
        ),
        Banner::Overflow(what) => (
            format!("OVERFLOW: {what}"),
            Style::default().fg(Color::Black).bg(Color::Yellow),
        ),
        Banner::Error(what) => (
            format!("ERROR: {what}"),
            Style::default().fg(Color::White).bg(Color::Red),
        ),
        Banner::Info(what) => (
            what.clone(),
            Style::default().fg(Color::Black).bg(Color::Cyan),
        ),
    }
}

/// The footer: the keys, and the topics when they fit; keys that do not fit are left out
/// from the end, `? help` always stays.
fn footer_line(s: &MonitorState, width: usize) -> Line<'static> {
    let topics = if s.topics.is_empty() {
        "all".to_string()
    } else {
        s.topics.join(",")
    };
    let mut keys = vec![
        " q quit",
        "  b bypass",
        "  p profile",
        "  ↑↓ r route",
        "  a Layer A",
    ];
    let help = "  ? help";
    let topics = format!(" topics: {topics} ");
    let len =
        |k: &[&str]| k.iter().map(|x| x.chars().count()).sum::<usize>() + help.chars().count();
    while len(&keys) > width && !keys.is_empty() {
        keys.pop();
    }
    let mut spans = Vec::new();
    if len(&keys) + topics.chars().count() <= width {
        spans.push(Span::styled(topics, dim()));
    }
    spans.extend(keys.into_iter().map(Span::raw));
    spans.push(Span::raw(help));
    Line::from(spans)
}

/// Renders the whole monitor into `frame`. Below 32 rows the meters collapse into two
/// lines and the streams table loses its side borders, so the chart keeps its rows; the
/// title, alerts, banner and footer leave out or wrap whole words, never cut one.
pub fn draw(frame: &mut Frame, s: &MonitorState) {
    let area = frame.area();
    let outer = Block::default()
        .borders(Borders::ALL)
        .title(title_line(s, usize::from(area.width.saturating_sub(2))));
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let width = usize::from(inner.width);
    let compact = inner.height < 30;

    let alerts = alert_lines(s, width, if compact { 2 } else { 4 });
    let banner = s.banner.as_ref().map(|b| {
        let (text, style) = banner_text(b);
        let lines = at_most(
            wrap(&text, width.saturating_sub(2)),
            3,
            width.saturating_sub(2),
        );
        let lines: Vec<Line> = lines
            .into_iter()
            .map(|l| Line::styled(format!(" {l} "), style))
            .collect();
        lines
    });
    let banner_h = banner.as_ref().map_or(0, |b| b.len() as u16);
    let mut shown_streams = s.streams.len().clamp(1, if compact { 4 } else { 8 }) as u16;
    let top_h = if compact { 2 } else { 6 };
    let streams_extra = if compact { 2 } else { 3 };
    let mut dsp_h = 1;
    // The chart keeps at least 7 plot rows (11 with its borders and axis: a row for each
    // 10 LU label): the DSP line goes first, then stream rows (the table scrolls to the
    // selection).
    let chart_h = |streams: u16, dsp: u16| {
        inner.height.saturating_sub(
            top_h + streams + streams_extra + dsp + alerts.len() as u16 + banner_h + 1,
        )
    };
    while chart_h(shown_streams, dsp_h) < 11 {
        if dsp_h > 0 {
            dsp_h = 0;
        } else if shown_streams > 1 {
            shown_streams -= 1;
        } else {
            break;
        }
    }
    // In a very small terminal the chart gives way too: the banner (a lost daemon), alerts
    // and footer are never squeezed out by it.
    let chart_min = chart_h(shown_streams, dsp_h).min(11);
    let [top, chart, streams, dsp, alerts_area, banner_area, footer] = Layout::vertical([
        Constraint::Length(top_h),
        Constraint::Min(chart_min),
        Constraint::Length(shown_streams + streams_extra),
        Constraint::Length(dsp_h),
        Constraint::Length(alerts.len() as u16),
        Constraint::Length(banner_h),
        Constraint::Length(1),
    ])
    .areas(inner);
    if !alerts.is_empty() {
        frame.render_widget(Paragraph::new(alerts), alerts_area);
    }
    if compact {
        draw_compact_meters(frame, top, s);
    } else {
        let [gauges, loudness] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
        draw_gauges(frame, gauges, s);
        draw_loudness(frame, loudness, s);
    }
    draw_chart(frame, chart, s);
    draw_streams(frame, streams, s, compact);
    if dsp_h > 0 {
        draw_dsp(frame, dsp, s);
    }
    if let Some(lines) = banner {
        frame.render_widget(Paragraph::new(lines), banner_area);
    }
    frame.render_widget(Paragraph::new(footer_line(s, width)), footer);
    if s.show_help {
        draw_help(frame, area);
    }
}

/// The meters in two lines (small terminals): gains and true peak; loudness in and out
/// against the target.
fn draw_compact_meters(frame: &mut Frame, area: Rect, s: &MonitorState) {
    let stale = s.meters_stale();
    let m = s.meters.unwrap_or_else(MeterView::absent);
    let value = |v: String, measured_: bool| {
        let style = if stale || !measured_ {
            dim()
        } else {
            Style::default()
        };
        Span::styled(v, style)
    };
    let gains = if m.bypass {
        vec![Span::raw(" gains: BYPASS  ")]
    } else if s.meters.is_none() {
        vec![
            Span::raw(" AGC "),
            value("—".into(), false),
            Span::raw("  "),
        ]
    } else {
        vec![
            Span::raw(" AGC "),
            value(format!("{:+.1} dB", m.agc_gain_db), s.meters.is_some()),
            Span::raw("  comp GR "),
            value(format!("{:.1} dB", m.comp_gr_db), s.meters.is_some()),
            Span::raw("  limiter GR "),
            value(format!("{:.1} dB", m.lim_gr_db), s.meters.is_some()),
            Span::raw("  "),
        ]
    };
    let tp = if measured(m.out_tp) {
        format!("{:.1}", m.out_tp)
    } else {
        "—".to_string()
    };
    let over = measured(m.out_tp) && m.out_tp > s.ceiling_dbtp + 0.05;
    let mut line1 = gains;
    line1.push(Span::raw("TP "));
    line1.push(if over {
        Span::styled(tp, Style::default().fg(Color::Red))
    } else {
        value(tp, measured(m.out_tp))
    });
    line1.push(Span::raw(format!(" / {:.1} dBTP", s.ceiling_dbtp)));
    let l = |v: f32| value(lufs(v), measured(v));
    let target = if s.meters.is_some() {
        format!("{:.1}", m.target_lufs)
    } else {
        "—".to_string()
    };
    let line2 = Line::from(vec![
        Span::raw(" LUFS M/S/I  in "),
        l(m.in_m),
        Span::raw(" "),
        l(m.in_s),
        Span::raw(" "),
        l(m.in_i),
        Span::raw("  out "),
        l(m.out_m),
        Span::raw(" "),
        l(m.out_s),
        Span::raw(" "),
        l(m.out_i),
        Span::raw(format!("  target {target}")),
        Span::styled(if stale { "  stale" } else { "" }, dim()),
    ]);
    frame.render_widget(Paragraph::new(vec![Line::from(line1), line2]), area);
}

/// The active alerts (the daemon's `alerts` topic), each wrapped under its label; at most
/// `max` lines in all.
fn alert_lines(s: &MonitorState, width: usize, max: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for a in s.daemon.alerts.iter().flatten() {
        let label = format!(" ALERT {} ", a.kind);
        let indent = label.chars().count() + 1;
        let text = wrap(&a.message, width.saturating_sub(indent).max(10));
        let room = max.saturating_sub(out.len());
        if room == 0 {
            break;
        }
        for (i, t) in at_most(text, room, width.saturating_sub(indent).max(10))
            .into_iter()
            .enumerate()
        {
            out.push(if i == 0 {
                Line::from(vec![
                    Span::styled(
                        label.clone(),
                        Style::default().fg(Color::White).bg(Color::Red),
                    ),
                    Span::raw(format!(" {t}")),
                ])
            } else {
                Line::from(format!("{}{t}", " ".repeat(indent)))
            });
        }
    }
    out
}

fn gauge<'a>(label: String, ratio: f64, color: Color, stale: bool) -> LineGauge<'a> {
    let style = if stale {
        dim()
    } else {
        Style::default().fg(color)
    };
    LineGauge::default()
        .ratio(ratio.clamp(0.0, 1.0))
        .label(label)
        .filled_style(style)
        .unfilled_style(dim())
}

fn draw_gauges(frame: &mut Frame, area: Rect, s: &MonitorState) {
    let block = Block::default().borders(Borders::ALL).title(" Bus DSP ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = Layout::vertical([Constraint::Length(1); 4]).split(inner);
    let stale = s.meters_stale();
    let m = s.meters.unwrap_or_else(MeterView::absent);
    let db = |v: f32, f: &dyn Fn(f32) -> String| {
        if m.bypass {
            "  BYPASS".to_string()
        } else {
            f(v)
        }
    };
    // AGC gain spans −24…+18 dB.
    let agc = gauge(
        format!(
            "AGC gain   {}",
            db(m.agc_gain_db, &|v| format!("{v:+5.1} dB"))
        ),
        (f64::from(m.agc_gain_db) + 24.0) / 42.0,
        Color::Cyan,
        stale,
    );
    let comp = gauge(
        format!(
            "Comp GR    {}",
            db(m.comp_gr_db, &|v| format!("{v:5.1} dB"))
        ),
        f64::from(m.comp_gr_db) / 20.0,
        Color::Yellow,
        stale,
    );
    let lim = gauge(
        format!("Limiter GR {}", db(m.lim_gr_db, &|v| format!("{v:5.1} dB"))),
        f64::from(m.lim_gr_db) / 12.0,
        Color::Magenta,
        stale,
    );
    let tp_text = if measured(m.out_tp) {
        format!("{:5.1}", m.out_tp)
    } else {
        "    —".to_string()
    };
    let over = measured(m.out_tp) && m.out_tp > s.ceiling_dbtp + 0.05;
    let tp = gauge(
        format!("True peak  {tp_text} / {:.1} dBTP", s.ceiling_dbtp),
        (f64::from(m.out_tp) + 40.0) / 40.0,
        if over { Color::Red } else { Color::Green },
        stale,
    );
    for (w, r) in [agc, comp, lim, tp].into_iter().zip(rows.iter()) {
        frame.render_widget(w, *r);
    }
}

fn draw_loudness(frame: &mut Frame, area: Rect, s: &MonitorState) {
    let stale = s.meters_stale();
    let title = if stale {
        " Loudness (LUFS) — stale "
    } else {
        " Loudness (LUFS) "
    };
    let m = s.meters.unwrap_or_else(MeterView::absent);
    let cell = |v: f32| {
        let style = if stale || !measured(v) {
            dim()
        } else {
            Style::default()
        };
        Cell::from(lufs(v)).style(style)
    };
    let target = if s.meters.is_some() {
        format!("{:.1}", m.target_lufs)
    } else {
        "—".to_string()
    };
    let rows = vec![
        Row::new(vec![
            Cell::from("Momentary"),
            cell(m.in_m),
            cell(m.out_m),
            Cell::from(target.clone()),
        ]),
        Row::new(vec![
            Cell::from("Short-term"),
            cell(m.in_s),
            cell(m.out_s),
            Cell::from(target.clone()),
        ]),
        Row::new(vec![
            Cell::from("Integrated"),
            cell(m.in_i),
            cell(m.out_i),
            Cell::from(target),
        ]),
    ];
    let table = Table::new(
        rows,
        [
            Constraint::Length(11),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(7),
        ],
    )
    .header(
        Row::new(vec!["", "In", "Out", "Target"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(Block::default().borders(Borders::ALL).title(title));
    frame.render_widget(table, area);
}

fn draw_chart(frame: &mut Frame, area: Rect, s: &MonitorState) {
    let t_end = s
        .history
        .back()
        .map(|p| p.0)
        .unwrap_or(s.now_ms as f64 / 1000.0);
    let t0 = t_end - super::state::HISTORY_SPAN_S;
    // Points with no measurement (at or below the -70 LUFS gate) are left out.
    let series = |pick: fn(&(f64, f32, f32, f32)) -> f32| -> Vec<(f64, f64)> {
        s.history
            .iter()
            .filter(|p| measured(pick(p)))
            .map(|p| (p.0 - t0, f64::from(pick(p)).max(CHART_FLOOR)))
            .collect()
    };
    let input = series(|p| p.1);
    let output = series(|p| p.2);
    // The gain reduction (compressor and limiter together) hangs from the top of the
    // chart: 6 dB of reduction is drawn at −6 on the axis; none is not drawn.
    let reduction: Vec<(f64, f64)> = s
        .history
        .iter()
        .filter(|p| p.3.is_finite() && p.3 >= 0.1)
        .map(|p| (p.0 - t0, (-f64::from(p.3)).max(CHART_FLOOR)))
        .collect();
    let target: Vec<(f64, f64)> = s
        .meters
        .map(|m| f64::from(m.target_lufs).clamp(CHART_FLOOR, 0.0))
        .map(|t| vec![(0.0, t), (super::state::HISTORY_SPAN_S, t)])
        .unwrap_or_default();
    let mut datasets = Vec::new();
    if !target.is_empty() {
        // First, so the loudness traces are drawn over it.
        datasets.push(
            Dataset::default()
                .name("target")
                .marker(Marker::Dot)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(Color::Yellow))
                .data(&target),
        );
    }
    datasets.extend([
        Dataset::default()
            .name("in S")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(Color::Blue))
            .data(&input),
        Dataset::default()
            .name("out S")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(Color::Green))
            .data(&output),
        Dataset::default()
            .name("GR")
            .marker(Marker::Braille)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(Color::Red))
            .data(&reduction),
    ]);
    // A label every 10 LU where the chart has a row for each, else every 20 LU.
    let labels: &[&str] = if area.height >= 11 {
        &["-60", "-50", "-40", "-30", "-20", "-10", "0"]
    } else {
        &["-60", "-40", "-20", "0"]
    };
    // The legend is in the title, outside the data.
    let title = Line::from(vec![
        Span::raw(" Short-term loudness, last 60 s: "),
        Span::styled("■ in", Style::default().fg(Color::Blue)),
        Span::raw("  "),
        Span::styled("■ out", Style::default().fg(Color::Green)),
        Span::raw("  "),
        Span::styled("• target", Style::default().fg(Color::Yellow)),
        Span::raw("  "),
        Span::styled("■ GR dB", Style::default().fg(Color::Red)),
        Span::raw(" "),
    ]);
    let chart = Chart::new(datasets)
        .block(Block::default().borders(Borders::ALL).title(title))
        .x_axis(
            Axis::default()
                .bounds([0.0, super::state::HISTORY_SPAN_S])
                .labels(["-60s", "-30s", "now"])
                .style(dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([CHART_FLOOR, 0.0])
                .labels(labels.iter().copied())
                .style(dim()),
        )
        .legend_position(None);
    frame.render_widget(chart, area);
}

fn draw_streams(frame: &mut Frame, area: Rect, s: &MonitorState, compact: bool) {
    // The sink each stream plays into gets a column of its own where the table is wide
    // enough for it (from 100 columns); narrower, it is left out whole.
    let inner_w = usize::from(area.width.saturating_sub(if compact { 0 } else { 2 }));
    let with_sink = inner_w >= 100;
    let (app_pct, media_pct, sink_pct) = if with_sink { (20, 25, 20) } else { (25, 35, 0) };
    let spacing = if with_sink { 5 } else { 4 };
    // The columns' widths as the layout gives them (percentages of the inner width, less
    // the column spacing), one less to be safe from rounding.
    let width_of = |pct: usize| {
        (inner_w.saturating_sub(spacing) * pct / 100)
            .saturating_sub(1)
            .max(1)
    };
    let (app_w, media_w, sink_w) = (width_of(app_pct), width_of(media_pct), width_of(sink_pct));
    let rows: Vec<Row> = if s.streams.is_empty() {
        vec![Row::new(vec![Cell::from("(no streams)").style(dim())])]
    } else {
        s.streams
            .iter()
            .map(|r| {
                let level = s
                    .daemon
                    .layer_a
                    .iter()
                    .find(|l| l.node_id == r.node_id)
                    .map_or_else(|| "—".to_string(), |l| lufs(l.short_term_lufs));
                // Names longer than their column end in `…` rather than running into
                // the next one.
                let mut cells = vec![
                    Cell::from(clip(&r.app, app_w)),
                    Cell::from(clip(r.media.as_deref().unwrap_or_default(), media_w)),
                    Cell::from(level),
                    Cell::from(r.route.clone()),
                    Cell::from(match r.layer_a_db {
                        Some(db) => crate::format::layer_a_gain(db),
                        None => "—".to_string(),
                    }),
                ];
                if with_sink {
                    cells.push(Cell::from(clip(r.sink.as_deref().unwrap_or("—"), sink_w)));
                }
                Row::new(cells)
            })
            .collect()
    };
    let borders = if compact { Borders::TOP } else { Borders::ALL };
    let mut widths = vec![
        Constraint::Percentage(app_pct as u16),
        Constraint::Percentage(media_pct as u16),
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Length(9),
    ];
    let mut header = vec!["App", "Media", "LUFS S", "Route", "Layer A"];
    if with_sink {
        widths.push(Constraint::Percentage(sink_pct as u16));
        header.push("Sink");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .block(
            Block::default()
                .borders(borders)
                .title(format!(" Streams ({}) ", s.streams.len())),
        );
    // The selected row is highlighted and kept in view (the table scrolls to it).
    let selected = s
        .selected
        .and_then(|id| s.streams.iter().position(|r| r.node_id == id));
    let mut ts = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut ts);
}

fn draw_dsp(frame: &mut Frame, area: Rect, s: &MonitorState) {
    let d = s.dsp;
    let alert = |n: u64| {
        if n > 0 {
            Style::default().fg(Color::Red)
        } else {
            Style::default()
        }
    };
    let line = Line::from(vec![
        Span::raw(format!(
            " DSP load {}  mean {:.1} µs  max {} µs  ",
            d.load_pct
                .map(|p| format!("{p:.1} %"))
                .unwrap_or_else(|| "—".to_string()),
            d.mean_us,
            d.max_us
        )),
        Span::styled(format!("spikes {}", d.spikes), alert(d.spikes)),
        Span::raw("  "),
        Span::styled(format!("xruns {}", d.xruns), alert(d.xruns)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let w = 46.min(area.width);
    let h = 14.min(area.height);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let text = vec![
        Line::from(" q, Esc, Ctrl-C   quit"),
        Line::from(" b                toggle bypass"),
        Line::from(" p                next profile"),
        Line::from(" ↑ ↓ (k j)        select a stream"),
        Line::from(" r                route it: processed/bypass"),
        Line::from(" a                toggle Layer A"),
        Line::from(" ?                this help"),
        Line::from(""),
        Line::from(" Grey values: stale, or no measurement"),
        Line::from(" (at or below the -70 LUFS gate)."),
    ];
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" Keys ")),
        popup,
    );
}
