//! [`PlaybackTiming`]: wait-free statistics of how long each audio callback took.
//!
//! The audio thread calls [`PlaybackTiming::record`] once per callback with the elapsed time
//! it measured; control threads call [`PlaybackTiming::snapshot`] (for example once per
//! second) and compare `spike_count` with the previous snapshot to log new spikes.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Default spike threshold: a callback longer than this many microseconds counts as a spike.
/// 2 ms is 40 % of a 256-frame quantum at 48 kHz (5.3 ms), the smallest quantum headroom is
/// tuned for; a healthy chain takes a few tens of microseconds.
pub const DEFAULT_SPIKE_THRESHOLD_US: u64 = 2_000;

/// Lock-free per-callback timing counters.
#[derive(Debug)]
pub struct PlaybackTiming {
    call_count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
    spike_count: AtomicU64,
    last_spike_us: AtomicU64,
    last_spike_at_call: AtomicU64,
    spike_threshold_us: u64,
}

/// A point-in-time copy of [`PlaybackTiming`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TimingSnapshot {
    /// Callbacks recorded.
    pub call_count: u64,
    /// Sum of callback durations, µs.
    pub sum_us: u64,
    /// Longest callback, µs.
    pub max_us: u64,
    /// Callbacks longer than the spike threshold.
    pub spike_count: u64,
    /// Duration of the latest spike, µs.
    pub last_spike_us: u64,
    /// `call_count` at the latest spike.
    pub last_spike_at_call: u64,
}

impl TimingSnapshot {
    /// Mean callback duration, µs (0 before the first call).
    pub fn mean_us(&self) -> f64 {
        if self.call_count == 0 {
            0.0
        } else {
            self.sum_us as f64 / self.call_count as f64
        }
    }
}

impl Default for PlaybackTiming {
    fn default() -> Self {
        Self::new(DEFAULT_SPIKE_THRESHOLD_US)
    }
}

impl PlaybackTiming {
    /// Creates zeroed counters with the given spike threshold (µs). Allocation: none.
    pub fn new(spike_threshold_us: u64) -> Self {
        Self {
            call_count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
            spike_count: AtomicU64::new(0),
            last_spike_us: AtomicU64::new(0),
            last_spike_at_call: AtomicU64::new(0),
            spike_threshold_us,
        }
    }

    /// The spike threshold, µs.
    pub fn spike_threshold_us(&self) -> u64 {
        self.spike_threshold_us
    }

    /// Records one callback that took `elapsed_us`. Real-time safe and wait-free: a fixed
    /// number of atomic operations (`fetch_max` is a single RMW), meant for one writer.
    pub fn record(&self, elapsed_us: u64) {
        let call = self.call_count.fetch_add(1, Ordering::Relaxed) + 1;
        self.sum_us.fetch_add(elapsed_us, Ordering::Relaxed);
        self.max_us.fetch_max(elapsed_us, Ordering::Relaxed);
        if elapsed_us > self.spike_threshold_us {
            self.last_spike_us.store(elapsed_us, Ordering::Relaxed);
            self.last_spike_at_call.store(call, Ordering::Relaxed);
            self.spike_count.fetch_add(1, Ordering::Release);
        }
    }

    /// Reads all counters.
    pub fn snapshot(&self) -> TimingSnapshot {
        let spike_count = self.spike_count.load(Ordering::Acquire);
        TimingSnapshot {
            call_count: self.call_count.load(Ordering::Relaxed),
            sum_us: self.sum_us.load(Ordering::Relaxed),
            max_us: self.max_us.load(Ordering::Relaxed),
            spike_count,
            last_spike_us: self.last_spike_us.load(Ordering::Relaxed),
            last_spike_at_call: self.last_spike_at_call.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_mean_max_and_spikes() {
        let t = PlaybackTiming::new(100);
        for us in [10, 20, 150, 30, 400] {
            t.record(us);
        }
        let s = t.snapshot();
        assert_eq!(s.call_count, 5);
        assert_eq!(s.sum_us, 610);
        assert_eq!(s.max_us, 400);
        assert_eq!(s.spike_count, 2);
        assert_eq!(s.last_spike_us, 400);
        assert_eq!(s.last_spike_at_call, 5);
        assert!((s.mean_us() - 122.0).abs() < 1e-9);
    }

    #[test]
    fn concurrent_reader_sees_monotonic_counts() {
        let t = std::sync::Arc::new(PlaybackTiming::new(5));
        let w = {
            let t = t.clone();
            std::thread::spawn(move || {
                for i in 0..100_000u64 {
                    t.record(i % 10);
                }
            })
        };
        let mut last = 0;
        for _ in 0..1000 {
            let s = t.snapshot();
            assert!(s.call_count >= last);
            last = s.call_count;
        }
        w.join().unwrap();
        let s = t.snapshot();
        assert_eq!(s.call_count, 100_000);
        assert_eq!(s.spike_count, 40_000);
    }
}
