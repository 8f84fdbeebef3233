//! MX matching through the C ABI: `mtasts_policy_matches_mx` called as an
//! `extern "C"` function (the panic boundary, the NULL and UTF-8 checks
//! and the match), on the RFC 8461 Appendix A policy. The goal is under
//! 50 ns per call (issue 10); figures in benches/README.md.
//!
//! ```text
//! cargo bench -p mta-sts-ffi --bench mx_match -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mtasts::{
    mtasts_policy, mtasts_policy_free, mtasts_policy_matches_mx, mtasts_policy_parse, mtasts_result,
};

/// RFC 8461 Appendix A (three patterns).
const POLICY: &str = "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\nmx: mx.backup-example.com\nmax_age: 1296000\n";

/// The hosts matched: the first pattern exactly, the last one after case
/// folding and a trailing dot, and none.
const HOSTS: [(&str, &str); 3] = [
    ("exact_first", "mx1.example.com"),
    ("exact_last_case_dot", "MX.Backup-Example.com."),
    ("miss", "evil.example.org"),
];

fn bench(c: &mut Criterion) {
    let mut p: *mut mtasts_policy = std::ptr::null_mut();
    // SAFETY: valid pointers: a static body and a local out pointer.
    let r = unsafe { mtasts_policy_parse(POLICY.as_ptr(), POLICY.len(), &mut p) };
    assert_eq!(r, mtasts_result::Ok);
    let mut g = c.benchmark_group("ffi_mx_match");
    g.throughput(Throughput::Elements(1));
    for (name, host) in HOSTS {
        g.bench_function(name, |b| {
            b.iter(|| {
                let h = black_box(host);
                // SAFETY: `p` is a live policy, `h` a valid string.
                unsafe { mtasts_policy_matches_mx(black_box(p), h.as_ptr().cast(), h.len()) }
            })
        });
    }
    g.finish();

    // The same matches in Rust, without the C ABI, measured in the same
    // run: the difference is the cost of the boundary (panic guard, NULL
    // and UTF-8 checks).
    let policy = mta_sts_core::Policy::parse(POLICY).unwrap();
    let mut g = c.benchmark_group("rust_mx_match");
    g.throughput(Throughput::Elements(1));
    for (name, host) in HOSTS {
        g.bench_function(name, |b| {
            b.iter(|| black_box(&policy).matches_mx(black_box(host)))
        });
    }
    g.finish();
    // SAFETY: `p` came from mtasts_policy_parse and is freed once.
    unsafe { mtasts_policy_free(p) };
}

criterion_group!(benches, bench);
criterion_main!(benches);
