//! A minimal SMTP server with STARTTLS on 127.0.0.1, for MX probes.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::tls::{self, CertSet};

/// Longest command line accepted (RFC 5321 says 512 octets; be lenient).
const MAX_LINE: usize = 4096;

/// How an [`SmtpServer`] behaves.
#[derive(Debug, Clone)]
pub struct SmtpOptions {
    /// Name used in the 220 banner and the first line of the EHLO reply.
    pub hostname: String,
    /// Certificates for STARTTLS (chosen by SNI, default when absent/unknown).
    /// `None`: a STARTTLS command is answered `454 4.7.0 TLS not available`.
    pub starttls: Option<CertSet>,
    /// Whether EHLO (before TLS) lists `STARTTLS`. Setting this with `starttls: None`
    /// gives an advertised-but-broken server.
    pub advertise_starttls: bool,
    /// How long each connection waits before its 220 greeting (none by
    /// default): keeps sessions open long enough for concurrency tests.
    pub greeting_delay: Option<Duration>,
}

impl SmtpOptions {
    /// A server named `hostname` without STARTTLS.
    pub fn plain(hostname: &str) -> Self {
        Self {
            hostname: hostname.to_owned(),
            starttls: None,
            advertise_starttls: false,
            greeting_delay: None,
        }
    }

    /// A server named `hostname` that advertises and supports STARTTLS with `certs`
    /// (a [`crate::Leaf`], `&Leaf` or a [`CertSet`]).
    pub fn starttls(hostname: &str, certs: impl Into<CertSet>) -> Self {
        Self {
            hostname: hostname.to_owned(),
            starttls: Some(certs.into()),
            advertise_starttls: true,
            greeting_delay: None,
        }
    }

    /// The same server, waiting `delay` before each 220 greeting.
    pub fn with_greeting_delay(mut self, delay: Duration) -> Self {
        self.greeting_delay = Some(delay);
        self
    }
}

/// What happened on one SMTP connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmtpSession {
    /// SNI of the STARTTLS ClientHello (`None` if none was sent or TLS never started).
    pub sni: Option<String>,
    /// Whether a STARTTLS handshake completed.
    pub tls: bool,
    /// Command lines received, in order, without the CRLF (before and after TLS).
    pub commands: Vec<String>,
}

/// An SMTP server on 127.0.0.1 (random port) speaking just enough ESMTP for an MX
/// STARTTLS probe: 220 banner, EHLO/HELO, STARTTLS, NOOP, RSET, QUIT (221); anything
/// else gets 502. One task per connection. It runs until dropped.
pub struct SmtpServer {
    addr: SocketAddr,
    sessions: Arc<Mutex<Vec<SmtpSession>>>,
    open: Arc<OpenCount>,
    task: JoinHandle<()>,
}

/// Connections open now, and the most open at once.
#[derive(Debug, Default)]
struct OpenCount {
    now: AtomicUsize,
    max: AtomicUsize,
}

/// One open connection; closing it (drop) counts it out.
struct OpenGuard(Arc<OpenCount>);

impl OpenGuard {
    fn new(count: Arc<OpenCount>) -> Self {
        let now = count.now.fetch_add(1, Ordering::SeqCst) + 1;
        count.max.fetch_max(now, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SmtpServer {
    /// Starts the server. Must be called within a tokio runtime.
    pub async fn start(opts: SmtpOptions) -> io::Result<Self> {
        let config = opts
            .starttls
            .as_ref()
            .map(CertSet::server_config)
            .transpose()?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(OpenCount::default());
        let shared = Arc::new(Shared {
            hostname: opts.hostname,
            advertise_starttls: opts.advertise_starttls,
            greeting_delay: opts.greeting_delay,
            config,
            sessions: sessions.clone(),
        });
        let counter = open.clone();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let Ok((tcp, _peer)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                let guard = OpenGuard::new(counter.clone());
                conns.spawn(async move {
                    let _ = shared.session(tcp).await;
                    drop(guard);
                });
                while conns.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            addr,
            sessions,
            open,
            task,
        })
    }

    /// The address (127.0.0.1:port) to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// All sessions so far (including ones still open), in connection order.
    pub fn sessions(&self) -> Vec<SmtpSession> {
        self.sessions.lock().unwrap().clone()
    }

    /// The most connections that were open at the same time so far.
    pub fn max_concurrent(&self) -> usize {
        self.open.max.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    hostname: String,
    advertise_starttls: bool,
    greeting_delay: Option<Duration>,
    config: Option<Arc<ServerConfig>>,
    sessions: Arc<Mutex<Vec<SmtpSession>>>,
}

enum Outcome {
    Quit,
    StartTls,
}

impl Shared {
    fn update(&self, idx: usize, f: impl FnOnce(&mut SmtpSession)) {
        f(&mut self.sessions.lock().unwrap()[idx]);
    }

    async fn session(&self, tcp: TcpStream) -> io::Result<()> {
        let idx = {
            let mut sessions = self.sessions.lock().unwrap();
            sessions.push(SmtpSession::default());
            sessions.len() - 1
        };
        if let Some(d) = self.greeting_delay {
            tokio::time::sleep(d).await;
        }
        let mut plain = BufReader::new(tcp);
        plain
            .get_mut()
            .write_all(format!("220 {} ESMTP test-support\r\n", self.hostname).as_bytes())
            .await?;
        match self.dialogue(&mut plain, idx, false).await? {
            Outcome::Quit => return Ok(()),
            Outcome::StartTls => {}
        }
        // Anything the client pipelined after STARTTLS is discarded with the buffer.
        let tcp = plain.into_inner();
        let config = self.config.clone().expect("StartTls only with a config");
        let stream = tls::accept(tcp, config, |sni| self.update(idx, |s| s.sni = sni)).await?;
        self.update(idx, |s| s.tls = true);
        let mut secure = BufReader::new(stream);
        self.dialogue(&mut secure, idx, true).await?;
        Ok(())
    }

    async fn dialogue<S>(
        &self,
        conn: &mut BufReader<S>,
        idx: usize,
        in_tls: bool,
    ) -> io::Result<Outcome>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut *conn)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)
                .await?;
            if n == 0 {
                return Ok(Outcome::Quit);
            }
            let text = String::from_utf8_lossy(&line)
                .trim_end_matches(['\r', '\n'])
                .to_owned();
            self.update(idx, |s| s.commands.push(text.clone()));
            let verb = text
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply = match verb.as_str() {
                "EHLO" => {
                    let mut lines = vec![self.hostname.clone(), "PIPELINING".into()];
                    lines.push("8BITMIME".into());
                    if self.advertise_starttls && !in_tls {
                        lines.push("STARTTLS".into());
                    }
                    let last = lines.len() - 1;
                    lines
                        .iter()
                        .enumerate()
                        .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
                        .collect()
                }
                "HELO" => format!("250 {}\r\n", self.hostname),
                "NOOP" | "RSET" => "250 2.0.0 OK\r\n".to_owned(),
                "QUIT" => {
                    conn.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
                    conn.get_mut().shutdown().await.ok();
                    return Ok(Outcome::Quit);
                }
                "STARTTLS" if in_tls => "503 5.5.1 TLS already active\r\n".to_owned(),
                "STARTTLS" if self.config.is_some() => {
                    conn.get_mut()
                        .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                        .await?;
                    conn.get_mut().flush().await?;
                    return Ok(Outcome::StartTls);
                }
                "STARTTLS" => "454 4.7.0 TLS not available\r\n".to_owned(),
                _ => "502 5.5.2 Command not implemented\r\n".to_owned(),
            };
            conn.get_mut().write_all(reply.as_bytes()).await?;
            conn.get_mut().flush().await?;
        }
    }
}
