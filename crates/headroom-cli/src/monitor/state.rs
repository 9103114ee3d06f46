//! [`MonitorState`]: the monitor's view model. Pure data, updated from daemon events and
//! status snapshots; [`super::draw`] renders it. Time is passed in (milliseconds on any
//! monotonic clock), so tests are deterministic.

use std::collections::VecDeque;

use headroom_ipc::DaemonState;

/// Meter values the monitor shows (a copy of the daemon's bus meters).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MeterView {
    /// Input momentary loudness, LUFS.
    pub in_m: f32,
    /// Input short-term loudness, LUFS.
    pub in_s: f32,
    /// Input integrated loudness, LUFS.
    pub in_i: f32,
    /// Output momentary loudness, LUFS.
    pub out_m: f32,
    /// Output short-term loudness, LUFS.
    pub out_s: f32,
    /// Output integrated loudness, LUFS.
    pub out_i: f32,
    /// Output true peak, dBTP.
    pub out_tp: f32,
    /// AGC gain, dB.
    pub agc_gain_db: f32,
    /// Compressor gain reduction, dB.
    pub comp_gr_db: f32,
    /// Limiter gain reduction, dB.
    pub lim_gr_db: f32,
    /// AGC target, LUFS.
    pub target_lufs: f32,
    /// Whether the chain is bypassed.
    pub bypass: bool,
}

impl MeterView {
    /// Meters with nothing measured (loudness and peaks at the −70 floor, shown as `—`).
    pub fn absent() -> Self {
        let floor = headroom_ipc::LUFS_FLOOR;
        MeterView {
            in_m: floor,
            in_s: floor,
            in_i: floor,
            out_m: floor,
            out_s: floor,
            out_i: floor,
            out_tp: floor,
            ..MeterView::default()
        }
    }
}

/// One row of the streams table.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRow {
    /// PipeWire node id.
    pub node_id: u32,
    /// Application name.
    pub app: String,
    /// Media name (title), if any.
    pub media: Option<String>,
    /// `processed` or `bypass`.
    pub route: String,
    /// Layer A reduction, dB, when a tap is attached.
    pub layer_a_db: Option<f32>,
    /// The name a routing rule for this stream matches: its application name, else its
    /// binary (`None`: neither is known, no rule can name it).
    pub rule_app: Option<String>,
    /// What mixers call the node the stream plays into (`None`: not linked yet).
    pub sink: Option<String>,
}

/// Callback timing and xruns.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DspView {
    /// Mean callback duration, µs.
    pub mean_us: f64,
    /// Longest callback, µs.
    pub max_us: u64,
    /// Callbacks over the spike threshold.
    pub spikes: u64,
    /// Xruns on the processed stream.
    pub xruns: u64,
    /// Callbacks recorded since the daemon started.
    pub calls: u64,
    /// Share of real time spent in the audio callback, percent: mean callback duration ×
    /// callbacks per second, from two successive status replies (`None` until two arrive).
    pub load_pct: Option<f64>,
}

/// The banner shown above the footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Banner {
    /// The daemon cannot be reached; the monitor keeps retrying.
    Disconnected(String),
    /// The daemon dropped events because the monitor did not keep up.
    Overflow(String),
    /// A request failed or the daemon reported an error.
    Error(String),
    /// What a key did (e.g. a stream re-routed); expires like an error.
    Info(String),
}

/// Meters older than this are shown greyed, ms.
pub const STALE_AFTER_MS: u64 = 2000;
/// Span of the loudness-history chart, seconds.
pub const HISTORY_SPAN_S: f64 = 60.0;
/// How long an error banner stays, ms.
pub const ERROR_BANNER_MS: u64 = 5000;

/// Everything the monitor draws.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorState {
    /// The daemon's state as its events describe it (every event is folded in here first).
    pub daemon: DaemonState,
    /// Daemon version (empty until known).
    pub version: String,
    /// Active profile.
    pub profile: String,
    /// The real sink the processed output plays into (empty while unknown).
    pub real_sink: String,
    /// Channels of the processed sink (0 while unknown; shown when other than two).
    pub channels: usize,
    /// Whether headroom is promoted to the default sink (`route.promote_default`).
    pub promoted: bool,
    /// Daemon uptime at `uptime_at_ms`, seconds.
    pub uptime_s: u64,
    /// When `uptime_s` was received.
    pub uptime_at_ms: u64,
    /// Latest meters, if any.
    pub meters: Option<MeterView>,
    /// When `meters` was received.
    pub meters_at_ms: u64,
    /// Limiter ceiling, dBTP.
    pub ceiling_dbtp: f32,
    /// Loudness history: (time s on the monitor clock, input S, output S, gain reduction
    /// dB of compressor and limiter together).
    pub history: VecDeque<(f64, f32, f32, f32)>,
    /// Streams table.
    pub streams: Vec<StreamRow>,
    /// Callback timing.
    pub dsp: DspView,
    /// Subscribed topics (footer).
    pub topics: Vec<String>,
    /// Current banner.
    pub banner: Option<Banner>,
    /// When the banner was set.
    pub banner_at_ms: u64,
    /// Whether the key help overlay is open.
    pub show_help: bool,
    /// The selected stream (node id) in the streams table.
    pub selected: Option<u32>,
    /// The clock, ms (last [`MonitorState::tick`]).
    pub now_ms: u64,
    /// The config file's warnings (unknown keys) and the state files' (found corrupt at
    /// start) as last shown: a new set is shown once, in the banner.
    pub config_warnings: Vec<String>,
}

impl Default for MonitorState {
    fn default() -> Self {
        Self {
            daemon: DaemonState::default(),
            version: String::new(),
            profile: String::new(),
            real_sink: String::new(),
            channels: 0,
            promoted: false,
            uptime_s: 0,
            uptime_at_ms: 0,
            meters: None,
            meters_at_ms: 0,
            ceiling_dbtp: -1.0,
            history: VecDeque::new(),
            streams: Vec::new(),
            dsp: DspView::default(),
            topics: Vec::new(),
            banner: None,
            banner_at_ms: 0,
            show_help: false,
            selected: None,
            now_ms: 0,
            config_warnings: Vec::new(),
        }
    }
}

impl MonitorState {
    /// A state following `topics`.
    pub fn new(topics: Vec<String>) -> Self {
        Self {
            topics,
            ..Default::default()
        }
    }

    /// Advances the clock; expires an error banner after [`ERROR_BANNER_MS`].
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        if matches!(
            self.banner,
            Some(Banner::Error(_)) | Some(Banner::Overflow(_)) | Some(Banner::Info(_))
        ) && now_ms.saturating_sub(self.banner_at_ms) > ERROR_BANNER_MS
        {
            self.banner = None;
        }
    }

    /// Applies a daemon status snapshot.
    pub fn set_status(
        &mut self,
        version: &str,
        profile: &str,
        uptime_s: u64,
        dsp: DspView,
        now_ms: u64,
    ) {
        self.version = version.to_string();
        self.profile = profile.to_string();
        self.uptime_s = uptime_s;
        let prev = self.dsp;
        let dt_ms = now_ms.saturating_sub(self.uptime_at_ms);
        self.uptime_at_ms = now_ms;
        let load_pct = if prev.calls > 0 && dsp.calls > prev.calls && dt_ms > 0 {
            let per_s = (dsp.calls - prev.calls) as f64 * 1000.0 / dt_ms as f64;
            Some(dsp.mean_us * per_s / 1e6 * 100.0)
        } else if dsp.calls >= prev.calls && dsp.calls > 0 {
            prev.load_pct
        } else {
            None
        };
        self.dsp = DspView { load_pct, ..dsp };
        if matches!(self.banner, Some(Banner::Disconnected(_))) {
            self.banner = None;
        }
    }

    /// Applies a meter tick and appends to the loudness history (one point per tick; points
    /// older than [`HISTORY_SPAN_S`] are dropped).
    pub fn set_meters(&mut self, m: MeterView, now_ms: u64) {
        self.meters = Some(m);
        self.meters_at_ms = now_ms;
        self.now_ms = self.now_ms.max(now_ms);
        let t = now_ms as f64 / 1000.0;
        self.history
            .push_back((t, m.in_s, m.out_s, m.comp_gr_db + m.lim_gr_db));
        while self
            .history
            .front()
            .is_some_and(|(t0, ..)| t - t0 > HISTORY_SPAN_S)
        {
            self.history.pop_front();
        }
    }

    /// Fills the chart's past from the daemon's history (`samples` of `(unix ms, input S,
    /// output S, gain reduction dB)`, oldest first), received when the monitor's clock read `now_ms` and the wall
    /// clock `now_unix_ms`: the samples of the last [`HISTORY_SPAN_S`] older than every point
    /// already in the chart go before them, so the chart starts full rather than empty.
    pub fn prefill_history(
        &mut self,
        samples: &[(u64, f32, f32, f32)],
        now_unix_ms: u64,
        now_ms: u64,
    ) {
        let now_s = now_ms as f64 / 1000.0;
        let first = self.history.front().map_or(f64::INFINITY, |p| p.0);
        let points: Vec<(f64, f32, f32, f32)> = samples
            .iter()
            .map(|&(unix_ms, i, o, gr)| {
                let age_s = now_unix_ms.saturating_sub(unix_ms) as f64 / 1000.0;
                (now_s - age_s, i, o, gr)
            })
            .filter(|p| now_s - p.0 <= HISTORY_SPAN_S && p.0 < first)
            .collect();
        for p in points.into_iter().rev() {
            self.history.push_front(p);
        }
        self.now_ms = self.now_ms.max(now_ms);
    }

    /// Replaces the streams table; the selection follows its stream, or moves to the first
    /// row when that stream is gone.
    pub fn set_streams(&mut self, streams: Vec<StreamRow>) {
        self.streams = streams;
        if !self
            .selected
            .is_some_and(|id| self.streams.iter().any(|r| r.node_id == id))
        {
            self.selected = self.streams.first().map(|r| r.node_id);
        }
    }

    /// The selected stream's row.
    pub fn selected_row(&self) -> Option<&StreamRow> {
        let id = self.selected?;
        self.streams.iter().find(|r| r.node_id == id)
    }

    /// Moves the selection `by` rows (clamped to the table).
    pub fn move_selection(&mut self, by: isize) {
        if self.streams.is_empty() {
            self.selected = None;
            return;
        }
        let at = self
            .selected
            .and_then(|id| self.streams.iter().position(|r| r.node_id == id))
            .unwrap_or(0);
        let to = at.saturating_add_signed(by).min(self.streams.len() - 1);
        self.selected = Some(self.streams[to].node_id);
    }

    /// Sets the active profile name.
    pub fn set_profile(&mut self, name: &str) {
        self.profile = name.to_string();
    }

    /// Shows a banner.
    pub fn set_banner(&mut self, banner: Banner, now_ms: u64) {
        self.banner = Some(banner);
        self.banner_at_ms = now_ms;
    }

    /// The daemon went away: keep the last values (greyed as they age) and say so.
    pub fn disconnected(&mut self, reason: &str, now_ms: u64) {
        self.set_banner(Banner::Disconnected(reason.to_string()), now_ms);
    }

    /// Whether the meters are missing or older than [`STALE_AFTER_MS`].
    pub fn meters_stale(&self) -> bool {
        self.meters.is_none() || self.now_ms.saturating_sub(self.meters_at_ms) > STALE_AFTER_MS
    }

    /// Uptime now, extrapolated from the last status.
    pub fn uptime_now(&self) -> u64 {
        if self.version.is_empty() || matches!(self.banner, Some(Banner::Disconnected(_))) {
            return self.uptime_s;
        }
        self.uptime_s + self.now_ms.saturating_sub(self.uptime_at_ms) / 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_sixty_seconds() {
        let mut s = MonitorState::default();
        for i in 0..1000u64 {
            s.set_meters(MeterView::default(), i * 100);
        }
        let (first, last) = (s.history.front().unwrap().0, s.history.back().unwrap().0);
        assert!(last - first <= HISTORY_SPAN_S);
        assert!(last - first >= HISTORY_SPAN_S - 0.2);
    }

    #[test]
    fn history_prefill_goes_before_live_points() {
        let mut s = MonitorState::default();
        // Live points at 100.0 and 100.1 s on the monitor clock.
        s.set_meters(MeterView::default(), 100_000);
        s.set_meters(MeterView::default(), 100_100);
        // Received at monitor 100.1 s = unix 1 000 000.1 s: samples 90, 30, 1 s old and one
        // newer than the first live point (left out: the live point covers it).
        let now_unix = 1_000_000_100;
        let samples = [
            (now_unix - 90_000, -30.0, -20.0, 0.0),
            (now_unix - 30_000, -25.0, -19.0, 1.5),
            (now_unix - 1_000, -24.0, -18.0, 0.0),
            (now_unix, -23.0, -17.0, 0.0),
        ];
        s.prefill_history(&samples, now_unix, 100_100);
        let pts: Vec<_> = s.history.iter().copied().collect();
        assert_eq!(pts.len(), 4, "{pts:?}");
        assert!(
            (pts[0].0 - 70.1).abs() < 1e-9 && pts[0].1 == -25.0,
            "{pts:?}"
        );
        assert!(
            (pts[1].0 - 99.1).abs() < 1e-9 && pts[1].2 == -18.0,
            "{pts:?}"
        );
        assert_eq!(pts[2].0, 100.0);
    }

    #[test]
    fn selection_follows_its_stream() {
        let row = |id: u32| StreamRow {
            node_id: id,
            app: format!("app{id}"),
            media: None,
            route: "processed".into(),
            layer_a_db: None,
            rule_app: Some(format!("app{id}")),
            sink: None,
        };
        let mut s = MonitorState::default();
        s.set_streams(vec![row(1), row(2), row(3)]);
        assert_eq!(s.selected, Some(1));
        s.move_selection(1);
        s.move_selection(5);
        assert_eq!(s.selected, Some(3));
        s.move_selection(-1);
        assert_eq!(s.selected, Some(2));
        // Stream 1 goes: 2 stays selected; then 2 goes: the first row is.
        s.set_streams(vec![row(2), row(3)]);
        assert_eq!(s.selected, Some(2));
        s.set_streams(vec![row(3)]);
        assert_eq!(s.selected, Some(3));
        s.set_streams(vec![]);
        assert_eq!(s.selected, None);
    }

    #[test]
    fn meters_go_stale_and_banners_expire() {
        let mut s = MonitorState::default();
        assert!(s.meters_stale());
        s.set_meters(MeterView::default(), 1000);
        s.tick(2000);
        assert!(!s.meters_stale());
        s.tick(1000 + STALE_AFTER_MS + 1);
        assert!(s.meters_stale());
        s.set_banner(Banner::Error("x".into()), 10_000);
        s.tick(10_000 + ERROR_BANNER_MS + 1);
        assert_eq!(s.banner, None);
        s.disconnected("gone", 20_000);
        s.tick(90_000);
        assert!(matches!(s.banner, Some(Banner::Disconnected(_))));
        s.set_status("0.1.0", "default", 5, DspView::default(), 91_000);
        assert_eq!(s.banner, None);
    }

    #[test]
    fn dsp_load_from_successive_statuses() {
        let mut s = MonitorState::default();
        let dsp = |calls, mean_us| DspView {
            calls,
            mean_us,
            ..Default::default()
        };
        s.set_status("v", "p", 1, dsp(1000, 100.0), 10_000);
        assert_eq!(s.dsp.load_pct, None);
        // 47 callbacks in one second at 100 µs each: 0.47 % of real time.
        s.set_status("v", "p", 2, dsp(1047, 100.0), 11_000);
        let load = s.dsp.load_pct.unwrap();
        assert!((load - 0.47).abs() < 1e-9, "{load}");
        // A restarted daemon (counter went down) has no load figure yet.
        s.set_status("v", "p", 0, dsp(10, 100.0), 12_000);
        assert_eq!(s.dsp.load_pct, None);
    }
}
