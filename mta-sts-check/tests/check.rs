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
    // The policy host's certificate, read by a handshake of its own.
    let not_after = v["policy"]["certificate_not_after"].as_str().unwrap();
    assert!(not_after.ends_with('Z'), "{not_after}");
    let mut policy = v["policy"].clone();
    policy
        .as_object_mut()
        .unwrap()
        .remove("certificate_not_after");
    assert_eq!(
        policy,
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
        assert_eq!(m["probe"], "done");
        assert_eq!(
            m["dane"],
            json!({
                "name": format!("_25._tcp.{host}"),
                "status": "absent",
                "records": [],
                "dnssec": "unknown",
                "error": null,
            })
        );
        assert!(m.get("chain").is_none());
    }
    assert_eq!(
        v["summary"],
        json!({
            "record": "valid",
            "policy": "ok",
            "mode": "enforce",
            "mx_covered": 2,
            "mx_total": 2,
            "certificates": "ok",
            "tlsrpt": "valid",
            "dane": "none",
            "errors": 0,
            "warnings": 0,
        })
    );
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

// ------------------------------------------------ issue 14 item 4

/// A leaf for `names` valid from a day ago until `days` days from now.
fn expiring_in(ca: &TestCa, names: &[&str], days: i64) -> Leaf {
    let now = time::OffsetDateTime::now_utc();
    ca.issue_with(
        names,
        now - time::Duration::days(1),
        now + time::Duration::days(days),
    )
}

/// Certificates that expire in 2 days (error under `enforce`), 10 days
/// (warning) and 60 days (nothing), on MX hosts and on the policy host.
#[tokio::test]
async fn certificate_expiry_of_mx_and_policy_hosts() {
    // MX hosts: mx1 in 2 days, mx2 in 10 days; the policy host in 60 days.
    let mut setup = Setup::new();
    let mx1 = expiring_in(&setup.ca, &["mx1.example.com"], 2);
    let certs = CertSet::new(mx1.clone())
        .with_sni("mx1.example.com", mx1)
        .with_sni(
            "mx2.example.com",
            expiring_in(&setup.ca, &["mx2.example.com"], 10),
        );
    setup.smtp = Some(SmtpOptions::starttls("mx.example.com", certs));
    setup.https_cert = Some(expiring_in(&setup.ca, &["mta-sts.example.com"], 60));
    let ran = setup.run().await;
    let r = &ran.report;
    assert_eq!(
        codes(r),
        ["mx-certificate-expiring", "mx-certificate-expiring"],
        "{:#?}",
        r.findings
    );
    assert!(r.exit_failed());
    for m in &r.mx {
        assert_eq!(m.certificate, Some(CertStatus::Valid));
        assert_eq!(m.result.as_deref(), Some("success"));
    }
    let (e, w) = (&r.findings[0], &r.findings[1]);
    assert_eq!(e.severity, Severity::Error);
    let mx1_after = mx(r, "mx1.example.com")
        .certificate_not_after
        .clone()
        .unwrap();
    assert_eq!(
        e.message,
        format!(
            "the certificate of MX mx1.example.com expires at {mx1_after}, in 2 days: senders applying the policy refuse it (enforce) or report it (testing) once it has expired"
        )
    );
    assert_eq!(
        e.remediation,
        "renew the certificate of mx1.example.com now (and automate its renewal)"
    );
    assert_eq!(w.severity, Severity::Warning);
    assert!(
        w.message
            .starts_with("the certificate of MX mx2.example.com expires at ")
            && w.message.contains(", in 10 days: "),
        "{w:?}"
    );
    assert_eq!(r.summary.certificates.as_str(), "expiring");
    assert_eq!((r.summary.errors, r.summary.warnings), (1, 1));
    assert!(r.policy.certificate_not_after.is_some());

    // The policy host in 2 days (error: the policy is in use), then in 10
    // days (warning); the MX hosts in 60 days.
    for (days, severity) in [(2, Severity::Error), (10, Severity::Warning)] {
        let mut setup = Setup::new();
        let certs = CertSet::new(expiring_in(&setup.ca, &["mx1.example.com"], 60)).with_sni(
            "mx2.example.com",
            expiring_in(&setup.ca, &["mx2.example.com"], 60),
        );
        setup.smtp = Some(SmtpOptions::starttls("mx.example.com", certs));
        setup.https_cert = Some(expiring_in(&setup.ca, &["mta-sts.example.com"], days));
        let ran = setup.run().await;
        let r = &ran.report;
        assert_eq!(
            codes(r),
            ["policy-certificate-expiring"],
            "{:#?}",
            r.findings
        );
        let f = &r.findings[0];
        assert_eq!(f.severity, severity);
        let after = r.policy.certificate_not_after.clone().unwrap();
        assert_eq!(
            f.message,
            format!(
                "the certificate of mta-sts.example.com expires at {after}, in {days} days: senders cannot fetch or refresh the policy once it has expired"
            )
        );
        assert_eq!(r.policy.status, PolicyStatus::Ok);
        assert_eq!(r.exit_failed(), severity == Severity::Error);
        // The policy was fetched once; the certificate came from a
        // handshake without a request.
        assert_eq!(ran.https.requests().len(), 1);
    }
}

/// `probe_smtp: false`: the MX hosts are looked up and matched, not
/// probed; one info finding, no failure.
#[tokio::test]
async fn no_smtp_probes() {
    let mut setup = Setup::new();
    setup.options.probe_smtp = false;
    let ran = setup.run().await;
    let r = &ran.report;
    assert!(ran.smtp.sessions().is_empty());
    assert_eq!(codes(r), ["mx-not-probed"], "{:#?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(
        f.message,
        "the MX hosts were not probed over SMTP (probes turned off): STARTTLS and the certificates of 2 MX hosts are not verified"
    );
    assert!(r.passed && !r.exit_failed());
    for m in &r.mx {
        assert_eq!(m.probe.as_str(), "not-probed");
        assert_eq!(m.in_policy, Some(true));
        assert_eq!(m.starttls, None);
        assert_eq!(m.certificate, None);
        assert_eq!(m.result, None);
        assert_eq!(m.addresses, [std::net::IpAddr::from(LOCAL)]);
    }
    assert_eq!(r.summary.certificates.as_str(), "not-probed");
    assert_eq!(r.summary.mx_covered, Some(2));
    let v = serde_json::to_value(r).unwrap();
    assert_eq!(v["mx"][0]["probe"], "not-probed");
    assert_eq!(v["summary"]["certificates"], "not-probed");
}

/// DANE: TLSA records at `_25._tcp.<mx>`, with and without the AD bit, and
/// a failed TLSA lookup.
#[tokio::test]
async fn dane_tlsa_records() {
    let mut setup = Setup::new();
    setup.zones = good_zones()
        .tlsa("_25._tcp.mx1.example.com", 3, 1, 1, &[0xab; 32])
        .tlsa("_25._tcp.mx1.example.com", 2, 0, 1, &[0xcd; 32])
        .tlsa("_25._tcp.mx2.example.com", 3, 1, 1, &[0xef; 32])
        .authentic("_25._tcp.mx2.example.com");
    let ran = setup.run().await;
    let r = &ran.report;
    assert_eq!(codes(r), ["dane-tlsa"], "{:#?}", r.findings);
    assert!(r.passed);
    let d1 = mx(r, "mx1.example.com").dane.clone().unwrap();
    assert_eq!(d1.name, "_25._tcp.mx1.example.com");
    assert_eq!(d1.status.as_str(), "present");
    assert_eq!(d1.dnssec.as_str(), "unknown");
    let mut recs = d1.records.clone();
    recs.sort();
    assert_eq!(
        recs,
        [
            format!("2 0 1 {}", "cd".repeat(32)),
            format!("3 1 1 {}", "ab".repeat(32))
        ]
    );
    let d2 = mx(r, "mx2.example.com").dane.clone().unwrap();
    assert_eq!(d2.records, [format!("3 1 1 {}", "ef".repeat(32))]);
    assert_eq!(d2.dnssec.as_str(), "validated");
    let f = &r.findings[0];
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(
        f.message,
        "DANE: TLSA records at _25._tcp.mx1.example.com (2 records, DNSSEC unknown), _25._tcp.mx2.example.com (1 record, DNSSEC validated): senders that support DANE (RFC 7672) use it instead of MTA-STS (RFC 8461 section 2), and ignore TLSA records that DNSSEC does not validate (DNSSEC unknown: the resolver did not set the AD bit, and this check does not validate DNSSEC itself)"
    );
    assert_eq!(r.summary.dane.as_str(), "present");
    assert!(
        ran.dns
            .queries()
            .iter()
            .any(|q| q.name == "_25._tcp.mx1.example.com." && q.rtype == "TLSA")
    );

    // Every TLSA answer validated; a SERVFAIL for mx1's TLSA name.
    let mut setup = Setup::new();
    setup.zones = good_zones()
        .tlsa("_25._tcp.mx2.example.com", 3, 1, 1, &[0xef; 32])
        .authentic("_25._tcp.mx2.example.com");
    let ran = setup.run().await;
    assert_eq!(ran.report.summary.dane.as_str(), "validated");
    assert!(
        ran.report.findings[0]
            .message
            .contains("(1 record, DNSSEC validated): "),
        "{:#?}",
        ran.report.findings
    );
    assert!(!ran.report.findings[0].message.contains("AD bit"));

    let mut setup = Setup::new();
    setup.zones = good_zones().servfail("_25._tcp.mx1.example.com");
    let ran = setup.run().await;
    let r = &ran.report;
    assert_eq!(codes(r), ["dane-lookup"], "{:#?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.starts_with(
            "the TLSA lookup for _25._tcp.mx1.example.com failed (temporary DNS failure: "
        ),
        "{f:?}"
    );
    assert_eq!(
        mx(r, "mx1.example.com")
            .dane
            .as_ref()
            .unwrap()
            .status
            .as_str(),
        "error"
    );
    assert_eq!(r.summary.dane.as_str(), "error");
    assert!(r.passed);
}

/// `max_concurrent_probes` bounds the SMTP sessions of one domain.
#[tokio::test]
async fn max_concurrent_probes_bounds_the_smtp_sessions() {
    for (limit, expected) in [(1, 1), (2, 2), (8, 4)] {
        let mut setup = Setup::new();
        setup.zones = good_zones()
            .mx(D, 30, "mx3.example.com")
            .mx(D, 40, "mx4.example.com")
            .a("mx3.example.com", LOCAL)
            .a("mx4.example.com", LOCAL);
        setup.routes = Routes::new().policy(
            D,
            "version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 1209600\n",
        );
        let mut certs = setup.good_mx_certs();
        for h in ["mx3.example.com", "mx4.example.com"] {
            certs = certs.with_sni(h, setup.ca.issue(&[h]));
        }
        setup.smtp = Some(
            SmtpOptions::starttls("mx.example.com", certs)
                .with_greeting_delay(Duration::from_millis(300)),
        );
        setup.options.max_concurrent_probes = limit;
        let ran = setup.run().await;
        let r = &ran.report;
        assert!(r.passed, "{:#?}", r.findings);
        assert_eq!(r.mx.len(), 4);
        assert_eq!(ran.smtp.sessions().len(), 4);
        assert_eq!(ran.smtp.max_concurrent(), expected, "limit {limit}");
    }
}

/// Zones for `n` domains `d0.example` ... each with one MX host
/// `mx.dN.example`, a valid record, TLS-RPT and addresses.
fn many_zones(n: usize) -> Zones {
    let mut z = Zones::new();
    for i in 0..n {
        let d = format!("d{i}.example");
        z = z
            .txt(&format!("_mta-sts.{d}"), &["v=STSv1; id=1"])
            .txt(
                &format!("_smtp._tls.{d}"),
                &[format!("v=TLSRPTv1; rua=mailto:tlsrpt@{d}")],
            )
            .mx(&d, 10, &format!("mx.{d}"))
            .a(&format!("mta-sts.{d}"), LOCAL)
            .a(&format!("mx.{d}"), LOCAL);
    }
    z
}

/// Servers for [`many_zones`]: one HTTPS server for every policy host and
/// one SMTP server for every MX host (certificates by SNI).
async fn many_servers(n: usize, delay: Duration) -> (TestCa, DnsServer, HttpsServer, SmtpServer) {
    let ca = TestCa::new();
    let dns = DnsServer::start(many_zones(n)).await.unwrap();
    let mut routes = Routes::new();
    let mut https_certs = CertSet::new(ca.issue(&["mta-sts.d0.example"]));
    let mut smtp_certs = CertSet::new(ca.issue(&["mx.d0.example"]));
    for i in 0..n {
        let d = format!("d{i}.example");
        routes = routes.policy(
            &d,
            format!("version: STSv1\nmode: enforce\nmx: mx.{d}\nmax_age: 1209600\n"),
        );
        let (p, m) = (format!("mta-sts.{d}"), format!("mx.{d}"));
        https_certs = https_certs.with_sni(p.clone(), ca.issue(&[&p]));
        smtp_certs = smtp_certs.with_sni(m.clone(), ca.issue(&[&m]));
    }
    let https = HttpsServer::start_with(https_certs, routes).await.unwrap();
    let smtp = SmtpServer::start(
        SmtpOptions::starttls("mx.example", smtp_certs).with_greeting_delay(delay),
    )
    .await
    .unwrap();
    (ca, dns, https, smtp)
}

/// `Checker::check_each`: results in input order, at most `concurrency`
/// domains at once, invalid names as per-domain errors, and a stop.
#[tokio::test]
async fn check_each_in_order_with_bounded_concurrency() {
    use mta_sts_check::Checker;
    use std::ops::ControlFlow;

    let (ca, dns, https, smtp) = many_servers(4, Duration::from_millis(200)).await;
    let ca_file = CaFile::new(&ca);
    let overrides = Overrides {
        resolver: Some(dns.addr()),
        ca_file: Some(ca_file.0.clone()),
        https_port: Some(https.addr().port()),
        smtp_port: Some(smtp.addr().port()),
        ..Overrides::default()
    };
    let checker = Checker::new(&overrides, &Setup::new().options).unwrap();
    let input: Vec<String> = [
        "d3.example",
        "not a domain",
        "D1.Example",
        "d0.example",
        "d2.example",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (concurrency, expected) in [(1, 1), (4, 4)] {
        let before = smtp.sessions().len();
        let mut seen = Vec::new();
        checker
            .check_each(input.clone(), concurrency, |i, domain, result| {
                let outcome = match result {
                    Ok(r) => {
                        assert!(r.passed, "{domain}: {:#?}", r.findings);
                        assert_eq!(r.mx[0].result.as_deref(), Some("success"));
                        r.domain
                    }
                    Err(e) => format!("error: {e}"),
                };
                seen.push((i, domain.to_owned(), outcome));
                ControlFlow::Continue(())
            })
            .await;
        assert_eq!(
            seen,
            [
                (0, "d3.example".into(), "d3.example".into()),
                (
                    1,
                    "not a domain".into(),
                    "error: invalid domain `not a domain`: label 0 has ` `; only letters, digits, `-` and `_` are allowed".into()
                ),
                (2, "D1.Example".into(), "d1.example".into()),
                (3, "d0.example".into(), "d0.example".into()),
                (4, "d2.example".into(), "d2.example".into()),
            ]
        );
        assert_eq!(smtp.sessions().len() - before, 4);
        // The most at once so far: 1 one by one; then, with 4 at once, the
        // four delayed SMTP sessions overlap.
        assert_eq!(smtp.max_concurrent(), expected);
    }

    // Stop after the first result: nothing else is reported.
    let mut calls = 0;
    checker
        .check_each(input.clone(), 2, |_, _, _| {
            calls += 1;
            ControlFlow::Break(())
        })
        .await;
    assert_eq!(calls, 1);
}

/// At most 64 TLSA records are read; a 65th makes the lookup a temporary
/// failure (`policy_fetch::dns::MAX_TLSA_RECORDS`).
#[tokio::test]
async fn tlsa_answers_are_bounded() {
    let mut zones = good_zones();
    for i in 0..65u8 {
        if i < 64 {
            zones = zones.tlsa("_25._tcp.mx1.example.com", 3, 1, 1, &[i; 32]);
        }
        zones = zones.tlsa("_25._tcp.mx2.example.com", 3, 1, 1, &[i; 32]);
    }
    let mut setup = Setup::new();
    setup.zones = zones;
    let ran = setup.run().await;
    let r = &ran.report;
    let d1 = mx(r, "mx1.example.com").dane.clone().unwrap();
    assert_eq!(d1.status.as_str(), "present");
    assert_eq!(d1.records.len(), 64);
    let d2 = mx(r, "mx2.example.com").dane.clone().unwrap();
    assert_eq!(d2.status.as_str(), "error");
    assert_eq!(
        d2.error.as_deref(),
        Some(
            "temporary DNS failure: TLSA answer for _25._tcp.mx2.example.com has more than 64 records"
        )
    );
    assert_eq!(codes(r), ["dane-lookup", "dane-tlsa"], "{:#?}", r.findings);
}
