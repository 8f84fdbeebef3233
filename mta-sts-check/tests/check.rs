//! `check_domain` against real loopback servers: DNS (the only resolver),
//! HTTPS for `mta-sts.example.com` and one SMTP server serving every MX
//! host by SNI. Every name resolves to 127.0.0.1.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mta_sts_check::check::{Applied, CheckReport, PolicyStatus, RecordStatus, Severity};
use mta_sts_check::smtp::CertStatus;
use mta_sts_check::{CheckOptions, check_domain};
use policy_fetch::Overrides;
use serde_json::json;
use test_support::{
    CertSet, DnsServer, HttpsServer, Leaf, POLICY_PATH, Response, Routes, SmtpOptions, SmtpServer,
    TestCa, Zones,
};

const D: &str = "example.com";
const POLICY: &str =
    "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 1209600\n";
const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A CA certificate in a temporary PEM file, removed on drop.
struct CaFile(PathBuf);

impl CaFile {
    fn new(ca: &TestCa) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "policy-fetch-check-{}-{}.pem",
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

/// Zones of a fully good domain: TXT, two MX hosts, TLS-RPT, addresses.
fn good_zones() -> Zones {
    Zones::new()
        .txt("_mta-sts.example.com", &["v=STSv1; id=20240101T000000"])
        .txt("_mta-sts.example.com", &["v=spf1 -all"])
        .txt(
            "_smtp._tls.example.com",
            &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
        )
        .mx(D, 20, "mx2.example.com")
        .mx(D, 10, "mx1.example.com")
        .a("mta-sts.example.com", LOCAL)
        .a("mx1.example.com", LOCAL)
        .a("mx2.example.com", LOCAL)
        .a("mx3.other.example", LOCAL)
}

/// What a test changes from the good setup.
struct Setup {
    ca: TestCa,
    zones: Zones,
    routes: Routes,
    https_cert: Option<Leaf>,
    smtp: Option<SmtpOptions>,
    options: CheckOptions,
}

/// The servers of a finished check.
struct Ran {
    report: CheckReport,
    https: HttpsServer,
    smtp: SmtpServer,
    dns: DnsServer,
}

impl Setup {
    fn new() -> Self {
        Self {
            ca: TestCa::new(),
            zones: good_zones(),
            routes: Routes::new().policy(D, POLICY),
            https_cert: None,
            smtp: None,
            options: CheckOptions {
                fetch_timeout: Duration::from_secs(5),
                connect_timeout: Duration::from_secs(2),
                probe_timeout: Duration::from_secs(5),
                ..CheckOptions::default()
            },
        }
    }

    /// The MX certificates of the good setup, chosen by SNI.
    fn good_mx_certs(&self) -> CertSet {
        let mx1 = self.ca.issue(&["mx1.example.com"]);
        CertSet::new(mx1.clone())
            .with_sni("mx1.example.com", mx1)
            .with_sni("mx2.example.com", self.ca.issue(&["mx2.example.com"]))
            .with_sni("mx3.other.example", self.ca.issue(&["mx3.other.example"]))
    }

    fn policy(mut self, response: Response) -> Self {
        self.routes = Routes::new().route("mta-sts.example.com", POLICY_PATH, response);
        self
    }

    async fn run(self) -> Ran {
        let dns = DnsServer::start(self.zones.clone()).await.unwrap();
        let cert = self
            .https_cert
            .clone()
            .unwrap_or_else(|| self.ca.issue(&["mta-sts.example.com"]));
        let https = HttpsServer::start(&cert, self.routes.clone())
            .await
            .unwrap();
        let smtp_opts = match self.smtp.clone() {
            Some(o) => o,
            None => SmtpOptions::starttls("mx.example.com", self.good_mx_certs()),
        };
        let smtp = SmtpServer::start(smtp_opts).await.unwrap();
        let ca_file = CaFile::new(&self.ca);
        let overrides = Overrides {
            resolver: Some(dns.addr()),
            ca_file: Some(ca_file.0.clone()),
            https_port: Some(https.addr().port()),
            smtp_port: Some(smtp.addr().port()),
            ..Overrides::default()
        };
        let report = check_domain(D, &overrides, &self.options).await.unwrap();
        Ran {
            report,
            https,
            smtp,
            dns,
        }
    }
}

fn codes(r: &CheckReport) -> Vec<&str> {
    r.findings.iter().map(|f| f.code.as_str()).collect()
}

fn finding<'a>(r: &'a CheckReport, code: &str) -> &'a mta_sts_check::check::Finding {
    r.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no finding {code}: {:#?}", r.findings))
}

fn mx<'a>(r: &'a CheckReport, host: &str) -> &'a mta_sts_check::check::MxReport {
    r.mx.iter()
        .find(|m| m.host == host)
        .unwrap_or_else(|| panic!("no MX {host}: {:#?}", r.mx))
}

#[tokio::test]
async fn good_domain_sts_cert_07_09_sni_and_tls_versions() {
    let ran = Setup::new().run().await;
    let r = &ran.report;
    assert!(!r.exit_failed(), "{:#?}", r.findings);
    assert!(r.passed);
    assert_eq!(r.findings, []);
    let v = serde_json::to_value(r).unwrap();
    assert_eq!(v["domain"], "example.com");
    assert_eq!(v["passed"], true);
    assert_eq!(
        v["sts_record"],
        json!({
            "status": "valid",
            "id": "20240101T000000",
            "name": "_mta-sts.example.com",
            "records": ["v=STSv1; id=20240101T000000", "v=spf1 -all"],
            "reason": null,
        })
    );
    let port = ran.https.addr().port();
    assert_ne!(port, 443);
    assert_eq!(
        v["policy"],
        json!({
            "status": "ok",
            "reason": null,
            "url": "https://mta-sts.example.com/.well-known/mta-sts.txt",
            "http_status": 200,
            "content_type": "text/plain",
            "mode": "enforce",
            "max_age": 1209600,
            "mx": ["mx1.example.com", "mx2.example.com"],
            "lint": [],
        })
    );
    assert_eq!(v["applied"], "enforce");
    assert_eq!(
        v["tlsrpt_record"],
        json!({
            "status": "valid",
            "rua": ["mailto:tlsrpt@example.com"],
            "name": "_smtp._tls.example.com",
            "reason": null,
        })
    );
    assert_eq!(v["findings"], json!([]));
    let smtp_addr = ran.smtp.addr();
    let mxs = v["mx"].as_array().unwrap();
    assert_eq!(mxs.len(), 2);
    for (m, host, pref) in [
        (&mxs[0], "mx1.example.com", 10),
        (&mxs[1], "mx2.example.com", 20),
    ] {
        assert_eq!(m["host"], host);
        assert_eq!(m["preference"], pref);
        assert_eq!(m["implicit"], false);
        assert_eq!(m["in_policy"], true);
        assert_eq!(m["pattern"], host);
        assert_eq!(m["addresses"], json!(["127.0.0.1"]));
        assert_eq!(m["address"], smtp_addr.to_string());
        assert_eq!(m["banner"], "mx.example.com ESMTP test-support");
        assert_eq!(m["starttls"], true);
        assert!(
            ["TLSv1.2", "TLSv1.3"].contains(&m["tls_version"].as_str().unwrap()),
            "{m}"
        );
        assert!(m["cipher"].as_str().unwrap().starts_with("TLS"), "{m}");
        assert_eq!(m["certificate"], "valid");
        assert!(
            m["certificate_reason"].as_str().unwrap().contains(host),
            "{m}"
        );
        assert_eq!(m["certificate_names"], json!([host]));
        assert!(
            m["certificate_issuer"]
                .as_str()
                .unwrap()
                .contains("test-support CA")
        );
        assert!(m["certificate_not_after"].as_str().unwrap().ends_with('Z'));
        assert_eq!(m["result"], "success");
        assert_eq!(m["failures"], json!([]));
        assert_eq!(m["error"], json!(null));
        assert!(m.get("chain").is_none());
    }
    // The chain is captured (leaf, then the CA).
    assert_eq!(r.mx[0].chain.len(), 2);

    // SNI = the MX name (STS-CERT-07); the whole dialogue.
    let sessions = ran.smtp.sessions();
    let mut snis: Vec<_> = sessions.iter().map(|s| s.sni.clone().unwrap()).collect();
    snis.sort();
    assert_eq!(snis, ["mx1.example.com", "mx2.example.com"]);
    for s in &sessions {
        assert!(s.tls);
        let verbs: Vec<&str> = s
            .commands
            .iter()
            .map(|c| c.split(' ').next().unwrap())
            .collect();
        assert_eq!(verbs, ["EHLO", "STARTTLS", "EHLO", "QUIT"]);
        assert_eq!(s.commands[0], "EHLO [127.0.0.1]");
    }
    // One policy GET, SNI and Host unchanged despite the port override.
    let reqs = ran.https.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, POLICY_PATH);
    assert_eq!(reqs[0].sni.as_deref(), Some("mta-sts.example.com"));
    assert_eq!(reqs[0].host.as_deref(), Some("mta-sts.example.com"));
    // Only the test DNS server was asked.
    assert!(
        ran.dns
            .queries()
            .iter()
            .any(|q| q.name == "_mta-sts.example.com.")
    );
}

fn assert_policy_failed(r: &CheckReport, status: &str, code: &str) {
    assert_eq!(r.policy.status.as_str(), status, "{:#?}", r.policy);
    assert!(r.exit_failed());
    assert_eq!(r.applied, Applied::NoPolicy);
    assert_eq!(r.policy.mode, None);
    let f = finding(r, code);
    assert_eq!(f.severity.as_str(), "error");
    // Without a policy, MX results are null, and the MX hosts are fine.
    for m in &r.mx {
        assert_eq!(m.in_policy, None);
        assert_eq!(m.result, None);
        assert_eq!(m.certificate, Some(CertStatus::Valid));
    }
    assert_eq!(codes(r), [code], "{:#?}", r.findings);
}

#[tokio::test]
async fn policy_404() {
    let ran = Setup::new()
        .policy(Response::with_status(404, Some("text/plain"), POLICY))
        .run()
        .await;
    let r = &ran.report;
    assert_policy_failed(r, "sts-policy-fetch-error", "policy-http-status");
    assert_eq!(r.policy.http_status, Some(404));
    let f = finding(r, "policy-http-status");
    assert!(f.message.contains("HTTP 404"), "{f:?}");
    assert!(f.remediation.contains("status 200"), "{f:?}");
}

#[tokio::test]
async fn policy_redirect_is_not_followed() {
    let setup = Setup::new();
    let mut setup = setup.policy(Response::Redirect {
        status: 301,
        location: "https://mta-sts.example.com/moved.txt".into(),
    });
    setup.routes = setup.routes.route(
        "mta-sts.example.com",
        "/moved.txt",
        Response::policy(POLICY),
    );
    let ran = setup.run().await;
    let r = &ran.report;
    assert_policy_failed(r, "sts-policy-fetch-error", "policy-redirect");
    assert!(finding(r, "policy-redirect").message.contains("redirect"));
    let paths: Vec<String> = ran.https.requests().into_iter().map(|q| q.path).collect();
    assert_eq!(paths, [POLICY_PATH]);
}

#[tokio::test]
async fn policy_text_html() {
    let ran = Setup::new()
        .policy(Response::with_status(200, Some("text/html"), POLICY))
        .run()
        .await;
    let r = &ran.report;
    assert_policy_failed(r, "sts-policy-invalid", "policy-content-type");
    let f = finding(r, "policy-content-type");
    assert!(
        f.message
            .starts_with("policy served with Content-Type text/html"),
        "{f:?}"
    );
    assert_eq!(f.remediation, "serve it as text/plain");
}

#[tokio::test]
async fn policy_too_large() {
    let body = format!("{POLICY}{}", "#".repeat(65 * 1024));
    let ran = Setup::new()
        .policy(Response::Chunked {
            body: body.into_bytes(),
        })
        .run()
        .await;
    let r = &ran.report;
    assert_policy_failed(r, "sts-policy-invalid", "policy-too-large");
}

#[tokio::test]
async fn policy_trickle_times_out() {
    let mut setup = Setup::new().policy(Response::Trickle {
        chunk: b"version: STSv1\n".to_vec(),
        interval: Duration::from_millis(300),
        count: 30,
    });
    setup.options.fetch_timeout = Duration::from_secs(1);
    let start = Instant::now();
    let ran = setup.run().await;
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    let r = &ran.report;
    assert_policy_failed(r, "sts-policy-fetch-error", "policy-timeout");
    assert!(r.policy.reason.as_deref().unwrap().contains("timed out"));
}

#[tokio::test]
async fn policy_host_wrong_name() {
    let mut setup = Setup::new();
    setup.https_cert = Some(setup.ca.issue(&["www.example.com"]));
    let ran = setup.run().await;
    let r = &ran.report;
    assert_policy_failed(r, "sts-webpki-invalid", "policy-certificate");
    assert!(
        r.policy.reason.as_deref().unwrap().contains("host name"),
        "{:?}",
        r.policy.reason
    );
    assert!(
        finding(r, "policy-certificate")
            .remediation
            .contains("mta-sts.example.com")
    );
}

#[tokio::test]
async fn policy_host_untrusted() {
    let mut setup = Setup::new();
    setup.https_cert = Some(TestCa::new().issue(&["mta-sts.example.com"]));
    let ran = setup.run().await;
    let r = &ran.report;
    assert_policy_failed(r, "sts-webpki-invalid", "policy-certificate");
    assert!(
        r.policy.reason.as_deref().unwrap().contains("not trusted"),
        "{:?}",
        r.policy.reason
    );
    assert!(ran.https.requests().is_empty());
}

#[tokio::test]
async fn mx_without_starttls() {
    let mut setup = Setup::new();
    setup.smtp = Some(SmtpOptions::plain("mx.example.com"));
    let ran = setup.run().await;
    let r = &ran.report;
    assert!(r.exit_failed());
    for host in ["mx1.example.com", "mx2.example.com"] {
        let m = mx(r, host);
        assert_eq!(m.starttls, Some(false));
        assert_eq!(m.certificate, None);
        assert_eq!(m.result.as_deref(), Some("starttls-not-supported"));
        assert_eq!(m.in_policy, Some(true));
    }
    let f = finding(r, "mx-starttls-not-supported");
    assert_eq!(f.severity.as_str(), "error");
    assert_eq!(f.message, "MX mx1.example.com does not offer STARTTLS");
    for s in ran.smtp.sessions() {
        assert!(!s.commands.iter().any(|c| c == "STARTTLS"));
        assert_eq!(s.commands.last().map(String::as_str), Some("QUIT"));
    }
}

#[tokio::test]
async fn mx_starttls_advertised_but_refused() {
    let mut setup = Setup::new();
    let mut opts = SmtpOptions::plain("mx.example.com");
    opts.advertise_starttls = true;
    setup.smtp = Some(opts);
    let ran = setup.run().await;
    let r = &ran.report;
    let m = mx(r, "mx1.example.com");
    assert_eq!(m.starttls, Some(false));
    assert_eq!(m.result.as_deref(), Some("starttls-not-supported"));
    let f = finding(r, "mx-starttls-not-supported");
    assert!(f.message.contains("refuses it (454"), "{f:?}");
}

/// Runs the good setup with `mx2.example.com`'s certificate replaced.
async fn with_mx2_cert(mx2: impl FnOnce(&TestCa) -> Leaf) -> Ran {
    let mut setup = Setup::new();
    let mx1 = setup.ca.issue(&["mx1.example.com"]);
    let certs = CertSet::new(mx1.clone())
        .with_sni("mx1.example.com", mx1)
        .with_sni("mx2.example.com", mx2(&setup.ca));
    setup.smtp = Some(SmtpOptions::starttls("mx.example.com", certs));
    setup.run().await
}

fn assert_mx2_cert(r: &CheckReport, status: CertStatus) {
    assert!(r.exit_failed());
    assert_eq!(mx(r, "mx1.example.com").result.as_deref(), Some("success"));
    let m = mx(r, "mx2.example.com");
    assert_eq!(m.starttls, Some(true));
    assert_eq!(m.certificate, Some(status));
    assert_eq!(m.result.as_deref(), Some(status.as_str()));
    assert_eq!(m.failures.len(), 1);
    assert_eq!(codes(r), [format!("mx-{status}")]);
}

#[tokio::test]
async fn mx_expired_certificate() {
    let ran = with_mx2_cert(|ca| {
        let now = time::OffsetDateTime::now_utc();
        ca.issue_with(
            &["mx2.example.com"],
            now - time::Duration::days(30),
            now - time::Duration::days(1),
        )
    })
    .await;
    let r = &ran.report;
    assert_mx2_cert(r, CertStatus::CertificateExpired);
    let f = finding(r, "mx-certificate-expired");
    assert!(
        f.message
            .starts_with("mx2.example.com presents a certificate that expired at "),
        "{f:?}"
    );
    assert!(f.remediation.contains("renew"));
}

#[tokio::test]
async fn mx_certificate_for_another_name() {
    let ran = with_mx2_cert(|ca| ca.issue(&["mx1.example.com"])).await;
    let r = &ran.report;
    assert_mx2_cert(r, CertStatus::CertificateHostMismatch);
    let f = finding(r, "mx-certificate-host-mismatch");
    assert_eq!(
        f.message,
        "mx2.example.com presents a certificate for mx1.example.com"
    );
    assert!(
        f.remediation
            .starts_with("add mx2.example.com to the certificate's subjectAltName"),
        "{f:?}"
    );
    assert_eq!(
        mx(r, "mx2.example.com").certificate_names,
        ["mx1.example.com"]
    );
}

#[tokio::test]
async fn mx_certificate_untrusted() {
    let ran = with_mx2_cert(|_| TestCa::new().issue(&["mx2.example.com"])).await;
    let r = &ran.report;
    assert_mx2_cert(r, CertStatus::CertificateNotTrusted);
    let f = finding(r, "mx-certificate-not-trusted");
    assert!(
        f.message.contains("does not chain to a trusted root"),
        "{f:?}"
    );
    // The chain was captured although validation failed.
    assert_eq!(mx(r, "mx2.example.com").chain.len(), 2);
}

#[tokio::test]
async fn mx_self_signed_wrong_name() {
    let ran = with_mx2_cert(|_| TestCa::self_signed(&["other.example"])).await;
    let r = &ran.report;
    assert_mx2_cert(r, CertStatus::CertificateNotTrusted);
    let m = mx(r, "mx2.example.com");
    assert_eq!(m.chain.len(), 1);
    let reason = m.certificate_reason.as_deref().unwrap();
    assert!(reason.contains("other.example"), "{reason}");
}

#[tokio::test]
async fn mx_not_in_policy() {
    let mut setup = Setup::new();
    setup.zones = setup.zones.mx(D, 30, "mx3.other.example");
    let ran = setup.run().await;
    let r = &ran.report;
    assert!(r.exit_failed());
    assert_eq!(r.mx.len(), 3);
    let m = &r.mx[2];
    assert_eq!(m.host, "mx3.other.example");
    assert_eq!(m.in_policy, Some(false));
    assert_eq!(m.pattern, None);
    assert_eq!(m.certificate, Some(CertStatus::Valid));
    assert_eq!(m.result.as_deref(), Some("validation-failure"));
    let f = finding(r, "mx-not-in-policy");
    assert!(
        f.message
            .starts_with("MX mx3.other.example is not covered by any mx pattern"),
        "{f:?}"
    );
    assert!(
        f.remediation
            .starts_with("add `mx: mx3.other.example` to the policy"),
        "{f:?}"
    );
    assert_eq!(codes(r), ["mx-not-in-policy"]);
    let mut snis: Vec<_> = ran
        .smtp
        .sessions()
        .into_iter()
        .filter_map(|s| s.sni)
        .collect();
    snis.sort();
    assert_eq!(
        snis,
        ["mx1.example.com", "mx2.example.com", "mx3.other.example"]
    );
}

#[tokio::test]
async fn testing_mode_reports_failures_as_errors() {
    let policy = POLICY.replace("enforce", "testing");
    let mut setup = Setup::new();
    setup.routes = Routes::new().policy(D, policy);
    setup.smtp = Some(SmtpOptions::plain("mx.example.com"));
    let ran = setup.run().await;
    let r = &ran.report;
    assert_eq!(r.applied, Applied::Testing);
    assert!(r.exit_failed());
    assert_eq!(finding(r, "lint-testing-mode").severity.as_str(), "warning");
    assert_eq!(
        finding(r, "mx-starttls-not-supported").severity.as_str(),
        "error"
    );
}

#[tokio::test]
async fn mode_none_makes_tls_problems_warnings() {
    let policy = "version: STSv1\nmode: none\nmax_age: 86400\n";
    let mut setup = Setup::new();
    setup.routes = Routes::new().policy(D, policy);
    setup.smtp = Some(SmtpOptions::plain("mx.example.com"));
    let ran = setup.run().await;
    let r = &ran.report;
    assert_eq!(r.applied, Applied::None);
    assert!(!r.exit_failed(), "{:#?}", r.findings);
    assert_eq!(mx(r, "mx1.example.com").result, None);
    // No policy applies under `mode: none`: neither in nor out of it.
    assert_eq!(mx(r, "mx1.example.com").in_policy, None);
    assert_eq!(mx(r, "mx1.example.com").pattern, None);
    assert_eq!(
        finding(r, "mx-starttls-not-supported").severity.as_str(),
        "warning"
    );
}

#[tokio::test]
async fn tlsrpt_absent_is_a_warning() {
    let mut setup = Setup::new();
    setup.zones = Zones::new()
        .txt("_mta-sts.example.com", &["v=STSv1; id=1"])
        .mx(D, 10, "mx1.example.com")
        .a("mta-sts.example.com", LOCAL)
        .a("mx1.example.com", LOCAL);
    let ran = setup.run().await;
    let r = &ran.report;
    assert!(!r.exit_failed(), "{:#?}", r.findings);
    assert_eq!(r.tlsrpt_record.status, RecordStatus::Absent);
    assert!(r.tlsrpt_record.rua.is_empty());
    let f = finding(r, "tlsrpt-absent");
    assert_eq!(f.severity.as_str(), "warning");
    assert!(
        f.remediation
            .contains("v=TLSRPTv1; rua=mailto:tlsrpt@example.com"),
        "{f:?}"
    );
    assert_eq!(codes(r), ["tlsrpt-absent"]);
}

#[tokio::test]
async fn tlsrpt_multiple_and_invalid() {
    for (records, status, code) in [
        (
            vec![
                "v=TLSRPTv1; rua=mailto:a@example.com",
                "v=TLSRPTv1; rua=mailto:b@example.com",
            ],
            RecordStatus::Multiple,
            "tlsrpt-multiple",
        ),
        (
            vec!["v=TLSRPTv1; foo=bar"],
            RecordStatus::Invalid,
            "tlsrpt-invalid",
        ),
        (
            vec!["v=TLSRPTv1; rua=http://r.example.com/"],
            RecordStatus::Invalid,
            "tlsrpt-invalid",
        ),
    ] {
        let mut setup = Setup::new();
        let mut zones = Zones::new()
            .txt("_mta-sts.example.com", &["v=STSv1; id=1"])
            .mx(D, 10, "mx1.example.com")
            .mx(D, 20, "mx2.example.com")
            .a("mta-sts.example.com", LOCAL)
            .a("mx1.example.com", LOCAL)
            .a("mx2.example.com", LOCAL);
        for rec in &records {
            zones = zones.txt("_smtp._tls.example.com", &[rec]);
        }
        setup.zones = zones;
        let ran = setup.run().await;
        let r = &ran.report;
        assert_eq!(r.tlsrpt_record.status, status, "{records:?}");
        assert_eq!(codes(r), [code], "{records:?}");
        assert!(!r.exit_failed());
    }
}

#[tokio::test]
async fn sts_record_absent_but_policy_served() {
    let mut setup = Setup::new();
    setup.zones = Zones::new()
        .txt("_mta-sts.example.com", &["v=spf1 -all"])
        .txt(
            "_smtp._tls.example.com",
            &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
        )
        .mx(D, 10, "mx1.example.com")
        .a("mta-sts.example.com", LOCAL)
        .a("mx1.example.com", LOCAL);
    let ran = setup.run().await;
    let r = &ran.report;
    // No record: the domain does not use MTA-STS; nothing fails.
    assert!(!r.exit_failed());
    assert_eq!(finding(r, "sts-record-absent").severity, Severity::Warning);
    assert_eq!(r.sts_record.status, RecordStatus::Absent);
    assert_eq!(r.sts_record.id, None);
    assert_eq!(r.policy.status, PolicyStatus::NotAttempted);
    assert_eq!(r.applied, Applied::NoPolicy);
    assert_eq!(codes(r), ["sts-record-absent", "policy-without-record"]);
    assert!(
        finding(r, "sts-record-absent")
            .remediation
            .contains("v=STSv1; id=")
    );
    let m = mx(r, "mx1.example.com");
    assert_eq!((m.in_policy, m.result.as_deref()), (None, None));
    assert_eq!(m.certificate, Some(CertStatus::Valid));
}

#[tokio::test]
async fn sts_record_nxdomain_and_no_policy() {
    let mut setup = Setup::new();
    setup.zones = Zones::new()
        .mx(D, 10, "mx1.example.com")
        .a("mx1.example.com", LOCAL)
        .txt(
            "_smtp._tls.example.com",
            &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
        );
    let ran = setup.run().await;
    let r = &ran.report;
    assert_eq!(r.sts_record.status, RecordStatus::Absent);
    assert_eq!(r.policy.status, PolicyStatus::NotAttempted);
    assert_eq!(codes(r), ["sts-record-absent"]);
    assert!(!r.exit_failed());
    assert!(ran.https.requests().is_empty());
}

#[tokio::test]
async fn sts_record_multiple_and_invalid() {
    for (records, status, code) in [
        (
            vec!["v=STSv1; id=1", "v=STSv1; id=2"],
            RecordStatus::Multiple,
            "sts-record-multiple",
        ),
        (
            vec!["v=STSv1; id=bad!"],
            RecordStatus::Invalid,
            "sts-record-invalid",
        ),
    ] {
        let mut setup = Setup::new();
        let mut zones = good_zones_without_sts();
        for rec in &records {
            zones = zones.txt("_mta-sts.example.com", &[rec]);
        }
        setup.zones = zones;
        let ran = setup.run().await;
        let r = &ran.report;
        assert_eq!(r.sts_record.status, status, "{records:?}");
        assert_eq!(r.policy.status, PolicyStatus::NotAttempted);
        assert_eq!(r.applied, Applied::NoPolicy);
        assert!(r.exit_failed());
        assert_eq!(codes(r), [code, "policy-without-record"], "{records:?}");
    }
}

fn good_zones_without_sts() -> Zones {
    Zones::new()
        .txt(
            "_smtp._tls.example.com",
            &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
        )
        .mx(D, 10, "mx1.example.com")
        .mx(D, 20, "mx2.example.com")
        .a("mta-sts.example.com", LOCAL)
        .a("mx1.example.com", LOCAL)
        .a("mx2.example.com", LOCAL)
}

#[tokio::test]
async fn sts_record_temperror() {
    let mut setup = Setup::new();
    setup.zones = good_zones_without_sts().servfail("_mta-sts.example.com");
    let ran = setup.run().await;
    let r = &ran.report;
    assert_eq!(r.sts_record.status, RecordStatus::Temperror);
    assert!(r.exit_failed());
    assert_eq!(
        finding(r, "sts-record-temperror").severity.as_str(),
        "error"
    );
}

#[tokio::test]
async fn implicit_mx() {
    let mut setup = Setup::new();
    setup.zones = Zones::new()
        .txt("_mta-sts.example.com", &["v=STSv1; id=1"])
        .txt(
            "_smtp._tls.example.com",
            &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
        )
        .a("mta-sts.example.com", LOCAL)
        .a(D, LOCAL);
    setup.routes = Routes::new().policy(
        D,
        "version: STSv1\nmode: enforce\nmx: example.com\nmax_age: 1209600\n",
    );
    let cert = setup.ca.issue(&[D]);
    setup.smtp = Some(SmtpOptions::starttls("example.com", cert));
    let ran = setup.run().await;
    let r = &ran.report;
    assert!(!r.exit_failed(), "{:#?}", r.findings);
    assert_eq!(r.mx.len(), 1);
    assert!(r.mx[0].implicit);
    assert_eq!(r.mx[0].host, D);
    assert_eq!(r.mx[0].result.as_deref(), Some("success"));
    assert_eq!(codes(r), ["mx-implicit"]);
    assert_eq!(ran.smtp.sessions()[0].sni.as_deref(), Some(D));
}

#[tokio::test]
async fn unreachable_mx_hosts() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind((LOCAL, 0)).unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dns = DnsServer::start(good_zones()).await.unwrap();
    let ca = TestCa::new();
    let https = HttpsServer::start(
        &ca.issue(&["mta-sts.example.com"]),
        Routes::new().policy(D, POLICY),
    )
    .await
    .unwrap();
    let ca_file = CaFile::new(&ca);
    let overrides = Overrides {
        resolver: Some(dns.addr()),
        ca_file: Some(ca_file.0.clone()),
        https_port: Some(https.addr().port()),
        smtp_port: Some(port),
        ..Overrides::default()
    };
    let r = check_domain(D, &overrides, &CheckOptions::default())
        .await
        .unwrap();
    assert!(r.exit_failed());
    for m in &r.mx {
        assert_eq!(m.starttls, None);
        assert_eq!(m.result, None);
        assert!(
            m.error.as_deref().unwrap().contains("cannot connect"),
            "{m:?}"
        );
    }
    assert_eq!(
        codes(&r),
        ["mx-unreachable", "mx-unreachable", "mx-none-probed"]
    );
}

#[tokio::test]
async fn setup_errors() {
    let o = Overrides {
        resolver: Some("127.0.0.1:9".parse().unwrap()),
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..Overrides::default()
    };
    let e = check_domain(D, &o, &CheckOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    let e = check_domain("not a domain", &o, &CheckOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid domain"), "{e}");
}

/// A one-connection SMTP server that follows `script`: `Some(reply)` is
/// written after reading one command line (the first one before reading
/// anything), `None` stops answering.
async fn scripted(script: Vec<Option<Vec<u8>>>) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind((LOCAL, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut conn = BufReader::new(tcp);
        for (i, step) in script.into_iter().enumerate() {
            if i > 0 {
                let mut line = Vec::new();
                if conn.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                    return;
                }
            }
            match step {
                Some(bytes) => {
                    if conn.get_mut().write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
            }
        }
    });
    port
}

#[tokio::test]
async fn hostile_smtp_servers() {
    use mta_sts_check::smtp::{ProbeConfig, probe};
    let ehlo = b"250-mx\r\n250 STARTTLS\r\n".to_vec();
    let ready = b"220 go ahead\r\n".to_vec();
    let cases: Vec<(Vec<Option<Vec<u8>>>, &str)> = vec![
        (
            vec![Some(format!("220 {}", "x".repeat(5000)).into_bytes())],
            "longer than 1000",
        ),
        (
            vec![Some("220-x\r\n".repeat(150).into_bytes())],
            "longer than 100 lines",
        ),
        (vec![None], "timed out"),
        (
            vec![Some(b"554 go away\r\n".to_vec())],
            "greeting is not 220",
        ),
        (
            vec![Some(b"220 mx\r\n".to_vec()), Some(b"hello\r\n".to_vec())],
            "malformed reply",
        ),
        (
            vec![
                Some(b"220 mx\r\n".to_vec()),
                Some(b"250-a\r\n354 b\r\n".to_vec()),
            ],
            "differ",
        ),
        (
            vec![
                Some(b"220 mx\r\n".to_vec()),
                Some(ehlo.clone()),
                Some(ready.clone()),
                Some(vec![0x16; 4000]),
            ],
            "TLS handshake failed",
        ),
        (
            vec![
                Some(b"220 mx\r\n".to_vec()),
                Some(ehlo.clone()),
                Some(ready.clone()),
            ],
            "TLS handshake failed",
        ),
        (
            vec![
                Some(b"220 mx\r\n".to_vec()),
                Some(ehlo.clone()),
                Some(ready),
                None,
            ],
            "TLS handshake failed",
        ),
    ];
    let ca = TestCa::new();
    for (script, expect) in cases {
        let port = scripted(script).await;
        let mut config = ProbeConfig::new(ca.root_store());
        config.port = port;
        config.timeout = Duration::from_millis(800);
        let start = Instant::now();
        let r = probe("mx1.example.com", &[LOCAL.into()], &config).await;
        assert!(start.elapsed() < Duration::from_secs(2));
        let text = match (&r.tls, &r.error) {
            (Some(t), _) => {
                assert_eq!(t.status, CertStatus::ValidationFailure, "{r:?}");
                assert_eq!(r.starttls(), Some(true));
                t.reason.clone()
            }
            (None, Some(e)) => e.clone(),
            (None, None) => panic!("no error: {r:?}"),
        };
        assert!(text.contains(expect), "{expect}: {r:?}");
    }
}
