//! A PostgreSQL database of its own for one test, on the server at
//! 127.0.0.1:5432 (trust authentication, user `postgres`), dropped with
//! the guard (`DROP DATABASE ... WITH (FORCE)`).
//!
//! When the server cannot be reached, [`TestDb::create`] prints why and
//! returns `None`, so that the test checks nothing and passes; with
//! `MTASTS_REQUIRE_POSTGRES=1` (as `.ci/run` sets) it panics instead.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

/// An error with its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        s.push_str(": ");
        s.push_str(&c.to_string());
        next = c.source();
    }
    s
}

/// The test server, as a `key=value` connection string.
const SERVER: &str = "host=127.0.0.1 port=5432 user=postgres connect_timeout=5";

/// Run `sql` (simple query protocol, several statements allowed) in
/// database `db`, on a thread of its own; the text of every row.
pub fn sql(db: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let conn = format!("{SERVER} dbname={db}");
    let sql = sql.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .map_err(|e| chain(&e))?;
            tokio::spawn(connection);
            let msgs = client.simple_query(&sql).await.map_err(|e| chain(&e))?;
            Ok(msgs
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                    }
                    _ => None,
                })
                .collect())
        })
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_owned())?
}

/// A database created for one test (see the module docs).
pub struct TestDb {
    name: String,
}

impl TestDb {
    /// `None` (after saying why) when the server cannot be reached and
    /// `MTASTS_REQUIRE_POSTGRES` is not `1`.
    pub fn create() -> Option<Self> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "mtasts_test_{}_{nanos}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        match sql("postgres", &format!("CREATE DATABASE {name}")) {
            Ok(_) => Some(Self { name }),
            Err(e) => {
                if std::env::var("MTASTS_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!("PostgreSQL at 127.0.0.1:5432 is required: {e}");
                }
                eprintln!(
                    "NOTE: PostgreSQL at 127.0.0.1:5432 unreachable ({e}); \
                     this test checks nothing (set MTASTS_REQUIRE_POSTGRES=1 to fail instead)"
                );
                None
            }
        }
    }

    /// The connection URL, with `application_name` set to `app`.
    pub fn url(&self, app: &str) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:5432/{}?application_name={app}",
            self.name
        )
    }

    /// Run `q` in this database; the text of every row.
    pub fn sql(&self, q: &str) -> Vec<Vec<Option<String>>> {
        sql(&self.name, q).unwrap()
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first column of the first row of `q`, if any.
    pub fn value(&self, q: &str) -> Option<String> {
        self.sql(q).into_iter().next()?.into_iter().next()?
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let r = sql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
        if let Err(e) = r {
            eprintln!("dropping test database {}: {e}", self.name);
        }
    }
}
