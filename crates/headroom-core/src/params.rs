//! Parameters of every DSP stage, with their defaults.
//!
//! All structs are `Copy` so that they can be handed to the audio thread through a lock-free
//! queue by value. Ranges are enforced by the `headroom-profile` crate (its settings schema)
//! when a profile or setting is validated; the DSP itself clamps defensively and never panics
//! on an out-of-range value.

use serde::{Deserialize, Serialize};

/// Automatic gain control toward a loudness target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgcParams {
    /// Whether the AGC stage runs (off: unity gain).
    pub enabled: bool,
    /// Loudness the AGC steers toward, LUFS.
    pub target_lufs: f32,
    /// Largest boost the AGC may apply, dB (≥ 0).
    pub max_boost_db: f32,
    /// Largest cut the AGC may apply, dB (≥ 0).
    pub max_cut_db: f32,
    /// How fast gain may rise (boost), dB per second.
    pub rise_db_per_s: f32,
    /// How fast gain may fall (cut), dB per second.
    pub fall_db_per_s: f32,
    /// Below this loudness the gain freezes, LUFS (digital silence, very quiet noise).
    /// Quieter sound above it is told apart from a quieter programme by the relative gate
    /// (see [`crate::agc`]).
    pub silence_gate_lufs: f32,
    /// Length of the programme loudness window, s: the AGC steers the gated loudness of the
    /// last `window_s` seconds of programme toward the target. Short follows the programme
    /// closely (even loudness); long keeps its dynamics (music).
    pub window_s: f32,
    /// Largest momentary loudness above the target, LU: louder moments (a shout, an
    /// explosion inside a loud scene) are pulled down within tens of milliseconds and let go
    /// over 300 ms — a loudness limiter. High values leave the dynamics alone.
    pub max_momentary_lu: f32,
}

impl Default for AgcParams {
    fn default() -> Self {
        Self {
            enabled: true,
            target_lufs: -16.0,
            max_boost_db: 30.0,
            max_cut_db: 24.0,
            rise_db_per_s: 15.0,
            fall_db_per_s: 40.0,
            silence_gate_lufs: -60.0,
            window_s: 2.0,
            max_momentary_lu: 4.0,
        }
    }
}

/// Feed-forward compressor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressorParams {
    /// Whether the compressor runs.
    pub enabled: bool,
    /// Threshold, dBFS.
    pub threshold_db: f32,
    /// Ratio (≥ 1).
    pub ratio: f32,
    /// Knee width, dB (≥ 0).
    pub knee_db: f32,
    /// Attack time, ms (> 0).
    pub attack_ms: f32,
    /// Release time, ms (> 0).
    pub release_ms: f32,
    /// Makeup gain, dB.
    pub makeup_db: f32,
    /// How far under its level the level detector reads bass (the band under
    /// [`crate::compressor::LOW_BAND_HZ`]), dB (≥ 0; 0 = full band).
    pub sidechain_bass_cut_db: f32,
}

impl Default for CompressorParams {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold_db: -6.0,
            ratio: 2.5,
            knee_db: 6.0,
            attack_ms: 10.0,
            release_ms: 200.0,
            makeup_db: 0.0,
            sidechain_bass_cut_db: 6.0,
        }
    }
}

/// Lookahead true-peak limiter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimiterParams {
    /// Whether the limiter runs. Note: its lookahead delay stays in the path either way so that
    /// toggling it never shifts the audio in time.
    pub enabled: bool,
    /// Ceiling, dBTP (≤ 0). No inter-sample peak of the output exceeds it.
    pub ceiling_dbtp: f32,
    /// Lookahead, ms (> 0, ≤ 1.5). This is the latency the chain adds.
    pub lookahead_ms: f32,
    /// Release time, ms (> 0).
    pub release_ms: f32,
}

impl Default for LimiterParams {
    fn default() -> Self {
        Self {
            enabled: true,
            ceiling_dbtp: -1.0,
            lookahead_ms: 1.5,
            release_ms: 100.0,
        }
    }
}

/// Layer A: per-stream loudness taps that turn single loud applications down.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LayerAParams {
    /// Whether Layer A runs.
    pub enabled: bool,
    /// An app louder than the bus target by more than this is turned down, LU (≥ 0).
    pub threshold_lu: f32,
    /// Largest reduction applied to one stream, dB (≥ 0).
    pub max_reduction_db: f32,
    /// Largest boost applied to one stream while other streams play, dB (≥ 0, at most 20:
    /// PipeWire's stream volume goes up to 10×).
    pub max_boost_db: f32,
    /// How fast a reduction or boost is applied, dB per second.
    pub attack_db_per_s: f32,
    /// How fast a reduction is released when no longer needed, dB per second (a boost is
    /// taken back at 12 dB/s, or at this or the attack rate if faster).
    pub release_db_per_s: f32,
}

impl Default for LayerAParams {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold_lu: 6.0,
            max_reduction_db: 12.0,
            max_boost_db: 20.0,
            attack_db_per_s: 6.0,
            release_db_per_s: 1.5,
        }
    }
}

/// Everything the [`crate::Chain`] needs, handed to the audio thread by value.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainParams {
    /// AGC stage.
    pub agc: AgcParams,
    /// Compressor stage.
    pub compressor: CompressorParams,
    /// Limiter stage.
    pub limiter: LimiterParams,
    /// Bypass: audio passes unchanged (delayed by the same latency, so toggling never jumps in
    /// time); meters keep running.
    pub bypass: bool,
}
