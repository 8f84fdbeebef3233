//! The persistent policy cache of a daemon's state directory
//! (`<state_dir>/policies.redb`), read and changed while the daemon is
//! stopped: what `mtasts daemon cache list | show | flush` use.
//!
//! The store is a redb file, which one process at a time may open (redb
//! takes an exclusive lock on it). A running daemon holds it for as long
//! as it runs, and keeps its own copy of every entry in memory, so
//! changing the file under it could not work anyway: [`CacheDir::open`]
//! refuses with [`CacheError::InUse`] while a daemon (or any other
//! process) has the file open. Stop the daemon, list, show or flush, and
//! start it again: it loads what is left.
//!
//! Nothing here creates a store: a state directory without
//! [`STORE_FILE`] is [`CacheError::NoCache`].
//!
//! A cache shared in PostgreSQL ([`CacheDir::open_database`], the
//! daemon's `database`) can be read and changed while the daemons run:
//! what `flush` removes is gone for every node, but each running daemon
//! keeps its in-memory copy until it refreshes the domain or restarts.
//!
//! ```no_run
//! use mta_sts_postfix::cache::CacheDir;
//!
//! let cache = CacheDir::open(std::path::Path::new("/var/lib/mtasts"))?;
//! for entry in cache.entries()?.entries {
//!     println!("{}", entry.domain);
//! }
//! cache.flush("example.com")?;
//! # Ok::<(), mta_sts_postfix::cache::CacheError>(())
//! ```

use std::path::{Path, PathBuf};

use mta_sts_core::discovery::CacheEntry;
use policy_fetch::error::StoreError;
use policy_fetch::pg_store::{PgOptions, PgStore};
use policy_fetch::service::normalize_domain;
use policy_fetch::store::{Loaded, RedbStore, Store};

use crate::config::STORE_FILE;

/// Why the cache of a state directory cannot be read or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The state directory is not a directory.
    #[error("state directory {}: not a directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The state directory does not exist.
    #[error("state directory {}: no such directory", path.display())]
    NoStateDir {
        /// The path given.
        path: PathBuf,
    },
    /// The state directory has no store file.
    #[error(
        "no policy cache at {} (the daemon has not run with this state directory)",
        path.display()
    )]
    NoCache {
        /// The store file that is missing.
        path: PathBuf,
    },
    /// Another process, normally the running daemon, has the store open.
    #[error(
        "{} is in use: the daemon holds the cache; stop it, run this command, then start it again",
        path.display()
    )]
    InUse {
        /// The store file.
        path: PathBuf,
    },
    /// The store file cannot be read as a store.
    #[error("{}: not a readable policy cache", path.display())]
    Unreadable {
        /// The store file.
        path: PathBuf,
    },
    /// The domain has no entry.
    #[error("no cached entry for {domain} in {location}")]
    NotCached {
        /// The domain asked for (normalised).
        domain: String,
        /// The store: its file, or the database server.
        location: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The policy cache of a state directory, opened for inspection (see the
/// module docs). Dropping it closes the file.
pub struct CacheDir {
    /// The store file, or the database server (without the password).
    location: String,
    store: Box<dyn Store>,
}

impl std::fmt::Debug for CacheDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheDir")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Whether a store error says another process holds the file.
fn in_use(e: &StoreError) -> bool {
    matches!(
        e.source.downcast_ref::<redb::Error>(),
        Some(redb::Error::DatabaseAlreadyOpen)
    )
}

impl CacheDir {
    /// Open `<state_dir>/policies.redb`. Fails when `state_dir` is not a
    /// directory, when there is no store file, and with
    /// [`CacheError::InUse`] while the daemon runs.
    pub fn open(state_dir: &Path) -> Result<Self, CacheError> {
        match std::fs::metadata(state_dir) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => {
                return Err(CacheError::NotADirectory {
                    path: state_dir.to_owned(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CacheError::NoStateDir {
                    path: state_dir.to_owned(),
                });
            }
            Err(e) => {
                return Err(StoreError::new(
                    policy_fetch::error::StoreOp::Open,
                    state_dir.display().to_string(),
                    e,
                )
                .into());
            }
        }
        let path = state_dir.join(STORE_FILE);
        if !path.exists() {
            return Err(CacheError::NoCache { path });
        }
        // redb panics on some damaged files (see
        // `RedbStore::open_or_recover`).
        let opened = std::panic::catch_unwind(|| RedbStore::open(&path));
        match opened {
            Ok(Ok(store)) => Ok(Self {
                location: path.display().to_string(),
                store: Box::new(store),
            }),
            Ok(Err(e)) if in_use(&e) => Err(CacheError::InUse { path }),
            Ok(Err(e)) => match e.source.downcast_ref::<redb::Error>() {
                Some(redb::Error::Corrupted(_)) => Err(CacheError::Unreadable { path }),
                Some(redb::Error::Io(io)) if io.kind() == std::io::ErrorKind::InvalidData => {
                    Err(CacheError::Unreadable { path })
                }
                _ => Err(e.into()),
            },
            Err(_) => Err(CacheError::Unreadable { path }),
        }
    }

    /// Open the cache shared in PostgreSQL at `url` (`table`: the
    /// daemon's `database_table`, default `mtasts_policy_cache`). Blocks
    /// for at most the connection and statement timeouts of
    /// [`PgOptions`]; creates the tables when missing, as the daemon does.
    pub fn open_database(url: &str, table: Option<&str>) -> Result<Self, CacheError> {
        let mut options = PgOptions::default();
        if let Some(t) = table {
            options.table = t.to_owned();
        }
        let store = PgStore::connect_with(url, options)?;
        Ok(Self {
            location: format!("{} (table {})", store.server(), store.options().table),
            store: Box::new(store),
        })
    }

    /// Where the cache is: the store file, or the database server (without
    /// the password) and table.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Every entry, sorted by domain, and the entries that do not decode
    /// (sorted too).
    pub fn entries(&self) -> Result<Loaded, CacheError> {
        let mut loaded = self.store.load_all()?;
        loaded.entries.sort_by(|a, b| a.domain.cmp(&b.domain));
        loaded.skipped.sort_by(|a, b| a.domain.cmp(&b.domain));
        Ok(loaded)
    }

    /// The entry of `domain` (normalised: lower case, no trailing dot).
    pub fn entry(&self, domain: &str) -> Result<CacheEntry, CacheError> {
        let domain = normalize_domain(domain);
        let loaded = self.store.load_all()?;
        loaded
            .entries
            .into_iter()
            .find(|e| e.domain == domain)
            .ok_or(CacheError::NotCached {
                domain,
                location: self.location.clone(),
            })
    }

    /// Remove the entry of `domain` (normalised), decodable or not.
    /// Returns the key removed.
    pub fn flush(&self, domain: &str) -> Result<String, CacheError> {
        let domain = normalize_domain(domain);
        let loaded = self.store.load_all()?;
        let known = loaded.entries.iter().any(|e| e.domain == domain)
            || loaded.skipped.iter().any(|s| s.domain == domain);
        if !known {
            return Err(CacheError::NotCached {
                domain,
                location: self.location.clone(),
            });
        }
        self.store.remove(&domain)?;
        Ok(domain)
    }

    /// Remove every entry, decodable or not. Returns the keys removed,
    /// sorted.
    pub fn flush_all(&self) -> Result<Vec<String>, CacheError> {
        let loaded = self.store.load_all()?;
        let mut keys: Vec<String> = loaded
            .entries
            .into_iter()
            .map(|e| e.domain)
            .chain(loaded.skipped.into_iter().map(|s| s.domain))
            .collect();
        keys.sort();
        keys.dedup();
        for k in &keys {
            self.store.remove(k)?;
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mta_sts_core::Policy;
    use mta_sts_core::discovery::CachedPolicy;

    struct Tmp(PathBuf);

    impl Tmp {
        fn new(name: &str) -> Self {
            let d = std::env::temp_dir().join(format!("pf-cache-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Self(d)
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn entry(domain: &str) -> CacheEntry {
        let text = "version: STSv1\nmode: enforce\nmx: mx.example\nmax_age: 86400\n";
        CacheEntry {
            domain: domain.into(),
            policy: Some(CachedPolicy {
                id: "id1".into(),
                policy: Policy::parse(text).unwrap().into_owned(),
                fetched_at: 1_700_000_000,
            }),
            last_failure: None,
            last_used: 1_700_000_100,
        }
    }

    #[test]
    fn open_list_show_flush() {
        let t = Tmp::new("ok");
        assert!(matches!(
            CacheDir::open(&t.0),
            Err(CacheError::NoCache { .. })
        ));
        assert!(!t.0.join(STORE_FILE).exists(), "open must not create it");
        let file = t.0.join("f");
        std::fs::write(&file, "x").unwrap();
        let e = CacheDir::open(&file).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("state directory {}: not a directory", file.display())
        );
        assert!(matches!(
            CacheDir::open(&t.0.join("missing")),
            Err(CacheError::NoStateDir { .. })
        ));

        {
            let s = RedbStore::open(&t.0.join(STORE_FILE)).unwrap();
            for d in ["b.example", "a.example", "c.example"] {
                s.put(&entry(d)).unwrap();
            }
            // Held by another opener: refused, clearly.
            let e = CacheDir::open(&t.0).unwrap_err();
            assert!(matches!(e, CacheError::InUse { .. }), "{e:?}");
            assert!(e.to_string().contains("the daemon holds the cache"), "{e}");
        }
        let c = CacheDir::open(&t.0).unwrap();
        let domains: Vec<_> = c
            .entries()
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.domain)
            .collect();
        assert_eq!(domains, ["a.example", "b.example", "c.example"]);
        assert_eq!(c.entry("B.Example.").unwrap(), entry("b.example"));
        assert!(matches!(
            c.entry("d.example"),
            Err(CacheError::NotCached { .. })
        ));
        assert_eq!(c.flush("A.example").unwrap(), "a.example");
        assert!(matches!(
            c.flush("a.example"),
            Err(CacheError::NotCached { .. })
        ));
        assert_eq!(c.flush_all().unwrap(), ["b.example", "c.example"]);
        assert!(c.entries().unwrap().entries.is_empty());
    }

    #[test]
    fn damaged_file_is_unreadable() {
        let t = Tmp::new("bad");
        std::fs::write(t.0.join(STORE_FILE), vec![0x5a; 4096]).unwrap();
        let e = CacheDir::open(&t.0).unwrap_err();
        assert!(matches!(e, CacheError::Unreadable { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "{}: not a readable policy cache",
                t.0.join(STORE_FILE).display()
            )
        );
    }
}
