//! Shared by the tests that build and run C programs: where the library
//! is, how to compile against it, and the loopback world (DNS, HTTPS, a
//! test CA) the lookups run against.
//!
//! `cargo test -p mta-sts-ffi` builds the library target with all its
//! crate types (the integration tests link the rlib), so `libmtasts.so`
//! and `libmtasts.a` are in the same `deps/` directory as the test
//! executable: the C programs link the `.so` there, with an rpath to it.
//! `CARGO_TARGET_TMPDIR` holds the compiled programs and fixtures.

#![allow(dead_code, reason = "each test file uses a part of this module")]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use test_support::{CertSet, DnsServer, HttpsServer, Response, Routes, TestCa, Zones};

/// The crate directory.
pub(crate) fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding `libmtasts.so` and `libmtasts.a` built for this
/// test run.
pub(crate) fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe
        .parent()
        .expect("the test executable's directory")
        .to_owned();
    for dir in [
        deps.clone(),
        deps.parent().map(Path::to_owned).unwrap_or_default(),
    ] {
        if dir.join("libmtasts.so").is_file() {
            return dir;
        }
    }
    panic!(
        "libmtasts.so is neither in {} nor in its parent; `cargo test -p mta-sts-ffi` builds it",
        deps.display()
    );
}

/// A fresh scratch directory under `CARGO_TARGET_TMPDIR`.
pub(crate) fn scratch(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "mtasts-ffi-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a scratch directory");
    d
}

/// Whether `cc -fsanitize=address,undefined` builds and runs a program
/// here (the sanitizer runtimes are installed).
pub(crate) fn sanitizers_work() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        let dir = scratch("asan-probe");
        let src = dir.join("probe.c");
        std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
        let exe = dir.join("probe");
        let built = Command::new("cc")
            .args(["-fsanitize=address,undefined", "-o"])
            .arg(&exe)
            .arg(&src)
            .status()
            .is_ok_and(|s| s.success());
        let works = built && Command::new(&exe).status().is_ok_and(|s| s.success());
        if !works {
            eprintln!("note: cc -fsanitize=address,undefined does not work here; C tests are built without sanitizers");
        }
        works
    })
}

/// Compile `tests/c/<name>.c` against the library into `out_dir`:
/// `-std=c11 -Wall -Wextra -Wpedantic -Werror`, with AddressSanitizer and
/// UBSan when `sanitize` (and they work here).
pub(crate) fn compile(name: &str, out_dir: &Path, sanitize: bool, optimize: bool) -> PathBuf {
    let src = crate_dir()
        .join("tests")
        .join("c")
        .join(format!("{name}.c"));
    compile_source(&src, name, out_dir, sanitize, optimize, &[])
}

/// Compile the C file `src` against the library into `out_dir/<name>`,
/// with the flags of [`compile`] and `extra` (e.g. `-pthread`).
pub(crate) fn compile_source(
    src: &Path,
    name: &str,
    out_dir: &Path,
    sanitize: bool,
    optimize: bool,
    extra: &[&str],
) -> PathBuf {
    let exe = out_dir.join(name);
    let lib = lib_dir();
    let mut cmd = Command::new("cc");
    cmd.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
        "-g",
    ])
    .arg(if optimize { "-O2" } else { "-O0" })
    .arg("-D_POSIX_C_SOURCE=200809L")
    .arg("-I")
    .arg(crate_dir().join("include"))
    .args(extra);
    if sanitize && sanitizers_work() {
        cmd.args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
            "-fno-omit-frame-pointer",
        ]);
    }
    cmd.arg("-o")
        .arg(&exe)
        .arg(src)
        .arg("-L")
        .arg(&lib)
        .arg("-lmtasts")
        // DT_RPATH (not RUNPATH): it wins over the LD_LIBRARY_PATH that
        // cargo sets for tests, which also lists target/debug, where an
        // older `cargo build` may have left another libmtasts.so.
        .arg("-Wl,--disable-new-dtags")
        .arg(format!("-Wl,-rpath,{}", lib.display()));
    let out = cmd.output().expect("run cc");
    assert!(
        out.status.success(),
        "cc failed for {}:\n{}{}",
        src.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Run a command; panic with its output unless it exits 0.
pub(crate) fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run the program");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{cmd:?} exited {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    println!("{stdout}");
    eprintln!("{stderr}");
    out
}

/// The sanitizer settings for running a program built with them: leak
/// checking on, every UBSan finding fatal.
pub(crate) fn sanitizer_env(cmd: &mut Command) -> &mut Command {
    cmd.env(
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:exitcode=86",
    )
    .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
}

/// Fixtures for `api.c`: a valid and an expired certificate for
/// `mx1.example.test` (DER files) and a report e-mail.
pub(crate) fn api_args(dir: &Path) -> Vec<PathBuf> {
    let ca = TestCa::new();
    let good = ca.issue(&["mx1.example.test"]);
    let now = time::OffsetDateTime::now_utc();
    let expired = ca.issue_with(
        &["mx1.example.test"],
        now - time::Duration::days(30),
        now - time::Duration::days(1),
    );
    let g = dir.join("good.der");
    let e = dir.join("expired.der");
    std::fs::write(&g, good.cert_der.as_ref()).unwrap();
    std::fs::write(&e, expired.cert_der.as_ref()).unwrap();
    let eml = crate_dir().join("../examples/data/reports/mail-auth/rpt01.eml");
    vec![g, e, eml]
}

/// An enforce policy with the `mx1` host of `domain`.
pub(crate) fn policy_for(domain: &str, mode: &str) -> String {
    format!(
        "version: STSv1\nmode: {mode}\nmx: mx1.{domain}\nmx: *.backup.{domain}\nmax_age: 86400\n"
    )
}

/// Loopback DNS and HTTPS servers on a runtime of their own, and the CA
/// file that trusts the HTTPS server:
///
/// - `fast.test`: `_mta-sts` id `20240101`, an `enforce` policy;
/// - `slow.test`: a `testing` policy trickled out after 1.5 s;
/// - `none.test`: no `_mta-sts` record;
/// - `broken.test`: a record, but the policy URL answers 404;
/// - `example.test`: an `enforce` policy for `mx1.example.test`.
pub(crate) struct World {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) dns: DnsServer,
    pub(crate) https: HttpsServer,
    pub(crate) ca_file: PathBuf,
}

impl World {
    pub(crate) fn start(dir: &Path) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let ca = TestCa::new();
        let domains = ["fast.test", "slow.test", "broken.test", "example.test"];
        let names: Vec<String> = domains.iter().map(|d| format!("mta-sts.{d}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let leaf = ca.issue(&refs);
        let mut zones = Zones::new().a("none.test", Ipv4Addr::LOCALHOST);
        for d in domains {
            zones = zones
                .txt(&format!("_mta-sts.{d}"), &["v=STSv1; id=20240101;"])
                .a(&format!("mta-sts.{d}"), Ipv4Addr::LOCALHOST);
        }
        let routes = Routes::new()
            .policy("fast.test", policy_for("fast.test", "enforce"))
            .policy("example.test", policy_for("example.test", "enforce"))
            .route(
                "mta-sts.slow.test",
                test_support::POLICY_PATH,
                Response::Trickle {
                    chunk: policy_for("slow.test", "testing").into_bytes(),
                    interval: std::time::Duration::from_millis(1500),
                    count: 1,
                },
            );
        let (dns, https) = runtime.block_on(async {
            (
                DnsServer::start(zones).await.unwrap(),
                HttpsServer::start_with(CertSet::new(leaf), routes)
                    .await
                    .unwrap(),
            )
        });
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.ca_pem()).unwrap();
        Self {
            runtime,
            dns,
            https,
            ca_file,
        }
    }

    /// The arguments `lookup.c` and the example program take for the
    /// network: the resolver, the HTTPS port and the CA file.
    pub(crate) fn resolver(&self) -> String {
        self.dns.addr().to_string()
    }

    pub(crate) fn https_port(&self) -> String {
        self.https.addr().port().to_string()
    }
}
