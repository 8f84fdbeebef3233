//! The C test programs again, built without sanitizers and run under
//! valgrind (memcheck): any memory error, or any definitely or indirectly
//! lost block, fails. "Still reachable" blocks are not errors: they are
//! memory that global state still points to at exit (see the README,
//! "Valgrind"), and this test prints their total.
//!
//! Valgrind is a requirement of this test (`apt-get install valgrind`;
//! `.ci/run` installs it).

mod common;

use std::process::Command;

use common::{World, api_args, compile, scratch};

fn valgrind(cmd_args: &[std::ffi::OsString]) -> String {
    let out = Command::new("valgrind")
        .env_remove("LD_LIBRARY_PATH")
        .args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
            "--track-origins=no",
        ])
        .arg(format!(
            "--suppressions={}",
            common::crate_dir().join("tests/valgrind.supp").display()
        ))
        .args(cmd_args)
        .output()
        .expect("valgrind is installed (apt-get install valgrind)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "valgrind {cmd_args:?} exited {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    assert!(stderr.contains("ERROR SUMMARY: 0 errors"), "{stderr}");
    let summary: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.contains("definitely lost")
                || l.contains("indirectly lost")
                || l.contains("still reachable")
                || l.contains("in use at exit")
                || l.contains("All heap blocks were freed")
        })
        .collect();
    eprintln!("{}", summary.join("\n"));
    stderr
}

#[test]
fn api_c_program_under_valgrind() {
    let dir = scratch("vg-api");
    let exe = compile("api", &dir, false, false);
    let mut args = vec![exe.into_os_string()];
    args.extend(api_args(&dir).into_iter().map(Into::into));
    valgrind(&args);
}

#[test]
fn lookup_c_program_under_valgrind() {
    let dir = scratch("vg-lookup");
    let world = World::start(&dir);
    let exe = compile("lookup", &dir, false, false);
    let args = vec![
        exe.into_os_string(),
        world.resolver().into(),
        world.https_port().into(),
        world.ca_file.clone().into_os_string(),
        dir.join("state").into_os_string(),
    ];
    valgrind(&args);
}

#[test]
fn tlsrpt_errors_c_program_under_valgrind() {
    let dir = scratch("vg-tlsrpt-errors");
    let exe = compile("tlsrpt_errors", &dir, false, false);
    valgrind(&[exe.into_os_string(), dir.into_os_string()]);
}

/// `tlsrpt_postfix.c` under valgrind, its datagrams received (and
/// decoded) by a thread of this test.
#[test]
fn tlsrpt_postfix_c_program_under_valgrind() {
    let dir = scratch("vg-tlsrpt-postfix");
    let socket = dir.join("r.sock");
    let rx = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    rx.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let receiver = std::thread::spawn(move || {
        let mut buf = vec![0u8; 70_000];
        let mut decoded = 0;
        while let Ok(n) = rx.recv(&mut buf) {
            let d = tlsrpt_core::datagram::decode(&buf[..n], &Default::default())
                .expect("a datagram the collector accepts");
            assert!(d.warnings.is_empty(), "{:?}", d.warnings);
            decoded += 1;
            if decoded == 12 {
                break;
            }
        }
        decoded
    });
    let exe = compile("tlsrpt_postfix", &dir, false, false);
    valgrind(&[exe.into_os_string(), socket.into_os_string(), "10".into()]);
    assert_eq!(receiver.join().unwrap(), 12);
}
