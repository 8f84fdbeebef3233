//! Debian's Dovecot (`/usr/sbin/dovecot`, package `dovecot-imapd`) started
//! for one test: an IMAP server with implicit TLS (`imaps`) on a free
//! loopback port, one user with a plain password, and a Maildir the test
//! can also write into directly.
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! use test_support::dovecot::Dovecot;
//! let Some(dovecot) = Dovecot::start_or_skip().await? else {
//!     return Ok(()); // Dovecot is missing or cannot start: the reason was printed
//! };
//! dovecot.append("INBOX", b"Subject: hello\r\n\r\nbody\r\n").await?;
//! assert_eq!(dovecot.count("INBOX").await?, Some(1));
//! # Ok(()) }
//! ```
//!
//! Everything lives in a temporary directory: the configuration
//! (`dovecot.conf`, no `!include` of the system's files, so no system
//! authentication), a `passwd-file` user database, `base_dir`,
//! `state_dir`, the log (`dovecot.log`, [`Dovecot::log`]) and the mail
//! (`mail_location = maildir:DIR/mail/%u/Maildir`). The certificate is
//! issued by a fresh [`TestCa`] for `127.0.0.1` and `localhost`
//! ([`Dovecot::ca_pem`], [`Dovecot::ca_path`]); `ssl = required`.
//!
//! Users: run as a normal user, every Dovecot process runs as that user
//! (`default_internal_user`, `default_login_user` and the mail user).
//! Dovecot refuses to run its login processes or mail access as root, so
//! run as root (as CI is) the login processes run as Debian's `dovenull`,
//! the internal ones as `dovecot`, and the mail is owned by `nobody`;
//! [`Dovecot::deliver`] hands files it writes to that owner.
//!
//! The server runs in the foreground (`dovecot -F`) under a small shell
//! that stops it when its standard input closes: when the value is
//! dropped, and also when the test process dies without dropping it.
//!
//! When Dovecot is not installed or does not start,
//! [`Dovecot::start_or_skip`] prints why and returns `None`, unless
//! `MTASTS_REQUIRE_DOVECOT=1` (as `.ci/run` sets): then it panics.
//!
//! The small IMAP client used by [`Dovecot::append`], [`Dovecot::count`],
//! [`Dovecot::create`] and [`Dovecot::messages`] is this module's own
//! (a few commands over tokio-rustls), independent of any client under
//! test.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::pebble::free_port;
use crate::{TestCa, watchdog};

/// Where Debian's `dovecot-core` package installs the server.
pub const DOVECOT_BINARY: &str = "/usr/sbin/dovecot";

/// The environment variable that turns a missing or failing Dovecot into
/// a test failure.
pub const REQUIRE_ENV: &str = "MTASTS_REQUIRE_DOVECOT";

/// The user every [`Dovecot`] has.
pub const USER: &str = "tlsrpt";

/// That user's password.
pub const PASSWORD: &str = "tlsrpt-test-password";

/// How long [`Dovecot::start`] waits for the server to greet.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one command of the module's own client may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// The largest literal the module's own client reads.
const MAX_LITERAL: usize = 64 << 20;

/// A running Dovecot (see the module docs).
pub struct Dovecot {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
    ca: TestCa,
    mail_owner: Option<(u32, u32)>,
}

impl fmt::Debug for Dovecot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dovecot")
            .field("addr", &self.addr)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn unique_dir() -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "test-support-dovecot-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The name and ids of a user in `/etc/passwd`, by name or by uid.
fn passwd_entry(pred: impl Fn(&str, u32) -> bool) -> Option<(String, u32, u32)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        let (name, uid, gid) = (f.first()?, f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?);
        pred(name, uid).then(|| ((*name).to_owned(), uid, gid))
    })
}

/// The name of a group in `/etc/group`, by gid.
fn group_name(gid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.get(2)?.parse::<u32>().ok()? == gid).then(|| f[0].to_owned())
    })
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Who the Dovecot processes and the mail run as.
struct Users {
    internal_user: String,
    internal_group: String,
    login_user: String,
    mail_uid: u32,
    mail_gid: u32,
    /// `Some` when the mail must be handed to another owner (as root).
    chown: Option<(u32, u32)>,
}

fn users() -> io::Result<Users> {
    let me = std::fs::metadata("/proc/self")?;
    let (uid, gid) = (me.uid(), me.gid());
    if uid == 0 {
        let need = |name: &str| {
            passwd_entry(|n, _| n == name).ok_or_else(|| {
                io::Error::other(format!(
                    "running as root, Dovecot needs the system user {name} (Debian's dovecot-core creates it)"
                ))
            })
        };
        let (internal_user, _, internal_gid) = need("dovecot")?;
        let (login_user, _, _) = need("dovenull")?;
        let (_, mail_uid, mail_gid) = need("nobody")?;
        Ok(Users {
            internal_group: group_name(internal_gid).unwrap_or_else(|| internal_user.clone()),
            internal_user,
            login_user,
            mail_uid,
            mail_gid,
            chown: Some((mail_uid, mail_gid)),
        })
    } else {
        let (name, _, _) = passwd_entry(|_, u| u == uid)
            .ok_or_else(|| io::Error::other(format!("uid {uid} has no entry in /etc/passwd")))?;
        Ok(Users {
            internal_group: group_name(gid).unwrap_or_else(|| name.clone()),
            login_user: name.clone(),
            internal_user: name,
            mail_uid: uid,
            mail_gid: gid,
            chown: None,
        })
    }
}

fn config(dir: &Path, port: u16, users: &Users) -> String {
    let d = dir.display();
    format!(
        r#"# Written by test_support::dovecot for one test.
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = {instance}
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
default_internal_user = {iu}
default_internal_group = {ig}
default_login_user = {lu}
first_valid_uid = {uid}
first_valid_gid = {gid}
ssl = required
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
auth_mechanisms = plain
mail_location = maildir:{d}/mail/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
"#,
        instance = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "test-support-dovecot".into()),
        iu = users.internal_user,
        ig = users.internal_group,
        lu = users.login_user,
        uid = users.mail_uid.min(500),
        gid = users.mail_gid.min(100),
    )
}

impl Dovecot {
    /// Whether `/usr/sbin/dovecot` is installed.
    pub fn installed() -> bool {
        Path::new(DOVECOT_BINARY).is_file()
    }

    /// [`start`](Self::start) when Dovecot is installed and starts;
    /// otherwise `None` after printing why, or a panic when
    /// `MTASTS_REQUIRE_DOVECOT=1`.
    pub async fn start_or_skip() -> io::Result<Option<Self>> {
        let require = std::env::var(REQUIRE_ENV).as_deref() == Ok("1");
        let why = if Self::installed() {
            match Self::start().await {
                Ok(d) => return Ok(Some(d)),
                Err(e) => format!("Dovecot did not start: {e}"),
            }
        } else {
            format!("{DOVECOT_BINARY} is not installed (apt-get install dovecot-imapd)")
        };
        if require {
            panic!("Dovecot is required ({REQUIRE_ENV}=1): {why}");
        }
        eprintln!("NOTE: {why}; this test checks nothing (set {REQUIRE_ENV}=1 to fail instead)");
        Ok(None)
    }

    /// Write the configuration, start Dovecot and wait until it greets
    /// over TLS. Must be called within a tokio runtime.
    pub async fn start() -> io::Result<Self> {
        // The port is picked free and then bound by Dovecot: another
        // process may take it in between, so try a few times.
        let mut last = None;
        for _ in 0..3 {
            match Self::start_once().await {
                Ok(d) => return Ok(d),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("Dovecot did not start")))
    }

    async fn start_once() -> io::Result<Self> {
        let users = users()?;
        let dir = unique_dir();
        std::fs::create_dir_all(dir.join("run"))?;
        std::fs::create_dir_all(dir.join("state"))?;
        let ca = TestCa::new();
        let leaf = ca.issue(&["127.0.0.1", "localhost"]);
        std::fs::write(dir.join("cert.pem"), &leaf.cert_pem)?;
        std::fs::write(dir.join("key.pem"), &leaf.key_pem)?;
        std::fs::write(dir.join("ca.pem"), ca.ca_pem())?;
        let home = dir.join("mail").join(USER);
        let maildir = home.join("Maildir");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub))?;
        }
        if let Some((uid, gid)) = users.chown {
            chown_tree(&dir.join("mail"), uid, gid)?;
        }
        std::fs::write(
            dir.join("users"),
            format!(
                "{USER}:{{PLAIN}}{PASSWORD}:{}:{}::{}::\n",
                users.mail_uid,
                users.mail_gid,
                home.display()
            ),
        )?;
        // Dovecot's unprivileged processes (auth, imap as the mail user)
        // must reach the user database and the mail whatever the umask.
        for (path, mode) in [
            (dir.clone(), 0o755),
            (dir.join("mail"), 0o755),
            (dir.join("users"), 0o644),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let config_path = dir.join("dovecot.conf");
        std::fs::write(&config_path, config(&dir, port, &users))?;
        let out = std::fs::File::create(dir.join("stderr.log"))?;
        let child = watchdog::command(DOVECOT_BINARY)
            .arg("-F")
            .arg("-c")
            .arg(&config_path)
            .current_dir(&dir)
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let mut dovecot = Self {
            child,
            dir,
            addr,
            ca,
            mail_owner: users.chown,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = dovecot.child.try_wait() {
                return Err(io::Error::other(format!(
                    "dovecot exited with {status}: {}",
                    dovecot.log()
                )));
            }
            if let Ok(Ok(mut conn)) =
                tokio::time::timeout(Duration::from_secs(2), Conn::connect(&dovecot)).await
                && conn.logout().await.is_ok()
            {
                return Ok(dovecot);
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "dovecot did not greet on {addr} within {START_TIMEOUT:?}: {}",
                    dovecot.log()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The `imaps` address (127.0.0.1 and a free port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The user name ([`USER`]).
    pub fn user(&self) -> &str {
        USER
    }

    /// The user's password ([`PASSWORD`]).
    pub fn password(&self) -> &str {
        PASSWORD
    }

    /// `imaps://USER@127.0.0.1:PORT/MAILBOX`.
    pub fn url(&self, mailbox: &str) -> String {
        format!("imaps://{USER}@{}/{mailbox}", self.addr)
    }

    /// The user's Maildir (`INBOX`; other folders are Maildir++
    /// subfolders `.NAME` in it).
    pub fn maildir(&self) -> PathBuf {
        self.dir.join("mail").join(USER).join("Maildir")
    }

    /// The CA that issued the server's certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// That CA's certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.ca.ca_pem()
    }

    /// A PEM file holding that CA's certificate.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The temporary directory holding everything (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Dovecot's log and anything it printed.
    pub fn log(&self) -> String {
        let mut log = std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default();
        log.push_str(&std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default());
        log
    }

    /// Deliver `message` straight into the Maildir's `new/` as an MTA
    /// does (written in `tmp/`, then renamed), owned by the mail user;
    /// returns the file's path in `new/`.
    pub fn deliver(&self, message: &[u8]) -> io::Result<PathBuf> {
        static N: AtomicU64 = AtomicU64::new(0);
        let maildir = self.maildir();
        let name = format!(
            "{}.P{}Q{}.test-support",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = maildir.join("tmp").join(&name);
        std::fs::write(&tmp, message)?;
        if let Some((uid, gid)) = self.mail_owner {
            std::os::unix::fs::chown(&tmp, Some(uid), Some(gid))?;
        }
        let new = maildir.join("new").join(&name);
        std::fs::rename(&tmp, &new)?;
        Ok(new)
    }

    /// Disconnect every session of the user (`doveadm kick`), as a
    /// server restart or a network failure would; returns doveadm's
    /// output.
    pub fn kick(&self) -> io::Result<String> {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .arg("kick")
            .arg(USER)
            .stdin(Stdio::null())
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "doveadm kick: {}: {text}",
                out.status
            )));
        }
        Ok(text)
    }

    /// `APPEND` `message` to `mailbox` (created first when missing).
    pub async fn append(&self, mailbox: &str, message: &[u8]) -> io::Result<()> {
        let mut conn = Conn::login(self).await?;
        let _ = conn
            .command(&format!("CREATE {}", quote(mailbox)), None)
            .await?;
        let (ok, text, _) = conn
            .command(&format!("APPEND {} ()", quote(mailbox)), Some(message))
            .await?;
        if !ok {
            return Err(io::Error::other(format!("APPEND to {mailbox}: {text}")));
        }
        conn.logout().await
    }

    /// `CREATE mailbox`; `Ok(false)` when the server refused (for
    /// example because it exists).
    pub async fn create(&self, mailbox: &str) -> io::Result<bool> {
        let mut conn = Conn::login(self).await?;
        let (ok, _, _) = conn
            .command(&format!("CREATE {}", quote(mailbox)), None)
            .await?;
        conn.logout().await?;
        Ok(ok)
    }

    /// How many messages `mailbox` holds (`STATUS ... (MESSAGES)`), or
    /// `None` when it does not exist.
    pub async fn count(&self, mailbox: &str) -> io::Result<Option<u32>> {
        let mut conn = Conn::login(self).await?;
        let (ok, _, untagged) = conn
            .command(&format!("STATUS {} (MESSAGES)", quote(mailbox)), None)
            .await?;
        conn.logout().await?;
        if !ok {
            return Ok(None);
        }
        let n = untagged.iter().find_map(|(line, _)| {
            let rest = line.split("(MESSAGES ").nth(1)?;
            rest.split(')').next()?.trim().parse().ok()
        });
        n.map(Some).ok_or_else(|| {
            io::Error::other(format!("no MESSAGES in the STATUS reply: {untagged:?}"))
        })
    }

    /// The messages of `mailbox` in UID order: their flags (the
    /// `FLAGS (...)` text) and bytes. Reading does not set `\Seen`.
    pub async fn messages(&self, mailbox: &str) -> io::Result<Vec<(String, Vec<u8>)>> {
        let mut conn = Conn::login(self).await?;
        let (ok, text, _) = conn
            .command(&format!("EXAMINE {}", quote(mailbox)), None)
            .await?;
        if !ok {
            return Err(io::Error::other(format!("EXAMINE {mailbox}: {text}")));
        }
        let (ok, text, untagged) = conn
            .command("UID FETCH 1:* (FLAGS BODY.PEEK[])", None)
            .await?;
        conn.logout().await?;
        if !ok {
            return Err(io::Error::other(format!("FETCH in {mailbox}: {text}")));
        }
        Ok(untagged
            .into_iter()
            .filter(|(line, _)| line.contains(" FETCH "))
            .map(|(line, literal)| {
                let flags = line
                    .split("FLAGS (")
                    .nth(1)
                    .and_then(|r| r.split(')').next())
                    .unwrap_or("")
                    .to_owned();
                (flags, literal.unwrap_or_default())
            })
            .collect())
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        watchdog::stop(&mut self.child);
        // The master removes its pid file on exit; wait for that so the
        // directory can go.
        let pid = self.dir.join("run").join("master.pid");
        let deadline = Instant::now() + Duration::from_secs(5);
        while pid.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An IMAP quoted string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// An untagged response line and the literal it carried, if any.
type Untagged = (String, Option<Vec<u8>>);

/// The module's own minimal IMAP client.
struct Conn {
    stream: BufReader<Tls>,
    tag: u32,
}

impl Conn {
    async fn connect(d: &Dovecot) -> io::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_root_certificates(d.ca.root_store())
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(d.addr).await?;
        let tls = connector
            .connect(ServerName::from(d.addr.ip()), tcp)
            .await?;
        let mut conn = Self {
            stream: BufReader::new(tls),
            tag: 0,
        };
        let greeting = conn.line().await?;
        if !greeting.starts_with("* OK") {
            return Err(io::Error::other(format!("greeting: {greeting}")));
        }
        Ok(conn)
    }

    async fn login(d: &Dovecot) -> io::Result<Self> {
        let mut conn = Self::connect(d).await?;
        let (ok, text, _) = conn
            .command(&format!("LOGIN {} {}", quote(USER), quote(PASSWORD)), None)
            .await?;
        if !ok {
            return Err(io::Error::other(format!("LOGIN: {text}")));
        }
        Ok(conn)
    }

    async fn logout(&mut self) -> io::Result<()> {
        self.command("LOGOUT", None).await.map(drop)
    }

    async fn line(&mut self) -> io::Result<String> {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(COMMAND_TIMEOUT, self.stream.read_until(b'\n', &mut buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "IMAP server too slow"))??;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "IMAP connection closed",
            ));
        }
        Ok(String::from_utf8_lossy(&buf).trim_end().to_owned())
    }

    /// Send `command` (with `literal` appended as a synchronizing
    /// literal); return whether the tagged reply was OK, its text, and
    /// the untagged replies.
    async fn command(
        &mut self,
        command: &str,
        literal: Option<&[u8]>,
    ) -> io::Result<(bool, String, Vec<Untagged>)> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        let stream = self.stream.get_mut();
        match literal {
            None => {
                stream
                    .write_all(format!("{tag} {command}\r\n").as_bytes())
                    .await?
            }
            Some(bytes) => {
                stream
                    .write_all(format!("{tag} {command} {{{}}}\r\n", bytes.len()).as_bytes())
                    .await?;
                stream.flush().await?;
                let go = self.line().await?;
                if !go.starts_with('+') {
                    return Ok((false, go, Vec::new()));
                }
                let stream = self.stream.get_mut();
                stream.write_all(bytes).await?;
                stream.write_all(b"\r\n").await?;
            }
        }
        self.stream.get_mut().flush().await?;
        let mut untagged = Vec::new();
        loop {
            let line = self.line().await?;
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return Ok((rest.starts_with("OK"), rest.to_owned(), untagged));
            }
            // A literal ends the line as `{N}`: read N bytes, then the
            // rest of the response.
            let size = line
                .strip_suffix('}')
                .and_then(|l| l.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok());
            match size {
                Some(n) if n <= MAX_LITERAL => {
                    let mut bytes = vec![0; n];
                    tokio::time::timeout(COMMAND_TIMEOUT, self.stream.read_exact(&mut bytes))
                        .await
                        .map_err(|_| {
                            io::Error::new(io::ErrorKind::TimedOut, "IMAP server too slow")
                        })??;
                    let tail = self.line().await?;
                    untagged.push((format!("{line}{tail}"), Some(bytes)));
                }
                Some(n) => {
                    return Err(io::Error::other(format!(
                        "literal of {n} bytes is too large"
                    )));
                }
                None => untagged.push((line, None)),
            }
        }
    }
}
