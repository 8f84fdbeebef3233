//! Where cache entries persist: behind the [`Store`] trait, with an
//! in-memory store and an embedded on-disk default (redb: pure Rust, ACID,
//! crash-safe, no server; feature `redb`, on by default). Entries are
//! stored as JSON (the serde form of `mta_sts_core::discovery::CacheEntry`;
//! policies are re-validated when they are loaded).
//!
//! [`Store`] is synchronous: an implementation may block (a commit with
//! fsync, a round trip to a database server). The policy service never
//! calls it on an async worker thread: reads, writes and removals run on
//! tokio's blocking pool, and [`Store::load_all`] runs when the service is
//! created (at start-up, or from `spawn_blocking`).
//!
//! # Stores shared by several MTAs
//!
//! A store can be shared by several nodes (MTAs each running the policy
//! service), as `pg_store::PgStore` (feature `postgres`) is. Two optional
//! methods make the nodes cooperate; their default implementations suit a
//! store that only one service uses:
//!
//! - [`Store::get`]: before a discovery, the service asks the store whether
//!   another node has stored a newer entry for the domain, and uses it
//!   (without a fetch of its own when its policy was fetched less than the
//!   TXT check interval ago);
//! - [`Store::claim_discovery`] / [`Store::release_discovery`]: one node at
//!   a time discovers a domain; the others wait briefly, then read its
//!   result from the store.
//!
//! Which of two entries for a domain is the newer one is decided by
//! [`is_newer_or_same`].

use std::collections::HashMap;
#[cfg(feature = "redb")]
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use mta_sts_core::discovery::CacheEntry;
#[cfg(feature = "redb")]
use redb::{Database, ReadableTable, TableDefinition};

use crate::error::{StoreError, StoreOp};

/// What [`Store::load_all`] found.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The entries that decoded.
    pub entries: Vec<CacheEntry>,
    /// Entries that no longer decode; they are ignored.
    pub skipped: Vec<SkippedEntry>,
}

/// A stored entry that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    /// Its key (the Policy Domain).
    pub domain: String,
    /// Why it could not be decoded.
    pub reason: String,
}

/// A persistent store for cache entries, keyed by Policy Domain (as
/// normalised by [`crate::service::normalize_domain`]).
///
/// Every method may block; see the [module docs](self).
pub trait Store: Send + Sync + 'static {
    /// Every stored entry; entries that no longer decode are skipped and
    /// listed.
    fn load_all(&self) -> Result<Loaded, StoreError>;
    /// Insert or replace the entry of `entry.domain`. A store shared by
    /// several nodes may keep its entry instead when that one is newer
    /// (see [`is_newer_or_same`]).
    fn put(&self, entry: &CacheEntry) -> Result<(), StoreError>;
    /// Remove the entry of `domain`.
    fn remove(&self, domain: &str) -> Result<(), StoreError>;

    /// The stored entry of `domain`, if any. An entry that does not decode
    /// is an error (`load_all` skips it instead).
    ///
    /// The default answers `Ok(None)`: right for a store that only one
    /// service uses, whose entries the service has in memory anyway.
    fn get(&self, domain: &str) -> Result<Option<CacheEntry>, StoreError> {
        let _ = domain;
        Ok(None)
    }

    /// Ask to be the only node discovering `domain` now (see the
    /// [module docs](self#stores-shared-by-several-mtas)). After
    /// [`Claim::Granted`], the caller calls [`Store::release_discovery`]
    /// once its result is stored; a claim left unreleased must not outlive
    /// the caller's connection or process.
    ///
    /// The default answers [`Claim::NotShared`].
    fn claim_discovery(&self, domain: &str) -> Result<Claim, StoreError> {
        let _ = domain;
        Ok(Claim::NotShared)
    }

    /// Release a claim that [`Store::claim_discovery`] granted. The
    /// default does nothing.
    fn release_discovery(&self, domain: &str) -> Result<(), StoreError> {
        let _ = domain;
        Ok(())
    }
}

/// What [`Store::claim_discovery`] answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The store is not shared: discover without a claim, and release
    /// nothing.
    NotShared,
    /// This node may discover the domain; release the claim afterwards.
    Granted,
    /// Another node is discovering the domain now. Ask again from time to
    /// time for at most `wait`, then read its result with
    /// [`Store::get`] (or discover anyway once `wait` has passed).
    Elsewhere {
        /// How long to wait for the other node, at most.
        wait: Duration,
    },
}

/// The time up to which `entry` knows about its domain, for deciding
/// which of two entries is newer: the fetch time of its policy if that
/// policy is still valid at `now` (0 otherwise), then the time of its last
/// failed fetch (0 without one).
pub fn freshness(entry: &CacheEntry, now: SystemTime) -> (u64, u64) {
    let policy = entry
        .policy
        .as_ref()
        .filter(|p| p.is_valid(now))
        .map_or(0, |p| p.fetched_at);
    let failure = entry.last_failure.as_ref().map_or(0, |f| f.at);
    (policy, failure)
}

/// Whether `new` knows at least as much as `old` about their domain at
/// `now`, so that a shared store may replace `old` by `new`: a valid policy
/// fetched later wins, a still-valid policy is never replaced by an entry
/// without one (or with an older one), and between entries with the same
/// policy the later failed fetch wins. Entries written by one node always
/// come in this order unless its clock goes back; nodes sharing a store
/// need synchronised clocks.
pub fn is_newer_or_same(new: &CacheEntry, old: &CacheEntry, now: SystemTime) -> bool {
    freshness(new, now) >= freshness(old, now)
}

/// A store that keeps nothing across restarts.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, CacheEntry>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned<T>(op: StoreOp, target: &str) -> impl FnOnce(T) -> StoreError + '_ {
    move |_| StoreError::new(op, target, "the memory store's lock is poisoned")
}

impl Store for MemoryStore {
    fn load_all(&self) -> Result<Loaded, StoreError> {
        let map = self.map.lock().map_err(poisoned(StoreOp::Load, ""))?;
        Ok(Loaded {
            entries: map.values().cloned().collect(),
            skipped: Vec::new(),
        })
    }

    fn put(&self, entry: &CacheEntry) -> Result<(), StoreError> {
        self.map
            .lock()
            .map_err(poisoned(StoreOp::Put, &entry.domain))?
            .insert(entry.domain.clone(), entry.clone());
        Ok(())
    }

    fn remove(&self, domain: &str) -> Result<(), StoreError> {
        self.map
            .lock()
            .map_err(poisoned(StoreOp::Remove, domain))?
            .remove(domain);
        Ok(())
    }

    fn get(&self, domain: &str) -> Result<Option<CacheEntry>, StoreError> {
        Ok(self
            .map
            .lock()
            .map_err(poisoned(StoreOp::Get, domain))?
            .get(domain)
            .cloned())
    }
}

#[cfg(feature = "redb")]
const TABLE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("mta_sts_policies_v1");

/// The embedded on-disk store (one redb file).
///
/// After a failed write (a full disk, an I/O error), redb refuses every
/// later operation until the database is closed and opened again; this
/// store does that by itself at the next operation, so a disk that had no
/// room only loses the writes made while it was full (each reported as an
/// error) instead of disabling the store until a restart.
#[cfg(feature = "redb")]
#[cfg_attr(docsrs, doc(cfg(feature = "redb")))]
pub struct RedbStore {
    path: std::path::PathBuf,
    /// `None` after a failed re-open; the next operation tries again.
    db: std::sync::RwLock<Option<Database>>,
}

#[cfg(feature = "redb")]
impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

#[cfg(feature = "redb")]
impl RedbStore {
    /// Open (or create) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            path: path.to_owned(),
            db: std::sync::RwLock::new(Some(Self::open_db(path)?)),
        })
    }

    fn open_db(path: &Path) -> Result<Database, StoreError> {
        let shown = path.display().to_string();
        let err = |e: redb::Error| StoreError::new(StoreOp::Open, shown.as_str(), e);
        let db = Database::create(path).map_err(|e| err(e.into()))?;
        let tx = db.begin_write().map_err(|e| err(e.into()))?;
        tx.open_table(TABLE).map_err(|e| err(e.into()))?;
        tx.commit().map_err(|e| err(e.into()))?;
        Ok(db)
    }

    /// Run `f` on the database, re-opening it first when it is closed, and
    /// once more after an error that redb only clears by re-opening.
    fn with_db<T>(
        &self,
        op: StoreOp,
        target: &str,
        f: impl Fn(&Database) -> Result<T, RedbError>,
    ) -> Result<T, StoreError> {
        let mut reopened = false;
        loop {
            let result = {
                let guard = self.db.read().unwrap_or_else(|p| p.into_inner());
                guard.as_ref().map(&f)
            };
            match result {
                Some(Ok(v)) => return Ok(v),
                Some(Err(RedbError(e))) if reopened || !needs_reopen(&e) => {
                    return Err(StoreError::new(op, target, *e));
                }
                Some(Err(_)) | None => {
                    if reopened {
                        return Err(StoreError::new(
                            op,
                            target,
                            "the store could not be re-opened",
                        ));
                    }
                    reopened = true;
                    self.reopen()?;
                }
            }
        }
    }

    /// Close the database and open it again.
    fn reopen(&self) -> Result<(), StoreError> {
        let mut guard = self.db.write().unwrap_or_else(|p| p.into_inner());
        // redb locks the file: the old handle must be gone first.
        *guard = None;
        *guard = Some(Self::open_db(&self.path)?);
        Ok(())
    }
}

/// A redb error, boxed (it is large) and converted from any of redb's
/// error types by `?`.
#[cfg(feature = "redb")]
struct RedbError(Box<redb::Error>);

#[cfg(feature = "redb")]
impl<E: Into<redb::Error>> From<E> for RedbError {
    fn from(e: E) -> Self {
        Self(Box::new(e.into()))
    }
}

/// Whether redb wants the database closed and opened again before it
/// does anything more (after a failed write).
#[cfg(feature = "redb")]
fn needs_reopen(e: &redb::Error) -> bool {
    matches!(e, redb::Error::PreviousIo)
}

/// What [`RedbStore::open_or_recover`] opened.
#[cfg(feature = "redb")]
#[derive(Debug)]
pub struct Opened {
    /// The store, usable.
    pub store: RedbStore,
    /// Where an unreadable store file was moved before a new one was
    /// created (`None` when the file was fine or did not exist).
    pub moved_aside: Option<std::path::PathBuf>,
}

#[cfg(feature = "redb")]
impl RedbStore {
    /// Open the store at `path`; when the file exists but cannot be read
    /// as a store (truncated, bit-flipped, not a redb file), move it aside
    /// to `<path>.corrupt-<unix seconds>` and create a new, empty store —
    /// the store is a cache, so starting empty is safe, and refusing to
    /// start would take MTA-STS away from every domain. Errors that are not
    /// about the file's content (permissions, the file locked by another
    /// process) are returned as they are.
    ///
    /// redb panics on some truncated files; that panic is caught here and
    /// treated as an unreadable file.
    pub fn open_or_recover(path: &Path) -> Result<Opened, StoreError> {
        let attempt = |p: &Path| -> Result<Result<Self, StoreError>, ()> {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let store = Self::open(p)?;
                // Every entry must be readable too.
                store.load_all().map(|_| store)
            }))
            .map_err(|_| ())
        };
        match attempt(path) {
            Ok(Ok(store)) => {
                return Ok(Opened {
                    store,
                    moved_aside: None,
                });
            }
            Ok(Err(e)) if !unreadable_content(&e) => return Err(e),
            Ok(Err(_)) | Err(()) => {}
        }
        let secs = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut aside = path.as_os_str().to_owned();
        aside.push(format!(".corrupt-{secs}"));
        let aside = std::path::PathBuf::from(aside);
        std::fs::rename(path, &aside)
            .map_err(|e| StoreError::new(StoreOp::Open, path.display().to_string(), e))?;
        let store = Self::open(path)?;
        Ok(Opened {
            store,
            moved_aside: Some(aside),
        })
    }
}

/// Whether a store error says the file's content is unreadable (as
/// opposed to permissions, locks or a missing directory).
#[cfg(feature = "redb")]
fn unreadable_content(e: &StoreError) -> bool {
    match e.source.downcast_ref::<redb::Error>() {
        Some(redb::Error::Corrupted(_)) => true,
        Some(redb::Error::Io(io)) => io.kind() == std::io::ErrorKind::InvalidData,
        Some(_) => false,
        // Entries that do not decode are skipped by `load_all`, not errors;
        // any other error of the backend is not about the content.
        None => false,
    }
}

#[cfg(feature = "redb")]
impl Store for RedbStore {
    fn load_all(&self) -> Result<Loaded, StoreError> {
        self.with_db(StoreOp::Load, "", |db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(TABLE)?;
            let mut ok = Vec::new();
            let mut bad = Vec::new();
            for item in table.iter()? {
                let (k, v) = item?;
                match serde_json::from_slice::<CacheEntry>(v.value()) {
                    Ok(e) => ok.push(e),
                    Err(e) => bad.push(SkippedEntry {
                        domain: k.value().to_owned(),
                        reason: e.to_string(),
                    }),
                }
            }
            Ok(Loaded {
                entries: ok,
                skipped: bad,
            })
        })
    }

    fn put(&self, entry: &CacheEntry) -> Result<(), StoreError> {
        let json = serde_json::to_vec(entry)
            .map_err(|e| StoreError::new(StoreOp::Put, entry.domain.as_str(), e))?;
        self.with_db(StoreOp::Put, &entry.domain, |db| {
            let tx = db.begin_write()?;
            {
                let mut t = tx.open_table(TABLE)?;
                t.insert(entry.domain.as_str(), json.as_slice())?;
            }
            Ok(tx.commit()?)
        })
    }

    fn remove(&self, domain: &str) -> Result<(), StoreError> {
        self.with_db(StoreOp::Remove, domain, |db| {
            let tx = db.begin_write()?;
            {
                let mut t = tx.open_table(TABLE)?;
                t.remove(domain)?;
            }
            Ok(tx.commit()?)
        })
    }

    fn get(&self, domain: &str) -> Result<Option<CacheEntry>, StoreError> {
        let raw = self.with_db(StoreOp::Get, domain, |db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(TABLE)?;
            Ok(table.get(domain)?.map(|v| v.value().to_vec()))
        })?;
        raw.map(|bytes| serde_json::from_slice::<CacheEntry>(&bytes))
            .transpose()
            .map_err(|e| StoreError::new(StoreOp::Get, domain, e))
    }
}
