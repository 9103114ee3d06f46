//! BS.1770-4 / EBU R128 loudness metering (placeholder until implemented).
