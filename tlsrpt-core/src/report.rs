//! The TLS-RPT report model (RFC 8460 section 4.4) and its strict writer.
//!
//! Strings borrow from the input where they can ([`Cow`]); call
//! [`Report::into_owned`] to keep a report beyond its buffer. Member names
//! follow the RFC. Unknown members are kept, as raw JSON text, in
//! `extensions` at every level and written back.
//!
//! # Writing
//!
//! The model implements serde's `Serialize` in the strict RFC form, and
//! [`Report::to_json`] is serde_json on it: `serde_json::to_string(&report)`
//! and `report.to_json(false)` are the same bytes, and so are
//! `serde_json::to_string_pretty(&report)` and `report.to_json(true)`.
//! Strings are escaped as serde_json escapes them (`\b`, `\f`, `\n`, `\r`,
//! `\t`, other control characters as `\u00xx`; [`write_json_string`] does
//! the same for the crate's other writers).
//!
//! `to_json` was a hand-written writer until serde_json measured as fast
//! or faster: `cargo bench -p mta-sts-benches --bench report --
//! report_write`, three runs on a 2-core KVM guest with other builds
//! running (load 1.6 to 3.5), criterion medians, serde_json's time as a
//! share of the hand writer's in each run:
//!
//! | Report | compact: hand writer | compact: serde_json | pretty: hand writer | pretty: serde_json |
//! |---|---:|---:|---:|---:|
//! | the 13 corpus reports (10.4 KB out) | 29.5–44.4 µs | 24.2–37.9 µs (85%, 68%, 82%) | 37.1–57.8 µs | 29.9–41.6 µs (72%, 68%, 93%) |
//! | synthetic, 50,000 failure details (13.4 MB out) | 42.6–59.1 ms | 27.4–38.7 ms (65%, 64%, 64%) | 56.8–85.0 ms | 57.6–60.6 ms (71%, 95%, 105%) |
//!
//! serde_json escapes strings with a lookup table and writes numbers with
//! `itoa`, where the hand writer matched on every character and went
//! through `fmt` for every count. Pretty output of the large report is
//! even (within the machine's noise), and the output is the same, so
//! both forms use serde_json.
//!
//! The hand writer is kept (escaping as above) as the reference writer of
//! the crate's differential tests and of the benchmark
//! (`reference::write_json`, with the `reference` feature).

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::net::IpAddr;

use mta_sts_core::ResultType;
use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};
use serde_json::value::RawValue;

use crate::time::Timestamp;

/// An unknown JSON member, kept as its name and raw JSON value text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension<'a> {
    /// Member name.
    pub name: Cow<'a, str>,
    /// The value as raw JSON text.
    pub raw_json: Cow<'a, str>,
}

impl Extension<'_> {
    fn into_owned(self) -> Extension<'static> {
        Extension {
            name: Cow::Owned(self.name.into_owned()),
            raw_json: Cow::Owned(self.raw_json.into_owned()),
        }
    }
}

/// `policy-type` (RFC 8460 4.4). Unknown values are preserved (DEC-18).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PolicyType {
    /// `tlsa`
    Tlsa,
    /// `sts`
    Sts,
    /// `no-policy-found`
    NoPolicyFound,
    /// Anything else, as written.
    Other(String),
}

impl PolicyType {
    /// The JSON string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Tlsa => "tlsa",
            Self::Sts => "sts",
            Self::NoPolicyFound => "no-policy-found",
            Self::Other(s) => s,
        }
    }

    /// From the JSON string (exact match; anything else is `Other`).
    pub fn from_json(s: &str) -> Self {
        match s {
            "tlsa" => Self::Tlsa,
            "sts" => Self::Sts,
            "no-policy-found" => Self::NoPolicyFound,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IP address member: parsed, or kept as written when it is not an IP
/// address (lenient reader only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ip<'a> {
    /// A valid address (written back in RFC 5952 form).
    Addr(IpAddr),
    /// Not an IP address; kept verbatim.
    Invalid(Cow<'a, str>),
}

impl fmt::Display for Ip<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Addr(a) => write!(f, "{a}"),
            Self::Invalid(s) => f.write_str(s),
        }
    }
}

impl Ip<'_> {
    fn into_owned(self) -> Ip<'static> {
        match self {
            Self::Addr(a) => Ip::Addr(a),
            Self::Invalid(s) => Ip::Invalid(Cow::Owned(s.into_owned())),
        }
    }
}

/// `date-range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateRange {
    /// `start-datetime`
    pub start: Timestamp,
    /// `end-datetime`
    pub end: Timestamp,
}

/// `summary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// `total-successful-session-count`
    pub total_successful_session_count: u64,
    /// `total-failure-session-count`
    pub total_failure_session_count: u64,
}

/// `policy` (the applied policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo<'a> {
    /// `policy-type`
    pub policy_type: PolicyType,
    /// `policy-string` (absent = empty).
    pub policy_string: Vec<Cow<'a, str>>,
    /// `policy-domain`
    pub policy_domain: Option<Cow<'a, str>>,
    /// `mx-host` (absent = empty).
    pub mx_host: Vec<Cow<'a, str>>,
    /// Unknown members.
    pub extensions: Vec<Extension<'a>>,
}

/// One `failure-details` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureDetail<'a> {
    /// `result-type`
    pub result_type: ResultType,
    /// `sending-mta-ip`
    pub sending_mta_ip: Option<Ip<'a>>,
    /// `receiving-mx-hostname`
    pub receiving_mx_hostname: Option<Cow<'a, str>>,
    /// `receiving-mx-helo`
    pub receiving_mx_helo: Option<Cow<'a, str>>,
    /// `receiving-ip`
    pub receiving_ip: Option<Ip<'a>>,
    /// `failed-session-count`
    pub failed_session_count: u64,
    /// `additional-information`
    pub additional_information: Option<Cow<'a, str>>,
    /// `failure-reason-code`
    pub failure_reason_code: Option<Cow<'a, str>>,
    /// Unknown members.
    pub extensions: Vec<Extension<'a>>,
}

/// One element of `policies`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyResult<'a> {
    /// `policy`
    pub policy: PolicyInfo<'a>,
    /// `summary`
    pub summary: Summary,
    /// `failure-details` (absent = empty).
    pub failure_details: Vec<FailureDetail<'a>>,
    /// Unknown members.
    pub extensions: Vec<Extension<'a>>,
}

/// A TLS-RPT report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report<'a> {
    /// `organization-name`
    pub organization_name: Cow<'a, str>,
    /// `date-range`
    pub date_range: DateRange,
    /// `contact-info` (`None` when the lenient reader met `null`).
    pub contact_info: Option<Cow<'a, str>>,
    /// `report-id`
    pub report_id: Cow<'a, str>,
    /// `policies`
    pub policies: Vec<PolicyResult<'a>>,
    /// Unknown top-level members.
    pub extensions: Vec<Extension<'a>>,
}

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

impl Report<'_> {
    /// An owned copy.
    pub fn into_owned(self) -> Report<'static> {
        Report {
            organization_name: own(self.organization_name),
            date_range: self.date_range,
            contact_info: self.contact_info.map(own),
            report_id: own(self.report_id),
            policies: self
                .policies
                .into_iter()
                .map(|p| PolicyResult {
                    policy: PolicyInfo {
                        policy_type: p.policy.policy_type,
                        policy_string: p.policy.policy_string.into_iter().map(own).collect(),
                        policy_domain: p.policy.policy_domain.map(own),
                        mx_host: p.policy.mx_host.into_iter().map(own).collect(),
                        extensions: p
                            .policy
                            .extensions
                            .into_iter()
                            .map(Extension::into_owned)
                            .collect(),
                    },
                    summary: p.summary,
                    failure_details: p
                        .failure_details
                        .into_iter()
                        .map(|f| FailureDetail {
                            result_type: f.result_type,
                            sending_mta_ip: f.sending_mta_ip.map(Ip::into_owned),
                            receiving_mx_hostname: f.receiving_mx_hostname.map(own),
                            receiving_mx_helo: f.receiving_mx_helo.map(own),
                            receiving_ip: f.receiving_ip.map(Ip::into_owned),
                            failed_session_count: f.failed_session_count,
                            additional_information: f.additional_information.map(own),
                            failure_reason_code: f.failure_reason_code.map(own),
                            extensions: f
                                .extensions
                                .into_iter()
                                .map(Extension::into_owned)
                                .collect(),
                        })
                        .collect(),
                    extensions: p
                        .extensions
                        .into_iter()
                        .map(Extension::into_owned)
                        .collect(),
                })
                .collect(),
            extensions: self
                .extensions
                .into_iter()
                .map(Extension::into_owned)
                .collect(),
        }
    }

    /// Total successful sessions over all policies.
    pub fn successful_sessions(&self) -> u64 {
        self.policies
            .iter()
            .map(|p| p.summary.total_successful_session_count)
            .fold(0, u64::saturating_add)
    }

    /// Total failed sessions over all policies.
    pub fn failed_sessions(&self) -> u64 {
        self.policies
            .iter()
            .map(|p| p.summary.total_failure_session_count)
            .fold(0, u64::saturating_add)
    }

    /// The report in the strict RFC form (RPT-JSON-*): `mx-host` always an
    /// array, `policy-string` and (for `sts`) `mx-host` written even when
    /// empty, both left out for `no-policy-found` unless there is something
    /// to write (DEC-25; `mx-host` always left out there), absent optional
    /// members omitted (never `null`), dates in UTC with `Z`, IP addresses
    /// in RFC 5952 form, unknown members written back as kept (see
    /// [`Extension`]'s `Serialize`). `pretty` indents with two spaces.
    ///
    /// This is `serde_json::to_string(self)` (`to_string_pretty` for
    /// `pretty`) on the model's `Serialize`; see the module docs for why.
    ///
    /// ```
    /// let json = r#"{"organization-name":"Org","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"a@b.example","report-id":"1","policies":[{"policy":{"policy-type":"no-policy-found","policy-domain":"x.example"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0},"failure-details":[]}]}"#;
    /// let r = tlsrpt_core::Report::parse_strict(json.as_bytes()).unwrap().value;
    /// assert_eq!(r.to_json(false), json);
    /// ```
    pub fn to_json(&self, pretty: bool) -> String {
        let written = if pretty {
            serde_json::to_string_pretty(self)
        } else {
            serde_json::to_string(self)
        };
        // Never an error: every member name is a string, every `Display`
        // writes, and `Extension` writes text that is not JSON as a string.
        written.unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------
// serde

/// A value written as a string through its `Display` form (time stamps, IP
/// addresses), without an intermediate `String`.
struct Displayed<'v, T: fmt::Display>(&'v T);

impl<T: fmt::Display> Serialize for Displayed<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// The members of `ext`, in order, each as its raw JSON value.
fn serialize_extensions<M: SerializeMap>(m: &mut M, ext: &[Extension<'_>]) -> Result<(), M::Error> {
    for e in ext {
        m.serialize_entry(&*e.name, e)?;
    }
    Ok(())
}

impl Serialize for Extension<'_> {
    /// The member's **value** (the object that holds the member writes its
    /// name): with serde_json, the raw JSON text as kept (white space
    /// around it left out), through [`serde_json::value::RawValue`]; other
    /// formats see what `RawValue` gives them (a one-field struct holding
    /// the text). A `raw_json` that is not one JSON value, which the
    /// readers never produce (only a hand-built `Extension` can hold one),
    /// is written as a JSON string holding the text, so that the output
    /// stays JSON.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(&self.raw_json) {
            Ok(raw) => raw.serialize(s),
            Err(_) => s.serialize_str(&self.raw_json),
        }
    }
}

impl Serialize for PolicyType {
    /// The JSON string ([`PolicyType::as_str`]).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for Ip<'_> {
    /// A valid address in RFC 5952 form, an invalid one as kept.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Addr(a) => s.collect_str(a),
            Self::Invalid(v) => s.serialize_str(v),
        }
    }
}

impl Serialize for DateRange {
    /// `{"start-datetime": .., "end-datetime": ..}`, RFC 3339 in UTC with `Z`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("DateRange", 2)?;
        m.serialize_field("start-datetime", &Displayed(&self.start))?;
        m.serialize_field("end-datetime", &Displayed(&self.end))?;
        m.end()
    }
}

impl Serialize for Summary {
    /// `{"total-successful-session-count": .., "total-failure-session-count": ..}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Summary", 2)?;
        m.serialize_field(
            "total-successful-session-count",
            &self.total_successful_session_count,
        )?;
        m.serialize_field(
            "total-failure-session-count",
            &self.total_failure_session_count,
        )?;
        m.end()
    }
}

impl PolicyInfo<'_> {
    /// Whether the strict form has `policy-string`: always, except for
    /// `no-policy-found` with none (DEC-25).
    fn writes_policy_string(&self) -> bool {
        self.policy_type != PolicyType::NoPolicyFound || !self.policy_string.is_empty()
    }

    /// Whether the strict form has `mx-host`: never for `no-policy-found`
    /// (DEC-25), always for `sts` (required there), otherwise when there is
    /// one.
    fn writes_mx_host(&self) -> bool {
        self.policy_type != PolicyType::NoPolicyFound
            && (!self.mx_host.is_empty() || self.policy_type == PolicyType::Sts)
    }
}

impl Serialize for PolicyInfo<'_> {
    /// The `policy` object as [`Report::to_json`] writes it.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = 1
            + usize::from(self.writes_policy_string())
            + usize::from(self.policy_domain.is_some())
            + usize::from(self.writes_mx_host())
            + self.extensions.len();
        let mut m = s.serialize_map(Some(len))?;
        m.serialize_entry("policy-type", &self.policy_type)?;
        if self.writes_policy_string() {
            m.serialize_entry("policy-string", &self.policy_string)?;
        }
        if let Some(d) = &self.policy_domain {
            m.serialize_entry("policy-domain", d)?;
        }
        if self.writes_mx_host() {
            m.serialize_entry("mx-host", &self.mx_host)?;
        }
        serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

impl Serialize for FailureDetail<'_> {
    /// One `failure-details` entry as [`Report::to_json`] writes it.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = 2
            + usize::from(self.sending_mta_ip.is_some())
            + usize::from(self.receiving_mx_hostname.is_some())
            + usize::from(self.receiving_mx_helo.is_some())
            + usize::from(self.receiving_ip.is_some())
            + usize::from(self.additional_information.is_some())
            + usize::from(self.failure_reason_code.is_some())
            + self.extensions.len();
        let mut m = s.serialize_map(Some(len))?;
        m.serialize_entry("result-type", &self.result_type)?;
        if let Some(ip) = &self.sending_mta_ip {
            m.serialize_entry("sending-mta-ip", ip)?;
        }
        if let Some(h) = &self.receiving_mx_hostname {
            m.serialize_entry("receiving-mx-hostname", h)?;
        }
        if let Some(h) = &self.receiving_mx_helo {
            m.serialize_entry("receiving-mx-helo", h)?;
        }
        if let Some(ip) = &self.receiving_ip {
            m.serialize_entry("receiving-ip", ip)?;
        }
        m.serialize_entry("failed-session-count", &self.failed_session_count)?;
        if let Some(a) = &self.additional_information {
            m.serialize_entry("additional-information", a)?;
        }
        if let Some(c) = &self.failure_reason_code {
            m.serialize_entry("failure-reason-code", c)?;
        }
        serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

impl Serialize for PolicyResult<'_> {
    /// One element of `policies` as [`Report::to_json`] writes it
    /// (`failure-details` always present, possibly empty).
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3 + self.extensions.len()))?;
        m.serialize_entry("policy", &self.policy)?;
        m.serialize_entry("summary", &self.summary)?;
        m.serialize_entry("failure-details", &self.failure_details)?;
        serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

impl Serialize for Report<'_> {
    /// The report in the strict RFC form, member for member what
    /// [`Report::to_json`] writes: `serde_json::to_string(&report)` equals
    /// `report.to_json(false)` byte for byte.
    ///
    /// ```
    /// let json = r#"{"organization-name":"Org","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"report-id":"1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1"],"policy-domain":"x.example","mx-host":["mx.x.example"],"x-vendor":{"a":[1, 2.50]}},"summary":{"total-successful-session-count":1,"total-failure-session-count":0},"failure-details":[]}]}"#;
    /// let r = tlsrpt_core::Report::parse_lenient(json.as_bytes()).unwrap().value;
    /// assert_eq!(serde_json::to_string(&r).unwrap(), json);
    /// assert_eq!(serde_json::to_string(&r).unwrap(), r.to_json(false));
    /// ```
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = 4 + usize::from(self.contact_info.is_some()) + self.extensions.len();
        let mut m = s.serialize_map(Some(len))?;
        m.serialize_entry("organization-name", &self.organization_name)?;
        m.serialize_entry("date-range", &self.date_range)?;
        if let Some(c) = &self.contact_info {
            m.serialize_entry("contact-info", c)?;
        }
        m.serialize_entry("report-id", &self.report_id)?;
        m.serialize_entry("policies", &self.policies)?;
        serialize_extensions(&mut m, &self.extensions)?;
        m.end()
    }
}

/// Append `s` as a JSON string literal (RFC 8259 escaping): `"` and `\`
/// escaped, control characters as `\b`, `\t`, `\n`, `\f`, `\r` or
/// `\u00xx` (lower-case hex), everything else as is. This is the form
/// serde_json writes (and RFC 8785's), so that [`Report::to_json`] and
/// `serde_json::to_string(&report)` agree byte for byte.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\u{8}' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\u{c}' => "\\f",
            '\r' => "\\r",
            c if (c as u32) < 0x20 => {
                out.push_str(&s[start..i]);
                let _ = write!(out, "\\u{:04x}", c as u32);
                start = i + c.len_utf8();
                continue;
            }
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(esc);
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}
