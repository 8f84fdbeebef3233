//! A minimal SMTP server with STARTTLS on 127.0.0.1, for MX probes and for
//! receiving mail (a relay or a receiving MX in delivery tests).

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

/// Longest line of message data read at once (RFC 5321 says 1000 octets).
const MAX_DATA_LINE: usize = 64 * 1024;

/// Largest message accepted by `DATA`; a larger one is answered
/// `552 5.3.4` and not recorded.
pub const MAX_MESSAGE: usize = 32 * 1024 * 1024;

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
    /// Replies to `RCPT TO` for particular addresses (compared without case),
    /// e.g. `("full@example.test", "452 4.2.2 Mailbox full")`; every other
    /// recipient is accepted with 250.
    pub rcpt_replies: Vec<(String, String)>,
    /// `AUTH PLAIN` credentials (user name, password): when set, EHLO offers
    /// `AUTH PLAIN` (after STARTTLS when the server has certificates) and
    /// `MAIL` is refused (530) until the client has authenticated.
    pub auth: Option<(String, String)>,
}

impl SmtpOptions {
    /// A server named `hostname` without STARTTLS.
    pub fn plain(hostname: &str) -> Self {
        Self {
            hostname: hostname.to_owned(),
            starttls: None,
            advertise_starttls: false,
            greeting_delay: None,
            rcpt_replies: Vec::new(),
            auth: None,
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
            rcpt_replies: Vec::new(),
            auth: None,
        }
    }

    /// The same server, waiting `delay` before each 220 greeting.
    pub fn with_greeting_delay(mut self, delay: Duration) -> Self {
        self.greeting_delay = Some(delay);
        self
    }

    /// The same server, answering `RCPT TO:<address>` with `reply` (a full
    /// reply line without CRLF, such as `550 5.1.1 No such user`).
    pub fn with_rcpt_reply(mut self, address: &str, reply: &str) -> Self {
        self.rcpt_replies
            .push((address.to_owned(), reply.to_owned()));
        self
    }

    /// The same server, requiring `AUTH PLAIN` with `user` and `password`
    /// before `MAIL`.
    pub fn with_auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_owned(), password.to_owned()));
        self
    }
}

/// A message received through `MAIL`, `RCPT` and `DATA`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// Index of the session (in [`SmtpServer::sessions`]) that carried it.
    pub session: usize,
    /// The `MAIL FROM` address, without the angle brackets.
    pub mail_from: String,
    /// The accepted `RCPT TO` addresses, without the angle brackets, in order.
    pub rcpt_to: Vec<String>,
    /// The message as received, dot-unstuffed, without the final `.` line
    /// (CRLF line ends as the client sent them).
    pub data: Vec<u8>,
    /// Whether it came over TLS (after STARTTLS).
    pub tls: bool,
    /// The user name the client authenticated as, if it did.
    pub auth_user: Option<String>,
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
/// STARTTLS probe and for receiving mail: 220 banner, EHLO/HELO, STARTTLS, AUTH PLAIN
/// (when configured), MAIL, RCPT, DATA, NOOP, RSET, QUIT (221); anything else gets
/// 502. Messages are recorded ([`SmtpServer::messages`]), never relayed. One task per
/// connection. It runs until dropped.
pub struct SmtpServer {
    addr: SocketAddr,
    sessions: Arc<Mutex<Vec<SmtpSession>>>,
    messages: Arc<Mutex<Vec<ReceivedMessage>>>,
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
        let messages = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(OpenCount::default());
        let shared = Arc::new(Shared {
            hostname: opts.hostname,
            advertise_starttls: opts.advertise_starttls,
            greeting_delay: opts.greeting_delay,
            rcpt_replies: opts.rcpt_replies,
            auth: opts.auth,
            config,
            sessions: sessions.clone(),
            messages: messages.clone(),
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
            messages,
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

    /// Every message received so far, in the order their `DATA` ended.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.messages.lock().unwrap().clone()
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
    rcpt_replies: Vec<(String, String)>,
    auth: Option<(String, String)>,
    config: Option<Arc<ServerConfig>>,
    sessions: Arc<Mutex<Vec<SmtpSession>>>,
    messages: Arc<Mutex<Vec<ReceivedMessage>>>,
}

/// The mail transaction of one dialogue (reset by STARTTLS, RSET and the end of DATA).
#[derive(Default)]
struct Transaction {
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

/// The address between `<` and `>` after `MAIL FROM:` / `RCPT TO:` (`prefix`,
/// compared without case); `None` when the command is malformed.
fn path_arg(line: &str, prefix: &str) -> Option<String> {
    let head = line.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = line[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

/// Standard base64 (RFC 4648) without line breaks; `None` when invalid.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
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
        let mut tx = Transaction::default();
        let mut auth_user: Option<String> = None;
        // AUTH PLAIN without an initial response: the next line is the credentials.
        let mut awaiting_credentials = false;
        loop {
            line.clear();
            let n = (&mut *conn)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)
                .await?;
            if n == 0 {
                return Ok(Outcome::Quit);
            }
            if awaiting_credentials {
                awaiting_credentials = false;
                let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                self.update(idx, |s| s.commands.push(text.clone()));
                let reply = self.check_plain(&text, &mut auth_user);
                conn.get_mut().write_all(reply.as_bytes()).await?;
                conn.get_mut().flush().await?;
                continue;
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
                    tx = Transaction::default();
                    let mut lines = vec![self.hostname.clone(), "PIPELINING".into()];
                    lines.push("8BITMIME".into());
                    if self.advertise_starttls && !in_tls {
                        lines.push("STARTTLS".into());
                    }
                    if self.auth.is_some() && (in_tls || self.config.is_none()) {
                        lines.push("AUTH PLAIN".into());
                    }
                    let last = lines.len() - 1;
                    lines
                        .iter()
                        .enumerate()
                        .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
                        .collect()
                }
                "HELO" => format!("250 {}\r\n", self.hostname),
                "NOOP" => "250 2.0.0 OK\r\n".to_owned(),
                "RSET" => {
                    tx = Transaction::default();
                    "250 2.0.0 OK\r\n".to_owned()
                }
                "AUTH" if self.auth.is_none() => "502 5.5.1 AUTH not available\r\n".to_owned(),
                "AUTH" => {
                    let mut words = text.split_whitespace().skip(1);
                    let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
                    match (mechanism.as_str(), words.next()) {
                        ("PLAIN", Some(initial)) => self.check_plain(initial, &mut auth_user),
                        ("PLAIN", None) => {
                            awaiting_credentials = true;
                            "334 \r\n".to_owned()
                        }
                        _ => "504 5.5.4 Unrecognized authentication type\r\n".to_owned(),
                    }
                }
                "MAIL" if self.auth.is_some() && auth_user.is_none() => {
                    "530 5.7.0 Authentication required\r\n".to_owned()
                }
                "MAIL" => match path_arg(&text, "MAIL FROM:") {
                    Some(from) => {
                        tx = Transaction {
                            mail_from: Some(from),
                            rcpt_to: Vec::new(),
                        };
                        "250 2.1.0 OK\r\n".to_owned()
                    }
                    None => "501 5.5.4 Syntax: MAIL FROM:<address>\r\n".to_owned(),
                },
                "RCPT" if tx.mail_from.is_none() => "503 5.5.1 MAIL first\r\n".to_owned(),
                "RCPT" => match path_arg(&text, "RCPT TO:") {
                    Some(to) => {
                        let canned = self
                            .rcpt_replies
                            .iter()
                            .find(|(a, _)| a.eq_ignore_ascii_case(&to));
                        match canned {
                            Some((_, reply)) => format!("{reply}\r\n"),
                            None => {
                                tx.rcpt_to.push(to);
                                "250 2.1.5 OK\r\n".to_owned()
                            }
                        }
                    }
                    None => "501 5.5.4 Syntax: RCPT TO:<address>\r\n".to_owned(),
                },
                "DATA" if tx.rcpt_to.is_empty() => "503 5.5.1 RCPT first\r\n".to_owned(),
                "DATA" => {
                    conn.get_mut()
                        .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    conn.get_mut().flush().await?;
                    let Some(data) = read_data(conn).await? else {
                        return Ok(Outcome::Quit);
                    };
                    let tx = std::mem::take(&mut tx);
                    if data.len() > MAX_MESSAGE {
                        "552 5.3.4 Message too big\r\n".to_owned()
                    } else {
                        let mut messages = self.messages.lock().unwrap();
                        messages.push(ReceivedMessage {
                            session: idx,
                            mail_from: tx.mail_from.unwrap_or_default(),
                            rcpt_to: tx.rcpt_to,
                            data,
                            tls: in_tls,
                            auth_user: auth_user.clone(),
                        });
                        format!("250 2.0.0 OK queued as {}\r\n", messages.len())
                    }
                }
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

impl Shared {
    /// Checks `AUTH PLAIN` credentials (base64 of `authzid NUL user NUL password`)
    /// and returns the reply; on success `auth_user` is set.
    fn check_plain(&self, b64: &str, auth_user: &mut Option<String>) -> String {
        let Some((user, password)) = &self.auth else {
            return "502 5.5.1 AUTH not available\r\n".to_owned();
        };
        let decoded = base64_decode(b64.trim()).unwrap_or_default();
        let mut parts = decoded.split(|&b| b == 0);
        let (_authzid, u, p) = (parts.next(), parts.next(), parts.next());
        if u == Some(user.as_bytes()) && p == Some(password.as_bytes()) && parts.next().is_none() {
            *auth_user = Some(user.clone());
            "235 2.7.0 Authentication successful\r\n".to_owned()
        } else {
            "535 5.7.8 Authentication credentials invalid\r\n".to_owned()
        }
    }
}

/// Reads message data up to the `.` line, dot-unstuffing; `None` when the
/// connection closes first. More than [`MAX_MESSAGE`] bytes are read to the end
/// but not kept (the result is then one byte longer than the limit).
async fn read_data<S>(conn: &mut BufReader<S>) -> io::Result<Option<Vec<u8>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut *conn)
            .take(MAX_DATA_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(None);
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some(data));
        }
        let content = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() + content.len() <= MAX_MESSAGE {
            data.extend_from_slice(content);
        } else {
            data.resize(MAX_MESSAGE + 1, 0);
        }
    }
}

/// A client's side: one SMTP reply read from `r`, its lines without the
/// CRLF (panics, as a test helper, on a line not ending in CRLF or a read
/// error).
pub async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.expect("reading an SMTP reply");
        assert!(line.ends_with("\r\n"), "{line:?}");
        let line = line.trim_end().to_owned();
        let done = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if done {
            return lines;
        }
    }
}
