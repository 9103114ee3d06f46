//! Offline analysis of whole files (placeholder until implemented).
