//! `mtasts report ingest --maildir DIR [--watch]` and `--imap URL
//! --password-file FILE [--watch]`, run as the real binary: a Maildir in
//! a temporary directory (a delivery picked up while watching, stopped
//! by SIGTERM), and Debian's Dovecot started by the test (skipped with a
//! printed reason when it cannot start, unless MTASTS_REQUIRE_DOVECOT=1).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, report, run};
use test_support::dovecot::Dovecot;
use test_support::{DnsServer, Zones};

/// A runtime for the loopback servers, and a DNS server without keys
/// (the samples' DKIM signatures fail at once).
fn servers() -> (tokio::runtime::Runtime, DnsServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dns = rt.block_on(DnsServer::start(Zones::new())).unwrap();
    (rt, dns)
}

fn maildir(root: &Path) -> std::path::PathBuf {
    let md = root.join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).unwrap();
    }
    md
}

/// Deliver as an MTA does: write in `tmp/`, rename into `new/`.
fn deliver(md: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(md.join("tmp").join(name), bytes).unwrap();
    std::fs::rename(md.join("tmp").join(name), md.join("new").join(name)).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn maildir_once_then_watched_until_sigterm() {
    let (_rt, dns) = servers();
    let resolver = dns.addr().to_string();
    let tmp = TempDir::new();
    let md = maildir(&tmp.0);
    let state = tmp.path("state");
    let mail = std::fs::read(report("mox/example.eml")).unwrap();
    deliver(&md, "1.a", &mail);
    deliver(&md, "2.b", &mail);
    deliver(&md, "3.c", b"garbage\n");
    let md_s = md.to_str().unwrap();
    let base = [
        "report",
        "ingest",
        "--state",
        &state,
        "--dkim-resolver",
        &resolver,
        "--maildir",
        md_s,
    ];
    let r = run(&base).ok();
    assert_eq!(
        r.stdout,
        format!("maildir {md_s}: 1 stored, 1 duplicate(s), 1 rejected, 0 deferred, 0 failed\n")
    );
    assert!(r.stderr.contains("reason="), "{r:#?}");
    assert_eq!(names(&md.join("cur")), ["1.a:2,S", "2.b:2,S"]);
    assert_eq!(names(&md.join(".rejected/cur")), ["3.c:2,"]);
    // Nothing left: --json says so.
    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(&base);
    let v = run(&json_args).ok().json();
    assert_eq!(v["stored"], 0);
    assert_eq!(v["rejected"], 0);
    assert_eq!(v["deferred"], 0);

    // Watching: a delivery is picked up; SIGTERM ends it with exit 0.
    let mut args = base.to_vec();
    args.push("--watch");
    let child = Command::new(env!("CARGO_BIN_EXE_mtasts"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let failure = std::fs::read(report("tlsrpt-digest/tlsrpt_failure.eml")).unwrap();
    deliver(&md, "4.d", &failure);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !md.join("cur/4.d:2,S").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let picked = md.join("cur/4.d:2,S").exists();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(picked, "not picked up while watching: {stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout,
        format!("maildir {md_s}: 1 stored, 0 duplicate(s), 0 rejected, 0 deferred, 0 failed\n")
    );
}

#[test]
fn mailbox_usage_errors() {
    let tmp = TempDir::new();
    let state = tmp.path("state");
    let s = state.as_str();
    for args in [
        // --watch needs --maildir or --imap.
        vec!["report", "ingest", "--state", s, "--watch", "x.eml"],
        // Files and a mailbox do not mix.
        vec!["report", "ingest", "--state", s, "--maildir", s, "x.eml"],
        // One mailbox at a time.
        vec![
            "report",
            "ingest",
            "--state",
            s,
            "--maildir",
            s,
            "--imap",
            "imaps://u@h/INBOX",
            "--password-file",
            s,
        ],
        // --imap needs --password-file.
        vec![
            "report",
            "ingest",
            "--state",
            s,
            "--imap",
            "imaps://u@h/INBOX",
        ],
        // --imap-root only with --imap.
        vec![
            "report",
            "ingest",
            "--state",
            s,
            "--maildir",
            s,
            "--imap-root",
            s,
        ],
    ] {
        run(&args).usage_error();
    }
    // Not a Maildir: exit 1 with why.
    let e = run(&[
        "report",
        "ingest",
        "--state",
        s,
        "--maildir",
        &tmp.path("none"),
    ])
    .fails();
    assert!(e.contains("is not a Maildir"), "{e}");
    // A password in the URL is refused.
    let pw = tmp.write("pw", "secret\n");
    let e = run(&[
        "report",
        "ingest",
        "--state",
        s,
        "--imap",
        "imaps://u:secret@h/INBOX",
        "--password-file",
        &pw,
    ])
    .fails();
    assert!(e.contains("use --password-file"), "{e}");
}

#[test]
fn imap_messages_are_moved_by_outcome() {
    let (rt, dns) = servers();
    let Some(dovecot) = rt.block_on(Dovecot::start_or_skip()).unwrap() else {
        return;
    };
    let resolver = dns.addr().to_string();
    let tmp = TempDir::new();
    let state = tmp.path("state");
    let pw = tmp.write("password", format!("{}\n", dovecot.password()));
    let mail = std::fs::read(report("mox/example.eml")).unwrap();
    rt.block_on(dovecot.append("INBOX", &mail)).unwrap();
    rt.block_on(dovecot.append("INBOX", b"Subject: hi\r\n\r\nno report\r\n"))
        .unwrap();
    let url = dovecot.url("INBOX");
    let ca = dovecot.ca_path();
    let r = run(&[
        "report",
        "ingest",
        "--state",
        &state,
        "--dkim-resolver",
        &resolver,
        "--imap",
        &url,
        "--password-file",
        &pw,
        "--imap-root",
        ca.to_str().unwrap(),
        "--imap-done-folder",
        "Reports-Done",
    ])
    .ok();
    assert_eq!(
        r.stdout,
        format!(
            "imaps://tlsrpt@{}/INBOX: 1 stored, 0 duplicate(s), 1 rejected, 0 deferred, 0 failed\n",
            dovecot.addr()
        )
    );
    assert_eq!(rt.block_on(dovecot.count("INBOX")).unwrap(), Some(0));
    assert_eq!(rt.block_on(dovecot.count("Reports-Done")).unwrap(), Some(1));
    assert_eq!(
        rt.block_on(dovecot.count("TLSRPT-Rejected")).unwrap(),
        Some(1)
    );

    // Without --imap-root the test CA is not trusted: exit 1, nothing moved.
    rt.block_on(dovecot.append("INBOX", &mail)).unwrap();
    let e = run(&[
        "report",
        "ingest",
        "--state",
        &state,
        "--imap",
        &url,
        "--password-file",
        &pw,
    ])
    .fails();
    assert!(e.contains("connecting to 127.0.0.1:"), "{e}");
    assert_eq!(rt.block_on(dovecot.count("INBOX")).unwrap(), Some(1));
}
