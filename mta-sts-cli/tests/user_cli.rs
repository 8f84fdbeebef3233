//! `mtasts user add|list|token|remove`, run as the real binary: the token
//! `user add --json` prints works against the API of a real `mtasts
//! serve` (an HTTPS client trusting the test CA), a new token replaces
//! it, removal ends it; the API's summary equals `mtasts report
//! summarize --json` over the same file.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TempDir, report, run};
use serde_json::Value;
use test_support::TestCa;

const HOST: &str = "reports.example.net";

/// A running `mtasts serve`, killed on drop.
struct Serve {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Serve {
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
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        Self { child, lines }
    }

    fn wait_line(&self, prefix: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
            {
                return l.to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {prefix:?}: {:#?}",
                self.lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `path` from `HOST` at `addr` over HTTPS with `token`: status and body.
fn get(addr: SocketAddr, ca: &TestCa, path: &str, token: &str) -> (u16, String) {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(ca.root_store())
    .with_no_client_auth();
    let conn = rustls::ClientConnection::new(Arc::new(config), HOST.try_into().unwrap()).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw);
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        // Chunked: size lines and chunks.
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_owned()
    };
    (status, body)
}

#[test]
fn a_token_of_user_add_works_against_the_served_api() {
    let dir = TempDir::new();
    let state = dir.path("state");
    let file = report("mail-auth/rpt02.json");

    run(&[
        "domain",
        "add",
        "example.com",
        "--mx",
        "demo.example.com",
        "--state",
        &state,
    ])
    .ok();
    run(&["report", "ingest", "--state", &state, &file]).ok();
    let added = run(&[
        "--json",
        "user",
        "add",
        "alice",
        "--domain",
        "Example.COM.",
        "--state",
        &state,
    ])
    .ok()
    .json();
    assert_eq!(added["user"], "alice");
    let token = added["token"].as_str().unwrap().to_owned();
    assert_eq!(added.as_object().unwrap().len(), 2);
    let admin = run(&[
        "--json", "user", "add", "root", "--admin", "--state", &state,
    ])
    .ok()
    .json();
    let bob = run(&[
        "--json",
        "user",
        "add",
        "bob",
        "--domain",
        "other.example",
        "--state",
        &state,
    ])
    .ok()
    .json();
    // Text output: the token on the first line.
    let carol = run(&["user", "add", "carol", "--admin", "--state", &state]).ok();
    assert_eq!(carol.stdout.lines().next().unwrap().len(), 16 + 1 + 43);
    let listed = run(&["--json", "user", "list", "--state", &state])
        .ok()
        .json();
    let names: Vec<&str> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol", "root"]);
    assert_eq!(
        listed["users"][0]["domains"],
        serde_json::json!(["example.com"])
    );
    assert!(
        !listed.to_string().contains(&token[..16]),
        "no token material listed"
    );
    // Refusals.
    let e = run(&["user", "add", "alice", "--state", &state]).fails();
    assert!(e.contains("already"), "{e}");
    let e = run(&["user", "add", "bad name", "--admin", "--state", &state]).fails();
    assert!(e.contains("account name"), "{e}");
    let e = run(&["user", "remove", "nobody", "--state", &state]).fails();
    assert!(e.contains("no such account"), "{e}");
    run(&["user", "add", "x", "--admin"]).usage_error();

    // Serve it.
    let ca = TestCa::new();
    let leaf = ca.issue(&[HOST]);
    let live = dir.path("live");
    std::fs::create_dir_all(format!("{live}/{HOST}")).unwrap();
    std::fs::write(format!("{live}/{HOST}/privkey.pem"), &leaf.key_pem).unwrap();
    std::fs::write(
        format!("{live}/{HOST}/fullchain.pem"),
        format!("{}{}", leaf.cert_pem, ca.ca_pem()),
    )
    .unwrap();
    let serve = Serve::spawn(&[
        "serve",
        "--state",
        &state,
        "--https",
        "127.0.0.1:0",
        "--cert-dir",
        &live,
        "--probe-every",
        "0",
    ]);
    let addr: SocketAddr = serve
        .wait_line("info: serving policies over HTTPS listener=")
        .parse()
        .unwrap();

    let (status, body) = get(addr, &ca, "/api/v1/domains", &token);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["domains"][0]["domain"], "example.com");
    assert_eq!(v["domains"][0]["mode"], "testing");
    let (status, _) = get(
        addr,
        &ca,
        "/api/v1/domains/example.com",
        bob["token"].as_str().unwrap(),
    );
    assert_eq!(status, 404, "bob does not see example.com");
    let (status, _) = get(
        addr,
        &ca,
        "/api/v1/domains/example.com",
        admin["token"].as_str().unwrap(),
    );
    assert_eq!(status, 200);

    // The summary equals `report summarize --json` over the same file.
    let (status, body) = get(
        addr,
        &ca,
        "/api/v1/domains/example.com/summary?from=2020-01-01&to=2020-01-31",
        &token,
    );
    assert_eq!(status, 200, "{body}");
    let api: Value = serde_json::from_str(&body).unwrap();
    let mut cli = run(&[
        "--json",
        "report",
        "summarize",
        "--no-fail-on-alerts",
        "--domain",
        "example.com",
        "--since",
        "2020-01-01",
        "--until",
        "2020-01-31",
        &file,
    ])
    .ok()
    .json();
    cli.as_object_mut().unwrap().remove("inputs");
    // The file-based summary names the input as given; the store's
    // names the source it was ingested from: the same path here.
    assert_eq!(api, cli);
    assert_eq!(api["reports"], 1);

    // A new token: the old one stops working at once.
    let renewed = run(&["--json", "user", "token", "alice", "--state", &state])
        .ok()
        .json();
    let new_token = renewed["token"].as_str().unwrap();
    assert_ne!(new_token, token);
    assert_eq!(get(addr, &ca, "/api/v1/domains", &token).0, 401);
    assert_eq!(get(addr, &ca, "/api/v1/domains", new_token).0, 200);
    run(&["user", "remove", "alice", "--state", &state]).ok();
    assert_eq!(get(addr, &ca, "/api/v1/domains", new_token).0, 401);
}
