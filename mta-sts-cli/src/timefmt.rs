//! Civil (proleptic Gregorian, UTC) dates without a date library: the
//! default policy id and the RFC 3339 `--at` argument.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds per day.
const DAY: i64 = 86_400;

/// Days since 1970-01-01 of the date `y-m-d` (H. Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(y, m, d)` of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are in range by construction (1..=31 and 1..=12).
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether `y` is a leap year.
fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Number of days in month `m` of year `y`.
fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The default policy id: the UTC time `now` as `YYYYMMDDhhmmss`.
pub(crate) fn timestamp_id(now: SystemTime) -> Result<String, String> {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_owned())?
        .as_secs();
    let secs = i64::try_from(secs).map_err(|_| "the system clock is out of range".to_owned())?;
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
    let t = secs.rem_euclid(DAY);
    Ok(format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        t / 3600,
        t / 60 % 60,
        t % 60
    ))
}

/// The syntax accepted by [`parse_rfc3339`], for messages.
const RFC3339_SYNTAX: &str = "expected YYYY-MM-DDThh:mm:ss[.fraction] then Z or +hh:mm/-hh:mm, \
                              e.g. 2030-01-01T00:00:00Z";

/// Parse an RFC 3339 `date-time` (section 5.6), e.g.
/// `2030-01-01T00:00:00Z`, `2030-01-01T02:00:00.5+02:00`. `T` and `Z` may
/// be lower case; a leap second (`:60`) is not accepted. Used as a clap
/// value parser, so an error is a usage error.
pub(crate) fn parse_rfc3339(s: &str) -> Result<SystemTime, String> {
    let b = s.as_bytes();
    let syntax = || RFC3339_SYNTAX.to_owned();
    let num = |from: usize, to: usize| -> Result<u32, String> {
        let part = b.get(from..to).ok_or_else(syntax)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(syntax());
        }
        Ok(part.iter().fold(0, |a, d| a * 10 + u32::from(d - b'0')))
    };
    let sep = |at: usize, ok: &[u8]| -> Result<(), String> {
        match b.get(at) {
            Some(c) if ok.contains(c) => Ok(()),
            _ => Err(syntax()),
        }
    };
    let year = i64::from(num(0, 4)?);
    sep(4, b"-")?;
    let month = num(5, 7)?;
    sep(7, b"-")?;
    let day = num(8, 10)?;
    sep(10, b"Tt")?;
    let hour = num(11, 13)?;
    sep(13, b":")?;
    let minute = num(14, 16)?;
    sep(16, b":")?;
    let second = num(17, 19)?;
    let mut pos = 19;
    let mut nanos = 0u32;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        if pos == start {
            return Err(syntax());
        }
        // Nanosecond precision; further digits are dropped.
        for i in 0..9 {
            let digit = if start + i < pos {
                b[start + i] - b'0'
            } else {
                0
            };
            nanos = nanos * 10 + u32::from(digit);
        }
    }
    let offset = match &b[pos..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (num(pos + 1, pos + 3)?, num(pos + 4, pos + 6)?);
            if oh > 23 || om > 59 {
                return Err(format!("offset out of range ({RFC3339_SYNTAX})"));
            }
            let o = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' { -o } else { o }
        }
        _ => return Err(syntax()),
    };
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} out of range"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(format!("day {day} out of range for {year:04}-{month:02}"));
    }
    if hour > 23 || minute > 59 {
        return Err(format!("time {hour:02}:{minute:02} out of range"));
    }
    if second == 60 {
        return Err("leap seconds (:60) are not supported".to_owned());
    }
    if second > 60 {
        return Err(format!("second {second} out of range"));
    }
    let secs = days_from_civil(year, month, day) * DAY
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset;
    let whole = Duration::from_secs(secs.unsigned_abs());
    let base = if secs >= 0 {
        UNIX_EPOCH.checked_add(whole)
    } else {
        UNIX_EPOCH.checked_sub(whole)
    };
    base.and_then(|t| t.checked_add(Duration::from_nanos(u64::from(nanos))))
        .ok_or_else(|| "time out of range for this system".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nanoseconds since the Unix epoch of an RFC 3339 timestamp.
    fn unix(s: &str) -> i128 {
        let t = parse_rfc3339(s).unwrap();
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        }
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for z in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn timestamp_ids() {
        let t = UNIX_EPOCH + Duration::from_secs(1_472_633_820);
        assert_eq!(timestamp_id(t).unwrap(), "20160831085700");
        assert_eq!(timestamp_id(UNIX_EPOCH).unwrap(), "19700101000000");
    }

    #[test]
    fn rfc3339_valid() {
        assert_eq!(unix("1970-01-01T00:00:00Z"), 0);
        assert_eq!(unix("2016-08-31T08:57:00Z"), 1_472_633_820 * 1_000_000_000);
        assert_eq!(
            unix("2016-08-31t10:57:00+02:00"),
            1_472_633_820 * 1_000_000_000
        );
        assert_eq!(
            unix("2016-08-31T07:27:00-01:30"),
            1_472_633_820 * 1_000_000_000
        );
        assert_eq!(unix("1970-01-01T00:00:00.5z"), 500_000_000);
        assert_eq!(unix("1970-01-01T00:00:01.1234567891Z"), 1_123_456_789);
        assert_eq!(unix("1969-12-31T23:59:59.25Z"), -750_000_000);
        assert_eq!(unix("2024-02-29T00:00:00Z"), 1_709_164_800 * 1_000_000_000);
    }

    #[test]
    fn rfc3339_invalid() {
        for s in [
            "",
            "2030-01-01",
            "2030-01-01T00:00:00",
            "2030-01-01 00:00:00Z",
            "2030-1-01T00:00:00Z",
            "2030-13-01T00:00:00Z",
            "2030-00-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2030-04-31T00:00:00Z",
            "2030-01-01T24:00:00Z",
            "2030-01-01T00:60:00Z",
            "2030-01-01T00:00:60Z",
            "2030-01-01T00:00:00.Z",
            "2030-01-01T00:00:00+0200",
            "2030-01-01T00:00:00+24:00",
            "2030-01-01T00:00:00Z ",
            "+030-01-01T00:00:00Z",
            "２030-01-01T00:00:00Z",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s:?}");
        }
    }
}
