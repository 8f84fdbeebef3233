//! Delivering TLS-RPT reports against real loopback servers: the
//! `_smtp._tls` records from a hickory DNS server, an HTTPS report
//! receiver (rustls, test CA) recording each POST, and an SMTP relay
//! (STARTTLS with the test CA) recording each message. Test names carry
//! the checklist IDs they cover.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use policy_fetch::report_delivery::{
    AttemptResult, Deliverer, Destination, DestinationLookup, InvalidCertificates, MailRelay,
    NoDestination, Payload, PostSettings, RelaySecurity, RelaySettings, ReportPoster,
    lookup_destinations, report_domain,
};
use policy_fetch::{Dns, Roots};
use test_support::{
    CertSet, DnsServer, HttpsServer, Response, Routes, SmtpOptions, SmtpServer, TestCa, Zones,
};
use time::OffsetDateTime;
use tlsrpt_core::outgoing::{MailMeta, RenderedReport, render, render_email};
use tlsrpt_core::report::Report;
use tlsrpt_core::session::{DayAggregate, Failure, Outcome, PolicyKey, ReportMeta, UtcDay};
use tlsrpt_core::time::Timestamp;
use tlsrpt_core::{ResultType, Strictness};

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// 2024-05-02T00:30:00Z.
const NOW: i64 = 1_714_609_800;
const RECEIVER: &str = "reports.example.test";

fn now() -> Timestamp {
    Timestamp::from_unix(NOW)
}

fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "report-delivery-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One report for example.org: 7 successful sessions, 2 failed (expired
/// certificate), rendered.
fn report() -> (Report<'static>, RenderedReport) {
    let mut day = DayAggregate::new(UtcDay::parse("2024-05-01").unwrap());
    let key = PolicyKey::sts(
        "example.org",
        [
            "version: STSv1",
            "mode: enforce",
            "mx: mx.example.org",
            "max_age: 86400",
        ],
        ["mx.example.org"],
    )
    .unwrap();
    for _ in 0..7 {
        day.record(&key, &Outcome::Success).unwrap();
    }
    let expired = Failure::new(ResultType::CertificateExpired)
        .receiving_mx_hostname("mx.example.org")
        .receiving_ip("192.0.2.25".parse().unwrap())
        .sending_mta_ip("198.51.100.1".parse().unwrap());
    for _ in 0..2 {
        day.record(&key, &Outcome::Failure(expired.clone()))
            .unwrap();
    }
    let meta = ReportMeta::new(
        "Example Mail",
        "tlsrpt@mail.example.com",
        "mail.example.com",
        "20240501",
    );
    let report = day.finish(&meta).unwrap().reports.remove(0);
    let rendered = render(&report, &meta.submitter, &meta.unique_id).unwrap();
    (report, rendered)
}

/// The report a receiver got, read back by the strict reader.
fn read_back(gzip: &[u8]) -> Report<'static> {
    let json = tlsrpt_core::input::decompress_gzip(gzip, 1 << 20).unwrap();
    Report::parse_strict(&json).unwrap().value.into_owned()
}

struct World {
    ca: TestCa,
    dns: DnsServer,
}

impl World {
    async fn new(zones: Zones) -> Self {
        Self {
            ca: TestCa::new(),
            dns: DnsServer::start(zones.a(RECEIVER, LOCAL)).await.unwrap(),
        }
    }

    fn dns(&self) -> Dns {
        Dns::with_server(self.dns.addr()).unwrap()
    }

    fn roots(&self) -> Roots {
        let mut r = Roots::empty();
        r.add_der(self.ca.ca_cert_der()).unwrap();
        r
    }

    fn poster(&self, settings: PostSettings) -> ReportPoster {
        ReportPoster::new(self.dns(), &self.roots(), settings).unwrap()
    }

    async fn receiver(&self, routes: Routes) -> HttpsServer {
        HttpsServer::start(&self.ca.issue(&[RECEIVER]), routes)
            .await
            .unwrap()
    }

    /// A relay with STARTTLS and a certificate for 127.0.0.1.
    async fn relay(&self, opts: impl FnOnce(SmtpOptions) -> SmtpOptions) -> SmtpServer {
        let certs = CertSet::from(self.ca.issue(&["127.0.0.1"]));
        SmtpServer::start(opts(SmtpOptions::starttls("relay.example.test", certs)))
            .await
            .unwrap()
    }

    fn ca_file(&self) -> PathBuf {
        let dir = temp_dir("ca");
        let path = dir.join("ca.pem");
        std::fs::write(&path, self.ca.ca_pem()).unwrap();
        path
    }

    fn relay_settings(&self, server: &SmtpServer) -> RelaySettings {
        let mut s = RelaySettings::new(
            "127.0.0.1",
            server.addr().port(),
            "mail.example.com",
            "tlsrpt-bounces@mail.example.com",
        );
        s.ca_file = Some(self.ca_file());
        s.timeout = Duration::from_secs(5);
        s
    }
}

fn uri(server: &HttpsServer, path: &str) -> String {
    format!("https://{RECEIVER}:{}{path}", server.addr().port())
}

fn quick() -> PostSettings {
    PostSettings {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(10),
        ..PostSettings::default()
    }
}

#[tokio::test]
async fn rpt_txt_destinations_every_usable_uri_dec_14() {
    let zones = Zones::new()
        .txt(
            "_smtp._tls.example.org",
            &["v=TLSRPTv1; rua=https://reports.example.org/v1,ftp://x.example/,mailto:tls%2Dreports@example.org?subject=x"],
        )
        .txt("_smtp._tls.only-ftp.example", &["v=TLSRPTv1; rua=ftp://x.example/"])
        .txt(
            "_smtp._tls.two.example",
            &["v=TLSRPTv1; rua=mailto:a@two.example"],
        )
        .txt(
            "_smtp._tls.two.example",
            &["v=TLSRPTv1; rua=mailto:b@two.example"],
        )
        .txt("_smtp._tls.spf.example", &["v=spf1 -all"])
        .servfail("_smtp._tls.broken.example");
    let w = World::new(zones).await;
    let dns = w.dns();

    let DestinationLookup::Found(d) = lookup_destinations(&dns, "example.org").await else {
        panic!("no record found");
    };
    assert_eq!(
        d.usable,
        [
            Destination::Https {
                uri: "https://reports.example.org/v1".into()
            },
            Destination::Mailto {
                uri: "mailto:tls%2Dreports@example.org?subject=x".into(),
                address: "tls-reports@example.org".into()
            },
        ]
    );
    assert_eq!(d.unusable.len(), 1);
    assert_eq!(d.unusable[0].uri, "ftp://x.example/");

    match lookup_destinations(&dns, "only-ftp.example").await {
        DestinationLookup::None(NoDestination::NoUsableUri { unusable, .. }) => {
            assert_eq!(unusable[0].uri, "ftp://x.example/")
        }
        other => panic!("{other:?}"),
    }
    match lookup_destinations(&dns, "two.example").await {
        DestinationLookup::None(NoDestination::Invalid { reason }) => {
            assert!(
                reason.starts_with("_smtp._tls.two.example: 2 records"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    for domain in ["spf.example", "nothing.example"] {
        assert_eq!(
            lookup_destinations(&dns, domain).await,
            DestinationLookup::None(NoDestination::NoRecord),
            "{domain}"
        );
    }
    match lookup_destinations(&dns, "broken.example").await {
        DestinationLookup::TempFail { reason } => {
            assert!(
                reason.starts_with("_smtp._tls.broken.example: "),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dec_15_tlsa_reports_go_to_the_mx_hosts_record() {
    let mut day = DayAggregate::new(UtcDay::parse("2024-05-01").unwrap());
    day.record(
        &PolicyKey::tlsa("mx1.example.net", ["3 1 1 0123ABCD"], ["mx1.example.net"]).unwrap(),
        &Outcome::Success,
    )
    .unwrap();
    day.record(
        &PolicyKey::no_policy_found("example.net").unwrap(),
        &Outcome::Success,
    )
    .unwrap();
    let meta = ReportMeta::new("Org", "r@mail.example.com", "mail.example.com", "1");
    let domains: Vec<String> = day
        .finish(&meta)
        .unwrap()
        .reports
        .iter()
        .map(|r| report_domain(&render(r, "mail.example.com", "1").unwrap()).to_owned())
        .collect();
    assert_eq!(domains, ["example.net", "mx1.example.net"]);
}

#[tokio::test]
async fn rpt_deliv_14_16_https_post_delivers_the_gzip() {
    let w = World::new(Zones::new()).await;
    let server = w
        .receiver(Routes::new().route(
            RECEIVER,
            "/v1/tlsrpt",
            Response::with_status(201, Some("text/plain"), "thanks\n"),
        ))
        .await;
    let (report, rendered) = report();
    let target = format!("{}?src=test", uri(&server, "/v1/tlsrpt"));
    let attempt = w.poster(quick()).post(&target, &rendered.gzip, now()).await;
    assert_eq!(attempt.result, AttemptResult::Delivered, "{attempt:?}");
    assert_eq!(attempt.destination, target);
    assert_eq!(attempt.at, now());
    assert_eq!(attempt.detail, format!("{target}: HTTP 201: thanks"));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/tlsrpt?src=test");
    assert_eq!(r.sni.as_deref(), Some(RECEIVER));
    assert_eq!(
        r.host.as_deref(),
        Some(format!("{RECEIVER}:{}", server.addr().port()).as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/tlsrpt+gzip"));
    assert_eq!(
        r.header("content-length"),
        Some(rendered.gzip.len().to_string().as_str())
    );
    assert_eq!(r.body, rendered.gzip);
    let got = read_back(&r.body);
    assert_eq!(got, report);
    assert_eq!((got.successful_sessions(), got.failed_sessions()), (7, 2));
}

#[tokio::test]
async fn rpt_deliv_16_statuses_decide_temporary_or_permanent() {
    let w = World::new(Zones::new()).await;
    let routes = [
        (500, "/500"),
        (503, "/503"),
        (429, "/429"),
        (408, "/408"),
        (404, "/404"),
        (400, "/400"),
        (302, "/302"),
        (200, "/200"),
    ]
    .into_iter()
    .fold(Routes::new(), |r, (status, path)| {
        r.route(RECEIVER, path, Response::with_status(status, None, ""))
    });
    let server = w.receiver(routes).await;
    let poster = w.poster(quick());
    let (_, rendered) = report();
    for (path, want) in [
        ("/500", AttemptResult::Temporary),
        ("/503", AttemptResult::Temporary),
        ("/429", AttemptResult::Temporary),
        ("/408", AttemptResult::Temporary),
        ("/404", AttemptResult::Permanent),
        ("/400", AttemptResult::Permanent),
        ("/302", AttemptResult::Permanent),
        ("/200", AttemptResult::Delivered),
    ] {
        let a = poster
            .post(&uri(&server, path), &rendered.gzip, now())
            .await;
        assert_eq!(a.result, want, "{path}: {a:?}");
        let status = &path[1..];
        assert!(a.detail.contains(&format!("HTTP {status}")), "{a:?}");
    }
    let a = poster
        .post(&uri(&server, "/302"), &rendered.gzip, now())
        .await;
    assert!(
        a.detail
            .ends_with("(a redirect that would turn the POST into a GET)"),
        "{a:?}"
    );
}

#[tokio::test]
async fn redirects_307_308_are_followed_with_the_body() {
    let w = World::new(Zones::new()).await;
    let routes = Routes::new()
        .route(
            RECEIVER,
            "/old",
            Response::Redirect {
                status: 308,
                location: "/new".into(),
            },
        )
        .route(
            RECEIVER,
            "/new",
            Response::Redirect {
                status: 307,
                location: "final".into(),
            },
        )
        .route(RECEIVER, "/final", Response::with_status(202, None, ""))
        .route(
            RECEIVER,
            "/loop",
            Response::Redirect {
                status: 308,
                location: "/loop".into(),
            },
        )
        .route(
            RECEIVER,
            "/plain",
            Response::Redirect {
                status: 308,
                location: "http://reports.example.test/x".into(),
            },
        );
    let server = w.receiver(routes).await;
    let poster = w.poster(quick());
    let (_, rendered) = report();

    let a = poster
        .post(&uri(&server, "/old"), &rendered.gzip, now())
        .await;
    assert_eq!(a.result, AttemptResult::Delivered, "{a:?}");
    assert_eq!(a.detail, format!("{}: HTTP 202", uri(&server, "/final")));
    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/old", "/new", "/final"]);
    assert!(
        reqs.iter()
            .all(|r| r.method == "POST" && r.body == rendered.gzip)
    );

    let a = poster
        .post(&uri(&server, "/loop"), &rendered.gzip, now())
        .await;
    assert_eq!(a.result, AttemptResult::Permanent, "{a:?}");
    assert!(
        a.detail.ends_with("HTTP 308: more than 3 redirects"),
        "{a:?}"
    );
    assert_eq!(server.requests().len(), 3 + 4);

    let a = poster
        .post(&uri(&server, "/plain"), &rendered.gzip, now())
        .await;
    assert_eq!(a.result, AttemptResult::Permanent, "{a:?}");
    assert!(a.detail.contains("plain http: is refused"), "{a:?}");
}

#[tokio::test]
async fn rpt_deliv_15_dec_22_certificate_errors_retry_unverified_once() {
    let w = World::new(Zones::new()).await;
    let past = OffsetDateTime::now_utc() - time::Duration::days(30);
    for (name, leaf) in [
        ("untrusted", TestCa::self_signed(&[RECEIVER])),
        (
            "expired",
            w.ca.issue_with(&[RECEIVER], past, past + time::Duration::days(1)),
        ),
        ("wrong name", w.ca.issue(&["other.example.test"])),
    ] {
        let server = HttpsServer::start(
            &leaf,
            Routes::new().route("*", "/r", Response::with_status(200, None, "")),
        )
        .await
        .unwrap();
        let (_, rendered) = report();
        let target = uri(&server, "/r");

        // Default: verified first, then once without verification.
        let a = w.poster(quick()).post(&target, &rendered.gzip, now()).await;
        assert_eq!(a.result, AttemptResult::Delivered, "{name}: {a:?}");
        assert!(
            a.detail
                .contains("(delivered without certificate verification: certificate "),
            "{name}: {a:?}"
        );
        let hs = server.handshakes();
        assert_eq!(hs.len(), 2, "{name}: {hs:?}");
        assert!(!hs[0].completed && hs[1].completed, "{name}: {hs:?}");
        assert_eq!(server.requests().len(), 1, "{name}");
        assert_eq!(server.requests()[0].body, rendered.gzip);

        // Refused: a temporary failure, nothing posted.
        let refuse = PostSettings {
            invalid_certificates: InvalidCertificates::Refuse,
            ..quick()
        };
        let a = w.poster(refuse).post(&target, &rendered.gzip, now()).await;
        assert_eq!(a.result, AttemptResult::Temporary, "{name}: {a:?}");
        assert!(a.detail.contains(": certificate "), "{name}: {a:?}");
        assert_eq!(server.requests().len(), 1, "{name}");
    }
}

#[tokio::test]
async fn network_failures_and_timeouts_are_temporary() {
    let w = World::new(Zones::new().a("down.example.test", LOCAL)).await;
    let server = w
        .receiver(Routes::new().route(RECEIVER, "/stall", Response::Stall))
        .await;
    let (_, rendered) = report();
    let poster = w.poster(PostSettings {
        total_timeout: Duration::from_secs(1),
        ..quick()
    });
    let a = poster
        .post(&uri(&server, "/stall"), &rendered.gzip, now())
        .await;
    assert_eq!(a.result, AttemptResult::Temporary, "{a:?}");
    assert_eq!(a.detail, "timed out after 1 s");

    // Nothing listens on port 9 of 127.0.0.1.
    let a = poster
        .post("https://down.example.test:9/r", &rendered.gzip, now())
        .await;
    assert_eq!(a.result, AttemptResult::Temporary, "{a:?}");
    assert!(a.detail.contains("connect to 127.0.0.1:9"), "{a:?}");

    // No address for the host.
    let a = poster
        .post("https://nowhere.example.test/r", &rendered.gzip, now())
        .await;
    assert_eq!(a.result, AttemptResult::Temporary, "{a:?}");
    assert!(a.detail.contains("nowhere.example.test"), "{a:?}");

    // Not a URI this can post to: permanent.
    let a = poster
        .post("https://user@x.example.test/r", &rendered.gzip, now())
        .await;
    assert_eq!(a.result, AttemptResult::Permanent, "{a:?}");
}

fn mail(report: &Report<'_>, rendered: &RenderedReport, to: &str) -> Vec<u8> {
    render_email(
        report,
        rendered,
        &MailMeta::new("tlsrpt@mail.example.com", [to], now(), "m1"),
    )
    .unwrap()
}

#[tokio::test]
async fn mailto_through_the_relay_with_starttls_and_auth() {
    let w = World::new(Zones::new()).await;
    let server = w.relay(|o| o.with_auth("tlsrpt", "s3cret")).await;
    let mut settings = w.relay_settings(&server);
    settings.credentials = Some(("tlsrpt".into(), "s3cret".into()));
    let relay = MailRelay::new(&settings).unwrap();
    let (report, rendered) = report();
    let message = mail(&report, &rendered, "tls-reports@example.org");

    let a = relay.send("tls-reports@example.org", &message, now()).await;
    assert_eq!(a.result, AttemptResult::Delivered, "{a:?}");
    assert_eq!(a.destination, "mailto:tls-reports@example.org");
    assert!(
        a.detail
            .starts_with(&format!("relay 127.0.0.1:{}: 250 ", server.addr().port())),
        "{a:?}"
    );

    let got = server.messages();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert!(m.tls);
    assert_eq!(m.auth_user.as_deref(), Some("tlsrpt"));
    assert_eq!(m.mail_from, "tlsrpt-bounces@mail.example.com");
    assert_eq!(m.rcpt_to, ["tls-reports@example.org"]);
    // Byte for byte what was given (so a DKIM signature still verifies).
    assert_eq!(m.data, message);
    let read = tlsrpt_core::input::read_report(
        &m.data,
        &tlsrpt_core::input::ReadOptions::new(Strictness::Strict),
    )
    .unwrap();
    assert_eq!(read.value.report, report);
    let session = &server.sessions()[m.session];
    assert_eq!(session.sni, None, "no SNI for an IP address");
    assert_eq!(session.commands[0], "EHLO mail.example.com");

    // Wrong password: the relay says 535, a permanent failure.
    settings.credentials = Some(("tlsrpt".into(), "wrong".into()));
    let a = MailRelay::new(&settings)
        .unwrap()
        .send("tls-reports@example.org", &message, now())
        .await;
    assert_eq!(a.result, AttemptResult::Permanent, "{a:?}");
    assert!(a.detail.contains("535"), "{a:?}");
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn relay_replies_decide_temporary_or_permanent() {
    let w = World::new(Zones::new()).await;
    let server = w
        .relay(|o| {
            o.with_rcpt_reply("full@example.org", "452 4.2.2 Mailbox full")
                .with_rcpt_reply("gone@example.org", "550 5.1.1 No such user")
        })
        .await;
    let relay = MailRelay::new(&w.relay_settings(&server)).unwrap();
    let (report, rendered) = report();
    let message = mail(&report, &rendered, "full@example.org");
    let a = relay.send("full@example.org", &message, now()).await;
    assert_eq!(a.result, AttemptResult::Temporary, "{a:?}");
    assert!(
        a.detail.contains("452") && a.detail.contains("Mailbox full"),
        "{a:?}"
    );
    let a = relay.send("gone@example.org", &message, now()).await;
    assert_eq!(a.result, AttemptResult::Permanent, "{a:?}");
    assert!(a.detail.contains("No such user"), "{a:?}");
    let a = relay.send("not an address", &message, now()).await;
    assert_eq!(a.result, AttemptResult::Permanent, "{a:?}");
    assert!(server.messages().is_empty());

    // STARTTLS required but not offered: temporary, nothing sent.
    let plain = SmtpServer::start(SmtpOptions::plain("plain.example.test"))
        .await
        .unwrap();
    let a = MailRelay::new(&w.relay_settings(&plain))
        .unwrap()
        .send("x@example.org", &message, now())
        .await;
    assert_eq!(a.result, AttemptResult::Temporary, "{a:?}");
    assert!(plain.messages().is_empty());
    // ... and without TLS, as for a relay on the same host, it goes.
    let mut settings = w.relay_settings(&plain);
    settings.security = RelaySecurity::None;
    let a = MailRelay::new(&settings)
        .unwrap()
        .send("x@example.org", &message, now())
        .await;
    assert_eq!(a.result, AttemptResult::Delivered, "{a:?}");
    assert!(!plain.messages()[0].tls);

    // A relay whose certificate is not trusted: temporary.
    let other = TestCa::new();
    let untrusted = SmtpServer::start(SmtpOptions::starttls(
        "relay.example.test",
        other.issue(&["127.0.0.1"]),
    ))
    .await
    .unwrap();
    let a = MailRelay::new(&w.relay_settings(&untrusted))
        .unwrap()
        .send("x@example.org", &message, now())
        .await;
    assert_eq!(a.result, AttemptResult::Temporary, "{a:?}");
    assert!(untrusted.messages().is_empty());

    // Nobody listening: temporary.
    let mut down = w.relay_settings(&plain);
    down.port = 9;
    let a = MailRelay::new(&down)
        .unwrap()
        .send("x@example.org", &message, now())
        .await;
    assert_eq!(a.result, AttemptResult::Temporary, "{a:?}");
}

#[test]
fn relay_settings_are_checked() {
    let mut s = RelaySettings::new("127.0.0.1", 25, "mail.example.com", "not an address");
    let e = MailRelay::new(&s).unwrap_err();
    assert_eq!(
        e.to_string(),
        "SMTP relay: envelope sender `not an address` is not an e-mail address"
    );
    s.envelope_from = "b@mail.example.com".into();
    s.hello_name = "bad name".into();
    assert_eq!(
        MailRelay::new(&s).unwrap_err().to_string(),
        "SMTP relay: EHLO name `bad name` is not a host name"
    );
    s.hello_name = "mail.example.com".into();
    let dir = temp_dir("noca");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "nothing here\n").unwrap();
    s.ca_file = Some(empty.clone());
    let e = MailRelay::new(&s).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("SMTP relay 127.0.0.1:25: trust anchors {}", empty.display())
    );
    // The password never shows in Debug.
    s.credentials = Some(("u".into(), "hunter2".into()));
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[tokio::test]
async fn rpt_deliv_18_every_destination_gets_the_report() {
    let w = World::new(Zones::new()).await;
    let server = w
        .receiver(Routes::new().route(
            RECEIVER,
            "/down",
            Response::Sequence(vec![
                Response::with_status(500, None, "try later"),
                Response::with_status(200, None, ""),
            ]),
        ))
        .await;
    let relay_server = w.relay(|o| o).await;
    let deliverer = Deliverer::new(
        w.poster(quick()),
        Some(MailRelay::new(&w.relay_settings(&relay_server)).unwrap()),
    );
    let (report, rendered) = report();
    let message = mail(&report, &rendered, "tls@example.org");
    let payload = Payload {
        gzip: &rendered.gzip,
        mail: Some(&message),
    };
    let https = Destination::Https {
        uri: uri(&server, "/down"),
    };
    let mailto = Destination::Mailto {
        uri: "mailto:tls@example.org".into(),
        address: "tls@example.org".into(),
    };
    // The first fails, the second is still tried, and accepts.
    let a = deliverer.deliver(&https, payload, now()).await;
    assert_eq!(a.result, AttemptResult::Temporary, "{a:?}");
    assert_eq!(a.detail, format!("{}: HTTP 500: try later", https.uri()));
    let b = deliverer.deliver(&mailto, payload, now()).await;
    assert_eq!(b.result, AttemptResult::Delivered, "{b:?}");
    assert_eq!(b.destination, "mailto:tls@example.org");
    assert_eq!(relay_server.messages()[0].data, message);
    // The retry of the first.
    let a = deliverer.deliver(&https, payload, now()).await;
    assert_eq!(a.result, AttemptResult::Delivered, "{a:?}");
    assert_eq!(server.requests().len(), 2);

    // No relay, or no message: mailto: fails temporarily, saying why.
    let no_relay = Deliverer::new(w.poster(quick()), None);
    let a = no_relay.deliver(&mailto, payload, now()).await;
    assert_eq!(a.result, AttemptResult::Temporary);
    assert_eq!(a.destination, "mailto:tls@example.org");
    assert_eq!(
        a.detail,
        "no SMTP relay is configured for mailto: destinations"
    );
    let a = deliverer
        .deliver(
            &mailto,
            Payload {
                gzip: &rendered.gzip,
                mail: None,
            },
            now(),
        )
        .await;
    assert_eq!(a.result, AttemptResult::Temporary);
    assert_eq!(relay_server.messages().len(), 1);
}
