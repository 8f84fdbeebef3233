//! `examples/c/`: the mail-server example builds with its Makefile
//! (against the library of this test run) and delivers a message against
//! the loopback DNS and HTTPS servers: the MX outside the policy is
//! skipped, the one with an expired certificate refused, the next one
//! used; the report it prints counts all three.

mod common;

use std::process::Command;

use common::{World, crate_dir, lib_dir, run_ok, scratch};

#[test]
fn example_mail_server_builds_and_delivers() {
    let dir = scratch("example");
    let world = World::start(&dir);
    let example = crate_dir().join("../examples/c");
    run_ok(
        Command::new("make")
            .arg("-C")
            .arg(&example)
            .arg(format!("LIBDIR={}", lib_dir().display()))
            .arg(format!("BUILD={}", dir.display())),
    );
    let out = run_ok(
        Command::new(dir.join("mail_server"))
            .args(["--resolver", &world.resolver()])
            .args(["--https-port", &world.https_port()])
            .arg("--ca-file")
            .arg(&world.ca_file)
            .arg("example.test")
            .args([
                "evil.example.org:valid",
                "mx1.example.test:certificate-expired",
                "mx2.backup.example.test:valid",
            ]),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "example.test: policy id 20240101, mode enforce, max_age 86400, mx: mx1.example.test *.backup.example.test",
        "evil.example.org: not in the policy: skipped (TLS-RPT failure validation-failure mx-not-in-policy)",
        "mx1.example.test: TLS-RPT failure certificate-expired",
        "mx1.example.test: refused: try the next MX",
        "mx2.backup.example.test: deliver (TLS required)",
        "!example.test!",
        ": 1 successful, 2 failed",
        "\"result-type\":\"certificate-expired\"",
        "\"failure-reason-code\":\"mx-not-in-policy\"",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }

    // A domain without a policy: delivered without TLS requirements.
    let out = run_ok(
        Command::new(dir.join("mail_server"))
            .args(["--resolver", &world.resolver()])
            .args(["--https-port", &world.https_port()])
            .arg("--ca-file")
            .arg(&world.ca_file)
            .args(["none.test", "mx.none.test:starttls-not-supported"]),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("none.test: no MTA-STS policy"), "{stdout}");
    assert!(stdout.contains("mx.none.test: deliver\n"), "{stdout}");
    assert!(
        stdout.contains("\"policy-type\":\"no-policy-found\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"result-type\":\"starttls-not-supported\""),
        "{stdout}"
    );
}
