//! The CLI's two uses of civil time, on the shared
//! [`mta_sts_core::time::Timestamp`]: the default policy id and the
//! RFC 3339 `--at` argument.

use std::time::SystemTime;

use mta_sts_core::time::Timestamp;

/// The default policy id: the UTC time `now` as `YYYYMMDDhhmmss`.
pub(crate) fn timestamp_id(now: SystemTime) -> Result<String, String> {
    let t = Timestamp::from(now);
    if t.secs < 0 {
        return Err("the system clock is before 1970".to_owned());
    }
    let c = t.civil();
    Ok(format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    ))
}

/// The syntax accepted by [`parse_rfc3339`], for messages.
const RFC3339_SYNTAX: &str = "expected YYYY-MM-DDThh:mm:ss[.fraction] then Z or +hh:mm/-hh:mm, \
                              e.g. 2030-01-01T00:00:00Z";

/// Parse an RFC 3339 `date-time` (section 5.6), e.g.
/// `2030-01-01T00:00:00Z`, `2030-01-01T02:00:00.5+02:00`, with
/// [`Timestamp::parse_rfc3339`] (strict). `T` and `Z` may be lower case; a
/// leap second (`:60`) is not accepted. Used as a clap value parser, so an
/// error is a usage error.
pub(crate) fn parse_rfc3339(s: &str) -> Result<SystemTime, String> {
    let (t, _) =
        Timestamp::parse_rfc3339(s, false).map_err(|e| format!("{e} ({RFC3339_SYNTAX})"))?;
    // The shared reader keeps a leap second within its minute; a time to
    // check a certificate at is better given exactly.
    if s.as_bytes().get(17..19) == Some(b"60") {
        return Err("leap seconds (:60) are not supported".to_owned());
    }
    t.to_system_time()
        .ok_or_else(|| "time out of range for this system".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// Nanoseconds since the Unix epoch of an RFC 3339 timestamp.
    fn unix(s: &str) -> i128 {
        let t = parse_rfc3339(s).unwrap();
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        }
    }

    #[test]
    fn timestamp_ids() {
        let t = UNIX_EPOCH + Duration::from_secs(1_472_633_820);
        assert_eq!(timestamp_id(t).unwrap(), "20160831085700");
        assert_eq!(timestamp_id(UNIX_EPOCH).unwrap(), "19700101000000");
        assert_eq!(
            timestamp_id(UNIX_EPOCH + Duration::from_millis(999)).unwrap(),
            "19700101000000"
        );
        assert_eq!(
            timestamp_id(UNIX_EPOCH - Duration::from_secs(1)),
            Err("the system clock is before 1970".to_owned())
        );
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
        assert_eq!(
            parse_rfc3339("2030-13-01T00:00:00Z"),
            Err(format!("byte 5: month out of range ({RFC3339_SYNTAX})"))
        );
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z"),
            Err("leap seconds (:60) are not supported".to_owned())
        );
    }
}
