//! The TLS-RPT inbox against both backends (SQLite in a temporary
//! directory; PostgreSQL at 127.0.0.1:5432, one database per test):
//! every corpus report ingested and stored once, the summary from the
//! store equal to tlsrpt-core's over the same files, duplicates counted
//! once, DKIM pass, fail and none with keys served by the loopback DNS
//! server, retention, and two writers storing the same reports at once.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mtasts_site::inbox::store::{DkimStatus, ReportQuery};
use mtasts_site::inbox::summary::{self, SummaryOptions};
use mtasts_site::inbox::{Inbox, InboxOptions, IngestError, IngestOutcome, Source};
use mtasts_site::pg::PgSiteStore;
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::SiteStore;
use test_support::pg::TestDb;
use test_support::{DnsServer, TempDir, Zones};
use tlsrpt_core::Aggregator;
use tlsrpt_core::dkim::{KeyService, Signer, SigningKey};
use tlsrpt_core::input::{self, ReadOptions};
use tlsrpt_core::summary::Filter;
use tlsrpt_core::time::Timestamp;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Run `check` against a fresh SQLite store and, when the server is
/// there, a fresh PostgreSQL store (created outside the runtime: the
/// blocking client must not be opened on a runtime thread).
fn both(check: fn(Arc<dyn SiteStore>, &str)) {
    let dir = TempDir::unborn("mtasts-site-inbox");
    let s: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    check(s, "sqlite");
    if let Some(db) = TestDb::create() {
        let p: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("inbox-test")).unwrap());
        check(p, "postgres");
    }
}

fn inbox(store: Arc<dyn SiteStore>, options: InboxOptions) -> Inbox {
    Inbox::new(store, options)
}

/// Options for tests: no retention unless asked, DKIM keys from a
/// loopback address that answers nothing unless a test gives its server.
fn options(dns: Option<SocketAddr>) -> InboxOptions {
    InboxOptions {
        dkim_resolver: Some(dns.unwrap_or_else(|| "127.0.0.1:9".parse().unwrap())),
        retain_days: None,
        ..InboxOptions::default()
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every regular file under `dir`, sorted.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

/// The report corpus: the repository's report fixtures (testdata/reports,
/// examples/data/reports, tlsrpt-core/tests/data: reports from other
/// projects with their PROVENANCE and LICENSE files, which are no
/// reports), plus ../shared/corpus next to the checkout when it is there.
fn corpus() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in [
        "testdata/reports",
        "examples/data/reports",
        "tlsrpt-core/tests/data",
    ] {
        let before = files.len();
        walk(&root().join(d), &mut files);
        assert!(files.len() > before, "{d} is empty");
    }
    let shared = root().join("../shared/corpus");
    if shared.is_dir() {
        walk(&shared, &mut files);
    } else {
        eprintln!(
            "NOTE: {} is not there; the repository's corpus only",
            shared.display()
        );
    }
    files
}

/// Ingest every corpus file; the expected summary from tlsrpt-core over
/// the same files (those its reader reads), in the same order.
/// With `again`, every report is already stored: all duplicates.
fn ingest_corpus(
    store: &Arc<dyn SiteStore>,
    backend: &str,
    again: bool,
) -> (Aggregator, usize, usize) {
    let files = corpus();
    let rt = runtime();
    // The corpus mail is signed by real domains: their keys are not on
    // the loopback server, which says so at once (fail, not a timeout).
    let dns = rt.block_on(DnsServer::start(Zones::new())).unwrap();
    let ib = inbox(Arc::clone(store), options(Some(dns.addr())));
    let mut expected = Aggregator::new();
    let (mut read, mut rejected) = (0, 0);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let name = f.display().to_string();
        let core = input::read_report(&bytes, &ReadOptions::default());
        let got = rt.block_on(ib.ingest(&bytes, &Source::File(f.clone())));
        match (core, got) {
            (Ok(r), Ok(outcome)) => {
                read += 1;
                let report = &r.value.report;
                let first = expected.add(report, &name);
                let (org, id) = (
                    report.organization_name.to_string(),
                    report.report_id.to_string(),
                );
                if first && !again {
                    assert_eq!(
                        outcome,
                        IngestOutcome::Stored {
                            organization: org,
                            report_id: id
                        },
                        "{backend}: {name}"
                    );
                } else {
                    assert_eq!(
                        outcome,
                        IngestOutcome::Duplicate {
                            organization: org,
                            report_id: id
                        },
                        "{backend}: {name}"
                    );
                }
            }
            (Err(e), Err(IngestError::Rejected(why))) => {
                rejected += 1;
                assert_eq!(why, e.to_string(), "{backend}: {name}");
                assert!(!why.is_empty());
            }
            (core, got) => panic!("{backend}: {name}: tlsrpt-core {core:?}, inbox {got:?}"),
        }
    }
    drop(ib);
    drop(dns);
    drop(rt);
    (expected, read, rejected)
}

fn corpus_stored_once_and_summarized(store: Arc<dyn SiteStore>, backend: &str) {
    let (expected, read, rejected) = ingest_corpus(&store, backend, false);
    assert!(read >= 10, "{backend}: {read} reports read");
    assert!(
        rejected >= 3,
        "{backend}: the LICENSE/PROVENANCE files are rejected"
    );
    let expected = expected.into_summary();
    assert!(
        expected.duplicates >= 1,
        "the corpus holds one report twice"
    );
    let stats = store.inbox().inbox_stats().unwrap();
    assert_eq!(stats.reports, expected.reports, "{backend}");
    assert_eq!(stats.receipts as usize, read, "{backend}");
    let got = summary::summarize(store.inbox(), &SummaryOptions::default()).unwrap();
    assert_eq!(
        serde_json::to_value(&got).unwrap(),
        serde_json::to_value(&expected).unwrap(),
        "{backend}"
    );

    // A filter by domain and days: the same as tlsrpt-core's filter over
    // the same files, left-out count included.
    let day = |s: &str| tlsrpt_core::time::canonical_day(s.as_bytes().try_into().unwrap()).unwrap();
    let domain = expected
        .by_policy_domain
        .keys()
        .find(|d| d.as_str() != tlsrpt_core::summary::UNKNOWN)
        .unwrap()
        .clone();
    for filter in [
        Filter::new().policy_domain(&domain),
        Filter::new()
            .since(day("2019-01-01"))
            .until(day("2023-12-31")),
        Filter::new()
            .policy_domain(&domain)
            .policy_domain("example.com")
            .since(day("2016-01-01")),
    ] {
        let mut agg = Aggregator::new()
            .filter(filter.clone())
            .readiness_window(tlsrpt_core::alert::READINESS_DAYS, filter.until);
        for f in corpus() {
            let bytes = std::fs::read(&f).unwrap();
            if let Ok(r) = input::read_report(&bytes, &ReadOptions::default()) {
                agg.add(&r.value.report, &f.display().to_string());
            }
        }
        let want = agg.into_summary();
        let got = summary::summarize(
            store.inbox(),
            &SummaryOptions {
                filter: filter.clone(),
                ..SummaryOptions::default()
            },
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::to_value(&want).unwrap(),
            "{backend}: {filter:?}"
        );
    }

    // The dashboard queries read the index: per domain, the failed
    // sessions by result type equal the summary's for that domain.
    for domain in expected.by_policy_domain.keys() {
        let s = summary::summarize(
            store.inbox(),
            &SummaryOptions {
                filter: Filter::new().policy_domain(domain),
                ..SummaryOptions::default()
            },
        )
        .unwrap();
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        for c in store
            .inbox()
            .failure_counts(domain, &ReportQuery::default())
            .unwrap()
        {
            *by_type.entry(c.result_type).or_default() += c.failed;
        }
        if domain != tlsrpt_core::summary::UNKNOWN {
            assert_eq!(by_type, s.by_result_type, "{backend}: {domain}");
            let counts = store
                .inbox()
                .policy_counts(domain, &ReportQuery::default())
                .unwrap();
            let ok: u64 = counts.iter().map(|c| c.successful).sum();
            let failed: u64 = counts.iter().map(|c| c.failed).sum();
            assert_eq!(
                (ok, failed),
                (
                    s.by_policy_domain[domain].successful_sessions,
                    s.by_policy_domain[domain].failed_sessions
                ),
                "{backend}: {domain}"
            );
        }
    }

    // Ingesting everything again stores nothing new.
    let (_, read2, _) = ingest_corpus(&store, backend, true);
    let after = store.inbox().inbox_stats().unwrap();
    assert_eq!(after.reports, stats.reports, "{backend}");
    assert_eq!(after.receipts as usize, read + read2, "{backend}");
}

#[test]
fn corpus_is_stored_once_and_summarized_as_from_files() {
    both(corpus_stored_once_and_summarized);
}

/// A small report for `domain` starting on UTC day `day`.
fn report_json(org: &str, id: &str, domain: &str, day: i64, failed: u64) -> String {
    let start = Timestamp::from_unix(day * 86_400).date_string();
    format!(
        r#"{{"organization-name":"{org}","date-range":{{"start-datetime":"{start}T00:00:00Z","end-datetime":"{start}T23:59:59Z"}},"contact-info":"tlsrpt@{org}","report-id":"{id}","policies":[{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.{domain}","max_age: 86400"],"policy-domain":"{domain}","mx-host":["mx1.{domain}"]}},"summary":{{"total-successful-session-count":10,"total-failure-session-count":{failed}}},"failure-details":[{{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx2.{domain}","failed-session-count":{failed}}}]}}]}}"#
    )
}

fn duplicates_and_rejections(store: Arc<dyn SiteStore>, backend: &str) {
    let rt = runtime();
    let ib = inbox(Arc::clone(&store), options(None));
    let day = now() / 86_400 - 1;
    let json = report_json("sender.example", "r-1", "example.org", day, 3);
    let stored = rt
        .block_on(ib.ingest(json.as_bytes(), &Source::Stdin))
        .unwrap();
    assert_eq!(
        stored,
        IngestOutcome::Stored {
            organization: "sender.example".into(),
            report_id: "r-1".into()
        }
    );
    // The same report gzip-compressed, from another input: a duplicate.
    let gz = mtasts_site::inbox::store::gzip(json.as_bytes()).unwrap();
    let peer = "127.0.0.1".parse().unwrap();
    let dup = rt
        .block_on(ib.ingest(
            &gz,
            &Source::Https {
                peer,
                content_type: "application/tlsrpt+gzip".into(),
            },
        ))
        .unwrap();
    assert_eq!(
        dup,
        IngestOutcome::Duplicate {
            organization: "sender.example".into(),
            report_id: "r-1".into()
        }
    );
    let r = store
        .inbox()
        .stored_report("sender.example", "r-1")
        .unwrap()
        .unwrap();
    assert_eq!(r.receipts, 2, "{backend}");
    assert_eq!(r.source, "<stdin>");
    assert_eq!(r.start_day, day);
    assert_eq!(r.dkim.status, DkimStatus::None);
    // The raw input is kept compressed.
    let raw = input::decompress_gzip(&r.raw_gz, 1 << 20).unwrap();
    assert_eq!(raw, json.as_bytes());
    assert_eq!(
        r.json,
        tlsrpt_core::Report::parse_lenient(json.as_bytes())
            .unwrap()
            .value
            .to_json(false)
    );
    let s = summary::summarize(store.inbox(), &SummaryOptions::default()).unwrap();
    assert_eq!((s.reports, s.duplicates), (1, 1), "{backend}");
    assert_eq!(
        s.duplicate_reports[0].sources,
        ["<stdin>", "https:127.0.0.1"]
    );
    assert_eq!(s.failed_sessions, 3);

    // Not reports: rejected with the reader's reason.
    for (bytes, why) in [
        (&b"hello"[..], "not a TLS-RPT report"),
        (b"", "not a TLS-RPT report"),
        (b"{\"organization-name\": 1}", "invalid report"),
        (
            b"From: a@example.com\r\nSubject: lunch?\r\n\r\nAt noon.\r\n",
            "no tls-rpt report part",
        ),
        (&[0x1f, 0x8b, 8, 0, 1, 2], "invalid gzip data"),
    ] {
        match rt.block_on(ib.ingest(bytes, &Source::Stdin)) {
            Err(IngestError::Rejected(r)) => assert!(r.contains(why), "{r}"),
            other => panic!("{backend}: {other:?}"),
        }
    }
    // Over the limits: too large.
    let small = inbox(
        Arc::clone(&store),
        InboxOptions {
            limits: input::Limits {
                max_decompressed: 100,
                ..Default::default()
            },
            ..options(None)
        },
    );
    let err = rt.block_on(small.ingest(&gz, &Source::Stdin)).unwrap_err();
    assert!(matches!(err, IngestError::TooLarge(_)), "{err:?}");
    assert!(!err.is_temporary());
    assert_eq!(store.inbox().inbox_stats().unwrap().receipts, 2);
}

#[test]
fn duplicates_are_counted_once_and_non_reports_rejected() {
    both(duplicates_and_rejections);
}

fn retention(store: Arc<dyn SiteStore>, backend: &str) {
    let rt = runtime();
    let t = now();
    let today = t / 86_400;
    let ib = inbox(
        Arc::clone(&store),
        InboxOptions {
            retain_days: Some(30),
            ..options(None)
        },
    );
    // Received over the last 100 days (by an inbox without retention);
    // the reports' own dates do not matter, the day of receipt does.
    let keep_all = inbox(Arc::clone(&store), options(None));
    let old_report = |id: &str| report_json("org.example", id, "example.net", today - 400, 1);
    for (id, age) in [("old-1", 100), ("old-2", 31), ("new-1", 30), ("new-2", 1)] {
        rt.block_on(keep_all.ingest_at(
            old_report(id).as_bytes(),
            &Source::Stdin,
            t - age * 86_400,
        ))
        .unwrap();
    }
    assert_eq!(store.inbox().inbox_stats().unwrap().reports, 4);
    // The first ingest with retention prunes what was received before
    // the day 30 days ago.
    rt.block_on(ib.ingest_at(old_report("new-3").as_bytes(), &Source::Stdin, t))
        .unwrap();
    let stats = store.inbox().inbox_stats().unwrap();
    assert_eq!((stats.reports, stats.receipts), (3, 3), "{backend}");
    assert_eq!(stats.policy_rows, 3);
    assert_eq!(stats.failure_rows, 3);
    assert!(
        store
            .inbox()
            .stored_report("org.example", "old-2")
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .inbox()
            .stored_report("org.example", "new-1")
            .unwrap()
            .is_some()
    );
    // At most once an hour: a report received long ago stays until the
    // next prune.
    rt.block_on(keep_all.ingest_at(
        old_report("old-3").as_bytes(),
        &Source::Stdin,
        t - 60 * 86_400,
    ))
    .unwrap();
    rt.block_on(ib.ingest_at(old_report("new-4").as_bytes(), &Source::Stdin, t + 60))
        .unwrap();
    assert!(
        store
            .inbox()
            .stored_report("org.example", "old-3")
            .unwrap()
            .is_some()
    );
    rt.block_on(ib.ingest_at(old_report("new-5").as_bytes(), &Source::Stdin, t + 3600))
        .unwrap();
    assert!(
        store
            .inbox()
            .stored_report("org.example", "old-3")
            .unwrap()
            .is_none()
    );
    // prune() directly (what the CLI runs).
    assert_eq!(store.inbox().prune(today + 2).unwrap(), 5, "{backend}");
    assert_eq!(store.inbox().inbox_stats().unwrap(), Default::default());
    assert!(store.inbox().claim_prune(t + 7200, 3600).unwrap());
    assert!(!store.inbox().claim_prune(t + 7300, 3600).unwrap());
}

#[test]
fn retention_prunes_old_reports_at_most_hourly() {
    both(retention);
}

// ------------------------------------------------------------ DKIM

const SUBMITTER: &str = "mail.sender.example";

/// A report mail (RFC 8460 5.3) carrying `json` as `application/tlsrpt+json`.
fn report_mail(json: &str, domain: &str) -> Vec<u8> {
    [
        &format!("From: TLS reporting <tlsrpt@{SUBMITTER}>"),
        "To: tls-reports@example.org",
        "Date: Thu, 02 May 2024 00:00:00 +0000",
        &format!("Subject: Report Domain: {domain} Submitter: {SUBMITTER}"),
        "Message-ID: <n1@mail.sender.example>",
        "MIME-Version: 1.0",
        &format!("TLS-Report-Domain: {domain}"),
        &format!("TLS-Report-Submitter: {SUBMITTER}"),
        "Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"b1\"",
        "",
        "--b1",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "This is an aggregate TLS report.",
        "",
        "--b1",
        "Content-Type: application/tlsrpt+json",
        "Content-Disposition: attachment; filename=\"report.json\"",
        "",
        json,
        "",
        "--b1--",
        "",
    ]
    .join("\r\n")
    .into_bytes()
}

fn ed25519_signer(selector: &str) -> Signer {
    let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .unwrap()
        .serialize_pem();
    Signer::new(SigningKey::from_pem(&pem).unwrap(), SUBMITTER, selector).unwrap()
}

fn dkim(store: Arc<dyn SiteStore>, backend: &str) {
    let rt = runtime();
    let signer = ed25519_signer("tlsrpt");
    let unpublished = ed25519_signer("gone");
    let dns = rt
        .block_on(DnsServer::start(Zones::new().txt(
            &signer.record_name(),
            &signer.key().txt_record_strings(KeyService::Tlsrpt),
        )))
        .unwrap();
    let day = now() / 86_400 - 1;
    let ts = Timestamp::from_unix(now());
    let mail = |id: &str| {
        report_mail(
            &report_json(SUBMITTER, id, "example.org", day, 0),
            "example.org",
        )
    };
    let pass = signer.sign(&mail("pass"), ts).unwrap();
    let signed = signer.sign(&mail("fail"), ts).unwrap();
    let text = String::from_utf8(signed).unwrap();
    let fail = text
        .replacen("This is an aggregate", "This is a changed", 1)
        .into_bytes();
    let nokey = unpublished.sign(&mail("nokey"), ts).unwrap();
    let none = mail("none");

    let ib = inbox(Arc::clone(&store), options(Some(dns.addr())));
    for (bytes, id, status, domain) in [
        (&pass, "pass", DkimStatus::Pass, Some(SUBMITTER)),
        (&fail, "fail", DkimStatus::Fail, Some(SUBMITTER)),
        (&nokey, "nokey", DkimStatus::Fail, Some(SUBMITTER)),
        (&none, "none", DkimStatus::None, None),
    ] {
        let out = rt
            .block_on(ib.ingest(bytes, &Source::Maildir(PathBuf::from(id))))
            .unwrap();
        assert!(
            matches!(out, IngestOutcome::Stored { .. }),
            "{backend}: {id}"
        );
        let r = store.inbox().stored_report(SUBMITTER, id).unwrap().unwrap();
        assert_eq!(r.dkim.status, status, "{backend}: {id}");
        assert_eq!(r.dkim.domain.as_deref(), domain, "{backend}: {id}");
        assert_eq!(r.source, id);
    }
    // JSON inputs carry no signature: none.
    let json = report_json(SUBMITTER, "json", "example.org", day, 0);
    rt.block_on(ib.ingest(json.as_bytes(), &Source::Stdin))
        .unwrap();
    let r = store
        .inbox()
        .stored_report(SUBMITTER, "json")
        .unwrap()
        .unwrap();
    assert_eq!(r.dkim.status, DkimStatus::None);

    // --require-dkim: fail and none rejected, pass stored.
    let strict = inbox(
        Arc::clone(&store),
        InboxOptions {
            require_dkim: true,
            ..options(Some(dns.addr()))
        },
    );
    for (bytes, why) in [
        (&fail, "DKIM fail (d=mail.sender.example)"),
        (&none, "DKIM none"),
    ] {
        match rt.block_on(strict.ingest(bytes, &Source::Stdin)) {
            Err(IngestError::Rejected(r)) => assert!(r.starts_with(why), "{backend}: {r}"),
            other => panic!("{backend}: {other:?}"),
        }
    }
    let pass2 = signer.sign(&mail("pass2"), ts).unwrap();
    let out = rt.block_on(strict.ingest(&pass2, &Source::Stdin)).unwrap();
    assert!(matches!(out, IngestOutcome::Stored { .. }));
    // A key that cannot be fetched for now (SERVFAIL): recorded as fail
    // by default; with require_dkim a temporary error (the MTA retries).
    let flaky_signer = ed25519_signer("flaky");
    let flaky_dns = rt
        .block_on(DnsServer::start(
            Zones::new().servfail(&flaky_signer.record_name()),
        ))
        .unwrap();
    let flaky = flaky_signer.sign(&mail("flaky"), ts).unwrap();
    let strict_flaky = inbox(
        Arc::clone(&store),
        InboxOptions {
            require_dkim: true,
            ..options(Some(flaky_dns.addr()))
        },
    );
    let err = rt
        .block_on(strict_flaky.ingest(&flaky, &Source::Stdin))
        .unwrap_err();
    assert!(
        matches!(err, IngestError::DkimUnavailable(_)) && err.is_temporary(),
        "{backend}: {err:?}"
    );
    let lenient_flaky = inbox(Arc::clone(&store), options(Some(flaky_dns.addr())));
    rt.block_on(lenient_flaky.ingest(&flaky, &Source::Stdin))
        .unwrap();
    let r = store
        .inbox()
        .stored_report(SUBMITTER, "flaky")
        .unwrap()
        .unwrap();
    assert_eq!(r.dkim.status, DkimStatus::Fail, "{backend}");
    drop(strict_flaky);
    drop(lenient_flaky);
    drop(flaky_dns);
    // The key record was fetched from the loopback server and then cached.
    let asked = dns
        .queries()
        .iter()
        .filter(|q| format!("{q:?}").contains("tlsrpt._domainkey"))
        .count();
    assert!(asked >= 1, "{backend}: {:?}", dns.queries());
    drop(strict);
    drop(ib);
    drop(dns);
    drop(rt);
}

#[test]
fn dkim_pass_fail_and_none_are_recorded_and_required_on_demand() {
    both(dkim);
}

// ------------------------------------------------------------ two writers

/// Two stores on the same data (two connections) ingest the same 20
/// reports at once: each is stored once, with two receipts.
fn two_writers(a: Arc<dyn SiteStore>, b: Arc<dyn SiteStore>, backend: &str) {
    let day = now() / 86_400;
    let reports: Vec<String> = (0..20)
        .map(|i| report_json("race.example", &format!("r{i}"), "example.com", day, 1))
        .collect();
    let run = |store: Arc<dyn SiteStore>, name: &'static str| {
        let reports = reports.clone();
        std::thread::spawn(move || {
            let rt = runtime();
            let ib = inbox(store, options(None));
            let mut stored = 0;
            for r in &reports {
                match rt.block_on(ib.ingest(r.as_bytes(), &Source::File(name.into()))) {
                    Ok(IngestOutcome::Stored { .. }) => stored += 1,
                    Ok(IngestOutcome::Duplicate { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            drop(ib);
            drop(rt);
            stored
        })
    };
    let ta = run(Arc::clone(&a), "node-a");
    let tb = run(Arc::clone(&b), "node-b");
    let stored = ta.join().unwrap() + tb.join().unwrap();
    assert_eq!(stored, 20, "{backend}: each report stored by exactly one");
    let stats = a.inbox().inbox_stats().unwrap();
    assert_eq!((stats.reports, stats.receipts), (20, 40), "{backend}");
    assert_eq!(stats.policy_rows, 20, "{backend}");
    let s = summary::summarize(b.inbox(), &SummaryOptions::default()).unwrap();
    assert_eq!((s.reports, s.duplicates, s.failed_sessions), (20, 20, 20));
}

#[test]
fn sqlite_two_connections_store_the_same_report_once() {
    let dir = TempDir::unborn("mtasts-site-inbox");
    let a: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    let b: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    two_writers(a, b, "sqlite");
}

#[test]
fn pg_two_connections_store_the_same_report_once() {
    let Some(db) = TestDb::create() else { return };
    let a: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("inbox-a")).unwrap());
    let b: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("inbox-b")).unwrap());
    two_writers(a, b, "postgres");
    assert_eq!(
        db.value("SELECT count(*) FROM inbox_reports").as_deref(),
        Some("20")
    );
}

#[test]
fn store_unavailable_is_temporary() {
    // A PostgreSQL store whose server went away: the write fails and the
    // error says "try again later".
    let Some(db) = TestDb::create() else { return };
    let store: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("inbox-gone")).unwrap());
    let rt = runtime();
    let ib = inbox(Arc::clone(&store), options(None));
    db.sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
        db.name()
    ));
    // Block new connections so the reconnect fails too.
    test_support::pg::sql(
        "postgres",
        &format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false", db.name()),
    )
    .unwrap();
    let json = report_json("org.example", "x", "example.com", now() / 86_400, 0);
    let err = rt
        .block_on(ib.ingest(json.as_bytes(), &Source::Stdin))
        .unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
    assert!(matches!(err, IngestError::Unavailable(_)));
    test_support::pg::sql(
        "postgres",
        &format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true", db.name()),
    )
    .unwrap();
    drop(ib);
    drop(rt);
}

fn files_in_batches(store: Arc<dyn SiteStore>, backend: &str) {
    let dir = TempDir::unborn("mtasts-site-inbox");
    std::fs::create_dir_all(&dir.0).unwrap();
    let day = now() / 86_400;
    let mut files = Vec::new();
    for i in 0..40 {
        let p = dir.0.join(format!("{i:03}.json"));
        // Every tenth file repeats the report before it.
        let id = if i % 10 == 9 { i - 1 } else { i };
        std::fs::write(
            &p,
            report_json("batch.example", &format!("b{id}"), "example.com", day, 1),
        )
        .unwrap();
        files.push(p);
    }
    let garbage = dir.0.join("garbage");
    std::fs::write(&garbage, "not a report").unwrap();
    files.insert(5, garbage);
    files.push(dir.0.join("missing"));
    let rt = runtime();
    let ib = inbox(Arc::clone(&store), options(None));
    let out = rt.block_on(ib.ingest_files(&files, 16));
    assert_eq!(out.len(), 42);
    let stored = out
        .iter()
        .filter(|o| matches!(o, Ok(IngestOutcome::Stored { .. })))
        .count();
    let dups = out
        .iter()
        .filter(|o| matches!(o, Ok(IngestOutcome::Duplicate { .. })))
        .count();
    assert_eq!((stored, dups), (36, 4), "{backend}");
    assert!(matches!(&out[5], Err(IngestError::Rejected(r)) if r.contains("not a TLS-RPT report")));
    assert!(matches!(&out[41], Err(IngestError::Rejected(r)) if r.contains("missing")));
    assert!(
        matches!(&out[10], Ok(IngestOutcome::Duplicate { report_id, .. }) if report_id == "b8")
    );
    let stats = store.inbox().inbox_stats().unwrap();
    assert_eq!((stats.reports, stats.receipts), (36, 40), "{backend}");
    let r = store
        .inbox()
        .stored_report("batch.example", "b0")
        .unwrap()
        .unwrap();
    assert_eq!(r.source, files[0].display().to_string());
    drop(ib);
    drop(rt);
}

#[test]
fn maildir_like_files_are_stored_in_batches() {
    both(files_in_batches);
}

fn alerts_hook(store: Arc<dyn SiteStore>, backend: &str) {
    let rt = runtime();
    let alerter = Arc::new(mtasts_site::alerts::Alerter::store_only(Arc::clone(&store)));
    let ib = inbox(
        Arc::clone(&store),
        InboxOptions {
            alerter: Some(Arc::clone(&alerter)),
            ..options(None)
        },
    );
    let day = now() / 86_400;
    // A report with failed sessions (certificate-expired at
    // mx2.example.org): one alert; the same report again: stored once,
    // no second call; a report without failures: none.
    let failing = report_json("org.example", "a-1", "example.org", day, 4);
    rt.block_on(ib.ingest(failing.as_bytes(), &Source::Stdin))
        .unwrap();
    rt.block_on(ib.ingest(failing.as_bytes(), &Source::Stdin))
        .unwrap();
    let fine = report_json("org.example", "a-2", "example.net", day, 0);
    rt.block_on(ib.ingest(fine.as_bytes(), &Source::Stdin))
        .unwrap();
    let alerts = rt.block_on(alerter.list(None, 100)).unwrap();
    assert_eq!(alerts.len(), 1, "{backend}: {alerts:?}");
    let text = format!("{:?}", alerts[0].0);
    assert!(text.contains("example.org"), "{backend}: {text}");
    assert!(text.contains("certificate-expired"), "{backend}: {text}");
    drop(ib);
    drop(alerter);
    drop(rt);
}

#[test]
fn a_stored_report_with_failures_raises_an_alert() {
    both(alerts_hook);
}

// ------------------------------------- pre-aggregated dashboard tables

/// The rankings and report list of `domain` as computed before the
/// pre-aggregated tables: from every failure detail row
/// (`failure_counts`) and by parsing every stored report.
type Rankings = [Vec<(String, u64)>; 4];

/// A listed report: organization, report id, start, end, successful,
/// failed.
type Listed = (String, String, String, String, u64, u64);

fn reference(
    store: &Arc<dyn SiteStore>,
    domain: &str,
    since: i64,
    until: i64,
) -> (Rankings, Vec<Listed>) {
    use mtasts_site::inbox::summary::parse_stored;
    let q = ReportQuery {
        since: Some(since),
        until: Some(until),
        domains: Vec::new(),
    };
    let mut maps: [BTreeMap<String, u64>; 4] = Default::default();
    for f in store.inbox().failure_counts(domain, &q).unwrap() {
        let unknown = || "(unknown)".to_owned();
        for (m, k) in maps.iter_mut().zip([
            f.result_type.clone(),
            f.mx_host.clone().unwrap_or_else(unknown),
            f.organization.clone(),
            f.sending_ip.clone().unwrap_or_else(unknown),
        ]) {
            *m.entry(k).or_default() += f.failed;
        }
    }
    let rankings = maps.map(|m| {
        let mut v: Vec<(String, u64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    });
    let filter = Filter::new()
        .since(since)
        .until(until)
        .policy_domain(domain);
    let mut seen = std::collections::HashSet::new();
    let mut list = Vec::new();
    store
        .inbox()
        .for_each_receipt(&summary::query_of(&filter), &mut |receipt| {
            let report = parse_stored(&receipt.json).unwrap();
            if let Some(r) = filter.apply(&report) {
                let key = (r.organization_name.to_string(), r.report_id.to_string());
                if seen.insert(key.clone()) {
                    list.push((
                        key.0,
                        key.1,
                        r.date_range.start.to_string(),
                        r.date_range.end.to_string(),
                        r.successful_sessions(),
                        r.failed_sessions(),
                    ));
                }
            }
            Ok(true)
        })
        .unwrap();
    (rankings, list)
}

/// What the dashboards show of `domain`: rankings and report list.
fn shown(
    store: &Arc<dyn SiteStore>,
    domain: &str,
    since: i64,
    until: i64,
) -> (Rankings, Vec<Listed>) {
    use mtasts_site::web::pages::data;
    let s = data::domain_stats(store.inbox(), domain, since, until).unwrap();
    let list = data::reports_of(store.inbox(), domain, since, until, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.organization,
                r.report_id,
                r.start,
                r.end,
                r.successful,
                r.failed,
            )
        })
        .collect();
    (
        [
            s.by_result_type,
            s.by_mx_host,
            s.by_organization,
            s.by_sending_ip,
        ],
        list,
    )
}

/// Two policies of `a.example` (one detail without MX host and IP, one
/// with 0 failed sessions) and one of `b.example`.
fn multi_policy_report(day: i64) -> String {
    let start = Timestamp::from_unix(day * 86_400).date_string();
    let policy = |domain: &str, ok: u64, failed: u64, details: &str| {
        format!(
            r#"{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.{domain}","max_age: 86400"],"policy-domain":"{domain}","mx-host":["mx1.{domain}"]}},"summary":{{"total-successful-session-count":{ok},"total-failure-session-count":{failed}}},"failure-details":[{details}]}}"#
        )
    };
    let a1 = policy(
        "a.example",
        10,
        5,
        r#"{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx1.a.example","failed-session-count":3},{"result-type":"starttls-not-supported","failed-session-count":2}"#,
    );
    let a2 = policy(
        "a.example",
        1,
        0,
        r#"{"result-type":"validation-failure","sending-mta-ip":"192.0.2.2","receiving-mx-hostname":"mx1.a.example","failed-session-count":0}"#,
    );
    let b = policy(
        "b.example",
        7,
        1,
        r#"{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx.b.example","failed-session-count":1}"#,
    );
    format!(
        r#"{{"organization-name":"org-a.example","date-range":{{"start-datetime":"{start}T00:00:00Z","end-datetime":"{start}T23:59:59Z"}},"contact-info":"tlsrpt@org-a.example","report-id":"x","policies":[{a1},{a2},{b}]}}"#
    )
}

fn ranking(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

fn dashboard_aggregates(store: Arc<dyn SiteStore>, backend: &str) {
    let rt = runtime();
    let t = now();
    let today = t / 86_400;
    let ib = inbox(Arc::clone(&store), options(None));
    let x = multi_policy_report(today - 2);
    let y = report_json("org-b.example", "y", "a.example", today - 1, 4);
    let ingest = |json: &str, at: i64| {
        rt.block_on(ib.ingest_at(json.as_bytes(), &Source::Stdin, at))
            .unwrap()
    };
    assert!(matches!(
        ingest(&x, t - 10 * 86_400),
        IngestOutcome::Stored { .. }
    ));
    assert!(matches!(ingest(&y, t), IngestOutcome::Stored { .. }));
    // A duplicate adds nothing.
    assert!(matches!(ingest(&x, t), IngestOutcome::Duplicate { .. }));
    let (since, until) = (today - 30, today);
    let (rankings, list) = shown(&store, "a.example", since, until);
    assert_eq!(
        (rankings.clone(), list.clone()),
        reference(&store, "a.example", since, until),
        "{backend}"
    );
    assert_eq!(
        rankings,
        [
            ranking(&[
                ("certificate-expired", 7),
                ("starttls-not-supported", 2),
                ("validation-failure", 0)
            ]),
            ranking(&[("mx2.a.example", 4), ("mx1.a.example", 3), ("(unknown)", 2)]),
            ranking(&[("org-a.example", 5), ("org-b.example", 4)]),
            ranking(&[("192.0.2.1", 7), ("(unknown)", 2), ("192.0.2.2", 0)]),
        ],
        "{backend}"
    );
    let ids: Vec<(&str, u64, u64)> = list.iter().map(|r| (r.1.as_str(), r.4, r.5)).collect();
    assert_eq!(ids, [("x", 11, 5), ("y", 10, 4)], "{backend}");
    // Pagination in the store.
    let q = ReportQuery {
        since: Some(since),
        until: Some(until),
        domains: Vec::new(),
    };
    let page = store.inbox().report_list("a.example", &q, 1, 10).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].report_id, "y");
    assert_eq!(page[0].received_at, t);
    // One day only.
    let (r1, l1) = shown(&store, "a.example", today - 1, today - 1);
    assert_eq!(r1[0], ranking(&[("certificate-expired", 4)]), "{backend}");
    assert_eq!(l1.len(), 1);
    let (rb, lb) = shown(&store, "b.example", since, until);
    assert_eq!(rb[1], ranking(&[("mx.b.example", 1)]), "{backend}");
    assert_eq!(lb.len(), 1);
    assert_eq!((lb[0].4, lb[0].5), (7, 1));

    // Pruning x (received 10 days ago) lowers the sums; b.example has none.
    assert_eq!(store.inbox().prune(today - 5).unwrap(), 1, "{backend}");
    let (rankings, list) = shown(&store, "a.example", since, until);
    assert_eq!(
        (rankings.clone(), list.clone()),
        reference(&store, "a.example", since, until)
    );
    assert_eq!(
        rankings,
        [
            ranking(&[("certificate-expired", 4)]),
            ranking(&[("mx2.a.example", 4)]),
            ranking(&[("org-b.example", 4)]),
            ranking(&[("192.0.2.1", 4)]),
        ],
        "{backend}"
    );
    assert_eq!(list.len(), 1);
    assert!(
        store
            .inbox()
            .failure_sums("b.example", &ReportQuery::default())
            .unwrap()
            .is_empty(),
        "{backend}: sum rows of pruned reports are deleted"
    );
    assert!(
        store
            .inbox()
            .report_list("b.example", &ReportQuery::default(), 0, 10)
            .unwrap()
            .is_empty()
    );

    // The whole corpus: the dashboards equal the computation from the
    // detail rows and the parsed reports, for every policy domain.
    ingest_corpus(&store, backend, false);
    let mut domains = std::collections::BTreeSet::new();
    store
        .inbox()
        .for_each_receipt(&ReportQuery::default(), &mut |r| {
            let report = summary::parse_stored(&r.json).unwrap();
            for p in &report.policies {
                if let Some(d) = p.policy.policy_domain.as_deref() {
                    domains.insert(mta_sts_core::domain::fold(d).into_owned());
                }
            }
            Ok(true)
        })
        .unwrap();
    assert!(domains.len() > 3, "{backend}: {domains:?}");
    for d in &domains {
        assert_eq!(
            shown(&store, d, 0, 40_000),
            reference(&store, d, 0, 40_000),
            "{backend}: {d}"
        );
    }
}

#[test]
fn dashboard_aggregates_equal_the_detail_rows_and_follow_duplicates_and_prune() {
    both(dashboard_aggregates);
}

/// A store written before the pre-aggregated tables: emptied here, they
/// are filled from the stored rows when the store is opened again.
fn backfilled(store: &Arc<dyn SiteStore>, backend: &str) -> Vec<(Rankings, usize)> {
    let mut domains = std::collections::BTreeSet::new();
    store
        .inbox()
        .for_each_receipt(&ReportQuery::default(), &mut |r| {
            let report = summary::parse_stored(&r.json).unwrap();
            for p in &report.policies {
                if let Some(d) = p.policy.policy_domain.as_deref() {
                    domains.insert(mta_sts_core::domain::fold(d).into_owned());
                }
            }
            Ok(true)
        })
        .unwrap();
    domains
        .iter()
        .map(|d| {
            let (r, l) = shown(store, d, 0, 40_000);
            assert_eq!(
                (r.clone(), l.clone()),
                reference(store, d, 0, 40_000),
                "{backend}: {d}"
            );
            (r, l.len())
        })
        .collect()
}

#[test]
fn dashboard_aggregates_are_filled_for_stores_created_before_them() {
    let dir = TempDir::unborn("mtasts-site-inbox-backfill");
    let s: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    ingest_corpus(&s, "sqlite", false);
    let before = backfilled(&s, "sqlite");
    drop(s);
    let conn = rusqlite::Connection::open(dir.0.join("site.sqlite3")).unwrap();
    conn.execute_batch("DELETE FROM inbox_failure_sums; DELETE FROM inbox_report_list;")
        .unwrap();
    drop(conn);
    let s: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    assert_eq!(backfilled(&s, "sqlite"), before);
    assert!(!before.is_empty());
    let Some(db) = TestDb::create() else { return };
    let p: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("inbox-backfill")).unwrap());
    ingest_corpus(&p, "postgres", false);
    assert_eq!(backfilled(&p, "postgres"), before, "both backends");
    drop(p);
    let mut client =
        postgres::Client::connect(&db.url("inbox-backfill-sql"), postgres::NoTls).unwrap();
    client
        .batch_execute("DELETE FROM inbox_failure_sums; DELETE FROM inbox_report_list;")
        .unwrap();
    drop(client);
    let p: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("inbox-backfill")).unwrap());
    assert_eq!(backfilled(&p, "postgres"), before);
}
