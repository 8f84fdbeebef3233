//! UTC instants and the proleptic Gregorian calendar, without a calendar
//! dependency: the one home of the workspace's date arithmetic.
//!
//! [`Timestamp`] is a UTC instant (Unix seconds plus nanoseconds). It reads
//! RFC 3339 `date-time`s ([`Timestamp::parse_rfc3339`], used for TLS-RPT
//! report date ranges, RFC 8460 4.4; DEC-17), writes them (`Display`), and
//! converts from and to [`SystemTime`], and, with the `chrono` and `time`
//! cargo features, from and to `chrono::DateTime<Utc>` and
//! `time::OffsetDateTime`.
//!
//! Nothing here reads the clock: the caller passes the time in (for
//! example `Timestamp::from(SystemTime::now())`).
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use mta_sts_core::time::Timestamp;
//!
//! let t = Timestamp::from(UNIX_EPOCH + Duration::from_secs(1_472_633_820));
//! assert_eq!(t.to_string(), "2016-08-31T08:57:00Z");
//! assert_eq!(t.unix_secs(), 1_472_633_820);
//! assert_eq!(t.to_system_time(), Some(UNIX_EPOCH + Duration::from_secs(1_472_633_820)));
//! let (parsed, _) = Timestamp::parse_rfc3339("2016-08-31T10:57:00+02:00", false)?;
//! assert_eq!(parsed, t);
//! # Ok::<(), mta_sts_core::time::TimeError>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC instant with second precision plus nanoseconds.
///
/// The fields are public; a `nanos` of 1,000,000,000 or more is not
/// produced by this module, and the conversions treat it as carrying into
/// the seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub secs: i64,
    /// Nanoseconds within the second (always forward in time, also before
    /// 1970: -0.25 s is `secs: -1, nanos: 750_000_000`).
    pub nanos: u32,
}

/// The UTC calendar fields of a [`Timestamp`] ([`Timestamp::civil`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Civil {
    /// The proleptic Gregorian year (year 0 is 1 BC).
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
}

/// How a date-time string deviated from RFC 3339 but was still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leniency {
    /// Exactly RFC 3339.
    None,
    /// No zone offset: read as UTC (historic Microsoft reports).
    NoOffset,
    /// A space instead of `T` between date and time.
    SpaceSeparator,
}

/// Why a date-time could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {reason}")]
pub struct TimeError {
    /// Byte offset in the string.
    pub offset: usize,
    /// What was expected.
    pub reason: &'static str,
}

/// A [`Timestamp`] that the target type cannot represent (a
/// [`SystemTime`] on this platform, a `chrono::DateTime<Utc>`, a
/// `time::OffsetDateTime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{secs} s {nanos} ns after 1970-01-01T00:00:00Z is outside the range of {target}")]
pub struct OutOfRangeError {
    /// The seconds of the timestamp.
    pub secs: i64,
    /// The nanoseconds of the timestamp.
    pub nanos: u32,
    /// The type it was converted to, e.g. `SystemTime`.
    pub target: &'static str,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`). `m` is 1 to 12 and `d` 1 to 31 (not checked: other
/// values give a day number, not an error). Exact for years within
/// ±2.5 × 10¹⁶; beyond that the arithmetic wraps instead of panicking.
///
/// ```
/// use mta_sts_core::time::days_from_civil;
/// assert_eq!(days_from_civil(1970, 1, 1), 0);
/// assert_eq!(days_from_civil(1969, 12, 31), -1);
/// assert_eq!(days_from_civil(2000, 3, 1), 11_017);
/// ```
#[inline]
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y.wrapping_sub(1) } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(m.wrapping_add(9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era.wrapping_mul(146_097)
        .wrapping_add(doe)
        .wrapping_sub(719_468)
}

/// The civil date `(year, month, day)` of a day number since 1970-01-01
/// (Howard Hinnant's `civil_from_days`); the inverse of
/// [`days_from_civil`]. Exact for every day number except the 719,468
/// largest, where the arithmetic wraps instead of panicking.
///
/// ```
/// use mta_sts_core::time::civil_from_days;
/// assert_eq!(civil_from_days(0), (1970, 1, 1));
/// assert_eq!(civil_from_days(-1), (1969, 12, 31));
/// assert_eq!(civil_from_days(11_016), (2000, 2, 29));
/// ```
#[inline]
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z.wrapping_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are in range by construction (1..=31 and 1..=12).
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether `y` is a leap year of the proleptic Gregorian calendar.
#[inline]
pub fn is_leap_year(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// The number of days in month `m` (1 to 12) of year `y`; 31 for any
/// other `m`.
#[inline]
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => 31,
    }
}

/// 0000-01-01T00:00:00Z in Unix seconds.
const MIN_SECS: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z in Unix seconds.
const MAX_SECS: i64 = 253_402_300_799;
/// Nanoseconds per second.
const NANOS: u32 = 1_000_000_000;

impl Timestamp {
    /// From Unix seconds.
    #[inline]
    pub const fn from_unix(secs: i64) -> Self {
        Self { secs, nanos: 0 }
    }

    /// Unix seconds (rounded down: -0.25 s is -1).
    #[inline]
    pub const fn unix_secs(&self) -> i64 {
        self.secs
    }

    /// The UTC day number (days since 1970-01-01).
    #[inline]
    pub const fn day(&self) -> i64 {
        self.secs.div_euclid(86_400)
    }

    /// The UTC calendar date and time of day.
    ///
    /// ```
    /// use mta_sts_core::time::{Civil, Timestamp};
    /// let c = Timestamp::from_unix(-1).civil();
    /// assert_eq!(c, Civil { year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59 });
    /// ```
    pub fn civil(&self) -> Civil {
        let (year, month, day) = civil_from_days(self.day());
        // 0..86_400, so the casts are exact.
        let s = self.secs.rem_euclid(86_400) as u32;
        Civil {
            year,
            month,
            day,
            hour: s / 3600,
            minute: s / 60 % 60,
            second: s % 60,
        }
    }

    /// `YYYY-MM-DD` of the UTC day.
    pub fn date_string(&self) -> String {
        let (y, m, d) = civil_from_days(self.day());
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// From a [`SystemTime`] (the same as `Timestamp::from(t)`). Exact on
    /// every platform Rust supports; a time beyond ±2⁶³ seconds (which no
    /// supported platform has) saturates.
    pub fn from_system_time(t: SystemTime) -> Self {
        let nanos: i128 = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        Self::from_total_nanos(nanos).unwrap_or(if nanos < 0 {
            Self {
                secs: i64::MIN,
                nanos: 0,
            }
        } else {
            Self {
                secs: i64::MAX,
                nanos: NANOS - 1,
            }
        })
    }

    /// As a [`SystemTime`]; `None` when this platform's `SystemTime` cannot
    /// represent it.
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let whole = Duration::from_secs(self.secs.unsigned_abs());
        let base = if self.secs >= 0 {
            UNIX_EPOCH.checked_add(whole)
        } else {
            UNIX_EPOCH.checked_sub(whole)
        }?;
        base.checked_add(Duration::from_nanos(u64::from(self.nanos)))
    }

    /// Nanoseconds since the epoch, `self.nanos` carried into the seconds.
    #[cfg(any(feature = "chrono", feature = "time"))]
    fn total_nanos(&self) -> i128 {
        i128::from(self.secs) * i128::from(NANOS) + i128::from(self.nanos)
    }

    /// From nanoseconds since the epoch; `None` outside the `i64` seconds.
    fn from_total_nanos(n: i128) -> Option<Self> {
        let secs = i64::try_from(n.div_euclid(i128::from(NANOS))).ok()?;
        // 0..NANOS, so the cast is exact.
        let nanos = n.rem_euclid(i128::from(NANOS)) as u32;
        Some(Self { secs, nanos })
    }

    fn out_of_range(&self, target: &'static str) -> OutOfRangeError {
        OutOfRangeError {
            secs: self.secs,
            nanos: self.nanos,
            target,
        }
    }

    /// Parse an RFC 3339 `date-time` (lower-case `t`/`z`, fractions and
    /// offsets accepted; a leap second `:60` is read as `:59` of the same
    /// minute). With `lenient`, a missing offset (read as UTC) or a space
    /// separator is accepted and reported in the returned [`Leniency`].
    /// Instants outside years 0000-9999 in UTC are rejected.
    ///
    /// ```
    /// use mta_sts_core::time::{Leniency, Timestamp};
    /// let (t, l) = Timestamp::parse_rfc3339("2016-04-01T00:00:00Z", false).unwrap();
    /// assert_eq!((t.secs, l), (1_459_468_800, Leniency::None));
    /// let (t2, _) = Timestamp::parse_rfc3339("2016-04-01t02:00:00.5+02:00", false).unwrap();
    /// assert_eq!((t2.secs, t2.nanos), (1_459_468_800, 500_000_000));
    /// assert!(Timestamp::parse_rfc3339("2016-04-01T00:00:00", false).is_err());
    /// assert_eq!(Timestamp::parse_rfc3339("2016-04-01T00:00:00", true).unwrap().1, Leniency::NoOffset);
    /// ```
    pub fn parse_rfc3339(s: &str, lenient: bool) -> Result<(Self, Leniency), TimeError> {
        match Self::parse_canonical(s.as_bytes()) {
            Some(t) => Ok((t, Leniency::None)),
            None => Self::parse_general(s, lenient),
        }
    }

    /// Every form [`Timestamp::parse_rfc3339`] reads, with the reason and
    /// offset of any error.
    fn parse_general(s: &str, lenient: bool) -> Result<(Self, Leniency), TimeError> {
        let b = s.as_bytes();
        let err = |offset: usize, reason: &'static str| TimeError { offset, reason };
        let num = |from: usize, len: usize| -> Result<u32, TimeError> {
            let digits = b
                .get(from..from + len)
                .ok_or(err(from.min(b.len()), "unexpected end of date-time"))?;
            let mut v = 0u32;
            for (i, d) in digits.iter().enumerate() {
                if !d.is_ascii_digit() {
                    return Err(err(from + i, "expected a digit"));
                }
                v = v * 10 + u32::from(d - b'0');
            }
            Ok(v)
        };
        let lit = |at: usize, c: u8, reason: &'static str| -> Result<(), TimeError> {
            if b.get(at) == Some(&c) {
                Ok(())
            } else {
                Err(err(at.min(b.len()), reason))
            }
        };
        let mut leniency = Leniency::None;
        let year = i64::from(num(0, 4)?);
        lit(4, b'-', "expected `-`")?;
        let month = num(5, 2)?;
        lit(7, b'-', "expected `-`")?;
        let day = num(8, 2)?;
        if !(1..=12).contains(&month) {
            return Err(err(5, "month out of range"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(err(8, "day out of range for the month"));
        }
        match b.get(10) {
            Some(b'T' | b't') => {}
            Some(b' ') if lenient => leniency = Leniency::SpaceSeparator,
            _ => return Err(err(10, "expected `T`")),
        }
        let hour = num(11, 2)?;
        lit(13, b':', "expected `:`")?;
        let minute = num(14, 2)?;
        lit(16, b':', "expected `:`")?;
        let mut second = num(17, 2)?;
        if hour > 23 {
            return Err(err(11, "hour out of range (00-23)"));
        }
        if minute > 59 {
            return Err(err(14, "minute out of range"));
        }
        if second > 60 {
            return Err(err(17, "second out of range"));
        }
        if second == 60 {
            second = 59; // leap second: the instant is kept within the minute
        }
        let mut pos = 19;
        let mut nanos = 0u32;
        if b.get(pos) == Some(&b'.') {
            pos += 1;
            let start = pos;
            let mut scale = 100_000_000u32;
            while let Some(d) = b.get(pos).filter(|d| d.is_ascii_digit()) {
                nanos += u32::from(d - b'0') * scale;
                scale /= 10;
                pos += 1;
            }
            if pos == start {
                return Err(err(pos, "expected a digit after `.`"));
            }
        }
        let offset_at = pos;
        let offset_secs: i64 = match b.get(pos) {
            Some(b'Z' | b'z') => {
                pos += 1;
                0
            }
            Some(&sign @ (b'+' | b'-')) => {
                let h = num(pos + 1, 2)?;
                lit(pos + 3, b':', "expected `:` in the offset")?;
                let m = num(pos + 4, 2)?;
                if h > 23 || m > 59 {
                    return Err(err(pos + 1, "offset out of range"));
                }
                pos += 6;
                let o = i64::from(h * 3600 + m * 60);
                if sign == b'+' { o } else { -o }
            }
            None if lenient => {
                leniency = Leniency::NoOffset;
                0
            }
            _ => return Err(err(pos, "expected `Z` or an offset like `+00:00`")),
        };
        if pos != b.len() {
            return Err(err(pos, "unexpected characters after the date-time"));
        }
        let secs = days_from_civil(year, month, day) * 86_400
            + i64::from(hour * 3600 + minute * 60 + second)
            - offset_secs;
        // The offset can move the instant out of the four-digit years,
        // which the `Z` form (`Display`) could not write back.
        if !(MIN_SECS..=MAX_SECS).contains(&secs) {
            return Err(err(
                offset_at,
                "the offset moves the date-time outside years 0000-9999",
            ));
        }
        Ok((Self { secs, nanos }, leniency))
    }

    /// The form nearly every report uses, `YYYY-MM-DDTHH:MM:SSZ`, read
    /// without the general parser's bookkeeping. `None` for anything else
    /// (including out-of-range fields), which the general parser then reads
    /// or rejects with the precise reason.
    #[inline]
    fn parse_canonical(b: &[u8]) -> Option<Self> {
        let (date, time) = b.split_first_chunk::<10>()?;
        let time: &[u8; 10] = time.try_into().ok()?;
        Some(Self {
            secs: canonical_day(date)? * 86_400 + i64::from(canonical_time(time)?),
            nanos: 0,
        })
    }
}

/// Two ASCII digits as a number, `None` unless both are digits.
#[inline(always)]
fn two_digits(a: u8, b: u8) -> Option<u32> {
    let (a, b) = (a.wrapping_sub(b'0'), b.wrapping_sub(b'0'));
    (a <= 9 && b <= 9).then(|| u32::from(a) * 10 + u32::from(b))
}

/// `YYYY-MM-DD` as a day number since 1970-01-01; `None` for anything
/// else, including days the month does not have. The date half of
/// [`Timestamp::parse_rfc3339`]'s fast path, for readers that split a
/// date-time themselves (tlsrpt-core's report reader caches the day).
///
/// ```
/// use mta_sts_core::time::canonical_day;
/// assert_eq!(canonical_day(b"1970-01-02"), Some(1));
/// assert_eq!(canonical_day(b"2023-02-29"), None);
/// ```
#[inline]
pub fn canonical_day(b: &[u8; 10]) -> Option<i64> {
    let &[y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = b else {
        return None;
    };
    let year = i64::from(two_digits(y0, y1)? * 100 + two_digits(y2, y3)?);
    let (month, day) = (two_digits(m0, m1)?, two_digits(d0, d1)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// The UTC day number `day` (days since 1970-01-01) as `YYYY-MM-DD`, the
/// inverse of [`canonical_day`].
///
/// ```
/// use mta_sts_core::time::{canonical_day, day_string};
/// assert_eq!(day_string(1), "1970-01-02");
/// assert_eq!(canonical_day(day_string(20_427).as_bytes().try_into().unwrap()), Some(20_427));
/// ```
#[must_use]
pub fn day_string(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `THH:MM:SSZ` (either case of `T` and `Z`) as seconds into the day; a
/// leap second is kept within its minute, as the general parser does. The
/// time half of [`Timestamp::parse_rfc3339`]'s fast path (see
/// [`canonical_day`]).
///
/// ```
/// use mta_sts_core::time::canonical_time;
/// assert_eq!(canonical_time(b"T01:00:01Z"), Some(3601));
/// assert_eq!(canonical_time(b"T24:00:00Z"), None);
/// ```
#[inline]
pub fn canonical_time(b: &[u8; 10]) -> Option<u32> {
    let &[t, h0, h1, b':', i0, i1, b':', s0, s1, z] = b else {
        return None;
    };
    if t | 0x20 != b't' || z | 0x20 != b'z' {
        return None;
    }
    let (hour, minute, second) = (
        two_digits(h0, h1)?,
        two_digits(i0, i1)?,
        two_digits(s0, s1)?,
    );
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(hour * 3600 + minute * 60 + second.min(59))
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with `Z`; fractions only when non-zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.civil();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )?;
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

impl From<SystemTime> for Timestamp {
    /// See [`Timestamp::from_system_time`].
    fn from(t: SystemTime) -> Self {
        Self::from_system_time(t)
    }
}

impl TryFrom<Timestamp> for SystemTime {
    type Error = OutOfRangeError;

    /// See [`Timestamp::to_system_time`].
    fn try_from(t: Timestamp) -> Result<Self, Self::Error> {
        t.to_system_time()
            .ok_or_else(|| t.out_of_range("SystemTime"))
    }
}

#[cfg(feature = "chrono")]
#[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
impl From<chrono::DateTime<chrono::Utc>> for Timestamp {
    /// Exact; a chrono leap second (`23:59:60.x`) becomes `23:59:59.x`, as
    /// [`Timestamp::parse_rfc3339`] reads one.
    fn from(t: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            secs: t.timestamp(),
            nanos: t.timestamp_subsec_nanos() % NANOS,
        }
    }
}

#[cfg(feature = "chrono")]
#[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
impl TryFrom<Timestamp> for chrono::DateTime<chrono::Utc> {
    type Error = OutOfRangeError;

    /// Fails outside chrono's range (about ±262,000 years).
    fn try_from(t: Timestamp) -> Result<Self, Self::Error> {
        let n = Timestamp::from_total_nanos(t.total_nanos())
            .ok_or_else(|| t.out_of_range("chrono::DateTime<Utc>"))?;
        Self::from_timestamp(n.secs, n.nanos).ok_or_else(|| t.out_of_range("chrono::DateTime<Utc>"))
    }
}

#[cfg(feature = "time")]
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
impl From<::time::OffsetDateTime> for Timestamp {
    /// Exact (the offset is applied: the instant is kept).
    fn from(t: ::time::OffsetDateTime) -> Self {
        Self {
            secs: t.unix_timestamp(),
            nanos: t.nanosecond(),
        }
    }
}

#[cfg(feature = "time")]
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
impl TryFrom<Timestamp> for ::time::OffsetDateTime {
    type Error = OutOfRangeError;

    /// In UTC. Fails outside the `time` crate's range (years ±9999, or
    /// ±999,999 with its `large-dates` feature).
    fn try_from(t: Timestamp) -> Result<Self, Self::Error> {
        Self::from_unix_timestamp_nanos(t.total_nanos())
            .map_err(|_| t.out_of_range("::time::OffsetDateTime"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s, false).unwrap().0
    }

    proptest! {
        /// The fast path agrees with the general parser on everything in
        /// the canonical shape, valid or not (out-of-range fields, wrong
        /// separators, other characters).
        #[test]
        fn canonical_fast_path_matches_general_parser(
            s in "[0-9]{4}[-/][0-9]{2}[-:][0-9]{2}[Tt Xx][0-9]{2}[:.][0-9]{2}[:-][0-9]{2}[Zz+ ]",
            flip in proptest::option::of((0usize..20, any::<u8>())),
        ) {
            let mut b = s.into_bytes();
            if let Some((at, byte)) = flip {
                b[at] = byte;
            }
            let Ok(s) = String::from_utf8(b) else { return Ok(()) };
            let fast = Timestamp::parse_canonical(s.as_bytes());
            let general = Timestamp::parse_general(&s, false);
            match fast {
                Some(t) => prop_assert_eq!(general, Ok((t, Leniency::None)), "{}", s),
                None => prop_assert!(general.is_err() || s.len() != 20, "{s}: {general:?}"),
            }
        }

        /// Every day number within ±100 million years maps to a valid date
        /// and back.
        #[test]
        fn civil_round_trip(z in -36_524_250_000i64..36_524_250_000) {
            let (y, m, d) = civil_from_days(z);
            prop_assert!((1..=12).contains(&m));
            prop_assert!(d >= 1 && d <= days_in_month(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), z);
        }

        /// Every valid date maps to a day number and back.
        #[test]
        fn civil_round_trip_from_dates(y in -1_000_000i64..1_000_000, m in 1u32..=12, d in 1u32..=31) {
            let d = d.min(days_in_month(y, m));
            prop_assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }

        /// Display then parse is the identity within years 0000-9999.
        #[test]
        fn display_parse_round_trip(secs in MIN_SECS..=MAX_SECS, nanos in 0u32..NANOS) {
            let t = Timestamp { secs, nanos };
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_string(), false), Ok((t, Leniency::None)));
        }

        /// SystemTime round trips, before and after 1970.
        #[test]
        fn system_time_round_trip(secs in MIN_SECS..=MAX_SECS, nanos in 0u32..NANOS) {
            let t = Timestamp { secs, nanos };
            let st = SystemTime::try_from(t).unwrap();
            prop_assert_eq!(Timestamp::from(st), t);
        }
    }

    #[test]
    fn era_boundaries_round_trip() {
        for (s, secs, day, date) in [
            ("0000-01-01T00:00:00Z", -62_167_219_200, -719_528, (0, 1, 1)),
            (
                "0000-02-29T00:00:00Z",
                -62_162_121_600,
                -719_469,
                (0, 2, 29),
            ),
            // Day 0 of Hinnant's eras: 0000-03-01.
            ("0000-03-01T00:00:00Z", -62_162_035_200, -719_468, (0, 3, 1)),
            (
                "1600-03-01T00:00:00Z",
                -11_670_912_000,
                -135_080,
                (1600, 3, 1),
            ),
            ("1969-12-31T23:59:59Z", -1, -1, (1969, 12, 31)),
            ("1970-01-01T00:00:00Z", 0, 0, (1970, 1, 1)),
            ("2000-02-29T00:00:00Z", 951_782_400, 11_016, (2000, 2, 29)),
            ("2000-03-01T00:00:00Z", 951_868_800, 11_017, (2000, 3, 1)),
            ("2100-02-28T23:59:59Z", 4_107_542_399, 47_540, (2100, 2, 28)),
            ("2100-03-01T00:00:00Z", 4_107_542_400, 47_541, (2100, 3, 1)),
            (
                "9999-12-31T23:59:59Z",
                253_402_300_799,
                2_932_896,
                (9999, 12, 31),
            ),
        ] {
            let t = ts(s);
            assert_eq!(t, Timestamp::from_unix(secs), "{s}");
            assert_eq!(t.day(), day, "{s}");
            assert_eq!(civil_from_days(day), date, "{s}");
            assert_eq!(days_from_civil(date.0, date.1, date.2), day, "{s}");
            assert_eq!(t.to_string(), s);
            assert_eq!(t.date_string(), &s[..10]);
        }
        assert!(Timestamp::parse_rfc3339("2100-02-29T00:00:00Z", false).is_err());
        assert_eq!(
            Timestamp::parse_rfc3339("9999-12-31T23:59:59-00:01", false),
            Err(TimeError {
                offset: 19,
                reason: "the offset moves the date-time outside years 0000-9999"
            })
        );
    }

    #[test]
    fn civil_fields() {
        assert_eq!(
            ts("2016-08-31T08:57:06Z").civil(),
            Civil {
                year: 2016,
                month: 8,
                day: 31,
                hour: 8,
                minute: 57,
                second: 6
            }
        );
        assert_eq!(
            Timestamp::from_unix(MIN_SECS - 1).civil(),
            Civil {
                year: -1,
                month: 12,
                day: 31,
                hour: 23,
                minute: 59,
                second: 59
            }
        );
        // Extreme values: no panic, a well-formed date.
        for secs in [i64::MIN, i64::MIN + 1, i64::MAX] {
            let c = Timestamp::from_unix(secs).civil();
            assert!((1..=12).contains(&c.month) && (1..=31).contains(&c.day));
        }
        assert_eq!(
            Timestamp::from_unix(i64::MAX).to_string(),
            "292277026596-12-04T15:30:07Z"
        );
        let _ = days_from_civil(i64::MIN, 1, 1);
        let _ = days_from_civil(i64::MAX, u32::MAX, u32::MAX);
    }

    #[test]
    fn display_fractions() {
        assert_eq!(
            Timestamp {
                secs: 0,
                nanos: 500_000_000
            }
            .to_string(),
            "1970-01-01T00:00:00.5Z"
        );
        assert_eq!(
            Timestamp { secs: -1, nanos: 1 }.to_string(),
            "1969-12-31T23:59:59.000000001Z"
        );
        assert_eq!(
            ts("2016-12-31T23:59:60.25Z").to_string(),
            "2016-12-31T23:59:59.25Z"
        );
    }

    #[test]
    fn system_time_conversions() {
        let epoch = Timestamp::from(UNIX_EPOCH);
        assert_eq!(epoch, Timestamp::default());
        assert_eq!(
            Timestamp::from(UNIX_EPOCH + Duration::new(1_472_633_820, 5)),
            Timestamp {
                secs: 1_472_633_820,
                nanos: 5
            }
        );
        // Before 1970 the nanoseconds still count forward.
        let before = UNIX_EPOCH - Duration::from_millis(250);
        let t = Timestamp::from(before);
        assert_eq!(
            t,
            Timestamp {
                secs: -1,
                nanos: 750_000_000
            }
        );
        assert_eq!(t.unix_secs(), -1);
        assert_eq!(t.to_string(), "1969-12-31T23:59:59.75Z");
        assert_eq!(SystemTime::try_from(t), Ok(before));
        let t = Timestamp::from(UNIX_EPOCH - Duration::from_secs(86_400 * 365));
        assert_eq!(t.to_string(), "1969-01-01T00:00:00Z");
        assert_eq!(
            t.to_system_time(),
            Some(UNIX_EPOCH - Duration::from_secs(86_400 * 365))
        );
        let t = ts("0000-03-01T00:00:00Z");
        assert_eq!(Timestamp::from(t.to_system_time().unwrap()), t);
        // A nanosecond field past one second carries.
        assert_eq!(
            Timestamp {
                secs: 1,
                nanos: 1_500_000_000
            }
            .to_system_time(),
            Some(UNIX_EPOCH + Duration::from_millis(2500))
        );
    }

    #[test]
    fn system_time_out_of_range() {
        // Linux `SystemTime` holds i64 seconds and nanoseconds; the maximum
        // plus a carried second is past it.
        let t = Timestamp {
            secs: i64::MAX,
            nanos: NANOS,
        };
        assert_eq!(t.to_system_time(), None);
        assert_eq!(
            SystemTime::try_from(t),
            Err(OutOfRangeError {
                secs: i64::MAX,
                nanos: NANOS,
                target: "SystemTime"
            })
        );
        let e = SystemTime::try_from(t).unwrap_err().to_string();
        assert!(e.ends_with("is outside the range of SystemTime"), "{e}");
    }

    #[cfg(feature = "chrono")]
    #[test]
    fn chrono_conversions() {
        use chrono::{DateTime, TimeZone, Utc};
        let c = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap()
            + chrono::Duration::milliseconds(250);
        let t = Timestamp::from(c);
        assert_eq!(
            t,
            Timestamp {
                secs: -1,
                nanos: 250_000_000
            }
        );
        assert_eq!(DateTime::<Utc>::try_from(t), Ok(c));
        for s in [
            "0000-03-01T00:00:00Z",
            "2000-02-29T12:34:56.789Z",
            "9999-12-31T23:59:59Z",
        ] {
            let t = ts(s);
            let c = DateTime::<Utc>::try_from(t).unwrap();
            assert_eq!(c.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true), s);
            assert_eq!(Timestamp::from(c), t);
        }
        // A chrono leap second is kept within its minute.
        let leap = DateTime::<Utc>::from_timestamp(1_483_228_799, 1_250_000_000).unwrap();
        assert_eq!(Timestamp::from(leap), ts("2016-12-31T23:59:60.25Z"));
        // Beyond chrono's range.
        let far = Timestamp::from_unix(i64::MAX);
        assert_eq!(
            DateTime::<Utc>::try_from(far),
            Err(OutOfRangeError {
                secs: i64::MAX,
                nanos: 0,
                target: "chrono::DateTime<Utc>"
            })
        );
    }

    #[cfg(feature = "time")]
    #[test]
    fn time_conversions() {
        use ::time::{OffsetDateTime, UtcOffset};
        let o = OffsetDateTime::from_unix_timestamp_nanos(-750_000_000).unwrap();
        let t = Timestamp::from(o);
        assert_eq!(
            t,
            Timestamp {
                secs: -1,
                nanos: 250_000_000
            }
        );
        assert_eq!(OffsetDateTime::try_from(t), Ok(o));
        // An offset keeps the instant.
        assert_eq!(
            Timestamp::from(
                OffsetDateTime::from_unix_timestamp(1_472_633_820)
                    .unwrap()
                    .to_offset(UtcOffset::from_hms(2, 0, 0).unwrap())
            ),
            ts("2016-08-31T08:57:00Z")
        );
        for s in [
            "0000-03-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2000-02-29T12:34:56.789Z",
            "9999-12-31T23:59:59Z",
        ] {
            let t = ts(s);
            let o = OffsetDateTime::try_from(t).unwrap();
            assert_eq!(Timestamp::from(o), t, "{s}");
            assert_eq!(o.unix_timestamp(), t.secs, "{s}");
        }
        let far = Timestamp::from_unix(i64::MAX);
        assert_eq!(
            OffsetDateTime::try_from(far),
            Err(OutOfRangeError {
                secs: i64::MAX,
                nanos: 0,
                target: "::time::OffsetDateTime"
            })
        );
    }

    #[test]
    fn canonical_fast_path_examples() {
        for (s, secs) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2016-04-01T00:00:00Z", 1_459_468_800),
            ("2016-04-01t00:00:00z", 1_459_468_800),
            ("2016-12-31T23:59:60Z", 1_483_228_799),
            ("0000-01-01T00:00:00Z", -62_167_219_200),
            ("9999-12-31T23:59:59Z", 253_402_300_799),
            ("2024-02-29T12:00:00Z", 1_709_208_000),
        ] {
            assert_eq!(
                Timestamp::parse_canonical(s.as_bytes()).map(|t| t.secs),
                Some(secs),
                "{s}"
            );
        }
        for s in [
            "2023-02-29T12:00:00Z",
            "2016-13-01T00:00:00Z",
            "2016-04-01T24:00:00Z",
            "2016-04-01T00:60:00Z",
            "2016-04-01T00:00:61Z",
            "2016-04-00T00:00:00Z",
            "2016-04-01 00:00:00Z",
            "2016-04-01T00:00:00+",
            "2016-04-01T00:00:0aZ",
            "2016-04-01T00:00:00Z ",
            "2016-04-01T00:00:00",
        ] {
            assert_eq!(Timestamp::parse_canonical(s.as_bytes()), None, "{s}");
        }
    }
}
