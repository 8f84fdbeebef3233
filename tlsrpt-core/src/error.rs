//! Error types.

use mta_sts_core::display::Escaped;
use mta_sts_core::txt::SyntaxError;

/// An invalid `_smtp._tls` record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The shared `v=...; name=value` syntax is broken.
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    /// No `rua` field (RPT-TXT-03).
    #[error("missing required field `rua`")]
    MissingRua,
    /// A `rua` URI that is not a URI.
    #[error("byte {offset}: invalid rua URI `{}`: {reason}", Escaped(.uri))]
    InvalidUri {
        /// Byte offset in the record.
        offset: usize,
        /// The URI.
        uri: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Why no usable record was selected from a DNS answer (RPT-TXT-08).
pub type SelectError = mta_sts_core::error::SelectErrorOf<RecordError>;

/// What went wrong in a report, without the position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportErrorKind {
    /// JSON syntax.
    #[error("expected {0}")]
    Syntax(&'static str),
    /// The input is not UTF-8.
    #[error("invalid UTF-8")]
    NotUtf8,
    /// A member appears twice in one object (I-JSON; RPT-JSON-01).
    #[error("duplicate member `{}`", Escaped(.0))]
    DuplicateMember(String),
    /// A required member is missing.
    #[error("missing member `{0}`")]
    MissingMember(&'static str),
    /// A value of the wrong JSON type.
    #[error("expected {0}")]
    WrongType(&'static str),
    /// A count that is not a non-negative integer within range (DEC-21).
    #[error("invalid count: {0}")]
    InvalidCount(&'static str),
    /// A date-time that is not RFC 3339.
    #[error("invalid date-time `{}`: {error}", Escaped(.value))]
    InvalidDate {
        /// The string.
        value: String,
        /// Why.
        error: crate::time::TimeError,
    },
    /// A value that is not valid for its member (strict reader).
    #[error("invalid value `{}`: {reason}", Escaped(.value))]
    InvalidValue {
        /// The value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// Nesting deeper than the limit.
    #[error("JSON nested deeper than {0} levels")]
    TooDeep(usize),
    /// A list of strings (`policy-string`, `mx-host`) longer than the
    /// limit ([`crate::parse::MAX_STRINGS`]).
    #[error("more than {0} strings in one list")]
    TooManyStrings(usize),
    /// Bytes after the report.
    #[error("unexpected data after the report")]
    TrailingData,
}

/// An invalid report: what, where (byte offset and JSON Pointer path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}, at {}: {kind}", Escaped(if path.is_empty() { "/" } else { path }))]
pub struct ReportError {
    /// Byte offset in the JSON text.
    pub offset: usize,
    /// JSON Pointer of the member (`/policies/0/summary`).
    pub path: String,
    /// What is wrong.
    pub kind: ReportErrorKind,
}
