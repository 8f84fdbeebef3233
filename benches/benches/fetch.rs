//! policy-fetch: the per-message cost of a cached lookup plus MX match, and
//! cold discovery of 1,000 domains against loopback DNS and HTTPS servers.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::future::Future;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use policy_fetch::store::MemoryStore;
use policy_fetch::{Dns, FetchConfig, MtaSts, PolicyClient, Roots, Settings};
use test_support::{CertSet, DnsServer, HttpsServer, Routes, TestCa, Zones};

const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.mail.example.net\nmx: backup.example.org\nmax_age: 604800\n";

/// Poll a future once with a no-op waker: the cached path never waits.
fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

struct Loopback {
    _dns: DnsServer,
    _https: HttpsServer,
    dns_addr: std::net::SocketAddr,
    https_port: u16,
    roots: Roots,
}

async fn loopback(domains: &[String]) -> Loopback {
    let ca = TestCa::new();
    let mut zones = Zones::new();
    let mut routes = Routes::new();
    for d in domains {
        zones = zones
            .txt(&format!("_mta-sts.{d}"), &["v=STSv1; id=1"])
            .a(&format!("mta-sts.{d}"), Ipv4Addr::LOCALHOST);
        routes = routes.policy(d, POLICY);
    }
    let names: Vec<String> = domains.iter().map(|d| format!("mta-sts.{d}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let dns = DnsServer::start(zones).await.expect("dns");
    let https = HttpsServer::start_with(CertSet::new(ca.issue(&refs)), routes)
        .await
        .expect("https");
    let mut roots = Roots::empty();
    roots.add_der(ca.ca_cert_der()).expect("root");
    Loopback {
        dns_addr: dns.addr(),
        https_port: https.addr().port(),
        _dns: dns,
        _https: https,
        roots,
    }
}

fn service(l: &Loopback) -> Arc<MtaSts> {
    let dns = Dns::with_server(l.dns_addr).expect("dns");
    let http = PolicyClient::new(
        dns.clone(),
        &l.roots,
        FetchConfig {
            port: l.https_port,
            ..FetchConfig::default()
        },
    )
    .expect("client");
    let settings = Settings {
        txt_check_interval: Duration::from_secs(86_400),
        ..Settings::default()
    };
    MtaSts::new(dns, http, Arc::new(MemoryStore::new()), settings)
        .expect("service")
        .0
}

fn cached_lookup(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    let domains = vec!["example.com".to_owned()];
    let l = rt.block_on(loopback(&domains));
    let sts = service(&l);
    rt.block_on(sts.lookup("example.com"));
    let mut g = c.benchmark_group("policy_fetch/cached");
    g.throughput(Throughput::Elements(1));
    g.bench_function("lookup+mx_match", |b| {
        b.iter(|| {
            let r = poll_once(sts.lookup(black_box("example.com"))).expect("cached");
            r.policy
                .expect("policy")
                .policy
                .matches_mx(black_box("a.mail.example.net"))
        })
    });
    g.bench_function("fresh+mx_match (no async)", |b| {
        b.iter(|| {
            let now = SystemTime::now();
            sts.fresh(black_box("example.com"), now)
                .expect("fresh")
                .policy
                .matches_mx(black_box("a.mail.example.net"))
        })
    });
    g.finish();
}

fn cold_discovery(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let domains: Vec<String> = (0..1000).map(|i| format!("d{i}.bench.test")).collect();
    let l = rt.block_on(loopback(&domains));
    let mut g = c.benchmark_group("policy_fetch/cold_discovery");
    g.sample_size(10);
    g.throughput(Throughput::Elements(domains.len() as u64));
    for concurrency in [16usize, 64] {
        g.bench_function(format!("1000 domains, {concurrency} in flight"), |b| {
            b.iter(|| {
                let sts = service(&l);
                rt.block_on(async {
                    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
                    let mut tasks = Vec::with_capacity(domains.len());
                    for d in &domains {
                        let (sts, sem, d) = (Arc::clone(&sts), Arc::clone(&sem), d.clone());
                        tasks.push(tokio::spawn(async move {
                            let _permit = sem.acquire().await.expect("permit");
                            sts.lookup(&d).await.policy.is_some()
                        }));
                    }
                    let mut ok = 0;
                    for t in tasks {
                        ok += usize::from(t.await.expect("task"));
                    }
                    assert_eq!(ok, 1000);
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, cached_lookup, cold_discovery);
criterion_main!(benches);
