//! Alerts with real parts: the alert tables of both backends (SQLite in a
//! temporary directory, PostgreSQL at 127.0.0.1:5432), a loopback HTTPS
//! webhook receiver, a loopback SMTP relay, a closed port for retries,
//! and scheduled probes against a loopback DNS server and an SMTP server
//! with a TestCa certificate.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mta_sts_check::CheckOptions;
use mtasts_site::alerts::probe::{self, ProbeConfig};
use mtasts_site::alerts::store::Raised;
use mtasts_site::alerts::{AlertConfig, Alerter, MailConfig, delivery_state};
use mtasts_site::domains::{self, AddOptions};
use mtasts_site::pg::PgSiteStore;
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::SiteStore;
use policy_fetch::Overrides;
use test_support::pg::TestDb;
use test_support::{
    DnsServer, HttpsServer, Response, Routes, SmtpOptions, SmtpServer, TempDir, TestCa, Zones,
};

/// 2026-12-05T00:00:00Z
const T0: i64 = 1_796_428_800;
const HOUR: i64 = 3600;

/// A store of each backend, with what keeps it alive. The stores are
/// opened and dropped outside any Tokio runtime (the blocking
/// PostgreSQL client drives its own).
struct Backend {
    name: &'static str,
    store: Arc<dyn SiteStore>,
    _dir: Option<TempDir>,
    _db: Option<TestDb>,
}

fn backends() -> Vec<Backend> {
    let dir = TempDir::unborn("mtasts-site-alerts");
    let mut out = vec![Backend {
        name: "sqlite",
        store: Arc::new(SqliteStore::open(&dir.0).unwrap()),
        _dir: Some(dir),
        _db: None,
    }];
    if let Some(db) = TestDb::create() {
        out.push(Backend {
            name: "postgres",
            store: Arc::new(PgSiteStore::connect(&db.url("alerts-test")).unwrap()),
            _dir: None,
            _db: Some(db),
        });
    }
    out
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A report of `org` with id `id`: example.com has 4 + 2 failed sessions
/// `certificate-expired` at mx2 (two sending IPs) and 3
/// `starttls-not-supported` at mx1; example.net is all successful.
fn report_json(org: &str, id: &str) -> String {
    format!(
        r#"{{"organization-name":"{org}","date-range":{{"start-datetime":"2026-12-04T00:00:00Z","end-datetime":"2026-12-04T23:59:59Z"}},"contact-info":"tlsrpt@{org}","report-id":"{id}","policies":[
        {{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.example.com","mx: mx2.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["mx1.example.com","mx2.example.com"]}},
          "summary":{{"total-successful-session-count":10,"total-failure-session-count":9}},
          "failure-details":[
            {{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"MX2.example.com.","failed-session-count":4}},
            {{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.2","receiving-mx-hostname":"mx2.example.com","failed-session-count":2}},
            {{"result-type":"starttls-not-supported","sending-mta-ip":"198.51.100.7","receiving-mx-hostname":"mx1.example.com","failed-session-count":3}}]}},
        {{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: mx.example.net","max_age: 86400"],"policy-domain":"example.net","mx-host":["mx.example.net"]}},
          "summary":{{"total-successful-session-count":50,"total-failure-session-count":0}}}}]}}"#
    )
}

fn report(org: &str, id: &str) -> tlsrpt_core::Report<'static> {
    tlsrpt_core::Report::parse_lenient(report_json(org, id).as_bytes())
        .unwrap()
        .value
        .into_owned()
}

#[test]
fn a_report_raises_one_alert_per_key_and_repeats_fold_within_the_quiet_period() {
    for b in backends() {
        let store = b.store.clone();
        rt().block_on(async move {
            let alerter = Alerter::store_only(store.clone());
            let raised = alerter
                .raise_report(&report("Mail Co", "r-1"), T0)
                .await
                .unwrap();
            assert_eq!(raised.len(), 2, "{}", b.name);
            assert!(raised.iter().all(|r| matches!(r, Raised::New(_))));

            let list = alerter.list(None, 100).await.unwrap();
            assert_eq!(list.len(), 2, "{}", b.name);
            let cert = &list
                .iter()
                .find(|(a, _)| a.result_type == "certificate-expired")
                .unwrap()
                .0;
            assert_eq!(cert.domain, "example.com");
            assert_eq!(cert.mx_host.as_deref(), Some("mx2.example.com"));
            assert_eq!(cert.failed_sessions, 6);
            assert_eq!(cert.first_seen, T0 - 24 * HOUR);
            assert_eq!(cert.raised_at, T0);
            assert_eq!(cert.reporting_organizations, ["Mail Co"]);
            assert_eq!(cert.sending_mta_ips, ["192.0.2.1", "192.0.2.2"]);
            assert_eq!(cert.report_ids, ["r-1"]);
            assert_eq!(cert.severity, "error");
            assert_eq!(cert.source, "report");
            assert_eq!(cert.title, "Expired TLS certificate on mx2.example.com");
            // tlsrpt-core's remediation for certificate-expired, one step a line.
            assert!(cert.remediation.lines().count() >= 3);
            assert!(cert.remediation.starts_with("Renew the certificate served by mx2.example.com"));
            assert!(cert.remediation.contains("mtasts cert check --mx mx2.example.com cert.pem"));
            assert!(!cert.text.contains('\n'));
            assert!(cert.text.starts_with("ERROR: Expired TLS certificate on mx2.example.com. 6 failed sessions with result type certificate-expired at MX host mx2.example.com for example.com, first seen 2026-12-04T00:00:00Z, reported by Mail Co (sending MTAs 192.0.2.1, 192.0.2.2). Fix: Renew the certificate"), "{}", cert.text);
            let tls = &list
                .iter()
                .find(|(a, _)| a.result_type == "starttls-not-supported")
                .unwrap()
                .0;
            assert_eq!(tls.mx_host.as_deref(), Some("mx1.example.com"));
            assert_eq!(tls.failed_sessions, 3);
            assert_eq!(tls.sending_mta_ips, ["198.51.100.7"]);

            // Another report within the quiet period: no new alert, the
            // counts of the existing ones grow.
            let again = alerter
                .raise_report(&report("Other Mail", "r-2"), T0 + 23 * HOUR)
                .await
                .unwrap();
            assert!(again.iter().all(|r| matches!(r, Raised::Repeat(_))), "{again:?}");
            let list = alerter.list(None, 100).await.unwrap();
            assert_eq!(list.len(), 2, "{}", b.name);
            let cert = &list
                .iter()
                .find(|(a, _)| a.result_type == "certificate-expired")
                .unwrap()
                .0;
            assert_eq!(cert.failed_sessions, 12);
            assert_eq!(cert.repeats, 1);
            assert_eq!(cert.last_seen, T0 + 23 * HOUR);
            assert_eq!(cert.raised_at, T0);
            assert_eq!(cert.reporting_organizations, ["Mail Co", "Other Mail"]);
            assert_eq!(cert.report_ids, ["r-1", "r-2"]);

            // After the quiet period: new alerts.
            let later = alerter
                .raise_report(&report("Mail Co", "r-3"), T0 + 25 * HOUR)
                .await
                .unwrap();
            assert!(later.iter().all(|r| matches!(r, Raised::New(_))), "{later:?}");
            assert_eq!(alerter.list(None, 100).await.unwrap().len(), 4);
            assert_eq!(
                alerter
                    .list(Some("example.net".into()), 100)
                    .await
                    .unwrap()
                    .len(),
                0
            );
        });
    }
}

/// The TestCa's PEM in a file (removed on drop).
struct CaFile(PathBuf);

impl CaFile {
    fn new(ca: &TestCa) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "mtasts-alerts-ca-{}-{}.pem",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&p, ca.ca_pem()).unwrap();
        Self(p)
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn the_webhook_receives_exactly_the_alert_json_and_the_attempt_is_kept() {
    for b in backends() {
        let store = b.store.clone();
        rt().block_on(async move {
            let ca = TestCa::new();
            let ca_file = CaFile::new(&ca);
            let leaf = ca.issue(&["127.0.0.1"]);
            let hook = HttpsServer::start(
                &leaf,
                Routes::new().route(
                    "*",
                    "/hook",
                    Response::with_status(200, Some("text/plain"), "ok"),
                ),
            )
            .await
            .unwrap();
            let url = format!("https://127.0.0.1:{}/hook", hook.addr().port());
            let config = AlertConfig {
                webhook: Some(url.clone()),
                overrides: Overrides {
                    ca_file: Some(ca_file.0.clone()),
                    ..Overrides::default()
                },
                ..AlertConfig::default()
            };
            let alerter = Alerter::new(store.clone(), config).unwrap();
            alerter.on_report(&report("Mail Co", "r-1"), T0).await;
            let requests = hook.requests();
            assert_eq!(requests.len(), 2, "{}", b.name);
            assert!(requests.iter().all(
                |r| r.method == "POST" && r.header("content-type") == Some("application/json")
            ));
            let bodies: Vec<serde_json::Value> = requests
                .iter()
                .map(|r| serde_json::from_slice(&r.body).unwrap())
                .collect();
            let cert = bodies
                .iter()
                .find(|v| v["result_type"] == "certificate-expired")
                .unwrap();
            let list = alerter.list(None, 10).await.unwrap();
            let (stored, attempts) = list
                .iter()
                .find(|(a, _)| a.result_type == "certificate-expired")
                .unwrap();
            assert_eq!(
                *cert,
                serde_json::json!({
                    "domain": "example.com",
                    "result_type": "certificate-expired",
                    "mx_host": "mx2.example.com",
                    "failed_sessions": 6,
                    "first_seen": "2026-12-04T00:00:00Z",
                    "reporting_organizations": ["Mail Co"],
                    "sending_mta_ips": ["192.0.2.1", "192.0.2.2"],
                    "remediation": stored.remediation,
                    "report_ids": ["r-1"],
                    "text": stored.text,
                })
            );
            assert_eq!(cert.as_object().unwrap().len(), 10);
            assert_eq!(attempts.len(), 1);
            assert_eq!(attempts[0].destination, url);
            assert_eq!(attempts[0].result, "delivered");
            assert_eq!(attempts[0].at, T0);
            assert!(
                attempts[0].detail.contains("HTTP 200"),
                "{}",
                attempts[0].detail
            );
            assert_eq!(
                delivery_state(&alerter.config().retry, stored.id, &url, attempts),
                "delivered"
            );
            // Nothing more is due.
            let again = alerter.deliver_pending(T0 + HOUR).await.unwrap();
            assert_eq!(again.delivered + again.temporary + again.permanent, 0);
            assert_eq!(hook.requests().len(), 2);
        });
    }
}

#[test]
fn alerts_are_mailed_through_the_smtp_relay() {
    let b = backends().remove(0);
    let store = b.store.clone();
    rt().block_on(async move {
        let ca = TestCa::new();
        let ca_file = CaFile::new(&ca);
        let relay = SmtpServer::start(SmtpOptions::starttls(
            "relay.test",
            ca.issue(&["127.0.0.1"]),
        ))
        .await
        .unwrap();
        let config = AlertConfig {
            mail: Some(MailConfig {
                relay: format!("smtp://127.0.0.1:{}", relay.addr().port()),
                to: vec!["postmaster@example.com".into()],
                from: "mtasts@site.example".into(),
                ca_file: Some(ca_file.0.clone()),
            }),
            ..AlertConfig::default()
        };
        let alerter = Alerter::new(store.clone(), config).unwrap();
        alerter.on_report(&report("Mail Co", "r-1"), T0).await;
        let messages = relay.messages();
        assert_eq!(messages.len(), 2);
        for m in &messages {
            assert_eq!(m.mail_from, "mtasts@site.example");
            assert_eq!(m.rcpt_to, ["postmaster@example.com"]);
            assert!(m.tls, "STARTTLS is required");
        }
        let cert = messages
            .iter()
            .map(|m| String::from_utf8(m.data.clone()).unwrap())
            .find(|d| {
                d.contains(
                    "Subject: [mtasts alert] error: Expired TLS certificate on mx2.example.com\r\n",
                )
            })
            .expect("the certificate alert");
        assert!(cert.contains("From: mtasts@site.example\r\nTo: postmaster@example.com\r\n"));
        assert!(cert.contains("Content-Transfer-Encoding: quoted-printable\r\n"));
        assert!(
            cert.contains("Date: Sat, 05 Dec 2026 00:00:00 +0000\r\n"),
            "{cert}"
        );
        assert!(cert.contains("\r\nDomain: example.com\r\n"));
        assert!(cert.contains("\r\nMX host: mx2.example.com\r\n"));
        assert!(cert.contains("\r\nFailed sessions: 6\r\n"));
        assert!(cert.contains("\r\nSending MTA IPs: 192.0.2.1, 192.0.2.2\r\n"));
        assert!(cert.contains("\r\n- Renew the certificate served by mx2.example.com"));
        let list = alerter.list(None, 10).await.unwrap();
        for (_, attempts) in &list {
            assert_eq!(attempts.len(), 1);
            assert_eq!(attempts[0].destination, "mailto:postmaster@example.com");
            assert_eq!(attempts[0].result, "delivered");
            assert!(attempts[0].detail.contains("250"), "{}", attempts[0].detail);
        }
    });
}

#[test]
fn a_failing_webhook_is_retried_with_back_off_and_every_attempt_is_kept() {
    for b in backends() {
        let store = b.store.clone();
        rt().block_on(async move {
            // A port nothing listens on.
            let closed = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            let port = closed.local_addr().unwrap().port();
            drop(closed);
            let url = format!("https://127.0.0.1:{port}/hook");
            let config = AlertConfig {
                webhook: Some(url.clone()),
                ..AlertConfig::default()
            };
            let alerter = Alerter::new(store.clone(), config).unwrap();
            let raised = alerter
                .raise_report(&report("Mail Co", "r-1"), T0)
                .await
                .unwrap();
            let ids: Vec<i64> = raised.iter().map(|r| r.id()).collect();
            let attempts = |alerter: &Alerter| {
                let store = alerter.store().clone();
                let ids = ids.clone();
                async move {
                    tokio::task::spawn_blocking(move || {
                        ids.iter()
                            .map(|id| store.alerts().attempts(*id).unwrap())
                            .collect::<Vec<_>>()
                    })
                    .await
                    .unwrap()
                }
            };
            let first = attempts(&alerter).await;
            for a in &first {
                assert_eq!(a.len(), 1, "{}", b.name);
                assert_eq!(a[0].result, "temporary");
                assert_eq!(a[0].at, T0);
                assert!(
                    a[0].detail.contains("connect to 127.0.0.1:"),
                    "{}",
                    a[0].detail
                );
                assert_eq!(
                    delivery_state(&alerter.config().retry, a[0].alert_id, &url, a),
                    "retrying"
                );
            }
            // Not due yet: 5 minutes (plus up to 20 %) after the first.
            let s = alerter.deliver_pending(T0 + 60).await.unwrap();
            assert_eq!(s.temporary, 0);
            // Due after 6 minutes.
            let s = alerter.deliver_pending(T0 + 361).await.unwrap();
            assert_eq!(s.temporary, 2);
            // The next wait is 15 minutes (plus jitter): nothing at +10 min.
            let s = alerter.deliver_pending(T0 + 361 + 600).await.unwrap();
            assert_eq!(s.temporary, 0);
            let s = alerter.deliver_pending(T0 + 361 + 1081).await.unwrap();
            assert_eq!(s.temporary, 2);
            let all = attempts(&alerter).await;
            for a in &all {
                let at: Vec<i64> = a.iter().map(|x| x.at).collect();
                assert_eq!(at, [T0, T0 + 361, T0 + 361 + 1081]);
                assert!(a.iter().all(|x| x.result == "temporary"));
            }
            // After the 24 h window nothing more is tried.
            let s = alerter.deliver_pending(T0 + 25 * HOUR).await.unwrap();
            assert_eq!(s.temporary + s.delivered + s.permanent, 0);
        });
    }
}

/// The probes: a hosted domain whose MX certificate expires in 5 days,
/// one whose MX host the policy does not cover, one whose `_mta-sts` id
/// is stale.
#[test]
fn probes_raise_certificate_coverage_and_stale_id_alerts_with_their_fix() {
    let b = backends().remove(0);
    let store = b.store.clone();
    let now = mta_sts_core::time::Timestamp::from_system_time(std::time::SystemTime::now()).secs;
    let opts = |mx: &str| AddOptions {
        mx: vec![mx.to_owned()],
        ..AddOptions::default()
    };
    let good = domains::add(
        &*store,
        "example.com",
        &opts("mx1.example.com"),
        now - 86_400,
    )
    .unwrap();
    let uncovered = domains::add(
        &*store,
        "example.net",
        &opts("mx.example.net"),
        now - 86_400,
    )
    .unwrap();
    domains::add(
        &*store,
        "example.org",
        &opts("mx1.example.com"),
        now - 86_400,
    )
    .unwrap();
    rt().block_on(async move {
        let ca = TestCa::new();
        let ca_file = CaFile::new(&ca);
        let t = time::OffsetDateTime::now_utc();
        let leaf = ca.issue_with(
            &["mx1.example.com"],
            t - time::Duration::days(80),
            t + time::Duration::days(5),
        );
        let smtp = SmtpServer::start(SmtpOptions::starttls("mx1.example.com", &leaf))
            .await
            .unwrap();
        let sts = |id: &str| format!("v=STSv1; id={id}");
        let dns = DnsServer::start(
            Zones::new()
                .mx("example.com", 10, "mx1.example.com")
                .mx("example.net", 10, "mx1.example.com")
                .mx("example.org", 10, "mx1.example.com")
                .a("mx1.example.com", Ipv4Addr::LOCALHOST)
                .txt("_mta-sts.example.com", &[sts(&good.domain.current.id)])
                .txt("_mta-sts.example.net", &[sts(&uncovered.domain.current.id)])
                .txt("_mta-sts.example.org", &[sts("20200101000000")]),
        )
        .await
        .unwrap();
        // Nothing listens for the policy fetches: they fail fast.
        let closed = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let https_port = closed.local_addr().unwrap().port();
        drop(closed);
        let config = ProbeConfig {
            overrides: Overrides {
                resolver: Some(dns.addr()),
                ca_file: Some(ca_file.0.clone()),
                smtp_port: Some(smtp.addr().port()),
                https_port: Some(https_port),
                ..Overrides::default()
            },
            check: CheckOptions {
                fetch_timeout: Duration::from_secs(5),
                connect_timeout: Duration::from_secs(2),
                probe_timeout: Duration::from_secs(5),
                ..CheckOptions::default()
            },
        };
        let alerter = Alerter::store_only(store.clone());
        let run = probe::probe_once(&store, &config, &alerter, now)
            .await
            .unwrap();
        assert_eq!(run.domains, 3);
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        let list = alerter.list(None, 100).await.unwrap();
        let find = |domain: &str, code: &str| {
            list.iter()
                .map(|(a, _)| a)
                .find(|a| a.domain == domain && a.result_type == code)
                .unwrap_or_else(|| panic!("no {code} alert for {domain}: {list:#?}"))
                .clone()
        };
        let cert = find("example.com", "mx-certificate-expiring");
        assert_eq!(cert.source, "probe");
        assert_eq!(cert.mx_host.as_deref(), Some("mx1.example.com"));
        assert_eq!(cert.severity, "warning");
        assert!(
            cert.title
                .starts_with("the certificate of MX mx1.example.com expires at "),
            "{}",
            cert.title
        );
        assert!(cert.title.contains("in 5 days"), "{}", cert.title);
        assert!(
            cert.remediation
                .starts_with("renew the certificate of mx1.example.com now"),
            "{}",
            cert.remediation
        );
        assert!(
            cert.text
                .contains("Fix: renew the certificate of mx1.example.com")
        );

        let mx = find("example.net", "mx-not-covered");
        assert_eq!(mx.mx_host.as_deref(), Some("mx1.example.com"));
        assert_eq!(mx.severity, "error");
        assert!(
            mx.remediation
                .contains("mtasts domain set example.net --mx mx.example.net --mx mx1.example.com"),
            "{}",
            mx.remediation
        );

        let stale = find("example.org", "sts-id-stale");
        assert_eq!(stale.mx_host, None);
        assert!(
            stale.title.contains("names id 20200101000000"),
            "{}",
            stale.title
        );
        assert!(
            stale.remediation.contains("_mta-sts.example.org. IN TXT"),
            "{}",
            stale.remediation
        );
        assert!(list.iter().all(
            |(a, _)| !(a.domain == "example.com" && a.result_type != "mx-certificate-expiring")
        ));

        // Run again: the quiet period folds every finding into its alert.
        let again = probe::probe_once(&store, &config, &alerter, now + 60)
            .await
            .unwrap();
        assert!(!again.findings.is_empty());
        assert!(again.findings.iter().all(|f| f.repeat));
        assert_eq!(alerter.list(None, 100).await.unwrap().len(), list.len());
    });
}

/// The functions the server runs: deliveries every `every`, probes every
/// `every` (the first run at once), both ending on shutdown.
#[test]
fn the_spawned_delivery_and_probe_loops_run_and_stop_on_shutdown() {
    let b = backends().remove(0);
    let store = b.store.clone();
    let now = mta_sts_core::time::Timestamp::from_system_time(std::time::SystemTime::now()).secs;
    domains::add(
        &*store,
        "example.org",
        &AddOptions {
            mx: vec!["mx1.example.com".into()],
            ..AddOptions::default()
        },
        now - 86_400,
    )
    .unwrap();
    rt().block_on(async move {
        let ca = TestCa::new();
        let ca_file = CaFile::new(&ca);
        let leaf = ca.issue(&["127.0.0.1"]);
        let hook = HttpsServer::start(
            &leaf,
            Routes::new().route("*", "/hook", Response::with_status(204, None, "")),
        )
        .await
        .unwrap();
        let alerter = Arc::new(
            Alerter::new(
                store.clone(),
                AlertConfig {
                    webhook: Some(format!("https://127.0.0.1:{}/hook", hook.addr().port())),
                    overrides: Overrides {
                        ca_file: Some(ca_file.0.clone()),
                        ..Overrides::default()
                    },
                    deliver_on_raise: false,
                    ..AlertConfig::default()
                },
            )
            .unwrap(),
        );
        // Raised without delivery: the loop delivers it.
        alerter
            .raise_report(&report("Mail Co", "r-1"), now)
            .await
            .unwrap();
        assert!(hook.requests().is_empty());
        let (tx, rx) = tokio::sync::watch::channel(false);
        let delivery = mtasts_site::alerts::spawn_delivery(
            alerter.clone(),
            Duration::from_secs(1),
            rx.clone(),
        );
        // The probe of example.org: its _mta-sts record is stale.
        let dns = DnsServer::start(
            Zones::new()
                .mx("example.org", 10, "mx1.example.com")
                .txt("_mta-sts.example.org", &["v=STSv1; id=20200101000000"]),
        )
        .await
        .unwrap();
        let config = ProbeConfig {
            overrides: Overrides {
                resolver: Some(dns.addr()),
                ..Overrides::default()
            },
            check: CheckOptions {
                fetch_timeout: Duration::from_secs(2),
                connect_timeout: Duration::from_secs(1),
                probe_timeout: Duration::from_secs(2),
                ..CheckOptions::default()
            },
        };
        let probes = probe::spawn(
            store.clone(),
            config,
            alerter.clone(),
            Duration::from_secs(3600),
            rx,
        );
        let mut stale = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let list = alerter.list(None, 100).await.unwrap();
            stale = list.iter().any(|(a, _)| a.result_type == "sts-id-stale");
            // Two report alerts and the probe's: three POSTs.
            if stale && hook.requests().len() >= 3 {
                break;
            }
        }
        assert!(stale, "the probe loop raised no sts-id-stale alert");
        assert_eq!(hook.requests().len(), 3);
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), delivery)
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), probes)
            .await
            .unwrap()
            .unwrap();
        let list = alerter.list(None, 100).await.unwrap();
        assert!(
            list.iter()
                .all(|(_, attempts)| attempts.len() == 1 && attempts[0].result == "delivered")
        );
    });
}
