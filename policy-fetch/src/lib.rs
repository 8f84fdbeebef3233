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
