//! `_smtp._tls` TXT record parsing and RRset selection.
use tlsrpt_core::TlsRptRecord;

/// Runs the target on one input.
pub(crate) fn run(data: &[u8]) {
    // The whole input as one RR, and split on NUL into several RRs.
    let _ = TlsRptRecord::select(&[data]);
    let rrs: Vec<&[u8]> = data.split(|b| *b == 0).collect();
    let _ = TlsRptRecord::select(&rrs);
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(r) = TlsRptRecord::parse(s)
    {
        let _ = r.is_usable();
        // The canonical form parses back to the same rua list and
        // extensions (repeated `v` fields are dropped by the writer).
        let canonical = r.to_string();
        let again = TlsRptRecord::parse(&canonical).expect("canonical record parses");
        assert_eq!(again.rua(), r.rua());
        assert_eq!(again.extensions(), r.extensions());
        assert_eq!(again.to_string(), canonical);
    }
}
