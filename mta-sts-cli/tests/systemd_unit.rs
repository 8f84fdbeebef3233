//! `examples/systemd/mtasts-daemon.service` passes `systemd-analyze
//! verify` (every directive known and well-formed, the command runnable),
//! with its optional Unix-socket lines enabled too. Skipped, with a note,
//! where `systemd-analyze` is not installed.
#![cfg(unix)]

mod common;

use std::process::Command;

use common::TempDir;

#[test]
fn systemd_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/systemd/mtasts-daemon.service"
    ))
    .unwrap();
    assert!(
        unit.contains("ExecStart=/usr/local/bin/mtasts daemon --config /etc/mtasts/daemon.toml"),
        "{unit}"
    );
    // The binary under test instead of the installed one (verify checks
    // that it is executable), and the commented alternatives switched on.
    let unit = unit
        .replace("/usr/local/bin/mtasts", env!("CARGO_BIN_EXE_mtasts"))
        .replace("\n#SupplementaryGroups=", "\nSupplementaryGroups=")
        .replace("\n#ReadWritePaths=", "\nReadWritePaths=")
        .replace("\n#RuntimeDirectory", "\nRuntimeDirectory");
    assert!(unit.contains("\nRuntimeDirectory=mtasts\n"), "{unit}");
    let tmp = TempDir::new();
    let path = tmp.write("mtasts-daemon.service", &unit);
    let out = match Command::new("systemd-analyze")
        .args(["verify", "--man=no", &path])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("note: systemd-analyze not run ({e}); unit not verified");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    // verify reports unknown or malformed directives on stderr, status 0.
    assert_eq!(stderr, "", "systemd-analyze verify");
}
