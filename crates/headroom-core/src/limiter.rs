//! Lookahead true-peak limiter (placeholder until implemented).
