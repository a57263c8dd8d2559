//! Calendar arithmetic in UTC, without a date crate.

const MS_PER_DAY: i64 = 86_400_000;

/// Hour of day (0..24) of a unix-ms timestamp, UTC.
pub fn hour_of_day(ts_ms: i64) -> usize {
    (ts_ms.rem_euclid(MS_PER_DAY) / 3_600_000) as usize
}

/// Day of week (0 = Monday .. 6 = Sunday) of a unix-ms timestamp, UTC.
pub fn day_of_week(ts_ms: i64) -> usize {
    // 1970-01-01 was a Thursday
    (ts_ms.div_euclid(MS_PER_DAY) + 3).rem_euclid(7) as usize
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD HH:MM:SS` with optional fractional seconds (NAB's format, also with
/// a `T` separator), as UTC, to unix milliseconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut ms = 0;
    if b.len() > 19 {
        let frac = s.get(20..)?;
        if b[19] != b'.' || frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        ms = digits.parse().ok()?;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nab_timestamps() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        // 2015-02-26 21:42:53 UTC
        assert_eq!(
            parse_timestamp("2015-02-26 21:42:53"),
            Some(1_424_986_973_000)
        );
        assert_eq!(
            parse_timestamp("2015-02-26 21:42:53.000000"),
            Some(1_424_986_973_000)
        );
        assert_eq!(parse_timestamp("2015-02-26 21:42"), None);
        assert_eq!(parse_timestamp("2015-13-26 21:42:53"), None);
    }

    #[test]
    fn knows_weekdays_and_hours() {
        let ts = parse_timestamp("2015-02-26 21:42:53").unwrap(); // a Thursday
        assert_eq!(day_of_week(ts), 3);
        assert_eq!(hour_of_day(ts), 21);
        assert_eq!(
            day_of_week(parse_timestamp("2015-03-01 00:00:00").unwrap()),
            6
        );
    }
}
