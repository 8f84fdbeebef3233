//! Real servers on 127.0.0.1 for integration tests of MTA-STS discovery.
//!
//! Everything binds to loopback only, on random ports, and runs on the current tokio
//! runtime until the server value is dropped:
//!
//! - [`TestCa`] — a throw-away CA issuing [`Leaf`] certificates (valid, expired,
//!   not-yet-valid, CN-only, or self-signed).
//! - [`DnsServer`] — authoritative DNS (UDP + TCP, same port) for [`Zones`], with names
//!   that answer SERVFAIL or never answer.
//! - [`HttpsServer`] — HTTPS with per-SNI certificates ([`CertSet`]) and canned
//!   [`Routes`]; records every request ([`RecordedRequest`]) and handshake ([`Handshake`]).
//! - [`SmtpServer`] — ESMTP with STARTTLS for MX probes; records [`SmtpSession`]s.
//!
//! TLS configurations are built with the *ring* provider explicitly, so no process-wide
//! rustls `CryptoProvider` is installed or needed.
#![forbid(unsafe_code)]

mod ca;
mod dns;
mod https;
mod smtp;
mod tls;

pub use ca::{CA_NAME, Leaf, TestCa};
pub use dns::{DnsQuery, DnsServer, TTL, Zones};
pub use https::{HttpsServer, POLICY_PATH, RecordedRequest, Response, Routes};
pub use smtp::{SmtpOptions, SmtpServer, SmtpSession};
pub use tls::{CertSet, Handshake};
