//! `mtasts check` as a child process against loopback DNS, HTTPS and SMTP
//! servers running in the test's tokio runtime.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::{Run, TempDir, run};
use serde_json::json;
use test_support::{
    CertSet, DnsServer, HttpsServer, POLICY_PATH, Response, Routes, SmtpOptions, SmtpServer,
    TestCa, Zones,
};

const POLICY: &str =
    "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 1209600\n";

struct Servers {
    ca: TestCa,
    dns: DnsServer,
    https: HttpsServer,
    smtp: SmtpServer,
    dir: TempDir,
}

fn zones() -> Zones {
    let local = Ipv4Addr::LOCALHOST;
    Zones::new()
        .txt("_mta-sts.example.com", &["v=STSv1; id=20240101"])
        .txt(
            "_smtp._tls.example.com",
            &["v=TLSRPTv1; rua=mailto:tlsrpt@example.com"],
        )
        .mx("example.com", 10, "mx1.example.com")
        .mx("example.com", 20, "mx2.example.com")
        .a("mta-sts.example.com", local)
        .a("mx1.example.com", local)
        .a("mx2.example.com", local)
}

/// Servers for example.com; `mx2_name` is the name on mx2's certificate.
async fn servers(policy: Response, mx2_name: &str) -> Servers {
    let ca = TestCa::new();
    let dns = DnsServer::start(zones()).await.unwrap();
    let https = HttpsServer::start(
        &ca.issue(&["mta-sts.example.com"]),
        Routes::new().route("mta-sts.example.com", POLICY_PATH, policy),
    )
    .await
    .unwrap();
    let mx1 = ca.issue(&["mx1.example.com"]);
    let certs = CertSet::new(mx1.clone())
        .with_sni("mx1.example.com", mx1)
        .with_sni("mx2.example.com", ca.issue(&[mx2_name]));
    let smtp = SmtpServer::start(SmtpOptions::starttls("mx.example.com", certs))
        .await
        .unwrap();
    Servers {
        ca,
        dns,
        https,
        smtp,
        dir: TempDir::new(),
    }
}

impl Servers {
    /// Run `mtasts check example.com` with the overrides and `extra` args.
    async fn check(&self, extra: &[&str]) -> Run {
        let ca_file = self.dir.write("ca.pem", self.ca.ca_pem());
        let mut args: Vec<String> = vec![
            "check".into(),
            "example.com".into(),
            "--resolver".into(),
            self.dns.addr().to_string(),
            "--ca-file".into(),
            ca_file,
            "--https-port".into(),
            self.https.addr().port().to_string(),
            "--smtp-port".into(),
            self.smtp.addr().port().to_string(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&args)
        })
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_domain_json() {
    let s = servers(Response::policy(POLICY), "mx2.example.com").await;
    let r = s.check(&["--json"]).await.ok();
    assert_eq!(r.stderr, "");
    let v = r.json();
    assert_eq!(v["domain"], "example.com");
    assert_eq!(v["passed"], true);
    assert_eq!(v["sts_record"]["status"], "valid");
    assert_eq!(v["sts_record"]["id"], "20240101");
    assert_eq!(v["policy"]["status"], "ok");
    assert_eq!(v["policy"]["reason"], json!(null));
    assert_eq!(v["policy"]["mode"], "enforce");
    assert_eq!(v["policy"]["max_age"], 1_209_600);
    assert_eq!(
        v["policy"]["mx"],
        json!(["mx1.example.com", "mx2.example.com"])
    );
    assert_eq!(v["applied"], "enforce");
    let mx = v["mx"].as_array().unwrap();
    assert_eq!(mx.len(), 2);
    for (m, host, pref) in [
        (&mx[0], "mx1.example.com", 10),
        (&mx[1], "mx2.example.com", 20),
    ] {
        assert_eq!(m["host"], host);
        assert_eq!(m["preference"], pref);
        assert_eq!(m["in_policy"], true);
        assert_eq!(m["starttls"], true);
        assert_eq!(m["certificate"], "valid");
        assert_eq!(m["result"], "success");
        assert_eq!(m["addresses"], json!(["127.0.0.1"]));
    }
    assert_eq!(
        v["tlsrpt_record"]["status"], "valid",
        "{}",
        v["tlsrpt_record"]
    );
    assert_eq!(
        v["tlsrpt_record"]["rua"],
        json!(["mailto:tlsrpt@example.com"])
    );
    assert_eq!(v["findings"], json!([]));
    let mut snis: Vec<_> = s
        .smtp
        .sessions()
        .into_iter()
        .filter_map(|x| x.sni)
        .collect();
    snis.sort();
    assert_eq!(snis, ["mx1.example.com", "mx2.example.com"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_domain_text() {
    let s = servers(Response::policy(POLICY), "mx2.example.com").await;
    let r = s.check(&[]).await.ok();
    assert_eq!(r.stderr, "");
    let out = &r.stdout;
    assert!(out.starts_with("MTA-STS check of example.com\n"), "{out}");
    assert!(out.contains("ok    TXT _mta-sts.example.com"), "{out}");
    assert!(out.contains("ok    policy"), "{out}");
    assert!(out.contains("ok    MX 10 mx1.example.com"), "{out}");
    assert!(out.contains("ok    MX 20 mx2.example.com"), "{out}");
    assert!(out.contains("certificate valid"), "{out}");
    assert!(!out.contains("Findings:"), "{out}");
    assert!(
        out.ends_with("PASS: 0 errors, 0 warnings, 0 info\n"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mx_certificate_mismatch_fails() {
    let s = servers(Response::policy(POLICY), "mx1.example.com").await;
    let r = s.check(&["--json"]).await;
    let err = r.fails_alone();
    assert_eq!(
        err,
        "error: example.com: 1 error: senders would fail or skip the MTA-STS policy"
    );
    let v = r.json();
    assert_eq!(v["passed"], false);
    assert_eq!(v["mx"][0]["result"], "success");
    assert_eq!(v["mx"][1]["certificate"], "certificate-host-mismatch");
    assert_eq!(v["mx"][1]["result"], "certificate-host-mismatch");
    let f = &v["findings"][0];
    assert_eq!(f["severity"], "error");
    assert_eq!(
        f["message"],
        "mx2.example.com presents a certificate for mx1.example.com"
    );
    assert!(
        f["remediation"]
            .as_str()
            .unwrap()
            .starts_with("add mx2.example.com to the certificate's subjectAltName")
    );

    let r = s.check(&[]).await;
    r.fails_alone();
    assert!(
        r.stdout.contains("FAIL  MX 20 mx2.example.com"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("FAIL  mx2.example.com presents a certificate for mx1.example.com\n      fix: add mx2.example.com"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.ends_with("FAIL: 1 error, 0 warnings, 0 info\n"),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_redirect_fails() {
    let s = servers(
        Response::Redirect {
            status: 302,
            location: "https://elsewhere.example/policy.txt".into(),
        },
        "mx2.example.com",
    )
    .await;
    let r = s.check(&["--json"]).await;
    r.fails_alone();
    let v = r.json();
    assert_eq!(v["policy"]["status"], "sts-policy-fetch-error");
    assert_eq!(v["policy"]["http_status"], 302);
    assert_eq!(v["applied"], "no-policy");
    assert_eq!(v["mx"][0]["in_policy"], json!(null));
    assert_eq!(v["mx"][0]["result"], json!(null));
    assert_eq!(v["findings"][0]["code"], "policy-redirect");
    assert_eq!(s.https.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_option() {
    let s = servers(
        Response::Trickle {
            chunk: b"version: STSv1\n".to_vec(),
            interval: Duration::from_millis(400),
            count: 20,
        },
        "mx2.example.com",
    )
    .await;
    let start = std::time::Instant::now();
    let r = s.check(&["--json", "--timeout", "1"]).await;
    assert!(start.elapsed() < Duration::from_secs(5));
    r.fails_alone();
    let v = r.json();
    assert_eq!(v["policy"]["status"], "sts-policy-fetch-error");
    assert_eq!(v["findings"][0]["code"], "policy-timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_and_usage_errors() {
    let s = servers(Response::policy(POLICY), "mx2.example.com").await;
    let missing = s.dir.path("missing.pem");
    let r = tokio::task::spawn_blocking(move || {
        run(&[
            "check",
            "example.com",
            "--resolver",
            "127.0.0.1:9",
            "--ca-file",
            &missing,
        ])
    })
    .await
    .unwrap();
    let e = r.fails_alone();
    assert!(e.contains("missing.pem"), "{e}");
    assert_eq!(r.stdout, "");
    for args in [
        &["check"][..],
        &["check", "not a domain"],
        &["check", "example.com", "--https-port", "https"],
        &["check", "example.com", "--resolver", "localhost"],
        &["check", "example.com", "--timeout", "0"],
    ] {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let r = tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&a)
        })
        .await
        .unwrap();
        r.usage_error();
    }
}
