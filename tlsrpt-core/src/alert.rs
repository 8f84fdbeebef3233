//! Alerts with remediation for the operator of a receiving domain, and a
//! readiness verdict for moving an MTA-STS policy from `mode: testing` to
//! `mode: enforce`.
//!
//! [`Alerts`] turns the failure details of many reports into
//! [`Alert`]s: one per failure class, policy domain and receiving MX host,
//! with summed sessions and the set of reporting organisations. Every
//! registered result type (RFC 8460 section 4.3) has specific advice;
//! `failure-reason-code` texts refine it (HTTP status codes of policy
//! fetches, `text/html` policies, MX hosts missing from the policy). A
//! result type outside the registry gives an `info` finding that keeps the
//! string (RPT-JSON-18).
//!
//! ```
//! use tlsrpt_core::Report;
//! use tlsrpt_core::alert::{Alerts, Severity};
//!
//! let json = br#"{"organization-name":"Company-X","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"a@x.example","report-id":"r1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: *.mail.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["*.mail.example.com"]},"summary":{"total-successful-session-count":10,"total-failure-session-count":4},"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx2.mail.example.com","failed-session-count":4}]}]}"#;
//! let report = Report::parse_lenient(json)?.value;
//! let mut alerts = Alerts::new();
//! alerts.add(&report);
//! let findings = alerts.findings();
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].severity, Severity::Error);
//! assert_eq!(findings[0].code, "certificate-expired");
//! assert_eq!(findings[0].where_.mx_host.as_deref(), Some("mx2.mail.example.com"));
//! assert_eq!(findings[0].where_.sessions_affected, 4);
//! assert!(findings[0].remediation.iter().any(|s| s.contains("certbot")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use mta_sts_core::policy::{policy_host, policy_url};
use mta_sts_core::{MxPattern, ResultType};

use crate::report::{PolicyInfo, PolicyResult, PolicyType, Report};

pub use mta_sts_core::finding::Severity;

/// At most this many distinct values of each list of a finding (receiving
/// IPs, failure reason codes, reporting organisations, policy types,
/// modes, MX patterns) are kept (reports are untrusted input): the
/// smallest ones in byte order, so that the lists do not depend on the
/// order reports are added in (nor on how partial collections are merged,
/// [`Alerts::merge`]); a list of this length may be incomplete.
pub const MAX_LISTED: usize = 50;

/// Where a failure class was seen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The policy domain (lower case, no trailing dot); `None` when the
    /// reports named none.
    pub policy_domain: Option<String>,
    /// The receiving MX host (`receiving-mx-hostname`, lower case, no
    /// trailing dot); `None` when the reports named none (usual for policy
    /// fetch errors).
    pub mx_host: Option<String>,
    /// The distinct `receiving-ip` values, sorted (at most [`MAX_LISTED`]).
    pub receiving_ips: Vec<String>,
    /// The distinct `policy-type` values of the policies concerned.
    pub policy_types: Vec<String>,
    /// The distinct reporting organisations (`organization-name`), sorted;
    /// at most [`MAX_LISTED`].
    pub sending_organizations: Vec<String>,
    /// Failed sessions, summed over the failure details (saturating).
    pub sessions_affected: u64,
}

/// One alert: a failure class at one place, with what it means and what to
/// do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alert {
    /// `error`: the receiving domain's configuration is broken and mail is
    /// (or, in enforce mode, would be) refused; `warning`: probably a
    /// problem, or one that depends on the sender; `info`: worth knowing.
    pub severity: Severity,
    /// The class (serialized as its kebab-case string).
    pub code: AlertCode,
    /// The `result-type` as reported.
    pub result_type: String,
    /// A one-line title.
    pub title: String,
    /// What the reports say, with numbers.
    pub what_happened: String,
    /// Where it happened.
    #[serde(rename = "where")]
    pub where_: Location,
    /// The distinct `failure-reason-code` values, sorted (at most
    /// [`MAX_LISTED`]).
    pub failure_reason_codes: Vec<String>,
    /// What the failure means.
    pub meaning: String,
    /// What to do, step by step.
    pub remediation: Vec<String>,
}

/// Lower case, without one trailing dot: how host and domain names are
/// grouped.
pub(crate) fn normalize_name(s: &str) -> String {
    mta_sts_core::domain::fold(s).into_owned()
}

/// The `mx` patterns of a policy: `mx-host` entries (a leading `mx:` that
/// one reporter writes is dropped) and the `mx:` lines of `policy-string`.
fn policy_patterns(p: &PolicyInfo<'_>) -> BTreeSet<String> {
    let from_hosts = p.mx_host.iter().map(|h| {
        let h = h.trim();
        h.strip_prefix("mx:").map_or(h, str::trim)
    });
    let from_lines = p.policy_string.iter().filter_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == "mx").then(|| v.trim())
    });
    from_hosts
        .chain(from_lines)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `mode:` value of a policy, when its `policy-string` has one.
fn policy_mode<'p>(p: &'p PolicyInfo<'_>) -> Option<&'p str> {
    p.policy_string.iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == "mode").then(|| v.trim())
    })
}

/// Whether `host` is matched by one of the valid `patterns`; `None` when
/// no pattern is valid (nothing can be said).
fn mx_in_policy(patterns: &BTreeSet<String>, host: &str) -> Option<bool> {
    let valid: Vec<MxPattern<'_>> = patterns
        .iter()
        .filter_map(|p| MxPattern::parse(p).ok())
        .collect();
    if valid.is_empty() {
        return None;
    }
    Some(valid.iter().any(|p| p.matches(host)))
}

/// Whether a `failure-reason-code` says the MX host is not in the policy.
/// Heuristic: after lower-casing and mapping `_` and spaces to `-`, it
/// contains `not-in-policy`, `mx-mismatch`, `mx-not-listed`,
/// `mx-not-allowed` or `no-matching-mx`.
fn reason_says_mx_not_in_policy(reason: &str) -> bool {
    let r: String = reason
        .chars()
        .map(|c| match c {
            '_' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    [
        "not-in-policy",
        "mx-mismatch",
        "mx-not-listed",
        "mx-not-allowed",
        "no-matching-mx",
    ]
    .iter()
    .any(|k| r.contains(k))
}

mta_sts_core::code_enum! {
    /// The class of an [`Alert`]: the result type, or `mx-not-in-policy`
    /// (a `validation-failure` because the MX host is not covered by the
    /// policy), or `unregistered-result-type`. Declared in alphabetical
    /// order, which is the order alerts of equal severity are listed in.
    pub enum AlertCode {
        /// An alert of this class.
        CertificateExpired => "certificate-expired",
        /// An alert of this class.
        CertificateHostMismatch => "certificate-host-mismatch",
        /// An alert of this class.
        CertificateNotTrusted => "certificate-not-trusted",
        /// An alert of this class.
        DaneRequired => "dane-required",
        /// An alert of this class.
        DnssecInvalid => "dnssec-invalid",
        /// An alert of this class.
        MxNotInPolicy => "mx-not-in-policy",
        /// An alert of this class.
        StarttlsNotSupported => "starttls-not-supported",
        /// An alert of this class.
        StsPolicyFetchError => "sts-policy-fetch-error",
        /// An alert of this class.
        StsPolicyInvalid => "sts-policy-invalid",
        /// An alert of this class.
        StsWebpkiInvalid => "sts-webpki-invalid",
        /// An alert of this class.
        TlsaInvalid => "tlsa-invalid",
        /// An alert of this class.
        UnregisteredResultType => "unregistered-result-type",
        /// An alert of this class.
        ValidationFailure => "validation-failure",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
struct Key {
    code: AlertCode,
    result_type: String,
    policy_domain: Option<String>,
    mx_host: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Acc {
    /// The `result-type` of the details added last (the key's, except in
    /// a folded group).
    result_type: Option<String>,
    sessions: u64,
    orgs: BTreeSet<String>,
    ips: BTreeSet<String>,
    reasons: BTreeSet<String>,
    policy_types: BTreeSet<String>,
    modes: BTreeSet<String>,
    patterns: BTreeSet<String>,
    /// Some detail's MX host was checked against the policy's patterns and
    /// did not match.
    mx_outside_policy: bool,
    /// Some detail's MX host was checked and matched.
    mx_inside_policy: bool,
}

/// Add `v` to `set`, keeping the [`MAX_LISTED`] smallest values.
fn insert_capped(set: &mut BTreeSet<String>, v: String) {
    if set.len() < MAX_LISTED {
        set.insert(v);
    } else if set.last().is_some_and(|last| v < *last) && set.insert(v) {
        set.pop_last();
    }
}

impl Acc {
    /// Add what `o` collected.
    fn merge(&mut self, o: &Self) {
        if o.result_type.is_some() {
            self.result_type.clone_from(&o.result_type);
        }
        self.sessions = self.sessions.saturating_add(o.sessions);
        for (into, from) in [
            (&mut self.orgs, &o.orgs),
            (&mut self.ips, &o.ips),
            (&mut self.reasons, &o.reasons),
            (&mut self.policy_types, &o.policy_types),
            (&mut self.modes, &o.modes),
            (&mut self.patterns, &o.patterns),
        ] {
            for v in from {
                insert_capped(into, v.clone());
            }
        }
        self.mx_outside_policy |= o.mx_outside_policy;
        self.mx_inside_policy |= o.mx_inside_policy;
    }
}

/// Serde for a map with keys that are not strings: a list of pairs.
mod pairs {
    use std::collections::BTreeMap;

    pub(crate) fn serialize<K, V, S>(map: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error>
    where
        K: serde::Serialize,
        V: serde::Serialize,
        S: serde::Serializer,
    {
        s.collect_seq(map.iter())
    }

    pub(crate) fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: serde::Deserialize<'de> + Ord,
        V: serde::Deserialize<'de>,
        D: serde::Deserializer<'de>,
    {
        let list: Vec<(K, V)> = serde::Deserialize::deserialize(d)?;
        Ok(list.into_iter().collect())
    }
}

/// Collects findings over many reports. At most [`Alerts::max_keys`]
/// distinct (code, result type, policy domain, MX host) groups are kept
/// (default [`crate::summary::MAX_GROUPS`]); details of further groups are
/// added to one group per code whose result type, policy domain and MX
/// host are [`crate::summary::OTHER`].
///
/// It serializes (serde) and merges ([`Alerts::merge`]), so that partial
/// collections (one per policy domain and day, say) can be kept and
/// combined later; merging gives what adding the reports of both would
/// have given, as long as no group was folded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Alerts {
    #[serde(with = "pairs")]
    map: BTreeMap<Key, Acc>,
    max_keys: usize,
    folded: u64,
}

impl Default for Alerts {
    fn default() -> Self {
        Self::with_max_keys(crate::summary::MAX_GROUPS)
    }
}

impl Alerts {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty collector keeping at most `max` groups (at least 1).
    pub fn with_max_keys(max: usize) -> Self {
        Self {
            map: BTreeMap::new(),
            max_keys: max.max(1),
            folded: 0,
        }
    }

    /// The bound on distinct groups.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Failure details added to a folded group (see the type's docs).
    pub fn folded(&self) -> u64 {
        self.folded
    }

    /// Add the failure details of one report. Duplicates are not detected
    /// here; [`crate::summary::Aggregator`] feeds each report once.
    pub fn add(&mut self, report: &Report<'_>) {
        for p in &report.policies {
            let patterns = policy_patterns(&p.policy);
            let policy_domain = p.policy.policy_domain.as_deref().map(normalize_name);
            for d in &p.failure_details {
                let mx_host = d.receiving_mx_hostname.as_deref().map(normalize_name);
                let checked = if p.policy.policy_type == PolicyType::Sts {
                    mx_host.as_deref().and_then(|h| mx_in_policy(&patterns, h))
                } else {
                    None
                };
                let outside = checked == Some(false);
                let code = match &d.result_type {
                    ResultType::ValidationFailure
                        if outside
                            || d.failure_reason_code
                                .as_deref()
                                .is_some_and(reason_says_mx_not_in_policy) =>
                    {
                        AlertCode::MxNotInPolicy
                    }
                    ResultType::Other(_) => AlertCode::UnregisteredResultType,
                    r => static_code(r),
                };
                let key = Key {
                    code,
                    result_type: d.result_type.as_str().to_owned(),
                    policy_domain: policy_domain.clone(),
                    mx_host,
                };
                let acc = self.entry(key);
                acc.result_type = Some(d.result_type.as_str().to_owned());
                acc.sessions = acc.sessions.saturating_add(d.failed_session_count);
                insert_capped(&mut acc.orgs, report.organization_name.to_string());
                if let Some(ip) = &d.receiving_ip {
                    insert_capped(&mut acc.ips, ip.to_string());
                }
                if let Some(r) = &d.failure_reason_code {
                    insert_capped(&mut acc.reasons, r.to_string());
                }
                insert_capped(
                    &mut acc.policy_types,
                    p.policy.policy_type.as_str().to_owned(),
                );
                if let Some(m) = policy_mode(&p.policy) {
                    insert_capped(&mut acc.modes, m.to_owned());
                }
                for pat in &patterns {
                    insert_capped(&mut acc.patterns, pat.clone());
                }
                acc.mx_outside_policy |= outside;
                acc.mx_inside_policy |= checked == Some(true);
            }
        }
    }

    /// The group of `key`, or its code's folded group when the bound is
    /// reached (counted in [`Alerts::folded`]).
    fn entry(&mut self, key: Key) -> &mut Acc {
        let key = if self.map.len() >= self.max_keys && !self.map.contains_key(&key) {
            self.folded = self.folded.saturating_add(1);
            let other = || Some(crate::summary::OTHER.to_owned());
            Key {
                code: key.code,
                result_type: crate::summary::OTHER.to_owned(),
                policy_domain: other(),
                mx_host: other(),
            }
        } else {
            key
        };
        self.map.entry(key).or_default()
    }

    /// Add what `other` collected, as if its reports had been added to
    /// `self` (within this collector's bound; a group of `other` that no
    /// longer fits is folded and counts one in [`Alerts::folded`]).
    pub fn merge(&mut self, other: &Self) {
        self.folded = self.folded.saturating_add(other.folded);
        for (k, a) in &other.map {
            self.entry(k.clone()).merge(a);
        }
    }

    /// The findings, errors first, then by sessions affected (descending),
    /// code, policy domain and MX host.
    pub fn findings(&self) -> Vec<Alert> {
        let mut out: Vec<Alert> = self.map.iter().map(|(k, a)| finding(k, a)).collect();
        out.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.where_.sessions_affected.cmp(&a.where_.sessions_affected))
                .then(a.code.cmp(&b.code))
                .then(a.where_.policy_domain.cmp(&b.where_.policy_domain))
                .then(a.where_.mx_host.cmp(&b.where_.mx_host))
                .then(a.result_type.cmp(&b.result_type))
        });
        out
    }
}

/// The findings of a set of reports (see [`Alerts`]).
pub fn findings<'r, 'a: 'r>(reports: impl IntoIterator<Item = &'r Report<'a>>) -> Vec<Alert> {
    let mut a = Alerts::new();
    for r in reports {
        a.add(r);
    }
    a.findings()
}

fn static_code(r: &ResultType) -> AlertCode {
    match r {
        ResultType::StarttlsNotSupported => AlertCode::StarttlsNotSupported,
        ResultType::CertificateHostMismatch => AlertCode::CertificateHostMismatch,
        ResultType::CertificateExpired => AlertCode::CertificateExpired,
        ResultType::TlsaInvalid => AlertCode::TlsaInvalid,
        ResultType::DnssecInvalid => AlertCode::DnssecInvalid,
        ResultType::DaneRequired => AlertCode::DaneRequired,
        ResultType::CertificateNotTrusted => AlertCode::CertificateNotTrusted,
        ResultType::StsPolicyInvalid => AlertCode::StsPolicyInvalid,
        ResultType::StsWebpkiInvalid => AlertCode::StsWebpkiInvalid,
        ResultType::ValidationFailure => AlertCode::ValidationFailure,
        ResultType::StsPolicyFetchError => AlertCode::StsPolicyFetchError,
        _ => AlertCode::UnregisteredResultType,
    }
}

fn list(set: &BTreeSet<String>) -> String {
    set.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// HTTP status codes (100-599) written as a separate 3-digit number in a
/// reason text: not part of a word (`x509` is no status 509).
fn http_statuses(reasons: &BTreeSet<String>) -> BTreeSet<u16> {
    let mut out = BTreeSet::new();
    for r in reasons {
        let b = r.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let separate = (start == 0 || !b[start - 1].is_ascii_alphabetic())
                    && b.get(i).is_none_or(|c| !c.is_ascii_alphabetic());
                if i - start == 3 && separate {
                    let n = b[start..i]
                        .iter()
                        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
                    if (100..600).contains(&n) {
                        out.insert(n);
                    }
                }
            } else {
                i += 1;
            }
        }
    }
    out
}

fn any_reason(reasons: &BTreeSet<String>, needles: &[&str]) -> bool {
    reasons.iter().any(|r| {
        let r = r.to_ascii_lowercase();
        needles.iter().any(|n| r.contains(n))
    })
}

const MODE_NOTE: &str = "In `mode: testing` senders deliver anyway and only report; in `mode: enforce` MTA-STS senders refuse to deliver to a host that fails this way (mail is queued and eventually bounced).";

/// `name` when it can stand as one word of a command line (letters,
/// digits, `.`, `-`, `_`, not starting with `-`, at most 253 bytes), else
/// `placeholder`: names come from untrusted reports, and a command must
/// stay one command whatever they hold.
fn command_arg<'n>(name: Option<&'n str>, placeholder: &'n str) -> &'n str {
    match name {
        Some(n)
            if !n.is_empty()
                && n.len() <= 253
                && !n.starts_with('-')
                && n.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_')) =>
        {
            n
        }
        _ => placeholder,
    }
}

/// The MX host placeholder of commands when the reports name none, or a
/// name that cannot stand in a command line.
const MX_PLACEHOLDER: &str = "MX-HOST";
/// The policy domain placeholder of commands.
const DOMAIN_PLACEHOLDER: &str = "DOMAIN";

fn finding(k: &Key, a: &Acc) -> Alert {
    let domain = k.policy_domain.as_deref().unwrap_or("<policy-domain>");
    let mx = k.mx_host.as_deref().unwrap_or("the receiving MX host");
    let policy_file = policy_url(domain);
    let policy_hostname = policy_host(domain);
    // The same names as words of the commands quoted in the steps.
    let mx_arg = command_arg(k.mx_host.as_deref(), MX_PLACEHOLDER);
    let domain_arg = command_arg(k.policy_domain.as_deref(), DOMAIN_PLACEHOLDER);
    let policy_file_arg = policy_url(domain_arg);
    let mut steps: Vec<String> = Vec::new();
    let rt = a.result_type.as_deref().map_or_else(
        || ResultType::Other(String::new()),
        |s| {
            let Ok(rt) = s.parse::<ResultType>();
            rt
        },
    );
    let patterns = if a.patterns.is_empty() {
        "(none reported)".to_owned()
    } else {
        list(&a.patterns)
    };
    let (severity, title, meaning): (Severity, String, String) = match (k.code, &rt) {
        (AlertCode::MxNotInPolicy, _) => {
            steps.push(format!(
                "The MX host {mx} is not matched by any `mx` pattern of the policy of {domain} (reported patterns: {patterns}). Either add a line `mx: {mx}` (or a wildcard `mx: *.<parent>`, which covers exactly one label) to the policy at {policy_file} and publish a new `id` in the `_mta-sts.{domain}` TXT record, or fix the MX records of {domain} so that they only name hosts the policy covers."
            ));
            steps.push(format!(
                "Check that every MX host of {domain} matches: save the policy with `curl -so mta-sts.txt {policy_file_arg}`, then run `mtasts policy match mta-sts.txt {mx_arg}` (or `mtasts check {domain_arg}` for the whole domain)."
            ));
            (
                Severity::Error,
                format!("MX host {mx} is not covered by the MTA-STS policy of {domain}"),
                format!(
                    "Senders validated the policy's `mx` patterns against the MX host they connected to and found no match (validation-failure with an MX/policy mismatch). {MODE_NOTE}"
                ),
            )
        }
        (_, ResultType::CertificateExpired) => {
            steps.push(format!(
                "Renew the certificate served by {mx} and reload or restart the SMTP server so that it serves the new one (a renewed file on disk is not used until the server reloads it)."
            ));
            steps.push(format!(
                "Check the renewal automation on {mx} (certbot or acme.sh timer/cron job, and the deploy hook that reloads Postfix/Exim); backup MX hosts are the ones most often forgotten."
            ));
            steps.push(format!(
                "Verify: `openssl s_client -starttls smtp -connect {mx_arg}:25 -servername {mx_arg} </dev/null | openssl x509 -noout -enddate`, or `mtasts cert check --mx {mx_arg} cert.pem` on the certificate file (PEM) the server serves."
            ));
            (
                Severity::Error,
                format!("Expired TLS certificate on {mx}"),
                format!(
                    "The certificate {mx} presented in STARTTLS was past its expiry date, so senders could not authenticate the host. {MODE_NOTE}"
                ),
            )
        }
        (_, ResultType::CertificateHostMismatch) => {
            steps.push(format!(
                "Serve a certificate whose subject alternative names (DNS names) include the MX host name {mx} itself. The policy domain ({domain}) and the policy's `mx` pattern do not count: the certificate must name the host senders connect to."
            ));
            steps.push(
                "A wildcard certificate name covers exactly one left-most label: `*.example.com` covers `mx1.example.com` but neither `example.com` nor `a.mx1.example.com`."
                    .to_owned(),
            );
            steps.push(format!(
                "If {mx} is a hosted service, point the MX record at the provider's host name that its certificate carries, and list that name in the policy's `mx` lines."
            ));
            if a.mx_outside_policy {
                steps.push(format!(
                    "Also: {mx} is not matched by the policy's `mx` patterns ({patterns}); add a matching `mx` line or fix the MX records."
                ));
            }
            (
                Severity::Error,
                format!("TLS certificate on {mx} does not match the host name"),
                format!(
                    "The certificate {mx} presented does not cover the MX host name (RFC 8461 section 4.1 checks the MX host name against the certificate's subject alternative names). {MODE_NOTE}"
                ),
            )
        }
        (_, ResultType::CertificateNotTrusted) => {
            steps.push(format!(
                "Use a certificate from a publicly trusted CA on {mx}: self-signed certificates and private CAs fail MTA-STS validation (senders use their ordinary WebPKI trust store)."
            ));
            steps.push(
                "Send the full chain: the server certificate followed by the intermediate certificates (for example `fullchain.pem`, not `cert.pem`; Postfix `smtpd_tls_chain_files`, Exim `tls_certificate`)."
                    .to_owned(),
            );
            if any_reason(&a.reasons, &["self_signed", "self-signed", "self signed"]) {
                steps.push(format!(
                    "The reason codes say the certificate is self-signed: replace it with a CA-issued certificate for {mx}."
                ));
            }
            if any_reason(
                &a.reasons,
                &["issuer", "local_issuer", "unable_to_get", "chain"],
            ) {
                steps.push(
                    "The reason codes point at a missing intermediate certificate: configure the chain file."
                        .to_owned(),
                );
            }
            (
                Severity::Error,
                format!("TLS certificate on {mx} is not trusted"),
                format!(
                    "Senders could not build a chain from the certificate {mx} presented to a trusted root (unknown CA, self-signed, missing intermediates, or another chain problem). {MODE_NOTE}"
                ),
            )
        }
        (_, ResultType::StarttlsNotSupported) => {
            steps.push(format!(
                "Enable STARTTLS on {mx} with a valid certificate (Postfix: `smtpd_tls_security_level = may` and `smtpd_tls_chain_files`; Exim: `tls_advertise_hosts = *` and `tls_certificate`)."
            ));
            steps.push(format!(
                "Check that nothing between the Internet and {mx} strips STARTTLS from the EHLO answer (\"SMTP inspection\" firewalls do): `openssl s_client -starttls smtp -connect {mx_arg}:25`, or `mtasts check {domain_arg}`, which probes every MX host of the domain."
            ));
            steps.push(format!(
                "If {mx} cannot do TLS, remove it from the MX records of {domain} and from the policy."
            ));
            (
                Severity::Error,
                format!("{mx} does not offer STARTTLS"),
                format!(
                    "The MX host did not advertise STARTTLS, so no TLS session could be set up. {MODE_NOTE}"
                ),
            )
        }
        (_, ResultType::ValidationFailure) => {
            if a.reasons.is_empty() {
                steps.push(
                    "The reports carry no failure-reason-code; ask the reporting organisations for details (contact-info of the report) and check the MX host's certificate and TLS configuration."
                        .to_owned(),
                );
            } else {
                steps.push(format!(
                    "Look at the failure-reason-code values: {}.",
                    list(&a.reasons)
                ));
            }
            if any_reason(&a.reasons, &["x509", "cert", "chain", "path_length"]) {
                steps.push(format!(
                    "The reason codes name an X.509 certificate problem: check the chain {mx} sends (leaf plus intermediates from a publicly trusted CA, no unusual extensions or constraints) with `openssl s_client -starttls smtp -connect {mx_arg}:25 -showcerts`."
                ));
            }
            if !a.mx_inside_policy {
                steps.push(format!(
                    "Make sure {mx} is matched by an `mx` pattern of the policy ({patterns}); if it is not, add it or fix the MX records."
                ));
            }
            (
                Severity::Warning,
                format!("TLS validation failure at {mx}"),
                format!(
                    "validation-failure is the catch-all for failures no other result type describes; the failure-reason-code says what went wrong. {MODE_NOTE}"
                ),
            )
        }
        (_, ResultType::StsPolicyFetchError) => {
            steps.push(format!(
                "Check that {policy_file} answers `200 OK` with the policy: `curl -sv {policy_file_arg}`, or `mtasts check {domain_arg}`, which fetches it as senders do."
            ));
            for s in http_statuses(&a.reasons) {
                steps.push(match s {
                    404 => format!(
                        "HTTP 404: the policy file is missing. Publish it at exactly {policy_file} (the path is fixed; check the web server's document root or virtual host for {policy_hostname})."
                    ),
                    300..=399 => format!(
                        "HTTP {s}: senders do not follow redirects (RFC 8461 section 3.3). Serve the policy directly at {policy_file}, with no redirect (also none from a catch-all HTTP-to-HTTPS or www rule)."
                    ),
                    401 | 403 => format!(
                        "HTTP {s}: access to the policy is denied. Allow anonymous GET of {policy_file}."
                    ),
                    500..=599 => format!(
                        "HTTP {s}: the server of {policy_hostname} failed. Check its error log, and the backend or proxy behind it."
                    ),
                    _ => format!("HTTP {s}: the answer must be 200 with the policy as text/plain."),
                });
            }
            if any_reason(
                &a.reasons,
                &["timeout", "timed out", "refused", "unreachable", "connect"],
            ) {
                steps.push(format!(
                    "Connections failed: {policy_hostname} must accept HTTPS on port 443 from anywhere (firewall, server running)."
                ));
            }
            if any_reason(
                &a.reasons,
                &["dns", "resolve", "nxdomain", "no such host", "servfail"],
            ) {
                steps.push(format!(
                    "Name resolution failed: publish an A and/or AAAA record (or a CNAME) for {policy_hostname}."
                ));
            }
            if any_reason(&a.reasons, &["tls", "ssl", "certificate", "x509"]) {
                steps.push(format!(
                    "The reason codes mention TLS: the HTTPS certificate of {policy_hostname} must be valid for that name and publicly trusted."
                ));
            }
            steps.push(format!(
                "If {domain} no longer uses MTA-STS, publish `mode: none` for a while, then remove the `_mta-sts.{domain}` TXT record."
            ));
            (
                Severity::Error,
                format!("MTA-STS policy of {domain} could not be fetched"),
                format!(
                    "Senders saw the `_mta-sts.{domain}` TXT record but could not retrieve the policy over HTTPS (host unreachable, HTTP error or redirect). Without a cached copy they deliver without MTA-STS protection, and the domain's TLS requirements are not applied."
                ),
            )
        }
        (_, ResultType::StsPolicyInvalid) => {
            steps.push(format!(
                "Fetch the policy with `curl -so mta-sts.txt {policy_file_arg}` and run `mtasts policy lint mta-sts.txt`: the first line must be `version: STSv1`, followed by `mode:`, one `mx:` line per pattern and `max_age:`, each as `key: value` on its own line."
            ));
            if any_reason(
                &a.reasons,
                &["text/html", "content-type", "content type", "html"],
            ) || http_statuses(&a.reasons).contains(&404)
            {
                steps.push(format!(
                    "The reason codes point at a web page instead of the policy (an HTML error page or a catch-all site): serve the file itself at {policy_file} with `Content-Type: text/plain`."
                ));
            } else {
                steps.push(
                    "Serve the policy with `Content-Type: text/plain` (not text/html).".to_owned(),
                );
            }
            steps.push(format!(
                "After fixing it, publish a new `id` in the `_mta-sts.{domain}` TXT record so that senders fetch it again."
            ));
            (
                Severity::Error,
                format!("MTA-STS policy of {domain} is invalid"),
                "Senders fetched the policy but it failed validation (syntax, missing fields, or a media type other than text/plain), so they cannot apply it.".to_owned(),
            )
        }
        (_, ResultType::StsWebpkiInvalid) => {
            steps.push(format!(
                "The HTTPS certificate of {policy_hostname} must be valid for exactly that name (a certificate for {domain} or www.{domain} does not cover it), unexpired, and issued by a publicly trusted CA."
            ));
            steps.push(format!(
                "Send the intermediate certificates too, and check from outside your network with `curl -v {policy_file_arg}` or `mtasts check {domain_arg}`."
            ));
            (
                Severity::Error,
                format!("HTTPS certificate of {policy_hostname} failed validation"),
                format!(
                    "Senders could not authenticate {policy_hostname} with WebPKI, so they did not trust the policy fetched from it (RFC 8461 section 3.3)."
                ),
            )
        }
        (_, ResultType::TlsaInvalid) => {
            steps.push(format!(
                "Compare the TLSA records at `_25._tcp.{mx}` with the certificate chain {mx} serves (e.g. `posttls-finger -t30 -T180 -c -L verbose,summary {mx_arg}`); usually the certificate or key changed without the TLSA records being updated."
            ));
            steps.push(
                "For rollovers publish the TLSA record of the new key next to the old one before deploying the new certificate (or use `3 1 1` records and keep the key across renewals)."
                    .to_owned(),
            );
            (
                Severity::Error,
                format!("DANE TLSA records of {mx} do not match its certificate"),
                "None of the TLSA records validated the certificate chain the MX host presented; DANE senders refuse delivery.".to_owned(),
            )
        }
        (_, ResultType::DnssecInvalid) => {
            steps.push(format!(
                "Check the DNSSEC chain of {mx} and its TLSA records (DS at the parent matching a DNSKEY, signatures not expired, re-signing running), for example with DNSViz or `delv`."
            ));
            (
                Severity::Error,
                format!("DNSSEC validation failed for {mx}"),
                "The sender's validating resolver got bogus (failed-validation) DNSSEC answers, so it could not use the TLSA records; DANE senders defer delivery.".to_owned(),
            )
        }
        (_, ResultType::DaneRequired) => {
            steps.push(format!(
                "If you intend to use DANE, publish DNSSEC-signed TLSA records at `_25._tcp.{mx}` and check them."
            ));
            steps.push(
                "If not, nothing in your zone is wrong: the sender requires DANE by its own local configuration; contact the reporting organisation."
                    .to_owned(),
            );
            (
                Severity::Warning,
                format!("Sender requires DANE for {mx}, but found no usable TLSA records"),
                "The sending side is configured to require DANE for this destination and found no validated TLSA records for the MX host.".to_owned(),
            )
        }
        _ => {
            steps.push(
                "Read the failure-reason-code and additional-information of the report, and contact the reporting organisation; the IANA registry of result types may have grown since this software was written."
                    .to_owned(),
            );
            (
                Severity::Info,
                format!("Unregistered result type `{}` at {mx}", k.result_type),
                format!(
                    "The reporter used the result type `{}`, which is not in the IANA \"STARTTLS Validation Result Types\" registry this software knows.",
                    k.result_type
                ),
            )
        }
    };
    let mut what = format!(
        "{} failed session{} with result type `{}` reported by {}",
        a.sessions,
        if a.sessions == 1 { "" } else { "s" },
        k.result_type,
        list(&a.orgs)
    );
    if let Some(h) = &k.mx_host {
        what.push_str(&format!(" for MX host {h}"));
        if !a.ips.is_empty() {
            what.push_str(&format!(" ({})", list(&a.ips)));
        }
    }
    if let Some(d) = &k.policy_domain {
        what.push_str(&format!(", policy domain {d}"));
    }
    if !a.modes.is_empty() {
        what.push_str(&format!(" (policy mode: {})", list(&a.modes)));
    }
    what.push('.');
    if !a.reasons.is_empty() && k.code != AlertCode::ValidationFailure {
        what.push_str(&format!(" Failure reason codes: {}.", list(&a.reasons)));
    }
    Alert {
        severity,
        code: k.code,
        result_type: k.result_type.clone(),
        title,
        what_happened: what,
        where_: Location {
            policy_domain: k.policy_domain.clone(),
            mx_host: k.mx_host.clone(),
            receiving_ips: a.ips.iter().cloned().collect(),
            policy_types: a.policy_types.iter().cloned().collect(),
            sending_organizations: a.orgs.iter().cloned().collect(),
            sessions_affected: a.sessions,
        },
        failure_reason_codes: a.reasons.iter().cloned().collect(),
        meaning,
        remediation: steps,
    }
}

/// Every remediation step an [`Alert`] can carry, each once, in a stable
/// order: the steps of every [`AlertCode`], generated for the sample MX
/// host `mx1.example.com` and policy domain `example.com`, for reports
/// without a `failure-reason-code`, for reports whose reason codes trigger
/// every refinement (HTTP statuses, self-signed, missing intermediates,
/// X.509, timeouts, DNS, TLS, `text/html`) with the MX host outside the
/// policy, and for reports naming neither host nor domain (the commands
/// then hold the placeholders `MX-HOST` and `DOMAIN`).
///
/// Commands in the steps are quoted in backticks; those of this tool start
/// with `mtasts ` and are complete command lines whose words are separated
/// by single spaces and need no shell quoting ([`mtasts_commands`] picks
/// them out). A host or domain name from a report that could not stand as
/// one such word (white space, quotes, a leading `-`, ...) is replaced by
/// the placeholder.
///
/// ```
/// use tlsrpt_core::alert::{all_remediations, mtasts_commands};
/// let steps = all_remediations();
/// let commands: Vec<&str> = steps.iter().flat_map(|s| mtasts_commands(s)).collect();
/// assert!(commands.contains(&"mtasts cert check --mx mx1.example.com cert.pem"));
/// assert!(commands.contains(&"mtasts policy lint mta-sts.txt"));
/// assert!(commands.contains(&"mtasts check DOMAIN"));
/// ```
pub fn all_remediations() -> Vec<String> {
    let triggers: BTreeSet<String> = [
        "self_signed certificate in chain",
        "unable_to_get_local_issuer_certificate",
        "x509: path_length constraint exceeded",
        "HTTP 404 Not Found",
        "HTTP 301 Moved Permanently",
        "HTTP 403 Forbidden",
        "HTTP 500 Internal Server Error",
        "HTTP 418",
        "connect: connection timed out",
        "dns: nxdomain",
        "tls handshake failure",
        "content-type text/html",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let patterns: BTreeSet<String> = ["mx1.example.com".to_owned()].into();
    let named = |code| Key {
        code,
        result_type: String::new(),
        policy_domain: Some("example.com".to_owned()),
        mx_host: Some("mx1.example.com".to_owned()),
    };
    let mut out: Vec<String> = Vec::new();
    for &code in AlertCode::ALL {
        let result_type = match code {
            AlertCode::MxNotInPolicy => ResultType::ValidationFailure,
            AlertCode::UnregisteredResultType => ResultType::Other("x-unregistered".to_owned()),
            c => c.as_str().parse().unwrap_or(ResultType::ValidationFailure),
        };
        let plain = Acc {
            result_type: Some(result_type.as_str().to_owned()),
            sessions: 1,
            patterns: patterns.clone(),
            mx_inside_policy: true,
            ..Acc::default()
        };
        let refined = Acc {
            reasons: triggers.clone(),
            mx_outside_policy: true,
            mx_inside_policy: false,
            ..plain.clone()
        };
        let anonymous = Acc {
            mx_inside_policy: false,
            ..plain.clone()
        };
        let unnamed = Key {
            policy_domain: None,
            mx_host: None,
            ..named(code)
        };
        for (k, a) in [
            (named(code), plain),
            (named(code), refined),
            (unnamed, anonymous),
        ] {
            let k = Key {
                result_type: result_type.as_str().to_owned(),
                ..k
            };
            for step in finding(&k, &a).remediation {
                if !out.contains(&step) {
                    out.push(step);
                }
            }
        }
    }
    out
}

/// The commands of this tool quoted in `text`: every backtick-quoted span
/// that starts with `mtasts `, in order.
///
/// ```
/// use tlsrpt_core::alert::mtasts_commands;
/// let step = "Run `curl -so mta-sts.txt https://mta-sts.example.com/.well-known/mta-sts.txt`, then `mtasts policy lint mta-sts.txt`.";
/// assert_eq!(mtasts_commands(step).collect::<Vec<_>>(), ["mtasts policy lint mta-sts.txt"]);
/// ```
pub fn mtasts_commands(text: &str) -> impl Iterator<Item = &str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|q| q.starts_with("mtasts "))
}

/// Whether a result type is the receiving domain's fault for MTA-STS: the
/// negotiation failures (`certificate-*`, `starttls-not-supported`,
/// `validation-failure`) and the policy failures (`sts-*`). The registry
/// has no result type that is the sender's fault; the DANE types
/// (`tlsa-invalid`, `dnssec-invalid`, `dane-required`) concern DANE, which
/// the MTA-STS mode does not change; unregistered types cannot be judged.
pub fn blocks_enforce(r: &ResultType) -> bool {
    matches!(
        r,
        ResultType::CertificateExpired
            | ResultType::CertificateHostMismatch
            | ResultType::CertificateNotTrusted
            | ResultType::StarttlsNotSupported
            | ResultType::ValidationFailure
            | ResultType::StsPolicyFetchError
            | ResultType::StsPolicyInvalid
            | ResultType::StsWebpkiInvalid
    )
}

/// The verdict of [`enforce_readiness`] and [`ReadinessTracker::verdict`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Readiness {
    /// Whether switching the policy to `mode: enforce` looks safe.
    pub ready: bool,
    /// The policy domain judged (normalised).
    pub policy_domain: String,
    /// The first UTC day of the window judged (`YYYY-MM-DD`).
    pub window_start: String,
    /// The last UTC day of the window judged (`YYYY-MM-DD`).
    pub window_end: String,
    /// Days of the window with at least one report showing successful
    /// sessions for an `sts` policy of the domain.
    pub days_covered: u32,
    /// Days that must be covered (the window length).
    pub days_required: u32,
    /// Reports of the domain that meet the window (each counted once).
    pub reports: u64,
    /// Why it is not ready (empty when ready).
    pub blocking: Vec<String>,
    /// Observations that do not block (DANE or unregistered failures, a
    /// policy already in enforce mode, duplicate reports ignored).
    pub notes: Vec<String>,
    /// Successful plus failed sessions of the domain's policies in the
    /// window.
    pub sessions_seen: u64,
    /// Successful sessions of the domain's `sts` policies in the window.
    pub successful_sessions: u64,
    /// Failed sessions that are the domain's fault (see
    /// [`blocks_enforce`]), plus failures a summary counts but no failure
    /// detail explains.
    pub failures_attributable: u64,
    /// Failed sessions with result types that do not block.
    pub failures_other: u64,
}

/// The UTC days a report covers: from the day of `start-datetime` to the
/// day of the last second before `end-datetime` (so both
/// `…T23:59:59Z` and next-day `…T00:00:00Z` ends cover one day).
fn covered_days(r: &Report<'_>) -> (i64, i64) {
    let first = r.date_range.start.day();
    let end = r.date_range.end.secs;
    let last = if end > r.date_range.start.secs {
        end.saturating_sub(1).div_euclid(86_400)
    } else {
        first
    };
    (first, last.max(first))
}

/// The default window of [`crate::summary::Aggregator`]'s readiness
/// verdicts, in UTC days.
pub const READINESS_DAYS: u32 = 14;

/// What the verdict needs of the reports of one policy domain with one
/// date range (UTC days, inclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct RangeAcc {
    /// Reports counted.
    reports: u64,
    /// Reports seen again and not counted.
    duplicates: u64,
    sessions_seen: u64,
    successful: u64,
    /// Some `sts` policy had successful sessions: the days count as
    /// covered.
    covers: bool,
    /// Result type → failed sessions that block enforce.
    attributable: BTreeMap<String, u64>,
    /// Result type → failed sessions that do not.
    other: BTreeMap<String, u64>,
    /// Failures of `sts` summaries beyond their failure details.
    unexplained: u64,
    /// `mode:` values of the `sts` policies (at most [`MAX_LISTED`]).
    modes: BTreeSet<String>,
}

impl RangeAcc {
    /// Add what `o` collected.
    fn merge(&mut self, o: &Self) {
        self.reports = self.reports.saturating_add(o.reports);
        self.duplicates = self.duplicates.saturating_add(o.duplicates);
        self.sessions_seen = self.sessions_seen.saturating_add(o.sessions_seen);
        self.successful = self.successful.saturating_add(o.successful);
        self.covers |= o.covers;
        for (into, from) in [
            (&mut self.attributable, &o.attributable),
            (&mut self.other, &o.other),
        ] {
            for (rt, n) in from {
                add_result_type(into, rt, *n);
            }
        }
        self.unexplained = self.unexplained.saturating_add(o.unexplained);
        for m in &o.modes {
            insert_capped(&mut self.modes, m.clone());
        }
    }
}

/// Add `n` sessions of result type `rt` to `map`, keeping at most
/// [`crate::summary::MAX_RESULT_TYPES_PER_HOST`] result types (later ones
/// under [`crate::summary::OTHER`]).
fn add_result_type(map: &mut BTreeMap<String, u64>, rt: &str, n: u64) {
    let key = if map.len() >= crate::summary::MAX_RESULT_TYPES_PER_HOST && !map.contains_key(rt) {
        crate::summary::OTHER
    } else {
        rt
    };
    let e = map.entry(key.to_owned()).or_default();
    *e = e.saturating_add(n);
}

/// Collects, report by report, what the `testing` → `enforce` readiness
/// verdict needs, so that every policy domain can be judged at the end
/// without keeping the reports (the rule is [`enforce_readiness`]'s).
///
/// It keeps one small record per policy domain and report date range, at
/// most [`ReadinessTracker::max_keys`] of them (default
/// [`crate::summary::MAX_GROUPS`]); a report that would need more is not
/// tracked, counted in [`ReadinessTracker::folded`], and every verdict is
/// then blocked (its data is incomplete). Duplicate detection is the
/// caller's: feed each report once with [`ReadinessTracker::add`], and
/// again-seen ones with [`ReadinessTracker::add_duplicate`] (they only
/// give a note). [`crate::summary::Aggregator`] does both. Like
/// [`Alerts`], it serializes and merges ([`ReadinessTracker::merge`]).
///
/// ```
/// use tlsrpt_core::{Report, alert::ReadinessTracker};
/// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-03-01T00:00:00Z","end-datetime":"2024-03-01T23:59:59Z"},"contact-info":"a@org.example","report-id":"1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["mx.example.com"]},"summary":{"total-successful-session-count":7,"total-failure-session-count":0}}]}"#;
/// let r = Report::parse_lenient(json)?.value;
/// let mut t = ReadinessTracker::new();
/// t.add(&r);
/// let day = t.last_day().unwrap();
/// let v = t.verdicts(1, day);
/// assert_eq!(v.len(), 1);
/// assert!(v[0].ready);
/// assert_eq!((v[0].policy_domain.as_str(), v[0].window_end.as_str()), ("example.com", "2024-03-01"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadinessTracker {
    /// (policy domain, first day, last day) → what was seen.
    #[serde(with = "pairs")]
    map: BTreeMap<(String, i64, i64), RangeAcc>,
    max_keys: usize,
    folded: u64,
    last_day: Option<i64>,
}

impl Default for ReadinessTracker {
    fn default() -> Self {
        Self::with_max_keys(crate::summary::MAX_GROUPS)
    }
}

impl ReadinessTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tracker keeping at most `max` (policy domain, date range)
    /// records (at least 1).
    pub fn with_max_keys(max: usize) -> Self {
        Self {
            map: BTreeMap::new(),
            max_keys: max.max(1),
            folded: 0,
            last_day: None,
        }
    }

    /// The bound on records.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Reports (per policy domain) not tracked because the bound was
    /// reached.
    pub fn folded(&self) -> u64 {
        self.folded
    }

    /// The last UTC day (day number since 1970-01-01) covered by a report
    /// added with [`ReadinessTracker::add`]; `None` before the first.
    pub fn last_day(&self) -> Option<i64> {
        self.last_day
    }

    /// Add a report seen for the first time.
    pub fn add(&mut self, report: &Report<'_>) {
        self.add_for(report, None, false);
    }

    /// Note a report seen again (same `organization-name` and
    /// `report-id`): it counts nothing, and the verdicts mention it.
    pub fn add_duplicate(&mut self, report: &Report<'_>) {
        self.add_for(report, None, true);
    }

    /// Add the policies of `report` for `only` (a normalised domain), or
    /// for every domain.
    fn add_for(&mut self, report: &Report<'_>, only: Option<&str>, duplicate: bool) {
        let (from, to) = covered_days(report);
        if !duplicate {
            self.last_day = Some(self.last_day.map_or(to, |d| d.max(to)));
        }
        // The report's policies, grouped by normalised domain; `tlsa`
        // policies are left out (their failures concern DANE).
        let mut by_domain: BTreeMap<String, Vec<&PolicyResult<'_>>> = BTreeMap::new();
        for p in &report.policies {
            if p.policy.policy_type == PolicyType::Tlsa {
                continue;
            }
            let Some(d) = p.policy.policy_domain.as_deref() else {
                continue;
            };
            let d = normalize_name(d);
            if only.is_some_and(|o| o != d) {
                continue;
            }
            by_domain.entry(d).or_default().push(p);
        }
        for (domain, policies) in by_domain {
            let key = (domain, from, to);
            if self.map.len() >= self.max_keys && !self.map.contains_key(&key) {
                self.folded = self.folded.saturating_add(1);
                continue;
            }
            let acc = self.map.entry(key).or_default();
            if duplicate {
                acc.duplicates = acc.duplicates.saturating_add(1);
                continue;
            }
            acc.reports = acc.reports.saturating_add(1);
            for p in policies {
                let ok = p.summary.total_successful_session_count;
                let failed = p.summary.total_failure_session_count;
                acc.sessions_seen = acc.sessions_seen.saturating_add(ok).saturating_add(failed);
                let is_sts = p.policy.policy_type == PolicyType::Sts;
                if is_sts {
                    acc.successful = acc.successful.saturating_add(ok);
                    if let Some(m) = policy_mode(&p.policy) {
                        insert_capped(&mut acc.modes, m.to_owned());
                    }
                    acc.covers |= ok > 0;
                }
                let mut detailed = 0u64;
                for d in &p.failure_details {
                    detailed = detailed.saturating_add(d.failed_session_count);
                    let bucket = if blocks_enforce(&d.result_type) {
                        &mut acc.attributable
                    } else {
                        &mut acc.other
                    };
                    add_result_type(bucket, d.result_type.as_str(), d.failed_session_count);
                }
                if is_sts && failed > detailed {
                    acc.unexplained = acc.unexplained.saturating_add(failed - detailed);
                }
            }
        }
    }

    /// Add what `other` collected, as if its reports had been added to
    /// `self` (within this tracker's bound: a record of `other` that no
    /// longer fits is not tracked and counts one in
    /// [`ReadinessTracker::folded`]).
    pub fn merge(&mut self, other: &Self) {
        self.folded = self.folded.saturating_add(other.folded);
        if let Some(d) = other.last_day {
            self.last_day = Some(self.last_day.map_or(d, |l| l.max(d)));
        }
        for (k, a) in &other.map {
            if self.map.len() >= self.max_keys && !self.map.contains_key(k) {
                self.folded = self.folded.saturating_add(1);
                continue;
            }
            self.map.entry(k.clone()).or_default().merge(a);
        }
    }

    /// The policy domains with at least one report counted, sorted.
    pub fn domains(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for ((d, _, _), acc) in &self.map {
            if acc.reports > 0 && out.last() != Some(&d.as_str()) {
                out.push(d);
            }
        }
        out
    }

    /// The last UTC day covered by a report of `policy_domain`
    /// (normalised) counted with [`ReadinessTracker::add`].
    pub fn last_day_of(&self, policy_domain: &str) -> Option<i64> {
        let domain = normalize_name(policy_domain);
        let lo = (domain.clone(), i64::MIN, i64::MIN);
        let hi = (domain, i64::MAX, i64::MAX);
        self.map
            .range(lo..=hi)
            .filter(|(_, a)| a.reports > 0)
            .map(|((_, _, to), _)| *to)
            .max()
    }

    /// The verdict for every domain of [`ReadinessTracker::domains`], over
    /// the window of `days` UTC days ending with `now_day`.
    pub fn verdicts(&self, days: u32, now_day: i64) -> Vec<Readiness> {
        self.domains()
            .into_iter()
            .map(|d| self.verdict(d, days, now_day))
            .collect()
    }

    /// The verdict for every domain of [`ReadinessTracker::domains`], each
    /// over the window of `days` UTC days ending with the last day its own
    /// reports cover ([`ReadinessTracker::last_day_of`]): for a collection
    /// of reports from different periods.
    pub fn latest_verdicts(&self, days: u32) -> Vec<Readiness> {
        self.domains()
            .into_iter()
            .filter_map(|d| Some(self.verdict(d, days, self.last_day_of(d)?)))
            .collect()
    }

    /// The verdict for `policy_domain` over the window of `days` UTC days
    /// ending with `now_day` (the rule of [`enforce_readiness`]).
    pub fn verdict(&self, policy_domain: &str, days: u32, now_day: i64) -> Readiness {
        let domain = normalize_name(policy_domain);
        let first_day = now_day.saturating_sub(i64::from(days)).saturating_add(1);
        let mut covered: Vec<(i64, i64)> = Vec::new();
        let mut attributable: BTreeMap<String, u64> = BTreeMap::new();
        let mut other: BTreeMap<String, u64> = BTreeMap::new();
        let mut modes: BTreeSet<String> = BTreeSet::new();
        let (mut unexplained, mut duplicates, mut reports) = (0u64, 0u64, 0u64);
        let (mut sessions_seen, mut successful) = (0u64, 0u64);
        let lo = (domain.clone(), i64::MIN, i64::MIN);
        let hi = (domain.clone(), i64::MAX, i64::MAX);
        for ((_, from, to), a) in self.map.range(lo..=hi) {
            if days == 0 || *to < first_day || *from > now_day {
                continue;
            }
            duplicates = duplicates.saturating_add(a.duplicates);
            reports = reports.saturating_add(a.reports);
            sessions_seen = sessions_seen.saturating_add(a.sessions_seen);
            successful = successful.saturating_add(a.successful);
            unexplained = unexplained.saturating_add(a.unexplained);
            if a.covers {
                covered.push(((*from).max(first_day), (*to).min(now_day)));
            }
            for (into, from) in [(&mut attributable, &a.attributable), (&mut other, &a.other)] {
                for (rt, n) in from {
                    add_result_type(into, rt, *n);
                }
            }
            for m in &a.modes {
                insert_capped(&mut modes, m.clone());
            }
        }
        // The covered days as disjoint ranges, in order.
        covered.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (a, b) in covered {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        let covered_count = merged.iter().fold(0i64, |n, (a, b)| {
            n.saturating_add(b.saturating_sub(*a).saturating_add(1))
        });
        let days_covered = u32::try_from(covered_count).unwrap_or(u32::MAX);
        let mut blocking = Vec::new();
        if days == 0 {
            blocking.push("the window is empty (days = 0)".to_owned());
        } else if days_covered < days {
            // The first ten days of the window that no range covers.
            let mut missing = Vec::new();
            let mut day = first_day;
            let mut ranges = merged.iter().peekable();
            while day <= now_day && missing.len() < 10 {
                while ranges.peek().is_some_and(|r| r.1 < day) {
                    ranges.next();
                }
                match ranges.peek() {
                    Some(&&(a, b)) if a <= day => day = b.saturating_add(1),
                    _ => {
                        missing.push(
                            crate::time::Timestamp::from_unix(day.saturating_mul(86_400))
                                .date_string(),
                        );
                        day = day.saturating_add(1);
                    }
                }
            }
            blocking.push(format!(
                "only {days_covered} of the last {days} UTC days have reports with successful sessions for {domain}; missing: {}{}",
                missing.join(", "),
                if days - days_covered > 10 { ", …" } else { "" }
            ));
        }
        for (rt, n) in &attributable {
            blocking.push(format!(
                "{n} failed session(s) with result type {rt}, which is a problem of {domain}'s MX hosts or policy"
            ));
        }
        if unexplained > 0 {
            blocking.push(format!(
                "{unexplained} failed session(s) counted in summaries without failure details; their cause is unknown"
            ));
        }
        if self.folded > 0 {
            blocking.push(format!(
                "{} report(s) were not judged: more than {} (policy domain, date range) pairs; the verdict lacks their data",
                self.folded, self.max_keys
            ));
        }
        let mut notes = Vec::new();
        for (rt, n) in &other {
            notes.push(format!(
                "{n} failed session(s) with result type {rt} do not block MTA-STS enforce (DANE or unregistered result type)"
            ));
        }
        if modes.iter().any(|m| m == "enforce") {
            notes.push("some reports already show the policy in mode: enforce".to_owned());
        }
        if duplicates > 0 {
            notes.push(format!("{duplicates} duplicate report(s) ignored"));
        }
        let failures_attributable = attributable
            .values()
            .fold(unexplained, |a, &n| a.saturating_add(n));
        let failures_other = other.values().fold(0u64, |a, &n| a.saturating_add(n));
        let date =
            |d: i64| crate::time::Timestamp::from_unix(d.saturating_mul(86_400)).date_string();
        Readiness {
            ready: blocking.is_empty(),
            policy_domain: domain,
            window_start: date(first_day.min(now_day)),
            window_end: date(now_day),
            days_covered,
            days_required: days,
            reports,
            blocking,
            notes,
            sessions_seen,
            successful_sessions: successful,
            failures_attributable,
            failures_other,
        }
    }
}
/// Is an MTA-STS policy of `policy_domain` ready to move from
/// `mode: testing` to `mode: enforce`?
///
/// The rule, over the window of the `days` UTC days ending with `now_day`
/// (day numbers since 1970-01-01, as [`crate::time::Timestamp::day`];
/// pass yesterday to judge complete days only):
///
/// - Reports count when the UTC days they cover (from the day of
///   `start-datetime` to the day of the last second before `end-datetime`;
///   the JSON dates, never file names, RPT-GEN-06) meet the window. The
///   same `organization-name` and `report-id` counts once.
/// - Policies count when their `policy-domain` equals `policy_domain`
///   (ASCII case-insensitive, one trailing dot ignored); `tlsa` policies
///   are left out (their failures concern DANE).
/// - **Coverage**: every day of the window must be covered by a report
///   with successful sessions for an `sts` policy of the domain
///   (`days_covered >= days_required`, `days_required = days`).
/// - **No attributable failures**: no failure detail with a result type
///   for which [`blocks_enforce`] is true (`certificate-*`,
///   `starttls-not-supported`, `validation-failure`, `sts-*`). No
///   registered result type is the sender's fault, so none is excused;
///   DANE and unregistered result types are listed in `notes` and do not
///   block. Failures an `sts` policy's summary counts beyond the sum of
///   its failure details cannot be attributed and block too.
/// - `days == 0` is never ready.
///
/// ```
/// use tlsrpt_core::{Report, alert::enforce_readiness};
/// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-03-01T00:00:00Z","end-datetime":"2024-03-01T23:59:59Z"},"contact-info":"a@org.example","report-id":"1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["mx.example.com"]},"summary":{"total-successful-session-count":7,"total-failure-session-count":0}}]}"#;
/// let r = Report::parse_lenient(json)?.value;
/// let day = r.date_range.start.day();
/// let v = enforce_readiness([&r], "example.com", 1, day);
/// assert!(v.ready, "{:?}", v.blocking);
/// let v = enforce_readiness([&r], "example.com", 2, day);
/// assert!(!v.ready);
/// assert_eq!((v.days_covered, v.days_required), (1, 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn enforce_readiness<'r, 'a: 'r>(
    reports: impl IntoIterator<Item = &'r Report<'a>>,
    policy_domain: &str,
    days: u32,
    now_day: i64,
) -> Readiness {
    let domain = normalize_name(policy_domain);
    let first_day = now_day.saturating_sub(i64::from(days)).saturating_add(1);
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut tracker = ReadinessTracker::with_max_keys(usize::MAX);
    for r in reports {
        let (from, to) = covered_days(r);
        if days == 0 || to < first_day || from > now_day {
            continue;
        }
        let matches = r.policies.iter().any(|p| {
            p.policy.policy_type != PolicyType::Tlsa
                && p.policy
                    .policy_domain
                    .as_deref()
                    .is_some_and(|d| normalize_name(d) == domain)
        });
        if !matches {
            continue;
        }
        let duplicate = !seen.insert((&r.organization_name, &r.report_id));
        tracker.add_for(r, Some(&domain), duplicate);
    }
    tracker.verdict(&domain, days, now_day)
}
