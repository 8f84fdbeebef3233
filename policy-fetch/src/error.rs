//! Error types.

/// Setting up the fetcher failed (bad configuration, unreadable CA file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// A configuration problem.
    #[error("{0}")]
    Config(String),
    /// A certificate file could not be read.
    #[error("{path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The persistent store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy store: {0}")]
pub struct StoreError(pub String);
