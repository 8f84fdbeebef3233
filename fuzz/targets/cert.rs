//! Certificate loading (PEM/DER) and the MX identity/validity check.
use mta_sts_core::cert::{check_certificate, load_certificate};

/// Runs the target on one input.
pub(crate) fn run(data: &[u8]) {
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    if let Ok(der) = load_certificate(data) {
        let v = check_certificate(&der, "mx1.example.com", now);
        let _ = (v.result_type(), v.reason());
    }
}
