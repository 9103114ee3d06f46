//! TOML profiles and dotted-key settings (placeholder until implemented).
