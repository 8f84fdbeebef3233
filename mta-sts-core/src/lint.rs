//! Advice for a domain owner about a (valid) policy.
//!
//! The findings go beyond validity: they flag choices that weaken the
//! protection MTA-STS gives or that can never work. Severity
//! [`Severity::Error`] means the policy will not do what its publisher
//! most likely wants (for example a pattern that can never match an MX
//! host); the `mtasts policy lint` command exits 1 on any error.
//!
//! Public-suffix detection is a heuristic (no public-suffix list is
//! bundled): a wildcard whose base is a single label (`*.com`) is an
//! error; a base of two labels whose first label is a common second-level
//! registry label (`*.co.uk`, `*.com.au`) is a warning.

use std::collections::HashSet;

use crate::policy::{Mode, Policy};

pub use crate::finding::Severity;

crate::code_enum! {
    /// What the policy lint found (the `code` of its findings).
    pub enum LintCode {
        /// `mode: testing`: failures are reported, mail still delivered.
        TestingMode => "testing-mode",
        /// `mode: none`: senders ignore the policy.
        NoneMode => "none-mode",
        /// `mode: none` with a `max_age` over a week.
        NoneLongMaxAge => "none-long-max-age",
        /// `max_age: 0`.
        ZeroMaxAge => "zero-max-age",
        /// `max_age` under a day (or under a week in `enforce`).
        ShortMaxAge => "short-max-age",
        /// A repeated field, ignored.
        DuplicateField => "duplicate-field",
        /// The same `mx` pattern twice.
        DuplicateMx => "duplicate-mx",
        /// A wildcard on a top-level domain or a public suffix.
        WildcardPublicSuffix => "wildcard-public-suffix",
        /// An `mx` pattern of one label.
        SingleLabelMx => "single-label-mx",
        /// An `mx` pattern no host name can match.
        MxNeverMatches => "mx-never-matches",
        /// An exact `mx` pattern a wildcard already covers.
        MxCoveredByWildcard => "mx-covered-by-wildcard",
        /// `mode: none` with `mx` lines.
        NoneWithMx => "none-with-mx",
        /// A field senders do not know.
        UnknownField => "unknown-field",
        /// Something only the lenient reader accepts (a BOM, blank lines,
        /// indentation, a capped `max_age`).
        LenientParse => "lenient-parse",
    }
}

impl LintCode {
    /// How to fix what this code flags, in one line.
    pub fn remediation(self) -> &'static str {
        match self {
            Self::TestingMode => {
                "switch to `mode: enforce` (and change the TXT id) once TLS-RPT reports show no failures"
            }
            Self::NoneMode => {
                "publish mode `enforce` or `testing` to protect mail; keep `none` only while withdrawing MTA-STS"
            }
            Self::NoneLongMaxAge => "lower max_age (e.g. 86400) while the mode is `none`",
            Self::ZeroMaxAge | Self::ShortMaxAge => "raise max_age to at least 604800 (one week)",
            Self::DuplicateField => "remove the repeated field",
            Self::DuplicateMx => "remove the repeated mx line",
            Self::WildcardPublicSuffix => {
                "list your own MX host names (or a wildcard under your own domain)"
            }
            Self::SingleLabelMx | Self::MxNeverMatches => {
                "use the fully qualified host names of your MX records"
            }
            Self::MxCoveredByWildcard => "optionally remove the exact pattern",
            Self::NoneWithMx => "remove the mx lines, or publish mode `enforce` or `testing`",
            Self::UnknownField => {
                "check the spelling (keys are case-sensitive) or remove the field"
            }
            Self::LenientParse => {
                "rewrite the line as RFC 8461 section 3.2 says (`mtasts policy parse --strict FILE` shows where)"
            }
        }
    }
}

/// One piece of advice about a policy.
pub type Finding = crate::finding::Finding<LintCode>;

const ONE_DAY: u32 = 86_400;
const ONE_WEEK: u32 = 7 * ONE_DAY;

/// Common second-level labels under country-code TLDs (heuristic).
const SECOND_LEVEL: &[&str] = &[
    "ac", "co", "com", "edu", "gov", "net", "org", "ne", "or", "go", "gob", "nic", "ltd", "plc",
];

fn finding(severity: Severity, code: LintCode, message: String) -> Finding {
    Finding {
        severity,
        code,
        message,
        remediation: code.remediation().to_owned(),
    }
}

/// Lint a policy. Findings are sorted, errors first.
///
/// ```
/// use mta_sts_core::{Policy, lint::Severity};
/// let p = Policy::parse("version: STSv1\nmode: testing\nmx: *.com\nmax_age: 3600\n").unwrap();
/// let f = p.lint();
/// assert!(f.iter().any(|f| f.code == "wildcard-public-suffix" && f.severity == Severity::Error));
/// assert!(f.iter().any(|f| f.code == "testing-mode"));
/// assert!(f.iter().any(|f| f.code == "short-max-age"));
/// ```
pub fn lint(policy: &Policy<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let max_age = policy.max_age();
    match policy.mode() {
        Mode::Testing => out.push(finding(
            Severity::Warning,
            LintCode::TestingMode,
            "mode is `testing`: senders report failures but still deliver without TLS; switch to `enforce` once TLS-RPT reports show no failures for your MX hosts".into(),
        )),
        Mode::None => {
            out.push(finding(
                Severity::Info,
                LintCode::NoneMode,
                "mode is `none`: senders ignore this policy; this is the RFC 8461 8.3 removal step".into(),
            ));
            if max_age > ONE_WEEK {
                out.push(finding(
                    Severity::Warning,
                    LintCode::NoneLongMaxAge,
                    format!("mode `none` with max_age {max_age}: to withdraw MTA-STS, publish `none` with a short max_age (e.g. 86400) so senders forget the old policy soon"),
                ));
            }
        }
        Mode::Enforce => {}
    }
    if max_age == 0 {
        out.push(finding(
            Severity::Warning,
            LintCode::ZeroMaxAge,
            "max_age is 0: senders drop the policy right after using it, so an attacker who blocks the fetch removes the protection; use at least 604800 (one week)".into(),
        ));
    } else if max_age < ONE_DAY && policy.mode() != Mode::None {
        out.push(finding(
            Severity::Warning,
            LintCode::ShortMaxAge,
            format!("max_age {max_age} is under a day: an attacker who blocks policy fetches for that long disables MTA-STS; RFC 8461 recommends weeks or more (e.g. 604800 or 1209600)"),
        ));
    } else if max_age < ONE_WEEK && policy.mode() == Mode::Enforce {
        out.push(finding(
            Severity::Info,
            LintCode::ShortMaxAge,
            format!("max_age {max_age} is under a week; RFC 8461 recommends weeks or more once the policy is stable"),
        ));
    }
    {
        for f in policy.ignored() {
            out.push(finding(
                Severity::Warning,
                LintCode::DuplicateField,
                format!(
                    "line {}: repeated `{}` is ignored (the first one counts); remove it",
                    f.line, f.name
                ),
            ));
        }
    }
    let mut seen = HashSet::new();
    for p in policy.mx() {
        let lower = p.as_str().to_ascii_lowercase();
        if !seen.insert(lower.clone()) {
            out.push(finding(
                Severity::Warning,
                LintCode::DuplicateMx,
                format!("mx `{p}` is listed more than once"),
            ));
            continue;
        }
        let base = p.base();
        let labels: Vec<&str> = base.split('.').collect();
        if p.is_wildcard() {
            if labels.len() == 1 {
                out.push(finding(
                    Severity::Error,
                    LintCode::WildcardPublicSuffix,
                    format!("mx `{p}` is a wildcard on a top-level domain: it allows any host under `.{base}`, and no certificate can legitimately cover it"),
                ));
            } else if labels.len() == 2
                && labels[1].len() == 2
                && SECOND_LEVEL.contains(&labels[0].to_ascii_lowercase().as_str())
            {
                out.push(finding(
                    Severity::Warning,
                    LintCode::WildcardPublicSuffix,
                    format!("mx `{p}` looks like a wildcard on a public suffix (`{base}`): list your own MX hosts instead"),
                ));
            }
        } else if labels.len() == 1 {
            out.push(finding(
                Severity::Warning,
                LintCode::SingleLabelMx,
                format!("mx `{p}` is a single-label name; MX records point to fully qualified host names"),
            ));
        }
        if labels
            .last()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            out.push(finding(
                Severity::Error,
                LintCode::MxNeverMatches,
                format!("mx `{p}` has an all-numeric top-level label (an IP address?); MX targets are host names, so it can never match"),
            ));
        }
        if labels.iter().any(|l| l.len() > 63) {
            out.push(finding(
                Severity::Error,
                LintCode::MxNeverMatches,
                format!("mx `{p}` has a label longer than 63 characters; no DNS name can match it"),
            ));
        }
        if p.as_str().len() > 253 {
            out.push(finding(
                Severity::Error,
                LintCode::MxNeverMatches,
                format!("mx `{p}` is longer than 253 characters; no DNS name can match it"),
            ));
        }
    }
    // Exact patterns already covered by a wildcard.
    for p in policy.mx().iter().filter(|p| !p.is_wildcard()) {
        if let Some(w) = policy
            .mx()
            .iter()
            .find(|w| w.is_wildcard() && w.matches_normalized(p.as_str()))
        {
            out.push(finding(
                Severity::Info,
                LintCode::MxCoveredByWildcard,
                format!("mx `{p}` is already covered by `{w}`"),
            ));
        }
    }
    if policy.mode() == Mode::None && !policy.mx().is_empty() {
        out.push(finding(
            Severity::Info,
            LintCode::NoneWithMx,
            "mode `none` ignores the mx lines".into(),
        ));
    }
    for e in policy.extensions() {
        out.push(finding(
            Severity::Info,
            LintCode::UnknownField,
            format!("unknown field `{}` is ignored by senders (check the spelling: keys are case-sensitive)", e.name),
        ));
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}
