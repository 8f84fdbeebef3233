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
//! `limits.max_connections` of its own connections are open (others wait
//! in the backlog; each listener has its own pool, so a flood on one
//! cannot take the slots of another). Each connection is one task reading
//! netstring requests in sequence; up to `limits.max_pipelined` requests
//! are looked up concurrently and answered in order. A connection is
//! closed when it sends no request for `limits.idle_timeout_secs`, when a
//! request it started is not complete `limits.request_timeout_secs` after
//! its first byte (trickling clients), or when an answer cannot be written
//! for `limits.write_timeout_secs` (clients that do not read). A byte
//! stream that is not a
//! netstring (or one over 100000 bytes) is answered `PERM malformed
//! request` and the connection is closed after the earlier answers;
//! a well-framed payload that is not `NAME KEY` gets the same answer but
//! the connection stays open.
//!
//! # Lookups under load
//!
//! Discoveries (the DNS and HTTPS work for a domain not answered from
//! memory) run in tasks of the policy service, at most
//! `limits.max_lookups` at once over all connections, which bounds the
//! sockets and memory they use whatever clients send (see
//! [`policy_fetch::service`]). A client that disconnects does not cancel a
//! discovery (other clients may be waiting for it; it fills the cache).
//! Requests already read from a client that closed its side are still
//! answered (it may have closed only its sending half), so they keep
//! their place in the queue until their lookup deadline at most; the
//! queue is bounded, and a connection that cannot take its answers is
//! closed (`limits.write_timeout_secs`), dropping its requests. When every slot is taken, a domain with a valid cached
//! policy is answered from the cache at once, other requests queue (at
//! most `limits.max_waiting_lookups`; beyond that they are answered
//! `TEMP busy`, so Postfix defers the message instead of sending it
//! without MTA-STS). A request that waited for a slot without getting one
//! records nothing for its domain, so a flood cannot put a domain into the
//! 5-minute retry back-off.
//!
//! A lookup still running after `limits.lookup_timeout_secs` is answered
//! from the cache (a still-valid policy) or `NOTFOUND `, as for a policy
//! that cannot be fetched; it finishes in the background and fills the
//! cache. A request still queued for a discovery slot at that time gets
//! `TEMP busy, try again later`.
//!
//! # Reload and shutdown
//!
//! [`DaemonHandle::reload`] swaps, atomically for new requests, the zone
//! settings (`zones`, `default_zone`) and the per-request limits
//! (`idle_timeout_secs`, `request_timeout_secs`, `write_timeout_secs`,
//! `lookup_timeout_secs`, `shutdown_timeout_secs`;
//! `max_pipelined` for new connections). Listeners, the state directory,
//! the network overrides, `strict`, `[cache]`, `metrics`, `max_connections`,
//! `max_lookups` and `max_waiting_lookups` are fixed at start: a reload
//! that changes them reports them in [`ReloadOutcome::restart_needed`] and
//! leaves them as they were.
//!
//! [`DaemonHandle::shutdown`] stops accepting (closing the listeners and
//! removing the Unix socket files), reads the requests that have already
//! arrived on each connection, answers them within
//! `limits.shutdown_timeout_secs` (what is still unanswered then gets
//! `TEMP shutting down`), closes the connections, stops the maintenance
//! task and the running discoveries and closes the store.
//!
//! # Metrics
//!
//! With `metrics = "IP:PORT"` in the configuration (`mtasts daemon
//! --metrics IP:PORT`), the daemon serves `GET /metrics` there in the
//! Prometheus text format (version 0.0.4); other paths are `404`, other
//! methods on `/metrics` `405`, a request that is not HTTP/1.x `400`. The
//! listener has no authentication: keep it on a loopback address (the
//! daemon warns otherwise). It serves at most
//! [`MAX_ADMIN_CONNECTIONS`](crate::metrics::MAX_ADMIN_CONNECTIONS)
//! connections at once, one request each, with the bounds of
//! [`crate::metrics`]. [`DaemonHandle::metrics_addr`] is its bound address
//! and [`DaemonHandle::metrics_text`] the same text without HTTP.
//!
//! | metric | type | what |
//! |--------|------|------|
//! | `mtasts_daemon_requests_total{answer}` | counter | answers given, by `answer` (`ok`, `notfound`, `temp`, `perm`), malformed requests included |
//! | `mtasts_daemon_malformed_requests_total` | counter | byte streams that are not netstrings, and payloads that are not `NAME KEY` |
//! | `mtasts_daemon_lookups_total{cache}` | counter | well-formed requests answered, by the `cache` value of their `lookup` event |
//! | `mtasts_daemon_lookup_duration_seconds` | histogram | the `latency_us` of the `lookup` events (buckets 0.0001 s to 60 s) |
//! | `mtasts_daemon_connections_total` | counter | socketmap connections accepted |
//! | `mtasts_daemon_connections_open` | gauge | socketmap connections open now |
//! | `mtasts_daemon_busy_total` | counter | requests answered `TEMP` because no discovery slot was free |
//! | `mtasts_daemon_lookup_timeouts_total` | counter | lookups answered at `lookup_timeout_secs` |
//! | `mtasts_daemon_request_timeouts_total` | counter | connections closed for an incomplete request |
//! | `mtasts_daemon_write_timeouts_total` | counter | connections closed for not reading their answers |
//! | `mtasts_daemon_shutdown_temp_total` | counter | requests answered `TEMP` at the shutdown deadline |
//! | `mtasts_cache_hits_total` | counter | lookups the policy service answered from memory without IO |
//! | `mtasts_cache_misses_total` | counter | lookups that ran or joined a discovery |
//! | `mtasts_cache_coalesced_total` | counter | lookups that joined a running discovery |
//! | `mtasts_cache_entries` | gauge | domains cached |
//! | `mtasts_cache_bytes` | gauge | approximate memory of the cached entries |
//! | `mtasts_cache_refreshes_total` | counter | background refreshes |
//! | `mtasts_cache_evictions_total` | counter | entries evicted (unused, or cache full) |
//! | `mtasts_store_errors_total` | counter | failed writes and removals of the persistent store |
//! | `mtasts_store_hits_total` | counter | lookups answered with a policy another node put in a shared store |
//! | `mtasts_store_shared_waits_total` | counter | discoveries that waited for another node's discovery of the same domain |
//! | `mtasts_dns_txt_queries_total` | counter | `_mta-sts` TXT queries sent |
//! | `mtasts_policy_fetch_attempts_total` | counter | policy fetches started |
//! | `mtasts_policy_fetches_total{outcome}` | counter | fetch outcomes: `ok`, `fetch_error`, `policy_invalid`, `webpki_invalid` (refreshes included) |
//! | `mtasts_discovery_busy_total` | counter | lookups that found every discovery slot taken and got the cached policy or nothing |
//! | `mtasts_discoveries_running` | gauge | discoveries running now |
//! | `mtasts_discoveries_peak` | gauge | the most discoveries that ran at once |
//! | `mtasts_discoveries_waiting` | gauge | lookups waiting for a discovery slot |
//!
//! Every answered well-formed request is counted once in
//! `mtasts_daemon_lookups_total` and observed once in the histogram, and
//! every answer once in `mtasts_daemon_requests_total`: the sum of the
//! latter is the histogram's count plus the malformed requests.
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
//! | WARN  | `busy: every lookup slot taken, answered TEMP` | `domain` |
//! | INFO  | `request not complete in time; closing` | `listener` |
//! | INFO  | `client does not read its answers; closing` | `listener` |
//! | WARN  | `connections aborted at the shutdown deadline` | `listener`, `connections` |
//! | INFO  | `metrics listening` | `listener` (`IP:PORT`) |
//! | WARN  | `the metrics listener is not on a loopback address; /metrics has no authentication` | `listener` |
//! | DEBUG | `connection accepted` | `listener` |
//! | DEBUG | `lookup` (every well-formed request, see below) | `domain`, `map`, `answer`, `policy`, `cache`, `latency_us` |
//! | DEBUG | `metrics request` | `status` |
//!
//! ## The `lookup` event
//!
//! Every well-formed request gets one `lookup` event when its answer is
//! ready. It is a DEBUG event (`mtasts daemon -v`) because a busy Postfix
//! asks once per delivery attempt, which would flood an INFO log; the
//! counters of [Metrics](#metrics) give the totals without it. Fields:
//!
//! - `domain`: the normalised Policy Domain (the key as sent when it is
//!   not a domain, see `cache=skipped`);
//! - `map`: the socketmap name (the zone);
//! - `answer`: `OK`, `NOTFOUND`, `TEMP` or `PERM`;
//! - `policy`: the mode of the policy the answer applied, `enforce`,
//!   `testing` or `none`, or `absent` when no policy applied;
//! - `cache`: where the answer came from — `hit` (memory, no IO),
//!   `revalidated` (the TXT id was looked up and still matches the cached
//!   policy), `fetched` (a new policy was fetched), `stale` (the cached
//!   policy, because the TXT record or the new policy could not be had),
//!   `miss` (a discovery ran and found no policy to apply), `coalesced`
//!   (joined a discovery of the same domain started by another request),
//!   `store` (a policy another node put in a shared store moments ago),
//!   `busy` (every discovery slot was taken: the cached policy without a
//!   TXT check, or `TEMP`), `timeout` (answered at `lookup_timeout_secs`),
//!   `skipped` (the key is not a domain: `NOTFOUND` without a lookup),
//!   `shutdown` (`TEMP` at the shutdown deadline) or `error` (the lookup
//!   task failed);
//! - `latency_us`: microseconds from the request being read to its answer
//!   being ready.
//!
//! A request that is not `NAME KEY` has no `lookup` event (it is logged
//! as `malformed socketmap request`).
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
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;
use tracing::{Dispatch, debug, error, info, warn};

use crate::config::{Config, ConfigError, Limits};
use crate::metrics::{Exposition, Histogram, Kind};
use crate::socketmap::{self, Frame, Key, MAX_NETSTRING, Reply, Request, ZoneSettings};
use mta_sts_core::discovery::Rule;
use mta_sts_core::{Mode, Policy};
use policy_fetch::error::{Chain, FetchError, StoreError, StoreOp};
use policy_fetch::pg_store::{PgOptions, PgStore};
use policy_fetch::service::{Answer, MtaSts, PolicyLookup};
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
    /// The state directory could not be used: it is not a directory, or
    /// it could not be created.
    #[error("cannot use the state directory {}", path.display())]
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
    /// Requests answered `TEMP` because every lookup slot was taken and
    /// the waiting queue was full.
    pub busy: u64,
    /// Connections closed because a request was not complete within
    /// `request_timeout_secs`.
    pub request_timeouts: u64,
    /// Connections closed because an answer could not be written within
    /// `write_timeout_secs`.
    pub write_timeouts: u64,
    /// Requests answered `TEMP` at the shutdown deadline.
    pub shutdown_temp: u64,
    /// Answers `OK ...` given.
    pub answered_ok: u64,
    /// Answers `NOTFOUND ` given.
    pub answered_notfound: u64,
    /// Answers `TEMP ...` given.
    pub answered_temp: u64,
    /// Answers `PERM ...` given (malformed requests).
    pub answered_perm: u64,
    /// Well-formed requests answered (each has one `lookup` event and one
    /// observation in the latency histogram).
    pub lookups: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    open_connections: AtomicU64,
    requests: AtomicU64,
    malformed: AtomicU64,
    lookup_timeouts: AtomicU64,
    busy: AtomicU64,
    request_timeouts: AtomicU64,
    write_timeouts: AtomicU64,
    shutdown_temp: AtomicU64,
    /// Answers by [`answer_index`].
    answers: [AtomicU64; 4],
    /// Well-formed requests by [`Source`].
    sources: [AtomicU64; Source::ALL.len()],
    /// Latency of the well-formed requests.
    latency: Histogram,
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The `answer` labels of `mtasts_daemon_requests_total`, by
/// [`answer_index`].
const ANSWER_LABELS: [&str; 4] = ["ok", "notfound", "temp", "perm"];

/// The index of a reply's kind in [`Counters::answers`].
fn answer_index(reply: &Reply) -> usize {
    match reply {
        Reply::Ok(_) => 0,
        Reply::NotFound => 1,
        Reply::Temp(_) => 2,
        Reply::Perm(_) => 3,
    }
}

/// The `answer` field of the `lookup` event.
fn answer_word(reply: &Reply) -> &'static str {
    match reply {
        Reply::Ok(_) => "OK",
        Reply::NotFound => "NOTFOUND",
        Reply::Temp(_) => "TEMP",
        Reply::Perm(_) => "PERM",
    }
}

/// The `policy` field of the `lookup` event: the mode of the policy the
/// answer applied, or `absent`.
fn policy_word(policy: Option<&Policy<'_>>) -> &'static str {
    match policy.map(Policy::mode) {
        None => "absent",
        Some(Mode::Enforce) => "enforce",
        Some(Mode::Testing) => "testing",
        Some(Mode::None) => "none",
    }
}

/// Where the answer of a well-formed request came from (the `cache` field
/// of the `lookup` event; see [the module docs](crate::daemon#the-lookup-event)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Hit,
    Revalidated,
    Fetched,
    Stale,
    Miss,
    Coalesced,
    Store,
    Busy,
    Timeout,
    Skipped,
    Shutdown,
    Error,
}

impl Source {
    const ALL: [Self; 12] = [
        Self::Hit,
        Self::Revalidated,
        Self::Fetched,
        Self::Stale,
        Self::Miss,
        Self::Coalesced,
        Self::Store,
        Self::Busy,
        Self::Timeout,
        Self::Skipped,
        Self::Shutdown,
        Self::Error,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Revalidated => "revalidated",
            Self::Fetched => "fetched",
            Self::Stale => "stale",
            Self::Miss => "miss",
            Self::Coalesced => "coalesced",
            Self::Store => "store",
            Self::Busy => "busy",
            Self::Timeout => "timeout",
            Self::Skipped => "skipped",
            Self::Shutdown => "shutdown",
            Self::Error => "error",
        }
    }

    /// The source of a lookup's result; `joined` when a discovery of the
    /// domain was already running when the request arrived.
    fn of(lookup: &PolicyLookup, joined: bool) -> Self {
        match lookup.answer {
            Answer::CacheHit => Self::Hit,
            Answer::Busy => Self::Busy,
            Answer::FromStore => Self::Store,
            Answer::Discovered(_) if joined => Self::Coalesced,
            Answer::Discovered(rule) => match rule {
                Rule::D1CachedCurrent => Self::Revalidated,
                Rule::D2FetchedReplaced | Rule::D4FetchedNew | Rule::D11RefreshOk => Self::Fetched,
                Rule::D3FetchFailedUseCached
                | Rule::D6NoRecordUseCached
                | Rule::D8TempFailUseCached
                | Rule::D12RefreshFailed => Self::Stale,
                Rule::D5FetchFailedNoPolicy
                | Rule::D7NoRecordNoPolicy
                | Rule::D9TempFailNoPolicy
                | Rule::D10RetryLimited => Self::Miss,
            },
        }
    }
}

/// A well-formed request waiting for its lookup, for its `lookup` event.
struct Asked {
    domain: String,
    /// The socketmap name.
    map: String,
    /// When the request was read.
    started: Instant,
    /// A discovery of the domain was already running when it arrived.
    joined: bool,
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

/// A spawned lookup that is aborted when dropped: the requests of a
/// connection that goes away stop waiting (the discovery itself runs in
/// the service's own task and goes on).
struct Waiter(JoinHandle<PolicyLookup>);

impl Drop for Waiter {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// After the shutdown deadline, how long connections get to write their
/// last (`TEMP`) answers before they are cut.
const SHUTDOWN_WRITE_GRACE: Duration = Duration::from_secs(1);

/// `None` while running; the deadline for in-flight requests once
/// shutting down.
type Stop = watch::Receiver<Option<Instant>>;

struct Shared {
    sts: Arc<MtaSts>,
    live: RwLock<Arc<Live>>,
    log_to: LogTo,
    counters: Counters,
}

impl Shared {
    fn live(&self) -> Arc<Live> {
        Arc::clone(&self.live.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Count an answer (see [`Counters::answers`]).
    fn count_answer(&self, reply: &Reply) {
        if let Some(c) = self.counters.answers.get(answer_index(reply)) {
            inc(c);
        }
    }

    /// The answer to a malformed request, counted.
    fn malformed(&self) -> Reply {
        inc(&self.counters.malformed);
        let r = malformed();
        self.count_answer(&r);
        r
    }

    /// Count, time and log (the `lookup` event) the answer to a
    /// well-formed request.
    fn answered(
        &self,
        domain: &str,
        map: &str,
        reply: &Reply,
        policy: Option<&Policy<'_>>,
        source: Source,
        started: Instant,
    ) {
        let latency = started.elapsed();
        self.count_answer(reply);
        if let Some(i) = Source::ALL.iter().position(|s| *s == source)
            && let Some(c) = self.counters.sources.get(i)
        {
            inc(c);
        }
        self.counters.latency.observe(latency);
        debug!(
            domain,
            map,
            answer = answer_word(reply),
            policy = policy_word(policy),
            cache = source.as_str(),
            latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            "lookup"
        );
    }

    /// Turn one request payload, received on `listener`, into a pending
    /// answer.
    fn dispatch(&self, payload: &[u8], listener: &str) -> Pending {
        let started = Instant::now();
        inc(&self.counters.requests);
        let req = match Request::parse(payload) {
            Ok(r) => r,
            Err(e) => {
                warn!(
                    listener,
                    error = %Chain(&e),
                    closing = false,
                    "malformed socketmap request"
                );
                return Pending::Ready(self.malformed());
            }
        };
        let domain = match socketmap::normalize_key(req.key) {
            Key::Domain(d) => d,
            Key::Skip(_) => {
                let r = Reply::NotFound;
                self.answered(req.key, req.name, &r, None, Source::Skipped, started);
                return Pending::Ready(r);
            }
        };
        let live = self.live();
        let zone = live.zone(req.name);
        // Fast path: a fresh cached policy is answered at once, without a
        // task, a timer or any IO.
        if let Some(p) = self.sts.lookup_fresh(&domain) {
            let r = socketmap::policy_reply(&domain, Some(&p.policy), &zone);
            self.answered(&domain, req.name, &r, Some(&p.policy), Source::Hit, started);
            return Pending::Ready(r);
        }
        let joined = self.sts.discovery_running(&domain);
        let deadline = Instant::now() + live.limits.lookup_timeout();
        let sts = Arc::clone(&self.sts);
        let d = domain.clone();
        let task = Waiter(self.log_to.spawn(async move { sts.lookup(&d).await }));
        Pending::Lookup {
            asked: Asked {
                domain,
                map: req.name.to_owned(),
                started,
                joined,
            },
            zone,
            deadline,
            task,
        }
    }

    /// The reply for a pending answer; `TEMP` once the shutdown deadline
    /// in `stop` has passed.
    async fn finish(&self, pending: Pending, stop: &mut Stop) -> Reply {
        let (asked, zone, deadline, mut task) = match pending {
            Pending::Ready(r) => return r,
            Pending::Lookup {
                asked,
                zone,
                deadline,
                task,
            } => (asked, zone, deadline, task),
        };
        let domain = asked.domain.as_str();
        let done = |reply: Reply, policy: Option<&Policy<'_>>, source: Source| {
            self.answered(domain, &asked.map, &reply, policy, source, asked.started);
            reply
        };
        let waited = tokio::select! {
            biased;
            r = tokio::time::timeout_at(deadline, &mut task.0) => r,
            () = shutdown_deadline(stop) => {
                inc(&self.counters.shutdown_temp);
                return done(Reply::Temp("shutting down".into()), None, Source::Shutdown);
            }
        };
        match waited {
            Ok(Ok(lookup)) if lookup.answer == Answer::Busy && lookup.policy.is_none() => {
                done(self.busy(domain), None, Source::Busy)
            }
            Ok(Ok(lookup)) => {
                report(domain, &lookup);
                let policy = lookup.policy.as_ref().map(|p| &p.policy);
                let reply = socketmap::policy_reply(domain, policy, &zone);
                done(reply, policy, Source::of(&lookup, asked.joined))
            }
            Ok(Err(e)) => {
                warn!(domain, error = %Chain(&e), "lookup task failed");
                done(Reply::Temp("internal error".into()), None, Source::Error)
            }
            Err(_) => {
                let cached = self
                    .sts
                    .cached_entry(domain)
                    .and_then(|e| e.valid_policy(SystemTime::now()).cloned());
                if cached.is_none() && !self.sts.discovery_running(domain) {
                    // Still queued for a discovery slot: it never started.
                    done(self.busy(domain), None, Source::Busy)
                } else {
                    inc(&self.counters.lookup_timeouts);
                    warn!(
                        domain,
                        "lookup still running at the deadline; answered from the cache"
                    );
                    let policy = cached.as_ref().map(|c| &c.policy);
                    let reply = socketmap::policy_reply(domain, policy, &zone);
                    done(reply, policy, Source::Timeout)
                }
            }
        }
    }
}

impl Shared {
    /// The answer for a request that got no discovery slot: counted,
    /// logged, `TEMP`.
    fn busy(&self, domain: &str) -> Reply {
        inc(&self.counters.busy);
        warn!(domain, "busy: every lookup slot taken, answered TEMP");
        Reply::Temp("busy, try again later".into())
    }
}

impl Shared {
    /// The counters.
    fn stats(&self) -> DaemonStats {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let answer = |i: usize| c.answers.get(i).map_or(0, g);
        DaemonStats {
            connections: g(&c.connections),
            open_connections: g(&c.open_connections),
            requests: g(&c.requests),
            malformed: g(&c.malformed),
            lookup_timeouts: g(&c.lookup_timeouts),
            busy: g(&c.busy),
            request_timeouts: g(&c.request_timeouts),
            write_timeouts: g(&c.write_timeouts),
            shutdown_temp: g(&c.shutdown_temp),
            answered_ok: answer(0),
            answered_notfound: answer(1),
            answered_temp: answer(2),
            answered_perm: answer(3),
            lookups: c.sources.iter().map(g).sum(),
        }
    }

    /// The Prometheus text exposition (see [Metrics](crate::daemon#metrics)).
    fn metrics_text(&self) -> String {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let s = self.stats();
        let m = self.sts.metrics();
        let mut e = Exposition::default();
        let name = "mtasts_daemon_requests_total";
        e.family(
            name,
            Kind::Counter,
            "Socketmap answers given, by answer (malformed requests included).",
        );
        for (label, n) in ANSWER_LABELS.iter().zip(&c.answers) {
            e.labelled(name, "answer", label, g(n));
        }
        e.single(
            "mtasts_daemon_malformed_requests_total",
            Kind::Counter,
            "Requests that are not netstrings or not NAME KEY (answered PERM).",
            s.malformed,
        );
        let name = "mtasts_daemon_lookups_total";
        e.family(
            name,
            Kind::Counter,
            "Well-formed requests answered, by where the answer came from.",
        );
        for (source, n) in Source::ALL.iter().zip(&c.sources) {
            e.labelled(name, "cache", source.as_str(), g(n));
        }
        e.histogram(
            "mtasts_daemon_lookup_duration_seconds",
            "Time from a well-formed request being read to its answer being ready.",
            &c.latency.snapshot(),
        );
        e.single(
            "mtasts_daemon_connections_total",
            Kind::Counter,
            "Socketmap connections accepted.",
            s.connections,
        )
        .single(
            "mtasts_daemon_connections_open",
            Kind::Gauge,
            "Socketmap connections open now.",
            s.open_connections,
        )
        .single(
            "mtasts_daemon_busy_total",
            Kind::Counter,
            "Requests answered TEMP because no discovery slot was free.",
            s.busy,
        )
        .single(
            "mtasts_daemon_lookup_timeouts_total",
            Kind::Counter,
            "Lookups answered at lookup_timeout_secs from the cache or NOTFOUND.",
            s.lookup_timeouts,
        )
        .single(
            "mtasts_daemon_request_timeouts_total",
            Kind::Counter,
            "Connections closed because a request was not complete in time.",
            s.request_timeouts,
        )
        .single(
            "mtasts_daemon_write_timeouts_total",
            Kind::Counter,
            "Connections closed because the client did not read its answers.",
            s.write_timeouts,
        )
        .single(
            "mtasts_daemon_shutdown_temp_total",
            Kind::Counter,
            "Requests answered TEMP at the shutdown deadline.",
            s.shutdown_temp,
        )
        .single(
            "mtasts_cache_hits_total",
            Kind::Counter,
            "Lookups answered from memory without IO.",
            m.hits,
        )
        .single(
            "mtasts_cache_misses_total",
            Kind::Counter,
            "Lookups that ran or joined a discovery.",
            m.lookups,
        )
        .single(
            "mtasts_cache_coalesced_total",
            Kind::Counter,
            "Lookups that joined a discovery already running for the domain.",
            m.coalesced,
        )
        .single(
            "mtasts_cache_entries",
            Kind::Gauge,
            "Domains cached.",
            m.cached_entries,
        )
        .single(
            "mtasts_cache_bytes",
            Kind::Gauge,
            "Approximate memory of the cached entries, in bytes.",
            m.cached_bytes,
        )
        .single(
            "mtasts_cache_refreshes_total",
            Kind::Counter,
            "Background refreshes run.",
            m.refreshes,
        )
        .single(
            "mtasts_cache_evictions_total",
            Kind::Counter,
            "Cache entries evicted (unused for long, or cache full).",
            m.evictions,
        )
        .single(
            "mtasts_store_errors_total",
            Kind::Counter,
            "Failed writes and removals of the persistent policy store.",
            m.store_errors,
        )
        .single(
            "mtasts_store_hits_total",
            Kind::Counter,
            "Lookups answered with a policy another node put in a shared store.",
            m.store_hits,
        )
        .single(
            "mtasts_store_shared_waits_total",
            Kind::Counter,
            "Discoveries that waited for another node's discovery of the same domain.",
            m.shared_waits,
        )
        .single(
            "mtasts_dns_txt_queries_total",
            Kind::Counter,
            "_mta-sts TXT queries sent.",
            m.txt_lookups,
        )
        .single(
            "mtasts_policy_fetch_attempts_total",
            Kind::Counter,
            "Policy fetches started.",
            m.fetches,
        );
        let name = "mtasts_policy_fetches_total";
        e.family(
            name,
            Kind::Counter,
            "Policy fetch outcomes (background refreshes included).",
        )
        .labelled(name, "outcome", "ok", m.fetch_ok)
        .labelled(name, "outcome", "fetch_error", m.fetch_error)
        .labelled(name, "outcome", "policy_invalid", m.policy_invalid)
        .labelled(name, "outcome", "webpki_invalid", m.webpki_invalid);
        e.single(
            "mtasts_discovery_busy_total",
            Kind::Counter,
            "Lookups that found every discovery slot taken.",
            m.busy,
        )
        .single(
            "mtasts_discoveries_running",
            Kind::Gauge,
            "Discoveries running now.",
            m.running,
        )
        .single(
            "mtasts_discoveries_peak",
            Kind::Gauge,
            "The most discoveries that ran at once.",
            m.peak_running,
        )
        .single(
            "mtasts_discoveries_waiting",
            Kind::Gauge,
            "Lookups waiting for a discovery slot now.",
            m.waiting,
        );
        e.finish()
    }
}

/// Check that `dir` is a directory, creating it (and its parents) when
/// it does not exist.
fn prepare_state_dir(dir: &Path) -> Result<(), DaemonError> {
    let err = |cause| DaemonError::StateDir {
        path: dir.to_owned(),
        cause,
    };
    match std::fs::metadata(dir) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => Err(err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir_all(dir).map_err(err),
        Err(e) => Err(err(e)),
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

/// Resolves when the daemon is stopping.
async fn stopping(stop: &mut Stop) {
    let _ = stop.wait_for(Option::is_some).await;
}

/// Resolves when the daemon is stopping and its deadline has passed.
async fn shutdown_deadline(stop: &mut Stop) {
    let at = match stop.wait_for(Option::is_some).await {
        Ok(v) => *v,
        Err(_) => None,
    };
    // Without a deadline the daemon handle is gone: stop at once.
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
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
        asked: Asked,
        zone: ZoneSettings,
        deadline: Instant,
        task: Waiter,
    },
}

/// Serve one connection until the client closes it, it idles out, it
/// trickles, it stops reading, it sends garbage, or the daemon stops.
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
        let listener = Arc::clone(&listener);
        let mut stop = stop.clone();
        async move {
            let mut out = Vec::with_capacity(256);
            while let Some(p) = rx.recv().await {
                let reply = shared.finish(p, &mut stop).await;
                out.clear();
                socketmap::encode_into(&mut out, reply.to_string().as_bytes());
                let limit = shared.live().limits.write_timeout();
                match tokio::time::timeout(limit, wr.write_all(&out)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        inc(&shared.counters.write_timeouts);
                        info!(
                            listener = &*listener,
                            "client does not read its answers; closing"
                        );
                        break;
                    }
                }
            }
            drop(rx);
            let limit = shared.live().limits.write_timeout();
            let _ = tokio::time::timeout(limit, wr.shutdown()).await;
        }
    };

    // Owns `tx`: when it returns, the writer sees the end of the queue
    // once the answers already queued are written.
    let reader = {
        let shared = Arc::clone(&shared);
        async move {
            let mut buf: Vec<u8> = Vec::with_capacity(1024);
            // When the first byte of the request now in `buf` arrived.
            let mut started: Option<Instant> = None;
            loop {
                let before = buf.len();
                if !decode_all(&shared, &listener, &mut buf, &tx).await {
                    return;
                }
                if buf.is_empty() {
                    started = None;
                } else if buf.len() < before {
                    // A new request began in the last read.
                    started = Some(Instant::now());
                }
                buf.reserve(4096);
                let limits = shared.live().limits;
                let read_until = match started {
                    Some(t) => t + limits.request_timeout(),
                    None => Instant::now() + limits.idle_timeout(),
                };
                let read = tokio::select! {
                    biased;
                    () = stopping(&mut stop) => {
                        // Take what has already arrived, without waiting,
                        // so it is answered rather than dropped.
                        let mut rounds = 0;
                        while rounds < 64
                            && matches!(
                                tokio::time::timeout(Duration::ZERO, rd.read_buf(&mut buf)).await,
                                Ok(Ok(n)) if n > 0
                            )
                        {
                            rounds += 1;
                            buf.reserve(4096);
                        }
                        let _ = decode_all(&shared, &listener, &mut buf, &tx).await;
                        return;
                    }
                    // The writer stopped (the client does not read).
                    () = tx.closed() => return,
                    r = tokio::time::timeout_at(read_until, rd.read_buf(&mut buf)) => r,
                };
                match read {
                    Ok(Ok(n)) if n > 0 => {
                        started.get_or_insert_with(Instant::now);
                    }
                    Ok(_) => return,
                    Err(_) => {
                        if started.is_some() {
                            inc(&shared.counters.request_timeouts);
                            info!(
                                listener = &*listener,
                                "request not complete in time; closing"
                            );
                        }
                        return;
                    }
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

/// Dispatch every complete request in `buf` (removing it) to the writer.
/// `false` when the connection is to be closed (garbage, or the writer is
/// gone).
async fn decode_all(
    shared: &Shared,
    listener: &str,
    buf: &mut Vec<u8>,
    tx: &mpsc::Sender<Pending>,
) -> bool {
    let mut consumed_total = 0;
    let keep_going = loop {
        match socketmap::decode(&buf[consumed_total..], MAX_NETSTRING) {
            Ok(Frame::Complete { payload, consumed }) => {
                let p = shared.dispatch(payload, listener);
                consumed_total += consumed;
                if tx.send(p).await.is_err() {
                    break false;
                }
            }
            Ok(Frame::Incomplete) => break true,
            Err(e) => {
                warn!(
                    listener,
                    error = %Chain(&e),
                    closing = true,
                    "malformed socketmap request"
                );
                let _ = tx.send(Pending::Ready(shared.malformed())).await;
                break false;
            }
        }
    };
    buf.drain(..consumed_total);
    keep_going
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

async fn accept_loop(
    listener: Listener,
    shared: Arc<Shared>,
    mut stop: Stop,
    max_connections: usize,
) {
    let name: Arc<str> = listener.describe().into();
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let slot = tokio::select! {
            biased;
            _ = stop.wait_for(Option::is_some) => break,
            s = Arc::clone(&slots).acquire_owned() => match s {
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
    // The writers answer `TEMP` at the deadline; give those answers a
    // moment to go out before cutting what is left.
    let deadline = (*stop.borrow()).unwrap_or_else(Instant::now) + SHUTDOWN_WRITE_GRACE;
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
        let admin = match config.metrics {
            Some(addr) => {
                let err = |cause| DaemonError::Listen {
                    what: format!("metrics {addr}"),
                    cause,
                };
                let l = TcpListener::bind(addr).await.map_err(err)?;
                let bound = l.local_addr().map_err(err)?;
                Some((l, bound))
            }
            None => None,
        };

        let overrides = config.overrides();
        let dns = overrides.dns()?;
        let http = overrides.policy_client(dns.clone())?;
        let store: Arc<dyn Store> = match (&config.state_dir, config.store_path()) {
            _ if config.database.is_some() => {
                let url = config.database.clone().map(|d| d.0).unwrap_or_default();
                let mut options = PgOptions::default();
                if let Some(t) = &config.database_table {
                    options.table = t.clone();
                }
                // Connecting blocks (bounded by the options' timeouts).
                let store =
                    tokio::task::spawn_blocking(move || PgStore::connect_with(&url, options))
                        .await
                        .map_err(|e| {
                            StoreError::new(StoreOp::Open, "PostgreSQL".to_owned(), e)
                        })??;
                info!(
                    server = store.server(),
                    table = store.options().table.as_str(),
                    "policy cache shared in PostgreSQL"
                );
                Arc::new(store)
            }
            (Some(dir), Some(path)) => {
                prepare_state_dir(dir)?;
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
            log_to: log_to.clone(),
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
            accept_tasks.push(log_to.spawn(accept_loop(
                l,
                Arc::clone(&shared),
                stop_rx.clone(),
                config.limits.max_connections,
            )));
        }
        let mut metrics_addr = None;
        if let Some((l, bound)) = admin {
            info!(listener = %bound, "metrics listening");
            if !bound.ip().is_loopback() {
                warn!(
                    listener = %bound,
                    "the metrics listener is not on a loopback address; /metrics has no authentication"
                );
            }
            let s = Arc::clone(&shared);
            let render: crate::metrics::Render = Arc::new(move || s.metrics_text());
            accept_tasks.push(log_to.spawn(crate::metrics::serve_admin(
                l,
                render,
                stop_rx.clone(),
            )));
            metrics_addr = Some(bound);
        }
        let maintenance = sts.spawn_maintenance(config.cache.refresh_scan(), move |w| {
            log_to.scope(|| warn!(code = %w.code, "{w}"));
        });
        Ok(DaemonHandle {
            shared,
            running: Mutex::new(config),
            local_addrs,
            unix_paths,
            metrics_addr,
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
    metrics_addr: Option<SocketAddr>,
    stop: watch::Sender<Option<Instant>>,
    accept_tasks: Vec<JoinHandle<()>>,
    maintenance: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DaemonHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonHandle")
            .field("local_addrs", &self.local_addrs)
            .field("unix_paths", &self.unix_paths)
            .field("metrics_addr", &self.metrics_addr)
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

    /// The bound address of the metrics listener (with the actual port
    /// when `:0` was asked), if `metrics` is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The policy service (metrics, cache inspection).
    pub fn service(&self) -> &Arc<MtaSts> {
        &self.shared.sts
    }

    /// The counters.
    pub fn stats(&self) -> DaemonStats {
        self.shared.stats()
    }

    /// What `GET /metrics` answers now: the Prometheus text exposition
    /// (format 0.0.4) of the daemon's and the policy service's counters
    /// (see [Metrics](crate::daemon#metrics)).
    pub fn metrics_text(&self) -> String {
        self.shared.metrics_text()
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
        differs("database", running.database != new.database);
        differs(
            "database_table",
            running.database_table != new.database_table,
        );
        differs("strict", running.strict != new.strict);
        differs("resolver", running.resolver != new.resolver);
        differs("ca_file", running.ca_file != new.ca_file);
        differs("https_port", running.https_port != new.https_port);
        differs("metrics", running.metrics != new.metrics);
        differs("cache", running.cache != new.cache);
        differs(
            "limits.max_connections",
            running.limits.max_connections != new.limits.max_connections,
        );
        differs(
            "limits.max_lookups",
            running.limits.max_lookups != new.limits.max_lookups,
        );
        differs(
            "limits.max_waiting_lookups",
            running.limits.max_waiting_lookups != new.limits.max_waiting_lookups,
        );
        let mut limits = new.limits;
        limits.max_connections = running.limits.max_connections;
        limits.max_lookups = running.limits.max_lookups;
        limits.max_waiting_lookups = running.limits.max_waiting_lookups;
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
        self.shared.sts.abort_discoveries();
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
        self.shared.sts.abort_discoveries();
    }
}
