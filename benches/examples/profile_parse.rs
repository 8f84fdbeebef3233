//! Parse a workload once (or N times) with one parser, for instruction
//! counting under `valgrind --tool=callgrind`:
//!
//! ```text
//! cargo build --release -p mta-sts-benches --example profile_parse
//! valgrind --tool=callgrind target/release/examples/profile_parse tlsrpt-core synthetic 1
//! ```

use mta_sts_benches::{corpus_reports, synthetic_report};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let parser = args.get(1).map_or("tlsrpt-core", String::as_str);
    let workload = args.get(2).map_or("synthetic", String::as_str);
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let inputs: Vec<Vec<u8>> = match workload {
        "corpus" => corpus_reports().into_iter().map(|(_, b)| b).collect(),
        "synthetic" => vec![synthetic_report(50_000).into_bytes()],
        // Any other argument: one report file.
        path => vec![std::fs::read(path).expect("readable report file")],
    };
    let mut ok = 0usize;
    for _ in 0..n {
        for b in &inputs {
            ok += match parser {
                "mail-auth" => {
                    usize::from(mail_auth::report::tlsrpt::TlsReport::parse_json(b).is_ok())
                }
                "serde_json" => usize::from(serde_json::from_slice::<serde_json::Value>(b).is_ok()),
                _ => usize::from(tlsrpt_core::Report::parse_lenient(b).is_ok()),
            };
        }
    }
    println!("{ok}");
}
