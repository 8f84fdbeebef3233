//! The shape every reader of the workspace returns: [`Strictness`] says
//! how closely the input must follow the RFC, [`Parsed`] carries the value
//! with the warnings of what a lenient read accepted.
//!
//! The same two types serve policies ([`crate::Policy::parse_with`]),
//! TLS-RPT reports and report inputs (`tlsrpt-core`).
//!
//! ```
//! use mta_sts_core::{Parsed, Policy, PolicyWarning, Strictness};
//!
//! let body = "version: STSv1\nmode: testing\nmx: mx.example.net\nmax_age: 99999999\n";
//! let read: Parsed<Policy<'_>, PolicyWarning> = Policy::parse_with(body, Strictness::Lenient)?;
//! assert_eq!(read.value.max_age(), 31_557_600);
//! assert_eq!(read.warnings.len(), 1);
//! assert!(Policy::parse_with(body, Strictness::Strict).is_err());
//! # Ok::<(), mta_sts_core::PolicyError>(())
//! ```

/// How closely input must follow the RFC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strictness {
    /// The RFC's grammar and schema: any deviation is an error (for
    /// validators and publishers checking their own output).
    Strict,
    /// What real senders and publishers produce is accepted where it can be
    /// read without guessing, and every such acceptance is a warning (for
    /// software that must interoperate: sending MTAs, report receivers).
    #[default]
    Lenient,
}

impl Strictness {
    /// `true` for [`Strictness::Strict`].
    pub fn is_strict(self) -> bool {
        self == Self::Strict
    }

    /// `strict` or `lenient`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Lenient => "lenient",
        }
    }
}

impl std::fmt::Display for Strictness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value read from input, with what the reader accepted although it is
/// not RFC-conformant (always empty after a strict read, except for
/// conditions the RFC itself says to ignore, such as repeated fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T, W> {
    /// The value.
    pub value: T,
    /// The warnings, in input order.
    pub warnings: Vec<W>,
}

impl<T, W> Parsed<T, W> {
    /// A value without warnings.
    pub fn clean(value: T) -> Self {
        Self {
            value,
            warnings: Vec::new(),
        }
    }

    /// The value, dropping the warnings.
    pub fn into_value(self) -> T {
        self.value
    }

    /// Apply `f` to the value, keeping the warnings.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U, W> {
        Parsed {
            value: f(self.value),
            warnings: self.warnings,
        }
    }
}
