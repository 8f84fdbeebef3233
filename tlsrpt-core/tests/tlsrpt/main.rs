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

/// Read a file under `tests/data`.
pub(crate) fn data(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
