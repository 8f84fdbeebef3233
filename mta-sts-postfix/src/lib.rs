//! # mta-sts-postfix
//!
//! MTA-STS for Postfix: a `smtp_tls_policy_maps` socketmap daemon
//! (`mtasts daemon`), byte-compatible with postfix-mta-sts-resolver,
//! answering from the `policy-fetch` policy service; and TLS-RPT for
//! Postfix 3.10+: the collector of its libtlsrpt datagrams (`mtasts
//! tlsrpt collect`), which keeps one partial aggregate per UTC day on
//! disk for the reporter.
//!
//! - [`socketmap`]: the protocol without IO — netstrings, requests, next-hop
//!   keys, the replies Postfix expects.
//! - [`config`]: the daemon's TOML configuration.
//! - [`daemon`] (Unix only): TCP and Unix-domain listeners, pipelined
//!   lookups, reload and graceful shutdown, the `lookup` log event and the
//!   Prometheus `/metrics` listener.
//! - [`metrics`] (Unix only): the bounds of the metrics listener.
//! - [`cache`]: the persistent policy cache of a stopped daemon, for
//!   `mtasts daemon cache list | show | flush`.
//! - [`collector`] (Unix only): the TLS-RPT datagram collector — an
//!   AF_UNIX datagram socket, a crash-safe journal, per-day aggregates.
//! - [`tlsrpt_state`]: the TLS-RPT state directory the collector writes
//!   and the reporter reads (node name, journal, per-node partials of
//!   each UTC day, reports).
//! - [`reporter`]: the TLS-RPT reporter (`mtasts tlsrpt send`) — merge
//!   the nodes' partials of a day, render one report per policy domain,
//!   sign the mail, deliver to every destination with retries.
//!
//! The socketmap answer Postfix gets for a domain with an `enforce` policy
//! (no IO needed for this part):
//!
//! ```
//! use mta_sts_core::Policy;
//! use mta_sts_postfix::socketmap::{Key, ZoneSettings, normalize_key, policy_reply};
//!
//! let Key::Domain(domain) = normalize_key("[Example.COM.]:25") else { unreachable!() };
//! assert_eq!(domain, "example.com");
//! let policy = Policy::parse("version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 86400\n")?;
//! let reply = policy_reply(&domain, Some(&policy), &ZoneSettings::default());
//! assert_eq!(reply.to_string(), "OK secure match=mx1.example.com:.example.net servername=hostname");
//! # Ok::<(), Box<dyn std::error::Error>>(())
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

pub mod cache;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub mod collector;
pub mod config;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub mod daemon;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub mod metrics;
pub mod reporter;
pub mod socketmap;
pub mod tlsrpt_state;

pub use config::Config;
#[cfg(unix)]
pub use daemon::{Daemon, DaemonHandle};

/// The crate README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
