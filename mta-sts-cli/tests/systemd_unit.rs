//! `examples/systemd/mtasts-daemon.service` and
//! `examples/systemd/mtasts-tlsrpt-collect.service` pass `systemd-analyze
//! verify` (every directive known and well-formed, the command runnable),
//! the daemon's with its optional Unix-socket lines enabled too, and their
//! commands parse. Skipped, with a note, where `systemd-analyze` is not
//! installed.
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
    verify("mtasts-daemon.service", &unit);
}

#[test]
fn tlsrpt_collect_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/systemd/mtasts-tlsrpt-collect.service"
    ))
    .unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/usr/local/bin/mtasts "))
        .expect("ExecStart line");
    assert!(
        exec.starts_with("tlsrpt collect --socket /var/spool/postfix/run/tlsrpt/tlsrpt.sock "),
        "{exec}"
    );
    // The command line is one the binary accepts (`--help` after it: clap
    // parses the arguments before printing the help, status 0).
    let mut args: Vec<&str> = exec.split_whitespace().collect();
    args.push("--help");
    let help = Command::new(env!("CARGO_BIN_EXE_mtasts"))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        help.status.success(),
        "{}",
        String::from_utf8_lossy(&help.stderr)
    );
    // The socket's directory and the state directory are writable under
    // ProtectSystem=strict.
    assert!(
        unit.contains("\nReadWritePaths=/var/spool/postfix/run/tlsrpt\n"),
        "{unit}"
    );
    assert!(unit.contains("\nStateDirectory=mtasts-tlsrpt\n"), "{unit}");
    assert!(exec.contains("--state /var/lib/mtasts-tlsrpt"), "{exec}");
    let unit = unit.replace("/usr/local/bin/mtasts", env!("CARGO_BIN_EXE_mtasts"));
    verify("mtasts-tlsrpt-collect.service", &unit);
}

/// `systemd-analyze verify` of the unit text `unit` named `name`.
fn verify(name: &str, unit: &str) {
    let tmp = TempDir::new();
    let path = tmp.write(name, unit);
    let out = match Command::new("systemd-analyze")
        .args(["verify", "--man=no", &path])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("note: systemd-analyze not run ({e}); {name} not verified");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify {name}: {stderr}"
    );
    // verify reports unknown or malformed directives on stderr, status 0.
    assert_eq!(stderr, "", "systemd-analyze verify {name}");
}

/// `examples/systemd/mtasts-tlsrpt-send.service` and its `.timer`: the
/// command parses, exit status 75 (deliveries pending) is not a failure,
/// the timer fires hourly after midnight UTC, and both pass
/// `systemd-analyze verify` together (the timer needs its service).
#[test]
fn tlsrpt_send_units_verify() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/systemd/");
    let service = std::fs::read_to_string(format!("{dir}mtasts-tlsrpt-send.service")).unwrap();
    let timer = std::fs::read_to_string(format!("{dir}mtasts-tlsrpt-send.timer")).unwrap();
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/usr/local/bin/mtasts "))
        .expect("ExecStart line");
    assert_eq!(
        exec,
        "tlsrpt send --state /var/lib/mtasts-tlsrpt --config /etc/mtasts/tlsrpt.toml"
    );
    let mut args: Vec<&str> = exec.split_whitespace().collect();
    args.push("--help");
    let help = Command::new(env!("CARGO_BIN_EXE_mtasts"))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        help.status.success(),
        "{}",
        String::from_utf8_lossy(&help.stderr)
    );
    for line in [
        "Type=oneshot",
        "SuccessExitStatus=75",
        "StateDirectory=mtasts-tlsrpt",
        // The collector's dynamic user: one owner for the state directory.
        "User=mtasts-tlsrpt-collect",
        "LoadCredential=dkim.pem:/etc/mtasts/dkim-tlsrpt.pem",
    ] {
        assert!(service.contains(&format!("\n{line}\n")), "{line}");
    }
    assert!(
        timer.contains("\nOnCalendar=*-*-* *:15:00 UTC\n"),
        "{timer}"
    );
    assert!(timer.contains("\nPersistent=true\n"), "{timer}");

    let tmp = TempDir::new();
    let service_path = tmp.write(
        "mtasts-tlsrpt-send.service",
        service.replace("/usr/local/bin/mtasts", env!("CARGO_BIN_EXE_mtasts")),
    );
    let timer_path = tmp.write("mtasts-tlsrpt-send.timer", &timer);
    let out = match Command::new("systemd-analyze")
        .args(["verify", "--man=no", &service_path, &timer_path])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("note: systemd-analyze not run ({e}); mtasts-tlsrpt-send units not verified");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert_eq!(stderr, "", "systemd-analyze verify mtasts-tlsrpt-send");
}
