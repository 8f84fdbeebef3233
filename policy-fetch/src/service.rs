//! The policy service: discovery driven by `mta-sts-core`'s state machine
//! (decision table D1–D12) over real DNS and HTTPS, an in-memory cache in
//! front of a persistent [`Store`], coalescing of concurrent lookups for
//! the same domain, background refresh before expiry, eviction of unused
//! entries, and metrics.
//!
//! # When the TXT record is consulted
//!
//! A cached, unexpired policy whose TXT id was confirmed less than
//! [`Settings::txt_check_interval`] ago is used without any IO (the fast
//! path: a hash-map read). Otherwise the `_mta-sts` TXT record is looked up
//! (the resolver caches it for its TTL) and the decision table decides
//! whether to fetch.
//!
//! # A store shared by several nodes
//!
//! Before each discovery (and each background refresh) the service asks
//! the store, on the blocking pool, for a claim on the domain's discovery
//! and for its stored entry ([`Store::claim_discovery`], [`Store::get`]).
//! When another node has stored a newer entry, it replaces memory's; if
//! its policy was fetched less than the TXT check interval ago, the lookup
//! is answered with it ([`Answer::FromStore`]) and nothing is looked up or
//! fetched. When another node holds the claim, the lookup waits for it
//! (as long as the store says, asking again every 200 ms), then reads its
//! result; a refresh is left to that node. With a store that only this
//! service uses ([`MemoryStore`](crate::store::MemoryStore),
//! [`RedbStore`](crate::store)), the store never has anything newer than
//! memory, and nothing changes. Store errors are warnings of the lookup;
//! the discovery then runs as without the store.
//!
//! # Bounds under load
//!
//! At most [`Settings::max_discoveries`] discoveries run at once (each
//! holds at most a DNS query and one HTTPS connection, so this also bounds
//! the sockets the service opens). A discovery runs in its own task: the
//! lookups that wait for it can be cancelled (dropped) without cancelling
//! it, and it finishes and fills the cache even when nobody waits any
//! more. When every slot is taken:
//!
//! - a domain with a still-valid cached policy is answered at once from
//!   the cache, without the TXT check ([`Answer::Busy`] with a policy):
//!   cached domains are never starved by lookups of other domains;
//! - other lookups queue for a slot (first come, first served), at most
//!   [`Settings::max_waiting`] of them; beyond that a lookup returns at
//!   once [`Answer::Busy`] without a policy (retry later).
//!
//! A lookup that never got a slot records nothing for its domain: load
//! cannot put a domain into the retry back-off of RFC 8461 section 3.3.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use mta_sts_core::ResultType;
use mta_sts_core::discovery::{
    CacheAction, CacheEntry, CachedPolicy, Discovery, DiscoveryWarning, DiscoveryWarningCode,
    Options, PolicyFailure, Rule, Step, TxtProblem, unix_secs,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::AbortHandle;

use crate::dns::Dns;
use crate::error::{Chain, StoreError, StoreOp};
use crate::https::PolicyClient;
use crate::store::{Claim, Store, freshness};

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Use the strict policy reader and require a `Content-Type` header
    /// (default: lenient, as a sending MTA should). In both modes a media
    /// type other than `text/plain` is refused (DEC-07).
    pub strict: bool,
    /// How long a TXT check that confirmed the cached id stays good before
    /// the record is looked up again (default 5 minutes).
    pub txt_check_interval: Duration,
    /// Largest random-looking delay added to each domain's daily refresh
    /// (derived from the domain name, so stable across restarts; default
    /// one hour).
    pub refresh_jitter: Duration,
    /// Entries not used for a delivery for this long are evicted (default
    /// 180 days, as mox does).
    pub evict_after: Duration,
    /// Discoveries running at once, at most (default 128; at least 1).
    /// Each holds at most one DNS query or one HTTPS connection at a time.
    pub max_discoveries: usize,
    /// Lookups waiting for a discovery slot, at most (default 1024);
    /// further ones are answered [`Answer::Busy`] at once.
    pub max_waiting: usize,
    /// Cached domains, at most (default 100,000). Beyond, the entries
    /// used least recently are evicted (from memory and the store) down
    /// to 90 %.
    pub max_entries: usize,
    /// Approximate memory of the cached policies, at most (default
    /// 256 MiB; each entry counts its policy's text size plus a fixed
    /// overhead). Beyond, as for `max_entries`.
    pub max_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            strict: false,
            txt_check_interval: Duration::from_secs(300),
            refresh_jitter: Duration::from_secs(3600),
            evict_after: Duration::from_secs(180 * 86_400),
            max_discoveries: 128,
            max_waiting: 1024,
            max_entries: 100_000,
            max_bytes: 256 << 20,
        }
    }
}

/// Counters, readable while the service runs.
#[derive(Debug, Default)]
pub struct Metrics {
    hits: AtomicU64,
    lookups: AtomicU64,
    coalesced: AtomicU64,
    txt_lookups: AtomicU64,
    fetches: AtomicU64,
    fetch_ok: AtomicU64,
    fetch_error: AtomicU64,
    policy_invalid: AtomicU64,
    webpki_invalid: AtomicU64,
    refreshes: AtomicU64,
    evictions: AtomicU64,
    store_errors: AtomicU64,
    store_hits: AtomicU64,
    shared_waits: AtomicU64,
    busy: AtomicU64,
    running: AtomicU64,
    peak_running: AtomicU64,
    waiting: AtomicU64,
}

/// A snapshot of [`Metrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct MetricsSnapshot {
    /// Lookups answered from memory without IO.
    pub hits: u64,
    /// Lookups that ran a discovery (or waited for one).
    pub lookups: u64,
    /// Lookups that waited for a discovery already running for the domain.
    pub coalesced: u64,
    /// TXT queries sent.
    pub txt_lookups: u64,
    /// Policy fetches attempted.
    pub fetches: u64,
    /// Fetches that gave a valid policy.
    pub fetch_ok: u64,
    /// Fetches that failed with `sts-policy-fetch-error`.
    pub fetch_error: u64,
    /// Fetches that failed with `sts-policy-invalid`.
    pub policy_invalid: u64,
    /// Fetches that failed with `sts-webpki-invalid`.
    pub webpki_invalid: u64,
    /// Background refreshes run.
    pub refreshes: u64,
    /// Entries evicted.
    pub evictions: u64,
    /// Failed operations on the persistent store (writes and removals;
    /// with a shared store also reads and claims before discoveries).
    pub store_errors: u64,
    /// Lookups answered with a policy that another node stored in the
    /// shared store ([`Answer::FromStore`]), without a fetch of their own.
    pub store_hits: u64,
    /// Discoveries that waited for another node's discovery of the same
    /// domain ([`Claim::Elsewhere`]).
    pub shared_waits: u64,
    /// Lookups answered [`Answer::Busy`] (every discovery slot taken).
    pub busy: u64,
    /// Discoveries running now.
    pub running: u64,
    /// The most discoveries that ran at once.
    pub peak_running: u64,
    /// Lookups waiting for a discovery slot now.
    pub waiting: u64,
    /// Domains cached now (filled in by [`MtaSts::metrics`]; 0 from
    /// [`Metrics::snapshot`]).
    pub cached_entries: u64,
    /// Approximate memory of the cached entries now, in bytes (see
    /// [`Settings::max_bytes`]; filled in by [`MtaSts::metrics`], 0 from
    /// [`Metrics::snapshot`]).
    pub cached_bytes: u64,
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Read all counters.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            hits: g(&self.hits),
            lookups: g(&self.lookups),
            coalesced: g(&self.coalesced),
            txt_lookups: g(&self.txt_lookups),
            fetches: g(&self.fetches),
            fetch_ok: g(&self.fetch_ok),
            fetch_error: g(&self.fetch_error),
            policy_invalid: g(&self.policy_invalid),
            webpki_invalid: g(&self.webpki_invalid),
            refreshes: g(&self.refreshes),
            evictions: g(&self.evictions),
            store_errors: g(&self.store_errors),
            store_hits: g(&self.store_hits),
            shared_waits: g(&self.shared_waits),
            busy: g(&self.busy),
            running: g(&self.running),
            peak_running: g(&self.peak_running),
            waiting: g(&self.waiting),
            cached_entries: 0,
            cached_bytes: 0,
        }
    }
}

/// Where a lookup's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    /// Memory, without any IO.
    CacheHit,
    /// A discovery ran (or was joined); see the rule.
    Discovered(Rule),
    /// Every discovery slot was taken ([`Settings::max_discoveries`]):
    /// with a policy, the still-valid cached one, used without checking
    /// the TXT record; without one, no answer now (the waiting queue was
    /// full): retry later. Nothing was recorded for the domain.
    Busy,
    /// A store shared by several nodes had a newer entry for the domain
    /// than memory (another node discovered it), whose policy was fetched
    /// less than [`Settings::txt_check_interval`] ago: used as it is,
    /// without a TXT lookup or fetch of this node's own.
    FromStore,
}

/// The result of [`MtaSts::lookup`].
#[derive(Debug, Clone)]
pub struct PolicyLookup {
    /// The policy to apply (including mode `none`), with its id and fetch
    /// time; `None` = deliver as without MTA-STS.
    pub policy: Option<Arc<CachedPolicy>>,
    /// How the answer was found.
    pub answer: Answer,
    /// A failure to report through TLS-RPT, if any.
    pub failure: Option<PolicyFailure>,
    /// Messages for the administrator, each with its code.
    pub warnings: Vec<DiscoveryWarning>,
    /// Why the TXT lookup gave nothing usable, if it did.
    pub txt_problem: Option<TxtProblem>,
}

#[derive(Debug)]
struct Slot {
    /// The entry without its policy (kept once, in `policy`).
    entry: CacheEntry,
    policy: Option<Arc<CachedPolicy>>,
    /// Approximate memory of the entry (see [`Settings::max_bytes`]).
    bytes: usize,
    /// Unix seconds of the last TXT lookup that confirmed the cached id.
    checked: AtomicU64,
    /// Unix seconds of the last use for a delivery.
    last_used: AtomicU64,
}

impl Slot {
    fn new(mut entry: CacheEntry, checked: u64) -> Self {
        let policy = entry.policy.take().map(Arc::new);
        let last_used = AtomicU64::new(entry.last_used);
        let bytes = SLOT_OVERHEAD
            + entry.domain.len()
            + policy.as_ref().map_or(0, |p| {
                p.id.len() + p.policy.to_string().len() + 32 * p.policy.mx().len()
            })
            + entry
                .last_failure
                .as_ref()
                .map_or(0, |f| f.id.len() + f.reason.len());
        Self {
            entry,
            policy,
            bytes,
            checked: AtomicU64::new(checked),
            last_used,
        }
    }

    /// The whole entry, with its policy and last use.
    fn full_entry(&self) -> CacheEntry {
        let mut e = self.entry.clone();
        e.policy = self.policy.as_deref().cloned();
        e.last_used = self.last_used.load(Ordering::Relaxed);
        e
    }
}

/// Fixed memory counted per cached entry (map slot, counters, allocations).
const SLOT_OVERHEAD: usize = 256;

/// A running discovery: its result once there, and its task.
#[derive(Debug, Clone)]
struct Inflight {
    result: watch::Receiver<Option<PolicyLookup>>,
    task: AbortHandle,
}

/// Counts one waiting lookup while alive.
struct Waiting<'a>(&'a AtomicU64);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The MTA-STS policy service (see the module docs).
pub struct MtaSts {
    dns: Dns,
    http: PolicyClient,
    store: Arc<dyn Store>,
    settings: Settings,
    slots: RwLock<HashMap<String, Arc<Slot>>>,
    inflight: Mutex<HashMap<String, Inflight>>,
    discovery_slots: Arc<Semaphore>,
    /// Sum of the `bytes` of the slots (changed under the `slots` write
    /// lock), so the size check after an insert does not walk the cache.
    cached_bytes: AtomicUsize,
    metrics: Metrics,
}

impl std::fmt::Debug for MtaSts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtaSts")
            .field("settings", &self.settings)
            .field("metrics", &self.metrics.snapshot())
            .finish_non_exhaustive()
    }
}

/// A failed store write or removal as a warning of the lookup.
fn store_warning(e: &StoreError) -> DiscoveryWarning {
    DiscoveryWarning::new(DiscoveryWarningCode::StoreFailed, Chain(e).to_string())
}

/// A lookup answered from memory.
fn hit(policy: Arc<CachedPolicy>) -> PolicyLookup {
    PolicyLookup {
        policy: Some(policy),
        answer: Answer::CacheHit,
        failure: None,
        warnings: Vec::new(),
        txt_problem: None,
    }
}

/// A lookup that found every discovery slot taken.
fn busy(policy: Option<Arc<CachedPolicy>>) -> PolicyLookup {
    PolicyLookup {
        policy,
        answer: Answer::Busy,
        failure: None,
        warnings: Vec::new(),
        txt_problem: None,
    }
}

/// How often a lookup asks again for a claim another node holds.
const CLAIM_POLL: Duration = Duration::from_millis(200);

/// The longest wait for another node's discovery, whatever the store says.
const MAX_CLAIM_WAIT: Duration = Duration::from_secs(60);

/// What [`MtaSts::consult_store`] decided.
enum Consulted {
    /// No discovery: answer this.
    Answer(PolicyLookup),
    /// Discover, holding the claim if one was granted, with these
    /// warnings.
    Discover(Option<ClaimGuard>, Vec<DiscoveryWarning>),
}

/// A claim on a discovery ([`Claim::Granted`]), released when dropped.
struct ClaimGuard {
    store: Arc<dyn Store>,
    domain: String,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let store = Arc::clone(&self.store);
        let domain = std::mem::take(&mut self.domain);
        // A failed release needs nothing more: a store's claims end with
        // its connection, and a store that cannot release has lost it.
        match tokio::runtime::Handle::try_current() {
            // Dropped on an async worker: release on the blocking pool.
            Ok(rt) => drop(rt.spawn_blocking(move || store.release_discovery(&domain))),
            Err(_) => drop(store.release_discovery(&domain)),
        }
    }
}

/// A lookup answered from an entry of the shared store (or a refresh
/// that another node did).
fn from_store(policy: Option<Arc<CachedPolicy>>, warnings: Vec<DiscoveryWarning>) -> PolicyLookup {
    PolicyLookup {
        policy,
        answer: Answer::FromStore,
        failure: None,
        warnings,
        txt_problem: None,
    }
}

/// A lookup whose discovery stopped before it decided (aborted task).
fn aborted(domain: &str) -> PolicyLookup {
    PolicyLookup {
        policy: None,
        answer: Answer::Discovered(Rule::D9TempFailNoPolicy),
        failure: None,
        warnings: vec![DiscoveryWarning::new(
            DiscoveryWarningCode::DiscoveryAborted,
            format!("{domain}: discovery stopped unexpectedly"),
        )],
        txt_problem: None,
    }
}

/// Counts one running discovery while alive (and keeps the peak).
struct Running(Arc<MtaSts>);

impl Running {
    fn start(sts: Arc<MtaSts>) -> Self {
        let m = &sts.metrics;
        let now = m.running.fetch_add(1, Ordering::Relaxed) + 1;
        m.peak_running.fetch_max(now, Ordering::Relaxed);
        Self(sts)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.metrics.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Normalise a Policy Domain: lower case, one trailing dot removed
/// ([`mta_sts_core::domain::fold`]).
pub fn normalize_domain(domain: &str) -> String {
    mta_sts_core::domain::fold(domain).into_owned()
}

impl MtaSts {
    /// Create the service and load every entry of `store`. Returns the
    /// service and the entries that could not be loaded.
    ///
    /// Loading reads the whole store synchronously: call it at start-up,
    /// before serving, or from `tokio::task::spawn_blocking`.
    pub fn new(
        dns: Dns,
        http: PolicyClient,
        store: Arc<dyn Store>,
        settings: Settings,
    ) -> Result<(Arc<Self>, Vec<crate::store::SkippedEntry>), StoreError> {
        let loaded = store.load_all()?;
        let bad = loaded.skipped;
        let slots = loaded
            .entries
            .into_iter()
            .map(|e| (e.domain.clone(), Arc::new(Slot::new(e, 0))))
            .collect::<HashMap<_, _>>();
        let this = Arc::new(Self {
            dns,
            http,
            store,
            slots: RwLock::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            discovery_slots: Arc::new(Semaphore::new(settings.max_discoveries.max(1))),
            settings,
            cached_bytes: AtomicUsize::new(slots.values().map(|s| s.bytes).sum()),
            metrics: Metrics::default(),
        });
        // A store written with larger limits: keep what fits.
        let mut slots = slots;
        for d in this.trim(&mut slots, "") {
            if this.store.remove(&d).is_err() {
                inc(&this.metrics.store_errors);
            }
        }
        if let Ok(mut s) = this.slots.write() {
            *s = slots;
        }
        Ok((this, bad))
    }

    /// The counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        let mut m = self.metrics.snapshot();
        m.cached_entries = self.len() as u64;
        m.cached_bytes = self.cached_bytes.load(Ordering::Relaxed) as u64;
        m
    }

    /// The DNS resolver in use.
    pub fn dns(&self) -> &Dns {
        &self.dns
    }

    /// The cached entry of `domain`, if any (no IO).
    pub fn cached_entry(&self, domain: &str) -> Option<CacheEntry> {
        let slots = self.slots.read().ok()?;
        slots.get(&normalize_domain(domain)).map(|s| s.full_entry())
    }

    /// Number of cached domains.
    pub fn len(&self) -> usize {
        self.slots.read().map_or(0, |s| s.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The fast path only: the cached policy of an already normalised
    /// `domain` if it is valid at `now` and its TXT id was confirmed within
    /// the check interval. No IO, no allocation.
    pub fn fresh(&self, domain: &str, now: SystemTime) -> Option<Arc<CachedPolicy>> {
        let interval = self.settings.txt_check_interval.as_secs();
        self.cached_policy(domain, now, Some(interval))
    }

    /// The cached policy of the normalised `domain` if it is valid at
    /// `now` and, with `checked_within`, its TXT id was confirmed less
    /// than that many seconds ago; marked as used. No IO.
    fn cached_policy(
        &self,
        domain: &str,
        now: SystemTime,
        checked_within: Option<u64>,
    ) -> Option<Arc<CachedPolicy>> {
        let slots = self.slots.read().ok()?;
        let slot = slots.get(domain)?;
        let policy = slot.policy.as_ref()?;
        let t = unix_secs(now);
        let unchecked_for = t.saturating_sub(slot.checked.load(Ordering::Relaxed));
        if !policy.is_valid(now) || checked_within.is_some_and(|w| unchecked_for >= w) {
            return None;
        }
        slot.last_used.store(t, Ordering::Relaxed);
        Some(Arc::clone(policy))
    }

    /// The fast path of [`MtaSts::lookup`] alone: the fresh cached policy
    /// of `domain` (normalised here), counted as a hit, or `None` when a
    /// discovery would be needed. Never does IO.
    pub fn lookup_fresh(&self, domain: &str) -> Option<Arc<CachedPolicy>> {
        let domain = normalize_domain(domain);
        let p = self.fresh(&domain, SystemTime::now())?;
        inc(&self.metrics.hits);
        Some(p)
    }

    /// The policy to apply for a delivery to `domain` (the Policy Domain).
    ///
    /// Cancel-safe: dropping the returned future (for example under a
    /// timeout) does not cancel the discovery it started or joined, which
    /// goes on in its own task and fills the cache (see
    /// [Bounds under load](crate::service#bounds-under-load)). Must run
    /// inside a tokio runtime.
    pub async fn lookup(self: &Arc<Self>, domain: &str) -> PolicyLookup {
        let domain = normalize_domain(domain);
        if let Some(policy) = self.fresh(&domain, SystemTime::now()) {
            inc(&self.metrics.hits);
            return hit(policy);
        }
        inc(&self.metrics.lookups);
        loop {
            if let Some(running) = self.inflight_of(&domain) {
                inc(&self.metrics.coalesced);
                return self.join(running, &domain).await;
            }
            let permit = match Arc::clone(&self.discovery_slots).try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    if let Some(p) = self.valid_cached(&domain) {
                        inc(&self.metrics.busy);
                        return busy(Some(p));
                    }
                    let waiting = self.metrics.waiting.fetch_add(1, Ordering::Relaxed);
                    let _waiting = Waiting(&self.metrics.waiting);
                    if waiting >= self.settings.max_waiting as u64 {
                        inc(&self.metrics.busy);
                        return busy(None);
                    }
                    match Arc::clone(&self.discovery_slots).acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => {
                            inc(&self.metrics.busy);
                            return busy(None);
                        }
                    }
                }
            };
            // While this lookup waited, another may have filled the cache.
            if let Some(policy) = self.fresh(&domain, SystemTime::now()) {
                return hit(policy);
            }
            if let Some(running) = self.start_discovery(&domain, permit) {
                return self.join(running, &domain).await;
            }
        }
    }

    /// The running discovery of `domain`, if any.
    fn inflight_of(&self, domain: &str) -> Option<Inflight> {
        let map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        map.get(domain).cloned()
    }

    /// The cached policy of `domain` if it is valid now (no TXT check).
    fn valid_cached(&self, domain: &str) -> Option<Arc<CachedPolicy>> {
        self.cached_policy(domain, SystemTime::now(), None)
    }

    /// Start the discovery of `domain` in its own task, holding `permit`;
    /// `None` when another lookup started one first (join that instead).
    fn start_discovery(
        self: &Arc<Self>,
        domain: &str,
        permit: OwnedSemaphorePermit,
    ) -> Option<Inflight> {
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if map.contains_key(domain) {
            return None;
        }
        let (tx, rx) = watch::channel(None);
        let this = Arc::clone(self);
        let d = domain.to_owned();
        let task = tokio::spawn(async move {
            let running = Running::start(Arc::clone(&this));
            let result = this.discover(&d, false).await;
            // Free the slot before publishing, so that a lookup that sees
            // the result sees the slot free too.
            drop(running);
            drop(permit);
            // Remove the entry before publishing, so that a lookup that
            // sees the result never joins a finished discovery later.
            {
                let mut map = this.inflight.lock().unwrap_or_else(|p| p.into_inner());
                if map
                    .get(&d)
                    .is_some_and(|i| i.result.same_channel(&tx.subscribe()))
                {
                    map.remove(&d);
                }
            }
            let _ = tx.send(Some(result));
        });
        let inflight = Inflight {
            result: rx,
            task: task.abort_handle(),
        };
        map.insert(domain.to_owned(), inflight.clone());
        Some(inflight)
    }

    /// Wait for a running discovery's result.
    async fn join(&self, mut running: Inflight, domain: &str) -> PolicyLookup {
        let result = match running.result.wait_for(Option::is_some).await {
            Ok(r) => r.clone(),
            Err(_) => None,
        };
        if let Some(slot) = self.slots.read().ok().and_then(|s| s.get(domain).cloned()) {
            slot.last_used
                .store(unix_secs(SystemTime::now()), Ordering::Relaxed);
        }
        result.unwrap_or_else(|| aborted(domain))
    }

    /// Whether a discovery of `domain` is running now.
    pub fn discovery_running(&self, domain: &str) -> bool {
        self.inflight_of(&normalize_domain(domain)).is_some()
    }

    /// Abort every running discovery (at shutdown). Their lookups return
    /// an answer without a policy and a
    /// [`DiscoveryWarningCode::DiscoveryAborted`] warning.
    pub fn abort_discoveries(&self) {
        let map = std::mem::take(&mut *self.inflight.lock().unwrap_or_else(|p| p.into_inner()));
        for i in map.values() {
            i.task.abort();
        }
    }

    /// Run one discovery (or a background refresh) and apply its cache
    /// action. First, the store may have a newer entry (from another node
    /// sharing it) that makes the discovery unnecessary; see
    /// [`MtaSts::consult_store`].
    async fn discover(&self, domain: &str, refresh: bool) -> PolicyLookup {
        // The claim, if granted, is released when this function returns,
        // after the result was stored.
        let (_claim, store_warnings) = match self.consult_store(domain, refresh).await {
            Consulted::Answer(lookup) => return lookup,
            Consulted::Discover(claim, warnings) => (claim, warnings),
        };
        let now = SystemTime::now();
        let (cached, last_used) = match self.slots.read().ok().and_then(|s| s.get(domain).cloned())
        {
            Some(slot) => (
                Some(slot.full_entry()),
                slot.last_used.load(Ordering::Relaxed),
            ),
            None => (None, 0),
        };
        let options = Options {
            strict: self.settings.strict,
        };
        let mut d = match (&cached, refresh) {
            (Some(c), true) => Discovery::refresh(domain, c, now, options),
            _ => Discovery::with_options(domain, cached.as_ref(), now, options),
        };
        let outcome = loop {
            match d.next_step() {
                Step::LookupTxt { name } => {
                    inc(&self.metrics.txt_lookups);
                    let answer = self.dns.txt(&name).await;
                    if d.on_txt(answer).is_err() {
                        break None;
                    }
                }
                Step::FetchPolicy { .. } => {
                    inc(&self.metrics.fetches);
                    let r = self.http.fetch(domain).await;
                    if d.on_policy(r).is_err() {
                        break None;
                    }
                }
                Step::Done(o) => break Some(*o),
            }
        };
        let Some(outcome) = outcome else {
            return aborted(domain);
        };
        match outcome.rule {
            Rule::D2FetchedReplaced | Rule::D4FetchedNew | Rule::D11RefreshOk => {
                inc(&self.metrics.fetch_ok)
            }
            _ => {}
        }
        if let Some(f) = &outcome.failure {
            self.count_failure(&f.result_type);
        } else if matches!(outcome.rule, Rule::D12RefreshFailed)
            && let CacheAction::Store(e) = &outcome.cache
            && let Some(f) = &e.last_failure
        {
            self.count_failure(&f.result_type);
        }
        if refresh {
            inc(&self.metrics.refreshes);
        }
        let mut warnings = store_warnings;
        warnings.extend(outcome.warnings.iter().cloned());
        let confirmed = matches!(
            outcome.rule,
            Rule::D1CachedCurrent
                | Rule::D2FetchedReplaced
                | Rule::D4FetchedNew
                | Rule::D11RefreshOk
        );
        let t = unix_secs(now);
        match &outcome.cache {
            CacheAction::Store(entry) => {
                let mut entry = (**entry).clone();
                // A background refresh is not a use for a delivery.
                entry.last_used = if refresh { last_used } else { t };
                if let Err(e) = self.store_put(&entry).await {
                    inc(&self.metrics.store_errors);
                    warnings.push(store_warning(&e));
                }
                let slot = Arc::new(Slot::new(entry, if confirmed { t } else { 0 }));
                let evicted = match self.slots.write() {
                    Ok(mut slots) => {
                        self.cached_bytes.fetch_add(slot.bytes, Ordering::Relaxed);
                        if let Some(old) = slots.insert(domain.to_owned(), slot) {
                            self.cached_bytes.fetch_sub(old.bytes, Ordering::Relaxed);
                        }
                        self.trim(&mut slots, domain)
                    }
                    Err(_) => Vec::new(),
                };
                if !evicted.is_empty() {
                    warnings.push(DiscoveryWarning::new(
                        DiscoveryWarningCode::CacheFull,
                        format!(
                            "cache full ({} entries or {} bytes at most): evicted the {} used least recently",
                            self.settings.max_entries,
                            self.settings.max_bytes,
                            evicted.len()
                        ),
                    ));
                    for d in evicted {
                        if let Err(e) = self.store_remove(&d).await {
                            inc(&self.metrics.store_errors);
                            warnings.push(store_warning(&e));
                        }
                    }
                }
            }
            CacheAction::Keep => {
                if confirmed
                    && let Some(slot) = self.slots.read().ok().and_then(|s| s.get(domain).cloned())
                {
                    slot.checked.store(t, Ordering::Relaxed);
                }
            }
        }
        PolicyLookup {
            policy: outcome.applied.map(|(p, _)| Arc::new(p)),
            answer: Answer::Discovered(outcome.rule),
            failure: outcome.failure,
            warnings,
            txt_problem: outcome.txt_problem,
        }
    }

    /// Evict the entries used least recently (never `keep`) until the
    /// cache is within 90 % of its limits, if it is over one of them.
    /// `slots` is the map under the write lock (or, at start, the one
    /// about to be installed) whose byte total is `cached_bytes`.
    /// Returns the evicted domains.
    fn trim(&self, slots: &mut HashMap<String, Arc<Slot>>, keep: &str) -> Vec<String> {
        let (max_n, max_b) = (self.settings.max_entries, self.settings.max_bytes);
        let mut bytes = self.cached_bytes.load(Ordering::Relaxed);
        if slots.len() <= max_n && bytes <= max_b {
            return Vec::new();
        }
        let (goal_n, goal_b) = (max_n - max_n / 10, max_b - max_b / 10);
        let mut by_age: Vec<(u64, String, usize)> = slots
            .iter()
            .filter(|(d, _)| d.as_str() != keep)
            .map(|(d, s)| (s.last_used.load(Ordering::Relaxed), d.clone(), s.bytes))
            .collect();
        by_age.sort_unstable();
        let mut evicted = Vec::new();
        for (_, d, b) in by_age {
            if slots.len() <= goal_n && bytes <= goal_b {
                break;
            }
            slots.remove(&d);
            bytes = bytes.saturating_sub(b);
            self.cached_bytes.fetch_sub(b, Ordering::Relaxed);
            inc(&self.metrics.evictions);
            evicted.push(d);
        }
        evicted
    }

    /// Before a discovery of `domain` (a background refresh with
    /// `refresh`), ask the store, on the blocking pool, for a claim on the
    /// discovery and for its entry (see
    /// [stores shared by several MTAs](crate::store#stores-shared-by-several-mtas)).
    ///
    /// When another node holds the claim, a lookup waits for it (asking
    /// again every [`CLAIM_POLL`], at most the wait the store gave), then
    /// reads the store; a refresh does not wait, the other node refreshes.
    /// A stored entry newer than memory's replaces it; when its policy was
    /// fetched less than the TXT check interval ago (for a refresh: when no
    /// refresh is due any more), it is the answer and no discovery runs.
    /// Store errors become warnings and the discovery runs without a claim.
    async fn consult_store(&self, domain: &str, refresh: bool) -> Consulted {
        let mut warnings = Vec::new();
        let (mut claim, mut stored) = self.claim_and_get(domain).await;
        if let Ok(Claim::Elsewhere { wait }) = claim {
            if refresh {
                return Consulted::Answer(from_store(None, warnings));
            }
            inc(&self.metrics.shared_waits);
            let deadline = tokio::time::Instant::now() + wait.min(MAX_CLAIM_WAIT);
            loop {
                tokio::time::sleep(CLAIM_POLL).await;
                (claim, stored) = self.claim_and_get(domain).await;
                if !matches!(claim, Ok(Claim::Elsewhere { .. })) {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    // Discover without the claim; the other node's result
                    // may be there by now all the same.
                    stored = self.store_get(domain).await;
                    break;
                }
            }
        }
        let guard = match claim {
            Ok(Claim::Granted) => Some(ClaimGuard {
                store: Arc::clone(&self.store),
                domain: domain.to_owned(),
            }),
            Ok(_) => None,
            Err(e) => {
                inc(&self.metrics.store_errors);
                warnings.push(store_warning(&e));
                None
            }
        };
        let now = SystemTime::now();
        let adopted = match stored {
            Ok(Some(entry)) => self.adopt(domain, entry, now, &mut warnings).await,
            Ok(None) => false,
            Err(e) => {
                inc(&self.metrics.store_errors);
                warnings.push(store_warning(&e));
                false
            }
        };
        if adopted {
            if !refresh {
                if let Some(policy) = self.fresh(domain, now) {
                    inc(&self.metrics.store_hits);
                    return Consulted::Answer(from_store(Some(policy), warnings));
                }
            } else if let Some(entry) = self.cached_entry(domain)
                && !entry.refresh_due(now, self.jitter(domain))
            {
                return Consulted::Answer(from_store(None, warnings));
            }
        }
        Consulted::Discover(guard, warnings)
    }

    /// On the blocking pool: claim the discovery of `domain` and, unless
    /// another node holds the claim, read the stored entry.
    async fn claim_and_get(
        &self,
        domain: &str,
    ) -> (
        Result<Claim, StoreError>,
        Result<Option<CacheEntry>, StoreError>,
    ) {
        let store = Arc::clone(&self.store);
        let owned = domain.to_owned();
        tokio::task::spawn_blocking(move || {
            let claim = store.claim_discovery(&owned);
            let stored = match claim {
                Ok(Claim::Elsewhere { .. }) => Ok(None),
                _ => store.get(&owned),
            };
            (claim, stored)
        })
        .await
        .unwrap_or_else(|e| (Err(StoreError::new(StoreOp::Claim, domain, e)), Ok(None)))
    }

    /// Read the stored entry of `domain` on the blocking pool.
    async fn store_get(&self, domain: &str) -> Result<Option<CacheEntry>, StoreError> {
        let store = Arc::clone(&self.store);
        let owned = domain.to_owned();
        tokio::task::spawn_blocking(move || store.get(&owned))
            .await
            .unwrap_or_else(|e| Err(StoreError::new(StoreOp::Get, domain, e)))
    }

    /// Put `stored` in memory in place of the entry of `domain` if it is
    /// newer ([`crate::store::is_newer_or_same`], and not the same); its
    /// policy counts as confirmed at its fetch time. Returns whether it
    /// did. Entries evicted to make room are removed from the store.
    async fn adopt(
        &self,
        domain: &str,
        mut stored: CacheEntry,
        now: SystemTime,
        warnings: &mut Vec<DiscoveryWarning>,
    ) -> bool {
        if stored.domain != domain || (stored.policy.is_none() && stored.last_failure.is_none()) {
            return false;
        }
        let evicted = {
            let Ok(mut slots) = self.slots.write() else {
                return false;
            };
            if let Some(current) = slots.get(domain) {
                if freshness(&stored, now) <= freshness(&current.full_entry(), now) {
                    return false;
                }
                stored.last_used = stored
                    .last_used
                    .max(current.last_used.load(Ordering::Relaxed));
            }
            let checked = stored
                .valid_policy(now)
                .map_or(0, |p| p.fetched_at.min(unix_secs(now)));
            let slot = Arc::new(Slot::new(stored, checked));
            self.cached_bytes.fetch_add(slot.bytes, Ordering::Relaxed);
            if let Some(old) = slots.insert(domain.to_owned(), slot) {
                self.cached_bytes.fetch_sub(old.bytes, Ordering::Relaxed);
            }
            self.trim(&mut slots, domain)
        };
        for d in evicted {
            if let Err(e) = self.store_remove(&d).await {
                inc(&self.metrics.store_errors);
                warnings.push(store_warning(&e));
            }
        }
        true
    }

    /// Write `entry` to the store on the blocking pool (a commit may fsync).
    async fn store_put(&self, entry: &CacheEntry) -> Result<(), StoreError> {
        let store = Arc::clone(&self.store);
        let owned = entry.clone();
        tokio::task::spawn_blocking(move || store.put(&owned))
            .await
            .unwrap_or_else(|e| Err(StoreError::new(StoreOp::Put, entry.domain.as_str(), e)))
    }

    /// Remove `domain` from the store on the blocking pool.
    async fn store_remove(&self, domain: &str) -> Result<(), StoreError> {
        let store = Arc::clone(&self.store);
        let owned = domain.to_owned();
        tokio::task::spawn_blocking(move || store.remove(&owned))
            .await
            .unwrap_or_else(|e| Err(StoreError::new(StoreOp::Remove, domain, e)))
    }

    fn count_failure(&self, rt: &ResultType) {
        match rt {
            ResultType::StsWebpkiInvalid => inc(&self.metrics.webpki_invalid),
            ResultType::StsPolicyInvalid => inc(&self.metrics.policy_invalid),
            _ => inc(&self.metrics.fetch_error),
        }
    }

    fn jitter(&self, domain: &str) -> Duration {
        let max = self.settings.refresh_jitter.as_secs();
        if max == 0 {
            return Duration::ZERO;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        domain.hash(&mut h);
        Duration::from_secs(h.finish() % max)
    }

    /// One maintenance pass at `now`: evict entries unused for
    /// [`Settings::evict_after`], refresh those due (STS-CACHE-04). Returns
    /// (refreshed, evicted) and the warnings of failed refreshes and
    /// store writes.
    pub async fn maintain(&self, now: SystemTime) -> (usize, usize, Vec<DiscoveryWarning>) {
        let slots: Vec<(String, Arc<Slot>)> = match self.slots.read() {
            Ok(s) => s.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect(),
            Err(_) => return (0, 0, Vec::new()),
        };
        let (mut refreshed, mut evicted, mut warnings) = (0, 0, Vec::new());
        for (domain, slot) in slots {
            let entry = slot.full_entry();
            if entry.should_evict(now, self.settings.evict_after) {
                if let Ok(mut s) = self.slots.write()
                    && let Some(old) = s.remove(&domain)
                {
                    self.cached_bytes.fetch_sub(old.bytes, Ordering::Relaxed);
                }
                if let Err(e) = self.store_remove(&domain).await {
                    inc(&self.metrics.store_errors);
                    warnings.push(store_warning(&e));
                }
                inc(&self.metrics.evictions);
                evicted += 1;
            } else if entry.refresh_due(now, self.jitter(&domain)) {
                let r = self.discover(&domain, true).await;
                warnings.extend(r.warnings);
                // Not when another node had refreshed it (or was at it).
                if r.answer != Answer::FromStore {
                    refreshed += 1;
                }
            }
        }
        (refreshed, evicted, warnings)
    }

    /// Run [`MtaSts::maintain`] every `period` until the task is aborted.
    /// Warnings go to `on_warning`.
    pub fn spawn_maintenance(
        self: &Arc<Self>,
        period: Duration,
        on_warning: impl Fn(DiscoveryWarning) + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (_, _, warnings) = this.maintain(SystemTime::now()).await;
                for w in warnings {
                    on_warning(w);
                }
            }
        })
    }
}
