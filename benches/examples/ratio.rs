//! Interleaved timing of tlsrpt-core's lenient reader against mail-auth
//! 0.13.3 on the same bytes: short alternating rounds, so that a noisy or
//! frequency-scaling machine affects both sides alike. A development aid;
//! the figures of record come from `cargo bench --bench report`.
//!
//! ```text
//! cargo run --release -p mta-sts-benches --example ratio [corpus|synthetic|FILE] [rounds]
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

fn time(inputs: &[Vec<u8>], f: &dyn Fn(&[u8]) -> bool, budget: Duration) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for b in inputs {
            black_box(f(black_box(b)));
        }
        n += 1;
    }
    start.elapsed().as_secs_f64() / n as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let workload = args.get(1).map_or("corpus", String::as_str);
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(15);
    let inputs = mta_sts_benches::workload(workload).expect("readable report file");
    let bytes: usize = inputs.iter().map(Vec::len).sum();
    let ours = |b: &[u8]| tlsrpt_core::Report::parse_lenient(b).is_ok();
    let theirs = |b: &[u8]| mail_auth::report::tlsrpt::TlsReport::parse_json(b).is_ok();
    let budget = Duration::from_millis(if workload == "synthetic" { 400 } else { 150 });
    let (mut best_ours, mut best_theirs) = (f64::MAX, f64::MAX);
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let a = time(&inputs, &ours, budget);
        let b = time(&inputs, &theirs, budget);
        best_ours = best_ours.min(a);
        best_theirs = best_theirs.min(b);
        ratios.push(b / a);
    }
    ratios.sort_by(f64::total_cmp);
    let mib = |t: f64| bytes as f64 / t / (1024.0 * 1024.0);
    println!(
        "{workload}: tlsrpt-core {:.2} µs ({:.0} MiB/s), mail-auth {:.2} µs ({:.0} MiB/s); best/best {:.2}x, median round ratio {:.2}x",
        best_ours * 1e6,
        mib(best_ours),
        best_theirs * 1e6,
        mib(best_theirs),
        best_theirs / best_ours,
        ratios[ratios.len() / 2]
    );
}
