//! The embedded site store: one SQLite file, `DIR/site.sqlite3`, under
//! `--state DIR`.
//!
//! The file is opened in WAL mode with `synchronous=FULL`: every write
//! is one transaction and is on disk when the call returns, so a crash or
//! a power loss loses nothing that was committed (only a write still in
//! progress is rolled back). Several processes may open the same file
//! (`mtasts domain` while `mtasts serve` runs): SQLite serializes writers
//! and a busy writer is waited for up to [`BUSY_TIMEOUT`].
//!
//! The schema is versioned: the `meta` table holds `schema_version` and
//! the `generation` counter, which every write transaction increments.
//!
//! ```
//! use mtasts_site::sqlite::SqliteStore;
//! use mtasts_site::store::SiteStore;
//!
//! let dir = std::env::temp_dir().join(format!("mtasts-site-doc-{}", std::process::id()));
//! let store = SqliteStore::open(&dir).unwrap();
//! store.set_setting("target", Some("sts.host.example.net")).unwrap();
//! assert_eq!(store.setting("target").unwrap().as_deref(), Some("sts.host.example.net"));
//! # std::fs::remove_dir_all(&dir).ok();
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use mta_sts_core::hosting::policy_id;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::store::{
    Domain, DomainSettings, NewPolicy, OrderStatus, PolicyVersion, SiteStore, StoreError,
    StoredCertificate, sqlite_path,
};

/// How long a write waits for another process's write to finish.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// The site tables; the PostgreSQL backend runs the same text through
/// [`crate::pg::ddl`].
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('schema_version', 1) ON CONFLICT DO NOTHING;
INSERT INTO meta (key, value) VALUES ('generation', 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS domains (
    name TEXT PRIMARY KEY NOT NULL,
    settings TEXT NOT NULL,
    mode_since INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    removing_until INTEGER,
    current_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_versions (
    domain TEXT NOT NULL,
    version INTEGER NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    mode TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (domain, version)
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    host TEXT PRIMARY KEY NOT NULL,
    chain_pem TEXT NOT NULL,
    key_pem TEXT NOT NULL,
    not_after INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS acme_accounts (
    directory TEXT PRIMARY KEY NOT NULL,
    credentials TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS acme_orders (
    host TEXT PRIMARY KEY NOT NULL,
    holder TEXT,
    claimed_until INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
";

/// The embedded site store (see the module docs).
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Open (or create) `dir/site.sqlite3`, creating `dir` with mode
    /// 0700 when missing, and the tables when missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the directory cannot be created,
    /// [`StoreError::Sqlite`] when the file cannot be opened or is not a
    /// SQLite database, [`StoreError::Corrupt`] when it was written by a
    /// newer schema.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        create_dir_private(dir)?;
        let path = sqlite_path(dir);
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(SCHEMA).map_err(err)?;
        crate::inbox::sqlite::create_schema(&tx).map_err(err)?;
        tx.execute_batch(crate::alerts::sqlite::SCHEMA)
            .map_err(err)?;
        tx.execute_batch(crate::web::users::SQLITE_SCHEMA)
            .map_err(err)?;
        let version: i64 = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        if version != SCHEMA_VERSION {
            return Err(StoreError::Corrupt {
                what: "schema version",
                detail: format!(
                    "{}: schema {version}, this program reads {SCHEMA_VERSION}",
                    path.display()
                ),
            });
        }
        tx.commit().map_err(err)?;
        Ok(Self {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The path of the database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-done transaction
        // (it is rolled back on drop), so the connection stays usable.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Run `f` in one immediate (write) transaction that also bumps the
    /// generation.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_if(|tx| f(tx).map(|t| (t, true)))
    }

    /// As [`Self::write`], bumping the generation only when `f` says it
    /// wrote something.
    fn write_if<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<(T, bool), StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let (out, wrote) = f(&tx)?;
        if wrote {
            tx.execute(
                "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
                [],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Run `f` in one read transaction (a consistent snapshot).
    fn read<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    fn load_domain(&self, c: &Connection, name: &str) -> Result<Option<Domain>, StoreError> {
        let row = c
            .query_row(
                "SELECT name, settings, mode_since, created_at, removing_until, current_version
                 FROM domains WHERE name = ?1",
                params![name],
                domain_row,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        match row {
            None => Ok(None),
            Some(row) => self.finish_domain(c, row).map(Some),
        }
    }

    fn finish_domain(&self, c: &Connection, row: DomainRow) -> Result<Domain, StoreError> {
        let settings = parse_settings(&row.name, &row.settings)?;
        let current = c
            .query_row(
                "SELECT version, id, body, mode, created_at FROM policy_versions
                 WHERE domain = ?1 AND version = ?2",
                params![row.name, row.current_version],
                version_row,
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or_else(|| StoreError::Corrupt {
                what: "domain",
                detail: format!(
                    "{}: current version {} is missing",
                    row.name, row.current_version
                ),
            })??;
        Ok(Domain {
            name: row.name,
            settings,
            current,
            mode_since: row.mode_since,
            created_at: row.created_at,
            removing_until: row.removing_until,
        })
    }

    fn delete_in(&self, tx: &Connection, name: &str) -> Result<bool, StoreError> {
        let n = tx
            .execute("DELETE FROM domains WHERE name = ?1", params![name])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "DELETE FROM policy_versions WHERE domain = ?1",
            params![name],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "DELETE FROM acme_orders WHERE host = ?1",
            params![mta_sts_core::policy::policy_host(name)],
        )
        .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }
}

/// Create `dir` (and its parents) with mode 0700 when missing.
pub(crate) fn create_dir_private(dir: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(io)
}

/// A `domains` row before its settings are parsed.
struct DomainRow {
    name: String,
    settings: String,
    mode_since: i64,
    created_at: i64,
    removing_until: Option<i64>,
    current_version: i64,
}

fn domain_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DomainRow> {
    Ok(DomainRow {
        name: r.get(0)?,
        settings: r.get(1)?,
        mode_since: r.get(2)?,
        created_at: r.get(3)?,
        removing_until: r.get(4)?,
        current_version: r.get(5)?,
    })
}

/// A `policy_versions` row; the inner result fails on an unreadable mode
/// or version number.
fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<PolicyVersion, StoreError>> {
    let version: i64 = r.get(0)?;
    let id: String = r.get(1)?;
    let body: String = r.get(2)?;
    let mode: String = r.get(3)?;
    let created_at: i64 = r.get(4)?;
    Ok(make_version(version, id, body, &mode, created_at))
}

/// A [`PolicyVersion`] from stored values (shared with the PostgreSQL
/// backend).
pub(crate) fn make_version(
    version: i64,
    id: String,
    body: String,
    mode: &str,
    created_at: i64,
) -> Result<PolicyVersion, StoreError> {
    let mode = mode.parse().map_err(|()| StoreError::Corrupt {
        what: "policy mode",
        detail: format!("{mode:?} (version {version}, id {id})"),
    })?;
    let version = u64::try_from(version).map_err(|_| StoreError::Corrupt {
        what: "policy version",
        detail: format!("{version} (id {id})"),
    })?;
    Ok(PolicyVersion {
        version,
        id,
        body,
        mode,
        created_at,
    })
}

/// Parse a domain's stored settings (shared with the PostgreSQL backend).
pub(crate) fn parse_settings(name: &str, json: &str) -> Result<DomainSettings, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: "domain settings",
        detail: format!("{name}: {e}"),
    })
}

/// Serialize a domain's settings (shared with the PostgreSQL backend).
pub(crate) fn settings_json(s: &DomainSettings) -> Result<String, StoreError> {
    serde_json::to_string(s).map_err(|e| StoreError::Corrupt {
        what: "domain settings",
        detail: e.to_string(),
    })
}

/// The version number as stored (shared with the PostgreSQL backend).
pub(crate) fn version_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt {
        what: "policy version",
        detail: format!("{v} is out of range"),
    })
}

/// The next version after `current`: its number, creation time and id
/// (shared with the PostgreSQL backend).
pub(crate) fn next_version(current: &PolicyVersion, now: i64) -> (u64, i64, String) {
    let version = current.version.saturating_add(1);
    let created = now.max(current.created_at);
    (version, created, policy_id(created, version))
}

fn u32_of(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

impl SiteStore for SqliteStore {
    fn add_domain(&self, name: &str, new: &NewPolicy, now: i64) -> Result<Domain, StoreError> {
        let settings = settings_json(&new.settings)?;
        let id = policy_id(now, 1);
        self.write(|tx| {
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM domains WHERE name = ?1",
                    params![name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            if exists.is_some() {
                return Err(StoreError::Exists(name.to_owned()));
            }
            // Leftovers of an earlier life of the name (none normally).
            tx.execute("DELETE FROM policy_versions WHERE domain = ?1", params![name])
                .map_err(|e| self.err(e))?;
            tx.execute(
                "INSERT INTO domains (name, settings, mode_since, created_at, removing_until, current_version)
                 VALUES (?1, ?2, ?3, ?3, ?4, 1)",
                params![name, settings, now, new.removing_until],
            )
            .map_err(|e| self.err(e))?;
            tx.execute(
                "INSERT INTO policy_versions (domain, version, id, body, mode, created_at)
                 VALUES (?1, 1, ?2, ?3, ?4, ?5)",
                params![name, id, new.body, new.settings.mode.as_str(), now],
            )
            .map_err(|e| self.err(e))?;
            self.load_domain(tx, name)?
                .ok_or_else(|| StoreError::NotFound(name.to_owned()))
        })
    }

    fn update_domain(
        &self,
        name: &str,
        new: &NewPolicy,
        now: i64,
    ) -> Result<(Domain, bool), StoreError> {
        let settings = settings_json(&new.settings)?;
        self.write(|tx| {
            let old = self
                .load_domain(tx, name)?
                .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
            let changed = old.current.body != new.body;
            let mut current_version = old.current.version;
            if changed {
                let (version, created, id) = next_version(&old.current, now);
                tx.execute(
                    "INSERT INTO policy_versions (domain, version, id, body, mode, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        name,
                        version_i64(version)?,
                        id,
                        new.body,
                        new.settings.mode.as_str(),
                        created
                    ],
                )
                .map_err(|e| self.err(e))?;
                current_version = version;
            }
            let mode_since = if old.settings.mode == new.settings.mode {
                old.mode_since
            } else {
                now
            };
            tx.execute(
                "UPDATE domains SET settings = ?2, mode_since = ?3, removing_until = ?4,
                 current_version = ?5 WHERE name = ?1",
                params![
                    name,
                    settings,
                    mode_since,
                    new.removing_until,
                    version_i64(current_version)?
                ],
            )
            .map_err(|e| self.err(e))?;
            let d = self
                .load_domain(tx, name)?
                .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
            Ok((d, changed))
        })
    }

    fn delete_domain(&self, name: &str) -> Result<bool, StoreError> {
        self.write(|tx| self.delete_in(tx, name))
    }

    fn purge_removed(&self, now: i64) -> Result<Vec<String>, StoreError> {
        // Nothing deleted, nothing written: the generation stays, so the
        // serving nodes that call this every minute do not reload.
        self.write_if(|tx| {
            let names = {
                let mut st = tx
                    .prepare(
                        "SELECT name FROM domains WHERE removing_until IS NOT NULL
                         AND removing_until < ?1 ORDER BY name",
                    )
                    .map_err(|e| self.err(e))?;
                st.query_map(params![now], |r| r.get::<_, String>(0))
                    .map_err(|e| self.err(e))?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(|e| self.err(e))?
            };
            for n in &names {
                self.delete_in(tx, n)?;
            }
            let wrote = !names.is_empty();
            Ok((names, wrote))
        })
    }

    fn domain(&self, name: &str) -> Result<Option<Domain>, StoreError> {
        self.read(|tx| self.load_domain(tx, name))
    }

    fn domains(&self) -> Result<Vec<Domain>, StoreError> {
        self.read(|tx| {
            let rows = {
                let mut st = tx
                    .prepare(
                        "SELECT name, settings, mode_since, created_at, removing_until, current_version
                         FROM domains ORDER BY name",
                    )
                    .map_err(|e| self.err(e))?;
                st.query_map([], domain_row)
                    .map_err(|e| self.err(e))?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(|e| self.err(e))?
            };
            rows.into_iter()
                .map(|row| self.finish_domain(tx, row))
                .collect()
        })
    }

    fn history(&self, name: &str) -> Result<Vec<PolicyVersion>, StoreError> {
        self.read(|tx| {
            let mut st = tx
                .prepare(
                    "SELECT version, id, body, mode, created_at FROM policy_versions
                     WHERE domain = ?1 ORDER BY version",
                )
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map(params![name], version_row)
                .map_err(|e| self.err(e))?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| self.err(e))?;
            rows.into_iter().collect()
        })
    }

    fn generation(&self) -> Result<u64, StoreError> {
        let g: i64 = self
            .lock()
            .query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?;
        Ok(u64::try_from(g).unwrap_or(0))
    }

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.lock()
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn set_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        self.write(|tx| {
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![key, v],
                ),
                None => tx.execute("DELETE FROM settings WHERE key = ?1", params![key]),
            }
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn certificate(&self, host: &str) -> Result<Option<StoredCertificate>, StoreError> {
        self.lock()
            .query_row(
                "SELECT host, chain_pem, key_pem, not_after, updated_at FROM certificates
                 WHERE host = ?1",
                params![host],
                cert_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn certificates(&self) -> Result<Vec<StoredCertificate>, StoreError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT host, chain_pem, key_pem, not_after, updated_at FROM certificates
                 ORDER BY host",
            )
            .map_err(|e| self.err(e))?;
        st.query_map([], cert_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    fn put_certificate(&self, cert: &StoredCertificate) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO certificates (host, chain_pem, key_pem, not_after, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (host) DO UPDATE SET chain_pem = excluded.chain_pem,
                 key_pem = excluded.key_pem, not_after = excluded.not_after,
                 updated_at = excluded.updated_at",
                params![
                    cert.host,
                    cert.chain_pem,
                    cert.key_pem,
                    cert.not_after,
                    cert.updated_at
                ],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn acme_account(&self, directory: &str) -> Result<Option<String>, StoreError> {
        self.lock()
            .query_row(
                "SELECT credentials FROM acme_accounts WHERE directory = ?1",
                params![directory],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn put_acme_account(&self, directory: &str, credentials_json: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO acme_accounts (directory, credentials) VALUES (?1, ?2)
                 ON CONFLICT (directory) DO UPDATE SET credentials = excluded.credentials",
                params![directory, credentials_json],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn claim_order(
        &self,
        host: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.write_if(|tx| {
            let row: Option<(Option<String>, i64)> = tx
                .query_row(
                    "SELECT holder, claimed_until FROM acme_orders WHERE host = ?1",
                    params![host],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            let free = match &row {
                None => true,
                Some((h, claimed_until)) => {
                    h.is_none() || h.as_deref() == Some(holder) || *claimed_until <= now
                }
            };
            if !free {
                return Ok((false, false));
            }
            tx.execute(
                "INSERT INTO acme_orders (host, holder, claimed_until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (host) DO UPDATE SET holder = excluded.holder,
                 claimed_until = excluded.claimed_until",
                params![host, holder, until],
            )
            .map_err(|e| self.err(e))?;
            Ok((true, true))
        })
    }

    fn finish_order(
        &self,
        host: &str,
        holder: &str,
        status: &OrderStatus,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO acme_orders (host, holder, claimed_until, failures, next_attempt, last_error)
                 VALUES (?1, NULL, 0, ?3, ?4, ?5)
                 ON CONFLICT (host) DO UPDATE SET
                 holder = CASE WHEN acme_orders.holder = ?2 THEN NULL ELSE acme_orders.holder END,
                 claimed_until = CASE WHEN acme_orders.holder = ?2 THEN 0 ELSE acme_orders.claimed_until END,
                 failures = excluded.failures, next_attempt = excluded.next_attempt,
                 last_error = excluded.last_error",
                params![
                    host,
                    holder,
                    i64::from(status.failures),
                    status.next_attempt,
                    status.last_error
                ],
            )
            .map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn order_status(&self, host: &str) -> Result<OrderStatus, StoreError> {
        let row = self
            .lock()
            .query_row(
                "SELECT failures, next_attempt, last_error FROM acme_orders WHERE host = ?1",
                params![host],
                |r| {
                    Ok(OrderStatus {
                        failures: u32_of(r.get(0)?),
                        next_attempt: r.get(1)?,
                        last_error: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.unwrap_or_default())
    }

    fn inbox(&self) -> &dyn crate::inbox::store::InboxStore {
        self
    }

    fn alerts(&self) -> &dyn crate::alerts::store::AlertStore {
        self
    }

    fn users(&self) -> &dyn crate::web::users::UserStore {
        self
    }
}

fn cert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCertificate> {
    Ok(StoredCertificate {
        host: r.get(0)?,
        chain_pem: r.get(1)?,
        key_pem: r.get(2)?,
        not_after: r.get(3)?,
        updated_at: r.get(4)?,
    })
}
