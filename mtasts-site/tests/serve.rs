//! `serve::Server` with real parts on loopback: HTTPS clients with SNI
//! (HTTP/1.1 and HTTP/2) against several hosted domains whose
//! certificates come from a certbot-style directory of a throw-away CA,
//! the store changed while serving, certificate files replaced, the
//! ACME challenge listener, two servers sharing one PostgreSQL database,
//! and `mtasts check`'s checker passing end to end against a served
//! domain.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::{http1, http2};
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mta_sts_core::Mode;
use mtasts_site::domains::{self, AddOptions, Changes};
use mtasts_site::serve::{ServeConfig, Server};
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::{
    Domain, NewPolicy, OrderStatus, PolicyVersion, SiteStore, StoreError, StoredCertificate,
};
use rustls::pki_types::{CertificateDer, ServerName};
use test_support::{DnsServer, Leaf, SmtpOptions, SmtpServer, TempDir, TestCa, Zones};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const POLICY_PATH: &str = "/.well-known/mta-sts.txt";
const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Host `domain` with MX `mx.<domain>` in `mode`.
fn add(store: &dyn SiteStore, domain: &str, mode: Mode) -> Domain {
    let opts = AddOptions {
        mx: vec![format!("mx.{domain}")],
        mode: Some(mode),
        ..AddOptions::default()
    };
    domains::add(store, domain, &opts, now()).unwrap().domain
}

/// Write `leaf` (with the CA as chain) as `dir/<host>/{fullchain,privkey}.pem`.
fn write_cert(dir: &Path, host: &str, leaf: &Leaf, ca: &TestCa) {
    let d = dir.join(host);
    std::fs::create_dir_all(&d).unwrap();
    // Write to temporary names and rename, as a careful deployment does
    // (the key first: a chain never points at a key it does not match
    // for long).
    let key = d.join(".privkey.pem.new");
    std::fs::write(&key, &leaf.key_pem).unwrap();
    std::fs::rename(&key, d.join("privkey.pem")).unwrap();
    let chain = d.join(".fullchain.pem.new");
    std::fs::write(&chain, format!("{}{}", leaf.cert_pem, ca.ca_pem())).unwrap();
    std::fs::rename(&chain, d.join("fullchain.pem")).unwrap();
}

/// A site: a store under a temporary directory, a CA, a cert-dir.
struct Site {
    dir: TempDir,
    ca: TestCa,
    store: Arc<dyn SiteStore>,
}

impl Site {
    fn new(tag: &str, domains: &[&str]) -> Self {
        let dir = TempDir::new(&format!("mtasts-serve-{tag}"));
        let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.0.join("state")).unwrap());
        let ca = TestCa::new();
        std::fs::create_dir_all(dir.0.join("live")).unwrap();
        let site = Self { dir, ca, store };
        for d in domains {
            add(&*site.store, d, Mode::Testing);
            site.cert(&format!("mta-sts.{d}"));
        }
        site
    }

    fn live(&self) -> PathBuf {
        self.dir.0.join("live")
    }

    /// Issue and write a certificate for `host`; returns it.
    fn cert(&self, host: &str) -> Leaf {
        let leaf = self.ca.issue(&[host]);
        write_cert(&self.live(), host, &leaf, &self.ca);
        leaf
    }

    fn config(&self) -> ServeConfig {
        let mut c = ServeConfig::new((LOCAL, 0).into());
        c.cert_dir = Some(self.live());
        c.metrics = Some((LOCAL, 0).into());
        c.cert_dir_interval = Duration::from_millis(300);
        c
    }

    fn body(&self, domain: &str) -> String {
        self.store.domain(domain).unwrap().unwrap().current.body
    }
}

fn client_config(ca: &TestCa, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    roots_config(ca.root_store(), alpn)
}

fn roots_config(roots: rustls::RootCertStore, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(c)
}

async fn tls(
    addr: SocketAddr,
    sni: &str,
    ca: &TestCa,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        TlsConnector::from(client_config(ca, alpn)).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "handshake"))?
}

fn peer_leaf(s: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    s.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// An HTTP/1.1 connection to `sni`; the certificate the server showed.
async fn h1(
    addr: SocketAddr,
    sni: &str,
    ca: &TestCa,
) -> (http1::SendRequest<Full<Bytes>>, CertificateDer<'static>) {
    let s = tls(addr, sni, ca, &[b"http/1.1"]).await.unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let leaf = peer_leaf(&s);
    let (sender, conn) = http1::handshake(TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    (sender, leaf)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    version: Version,
}

async fn send1(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    method: Method,
    host: &str,
    path: &str,
) -> Answer {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap();
    answer(sender.send_request(req)).await
}

async fn answer(
    f: impl Future<Output = hyper::Result<hyper::Response<hyper::body::Incoming>>>,
) -> Answer {
    let resp = tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .unwrap()
        .unwrap();
    let status = resp.status();
    let version = resp.version();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
        version,
    }
}

/// GET the policy of `domain` on a new HTTP/1.1 connection.
async fn get_policy(addr: SocketAddr, domain: &str, ca: &TestCa) -> Answer {
    let host = format!("mta-sts.{domain}");
    let (mut s, _) = h1(addr, &host, ca).await;
    send1(&mut s, Method::GET, &host, POLICY_PATH).await
}

/// As [`get_policy`], `None` when the handshake fails (no certificate
/// loaded yet).
async fn try_get_policy(addr: SocketAddr, domain: &str, ca: &TestCa) -> Option<Answer> {
    let host = format!("mta-sts.{domain}");
    let s = tls(addr, &host, ca, &[b"http/1.1"]).await.ok()?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(s)).await.ok()?;
    tokio::spawn(conn);
    Some(send1(&mut sender, Method::GET, &host, POLICY_PATH).await)
}

/// GET `path` on the plain HTTP listener.
async fn plain_get(addr: SocketAddr, path: &str) -> Answer {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut s, conn) = http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    send1(&mut s, Method::GET, "mta-sts.a.example", path).await
}

async fn scrape(server: &Server) -> String {
    let a = plain_get(server.metrics_addr().unwrap(), "/metrics").await;
    assert_eq!(a.status, 200);
    String::from_utf8(a.body.to_vec()).unwrap()
}

fn metric(text: &str, name: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Poll `f` every 100 ms until it is true or `limit` passed; the time it
/// took.
async fn within<F, Fut>(limit: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn several_domains_by_sni_over_http1_and_http2() {
    let site = Site::new("sni", &["a.example", "b.example", "c.example"]);
    // Certificates of their own for each host: the right one must be shown.
    let leaves: Vec<(String, Leaf)> = ["a.example", "b.example", "c.example"]
        .iter()
        .map(|d| (d.to_string(), site.cert(&format!("mta-sts.{d}"))))
        .collect();
    let server = Server::start(site.config(), Arc::clone(&site.store))
        .await
        .unwrap();
    assert_eq!(server.domains(), ["a.example", "b.example", "c.example"]);
    let addr = server.https_addr();
    for (d, leaf) in &leaves {
        let host = format!("mta-sts.{d}");
        let (mut s, shown) = h1(addr, &host, &site.ca).await;
        assert_eq!(shown, leaf.cert_der, "{host}");
        // Keep-alive: several requests on one connection; Host in any case,
        // with a port and a final dot.
        for h in [host.clone(), host.to_uppercase(), format!("{host}.:443")] {
            let a = send1(&mut s, Method::GET, &h, POLICY_PATH).await;
            assert_eq!(a.status, 200, "{h}");
            assert_eq!(a.version, Version::HTTP_11);
            assert_eq!(a.headers["content-type"], "text/plain");
            assert_eq!(a.headers["cache-control"], "max-age=300");
            let id = site.store.domain(d).unwrap().unwrap().current.id;
            assert_eq!(a.headers["etag"], format!("\"{id}\"").as_str());
            assert!(a.headers.get("location").is_none());
            let body = site.body(d);
            assert!(body.contains("\r\n") && body.contains(&format!("mx: mx.{d}\r\n")));
            assert_eq!(a.body, body.as_bytes());
        }
        let a = send1(&mut s, Method::HEAD, &host, POLICY_PATH).await;
        assert_eq!(a.status, 200);
        assert!(a.body.is_empty());
        assert_eq!(
            a.headers["content-length"],
            site.body(d).len().to_string().as_str()
        );
    }

    // No ALPN at all: HTTP/1.1 by the first bytes.
    let mut s = tls(addr, "mta-sts.c.example", &site.ca, &[]).await.unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), None);
    s.write_all(
        b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.c.example\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let raw = String::from_utf8(raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(
        raw.ends_with(&format!("\r\n\r\n{}", site.body("c.example"))),
        "{raw}"
    );

    // HTTP/2 (ALPN h2), several streams on one connection.
    let s = tls(addr, "mta-sts.b.example", &site.ca, &[b"h2", b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(s))
        .await
        .unwrap();
    tokio::spawn(conn);
    for method in [Method::GET, Method::HEAD, Method::GET] {
        let req = Request::builder()
            .method(method.clone())
            .uri(format!("https://mta-sts.b.example{POLICY_PATH}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let a = answer(sender.send_request(req)).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.version, Version::HTTP_2);
        assert_eq!(a.headers["content-type"], "text/plain");
        if method == Method::GET {
            assert_eq!(a.body, site.body("b.example").as_bytes());
        } else {
            assert!(a.body.is_empty());
        }
    }
    // :authority of another hosted domain on this connection: 421.
    let req = Request::builder()
        .uri(format!("https://mta-sts.c.example{POLICY_PATH}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(answer(sender.send_request(req)).await.status, 421);

    let m = scrape(&server).await;
    assert_eq!(
        metric(
            &m,
            "mtasts_serve_requests_total{listener=\"https\",code=\"200\"}"
        ),
        16
    );
    assert_eq!(metric(&m, "mtasts_serve_policy_responses_total"), 16);
    assert_eq!(metric(&m, "mtasts_serve_domains"), 3);
    assert_eq!(metric(&m, "mtasts_serve_certificates"), 3);
    assert_eq!(
        metric(&m, "mtasts_serve_tls_handshakes_total{result=\"ok\"}"),
        5
    );
    let not_after = metric(&m, "mtasts_serve_certificate_earliest_not_after_seconds");
    assert!(not_after > now() + 300 * 86_400, "{not_after}");
    assert_eq!(
        metric(&m, "mtasts_serve_snapshot_generation"),
        site.store.generation().unwrap() as i64
    );
    server.shutdown().await;
}

#[tokio::test]
async fn not_found_wrong_method_wrong_name() {
    let site = Site::new("404", &["a.example"]);
    // A certificate for a name that is not hosted.
    site.cert("mta-sts.unhosted.example");
    let server = Server::start(site.config(), Arc::clone(&site.store))
        .await
        .unwrap();
    let addr = server.https_addr();
    let host = "mta-sts.a.example";
    let (mut s, _) = h1(addr, host, &site.ca).await;
    for path in [
        "/",
        "/.well-known/mta-sts.txt/",
        "/.well-known/MTA-STS.TXT",
        "/index.html",
    ] {
        let a = send1(&mut s, Method::GET, host, path).await;
        assert_eq!(a.status, 404, "{path}");
        assert!(a.headers.get("location").is_none());
    }
    for m in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
        let a = send1(&mut s, m.clone(), host, POLICY_PATH).await;
        assert_eq!(a.status, 405, "{m}");
        assert_eq!(a.headers["allow"], "GET, HEAD");
    }
    // A Host that is not the TLS server name.
    let a = send1(&mut s, Method::GET, "mta-sts.unhosted.example", POLICY_PATH).await;
    assert_eq!(a.status, 421);
    // A name with a certificate but no hosted domain.
    let a = get_policy(addr, "unhosted.example", &site.ca).await;
    assert_eq!(a.status, 404);
    // A request head over 16 KiB: refused, never served.
    let mut raw = tls(addr, host, &site.ca, &[b"http/1.1"]).await.unwrap();
    let big = format!(
        "GET {POLICY_PATH} HTTP/1.1\r\nHost: {host}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let _ = raw.write_all(big.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut answer))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    // A name without a certificate: the handshake fails.
    let e = tls(addr, "mta-sts.nobody.example", &site.ca, &[b"http/1.1"]).await;
    assert!(e.is_err());
    // So does a handshake without SNI (an IP address as name).
    let tcp = TcpStream::connect(addr).await.unwrap();
    let ip = ServerName::IpAddress(LOCAL.into());
    let r = TlsConnector::from(client_config(&site.ca, &[]))
        .connect(ip, tcp)
        .await;
    assert!(r.is_err());

    let m = scrape(&server).await;
    assert_eq!(
        metric(
            &m,
            "mtasts_serve_requests_total{listener=\"https\",code=\"404\"}"
        ),
        5
    );
    assert_eq!(
        metric(
            &m,
            "mtasts_serve_requests_total{listener=\"https\",code=\"405\"}"
        ),
        4
    );
    assert_eq!(
        metric(
            &m,
            "mtasts_serve_requests_total{listener=\"https\",code=\"421\"}"
        ),
        1
    );
    assert_eq!(
        metric(&m, "mtasts_serve_tls_handshakes_total{result=\"failed\"}"),
        2
    );
    // The metrics listener answers nothing else.
    let a = plain_get(server.metrics_addr().unwrap(), "/").await;
    assert_eq!(a.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn store_changes_are_served_within_five_seconds() {
    let site = Site::new("change", &["a.example"]);
    let server = Server::start(site.config(), Arc::clone(&site.store))
        .await
        .unwrap();
    let addr = server.https_addr();
    let before = get_policy(addr, "a.example", &site.ca).await;
    assert!(String::from_utf8_lossy(&before.body).contains("mode: testing\r\n"));

    // A change of mode: a new body (and id) served without a restart.
    let changes = Changes {
        mode: Some(Mode::Enforce),
        ..Changes::default()
    };
    let out = domains::set(&*site.store, "a.example", &changes, now()).unwrap();
    assert!(out.changed);
    let took = within(Duration::from_secs(5), || async {
        get_policy(addr, "a.example", &site.ca).await.body == site.body("a.example").as_bytes()
    })
    .await;
    assert!(took < Duration::from_secs(5));
    let a = get_policy(addr, "a.example", &site.ca).await;
    assert!(String::from_utf8_lossy(&a.body).contains("mode: enforce\r\n"));
    assert_eq!(
        a.headers["etag"],
        format!("\"{}\"", out.domain.current.id).as_str()
    );

    // A new domain.
    site.cert("mta-sts.new.example");
    add(&*site.store, "new.example", Mode::Testing);
    within(Duration::from_secs(5), || async {
        try_get_policy(addr, "new.example", &site.ca)
            .await
            .is_some_and(|a| a.status == 200)
    })
    .await;
    // A domain deleted at once.
    domains::remove_now(&*site.store, "a.example").unwrap();
    within(Duration::from_secs(5), || async {
        get_policy(addr, "a.example", &site.ca).await.status == 404
    })
    .await;
    assert_eq!(server.domains(), ["new.example"]);
    assert_eq!(server.generation(), Some(site.store.generation().unwrap()));
    server.shutdown().await;
}

#[tokio::test]
async fn replaced_certificate_files_are_presented() {
    let site = Site::new("certs", &["a.example"]);
    let host = "mta-sts.a.example";
    let first = site.cert(host);
    let server = Server::start(site.config(), Arc::clone(&site.store))
        .await
        .unwrap();
    let addr = server.https_addr();
    let (_, shown) = h1(addr, host, &site.ca).await;
    assert_eq!(shown, first.cert_der);

    // Renewed (as certbot does): the new one is presented within seconds.
    let second = site.cert(host);
    within(Duration::from_secs(5), || async {
        h1(addr, host, &site.ca).await.1 == second.cert_der
    })
    .await;

    // A broken file: logged, counted, the previous certificate stays.
    let errors_before = metric(&scrape(&server).await, "mtasts_serve_cert_dir_errors_total");
    std::fs::write(site.live().join(host).join("fullchain.pem"), "not PEM").unwrap();
    within(Duration::from_secs(5), || async {
        metric(&scrape(&server).await, "mtasts_serve_cert_dir_errors_total") > errors_before
    })
    .await;
    let (_, shown) = h1(addr, host, &site.ca).await;
    assert_eq!(shown, second.cert_der);
    // A key that is not the certificate's: the same.
    let other = site.ca.issue(&[host]);
    std::fs::write(
        site.live().join(host).join("fullchain.pem"),
        format!("{}{}", other.cert_pem, site.ca.ca_pem()),
    )
    .unwrap();
    let n = metric(&scrape(&server).await, "mtasts_serve_cert_dir_errors_total");
    within(Duration::from_secs(5), || async {
        metric(&scrape(&server).await, "mtasts_serve_cert_dir_errors_total") > n
    })
    .await;
    assert_eq!(h1(addr, host, &site.ca).await.1, second.cert_der);
    // Fixed files, then SIGHUP's reload: presented at once.
    write_cert(&site.live(), host, &other, &site.ca);
    let r = server.reload().await.unwrap();
    assert_eq!((r.domains, r.certificates), (1, 1));
    assert_eq!(h1(addr, host, &site.ca).await.1, other.cert_der);

    // The directory removed: the certificate goes.
    std::fs::remove_dir_all(site.live().join(host)).unwrap();
    within(Duration::from_secs(5), || async {
        tls(addr, host, &site.ca, &[]).await.is_err()
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn unreadable_cert_dir_refuses_to_start() {
    let site = Site::new("nodir", &["a.example"]);
    let mut c = site.config();
    c.cert_dir = Some(site.dir.0.join("missing"));
    let e = Server::start(c, Arc::clone(&site.store)).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("certificate directory ") && text.contains("missing"),
        "{text}"
    );
}

#[tokio::test]
async fn http_listener_serves_acme_tokens_only() {
    let site = Site::new("http01", &["a.example"]);
    let mut c = site.config();
    c.http = Some((LOCAL, 0).into());
    let server = Server::start(c, Arc::clone(&site.store)).await.unwrap();
    let http = server.http_addr().unwrap();
    server
        .resolver()
        .set_http_token("tok_EN-1", "tok_EN-1.thumbprint");
    let a = plain_get(http, "/.well-known/acme-challenge/tok_EN-1").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, "tok_EN-1.thumbprint");
    for path in [
        "/.well-known/acme-challenge/other",
        "/.well-known/acme-challenge/",
        POLICY_PATH,
        "/",
    ] {
        let a = plain_get(http, path).await;
        assert_eq!(a.status, 404, "{path}");
        assert!(a.headers.get("location").is_none());
    }
    server.resolver().clear_http_token("tok_EN-1");
    let a = plain_get(http, "/.well-known/acme-challenge/tok_EN-1").await;
    assert_eq!(a.status, 404);
    let m = scrape(&server).await;
    assert_eq!(
        metric(
            &m,
            "mtasts_serve_requests_total{listener=\"http\",code=\"404\"}"
        ),
        5
    );
    server.shutdown().await;
}

#[tokio::test]
async fn tls_alpn_01_handshake_completes_then_closes() {
    let site = Site::new("alpn", &["a.example"]);
    let server = Server::start(site.config(), Arc::clone(&site.store))
        .await
        .unwrap();
    let host = "mta-sts.a.example";
    // The challenge certificate (any certificate the client trusts here).
    let challenge = site.ca.issue(&[host]);
    let key =
        mtasts_site::pem::certified_key_from_pem(&challenge.cert_pem, &challenge.key_pem).unwrap();
    server.resolver().set_alpn_challenge(host, key);
    let mut s = tls(server.https_addr(), host, &site.ca, &[b"acme-tls/1"])
        .await
        .unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"acme-tls/1"[..]));
    assert_eq!(peer_leaf(&s), challenge.cert_der);
    // No HTTP: the server closes the connection.
    let _ = s
        .write_all(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.example\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "{}", String::from_utf8_lossy(&buf));
    // The usual certificate for other ALPN.
    let (_, shown) = h1(server.https_addr(), host, &site.ca).await;
    assert_ne!(shown, challenge.cert_der);
    server.resolver().clear_alpn_challenge(host);
    assert!(
        tls(server.https_addr(), host, &site.ca, &[b"acme-tls/1"])
            .await
            .is_err()
    );
    let m = scrape(&server).await;
    assert_eq!(
        metric(
            &m,
            "mtasts_serve_tls_handshakes_total{result=\"acme_tls_alpn\"}"
        ),
        1
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bounded_connections_idle_limit_and_graceful_shutdown() {
    let site = Site::new("bounds", &["a.example"]);
    let mut c = site.config();
    c.max_connections = 2;
    c.idle_timeout = Duration::from_millis(1500);
    c.handshake_timeout = Duration::from_millis(800);
    let server = Server::start(c, Arc::clone(&site.store)).await.unwrap();
    let addr = server.https_addr();
    let host = "mta-sts.a.example";
    // A client that never starts its handshake is cut after the timeout.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    // Two connections take both slots; a third waits.
    let (mut one, _) = h1(addr, host, &site.ca).await;
    let (_two, _) = h1(addr, host, &site.ca).await;
    assert!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tls(addr, host, &site.ca, &[b"http/1.1"])
        )
        .await
        .is_err(),
        "a third connection was served"
    );
    assert_eq!(server.metrics().connections_open(), 2);
    // Idle connections are closed, freeing the slots.
    let took = within(Duration::from_secs(10), || async {
        server.metrics().connections_open() == 0
    })
    .await;
    assert!(took >= Duration::from_millis(1000), "{took:?}");
    assert!(one.ready().await.is_err() || one.is_closed());
    let a = get_policy(addr, "a.example", &site.ca).await;
    assert_eq!(a.status, 200);

    // Graceful shutdown with an open keep-alive connection: prompt.
    let (mut kept, _) = h1(addr, host, &site.ca).await;
    assert_eq!(
        send1(&mut kept, Method::GET, host, POLICY_PATH)
            .await
            .status,
        200
    );
    let t = Instant::now();
    server.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(TcpStream::connect(addr).await.is_err());
}

/// A store that fails every call while `fail` is set (the real SQLite
/// store underneath).
#[derive(Debug)]
struct Flaky {
    inner: SqliteStore,
    fail: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                path: "flaky".into(),
                source: std::io::Error::other("the test made the store fail"),
            });
        }
        Ok(())
    }
}

impl SiteStore for Flaky {
    fn add_domain(&self, name: &str, new: &NewPolicy, now: i64) -> Result<Domain, StoreError> {
        self.check()?;
        self.inner.add_domain(name, new, now)
    }
    fn update_domain(
        &self,
        name: &str,
        new: &NewPolicy,
        now: i64,
    ) -> Result<(Domain, bool), StoreError> {
        self.check()?;
        self.inner.update_domain(name, new, now)
    }
    fn delete_domain(&self, name: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.delete_domain(name)
    }
    fn purge_removed(&self, now: i64) -> Result<Vec<String>, StoreError> {
        self.check()?;
        self.inner.purge_removed(now)
    }
    fn domain(&self, name: &str) -> Result<Option<Domain>, StoreError> {
        self.check()?;
        self.inner.domain(name)
    }
    fn domains(&self) -> Result<Vec<Domain>, StoreError> {
        self.check()?;
        self.inner.domains()
    }
    fn history(&self, name: &str) -> Result<Vec<PolicyVersion>, StoreError> {
        self.check()?;
        self.inner.history(name)
    }
    fn generation(&self) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.generation()
    }
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        self.inner.setting(key)
    }
    fn set_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        self.check()?;
        self.inner.set_setting(key, value)
    }
    fn certificate(&self, host: &str) -> Result<Option<StoredCertificate>, StoreError> {
        self.check()?;
        self.inner.certificate(host)
    }
    fn certificates(&self) -> Result<Vec<StoredCertificate>, StoreError> {
        self.check()?;
        self.inner.certificates()
    }
    fn put_certificate(&self, cert: &StoredCertificate) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_certificate(cert)
    }
    fn acme_account(&self, directory: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        self.inner.acme_account(directory)
    }
    fn put_acme_account(&self, directory: &str, credentials_json: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_acme_account(directory, credentials_json)
    }
    fn claim_order(
        &self,
        host: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.claim_order(host, holder, now, until)
    }
    fn finish_order(
        &self,
        host: &str,
        holder: &str,
        status: &OrderStatus,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.finish_order(host, holder, status)
    }
    fn order_status(&self, host: &str) -> Result<OrderStatus, StoreError> {
        self.check()?;
        self.inner.order_status(host)
    }
    fn inbox(&self) -> &dyn mtasts_site::inbox::store::InboxStore {
        self.inner.inbox()
    }
    fn alerts(&self) -> &dyn mtasts_site::alerts::store::AlertStore {
        self.inner.alerts()
    }
    fn users(&self) -> &dyn mtasts_site::web::users::UserStore {
        self.inner.users()
    }
}

#[tokio::test]
async fn store_failures_keep_the_last_snapshot_and_certificates_from_the_store() {
    let site = Site::new("flaky", &["a.example"]);
    let flaky = Arc::new(Flaky {
        inner: SqliteStore::open(&site.dir.0.join("state")).unwrap(),
        fail: AtomicBool::new(false),
    });
    // A certificate kept in the store (as ACME leaves it), for a domain
    // without a file: presented after the load.
    add(&*site.store, "b.example", Mode::Testing);
    let stored = site.ca.issue(&["mta-sts.b.example"]);
    site.store
        .put_certificate(&StoredCertificate {
            host: "mta-sts.b.example".into(),
            chain_pem: format!("{}{}", stored.cert_pem, site.ca.ca_pem()),
            key_pem: stored.key_pem.clone(),
            not_after: now() + 90 * 86_400,
            updated_at: now(),
        })
        .unwrap();
    let server = Server::start(site.config(), Arc::clone(&flaky) as Arc<dyn SiteStore>)
        .await
        .unwrap();
    let addr = server.https_addr();
    let (_, shown) = h1(addr, "mta-sts.b.example", &site.ca).await;
    assert_eq!(shown, stored.cert_der);
    let body = get_policy(addr, "b.example", &site.ca).await.body;

    flaky.fail.store(true, Ordering::SeqCst);
    within(Duration::from_secs(5), || async {
        server.metrics().store_refresh_errors() >= 2
    })
    .await;
    assert_eq!(get_policy(addr, "a.example", &site.ca).await.status, 200);
    assert_eq!(get_policy(addr, "b.example", &site.ca).await.body, body);
    assert!(server.reload().await.is_err());
    let m = scrape(&server).await;
    assert!(
        metric(&m, "mtasts_serve_store_refresh_errors_total") >= 3,
        "{m}"
    );

    // Back: a change made meanwhile is picked up.
    let changes = Changes {
        mode: Some(Mode::Enforce),
        ..Changes::default()
    };
    domains::set(&*site.store, "b.example", &changes, now()).unwrap();
    flaky.fail.store(false, Ordering::SeqCst);
    within(Duration::from_secs(5), || async {
        get_policy(addr, "b.example", &site.ca).await.body == site.body("b.example").as_bytes()
    })
    .await;
    server.shutdown().await;
}

/// Open (and later drop) a PostgreSQL store off the runtime's threads:
/// the blocking client runs a runtime of its own.
async fn pg_store(url: String) -> Arc<dyn SiteStore> {
    tokio::task::spawn_blocking(move || {
        Arc::new(mtasts_site::pg::PgSiteStore::connect(&url).unwrap()) as Arc<dyn SiteStore>
    })
    .await
    .unwrap()
}

async fn drop_blocking(store: Arc<dyn SiteStore>) {
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_postgresql_database() {
    let Some(db) = test_support::pg::TestDb::create() else {
        return;
    };
    let site = Site::new("pg", &[]);
    let one = pg_store(db.url("serve-one")).await;
    let two = pg_store(db.url("serve-two")).await;
    let mut c = site.config();
    c.metrics = None;
    let server_one = Server::start(c.clone(), Arc::clone(&one)).await.unwrap();
    let server_two = Server::start(c, Arc::clone(&two)).await.unwrap();
    site.cert("mta-sts.shared.example");

    // Added through the first node's store: served by the second.
    let s1 = Arc::clone(&one);
    let added = tokio::task::spawn_blocking(move || add(&*s1, "shared.example", Mode::Testing))
        .await
        .unwrap();
    let addr_two = server_two.https_addr();
    let took = within(Duration::from_secs(5), || async {
        try_get_policy(addr_two, "shared.example", &site.ca)
            .await
            .is_some_and(|a| a.status == 200 && a.body == added.current.body.as_bytes())
    })
    .await;
    assert!(took < Duration::from_secs(5));
    // Changed through the second: served by the first.
    let s2 = Arc::clone(&two);
    let changed = tokio::task::spawn_blocking(move || {
        let changes = Changes {
            mode: Some(Mode::Enforce),
            ..Changes::default()
        };
        domains::set(&*s2, "shared.example", &changes, now()).unwrap()
    })
    .await
    .unwrap();
    assert!(changed.changed);
    let addr_one = server_one.https_addr();
    within(Duration::from_secs(5), || async {
        get_policy(addr_one, "shared.example", &site.ca).await.body
            == changed.domain.current.body.as_bytes()
    })
    .await;
    // Both end at the database's generation.
    let s1 = Arc::clone(&one);
    let generation = tokio::task::spawn_blocking(move || s1.generation().unwrap())
        .await
        .unwrap();
    within(Duration::from_secs(5), || async {
        server_one.generation() >= Some(generation) && server_two.generation() >= Some(generation)
    })
    .await;
    server_one.shutdown().await;
    server_two.shutdown().await;
    drop_blocking(one).await;
    drop_blocking(two).await;
}

/// A CA certificate in a file (for the checker's `--ca-file`).
fn ca_file(dir: &Path, ca: &TestCa) -> PathBuf {
    let p = dir.join("ca.pem");
    std::fs::write(&p, ca.ca_pem()).unwrap();
    p
}

#[tokio::test]
async fn mtasts_check_passes_against_a_served_domain() {
    let d = "served.example";
    let site = Site::new("check", &[]);
    let domain = add(&*site.store, d, Mode::Enforce);
    site.cert(&format!("mta-sts.{d}"));
    let server = Server::start(site.config(), Arc::clone(&site.store))
        .await
        .unwrap();
    let mx = format!("mx.{d}");
    let smtp = SmtpServer::start(SmtpOptions::starttls(&mx, site.ca.issue(&[&mx])))
        .await
        .unwrap();
    // The records `mtasts domain records` tells the owner to publish.
    let zones = Zones::new()
        .txt(
            &format!("_mta-sts.{d}"),
            &[format!("v=STSv1; id={}", domain.current.id)],
        )
        .txt(
            &format!("_smtp._tls.{d}"),
            &[format!("v=TLSRPTv1; rua=mailto:tlsrpt@{d}")],
        )
        .a(&format!("mta-sts.{d}"), LOCAL)
        .mx(d, 10, &mx)
        .a(&mx, LOCAL);
    let dns = DnsServer::start(zones).await.unwrap();
    let overrides = policy_fetch::Overrides {
        resolver: Some(dns.addr()),
        ca_file: Some(ca_file(&site.dir.0, &site.ca)),
        https_port: Some(server.https_addr().port()),
        smtp_port: Some(smtp.addr().port()),
        ..policy_fetch::Overrides::default()
    };
    let options = mta_sts_check::CheckOptions {
        fetch_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        probe_timeout: Duration::from_secs(5),
        ..mta_sts_check::CheckOptions::default()
    };
    let report = mta_sts_check::check_domain(d, &overrides, &options)
        .await
        .unwrap();
    assert!(report.passed, "{:#?}", report.findings);
    assert!(!report.exit_failed());
    assert_eq!(report.findings, [], "{:#?}", report.findings);
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(v["sts_record"]["id"], domain.current.id.as_str());
    assert_eq!(v["policy"]["status"], "ok");
    assert_eq!(v["policy"]["http_status"], 200);
    assert_eq!(v["policy"]["content_type"], "text/plain");
    assert_eq!(v["policy"]["mode"], "enforce");
    assert_eq!(v["policy"]["mx"], serde_json::json!([mx]));
    assert_eq!(v["applied"], "enforce");
    server.shutdown().await;
}

/// `Server` with `--acme-directory`: pebble (Debian's ACME test server)
/// validates `mta-sts.<domain>` with `challenge` against the server's own
/// listeners; the certificate it issues is stored and presented, and the
/// policy is then fetched trusting pebble's root only.
async fn acme_end_to_end(challenge: mtasts_site::acme::Challenge) {
    use test_support::pebble::{Pebble, PebbleOptions, free_port};

    let d = "acme.example";
    let host = format!("mta-sts.{d}");
    let site = Site::new("acme", &[]);
    add(&*site.store, d, Mode::Testing);
    let dns = DnsServer::start(Zones::new().a(&host, LOCAL))
        .await
        .unwrap();
    let https_port = free_port().unwrap();
    let http_port = free_port().unwrap();
    let opts = PebbleOptions {
        dns: dns.addr(),
        http_port,
        tls_port: https_port,
    };
    let Some(pebble) = Pebble::start_or_skip(opts).await.unwrap() else {
        return;
    };
    let mut c = site.config();
    c.https = (LOCAL, https_port).into();
    c.http = Some((LOCAL, http_port).into());
    let mut acme = mtasts_site::acme::AcmeConfig::new(pebble.directory_url(), "serve-test");
    acme.contact = vec![format!("mailto:hostmaster@{d}")];
    acme.server_roots = Some(pebble.api_ca_path());
    acme.challenge = challenge;
    acme.check_interval = Duration::from_millis(500);
    c.acme = Some(acme);
    let server = Server::start(c, Arc::clone(&site.store)).await.unwrap();
    let addr = server.https_addr();
    let connect = |alpn: &'static [&'static [u8]]| {
        let roots = pebble.root_store();
        let host = host.clone();
        async move {
            let tcp = TcpStream::connect(addr).await.ok()?;
            let name = ServerName::try_from(host).unwrap();
            TlsConnector::from(roots_config(roots, alpn))
                .connect(name, tcp)
                .await
                .ok()
        }
    };
    within(Duration::from_secs(60), || async {
        connect(&[b"http/1.1"]).await.is_some()
    })
    .await;
    let s = connect(&[b"http/1.1"]).await.unwrap();
    let (mut sender, conn) = http1::handshake(TokioIo::new(s)).await.unwrap();
    tokio::spawn(conn);
    let a = send1(&mut sender, Method::GET, &host, POLICY_PATH).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, site.body(d).as_bytes());
    let stored = site.store.certificate(&host).unwrap().unwrap();
    assert!(stored.not_after > now(), "{}", stored.not_after);
    assert!(pebble.issued() >= 1, "{}", pebble.log());
    within(Duration::from_secs(5), || async {
        metric(&scrape(&server).await, "mtasts_serve_certificates") == 1
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_tls_alpn_01_certificate_is_obtained_and_presented() {
    acme_end_to_end(mtasts_site::acme::Challenge::TlsAlpn01).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_http_01_certificate_is_obtained_and_presented() {
    acme_end_to_end(mtasts_site::acme::Challenge::Http01).await;
}
