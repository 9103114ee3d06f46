//! Human-readable formatting of values shared by the commands and the monitor.

use headroom_core::LUFS_FLOOR;

/// A loudness value, or `—` when at or below the −70 LUFS floor (no measurement).
pub fn lufs(v: f32) -> String {
    if v.is_finite() && f64::from(v) > LUFS_FLOOR {
        format!("{v:.1}")
    } else {
        "—".to_string()
    }
}

/// Whether a loudness value is a real measurement (above the floor).
pub fn measured(v: f32) -> bool {
    v.is_finite() && f64::from(v) > LUFS_FLOOR
}

/// A duration in seconds as `3d 4h`, `2h 05m`, `12m 30s` or `42s`.
pub fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn utc_time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (proleptic Gregorian), after H. Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_means_no_measurement() {
        assert_eq!(lufs(-23.04), "-23.0");
        assert_eq!(lufs(-70.0), "—");
        assert_eq!(lufs(f32::NEG_INFINITY), "—");
        assert!(!measured(-70.0));
        assert!(measured(-69.9));
    }

    #[test]
    fn uptime_and_time() {
        assert_eq!(uptime(42), "42s");
        assert_eq!(uptime(750), "12m 30s");
        assert_eq!(uptime(7500), "2h 05m");
        assert_eq!(uptime(3 * 86400 + 4 * 3600 + 5), "3d 4h");
        assert_eq!(utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00:00");
    }
}
