//! Web accounts and sessions in the site store: `web_users` (one row per
//! account: admin flag, visible domains, the login token's id and its
//! argon2id hash) and `web_sessions` (one row per browser session: the
//! SHA-256 of the session id, the account, the CSRF token, the expiry).
//! Both backends have the same tables and behaviour ([`UserStore`] for
//! [`SqliteStore`] and [`PgSiteStore`]). Account writes do not bump the
//! store's generation (serving nodes read accounts on demand).

use rusqlite::{OptionalExtension, params};

use crate::pg::PgSiteStore;
use crate::sqlite::SqliteStore;
use crate::store::StoreError;

/// The SQLite tables (run by [`SqliteStore::open`]).
pub(crate) const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS web_users (
    name TEXT PRIMARY KEY NOT NULL,
    admin INTEGER NOT NULL,
    domains TEXT NOT NULL,
    token_id TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_name TEXT NOT NULL REFERENCES web_users (name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_user ON web_sessions (user_name);
";

/// The PostgreSQL tables (run by [`PgSiteStore::connect`]).
pub(crate) const PG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS web_users (
    name TEXT PRIMARY KEY NOT NULL,
    admin BOOLEAN NOT NULL,
    domains TEXT NOT NULL,
    token_id TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_name TEXT NOT NULL REFERENCES web_users (name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_user ON web_sessions (user_name);
";

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// The account name.
    pub name: String,
    /// Admins see every domain.
    pub admin: bool,
    /// The domains the account sees (lower case, no final dot).
    pub domains: Vec<String>,
    /// The public part of the login token (`ID` of `ID.SECRET`).
    #[serde(skip)]
    pub token_id: String,
    /// The argon2id PHC string of the token's secret.
    #[serde(skip)]
    pub token_hash: String,
    /// When it was added (Unix seconds).
    pub created_at: i64,
}

/// A browser session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The SHA-256 (hex) of the session id in the cookie.
    pub id_hash: String,
    /// The account.
    pub user: String,
    /// The CSRF token every form of the session carries.
    pub csrf: String,
    /// When it ends (Unix seconds).
    pub expires_at: i64,
}

/// The account tables (blocking, like [`crate::store::SiteStore`]).
pub trait UserStore: Send + Sync {
    /// Store a new account.
    ///
    /// # Errors
    ///
    /// [`StoreError::Exists`] when the name is taken.
    fn add_user(&self, user: &User) -> Result<(), StoreError>;

    /// Every account, by name.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn users(&self) -> Result<Vec<User>, StoreError>;

    /// One account by name.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn user(&self, name: &str) -> Result<Option<User>, StoreError>;

    /// The account whose token id is `token_id`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn user_by_token(&self, token_id: &str) -> Result<Option<User>, StoreError>;

    /// Replace an account's token (the old one stops working, and its
    /// sessions end). False when there is no such account.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn set_token(&self, name: &str, token_id: &str, token_hash: &str) -> Result<bool, StoreError>;

    /// Delete an account and its sessions. False when there was none.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn remove_user(&self, name: &str) -> Result<bool, StoreError>;

    /// Store a session (and delete expired ones).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn put_session(&self, session: &Session, now: i64) -> Result<(), StoreError>;

    /// The unexpired session with this id hash.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn session(&self, id_hash: &str, now: i64) -> Result<Option<Session>, StoreError>;

    /// End a session.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
}

fn domains_json(d: &[String]) -> String {
    serde_json::to_string(d).unwrap_or_else(|_| "[]".to_owned())
}

fn parse_domains(json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: "account domains",
        detail: e.to_string(),
    })
}

const COLS: &str = "name, admin, domains, token_id, token_hash, created_at";

fn sqlite_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<(User, String)> {
    Ok((
        User {
            name: r.get(0)?,
            admin: r.get::<_, i64>(1)? != 0,
            domains: Vec::new(),
            token_id: r.get(3)?,
            token_hash: r.get(4)?,
            created_at: r.get(5)?,
        },
        r.get(2)?,
    ))
}

fn with_domains((mut u, d): (User, String)) -> Result<User, StoreError> {
    u.domains = parse_domains(&d)?;
    Ok(u)
}

impl SqliteStore {
    fn one_user(&self, sql: &str, key: &str) -> Result<Option<User>, StoreError> {
        let conn = self.lock();
        let row = conn
            .query_row(sql, [key], sqlite_user)
            .optional()
            .map_err(|e| self.err(e))?;
        row.map(with_domains).transpose()
    }
}

impl UserStore for SqliteStore {
    fn add_user(&self, u: &User) -> Result<(), StoreError> {
        let conn = self.lock();
        let n = conn
            .execute(
                "INSERT INTO web_users (name, admin, domains, token_id, token_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING",
                params![
                    u.name,
                    i64::from(u.admin),
                    domains_json(&u.domains),
                    u.token_id,
                    u.token_hash,
                    u.created_at
                ],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::Exists(format!("account {}", u.name)));
        }
        Ok(())
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(&format!("SELECT {COLS} FROM web_users ORDER BY name"))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], sqlite_user)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(with_domains).collect()
    }

    fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.one_user(
            &format!("SELECT {COLS} FROM web_users WHERE name = ?1"),
            name,
        )
    }

    fn user_by_token(&self, token_id: &str) -> Result<Option<User>, StoreError> {
        self.one_user(
            &format!("SELECT {COLS} FROM web_users WHERE token_id = ?1"),
            token_id,
        )
    }

    fn set_token(&self, name: &str, token_id: &str, token_hash: &str) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let n = tx
            .execute(
                "UPDATE web_users SET token_id = ?2, token_hash = ?3 WHERE name = ?1",
                params![name, token_id, token_hash],
            )
            .map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM web_sessions WHERE user_name = ?1", [name])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM web_sessions WHERE user_name = ?1", [name])
            .map_err(|e| self.err(e))?;
        let n = tx
            .execute("DELETE FROM web_users WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    fn put_session(&self, s: &Session, now: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute("DELETE FROM web_sessions WHERE expires_at <= ?1", [now])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO web_sessions (id_hash, user_name, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![s.id_hash, s.user, s.csrf, s.expires_at],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn session(&self, id_hash: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT id_hash, user_name, csrf, expires_at FROM web_sessions
             WHERE id_hash = ?1 AND expires_at > ?2",
            params![id_hash, now],
            |r| {
                Ok(Session {
                    id_hash: r.get(0)?,
                    user: r.get(1)?,
                    csrf: r.get(2)?,
                    expires_at: r.get(3)?,
                })
            },
        )
        .optional()
        .map_err(|e| self.err(e))
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute("DELETE FROM web_sessions WHERE id_hash = ?1", [id_hash])
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

fn pg(e: postgres::Error) -> StoreError {
    StoreError::Postgres(e)
}

fn pg_user(r: &postgres::Row) -> Result<User, StoreError> {
    let d: String = r.try_get(2).map_err(pg)?;
    Ok(User {
        name: r.try_get(0).map_err(pg)?,
        admin: r.try_get(1).map_err(pg)?,
        domains: parse_domains(&d)?,
        token_id: r.try_get(3).map_err(pg)?,
        token_hash: r.try_get(4).map_err(pg)?,
        created_at: r.try_get(5).map_err(pg)?,
    })
}

impl PgSiteStore {
    fn pg_users(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<User>, StoreError> {
        let mut client = self.lock()?;
        let rows = client.query(sql, params).map_err(pg)?;
        rows.iter().map(pg_user).collect()
    }
}

impl UserStore for PgSiteStore {
    fn add_user(&self, u: &User) -> Result<(), StoreError> {
        let mut client = self.lock()?;
        let n = client
            .execute(
                "INSERT INTO web_users (name, admin, domains, token_id, token_hash, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
                &[
                    &u.name,
                    &u.admin,
                    &domains_json(&u.domains),
                    &u.token_id,
                    &u.token_hash,
                    &u.created_at,
                ],
            )
            .map_err(pg)?;
        if n == 0 {
            return Err(StoreError::Exists(format!("account {}", u.name)));
        }
        Ok(())
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.pg_users(&format!("SELECT {COLS} FROM web_users ORDER BY name"), &[])
    }

    fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .pg_users(
                &format!("SELECT {COLS} FROM web_users WHERE name = $1"),
                &[&name],
            )?
            .into_iter()
            .next())
    }

    fn user_by_token(&self, token_id: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .pg_users(
                &format!("SELECT {COLS} FROM web_users WHERE token_id = $1"),
                &[&token_id],
            )?
            .into_iter()
            .next())
    }

    fn set_token(&self, name: &str, token_id: &str, token_hash: &str) -> Result<bool, StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(pg)?;
        let n = tx
            .execute(
                "UPDATE web_users SET token_id = $2, token_hash = $3 WHERE name = $1",
                &[&name, &token_id, &token_hash],
            )
            .map_err(pg)?;
        tx.execute("DELETE FROM web_sessions WHERE user_name = $1", &[&name])
            .map_err(pg)?;
        tx.commit().map_err(pg)?;
        Ok(n > 0)
    }

    fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(pg)?;
        tx.execute("DELETE FROM web_sessions WHERE user_name = $1", &[&name])
            .map_err(pg)?;
        let n = tx
            .execute("DELETE FROM web_users WHERE name = $1", &[&name])
            .map_err(pg)?;
        tx.commit().map_err(pg)?;
        Ok(n > 0)
    }

    fn put_session(&self, s: &Session, now: i64) -> Result<(), StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(pg)?;
        tx.execute("DELETE FROM web_sessions WHERE expires_at <= $1", &[&now])
            .map_err(pg)?;
        tx.execute(
            "INSERT INTO web_sessions (id_hash, user_name, csrf, expires_at) VALUES ($1, $2, $3, $4)",
            &[&s.id_hash, &s.user, &s.csrf, &s.expires_at],
        )
        .map_err(pg)?;
        tx.commit().map_err(pg)
    }

    fn session(&self, id_hash: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let mut client = self.lock()?;
        let row = client
            .query_opt(
                "SELECT id_hash, user_name, csrf, expires_at FROM web_sessions
                 WHERE id_hash = $1 AND expires_at > $2",
                &[&id_hash, &now],
            )
            .map_err(pg)?;
        row.map(|r| {
            Ok(Session {
                id_hash: r.try_get(0).map_err(pg)?,
                user: r.try_get(1).map_err(pg)?,
                csrf: r.try_get(2).map_err(pg)?,
                expires_at: r.try_get(3).map_err(pg)?,
            })
        })
        .transpose()
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let mut client = self.lock()?;
        client
            .execute("DELETE FROM web_sessions WHERE id_hash = $1", &[&id_hash])
            .map_err(pg)?;
        Ok(())
    }
}
