//! Automatic gain control toward a loudness target (placeholder until implemented).
