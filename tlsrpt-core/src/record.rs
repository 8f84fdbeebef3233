//! The `_smtp._tls` TXT record (RFC 8460 section 3; RPT-TXT-*, DEC-13,
//! DEC-14).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use mta_sts_core::record::TxtExtension;
use mta_sts_core::txt;

use crate::error::{RecordError, SelectError};

/// The version tag every `_smtp._tls` record starts with.
pub const TLSRPT_VERSION_TAG: &str = "v=TLSRPTv1";

/// The DNS name prefix of the record (RPT-TXT-01).
pub const TLSRPT_TXT_PREFIX: &str = "_smtp._tls.";

/// The name to query for the TLS-RPT record of `domain` (RPT-TXT-01).
///
/// ```
/// assert_eq!(tlsrpt_core::record::txt_name("example.com."), "_smtp._tls.example.com");
/// ```
pub fn txt_name(domain: &str) -> String {
    format!(
        "{TLSRPT_TXT_PREFIX}{}",
        domain.strip_suffix('.').unwrap_or(domain)
    )
}

/// What kind of destination a `rua` URI is (DEC-14).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RuaKind<'a> {
    /// `mailto:` with the address (percent-decoded, `?hfields` dropped).
    Mailto {
        /// The address.
        address: Cow<'a, str>,
    },
    /// `https:`.
    Https,
    /// Another scheme, no scheme at all, a `mailto:` without an address or
    /// an `https:` URI whose authority is malformed (no host, an unclosed
    /// `[`, an invalid IPv6 address, a host that is not a domain name, a
    /// bad port): kept, but not usable (DEC-14).
    Unsupported {
        /// Why it cannot be used.
        reason: &'static str,
    },
}

/// One `rua` URI as written, with its kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rua<'a> {
    /// The URI as written.
    pub uri: Cow<'a, str>,
    /// Its kind.
    pub kind: RuaKind<'a>,
}

impl Rua<'_> {
    /// Whether reports can be sent to it (`mailto:` or `https:`).
    pub fn is_usable(&self) -> bool {
        !matches!(self.kind, RuaKind::Unsupported { .. })
    }

    /// An owned copy.
    pub fn into_owned(self) -> Rua<'static> {
        Rua {
            uri: Cow::Owned(self.uri.into_owned()),
            kind: match self.kind {
                RuaKind::Mailto { address } => RuaKind::Mailto {
                    address: Cow::Owned(address.into_owned()),
                },
                RuaKind::Https => RuaKind::Https,
                RuaKind::Unsupported { reason } => RuaKind::Unsupported { reason },
            },
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Why an `https:` URI without an authority cannot be used.
const HTTPS_WITHOUT_HOST: &str = "`https:` without a host";

/// Check the authority of an `https:` URI (`hier-part` after `//`,
/// RFC 3986 3.2): optional `userinfo@`, then a host that is an IPv6
/// literal in brackets, an IPv4 address or a domain name (the rules of
/// [`mta_sts_core::domain::normalize`]: labels of 1 to 63 letters, digits,
/// `-` and `_`, 253 characters in all), then an optional `:port` (digits,
/// 1 to 65535; empty means the default). The characters were checked
/// before. The error is the reason the URI is unusable.
fn check_https_authority(after_slashes: &str) -> Result<(), &'static str> {
    let end = after_slashes
        .find(['/', '?', '#'])
        .unwrap_or(after_slashes.len());
    let authority = &after_slashes[..end];
    let host_port = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => {
            if userinfo.contains(['@', '[', ']']) {
                return Err("`https:` URI with `@`, `[` or `]` in its user information");
            }
            host_port
        }
        None => authority,
    };
    let port = if let Some(literal) = host_port.strip_prefix('[') {
        let Some((ip, after)) = literal.split_once(']') else {
            return Err("`https:` URI with an unclosed `[` in its host");
        };
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("`https:` URI with an invalid IPv6 address in `[...]`");
        }
        match after {
            "" => None,
            a => match a.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err("`https:` URI with characters after the `]` of its host"),
            },
        }
    } else {
        let (host, port) = match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        if host.is_empty() {
            return Err(HTTPS_WITHOUT_HOST);
        }
        if host.contains(['[', ']']) {
            return Err("`https:` URI with `[` or `]` outside an IPv6 address");
        }
        if host.parse::<std::net::Ipv4Addr>().is_err()
            && mta_sts_core::domain::normalize(host).is_err()
        {
            return Err("`https:` URI whose host is not a valid domain name");
        }
        port
    };
    // Empty means the default port (RFC 3986 3.2.3).
    let port_ok = |p: &str| {
        p.is_empty()
            || (p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0))
    };
    match port {
        Some(p) if !port_ok(p) => Err("`https:` URI with an invalid port (expected 1 to 65535)"),
        _ => Ok(()),
    }
}

/// Check one URI of the `rua` list against RFC 3986 characters, with `,`,
/// `!` and `;` required to be percent-encoded (RPT-TXT-04).
fn parse_uri<'a>(uri: &'a str, offset: usize) -> Result<Rua<'a>, RecordError> {
    let bad = |at: usize, reason: &'static str| RecordError::InvalidUri {
        offset: offset + at,
        uri: uri.to_owned(),
        reason,
    };
    let b = uri.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'%' => {
                if i + 2 >= b.len() || hex(b[i + 1]).is_none() || hex(b[i + 2]).is_none() {
                    return Err(bad(i, "`%` must be followed by two hex digits"));
                }
                i += 3;
                continue;
            }
            b'!' | b',' | b';' => return Err(bad(i, "`!`, `,` and `;` must be percent-encoded")),
            c if c.is_ascii_alphanumeric() => {}
            b'-' | b'.' | b'_' | b'~' | b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@' | b'$'
            | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b'=' => {}
            _ => return Err(bad(i, "character not allowed in a URI")),
        }
        i += 1;
    }
    let scheme_end = uri.find(':');
    let scheme_ok = scheme_end.is_some_and(|e| {
        e > 0
            && b[0].is_ascii_alphabetic()
            && b[1..e]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    });
    let kind = match scheme_end.filter(|_| scheme_ok) {
        None => RuaKind::Unsupported {
            reason: "no URI scheme (expected `mailto:` or `https:`)",
        },
        Some(e) => {
            let scheme = &uri[..e];
            let rest = &uri[e + 1..];
            if scheme.eq_ignore_ascii_case("mailto") {
                let addr = rest.split('?').next().unwrap_or("");
                let address = percent_decode(addr);
                match address.rsplit_once('@') {
                    Some((l, d)) if !l.is_empty() && !d.is_empty() => RuaKind::Mailto { address },
                    _ => RuaKind::Unsupported {
                        reason: "`mailto:` without an address",
                    },
                }
            } else if scheme.eq_ignore_ascii_case("https") {
                match rest.strip_prefix("//").map(check_https_authority) {
                    Some(Ok(())) => RuaKind::Https,
                    Some(Err(reason)) => RuaKind::Unsupported { reason },
                    None => RuaKind::Unsupported {
                        reason: HTTPS_WITHOUT_HOST,
                    },
                }
            } else {
                RuaKind::Unsupported {
                    reason: "only `mailto:` and `https:` are defined for TLS-RPT",
                }
            }
        }
    };
    Ok(Rua {
        uri: Cow::Borrowed(uri),
        kind,
    })
}

/// A parsed `_smtp._tls` record.
///
/// ```
/// use tlsrpt_core::TlsRptRecord;
/// let r = TlsRptRecord::parse("v=TLSRPTv1; rua=mailto:reports@example.com, https://r.example/v1").unwrap();
/// assert_eq!(r.rua().len(), 2);
/// assert!(r.is_usable());
/// assert_eq!(r.to_string(), "v=TLSRPTv1; rua=mailto:reports@example.com,https://r.example/v1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRptRecord<'a> {
    rua: Vec<Rua<'a>>,
    extensions: Vec<TxtExtension<'a>>,
    ignored: Vec<TxtExtension<'a>>,
}

impl<'a> TlsRptRecord<'a> {
    /// Parse one record (RPT-TXT-02..07, RPT-TXT-10, DEC-13, DEC-14).
    /// Several `rua=` fields are merged in order, exact duplicates removed;
    /// unusable URIs are kept and flagged.
    pub fn parse(text: &'a str) -> Result<Self, RecordError> {
        let fields = txt::parse_fields(text, TLSRPT_VERSION_TAG)?;
        let mut rua: Vec<Rua<'a>> = Vec::new();
        let mut seen_rua = false;
        let mut extensions = Vec::new();
        let mut ignored = Vec::new();
        for f in fields {
            let ext = TxtExtension {
                name: Cow::Borrowed(f.name),
                value: Cow::Borrowed(f.value),
            };
            match f.name {
                "rua" => {
                    seen_rua = true;
                    let mut pos = 0;
                    for part in f.value.split(',') {
                        let lead = part.len() - part.trim_start_matches([' ', '\t']).len();
                        let uri = part.trim_matches([' ', '\t']);
                        if uri.is_empty() {
                            return Err(RecordError::InvalidUri {
                                offset: f.value_offset + pos,
                                uri: String::new(),
                                reason: "empty URI",
                            });
                        }
                        let r = parse_uri(uri, f.value_offset + pos + lead)?;
                        if !rua.iter().any(|x| x.uri == r.uri) {
                            rua.push(r);
                        }
                        pos += part.len() + 1;
                    }
                }
                "v" => {
                    txt::check_extension_value(&f)?;
                    ignored.push(ext);
                }
                _ => {
                    txt::check_extension_value(&f)?;
                    extensions.push(ext);
                }
            }
        }
        if !seen_rua {
            return Err(RecordError::MissingRua);
        }
        Ok(Self {
            rua,
            extensions,
            ignored,
        })
    }

    /// Select and parse the one TLS-RPT record of a DNS answer (RPT-TXT-08,
    /// RPT-TXT-09).
    pub fn select<R: AsRef<[u8]>>(answer: &'a [R]) -> Result<Self, SelectError> {
        txt::select_one(answer, TLSRPT_VERSION_TAG, Self::parse)
    }

    /// All `rua` URIs in order, usable or not.
    pub fn rua(&self) -> &[Rua<'a>] {
        &self.rua
    }

    /// The URIs reports can be sent to.
    pub fn usable_rua(&self) -> impl Iterator<Item = &Rua<'a>> {
        self.rua.iter().filter(|r| r.is_usable())
    }

    /// Whether at least one URI is usable; if not, the domain is treated as
    /// not doing TLS-RPT (DEC-14).
    pub fn is_usable(&self) -> bool {
        self.usable_rua().next().is_some()
    }

    /// Extension fields in order (RPT-TXT-07).
    pub fn extensions(&self) -> &[TxtExtension<'a>] {
        &self.extensions
    }

    /// Repeated `v` fields, ignored.
    pub fn ignored(&self) -> &[TxtExtension<'a>] {
        &self.ignored
    }

    /// An owned copy.
    pub fn into_owned(self) -> TlsRptRecord<'static> {
        TlsRptRecord {
            rua: self.rua.into_iter().map(Rua::into_owned).collect(),
            extensions: TxtExtension::all_into_owned(self.extensions),
            ignored: TxtExtension::all_into_owned(self.ignored),
        }
    }
}

impl fmt::Display for TlsRptRecord<'_> {
    /// Canonical form: `v=TLSRPTv1; rua=URI,URI` then `; name=value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TLSRPT_VERSION_TAG}; rua=")?;
        for (i, r) in self.rua.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&r.uri)?;
        }
        for e in &self.extensions {
            write!(f, "; {}={}", e.name, e.value)?;
        }
        Ok(())
    }
}

impl FromStr for TlsRptRecord<'static> {
    type Err = RecordError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TlsRptRecord::parse(s).map(TlsRptRecord::into_owned)
    }
}
