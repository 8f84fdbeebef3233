//! The IMAP input (`mtasts report ingest --imap imaps://user@host/INBOX
//! --password-file FILE [--watch]`): every unprocessed message of a
//! mailbox goes through [`Inbox::ingest`], then is moved to a folder by
//! outcome.
//!
//! # Connection
//!
//! Implicit TLS only (`imaps`, port 993 unless the URL names one): rustls
//! on *ring*, TLS 1.2 and 1.3, the server's name checked against its
//! certificate, trusting [`ImapOptions::roots`] (the system's roots by
//! default; a PEM file with `--imap-root`). `LOGIN` with the user of the
//! URL and the password given (from `--password-file`; never from the
//! URL). Every command is bounded by [`ImapOptions::timeout`]. The client
//! is `async-imap` on tokio.
//!
//! # States
//!
//! The state of a message is where it is, on the server:
//!
//! | where | state |
//! |---|---|
//! | the mailbox of the URL, not flagged `\Deleted` | unprocessed: found by `UID SEARCH UNDELETED` |
//! | the done folder ([`ImapOptions::done_folder`], `TLSRPT-Done`) | stored, or a duplicate of a stored report |
//! | the rejected folder ([`ImapOptions::rejected_folder`], `TLSRPT-Rejected`) | rejected (the reason is logged) |
//!
//! Both folders are created when missing. The `\Seen` flag plays no part
//! (a person may read the mailbox; messages are fetched with
//! `BODY.PEEK[]`, which does not set it). For each unprocessed message,
//! in UID order, in batches of [`ImapOptions::batch`]:
//!
//! 1. `UID FETCH (UID RFC822.SIZE)`: a message over
//!    [`ImapOptions::max_message`] (tlsrpt-core's 64 MiB by default) is
//!    moved to the rejected folder without being downloaded;
//! 2. `UID FETCH (UID BODY.PEEK[])`, then [`Inbox::ingest`];
//! 3. stored or duplicate: moved to the done folder; rejected or too
//!    large: moved to the rejected folder; the store unavailable
//!    ([`IngestError::is_temporary`](super::IngestError::is_temporary)):
//!    left in place, the round stops, and it is retried later (with
//!    `watch` after a back-off, otherwise on the next run:
//!    [`ImapCounts::deferred`]).
//!
//! "Moved" is `UID MOVE` (RFC 6851) when the server offers `MOVE`;
//! otherwise `UID COPY`, `UID STORE +FLAGS.SILENT (\Deleted)` and
//! `UID EXPUNGE` of that UID (RFC 4315 `UIDPLUS`; plain `EXPUNGE` without
//! it, which also removes other messages flagged `\Deleted`).
//!
//! # Crash safety
//!
//! Nothing is deleted before its copy exists. A crash (or a lost
//! connection) after a report is stored but before its message is moved
//! leaves the message unprocessed: it is read again, the store answers
//! duplicate (unique by organization and report id), and it is counted
//! once. Without `MOVE`, a crash between `COPY` and `STORE` can leave a
//! second copy in the done folder; a crash after `STORE` leaves a
//! message flagged `\Deleted`, which is no longer searched (its copy is
//! in the folder already).
//!
//! # Watching
//!
//! With `watch`, after each round the session waits with `IDLE`
//! (RFC 2177) for new mail, ending and re-issuing it every
//! [`ImapOptions::idle_every`] (10 minutes; at most 29 as RFC 2177 asks),
//! which also rescans the mailbox. A server without `IDLE` is polled
//! every [`ImapOptions::poll_every`]. Any connection or protocol error
//! ends the session; a new one is made after a back-off (1 s doubling up
//! to [`ImapOptions::backoff_max`]). It returns when `shutdown` turns
//! true, ending `IDLE` with `DONE` and logging out.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_imap::error::Error as ImapProtoError;
use async_imap::types::UnsolicitedResponse;
use futures_util::TryStreamExt as _;
use policy_fetch::Roots;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::maildir::{stopping, wait_shutdown};
use super::{Inbox, IngestOutcome, Source};

/// The default folder for stored and duplicate reports.
pub const DONE_FOLDER: &str = "TLSRPT-Done";

/// The default folder for rejected messages.
pub const REJECTED_FOLDER: &str = "TLSRPT-Rejected";

/// The default `imaps` port.
pub const IMAPS_PORT: u16 = 993;

/// The largest password file read, in bytes.
pub const MAX_PASSWORD_FILE: u64 = 4096;

/// An `imaps://user@host[:port]/MAILBOX` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// The user name (percent-decoded).
    pub user: String,
    /// The host name or IP address (without brackets).
    pub host: String,
    /// The port (993 by default).
    pub port: u16,
    /// The mailbox (percent-decoded; `INBOX` when the path is empty).
    pub mailbox: String,
}

impl fmt::Display for ImapUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(
            f,
            "imaps://{}@{host}:{}/{}",
            self.user, self.port, self.mailbox
        )
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl std::str::FromStr for ImapUrl {
    type Err = ImapError;

    fn from_str(url: &str) -> Result<Self, ImapError> {
        let bad = |reason: &'static str| ImapError::Url {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("imaps://")
            .ok_or_else(|| bad("only imaps:// (implicit TLS) is supported"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| bad("no user: imaps://USER@HOST/MAILBOX"))?;
        if userinfo.contains(':') {
            return Err(bad(
                "a password in the URL is not accepted: use --password-file",
            ));
        }
        let user = percent_decode(userinfo).ok_or_else(|| bad("bad %-escape in the user"))?;
        if user.is_empty() {
            return Err(bad("empty user"));
        }
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in the host"))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(p.strip_prefix(':').ok_or_else(|| bad("bad port"))?),
                ),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = match port {
            None => IMAPS_PORT,
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
        };
        let mailbox = percent_decode(path).ok_or_else(|| bad("bad %-escape in the mailbox"))?;
        let mailbox = if mailbox.is_empty() {
            "INBOX".to_owned()
        } else {
            mailbox
        };
        check_folder_name(&mailbox)
            .map_err(|_| bad("the mailbox name must be printable ASCII without \" \\ % *"))?;
        Ok(Self {
            user,
            host: host.to_owned(),
            port,
            mailbox,
        })
    }
}

/// Read a password file: its first line, without the line end; at most
/// [`MAX_PASSWORD_FILE`] bytes.
///
/// # Errors
///
/// [`ImapError::PasswordFile`]: unreadable, too large, not UTF-8 or empty.
pub fn read_password_file(path: &Path) -> Result<String, ImapError> {
    let err = |reason: &'static str, source: Option<io::Error>| ImapError::PasswordFile {
        path: path.to_path_buf(),
        reason,
        source,
    };
    let meta = std::fs::metadata(path).map_err(|e| err("cannot read it", Some(e)))?;
    if meta.len() > MAX_PASSWORD_FILE {
        return Err(err("larger than 4096 bytes", None));
    }
    let text = std::fs::read(path).map_err(|e| err("cannot read it", Some(e)))?;
    let text = String::from_utf8(text).map_err(|_| err("not UTF-8", None))?;
    let password = text.lines().next().unwrap_or("").to_owned();
    if password.is_empty() {
        return Err(err("the first line is empty", None));
    }
    Ok(password)
}

/// Settings of [`ingest_imap`].
#[derive(Debug, Clone)]
pub struct ImapOptions {
    /// Where stored and duplicate reports go ([`DONE_FOLDER`]).
    pub done_folder: String,
    /// Where rejected messages go ([`REJECTED_FOLDER`]).
    pub rejected_folder: String,
    /// Trust anchors for the server's certificate (the system's roots by
    /// default).
    pub roots: Roots,
    /// Largest message downloaded, in bytes (tlsrpt-core's
    /// `Limits::default().max_message`, 64 MiB).
    pub max_message: usize,
    /// How many UIDs are sized at a time (256).
    pub batch: usize,
    /// Timeout for each command and for connecting (120 s).
    pub timeout: Duration,
    /// With `watch`: how long one `IDLE` lasts before it is re-issued and
    /// the mailbox rescanned (10 minutes; capped at 29).
    pub idle_every: Duration,
    /// With `watch`, on a server without `IDLE`: how often the mailbox is
    /// rescanned (60 s).
    pub poll_every: Duration,
    /// With `watch`: the longest wait before reconnecting, or before
    /// retrying while the store is unavailable (5 minutes).
    pub backoff_max: Duration,
    /// Use `MOVE` when the server offers it (true); false always uses
    /// `COPY` + `STORE \Deleted` + `EXPUNGE`.
    pub use_move: bool,
}

impl Default for ImapOptions {
    fn default() -> Self {
        Self {
            done_folder: DONE_FOLDER.to_owned(),
            rejected_folder: REJECTED_FOLDER.to_owned(),
            roots: Roots::system(),
            max_message: tlsrpt_core::input::Limits::default().max_message,
            batch: 256,
            timeout: Duration::from_secs(120),
            idle_every: Duration::from_secs(10 * 60),
            poll_every: Duration::from_secs(60),
            backoff_max: Duration::from_secs(5 * 60),
            use_move: true,
        }
    }
}

/// What a run of [`ingest_imap`] did, counted per message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImapCounts {
    /// Stored for the first time (moved to the done folder).
    pub stored: u64,
    /// Already stored (moved to the done folder).
    pub duplicates: u64,
    /// Rejected (moved to the rejected folder).
    pub rejected: u64,
    /// Left in the mailbox because the store was unavailable.
    pub deferred: u64,
}

/// Why [`ingest_imap`] failed (without `watch`; with it, errors are
/// logged and the session is made again).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// The URL is not `imaps://USER@HOST[:PORT]/MAILBOX`.
    #[error("IMAP URL {url}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A folder name is unusable.
    #[error("IMAP folder {name:?}: {reason}")]
    Folder {
        /// The name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The password file cannot be used.
    #[error("password file {}: {reason}", path.display())]
    PasswordFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: &'static str,
        /// The I/O error, if any.
        #[source]
        source: Option<io::Error>,
    },
    /// The TLS client could not be configured.
    #[error("TLS configuration: {0}")]
    Tls(#[source] policy_fetch::FetchError),
    /// The host name is not a valid TLS server name.
    #[error("{0:?} is not a valid server name")]
    ServerName(String),
    /// TCP connect or the TLS handshake failed.
    #[error("connecting to {server}: {source}")]
    Connect {
        /// `host:port`.
        server: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The server refused the login.
    #[error("login as {user} at {server}: {source}")]
    Login {
        /// The user.
        user: String,
        /// `host:port`.
        server: String,
        /// The error.
        #[source]
        source: ImapProtoError,
    },
    /// A command failed (a `NO` or `BAD` reply, a lost connection, an
    /// unparsable reply).
    #[error("{command} at {server}: {source}")]
    Command {
        /// The command, e.g. `UID MOVE`.
        command: &'static str,
        /// `host:port`.
        server: String,
        /// The error.
        #[source]
        source: ImapProtoError,
    },
    /// A command did not complete in time.
    #[error("{command} at {server}: no reply within {after:?}")]
    Timeout {
        /// The command.
        command: &'static str,
        /// `host:port`.
        server: String,
        /// The timeout.
        after: Duration,
    },
}

/// Printable ASCII without the characters that need quoting in a LIST
/// pattern or a quoted string.
fn check_folder_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'%' | b'*'))
    {
        return Err("must be printable ASCII without spaces, \" \\ % *");
    }
    Ok(())
}

fn check_options(url: &ImapUrl, options: &ImapOptions) -> Result<(), ImapError> {
    for name in [&options.done_folder, &options.rejected_folder] {
        check_folder_name(name).map_err(|reason| ImapError::Folder {
            name: name.clone(),
            reason,
        })?;
        if name.eq_ignore_ascii_case(&url.mailbox) {
            return Err(ImapError::Folder {
                name: name.clone(),
                reason: "is the mailbox read: it must be another folder",
            });
        }
    }
    Ok(())
}

type Stream = tokio_rustls::client::TlsStream<TcpStream>;
type Session = async_imap::Session<Stream>;

/// One logged-in session with the mailbox selected.
struct Conn {
    session: Session,
    server: String,
    has_move: bool,
    has_uidplus: bool,
    has_idle: bool,
}

/// Ingest every unprocessed message of the mailbox of `url` (see the
/// module docs); with `watch`, keep going (IDLE) until `shutdown` turns
/// true.
///
/// # Errors
///
/// [`ImapError`]: bad options or roots; without `watch` also any
/// connection, login or command failure (with `watch` these are logged
/// and retried after a back-off).
pub async fn ingest_imap(
    inbox: &Inbox,
    url: &ImapUrl,
    password: &str,
    options: &ImapOptions,
    watch: bool,
    mut shutdown: watch::Receiver<bool>,
) -> Result<ImapCounts, ImapError> {
    check_options(url, options)?;
    let tls = Arc::new(options.roots.client_config().map_err(ImapError::Tls)?);
    let mut counts = ImapCounts::default();
    if !watch {
        let mut conn = Conn::open(url, password, &tls, options).await?;
        conn.round(inbox, url, options, &shutdown, &mut counts)
            .await?;
        conn.logout(options).await;
        return Ok(counts);
    }
    let first = Duration::from_secs(1).min(options.backoff_max);
    let mut backoff = first;
    loop {
        if stopping(&shutdown) {
            return Ok(counts);
        }
        let run = watch_session(
            inbox,
            url,
            password,
            options,
            &tls,
            &mut shutdown,
            &mut counts,
            &mut backoff,
        )
        .await;
        match run {
            Ok(()) => return Ok(counts),
            Err(e) => {
                tracing::warn!(imap = %url, error = %e, retry_in = ?backoff, "IMAP session failed: reconnecting");
                tokio::select! {
                    () = wait_shutdown(&mut shutdown) => return Ok(counts),
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(options.backoff_max);
            }
        }
    }
}

/// One session of the watch loop: rounds and IDLE until shutdown
/// (`Ok`) or an error.
#[allow(clippy::too_many_arguments)]
async fn watch_session(
    inbox: &Inbox,
    url: &ImapUrl,
    password: &str,
    options: &ImapOptions,
    tls: &Arc<rustls::ClientConfig>,
    shutdown: &mut watch::Receiver<bool>,
    counts: &mut ImapCounts,
    backoff: &mut Duration,
) -> Result<(), ImapError> {
    let first = Duration::from_secs(1).min(options.backoff_max);
    let mut conn = Conn::open(url, password, tls, options).await?;
    *backoff = first;
    tracing::info!(imap = %url, idle = conn.has_idle, "watching the mailbox");
    let mut retry = first;
    loop {
        let before = *counts;
        let deferred = conn.round(inbox, url, options, shutdown, counts).await?;
        let handled = *counts != before;
        if stopping(shutdown) {
            conn.logout(options).await;
            return Ok(());
        }
        if deferred {
            tracing::warn!(imap = %url, retry_in = ?retry, "the store is unavailable: messages left in the mailbox");
            tokio::select! {
                () = wait_shutdown(shutdown) => {
                    conn.logout(options).await;
                    return Ok(());
                }
                () = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(options.backoff_max);
            continue;
        }
        retry = first;
        // New mail announced while the round ran, or messages handled
        // (an announcement may have been missed meanwhile): another
        // round first; IDLE only once a round found nothing.
        if conn.pending_news() || handled {
            continue;
        }
        if conn.has_idle {
            let (next, stop) = conn.idle(options, shutdown).await?;
            conn = next;
            if stop {
                conn.logout(options).await;
                return Ok(());
            }
        } else {
            tokio::select! {
                () = wait_shutdown(shutdown) => {
                    conn.logout(options).await;
                    return Ok(());
                }
                () = tokio::time::sleep(options.poll_every) => {}
            }
        }
    }
}

/// Bound a command by the timeout and name its errors.
async fn timed<T>(
    command: &'static str,
    server: &str,
    after: Duration,
    fut: impl Future<Output = Result<T, ImapProtoError>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(after, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(ImapError::Command {
            command,
            server: server.to_owned(),
            source,
        }),
        Err(_) => Err(ImapError::Timeout {
            command,
            server: server.to_owned(),
            after,
        }),
    }
}

/// The UID set `1,5,7` of `uids`.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

enum Ingested {
    Done,
    /// Expunged meanwhile by another client.
    Gone,
    Rejected,
    Deferred,
}

impl Conn {
    /// Connect, TLS, LOGIN, CAPABILITY, create the folders, SELECT.
    async fn open(
        url: &ImapUrl,
        password: &str,
        tls: &Arc<rustls::ClientConfig>,
        options: &ImapOptions,
    ) -> Result<Self, ImapError> {
        let server = if url.host.contains(':') {
            format!("[{}]:{}", url.host, url.port)
        } else {
            format!("{}:{}", url.host, url.port)
        };
        let name = ServerName::try_from(url.host.clone())
            .map_err(|_| ImapError::ServerName(url.host.clone()))?;
        let connect_err = |source| ImapError::Connect {
            server: server.clone(),
            source,
        };
        let connect = async {
            let tcp = TcpStream::connect((url.host.as_str(), url.port)).await?;
            tcp.set_nodelay(true)?;
            tokio_rustls::TlsConnector::from(tls.clone())
                .connect(name, tcp)
                .await
        };
        let stream = match tokio::time::timeout(options.timeout, connect).await {
            Ok(r) => r.map_err(connect_err)?,
            Err(_) => {
                return Err(ImapError::Timeout {
                    command: "connect",
                    server,
                    after: options.timeout,
                });
            }
        };
        let mut client = async_imap::Client::new(stream);
        let greeting = timed("greeting", &server, options.timeout, async {
            client.read_response().await.map_err(ImapProtoError::Io)
        })
        .await?;
        if greeting.is_none() {
            return Err(ImapError::Command {
                command: "greeting",
                server,
                source: ImapProtoError::ConnectionLost,
            });
        }
        let login = tokio::time::timeout(options.timeout, client.login(&url.user, password)).await;
        let mut session = match login {
            Ok(Ok(s)) => s,
            Ok(Err((source, _))) => {
                return Err(ImapError::Login {
                    user: url.user.clone(),
                    server,
                    source,
                });
            }
            Err(_) => {
                return Err(ImapError::Timeout {
                    command: "LOGIN",
                    server,
                    after: options.timeout,
                });
            }
        };
        let caps = timed(
            "CAPABILITY",
            &server,
            options.timeout,
            session.capabilities(),
        )
        .await?;
        let mut conn = Self {
            has_move: caps.has_str("MOVE"),
            has_uidplus: caps.has_str("UIDPLUS"),
            has_idle: caps.has_str("IDLE"),
            session,
            server,
        };
        for folder in [&options.done_folder, &options.rejected_folder] {
            conn.ensure_folder(folder, options).await?;
        }
        timed(
            "SELECT",
            &conn.server,
            options.timeout,
            conn.session.select(&url.mailbox),
        )
        .await?;
        Ok(conn)
    }

    /// Whether `name` exists (`LIST "" "name"`).
    async fn folder_exists(
        &mut self,
        name: &str,
        options: &ImapOptions,
    ) -> Result<bool, ImapError> {
        let pattern = format!("\"{name}\"");
        let names: Vec<_> = timed("LIST", &self.server, options.timeout, async {
            self.session
                .list(Some(""), Some(&pattern))
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        Ok(names.iter().any(|n| n.name() == name))
    }

    /// Create the folder `name` when it is missing.
    async fn ensure_folder(&mut self, name: &str, options: &ImapOptions) -> Result<(), ImapError> {
        if self.folder_exists(name, options).await? {
            return Ok(());
        }
        let created = timed(
            "CREATE",
            &self.server,
            options.timeout,
            self.session.create(name),
        )
        .await;
        match created {
            Ok(()) => {
                tracing::info!(folder = name, "created the IMAP folder");
                Ok(())
            }
            // Another node may have created it meanwhile.
            Err(e) if self.folder_exists(name, options).await? => {
                tracing::debug!(folder = name, error = %e, "the folder appeared meanwhile");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the server announced new messages (`EXISTS`, `RECENT`)
    /// since the last look; drains what it sent.
    fn pending_news(&mut self) -> bool {
        let mut news = false;
        while let Ok(r) = self.session.unsolicited_responses.try_recv() {
            news |= matches!(
                r,
                UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
            );
        }
        news
    }

    /// One pass over the unprocessed messages; returns whether it
    /// stopped because the store was unavailable.
    async fn round(
        &mut self,
        inbox: &Inbox,
        url: &ImapUrl,
        options: &ImapOptions,
        shutdown: &watch::Receiver<bool>,
        counts: &mut ImapCounts,
    ) -> Result<bool, ImapError> {
        let found = timed(
            "UID SEARCH",
            &self.server,
            options.timeout,
            self.session.uid_search("UNDELETED"),
        )
        .await?;
        let mut uids: Vec<u32> = found.into_iter().collect();
        uids.sort_unstable();
        for chunk in uids.chunks(options.batch.max(1)) {
            if stopping(shutdown) {
                return Ok(false);
            }
            let sizes: HashMap<u32, u32> = timed(
                "UID FETCH RFC822.SIZE",
                &self.server,
                options.timeout,
                async {
                    let fetches: Vec<_> = self
                        .session
                        .uid_fetch(uid_set(chunk), "(UID RFC822.SIZE)")
                        .await?
                        .try_collect()
                        .await?;
                    Ok(fetches
                        .iter()
                        .filter_map(|f| Some((f.uid?, f.size?)))
                        .collect())
                },
            )
            .await?;
            for &uid in chunk {
                if stopping(shutdown) {
                    return Ok(false);
                }
                // Gone meanwhile (another reader moved it).
                let Some(&size) = sizes.get(&uid) else {
                    continue;
                };
                let outcome = self.one(inbox, url, options, uid, size).await?;
                match outcome {
                    (Ingested::Done, Some(IngestOutcome::Stored { .. })) => counts.stored += 1,
                    (Ingested::Done, _) => counts.duplicates += 1,
                    (Ingested::Rejected, _) => counts.rejected += 1,
                    (Ingested::Gone, _) => {}
                    (Ingested::Deferred, _) => {
                        counts.deferred += 1;
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// Fetch, ingest and move one message.
    async fn one(
        &mut self,
        inbox: &Inbox,
        url: &ImapUrl,
        options: &ImapOptions,
        uid: u32,
        size: u32,
    ) -> Result<(Ingested, Option<IngestOutcome>), ImapError> {
        let max = options.max_message;
        if usize::try_from(size).map_or(true, |s| s > max) {
            let why = format!("the message has {size} bytes, over the limit of {max}");
            return self.reject(url, options, uid, &why).await;
        }
        let body: Option<Vec<u8>> = timed(
            "UID FETCH BODY.PEEK[]",
            &self.server,
            options.timeout,
            async {
                let fetches: Vec<_> = self
                    .session
                    .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                    .await?
                    .try_collect()
                    .await?;
                Ok(fetches
                    .iter()
                    .find(|f| f.uid == Some(uid))
                    .and_then(|f| f.body())
                    .map(<[u8]>::to_vec))
            },
        )
        .await?;
        let Some(body) = body else {
            return Ok((Ingested::Gone, None));
        };
        if body.len() > max {
            let why = format!(
                "the message has {} bytes, over the limit of {max}",
                body.len()
            );
            return self.reject(url, options, uid, &why).await;
        }
        let source = Source::Imap {
            mailbox: url.mailbox.clone(),
            uid,
        };
        match inbox.ingest(&body, &source).await {
            Ok(outcome) => {
                match &outcome {
                    IngestOutcome::Stored {
                        organization,
                        report_id,
                    } => {
                        tracing::debug!(imap = %url, uid, %organization, %report_id, "stored: moved as processed");
                    }
                    IngestOutcome::Duplicate {
                        organization,
                        report_id,
                    } => {
                        tracing::debug!(imap = %url, uid, %organization, %report_id, "duplicate: moved as processed");
                    }
                }
                self.move_uid(uid, &options.done_folder, options).await?;
                Ok((Ingested::Done, Some(outcome)))
            }
            Err(e) if e.is_temporary() => {
                tracing::warn!(imap = %url, uid, error = %e, "the store is unavailable: left in the mailbox");
                Ok((Ingested::Deferred, None))
            }
            Err(e) => self.reject(url, options, uid, &e.to_string()).await,
        }
    }

    async fn reject(
        &mut self,
        url: &ImapUrl,
        options: &ImapOptions,
        uid: u32,
        why: &str,
    ) -> Result<(Ingested, Option<IngestOutcome>), ImapError> {
        self.move_uid(uid, &options.rejected_folder, options)
            .await?;
        tracing::warn!(imap = %url, uid, moved_to = %options.rejected_folder, reason = %why, "rejected");
        Ok((Ingested::Rejected, None))
    }

    /// `UID MOVE`, or `UID COPY` + `UID STORE \Deleted` + `(UID) EXPUNGE`.
    async fn move_uid(
        &mut self,
        uid: u32,
        folder: &str,
        options: &ImapOptions,
    ) -> Result<(), ImapError> {
        let set = uid.to_string();
        let t = options.timeout;
        if self.has_move && options.use_move {
            return timed(
                "UID MOVE",
                &self.server,
                t,
                self.session.uid_mv(&set, folder),
            )
            .await;
        }
        timed(
            "UID COPY",
            &self.server,
            t,
            self.session.uid_copy(&set, folder),
        )
        .await?;
        timed("UID STORE", &self.server, t, async {
            let s = self
                .session
                .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                .await?;
            let mut s = std::pin::pin!(s);
            while s.try_next().await?.is_some() {}
            Ok(())
        })
        .await?;
        if self.has_uidplus {
            timed("UID EXPUNGE", &self.server, t, async {
                let s = self.session.uid_expunge(&set).await?;
                let mut s = std::pin::pin!(s);
                while s.try_next().await?.is_some() {}
                Ok(())
            })
            .await
        } else {
            timed("EXPUNGE", &self.server, t, async {
                let s = self.session.expunge().await?;
                let mut s = std::pin::pin!(s);
                while s.try_next().await?.is_some() {}
                Ok(())
            })
            .await
        }
    }

    /// `IDLE` until the server announces something, the IDLE period
    /// ends, or shutdown (then `true`); always ends it with `DONE`.
    async fn idle(
        self,
        options: &ImapOptions,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(Self, bool), ImapError> {
        let Self {
            session,
            server,
            has_move,
            has_uidplus,
            has_idle,
        } = self;
        let t = options.timeout;
        let period = options.idle_every.min(Duration::from_secs(29 * 60));
        let mut handle = session.idle();
        timed("IDLE", &server, t, handle.init()).await?;
        let stop = {
            let (wait, interrupt) = handle.wait_with_timeout(period);
            let stop = tokio::select! {
                r = tokio::time::timeout(period, wait) => {
                    match r {
                        Ok(Ok(response)) => {
                            tracing::debug!(?response, "IDLE ended");
                        }
                        Ok(Err(source)) => {
                            return Err(ImapError::Command { command: "IDLE", server, source });
                        }
                        Err(_) => tracing::debug!("IDLE period over: re-issuing it"),
                    }
                    false
                }
                () = wait_shutdown(shutdown) => true,
            };
            drop(interrupt);
            stop
        };
        let session = timed("DONE", &server, t, handle.done()).await?;
        Ok((
            Self {
                session,
                server,
                has_move,
                has_uidplus,
                has_idle,
            },
            stop,
        ))
    }

    /// `LOGOUT`, errors ignored (the work is done).
    async fn logout(mut self, options: &ImapOptions) {
        let _ = tokio::time::timeout(options.timeout, self.session.logout()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u: ImapUrl = "imaps://tlsrpt%40example.com@imap.example.com/Reports"
            .parse()
            .unwrap();
        assert_eq!(
            u,
            ImapUrl {
                user: "tlsrpt@example.com".into(),
                host: "imap.example.com".into(),
                port: 993,
                mailbox: "Reports".into()
            }
        );
        let u: ImapUrl = "imaps://me@127.0.0.1:10993".parse().unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.mailbox.as_str()),
            ("127.0.0.1", 10993, "INBOX")
        );
        let u: ImapUrl = "imaps://me@[::1]:1993/INBOX".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1993));
        assert_eq!(u.to_string(), "imaps://me@[::1]:1993/INBOX");
        for bad in [
            "imap://me@host/INBOX",
            "imaps://host/INBOX",
            "imaps://me:pw@host/INBOX",
            "imaps://me@host:99999/INBOX",
            "imaps://me@/INBOX",
            "imaps://me@host/a%2",
            "imaps://me@host/a*b",
        ] {
            assert!(bad.parse::<ImapUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn folder_names() {
        assert!(check_folder_name("TLSRPT-Done").is_ok());
        assert!(check_folder_name("a b").is_err());
        assert!(check_folder_name("").is_err());
        let url: ImapUrl = "imaps://me@host/TLSRPT-Done".parse().unwrap();
        assert!(
            check_options(
                &url,
                &ImapOptions {
                    roots: Roots::empty(),
                    ..ImapOptions::default()
                }
            )
            .is_err()
        );
    }
}
