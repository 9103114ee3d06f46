//! Feed-forward compressor (placeholder until implemented).
