//! libtlsrpt datagrams: the JSON a TLS-RPT-enabled MTA (Postfix 3.10+
//! through libtlsrpt) sends to a collector, one datagram per delivery
//! request, decoded into [`PolicyKey`]s, session results and
//! [`Failure`]s for a [`DayAggregate`].
//!
//! ```text
//! {"dpv":"1","d":"<recipient domain>","pr":"<_smtp._tls record>","policies":[
//!   {"policy-type":2,"policy-domain":"...","policy-string":["..."],"mx-host":["..."],
//!    "failure-details":[{"c":202,"s":"<sending-mta-ip>","n":"<receiving-mx-hostname>",
//!      "h":"<receiving-mx-helo>","r":"<receiving-ip>","a":"<additional-information>",
//!      "f":"<failure-reason-code>"}],
//!    "t":<number of failure details>,"f":<0 success | 1 failure>}]}
//! ```
//!
//! Each policy object is one session under that policy ([`DatagramPolicy`]):
//! `f` 0 a successful one, 1 a failed one, and every failure detail is
//! counted under its fields. Policy types: 1 `tlsa`, 2 `sts`, 9
//! `no-policy-found`. Failure codes map to result types as
//! [`result_type_for_code`] says.
//!
//! ## What is tolerated (with a [`DatagramWarning`]) and what is refused
//!
//! The reference collector (tlsrpt-reporter) is the yardstick: what it
//! counts, this counts too.
//!
//! | input | handling |
//! |---|---|
//! | no `dpv` (libtlsrpt before 0.5) | accepted, no warning |
//! | `dpv` other than `"1"` | accepted, warning `unknown-version` |
//! | no `pr` | accepted (the report's destinations are looked up anew) |
//! | no or empty `policy-domain` | filled from `d`, warning `policy-domain-from-delivery` |
//! | `t` not the number of failure details | accepted, warning `failure-count-mismatch` |
//! | failure code 901 (unfinished policy) | `validation-failure`, warning `unfinished-policy` |
//! | `f` 901 (libtlsrpt's final result for an unfinished policy) | a failed session, warning `unfinished-policy` |
//! | failure code not in the table | `validation-failure` with `failure-reason-code` `libtlsrpt failure code N` (if it had none), warning `unknown-failure-code` |
//! | `f` as `true`/`false` | read as 1/0 |
//! | bytes that are not UTF-8 (libtlsrpt copies bytes above 0x7F unescaped) | replaced by U+FFFD, warning `invalid-utf8` |
//! | `s` or `r` not an IP address | the field left out, warning `invalid-ip` |
//! | a failure detail field over [`MAX_FIELD_LEN`] bytes | cut at a character boundary, warning `field-truncated` |
//! | unknown members | ignored |
//! | more than [`DatagramLimits::max_bytes`] bytes | [`DatagramError::TooLarge`], before anything is read |
//! | not JSON, not an object, a member twice, a member of the wrong type | [`DatagramError::Json`] (what, with line and column) |
//! | no `d`, no `policies`, no `f`, no `c`, no `policy-type` | [`DatagramError::Missing`] |
//! | no policy, more than `max_policies` policies or `max_failures` details | [`DatagramError::Count`] |
//! | an unknown policy type, `f` not 0/1, `c` not an integer, a domain that is not one | [`DatagramError::Invalid`] |
//!
//! Errors name the member as a JSON Pointer (`/policies/0/f`). The caller
//! counts and logs them; nothing of a refused datagram is recorded.
//!
//! ```
//! use tlsrpt_core::datagram::{self, DatagramLimits};
//! use tlsrpt_core::session::{DayAggregate, UtcDay};
//!
//! let dg = br#"{"dpv":"1","d":"example.com","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@example.com","policies":[{"policy-type":2,"policy-domain":"example.com","policy-string":["version: STSv1","mode: enforce","mx: mx.example.com","max_age: 86400"],"mx-host":["mx.example.com"],"failure-details":[{"c":204,"s":"192.0.2.1","n":"mx.example.com","r":"198.51.100.7"}],"t":1,"f":1}]}"#;
//! let d = datagram::decode(dg, &DatagramLimits::default())?;
//! assert!(d.warnings.is_empty());
//! assert_eq!(d.policies[0].failures[0].result_type.as_str(), "certificate-expired");
//!
//! let mut day = DayAggregate::new(UtcDay::parse("2024-05-01")?);
//! day.record_datagram(&d)?;
//! assert_eq!(day.totals().failed_sessions, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use mta_sts_core::ResultType;
use mta_sts_core::display::Escaped;
use mta_sts_core::domain;
use serde::Deserialize;
use serde_json::Value;

use crate::report::{PolicyType, write_json_string};
use crate::session::{
    AggregateError, DayAggregate, Failure, MAX_FIELD_LEN, PolicyKey, Recorded, SessionResult,
};

/// Sizes a datagram may have (see the module documentation).
///
/// | field | default |
/// |---|---|
/// | `max_bytes` | 65,536 (64 KiB, the size libtlsrpt's buffer targets) |
/// | `max_policies` | 16 per datagram |
/// | `max_failures` | 256 per policy |
///
/// ```
/// let l = tlsrpt_core::datagram::DatagramLimits::default();
/// assert_eq!((l.max_bytes, l.max_policies, l.max_failures), (65_536, 16, 256));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DatagramLimits {
    /// Largest datagram, in bytes.
    pub max_bytes: usize,
    /// Most policies in one datagram.
    pub max_policies: usize,
    /// Most failure details in one policy.
    pub max_failures: usize,
}

impl Default for DatagramLimits {
    fn default() -> Self {
        Self {
            max_bytes: 65_536,
            max_policies: 16,
            max_failures: 256,
        }
    }
}

/// Why a datagram was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatagramError {
    /// Larger than [`DatagramLimits::max_bytes`].
    #[error("datagram of {len} bytes is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON of the datagram's shape.
    #[error("datagram is not valid: {message} at line {line} column {column}")]
    Json {
        /// serde_json's message.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A required member is missing.
    #[error("datagram: {member} is missing")]
    Missing {
        /// JSON Pointer of the member, e.g. `/policies/0/f`.
        member: String,
    },
    /// Too few or too many policies or failure details.
    #[error("datagram: {member} has {count} {what}; {expected}")]
    Count {
        /// JSON Pointer of the array.
        member: String,
        /// `policies` or `failure details`.
        what: &'static str,
        /// How many it has.
        count: usize,
        /// What is allowed, e.g. `at most 16`.
        expected: String,
    },
    /// A member with a value that is not allowed.
    #[error("datagram: {member}: {reason}")]
    Invalid {
        /// JSON Pointer of the member.
        member: String,
        /// What is wrong, naming the value.
        reason: String,
    },
}

mta_sts_core::code_enum! {
    /// What a [`DatagramWarning`] is about.
    pub enum DatagramWarningCode {
        /// `dpv` is not `"1"`.
        UnknownVersion => "unknown-version",
        /// A policy without `policy-domain` got the delivery domain `d`.
        PolicyDomainFromDelivery => "policy-domain-from-delivery",
        /// `t` is not the number of failure details.
        FailureCountMismatch => "failure-count-mismatch",
        /// Failure code or final result 901 (libtlsrpt's "unfinished
        /// policy").
        UnfinishedPolicy => "unfinished-policy",
        /// A failure code outside the table.
        UnknownFailureCode => "unknown-failure-code",
        /// Bytes that are not UTF-8 were replaced by U+FFFD.
        InvalidUtf8 => "invalid-utf8",
        /// `s` or `r` is not an IP address; it was left out.
        InvalidIp => "invalid-ip",
        /// A failure detail field was cut to the length limit.
        FieldTruncated => "field-truncated",
    }
}

/// A deviation the decoder accepted: its code, the member (JSON Pointer)
/// and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DatagramWarning {
    /// What kind of deviation.
    pub code: DatagramWarningCode,
    /// JSON Pointer of the member (empty for the whole datagram).
    pub member: String,
    /// What happened, in plain words.
    pub message: String,
}

impl std::fmt::Display for DatagramWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.member.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.member, self.message)
        }
    }
}

/// One decoded datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Datagram {
    /// `dpv`, when present (`"1"`; a number is kept as its text).
    pub version: Option<String>,
    /// `d`: the delivery (recipient) domain, lower-case A-labels.
    pub domain: String,
    /// `pr`: the `_smtp._tls` record the MTA saw, when present.
    pub tlsrpt_record: Option<String>,
    /// The policies: one session each.
    pub policies: Vec<DatagramPolicy>,
    /// What was accepted with a deviation.
    pub warnings: Vec<DatagramWarning>,
}

/// One policy of a datagram: one session under [`DatagramPolicy::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatagramPolicy {
    /// The policy (policy domain filled from `d` when missing).
    pub key: PolicyKey,
    /// `f`: the session's final result.
    pub result: SessionResult,
    /// `failure-details`.
    pub failures: Vec<Failure>,
}

/// The result type of a libtlsrpt failure code (201–205, 301–306); `None`
/// for any other code (901 is libtlsrpt's internal "unfinished policy").
///
/// ```
/// use tlsrpt_core::datagram::result_type_for_code;
/// assert_eq!(result_type_for_code(303).unwrap().as_str(), "sts-webpki-invalid");
/// assert_eq!(result_type_for_code(901), None);
/// ```
pub fn result_type_for_code(code: u64) -> Option<ResultType> {
    Some(match code {
        201 => ResultType::StarttlsNotSupported,
        202 => ResultType::CertificateHostMismatch,
        203 => ResultType::CertificateNotTrusted,
        204 => ResultType::CertificateExpired,
        205 => ResultType::ValidationFailure,
        301 => ResultType::StsPolicyFetchError,
        302 => ResultType::StsPolicyInvalid,
        303 => ResultType::StsWebpkiInvalid,
        304 => ResultType::TlsaInvalid,
        305 => ResultType::DnssecInvalid,
        306 => ResultType::DaneRequired,
        _ => return None,
    })
}

/// The libtlsrpt failure code of a registered result type (the inverse of
/// [`result_type_for_code`]); `None` for [`ResultType::Other`].
pub fn code_for_result_type(t: &ResultType) -> Option<u16> {
    Some(match t {
        ResultType::StarttlsNotSupported => 201,
        ResultType::CertificateHostMismatch => 202,
        ResultType::CertificateNotTrusted => 203,
        ResultType::CertificateExpired => 204,
        ResultType::ValidationFailure => 205,
        ResultType::StsPolicyFetchError => 301,
        ResultType::StsPolicyInvalid => 302,
        ResultType::StsWebpkiInvalid => 303,
        ResultType::TlsaInvalid => 304,
        ResultType::DnssecInvalid => 305,
        ResultType::DaneRequired => 306,
        _ => return None,
    })
}

/// The policy type of a libtlsrpt policy type number (1 `tlsa`, 2 `sts`,
/// 9 `no-policy-found`).
pub fn policy_type_for_code(code: u64) -> Option<PolicyType> {
    match code {
        1 => Some(PolicyType::Tlsa),
        2 => Some(PolicyType::Sts),
        9 => Some(PolicyType::NoPolicyFound),
        _ => None,
    }
}

/// libtlsrpt's failure code 901, "unfinished policy".
pub const UNFINISHED_POLICY: u64 = 901;

#[derive(Deserialize)]
struct RawDatagram<'a> {
    #[serde(default)]
    dpv: Option<Value>,
    #[serde(borrow, default)]
    d: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pr: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    policies: Option<Vec<RawPolicy<'a>>>,
}

#[derive(Deserialize)]
struct RawPolicy<'a> {
    #[serde(rename = "policy-type", default)]
    policy_type: Option<Value>,
    #[serde(rename = "policy-domain", borrow, default)]
    policy_domain: Option<Cow<'a, str>>,
    #[serde(rename = "policy-string", borrow, default)]
    policy_string: Option<Vec<Cow<'a, str>>>,
    #[serde(rename = "mx-host", borrow, default)]
    mx_host: Option<Vec<Cow<'a, str>>>,
    #[serde(rename = "failure-details", borrow, default)]
    failure_details: Option<Vec<RawFailure<'a>>>,
    #[serde(default)]
    t: Option<Value>,
    #[serde(default)]
    f: Option<Value>,
}

#[derive(Deserialize)]
struct RawFailure<'a> {
    #[serde(default)]
    c: Option<Value>,
    #[serde(borrow, default)]
    s: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    n: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    h: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    r: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    a: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    f: Option<Cow<'a, str>>,
}

/// Decode one datagram (see the module documentation for what is
/// tolerated and what is refused).
pub fn decode(bytes: &[u8], limits: &DatagramLimits) -> Result<Datagram, DatagramError> {
    if bytes.len() > limits.max_bytes {
        return Err(DatagramError::TooLarge {
            len: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let mut warnings = Vec::new();
    let text: Cow<'_, str> = match simdutf8::basic::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let at = std::str::from_utf8(bytes)
                .err()
                .map_or(0, |e| e.valid_up_to());
            warnings.push(DatagramWarning {
                code: DatagramWarningCode::InvalidUtf8,
                member: String::new(),
                message: format!(
                    "bytes that are not UTF-8 (the first at byte {at}) were replaced by U+FFFD"
                ),
            });
            String::from_utf8_lossy(bytes)
        }
    };
    let start = text
        .bytes()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    if start.and_then(|i| text.as_bytes().get(i)) != Some(&b'{') {
        let at = start.unwrap_or(text.len());
        let before = &text.as_bytes()[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        return Err(DatagramError::Json {
            message: "expected a JSON object".into(),
            line,
            column,
        });
    }
    let raw: RawDatagram<'_> = serde_json::from_str(&text).map_err(|e| DatagramError::Json {
        message: json_message(&e),
        line: e.line(),
        column: e.column(),
    })?;
    let mut w = Decoder { warnings, limits };
    let dg = w.datagram(raw)?;
    Ok(Datagram {
        warnings: w.warnings,
        ..dg
    })
}

/// serde_json's message without its own " at line L column C" suffix.
fn json_message(e: &serde_json::Error) -> String {
    let m = e.to_string();
    match m.rfind(" at line ") {
        Some(i) => m[..i].to_owned(),
        None => m,
    }
}

fn missing(member: impl Into<String>) -> DatagramError {
    DatagramError::Missing {
        member: member.into(),
    }
}

fn invalid(member: impl Into<String>, reason: String) -> DatagramError {
    DatagramError::Invalid {
        member: member.into(),
        reason,
    }
}

/// A JSON value for messages: short, escaped.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 64 {
        let mut cut = 64;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", Escaped(&s[..cut]))
    } else {
        Escaped(&s).to_string()
    }
}

struct Decoder<'l> {
    warnings: Vec<DatagramWarning>,
    limits: &'l DatagramLimits,
}

impl Decoder<'_> {
    fn warn(&mut self, code: DatagramWarningCode, member: String, message: String) {
        self.warnings.push(DatagramWarning {
            code,
            member,
            message,
        });
    }

    fn datagram(&mut self, raw: RawDatagram<'_>) -> Result<Datagram, DatagramError> {
        let version = match raw.dpv {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                if s != "1" {
                    self.warn(
                        DatagramWarningCode::UnknownVersion,
                        "/dpv".into(),
                        format!(
                            "datagram protocol version `{}` is not 1; read as version 1",
                            Escaped(&s)
                        ),
                    );
                }
                Some(s)
            }
            Some(other) => {
                let text = other.to_string();
                if text != "1" {
                    self.warn(
                        DatagramWarningCode::UnknownVersion,
                        "/dpv".into(),
                        format!(
                            "datagram protocol version {} is not \"1\"; read as version 1",
                            shown(&other)
                        ),
                    );
                }
                Some(text)
            }
        };
        let d = raw.d.ok_or_else(|| missing("/d"))?;
        let domain = domain::normalize(&d).map_err(|e| invalid("/d", e.to_string()))?;
        let policies = raw.policies.ok_or_else(|| missing("/policies"))?;
        let n = policies.len();
        if n == 0 || n > self.limits.max_policies {
            return Err(DatagramError::Count {
                member: "/policies".into(),
                what: "policies",
                count: n,
                expected: format!("1 to {} are allowed", self.limits.max_policies),
            });
        }
        let mut out = Vec::with_capacity(n);
        for (i, p) in policies.into_iter().enumerate() {
            out.push(self.policy(p, i, &domain)?);
        }
        Ok(Datagram {
            version,
            domain,
            tlsrpt_record: raw.pr.map(Cow::into_owned),
            policies: out,
            warnings: Vec::new(),
        })
    }

    fn policy(
        &mut self,
        p: RawPolicy<'_>,
        i: usize,
        delivery: &str,
    ) -> Result<DatagramPolicy, DatagramError> {
        let at = |m: &str| format!("/policies/{i}/{m}");
        let pt = p.policy_type.ok_or_else(|| missing(at("policy-type")))?;
        let policy_type = pt.as_u64().and_then(policy_type_for_code).ok_or_else(|| {
            invalid(
                at("policy-type"),
                format!(
                    "{} is not a policy type (1 tlsa, 2 sts, 9 no-policy-found)",
                    shown(&pt)
                ),
            )
        })?;
        let result = match p.f.as_ref() {
            None | Some(Value::Null) => return Err(missing(at("f"))),
            Some(v) => match (v.as_u64(), v.as_bool()) {
                (Some(0), _) | (_, Some(false)) => SessionResult::Successful,
                (Some(1), _) | (_, Some(true)) => SessionResult::Failed,
                (Some(UNFINISHED_POLICY), _) => {
                    self.warn(
                        DatagramWarningCode::UnfinishedPolicy,
                        at("f"),
                        "final result 901 (the MTA did not finish the policy) is counted as a failed session".into(),
                    );
                    SessionResult::Failed
                }
                _ => {
                    return Err(invalid(
                        at("f"),
                        format!("{} is not a final result (0 success, 1 failure)", shown(v)),
                    ));
                }
            },
        };
        let policy_domain = match p.policy_domain.as_deref() {
            Some(d) if !d.trim().is_empty() => d.to_owned(),
            _ => {
                self.warn(
                    DatagramWarningCode::PolicyDomainFromDelivery,
                    at("policy-domain"),
                    format!("no policy-domain; the delivery domain `{delivery}` is used"),
                );
                delivery.to_owned()
            }
        };
        let key = PolicyKey::new(
            policy_type,
            &policy_domain,
            p.policy_string.unwrap_or_default(),
            p.mx_host.unwrap_or_default(),
        )
        .map_err(|e| match e {
            AggregateError::PolicyDomain(d) => invalid(at("policy-domain"), d.to_string()),
            AggregateError::MxHost { .. } => invalid(at("mx-host"), e.to_string()),
            other => invalid(format!("/policies/{i}"), other.to_string()),
        })?;
        let details = p.failure_details.unwrap_or_default();
        if details.len() > self.limits.max_failures {
            return Err(DatagramError::Count {
                member: at("failure-details"),
                what: "failure details",
                count: details.len(),
                expected: format!("at most {} are allowed", self.limits.max_failures),
            });
        }
        match &p.t {
            None | Some(Value::Null) => {}
            Some(t) if t.as_u64() == u64::try_from(details.len()).ok() => {}
            Some(t) => self.warn(
                DatagramWarningCode::FailureCountMismatch,
                at("t"),
                format!(
                    "t is {} but the policy has {} failure details",
                    shown(t),
                    details.len()
                ),
            ),
        }
        let mut failures = Vec::with_capacity(details.len());
        for (j, f) in details.into_iter().enumerate() {
            failures.push(self.failure(f, &format!("/policies/{i}/failure-details/{j}"))?);
        }
        Ok(DatagramPolicy {
            key,
            result,
            failures,
        })
    }

    fn failure(&mut self, f: RawFailure<'_>, at: &str) -> Result<Failure, DatagramError> {
        let c = f.c.ok_or_else(|| missing(format!("{at}/c")))?;
        let code = c.as_u64().ok_or_else(|| {
            invalid(
                format!("{at}/c"),
                format!("{} is not a failure code (an integer)", shown(&c)),
            )
        })?;
        let mut reason = f.f.map(|s| self.field(s, &format!("{at}/f")));
        let result_type = match result_type_for_code(code) {
            Some(t) => t,
            None if code == UNFINISHED_POLICY => {
                self.warn(
                    DatagramWarningCode::UnfinishedPolicy,
                    format!("{at}/c"),
                    "failure code 901 (the MTA did not finish the policy) is reported as validation-failure".into(),
                );
                reason.get_or_insert_with(|| "unfinished-policy".to_owned());
                ResultType::ValidationFailure
            }
            None => {
                self.warn(
                    DatagramWarningCode::UnknownFailureCode,
                    format!("{at}/c"),
                    format!(
                        "failure code {code} is not in the table; reported as validation-failure"
                    ),
                );
                reason.get_or_insert_with(|| format!("libtlsrpt failure code {code}"));
                ResultType::ValidationFailure
            }
        };
        let sending_mta_ip = f.s.and_then(|s| self.ip(&s, &format!("{at}/s")));
        let receiving_ip = f.r.and_then(|s| self.ip(&s, &format!("{at}/r")));
        let receiving_mx_hostname = f.n.map(|s| self.field(s, &format!("{at}/n")));
        let receiving_mx_helo = f.h.map(|s| self.field(s, &format!("{at}/h")));
        let additional_information = f.a.map(|s| self.field(s, &format!("{at}/a")));
        Ok(Failure {
            result_type,
            receiving_mx_hostname,
            receiving_ip,
            sending_mta_ip,
            receiving_mx_helo,
            failure_reason_code: reason,
            additional_information,
        })
    }

    fn ip(&mut self, s: &str, at: &str) -> Option<IpAddr> {
        match s.trim().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let mut cut = s.len().min(64);
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                self.warn(
                    DatagramWarningCode::InvalidIp,
                    at.to_owned(),
                    format!("`{}` is not an IP address; left out", Escaped(&s[..cut])),
                );
                None
            }
        }
    }

    fn field(&mut self, s: Cow<'_, str>, at: &str) -> String {
        if s.len() <= MAX_FIELD_LEN {
            return s.into_owned();
        }
        let mut cut = MAX_FIELD_LEN;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.warn(
            DatagramWarningCode::FieldTruncated,
            at.to_owned(),
            format!("{} bytes cut to the limit of {MAX_FIELD_LEN}", s.len()),
        );
        s[..cut].to_owned()
    }
}

impl Datagram {
    /// A datagram of delivery domain `domain` (normalised to lower-case
    /// A-labels) with these policies, as a compatible MTA would send it:
    /// for tests and load generators ([`Datagram::to_libtlsrpt_json`]).
    ///
    /// ```
    /// use tlsrpt_core::datagram::{Datagram, DatagramPolicy};
    /// use tlsrpt_core::session::{PolicyKey, SessionResult};
    /// let p = DatagramPolicy { key: PolicyKey::no_policy_found("example.com")?, result: SessionResult::Successful, failures: vec![] };
    /// let d = Datagram::new("Example.COM", None, vec![p]).unwrap();
    /// assert_eq!(d.to_libtlsrpt_json(), r#"{"dpv":"1","d":"example.com","policies":[{"policy-type":9,"policy-domain":"example.com","t":0,"f":0}]}"#);
    /// # Ok::<(), tlsrpt_core::session::AggregateError>(())
    /// ```
    pub fn new(
        domain: &str,
        tlsrpt_record: Option<String>,
        policies: Vec<DatagramPolicy>,
    ) -> Result<Self, DatagramError> {
        let domain = domain::normalize(domain).map_err(|e| invalid("/d", e.to_string()))?;
        Ok(Self {
            version: Some("1".to_owned()),
            domain,
            tlsrpt_record,
            policies,
            warnings: Vec::new(),
        })
    }

    /// The datagram in libtlsrpt's form (`dpv` `"1"`, members in
    /// libtlsrpt's order, absent fields left out): what a compatible MTA
    /// sends, for tests and load generators. A result type without a
    /// failure code ([`ResultType::Other`]) is written as 205
    /// (`validation-failure`).
    ///
    /// ```
    /// use tlsrpt_core::datagram::{decode, DatagramLimits};
    /// let text = r#"{"dpv":"1","d":"example.com","policies":[{"policy-type":9,"policy-domain":"example.com","t":0,"f":0}]}"#;
    /// let d = decode(text.as_bytes(), &DatagramLimits::default())?;
    /// assert_eq!(d.to_libtlsrpt_json(), text);
    /// # Ok::<(), tlsrpt_core::datagram::DatagramError>(())
    /// ```
    pub fn to_libtlsrpt_json(&self) -> String {
        let mut o = String::with_capacity(256);
        o.push_str("{\"dpv\":\"1\",\"d\":");
        write_json_string(&mut o, &self.domain);
        if let Some(pr) = &self.tlsrpt_record {
            o.push_str(",\"pr\":");
            write_json_string(&mut o, pr);
        }
        o.push_str(",\"policies\":[");
        for (i, p) in self.policies.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let code = match p.key.policy_type() {
                PolicyType::Tlsa => 1,
                PolicyType::Sts => 2,
                _ => 9,
            };
            let _ = write!(o, "{{\"policy-type\":{code},\"policy-domain\":");
            write_json_string(&mut o, p.key.domain());
            let list = |o: &mut String, name: &str, items: &[String]| {
                if items.is_empty() {
                    return;
                }
                let _ = write!(o, ",\"{name}\":[");
                for (k, s) in items.iter().enumerate() {
                    if k > 0 {
                        o.push(',');
                    }
                    write_json_string(o, s);
                }
                o.push(']');
            };
            list(&mut o, "policy-string", p.key.policy_string());
            list(&mut o, "mx-host", p.key.mx_host());
            if !p.failures.is_empty() {
                o.push_str(",\"failure-details\":[");
                for (k, f) in p.failures.iter().enumerate() {
                    if k > 0 {
                        o.push(',');
                    }
                    let c = code_for_result_type(&f.result_type).unwrap_or(205);
                    let _ = write!(o, "{{\"c\":{c}");
                    let mut field = |name: &str, v: Option<&str>| {
                        if let Some(v) = v {
                            let _ = write!(o, ",\"{name}\":");
                            write_json_string(&mut o, v);
                        }
                    };
                    let s = f.sending_mta_ip.map(|ip| ip.to_string());
                    let r = f.receiving_ip.map(|ip| ip.to_string());
                    field("s", s.as_deref());
                    field("n", f.receiving_mx_hostname.as_deref());
                    field("h", f.receiving_mx_helo.as_deref());
                    field("r", r.as_deref());
                    field("a", f.additional_information.as_deref());
                    field("f", f.failure_reason_code.as_deref());
                    o.push('}');
                }
                o.push(']');
            }
            let fin = match p.result {
                SessionResult::Successful => 0,
                SessionResult::Failed => 1,
            };
            let _ = write!(o, ",\"t\":{},\"f\":{fin}}}", p.failures.len());
        }
        o.push_str("]}");
        o
    }
}

impl DayAggregate {
    /// Record every policy of a decoded datagram as one session (see
    /// [`DayAggregate::record_session`]). Returns the least favourable
    /// [`Recorded`] of its policies ([`Recorded::Unreported`] before
    /// [`Recorded::FoldedDetails`] before [`Recorded::Counted`]). On an
    /// error, the policies before the failing one stay counted.
    pub fn record_datagram(&mut self, datagram: &Datagram) -> Result<Recorded, AggregateError> {
        let mut worst = Recorded::Counted;
        for p in &datagram.policies {
            let r = self.record_session(&p.key, p.result, &p.failures)?;
            worst = match (worst, r) {
                (Recorded::Unreported, _) | (_, Recorded::Unreported) => Recorded::Unreported,
                (Recorded::FoldedDetails, _) | (_, Recorded::FoldedDetails) => {
                    Recorded::FoldedDetails
                }
                _ => Recorded::Counted,
            };
        }
        Ok(worst)
    }
}
