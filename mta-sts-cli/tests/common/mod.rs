//! Helpers shared by the end-to-end tests: temporary directories and
//! runs of the `mtasts` binary.

#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// A file of the repository's shared test data, by its path from the
/// repository root (see `testdata/README.md`).
fn repo(rel: &str) -> String {
    format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// An RFC example file by name: the one copy in `testdata/rfc/`, except
/// the RFC 8461 section 3.2 policy, which is the README tour's
/// `examples/data/mta-sts.txt`.
pub fn data(name: &str) -> String {
    match name {
        "rfc8461-section-3.2-policy.txt" => repo("examples/data/mta-sts.txt"),
        _ => repo(&format!("testdata/rfc/{name}")),
    }
}

/// A sample TLS-RPT report by upstream folder and name (e.g.
/// `mail-auth/rpt01.json`): the README's copy in `examples/data/reports/`
/// when there is one, else the one in `testdata/reports/`.
pub fn report(rel: &str) -> String {
    let sample = repo(&format!("examples/data/reports/{rel}"));
    if std::path::Path::new(&sample).is_file() {
        sample
    } else {
        repo(&format!("testdata/reports/{rel}"))
    }
}

/// A temporary directory ([`test_support::TempDir`], removed on drop) with
/// string paths for the binary's arguments; its path is `dir.0` through
/// `Deref`.
pub struct TempDir {
    dir: test_support::TempDir,
}

impl TempDir {
    /// A new, empty directory with a name unique to this process and call.
    pub fn new() -> Self {
        Self {
            dir: test_support::TempDir::new("mtasts-cli-test"),
        }
    }

    /// Write `bytes` to the file `name` in the directory; returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    }

    /// The path of `name` in the directory (not created).
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }
}

impl std::ops::Deref for TempDir {
    type Target = test_support::TempDir;

    fn deref(&self) -> &test_support::TempDir {
        &self.dir
    }
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    /// The exit status.
    pub code: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl Run {
    /// Assert exit status 0 and return self.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self
    }

    /// Assert exit status 1 with exactly one `error: ` line, the last one,
    /// every other stderr line being a warning; return the error line.
    pub fn fails(&self) -> String {
        assert_eq!(self.code, 1, "expected exit 1: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        let (last, rest) = lines.split_last().expect("no stderr");
        assert!(last.starts_with("error: "), "{self:#?}");
        assert!(rest.iter().all(|l| l.starts_with("warning: ")), "{self:#?}");
        (*last).to_owned()
    }

    /// Assert exit status 1 with nothing but one `error: ` line on stderr.
    pub fn fails_alone(&self) -> String {
        let e = self.fails();
        assert!(self.stderr.starts_with("error: "), "{self:#?}");
        e
    }

    /// Assert a usage error: exit status 2 and clap's `error: ` message.
    pub fn usage_error(&self) {
        assert_eq!(self.code, 2, "expected exit 2: {self:#?}");
        assert!(self.stderr.starts_with("error: "), "{self:#?}");
        assert!(self.stdout.is_empty(), "{self:#?}");
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Run `mtasts` with `args` and `stdin`.
pub fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtasts"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // The binary may exit without reading everything.
    let _ = input.write_all(stdin);
    drop(input);
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().expect("killed by a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    assert!(!run.stderr.contains("panicked"), "{run:#?}");
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "{run:#?}");
    run
}

/// Run `mtasts` with `args` and empty stdin.
pub fn run(args: &[&str]) -> Run {
    run_with_stdin(args, b"")
}

/// `mtasts report aggregate` for 2024-05-01 by Example Mail
/// (mail.example.net), then `extra`.
pub fn aggregate_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "report",
        "aggregate",
        "--day",
        "2024-05-01",
        "--org",
        "Example Mail",
        "--contact",
        "tlsrpt@mail.example.net",
        "--submitter",
        "mail.example.net",
    ];
    a.extend_from_slice(extra);
    a
}
