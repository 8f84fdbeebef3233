//! Server time of the dashboard pages (`mtasts_site::web::pages::render`)
//! over a SQLite site store (or PostgreSQL with `--database URL`): the domain page of a busy domain for 90 days
//! (`--failure-rows` failure detail rows in the index, spread over 90
//! days of reports) and the overview of `--domains` hosted domains.
//!
//! ```text
//! cargo build --release -p mta-sts-benches --bin pages_render
//! target/release/pages_render --dir /dev/shm/pages-bench --domains 10000 --failure-rows 1000000
//! # smoke: small, debug
//! target/debug/pages_render --dir /tmp/pages-smoke --domains 200 --failure-rows 20000 --runs 2
//! # the shared store instead (an empty database, or one this filled)
//! target/release/pages_render --database postgresql://postgres@127.0.0.1/pages_bench
//! ```
//!
//! The store is filled once per `--dir` (the reports go in through the
//! inbox's store with their index rows, as `Inbox::ingest` stores them);
//! each page is then rendered `--runs` times and the median and the
//! slowest are printed, with the parts of the domain page timed apart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mtasts_site::domains::{self, AddOptions};
use mtasts_site::inbox::store::{DkimVerdict, NewReport};
use mtasts_site::pg::PgSiteStore;
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::SiteStore;
use mtasts_site::web::Account;
use mtasts_site::web::pages::{self, PageContext, PageRoute, data};
use tlsrpt_core::Report;

struct Args {
    dir: PathBuf,
    database: Option<String>,
    domains: usize,
    failure_rows: usize,
    runs: usize,
}

fn args() -> Args {
    let mut a = Args {
        dir: std::env::temp_dir().join("pages-bench"),
        database: None,
        domains: 10_000,
        failure_rows: 1_000_000,
        runs: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--dir" => a.dir = PathBuf::from(v),
            "--database" => a.database = Some(v),
            "--domains" => a.domains = v.parse().expect("--domains N"),
            "--failure-rows" => a.failure_rows = v.parse().expect("--failure-rows N"),
            "--runs" => a.runs = v.parse().expect("--runs N"),
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

const NOW: i64 = 1_796_428_800; // 2026-12-05T00:00:00Z
const BUSY: &str = "d00001.bench.example";

fn fill(store: &dyn SiteStore, a: &Args) {
    domains::configure(store, Some("sts.host.example.net"), None).unwrap();
    for i in 0..a.domains.max(2) {
        domains::add(
            store,
            &format!("d{i:05}.bench.example"),
            &AddOptions {
                mx: vec!["*.mx.bench.example".into()],
                ..AddOptions::default()
            },
            NOW - 100 * 86_400,
        )
        .unwrap();
    }
    // 90 days, 10 reports a day; the failure rows spread over them.
    let reports = 900;
    let per_report = (a.failure_rows / reports).max(1);
    for r in 0..reports {
        let day = NOW / 86_400 - i64::try_from(r / 10).unwrap();
        put(store, &format!("r{r}"), r, day, per_report);
    }
}

/// Store report `id` (number `r`, for its organization and sessions) of
/// the busy domain on `day` with `per_report` failure details.
fn put(store: &dyn SiteStore, id: &str, r: usize, day: i64, per_report: usize) {
    let types = [
        "certificate-expired",
        "starttls-not-supported",
        "validation-failure",
        "certificate-host-mismatch",
    ];
    {
        let date = data::day_string(day);
        let mut details = String::new();
        let mut failed = 0u64;
        for j in 0..per_report {
            let n = 1 + (j % 5) as u64;
            failed += n;
            if j > 0 {
                details.push(',');
            }
            details.push_str(&format!(
                r#"{{"result-type":"{}","sending-mta-ip":"10.{}.{}.{}","receiving-mx-hostname":"mx{}.mx.bench.example","failed-session-count":{n}}}"#,
                types[j % types.len()],
                (j / 65_536) % 256,
                (j / 256) % 256,
                j % 256,
                j % 7
            ));
        }
        let json = format!(
            r#"{{"organization-name":"Org {}","date-range":{{"start-datetime":"{date}T00:00:00Z","end-datetime":"{date}T23:59:59Z"}},"contact-info":"a@b.example","report-id":"{id}","policies":[{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: *.mx.bench.example","max_age: 604800"],"policy-domain":"{BUSY}","mx-host":["*.mx.bench.example"]}},"summary":{{"total-successful-session-count":{},"total-failure-session-count":{failed}}},"failure-details":[{details}]}}]}}"#,
            r % 13,
            100_000 + r
        );
        let report = Report::parse_lenient(json.as_bytes()).unwrap().value;
        let new = NewReport::new(
            &report,
            json.as_bytes(),
            DkimVerdict::none(),
            format!("bench-{id}.json"),
            NOW,
        )
        .unwrap();
        store.inbox().put_report(&new).unwrap();
    }
}

fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut t: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    (t[t.len() / 2], t[t.len() - 1])
}

fn main() {
    let a = args();
    let store: Arc<dyn SiteStore> = if let Some(url) = &a.database {
        Arc::new(PgSiteStore::connect(url).unwrap())
    } else {
        std::fs::create_dir_all(&a.dir).unwrap();
        Arc::new(SqliteStore::open(&a.dir).unwrap())
    };
    if store.domains().unwrap().is_empty() {
        let s = Instant::now();
        fill(&*store, &a);
        eprintln!("filled in {:.1?}", s.elapsed());
    }
    let stats = store.inbox().inbox_stats().unwrap();
    println!(
        "store: {} domains, {} reports, {} failure rows",
        store.domains().unwrap().len(),
        stats.reports,
        stats.failure_rows
    );
    let admin = Account {
        user: "admin".into(),
        admin: true,
        domains: Vec::new(),
    };
    let ctx = PageContext {
        store: &store,
        account: &admin,
        csrf_token: "x",
        now: NOW + 3600,
    };
    let report = |name: &str, (median, max): (Duration, Duration)| {
        println!("{name:<40} median {median:>10.1?}  max {max:>10.1?}");
    };
    let domain = PageRoute::Domain {
        domain: BUSY.into(),
        days: 90,
    };
    report(
        "domain page, 90 days (render)",
        time(a.runs, || {
            pages::render(&domain, &ctx).unwrap();
        }),
    );
    let (since, until) = data::window(ctx.now, 90);
    report(
        "  of which domain_stats (index)",
        time(a.runs, || {
            data::domain_stats(store.inbox(), BUSY, since, until).unwrap();
        }),
    );
    let d = store.domain(BUSY).unwrap().unwrap();
    report(
        "  of which readiness (cached after 1st)",
        time(a.runs, || {
            data::readiness(&*store, &d, ctx.now).unwrap();
        }),
    );
    report(
        "  of which reports_of (200 listed)",
        time(a.runs, || {
            data::reports_of(store.inbox(), BUSY, since, until, data::MAX_REPORTS_LISTED).unwrap();
        }),
    );
    report(
        "  readiness uncached (the stored summary)",
        time(a.runs, || {
            mtasts_site::promote::stored_reports_summary(&*store, &d, ctx.now).unwrap();
        }),
    );
    // The first view after a new report of the domain (its readiness is
    // computed again): a report of today with 100 failure details stored
    // before each run, not timed.
    let mut n = 0usize;
    let fresh = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut runs = Vec::new();
    for _ in 0..a.runs.max(1) {
        n += 1;
        put(&*store, &format!("new-{fresh}-{n}"), n, NOW / 86_400, 100);
        let s = Instant::now();
        pages::render(&domain, &ctx).unwrap();
        runs.push(s.elapsed());
    }
    runs.sort();
    report(
        "domain page after a new report",
        (runs[runs.len() / 2], runs[runs.len() - 1]),
    );
    report(
        "overview, first page",
        time(a.runs, || {
            pages::render(&PageRoute::Overview, &ctx).unwrap();
        }),
    );
}
