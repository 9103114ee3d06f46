//! Drawing of the monitor: a pure function of [`MonitorState`].

use headroom_ipc::StateWord;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, LegendPosition, LineGauge,
    Paragraph, Row, Table,
};
use ratatui::Frame;

use super::state::{Banner, MeterView, MonitorState};
use crate::format::{lufs, measured, uptime};

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

fn title_line(s: &MonitorState) -> Line<'static> {
    let mut spans = vec![Span::styled(
        " headroom monitor ",
        Style::default().add_modifier(Modifier::BOLD),
    )];
    if !s.version.is_empty() {
        spans.push(Span::raw(format!("— headroomd {} ", s.version)));
        spans.push(Span::raw(format!("— profile {} ", s.profile)));
        spans.push(Span::raw(format!("— up {} ", uptime(s.uptime_now()))));
        if !s.real_sink.is_empty() {
            spans.push(Span::raw(format!("— → {} ", s.real_sink)));
        }
    }
    if s.promoted {
        spans.push(Span::styled(
            " DEFAULT SINK ",
            Style::default().fg(Color::Black).bg(Color::Cyan),
        ));
    }
    match s.daemon.state_word {
        Some(w) => spans.insert(0, Span::styled(format!(" {} ", w.label()), word_style(w))),
        None if s.meters.is_some_and(|m| m.bypass) => spans.push(Span::styled(
            " BYPASS ",
            Style::default().fg(Color::Black).bg(Color::Yellow),
        )),
        None => {}
    }
    Line::from(spans)
}

/// Renders the whole monitor into `frame`.
pub fn draw(frame: &mut Frame, s: &MonitorState) {
    let area = frame.area();
    let outer = Block::default().borders(Borders::ALL).title(title_line(s));
    let inner = outer.inner(area);
    frame.render_widget(outer, area);

    let banner_h = u16::from(s.banner.is_some());
    let alerts = alert_lines(s);
    let alerts_h = (alerts.len() as u16).min(3);
    let [top, chart, streams, dsp, alerts_area, banner, footer] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Min(6),
        Constraint::Length((s.streams.len() as u16).clamp(1, 8) + 3),
        Constraint::Length(1),
        Constraint::Length(alerts_h),
        Constraint::Length(banner_h),
        Constraint::Length(1),
    ])
    .areas(inner);
    if alerts_h > 0 {
        frame.render_widget(Paragraph::new(alerts), alerts_area);
    }
    let [gauges, loudness] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);

    draw_gauges(frame, gauges, s);
    draw_loudness(frame, loudness, s);
    draw_chart(frame, chart, s);
    draw_streams(frame, streams, s);
    draw_dsp(frame, dsp, s);
    if let Some(b) = &s.banner {
        let (text, style) = match b {
            Banner::Disconnected(why) => (
                format!(" DISCONNECTED: {why} — retrying "),
                Style::default().fg(Color::White).bg(Color::Red),
            ),
            Banner::Overflow(what) => (
                format!(" OVERFLOW: {what} "),
                Style::default().fg(Color::Black).bg(Color::Yellow),
            ),
            Banner::Error(what) => (
                format!(" ERROR: {what} "),
                Style::default().fg(Color::White).bg(Color::Red),
            ),
        };
        frame.render_widget(Paragraph::new(Line::styled(text, style)), banner);
    }
    let topics = if s.topics.is_empty() {
        "all".to_string()
    } else {
        s.topics.join(",")
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!(" topics: {topics} "), dim()),
            Span::raw(" q quit  b bypass  p next profile  ? help"),
        ])),
        footer,
    );
    if s.show_help {
        draw_help(frame, area);
    }
}

/// One line per active alert (the daemon's `alerts` topic).
fn alert_lines(s: &MonitorState) -> Vec<Line<'static>> {
    s.daemon
        .alerts
        .iter()
        .flatten()
        .map(|a| {
            Line::from(vec![
                Span::styled(
                    format!(" ALERT {} ", a.kind),
                    Style::default().fg(Color::White).bg(Color::Red),
                ),
                Span::raw(format!(" {}", a.message)),
            ])
        })
        .collect()
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
    // AGC gain spans −24…+18 dB.
    let agc = gauge(
        format!("AGC gain   {:+5.1} dB", m.agc_gain_db),
        (f64::from(m.agc_gain_db) + 24.0) / 42.0,
        Color::Cyan,
        stale,
    );
    let comp = gauge(
        format!("Comp GR    {:5.1} dB", m.comp_gr_db),
        f64::from(m.comp_gr_db) / 20.0,
        Color::Yellow,
        stale,
    );
    let lim = gauge(
        format!("Limiter GR {:5.1} dB", m.lim_gr_db),
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
    let series = |pick: fn(&(f64, f32, f32)) -> f32| -> Vec<(f64, f64)> {
        s.history
            .iter()
            .filter(|p| measured(pick(p)))
            .map(|p| (p.0 - t0, f64::from(pick(p)).max(CHART_FLOOR)))
            .collect()
    };
    let input = series(|p| p.1);
    let output = series(|p| p.2);
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
    ]);
    // A label every 10 LU where the chart has a row for each, else every 20 LU.
    let labels: &[&str] = if area.height >= 9 {
        &["-60", "-50", "-40", "-30", "-20", "-10", "0"]
    } else {
        &["-60", "-40", "-20", "0"]
    };
    let chart = Chart::new(datasets)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Short-term loudness, last 60 s (in vs out) "),
        )
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
        // The newest data is on the right: the legend goes top left.
        .legend_position(Some(LegendPosition::TopLeft));
    frame.render_widget(chart, area);
}

fn draw_streams(frame: &mut Frame, area: Rect, s: &MonitorState) {
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
                Row::new(vec![
                    Cell::from(r.app.clone()),
                    Cell::from(r.media.clone().unwrap_or_default()),
                    Cell::from(level),
                    Cell::from(r.route.clone()),
                    Cell::from(match r.layer_a_db {
                        Some(db) => crate::format::reduction(db),
                        None => "—".to_string(),
                    }),
                ])
            })
            .collect()
    };
    let table = Table::new(
        rows,
        [
            Constraint::Percentage(25),
            Constraint::Percentage(35),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(9),
        ],
    )
    .header(
        Row::new(vec!["App", "Media", "LUFS S", "Route", "Layer A"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(" Streams ({}) ", s.streams.len())),
    );
    frame.render_widget(table, area);
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
    let w = 44.min(area.width);
    let h = 10.min(area.height);
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
