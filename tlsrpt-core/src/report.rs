//! The TLS-RPT report model (RFC 8460 section 4.4) and its strict writer.
//!
//! Strings borrow from the input where they can ([`Cow`]); call
//! [`Report::into_owned`] to keep a report beyond its buffer. Member names
//! follow the RFC. Unknown members are kept, as raw JSON text, in
//! `extensions` at every level and written back.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::net::IpAddr;

use mta_sts_core::ResultType;

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
    /// in RFC 5952 form. `pretty` indents with two spaces.
    ///
    /// ```
    /// let json = r#"{"organization-name":"Org","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"a@b.example","report-id":"1","policies":[{"policy":{"policy-type":"no-policy-found","policy-domain":"x.example"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0},"failure-details":[]}]}"#;
    /// let r = tlsrpt_core::Report::parse_strict(json.as_bytes()).unwrap().value;
    /// assert_eq!(r.to_json(false), json);
    /// ```
    pub fn to_json(&self, pretty: bool) -> String {
        let mut w = Writer {
            out: String::with_capacity(1024),
            pretty,
            depth: 0,
            first: vec![true],
        };
        w.open('{');
        w.key("organization-name");
        w.string(&self.organization_name);
        w.key("date-range");
        w.open('{');
        w.key("start-datetime");
        w.display(&self.date_range.start);
        w.key("end-datetime");
        w.display(&self.date_range.end);
        w.close('}');
        if let Some(c) = &self.contact_info {
            w.key("contact-info");
            w.string(c);
        }
        w.key("report-id");
        w.string(&self.report_id);
        w.key("policies");
        w.open('[');
        for p in &self.policies {
            w.item();
            w.open('{');
            w.key("policy");
            w.open('{');
            w.key("policy-type");
            w.string(p.policy.policy_type.as_str());
            let no_policy = p.policy.policy_type == PolicyType::NoPolicyFound;
            // Required members are written even when empty, so that the
            // strict reader reads the strict form back (DEC-25 spares
            // `no-policy-found` both; `mx-host` is required for `sts`).
            if !no_policy || !p.policy.policy_string.is_empty() {
                w.key("policy-string");
                w.string_array(&p.policy.policy_string);
            }
            if let Some(d) = &p.policy.policy_domain {
                w.key("policy-domain");
                w.string(d);
            }
            if !no_policy
                && (!p.policy.mx_host.is_empty() || p.policy.policy_type == PolicyType::Sts)
            {
                w.key("mx-host");
                w.string_array(&p.policy.mx_host);
            }
            w.extensions(&p.policy.extensions);
            w.close('}');
            w.key("summary");
            w.open('{');
            w.key("total-successful-session-count");
            w.number(p.summary.total_successful_session_count);
            w.key("total-failure-session-count");
            w.number(p.summary.total_failure_session_count);
            w.close('}');
            w.key("failure-details");
            w.open('[');
            for f in &p.failure_details {
                w.item();
                w.open('{');
                w.key("result-type");
                w.string(f.result_type.as_str());
                if let Some(ip) = &f.sending_mta_ip {
                    w.key("sending-mta-ip");
                    w.ip(ip);
                }
                if let Some(h) = &f.receiving_mx_hostname {
                    w.key("receiving-mx-hostname");
                    w.string(h);
                }
                if let Some(h) = &f.receiving_mx_helo {
                    w.key("receiving-mx-helo");
                    w.string(h);
                }
                if let Some(ip) = &f.receiving_ip {
                    w.key("receiving-ip");
                    w.ip(ip);
                }
                w.key("failed-session-count");
                w.number(f.failed_session_count);
                if let Some(a) = &f.additional_information {
                    w.key("additional-information");
                    w.string(a);
                }
                if let Some(c) = &f.failure_reason_code {
                    w.key("failure-reason-code");
                    w.string(c);
                }
                w.extensions(&f.extensions);
                w.close('}');
            }
            w.close(']');
            w.extensions(&p.extensions);
            w.close('}');
        }
        w.close(']');
        w.extensions(&self.extensions);
        w.close('}');
        w.out
    }
}

struct Writer {
    out: String,
    pretty: bool,
    depth: usize,
    first: Vec<bool>,
}

impl Writer {
    fn newline(&mut self) {
        if self.pretty {
            self.out.push('\n');
            for _ in 0..self.depth {
                self.out.push_str("  ");
            }
        }
    }

    fn sep(&mut self) {
        if let Some(first) = self.first.last_mut() {
            if !*first {
                self.out.push(',');
            }
            *first = false;
        }
        self.newline();
    }

    fn open(&mut self, c: char) {
        self.out.push(c);
        self.depth += 1;
        self.first.push(true);
    }

    fn close(&mut self, c: char) {
        self.depth -= 1;
        let empty = self.first.pop().unwrap_or(true);
        if !empty {
            self.newline();
        }
        self.out.push(c);
    }

    fn item(&mut self) {
        self.sep();
    }

    fn key(&mut self, k: &str) {
        self.sep();
        write_json_string(&mut self.out, k);
        self.out.push(':');
        if self.pretty {
            self.out.push(' ');
        }
    }

    fn string(&mut self, s: &str) {
        write_json_string(&mut self.out, s);
    }

    fn display(&mut self, d: &dyn fmt::Display) {
        self.out.push('"');
        let _ = write!(self.out, "{d}");
        self.out.push('"');
    }

    /// An address in RFC 5952 form; a kept invalid value is escaped like
    /// any string (it may hold `"`, `\` or control characters).
    fn ip(&mut self, ip: &Ip<'_>) {
        match ip {
            Ip::Addr(_) => self.display(ip),
            Ip::Invalid(s) => self.string(s),
        }
    }

    fn number(&mut self, n: u64) {
        let _ = write!(self.out, "{n}");
    }

    fn string_array(&mut self, items: &[Cow<'_, str>]) {
        self.open('[');
        for s in items {
            self.item();
            self.string(s);
        }
        self.close(']');
    }

    fn extensions(&mut self, ext: &[Extension<'_>]) {
        for e in ext {
            self.key(&e.name);
            self.out.push_str(&e.raw_json);
        }
    }
}

/// Append `s` as a JSON string literal (RFC 8259 escaping).
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
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
