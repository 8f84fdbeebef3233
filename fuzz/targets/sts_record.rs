//! `_mta-sts` TXT record parsing and RRset selection.
use mta_sts_core::StsRecord;

/// Runs the target on one input.
pub(crate) fn run(data: &[u8]) {
    // The whole input as one RR, and split on NUL into several RRs.
    let _ = StsRecord::select(&[data]);
    let rrs: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    let _ = StsRecord::select(&rrs);
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(r) = StsRecord::parse(s)
    {
        // The canonical form parses back to the same record (minus ignored duplicates).
        let canonical = r.to_string();
        let again = StsRecord::parse(&canonical).expect("canonical record parses");
        assert_eq!(again.id(), r.id());
        assert_eq!(again.extensions(), r.extensions());
    }
}
