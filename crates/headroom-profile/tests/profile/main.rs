//! The `headroom-profile` tests: parsing with positions, dotted-key settings, property tests,
//! the settings table of the docs kept in step with the schema, and each shipped profile's
//! levelling on synthesised programmes.

/// The DSP tests' programme builders and oracles (one copy, in `headroom-core`'s tests).
#[path = "../../../headroom-core/tests/levelling_support/mod.rs"]
mod levelling_support;

mod docs;
mod levelling;
mod modules;
mod parse;
mod props;
mod settings;
