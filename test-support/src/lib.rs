//! Real servers on 127.0.0.1 for integration tests of MTA-STS discovery.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use test_support::{DnsServer, HttpsServer, Routes, TestCa, Zones};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let ca = TestCa::new();
//! let leaf = ca.issue(&["mta-sts.example.test"]);
//! assert_eq!(leaf.chain.len(), 2); // leaf, then the CA
//! let zones = Zones::new()
//!     .txt("_mta-sts.example.test", &["v=STSv1; id=1"])
//!     .a("mta-sts.example.test", Ipv4Addr::LOCALHOST);
//! let dns = DnsServer::start(zones).await?;
//! let https = HttpsServer::start(&leaf, Routes::new().policy("example.test", "version: STSv1\nmode: none\nmax_age: 1\n")).await?;
//! assert!(dns.addr().ip().is_loopback() && https.addr().ip().is_loopback());
//! # Ok(()) }
//! ```
//!
//! Everything binds to loopback only, on random ports, and runs on the current tokio
//! runtime until the server value is dropped:
//!
//! - [`TestCa`] — a throw-away CA issuing [`Leaf`] certificates (valid, expired,
//!   not-yet-valid, CN-only, or self-signed).
//! - [`DnsServer`] — authoritative DNS (UDP + TCP, same port) for [`Zones`] (TXT, MX,
//!   A/AAAA, CNAME, TLSA), with names that answer SERVFAIL, never answer, or carry the
//!   AD bit.
//! - [`HttpsServer`] — HTTPS with per-SNI certificates ([`CertSet`]) and canned
//!   [`Routes`]; records every request ([`RecordedRequest`]) and handshake ([`Handshake`]).
//! - [`SmtpServer`] — ESMTP with STARTTLS for MX probes (optionally slow to greet),
//!   and MAIL/RCPT/DATA (optionally AUTH PLAIN, canned RCPT replies) for delivery
//!   tests; records [`SmtpSession`]s, [`ReceivedMessage`]s and the most connections
//!   open at once.
//! - [`dkimpy`] — dkimpy as an independent DKIM verifier, its key queries answered by
//!   a [`DnsServer`].
//! - [`pg::TestDb`] — a PostgreSQL database of its own for one test on the server at
//!   127.0.0.1:5432, dropped with the guard.
//! - [`dovecot::Dovecot`] — Debian's Dovecot IMAP server (implicit TLS, one user, a
//!   Maildir) in a temporary directory for one test, killed with the guard.
//! - [`pebble::Pebble`] — Debian's `pebble` ACME test server on loopback ports,
//!   validating challenges against the test's listeners, killed with the guard.
//! - [`browser::Browser`] — headless Chromium driven over WebDriver by Debian's
//!   `chromedriver` on a free loopback port, stopped with the guard.
//! - [`TempDir`] — a directory of its own under the system temp dir for one test
//!   (or a path not created yet), removed with the guard.
//!
//! TLS configurations are built with the *ring* provider explicitly, so no process-wide
//! rustls `CryptoProvider` is installed or needed.
#![forbid(unsafe_code)]

pub mod browser;
mod ca;
pub mod dkimpy;
mod dns;
pub mod dovecot;
mod https;
pub mod pebble;
pub mod pg;
mod smtp;
mod tempdir;
mod tls;
mod watchdog;

pub use ca::{CA_NAME, Leaf, TestCa};
pub use dns::{DnsQuery, DnsServer, TTL, Zones};
pub use https::{HttpsServer, MAX_REQUEST_BODY, POLICY_PATH, RecordedRequest, Response, Routes};
pub use smtp::{MAX_MESSAGE, ReceivedMessage, SmtpOptions, SmtpServer, SmtpSession, read_reply};
pub use tempdir::TempDir;
pub use tls::{CertSet, Handshake};
