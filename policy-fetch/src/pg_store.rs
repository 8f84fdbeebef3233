//! A policy store in PostgreSQL, shared by several MTAs (feature
//! `postgres`).
//!
//! Every node (an MTA running the policy service, such as `mtasts
//! daemon`) that is given the same database and table shares one cache:
//!
//! - entries survive restarts, as with the embedded store;
//! - a node that has not seen a domain yet uses the policy that another
//!   node stored, without a fetch of its own ([`Store::get`]);
//! - one node at a time discovers a domain: the others wait briefly, then
//!   read its result ([`Store::claim_discovery`], a PostgreSQL session
//!   advisory lock per domain);
//! - a write never replaces a newer entry by an older one
//!   ([`crate::store::is_newer_or_same`], evaluated by the server in the
//!   `INSERT ... ON CONFLICT` itself, so two nodes writing at once cannot
//!   undo each other). The nodes' clocks must be synchronised (NTP).
//!
//! ```no_run
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use policy_fetch::pg_store::{PgOptions, PgStore};
//! use policy_fetch::{Dns, FetchConfig, MtaSts, PolicyClient, Roots, Settings};
//!
//! // Before serving (it blocks), or inside tokio::task::spawn_blocking.
//! let store = PgStore::connect_with(
//!     "postgresql://mtasts@db.internal/mail?application_name=mx1",
//!     PgOptions { table: "mtasts.policy_cache".into(), ..PgOptions::default() },
//! )?;
//! let dns = Dns::system()?;
//! let http = PolicyClient::new(dns.clone(), &Roots::system(), FetchConfig::default())?;
//! let (sts, skipped) = MtaSts::new(dns, http, Arc::new(store), Settings::default())?;
//! for s in &skipped {
//!     eprintln!("store: skipped {}: {}", s.domain, s.reason);
//! }
//! # let _ = sts; Ok(()) }
//! ```
//!
//! # Connection
//!
//! The connection string is a libpq URL (`postgresql://user@host/db`) or
//! key/value string (`host=/run/postgresql dbname=mail`), as
//! `tokio_postgres::Config` reads it; a Unix socket is given by a
//! directory as the host. There is no TLS: the connection must stay on the
//! host (Unix socket, loopback) or on a network you trust; a connection
//! string that requires TLS (`sslmode=require`) fails to connect. TLS is
//! not offered yet.
//!
//! One connection per store, owned by a thread of the store's own (with a
//! small tokio runtime): the methods send it a request and wait for the
//! answer, so they work from any thread — tokio's blocking pool, plain
//! threads, and even (blocking it, which the policy service never does) an
//! async task — and dropping the store anywhere is safe. Requests run one
//! after the other; at most [`PgOptions::max_queued`] wait.
//!
//! # Failures and time limits
//!
//! Every failure is a [`StoreError`] naming the operation, the domain and
//! the server (never the password). Nothing waits for ever:
//!
//! - connecting takes at most [`PgOptions::connect_timeout`] (unless the
//!   connection string sets `connect_timeout`);
//! - each statement at most [`PgOptions::statement_timeout`], enforced by
//!   the server (`statement_timeout`, `lock_timeout`) and, in case the
//!   server stops answering at all, by the client (which then drops the
//!   connection);
//! - a lost connection (server restart, terminated backend) is opened
//!   again by the next request, which is then tried once more;
//! - after a failed connection attempt, requests fail at once for
//!   [`PgOptions::retry_after`], so that a dead server costs each waiting
//!   delivery one error, not one time-out. Requests run one after the
//!   other, so while the server is down, once per `retry_after` every
//!   request waits for one connection attempt (`connect_timeout` at most).
//!
//! The policy service treats every store failure as a warning of the
//! lookup and goes on as without the store (discovering by itself,
//! keeping the policy in memory): a database outage costs fetches, not
//! deliveries.
//!
//! # Schema
//!
//! Created when missing, under an advisory lock so that nodes starting
//! together do not race (creating needs the `CREATE` privilege; with
//! tables that an administrator created, `SELECT`, `INSERT`, `UPDATE`,
//! `DELETE` are enough):
//!
//! ```sql
//! CREATE TABLE mtasts_policy_cache_meta (key text PRIMARY KEY, value text NOT NULL);
//! -- ('schema_version', '1'): a later version of this program migrates from it;
//! -- a version newer than this program knows is refused.
//! CREATE TABLE mtasts_policy_cache (
//!     domain            text PRIMARY KEY,      -- the Policy Domain
//!     entry             text NOT NULL,         -- JSON of mta_sts_core::discovery::CacheEntry
//!     policy_id         text,                  -- the TXT id of its policy
//!     policy_fetched_at bigint NOT NULL DEFAULT 0,  -- Unix seconds, 0 = no policy
//!     policy_expires_at bigint NOT NULL DEFAULT 0,
//!     failure_at        bigint NOT NULL DEFAULT 0,  -- last failed fetch, 0 = none
//!     last_used         bigint NOT NULL DEFAULT 0,  -- the latest use by any node
//!     updated_at        timestamptz NOT NULL DEFAULT now()
//! );
//! ```
//!
//! The columns beside `entry` are there for the newer-wins rule and for
//! operators' queries; entries are read from `entry` (validated again, as
//! the embedded store's are) and `last_used`.
//!
//! # Sharing, and what is not shared
//!
//! A node that evicts a domain (unused for `evict_after`, or its cache
//! full) removes it from the shared table too; a node that still uses it
//! stores it again at its next discovery or refresh. Give every node the
//! same cache limits, or the node with the smallest ones trims the table
//! for all at start-up.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mta_sts_core::discovery::CacheEntry;
use tokio::sync::mpsc;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls, Statement};

use crate::error::{BoxError, StoreError, StoreOp};
use crate::store::{Claim, Loaded, SkippedEntry, Store, freshness};

/// The schema version this code writes and reads.
const SCHEMA_VERSION: &str = "1";

/// How many characters of a stored domain name an error or a skipped
/// entry shows, at most.
const SHOWN_DOMAIN: usize = 256;

/// Settings of a [`PgStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// The table, optionally schema-qualified (`name` or `schema.name`;
    /// lower-case letters, digits and `_`, starting with a letter or `_`).
    /// A second table, `<name>_meta`, holds the schema version. The schema
    /// itself must exist. Default `mtasts_policy_cache`.
    pub table: String,
    /// How long connecting may take, unless the connection string sets
    /// `connect_timeout` (default 5 s).
    pub connect_timeout: Duration,
    /// How long one statement may take (default 5 s).
    pub statement_timeout: Duration,
    /// How long [`Store::load_all`] may take (default 60 s).
    pub load_timeout: Duration,
    /// After a failed connection attempt, requests fail at once for this
    /// long (default 10 s).
    pub retry_after: Duration,
    /// How long a node waits for another node's discovery of the same
    /// domain before it discovers the domain itself (default 10 s; zero
    /// disables the claims, so every node discovers by itself).
    pub claim_wait: Duration,
    /// Stored entries larger than this are skipped (default 1 MiB; a
    /// policy is at most 64 KiB).
    pub max_entry_bytes: usize,
    /// Entries that [`Store::load_all`] loads, at most: the ones used
    /// most recently (default 1,000,000).
    pub max_load_entries: usize,
    /// Requests waiting for the connection, at most (default 1024);
    /// beyond, requests fail at once.
    pub max_queued: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            table: "mtasts_policy_cache".to_owned(),
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            load_timeout: Duration::from_secs(60),
            retry_after: Duration::from_secs(10),
            claim_wait: Duration::from_secs(10),
            max_entry_bytes: 1 << 20,
            max_load_entries: 1_000_000,
            max_queued: 1024,
        }
    }
}

/// The PostgreSQL store (see the [module docs](self)).
pub struct PgStore {
    requests: mpsc::Sender<Request>,
    /// The server, without the password, for errors.
    server: Arc<str>,
    options: PgOptions,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("server", &self.server)
            .field("table", &self.options.table)
            .finish_non_exhaustive()
    }
}

/// A failure of the database or the connection; the `StoreError`'s
/// source. Shown as `server: what` (only `what` when the server is empty:
/// when opening, where the `StoreError`'s target is the server already).
#[derive(Debug)]
struct PgError {
    /// The server (without the password).
    server: Arc<str>,
    /// What failed.
    what: String,
    /// Why, when a lower layer said.
    source: Option<BoxError>,
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.server.is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "{}: {}", self.server, self.what)
        }
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// One request to the connection thread.
struct Request {
    op: Op,
    /// After this instant nobody waits for the answer any more.
    deadline: Instant,
    reply: std::sync::mpsc::SyncSender<Result<Reply, PgError>>,
}

#[derive(Debug)]
enum Op {
    Open,
    LoadAll,
    Get(String),
    Put(Box<CacheEntry>),
    Remove(String),
    Claim(String),
    Release(String),
}

#[derive(Debug)]
enum Reply {
    Done,
    Loaded(Loaded),
    Entry(Option<Box<CacheEntry>>),
    Claimed(bool),
}

impl PgStore {
    /// Connect with [`PgOptions::default`]; see [`PgStore::connect_with`].
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PgOptions::default())
    }

    /// Connect to the database of `url` (a libpq connection URL or
    /// key/value string), create the tables if they are missing and check
    /// the schema version. Blocks for at most about
    /// `connect_timeout + statement_timeout`.
    ///
    /// Errors (all [`StoreOp::Open`]): the connection string or the table
    /// name is invalid, the server cannot be reached or refuses the
    /// connection, the tables cannot be created, or their schema version is
    /// not one this program knows.
    pub fn connect_with(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let open_err = |target: &str, what: &str, source: Option<BoxError>| {
            StoreError::new(
                StoreOp::Open,
                target,
                PgError {
                    server: Arc::from(""),
                    what: what.to_owned(),
                    source,
                },
            )
        };
        let mut config = Config::from_str(url).map_err(|e| {
            open_err(
                "postgresql (connection string)",
                "invalid connection string",
                Some(e.into()),
            )
        })?;
        let server: Arc<str> = Arc::from(describe(&config));
        let table = Table::new(&options.table).ok_or_else(|| {
            open_err(
                &server,
                &format!(
                    "invalid table name {:?} (expected `name` or `schema.name` of a-z, 0-9 and _)",
                    options.table.chars().take(SHOWN_DOMAIN).collect::<String>()
                ),
                None,
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("mtasts");
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        #[cfg(target_os = "linux")]
        config.tcp_user_timeout(options.statement_timeout.max(Duration::from_secs(1)));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| open_err(&server, "starting the connection thread", Some(e.into())))?;
        let (tx, rx) = mpsc::channel(options.max_queued.max(1));
        let worker = Worker {
            config,
            server: Arc::clone(&server),
            sql: Sql::new(&table),
            table,
            options: options.clone(),
            conn: None,
            down: None,
        };
        std::thread::Builder::new()
            .name("mtasts-pg-store".to_owned())
            .spawn(move || runtime.block_on(worker.run(rx)))
            .map_err(|e| open_err(&server, "starting the connection thread", Some(e.into())))?;
        let store = Self {
            requests: tx,
            server,
            options,
        };
        let budget = store.options.connect_timeout + store.options.statement_timeout * 2;
        let target = store.server.to_string();
        store.call(StoreOp::Open, &target, Op::Open, budget)?;
        Ok(store)
    }

    /// The server this store talks to, without the password
    /// (`postgresql://user@host:port/dbname`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The options in use.
    pub fn options(&self) -> &PgOptions {
        &self.options
    }

    /// Send `op` to the connection thread and wait for its answer, for at
    /// most `budget` (plus a second's grace).
    fn call(
        &self,
        store_op: StoreOp,
        target: &str,
        op: Op,
        budget: Duration,
    ) -> Result<Reply, StoreError> {
        // When opening, the target is the server already.
        let server = if store_op == StoreOp::Open {
            Arc::from("")
        } else {
            Arc::clone(&self.server)
        };
        let fail = |what: String| {
            StoreError::new(
                store_op,
                target,
                PgError {
                    server: Arc::clone(&server),
                    what,
                    source: None,
                },
            )
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let request = Request {
            op,
            deadline: Instant::now() + budget,
            reply: tx,
        };
        match self.requests.try_send(request) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                return Err(fail(format!(
                    "too many requests waiting for the connection ({} at most)",
                    self.options.max_queued.max(1)
                )));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return Err(fail("the connection thread has stopped".to_owned()));
            }
        }
        match rx.recv_timeout(budget + Duration::from_secs(1)) {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(mut e)) => {
                e.server = server;
                Err(StoreError::new(store_op, target, e))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                Err(fail(format!("no answer within {} ms", budget.as_millis())))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(fail("the connection thread has stopped".to_owned()))
            }
        }
    }

    /// The budget of one statement, with a reconnection.
    fn budget(&self) -> Duration {
        self.options.connect_timeout + self.options.statement_timeout * 2
    }

    fn unexpected(&self, op: StoreOp, target: &str, reply: &Reply) -> StoreError {
        StoreError::new(
            op,
            target,
            PgError {
                server: Arc::clone(&self.server),
                what: format!("unexpected answer from the connection thread: {reply:?}"),
                source: None,
            },
        )
    }
}

impl Store for PgStore {
    fn load_all(&self) -> Result<Loaded, StoreError> {
        let budget = self.options.connect_timeout + self.options.load_timeout;
        match self.call(StoreOp::Load, "", Op::LoadAll, budget)? {
            Reply::Loaded(l) => Ok(l),
            other => Err(self.unexpected(StoreOp::Load, "", &other)),
        }
    }

    fn put(&self, entry: &CacheEntry) -> Result<(), StoreError> {
        let op = Op::Put(Box::new(entry.clone()));
        match self.call(StoreOp::Put, &entry.domain, op, self.budget())? {
            Reply::Done => Ok(()),
            other => Err(self.unexpected(StoreOp::Put, &entry.domain, &other)),
        }
    }

    fn remove(&self, domain: &str) -> Result<(), StoreError> {
        let op = Op::Remove(domain.to_owned());
        match self.call(StoreOp::Remove, domain, op, self.budget())? {
            Reply::Done => Ok(()),
            other => Err(self.unexpected(StoreOp::Remove, domain, &other)),
        }
    }

    fn get(&self, domain: &str) -> Result<Option<CacheEntry>, StoreError> {
        let op = Op::Get(domain.to_owned());
        match self.call(StoreOp::Get, domain, op, self.budget())? {
            Reply::Entry(e) => Ok(e.map(|e| *e)),
            other => Err(self.unexpected(StoreOp::Get, domain, &other)),
        }
    }

    fn claim_discovery(&self, domain: &str) -> Result<Claim, StoreError> {
        if self.options.claim_wait.is_zero() {
            return Ok(Claim::NotShared);
        }
        let op = Op::Claim(domain.to_owned());
        match self.call(StoreOp::Claim, domain, op, self.budget())? {
            Reply::Claimed(true) => Ok(Claim::Granted),
            Reply::Claimed(false) => Ok(Claim::Elsewhere {
                wait: self.options.claim_wait,
            }),
            other => Err(self.unexpected(StoreOp::Claim, domain, &other)),
        }
    }

    fn release_discovery(&self, domain: &str) -> Result<(), StoreError> {
        let op = Op::Release(domain.to_owned());
        match self.call(StoreOp::Claim, domain, op, self.budget())? {
            Reply::Done => Ok(()),
            other => Err(self.unexpected(StoreOp::Claim, domain, &other)),
        }
    }
}

/// A connection string (URL or `key=value` form) as it may be logged:
/// `postgresql://user@host:port/dbname`, never the password. A string
/// that does not parse is shown as `(invalid PostgreSQL connection
/// string)`.
///
/// ```
/// use policy_fetch::pg_store::describe_connection;
/// assert_eq!(
///     describe_connection("postgresql://mtasts:secret@db.internal:5433/mail"),
///     "postgresql://mtasts@db.internal:5433/mail"
/// );
/// assert!(!describe_connection("host=/run/postgresql dbname=mail password=x").contains('x'));
/// ```
pub fn describe_connection(url: &str) -> String {
    match Config::from_str(url) {
        Ok(c) => describe(&c),
        Err(_) => "(invalid PostgreSQL connection string)".to_owned(),
    }
}

/// `postgresql://user@host:port,host2/dbname`, without the password.
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let name = match h {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or("");
    let shown = format!("postgresql://{user}{}/{db}", hosts.join(","));
    shown.chars().take(4 * SHOWN_DOMAIN).collect()
}

/// A validated table name: `(schema, name)`, each `[a-z_][a-z0-9_]*`.
#[derive(Debug, Clone)]
struct Table {
    schema: Option<String>,
    name: String,
}

impl Table {
    fn new(spec: &str) -> Option<Self> {
        let ident = |s: &str, max: usize| {
            !s.is_empty()
                && s.len() <= max
                && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        // 63 is PostgreSQL's identifier limit; `_meta` is appended.
        let (schema, name) = match spec.split_once('.') {
            Some((s, n)) => (Some(s), n),
            None => (None, spec),
        };
        if !ident(name, 58) || schema.is_some_and(|s| !ident(s, 63)) {
            return None;
        }
        Some(Self {
            schema: schema.map(str::to_owned),
            name: name.to_owned(),
        })
    }

    /// The quoted, qualified name of the table `name + suffix`.
    fn quoted(&self, suffix: &str) -> String {
        match &self.schema {
            Some(s) => format!("\"{s}\".\"{}{suffix}\"", self.name),
            None => format!("\"{}{suffix}\"", self.name),
        }
    }

    /// The name as given (for advisory lock keys).
    fn key(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The statements, for one table.
struct Sql {
    create_meta: String,
    create_table: String,
    insert_version: String,
    select_version: String,
    load: String,
    get: String,
    put: String,
    remove: String,
}

impl Sql {
    fn new(table: &Table) -> Self {
        let t = table.quoted("");
        let meta = table.quoted("_meta");
        // `$8`: the freshness of the new entry's policy (0 when expired or
        // absent); `$9`: now. See `store::is_newer_or_same`.
        let old_policy =
            "(CASE WHEN old.policy_expires_at > $9 THEN old.policy_fetched_at ELSE 0 END)";
        let newer = format!(
            "($8 > {old_policy} OR ($8 = {old_policy} AND EXCLUDED.failure_at >= old.failure_at))"
        );
        let pick =
            |col: &str| format!("{col} = CASE WHEN {newer} THEN EXCLUDED.{col} ELSE old.{col} END");
        Self {
            create_meta: format!(
                "CREATE TABLE IF NOT EXISTS {meta} (key text PRIMARY KEY, value text NOT NULL)"
            ),
            create_table: format!(
                "CREATE TABLE IF NOT EXISTS {t} (
                    domain text PRIMARY KEY,
                    entry text NOT NULL,
                    policy_id text,
                    policy_fetched_at bigint NOT NULL DEFAULT 0,
                    policy_expires_at bigint NOT NULL DEFAULT 0,
                    failure_at bigint NOT NULL DEFAULT 0,
                    last_used bigint NOT NULL DEFAULT 0,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )"
            ),
            insert_version: format!(
                "INSERT INTO {meta} (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}') \
                 ON CONFLICT (key) DO NOTHING"
            ),
            select_version: format!("SELECT value FROM {meta} WHERE key = 'schema_version'"),
            load: format!(
                "SELECT domain, CASE WHEN octet_length(entry) <= $1 THEN entry END, \
                 octet_length(entry), last_used FROM {t} \
                 ORDER BY last_used DESC, domain LIMIT $2"
            ),
            get: format!(
                "SELECT domain, CASE WHEN octet_length(entry) <= $1 THEN entry END, \
                 octet_length(entry), last_used FROM {t} WHERE domain = $2"
            ),
            put: format!(
                "INSERT INTO {t} AS old (domain, entry, policy_id, policy_fetched_at, \
                 policy_expires_at, failure_at, last_used, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, now()) \
                 ON CONFLICT (domain) DO UPDATE SET {}, {}, {}, {}, {}, \
                 updated_at = CASE WHEN {newer} THEN now() ELSE old.updated_at END, \
                 last_used = GREATEST(old.last_used, EXCLUDED.last_used)",
                pick("entry"),
                pick("policy_id"),
                pick("policy_fetched_at"),
                pick("policy_expires_at"),
                pick("failure_at"),
            ),
            remove: format!("DELETE FROM {t} WHERE domain = $1"),
        }
    }
}

/// The prepared statements of one connection.
struct Prepared {
    load: Statement,
    get: Statement,
    put: Statement,
    remove: Statement,
    claim: Statement,
    release: Statement,
}

/// An open connection.
struct Conn {
    client: Client,
    prepared: Prepared,
    /// Why the connection ended, once it has.
    ended: Arc<Mutex<Option<String>>>,
}

/// The connection thread's state.
struct Worker {
    config: Config,
    server: Arc<str>,
    table: Table,
    sql: Sql,
    options: PgOptions,
    conn: Option<Conn>,
    /// After a failed connection attempt: until when to fail at once, and
    /// why the attempt failed.
    down: Option<(Instant, String)>,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        while let Some(req) = rx.recv().await {
            let now = Instant::now();
            let result = if now >= req.deadline {
                Err(self.error(
                    "no answer in time: the request waited too long for the connection",
                    None,
                ))
            } else {
                let deadline = tokio::time::Instant::from_std(req.deadline);
                match tokio::time::timeout_at(deadline, self.handle(&req.op)).await {
                    Ok(r) => r,
                    Err(_) => {
                        // The server stopped answering: this connection is
                        // of no more use.
                        self.conn = None;
                        Err(self.error(
                            &format!(
                                "no answer within {} ms; the connection was closed",
                                req.deadline.saturating_duration_since(now).as_millis()
                            ),
                            None,
                        ))
                    }
                }
            };
            // The caller may have given up; nothing to do then.
            let _ = req.reply.send(result);
        }
    }

    fn error(&self, what: &str, source: Option<BoxError>) -> PgError {
        PgError {
            server: Arc::clone(&self.server),
            what: what.to_owned(),
            source,
        }
    }

    /// Run `op`, connecting first if needed; when the connection turns out
    /// to be lost, connect again and run it once more.
    async fn handle(&mut self, op: &Op) -> Result<Reply, PgError> {
        let mut retried = false;
        loop {
            if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
                self.conn = None;
                self.conn = Some(self.connect().await?);
            }
            if let Op::Open = op {
                return Ok(Reply::Done);
            }
            let Some(conn) = self.conn.as_ref() else {
                return Err(self.error("not connected", None));
            };
            match self.execute(conn, op).await {
                Ok(reply) => return Ok(reply),
                Err(Failure::Db(what, e)) => {
                    let lost = conn.client.is_closed() || connection_lost(&e);
                    let ended = conn.ended.lock().ok().and_then(|g| g.clone());
                    if lost {
                        self.conn = None;
                    }
                    if lost && !retried {
                        retried = true;
                        continue;
                    }
                    let what = match ended {
                        Some(why) if lost => format!("{what} (connection lost: {why})"),
                        _ => what.to_owned(),
                    };
                    return Err(self.error(&what, Some(e.into())));
                }
                Err(Failure::Other(e)) => return Err(e),
            }
        }
    }

    async fn execute(&self, conn: &Conn, op: &Op) -> Result<Reply, Failure> {
        let c = &conn.client;
        let p = &conn.prepared;
        let max_bytes = i32::try_from(self.options.max_entry_bytes).unwrap_or(i32::MAX);
        match op {
            Op::Open => Ok(Reply::Done),
            Op::LoadAll => {
                let limit = i64::try_from(self.options.max_load_entries).unwrap_or(i64::MAX);
                let rows = c
                    .query(&p.load, &[&max_bytes, &limit.saturating_add(1)])
                    .await
                    .map_err(|e| Failure::Db("load", e))?;
                let mut loaded = Loaded::default();
                for (i, row) in rows.iter().enumerate() {
                    if i >= self.options.max_load_entries {
                        loaded.skipped.push(SkippedEntry {
                            domain: "*".to_owned(),
                            reason: format!(
                                "more than {} entries are stored; only those used most recently were loaded",
                                self.options.max_load_entries
                            ),
                        });
                        break;
                    }
                    let (domain, decoded) = self.decode(row).map_err(Failure::Other)?;
                    match decoded {
                        Ok(e) => loaded.entries.push(e),
                        Err(reason) => loaded.skipped.push(SkippedEntry {
                            domain: shown(&domain),
                            reason,
                        }),
                    }
                }
                Ok(Reply::Loaded(loaded))
            }
            Op::Get(domain) => {
                let row = c
                    .query_opt(&p.get, &[&max_bytes, domain])
                    .await
                    .map_err(|e| Failure::Db("get", e))?;
                let Some(row) = row else {
                    return Ok(Reply::Entry(None));
                };
                match self.decode(&row).map_err(Failure::Other)?.1 {
                    Ok(e) => Ok(Reply::Entry(Some(Box::new(e)))),
                    Err(reason) => Err(Failure::Other(
                        self.error(&format!("undecodable entry: {reason}"), None),
                    )),
                }
            }
            Op::Put(entry) => {
                let json = serde_json::to_string(entry).map_err(|e| {
                    Failure::Other(self.error("encoding the entry", Some(e.into())))
                })?;
                let now = std::time::SystemTime::now();
                let live = secs(freshness(entry, now).0);
                let (fetched, expires, id) = match &entry.policy {
                    Some(p) => (
                        secs(p.fetched_at),
                        secs(mta_sts_core::discovery::unix_secs(p.expires_at())),
                        Some(p.id.as_str()),
                    ),
                    None => (0, 0, None),
                };
                let failure = secs(entry.last_failure.as_ref().map_or(0, |f| f.at));
                let last_used = secs(entry.last_used);
                let now = secs(mta_sts_core::discovery::unix_secs(now));
                c.execute(
                    &p.put,
                    &[
                        &entry.domain,
                        &json,
                        &id,
                        &fetched,
                        &expires,
                        &failure,
                        &last_used,
                        &live,
                        &now,
                    ],
                )
                .await
                .map_err(|e| Failure::Db("put", e))?;
                Ok(Reply::Done)
            }
            Op::Remove(domain) => {
                c.execute(&p.remove, &[domain])
                    .await
                    .map_err(|e| Failure::Db("remove", e))?;
                Ok(Reply::Done)
            }
            Op::Claim(domain) => {
                let row = c
                    .query_one(&p.claim, &[&self.table.key(), domain])
                    .await
                    .map_err(|e| Failure::Db("claim (advisory lock)", e))?;
                let got: bool = row
                    .try_get(0)
                    .map_err(|e| Failure::Db("claim (advisory lock)", e))?;
                Ok(Reply::Claimed(got))
            }
            Op::Release(domain) => {
                // `false` (not held: the connection was replaced since the
                // claim, which released it) needs nothing more.
                c.query_one(&p.release, &[&self.table.key(), domain])
                    .await
                    .map_err(|e| Failure::Db("release (advisory unlock)", e))?;
                Ok(Reply::Done)
            }
        }
    }

    /// A row `(domain, entry or NULL when too large, size, last_used)` as
    /// the domain and the entry or why it does not decode.
    fn decode(
        &self,
        row: &tokio_postgres::Row,
    ) -> Result<(String, Result<CacheEntry, String>), PgError> {
        let col = |e: tokio_postgres::Error| self.error("reading a row", Some(e.into()));
        let domain: String = row.try_get(0).map_err(col)?;
        let text: Option<String> = row.try_get(1).map_err(col)?;
        let size: i32 = row.try_get(2).map_err(col)?;
        let last_used: i64 = row.try_get(3).map_err(col)?;
        let Some(text) = text else {
            return Ok((
                domain,
                Err(format!(
                    "entry too large ({size} bytes, at most {})",
                    self.options.max_entry_bytes
                )),
            ));
        };
        let entry = match serde_json::from_str::<CacheEntry>(&text) {
            Ok(mut e) if e.domain == domain => {
                e.last_used = e.last_used.max(u64::try_from(last_used).unwrap_or(0));
                Ok(e)
            }
            Ok(e) => Err(format!(
                "the entry is for another domain ({})",
                shown(&e.domain)
            )),
            Err(e) => Err(e.to_string()),
        };
        Ok((domain, entry))
    }

    /// Open a connection: set the session's time limits, create the tables
    /// if missing, check the schema version and prepare the statements.
    async fn connect(&mut self) -> Result<Conn, PgError> {
        if let Some((until, why)) = &self.down {
            let left = until.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                return Err(self.error(
                    &format!(
                        "not connected: the last attempt failed ({why}); next attempt in {} ms",
                        left.as_millis()
                    ),
                    None,
                ));
            }
        }
        match self.try_connect().await {
            Ok(conn) => {
                self.down = None;
                Ok(conn)
            }
            Err(e) => {
                let why = crate::error::Chain(&e).to_string();
                // Without the server's name, which the error shows anyway.
                let why = why
                    .strip_prefix(&format!("{}: ", self.server))
                    .unwrap_or(&why)
                    .to_owned();
                self.down = Some((Instant::now() + self.options.retry_after, why));
                Err(e)
            }
        }
    }

    async fn try_connect(&self) -> Result<Conn, PgError> {
        let limit = self
            .config
            .get_connect_timeout()
            .copied()
            .unwrap_or(self.options.connect_timeout);
        let (mut client, connection) =
            match tokio::time::timeout(limit, self.config.connect(NoTls)).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return Err(self.error("connecting", Some(e.into()))),
                Err(_) => {
                    return Err(self.error(
                        &format!("connecting: no answer within {} ms", limit.as_millis()),
                        None,
                    ));
                }
            };
        let ended = Arc::new(Mutex::new(None));
        let ended2 = Arc::clone(&ended);
        tokio::spawn(async move {
            let why = match connection.await {
                Ok(()) => "closed".to_owned(),
                Err(e) => crate::error::Chain(&e).to_string(),
            };
            if let Ok(mut g) = ended2.lock() {
                *g = Some(why);
            }
        });
        let db =
            |what: &'static str| move |e: tokio_postgres::Error| self.error(what, Some(e.into()));
        let ms = self.options.statement_timeout.as_millis().max(1);
        client
            .batch_execute(&format!(
                "SET statement_timeout = {ms}; SET lock_timeout = {ms}; \
                 SET idle_in_transaction_session_timeout = {}",
                ms.saturating_mul(2)
            ))
            .await
            .map_err(db("setting the session's time limits"))?;
        self.ensure_schema(&mut client).await?;
        let prepare = |sql: String| {
            let client = &client;
            async move { client.prepare(&sql).await }
        };
        let prepared = Prepared {
            load: prepare(self.sql.load.clone())
                .await
                .map_err(db("preparing `load`"))?,
            get: prepare(self.sql.get.clone())
                .await
                .map_err(db("preparing `get`"))?,
            put: prepare(self.sql.put.clone())
                .await
                .map_err(db("preparing `put`"))?,
            remove: prepare(self.sql.remove.clone())
                .await
                .map_err(db("preparing `remove`"))?,
            claim: prepare(
                "SELECT pg_try_advisory_lock(hashtext($1::text), hashtext($2::text))".to_owned(),
            )
            .await
            .map_err(db("preparing `claim`"))?,
            release: prepare(
                "SELECT pg_advisory_unlock(hashtext($1::text), hashtext($2::text))".to_owned(),
            )
            .await
            .map_err(db("preparing `release`"))?,
        };
        Ok(Conn {
            client,
            prepared,
            ended,
        })
    }

    /// Create the tables when missing (under a transaction-level advisory
    /// lock, so that nodes starting together do not race), and check the
    /// schema version.
    async fn ensure_schema(&self, client: &mut Client) -> Result<(), PgError> {
        let db =
            |what: &'static str| move |e: tokio_postgres::Error| self.error(what, Some(e.into()));
        let exists = |suffix: &str| {
            let name = self.table.quoted(suffix);
            let client = &*client;
            async move {
                client
                    .query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&name])
                    .await
                    .and_then(|r| r.try_get::<_, bool>(0))
            }
        };
        let both = exists("").await.map_err(db("looking for the table"))?
            && exists("_meta").await.map_err(db("looking for the table"))?;
        if !both {
            let tx = client
                .transaction()
                .await
                .map_err(db("creating the tables"))?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))",
                &[&format!("{}/schema", self.table.key())],
            )
            .await
            .map_err(db("creating the tables (advisory lock)"))?;
            for sql in [
                &self.sql.create_meta,
                &self.sql.create_table,
                &self.sql.insert_version,
            ] {
                tx.batch_execute(sql)
                    .await
                    .map_err(db("creating the tables"))?;
            }
            tx.commit().await.map_err(db("creating the tables"))?;
        }
        let version: Option<String> = client
            .query_opt(&self.sql.select_version, &[])
            .await
            .and_then(|r| r.map(|r| r.try_get(0)).transpose())
            .map_err(db("reading the schema version"))?;
        match version.as_deref() {
            Some(SCHEMA_VERSION) => Ok(()),
            Some(v) => Err(self.error(
                &format!(
                    "table {}: schema version {:?} is not one this program knows ({SCHEMA_VERSION})",
                    self.table.key(),
                    v.chars().take(32).collect::<String>()
                ),
                None,
            )),
            None => Err(self.error(
                &format!(
                    "table {}_meta has no schema_version row",
                    self.table.key()
                ),
                None,
            )),
        }
    }
}

/// Why a request failed.
enum Failure {
    /// A statement failed (maybe because the connection was lost).
    Db(&'static str, tokio_postgres::Error),
    /// Anything else; not retried.
    Other(PgError),
}

/// Whether `e` means the connection is gone (so that a new one may
/// succeed): closed, an I/O error, a connection exception (class 08) or
/// an operator intervention (class 57: terminated backend, shutdown).
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || c.starts_with("57P")
        }
        // No SQLSTATE: the error is the connection's, not the statement's.
        None => {
            e.as_db_error().is_none()
                && std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        }
    }
}

/// Unix seconds as a SQL `bigint`.
fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// A stored domain as shown in errors: at most [`SHOWN_DOMAIN`]
/// characters.
fn shown(domain: &str) -> String {
    if domain.chars().count() <= SHOWN_DOMAIN {
        domain.to_owned()
    } else {
        let mut s: String = domain.chars().take(SHOWN_DOMAIN).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert_eq!(
            Table::new("mtasts_policy_cache").unwrap().quoted("_meta"),
            "\"mtasts_policy_cache_meta\""
        );
        assert_eq!(
            Table::new("mail.cache").unwrap().quoted(""),
            "\"mail\".\"cache\""
        );
        assert_eq!(Table::new("mail.cache").unwrap().key(), "mail.cache");
        for bad in [
            "",
            "Cache",
            "1cache",
            "a.b.c",
            "a;drop",
            "a\"b",
            ".x",
            "x.",
            &"x".repeat(59),
        ] {
            assert!(Table::new(bad).is_none(), "{bad}");
        }
        assert!(Table::new(&"x".repeat(58)).is_some());
    }

    #[test]
    fn server_description_hides_the_password() {
        let c = Config::from_str("postgresql://alice:secret@db.example:6543/mail").unwrap();
        assert_eq!(describe(&c), "postgresql://alice@db.example:6543/mail");
        let c = Config::from_str("host=/run/postgresql dbname=mail password=secret").unwrap();
        assert_eq!(describe(&c), "postgresql:///run/postgresql/mail");
    }

    #[test]
    fn long_domains_are_shortened() {
        assert_eq!(shown("example.com"), "example.com");
        let long = "a".repeat(1000);
        assert_eq!(shown(&long).chars().count(), SHOWN_DOMAIN + 1);
    }
}
