//! The Postfix `socketmap` protocol as spoken by postfix-mta-sts-resolver,
//! without any IO: netstring framing, request parsing, next-hop key
//! normalisation and the reply format of `smtp_tls_policy_maps`.
//!
//! Postfix asks `LEN:NAME KEY,` (a netstring whose payload is the map
//! name, one space and the key) and expects one netstring reply per
//! request: `OK <value>`, `NOTFOUND ` (with the trailing space: an empty
//! value), `TEMP <reason>` or `PERM <reason>`.
//!
//! ```
//! use mta_sts_postfix::socketmap::{self, Frame, Key, Request};
//!
//! let buf = b"24:postfix [Example.COM]:25,";
//! let Ok(Frame::Complete { payload, consumed }) = socketmap::decode(buf, socketmap::MAX_NETSTRING)
//! else { panic!() };
//! assert_eq!(consumed, buf.len());
//! let req = Request::parse(payload).unwrap();
//! assert_eq!(req.name, "postfix");
//! assert_eq!(socketmap::normalize_key(req.key), Key::Domain("example.com".into()));
//! assert_eq!(socketmap::Reply::NotFound.to_netstring(), b"9:NOTFOUND ,");
//! ```

use std::fmt;
use std::net::IpAddr;

use mta_sts_core::{Mode, Policy};

/// The netstring length limit of Postfix's socketmap client (requests and
/// replies alike): 100000 bytes of payload.
pub const MAX_NETSTRING: usize = 100_000;

/// At most this many characters are accepted in the length prefix (Postfix
/// writes plain decimal; leading zeros are tolerated up to this count).
pub const MAX_LENGTH_DIGITS: usize = 20;

/// The result of [`decode`] on a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// The buffer holds no complete netstring yet (but nothing wrong so
    /// far): read more.
    Incomplete,
    /// One complete netstring at the start of the buffer.
    Complete {
        /// The payload (between `:` and `,`).
        payload: &'a [u8],
        /// How many bytes of the buffer it took, prefix and `,` included.
        consumed: usize,
    },
}

/// Why a byte stream is not a netstring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetstringError {
    /// A byte other than a decimal digit before the `:`.
    #[error("netstring length is not a decimal number (byte {0:#04x})")]
    NotADigit(u8),
    /// `:` with no digits before it.
    #[error("netstring length is empty")]
    EmptyLength,
    /// More than [`MAX_LENGTH_DIGITS`] characters before the `:`.
    #[error("netstring length has more than {MAX_LENGTH_DIGITS} digits")]
    TooManyDigits,
    /// The announced length exceeds the limit.
    #[error("netstring length {len} exceeds the limit of {limit} bytes")]
    TooLong {
        /// The announced length (saturated at `u64::MAX`).
        len: u64,
        /// The limit in force.
        limit: usize,
    },
    /// The payload is not followed by `,`.
    #[error("netstring payload is not followed by ',' (found byte {0:#04x})")]
    MissingComma(u8),
}

/// Decode the netstring at the start of `buf`, allowing payloads of at
/// most `limit` bytes.
///
/// Incremental: [`Frame::Incomplete`] means "read more and call again
/// with the longer buffer"; an error is reported as soon as the bytes seen
/// cannot start a valid netstring (a non-digit in the length, a length over
/// the limit — before the payload arrives —, a missing `,`).
pub fn decode(buf: &[u8], limit: usize) -> Result<Frame<'_>, NetstringError> {
    let mut len: u64 = 0;
    let mut digits = 0usize;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits > MAX_LENGTH_DIGITS {
                    return Err(NetstringError::TooManyDigits);
                }
                len = len.saturating_mul(10).saturating_add(u64::from(b - b'0'));
                if len > limit as u64 {
                    return Err(NetstringError::TooLong { len, limit });
                }
            }
            b':' => {
                if digits == 0 {
                    return Err(NetstringError::EmptyLength);
                }
                // len <= limit, so it fits in usize.
                let n = usize::try_from(len).unwrap_or(usize::MAX);
                let start = i + 1;
                let end = start.saturating_add(n);
                if buf.len() <= end {
                    return Ok(Frame::Incomplete);
                }
                if buf[end] != b',' {
                    return Err(NetstringError::MissingComma(buf[end]));
                }
                return Ok(Frame::Complete {
                    payload: &buf[start..end],
                    consumed: end + 1,
                });
            }
            other => return Err(NetstringError::NotADigit(other)),
        }
    }
    Ok(Frame::Incomplete)
}

/// Append the netstring of `payload` to `out`.
pub fn encode_into(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(payload);
    out.push(b',');
}

/// The netstring of `payload`.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    encode_into(&mut out, payload);
    out
}

/// A socketmap request: `NAME KEY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The socketmap name Postfix was configured with (the "zone").
    pub name: &'a str,
    /// The lookup key as sent (the next-hop), not normalised.
    pub key: &'a str,
}

/// Why a netstring payload is not a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The payload is not UTF-8.
    #[error("request is not UTF-8")]
    NotUtf8,
    /// No space between name and key.
    #[error("request has no space between map name and key")]
    NoKey,
    /// The map name is empty.
    #[error("request has an empty map name")]
    EmptyName,
}

impl<'a> Request<'a> {
    /// Parse a payload: the name up to the first space, the key after it.
    pub fn parse(payload: &'a [u8]) -> Result<Self, RequestError> {
        let text = std::str::from_utf8(payload).map_err(|_| RequestError::NotUtf8)?;
        let (name, key) = text.split_once(' ').ok_or(RequestError::NoKey)?;
        if name.is_empty() {
            return Err(RequestError::EmptyName);
        }
        Ok(Self { name, key })
    }
}

/// Why a key is answered `NOTFOUND ` without any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// A key with a leading dot: Postfix probing for a parent-domain
    /// policy, which MTA-STS does not have.
    ParentDomain,
    /// An IPv4 or IPv6 literal (`[192.0.2.1]`, `[2001:db8::1]:25`).
    IpLiteral,
    /// Not a domain name at all (empty, bad characters, bad brackets or
    /// port, a label longer than 63 or a name longer than 253 octets).
    NotADomain,
}

/// A normalised lookup key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A domain to look up: brackets and port stripped, lower case, one
    /// trailing dot removed, U-labels converted to A-labels.
    Domain(String),
    /// Answer `NOTFOUND ` without a lookup.
    Skip(SkipReason),
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_ip_literal(s: &str) -> bool {
    let s = match s.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("ipv6:") => &s[5..],
        _ => s,
    };
    s.parse::<IpAddr>().is_ok()
}

/// Normalise a next-hop key as postfix-mta-sts-resolver does: strip
/// `[ ]` and `:port`, lower-case, strip one trailing dot. A leading dot
/// (parent-domain probe) and IP literals are skipped, as is anything that
/// is not a domain name.
///
/// ```
/// use mta_sts_postfix::socketmap::{normalize_key, Key, SkipReason};
/// assert_eq!(normalize_key("[Example.com.]:25"), Key::Domain("example.com".into()));
/// assert_eq!(normalize_key(".example.com"), Key::Skip(SkipReason::ParentDomain));
/// assert_eq!(normalize_key("[2001:db8::1]:25"), Key::Skip(SkipReason::IpLiteral));
/// ```
pub fn normalize_key(key: &str) -> Key {
    let host = if let Some(rest) = key.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return Key::Skip(SkipReason::NotADomain);
        };
        match after.strip_prefix(':') {
            None if after.is_empty() => {}
            Some(port) if is_port(port) => {}
            _ => return Key::Skip(SkipReason::NotADomain),
        }
        inner
    } else if is_ip_literal(key) {
        return Key::Skip(SkipReason::IpLiteral);
    } else {
        match key.split_once(':') {
            None => key,
            Some((host, port)) if is_port(port) => host,
            Some(_) => return Key::Skip(SkipReason::NotADomain),
        }
    };
    if host.starts_with('.') {
        return Key::Skip(SkipReason::ParentDomain);
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    // After the trailing dot is gone: `192.0.2.1.` is an address too.
    if is_ip_literal(host) {
        return Key::Skip(SkipReason::IpLiteral);
    }
    let ascii = if host.is_ascii() {
        host.to_ascii_lowercase()
    } else {
        match mta_sts_core::mx::normalize_host(host) {
            Some(h) => h.to_ascii_lowercase(),
            None => return Key::Skip(SkipReason::NotADomain),
        }
    };
    // IDNA mapping drops some code points (U+FEFF, soft hyphens): what is
    // left may be an address written to look like a name.
    if is_ip_literal(&ascii) {
        return Key::Skip(SkipReason::IpLiteral);
    }
    if !is_domain(&ascii) {
        return Key::Skip(SkipReason::NotADomain);
    }
    Key::Domain(ascii)
}

/// A lower-case ASCII name of 1..=253 octets whose labels are 1..=63
/// letters, digits, `-` or `_`.
fn is_domain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

/// Per-zone (per socketmap name) answer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZoneSettings {
    /// Answer `mode: testing` policies like `enforce` (default false: a
    /// testing policy gives `NOTFOUND `).
    pub strict_testing: bool,
    /// Append `servername=hostname` (SNI with the MX host name; Postfix >=
    /// 3.4). Default true.
    pub require_sni: bool,
    /// Append the TLS-RPT attributes for Postfix >= 3.10 (`policy_type=sts
    /// policy_domain=... mx_host_pattern=... { policy_string = ... }`).
    /// Default false.
    pub tlsrpt: bool,
}

impl Default for ZoneSettings {
    fn default() -> Self {
        Self {
            strict_testing: false,
            require_sni: true,
            tlsrpt: false,
        }
    }
}

/// A socketmap reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `OK <value>`.
    Ok(String),
    /// `NOTFOUND ` (trailing space, empty value).
    NotFound,
    /// `TEMP <reason>`: Postfix defers the delivery.
    Temp(String),
    /// `PERM <reason>`: a permanent lookup error.
    Perm(String),
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok(v) => write!(f, "OK {v}"),
            Self::NotFound => f.write_str("NOTFOUND "),
            Self::Temp(r) => write!(f, "TEMP {r}"),
            Self::Perm(r) => write!(f, "PERM {r}"),
        }
    }
}

impl Reply {
    /// The reply as a netstring, ready to write.
    pub fn to_netstring(&self) -> Vec<u8> {
        encode(self.to_string().as_bytes())
    }
}

/// `OK ` plus the value must fit in [`MAX_NETSTRING`].
const MAX_VALUE: usize = MAX_NETSTRING - 3;

/// The reply for `domain` (already normalised) given the policy that
/// applies to it (`None`: no policy) and the zone's settings.
///
/// - no policy, `mode: none`, or `mode: testing` without
///   [`ZoneSettings::strict_testing`]: `NOTFOUND `;
/// - otherwise `OK secure match=P1:P2...` with each `*.x` pattern written
///   `.x` (duplicates dropped, file order kept), then ` servername=hostname`
///   when [`ZoneSettings::require_sni`], then with
///   [`ZoneSettings::tlsrpt`] ` policy_type=sts policy_domain=<domain>`,
///   one ` mx_host_pattern=<pattern>` per pattern and one
///   ` { policy_string = <line> }` per policy line (lines holding `{` or
///   `}` are left out: Postfix's attribute syntax cannot carry them);
/// - a policy in force with no `mx` pattern: `TEMP` (no MX host could be
///   valid, so delivery must wait);
/// - a reply longer than [`MAX_NETSTRING`]: first the TLS-RPT attributes
///   are dropped, and if it is still too long, `TEMP` (deferring is safe;
///   `NOTFOUND ` would downgrade). A 64 KiB policy body cannot produce a
///   `match=` list that long, so this is a safety net.
pub fn policy_reply(domain: &str, policy: Option<&Policy<'_>>, zone: &ZoneSettings) -> Reply {
    let Some(policy) = policy else {
        return Reply::NotFound;
    };
    match policy.mode() {
        Mode::None => return Reply::NotFound,
        Mode::Testing if !zone.strict_testing => return Reply::NotFound,
        Mode::Testing | Mode::Enforce => {}
    }
    if policy.mx().is_empty() {
        return Reply::Temp(format!("MTA-STS policy of {domain} has no mx patterns"));
    }
    let mut seen: Vec<&str> = Vec::with_capacity(policy.mx().len());
    for p in policy.mx() {
        let m = if p.is_wildcard() {
            &p.as_str()[1..]
        } else {
            p.as_str()
        };
        if !seen.iter().any(|s| s.eq_ignore_ascii_case(m)) {
            seen.push(m);
        }
    }
    let mut value = String::from("secure match=");
    value.push_str(&seen.join(":"));
    if zone.require_sni {
        value.push_str(" servername=hostname");
    }
    if zone.tlsrpt {
        let mut attrs = format!(" policy_type=sts policy_domain={domain}");
        for p in policy.mx() {
            attrs.push_str(" mx_host_pattern=");
            attrs.push_str(p.as_str());
        }
        for line in policy.policy_string() {
            if line.contains(['{', '}']) {
                continue;
            }
            attrs.push_str(" { policy_string = ");
            attrs.push_str(line.trim());
            attrs.push_str(" }");
        }
        if value.len() + attrs.len() <= MAX_VALUE {
            value.push_str(&attrs);
        }
    }
    if value.len() > MAX_VALUE {
        return Reply::Temp(format!(
            "MTA-STS policy of {domain} is too large for a socketmap reply"
        ));
    }
    Reply::Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(buf: &[u8]) -> Result<Frame<'_>, NetstringError> {
        decode(buf, MAX_NETSTRING)
    }

    #[test]
    fn netstring_complete_and_pipelined() {
        let buf = b"3:abc,0:,5:hello,";
        let Ok(Frame::Complete { payload, consumed }) = frame(buf) else {
            panic!()
        };
        assert_eq!((payload, consumed), (&b"abc"[..], 6));
        let Ok(Frame::Complete { payload, consumed }) = frame(&buf[6..]) else {
            panic!()
        };
        assert_eq!((payload, consumed), (&b""[..], 3));
        let Ok(Frame::Complete { payload, .. }) = frame(&buf[9..]) else {
            panic!()
        };
        assert_eq!(payload, b"hello");
    }

    #[test]
    fn netstring_incremental() {
        let full = b"12:test example,";
        for n in 0..full.len() {
            assert_eq!(frame(&full[..n]), Ok(Frame::Incomplete), "prefix {n}");
        }
        assert!(matches!(
            frame(full),
            Ok(Frame::Complete { consumed: 16, .. })
        ));
    }

    #[test]
    fn netstring_errors() {
        assert_eq!(frame(b"a:"), Err(NetstringError::NotADigit(b'a')));
        assert_eq!(frame(b"3 :abc,"), Err(NetstringError::NotADigit(b' ')));
        assert_eq!(frame(b"-1:"), Err(NetstringError::NotADigit(b'-')));
        assert_eq!(frame(b":abc,"), Err(NetstringError::EmptyLength));
        assert_eq!(frame(b"3:abcd"), Err(NetstringError::MissingComma(b'd')));
        assert_eq!(frame(b"3:abc;"), Err(NetstringError::MissingComma(b';')));
        // Over the limit is reported before the payload arrives.
        assert_eq!(
            frame(b"100001"),
            Err(NetstringError::TooLong {
                len: 100_001,
                limit: MAX_NETSTRING
            })
        );
        assert!(matches!(
            frame(b"99999999999999999999999999"),
            Err(NetstringError::TooLong { .. })
        ));
        assert_eq!(
            frame(&[b'0'; 21]),
            Err(NetstringError::TooManyDigits),
            "endless leading zeros"
        );
        assert_eq!(
            decode(b"4:abcd,", 3).unwrap_err().to_string(),
            "netstring length 4 exceeds the limit of 3 bytes"
        );
    }

    #[test]
    fn netstring_limits_and_leading_zeros() {
        let big = vec![b'x'; MAX_NETSTRING];
        let enc = encode(&big);
        assert!(
            matches!(frame(&enc), Ok(Frame::Complete { payload, .. }) if payload.len() == MAX_NETSTRING)
        );
        // Tolerated: Postfix never writes them, but they are unambiguous.
        assert!(matches!(
            frame(b"003:abc,"),
            Ok(Frame::Complete {
                payload: b"abc",
                consumed: 8
            })
        ));
    }

    #[test]
    fn netstring_encode() {
        assert_eq!(encode(b""), b"0:,");
        assert_eq!(encode(b"NOTFOUND "), b"9:NOTFOUND ,");
        let mut out = b"x".to_vec();
        encode_into(&mut out, b"ab");
        assert_eq!(out, b"x2:ab,");
    }

    #[test]
    fn request_parse() {
        assert_eq!(
            Request::parse(b"postfix example.com"),
            Ok(Request {
                name: "postfix",
                key: "example.com"
            })
        );
        assert_eq!(
            Request::parse(b"postfix a b"),
            Ok(Request {
                name: "postfix",
                key: "a b"
            })
        );
        assert_eq!(Request::parse(b"postfix"), Err(RequestError::NoKey));
        assert_eq!(
            Request::parse(b" example.com"),
            Err(RequestError::EmptyName)
        );
        assert_eq!(Request::parse(b"postfix \xff"), Err(RequestError::NotUtf8));
        assert_eq!(Request::parse(b"postfix ").map(|r| r.key), Ok(""));
    }

    fn dom(s: &str) -> Key {
        Key::Domain(s.to_owned())
    }

    #[test]
    fn key_forms_of_interop_md() {
        use SkipReason::*;
        let cases: &[(&str, Key)] = &[
            ("example.com", dom("example.com")),
            ("[example.com]", dom("example.com")),
            ("[example.com]:25", dom("example.com")),
            ("example.com:25", dom("example.com")),
            ("example.com.", dom("example.com")),
            ("[example.com.]:25", dom("example.com")),
            ("EXAMPLE.Com", dom("example.com")),
            (".example.com", Key::Skip(ParentDomain)),
            ("[.example.com]", Key::Skip(ParentDomain)),
            ("[192.0.2.1]", Key::Skip(IpLiteral)),
            ("[192.0.2.1]:25", Key::Skip(IpLiteral)),
            ("192.0.2.1", Key::Skip(IpLiteral)),
            ("192.0.2.1:25", Key::Skip(IpLiteral)),
            ("[2001:db8::1]", Key::Skip(IpLiteral)),
            ("[2001:db8::1]:25", Key::Skip(IpLiteral)),
            ("[IPv6:2001:db8::1]", Key::Skip(IpLiteral)),
            ("2001:db8::1", Key::Skip(IpLiteral)),
            ("[a:bb:ccc::dddd]:123", Key::Skip(IpLiteral)),
            ("[1.2.3.4]", Key::Skip(IpLiteral)),
            // Found by the `socketmap` fuzz target: was `Domain("192.0.2.1")`.
            ("192.0.2.1.", Key::Skip(IpLiteral)),
            ("[192.0.2.1.]:25", Key::Skip(IpLiteral)),
            ("192.0.2.1.:25", Key::Skip(IpLiteral)),
            // Found by the 10-minute `socketmap` fuzz run: IDNA mapping
            // drops U+FEFF and U+00AD, leaving an address (was
            // `Domain("0.2.3.3")`).
            ("0.2.3.3\u{feff}", Key::Skip(IpLiteral)),
            ("[192.0.2.1\u{ad}]:25", Key::Skip(IpLiteral)),
            ("good.loc", dom("good.loc")),
            ("[good.loc]:123", dom("good.loc")),
            ("good.loc:123", dom("good.loc")),
            ("bücher.example", dom("xn--bcher-kva.example")),
            ("_dmarc.example", dom("_dmarc.example")),
            ("", Key::Skip(NotADomain)),
            (".", Key::Skip(ParentDomain)),
            ("[]", Key::Skip(NotADomain)),
            ("[example.com", Key::Skip(NotADomain)),
            ("[example.com]x", Key::Skip(NotADomain)),
            ("[example.com]:", Key::Skip(NotADomain)),
            ("[example.com]:abc", Key::Skip(NotADomain)),
            ("example.com:", Key::Skip(NotADomain)),
            ("example.com:25:25", Key::Skip(NotADomain)),
            ("example.com..", Key::Skip(NotADomain)),
            ("exa mple.com", Key::Skip(NotADomain)),
            ("a..b", Key::Skip(NotADomain)),
            ("user@example.com", Key::Skip(NotADomain)),
        ];
        for (key, want) in cases {
            assert_eq!(&normalize_key(key), want, "key {key:?}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert_eq!(normalize_key(&long_label), Key::Skip(NotADomain));
        let long_name = ["a".repeat(63).as_str(); 4].join(".");
        assert_eq!(long_name.len(), 255);
        assert_eq!(normalize_key(&long_name), Key::Skip(NotADomain));
    }

    fn policy(text: &str) -> Policy<'static> {
        Policy::parse(text).unwrap().into_owned()
    }

    const ENFORCE: &str = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: MAIL.example.com\nmax_age: 86400\n";

    #[test]
    fn reply_formats() {
        let p = policy(ENFORCE);
        let def = ZoneSettings::default();
        assert_eq!(
            policy_reply("example.com", Some(&p), &def).to_string(),
            "OK secure match=mail.example.com:.example.net servername=hostname"
        );
        let nosni = ZoneSettings {
            require_sni: false,
            ..def
        };
        assert_eq!(
            policy_reply("example.com", Some(&p), &nosni).to_string(),
            "OK secure match=mail.example.com:.example.net"
        );
        assert_eq!(policy_reply("example.com", None, &def), Reply::NotFound);
        assert_eq!(Reply::NotFound.to_string(), "NOTFOUND ");
        assert_eq!(Reply::Temp("x y".into()).to_netstring(), b"8:TEMP x y,");
        assert_eq!(Reply::Perm("bad".into()).to_string(), "PERM bad");
    }

    #[test]
    fn reply_modes() {
        let def = ZoneSettings::default();
        let strict = ZoneSettings {
            strict_testing: true,
            ..def
        };
        let testing = policy("version: STSv1\nmode: testing\nmx: mail.loc\nmax_age: 86400\n");
        let none = policy("version: STSv1\nmode: none\nmax_age: 86400\n");
        assert_eq!(policy_reply("t.loc", Some(&testing), &def), Reply::NotFound);
        assert_eq!(
            policy_reply("t.loc", Some(&testing), &strict).to_string(),
            "OK secure match=mail.loc servername=hostname"
        );
        assert_eq!(policy_reply("n.loc", Some(&none), &strict), Reply::NotFound);
    }

    #[test]
    fn reply_tlsrpt() {
        let p = policy(ENFORCE);
        let zone = ZoneSettings {
            tlsrpt: true,
            ..ZoneSettings::default()
        };
        assert_eq!(
            policy_reply("example.com", Some(&p), &zone).to_string(),
            "OK secure match=mail.example.com:.example.net servername=hostname \
             policy_type=sts policy_domain=example.com \
             mx_host_pattern=mail.example.com mx_host_pattern=*.example.net mx_host_pattern=MAIL.example.com \
             { policy_string = version: STSv1 } { policy_string = mode: enforce } \
             { policy_string = mx: mail.example.com } { policy_string = mx: *.example.net } \
             { policy_string = mx: MAIL.example.com } { policy_string = max_age: 86400 }"
        );
        // Lines with braces cannot be carried; CRLF and extensions are fine.
        let p = Policy::parse_lenient(
            "version: STSv1\r\nmode: enforce\r\nmx: m.x\r\nmax_age: 600\r\nx-a: {b}\r\nx-c: d\r\n",
        )
        .unwrap()
        .value
        .into_owned();
        let r = policy_reply("x", Some(&p), &zone).to_string();
        assert!(
            r.ends_with("{ policy_string = max_age: 600 } { policy_string = x-c: d }"),
            "{r}"
        );
    }

    #[test]
    fn reply_never_exceeds_the_limit() {
        // ~60 KiB of patterns: the plain reply fits, with TLS-RPT it would not.
        let mut text = String::from("version: STSv1\nmode: enforce\nmax_age: 86400\n");
        let mut n = 0;
        while text.len() < 60_000 {
            text.push_str(&format!("mx: host-{n:05}.{}.example\n", "a".repeat(40)));
            n += 1;
        }
        let p = policy(&text);
        let zone = ZoneSettings {
            tlsrpt: true,
            ..ZoneSettings::default()
        };
        let Reply::Ok(v) = policy_reply("example", Some(&p), &zone) else {
            panic!()
        };
        assert!(v.len() <= MAX_VALUE);
        assert!(!v.contains("policy_type=sts"), "TLS-RPT attributes dropped");
        assert!(v.ends_with(" servername=hostname"));
    }
}
