//! # headroom-core
//!
//! The loudness levelling DSP of headroom, free of I/O and of allocation on the audio path.
//! Profiles (the TOML files that set these parameters) live in the `headroom-profile` crate.
//!
//! * [`meter`] — ITU-R BS.1770-4 / EBU R128 loudness metering (K-weighting, momentary,
//!   short-term, gated integrated, loudness range, true peak, sample peak) with O(1) live reads.
//! * [`agc`], [`compressor`], [`limiter`] — the three levelling stages; [`dc`] takes a DC
//!   offset off in front of them while the AGC or the compressor runs.
//! * [`chain`] — [`Chain`]: AGC → compressor → lookahead true-peak limiter with input and
//!   output meters and bypass. This is what the daemon runs in its PipeWire callback and what
//!   `headroom render` runs offline.
//! * [`params`] — the parameter structs every stage takes, with their defaults and ranges.
//! * [`shared`] — lock-free hand-off of meters out of the audio thread.
//! * [`timing`] — [`PlaybackTiming`]: wait-free per-callback timing statistics.
//! * [`analysis`] — offline file analysis (`headroom analyze`), built on the `ebur128` crate.
//! * [`finepeak`] — [`finepeak::FineTruePeak`]: the offline true peak (`analyze`, `render`'s
//!   summary), a long sinc interpolation where the meters' short one says the peak may be.
//! * [`flatness`] — [`flatness::Flatness`]: how noise-like the input's spectrum is per 100 ms
//!   sub-block, which tells the AGC noise from quiet music.
//!
//! ## Allocation contract
//! Constructors (`new`) and `prepare` may allocate. Every method documented as
//! *real-time safe* (notably every `process`) never allocates, locks, blocks, logs or panics,
//! for any input, and is checked under `assert_no_alloc` in the tests.

pub mod agc;
pub mod analysis;
pub mod chain;
pub mod compressor;
pub mod dc;
pub mod finepeak;
pub mod flatness;
pub mod limiter;
pub mod meter;
pub mod params;
pub mod shared;
pub mod timing;
pub mod truepeak;
pub mod util;

pub use chain::Chain;
pub use params::{AgcParams, ChainParams, CompressorParams, LayerAParams, LimiterParams};
pub use shared::{AtomicMeters, MeterSnapshot};
pub use timing::{PlaybackTiming, TimingSnapshot};

/// Loudness value published when there is no measurement yet (silence, or the window is not
/// yet filled): the BS.1770 absolute gate, −70 LUFS. Readers treat values at or below this
/// floor as "no measurement".
pub const LUFS_FLOOR: f64 = -70.0;
