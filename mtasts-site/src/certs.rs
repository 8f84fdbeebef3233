//! The certificates `serve` presents, chosen by SNI: a map from host name
//! to certificate, filled from `--cert-dir` files and from the store
//! (ACME), plus the ACME challenge state (TLS-ALPN-01 certificates and
//! HTTP-01 key authorizations) that the ACME client sets and the server
//! answers from.
//!
//! The handshake path takes one read lock and clones an `Arc`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Certificates by host name, and the ACME challenges in progress.
#[derive(Default)]
pub struct CertResolver {
    certs: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    alpn_challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    http_tokens: RwLock<HashMap<String, String>>,
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver")
            .field("hosts", &read(&self.certs).len())
            .field("alpn_challenges", &read(&self.alpn_challenges).len())
            .field("http_tokens", &read(&self.http_tokens).len())
            .finish()
    }
}

/// A read guard that survives a poisoned lock (the maps stay consistent:
/// every write is a single insert or remove).
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `host` in lower case without a final dot.
fn key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl CertResolver {
    /// An empty resolver.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Present `cert` for `host` from now on (replacing any other).
    pub fn set_certificate(&self, host: &str, cert: Arc<CertifiedKey>) {
        write(&self.certs).insert(key(host), cert);
    }

    /// Stop presenting a certificate for `host`.
    pub fn remove_certificate(&self, host: &str) {
        write(&self.certs).remove(&key(host));
    }

    /// The certificate presented for `host`.
    #[must_use]
    pub fn certificate(&self, host: &str) -> Option<Arc<CertifiedKey>> {
        read(&self.certs).get(&key(host)).cloned()
    }

    /// The host names with a certificate, sorted.
    #[must_use]
    pub fn hosts(&self) -> Vec<String> {
        let mut v: Vec<String> = read(&self.certs).keys().cloned().collect();
        v.sort();
        v
    }

    /// Answer TLS-ALPN-01 handshakes for `host` (ALPN `acme-tls/1`) with
    /// `cert` until [`clear_alpn_challenge`](Self::clear_alpn_challenge).
    pub fn set_alpn_challenge(&self, host: &str, cert: Arc<CertifiedKey>) {
        write(&self.alpn_challenges).insert(key(host), cert);
    }

    /// Stop answering the TLS-ALPN-01 challenge of `host`.
    pub fn clear_alpn_challenge(&self, host: &str) {
        write(&self.alpn_challenges).remove(&key(host));
    }

    /// Answer `GET /.well-known/acme-challenge/TOKEN` on the HTTP listener
    /// with `key_authorization` (HTTP-01).
    pub fn set_http_token(&self, token: &str, key_authorization: &str) {
        write(&self.http_tokens).insert(token.to_owned(), key_authorization.to_owned());
    }

    /// Stop answering the HTTP-01 token.
    pub fn clear_http_token(&self, token: &str) {
        write(&self.http_tokens).remove(token);
    }

    /// The key authorization for an HTTP-01 `token`.
    #[must_use]
    pub fn http_token(&self, token: &str) -> Option<String> {
        read(&self.http_tokens).get(token).cloned()
    }

    /// Whether a ClientHello offering `alpn` asks for TLS-ALPN-01.
    #[must_use]
    pub fn is_acme_alpn<'a>(mut alpn: impl Iterator<Item = &'a [u8]>) -> bool {
        alpn.any(|p| p == ACME_TLS_ALPN)
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let host = key(hello.server_name()?);
        let acme = hello.alpn().is_some_and(Self::is_acme_alpn);
        if acme {
            return read(&self.alpn_challenges).get(&host).cloned();
        }
        read(&self.certs).get(&host).cloned()
    }
}
