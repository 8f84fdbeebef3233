//! Load test of `mtasts tlsrpt collect`: start the collector (pinned to
//! a CPU with `taskset`, when given), send it libtlsrpt datagrams over
//! its AF_UNIX socket as fast as possible or at fixed rates, and report
//! what was sent, lost and received.
//!
//! The sender behaves like libtlsrpt: a non-blocking, unconnected
//! datagram socket, one `sendto` per datagram, and a datagram whose
//! `sendto` fails with EAGAIN (the collector's socket queue is full) is
//! lost, not retried. "Received" and "journaled" are the collector's own
//! counts, from the `stopped` line it logs at SIGTERM.
//!
//! ```text
//! cargo build --release -p mta-sts-cli -p mta-sts-benches --bin mtasts --bin tlsrpt_flood
//! taskset -c 1 target/release/tlsrpt_flood --mtasts target/release/mtasts --collector-cpu 0 \
//!     --rates 10000,100000,220000 --seconds 5
//! taskset -c 1 target/release/tlsrpt_flood --mtasts target/release/mtasts --collector-cpu 0 --search
//! # smoke (CI): a few thousand datagrams, exit 1 unless the collector journaled
//! # every datagram the kernel took
//! target/release/tlsrpt_flood --mtasts target/release/mtasts --warmup 0 --count 5000 --rates 10000 --check
//! ```
//!
//! The datagram mix is that of `benches/aggregate.rs`: 2,000 policy
//! domains (60% `sts` with a 5-line policy, 30% no policy, 10% `tlsa`),
//! drawn with a skew, 95% of the sessions successful, the rest failing
//! with one of 48 failure details; about 300 bytes each.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tlsrpt_core::ResultType;
use tlsrpt_core::datagram::{Datagram, DatagramPolicy};
use tlsrpt_core::session::{Failure, PolicyKey, SessionResult};

/// Distinct datagrams cycled through.
const CORPUS: usize = 20_000;

struct Options {
    mtasts: PathBuf,
    collector_cpu: Option<String>,
    rates: Vec<u64>,
    seconds: f64,
    count: Option<u64>,
    search: bool,
    check: bool,
    senders: usize,
    warmup: u64,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: tlsrpt_flood --mtasts PATH [--collector-cpu N] [--rates R,R,...] \
         [--seconds S | --count N] [--senders N] [--warmup N] [--search] [--check]\n\
         rates in datagrams per second, 0 = as fast as possible (default 0);\n\
         --senders: sending sockets used in turn, like Postfix's smtp processes (default 16);\n\
         --warmup: datagrams sent at 50000/s first, not measured (default 50000)"
    );
    ExitCode::from(2)
}

fn parse_args() -> Option<Options> {
    let mut o = Options {
        mtasts: PathBuf::new(),
        collector_cpu: None,
        rates: vec![0],
        seconds: 3.0,
        count: None,
        search: false,
        check: false,
        senders: 16,
        warmup: 50_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mtasts" => o.mtasts = args.next()?.into(),
            "--collector-cpu" => o.collector_cpu = Some(args.next()?),
            "--rates" => {
                o.rates = args
                    .next()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .ok()?;
            }
            "--seconds" => o.seconds = args.next()?.parse().ok()?,
            "--count" => o.count = Some(args.next()?.parse().ok()?),
            "--search" => o.search = true,
            "--check" => o.check = true,
            "--warmup" => o.warmup = args.next()?.parse().ok()?,
            "--senders" => o.senders = args.next()?.parse().ok().filter(|&n| n > 0)?,
            _ => return None,
        }
    }
    (!o.mtasts.as_os_str().is_empty()).then_some(o)
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The datagrams, in libtlsrpt's form.
fn corpus() -> Vec<Vec<u8>> {
    let keys: Vec<PolicyKey> = mta_sts_benches::policy_keys(2000);
    let types = [
        ResultType::CertificateExpired,
        ResultType::CertificateHostMismatch,
        ResultType::StarttlsNotSupported,
        ResultType::ValidationFailure,
    ];
    let failures: Vec<Failure> = (0..48)
        .map(|i| {
            Failure::new(types[i % types.len()].clone())
                .receiving_mx_hostname(format!("mx{}.example.net", i % 6))
                .receiving_ip(format!("198.51.100.{}", i + 1).parse().expect("ip"))
                .sending_mta_ip(format!("192.0.2.{}", i % 4 + 1).parse().expect("ip"))
                .failure_reason_code("tls handshake failed")
        })
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..CORPUS)
        .map(|_| {
            // Skewed: the square of a uniform draw favours the first keys.
            let u = rng.below(1 << 16) as f64 / 65_536.0;
            let key = &keys[((u * u) * keys.len() as f64) as usize];
            let failed = rng.below(100) < 5;
            let policy = DatagramPolicy {
                key: key.clone(),
                result: if failed {
                    SessionResult::Failed
                } else {
                    SessionResult::Successful
                },
                failures: if failed {
                    vec![failures[rng.below(failures.len())].clone()]
                } else {
                    Vec::new()
                },
            };
            let domain = key.domain().to_owned();
            Datagram::new(
                &domain,
                Some(format!("v=TLSRPTv1; rua=mailto:tlsrpt@{domain}")),
                vec![policy],
            )
            .expect("datagram")
            .to_libtlsrpt_json()
            .into_bytes()
        })
        .collect()
}

/// The collector process and its stderr lines.
struct CollectorProc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl CollectorProc {
    fn start(o: &Options, socket: &Path, state: &Path) -> Self {
        let mut cmd = match &o.collector_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpu]).arg(&o.mtasts);
                c
            }
            None => Command::new(&o.mtasts),
        };
        let mut child = cmd
            .args(["tlsrpt", "collect", "--node", "flood", "-v", "--socket"])
            .arg(socket)
            .arg("--state")
            .arg(state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the collector");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines() {
                let Ok(l) = l else { break };
                if let Ok(mut v) = sink.lock() {
                    v.push(l);
                }
            }
        });
        let p = Self {
            child,
            lines,
            reader: Some(reader),
        };
        p.wait_line(
            |l| l.starts_with("info: collecting "),
            Duration::from_secs(30),
        );
        p
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn wait_line(&self, f: impl Fn(&str) -> bool, limit: Duration) -> Option<String> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(l) = self.lines().into_iter().rev().find(|l| f(l)) {
                return Some(l);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// The latest `journaled` total of the debug lines.
    fn journaled(&self) -> u64 {
        self.lines()
            .iter()
            .rev()
            .find_map(|l| {
                l.strip_prefix("debug: journaled datagrams=")
                    .and_then(|r| r.split_once(" journaled="))
                    .and_then(|(_, t)| t.parse().ok())
            })
            .unwrap_or(0)
    }

    /// CPU seconds the collector used so far (user + system, from
    /// `/proc/PID/stat`; clock ticks of 1/100 s).
    fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
        // utime and stime are fields 14 and 15; `fields` starts at field 3.
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    }

    /// SIGTERM; the fields of the `stopped` line.
    fn stop(mut self) -> Vec<(String, u64)> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let lines = self.lines();
        let stopped = lines
            .iter()
            .find(|l| l.starts_with("info: stopped "))
            .cloned()
            .unwrap_or_default();
        for l in lines
            .iter()
            .filter(|l| {
                l.starts_with("warning:")
                    || l.starts_with("error:")
                    || l.starts_with("debug: checkpoint ")
            })
            .take(20)
        {
            eprintln!("collector: {l}");
        }
        stopped
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect()
    }
}

/// What one phase did.
struct Phase {
    attempted: u64,
    lost: u64,
    secs: f64,
    /// When losses started (ms into the phase), one per burst.
    bursts: Vec<f64>,
}

/// Send `count` datagrams at `rate` per second (0: as fast as possible),
/// libtlsrpt-style.
fn flood(socket: &Path, corpus: &[Vec<u8>], rate: u64, count: u64, senders: usize) -> Phase {
    // Several sockets, as several smtp processes: the datagrams queued at
    // the collector are charged to each sender's send buffer (about 160
    // of these per socket with the default 208 KiB), which would
    // otherwise, not the collector's queue, be the limit.
    let sockets: Vec<UnixDatagram> = (0..senders)
        .map(|_| {
            let s = UnixDatagram::unbound().expect("socket");
            s.set_nonblocking(true).expect("non-blocking");
            s
        })
        .collect();
    let start = Instant::now();
    let mut lost = 0u64;
    let mut i = 0u64;
    let mut bursts = Vec::new();
    let mut last_lost = u64::MAX - 1;
    while i < count {
        if rate > 0 {
            // Pace: evenly spaced, never ahead of `rate * elapsed`.
            loop {
                let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
                if due >= i {
                    break;
                }
                if i - due > 64 {
                    std::thread::sleep(Duration::from_micros(50));
                } else {
                    std::hint::spin_loop();
                }
            }
        }
        let d = &corpus[(i as usize) % corpus.len()];
        match sockets[(i as usize) % sockets.len()].send_to(d, socket) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if last_lost + 1 != i {
                    bursts.push(start.elapsed().as_secs_f64() * 1e3);
                }
                last_lost = i;
                lost += 1;
            }
            Err(e) => panic!("sendto: {e}"),
        }
        i += 1;
    }
    Phase {
        attempted: count,
        lost,
        secs: start.elapsed().as_secs_f64(),
        bursts,
    }
}

/// Run one collector through the phases at `rates`; returns whether the
/// collector's counts matched what the kernel accepted.
fn run(o: &Options, corpus: &[Vec<u8>], rates: &[u64], stop_at_loss: bool) -> (bool, Option<u64>) {
    let dir = std::env::temp_dir().join(format!("tlsrpt-flood-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let socket = dir.join("tlsrpt.sock");
    let collector = CollectorProc::start(o, &socket, &dir.join("state"));
    let qlen = std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    println!(
        "net.unix.max_dgram_qlen={qlen}, {} sending sockets, {} distinct datagrams, {} bytes on average",
        o.senders,
        corpus.len(),
        corpus.iter().map(Vec::len).sum::<usize>() / corpus.len()
    );
    let distinct: std::collections::HashSet<&Vec<u8>> = corpus.iter().collect();
    println!("{} of them different", distinct.len());
    // Warm-up, not measured: the collector's first datagrams of a day
    // (new policies, decoding) cost more than the steady state.
    let warm = flood(&socket, corpus, 50_000, o.warmup, o.senders);
    let mut delivered = warm.attempted - warm.lost;
    if o.warmup > 0 {
        println!("warm-up: {} at 50000/s, lost {}", o.warmup, warm.lost);
    }
    let mut best_lossless = None;
    for &rate in rates {
        let per_second = if rate == 0 { 300_000.0 } else { rate as f64 };
        let count = o.count.unwrap_or((per_second * o.seconds) as u64);
        let cpu_before = collector.cpu_secs();
        let p = flood(&socket, corpus, rate, count, o.senders);
        delivered += p.attempted - p.lost;
        // Let the collector catch up before the next phase.
        let start = Instant::now();
        while collector.journaled() < delivered && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let label = if rate == 0 {
            "max".to_owned()
        } else {
            format!("{rate}/s")
        };
        // The writer records what it journaled; let it finish.
        std::thread::sleep(Duration::from_millis(500));
        let cpu = match (cpu_before, collector.cpu_secs()) {
            (Some(a), Some(b)) if p.attempted > p.lost => format!(
                ", collector CPU {:.2} s ({:.2} us per datagram)",
                b - a,
                (b - a) * 1e6 / (p.attempted - p.lost) as f64
            ),
            _ => String::new(),
        };
        println!(
            "rate {label}: sent {} in {:.2} s ({:.0}/s attempted), lost (EAGAIN) {} ({:.3}%), journaled so far {}{cpu}",
            p.attempted,
            p.secs,
            p.attempted as f64 / p.secs,
            p.lost,
            100.0 * p.lost as f64 / p.attempted as f64,
            collector.journaled()
        );
        if !p.bursts.is_empty() {
            let shown: Vec<String> = p
                .bursts
                .iter()
                .take(12)
                .map(|t| format!("{t:.1}"))
                .collect();
            println!(
                "  {} loss bursts, starting at ms {}{}",
                p.bursts.len(),
                shown.join(", "),
                if p.bursts.len() > 12 { ", ..." } else { "" }
            );
        }
        if p.lost == 0 {
            best_lossless = Some(rate);
        } else if stop_at_loss {
            break;
        }
    }
    let stats = collector.stop();
    let get = |k: &str| stats.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let received = get("received");
    let journaled = get("journaled");
    println!(
        "collector: received {}, journaled {}, garbage {}, dropped {}; the kernel accepted {delivered}",
        received.map_or("?".into(), |v| v.to_string()),
        journaled.map_or("?".into(), |v| v.to_string()),
        get("garbage").map_or("?".into(), |v| v.to_string()),
        get("dropped").map_or("?".into(), |v| v.to_string()),
    );
    let _ = std::fs::remove_dir_all(&dir);
    (
        received == Some(delivered) && journaled == Some(delivered) && get("garbage") == Some(0),
        best_lossless,
    )
}

fn main() -> ExitCode {
    let Some(o) = parse_args() else {
        return usage();
    };
    let corpus = corpus();
    if o.search {
        // Rising rates until the first loss.
        let rates: Vec<u64> = (5..=60).map(|k| k * 10_000).collect();
        let (consistent, best) = run(&o, &corpus, &rates, true);
        match best {
            Some(r) => println!("highest rate without loss: {r}/s"),
            None => println!("loss at every rate tried"),
        }
        return if consistent || !o.check {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let (consistent, _) = run(&o, &corpus, &o.rates, false);
    if o.check && !consistent {
        eprintln!("error: the collector did not journal every datagram the kernel accepted");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
