//! The wire protocol's tests: golden frames of every type, the examples of `IPC.md` decoded
//! and re-encoded, the decoder's properties on arbitrary input.

mod decoder_prop;
mod golden;
mod modules;
mod spec_examples;
