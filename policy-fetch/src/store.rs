//! Where cache entries persist: behind the [`Store`] trait, with an
//! in-memory store and an embedded on-disk default (redb: pure Rust, ACID,
//! crash-safe, no server). Entries are stored as JSON (the serde form of
//! `mta_sts_core::discovery::CacheEntry`; policies are re-validated when
//! they are loaded).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use mta_sts_core::discovery::CacheEntry;
use redb::{Database, ReadableTable, TableDefinition};

use crate::error::StoreError;

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

/// A persistent store for cache entries, keyed by Policy Domain.
pub trait Store: Send + Sync + 'static {
    /// Every stored entry; entries that no longer decode are skipped and
    /// listed.
    fn load_all(&self) -> Result<Loaded, StoreError>;
    /// Insert or replace the entry of `entry.domain`.
    fn put(&self, entry: &CacheEntry) -> Result<(), StoreError>;
    /// Remove the entry of `domain`.
    fn remove(&self, domain: &str) -> Result<(), StoreError>;
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

fn poisoned<T>(_: T) -> StoreError {
    StoreError("lock poisoned".into())
}

impl Store for MemoryStore {
    fn load_all(&self) -> Result<Loaded, StoreError> {
        let map = self.map.lock().map_err(poisoned)?;
        Ok(Loaded {
            entries: map.values().cloned().collect(),
            skipped: Vec::new(),
        })
    }

    fn put(&self, entry: &CacheEntry) -> Result<(), StoreError> {
        self.map
            .lock()
            .map_err(poisoned)?
            .insert(entry.domain.clone(), entry.clone());
        Ok(())
    }

    fn remove(&self, domain: &str) -> Result<(), StoreError> {
        self.map.lock().map_err(poisoned)?.remove(domain);
        Ok(())
    }
}

const TABLE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("mta_sts_policies_v1");

/// The embedded on-disk store (one redb file).
pub struct RedbStore {
    db: Database,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl RedbStore {
    /// Open (or create) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db =
            Database::create(path).map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(TABLE).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Self { db })
    }
}

impl Store for RedbStore {
    fn load_all(&self) -> Result<Loaded, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(TABLE).map_err(err)?;
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for item in table.iter().map_err(err)? {
            let (k, v) = item.map_err(err)?;
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
    }

    fn put(&self, entry: &CacheEntry) -> Result<(), StoreError> {
        let json = serde_json::to_vec(entry).map_err(err)?;
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut t = tx.open_table(TABLE).map_err(err)?;
            t.insert(entry.domain.as_str(), json.as_slice())
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn remove(&self, domain: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut t = tx.open_table(TABLE).map_err(err)?;
            t.remove(domain).map_err(err)?;
        }
        tx.commit().map_err(err)
    }
}
