//! Bounds of `mtasts serve` proved over loopback: HTTP/2 streams per
//! connection ([`H2_MAX_STREAMS`], raw frames: the 17th concurrent stream
//! is refused with `REFUSED_STREAM`, a new one is taken once one ends),
//! the metrics listener's connections ([`MAX_ADMIN_CONNECTIONS`]: a
//! ninth waits in the backlog until one of eight ends) and the web
//! session's lifetime ([`SESSION_TTL`]: the stored session ends 12 hours
//! after the login).

mod web_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mtasts_site::serve::{H2_MAX_STREAMS, MAX_ADMIN_CONNECTIONS};
use mtasts_site::web::auth::{self, SESSION_TTL};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use web_common::{Req, Site, WEB_HOST};

// ---------------------------------------------------------------------------
// HTTP/2 streams

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;
/// SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 6.5.2).
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// REFUSED_STREAM (RFC 9113 7).
const REFUSED_STREAM: u32 = 0x7;

/// One frame: type, flags, stream id, payload.
#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

async fn write_frame<S: AsyncWrite + Unpin>(
    s: &mut S,
    kind: u8,
    flags: u8,
    stream: u32,
    payload: &[u8],
) {
    let len = u32::try_from(payload.len()).unwrap();
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    s.write_all(&f).await.unwrap();
    s.flush().await.unwrap();
}

async fn read_frame<S: AsyncRead + Unpin>(s: &mut S) -> Frame {
    let mut head = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(20), s.read_exact(&mut head))
        .await
        .expect("a frame within 20 s")
        .unwrap();
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await.unwrap();
    Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    }
}

/// An HPACK string literal (no Huffman coding; shorter than 127 bytes).
fn literal(out: &mut Vec<u8>, s: &str) {
    out.push(u8::try_from(s.len()).unwrap());
    out.extend_from_slice(s.as_bytes());
}

/// The header block of `POST /v1/tlsrpt` (a body is expected: the
/// handler waits for it).
fn post_report_headers() -> Vec<u8> {
    let mut b = vec![
        0x83, // :method POST (static 3)
        0x87, // :scheme https (static 7)
        0x04, // :path, literal without indexing, static name 4
    ];
    literal(&mut b, "/v1/tlsrpt");
    b.push(0x01); // :authority, literal without indexing, static name 1
    literal(&mut b, WEB_HOST);
    // content-type (static 31): 4-bit prefix 15, then 16.
    b.extend_from_slice(&[0x0f, 0x10]);
    literal(&mut b, "application/tlsrpt+json");
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_17th_concurrent_http2_stream_is_refused() {
    assert_eq!(H2_MAX_STREAMS, 16);
    let site = Site::start("h2-streams", |_| {}).await;
    let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(site.ca.root_store())
    .with_no_client_auth();
    c.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(site.server.https_addr()).await.unwrap();
    let mut s = TlsConnector::from(Arc::new(c))
        .connect(ServerName::try_from(WEB_HOST).unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    write_frame(&mut s, SETTINGS, 0, 0, &[]).await;

    // The server's SETTINGS announce the bound.
    let settings = loop {
        let f = read_frame(&mut s).await;
        if f.kind == SETTINGS && f.flags & ACK == 0 {
            break f.payload;
        }
    };
    let announced: Vec<(u16, u32)> = settings
        .chunks(6)
        .map(|e| {
            (
                u16::from_be_bytes([e[0], e[1]]),
                u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
            )
        })
        .collect();
    assert!(
        announced.contains(&(MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS)),
        "{announced:?}"
    );
    write_frame(&mut s, SETTINGS, ACK, 0, &[]).await;

    // 16 streams whose requests wait for their bodies: all taken.
    let block = post_report_headers();
    for i in 0..H2_MAX_STREAMS {
        write_frame(&mut s, HEADERS, END_HEADERS, 2 * i + 1, &block).await;
    }
    // The 17th is refused, and only it.
    let refused = 2 * H2_MAX_STREAMS + 1;
    write_frame(&mut s, HEADERS, END_HEADERS, refused, &block).await;
    loop {
        let f = read_frame(&mut s).await;
        assert!(
            f.stream == 0 || f.stream == refused,
            "a frame for an open stream: {f:?}"
        );
        if f.kind == RST_STREAM {
            assert_eq!(f.stream, refused);
            let code = u32::from_be_bytes(f.payload[..4].try_into().unwrap());
            assert_eq!(code, REFUSED_STREAM);
            break;
        }
    }

    // Stream 1 ends (an empty body: answered at once) ...
    write_frame(&mut s, DATA, END_STREAM, 1, &[]).await;
    loop {
        let f = read_frame(&mut s).await;
        assert!(f.stream == 0 || f.stream == 1, "{f:?}");
        if f.stream == 1 && f.flags & END_STREAM != 0 {
            break;
        }
    }
    // ... and a new stream is taken: it gets an answer, not a reset.
    let next = refused + 2;
    write_frame(&mut s, HEADERS, END_HEADERS | END_STREAM, next, &block).await;
    loop {
        let f = read_frame(&mut s).await;
        assert!(f.stream == 0 || f.stream == next, "{f:?}");
        assert_ne!(f.kind, RST_STREAM, "{f:?}");
        if f.stream == next && f.kind == HEADERS {
            break;
        }
    }
    drop(s);
    site.server.shutdown().await;
}

// ---------------------------------------------------------------------------
// Metrics listener connections

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listener_serves_eight_connections_and_queues_the_rest() {
    assert_eq!(MAX_ADMIN_CONNECTIONS, 8);
    let site = Site::start("admin-conns", |_| {}).await;
    let addr = site.server.metrics_addr().unwrap();
    let start = Instant::now();
    // Seven silent clients: the eighth connection, a scrape, is served.
    let mut silent = Vec::new();
    for _ in 0..MAX_ADMIN_CONNECTIONS - 1 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let body = tokio::time::timeout(Duration::from_secs(3), site.scrape())
        .await
        .expect("a scrape with 7 connections open is answered");
    assert!(body.contains("# TYPE "), "{body}");
    // An eighth silent client: a scrape now waits in the backlog ...
    silent.push(TcpStream::connect(addr).await.unwrap());
    let waiting = tokio::spawn(scrape_once(addr));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiting.is_finished(), "a ninth connection was served");
    // ... until one of the eight ends (well before the silent clients'
    // 5 s request timeout).
    drop(silent.pop());
    let body = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("served once a connection ended")
        .unwrap();
    assert!(body.contains("# TYPE "), "{body}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}: the silent clients may have timed out instead",
        start.elapsed()
    );
    drop(silent);
    site.server.shutdown().await;
}

/// One plain `GET /metrics` (HTTP/1.1, `Connection: close`); the body.
async fn scrape_once(addr: std::net::SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    text.split_once("\r\n\r\n").unwrap().1.to_owned()
}

// ---------------------------------------------------------------------------
// Session lifetime

/// Sign in through the form; the session id (the cookie's value) and the
/// Set-Cookie line.
async fn login(site: &Site, token: &str) -> (String, String) {
    let (pair, line) = web_common::login(site, token).await;
    let id = pair.strip_prefix("mtasts_session=").unwrap().to_owned();
    (id, line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_twelve_hours_after_the_login() {
    assert_eq!(SESSION_TTL, 12 * 3600);
    let site = Site::start("session-ttl", |_| {}).await;
    let before = web_common::now();
    let (id, line) = login(&site, &site.tokens.alice).await;
    let after = web_common::now();
    assert!(line.ends_with("; Max-Age=43200"), "{line}");
    let cookie = format!("mtasts_session={id}");
    let page = site
        .request(Req {
            cookie: Some(&cookie),
            ..Req::get("/")
        })
        .await;
    assert_eq!(page.status, 200, "signed in now");
    // The stored session: valid until 12 hours after the login, not at
    // that second.
    let users = site.store.users();
    let hash = auth::sha256_hex(&id);
    let s = users.session(&hash, after).unwrap().expect("stored");
    assert!(
        (before + SESSION_TTL..=after + SESSION_TTL).contains(&s.expires_at),
        "{} not 12 h after {before}..{after}",
        s.expires_at
    );
    assert!(users.session(&hash, s.expires_at - 1).unwrap().is_some());
    assert_eq!(users.session(&hash, s.expires_at).unwrap(), None);
    site.server.shutdown().await;
}
