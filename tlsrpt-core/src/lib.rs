//! # tlsrpt-core
//!
//! A sans-IO implementation of **SMTP TLS Reporting** (RFC 8460): the
//! `_smtp._tls` TXT record, the JSON report model with strict and lenient
//! readers and a strict writer, and the inputs reports arrive in.
//!
//! Requirement IDs such as `RPT-JSON-07` and decisions such as `DEC-16` in
//! these docs refer to the
//! [conformance checklist](https://github.com/mta-sts-rs/mta-sts-rs/blob/main/docs/conformance.md).
//!
//! ```
//! use tlsrpt_core::{Report, TlsRptRecord};
//!
//! let record = TlsRptRecord::parse("v=TLSRPTv1; rua=mailto:tlsrpt@example.com")?;
//! assert!(record.is_usable());
//!
//! let json = br#"{
//!   "organization-name": "Company-X",
//!   "date-range": {"start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z"},
//!   "contact-info": "sts-reporting@company-x.example",
//!   "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
//!   "policies": [{
//!     "policy": {"policy-type": "sts", "policy-domain": "company-y.example", "mx-host": ["*.mail.company-y.example"],
//!                "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"]},
//!     "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 0},
//!     "failure-details": []
//!   }]
//! }"#;
//! let parsed = Report::parse_lenient(json)?;
//! assert!(parsed.warnings.is_empty());
//! assert_eq!(parsed.value.successful_sessions(), 5326);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Data flow
//!
//! ```text
//!  DNS TXT answer ─► TlsRptRecord::select ─► rua URIs (mailto:, https:)
//!
//!  JSON / gzip / e-mail ─► input::extract ─► Report::parse_lenient ─► Report + warnings
//!                                                                     │
//!                                  summary / alerts / export ◄────────┘
//!  Report ─► Report::to_json (strict RFC form)
//!
//!  sessions (session::Outcome) ──────────► session::DayAggregate ─► finish ─► one Report per policy domain
//!  libtlsrpt datagrams ─► datagram::decode ─┘  ▲ to_json / from_json / merge       │
//!                                             └── partials of other MTA nodes      ▼
//!                              outgoing::render (JSON, gzip, file name) ─► outgoing::render_email
//! ```
//!
//! The sending side, for MTA authors: record every TLS session with
//! [`session::DayAggregate::record`] under its [`session::PolicyKey`],
//! and after UTC midnight [`session::DayAggregate::finish`] gives the
//! day's reports (the [`session`] module docs show it in a few lines);
//! [`datagram`] reads what Postfix sends through libtlsrpt, [`outgoing`]
//! writes the report for delivery.
//!
//! Feature `dkim` (off by default) adds the `dkim` module: DKIM signing
//! (`rsa-sha256`, `ed25519-sha256`) of report e-mail, as RFC 8460 3
//! requires, and the key record to publish.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod alert;
pub mod datagram;
#[cfg(feature = "dkim")]
#[cfg_attr(docsrs, doc(cfg(feature = "dkim")))]
pub mod dkim;
pub mod error;
pub mod export;
pub mod filename;
pub mod input;
pub mod mail;
pub mod outgoing;
pub mod parse;
pub mod record;
#[cfg(any(test, feature = "reference"))]
#[cfg_attr(docsrs, doc(cfg(feature = "reference")))]
pub mod reference;
pub mod report;
pub mod session;
pub mod summary;
pub mod time;

pub use alert::{Alert, Alerts, Readiness, ReadinessTracker, enforce_readiness};
pub use error::{RecordError, ReportError, ReportErrorKind, SelectError};
pub use export::{CsvWriter, NdjsonWriter};
pub use filename::{FilenameError, ReportFilename};
pub use input::{
    Extracted, InputError, InputKind, InputWarning, InputWarningCode, Limits, ReadOptions,
    ReportInput,
};
pub use mail::MailInfo;
pub use mta_sts_core::{ResultType, Strictness};
pub use parse::{JsonPointer, Parsed, ReportWarning, WarningCode};
pub use record::TlsRptRecord;
pub use report::{FailureDetail, Ip, PolicyInfo, PolicyResult, PolicyType, Report};
pub use summary::Aggregator;

/// The crate README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
