//! Error types. Every error names what was wrong and where (byte offset or
//! line number).

use crate::display::Escaped;
use crate::domain::{MAX_LABEL, MAX_NAME};
use crate::txt::SyntaxError;

/// An invalid `_mta-sts` TXT record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The shared `v=...; name=value` syntax is broken.
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    /// The record has no `id` field (STS-TXT-04).
    #[error("missing required field `id`")]
    MissingId,
    /// An `id` value that is not 1-32 letters and digits (STS-TXT-04, DEC-03).
    #[error("byte {offset}: invalid id `{}` (expected 1 to 32 letters and digits)", Escaped(.found))]
    InvalidId {
        /// Byte offset of the value.
        offset: usize,
        /// The value found.
        found: String,
    },
}

/// Why no usable record was selected from a DNS answer (STS-TXT-10,
/// RPT-TXT-08), for a record type whose parse error is `E`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectErrorOf<E> {
    /// No RR starts with the version tag.
    #[error("no record starting with the version tag")]
    NoRecord,
    /// More than one RR starts with the version tag.
    #[error("{count} records start with the version tag (exactly one is allowed)")]
    Multiple {
        /// Number of candidate records.
        count: usize,
    },
    /// The one candidate is invalid.
    #[error("TXT record #{} of the answer is invalid: {error}", index + 1)]
    Invalid {
        /// Index of the RR in the answer.
        index: usize,
        /// What is wrong with it.
        error: E,
    },
}

/// Why no usable `_mta-sts` record was selected from a DNS answer.
pub type SelectError = SelectErrorOf<RecordError>;

/// An invalid MX pattern (STS-POL-05, STS-POL-06).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MxError {
    /// The pattern is empty.
    #[error("empty MX pattern")]
    Empty,
    /// A character that no domain name may contain.
    #[error("byte {offset}: invalid character {found:?} in MX pattern `{}`", Escaped(.pattern))]
    InvalidChar {
        /// The pattern.
        pattern: String,
        /// Byte offset in the pattern.
        offset: usize,
        /// The character.
        found: char,
    },
    /// An empty label (two dots, a leading dot, or a trailing dot).
    #[error("byte {offset}: empty label in MX pattern `{}`", Escaped(.pattern))]
    EmptyLabel {
        /// The pattern.
        pattern: String,
        /// Byte offset in the pattern.
        offset: usize,
    },
    /// A label that starts or ends with a hyphen.
    #[error("byte {offset}: label in MX pattern `{}` starts or ends with `-`", Escaped(.pattern))]
    Hyphen {
        /// The pattern.
        pattern: String,
        /// Byte offset of the label.
        offset: usize,
    },
    /// A `*` anywhere but as the whole left-most label.
    #[error(
        "byte {offset}: `*` is only allowed as the whole left-most label (`*.example.com`) in `{}`",
        Escaped(.pattern)
    )]
    Wildcard {
        /// The pattern.
        pattern: String,
        /// Byte offset of the `*`.
        offset: usize,
    },
    /// A U-label (non-ASCII) in a policy; policies must use A-labels (STS-POL-06).
    #[error("MX pattern `{}` is not ASCII: write IDNs as A-labels (`xn--...`)", Escaped(.pattern))]
    NotAscii {
        /// The pattern.
        pattern: String,
    },
    /// A U-label given to the builder could not be converted to A-labels.
    #[error("MX pattern `{}` cannot be converted to A-labels", Escaped(.pattern))]
    Idna {
        /// The pattern.
        pattern: String,
    },
    /// A label longer than 63 octets (RFC 1035 2.3.4): no host name can
    /// match the pattern.
    #[error(
        "byte {offset}: label of {length} characters in MX pattern `{pattern}` (at most {MAX_LABEL})"
    )]
    LabelTooLong {
        /// The pattern.
        pattern: String,
        /// Byte offset of the label.
        offset: usize,
        /// The label's length.
        length: usize,
    },
    /// A pattern longer than 253 characters (RFC 1035 2.3.4 in text
    /// form): no host name can match it.
    #[error("MX pattern of {length} characters (at most {MAX_NAME}): `{pattern}`")]
    TooLong {
        /// The pattern.
        pattern: String,
        /// Its length.
        length: usize,
    },
}

/// An invalid policy file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The body is larger than the limit.
    #[error("policy body is {size} bytes, larger than the {limit}-byte limit")]
    TooLarge {
        /// Body size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not UTF-8 (DEC-27).
    #[error("byte {offset}: policy body is not valid UTF-8")]
    NotUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The body is empty.
    #[error("policy body is empty")]
    Empty,
    /// The body starts with `<`: a web page (HTML or XML), typically an
    /// error or default page served instead of the policy file. No policy
    /// line can start with `<`.
    #[error(
        "the policy body looks like HTML (it starts with `<`): the server returned a web page, not the policy file"
    )]
    LooksLikeHtml,
    /// A line is not `key: value`.
    #[error("line {line}: {reason}")]
    MalformedLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A blank line (strict mode; DEC-06).
    #[error("line {line}: blank line (not allowed by the RFC 8461 grammar)")]
    BlankLine {
        /// 1-based line number.
        line: usize,
    },
    /// A bare CR that is not part of CRLF (DEC-06).
    #[error("line {line}: bare CR (lines end with LF or CRLF)")]
    BareCr {
        /// 1-based line number.
        line: usize,
    },
    /// A key that is not a valid field name.
    #[error(
        "line {line}: invalid key `{}` (keys are a letter or digit then up to 31 of letters, digits, `_`, `-`, `.`)",
        Escaped(.key)
    )]
    InvalidKey {
        /// 1-based line number.
        line: usize,
        /// The key as written.
        key: String,
    },
    /// A value with a control character, or an empty value.
    #[error("line {line}: invalid value for `{}`: {reason}", Escaped(.key))]
    InvalidValue {
        /// 1-based line number.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// `version` is not `STSv1` (STS-POL-02).
    #[error("line {line}: unsupported version `{}` (expected `STSv1`)", Escaped(.found))]
    UnsupportedVersion {
        /// 1-based line number.
        line: usize,
        /// The value found.
        found: String,
    },
    /// `mode` is not one of `enforce`, `testing`, `none` (STS-POL-03).
    #[error(
        "line {line}: unknown mode `{}` (expected `enforce`, `testing` or `none`)",
        Escaped(.found)
    )]
    UnknownMode {
        /// 1-based line number.
        line: usize,
        /// The value found.
        found: String,
    },
    /// `max_age` is not 1-10 digits (STS-POL-04).
    #[error("line {line}: invalid max_age `{}` (expected 1 to 10 digits)", Escaped(.found))]
    InvalidMaxAge {
        /// 1-based line number.
        line: usize,
        /// The value found.
        found: String,
    },
    /// `max_age` above 31557600: in a strict read, or given to the builder
    /// (DEC-05; the lenient reader caps it with a warning instead).
    #[error("{}max_age {value} is larger than the maximum 31557600", AtLine(*line))]
    MaxAgeTooLarge {
        /// 1-based line number; `None` for the builder.
        line: Option<usize>,
        /// The value found.
        value: u64,
    },
    /// An invalid `mx` pattern (STS-POL-05..07), in a policy body or given
    /// to the builder.
    #[error("{}{error}", AtLine(*line))]
    InvalidMx {
        /// 1-based line number; `None` for the builder.
        line: Option<usize>,
        /// What is wrong with it.
        error: MxError,
    },
    /// A required field is missing (STS-POL-01).
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    /// An extension given to the builder is invalid.
    #[error("extension `{}`: {reason}", Escaped(.name))]
    InvalidExtension {
        /// The extension name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// `mode` is `enforce` or `testing` and there is no `mx` (STS-POL-01).
    #[error("mode `{0}` requires at least one `mx` line")]
    MissingMx(&'static str),
}

/// `line N: ` before a message, or nothing for errors of the builder.
struct AtLine(Option<usize>);

impl std::fmt::Display for AtLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(line) => write!(f, "line {line}: "),
            None => Ok(()),
        }
    }
}

/// A certificate that cannot be read.
#[cfg(feature = "cert")]
#[cfg_attr(docsrs, doc(cfg(feature = "cert")))]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// The DER is not an X.509 certificate, or a part of it (`part`, e.g.
    /// `subjectAltName`) cannot be decoded.
    #[error("not an X.509 certificate ({part} cannot be decoded)")]
    Der {
        /// What could not be decoded: `certificate` or an extension name.
        part: &'static str,
        /// The decoder's error.
        #[source]
        source: x509_parser::error::X509Error,
    },
    /// Bytes follow the certificate's DER encoding.
    #[error("{0} bytes of trailing data after the certificate")]
    TrailingData(usize),
    /// The PEM holds no certificate.
    #[error("no `CERTIFICATE` block in PEM input")]
    NoPemCertificate,
    /// The PEM is broken.
    #[error("invalid PEM: {0}")]
    Pem(String),
}
