//! The `chrono` and `time` features: a report's date range converts to
//! `chrono::DateTime<Utc>` and `time::OffsetDateTime` and back, exactly;
//! a timestamp outside either crate's range is an error, not a panic.

#![cfg(any(feature = "chrono", feature = "time"))]

use tlsrpt_core::Report;
use tlsrpt_core::time::Timestamp;

/// rpt01's date range: 2016-04-01T00:00:00Z to 2016-04-01T23:59:59Z.
fn range() -> (Timestamp, Timestamp) {
    let json = crate::data("mail-auth/rpt01.json");
    let r = Report::parse_lenient(&json).unwrap().value;
    (r.date_range.start, r.date_range.end)
}

#[cfg(feature = "chrono")]
#[test]
fn chrono_round_trip_and_out_of_range() {
    use chrono::{DateTime, TimeZone, Utc};
    let (start, end) = range();
    let s = DateTime::<Utc>::try_from(start).unwrap();
    assert_eq!(s, Utc.with_ymd_and_hms(2016, 4, 1, 0, 0, 0).unwrap());
    let e = DateTime::<Utc>::try_from(end).unwrap();
    assert_eq!(e.to_rfc3339(), "2016-04-01T23:59:59+00:00");
    assert_eq!(Timestamp::from(s), start);
    assert_eq!(Timestamp::from(e), end);
    // Sub-second precision is kept.
    let t = Timestamp::parse_rfc3339("2024-02-29T12:34:56.789Z", false)
        .unwrap()
        .0;
    let c = DateTime::<Utc>::try_from(t).unwrap();
    assert_eq!(c.timestamp_subsec_millis(), 789);
    assert_eq!(Timestamp::from(c), t);
    // Beyond chrono's range (about ±262,000 years): an error.
    for secs in [i64::MAX, i64::MIN] {
        let err = DateTime::<Utc>::try_from(Timestamp::from_unix(secs)).unwrap_err();
        assert!(err.to_string().contains("chrono::DateTime<Utc>"), "{err}");
    }
}

#[cfg(feature = "time")]
#[test]
fn time_round_trip_and_out_of_range() {
    use time::{Date, Month, OffsetDateTime, UtcOffset};
    let day = Date::from_calendar_date(2016, Month::April, 1).unwrap();
    let (start, end) = range();
    let s = OffsetDateTime::try_from(start).unwrap();
    assert_eq!(s, day.with_hms(0, 0, 0).unwrap().assume_utc());
    let e = OffsetDateTime::try_from(end).unwrap();
    assert_eq!(e, day.with_hms(23, 59, 59).unwrap().assume_utc());
    assert_eq!(e.offset(), UtcOffset::UTC);
    assert_eq!(Timestamp::from(s), start);
    assert_eq!(Timestamp::from(e), end);
    // An offset keeps the instant.
    let plus2 = day
        .with_hms(2, 0, 0)
        .unwrap()
        .assume_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
    assert_eq!(Timestamp::from(plus2), start);
    // Beyond the `time` crate's range (years ±9999): an error.
    let year_10000 = Timestamp::parse_rfc3339("9999-12-31T23:59:59Z", false)
        .unwrap()
        .0;
    assert!(OffsetDateTime::try_from(year_10000).is_ok());
    for secs in [year_10000.secs + 1, i64::MAX, i64::MIN] {
        let err = OffsetDateTime::try_from(Timestamp::from_unix(secs)).unwrap_err();
        assert!(err.to_string().contains("OffsetDateTime"), "{err}");
    }
}
