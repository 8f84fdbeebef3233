//! `mtasts tlsrpt send` end to end: partials in a state directory, the
//! `_smtp._tls` records from a loopback DNS server, an HTTPS report
//! receiver and an SMTP relay (test CA); exit statuses 0, 75 (deliveries
//! pending) and 1, text and JSON output, `--dry-run`.
//!
//! The retry schedule and the merge of several nodes are tested on the
//! library (`mta-sts-postfix/tests/reporter.rs`); here the clock is the
//! real one, so a re-run finds nothing due yet.
#![cfg(unix)]

mod common;

use std::net::Ipv4Addr;

use common::{Run, TempDir, run};
use mta_sts_postfix::tlsrpt_state::StateDir;
use test_support::{
    CertSet, DnsServer, HttpsServer, Response, Routes, SmtpOptions, SmtpServer, TestCa, Zones,
};
use tlsrpt_core::dkim::{KeyService, SigningKey};
use tlsrpt_core::session::{DayAggregate, Outcome, PolicyKey, UtcDay};

const RECEIVER: &str = "reports.example.test";
const DAY: &str = "2024-05-01";
const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tlsrpt-core/tests/data/dkim/ed25519.pkcs8v1.pem"
);

struct World {
    dir: TempDir,
    _dns: DnsServer,
    https: HttpsServer,
    relay: SmtpServer,
    config: String,
    state: String,
}

/// example.org (5 sessions) reports to the HTTPS receiver, which answers
/// `answer`, and by mail; example.net (2 sessions) by mail only.
async fn world(answer: Response) -> World {
    let ca = TestCa::new();
    let https = HttpsServer::start(
        &ca.issue(&[RECEIVER]),
        Routes::new().route(RECEIVER, "/v1", answer),
    )
    .await
    .unwrap();
    let relay = SmtpServer::start(SmtpOptions::starttls(
        "relay.example.test",
        CertSet::from(ca.issue(&["127.0.0.1"])),
    ))
    .await
    .unwrap();
    let key = SigningKey::from_pem(&std::fs::read_to_string(KEY).unwrap()).unwrap();
    let dns = DnsServer::start(
        Zones::new()
            .a(RECEIVER, Ipv4Addr::LOCALHOST)
            .txt(
                "_smtp._tls.example.org",
                &[format!(
                    "v=TLSRPTv1; rua=https://{RECEIVER}:{}/v1,mailto:tlsrpt@example.org",
                    https.addr().port()
                )],
            )
            .txt(
                "_smtp._tls.example.net",
                &["v=TLSRPTv1; rua=mailto:reports@example.net"],
            )
            .txt(
                "tlsrpt._domainkey.mail.example.com",
                &key.txt_record_strings(KeyService::Tlsrpt),
            ),
    )
    .await
    .unwrap();
    let dir = TempDir::new();
    let ca_file = dir.write("ca.pem", ca.ca_pem());
    let state = dir.path("state");
    let s = StateDir::open_as(&state, "mx1").unwrap();
    let day = UtcDay::parse(DAY).unwrap();
    let mut agg = DayAggregate::new(day);
    for (domain, n) in [("example.org", 5), ("example.net", 2)] {
        for _ in 0..n {
            agg.record(
                &PolicyKey::no_policy_found(domain).unwrap(),
                &Outcome::Success,
            )
            .unwrap();
        }
    }
    s.write_partial(day, &agg).unwrap();
    s.mark_final(day).unwrap();
    let config = dir.write(
        "tlsrpt.toml",
        format!(
            r#"resolver = "{dns}"

[report]
organization_name = "Example Mail"
contact_info = "tlsrpt@mail.example.com"
submitter = "mail.example.com"

[dkim]
key_file = "{KEY}"
selector = "tlsrpt"
domain = "mail.example.com"

[smtp]
relay = "127.0.0.1:{smtp}"
ca_file = "{ca_file}"
timeout_secs = 5

[https]
ca_file = "{ca_file}"
timeout_secs = 5
"#,
            dns = dns.addr(),
            smtp = relay.addr().port(),
        ),
    );
    World {
        dir,
        _dns: dns,
        https,
        relay,
        config,
        state,
    }
}

impl World {
    /// `mtasts tlsrpt send --state STATE --config CONFIG --day DAY ARGS...`
    /// on a blocking thread (the servers run on this runtime).
    async fn send(&self, extra: &[&str]) -> Run {
        let mut args: Vec<String> = [
            "tlsrpt",
            "send",
            "--state",
            &self.state,
            "--config",
            &self.config,
            "--day",
            DAY,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
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
async fn everything_delivered_exits_0() {
    let w = world(Response::with_status(201, None, "")).await;
    let r = w.send(&[]).await.ok();
    assert_eq!(r.stderr, "");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{DAY}: complete, 2 reports in ")),
        "{}",
        r.stdout
    );
    assert_eq!(lines[1], "  example.net: 2 successful, 0 failed sessions");
    assert!(
        lines[2]
            .starts_with("    mailto:reports@example.net: delivered (1 attempt): relay 127.0.0.1:"),
        "{}",
        r.stdout
    );
    assert_eq!(lines[3], "  example.org: 5 successful, 0 failed sessions");
    assert_eq!(w.https.requests().len(), 1);
    assert_eq!(w.relay.messages().len(), 2);
    // Again: nothing left to do, nothing sent twice.
    let r = w.send(&["--json"]).await.ok();
    let j = r.json();
    assert_eq!(j["outcome"], "complete");
    assert_eq!(j["days"][0]["day"], DAY);
    assert_eq!(
        j["days"][0]["reports"][1]["destinations"][0]["progress"],
        "delivered"
    );
    assert_eq!(
        j["days"][0]["reports"][1]["destinations"][0]["this_run"],
        serde_json::Value::Null
    );
    assert_eq!(w.https.requests().len(), 1);
    assert_eq!(w.relay.messages().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_retry_exits_75() {
    let w = world(Response::with_status(503, None, "busy")).await;
    let r = w.send(&["--json"]).await;
    assert_eq!(r.code, 75, "{r:#?}");
    let j = r.json();
    assert_eq!(j["outcome"], "pending");
    let org = &j["days"][0]["reports"][1];
    assert_eq!(org["policy_domain"], "example.org");
    assert_eq!(org["destinations"][0]["progress"], "pending");
    assert_eq!(org["destinations"][0]["this_run"]["result"], "temporary");
    assert!(org["destinations"][0]["next_attempt"].is_string());
    assert_eq!(org["destinations"][1]["progress"], "delivered");
    assert!(
        r.stderr
            .ends_with("warning: deliveries wait for a retry: run `mtasts tlsrpt send` again later (exit status 75)\n"),
        "{}",
        r.stderr
    );
    // A re-run before the retry is due: still 75, nothing sent.
    let r = w.send(&[]).await;
    assert_eq!(r.code, 75, "{r:#?}");
    assert!(
        r.stdout.contains(": pending, next attempt "),
        "{}",
        r.stdout
    );
    assert_eq!(w.https.requests().len(), 1);
    assert_eq!(w.relay.messages().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_exits_1() {
    let w = world(Response::with_status(404, None, "")).await;
    let r = w.send(&[]).await;
    assert_eq!(
        r.fails(),
        "error: some reports could not be delivered (see above)"
    );
    assert!(
        r.stdout.contains(": failed (1 attempt): https://"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("HTTP 404"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_files_and_sends_nothing() {
    let w = world(Response::with_status(201, None, "")).await;
    let out = w.dir.path("out");
    let r = w.send(&["--dry-run", "--out", &out]).await.ok();
    assert!(
        r.stdout
            .starts_with(&format!("{DAY}: dry run, 2 reports in {out}\n")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(": not attempted"), "{}", r.stdout);
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.ends_with(".eml") || f.ends_with(".json.gz"))
    );
    assert!(w.https.requests().is_empty());
    assert!(w.relay.messages().is_empty());
    assert!(!std::path::Path::new(&format!("{}/reports/{DAY}/delivery.json", w.state)).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_dkim_warns_and_bad_input_fails() {
    let w = world(Response::with_status(201, None, "")).await;
    let r = w.send(&["--no-dkim"]).await.ok();
    assert!(
        r.stderr
            .starts_with("warning: --no-dkim: report mail goes out unsigned"),
        "{}",
        r.stderr
    );
    assert!(
        w.relay
            .messages()
            .iter()
            .all(|m| !m.data.starts_with(b"DKIM-Signature"))
    );

    let missing = w.dir.path("missing.toml");
    let r = run(&[
        "tlsrpt", "send", "--state", &w.state, "--config", &missing, "--day", DAY,
    ]);
    assert!(r.fails_alone().contains("missing.toml"), "{r:#?}");
    // A day that is not over.
    let r = w.send(&[]).await;
    assert_eq!(r.code, 0);
    let r = run(&[
        "tlsrpt",
        "send",
        "--state",
        &w.state,
        "--config",
        &w.config,
        "--day",
        "2099-12-31",
    ]);
    assert!(
        r.fails_alone()
            .starts_with("error: the reports of 2099-12-31 can be made from "),
        "{r:#?}"
    );
}

#[test]
fn usage_errors_exit_2() {
    run(&["tlsrpt", "send", "--state", "/tmp/x", "--day", "2024-13-01"]).usage_error();
    run(&["tlsrpt", "send", "--state", "/tmp/x", "--dry-run"]).usage_error();
    run(&["tlsrpt", "send", "--state", "/tmp/x", "--out", "/tmp/y"]).usage_error();
    run(&["tlsrpt", "send", "--day", "2024-05-01"]).usage_error();
}
