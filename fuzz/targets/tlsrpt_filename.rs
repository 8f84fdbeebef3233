//! Report file names and e-mail Subjects (RFC 8460 5.1, 5.3).
use tlsrpt_core::filename::{ReportFilename, parse_subject, subject};

/// The fuzzer's structured input (`fuzz_target!(|s: &str| ...)`).
pub(crate) type Input<'a> = &'a str;

/// Runs the target on one decoded input (the replay test decodes stored
/// bytes as `fuzz_target!` does: `examples/tests/fuzz_replay.rs` `typed`).
pub(crate) fn check(s: Input<'_>) {
    if let Ok(f) = ReportFilename::parse(s) {
        // The canonical form parses back to the same name and is a fixed point.
        let canonical = f.to_string();
        let again = ReportFilename::parse(&canonical).expect("canonical file name parses");
        assert_eq!(again, f);
        assert_eq!(again.to_string(), canonical);
    }
    if let Ok(info) = parse_subject(s) {
        // Written back in the RFC form, an id with `@` reads the same.
        if let Some((left, right)) = info.report_id_parts() {
            let written = subject(&info.policy_domain, &info.submitter, left, right);
            let again = parse_subject(&written).expect("written Subject parses");
            assert_eq!(again.policy_domain, info.policy_domain);
            assert_eq!(again.submitter, info.submitter);
            assert_eq!(again.report_id, info.report_id);
            assert!(again.rfc_form, "{written}");
        }
    }
}
