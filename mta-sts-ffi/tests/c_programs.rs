//! The C test programs of `tests/c/`, compiled with `-std=c11 -Wall
//! -Wextra -Wpedantic -Werror` and AddressSanitizer + UBSan (LeakSanitizer
//! included) against `libmtasts.so`, and run: each checks values, prints
//! "N passed, N failed" and exits non-zero on any mismatch.

mod common;

use std::process::Command;

use common::{World, api_args, compile, run_ok, sanitizer_env, scratch};

/// Values, parse errors, error buffers, NULL for every pointer argument of
/// every function, `_free(NULL)`; no network.
#[test]
fn api_c_program() {
    let dir = scratch("api");
    let exe = compile("api", &dir, true, false);
    let out = run_ok(sanitizer_env(Command::new(&exe).args(api_args(&dir))));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

/// The blocking lookup against loopback DNS and HTTPS servers, including
/// `MTASTS_RESULT_NOT_YET` for a trickling response and the later call
/// that gets the policy.
#[test]
fn lookup_c_program() {
    let dir = scratch("lookup");
    let world = World::start(&dir);
    let exe = compile("lookup", &dir, true, false);
    let state = dir.join("state");
    let out = run_ok(
        sanitizer_env(&mut Command::new(&exe))
            .arg(world.resolver())
            .arg(world.https_port())
            .arg(&world.ca_file)
            .arg(&state),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    assert!(state.join("policies.redb").is_file());
    // The trickling policy was fetched once, although asked for three
    // times before it arrived: the discovery went on in the background.
    let slow = world
        .https
        .requests()
        .iter()
        .filter(|r| r.host.as_deref() == Some("mta-sts.slow.test"))
        .count();
    assert_eq!(slow, 1);
}

/// The libtlsrpt-compatible API's error paths (`tests/c/tlsrpt_errors.c`,
/// written against `tlsrpt.h` only): NULL everywhere, sticky errors,
/// nothing sent after an error, cancel, destroy setting NULL, the size
/// caps, exact datagram bytes, `sendto` errno arithmetic.
#[test]
fn tlsrpt_errors_c_program() {
    let dir = scratch("tlsrpt-errors");
    let exe = compile("tlsrpt_errors", &dir, true, false);
    let out = run_ok(sanitizer_env(&mut Command::new(&exe)).arg(&dir));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

/// `tests/c/tlsrpt_postfix.c`, written against `tlsrpt.h` only, sends
/// Postfix-shaped delivery requests over a real AF_UNIX datagram socket
/// to the collector of mta-sts-postfix, whose day aggregate becomes the
/// reports checked here.
#[test]
fn tlsrpt_postfix_c_program_into_the_collector() {
    use mta_sts_postfix::collector::{Collector, CollectorConfig, ManualClock};
    use std::time::{Duration, UNIX_EPOCH};
    use tlsrpt_core::ResultType;
    use tlsrpt_core::session::{AggregateLimits, ReportMeta, UtcDay};

    let dir = scratch("tlsrpt-collect");
    let socket = dir.join("c.sock");
    let mut config = CollectorConfig::new(&socket, dir.join("state"));
    config.node = Some("n1".to_owned());
    // 2024-05-01T12:00:00Z.
    let clock = std::sync::Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_714_521_600 + 12 * 3600),
    ));
    let h = Collector::start_with_clock(config, clock).expect("collector starts");
    let exe = compile("tlsrpt_postfix", &dir, true, false);
    let out = run_ok(
        sanitizer_env(&mut Command::new(&exe))
            .arg(&socket)
            .arg("40"),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(" 0 failed"));
    let s = h
        .wait_for(Duration::from_secs(20), |s| {
            s.journaled >= 42 && s.recorded + s.garbage >= 42
        })
        .unwrap_or_else(|| panic!("not all journaled: {:?}", h.stats()));
    assert_eq!((s.received, s.recorded, s.garbage), (42, 42, 0));
    // Nothing needed a tolerance of the decoder.
    assert!(s.warnings_by_code.is_empty(), "{:?}", s.warnings_by_code);
    let state = h.state().clone();
    h.shutdown().unwrap();

    let day = UtcDay::parse("2024-05-01").unwrap();
    let (agg, errors) = state.read_day(day, AggregateLimits::default()).unwrap();
    assert!(errors.is_empty());
    let t = agg.totals();
    assert_eq!((t.successful_sessions, t.failed_sessions), (21, 21));
    let meta = ReportMeta::new(
        "Example Mail",
        "tlsrpt@mail.example.test",
        "mail.example.test",
        "1",
    );
    let finished = agg.finish(&meta).unwrap();
    let domains: Vec<&str> = finished
        .reports
        .iter()
        .map(|r| r.policies[0].policy.policy_domain.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(domains, ["example.com", "example.net", "example.org"]);

    let com = &finished.reports[0];
    assert_eq!((com.successful_sessions(), com.failed_sessions()), (20, 20));
    let p = &com.policies[0];
    assert_eq!(p.policy.policy_type.as_str(), "sts");
    assert_eq!(p.policy.policy_string, ["version: STSv1", "mode: enforce"]);
    assert_eq!(p.policy.mx_host, ["mx.example.com"]);
    assert_eq!(p.failure_details.len(), 1);
    let row = &p.failure_details[0];
    assert_eq!(row.result_type, ResultType::CertificateHostMismatch);
    assert_eq!(row.failed_session_count, 20);
    assert_eq!(
        row.sending_mta_ip.as_ref().unwrap().to_string(),
        "192.0.2.1"
    );
    assert_eq!(
        row.receiving_ip.as_ref().unwrap().to_string(),
        "198.51.100.7"
    );
    assert_eq!(row.receiving_mx_hostname.as_deref(), Some("mx.example.com"));
    assert_eq!(row.receiving_mx_helo.as_deref(), Some("mx1.example.com"));
    assert_eq!(
        row.additional_information.as_deref(),
        Some("peer certificate names mx9.example.net")
    );
    assert_eq!(
        row.failure_reason_code.as_deref(),
        Some("hostname mismatch")
    );

    // Escaped and non-ASCII fields arrive intact; the empty policy
    // domain was filled from the delivery domain.
    let net = &finished.reports[1];
    assert_eq!(net.failed_sessions(), 1);
    let row = &net.policies[0].failure_details[0];
    assert_eq!(row.result_type, ResultType::CertificateExpired);
    assert_eq!(
        row.additional_information.as_deref(),
        Some("say \"h\u{e9}llo\"\\\n\tbye")
    );
    assert_eq!(
        row.sending_mta_ip.as_ref().unwrap().to_string(),
        "2001:db8::1"
    );
    assert_eq!(row.receiving_mx_helo, None);

    // No policy found, policy domain filled in.
    let org = &finished.reports[2];
    assert_eq!(
        org.policies[0].policy.policy_type.as_str(),
        "no-policy-found"
    );
    assert_eq!(org.successful_sessions(), 1);
}

/// The C benchmark of `benches/c/mx_match.c` builds (`-O2`, warnings as
/// errors) and runs a short round, checking its match count (timing is
/// for `benches/README.md`, not asserted here).
#[test]
fn mx_match_c_benchmark_runs() {
    let dir = scratch("bench");
    let src = common::crate_dir().join("benches/c/mx_match.c");
    let exe = common::compile_source(&src, "mx_match", &dir, false, true, &[]);
    let out = run_ok(Command::new(&exe).arg("30001"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(30001 calls, 20001 matched)"), "{stdout}");
}

/// The C benchmark of `benches/c/tlsrpt_delivery.c` (the Postfix-shaped
/// delivery request through the libtlsrpt-compatible API, `sendto`
/// included) builds (`-O2`, warnings as errors) and runs a short round:
/// every datagram arrives (timing is for `benches/README.md`).
#[test]
fn tlsrpt_delivery_c_benchmark_runs() {
    let dir = scratch("tlsrpt-bench");
    let src = common::crate_dir().join("benches/c/tlsrpt_delivery.c");
    let exe = common::compile_source(&src, "tlsrpt_delivery", &dir, false, true, &["-pthread"]);
    let out = run_ok(Command::new(&exe).arg("2000"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("(2000 requests, 4200 datagrams received, 0 errors)"),
        "{stdout}"
    );
}
