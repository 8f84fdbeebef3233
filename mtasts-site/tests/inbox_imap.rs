//! The IMAP input of the TLS-RPT inbox against a real IMAP server:
//! Debian's Dovecot started by the test (implicit TLS on a loopback
//! port, certificate from a test CA), messages appended over IMAP and
//! delivered into its Maildir, the embedded (SQLite) store. Reports are
//! stored and their messages moved to `TLSRPT-Done`, rejects to
//! `TLSRPT-Rejected` (with `MOVE`, and with `COPY` + `STORE` +
//! `EXPUNGE`), and the watch mode picks up a message appended after it
//! started through `IDLE`.
//!
//! Without Dovecot the tests print why and check nothing, unless
//! `MTASTS_REQUIRE_DOVECOT=1` (as `.ci/run` sets).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mtasts_site::inbox::imap::{self, ImapCounts, ImapError, ImapOptions, ImapUrl};
use mtasts_site::inbox::{Inbox, InboxOptions};
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::SiteStore;
use policy_fetch::Roots;
use test_support::dovecot::Dovecot;
use test_support::{DnsServer, TempDir, TestCa, Zones};
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

/// The store, the inbox (DKIM keys asked of a loopback DNS server with
/// no zones: NXDOMAIN at once), and that server.
async fn sqlite_inbox(dir: &Path) -> (Arc<dyn SiteStore>, Inbox, DnsServer) {
    let dns = DnsServer::start(Zones::new()).await.unwrap();
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(dir).unwrap());
    let options = InboxOptions {
        dkim_resolver: Some(dns.addr()),
        retain_days: None,
        ..InboxOptions::default()
    };
    let inbox = Inbox::new(Arc::clone(&store), options);
    (store, inbox, dns)
}

/// Options trusting only the test CA of `dovecot`.
fn options(dovecot: &Dovecot) -> ImapOptions {
    let mut roots = Roots::empty();
    roots.add_pem_file(&dovecot.ca_path()).unwrap();
    ImapOptions {
        roots,
        ..ImapOptions::default()
    }
}

fn url(dovecot: &Dovecot) -> ImapUrl {
    dovecot.url("INBOX").parse().unwrap()
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

/// Appended messages come back with CRLF line ends as given; the corpus
/// files are stored as they are, so compare after normalizing to CRLF.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// Dovecot's log once `done` holds for it (it logs a disconnection just
/// after the client's LOGOUT), or after 5 s.
async fn log_when(dovecot: &Dovecot, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = dovecot.log();
        if done(&log) || Instant::now() > deadline {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_moved_to_the_done_and_rejected_folders() {
    let Some(dovecot) = Dovecot::start_or_skip().await.unwrap() else {
        return;
    };
    let tmp = TempDir::new("mtasts-site-imap-move");
    let (store, inbox, _dns) = sqlite_inbox(&tmp.0).await;
    let (google, g_org, g_id) = corpus(GOOGLE);
    let (failure, f_org, f_id) = corpus(FAILURE);
    let (rfc, r_org, r_id) = corpus(RFC);
    let google = crlf(&google);
    let failure = crlf(&failure);
    let rfc = crlf(&rfc);
    let garbage = b"Subject: hello\r\n\r\nnot a report\r\n".to_vec();
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 300_000));
    big.extend_from_slice(b"\r\n");

    dovecot.append("INBOX", &google).await.unwrap();
    dovecot.append("INBOX", &google).await.unwrap();
    dovecot.append("INBOX", &garbage).await.unwrap();
    dovecot.append("INBOX", &failure).await.unwrap();
    dovecot.append("INBOX", &big).await.unwrap();
    // Delivered into the Maildir by an "MTA", not over IMAP.
    dovecot.deliver(&rfc).unwrap();
    assert_eq!(dovecot.count("INBOX").await.unwrap(), Some(6));
    assert_eq!(dovecot.count(imap::DONE_FOLDER).await.unwrap(), None);

    let opts = ImapOptions {
        max_message: 200_000,
        batch: 4,
        ..options(&dovecot)
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let counts = imap::ingest_imap(&inbox, &url(&dovecot), dovecot.password(), &opts, false, rx)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
    assert_eq!(
        counts,
        ImapCounts {
            stored: 3,
            duplicates: 1,
            rejected: 2,
            deferred: 0
        }
    );
    assert_eq!(dovecot.count("INBOX").await.unwrap(), Some(0));
    let done = dovecot.messages(imap::DONE_FOLDER).await.unwrap();
    assert_eq!(
        sorted(done.iter().map(|(_, b)| b.clone()).collect()),
        sorted(vec![
            google.clone(),
            google.clone(),
            failure.clone(),
            rfc.clone()
        ])
    );
    // Fetched with BODY.PEEK[]: nobody's \Seen flag was set.
    assert!(
        done.iter().all(|(flags, _)| !flags.contains("\\Seen")),
        "{done:?}"
    );
    let rejected = dovecot.messages(imap::REJECTED_FOLDER).await.unwrap();
    assert_eq!(
        sorted(rejected.into_iter().map(|(_, b)| b).collect()),
        sorted(vec![garbage, big])
    );

    let ib = store.inbox();
    let g = ib
        .stored_report(&g_org, &g_id)
        .unwrap()
        .expect("google report");
    assert_eq!(g.receipts, 2);
    assert_eq!(g.source, "imap:INBOX/1");
    assert_eq!(
        ib.stored_report(&f_org, &f_id).unwrap().unwrap().source,
        "imap:INBOX/4"
    );
    assert!(ib.stored_report(&r_org, &r_id).unwrap().is_some());
    let stats = ib.inbox_stats().unwrap();
    assert_eq!((stats.reports, stats.receipts), (3, 4));

    // Nothing is left to do.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let again = imap::ingest_imap(&inbox, &url(&dovecot), dovecot.password(), &opts, false, rx)
        .await
        .unwrap();
    assert_eq!(again, ImapCounts::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_store_expunge_without_move() {
    let Some(dovecot) = Dovecot::start_or_skip().await.unwrap() else {
        return;
    };
    let tmp = TempDir::new("mtasts-site-imap-copy");
    let (store, inbox, _dns) = sqlite_inbox(&tmp.0).await;
    let (failure, f_org, f_id) = corpus(FAILURE);
    let failure = crlf(&failure);
    // The done folder exists already (created by someone else).
    assert!(dovecot.create("Reports-Done").await.unwrap());
    dovecot.append("INBOX", &failure).await.unwrap();
    dovecot.append("INBOX", b"garbage\r\n").await.unwrap();
    let opts = ImapOptions {
        use_move: false,
        done_folder: "Reports-Done".into(),
        rejected_folder: "Reports-Bad".into(),
        ..options(&dovecot)
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let counts = imap::ingest_imap(&inbox, &url(&dovecot), dovecot.password(), &opts, false, rx)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
    assert_eq!(
        counts,
        ImapCounts {
            stored: 1,
            duplicates: 0,
            rejected: 1,
            deferred: 0
        }
    );
    // Expunged from INBOX, not merely flagged \Deleted.
    assert_eq!(dovecot.count("INBOX").await.unwrap(), Some(0));
    assert_eq!(
        dovecot.messages("Reports-Done").await.unwrap()[0].1,
        failure
    );
    assert_eq!(dovecot.count("Reports-Bad").await.unwrap(), Some(1));
    assert_eq!(dovecot.count(imap::DONE_FOLDER).await.unwrap(), None);
    assert!(
        store
            .inbox()
            .stored_report(&f_org, &f_id)
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_with_idle_picks_up_an_appended_message() {
    let Some(dovecot) = Dovecot::start_or_skip().await.unwrap() else {
        return;
    };
    let dovecot = Arc::new(dovecot);
    let tmp = TempDir::new("mtasts-site-imap-idle");
    let (store, inbox, _dns) = sqlite_inbox(&tmp.0).await;
    let inbox = Arc::new(inbox);
    let (google, g_org, g_id) = corpus(GOOGLE);
    let (failure, f_org, f_id) = corpus(FAILURE);
    dovecot.append("INBOX", &crlf(&google)).await.unwrap();

    // IDLE is re-issued only every 10 minutes: only the server's
    // announcement can wake it in time.
    let opts = options(&dovecot);
    assert!(opts.idle_every >= Duration::from_secs(600));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = {
        let (inbox, url) = (Arc::clone(&inbox), url(&dovecot));
        let password = dovecot.password().to_owned();
        tokio::spawn(
            async move { imap::ingest_imap(&inbox, &url, &password, &opts, true, rx).await },
        )
    };
    let wait_done = |n: u32| {
        let dovecot = Arc::clone(&dovecot);
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if dovecot.count(imap::DONE_FOLDER).await.unwrap() == Some(n) {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert!(
        wait_done(1).await,
        "the first round did not run:\n{}",
        dovecot.log()
    );
    // Let the session settle into IDLE.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    dovecot.append("INBOX", &crlf(&failure)).await.unwrap();
    assert!(wait_done(2).await, "the appended message was not picked up");
    let took = started.elapsed();
    eprintln!("picked up in {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(dovecot.count("INBOX").await.unwrap(), Some(0));

    tx.send(true).unwrap();
    let counts = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops on shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(
        counts,
        ImapCounts {
            stored: 2,
            duplicates: 0,
            rejected: 0,
            deferred: 0
        }
    );
    let ib = store.inbox();
    assert!(ib.stored_report(&g_org, &g_id).unwrap().is_some());
    assert!(ib.stored_report(&f_org, &f_id).unwrap().is_some());
    // The session (which fetched both messages) ended with DONE and
    // LOGOUT.
    let ended = |log: &str| {
        log.lines()
            .any(|l| l.contains("body_count=2 ") && l.contains("Disconnected: Logged out"))
    };
    let log = log_when(&dovecot, ended).await;
    assert!(ended(&log), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_untrusted_certificate_fail() {
    let Some(dovecot) = Dovecot::start_or_skip().await.unwrap() else {
        return;
    };
    let tmp = TempDir::new("mtasts-site-imap-fail");
    let (_store, inbox, _dns) = sqlite_inbox(&tmp.0).await;
    dovecot
        .append("INBOX", b"Subject: x\r\n\r\ny\r\n")
        .await
        .unwrap();

    let (_tx, rx) = tokio::sync::watch::channel(false);
    let err = imap::ingest_imap(
        &inbox,
        &url(&dovecot),
        "wrong",
        &options(&dovecot),
        false,
        rx,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImapError::Login { .. }), "{err:?}");
    assert!(
        err.to_string().contains("login as tlsrpt at 127.0.0.1:"),
        "{err}"
    );

    // Another CA: the handshake fails.
    let other = TestCa::new();
    let pem = tmp.0.join("other-ca.pem");
    std::fs::write(&pem, other.ca_pem()).unwrap();
    let mut roots = Roots::empty();
    roots.add_pem_file(&pem).unwrap();
    let opts = ImapOptions {
        roots,
        ..ImapOptions::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let err = imap::ingest_imap(&inbox, &url(&dovecot), dovecot.password(), &opts, false, rx)
        .await
        .unwrap_err();
    assert!(matches!(err, ImapError::Connect { .. }), "{err:?}");
    // Nothing was moved.
    assert_eq!(dovecot.count("INBOX").await.unwrap(), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_reconnects_after_the_connection_is_cut() {
    let Some(dovecot) = Dovecot::start_or_skip().await.unwrap() else {
        return;
    };
    let dovecot = Arc::new(dovecot);
    let tmp = TempDir::new("mtasts-site-imap-kick");
    let (store, inbox, _dns) = sqlite_inbox(&tmp.0).await;
    let inbox = Arc::new(inbox);
    let (google, _, _) = corpus(GOOGLE);
    let (failure, f_org, f_id) = corpus(FAILURE);
    dovecot.append("INBOX", &crlf(&google)).await.unwrap();
    let opts = ImapOptions {
        backoff_max: Duration::from_secs(2),
        ..options(&dovecot)
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = {
        let (inbox, url) = (Arc::clone(&inbox), url(&dovecot));
        let password = dovecot.password().to_owned();
        tokio::spawn(
            async move { imap::ingest_imap(&inbox, &url, &password, &opts, true, rx).await },
        )
    };
    let count_done = |n: u32| {
        let dovecot = Arc::clone(&dovecot);
        async move {
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if dovecot.count(imap::DONE_FOLDER).await.unwrap() == Some(n) {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert!(count_done(1).await, "{}", dovecot.log());
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The server drops the session (in IDLE).
    let kicked = dovecot.kick().unwrap();
    eprintln!("doveadm kick: {kicked}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    dovecot.append("INBOX", &crlf(&failure)).await.unwrap();
    assert!(
        count_done(2).await,
        "no new session picked up the message:\n{}",
        dovecot.log()
    );
    assert!(
        store
            .inbox()
            .stored_report(&f_org, &f_id)
            .unwrap()
            .is_some()
    );

    tx.send(true).unwrap();
    let counts = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops on shutdown")
        .unwrap()
        .unwrap();
    assert_eq!((counts.stored, counts.deferred), (2, 0));
    // Two sessions of the watcher each fetched one message: the kicked
    // one and the one made after it (ended by LOGOUT on shutdown).
    let log = log_when(&dovecot, |log| log.matches("body_count=1 ").count() >= 2).await;
    let fetched: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("body_count=1 "))
        .collect();
    assert_eq!(fetched.len(), 2, "{log}");
    assert!(
        fetched[0].contains("Disconnected: Server shutting down"),
        "{log}"
    );
    assert!(fetched[1].contains("Disconnected: Logged out"), "{log}");
}

#[test]
fn store_unavailable_leaves_the_message_in_the_mailbox() {
    // PostgreSQL refusing connections is the store being down: the
    // message stays in INBOX, unflagged; the next run stores and moves it.
    let Some(db) = test_support::pg::TestDb::create() else {
        return;
    };
    let store: Arc<dyn SiteStore> =
        Arc::new(mtasts_site::pg::PgSiteStore::connect(&db.url("imap-gone")).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Some(dovecot) = rt.block_on(Dovecot::start_or_skip()).unwrap() else {
        return;
    };
    let dns = rt.block_on(DnsServer::start(Zones::new())).unwrap();
    let inbox_options = InboxOptions {
        dkim_resolver: Some(dns.addr()),
        retain_days: None,
        ..InboxOptions::default()
    };
    let inbox = Inbox::new(Arc::clone(&store), inbox_options);
    let (google, g_org, g_id) = corpus(GOOGLE);
    let google = crlf(&google);
    rt.block_on(dovecot.append("INBOX", &google)).unwrap();

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
    let opts = options(&dovecot);
    let first = rt.block_on(imap::ingest_imap(
        &inbox,
        &url(&dovecot),
        dovecot.password(),
        &opts,
        false,
        rx.clone(),
    ));
    allow(true);
    let first = first.unwrap();
    assert_eq!(
        first,
        ImapCounts {
            deferred: 1,
            ..ImapCounts::default()
        }
    );
    let inbox_now = rt.block_on(dovecot.messages("INBOX")).unwrap();
    assert_eq!(inbox_now.len(), 1);
    assert!(!inbox_now[0].0.contains("\\Seen"), "{:?}", inbox_now[0].0);
    assert!(
        !inbox_now[0].0.contains("\\Deleted"),
        "{:?}",
        inbox_now[0].0
    );

    let second = rt
        .block_on(imap::ingest_imap(
            &inbox,
            &url(&dovecot),
            dovecot.password(),
            &opts,
            false,
            rx,
        ))
        .unwrap();
    assert_eq!(
        second,
        ImapCounts {
            stored: 1,
            ..ImapCounts::default()
        }
    );
    assert_eq!(rt.block_on(dovecot.count("INBOX")).unwrap(), Some(0));
    assert_eq!(
        rt.block_on(dovecot.count(imap::DONE_FOLDER)).unwrap(),
        Some(1)
    );
    assert!(
        store
            .inbox()
            .stored_report(&g_org, &g_id)
            .unwrap()
            .is_some()
    );
    drop(inbox);
    drop(dovecot);
    drop(dns);
    drop(rt);
}
