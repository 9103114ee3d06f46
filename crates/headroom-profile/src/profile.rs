//! [`Profile`]: a validated profile — everything the daemon needs to configure the chain,
//! Layer A and routing — and its built-in defaults. Reading, writing, settings and diffs are
//! implemented next to what they need: `parse`, `write`, `settings`, `check`, `diff`.

use headroom_core::params::{ChainParams, LayerAParams};

use crate::route::RouteConfig;

/// Description of the built-in default profile.
pub const DEFAULT_DESCRIPTION: &str = "Balanced levelling for mixed desktop audio";

/// Name of the built-in default profile.
pub const DEFAULT_PROFILE_NAME: &str = "default";

/// A validated profile: everything the daemon needs to configure the chain, Layer A and
/// routing.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Name (the file stem, e.g. `night`).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Chain parameters (AGC, compressor, limiter, bypass).
    pub chain: ChainParams,
    /// Per-stream Layer A parameters.
    pub layer_a: LayerAParams,
    /// Routing rules.
    pub route: RouteConfig,
    /// `node.name` of the real sink to play into; `None` follows the default sink.
    pub preferred_real_sink: Option<String>,
    /// Make `headroom-processed` the configured default sink while the daemon runs
    /// (`route.promote_default`); the user's previous default becomes the real sink.
    pub promote_default: bool,
}

impl Default for Profile {
    /// The built-in defaults; identical to the shipped `profiles/default.toml`.
    fn default() -> Self {
        Profile {
            name: DEFAULT_PROFILE_NAME.to_owned(),
            description: DEFAULT_DESCRIPTION.to_owned(),
            chain: ChainParams::default(),
            layer_a: LayerAParams::default(),
            route: RouteConfig::default(),
            preferred_real_sink: None,
            promote_default: false,
        }
    }
}
