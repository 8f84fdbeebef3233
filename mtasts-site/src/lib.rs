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
//! - [`verify`] and [`promote`]: live DNS against the site, and the safe
//!   path from `testing` to `enforce`.
//!
//! The pure parts (id scheme, records, removal timeline) are in
//! [`mta_sts_core::hosting`].
#![forbid(unsafe_code)]

pub mod acme;
pub mod certs;
pub mod domains;
pub mod pg;
pub mod promote;
pub mod serve;
pub mod sqlite;
pub mod store;
pub mod verify;
