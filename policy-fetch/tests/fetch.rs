//! The policy fetch and the policy service against real loopback servers:
//! a hickory DNS server and a rustls HTTPS server started in each test.
//! Test names carry the checklist IDs they cover.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mta_sts_core::ResultType;
use mta_sts_core::discovery::{DiscoveryWarningCode, Rule, TxtAnswer};
use policy_fetch::service::Answer;
use policy_fetch::store::{MemoryStore, RedbStore, Store};
use policy_fetch::{Dns, FetchConfig, MtaSts, PolicyClient, Roots, Settings};
use test_support::{CertSet, DnsServer, HttpsServer, Response, Routes, TestCa, Zones};

const POLICY: &str =
    "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmx: *.mx.example.test\nmax_age: 86400\n";
const PATH: &str = "/.well-known/mta-sts.txt";
const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "policy-fetch-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A zone where `domain` has an `_mta-sts` record with `id` and its
/// policy host resolves to loopback.
fn zone(zones: Zones, domain: &str, id: &str) -> Zones {
    zones
        .txt(
            &format!("_mta-sts.{domain}"),
            &[format!("v=STSv1; id={id};")],
        )
        .a(&format!("mta-sts.{domain}"), LOCAL)
}

struct World {
    ca: TestCa,
    dns: DnsServer,
    https: HttpsServer,
}

impl World {
    async fn new(zones: Zones, certs: impl FnOnce(&TestCa) -> CertSet, routes: Routes) -> Self {
        let ca = TestCa::new();
        let dns = DnsServer::start(zones).await.unwrap();
        let https = HttpsServer::start_with(certs(&ca), routes).await.unwrap();
        Self { ca, dns, https }
    }

    fn roots(&self) -> Roots {
        let mut r = Roots::empty();
        r.add_der(self.ca.ca_cert_der()).unwrap();
        r
    }

    fn client(&self, total_timeout: Duration) -> PolicyClient {
        let dns = Dns::with_server(self.dns.addr()).unwrap();
        PolicyClient::new(
            dns,
            &self.roots(),
            FetchConfig {
                port: self.https.addr().port(),
                total_timeout,
                connect_timeout: Duration::from_secs(2),
                ..FetchConfig::default()
            },
        )
        .unwrap()
    }

    fn service(&self, store: Arc<dyn Store>, settings: Settings) -> Arc<MtaSts> {
        let dns = Dns::with_server(self.dns.addr()).unwrap();
        let (s, skipped) =
            MtaSts::new(dns, self.client(Duration::from_secs(5)), store, settings).unwrap();
        assert!(skipped.is_empty());
        s
    }

    fn policy_requests(&self) -> usize {
        self.https
            .requests()
            .iter()
            .filter(|r| r.path == PATH)
            .count()
    }
}

fn leaf_for(ca: &TestCa, domains: &[&str]) -> CertSet {
    let names: Vec<String> = domains.iter().map(|d| format!("mta-sts.{d}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    CertSet::new(ca.issue(&refs))
}

#[tokio::test]
async fn sts_fetch_01_05_07_11_good_fetch_sni_and_no_http_caching() {
    let w = World::new(
        zone(Zones::new(), "example.test", "1"),
        |ca| leaf_for(ca, &["example.test"]),
        Routes::new().policy("example.test", POLICY),
    )
    .await;
    let resp = w
        .client(Duration::from_secs(5))
        .fetch("example.test")
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type.as_deref(), Some("text/plain"));
    assert_eq!(resp.body, POLICY.as_bytes());
    let reqs = w.https.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.sni.as_deref(), Some("mta-sts.example.test"));
    assert_eq!(r.host.as_deref(), Some("mta-sts.example.test"));
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", PATH));
    for h in ["if-none-match", "if-modified-since", "cache-control"] {
        assert_eq!(r.header(h), None, "{h}");
    }
}

#[tokio::test]
async fn sts_fetch_05_06_08_10_bad_responses_are_classified() {
    let big = format!("{POLICY}{}", "a".repeat(66 * 1024));
    let routes = Routes::new()
        .route(
            "mta-sts.notfound.test",
            PATH,
            Response::with_status(404, Some("text/plain"), POLICY),
        )
        .route(
            "mta-sts.redirect.test",
            PATH,
            Response::Redirect {
                status: 301,
                location: "https://mta-sts.good.test/.well-known/mta-sts.txt".into(),
            },
        )
        .route(
            "mta-sts.html.test",
            PATH,
            Response::with_status(200, Some("text/html"), POLICY),
        )
        .route("mta-sts.big.test", PATH, Response::policy(big.clone()))
        .route(
            "mta-sts.chunked.test",
            PATH,
            Response::Chunked {
                body: big.into_bytes(),
            },
        )
        .route("mta-sts.close.test", PATH, Response::Close)
        .policy("good.test", POLICY);
    let domains = [
        "notfound.test",
        "redirect.test",
        "html.test",
        "big.test",
        "chunked.test",
        "close.test",
        "good.test",
    ];
    let mut zones = Zones::new();
    for d in domains {
        zones = zone(zones, d, "1");
    }
    let w = World::new(zones, |ca| leaf_for(ca, &domains), routes).await;
    let client = w.client(Duration::from_secs(5));
    let opts = mta_sts_core::discovery::Options::default();
    let judge = |r: Result<
        mta_sts_core::discovery::HttpResponse,
        mta_sts_core::discovery::FetchFailure,
    >| match r {
        Ok(resp) => mta_sts_core::discovery::Discovery::check_response(&resp, opts)
            .map(|_| ())
            .map_err(|f| f.result_type),
        Err(f) => Err(f.result_type),
    };
    assert_eq!(
        judge(client.fetch("notfound.test").await),
        Err(ResultType::StsPolicyFetchError)
    );
    assert_eq!(
        judge(client.fetch("redirect.test").await),
        Err(ResultType::StsPolicyFetchError)
    );
    assert_eq!(
        judge(client.fetch("html.test").await),
        Err(ResultType::StsPolicyInvalid)
    );
    let big = client.fetch("big.test").await.unwrap();
    assert_eq!(
        big.body.len(),
        64 * 1024 + 1,
        "the body read stops one byte past the limit"
    );
    assert_eq!(judge(Ok(big)), Err(ResultType::StsPolicyInvalid));
    let chunked = client.fetch("chunked.test").await.unwrap();
    assert_eq!(chunked.body.len(), 64 * 1024 + 1);
    assert_eq!(
        judge(client.fetch("close.test").await),
        Err(ResultType::StsPolicyFetchError)
    );
    // STS-FETCH-06: the redirect target was never requested.
    assert!(
        w.https
            .requests()
            .iter()
            .all(|r| r.host.as_deref() != Some("mta-sts.good.test"))
    );
    assert_eq!(judge(client.fetch("good.test").await), Ok(()));
}

#[tokio::test]
async fn sts_fetch_10_total_timeout_on_a_slow_trickle() {
    let routes = Routes::new().route(
        "mta-sts.slow.test",
        PATH,
        Response::Trickle {
            chunk: b"v".to_vec(),
            interval: Duration::from_millis(200),
            count: 50,
        },
    );
    let w = World::new(
        zone(Zones::new(), "slow.test", "1"),
        |ca| leaf_for(ca, &["slow.test"]),
        routes,
    )
    .await;
    let started = std::time::Instant::now();
    let e = w
        .client(Duration::from_millis(700))
        .fetch("slow.test")
        .await
        .unwrap_err();
    assert_eq!(e.result_type, ResultType::StsPolicyFetchError);
    assert!(e.reason.contains("timed out"), "{}", e.reason);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn sts_fetch_02_03_certificate_problems_are_webpki_invalid() {
    let routes = Routes::new()
        .policy("wrongname.test", POLICY)
        .policy("untrusted.test", POLICY)
        .policy("expired.test", POLICY);
    let mut zones = Zones::new();
    for d in ["wrongname.test", "untrusted.test", "expired.test"] {
        zones = zone(zones, d, "1");
    }
    let w = World::new(
        zones,
        |ca| {
            let now = time::OffsetDateTime::now_utc();
            CertSet::new(ca.issue(&["mta-sts.other.test"]))
                .with_sni("mta-sts.wrongname.test", ca.issue(&["mta-sts.other.test"]))
                .with_sni(
                    "mta-sts.untrusted.test",
                    TestCa::self_signed(&["mta-sts.untrusted.test"]),
                )
                .with_sni(
                    "mta-sts.expired.test",
                    ca.issue_with(
                        &["mta-sts.expired.test"],
                        now - time::Duration::days(30),
                        now - time::Duration::days(1),
                    ),
                )
        },
        routes,
    )
    .await;
    let client = w.client(Duration::from_secs(5));
    for (d, why) in [
        ("wrongname.test", "not valid for the host name"),
        ("untrusted.test", "unknown issuer"),
        ("expired.test", "expired"),
    ] {
        let e = client.fetch(d).await.unwrap_err();
        assert_eq!(
            e.result_type,
            ResultType::StsWebpkiInvalid,
            "{d}: {}",
            e.reason
        );
        assert!(e.reason.contains(why), "{d}: {}", e.reason);
    }
    // No request was ever sent over a connection that failed validation.
    assert_eq!(w.policy_requests(), 0);
}

#[tokio::test]
async fn sts_txt_11_12_dns_answers() {
    let zones = Zones::new()
        .txt("_mta-sts.split.test", &["v=STSv1; i", "d=abc;"])
        .cname("_mta-sts.alias.test", "_mta-sts.provider.test")
        .txt("_mta-sts.provider.test", &["v=STSv1; id=provider1"])
        .txt("_mta-sts.exists.test", &["v=spf1 -all"])
        .servfail("_mta-sts.broken.test");
    let dns_server = DnsServer::start(zones).await.unwrap();
    let dns = Dns::with_server(dns_server.addr()).unwrap();
    assert_eq!(
        dns.txt("_mta-sts.split.test").await,
        TxtAnswer::Records(vec![b"v=STSv1; id=abc;".to_vec()])
    );
    assert_eq!(
        dns.txt("_mta-sts.alias.test").await,
        TxtAnswer::Records(vec![b"v=STSv1; id=provider1".to_vec()])
    );
    assert_eq!(
        dns.txt("_mta-sts.nothing.test").await,
        TxtAnswer::NoRecord,
        "NXDOMAIN"
    );
    assert_eq!(
        dns.txt("_mta-sts.exists.test").await,
        TxtAnswer::Records(vec![b"v=spf1 -all".to_vec()])
    );
    assert!(
        matches!(
            dns.txt("_mta-sts.broken.test").await,
            TxtAnswer::TempFail(_)
        ),
        "SERVFAIL is temporary"
    );
}

#[tokio::test]
async fn sts_fetch_15_cname_delegation_still_fetches_from_the_user_domain() {
    let zones = Zones::new()
        .cname("_mta-sts.user.test", "_mta-sts.provider.test")
        .txt("_mta-sts.provider.test", &["v=STSv1; id=p1"])
        .a("mta-sts.user.test", LOCAL);
    let w = World::new(
        zones,
        |ca| leaf_for(ca, &["user.test"]),
        Routes::new().policy("user.test", POLICY),
    )
    .await;
    let sts = w.service(Arc::new(MemoryStore::new()), Settings::default());
    let l = sts.lookup("user.test").await;
    assert_eq!(l.answer, Answer::Discovered(Rule::D4FetchedNew));
    assert_eq!(l.policy.unwrap().id, "p1");
    assert_eq!(
        w.https.requests()[0].sni.as_deref(),
        Some("mta-sts.user.test")
    );
}

#[tokio::test]
async fn sts_cache_03_service_caches_and_rechecks_the_id() {
    let w = World::new(
        zone(Zones::new(), "example.test", "1"),
        |ca| leaf_for(ca, &["example.test"]),
        Routes::new().policy("example.test", POLICY),
    )
    .await;
    let settings = Settings {
        txt_check_interval: Duration::from_secs(3600),
        ..Settings::default()
    };
    let sts = w.service(Arc::new(MemoryStore::new()), settings);
    let first = sts.lookup("Example.TEST.").await;
    assert_eq!(first.answer, Answer::Discovered(Rule::D4FetchedNew));
    assert!(
        first
            .policy
            .as_ref()
            .unwrap()
            .policy
            .matches_mx("a.mx.example.test")
    );
    // Fast path: no DNS, no HTTPS.
    let queries = w.dns.queries().len();
    for _ in 0..10 {
        assert_eq!(sts.lookup("example.test").await.answer, Answer::CacheHit);
    }
    assert_eq!(w.dns.queries().len(), queries);
    assert_eq!(w.policy_requests(), 1);
    let m = sts.metrics();
    assert_eq!((m.hits, m.fetches, m.fetch_ok), (10, 1, 1));
    assert!(sts.fresh("example.test", SystemTime::now()).is_some());

    // With a zero check interval the TXT is looked up again, the id is the same: D1, no fetch.
    let sts0 = w.service(
        Arc::new(MemoryStore::new()),
        Settings {
            txt_check_interval: Duration::ZERO,
            ..Settings::default()
        },
    );
    assert_eq!(
        sts0.lookup("example.test").await.answer,
        Answer::Discovered(Rule::D4FetchedNew)
    );
    assert_eq!(
        sts0.lookup("example.test").await.answer,
        Answer::Discovered(Rule::D1CachedCurrent)
    );
    assert_eq!(w.policy_requests(), 2);
}

#[tokio::test]
async fn sts_cache_07_11_persistent_cache_survives_restart_and_failures() {
    let dir = temp_dir("restart");
    let path = dir.join("policies.redb");
    {
        let w = World::new(
            zone(Zones::new(), "example.test", "1"),
            |ca| leaf_for(ca, &["example.test"]),
            Routes::new().policy("example.test", POLICY),
        )
        .await;
        let sts = w.service(
            Arc::new(RedbStore::open(&path).unwrap()),
            Settings::default(),
        );
        assert_eq!(
            sts.lookup("example.test").await.answer,
            Answer::Discovered(Rule::D4FetchedNew)
        );
    }
    // Restart: the TXT record now has a new id, and the policy host answers 500.
    let routes = Routes::new().route(
        "mta-sts.example.test",
        PATH,
        Response::with_status(500, Some("text/plain"), "oops"),
    );
    let w = World::new(
        zone(Zones::new(), "example.test", "2"),
        |ca| leaf_for(ca, &["example.test"]),
        routes,
    )
    .await;
    let sts = w.service(
        Arc::new(RedbStore::open(&path).unwrap()),
        Settings::default(),
    );
    assert_eq!(sts.len(), 1, "the stored entry was loaded");
    let l = sts.lookup("example.test").await;
    assert_eq!(l.answer, Answer::Discovered(Rule::D3FetchFailedUseCached));
    assert_eq!(
        l.policy.as_ref().unwrap().policy.mode(),
        mta_sts_core::Mode::Enforce,
        "an attacker blocking the fetch does not erase the cached enforce policy"
    );
    assert_eq!(
        l.failure.unwrap().result_type,
        ResultType::StsPolicyFetchError
    );
    // D10: within five minutes the same id is not fetched again.
    let again = sts.lookup("example.test").await;
    assert_eq!(again.answer, Answer::Discovered(Rule::D10RetryLimited));
    assert_eq!(w.policy_requests(), 1);
    // The failure record was persisted too.
    drop(sts);
    let reopened = RedbStore::open(&path).unwrap().load_all().unwrap();
    assert_eq!(reopened.entries.len(), 1);
    assert_eq!(reopened.entries[0].last_failure.as_ref().unwrap().id, "2");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `example.test` whose policy body arrives only after `delay`.
async fn slow_policy_world(delay: Duration) -> World {
    let routes = Routes::new().route(
        "mta-sts.example.test",
        PATH,
        Response::Trickle {
            chunk: POLICY.as_bytes().to_vec(),
            interval: delay,
            count: 1,
        },
    );
    World::new(
        zone(Zones::new(), "example.test", "1"),
        |ca| leaf_for(ca, &["example.test"]),
        routes,
    )
    .await
}

#[tokio::test]
async fn concurrent_lookups_for_one_domain_coalesce_into_one_fetch() {
    let w = slow_policy_world(Duration::from_millis(300)).await;
    let sts = w.service(Arc::new(MemoryStore::new()), Settings::default());
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let s = Arc::clone(&sts);
        tasks.push(tokio::spawn(async move { s.lookup("example.test").await }));
    }
    for t in tasks {
        let l = t.await.unwrap();
        assert_eq!(l.policy.unwrap().policy.mode(), mta_sts_core::Mode::Enforce);
    }
    assert_eq!(w.policy_requests(), 1);
    let m = sts.metrics();
    assert_eq!(m.fetches, 1);
    assert!(m.coalesced >= 1, "{m:?}");
}

#[tokio::test]
async fn sts_cache_04_05_maintenance_refreshes_and_evicts() {
    let w = World::new(
        zone(Zones::new(), "example.test", "1"),
        |ca| leaf_for(ca, &["example.test"]),
        Routes::new().policy("example.test", POLICY),
    )
    .await;
    let settings = Settings {
        refresh_jitter: Duration::ZERO,
        evict_after: Duration::from_secs(30 * 86_400),
        ..Settings::default()
    };
    let sts = w.service(Arc::new(MemoryStore::new()), settings);
    sts.lookup("example.test").await;
    let fetched = sts
        .cached_entry("example.test")
        .unwrap()
        .policy
        .unwrap()
        .fetched_at;
    // Nothing due now.
    assert_eq!(sts.maintain(SystemTime::now()).await.0, 0);
    // Half a day later the one-day policy is due: refreshed, clock restarted.
    let later = SystemTime::now() + Duration::from_secs(43_300);
    let (refreshed, evicted, warnings) = sts.maintain(later).await;
    assert_eq!((refreshed, evicted), (1, 0), "{warnings:?}");
    assert_eq!(w.policy_requests(), 2);
    assert!(
        sts.cached_entry("example.test")
            .unwrap()
            .policy
            .unwrap()
            .fetched_at
            >= fetched
    );
    // Unused for 30 days: evicted.
    let (_, evicted, _) = sts
        .maintain(SystemTime::now() + Duration::from_secs(31 * 86_400))
        .await;
    assert_eq!(evicted, 1);
    assert!(sts.is_empty());
    assert_eq!(sts.metrics().evictions, 1);
}

#[tokio::test]
async fn no_policy_answers() {
    let zones = Zones::new()
        .txt("_mta-sts.bad.test", &["v=STSv1; bogus"])
        .a("mta-sts.none.test", LOCAL);
    let w = World::new(zones, |ca| leaf_for(ca, &["none.test"]), Routes::new()).await;
    let sts = w.service(Arc::new(MemoryStore::new()), Settings::default());
    let l = sts.lookup("none.test").await;
    assert_eq!(
        (l.answer, l.policy.is_none()),
        (Answer::Discovered(Rule::D7NoRecordNoPolicy), true)
    );
    let l = sts.lookup("bad.test").await;
    assert_eq!(l.answer, Answer::Discovered(Rule::D7NoRecordNoPolicy));
    assert!(l.txt_problem.is_some());
    assert_eq!(w.policy_requests(), 0);
}

#[tokio::test]
async fn a_cancelled_lookup_leaves_no_stale_in_flight_entry() {
    let w = slow_policy_world(Duration::from_millis(200)).await;
    let sts = w.service(
        Arc::new(MemoryStore::new()),
        Settings {
            txt_check_interval: Duration::ZERO,
            ..Settings::default()
        },
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(50), sts.lookup("example.test"))
            .await
            .is_err()
    );
    assert_eq!(
        sts.lookup("example.test").await.answer,
        Answer::Discovered(Rule::D4FetchedNew)
    );
    // A new discovery runs (the TXT id is checked again), not a replay of the last answer.
    assert_eq!(
        sts.lookup("example.test").await.answer,
        Answer::Discovered(Rule::D1CachedCurrent)
    );
}

#[tokio::test]
async fn extra_trust_anchors_are_added_to_the_system_roots() {
    let w = World::new(
        zone(Zones::new(), "example.test", "1"),
        |ca| leaf_for(ca, &["example.test"]),
        Routes::new().policy("example.test", POLICY),
    )
    .await;
    let dir = temp_dir("extra-ca");
    let pem = dir.join("ca.pem");
    std::fs::write(&pem, w.ca.ca_pem()).unwrap();
    let o = policy_fetch::Overrides {
        resolver: Some(w.dns.addr()),
        extra_ca_file: Some(pem.clone()),
        https_port: Some(w.https.addr().port()),
        ..Default::default()
    };
    let roots = o.roots().unwrap();
    assert_eq!(roots.len(), Roots::system().len() + 1);
    let client = o.policy_client(o.dns().unwrap()).unwrap();
    assert_eq!(client.fetch("example.test").await.unwrap().status, 200);
    // `ca_file` replaces the system roots instead.
    let only = policy_fetch::Overrides {
        ca_file: Some(pem),
        ..Default::default()
    }
    .roots()
    .unwrap();
    assert_eq!(only.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `open_or_recover`: a good store is opened as it is; an unreadable one
/// (truncated, which makes redb panic, or not a store at all) is moved
/// aside byte for byte and replaced by an empty store.
#[test]
fn unreadable_store_file_is_moved_aside() {
    let dir = std::env::temp_dir().join(format!("mtasts-recover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policies.redb");
    drop(RedbStore::open(&path).unwrap());
    let good = std::fs::read(&path).unwrap();
    let opened = RedbStore::open_or_recover(&path).unwrap();
    assert_eq!(opened.moved_aside, None);
    drop(opened);
    for bytes in [good[..good.len() / 2].to_vec(), b"garbage".to_vec()] {
        std::fs::write(&path, &bytes).unwrap();
        let opened = RedbStore::open_or_recover(&path).unwrap();
        let aside = opened.moved_aside.clone().expect("moved aside");
        assert!(
            aside
                .to_string_lossy()
                .starts_with(&format!("{}.corrupt-", path.display())),
            "{aside:?}"
        );
        assert_eq!(std::fs::read(&aside).unwrap(), bytes);
        assert!(opened.store.load_all().unwrap().entries.is_empty());
        drop(opened);
        std::fs::remove_file(&aside).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `max_discoveries` and `max_waiting` bound the work in flight: a cached
/// domain is answered from the cache when every slot is taken, a queued
/// lookup waits its turn, an overflowing one is `Busy` at once, and a
/// cancelled waiter neither cancels the discovery nor records anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discoveries_in_flight_are_bounded_and_cached_domains_are_not_starved() {
    let slow = Duration::from_millis(400);
    let routes = Routes::new()
        .route(
            "mta-sts.example.test",
            PATH,
            Response::Trickle {
                chunk: POLICY.as_bytes().to_vec(),
                interval: slow,
                count: 1,
            },
        )
        .route(
            "mta-sts.other.test",
            PATH,
            Response::Trickle {
                chunk: POLICY.as_bytes().to_vec(),
                interval: slow,
                count: 1,
            },
        )
        .route("mta-sts.cached.test", PATH, Response::policy(POLICY));
    let zones = zone(
        zone(zone(Zones::new(), "example.test", "1"), "other.test", "1"),
        "cached.test",
        "1",
    );
    let w = World::new(
        zones,
        |ca| leaf_for(ca, &["example.test", "other.test", "cached.test"]),
        routes,
    )
    .await;
    let sts = w.service(
        Arc::new(MemoryStore::new()),
        Settings {
            txt_check_interval: Duration::ZERO,
            max_discoveries: 1,
            max_waiting: 1,
            ..Settings::default()
        },
    );
    assert!(sts.lookup("cached.test").await.policy.is_some());

    // A lookup dropped under a timeout does not cancel its discovery.
    let s = Arc::clone(&sts);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), async move {
            s.lookup("example.test").await
        })
        .await
        .is_err()
    );
    assert_eq!(sts.metrics().running, 1);
    assert!(sts.discovery_running("Example.Test."));

    // The only slot is taken: the cached domain is answered from the
    // cache at once, without a TXT query.
    let txt = sts.metrics().txt_lookups;
    let c = sts.lookup("cached.test").await;
    assert_eq!(c.answer, Answer::Busy);
    assert_eq!(c.policy.unwrap().id, "1");
    assert_eq!(sts.metrics().txt_lookups, txt);

    // One lookup may wait; the next is Busy without a policy.
    let s = Arc::clone(&sts);
    let queued = tokio::spawn(async move { s.lookup("other.test").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sts.metrics().waiting, 1);
    let over = sts.lookup("third.test").await;
    assert_eq!(over.answer, Answer::Busy);
    assert!(over.policy.is_none());
    assert!(sts.cached_entry("third.test").is_none(), "nothing recorded");

    // The running discovery is joined; the queued lookup runs when the
    // slot is free.
    let first = sts.lookup("example.test").await;
    assert_eq!(first.answer, Answer::Discovered(Rule::D4FetchedNew));
    assert_eq!(
        queued.await.unwrap().answer,
        Answer::Discovered(Rule::D4FetchedNew)
    );
    let m = sts.metrics();
    assert_eq!(
        (m.peak_running, m.running, m.waiting, m.busy, m.coalesced),
        (1, 0, 0, 2, 1)
    );
    assert!(!sts.discovery_running("example.test"));
    assert_eq!(w.policy_requests(), 3);
}

/// `max_entries` bounds the cache: the entry used least recently is
/// evicted from memory and from the store, with a `cache-full` warning;
/// a restart with a smaller limit keeps what fits.
#[tokio::test]
async fn the_cache_is_bounded_and_evicts_the_least_recently_used() {
    let names = ["a.test", "b.test", "c.test"];
    let mut zones = Zones::new();
    let mut routes = Routes::new();
    for d in names {
        zones = zone(zones, d, "1");
        routes = routes.route(&format!("mta-sts.{d}"), PATH, Response::policy(POLICY));
    }
    let w = World::new(zones, |ca| leaf_for(ca, &names), routes).await;
    let dir = temp_dir("bounded");
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.join("p.redb")).unwrap());
    let settings = Settings {
        max_entries: 2,
        ..Settings::default()
    };
    let sts = w.service(Arc::clone(&store), settings.clone());
    assert!(sts.lookup("a.test").await.warnings.is_empty());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(sts.lookup("b.test").await.warnings.is_empty());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // a.test is used again, so b.test is now the least recently used.
    assert_eq!(sts.lookup("a.test").await.answer, Answer::CacheHit);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let c = sts.lookup("c.test").await;
    assert!(c.policy.is_some());
    // 3 > 2 entries: trimmed to 2 - 2/10 = 2, so one goes.
    let full: Vec<_> = c
        .warnings
        .iter()
        .filter(|w| w.code == DiscoveryWarningCode::CacheFull)
        .collect();
    assert_eq!(full.len(), 1, "{:?}", c.warnings);
    assert!(
        full[0]
            .to_string()
            .contains("evicted the 1 used least recently")
    );
    assert_eq!(sts.len(), 2);
    assert!(sts.cached_entry("b.test").is_none());
    assert!(sts.cached_entry("a.test").is_some());
    let stored: Vec<String> = store
        .load_all()
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.domain)
        .collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(!stored.contains(&"b.test".to_owned()));
    assert_eq!(sts.metrics().evictions, 1);
    drop(sts);

    // Restart with room for one: the most recently used stays.
    let sts = w.service(
        Arc::clone(&store),
        Settings {
            max_entries: 1,
            ..settings
        },
    );
    assert_eq!(sts.len(), 1);
    assert!(sts.cached_entry("c.test").is_some());
    assert_eq!(store.load_all().unwrap().entries.len(), 1);
    drop(sts);

    // `max_bytes` counts too: one byte holds nothing.
    let sts = w.service(
        Arc::clone(&store),
        Settings {
            max_bytes: 1,
            ..Settings::default()
        },
    );
    assert!(sts.is_empty());
    assert!(store.load_all().unwrap().entries.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stored entry that no longer decodes is skipped at load and listed,
/// and the others load (docs/limits.md, "Store").
#[test]
fn undecodable_store_entries_are_skipped_and_listed() {
    let dir = temp_dir("skip");
    let path = dir.join("p.redb");
    {
        let store = RedbStore::open(&path).unwrap();
        store
            .put(&mta_sts_core::discovery::CacheEntry {
                domain: "good.example".into(),
                ..Default::default()
            })
            .unwrap();
    }
    {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<'_, &str, &[u8]> =
                redb::TableDefinition::new("mta_sts_policies_v1");
            let mut t = tx.open_table(def).unwrap();
            t.insert("bad.example", b"{not json".as_slice()).unwrap();
        }
        tx.commit().unwrap();
    }
    let loaded = RedbStore::open(&path).unwrap().load_all().unwrap();
    let good: Vec<&str> = loaded.entries.iter().map(|e| e.domain.as_str()).collect();
    assert_eq!(good, ["good.example"]);
    assert_eq!(loaded.skipped.len(), 1);
    assert_eq!(loaded.skipped[0].domain, "bad.example");
    assert!(!loaded.skipped[0].reason.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
