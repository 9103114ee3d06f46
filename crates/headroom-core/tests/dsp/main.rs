//! The DSP's tests: meters against EBU Tech 3341/3342 and the `ebur128` crate, real-time
//! behaviour, the chain's basics and properties, and its levelling on synthesised programmes.
//! (Each shipped profile's levelling is tested with the profiles, in `headroom-profile`.)

// Allocation inside `assert_no_alloc` aborts the test (debug builds): the real-time contract
// of `process`.
#[cfg(debug_assertions)]
#[global_allocator]
static A: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

mod chain_basics;
mod chain_props;
mod levelling;
mod meter_agreement;
mod meter_realtime;
mod meter_surround;
mod meter_tech3341;
mod meter_tech3342;
mod modules;
mod support;
