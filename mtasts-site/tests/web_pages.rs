//! The dashboard pages rendered from a SQLite site store filled with the
//! report corpus through `Inbox::ingest`: the numbers in the HTML (read
//! back by element id and `data-*` attribute) equal what
//! `mtasts report summarize --domain D --since A --until B` computes from
//! the same files (tlsrpt-core's `Aggregator` with the same `Filter`, as
//! the command does) and the summary from the store; hostile report
//! content is escaped; accounts see only their domains; a 90-day page
//! and a 10,000-domain overview render (their timing is a benchmark, not
//! asserted here).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mtasts_site::alerts::Alerter;
use mtasts_site::domains::{self, AddOptions};
use mtasts_site::inbox::summary::{self, SummaryOptions};
use mtasts_site::inbox::{Inbox, InboxOptions, Source};
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::SiteStore;
use mtasts_site::web::Account;
use mtasts_site::web::pages::data::{self, OverviewQuery, SortKey};
use mtasts_site::web::pages::{self, PageContext, PageError, PageRoute};
use test_support::TempDir;
use tlsrpt_core::input::{self, ReadOptions};
use tlsrpt_core::summary::{Filter, Summary, UNKNOWN};
use tlsrpt_core::{Aggregator, Report};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

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

/// The repository's report corpus (the files tlsrpt-core reads as reports).
fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for d in [
        "testdata/reports",
        "examples/data/reports",
        "tlsrpt-core/tests/data",
    ] {
        walk(&root().join(d), &mut files);
    }
    files
        .into_iter()
        .filter_map(|f| {
            let bytes = std::fs::read(&f).ok()?;
            input::read_report(&bytes, &ReadOptions::default()).ok()?;
            Some((f, bytes))
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Ingest `files` into `store` (alerts stored, nothing delivered) at `now`.
fn ingest(store: &Arc<dyn SiteStore>, files: &[(PathBuf, Vec<u8>)], now: i64) {
    let rt = runtime();
    let inbox = Inbox::new(
        Arc::clone(store),
        InboxOptions {
            // Nothing answers there: mail DKIM is `fail`/`none`, at once.
            dkim_resolver: Some("127.0.0.1:9".parse().unwrap()),
            retain_days: None,
            alerter: Some(Arc::new(Alerter::store_only(Arc::clone(store)))),
            ..InboxOptions::default()
        },
    );
    for (f, bytes) in files {
        rt.block_on(inbox.ingest_at(bytes, &Source::File(f.clone()), now))
            .unwrap();
    }
}

/// What `mtasts report summarize --domain D --since A --until B FILES`
/// computes.
fn summarize_files(files: &[(PathBuf, Vec<u8>)], filter: &Filter) -> Summary {
    let mut agg = Aggregator::new().filter(filter.clone());
    for (f, bytes) in files {
        let r = input::read_report(bytes, &ReadOptions::default()).unwrap();
        agg.add(&r.value.report, &f.display().to_string());
    }
    agg.into_summary()
}

/// Failed sessions per organization and per sending IP of the failure
/// details the filter keeps (each report once), from the files.
fn details_by(
    files: &[(PathBuf, Vec<u8>)],
    filter: &Filter,
) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut seen = std::collections::HashSet::new();
    let (mut org, mut ip) = (BTreeMap::new(), BTreeMap::new());
    for (_, bytes) in files {
        let r = input::read_report(bytes, &ReadOptions::default()).unwrap();
        let report: &Report<'_> = &r.value.report;
        let Some(kept) = filter.apply(report) else {
            continue;
        };
        if !seen.insert((
            kept.organization_name.to_string(),
            kept.report_id.to_string(),
        )) {
            continue;
        }
        for p in &kept.policies {
            for f in &p.failure_details {
                *org.entry(kept.organization_name.to_string()).or_insert(0) +=
                    f.failed_session_count;
                *ip.entry(
                    f.sending_mta_ip
                        .as_ref()
                        .map_or_else(|| UNKNOWN.to_owned(), ToString::to_string),
                )
                .or_insert(0) += f.failed_session_count;
            }
        }
    }
    (org, ip)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in the tag text `tag`.
fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!(" {name}=\"");
    let i = tag.find(&pat)? + pat.len();
    let j = tag[i..].find('"')? + i;
    Some(unescape(&tag[i..j]))
}

/// The opening tags inside the element that starts at `id="ID"` (up to
/// its `end` text) that carry attribute `has`.
fn tags_in<'h>(html: &'h str, id: &str, end: &str, has: &str) -> Vec<&'h str> {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id}"));
    let stop = html[start..].find(end).map_or(html.len(), |e| start + e);
    let region = &html[start..stop];
    let mut out = Vec::new();
    let mut rest = region;
    while let Some(lt) = rest.find('<') {
        let gt = rest[lt..].find('>').map_or(rest.len(), |g| lt + g);
        let tag = &rest[lt..gt];
        if tag.contains(&format!(" {has}=\"")) {
            out.push(tag);
        }
        rest = &rest[gt..];
    }
    out
}

/// `data-key` → `data-failed` of a breakdown table.
fn table(html: &str, id: &str) -> BTreeMap<String, u64> {
    tags_in(html, id, "</table>", "data-key")
        .into_iter()
        .map(|t| {
            (
                attr(t, "data-key").unwrap(),
                attr(t, "data-failed").unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// The opening tag of the element `#id`.
fn tag_of<'h>(html: &'h str, id: &str) -> &'h str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id}"));
    let lt = html[..at].rfind('<').unwrap();
    let gt = html[at..].find('>').unwrap() + at;
    &html[lt..gt]
}

fn value_of(html: &str, id: &str) -> u64 {
    attr(tag_of(html, id), "data-value")
        .unwrap_or_else(|| panic!("#{id} has no data-value"))
        .parse()
        .unwrap()
}

fn admin() -> Account {
    Account {
        user: "admin".into(),
        admin: true,
        domains: Vec::new(),
    }
}

fn render(store: &Arc<dyn SiteStore>, account: &Account, now: i64, route: &PageRoute) -> String {
    pages::render(
        route,
        &PageContext {
            store,
            account,
            csrf_token: "csrf-token-1",
            now,
        },
    )
    .unwrap_or_else(|e| panic!("{route:?}: {e}"))
}

/// The domains of the corpus that are valid domain names to host, with
/// the last UTC day of their reports.
fn corpus_domains(all: &Summary, files: &[(PathBuf, Vec<u8>)]) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for d in all.by_policy_domain.keys() {
        if d == UNKNOWN || mta_sts_core::domain::normalize(d).ok().as_deref() != Some(d.as_str()) {
            continue;
        }
        let s = summarize_files(files, &Filter::new().policy_domain(d));
        let Some(last) = s.by_day.keys().next_back() else {
            continue;
        };
        let day = tlsrpt_core::time::canonical_day(last.as_bytes().try_into().unwrap()).unwrap();
        out.push((d.clone(), day));
    }
    out
}

const T0: i64 = 1_796_428_800; // 2026-12-05T00:00:00Z

/// The report files: path and bytes.
type Files = Vec<(PathBuf, Vec<u8>)>;

fn filled_store(dir: &TempDir) -> (Arc<dyn SiteStore>, Files, Vec<(String, i64)>) {
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    let files = corpus();
    assert!(files.len() >= 5, "the corpus has reports");
    let all = summarize_files(&files, &Filter::new());
    let doms = corpus_domains(&all, &files);
    assert!(!doms.is_empty());
    domains::configure(&*store, Some("sts.host.example.net"), None).unwrap();
    for (d, _) in &doms {
        domains::add(
            &*store,
            d,
            &AddOptions {
                mx: vec![format!("*.{d}"), format!("mx.{d}")],
                ..AddOptions::default()
            },
            T0 - 40 * 86_400,
        )
        .unwrap();
    }
    ingest(&store, &files, T0);
    (store, files, doms)
}

#[test]
fn domain_pages_show_the_numbers_of_report_summarize() {
    let dir = TempDir::unborn("mtasts-web-pages");
    let (store, files, doms) = filled_store(&dir);
    let mut checked_failures = 0;
    for (d, last_day) in &doms {
        // A 90-day window ending with the domain's last report day.
        let now = last_day * 86_400 + 43_200;
        let (since, until) = data::window(now, 90);
        let filter = Filter::new().since(since).until(until).policy_domain(d);
        let expected = summarize_files(&files, &filter);
        let from_store = summary::summarize(
            store.inbox(),
            &SummaryOptions {
                filter: filter.clone(),
                ..SummaryOptions::default()
            },
        )
        .unwrap();
        assert_eq!(from_store.by_day, expected.by_day, "{d}");
        let html = render(
            &store,
            &admin(),
            now,
            &PageRoute::Domain {
                domain: d.clone(),
                days: 90,
            },
        );
        let counts = expected
            .by_policy_domain
            .get(d)
            .copied()
            .unwrap_or_default();
        assert_eq!(
            value_of(&html, "total-successful"),
            counts.successful_sessions,
            "{d}"
        );
        assert_eq!(
            value_of(&html, "total-failed"),
            counts.failed_sessions,
            "{d}"
        );
        // Sessions per day: the chart's bars and the table.
        let bars: BTreeMap<String, (u64, u64)> = tags_in(&html, "day-bars", "</svg>", "data-day")
            .into_iter()
            .map(|t| {
                (
                    attr(t, "data-day").unwrap(),
                    (
                        attr(t, "data-successful").unwrap().parse().unwrap(),
                        attr(t, "data-failed").unwrap().parse().unwrap(),
                    ),
                )
            })
            .collect();
        assert_eq!(bars.len(), 90, "{d}: one bar per day");
        let nonzero: BTreeMap<String, (u64, u64)> =
            bars.into_iter().filter(|(_, v)| *v != (0, 0)).collect();
        let want: BTreeMap<String, (u64, u64)> = expected
            .by_day
            .iter()
            .map(|(k, v)| (k.clone(), (v.successful_sessions, v.failed_sessions)))
            .filter(|(_, v)| *v != (0, 0))
            .collect();
        assert_eq!(nonzero, want, "{d}: sessions per day");
        // Failures by result type, MX host, organization, sending IP.
        assert_eq!(
            table(&html, "by-result-type"),
            expected.by_result_type,
            "{d}"
        );
        let mx: BTreeMap<String, u64> = expected
            .by_mx_host
            .iter()
            .map(|(k, v)| (k.clone(), v.failed_sessions))
            .collect();
        assert_eq!(table(&html, "by-mx-host"), mx, "{d}");
        let (org, ip) = details_by(&files, &filter);
        assert_eq!(table(&html, "by-organization"), org, "{d}");
        assert_eq!(table(&html, "by-sending-ip"), ip, "{d}");
        checked_failures += expected.by_result_type.len();
        // The policy, the three records, readiness without the live probe.
        assert!(html.contains("id=\"policy-body\""));
        let rec = domains::records(&*store, d, None, now).unwrap();
        for (i, r) in rec.records.iter().enumerate() {
            let tag = format!("id=\"record-{i}\"");
            let at = html.find(&tag).unwrap();
            let text = &html[at + tag.len() + "data-copy>".len() + 1..];
            assert!(
                unescape(text).starts_with(&r.zone_line()),
                "{d}: record {i}"
            );
        }
        assert!(html.contains("data-condition=\"mx-certificates\" data-ok=\"unchecked\""));
        assert!(html.contains("mtasts domain promote"));
        // Each listed report opens.
        for t in tags_in(&html, "reports", "</table>", "href") {
            let href = attr(t, "href").unwrap();
            let key = href.strip_prefix("/reports/").unwrap();
            let page = render(
                &store,
                &admin(),
                now,
                &PageRoute::Report { id: key.to_owned() },
            );
            assert!(page.contains("id=\"report-json\""));
        }
    }
    assert!(checked_failures > 0, "the corpus has failures to compare");
}

#[test]
fn overview_alerts_and_access() {
    let dir = TempDir::unborn("mtasts-web-pages");
    let (store, files, doms) = filled_store(&dir);
    let (d0, last0) = doms[0].clone();
    let now = last0 * 86_400 + 43_200;
    // Overview: the last 7 days of every domain, as summarize counts them.
    let html = render(&store, &admin(), now, &PageRoute::Overview);
    let (since, until) = data::window(now, 7);
    let rows = tags_in(&html, "overview", "</table>", "data-domain");
    assert_eq!(rows.len(), doms.len());
    for t in rows {
        let d = attr(t, "data-domain").unwrap();
        let s = summarize_files(
            &files,
            &Filter::new().since(since).until(until).policy_domain(&d),
        );
        let c = s.by_policy_domain.get(&d).copied().unwrap_or_default();
        assert_eq!(
            attr(t, "data-successful").unwrap().parse::<u64>().unwrap(),
            c.successful_sessions,
            "{d}"
        );
        assert_eq!(
            attr(t, "data-failed").unwrap().parse::<u64>().unwrap(),
            c.failed_sessions,
            "{d}"
        );
    }
    assert!(html.contains(&format!("id=\"domains-total\">{}<", doms.len())));

    // Alerts: every stored alert, newest first, its fix shown.
    let stored = store.alerts().list_alerts(None, 1000).unwrap();
    assert!(!stored.is_empty(), "the corpus raises alerts");
    let html = render(&store, &admin(), now, &PageRoute::Alerts);
    let ids: Vec<i64> = tags_in(&html, "alerts", "</main>", "data-alert-id")
        .into_iter()
        .map(|t| attr(t, "data-alert-id").unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, stored.iter().map(|a| a.id).collect::<Vec<_>>());
    assert!(html.contains("Fix: "));

    // An account sees its domain only; others are not found.
    let user = Account {
        user: "owner".into(),
        admin: false,
        domains: vec![d0.clone()],
    };
    let html = render(&store, &user, now, &PageRoute::Overview);
    assert_eq!(
        tags_in(&html, "overview", "</table>", "data-domain").len(),
        1
    );
    let alerts = render(&store, &user, now, &PageRoute::Alerts);
    for t in tags_in(&alerts, "alerts", "</main>", "data-domain") {
        assert_eq!(attr(t, "data-domain").unwrap(), d0);
    }
    if let Some((other, _)) = doms.get(1) {
        let r = pages::render(
            &PageRoute::Domain {
                domain: other.clone(),
                days: 7,
            },
            &PageContext {
                store: &store,
                account: &user,
                csrf_token: "t",
                now,
            },
        );
        assert!(matches!(r, Err(PageError::NotFound)));
    }
    let r = pages::render(
        &PageRoute::Domain {
            domain: "not-hosted.example".into(),
            days: 7,
        },
        &PageContext {
            store: &store,
            account: &admin(),
            csrf_token: "t",
            now,
        },
    );
    assert!(matches!(r, Err(PageError::NotFound)));
}

#[test]
fn hostile_report_content_is_escaped() {
    let dir = TempDir::unborn("mtasts-web-pages");
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    domains::configure(&*store, Some("sts.host.example.net"), None).unwrap();
    domains::add(
        &*store,
        "victim.example",
        &AddOptions {
            mx: vec!["mx.victim.example".into()],
            ..AddOptions::default()
        },
        T0 - 86_400,
    )
    .unwrap();
    let report = r#"{"organization-name":"<script>alert('org')</script>","date-range":{"start-datetime":"2026-12-04T00:00:00Z","end-datetime":"2026-12-04T23:59:59Z"},"contact-info":"\"><img src=x onerror=alert(1)>","report-id":"<b>id</b>","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: <svg onload=alert(2)>","max_age: 86400"],"policy-domain":"victim.example","mx-host":["mx.victim.example"]},"summary":{"total-successful-session-count":7,"total-failure-session-count":3},"failure-details":[{"result-type":"<script>x</script>","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx.victim.example","failed-session-count":3,"failure-reason-code":"</td><script>alert(3)</script>"}]}]}"#;
    ingest(
        &store,
        &[(PathBuf::from("hostile.json"), report.as_bytes().to_vec())],
        T0,
    );
    let account = admin();
    let domain = render(
        &store,
        &account,
        T0,
        &PageRoute::Domain {
            domain: "victim.example".into(),
            days: 7,
        },
    );
    let key = data::report_key("<script>alert('org')</script>", "<b>id</b>");
    let report_page = render(&store, &account, T0, &PageRoute::Report { id: key });
    let alerts = render(&store, &account, T0, &PageRoute::Alerts);
    for (name, html) in [
        ("domain", &domain),
        ("report", &report_page),
        ("alerts", &alerts),
    ] {
        // The only script element is the page's own copy script.
        assert_eq!(html.matches("<script").count(), 1, "{name}");
        for bad in ["<img", "<svg onload", "<b>id", "onerror=alert(1)>"] {
            assert!(!html.contains(bad), "{name}: {bad}");
        }
    }
    assert!(domain.contains("&lt;script&gt;alert("));
    assert_eq!(value_of(&domain, "total-failed"), 3);
    assert_eq!(
        table(&domain, "by-organization"),
        BTreeMap::from([("<script>alert('org')</script>".to_owned(), 3)])
    );
    assert!(report_page.contains("&lt;b&gt;id&lt;/b&gt;"));
}

#[test]
fn ninety_days_and_ten_thousand_domains_render() {
    // /dev/shm when there: 10,000 committed writes with synchronous=FULL.
    let base = Path::new("/dev/shm");
    let dir = TempDir::unborn_in(
        if base.is_dir() {
            base
        } else {
            Path::new("/tmp")
        },
        "mtasts-web-pages",
    );
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    let n = 10_000;
    for i in 0..n {
        domains::add(
            &*store,
            &format!("d{i:05}.example"),
            &AddOptions {
                mx: vec!["mx.example.net".into()],
                ..AddOptions::default()
            },
            T0 - 86_400 * i64::from(i % 200),
        )
        .unwrap();
    }
    // 90 days of reports for one domain, failures on every 3rd day.
    let mut files = Vec::new();
    for day in 0..90i64 {
        let t = tlsrpt_core::time::Timestamp::from_unix(T0 - day * 86_400);
        let date = t.date_string();
        let failed = if day % 3 == 0 { 5 + day as u64 } else { 0 };
        let details = if failed > 0 {
            format!(
                r#","failure-details":[{{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.{}","receiving-mx-hostname":"mx.example.net","failed-session-count":{failed}}}]"#,
                day % 7
            )
        } else {
            String::new()
        };
        let json = format!(
            r#"{{"organization-name":"Org {o}","date-range":{{"start-datetime":"{date}T00:00:00Z","end-datetime":"{date}T23:59:59Z"}},"contact-info":"a@b.example","report-id":"r{day}","policies":[{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.example.net","max_age: 86400"],"policy-domain":"d00001.example","mx-host":["mx.example.net"]}},"summary":{{"total-successful-session-count":{ok},"total-failure-session-count":{failed}}}{details}}}]}}"#,
            o = day % 4,
            ok = 1000 + day * 10,
        );
        files.push((PathBuf::from(format!("r{day}.json")), json.into_bytes()));
    }
    ingest(&store, &files, T0);
    let html = render(
        &store,
        &admin(),
        T0 + 3600,
        &PageRoute::Domain {
            domain: "d00001.example".into(),
            days: 90,
        },
    );
    let expected = summarize_files(&files, &Filter::new().policy_domain("d00001.example"));
    assert_eq!(
        value_of(&html, "total-successful"),
        expected.successful_sessions
    );
    assert_eq!(value_of(&html, "total-failed"), expected.failed_sessions);
    assert_eq!(tags_in(&html, "day-bars", "</svg>", "data-day").len(), 90);

    let q = |sort, desc, page| PageRoute::OverviewPage {
        query: OverviewQuery { sort, desc, page },
    };
    let first = render(&store, &admin(), T0 + 3600, &q(SortKey::Domain, false, 1));
    let rows = tags_in(&first, "overview", "</table>", "data-domain");
    assert_eq!(rows.len(), data::PER_PAGE);
    assert_eq!(attr(rows[0], "data-domain").unwrap(), "d00000.example");
    assert!(first.contains("page 1 of 100"));
    let last = render(&store, &admin(), T0 + 3600, &q(SortKey::Domain, false, 100));
    let rows = tags_in(&last, "overview", "</table>", "data-domain");
    assert_eq!(
        attr(rows[rows.len() - 1], "data-domain").unwrap(),
        "d09999.example"
    );
    // Worst failure rate first: the one domain with failures.
    let worst = render(&store, &admin(), T0 + 3600, &q(SortKey::Failures, true, 1));
    let rows = tags_in(&worst, "overview", "</table>", "data-domain");
    assert_eq!(attr(rows[0], "data-domain").unwrap(), "d00001.example");
    assert!(worst.contains("rel=\"next\""));
}

#[test]
fn readiness_follows_new_reports() {
    let dir = TempDir::unborn("mtasts-web-pages");
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0).unwrap());
    domains::configure(&*store, Some("sts.host.example.net"), None).unwrap();
    domains::add(
        &*store,
        "fresh.example",
        &AddOptions {
            mx: vec!["mx.fresh.example".into()],
            ..AddOptions::default()
        },
        T0 - 10 * 86_400,
    )
    .unwrap();
    let route = PageRoute::Domain {
        domain: "fresh.example".into(),
        days: 7,
    };
    let condition = |html: &str| {
        let tag = tags_in(html, "readiness", "</ul>", "data-condition")
            .into_iter()
            .find(|t| attr(t, "data-condition").as_deref() == Some("tlsrpt-reports"))
            .unwrap();
        attr(tag, "data-ok").unwrap()
    };
    let before = render(&store, &admin(), T0, &route);
    assert_eq!(condition(&before), "false");
    assert!(before.contains("no TLS-RPT report for fresh.example"));
    // Rendered again (the readiness summary is cached): still none.
    assert_eq!(condition(&render(&store, &admin(), T0, &route)), "false");
    let report = r#"{"organization-name":"Org","date-range":{"start-datetime":"2026-12-04T00:00:00Z","end-datetime":"2026-12-04T23:59:59Z"},"contact-info":"a@org.example","report-id":"fresh-1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.fresh.example","max_age: 86400"],"policy-domain":"fresh.example","mx-host":["mx.fresh.example"]},"summary":{"total-successful-session-count":12,"total-failure-session-count":0}}]}"#;
    ingest(
        &store,
        &[(PathBuf::from("fresh.json"), report.as_bytes().to_vec())],
        T0,
    );
    let after = render(&store, &admin(), T0, &route);
    assert_eq!(condition(&after), "true", "a new report is seen at once");
    assert!(after.contains("1 report(s) since"));
}
