//! The `headroom-profile` tests: parsing with positions, dotted-key settings, property tests,
//! and the settings table of the docs kept in step with the schema.

mod docs;
mod modules;
mod parse;
mod props;
mod settings;
