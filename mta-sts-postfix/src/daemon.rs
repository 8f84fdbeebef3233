//! The Postfix `smtp_tls_policy_maps` socketmap daemon: answers
//! `socketmap:inet:HOST:PORT:NAME` and `socketmap:unix:PATH:NAME` lookups
//! from the [`MtaSts`] policy service, byte-compatible with
//! postfix-mta-sts-resolver (see [`crate::socketmap`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mta_sts_postfix::config::Config;
//! use mta_sts_postfix::daemon::Daemon;
//!
//! let config = Config::from_toml("listen = [\"127.0.0.1:8461\"]\n[zones.postfix]\ntlsrpt = true")?;
//! let daemon = Daemon::start(config).await?;
//! println!("listening on {:?}", daemon.local_addrs());
//! // ... on SIGHUP: daemon.reload(Config::load(path)?)?;
//! daemon.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Connections
//!
//! Every listener (TCP or Unix) accepts while fewer than
//! `limits.max_connections` connections are open in total (others wait in
//! the backlog). Each connection is one task reading netstring requests in
//! sequence; up to `limits.max_pipelined` requests are looked up
//! concurrently and answered in order. A connection with no request for
//! `limits.idle_timeout_secs` is closed. A byte stream that is not a
//! netstring (or one over 100000 bytes) is answered `PERM malformed
//! request` and the connection is closed after the earlier answers;
//! a well-framed payload that is not `NAME KEY` gets the same answer but
//! the connection stays open.
//!
//! Lookups run in their own tasks: a client that disconnects does not
//! cancel a discovery other clients may be waiting for. A lookup still
//! running after `limits.lookup_timeout_secs` is answered from the cache
//! (a still-valid policy) or `NOTFOUND `, as for a policy that cannot be
//! fetched; it finishes in the background and fills the cache.
//!
//! # Reload and shutdown
//!
//! [`DaemonHandle::reload`] swaps, atomically for new requests, the zone
//! settings (`zones`, `default_zone`) and the per-request limits
//! (`idle_timeout_secs`, `lookup_timeout_secs`, `shutdown_timeout_secs`;
//! `max_pipelined` for new connections). Listeners, the state directory,
//! the network overrides, `strict`, `[cache]` and `max_connections` are
//! fixed at start: a reload that changes them reports them in
//! [`ReloadOutcome::restart_needed`] and leaves them as they were.
//!
//! [`DaemonHandle::shutdown`] stops accepting (closing the listeners and
//! removing the Unix socket files), lets every connection finish the
//! requests it has read within `limits.shutdown_timeout_secs`, then aborts
//! what is left, stops the maintenance task and closes the store.
//!
//! # Unix sockets
//!
//! A socket path that exists is replaced when it is a stale socket (no
//! process accepts on it); a live socket or a file that is not a socket is
//! a start error. The socket file gets `unix_mode` (default `0o660`) right
//! after it is bound.
//!
//! # Logging
//!
//! The daemon reports through [`tracing`] events (target
//! `mta_sts_postfix::daemon`) with structured fields, sent to the
//! subscriber that was the default where [`Daemon::start`] was called (a
//! scoped one set with `tracing::subscriber::set_default` or
//! `WithSubscriber`, else the global one): the daemon's own tasks carry it
//! along whatever thread they run on. Without any subscriber nothing is
//! logged. Error fields are rendered with their causes on one line
//! ([`Chain`]).
//!
//! | level | message | fields |
//! |-------|---------|--------|
//! | INFO  | `listening` | `listener` (`IP:PORT` or `unix:PATH`) |
//! | INFO  | `policy failure` (a TLS-RPT failure of a looked-up domain) | `domain`, `result_type`, `reason` |
//! | WARN  | a warning of the policy service (store errors, ...) | `domain` when it comes from a lookup |
//! | WARN  | `policy store entry skipped` | `domain`, `reason` |
//! | WARN  | `malformed socketmap request` | `listener`, `error`, `closing` (whether the connection is closed) |
//! | WARN  | `lookup still running at the deadline; answered from the cache` | `domain` |
//! | WARN  | `lookup task failed` | `domain`, `error` |
//! | WARN  | `accept failed` | `listener`, `error` |
//! | WARN  | `connections aborted at the shutdown deadline` | `listener`, `connections` |
//! | DEBUG | `connection accepted` | `listener` |
//! | DEBUG | `answered` (after a lookup; not for cache hits) | `domain`, `reply` |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mta_sts_postfix::config::Config;
//! use mta_sts_postfix::daemon::Daemon;
//! use tracing::instrument::WithSubscriber;
//!
//! // Log this daemon (and only it) to `subscriber`.
//! let subscriber = tracing_subscriber::fmt().with_writer(std::io::stderr).finish();
//! let daemon = Daemon::start(Config::default())
//!     .with_subscriber(subscriber)
//!     .await?;
//! # daemon.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;
use tracing::{Dispatch, debug, error, info, warn};

use crate::config::{Config, ConfigError, Limits};
use crate::socketmap::{self, Frame, Key, MAX_NETSTRING, Reply, Request, ZoneSettings};
use policy_fetch::error::{Chain, FetchError, StoreError};
use policy_fetch::service::{MtaSts, PolicyLookup};
use policy_fetch::store::{MemoryStore, RedbStore, Store};

/// The subscriber the daemon's tasks log to: the default one where
/// [`Daemon::start`] ran, `None` when there was none (the tasks then log
/// to whatever is the default where they run, i.e. the global one).
#[derive(Clone)]
struct LogTo(Option<Dispatch>);

impl LogTo {
    /// The default subscriber here and now.
    fn current() -> Self {
        let d = tracing::dispatcher::get_default(Dispatch::clone);
        Self((!d.is::<NoSubscriber>()).then_some(d))
    }

    /// Spawn `f` on the runtime, logging to this subscriber.
    fn spawn<F>(&self, f: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.0 {
            Some(d) => tokio::spawn(f.with_subscriber(d.clone())),
            None => tokio::spawn(f),
        }
    }

    /// Spawn `f` in `set`, logging to this subscriber.
    fn spawn_in<F>(&self, set: &mut JoinSet<()>, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match &self.0 {
            Some(d) => set.spawn(f.with_subscriber(d.clone())),
            None => set.spawn(f),
        };
    }

    /// Run `f` with this subscriber as the default.
    fn scope(&self, f: impl FnOnce()) {
        match &self.0 {
            Some(d) => tracing::dispatcher::with_default(d, f),
            None => f(),
        }
    }
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listener could not be set up (address in use, bad path, ...).
    #[error("cannot listen on {what}")]
    Listen {
        /// The address (`IP:PORT`) or socket path (`unix:PATH`).
        what: String,
        /// Why.
        #[source]
        cause: io::Error,
    },
    /// The state directory could not be created.
    #[error("cannot create the state directory {}", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        cause: io::Error,
    },
    /// The policy store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// DNS or HTTPS set-up failed (unreadable CA file, ...).
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// What [`DaemonHandle::reload`] could not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// Settings that differ from the running ones but only take effect on
    /// a restart (e.g. `listen`, `state_dir`, `resolver`).
    pub restart_needed: Vec<&'static str>,
}

/// Counters of a running daemon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaemonStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub open_connections: u64,
    /// Requests received (netstrings decoded).
    pub requests: u64,
    /// Malformed netstrings or requests.
    pub malformed: u64,
    /// Lookups answered after `lookup_timeout_secs` without their result.
    pub lookup_timeouts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    open_connections: AtomicU64,
    requests: AtomicU64,
    malformed: AtomicU64,
    lookup_timeouts: AtomicU64,
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The settings a reload can change.
#[derive(Debug)]
struct Live {
    zones: BTreeMap<String, ZoneSettings>,
    default_zone: ZoneSettings,
    limits: Limits,
}

impl Live {
    fn from_config(c: &Config) -> Self {
        Self {
            zones: c.zones.clone(),
            default_zone: c.default_zone,
            limits: c.limits,
        }
    }

    fn zone(&self, name: &str) -> ZoneSettings {
        self.zones.get(name).copied().unwrap_or(self.default_zone)
    }
}

/// Spawned tasks that can all be aborted (lookups).
#[derive(Debug, Default)]
struct TaskSet {
    inner: Mutex<(Vec<AbortHandle>, usize)>,
}

impl TaskSet {
    fn spawn<F>(&self, log_to: &LogTo, f: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let h = log_to.spawn(f);
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (handles, reap_at) = &mut *g;
        if handles.len() >= *reap_at {
            handles.retain(|a| !a.is_finished());
            *reap_at = (handles.len() * 2).max(64);
        }
        handles.push(h.abort_handle());
        h
    }

    /// Abort every task and wait (briefly) until they are gone.
    async fn abort_all(&self) {
        let handles = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut g.0)
        };
        for h in &handles {
            h.abort();
        }
        for _ in 0..1000 {
            if handles.iter().all(AbortHandle::is_finished) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// `None` while running; the deadline for in-flight requests once
/// shutting down.
type Stop = watch::Receiver<Option<Instant>>;

struct Shared {
    sts: Arc<MtaSts>,
    live: RwLock<Arc<Live>>,
    lookups: TaskSet,
    log_to: LogTo,
    slots: Arc<Semaphore>,
    counters: Counters,
}

impl Shared {
    fn live(&self) -> Arc<Live> {
        Arc::clone(&self.live.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Turn one request payload, received on `listener`, into a pending
    /// answer.
    fn dispatch(&self, payload: &[u8], listener: &str) -> Pending {
        inc(&self.counters.requests);
        let req = match Request::parse(payload) {
            Ok(r) => r,
            Err(e) => {
                inc(&self.counters.malformed);
                warn!(
                    listener,
                    error = %Chain(&e),
                    closing = false,
                    "malformed socketmap request"
                );
                return Pending::Ready(malformed());
            }
        };
        let domain = match socketmap::normalize_key(req.key) {
            Key::Domain(d) => d,
            Key::Skip(_) => return Pending::Ready(Reply::NotFound),
        };
        let live = self.live();
        let zone = live.zone(req.name);
        // Fast path: a fresh cached policy is answered at once, without a
        // task, a timer or any IO.
        if let Some(p) = self.sts.lookup_fresh(&domain) {
            return Pending::Ready(socketmap::policy_reply(&domain, Some(&p.policy), &zone));
        }
        let deadline = Instant::now() + live.limits.lookup_timeout();
        let sts = Arc::clone(&self.sts);
        let d = domain.clone();
        let task = self
            .lookups
            .spawn(&self.log_to, async move { sts.lookup(&d).await });
        Pending::Lookup {
            domain,
            zone,
            deadline,
            task,
        }
    }

    /// The reply for a pending answer.
    async fn finish(&self, pending: Pending) -> Reply {
        let (domain, zone, deadline, task) = match pending {
            Pending::Ready(r) => return r,
            Pending::Lookup {
                domain,
                zone,
                deadline,
                task,
            } => (domain, zone, deadline, task),
        };
        let reply = match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(lookup)) => {
                report(&domain, &lookup);
                socketmap::policy_reply(&domain, lookup.policy.as_ref().map(|p| &p.policy), &zone)
            }
            Ok(Err(e)) => {
                warn!(domain, error = %Chain(&e), "lookup task failed");
                Reply::Temp("internal error".into())
            }
            Err(_) => {
                inc(&self.counters.lookup_timeouts);
                warn!(
                    domain,
                    "lookup still running at the deadline; answered from the cache"
                );
                let cached = self
                    .sts
                    .cached_entry(&domain)
                    .and_then(|e| e.valid_policy(SystemTime::now()).cloned());
                socketmap::policy_reply(&domain, cached.as_ref().map(|c| &c.policy), &zone)
            }
        };
        debug!(domain, reply = %reply, "answered");
        reply
    }
}

/// Log what a lookup of `domain` reported.
fn report(domain: &str, lookup: &PolicyLookup) {
    for w in &lookup.warnings {
        warn!(domain, code = %w.code, "{w}");
    }
    if let Some(f) = &lookup.failure {
        info!(
            domain,
            result_type = %f.result_type,
            reason = %f.reason,
            "policy failure"
        );
    }
}

fn malformed() -> Reply {
    Reply::Perm("malformed request".into())
}

/// An answer in the making, in request order.
enum Pending {
    /// Known without a lookup.
    Ready(Reply),
    /// Waiting for a lookup task.
    Lookup {
        domain: String,
        zone: ZoneSettings,
        deadline: Instant,
        task: JoinHandle<PolicyLookup>,
    },
}

/// Serve one connection until the client closes it, it idles out, it
/// sends garbage, or the daemon stops.
async fn serve<S>(
    stream: S,
    listener: Arc<str>,
    shared: Arc<Shared>,
    mut stop: Stop,
    _slot: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    inc(&shared.counters.connections);
    inc(&shared.counters.open_connections);
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Pending>(shared.live().limits.max_pipelined);

    let writer = {
        let shared = Arc::clone(&shared);
        async move {
            let mut out = Vec::with_capacity(256);
            while let Some(p) = rx.recv().await {
                let reply = shared.finish(p).await;
                out.clear();
                socketmap::encode_into(&mut out, reply.to_string().as_bytes());
                if wr.write_all(&out).await.is_err() {
                    break;
                }
            }
            drop(rx);
            let _ = wr.shutdown().await;
        }
    };

    // Owns `tx`: when it returns, the writer sees the end of the queue
    // once the answers already queued are written.
    let reader = {
        let shared = Arc::clone(&shared);
        async move {
            let mut buf: Vec<u8> = Vec::with_capacity(1024);
            loop {
                loop {
                    match socketmap::decode(&buf, MAX_NETSTRING) {
                        Ok(Frame::Complete { payload, consumed }) => {
                            let p = shared.dispatch(payload, &listener);
                            buf.drain(..consumed);
                            if tx.send(p).await.is_err() {
                                return;
                            }
                        }
                        Ok(Frame::Incomplete) => break,
                        Err(e) => {
                            inc(&shared.counters.malformed);
                            warn!(
                                listener = &*listener,
                                error = %Chain(&e),
                                closing = true,
                                "malformed socketmap request"
                            );
                            let _ = tx.send(Pending::Ready(malformed())).await;
                            return;
                        }
                    }
                }
                buf.reserve(4096);
                let idle = shared.live().limits.idle_timeout();
                let read = tokio::select! {
                    _ = stop.wait_for(Option::is_some) => return,
                    r = tokio::time::timeout(idle, rd.read_buf(&mut buf)) => r,
                };
                match read {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return,
                }
            }
        }
    };

    tokio::join!(reader, writer);
    shared
        .counters
        .open_connections
        .fetch_sub(1, Ordering::Relaxed);
}

/// A Unix socket file, removed when dropped.
#[derive(Debug)]
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, SocketFile),
}

impl Listener {
    fn describe(&self) -> String {
        match self {
            Self::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "tcp".to_owned(), |a| a.to_string()),
            Self::Unix(_, f) => format!("unix:{}", f.0.display()),
        }
    }
}

fn bind_unix(path: &Path, mode: u32) -> Result<Listener, DaemonError> {
    let err = |cause: io::Error| DaemonError::Listen {
        what: format!("unix:{}", path.display()),
        cause,
    };
    match std::fs::symlink_metadata(path) {
        Ok(md) => {
            if !md.file_type().is_socket() {
                return Err(err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "the path exists and is not a socket",
                )));
            }
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another process is accepting on this socket",
                )));
            }
            std::fs::remove_file(path).map_err(err)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let l = UnixListener::bind(path).map_err(err)?;
    let file = SocketFile(path.to_owned());
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(err)?;
    Ok(Listener::Unix(l, file))
}

async fn accept_loop(listener: Listener, shared: Arc<Shared>, mut stop: Stop) {
    let name: Arc<str> = listener.describe().into();
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let slot = tokio::select! {
            biased;
            _ = stop.wait_for(Option::is_some) => break,
            s = Arc::clone(&shared.slots).acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(Option::is_some) => break,
            r = async {
                match &listener {
                    Listener::Tcp(l) => l.accept().await.map(|(s, _)| {
                        let _ = s.set_nodelay(true);
                        Conn::Tcp(s)
                    }),
                    Listener::Unix(l, _) => l.accept().await.map(|(s, _)| Conn::Unix(s)),
                }
            } => r,
        };
        let log_to = &shared.log_to;
        match accepted {
            Ok(Conn::Tcp(s)) => {
                debug!(listener = &*name, "connection accepted");
                let conn = serve(
                    s,
                    Arc::clone(&name),
                    Arc::clone(&shared),
                    stop.clone(),
                    slot,
                );
                log_to.spawn_in(&mut conns, conn);
            }
            Ok(Conn::Unix(s)) => {
                debug!(listener = &*name, "connection accepted");
                let conn = serve(
                    s,
                    Arc::clone(&name),
                    Arc::clone(&shared),
                    stop.clone(),
                    slot,
                );
                log_to.spawn_in(&mut conns, conn);
            }
            Err(e) => {
                drop(slot);
                warn!(listener = &*name, error = %Chain(&e), "accept failed");
                // EMFILE and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    let deadline = (*stop.borrow()).unwrap_or_else(Instant::now);
    let drained = tokio::time::timeout_at(deadline, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        let n = conns.len();
        conns.shutdown().await;
        warn!(
            listener = &*name,
            connections = n,
            "connections aborted at the shutdown deadline"
        );
    }
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

/// Starts the daemon (see the module docs).
#[derive(Debug)]
pub struct Daemon {
    _private: (),
}

impl Daemon {
    /// Start with `config`: bind every listener, open the store
    /// (`<state_dir>/policies.redb`, or memory), load the cache, start the
    /// maintenance task and accept connections. Messages (listening
    /// addresses, skipped store entries, policy failures, refresh
    /// warnings) are `tracing` events sent to the subscriber that is the
    /// default here (see [Logging](crate::daemon#logging)). Must run
    /// inside a tokio runtime.
    pub async fn start(config: Config) -> Result<DaemonHandle, DaemonError> {
        config.validate()?;
        let log_to = LogTo::current();
        let mut listeners = Vec::new();
        let mut local_addrs = Vec::new();
        for addr in config.tcp_listeners() {
            let err = |cause| DaemonError::Listen {
                what: addr.to_string(),
                cause,
            };
            let l = TcpListener::bind(addr).await.map_err(err)?;
            local_addrs.push(l.local_addr().map_err(err)?);
            listeners.push(Listener::Tcp(l));
        }
        for path in &config.unix {
            listeners.push(bind_unix(path, config.unix_mode)?);
        }

        let overrides = config.overrides();
        let dns = overrides.dns()?;
        let http = overrides.policy_client(dns.clone())?;
        let store: Arc<dyn Store> = match (&config.state_dir, config.store_path()) {
            (Some(dir), Some(path)) => {
                std::fs::create_dir_all(dir).map_err(|cause| DaemonError::StateDir {
                    path: dir.clone(),
                    cause,
                })?;
                let opened = RedbStore::open_or_recover(&path)?;
                if let Some(aside) = &opened.moved_aside {
                    error!(
                        path = %path.display(),
                        moved_to = %aside.display(),
                        "the policy cache file was unreadable; moved aside, starting with an empty cache"
                    );
                }
                Arc::new(opened.store)
            }
            _ => Arc::new(MemoryStore::new()),
        };
        let (sts, skipped) = MtaSts::new(dns, http, store, config.service_settings())?;
        for s in skipped {
            warn!(
                domain = s.domain,
                reason = s.reason,
                "policy store entry skipped"
            );
        }

        let shared = Arc::new(Shared {
            sts: Arc::clone(&sts),
            live: RwLock::new(Arc::new(Live::from_config(&config))),
            lookups: TaskSet::default(),
            log_to: log_to.clone(),
            slots: Arc::new(Semaphore::new(config.limits.max_connections)),
            counters: Counters::default(),
        });
        let (stop_tx, stop_rx) = watch::channel(None);
        let mut accept_tasks = Vec::new();
        let mut unix_paths = Vec::new();
        for l in listeners {
            info!(listener = l.describe(), "listening");
            if let Listener::Unix(_, f) = &l {
                unix_paths.push(f.0.clone());
            }
            accept_tasks.push(log_to.spawn(accept_loop(l, Arc::clone(&shared), stop_rx.clone())));
        }
        let maintenance = sts.spawn_maintenance(config.cache.refresh_scan(), move |w| {
            log_to.scope(|| warn!(code = %w.code, "{w}"));
        });
        Ok(DaemonHandle {
            shared,
            running: Mutex::new(config),
            local_addrs,
            unix_paths,
            stop: stop_tx,
            accept_tasks,
            maintenance: Some(maintenance),
        })
    }
}

/// A running daemon. Dropping it without [`DaemonHandle::shutdown`] stops
/// it abruptly (in-flight requests are cut).
pub struct DaemonHandle {
    shared: Arc<Shared>,
    running: Mutex<Config>,
    local_addrs: Vec<SocketAddr>,
    unix_paths: Vec<PathBuf>,
    stop: watch::Sender<Option<Instant>>,
    accept_tasks: Vec<JoinHandle<()>>,
    maintenance: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DaemonHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonHandle")
            .field("local_addrs", &self.local_addrs)
            .field("unix_paths", &self.unix_paths)
            .finish_non_exhaustive()
    }
}

impl DaemonHandle {
    /// The bound TCP addresses (with the actual port when `:0` was asked).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The Unix socket paths.
    pub fn unix_paths(&self) -> &[PathBuf] {
        &self.unix_paths
    }

    /// The policy service (metrics, cache inspection).
    pub fn service(&self) -> &Arc<MtaSts> {
        &self.shared.sts
    }

    /// The counters.
    pub fn stats(&self) -> DaemonStats {
        let c = &self.shared.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DaemonStats {
            connections: g(&c.connections),
            open_connections: g(&c.open_connections),
            requests: g(&c.requests),
            malformed: g(&c.malformed),
            lookup_timeouts: g(&c.lookup_timeouts),
        }
    }

    /// Apply a new configuration (see the module docs for what a reload
    /// changes). An invalid configuration is refused and the running one
    /// stays in force.
    pub fn reload(&self, new: Config) -> Result<ReloadOutcome, ConfigError> {
        new.validate()?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut restart_needed = Vec::new();
        let mut differs = |name: &'static str, changed: bool| {
            if changed {
                restart_needed.push(name);
            }
        };
        differs("listen", running.tcp_listeners() != new.tcp_listeners());
        differs("unix", running.unix != new.unix);
        differs("unix_mode", running.unix_mode != new.unix_mode);
        differs("state_dir", running.state_dir != new.state_dir);
        differs("strict", running.strict != new.strict);
        differs("resolver", running.resolver != new.resolver);
        differs("ca_file", running.ca_file != new.ca_file);
        differs("https_port", running.https_port != new.https_port);
        differs("cache", running.cache != new.cache);
        differs(
            "limits.max_connections",
            running.limits.max_connections != new.limits.max_connections,
        );
        let mut limits = new.limits;
        limits.max_connections = running.limits.max_connections;
        running.zones = new.zones;
        running.default_zone = new.default_zone;
        running.limits = limits;
        let live = Arc::new(Live::from_config(&running));
        *self.shared.live.write().unwrap_or_else(|p| p.into_inner()) = live;
        Ok(ReloadOutcome { restart_needed })
    }

    /// Stop gracefully: stop accepting, let connections finish their
    /// requests until `limits.shutdown_timeout_secs`, then abort the rest,
    /// stop maintenance and release the store.
    pub async fn shutdown(mut self) {
        let grace = self.shared.live().limits.shutdown_timeout();
        let _ = self.stop.send(Some(Instant::now() + grace));
        for t in std::mem::take(&mut self.accept_tasks) {
            let _ = t.await;
        }
        if let Some(m) = self.maintenance.take() {
            m.abort();
            let _ = m.await;
        }
        self.shared.lookups.abort_all().await;
    }
}

impl Drop for DaemonHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(Some(Instant::now()));
        if let Some(m) = self.maintenance.take() {
            m.abort();
        }
        for t in &self.accept_tasks {
            t.abort();
        }
        let handles = {
            let mut g = self
                .shared
                .lookups
                .inner
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut g.0)
        };
        for h in handles {
            h.abort();
        }
    }
}
