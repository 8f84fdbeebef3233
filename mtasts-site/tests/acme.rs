//! Certificates over ACME against a real ACME server: Debian's `pebble`
//! (started per test by `test_support::pebble`), validating TLS-ALPN-01
//! and HTTP-01 challenges against listeners on loopback that answer from
//! the `CertResolver`, names resolved by a loopback DNS server.
//!
//! Without `/usr/bin/pebble` each test prints why and checks nothing,
//! unless `MTASTS_REQUIRE_PEBBLE=1` (as `.ci/run` sets): then it fails.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use mta_sts_core::Mode;
use mtasts_site::acme::{self, AcmeConfig, AcmeManager, Challenge, backoff, policy_host};
use mtasts_site::certs::{ACME_TLS_ALPN, CertResolver};
use mtasts_site::pem::chain_from_pem;
use mtasts_site::sqlite::SqliteStore;
use mtasts_site::store::{DomainSettings, NewPolicy, SiteStore, StoredCertificate};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use test_support::pebble::{Pebble, PebbleOptions};
use test_support::{DnsServer, TempDir, TestCa, Zones};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// pebble, the DNS server it asks, and the challenge listeners answering
/// from `resolver`.
struct Env {
    pebble: Pebble,
    _dns: DnsServer,
    resolver: Arc<CertResolver>,
    /// TLS handshakes that negotiated `acme-tls/1`.
    alpn_handshakes: Arc<AtomicUsize>,
    /// HTTP-01 requests answered with a key authorization.
    http_answers: Arc<AtomicUsize>,
}

impl Env {
    /// `Some` unless pebble is missing (and not required). `resolvable`:
    /// the domains whose `mta-sts.` name resolves to 127.0.0.1 (others
    /// answer NXDOMAIN).
    async fn start(resolvable: &[&str]) -> Option<Self> {
        let mut zones = Zones::new();
        for d in resolvable {
            zones = zones.a(&policy_host(d), Ipv4Addr::LOCALHOST);
        }
        let dns = DnsServer::start(zones).await.unwrap();
        let tls = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let http = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let opts = PebbleOptions {
            dns: dns.addr(),
            http_port: http.local_addr().unwrap().port(),
            tls_port: tls.local_addr().unwrap().port(),
        };
        let pebble = Pebble::start_or_skip(opts).await.unwrap()?;
        let resolver = Arc::new(CertResolver::new());
        let alpn_handshakes = Arc::new(AtomicUsize::new(0));
        let http_answers = Arc::new(AtomicUsize::new(0));
        tokio::spawn(tls_listener(tls, resolver.clone(), alpn_handshakes.clone()));
        tokio::spawn(http_listener(http, resolver.clone(), http_answers.clone()));
        Some(Self {
            pebble,
            _dns: dns,
            resolver,
            alpn_handshakes,
            http_answers,
        })
    }

    fn config(&self, challenge: Challenge, node: &str) -> AcmeConfig {
        AcmeConfig {
            directory: self.pebble.directory_url(),
            contact: vec!["mailto:hostmaster@example.com".to_owned()],
            server_roots: Some(self.pebble.api_ca_path()),
            challenge,
            renew_before: acme::DEFAULT_RENEW_BEFORE,
            check_interval: Duration::from_millis(200),
            node_id: node.to_owned(),
        }
    }

    /// Check a stored certificate: its chain verifies against pebble's
    /// root for `host`, `not_after` is the leaf's, the resolver presents
    /// it and the order state is clean.
    fn assert_issued(&self, store: &dyn SiteStore, resolver: &CertResolver, host: &str) {
        let cert = store
            .certificate(host)
            .unwrap()
            .unwrap_or_else(|| panic!("no certificate stored for {host}"));
        assert_eq!(cert.host, host);
        let chain = chain_from_pem(&cert.chain_pem).unwrap();
        assert!(chain.len() >= 2, "leaf and intermediate: {}", chain.len());
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(self.pebble.root_store()),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        verifier
            .verify_server_cert(
                &chain[0],
                &chain[1..],
                &ServerName::try_from(host.to_owned()).unwrap(),
                &[],
                UnixTime::now(),
            )
            .unwrap_or_else(|e| panic!("{host}: chain does not verify: {e}"));
        // The chain is for this name only.
        let other = ServerName::try_from("mta-sts.other.example").unwrap();
        assert!(
            verifier
                .verify_server_cert(&chain[0], &chain[1..], &other, &[], UnixTime::now())
                .is_err()
        );
        let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
        assert_eq!(cert.not_after, leaf.validity().not_after.timestamp());
        assert!(
            cert.not_after > now() + 30 * 86_400,
            "pebble issues for years"
        );
        assert!(cert.updated_at <= now() && cert.updated_at > now() - 300);
        let presented = resolver
            .certificate(host)
            .unwrap_or_else(|| panic!("{host} not presented"));
        assert_eq!(presented.cert[0], chain[0]);
        presented.keys_match().unwrap();
        let status = store.order_status(host).unwrap();
        assert_eq!(status.failures, 0, "{host}: {:?}", status.last_error);
        assert_eq!(status.last_error, None);
    }
}

/// Completes TLS handshakes with `resolver` (ALPN `acme-tls/1` offered),
/// counting those that negotiated `acme-tls/1`.
async fn tls_listener(listener: TcpListener, resolver: Arc<CertResolver>, count: Arc<AtomicUsize>) {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_cert_resolver(resolver);
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let acceptor = acceptor.clone();
        let count = count.clone();
        tokio::spawn(async move {
            if let Ok(mut tls) = acceptor.accept(tcp).await {
                if tls.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN) {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                let _ = tls.shutdown().await;
            }
        });
    }
}

/// Answers `GET /.well-known/acme-challenge/TOKEN` from `resolver`
/// (404 otherwise), one request per connection.
async fn http_listener(
    listener: TcpListener,
    resolver: Arc<CertResolver>,
    count: Arc<AtomicUsize>,
) {
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            return;
        };
        let resolver = resolver.clone();
        let count = count.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                match tcp.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).into_owned();
            let path = head.split_whitespace().nth(1).unwrap_or("");
            let answer = path
                .strip_prefix("/.well-known/acme-challenge/")
                .and_then(|token| resolver.http_token(token));
            let response = match answer {
                Some(body) => {
                    count.fetch_add(1, Ordering::SeqCst);
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                }
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_owned(),
            };
            let _ = tcp.write_all(response.as_bytes()).await;
            let _ = tcp.shutdown().await;
        });
    }
}

fn add_domains(store: &dyn SiteStore, domains: &[&str]) {
    for d in domains {
        let settings = DomainSettings {
            mode: Mode::Testing,
            mx: vec![format!("mx.{d}")],
            max_age: 604_800,
            rua: vec![format!("mailto:tlsrpt@{d}")],
        };
        let body = format!("version: STSv1\r\nmode: testing\r\nmx: mx.{d}\r\nmax_age: 604800\r\n");
        store
            .add_domain(
                d,
                &NewPolicy {
                    settings,
                    body,
                    removing_until: None,
                },
                now(),
            )
            .unwrap();
    }
}

fn serial(cert: &StoredCertificate) -> Vec<u8> {
    let chain = chain_from_pem(&cert.chain_pem).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
    leaf.raw_serial().to_vec()
}

#[test]
fn backoff_doubles_from_a_minute_to_a_day() {
    assert_eq!(backoff(1), Duration::from_secs(60));
    assert_eq!(backoff(2), Duration::from_secs(120));
    assert_eq!(backoff(3), Duration::from_secs(240));
    assert_eq!(backoff(11), Duration::from_secs(60 * 1024));
    assert_eq!(backoff(12), Duration::from_secs(86_400));
    assert_eq!(backoff(u32::MAX), Duration::from_secs(86_400));
    assert_eq!(backoff(0), Duration::from_secs(60));
    assert_eq!(policy_host("example.com."), "mta-sts.example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn_01_issues_for_two_domains() {
    let domains = ["alpha.example", "beta.example"];
    let Some(env) = Env::start(&domains).await else {
        return;
    };
    let dir = TempDir::new("mtasts-acme-alpn");
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir).unwrap());
    add_domains(&*store, &domains);
    let manager = AcmeManager::new(
        env.config(Challenge::TlsAlpn01, "node-a"),
        store.clone(),
        env.resolver.clone(),
    );
    let outcomes = manager.check_now().await.unwrap();
    let mut hosts: Vec<&str> = outcomes.iter().map(|o| o.host.as_str()).collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["mta-sts.alpha.example", "mta-sts.beta.example"]);
    for o in &outcomes {
        let cert = o
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}\npebble:\n{}", o.host, env.pebble.log()));
        assert_eq!(store.certificate(&o.host).unwrap().as_ref(), Some(cert));
    }
    for d in domains {
        env.assert_issued(&*store, &env.resolver, &policy_host(d));
    }
    assert_eq!(env.pebble.issued(), 2);
    assert!(
        env.alpn_handshakes.load(Ordering::SeqCst) >= 2,
        "pebble validated over TLS-ALPN-01"
    );
    assert_eq!(env.http_answers.load(Ordering::SeqCst), 0);
    // The account was stored and is reused.
    let account = store.acme_account(&env.pebble.directory_url()).unwrap();
    assert!(account.is_some_and(|json| json.contains("\"id\"")));
    // Nothing is due any more.
    assert!(manager.check_now().await.unwrap().is_empty());
    assert_eq!(env.pebble.issued(), 2);

    // A new manager (a restart) presents the stored certificates without
    // ordering: the account and the certificates come from the store.
    for d in domains {
        env.resolver.remove_certificate(&policy_host(d));
    }
    let resolver = env.resolver.clone();
    let restarted = AcmeManager::new(
        env.config(Challenge::TlsAlpn01, "node-a"),
        store.clone(),
        resolver.clone(),
    );
    assert!(restarted.check_now().await.unwrap().is_empty());
    for d in domains {
        env.assert_issued(&*store, &resolver, &policy_host(d));
    }
    // order_now orders at once, with the stored account (pebble saw one
    // account only).
    let first = store.certificate("mta-sts.alpha.example").unwrap().unwrap();
    let again = restarted.order_now("mta-sts.alpha.example").await.unwrap();
    assert_ne!(serial(&again), serial(&first));
    assert_eq!(
        store.certificate("mta-sts.alpha.example").unwrap(),
        Some(again)
    );
    env.assert_issued(&*store, &resolver, "mta-sts.alpha.example");
    assert_eq!(env.pebble.issued(), 3);
    assert_eq!(env.pebble.log().matches("accounts in memory").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_01_issues_through_the_spawned_manager() {
    let domains = ["gamma.example", "delta.example"];
    let Some(env) = Env::start(&domains).await else {
        return;
    };
    let dir = TempDir::new("mtasts-acme-http");
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir).unwrap());
    add_domains(&*store, &domains);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = acme::spawn(
        env.config(Challenge::Http01, "node-a"),
        store.clone(),
        env.resolver.clone(),
        shutdown,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let hosts: Vec<String> = domains.iter().map(|d| policy_host(d)).collect();
    while hosts.iter().any(|h| env.resolver.certificate(h).is_none()) {
        assert!(
            Instant::now() < deadline,
            "no certificates within 60 s; pebble:\n{}",
            env.pebble.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for h in &hosts {
        env.assert_issued(&*store, &env.resolver, h);
    }
    assert!(env.http_answers.load(Ordering::SeqCst) >= 2);
    assert_eq!(env.alpn_handshakes.load(Ordering::SeqCst), 0);
    // Several more checks: no further orders.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(env.pebble.issued(), 2);
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the manager stops on shutdown")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_expiring_within_30_days_is_renewed() {
    let domains = ["renew.example", "fresh.example"];
    let Some(env) = Env::start(&domains).await else {
        return;
    };
    let dir = TempDir::new("mtasts-acme-renew");
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir).unwrap());
    add_domains(&*store, &domains);
    // Certificates from another CA: one expiring in 10 days, one in 60.
    let ca = TestCa::new();
    let t = time::OffsetDateTime::now_utc();
    let mut old = std::collections::HashMap::new();
    for (d, days) in [("renew.example", 10), ("fresh.example", 60)] {
        let host = policy_host(d);
        let leaf = ca.issue_with(
            &[&host],
            t - time::Duration::days(80),
            t + time::Duration::days(days),
        );
        let cert = StoredCertificate {
            host: host.clone(),
            chain_pem: format!("{}{}", leaf.cert_pem, ca.ca_pem()),
            key_pem: leaf.key_pem.clone(),
            not_after: (t + time::Duration::days(days)).unix_timestamp(),
            updated_at: now() - 80 * 86_400,
        };
        store.put_certificate(&cert).unwrap();
        old.insert(host, cert);
    }
    let manager = AcmeManager::new(
        env.config(Challenge::TlsAlpn01, "node-a"),
        store.clone(),
        env.resolver.clone(),
    );
    let outcomes = manager.check_now().await.unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0].host, "mta-sts.renew.example");
    outcomes[0].result.as_ref().unwrap();
    env.assert_issued(&*store, &env.resolver, "mta-sts.renew.example");
    let renewed = store.certificate("mta-sts.renew.example").unwrap().unwrap();
    assert_ne!(serial(&renewed), serial(&old["mta-sts.renew.example"]));
    assert!(renewed.not_after > old["mta-sts.renew.example"].not_after);
    // The one expiring in 60 days stays, and is presented as stored.
    let fresh = store.certificate("mta-sts.fresh.example").unwrap().unwrap();
    assert_eq!(fresh, old["mta-sts.fresh.example"]);
    let presented = env.resolver.certificate("mta-sts.fresh.example").unwrap();
    assert_eq!(
        presented.cert[0],
        chain_from_pem(&fresh.chain_pem).unwrap()[0]
    );
    assert_eq!(env.pebble.issued(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_account_the_server_does_not_know_is_replaced() {
    // As after the ACME server lost its accounts (a restarted pebble at
    // the same address): the stored credentials name an account of
    // another server.
    let Some(first) = Env::start(&["old.example"]).await else {
        return;
    };
    let Some(env) = Env::start(&["new.example"]).await else {
        return;
    };
    let dir = TempDir::new("mtasts-acme-account");
    let old_store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.join("old")).unwrap());
    add_domains(&*old_store, &["old.example"]);
    let old = AcmeManager::new(
        first.config(Challenge::TlsAlpn01, "node-a"),
        old_store.clone(),
        first.resolver.clone(),
    );
    assert!(old.check_now().await.unwrap()[0].result.is_ok());
    let json = old_store
        .acme_account(&first.pebble.directory_url())
        .unwrap()
        .unwrap();
    // The same credentials, with the new server's address.
    let old_base = first.pebble.directory_url().replace("/dir", "");
    let new_base = env.pebble.directory_url().replace("/dir", "");
    assert!(json.contains(&old_base), "{json}");
    let stale = json.replace(&old_base, &new_base);

    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir.join("new")).unwrap());
    add_domains(&*store, &["new.example"]);
    store
        .put_acme_account(&env.pebble.directory_url(), &stale)
        .unwrap();
    let manager = AcmeManager::new(
        env.config(Challenge::TlsAlpn01, "node-a"),
        store.clone(),
        env.resolver.clone(),
    );
    let outcomes = manager.check_now().await.unwrap();
    assert_eq!(outcomes.len(), 1);
    outcomes[0].result.as_ref().unwrap();
    env.assert_issued(&*store, &env.resolver, "mta-sts.new.example");
    let replaced = store
        .acme_account(&env.pebble.directory_url())
        .unwrap()
        .unwrap();
    assert_ne!(replaced, stale);
    assert_eq!(env.pebble.log().matches("accounts in memory").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_order_backs_off() {
    // mta-sts.gone.example answers NXDOMAIN: validation fails.
    let Some(env) = Env::start(&[]).await else {
        return;
    };
    let dir = TempDir::new("mtasts-acme-backoff");
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir).unwrap());
    add_domains(&*store, &["gone.example"]);
    let host = "mta-sts.gone.example";
    let manager = AcmeManager::new(
        env.config(Challenge::TlsAlpn01, "node-a"),
        store.clone(),
        env.resolver.clone(),
    );
    let before = now();
    let outcomes = manager.check_now().await.unwrap();
    assert_eq!(outcomes.len(), 1);
    let err = outcomes[0].result.as_ref().unwrap_err().to_string();
    assert!(err.contains(host), "{err}");
    let status = store.order_status(host).unwrap();
    assert_eq!(status.failures, 1);
    assert!(
        status.next_attempt >= before + 60 && status.next_attempt <= now() + 60,
        "next attempt {} (now {})",
        status.next_attempt,
        now()
    );
    let last = status.last_error.unwrap();
    assert!(last.contains(host), "{last}");
    assert!(store.certificate(host).unwrap().is_none());
    assert!(env.resolver.certificate(host).is_none());
    assert_eq!(env.pebble.orders(), 1);

    // No second order before next_attempt: neither a check nor the
    // running manager orders again.
    assert!(manager.check_now().await.unwrap().is_empty());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let task = acme::spawn(
        env.config(Challenge::TlsAlpn01, "node-a"),
        store.clone(),
        env.resolver.clone(),
        shutdown,
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(env.pebble.orders(), 1);
    assert_eq!(store.order_status(host).unwrap().failures, 1);

    // Once the back-off has passed (moved into the past here), the next
    // failure doubles it.
    let claimed = store.claim_order(host, "test", now(), now() + 10).unwrap();
    assert!(claimed);
    let mut status = store.order_status(host).unwrap();
    status.next_attempt = now() - 1;
    store.finish_order(host, "test", &status).unwrap();
    let before = now();
    let outcomes = manager.check_now().await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(outcomes[0].result.is_err());
    let status = store.order_status(host).unwrap();
    assert_eq!(status.failures, 2);
    assert!(status.next_attempt >= before + 120 && status.next_attempt <= now() + 120);
    assert_eq!(env.pebble.orders(), 2);
}

/// The blocking PostgreSQL client must not be dropped on a runtime
/// thread: the stores are made and dropped on the test thread, the
/// managers run on a runtime of their own.
#[test]
fn two_nodes_on_postgresql_order_each_name_once() {
    let Some(db) = test_support::pg::TestDb::create() else {
        return;
    };
    let url = db.url("acme-test");
    let store_a: Arc<dyn SiteStore> =
        Arc::new(mtasts_site::pg::PgSiteStore::connect(&url).unwrap());
    let store_b: Arc<dyn SiteStore> =
        Arc::new(mtasts_site::pg::PgSiteStore::connect(&url).unwrap());
    let domains = ["one.example", "two.example", "three.example"];
    add_domains(&*store_a, &domains);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(two_nodes(store_a.clone(), store_b.clone(), &domains));
    drop(rt);
}

async fn two_nodes(store_a: Arc<dyn SiteStore>, store_b: Arc<dyn SiteStore>, domains: &[&str]) {
    let Some(env) = Env::start(domains).await else {
        return;
    };
    let resolver_b = Arc::new(CertResolver::new());
    let node_a = AcmeManager::new(
        env.config(Challenge::TlsAlpn01, "node-a"),
        store_a.clone(),
        env.resolver.clone(),
    );
    // Node b answers challenges through the same listener's resolver, as
    // two nodes behind one CNAME target would each answer their own.
    let node_b = AcmeManager::new(
        env.config(Challenge::TlsAlpn01, "node-b"),
        store_b.clone(),
        env.resolver.clone(),
    );
    let (ra, rb) = tokio::join!(node_a.check_now(), node_b.check_now());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let mut ordered: Vec<String> = ra.iter().chain(rb.iter()).map(|o| o.host.clone()).collect();
    ordered.sort();
    assert_eq!(
        ordered,
        [
            "mta-sts.one.example",
            "mta-sts.three.example",
            "mta-sts.two.example"
        ],
        "each name ordered once by one of the nodes"
    );
    for o in ra.iter().chain(rb.iter()) {
        o.result.as_ref().unwrap();
    }
    assert_eq!(env.pebble.issued(), 3);
    // Both nodes running their managers: nothing more is ordered, and
    // each presents every certificate (node b's own resolver from the
    // store).
    let node_b_own = AcmeManager::new(
        env.config(Challenge::TlsAlpn01, "node-b"),
        store_b.clone(),
        resolver_b.clone(),
    );
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let ta = acme::spawn_manager(node_a.clone(), shutdown.clone());
    let tb = acme::spawn_manager(node_b_own, shutdown);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.send(true).unwrap();
    ta.await.unwrap();
    tb.await.unwrap();
    assert_eq!(env.pebble.issued(), 3);
    for d in domains {
        let host = policy_host(d);
        let s = store_b.clone();
        let h = host.clone();
        let cert = tokio::task::spawn_blocking(move || s.certificate(&h).unwrap().unwrap())
            .await
            .unwrap();
        let leaf: CertificateDer<'_> = chain_from_pem(&cert.chain_pem).unwrap().remove(0);
        assert_eq!(resolver_b.certificate(&host).unwrap().cert[0], leaf);
        assert_eq!(env.resolver.certificate(&host).unwrap().cert[0], leaf);
        let s = store_a.clone();
        let status = tokio::task::spawn_blocking(move || s.order_status(&host).unwrap())
            .await
            .unwrap();
        assert_eq!(status.failures, 0);
    }
}

/// `GET /.well-known/mta-sts.txt` over HTTPS with SNI `host` at `addr`,
/// trusting only `roots`: the status line and the body.
async fn fetch_policy(
    addr: std::net::SocketAddr,
    host: &str,
    roots: rustls::RootCertStore,
) -> (String, String) {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from(host.to_owned()).unwrap(), tcp)
        .await
        .unwrap_or_else(|e| panic!("TLS to {host}: {e}"));
    tls.write_all(
        format!(
            "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// `serve` itself (HTTPS listener and, for HTTP-01, the plain listener)
/// answers pebble's challenges; the certificate it then presents
/// verifies against pebble's root.
async fn serve_obtains_certificates(challenge: Challenge) {
    let domains = ["serve-a.example", "serve-b.example"];
    let mut zones = Zones::new();
    for d in domains {
        zones = zones.a(&policy_host(d), Ipv4Addr::LOCALHOST);
    }
    let dns = DnsServer::start(zones).await.unwrap();
    let https_port = test_support::pebble::free_port().unwrap();
    let http_port = test_support::pebble::free_port().unwrap();
    let Some(pebble) = Pebble::start_or_skip(PebbleOptions {
        dns: dns.addr(),
        http_port,
        tls_port: https_port,
    })
    .await
    .unwrap() else {
        return;
    };
    let dir = TempDir::new("mtasts-acme-serve");
    let store: Arc<dyn SiteStore> = Arc::new(SqliteStore::open(&dir).unwrap());
    add_domains(&*store, &domains);
    let mut config = mtasts_site::serve::ServeConfig::new((Ipv4Addr::LOCALHOST, https_port).into());
    if challenge == Challenge::Http01 {
        config.http = Some((Ipv4Addr::LOCALHOST, http_port).into());
    }
    let mut acme_config = AcmeConfig::new(pebble.directory_url(), "serve-node");
    acme_config.server_roots = Some(pebble.api_ca_path());
    acme_config.challenge = challenge;
    acme_config.check_interval = Duration::from_millis(200);
    config.acme = Some(acme_config);
    let server = mtasts_site::serve::Server::start(config, store.clone())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let hosts: Vec<String> = domains.iter().map(|d| policy_host(d)).collect();
    while hosts
        .iter()
        .any(|h| server.resolver().certificate(h).is_none())
    {
        assert!(
            Instant::now() < deadline,
            "serve obtained no certificates within 60 s; pebble:\n{}",
            pebble.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pebble.issued(), 2);
    for (d, h) in domains.iter().zip(&hosts) {
        let status = store.order_status(h).unwrap();
        assert_eq!(status.failures, 0, "{h}: {:?}", status.last_error);
        let (status_line, body) = fetch_policy(server.https_addr(), h, pebble.root_store()).await;
        assert!(status_line.contains(" 200 "), "{status_line}");
        assert!(body.contains(&format!("mx: mx.{d}")), "{body}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_obtains_certificates_over_tls_alpn_01() {
    serve_obtains_certificates(Challenge::TlsAlpn01).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_obtains_certificates_over_http_01() {
    serve_obtains_certificates(Challenge::Http01).await;
}
