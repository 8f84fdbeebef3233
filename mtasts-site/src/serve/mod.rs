//! The policy server behind `mtasts serve`: one process serving the
//! policy of every hosted domain at
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
//!
//! - **HTTPS listener** (tokio-rustls, HTTP/1.1 keep-alive and HTTP/2 by
//!   ALPN): the certificate is chosen by SNI ([`CertResolver`]); `GET` or
//!   `HEAD /.well-known/mta-sts.txt` with a Host (or `:authority`) of
//!   `mta-sts.<domain>` for a hosted domain answers `200`,
//!   `Content-Type: text/plain`, the stored body (CRLF line endings),
//!   `Cache-Control: max-age=300` and the policy id as `ETag`. Host
//!   names are compared in lower case, without port and final dot; a
//!   Host that is not the TLS server name is answered `421`. Other paths
//!   and names: `404`; other methods on the policy path: `405` with
//!   `Allow: GET, HEAD`; no redirects. A handshake that negotiates ALPN
//!   `acme-tls/1` (a TLS-ALPN-01 validation, RFC 8737) is closed right
//!   after the handshake. No TLS 1.3 session tickets are sent (senders
//!   fetch a policy once per `max_age`; resumption would not pay).
//!   Every other host name of the connection (the site's target name,
//!   `reports.example.net`, any name with a certificate) is answered by
//!   the web side ([`crate::web::Web`]): `POST /v1/tlsrpt` (TLS-RPT
//!   reports over HTTPS, RFC 8460 5.2; not on `mta-sts.*` names),
//!   `/healthz`, the JSON API `/api/v1/...` and the dashboard pages.
//! - **HTTP listener** (optional): only `GET
//!   /.well-known/acme-challenge/TOKEN` (HTTP-01), answered from
//!   [`CertResolver::http_token`]; `404` otherwise.
//! - **Metrics listener** (optional): `GET /metrics`, the Prometheus text
//!   of [`Metrics`] and the per-domain TLS-RPT families of
//!   [`crate::web::metrics`].
//!
//! The request path reads an in-memory snapshot (host name to body).
//! A refresher thread polls the store's
//! [`generation`](crate::store::SiteStore::generation) every second and
//! reloads the domains and the stored (ACME) certificates only when it
//! changed, so a change made by any node sharing the store is served
//! within a few seconds; it re-scans `--cert-dir` (certbot's `live/`
//! layout) every few seconds and re-reads files whose modification time
//! or size changed, keeping the previous certificate when a new file is
//! broken; it purges domains whose removal period ended. When the store
//! fails, the last snapshot stays served (logged, and counted in
//! `mtasts_serve_store_refresh_errors_total`). When both a file and the
//! store hold a certificate for a host, the one expiring later is
//! presented.
//!
//! Everything is bounded: connections ([`ServeConfig::max_connections`];
//! further clients wait in the listen backlog), the TLS handshake
//! ([`HANDSHAKE_TIMEOUT`]), the request head ([`MAX_HEADER_BYTES`],
//! [`HEADER_TIMEOUT`]), idle connections ([`IDLE_TIMEOUT`]: no byte read
//! or written), HTTP/2 streams per connection ([`H2_MAX_STREAMS`]);
//! policy request bodies are never read; the web side reads bodies up
//! to a hard limit.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mtasts_site::serve::{ServeConfig, Server};
//! use mtasts_site::store::{self, StoreLocation};
//!
//! let store = store::open(&StoreLocation::State("/var/lib/mtasts".into()))?;
//! let mut config = ServeConfig::new("[::]:443".parse()?);
//! config.cert_dir = Some("/etc/letsencrypt/live".into());
//! let server = Server::start(config, store).await?;
//! // ... until SIGTERM:
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Future, ready};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use mta_sts_core::policy::POLICY_PATH;
use policy_fetch::error::Chain;

use crate::acme::{self, AcmeConfig};
use crate::certs::{ACME_TLS_ALPN, CertResolver};
use crate::store::{SiteStore, StoreError};
use crate::web::Web;

pub mod certfiles;
mod idle;
mod loader;
pub mod metrics;

pub use certfiles::{CertFileError, LoadedCert, load_pem};
pub use metrics::Metrics;

use idle::IdleIo;
use loader::{Command, Intervals, Loader};
use metrics::{Handshake, Listener};

/// Connections served at once by default (`--max-connections`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// How long a client has to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client has to send a complete request head (HTTP/1.1; also
/// the keep-alive wait between requests).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(20);

/// A connection on which no byte moved for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest request head read (HTTP/1.1 buffer; HTTP/2 header list).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Concurrent HTTP/2 streams per connection.
pub const H2_MAX_STREAMS: u32 = 16;

/// The `max-age` of the `Cache-Control` header of policy responses.
pub const DEFAULT_CACHE_MAX_AGE: u32 = 300;

/// Connections the metrics listener serves at once.
pub const MAX_ADMIN_CONNECTIONS: usize = 8;

/// The path prefix of HTTP-01 challenges (RFC 8555 section 8.3).
pub const ACME_CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// The longest HTTP-01 token looked up.
const MAX_TOKEN_LEN: usize = 256;

/// What [`Server::start`] serves, where, and its limits.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The HTTPS listener.
    pub https: SocketAddr,
    /// The plain HTTP listener (ACME HTTP-01 challenges only).
    pub http: Option<SocketAddr>,
    /// The metrics listener (`GET /metrics`, plain HTTP, no
    /// authentication).
    pub metrics: Option<SocketAddr>,
    /// A certbot-style `live/` directory of certificates.
    pub cert_dir: Option<PathBuf>,
    /// Obtain and renew certificates over ACME.
    pub acme: Option<AcmeConfig>,
    /// Connections served at once on the HTTPS and HTTP listeners
    /// together; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// See [`HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
    /// See [`HEADER_TIMEOUT`].
    pub header_timeout: Duration,
    /// See [`IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// How often the store's generation is polled (1 s).
    pub refresh_interval: Duration,
    /// How often `cert_dir` is scanned for changed files (3 s).
    pub cert_dir_interval: Duration,
    /// How often removed domains whose period ended are deleted (60 s).
    pub purge_interval: Duration,
    /// On shutdown, how long requests in flight may take (5 s).
    pub shutdown_grace: Duration,
    /// The `max-age` of policy responses, in seconds.
    pub cache_max_age: u32,
    /// The web side (API, pages, `POST /v1/tlsrpt`, `/healthz`) served
    /// on every host name that is not an `mta-sts.*` name.
    pub web: crate::web::WebConfig,
    /// How `POST /v1/tlsrpt` reports are read, checked and kept (and
    /// the alerter they are handed to).
    pub inbox: crate::inbox::InboxOptions,
}

impl ServeConfig {
    /// Serve HTTPS on `https` with the defaults: no other listener, no
    /// certificate source (only certificates already in the store).
    #[must_use]
    pub fn new(https: SocketAddr) -> Self {
        Self {
            https,
            http: None,
            metrics: None,
            cert_dir: None,
            acme: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            header_timeout: HEADER_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            refresh_interval: Duration::from_secs(1),
            cert_dir_interval: Duration::from_secs(3),
            purge_interval: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            cache_max_age: DEFAULT_CACHE_MAX_AGE,
            web: crate::web::WebConfig::default(),
            inbox: crate::inbox::InboxOptions::default(),
        }
    }
}

/// What a load or reload found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// The store generation of the snapshot served.
    pub generation: Option<u64>,
    /// Domains served.
    pub domains: usize,
    /// Host names with a certificate.
    pub certificates: usize,
}

/// Why the server could not start or reload. The message does not repeat
/// the source error: print it with its sources (`{:#}` of `anyhow`,
/// or [`policy_fetch::error::Chain`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({listener})")]
    Bind {
        /// Which listener (`https`, `http`, `metrics`).
        listener: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The certificate directory cannot be read.
    #[error("certificate directory {path}")]
    CertDir {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The configuration is inconsistent.
    #[error("{0}")]
    Config(String),
    /// The refresher thread could not be started.
    #[error("cannot start the refresher thread")]
    Thread(#[source] io::Error),
    /// The server is stopping or its refresher is gone.
    #[error("the server is stopping")]
    Stopped,
}

/// One served policy.
#[derive(Debug, Clone)]
pub(crate) struct ServedPolicy {
    /// The body as stored.
    pub(crate) body: Bytes,
    /// Its policy id (sent as the `ETag`).
    pub(crate) id: String,
}

/// What the request path serves.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The store generation it was loaded at.
    pub(crate) generation: Option<u64>,
    /// `mta-sts.<domain>` (lower case, no final dot) to its policy.
    pub(crate) policies: HashMap<String, ServedPolicy>,
}

/// State shared by the listeners and the refresher.
#[derive(Debug)]
pub(crate) struct Shared {
    snapshot: RwLock<Arc<Snapshot>>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) resolver: Arc<CertResolver>,
    cache_control: HeaderValue,
}

impl Shared {
    /// The snapshot served now.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(
            &self
                .snapshot
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Serve `s` from now on.
    pub(crate) fn publish(&self, s: Snapshot) {
        *self
            .snapshot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(s);
    }
}

/// The current time in Unix seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A running server; [`shutdown`](Self::shutdown) stops it gracefully
/// (dropping it stops it abruptly).
#[derive(Debug)]
pub struct Server {
    https_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
    acme: Option<JoinHandle<()>>,
    web: Arc<Web>,
    web_task: Option<JoinHandle<()>>,
    commands: std::sync::mpsc::Sender<Command>,
    refresher: Option<std::thread::JoinHandle<()>>,
    grace: Duration,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reload(_) => "Reload",
            Self::Stop => "Stop",
        })
    }
}

async fn bind(listener: &'static str, addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            listener,
            addr,
            source,
        })
}

fn local(
    listener: &'static str,
    l: &TcpListener,
    addr: SocketAddr,
) -> Result<SocketAddr, ServeError> {
    l.local_addr().map_err(|source| ServeError::Bind {
        listener,
        addr,
        source,
    })
}

impl Server {
    /// Bind the listeners, load the store and the certificate directory,
    /// and start serving (on the current tokio runtime; the refresher
    /// runs on a thread of its own).
    ///
    /// # Errors
    ///
    /// [`ServeError`] when a listener cannot be bound, the certificate
    /// directory cannot be read, the store fails on the first load, or
    /// the configuration is inconsistent (HTTP-01 without an HTTP
    /// listener).
    pub async fn start(config: ServeConfig, store: Arc<dyn SiteStore>) -> Result<Self, ServeError> {
        if let Some(a) = &config.acme
            && a.challenge == acme::Challenge::Http01
            && config.http.is_none()
        {
            return Err(ServeError::Config(
                "the ACME challenge http-01 needs the HTTP listener (--http)".to_owned(),
            ));
        }
        let inbox = crate::inbox::Inbox::new(Arc::clone(&store), config.inbox.clone());
        let https = bind("https", config.https).await?;
        let https_addr = local("https", &https, config.https)?;
        let http = match config.http {
            Some(a) => Some(bind("http", a).await?),
            None => None,
        };
        let http_addr = match (&http, config.http) {
            (Some(l), Some(a)) => Some(local("http", l, a)?),
            _ => None,
        };
        let admin = match config.metrics {
            Some(a) => Some(bind("metrics", a).await?),
            None => None,
        };
        let metrics_addr = match (&admin, config.metrics) {
            (Some(l), Some(a)) => Some(local("metrics", l, a)?),
            _ => None,
        };

        let cache_control = HeaderValue::from_str(&format!("max-age={}", config.cache_max_age))
            .unwrap_or_else(|_| HeaderValue::from_static("max-age=300"));
        let shared = Arc::new(Shared {
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            metrics: Arc::new(Metrics::default()),
            resolver: Arc::new(CertResolver::new()),
            cache_control,
        });

        // The refresher thread: the first load, then its loop.
        let (commands, command_rx) = std::sync::mpsc::channel();
        let (init_tx, init_rx) = tokio::sync::oneshot::channel();
        let every = Intervals {
            store: config.refresh_interval,
            cert_dir: config.cert_dir_interval,
            purge: config.purge_interval,
        };
        let mut loader = Loader::new(
            Arc::clone(&store),
            Arc::clone(&shared),
            config.cert_dir.clone().map(certfiles::CertDir::new),
        );
        let refresher = std::thread::Builder::new()
            .name("mtasts-serve-refresh".to_owned())
            .spawn(move || {
                let first = loader.initial();
                let ok = first.is_ok();
                let _ = init_tx.send(first);
                if ok {
                    loader.run(&command_rx, every);
                }
            })
            .map_err(ServeError::Thread)?;
        let first = match init_rx.await {
            Ok(r) => r,
            Err(_) => Err(ServeError::Stopped),
        };
        let first = match first {
            Ok(f) => f,
            Err(e) => {
                let _ = tokio::task::spawn_blocking(move || refresher.join()).await;
                return Err(e);
            }
        };
        info!(
            generation = first.generation,
            domains = first.domains,
            certificates = first.certificates,
            "site loaded"
        );
        if first.certificates == 0 && config.acme.is_none() {
            warn!(
                "no certificate loaded: HTTPS handshakes fail until one is (--cert-dir, --acme-directory)"
            );
        }

        let (stop, stop_rx) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
        let mut listeners = Vec::new();

        let web = Web::new(Arc::clone(&store), inbox, config.web.clone());
        let web_task = Some(web.spawn_background(stop_rx.clone()));

        let tls = tls_config(&shared.resolver)?;
        let https_ctx = Arc::new(HttpsCtx {
            shared: Arc::clone(&shared),
            web: Arc::clone(&web),
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            auto: http_builder(&config, Protocols::Both),
            h1: http_builder(&config, Protocols::Http1),
            h2: http_builder(&config, Protocols::Http2),
            handshake_timeout: config.handshake_timeout,
            idle_timeout: config.idle_timeout,
        });
        info!(listener = %https_addr, "serving policies over HTTPS");
        listeners.push(tokio::spawn(accept_loop(
            "https",
            https,
            Arc::clone(&slots),
            stop_rx.clone(),
            config.shutdown_grace,
            move |stream, peer, watcher| {
                https_connection(Arc::clone(&https_ctx), stream, peer, watcher)
            },
        )));
        if let (Some(l), Some(a)) = (http, http_addr) {
            let ctx = Arc::new(PlainCtx {
                shared: Arc::clone(&shared),
                web: None,
                builder: http_builder(&config, Protocols::Http1),
                idle_timeout: config.idle_timeout,
            });
            info!(listener = %a, "serving ACME HTTP-01 challenges over HTTP");
            listeners.push(tokio::spawn(accept_loop(
                "http",
                l,
                Arc::clone(&slots),
                stop_rx.clone(),
                config.shutdown_grace,
                move |stream, peer, watcher| {
                    plain_connection(
                        Arc::clone(&ctx),
                        stream,
                        peer,
                        watcher,
                        PlainKind::Challenge,
                    )
                },
            )));
        }
        if let (Some(l), Some(a)) = (admin, metrics_addr) {
            let mut admin_config = config.clone();
            admin_config.header_timeout = Duration::from_secs(5);
            let ctx = Arc::new(PlainCtx {
                shared: Arc::clone(&shared),
                web: Some(Arc::clone(&web)),
                builder: http_builder(&admin_config, Protocols::Http1),
                idle_timeout: Duration::from_secs(10),
            });
            info!(listener = %a, "serving metrics");
            listeners.push(tokio::spawn(accept_loop(
                "metrics",
                l,
                Arc::new(Semaphore::new(MAX_ADMIN_CONNECTIONS)),
                stop_rx.clone(),
                Duration::from_secs(1),
                move |stream, peer, watcher| {
                    plain_connection(Arc::clone(&ctx), stream, peer, watcher, PlainKind::Metrics)
                },
            )));
        }
        let acme = config.acme.clone().map(|a| {
            info!(directory = a.directory, "obtaining certificates over ACME");
            acme::spawn(
                a,
                Arc::clone(&store),
                Arc::clone(&shared.resolver),
                stop_rx.clone(),
            )
        });

        Ok(Self {
            https_addr,
            http_addr,
            metrics_addr,
            shared,
            stop,
            listeners,
            acme,
            web,
            web_task,
            commands,
            refresher: Some(refresher),
            grace: config.shutdown_grace,
        })
    }

    /// The bound address of the HTTPS listener.
    #[must_use]
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// The bound address of the HTTP listener.
    #[must_use]
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The bound address of the metrics listener.
    #[must_use]
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The certificates presented (and the ACME challenges answered).
    #[must_use]
    pub fn resolver(&self) -> &Arc<CertResolver> {
        &self.shared.resolver
    }

    /// The web side (API, pages, report endpoint).
    #[must_use]
    pub fn web(&self) -> &Arc<Web> {
        &self.web
    }

    /// The server's metrics.
    #[must_use]
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// The store generation of the snapshot served.
    #[must_use]
    pub fn generation(&self) -> Option<u64> {
        self.shared.snapshot().generation
    }

    /// The domains served now, sorted.
    #[must_use]
    pub fn domains(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .shared
            .snapshot()
            .policies
            .keys()
            .map(|h| h.strip_prefix("mta-sts.").unwrap_or(h).to_owned())
            .collect();
        v.sort();
        v
    }

    /// Reload now (as on SIGHUP): re-read every certificate file and the
    /// store.
    ///
    /// # Errors
    ///
    /// [`ServeError::Store`] when the store failed (the previous snapshot
    /// stays served), [`ServeError::Stopped`] when the server is stopping.
    pub async fn reload(&self) -> Result<Refreshed, ServeError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.commands
            .send(Command::Reload(tx))
            .map_err(|_| ServeError::Stopped)?;
        rx.await.map_err(|_| ServeError::Stopped)?
    }

    /// Stop accepting connections, let requests in flight finish (up to
    /// [`ServeConfig::shutdown_grace`]), close the rest, and stop the
    /// refresher and the ACME manager.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for l in std::mem::take(&mut self.listeners) {
            let _ = l.await;
        }
        if let Some(mut a) = self.acme.take()
            && tokio::time::timeout(self.grace, &mut a).await.is_err()
        {
            warn!("the ACME manager did not stop in time");
            a.abort();
        }
        if let Some(t) = self.web_task.take() {
            let _ = t.await;
        }
        let _ = self.commands.send(Command::Stop);
        if let Some(t) = self.refresher.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        info!("stopped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let _ = self.commands.send(Command::Stop);
        for l in &self.listeners {
            l.abort();
        }
        if let Some(a) = &self.acme {
            a.abort();
        }
        if let Some(t) = &self.web_task {
            t.abort();
        }
    }
}

/// The TLS configuration of the HTTPS listener: certificates by SNI,
/// ALPN `h2`, `http/1.1` and `acme-tls/1`.
fn tls_config(resolver: &Arc<CertResolver>) -> Result<rustls::ServerConfig, ServeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Config(format!("TLS configuration: {e}")))?;
    let resolver: Arc<dyn rustls::server::ResolvesServerCert> = Arc::clone(resolver) as _;
    let mut config = builder.with_no_client_auth().with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
    // No TLS 1.3 session tickets: a sender fetches a policy once per
    // max_age and does not resume; tickets would only cost every
    // handshake time and bytes.
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// Which HTTP versions a connection builder speaks.
#[derive(Debug, Clone, Copy)]
enum Protocols {
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only (ALPN `h2`).
    Http2,
    /// Either, by the client's first bytes (no ALPN).
    Both,
}

/// The HTTP connection builder for `protocols`, bounded.
fn http_builder(config: &ServeConfig, protocols: Protocols) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(64)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(Some(20))
        .max_local_error_reset_streams(Some(64));
    match protocols {
        Protocols::Http1 => b.http1_only(),
        Protocols::Http2 => b.http2_only(),
        Protocols::Both => b,
    }
}

/// Accept connections on `listener` while a slot is free, until `stop`;
/// then let the watched connections finish for up to `grace` and cut the
/// rest.
async fn accept_loop<F, Fut>(
    name: &'static str,
    listener: TcpListener,
    slots: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr, Watcher) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let conn = serve(stream, peer, graceful.watcher());
                conns.spawn(async move {
                    conn.await;
                    drop(permit);
                });
            }
            Err(e) => {
                drop(permit);
                warn!(listener = name, error = %Chain(&e), "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(listener);
    debug!(
        listener = name,
        open = graceful.count(),
        "listener closed; finishing requests"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        debug!(
            listener = name,
            "grace period over; closing the remaining connections"
        );
    }
    conns.shutdown().await;
}

/// What an HTTPS connection needs.
struct HttpsCtx {
    shared: Arc<Shared>,
    web: Arc<Web>,
    acceptor: TlsAcceptor,
    /// For connections without ALPN.
    auto: Builder<TokioExecutor>,
    /// For ALPN `http/1.1`.
    h1: Builder<TokioExecutor>,
    /// For ALPN `h2`.
    h2: Builder<TokioExecutor>,
    handshake_timeout: Duration,
    idle_timeout: Duration,
}

/// One HTTPS connection: the handshake, then HTTP/1.1 or HTTP/2.
async fn https_connection(
    ctx: Arc<HttpsCtx>,
    stream: TcpStream,
    peer: SocketAddr,
    watcher: Watcher,
) {
    let metrics = Arc::clone(&ctx.shared.metrics);
    let _open = metrics.connection();
    let tls = match tokio::time::timeout(ctx.handshake_timeout, ctx.acceptor.accept(stream)).await {
        Err(_) => {
            metrics.handshake(Handshake::Timeout);
            debug!(%peer, "TLS handshake timed out");
            return;
        }
        Ok(Err(e)) => {
            metrics.handshake(Handshake::Failed);
            debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Ok(Ok(s)) => s,
    };
    let (_, conn) = tls.get_ref();
    let alpn = match conn.alpn_protocol() {
        Some(b"h2") => Protocols::Http2,
        Some(b"http/1.1") => Protocols::Http1,
        Some(p) if p == ACME_TLS_ALPN => {
            metrics.handshake(Handshake::AcmeTlsAlpn);
            debug!(%peer, sni = conn.server_name(), "TLS-ALPN-01 validation handshake");
            let mut tls = tls;
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::io::AsyncWriteExt::shutdown(&mut tls),
            )
            .await;
            return;
        }
        _ => Protocols::Both,
    };
    metrics.handshake(Handshake::Ok);
    let sni: Arc<str> = Arc::from(normalize_host(conn.server_name().unwrap_or("")));
    let shared = Arc::clone(&ctx.shared);
    let web = Arc::clone(&ctx.web);
    let service = service_fn(move |req: Request<Incoming>| {
        let (shared, web, sni) = (Arc::clone(&shared), Arc::clone(&web), Arc::clone(&sni));
        async move { Ok::<_, Infallible>(https_request(&shared, &web, &sni, peer, req).await) }
    });
    let io = TokioIo::new(IdleIo::new(tls, ctx.idle_timeout));
    let builder = match alpn {
        Protocols::Http2 => &ctx.h2,
        Protocols::Http1 => &ctx.h1,
        Protocols::Both => &ctx.auto,
    };
    let conn = builder.serve_connection(io, service);
    if let Err(e) = watcher.watch(conn).await {
        debug!(%peer, error = %e, "HTTPS connection ended with an error");
    }
}

/// `h` in lower case, without a final dot.
fn normalize_host(h: &str) -> String {
    h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase()
}

/// The host name a request is for: the URI's authority (HTTP/2
/// `:authority`, or an absolute-form target) or the `Host` header,
/// without the port.
fn request_host<B>(req: &Request<B>) -> Option<String> {
    if let Some(a) = req.uri().authority() {
        return Some(normalize_host(a.host()));
    }
    let h = req.headers().get(header::HOST)?.to_str().ok()?;
    let host = if h.starts_with('[') {
        // An IPv6 literal: `[::1]` or `[::1]:443`.
        h.find(']').and_then(|i| h.get(..=i)).unwrap_or(h)
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => h,
        }
    };
    Some(normalize_host(host))
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Answer one request on the HTTPS listener: `mta-sts.*` names get the
/// policy ([`policy_request`]); every other name of the TLS connection
/// the web side ([`Web::handle`]: API, pages, `POST /v1/tlsrpt`,
/// `/healthz`).
async fn https_request(
    shared: &Shared,
    web: &Arc<Web>,
    sni: &str,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    match request_host(&req) {
        Some(host) if host == sni && !host.starts_with("mta-sts.") => {
            let loaded = shared.snapshot().generation.is_some();
            let resp = web.handle(req, peer.ip(), loaded).await;
            shared
                .metrics
                .request(Listener::Https, resp.status().as_u16());
            resp
        }
        _ => policy_request(shared, sni, &req),
    }
}

/// Answer one policy request on the HTTPS listener (`sni`: the TLS
/// server name, normalized).
fn policy_request<B>(shared: &Shared, sni: &str, req: &Request<B>) -> Response<Full<Bytes>> {
    let resp = policy_response(shared, sni, req);
    tracing::trace!(
        sni,
        method = %req.method(),
        path = req.uri().path(),
        status = resp.status().as_u16(),
        "request"
    );
    shared
        .metrics
        .request(Listener::Https, resp.status().as_u16());
    if resp.status() == StatusCode::OK {
        shared.metrics.policy_response();
    }
    resp
}

fn policy_response<B>(shared: &Shared, sni: &str, req: &Request<B>) -> Response<Full<Bytes>> {
    let Some(host) = request_host(req) else {
        return text(StatusCode::BAD_REQUEST, "no Host\n");
    };
    if host != sni {
        return text(
            StatusCode::MISDIRECTED_REQUEST,
            "the Host is not the name of this TLS connection\n",
        );
    }
    if req.uri().path() != POLICY_PATH {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    let snapshot = shared.snapshot();
    let Some(policy) = snapshot.policies.get(&host) else {
        return text(StatusCode::NOT_FOUND, "not found\n");
    };
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
    };
    let body = if head {
        Bytes::new()
    } else {
        policy.body.clone()
    };
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(header::CACHE_CONTROL, shared.cache_control.clone());
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(policy.body.len() as u64),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", policy.id)) {
        h.insert(header::ETAG, etag);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// What a plain-HTTP listener answers.
#[derive(Debug, Clone, Copy)]
enum PlainKind {
    /// ACME HTTP-01 challenges.
    Challenge,
    /// `GET /metrics`.
    Metrics,
}

/// What a plain-HTTP connection needs.
struct PlainCtx {
    shared: Arc<Shared>,
    /// The web side, whose per-domain families the metrics listener adds.
    web: Option<Arc<Web>>,
    builder: Builder<TokioExecutor>,
    idle_timeout: Duration,
}

async fn plain_connection(
    ctx: Arc<PlainCtx>,
    stream: TcpStream,
    peer: SocketAddr,
    watcher: Watcher,
    kind: PlainKind,
) {
    let metrics = Arc::clone(&ctx.shared.metrics);
    let _open = matches!(kind, PlainKind::Challenge).then(|| metrics.connection());
    let shared = Arc::clone(&ctx.shared);
    let web = ctx.web.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let r = match kind {
            PlainKind::Challenge => challenge_request(&shared, &req),
            PlainKind::Metrics => metrics_response(&shared, web.as_deref(), &req),
        };
        ready(Ok::<_, Infallible>(r))
    });
    let io = TokioIo::new(IdleIo::new(stream, ctx.idle_timeout));
    let conn = ctx.builder.serve_connection(io, service);
    if let Err(e) = watcher.watch(conn).await {
        debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

/// Answer one request on the HTTP listener.
fn challenge_request<B>(shared: &Shared, req: &Request<B>) -> Response<Full<Bytes>> {
    let r = challenge_response(shared, req);
    shared.metrics.request(Listener::Http, r.status().as_u16());
    r
}

fn challenge_response<B>(shared: &Shared, req: &Request<B>) -> Response<Full<Bytes>> {
    let token = req
        .uri()
        .path()
        .strip_prefix(ACME_CHALLENGE_PREFIX)
        .filter(|t| {
            !t.is_empty()
                && t.len() <= MAX_TOKEN_LEN
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    let found = match (token, req.method()) {
        (Some(t), &Method::GET | &Method::HEAD) => shared.resolver.http_token(t),
        _ => None,
    };
    let Some(key_authorization) = found else {
        return text(StatusCode::NOT_FOUND, "not found\n");
    };
    debug!(token = token.unwrap_or(""), "HTTP-01 challenge answered");
    let mut r = Response::new(Full::new(Bytes::from(key_authorization)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    r
}

fn metrics_response<B>(
    shared: &Shared,
    web: Option<&Web>,
    req: &Request<B>,
) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut body = shared.metrics.render();
    if let Some(w) = web {
        body.push_str(&w.domain_metrics().render());
    }
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, uri: &str, host: Option<&str>) -> Request<()> {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(h) = host {
            b = b.header(header::HOST, h);
        }
        b.body(()).unwrap()
    }

    fn shared() -> Shared {
        let s = Shared {
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            metrics: Arc::new(Metrics::default()),
            resolver: Arc::new(CertResolver::new()),
            cache_control: HeaderValue::from_static("max-age=300"),
        };
        let mut policies = HashMap::new();
        policies.insert(
            "mta-sts.example.com".to_owned(),
            ServedPolicy {
                body: Bytes::from_static(b"version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n"),
                id: "1a".to_owned(),
            },
        );
        s.publish(Snapshot {
            generation: Some(4),
            policies,
        });
        s
    }

    #[test]
    fn host_forms() {
        for (h, want) in [
            ("MTA-STS.Example.COM", "mta-sts.example.com"),
            ("mta-sts.example.com.", "mta-sts.example.com"),
            ("mta-sts.example.com:443", "mta-sts.example.com"),
            ("mta-sts.example.com.:8443", "mta-sts.example.com"),
            ("[::1]:443", "[::1]"),
        ] {
            let r = req(Method::GET, "/", Some(h));
            assert_eq!(request_host(&r).as_deref(), Some(want), "{h}");
        }
        let r = req(
            Method::GET,
            "https://Mta-Sts.Example.com:99/x",
            Some("other"),
        );
        assert_eq!(request_host(&r).as_deref(), Some("mta-sts.example.com"));
        assert_eq!(request_host(&req(Method::GET, "/", None)), None);
    }

    #[test]
    fn responses() {
        let s = shared();
        let sni = "mta-sts.example.com";
        let r = policy_request(
            &s,
            sni,
            &req(Method::GET, POLICY_PATH, Some("MTA-STS.example.com.:443")),
        );
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/plain");
        assert_eq!(r.headers()["cache-control"], "max-age=300");
        assert_eq!(r.headers()["etag"], "\"1a\"");
        assert_eq!(r.headers()["content-length"], "44");
        let r = policy_request(&s, sni, &req(Method::HEAD, POLICY_PATH, Some(sni)));
        assert_eq!(
            (r.status().as_u16(), &r.headers()["content-length"]),
            (200, &HeaderValue::from(44u64))
        );
        let r = policy_request(&s, sni, &req(Method::POST, POLICY_PATH, Some(sni)));
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "GET, HEAD");
        let r = policy_request(&s, sni, &req(Method::GET, "/", Some(sni)));
        assert_eq!(r.status(), 404);
        let r = policy_request(
            &s,
            sni,
            &req(Method::GET, POLICY_PATH, Some("mta-sts.other.example")),
        );
        assert_eq!(r.status(), 421);
        let other = "mta-sts.other.example";
        let r = policy_request(&s, other, &req(Method::GET, POLICY_PATH, Some(other)));
        assert_eq!(r.status(), 404);
        let r = policy_request(&s, sni, &req(Method::GET, POLICY_PATH, None));
        assert_eq!(r.status(), 400);
        let t = s.metrics.render();
        assert!(
            t.contains("mtasts_serve_requests_total{listener=\"https\",code=\"200\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("mtasts_serve_policy_responses_total 2\n"), "{t}");
    }

    #[test]
    fn challenges() {
        let s = shared();
        s.resolver.set_http_token("tok-en_1", "tok-en_1.thumb");
        let r = challenge_request(
            &s,
            &req(Method::GET, "/.well-known/acme-challenge/tok-en_1", None),
        );
        assert_eq!(r.status(), 200);
        for bad in [
            "/.well-known/acme-challenge/other",
            "/.well-known/acme-challenge/",
            "/.well-known/acme-challenge/tok-en_1/x",
            POLICY_PATH,
            "/",
        ] {
            let r = challenge_request(&s, &req(Method::GET, bad, Some("mta-sts.example.com")));
            assert_eq!(r.status(), 404, "{bad}");
        }
        let r = challenge_request(
            &s,
            &req(Method::POST, "/.well-known/acme-challenge/tok-en_1", None),
        );
        assert_eq!(r.status(), 404);
    }
}
