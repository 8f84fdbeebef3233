//! # The libtlsrpt-compatible API
//!
//! The functions, enum values, error codes and semantics of libtlsrpt 0.5
//! (the C library Postfix 3.10+ records TLS-RPT results with), declared in
//! the hand-written header `include/tlsrpt.h`, so that a program written
//! for libtlsrpt builds against that header and links against this
//! library unchanged (`-ltlsrpt` through the `libtlsrpt.so` name, see the
//! crate README). One delivery request becomes one JSON datagram, sent
//! to the AF_UNIX datagram socket named at [`tlsrpt_open`], byte for
//! byte what libtlsrpt sends (members in its order, absent optional
//! members left out). Unlike libtlsrpt, which names the socket path in
//! every `sendto` (a path lookup in the kernel per datagram), the socket
//! is connected to the collector at the first send and re-connected at
//! most a second later (so a collector restarted on the same path is
//! found again, as by `sendto`), or at once when the collector went
//! away; while connecting fails, each datagram goes by `sendto` as in
//! libtlsrpt, so the errors (`TLSRPT_ERR_SENDTO` + errno) are the same.
//!
//!
//! ```text
//! {"dpv":"1","d":"<domain>","pr":"<_smtp._tls record>","policies":[{"policy-type":2,
//!  "policy-domain":"...","policy-string":["..."],"mx-host":["..."],"failure-details":[
//!  {"c":202,"s":"...","n":"...","h":"...","r":"...","a":"...","f":"..."}],"t":1,"f":1}]}
//! ```
//!
//! ## Semantics (as libtlsrpt)
//!
//! - Every function returns an `int`, 0 on success; an error code is a
//!   block plus `errno` (`TLSRPT_ERR_SOCKET` 11000 + errno for `socket`,
//!   `TLSRPT_ERR_SENDTO` 13000 + errno for `sendto`) or an internal code
//!   10xxx ([`tlsrpt_error_code_is_internal`]).
//! - The first error of a delivery request sticks: every later call on it
//!   returns that code and does nothing, and
//!   [`tlsrpt_finish_delivery_request`] frees it without sending.
//!   [`tlsrpt_cancel_delivery_request`] frees it without sending and
//!   returns the sticky code (0 when there was none).
//! - Handles are made and destroyed through `T **`; destroying sets
//!   `*p = NULL`. Input strings are copied during the call; returned
//!   strings are static.
//!
//! ## Better than the original
//!
//! - NULL-safe: a NULL handle or a NULL required string gives
//!   [`TLSRPT_ERR_MTASTS_NULL`] (a NULL connection at
//!   [`tlsrpt_init_delivery_request`] gives libtlsrpt's
//!   `TLSRPT_ERR_TLSRPT_NOCONNECTION`); destroying `*p == NULL` does
//!   nothing and returns 0. No panic unwinds into C
//!   ([`TLSRPT_ERR_MTASTS_PANIC`]).
//! - Strings must be UTF-8 ([`TLSRPT_ERR_MTASTS_INVALID_UTF8`]) and are
//!   JSON-escaped (`"`, `\` and control characters); libtlsrpt copies bytes
//!   above 0x7F as they are.
//! - Sizes are capped ([`TLSRPT_ERR_MTASTS_FIELD_TOO_LONG`],
//!   [`TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG`], [`TLSRPT_ERR_MTASTS_TOO_MANY`]):
//!   domain names [`MAX_DOMAIN_BYTES`], failure detail fields
//!   [`MAX_DETAIL_BYTES`] (the collector's limit), policy strings and the
//!   record [`MAX_STRING_BYTES`], the datagram [`MAX_DATAGRAM_BYTES`] (the
//!   collector's limit), [`MAX_POLICIES`] policies and [`MAX_FAILURES`]
//!   failure details per policy.
//! - A missing or empty `policy-domain` is filled with the delivery
//!   domain (libtlsrpt leaves it out, and receivers reject such reports).
//! - Enum arguments outside their values give
//!   [`TLSRPT_ERR_MTASTS_INVALID_ARGUMENT`].
//!
//! Our own codes are 10801–10899, in libtlsrpt's internal block 10xxx and
//! outside the numbers it uses (107xx).

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::fmt::Write as _;
use std::os::fd::AsRawFd as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// The libtlsrpt API version implemented: major.
pub const TLSRPT_VERSION_MAJOR: c_int = 0;
/// The libtlsrpt API version implemented: minor.
pub const TLSRPT_VERSION_MINOR: c_int = 5;
/// The libtlsrpt API version implemented: patch.
pub const TLSRPT_VERSION_PATCH: c_int = 0;
/// The libtlsrpt API version implemented, as text.
pub const TLSRPT_VERSION_STRING: &str = "0.5.0";
/// libtlsrpt's `TLSRPT_MAXDOMAINNAMELEN`: room for a domain name and its
/// NUL.
pub const TLSRPT_MAXDOMAINNAMELEN: usize = 256;

/// Policy type `tlsa` (`TLSRPT_POLICY_TLSA`).
pub const TLSRPT_POLICY_TLSA: c_int = 1;
/// Policy type `sts` (`TLSRPT_POLICY_STS`).
pub const TLSRPT_POLICY_STS: c_int = 2;
/// Policy type `no-policy-found` (`TLSRPT_NO_POLICY_FOUND`).
pub const TLSRPT_NO_POLICY_FOUND: c_int = 9;
/// Final result: success.
pub const TLSRPT_FINAL_SUCCESS: c_int = 0;
/// Final result: failure.
pub const TLSRPT_FINAL_FAILURE: c_int = 1;

/// The failure codes (`tlsrpt_failure_t`) and their names in the header.
pub const TLSRPT_FAILURES: [(&str, c_int); 12] = [
    ("TLSRPT_STARTTLS_NOT_SUPPORTED", 201),
    ("TLSRPT_CERTIFICATE_HOST_MISMATCH", 202),
    ("TLSRPT_CERTIFICATE_NOT_TRUSTED", 203),
    ("TLSRPT_CERTIFICATE_EXPIRED", 204),
    ("TLSRPT_VALIDATION_FAILURE", 205),
    ("TLSRPT_STS_POLICY_FETCH_ERROR", 301),
    ("TLSRPT_STS_POLICY_INVALID", 302),
    ("TLSRPT_STS_WEBPKI_INVALID", 303),
    ("TLSRPT_TLSA_INVALID", 304),
    ("TLSRPT_DNSSEC_INVALID", 305),
    ("TLSRPT_DANE_REQUIRED", 306),
    ("TLSRPT_UNFINISHED_POLICY", 901),
];

/// libtlsrpt's "unfinished policy" failure code.
pub const TLSRPT_UNFINISHED_POLICY: c_int = 901;

/// Block of internal errors.
pub const TLSRPT_ERR_TLSRPT: c_int = 10000;
/// Block of `socket` errors (+ errno).
pub const TLSRPT_ERR_SOCKET: c_int = 11000;
/// Block of `close` errors (+ errno).
pub const TLSRPT_ERR_CLOSE: c_int = 12000;
/// Block of `sendto` errors (+ errno).
pub const TLSRPT_ERR_SENDTO: c_int = 13000;
/// The delivery request was cancelled.
pub const TLSRPT_ERR_TLSRPT_CANCELLED: c_int = 10703;
/// The socket name does not fit `sun_path`.
pub const TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG: c_int = 10711;
/// A policy was not finished before the delivery request was.
pub const TLSRPT_ERR_TLSRPT_UNFINISHEDPOLICY: c_int = 10712;
/// No connection (a NULL connection).
pub const TLSRPT_ERR_TLSRPT_NOCONNECTION: c_int = 10713;
/// A policy was started while another was open.
pub const TLSRPT_ERR_TLSRPT_NESTEDPOLICY: c_int = 10731;
/// The delivery request was finished without any policy.
pub const TLSRPT_ERR_TLSRPT_NOPOLICIES: c_int = 10732;
/// mta-sts-rs: a required pointer argument was NULL.
pub const TLSRPT_ERR_MTASTS_NULL: c_int = 10801;
/// mta-sts-rs: a string argument is not UTF-8.
pub const TLSRPT_ERR_MTASTS_INVALID_UTF8: c_int = 10802;
/// mta-sts-rs: a string argument is longer than its cap.
pub const TLSRPT_ERR_MTASTS_FIELD_TOO_LONG: c_int = 10803;
/// mta-sts-rs: the datagram would be longer than [`MAX_DATAGRAM_BYTES`].
pub const TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG: c_int = 10804;
/// mta-sts-rs: an enum argument that is not one of its values, an empty
/// domain or socket name.
pub const TLSRPT_ERR_MTASTS_INVALID_ARGUMENT: c_int = 10805;
/// mta-sts-rs: more than [`MAX_POLICIES`] policies or [`MAX_FAILURES`]
/// failure details in one policy.
pub const TLSRPT_ERR_MTASTS_TOO_MANY: c_int = 10806;
/// mta-sts-rs: a policy function was called with no policy open.
pub const TLSRPT_ERR_MTASTS_NO_OPEN_POLICY: c_int = 10807;
/// mta-sts-rs: a panic was caught at the C boundary (a bug).
pub const TLSRPT_ERR_MTASTS_PANIC: c_int = 10899;

/// Longest domain name (delivery and policy domain), in bytes.
pub const MAX_DOMAIN_BYTES: usize = TLSRPT_MAXDOMAINNAMELEN - 1;
/// Longest failure detail field (the collector's `MAX_FIELD_LEN`).
pub const MAX_DETAIL_BYTES: usize = tlsrpt_core::session::MAX_FIELD_LEN;
/// Longest policy string, MX pattern or `_smtp._tls` record.
pub const MAX_STRING_BYTES: usize = 8192;
/// Longest datagram (the collector's `DatagramLimits::max_bytes`).
pub const MAX_DATAGRAM_BYTES: usize = 65_536;
/// Most policies in one delivery request.
pub const MAX_POLICIES: usize = 16;
/// Most failure details in one policy.
pub const MAX_FAILURES: usize = 256;

/// Every error code this library returns, with its fixed text.
pub const ERROR_TEXTS: [(c_int, &str); 15] = [
    (0, "success"),
    (
        TLSRPT_ERR_TLSRPT_CANCELLED,
        "the delivery request was cancelled",
    ),
    (
        TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG,
        "the socket name is too long for an AF_UNIX address",
    ),
    (
        TLSRPT_ERR_TLSRPT_UNFINISHEDPOLICY,
        "a policy was not finished before the delivery request",
    ),
    (TLSRPT_ERR_TLSRPT_NOCONNECTION, "no connection (NULL)"),
    (
        TLSRPT_ERR_TLSRPT_NESTEDPOLICY,
        "a policy was started while another one was open",
    ),
    (
        TLSRPT_ERR_TLSRPT_NOPOLICIES,
        "the delivery request has no policy",
    ),
    (
        TLSRPT_ERR_MTASTS_NULL,
        "a required pointer argument was NULL",
    ),
    (
        TLSRPT_ERR_MTASTS_INVALID_UTF8,
        "a string argument is not UTF-8",
    ),
    (
        TLSRPT_ERR_MTASTS_FIELD_TOO_LONG,
        "a string argument is longer than its limit",
    ),
    (
        TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG,
        "the datagram would be longer than 65536 bytes",
    ),
    (
        TLSRPT_ERR_MTASTS_INVALID_ARGUMENT,
        "an argument is not one of its values, or is empty",
    ),
    (
        TLSRPT_ERR_MTASTS_TOO_MANY,
        "too many policies or failure details",
    ),
    (TLSRPT_ERR_MTASTS_NO_OPEN_POLICY, "no policy is open"),
    (
        TLSRPT_ERR_MTASTS_PANIC,
        "internal panic caught at the C boundary (a bug)",
    ),
];

/// Whether sends block (`tlsrpt_set_blocking`); non-blocking by default,
/// as libtlsrpt.
static BLOCKING: AtomicBool = AtomicBool::new(false);

/// A connection: an unbound AF_UNIX datagram socket, connected to the
/// collector's address while that works (see the module docs), and the
/// address. `Send` and `Sync`: delivery requests on many threads may
/// share one.
#[derive(Debug)]
pub struct tlsrpt_connection_t {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// Whether the socket is in non-blocking mode now.
    nonblocking: AtomicBool,
    /// When the socket was last connected to `addr` (seconds on
    /// [`coarse_now`]'s clock); 0: not connected (see the module docs).
    connected_at: AtomicU64,
}

/// Seconds since the first call in this process, at least 1 (0 means
/// "never" in [`tlsrpt_connection_t::connected_at`]).
fn coarse_now() -> u64 {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs()
        .saturating_add(1)
}

/// Errors of a send on the connected socket that mean the collector's
/// socket is gone (closed or replaced): connect again.
fn peer_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::NotConnected
            | ErrorKind::BrokenPipe
    )
}

impl tlsrpt_connection_t {
    /// Send one datagram to the collector (see the module docs).
    fn send(&self, bytes: &[u8]) -> std::io::Result<usize> {
        let now = coarse_now();
        let at = self.connected_at.load(Ordering::Relaxed);
        if at != 0 && now.saturating_sub(at) < 1 {
            match self.socket.send(bytes) {
                Err(e) if peer_gone(&e) => {}
                done => return done,
            }
        }
        // Not connected, connected over a second ago, or the collector's
        // socket went away: connect (again). Concurrent senders may both
        // connect; each connects to the same address.
        if self.socket.connect_addr(&self.addr).is_ok() {
            self.connected_at.store(now, Ordering::Relaxed);
            return self.socket.send(bytes);
        }
        self.connected_at.store(0, Ordering::Relaxed);
        self.socket.send_to_addr(bytes, &self.addr)
    }
}

/// One delivery request: the datagram being built. One thread at a time.
#[derive(Debug)]
pub struct tlsrpt_dr_t {
    /// The connection it is sent through (borrowed: the caller keeps it
    /// open until the request is finished or cancelled).
    con: *const tlsrpt_connection_t,
    /// The sticky first error (0: none).
    status: c_int,
    /// `{"dpv":"1","d":...,"pr":...,"policies":[` and the finished
    /// policies.
    out: String,
    /// Where the delivery domain's JSON string ends in `out` (it starts
    /// at [`DOMAIN_AT`]).
    domain_end: usize,
    /// Finished policies.
    policies: usize,
    /// The policy being built, if one is open.
    open: bool,
    /// Its `"policy-type":N,"policy-domain":"..."`.
    head: String,
    /// Its policy strings, JSON strings separated by commas.
    strings: String,
    /// Its MX patterns.
    mx: String,
    /// Its failure detail objects.
    failures: String,
    /// How many failure details.
    nfailures: usize,
}

// SAFETY: the only field that is not `Send` is `con`, a pointer to a
// connection, which is `Sync` (socket, address, atomic flag): using it
// from the thread the request moved to is sound while the caller keeps
// the connection open (the documented contract).
unsafe impl Send for tlsrpt_dr_t {}

/// Where the delivery domain's JSON string starts in a datagram.
const DOMAIN_AT: usize = "{\"dpv\":\"1\",\"d\":".len();

type Res<T = ()> = Result<T, c_int>;

/// Run a body that returns a code; a panic gives
/// [`TLSRPT_ERR_MTASTS_PANIC`].
fn guarded(f: impl FnOnce() -> c_int) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(rc) => rc,
        Err(payload) => {
            // A payload whose drop panics is leaked rather than unwound.
            if let Err(again) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
                std::mem::forget(again);
            }
            TLSRPT_ERR_MTASTS_PANIC
        }
    }
}

/// The NUL-terminated UTF-8 string at `p` (`None` for NULL), at most
/// `max` bytes.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string readable during `'a`.
unsafe fn opt_str<'a>(p: *const c_char, max: usize) -> Res<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's promise.
    let b = unsafe { CStr::from_ptr(p) }.to_bytes();
    if b.len() > max {
        return Err(TLSRPT_ERR_MTASTS_FIELD_TOO_LONG);
    }
    if b.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        return Ok(Some(unsafe { std::str::from_utf8_unchecked(b) }));
    }
    std::str::from_utf8(b)
        .map(Some)
        .map_err(|_| TLSRPT_ERR_MTASTS_INVALID_UTF8)
}

/// As [`opt_str`], NULL refused.
///
/// # Safety
/// As [`opt_str`].
unsafe fn req_str<'a>(p: *const c_char, max: usize) -> Res<&'a str> {
    // SAFETY: the caller's promise, passed on.
    unsafe { opt_str(p, max) }?.ok_or(TLSRPT_ERR_MTASTS_NULL)
}

/// The libtlsrpt version this library implements, `"0.5.0"` (static;
/// nothing to free).
#[unsafe(no_mangle)]
pub extern "C" fn tlsrpt_version() -> *const c_char {
    c"0.5.0".as_ptr()
}

/// 1 when a program built against the header of version
/// `major.minor.patch` can use this library (same major, minor not newer
/// than ours), else 0.
#[unsafe(no_mangle)]
pub extern "C" fn tlsrpt_version_check(major: c_int, minor: c_int, patch: c_int) -> c_int {
    let _ = patch;
    c_int::from(major == TLSRPT_VERSION_MAJOR && (0..=TLSRPT_VERSION_MINOR).contains(&minor))
}

/// Open a connection to the collector socket `socketname`: a datagram
/// socket, not connected (the collector need not be running). On success
/// `*pcon` is the connection (close it with [`tlsrpt_close`]); on an
/// error `*pcon` is set to NULL. Errors: `TLSRPT_ERR_MTASTS_NULL`,
/// `TLSRPT_ERR_MTASTS_INVALID_UTF8`, `TLSRPT_ERR_MTASTS_INVALID_ARGUMENT`
/// (empty name), `TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG`,
/// `TLSRPT_ERR_SOCKET` + errno.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tlsrpt_open(
    pcon: *mut *mut tlsrpt_connection_t,
    socketname: *const c_char,
) -> c_int {
    guarded(|| {
        if pcon.is_null() {
            return TLSRPT_ERR_MTASTS_NULL;
        }
        // SAFETY: `pcon` is non-NULL and writable by the caller's promise.
        unsafe { pcon.write(std::ptr::null_mut()) };
        // SAFETY: NULL or a NUL-terminated string by the caller's promise.
        let name = match unsafe { req_str(socketname, 4096) } {
            Ok(n) => n,
            Err(TLSRPT_ERR_MTASTS_FIELD_TOO_LONG) => {
                return TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG;
            }
            Err(e) => return e,
        };
        if name.is_empty() {
            return TLSRPT_ERR_MTASTS_INVALID_ARGUMENT;
        }
        // `sun_path` holds 108 bytes with the NUL.
        if name.len() >= 108 {
            return TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG;
        }
        let Ok(addr) = SocketAddr::from_pathname(name) else {
            return TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG;
        };
        let socket = match UnixDatagram::unbound() {
            Ok(s) => s,
            Err(e) => return TLSRPT_ERR_SOCKET + errno(&e),
        };
        let con = Box::new(tlsrpt_connection_t {
            socket,
            addr,
            nonblocking: AtomicBool::new(false),
            connected_at: AtomicU64::new(0),
        });
        // SAFETY: as above.
        unsafe { pcon.write(Box::into_raw(con)) };
        0
    })
}

/// The errno of an IO error, within 1..=999 (so the block survives).
fn errno(e: &std::io::Error) -> c_int {
    e.raw_os_error().map_or(999, |n| n.clamp(1, 999))
}

/// Close a connection and set `*pcon` to NULL. `pcon` NULL:
/// `TLSRPT_ERR_MTASTS_NULL`; `*pcon` NULL: nothing, 0. Every delivery
/// request made with it must be finished or cancelled first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tlsrpt_close(pcon: *mut *mut tlsrpt_connection_t) -> c_int {
    guarded(|| {
        if pcon.is_null() {
            return TLSRPT_ERR_MTASTS_NULL;
        }
        // SAFETY: non-NULL and valid for reads and writes by the caller's
        // promise.
        let con = unsafe { pcon.replace(std::ptr::null_mut()) };
        if !con.is_null() {
            // SAFETY: made by `tlsrpt_open` (Box::into_raw), closed once:
            // the caller's pointer is now NULL.
            drop(unsafe { Box::from_raw(con) });
        }
        0
    })
}

/// The connection's socket descriptor (-1 for NULL). It belongs to the
/// connection: do not close it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tlsrpt_get_socket(con: *mut tlsrpt_connection_t) -> c_int {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: NULL or a live connection by the caller's promise.
        unsafe { con.as_ref() }.map_or(-1, |c| c.socket.as_raw_fd())
    }))
    .unwrap_or(-1)
}

/// Sends from now on block when the collector's queue is full (all
/// connections, process-wide).
#[unsafe(no_mangle)]
pub extern "C" fn tlsrpt_set_blocking() {
    BLOCKING.store(true, Ordering::Relaxed);
}

/// Sends from now on fail with `TLSRPT_ERR_SENDTO` + `EAGAIN` when the
/// collector's queue is full (the default).
#[unsafe(no_mangle)]
pub extern "C" fn tlsrpt_set_nonblocking() {
    BLOCKING.store(false, Ordering::Relaxed);
}

/// Accepted for compatibility and ignored: this library allocates with
/// its own allocator, and nothing it allocates is freed by the caller.
#[unsafe(no_mangle)]
pub extern "C" fn tlsrpt_set_malloc_and_free(
    malloc_function: Option<unsafe extern "C" fn(usize) -> *mut c_void>,
    free_function: Option<unsafe extern "C" fn(*mut c_void)>,
) {
    let _ = (malloc_function, free_function);
}

impl tlsrpt_dr_t {
    /// The size of the datagram if it were finished now (upper bound).
    fn projected_len(&self) -> usize {
        let open = if self.open {
            // `,{` head `,"policy-string":[`...`]` `,"mx-host":[`...`]`
            // `,"failure-details":[`...`]` `,"t":NNN,"f":1}`
            2 + self.head.len()
                + 19
                + self.strings.len()
                + 12
                + self.mx.len()
                + 22
                + self.failures.len()
                + 18
        } else {
            0
        };
        self.out.len() + open + 2
    }

    fn check_len(&self) -> Res {
        if self.projected_len() > MAX_DATAGRAM_BYTES {
            Err(TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG)
        } else {
            Ok(())
        }
    }

    fn require_open(&self) -> Res {
        if self.open {
            Ok(())
        } else {
            Err(TLSRPT_ERR_MTASTS_NO_OPEN_POLICY)
        }
    }

    /// Close the open policy with final result `f` (0 or 1).
    fn close_policy(&mut self, f: c_int) {
        if self.policies > 0 {
            self.out.push(',');
        }
        self.out.push('{');
        self.out.push_str(&self.head);
        for (name, items) in [
            ("policy-string", &self.strings),
            ("mx-host", &self.mx),
            ("failure-details", &self.failures),
        ] {
            if !items.is_empty() {
                self.out.push_str(",\"");
                self.out.push_str(name);
                self.out.push_str("\":[");
                self.out.push_str(items);
                self.out.push(']');
            }
        }
        self.out.push_str(",\"t\":");
        push_num(&mut self.out, self.nfailures);
        self.out.push_str(if f == TLSRPT_FINAL_SUCCESS {
            ",\"f\":0}"
        } else {
            ",\"f\":1}"
        });
        self.policies += 1;
        self.open = false;
    }
}

/// Run `f` on the delivery request at `dr` with the sticky-error rule: a
/// NULL request gives [`TLSRPT_ERR_MTASTS_NULL`]; a request that failed
/// before gives its first error and `f` is not run; an error of `f` (or a
/// panic) becomes the request's sticky error.
///
/// # Safety
/// `dr` is NULL or a live delivery request nothing else uses meanwhile.
unsafe fn on_dr(dr: *mut tlsrpt_dr_t, f: impl FnOnce(&mut tlsrpt_dr_t) -> Res) -> c_int {
    // SAFETY: the caller's promise; `as_mut` checks NULL.
    let Some(d) = (unsafe { dr.as_mut() }) else {
        return TLSRPT_ERR_MTASTS_NULL;
    };
    if d.status != 0 {
        return d.status;
    }
    let rc = guarded(|| match f(d) {
        Ok(()) => 0,
        Err(e) => e,
    });
    if rc != 0 {
        // SAFETY: as above; the borrow given to `f` has ended.
        if let Some(d) = unsafe { dr.as_mut() } {
            d.status = rc;
        }
    }
    rc
}

/// Start a delivery request for `domainname` (the recipient domain, at
/// most 255 bytes) whose `_smtp._tls` TXT record is `policyrecord` (may be
/// NULL: then `pr` is left out). On success `*pdr` is the request (finish
/// or cancel it); on an error `*pdr` is NULL. Errors:
/// `TLSRPT_ERR_MTASTS_NULL` (`pdr` or `domainname`),
/// `TLSRPT_ERR_TLSRPT_NOCONNECTION` (`con` NULL), `_INVALID_UTF8`,
/// `_FIELD_TOO_LONG`, `_INVALID_ARGUMENT` (empty domain). The connection
/// must stay open until the request is finished or cancelled.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tlsrpt_init_delivery_request(
    pdr: *mut *mut tlsrpt_dr_t,
    con: *mut tlsrpt_connection_t,
    domainname: *const c_char,
    policyrecord: *const c_char,
) -> c_int {
    guarded(|| {
        if pdr.is_null() {
            return TLSRPT_ERR_MTASTS_NULL;
        }
        // SAFETY: non-NULL and writable by the caller's promise.
        unsafe { pdr.write(std::ptr::null_mut()) };
        if con.is_null() {
            return TLSRPT_ERR_TLSRPT_NOCONNECTION;
        }
        // SAFETY: NULL or a NUL-terminated string by the caller's promise.
        let domain = match unsafe { req_str(domainname, MAX_DOMAIN_BYTES) } {
            Ok(d) => d,
            Err(e) => return e,
        };
        // SAFETY: as above.
        let record = match unsafe { opt_str(policyrecord, MAX_STRING_BYTES) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        if domain.is_empty() {
            return TLSRPT_ERR_MTASTS_INVALID_ARGUMENT;
        }
        let mut dr = take_spare().unwrap_or_else(|| {
            Box::new(tlsrpt_dr_t {
                con,
                status: 0,
                out: String::with_capacity(1024),
                domain_end: 0,
                policies: 0,
                open: false,
                head: String::with_capacity(96),
                strings: String::with_capacity(256),
                mx: String::with_capacity(64),
                failures: String::with_capacity(256),
                nfailures: 0,
            })
        });
        dr.con = con;
        dr.status = 0;
        dr.policies = 0;
        dr.open = false;
        dr.nfailures = 0;
        let out = &mut dr.out;
        out.clear();
        out.push_str("{\"dpv\":\"1\",\"d\":");
        write_json_string(out, domain);
        let domain_end = out.len();
        if let Some(r) = record {
            out.push_str(",\"pr\":");
            write_json_string(out, r);
        }
        out.push_str(",\"policies\":[");
        dr.domain_end = domain_end;
        // SAFETY: as above.
        unsafe { pdr.write(Box::into_raw(dr)) };
        0
    })
}

/// Start a policy of type `policy_type` (`TLSRPT_POLICY_TLSA`,
/// `TLSRPT_POLICY_STS`, `TLSRPT_NO_POLICY_FOUND`) for `policydomainname`
/// (NULL or empty: the delivery domain). Errors (sticky):
/// `TLSRPT_ERR_TLSRPT_NESTEDPOLICY` (a policy is open),
/// `TLSRPT_ERR_MTASTS_TOO_MANY` (more than 16), `_INVALID_ARGUMENT`
/// (type), `_INVALID_UTF8`, `_FIELD_TOO_LONG`, `_DATAGRAM_TOO_LONG`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tlsrpt_init_policy(
    dr: *mut tlsrpt_dr_t,
    policy_type: c_int,
    policydomainname: *const c_char,
) -> c_int {
    let f = |d: &mut tlsrpt_dr_t| -> Res {
        if d.open {
            return Err(TLSRPT_ERR_TLSRPT_NESTEDPOLICY);
        }
        if d.policies >= MAX_POLICIES {
            return Err(TLSRPT_ERR_MTASTS_TOO_MANY);
        }
        if ![
            TLSRPT_POLICY_TLSA,
            TLSRPT_POLICY_STS,
            TLSRPT_NO_POLICY_FOUND,
        ]
        .contains(&policy_type)
        {
            return Err(TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
        }
        // SAFETY: NULL or a NUL-terminated string (caller's promise).
        let pd = unsafe { opt_str(policydomainname, MAX_DOMAIN_BYTES) }?;
        d.head.clear();
        d.strings.clear();
        d.mx.clear();
        d.failures.clear();
        d.nfailures = 0;
        d.head.push_str("\"policy-type\":");
        push_num(&mut d.head, policy_type.unsigned_abs() as usize);
        d.head.push_str(",\"policy-domain\":");
        match pd {
            Some(p) if !p.is_empty() => write_json_string(&mut d.head, p),
            // The delivery domain, as already escaped in `out`.
            _ => d.head.push_str(&d.out[DOMAIN_AT..d.domain_end]),
        }
        d.open = true;
        d.check_len()
    };
    // SAFETY: the caller's promise for `dr`.
    unsafe { on_dr(dr, f) }
}

/// Append `s` (valid UTF-8) as a JSON string: `"` and `\` escaped,
/// control characters as `\n`, `\t`, ... or `\u00XX`, everything else
/// (UTF-8 above 0x7F included) as it is — the bytes libtlsrpt writes for
/// the same (valid) input. Scans bytes: every byte of a multi-byte UTF-8
/// sequence is above 0x7F, so none is taken for a character to escape.
fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    let b = s.as_bytes();
    // The common case, nothing to escape, checked without branches (so
    // the compiler vectorises it).
    let plain = !b.iter().fold(false, |any, &c| {
        any | (c < 0x20) | (c == b'"') | (c == b'\\')
    });
    if plain {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &str = match c {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        // Cut points are ASCII bytes, so character boundaries.
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 15)]));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Append a small non-negative number in decimal (no formatting
/// machinery: this is on every request's path).
fn push_num(out: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// Append `s` as a JSON string to a comma-separated list.
fn push_item(list: &mut String, s: &str) {
    if !list.is_empty() {
        list.push(',');
    }
    write_json_string(list, s);
}

/// Add a policy string (one line of the MTA-STS policy, or one TLSA
/// record) to the open policy. Errors (sticky): `TLSRPT_ERR_MTASTS_NULL`,
/// `_NO_OPEN_POLICY`, `_INVALID_UTF8`, `_FIELD_TOO_LONG` (over 8192
/// bytes), `_DATAGRAM_TOO_LONG`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tlsrpt_add_policy_string(
    dr: *mut tlsrpt_dr_t,
    policystring: *const c_char,
) -> c_int {
    let f = |d: &mut tlsrpt_dr_t| -> Res {
        d.require_open()?;
        // SAFETY: NULL or a NUL-terminated string (caller's promise).
        let s = unsafe { req_str(policystring, MAX_STRING_BYTES) }?;
        push_item(&mut d.strings, s);
        d.check_len()
    };
    // SAFETY: the caller's promise for `dr`.
    unsafe { on_dr(dr, f) }
}

/// Add an MX host pattern of the policy (`mx.example.com`,
/// `*.example.com`) to the open policy. Errors as
/// [`tlsrpt_add_policy_string`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tlsrpt_add_mx_host_pattern(
    dr: *mut tlsrpt_dr_t,
    mx_host_pattern: *const c_char,
) -> c_int {
    let f = |d: &mut tlsrpt_dr_t| -> Res {
        d.require_open()?;
        // SAFETY: NULL or a NUL-terminated string (caller's promise).
        let s = unsafe { req_str(mx_host_pattern, MAX_STRING_BYTES) }?;
        push_item(&mut d.mx, s);
        d.check_len()
    };
    // SAFETY: the caller's promise for `dr`.
    unsafe { on_dr(dr, f) }
}

/// Add a failure detail to the open policy: `failure_code` one of the
/// `tlsrpt_failure_t` values; every string may be NULL (left out), each
/// at most 2048 bytes. Errors (sticky): `TLSRPT_ERR_MTASTS_NO_OPEN_POLICY`,
/// `_INVALID_ARGUMENT` (code), `_TOO_MANY` (more than 256),
/// `_INVALID_UTF8`, `_FIELD_TOO_LONG`, `_DATAGRAM_TOO_LONG`.
#[unsafe(no_mangle)]
#[allow(
    clippy::too_many_arguments,
    reason = "libtlsrpt's signature, kept for compatibility"
)]
pub unsafe extern "C" fn tlsrpt_add_delivery_request_failure(
    dr: *mut tlsrpt_dr_t,
    failure_code: c_int,
    sending_mta_ip: *const c_char,
    receiving_mx_hostname: *const c_char,
    receiving_mx_helo: *const c_char,
    receiving_ip: *const c_char,
    additional_information: *const c_char,
    failure_reason_code: *const c_char,
) -> c_int {
    let f = |d: &mut tlsrpt_dr_t| -> Res {
        d.require_open()?;
        if !TLSRPT_FAILURES.iter().any(|(_, c)| *c == failure_code) {
            return Err(TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
        }
        if d.nfailures >= MAX_FAILURES {
            return Err(TLSRPT_ERR_MTASTS_TOO_MANY);
        }
        let mut fields: [(&str, Option<&str>); 6] = [("s", None); 6];
        for (k, (name, p)) in [
            ("s", sending_mta_ip),
            ("n", receiving_mx_hostname),
            ("h", receiving_mx_helo),
            ("r", receiving_ip),
            ("a", additional_information),
            ("f", failure_reason_code),
        ]
        .into_iter()
        .enumerate()
        {
            // SAFETY: NULL or a NUL-terminated string (caller's
            // promise).
            fields[k] = (name, unsafe { opt_str(p, MAX_DETAIL_BYTES) }?);
        }
        if !d.failures.is_empty() {
            d.failures.push(',');
        }
        d.failures.push_str("{\"c\":");
        push_num(&mut d.failures, failure_code.unsigned_abs() as usize);
        for (name, v) in fields {
            if let Some(v) = v {
                d.failures.push_str(",\"");
                d.failures.push_str(name);
                d.failures.push_str("\":");
                write_json_string(&mut d.failures, v);
            }
        }
        d.failures.push('}');
        d.nfailures += 1;
        d.check_len()
    };
    // SAFETY: the caller's promise for `dr`.
    unsafe { on_dr(dr, f) }
}

/// Finish the open policy with `final_result` (`TLSRPT_FINAL_SUCCESS` or
/// `TLSRPT_FINAL_FAILURE`). Errors (sticky):
/// `TLSRPT_ERR_MTASTS_NO_OPEN_POLICY`, `_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tlsrpt_finish_policy(dr: *mut tlsrpt_dr_t, final_result: c_int) -> c_int {
    let f = |d: &mut tlsrpt_dr_t| -> Res {
        d.require_open()?;
        if final_result != TLSRPT_FINAL_SUCCESS && final_result != TLSRPT_FINAL_FAILURE {
            return Err(TLSRPT_ERR_MTASTS_INVALID_ARGUMENT);
        }
        d.close_policy(final_result);
        Ok(())
    };
    // SAFETY: the caller's promise for `dr`.
    unsafe { on_dr(dr, f) }
}

thread_local! {
    /// A freed delivery request kept for the next one on this thread, so
    /// that a request costs no allocation (its buffers are reused).
    static SPARE: std::cell::RefCell<Option<Box<tlsrpt_dr_t>>> =
        const { std::cell::RefCell::new(None) };
}

/// The spare request of this thread, if there is one.
fn take_spare() -> Option<Box<tlsrpt_dr_t>> {
    SPARE
        .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.take()))
        .ok()
        .flatten()
}

/// Keep a finished request as this thread's spare (one that grew large,
/// over 4 KiB, is freed instead).
fn recycle(dr: Box<tlsrpt_dr_t>) {
    let small = dr.out.capacity()
        + dr.head.capacity()
        + dr.strings.capacity()
        + dr.mx.capacity()
        + dr.failures.capacity()
        <= 4096;
    if small {
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                *s = Some(dr);
            }
        });
    }
}

/// Take the request out of `*pdr` (setting `*pdr` to NULL).
///
/// # Safety
/// `pdr` is NULL or valid for reads and writes; `*pdr` is NULL or a live
/// request made by [`tlsrpt_init_delivery_request`].
unsafe fn take_dr(pdr: *mut *mut tlsrpt_dr_t) -> Res<Option<Box<tlsrpt_dr_t>>> {
    if pdr.is_null() {
        return Err(TLSRPT_ERR_MTASTS_NULL);
    }
    // SAFETY: non-NULL, readable and writable by the caller's promise.
    let dr = unsafe { pdr.replace(std::ptr::null_mut()) };
    if dr.is_null() {
        return Ok(None);
    }
    // SAFETY: made by `Box::into_raw` in `tlsrpt_init_delivery_request`,
    // taken once: the caller's pointer is NULL now.
    Ok(Some(unsafe { Box::from_raw(dr) }))
}

/// Finish the delivery request: send its datagram, unless an earlier call
/// on it failed (then that error is returned and nothing is sent), free it
/// and set `*pdr` to NULL. A policy still open is closed as a failed
/// session with a failure detail `TLSRPT_UNFINISHED_POLICY`, sent, and
/// `TLSRPT_ERR_TLSRPT_UNFINISHEDPOLICY` returned (the session is counted;
/// the code tells the caller it forgot `tlsrpt_finish_policy`). Errors:
/// `TLSRPT_ERR_MTASTS_NULL` (`pdr` or `*pdr` NULL),
/// `TLSRPT_ERR_TLSRPT_NOPOLICIES`, `_DATAGRAM_TOO_LONG`,
/// `TLSRPT_ERR_SENDTO` + errno (e.g. `ECONNREFUSED` when no collector
/// listens, `ENOENT` when the socket does not exist, `EAGAIN` when its
/// queue is full in non-blocking mode).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tlsrpt_finish_delivery_request(pdr: *mut *mut tlsrpt_dr_t) -> c_int {
    guarded(|| {
        // SAFETY: the caller's promise for `pdr`.
        let mut dr = match unsafe { take_dr(pdr) } {
            Ok(Some(d)) => d,
            Ok(None) => return TLSRPT_ERR_MTASTS_NULL,
            Err(e) => return e,
        };
        // SAFETY: the connection outlives its requests (the caller's
        // promise).
        let rc = unsafe { send(&mut dr) };
        recycle(dr);
        rc
    })
}

/// Finish and send `dr` (the body of [`tlsrpt_finish_delivery_request`]).
///
/// # Safety
/// `dr.con` points to a live connection.
unsafe fn send(dr: &mut tlsrpt_dr_t) -> c_int {
    {
        if dr.status != 0 {
            return dr.status;
        }
        let mut rc = 0;
        if dr.open {
            if dr.nfailures >= MAX_FAILURES {
                return TLSRPT_ERR_MTASTS_TOO_MANY;
            }
            if !dr.failures.is_empty() {
                dr.failures.push(',');
            }
            let _ = write!(dr.failures, "{{\"c\":{TLSRPT_UNFINISHED_POLICY}}}");
            dr.nfailures += 1;
            if let Err(e) = dr.check_len() {
                return e;
            }
            dr.close_policy(TLSRPT_FINAL_FAILURE);
            rc = TLSRPT_ERR_TLSRPT_UNFINISHEDPOLICY;
        }
        if dr.policies == 0 {
            return TLSRPT_ERR_TLSRPT_NOPOLICIES;
        }
        dr.out.push_str("]}");
        if dr.out.len() > MAX_DATAGRAM_BYTES {
            return TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG;
        }
        // SAFETY: live, by the function's contract (non-NULL at init).
        let Some(con) = (unsafe { dr.con.as_ref() }) else {
            return TLSRPT_ERR_TLSRPT_NOCONNECTION;
        };
        let nonblocking = !BLOCKING.load(Ordering::Relaxed);
        if con.nonblocking.load(Ordering::Relaxed) != nonblocking {
            if let Err(e) = con.socket.set_nonblocking(nonblocking) {
                return TLSRPT_ERR_SENDTO + errno(&e);
            }
            con.nonblocking.store(nonblocking, Ordering::Relaxed);
        }
        match con.send(dr.out.as_bytes()) {
            Ok(_) => rc,
            Err(e) => TLSRPT_ERR_SENDTO + errno(&e),
        }
    }
}

/// Discard the delivery request without sending, free it and set `*pdr`
/// to NULL. Returns the request's sticky error (0 when no call on it had
/// failed). `pdr` NULL: `TLSRPT_ERR_MTASTS_NULL`; `*pdr` NULL: nothing, 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tlsrpt_cancel_delivery_request(pdr: *mut *mut tlsrpt_dr_t) -> c_int {
    guarded(|| {
        // SAFETY: the caller's promise for `pdr`.
        match unsafe { take_dr(pdr) } {
            Ok(Some(d)) => {
                let status = d.status;
                recycle(d);
                status
            }
            Ok(None) => 0,
            Err(e) => e,
        }
    })
}

/// `code % 1000`: the errno of a `TLSRPT_ERR_SOCKET`/`_CLOSE`/`_SENDTO`
/// code (meaningless for internal codes).
#[unsafe(no_mangle)]
pub extern "C" fn tlsrpt_errno_from_error_code(errorcode: c_int) -> c_int {
    errorcode % 1000
}

/// 1 for an internal code (10000–10999: the library's own, no errno),
/// else 0.
#[unsafe(no_mangle)]
pub extern "C" fn tlsrpt_error_code_is_internal(errorcode: c_int) -> c_int {
    c_int::from((TLSRPT_ERR_TLSRPT..TLSRPT_ERR_TLSRPT + 1000).contains(&errorcode))
}

/// Texts of the errno-based codes made so far (each made once, kept for
/// the life of the process: at most 3 × 999 of them).
fn errno_texts() -> &'static Mutex<HashMap<c_int, &'static CStr>> {
    static TEXTS: OnceLock<Mutex<HashMap<c_int, &'static CStr>>> = OnceLock::new();
    TEXTS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A static, NUL-terminated text for `errorcode`: the fixed text of an
/// internal code, "sendto: Connection refused (os error 111)" for an
/// errno-based one, "unknown error code" otherwise. Never NULL; nothing to
/// free; valid for the life of the process.
#[unsafe(no_mangle)]
pub extern "C" fn tlsrpt_strerror(errorcode: c_int) -> *const c_char {
    static UNKNOWN: &CStr = c"unknown error code";
    let r = catch_unwind(|| -> &'static CStr {
        if let Some((_, text)) = ERROR_TEXTS.iter().find(|(c, _)| *c == errorcode) {
            return static_text(errorcode, || (*text).to_owned()).unwrap_or(UNKNOWN);
        }
        let call = match errorcode / 1000 {
            11 => "socket",
            12 => "close",
            13 => "sendto",
            _ => return UNKNOWN,
        };
        let e = errorcode % 1000;
        if e == 0 {
            return UNKNOWN;
        }
        static_text(errorcode, || {
            format!("{call}: {}", std::io::Error::from_raw_os_error(e))
        })
        .unwrap_or(UNKNOWN)
    });
    r.unwrap_or(UNKNOWN).as_ptr()
}

/// The cached static text of `code`, made by `make` the first time.
fn static_text(code: c_int, make: impl FnOnce() -> String) -> Option<&'static CStr> {
    let mut map = errno_texts().lock().ok()?;
    if let Some(t) = map.get(&code) {
        return Some(t);
    }
    let text = std::ffi::CString::new(make()).ok()?;
    let leaked: &'static CStr = Box::leak(text.into_boxed_c_str());
    map.insert(code, leaked);
    Some(leaked)
}

/// The thread-safety the README promises.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn send<T: Send>() {}
    send_sync::<tlsrpt_connection_t>();
    send::<tlsrpt_dr_t>();
};
