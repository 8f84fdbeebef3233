//! `mtasts domain verify` and `mtasts domain promote` as a child process:
//! the site store in a temporary directory (prepared through the
//! library, with an old clock where a test needs days in testing), DNS
//! and SMTP servers on loopback in the test's runtime.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::SystemTime;

use common::{Run, TempDir, run};
use mtasts_site::domains::{self, AddOptions};
use mtasts_site::store::{SiteStore, StoreLocation};
use test_support::{CertSet, DnsServer, SmtpOptions, SmtpServer, TestCa, Zones};

const D: &str = "example.com";
const TARGET: &str = "mta-sts.host.example.net";
const DAY: i64 = 86_400;
const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A store under `dir` with example.com (mx1, mx2; testing) added at
/// `added`; returns the policy id.
fn site(dir: &TempDir, added: i64) -> String {
    let store: Arc<dyn SiteStore> =
        mtasts_site::store::open(&StoreLocation::State(dir.0.clone())).unwrap();
    let opts = AddOptions {
        mx: vec!["mx1.example.com".into(), "mx2.example.com".into()],
        ..AddOptions::default()
    };
    let d = domains::add(&*store, D, &opts, added).unwrap().domain;
    domains::configure(&*store, Some(TARGET), None).unwrap();
    d.current.id
}

fn stored(dir: &TempDir) -> mtasts_site::store::Domain {
    let store = mtasts_site::store::open(&StoreLocation::State(dir.0.clone())).unwrap();
    store.domain(D).unwrap().unwrap()
}

fn zones(id: &str) -> Zones {
    Zones::new()
        .txt("_mta-sts.example.com", &[format!("v=STSv1; id={id}")])
        .cname("mta-sts.example.com", TARGET)
        .a(TARGET, LOCAL)
        .txt(
            "_smtp._tls.example.com",
            &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
        )
        .mx(D, 10, "mx1.example.com")
        .mx(D, 20, "mx2.example.com")
        .a("mx1.example.com", LOCAL)
        .a("mx2.example.com", LOCAL)
}

async fn mtasts(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_good_then_stale_and_uncovered() {
    let dir = TempDir::new();
    let id = site(&dir, now() - 100);
    let state = dir.0.to_str().unwrap().to_owned();

    let dns = DnsServer::start(zones(&id)).await.unwrap();
    let resolver = dns.addr().to_string();
    let r = mtasts(args(&[
        "domain",
        "verify",
        D,
        "--state",
        &state,
        "--resolver",
        &resolver,
        "--json",
    ]))
    .await
    .ok();
    let j = r.json();
    assert_eq!(j["domain"], D);
    assert_eq!(j["passed"], true);
    assert_eq!(j["policy_id"], id.as_str());
    let codes: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["sts-record-ok", "policy-host-ok", "tlsrpt-ok", "mx-ok"]
    );
    assert_eq!(j["records"][1]["value"], format!("{TARGET}."));

    // Text.
    let r = mtasts(args(&[
        "domain",
        "verify",
        D,
        "--state",
        &state,
        "--resolver",
        &resolver,
    ]))
    .await
    .ok();
    assert!(
        r.stdout.starts_with(&format!(
            "Verify of example.com (policy id {id}, mode testing)"
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("ok    sts-record-ok"), "{}", r.stdout);
    assert!(
        r.stdout.contains("PASSED: 0 errors, 0 warnings"),
        "{}",
        r.stdout
    );
    drop(dns);

    // A stale id, a missing CNAME and an uncovered MX.
    let bad = Zones::new()
        .txt(
            "_mta-sts.example.com",
            &["v=STSv1; id=20200101000000000001"],
        )
        .txt(
            "_smtp._tls.example.com",
            &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
        )
        .mx(D, 10, "mx1.example.com")
        .mx(D, 20, "mx9.elsewhere.example");
    let dns = DnsServer::start(bad).await.unwrap();
    let resolver = dns.addr().to_string();
    let r = mtasts(args(&[
        "domain",
        "verify",
        D,
        "--state",
        &state,
        "--resolver",
        &resolver,
        "--json",
    ]))
    .await;
    let e = r.fails();
    assert_eq!(
        e,
        "error: example.com: 3 errors in the DNS records (see the fixes above)"
    );
    let j = r.json();
    assert_eq!(j["passed"], false);
    let errors: Vec<(&str, &str)> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            (
                f["code"].as_str().unwrap(),
                f["remediation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[0].0, "sts-id-stale");
    assert_eq!(
        errors[0].1,
        format!("replace the record with: _mta-sts.example.com. IN TXT \"v=STSv1; id={id}\"")
    );
    assert_eq!(
        errors[1],
        (
            "policy-host-absent",
            "publish: mta-sts.example.com. IN CNAME mta-sts.host.example.net."
        )
    );
    assert_eq!(errors[2].0, "mx-not-covered");
    assert!(
        errors[2].1.contains("--mx mx9.elsewhere.example`"),
        "{}",
        errors[2].1
    );

    // Text shows the fixes.
    let r = mtasts(args(&[
        "domain",
        "verify",
        D,
        "--state",
        &state,
        "--resolver",
        &resolver,
    ]))
    .await;
    r.fails();
    assert!(r.stdout.contains("FAIL  sts-id-stale"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("fix: publish: mta-sts.example.com. IN CNAME mta-sts.host.example.net."),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("FAILED: 3 errors"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_unhosted_domain_fails() {
    let dir = TempDir::new();
    site(&dir, now());
    let state = dir.0.to_str().unwrap().to_owned();
    let dns = DnsServer::start(Zones::new()).await.unwrap();
    let resolver = dns.addr().to_string();
    let r = mtasts(args(&[
        "domain",
        "verify",
        "other.example",
        "--state",
        &state,
        "--resolver",
        &resolver,
    ]))
    .await;
    assert_eq!(
        r.fails_alone(),
        "error: other.example is not hosted here (see `mtasts domain list`)"
    );
}

/// A report for example.com from `start`, `days` days long.
fn report(id: &str, start: i64, days: i64, failures: &str, failed: u64) -> String {
    let ts = |t: i64| mta_sts_core::time::Timestamp::from_unix(t).to_string();
    format!(
        r#"{{"organization-name":"Sender","date-range":{{"start-datetime":"{}","end-datetime":"{}"}},"contact-info":"a@sender.example","report-id":"{id}","policies":[{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.example.com","mx: mx2.example.com","max_age: 604800"],"policy-domain":"example.com","mx-host":["mx1.example.com","mx2.example.com"]}},"summary":{{"total-successful-session-count":100,"total-failure-session-count":{failed}}},"failure-details":[{failures}]}}]}}"#,
        ts(start),
        ts(start + days * DAY - 1)
    )
}

struct PromoteWorld {
    _dns: DnsServer,
    _smtp: SmtpServer,
    base: Vec<String>,
}

async fn promote_world(dir: &TempDir, id: &str) -> PromoteWorld {
    let ca = TestCa::new();
    let mx1 = ca.issue(&["mx1.example.com"]);
    let certs = CertSet::new(mx1.clone())
        .with_sni("mx1.example.com", mx1)
        .with_sni("mx2.example.com", ca.issue(&["mx2.example.com"]));
    let smtp = SmtpServer::start(SmtpOptions::starttls("mx.example.com", certs))
        .await
        .unwrap();
    let dns = DnsServer::start(zones(id)).await.unwrap();
    let ca_file = dir.write("ca.pem", ca.ca_pem());
    let base = args(&[
        "domain",
        "promote",
        D,
        "--state",
        dir.0.to_str().unwrap(),
        "--resolver",
        &dns.addr().to_string(),
        "--ca-file",
        &ca_file,
        "--smtp-port",
        &smtp.addr().port().to_string(),
        "--https-port",
        "9",
        "--timeout",
        "5",
    ]);
    PromoteWorld {
        _dns: dns,
        _smtp: smtp,
        base,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_refused_then_promoted() {
    let dir = TempDir::new();
    let t = now();
    let id = site(&dir, t - 8 * DAY);
    let w = promote_world(&dir, &id).await;

    // No reports: refused, nothing changes.
    let mut a = w.base.clone();
    a.push("--json".into());
    let r = mtasts(a).await;
    assert_eq!(
        r.fails(),
        "error: example.com: not promoted: tlsrpt-reports failed (--force overrides)"
    );
    let j = r.json();
    assert_eq!(j["domain"], D);
    assert_eq!(j["promoted"], false);
    assert_eq!(j["forced"], false);
    assert_eq!(j["bimi_ready"], false);
    let conds: Vec<(&str, bool)> = j["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        conds,
        [
            ("mode", true),
            ("days-in-testing", true),
            ("tlsrpt-reports", false),
            ("mx-certificates", true)
        ]
    );
    assert!(
        j["conditions"][2]["fix"]
            .as_str()
            .unwrap()
            .contains("or pass --reports")
    );
    assert_eq!(stored(&dir).current.id, id);

    // A report with failures against a policy MX: refused (text).
    let failing = dir.write(
        "failing.json",
        report(
            "r1",
            t - 6 * DAY,
            6,
            r#"{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx1.example.com","failed-session-count":3}"#,
            3,
        ),
    );
    let mut a = w.base.clone();
    a.extend(["--reports".to_owned(), failing.clone()]);
    let r = mtasts(a).await;
    r.fails();
    assert!(r.stdout.contains("FAIL  tlsrpt-reports"), "{}", r.stdout);
    assert!(
        r.stdout.contains("mx1.example.com: 3 certificate-expired"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Not promoted: example.com stays in mode testing"),
        "{}",
        r.stdout
    );
    assert_eq!(stored(&dir).current.id, id);

    // The same report in the site's inbox (`mtasts report ingest`):
    // promote reads it when no --reports is given, and refuses.
    let state = dir.0.to_str().unwrap().to_owned();
    let ingest = args(&["report", "ingest", "--state", &state, &failing]);
    mtasts(ingest).await.ok();
    let r = mtasts(w.base.clone()).await;
    r.fails();
    assert!(r.stdout.contains("FAIL  tlsrpt-reports"), "{}", r.stdout);
    assert!(
        r.stdout.contains("mx1.example.com: 3 certificate-expired"),
        "{}",
        r.stdout
    );
    assert_eq!(stored(&dir).current.id, id);

    // Clean reports in a directory: promoted.
    let reports = TempDir::new();
    reports.write("a.json", report("r2", t - 7 * DAY, 3, "", 0));
    reports.write("b.json", report("r3", t - 4 * DAY, 4, "", 0));
    let mut a = w.base.clone();
    a.extend([
        "--reports".to_owned(),
        reports.0.to_str().unwrap().to_owned(),
        "--json".to_owned(),
    ]);
    let r = mtasts(a).await.ok();
    let j = r.json();
    assert_eq!(j["promoted"], true);
    assert_eq!(j["forced"], false);
    assert_eq!(j["mode"], "enforce");
    assert_eq!(j["bimi_ready"], true);
    let new_id = j["policy_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    assert_eq!(j["previous_id"], id.as_str());
    assert_eq!(j["publish"]["name"], "_mta-sts.example.com.");
    assert_eq!(j["publish"]["value"], format!("v=STSv1; id={new_id}"));
    assert!(
        j["conditions"][2]["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 report(s)")
    );
    let d = stored(&dir);
    assert_eq!(d.settings.mode, mta_sts_core::Mode::Enforce);
    assert_eq!(d.current.id, new_id);

    // Again: already in enforce, exit 0.
    let r = mtasts(w.base.clone()).await.ok();
    assert!(r.stdout.contains("already in mode enforce"), "{}", r.stdout);
    assert!(r.stdout.contains("BIMI: ready"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_too_early_and_forced() {
    let dir = TempDir::new();
    let t = now();
    let id = site(&dir, t - 2 * DAY);
    let w = promote_world(&dir, &id).await;
    let reports = dir.write("r.json", report("r1", t - 2 * DAY, 2, "", 0));

    let mut a = w.base.clone();
    a.extend(["--reports".to_owned(), reports.clone()]);
    let r = mtasts(a.clone()).await;
    assert_eq!(
        r.fails(),
        "error: example.com: not promoted: days-in-testing failed (--force overrides)"
    );
    assert!(
        r.stdout
            .contains("FAIL  days-in-testing    2 of 7 days in mode testing"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("5 more days"), "{}", r.stdout);

    // --force promotes anyway, and says so.
    let mut forced = a.clone();
    forced.push("--force".into());
    let r = mtasts(forced).await.ok();
    assert_eq!(
        r.stderr.trim_end(),
        "warning: example.com: promoted to enforce with --force although conditions fail"
    );
    assert!(
        r.stdout
            .contains("FORCED: promoted with --force although days-in-testing failed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("Promoted example.com to mode enforce; new policy id"),
        "{}",
        r.stdout
    );
    assert_eq!(stored(&dir).settings.mode, mta_sts_core::Mode::Enforce);

    // Another site: --days 2 is enough without --force.
    let dir2 = TempDir::new();
    let id2 = site(&dir2, t - 2 * DAY);
    let w2 = promote_world(&dir2, &id2).await;
    let mut c = w2.base.clone();
    c.extend([
        "--reports".to_owned(),
        reports,
        "--days".to_owned(),
        "2".to_owned(),
        "--json".to_owned(),
    ]);
    let j = mtasts(c).await.ok().json();
    assert_eq!(j["promoted"], true);
    assert_eq!(j["forced"], false);
    assert_eq!(j["days_required"], 2);
}

#[test]
fn usage_errors() {
    run(&["domain", "verify", D]).usage_error();
    run(&[
        "domain",
        "promote",
        D,
        "--state",
        "/nonexistent",
        "--days",
        "x",
    ])
    .usage_error();
    run(&[
        "domain",
        "verify",
        D,
        "--state",
        "/tmp",
        "--resolver",
        "not-an-address",
    ])
    .usage_error();
}
