//! `mtasts tlsrpt collect` as a real process fed over a real AF_UNIX
//! datagram socket — killed with SIGKILL mid-day and restarted, with no
//! acknowledged count lost and none doubled — and `mtasts report
//! aggregate`, its reports read back by tlsrpt-core's strict reader.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{TempDir, aggregate_args, run, run_with_stdin};
use mta_sts_postfix::tlsrpt_state::StateDir;
use serde_json::Value;
use tlsrpt_core::session::{AggregateLimits, DayAggregate, ReportMeta};
use tlsrpt_core::{Report, ResultType};

const LIMIT: Duration = Duration::from_secs(30);

const STS: &str = r#""policy-type":2,"policy-domain":"example.com","policy-string":["version: STSv1","mode: enforce","mx: mx.example.com","max_age: 86400"],"mx-host":["mx.example.com"]"#;

/// A successful `sts` session for example.com.
fn success() -> String {
    format!(
        r#"{{"dpv":"1","d":"example.com","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@example.com","policies":[{{{STS},"t":0,"f":0}}]}}"#
    )
}

/// A failed `sts` session: certificate-expired at `198.51.100.<n>`.
fn failure(n: u8) -> String {
    format!(
        r#"{{"dpv":"1","d":"example.com","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@example.com","policies":[{{{STS},"failure-details":[{{"c":204,"s":"192.0.2.1","n":"mx.example.com","r":"198.51.100.{n}"}}],"t":1,"f":1}}]}}"#
    )
}

/// A session to a domain without a policy.
fn no_policy(domain: &str) -> String {
    format!(
        r#"{{"dpv":"1","d":"{domain}","policies":[{{"policy-type":9,"policy-domain":"{domain}","t":0,"f":0}}]}}"#
    )
}

fn send(socket: &Path, datagrams: &[String]) {
    let c = UnixDatagram::unbound().unwrap();
    for d in datagrams {
        c.send_to(d.as_bytes(), socket).unwrap();
    }
}

/// A running `mtasts tlsrpt collect`; killed if the test ends early.
struct Collector {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Collector {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mtasts"))
            .args(["tlsrpt", "collect"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines() {
                match l {
                    Ok(l) => sink.lock().unwrap().push(l),
                    Err(_) => break,
                }
            }
        });
        Self {
            child,
            lines,
            reader: Some(reader),
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Wait for a stderr line for which `f` holds; return it.
    fn wait_line(&mut self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| f(l)) {
                return l;
            }
            assert!(
                start.elapsed() < LIMIT,
                "no {what} line: {:#?}",
                self.lines()
            );
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!("exited with {s} before {what}: {:#?}", self.lines());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait until the debug log says `n` datagrams are journaled.
    fn wait_journaled(&mut self, n: u64) {
        self.wait_line(&format!("journaled={n}"), |l| {
            l.strip_prefix("debug: journaled datagrams=")
                .and_then(|rest| rest.split_once(" journaled="))
                .and_then(|(_, total)| total.parse::<u64>().ok())
                .is_some_and(|t| t >= n)
        });
    }

    /// SIGKILL: no chance to flush or checkpoint anything.
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM; the exit status and every stderr line.
    fn stop(mut self) -> (i32, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(start.elapsed() < LIMIT, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        };
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        (status.code().expect("exited"), self.lines())
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Every day's partial of `node`, merged (the test may cross midnight
/// UTC: then the datagrams are in two days).
fn all_days(state: &Path, node: &str) -> DayAggregate {
    let s = StateDir::open(state).unwrap();
    assert_eq!(s.node(), node);
    let days = s.days_with_partials().unwrap();
    assert!(!days.is_empty() && days.len() <= 2, "{days:?}");
    let mut reports = None::<DayAggregate>;
    for d in days {
        let (agg, errors) = s.read_day(d, AggregateLimits::default()).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        // Re-dated to one day, to add them up.
        let json = agg.to_json().replace(&d.to_string(), "2000-01-01");
        let agg = DayAggregate::from_json(json.as_bytes(), AggregateLimits::default()).unwrap();
        match &mut reports {
            Some(r) => r.merge(&agg).unwrap(),
            None => reports = Some(agg),
        }
    }
    reports.unwrap()
}

#[test]
fn kill_9_mid_day_and_restart_lose_and_double_nothing() {
    let tmp = TempDir::new();
    let socket = tmp.path("tlsrpt.sock");
    let state = tmp.path("state");
    let args = [
        "--socket", &socket, "--state", &state, "--node", "mx1", "-v",
    ];
    let mut c = Collector::spawn(&args);
    c.wait_line("collecting", |l| l.starts_with("info: collecting "));
    // N = 40: 30 successes, 10 failures over two receiving IPs.
    let mut first: Vec<String> = vec![success(); 30];
    first.extend((0..10).map(|i| failure(1 + i % 2)));
    send(Path::new(&socket), &first);
    c.wait_journaled(40);
    c.kill9();
    // The socket file is left behind: stale, replaced by the next start.
    assert!(Path::new(&socket).exists());

    let mut c = Collector::spawn(&args);
    let line = c.wait_line("collecting", |l| l.starts_with("info: collecting "));
    assert!(line.contains(" node=mx1"), "{line}");
    // M = 25 (and two garbage datagrams, counted apart).
    let mut second: Vec<String> = vec![success(); 15];
    second.extend(vec![no_policy("example.org"); 10]);
    second.push("not json".into());
    second.push("{\"d\":\"example.com\"}".into());
    send(Path::new(&socket), &second);
    c.wait_journaled(27);
    let (code, lines) = c.stop();
    assert_eq!(code, 0, "{lines:#?}");
    assert!(!Path::new(&socket).exists());
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("warning: garbage datagram ") && l.contains(" code=json ")),
        "{lines:#?}"
    );
    let stats = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("info: collector stats "))
        .expect("stats line");
    assert!(stats.contains(" garbage=2 "), "{stats}");
    assert!(stats.contains(" journaled=27 "), "{stats}");
    assert!(
        lines.iter().any(|l| l.starts_with("info: stopped ")),
        "{lines:#?}"
    );

    // N + M sessions, each exactly once.
    let agg = all_days(Path::new(&state), "mx1");
    let t = agg.totals();
    assert_eq!((t.successful_sessions, t.failed_sessions), (55, 10));
    let finished = agg
        .finish(&ReportMeta::new(
            "Example Mail",
            "tlsrpt@mail.example.net",
            "mail.example.net",
            "1",
        ))
        .unwrap();
    assert_eq!(finished.reports.len(), 2);
    let com = &finished.reports[0];
    assert_eq!((com.successful_sessions(), com.failed_sessions()), (45, 10));
    let rows = &com.policies[0].failure_details;
    assert_eq!(rows.len(), 2);
    for (row, ip) in rows.iter().zip(["198.51.100.1", "198.51.100.2"]) {
        assert_eq!(row.result_type, ResultType::CertificateExpired);
        assert_eq!(row.failed_session_count, 5);
        assert_eq!(row.receiving_ip.as_ref().unwrap().to_string(), ip);
    }
    assert_eq!(finished.reports[1].successful_sessions(), 10);
}

#[test]
fn collect_start_errors() {
    let tmp = TempDir::new();
    let file = tmp.write("file", "x");
    let socket = tmp.path("s.sock");
    // The state directory is a file: one error line, status 1.
    let r = run(&["tlsrpt", "collect", "--socket", &socket, "--state", &file]);
    let e = r.fails_alone();
    assert_eq!(e, format!("error: {file}: not a directory"));
    let r = run(&[
        "tlsrpt",
        "collect",
        "--socket",
        &socket,
        "--state",
        &tmp.path("st"),
        "--node",
        "a/b",
    ]);
    assert!(
        r.fails_alone()
            .contains("node name `a/b` has characters other than"),
        "{r:#?}"
    );
    // Usage errors: status 2.
    run(&["tlsrpt", "collect", "--state", &tmp.path("st")]).usage_error();
    run(&[
        "tlsrpt",
        "collect",
        "--socket",
        &socket,
        "--state",
        &tmp.path("st"),
        "--socket-mode",
        "999",
    ])
    .usage_error();
}

// ---------------------------------------------------------------------------
// report aggregate

/// Status 1 with `error:` and `warning:` lines on stderr; the last line.
fn last_error(r: &common::Run) -> String {
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr
            .lines()
            .all(|l| l.starts_with("error: ") || l.starts_with("warning: ")),
        "{r:#?}"
    );
    r.stderr.lines().last().unwrap().to_owned()
}

#[test]
fn report_aggregate_writes_strict_reports_and_names_unusable_lines() {
    let tmp = TempDir::new();
    let lines = [
        success(),
        failure(7),
        String::new(),
        success(),
        "{\"dpv\":\"1\",\"d\":\"example.org\"}".into(),
        no_policy("example.org"),
        // No policy-domain: taken from `d`, with a warning.
        "{\"dpv\":\"1\",\"d\":\"example.net\",\"policies\":[{\"policy-type\":9,\"t\":0,\"f\":0}]}"
            .into(),
        "garbage".into(),
        failure(7),
    ];
    let file = tmp.write("datagrams.ndjson", lines.join("\n") + "\n");
    let r = run(&aggregate_args(&["--json", &file]));
    let e = last_error(&r);
    assert_eq!(e, "error: 2 of 8 datagram lines could not be counted");
    let stderr: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(stderr.len(), 4, "{r:#?}");
    assert_eq!(
        stderr[0],
        format!("error: {file}:5: datagram: /policies is missing")
    );
    assert!(
        stderr[1].starts_with(&format!("warning: {file}:7: /policies/0/policy-domain: ")),
        "{r:#?}"
    );
    assert!(
        stderr[2].starts_with(&format!("error: {file}:8: datagram is not valid: ")),
        "{r:#?}"
    );
    // The usable lines are counted and written all the same.
    let reports = r.json();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 3);
    let parsed: Vec<Report<'static>> = reports
        .iter()
        .map(|v| {
            Report::parse_strict(v.to_string().as_bytes())
                .unwrap()
                .value
                .into_owned()
        })
        .collect();
    let domains: Vec<&str> = parsed
        .iter()
        .map(|r| r.policies[0].policy.policy_domain.as_deref().unwrap())
        .collect();
    assert_eq!(domains, ["example.com", "example.net", "example.org"]);
    let com = &parsed[0];
    assert_eq!((com.successful_sessions(), com.failed_sessions()), (2, 2));
    assert_eq!(com.report_id, "2024-05-01.example.com.1@mail.example.net");
    assert_eq!(com.organization_name, "Example Mail");
    assert_eq!(com.date_range.start.to_string(), "2024-05-01T00:00:00Z");
    assert_eq!(com.date_range.end.to_string(), "2024-05-01T23:59:59Z");
    let row = &com.policies[0].failure_details[0];
    assert_eq!(row.result_type, ResultType::CertificateExpired);
    assert_eq!(row.failed_session_count, 2);
    assert_eq!(parsed[1].successful_sessions(), 1);
    assert_eq!(parsed[2].successful_sessions(), 1);

    // Text, from stdin, only good lines: one line per report and a total.
    let good = [success(), failure(7), no_policy("example.org")].join("\n");
    let r = run_with_stdin(
        &aggregate_args(&["--unique-id", "n7", "-"]),
        good.as_bytes(),
    )
    .ok();
    assert_eq!(
        r.stdout,
        "example.com: 1 successful, 1 failed session, 1 policy, report-id 2024-05-01.example.com.n7@mail.example.net\n\
         example.org: 1 successful, 0 failed sessions, 1 policy, report-id 2024-05-01.example.org.n7@mail.example.net\n\
         2 reports for 2024-05-01: 2 successful, 1 failed session from 3 datagrams\n"
    );
    assert_eq!(r.stderr, "");
    // The same input, the same reports, byte for byte.
    let a = run_with_stdin(&aggregate_args(&["--json", "-"]), good.as_bytes()).ok();
    let b = run_with_stdin(&aggregate_args(&["--json", "-"]), good.as_bytes()).ok();
    assert_eq!(a.stdout, b.stdout);
    let v: Value = a.json();
    assert_eq!(v.as_array().unwrap().len(), 2);
}

#[test]
fn report_aggregate_bounds_and_usage() {
    let tmp = TempDir::new();
    // A line over 64 KiB is one unusable line; the next still counts.
    let long = format!("{{\"d\":\"{}\"}}", "x".repeat(70_000));
    let file = tmp.write("big", format!("{long}\n{}\n", success()));
    let r = run(&aggregate_args(&["--json", &file]));
    assert_eq!(
        last_error(&r),
        "error: 1 of 2 datagram lines could not be counted"
    );
    assert!(
        r.stderr.starts_with(&format!(
            "error: {file}:1: datagram of 70008 bytes is larger than the limit of 65536 bytes\n"
        )),
        "{r:#?}"
    );
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    // An empty input: no reports, status 0.
    let empty = tmp.write("empty", "");
    let r = run(&aggregate_args(&["--json", &empty])).ok();
    assert_eq!(r.json(), serde_json::json!([]));
    // A missing file fails before anything is written.
    let r = run(&aggregate_args(&[&file, &tmp.path("missing")]));
    assert!(r.fails_alone().contains("missing"), "{r:#?}");
    assert_eq!(r.stdout, "");
    // Usage errors: a bad day, a contact outside the submitter's domain, no file.
    let mut a = aggregate_args(&[&file]);
    a[3] = "2024-02-30";
    run(&a).usage_error();
    let mut a = aggregate_args(&[&file]);
    a[7] = "tlsrpt@elsewhere.example";
    let r = run(&a);
    r.usage_error();
    assert!(r.stderr.contains("contact"), "{r:#?}");
    run(&aggregate_args(&[])).usage_error();
    run(&aggregate_args(&["--unique-id", "no-dashes", &file])).usage_error();
}
