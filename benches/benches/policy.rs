//! Policy parsing (policies/s) and MX matching (ns per match).
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mta_sts_core::{MxPattern, Policy, StsRecord};

const RFC_POLICY: &str = "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\nmx: mx.backup-example.com\nmax_age: 1296000\n";

fn large_policy() -> String {
    let mut s = String::from("version: STSv1\nmode: enforce\nmax_age: 604800\n");
    for i in 0..100 {
        s.push_str(&format!("mx: mx{i}.mail.example{i}.com\n"));
    }
    s
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy_parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("rfc_appendix_a/strict", |b| {
        b.iter(|| Policy::parse(black_box(RFC_POLICY)).unwrap())
    });
    g.bench_function("rfc_appendix_a/lenient", |b| {
        b.iter(|| Policy::parse_lenient(black_box(RFC_POLICY)).unwrap())
    });
    let crlf = RFC_POLICY.replace('\n', "\r\n");
    g.bench_function("rfc_appendix_a_crlf/strict", |b| {
        b.iter(|| Policy::parse(black_box(&crlf)).unwrap())
    });
    let large = large_policy();
    g.bench_function("100_mx/strict", |b| {
        b.iter(|| Policy::parse(black_box(&large)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("txt_record");
    g.throughput(Throughput::Elements(1));
    let answer = [
        b"v=spf1 include:_spf.example.com -all".to_vec(),
        b"v=STSv1; id=20160831085700Z;".to_vec(),
    ];
    g.bench_function("select_and_parse", |b| {
        b.iter(|| StsRecord::select(black_box(&answer)).unwrap().id().len())
    });
    g.finish();
}

fn matching(c: &mut Criterion) {
    let mut g = c.benchmark_group("mx_match");
    g.throughput(Throughput::Elements(1));
    let exact = MxPattern::parse("mx1.example.com").unwrap();
    let wild = MxPattern::parse("*.example.net").unwrap();
    g.bench_function("exact_hit", |b| {
        b.iter(|| exact.matches(black_box("MX1.example.com.")))
    });
    g.bench_function("wildcard_hit", |b| {
        b.iter(|| wild.matches(black_box("mx2.example.net")))
    });
    g.bench_function("wildcard_miss_two_labels", |b| {
        b.iter(|| wild.matches(black_box("a.b.example.net")))
    });
    let p = Policy::parse(RFC_POLICY).unwrap();
    g.bench_function("policy_3_patterns_last", |b| {
        b.iter(|| p.matches_mx(black_box("mx.backup-example.com")))
    });
    g.bench_function("policy_3_patterns_miss", |b| {
        b.iter(|| p.matches_mx(black_box("evil.example.org")))
    });
    let large = large_policy();
    let lp = Policy::parse(&large).unwrap();
    g.bench_function("policy_100_patterns_miss", |b| {
        b.iter(|| lp.matches_mx(black_box("evil.example.org")))
    });
    g.bench_function("u_label_host", |b| {
        let p = MxPattern::parse("xn--bcher-kva.example").unwrap();
        b.iter(|| p.matches(black_box("bücher.example")))
    });
    g.finish();
}

criterion_group!(benches, parse, matching);
criterion_main!(benches);
