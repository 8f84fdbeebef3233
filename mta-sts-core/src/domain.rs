//! Domain names as this workspace compares and stores them: the one home
//! of domain normalisation.
//!
//! - [`normalize`] validates a domain given by a person or a peer (a
//!   command-line argument, a configuration entry) and returns its
//!   canonical form: U-labels converted to A-labels, ASCII lower case, one
//!   trailing dot dropped.
//! - [`fold`] is the cheap form for names that are already syntactically
//!   valid or only need grouping (cache keys, report host names): one
//!   trailing dot dropped, ASCII lower case. It never fails and never
//!   converts U-labels (DEC-10 compares A-labels).
//!
//! ```
//! use mta_sts_core::domain::{self, DomainError};
//!
//! assert_eq!(domain::normalize("Example.COM.")?, "example.com");
//! assert_eq!(domain::normalize("bücher.example")?, "xn--bcher-kva.example");
//! assert!(matches!(domain::normalize("192.0.2.1"), Err(DomainError::Address { .. })));
//! assert_eq!(domain::fold("MX1.Example.NET."), "mx1.example.net");
//! # Ok::<(), DomainError>(())
//! ```

use std::borrow::Cow;

use crate::display::Escaped;

/// The longest domain name in presentation form without the trailing dot.
pub const MAX_NAME: usize = 253;

/// The longest label.
pub const MAX_LABEL: usize = 63;

/// Why a string is not a usable domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// Nothing (or only a dot) was given.
    #[error("invalid domain `{}`: empty", Escaped(.input))]
    Empty {
        /// The input.
        input: String,
    },
    /// The name has U-labels that are not valid IDNA.
    #[error("invalid domain `{}`: not a valid internationalised name", Escaped(.input))]
    Idna {
        /// The input.
        input: String,
    },
    /// The name is an IP address, not a domain.
    #[error("invalid domain `{}`: an IP address, not a domain name", Escaped(.input))]
    Address {
        /// The input.
        input: String,
    },
    /// The whole name is longer than [`MAX_NAME`].
    #[error("invalid domain `{}`: longer than {MAX_NAME} characters", Escaped(.input))]
    TooLong {
        /// The input.
        input: String,
    },
    /// A label is empty or longer than [`MAX_LABEL`].
    #[error(
        "invalid domain `{}`: label {index} must be 1 to {MAX_LABEL} characters",
        Escaped(.input)
    )]
    LabelLength {
        /// The input.
        input: String,
        /// Which label (0 = left-most).
        index: usize,
    },
    /// A label has a character other than a letter, a digit, `-` or `_`.
    #[error(
        "invalid domain `{}`: label {index} has `{}`; only letters, digits, `-` and `_` are allowed",
        Escaped(.input),
        Escaped(.found.encode_utf8(&mut [0; 4]))
    )]
    Character {
        /// The input.
        input: String,
        /// Which label (0 = left-most).
        index: usize,
        /// The first character that is not allowed.
        found: char,
    },
}

/// Validate `input` as a domain name and return its canonical form (see the
/// module docs). Labels are letters, digits, `-` and `_` (`_` so that
/// service names like `_mta-sts.example.com` pass), 1 to 63 bytes each,
/// 253 in all; an IP address is refused.
pub fn normalize(input: &str) -> Result<String, DomainError> {
    let owned = || input.to_owned();
    let trimmed = input.strip_suffix('.').unwrap_or(input);
    if trimmed.is_empty() {
        return Err(DomainError::Empty { input: owned() });
    }
    if trimmed.parse::<std::net::IpAddr>().is_ok()
        || trimmed
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .is_some_and(|t| t.parse::<std::net::IpAddr>().is_ok())
    {
        return Err(DomainError::Address { input: owned() });
    }
    let ascii =
        crate::mx::normalize_host(trimmed).ok_or_else(|| DomainError::Idna { input: owned() })?;
    let d = ascii.to_ascii_lowercase();
    if d.len() > MAX_NAME {
        return Err(DomainError::TooLong { input: owned() });
    }
    for (index, label) in d.split('.').enumerate() {
        if label.is_empty() || label.len() > MAX_LABEL {
            return Err(DomainError::LabelLength {
                input: owned(),
                index,
            });
        }
        if let Some(found) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(DomainError::Character {
                input: owned(),
                index,
                found,
            });
        }
    }
    Ok(d)
}

/// One trailing dot dropped, ASCII lower case: how already valid names are
/// keyed and grouped. Borrows when nothing changes.
pub fn fold(name: &str) -> Cow<'_, str> {
    let n = name.strip_suffix('.').unwrap_or(name);
    if n.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(n.to_ascii_lowercase())
    } else {
        Cow::Borrowed(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize("Example.COM.").unwrap(), "example.com");
        assert_eq!(
            normalize("_mta-sts.example.com").unwrap(),
            "_mta-sts.example.com"
        );
        assert_eq!(
            normalize("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(normalize(&"a".repeat(63)).unwrap(), "a".repeat(63));
    }

    #[test]
    fn refuses_with_the_reason() {
        let e = |s: &str| normalize(s).unwrap_err();
        assert!(matches!(e(""), DomainError::Empty { .. }));
        assert!(matches!(e("."), DomainError::Empty { .. }));
        assert!(matches!(e("1.2.3.4"), DomainError::Address { .. }));
        assert!(matches!(e("[::1]"), DomainError::Address { .. }));
        assert!(matches!(e("2001:db8::1"), DomainError::Address { .. }));
        assert!(matches!(
            e("a..b"),
            DomainError::LabelLength { index: 1, .. }
        ));
        assert!(matches!(
            e(&"a".repeat(64)),
            DomainError::LabelLength { index: 0, .. }
        ));
        let long = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63),
        ]
        .join(".");
        assert!(matches!(e(&long), DomainError::TooLong { .. }));
        assert!(matches!(
            e("exa mple.com"),
            DomainError::Character {
                index: 0,
                found: ' ',
                ..
            }
        ));
        assert!(matches!(
            e("x/y"),
            DomainError::Character { found: '/', .. }
        ));
        assert_eq!(
            e("a b.example").to_string(),
            "invalid domain `a b.example`: label 0 has ` `; only letters, digits, `-` and `_` are allowed"
        );
    }

    #[test]
    fn folds() {
        assert!(matches!(
            fold("mx.example.com"),
            Cow::Borrowed("mx.example.com")
        ));
        assert_eq!(fold("MX.Example.com."), "mx.example.com");
        assert_eq!(fold("."), "");
    }
}
