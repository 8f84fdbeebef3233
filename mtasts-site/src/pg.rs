//! The shared site store: PostgreSQL (`--database postgres://...`), for
//! several hosting nodes serving one set of domains. Same tables and
//! behaviour as [`crate::sqlite::SqliteStore`].
//!
//! - [`PgSiteStore::connect`] creates the tables when missing, under a
//!   transaction-scoped advisory lock, so two nodes starting at once do
//!   not race.
//! - Every write is one transaction that also increments the
//!   `generation` row of `meta`; a domain update locks the domain's row
//!   (`SELECT ... FOR UPDATE`), so two nodes changing one domain at once
//!   make consecutive versions, never two with the same number.
//! - A connection found closed (server restart, network) is re-opened
//!   before the next call; a read that fails because the connection
//!   closed under it is tried once more on a new connection (a write is
//!   not: it may have committed; the error is returned and the next call
//!   reconnects).
//! - The connection is in clear text (`NoTls`): use a local socket, a
//!   loopback address or a private network, or a TLS tunnel.
//!
//! This is the blocking `postgres` client, which drives its own Tokio
//! runtime: **do not call it from a Tokio runtime thread** (it would
//! panic with "Cannot start a runtime from within a runtime"). Async
//! code calls it through `tokio::task::spawn_blocking` or from a plain
//! thread.

use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use mta_sts_core::hosting::policy_id;
use postgres::{Client, Config, NoTls, Row, Transaction};

use crate::sqlite::{make_version, next_version, parse_settings, settings_json, version_i64};
use crate::store::{
    Domain, NewPolicy, OrderStatus, PolicyVersion, SiteStore, StoreError, StoredCertificate,
};

/// The connect timeout used when the URL sets none.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// The advisory lock key held while the tables are created.
const SCHEMA_LOCK: i64 = 0x6d74_6173_7473_0001;

const DOMAIN_COLS: &str = "name, settings, mode_since, created_at, removing_until, current_version";
const VERSION_COLS: &str = "version, id, body, mode, created_at";
const CERT_COLS: &str = "host, chain_pem, key_pem, not_after, updated_at";

/// The PostgreSQL site store (see the module docs).
pub struct PgSiteStore {
    config: Config,
    client: Mutex<Client>,
}

impl std::fmt::Debug for PgSiteStore {
    /// Neither the URL nor the password is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSiteStore")
            .field("hosts", &self.config.get_hosts().len())
            .field("dbname", &self.config.get_dbname())
            .finish_non_exhaustive()
    }
}

pub(crate) fn pg(e: postgres::Error) -> StoreError {
    StoreError::Postgres(e)
}

impl PgSiteStore {
    /// Connect to `url` (a `postgres://` URL or a `key=value` string;
    /// [`CONNECT_TIMEOUT`] when it sets no `connect_timeout`) and create
    /// the tables when missing.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] when the URL is invalid or the server
    /// cannot be reached or refuses; [`StoreError::Corrupt`] when the
    /// database holds a newer schema.
    ///
    /// Must not be called from a Tokio runtime thread (see the module
    /// docs).
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config = Config::from_str(url).map_err(pg)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("mtasts-site");
        }
        let mut client = config.connect(NoTls).map_err(pg)?;
        create_schema(&mut client)?;
        Ok(Self {
            config,
            client: Mutex::new(client),
        })
    }

    /// The connection, re-opened when it was found closed.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Client>, StoreError> {
        let mut guard = self
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_closed() {
            tracing::warn!("site database connection closed; reconnecting");
            *guard = self.config.connect(NoTls).map_err(pg)?;
        }
        Ok(guard)
    }

    /// Run `f` in one transaction (read committed; domain rows are
    /// locked by the writers that need it) that also bumps the
    /// generation.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_if(|tx| f(tx).map(|t| (t, true)))
    }

    /// As [`Self::write`], bumping the generation only when `f` says it
    /// wrote something.
    fn write_if<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<(T, bool), StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(pg)?;
        let (out, wrote) = f(&mut tx)?;
        if wrote {
            // Last, so the generation row (which every writer updates)
            // is locked for as short a time as possible and always after
            // the domain rows: no lock-order deadlock.
            tx.execute(
                "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
                &[],
            )
            .map_err(pg)?;
        }
        tx.commit().map_err(pg)?;
        Ok(out)
    }

    /// Run `f` in one repeatable-read, read-only transaction (a
    /// consistent snapshot).
    ///
    /// A read that fails because the connection closed under it is
    /// tried once more on a new connection.
    pub(crate) fn read<T>(
        &self,
        f: impl Fn(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.lock()?;
        match read_in(&mut client, &f) {
            Err(StoreError::Postgres(e)) if lost(&client, &e) => {
                tracing::warn!(error = %e, "site database connection lost; reconnecting");
                *client = self.config.connect(NoTls).map_err(pg)?;
                read_in(&mut client, &f)
            }
            r => r,
        }
    }

    /// One query outside a transaction, tried once more on a new
    /// connection when the connection closed under it.
    fn query_retry<T>(
        &self,
        f: impl Fn(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut client = self.lock()?;
        match f(&mut client) {
            Err(e) if lost(&client, &e) => {
                tracing::warn!(error = %e, "site database connection lost; reconnecting");
                *client = self.config.connect(NoTls).map_err(pg)?;
                f(&mut client).map_err(pg)
            }
            r => r.map_err(pg),
        }
    }
}

/// Whether `e` means the connection is gone: closed, or its backend
/// terminated (the error can arrive before the client notices the
/// close).
fn lost(client: &Client, e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    client.is_closed()
        || e.is_closed()
        || e.code().is_some_and(|c| {
            *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        })
}

/// Run `f` in one repeatable-read, read-only transaction.
fn read_in<T>(
    client: &mut Client,
    f: &impl Fn(&mut Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(pg)?;
    let out = f(&mut tx)?;
    tx.commit().map_err(pg)?;
    Ok(out)
}

/// The PostgreSQL form of a schema written for SQLite: the one schema
/// text of each part of the store (site, alerts, inbox) serves both
/// backends. `INTEGER PRIMARY KEY AUTOINCREMENT` becomes `BIGSERIAL
/// PRIMARY KEY`, `INTEGER` `BIGINT` (SQLite's integers are 64-bit),
/// `BLOB` `BYTEA`; the rest of the text is SQL both accept.
pub(crate) fn ddl(sqlite: &str) -> String {
    let mut out = String::with_capacity(sqlite.len() + 64);
    let text = sqlite
        .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
        .replace(" BLOB", " BYTEA");
    // `INTEGER` as a whole word.
    let mut rest = text.as_str();
    while let Some(i) = rest.find("INTEGER") {
        let before = rest[..i].chars().next_back();
        let after = rest[i + 7..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        out.push_str(&rest[..i]);
        out.push_str(if word(before) || word(after) {
            "INTEGER"
        } else {
            "BIGINT"
        });
        rest = &rest[i + 7..];
    }
    out.push_str(rest);
    out
}

fn create_schema(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(pg)?;
    tx.batch_execute(&ddl(crate::sqlite::SCHEMA)).map_err(pg)?;
    crate::inbox::pg::create_schema(&mut tx)?;
    tx.batch_execute(&ddl(crate::alerts::sqlite::SCHEMA))
        .map_err(pg)?;
    tx.batch_execute(crate::web::users::PG_SCHEMA).map_err(pg)?;
    let row = tx
        .query_one("SELECT value FROM meta WHERE key = 'schema_version'", &[])
        .map_err(pg)?;
    let version: i64 = row.try_get(0).map_err(pg)?;
    if version != SCHEMA_VERSION {
        return Err(StoreError::Corrupt {
            what: "schema version",
            detail: format!("database schema {version}, this program reads {SCHEMA_VERSION}"),
        });
    }
    tx.commit().map_err(pg)
}

fn domain_of(tx: &mut Transaction<'_>, row: &Row) -> Result<Domain, StoreError> {
    let name: String = row.try_get(0).map_err(pg)?;
    let current_version: i64 = row.try_get(5).map_err(pg)?;
    let vrow = tx
        .query_opt(
            &format!(
                "SELECT {VERSION_COLS} FROM policy_versions WHERE domain = $1 AND version = $2"
            ),
            &[&name, &current_version],
        )
        .map_err(pg)?
        .ok_or_else(|| StoreError::Corrupt {
            what: "domain",
            detail: format!("{name}: current version {current_version} is missing"),
        })?;
    domain_with(row, version_of(&vrow)?)
}

/// The domain of a `DOMAIN_COLS` row whose current version is `current`.
fn domain_with(row: &Row, current: PolicyVersion) -> Result<Domain, StoreError> {
    let name: String = row.try_get(0).map_err(pg)?;
    let settings: String = row.try_get(1).map_err(pg)?;
    Ok(Domain {
        settings: parse_settings(&name, &settings)?,
        name,
        current,
        mode_since: row.try_get(2).map_err(pg)?,
        created_at: row.try_get(3).map_err(pg)?,
        removing_until: row.try_get(4).map_err(pg)?,
    })
}

fn version_of(row: &Row) -> Result<PolicyVersion, StoreError> {
    let mode: String = row.try_get(3).map_err(pg)?;
    make_version(
        row.try_get(0).map_err(pg)?,
        row.try_get(1).map_err(pg)?,
        row.try_get(2).map_err(pg)?,
        &mode,
        row.try_get(4).map_err(pg)?,
    )
}

fn cert_of(row: &Row) -> Result<StoredCertificate, StoreError> {
    Ok(StoredCertificate {
        host: row.try_get(0).map_err(pg)?,
        chain_pem: row.try_get(1).map_err(pg)?,
        key_pem: row.try_get(2).map_err(pg)?,
        not_after: row.try_get(3).map_err(pg)?,
        updated_at: row.try_get(4).map_err(pg)?,
    })
}

fn load_domain(
    tx: &mut Transaction<'_>,
    name: &str,
    for_update: bool,
) -> Result<Option<Domain>, StoreError> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let row = tx
        .query_opt(
            &format!("SELECT {DOMAIN_COLS} FROM domains WHERE name = $1{lock}"),
            &[&name],
        )
        .map_err(pg)?;
    match row {
        None => Ok(None),
        Some(row) => domain_of(tx, &row).map(Some),
    }
}

fn delete_in(tx: &mut Transaction<'_>, name: &str) -> Result<bool, StoreError> {
    let n = tx
        .execute("DELETE FROM domains WHERE name = $1", &[&name])
        .map_err(pg)?;
    tx.execute("DELETE FROM policy_versions WHERE domain = $1", &[&name])
        .map_err(pg)?;
    let host = mta_sts_core::policy::policy_host(name);
    tx.execute("DELETE FROM acme_orders WHERE host = $1", &[&host])
        .map_err(pg)?;
    Ok(n > 0)
}

impl SiteStore for PgSiteStore {
    fn add_domain(&self, name: &str, new: &NewPolicy, now: i64) -> Result<Domain, StoreError> {
        let settings = settings_json(&new.settings)?;
        let id = policy_id(now, 1);
        self.write(|tx| {
            let n = tx
                .execute(
                    "INSERT INTO domains (name, settings, mode_since, created_at, removing_until, current_version)
                     VALUES ($1, $2, $3, $3, $4, 1) ON CONFLICT (name) DO NOTHING",
                    &[&name, &settings, &now, &new.removing_until],
                )
                .map_err(pg)?;
            if n == 0 {
                return Err(StoreError::Exists(name.to_owned()));
            }
            tx.execute("DELETE FROM policy_versions WHERE domain = $1", &[&name])
                .map_err(pg)?;
            tx.execute(
                "INSERT INTO policy_versions (domain, version, id, body, mode, created_at)
                 VALUES ($1, 1, $2, $3, $4, $5)",
                &[&name, &id, &new.body, &new.settings.mode.as_str(), &now],
            )
            .map_err(pg)?;
            load_domain(tx, name, false)?.ok_or_else(|| StoreError::NotFound(name.to_owned()))
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
            // The row lock serializes concurrent updates of one domain:
            // the second waits and then reads the first one's version.
            let old = load_domain(tx, name, true)?
                .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
            let changed = old.current.body != new.body;
            let mut current_version = old.current.version;
            if changed {
                let (version, created, id) = next_version(&old.current, now);
                tx.execute(
                    "INSERT INTO policy_versions (domain, version, id, body, mode, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &name,
                        &version_i64(version)?,
                        &id,
                        &new.body,
                        &new.settings.mode.as_str(),
                        &created,
                    ],
                )
                .map_err(pg)?;
                current_version = version;
            }
            let mode_since = if old.settings.mode == new.settings.mode {
                old.mode_since
            } else {
                now
            };
            tx.execute(
                "UPDATE domains SET settings = $2, mode_since = $3, removing_until = $4,
                 current_version = $5 WHERE name = $1",
                &[
                    &name,
                    &settings,
                    &mode_since,
                    &new.removing_until,
                    &version_i64(current_version)?,
                ],
            )
            .map_err(pg)?;
            let d = load_domain(tx, name, false)?
                .ok_or_else(|| StoreError::NotFound(name.to_owned()))?;
            Ok((d, changed))
        })
    }

    fn delete_domain(&self, name: &str) -> Result<bool, StoreError> {
        self.write(|tx| delete_in(tx, name))
    }

    fn purge_removed(&self, now: i64) -> Result<Vec<String>, StoreError> {
        // Nothing deleted, nothing written: the generation stays (see
        // the SQLite store).
        self.write_if(|tx| {
            let rows = tx
                .query(
                    "SELECT name FROM domains WHERE removing_until IS NOT NULL
                     AND removing_until < $1 ORDER BY name FOR UPDATE",
                    &[&now],
                )
                .map_err(pg)?;
            let names = rows
                .iter()
                .map(|r| r.try_get::<_, String>(0).map_err(pg))
                .collect::<Result<Vec<_>, _>>()?;
            for n in &names {
                delete_in(tx, n)?;
            }
            let wrote = !names.is_empty();
            Ok((names, wrote))
        })
    }

    fn domain(&self, name: &str) -> Result<Option<Domain>, StoreError> {
        self.read(|tx| load_domain(tx, name, false))
    }

    fn domains(&self) -> Result<Vec<Domain>, StoreError> {
        self.read(|tx| {
            // One query for the domains and their current versions, not
            // one more per domain: a serving node reloads them all.
            let rows = tx
                .query(
                    "SELECT d.name, d.settings, d.mode_since, d.created_at, d.removing_until, \
                     d.current_version, v.version, v.id, v.body, v.mode, v.created_at \
                     FROM domains d JOIN policy_versions v \
                     ON v.domain = d.name AND v.version = d.current_version ORDER BY d.name",
                    &[],
                )
                .map_err(pg)?;
            let domains = rows
                .iter()
                .map(|r| {
                    let mode: String = r.try_get(9).map_err(pg)?;
                    let current = make_version(
                        r.try_get(6).map_err(pg)?,
                        r.try_get(7).map_err(pg)?,
                        r.try_get(8).map_err(pg)?,
                        &mode,
                        r.try_get(10).map_err(pg)?,
                    )?;
                    domain_with(r, current)
                })
                .collect::<Result<Vec<_>, _>>()?;
            // A domain whose current version is missing is an error, as
            // in `domain`, not left out.
            let total: i64 = tx
                .query_one("SELECT count(*) FROM domains", &[])
                .map_err(pg)?
                .try_get(0)
                .map_err(pg)?;
            if usize::try_from(total).ok() != Some(domains.len()) {
                return Err(StoreError::Corrupt {
                    what: "domain",
                    detail: format!(
                        "{} of {total} domains have no stored current version",
                        total - i64::try_from(domains.len()).unwrap_or(i64::MAX)
                    ),
                });
            }
            Ok(domains)
        })
    }

    fn history(&self, name: &str) -> Result<Vec<PolicyVersion>, StoreError> {
        self.read(|tx| {
            let rows = tx
                .query(
                    &format!(
                        "SELECT {VERSION_COLS} FROM policy_versions WHERE domain = $1 ORDER BY version"
                    ),
                    &[&name],
                )
                .map_err(pg)?;
            rows.iter().map(version_of).collect()
        })
    }

    fn generation(&self) -> Result<u64, StoreError> {
        let row = self
            .query_retry(|c| c.query_one("SELECT value FROM meta WHERE key = 'generation'", &[]))?;
        let g: i64 = row.try_get(0).map_err(pg)?;
        Ok(u64::try_from(g).unwrap_or(0))
    }

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .query_retry(|c| c.query_opt("SELECT value FROM settings WHERE key = $1", &[&key]))?;
        row.map(|r| r.try_get(0).map_err(pg)).transpose()
    }

    fn set_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        self.write(|tx| {
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO settings (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&key, &v],
                ),
                None => tx.execute("DELETE FROM settings WHERE key = $1", &[&key]),
            }
            .map_err(pg)?;
            Ok(())
        })
    }

    fn certificate(&self, host: &str) -> Result<Option<StoredCertificate>, StoreError> {
        let row = self.query_retry(|c| {
            c.query_opt(
                &format!("SELECT {CERT_COLS} FROM certificates WHERE host = $1"),
                &[&host],
            )
        })?;
        row.as_ref().map(cert_of).transpose()
    }

    fn certificates(&self) -> Result<Vec<StoredCertificate>, StoreError> {
        let rows = self.query_retry(|c| {
            c.query(
                &format!("SELECT {CERT_COLS} FROM certificates ORDER BY host"),
                &[],
            )
        })?;
        rows.iter().map(cert_of).collect()
    }

    fn put_certificate(&self, cert: &StoredCertificate) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO certificates (host, chain_pem, key_pem, not_after, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (host) DO UPDATE SET chain_pem = excluded.chain_pem,
                 key_pem = excluded.key_pem, not_after = excluded.not_after,
                 updated_at = excluded.updated_at",
                &[
                    &cert.host,
                    &cert.chain_pem,
                    &cert.key_pem,
                    &cert.not_after,
                    &cert.updated_at,
                ],
            )
            .map_err(pg)?;
            Ok(())
        })
    }

    fn acme_account(&self, directory: &str) -> Result<Option<String>, StoreError> {
        let row = self.query_retry(|c| {
            c.query_opt(
                "SELECT credentials FROM acme_accounts WHERE directory = $1",
                &[&directory],
            )
        })?;
        row.map(|r| r.try_get(0).map_err(pg)).transpose()
    }

    fn put_acme_account(&self, directory: &str, credentials_json: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO acme_accounts (directory, credentials) VALUES ($1, $2)
                 ON CONFLICT (directory) DO UPDATE SET credentials = excluded.credentials",
                &[&directory, &credentials_json],
            )
            .map_err(pg)?;
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
            tx.execute(
                "INSERT INTO acme_orders (host) VALUES ($1) ON CONFLICT (host) DO NOTHING",
                &[&host],
            )
            .map_err(pg)?;
            let row = tx
                .query_one(
                    "SELECT holder, claimed_until FROM acme_orders WHERE host = $1 FOR UPDATE",
                    &[&host],
                )
                .map_err(pg)?;
            let h: Option<String> = row.try_get(0).map_err(pg)?;
            let claimed_until: i64 = row.try_get(1).map_err(pg)?;
            let free = h.is_none() || h.as_deref() == Some(holder) || claimed_until <= now;
            if !free {
                return Ok((false, false));
            }
            tx.execute(
                "UPDATE acme_orders SET holder = $2, claimed_until = $3 WHERE host = $1",
                &[&host, &holder, &until],
            )
            .map_err(pg)?;
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
                 VALUES ($1, NULL, 0, $3, $4, $5)
                 ON CONFLICT (host) DO UPDATE SET
                 holder = CASE WHEN acme_orders.holder = $2 THEN NULL ELSE acme_orders.holder END,
                 claimed_until = CASE WHEN acme_orders.holder = $2 THEN 0 ELSE acme_orders.claimed_until END,
                 failures = excluded.failures, next_attempt = excluded.next_attempt,
                 last_error = excluded.last_error",
                &[
                    &host,
                    &holder,
                    &i64::from(status.failures),
                    &status.next_attempt,
                    &status.last_error,
                ],
            )
            .map_err(pg)?;
            Ok(())
        })
    }

    fn order_status(&self, host: &str) -> Result<OrderStatus, StoreError> {
        let row = self.query_retry(|c| {
            c.query_opt(
                "SELECT failures, next_attempt, last_error FROM acme_orders WHERE host = $1",
                &[&host],
            )
        })?;
        match row {
            None => Ok(OrderStatus::default()),
            Some(r) => {
                let failures: i64 = r.try_get(0).map_err(pg)?;
                Ok(OrderStatus {
                    failures: u32::try_from(failures.max(0)).unwrap_or(u32::MAX),
                    next_attempt: r.try_get(1).map_err(pg)?,
                    last_error: r.try_get(2).map_err(pg)?,
                })
            }
        }
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

#[cfg(test)]
mod tests {
    use super::ddl;

    #[test]
    fn ddl_maps_sqlite_types_as_whole_words() {
        assert_eq!(
            ddl(
                "id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL, b BLOB, x INTEGERS, y MY_INTEGER,\nz INTEGER)"
            ),
            "id BIGSERIAL PRIMARY KEY, n BIGINT NOT NULL, b BYTEA, x INTEGERS, y MY_INTEGER,\nz BIGINT)"
        );
        for schema in [
            crate::sqlite::SCHEMA,
            crate::alerts::sqlite::SCHEMA,
            crate::inbox::sqlite::SCHEMA,
        ] {
            let pg = ddl(schema);
            for sqlite_only in ["AUTOINCREMENT", "BLOB", " INTEGER", "OR IGNORE"] {
                assert!(!pg.contains(sqlite_only), "{sqlite_only} in {pg}");
            }
        }
    }
}
