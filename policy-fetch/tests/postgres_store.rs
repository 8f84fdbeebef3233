//! Stores shared by several nodes: the policy service's store read before
//! a discovery (with the in-process stores), and `PgStore` against the
//! real PostgreSQL server at 127.0.0.1:5432 (feature `postgres`).
//!
//! Each PostgreSQL test creates its own database and drops it at the end.
//! When the server cannot be reached, the PostgreSQL tests say so and
//! pass, unless `MTASTS_REQUIRE_POSTGRES=1` (as CI sets), where they fail.

use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mta_sts_core::Policy;
use mta_sts_core::discovery::{CacheEntry, CachedPolicy, Rule, unix_secs};
use policy_fetch::service::Answer;
use policy_fetch::store::{MemoryStore, Store};
use policy_fetch::{Dns, FetchConfig, MtaSts, PolicyClient, Roots, Settings};
use test_support::{CertSet, DnsServer, HttpsServer, Response, Routes, TestCa, Zones};

const POLICY: &str =
    "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmx: *.mx.example.test\nmax_age: 86400\n";
const PATH: &str = "/.well-known/mta-sts.txt";

struct World {
    _ca: TestCa,
    roots: Roots,
    dns: DnsServer,
    https: HttpsServer,
}

impl World {
    /// `example.test` with TXT id `1` and its policy, served after `delay`.
    async fn new(delay: Duration) -> Self {
        let ca = TestCa::new();
        let zones = Zones::new()
            .txt("_mta-sts.example.test", &["v=STSv1; id=1;"])
            .a("mta-sts.example.test", Ipv4Addr::LOCALHOST);
        let dns = DnsServer::start(zones).await.unwrap();
        let routes = Routes::new().route(
            "mta-sts.example.test",
            PATH,
            Response::Trickle {
                chunk: POLICY.as_bytes().to_vec(),
                interval: delay,
                count: 1,
            },
        );
        let https =
            HttpsServer::start_with(CertSet::new(ca.issue(&["mta-sts.example.test"])), routes)
                .await
                .unwrap();
        let mut roots = Roots::empty();
        roots.add_der(ca.ca_cert_der()).unwrap();
        Self {
            _ca: ca,
            roots,
            dns,
            https,
        }
    }

    /// A node: a policy service of its own over `store`.
    fn node(&self, store: Arc<dyn Store>) -> Arc<MtaSts> {
        self.node_with(store, Settings::default())
    }

    fn node_with(&self, store: Arc<dyn Store>, settings: Settings) -> Arc<MtaSts> {
        let dns = Dns::with_server(self.dns.addr()).unwrap();
        let http = PolicyClient::new(
            dns.clone(),
            &self.roots,
            FetchConfig {
                port: self.https.addr().port(),
                total_timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(2),
                ..FetchConfig::default()
            },
        )
        .unwrap();
        let (sts, skipped) = MtaSts::new(dns, http, store, settings).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        sts
    }

    fn policy_requests(&self) -> usize {
        self.https
            .requests()
            .iter()
            .filter(|r| r.path == PATH)
            .count()
    }
}

/// An entry for `domain` whose policy (id `id`) was fetched at `fetched`
/// (Unix seconds).
fn entry(domain: &str, id: &str, fetched: u64) -> CacheEntry {
    CacheEntry {
        domain: domain.to_owned(),
        policy: Some(CachedPolicy {
            id: id.to_owned(),
            policy: Policy::from_str(POLICY).unwrap(),
            fetched_at: fetched,
        }),
        last_failure: None,
        last_used: fetched,
    }
}

fn now() -> u64 {
    unix_secs(SystemTime::now())
}

// ---------------------------------------------------------------------
// The store read before a discovery, with the in-process stores.

#[tokio::test]
async fn two_services_sharing_a_memory_store_fetch_once() {
    let w = World::new(Duration::ZERO).await;
    let store = Arc::new(MemoryStore::new());
    let a = w.node(store.clone());
    let b = w.node(store.clone());
    let la = a.lookup("example.test").await;
    assert_eq!(la.answer, Answer::Discovered(Rule::D4FetchedNew));
    let lb = b.lookup("Example.TEST.").await;
    assert_eq!(lb.answer, Answer::FromStore);
    assert_eq!(lb.policy.as_ref().unwrap().id, "1");
    assert!(lb.warnings.is_empty(), "{:?}", lb.warnings);
    let mb = b.metrics();
    assert_eq!((mb.fetches, mb.txt_lookups, mb.store_hits), (0, 0, 1));
    assert_eq!(w.policy_requests(), 1);
    // Now in B's memory: the next lookup is a plain hit.
    assert_eq!(b.lookup("example.test").await.answer, Answer::CacheHit);
    assert_eq!(a.metrics().store_hits, 0);
}

#[cfg(feature = "redb")]
#[tokio::test]
async fn one_node_with_the_embedded_store_behaves_as_before() {
    use policy_fetch::store::RedbStore;
    let dir = std::env::temp_dir().join(format!("policy-fetch-shared-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.redb");
    let w = World::new(Duration::ZERO).await;
    {
        let sts = w.node(Arc::new(RedbStore::open(&path).unwrap()));
        let l = sts.lookup("example.test").await;
        assert_eq!(l.answer, Answer::Discovered(Rule::D4FetchedNew));
        assert_eq!(sts.lookup("example.test").await.answer, Answer::CacheHit);
        assert_eq!(sts.metrics().store_hits, 0);
    }
    // A restart: the entry is loaded, the store has nothing newer, so the
    // TXT record is checked as before (D1), and nothing is fetched.
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(
        store
            .get("example.test")
            .unwrap()
            .unwrap()
            .policy
            .unwrap()
            .id,
        "1"
    );
    assert_eq!(store.get("other.test").unwrap(), None);
    let sts = w.node(Arc::new(store));
    let l = sts.lookup("example.test").await;
    assert_eq!(l.answer, Answer::Discovered(Rule::D1CachedCurrent));
    let m = sts.metrics();
    assert_eq!((m.fetches, m.txt_lookups, m.store_hits), (0, 1, 0));
    assert_eq!(w.policy_requests(), 1);
    drop(sts);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_refresh_takes_a_newer_stored_entry_instead_of_fetching() {
    let w = World::new(Duration::ZERO).await;
    let store = Arc::new(MemoryStore::new());
    // 13 hours old: a refresh is due (12 hours before expiry at the latest).
    let old = now() - 13 * 3600;
    store.put(&entry("example.test", "1", old)).unwrap();
    let b = w.node(store.clone());
    // Another node refreshed it since.
    let fresh = now() - 60;
    store.put(&entry("example.test", "1", fresh)).unwrap();
    let (refreshed, evicted, warnings) = b.maintain(SystemTime::now()).await;
    assert_eq!((refreshed, evicted), (0, 0));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        b.cached_entry("example.test")
            .unwrap()
            .policy
            .unwrap()
            .fetched_at,
        fresh
    );
    let m = b.metrics();
    assert_eq!((m.fetches, m.txt_lookups, m.refreshes), (0, 0, 0));
    assert_eq!(w.policy_requests(), 0);
}

#[tokio::test]
async fn a_stored_entry_older_than_memory_is_not_taken() {
    let w = World::new(Duration::ZERO).await;
    let store = Arc::new(MemoryStore::new());
    store.put(&entry("example.test", "1", now() - 10)).unwrap();
    // Every lookup checks the TXT record, so each consults the store.
    let settings = Settings {
        txt_check_interval: Duration::ZERO,
        ..Settings::default()
    };
    let b = w.node_with(store.clone(), settings);
    // Someone writes an older entry (another node with an old policy).
    store
        .put(&entry("example.test", "0", now() - 3600))
        .unwrap();
    let l = b.lookup("example.test").await;
    assert_eq!(l.answer, Answer::Discovered(Rule::D1CachedCurrent));
    assert_eq!(l.policy.unwrap().id, "1");
    let m = b.metrics();
    assert_eq!((m.fetches, m.txt_lookups, m.store_hits), (0, 1, 0));
}

// ---------------------------------------------------------------------
// PostgreSQL.

#[cfg(feature = "postgres")]
mod pg {
    use std::net::TcpListener;
    use std::time::Instant;

    use mta_sts_core::ResultType;
    use mta_sts_core::discovery::FailedFetch;
    use policy_fetch::pg_store::{PgOptions, PgStore};
    use std::sync::atomic::Ordering;

    use policy_fetch::error::Chain;
    use policy_fetch::store::Claim;
    use test_support::pg::{TestDb, sql};

    use super::*;

    fn connect(db: &TestDb, app: &str) -> PgStore {
        PgStore::connect(&db.url(app)).unwrap()
    }

    #[test]
    fn round_trip_put_get_load_remove() {
        let Some(db) = TestDb::create() else { return };
        let store = connect(&db, "rt");
        assert!(
            store
                .server()
                .starts_with("postgresql://postgres@127.0.0.1:5432/mtasts_test_")
        );
        assert!(store.load_all().unwrap().entries.is_empty());
        assert_eq!(store.get("a.test").unwrap(), None);
        let t = now();
        let a = entry("a.test", "20240101", t - 10);
        let mut b = entry("b.test", "7", t - 20);
        b.last_failure = Some(FailedFetch {
            id: "8".to_owned(),
            at: t - 5,
            result_type: ResultType::StsPolicyFetchError,
            reason: "HTTP 500".to_owned(),
        });
        store.put(&a).unwrap();
        store.put(&b).unwrap();
        assert_eq!(store.get("a.test").unwrap().as_ref(), Some(&a));
        assert_eq!(store.get("b.test").unwrap().as_ref(), Some(&b));
        let mut loaded = store.load_all().unwrap();
        assert!(loaded.skipped.is_empty());
        loaded.entries.sort_by(|x, y| x.domain.cmp(&y.domain));
        assert_eq!(loaded.entries, vec![a.clone(), b.clone()]);
        // The columns beside the JSON, for operators and the newer-wins rule.
        let row = &db.sql(
            "SELECT policy_id, policy_fetched_at, policy_expires_at, failure_at, last_used \
             FROM mtasts_policy_cache WHERE domain = 'b.test'",
        )[0];
        let want = [
            "7".to_owned(),
            (t - 20).to_string(),
            (t - 20 + 86_400).to_string(),
            (t - 5).to_string(),
            (t - 20).to_string(),
        ];
        assert_eq!(row.iter().flatten().cloned().collect::<Vec<_>>(), want);
        store.remove("a.test").unwrap();
        store.remove("nothing.test").unwrap();
        assert_eq!(store.get("a.test").unwrap(), None);
        assert_eq!(store.load_all().unwrap().entries, vec![b]);
        assert_eq!(
            db.value("SELECT value FROM mtasts_policy_cache_meta WHERE key = 'schema_version'"),
            Some("1".to_owned())
        );
    }

    #[test]
    fn entries_survive_a_restart() {
        let Some(db) = TestDb::create() else { return };
        let e = entry("example.test", "1", now() - 100);
        {
            let store = connect(&db, "before");
            store.put(&e).unwrap();
        }
        let store = connect(&db, "after");
        assert_eq!(store.load_all().unwrap().entries, vec![e.clone()]);
        assert_eq!(store.get("example.test").unwrap(), Some(e));
    }

    #[test]
    fn a_schema_qualified_table_and_a_newer_schema_version() {
        let Some(db) = TestDb::create() else { return };
        db.sql("CREATE SCHEMA mail");
        let options = PgOptions {
            table: "mail.sts".to_owned(),
            ..PgOptions::default()
        };
        let store = PgStore::connect_with(&db.url("schema"), options.clone()).unwrap();
        store.put(&entry("a.test", "1", now())).unwrap();
        assert_eq!(
            db.value("SELECT count(*) FROM mail.sts"),
            Some("1".to_owned())
        );
        drop(store);
        db.sql("UPDATE mail.sts_meta SET value = '2' WHERE key = 'schema_version'");
        let e = PgStore::connect_with(&db.url("schema"), options).unwrap_err();
        let msg = Chain(&e).to_string();
        assert!(
            msg.starts_with("policy store: open postgresql://postgres@127.0.0.1:5432/"),
            "{msg}"
        );
        assert!(
            msg.contains("schema version \"2\" is not one this program knows (1)"),
            "{msg}"
        );
        // A table name that is not a plain identifier is refused.
        let e = PgStore::connect_with(
            &db.url("schema"),
            PgOptions {
                table: "x; DROP TABLE y".to_owned(),
                ..PgOptions::default()
            },
        )
        .unwrap_err();
        assert!(Chain(&e).to_string().contains("invalid table name"), "{e}");
    }

    #[test]
    fn undecodable_rows_are_skipped_and_listed() {
        let Some(db) = TestDb::create() else { return };
        let store = PgStore::connect_with(
            &db.url("bad"),
            PgOptions {
                max_entry_bytes: 4096,
                ..PgOptions::default()
            },
        )
        .unwrap();
        let good = entry("good.test", "1", now());
        store.put(&good).unwrap();
        let other = serde_json::to_string(&entry("other.test", "1", now())).unwrap();
        let bad_policy = serde_json::to_string(&entry("x.test", "1", now()))
            .unwrap()
            .replace("enforce", "sometimes");
        db.sql(&format!(
            "INSERT INTO mtasts_policy_cache (domain, entry) VALUES \
             ('garbage.test', '{{not json'), \
             ('mismatch.test', '{other}'), \
             ('x.test', '{bad_policy}'), \
             ('huge.test', repeat('x', 5000))"
        ));
        let loaded = store.load_all().unwrap();
        assert_eq!(loaded.entries, vec![good]);
        let mut skipped: Vec<(String, String)> = loaded
            .skipped
            .into_iter()
            .map(|s| (s.domain, s.reason))
            .collect();
        skipped.sort();
        let domains: Vec<&str> = skipped.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(
            domains,
            ["garbage.test", "huge.test", "mismatch.test", "x.test"]
        );
        assert!(skipped[0].1.contains("key must be a string"), "{skipped:?}");
        assert_eq!(skipped[1].1, "entry too large (5000 bytes, at most 4096)");
        assert_eq!(skipped[2].1, "the entry is for another domain (other.test)");
        assert!(skipped[3].1.contains("sometimes"), "{skipped:?}");
        // `get` says why instead.
        let e = store.get("garbage.test").unwrap_err();
        let msg = Chain(&e).to_string();
        assert!(
            msg.starts_with(
                "policy store: get garbage.test: postgresql://postgres@127.0.0.1:5432/"
            ),
            "{msg}"
        );
        assert!(
            msg.contains(": undecodable entry: key must be a string"),
            "{msg}"
        );
        // A put replaces an undecodable row.
        let fixed = entry("garbage.test", "1", now());
        store.put(&fixed).unwrap();
        assert_eq!(store.get("garbage.test").unwrap(), Some(fixed));
    }

    #[test]
    fn a_newer_entry_is_never_replaced_by_an_older_one() {
        let Some(db) = TestDb::create() else { return };
        let a = connect(&db, "node_a");
        let b = connect(&db, "node_b");
        let t = now();
        // Node A refreshed later than node B.
        let newer = entry("example.test", "2", t - 100);
        let mut older = entry("example.test", "1", t - 5000);
        older.last_used = t;
        a.put(&newer).unwrap();
        b.put(&older).unwrap();
        let got = a.get("example.test").unwrap().unwrap();
        assert_eq!(got.policy, newer.policy, "the later fetch stays");
        assert_eq!(got.last_used, t, "the latest use is kept all the same");
        // B's failed fetch (newer than its own old policy) does not
        // replace A's valid newer policy either.
        let mut failed = older.clone();
        failed.last_failure = Some(FailedFetch {
            id: "2".to_owned(),
            at: t,
            result_type: ResultType::StsPolicyFetchError,
            reason: "timeout".to_owned(),
        });
        b.put(&failed).unwrap();
        assert_eq!(a.get("example.test").unwrap().unwrap().policy, newer.policy);
        assert_eq!(a.get("example.test").unwrap().unwrap().last_failure, None);
        // The same policy with a later failure record does replace it.
        let mut same_failed = newer.clone();
        same_failed.last_failure = failed.last_failure.clone();
        b.put(&same_failed).unwrap();
        assert_eq!(
            a.get("example.test").unwrap().unwrap().last_failure,
            failed.last_failure
        );
        // And a newer fetch replaces everything.
        let newest = entry("example.test", "3", t - 1);
        b.put(&newest).unwrap();
        let got = a.get("example.test").unwrap().unwrap();
        assert_eq!(
            (got.policy, got.last_failure),
            (newest.policy.clone(), None)
        );
        // An expired policy is no better than none: a failure record
        // without a policy replaces it.
        let expired = entry("gone.test", "1", t - 2 * 86_400);
        a.put(&expired).unwrap();
        let no_policy = CacheEntry {
            domain: "gone.test".to_owned(),
            policy: None,
            last_failure: failed.last_failure.clone(),
            last_used: t,
        };
        b.put(&no_policy).unwrap();
        assert_eq!(a.get("gone.test").unwrap(), Some(no_policy.clone()));
        // ... but never a valid one.
        let valid = entry("kept.test", "1", t - 60);
        a.put(&valid).unwrap();
        b.put(&CacheEntry {
            domain: "kept.test".to_owned(),
            ..no_policy
        })
        .unwrap();
        assert_eq!(a.get("kept.test").unwrap().unwrap().policy, valid.policy);
    }

    #[test]
    fn reconnects_after_the_backend_is_terminated() {
        let Some(db) = TestDb::create() else { return };
        let store = connect(&db, "victim");
        let e = entry("example.test", "1", now());
        store.put(&e).unwrap();
        let pid = |db: &TestDb| {
            db.value("SELECT pid FROM pg_stat_activity WHERE application_name = 'victim'")
        };
        let before = pid(&db).unwrap();
        assert_eq!(
            db.value(&format!("SELECT pg_terminate_backend({before})")),
            Some("t".to_owned())
        );
        // Wait until the server has ended that backend.
        let t0 = Instant::now();
        while pid(&db).is_some() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "backend still there"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Each kind of request reconnects once and succeeds.
        assert_eq!(store.get("example.test").unwrap(), Some(e.clone()));
        let after = pid(&db).unwrap();
        assert_ne!(before, after);
        db.value(&format!("SELECT pg_terminate_backend({after})"));
        while pid(&db).is_some() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let e2 = entry("example.test", "2", now());
        store.put(&e2).unwrap();
        assert_eq!(store.load_all().unwrap().entries, vec![e2]);
    }

    #[test]
    fn a_dead_server_costs_bounded_time() {
        // Accepts connections and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let holder = std::thread::spawn(move || {
            let mut held = Vec::new();
            for _ in 0..1 {
                if let Ok((s, _)) = listener.accept() {
                    held.push(s);
                }
            }
            std::thread::sleep(Duration::from_secs(3));
        });
        let t0 = Instant::now();
        let e = PgStore::connect_with(
            &format!("postgresql://mta:secret@127.0.0.1:{port}/cache"),
            PgOptions {
                connect_timeout: Duration::from_millis(500),
                ..PgOptions::default()
            },
        )
        .unwrap_err();
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        let msg = Chain(&e).to_string();
        assert_eq!(
            msg,
            format!(
                "policy store: open postgresql://mta@127.0.0.1:{port}/cache: \
                 connecting: no answer within 500 ms"
            )
        );
        assert!(!msg.contains("secret"));
        // Nothing listens: refused at once.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e =
            PgStore::connect(&format!("postgresql://postgres@127.0.0.1:{closed}/x")).unwrap_err();
        assert!(
            Chain(&e)
                .to_string()
                .contains("connecting: error connecting to server"),
            "{e}"
        );
        drop(holder);
    }

    /// A TCP proxy to the server that can stop forwarding (a server that
    /// no longer answers, while the connection stays up).
    struct Proxy {
        port: u16,
        frozen: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Proxy {
        fn start() -> Self {
            use std::io::{Read, Write};
            use std::sync::atomic::AtomicBool;
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let frozen = Arc::new(AtomicBool::new(false));
            let f = Arc::clone(&frozen);
            std::thread::spawn(move || {
                for client in listener.incoming().take(8) {
                    let Ok(client) = client else { return };
                    let Ok(server) = std::net::TcpStream::connect("127.0.0.1:5432") else {
                        return;
                    };
                    for (mut from, mut to) in [
                        (client.try_clone().unwrap(), server.try_clone().unwrap()),
                        (server, client),
                    ] {
                        let f = Arc::clone(&f);
                        std::thread::spawn(move || {
                            let mut buf = [0u8; 16 * 1024];
                            loop {
                                let n = match from.read(&mut buf) {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => n,
                                };
                                if f.load(Ordering::SeqCst) {
                                    // Swallow everything from now on.
                                    continue;
                                }
                                if to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            let _ = to.shutdown(std::net::Shutdown::Both);
                        });
                    }
                }
            });
            Self { port, frozen }
        }
    }

    #[test]
    fn a_server_that_stops_answering_costs_bounded_time() {
        let Some(db) = TestDb::create() else { return };
        let proxy = Proxy::start();
        let url = format!(
            "postgresql://postgres@127.0.0.1:{}/{}?application_name=frozen",
            proxy.port,
            db.name()
        );
        let store = PgStore::connect_with(
            &url,
            PgOptions {
                connect_timeout: Duration::from_millis(500),
                statement_timeout: Duration::from_millis(500),
                ..PgOptions::default()
            },
        )
        .unwrap();
        store.put(&entry("a.test", "1", now())).unwrap();
        proxy.frozen.store(true, Ordering::SeqCst);
        let t0 = Instant::now();
        let e = store.get("a.test").unwrap_err();
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(1400) && took < Duration::from_secs(3),
            "{took:?}"
        );
        let msg = Chain(&e).to_string();
        assert!(msg.starts_with("policy store: get a.test: postgresql://postgres@127.0.0.1:"));
        assert!(msg.contains(": no answer within 1"), "{msg}");
        assert!(msg.ends_with(" ms; the connection was closed"), "{msg}");
        // The server answers again: the next request opens a new connection.
        proxy.frozen.store(false, Ordering::SeqCst);
        assert_eq!(
            store.get("a.test").unwrap().unwrap().policy.unwrap().id,
            "1"
        );
    }

    #[test]
    fn a_failed_reconnection_fails_the_next_requests_at_once() {
        let Some(db) = TestDb::create() else { return };
        let store = PgStore::connect_with(
            &db.url("gone"),
            PgOptions {
                retry_after: Duration::from_secs(30),
                ..PgOptions::default()
            },
        )
        .unwrap();
        store.put(&entry("a.test", "1", now())).unwrap();
        // The database goes away (its connections are terminated).
        sql(
            "postgres",
            &format!("DROP DATABASE {} WITH (FORCE)", db.name()),
        )
        .unwrap();
        let e = store.get("a.test").unwrap_err();
        let msg = Chain(&e).to_string();
        assert!(
            msg.contains(": connecting: db error: FATAL: database"),
            "{msg}"
        );
        let t0 = Instant::now();
        let e = store.put(&entry("a.test", "2", now())).unwrap_err();
        assert!(t0.elapsed() < Duration::from_millis(500));
        let msg = Chain(&e).to_string();
        assert!(
            msg.starts_with("policy store: put a.test: postgresql://"),
            "{msg}"
        );
        assert!(
            msg.contains(
                ": not connected: the last attempt failed (connecting: db error: FATAL: database"
            ),
            "{msg}"
        );
    }

    #[test]
    fn statements_wait_for_locks_at_most_the_statement_timeout() {
        let Some(db) = TestDb::create() else { return };
        let store = PgStore::connect_with(
            &db.url("locked"),
            PgOptions {
                statement_timeout: Duration::from_millis(700),
                ..PgOptions::default()
            },
        )
        .unwrap();
        store.put(&entry("a.test", "1", now())).unwrap();
        // Another session holds the whole table for 3 s.
        let name = db.name().to_owned();
        let locker = std::thread::spawn(move || {
            sql(
                &name,
                "BEGIN; LOCK TABLE mtasts_policy_cache IN ACCESS EXCLUSIVE MODE; \
                 SELECT pg_sleep(3); COMMIT",
            )
        });
        let t0 = Instant::now();
        while db.value("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'mtasts_policy_cache'::regclass")
            != Some("1".to_owned())
        {
            assert!(t0.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(20));
        }
        let t0 = Instant::now();
        let e = store.put(&entry("a.test", "2", now())).unwrap_err();
        let took = t0.elapsed();
        assert!(took < Duration::from_millis(2500), "{took:?}");
        let msg = Chain(&e).to_string();
        assert!(
            msg.contains(": put: db error: ERROR: canceling statement due to statement timeout")
                || msg.contains(": put: db error: ERROR: canceling statement due to lock timeout"),
            "{msg}"
        );
        locker.join().unwrap().unwrap();
        // The connection is still good.
        store.put(&entry("a.test", "3", now())).unwrap();
        assert_eq!(
            store.get("a.test").unwrap().unwrap().policy.unwrap().id,
            "3"
        );
    }

    #[test]
    fn claims_are_exclusive_between_nodes() {
        let Some(db) = TestDb::create() else { return };
        let a = connect(&db, "claim_a");
        let b = connect(&db, "claim_b");
        assert_eq!(a.claim_discovery("example.test").unwrap(), Claim::Granted);
        assert_eq!(
            b.claim_discovery("example.test").unwrap(),
            Claim::Elsewhere {
                wait: Duration::from_secs(10)
            }
        );
        assert_eq!(b.claim_discovery("other.test").unwrap(), Claim::Granted);
        a.release_discovery("example.test").unwrap();
        assert_eq!(b.claim_discovery("example.test").unwrap(), Claim::Granted);
        // A node that goes away releases its claims.
        drop(b);
        let t0 = Instant::now();
        while a.claim_discovery("other.test").unwrap() != Claim::Granted {
            assert!(t0.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(a.claim_discovery("example.test").unwrap(), Claim::Granted);
        // With claim_wait zero, there are no claims.
        let c = PgStore::connect_with(
            &db.url("claim_c"),
            PgOptions {
                claim_wait: Duration::ZERO,
                ..PgOptions::default()
            },
        )
        .unwrap();
        assert_eq!(c.claim_discovery("example.test").unwrap(), Claim::NotShared);
    }

    /// Called on an async worker (which the service never does) it blocks
    /// but works, and the store can be dropped there.
    #[tokio::test(flavor = "current_thread")]
    async fn usable_and_droppable_on_an_async_worker() {
        let Some(db) = TestDb::create() else { return };
        let store = connect(&db, "async");
        store.put(&entry("a.test", "1", now())).unwrap();
        assert!(store.get("a.test").unwrap().is_some());
        let s = Arc::new(store);
        let s2 = Arc::clone(&s);
        let got = tokio::task::spawn_blocking(move || s2.get("a.test"))
            .await
            .unwrap()
            .unwrap();
        assert!(got.is_some());
        drop(s);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_node_uses_the_policy_the_first_one_stored() {
        let Some(db) = TestDb::create() else { return };
        let w = World::new(Duration::ZERO).await;
        let url_a = db.url("node_a");
        let url_b = db.url("node_b");
        let (sa, sb) = tokio::task::spawn_blocking(move || {
            (
                PgStore::connect(&url_a).unwrap(),
                PgStore::connect(&url_b).unwrap(),
            )
        })
        .await
        .unwrap();
        let a = w.node(Arc::new(sa));
        let b = w.node(Arc::new(sb));
        let la = a.lookup("example.test").await;
        assert_eq!(la.answer, Answer::Discovered(Rule::D4FetchedNew));
        assert!(la.warnings.is_empty(), "{:?}", la.warnings);
        let lb = b.lookup("example.test").await;
        assert_eq!(lb.answer, Answer::FromStore);
        assert!(lb.warnings.is_empty(), "{:?}", lb.warnings);
        assert_eq!(lb.policy.as_ref().unwrap().id, "1");
        assert_eq!(
            lb.policy.unwrap().policy.to_string(),
            la.policy.unwrap().policy.to_string()
        );
        let mb = b.metrics();
        assert_eq!(
            (mb.fetches, mb.txt_lookups, mb.store_hits, mb.store_errors),
            (0, 0, 1, 0)
        );
        assert_eq!(w.policy_requests(), 1);
        // A third node, started now (a restart), loads it.
        let url_c = db.url("node_c");
        let sc = tokio::task::spawn_blocking(move || PgStore::connect(&url_c).unwrap())
            .await
            .unwrap();
        let c = w.node(Arc::new(sc));
        assert_eq!(c.len(), 1);
        drop((a, b, c));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_lookups_on_two_nodes_fetch_once() {
        let Some(db) = TestDb::create() else { return };
        let w = World::new(Duration::from_millis(800)).await;
        let url_a = db.url("node_a");
        let url_b = db.url("node_b");
        let (sa, sb) = tokio::task::spawn_blocking(move || {
            (
                PgStore::connect(&url_a).unwrap(),
                PgStore::connect(&url_b).unwrap(),
            )
        })
        .await
        .unwrap();
        let a = w.node(Arc::new(sa));
        let b = w.node(Arc::new(sb));
        let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
        let ta = tokio::spawn(async move { a2.lookup("example.test").await });
        // B starts while A's fetch is under way.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t0 = Instant::now();
        let tb = tokio::spawn(async move { b2.lookup("example.test").await });
        let (la, lb) = (ta.await.unwrap(), tb.await.unwrap());
        assert_eq!(la.answer, Answer::Discovered(Rule::D4FetchedNew));
        assert_eq!(lb.answer, Answer::FromStore);
        assert!(t0.elapsed() >= Duration::from_millis(300), "B waited for A");
        assert_eq!(w.policy_requests(), 1);
        let mb = b.metrics();
        assert_eq!(
            (mb.fetches, mb.txt_lookups, mb.shared_waits, mb.store_hits),
            (0, 0, 1, 1)
        );
        assert_eq!(a.metrics().shared_waits, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_waits_for_a_claim_then_reads_the_result() {
        let Some(db) = TestDb::create() else { return };
        let w = World::new(Duration::ZERO).await;
        let url_x = db.url("node_x");
        let url_b = db.url("node_b");
        let (x, sb) = tokio::task::spawn_blocking(move || {
            (
                PgStore::connect(&url_x).unwrap(),
                PgStore::connect(&url_b).unwrap(),
            )
        })
        .await
        .unwrap();
        let x = Arc::new(x);
        let b = w.node(Arc::new(sb));
        // Node X is discovering the domain.
        let x2 = Arc::clone(&x);
        let claim = tokio::task::spawn_blocking(move || x2.claim_discovery("example.test"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claim, Claim::Granted);
        let b2 = Arc::clone(&b);
        let t0 = Instant::now();
        let lookup = tokio::spawn(async move { b2.lookup("example.test").await });
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!lookup.is_finished(), "B waits for X");
        let e = entry("example.test", "1", now());
        let x2 = Arc::clone(&x);
        tokio::task::spawn_blocking(move || {
            x2.put(&e)?;
            x2.release_discovery("example.test")
        })
        .await
        .unwrap()
        .unwrap();
        let l = lookup.await.unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(700));
        assert_eq!(l.answer, Answer::FromStore);
        let m = b.metrics();
        assert_eq!(
            (m.fetches, m.txt_lookups, m.shared_waits, m.store_hits),
            (0, 0, 1, 1)
        );
        assert_eq!(w.policy_requests(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refresh_is_left_to_the_node_that_holds_the_claim() {
        let Some(db) = TestDb::create() else { return };
        let w = World::new(Duration::ZERO).await;
        let url_x = db.url("node_x");
        let url_b = db.url("node_b");
        let (x, sb) = tokio::task::spawn_blocking(move || {
            let x = PgStore::connect(&url_x).unwrap();
            x.put(&entry("example.test", "1", now() - 13 * 3600))
                .unwrap();
            (x, PgStore::connect(&url_b).unwrap())
        })
        .await
        .unwrap();
        let b = w.node(Arc::new(sb));
        assert_eq!(b.len(), 1);
        let x = Arc::new(x);
        let x2 = Arc::clone(&x);
        let claim = tokio::task::spawn_blocking(move || x2.claim_discovery("example.test"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claim, Claim::Granted);
        let (refreshed, _, warnings) = b.maintain(SystemTime::now()).await;
        assert_eq!(refreshed, 0);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(b.metrics().fetches, 0);
        // Once released (and nobody refreshed), B refreshes it itself.
        let x2 = Arc::clone(&x);
        tokio::task::spawn_blocking(move || x2.release_discovery("example.test"))
            .await
            .unwrap()
            .unwrap();
        let (refreshed, _, warnings) = b.maintain(SystemTime::now()).await;
        assert_eq!(refreshed, 1);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(b.metrics().fetches, 1);
        assert_eq!(w.policy_requests(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_store_becomes_warnings_not_failures() {
        let Some(db) = TestDb::create() else { return };
        let w = World::new(Duration::ZERO).await;
        let url = db.url("lost");
        let store = tokio::task::spawn_blocking(move || {
            PgStore::connect_with(
                &url,
                PgOptions {
                    retry_after: Duration::from_secs(60),
                    ..PgOptions::default()
                },
            )
            .unwrap()
        })
        .await
        .unwrap();
        let sts = w.node(Arc::new(store));
        let name = db.name().to_owned();
        tokio::task::spawn_blocking(move || {
            sql("postgres", &format!("DROP DATABASE {name} WITH (FORCE)")).unwrap()
        })
        .await
        .unwrap();
        let l = sts.lookup("example.test").await;
        assert_eq!(l.answer, Answer::Discovered(Rule::D4FetchedNew));
        assert!(l.policy.is_some());
        let codes: Vec<String> = l.warnings.iter().map(|w| w.message.clone()).collect();
        assert!(codes.len() >= 2, "{codes:?}");
        assert!(
            codes.iter().all(|m| m.starts_with("policy store: ")),
            "{codes:?}"
        );
        assert!(sts.metrics().store_errors >= 2);
    }
}
