//! `mtasts serve` as a child process: a policy fetched the way a sending
//! MTA fetches it (policy-fetch's client, loopback DNS, a test CA),
//! SIGHUP reloads, SIGTERM stops with status 0; usage errors exit 2 and
//! an unreadable certificate directory exits 1 with one clear line.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TempDir, run};
use mta_sts_core::Mode;
use mtasts_site::domains::{self, AddOptions};
use mtasts_site::sqlite::SqliteStore;
use test_support::{DnsServer, TestCa, Zones};

const LIMIT: Duration = Duration::from_secs(20);

/// A running `mtasts serve`; killed if the test ends without
/// [`ServeProc::stop`].
struct ServeProc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ServeProc {
    fn spawn(args: &[&str]) -> Self {
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
        Self { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Wait for a line starting with `prefix`; the rest of it.
    fn wait_line(&self, prefix: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self.lines().iter().find_map(|l| l.strip_prefix(prefix)) {
                return l.to_owned();
            }
            assert!(
                start.elapsed() < LIMIT,
                "no {prefix:?} line: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// SIGTERM, then the exit status and stderr.
    fn stop(mut self) -> (i32, Vec<String>) {
        self.signal("-TERM");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(start.elapsed() < LIMIT, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        (status.code().expect("exited"), self.lines())
    }
}

impl Drop for ServeProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_a_policy_reloads_and_stops_on_sigterm() {
    let dir = TempDir::new();
    let state = dir.path("state");
    let live = dir.path("live");
    let ca = TestCa::new();
    let d = "served.example";
    let host = format!("mta-sts.{d}");
    let store = SqliteStore::open(std::path::Path::new(&state)).unwrap();
    let opts = AddOptions {
        mx: vec![format!("mx.{d}")],
        mode: Some(Mode::Enforce),
        ..AddOptions::default()
    };
    let domain = domains::add(&store, d, &opts, now()).unwrap().domain;
    drop(store);
    let leaf = ca.issue(&[&host]);
    std::fs::create_dir_all(dir.0.join("live").join(&host)).unwrap();
    dir.write(
        &format!("live/{host}/fullchain.pem"),
        format!("{}{}", leaf.cert_pem, ca.ca_pem()),
    );
    dir.write(&format!("live/{host}/privkey.pem"), &leaf.key_pem);
    let ca_file = dir.write("ca.pem", ca.ca_pem());

    let serve = ServeProc::spawn(&[
        "serve",
        "--state",
        &state,
        "--cert-dir",
        &live,
        "--https",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let https: SocketAddr = serve
        .wait_line("info: serving policies over HTTPS listener=")
        .parse()
        .unwrap();
    let metrics: SocketAddr = serve
        .wait_line("info: serving metrics listener=")
        .parse()
        .unwrap();
    let loaded = serve.wait_line("info: site loaded ");
    assert!(loaded.contains("domains=1 certificates=1"), "{loaded}");

    // Fetched as a sending MTA fetches it.
    let dns = DnsServer::start(Zones::new().a(&host, Ipv4Addr::LOCALHOST))
        .await
        .unwrap();
    let overrides = policy_fetch::Overrides {
        resolver: Some(dns.addr()),
        ca_file: Some(ca_file.into()),
        https_port: Some(https.port()),
        ..policy_fetch::Overrides::default()
    };
    let client = overrides.policy_client(overrides.dns().unwrap()).unwrap();
    let r = client.fetch(d).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    assert_eq!(r.body, domain.current.body.as_bytes());

    // SIGHUP: reloaded at once.
    serve.signal("-HUP");
    let reloaded = serve.wait_line("info: reloaded ");
    assert!(reloaded.contains("domains=1 certificates=1"), "{reloaded}");

    // The metrics listener counted the fetch.
    let m = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(metrics).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut t = String::new();
        s.read_to_string(&mut t).unwrap();
        t
    })
    .await
    .unwrap();
    assert!(m.starts_with("HTTP/1.1 200 OK\r\n"), "{m}");
    assert!(
        m.contains("\nmtasts_serve_policy_responses_total 1\n"),
        "{m}"
    );
    assert!(m.contains("\nmtasts_serve_domains 1\n"), "{m}");

    let (code, lines) = serve.stop();
    assert_eq!(code, 0, "{lines:#?}");
    assert!(
        lines.iter().any(|l| l == "info: shutting down"),
        "{lines:#?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("info: stopped"),
        "{lines:#?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("error") || l.starts_with("warning")),
        "{lines:#?}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new();
    let state = dir.path("state");
    for args in [
        &["serve", "--state", &state][..],
        &["serve", "--https", "127.0.0.1:0"],
        &["serve", "--state", &state, "--https", "not-an-address"],
        &[
            "serve",
            "--state",
            &state,
            "--database",
            "postgresql://x/y",
            "--https",
            "127.0.0.1:0",
        ],
        &[
            "serve",
            "--state",
            &state,
            "--https",
            "127.0.0.1:0",
            "--acme-directory",
            "https://acme.test/dir",
        ],
        &[
            "serve",
            "--state",
            &state,
            "--https",
            "127.0.0.1:0",
            "--acme-challenge",
            "http-01",
        ],
        &[
            "serve",
            "--state",
            &state,
            "--https",
            "127.0.0.1:0",
            "--acme-directory",
            "https://acme.test/dir",
            "--acme-contact",
            "mailto:a@example.com",
            "--acme-challenge",
            "http-01",
        ],
        &[
            "serve",
            "--state",
            &state,
            "--https",
            "127.0.0.1:0",
            "--acme-challenge",
            "dns-01",
        ],
        &[
            "serve",
            "--state",
            &state,
            "--https",
            "127.0.0.1:0",
            "--max-connections",
            "0",
        ],
        &[
            "serve",
            "--state",
            &state,
            "--https",
            "127.0.0.1:0",
            "--log-format",
            "xml",
        ],
    ] {
        run(args).usage_error();
    }
}

#[test]
fn unreadable_cert_dir_exits_1() {
    let dir = TempDir::new();
    let state = dir.path("state");
    let missing = dir.path("no-such-dir");
    let r = run(&[
        "serve",
        "--state",
        &state,
        "--cert-dir",
        &missing,
        "--https",
        "127.0.0.1:0",
    ]);
    let e = r.fails_alone();
    assert_eq!(
        e,
        format!("error: certificate directory {missing}: No such file or directory (os error 2)")
    );
    // A file where the directory should be.
    let file = dir.write("file", "x");
    let e = run(&[
        "serve",
        "--state",
        &state,
        "--cert-dir",
        &file,
        "--https",
        "127.0.0.1:0",
    ])
    .fails_alone();
    assert!(
        e.starts_with(&format!("error: certificate directory {file}: ")),
        "{e}"
    );
}

#[test]
fn address_in_use_exits_1() {
    let dir = TempDir::new();
    let state = dir.path("state");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let r = run(&["serve", "--state", &state, "--https", &addr]);
    assert_eq!(r.code, 1, "{r:#?}");
    let last = r.stderr.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("error: cannot listen on {addr} (https): ")),
        "{r:#?}"
    );
}

/// `examples/systemd/mtasts-serve.service`: its command and each
/// commented alternative parse; it binds 443 with CAP_NET_BIND_SERVICE
/// only; `systemd-analyze verify` passes where it is installed.
#[test]
fn systemd_unit() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/systemd/mtasts-serve.service"
    ))
    .unwrap();
    let execs: Vec<&str> = unit
        .lines()
        .filter_map(|l| {
            l.strip_prefix("ExecStart=/usr/local/bin/mtasts ")
                .or_else(|| l.strip_prefix("#ExecStart=/usr/local/bin/mtasts "))
        })
        .collect();
    assert_eq!(execs.len(), 4, "{unit}");
    for exec in &execs {
        // systemd's `%%` is a `%`.
        let exec = exec.replace("%%", "%");
        let mut args: Vec<&str> = exec.split_whitespace().collect();
        assert_eq!(args[0], "serve");
        args.push("--help");
        let out = Command::new(env!("CARGO_BIN_EXE_mtasts"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{exec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for line in [
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "StateDirectory=mtasts-site",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.contains(&format!("\n{line}\n")), "{line}");
    }
    let tmp = TempDir::new();
    let path = tmp.write(
        "mtasts-serve.service",
        unit.replace("/usr/local/bin/mtasts", env!("CARGO_BIN_EXE_mtasts")),
    );
    match Command::new("systemd-analyze")
        .args(["verify", "--man=no", &path])
        .output()
    {
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            assert_eq!(stderr, "");
        }
        Err(e) => eprintln!("note: systemd-analyze not run ({e}); the unit is not verified"),
    }
}

/// Two `mtasts serve` processes on one PostgreSQL database: a domain
/// added, then changed, with `mtasts domain` (a third process) is served
/// by both within 5 seconds, without a restart or a signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_one_postgres_database() {
    let Some(db) = test_support::pg::TestDb::create() else {
        return;
    };
    let url = db.url("serve-cli-two-nodes");
    let dir = TempDir::new();
    let live = dir.path("live");
    let ca = TestCa::new();
    let d = "shared.example";
    let host = format!("mta-sts.{d}");
    let leaf = ca.issue(&[&host]);
    std::fs::create_dir_all(dir.0.join("live").join(&host)).unwrap();
    dir.write(
        &format!("live/{host}/fullchain.pem"),
        format!("{}{}", leaf.cert_pem, ca.ca_pem()),
    );
    dir.write(&format!("live/{host}/privkey.pem"), &leaf.key_pem);
    let ca_file = dir.write("ca.pem", ca.ca_pem());
    let args = [
        "serve",
        "--database",
        &url,
        "--cert-dir",
        &live,
        "--https",
        "127.0.0.1:0",
    ];
    let nodes = [ServeProc::spawn(&args), ServeProc::spawn(&args)];
    let ports: Vec<u16> = nodes
        .iter()
        .map(|n| {
            n.wait_line("info: serving policies over HTTPS listener=")
                .parse::<SocketAddr>()
                .unwrap()
                .port()
        })
        .collect();

    let dns = DnsServer::start(Zones::new().a(&host, Ipv4Addr::LOCALHOST))
        .await
        .unwrap();
    // The body each node serves for `d` (None: not 200).
    let fetch = |port: u16| {
        let overrides = policy_fetch::Overrides {
            resolver: Some(dns.addr()),
            ca_file: Some(ca_file.clone().into()),
            https_port: Some(port),
            ..policy_fetch::Overrides::default()
        };
        async move {
            let client = overrides.policy_client(overrides.dns().unwrap()).unwrap();
            match client.fetch(d).await {
                Ok(r) if r.status == 200 => Some(r.body),
                _ => None,
            }
        }
    };
    let served_within = |want: Vec<u8>| {
        let ports = ports.clone();
        let fetch = &fetch;
        async move {
            let start = Instant::now();
            for port in ports {
                loop {
                    if fetch(port).await.as_deref() == Some(&want[..]) {
                        break;
                    }
                    assert!(
                        start.elapsed() < Duration::from_secs(5),
                        "node on port {port} did not serve the change within 5 s"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    for &port in &ports {
        assert_eq!(fetch(port).await, None, "nothing hosted yet");
    }

    // Added through a third process.
    let added = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            run(&[
                "domain",
                "add",
                d,
                "--database",
                &url,
                "--mx",
                "mx.shared.example",
                "--json",
            ])
            .ok()
            .json()
        }
    })
    .await
    .unwrap();
    let first_id = added["policy_id"].as_str().unwrap_or_default().to_owned();
    let body = |mode: &str| {
        format!("version: STSv1\r\nmode: {mode}\r\nmx: mx.shared.example\r\nmax_age: 604800\r\n")
            .into_bytes()
    };
    served_within(body("testing")).await;

    // Changed: both nodes serve the new body.
    let changed = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            run(&[
                "domain",
                "set",
                d,
                "--database",
                &url,
                "--mode",
                "enforce",
                "--no-wait",
                "--json",
            ])
            .ok()
            .json()
        }
    })
    .await
    .unwrap();
    served_within(body("enforce")).await;
    // With --no-wait the id to publish is still the first one; the new
    // one is pending until every node serves the new body.
    assert!(!first_id.is_empty(), "{added}");
    assert_eq!(changed["policy_id"], first_id.as_str(), "{changed}");
    let pending = changed["pending"]["policy_id"].as_str().unwrap_or_default();
    assert!(pending > first_id.as_str(), "{changed}");

    for n in nodes {
        let (code, lines) = n.stop();
        assert_eq!(code, 0, "{lines:#?}");
    }
}
