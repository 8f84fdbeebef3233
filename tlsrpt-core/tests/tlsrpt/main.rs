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

/// Read a file under `tests/data`.
pub(crate) fn data(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
