//! The counters and gauges of `serve`, and their Prometheus text
//! exposition (format 0.0.4) served on the admin listener
//! (`GET /metrics`).
//!
//! Every value is an atomic: the request path only increments.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The response codes counted one by one; any other is counted as
/// `other`.
const CODES: [u16; 5] = [200, 400, 404, 405, 421];

/// The listeners whose requests are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    /// The HTTPS policy listener.
    Https,
    /// The plain HTTP (ACME HTTP-01) listener.
    Http,
}

impl Listener {
    fn index(self) -> usize {
        match self {
            Self::Https => 0,
            Self::Http => 1,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::Http => "http",
        }
    }
}

/// How a TLS handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// Completed (HTTP follows).
    Ok,
    /// Completed with ALPN `acme-tls/1` (TLS-ALPN-01 validation; closed).
    AcmeTlsAlpn,
    /// Failed (no certificate for the name, no SNI, protocol error).
    Failed,
    /// Not completed within the handshake timeout.
    Timeout,
}

const HANDSHAKES: [Handshake; 4] = [
    Handshake::Ok,
    Handshake::AcmeTlsAlpn,
    Handshake::Failed,
    Handshake::Timeout,
];

impl Handshake {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::AcmeTlsAlpn => "acme_tls_alpn",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
        }
    }
}

/// The metrics of one [`Server`](super::Server).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Per listener, per code of [`CODES`], then `other`.
    requests: [[AtomicU64; CODES.len() + 1]; 2],
    policy_responses: AtomicU64,
    handshakes: [AtomicU64; HANDSHAKES.len()],
    connections_open: AtomicI64,
    connections_total: AtomicU64,
    domains: AtomicU64,
    certificates: AtomicU64,
    /// Unix seconds; 0 when no certificate is loaded.
    earliest_not_after: AtomicI64,
    store_refresh_errors: AtomicU64,
    store_refreshes: AtomicU64,
    cert_dir_errors: AtomicU64,
    generation: AtomicU64,
}

impl Metrics {
    /// Count one response of `listener` with status `code`.
    pub(crate) fn request(&self, listener: Listener, code: u16) {
        let i = CODES.iter().position(|&c| c == code).unwrap_or(CODES.len());
        if let Some(c) = self
            .requests
            .get(listener.index())
            .and_then(|row| row.get(i))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Count one `200` policy response.
    pub(crate) fn policy_response(&self) {
        self.policy_responses.fetch_add(1, Ordering::Relaxed);
    }

    /// Count one TLS handshake.
    pub(crate) fn handshake(&self, h: Handshake) {
        if let Some(i) = HANDSHAKES.iter().position(|&x| x == h)
            && let Some(c) = self.handshakes.get(i)
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A connection was accepted; the guard counts it closed when dropped.
    pub(crate) fn connection(&self) -> ConnectionGuard<'_> {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self)
    }

    /// A refresh of the snapshot from the store succeeded or failed.
    pub(crate) fn store_refresh(&self, ok: bool) {
        if ok {
            self.store_refreshes.fetch_add(1, Ordering::Relaxed);
        } else {
            self.store_refresh_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A certificate directory or file could not be read.
    pub(crate) fn cert_dir_error(&self) {
        self.cert_dir_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The snapshot now serves `domains` domains from store generation
    /// `generation`.
    pub(crate) fn set_snapshot(&self, domains: usize, generation: u64) {
        self.domains.store(
            u64::try_from(domains).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.generation.store(generation, Ordering::Relaxed);
    }

    /// `count` certificates are presented; the earliest expires at
    /// `earliest` (Unix seconds).
    pub(crate) fn set_certificates(&self, count: usize, earliest: Option<i64>) {
        self.certificates
            .store(u64::try_from(count).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.earliest_not_after
            .store(earliest.unwrap_or(0), Ordering::Relaxed);
    }

    /// Connections open now.
    #[must_use]
    pub fn connections_open(&self) -> i64 {
        self.connections_open.load(Ordering::Relaxed)
    }

    /// Store refreshes that failed so far.
    #[must_use]
    pub fn store_refresh_errors(&self) -> u64 {
        self.store_refresh_errors.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4).
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        family(
            &mut out,
            "mtasts_serve_requests_total",
            "counter",
            "HTTP responses by listener and status code.",
        );
        for l in [Listener::Https, Listener::Http] {
            let Some(row) = self.requests.get(l.index()) else {
                continue;
            };
            for (i, c) in row.iter().enumerate() {
                let code = CODES
                    .get(i)
                    .map_or_else(|| "other".to_owned(), u16::to_string);
                let _ = writeln!(
                    out,
                    "mtasts_serve_requests_total{{listener=\"{}\",code=\"{code}\"}} {}",
                    l.as_str(),
                    load(c)
                );
            }
        }
        single(
            &mut out,
            "mtasts_serve_policy_responses_total",
            "counter",
            "Policies served (200 responses for /.well-known/mta-sts.txt).",
            load(&self.policy_responses),
        );
        family(
            &mut out,
            "mtasts_serve_tls_handshakes_total",
            "counter",
            "TLS handshakes on the HTTPS listener by result.",
        );
        for (h, c) in HANDSHAKES.iter().zip(&self.handshakes) {
            let _ = writeln!(
                out,
                "mtasts_serve_tls_handshakes_total{{result=\"{}\"}} {}",
                h.as_str(),
                load(c)
            );
        }
        single(
            &mut out,
            "mtasts_serve_connections_open",
            "gauge",
            "Connections open on the HTTPS and HTTP listeners.",
            self.connections_open.load(Ordering::Relaxed),
        );
        single(
            &mut out,
            "mtasts_serve_connections_total",
            "counter",
            "Connections accepted on the HTTPS and HTTP listeners.",
            load(&self.connections_total),
        );
        single(
            &mut out,
            "mtasts_serve_domains",
            "gauge",
            "Domains whose policy is served.",
            load(&self.domains),
        );
        single(
            &mut out,
            "mtasts_serve_certificates",
            "gauge",
            "Host names with a certificate presented (cert-dir and store).",
            load(&self.certificates),
        );
        single(
            &mut out,
            "mtasts_serve_certificate_earliest_not_after_seconds",
            "gauge",
            "The earliest notAfter of the certificates presented (Unix time; 0 when none).",
            self.earliest_not_after.load(Ordering::Relaxed),
        );
        single(
            &mut out,
            "mtasts_serve_store_refreshes_total",
            "counter",
            "Successful polls of the site store.",
            load(&self.store_refreshes),
        );
        single(
            &mut out,
            "mtasts_serve_store_refresh_errors_total",
            "counter",
            "Failed polls or loads of the site store (the last snapshot stays served).",
            load(&self.store_refresh_errors),
        );
        single(
            &mut out,
            "mtasts_serve_cert_dir_errors_total",
            "counter",
            "Unreadable or invalid certificate files or directories (the previous certificate stays).",
            load(&self.cert_dir_errors),
        );
        single(
            &mut out,
            "mtasts_serve_snapshot_generation",
            "gauge",
            "The store generation of the snapshot served.",
            load(&self.generation),
        );
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// Counts a connection closed when dropped.
#[derive(Debug)]
pub(crate) struct ConnectionGuard<'a>(&'a Metrics);

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.request(Listener::Https, 200);
        m.request(Listener::Https, 200);
        m.request(Listener::Https, 418);
        m.request(Listener::Http, 404);
        m.policy_response();
        m.handshake(Handshake::Failed);
        {
            let _g = m.connection();
            assert_eq!(m.connections_open(), 1);
        }
        m.set_snapshot(3, 17);
        m.set_certificates(2, Some(1_900_000_000));
        let t = m.render();
        for line in [
            "mtasts_serve_requests_total{listener=\"https\",code=\"200\"} 2",
            "mtasts_serve_requests_total{listener=\"https\",code=\"other\"} 1",
            "mtasts_serve_requests_total{listener=\"http\",code=\"404\"} 1",
            "mtasts_serve_policy_responses_total 1",
            "mtasts_serve_tls_handshakes_total{result=\"failed\"} 1",
            "mtasts_serve_tls_handshakes_total{result=\"ok\"} 0",
            "mtasts_serve_connections_open 0",
            "mtasts_serve_connections_total 1",
            "mtasts_serve_domains 3",
            "mtasts_serve_certificates 2",
            "mtasts_serve_certificate_earliest_not_after_seconds 1900000000",
            "mtasts_serve_snapshot_generation 17",
            "# TYPE mtasts_serve_store_refresh_errors_total counter",
        ] {
            assert!(t.lines().any(|l| l == line), "{line} missing from\n{t}");
        }
    }
}
