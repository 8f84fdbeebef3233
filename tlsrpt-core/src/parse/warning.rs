//! Warnings of the lenient reader: their codes, the warning type and the
//! two ways the reader makes one ([`Parser::warn`], and
//! [`Parser::deviation`], an error instead in strict mode).

use std::borrow::Cow;
use std::fmt;

use super::pointer::JsonPointer;
use super::{K, Parser, R};

mta_sts_core::code_enum! {
    /// What a [`ReportWarning`] is about: a stable kebab-case code that
    /// scripts can match on (`as_str`, `Display` and serde give the
    /// string; it compares equal to its string).
    ///
    /// ```
    /// use tlsrpt_core::parse::WarningCode;
    /// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-23T00:00:00Z"},"report-id":"r1","policies":[]}"#;
    /// let parsed = tlsrpt_core::Report::parse_lenient(json).unwrap();
    /// assert_eq!(parsed.warnings[0].code, WarningCode::ContactInfoMissing);
    /// assert_eq!(parsed.warnings[0].code, "contact-info-missing");
    /// assert_eq!(parsed.warnings[0].code.as_str(), "contact-info-missing");
    /// assert_eq!("contact-info-missing".parse(), Ok(WarningCode::ContactInfoMissing));
    /// ```
    pub enum WarningCode {
        /// A UTF-8 byte order mark before the report, ignored.
        ByteOrderMark => "byte-order-mark",
        /// `contact-info` is missing (read as unknown).
        ContactInfoMissing => "contact-info-missing",
        /// `contact-info` is `null` (read as unknown).
        ContactInfoNull => "contact-info-null",
        /// `contact-info` is not an e-mail address (kept as written).
        ContactInfoInvalid => "contact-info-invalid",
        /// A date-time without zone offset or with a space for `T`.
        DateTimeNotRfc3339 => "date-time-not-rfc3339",
        /// `end-datetime` is before `start-datetime`.
        DateRangeReversed => "date-range-reversed",
        /// `policies` is one object, not an array (DEC-19).
        PoliciesObject => "policies-object",
        /// `failure-details` is missing (read as none).
        FailureDetailsMissing => "failure-details-missing",
        /// The failure details do not add up to
        /// `total-failure-session-count`.
        FailureCountMismatch => "failure-count-mismatch",
        /// A registered `policy-type` in upper case.
        PolicyTypeCase => "policy-type-case",
        /// `policy-string` is a string, not an array.
        PolicyStringString => "policy-string-string",
        /// `policy-string` is missing.
        PolicyStringMissing => "policy-string-missing",
        /// A TLSA `policy-string` holding a JSON-encoded array (DEC-24).
        PolicyStringDoubleEncoded => "policy-string-double-encoded",
        /// `policy-domain` is missing.
        PolicyDomainMissing => "policy-domain-missing",
        /// `mx-host` is a string, not an array (DEC-16, erratum 6241).
        MxHostString => "mx-host-string",
        /// `mx-host` entries with an `mx:` prefix.
        MxHostPrefix => "mx-host-prefix",
        /// `mx-host` is missing for an `sts` policy.
        MxHostMissing => "mx-host-missing",
        /// A session count is missing from `summary` (read as 0).
        CountMissing => "count-missing",
        /// A count above 2^53-1, which I-JSON does not represent exactly.
        CountAboveIJson => "count-above-i-json",
        /// Unknown members of `date-range` or `summary`, dropped.
        UnknownMemberDropped => "unknown-member-dropped",
        /// A registered `result-type` in upper case.
        ResultTypeCase => "result-type-case",
        /// `sending-mta-ip` or `receiving-mx-hostname` is missing.
        FailureDetailMemberMissing => "failure-detail-member-missing",
        /// An IP address member that is no IP address (kept as written).
        IpInvalid => "ip-invalid",
    }
}

/// Something the reader accepted although the RFC does not allow it, or
/// that looks wrong (DEC-01: never silent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReportWarning {
    /// JSON Pointer of the member concerned.
    pub path: JsonPointer,
    /// What kind of warning it is; serializes as its stable kebab-case
    /// string, e.g. `mx-host-string`.
    pub code: WarningCode,
    /// What was found and what was done.
    pub message: Cow<'static, str>,
}

impl fmt::Display for ReportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            f.write_str("/")?;
        } else {
            write!(f, "{}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Parser<'_> {
    /// A warning at the current path.
    pub(super) fn warn(&mut self, code: WarningCode, message: impl Into<Cow<'static, str>>) {
        let path = self.path;
        if self.warnings.capacity() == 0 {
            // Reports with warnings tend to have several; seven stay under
            // 1 KiB, which allocators serve from their fast paths.
            self.warnings.reserve(7);
        }
        self.warnings.push(ReportWarning {
            path,
            code,
            message: message.into(),
        });
    }

    /// In strict mode an error; in lenient mode a warning.
    pub(super) fn deviation(
        &mut self,
        kind: impl FnOnce() -> K,
        code: WarningCode,
        message: impl Into<Cow<'static, str>>,
    ) -> R<()> {
        if self.strict {
            Err(self.err(kind()))
        } else {
            self.warn(code, message);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ReportWarning, WarningCode};
    use crate::parse::JsonPointer;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        let texts: Vec<&str> = WarningCode::ALL.iter().map(|c| c.as_str()).collect();
        let mut unique = texts.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), texts.len());
        assert_eq!(texts.len(), 23);
        for &c in WarningCode::ALL {
            assert_eq!(c.as_str().parse::<WarningCode>(), Ok(c));
            assert_eq!(c.to_string(), c.as_str());
            assert_eq!(c, c.as_str());
        }
        assert_eq!(WarningCode::MxHostString, "mx-host-string");
        assert_eq!("no-such-code".parse::<WarningCode>(), Err(()));
    }

    #[test]
    fn warnings_serialize_their_code_as_the_string() {
        let w = ReportWarning {
            path: JsonPointer::ROOT,
            code: WarningCode::ContactInfoMissing,
            message: "contact-info is missing; read as unknown".into(),
        };
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"path":"","code":"contact-info-missing","message":"contact-info is missing; read as unknown"}"#
        );
        assert_eq!(w.to_string(), "/: contact-info is missing; read as unknown");
    }
}
