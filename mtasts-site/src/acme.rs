//! Certificates obtained and renewed over ACME (RFC 8555)
//! (SKELETON: H3 writes the implementation; the interface below is what
//! `serve` calls and stays).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::certs::CertResolver;
use crate::store::SiteStore;

/// Which challenge the ACME server is asked to validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// TLS-ALPN-01 (RFC 8737) on the HTTPS listener.
    TlsAlpn01,
    /// HTTP-01 on the plain HTTP listener (`--http`).
    Http01,
}

/// How `serve` obtains certificates over ACME.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// The directory URL (`--acme-directory`).
    pub directory: String,
    /// Contact URIs (`--acme-contact mailto:...`).
    pub contact: Vec<String>,
    /// Extra PEM roots trusted for the ACME server's own HTTPS (a test CA
    /// such as pebble's); the system roots otherwise.
    pub server_roots: Option<PathBuf>,
    /// The challenge to use.
    pub challenge: Challenge,
    /// Renew this long before notAfter (30 days).
    pub renew_before: Duration,
    /// How often to look for names that need a certificate.
    pub check_interval: Duration,
    /// This node's name in order claims (host name and process id).
    pub node_id: String,
}

/// Start the ACME manager on the current tokio runtime: it orders a
/// certificate for `mta-sts.<domain>` of every hosted domain that has
/// none or whose certificate expires within `renew_before`, claims each
/// order in the store so one node at a time orders a name, answers the
/// challenges through `resolver`, stores the certificate and sets it in
/// `resolver`; failures back off. It stops when `shutdown` turns true.
pub fn spawn(
    config: AcmeConfig,
    store: Arc<dyn SiteStore>,
    resolver: Arc<CertResolver>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let _ = (config, store, resolver);
    let mut shutdown = shutdown;
    tokio::spawn(async move {
        let _ = shutdown.wait_for(|s| *s).await;
    })
}
