//! The TLS-RPT sending side: recording sessions into a
//! `tlsrpt_core::session::DayAggregate` (sessions/s), by key and by
//! interned handle; decoding libtlsrpt datagrams and recording them
//! (datagrams/s); merging two nodes' partials and finishing the day.
//!
//! The workload is a busy MTA's day in miniature: 2,000 policy domains
//! (60% `sts` with a 5-line policy, 30% `no-policy-found`, 10% `tlsa`),
//! chosen with a skew (the square of a uniform draw), so a few domains
//! take most sessions; 95% of the sessions succeed, the rest fail with
//! one of 48 failure details (8 per result type, MX host names and IPs
//! varying). Each iteration records the same 100,000 sessions into a
//! long-lived aggregate (steady state: every policy already known). The
//! callers' keys are the ones the aggregate was given (so found by
//! pointer), except in `keys rebuilt`.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tlsrpt_core::ResultType;
use tlsrpt_core::datagram::{DatagramLimits, decode};
use tlsrpt_core::session::{
    DayAggregate, Failure, Outcome, PolicyHandle, PolicyKey, ReportMeta, UtcDay,
};

/// Sessions recorded per iteration.
const SESSIONS: usize = 100_000;
/// Distinct policy domains.
const DOMAINS: usize = 2_000;
/// Share of failed sessions, in percent.
const FAILED_PERCENT: u64 = 5;

/// xorshift64*: a fixed, dependency-free sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Skewed towards 0: the square of a uniform draw in [0, 1).
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u) * n as f64) as usize
    }
}

fn keys() -> Vec<PolicyKey> {
    mta_sts_benches::policy_keys(DOMAINS)
}

fn failures() -> Vec<Failure> {
    let types = [
        ResultType::StarttlsNotSupported,
        ResultType::CertificateHostMismatch,
        ResultType::CertificateExpired,
        ResultType::CertificateNotTrusted,
        ResultType::ValidationFailure,
        ResultType::DaneRequired,
    ];
    let mut v = Vec::new();
    for t in types {
        for i in 0..8u8 {
            v.push(
                Failure::new(t.clone())
                    .receiving_mx_hostname(format!("mx{i}.example.net"))
                    .receiving_ip(format!("198.51.100.{i}").parse().expect("ip"))
                    .sending_mta_ip(format!("192.0.2.{}", i % 2).parse().expect("ip"))
                    .failure_reason_code("X509_V_ERR_CERT_HAS_EXPIRED"),
            );
        }
    }
    v
}

/// The sessions: (policy index, outcome index; 0 = success, n = failure n-1).
fn sessions(seed: u64) -> Vec<(usize, usize)> {
    let mut rng = Rng(seed);
    let nf = failures().len();
    (0..SESSIONS)
        .map(|_| {
            let k = rng.skewed(DOMAINS);
            let o = if rng.next() % 100 < FAILED_PERCENT {
                1 + rng.below(nf)
            } else {
                0
            };
            (k, o)
        })
        .collect()
}

fn outcomes() -> Vec<Outcome> {
    let mut v = vec![Outcome::Success];
    v.extend(failures().into_iter().map(Outcome::Failure));
    v
}

fn day() -> UtcDay {
    UtcDay::parse("2024-05-01").expect("day")
}

fn record(c: &mut Criterion) {
    let keys = keys();
    let outcomes = outcomes();
    let seq = sessions(0x9e37_79b9_7f4a_7c15);
    let mut g = c.benchmark_group("session_record");
    g.throughput(Throughput::Elements(SESSIONS as u64));

    let mut agg = DayAggregate::new(day());
    g.bench_function("by_key/100k sessions, 5% failed", |b| {
        b.iter(|| {
            for &(k, o) in &seq {
                agg.record(&keys[k], &outcomes[o]).expect("record");
            }
        })
    });
    black_box(agg.totals());

    // Keys equal to the aggregate's but built separately (as a caller
    // that rebuilds its key per session would): found by comparing the
    // strings, not by pointer.
    let mut agg = DayAggregate::new(day());
    for k in &keys {
        agg.intern(k);
    }
    let rebuilt = self::keys();
    g.bench_function("by_key/100k sessions, 5% failed, keys rebuilt", |b| {
        b.iter(|| {
            for &(k, o) in &seq {
                agg.record(&rebuilt[k], &outcomes[o]).expect("record");
            }
        })
    });
    black_box(agg.totals());

    let mut agg = DayAggregate::new(day());
    let handles: Vec<PolicyHandle> = keys.iter().map(|k| agg.intern(k)).collect();
    g.bench_function("by_handle/100k sessions, 5% failed", |b| {
        b.iter(|| {
            for &(k, o) in &seq {
                agg.record_by(handles[k], &outcomes[o]).expect("record");
            }
        })
    });
    black_box(agg.totals());

    let mut agg = DayAggregate::new(day());
    let handles: Vec<PolicyHandle> = keys.iter().map(|k| agg.intern(k)).collect();
    g.bench_function("by_handle/100k sessions, all successful", |b| {
        b.iter(|| {
            for &(k, _) in &seq {
                agg.record_by(handles[k], &Outcome::Success)
                    .expect("record");
            }
        })
    });
    black_box(agg.totals());

    // A new day every iteration: every policy is new once.
    g.bench_function("by_key/100k sessions into an empty day", |b| {
        b.iter(|| {
            let mut agg = DayAggregate::new(day());
            for &(k, o) in &seq {
                agg.record(&keys[k], &outcomes[o]).expect("record");
            }
            agg
        })
    });
    g.finish();
}

fn datagrams(c: &mut Criterion) {
    // One libtlsrpt datagram per session, encoded once.
    let keys = keys();
    let fails = failures();
    let seq = sessions(0x2545_f491_4f6c_dd1d);
    let texts: Vec<String> = seq
        .iter()
        .take(10_000)
        .map(|&(k, o)| {
            let key = &keys[k];
            let code = match key.policy_type().as_str() {
                "sts" => 2,
                "tlsa" => 1,
                _ => 9,
            };
            let quoted = |v: &[String]| {
                v.iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut s = format!(
                r#"{{"dpv":"1","d":"{}","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@{}","policies":[{{"policy-type":{code},"policy-domain":"{}""#,
                key.domain(),
                key.domain(),
                key.domain()
            );
            if !key.policy_string().is_empty() {
                s.push_str(&format!(r#","policy-string":[{}]"#, quoted(key.policy_string())));
                s.push_str(&format!(r#","mx-host":[{}]"#, quoted(key.mx_host())));
            }
            if o == 0 {
                s.push_str(r#","t":0,"f":0}]}"#);
            } else {
                let f = &fails[o - 1];
                s.push_str(&format!(
                    r#","failure-details":[{{"c":{},"s":"{}","n":"{}","r":"{}","f":"{}"}}],"t":1,"f":1}}]}}"#,
                    tlsrpt_core::datagram::code_for_result_type(&f.result_type).expect("code"),
                    f.sending_mta_ip.expect("ip"),
                    f.receiving_mx_hostname.as_deref().expect("mx"),
                    f.receiving_ip.expect("ip"),
                    f.failure_reason_code.as_deref().expect("reason"),
                ));
            }
            s
        })
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let limits = DatagramLimits::default();
    let mut g = c.benchmark_group("datagram");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function(
        format!("decode/10k datagrams ({} bytes avg)", bytes / texts.len()),
        |b| {
            b.iter(|| {
                for t in &texts {
                    black_box(decode(t.as_bytes(), &limits).expect("datagram"));
                }
            })
        },
    );
    let mut agg = DayAggregate::new(day());
    g.bench_function("decode+record/10k datagrams", |b| {
        b.iter(|| {
            for t in &texts {
                let d = decode(t.as_bytes(), &limits).expect("datagram");
                agg.record_datagram(&d).expect("record");
            }
        })
    });
    black_box(agg.totals());
    g.finish();
}

fn finish(c: &mut Criterion) {
    let keys = keys();
    let outcomes = outcomes();
    let mut a = DayAggregate::new(day());
    let mut b2 = DayAggregate::new(day());
    for &(k, o) in &sessions(1) {
        a.record(&keys[k], &outcomes[o]).expect("record");
    }
    for &(k, o) in &sessions(2) {
        b2.record(&keys[k], &outcomes[o]).expect("record");
    }
    let json_b = b2.to_json();
    let meta = ReportMeta::new(
        "Example Mail",
        "tlsrpt@mail.example.com",
        "mail.example.com",
        "n1",
    );
    let mut g = c.benchmark_group("day");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1));
    g.bench_function("from_json+merge of a 2-node day", |b| {
        b.iter(|| {
            let mut m = a.clone();
            let other =
                DayAggregate::from_json(json_b.as_bytes(), Default::default()).expect("partial");
            m.merge(&other).expect("merge");
            m
        })
    });
    let mut merged = a.clone();
    merged.merge(&b2).expect("merge");
    let policies = merged.policies();
    g.bench_function(format!("finish/{policies} policies"), |b| {
        b.iter(|| merged.finish(&meta).expect("finish"))
    });
    g.finish();
}

criterion_group!(benches, record, datagrams, finish);
criterion_main!(benches);
