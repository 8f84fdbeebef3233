//! The stored summary parts (`inbox_summary_parts`) against replaying
//! the stored reports, on both backends (SQLite in a temporary directory;
//! PostgreSQL at 127.0.0.1:5432, one database per test): reports with
//! policies of several domains, policies without a domain, duplicates
//! from several sources, more distinct values than an alert lists, day
//! and domain filters, pruning, the rebuild of a store whose parts are
//! missing or of another version, and two writers adding to one part at
//! once.

use std::sync::Arc;

use mtasts_site::inbox::store::{DkimVerdict, NewReport, ReportQuery};
use mtasts_site::inbox::summary::{self, SummaryOptions};
use mtasts_site::pg::PgSiteStore;
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::SiteStore;
use test_support::TempDir;
use test_support::pg::TestDb;
use tlsrpt_core::Report;
use tlsrpt_core::summary::Filter;
use tlsrpt_core::time::Timestamp;

const TODAY: i64 = 20_400;

/// A deterministic generator (64-bit LCG).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Report `i`: one to three policies of `a.example`, `b.example`,
/// `c.example` or no domain (`sts`, `tlsa` or `no-policy-found`, modes
/// testing and enforce), up to six failure details with IPs from a set
/// larger than an alert lists, known and unknown result types, on one of
/// the ten days before `TODAY`.
fn report(rng: &mut Rng, i: u64) -> String {
    let orgs = ["google.com", "Microsoft Corporation", "mail.example"];
    let org = orgs[rng.below(3) as usize];
    let day = TODAY - 1 - rng.below(10) as i64;
    let start = Timestamp::from_unix(day * 86_400).date_string();
    let end = if rng.below(8) == 0 {
        // A report over two days.
        Timestamp::from_unix((day + 2) * 86_400).date_string() + "T00:00:00Z"
    } else {
        format!("{start}T23:59:59Z")
    };
    let mut policies = Vec::new();
    for _ in 0..=rng.below(3) {
        let domain = ["a.example", "b.example", "c.example", ""][rng.below(4) as usize];
        let kind = ["sts", "sts", "tlsa", "no-policy-found"][rng.below(4) as usize];
        let mode = ["testing", "enforce"][rng.below(2) as usize];
        let mut details = Vec::new();
        let mut failed = 0;
        for _ in 0..rng.below(7) {
            let rt = [
                "certificate-expired",
                "certificate-expired",
                "certificate-expired",
                "certificate-expired",
                "starttls-not-supported",
                "validation-failure",
                "dane-required",
                "x-new-type",
            ][rng.below(8) as usize];
            let n = rng.below(50);
            failed += n;
            details.push(format!(
                r#"{{"result-type":"{rt}","sending-mta-ip":"198.51.100.{}","receiving-ip":"192.0.2.{}","receiving-mx-hostname":"mx{}.{domain}","failure-reason-code":"reason-{}","failed-session-count":{n}}}"#,
                rng.below(250),
                rng.below(80),
                rng.below(4).saturating_sub(2),
                rng.below(60),
            ));
        }
        // Sometimes more failures than the details explain.
        failed += rng.below(3);
        let domain_member = if domain.is_empty() {
            String::new()
        } else {
            format!(r#","policy-domain":"{domain}""#)
        };
        policies.push(format!(
            r#"{{"policy":{{"policy-type":"{kind}","policy-string":["version: STSv1","mode: {mode}","mx: mx1.{domain}","max_age: 86400"]{domain_member},"mx-host":["mx1.{domain}"]}},"summary":{{"total-successful-session-count":{},"total-failure-session-count":{failed}}},"failure-details":[{}]}}"#,
            rng.below(1000),
            details.join(",")
        ));
    }
    format!(
        r#"{{"organization-name":"{org}","date-range":{{"start-datetime":"{start}T00:00:00Z","end-datetime":"{end}"}},"contact-info":"tlsrpt@{org}","report-id":"r{i}","policies":[{}]}}"#,
        policies.join(",")
    )
}

fn new_report(json: &str, source: &str, received_at: i64) -> NewReport {
    let r = Report::parse_lenient(json.as_bytes()).unwrap().value;
    NewReport::new(
        &r,
        json.as_bytes(),
        DkimVerdict::none(),
        source.to_owned(),
        received_at,
    )
    .unwrap()
}

fn filters() -> Vec<(Filter, Option<i64>)> {
    vec![
        (Filter::new(), None),
        (Filter::new().policy_domain("a.example"), None),
        (Filter::new().policy_domain("B.example."), Some(TODAY - 2)),
        (
            Filter::new()
                .policy_domain("a.example")
                .policy_domain("c.example"),
            None,
        ),
        (Filter::new().since(TODAY - 6).until(TODAY - 3), None),
        (
            Filter::new().policy_domain("c.example").since(TODAY - 4),
            Some(TODAY),
        ),
        (Filter::new().policy_domain("nothing.example"), None),
    ]
}

/// The summary from the parts equals the replay, for every filter.
fn assert_same(store: &dyn SiteStore, what: &str) {
    for (filter, end) in filters() {
        let options = SummaryOptions {
            filter: filter.clone(),
            readiness_days: 5,
            readiness_end: end,
            ..SummaryOptions::default()
        };
        let fast = summary::summarize(store.inbox(), &options).unwrap();
        let replay = summary::summarize_by_replay(store.inbox(), &options).unwrap();
        assert_eq!(
            serde_json::to_value(&fast).unwrap(),
            serde_json::to_value(&replay).unwrap(),
            "{what}: {filter:?}"
        );
    }
}

fn parts_count(store: &dyn SiteStore) -> usize {
    store
        .inbox()
        .summary_inputs(&ReportQuery::default())
        .unwrap()
        .parts
        .len()
}

fn parts_equal_replay(store: Arc<dyn SiteStore>, backend: &str) {
    let mut rng = Rng(7);
    let t = TODAY * 86_400;
    let jsons: Vec<String> = (0..120).map(|i| report(&mut rng, i)).collect();
    let mut batch = Vec::new();
    for (i, json) in jsons.iter().enumerate() {
        // Received over the last 40 days: pruning below removes some.
        let received = t - (i as i64 % 40) * 86_400;
        batch.push(new_report(json, &format!("file-{i}.json"), received));
        if i % 7 == 0 {
            // The same report again from another input.
            batch.push(new_report(json, &format!("mail-{i}.eml"), received + 60));
        }
        if batch.len() >= 16 {
            store.inbox().put_reports(&batch).unwrap();
            batch.clear();
        }
    }
    store.inbox().put_reports(&batch).unwrap();
    for i in [0, 14, 28] {
        // A third receipt of some.
        store
            .inbox()
            .put_report(&new_report(&jsons[i], &format!("imap-{i}"), t))
            .unwrap();
    }
    let all = summary::summarize(store.inbox(), &SummaryOptions::default()).unwrap();
    assert_eq!(all.reports, 120, "{backend}");
    assert_eq!(all.duplicates, 18 + 3, "{backend}");
    assert!(
        all.alerts
            .iter()
            .any(|a| a.where_.receiving_ips.len() == 50),
        "{backend}: some alert lists the most IPs it may"
    );
    assert!(all.readiness.len() >= 3, "{backend}");
    assert_same(store.as_ref(), backend);

    // Pruning the reports received before 20 days ago rebuilds the parts
    // of their (domain, day) pairs from the reports left.
    let before = parts_count(store.as_ref());
    let pruned = store.inbox().prune(TODAY - 20).unwrap();
    assert!(pruned > 30, "{backend}: {pruned}");
    assert_same(store.as_ref(), &format!("{backend} after prune"));
    assert!(parts_count(store.as_ref()) <= before);
    assert_eq!(store.inbox().prune(TODAY + 1).unwrap(), 120 - pruned);
    assert_eq!(parts_count(store.as_ref()), 0, "{backend}: no part left");
    let empty = summary::summarize(store.inbox(), &SummaryOptions::default()).unwrap();
    assert_eq!((empty.reports, empty.duplicates), (0, 0));
}

#[test]
fn summary_parts_equal_replaying_the_reports() {
    let dir = TempDir::unborn("mtasts-site-parts");
    let s: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    parts_equal_replay(s, "sqlite");
    let Some(db) = TestDb::create() else { return };
    let p: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("parts")).unwrap());
    parts_equal_replay(p, "postgres");
}

fn fill(store: &dyn SiteStore) -> serde_json::Value {
    let mut rng = Rng(11);
    let reports: Vec<NewReport> = (0..60)
        .map(|i| new_report(&report(&mut rng, i), &format!("f{i}"), TODAY * 86_400))
        .collect();
    store.inbox().put_reports(&reports).unwrap();
    store.inbox().put_report(&reports[3]).unwrap();
    assert_same(store, "filled");
    serde_json::to_value(summary::summarize(store.inbox(), &SummaryOptions::default()).unwrap())
        .unwrap()
}

/// What a store made before the parts (or with another version of them)
/// looks like: no parts, no duplicate index, no version.
const FORGET: &str = "DELETE FROM inbox_summary_parts; DELETE FROM inbox_duplicates; \
    DELETE FROM inbox_state WHERE key = 'summary_parts_version';";

#[test]
fn parts_are_rebuilt_for_stores_made_before_them() {
    let dir = TempDir::unborn("mtasts-site-parts-rebuild");
    let s: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    let want = fill(s.as_ref());
    let n = parts_count(s.as_ref());
    assert!(n > 10);
    drop(s);
    let conn = rusqlite::Connection::open(dir.0.join("site.sqlite3")).unwrap();
    conn.execute_batch(FORGET).unwrap();
    // A part of an older version is rebuilt too.
    conn.execute(
        "INSERT INTO inbox_summary_parts (domain, day, part) VALUES ('a.example', 1, '{\"v\":0}')",
        [],
    )
    .unwrap();
    drop(conn);
    let s: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    assert_eq!(parts_count(s.as_ref()), n);
    let got = summary::summarize(s.inbox(), &SummaryOptions::default()).unwrap();
    assert_eq!(serde_json::to_value(got).unwrap(), want, "sqlite");
    assert_same(s.as_ref(), "sqlite rebuilt");

    // A damaged part: summaries count from the reports meanwhile, and the
    // next report of its day rebuilds it.
    let db_path = dir.0.join("site.sqlite3");
    damaged_part_is_rebuilt(s.as_ref(), "sqlite", &mut |sql| {
        rusqlite::Connection::open(&db_path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    });

    let Some(db) = TestDb::create() else { return };
    let p: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("parts-rebuild")).unwrap());
    assert_eq!(fill(p.as_ref()), want, "both backends");
    drop(p);
    let mut client = postgres::Client::connect(&db.url("parts-sql"), postgres::NoTls).unwrap();
    client.batch_execute(FORGET).unwrap();
    drop(client);
    let p: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("parts-rebuild")).unwrap());
    assert_eq!(parts_count(p.as_ref()), n);
    let got = summary::summarize(p.inbox(), &SummaryOptions::default()).unwrap();
    assert_eq!(serde_json::to_value(got).unwrap(), want, "postgres");
    let mut client = postgres::Client::connect(&db.url("parts-sql"), postgres::NoTls).unwrap();
    damaged_part_is_rebuilt(p.as_ref(), "postgres", &mut |sql| {
        client.batch_execute(sql).unwrap();
    });
}

/// The part of (a.example, yesterday): damaged, missing, or missing a
/// report (stored by a program that kept no parts, as an older node of a
/// shared database): the summary finds it out of date by the report
/// index, rebuilds it and equals the replay; storing a report of a day
/// with a damaged part rebuilds it too. `sql` runs SQL on the store.
fn damaged_part_is_rebuilt(store: &dyn SiteStore, backend: &str, sql: &mut dyn FnMut(&str)) {
    let key = ("a.example".to_owned(), TODAY - 1);
    let part = || {
        store
            .inbox()
            .summary_inputs(&ReportQuery::default())
            .unwrap()
            .parts
            .into_iter()
            .find(|(d, day, _)| (d.clone(), *day) == key)
            .map(|(_, _, json)| json)
    };
    let good = part().expect("the fill has a.example yesterday");
    let set = format!(
        "UPDATE inbox_summary_parts SET part = 'damaged' WHERE domain = 'a.example' AND day = {}",
        TODAY - 1
    );
    let delete = format!(
        "DELETE FROM inbox_summary_parts WHERE domain = 'a.example' AND day = {}",
        TODAY - 1
    );

    // Damaged: found at the next summary and rebuilt.
    sql(&set);
    assert_same(store, &format!("{backend} with a damaged part"));
    assert_eq!(part().as_deref(), Some(good.as_str()), "{backend}");
    // Missing: the same.
    sql(&delete);
    assert_same(store, &format!("{backend} without a part"));
    assert_eq!(part().as_deref(), Some(good.as_str()), "{backend}");

    // A report of that day stored, then its part put back as it was
    // before (what a node without parts leaves): one report short.
    let day = Timestamp::from_unix((TODAY - 1) * 86_400).date_string();
    let json = format!(
        r#"{{"organization-name":"late.example","date-range":{{"start-datetime":"{day}T00:00:00Z","end-datetime":"{day}T23:59:59Z"}},"contact-info":"x@late.example","report-id":"late","policies":[{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.a.example","max_age: 86400"],"policy-domain":"a.example","mx-host":["mx1.a.example"]}},"summary":{{"total-successful-session-count":3,"total-failure-session-count":0}}}}]}}"#
    );
    store
        .inbox()
        .put_report(&new_report(&json, "late.json", TODAY * 86_400))
        .unwrap();
    let with_late = part().unwrap();
    assert_ne!(with_late, good);
    sql(&format!(
        "UPDATE inbox_summary_parts SET part = '{good}' WHERE domain = 'a.example' AND day = {}",
        TODAY - 1
    ));
    assert_same(store, &format!("{backend} with a part one report short"));
    assert_eq!(part().as_deref(), Some(with_late.as_str()), "{backend}");

    // Damaged again, then a report of that day arrives: rebuilt at once.
    sql(&set);
    let json = json.replace(r#""report-id":"late""#, r#""report-id":"later""#);
    store
        .inbox()
        .put_report(&new_report(&json, "later.json", TODAY * 86_400))
        .unwrap();
    let rebuilt = part().unwrap();
    assert_ne!(rebuilt, "damaged", "{backend}");
    assert_same(store, &format!("{backend} rebuilt after damage"));
}

/// Two connections add reports of the same (domain, day) at once: each
/// part holds both writers' reports.
fn two_writers(a: Arc<dyn SiteStore>, b: Arc<dyn SiteStore>, backend: &str) {
    let writer = |store: Arc<dyn SiteStore>, who: &'static str| {
        std::thread::spawn(move || {
            let mut rng = Rng(if who == "a" { 3 } else { 5 });
            for i in 0..40 {
                let json = report(&mut rng, i)
                    .replace(r#""report-id":"r"#, &format!(r#""report-id":"{who}"#));
                store
                    .inbox()
                    .put_report(&new_report(&json, who, TODAY * 86_400))
                    .unwrap();
            }
        })
    };
    let (ta, tb) = (writer(Arc::clone(&a), "a"), writer(Arc::clone(&b), "b"));
    ta.join().unwrap();
    tb.join().unwrap();
    let s = summary::summarize(a.inbox(), &SummaryOptions::default()).unwrap();
    assert_eq!(s.reports, 80, "{backend}");
    assert_same(a.as_ref(), backend);
}

#[test]
fn two_writers_add_to_the_same_parts() {
    let dir = TempDir::unborn("mtasts-site-parts-writers");
    let a: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    let b: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    two_writers(a, b, "sqlite");
    let Some(db) = TestDb::create() else { return };
    let a: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("parts-a")).unwrap());
    let b: Arc<dyn SiteStore> = Arc::new(PgSiteStore::connect(&db.url("parts-b")).unwrap());
    two_writers(a, b, "postgres");
}
