//! The daemon's state word and its alerts: what a user should see first.
//!
//! The daemon computes both on its 100 ms tick (rules in `PLAN.md`, "State word and
//! alerts"); clients only show them. The state word travels in `status`, `daemon/snapshot`
//! and every `meters/tick`; alerts travel on the `alerts` topic (`raised` when a condition
//! starts, `cleared` when it ends, never repeated while it lasts) and the active ones in
//! `status`.

use serde::{Deserialize, Serialize};

/// One word for what the daemon is doing, most important condition first: `no_output`,
/// `degraded`, `bypass`, `limiting`, `quiet`, `levelling`. Each is entered and left on
/// thresholds held for a while (hysteresis), so the word does not flicker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateWord {
    /// Programme above the silence gate, levelled toward the target.
    #[default]
    Levelling,
    /// Input below the AGC's silence gate (or no audio flowing): nothing to level.
    Quiet,
    /// The true-peak limiter holds a sustained gain reduction.
    Limiting,
    /// The chain is bypassed (setting, `bypass.set` or `--bypass`).
    Bypass,
    /// No real sink to play into, or PipeWire is not connected: nothing is heard through
    /// headroom.
    NoOutput,
    /// A burst of xruns, or the session manager is missing or does not link the bus.
    Degraded,
    /// A word this library version does not know (from a newer daemon).
    #[serde(other)]
    Unknown,
}

impl StateWord {
    /// The word as shown to people, e.g. `"NO OUTPUT"`.
    pub fn label(self) -> &'static str {
        match self {
            StateWord::Levelling => "LEVELLING",
            StateWord::Quiet => "QUIET",
            StateWord::Limiting => "LIMITING",
            StateWord::Bypass => "BYPASS",
            StateWord::NoOutput => "NO OUTPUT",
            StateWord::Degraded => "DEGRADED",
            StateWord::Unknown => "UNKNOWN",
        }
    }
}

impl std::fmt::Display for StateWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Several xruns of the processed stream within a few seconds, while a real sink is there
    /// to play into.
    XrunBurst,
    /// No real sink to play into (or PipeWire not connected).
    RealSinkMissing,
    /// A profile or the config file is invalid: the last good profile stays active, or, for
    /// a profile that is not the active one, the active profile is not affected.
    ProfileError,
    /// The limiter has held a large gain reduction for a long time.
    SustainedLimiting,
    /// The input reaches full scale again and again (true peak at or over 0 dBTP): an app
    /// plays too hot, or several together do.
    InputClipping,
    /// WirePlumber is missing, or does not link headroom's streams.
    SessionBroken,
    /// A kind this library version does not know (from a newer daemon).
    #[serde(other)]
    Unknown,
}

impl AlertKind {
    /// The wire spelling, e.g. `"real_sink_missing"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::XrunBurst => "xrun_burst",
            AlertKind::RealSinkMissing => "real_sink_missing",
            AlertKind::ProfileError => "profile_error",
            AlertKind::SustainedLimiting => "sustained_limiting",
            AlertKind::InputClipping => "input_clipping",
            AlertKind::SessionBroken => "session_broken",
            AlertKind::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An active alert (`alerts/raised`, and the active list in `status` and `alerts/snapshot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// What it is about.
    pub kind: AlertKind,
    /// What happened, for people.
    pub message: String,
    /// When the condition started, milliseconds since the Unix epoch.
    pub since_unix_ms: u64,
}

/// `alerts/cleared`: a condition ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCleared {
    /// What it was about.
    pub kind: AlertKind,
    /// Why it cleared, for people.
    pub message: String,
    /// When the condition started, milliseconds since the Unix epoch.
    pub since_unix_ms: u64,
    /// When it ended, milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

/// `alerts/snapshot`: the alerts active now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Alerts {
    /// Active alerts, oldest first.
    pub active: Vec<Alert>,
}
