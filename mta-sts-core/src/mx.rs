//! MX host patterns (`mx:` lines of a policy) and matching MX host names
//! against them (RFC 8461 sections 3.2 and 4.1; STS-MX-*, DEC-10).

use std::borrow::Cow;
use std::fmt;

use crate::domain::{MAX_LABEL, MAX_NAME};
use crate::error::MxError;

/// A validated `mx` pattern: an RFC 5321 `Domain` in A-labels, optionally
/// preceded by `*.`. Kept as written; compared ASCII case-insensitively.
///
/// ```
/// use mta_sts_core::MxPattern;
/// let p = MxPattern::parse("*.example.net").unwrap();
/// assert!(p.matches("mx1.example.net"));
/// assert!(p.matches("MX1.Example.NET."));       // case, one trailing dot (DEC-10)
/// assert!(!p.matches("example.net"));           // `*` is exactly one label
/// assert!(!p.matches("a.b.example.net"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MxPattern<'a> {
    text: Cow<'a, str>,
}

/// Check `s` against RFC 5321 `Domain` (A-labels only). `base` is the offset
/// of `s` inside the whole pattern, for error positions.
pub(crate) fn check_domain(pattern: &str, s: &str, base: usize) -> Result<(), MxError> {
    let mut offset = base;
    for label in s.split('.') {
        if label.is_empty() {
            return Err(MxError::EmptyLabel {
                pattern: pattern.to_owned(),
                offset,
            });
        }
        for (i, c) in label.char_indices() {
            if c == '*' {
                return Err(MxError::Wildcard {
                    pattern: pattern.to_owned(),
                    offset: offset + i,
                });
            }
            if !(c.is_ascii_alphanumeric() || c == '-') {
                return Err(MxError::InvalidChar {
                    pattern: pattern.to_owned(),
                    offset: offset + i,
                    found: c,
                });
            }
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(MxError::Hyphen {
                pattern: pattern.to_owned(),
                offset,
            });
        }
        offset += label.len() + 1;
    }
    Ok(())
}

impl<'a> MxPattern<'a> {
    /// Validate a pattern as it must appear in a policy file: `["*."]
    /// Domain`, A-labels only (STS-POL-05, STS-POL-06). No trailing dot, no
    /// `_`, no partial wildcards; labels of at most 63 octets and at most
    /// 253 characters in all ([`MAX_LABEL`], [`MAX_NAME`]).
    ///
    /// ```
    /// use mta_sts_core::{MxError, MxPattern};
    /// let long = format!("{}.example.net", "a".repeat(64));
    /// assert!(matches!(MxPattern::parse(&long), Err(MxError::LabelTooLong { offset: 0, length: 64, .. })));
    /// ```
    pub fn parse(s: &'a str) -> Result<Self, MxError> {
        let p = Self::parse_syntax(s)?;
        p.check_lengths()?;
        Ok(p)
    }

    /// [`parse`](Self::parse) without the length limits: the characters
    /// and the shape only. The lenient policy reader ignores a pattern
    /// that fails [`check_lengths`](Self::check_lengths), with a warning.
    pub(crate) fn parse_syntax(s: &'a str) -> Result<Self, MxError> {
        if s.is_empty() {
            return Err(MxError::Empty);
        }
        if !s.is_ascii() {
            return Err(MxError::NotAscii {
                pattern: s.to_owned(),
            });
        }
        let (base, off) = match s.strip_prefix("*.") {
            Some(rest) => (rest, 2),
            None => (s, 0),
        };
        check_domain(s, base, off)?;
        Ok(Self {
            text: Cow::Borrowed(s),
        })
    }

    /// The DNS length limits (RFC 1035 2.3.4, RFC 5321 4.5.3.1.2): every
    /// label at most [`MAX_LABEL`] octets and the whole pattern (the `*`
    /// counted as a label) at most [`MAX_NAME`] characters. No host name
    /// can match a pattern beyond them.
    pub(crate) fn check_lengths(&self) -> Result<(), MxError> {
        let text: &str = &self.text;
        let mut offset = 0;
        for label in text.split('.') {
            if label.len() > MAX_LABEL {
                return Err(MxError::LabelTooLong {
                    pattern: text.to_owned(),
                    offset,
                    length: label.len(),
                });
            }
            offset += label.len() + 1;
        }
        if text.len() > MAX_NAME {
            return Err(MxError::TooLong {
                pattern: text.to_owned(),
                length: text.len(),
            });
        }
        Ok(())
    }

    /// Validate a pattern given by a person (the builder, the CLI): a
    /// U-label domain is converted to A-labels first, with an error when
    /// that is impossible; a single trailing dot is dropped.
    ///
    /// ```
    /// use mta_sts_core::MxPattern;
    /// let p = MxPattern::from_user("*.bücher.example").unwrap();
    /// assert_eq!(p.as_str(), "*.xn--bcher-kva.example");
    /// ```
    pub fn from_user(s: &str) -> Result<MxPattern<'static>, MxError> {
        let s = s.trim();
        let s = s.strip_suffix('.').unwrap_or(s);
        if s.is_ascii() {
            return MxPattern::parse(s).map(MxPattern::into_owned);
        }
        let (wild, base) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let ascii = idna::domain_to_ascii_strict(base).map_err(|_| MxError::Idna {
            pattern: s.to_owned(),
        })?;
        let text = if wild { format!("*.{ascii}") } else { ascii };
        MxPattern::parse(&text)?;
        Ok(MxPattern {
            text: Cow::Owned(text),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern starts with `*.`.
    pub fn is_wildcard(&self) -> bool {
        self.text.starts_with("*.")
    }

    /// The pattern without its `*.` prefix.
    pub fn base(&self) -> &str {
        self.text.strip_prefix("*.").unwrap_or(&self.text)
    }

    /// Whether the MX host name `host` matches this pattern (STS-MX-02..06,
    /// STS-MX-08): ASCII case-insensitive; one trailing dot of `host` is
    /// ignored; a U-label host is converted to A-labels first; `*.` stands
    /// for exactly one non-empty left-most label.
    pub fn matches(&self, host: &str) -> bool {
        match normalize_host(host) {
            Some(h) => self.matches_normalized(&h),
            None => false,
        }
    }

    /// [`matches`](Self::matches) for a host already without trailing dot
    /// and in A-labels (case still ignored). No allocation.
    pub fn matches_normalized(&self, host: &str) -> bool {
        let hb = host.as_bytes();
        if let Some(base) = self.text.strip_prefix("*.") {
            let bb = base.as_bytes();
            // host = label "." base, label non-empty and without dots
            if hb.len() < bb.len() + 2 {
                return false;
            }
            let split = hb.len() - bb.len();
            hb[split - 1] == b'.'
                && hb[split..].eq_ignore_ascii_case(bb)
                && !hb[..split - 1].contains(&b'.')
        } else {
            hb.eq_ignore_ascii_case(self.text.as_bytes())
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> MxPattern<'static> {
        MxPattern {
            text: Cow::Owned(self.text.into_owned()),
        }
    }
}

impl fmt::Display for MxPattern<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Normalise a host name from DNS for matching (DEC-10): drop one trailing
/// dot; convert a U-label name to A-labels. `None` when the name cannot be
/// converted (it then matches nothing).
///
/// ```
/// use mta_sts_core::mx::normalize_host;
/// assert_eq!(normalize_host("mail.example.com.").as_deref(), Some("mail.example.com"));
/// assert_eq!(normalize_host("bücher.example").as_deref(), Some("xn--bcher-kva.example"));
/// ```
pub fn normalize_host(host: &str) -> Option<Cow<'_, str>> {
    let h = host.strip_suffix('.').unwrap_or(host);
    if h.is_ascii() {
        Some(Cow::Borrowed(h))
    } else {
        idna::domain_to_ascii_strict(h).ok().map(Cow::Owned)
    }
}
