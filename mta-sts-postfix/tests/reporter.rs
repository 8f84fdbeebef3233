//! The TLS-RPT reporter end to end on loopback: partials of two nodes in
//! a state directory, `_smtp._tls` and DKIM key records from a hickory DNS
//! server, an HTTPS report receiver (rustls, test CA) and an SMTP relay
//! (STARTTLS, test CA) that record what they get. The reports received
//! are read back by this project's strict reader and the mail's DKIM
//! signature is verified by dkimpy (`test-support/scripts/dkim_verify.py`).
//!
//! dkimpy needs `python3 -m pip install dkimpy dnspython pynacl`. Without
//! it the dkimpy checks print why and are left out, unless
//! `MTASTS_REQUIRE_DKIMPY=1` (CI sets it), which makes them fail.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use mta_sts_postfix::reporter::{
    DELIVERY_FILE, DayOutcome, DaySummary, Progress, Reporter, ReporterConfig, ReporterError,
    SendOptions,
};
use mta_sts_postfix::tlsrpt_state::StateDir;
use test_support::{
    CertSet, DnsServer, HttpsServer, Response, Routes, SmtpOptions, SmtpServer, TestCa, Zones,
};
use tlsrpt_core::dkim::{KeyService, SigningKey};
use tlsrpt_core::input::{ReadOptions, read_report};
use tlsrpt_core::report::Report;
use tlsrpt_core::session::{DayAggregate, Failure, Outcome, PolicyKey, UtcDay};
use tlsrpt_core::time::Timestamp;
use tlsrpt_core::{ResultType, Strictness};

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;
const RECEIVER: &str = "reports.example.test";
/// 2024-05-02T00:30:00Z: the day 2024-05-01 and its grace period are over.
const NOW: i64 = 1_714_609_800;

fn at(offset_secs: i64) -> Timestamp {
    Timestamp::from_unix(NOW + offset_secs)
}

fn day() -> UtcDay {
    UtcDay::parse("2024-05-01").unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "tlsrpt-reporter-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn dkim_key_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tlsrpt-core/tests/data/dkim/ed25519.pkcs8v1.pem")
}

fn sts_key(domain: &str) -> PolicyKey {
    PolicyKey::sts(
        domain,
        [
            "version: STSv1",
            "mode: enforce",
            &format!("mx: mx.{domain}"),
            "max_age: 86400",
        ],
        [format!("mx.{domain}")],
    )
    .unwrap()
}

fn expired(domain: &str) -> Outcome {
    Outcome::Failure(
        Failure::new(ResultType::CertificateExpired)
            .receiving_mx_hostname(format!("mx.{domain}"))
            .receiving_ip("192.0.2.25".parse().unwrap())
            .sending_mta_ip("198.51.100.1".parse().unwrap()),
    )
}

/// Record `n` times `outcome` under `key`.
fn record(agg: &mut DayAggregate, key: &PolicyKey, outcome: &Outcome, n: usize) {
    for _ in 0..n {
        agg.record(key, outcome).unwrap();
    }
}

/// The two nodes' partials of the day, marked final: example.org (both
/// nodes: 3 + 4 successful, 1 + 1 failed with the same details),
/// example.net (mx1: 2 successful), example.com (mx2: 1 successful; it
/// has no TLS-RPT record).
fn write_partials(state_dir: &Path) {
    let mut mx1 = DayAggregate::new(day());
    record(&mut mx1, &sts_key("example.org"), &Outcome::Success, 3);
    record(
        &mut mx1,
        &sts_key("example.org"),
        &expired("example.org"),
        1,
    );
    record(
        &mut mx1,
        &PolicyKey::no_policy_found("example.net").unwrap(),
        &Outcome::Success,
        2,
    );
    let mut mx2 = DayAggregate::new(day());
    record(&mut mx2, &sts_key("example.org"), &Outcome::Success, 4);
    record(
        &mut mx2,
        &sts_key("example.org"),
        &expired("example.org"),
        1,
    );
    record(
        &mut mx2,
        &PolicyKey::no_policy_found("example.com").unwrap(),
        &Outcome::Success,
        1,
    );
    for (node, agg) in [("mx2", &mx2), ("mx1", &mx1)] {
        let s = StateDir::open_as(state_dir, node).unwrap();
        s.write_partial(day(), agg).unwrap();
        s.mark_final(day()).unwrap();
    }
}

/// DNS, an HTTPS receiver, an SMTP relay, a state directory and the
/// reporter's configuration file.
struct World {
    ca: TestCa,
    dns: DnsServer,
    https: HttpsServer,
    relay: SmtpServer,
    dir: PathBuf,
    state: StateDir,
}

impl World {
    /// `https_route`: how the receiver answers `/v1`; `extra`: more zone
    /// data.
    async fn new(tag: &str, https_route: Response, extra: impl FnOnce(Zones) -> Zones) -> Self {
        let ca = TestCa::new();
        let https = HttpsServer::start(
            &ca.issue(&[RECEIVER]),
            Routes::new().route(RECEIVER, "/v1", https_route),
        )
        .await
        .unwrap();
        let relay = SmtpServer::start(SmtpOptions::starttls(
            "relay.example.test",
            CertSet::from(ca.issue(&["127.0.0.1"])),
        ))
        .await
        .unwrap();
        let key = SigningKey::from_pem(&std::fs::read_to_string(dkim_key_file()).unwrap()).unwrap();
        let port = https.addr().port();
        let zones = Zones::new()
            .a(RECEIVER, LOCAL)
            .txt(
                "_smtp._tls.example.org",
                &[format!(
                    "v=TLSRPTv1; rua=https://{RECEIVER}:{port}/v1,mailto:tlsrpt@example.org,ftp://unusable.example/"
                )],
            )
            .txt(
                "_smtp._tls.example.net",
                &["v=TLSRPTv1; rua=mailto:reports@example.net"],
            )
            .txt(
                "tlsrpt._domainkey.mail.example.com",
                &key.txt_record_strings(KeyService::Tlsrpt),
            );
        let dns = DnsServer::start(extra(zones)).await.unwrap();
        let dir = temp_dir(tag);
        let state_dir = dir.join("state");
        write_partials(&state_dir);
        let state = StateDir::open_as(&state_dir, "mx1").unwrap();
        Self {
            ca,
            dns,
            https,
            relay,
            dir,
            state,
        }
    }

    fn config_text(&self) -> String {
        let ca = self.dir.join("ca.pem");
        std::fs::write(&ca, self.ca.ca_pem()).unwrap();
        format!(
            r#"resolver = "{dns}"

[report]
organization_name = "Example Mail"
contact_info = "tlsrpt@mail.example.com"
submitter = "mail.example.com"
from = "TLS reports <tlsrpt-noreply@mail.example.com>"

[dkim]
key_file = "{key}"
selector = "tlsrpt"
domain = "mail.example.com"

[smtp]
relay = "127.0.0.1:{smtp}"
starttls = "required"
ca_file = "{ca}"
timeout_secs = 5

[https]
ca_file = "{ca}"
timeout_secs = 5
"#,
            dns = self.dns.addr(),
            key = dkim_key_file().display(),
            smtp = self.relay.addr().port(),
            ca = ca.display(),
        )
    }

    fn reporter(&self) -> Reporter {
        let config = ReporterConfig::from_toml(&self.config_text()).unwrap();
        Reporter::new(config, false).unwrap()
    }

    async fn send(&self, now: Timestamp) -> DaySummary {
        self.reporter()
            .send_day(&self.state, day(), &SendOptions::at(now))
            .await
            .unwrap()
    }

    fn reports_dir(&self) -> PathBuf {
        self.state.reports_dir(day())
    }

    fn delivery_json(&self) -> serde_json::Value {
        let text = std::fs::read(self.reports_dir().join(DELIVERY_FILE)).unwrap();
        serde_json::from_slice(&text).unwrap()
    }
}

fn strict() -> ReadOptions {
    ReadOptions::new(Strictness::Strict)
}

/// The report of the gzip `bytes`, by the strict reader.
fn read_gzip(bytes: &[u8]) -> Report<'static> {
    read_report(bytes, &strict()).unwrap().value.report
}

fn dkimpy_available() -> bool {
    test_support::dkimpy::available()
}

/// dkimpy's verdict (report mode `strict`: the key record must say
/// `s=tlsrpt`): `Ok(())` or its log.
async fn dkimpy(dns: SocketAddr, message: &[u8]) -> Result<(), String> {
    test_support::dkimpy::verify(dns, "strict", message).await
}

fn progress(summary: &DaySummary, domain: &str) -> Vec<(String, Progress)> {
    summary
        .reports
        .iter()
        .find(|r| r.policy_domain == domain)
        .unwrap_or_else(|| panic!("no report for {domain}: {summary:#?}"))
        .destinations
        .iter()
        .map(|d| (d.uri.clone(), d.progress))
        .collect()
}

#[tokio::test]
async fn two_nodes_one_report_per_domain_every_destination_and_retries() {
    let w = World::new(
        "main",
        Response::Sequence(vec![
            Response::with_status(500, Some("text/plain"), "busy"),
            Response::with_status(201, None, ""),
        ]),
        |z| z,
    )
    .await;
    let https_uri = format!("https://{RECEIVER}:{}/v1", w.https.addr().port());

    // First run: rendered, looked up, delivered where possible.
    let s = w.send(at(0)).await;
    assert_eq!(s.errors, Vec::<String>::new());
    assert_eq!(s.warnings, Vec::<String>::new());
    let domains: Vec<&str> = s.reports.iter().map(|r| r.policy_domain.as_str()).collect();
    assert_eq!(domains, ["example.com", "example.net", "example.org"]);
    let org = &s.reports[2];
    assert_eq!((org.successful_sessions, org.failed_sessions), (7, 2));
    assert_eq!(
        org.report_id,
        "2024-05-01.example.org.20240501@mail.example.com"
    );
    assert_eq!(
        org.file,
        w.reports_dir()
            .join("mail.example.com!example.org!1714521600!1714607999!20240501.json.gz")
    );
    assert_eq!(
        org.unusable,
        ["ftp://unusable.example/: only `mailto:` and `https:` are defined for TLS-RPT"]
    );
    assert_eq!(
        progress(&s, "example.org"),
        [
            (https_uri.clone(), Progress::Pending),
            ("mailto:tlsrpt@example.org".into(), Progress::Delivered),
        ]
    );
    assert_eq!(
        progress(&s, "example.net"),
        [("mailto:reports@example.net".into(), Progress::Delivered)]
    );
    let com = &s.reports[0];
    assert_eq!(com.lookup, Progress::Failed);
    assert_eq!(com.lookup_detail.as_deref(), Some("no TLS-RPT record"));
    assert!(com.destinations.is_empty() && com.eml.is_none());
    assert_eq!(s.outcome(), DayOutcome::Pending);
    let pending = &org.destinations[0];
    let this_run = pending.this_run.as_ref().unwrap();
    assert_eq!(this_run.result, "temporary");
    assert_eq!(this_run.detail, format!("{https_uri}: HTTP 500: busy"));
    let next = Timestamp::parse_rfc3339(pending.next_attempt.as_deref().unwrap(), false)
        .unwrap()
        .0;
    assert!((300..=360).contains(&(next.secs - NOW)), "{next}");

    // The receiver got the merged report of both nodes.
    let posts = w.https.requests();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].header("content-type"),
        Some("application/tlsrpt+gzip")
    );
    let report = read_gzip(&posts[0].body);
    assert_eq!(
        (report.successful_sessions(), report.failed_sessions()),
        (7, 2)
    );
    assert_eq!(report.policies.len(), 1);
    assert_eq!(
        report.policies[0].failure_details[0].failed_session_count,
        2
    );
    assert_eq!(
        report.policies[0].policy.policy_domain.as_deref(),
        Some("example.org")
    );
    assert_eq!(posts[0].body, std::fs::read(&org.file).unwrap());

    // The relay got one message per mailto: destination, signed.
    let mails = w.relay.messages();
    assert_eq!(mails.len(), 2);
    let by_rcpt = |rcpt: &str| {
        mails
            .iter()
            .find(|m| m.rcpt_to == [rcpt])
            .unwrap_or_else(|| panic!("no mail to {rcpt}"))
    };
    let org_mail = by_rcpt("tlsrpt@example.org");
    assert!(org_mail.tls);
    assert_eq!(org_mail.mail_from, "tlsrpt-noreply@mail.example.com");
    assert_eq!(
        org_mail.data,
        std::fs::read(org.eml.as_ref().unwrap()).unwrap()
    );
    let read = read_report(&org_mail.data, &strict()).unwrap();
    assert_eq!(read.value.report, report);
    let mail = read.value.extracted.mail.as_ref().unwrap();
    assert!(
        read.value.extracted.warnings.is_empty(),
        "{:?}",
        read.value.extracted.warnings
    );
    assert_eq!(mail.tls_report_domain.as_deref(), Some("example.org"));
    assert_eq!(
        mail.tls_report_submitter.as_deref(),
        Some("mail.example.com")
    );
    let net = read_report(&by_rcpt("reports@example.net").data, &strict()).unwrap();
    assert_eq!(net.value.report.successful_sessions(), 2);
    assert!(
        String::from_utf8_lossy(&org_mail.data)
            .starts_with("DKIM-Signature: v=1; a=ed25519-sha256;")
    );
    if dkimpy_available() {
        for m in &mails {
            assert_eq!(
                dkimpy(w.dns.addr(), &m.data).await,
                Ok(()),
                "{:?}",
                m.rcpt_to
            );
        }
    }

    // The state file holds every attempt.
    let state = w.delivery_json();
    assert_eq!(state["format"], "mtasts-tlsrpt-delivery");
    assert_eq!(state["day"], "2024-05-01");
    let org_state = &state["reports"][2];
    assert_eq!(org_state["lookup"]["status"], "found");
    assert_eq!(
        org_state["destinations"][0]["attempts"][0]["result"],
        "temporary"
    );
    assert_eq!(
        org_state["destinations"][0]["attempts"][0]["at"],
        "2024-05-02T00:30:00Z"
    );
    assert_eq!(
        org_state["destinations"][1]["attempts"][0]["result"],
        "delivered"
    );

    // The day waits for a retry.
    assert_eq!(w.reporter().pending_days(&w.state).unwrap(), [day()]);

    // A re-run before the retry is due: nothing is sent.
    let s = w.send(at(60)).await;
    assert_eq!(s.outcome(), DayOutcome::Pending);
    assert_eq!(w.https.requests().len(), 1);
    assert_eq!(w.relay.messages().len(), 2);
    assert!(
        s.reports
            .iter()
            .flat_map(|r| &r.destinations)
            .all(|d| d.this_run.is_none())
    );

    // Another node's late partial changes the day: not rendered again, said so.
    let late = StateDir::open_as(w.state.path(), "mx3").unwrap();
    let mut mx3 = DayAggregate::new(day());
    record(&mut mx3, &sts_key("example.org"), &Outcome::Success, 1);
    late.write_partial(day(), &mx3).unwrap();
    late.mark_final(day()).unwrap();

    // Once due, only the failed destination is tried again; it accepts.
    let s = w.send(at(7 * 60)).await;
    assert_eq!(s.outcome(), DayOutcome::Complete);
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].starts_with("the partials of 2024-05-01 changed since its reports were rendered at 2024-05-02T00:30:00Z"), "{:?}", s.warnings);
    assert_eq!(
        progress(&s, "example.org"),
        [
            (https_uri.clone(), Progress::Delivered),
            ("mailto:tlsrpt@example.org".into(), Progress::Delivered),
        ]
    );
    let posts = w.https.requests();
    assert_eq!(posts.len(), 2);
    assert_eq!(
        posts[1].body, posts[0].body,
        "the same report, not re-rendered"
    );
    assert_eq!(w.relay.messages().len(), 2, "mail is not sent twice");
    let state = w.delivery_json();
    let attempts = state["reports"][2]["destinations"][0]["attempts"]
        .as_array()
        .unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1]["result"], "delivered");
    assert_eq!(state["reports"][2]["destinations"][0]["next"], "delivered");

    // Nothing left to do.
    assert!(w.reporter().pending_days(&w.state).unwrap().is_empty());
    let s = w.send(at(3600)).await;
    assert_eq!(s.outcome(), DayOutcome::Complete);
    assert_eq!(w.https.requests().len(), 2);
    assert_eq!(w.relay.messages().len(), 2);
}

#[tokio::test]
async fn dry_run_writes_the_files_and_delivers_nothing() {
    let w = World::new("dry", Response::with_status(200, None, ""), |z| z).await;
    let out = w.dir.join("out");
    let options = SendOptions {
        dry_run: Some(out.clone()),
        ..SendOptions::at(at(0))
    };
    let s = w
        .reporter()
        .send_day(&w.state, day(), &options)
        .await
        .unwrap();
    assert!(s.dry_run);
    assert_eq!(s.dir, out);
    assert_eq!(s.outcome(), DayOutcome::Complete);
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "mail.example.com!example.com!1714521600!1714607999!20240501.json.gz",
            "mail.example.com!example.net!1714521600!1714607999!20240501.eml",
            "mail.example.com!example.net!1714521600!1714607999!20240501.json.gz",
            "mail.example.com!example.org!1714521600!1714607999!20240501.eml",
            "mail.example.com!example.org!1714521600!1714607999!20240501.json.gz",
        ]
    );
    assert!(
        s.reports
            .iter()
            .flat_map(|r| &r.destinations)
            .all(|d| d.progress == Progress::NotAttempted)
    );
    assert_eq!(s.reports[2].destinations.len(), 2);
    let eml = std::fs::read(out.join(&files[3])).unwrap();
    let read = read_report(&eml, &strict()).unwrap();
    assert_eq!(read.value.report.successful_sessions(), 7);
    let gz = std::fs::read(out.join(&files[4])).unwrap();
    assert_eq!(read_gzip(&gz), read.value.report);
    if dkimpy_available() {
        assert_eq!(dkimpy(w.dns.addr(), &eml).await, Ok(()));
    }
    // Nothing delivered, no delivery state.
    assert!(w.https.requests().is_empty());
    assert!(w.relay.messages().is_empty());
    assert!(!w.reports_dir().join(DELIVERY_FILE).exists());
}

#[tokio::test]
async fn a_permanent_failure_fails_the_day_and_is_not_retried() {
    let w = World::new(
        "gone",
        Response::with_status(404, None, "no such endpoint"),
        |z| z,
    )
    .await;
    let s = w.send(at(0)).await;
    assert_eq!(s.outcome(), DayOutcome::Failed);
    let org = progress(&s, "example.org");
    assert_eq!(org[0].1, Progress::Failed);
    assert_eq!(org[1].1, Progress::Delivered);
    let s = w.send(at(86_400)).await;
    assert_eq!(s.outcome(), DayOutcome::Failed);
    assert_eq!(w.https.requests().len(), 1);
}

#[tokio::test]
async fn retries_end_a_day_after_the_first_attempt() {
    let w = World::new("giveup", Response::with_status(503, None, ""), |z| {
        z.servfail("_smtp._tls.example.com")
    })
    .await;
    let s = w.send(at(0)).await;
    assert_eq!(s.outcome(), DayOutcome::Pending);
    // The lookup of example.com failed temporarily: pending too.
    assert_eq!(s.reports[0].lookup, Progress::Pending);
    assert!(
        s.reports[0]
            .lookup_detail
            .as_deref()
            .unwrap()
            .starts_with("_smtp._tls.example.com: "),
        "{:?}",
        s.reports[0].lookup_detail
    );
    // Every due retry, hour by hour, until the window is over.
    let mut posts = 1;
    for hour in 1..=25 {
        let s = w.send(at(hour * 3600)).await;
        posts = w.https.requests().len();
        if s.outcome() == DayOutcome::Failed {
            assert_eq!(progress(&s, "example.org")[0].1, Progress::GaveUp);
            assert_eq!(s.reports[0].lookup, Progress::GaveUp);
            assert!(hour >= 24, "gave up after {hour} h");
            break;
        }
        assert_eq!(s.outcome(), DayOutcome::Pending, "hour {hour}");
    }
    // 5 min, 15 min, 45 min, 2 h 15 and then 6-hourly retries, each run
    // hourly: no more than one attempt per run, at most a dozen in all.
    assert!((6..=12).contains(&posts), "{posts} attempts");
    let state = w.delivery_json();
    assert_eq!(state["reports"][2]["destinations"][0]["next"], "gave-up");
    assert!(w.reporter().pending_days(&w.state).unwrap().is_empty());
    // A damaged delivery state is refused, not overwritten, and the day
    // is listed so that a run reports it.
    let path = w.reports_dir().join(DELIVERY_FILE);
    std::fs::write(&path, "{\"format\": 1").unwrap();
    assert_eq!(w.reporter().pending_days(&w.state).unwrap(), [day()]);
    let e = w
        .reporter()
        .send_day(&w.state, day(), &SendOptions::at(at(0)))
        .await
        .unwrap_err();
    assert!(matches!(e, ReporterError::DeliveryState { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!("{}: ", path.display())),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"format\": 1");
}

#[tokio::test]
async fn refusals_unfinished_day_unreadable_partials_missing_dkim() {
    let w = World::new("refuse", Response::with_status(200, None, ""), |z| z).await;
    // Before the end of the day plus the grace period.
    let early = Timestamp::from_unix(day().end().secs + 60);
    let e = w
        .reporter()
        .send_day(&w.state, day(), &SendOptions::at(early))
        .await
        .unwrap_err();
    assert!(matches!(e, ReporterError::DayNotOver { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "the reports of 2024-05-01 can be made from 2024-05-02T00:10:00Z on (the end of the UTC day plus 600 s of grace)"
    );

    // A broken partial: refused, nothing written.
    let broken = w.state.path().join("partials/mx9");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("2024-05-01.json"), "{\"format\":").unwrap();
    let e = w
        .reporter()
        .send_day(&w.state, day(), &SendOptions::at(at(0)))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ReporterError::UnreadablePartials { .. }),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("1 unreadable partial(s) of 2024-05-01; "),
        "{e}"
    );
    assert!(e.to_string().contains("mx9: "), "{e}");
    assert!(!w.reports_dir().join(DELIVERY_FILE).exists());
    assert!(w.https.requests().is_empty());

    // Skipped on request: sent without it, and the day counts as failed.
    let options = SendOptions {
        skip_unreadable: true,
        ..SendOptions::at(at(0))
    };
    let s = w
        .reporter()
        .send_day(&w.state, day(), &options)
        .await
        .unwrap();
    assert_eq!(s.errors.len(), 1);
    assert!(
        s.errors[0].starts_with("partial left out: mx9: "),
        "{:?}",
        s.errors
    );
    assert_eq!(s.outcome(), DayOutcome::Failed);
    assert_eq!(w.https.requests().len(), 1);
    // A partial without its .final marker draws a warning.
    std::fs::remove_file(w.state.final_marker_path("mx2", day())).unwrap();
    let s = w.send(at(60)).await;
    assert!(
        s.warnings
            .iter()
            .any(|x| x.ends_with("is not marked final: node mx2 may still be writing it")),
        "{:?}",
        s.warnings
    );

    // No [dkim]: refused unless signing is turned off.
    let text = w.config_text();
    let start = text.find("[dkim]").unwrap();
    let end = text.find("[smtp]").unwrap();
    let without = format!("{}{}", &text[..start], &text[end..]);
    let config = ReporterConfig::from_toml(&without).unwrap();
    assert!(matches!(
        Reporter::new(config.clone(), false),
        Err(ReporterError::NoDkim)
    ));
    assert!(Reporter::new(config, true).is_ok());
}

#[tokio::test]
async fn unsigned_mail_with_signing_off_and_an_empty_day() {
    let w = World::new("nodkim", Response::with_status(200, None, ""), |z| z).await;
    let config = ReporterConfig::from_toml(&w.config_text()).unwrap();
    let reporter = Reporter::new(config, true).unwrap();
    let s = reporter
        .send_day(&w.state, day(), &SendOptions::at(at(0)))
        .await
        .unwrap();
    assert_eq!(s.outcome(), DayOutcome::Complete);
    assert_eq!(
        s.warnings,
        [
            "report mail is not DKIM-signed (signing turned off): receivers must ignore it (RFC 8460 3)"
        ]
    );
    let mails = w.relay.messages();
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().all(|m| !m.data.starts_with(b"DKIM-Signature")));

    // A day without partials: nothing to report, nothing written.
    let other = UtcDay::parse("2024-04-30").unwrap();
    let s = reporter
        .send_day(&w.state, other, &SendOptions::at(at(0)))
        .await
        .unwrap();
    assert_eq!(s.outcome(), DayOutcome::Complete);
    assert!(s.reports.is_empty());
    assert!(
        s.warnings
            .iter()
            .any(|x| x == "no sessions were recorded for 2024-04-30: nothing to report")
    );
    assert!(!w.state.reports_dir(other).exists());
}
