//! # policy-fetch
//!
//! Asynchronous MTA-STS discovery for sending MTAs and operators: DNS
//! through hickory-resolver, HTTPS through rustls and hyper (no OpenSSL),
//! a policy cache that refreshes before expiry and survives restarts, the
//! end-to-end domain check behind `mtasts check`, and a Postfix
//! `smtp_tls_policy_maps` socketmap daemon.
//!
//! All decisions come from `mta-sts-core`; this crate does the IO.
//!
//! The socketmap answer Postfix gets for a domain with an `enforce` policy
//! (no IO needed for this part):
//!
//! ```
//! use mta_sts_core::Policy;
//! use policy_fetch::socketmap::{Key, ZoneSettings, normalize_key, policy_reply};
//!
//! let Key::Domain(domain) = normalize_key("[Example.COM.]:25") else { unreachable!() };
//! assert_eq!(domain, "example.com");
//! let policy = Policy::parse("version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 86400\n")?;
//! let reply = policy_reply(&domain, Some(&policy), &ZoneSettings::default());
//! assert_eq!(reply.to_string(), "OK secure match=mx1.example.com:.example.net servername=hostname");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Discovery for a delivery (needs the network):
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use policy_fetch::{Dns, FetchConfig, MtaSts, PolicyClient, Roots, Settings, store::MemoryStore};
//!
//! let dns = Dns::system()?;
//! let http = PolicyClient::new(dns.clone(), &Roots::system(), FetchConfig::default())?;
//! let (sts, _) = MtaSts::new(dns, http, Arc::new(MemoryStore::new()), Settings::default())?;
//! let lookup = sts.lookup("example.com").await;
//! if let Some(p) = &lookup.policy {
//!     println!("mode {} ({} patterns)", p.policy.mode(), p.policy.mx().len());
//! }
//! # Ok(()) }
//! ```
//!
//! ```text
//!   lookup(domain) ──► fresh in memory? ── yes ──► policy (no IO)
//!                          │ no
//!                          ▼
//!       coalesce per domain ─► Discovery (mta-sts-core) ◄─► Dns::txt / PolicyClient::fetch
//!                          │
//!                          ▼
//!            cache action ─► memory + Store (redb file)
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod check;
pub mod config;
pub mod daemon;
pub mod dns;
pub mod error;
pub mod https;
pub mod overrides;
pub mod service;
pub mod smtp;
pub mod socketmap;
pub mod store;

pub use check::{CheckOptions, CheckReport, check_domain};
pub use config::Config;
pub use daemon::{Daemon, DaemonHandle};
pub use dns::Dns;
pub use error::{FetchError, StoreError};
pub use https::{FetchConfig, PolicyClient, Roots};
pub use overrides::Overrides;
pub use service::{MtaSts, PolicyLookup, Settings};

/// The crate README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
