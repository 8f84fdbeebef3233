//! The Maildir input of the TLS-RPT inbox against a real Maildir in a
//! temporary directory and the embedded (SQLite) store: reports stored
//! and their messages moved to `cur/` flagged `S`, a duplicate counted
//! once, garbage and an oversized message moved to `.rejected`, the
//! watch mode picking up a delivery (written to `tmp/`, renamed into
//! `new/`, as MTAs do) through inotify, and a store outage (PostgreSQL
//! refusing connections) leaving the message in place until a later run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mtasts_site::inbox::maildir::{self, MaildirCounts, MaildirOptions};
use mtasts_site::inbox::{Inbox, InboxOptions};
use mtasts_site::pg::PgSiteStore;
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::SiteStore;
use test_support::pg::TestDb;
use test_support::{DnsServer, TempDir, Zones};
use tlsrpt_core::input::{ReadOptions, read_report};

/// A report e-mail of the shared corpus, with its (organization,
/// report-id) as tlsrpt-core reads them.
fn corpus(rel: &str) -> (Vec<u8>, String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let read = read_report(&bytes, &ReadOptions::default()).unwrap();
    let report = read.value.report;
    let (org, id) = (
        report.organization_name.into_owned(),
        report.report_id.into_owned(),
    );
    (bytes, org, id)
}

const GOOGLE: &str = "go/mox/testdata/tlsreports/example.eml";
const FAILURE: &str = "go/tlsrpt-digest/testdata/tlsrpt_failure.eml";
const RFC: &str = "mail-auth/rpt01.eml";

fn make_maildir(root: &Path) -> PathBuf {
    let md = root.join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).unwrap();
    }
    md
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// Inbox options for tests: no retention (the corpus reports are old),
/// DKIM keys asked of a loopback DNS server without zones (every key
/// is NXDOMAIN at once: the DKIM result is recorded, nothing waits).
fn inbox_options(dns: &DnsServer) -> InboxOptions {
    InboxOptions {
        dkim_resolver: Some(dns.addr()),
        retain_days: None,
        ..InboxOptions::default()
    }
}

async fn sqlite_inbox(dir: &Path) -> (Arc<dyn SiteStore>, Inbox, DnsServer) {
    let dns = DnsServer::start(Zones::new()).await.unwrap();
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(dir).unwrap());
    let inbox = Inbox::new(Arc::clone(&store), inbox_options(&dns));
    (store, inbox, dns)
}

/// Deliver as an MTA does: write in `tmp/`, rename into `new/`.
fn deliver(md: &Path, name: &str, bytes: &[u8]) {
    let tmp = md.join("tmp").join(name);
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, md.join("new").join(name)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_moved_by_outcome() {
    let tmp = TempDir::new("mtasts-site-maildir-outcome");
    let md = make_maildir(&tmp.0);
    let (store, inbox, _dns) = sqlite_inbox(&tmp.0.join("state")).await;
    let (google, g_org, g_id) = corpus(GOOGLE);
    let (failure, f_org, f_id) = corpus(FAILURE);
    let (rfc, r_org, r_id) = corpus(RFC);
    assert_ne!((&g_org, &g_id), (&f_org, &f_id));

    deliver(&md, "1000.A.host", &google);
    // The same report again: a duplicate.
    deliver(&md, "1001.B.host", &google);
    // Moved to cur/ unread by an IMAP server (no S flag): still unprocessed.
    std::fs::write(md.join("cur/1002.C.host:2,"), &failure).unwrap();
    deliver(&md, "1003.D.host", b"this is not a report\r\n");
    // Already seen: left alone.
    std::fs::write(md.join("cur/1004.E.host:2,S"), &rfc).unwrap();
    // Over the size limit below: rejected without being read.
    let big = vec![b'x'; 300_000];
    deliver(&md, "1005.F.host", &big);
    // Flags other than S are kept, S added in order.
    deliver(
        &md,
        "1006.G.host:2,F",
        b"Subject: hello\r\n\r\nnot a report either\r\n",
    );

    let options = MaildirOptions {
        max_message: 200_000,
        batch: 2,
        ..MaildirOptions::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let counts = maildir::ingest_maildir_with(&inbox, &md, &options, false, rx)
        .await
        .unwrap();
    assert_eq!(
        counts,
        MaildirCounts {
            stored: 2,
            duplicates: 1,
            rejected: 3,
            deferred: 0,
            failed: 0,
        }
    );
    assert!(names(&md.join("new")).is_empty());
    assert_eq!(
        names(&md.join("cur")),
        [
            "1000.A.host:2,S",
            "1001.B.host:2,S",
            "1002.C.host:2,S",
            "1004.E.host:2,S"
        ]
    );
    let rejected = md.join(".rejected");
    assert_eq!(
        names(&rejected.join("cur")),
        ["1003.D.host:2,", "1005.F.host:2,", "1006.G.host:2,F"]
    );
    assert!(names(&rejected.join("new")).is_empty());
    assert!(rejected.join("tmp").is_dir());
    assert!(rejected.join("maildirfolder").is_file());
    // Kept byte for byte.
    assert_eq!(
        std::fs::read(md.join("cur/1001.B.host:2,S")).unwrap(),
        google
    );
    assert_eq!(
        std::fs::read(md.join("cur/1002.C.host:2,S")).unwrap(),
        failure
    );
    assert_eq!(
        std::fs::read(rejected.join("cur/1005.F.host:2,")).unwrap(),
        big
    );

    let ib = store.inbox();
    let g = ib
        .stored_report(&g_org, &g_id)
        .unwrap()
        .expect("google report stored");
    assert_eq!(
        g.receipts, 2,
        "the duplicate is counted once, its receipt kept"
    );
    assert!(g.source.ends_with("new/1000.A.host"), "{}", g.source);
    let f = ib
        .stored_report(&f_org, &f_id)
        .unwrap()
        .expect("failure report stored");
    assert_eq!(f.receipts, 1);
    assert!(f.source.ends_with("cur/1002.C.host:2,"), "{}", f.source);
    assert!(
        ib.stored_report(&r_org, &r_id).unwrap().is_none(),
        "a seen message is not read"
    );
    let stats = ib.inbox_stats().unwrap();
    assert_eq!((stats.reports, stats.receipts), (2, 3));

    // A second run finds nothing to do.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let again = maildir::ingest_maildir(&inbox, &md, false, rx)
        .await
        .unwrap();
    assert_eq!(again, MaildirCounts::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_a_maildir_is_an_error() {
    let tmp = TempDir::new("mtasts-site-maildir-notmd");
    let (_store, inbox, _dns) = sqlite_inbox(&tmp.0.join("state")).await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let err = maildir::ingest_maildir(&inbox, &tmp.0.join("nothing"), false, rx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, maildir::MaildirError::NotAMaildir(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("needs new/ and cur/"), "{err}");
}

/// Wait until `path` exists (at most `limit`).
async fn wait_for(path: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    path.exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_picks_up_a_delivery_through_inotify() {
    let tmp = TempDir::new("mtasts-site-maildir-watch");
    let md = make_maildir(&tmp.0);
    let (store, inbox, _dns) = sqlite_inbox(&tmp.0.join("state")).await;
    let inbox = Arc::new(inbox);
    let (google, g_org, g_id) = corpus(GOOGLE);
    let (failure, f_org, f_id) = corpus(FAILURE);
    deliver(&md, "2000.A.host", &google);

    // The periodic rescan is far away: only inotify can wake it in time.
    let options = MaildirOptions {
        rescan_every: Duration::from_secs(3600),
        ..MaildirOptions::default()
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = {
        let (inbox, md) = (Arc::clone(&inbox), md.clone());
        tokio::spawn(
            async move { maildir::ingest_maildir_with(&inbox, &md, &options, true, rx).await },
        )
    };
    assert!(
        wait_for(&md.join("cur/2000.A.host:2,S"), Duration::from_secs(10)).await,
        "the first scan did not process the waiting message"
    );

    let started = Instant::now();
    deliver(&md, "2001.B.host", &failure);
    assert!(
        wait_for(&md.join("cur/2001.B.host:2,S"), Duration::from_secs(5)).await,
        "the delivery was not picked up within 5 s"
    );
    eprintln!("picked up in {:?}", started.elapsed());
    // And garbage delivered while watching goes to .rejected.
    deliver(&md, "2002.C.host", b"garbage\n");
    assert!(
        wait_for(
            &md.join(".rejected/cur/2002.C.host:2,"),
            Duration::from_secs(5)
        )
        .await
    );

    tx.send(true).unwrap();
    let counts = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops on shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(
        counts,
        MaildirCounts {
            stored: 2,
            duplicates: 0,
            rejected: 1,
            deferred: 0,
            failed: 0
        }
    );
    let ib = store.inbox();
    assert!(ib.stored_report(&g_org, &g_id).unwrap().is_some());
    assert!(ib.stored_report(&f_org, &f_id).unwrap().is_some());
    assert!(names(&md.join("new")).is_empty());
}

#[test]
fn store_unavailable_leaves_the_message_for_a_later_run() {
    // PostgreSQL refusing connections is the store being down: the
    // message stays in new/, the run says "deferred"; once the server
    // takes connections again, the next run stores and moves it.
    let Some(db) = TestDb::create() else { return };
    let store: Arc<dyn SiteStore> =
        Arc::new(PgSiteStore::connect(&db.url("maildir-gone")).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dns = rt.block_on(DnsServer::start(Zones::new())).unwrap();
    let inbox = Inbox::new(Arc::clone(&store), inbox_options(&dns));
    let tmp = TempDir::new("mtasts-site-maildir-down");
    let md = make_maildir(&tmp.0);
    let (google, g_org, g_id) = corpus(GOOGLE);
    deliver(&md, "3000.A.host", &google);
    deliver(&md, "3001.B.host", b"garbage\n");

    let allow = |yes: bool| {
        test_support::pg::sql(
            "postgres",
            &format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {yes}", db.name()),
        )
        .unwrap();
    };
    db.sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
        db.name()
    ));
    allow(false);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let counts = rt
        .block_on(maildir::ingest_maildir(&inbox, &md, false, rx.clone()))
        .unwrap();
    allow(true);
    assert_eq!(counts.deferred, 1, "{counts:?}");
    assert_eq!(counts.stored, 0, "{counts:?}");
    // The scan stops at the first deferral: the report is still in new/.
    assert!(md.join("new/3000.A.host").is_file());
    assert!(names(&md.join("cur")).is_empty());

    let counts = rt
        .block_on(maildir::ingest_maildir(&inbox, &md, false, rx))
        .unwrap();
    assert_eq!(
        counts,
        MaildirCounts {
            stored: 1,
            duplicates: 0,
            rejected: 1,
            deferred: 0,
            failed: 0
        }
    );
    assert_eq!(names(&md.join("cur")), ["3000.A.host:2,S"]);
    let stored = store.inbox().stored_report(&g_org, &g_id).unwrap().unwrap();
    assert_eq!(stored.receipts, 1);
    drop(inbox);
    drop(dns);
    drop(rt);
}

#[test]
fn watch_retries_after_the_store_comes_back() {
    // Watching while PostgreSQL refuses connections: the delivery stays
    // in new/ (retried with back-off), and is stored once the server
    // takes connections again, without a new delivery or inotify event.
    let Some(db) = TestDb::create() else { return };
    let store: Arc<dyn SiteStore> =
        Arc::new(PgSiteStore::connect(&db.url("maildir-retry")).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dns = rt.block_on(DnsServer::start(Zones::new())).unwrap();
    let inbox = Arc::new(Inbox::new(Arc::clone(&store), inbox_options(&dns)));
    let tmp = TempDir::new("mtasts-site-maildir-retry");
    let md = make_maildir(&tmp.0);
    let (google, g_org, g_id) = corpus(GOOGLE);
    let allow = |yes: bool| {
        test_support::pg::sql(
            "postgres",
            &format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {yes}", db.name()),
        )
        .unwrap();
    };
    db.sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
        db.name()
    ));
    allow(false);
    let options = MaildirOptions {
        retry_after: Duration::from_millis(100),
        rescan_every: Duration::from_secs(3600),
        ..MaildirOptions::default()
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = {
        let (inbox, md) = (Arc::clone(&inbox), md.clone());
        rt.spawn(async move { maildir::ingest_maildir_with(&inbox, &md, &options, true, rx).await })
    };
    deliver(&md, "4000.A.host", &google);
    std::thread::sleep(Duration::from_millis(800));
    let waiting = md.join("new/4000.A.host").is_file();
    allow(true);
    assert!(
        waiting,
        "the message must wait in new/ while the store is down"
    );
    let done = md.join("cur/4000.A.host:2,S");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(done.exists(), "not retried after the store came back");
    tx.send(true).unwrap();
    let counts = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await })
        .expect("stops on shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(counts.stored, 1, "{counts:?}");
    assert!(counts.deferred >= 1, "{counts:?}");
    assert_eq!(
        store
            .inbox()
            .stored_report(&g_org, &g_id)
            .unwrap()
            .unwrap()
            .receipts,
        1
    );
    drop(inbox);
    drop(dns);
    drop(rt);
}
