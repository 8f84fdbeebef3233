//! Integration tests for tlsrpt-core. Test names carry the checklist IDs
//! (RPT-*) and decision IDs (DEC-*) they cover.

mod alert;
mod corpus;
mod export;
mod filename;
mod input;
mod record;
mod report;
mod roundtrip;
mod summary;

use std::path::Path;

/// Every JSON report of the corpus, in this order.
pub(crate) const CORPUS: [&str; 13] = [
    "mail-auth/rpt01.json",
    "mail-auth/rpt02.json",
    "mail-auth/rpt03.json",
    "dmarc-report-viewer/google.json",
    "dmarc-report-viewer/microsoft.json",
    "dmarc-report-viewer/no-contact.json",
    "dmarc-report-viewer/no-policy.json",
    "dmarc-report-viewer/no_ip_and_mx.json",
    "dmarc-report-viewer/rfc-example.json",
    "parsedmarc/mail.ru.json",
    "parsedmarc/rfc8460.json",
    "parsedmarc/smtp_tls.json",
    "rfc/rfc8460-appendix-b-report.corrected.json",
];

/// Where the corpus files are, in the order they are looked up: each file
/// has one copy in the repository (see `testdata/README.md`), under the
/// same path below one of these folders (`mail-auth/rpt01.json`,
/// `rfc/rfc8460-section-5.1-filename.txt`).
const DATA_ROOTS: [&str; 4] = [
    // The README's sample reports.
    "../examples/data/reports",
    // Reports and RFC examples that other crates' tests also read.
    "../testdata/reports",
    "../testdata",
    // The rest of this crate's corpus.
    "tests/data",
];

/// Read a corpus file by its path below one of [`DATA_ROOTS`].
pub(crate) fn data(rel: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = DATA_ROOTS
        .iter()
        .map(|r| root.join(r).join(rel))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{rel}: in none of {DATA_ROOTS:?}"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
