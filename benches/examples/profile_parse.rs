//! Parse a workload once (or N times) with one parser, for instruction
//! counting under `valgrind --tool=callgrind`:
//!
//! ```text
//! cargo build --release -p mta-sts-benches --example profile_parse
//! valgrind --tool=callgrind target/release/examples/profile_parse tlsrpt-core synthetic 1
//! ```

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let parser = args.get(1).map_or("tlsrpt-core", String::as_str);
    let workload = args.get(2).map_or("synthetic", String::as_str);
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let inputs = mta_sts_benches::workload(workload).expect("readable report file");
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
