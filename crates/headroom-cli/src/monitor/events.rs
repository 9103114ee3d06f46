//! Applying daemon events and status replies to the [`MonitorState`].

use headroom_ipc::{Event, Meters, Route, Status, StreamInfo};

use super::state::{Banner, DspView, MeterView, MonitorState, StreamRow};

/// The monitor's copy of the bus meters.
pub fn meter_view(m: &Meters) -> MeterView {
    MeterView {
        in_m: m.in_momentary_lufs,
        in_s: m.in_short_term_lufs,
        in_i: m.in_integrated_lufs,
        out_m: m.out_momentary_lufs,
        out_s: m.out_short_term_lufs,
        out_i: m.out_integrated_lufs,
        out_tp: m.out_true_peak_dbtp,
        agc_gain_db: m.agc_gain_db,
        comp_gr_db: m.compressor_gr_db,
        lim_gr_db: m.limiter_gr_db,
        target_lufs: m.target_lufs,
        bypass: m.bypass,
    }
}

fn stream_row(s: &StreamInfo) -> StreamRow {
    StreamRow {
        node_id: s.node_id,
        app: if s.app.is_empty() {
            s.binary
                .clone()
                .unwrap_or_else(|| format!("node {}", s.node_id))
        } else {
            s.app.clone()
        },
        media: s.media_name.clone(),
        route: match s.route {
            Route::Processed => "processed",
            Route::Bypass => "bypass",
        }
        .to_string(),
        layer_a_db: s.layer_a_reduction_db,
        rule_app: Some(s.app.clone())
            .filter(|a| !a.is_empty())
            .or_else(|| s.binary.clone().filter(|b| !b.is_empty())),
        sink: s.sink.clone(),
    }
}

/// Applies a `status` reply (also the `daemon` topic snapshot). Status carries no meter
/// timestamp of its own, so its meters count as fresh at `now_ms`.
pub fn apply_status(state: &mut MonitorState, s: &Status, now_ms: u64) {
    state.real_sink = s.real_sink.clone().unwrap_or_default();
    state.channels = crate::format::processed_channel_count(s).unwrap_or(0);
    state.promoted = s.promote_default;
    state.set_status(
        &s.daemon_version,
        &s.profile,
        s.uptime_s,
        DspView {
            mean_us: s.dsp.mean_us,
            max_us: s.dsp.max_us,
            spikes: s.dsp.spike_count,
            xruns: s.xruns,
            calls: s.dsp.call_count,
            load_pct: None,
        },
        now_ms,
    );
    // Typos in config.toml (which headroomd ignores) and state files it found corrupt at
    // start: shown once when they appear or change.
    let warnings: Vec<String> = s
        .config_warnings
        .iter()
        .chain(&s.file_warnings)
        .cloned()
        .collect();
    if warnings != state.config_warnings {
        state.config_warnings = warnings;
        if let Some(first) = state.config_warnings.first() {
            let more = match state.config_warnings.len() {
                1 => String::new(),
                n => format!(" (and {} more: headroom status)", n - 1),
            };
            state.set_banner(Banner::Error(format!("{first}{more}")), now_ms);
        }
    }
}

/// Applies one subscription event: folds it into [`MonitorState::daemon`] (the fold every
/// client of the protocol shares, [`headroom_ipc::state`]), then updates what the monitor
/// shows from it.
pub fn apply_event(state: &mut MonitorState, event: &Event, now_ms: u64) {
    state.daemon.apply(event);
    match event {
        Event::DaemonSnapshot(s) => {
            apply_status(state, s, now_ms);
            state.set_meters(meter_view(&s.meters), now_ms);
        }
        Event::DaemonStarted(d) => {
            state.version = d.daemon_version.clone();
            if matches!(state.banner, Some(Banner::Disconnected(_))) {
                state.banner = None;
            }
        }
        Event::DaemonShutdown(d) => {
            state.disconnected(&format!("headroomd shut down ({})", d.reason), now_ms)
        }
        Event::Overflow(o) => {
            let total: u64 = o.dropped.values().sum();
            let topics: Vec<&str> = o.dropped.keys().map(|t| t.as_str()).collect();
            state.set_banner(
                Banner::Overflow(format!(
                    "{total} events dropped ({}) — the monitor fell behind",
                    topics.join(", ")
                )),
                now_ms,
            );
        }
        Event::RoutingSnapshot(_)
        | Event::StreamRouted(_)
        | Event::StreamRemoved(_)
        | Event::LayerAAttached(_)
        | Event::LayerADetached(_) => sync_streams(state),
        Event::MetersTick(t) => {
            state.set_meters(meter_view(&t.meters), now_ms);
            sync_streams(state);
        }
        Event::ProfileChanged(p) => state.set_profile(&p.name),
        Event::ProfileSnapshot(p) => state.set_profile(&p.active),
        Event::ProfileError(e) => {
            let at = match (e.line, e.column) {
                (Some(l), Some(c)) => format!("{}:{l}:{c}: ", e.file),
                (Some(l), None) => format!("{}:{l}: ", e.file),
                _ => format!("{}: ", e.file),
            };
            state.set_banner(Banner::Error(format!("{at}{}", e.message)), now_ms);
        }
        Event::SettingChanged(_) | Event::SettingsSnapshot(_) => {
            if let Some(v) = state
                .daemon
                .setting("limiter.ceiling_dbtp")
                .and_then(|e| e.value.as_f64())
            {
                state.ceiling_dbtp = v as f32;
            }
        }
        // Folded into `state.daemon` (active alerts, recent notes) and drawn from there.
        Event::AlertRaised(_) | Event::AlertCleared(_) | Event::AlertsSnapshot(_) => {}
        Event::RuleChanged(_) | Event::Other { .. } => {}
    }
}

/// The streams table from the daemon's streams (by node id).
fn sync_streams(state: &mut MonitorState) {
    let rows = state.daemon.streams.values().map(stream_row).collect();
    state.set_streams(rows);
}
