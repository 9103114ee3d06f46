//! [`Chain`]: AGC → compressor → lookahead true-peak limiter, with input and output meters
//! and bypass.
//!
//! PLACEHOLDER: passes audio through unchanged until the stages land. The public API below is
//! the contract the daemon and the CLI build against.

use crate::params::ChainParams;
use crate::shared::MeterSnapshot;

/// The levelling chain for one bus of interleaved `f32` audio.
#[derive(Debug)]
pub struct Chain {
    rate: u32,
    channels: usize,
    max_block: usize,
    params: ChainParams,
    frames: u64,
}

impl Chain {
    /// Creates a chain for `channels` interleaved channels at `sample_rate`, able to take
    /// blocks of up to `max_block` frames per internal step (longer buffers are split).
    /// Allocates all buffers.
    pub fn new(sample_rate: u32, channels: usize, max_block: usize, params: &ChainParams) -> Self {
        Self {
            rate: sample_rate,
            channels: channels.max(1),
            max_block: max_block.max(1),
            params: *params,
            frames: 0,
        }
    }

    /// Re-prepares for a new sample rate or block size. May allocate; resets state.
    pub fn prepare(&mut self, sample_rate: u32, max_block: usize) {
        self.rate = sample_rate;
        self.max_block = max_block.max(1);
        self.frames = 0;
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Hands in new parameters; changes are smoothed. Real-time safe.
    pub fn set_params(&mut self, params: &ChainParams) {
        self.params = *params;
    }

    /// The parameters in force.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// Latency the chain adds, in frames (the limiter lookahead).
    pub fn latency_frames(&self) -> usize {
        0
    }

    /// Processes interleaved audio in place. Any length (a trailing partial frame is zeroed).
    /// Real-time safe: no allocation, lock, syscall or panic, for any input.
    pub fn process(&mut self, buf: &mut [f32]) {
        self.frames += (buf.len() / self.channels) as u64;
    }

    /// Current meter values. Real-time safe.
    pub fn meters(&self) -> MeterSnapshot {
        MeterSnapshot {
            target_lufs: self.params.agc.target_lufs,
            bypass: self.params.bypass,
            frames: self.frames,
            ..Default::default()
        }
    }
}
