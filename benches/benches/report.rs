//! TLS-RPT report reading, side by side on the same bytes:
//! tlsrpt-core's lenient typed reader, mail-auth 0.13.3
//! `TlsReport::parse_json` (serde derive), and `serde_json::Value`; and
//! report writing: `Report::to_json` (serde_json on `Report`'s
//! `Serialize`) against the hand-written writer it replaced (the same
//! bytes out).
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mta_sts_benches::{corpus_reports, synthetic_report};
use tlsrpt_core::Report;
use tlsrpt_core::reference::write_json;

fn corpus(c: &mut Criterion) {
    let files = corpus_reports();
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    let rejected: Vec<&str> = files
        .iter()
        .filter(|(_, b)| mail_auth::report::tlsrpt::TlsReport::parse_json(b).is_err())
        .map(|(n, _)| n.as_str())
        .collect();
    eprintln!(
        "corpus: {} files, {total} bytes; mail-auth rejects {}: {rejected:?}",
        files.len(),
        rejected.len()
    );
    let mut g = c.benchmark_group("report_parse/corpus");
    g.throughput(Throughput::Bytes(total as u64));
    g.bench_function("tlsrpt-core lenient", |b| {
        b.iter(|| {
            let mut ok = 0;
            for (_, bytes) in &files {
                ok += usize::from(Report::parse_lenient(black_box(bytes)).is_ok());
            }
            ok
        })
    });
    g.bench_function("mail-auth 0.13.3", |b| {
        b.iter(|| {
            let mut ok = 0;
            for (_, bytes) in &files {
                ok += usize::from(
                    mail_auth::report::tlsrpt::TlsReport::parse_json(black_box(bytes)).is_ok(),
                );
            }
            ok
        })
    });
    g.bench_function("serde_json::Value", |b| {
        b.iter(|| {
            let mut ok = 0;
            for (_, bytes) in &files {
                ok += usize::from(
                    serde_json::from_slice::<serde_json::Value>(black_box(bytes)).is_ok(),
                );
            }
            ok
        })
    });
    g.finish();
}

fn synthetic(c: &mut Criterion) {
    let json = synthetic_report(50_000);
    let bytes = json.as_bytes();
    assert!(mail_auth::report::tlsrpt::TlsReport::parse_json(bytes).is_ok());
    let mut g = c.benchmark_group("report_parse/synthetic_50k_details");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(20);
    g.bench_function("tlsrpt-core lenient", |b| {
        b.iter(|| Report::parse_lenient(black_box(bytes)).map(|p| p.value.policies.len()))
    });
    g.bench_function("tlsrpt-core strict", |b| {
        b.iter(|| Report::parse_strict(black_box(bytes)).map(|p| p.value.policies.len()))
    });
    g.bench_function("mail-auth 0.13.3", |b| {
        b.iter(|| {
            mail_auth::report::tlsrpt::TlsReport::parse_json(black_box(bytes))
                .map(|r| r.policies.len())
        })
    });
    g.bench_function("serde_json::Value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(bytes)).is_ok())
    });
    g.finish();
}

/// The `report_write/*` groups: the same reports written by
/// `Report::to_json` (serde_json on `Report`'s `Serialize`) and by the
/// hand-written writer it replaced (`tlsrpt_core::reference::write_json`),
/// compact and pretty. Both give the same bytes (checked before timing).
fn write(c: &mut Criterion) {
    let files = corpus_reports();
    let corpus: Vec<Report<'_>> = files
        .iter()
        .filter_map(|(_, b)| Report::parse_lenient(b).ok().map(|p| p.value))
        .collect();
    let synthetic_json = synthetic_report(50_000);
    let synthetic = [Report::parse_strict(synthetic_json.as_bytes())
        .expect("the synthetic report is strict")
        .value];
    for (name, reports, samples) in [
        ("report_write/corpus", &corpus[..], 100),
        ("report_write/synthetic_50k_details", &synthetic[..], 20),
    ] {
        let mut total = 0;
        for r in reports {
            for pretty in [false, true] {
                assert_eq!(r.to_json(pretty), write_json(r, pretty));
            }
            total += r.to_json(false).len();
        }
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(total as u64));
        g.sample_size(samples);
        for pretty in [false, true] {
            g.bench_function(format!("to_json({pretty}) (serde_json)"), |b| {
                b.iter(|| {
                    let mut n = 0;
                    for r in black_box(reports) {
                        n += r.to_json(pretty).len();
                    }
                    n
                })
            });
            g.bench_function(format!("hand-written writer, pretty={pretty}"), |b| {
                b.iter(|| {
                    let mut n = 0;
                    for r in black_box(reports) {
                        n += write_json(r, pretty).len();
                    }
                    n
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, corpus, synthetic, write);
criterion_main!(benches);
