//! Server-side TLS shared by [`crate::HttpsServer`] and [`crate::SmtpServer`].

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use crate::ca::Leaf;

/// The certificates a TLS server presents, chosen by the client's SNI.
///
/// A ClientHello whose SNI matches (ASCII case-insensitively) one of the
/// [`CertSet::with_sni`] names gets that certificate; one with no SNI or an
/// unknown SNI gets the default (RFC 8461 section 7.1: MX hosts must not require SNI).
#[derive(Debug, Clone)]
pub struct CertSet {
    default: Leaf,
    by_sni: Vec<(String, Leaf)>,
}

impl CertSet {
    /// A set that presents `default` to every client.
    pub fn new(default: Leaf) -> Self {
        Self {
            default,
            by_sni: Vec::new(),
        }
    }

    /// Presents `leaf` to clients whose SNI is `sni_name` (the leaf's own names may differ,
    /// which is how a wrong-name certificate is served).
    pub fn with_sni(mut self, sni_name: impl Into<String>, leaf: Leaf) -> Self {
        self.by_sni.push((sni_name.into(), leaf));
        self
    }

    pub(crate) fn server_config(&self) -> io::Result<Arc<ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified = |leaf: &Leaf| -> io::Result<Arc<CertifiedKey>> {
            CertifiedKey::from_der(leaf.chain.clone(), leaf.key_der.clone_key(), &provider)
                .map(Arc::new)
                .map_err(io::Error::other)
        };
        let mut by_sni = HashMap::new();
        for (name, leaf) in &self.by_sni {
            by_sni.insert(normalize(name), certified(leaf)?);
        }
        let resolver = SniResolver {
            default: certified(&self.default)?,
            by_sni,
        };
        let config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        Ok(Arc::new(config))
    }
}

impl From<Leaf> for CertSet {
    fn from(leaf: Leaf) -> Self {
        Self::new(leaf)
    }
}

impl From<&Leaf> for CertSet {
    fn from(leaf: &Leaf) -> Self {
        Self::new(leaf.clone())
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    by_sni: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = client_hello
            .server_name()
            .and_then(|sni| self.by_sni.get(&normalize(sni)))
            .unwrap_or(&self.default);
        Some(chosen.clone())
    }
}

/// One TLS handshake attempt seen by a server.
///
/// It is recorded as soon as the ClientHello is read (before the server sends its
/// certificate), with `completed: false`, and updated once the handshake succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The SNI from the ClientHello (`None` if the client sent none).
    pub sni: Option<String>,
    /// Whether the handshake has completed (stays false e.g. when the client rejected
    /// the certificate).
    pub completed: bool,
}

/// Reads the ClientHello, reports its SNI to `on_hello` (not called if no valid
/// ClientHello arrives), and completes the handshake.
pub(crate) async fn accept<IO>(
    io: IO,
    config: Arc<ServerConfig>,
    on_hello: impl FnOnce(Option<String>),
) -> io::Result<TlsStream<IO>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io).await?;
    on_hello(start.client_hello().server_name().map(str::to_owned));
    start.into_stream(config).await
}
