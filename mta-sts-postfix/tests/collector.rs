//! The TLS-RPT collector in-process, fed libtlsrpt datagrams over a real
//! AF_UNIX datagram socket by a `std` client: partials on disk, restarts
//! and a crash image replayed from the journal (nothing lost, nothing
//! counted twice), day rollover with an injected clock, garbage counted
//! by code, bounds, socket set-up, and two nodes merged by the state
//! directory. Logs are captured per collector through a scoped
//! subscriber.
#![cfg(unix)]

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mta_sts_postfix::collector::{
    Collector, CollectorConfig, CollectorError, CollectorHandle, CollectorStats, ManualClock,
};
use mta_sts_postfix::tlsrpt_state::StateDir;
use test_support::TempDir;
use tlsrpt_core::session::{AggregateLimits, DayAggregate, ReportMeta, UtcDay};
use tlsrpt_core::{Report, ResultType};

const WAIT: Duration = Duration::from_secs(20);

/// Log lines written by the collector's threads.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Start a collector whose log lines go to the returned buffer.
fn start(config: CollectorConfig, clock: &Arc<ManualClock>) -> (CollectorHandle, Logs) {
    try_start(config, clock).map_err(|e| e.to_string()).unwrap()
}

fn try_start(
    config: CollectorConfig,
    clock: &Arc<ManualClock>,
) -> Result<(CollectorHandle, Logs), CollectorError> {
    let logs = Logs::default();
    let w = logs.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || w.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let clock: Arc<dyn mta_sts_postfix::collector::Clock> = clock.clone();
    tracing::subscriber::with_default(sub, || Collector::start_with_clock(config, clock))
        .map(|h| (h, logs))
}

fn config(tmp: &TempDir, socket: &str, state: &str, node: &str) -> CollectorConfig {
    let mut c = CollectorConfig::new(tmp.join(socket), tmp.join(state));
    c.node = Some(node.to_owned());
    c
}

/// 2024-05-01T00:00:00Z plus `secs`.
fn may1(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_714_521_600 + secs)
}

fn day(s: &str) -> UtcDay {
    UtcDay::parse(s).unwrap()
}

const STS: &str = r#""policy-type":2,"policy-domain":"example.com","policy-string":["version: STSv1","mode: enforce","mx: mx.example.com","max_age: 86400"],"mx-host":["mx.example.com"]"#;

/// A successful `sts` session for example.com.
fn success() -> String {
    format!(
        r#"{{"dpv":"1","d":"example.com","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@example.com","policies":[{{{STS},"t":0,"f":0}}]}}"#
    )
}

/// A failed `sts` session for example.com: certificate-host-mismatch at
/// the receiving IP `198.51.100.<n>`.
fn failure(n: u8) -> String {
    format!(
        r#"{{"dpv":"1","d":"example.com","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@example.com","policies":[{{{STS},"failure-details":[{{"c":202,"s":"192.0.2.1","n":"mx.example.com","r":"198.51.100.{n}","f":"hostname mismatch"}}],"t":1,"f":1}}]}}"#
    )
}

/// A successful session to a domain without a policy.
fn no_policy(domain: &str) -> String {
    format!(
        r#"{{"dpv":"1","d":"{domain}","policies":[{{"policy-type":9,"policy-domain":"{domain}","t":0,"f":0}}]}}"#
    )
}

/// Send each datagram to `socket` (blocking: nothing is lost client-side).
fn send(socket: &Path, datagrams: &[String]) {
    let c = UnixDatagram::unbound().unwrap();
    for d in datagrams {
        c.send_to(d.as_bytes(), socket).unwrap();
    }
}

fn wait_journaled(h: &CollectorHandle, n: u64) -> CollectorStats {
    h.wait_for(WAIT, |s| s.journaled >= n && s.recorded + s.garbage >= n)
        .unwrap_or_else(|| panic!("not journaled: {:?}", h.stats()))
}

fn partial(state: &Path, node: &str, d: &str) -> DayAggregate {
    let s = StateDir::open_as(state, node).unwrap();
    s.read_partial(&s.partial_path(node, day(d)), AggregateLimits::default())
        .unwrap()
}

fn meta() -> ReportMeta {
    ReportMeta::new(
        "Example Mail",
        "tlsrpt@mail.example.net",
        "mail.example.net",
        "1",
    )
}

/// `(successful, failed)` of an aggregate.
fn totals(a: &DayAggregate) -> (u64, u64) {
    let t = a.totals();
    (t.successful_sessions, t.failed_sessions)
}

#[test]
fn collects_over_a_real_socket_into_the_day_partial() {
    let tmp = TempDir::new("pf-collector");
    let clock = Arc::new(ManualClock::new(may1(12 * 3600)));
    let mut c = config(&tmp, "s.sock", "state", "n1");
    c.socket_mode = 0o620;
    let (h, logs) = start(c, &clock);
    assert_eq!(h.node(), "n1");
    let mode = fs::metadata(tmp.join("s.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o620);
    let mut dgs: Vec<String> = (0..30).map(|_| success()).collect();
    dgs.extend((0..10).map(|i| failure(1 + i % 2)));
    dgs.extend((0..5).map(|_| no_policy("example.org")));
    send(&tmp.join("s.sock"), &dgs);
    let s = wait_journaled(&h, 45);
    assert_eq!(
        (s.received, s.recorded, s.sessions, s.garbage),
        (45, 45, 45, 0)
    );
    let s = h.checkpoint(WAIT).expect("checkpoint");
    assert_eq!(s.open_days, ["2024-05-01"]);
    let agg = partial(&tmp.join("state"), "n1", "2024-05-01");
    assert_eq!(totals(&agg), (35, 10));
    let state = StateDir::open(tmp.join("state")).unwrap();
    assert!(!state.is_final("n1", day("2024-05-01")));

    let finished = agg.finish(&meta()).unwrap();
    assert_eq!(finished.reports.len(), 2);
    let com = &finished.reports[0];
    assert_eq!(com.report_id, "2024-05-01.example.com.1@mail.example.net");
    assert_eq!((com.successful_sessions(), com.failed_sessions()), (30, 10));
    let rows = &com.policies[0].failure_details;
    assert_eq!(rows.len(), 2);
    for (row, ip) in rows.iter().zip(["198.51.100.1", "198.51.100.2"]) {
        assert_eq!(row.result_type, ResultType::CertificateHostMismatch);
        assert_eq!(row.failed_session_count, 5);
        assert_eq!(row.receiving_ip.as_ref().unwrap().to_string(), ip);
        assert_eq!(
            row.sending_mta_ip.as_ref().unwrap().to_string(),
            "192.0.2.1"
        );
        assert_eq!(row.receiving_mx_hostname.as_deref(), Some("mx.example.com"));
        assert_eq!(
            row.failure_reason_code.as_deref(),
            Some("hostname mismatch")
        );
    }
    let org = &finished.reports[1];
    assert_eq!(
        org.policies[0].policy.policy_type.as_str(),
        "no-policy-found"
    );
    assert_eq!(org.successful_sessions(), 5);
    // The strict reader takes the reports as they are written.
    for r in &finished.reports {
        let json = r.to_json(false);
        let back = Report::parse_strict(json.as_bytes()).unwrap();
        assert_eq!(back.value, *r);
    }

    let s = h.shutdown().unwrap();
    assert_eq!((s.journaled, s.recorded), (45, 45));
    assert!(!tmp.join("s.sock").exists(), "socket file left behind");
    let text = logs.text();
    assert!(text.contains(" collecting "), "{text}");
    assert!(text.contains("journaled datagrams="), "{text}");
    assert!(text.contains("collector stats"), "{text}");
}

#[test]
fn restart_counts_every_datagram_once() {
    let tmp = TempDir::new("pf-collector");
    let clock = Arc::new(ManualClock::new(may1(3600)));
    let (h, _) = start(config(&tmp, "s.sock", "state", "n1"), &clock);
    send(&tmp.join("s.sock"), &vec![success(); 20]);
    wait_journaled(&h, 20);
    h.shutdown().unwrap();
    assert_eq!(
        totals(&partial(&tmp.join("state"), "n1", "2024-05-01")),
        (20, 0)
    );

    let (h, _) = start(config(&tmp, "s.sock", "state", "n1"), &clock);
    assert_eq!(h.stats().replayed, 0);
    assert_eq!(h.stats().open_days, ["2024-05-01"]);
    send(&tmp.join("s.sock"), &vec![failure(9); 7]);
    wait_journaled(&h, 7);
    h.shutdown().unwrap();
    assert_eq!(
        totals(&partial(&tmp.join("state"), "n1", "2024-05-01")),
        (20, 7)
    );
    // Only the checkpoint, the lock and the current (empty) segment are left.
    let mut journal: Vec<String> = fs::read_dir(tmp.join("state/journal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    journal.sort();
    assert_eq!(journal.len(), 3, "{journal:?}");
    assert!(journal[0].ends_with(".log"), "{journal:?}");
    assert_eq!(&journal[1..], ["lock", "state"]);
    assert_eq!(
        fs::metadata(tmp.join("state/journal").join(&journal[0]))
            .unwrap()
            .len(),
        0
    );
}

/// Copy a directory tree (the state directory of a running collector:
/// what a crash leaves on disk, since everything journaled is fsync'd).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_crash_image_replays_the_journal_without_loss_or_doubling() {
    let tmp = TempDir::new("pf-collector");
    let clock = Arc::new(ManualClock::new(may1(7200)));
    let mut c = config(&tmp, "s.sock", "state", "n1");
    c.checkpoint_interval = Duration::from_secs(3600);
    let (h, _) = start(c, &clock);
    // 12 datagrams before a checkpoint, 9 after it (journal only).
    send(&tmp.join("s.sock"), &vec![success(); 12]);
    wait_journaled(&h, 12);
    h.checkpoint(WAIT).unwrap();
    let mut later: Vec<String> = vec![failure(3); 5];
    later.extend(vec![no_policy("example.org"); 4]);
    send(&tmp.join("s.sock"), &later);
    wait_journaled(&h, 21);
    copy_tree(&tmp.join("state"), &tmp.join("crash"));
    copy_tree(&tmp.join("state"), &tmp.join("torn"));
    h.shutdown().unwrap();
    // The image's partial holds the checkpoint only.
    assert_eq!(
        totals(&partial(&tmp.join("crash"), "n1", "2024-05-01")),
        (12, 0)
    );

    let (h, logs) = start(config(&tmp, "c.sock", "crash", "n1"), &clock);
    let s = h.stats();
    assert_eq!((s.replayed, s.recorded), (9, 9));
    assert!(
        logs.text().contains("replayed the journal datagrams=9"),
        "{}",
        logs.text()
    );
    // The replay is checkpointed right away.
    assert_eq!(
        totals(&partial(&tmp.join("crash"), "n1", "2024-05-01")),
        (16, 5)
    );
    send(&tmp.join("c.sock"), &[success()]);
    wait_journaled(&h, 1);
    h.shutdown().unwrap();
    assert_eq!(
        totals(&partial(&tmp.join("crash"), "n1", "2024-05-01")),
        (17, 5)
    );

    // A power loss tore the last record: the journal's newest segment
    // ends with half a record. Everything before it counts; a warning says
    // how many bytes were left out.
    let mut segs: Vec<PathBuf> = fs::read_dir(tmp.join("torn/journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segs.sort();
    let last = segs.last().unwrap();
    let mut f = fs::OpenOptions::new().append(true).open(last).unwrap();
    f.write_all(b"TRJ1\xff\x00\x00\x00\x12\x34\x56\x78{\"dpv\":")
        .unwrap();
    drop(f);
    let (h, logs) = start(config(&tmp, "t.sock", "torn", "n1"), &clock);
    assert_eq!(h.stats().replayed, 9);
    h.shutdown().unwrap();
    let text = logs.text();
    assert!(
        text.contains("journal segment ends in a torn or corrupt record")
            && text.contains("bytes=19"),
        "{text}"
    );
    assert_eq!(
        totals(&partial(&tmp.join("torn"), "n1", "2024-05-01")),
        (16, 5)
    );
}

#[test]
fn days_roll_over_at_utc_midnight_after_the_grace_period() {
    let tmp = TempDir::new("pf-collector");
    let clock = Arc::new(ManualClock::new(may1(86_400 - 2)));
    let (h, logs) = start(config(&tmp, "s.sock", "state", "n1"), &clock);
    let sock = tmp.join("s.sock");
    send(&sock, &vec![success(); 7]);
    wait_journaled(&h, 7);
    // After midnight: the new day; the old one stays open (grace).
    clock.set(may1(86_400 + 3));
    send(&sock, &vec![failure(1); 4]);
    let s = wait_journaled(&h, 11);
    assert_eq!(s.open_days, ["2024-05-01", "2024-05-02"]);
    let state = StateDir::open(tmp.join("state")).unwrap();
    assert!(!state.is_final("n1", day("2024-05-01")));
    // The grace period (5 minutes) is over: the old day is final.
    clock.set(may1(86_400 + 301));
    let s = h
        .wait_for(WAIT, |s| s.final_days == 1)
        .unwrap_or_else(|| panic!("{:?}", h.stats()));
    assert_eq!(s.open_days, ["2024-05-02"]);
    assert!(state.is_final("n1", day("2024-05-01")));
    assert_eq!(
        totals(&partial(&tmp.join("state"), "n1", "2024-05-01")),
        (7, 0)
    );
    assert!(
        logs.text().contains("day final day=2024-05-01"),
        "{}",
        logs.text()
    );

    // The clock is set back: a datagram of the final day reopens it and
    // the day is written (and final) again.
    clock.set(may1(86_400 - 1));
    send(&sock, &[success()]);
    wait_journaled(&h, 12);
    clock.set(may1(86_400 + 400));
    let s = h
        .wait_for(WAIT, |s| s.final_days == 2)
        .unwrap_or_else(|| panic!("{:?}", h.stats()));
    assert_eq!(s.late, 1);
    assert_eq!(
        totals(&partial(&tmp.join("state"), "n1", "2024-05-01")),
        (8, 0)
    );
    h.shutdown().unwrap();
    assert_eq!(
        totals(&partial(&tmp.join("state"), "n1", "2024-05-02")),
        (0, 4)
    );
    assert!(!state.is_final("n1", day("2024-05-02")));
    assert_eq!(
        state.days_with_partials().unwrap(),
        [day("2024-05-01"), day("2024-05-02")]
    );

    // Started again long after: the open day is over and made final at
    // once.
    clock.set(may1(3 * 86_400));
    let (h, _) = start(config(&tmp, "s.sock", "state", "n1"), &clock);
    let s = h.stats();
    assert_eq!((s.final_days, s.open_days.len()), (1, 0));
    h.shutdown().unwrap();
    assert!(state.is_final("n1", day("2024-05-02")));
    assert_eq!(
        totals(&partial(&tmp.join("state"), "n1", "2024-05-02")),
        (0, 4)
    );
}

#[test]
fn garbage_is_counted_by_code_and_logged() {
    let tmp = TempDir::new("pf-collector");
    let clock = Arc::new(ManualClock::new(may1(60)));
    let (h, logs) = start(config(&tmp, "s.sock", "state", "n1"), &clock);
    let big = format!(r#"{{"d":"{}"}}"#, "x".repeat(70_000));
    let dgs = [
        "not json".to_owned(),
        "{\"dpv\":\"1\"}".to_owned(),
        "{\"d\":\"example.com\",\"policies\":[]}".to_owned(),
        "{\"d\":\"example.com\",\"policies\":[{\"policy-type\":7,\"t\":0,\"f\":0}]}".to_owned(),
        "also not json".to_owned(),
        // Accepted with a warning: no policy-domain.
        "{\"d\":\"example.net\",\"policies\":[{\"policy-type\":9,\"t\":0,\"f\":0}]}".to_owned(),
    ];
    let c = UnixDatagram::unbound().unwrap();
    c.send_to(big.as_bytes(), tmp.join("s.sock")).unwrap();
    send(&tmp.join("s.sock"), &dgs);
    let s = h
        .wait_for(WAIT, |s| s.recorded + s.garbage >= 7)
        .unwrap_or_else(|| panic!("{:?}", h.stats()));
    assert_eq!(s.received, 7);
    // The oversized one is never journaled.
    assert_eq!(s.journaled, 6);
    assert_eq!(s.garbage, 6);
    assert_eq!(
        s.garbage_by_code.into_iter().collect::<Vec<_>>(),
        [
            ("count", 1),
            ("invalid", 1),
            ("json", 2),
            ("missing", 1),
            ("too-large", 1)
        ]
    );
    assert_eq!(
        s.warnings_by_code.into_iter().collect::<Vec<_>>(),
        [("policy-domain-from-delivery", 1)]
    );
    assert_eq!((s.recorded, s.sessions), (1, 1));
    h.shutdown().unwrap();
    let text = logs.text();
    // One warning per code (the second `json` one is suppressed).
    assert_eq!(text.matches("garbage datagram").count(), 5, "{text}");
    assert!(
        text.contains("code=\"json\"") || text.contains("code=json"),
        "{text}"
    );
    assert_eq!(
        totals(&partial(&tmp.join("state"), "n1", "2024-05-01")),
        (1, 0)
    );
}

#[test]
fn datagrams_beyond_the_pending_bound_are_dropped_and_counted() {
    let tmp = TempDir::new("pf-collector");
    let clock = Arc::new(ManualClock::new(may1(60)));
    let mut c = config(&tmp, "s.sock", "state", "n1");
    // Room for 65 of the ~1 KiB datagrams below; journal only on request.
    c.max_pending_bytes = 70_000;
    c.batch_interval = Duration::from_secs(3600);
    c.batch_datagrams = 1_000_000;
    let (h, logs) = start(c, &clock);
    let padded = format!(
        r#"{{"d":"example.org","pad":"{}","policies":[{{"policy-type":9,"policy-domain":"example.org","t":0,"f":0}}]}}"#,
        "p".repeat(1000)
    );
    send(&tmp.join("s.sock"), &vec![padded; 100]);
    let s = h
        .wait_for(WAIT, |s| s.received == 100)
        .unwrap_or_else(|| panic!("{:?}", h.stats()));
    assert!(s.dropped > 0, "{s:?}");
    let s = h.checkpoint(WAIT).unwrap();
    assert_eq!(s.journaled + s.dropped, 100, "{s:?}");
    assert_eq!(s.recorded, s.journaled);
    h.shutdown().unwrap();
    assert!(
        logs.text()
            .contains("datagram dropped: the journal is behind"),
        "{}",
        logs.text()
    );
    let agg = partial(&tmp.join("state"), "n1", "2024-05-01");
    assert_eq!(totals(&agg).0, s.journaled);
}

#[test]
fn socket_and_state_directory_conflicts() {
    let tmp = TempDir::new("pf-collector");
    let clock = Arc::new(ManualClock::new(may1(60)));
    // A stale socket file (nobody receives on it) is replaced.
    drop(UnixDatagram::bind(tmp.join("s.sock")).unwrap());
    assert!(tmp.join("s.sock").exists());
    let (h, _) = start(config(&tmp, "s.sock", "state", "n1"), &clock);
    send(&tmp.join("s.sock"), &[success()]);
    wait_journaled(&h, 1);

    // A live socket is not taken over.
    let e = try_start(config(&tmp, "s.sock", "other", "n2"), &clock)
        .map(drop)
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("in use: another process is receiving on this socket"),
        "{e}"
    );
    // A second collector on the same state directory is refused.
    let e = try_start(config(&tmp, "x.sock", "state", "n1"), &clock)
        .map(drop)
        .unwrap_err();
    assert!(matches!(e, CollectorError::Locked { .. }), "{e:?}");
    assert!(
        e.to_string()
            .ends_with("another collector uses this state directory")
    );
    assert!(!tmp.join("x.sock").exists());
    // A regular file at the socket path is left alone.
    fs::write(tmp.join("file"), "x").unwrap();
    let e = try_start(config(&tmp, "file", "third", "n3"), &clock)
        .map(drop)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("the path exists and is not a socket"),
        "{e}"
    );
    assert_eq!(fs::read(tmp.join("file")).unwrap(), b"x");
    // A state directory that is a file.
    let e = try_start(config(&tmp, "y.sock", "file", "n3"), &clock)
        .map(drop)
        .unwrap_err();
    assert!(e.to_string().ends_with("not a directory"), "{e}");
    h.shutdown().unwrap();
}

#[test]
fn two_nodes_partials_merge_into_one_report_per_domain() {
    let tmp = TempDir::new("pf-collector");
    let clock = Arc::new(ManualClock::new(may1(5000)));
    let (a, _) = start(config(&tmp, "a.sock", "a", "mx1"), &clock);
    let (b, _) = start(config(&tmp, "b.sock", "b", "mx2"), &clock);
    send(&tmp.join("a.sock"), &vec![success(); 3]);
    send(&tmp.join("a.sock"), &vec![failure(1); 2]);
    send(&tmp.join("b.sock"), &vec![success(); 4]);
    send(&tmp.join("b.sock"), &vec![failure(1); 1]);
    send(&tmp.join("b.sock"), &vec![no_policy("example.org"); 6]);
    wait_journaled(&a, 5);
    wait_journaled(&b, 11);
    a.shutdown().unwrap();
    b.shutdown().unwrap();
    // The operator copies mx2's partials to mx1 (rsync).
    copy_tree(&tmp.join("b/partials/mx2"), &tmp.join("a/partials/mx2"));
    let state = StateDir::open(tmp.join("a")).unwrap();
    assert_eq!(state.node(), "mx1");
    let d = day("2024-05-01");
    assert_eq!(
        state
            .partials_for(d)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>(),
        ["mx1", "mx2"]
    );
    let (merged, errors) = state.read_day(d, AggregateLimits::default()).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let finished = merged.finish(&meta()).unwrap();
    assert_eq!(finished.reports.len(), 2);
    let com = &finished.reports[0];
    assert_eq!((com.successful_sessions(), com.failed_sessions()), (7, 3));
    assert_eq!(com.policies.len(), 1);
    assert_eq!(com.policies[0].failure_details[0].failed_session_count, 3);
    assert_eq!(finished.reports[1].successful_sessions(), 6);
}

#[test]
fn a_failed_checkpoint_loses_nothing() {
    let tmp = TempDir::new("pf-collector");
    let clock = Arc::new(ManualClock::new(may1(600)));
    let (h, logs) = start(config(&tmp, "s.sock", "state", "n1"), &clock);
    send(&tmp.join("s.sock"), &vec![success(); 5]);
    wait_journaled(&h, 5);
    // The node's partials directory is replaced by a file: writing the
    // partial fails (even as root).
    let dir = tmp.join("state/partials/n1");
    fs::remove_dir_all(&dir).unwrap();
    fs::write(&dir, "in the way").unwrap();
    assert!(h.checkpoint(Duration::from_secs(2)).is_none());
    let s = h
        .wait_for(WAIT, |s| s.checkpoint_errors >= 1)
        .unwrap_or_else(|| panic!("{:?}", h.stats()));
    assert_eq!(s.journaled, 5);
    send(&tmp.join("s.sock"), &vec![failure(4); 3]);
    wait_journaled(&h, 8);
    // Room again: the next checkpoint has everything.
    fs::remove_file(&dir).unwrap();
    fs::create_dir(&dir).unwrap();
    h.checkpoint(WAIT).expect("checkpoint");
    assert_eq!(
        totals(&partial(&tmp.join("state"), "n1", "2024-05-01")),
        (5, 3)
    );
    h.shutdown().unwrap();
    assert!(logs.text().contains("checkpoint failed"), "{}", logs.text());
}
