//! The end-to-end check of a domain's MTA-STS and TLS-RPT setup, as a
//! domain owner runs it (`mtasts check DOMAIN`).
//!
//! [`check_domain`] looks up the `_mta-sts` TXT record, fetches the policy
//! (every rule of RFC 8461 3.3: HTTP 200 only, no redirects, `text/plain`,
//! 64 KiB, timeouts, SNI, WebPKI validation for `mta-sts.<domain>`), lints
//! it, matches the MX records against its patterns, probes every MX host
//! over SMTP with STARTTLS ([`crate::smtp`]) and looks up the `_smtp._tls`
//! record. The [`CheckReport`] serializes to the JSON of `mtasts check
//! --json`; each [`Finding`] says what is wrong and how to fix it.
//!
//! # Decisions
//!
//! - The policy is judged with the **strict** reader (RFC grammar,
//!   `text/plain` required); when only the lenient reader accepts it, the
//!   finding says so.
//! - The policy is **always fetched**, even without a valid TXT record
//!   (the TXT lookup, the fetch, the MX probes and the TLS-RPT lookup run
//!   concurrently). Without a valid record the policy status is
//!   `not-attempted` and no policy is applied, as senders would do; a valid
//!   policy served anyway is reported as a warning (a half-finished
//!   deployment), a failing fetch is not reported.
//! - Severity `error` means senders would fail or skip a published
//!   policy: an invalid, duplicated or unanswered TXT record, a policy
//!   that cannot be fetched or parsed, an MX
//!   host not covered by the policy, an MX host without STARTTLS or with a
//!   bad certificate while the mode is `enforce` or `testing` (without an
//!   applied policy, or in mode `none`, these are warnings), a failed MX
//!   lookup, or no MX host reachable at all. An MX host that cannot be
//!   reached is a warning (outbound port 25 is often blocked where the
//!   check runs). A missing or broken `_smtp._tls` record is a warning.
//!   A domain without an `_mta-sts` record does not use MTA-STS: that is
//!   a warning (`sts-record-absent`), not a failure.
//! - Under `mode: none` no policy applies, so each MX host's `in_policy`
//!   (and `pattern`) is `null`.
//!   [`CheckReport::exit_failed`] is true when any finding is an error.
//! - Without MX records the domain itself is the implicit MX (RFC 5321
//!   5.1); a null MX (RFC 7505) is reported and not probed.
//! - With [`CheckOptions::probe_smtp`] off (port 25 blocked where the
//!   check runs), the MX hosts are looked up but not probed: each is
//!   `not-probed`, one `info` finding says so, and nothing fails for that
//!   alone.
//! - Certificates are judged for expiry at [`Observations::now`] (the
//!   assessment reads no clock; [`Checker`] passes the time of the check):
//!   an MX host's or the policy host's certificate that expires within
//!   [`EXPIRY_WARNING`] (14 days) is a warning, within [`EXPIRY_ERROR`] (3
//!   days) an error where senders rely on it (an MX host under an
//!   `enforce` or `testing` policy; the policy host whenever the policy is
//!   in use), a warning otherwise. An expired certificate is already a
//!   `certificate-expired` failure.
//! - DANE: the TLSA records at `_25._tcp.<MX host>` (RFC 7672) are looked
//!   up for every MX host. DNSSEC is `validated` only when the resolver set
//!   the AD bit in its response; this crate does not validate DNSSEC
//!   itself, so an answer without the bit is `unknown` (a validating
//!   resolver and a non-validating one look the same). TLSA records draw
//!   one `info` finding: senders that support DANE use it instead of
//!   MTA-STS (RFC 8461 section 2) and ignore TLSA records DNSSEC does not
//!   validate. A failed TLSA lookup is a warning.
//! - Many domains: [`Checker::check_each`] checks them with bounded
//!   concurrency and hands the reports back in input order.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mta_sts_core::discovery::{Discovery, FetchFailure, HttpResponse, Options, TxtAnswer};
use mta_sts_core::domain::DomainError;
use mta_sts_core::enforce::{MxSession, TlsStatus, decide};
use mta_sts_core::error::SelectErrorOf;
pub use mta_sts_core::finding::Severity;
use mta_sts_core::lint::LintCode;
use mta_sts_core::policy::{MAX_POLICY_BODY, policy_host, policy_url};
use mta_sts_core::{Mode, Policy, ResultType, StsRecord};
use rustls::pki_types::CertificateDer;
use serde::Serialize;
use tlsrpt_core::TlsRptRecord;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use policy_fetch::dns::{Dns, Mx, TlsaAnswer};
use policy_fetch::error::FetchError;
use policy_fetch::https::{FetchConfig, PolicyClient};
use policy_fetch::overrides::Overrides;

use crate::smtp::{self, CertStatus, ProbeConfig, ProbeResult, TlsOutcome};

/// Timeouts and limits of a check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Timeout of the whole policy fetch (60 s, as RFC 8461 suggests).
    pub fetch_timeout: Duration,
    /// Timeout of each TCP connect (policy host and MX hosts; 10 s).
    pub connect_timeout: Duration,
    /// Timeout of the whole SMTP probe of one MX host (60 s).
    pub probe_timeout: Duration,
    /// At most this many MX hosts of one domain are probed at once (8;
    /// 0 counts as 1).
    pub max_concurrent_probes: usize,
    /// The name sent in `EHLO` (default: the local address literal).
    pub ehlo_name: Option<String>,
    /// Probe the MX hosts over SMTP (true). False skips the probes (for
    /// networks that block outbound port 25): the MX hosts are still looked
    /// up, matched against the policy and their TLSA records read, and are
    /// reported as not probed.
    pub probe_smtp: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            fetch_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            probe_timeout: Duration::from_secs(60),
            max_concurrent_probes: 8,
            ehlo_name: None,
            probe_smtp: true,
        }
    }
}

/// The state of a TXT record lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordStatus {
    /// Exactly one valid record.
    Valid,
    /// No record starting with the version tag (or NXDOMAIN / no TXT).
    Absent,
    /// Several records start with the version tag.
    Multiple,
    /// The one record is invalid (or, for TLS-RPT, has no usable `rua`).
    Invalid,
    /// The DNS lookup failed temporarily.
    Temperror,
}

impl RecordStatus {
    /// `valid`, `absent`, `multiple`, `invalid` or `temperror`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Absent => "absent",
            Self::Multiple => "multiple",
            Self::Invalid => "invalid",
            Self::Temperror => "temperror",
        }
    }
}

/// The `_mta-sts` TXT record.
#[derive(Debug, Clone, Serialize)]
pub struct StsRecordReport {
    /// `valid`, `absent`, `multiple`, `invalid` or `temperror`.
    pub status: RecordStatus,
    /// The policy id of a valid record.
    pub id: Option<String>,
    /// The name looked up (`_mta-sts.<domain>`).
    pub name: String,
    /// Every TXT RR at the name (character-strings joined).
    pub records: Vec<String>,
    /// Why the record is not valid.
    pub reason: Option<String>,
}

/// The state of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyStatus {
    /// Fetched and valid.
    Ok,
    /// Not used: there is no valid TXT record.
    NotAttempted,
    /// Not obtainable or invalid: `sts-policy-fetch-error`,
    /// `sts-policy-invalid` or `sts-webpki-invalid`.
    Failed(ResultType),
}

impl PolicyStatus {
    /// `ok`, `not-attempted` or the result type.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ok => "ok",
            Self::NotAttempted => "not-attempted",
            Self::Failed(r) => r.as_str(),
        }
    }
}

impl Serialize for PolicyStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The policy fetched from `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyReport {
    /// See [`PolicyStatus`].
    pub status: PolicyStatus,
    /// Why the policy is not usable.
    pub reason: Option<String>,
    /// The policy URL.
    pub url: String,
    /// The HTTP status, when a response arrived.
    pub http_status: Option<u16>,
    /// The `Content-Type` header, when a response arrived.
    pub content_type: Option<String>,
    /// The mode of a valid policy.
    pub mode: Option<Mode>,
    /// The `max_age` of a valid policy.
    pub max_age: Option<u32>,
    /// The `mx` patterns of a valid policy.
    pub mx: Vec<String>,
    /// Lint findings on a valid policy.
    pub lint: Vec<mta_sts_core::lint::Finding>,
    /// The `notAfter` (RFC 3339) of the certificate the policy host
    /// presented, when it could be read.
    pub certificate_not_after: Option<String>,
}

/// Which policy senders apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applied {
    /// Mode `enforce`.
    Enforce,
    /// Mode `testing`.
    Testing,
    /// Mode `none` (as if there were no policy).
    None,
    /// No policy (no valid record, or the policy is not obtainable).
    NoPolicy,
}

impl Applied {
    /// `enforce`, `testing`, `none` or `no-policy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Testing => "testing",
            Self::None => "none",
            Self::NoPolicy => "no-policy",
        }
    }
}

/// One MX host.
#[derive(Debug, Clone, Serialize)]
pub struct MxReport {
    /// The MX host name.
    pub host: String,
    /// The MX preference.
    pub preference: u16,
    /// Whether this is the implicit MX (the domain itself, no MX records).
    pub implicit: bool,
    /// Whether an `mx` pattern of the policy matches; `null` without a
    /// policy.
    pub in_policy: Option<bool>,
    /// The matching pattern.
    pub pattern: Option<String>,
    /// The host's A/AAAA addresses.
    pub addresses: Vec<IpAddr>,
    /// The address the SMTP session ran on.
    pub address: Option<SocketAddr>,
    /// The 220 greeting.
    pub banner: Option<String>,
    /// Whether STARTTLS works; `null` when the probe ended before.
    pub starttls: Option<bool>,
    /// The TLS version.
    pub tls_version: Option<String>,
    /// The cipher suite.
    pub cipher: Option<String>,
    /// `valid` or the certificate result type; `null` without TLS.
    pub certificate: Option<CertStatus>,
    /// Why the certificate is (not) valid.
    pub certificate_reason: Option<String>,
    /// The leaf's subjectAltName dNSNames.
    pub certificate_names: Vec<String>,
    /// The leaf's issuer.
    pub certificate_issuer: Option<String>,
    /// The leaf's `notAfter` (RFC 3339).
    pub certificate_not_after: Option<String>,
    /// The certificates the server sent (DER), leaf first.
    #[serde(skip)]
    pub chain: Vec<CertificateDer<'static>>,
    /// What a sender applying the policy records for this host:
    /// `success`, the (first) result type, or `null` without a policy (or
    /// when the probe ended before the TLS outcome was known).
    pub result: Option<String>,
    /// Every failure a sender would report (several when the host is not
    /// in the policy and its TLS fails too).
    pub failures: Vec<ResultType>,
    /// What went wrong in the DNS lookup or the probe.
    pub error: Option<String>,
    /// How far the SMTP probe got.
    pub probe: ProbeState,
    /// The TLSA records of the host (DANE); `null` when not looked up.
    pub dane: Option<DaneReport>,
}

/// How far the SMTP probe of an MX host got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeState {
    /// The probe learnt the TLS outcome (STARTTLS missing, or the
    /// certificate's verdict).
    Done,
    /// The probe ran but ended before the TLS outcome was known
    /// (connection refused, timeout, protocol error).
    Failed,
    /// The host has no usable address: nothing was probed.
    NoAddress,
    /// Not probed: the SMTP probes were turned off
    /// ([`CheckOptions::probe_smtp`]).
    NotProbed,
}

impl ProbeState {
    /// `done`, `failed`, `no-address` or `not-probed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Failed => "failed",
            Self::NoAddress => "no-address",
            Self::NotProbed => "not-probed",
        }
    }
}

/// Whether an MX host publishes TLSA records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaneStatus {
    /// At least one TLSA record.
    Present,
    /// No TLSA record (NXDOMAIN or no TLSA data).
    Absent,
    /// The lookup failed.
    Error,
}

impl DaneStatus {
    /// `present`, `absent` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::Absent => "absent",
            Self::Error => "error",
        }
    }
}

/// Whether DNSSEC vouched for a TLSA answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnssecStatus {
    /// The resolver set the AD bit: it validated the answer.
    Validated,
    /// No AD bit. This crate does not validate DNSSEC, and a resolver that
    /// does not validate answers the same as one that found the zone
    /// unsigned: whether senders would accept the records is unknown.
    Unknown,
}

impl DnssecStatus {
    /// `validated` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validated => "validated",
            Self::Unknown => "unknown",
        }
    }
}

/// The TLSA records of one MX host (`_25._tcp.<host>`, RFC 7672).
#[derive(Debug, Clone, Serialize)]
pub struct DaneReport {
    /// The name looked up.
    pub name: String,
    /// `present`, `absent` or `error`.
    pub status: DaneStatus,
    /// The records in presentation form (`3 1 1 <hex>`).
    pub records: Vec<String>,
    /// Whether the resolver validated the answer.
    pub dnssec: DnssecStatus,
    /// Why the lookup failed.
    pub error: Option<String>,
}

/// The TLSA owner name of an MX host: `_25._tcp.<host>`.
pub fn tlsa_name(host: &str) -> String {
    format!("_25._tcp.{host}")
}

/// The certificates of a domain in one word (see [`Summary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificatesSummary {
    /// Every certificate seen is valid and far from expiry.
    Ok,
    /// A certificate (MX or policy host) expires within
    /// [`EXPIRY_WARNING`].
    Expiring,
    /// An MX certificate or the policy host's certificate is invalid.
    Invalid,
    /// Probed MX hosts offered no TLS (no STARTTLS), so no MX certificate
    /// was seen.
    None,
    /// No MX host was probed to the end (probes turned off, hosts
    /// unreachable, no MX host).
    NotProbed,
}

impl CertificatesSummary {
    /// `ok`, `expiring`, `invalid`, `none` or `not-probed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Expiring => "expiring",
            Self::Invalid => "invalid",
            Self::None => "none",
            Self::NotProbed => "not-probed",
        }
    }
}

/// DANE for a domain in one word (see [`Summary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaneSummary {
    /// No MX host has TLSA records.
    None,
    /// TLSA records, at least one answer without DNSSEC validation known.
    Present,
    /// TLSA records, every answer with them validated (AD bit).
    Validated,
    /// A TLSA lookup failed.
    Error,
}

impl DaneSummary {
    /// `none`, `present`, `validated` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Present => "present",
            Self::Validated => "validated",
            Self::Error => "error",
        }
    }
}

/// The report in one line: what `mtasts check --format csv` writes per
/// domain, and the summary of `mtasts check` for several domains.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The `_mta-sts` record.
    pub record: RecordStatus,
    /// The policy.
    pub policy: PolicyStatus,
    /// The mode of the policy in use.
    pub mode: Option<Mode>,
    /// The MX hosts an `mx` pattern covers, when an `enforce` or `testing`
    /// policy applies (`null` otherwise).
    pub mx_covered: Option<usize>,
    /// The MX hosts (the implicit MX included).
    pub mx_total: usize,
    /// The certificates (see [`CertificatesSummary`]).
    pub certificates: CertificatesSummary,
    /// The `_smtp._tls` record.
    pub tlsrpt: RecordStatus,
    /// DANE (see [`DaneSummary`]).
    pub dane: DaneSummary,
    /// Findings of severity `error`.
    pub errors: usize,
    /// Findings of severity `warning`.
    pub warnings: usize,
}

/// A certificate that expires within this time draws a warning (14 days).
pub const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 86_400);
/// A certificate that expires within this time draws an error where
/// senders rely on it (3 days).
pub const EXPIRY_ERROR: Duration = Duration::from_secs(3 * 86_400);

/// The `_smtp._tls` TXT record.
#[derive(Debug, Clone, Serialize)]
pub struct TlsRptReport {
    /// `valid`, `absent`, `multiple`, `invalid` or `temperror`.
    pub status: RecordStatus,
    /// The `rua` URIs of the record.
    pub rua: Vec<String>,
    /// The name looked up (`_smtp._tls.<domain>`).
    pub name: String,
    /// Why the record is not valid.
    pub reason: Option<String>,
}

mta_sts_core::code_enum! {
    /// What the check found (the `code` of its findings): stable
    /// identifiers for scripts. Lint findings are prefixed `lint-`.
    pub enum CheckCode {
        /// See the finding message.
        StsRecordTemperror => "sts-record-temperror",
        /// See the finding message.
        StsRecordAbsent => "sts-record-absent",
        /// See the finding message.
        StsRecordMultiple => "sts-record-multiple",
        /// See the finding message.
        StsRecordInvalid => "sts-record-invalid",
        /// See the finding message.
        PolicyWithoutRecord => "policy-without-record",
        /// See the finding message.
        PolicyCertificate => "policy-certificate",
        /// See the finding message.
        PolicyTimeout => "policy-timeout",
        /// See the finding message.
        PolicyUnreachable => "policy-unreachable",
        /// See the finding message.
        PolicyRedirect => "policy-redirect",
        /// See the finding message.
        PolicyHttpStatus => "policy-http-status",
        /// See the finding message.
        PolicyContentType => "policy-content-type",
        /// See the finding message.
        PolicyTooLarge => "policy-too-large",
        /// See the finding message.
        PolicyInvalid => "policy-invalid",
        /// See the finding message.
        PolicyCertificateExpiring => "policy-certificate-expiring",
        /// See the finding message.
        MxLookup => "mx-lookup",
        /// See the finding message.
        NullMx => "null-mx",
        /// See the finding message.
        MxImplicit => "mx-implicit",
        /// See the finding message.
        MxNotInPolicy => "mx-not-in-policy",
        /// See the finding message.
        MxNoAddress => "mx-no-address",
        /// See the finding message.
        MxNoneProbed => "mx-none-probed",
        /// See the finding message.
        MxUnreachable => "mx-unreachable",
        /// See the finding message.
        MxStarttlsNotSupported => "mx-starttls-not-supported",
        /// See the finding message.
        MxCertificateHostMismatch => "mx-certificate-host-mismatch",
        /// See the finding message.
        MxCertificateExpired => "mx-certificate-expired",
        /// See the finding message.
        MxCertificateNotTrusted => "mx-certificate-not-trusted",
        /// See the finding message.
        MxValidationFailure => "mx-validation-failure",
        /// See the finding message.
        MxCertificateExpiring => "mx-certificate-expiring",
        /// See the finding message.
        MxNotProbed => "mx-not-probed",
        /// See the finding message.
        DaneTlsa => "dane-tlsa",
        /// See the finding message.
        DaneLookup => "dane-lookup",
        /// See the finding message.
        TlsrptTemperror => "tlsrpt-temperror",
        /// See the finding message.
        TlsrptAbsent => "tlsrpt-absent",
        /// See the finding message.
        TlsrptMultiple => "tlsrpt-multiple",
        /// See the finding message.
        TlsrptInvalid => "tlsrpt-invalid",
        /// The policy lint: see `LintCode::TestingMode`.
        LintTestingMode => "lint-testing-mode",
        /// The policy lint: see `LintCode::NoneMode`.
        LintNoneMode => "lint-none-mode",
        /// The policy lint: see `LintCode::NoneLongMaxAge`.
        LintNoneLongMaxAge => "lint-none-long-max-age",
        /// The policy lint: see `LintCode::ZeroMaxAge`.
        LintZeroMaxAge => "lint-zero-max-age",
        /// The policy lint: see `LintCode::ShortMaxAge`.
        LintShortMaxAge => "lint-short-max-age",
        /// The policy lint: see `LintCode::DuplicateField`.
        LintDuplicateField => "lint-duplicate-field",
        /// The policy lint: see `LintCode::DuplicateMx`.
        LintDuplicateMx => "lint-duplicate-mx",
        /// The policy lint: see `LintCode::WildcardPublicSuffix`.
        LintWildcardPublicSuffix => "lint-wildcard-public-suffix",
        /// The policy lint: see `LintCode::SingleLabelMx`.
        LintSingleLabelMx => "lint-single-label-mx",
        /// The policy lint: see `LintCode::MxNeverMatches`.
        LintMxNeverMatches => "lint-mx-never-matches",
        /// The policy lint: see `LintCode::MxCoveredByWildcard`.
        LintMxCoveredByWildcard => "lint-mx-covered-by-wildcard",
        /// The policy lint: see `LintCode::NoneWithMx`.
        LintNoneWithMx => "lint-none-with-mx",
        /// The policy lint: see `LintCode::UnknownField`.
        LintUnknownField => "lint-unknown-field",
        /// The policy lint: see `LintCode::LenientParse`.
        LintLenientParse => "lint-lenient-parse",
    }
}

impl CheckCode {
    /// The check's code for a policy lint finding.
    pub fn from_lint(code: LintCode) -> Self {
        match code {
            LintCode::TestingMode => Self::LintTestingMode,
            LintCode::NoneMode => Self::LintNoneMode,
            LintCode::NoneLongMaxAge => Self::LintNoneLongMaxAge,
            LintCode::ZeroMaxAge => Self::LintZeroMaxAge,
            LintCode::ShortMaxAge => Self::LintShortMaxAge,
            LintCode::DuplicateField => Self::LintDuplicateField,
            LintCode::DuplicateMx => Self::LintDuplicateMx,
            LintCode::WildcardPublicSuffix => Self::LintWildcardPublicSuffix,
            LintCode::SingleLabelMx => Self::LintSingleLabelMx,
            LintCode::MxNeverMatches => Self::LintMxNeverMatches,
            LintCode::MxCoveredByWildcard => Self::LintMxCoveredByWildcard,
            LintCode::NoneWithMx => Self::LintNoneWithMx,
            LintCode::UnknownField => Self::LintUnknownField,
            LintCode::LenientParse => Self::LintLenientParse,
            // A lint code newer than this match: reported as the closest kind.
            _ => Self::LintUnknownField,
        }
    }
}

/// One finding: what is wrong and how to fix it.
pub type Finding = mta_sts_core::finding::Finding<CheckCode>;

/// The result of [`check_domain`] (the JSON of `mtasts check --json`).
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The domain checked (A-labels, lower case).
    pub domain: String,
    /// Whether no finding is an error.
    pub passed: bool,
    /// The `_mta-sts` record.
    pub sts_record: StsRecordReport,
    /// The policy.
    pub policy: PolicyReport,
    /// What senders apply.
    pub applied: Applied,
    /// The MX hosts in preference order.
    pub mx: Vec<MxReport>,
    /// The `_smtp._tls` record.
    pub tlsrpt_record: TlsRptReport,
    /// Everything found, in check order.
    pub findings: Vec<Finding>,
    /// The report in one line.
    pub summary: Summary,
}

impl CheckReport {
    /// Whether anything would make senders fail or skip the policy (a
    /// finding of severity `error`).
    pub fn exit_failed(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The number of findings of `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Normalise a domain given by a user (see [`mta_sts_core::domain::normalize`]).
pub use mta_sts_core::domain::normalize as normalize_domain;

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, severity: Severity, code: CheckCode, message: String, remediation: String) {
        self.0.push(Finding {
            severity,
            code,
            message,
            remediation,
        });
    }
}

/// Why [`check_domain`] could not run (setup problems only: everything
/// found on the network is in the [`CheckReport`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The domain given is not a domain name.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The resolver, the trust anchors or the TLS client could not be set up.
    #[error(transparent)]
    Setup(#[from] FetchError),
    /// The task checking a domain ended abnormally (a bug: it panicked).
    #[error("the check of {domain} stopped")]
    Task {
        /// The domain, as given.
        domain: String,
        /// Why the task ended.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// What the network returned for one domain: the input of [`assess`].
///
/// [`check_domain`] fills it from DNS, HTTPS and SMTP; tests and other
/// front ends can build it directly (start from [`Observations::new`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Observations {
    /// The domain checked (already normalised: A-labels, lower case).
    pub domain: String,
    /// The answer for `_mta-sts.<domain>` TXT.
    pub sts_txt: TxtAnswer,
    /// The response to `GET https://mta-sts.<domain>/.well-known/mta-sts.txt`.
    pub policy: Result<HttpResponse, FetchFailure>,
    /// The MX lookup and the probe of each MX host.
    pub mx: MxObservation,
    /// The answer for `_smtp._tls.<domain>` TXT.
    pub tlsrpt_txt: TxtAnswer,
    /// The fetch timeout that was in force (named in findings).
    pub fetch_timeout: Duration,
    /// The SMTP port that was probed (named in findings).
    pub smtp_port: u16,
    /// The TLS handshake with the policy host (`mta-sts.<domain>`), for its
    /// certificate's expiry; `None` when it was not reached (the policy
    /// fetch reports why).
    pub policy_tls: Option<TlsOutcome>,
    /// The time certificates are judged at for expiry warnings; `None`
    /// judges no expiry (the assessment itself reads no clock).
    pub now: Option<SystemTime>,
}

impl Observations {
    /// Observations of `domain` with nothing found yet: no TXT records, a
    /// policy fetch that failed to connect, no MX records (so no hosts
    /// probed), default timeout and port 25.
    pub fn new(domain: impl Into<String>) -> Self {
        Self {
            domain: domain.into(),
            sts_txt: TxtAnswer::NoRecord,
            policy: Err(FetchFailure {
                result_type: ResultType::StsPolicyFetchError,
                reason: "not fetched".into(),
            }),
            mx: MxObservation::default(),
            tlsrpt_txt: TxtAnswer::NoRecord,
            fetch_timeout: CheckOptions::default().fetch_timeout,
            smtp_port: 25,
            policy_tls: None,
            now: None,
        }
    }

    /// With this `_mta-sts` TXT answer.
    pub fn with_sts_txt(mut self, answer: TxtAnswer) -> Self {
        self.sts_txt = answer;
        self
    }

    /// With this policy response (or fetch failure).
    pub fn with_policy(mut self, policy: Result<HttpResponse, FetchFailure>) -> Self {
        self.policy = policy;
        self
    }

    /// With this MX lookup and these probes.
    pub fn with_mx(mut self, mx: MxObservation) -> Self {
        self.mx = mx;
        self
    }

    /// With this `_smtp._tls` TXT answer.
    pub fn with_tlsrpt_txt(mut self, answer: TxtAnswer) -> Self {
        self.tlsrpt_txt = answer;
        self
    }

    /// With this TLS handshake with the policy host.
    pub fn with_policy_tls(mut self, tls: TlsOutcome) -> Self {
        self.policy_tls = Some(tls);
        self
    }

    /// Judge certificate expiry at `now`.
    pub fn with_now(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }
}

/// The MX lookup of a domain and the probe of each host.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MxObservation {
    /// The MX lookup failed (temporary failure), with why.
    pub error: Option<String>,
    /// There were no MX records: the domain itself is the implicit MX.
    pub implicit: bool,
    /// The domain publishes a null MX (RFC 7505); nothing was probed.
    pub null_mx: bool,
    /// The MX hosts in preference order, each with its addresses and probe.
    pub hosts: Vec<MxHostObservation>,
    /// The SMTP probes were turned off ([`CheckOptions::probe_smtp`]): no
    /// host has a probe, and that is not a failure.
    pub probes_skipped: bool,
}

impl MxObservation {
    /// The MX lookup failed with `error`.
    pub fn failed(error: impl Into<String>) -> Self {
        Self {
            error: Some(error.into()),
            ..Self::default()
        }
    }

    /// A null MX (RFC 7505): the domain accepts no mail.
    pub fn null_mx() -> Self {
        Self {
            null_mx: true,
            ..Self::default()
        }
    }

    /// These hosts, found as MX records (not implicit).
    pub fn hosts(hosts: Vec<MxHostObservation>) -> Self {
        Self {
            hosts,
            ..Self::default()
        }
    }

    /// The same, with the SMTP probes turned off.
    pub fn without_probes(mut self) -> Self {
        self.probes_skipped = true;
        self
    }
}

/// One MX host with its addresses and probe.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MxHostObservation {
    /// The MX record.
    pub mx: Mx,
    /// Its addresses, or why they could not be looked up.
    pub addresses: Result<Vec<IpAddr>, String>,
    /// The SMTP probe, when there were addresses (and probes are on).
    pub probe: Option<ProbeResult>,
    /// The TLSA lookup at `_25._tcp.<host>`, or why it failed; `None` when
    /// not looked up.
    pub tlsa: Option<Result<TlsaAnswer, String>>,
}

impl MxHostObservation {
    /// `host` at `preference`, with these addresses and probe.
    pub fn new(
        preference: u16,
        host: impl Into<String>,
        addresses: Result<Vec<IpAddr>, String>,
        probe: Option<ProbeResult>,
    ) -> Self {
        Self {
            mx: Mx {
                preference,
                host: host.into(),
            },
            addresses,
            probe,
            tlsa: None,
        }
    }

    /// With this TLSA lookup.
    pub fn with_tlsa(mut self, tlsa: Result<TlsaAnswer, String>) -> Self {
        self.tlsa = Some(tlsa);
        self
    }
}

/// Check `domain` end to end (see the module docs): look everything up,
/// then [`assess`] it. Errors are setup problems only (invalid domain,
/// unreadable CA file, resolver configuration); everything found on the
/// network is in the report. To check several domains, set up one
/// [`Checker`] and use [`Checker::check_each`].
pub async fn check_domain(
    domain: &str,
    overrides: &Overrides,
    options: &CheckOptions,
) -> Result<CheckReport, CheckError> {
    let domain = normalize_domain(domain)?;
    Checker::new(overrides, options)?.check(&domain).await
}

/// The resolver, trust anchors, HTTPS client and probe settings of
/// [`check_domain`], set up once for any number of domains. Cloning is
/// cheap (the clones share everything).
///
/// ```no_run
/// # async fn demo() -> Result<(), mta_sts_check::CheckError> {
/// use std::ops::ControlFlow;
/// use mta_sts_check::{CheckOptions, Checker};
/// use policy_fetch::Overrides;
///
/// let checker = Checker::new(&Overrides::default(), &CheckOptions::default())?;
/// let domains = vec!["example.com".to_owned(), "example.net".to_owned()];
/// checker
///     .check_each(domains, 8, |_, domain, result| {
///         match result {
///             Ok(report) => println!("{domain}: passed {}", report.passed),
///             Err(e) => println!("{domain}: {e}"),
///         }
///         ControlFlow::Continue(())
///     })
///     .await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Checker {
    inner: Arc<CheckerInner>,
}

struct CheckerInner {
    dns: Dns,
    client: PolicyClient,
    probe: Arc<ProbeConfig>,
    policy_tls: ProbeConfig,
    options: CheckOptions,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Checker {
    /// Set up the resolver, the trust anchors and the HTTPS client.
    pub fn new(overrides: &Overrides, options: &CheckOptions) -> Result<Self, CheckError> {
        let dns = overrides.dns()?;
        let roots = overrides.roots()?;
        let fetch = overrides.fetch_config();
        let https_port = fetch.port;
        let client = PolicyClient::new(
            dns.clone(),
            &roots,
            FetchConfig {
                total_timeout: options.fetch_timeout,
                connect_timeout: options.connect_timeout,
                ..fetch
            },
        )?;
        let mut probe = ProbeConfig::new(roots.root_store().clone());
        probe.port = overrides.smtp_port();
        probe.connect_timeout = options.connect_timeout;
        probe.timeout = options.probe_timeout;
        probe.ehlo_name.clone_from(&options.ehlo_name);
        let mut policy_tls = probe.clone();
        policy_tls.port = https_port;
        policy_tls.timeout = options.fetch_timeout;
        Ok(Self {
            inner: Arc::new(CheckerInner {
                dns,
                client,
                probe: Arc::new(probe),
                policy_tls,
                options: options.clone(),
            }),
        })
    }

    /// Check one domain (see [`check_domain`]); the error is an invalid
    /// domain name.
    pub async fn check(&self, domain: &str) -> Result<CheckReport, CheckError> {
        let domain = normalize_domain(domain)?;
        let i = &*self.inner;
        let sts_name = mta_sts_core::record::txt_name(&domain);
        let rpt_name = tlsrpt_core::record::txt_name(&domain);
        let (sts_txt, policy, mx, tlsrpt_txt, policy_tls) = tokio::join!(
            i.dns.txt(&sts_name),
            i.client.fetch(&domain),
            lookup_and_probe(&i.dns, &domain, &i.probe, &i.options),
            i.dns.txt(&rpt_name),
            policy_host_tls(&i.dns, &domain, &i.policy_tls),
        );
        Ok(assess(Observations {
            domain,
            sts_txt,
            policy,
            mx,
            tlsrpt_txt,
            fetch_timeout: i.options.fetch_timeout,
            smtp_port: i.probe.port,
            policy_tls,
            now: Some(SystemTime::now()),
        }))
    }

    /// Check every domain of `domains`, at most `concurrency` at once (0
    /// counts as 1), and call `each` with the position, the domain as given
    /// and its result, **in input order**. A finished check waits for the
    /// earlier ones; at most `4 × concurrency` checks are started ahead of
    /// the oldest unfinished one, so memory stays bounded however long the
    /// list. `each` returning [`ControlFlow::Break`] stops: the checks
    /// under way are aborted and no more are started.
    pub async fn check_each<I, F>(&self, domains: I, concurrency: usize, mut each: F)
    where
        I: IntoIterator<Item = String>,
        F: FnMut(usize, &str, Result<CheckReport, CheckError>) -> ControlFlow<()>,
    {
        let concurrency = concurrency.max(1);
        let window = concurrency.saturating_mul(4);
        let permits = Arc::new(Semaphore::new(concurrency));
        let mut pending = VecDeque::new();
        let mut domains = domains.into_iter();
        let mut index = 0;
        loop {
            while pending.len() < window {
                let Some(domain) = domains.next() else { break };
                let (checker, permits, name) = (self.clone(), permits.clone(), domain.clone());
                let task = tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await.ok();
                    checker.check(&name).await
                });
                pending.push_back((domain, task));
            }
            let Some((domain, task)) = pending.pop_front() else {
                break;
            };
            let result = match task.await {
                Ok(r) => r,
                Err(source) => Err(CheckError::Task {
                    domain: domain.clone(),
                    source,
                }),
            };
            if each(index, &domain, result).is_break() {
                for (_, task) in &pending {
                    task.abort();
                }
                break;
            }
            index += 1;
        }
    }
}

/// The handshake with the policy host, for its certificate; `None` when it
/// has no address or cannot be reached.
async fn policy_host_tls(dns: &Dns, domain: &str, config: &ProbeConfig) -> Option<TlsOutcome> {
    let host = policy_host(domain);
    let addrs = dns.ips(&host).await.ok()?;
    smtp::probe_tls(&host, &addrs, config).await.ok()
}

/// Judge what the network returned (no IO): the record, the policy (strict
/// reader, lint), the MX hosts against the policy and their TLS, and the
/// TLS-RPT record, with a finding and its fix for everything wrong.
pub fn assess(seen: Observations) -> CheckReport {
    let Observations {
        domain,
        sts_txt,
        policy: fetched,
        mx,
        tlsrpt_txt,
        fetch_timeout,
        smtp_port,
        policy_tls,
        now,
    } = seen;
    let sts_name = mta_sts_core::record::txt_name(&domain);
    let rpt_name = tlsrpt_core::record::txt_name(&domain);
    let mut f = Findings::default();
    let sts_record = sts_record_report(&domain, sts_name, &sts_txt, &mut f);
    let record_valid = sts_record.status == RecordStatus::Valid;
    let (mut policy, applied_policy) =
        policy_report(&domain, record_valid, &fetched, fetch_timeout, &mut f);
    policy_certificate(
        &domain,
        &mut policy,
        policy_tls.as_ref(),
        applied_policy.is_some(),
        now,
        &mut f,
    );
    let applied = match applied_policy.as_ref().map(Policy::mode) {
        Some(Mode::Enforce) => Applied::Enforce,
        Some(Mode::Testing) => Applied::Testing,
        Some(Mode::None) => Applied::None,
        None => Applied::NoPolicy,
    };
    let mx = mx_reports(&domain, mx, applied_policy.as_ref(), smtp_port, now, &mut f);
    dane_findings(&mx, &mut f);
    let tlsrpt_record = tlsrpt_report(&domain, rpt_name, &tlsrpt_txt, &mut f);
    let findings = f.0;
    let summary = summarize(
        &sts_record,
        &policy,
        applied,
        &mx,
        &tlsrpt_record,
        &findings,
    );
    CheckReport {
        passed: !findings.iter().any(|f| f.severity == Severity::Error),
        domain,
        sts_record,
        policy,
        applied,
        mx,
        tlsrpt_record,
        findings,
        summary,
    }
}

/// How soon a certificate expires, when that is worth a finding:
/// `(urgent, message)`, urgent within [`EXPIRY_ERROR`], else within
/// [`EXPIRY_WARNING`].
fn expiring(not_after_unix: i64, not_after: &str, now: SystemTime) -> Option<(bool, String)> {
    let now = mta_sts_core::time::Timestamp::from_system_time(now).unix_secs();
    let left = not_after_unix.saturating_sub(now);
    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    if left > secs(EXPIRY_WARNING) {
        return None;
    }
    let when = if left <= 0 {
        format!("expired at {not_after}")
    } else if left < 86_400 {
        format!("expires at {not_after}, in less than a day")
    } else {
        // Rounded to the nearest day: a certificate checked a few seconds
        // after it was issued for 10 days expires "in 10 days".
        let days = (left + 43_200) / 86_400;
        format!(
            "expires at {not_after}, in {days} day{}",
            if days == 1 { "" } else { "s" }
        )
    };
    Some((left <= secs(EXPIRY_ERROR), when))
}

/// The policy host's certificate: its `notAfter`, and a finding when it
/// expires soon (an error within [`EXPIRY_ERROR`] when the policy is in
/// use).
fn policy_certificate(
    domain: &str,
    r: &mut PolicyReport,
    tls: Option<&TlsOutcome>,
    in_use: bool,
    now: Option<SystemTime>,
    f: &mut Findings,
) {
    let Some(leaf) = tls.and_then(|t| t.leaf.as_ref()) else {
        return;
    };
    r.certificate_not_after = Some(leaf.not_after.clone());
    let valid = tls.is_some_and(|t| t.status == CertStatus::Valid);
    let Some((urgent, when)) = now
        .filter(|_| valid)
        .and_then(|now| expiring(leaf.not_after_unix, &leaf.not_after, now))
    else {
        return;
    };
    let host = policy_host(domain);
    let severity = if urgent && in_use {
        Severity::Error
    } else {
        Severity::Warning
    };
    f.push(
        severity,
        CheckCode::PolicyCertificateExpiring,
        format!("the certificate of {host} {when}: senders cannot fetch or refresh the policy once it has expired"),
        format!("renew the certificate of {host} now (and automate its renewal)"),
    );
}

/// One `info` finding for the TLSA records of the MX hosts (DANE takes
/// precedence over MTA-STS), a warning for each failed TLSA lookup.
fn dane_findings(mx: &[MxReport], f: &mut Findings) {
    let mut present = Vec::new();
    let mut unknown = false;
    for m in mx {
        let Some(d) = &m.dane else { continue };
        match d.status {
            DaneStatus::Present => {
                let n = d.records.len();
                present.push(format!(
                    "{} ({n} record{}, DNSSEC {})",
                    d.name,
                    if n == 1 { "" } else { "s" },
                    d.dnssec.as_str()
                ));
                unknown |= d.dnssec == DnssecStatus::Unknown;
            }
            DaneStatus::Absent => {}
            DaneStatus::Error => f.push(
                Severity::Warning,
                CheckCode::DaneLookup,
                format!(
                    "the TLSA lookup for {} failed ({}): senders that support DANE defer mail to {} when its zone is DNSSEC-signed",
                    d.name,
                    d.error.as_deref().unwrap_or("unknown error"),
                    m.host
                ),
                format!(
                    "make sure the authoritative DNS servers of {} answer TLSA queries (NXDOMAIN or an empty answer when there are no records)",
                    m.host
                ),
            ),
        }
    }
    if present.is_empty() {
        return;
    }
    let note = if unknown {
        " (DNSSEC unknown: the resolver did not set the AD bit, and this check does not validate DNSSEC itself)"
    } else {
        ""
    };
    f.push(
        Severity::Info,
        CheckCode::DaneTlsa,
        format!(
            "DANE: TLSA records at {}: senders that support DANE (RFC 7672) use it instead of MTA-STS (RFC 8461 section 2), and ignore TLSA records that DNSSEC does not validate{note}",
            present.join(", ")
        ),
        "keep the TLSA records in step with the MX certificates (publish the next key's record before a rollover) and the zones DNSSEC-signed; MTA-STS still protects mail from senders without DANE".into(),
    );
}

/// The report in one line.
fn summarize(
    record: &StsRecordReport,
    policy: &PolicyReport,
    applied: Applied,
    mx: &[MxReport],
    tlsrpt: &TlsRptReport,
    findings: &[Finding],
) -> Summary {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let has = |c: CheckCode| findings.iter().any(|f| f.code == c);
    let policy_invalid_cert = policy.status == PolicyStatus::Failed(ResultType::StsWebpkiInvalid);
    let certificates = if policy_invalid_cert
        || mx
            .iter()
            .any(|m| m.certificate.is_some_and(|c| c != CertStatus::Valid))
    {
        CertificatesSummary::Invalid
    } else if has(CheckCode::MxCertificateExpiring) || has(CheckCode::PolicyCertificateExpiring) {
        CertificatesSummary::Expiring
    } else if mx.iter().any(|m| m.certificate.is_some()) {
        CertificatesSummary::Ok
    } else if mx.iter().any(|m| m.probe == ProbeState::Done) {
        CertificatesSummary::None
    } else {
        CertificatesSummary::NotProbed
    };
    let danes: Vec<&DaneReport> = mx.iter().filter_map(|m| m.dane.as_ref()).collect();
    let with_tlsa: Vec<&&DaneReport> = danes
        .iter()
        .filter(|d| d.status == DaneStatus::Present)
        .collect();
    let dane = if danes.iter().any(|d| d.status == DaneStatus::Error) {
        DaneSummary::Error
    } else if with_tlsa.is_empty() {
        DaneSummary::None
    } else if with_tlsa
        .iter()
        .all(|d| d.dnssec == DnssecStatus::Validated)
    {
        DaneSummary::Validated
    } else {
        DaneSummary::Present
    };
    Summary {
        record: record.status,
        policy: policy.status.clone(),
        mode: policy.mode,
        mx_covered: matches!(applied, Applied::Enforce | Applied::Testing)
            .then(|| mx.iter().filter(|m| m.in_policy == Some(true)).count()),
        mx_total: mx.len(),
        certificates,
        tlsrpt: tlsrpt.status,
        dane,
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
    }
}

fn lossy(rrs: &[Vec<u8>]) -> Vec<String> {
    rrs.iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect()
}

fn sts_record_report(
    domain: &str,
    name: String,
    answer: &TxtAnswer,
    f: &mut Findings,
) -> StsRecordReport {
    let mut r = StsRecordReport {
        status: RecordStatus::Absent,
        id: None,
        name,
        records: Vec::new(),
        reason: None,
    };
    let publish = format!(
        "publish one TXT record `{}. TXT \"v=STSv1; id=YYYYMMDDhhmmss\"` (change the id whenever the policy changes)",
        r.name
    );
    match answer {
        TxtAnswer::TempFail(e) => {
            r.status = RecordStatus::Temperror;
            r.reason = Some(e.clone());
            f.push(
                Severity::Error,
                CheckCode::StsRecordTemperror,
                format!("the lookup of {} failed: {e}", r.name),
                format!(
                    "make sure the authoritative DNS servers of {domain} answer TXT queries for {}",
                    r.name
                ),
            );
        }
        TxtAnswer::NoRecord => {
            r.reason = Some("no TXT record".into());
            f.push(
                Severity::Warning,
                CheckCode::StsRecordAbsent,
                format!(
                    "no {} TXT record: MTA-STS is not deployed (senders never look for a policy)",
                    r.name
                ),
                publish,
            );
        }
        TxtAnswer::Records(rrs) => {
            r.records = lossy(rrs);
            match StsRecord::select(rrs) {
                Ok(rec) => {
                    r.status = RecordStatus::Valid;
                    r.id = Some(rec.id().to_owned());
                }
                Err(SelectErrorOf::Multiple { count }) => {
                    r.status = RecordStatus::Multiple;
                    r.reason = Some(format!("{count} records start with v=STSv1"));
                    f.push(
                        Severity::Error,
                        CheckCode::StsRecordMultiple,
                        format!("{count} TXT records at {} start with v=STSv1: senders ignore them all (RFC 8461 3.1)", r.name),
                        "keep exactly one `v=STSv1; id=...` record and delete the others".into(),
                    );
                }
                Err(SelectErrorOf::Invalid { error, .. }) => {
                    r.status = RecordStatus::Invalid;
                    r.reason = Some(error.to_string());
                    f.push(
                        Severity::Error,
                        CheckCode::StsRecordInvalid,
                        format!(
                            "the {} record is invalid ({error}): senders ignore it",
                            r.name
                        ),
                        "fix it to `v=STSv1; id=<1 to 32 letters and digits>`".into(),
                    );
                }
                Err(_) => {
                    r.reason = Some("no TXT record starts with v=STSv1".into());
                    f.push(
                        Severity::Warning,
                        CheckCode::StsRecordAbsent,
                        format!(
                            "no TXT record at {} starts with v=STSv1: MTA-STS is not deployed (senders never look for a policy)",
                            r.name
                        ),
                        publish,
                    );
                }
            }
        }
    }
    r
}

/// How to fix a policy that cannot be obtained or is invalid: code,
/// message, remediation.
fn policy_problem(
    domain: &str,
    fetched: &Result<HttpResponse, FetchFailure>,
    reason: &str,
    fetch_timeout: Duration,
) -> (CheckCode, String, String) {
    let host = policy_host(domain);
    let url = policy_url(domain);
    match fetched {
        Err(ff) if ff.result_type == ResultType::StsWebpkiInvalid => (
            CheckCode::PolicyCertificate,
            format!("the certificate of {host} is not valid: {}", ff.reason),
            format!(
                "install a certificate for {host} from a public CA: unexpired, with {host} in its subjectAltName, sent with its intermediate certificates"
            ),
        ),
        Err(ff) if ff.reason.contains("timed out") => (
            CheckCode::PolicyTimeout,
            format!("fetching {url} failed: {}", ff.reason),
            format!(
                "make {host} answer the whole policy within {} s (senders give up after about a minute)",
                fetch_timeout.as_secs_f64()
            ),
        ),
        Err(ff) => (
            CheckCode::PolicyUnreachable,
            format!("fetching {url} failed: {}", ff.reason),
            format!(
                "publish A/AAAA records for {host} and serve the policy over HTTPS on port 443"
            ),
        ),
        Ok(resp) if (300..400).contains(&resp.status) => (
            CheckCode::PolicyRedirect,
            format!(
                "{url} answers HTTP {} (a redirect): senders do not follow redirects (RFC 8461 3.3)",
                resp.status
            ),
            format!("serve the policy directly at {url} with status 200"),
        ),
        Ok(resp) if resp.status != 200 => (
            CheckCode::PolicyHttpStatus,
            format!("{url} answers HTTP {} (only 200 is accepted)", resp.status),
            format!("serve the policy at {url} with status 200"),
        ),
        Ok(resp)
            if !resp.content_type.as_deref().is_some_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/plain"))
            }) =>
        {
            let message = match &resp.content_type {
                Some(ct) => format!("policy served with Content-Type {ct}"),
                None => "policy served without a Content-Type".to_owned(),
            };
            (
                CheckCode::PolicyContentType,
                message,
                "serve it as text/plain".into(),
            )
        }
        Ok(resp) if resp.body.len() > MAX_POLICY_BODY => (
            CheckCode::PolicyTooLarge,
            format!("the policy body is larger than {MAX_POLICY_BODY} bytes (64 KiB)"),
            "keep the policy under 64 KiB: it needs only the version, mode, max_age and mx lines"
                .into(),
        ),
        Ok(resp) => {
            let lenient = std::str::from_utf8(&resp.body)
                .ok()
                .is_some_and(|t| Policy::parse_lenient(t).is_ok());
            let note = if lenient {
                " (lenient senders accept it, RFC-strict ones ignore it)"
            } else {
                ""
            };
            (
                CheckCode::PolicyInvalid,
                format!("the policy at {url} is invalid: {reason}{note}"),
                "fix the policy as RFC 8461 section 3.2 says (`mtasts policy lint FILE` shows the problems)".into(),
            )
        }
    }
}

fn policy_report(
    domain: &str,
    record_valid: bool,
    fetched: &Result<HttpResponse, FetchFailure>,
    fetch_timeout: Duration,
    f: &mut Findings,
) -> (PolicyReport, Option<Policy<'static>>) {
    let url = policy_url(domain);
    let mut r = PolicyReport {
        status: PolicyStatus::NotAttempted,
        reason: None,
        url: url.clone(),
        http_status: None,
        content_type: None,
        mode: None,
        max_age: None,
        mx: Vec::new(),
        lint: Vec::new(),
        certificate_not_after: None,
    };
    if let Ok(resp) = fetched {
        r.http_status = Some(resp.status);
        r.content_type.clone_from(&resp.content_type);
    }
    let checked = match fetched {
        Ok(resp) => Discovery::check_response(resp, Options { strict: true }).map(|(p, _, _)| p),
        Err(ff) => Err(mta_sts_core::discovery::PolicyFailure {
            result_type: ff.result_type.clone(),
            reason: ff.reason.clone(),
        }),
    };
    if !record_valid {
        r.reason = Some("no valid _mta-sts TXT record: senders do not fetch the policy".into());
        if let Ok(p) = &checked {
            r.reason = Some(format!(
                "no valid _mta-sts TXT record: senders do not fetch the policy (a valid {} policy is served anyway)",
                p.mode()
            ));
            f.push(
                Severity::Warning,
                CheckCode::PolicyWithoutRecord,
                format!("a valid {} policy is served at {url}, but without a valid _mta-sts TXT record senders never fetch it", p.mode()),
                "publish the _mta-sts TXT record (see above)".into(),
            );
        }
        return (r, None);
    }
    match checked {
        Ok(p) => {
            r.status = PolicyStatus::Ok;
            r.mode = Some(p.mode());
            r.max_age = Some(p.max_age());
            r.mx = p.mx().iter().map(ToString::to_string).collect();
            r.lint = p.lint();
            for l in &r.lint {
                f.push(
                    l.severity,
                    CheckCode::from_lint(l.code),
                    format!("policy: {}", l.message),
                    l.code.remediation().to_owned(),
                );
            }
            (r, Some(p))
        }
        Err(pf) => {
            let (code, message, remediation) =
                policy_problem(domain, fetched, &pf.reason, fetch_timeout);
            f.push(
                Severity::Error,
                code,
                format!("{message}: senders cannot use the policy"),
                remediation,
            );
            r.status = PolicyStatus::Failed(pf.result_type);
            r.reason = Some(pf.reason);
            (r, None)
        }
    }
}

async fn lookup_and_probe(
    dns: &Dns,
    domain: &str,
    config: &Arc<ProbeConfig>,
    options: &CheckOptions,
) -> MxObservation {
    let mut out = MxObservation {
        probes_skipped: !options.probe_smtp,
        ..MxObservation::default()
    };
    let mut mxs = match dns.mx(domain).await {
        Ok(m) => m,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    if mxs.is_empty() {
        out.implicit = true;
        mxs.push(Mx {
            preference: 0,
            host: domain.to_owned(),
        });
    }
    if mxs.iter().any(|m| m.host.is_empty()) {
        out.null_mx = true;
        return out;
    }
    let sem = Arc::new(Semaphore::new(options.max_concurrent_probes.max(1)));
    let probe_smtp = options.probe_smtp;
    let mut set = JoinSet::new();
    for (i, mx) in mxs.iter().enumerate() {
        let (dns, config, sem, mx) = (dns.clone(), config.clone(), sem.clone(), mx.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await.ok();
            let tlsa_at = tlsa_name(&mx.host);
            let (addresses, tlsa) = tokio::join!(dns.ips(&mx.host), dns.tlsa(&tlsa_at));
            let addresses = addresses.map_err(|e| e.to_string());
            let probe = match &addresses {
                Ok(a) if probe_smtp => Some(smtp::probe(&mx.host, a, &config).await),
                _ => None,
            };
            (
                i,
                MxHostObservation {
                    mx,
                    addresses,
                    probe,
                    tlsa: Some(tlsa.map_err(|e| e.to_string())),
                },
            )
        });
    }
    let mut done: Vec<Option<MxHostObservation>> = mxs.iter().map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, p)) = joined
            && let Some(slot) = done.get_mut(i)
        {
            *slot = Some(p);
        }
    }
    out.hosts = mxs
        .into_iter()
        .zip(done)
        .map(|(mx, d)| {
            d.unwrap_or(MxHostObservation {
                mx,
                addresses: Err("probe task failed".into()),
                probe: None,
                tlsa: None,
            })
        })
        .collect();
    out
}

/// The TLSA report of an MX host.
fn dane_report(host: &str, tlsa: Result<TlsaAnswer, String>) -> DaneReport {
    let name = tlsa_name(host);
    match tlsa {
        Ok(a) => DaneReport {
            name,
            status: if a.records.is_empty() {
                DaneStatus::Absent
            } else {
                DaneStatus::Present
            },
            records: a.records.iter().map(ToString::to_string).collect(),
            dnssec: if a.authentic_data {
                DnssecStatus::Validated
            } else {
                DnssecStatus::Unknown
            },
            error: None,
        },
        Err(e) => DaneReport {
            name,
            status: DaneStatus::Error,
            records: Vec::new(),
            dnssec: DnssecStatus::Unknown,
            error: Some(e),
        },
    }
}

fn mx_reports(
    domain: &str,
    lookup: MxObservation,
    policy: Option<&Policy<'static>>,
    port: u16,
    now: Option<SystemTime>,
    f: &mut Findings,
) -> Vec<MxReport> {
    // The policy MX hosts are judged against (none under `mode: none`).
    let enforced = policy.filter(|p| p.mode() != Mode::None);
    if let Some(e) = &lookup.error {
        f.push(
            Severity::Error,
            CheckCode::MxLookup,
            format!("the MX lookup for {domain} failed: {e}"),
            format!("make sure the authoritative DNS servers of {domain} answer MX queries"),
        );
        return Vec::new();
    }
    if lookup.null_mx {
        f.push(
            Severity::Info,
            CheckCode::NullMx,
            format!("{domain} publishes a null MX (RFC 7505): it accepts no mail, so no MX host was probed"),
            "nothing to do if the domain receives no mail".into(),
        );
        return Vec::new();
    }
    if lookup.implicit {
        f.push(
            Severity::Info,
            CheckCode::MxImplicit,
            format!("{domain} has no MX records: senders deliver to {domain} itself (implicit MX, RFC 5321 5.1)"),
            "publish MX records naming your mail hosts, and list them in the policy".into(),
        );
    }
    // Failures count as errors only where senders apply the policy.
    let strict_mode = policy.is_some_and(|p| p.mode() != Mode::None);
    let tls_severity = if strict_mode {
        Severity::Error
    } else {
        Severity::Warning
    };
    let total = lookup.hosts.len();
    let mut probed = 0;
    let mut out = Vec::new();
    if lookup.probes_skipped && total > 0 {
        f.push(
            Severity::Info,
            CheckCode::MxNotProbed,
            format!(
                "the MX hosts were not probed over SMTP (probes turned off): STARTTLS and the certificates of {total} MX host{} are not verified",
                if total == 1 { "" } else { "s" }
            ),
            format!("run the check without --no-smtp where outbound port {port} is open"),
        );
    }
    for MxHostObservation {
        mx,
        addresses,
        probe,
        tlsa,
    } in lookup.hosts
    {
        let host = mx.host.clone();
        let state = if addresses.is_err() {
            ProbeState::NoAddress
        } else if lookup.probes_skipped || probe.is_none() {
            ProbeState::NotProbed
        } else if probe.as_ref().and_then(ProbeResult::tls_status).is_some() {
            ProbeState::Done
        } else {
            ProbeState::Failed
        };
        let mut r = MxReport {
            host: host.clone(),
            preference: mx.preference,
            implicit: lookup.implicit,
            // Under `mode: none` no policy applies: neither yes nor no.
            in_policy: enforced.map(|p| p.matches_mx(&host)),
            pattern: enforced
                .and_then(|p| p.matching_pattern(&host))
                .map(ToString::to_string),
            addresses: addresses.clone().unwrap_or_default(),
            address: None,
            banner: None,
            starttls: None,
            tls_version: None,
            cipher: None,
            certificate: None,
            certificate_reason: None,
            certificate_names: Vec::new(),
            certificate_issuer: None,
            certificate_not_after: None,
            chain: Vec::new(),
            result: None,
            failures: Vec::new(),
            error: None,
            probe: state,
            dane: tlsa.map(|t| dane_report(&host, t)),
        };
        if strict_mode && r.in_policy == Some(false) {
            f.push(
                Severity::Error,
                CheckCode::MxNotInPolicy,
                format!("MX {host} is not covered by any mx pattern of the policy: senders refuse (enforce) or report (testing) it"),
                format!("add `mx: {host}` to the policy (and change the TXT id) or fix the MX record"),
            );
        }
        if let Err(e) = &addresses {
            r.error = Some(e.clone());
            f.push(
                Severity::Warning,
                CheckCode::MxNoAddress,
                format!("MX {host} has no usable address ({e}): senders cannot deliver to it"),
                format!("publish A/AAAA records for {host} or remove the MX record"),
            );
        }
        let mut tls = None;
        if let Some(p) = &probe {
            r.address = p.addr;
            r.banner.clone_from(&p.banner);
            r.starttls = p.starttls();
            r.error.clone_from(&p.error);
            if let Some(t) = &p.tls {
                r.tls_version.clone_from(&t.version);
                r.cipher.clone_from(&t.cipher);
                r.certificate = Some(t.status);
                r.certificate_reason = Some(t.reason.clone());
                r.chain.clone_from(&t.chain);
                if let Some(leaf) = &t.leaf {
                    r.certificate_names.clone_from(&leaf.dns_names);
                    r.certificate_issuer = Some(leaf.issuer.clone());
                    r.certificate_not_after = Some(leaf.not_after.clone());
                }
            }
            tls = p.tls_status();
            tls_findings(&r, p, tls_severity, port, f);
            if let (Some(t), Some(now)) = (&p.tls, now)
                && t.status == CertStatus::Valid
                && let Some(leaf) = &t.leaf
                && let Some((urgent, when)) = expiring(leaf.not_after_unix, &leaf.not_after, now)
            {
                f.push(
                    if urgent { tls_severity } else { Severity::Warning },
                    CheckCode::MxCertificateExpiring,
                    format!("the certificate of MX {host} {when}: senders applying the policy refuse it (enforce) or report it (testing) once it has expired"),
                    format!("renew the certificate of {host} now (and automate its renewal)"),
                );
            }
        }
        if tls.is_some() {
            probed += 1;
        }
        if let Some(p) = policy.filter(|p| p.mode() != Mode::None) {
            let d = decide(
                Some(p),
                &MxSession::new(&host, tls.clone().unwrap_or(TlsStatus::NotAttempted)),
            );
            r.failures = d.failures.iter().map(|x| x.result_type.clone()).collect();
            r.result = match (d.failures.first(), &tls) {
                (Some(x), _) => Some(x.result_type.to_string()),
                (None, Some(_)) if d.success => Some("success".into()),
                _ => None,
            };
        }
        out.push(r);
    }
    if total > 0 && probed == 0 && !lookup.probes_skipped {
        f.push(
            Severity::Error,
            CheckCode::MxNoneProbed,
            "no MX host could be probed: STARTTLS and the certificates of the MX hosts are unverified".into(),
            format!("make the MX hosts reachable on port {port}, or run the check where outbound SMTP is allowed"),
        );
    }
    out
}

fn tls_findings(r: &MxReport, p: &ProbeResult, severity: Severity, port: u16, f: &mut Findings) {
    let host = &r.host;
    match p.tls_status() {
        None => f.push(
            Severity::Warning,
            CheckCode::MxUnreachable,
            format!(
                "could not probe MX {host}: {}",
                p.error.as_deref().unwrap_or("unknown error")
            ),
            format!("check that {host} accepts SMTP connections on port {port} (outbound port 25 may also be blocked where this check runs)"),
        ),
        Some(TlsStatus::NoStartTls) => {
            let message = match &p.starttls_reply {
                Some(reply) if p.ehlo_starttls => {
                    format!("MX {host} offers STARTTLS but refuses it ({reply})")
                }
                _ => format!("MX {host} does not offer STARTTLS"),
            };
            f.push(
                severity,
                CheckCode::MxStarttlsNotSupported,
                message,
                format!("enable STARTTLS on {host} with a certificate for {host} from a public CA"),
            );
        }
        Some(_) => {
            let Some(t) = &p.tls else { return };
            let names = if r.certificate_names.is_empty() {
                "no subjectAltName dNSName".to_owned()
            } else {
                r.certificate_names.join(", ")
            };
            let (message, remediation) = match t.status {
                CertStatus::Valid => return,
                CertStatus::CertificateHostMismatch => (
                    format!("{host} presents a certificate for {names}"),
                    format!("add {host} to the certificate's subjectAltName (and present it for SNI {host})"),
                ),
                CertStatus::CertificateExpired => (
                    format!(
                        "{host} presents a certificate that expired at {}",
                        r.certificate_not_after.as_deref().unwrap_or("an earlier time")
                    ),
                    format!("renew the certificate of {host} (and automate its renewal)"),
                ),
                CertStatus::CertificateNotTrusted => (
                    format!(
                        "{host} presents a certificate that does not chain to a trusted root: {} (issuer: {})",
                        t.reason,
                        r.certificate_issuer.as_deref().unwrap_or("unknown")
                    ),
                    format!("use a certificate for {host} from a public CA and send the full chain (leaf, then intermediates)"),
                ),
                CertStatus::ValidationFailure => (
                    format!("TLS with {host} fails validation: {}", t.reason),
                    format!("check the certificate (validity period, key usage) and the TLS 1.2/1.3 configuration of {host}"),
                ),
            };
            let code = match t.status {
                CertStatus::Valid => return,
                CertStatus::CertificateHostMismatch => CheckCode::MxCertificateHostMismatch,
                CertStatus::CertificateExpired => CheckCode::MxCertificateExpired,
                CertStatus::CertificateNotTrusted => CheckCode::MxCertificateNotTrusted,
                CertStatus::ValidationFailure => CheckCode::MxValidationFailure,
            };
            f.push(severity, code, message, remediation);
        }
    }
}

fn tlsrpt_report(domain: &str, name: String, answer: &TxtAnswer, f: &mut Findings) -> TlsRptReport {
    let mut r = TlsRptReport {
        status: RecordStatus::Absent,
        rua: Vec::new(),
        name,
        reason: None,
    };
    let publish = format!(
        "publish `{}. TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\"` to receive reports of TLS failures",
        r.name
    );
    let mut problem =
        |r: &mut TlsRptReport, status, reason: String, code: CheckCode, message: String| {
            r.status = status;
            r.reason = Some(reason);
            f.push(Severity::Warning, code, message, publish.clone());
        };
    match answer {
        TxtAnswer::TempFail(e) => problem(
            &mut r,
            RecordStatus::Temperror,
            e.clone(),
            CheckCode::TlsrptTemperror,
            format!("the lookup of the TLS-RPT record failed: {e}"),
        ),
        TxtAnswer::NoRecord => {
            let n = r.name.clone();
            problem(
                &mut r,
                RecordStatus::Absent,
                "no TXT record".into(),
                CheckCode::TlsrptAbsent,
                format!("no {n} TXT record: nobody reports TLS failures to you"),
            );
        }
        TxtAnswer::Records(rrs) => match TlsRptRecord::select(rrs) {
            Ok(rec) => {
                r.rua = rec.rua().iter().map(|u| u.uri.to_string()).collect();
                if rec.is_usable() {
                    r.status = RecordStatus::Valid;
                } else {
                    problem(
                        &mut r,
                        RecordStatus::Invalid,
                        "no usable rua URI (only mailto: and https: are defined)".into(),
                        CheckCode::TlsrptInvalid,
                        "the TLS-RPT record has no usable rua URI (only mailto: and https: are defined): nobody reports to you".into(),
                    );
                }
            }
            Err(SelectErrorOf::Multiple { count }) => problem(
                &mut r,
                RecordStatus::Multiple,
                format!("{count} records start with v=TLSRPTv1"),
                CheckCode::TlsrptMultiple,
                format!(
                    "{count} TLS-RPT records start with v=TLSRPTv1: reporters ignore them all; keep exactly one"
                ),
            ),
            Err(SelectErrorOf::Invalid { error, .. }) => problem(
                &mut r,
                RecordStatus::Invalid,
                error.to_string(),
                CheckCode::TlsrptInvalid,
                format!("the TLS-RPT record is invalid: {error}"),
            ),
            Err(_) => {
                let n = r.name.clone();
                problem(
                    &mut r,
                    RecordStatus::Absent,
                    "no TXT record starts with v=TLSRPTv1".into(),
                    CheckCode::TlsrptAbsent,
                    format!(
                        "no TXT record at {n} starts with v=TLSRPTv1: nobody reports TLS failures to you"
                    ),
                );
            }
        },
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialize() {
        let s = |v: &dyn erased::Ser| v.json();
        assert_eq!(s(&PolicyStatus::Ok), "\"ok\"");
        assert_eq!(s(&PolicyStatus::NotAttempted), "\"not-attempted\"");
        assert_eq!(
            s(&PolicyStatus::Failed(ResultType::StsWebpkiInvalid)),
            "\"sts-webpki-invalid\""
        );
        assert_eq!(s(&Applied::NoPolicy), "\"no-policy\"");
        assert_eq!(s(&RecordStatus::Temperror), "\"temperror\"");
        assert_eq!(
            s(&CertStatus::CertificateHostMismatch),
            "\"certificate-host-mismatch\""
        );
    }

    mod erased {
        pub(super) trait Ser {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Ser for T {
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap()
            }
        }
    }
}
