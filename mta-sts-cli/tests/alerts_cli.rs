//! `mtasts alerts`, `mtasts alerts deliver` and `mtasts alerts probe`,
//! run as the real binary against a site store in a temporary directory
//! (alerts raised through the library from a report, as the inbox does).

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;

use common::{TempDir, run};
use mtasts_site::alerts::Alerter;
use mtasts_site::domains::{self, AddOptions};
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::SiteStore;
use serde_json::json;
use test_support::{DnsServer, SmtpOptions, SmtpServer, TestCa, Zones};

const REPORT: &str = r#"{"organization-name":"Mail Co","date-range":{"start-datetime":"2026-12-04T00:00:00Z","end-datetime":"2026-12-04T23:59:59Z"},"contact-info":"tlsrpt@mail.example","report-id":"r-1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.example.com","mx: mx2.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["mx1.example.com","mx2.example.com"]},"summary":{"total-successful-session-count":10,"total-failure-session-count":7},"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx2.example.com","failed-session-count":4},{"result-type":"starttls-not-supported","sending-mta-ip":"198.51.100.7","receiving-mx-hostname":"mx1.example.com","failed-session-count":3}]}]}"#;

/// Raise the alerts of [`REPORT`] at `at` in the store under `state`.
fn raise(state: &str, at: i64) {
    let store: Arc<dyn SiteStore> =
        Arc::new(SqliteStore::open(std::path::Path::new(state)).unwrap());
    let report = tlsrpt_core::Report::parse_lenient(REPORT.as_bytes())
        .unwrap()
        .value;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let raised = Alerter::store_only(store.clone())
            .raise_report(&report, at)
            .await
            .unwrap();
        assert_eq!(raised.len(), 2);
    });
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap().port()
}

fn now() -> i64 {
    mta_sts_core::time::Timestamp::from_system_time(std::time::SystemTime::now()).secs
}

#[test]
fn alerts_are_listed_as_json_with_their_delivery_state() {
    let dir = TempDir::new();
    let state = dir.path("state");
    // Raised now, so that `deliver` (which uses the clock) finds them due.
    let at = now();
    raise(&state, at);

    let empty = run(&[
        "--json",
        "alerts",
        "--state",
        &state,
        "--domain",
        "example.net",
    ])
    .ok();
    assert_eq!(empty.json(), json!([]));

    let hook = format!("https://127.0.0.1:{}/hook", closed_port());
    let delivered = run(&[
        "--json",
        "alerts",
        "deliver",
        "--state",
        &state,
        "--alert-webhook",
        &hook,
    ])
    .ok();
    assert_eq!(
        delivered.json(),
        json!({"delivered": 0, "temporary": 2, "permanent": 0})
    );

    let listed = run(&["--json", "alerts", "--state", &state]).ok();
    let v = listed.json();
    let alerts = v.as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    let cert = alerts
        .iter()
        .find(|a| a["result_type"] == "certificate-expired")
        .unwrap();
    assert_eq!(cert["domain"], "example.com");
    assert_eq!(cert["mx_host"], "mx2.example.com");
    assert_eq!(cert["severity"], "error");
    assert_eq!(cert["source"], "report");
    assert_eq!(cert["failed_sessions"], 4);
    assert_eq!(cert["first_seen"], "2026-12-04T00:00:00Z");
    assert_eq!(cert["reporting_organizations"], json!(["Mail Co"]));
    assert_eq!(cert["sending_mta_ips"], json!(["192.0.2.1"]));
    assert_eq!(cert["report_ids"], json!(["r-1"]));
    assert_eq!(cert["repeats"], 0);
    assert_eq!(cert["title"], "Expired TLS certificate on mx2.example.com");
    assert!(
        cert["remediation"]
            .as_str()
            .unwrap()
            .starts_with("Renew the certificate served by mx2.example.com")
    );
    assert!(
        cert["text"]
            .as_str()
            .unwrap()
            .starts_with("ERROR: Expired TLS certificate on mx2.example.com. 4 failed sessions")
    );
    let d = &cert["deliveries"];
    assert_eq!(d.as_array().unwrap().len(), 1);
    assert_eq!(d[0]["destination"], hook.as_str());
    assert_eq!(d[0]["state"], "retrying");
    assert_eq!(d[0]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(d[0]["attempts"][0]["result"], "temporary");

    // Text output.
    let text = run(&["alerts", "--state", &state]).ok();
    assert!(
        text.stdout
            .contains("error example.com certificate-expired mx2.example.com: 4 failed sessions\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("    fix: Renew the certificate served by mx2.example.com")
    );
    assert!(
        text.stdout
            .contains(&format!("    delivery: {hook} retrying (1 attempt, last: "))
    );

    // A second `deliver` at once: nothing is due yet (back-off).
    let again = run(&[
        "--json",
        "alerts",
        "deliver",
        "--state",
        &state,
        "--alert-webhook",
        &hook,
    ])
    .ok();
    assert_eq!(
        again.json(),
        json!({"delivered": 0, "temporary": 0, "permanent": 0})
    );
}

#[test]
fn alerts_without_a_store_is_a_usage_error() {
    run(&["alerts"]).usage_error();
    run(&["alerts", "deliver"]).usage_error();
    let dir = TempDir::new();
    let state = dir.path("state");
    run(&[
        "alerts",
        "--state",
        &state,
        "--alert-smtp",
        "smtp://127.0.0.1",
    ])
    .usage_error();
}

#[test]
fn alerts_probe_raises_an_expiring_certificate_alert() {
    let dir = TempDir::new();
    let state = dir.path("state");
    {
        let store = SqliteStore::open(std::path::Path::new(&state)).unwrap();
        let opts = AddOptions {
            mx: vec!["mx1.example.com".into()],
            ..AddOptions::default()
        };
        domains::add(&store, "example.com", &opts, now() - 86_400).unwrap();
    }
    let id = {
        let store = SqliteStore::open(std::path::Path::new(&state)).unwrap();
        store.domain("example.com").unwrap().unwrap().current.id
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ca = TestCa::new();
    let ca_file = dir.write("ca.pem", ca.ca_pem());
    let t = time::OffsetDateTime::now_utc();
    let leaf = ca.issue_with(
        &["mx1.example.com"],
        t - time::Duration::days(80),
        t + time::Duration::days(5),
    );
    let (smtp, dns) = rt.block_on(async {
        let smtp = SmtpServer::start(SmtpOptions::starttls("mx1.example.com", &leaf))
            .await
            .unwrap();
        let dns = DnsServer::start(
            Zones::new()
                .mx("example.com", 10, "mx1.example.com")
                .a("mx1.example.com", Ipv4Addr::LOCALHOST)
                .txt("_mta-sts.example.com", &[format!("v=STSv1; id={id}")]),
        )
        .await
        .unwrap();
        (smtp, dns)
    });
    let resolver = dns.addr().to_string();
    let smtp_port = smtp.addr().port().to_string();
    let https_port = closed_port().to_string();
    let out = run(&[
        "--json",
        "alerts",
        "probe",
        "--state",
        &state,
        "--resolver",
        &resolver,
        "--ca-file",
        &ca_file,
        "--smtp-port",
        &smtp_port,
        "--https-port",
        &https_port,
    ])
    .ok();
    let v = out.json();
    assert_eq!(v["domains"], 1);
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{v:#}");
    assert_eq!(findings[0]["code"], "mx-certificate-expiring");
    assert_eq!(findings[0]["domain"], "example.com");
    assert_eq!(findings[0]["mx_host"], "mx1.example.com");
    assert_eq!(findings[0]["severity"], "warning");
    assert_eq!(findings[0]["repeat"], false);

    let listed = run(&["--json", "alerts", "--state", &state]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["source"], "probe");
    assert_eq!(listed[0]["result_type"], "mx-certificate-expiring");
    assert!(
        listed[0]["remediation"]
            .as_str()
            .unwrap()
            .starts_with("renew the certificate of mx1.example.com now")
    );
    drop((smtp, dns));
}
