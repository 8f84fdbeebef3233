//! The MTA-STS policy file (RFC 8461 section 3.2): strict and lenient
//! readers, the canonical writer, and a builder.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::error::PolicyError;
use crate::mx::MxPattern;
use crate::parsed::{Parsed, Strictness};
use crate::txt::is_valid_name;

/// Largest policy body accepted, in bytes (64 KiB; RFC 8461 3.3, DEC-28).
pub const MAX_POLICY_BODY: usize = 64 * 1024;

/// Largest `max_age` allowed by RFC 8461 3.2 (31557600 s, about one year).
pub const MAX_MAX_AGE: u32 = 31_557_600;

/// The policy host prefix (`mta-sts.` + Policy Domain; STS-FETCH-01).
pub const POLICY_HOST_PREFIX: &str = "mta-sts.";

/// The well-known path of the policy (STS-IANA-01).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// The host that serves the policy of `domain`.
///
/// ```
/// assert_eq!(mta_sts_core::policy::policy_host("example.com"), "mta-sts.example.com");
/// ```
pub fn policy_host(domain: &str) -> String {
    format!(
        "{POLICY_HOST_PREFIX}{}",
        domain.strip_suffix('.').unwrap_or(domain)
    )
}

/// The URL the policy of `domain` is fetched from (STS-FETCH-01).
///
/// ```
/// assert_eq!(
///     mta_sts_core::policy::policy_url("example.com"),
///     "https://mta-sts.example.com/.well-known/mta-sts.txt"
/// );
/// ```
pub fn policy_url(domain: &str) -> String {
    format!("https://{}{POLICY_PATH}", policy_host(domain))
}

/// The policy mode (STS-POL-03).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Refuse delivery to MX hosts that fail validation.
    Enforce,
    /// Deliver anyway, report failures.
    Testing,
    /// Behave as if there were no policy.
    None,
}

impl Mode {
    /// The value as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Testing => "testing",
            Self::None => "none",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ();
    /// Case-sensitive, as the ABNF says (DEC-04).
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "enforce" => Ok(Self::Enforce),
            "testing" => Ok(Self::Testing),
            "none" => Ok(Self::None),
            _ => Err(()),
        }
    }
}

/// Line terminator used by the writer (DEC-06: LF by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnding {
    /// `\n`
    #[default]
    Lf,
    /// `\r\n`
    CrLf,
}

impl LineEnding {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lf => "\n",
            Self::CrLf => "\r\n",
        }
    }
}

/// An unknown `key: value` line, kept in file order (STS-POL-11).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PolicyExtension<'a> {
    /// The key.
    pub name: Cow<'a, str>,
    /// The value (leading and trailing whitespace removed).
    pub value: Cow<'a, str>,
}

/// A repeated `version`, `mode` or `max_age` line that was ignored
/// (STS-POL-13: the first one counts).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IgnoredField<'a> {
    /// 1-based line number.
    pub line: usize,
    /// The key.
    pub name: Cow<'a, str>,
    /// The value as written.
    pub value: Cow<'a, str>,
}

/// Something the lenient reader accepted although the RFC grammar does not
/// allow it, or that the RFC says to ignore (DEC-01: never silent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PolicyWarning {
    /// A UTF-8 byte order mark at the start of the body.
    #[error("byte 0: UTF-8 byte order mark ignored")]
    ByteOrderMark,
    /// A blank or whitespace-only line.
    #[error("line {line}: blank line ignored")]
    BlankLine {
        /// 1-based line number.
        line: usize,
    },
    /// Whitespace before the key.
    #[error("line {line}: whitespace before the key ignored")]
    LeadingWhitespace {
        /// 1-based line number.
        line: usize,
    },
    /// `max_age` above 31557600, capped (DEC-05).
    #[error("line {line}: max_age {value} is larger than 31557600; capped to 31557600")]
    MaxAgeCapped {
        /// 1-based line number.
        line: usize,
        /// The value written in the policy.
        value: u64,
    },
    /// A repeated non-`mx` field, ignored (STS-POL-13).
    #[error("line {line}: repeated `{key}` ignored (the first one counts)")]
    DuplicateField {
        /// 1-based line number.
        line: usize,
        /// The key.
        key: String,
    },
    /// An `mx` pattern beyond the DNS length limits (a label longer than
    /// 63 octets, or more than 253 characters): no host name can match it,
    /// so it is left out of [`Policy::mx`] (matching is unchanged, and the
    /// policy written back is strictly valid, DEC-01). The strict reader
    /// refuses the policy ([`MxError::LabelTooLong`](crate::MxError::LabelTooLong),
    /// [`MxError::TooLong`](crate::MxError::TooLong)), and so does the
    /// lenient one when no other pattern is left in `enforce` or `testing`
    /// mode.
    #[error("line {line}: {reason}; pattern ignored (no host name can match it)")]
    MxTooLong {
        /// 1-based line number.
        line: usize,
        /// What is too long (the strict reader's error message).
        reason: String,
    },
}

crate::code_enum! {
    /// The kind of a [`PolicyWarning`], as a stable identifier.
    pub enum PolicyWarningCode {
        /// [`PolicyWarning::ByteOrderMark`].
        ByteOrderMark => "byte-order-mark",
        /// [`PolicyWarning::BlankLine`].
        BlankLine => "blank-line",
        /// [`PolicyWarning::LeadingWhitespace`].
        LeadingWhitespace => "leading-whitespace",
        /// [`PolicyWarning::MaxAgeCapped`].
        MaxAgeCapped => "max-age-capped",
        /// [`PolicyWarning::DuplicateField`].
        DuplicateField => "duplicate-field",
        /// [`PolicyWarning::MxTooLong`].
        MxTooLong => "mx-too-long",
    }
}

impl PolicyWarning {
    /// The stable code of this warning.
    ///
    /// ```
    /// use mta_sts_core::Policy;
    /// let r = Policy::parse_lenient("\u{feff}version: STSv1\nmode: none\nmax_age: 1\n").unwrap();
    /// assert_eq!(r.warnings[0].code().as_str(), "byte-order-mark");
    /// ```
    pub fn code(&self) -> PolicyWarningCode {
        match self {
            Self::ByteOrderMark => PolicyWarningCode::ByteOrderMark,
            Self::BlankLine { .. } => PolicyWarningCode::BlankLine,
            Self::LeadingWhitespace { .. } => PolicyWarningCode::LeadingWhitespace,
            Self::MaxAgeCapped { .. } => PolicyWarningCode::MaxAgeCapped,
            Self::DuplicateField { .. } => PolicyWarningCode::DuplicateField,
            Self::MxTooLong { .. } => PolicyWarningCode::MxTooLong,
        }
    }
}

/// A parsed policy together with the warnings of the lenient reader (the
/// workspace-wide [`Parsed`] shape).
pub type Lenient<T> = Parsed<T, PolicyWarning>;

/// A parsed MTA-STS policy.
///
/// Equality is semantic: it compares mode, `max_age`, `mx` patterns and
/// extensions, not the raw text or ignored duplicate lines, so that
/// `Policy::parse(&p.to_string()) == Ok(p)`.
///
/// ```
/// use mta_sts_core::{Mode, Policy};
/// let p = Policy::parse("version: STSv1\nmode: enforce\nmx: *.example.net\nmax_age: 604800\n").unwrap();
/// assert_eq!(p.mode(), Mode::Enforce);
/// assert_eq!(p.max_age(), 604800);
/// assert!(p.matches_mx("mx1.example.net"));
/// assert_eq!(Policy::parse(&p.to_string()).unwrap(), p);
/// ```
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    raw: Cow<'a, str>,
    mode: Mode,
    max_age: u32,
    mx: Vec<MxPattern<'a>>,
    extensions: Vec<PolicyExtension<'a>>,
    ignored: Vec<IgnoredField<'a>>,
}

impl PartialEq for Policy<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.mode == other.mode
            && self.max_age == other.max_age
            && self.mx == other.mx
            && self.extensions == other.extensions
    }
}

impl Eq for Policy<'_> {}

fn is_ctl(c: char) -> bool {
    (c as u32) < 0x20 || c == '\x7f'
}

fn trim_wsp(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

impl<'a> Policy<'a> {
    /// Parse a policy body with the strict reader (the RFC 8461 grammar;
    /// DEC-01). Repeated fields are ignored per STS-POL-13 and listed by
    /// [`ignored`](Self::ignored).
    pub fn parse(text: &'a str) -> Result<Self, PolicyError> {
        parse_impl(text, None)
    }

    /// Parse with the lenient reader: additionally accepts a UTF-8 BOM,
    /// blank lines, whitespace before keys (DEC-06), caps `max_age` above
    /// 31557600 (DEC-05) and ignores an `mx` pattern beyond the DNS length
    /// limits (a label over 63 octets, more than 253 characters), which
    /// could match no host; every such acceptance is returned as a warning,
    /// as is every ignored duplicate field.
    ///
    /// ```
    /// use mta_sts_core::Policy;
    /// let r = Policy::parse_lenient("version: STSv1\nmode: testing\nmx: mx.example\nmax_age: 99999999\n\n").unwrap();
    /// assert_eq!(r.value.max_age(), 31_557_600);
    /// assert_eq!(r.warnings.len(), 2);
    /// ```
    pub fn parse_lenient(text: &'a str) -> Result<Lenient<Self>, PolicyError> {
        let mut warnings = Vec::new();
        let value = parse_impl(text, Some(&mut warnings))?;
        Ok(Parsed { value, warnings })
    }

    /// Parse with the reader `strictness` selects: [`Policy::parse`] or
    /// [`Policy::parse_lenient`]. After a strict read the warnings are
    /// empty (ignored duplicate fields are listed by
    /// [`ignored`](Self::ignored)).
    pub fn parse_with(
        text: &'a str,
        strictness: Strictness,
    ) -> Result<Parsed<Self, PolicyWarning>, PolicyError> {
        match strictness {
            Strictness::Strict => Self::parse(text).map(Parsed::clean),
            Strictness::Lenient => Self::parse_lenient(text),
        }
    }

    /// Check the body size (64 KiB, [`MAX_POLICY_BODY`]) and UTF-8 encoding
    /// (DEC-27) of a body as received, and return it as text.
    pub fn body_text(body: &[u8]) -> Result<&str, PolicyError> {
        if body.len() > MAX_POLICY_BODY {
            return Err(PolicyError::TooLarge {
                size: body.len(),
                limit: MAX_POLICY_BODY,
            });
        }
        std::str::from_utf8(body).map_err(|e| PolicyError::NotUtf8 {
            offset: e.valid_up_to(),
        })
    }

    /// Start building a policy (the same rules as the parser).
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// `max_age` in seconds, as in force (capped by the lenient reader).
    pub fn max_age(&self) -> u32 {
        self.max_age
    }

    /// The `mx` patterns in file order.
    pub fn mx(&self) -> &[MxPattern<'a>] {
        &self.mx
    }

    /// Unknown fields in file order.
    pub fn extensions(&self) -> &[PolicyExtension<'a>] {
        &self.extensions
    }

    /// Repeated fields ignored per STS-POL-13.
    pub fn ignored(&self) -> &[IgnoredField<'a>] {
        &self.ignored
    }

    /// The text the policy was parsed from (or, for a built policy, its
    /// canonical text).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The policy as the TLS-RPT `policy-string` (RFC 8460 4.4/4.5): the
    /// lines of the raw text, without terminators, byte order mark or blank
    /// lines.
    ///
    /// ```
    /// let p = mta_sts_core::Policy::parse("version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n").unwrap();
    /// assert_eq!(p.policy_string(), ["version: STSv1", "mode: none", "max_age: 86400"]);
    /// ```
    pub fn policy_string(&self) -> Vec<&str> {
        self.raw
            .trim_start_matches('\u{feff}')
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !trim_wsp(l).is_empty())
            .collect()
    }

    /// The first `mx` pattern that `host` matches (STS-MX-01).
    pub fn matching_pattern(&self, host: &str) -> Option<&MxPattern<'a>> {
        let h = crate::mx::normalize_host(host)?;
        self.mx.iter().find(|p| p.matches_normalized(&h))
    }

    /// Whether `host` matches at least one `mx` pattern (STS-MX-01).
    pub fn matches_mx(&self, host: &str) -> bool {
        self.matching_pattern(host).is_some()
    }

    /// The canonical text with the chosen line ending: `version`, `mode`,
    /// each `mx`, `max_age`, then the extensions, every line terminated.
    pub fn to_string_with(&self, ending: LineEnding) -> String {
        let nl = ending.as_str();
        let mut s = format!("version: STSv1{nl}mode: {}{nl}", self.mode);
        for p in &self.mx {
            s.push_str("mx: ");
            s.push_str(p.as_str());
            s.push_str(nl);
        }
        s.push_str(&format!("max_age: {}{nl}", self.max_age));
        for e in &self.extensions {
            s.push_str(&format!("{}: {}{nl}", e.name, e.value));
        }
        s
    }

    /// A lint of the policy for its publisher; see [`crate::lint`].
    pub fn lint(&self) -> Vec<crate::lint::Finding> {
        crate::lint::lint(self)
    }

    /// An owned copy.
    pub fn into_owned(self) -> Policy<'static> {
        Policy {
            raw: Cow::Owned(self.raw.into_owned()),
            mode: self.mode,
            max_age: self.max_age,
            mx: self.mx.into_iter().map(MxPattern::into_owned).collect(),
            extensions: self
                .extensions
                .into_iter()
                .map(|e| PolicyExtension {
                    name: Cow::Owned(e.name.into_owned()),
                    value: Cow::Owned(e.value.into_owned()),
                })
                .collect(),
            ignored: self
                .ignored
                .into_iter()
                .map(|e| IgnoredField {
                    line: e.line,
                    name: Cow::Owned(e.name.into_owned()),
                    value: Cow::Owned(e.value.into_owned()),
                })
                .collect(),
        }
    }
}

fn parse_impl<'a>(
    text: &'a str,
    mut lenient: Option<&mut Vec<PolicyWarning>>,
) -> Result<Policy<'a>, PolicyError> {
    if text.len() > MAX_POLICY_BODY {
        return Err(PolicyError::TooLarge {
            size: text.len(),
            limit: MAX_POLICY_BODY,
        });
    }
    let mut body = text;
    if let (Some(w), Some(rest)) = (lenient.as_deref_mut(), text.strip_prefix('\u{feff}')) {
        w.push(PolicyWarning::ByteOrderMark);
        body = rest;
    }
    if body.is_empty() {
        return Err(PolicyError::Empty);
    }
    if body.trim_start().starts_with('<') {
        return Err(PolicyError::LooksLikeHtml);
    }
    // The final terminator is optional (STS-POL-08).
    let content = body
        .strip_suffix("\r\n")
        .or_else(|| body.strip_suffix('\n'))
        .unwrap_or(body);

    let mut mode: Option<Mode> = None;
    let mut version = false;
    let mut max_age: Option<u32> = None;
    let mut mx = Vec::new();
    // The first `mx` pattern the lenient reader ignored as too long.
    let mut too_long: Option<PolicyError> = None;
    let mut extensions = Vec::new();
    let mut ignored = Vec::new();

    for (i, line) in content.split('\n').enumerate() {
        let n = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.contains('\r') {
            return Err(PolicyError::BareCr { line: n });
        }
        let mut l = line;
        if trim_wsp(l).is_empty() {
            match lenient.as_deref_mut() {
                Some(w) => {
                    w.push(PolicyWarning::BlankLine { line: n });
                    continue;
                }
                None => return Err(PolicyError::BlankLine { line: n }),
            }
        }
        if l.starts_with([' ', '\t']) {
            match lenient.as_deref_mut() {
                Some(w) => {
                    w.push(PolicyWarning::LeadingWhitespace { line: n });
                    l = l.trim_start_matches([' ', '\t']);
                }
                None => {
                    return Err(PolicyError::MalformedLine {
                        line: n,
                        reason: "whitespace before the key",
                    });
                }
            }
        }
        let Some((key, rest)) = l.split_once(':') else {
            return Err(PolicyError::MalformedLine {
                line: n,
                reason: "expected `key: value`",
            });
        };
        if !is_valid_name(key) {
            if is_valid_name(trim_wsp(key)) {
                return Err(PolicyError::MalformedLine {
                    line: n,
                    reason: "whitespace before `:`",
                });
            }
            return Err(PolicyError::InvalidKey {
                line: n,
                key: key.to_owned(),
            });
        }
        let value = trim_wsp(rest);
        if value.chars().any(is_ctl) {
            return Err(PolicyError::InvalidValue {
                line: n,
                key: key.to_owned(),
                reason: "control character (tabs are allowed only around the value)",
            });
        }
        let mut duplicate = |seen: bool| {
            if seen {
                ignored.push(IgnoredField {
                    line: n,
                    name: Cow::Borrowed(key),
                    value: Cow::Borrowed(value),
                });
                if let Some(w) = lenient.as_deref_mut() {
                    w.push(PolicyWarning::DuplicateField {
                        line: n,
                        key: key.to_owned(),
                    });
                }
            }
            seen
        };
        match key {
            "version" => {
                if duplicate(version) {
                    continue;
                }
                if value != "STSv1" {
                    return Err(PolicyError::UnsupportedVersion {
                        line: n,
                        found: value.to_owned(),
                    });
                }
                version = true;
            }
            "mode" => {
                if duplicate(mode.is_some()) {
                    continue;
                }
                mode = Some(value.parse().map_err(|()| PolicyError::UnknownMode {
                    line: n,
                    found: value.to_owned(),
                })?);
            }
            "max_age" => {
                if duplicate(max_age.is_some()) {
                    continue;
                }
                if value.is_empty()
                    || value.len() > 10
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(PolicyError::InvalidMaxAge {
                        line: n,
                        found: value.to_owned(),
                    });
                }
                // At most 10 digits: always fits in u64.
                let v: u64 = value.bytes().fold(0, |a, d| a * 10 + u64::from(d - b'0'));
                let capped = match u32::try_from(v) {
                    Ok(v) if v <= MAX_MAX_AGE => v,
                    _ => match lenient.as_deref_mut() {
                        Some(w) => {
                            w.push(PolicyWarning::MaxAgeCapped { line: n, value: v });
                            MAX_MAX_AGE
                        }
                        None => {
                            return Err(PolicyError::MaxAgeTooLarge {
                                line: Some(n),
                                value: v,
                            });
                        }
                    },
                };
                max_age = Some(capped);
            }
            "mx" => {
                let invalid = |error| PolicyError::InvalidMx {
                    line: Some(n),
                    error,
                };
                let p = MxPattern::parse_syntax(value).map_err(invalid)?;
                // Beyond the DNS length limits: the strict reader refuses
                // the policy; the lenient one ignores the pattern, which
                // matches nothing, with a warning (like DEC-05, the other
                // patterns still protect the domain).
                if let Err(error) = p.check_lengths() {
                    match lenient.as_deref_mut() {
                        Some(w) => {
                            w.push(PolicyWarning::MxTooLong {
                                line: n,
                                reason: error.to_string(),
                            });
                            too_long.get_or_insert(invalid(error));
                            continue;
                        }
                        None => return Err(invalid(error)),
                    }
                }
                mx.push(p);
            }
            _ => {
                if value.is_empty() {
                    return Err(PolicyError::InvalidValue {
                        line: n,
                        key: key.to_owned(),
                        reason: "the value is empty",
                    });
                }
                extensions.push(PolicyExtension {
                    name: Cow::Borrowed(key),
                    value: Cow::Borrowed(value),
                });
            }
        }
    }
    if !version {
        return Err(PolicyError::MissingField("version"));
    }
    let mode = mode.ok_or(PolicyError::MissingField("mode"))?;
    let max_age = max_age.ok_or(PolicyError::MissingField("max_age"))?;
    if mx.is_empty() && mode != Mode::None {
        // Only too-long patterns: their error says more than "missing".
        return Err(too_long.unwrap_or(PolicyError::MissingMx(mode.as_str())));
    }
    Ok(Policy {
        raw: Cow::Borrowed(text),
        mode,
        max_age,
        mx,
        extensions,
        ignored,
    })
}

impl fmt::Display for Policy<'_> {
    /// The canonical form with LF line endings (see [`Policy::to_string_with`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_with(LineEnding::Lf))
    }
}

impl FromStr for Policy<'static> {
    type Err = PolicyError;
    /// The strict reader, returning an owned policy.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Policy::parse(s).map(Policy::into_owned)
    }
}

impl serde::Serialize for Policy<'_> {
    /// A policy serializes as its raw text (for persistent caches).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> serde::Deserialize<'de> for Policy<'static> {
    /// Deserializes from the raw text with the lenient reader, so that a
    /// stored policy is validated again when it is loaded.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Policy::parse_lenient(&text)
            .map(|l| l.value.into_owned())
            .map_err(serde::de::Error::custom)
    }
}

/// Builds a policy with the parser's rules (see [`Policy::builder`]).
///
/// ```
/// use mta_sts_core::{Mode, Policy};
/// let p = Policy::builder()
///     .mode(Mode::Enforce)
///     .mx("mail.example.com")
///     .mx("*.bücher.example")
///     .max_age(86_400)
///     .build()
///     .unwrap();
/// assert_eq!(p.to_string(), "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.xn--bcher-kva.example\nmax_age: 86400\n");
/// ```
#[derive(Debug, Clone, Default)]
pub struct PolicyBuilder {
    mode: Option<Mode>,
    max_age: Option<u64>,
    mx: Vec<String>,
    extensions: Vec<(String, String)>,
}

impl PolicyBuilder {
    /// Set the mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Set `max_age` in seconds (at most 31557600).
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self
    }

    /// Add an `mx` pattern; a U-label name is converted to A-labels.
    pub fn mx(mut self, pattern: impl Into<String>) -> Self {
        self.mx.push(pattern.into());
        self
    }

    /// Add an extension field.
    pub fn extension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push((name.into(), value.into()));
        self
    }

    /// Check everything and build the policy; its raw text is the canonical
    /// text.
    pub fn build(self) -> Result<Policy<'static>, PolicyError> {
        let mode = self.mode.ok_or(PolicyError::MissingField("mode"))?;
        let max_age = self.max_age.ok_or(PolicyError::MissingField("max_age"))?;
        let max_age = match u32::try_from(max_age) {
            Ok(v) if v <= MAX_MAX_AGE => v,
            _ => {
                return Err(PolicyError::MaxAgeTooLarge {
                    line: None,
                    value: max_age,
                });
            }
        };
        let mx = self
            .mx
            .iter()
            .map(|m| {
                MxPattern::from_user(m)
                    .map_err(|error| PolicyError::InvalidMx { line: None, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if mx.is_empty() && mode != Mode::None {
            return Err(PolicyError::MissingMx(mode.as_str()));
        }
        let mut extensions = Vec::new();
        for (name, value) in self.extensions {
            if !is_valid_name(&name)
                || matches!(name.as_str(), "version" | "mode" | "max_age" | "mx")
            {
                return Err(PolicyError::InvalidExtension {
                    name,
                    reason: "not a valid extension name (or a reserved key)",
                });
            }
            let v = trim_wsp(&value);
            if v.is_empty() || v.chars().any(is_ctl) {
                return Err(PolicyError::InvalidExtension {
                    name,
                    reason: "values are non-empty and without control characters",
                });
            }
            extensions.push(PolicyExtension {
                name: Cow::Owned(name),
                value: Cow::Owned(v.to_owned()),
            });
        }
        let mut p = Policy {
            raw: Cow::Borrowed(""),
            mode,
            max_age,
            mx,
            extensions,
            ignored: Vec::new(),
        };
        p.raw = Cow::Owned(p.to_string());
        Ok(p)
    }
}
