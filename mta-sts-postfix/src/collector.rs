//! The TLS-RPT datagram collector: what `mtasts tlsrpt collect` runs.
//!
//! Postfix 3.10+ (through libtlsrpt) sends one JSON datagram per TLS
//! delivery attempt to an AF_UNIX datagram socket, without waiting for an
//! answer: when the socket's queue is full the datagram is lost. The
//! collector therefore keeps receiving apart from everything that can
//! wait for the disk:
//!
//! ```text
//!  AF_UNIX datagram socket
//!        │ recv()                       receiver thread: nothing else
//!        ▼
//!  in-memory batch (raw datagrams, each stamped with the UTC day it came in)
//!        │ every 50 ms or 4096 datagrams
//!        ▼                              writer thread (lower priority):
//!  journal/<seq>.log  ── write + fdatasync: now "acknowledged"
//!        │
//!        ▼ decode (tlsrpt_core::datagram), record
//!  DayAggregate per open UTC day
//!        │ checkpoint: every minute, when the journal grows, at shutdown
//!        ▼
//!  journal/state (open days + how much of the journal they hold),
//!  partials/<node>/<day>.json, final at the end of the day + grace
//! ```
//!
//! # Durability
//!
//! A datagram is *acknowledged* once the batch holding it is in the
//! journal and fsync'd ([`CollectorStats::journaled`]). The journal is a
//! sequence of records, each a length, a CRC-32 and a batch of raw
//! datagrams, appended to `journal/<seq>.log`. The aggregates are
//! rebuilt from what is journaled: on start the last checkpoint
//! (`journal/state`, written atomically) is loaded and the journal
//! segments after it replayed (the socket is bound and received from
//! already; what arrives meanwhile waits in memory). Nothing acknowledged
//! is lost when the process is killed (even with SIGKILL) or crashes, and
//! nothing is counted twice: a checkpoint names the last segment it
//! holds, and segments are deleted only after the checkpoint that holds
//! them is on disk. A failed checkpoint (a full disk) is logged and tried
//! again 10 seconds later; the journal keeps everything meanwhile.
//!
//! What is at risk: datagrams received but not yet journaled (at most one
//! batch interval, 50 ms by default, plus the time an fsync takes) when
//! the process dies, and, on power loss, whatever the disk had not
//! really written although fsync returned (a disk that lies about its
//! write cache). A record torn by a crash or power loss is recognised by
//! its length and CRC at start: it and anything after it in its segment
//! are dropped, with a warning naming the bytes left out. Datagrams
//! still in the kernel's socket queue at a crash are lost too;
//! on a graceful stop (SIGTERM, [`CollectorHandle::shutdown`]) the socket
//! file is removed first, the queue drained, and everything journaled and
//! checkpointed before the process exits.
//!
//! # Days
//!
//! Datagrams carry no time: each counts to the UTC day it was received
//! in ([`Clock`]). A day stays open during [`CollectorConfig::grace`]
//! (5 minutes) after it ended, so that what was received before midnight
//! but is still in a batch, or is replayed after a restart, still counts
//! to it; then its partial is written a last time and marked final
//! (`<day>.final`). A datagram stamped with a day that is already final
//! (the clock was set back) reopens that day from its final partial
//! ([`CollectorStats::late`]) and the day is written again. At most
//! [`MAX_OPEN_DAYS`] days are open at once; beyond that, the oldest are
//! finished early at the next checkpoint.
//!
//! # Keeping up
//!
//! The receiver blocks in `recv` when the queue is empty and does nothing
//! but copy each datagram into the batch. The writer runs 10 `nice`
//! steps lower (Linux applies `nice` per thread) and gives up the CPU
//! every 200 µs while it records, between journal records (a batch is
//! written as records of at most 256 KiB), between the days it
//! serializes at a checkpoint and while it removes an old journal segment
//! (in steps of 8 MiB); it drops the journal's pages from the page cache
//! once they are fsync'd. So the receiver is not kept off the CPU for
//! long when both share one. Identical datagrams (every successful
//! session to the same domain under the same policy sends the same
//! bytes) are decoded once and then found by their bytes.
//!
//! # Garbage
//!
//! A datagram that does not decode (see [`tlsrpt_core::datagram`]) or
//! cannot be recorded is counted by its error code
//! ([`CollectorStats::garbage_by_code`]: `too-large`, `json`, `missing`,
//! `count`, `invalid`, `aggregate`) and logged, at most one warning per
//! code every 10 seconds with the number suppressed in between. Datagrams
//! accepted with a deviation are counted by warning code
//! ([`CollectorStats::warnings_by_code`]).
//!
//! # Bounds
//!
//! | what | bound |
//! |---|---|
//! | one datagram | [`DatagramLimits::max_bytes`] (64 KiB); larger ones are garbage `too-large`, never journaled |
//! | datagrams received but not yet journaled | [`CollectorConfig::max_pending_bytes`] (64 MiB); beyond, datagrams are dropped and counted ([`CollectorStats::dropped`]) |
//! | one journal segment | [`CollectorConfig::max_journal_bytes`] (256 MiB): a checkpoint starts a new one |
//! | memory per day | [`CollectorConfig::aggregate_limits`] ([`AggregateLimits`]) |
//! | open days | [`MAX_OPEN_DAYS`] |
//!
//! # Logging
//!
//! Through [`tracing`] (target `mta_sts_postfix::collector`): `info`
//! when collecting starts (`collecting`, with the socket, state
//! directory, node and what was replayed), when a day is final, and a
//! `collector stats` line every [`CollectorConfig::stats_interval`] when
//! anything changed; `debug` for every journaled batch (`journaled`,
//! with `datagrams` and the running total `journaled`) and every
//! checkpoint (`checkpoint`, with `covered`, the last journal segment it
//! holds, `days`, and the microseconds spent: `json_us` serializing,
//! `written_us` up to the partials written, `total_us` with the old
//! segments removed); `warn` for garbage (rate-limited), drops, torn
//! journal records and late datagrams; `error` for failing disk writes
//! (retried).
//!
//! ```no_run
//! use mta_sts_postfix::collector::{Collector, CollectorConfig};
//! let handle = Collector::start(CollectorConfig::new(
//!     "/var/spool/postfix/run/tlsrpt/tlsrpt.sock",
//!     "/var/lib/mtasts/tlsrpt",
//! ))?;
//! // ... until SIGTERM:
//! let stats = handle.shutdown()?;
//! println!("{} datagrams journaled", stats.journaled);
//! # Ok::<(), mta_sts_postfix::collector::CollectorError>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Write as _};
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mta_sts_core::display::escape_controls;
use serde::Serialize;
use tlsrpt_core::datagram::{self, DatagramError, DatagramLimits};
use tlsrpt_core::session::{AggregateLimits, DayAggregate, Recorded, UtcDay};
use tracing::{debug, error, info, warn};

use crate::tlsrpt_state::{StateDir, StateError, write_atomic};

/// Most UTC days open at once (the current one, the one in its grace
/// period, and room for a clock that jumps); see the module
/// documentation.
pub const MAX_OPEN_DAYS: usize = 4;

/// The magic number that starts every journal record.
const RECORD_MAGIC: [u8; 4] = *b"TRJ1";
/// Record header: magic, payload length (u32 LE), CRC-32 of the payload.
const RECORD_HEADER: usize = 12;
/// Largest journal record (unless one datagram is larger): a batch is
/// written as several.
const MAX_RECORD: usize = 256 * 1024;
/// Entry header inside a record: datagram length and day number (u32 LE).
const ENTRY_HEADER: usize = 8;
/// The first line of `journal/state`.
const STATE_FORMAT: &str = "mtasts-tlsrpt-collector-state";
/// Its version.
const STATE_VERSION: u64 = 1;
/// How often garbage of one code is logged, at most.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// How long the receiver waits in `recv` before it looks at the stop
/// flag.
const RECV_TIMEOUT: Duration = Duration::from_millis(100);
/// The writer gives up the CPU after recording for this long.
const YIELD_AFTER: Duration = Duration::from_micros(200);
/// How long after a failed checkpoint the next is tried (unless asked
/// for).
const CHECKPOINT_RETRY: Duration = Duration::from_secs(10);
/// How long a failed journal write waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------
// Clock

/// Where the collector gets the time that decides each datagram's UTC
/// day and when a day is over.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told, for tests and simulations.
///
/// ```
/// use mta_sts_postfix::collector::{Clock, ManualClock};
/// use std::time::{Duration, UNIX_EPOCH};
/// let c = ManualClock::new(UNIX_EPOCH + Duration::from_secs(86_399));
/// c.advance(Duration::from_secs(2));
/// assert_eq!(c.now(), UNIX_EPOCH + Duration::from_secs(86_401));
/// ```
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    /// A clock standing at `t`.
    pub fn new(t: SystemTime) -> Self {
        Self(Mutex::new(t))
    }

    /// Set it to `t`.
    pub fn set(&self, t: SystemTime) {
        *lock(&self.0) = t;
    }

    /// Move it forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut t = lock(&self.0);
        *t += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *lock(&self.0)
    }
}

/// The UTC day number of `t` (0 before 1970, capped at 9999-12-31).
fn day_number(t: SystemTime) -> u32 {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    u32::try_from((secs / 86_400).min(2_932_896)).unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// Configuration, errors, statistics

/// How the collector runs ([`CollectorConfig::new`] gives the defaults).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CollectorConfig {
    /// The AF_UNIX datagram socket to bind (a stale socket file there is
    /// replaced; a live one or another kind of file is an error).
    pub socket: PathBuf,
    /// Permissions of the socket file (default `0o660`: the collector's
    /// user and group may send).
    pub socket_mode: u32,
    /// The state directory ([`crate::tlsrpt_state`]).
    pub state_dir: PathBuf,
    /// The node name (default: `DIR/node`, else the host name).
    pub node: Option<String>,
    /// How long a UTC day stays open after it ended (default 5 minutes).
    pub grace: Duration,
    /// Checkpoint at least this often (default 1 minute).
    pub checkpoint_interval: Duration,
    /// Journal what came in at least this often (default 50 ms).
    pub batch_interval: Duration,
    /// Journal as soon as this many datagrams came in (default 4096).
    pub batch_datagrams: usize,
    /// Most bytes of datagrams received and not yet journaled (default 64
    /// MiB).
    pub max_pending_bytes: usize,
    /// Checkpoint (and start a new journal segment) when the segment is
    /// this large (default 256 MiB: about 800,000 datagrams, replayed in
    /// about a second at start).
    pub max_journal_bytes: u64,
    /// `SO_RCVBUF` asked for (default 4 MiB; the kernel caps it at
    /// `net.core.rmem_max`, unless the process may use `SO_RCVBUFFORCE`).
    pub recv_buffer_bytes: usize,
    /// Log a `collector stats` line this often when anything changed
    /// (default 1 minute).
    pub stats_interval: Duration,
    /// Datagram size limits.
    pub datagram_limits: DatagramLimits,
    /// Aggregate limits per day.
    pub aggregate_limits: AggregateLimits,
}

impl CollectorConfig {
    /// The defaults, with the socket path and the state directory.
    pub fn new(socket: impl Into<PathBuf>, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            socket_mode: 0o660,
            state_dir: state_dir.into(),
            node: None,
            grace: Duration::from_secs(300),
            checkpoint_interval: Duration::from_secs(60),
            batch_interval: Duration::from_millis(50),
            batch_datagrams: 4096,
            max_pending_bytes: 64 * 1024 * 1024,
            max_journal_bytes: 256 * 1024 * 1024,
            recv_buffer_bytes: 4 * 1024 * 1024,
            stats_interval: Duration::from_secs(60),
            datagram_limits: DatagramLimits::default(),
            aggregate_limits: AggregateLimits::default(),
        }
    }
}

/// Why the collector could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectorError {
    /// The state directory.
    #[error(transparent)]
    State(#[from] StateError),
    /// The socket could not be set up.
    #[error("socket {}: {what}: {source}", .path.display())]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Another collector uses the state directory.
    #[error("{}: another collector uses this state directory", .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The journal could not be read or written.
    #[error("journal {}: cannot {action}: {source}", .path.display())]
    Journal {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The checkpoint file does not parse.
    #[error("{}: {reason}", .path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A thread could not be started.
    #[error("cannot start the {what} thread: {source}")]
    Thread {
        /// `receiver` or `writer`.
        what: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A thread of the collector panicked (a bug).
    #[error("the collector's {0} thread panicked")]
    Panicked(&'static str),
}

fn journal_err<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(io::Error) -> CollectorError + 'a {
    move |source| CollectorError::Journal {
        path: path.to_owned(),
        action,
        source,
    }
}

/// The collector's counters since it started ([`CollectorHandle::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CollectorStats {
    /// Datagrams received from the socket (all, garbage included).
    pub received: u64,
    /// Datagrams received but dropped because
    /// [`CollectorConfig::max_pending_bytes`] were waiting for the
    /// journal.
    pub dropped: u64,
    /// Datagrams in the journal, fsync'd: acknowledged.
    pub journaled: u64,
    /// Datagrams read back from the journal at start (not in
    /// `received`).
    pub replayed: u64,
    /// Datagrams decoded and recorded (replayed ones included).
    pub recorded: u64,
    /// Sessions recorded (policies of the recorded datagrams).
    pub sessions: u64,
    /// Sessions that are in no report: their day held `max_policies`
    /// other policies.
    pub unreported_sessions: u64,
    /// Datagrams refused (the sum of `garbage_by_code`).
    pub garbage: u64,
    /// Datagrams refused, by code: `too-large`, `json`, `missing`,
    /// `count`, `invalid`, `aggregate`.
    pub garbage_by_code: BTreeMap<&'static str, u64>,
    /// Deviations accepted, by
    /// [`DatagramWarningCode`](tlsrpt_core::datagram::DatagramWarningCode).
    pub warnings_by_code: BTreeMap<&'static str, u64>,
    /// Datagrams of a day that was final already (see the module
    /// documentation).
    pub late: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Days made final.
    pub final_days: u64,
    /// The days open now.
    pub open_days: Vec<String>,
    /// Failed `recv` calls.
    pub recv_errors: u64,
    /// Failed journal writes (each retried).
    pub journal_errors: u64,
    /// Failed checkpoints (each retried).
    pub checkpoint_errors: u64,
}

// ---------------------------------------------------------------------------
// Shared state between the threads

/// Datagrams received and not yet journaled: entries of
/// `[len u32][day u32][bytes]`.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    count: usize,
}

/// What the writer thread publishes.
#[derive(Default)]
struct WriterView {
    stats: CollectorStats,
    /// Set when the writer thread has ended.
    done: bool,
}

struct Shared {
    clock: Arc<dyn Clock>,
    stop: AtomicBool,
    receiver_done: AtomicBool,
    checkpoint_requested: AtomicBool,
    pending: Mutex<Pending>,
    /// Wakes the writer.
    wake: Condvar,
    received: AtomicU64,
    dropped: AtomicU64,
    too_large: AtomicU64,
    recv_errors: AtomicU64,
    view: Mutex<WriterView>,
    /// Signalled whenever `view` changes.
    changed: Condvar,
}

impl Shared {
    fn stats(&self) -> CollectorStats {
        let mut s = lock(&self.view).stats.clone();
        s.received = self.received.load(Ordering::Relaxed);
        s.dropped = self.dropped.load(Ordering::Relaxed);
        s.recv_errors = self.recv_errors.load(Ordering::Relaxed);
        let too_large = self.too_large.load(Ordering::Relaxed);
        if too_large > 0 {
            *s.garbage_by_code.entry("too-large").or_insert(0) += too_large;
            s.garbage += too_large;
        }
        s
    }
}

// ---------------------------------------------------------------------------
// Rate-limited warnings

/// At most one message per key every [`LOG_EVERY`].
#[derive(Default)]
struct RateLimit {
    last: HashMap<&'static str, (Instant, u64)>,
}

impl RateLimit {
    /// `Some(suppressed since the last one)` when a message for `key` may
    /// be logged now.
    fn check(&mut self, key: &'static str) -> Option<u64> {
        let now = Instant::now();
        match self.last.get_mut(key) {
            Some((at, suppressed)) if now.duration_since(*at) < LOG_EVERY => {
                *suppressed += 1;
                None
            }
            Some((at, suppressed)) => {
                let n = *suppressed;
                *at = now;
                *suppressed = 0;
                Some(n)
            }
            None => {
                self.last.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}

/// The start of a datagram, for a log line: at most 200 bytes, lossy
/// UTF-8, control characters escaped.
fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(200)];
    let mut s = escape_controls(&String::from_utf8_lossy(cut)).into_owned();
    if bytes.len() > cut.len() {
        s.push_str("...");
    }
    s
}

// ---------------------------------------------------------------------------
// The socket and the receiver

/// A socket file, removed when dropped (or earlier, at shutdown).
struct SocketFile(PathBuf);

impl SocketFile {
    fn remove(&self) {
        if fs::symlink_metadata(&self.0).is_ok_and(|m| m.file_type().is_socket()) {
            let _ = fs::remove_file(&self.0);
        }
    }
}

fn bind(config: &CollectorConfig) -> Result<(UnixDatagram, SocketFile), CollectorError> {
    let path = &config.socket;
    let err = |what: &'static str| {
        move |source| CollectorError::Socket {
            path: path.clone(),
            what,
            source,
        }
    };
    match fs::symlink_metadata(path) {
        Ok(md) => {
            if !md.file_type().is_socket() {
                return Err(err("exists")(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "the path exists and is not a socket",
                )));
            }
            let probe = UnixDatagram::unbound().map_err(err("create"))?;
            if probe.connect(path).is_ok() {
                return Err(err("in use")(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another process is receiving on this socket",
                )));
            }
            fs::remove_file(path).map_err(err("remove the stale socket"))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err("inspect")(e)),
    }
    let sock = UnixDatagram::bind(path).map_err(err("bind"))?;
    let file = SocketFile(path.clone());
    fs::set_permissions(path, fs::Permissions::from_mode(config.socket_mode))
        .map_err(err("set permissions"))?;
    sock.set_read_timeout(Some(RECV_TIMEOUT))
        .map_err(err("set the receive timeout"))?;
    raise_recv_buffer(&sock, config.recv_buffer_bytes);
    Ok((sock, file))
}

/// Ask for a receive buffer of `bytes`: with `SO_RCVBUFFORCE` where the
/// process may (CAP_NET_ADMIN), else `SO_RCVBUF` (capped by the kernel at
/// `net.core.rmem_max`).
fn raise_recv_buffer(sock: &UnixDatagram, bytes: usize) {
    use rustix::net::sockopt;
    if sockopt::set_socket_recv_buffer_size_force(sock, bytes).is_err()
        && let Err(e) = sockopt::set_socket_recv_buffer_size(sock, bytes)
    {
        debug!(error = %e, "SO_RCVBUF not raised");
    }
    if let Ok(n) = sockopt::socket_recv_buffer_size(sock) {
        debug!(bytes = n, "socket receive buffer");
    }
}

/// Receive until stopped: empty the queue, then block until the next
/// datagram. Each datagram is stamped with its day and appended to the
/// pending batch; nothing here waits for the disk.
fn receive_loop(sock: &UnixDatagram, shared: &Shared, config: &CollectorConfig) {
    use rustix::net::RecvFlags;
    let max = config.datagram_limits.max_bytes;
    let mut buf = vec![0u8; max.max(1)];
    let mut limit = RateLimit::default();
    // `wait`: block (up to the receive timeout) for a datagram.
    let mut receive = |wait: bool, limit: &mut RateLimit| -> io::Result<()> {
        let flags = if wait {
            RecvFlags::TRUNC
        } else {
            RecvFlags::TRUNC | RecvFlags::DONTWAIT
        };
        let (_, n) = rustix::net::recv(sock, &mut buf[..], flags).map_err(io::Error::from)?;
        shared.received.fetch_add(1, Ordering::Relaxed);
        if n > max {
            shared.too_large.fetch_add(1, Ordering::Relaxed);
            if let Some(suppressed) = limit.check("too-large") {
                warn!(
                    code = "too-large",
                    bytes = n,
                    limit = max,
                    suppressed,
                    "garbage datagram: larger than the limit"
                );
            }
            return Ok(());
        }
        let day = day_number(shared.clock.now());
        let mut p = lock(&shared.pending);
        if p.buf.len().saturating_add(ENTRY_HEADER + n) > config.max_pending_bytes {
            drop(p);
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            if let Some(suppressed) = limit.check("dropped") {
                warn!(
                    pending_bytes = config.max_pending_bytes,
                    suppressed, "datagram dropped: the journal is behind"
                );
            }
            return Ok(());
        }
        // `n` fits in u32: it is at most `max`, far below 4 GiB.
        p.buf
            .extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
        p.buf.extend_from_slice(&day.to_le_bytes());
        p.buf.extend_from_slice(&buf[..n]);
        p.count += 1;
        if p.count == config.batch_datagrams {
            shared.wake.notify_one();
        }
        Ok(())
    };
    let quiet = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
        )
    };
    while !shared.stop.load(Ordering::Relaxed) {
        // Empty the queue without waiting.
        loop {
            match receive(false, &mut limit) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if quiet(&e) => break,
                Err(e) => {
                    shared.recv_errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(suppressed) = limit.check("recv") {
                        warn!(error = %e, suppressed, "recv failed");
                    }
                    std::thread::sleep(Duration::from_millis(10));
                    break;
                }
            }
        }
        // Wait for the next one (up to the receive timeout, to look at
        // the stop flag).
        match receive(true, &mut limit) {
            Ok(()) => {}
            Err(e) if quiet(&e) => {}
            Err(e) => {
                shared.recv_errors.fetch_add(1, Ordering::Relaxed);
                if let Some(suppressed) = limit.check("recv") {
                    warn!(error = %e, suppressed, "recv failed");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    // Drain what is queued already (the socket file is gone by now, so
    // nothing new arrives).
    loop {
        match receive(false, &mut limit) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

// ---------------------------------------------------------------------------
// The journal

/// The segment being appended to.
struct Journal {
    dir: PathBuf,
    seq: u64,
    path: PathBuf,
    file: File,
    size: u64,
}

fn segment_name(seq: u64) -> String {
    format!("{seq:020}.log")
}

impl Journal {
    fn create(dir: &Path, seq: u64) -> Result<Self, CollectorError> {
        let path = dir.join(segment_name(seq));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(journal_err(&path, "create"))?;
        let size = file.metadata().map_err(journal_err(&path, "read"))?.len();
        crate::tlsrpt_state::sync_dir(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            seq,
            path,
            file,
            size,
        })
    }

    /// Append a batch as records of at most [`MAX_RECORD`] bytes (cut at
    /// entry boundaries; the CPU given up between them), then fsync. On
    /// error the segment is cut back to where it was, so a later record
    /// never follows a broken one.
    fn append(&mut self, payload: &[u8]) -> io::Result<()> {
        let start = self.size;
        let mut at = start;
        let mut written = Ok(());
        for record in records(payload) {
            let len = u32::try_from(record.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record over 4 GiB"))?;
            let mut header = [0u8; RECORD_HEADER];
            header[..4].copy_from_slice(&RECORD_MAGIC);
            header[4..8].copy_from_slice(&len.to_le_bytes());
            header[8..].copy_from_slice(&crc32fast::hash(record).to_le_bytes());
            written = self
                .file
                .write_all(&header)
                .and_then(|()| self.file.write_all(record));
            if written.is_err() {
                break;
            }
            at += (RECORD_HEADER + record.len()) as u64;
            std::thread::yield_now();
        }
        match written.and_then(|()| self.file.sync_data()) {
            Ok(()) => {
                self.size = at;
                drop_cached(&self.file, start, at - start);
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.size);
                Err(e)
            }
        }
    }
}

/// A batch cut into records of at most [`MAX_RECORD`] bytes at entry
/// boundaries (an entry larger than that is a record of its own).
fn records(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = payload;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = 0;
        while cut < rest.len() {
            let Some(h) = rest.get(cut..cut + ENTRY_HEADER) else {
                cut = rest.len();
                break;
            };
            let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let next = (cut + ENTRY_HEADER + len).min(rest.len());
            if cut > 0 && next > MAX_RECORD {
                break;
            }
            cut = next;
        }
        let (record, tail) = rest.split_at(cut);
        rest = tail;
        Some(record)
    })
}

/// Let the kernel drop the page cache of `len` bytes at `offset` of
/// `file`, written and fsync'd: the journal is only read again after a
/// crash. It keeps the journal from filling the page cache, and makes
/// removing a large segment cheap (freeing its cached pages would take
/// the CPU for milliseconds, in one go, at the checkpoint).
fn drop_cached(file: &File, offset: u64, len: u64) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = rustix::fs::fadvise(
            file,
            offset,
            std::num::NonZeroU64::new(len),
            rustix::fs::Advice::DontNeed,
        );
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = (file, offset, len);
}

/// Remove a journal segment: cut it down 8 MiB at a time, the CPU given
/// up in between, then unlink it. Freeing a large file's blocks in one
/// call keeps the CPU for tens of milliseconds, longer than a socket
/// queue of 512 datagrams lasts at a few hundred thousand datagrams per
/// second.
fn remove_segment(path: &Path) -> Result<(), CollectorError> {
    const STEP: u64 = 8 << 20;
    if let Ok(f) = OpenOptions::new().write(true).open(path) {
        let mut len = f.metadata().map(|m| m.len()).unwrap_or(0);
        while len > STEP {
            len -= STEP;
            if f.set_len(len).is_err() {
                break;
            }
            std::thread::yield_now();
        }
    }
    fs::remove_file(path).map_err(journal_err(path, "remove"))
}

/// The journal segments in `dir`, by sequence number.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, CollectorError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(journal_err(dir, "list"))? {
        let entry = entry.map_err(journal_err(dir, "list"))?;
        let name = entry.file_name();
        let Some(seq) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .filter(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((seq, entry.path()));
    }
    out.sort();
    Ok(out)
}

/// Read the records of one segment, calling `each` for every batch
/// payload. A torn or corrupt record ends the segment: returns the bytes
/// left out after the last good record.
fn read_segment(path: &Path, mut each: impl FnMut(&[u8])) -> Result<u64, CollectorError> {
    let file = File::open(path).map_err(journal_err(path, "read"))?;
    let total = file.metadata().map_err(journal_err(path, "read"))?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut offset = 0u64;
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; RECORD_HEADER];
        match read_full(&mut r, &mut header).map_err(journal_err(path, "read"))? {
            0 => return Ok(0),
            RECORD_HEADER => {}
            _ => return Ok(total - offset),
        }
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        // The length is bounded by what the file holds.
        if header[..4] != RECORD_MAGIC
            || len as u64 > total.saturating_sub(offset + RECORD_HEADER as u64)
        {
            return Ok(total - offset);
        }
        payload.resize(len, 0);
        if read_full(&mut r, &mut payload).map_err(journal_err(path, "read"))? != len
            || crc32fast::hash(&payload) != crc
        {
            return Ok(total - offset);
        }
        each(&payload);
        offset += (RECORD_HEADER + len) as u64;
    }
}

/// Read until `buf` is full or the end of the file; returns the bytes
/// read.
fn read_full(r: &mut impl io::Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The entries `(day, datagram)` of a record payload; `None` for a
/// malformed one.
fn entries(payload: &[u8]) -> impl Iterator<Item = Option<(u32, &[u8])>> {
    let mut rest = payload;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let parsed = (|| {
            let (h, tail) = rest.split_at_checked(ENTRY_HEADER)?;
            let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let day = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            let (bytes, tail) = tail.split_at_checked(len)?;
            Some((day, bytes, tail))
        })();
        match parsed {
            Some((day, bytes, tail)) => {
                rest = tail;
                Some(Some((day, bytes)))
            }
            None => {
                rest = &[];
                Some(None)
            }
        }
    })
}

// ---------------------------------------------------------------------------
// The checkpoint file

/// `journal/state`: a header line, then one line per open day (its
/// [`DayAggregate::to_json`]).
fn write_state<'a>(
    path: &Path,
    covered: u64,
    days: impl Iterator<Item = &'a str>,
) -> Result<(), CollectorError> {
    let mut body = String::new();
    let mut n = 0usize;
    for json in days {
        body.push_str(json);
        body.push('\n');
        n += 1;
    }
    let text = format!(
        "{{\"format\":\"{STATE_FORMAT}\",\"version\":{STATE_VERSION},\"covered\":{covered},\"days\":{n}}}\n{body}"
    );
    Ok(write_atomic(path, text.as_bytes())?)
}

/// What `journal/state` holds.
#[derive(Default)]
struct SavedState {
    /// The last journal segment the days hold.
    covered: u64,
    /// The open days.
    days: BTreeMap<UtcDay, DayAggregate>,
}

/// Read `journal/state` (`None` when there is none yet).
fn read_state(path: &Path, limits: AggregateLimits) -> Result<Option<SavedState>, CollectorError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(journal_err(path, "read")(e)),
    };
    let bad = |reason: String| CollectorError::Checkpoint {
        path: path.to_owned(),
        reason,
    };
    let mut lines = bytes.split(|&b| b == b'\n');
    let header: serde_json::Value = serde_json::from_slice(lines.next().unwrap_or_default())
        .map_err(|e| bad(format!("header: {e}")))?;
    if header["format"] != STATE_FORMAT || header["version"] != STATE_VERSION {
        return Err(bad(format!("not a {STATE_FORMAT} version {STATE_VERSION}")));
    }
    let covered = header["covered"]
        .as_u64()
        .ok_or_else(|| bad("header: no `covered`".into()))?;
    let n = header["days"]
        .as_u64()
        .ok_or_else(|| bad("header: no `days`".into()))?;
    let mut days = BTreeMap::new();
    for i in 0..n {
        let line = lines
            .next()
            .ok_or_else(|| bad(format!("{n} days announced, {i} found")))?;
        let agg = DayAggregate::from_json(line, limits)
            .map_err(|e| bad(format!("day {}: {e}", i + 1)))?;
        days.insert(agg.day(), agg);
    }
    Ok(Some(SavedState { covered, days }))
}

// ---------------------------------------------------------------------------
// Decoded datagrams, by their bytes

/// Most datagrams kept decoded ([`DecodeCache`]).
const CACHE_ENTRIES: usize = 8192;
/// Most entries with the same hash.
const CACHE_CHAIN: usize = 4;

/// A hasher for `u64` keys that are hashes already.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Datagrams decoded recently, by their bytes: an MTA sends the same
/// datagram for every successful session to the same domain under the
/// same policy, so most datagrams are decoded once. Bounded by
/// [`CACHE_ENTRIES`] (emptied when full) and [`CACHE_CHAIN`] entries per
/// hash (beyond, not cached); only datagrams that decode are kept. A hit
/// gives the same [`datagram::Datagram`] (warnings included) that
/// decoding gives.
#[derive(Default)]
struct DecodeCache {
    map: HashMap<u64, Vec<CacheEntry>, std::hash::BuildHasherDefault<PassThrough>>,
    entries: usize,
}

/// A datagram's bytes and what they decode to.
type CacheEntry = (Box<[u8]>, Arc<datagram::Datagram>);

impl DecodeCache {
    fn key(bytes: &[u8]) -> u64 {
        (u64::from(crc32fast::hash(bytes)) << 32) | (bytes.len() as u64 & 0xffff_ffff)
    }

    fn get(&self, bytes: &[u8]) -> Option<Arc<datagram::Datagram>> {
        self.map
            .get(&Self::key(bytes))?
            .iter()
            .find(|(b, _)| **b == *bytes)
            .map(|(_, d)| Arc::clone(d))
    }

    fn insert(&mut self, bytes: &[u8], d: Arc<datagram::Datagram>) {
        if self.entries >= CACHE_ENTRIES {
            self.map.clear();
            self.entries = 0;
        }
        let chain = self.map.entry(Self::key(bytes)).or_default();
        if chain.len() < CACHE_CHAIN {
            chain.push((bytes.into(), d));
            self.entries += 1;
        }
    }
}

// ---------------------------------------------------------------------------
// The writer

struct Writer {
    shared: Arc<Shared>,
    config: CollectorConfig,
    state: StateDir,
    journal: Journal,
    days: BTreeMap<UtcDay, DayAggregate>,
    stats: CollectorStats,
    limit: RateLimit,
    cache: DecodeCache,
    /// A checkpoint is due (a day to finish, too many days open).
    checkpoint_due: bool,
    last_checkpoint: Instant,
    /// After a failed checkpoint: not before this.
    retry_at: Option<Instant>,
    /// When the writer last gave up the CPU while recording.
    last_yield: Instant,
    last_stats_log: Instant,
    /// The stats of the last `collector stats` line.
    logged: CollectorStats,
    /// Kept for the life of the writer: the state directory's lock.
    _lock: File,
}

impl Writer {
    fn state_path(&self) -> PathBuf {
        self.state.journal_dir().join("state")
    }

    fn publish(&self) {
        let mut v = lock(&self.shared.view);
        v.stats = self.stats.clone();
        v.stats.open_days = self.days.keys().map(UtcDay::to_string).collect();
        drop(v);
        self.shared.changed.notify_all();
    }

    /// The aggregate of `day`, opening it (from its final partial when
    /// there is one) when it is not open.
    fn day_mut(&mut self, day: UtcDay) -> &mut DayAggregate {
        if !self.days.contains_key(&day) {
            let path = self.state.partial_path(self.state.node(), day);
            let agg = if self.state.is_final(self.state.node(), day) && path.is_file() {
                self.stats.late += 1;
                if let Some(suppressed) = self.limit.check("late") {
                    warn!(
                        day = %day,
                        suppressed,
                        "datagram of a day already final: the day is reopened and written again"
                    );
                }
                match self.state.read_partial(&path, self.config.aggregate_limits) {
                    Ok(a) => a,
                    Err(e) => {
                        let aside = path.with_extension(format!(
                            "json.unreadable-{}",
                            day_number(self.shared.clock.now())
                        ));
                        error!(error = %e, moved_to = %aside.display(), "final partial unreadable; starting the day anew");
                        let _ = fs::rename(&path, &aside);
                        DayAggregate::with_limits(day, self.config.aggregate_limits)
                    }
                }
            } else {
                DayAggregate::with_limits(day, self.config.aggregate_limits)
            };
            self.days.insert(day, agg);
            if self.days.len() > 2 {
                self.checkpoint_due = true;
            }
        }
        // Just inserted when missing.
        self.days
            .entry(day)
            .or_insert_with(|| DayAggregate::with_limits(day, self.config.aggregate_limits))
    }

    fn garbage(&mut self, code: &'static str, message: &str, bytes: &[u8]) {
        self.stats.garbage += 1;
        *self.stats.garbage_by_code.entry(code).or_insert(0) += 1;
        if let Some(suppressed) = self.limit.check(code) {
            warn!(
                code,
                error = message,
                datagram = excerpt(bytes),
                suppressed,
                "garbage datagram"
            );
        }
    }

    /// Decode and record the datagrams of one journaled batch.
    fn apply(&mut self, payload: &[u8]) {
        for (i, entry) in entries(payload).enumerate() {
            // Let the receiver (same CPU, higher priority) in now and then:
            // a batch can take milliseconds to decode, longer than a short
            // socket queue lasts.
            if i % 16 == 15 && self.last_yield.elapsed() >= YIELD_AFTER {
                std::thread::yield_now();
                self.last_yield = Instant::now();
            }
            let Some((day, bytes)) = entry else {
                // Cannot happen for a record with a good CRC written by
                // this program.
                self.garbage("invalid", "malformed journal entry", &[]);
                break;
            };
            let day = match UtcDay::from_day_number(i64::from(day)) {
                Ok(d) => d,
                Err(e) => {
                    self.garbage("invalid", &e.to_string(), bytes);
                    continue;
                }
            };
            let day = if self.days.len() >= MAX_OPEN_DAYS && !self.days.contains_key(&day) {
                // A clock that jumps around: count to the nearest open day.
                let nearest = self
                    .days
                    .keys()
                    .copied()
                    .min_by_key(|d| (d.day_number() - day.day_number()).abs())
                    .unwrap_or(day);
                if let Some(suppressed) = self.limit.check("misdated") {
                    warn!(day = %day, counted_to = %nearest, suppressed, "too many days open; datagram counted to the nearest open day");
                }
                nearest
            } else {
                day
            };
            let d = match self.cache.get(bytes) {
                Some(d) => Ok(d),
                None => datagram::decode(bytes, &self.config.datagram_limits).map(|d| {
                    let d = Arc::new(d);
                    self.cache.insert(bytes, Arc::clone(&d));
                    d
                }),
            };
            let d = match d {
                Ok(d) => d,
                Err(e) => {
                    let code = match &e {
                        DatagramError::TooLarge { .. } => "too-large",
                        DatagramError::Json { .. } => "json",
                        DatagramError::Missing { .. } => "missing",
                        DatagramError::Count { .. } => "count",
                        _ => "invalid",
                    };
                    self.garbage(code, &e.to_string(), bytes);
                    continue;
                }
            };
            for w in &d.warnings {
                *self
                    .stats
                    .warnings_by_code
                    .entry(w.code.as_str())
                    .or_insert(0) += 1;
            }
            let sessions = d.policies.len() as u64;
            match self.day_mut(day).record_datagram(&d) {
                Ok(r) => {
                    self.stats.recorded += 1;
                    self.stats.sessions += sessions;
                    if r == Recorded::Unreported {
                        self.stats.unreported_sessions += sessions;
                    }
                }
                Err(e) => self.garbage("aggregate", &e.to_string(), bytes),
            }
        }
    }

    /// Whether `day` is over, grace included, at `now`.
    fn is_over(&self, day: UtcDay, now: SystemTime) -> bool {
        let end = u64::try_from(day.end().unix_secs().saturating_add(1)).unwrap_or(0);
        now.duration_since(UNIX_EPOCH)
            .is_ok_and(|t| t >= Duration::from_secs(end) + self.config.grace)
    }

    /// Start a new journal segment; write the partials (final ones for the
    /// days that are over), the checkpoint file, then delete the segments
    /// it holds.
    fn checkpoint(&mut self) -> Result<(), CollectorError> {
        let now = self.shared.clock.now();
        let started = Instant::now();
        // Everything journaled so far is applied: it all goes into this
        // checkpoint, and new records into a new segment.
        if self.journal.size > 0 {
            self.journal = Journal::create(&self.journal.dir, self.journal.seq + 1)?;
        }
        let covered = self.journal.seq.saturating_sub(1);
        // Days to finish: over (grace included), and the oldest beyond two.
        let mut finish: Vec<UtcDay> = self
            .days
            .keys()
            .copied()
            .filter(|&d| self.is_over(d, now))
            .collect();
        let running: Vec<UtcDay> = self
            .days
            .keys()
            .copied()
            .filter(|d| !finish.contains(d))
            .collect();
        for &d in running.iter().take(running.len().saturating_sub(2)) {
            warn!(day = %d, "more than two days open: finishing the oldest early");
            finish.push(d);
        }
        // Each day's JSON once, for the partial and the checkpoint file;
        // the receiver may have the CPU in between.
        let mut json = BTreeMap::new();
        for (d, agg) in &self.days {
            json.insert(*d, agg.to_json());
            std::thread::yield_now();
        }
        let serialized = started.elapsed();
        // Final partials first: if the process dies before the checkpoint
        // file is written, the old checkpoint still holds these days and
        // the journal is replayed into them again.
        for d in &finish {
            if let Some(j) = json.get(d) {
                self.state.write_partial_json(*d, j)?;
            }
        }
        write_state(
            &self.state_path(),
            covered,
            json.iter()
                .filter(|(d, _)| !finish.contains(d))
                .map(|(_, j)| j.as_str()),
        )?;
        for d in &finish {
            self.state.mark_final(*d)?;
            if let Some(agg) = self.days.get(d) {
                let t = agg.totals();
                info!(
                    day = %d,
                    successful = t.successful_sessions,
                    failed = t.failed_sessions,
                    policies = agg.policies(),
                    path = %self.state.partial_path(self.state.node(), *d).display(),
                    "day final"
                );
            }
            self.stats.final_days += 1;
        }
        self.days.retain(|d, _| !finish.contains(d));
        for d in self.days.keys() {
            if let Some(j) = json.get(d) {
                self.state.write_partial_json(*d, j)?;
            }
        }
        let written = started.elapsed();
        for (seq, path) in segments(&self.journal.dir)? {
            if seq <= covered {
                remove_segment(&path)?;
            }
        }
        self.stats.checkpoints += 1;
        self.checkpoint_due = false;
        self.last_checkpoint = Instant::now();
        debug!(
            covered,
            days = self.days.len(),
            json_us = serialized.as_micros(),
            written_us = written.as_micros(),
            total_us = started.elapsed().as_micros(),
            "checkpoint"
        );
        Ok(())
    }

    fn try_checkpoint(&mut self) {
        match self.checkpoint() {
            Ok(()) => self.retry_at = None,
            Err(e) => {
                self.stats.checkpoint_errors += 1;
                self.last_checkpoint = Instant::now();
                self.retry_at = Some(Instant::now() + CHECKPOINT_RETRY);
                error!(
                    error = %e,
                    retry_in_secs = CHECKPOINT_RETRY.as_secs(),
                    "checkpoint failed; the journal keeps everything meanwhile"
                );
            }
        }
    }

    /// Take the datagrams waiting (after waiting up to the batch interval
    /// for enough of them).
    fn take_batch(&self, spare: &mut Vec<u8>) -> usize {
        let p = lock(&self.shared.pending);
        let (mut p, _) = self
            .shared
            .wake
            .wait_timeout_while(p, self.config.batch_interval, |p| {
                p.count < self.config.batch_datagrams
                    && !self.shared.receiver_done.load(Ordering::Acquire)
                    && !self.shared.checkpoint_requested.load(Ordering::Relaxed)
            })
            .unwrap_or_else(PoisonError::into_inner);
        spare.clear();
        std::mem::swap(&mut p.buf, spare);
        std::mem::take(&mut p.count)
    }

    /// Journal a batch, retrying until it is written (or the collector is
    /// stopping and the disk still fails).
    fn journal(&mut self, batch: &[u8], count: usize) -> Result<(), CollectorError> {
        loop {
            match self.journal.append(batch) {
                Ok(()) => break,
                Err(e) => {
                    self.stats.journal_errors += 1;
                    error!(error = %e, path = %self.journal.path.display(), datagrams = count, "journal write failed; retrying");
                    self.publish();
                    if self.shared.stop.load(Ordering::Relaxed)
                        && self.shared.receiver_done.load(Ordering::Relaxed)
                    {
                        return Err(journal_err(&self.journal.path, "write")(e));
                    }
                    std::thread::sleep(RETRY_AFTER);
                }
            }
        }
        self.stats.journaled += count as u64;
        debug!(
            datagrams = count,
            journaled = self.stats.journaled,
            "journaled"
        );
        Ok(())
    }

    fn log_stats(&mut self) {
        let mut now = self.shared.stats();
        now.open_days = self.days.keys().map(UtcDay::to_string).collect();
        if now != self.logged {
            info!(
                received = now.received,
                journaled = now.journaled,
                recorded = now.recorded,
                sessions = now.sessions,
                garbage = now.garbage,
                dropped = now.dropped,
                late = now.late,
                checkpoints = now.checkpoints,
                open_days = now.open_days.join(","),
                "collector stats"
            );
            self.logged = now;
        }
        self.last_stats_log = Instant::now();
    }

    fn run(mut self) -> Result<(), CollectorError> {
        let mut batch = Vec::new();
        loop {
            // Checked before taking the batch: once the receiver is done,
            // nothing more arrives after this batch.
            let last = self.shared.receiver_done.load(Ordering::Acquire);
            let count = self.take_batch(&mut batch);
            if count > 0 {
                self.journal(&batch, count)?;
                self.apply(&batch);
                // Give the memory back after a burst.
                if batch.capacity() > 4 * self.config.max_pending_bytes.min(16 << 20) {
                    batch = Vec::new();
                }
                self.publish();
            }
            if last {
                break;
            }
            let now = self.shared.clock.now();
            let over = self.days.keys().any(|&d| self.is_over(d, now));
            let requested = self
                .shared
                .checkpoint_requested
                .swap(false, Ordering::AcqRel);
            let due = over
                || self.checkpoint_due
                || self.journal.size >= self.config.max_journal_bytes
                || self.last_checkpoint.elapsed() >= self.config.checkpoint_interval;
            let waiting = self.retry_at.is_some_and(|t| Instant::now() < t);
            if requested || (due && !waiting) {
                self.try_checkpoint();
                self.publish();
            }
            if self.last_stats_log.elapsed() >= self.config.stats_interval {
                self.log_stats();
            }
        }
        let result = self.checkpoint();
        if result.is_err() {
            self.stats.checkpoint_errors += 1;
        }
        self.log_stats();
        self.publish();
        result
    }
}

/// Lower this thread's scheduling priority by 10 `nice` steps (Linux:
/// `nice` applies per thread), so the receiver gets the CPU first.
fn lower_priority() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let tid = rustix::thread::gettid();
        let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
        let lower = (now + 10).min(19);
        if let Err(e) = rustix::process::setpriority_process(Some(tid), lower) {
            debug!(error = %e, "writer thread priority not lowered");
        }
    }
}

/// Take the state directory's collector lock (`journal/lock`).
fn take_lock(state: &StateDir) -> Result<File, CollectorError> {
    let path = state.journal_dir().join("lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(journal_err(&path, "open"))?;
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(f),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(CollectorError::Locked { path }),
        Err(e) => Err(journal_err(&path, "lock")(e.into())),
    }
}

// ---------------------------------------------------------------------------
// Start and stop

/// The collector ([`Collector::start`]).
#[derive(Debug)]
pub struct Collector;

impl Collector {
    /// Open the state directory, recover (load the checkpoint, replay the
    /// journal, checkpoint), bind the socket and start receiving, with
    /// the system clock.
    pub fn start(config: CollectorConfig) -> Result<CollectorHandle, CollectorError> {
        Self::start_with_clock(config, Arc::new(SystemClock))
    }

    /// [`Collector::start`] with another clock (tests, simulations).
    pub fn start_with_clock(
        mut config: CollectorConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<CollectorHandle, CollectorError> {
        // Journal records hold u32 lengths.
        config.max_pending_bytes = config.max_pending_bytes.clamp(
            config.datagram_limits.max_bytes + ENTRY_HEADER,
            u32::MAX as usize / 2,
        );
        config.batch_datagrams = config.batch_datagrams.max(1);
        let state = StateDir::open_node(&config.state_dir, config.node.as_deref())?;
        let lock_file = take_lock(&state)?;
        let shared = Arc::new(Shared {
            clock,
            stop: AtomicBool::new(false),
            receiver_done: AtomicBool::new(false),
            checkpoint_requested: AtomicBool::new(false),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            too_large: AtomicU64::new(0),
            recv_errors: AtomicU64::new(0),
            view: Mutex::new(WriterView::default()),
            changed: Condvar::new(),
        });
        // Receive from the start: what arrives while the journal is
        // replayed waits in memory.
        let (sock, socket_file) = bind(&config)?;
        let receiver_thread = std::thread::Builder::new()
            .name("tlsrpt-receiver".into())
            .spawn({
                let shared = Arc::clone(&shared);
                let config = config.clone();
                let dispatch = tracing::dispatcher::get_default(Clone::clone);
                move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        receive_loop(&sock, &shared, &config);
                        shared.receiver_done.store(true, Ordering::Release);
                        let _g = lock(&shared.pending);
                        shared.wake.notify_all();
                    })
                }
            })
            .map_err(|source| CollectorError::Thread {
                what: "receiver",
                source,
            })?;
        let stop_receiver = || {
            socket_file.remove();
            shared.stop.store(true, Ordering::Relaxed);
        };
        let writer = match recover(&config, &state, &shared, lock_file) {
            Ok(w) => w,
            Err(e) => {
                stop_receiver();
                let _ = receiver_thread.join();
                return Err(e);
            }
        };
        let stats = writer.stats.clone();
        info!(
            socket = %config.socket.display(),
            state = %state.path().display(),
            node = state.node(),
            replayed = stats.replayed,
            open_days = stats.open_days.join(","),
            "collecting"
        );
        let writer_thread = std::thread::Builder::new()
            .name("tlsrpt-writer".into())
            .spawn({
                let dispatch = tracing::dispatcher::get_default(Clone::clone);
                move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        lower_priority();
                        let shared = Arc::clone(&writer.shared);
                        let r = writer.run();
                        lock(&shared.view).done = true;
                        shared.changed.notify_all();
                        r
                    })
                }
            });
        let writer_thread = match writer_thread {
            Ok(t) => t,
            Err(source) => {
                stop_receiver();
                let _ = receiver_thread.join();
                return Err(CollectorError::Thread {
                    what: "writer",
                    source,
                });
            }
        };
        Ok(CollectorHandle {
            shared,
            node: state.node().to_owned(),
            state,
            socket: socket_file,
            receiver: Some(receiver_thread),
            writer: Some(writer_thread),
        })
    }
}

/// Load the checkpoint, replay the journal segments after it, and write a
/// checkpoint (so the replayed segments can go).
fn recover(
    config: &CollectorConfig,
    state: &StateDir,
    shared: &Arc<Shared>,
    lock_file: File,
) -> Result<Writer, CollectorError> {
    let dir = state.journal_dir();
    let state_path = dir.join("state");
    let SavedState { covered, days } =
        read_state(&state_path, config.aggregate_limits)?.unwrap_or_default();
    let segs = segments(&dir)?;
    let next = segs.last().map_or(covered, |(s, _)| (*s).max(covered)) + 1;
    let mut writer = Writer {
        shared: Arc::clone(shared),
        config: config.clone(),
        state: state.clone(),
        journal: Journal::create(&dir, next)?,
        days,
        stats: CollectorStats::default(),
        limit: RateLimit::default(),
        cache: DecodeCache::default(),
        checkpoint_due: false,
        last_checkpoint: Instant::now(),
        retry_at: None,
        last_yield: Instant::now(),
        last_stats_log: Instant::now(),
        logged: CollectorStats::default(),
        _lock: lock_file,
    };
    for (seq, path) in segs {
        if seq <= covered {
            continue;
        }
        let dropped = read_segment(&path, |p| {
            writer.stats.replayed += entries(p).count() as u64;
            writer.apply(p);
        })?;
        if dropped > 0 {
            warn!(
                path = %path.display(),
                bytes = dropped,
                "journal segment ends in a torn or corrupt record; the bytes from it on are left out"
            );
        }
    }
    if writer.stats.replayed > 0 {
        info!(datagrams = writer.stats.replayed, "replayed the journal");
    }
    writer.checkpoint()?;
    writer.publish();
    Ok(writer)
}

/// A running collector: its counters, and how to stop it.
#[derive(Debug)]
pub struct CollectorHandle {
    shared: Arc<Shared>,
    node: String,
    state: StateDir,
    socket: SocketFile,
    receiver: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<Result<(), CollectorError>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SocketFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SocketFile").field(&self.0).finish()
    }
}

impl CollectorHandle {
    /// The counters now.
    pub fn stats(&self) -> CollectorStats {
        self.shared.stats()
    }

    /// The node name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The state directory.
    pub fn state(&self) -> &StateDir {
        &self.state
    }

    /// The socket path.
    pub fn socket_path(&self) -> &Path {
        &self.socket.0
    }

    /// Wait until `done` holds for the counters (checked whenever the
    /// writer publishes them, and at least every 50 ms), at most
    /// `timeout`; returns the counters that satisfied it, or `None`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&CollectorStats) -> bool,
    ) -> Option<CollectorStats> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.stats();
            if done(&s) {
                return Some(s);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let v = lock(&self.shared.view);
            if v.done {
                drop(v);
                let s = self.stats();
                return done(&s).then_some(s);
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            drop(
                self.shared
                    .changed
                    .wait_timeout(v, wait)
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
    }

    /// Journal what is waiting and write a checkpoint now (partials
    /// included); returns when it is done (at most `timeout`), with the
    /// counters, or `None` on timeout.
    pub fn checkpoint(&self, timeout: Duration) -> Option<CollectorStats> {
        let before = self.stats().checkpoints;
        self.shared
            .checkpoint_requested
            .store(true, Ordering::Release);
        {
            let _g = lock(&self.shared.pending);
            self.shared.wake.notify_all();
        }
        self.wait_for(timeout, |s| s.checkpoints > before)
    }

    /// Stop: remove the socket file, receive what is queued, journal and
    /// record it, write a checkpoint, and return the final counters.
    pub fn shutdown(mut self) -> Result<CollectorStats, CollectorError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<CollectorStats, CollectorError> {
        self.socket.remove();
        self.shared.stop.store(true, Ordering::Relaxed);
        {
            let _g = lock(&self.shared.pending);
            self.shared.wake.notify_all();
        }
        let receiver = match self.receiver.take() {
            Some(t) => t.join().map_err(|_| CollectorError::Panicked("receiver")),
            None => Ok(()),
        };
        {
            let _g = lock(&self.shared.pending);
            self.shared.wake.notify_all();
        }
        let writer = match self.writer.take() {
            Some(t) => t
                .join()
                .map_err(|_| CollectorError::Panicked("writer"))
                .and_then(|r| r),
            None => Ok(()),
        };
        receiver?;
        writer?;
        Ok(self.stats())
    }
}

impl Drop for CollectorHandle {
    fn drop(&mut self) {
        if self.writer.is_some() || self.receiver.is_some() {
            let _ = self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_stop_at_malformed() {
        let mut p = Vec::new();
        for (day, d) in [(1u32, &b"ab"[..]), (2, b""), (3, b"xyz")] {
            p.extend_from_slice(&(d.len() as u32).to_le_bytes());
            p.extend_from_slice(&day.to_le_bytes());
            p.extend_from_slice(d);
        }
        let got: Vec<_> = entries(&p).collect();
        assert_eq!(
            got,
            [
                Some((1, &b"ab"[..])),
                Some((2, &b""[..])),
                Some((3, &b"xyz"[..]))
            ]
        );
        p.extend_from_slice(&[9, 0, 0, 0, 1, 0]);
        assert_eq!(entries(&p).last(), Some(None));
    }

    #[test]
    fn decode_cache_gives_what_decoding_gives_and_stays_bounded() {
        let limits = DatagramLimits::default();
        let text = br#"{"d":"Example.com","policies":[{"policy-type":9,"t":0,"f":0}]}"#;
        let mut c = DecodeCache::default();
        assert!(c.get(text).is_none());
        let d = Arc::new(datagram::decode(text, &limits).unwrap());
        c.insert(text, Arc::clone(&d));
        let hit = c.get(text).unwrap();
        assert_eq!(*hit, datagram::decode(text, &limits).unwrap());
        // The warning (policy-domain from `d`) comes with the hit.
        assert_eq!(hit.warnings.len(), 1);
        // Same length, other bytes: no hit.
        let other = br#"{"d":"Example.org","policies":[{"policy-type":9,"t":0,"f":0}]}"#;
        assert!(c.get(other).is_none());
        // Full: emptied, then filled again.
        for i in 0..CACHE_ENTRIES {
            let t =
                format!(r#"{{"d":"d{i}.example","policies":[{{"policy-type":9,"t":0,"f":0}}]}}"#);
            c.insert(t.as_bytes(), Arc::clone(&d));
        }
        assert!(c.entries <= CACHE_ENTRIES);
        assert!(c.get(text).is_none());
        // At most CACHE_CHAIN entries per hash.
        let mut c = DecodeCache::default();
        let key = DecodeCache::key(text);
        for _ in 0..CACHE_CHAIN + 2 {
            c.insert(text, Arc::clone(&d));
        }
        assert_eq!(c.map[&key].len(), CACHE_CHAIN);
    }

    #[test]
    fn batches_are_cut_into_records_at_entry_boundaries() {
        let entry = |n: usize| {
            let mut e = (n as u32).to_le_bytes().to_vec();
            e.extend_from_slice(&[0, 0, 0, 0]);
            e.extend(std::iter::repeat_n(b'x', n));
            e
        };
        let mut batch = Vec::new();
        for _ in 0..3 {
            batch.extend(entry(100_000));
        }
        batch.extend(entry(300_000));
        batch.extend(entry(10));
        let sizes: Vec<usize> = records(&batch).map(<[u8]>::len).collect();
        // Two 100 kB entries fit in 256 KiB, the third starts a record;
        // the 300 kB entry is a record of its own.
        assert_eq!(sizes, [200_016, 100_008, 300_008, 18]);
        assert_eq!(sizes.iter().sum::<usize>(), batch.len());
        let rejoined: Vec<u8> = records(&batch).flatten().copied().collect();
        assert_eq!(rejoined, batch);
        assert_eq!(records(&[]).count(), 0);
    }

    #[test]
    fn day_numbers() {
        assert_eq!(day_number(UNIX_EPOCH), 0);
        assert_eq!(day_number(UNIX_EPOCH + Duration::from_secs(86_399)), 0);
        assert_eq!(day_number(UNIX_EPOCH + Duration::from_secs(86_400)), 1);
        assert_eq!(day_number(UNIX_EPOCH - Duration::from_secs(5)), 0);
    }

    #[test]
    fn rate_limit_counts_suppressed() {
        let mut r = RateLimit::default();
        assert_eq!(r.check("a"), Some(0));
        assert_eq!(r.check("a"), None);
        assert_eq!(r.check("a"), None);
        assert_eq!(r.check("b"), Some(0));
        r.last.get_mut("a").unwrap().0 -= LOG_EVERY;
        assert_eq!(r.check("a"), Some(2));
    }

    #[test]
    fn excerpt_is_short_and_escaped() {
        assert_eq!(excerpt(b"a\x1bb"), "a\\u{1b}b");
        let long = vec![b'x'; 300];
        assert_eq!(excerpt(&long), format!("{}...", "x".repeat(200)));
    }

    #[test]
    fn torn_records_are_detected() {
        let dir = std::env::temp_dir().join(format!("collector-torn-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let mut j = Journal::create(&dir, 1).unwrap();
        j.append(b"first").unwrap();
        j.append(b"second").unwrap();
        let good = j.size;
        drop(j);
        let path = dir.join(segment_name(1));
        let read = |path: &Path| {
            let mut got = Vec::new();
            let dropped = read_segment(path, |p| got.push(p.to_vec())).unwrap();
            (got, dropped)
        };
        assert_eq!(
            read(&path),
            (vec![b"first".to_vec(), b"second".to_vec()], 0)
        );
        // A torn header, a torn payload, a bad CRC.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"TRJ1\x05\x00").unwrap();
        drop(f);
        assert_eq!(read(&path).1, 6);
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(good - 2).unwrap();
        drop(f);
        assert_eq!(read(&path), (vec![b"first".to_vec()], 16));
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 20;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(read(&path), (vec![], bytes.len() as u64));
        fs::remove_dir_all(&dir).unwrap();
    }
}
