//! Debian's `pebble` (`/usr/bin/pebble`, the ACME test server of Let's
//! Encrypt) started for one test on loopback ports, validating challenges
//! against the test's own listeners and resolving names through a
//! [`DnsServer`](crate::DnsServer).
//!
//! ```no_run
//! # async fn f(dns: std::net::SocketAddr) -> std::io::Result<()> {
//! use test_support::pebble::{Pebble, PebbleOptions};
//! let Some(pebble) = Pebble::start_or_skip(PebbleOptions { dns, http_port: 5002, tls_port: 5001 }).await? else {
//!     return Ok(()); // pebble is not installed: the reason was printed
//! };
//! let _directory = pebble.directory_url();
//! # Ok(()) }
//! ```
//!
//! Pebble's own HTTPS API certificate is issued by a fresh [`TestCa`] for
//! `localhost` and `127.0.0.1` ([`Pebble::api_ca_path`] is the PEM file an
//! ACME client trusts); the root that signs the certificates pebble
//! issues is fetched from its management interface (`/roots/0`,
//! [`Pebble::root_pem`]). Pebble runs with `PEBBLE_VA_NOSLEEP=1` (no
//! random validation delay), `PEBBLE_WFE_NONCEREJECT=0` (no injected
//! `badNonce`) and `PEBBLE_AUTHZREUSE=0` (every order is validated anew).
//! Its output is kept ([`Pebble::log`]); [`Pebble::issued`] counts the
//! certificates it issued. The process is killed when the value is
//! dropped, or when the test process dies without dropping it (pebble
//! runs under a shell that kills it when its standard input closes).
//!
//! When `/usr/bin/pebble` is missing, [`Pebble::start_or_skip`] prints why
//! and returns `None`, unless `MTASTS_REQUIRE_PEBBLE=1` (as `.ci/run`
//! sets): then it panics.

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{TestCa, watchdog};

/// Where Debian's `pebble` package installs the server.
pub const PEBBLE_BINARY: &str = "/usr/bin/pebble";

/// The environment variable that turns a missing pebble into a failure.
pub const REQUIRE_ENV: &str = "MTASTS_REQUIRE_PEBBLE";

/// How long [`Pebble::start`] waits for the directory to answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The most output kept from the process.
const MAX_LOG: usize = 4 << 20;

/// Where pebble validates challenges and resolves names.
#[derive(Debug, Clone, Copy)]
pub struct PebbleOptions {
    /// The DNS server pebble asks for the A/AAAA records of the names to
    /// validate (`-dnsserver`).
    pub dns: SocketAddr,
    /// The port pebble connects to for HTTP-01 (`httpPort`).
    pub http_port: u16,
    /// The port pebble connects to for TLS-ALPN-01 (`tlsPort`).
    pub tls_port: u16,
}

/// A running pebble (see the module docs).
pub struct Pebble {
    child: Child,
    dir: PathBuf,
    api: SocketAddr,
    management: SocketAddr,
    api_ca: TestCa,
    root_pem: String,
    log: Arc<Mutex<String>>,
}

impl std::fmt::Debug for Pebble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pebble")
            .field("api", &self.api)
            .field("management", &self.management)
            .finish_non_exhaustive()
    }
}

/// A free TCP port on 127.0.0.1 for a server the test starts later
/// (pebble's listeners, or a listener pebble must connect to).
///
/// Taken below the kernel's ephemeral range (32768 and up on Linux), so
/// that no outgoing connection of this or another process (pebble
/// validating, a database client) can be given the same port as its
/// source port between now and the server's `bind`; a port this process
/// handed out before is never handed out again; and the port is checked
/// to bind now. The walk starts at a point that depends on the process
/// id and the time, so concurrent test processes start apart.
pub fn free_port() -> io::Result<u16> {
    use std::sync::Mutex;
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    const FIRST: u32 = 10_000;
    const SPAN: u32 = 20_000;
    let seed = std::process::id().wrapping_mul(7_919)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for i in 0..SPAN {
        // 7,919 is prime and does not divide SPAN: the walk visits every
        // port of the span once.
        let offset = (seed % SPAN + i.wrapping_mul(7_919)) % SPAN;
        let Ok(port) = u16::try_from(FIRST + offset) else {
            continue;
        };
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            given.push(port);
            return Ok(port);
        }
    }
    // Every port of the span is taken: let the kernel choose.
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn unique_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "test-support-pebble-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

fn keep_output(mut from: impl Read + Send + 'static, log: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let mut l = log.lock().unwrap();
                    if l.len() < MAX_LOG {
                        l.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            }
        }
    });
}

impl Pebble {
    /// Whether `/usr/bin/pebble` is installed.
    pub fn installed() -> bool {
        Path::new(PEBBLE_BINARY).is_file()
    }

    /// [`start`](Self::start) when pebble is installed; otherwise `None`
    /// after printing why, or a panic when `MTASTS_REQUIRE_PEBBLE=1`.
    pub async fn start_or_skip(opts: PebbleOptions) -> io::Result<Option<Self>> {
        if !Self::installed() {
            if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") {
                panic!("{PEBBLE_BINARY} is required ({REQUIRE_ENV}=1): apt-get install pebble");
            }
            eprintln!(
                "NOTE: {PEBBLE_BINARY} is not installed (apt-get install pebble); \
                 this test checks nothing (set {REQUIRE_ENV}=1 to fail instead)"
            );
            return Ok(None);
        }
        Self::start(opts).await.map(Some)
    }

    /// Write the configuration, start pebble and wait until its directory
    /// answers; then fetch the issuing root. Must be called within a
    /// tokio runtime.
    pub async fn start(opts: PebbleOptions) -> io::Result<Self> {
        let dir = unique_dir();
        std::fs::create_dir_all(&dir)?;
        let api_ca = TestCa::new();
        let leaf = api_ca.issue(&["localhost", "127.0.0.1"]);
        let cert_path = dir.join("cert.pem");
        let key_path = dir.join("key.pem");
        std::fs::write(&cert_path, &leaf.cert_pem)?;
        std::fs::write(&key_path, &leaf.key_pem)?;
        std::fs::write(dir.join("ca.pem"), api_ca.ca_pem())?;
        let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        let management = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        let config = format!(
            r#"{{
  "pebble": {{
    "listenAddress": "{api}",
    "managementListenAddress": "{management}",
    "certificate": "{}",
    "privateKey": "{}",
    "httpPort": {},
    "tlsPort": {},
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }}
}}
"#,
            cert_path.display(),
            key_path.display(),
            opts.http_port,
            opts.tls_port
        );
        let config_path = dir.join("pebble-config.json");
        std::fs::write(&config_path, config)?;
        // pebble runs under a small shell that kills it when our end of
        // the shell's stdin closes: on drop, and also when the test
        // process dies without running destructors (an abort).
        let mut child = watchdog::command(PEBBLE_BINARY)
            .arg("-config")
            .arg(&config_path)
            .arg("-dnsserver")
            .arg(opts.dns.to_string())
            .arg("-strict=false")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(out) = child.stdout.take() {
            keep_output(out, log.clone());
        }
        if let Some(err) = child.stderr.take() {
            keep_output(err, log.clone());
        }
        let mut pebble = Self {
            child,
            dir,
            api,
            management,
            api_ca,
            root_pem: String::new(),
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = pebble.child.try_wait() {
                return Err(io::Error::other(format!(
                    "pebble exited with {status}: {}",
                    pebble.log()
                )));
            }
            let dir_ok = matches!(pebble.get(api, "/dir").await, Ok((200, _)));
            if dir_ok && let Ok((200, body)) = pebble.get(management, "/roots/0").await {
                pebble.root_pem = String::from_utf8_lossy(&body).into_owned();
                return Ok(pebble);
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "pebble did not answer within {START_TIMEOUT:?}: {}",
                    pebble.log()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET path` over HTTPS (HTTP/1.0, trusting the API CA): the status
    /// and the body.
    async fn get(&self, addr: SocketAddr, path: &str) -> io::Result<(u16, Vec<u8>)> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(self.api_ca.root_store())
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = ServerName::from(addr.ip());
        let mut tls = connector.connect(name, tcp).await?;
        tls.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut response = Vec::new();
        let read = tls.read_to_end(&mut response).await;
        // Go may close without close_notify; what was read is complete
        // for HTTP/1.0.
        if let Err(e) = read
            && response.is_empty()
        {
            return Err(e);
        }
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| io::Error::other("no end of headers"))?;
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line: {head}")))?;
        Ok((status, response[split + 4..].to_vec()))
    }

    /// The ACME directory URL (`https://127.0.0.1:PORT/dir`).
    pub fn directory_url(&self) -> String {
        format!("https://{}/dir", self.api)
    }

    /// The PEM file of the CA that issued pebble's own HTTPS certificate
    /// (what an ACME client must trust to talk to pebble).
    pub fn api_ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The CA of pebble's own HTTPS certificate.
    pub fn api_ca(&self) -> &TestCa {
        &self.api_ca
    }

    /// The root (PEM) that pebble's issued certificates chain to.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The root that pebble's issued certificates chain to, DER.
    pub fn root_der(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(self.root_pem.as_bytes()).expect("pebble's root PEM")
    }

    /// A `rustls::RootCertStore` holding only [`root_der`](Self::root_der).
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.root_der()).expect("pebble's root");
        roots
    }

    /// Everything pebble printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// How many certificates pebble issued so far (its `Issued
    /// certificate serial ...` lines).
    pub fn issued(&self) -> usize {
        self.log().matches("Issued certificate serial").count()
    }

    /// How many orders pebble created so far (its `Added order ...`
    /// lines).
    pub fn orders(&self) -> usize {
        self.log().matches("Added order").count()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        watchdog::stop(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
