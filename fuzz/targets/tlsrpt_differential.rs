//! Report JSON: the fast reader against the reference reader
//! (`tlsrpt_core::reference`), in strict and lenient mode. Any difference
//! in acceptance, report, warnings or error path is a bug in one of them.

/// Runs the target on one input.
pub(crate) fn run(data: &[u8]) {
    if let Err(difference) = tlsrpt_core::reference::compare(data) {
        panic!("{difference}\ninput: {:?}", String::from_utf8_lossy(data));
    }
}
