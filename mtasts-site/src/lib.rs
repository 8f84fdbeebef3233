//! Host MTA-STS for many domains in one process: what hosted MTA-STS
//! services sell, as a library and behind `mtasts domain` and
//! `mtasts serve`.
//!
//! - [`store`]: the site store (domains, settings, policy history,
//!   certificates, ACME state): SQLite under `--state DIR` or PostgreSQL
//!   shared by several hosting nodes.
//! - [`domains`]: add, change and remove hosted domains; every change of
//!   the served body gets a new policy id; the DNS records to publish.
//! - [`serve`]: the HTTPS policy server (SNI, HTTP/1.1 and HTTP/2), the
//!   ACME challenge listener and the metrics listener.
//! - [`certs`]: the certificates presented by SNI.
//! - [`acme`]: certificates obtained and renewed over ACME (RFC 8555).
//! - [`pem`]: a rustls certificate and key from PEM files or the store.
//! - [`verify`] and [`promote`]: live DNS against the site, and the safe
//!   path from `testing` to `enforce`.
//!
//! The pure parts (id scheme, records, removal timeline) are in
//! [`mta_sts_core::hosting`].
//!
//! # Example
//!
//! Host a domain in an embedded store and print the DNS records its
//! owner publishes:
//!
//! ```
//! use mtasts_site::domains::{self, AddOptions};
//! use mtasts_site::sqlite::SqliteStore;
//!
//! let dir = std::env::temp_dir().join(format!("mtasts-site-example-{}", std::process::id()));
//! let store = SqliteStore::open(&dir)?;
//! let now = 1_796_428_800; // 2026-12-05T00:00:00Z
//! let added = domains::add(
//!     &store,
//!     "example.com",
//!     &AddOptions { mx: vec!["mx1.example.com".into()], ..AddOptions::default() },
//!     now,
//! )?;
//! assert_eq!(added.domain.current.id, "20261205000000000001");
//! assert_eq!(
//!     added.domain.current.body,
//!     "version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmax_age: 604800\r\n"
//! );
//! let records = domains::records(&store, "example.com", Some("sts.host.example.net"), now)?;
//! let lines: Vec<String> = records.records.iter().map(|r| r.zone_line()).collect();
//! assert_eq!(
//!     lines,
//!     [
//!         "_mta-sts.example.com. IN TXT \"v=STSv1; id=20261205000000000001\"",
//!         "mta-sts.example.com. IN CNAME sts.host.example.net.",
//!         "_smtp._tls.example.com. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\"",
//!     ]
//! );
//! # drop(store);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod acme;
pub mod alerts;
pub mod certs;
pub mod domains;
pub mod inbox;
pub mod pem;
pub mod pg;
pub mod promote;
pub mod serve;
pub mod sqlite;
pub mod store;
pub mod verify;
pub mod web;

/// An error and its sources, `: `-separated, for logs and messages: the
/// errors of this crate do not repeat their sources in their own text.
pub use policy_fetch::error::Chain;
