//! The site store: the same checks against both backends (SQLite in a
//! temporary directory; PostgreSQL at 127.0.0.1:5432, one database per
//! test), then backend-specific ones (reopening the SQLite file,
//! concurrent updates through two PostgreSQL connections).

use std::sync::Arc;

use mta_sts_core::Mode;
use mta_sts_core::hosting::policy_id;
use mtasts_site::pg::PgSiteStore;
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::{
    self, DomainSettings, NewPolicy, OrderStatus, SiteStore, StoreError, StoreLocation,
    StoredCertificate,
};
use test_support::TempDir;
use test_support::pg::TestDb;

const T0: i64 = 1_796_428_800; // 2026-12-05T00:00:00Z

fn policy(mode: Mode, mx: &[&str], max_age: u64) -> NewPolicy {
    let mx: Vec<String> = mx.iter().map(|s| (*s).to_owned()).collect();
    let mut body = format!("version: STSv1\r\nmode: {mode}\r\n");
    for m in &mx {
        body.push_str(&format!("mx: {m}\r\n"));
    }
    body.push_str(&format!("max_age: {max_age}\r\n"));
    NewPolicy {
        settings: DomainSettings {
            mode,
            mx,
            max_age,
            rua: vec!["mailto:tlsrpt@example.com".into()],
        },
        body,
        removing_until: None,
    }
}

/// Run `check` against a fresh SQLite store and a fresh PostgreSQL
/// store.
fn both(check: fn(&dyn SiteStore)) {
    let dir = TempDir::unborn("mtasts-site-store");
    let s = SqliteStore::open(&dir.0).unwrap();
    check(&s);
    if let Some(db) = TestDb::create() {
        let p = PgSiteStore::connect(&db.url("store-test")).unwrap();
        check(&p);
    }
}

fn add_and_duplicate(s: &dyn SiteStore) {
    let p = policy(Mode::Testing, &["mx.example.com"], 604_800);
    let d = s.add_domain("example.com", &p, T0).unwrap();
    assert_eq!(d.name, "example.com");
    assert_eq!(d.settings, p.settings);
    assert_eq!(d.current.version, 1);
    assert_eq!(d.current.id, policy_id(T0, 1));
    assert_eq!(d.current.id, "20261205000000000001");
    assert_eq!(d.current.body, p.body);
    assert_eq!(d.current.mode, Mode::Testing);
    assert_eq!(d.current.created_at, T0);
    assert_eq!(d.mode_since, T0);
    assert_eq!(d.created_at, T0);
    assert_eq!(d.removing_until, None);
    assert_eq!(s.domain("example.com").unwrap(), Some(d.clone()));
    let e = s.add_domain("example.com", &p, T0 + 10).unwrap_err();
    assert!(
        matches!(e, StoreError::Exists(ref n) if n == "example.com"),
        "{e}"
    );
    assert_eq!(e.to_string(), "example.com is already hosted");
    // Unchanged by the refused add.
    assert_eq!(s.domain("example.com").unwrap(), Some(d));
    assert_eq!(s.domain("other.example").unwrap(), None);
}

fn update_without_change_keeps_id(s: &dyn SiteStore) {
    let p = policy(Mode::Testing, &["mx.example.com"], 604_800);
    let d = s.add_domain("example.com", &p, T0).unwrap();
    // Same body, other rua: the settings change, the id stays.
    let mut q = p.clone();
    q.settings.rua = vec!["mailto:other@example.com".into()];
    let (d2, changed) = s.update_domain("example.com", &q, T0 + 100).unwrap();
    assert!(!changed);
    assert_eq!(d2.current, d.current);
    assert_eq!(d2.settings.rua, ["mailto:other@example.com"]);
    assert_eq!(s.history("example.com").unwrap().len(), 1);
    let e = s.update_domain("nope.example", &p, T0).unwrap_err();
    assert!(
        matches!(e, StoreError::NotFound(ref n) if n == "nope.example"),
        "{e}"
    );
}

fn update_changes_id(s: &dyn SiteStore) {
    s.add_domain(
        "example.com",
        &policy(Mode::Testing, &["mx.example.com"], 604_800),
        T0,
    )
    .unwrap();
    let (d2, changed) = s
        .update_domain(
            "example.com",
            &policy(Mode::Testing, &["mx2.example.com"], 604_800),
            T0 + 60,
        )
        .unwrap();
    assert!(changed);
    assert_eq!(d2.current.version, 2);
    assert_eq!(d2.current.id, "20261205000100000002");
    // The clock stepped back: the id is made at the previous version's
    // time, so it still grows.
    let (d3, changed) = s
        .update_domain(
            "example.com",
            &policy(Mode::Testing, &["mx3.example.com"], 604_800),
            T0 - 3600,
        )
        .unwrap();
    assert!(changed);
    assert_eq!(d3.current.version, 3);
    assert_eq!(d3.current.created_at, T0 + 60);
    assert_eq!(d3.current.id, "20261205000100000003");
    assert!(d3.current.id > d2.current.id);
    let h = s.history("example.com").unwrap();
    let ids: Vec<&str> = h.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "20261205000000000001",
            "20261205000100000002",
            "20261205000100000003"
        ]
    );
    assert_eq!(
        h[1].body,
        policy(Mode::Testing, &["mx2.example.com"], 0)
            .body
            .replace("max_age: 0", "max_age: 604800")
    );
    assert!(s.history("nope.example").unwrap().is_empty());
}

fn mode_since_follows_mode(s: &dyn SiteStore) {
    s.add_domain(
        "example.com",
        &policy(Mode::Testing, &["mx.example.com"], 86_400),
        T0,
    )
    .unwrap();
    let (d, _) = s
        .update_domain(
            "example.com",
            &policy(Mode::Testing, &["mx.example.com"], 604_800),
            T0 + 10,
        )
        .unwrap();
    assert_eq!(d.mode_since, T0, "same mode: mode_since stays");
    let (d, changed) = s
        .update_domain(
            "example.com",
            &policy(Mode::Enforce, &["mx.example.com"], 604_800),
            T0 + 20,
        )
        .unwrap();
    assert!(changed);
    assert_eq!(d.mode_since, T0 + 20);
    assert_eq!(d.current.mode, Mode::Enforce);
    assert_eq!(d.settings.mode, Mode::Enforce);
    let h = s.history("example.com").unwrap();
    let modes: Vec<Mode> = h.iter().map(|v| v.mode).collect();
    assert_eq!(modes, [Mode::Testing, Mode::Testing, Mode::Enforce]);
    let created: Vec<i64> = h.iter().map(|v| v.created_at).collect();
    assert_eq!(created, [T0, T0 + 10, T0 + 20]);
}

fn delete_and_list(s: &dyn SiteStore) {
    let p = policy(Mode::Testing, &["mx.example.com"], 604_800);
    s.add_domain("b.example", &p, T0).unwrap();
    s.add_domain("a.example", &p, T0).unwrap();
    s.add_domain("c.example", &p, T0).unwrap();
    s.update_domain(
        "a.example",
        &policy(Mode::Enforce, &["mx.example.com"], 604_800),
        T0 + 1,
    )
    .unwrap();
    let names: Vec<String> = s.domains().unwrap().into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["a.example", "b.example", "c.example"]);
    assert_eq!(s.domains().unwrap()[0].current.version, 2);
    assert!(
        s.claim_order("mta-sts.a.example", "node1", T0, T0 + 60)
            .unwrap()
    );
    s.finish_order(
        "mta-sts.a.example",
        "node1",
        &OrderStatus {
            failures: 2,
            next_attempt: T0 + 600,
            last_error: Some("boom".into()),
        },
    )
    .unwrap();
    assert!(s.delete_domain("a.example").unwrap());
    assert!(!s.delete_domain("a.example").unwrap());
    assert_eq!(s.domain("a.example").unwrap(), None);
    assert!(s.history("a.example").unwrap().is_empty());
    assert_eq!(
        s.order_status("mta-sts.a.example").unwrap(),
        OrderStatus::default()
    );
    // Re-added: a fresh history from version 1.
    let d = s.add_domain("a.example", &p, T0 + 100).unwrap();
    assert_eq!(d.current.version, 1);
    assert_eq!(s.history("a.example").unwrap().len(), 1);
    let names: Vec<String> = s.domains().unwrap().into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["a.example", "b.example", "c.example"]);
}

fn purge_removed(s: &dyn SiteStore) {
    let p = policy(Mode::Testing, &["mx.example.com"], 604_800);
    s.add_domain("a.example", &p, T0).unwrap();
    s.add_domain("b.example", &p, T0).unwrap();
    s.add_domain("c.example", &p, T0).unwrap();
    let mut none = policy(Mode::None, &[], 604_800);
    none.removing_until = Some(T0 + 1000);
    let (d, changed) = s.update_domain("a.example", &none, T0 + 1).unwrap();
    assert!(changed);
    assert_eq!(d.removing_until, Some(T0 + 1000));
    none.removing_until = Some(T0 + 5000);
    s.update_domain("b.example", &none, T0 + 1).unwrap();
    assert!(
        s.purge_removed(T0 + 1000).unwrap().is_empty(),
        "deadline not yet passed"
    );
    assert_eq!(s.purge_removed(T0 + 1001).unwrap(), ["a.example"]);
    assert_eq!(s.domain("a.example").unwrap(), None);
    assert!(s.history("a.example").unwrap().is_empty());
    assert_eq!(
        s.domain("b.example").unwrap().unwrap().removing_until,
        Some(T0 + 5000)
    );
    // Clearing removing_until (a cancelled removal) keeps the domain.
    let (d, _) = s
        .update_domain(
            "b.example",
            &policy(Mode::Testing, &["mx.example.com"], 604_800),
            T0 + 2,
        )
        .unwrap();
    assert_eq!(d.removing_until, None);
    assert!(s.purge_removed(T0 + 99_999).unwrap().is_empty());
    let names: Vec<String> = s.domains().unwrap().into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["b.example", "c.example"]);
}

fn settings(s: &dyn SiteStore) {
    assert_eq!(s.setting("target").unwrap(), None);
    s.set_setting("target", Some("sts.host.example.net"))
        .unwrap();
    s.set_setting("addresses", Some("192.0.2.1,2001:db8::1"))
        .unwrap();
    assert_eq!(
        s.setting("target").unwrap().as_deref(),
        Some("sts.host.example.net")
    );
    s.set_setting("target", Some("other.example.net")).unwrap();
    assert_eq!(
        s.setting("target").unwrap().as_deref(),
        Some("other.example.net")
    );
    s.set_setting("target", None).unwrap();
    assert_eq!(s.setting("target").unwrap(), None);
    assert_eq!(
        s.setting("addresses").unwrap().as_deref(),
        Some("192.0.2.1,2001:db8::1")
    );
}

fn certificates(s: &dyn SiteStore) {
    assert_eq!(s.certificate("mta-sts.example.com").unwrap(), None);
    let c = StoredCertificate {
        host: "mta-sts.example.com".into(),
        chain_pem: "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n".into(),
        key_pem: "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n".into(),
        not_after: T0 + 90 * 86_400,
        updated_at: T0,
    };
    s.put_certificate(&c).unwrap();
    let a = StoredCertificate {
        host: "mta-sts.a.example".into(),
        ..c.clone()
    };
    s.put_certificate(&a).unwrap();
    assert_eq!(
        s.certificate("mta-sts.example.com").unwrap(),
        Some(c.clone())
    );
    let renewed = StoredCertificate {
        chain_pem: "new chain".into(),
        not_after: T0 + 180 * 86_400,
        updated_at: T0 + 60 * 86_400,
        ..c
    };
    s.put_certificate(&renewed).unwrap();
    assert_eq!(s.certificates().unwrap(), [a, renewed]);
    // Certificates outlive their domain (a re-added domain is served at once).
    let p = policy(Mode::Testing, &["mx.example.com"], 604_800);
    s.add_domain("example.com", &p, T0).unwrap();
    s.delete_domain("example.com").unwrap();
    assert_eq!(s.certificates().unwrap().len(), 2);
}

fn acme_accounts(s: &dyn SiteStore) {
    let dir = "https://127.0.0.1:14000/dir";
    assert_eq!(s.acme_account(dir).unwrap(), None);
    s.put_acme_account(dir, r#"{"id":"1"}"#).unwrap();
    s.put_acme_account("https://other.example/dir", r#"{"id":"x"}"#)
        .unwrap();
    assert_eq!(
        s.acme_account(dir).unwrap().as_deref(),
        Some(r#"{"id":"1"}"#)
    );
    s.put_acme_account(dir, r#"{"id":"2"}"#).unwrap();
    assert_eq!(
        s.acme_account(dir).unwrap().as_deref(),
        Some(r#"{"id":"2"}"#)
    );
    assert_eq!(
        s.acme_account("https://other.example/dir")
            .unwrap()
            .as_deref(),
        Some(r#"{"id":"x"}"#)
    );
}

fn claim_order_between_holders(s: &dyn SiteStore) {
    let h = "mta-sts.example.com";
    assert!(s.claim_order(h, "node1", T0, T0 + 300).unwrap());
    assert!(
        !s.claim_order(h, "node2", T0 + 10, T0 + 310).unwrap(),
        "node1 holds it"
    );
    assert!(
        s.claim_order(h, "node1", T0 + 20, T0 + 320).unwrap(),
        "same holder renews"
    );
    assert!(!s.claim_order(h, "node2", T0 + 319, T0 + 600).unwrap());
    // Expired: node2 takes it over.
    assert!(s.claim_order(h, "node2", T0 + 320, T0 + 620).unwrap());
    assert!(!s.claim_order(h, "node1", T0 + 400, T0 + 700).unwrap());
    // node1 finishing (it lost the claim) records the status but does not
    // release node2's claim.
    let failed = OrderStatus {
        failures: 1,
        next_attempt: T0 + 900,
        last_error: Some("rateLimited".into()),
    };
    s.finish_order(h, "node1", &failed).unwrap();
    assert_eq!(s.order_status(h).unwrap(), failed);
    assert!(!s.claim_order(h, "node1", T0 + 401, T0 + 700).unwrap());
    // node2 finishes: the claim is released.
    s.finish_order(h, "node2", &OrderStatus::default()).unwrap();
    assert_eq!(s.order_status(h).unwrap(), OrderStatus::default());
    assert!(s.claim_order(h, "node1", T0 + 402, T0 + 700).unwrap());
    // Other hosts are independent.
    assert!(
        s.claim_order("mta-sts.other.example", "node2", T0 + 402, T0 + 700)
            .unwrap()
    );
    assert_eq!(
        s.order_status("mta-sts.none.example").unwrap(),
        OrderStatus::default()
    );
    // finish_order without a claim records the status too.
    s.finish_order("mta-sts.fresh.example", "node3", &failed)
        .unwrap();
    assert_eq!(s.order_status("mta-sts.fresh.example").unwrap(), failed);
    assert!(
        s.claim_order("mta-sts.fresh.example", "node1", T0, T0 + 1)
            .unwrap()
    );
}

fn generation_grows(s: &dyn SiteStore) {
    let mut last = s.generation().unwrap();
    let mut step = |what: &str| {
        let g = s.generation().unwrap();
        assert!(g > last, "{what}: generation {g} after {last}");
        last = g;
    };
    let p = policy(Mode::Testing, &["mx.example.com"], 604_800);
    s.add_domain("example.com", &p, T0).unwrap();
    step("add");
    s.update_domain(
        "example.com",
        &policy(Mode::Enforce, &["mx.example.com"], 604_800),
        T0 + 1,
    )
    .unwrap();
    step("update");
    s.set_setting("target", Some("x.example")).unwrap();
    step("setting");
    s.put_acme_account("d", "{}").unwrap();
    step("account");
    assert!(s.claim_order("h", "n", T0, T0 + 10).unwrap());
    step("claim");
    let g = s.generation().unwrap();
    assert!(!s.claim_order("h", "other", T0, T0 + 10).unwrap());
    assert_eq!(s.generation().unwrap(), g, "a refused claim writes nothing");
    s.delete_domain("example.com").unwrap();
    step("delete");
    let g = s.generation().unwrap();
    s.domains().unwrap();
    s.history("example.com").unwrap();
    assert_eq!(s.generation().unwrap(), g, "reads do not bump it");
}

#[test]
fn add_duplicate() {
    both(add_and_duplicate);
}

#[test]
fn update_no_change_keeps_id() {
    both(update_without_change_keeps_id);
}

#[test]
fn update_changes_id_monotonic() {
    both(update_changes_id);
}

#[test]
fn mode_since() {
    both(mode_since_follows_mode);
}

#[test]
fn delete_history_and_list() {
    both(delete_and_list);
}

#[test]
fn purge() {
    both(purge_removed);
}

#[test]
fn site_settings() {
    both(settings);
}

#[test]
fn stored_certificates() {
    both(certificates);
}

#[test]
fn acme_account_credentials() {
    both(acme_accounts);
}

#[test]
fn claim_order() {
    both(claim_order_between_holders);
}

#[test]
fn generation() {
    both(generation_grows);
}

#[test]
fn sqlite_reopen_keeps_everything() {
    let dir = TempDir::unborn("mtasts-site-store");
    let nested = dir.0.join("state");
    let (domain, gen_before) = {
        let s = store::open(&StoreLocation::State(nested.clone())).unwrap();
        s.add_domain(
            "example.com",
            &policy(Mode::Testing, &["mx.example.com"], 604_800),
            T0,
        )
        .unwrap();
        let (d, _) = s
            .update_domain(
                "example.com",
                &policy(Mode::Enforce, &["mx.example.com"], 604_800),
                T0 + 5,
            )
            .unwrap();
        assert_eq!(d.current.version, 2);
        s.set_setting("target", Some("sts.host.example.net"))
            .unwrap();
        s.put_acme_account("dir", "{\"k\":1}").unwrap();
        s.claim_order("mta-sts.example.com", "node1", T0, T0 + 600)
            .unwrap();
        (d, s.generation().unwrap())
    };
    assert!(store::sqlite_path(&nested).is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&nested).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    let s = SqliteStore::open(&nested).unwrap();
    assert_eq!(s.path(), store::sqlite_path(&nested));
    assert_eq!(s.domain("example.com").unwrap(), Some(domain));
    assert_eq!(s.history("example.com").unwrap().len(), 2);
    assert_eq!(
        s.setting("target").unwrap().as_deref(),
        Some("sts.host.example.net")
    );
    assert_eq!(s.acme_account("dir").unwrap().as_deref(), Some("{\"k\":1}"));
    assert!(
        !s.claim_order("mta-sts.example.com", "node2", T0 + 1, T0 + 10)
            .unwrap()
    );
    assert_eq!(s.generation().unwrap(), gen_before);
    // Two handles on one file (the CLI while the server runs) see each
    // other's writes.
    let other = SqliteStore::open(&nested).unwrap();
    other.set_setting("target", Some("b.example")).unwrap();
    assert_eq!(s.setting("target").unwrap().as_deref(), Some("b.example"));
    assert!(s.generation().unwrap() > gen_before);
}

#[test]
fn sqlite_open_refuses_a_file_that_is_not_a_database() {
    let dir = TempDir::new("mtasts-site-store");
    std::fs::write(store::sqlite_path(&dir.0), b"this is not sqlite, it is long enough to be a header..........................................").unwrap();
    let e = SqliteStore::open(&dir.0).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("site.sqlite3"), "{msg}");
}

#[test]
fn pg_unreachable_says_so() {
    // Port 9 (discard) on loopback: nothing listens.
    let e =
        PgSiteStore::connect("postgresql://postgres@127.0.0.1:9/x?connect_timeout=2").unwrap_err();
    assert!(matches!(e, StoreError::Postgres(_)), "{e}");
    assert_eq!(e.to_string(), "site database");
    let chain = mtasts_site::Chain(&e).to_string();
    assert!(
        chain.starts_with("site database: error connecting"),
        "{chain}"
    );
    let e = PgSiteStore::connect("not a url ===").unwrap_err();
    assert!(matches!(e, StoreError::Postgres(_)), "{e}");
}

#[test]
fn pg_two_connections_update_one_domain_concurrently() {
    let Some(db) = TestDb::create() else { return };
    let url = db.url("store-concurrent");
    let a = Arc::new(PgSiteStore::connect(&url).unwrap());
    let b = Arc::new(PgSiteStore::connect(&url).unwrap());
    // The second node's schema creation ran on existing tables.
    a.add_domain(
        "example.com",
        &policy(Mode::Testing, &["mx0.example.com"], 604_800),
        T0,
    )
    .unwrap();
    let per_thread = 10;
    let threads: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(t, s)| {
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let mx = format!("mx-{t}-{i}.example.com");
                    let (_, changed) = s
                        .update_domain(
                            "example.com",
                            &policy(Mode::Testing, &[&mx], 604_800),
                            T0 + 1,
                        )
                        .unwrap();
                    assert!(changed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let h = a.history("example.com").unwrap();
    let versions: Vec<u64> = h.iter().map(|v| v.version).collect();
    let expected: Vec<u64> = (1..=1 + 2 * per_thread).collect();
    assert_eq!(versions, expected);
    let mut ids: Vec<&str> = h.iter().map(|v| v.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), h.len(), "ids are unique");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");
    assert_eq!(
        b.domain("example.com").unwrap().unwrap().current.version,
        21
    );
    assert_eq!(
        db.value("SELECT count(*) FROM policy_versions").as_deref(),
        Some("21")
    );
}

#[test]
fn pg_reconnects_after_the_connection_is_closed() {
    let Some(db) = TestDb::create() else { return };
    let s = store::open(&StoreLocation::Database(db.url("store-reconnect"))).unwrap();
    s.add_domain(
        "example.com",
        &policy(Mode::Testing, &["mx.example.com"], 604_800),
        T0,
    )
    .unwrap();
    db.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'store-reconnect'",
    );
    // The read finds the connection closed and is retried on a new one.
    let d = s.domain("example.com").unwrap();
    assert_eq!(s.generation().unwrap(), 1);
    // A write after the connection was lost again reconnects first.
    db.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'store-reconnect'",
    );
    let g = s.generation().unwrap();
    s.set_setting("target", Some("x.example")).unwrap();
    assert!(s.generation().unwrap() > g);
    assert_eq!(d.unwrap().current.version, 1);
    assert!(format!("{s:?}").contains("PgSiteStore"));
    assert!(!format!("{s:?}").contains("postgres@"));
}
