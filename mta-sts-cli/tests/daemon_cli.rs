//! `mtasts daemon` as a child process against loopback DNS and HTTPS
//! servers running in the test's tokio runtime: the `lookup` log line in
//! both formats, `--metrics`, `mtasts daemon cache list | show | flush`,
//! and the argument rules (`--state` must be a directory, no
//! `--smtp-port`).

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{TempDir, run};
use mta_sts_core::time::Timestamp;
use serde_json::{Value, json};
use test_support::{DnsServer, HttpsServer, Routes, TestCa, Zones};

const GOOD_POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx1.good.example\r\nmx: *.good.example\r\nmax_age: 86400\r\n";
const TESTING_POLICY: &str =
    "version: STSv1\nmode: testing\nmx: mx.testing.example\nmax_age: 604800\n";
const GOOD_ID: &str = "20240101T000000";
const TESTING_ID: &str = "t1";
const GOOD_REPLY: &str = "OK secure match=mx1.good.example:.good.example servername=hostname";

/// DNS and HTTPS for good.example (enforce) and testing.example
/// (testing); no-record.example has no `_mta-sts` record.
struct Servers {
    dns: DnsServer,
    https: HttpsServer,
    dir: TempDir,
    ca_file: String,
}

async fn servers() -> Servers {
    let ca = TestCa::new();
    let local = Ipv4Addr::LOCALHOST;
    let zones = Zones::new()
        .txt(
            "_mta-sts.good.example",
            &[&format!("v=STSv1; id={GOOD_ID}")],
        )
        .txt(
            "_mta-sts.testing.example",
            &[&format!("v=STSv1; id={TESTING_ID}")],
        )
        .a("mta-sts.good.example", local)
        .a("mta-sts.testing.example", local);
    let dns = DnsServer::start(zones).await.unwrap();
    let https = HttpsServer::start(
        &ca.issue(&["mta-sts.good.example", "mta-sts.testing.example"]),
        Routes::new()
            .policy("good.example", GOOD_POLICY)
            .policy("testing.example", TESTING_POLICY),
    )
    .await
    .unwrap();
    let dir = TempDir::new();
    let ca_file = dir.write("ca.pem", ca.ca_pem());
    Servers {
        dns,
        https,
        dir,
        ca_file,
    }
}

impl Servers {
    /// `mtasts daemon` arguments for these servers on 127.0.0.1:0, plus
    /// `extra`.
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = [
            "daemon",
            "--listen",
            "127.0.0.1:0",
            "--resolver",
            &self.dns.addr().to_string(),
            "--ca-file",
            &self.ca_file,
            "--https-port",
            &self.https.addr().port().to_string(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    }
}

/// A running `mtasts daemon` child; killed if the test ends without
/// [`DaemonProc::stop`].
struct DaemonProc {
    child: Child,
    /// stderr, line by line, as it arrives.
    lines: Arc<Mutex<Vec<String>>>,
    json: bool,
}

const STARTUP_LIMIT: Duration = Duration::from_secs(20);

impl DaemonProc {
    fn spawn(args: &[String]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mtasts"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
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
            json: args.iter().any(|a| a == "json"),
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The `listener` of the first `message` line (`listening`, `metrics
    /// listening`), waiting for it.
    fn listener(&self, message: &str) -> SocketAddr {
        let start = Instant::now();
        loop {
            for l in self.lines() {
                if self.json {
                    let v: Value = serde_json::from_str(&l).unwrap();
                    if v["message"] == message {
                        return v["listener"].as_str().unwrap().parse().unwrap();
                    }
                } else if let Some(a) = l.strip_prefix(&format!("info: {message} listener=")) {
                    return a.parse().unwrap();
                }
            }
            assert!(
                start.elapsed() < STARTUP_LIMIT,
                "no {message:?} line: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit status and stderr.
    fn stop(mut self) -> (i32, Vec<String>) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(ok.success());
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(start.elapsed() < STARTUP_LIMIT, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(100));
        (status.code().expect("exited"), self.lines())
    }
}

impl Drop for DaemonProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One socketmap request on `s`, its reply.
fn ask(s: &mut TcpStream, name: &str, key: &str) -> String {
    let req = format!("{name} {key}");
    write!(s, "{}:{req},", req.len()).unwrap();
    // "<len>:" then the payload and ",".
    let mut len = String::new();
    let mut b = [0u8; 1];
    loop {
        s.read_exact(&mut b).unwrap();
        if b[0] == b':' {
            break;
        }
        len.push(b[0] as char);
    }
    let mut payload = vec![0u8; len.parse::<usize>().unwrap() + 1];
    s.read_exact(&mut payload).unwrap();
    assert_eq!(payload.pop(), Some(b','));
    String::from_utf8(payload).unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// `GET path` on the metrics listener: status line and body.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = connect(addr);
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// The value of the sample `key` (`name{labels}`) of an exposition.
fn sample(text: &str, key: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {key} in\n{text}"))
        .parse()
        .unwrap()
}

/// Issue 14 item 2: with `-v`, each lookup is one `debug: lookup ...` line
/// with the domain, socketmap name, answer, policy mode, cache use and
/// latency; without `-v` there is none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_lines_in_text() {
    let srv = servers().await;
    let d = DaemonProc::spawn(&srv.args(&["-v", "--metrics", "127.0.0.1:0"]));
    let addr = d.listener("listening");
    let maddr = d.listener("metrics listening");
    let mut s = connect(addr);
    assert_eq!(ask(&mut s, "postfix", "good.example"), GOOD_REPLY);
    assert_eq!(ask(&mut s, "postfix", "GOOD.example."), GOOD_REPLY);
    assert_eq!(ask(&mut s, "tls", "testing.example"), "NOTFOUND ");
    assert_eq!(ask(&mut s, "postfix", "no-record.example"), "NOTFOUND ");
    let (status, metrics) = get(maddr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        sample(&metrics, "mtasts_daemon_requests_total{answer=\"ok\"}"),
        2.0
    );
    assert_eq!(
        sample(
            &metrics,
            "mtasts_daemon_requests_total{answer=\"notfound\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(&metrics, "mtasts_daemon_lookup_duration_seconds_count"),
        4.0
    );
    assert_eq!(
        sample(&metrics, "mtasts_daemon_lookups_total{cache=\"fetched\"}"),
        2.0
    );
    assert_eq!(get(maddr, "/nope").0, "HTTP/1.1 404 Not Found");
    drop(s);
    let (code, lines) = d.stop();
    assert_eq!(code, 0, "{lines:#?}");

    let lookups: Vec<(&str, u64)> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("debug: lookup "))
        .map(|rest| {
            let (fields, latency) = rest.rsplit_once(" latency_us=").unwrap();
            (fields, latency.parse().unwrap())
        })
        .collect();
    let fields: Vec<&str> = lookups.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        fields,
        [
            "domain=good.example map=postfix answer=OK policy=enforce cache=fetched",
            "domain=good.example map=postfix answer=OK policy=enforce cache=hit",
            "domain=testing.example map=tls answer=NOTFOUND policy=testing cache=fetched",
            "domain=no-record.example map=postfix answer=NOTFOUND policy=absent cache=miss",
        ],
        "{lines:#?}"
    );
    assert!(
        lookups.iter().all(|(_, us)| *us < 20_000_000),
        "{lookups:?}"
    );
    assert!(
        lines.contains(&format!("info: metrics listening listener={maddr}")),
        "{lines:#?}"
    );
    assert!(lines.contains(&"info: stopped".to_owned()), "{lines:#?}");

    // Without -v: no lookup lines.
    let d = DaemonProc::spawn(&srv.args(&[]));
    let mut s = connect(d.listener("listening"));
    assert_eq!(ask(&mut s, "postfix", "good.example"), GOOD_REPLY);
    drop(s);
    let (code, lines) = d.stop();
    assert_eq!(code, 0);
    assert!(!lines.iter().any(|l| l.contains("lookup")), "{lines:#?}");
}

/// The same event as one JSON object: exactly these keys, the latency a
/// number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_lines_in_json() {
    let srv = servers().await;
    let d = DaemonProc::spawn(&srv.args(&["-v", "--log-format", "json"]));
    let mut s = connect(d.listener("listening"));
    assert_eq!(ask(&mut s, "postfix", "good.example"), GOOD_REPLY);
    assert_eq!(ask(&mut s, "postfix", "[192.0.2.1]:25"), "NOTFOUND ");
    drop(s);
    let (code, lines) = d.stop();
    assert_eq!(code, 0, "{lines:#?}");
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["message"] == "lookup")
        .collect();
    assert_eq!(events.len(), 2, "{lines:#?}");
    for (e, (domain, answer, policy, cache)) in events.iter().zip([
        ("good.example", "OK", "enforce", "fetched"),
        ("[192.0.2.1]:25", "NOTFOUND", "absent", "skipped"),
    ]) {
        let obj = e.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "answer",
                "cache",
                "domain",
                "latency_us",
                "level",
                "map",
                "message",
                "policy",
                "target",
                "timestamp"
            ]
        );
        assert!(e["latency_us"].is_u64(), "{e}");
        assert!(e["timestamp"].is_string(), "{e}");
        let mut e = e.clone();
        for k in ["latency_us", "timestamp"] {
            e.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(
            e,
            json!({
                "level": "DEBUG",
                "message": "lookup",
                "domain": domain,
                "map": "postfix",
                "answer": answer,
                "policy": policy,
                "cache": cache,
                "target": "mta_sts_postfix::daemon",
            })
        );
    }
}

/// The time in an RFC 3339 string, as Unix seconds.
fn unix(s: &str) -> i64 {
    Timestamp::parse_rfc3339(s, false).unwrap().0.secs
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `mtasts daemon cache list | show | flush` on the state directory a
/// daemon filled; refused while the daemon runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_commands() {
    let srv = servers().await;
    let state = srv.dir.path("state");
    let before = now_secs();
    let d = DaemonProc::spawn(&srv.args(&["--state", &state]));
    let mut s = connect(d.listener("listening"));
    assert_eq!(ask(&mut s, "postfix", "good.example"), GOOD_REPLY);
    assert_eq!(ask(&mut s, "postfix", "testing.example"), "NOTFOUND ");
    drop(s);

    // The running daemon holds the file.
    for cmd in [&["list"][..], &["show", "good.example"], &["flush"]] {
        let mut args = vec!["daemon", "cache"];
        args.extend_from_slice(cmd);
        args.extend(["--state", &state]);
        let e = run(&args).fails_alone();
        assert_eq!(
            e,
            format!(
                "error: {state}/policies.redb is in use: the daemon holds the cache; stop it, run this command, then start it again"
            ),
            "{cmd:?}"
        );
    }
    let (code, _) = d.stop();
    assert_eq!(code, 0);
    let after = now_secs();

    // list: one line per domain, sorted.
    let out = run(&["daemon", "cache", "list", "--state", &state]).ok();
    assert_eq!(out.stderr, "");
    let lines: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    for (l, (domain, mode, id, max_age, size)) in lines.iter().zip([
        ("good.example", "enforce", GOOD_ID, 86400, GOOD_POLICY.len()),
        (
            "testing.example",
            "testing",
            TESTING_ID,
            604800,
            TESTING_POLICY.len(),
        ),
    ]) {
        assert_eq!(l.len(), 6, "{l:?}");
        assert_eq!(&l[..3], [domain, mode, id]);
        let fetched = unix(l[3]);
        assert!((before..=after).contains(&fetched), "{l:?}");
        assert_eq!(unix(l[4]), fetched + max_age, "{l:?}");
        assert_eq!(l[5], size.to_string());
    }

    // list --json.
    let v = run(&["daemon", "cache", "list", "--state", &state, "--json"])
        .ok()
        .json();
    assert_eq!(v["store"], format!("{state}/policies.redb"));
    assert_eq!(v["skipped"], json!([]));
    let good = &v["entries"][0];
    assert_eq!(good["domain"], "good.example");
    assert_eq!(good["mode"], "enforce");
    assert_eq!(good["id"], GOOD_ID);
    assert_eq!(good["max_age"], 86400);
    assert_eq!(good["size"], GOOD_POLICY.len());
    assert_eq!(good["expired"], false);
    assert_eq!(good["last_failure"], Value::Null);
    assert_eq!(good["fetched_at"], lines[0][3]);
    assert_eq!(good["expires_at"], lines[0][4]);
    assert!((before..=after).contains(&unix(good["last_used"].as_str().unwrap())));
    assert_eq!(v["entries"][1]["domain"], "testing.example");
    assert_eq!(v["entries"].as_array().unwrap().len(), 2);

    // show: the fields, then the body with LF line endings.
    let out = run(&[
        "daemon",
        "cache",
        "show",
        "--state",
        &state,
        "Good.Example.",
    ])
    .ok();
    let (head, body) = out.stdout.split_once("\n\n").unwrap();
    assert_eq!(body, GOOD_POLICY.replace("\r\n", "\n"));
    let head: Vec<&str> = head.lines().collect();
    assert_eq!(
        head[..3],
        [
            "domain: good.example",
            "mode: enforce",
            &format!("id: {GOOD_ID}")
        ]
    );
    assert_eq!(head[3], format!("fetched_at: {}", lines[0][3]));
    assert_eq!(head[4], format!("expires_at: {}", lines[0][4]));
    assert_eq!(head[5], format!("size: {}", GOOD_POLICY.len()));
    assert!(head[6].starts_with("last_used: "), "{head:?}");
    assert_eq!(head.len(), 7, "{head:?}");
    // --json has the body as fetched (CRLF kept).
    let v = run(&[
        "daemon",
        "cache",
        "show",
        "--state",
        &state,
        "good.example",
        "--json",
    ])
    .ok()
    .json();
    assert_eq!(v["policy"], GOOD_POLICY);
    assert_eq!(v["domain"], "good.example");
    assert_eq!(v["fetched_at"], lines[0][3]);
    let e = run(&[
        "daemon",
        "cache",
        "show",
        "--state",
        &state,
        "other.example",
    ])
    .fails_alone();
    assert_eq!(
        e,
        format!("error: no cached entry for other.example in {state}/policies.redb")
    );

    // The state directory from the configuration file.
    let conf = srv
        .dir
        .write("d.toml", format!("state_dir = \"{state}\"\n"));
    let out = run(&["daemon", "cache", "list", "--config", &conf]).ok();
    assert_eq!(out.stdout.lines().count(), 2);
    let memory = srv.dir.write("m.toml", "listen = [\"127.0.0.1:1\"]\n");
    let e = run(&["daemon", "cache", "list", "--config", &memory]).fails_alone();
    assert_eq!(
        e,
        format!(
            "error: {memory}: no state_dir or database: the daemon keeps its cache in memory only"
        )
    );
    let e = run(&["daemon", "cache", "list"]).fails_alone();
    assert_eq!(
        e,
        "error: no cache given: give --state DIR, --database URL or --config FILE"
    );

    // flush DOMAIN, then everything.
    let out = run(&[
        "daemon",
        "cache",
        "flush",
        "--state",
        &state,
        "GOOD.example",
    ])
    .ok();
    assert_eq!(out.stdout, "flushed good.example\n");
    let e = run(&[
        "daemon",
        "cache",
        "flush",
        "--state",
        &state,
        "good.example",
    ])
    .fails_alone();
    assert_eq!(
        e,
        format!("error: no cached entry for good.example in {state}/policies.redb")
    );
    let out = run(&["daemon", "cache", "list", "--state", &state]).ok();
    assert!(
        out.stdout.starts_with("testing.example testing t1 "),
        "{}",
        out.stdout
    );
    assert_eq!(out.stdout.lines().count(), 1);
    let v = run(&["daemon", "cache", "flush", "--state", &state, "--json"])
        .ok()
        .json();
    assert_eq!(
        v,
        json!({"store": format!("{state}/policies.redb"), "flushed": ["testing.example"]})
    );
    let out = run(&["daemon", "cache", "flush", "--state", &state]).ok();
    assert_eq!(out.stdout, "0 entries flushed\n");
    let out = run(&["daemon", "cache", "list", "--state", &state]).ok();
    assert_eq!(out.stdout, "");

    // A daemon started on the flushed cache fetches again.
    let d = DaemonProc::spawn(&srv.args(&["--state", &state, "-v"]));
    let mut s = connect(d.listener("listening"));
    assert_eq!(ask(&mut s, "postfix", "good.example"), GOOD_REPLY);
    drop(s);
    let (code, lines) = d.stop();
    assert_eq!(code, 0);
    assert!(
        lines.iter().any(|l| l.starts_with(
            "debug: lookup domain=good.example map=postfix answer=OK policy=enforce cache=fetched "
        )),
        "{lines:#?}"
    );
}

/// The cache commands never create a cache, and name what is wrong.
/// `mtasts daemon --database` and the cache commands on a shared cache in
/// the real PostgreSQL server: they work while the daemon runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_cache_in_postgresql() {
    let Some(db) = test_support::pg::TestDb::create() else {
        return;
    };
    let srv = servers().await;
    let url = db.url("mtasts-cli");
    let d = DaemonProc::spawn(&srv.args(&["--database", &url]));
    let mut s = connect(d.listener("listening"));
    assert_eq!(ask(&mut s, "postfix", "good.example"), GOOD_REPLY);
    drop(s);

    // While the daemon runs.
    let out = run(&["daemon", "cache", "list", "--database", &url]).ok();
    let fields: Vec<&str> = out.stdout.split(' ').collect();
    assert_eq!(
        &fields[..3],
        ["good.example", "enforce", GOOD_ID],
        "{}",
        out.stdout
    );
    let v = run(&["daemon", "cache", "list", "--database", &url, "--json"])
        .ok()
        .json();
    let store = v["store"].as_str().unwrap();
    assert!(
        store.starts_with("postgresql://postgres@127.0.0.1:5432/mtasts_test_")
            && store.ends_with(" (table mtasts_policy_cache)"),
        "{store}"
    );
    let out = run(&[
        "daemon",
        "cache",
        "show",
        "--database",
        &url,
        "good.example",
    ])
    .ok();
    assert!(
        out.stdout.starts_with("domain: good.example\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with("mx: *.good.example\nmax_age: 86400\n"),
        "{}",
        out.stdout
    );
    let out = run(&[
        "daemon",
        "cache",
        "flush",
        "--database",
        &url,
        "good.example",
    ])
    .ok();
    assert_eq!(out.stdout, "flushed good.example\n");
    assert_eq!(
        db.value("SELECT count(*) FROM mtasts_policy_cache"),
        Some("0".to_owned())
    );
    let e = run(&[
        "daemon",
        "cache",
        "show",
        "--database",
        &url,
        "good.example",
    ])
    .fails_alone();
    assert!(
        e.starts_with("error: no cached entry for good.example in postgresql://"),
        "{e}"
    );
    let (code, _) = d.stop();
    assert_eq!(code, 0);

    // --state and --database exclude each other.
    run(&["daemon", "--state", "/tmp", "--database", &url]).usage_error();
    run(&[
        "daemon",
        "cache",
        "list",
        "--state",
        "/tmp",
        "--database",
        &url,
    ])
    .usage_error();
}

#[test]
fn cache_commands_on_bad_state_directories() {
    let dir = TempDir::new();
    let e = run(&["daemon", "cache", "list", "--state", &dir.path("")]).fails_alone();
    assert_eq!(
        e,
        format!(
            "error: no policy cache at {} (the daemon has not run with this state directory)",
            dir.0.join("policies.redb").display()
        )
    );
    assert!(!dir.0.join("policies.redb").exists());
    let file = dir.write("file", "x");
    let e = run(&["daemon", "cache", "flush", "--state", &file]).fails_alone();
    assert_eq!(e, format!("error: state directory {file}: not a directory"));
    let missing = dir.path("missing");
    let e = run(&["daemon", "cache", "show", "--state", &missing, "a.example"]).fails_alone();
    assert_eq!(
        e,
        format!("error: state directory {missing}: no such directory")
    );
    let bad = TempDir::new();
    bad.write("policies.redb", vec![0x5a; 4096]);
    let e = run(&["daemon", "cache", "list", "--state", &bad.path("")]).fails_alone();
    assert!(
        e.ends_with("policies.redb: not a readable policy cache"),
        "{e}"
    );
}

/// `--state` naming a regular file stops the daemon at once (status 1),
/// and the file is left alone.
#[test]
fn daemon_state_must_be_a_directory() {
    let dir = TempDir::new();
    let file = dir.write("state", "keep");
    let out = run(&["daemon", "--listen", "127.0.0.1:0", "--state", &file]);
    let e = out.fails();
    assert_eq!(
        e,
        format!("error: cannot use the state directory {file}: not a directory")
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
}

/// The daemon probes no MX host: `--smtp-port` is not one of its options;
/// and the daemon's options do not mix with `cache`.
#[test]
fn daemon_usage_errors() {
    run(&["daemon", "--smtp-port", "25"]).usage_error();
    run(&["daemon", "--listen", "127.0.0.1:0", "cache", "list"]).usage_error();
    // A group without its command: clap's help on stderr, status 2.
    let out = run(&["daemon", "cache"]);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains("Usage: mtasts daemon cache"),
        "{out:#?}"
    );
    run(&["daemon", "cache", "show"]).usage_error();
    run(&["daemon", "cache", "list", "--smtp-port", "25"]).usage_error();
    run(&["daemon", "--metrics", "localhost:9464"]).usage_error();
}
