//! Read every report under the given files or folders (JSON, gzip or
//! e-mail) N times with the lenient reader and print how many were read.
//! `.ci/instructions` counts the instructions this takes under callgrind
//! to guard the reader's speed:
//!
//! ```text
//! cargo run --release -p tlsrpt-core --example read_reports -- 200 examples/data/reports
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tlsrpt_core::input::{Limits, extract};

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            collect(&e, out)?;
        }
    } else {
        out.push(path.to_owned());
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(n) = args.next().and_then(|s| s.parse::<usize>().ok()) else {
        eprintln!("usage: read_reports N PATH...");
        return ExitCode::from(2);
    };
    let mut files = Vec::new();
    for a in args {
        if let Err(e) = collect(Path::new(&a), &mut files) {
            eprintln!("error: {a}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let mut jsons = Vec::new();
    for f in &files {
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {}: {e}", f.display());
                return ExitCode::FAILURE;
            }
        };
        match extract(&bytes, &Limits::default()) {
            Ok(x) => jsons.push(x.json.into_owned()),
            Err(e) => {
                eprintln!("error: {}: {e}", f.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let mut read = 0usize;
    for _ in 0..n {
        for j in &jsons {
            read += usize::from(tlsrpt_core::Report::parse_lenient(j).is_ok());
        }
    }
    println!("{read} reads of {} reports", jsons.len());
    ExitCode::SUCCESS
}
