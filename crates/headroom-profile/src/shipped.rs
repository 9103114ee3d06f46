//! The profiles shipped with headroom (`profiles/*.toml` of the source tree), embedded in the
//! binary.

use crate::profile::Profile;
use crate::ProfileError;

static SHIPPED: &[(&str, &str)] = &[
    ("default", include_str!("../../../profiles/default.toml")),
    ("music", include_str!("../../../profiles/music.toml")),
    ("night", include_str!("../../../profiles/night.toml")),
    ("speech", include_str!("../../../profiles/speech.toml")),
];

/// The profiles shipped with headroom, embedded in the binary: `(name, toml text)`, sorted
/// by name.
pub fn shipped_profiles() -> &'static [(&'static str, &'static str)] {
    SHIPPED
}

impl Profile {
    /// A shipped profile by name, parsed from the embedded text.
    pub fn shipped(name: &str) -> Option<Result<Profile, ProfileError>> {
        shipped_profiles()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Profile::parse_named(n, text, &format!("profiles/{n}.toml")))
    }
}
