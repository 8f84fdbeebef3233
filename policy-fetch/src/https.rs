//! The HTTPS policy fetch (RFC 8461 section 3.3; STS-FETCH-*): GET
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` over rustls with SNI
//! and WebPKI validation for the policy host, HTTP/1.1 through hyper, no
//! redirects, no HTTP caching, a connect timeout, a total timeout and a
//! bounded body. Every failure is classified as `sts-policy-fetch-error` or
//! `sts-webpki-invalid`; the status, media type and body are judged by
//! `mta-sts-core` (`Discovery::check_response`).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use mta_sts_core::ResultType;
use mta_sts_core::discovery::{FetchFailure, HttpResponse};
use mta_sts_core::policy::{MAX_POLICY_BODY, POLICY_PATH, policy_host};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::dns::Dns;
use crate::error::{BoxError, FetchError};

/// Trust anchors for policy hosts (and MX probes).
#[derive(Debug, Clone)]
pub struct Roots {
    store: RootCertStore,
}

impl Roots {
    /// The system's trust store (`rustls-native-certs`); falls back to the
    /// bundled Mozilla roots when the system has none.
    pub fn system() -> Self {
        let mut store = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(found.certs);
        if store.is_empty() {
            return Self::bundled();
        }
        Self { store }
    }

    /// The bundled Mozilla roots (`webpki-roots`).
    pub fn bundled() -> Self {
        let mut store = RootCertStore::empty();
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self { store }
    }

    /// No roots (add some with [`Roots::add_pem_file`] or [`Roots::add_der`]).
    pub fn empty() -> Self {
        Self {
            store: RootCertStore::empty(),
        }
    }

    /// Add every certificate of a PEM file.
    pub fn add_pem_file(&mut self, path: &Path) -> Result<usize, FetchError> {
        let err = |reason: &'static str, source: Option<BoxError>| FetchError::CaFile {
            path: path.to_owned(),
            reason,
            source,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| err("cannot read the file", Some(e.into())))?
            .collect::<Result<_, _>>()
            .map_err(|e| err("not a PEM file", Some(e.into())))?;
        if certs.is_empty() {
            return Err(err("no CERTIFICATE in the file", None));
        }
        let n = certs.len();
        for c in certs {
            self.store
                .add(c)
                .map_err(|e| err("certificate refused as a trust anchor", Some(e.into())))?;
        }
        Ok(n)
    }

    /// Add one DER certificate as a trust anchor.
    pub fn add_der(&mut self, der: CertificateDer<'_>) -> Result<(), FetchError> {
        self.store.add(der).map_err(FetchError::TrustAnchor)
    }

    /// The underlying rustls root store.
    pub fn root_store(&self) -> &RootCertStore {
        &self.store
    }

    /// The number of trust anchors.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// A rustls client configuration (ring provider; TLS 1.2 and 1.3 only,
    /// STS-CERT-09) that validates against these roots.
    pub fn client_config(&self) -> Result<ClientConfig, FetchError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(FetchError::Tls)?
            .with_root_certificates(self.store.clone())
            .with_no_client_auth())
    }
}

/// Settings of the policy fetch.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// TCP port for `https://mta-sts.<domain>/` (443; tests and private
    /// deployments override it; SNI and `Host` are unchanged).
    pub port: u16,
    /// Timeout for each TCP connect.
    pub connect_timeout: Duration,
    /// Timeout for the whole fetch (RFC 8461 suggests 60 s; DEC-28).
    pub total_timeout: Duration,
    /// Largest body read (64 KiB, DEC-28); one byte more is read so that
    /// an oversized body is recognised.
    pub max_body: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            port: 443,
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(60),
            max_body: MAX_POLICY_BODY,
        }
    }
}

/// Fetches policies over HTTPS.
#[derive(Clone)]
pub struct PolicyClient {
    dns: Dns,
    tls: TlsConnector,
    config: FetchConfig,
}

impl std::fmt::Debug for PolicyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn fetch_error(reason: impl Into<String>) -> FetchFailure {
    FetchFailure {
        result_type: ResultType::StsPolicyFetchError,
        reason: reason.into(),
    }
}

/// Classify a TLS handshake error: certificate problems are
/// `sts-webpki-invalid`, the rest `sts-policy-fetch-error`.
pub(crate) fn classify_tls(e: &std::io::Error) -> (bool, String) {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(c)) => (true, describe_cert_error(c)),
        Some(other) => (false, format!("TLS: {other}")),
        None => (false, format!("TLS: {e}")),
    }
}

/// A short description of a certificate error, naming the failure.
pub fn describe_cert_error(c: &CertificateError) -> String {
    match c {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate not valid yet".into()
        }
        CertificateError::UnknownIssuer => "certificate not trusted (unknown issuer)".into(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "certificate not valid for the host name".into()
        }
        other => format!("invalid certificate: {other:?}"),
    }
}

impl PolicyClient {
    /// A client resolving the policy host with `dns` and trusting `roots`.
    pub fn new(dns: Dns, roots: &Roots, config: FetchConfig) -> Result<Self, FetchError> {
        let tls = TlsConnector::from(Arc::new(roots.client_config()?));
        Ok(Self { dns, tls, config })
    }

    /// The settings.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// GET the policy of `domain`. A response of any status is returned as
    /// such (the caller judges it); transport and TLS failures are
    /// classified.
    pub async fn fetch(&self, domain: &str) -> Result<HttpResponse, FetchFailure> {
        let host = policy_host(domain);
        match tokio::time::timeout(self.config.total_timeout, self.fetch_inner(&host)).await {
            Ok(r) => r,
            Err(_) => Err(fetch_error(format!(
                "timed out after {} s fetching https://{host}{POLICY_PATH}",
                self.config.total_timeout.as_secs()
            ))),
        }
    }

    async fn connect(&self, host: &str) -> Result<TcpStream, FetchFailure> {
        let ips: Vec<IpAddr> = self
            .dns
            .ips(host)
            .await
            .map_err(|e| fetch_error(format!("{host}: {e}")))?;
        let mut last = String::new();
        for ip in ips {
            let addr = SocketAddr::new(ip, self.config.port);
            match tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(addr)).await
            {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = format!("connect to {addr}: {e}"),
                Err(_) => last = format!("connect to {addr}: timed out"),
            }
        }
        Err(fetch_error(last))
    }

    async fn fetch_inner(&self, host: &str) -> Result<HttpResponse, FetchFailure> {
        let tcp = self.connect(host).await?;
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| fetch_error(format!("invalid policy host name {host}: {e}")))?;
        let tls = self.tls.connect(name, tcp).await.map_err(|e| {
            let (webpki, reason) = classify_tls(&e);
            FetchFailure {
                result_type: if webpki {
                    ResultType::StsWebpkiInvalid
                } else {
                    ResultType::StsPolicyFetchError
                },
                reason: format!("{host}: {reason}"),
            }
        })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| fetch_error(format!("HTTP: {e}")))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = hyper::Request::get(POLICY_PATH)
            .header(HOST, host)
            .header(
                USER_AGENT,
                concat!("mta-sts-rs/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| fetch_error(format!("HTTP request: {e}")))?;
        let result = async {
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| fetch_error(format!("HTTP: {e}")))?;
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get(CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let mut body = resp.into_body();
            let mut buf = Vec::new();
            let cap = self.config.max_body.saturating_add(1);
            while buf.len() < cap {
                match body.frame().await {
                    None => break,
                    Some(Err(e)) => return Err(fetch_error(format!("HTTP body: {e}"))),
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            let room = cap - buf.len();
                            buf.extend_from_slice(&data[..data.len().min(room)]);
                        }
                    }
                }
            }
            Ok(HttpResponse {
                status,
                content_type,
                body: buf,
            })
        }
        .await;
        driver.abort();
        result
    }
}

/// What [`AcceptAnyCertificate`] hands each presented chain to: the leaf,
/// the intermediates, the name asked for, the OCSP response and the time.
pub type CertificateObserver = dyn Fn(&CertificateDer<'_>, &[CertificateDer<'_>], &ServerName<'_>, &[u8], UnixTime)
    + Send
    + Sync;

/// A certificate verifier that accepts every certificate chain (after
/// handing it to an optional observer), while the handshake signatures
/// are still verified with the provider's algorithms: for connections
/// that must go on whatever the certificate (the unverified retry of a
/// TLS-RPT report POST, DEC-22) or that judge it themselves (the SMTP
/// probe of `mtasts check`, which records the chain and WebPKI's verdict).
pub struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
    observe: Option<Box<CertificateObserver>>,
}

impl AcceptAnyCertificate {
    /// Accept every chain; verify handshake signatures with `provider`.
    #[must_use]
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self {
            provider,
            observe: None,
        }
    }

    /// As [`AcceptAnyCertificate::new`], handing each chain to `observe`
    /// before accepting it.
    #[must_use]
    pub fn observing(provider: Arc<CryptoProvider>, observe: Box<CertificateObserver>) -> Self {
        Self {
            provider,
            observe: Some(observe),
        }
    }
}

impl std::fmt::Debug for AcceptAnyCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptAnyCertificate")
            .field("observing", &self.observe.is_some())
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(observe) = &self.observe {
            observe(end_entity, intermediates, server_name, ocsp_response, now);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
