//! `mtasts check` as a child process against loopback DNS, HTTPS and SMTP
//! servers running in the test's tokio runtime.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

use common::{Run, TempDir, run};
use serde_json::json;
use test_support::{
    CertSet, DnsServer, HttpsServer, Leaf, POLICY_PATH, Response, Routes, SmtpOptions, SmtpServer,
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

// ------------------------------------------------ many domains (issue 14 item 4)

/// Loopback servers for the domains `d0.example` .. `d{n-1}.example`, each
/// with one MX host `mx.dN.example` (certificates by SNI), plus any extra
/// zone data.
struct Many {
    ca: TestCa,
    dns: DnsServer,
    https: HttpsServer,
    smtp: SmtpServer,
    dir: TempDir,
}

/// What to change for one domain of [`Many`].
#[derive(Default, Clone)]
struct Tweak {
    /// The policy's `mx` line instead of `mx.dN.example`.
    policy_mx: Option<&'static str>,
    /// Days until the MX certificate expires (default 365).
    mx_days: Option<i64>,
}

fn leaf_for(ca: &TestCa, name: &str, days: Option<i64>) -> Leaf {
    match days {
        None => ca.issue(&[name]),
        Some(d) => {
            let now = time::OffsetDateTime::now_utc();
            ca.issue_with(
                &[name],
                now - time::Duration::days(1),
                now + time::Duration::days(d),
            )
        }
    }
}

impl Many {
    async fn start(n: usize, tweaks: HashMap<usize, Tweak>, delay: Option<Duration>) -> Self {
        let ca = TestCa::new();
        let local = Ipv4Addr::LOCALHOST;
        let mut zones = Zones::new();
        let mut routes = Routes::new();
        let mut https_certs = CertSet::new(ca.issue(&["mta-sts.d0.example"]));
        let mut smtp_certs = CertSet::new(ca.issue(&["mx.d0.example"]));
        for i in 0..n {
            let d = format!("d{i}.example");
            let t = tweaks.get(&i).cloned().unwrap_or_default();
            let (p, m) = (format!("mta-sts.{d}"), format!("mx.{d}"));
            zones = zones
                .txt(&format!("_mta-sts.{d}"), &["v=STSv1; id=1"])
                .txt(
                    &format!("_smtp._tls.{d}"),
                    &[format!("v=TLSRPTv1; rua=mailto:tlsrpt@{d}")],
                )
                .mx(&d, 10, &m)
                .a(&p, local)
                .a(&m, local);
            let mx_line = t.policy_mx.map_or(m.clone(), str::to_owned);
            routes = routes.policy(
                &d,
                format!("version: STSv1\nmode: enforce\nmx: {mx_line}\nmax_age: 1209600\n"),
            );
            https_certs = https_certs.with_sni(p.clone(), ca.issue(&[&p]));
            smtp_certs = smtp_certs.with_sni(m.clone(), leaf_for(&ca, &m, t.mx_days));
        }
        let dns = DnsServer::start(zones).await.unwrap();
        let https = HttpsServer::start_with(https_certs, routes).await.unwrap();
        let mut opts = SmtpOptions::starttls("mx.example", smtp_certs);
        opts.greeting_delay = delay;
        let smtp = SmtpServer::start(opts).await.unwrap();
        Self {
            ca,
            dns,
            https,
            smtp,
            dir: TempDir::new(),
        }
    }

    /// Run `mtasts check ARGS` with the overrides.
    async fn check(&self, args: &[&str]) -> Run {
        let ca_file = self.dir.write("ca.pem", self.ca.ca_pem());
        let mut all: Vec<String> = vec!["check".into()];
        all.extend(args.iter().map(|s| (*s).to_owned()));
        all.extend([
            "--resolver".into(),
            self.dns.addr().to_string(),
            "--ca-file".into(),
            ca_file,
            "--https-port".into(),
            self.https.addr().port().to_string(),
            "--smtp-port".into(),
            self.smtp.addr().port().to_string(),
            "--timeout".into(),
            "10".into(),
        ]);
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = all.iter().map(String::as_str).collect();
            run(&a)
        })
        .await
        .unwrap()
    }
}

fn tweak(i: usize, t: Tweak) -> HashMap<usize, Tweak> {
    HashMap::from([(i, t)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_domains_text_blocks_summary_and_exit_status() {
    let bad = Tweak {
        policy_mx: Some("elsewhere.example"),
        ..Tweak::default()
    };
    let s = Many::start(3, tweak(1, bad), None).await;
    // d0 twice (once in capitals): checked once.
    let r = s
        .check(&["d2.example", "d0.example", "d1.example", "D0.Example"])
        .await;
    let err = r.fails_alone();
    assert_eq!(err, "error: 1 of 3 domains failed: d1.example");
    let out = &r.stdout;
    let blocks: Vec<usize> = ["d2.example", "d0.example", "d1.example"]
        .iter()
        .map(|d| out.find(&format!("MTA-STS check of {d}\n")).unwrap())
        .collect();
    assert!(blocks[0] < blocks[1] && blocks[1] < blocks[2], "{out}");
    assert_eq!(out.matches("MTA-STS check of ").count(), 3, "{out}");
    assert!(
        out.contains("FAIL  MX mx.d1.example is not covered by any mx pattern of the policy"),
        "{out}"
    );
    let summary = &out[out.find("\nSummary:\n").expect(out)..];
    assert_eq!(
        summary,
        "\nSummary:\n\
         PASS  d2.example  record valid, policy ok, mode enforce, MX 1/1, certificates ok, TLS-RPT valid, DANE none: 0 errors, 0 warnings\n\
         PASS  d0.example  record valid, policy ok, mode enforce, MX 1/1, certificates ok, TLS-RPT valid, DANE none: 0 errors, 0 warnings\n\
         FAIL  d1.example  record valid, policy ok, mode enforce, MX 0/1, certificates ok, TLS-RPT valid, DANE none: 1 error, 0 warnings\n\
         \n3 domains: 2 passed, 1 failed\n"
    );
    // Exactly one domain: the block alone, no summary, today's error line.
    let r = s.check(&["d1.example"]).await;
    assert_eq!(
        r.fails_alone(),
        "error: d1.example: 1 error: senders would fail or skip the MTA-STS policy"
    );
    assert!(!r.stdout.contains("Summary:"), "{}", r.stdout);
    assert!(
        r.stdout.ends_with("FAIL: 1 error, 0 warnings, 0 info\n"),
        "{}",
        r.stdout
    );
    let r = s.check(&["d0.example", "d2.example"]).await.ok();
    assert!(
        r.stdout.ends_with("\n2 domains: 2 passed, 0 failed\n"),
        "{}",
        r.stdout
    );
    assert_eq!(r.stderr, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_file_json_array_in_order_with_invalid_names() {
    let s = Many::start(3, HashMap::new(), None).await;
    let mut file = b"# domains to watch\r\n\
        d1.example   # the main one\r\n\
        \n\
        \t \n\
        bad name\n\
        D1.EXAMPLE\n\
        d0.example.\n"
        .to_vec();
    file.extend_from_slice(b"caf\xe9.example\na..example\nbad name\nd2.example");
    let path = s.dir.write("domains.txt", &file);
    let r = s.check(&["--domains-file", &path, "--json"]).await;
    assert_eq!(
        r.fails_alone(),
        "error: 3 of 6 domains failed: bad name, caf\u{fffd}.example, a..example"
    );
    let v = r.json();
    let a = v.as_array().expect("an array");
    let domains: Vec<&str> = a.iter().map(|x| x["domain"].as_str().unwrap()).collect();
    assert_eq!(
        domains,
        [
            "d1.example",
            "bad name",
            "d0.example",
            "caf\u{fffd}.example",
            "a..example",
            "d2.example"
        ]
    );
    for (x, ok) in a.iter().zip([true, false, true, false, false, true]) {
        assert_eq!(x["passed"], ok, "{x}");
        if ok {
            assert_eq!(x["summary"]["record"], "valid");
            assert_eq!(x["mx"][0]["result"], "success");
        } else {
            assert!(x.get("findings").is_none(), "{x}");
        }
    }
    assert_eq!(
        a[1]["error"],
        format!(
            "{path} line 5: invalid domain `bad name`: label 0 has ` `; only letters, digits, `-` and `_` are allowed"
        )
    );
    assert_eq!(a[3]["error"], format!("{path} line 8: not UTF-8"));
    assert!(
        a[4]["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{path} line 9: invalid domain `a..example`")),
        "{}",
        a[4]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_shape_object_or_array() {
    let s = Many::start(2, HashMap::new(), None).await;
    // One argument: the object, as before.
    let v = s.check(&["d0.example", "--json"]).await.ok().json();
    assert_eq!(v["domain"], "d0.example");
    assert_eq!(v["summary"]["certificates"], "ok");
    // Two arguments, or a file with one domain: an array.
    let v = s
        .check(&["d0.example", "d1.example", "--format", "json"])
        .await
        .ok()
        .json();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["domain"], "d1.example");
    let path = s.dir.write("one.txt", "d1.example\n");
    let v = s
        .check(&["--domains-file", &path, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["domain"], "d1.example");
    // Even the same domain twice is "more than one argument".
    let v = s
        .check(&["d0.example", "d0.example", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_rows_escaped_and_formula_guarded() {
    let expiring = Tweak {
        mx_days: Some(10),
        ..Tweak::default()
    };
    let s = Many::start(2, tweak(1, expiring), None).await;
    let path = s.dir.write(
        "domains.txt",
        "d0.example\n=cmd|' /C calc'!A0\nd1.example\nsay \"hi\"\n",
    );
    let r = s.check(&["--domains-file", &path, "--format", "csv"]).await;
    r.fails_alone();
    let lines: Vec<&str> = r.stdout.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "domain,passed,record,policy,mode,mx,certificates,tlsrpt,dane,errors,warnings,error",
            "d0.example,true,valid,ok,enforce,1/1,ok,valid,none,0,0,",
            &format!(
                "'=cmd|' /C calc'!A0,false,,,,,,,,,,\"{path} line 2: invalid domain `=cmd|' /C calc'!A0`: label 0 has `=`; only letters, digits, `-` and `_` are allowed\""
            ),
            "d1.example,true,valid,ok,enforce,1/1,expiring,valid,none,0,1,",
            &format!(
                "\"say \"\"hi\"\"\",false,,,,,,,,,,\"{path} line 4: invalid domain `say \"\"hi\"\"`: label 0 has ` `; only letters, digits, `-` and `_` are allowed\""
            ),
            "",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_smtp_reports_not_probed() {
    let s = servers(Response::policy(POLICY), "mx2.example.com").await;
    let r = s.check(&["--no-smtp"]).await.ok();
    assert!(s.smtp.sessions().is_empty());
    let out = &r.stdout;
    assert!(
        out.contains("skip  MX 10 mx1.example.com      not probed (SMTP probes turned off), matches `mx1.example.com`\n"),
        "{out}"
    );
    assert!(
        out.contains("info  the MX hosts were not probed over SMTP (probes turned off): STARTTLS and the certificates of 2 MX hosts are not verified\n      fix: run the check without --no-smtp where outbound port "),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");
    assert!(
        out.ends_with("PASS: 0 errors, 0 warnings, 1 info\n"),
        "{out}"
    );
    let v = s.check(&["--no-smtp", "--json"]).await.ok().json();
    assert_eq!(v["mx"][0]["probe"], "not-probed");
    assert_eq!(v["mx"][0]["starttls"], json!(null));
    assert_eq!(v["summary"]["certificates"], "not-probed");
    assert_eq!(v["findings"][0]["code"], "mx-not-probed");
    assert_eq!(v["findings"][0]["severity"], "info");
    let r = s.check(&["--no-smtp", "--format", "csv"]).await.ok();
    assert_eq!(
        r.stdout.split("\r\n").nth(1),
        Some("example.com,true,valid,ok,enforce,2/2,not-probed,valid,none,0,0,")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_option_bounds_domains_at_once() {
    let s = Many::start(3, HashMap::new(), Some(Duration::from_millis(300))).await;
    let r = s
        .check(&[
            "d0.example",
            "d1.example",
            "d2.example",
            "--concurrency",
            "1",
        ])
        .await
        .ok();
    assert!(
        r.stdout.contains("3 domains: 3 passed, 0 failed"),
        "{}",
        r.stdout
    );
    assert_eq!(s.smtp.sessions().len(), 3);
    assert_eq!(s.smtp.max_concurrent(), 1);
    s.check(&[
        "d0.example",
        "d1.example",
        "d2.example",
        "--concurrency",
        "3",
    ])
    .await
    .ok();
    assert_eq!(s.smtp.sessions().len(), 6);
    assert_eq!(s.smtp.max_concurrent(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_expiry_and_dane_lines() {
    let ca = TestCa::new();
    let now = time::OffsetDateTime::now_utc();
    let expiring = |name: &str, d: i64| {
        ca.issue_with(
            &[name],
            now - time::Duration::days(1),
            now + time::Duration::days(d),
        )
    };
    let zones = zones()
        .tlsa("_25._tcp.mx1.example.com", 3, 1, 1, &[0xab; 32])
        .tlsa("_25._tcp.mx2.example.com", 3, 1, 1, &[0xcd; 32])
        .authentic("_25._tcp.mx2.example.com");
    let dns = DnsServer::start(zones).await.unwrap();
    let https = HttpsServer::start(
        &expiring("mta-sts.example.com", 60),
        Routes::new().route("mta-sts.example.com", POLICY_PATH, Response::policy(POLICY)),
    )
    .await
    .unwrap();
    let mx1 = expiring("mx1.example.com", 2);
    let certs = CertSet::new(mx1.clone())
        .with_sni("mx1.example.com", mx1)
        .with_sni("mx2.example.com", expiring("mx2.example.com", 10));
    let smtp = SmtpServer::start(SmtpOptions::starttls("mx.example.com", certs))
        .await
        .unwrap();
    let s = Servers {
        ca,
        dns,
        https,
        smtp,
        dir: TempDir::new(),
    };
    let r = s.check(&[]).await;
    assert_eq!(
        r.fails_alone(),
        "error: example.com: 1 error: senders would fail or skip the MTA-STS policy"
    );
    let out = &r.stdout;
    assert!(
        out.contains(
            "info  DANE mx1.example.com       TLSA present (1 record), DNSSEC unknown (no AD bit)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "info  DANE mx2.example.com       TLSA present (1 record), DNSSEC validated\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("FAIL  the certificate of MX mx1.example.com expires at "),
        "{out}"
    );
    assert!(
        out.contains(", in 2 days: senders applying the policy"),
        "{out}"
    );
    assert!(
        out.contains("warn  the certificate of MX mx2.example.com expires at "),
        "{out}"
    );
    assert!(out.contains(", in 10 days: "), "{out}");
    assert!(
        out.contains("info  DANE: TLSA records at _25._tcp.mx1.example.com (1 record, DNSSEC unknown), _25._tcp.mx2.example.com (1 record, DNSSEC validated): senders that support DANE (RFC 7672) use it instead of MTA-STS (RFC 8461 section 2)"),
        "{out}"
    );
    assert!(out.ends_with("FAIL: 1 error, 1 warning, 1 info\n"), "{out}");
    let v = s.check(&["--json"]).await.json();
    assert_eq!(v["summary"]["certificates"], "expiring");
    assert_eq!(v["summary"]["dane"], "present");
    assert_eq!(v["mx"][1]["dane"]["dnssec"], "validated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_file_limits_and_usage() {
    let dir = TempDir::new();
    let run_args = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&a)
        })
    };
    let check_file = |path: String| {
        vec![
            "check".to_owned(),
            "--domains-file".into(),
            path,
            "--resolver".into(),
            "127.0.0.1:9".into(),
        ]
    };
    // More than 10 MiB.
    let big = dir.write("big.txt", vec![b'#'; 10 * 1024 * 1024 + 1]);
    let r = run_args(check_file(big.clone())).await.unwrap();
    assert_eq!(
        r.fails_alone(),
        format!("error: {big}: larger than 10485760 bytes (10 MiB, the limit of --domains-file)")
    );
    assert_eq!(r.stdout, "");
    // More than 100000 domains (duplicates do not count).
    let mut text = String::new();
    for i in 0..100_001 {
        let _ = writeln!(text, "d{i}.example\nd0.example");
    }
    let many = dir.write("many.txt", text);
    let r = run_args(check_file(many.clone())).await.unwrap();
    assert_eq!(
        r.fails_alone(),
        format!("error: {many}: more than 100000 domains to check (the limit of one call)")
    );
    // Nothing but comments.
    let empty = dir.write("empty.txt", "# none\n\n");
    let r = run_args(check_file(empty.clone())).await.unwrap();
    assert_eq!(
        r.fails_alone(),
        format!("error: {empty}: no domain to check")
    );
    let missing = dir.path("missing.txt");
    let r = run_args(check_file(missing.clone())).await.unwrap();
    assert!(r.fails_alone().contains(&missing));

    for args in [
        &["check", "example.com", "--json", "--format", "csv"][..],
        &["check", "example.com", "--concurrency", "0"],
        &["check", "example.com", "--concurrency", "257"],
        &["check", "example.com", "--format", "xml"],
        &["check", "--concurrency", "2"],
    ] {
        let r = run_args(args.iter().map(|a| (*a).to_owned()).collect())
            .await
            .unwrap();
        r.usage_error();
    }
}
