//! Socketmap load test of the policy daemon (`mta_sts_postfix::Daemon`, what
//! `mtasts daemon` runs): requests/s and latency percentiles for 1, 8 and
//! 64 client connections, each with one request outstanding (Postfix
//! waits for every answer), on a warm persistent cache.
//!
//! Set-up: loopback DNS + HTTPS servers (test-support) for `--domains`
//! domains `dN.bench.test`, a daemon with its state directory in a
//! temporary directory, then every domain queried once (cold discovery,
//! fills the cache and `policies.redb`). The load then cycles over the
//! warm domains with `postfix dN.bench.test` requests: `--warmup` seconds
//! unrecorded, then `--secs` seconds recorded, per connection count. Every
//! answer is checked to be `OK secure ...`.
//!
//! Where the daemon runs (criterion has no latency percentiles, hence
//! `harness = false` and this `main`):
//!
//! - default, when `taskset` works and there are 2+ CPUs: the bench
//!   re-executes itself under `taskset -c 1` (client + DNS/HTTPS
//!   servers) and starts the daemon as a child process of itself
//!   (`--daemon-child`: `Daemon::start` on a tokio runtime with one
//!   worker thread) under `taskset -c 0`;
//! - `--mtasts PATH`: the child is the real binary instead,
//!   `taskset -c 0 PATH daemon --listen .. --state .. --resolver ..
//!   --ca-file .. --https-port ..` (its runtime gets one worker as
//!   `available_parallelism` is 1 under `taskset -c 0`);
//! - `--in-process` (or no `taskset`): daemon on its own 1-worker tokio
//!   runtime in this process, unpinned;
//! - `--external ADDR`: the bench starts the servers, prints the
//!   `mtasts daemon` command line to run (listening on ADDR), waits until
//!   ADDR accepts, then measures.
//!
//! By hand, with the real binary on CPU 0 and the bench on CPU 1:
//!
//! ```text
//! cargo build --release -p mta-sts-cli
//! cargo bench -p mta-sts-benches --bench socketmap --no-run
//! taskset -c 1 target/release/deps/socketmap-HASH --bench --external 127.0.0.1:8461
//! # it prints the command to start in another shell, e.g.
//! taskset -c 0 target/release/mtasts daemon --listen 127.0.0.1:8461 --state /tmp/.. \
//!     --resolver 127.0.0.1:PORT --ca-file /tmp/../ca.pem --https-port PORT
//! ```
//!
//! Clients (`--client`): `async` (default) is one current-thread tokio
//! runtime driving every connection (one core serves 64 connections
//! without 64 context switches per round); `threads` is one blocking
//! `std::net::TcpStream` per OS thread; `spin` is one thread polling
//! non-blocking sockets without ever sleeping (no client wake-up cost, but
//! it burns its core). Per row the table shows the CPU time and the
//! run-queue wait (runnable, but another thread had the CPU) of the
//! daemon's and the client's threads as a share of the recorded window,
//! from `/proc/PID/task/*/schedstat`, and the daemon's CPU time per
//! request: a client-side bottleneck, or other processes taking the CPUs,
//! show there.
//!
//! `cargo bench -p mta-sts-benches --bench socketmap` passes `--bench`:
//! the full run (1,000 domains, 1 s + 5 s per connection count).
//! `cargo test -p mta-sts-benches --benches` does not: a quick in-process
//! run (50 domains, 0.05 s + 0.2 s) that asserts every answer.
//!
//! Options (after `--`): `--domains N`, `--warmup SECS`, `--secs SECS`,
//! `--conns 1,8,64`, `--client async|threads|spin`, `--in-process`,
//! `--mtasts PATH`, `--external IP:PORT`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mta_sts_postfix::config::Config;
use mta_sts_postfix::daemon::{Daemon, DaemonHandle};
use mta_sts_postfix::socketmap::{self, Frame};
use test_support::{CertSet, DnsServer, HttpsServer, Routes, TestCa, Zones};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.mail.example.net\nmx: backup.example.org\nmax_age: 604800\n";
const EXPECT: &[u8] =
    b"OK secure match=mx1.example.com:.mail.example.net:backup.example.org servername=hostname";
/// Set in the re-executed (pinned) bench process.
const PINNED_ENV: &str = "MTASTS_BENCH_SOCKETMAP_PINNED";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    Async,
    Threads,
    Spin,
}

#[derive(Debug, Clone)]
enum Where {
    /// Child under taskset when possible, else in-process.
    Auto,
    InProcess,
    /// The bench binary (`None`) or an `mtasts` binary as the child.
    Child(Option<PathBuf>),
    External(SocketAddr),
}

#[derive(Debug, Clone)]
struct Opts {
    domains: usize,
    warmup: Duration,
    secs: Duration,
    conns: Vec<usize>,
    client: ClientKind,
    place: Where,
}

fn parse_args(args: &[String]) -> Opts {
    let full = args.iter().any(|a| a == "--bench");
    let mut o = Opts {
        domains: if full { 1000 } else { 50 },
        warmup: Duration::from_secs_f64(if full { 1.0 } else { 0.05 }),
        secs: Duration::from_secs_f64(if full { 5.0 } else { 0.2 }),
        conns: vec![1, 8, 64],
        client: ClientKind::Async,
        place: if full { Where::Auto } else { Where::InProcess },
    };
    let mut it = args.iter();
    let secs =
        |v: Option<&String>| Duration::from_secs_f64(v.expect("value").parse().expect("secs"));
    while let Some(a) = it.next() {
        match a.as_str() {
            "--domains" => o.domains = it.next().expect("N").parse().expect("N"),
            "--warmup" => o.warmup = secs(it.next()),
            "--secs" => o.secs = secs(it.next()),
            "--conns" => {
                o.conns = it
                    .next()
                    .expect("list")
                    .split(',')
                    .map(|n| n.parse().expect("connection count"))
                    .collect();
            }
            "--client" => {
                o.client = match it.next().map(String::as_str) {
                    Some("async") => ClientKind::Async,
                    Some("threads") => ClientKind::Threads,
                    Some("spin") => ClientKind::Spin,
                    other => panic!("--client async|threads|spin, not {other:?}"),
                }
            }
            "--in-process" => o.place = Where::InProcess,
            "--mtasts" => o.place = Where::Child(Some(it.next().expect("PATH").into())),
            "--external" => {
                o.place = Where::External(it.next().expect("ADDR").parse().expect("IP:PORT"))
            }
            _ => {} // --bench, filters and other cargo/libtest flags
        }
    }
    o
}

fn domain(i: usize) -> String {
    format!("d{i}.bench.test")
}

/// The loopback DNS and HTTPS servers, plus the CA the daemon must trust.
struct Servers {
    _dns: DnsServer,
    _https: HttpsServer,
    dns_addr: SocketAddr,
    https_port: u16,
    ca_pem: String,
}

async fn servers(n: usize) -> Servers {
    let ca = TestCa::new();
    let mut zones = Zones::new();
    let mut routes = Routes::new();
    for d in (0..n).map(domain) {
        zones = zones
            .txt(&format!("_mta-sts.{d}"), &["v=STSv1; id=1"])
            .a(&format!("mta-sts.{d}"), Ipv4Addr::LOCALHOST);
        routes = routes.policy(&d, POLICY);
    }
    let names: Vec<String> = (0..n).map(|i| format!("mta-sts.{}", domain(i))).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let dns = DnsServer::start(zones).await.expect("dns");
    let https = HttpsServer::start_with(CertSet::new(ca.issue(&refs)), routes)
        .await
        .expect("https");
    Servers {
        dns_addr: dns.addr(),
        https_port: https.addr().port(),
        _dns: dns,
        _https: https,
        ca_pem: ca.ca_pem(),
    }
}

/// `--daemon-child --listen A --state D --resolver R --ca-file F
/// --https-port P`: run the daemon on a 1-worker runtime until stdin
/// closes, then print its counters on stderr.
fn daemon_child(args: &[String]) {
    let mut config = Config::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().expect("value").clone();
        match a.as_str() {
            "--listen" => config.listen = Some(vec![v().parse().expect("listen")]),
            "--state" => config.state_dir = Some(v().into()),
            "--resolver" => config.resolver = Some(v().parse().expect("resolver")),
            "--ca-file" => config.ca_file = Some(v().into()),
            "--https-port" => config.https_port = Some(v().parse().expect("port")),
            _ => {}
        }
    }
    let rt = daemon_runtime();
    let handle = rt.block_on(Daemon::start(config)).expect("daemon start");
    // The worker thread serves; this thread waits for the parent to go.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    eprintln!("{}", daemon_summary(&handle));
    rt.block_on(handle.shutdown());
}

fn daemon_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sm-daemon")
        .enable_all()
        .build()
        .expect("daemon runtime")
}

fn daemon_summary(h: &DaemonHandle) -> String {
    let s = h.stats();
    let m = h.service().metrics();
    format!(
        "daemon: {} connections, {} requests, {} malformed, {} lookup timeouts; cache hits {}, discoveries {}, fetches {}",
        s.connections, s.requests, s.malformed, s.lookup_timeouts, m.hits, m.lookups, m.fetches
    )
}

/// A running daemon under test.
enum Target {
    InProcess(Box<(tokio::runtime::Runtime, DaemonHandle)>),
    Child { child: Child, mtasts: bool },
    External,
}

impl Target {
    fn pid(&self) -> Option<u32> {
        match self {
            Self::InProcess(_) => Some(std::process::id()),
            Self::Child { child, .. } => Some(child.id()),
            Self::External => None,
        }
    }

    fn stop(self) {
        match self {
            Self::InProcess(b) => {
                let (rt, handle) = *b;
                eprintln!("{}", daemon_summary(&handle));
                rt.block_on(handle.shutdown());
            }
            Self::Child { mut child, mtasts } => {
                if mtasts {
                    let _ = child.kill();
                } else {
                    drop(child.stdin.take()); // EOF: the child prints its counters and exits
                }
                let _ = child.wait();
            }
            Self::External => {}
        }
    }
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    l.local_addr().expect("addr")
}

fn wait_accepting(addr: SocketAddr, limit: Duration) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < limit,
            "nothing accepts on {addr} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn daemon_args(listen: SocketAddr, state: &Path, srv: &Servers, ca_file: &Path) -> Vec<String> {
    vec![
        "--listen".into(),
        listen.to_string(),
        "--state".into(),
        state.display().to_string(),
        "--resolver".into(),
        srv.dns_addr.to_string(),
        "--ca-file".into(),
        ca_file.display().to_string(),
        "--https-port".into(),
        srv.https_port.to_string(),
    ]
}

fn start_target(
    place: &Where,
    srv: &Servers,
    state: &Path,
    ca_file: &Path,
) -> (Target, SocketAddr) {
    match place {
        Where::Auto | Where::InProcess => {
            let rt = daemon_runtime();
            let config = Config {
                listen: Some(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))]),
                state_dir: Some(state.to_owned()),
                resolver: Some(srv.dns_addr),
                ca_file: Some(ca_file.to_owned()),
                https_port: Some(srv.https_port),
                ..Config::default()
            };
            let handle = rt.block_on(Daemon::start(config)).expect("daemon start");
            let addr = handle.local_addrs()[0];
            (Target::InProcess(Box::new((rt, handle))), addr)
        }
        Where::Child(mtasts) => {
            let addr = free_port();
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", "0"]);
            match mtasts {
                Some(bin) => {
                    cmd.arg(bin).arg("daemon");
                }
                None => {
                    cmd.arg(std::env::current_exe().expect("exe"))
                        .arg("--daemon-child");
                }
            }
            cmd.args(daemon_args(addr, state, srv, ca_file))
                .stdin(Stdio::piped())
                .stdout(Stdio::null());
            eprintln!("daemon: {cmd:?}");
            let child = cmd.spawn().expect("spawn daemon");
            wait_accepting(addr, Duration::from_secs(30));
            (
                Target::Child {
                    child,
                    mtasts: mtasts.is_some(),
                },
                addr,
            )
        }
        Where::External(addr) => {
            eprintln!(
                "start the daemon now, e.g.:\n  taskset -c 0 target/release/mtasts daemon {}",
                daemon_args(*addr, state, srv, ca_file).join(" ")
            );
            wait_accepting(*addr, Duration::from_secs(600));
            (Target::External, *addr)
        }
    }
}

/// One connection's share of a run.
#[derive(Debug, Default)]
struct ConnResult {
    /// Latencies (ns) of the requests sent and answered inside the window.
    lat: Vec<u32>,
    bad: u64,
    first_bad: Option<String>,
}

impl ConnResult {
    fn answer(&mut self, payload: &[u8]) {
        if payload != EXPECT {
            self.bad += 1;
            if self.first_bad.is_none() {
                self.first_bad = Some(String::from_utf8_lossy(payload).into_owned());
            }
        }
    }
}

fn requests(n: usize) -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        (0..n)
            .map(|i| socketmap::encode(format!("postfix {}", domain(i)).as_bytes()))
            .collect(),
    )
}

/// Length of the complete netstring in `buf`, if there is one.
fn complete(buf: &[u8]) -> Option<(usize, usize)> {
    match socketmap::decode(buf, socketmap::MAX_NETSTRING).expect("reply netstring") {
        Frame::Complete { payload, consumed } => Some((consumed - payload.len() - 1, consumed - 1)),
        Frame::Incomplete => None,
    }
}

/// The window: requests started at or after `from` and answered by `to`
/// are recorded; none is started at or after `to`.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: Instant,
    to: Instant,
}

fn run_blocking(addr: SocketAddr, reqs: &[Vec<u8>], first: usize, w: Window) -> ConnResult {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut r = ConnResult::default();
    let mut buf = vec![0u8; 4096];
    let mut i = first;
    loop {
        let t0 = Instant::now();
        if t0 >= w.to {
            return r;
        }
        s.write_all(&reqs[i % reqs.len()]).expect("write");
        let mut filled = 0;
        let (start, end) = loop {
            let n = s.read(&mut buf[filled..]).expect("read");
            assert!(n > 0, "daemon closed the connection");
            filled += n;
            if let Some(p) = complete(&buf[..filled]) {
                break p;
            }
        };
        let t1 = Instant::now();
        r.answer(&buf[start..end]);
        if t0 >= w.from && t1 <= w.to {
            r.lat
                .push(u32::try_from((t1 - t0).as_nanos()).unwrap_or(u32::MAX));
        }
        i += 1;
    }
}

async fn run_async(
    addr: SocketAddr,
    reqs: Arc<Vec<Vec<u8>>>,
    first: usize,
    w: Window,
) -> ConnResult {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut r = ConnResult::default();
    let mut buf = vec![0u8; 4096];
    let mut i = first;
    loop {
        let t0 = Instant::now();
        if t0 >= w.to {
            return r;
        }
        s.write_all(&reqs[i % reqs.len()]).await.expect("write");
        let mut filled = 0;
        let (start, end) = loop {
            let n = s.read(&mut buf[filled..]).await.expect("read");
            assert!(n > 0, "daemon closed the connection");
            filled += n;
            if let Some(p) = complete(&buf[..filled]) {
                break p;
            }
        };
        let t1 = Instant::now();
        r.answer(&buf[start..end]);
        if t0 >= w.from && t1 <= w.to {
            r.lat
                .push(u32::try_from((t1 - t0).as_nanos()).unwrap_or(u32::MAX));
        }
        i += 1;
    }
}

/// All connections on one thread that never sleeps: non-blocking
/// sockets polled in turn, so the client's CPU never idles and an answer
/// is seen without any wake-up (at the price of a full core).
fn run_spin(
    addr: SocketAddr,
    reqs: &[Vec<u8>],
    conns: usize,
    stride: usize,
    w: Window,
) -> Vec<ConnResult> {
    struct Conn {
        s: TcpStream,
        r: ConnResult,
        buf: Vec<u8>,
        filled: usize,
        next: usize,
        sent: Option<Instant>,
    }
    let mut cs: Vec<Conn> = (0..conns)
        .map(|c| {
            let s = TcpStream::connect(addr).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            s.set_nonblocking(true).expect("nonblocking");
            Conn {
                s,
                r: ConnResult::default(),
                buf: vec![0u8; 4096],
                filled: 0,
                next: c * stride,
                sent: None,
            }
        })
        .collect();
    loop {
        let mut active = false;
        for c in &mut cs {
            match c.sent {
                None => {
                    let t0 = Instant::now();
                    if t0 >= w.to {
                        continue;
                    }
                    active = true;
                    let mut q = &reqs[c.next % reqs.len()][..];
                    while !q.is_empty() {
                        match c.s.write(q) {
                            Ok(n) => q = &q[n..],
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(e) => panic!("write: {e}"),
                        }
                    }
                    c.sent = Some(t0);
                }
                Some(t0) => {
                    active = true;
                    match c.s.read(&mut c.buf[c.filled..]) {
                        Ok(0) => panic!("daemon closed the connection"),
                        Ok(n) => {
                            c.filled += n;
                            if let Some((a, b)) = complete(&c.buf[..c.filled]) {
                                let t1 = Instant::now();
                                c.r.answer(&c.buf[a..b]);
                                if t0 >= w.from && t1 <= w.to {
                                    c.r.lat.push(
                                        u32::try_from((t1 - t0).as_nanos()).unwrap_or(u32::MAX),
                                    );
                                }
                                c.filled = 0;
                                c.next += 1;
                                c.sent = None;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => panic!("read: {e}"),
                    }
                }
            }
        }
        if !active {
            return cs.into_iter().map(|c| c.r).collect();
        }
    }
}

/// CPU time and run-queue wait (ns, summed) of the threads of `pid`
/// whose name starts with `prefix` (all threads for ""), from
/// `/proc/PID/task/*/schedstat`. Waiting on a run queue means the thread
/// was runnable but another one (another process, e.g. a build) had the
/// CPU.
fn sched_ns(pid: Option<u32>, prefix: &str) -> Option<(u64, u64)> {
    let pid = pid?;
    let (mut run, mut wait) = (0, 0);
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let sched = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
        let mut f = sched.split_whitespace().map(|x| x.parse::<u64>().ok());
        run += f.next()??;
        wait += f.next()??;
    }
    Some((run, wait))
}

/// Share of the wall time spent running and waiting to run.
#[derive(Debug, Clone, Copy)]
struct Sched {
    run: f64,
    wait: f64,
}

fn sched_share(a: Option<(u64, u64)>, b: Option<(u64, u64)>, secs: f64) -> Option<Sched> {
    let ((r0, w0), (r1, w1)) = (a?, b?);
    Some(Sched {
        run: r1.saturating_sub(r0) as f64 / 1e9 / secs,
        wait: w1.saturating_sub(w0) as f64 / 1e9 / secs,
    })
}

struct RunResult {
    conns: usize,
    requests: usize,
    rate: f64,
    p50: u32,
    p99: u32,
    p999: u32,
    max: u32,
    bad: u64,
    first_bad: Option<String>,
    daemon_cpu: Option<Sched>,
    client_cpu: Option<Sched>,
}

/// Drive `conns` connections through warm-up + window; `daemon` is the
/// daemon's pid and thread-name prefix (for CPU accounting).
fn run(
    addr: SocketAddr,
    reqs: &Arc<Vec<Vec<u8>>>,
    conns: usize,
    o: &Opts,
    daemon: (Option<u32>, &str),
) -> RunResult {
    let start = Instant::now() + Duration::from_millis(20);
    let w = Window {
        from: start + o.warmup,
        to: start + o.warmup + o.secs,
    };
    let stride = reqs.len() / conns.max(1);
    let me = Some(std::process::id());
    // Client threads stay alive until the CPU times are read.
    let threads = match o.client {
        ClientKind::Async | ClientKind::Spin => 1,
        ClientKind::Threads => conns,
    };
    let sampled = Arc::new(std::sync::Barrier::new(threads + 1));
    let workers: Vec<std::thread::JoinHandle<Vec<ConnResult>>> = match o.client {
        ClientKind::Async => {
            let reqs = Arc::clone(reqs);
            let sampled = Arc::clone(&sampled);
            vec![
                std::thread::Builder::new()
                    .name("sm-client".into())
                    .spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("client runtime");
                        let out = rt.block_on(async {
                            let tasks: Vec<_> = (0..conns)
                                .map(|c| {
                                    tokio::spawn(run_async(addr, Arc::clone(&reqs), c * stride, w))
                                })
                                .collect();
                            let mut out = Vec::new();
                            for t in tasks {
                                out.push(t.await.expect("client task"));
                            }
                            out
                        });
                        sampled.wait();
                        out
                    })
                    .expect("client thread"),
            ]
        }
        ClientKind::Spin => {
            let reqs = Arc::clone(reqs);
            let sampled = Arc::clone(&sampled);
            vec![
                std::thread::Builder::new()
                    .name("sm-client".into())
                    .spawn(move || {
                        let out = run_spin(addr, &reqs, conns, stride, w);
                        sampled.wait();
                        out
                    })
                    .expect("client thread"),
            ]
        }
        ClientKind::Threads => (0..conns)
            .map(|c| {
                let reqs = Arc::clone(reqs);
                let sampled = Arc::clone(&sampled);
                std::thread::Builder::new()
                    .name("sm-client".into())
                    .spawn(move || {
                        let r = run_blocking(addr, &reqs, c * stride, w);
                        sampled.wait();
                        vec![r]
                    })
                    .expect("client thread")
            })
            .collect(),
    };
    std::thread::sleep(w.from.saturating_duration_since(Instant::now()));
    let d0 = sched_ns(daemon.0, daemon.1);
    let c0 = sched_ns(me, "sm-client");
    let t0 = Instant::now();
    std::thread::sleep(w.to.saturating_duration_since(Instant::now()));
    let d1 = sched_ns(daemon.0, daemon.1);
    let c1 = sched_ns(me, "sm-client");
    sampled.wait();
    let elapsed = t0.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    let (mut bad, mut first_bad) = (0, None);
    for h in workers {
        for r in h.join().expect("client") {
            lat.extend_from_slice(&r.lat);
            bad += r.bad;
            first_bad = first_bad.or(r.first_bad);
        }
    }
    lat.sort_unstable();
    let q = |p: f64| {
        if lat.is_empty() {
            0
        } else {
            lat[((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1]
        }
    };
    RunResult {
        conns,
        requests: lat.len(),
        rate: lat.len() as f64 / o.secs.as_secs_f64(),
        p50: q(0.50),
        p99: q(0.99),
        p999: q(0.999),
        max: lat.last().copied().unwrap_or(0),
        bad,
        first_bad,
        daemon_cpu: sched_share(d0, d1, elapsed),
        client_cpu: sched_share(c0, c1, elapsed),
    }
}

fn us(ns: u32) -> String {
    format!("{:.1}", f64::from(ns) / 1000.0)
}

fn pct(x: Option<Sched>) -> String {
    x.map_or_else(
        || "-".into(),
        |v| format!("{:.0}% / {:.0}%", v.run * 100.0, v.wait * 100.0),
    )
}

/// Re-run this bench under `taskset -c 1` (the daemon child then goes to
/// CPU 0). `None` when that is not possible.
fn reexec_pinned() -> Option<i32> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let status = Command::new("taskset")
        .args(["-c", "1"])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(PINNED_ENV, "1")
        .status()
        .ok()?;
    Some(status.code().unwrap_or(1))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--daemon-child") {
        daemon_child(&args[1..]);
        return;
    }
    let mut o = parse_args(&args);
    if matches!(o.place, Where::Auto) {
        if std::env::var_os(PINNED_ENV).is_some() {
            o.place = Where::Child(None);
        } else if let Some(code) = reexec_pinned() {
            std::process::exit(code);
        } else {
            eprintln!("taskset unavailable or 1 CPU: daemon in-process, unpinned");
            o.place = Where::InProcess;
        }
    }
    if let Where::Child(Some(bin)) = &o.place
        && std::env::var_os(PINNED_ENV).is_none()
    {
        eprintln!(
            "note: run under `taskset -c 1` to keep the client off the daemon's CPU 0 ({})",
            bin.display()
        );
    }
    let _ = Command::new("uptime").status();

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sm-servers")
        .enable_all()
        .build()
        .expect("server runtime");
    let srv = server_rt.block_on(servers(o.domains));
    let dir = tempfile::Builder::new()
        .prefix("mtasts-bench-socketmap-")
        .tempdir()
        .expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &srv.ca_pem).expect("ca.pem");
    let state = dir.path().join("state");
    let (target, addr) = start_target(&o.place, &srv, &state, &ca_file);
    let daemon_threads = match &target {
        Target::InProcess(_) => "sm-daemon",
        _ => "",
    };
    let pid = target.pid();

    // Warm the cache: every domain once (cold discovery), 32 in flight.
    let reqs = requests(o.domains);
    let t = Instant::now();
    let per = o.domains.div_ceil(32);
    let warmers: Vec<_> = reqs
        .chunks(per)
        .map(|chunk| {
            let chunk = chunk.to_vec();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).expect("connect");
                let mut r = ConnResult::default();
                let mut buf = vec![0u8; 4096];
                for q in &chunk {
                    s.write_all(q).expect("write");
                    let mut filled = 0;
                    let (a, b) = loop {
                        let n = s.read(&mut buf[filled..]).expect("read");
                        assert!(n > 0, "daemon closed the connection");
                        filled += n;
                        if let Some(p) = complete(&buf[..filled]) {
                            break p;
                        }
                    };
                    r.answer(&buf[a..b]);
                }
                r
            })
        })
        .collect();
    for w in warmers {
        let r = w.join().expect("warm");
        assert_eq!(r.bad, 0, "warm-up answer: {:?}", r.first_bad);
    }
    eprintln!(
        "warmed {} domains in {:.2} s (cold discovery over loopback DNS + HTTPS); daemon {addr}, client {:?}, pid {pid:?}",
        o.domains,
        t.elapsed().as_secs_f64(),
        o.client
    );

    let mut results = Vec::new();
    for &c in &o.conns {
        let r = run(addr, &reqs, c, &o, (pid, daemon_threads));
        eprintln!("  {c} conns: {:.0} req/s p99 {} us", r.rate, us(r.p99));
        results.push(r);
    }
    target.stop();
    drop(srv);
    drop(server_rt);

    println!(
        "\nsocketmap load: {} warm domains, {:?} warm-up + {:?} recorded per row, client {:?}, daemon {}",
        o.domains,
        o.warmup,
        o.secs,
        o.client,
        match &o.place {
            Where::Auto | Where::InProcess => "in-process (1 worker thread)".to_owned(),
            Where::Child(None) => "child process `taskset -c 0` (1 worker thread)".to_owned(),
            Where::Child(Some(b)) => format!("`taskset -c 0 {} daemon`", b.display()),
            Where::External(a) => format!("external {a}"),
        }
    );
    println!(
        "| conns | requests/s | p50 µs | p99 µs | p99.9 µs | max µs | daemon CPU / run-queue wait | daemon CPU µs / request | client CPU / run-queue wait |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &results {
        println!(
            "| {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            r.conns,
            r.rate,
            us(r.p50),
            us(r.p99),
            us(r.p999),
            us(r.max),
            pct(r.daemon_cpu),
            r.daemon_cpu
                .filter(|_| r.rate > 0.0)
                .map_or_else(|| "-".into(), |d| format!("{:.1}", d.run * 1e6 / r.rate)),
            pct(r.client_cpu)
        );
    }
    for r in &results {
        assert!(r.requests > 0, "{} conns: no request answered", r.conns);
        assert_eq!(
            r.bad,
            0,
            "{} conns: {} answers were not `{}`, e.g. {:?}",
            r.conns,
            r.bad,
            String::from_utf8_lossy(EXPECT),
            r.first_bad
        );
    }
}
