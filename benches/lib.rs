//! Shared inputs for the criterion benchmarks in `benches/`.
//!
//! ```
//! let json = mta_sts_benches::synthetic_report(100);
//! let parsed = tlsrpt_core::Report::parse_strict(json.as_bytes()).unwrap();
//! assert_eq!(parsed.value.policies.len(), 10);
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `n` policy keys of a busy MTA's day, shared by the aggregation bench
/// and the collector load test: 60 % `sts` with a 5-line policy, 30 %
/// `no-policy-found`, 10 % `tlsa` (keyed by the MX host).
pub fn policy_keys(n: usize) -> Vec<tlsrpt_core::session::PolicyKey> {
    use tlsrpt_core::session::PolicyKey;
    (0..n)
        .map(|i| {
            let domain = format!("recipient{i}.example");
            match i % 10 {
                0..=5 => PolicyKey::sts(
                    &domain,
                    [
                        "version: STSv1".to_owned(),
                        "mode: enforce".to_owned(),
                        format!("mx: mx1.{domain}"),
                        format!("mx: *.backup.{domain}"),
                        "max_age: 604800".to_owned(),
                    ],
                    [format!("mx1.{domain}"), format!("*.backup.{domain}")],
                ),
                6..=8 => PolicyKey::no_policy_found(&domain),
                _ => PolicyKey::tlsa(
                    &format!("mx1.{domain}"),
                    ["3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6"],
                    [format!("mx1.{domain}")],
                ),
            }
            .expect("the generated keys are valid")
        })
        .collect()
}

/// A synthetic report with `details` failure details spread over ten
/// policies, in the shape large senders produce (every optional member
/// present, IPv4 and IPv6 addresses).
pub fn synthetic_report(details: usize) -> String {
    let mut s = String::with_capacity(details * 330 + 1024);
    s.push_str(r#"{"organization-name":"Example Sender, Inc.","date-range":{"start-datetime":"2026-11-27T00:00:00Z","end-datetime":"2026-11-27T23:59:59Z"},"contact-info":"tlsrpt@sender.example","report-id":"2026-11-27T00:00:00Z_synthetic","policies":["#);
    let policies = 10;
    let per = details.div_ceil(policies).max(1);
    let mut written = 0;
    for p in 0..policies {
        if p > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            r#"{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: *.mail{p}.example","max_age: 604800"],"policy-domain":"domain{p}.example","mx-host":["*.mail{p}.example"]}},"summary":{{"total-successful-session-count":{},"total-failure-session-count":{}}},"failure-details":["#,
            1_000_000 + p,
            per
        );
        for i in 0..per.min(details - written) {
            if i > 0 {
                s.push(',');
            }
            let rt = [
                "certificate-expired",
                "starttls-not-supported",
                "certificate-host-mismatch",
                "validation-failure",
            ][i % 4];
            let _ = write!(
                s,
                r#"{{"result-type":"{rt}","sending-mta-ip":"2001:db8:{:x}::{:x}","receiving-mx-hostname":"mx{}.mail{p}.example","receiving-mx-helo":"mx{}.mail{p}.example","receiving-ip":"198.51.{}.{}","failed-session-count":{},"failure-reason-code":"X509_V_ERR_CERT_HAS_EXPIRED"}}"#,
                i % 65_536,
                i / 7 + 1,
                i % 5,
                i % 5,
                (i / 256) % 256,
                i % 256,
                1 + i % 3
            );
        }
        written += per.min(details - written);
        s.push_str("]}");
    }
    s.push_str("]}");
    s
}

/// The folders of the TLS-RPT test corpus, in lookup order. Each corpus
/// file has one copy in the repository (see `testdata/README.md`), under
/// the same path below one of these (`mail-auth/rpt01.json`).
const CORPUS_ROOTS: [&str; 3] = [
    "../examples/data/reports",
    "../testdata/reports",
    "../tlsrpt-core/tests/data",
];

/// The files of the test corpus whose name ends in `.{extension}`, as
/// `(path below its corpus folder, bytes)`, sorted by path. The folders
/// are `examples/data/reports`, `testdata/reports` and
/// `tlsrpt-core/tests/data`; a path met twice is taken from the first.
pub fn corpus_files(extension: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for root in CORPUS_ROOTS {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(root);
        let mut stack: Vec<PathBuf> = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == extension)
                    && let Ok(bytes) = std::fs::read(&path)
                {
                    let rel = path
                        .strip_prefix(&root)
                        .map_or_else(|_| path.display().to_string(), |p| p.display().to_string());
                    if !out.iter().any(|(r, _)| *r == rel) {
                        out.push((rel, bytes));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// The JSON reports of the test corpus ([`corpus_files`]), as
/// `(relative path, bytes)`, sorted by path; the RFC's as-printed report
/// (not JSON) and its policy-string samples (not a report) left out.
pub fn corpus_reports() -> Vec<(String, Vec<u8>)> {
    corpus_files("json")
        .into_iter()
        .filter(|(rel, _)| !rel.contains("as-printed") && !rel.contains("policy-strings"))
        .collect()
}

/// The reports of a named workload, for the profiling examples: `corpus`
/// (every corpus report), `synthetic` (one report with 50,000 failure
/// details), or else a path to one report file.
pub fn workload(name: &str) -> std::io::Result<Vec<Vec<u8>>> {
    Ok(match name {
        "corpus" => corpus_reports().into_iter().map(|(_, b)| b).collect(),
        "synthetic" => vec![synthetic_report(50_000).into_bytes()],
        path => vec![std::fs::read(path)?],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn synthetic_report_is_valid_and_has_the_requested_details() {
        let s = super::synthetic_report(1234);
        let p = tlsrpt_core::Report::parse_strict(s.as_bytes()).unwrap();
        let n: usize = p
            .value
            .policies
            .iter()
            .map(|p| p.failure_details.len())
            .sum();
        assert_eq!(n, 1234);
        assert_eq!(p.value.policies.len(), 10);
    }

    #[test]
    fn corpus_is_found() {
        let c = super::corpus_reports();
        let names: Vec<&str> = c.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 13, "{names:?}");
        assert!(names.contains(&"mail-auth/rpt01.json"), "{names:?}");
        assert!(
            names.contains(&"dmarc-report-viewer/google.json"),
            "{names:?}"
        );
        let emails = super::corpus_files("eml");
        assert_eq!(emails.len(), 10, "{emails:?}");
        for (name, bytes) in &c {
            tlsrpt_core::Report::parse_lenient(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
