//! Wall-clock helpers: unix milliseconds and RFC 3339.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the unix epoch, now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Parses an RFC 3339 timestamp (`2026-11-23T10:00:00Z`, offsets and fractions allowed)
/// into unix milliseconds.
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(text)
        .or_else(|_| humantime::parse_rfc3339(text))
        .ok()?;
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Formats unix milliseconds as RFC 3339 in UTC with millisecond precision.
pub fn format_rfc3339_millis(ms: i64) -> String {
    let ms = u64::try_from(ms).unwrap_or(0);
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_at_millisecond_precision() {
        let ms = 1_763_892_000_123;
        assert_eq!(parse_rfc3339_millis(&format_rfc3339_millis(ms)), Some(ms));
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn rfc3339_rejects_garbage() {
        assert_eq!(parse_rfc3339_millis("yesterday"), None);
        assert_eq!(parse_rfc3339_millis("2026-13-40T00:00:00Z"), None);
    }
}
