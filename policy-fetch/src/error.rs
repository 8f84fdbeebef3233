//! Error types.
//!
//! Each error says what failed and where; the lower-level error that caused
//! it is kept as its [`source`](std::error::Error::source) and is not
//! repeated in its own message. [`Chain`] writes an error with all its
//! sources on one line (`what: why: deeper why`), as log lines and
//! warnings want it.

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;

/// A boxed error from a lower layer (resolver, store backend, ...).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Setting up the resolver, the trust anchors or the TLS client failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The system's DNS configuration (`/etc/resolv.conf`) could not be read.
    #[error("DNS configuration")]
    DnsConfig(#[source] BoxError),
    /// The DNS resolver could not be built.
    #[error("DNS resolver")]
    Resolver(#[source] BoxError),
    /// The TLS client configuration could not be built.
    #[error("TLS configuration")]
    Tls(#[source] rustls::Error),
    /// A certificate was refused as a trust anchor.
    #[error("trust anchor refused")]
    TrustAnchor(#[source] rustls::Error),
    /// A certificate file could not be used.
    #[error("{}: {reason}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: &'static str,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

/// What the persistent store was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreOp {
    /// Opening or creating the store.
    Open,
    /// Reading every entry.
    Load,
    /// Writing an entry.
    Put,
    /// Removing an entry.
    Remove,
    /// Reading one entry ([`crate::store::Store::get`]).
    Get,
    /// Claiming or releasing a domain's discovery in a store shared by
    /// several nodes ([`crate::store::Store::claim_discovery`]).
    Claim,
}

impl StoreOp {
    /// A short name (`open`, `load`, `put`, `remove`, `get`, `claim`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Load => "load",
            Self::Put => "put",
            Self::Remove => "remove",
            Self::Get => "get",
            Self::Claim => "claim",
        }
    }
}

/// The persistent store failed.
#[derive(Debug, thiserror::Error)]
#[error("policy store: {} {}", op.as_str(), target)]
pub struct StoreError {
    /// What the store was doing.
    pub op: StoreOp,
    /// What it was doing it to: the file when opening, the domain when
    /// writing or removing, empty when loading.
    pub target: String,
    /// Why it failed (the backend's error).
    #[source]
    pub source: BoxError,
}

impl StoreError {
    /// A store error for `op` on `target`, caused by `source`.
    pub fn new(op: StoreOp, target: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self {
            op,
            target: target.into(),
            source: source.into(),
        }
    }
}

/// Writes an error and each of its sources on one line, separated by
/// `": "`.
///
/// ```
/// use policy_fetch::error::{Chain, StoreError, StoreOp};
///
/// let e = StoreError::new(StoreOp::Put, "example.com", "disk full");
/// assert_eq!(Chain(&e).to_string(), "policy store: put example.com: disk full");
/// ```
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
