//! # policy-fetch
//!
//! Asynchronous MTA-STS discovery for sending MTAs and operators: DNS
//! through hickory-resolver, HTTPS through rustls and hyper (no OpenSSL),
//! and a policy cache that refreshes before expiry and survives restarts.
//!
//! Requirement IDs such as `STS-FETCH-09` and decisions such as `DEC-28`
//! in these docs refer to the
//! [conformance checklist](https://github.com/mta-sts-rs/mta-sts-rs/blob/main/docs/conformance.md).
//!
//! All decisions come from `mta-sts-core`; this crate does the IO. The
//! domain check (`mtasts check`) lives in `mta-sts-check`, the Postfix
//! socketmap daemon in `mta-sts-postfix`.
//!
//! # Features
//!
//! - `redb` (default): [`store::RedbStore`], the embedded on-disk store.
//!   Without it, only [`store::MemoryStore`] and your own [`store::Store`]
//!   implementations are available.
//! - `postgres`: `pg_store::PgStore`, a store in PostgreSQL that several
//!   MTAs share: a policy one of them fetched serves all, and one node at a
//!   time discovers a domain.
//! - `report-delivery` (default): `report_delivery`, sending TLS-RPT
//!   reports to the `rua` destinations of the `_smtp._tls` record (HTTPS
//!   POST, mail through an SMTP relay with lettre) with retries.
//!
//! The service answers from memory without IO while a policy is fresh.
//! This needs no network:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::SystemTime;
//! use policy_fetch::{Dns, FetchConfig, MtaSts, PolicyClient, Roots, Settings, store::MemoryStore};
//!
//! let dns = Dns::with_server("127.0.0.1:53".parse()?)?;
//! let http = PolicyClient::new(dns.clone(), &Roots::empty(), FetchConfig::default())?;
//! let (sts, skipped) = MtaSts::new(dns, http, Arc::new(MemoryStore::new()), Settings::default())?;
//! assert!(skipped.is_empty());
//! assert!(sts.fresh("example.com", SystemTime::now()).is_none()); // nothing cached yet
//! # Ok(()) }
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
//!            cache action ─► memory + Store (redb file, off the async workers)
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod dns;
pub mod error;
pub mod https;
pub mod overrides;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod pg_store;
#[cfg(feature = "report-delivery")]
#[cfg_attr(docsrs, doc(cfg(feature = "report-delivery")))]
pub mod report_delivery;
pub mod service;
pub mod store;

pub use dns::Dns;
pub use error::{FetchError, StoreError};
/// The hickory resolver this crate is built on, for
/// [`Dns::from_resolver`].
pub use hickory_resolver;
pub use https::{FetchConfig, PolicyClient, Roots};
pub use overrides::Overrides;
pub use service::{MtaSts, PolicyLookup, Settings};

/// The crate README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
