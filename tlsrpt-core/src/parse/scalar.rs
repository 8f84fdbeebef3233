//! Scalars: counts, IP addresses, date-times and the contact address,
//! each with a straight-line fast path for its common form and the
//! general path (or the standard library's parser) for anything else.

use std::borrow::Cow;
use std::net::IpAddr;

use super::warning::WarningCode as W;
use super::{K, Parser, R};
use crate::report::Ip;
use crate::time::{Leniency, Timestamp};

/// Largest integer I-JSON represents exactly (2^53 - 1; RPT-JSON-01).
const I_JSON_MAX: u64 = (1 << 53) - 1;

/// A dotted-quad IPv4 address per RFC 8460 4.4 (`dec-octet`: no leading
/// zeros, at most 255), without the general parser's overhead. `None` for
/// anything else (IPv6 goes to the standard parser).
#[inline]
fn parse_ipv4(s: &[u8]) -> Option<std::net::Ipv4Addr> {
    if !(7..=15).contains(&s.len()) {
        return None;
    }
    let digit = |j: usize| {
        s.get(j)
            .map(|c| c.wrapping_sub(b'0'))
            .filter(|&d| d <= 9)
            .map(u32::from)
    };
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        // One to three digits, no leading zero, at most 255.
        let first = digit(i)?;
        let mut v = first;
        i += 1;
        if let Some(d) = digit(i) {
            if first == 0 {
                return None;
            }
            v = v * 10 + d;
            i += 1;
            if let Some(d) = digit(i) {
                v = v * 10 + d;
                i += 1;
                if v > 255 {
                    return None;
                }
            }
        }
        *octet = v as u8;
    }
    (i == s.len()).then(|| std::net::Ipv4Addr::from(octets))
}

/// Hex digit values, 0xff for anything else.
const HEX: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

#[inline]
fn hex_digit(c: u8) -> Option<u8> {
    let d = HEX[usize::from(c)];
    (d != 0xff).then_some(d)
}

/// An IPv6 address in any RFC 4291 section 2.2 text form (hex groups,
/// one `::`, an optional trailing dotted IPv4), without zone ids.
#[inline]
fn parse_ipv6(s: &[u8]) -> Option<std::net::Ipv6Addr> {
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (mut nh, mut nt) = (0usize, 0usize);
    let mut gap = false;
    let mut i = 0;
    if s.starts_with(b"::") {
        gap = true;
        i = 2;
        if s.len() == 2 {
            return Some(std::net::Ipv6Addr::UNSPECIFIED);
        }
    }
    loop {
        if nh + nt >= 8 {
            return None;
        }
        let start = i;
        let mut v: u16 = 0;
        while let Some(d) = s.get(i).and_then(|&c| hex_digit(c)) {
            if i - start == 4 {
                return None;
            }
            v = (v << 4) | u16::from(d);
            i += 1;
        }
        if s.get(i) == Some(&b'.') {
            // A trailing dotted IPv4 part takes two groups.
            let o = parse_ipv4(&s[start..])?.octets();
            if nh + nt + 2 > 8 {
                return None;
            }
            let (buf, n) = if gap {
                (&mut tail, &mut nt)
            } else {
                (&mut head, &mut nh)
            };
            buf[*n] = u16::from_be_bytes([o[0], o[1]]);
            buf[*n + 1] = u16::from_be_bytes([o[2], o[3]]);
            *n += 2;
            break;
        }
        if i == start {
            return None;
        }
        if gap {
            tail[nt] = v;
            nt += 1;
        } else {
            head[nh] = v;
            nh += 1;
        }
        match (s.get(i), s.get(i + 1)) {
            (None, _) => break,
            (Some(b':'), Some(b':')) if !gap => {
                gap = true;
                i += 2;
                if i == s.len() {
                    break;
                }
            }
            (Some(b':'), Some(_)) => i += 1,
            _ => return None,
        }
    }
    let total = nh + nt;
    if (gap && total > 7) || (!gap && total != 8) {
        return None;
    }
    let mut g = [0u16; 8];
    g[..nh].copy_from_slice(&head[..nh]);
    g[8 - nt..].copy_from_slice(&tail[..nt]);
    Some(std::net::Ipv6Addr::from(g))
}

/// An IPv4 (dotted quad) or IPv6 address, as `sending-mta-ip` and
/// `receiving-ip` hold (RFC 8460 4.4).
#[inline]
fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    match parse_ipv4(s) {
        Some(a) => Some(IpAddr::V4(a)),
        None => parse_ipv6(s).map(IpAddr::V6),
    }
}

/// Whether `s` looks like an e-mail address (RFC 5322 addr-spec, loosely:
/// something, `@`, a dotted domain, no whitespace).
fn valid_contact(s: &str) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let b = s.as_bytes();
    // Common case: printable ASCII only (no byte at or below the space,
    // none above 0x7f), checked eight bytes at a time.
    let mut chunks = b.chunks_exact(8);
    let mut special = false;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        // High bit set for bytes below 0x21 (exact for the lowest such
        // byte; any flag means at least one) or at or above 0x80.
        special |= (x.wrapping_sub(LO * 0x21) | x) & HI != 0;
    }
    special |= chunks.remainder().iter().any(|&c| c <= b' ' || c >= 0x80);
    if special {
        // ASCII whitespace as `char::is_whitespace` sees it, then the rest
        // of Unicode's.
        if b.iter().any(|&c| matches!(c, b'\t'..=b'\r' | b' ')) || s.contains(char::is_whitespace) {
            return false;
        }
    }
    let Some(at) = b.iter().rposition(|&c| c == b'@') else {
        return false;
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    !local.is_empty()
        && domain.contains(&b'.')
        && domain.first() != Some(&b'.')
        && domain.last() != Some(&b'.')
}

impl<'a> Parser<'a> {
    /// A count: a non-negative JSON integer that fits `u64` (DEC-21).
    pub(super) fn count(&mut self) -> R<u64> {
        let start = match self.peek() {
            Some(b'0'..=b'9') => self.pos,
            Some(b'-') => return Err(self.err(K::InvalidCount("negative number"))),
            Some(b'"') => return Err(self.err(K::InvalidCount("a string, not a number"))),
            _ => return Err(self.err(K::InvalidCount("expected a non-negative integer"))),
        };
        let b = self.b;
        let mut v: u64 = 0;
        let mut i = start;
        // Up to 19 digits cannot overflow u64; longer numbers go on with
        // checked arithmetic, out of line.
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start == 19 {
                (v, i) = self.long_count(start, v, i)?;
                break;
            }
            v = v * 10 + u64::from(c - b'0');
            i += 1;
        }
        self.pos = i;
        if self.pos - start > 1 && self.b[start] == b'0' {
            return Err(self.err_at(start, K::Syntax("a number without leading zeros")));
        }
        if matches!(self.b.get(self.pos), Some(b'.' | b'e' | b'E')) {
            return Err(self.err_at(start, K::InvalidCount("not an integer")));
        }
        if v > I_JSON_MAX {
            self.deviation(
                || K::InvalidCount("larger than 2^53-1 (I-JSON)"),
                W::CountAboveIJson,
                format!(
                    "count {v} is above 2^53-1, which I-JSON (RFC 7493) does not represent exactly"
                ),
            )?;
        }
        Ok(v)
    }

    /// The digits of a count from the 20th on (at `i`, with the value `v`
    /// so far): the value and the end, or an error past `u64::MAX`.
    #[cold]
    #[inline(never)]
    fn long_count(&self, start: usize, mut v: u64, mut i: usize) -> R<(u64, usize)> {
        while let Some(&c) = self.b.get(i).filter(|c| c.is_ascii_digit()) {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or_else(|| {
                    self.err_at(start, K::InvalidCount("larger than 18446744073709551615"))
                })?;
            i += 1;
        }
        Ok((v, i))
    }

    /// A date-time (`start-datetime`, `end-datetime`): RFC 3339, with the
    /// lenient reader's two allowances as warnings.
    pub(super) fn date(&mut self) -> R<Timestamp> {
        if self.peek() == Some(b'"') {
            // Fast path: `"YYYY-MM-DDTHH:MM:SSZ"` read in place.
            let from = self.pos + 1;
            if self.b.get(from + 20) == Some(&b'"')
                && let Some((date, time)) = self
                    .b
                    .get(from..from + 20)
                    .and_then(|s| s.split_first_chunk::<10>())
                && let Ok(time) = <&[u8; 10]>::try_from(time)
                && let Some(secs) = crate::time::canonical_time(time)
            {
                // The two date-times of a report mostly share their day.
                let day = match self.last_day {
                    Some((text, day)) if text == *date => Some(day),
                    _ => crate::time::canonical_day(date),
                };
                if let Some(day) = day {
                    self.last_day = Some((*date, day));
                    self.pos = from + 21;
                    return Ok(Timestamp {
                        secs: day * 86_400 + i64::from(secs),
                        nanos: 0,
                    });
                }
            }
        }
        let at = self.pos;
        let s = self.string()?;
        match Timestamp::parse_rfc3339(&s, !self.strict) {
            Ok((t, Leniency::None)) => Ok(t),
            Ok((t, l)) => {
                let what = match l {
                    Leniency::NoOffset => "has no zone offset; read as UTC",
                    _ => "uses a space instead of `T`",
                };
                self.warn(W::DateTimeNotRfc3339, format!("date-time `{s}` {what}"));
                Ok(t)
            }
            Err(error) => Err(self.err_at(
                at,
                K::InvalidDate {
                    value: s.into_owned(),
                    error,
                },
            )),
        }
    }

    /// `sending-mta-ip` or `receiving-ip`: an address, or in lenient mode
    /// any string, kept with a warning.
    #[inline]
    pub(super) fn ip(&mut self) -> R<Ip<'a>> {
        let at = self.pos;
        let s = self.string()?;
        match parse_ip(s.as_bytes()) {
            Some(a) => Ok(Ip::Addr(a)),
            None => {
                if self.strict {
                    return Err(self.err_at(
                        at,
                        K::InvalidValue {
                            value: s.into_owned(),
                            reason: "not an IPv4 or IPv6 address",
                        },
                    ));
                }
                self.warn(
                    W::IpInvalid,
                    format!("`{s}` is not an IP address; kept as written"),
                );
                Ok(Ip::Invalid(s))
            }
        }
    }

    /// `contact-info`: an e-mail address, or `None` for `null` (a
    /// deviation, as is a string that is no e-mail address).
    pub(super) fn contact_info(&mut self) -> R<Option<Cow<'a, str>>> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            self.deviation(
                || K::WrongType("a string (an e-mail address), not null"),
                W::ContactInfoNull,
                "contact-info is null; read as unknown",
            )?;
            return Ok(None);
        }
        let s = self.string()?;
        if !valid_contact(&s) {
            self.deviation(
                || K::InvalidValue {
                    value: s.to_string(),
                    reason: "not an e-mail address (RFC 5322 addr-spec)",
                },
                W::ContactInfoInvalid,
                format!("contact-info `{s}` is not an e-mail address; kept as written"),
            )?;
        }
        Ok(Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_ip, parse_ipv4, valid_contact};
    use proptest::prelude::*;

    #[test]
    fn contact_check() {
        for ok in [
            "tlsrpt@example.com",
            "smtp-tls-reporting@google.com",
            "a@b.c",
            "x@y@mail.example",
            "caf\u{e9}@\u{fc}ber.example",
            "a\x01b@example.com",
        ] {
            assert!(valid_contact(ok), "{ok}");
        }
        for bad in [
            "",
            "@example.com",
            "nobody",
            "a@example",
            "a@.example.com",
            "a@example.com.",
            "a b@example.com",
            "tls-reporting@example.com\n",
            "reports@exam\u{a0}ple.com",
            "reports@example.com\u{2003}",
            "\treports@example.com",
        ] {
            assert!(!valid_contact(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn contact_check_matches_a_plain_reading(s in "[a-z@. \t\u{a0}\u{1}-]{0,24}") {
            let plain = match s.rsplit_once('@') {
                Some((l, d)) => {
                    !l.is_empty()
                        && d.contains('.')
                        && !d.starts_with('.')
                        && !d.ends_with('.')
                        && !s.contains(char::is_whitespace)
                }
                None => false,
            };
            prop_assert_eq!(valid_contact(&s), plain, "{:?}", s);
        }
    }
    #[test]
    fn ipv6_examples() {
        for ok in [
            "::",
            "::1",
            "1::",
            "2001:db8:abcd:0012::1",
            "2001:DB8::8:800:200C:417A",
            "::ffff:192.0.2.1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "1::7:8",
            "fe80::",
        ] {
            assert_eq!(parse_ip(ok.as_bytes()), ok.parse().ok(), "{ok}");
            assert!(parse_ip(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in [
            ":",
            ":::",
            "1:::2",
            "1::2::3",
            "12345::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "::1.2.3",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::g",
            "1:",
            ":1",
            "fe80::1%eth0",
        ] {
            assert_eq!(parse_ip(bad.as_bytes()), None, "{bad}");
            assert!(
                bad.parse::<std::net::IpAddr>().is_err(),
                "std accepts {bad}"
            );
        }
    }

    #[test]
    fn ipv4_fast_path_agrees_with_rfc_8460_abnf() {
        assert_eq!(parse_ipv4(b"192.0.2.1"), Some([192, 0, 2, 1].into()));
        assert_eq!(parse_ipv4(b"0.0.0.0"), Some([0, 0, 0, 0].into()));
        assert_eq!(parse_ipv4(b"255.255.255.255"), Some([255; 4].into()));
        for bad in [
            "256.1.1.1",
            "01.1.1.1",
            "1.1.1",
            "1.1.1.1.",
            "1.1.1.1.1",
            "1..1.1",
            "",
            "1.1.1.1 ",
            "1111.1.1.1",
            "::1",
        ] {
            assert_eq!(parse_ipv4(bad.as_bytes()), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn ipv4_fast_path_matches_std(s in "[0-9.]{0,16}") {
            prop_assert_eq!(parse_ipv4(s.as_bytes()), s.parse::<std::net::Ipv4Addr>().ok());
        }

        #[test]
        fn ip_parser_matches_std_on_ip_like_text(s in "[0-9a-fA-F:.]{0,45}") {
            prop_assert_eq!(parse_ip(s.as_bytes()), s.parse::<std::net::IpAddr>().ok(), "{}", s);
        }

        #[test]
        fn ip_parser_matches_std_on_ipv6_forms(g in any::<[u16; 8]>(), zeros in 0usize..8, at in 0usize..8, v4 in any::<bool>(), upper in any::<bool>()) {
            let mut g = g;
            for x in g.iter_mut().take((at + zeros).min(8)).skip(at) { *x = 0; }
            let a = std::net::Ipv6Addr::from(g);
            let mut forms = vec![a.to_string(), g.iter().map(|x| format!("{x:04x}")).collect::<Vec<_>>().join(":")];
            if v4 {
                let o = a.octets();
                forms.push(format!("{}:{}.{}.{}.{}", g[..6].iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":"), o[12], o[13], o[14], o[15]));
            }
            for f in forms {
                let f = if upper { f.to_uppercase() } else { f };
                prop_assert_eq!(parse_ip(f.as_bytes()), Some(std::net::IpAddr::V6(a)), "{}", f);
            }
        }

        #[test]
        fn ipv4_fast_path_matches_std_on_addresses(a in any::<[u8; 4]>()) {
            let s = std::net::Ipv4Addr::from(a).to_string();
            prop_assert_eq!(parse_ipv4(s.as_bytes()), Some(a.into()));
        }
    }
}
