//! Load benchmark of `mtasts serve` against nginx serving the same
//! policies as static files with the same certificates.
//!
//! `setup` (done once per `--dir`, or again with `--fresh`) makes N hosted
//! domains `d0.bench.example` ... in a site store (`DIR/state`), one
//! certificate per `mta-sts.dI.bench.example` from a throw-away CA in a
//! certbot-style `DIR/certs/<host>/{fullchain,privkey}.pem`, the same
//! policy bodies as files under `DIR/www/`, and an nginx configuration
//! with one `server` block per domain.
//!
//! Then, for each server in turn (each started alone, pinned with
//! `taskset` to `--server-cpu`, one worker process for nginx), two
//! phases from this process (pin it to the other CPU with `taskset`):
//!
//! - keep-alive: `--connections` TLS connections, each to a domain drawn
//!   at random, each sending `GET /.well-known/mta-sts.txt` requests one
//!   after another over HTTP/1.1 keep-alive; responses per second;
//! - handshakes: the same number of concurrent clients, each opening a
//!   new TLS connection (full handshake: no session resumption) to a
//!   random domain for one request (`Connection: close`); completed
//!   connections per second.
//!
//! Every response is checked (status 200 and the exact body of that
//! domain); a wrong one is an error. The resident memory of each server
//! (all its processes) is read from `/proc` after the load.
//!
//! ```text
//! cargo build --release -p mta-sts-cli -p mta-sts-benches --bin mtasts --bin serve_load
//! taskset -c 1 target/release/serve_load --mtasts target/release/mtasts --dir /tmp/serve-bench \
//!     --domains 10000 --server-cpu 0 --seconds 10 --connections 64
//! # smoke (CI): a few domains, a second per phase, exit 1 on any wrong answer
//! target/debug/serve_load --mtasts target/debug/mtasts --dir /tmp/serve-smoke --fresh \
//!     --domains 20 --seconds 1 --connections 4 --check
//! ```
//!
//! The client accepts the throw-away CA of the setup only (it verifies
//! every certificate chain and name, as a sender would); it offers only
//! `http/1.1` and never resumes sessions.

use std::io::{BufRead, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mta_sts_core::hosting::DEFAULT_MAX_AGE;
use mta_sts_core::policy::LineEnding;
use mta_sts_core::{Mode, Policy};
use mtasts_site::store::{DomainSettings, NewPolicy, SiteStore};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

struct Options {
    mtasts: PathBuf,
    dir: PathBuf,
    domains: usize,
    server_cpu: Option<String>,
    seconds: f64,
    connections: usize,
    fresh: bool,
    check: bool,
    peer: bool,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: serve_load --mtasts PATH --dir DIR [--domains N] [--server-cpu N] \
         [--seconds S] [--connections N] [--fresh] [--no-peer] [--check]\n\
         --domains: hosted domains (default 10000); --seconds: per phase (default 10);\n\
         --connections: concurrent clients (default 64); --no-peer: skip nginx;\n\
         --check: exit 1 unless every phase completed requests with no wrong answer"
    );
    ExitCode::from(2)
}

fn parse_args() -> Option<Options> {
    let mut o = Options {
        mtasts: PathBuf::new(),
        dir: PathBuf::new(),
        domains: 10_000,
        server_cpu: None,
        seconds: 10.0,
        connections: 64,
        fresh: false,
        check: false,
        peer: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mtasts" => o.mtasts = args.next()?.into(),
            "--dir" => o.dir = args.next()?.into(),
            "--domains" => o.domains = args.next()?.parse().ok()?,
            "--server-cpu" => o.server_cpu = Some(args.next()?),
            "--seconds" => o.seconds = args.next()?.parse().ok()?,
            "--connections" => o.connections = args.next()?.parse().ok()?,
            "--fresh" => o.fresh = true,
            "--check" => o.check = true,
            "--no-peer" => o.peer = false,
            _ => return None,
        }
    }
    (!o.mtasts.as_os_str().is_empty()
        && !o.dir.as_os_str().is_empty()
        && o.domains > 0
        && o.connections > 0
        && o.seconds > 0.0)
        .then_some(o)
}

/// The hosted domain number `i`.
fn domain(i: usize) -> String {
    format!("d{i}.bench.example")
}

/// The mode of domain `i`: every other one in `enforce`.
fn mode(i: usize) -> Mode {
    [Mode::Enforce, Mode::Testing][i % 2]
}

/// The policy body of domain `i` (CRLF, as served).
fn body(i: usize) -> Result<String, String> {
    let p = Policy::builder()
        .mode(mode(i))
        .max_age(DEFAULT_MAX_AGE)
        .mx(format!("mx1.d{i}.bench.example"))
        .mx("*.mail.bench.example")
        .build()
        .map_err(|e| e.to_string())?;
    Ok(p.to_string_with(LineEnding::CrLf))
}

/// Write the store, the certificates, the static files and the nginx
/// configuration under `dir` for `n` domains.
fn setup(dir: &Path, n: usize) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let _ = std::fs::remove_dir_all(dir);
    for sub in ["state", "certs", "www", "nginx"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|e| err(&p, e))?;
    }
    let ca = test_support::TestCa::new();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.ca_pem()).map_err(|e| err(&ca_path, e))?;
    let store =
        mtasts_site::sqlite::SqliteStore::open(&dir.join("state")).map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let www = dir.join("www");
    let mut conf = String::new();
    let prefix = dir.join("nginx");
    conf.push_str(&format!(
        "worker_processes 1;\ndaemon off;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  access_log off;\n  server_tokens off;\n  keepalive_requests 100000000;\n  \
         keepalive_timeout 60s;\n  ssl_session_cache off;\n  ssl_session_tickets off;\n  \
         ssl_protocols TLSv1.2 TLSv1.3;\n  \
         client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
         fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  \
         server_names_hash_max_size 65536;\n  server_names_hash_bucket_size 128;\n",
        p = prefix.display()
    ));
    for i in 0..n {
        let name = domain(i);
        let host = format!("mta-sts.{name}");
        let text = body(i)?;
        let settings = DomainSettings {
            mode: mode(i),
            mx: vec![format!("mx1.{name}"), "*.mail.bench.example".into()],
            max_age: DEFAULT_MAX_AGE,
            rua: vec![format!("mailto:tlsrpt@{name}")],
        };
        store
            .add_domain(
                &name,
                &NewPolicy {
                    settings,
                    body: text.clone(),
                    removing_until: None,
                },
                now - 86_400,
            )
            .map_err(|e| e.to_string())?;
        let leaf = ca.issue(&[host.as_str()]);
        let cdir = dir.join("certs").join(&host);
        std::fs::create_dir_all(&cdir).map_err(|e| err(&cdir, e))?;
        let chain = format!("{}{}", leaf.cert_pem, ca.ca_pem());
        std::fs::write(cdir.join("fullchain.pem"), chain).map_err(|e| err(&cdir, e))?;
        std::fs::write(cdir.join("privkey.pem"), &leaf.key_pem).map_err(|e| err(&cdir, e))?;
        let file = www.join(format!("{name}.txt"));
        std::fs::write(&file, &text).map_err(|e| err(&file, e))?;
        conf.push_str(&format!(
            "  server {{\n    listen 127.0.0.1:@PORT@ ssl;\n    server_name {host};\n    \
             ssl_certificate {c}/fullchain.pem;\n    ssl_certificate_key {c}/privkey.pem;\n    \
             location = /.well-known/mta-sts.txt {{ default_type text/plain; alias {f}; }}\n    \
             location / {{ return 404; }}\n  }}\n",
            c = cdir.display(),
            f = file.display()
        ));
    }
    conf.push_str("}\n");
    let p = prefix.join("nginx.conf.in");
    std::fs::write(&p, conf).map_err(|e| err(&p, e))?;
    let done = dir.join("setup.done");
    std::fs::write(&done, n.to_string()).map_err(|e| err(&done, e))
}

/// A free port on 127.0.0.1.
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Starts one of the servers under test.
type Starter = fn(&Options) -> Result<Server, String>;

/// A server under test.
struct Server {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pinned(cpu: Option<&String>, program: &Path) -> Command {
    match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn start_mtasts(o: &Options) -> Result<Server, String> {
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut c = pinned(o.server_cpu.as_ref(), &o.mtasts);
    c.arg("serve")
        .arg("--state")
        .arg(o.dir.join("state"))
        .arg("--cert-dir")
        .arg(o.dir.join("certs"))
        .arg("--https")
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .map_err(|e| format!("{}: {e}", o.mtasts.display()))?;
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains("ERROR") || line.contains("error") {
                    eprintln!("mtasts serve: {line}");
                }
            }
        });
    }
    Ok(Server {
        name: "mtasts serve",
        child,
        addr,
    })
}

fn start_nginx(o: &Options) -> Result<Server, String> {
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let prefix = o.dir.join("nginx");
    let conf_in = prefix.join("nginx.conf.in");
    let conf = std::fs::read_to_string(&conf_in)
        .map_err(|e| format!("{}: {e}", conf_in.display()))?
        .replace("@PORT@", &port.to_string());
    let path = prefix.join("nginx.conf");
    std::fs::write(&path, conf).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut c = pinned(o.server_cpu.as_ref(), Path::new("nginx"));
    c.arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = c.spawn().map_err(|e| format!("nginx: {e}"))?;
    Ok(Server {
        name: "nginx",
        child,
        addr,
    })
}

/// The resident memory (KiB) of `pid` and its children.
fn rss_kib(pid: u32) -> u64 {
    let mut total = 0;
    let mut pids = vec![pid];
    if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    // taskset execs the server in place, so `pid` is the server itself.
    for p in pids {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/status")) {
            for line in s.lines() {
                if let Some(v) = line.strip_prefix("VmRSS:") {
                    total += v
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0);
                }
            }
        }
    }
    total
}

/// Counts shared by the clients of one phase.
#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    wrong: AtomicU64,
    failed: AtomicU64,
}

/// A tiny xorshift generator per client.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap_or(0)
    }
}

/// Read one HTTP/1.1 response with a Content-Length body from `s`,
/// keeping what follows in `buf`; returns (status, body).
async fn read_response<S: AsyncReadExt + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
) -> Result<(u16, Vec<u8>), String> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(|e| e.to_string())?;
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or("no status")?;
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .ok_or("no content-length")?;
            while buf.len() < end + 4 + len {
                let mut chunk = [0u8; 4096];
                let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("closed".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..end + 4 + len].to_vec();
            buf.drain(..end + 4 + len);
            return Ok((status, body));
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 1 << 20 {
            return Err("response too large".into());
        }
    }
}

/// One client: `keepalive` sends requests over one connection until
/// `stop`; otherwise a new connection per request.
async fn client(
    addr: SocketAddr,
    tls: TlsConnector,
    bodies: Arc<Vec<String>>,
    keepalive: bool,
    seed: u64,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) {
    let mut rng = Rng(seed | 1);
    while !stop.load(Ordering::Relaxed) {
        let i = rng.below(bodies.len());
        let host = format!("mta-sts.{}", domain(i));
        let Ok(name) = ServerName::try_from(host.clone()) else {
            counts.failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let tcp = match TcpStream::connect(addr).await {
            Ok(t) => t,
            Err(_) => {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let mut s = match tls.connect(name, tcp).await {
            Ok(s) => s,
            Err(_) => {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        let req = format!(
            "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\n{}\r\n",
            if keepalive {
                ""
            } else {
                "Connection: close\r\n"
            }
        );
        let mut buf = Vec::new();
        loop {
            if s.write_all(req.as_bytes()).await.is_err() {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                break;
            }
            match read_response(&mut s, &mut buf).await {
                Ok((200, b)) if b == bodies[i].as_bytes() => {
                    counts.ok.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {
                    counts.wrong.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(_) => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            if !keepalive || stop.load(Ordering::Relaxed) {
                break;
            }
        }
        if !keepalive {
            let _ = s.shutdown().await;
        }
    }
}

/// The outcome of one phase.
struct Phase {
    per_second: f64,
    ok: u64,
    wrong: u64,
    failed: u64,
}

fn run_phase(
    o: &Options,
    addr: SocketAddr,
    tls: &TlsConnector,
    bodies: &Arc<Vec<String>>,
    keepalive: bool,
) -> Result<Phase, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let elapsed = rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..o.connections {
            tasks.push(tokio::spawn(client(
                addr,
                tls.clone(),
                Arc::clone(bodies),
                keepalive,
                0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(c as u64 + 1),
                Arc::clone(&stop),
                Arc::clone(&counts),
            )));
        }
        // Not measured: the first connections' handshakes.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let start_ok = counts.ok.load(Ordering::Relaxed);
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(o.seconds)).await;
        let done = counts.ok.load(Ordering::Relaxed) - start_ok;
        let elapsed = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        (done, elapsed)
    });
    Ok(Phase {
        per_second: elapsed.0 as f64 / elapsed.1,
        ok: counts.ok.load(Ordering::Relaxed),
        wrong: counts.wrong.load(Ordering::Relaxed),
        failed: counts.failed.load(Ordering::Relaxed),
    })
}

/// Wait until `server` completes a policy request for domain 0; false
/// when it exits or does not answer within 120 s.
fn wait_ready(server: &mut Server, tls: &TlsConnector, bodies: &Arc<Vec<String>>) -> bool {
    let addr = server.addr;
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return false;
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    rt.block_on(async {
        while Instant::now() < deadline {
            if !matches!(server.child.try_wait(), Ok(None)) {
                return false;
            }
            let stop = Arc::new(AtomicBool::new(false));
            let counts = Arc::new(Counts::default());
            let one = Arc::new(vec![bodies[0].clone()]);
            let task = tokio::spawn(client(
                addr,
                tls.clone(),
                one,
                false,
                1,
                Arc::clone(&stop),
                Arc::clone(&counts),
            ));
            tokio::time::sleep(Duration::from_millis(200)).await;
            stop.store(true, Ordering::Relaxed);
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
            if counts.ok.load(Ordering::Relaxed) > 0 {
                return true;
            }
        }
        false
    })
}

fn connector(dir: &Path) -> Result<TlsConnector, String> {
    let pem = std::fs::read(dir.join("ca.pem")).map_err(|e| format!("ca.pem: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(&pem)? {
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    Ok(TlsConnector::from(Arc::new(config)))
}

fn rustls_pemfile_certs(
    pem: &[u8],
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject as _;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let Some(mut o) = parse_args() else {
        return usage();
    };
    // nginx reads `-c` relative to its prefix: every path absolute.
    match std::path::absolute(&o.dir) {
        Ok(dir) => o.dir = dir,
        Err(e) => {
            eprintln!("error: {}: {e}", o.dir.display());
            return ExitCode::FAILURE;
        }
    }
    match run(&o) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(o: &Options) -> Result<bool, String> {
    let done = std::fs::read_to_string(o.dir.join("setup.done")).ok();
    if o.fresh || done.as_deref() != Some(&o.domains.to_string()) {
        let t = Instant::now();
        setup(&o.dir, o.domains)?;
        println!(
            "setup: {} domains in {:.1} s",
            o.domains,
            t.elapsed().as_secs_f64()
        );
    }
    let bodies = Arc::new((0..o.domains).map(body).collect::<Result<Vec<_>, _>>()?);
    let tls = connector(&o.dir)?;
    let mut ok = true;
    let mut servers: Vec<Starter> = vec![start_mtasts];
    if o.peer {
        servers.push(start_nginx);
    }
    println!(
        "{} domains, {} clients, {} s per phase; server CPU {}",
        o.domains,
        o.connections,
        o.seconds,
        o.server_cpu.as_deref().unwrap_or("any")
    );
    println!("| server | keep-alive responses/s | new TLS connections/s | RSS after load |");
    println!("|---|---:|---:|---:|");
    for start in servers {
        let t = Instant::now();
        let mut server = start(o)?;
        if !wait_ready(&mut server, &tls, &bodies) {
            return Err(format!(
                "{} exited or did not answer within 120 s",
                server.name
            ));
        }
        let ready = t.elapsed().as_secs_f64();
        let rss_idle = rss_kib(server.child.id());
        let keep = run_phase(o, server.addr, &tls, &bodies, true)?;
        let fresh = run_phase(o, server.addr, &tls, &bodies, false)?;
        let rss = rss_kib(server.child.id());
        println!(
            "| {} | {:.0} | {:.0} | {:.1} MiB ({:.1} MiB idle; ready in {ready:.1} s) |",
            server.name,
            keep.per_second,
            fresh.per_second,
            rss as f64 / 1024.0,
            rss_idle as f64 / 1024.0
        );
        for (phase, p) in [("keep-alive", &keep), ("handshakes", &fresh)] {
            if p.wrong > 0 || p.failed > 0 {
                eprintln!(
                    "{} {phase}: {} ok, {} wrong answers, {} failed connections",
                    server.name, p.ok, p.wrong, p.failed
                );
            }
            if o.check && (p.ok == 0 || p.wrong > 0) {
                ok = false;
            }
        }
        let _ = std::io::stdout().flush();
    }
    Ok(ok)
}
