//! # mta-sts-core
//!
//! A sans-IO implementation of **MTA-STS** (RFC 8461): the `_mta-sts` TXT
//! record, the policy file, MX host patterns, certificate identity and
//! validity checks, the discovery/cache state machine and enforcement
//! decisions. No IO, no clock, no async: the caller passes in bytes and
//! `now`.
//!
//! Requirement IDs such as `STS-POL-03` and decisions such as `DEC-05` in
//! these docs refer to the
//! [conformance checklist](https://github.com/mta-sts-rs/mta-sts-rs/blob/main/docs/conformance.md).
//!
//! ```
//! use mta_sts_core::{Mode, Policy, StsRecord};
//!
//! // The `_mta-sts` TXT record (RFC 8461 Appendix A).
//! let record = StsRecord::parse("v=STSv1; id=20160831085700Z;")?;
//! assert_eq!(record.id(), "20160831085700Z");
//!
//! // The policy body served at https://mta-sts.example.com/.well-known/mta-sts.txt
//! let body = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n";
//! let policy = Policy::parse(body)?;
//! assert_eq!(policy.mode(), Mode::Enforce);
//! assert!(policy.matches_mx("mx2.example.net."));
//! assert!(!policy.matches_mx("evil.example.org"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Data flow
//!
//! ```text
//!  DNS TXT answer ──► txt::select ──► StsRecord ──┐
//!                                                 ├─► discovery::Discovery ──► Outcome
//!  HTTPS response ──► Policy::parse[_lenient] ────┘        ▲   (policy to apply,
//!                                                          │    cache action,
//!  cache store ◄──── CacheEntry (serde) ◄──────────────────┘    TLS-RPT failure)
//!
//!  Outcome.policy + MX host + TLS result ──► enforce::decide ──► deliver / try next MX
//!  MX certificate (DER) + host + now ──────► cert::check_certificate ──► result type
//! ```
//!
//! ## Which entry point
//!
//! - Reading a policy you fetched as a sender: [`Policy::parse_lenient`]
//!   (accepts what the world serves, with warnings); as a validator:
//!   [`Policy::parse`] (the RFC grammar).
//! - Writing a policy: [`Policy::builder`], then `to_string()`.
//! - The TXT record of a DNS answer: [`StsRecord::select`].
//! - Per delivery: [`discovery::Discovery`], then [`enforce::decide`].
//!
//! Where RFC 8461 is ambiguous, the crate follows the decisions DEC-01 to
//! DEC-12 of the [conformance checklist](https://github.com/mta-sts-rs/mta-sts-rs/blob/main/docs/conformance.md);
//! the crate README lists them.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "cert")]
#[cfg_attr(docsrs, doc(cfg(feature = "cert")))]
pub mod cert;
pub mod discovery;
pub mod display;
pub mod domain;
pub mod enforce;
pub mod error;
pub mod finding;
pub mod hosting;
pub mod lint;
pub mod mx;
pub mod parsed;
pub mod policy;
pub mod record;
pub mod result;
pub mod time;
pub mod txt;

#[cfg(feature = "cert")]
pub use error::CertError;
pub use error::{MxError, PolicyError, RecordError, SelectError};
pub use mx::MxPattern;
pub use parsed::{Parsed, Strictness};
pub use policy::{Lenient, Mode, Policy, PolicyBuilder, PolicyWarning, PolicyWarningCode};
pub use record::StsRecord;
pub use result::ResultType;

/// The crate README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
