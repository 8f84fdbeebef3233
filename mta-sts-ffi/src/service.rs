//! The blocking policy lookup for C MTAs: the `policy-fetch` service on
//! an internal tokio runtime owned by the handle.

use std::ffi::c_char;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use policy_fetch::service::Answer;
use policy_fetch::store::{MemoryStore, RedbStore, Store};
use policy_fetch::{FetchConfig, MtaSts, Overrides, PolicyClient, Settings};
use tokio::runtime::Runtime;

use crate::{
    Error, Result, at, free_box, guard, guard_value, handle, handle_mut, mtasts_policy,
    mtasts_result, mtasts_str, out, str_arg,
};

/// The name of the cache file in the state directory (the same as `mtasts
/// daemon`'s).
pub const STORE_FILE: &str = "policies.redb";

/// How long [`mtasts_service_free`] waits for the runtime's blocking
/// tasks (cache writes) to end.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(30);

/// Settings of a service being configured ([`mtasts_service_config_new`]).
/// Mutable: `Send`, not `Sync`. Free with [`mtasts_service_config_free`]
/// (the service does not keep it).
#[derive(Debug, Clone)]
pub struct mtasts_service_config {
    state_dir: Option<PathBuf>,
    overrides: Overrides,
    fetch_timeout: Option<Duration>,
    strict: bool,
    worker_threads: usize,
}

/// A new configuration: cache in memory only, the system's DNS resolver
/// and trust anchors, HTTPS port 443, 60 s fetch timeout, the lenient
/// policy reader, 2 runtime worker threads. Free `*out_config` with
/// [`mtasts_service_config_free`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_config_new(
    out_config: *mut *mut mtasts_service_config,
) -> mtasts_result {
    guard(|| {
        let o = out(out_config, "out_config")?;
        let c = mtasts_service_config {
            state_dir: None,
            overrides: Overrides::default(),
            fetch_timeout: None,
            strict: false,
            worker_threads: 2,
        };
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(c))) };
        Ok(())
    })
}

/// Set a configuration field from a string argument.
///
/// # Safety
/// As the public setters.
unsafe fn set(
    config: *mut mtasts_service_config,
    value: *const c_char,
    len: usize,
    what: &str,
    f: impl FnOnce(&mut mtasts_service_config, &str) -> Result<()>,
) -> mtasts_result {
    guard(|| {
        // SAFETY: the caller's promise: NULL or a live configuration used
        // by one thread.
        let c = unsafe { handle_mut(config, "config") }?;
        // SAFETY: the caller's promise for the string and its length.
        let v = unsafe { str_arg(value, len, what) }?;
        f(c, v)
    })
}

/// Keep the policy cache in the directory `path` (created if missing; the
/// file is `policies.redb`), so it survives restarts. An unreadable cache
/// file is moved aside and a new one started
/// ([`mtasts_service_note_count`]). UTF-8 paths only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_config_set_state_dir(
    config: *mut mtasts_service_config,
    path: *const c_char,
    path_len: usize,
) -> mtasts_result {
    // SAFETY: the caller's promise, passed on.
    unsafe {
        set(config, path, path_len, "path", |c, v| {
            c.state_dir = Some(PathBuf::from(v));
            Ok(())
        })
    }
}

/// Use only this DNS server, `"IP:PORT"` (`"127.0.0.1:5353"`,
/// `"[::1]:53"`), instead of the system's (tests, private deployments).
/// [`mtasts_result::InvalidArgument`] when it does not parse.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_config_set_resolver(
    config: *mut mtasts_service_config,
    addr: *const c_char,
    addr_len: usize,
) -> mtasts_result {
    // SAFETY: the caller's promise, passed on.
    unsafe {
        set(config, addr, addr_len, "addr", |c, v| {
            let a: SocketAddr = v.parse().map_err(|_| {
                Error::new(
                    mtasts_result::InvalidArgument,
                    format!("`{}` is not IP:PORT", mta_sts_core::display::Escaped(v)),
                )
            })?;
            c.overrides.resolver = Some(a);
            Ok(())
        })
    }
}

/// Trust only the CA certificates in this PEM file for policy fetches,
/// instead of the system's. The file is read by [`mtasts_service_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_config_set_ca_file(
    config: *mut mtasts_service_config,
    path: *const c_char,
    path_len: usize,
) -> mtasts_result {
    // SAFETY: the caller's promise, passed on.
    unsafe {
        set(config, path, path_len, "path", |c, v| {
            c.overrides.ca_file = Some(PathBuf::from(v));
            Ok(())
        })
    }
}

/// Fetch policies from this TCP port instead of 443 (SNI and `Host`
/// unchanged; tests). [`mtasts_result::InvalidArgument`] for 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_config_set_https_port(
    config: *mut mtasts_service_config,
    port: u16,
) -> mtasts_result {
    guard(|| {
        // SAFETY: the caller's promise: NULL or a live configuration used
        // by one thread.
        let c = unsafe { handle_mut(config, "config") }?;
        if port == 0 {
            return Err(Error::new(mtasts_result::InvalidArgument, "port 0"));
        }
        c.overrides.https_port = Some(port);
        Ok(())
    })
}

/// The longest a policy fetch may take, in milliseconds (1 to 600,000;
/// default 60,000, as RFC 8461 suggests). This bounds the work in the
/// background, not a lookup call (each call has its own timeout).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_config_set_fetch_timeout_ms(
    config: *mut mtasts_service_config,
    timeout_ms: u32,
) -> mtasts_result {
    guard(|| {
        // SAFETY: the caller's promise: NULL or a live configuration used
        // by one thread.
        let c = unsafe { handle_mut(config, "config") }?;
        if !(1..=600_000).contains(&timeout_ms) {
            return Err(Error::new(
                mtasts_result::InvalidArgument,
                format!("fetch timeout {timeout_ms} ms is not within 1 to 600000"),
            ));
        }
        c.fetch_timeout = Some(Duration::from_millis(u64::from(timeout_ms)));
        Ok(())
    })
}

/// Use the strict policy reader and require a `Content-Type` (validators);
/// the default (`false`) is the lenient reader a sending MTA should use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_config_set_strict(
    config: *mut mtasts_service_config,
    strict: bool,
) -> mtasts_result {
    guard(|| {
        // SAFETY: the caller's promise: NULL or a live configuration used
        // by one thread.
        let c = unsafe { handle_mut(config, "config") }?;
        c.strict = strict;
        Ok(())
    })
}

/// The number of threads of the internal runtime (1 to 16; default 2).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_config_set_worker_threads(
    config: *mut mtasts_service_config,
    threads: u32,
) -> mtasts_result {
    guard(|| {
        // SAFETY: the caller's promise: NULL or a live configuration used
        // by one thread.
        let c = unsafe { handle_mut(config, "config") }?;
        if !(1..=16).contains(&threads) {
            return Err(Error::new(
                mtasts_result::InvalidArgument,
                format!("{threads} worker threads is not within 1 to 16"),
            ));
        }
        c.worker_threads = threads as usize;
        Ok(())
    })
}

/// Free a configuration (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_config_free(config: *mut mtasts_service_config) {
    // SAFETY: the caller's promise: NULL or a configuration not yet freed.
    unsafe { free_box(config) }
}

/// The MTA-STS policy service: discovery over DNS and HTTPS with a cache
/// (refreshed before expiry, coalescing concurrent lookups of a domain)
/// on its own small tokio runtime, answering blocking calls. `Send` and
/// `Sync`: many threads may look up at once. Free with
/// [`mtasts_service_free`], which stops the runtime (running discoveries
/// are abandoned).
pub struct mtasts_service {
    sts: Option<Arc<MtaSts>>,
    runtime: Option<Runtime>,
    notes: Vec<String>,
}

impl std::fmt::Debug for mtasts_service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("mtasts_service")
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

impl Drop for mtasts_service {
    fn drop(&mut self) {
        if let Some(sts) = self.sts.take() {
            sts.abort_discoveries();
            match &self.runtime {
                // Dropped inside the runtime's context, in case any part of
                // the resolver wants it.
                Some(rt) => {
                    let _guard = rt.enter();
                    drop(sts);
                }
                None => drop(sts),
            }
        }
        if let Some(rt) = self.runtime.take() {
            // Waits for cache writes in progress (blocking tasks), so the
            // cache file is closed when this returns.
            rt.shutdown_timeout(SHUTDOWN_WAIT);
        }
    }
}

fn build_service(c: &mtasts_service_config) -> Result<mtasts_service> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(c.worker_threads)
        .max_blocking_threads(4)
        .thread_name("mtasts")
        .enable_all()
        .build()
        .map_err(|e| Error::chain(mtasts_result::Runtime, &e))?;
    let mut notes = Vec::new();
    let sts = {
        let _guard = runtime.enter();
        let network = |e: policy_fetch::FetchError| Error::chain(mtasts_result::Network, &e);
        let dns = c.overrides.dns().map_err(network)?;
        let roots = c.overrides.roots().map_err(|e| {
            let code = match &e {
                policy_fetch::FetchError::CaFile { .. } => mtasts_result::Io,
                _ => mtasts_result::Network,
            };
            Error::chain(code, &e)
        })?;
        let mut fetch = c.overrides.fetch_config();
        if let Some(t) = c.fetch_timeout {
            fetch = FetchConfig {
                total_timeout: t,
                connect_timeout: fetch.connect_timeout.min(t),
                ..fetch
            };
        }
        let http = PolicyClient::new(dns.clone(), &roots, fetch).map_err(network)?;
        let store: Arc<dyn Store> = match &c.state_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::new(
                        mtasts_result::Io,
                        format!("state directory {}: {e}", dir.display()),
                    )
                })?;
                let path = dir.join(STORE_FILE);
                let opened = RedbStore::open_or_recover(&path)
                    .map_err(|e| Error::chain(mtasts_result::Store, &e))?;
                if let Some(aside) = &opened.moved_aside {
                    notes.push(format!(
                        "the policy cache {} was unreadable; moved to {} and started empty",
                        path.display(),
                        aside.display()
                    ));
                }
                Arc::new(opened.store)
            }
            None => Arc::new(MemoryStore::new()),
        };
        let settings = Settings {
            strict: c.strict,
            ..Settings::default()
        };
        let (sts, skipped) = MtaSts::new(dns, http, store, settings)
            .map_err(|e| Error::chain(mtasts_result::Store, &e))?;
        notes.extend(
            skipped
                .into_iter()
                .map(|s| format!("cache entry {} skipped: {}", s.domain, s.reason)),
        );
        sts
    };
    Ok(mtasts_service {
        sts: Some(sts),
        runtime: Some(runtime),
        notes,
    })
}

/// Start a service with `config` (which stays the caller's): the runtime,
/// the resolver, the TLS client and the cache (loaded from the state
/// directory, if one is set). Errors: [`mtasts_result::Runtime`],
/// [`mtasts_result::Io`] (CA file, state directory),
/// [`mtasts_result::Store`], [`mtasts_result::Network`],
/// [`mtasts_result::NullParameter`]. Free `*out_service` with
/// [`mtasts_service_free`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_new(
    config: *const mtasts_service_config,
    out_service: *mut *mut mtasts_service,
) -> mtasts_result {
    guard(|| {
        let o = out(out_service, "out_service")?;
        // SAFETY: the caller's promise: NULL or a live configuration.
        let c = unsafe { handle(config, "config") }?;
        let s = build_service(c)?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(s))) };
        Ok(())
    })
}

/// Where a lookup's answer came from.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mtasts_answer {
    /// The cache, without any IO.
    CacheHit = 1,
    /// A discovery (DNS, and HTTPS when the id changed) ran or was joined.
    Discovered = 2,
    /// Every discovery slot was taken: the still-valid cached policy,
    /// used without checking the TXT record.
    Busy = 3,
    /// A newer entry in the shared store.
    FromStore = 4,
}

/// The result of [`mtasts_service_lookup`]: the policy to apply (or none),
/// a policy failure to report through TLS-RPT, and warnings for the
/// administrator. Immutable: `Send` and `Sync`. Free with
/// [`mtasts_lookup_free`].
#[derive(Debug)]
pub struct mtasts_lookup {
    policy: Option<Box<mtasts_policy>>,
    answer: mtasts_answer,
    failure: Option<(String, String)>,
    warnings: Vec<(String, String)>,
}

/// The policy to apply to a delivery to the Policy Domain `domain` (the
/// recipient's domain, or the smart host's), waiting at most `timeout_ms`
/// milliseconds (0: answer only from the cache, and start a discovery if
/// needed).
///
/// On [`mtasts_result::Ok`], `*out_lookup` is a new lookup (free it with
/// [`mtasts_lookup_free`]); its policy ([`mtasts_lookup_policy`]) is NULL
/// when none applies (deliver as without MTA-STS). When the answer is not
/// ready in time the call returns [`mtasts_result::NotYet`] and writes
/// nothing: the discovery goes on in the background and fills the cache,
/// so a later call for the domain gets it (defer the message and retry).
/// [`mtasts_result::Busy`]: too many discoveries are running and nothing
/// is cached for the domain (defer too). Other errors:
/// [`mtasts_result::DomainInvalid`], [`mtasts_result::InvalidUtf8`],
/// [`mtasts_result::NullParameter`].
///
/// Blocks the calling thread, never a runtime thread; must not be called
/// from inside a tokio runtime.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_lookup(
    service: *const mtasts_service,
    domain: *const c_char,
    domain_len: usize,
    timeout_ms: u32,
    out_lookup: *mut *mut mtasts_lookup,
) -> mtasts_result {
    guard(|| {
        let o = out(out_lookup, "out_lookup")?;
        // SAFETY: the caller's promise: NULL or a live service.
        let s = unsafe { handle(service, "service") }?;
        // SAFETY: the caller's promise for the string and its length.
        let d = unsafe { str_arg(domain, domain_len, "domain") }?;
        let d = mta_sts_core::domain::normalize(d)
            .map_err(|e| Error::chain(mtasts_result::DomainInvalid, &e))?;
        let (Some(sts), Some(rt)) = (&s.sts, &s.runtime) else {
            return Err(Error::new(
                mtasts_result::Internal,
                "the service is stopped",
            ));
        };
        let limit = Duration::from_millis(u64::from(timeout_ms));
        let lookup = rt
            .block_on(async { tokio::time::timeout(limit, sts.lookup(&d)).await })
            .map_err(|_| {
                Error::new(
                    mtasts_result::NotYet,
                    format!(
                        "{d}: no answer within {timeout_ms} ms; the discovery goes on in the background"
                    ),
                )
            })?;
        let answer = match lookup.answer {
            Answer::CacheHit => mtasts_answer::CacheHit,
            Answer::Discovered(_) => mtasts_answer::Discovered,
            Answer::Busy => mtasts_answer::Busy,
            Answer::FromStore => mtasts_answer::FromStore,
        };
        if answer == mtasts_answer::Busy && lookup.policy.is_none() {
            return Err(Error::new(
                mtasts_result::Busy,
                format!("{d}: every discovery slot is taken and nothing is cached; retry later"),
            ));
        }
        let l = mtasts_lookup {
            policy: lookup.policy.map(|p| Box::new(mtasts_policy::cached(p))),
            answer,
            failure: lookup
                .failure
                .map(|f| (f.result_type.as_str().to_owned(), f.reason)),
            warnings: lookup
                .warnings
                .into_iter()
                .map(|w| (w.code.as_str().to_owned(), w.message))
                .collect(),
        };
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(l))) };
        Ok(())
    })
}

/// The number of domains in the cache (0 for a NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_cached_count(service: *const mtasts_service) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live service.
        unsafe { service.as_ref() }
            .and_then(|s| s.sts.as_ref())
            .map_or(0, |s| s.len())
    })
}

/// The number of notes from starting the service (cache entries that
/// could not be loaded, an unreadable cache file moved aside); 0 for a
/// NULL handle. Log them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_note_count(service: *const mtasts_service) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live service.
        unsafe { service.as_ref() }.map_or(0, |s| s.notes.len())
    })
}

/// The note at `index`, borrowed from the service.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_note_at(
    service: *const mtasts_service,
    index: usize,
    out_note: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_note, "out_note")?;
        // SAFETY: the caller's promise: NULL or a live service.
        let s = unsafe { handle(service, "service") }?;
        let n = at(&s.notes, index, "note")?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(n)) };
        Ok(())
    })
}

/// Stop and free a service (NULL: nothing). Running discoveries are
/// abandoned; cache writes in progress are waited for (at most 30 s), so
/// the cache file is closed when this returns. Every lookup call on it
/// must have returned.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_service_free(service: *mut mtasts_service) {
    // SAFETY: the caller's promise: NULL or a service not yet freed.
    unsafe { free_box(service) }
}

/// The policy to apply, **borrowed** from the lookup (valid until the
/// lookup is freed; [`mtasts_policy_clone`](crate::mtasts_policy_clone) to
/// keep it longer): `*out_policy` is NULL when no policy applies. A policy
/// in mode `none` is returned as such (decide as without a policy).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_lookup_policy(
    lookup: *const mtasts_lookup,
    out_policy: *mut *const mtasts_policy,
) -> mtasts_result {
    guard(|| {
        let o = out(out_policy, "out_policy")?;
        // SAFETY: the caller's promise: NULL or a live lookup.
        let l = unsafe { handle(lookup, "lookup") }?;
        let p = l
            .policy
            .as_deref()
            .map_or(std::ptr::null(), |p| p as *const mtasts_policy);
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(p) };
        Ok(())
    })
}

/// Where the answer came from.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_lookup_answer(
    lookup: *const mtasts_lookup,
    out_answer: *mut mtasts_answer,
) -> mtasts_result {
    guard(|| {
        let o = out(out_answer, "out_answer")?;
        // SAFETY: the caller's promise: NULL or a live lookup.
        let l = unsafe { handle(lookup, "lookup") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(l.answer) };
        Ok(())
    })
}

/// The policy failure to report through TLS-RPT, if the discovery had one:
/// its result type (`sts-policy-fetch-error`, `sts-policy-invalid`,
/// `sts-webpki-invalid`) and reason, borrowed from the lookup.
/// [`mtasts_result::NotFound`] when there is none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_lookup_failure(
    lookup: *const mtasts_lookup,
    out_result_type: *mut mtasts_str,
    out_reason: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let t = out(out_result_type, "out_result_type")?;
        let r = out(out_reason, "out_reason")?;
        // SAFETY: the caller's promise: NULL or a live lookup.
        let l = unsafe { handle(lookup, "lookup") }?;
        let (rt, reason) = l.failure.as_ref().ok_or_else(|| {
            Error::new(mtasts_result::NotFound, "the lookup has no policy failure")
        })?;
        // SAFETY: both checked and writable by the caller's promise.
        unsafe { t.put(mtasts_str::borrowed(rt)) };
        // SAFETY: as above.
        unsafe { r.put(mtasts_str::borrowed(reason)) };
        Ok(())
    })
}

/// The number of warnings for the administrator (0 for a NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_lookup_warning_count(lookup: *const mtasts_lookup) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live lookup.
        unsafe { lookup.as_ref() }.map_or(0, |l| l.warnings.len())
    })
}

/// The warning at `index`: its stable code (`txt-temporary-failure`,
/// `policy-lenient`, ...) and message, borrowed from the lookup.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_lookup_warning_at(
    lookup: *const mtasts_lookup,
    index: usize,
    out_code: *mut mtasts_str,
    out_message: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let c = out(out_code, "out_code")?;
        let m = out(out_message, "out_message")?;
        // SAFETY: the caller's promise: NULL or a live lookup.
        let l = unsafe { handle(lookup, "lookup") }?;
        let (code, message) = at(&l.warnings, index, "warning")?;
        // SAFETY: both checked and writable by the caller's promise.
        unsafe { c.put(mtasts_str::borrowed(code)) };
        // SAFETY: as above.
        unsafe { m.put(mtasts_str::borrowed(message)) };
        Ok(())
    })
}

/// Free a lookup (NULL: nothing); the policy it lent is freed with it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_lookup_free(lookup: *mut mtasts_lookup) {
    // SAFETY: the caller's promise: NULL or a lookup not yet freed.
    unsafe { free_box(lookup) }
}
