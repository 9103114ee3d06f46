//! The daemon's tests without PipeWire: the control server, the engine (driven input by input,
//! and behind the real control socket), the profile store with its file watcher, the metrics
//! history, the instance lock.

mod atomic_requests;
mod control_server;
mod engine;
mod engine_server;
mod files;
mod history_spill;
mod instance;
mod limits;
mod minor;
mod modules;
mod notifications;
mod profiles_store;
mod support;
