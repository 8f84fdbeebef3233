//! Integration tests of the sending side of tlsrpt-core: recording
//! sessions into a day aggregate (`session`), libtlsrpt datagrams
//! (`datagram`) and rendering reports for delivery (`outgoing`). Test
//! names carry the checklist IDs (RPT-*) and decision IDs (DEC-*) they
//! cover.

mod aggregate;
mod datagram;
mod merge;
mod outgoing;

use tlsrpt_core::session::{DayAggregate, Failure, Outcome, PolicyKey, ReportMeta, UtcDay};
use tlsrpt_core::{Report, ResultType, Strictness, WarningCode};

/// 2016-04-01, the day of the RFC 8460 example report.
pub(crate) fn day() -> UtcDay {
    UtcDay::parse("2016-04-01").unwrap()
}

/// The report meta data used throughout.
pub(crate) fn meta() -> ReportMeta {
    ReportMeta::new(
        "Company-X",
        "sts-reporting@company-x.example",
        "company-x.example",
        "u1",
    )
}

/// The RFC 8460 4.5 example policy of `company-y.example`.
pub(crate) fn sts_key() -> PolicyKey {
    PolicyKey::sts(
        "company-y.example",
        [
            "version: STSv1",
            "mode: testing",
            "mx: *.mail.company-y.example",
            "max_age: 86400",
        ],
        ["*.mail.company-y.example"],
    )
    .unwrap()
}

/// A certificate-expired failure at `mx` from `sender`.
pub(crate) fn expired(mx: &str, sender: &str) -> Failure {
    Failure::new(ResultType::CertificateExpired)
        .receiving_mx_hostname(mx)
        .receiving_ip("2001:db8:abcd:12::1".parse().unwrap())
        .sending_mta_ip(sender.parse().unwrap())
}

/// `report` written in the strict form and read back by both readers:
/// both must give the same report, without warnings other than
/// `failure-count-mismatch`.
pub(crate) fn round_trip(report: &Report<'_>) {
    let json = report.to_json(false);
    for strictness in [Strictness::Strict, Strictness::Lenient] {
        let read = Report::parse(json.as_bytes(), strictness)
            .unwrap_or_else(|e| panic!("{strictness:?} reader refused {json}: {e}"));
        // Only the note that failure details add up to another number than
        // the failed sessions (overlapping types, folded details).
        assert!(
            read.warnings
                .iter()
                .all(|w| w.code == WarningCode::FailureCountMismatch),
            "{:?}",
            read.warnings
        );
        assert_eq!(read.value, *report);
        assert_eq!(
            read.value.successful_sessions(),
            report.successful_sessions()
        );
        assert_eq!(read.value.failed_sessions(), report.failed_sessions());
    }
}

/// Record `n` successes under `key`.
pub(crate) fn successes(day: &mut DayAggregate, key: &PolicyKey, n: usize) {
    for _ in 0..n {
        day.record(key, &Outcome::Success).unwrap();
    }
}
