//! Parse a policy file given on the command line (or the RFC 8461 example)
//! and print what a sender would do with it.
//!
//! ```text
//! cargo run -p mta-sts-core --example parse_policy -- path/to/mta-sts.txt mx1.example.com
//! ```

use mta_sts_core::Policy;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let text = match args.next() {
        Some(path) => std::fs::read_to_string(path)?,
        None => "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n".to_owned(),
    };
    let parsed = Policy::parse_lenient(&text)?;
    for w in &parsed.warnings {
        eprintln!("warning: {w}");
    }
    let p = parsed.value;
    println!("mode {} for {} seconds", p.mode(), p.max_age());
    for host in args {
        match p.matching_pattern(&host) {
            Some(m) => println!("{host}: allowed by `{m}`"),
            None => println!("{host}: not allowed"),
        }
    }
    for finding in p.lint() {
        println!(
            "lint {:?} [{}]: {}",
            finding.severity, finding.code, finding.message
        );
    }
    Ok(())
}
