//! Findings: what a check found, how serious it is and how to fix it — the
//! one shape shared by the policy lint ([`crate::lint`]), the domain check
//! (`mta-sts-check`) and the command line.
//!
//! Each producer has its own code enum (`LintCode`, the check's
//! `CheckCode`): a closed, documented set of stable kebab-case identifiers
//! that scripts can match on.
//!
//! ```
//! use mta_sts_core::Policy;
//! use mta_sts_core::finding::Severity;
//! use mta_sts_core::lint::{LintCode, lint};
//!
//! let p = Policy::parse("version: STSv1\nmode: testing\nmx: mx.example.net\nmax_age: 86400\n")?;
//! let findings = lint(&p);
//! let f = findings.iter().find(|f| f.code == LintCode::TestingMode).unwrap();
//! assert_eq!(f.severity, Severity::Warning);
//! assert_eq!(f.code.as_str(), "testing-mode");
//! assert!(!f.remediation.is_empty());
//! # Ok::<(), mta_sts_core::PolicyError>(())
//! ```

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Probably not what you want.
    Warning,
    /// It will not work as intended (senders fail or skip the policy).
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding, with its code from the producer's code enum `C`.
///
/// Serializes as `{"severity", "code", "message", "remediation"}` with the
/// code as its kebab-case string.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding<C> {
    /// How serious it is.
    pub severity: Severity,
    /// What kind of finding it is (stable).
    pub code: C,
    /// What was found.
    pub message: String,
    /// How to fix it (empty when there is nothing to do).
    pub remediation: String,
}

/// Declares a code enum: variants with their stable kebab-case strings,
/// `as_str()`, `ALL`, `Display`, `FromStr` and serde `Serialize` and
/// `Deserialize` as the string. Used for finding and warning codes across the workspace.
#[doc(hidden)]
#[macro_export]
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        $vis enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant, )+
        }

        impl $name {
            /// Every code, in declaration order.
            pub const ALL: &'static [Self] = &[ $( Self::$variant, )+ ];

            /// The stable kebab-case string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> ::std::result::Result<Self, ()> {
                match s {
                    $( $text => Ok(Self::$variant), )+
                    _ => Err(()),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::string::String as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(|()| {
                    <D::Error as ::serde::de::Error>::custom(::std::format!(
                        "unknown {} `{}`",
                        ::std::stringify!($name),
                        s
                    ))
                })
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
