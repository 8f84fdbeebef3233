//! An HTTPS (HTTP/1.1 over rustls) server on 127.0.0.1 with canned routes that records
//! every request, its body included (a report receiver for POST tests).

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HOST, LOCATION};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Sleep;

use crate::ca::Leaf;
use crate::tls::{self, CertSet, Handshake};

/// The well-known path of an MTA-STS policy.
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// What the server does for a matched route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A complete response with a `Content-Length` body.
    Ok {
        /// HTTP status code.
        status: u16,
        /// `Content-Type` header value, or none at all.
        content_type: Option<String>,
        /// The body.
        body: Vec<u8>,
    },
    /// A redirect: `status` (e.g. 301, 302, 307) with a `Location` header and empty body.
    Redirect {
        /// HTTP status code.
        status: u16,
        /// `Location` header value.
        location: String,
    },
    /// 200 `text/plain` headers at once, then `count` copies of `chunk`, each after waiting
    /// `interval` (chunked transfer coding) — for body-read timeout tests.
    Trickle {
        /// Bytes sent per tick.
        chunk: Vec<u8>,
        /// Delay before each chunk.
        interval: Duration,
        /// Number of chunks.
        count: usize,
    },
    /// 200 `text/plain` with `Transfer-Encoding: chunked` (no `Content-Length`), the body
    /// sent in 4 KiB chunks — for size-limit tests.
    Chunked {
        /// The full body.
        body: Vec<u8>,
    },
    /// Reads the request, then closes the connection without any response (no TLS
    /// close_notify either).
    Close,
    /// Reads the request, then never answers (until the server is dropped) — for
    /// header timeout tests.
    Stall,
    /// The n-th request to this route (counting from 0) gets the n-th response, and
    /// every request after the last gets the last one — e.g. a 500 and then a 200
    /// for retry tests. An empty list answers 404.
    Sequence(Vec<Self>),
}

impl Response {
    /// `200 text/plain` with `body` — how an MTA-STS policy is served.
    pub fn policy(body: impl Into<Vec<u8>>) -> Self {
        Self::Ok {
            status: 200,
            content_type: Some("text/plain".to_owned()),
            body: body.into(),
        }
    }

    /// `status` with the given content type and body.
    pub fn with_status(status: u16, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        Self::Ok {
            status,
            content_type: content_type.map(str::to_owned),
            body: body.into(),
        }
    }
}

/// Routes keyed by host and path. The host is taken from the `Host` header (port and
/// trailing dot stripped, lower-cased), falling back to the SNI, then to the wildcard
/// host `"*"`. The path is the request path without the query. Anything else is 404.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    map: HashMap<(String, String), Response>,
}

impl Routes {
    /// No routes (everything is 404).
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `response` for `host` (or `"*"` for any host) and `path`.
    pub fn route(mut self, host: &str, path: &str, response: Response) -> Self {
        self.map
            .insert((normalize_host(host), path.to_owned()), response);
        self
    }

    /// Serves `policy` as `200 text/plain` at `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
    pub fn policy(self, domain: &str, policy: impl Into<Vec<u8>>) -> Self {
        let host = format!("mta-sts.{}", domain.trim_end_matches('.'));
        self.route(&host, POLICY_PATH, Response::policy(policy))
    }

    fn find(
        &self,
        host: Option<&str>,
        sni: Option<&str>,
        path: &str,
    ) -> Option<(&(String, String), &Response)> {
        let lookup = |h: &str| {
            self.map
                .get_key_value(&(normalize_host(h), path.to_owned()))
        };
        host.and_then(lookup)
            .or_else(|| sni.and_then(lookup))
            .or_else(|| lookup("*"))
    }
}

fn normalize_host(host: &str) -> String {
    let host = if host.starts_with('[') {
        // [v6]:port
        host.split_once(']')
            .map(|(h, _)| format!("{h}]"))
            .unwrap_or_else(|| host.to_owned())
    } else {
        host.rsplit_once(':')
            .map(|(h, _)| h.to_owned())
            .unwrap_or_else(|| host.to_owned())
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// SNI of the TLS connection that carried it.
    pub sni: Option<String>,
    /// Method, e.g. `"GET"`.
    pub method: String,
    /// Path and query as sent, e.g. `"/.well-known/mta-sts.txt"`.
    pub path: String,
    /// The `Host` header, verbatim.
    pub host: Option<String>,
    /// All headers in order (names lower-case; values lossily decoded as UTF-8).
    pub headers: Vec<(String, String)>,
    /// The request body (at most [`MAX_REQUEST_BODY`] bytes are kept; a longer
    /// body is cut there and `body_truncated` set).
    pub body: Vec<u8>,
    /// Whether the body was longer than [`MAX_REQUEST_BODY`] (or could not be
    /// read to its end).
    pub body_truncated: bool,
}

/// The most bytes of a request body a [`RecordedRequest`] keeps.
pub const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Log {
    requests: Mutex<Vec<RecordedRequest>>,
    handshakes: Mutex<Vec<Handshake>>,
    /// Requests answered so far per route (host, path), for [`Response::Sequence`].
    hits: Mutex<HashMap<(String, String), usize>>,
}

/// An HTTPS server on 127.0.0.1 (random port), TLS 1.2 and 1.3, HTTP/1.1.
///
/// It runs on the current tokio runtime until dropped.
pub struct HttpsServer {
    addr: SocketAddr,
    log: Arc<Log>,
    task: JoinHandle<()>,
}

impl fmt::Debug for HttpsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl HttpsServer {
    /// Serves `routes` presenting `cert` (its `chain`) to every client.
    pub async fn start(cert: &Leaf, routes: Routes) -> io::Result<Self> {
        Self::start_with(CertSet::from(cert), routes).await
    }

    /// Serves `routes`, presenting the leaf paired with the client's SNI in `certs`, or
    /// `default` when the SNI is absent or unknown.
    pub async fn start_multi(
        certs: Vec<(String, Leaf)>,
        default: Leaf,
        routes: Routes,
    ) -> io::Result<Self> {
        let set = certs
            .into_iter()
            .fold(CertSet::new(default), |set, (name, leaf)| {
                set.with_sni(name, leaf)
            });
        Self::start_with(set, routes).await
    }

    /// Serves `routes` with the certificates of `certs`.
    pub async fn start_with(certs: CertSet, routes: Routes) -> io::Result<Self> {
        let config = certs.server_config()?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let log = Arc::new(Log::default());
        let task = tokio::spawn(accept_loop(listener, config, Arc::new(routes), log.clone()));
        Ok(Self { addr, log, task })
    }

    /// The address (127.0.0.1:port) to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.requests.lock().unwrap().clone()
    }

    /// Every TLS handshake attempt so far (including failed ones, e.g. a client rejecting
    /// the certificate), in order.
    pub fn handshakes(&self) -> Vec<Handshake> {
        self.log.handshakes.lock().unwrap().clone()
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    routes: Arc<Routes>,
    log: Arc<Log>,
) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((tcp, _peer)) = listener.accept().await else {
            continue;
        };
        let (config, routes, log) = (config.clone(), routes.clone(), log.clone());
        conns.spawn(async move {
            let mut hello = None;
            let result = tls::accept(tcp, config, |sni| {
                let mut hs = log.handshakes.lock().unwrap();
                hs.push(Handshake {
                    sni: sni.clone(),
                    completed: false,
                });
                hello = Some((hs.len() - 1, sni));
            })
            .await;
            let (Ok(stream), Some((idx, sni))) = (result, hello) else {
                return;
            };
            log.handshakes.lock().unwrap()[idx].completed = true;
            let svc = service_fn(move |req| handle(req, sni.clone(), routes.clone(), log.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
}

/// Error returned by the service to make hyper drop the connection without a response.
#[derive(Debug)]
struct CloseConnection;

impl fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("route says: close the connection")
    }
}

impl std::error::Error for CloseConnection {}

type ResBody = BoxBody<Bytes, Infallible>;

async fn handle(
    req: hyper::Request<Incoming>,
    sni: Option<String>,
    routes: Arc<Routes>,
    log: Arc<Log>,
) -> Result<hyper::Response<ResBody>, CloseConnection> {
    let host = req
        .headers()
        .get(HOST)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let (parts, mut incoming) = req.into_parts();
    let req = hyper::Request::from_parts(parts, ());
    let mut body = Vec::new();
    let mut body_truncated = false;
    while let Some(frame) = incoming.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    let room = MAX_REQUEST_BODY - body.len();
                    if data.len() > room {
                        body_truncated = true;
                    }
                    body.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Err(_) => {
                body_truncated = true;
                break;
            }
        }
    }
    let recorded = RecordedRequest {
        sni: sni.clone(),
        method: req.method().as_str().to_owned(),
        path: req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| req.uri().path().to_owned()),
        host: host.clone(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        body_truncated,
    };
    log.requests.lock().unwrap().push(recorded);

    let route = routes
        .find(host.as_deref(), sni.as_deref(), req.uri().path())
        .and_then(|(key, response)| match response {
            Response::Sequence(list) => {
                let mut hits = log.hits.lock().unwrap();
                let n = hits.entry(key.clone()).or_insert(0);
                let chosen = list.get(*n).or(list.last()).cloned();
                *n += 1;
                chosen
            }
            other => Some(other.clone()),
        });
    let builder = hyper::Response::builder();
    let response = match route {
        None => builder
            .status(404)
            .header(CONTENT_TYPE, "text/plain")
            .body(Full::new(Bytes::from_static(b"not found\n")).boxed()),
        Some(Response::Ok {
            status,
            content_type,
            body,
        }) => {
            let mut builder = builder.status(status);
            if let Some(ct) = content_type {
                builder = builder.header(CONTENT_TYPE, ct);
            }
            builder.body(Full::new(Bytes::from(body)).boxed())
        }
        Some(Response::Redirect { status, location }) => builder
            .status(status)
            .header(LOCATION, location)
            .body(Empty::new().boxed()),
        Some(Response::Trickle {
            chunk,
            interval,
            count,
        }) => builder.status(200).header(CONTENT_TYPE, "text/plain").body(
            TrickleBody {
                chunk: Bytes::from(chunk),
                interval,
                remaining: count,
                sleep: Box::pin(tokio::time::sleep(interval)),
            }
            .boxed(),
        ),
        Some(Response::Chunked { body }) => builder
            .status(200)
            .header(CONTENT_TYPE, "text/plain")
            .body(ChunksBody(Bytes::from(body)).boxed()),
        Some(Response::Close) => return Err(CloseConnection),
        Some(Response::Stall) => std::future::pending().await,
        // A sequence inside a sequence is not unrolled further.
        Some(Response::Sequence(_)) => builder
            .status(500)
            .header(CONTENT_TYPE, "text/plain")
            .body(Full::new(Bytes::from_static(b"nested Response::Sequence\n")).boxed()),
    };
    Ok(response.expect("valid response"))
}

/// Sends `chunk` `remaining` more times, waiting `interval` before each.
struct TrickleBody {
    chunk: Bytes,
    interval: Duration,
    remaining: usize,
    sleep: Pin<Box<Sleep>>,
}

impl Body for TrickleBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.remaining -= 1;
        let next = tokio::time::Instant::now() + self.interval;
        self.sleep.as_mut().reset(next);
        Poll::Ready(Some(Ok(Frame::data(self.chunk.clone()))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }
}

/// Yields the body in 4 KiB pieces with no size hint, so hyper uses chunked coding.
struct ChunksBody(Bytes);

impl Body for ChunksBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.0.is_empty() {
            return Poll::Ready(None);
        }
        let n = self.0.len().min(4096);
        let piece = self.0.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }
}
