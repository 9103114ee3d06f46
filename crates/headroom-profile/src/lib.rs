//! # headroom-profile
//!
//! headroom's profiles: TOML files that configure the levelling chain, Layer A and routing.
//!
//! A profile (see `profiles/default.toml` for a fully commented example):
//!
//! ```toml
//! description = "Balanced levelling for mixed desktop audio"
//! bypass = false
//! preferred_real_sink = ""     # node.name of the sink to play into; "" = the default sink
//!
//! [agc]          # automatic gain control (headroom_core::AgcParams)
//! target_lufs = -16.0
//! [compressor]   # CompressorParams
//! [limiter]      # LimiterParams
//! [layer_a]      # per-stream taps (LayerAParams)
//!
//! [route]
//! default = "processed"        # or "bypass": what streams no rule matches get
//! [[route.rules]]              # first match wins; every key in `match` must match
//! match = { "application.name" = "Firefox*" }
//! route = "bypass"
//! ```
//!
//! * [`schema`] — the one table of every dotted-key setting (type, range, default,
//!   description, accessors). Parsing, validation, [`Profile::to_toml`], `headroom get/set`,
//!   the table below and the `headroom set --help` text are all derived from it.
//! * [`Profile`] — a validated profile: [`Profile::parse`] reads TOML and reports every error
//!   at `file:line:column` with a suggestion for typos; [`Profile::get`] / [`Profile::set`]
//!   work on dotted keys; [`Profile::diff`] says what a new profile changes.
//! * [`route`] — routing rules: the profile's [`RouteConfig`] and the runtime [`UserRules`]
//!   of `headroom route set`, both matched with the one [`Glob`] ([`glob`]). **Globs ignore
//!   case**: `firefox` matches `Firefox`.
//! * [`shipped_profiles`] — the profiles shipped with headroom, embedded in the binary.
//! * [`config`] — the daemon's `config.toml` (the active profile, `[alerts] notify`),
//!   read from its text.
//!
//! Every section and key is optional; missing ones take the built-in defaults
//! ([`headroom_core::ChainParams::default`] etc.). Unknown keys are errors, and every number
//! is range-checked. Routing rules (`[[route.rules]]`) are not dotted-key settings; their
//! `match` keys are `app` (matches `application.name` or `application.process.binary`),
//! `application.name`, `application.process.binary`, `media.role`, `media.name` and
//! `node.name`, each with a glob (`*`, `?`, `[abc]`, `[!abc]`, `[a-z]`).
//!
//! Nothing here does I/O: callers read files and pass the text to [`Profile::parse`].
//!
//! ## Settings
//!
#![doc = include_str!("../SETTINGS.md")]

mod assign;
mod check;
pub use check::{LOUDEST_PROGRAMME_LUFS, MIN_TARGET_ROOM_LU};
pub mod config;
mod diff;
mod docs;
mod error;
pub mod file;
pub mod glob;
mod parse;
mod profile;
pub mod route;
mod rules;
pub mod schema;
mod settings;
mod shipped;
mod suggest;
mod write;

pub use assign::{parse_assignment, parse_value};
pub use diff::{ChangeKind, ProfileDiff};
pub use docs::{settings_help, settings_markdown};
pub use error::{line_col, syntax_message, ErrorKind, Location, ProfileError};
pub use glob::{Glob, GlobError};
pub use parse::{empty_file_error, has_settings};
pub use profile::{Profile, DEFAULT_DESCRIPTION, DEFAULT_PROFILE_NAME};
pub use route::{
    is_notification_role, MatchKey, Route, RouteConfig, RouteRule, UserRule, UserRules,
    NOTIFICATION_ROLES,
};
pub use schema::{
    format_number, parse_bool, Bound, NumRange, SettingInfo, SettingKind, SettingValue,
};
pub use shipped::shipped_profiles;
pub use suggest::{closest, edit_distance};
