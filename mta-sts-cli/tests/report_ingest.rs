//! `mtasts report ingest`, and `report summarize|export --state`, run as
//! the real binary: report files, an e-mail piped through a shell as a
//! mail alias does, garbage (exit 1), a store that cannot be reached
//! (exit 75, EX_TEMPFAIL), two processes storing the same reports at
//! once (SQLite and PostgreSQL), and the summary and export from the
//! store equal to those over the same files.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use common::{Run, TempDir, report, run, run_with_stdin};
use serde_json::Value;
use test_support::pg::TestDb;
use test_support::{DnsServer, Zones};

/// The README's sample reports (one of them, rpt01, twice: as JSON and as
/// the e-mail carrying it) and the repository's other samples.
fn samples() -> Vec<String> {
    [
        "mail-auth/rpt01.eml",
        "mail-auth/rpt01.json",
        "mail-auth/rpt02.json",
        "mail-auth/rpt02.eml",
        "mox/example.eml",
        "parsedmarc/mail.ru.json",
        "dmarc-report-viewer/microsoft.json",
        "dmarc-report-viewer/no-contact.json",
        "tlsrpt-digest/tlsrpt_failure.eml",
    ]
    .iter()
    .map(|r| report(r))
    .collect()
}

/// A loopback DNS server with no keys: the samples' signatures fail at
/// once instead of waiting for the system's resolvers.
fn dns() -> (tokio::runtime::Runtime, DnsServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dns = rt.block_on(DnsServer::start(Zones::new())).unwrap();
    (rt, dns)
}

fn ingest(store: &[&str], dns: SocketAddr, files: &[String]) -> Run {
    let resolver = dns.to_string();
    let mut args = vec!["report", "ingest"];
    args.extend_from_slice(store);
    args.extend_from_slice(&["--dkim-resolver", &resolver]);
    args.extend(files.iter().map(String::as_str));
    run(&args)
}

/// `summarize --json` without what differs by nature between files and
/// the store (`inputs` and `store`).
fn summary_of(r: &Run) -> Value {
    let mut v = r.json();
    let o = v.as_object_mut().unwrap();
    o.remove("inputs");
    o.remove("store");
    v
}

#[test]
fn files_then_summarize_and_export_from_the_store() {
    let dir = TempDir::new();
    let state = dir.path("state");
    let (_rt, dns) = dns();
    let files = samples();
    let r = ingest(&["--state", &state], dns.addr(), &files).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), files.len(), "{r:#?}");
    assert!(
        lines[0].starts_with("stored: Company-X report-id 5065427c-23d3-47ca-b6e0-946ea0e8c4be ("),
        "{r:#?}"
    );
    assert!(
        lines[1]
            .starts_with("duplicate: Company-X report-id 5065427c-23d3-47ca-b6e0-946ea0e8c4be ("),
        "{r:#?}"
    );
    assert!(
        lines[1].ends_with("rpt01.json; already stored, counted once)"),
        "{r:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("stored: ")).count(),
        7
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("duplicate: "))
            .count(),
        2
    );

    // --json: one object per input.
    let again = run(&[
        "--json",
        "report",
        "ingest",
        "--state",
        &state,
        "--dkim-resolver",
        &dns.addr().to_string(),
        &files[4],
    ])
    .ok();
    let j = again.json();
    assert_eq!(j[0]["outcome"], "duplicate");
    assert_eq!(j[0]["organization"], "Google Inc.");

    // The summary from the store is the summary of the same files.
    // The store has one more receipt (the --json run above): ingest it on
    // the file side too.
    let mut with_again = files.clone();
    with_again.push(files[4].clone());
    let from_files = run(&["--json", "report", "summarize", "--no-fail-on-alerts"]
        .into_iter()
        .chain(with_again.iter().map(String::as_str))
        .collect::<Vec<_>>())
    .ok();
    let from_store = run(&[
        "--json",
        "report",
        "summarize",
        "--no-fail-on-alerts",
        "--state",
        &state,
    ])
    .ok();
    assert_eq!(summary_of(&from_store), summary_of(&from_files));
    assert_eq!(from_store.json()["store"]["reports"], 7);
    assert_eq!(from_store.json()["store"]["receipts"], 10);

    // Filters (--from/--to are --since/--until), and the exit status 3
    // of error alerts, the same way.
    for filter in [
        &["--domain", "company-y.example"][..],
        &["--from", "2019-01-01", "--to", "2023-12-31"],
        &[
            "--since",
            "2016-04-01",
            "--domain",
            "mail.ru",
            "--domain",
            "example.com",
        ],
    ] {
        let mut a = vec!["--json", "report", "summarize"];
        a.extend_from_slice(filter);
        let mut f = a.clone();
        f.extend(with_again.iter().map(String::as_str));
        let mut s = a.clone();
        s.extend_from_slice(&["--state", &state]);
        let (f, s) = (run(&f), run(&s));
        assert_eq!(f.code, s.code, "{filter:?}: {f:#?} {s:#?}");
        assert_eq!(summary_of(&s), summary_of(&f), "{filter:?}");
    }
    let text = run(&["report", "summarize", "--state", &state]);
    assert_eq!(text.code, 3, "{text:#?}");
    assert!(
        text.stdout
            .starts_with("TLS-RPT summary: 7 report(s), 3 duplicate(s) ignored")
    );

    // export: the same rows as from the files (each report once).
    let csv_files = run(&["report", "export", "--format", "csv"]
        .into_iter()
        .chain(files.iter().map(String::as_str))
        .collect::<Vec<_>>())
    .ok();
    let csv_store = run(&["report", "export", "--format", "csv", "--state", &state]).ok();
    assert_eq!(csv_store.stdout, csv_files.stdout);
    assert!(csv_store.stdout.lines().count() > 8);
    let nd = run(&[
        "report",
        "export",
        "--state",
        &state,
        "--domain",
        "company-y.example",
    ])
    .ok();
    let first: Value = serde_json::from_str(nd.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["source"], files[0].as_str());

    // --prune: the reports were all received today, nothing goes.
    let r = run(&["report", "ingest", "--state", &state, "--prune"]).ok();
    assert_eq!(
        r.stdout,
        "pruned: 0 report(s) received more than 400 day(s) ago\n"
    );

    // --state and files together: a usage error; a state without a store.
    run(&["report", "summarize", "--state", &state, &files[0]]).usage_error();
    let e = run(&["report", "summarize", "--state", &dir.path("nothing")]).fails_alone();
    assert!(e.contains("no site store here"), "{e}");
}

#[test]
fn an_email_piped_through_a_shell_is_stored() {
    let dir = TempDir::new();
    let state = dir.path("state");
    let (_rt, dns) = dns();
    let eml = report("mox/example.eml");
    // As a mail alias runs it: `|mtasts report ingest --state DIR -`.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cat '{eml}' | '{}' report ingest --state '{state}' --dkim-resolver {} -",
            env!("CARGO_BIN_EXE_mtasts"),
            dns.addr()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout} {:?}", out.stderr);
    assert_eq!(
        stdout,
        "stored: Google Inc. report-id 2022-09-15T00:00:00Z_test.xmox.nl (<stdin>)\n"
    );
    // Again on stdin: a duplicate, still exit 0 (the MTA must not retry).
    let bytes = std::fs::read(&eml).unwrap();
    let r = run_with_stdin(
        &[
            "report",
            "ingest",
            "--state",
            &state,
            "--dkim-resolver",
            &dns.addr().to_string(),
            "-",
        ],
        &bytes,
    )
    .ok();
    assert!(r.stdout.starts_with("duplicate: Google Inc. "), "{r:#?}");
    // The sample's DKIM signature (google.com) cannot be verified here:
    // --require-dkim rejects it, exit 1 with the reason.
    let r = run_with_stdin(
        &[
            "report",
            "ingest",
            "--state",
            &dir.path("strict"),
            "--require-dkim",
            "--dkim-resolver",
            &dns.addr().to_string(),
            "-",
        ],
        &bytes,
    );
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.starts_with(
            "error: <stdin>: rejected: DKIM fail (d=google.com) and --require-dkim is set"
        ),
        "{r:#?}"
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn garbage_is_rejected_with_exit_1() {
    let dir = TempDir::new();
    let state = dir.path("state");
    let (_rt, dns) = dns();
    let garbage = dir.write("garbage.txt", "hello, world\n");
    let good = report("mail-auth/rpt02.json");
    let r = ingest(&["--state", &state], dns.addr(), &[garbage.clone(), good]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stdout.starts_with("stored: "), "{r:#?}");
    assert!(
        r.stderr.contains(&format!(
            "error: {garbage}: rejected: not a TLS-RPT report (neither JSON, gzip nor an e-mail)"
        )),
        "{r:#?}"
    );
    assert!(
        r.stderr.ends_with("error: 1 of 2 input(s) rejected\n"),
        "{r:#?}"
    );
    let r = run_with_stdin(
        &["report", "ingest", "--state", &state, "-"],
        b"\x00\x01binary",
    );
    assert_eq!(r.code, 1, "{r:#?}");
    // A missing file is rejected too; a usage error without a store.
    let r = ingest(
        &["--state", &state],
        dns.addr(),
        &[dir.path("missing.json")],
    );
    assert_eq!(r.code, 1, "{r:#?}");
    run(&["report", "ingest", "x.json"]).usage_error();
}

#[test]
fn an_unreachable_store_exits_75() {
    let dir = TempDir::new();
    let f = report("mail-auth/rpt02.json");
    let r = run(&[
        "report",
        "ingest",
        "--database",
        "postgresql://postgres@127.0.0.1:1/mtasts?connect_timeout=2",
        &f,
    ]);
    assert_eq!(r.code, 75, "{r:#?}");
    assert!(
        r.stderr.contains("the site store cannot be opened"),
        "{r:#?}"
    );
    assert!(r.stdout.is_empty());
    // A state directory that cannot be created (below a file).
    let file = dir.write("file", "x");
    let r = run(&["report", "ingest", "--state", &format!("{file}/state"), &f]);
    assert_eq!(r.code, 75, "{r:#?}");
}

/// Two `mtasts report ingest` processes given the same reports at once:
/// each report stored by one of them, a duplicate for the other.
fn two_processes(store: &[&str]) {
    let (_rt, dns) = dns();
    let files = samples();
    let spawn = || {
        let mut args = vec!["report".to_owned(), "ingest".to_owned()];
        args.extend(store.iter().map(|s| (*s).to_owned()));
        args.extend(["--dkim-resolver".to_owned(), dns.addr().to_string()]);
        args.extend(files.iter().cloned());
        Command::new(env!("CARGO_BIN_EXE_mtasts"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(a.status.code(), Some(0), "{a:?}");
    assert_eq!(b.status.code(), Some(0), "{b:?}");
    let out = String::from_utf8(a.stdout).unwrap() + &String::from_utf8(b.stdout).unwrap();
    assert_eq!(
        out.lines().filter(|l| l.starts_with("stored: ")).count(),
        7,
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("duplicate: ")).count(),
        11,
        "{out}"
    );
    let mut args = vec!["--json", "report", "summarize", "--no-fail-on-alerts"];
    args.extend_from_slice(store);
    let s = run(&args).ok().json();
    assert_eq!(s["reports"], 7);
    assert_eq!(s["duplicates"], 11);
    assert_eq!(s["store"]["receipts"], 18);
}

#[test]
fn two_processes_share_a_sqlite_store() {
    let dir = TempDir::new();
    let state = dir.path("state");
    two_processes(&["--state", &state]);
}

#[test]
fn two_processes_share_a_postgres_store() {
    let Some(db) = TestDb::create() else { return };
    let url = db.url("ingest-cli");
    two_processes(&["--database", &url]);
    assert_eq!(
        db.value("SELECT count(*) FROM inbox_reports").as_deref(),
        Some("7")
    );
}
