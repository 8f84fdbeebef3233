//! # mta-sts-check
//!
//! The end-to-end check of a domain's MTA-STS and TLS-RPT setup behind
//! `mtasts check`, in two halves:
//!
//! - [`assess`]: pure judgement. It takes what DNS, HTTPS and SMTP returned
//!   ([`Observations`]) and gives the verdicts and the findings, each with
//!   its fix ([`CheckReport`]). No IO: unit-testable without servers.
//! - [`check_domain`]: the IO — the `_mta-sts` and `_smtp._tls` lookups,
//!   the policy fetch (through `policy-fetch`) and a TLS handshake with the
//!   policy host for its certificate, MX and TLSA lookups and an SMTP
//!   STARTTLS probe of every MX host ([`smtp`]) — then [`assess`].
//!   [`Checker`] does the same for many domains with one setup and
//!   bounded concurrency.
//!
//! ```
//! use mta_sts_check::{Applied, Observations, assess};
//! use mta_sts_core::discovery::TxtAnswer;
//!
//! // A domain without an `_mta-sts` record, no MX, no TLS-RPT record.
//! let seen = Observations::new("example.com")
//!     .with_sts_txt(TxtAnswer::NoRecord)
//!     .with_tlsrpt_txt(TxtAnswer::NoRecord);
//! let report = assess(seen);
//! assert_eq!(report.applied, Applied::NoPolicy);
//! assert!(report.findings.iter().any(|f| f.code == "sts-record-absent"));
//! ```
//!
//! Requirement IDs such as `STS-POL-03` and decisions such as `DEC-05` in
//! these docs refer to the [conformance checklist](https://github.com/mta-sts-rs/mta-sts-rs/blob/main/docs/conformance.md).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod check;
pub mod smtp;

pub use check::{
    Applied, CheckError, CheckOptions, CheckReport, Checker, Finding, Observations, Summary,
    assess, check_domain,
};

/// The crate README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
