//! `history`: the per-second samples the engine records on its tick, and the marks it
//! records from what it publishes (restarts, bypass, profile changes, alerts).

use headroom_ipc::{Event, HistoryMark, IpcError, MarkKind, Response, HISTORY_PAGE_SAMPLES};

use super::Engine;
use crate::control::convert::sample_to_wire;
use crate::history::{now_unix_ms, Sample};

/// Answers `history` (`since_secs`: how far back; `from_unix_ms`: where a previous page
/// ended; neither: everything kept), one page of at most [`HISTORY_PAGE_SAMPLES`] samples.
/// Client numbers are used with saturating arithmetic: any `u64` is a valid bound.
pub(super) fn query(
    e: &Engine,
    since_secs: Option<u64>,
    from_unix_ms: Option<u64>,
) -> Result<Response, IpcError> {
    let since = since_secs
        .map(|s| now_unix_ms().saturating_sub(s.saturating_mul(1000)))
        .unwrap_or(0)
        .max(from_unix_ms.unwrap_or(0));
    let (samples, next) = e
        .history
        .query_page(since, HISTORY_PAGE_SAMPLES)
        .map_err(|e| IpcError::internal(e.to_string()))?;
    Ok(Response::History(headroom_ipc::History {
        interval_ms: e.history.interval_ms(),
        samples: samples.iter().map(sample_to_wire).collect(),
        // The marks of this page's span: up to where the next page starts.
        marks: e
            .history
            .marks_since(since)
            .into_iter()
            .filter(|m| next.is_none_or(|n| m.unix_ms < n))
            .collect(),
        kept_since_unix_ms: e.history.oldest_unix_ms(),
        next_unix_ms: next,
    }))
}

/// The history mark for a published event, if it marks a moment worth keeping. (Bypass is
/// marked when the bypass in force changes, by the engine itself.)
pub fn mark_for(event: &Event, unix_ms: u64) -> Option<HistoryMark> {
    let (kind, text) = match event {
        Event::DaemonStarted(d) => (
            MarkKind::Started,
            format!("headroomd {} started", d.daemon_version),
        ),
        Event::DaemonShutdown(d) => (
            MarkKind::Stopped,
            format!("headroomd stopped ({})", d.reason),
        ),
        Event::ProfileChanged(p) => (MarkKind::Profile, format!("profile {}", p.name)),
        Event::AlertRaised(a) => (MarkKind::Alert, format!("{}: {}", a.kind, a.message)),
        Event::AlertCleared(c) => (
            MarkKind::Cleared,
            format!("{} cleared: {}", c.kind, c.message),
        ),
        _ => return None,
    };
    Some(HistoryMark {
        unix_ms,
        kind,
        text,
    })
}

impl Engine {
    /// Keeps a mark in the history for a published event that marks a moment.
    pub(super) fn note_event(&mut self, event: &Event) {
        if let Some(m) = mark_for(event, now_unix_ms()) {
            if let Err(e) = self.history.mark(m) {
                tracing::debug!("history marks: {e}");
            }
        }
    }

    /// Keeps a `bypass on` / `bypass off` mark when the bypass in force changed (by
    /// `bypass`, a setting, a reset, another profile or an edited file). Setting it to what
    /// it already is marks nothing: `setting reset --all` after two toggles put a second
    /// `bypass off` in the history.
    pub(super) fn note_bypass(&mut self) {
        let on = self.params.bypass;
        if on == self.marked_bypass {
            return;
        }
        self.marked_bypass = on;
        let mark = HistoryMark {
            unix_ms: now_unix_ms(),
            kind: MarkKind::Bypass,
            text: format!("bypass {}", if on { "on" } else { "off" }),
        };
        if let Err(e) = self.history.mark(mark) {
            tracing::debug!("history marks: {e}");
        }
    }

    /// Records one history sample, taken at `unix_ms`, from the meters and the callback
    /// timing since the last one; logs the callback spikes and xruns that are new since then.
    pub(super) fn record_history(&mut self, unix_ms: u64) {
        let m = self.bus.meters().load();
        let t = self.bus.timing().snapshot();
        let calls = t.call_count.saturating_sub(self.last_timing.call_count);
        let mean = if calls > 0 {
            t.sum_us.saturating_sub(self.last_timing.sum_us) as f32 / calls as f32
        } else {
            0.0
        };
        let xruns = self.bus.xruns();
        if t.spike_count > self.last_timing.spike_count {
            tracing::warn!(
                new_spikes = t.spike_count - self.last_timing.spike_count,
                last_spike_us = t.last_spike_us,
                threshold_us = self.bus.timing().spike_threshold_us(),
                max_us = t.max_us,
                "audio callback took longer than the spike threshold"
            );
        }
        if xruns > self.last_xruns {
            tracing::warn!(
                new_xruns = xruns - self.last_xruns,
                total = xruns,
                "audio bus xruns"
            );
        }
        self.last_xruns = xruns;
        let sample = Sample {
            unix_ms,
            in_momentary_lufs: m.in_momentary_lufs,
            in_short_term_lufs: m.in_short_term_lufs,
            out_momentary_lufs: m.out_momentary_lufs,
            out_short_term_lufs: m.out_short_term_lufs,
            agc_gain_db: m.agc_gain_db,
            compressor_gr_db: m.compressor_gr_db,
            limiter_gr_db: m.limiter_gr_db,
            dsp_mean_us: mean,
            dsp_max_us: t.max_us as f32,
            spikes: t.spike_count,
            xruns,
        };
        self.last_timing = t;
        if let Err(e) = self.history.record(sample) {
            tracing::debug!("history: {e}");
        }
    }
}
