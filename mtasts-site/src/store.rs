//! The site store: hosted domains with their settings and policy history,
//! site settings, certificates and ACME state, behind one trait with two
//! backends of the same schema and behaviour: [`crate::sqlite::SqliteStore`]
//! (one file under `--state DIR`, the embedded default) and
//! [`crate::pg::PgSiteStore`] (PostgreSQL, for several hosting nodes).
//!
//! The trait is blocking: the command line calls it directly; the server
//! calls it from a refresher thread (or `spawn_blocking`), never on the
//! request path, which reads an in-memory snapshot.
//!
//! Every write is one transaction and bumps the store's
//! [`generation`](SiteStore::generation), so a serving node that polls it
//! sees every change made by any node.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mta_sts_core::Mode;

/// The settings of a hosted domain, as given to `mtasts domain add|set`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DomainSettings {
    /// The policy mode.
    pub mode: Mode,
    /// The `mx` patterns, in the order given.
    pub mx: Vec<String>,
    /// The policy's `max_age` in seconds.
    pub max_age: u64,
    /// The TLS-RPT `rua` URIs of the `_smtp._tls` record.
    pub rua: Vec<String>,
}

/// One published policy body of a domain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyVersion {
    /// 1 for the first body of the domain, then one more per change.
    pub version: u64,
    /// The policy id of this body (see [`mta_sts_core::hosting::policy_id`]).
    pub id: String,
    /// The body served at `/.well-known/mta-sts.txt` (CRLF line endings).
    pub body: String,
    /// The body's mode.
    pub mode: Mode,
    /// When this body was stored (Unix seconds, UTC).
    pub created_at: i64,
}

/// A hosted domain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Domain {
    /// The domain (lower case A-labels, no final dot).
    pub name: String,
    /// Its current settings.
    pub settings: DomainSettings,
    /// The newest policy body (served as soon as a node sees it).
    pub current: PolicyVersion,
    /// When the domain entered its current mode (Unix seconds).
    pub mode_since: i64,
    /// When `add` stored the domain (Unix seconds).
    pub created_at: i64,
    /// Set by `remove`: the domain serves `mode: none` until then and is
    /// deleted afterwards (RFC 8461 section 8.3).
    pub removing_until: Option<i64>,
}

/// What `add`/`update` store: the settings and the body rendered from
/// them. The store compares `body` with the current body and makes a new
/// [`PolicyVersion`] (new id) only when they differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    /// The settings to store.
    pub settings: DomainSettings,
    /// The policy body rendered from `settings`.
    pub body: String,
    /// See [`Domain::removing_until`]; `None` clears it.
    pub removing_until: Option<i64>,
}

/// A certificate kept in the store (obtained over ACME).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    /// The host name it is for (`mta-sts.example.com`).
    pub host: String,
    /// The PEM chain, leaf first.
    pub chain_pem: String,
    /// The PEM private key (PKCS#8).
    pub key_pem: String,
    /// The leaf's notAfter (Unix seconds).
    pub not_after: i64,
    /// When it was stored (Unix seconds).
    pub updated_at: i64,
}

/// The ACME state of one host name: failures and when to try again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderStatus {
    /// Consecutive failed orders (0 after a success).
    pub failures: u32,
    /// Do not order before this time (Unix seconds; back-off).
    pub next_attempt: i64,
    /// The last failure, for `show` and the logs.
    pub last_error: Option<String>,
}

/// Where the site store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `--state DIR`: `DIR/site.sqlite3`.
    State(PathBuf),
    /// `--database URL`: a PostgreSQL connection string.
    Database(String),
}

impl fmt::Debug for StoreLocation {
    /// The database URL is not printed: it may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::State(p) => f.debug_tuple("State").field(p).finish(),
            Self::Database(_) => f.write_str("Database(..)"),
        }
    }
}

/// Open the store at `location`, creating the file or the tables when
/// missing.
///
/// # Errors
///
/// [`StoreError`] when the file cannot be opened or the server cannot be
/// reached.
pub fn open(location: &StoreLocation) -> Result<Arc<dyn SiteStore>, StoreError> {
    match location {
        StoreLocation::State(dir) => Ok(Arc::new(crate::sqlite::SqliteStore::open(dir)?)),
        StoreLocation::Database(url) => Ok(Arc::new(crate::pg::PgSiteStore::connect(url)?)),
    }
}

/// The file name of the embedded store under `--state DIR`.
pub const SQLITE_FILE: &str = "site.sqlite3";

/// The path of the embedded store under `dir`.
#[must_use]
pub fn sqlite_path(dir: &Path) -> PathBuf {
    dir.join(SQLITE_FILE)
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `add` of a domain that is already hosted.
    #[error("{0} is already hosted")]
    Exists(String),
    /// An operation on a domain that is not hosted.
    #[error("{0} is not hosted here")]
    NotFound(String),
    /// The SQLite file failed.
    #[error("site store {path}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The PostgreSQL server failed or could not be reached.
    #[error("site database")]
    Postgres(#[source] postgres::Error),
    /// A file or directory of the store could not be created or read.
    #[error("site store {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A stored value could not be read back (a damaged or newer store).
    #[error("site store holds an unreadable {what}: {detail}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

/// The site store. Both backends behave the same (the same tests run
/// against both).
pub trait SiteStore: Send + Sync + fmt::Debug {
    /// Store a new domain with its first policy version (version 1, id
    /// from [`mta_sts_core::hosting::policy_id`]); `mode_since` and
    /// `created_at` are `now`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Exists`] when the domain is already hosted.
    fn add_domain(&self, name: &str, new: &NewPolicy, now: i64) -> Result<Domain, StoreError>;

    /// Replace a domain's settings in one transaction. When `new.body`
    /// differs from the current body a new version is stored with the
    /// next version number and a new id made at the later of `now` and
    /// the current version's `created_at`; otherwise the current version
    /// stays. `mode_since` becomes `now` when the mode changes. Returns
    /// the domain as stored and whether a new version was made.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when the domain is not hosted.
    fn update_domain(
        &self,
        name: &str,
        new: &NewPolicy,
        now: i64,
    ) -> Result<(Domain, bool), StoreError>;

    /// Delete a domain, its history and its ACME state (certificates
    /// stay until they expire, so a re-added domain is served at once).
    /// Returns whether it was hosted.
    fn delete_domain(&self, name: &str) -> Result<bool, StoreError>;

    /// Delete every domain whose `removing_until` is before `now`;
    /// returns their names.
    fn purge_removed(&self, now: i64) -> Result<Vec<String>, StoreError>;

    /// One domain.
    fn domain(&self, name: &str) -> Result<Option<Domain>, StoreError>;

    /// Every domain, ordered by name.
    fn domains(&self) -> Result<Vec<Domain>, StoreError>;

    /// Every policy version of a domain, oldest first (empty when the
    /// domain is not hosted).
    fn history(&self, name: &str) -> Result<Vec<PolicyVersion>, StoreError>;

    /// A number that grows with every committed write of any node.
    fn generation(&self) -> Result<u64, StoreError>;

    /// A site-wide setting (`target`, `addresses`, ...).
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Set (or with `None` remove) a site-wide setting.
    fn set_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError>;

    /// The stored certificate of `host`.
    fn certificate(&self, host: &str) -> Result<Option<StoredCertificate>, StoreError>;

    /// Every stored certificate, ordered by host.
    fn certificates(&self) -> Result<Vec<StoredCertificate>, StoreError>;

    /// Store (replace) the certificate of `cert.host`.
    fn put_certificate(&self, cert: &StoredCertificate) -> Result<(), StoreError>;

    /// The ACME account credentials (JSON) registered at `directory`.
    fn acme_account(&self, directory: &str) -> Result<Option<String>, StoreError>;

    /// Store the ACME account credentials for `directory`.
    fn put_acme_account(&self, directory: &str, credentials_json: &str) -> Result<(), StoreError>;

    /// Claim the right to order a certificate for `host` until `until`
    /// (Unix seconds), for `holder` (a node id). True when claimed: no
    /// other holder has an unexpired claim. Across nodes at most one
    /// holder has a claim on a host at a time.
    fn claim_order(
        &self,
        host: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;

    /// Give up `holder`'s claim on `host` and record the outcome.
    fn finish_order(
        &self,
        host: &str,
        holder: &str,
        status: &OrderStatus,
    ) -> Result<(), StoreError>;

    /// The recorded ACME state of `host` (default when none).
    fn order_status(&self, host: &str) -> Result<OrderStatus, StoreError>;

    /// The TLS-RPT inbox tables of this store (reports, receipts, the
    /// summary index); see [`crate::inbox::store`].
    fn inbox(&self) -> &dyn crate::inbox::store::InboxStore;

    /// The alert tables of this store (alerts and their delivery
    /// attempts); see [`crate::alerts::store`].
    fn alerts(&self) -> &dyn crate::alerts::store::AlertStore;

    /// The web account and session tables of this store; see
    /// [`crate::web::users`].
    fn users(&self) -> &dyn crate::web::users::UserStore;
}
