//! TLS-RPT reports as they arrive: `tlsrpt_core::input::read_report` on
//! gzip-compressed and e-mailed corpus reports, and the whole
//! `mtasts report summarize` path over a directory of 2,000 files
//! (directory listing + file read + `read_report` + `Aggregator::add`).
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::io::Write as _;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;
use mta_sts_benches::{corpus_files, corpus_reports};
use tlsrpt_core::input::{InputKind, ReadOptions, read_report};
use tlsrpt_core::summary::Aggregator;

/// Files written for the directory benchmark.
const DIR_FILES: usize = 2_000;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Standard base64 with 76-character lines (RFC 2045), for the generated
/// e-mails.
fn base64_lines(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + bytes.len() / 38 + 4);
    for (i, chunk) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out.push_str("\r\n");
    out
}

/// The `.eml` files of the test corpus that `read_report` accepts, as
/// `(relative path, bytes)`.
fn corpus_emails() -> Vec<(String, Vec<u8>)> {
    corpus_files("eml")
        .into_iter()
        .filter(
            |(rel, bytes)| match read_report(bytes, &ReadOptions::default()) {
                Ok(_) => true,
                Err(e) => {
                    eprintln!("corpus: {rel} skipped (read_report: {e})");
                    false
                }
            },
        )
        .collect()
}

fn read_all(files: &[Vec<u8>]) -> usize {
    let options = ReadOptions::default();
    let mut n = 0;
    for bytes in files {
        let read = read_report(black_box(bytes), &options).expect("report");
        n += read.value.report.policies.len();
    }
    n
}

fn read_corpus(c: &mut Criterion) {
    let json: Vec<Vec<u8>> = corpus_reports().into_iter().map(|(_, b)| b).collect();
    let gz: Vec<Vec<u8>> = json.iter().map(|b| gzip(b)).collect();
    let eml: Vec<Vec<u8>> = corpus_emails().into_iter().map(|(_, b)| b).collect();
    for (name, set, kind) in [
        ("json", &json, InputKind::Json),
        ("json.gz", &gz, InputKind::Gzip),
        ("eml", &eml, InputKind::Email),
    ] {
        for b in set.iter() {
            let read = read_report(b, &ReadOptions::default()).expect("readable");
            assert_eq!(read.value.extracted.kind, kind);
        }
        let bytes: usize = set.iter().map(Vec::len).sum();
        eprintln!("corpus {name}: {} reports, {bytes} bytes", set.len());
    }
    let mut g = c.benchmark_group("report_read/corpus");
    for (name, set) in [("json", &json), ("json.gz", &gz), ("eml", &eml)] {
        g.throughput(Throughput::ElementsAndBytes {
            elements: set.len() as u64,
            bytes: set.iter().map(|b| b.len() as u64).sum(),
        });
        g.bench_function(format!("read_report {name}"), |b| b.iter(|| read_all(set)));
    }
    g.finish();
}

/// Write `n` report files into `dir`: corpus reports, each copy with its
/// own `report-id` (so the aggregator counts every one), in turn as
/// `.json`, `.json.gz` and `.eml` (an RFC 8460 5.3 message with an
/// `application/tlsrpt+gzip` base64 attachment). Returns the total size.
fn write_report_dir(dir: &Path, n: usize) -> u64 {
    let corpus = corpus_reports();
    let mut total = 0u64;
    for i in 0..n {
        let (name, bytes) = &corpus[i % corpus.len()];
        let mut v: serde_json::Value = serde_json::from_slice(bytes).expect("corpus JSON");
        let id = format!("bench-{i:05}");
        v["report-id"] = serde_json::Value::String(id.clone());
        let json = serde_json::to_vec_pretty(&v).expect("json");
        let stem = format!("{i:05}-{}", name.replace(['/', '.'], "_"));
        let (file, data) = match i % 3 {
            0 => (format!("{stem}.json"), json),
            1 => (format!("{stem}.json.gz"), gzip(&json)),
            _ => {
                let domain = v["policies"][0]["policy"]["policy-domain"]
                    .as_str()
                    .unwrap_or("example.net")
                    .to_owned();
                let mail = format!(
                    "From: tlsrpt@sender.example\r\n\
                     Date: Fri, 27 Nov 2026 16:54:30 +0000\r\n\
                     To: tlsrpt@{domain}\r\n\
                     Subject: Report Domain: {domain}\r\n Submitter: sender.example\r\n Report-ID: <{id}@sender.example>\r\n\
                     TLS-Report-Domain: {domain}\r\n\
                     TLS-Report-Submitter: sender.example\r\n\
                     MIME-Version: 1.0\r\n\
                     Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n boundary=\"b0\"\r\n\r\n\
                     This is a multipart message in MIME format.\r\n\r\n\
                     --b0\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\n\
                     This is an aggregate TLS report from sender.example\r\n\r\n\
                     --b0\r\nContent-Type: application/tlsrpt+gzip\r\n\
                     Content-Transfer-Encoding: base64\r\n\
                     Content-Disposition: attachment;\r\n filename=\"sender.example!{domain}!1!2!{id}.json.gz\"\r\n\r\n\
                     {}\r\n--b0--\r\n",
                    base64_lines(&gzip(&json))
                );
                (format!("{stem}.eml"), mail.into_bytes())
            }
        };
        total += data.len() as u64;
        std::fs::write(dir.join(file), data).expect("write report file");
    }
    total
}

/// `mtasts report summarize DIR` without the rendering: list the
/// directory, read every file, `read_report`, `Aggregator::add`.
fn summarize_dir(dir: &Path) -> u64 {
    let options = ReadOptions::default();
    let mut agg = Aggregator::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let path = e.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        let read = read_report(&bytes, &options).expect("report");
        let source = path.to_string_lossy();
        agg.add(&read.value.report, &source);
    }
    agg.into_summary().reports
}

fn summarize(c: &mut Criterion) {
    let dir = tempfile::Builder::new()
        .prefix("mtasts-bench-reports-")
        .tempdir()
        .expect("tempdir");
    let bytes = write_report_dir(dir.path(), DIR_FILES);
    assert_eq!(summarize_dir(dir.path()), DIR_FILES as u64, "all unique");
    eprintln!(
        "summarize: {DIR_FILES} files ({} .json, {} .json.gz, {} .eml), {bytes} bytes in {} (page cache warm)",
        DIR_FILES.div_ceil(3),
        (DIR_FILES + 1) / 3,
        DIR_FILES / 3,
        dir.path().display()
    );
    let mut g = c.benchmark_group("report_summarize/dir");
    g.sample_size(20);
    g.throughput(Throughput::ElementsAndBytes {
        elements: DIR_FILES as u64,
        bytes,
    });
    g.bench_function(format!("{DIR_FILES} files json+gz+eml"), |b| {
        b.iter(|| summarize_dir(black_box(dir.path())))
    });
    g.finish();
}

criterion_group!(benches, read_corpus, summarize);
criterion_main!(benches);
