//! RFC 3339 date-times for report date ranges (RFC 8460 4.4; DEC-17),
//! without a calendar dependency.

use std::fmt;

/// A UTC instant with second precision plus nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
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

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
#[inline]
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// 0000-01-01T00:00:00Z in Unix seconds.
const MIN_SECS: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z in Unix seconds.
const MAX_SECS: i64 = 253_402_300_799;

impl Timestamp {
    /// From Unix seconds.
    pub fn from_unix(secs: i64) -> Self {
        Self { secs, nanos: 0 }
    }

    /// The UTC day number (days since 1970-01-01).
    pub fn day(&self) -> i64 {
        self.secs.div_euclid(86_400)
    }

    /// `YYYY-MM-DD` of the UTC day.
    pub fn date_string(&self) -> String {
        let (y, m, d) = civil_from_days(self.day());
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// Parse an RFC 3339 `date-time` (lower-case `t`/`z`, fractions and
    /// offsets accepted). With `lenient`, a missing offset (read as UTC) or a
    /// space separator is accepted and reported in the returned
    /// [`Leniency`].
    ///
    /// ```
    /// use tlsrpt_core::time::{Leniency, Timestamp};
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
}

impl Timestamp {
    /// The form nearly every report uses, `YYYY-MM-DDTHH:MM:SSZ`, read
    /// without the general parser's bookkeeping. `None` for anything else
    /// (including out-of-range fields), which the general parser then reads
    /// or rejects with the precise reason.
    #[inline]
    pub(crate) fn parse_canonical(b: &[u8]) -> Option<Self> {
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

/// `YYYY-MM-DD` as a day number since 1970-01-01 (`None` for anything
/// else, including days the month does not have).
#[inline]
pub(crate) fn canonical_day(b: &[u8; 10]) -> Option<i64> {
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

/// `THH:MM:SSZ` (either case of `T` and `Z`) as seconds into the day; a
/// leap second is kept within its minute, as the general parser does.
#[inline]
pub(crate) fn canonical_time(b: &[u8; 10]) -> Option<u32> {
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
        let (y, m, d) = civil_from_days(self.day());
        let s = self.secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            s / 3600,
            s / 60 % 60,
            s % 60
        )?;
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;
    use proptest::prelude::*;

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
                Some(t) => prop_assert_eq!(general, Ok((t, super::Leniency::None)), "{}", s),
                None => prop_assert!(general.is_err() || s.len() != 20, "{s}: {general:?}"),
            }
        }
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
