//! Helpers of the daemon's tests: a fake engine for the control server's own tests, and the
//! real engine without PipeWire, on its thread and behind the control socket.

pub mod fake_engine;
pub mod rig;
pub mod serve;
