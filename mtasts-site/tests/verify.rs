//! `verify` and `promote` against real parts on loopback: the site store
//! (SQLite in a temporary directory, PostgreSQL when reachable), a DNS
//! server with the domain's zone (the only resolver), an SMTP server with
//! STARTTLS and a certificate of a test CA as the MX host.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use mta_sts_check::CheckOptions;
use mta_sts_core::Mode;
use mta_sts_core::finding::Severity;
use mta_sts_core::time::Timestamp;
use mtasts_site::domains::{self, AddOptions, Changes};
use mtasts_site::promote::{self, PromoteOptions};
use mtasts_site::store::{SiteStore, StoreLocation};
use mtasts_site::verify::{self, VerifyCode, VerifyError, VerifyReport};
use policy_fetch::{Dns, Overrides};
use test_support::{CertSet, DnsServer, SmtpOptions, SmtpServer, TempDir, TestCa, Zones};

const D: &str = "example.com";
const TARGET: &str = "mta-sts.host.example.net";
const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;
const DAY: i64 = 86_400;

fn real_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A site store with `example.com` (mx1 and mx2.example.com, testing)
/// added at `added`, and the target configured.
fn site(dir: &TempDir, added: i64) -> Arc<dyn SiteStore> {
    let store = mtasts_site::store::open(&StoreLocation::State(dir.0.clone())).unwrap();
    setup(&*store, added);
    store
}

fn setup(store: &dyn SiteStore, added: i64) {
    let opts = AddOptions {
        mx: vec!["mx1.example.com".into(), "mx2.example.com".into()],
        ..AddOptions::default()
    };
    domains::add(store, D, &opts, added).unwrap();
    domains::configure(store, Some(TARGET), None).unwrap();
}

fn id_of(store: &dyn SiteStore) -> String {
    store.domain(D).unwrap().unwrap().current.id
}

/// Zones of a domain that did everything right, for the policy `id`.
fn good_zones(id: &str) -> Zones {
    Zones::new()
        .txt("_mta-sts.example.com", &[format!("v=STSv1; id={id}")])
        .txt("_mta-sts.example.com", &["v=spf1 -all"])
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

async fn run_verify(store: &Arc<dyn SiteStore>, zones: Zones, now: i64) -> VerifyReport {
    let dns_server = DnsServer::start(zones).await.unwrap();
    let dns = Dns::with_server(dns_server.addr()).unwrap();
    verify::verify(store, D, &dns, None, now).await.unwrap()
}

fn codes(r: &VerifyReport) -> Vec<&str> {
    r.findings.iter().map(|f| f.code.as_str()).collect()
}

fn finding(r: &VerifyReport, code: VerifyCode) -> &verify::Finding {
    r.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no finding {code}: {:#?}", r.findings))
}

#[tokio::test]
async fn verify_all_good() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 100);
    let id = id_of(&*store);
    let r = run_verify(&store, good_zones(&id), now).await;
    assert!(r.passed, "{:#?}", r.findings);
    assert_eq!(
        codes(&r),
        ["sts-record-ok", "policy-host-ok", "tlsrpt-ok", "mx-ok"]
    );
    assert!(r.findings.iter().all(|f| f.severity == Severity::Info));
    assert_eq!(r.policy_id, id);
    assert_eq!(r.mode, Mode::Testing);
    let lines: Vec<String> = r.records.iter().map(|x| x.zone_line()).collect();
    assert_eq!(
        lines,
        [
            format!("_mta-sts.example.com. IN TXT \"v=STSv1; id={id}\""),
            format!("mta-sts.example.com. IN CNAME {TARGET}."),
            "_smtp._tls.example.com. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\""
                .to_owned(),
        ]
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["findings"][0]["severity"], "info");
    assert_eq!(json["findings"][0]["code"], "sts-record-ok");
}

#[tokio::test]
async fn verify_stale_id() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 1000);
    let old = id_of(&*store);
    let changes = Changes {
        max_age: Some(1_209_600),
        ..Changes::default()
    };
    assert!(
        domains::set(&*store, D, &changes, now - 500)
            .unwrap()
            .changed
    );
    let new = id_of(&*store);
    assert_ne!(old, new);
    let r = run_verify(&store, good_zones(&old), now).await;
    assert!(!r.passed);
    let f = finding(&r, VerifyCode::StsIdStale);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains(&old) && f.message.contains(&new),
        "{}",
        f.message
    );
    assert!(f.message.contains("version 1"), "{}", f.message);
    assert_eq!(
        f.remediation,
        format!("replace the record with: _mta-sts.example.com. IN TXT \"v=STSv1; id={new}\"")
    );
    // Everything else still passes.
    assert_eq!(r.count(Severity::Error), 1, "{:#?}", r.findings);

    // An id the site never served.
    let r = run_verify(&store, good_zones("1234"), now).await;
    let f = finding(&r, VerifyCode::StsIdStale);
    assert!(
        f.message.contains("an id this site never served"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn verify_new_id_within_propagation_is_accepted() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 1000);
    let old = id_of(&*store);
    let changes = Changes {
        max_age: Some(1_209_600),
        ..Changes::default()
    };
    domains::set(&*store, D, &changes, now - 1).unwrap();
    let new = id_of(&*store);
    // Within the propagation time both the published (old) and the
    // newest id are accepted.
    let r = run_verify(&store, good_zones(&old), now).await;
    assert!(r.passed, "{:#?}", r.findings);
    assert_eq!(r.policy_id, old);
    assert_eq!(r.pending.as_ref().unwrap().policy_id, new);
    assert!(finding(&r, VerifyCode::StsRecordOk).message.contains(&new));
    let r = run_verify(&store, good_zones(&new), now).await;
    assert!(r.passed, "{:#?}", r.findings);
}

#[tokio::test]
async fn verify_missing_cname() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 100);
    let id = id_of(&*store);
    let zones = Zones::new()
        .txt("_mta-sts.example.com", &[format!("v=STSv1; id={id}")])
        .txt(
            "_smtp._tls.example.com",
            &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
        )
        .mx(D, 10, "mx1.example.com");
    let r = run_verify(&store, zones, now).await;
    assert!(!r.passed);
    let f = finding(&r, VerifyCode::PolicyHostAbsent);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.remediation,
        format!("publish: mta-sts.example.com. IN CNAME {TARGET}.")
    );
    assert_eq!(r.count(Severity::Error), 1, "{:#?}", r.findings);
}

#[tokio::test]
async fn verify_wrong_cname_target() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 100);
    let id = id_of(&*store);
    let zones = Zones::new()
        .txt("_mta-sts.example.com", &[format!("v=STSv1; id={id}")])
        .cname("mta-sts.example.com", "sts.other-host.example.org")
        .a("sts.other-host.example.org", Ipv4Addr::new(127, 0, 0, 9))
        .txt(
            "_smtp._tls.example.com",
            &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
        )
        .mx(D, 10, "mx1.example.com");
    let r = run_verify(&store, zones, now).await;
    assert!(!r.passed);
    let f = finding(&r, VerifyCode::PolicyHostCnameWrong);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("sts.other-host.example.org"),
        "{}",
        f.message
    );
    assert!(f.message.contains(TARGET), "{}", f.message);
    assert_eq!(
        f.remediation,
        format!("replace it: mta-sts.example.com. IN CNAME {TARGET}.")
    );
}

#[tokio::test]
async fn verify_addresses_instead_of_cname() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 100);
    let ip: IpAddr = "127.0.0.7".parse().unwrap();
    domains::configure(&*store, None, Some(&[ip])).unwrap();
    let id = id_of(&*store);
    let base = || {
        Zones::new()
            .txt("_mta-sts.example.com", &[format!("v=STSv1; id={id}")])
            .txt(
                "_smtp._tls.example.com",
                &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
            )
            .mx(D, 10, "mx1.example.com")
    };
    let r = run_verify(
        &store,
        base().a("mta-sts.example.com", Ipv4Addr::new(127, 0, 0, 7)),
        now,
    )
    .await;
    assert!(r.passed, "{:#?}", r.findings);
    assert!(
        finding(&r, VerifyCode::PolicyHostOk)
            .message
            .contains("127.0.0.7")
    );

    let r = run_verify(
        &store,
        base().a("mta-sts.example.com", Ipv4Addr::new(127, 0, 0, 8)),
        now,
    )
    .await;
    let f = finding(&r, VerifyCode::PolicyHostAddressesWrong);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("127.0.0.8") && f.message.contains("127.0.0.7"),
        "{}",
        f.message
    );
    assert!(
        f.remediation
            .contains("mta-sts.example.com. IN A 127.0.0.7"),
        "{}",
        f.remediation
    );
}

#[tokio::test]
async fn verify_uncovered_mx() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 100);
    let id = id_of(&*store);
    let zones = good_zones(&id).mx(D, 30, "mx3.other.example");
    let r = run_verify(&store, zones, now).await;
    assert!(!r.passed);
    let f = finding(&r, VerifyCode::MxNotCovered);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message
            .starts_with("MX host mx3.other.example is not covered"),
        "{}",
        f.message
    );
    assert!(
        f.remediation.contains(
            "`mtasts domain set example.com --mx mx1.example.com --mx mx2.example.com --mx mx3.other.example`"
        ),
        "{}",
        f.remediation
    );
    assert!(!codes(&r).contains(&"mx-ok"));
    assert_eq!(r.count(Severity::Error), 1, "{:#?}", r.findings);
}

#[tokio::test]
async fn verify_missing_or_wrong_tlsrpt() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 100);
    let id = id_of(&*store);
    let zones = Zones::new()
        .txt("_mta-sts.example.com", &[format!("v=STSv1; id={id}")])
        .cname("mta-sts.example.com", TARGET)
        .a(TARGET, LOCAL)
        .mx(D, 10, "mx1.example.com");
    let r = run_verify(&store, zones.clone(), now).await;
    let f = finding(&r, VerifyCode::TlsrptAbsent);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.remediation,
        "publish: _smtp._tls.example.com. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\""
    );
    assert_eq!(r.count(Severity::Error), 1, "{:#?}", r.findings);

    let wrong = zones.txt(
        "_smtp._tls.example.com",
        &["v=TLSRPTv1; rua=mailto:reports@elsewhere.example"],
    );
    let r = run_verify(&store, wrong, now).await;
    let f = finding(&r, VerifyCode::TlsrptRuaMissing);
    assert!(
        f.message.contains("mailto:reports@elsewhere.example"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("but not mailto:tlsrpt@example.com"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn verify_two_sts_records_and_unhosted() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 100);
    let id = id_of(&*store);
    let zones = good_zones(&id).txt("_mta-sts.example.com", &["v=STSv1; id=999"]);
    let r = run_verify(&store, zones, now).await;
    let f = finding(&r, VerifyCode::StsRecordMultiple);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.remediation.contains(&id));

    let dns_server = DnsServer::start(Zones::new()).await.unwrap();
    let dns = Dns::with_server(dns_server.addr()).unwrap();
    let e = verify::verify(&store, "other.example", &dns, None, now)
        .await
        .unwrap_err();
    assert!(
        matches!(e, VerifyError::NotHosted(ref d) if d == "other.example"),
        "{e}"
    );
}

#[tokio::test]
async fn verify_on_postgres() {
    let Some(db) = test_support::pg::TestDb::create() else {
        return;
    };
    let url = db.url("verify-test");
    let store = tokio::task::spawn_blocking(move || {
        let s = mtasts_site::store::open(&StoreLocation::Database(url)).unwrap();
        setup(&*s, real_now() - 100);
        s
    })
    .await
    .unwrap();
    let s2 = store.clone();
    let id = tokio::task::spawn_blocking(move || id_of(&*s2))
        .await
        .unwrap();
    let r = run_verify(
        &store,
        good_zones(&id).mx(D, 30, "mx3.other.example"),
        real_now(),
    )
    .await;
    assert_eq!(
        codes(&r),
        [
            "sts-record-ok",
            "policy-host-ok",
            "tlsrpt-ok",
            "mx-not-covered"
        ]
    );
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .unwrap();
}

// ---------------------------------------------------------------- promote

/// A CA certificate in a temporary PEM file, removed on drop.
struct CaFile(PathBuf);

impl CaFile {
    fn new(ca: &TestCa) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mtasts-site-promote-{}-{}.pem",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, ca.ca_pem()).unwrap();
        Self(path)
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A TLS-RPT report for example.com covering `start` to `start + days`,
/// with `ok` successful sessions and `failures` (result type, MX host,
/// sessions).
fn report_json(id: &str, start: i64, days: i64, ok: u64, failures: &[(&str, &str, u64)]) -> String {
    let failed: u64 = failures.iter().map(|f| f.2).sum();
    let details: Vec<String> = failures
        .iter()
        .map(|(rt, mx, n)| {
            format!(
                r#"{{"result-type":"{rt}","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"{mx}","failed-session-count":{n}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"organization-name":"Sender","date-range":{{"start-datetime":"{}","end-datetime":"{}"}},"contact-info":"a@sender.example","report-id":"{id}","policies":[{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.example.com","mx: mx2.example.com","max_age: 604800"],"policy-domain":"example.com","mx-host":["mx1.example.com","mx2.example.com"]}},"summary":{{"total-successful-session-count":{ok},"total-failure-session-count":{failed}}},"failure-details":[{}]}}]}}"#,
        Timestamp::from_unix(start),
        Timestamp::from_unix(start + days * DAY - 1),
        details.join(",")
    )
}

/// The summary of `reports` as `promote` judges them for the stored domain.
fn summary(store: &dyn SiteStore, reports: &[String], now: i64) -> tlsrpt_core::summary::Summary {
    let d = store.domain(D).unwrap().unwrap();
    let mut agg = promote::report_aggregator(&d, now);
    for (i, json) in reports.iter().enumerate() {
        let r = tlsrpt_core::Report::parse_lenient(json.as_bytes())
            .unwrap()
            .value;
        agg.add(&r, &format!("report-{i}"));
    }
    agg.into_summary()
}

/// The loopback world of a promotion: DNS with `zones`, one SMTP server
/// presenting a test CA's certificates for both MX hosts.
struct World {
    _dns: DnsServer,
    _smtp: SmtpServer,
    _ca_file: CaFile,
    options: PromoteOptions,
}

async fn world(zones: Zones, force: bool) -> World {
    let ca = TestCa::new();
    let mx1 = ca.issue(&["mx1.example.com"]);
    let certs = CertSet::new(mx1.clone())
        .with_sni("mx1.example.com", mx1)
        .with_sni("mx2.example.com", ca.issue(&["mx2.example.com"]));
    let smtp = SmtpServer::start(SmtpOptions::starttls("mx.example.com", certs))
        .await
        .unwrap();
    let dns = DnsServer::start(zones).await.unwrap();
    let ca_file = CaFile::new(&ca);
    let options = PromoteOptions {
        days: 7,
        force,
        overrides: Overrides {
            resolver: Some(dns.addr()),
            ca_file: Some(ca_file.0.clone()),
            // Nothing listens there: the policy fetch of the check fails
            // at once (the conditions do not use it).
            https_port: Some(9),
            smtp_port: Some(smtp.addr().port()),
            ..Overrides::default()
        },
        check: CheckOptions {
            fetch_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            probe_timeout: Duration::from_secs(5),
            ..CheckOptions::default()
        },
    };
    World {
        _dns: dns,
        _smtp: smtp,
        _ca_file: ca_file,
        options,
    }
}

fn condition<'a>(o: &'a promote::PromoteOutcome, name: &str) -> &'a promote::Condition {
    o.conditions
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no condition {name}: {:#?}", o.conditions))
}

#[tokio::test]
async fn promote_all_good() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 8 * DAY);
    let old = id_of(&*store);
    let reports = [report_json("r1", now - 7 * DAY, 7, 120, &[])];
    let s = summary(&*store, &reports, now);
    let w = world(good_zones(&old), false).await;
    let o = promote::promote(&store, D, Some(&s), &w.options, now)
        .await
        .unwrap();
    assert!(o.promoted, "{:#?}", o.conditions);
    assert!(!o.forced && !o.already_enforce);
    assert!(o.conditions.iter().all(|c| c.ok), "{:#?}", o.conditions);
    assert_eq!(
        o.conditions.iter().map(|c| c.name).collect::<Vec<_>>(),
        [
            "mode",
            "days-in-testing",
            "tlsrpt-reports",
            "mx-certificates"
        ]
    );
    assert_eq!(o.days_in_testing, 8);
    assert!(
        condition(&o, "mx-certificates")
            .detail
            .contains("mx1.example.com, mx2.example.com")
    );
    assert!(
        condition(&o, "tlsrpt-reports")
            .detail
            .starts_with("1 report(s)")
    );
    assert_eq!(o.mode, Mode::Enforce);
    assert_ne!(o.policy_id, old);
    assert_eq!(o.previous_id, old);
    let stored = store.domain(D).unwrap().unwrap();
    assert_eq!(stored.settings.mode, Mode::Enforce);
    assert_eq!(stored.current.id, o.policy_id);
    assert!(stored.current.body.contains("mode: enforce\r\n"));
    assert_eq!(store.history(D).unwrap().len(), 2);
    assert_eq!(
        o.publish.as_ref().unwrap().zone_line(),
        format!(
            "_mta-sts.example.com. IN TXT \"v=STSv1; id={}\"",
            o.policy_id
        )
    );
    assert!(o.bimi_ready);
    assert!(o.bimi.starts_with("BIMI: ready"));

    // Again: already in enforce, nothing changes.
    let o2 = promote::promote(&store, D, Some(&s), &w.options, now + 10)
        .await
        .unwrap();
    assert!(o2.already_enforce && !o2.promoted);
    assert_eq!(o2.policy_id, o.policy_id);
    assert_eq!(store.history(D).unwrap().len(), 2);
}

#[tokio::test]
async fn promote_too_few_days() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 3 * DAY);
    let old = id_of(&*store);
    let reports = [report_json("r1", now - 3 * DAY, 3, 50, &[])];
    let s = summary(&*store, &reports, now);
    let w = world(good_zones(&old), false).await;
    let o = promote::promote(&store, D, Some(&s), &w.options, now)
        .await
        .unwrap();
    assert!(!o.promoted);
    let c = condition(&o, "days-in-testing");
    assert!(!c.ok);
    assert!(
        c.detail.starts_with("3 of 7 days in mode testing"),
        "{}",
        c.detail
    );
    assert!(c.fix.contains("4 more days"), "{}", c.fix);
    // The others hold.
    assert_eq!(
        o.conditions.iter().filter(|c| !c.ok).count(),
        1,
        "{:#?}",
        o.conditions
    );
    assert_eq!(o.mode, Mode::Testing);
    assert_eq!(id_of(&*store), old);
    assert!(!o.bimi_ready);
    assert!(o.bimi.contains("mode testing"), "{}", o.bimi);

    // --days 3 is enough.
    let mut opts = w.options.clone();
    opts.days = 3;
    let o = promote::promote(&store, D, Some(&s), &opts, now)
        .await
        .unwrap();
    assert!(o.promoted, "{:#?}", o.conditions);
}

#[tokio::test]
async fn promote_without_reports() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 8 * DAY);
    let old = id_of(&*store);
    let w = world(good_zones(&old), false).await;
    let o = promote::promote(&store, D, None, &w.options, now)
        .await
        .unwrap();
    assert!(!o.promoted);
    let c = condition(&o, "tlsrpt-reports");
    assert!(!c.ok);
    assert!(c.fix.contains("rua=mailto:tlsrpt@example.com"), "{}", c.fix);
    assert!(c.fix.contains("or pass --reports"), "{}", c.fix);

    // Reports from before the domain entered testing do not count.
    let old_report = [report_json("r0", now - 20 * DAY, 5, 50, &[])];
    let s = summary(&*store, &old_report, now);
    let o = promote::promote(&store, D, Some(&s), &w.options, now)
        .await
        .unwrap();
    let c = condition(&o, "tlsrpt-reports");
    assert!(!c.ok);
    assert!(
        c.detail.starts_with("no TLS-RPT report for example.com"),
        "{}",
        c.detail
    );
    assert_eq!(id_of(&*store), old);
}

#[tokio::test]
async fn promote_refused_on_failures_against_policy_mx() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 8 * DAY);
    let old = id_of(&*store);
    let reports = [
        report_json("r1", now - 7 * DAY, 3, 80, &[]),
        report_json(
            "r2",
            now - 4 * DAY,
            4,
            70,
            &[
                ("certificate-expired", "mx2.example.com", 5),
                ("starttls-not-supported", "old-mx.example.org", 2),
            ],
        ),
    ];
    let s = summary(&*store, &reports, now);
    let w = world(good_zones(&old), false).await;
    let o = promote::promote(&store, D, Some(&s), &w.options, now)
        .await
        .unwrap();
    assert!(!o.promoted);
    let c = condition(&o, "tlsrpt-reports");
    assert!(!c.ok);
    assert!(
        c.detail.contains("mx2.example.com: 5 certificate-expired"),
        "{}",
        c.detail
    );
    assert!(
        c.detail
            .contains("old-mx.example.org: 2 starttls-not-supported"),
        "{}",
        c.detail
    );
    assert!(c.detail.contains("2 report(s)"), "{}", c.detail);
    assert_eq!(id_of(&*store), old);

    // Failures only against a host the policy does not cover do not block
    // this condition.
    let reports = [report_json(
        "r3",
        now - 7 * DAY,
        7,
        70,
        &[("starttls-not-supported", "old-mx.example.org", 2)],
    )];
    let s = summary(&*store, &reports, now);
    let o = promote::promote(&store, D, Some(&s), &w.options, now)
        .await
        .unwrap();
    assert!(condition(&o, "tlsrpt-reports").ok, "{:#?}", o.conditions);
    assert!(o.promoted);
}

#[tokio::test]
async fn promote_refused_on_uncovered_or_invalid_mx() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 8 * DAY);
    let old = id_of(&*store);
    let reports = [report_json("r1", now - 7 * DAY, 7, 120, &[])];
    let s = summary(&*store, &reports, now);
    // mx3 is not in the policy, and the server has no certificate for it
    // (it presents mx1's).
    let zones = good_zones(&old)
        .mx(D, 30, "mx3.example.com")
        .a("mx3.example.com", LOCAL);
    let w = world(zones, false).await;
    let o = promote::promote(&store, D, Some(&s), &w.options, now)
        .await
        .unwrap();
    assert!(!o.promoted);
    let c = condition(&o, "mx-certificates");
    assert!(!c.ok);
    assert!(c.detail.contains("not covered by the policy's mx patterns (mx1.example.com, mx2.example.com): mx3.example.com"), "{}", c.detail);
    assert!(
        c.detail
            .contains("mx3.example.com: certificate-host-mismatch"),
        "{}",
        c.detail
    );
    assert!(
        c.fix.contains("`mtasts domain set example.com --mx mx1.example.com --mx mx2.example.com --mx mx3.example.com`"),
        "{}",
        c.fix
    );
    assert_eq!(id_of(&*store), old);
}

#[tokio::test]
async fn promote_forced() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - DAY);
    let old = id_of(&*store);
    let w = world(good_zones(&old), true).await;
    let o = promote::promote(&store, D, None, &w.options, now)
        .await
        .unwrap();
    assert!(o.promoted && o.forced);
    let failed: Vec<&str> = o
        .conditions
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name)
        .collect();
    assert_eq!(failed, ["days-in-testing", "tlsrpt-reports"]);
    assert_eq!(
        store.domain(D).unwrap().unwrap().settings.mode,
        Mode::Enforce
    );
    assert_ne!(id_of(&*store), old);
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["promoted"], true);
    assert_eq!(json["forced"], true);
    assert_eq!(json["conditions"][1]["name"], "days-in-testing");
    assert_eq!(json["conditions"][1]["ok"], false);
    assert_eq!(json["bimi_ready"], true);
}

#[tokio::test]
async fn promote_being_removed_is_refused_even_forced() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = site(&dir, now - 10 * DAY);
    domains::remove(&*store, D, now - DAY, 5).unwrap();
    let w = world(good_zones("1"), true).await;
    let e = promote::promote(&store, D, None, &w.options, now)
        .await
        .unwrap_err();
    assert!(matches!(e, promote::PromoteError::Removing { .. }), "{e}");
    assert_eq!(store.domain(D).unwrap().unwrap().settings.mode, Mode::None);
}

#[test]
fn evaluate_mode_none_and_enforce() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = mtasts_site::store::open(&StoreLocation::State(dir.0.clone())).unwrap();
    let opts = AddOptions {
        mx: vec!["mx1.example.com".into()],
        mode: Some(Mode::None),
        ..AddOptions::default()
    };
    let d = domains::add(&*store, D, &opts, now - 30 * DAY)
        .unwrap()
        .domain;
    let v = promote::evaluate(&d, now, 7, None, None);
    assert!(!v.ready);
    assert_eq!(v.conditions[0].name, "mode");
    assert!(!v.conditions[0].ok);
    assert_eq!(
        v.conditions[0].fix,
        "`mtasts domain set example.com --mode testing`, then wait 7 days with TLS-RPT reports"
    );
    assert!(!v.conditions[1].ok);
    assert_eq!(v.conditions[3].detail, "the MX hosts could not be checked");
}

#[tokio::test]
async fn verify_removing_and_unset_target() {
    let dir = TempDir::new("mtasts-site-verify");
    let now = real_now();
    let store = mtasts_site::store::open(&StoreLocation::State(dir.0.clone())).unwrap();
    let opts = AddOptions {
        mx: vec!["mx1.example.com".into(), "mx2.example.com".into()],
        ..AddOptions::default()
    };
    domains::add(&*store, D, &opts, now - 100).unwrap();
    let id = id_of(&*store);
    // No target nor addresses configured: a warning, the rest is checked.
    let r = run_verify(&store, good_zones(&id), now).await;
    assert!(r.passed, "{:#?}", r.findings);
    let f = finding(&r, VerifyCode::SiteTargetUnset);
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.remediation
            .contains("`mtasts domain configure --target HOST`")
    );
    assert_eq!(
        r.records.len(),
        2,
        "no CNAME without a target: {:?}",
        r.records
    );
    // --target given.
    let dns_server = DnsServer::start(good_zones(&id)).await.unwrap();
    let dns = Dns::with_server(dns_server.addr()).unwrap();
    let r = verify::verify(&store, D, &dns, Some("MTA-STS.Host.Example.NET."), now)
        .await
        .unwrap();
    assert_eq!(
        codes(&r),
        ["sts-record-ok", "policy-host-ok", "tlsrpt-ok", "mx-ok"]
    );

    // Being removed: a warning with the deadline; the id to publish is
    // the `mode: none` one.
    let removal = domains::remove(&*store, D, now - 50, 5).unwrap();
    let none_id = id_of(&*store);
    let r = verify::verify(&store, D, &dns, Some(TARGET), now)
        .await
        .unwrap();
    let f = finding(&r, VerifyCode::DomainRemoving);
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message
            .contains(&Timestamp::from_unix(removal.until).to_string()),
        "{}",
        f.message
    );
    assert_eq!(r.mode, Mode::None);
    assert_eq!(r.policy_id, none_id);
    let f = finding(&r, VerifyCode::StsIdStale);
    assert!(f.remediation.contains(&none_id));
    assert!(!codes(&r).contains(&"mx-ok"), "no MX coverage in mode none");
}
