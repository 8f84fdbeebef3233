//! `mtasts domain verify`: the live DNS of a hosted domain against what
//! the site serves.
//!
//! [`verify`] looks up, through the given resolver:
//!
//! - `_mta-sts.DOMAIN` TXT: present, exactly one `v=STSv1` record, and its
//!   id equal to the id of the policy being served (a stale id is an
//!   error whose fix is the exact record to publish);
//! - `mta-sts.DOMAIN`: a CNAME to the site's target (store setting
//!   `target`), or, without a CNAME, A/AAAA records that are the site's
//!   addresses (store setting `addresses`, comma-separated);
//! - `_smtp._tls.DOMAIN` TXT: present, exactly one `v=TLSRPTv1` record,
//!   naming every `rua` configured for the domain;
//! - the MX records of the domain: every MX host covered by the policy's
//!   `mx` patterns (an uncovered host is an error naming it, with the
//!   `mtasts domain set DOMAIN --mx ...` command that covers it).
//!
//! Each result is a [`Finding`] as in `mtasts check`: severity `error`
//! (senders would fail or skip the policy, or the domain is not served
//! by this site), `warning`, or `info` for a check that passed (shown as
//! `ok`), with a message and its fix. [`VerifyReport::passed`] is false
//! when any finding is an error.
//!
//! The store is blocking; [`verify`] calls it on the blocking pool
//! ([`tokio::task::spawn_blocking`]), never on a runtime worker.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use mta_sts_core::discovery::TxtAnswer;
use mta_sts_core::error::SelectErrorOf;
use mta_sts_core::finding::Severity;
use mta_sts_core::hosting::{self, DnsRecord};
use mta_sts_core::{Mode, MxPattern, StsRecord};
use policy_fetch::Dns;
use policy_fetch::hickory_resolver::net::{DnsError, NetError};
use policy_fetch::hickory_resolver::proto::op::ResponseCode;
use policy_fetch::hickory_resolver::proto::rr::{RData, RecordType};
use tlsrpt_core::TlsRptRecord;

use crate::store::{Domain, PolicyVersion, SiteStore, StoreError};

mta_sts_core::code_enum! {
    /// What `verify` found (the `code` of its findings): stable
    /// identifiers for scripts. Codes of passed checks end in `-ok`.
    pub enum VerifyCode {
        /// `_mta-sts` TXT: one record, naming the served id.
        StsRecordOk => "sts-record-ok",
        /// `_mta-sts` TXT: no `v=STSv1` record.
        StsRecordAbsent => "sts-record-absent",
        /// `_mta-sts` TXT: more than one `v=STSv1` record.
        StsRecordMultiple => "sts-record-multiple",
        /// `_mta-sts` TXT: the record is not valid.
        StsRecordInvalid => "sts-record-invalid",
        /// `_mta-sts` TXT: the lookup failed.
        StsRecordTemperror => "sts-record-temperror",
        /// `_mta-sts` TXT: the id is not the id of the served policy.
        StsIdStale => "sts-id-stale",
        /// `mta-sts.DOMAIN` points at this site.
        PolicyHostOk => "policy-host-ok",
        /// `mta-sts.DOMAIN` has neither CNAME nor address records.
        PolicyHostAbsent => "policy-host-absent",
        /// `mta-sts.DOMAIN` is a CNAME to another host.
        PolicyHostCnameWrong => "policy-host-cname-wrong",
        /// `mta-sts.DOMAIN` has addresses that are not the site's.
        PolicyHostAddressesWrong => "policy-host-addresses-wrong",
        /// `mta-sts.DOMAIN`: the lookup failed.
        PolicyHostTemperror => "policy-host-temperror",
        /// The site has neither a target nor addresses configured.
        SiteTargetUnset => "site-target-unset",
        /// `_smtp._tls` TXT: one record naming the configured `rua`.
        TlsrptOk => "tlsrpt-ok",
        /// `_smtp._tls` TXT: no `v=TLSRPTv1` record.
        TlsrptAbsent => "tlsrpt-absent",
        /// `_smtp._tls` TXT: more than one `v=TLSRPTv1` record.
        TlsrptMultiple => "tlsrpt-multiple",
        /// `_smtp._tls` TXT: the record is not valid.
        TlsrptInvalid => "tlsrpt-invalid",
        /// `_smtp._tls` TXT: a configured `rua` is missing from it.
        TlsrptRuaMissing => "tlsrpt-rua-missing",
        /// `_smtp._tls` TXT: the lookup failed.
        TlsrptTemperror => "tlsrpt-temperror",
        /// Every MX host is covered by the policy.
        MxOk => "mx-ok",
        /// An MX host is not covered by the policy's patterns.
        MxNotCovered => "mx-not-covered",
        /// The domain has no MX records (the domain itself is the MX).
        MxImplicit => "mx-implicit",
        /// The domain publishes a null MX (RFC 7505).
        NullMx => "null-mx",
        /// The MX lookup failed.
        MxLookup => "mx-lookup",
        /// The domain is being removed (serves `mode: none`).
        DomainRemoving => "domain-removing",
    }
}

/// One finding of [`verify`].
pub type Finding = mta_sts_core::finding::Finding<VerifyCode>;

/// Where `mta-sts.DOMAIN` should point: the site settings `target` and
/// `addresses` ([`crate::domains::site_config`]).
pub type SiteTarget = crate::domains::SiteConfig;

/// A host name compared case-insensitively, without the final dot.
fn normalize_host(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The result of [`verify`] (the JSON of `mtasts domain verify --json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    /// The domain verified.
    pub domain: String,
    /// Whether no finding is an error.
    pub passed: bool,
    /// The id of the policy being served (what `_mta-sts` must name).
    pub policy_id: String,
    /// A newer id, served everywhere from its `publish_from` time.
    pub pending: Option<crate::domains::Pending>,
    /// The mode of the newest policy.
    pub mode: Mode,
    /// Where `mta-sts.DOMAIN` should point.
    pub site: SiteTarget,
    /// The records the domain should publish (the CNAME only when the
    /// site has a target).
    pub records: Vec<DnsRecord>,
    /// Everything found, in check order.
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// The number of findings of `severity`.
    #[must_use]
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Why [`verify`] could not run (everything found in DNS is in the
/// report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The domain is not hosted by this site.
    #[error("{0} is not hosted here (see `mtasts domain list`)")]
    NotHosted(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The site settings could not be read.
    #[error(transparent)]
    Settings(#[from] crate::domains::DomainError),
    /// The blocking store task ended abnormally.
    #[error("the site store task of {domain} stopped")]
    Task {
        /// The domain.
        domain: String,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// The domain and the site target, read from the store on the blocking
/// pool. `target` overrides the store's target setting.
async fn load(
    store: &Arc<dyn SiteStore>,
    domain: &str,
    target: Option<&str>,
) -> Result<(Domain, Vec<PolicyVersion>, SiteTarget), VerifyError> {
    let store = store.clone();
    let name = domain.to_owned();
    let target = target.map(normalize_host);
    let joined = tokio::task::spawn_blocking(move || {
        let d = store
            .domain(&name)?
            .ok_or_else(|| VerifyError::NotHosted(name.clone()))?;
        let history = store.history(&name)?;
        let mut site = crate::domains::site_config(&*store)?;
        site.target = target.or(site.target.map(|t| normalize_host(&t)));
        Ok::<_, VerifyError>((d, history, site))
    })
    .await;
    joined.map_err(|source| VerifyError::Task {
        domain: domain.to_owned(),
        source,
    })?
}

/// Check the live DNS of the hosted `domain` against the site (see the
/// module docs), through `dns`. `target` overrides the store's target
/// setting (as `mtasts domain records --target`). `now` (Unix seconds)
/// decides whether a removed domain's deadline has passed.
///
/// # Errors
///
/// [`VerifyError`] when the domain is not hosted or the store fails.
pub async fn verify(
    store: &Arc<dyn SiteStore>,
    domain: &str,
    dns: &Dns,
    target: Option<&str>,
    now: i64,
) -> Result<VerifyReport, VerifyError> {
    let name = mta_sts_core::domain::normalize(domain)
        .map_err(|_| VerifyError::NotHosted(domain.to_owned()))?;
    let (d, history, site) = load(store, &name, target).await?;
    let sts_name = mta_sts_core::record::txt_name(&name);
    let rpt_name = tlsrpt_core::record::txt_name(&name);
    let host = mta_sts_core::policy::policy_host(&name);
    let (sts, rpt, cname, ips, mx) = tokio::join!(
        dns.txt(&sts_name),
        dns.txt(&rpt_name),
        lookup_cname(dns, &host),
        dns.ips(&host),
        dns.mx(&name),
    );
    let observed = Observed {
        sts,
        tlsrpt: rpt,
        cname,
        ips: ips.map_err(|e| match e {
            policy_fetch::dns::DnsFailure::NoRecords(_) => None,
            policy_fetch::dns::DnsFailure::Temporary(t) => Some(t),
        }),
        mx: mx.map_err(|e| e.to_string()),
    };
    Ok(assess(&d, &history, &site, observed, now))
}

/// The CNAME at `host`: `Ok(None)` when there is none.
async fn lookup_cname(dns: &Dns, host: &str) -> Result<Option<String>, String> {
    let fqdn = format!("{}.", host.trim_end_matches('.'));
    match dns
        .resolver()
        .lookup(fqdn.as_str(), RecordType::CNAME)
        .await
    {
        Ok(lookup) => Ok(lookup.answers().iter().find_map(|r| match &r.data {
            RData::CNAME(c) => Some(normalize_host(&c.0.to_ascii())),
            _ => None,
        })),
        Err(NetError::Dns(DnsError::NoRecordsFound(nr)))
            if matches!(
                nr.response_code,
                ResponseCode::NXDomain | ResponseCode::NoError
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// What DNS returned for one domain: the input of [`assess`].
#[derive(Debug, Clone)]
pub struct Observed {
    /// `_mta-sts.DOMAIN` TXT.
    pub sts: TxtAnswer,
    /// `_smtp._tls.DOMAIN` TXT.
    pub tlsrpt: TxtAnswer,
    /// The CNAME of `mta-sts.DOMAIN` (`None`: no CNAME), or why the
    /// lookup failed.
    pub cname: Result<Option<String>, String>,
    /// The addresses of `mta-sts.DOMAIN` (CNAMEs followed); `Err(None)`
    /// when it has none, `Err(Some(reason))` when the lookup failed.
    pub ips: Result<Vec<IpAddr>, Option<String>>,
    /// The MX records (empty: none), or why the lookup failed.
    pub mx: Result<Vec<policy_fetch::dns::Mx>, String>,
}

/// Judge what DNS returned for the hosted domain `d` (no IO).
#[must_use]
pub fn assess(
    d: &Domain,
    history: &[PolicyVersion],
    site: &SiteTarget,
    seen: Observed,
    now: i64,
) -> VerifyReport {
    let name = d.name.as_str();
    let (served, pending) = match crate::domains::published(history, now) {
        Some((v, p)) => (v.clone(), p),
        None => (d.current.clone(), None),
    };
    let cname_target = site
        .target
        .clone()
        .unwrap_or_else(|| "<this site's host name>".to_owned());
    let mut records = hosting::records(name, &served.id, &cname_target, &d.settings.rua);
    if site.target.is_none() {
        records.retain(|r| r.rtype != hosting::DnsRecordType::Cname);
    }
    let expected_sts = hosting::records(name, &served.id, &cname_target, &d.settings.rua);
    let mut f = Vec::new();
    let mut push = |severity, code, message: String, remediation: String| {
        f.push(Finding {
            severity,
            code,
            message,
            remediation,
        });
    };
    if let Some(until) = d.removing_until {
        let when = rfc3339(until);
        let remediation = if until <= now {
            format!(
                "the removal is due: the serving nodes delete the domain (or `mtasts domain remove {name} --now`); then delete the three DNS records"
            )
        } else {
            format!(
                "keep the records until {when}; then delete `_mta-sts`, `mta-sts` and `_smtp._tls`"
            )
        };
        push(
            Severity::Warning,
            VerifyCode::DomainRemoving,
            format!("{name} is being removed: it serves mode none until {when}"),
            remediation,
        );
    }

    // _mta-sts TXT.
    let sts_line = expected_sts[0].zone_line();
    let sts_name = &expected_sts[0].name;
    match &seen.sts {
        TxtAnswer::TempFail(reason) => push(
            Severity::Error,
            VerifyCode::StsRecordTemperror,
            format!("the lookup of {sts_name} TXT failed: {reason}"),
            "check the domain's name servers answer for it, then run verify again".to_owned(),
        ),
        TxtAnswer::NoRecord => push(
            Severity::Error,
            VerifyCode::StsRecordAbsent,
            format!("{sts_name} has no TXT record: senders do not look for the policy"),
            format!("publish: {sts_line}"),
        ),
        TxtAnswer::Records(rrs) => match StsRecord::select(rrs) {
            Err(SelectErrorOf::NoRecord) => push(
                Severity::Error,
                VerifyCode::StsRecordAbsent,
                format!("{sts_name} has TXT records but none starts with v=STSv1"),
                format!("publish: {sts_line}"),
            ),
            Err(SelectErrorOf::Multiple { count }) => push(
                Severity::Error,
                VerifyCode::StsRecordMultiple,
                format!(
                    "{sts_name} has {count} v=STSv1 records: senders ignore them all (RFC 8461 section 3.1)"
                ),
                format!("keep exactly one: {sts_line}"),
            ),
            Err(error) => push(
                Severity::Error,
                VerifyCode::StsRecordInvalid,
                format!("{sts_name} TXT is not a valid v=STSv1 record: {error}"),
                format!("replace it with: {sts_line}"),
            ),
            Ok(rec) if rec.id() == served.id => {
                let newer = match &pending {
                    Some(p) => format!(
                        "; a newer id {} is served everywhere from {}: publish it then",
                        p.policy_id,
                        rfc3339(p.publish_from)
                    ),
                    None => String::new(),
                };
                push(
                    Severity::Info,
                    VerifyCode::StsRecordOk,
                    format!(
                        "{sts_name} names id {}, the id of the policy being served{newer}",
                        served.id
                    ),
                    String::new(),
                );
            }
            Ok(rec) if pending.as_ref().is_some_and(|p| p.policy_id == rec.id()) => push(
                Severity::Info,
                VerifyCode::StsRecordOk,
                format!(
                    "{sts_name} names id {}, the newest policy (served by every node within {} seconds of the change)",
                    rec.id(),
                    crate::domains::PROPAGATION_SECS
                ),
                String::new(),
            ),
            Ok(rec) => {
                let known = history.iter().find(|v| v.id == rec.id());
                let what = match known {
                    Some(v) => format!(
                        "the id of version {} (stored {})",
                        v.version,
                        rfc3339(v.created_at)
                    ),
                    None => "an id this site never served".to_owned(),
                };
                push(
                    Severity::Error,
                    VerifyCode::StsIdStale,
                    format!(
                        "{sts_name} names id {}, {what}; the policy being served has id {}: senders that cached an older policy do not fetch the new one",
                        rec.id(),
                        served.id
                    ),
                    format!("replace the record with: {sts_line}"),
                );
            }
        },
    }

    // mta-sts.DOMAIN.
    policy_host_findings(name, site, &expected_sts, &seen, &mut push);

    // _smtp._tls TXT.
    let rpt_line = expected_sts[2].zone_line();
    let rpt_name = &expected_sts[2].name;
    match &seen.tlsrpt {
        TxtAnswer::TempFail(reason) => push(
            Severity::Error,
            VerifyCode::TlsrptTemperror,
            format!("the lookup of {rpt_name} TXT failed: {reason}"),
            "check the domain's name servers answer for it, then run verify again".to_owned(),
        ),
        TxtAnswer::NoRecord => push(
            Severity::Error,
            VerifyCode::TlsrptAbsent,
            format!(
                "{rpt_name} has no TXT record: no TLS-RPT reports are sent, and `mtasts domain promote` needs them"
            ),
            format!("publish: {rpt_line}"),
        ),
        TxtAnswer::Records(rrs) => match TlsRptRecord::select(rrs) {
            Err(SelectErrorOf::NoRecord) => push(
                Severity::Error,
                VerifyCode::TlsrptAbsent,
                format!("{rpt_name} has TXT records but none starts with v=TLSRPTv1"),
                format!("publish: {rpt_line}"),
            ),
            Err(SelectErrorOf::Multiple { count }) => push(
                Severity::Error,
                VerifyCode::TlsrptMultiple,
                format!(
                    "{rpt_name} has {count} v=TLSRPTv1 records: senders ignore them all (RFC 8460 section 3)"
                ),
                format!("keep exactly one: {rpt_line}"),
            ),
            Err(error) => push(
                Severity::Error,
                VerifyCode::TlsrptInvalid,
                format!("{rpt_name} TXT is not a valid v=TLSRPTv1 record: {error}"),
                format!("replace it with: {rpt_line}"),
            ),
            Ok(rec) => {
                let published: Vec<&str> = rec.rua().iter().map(|r| r.uri.as_ref()).collect();
                let missing: Vec<&str> = d
                    .settings
                    .rua
                    .iter()
                    .map(String::as_str)
                    .filter(|want| !published.iter().any(|p| p.eq_ignore_ascii_case(want)))
                    .collect();
                if missing.is_empty() {
                    push(
                        Severity::Info,
                        VerifyCode::TlsrptOk,
                        format!("{rpt_name} names rua {}", published.join(",")),
                        String::new(),
                    );
                } else {
                    push(
                        Severity::Error,
                        VerifyCode::TlsrptRuaMissing,
                        format!(
                            "{rpt_name} names rua {} but not {}: reports do not reach the address configured for {name}",
                            published.join(","),
                            missing.join(",")
                        ),
                        format!(
                            "replace the record with: {rpt_line} (or change the configured rua: `mtasts domain set {name} --rua URI`)"
                        ),
                    );
                }
            }
        },
    }

    // MX coverage.
    mx_findings(d, &seen, &mut push);

    let passed = !f.iter().any(|x| x.severity == Severity::Error);
    VerifyReport {
        domain: name.to_owned(),
        passed,
        policy_id: served.id.clone(),
        pending,
        mode: d.current.mode,
        site: site.clone(),
        records,
        findings: f,
    }
}

/// RFC 3339 (UTC) of a Unix time.
pub(crate) fn rfc3339(t: i64) -> String {
    mta_sts_core::time::Timestamp::from_unix(t).to_string()
}

/// The findings about `mta-sts.DOMAIN`.
fn policy_host_findings(
    name: &str,
    site: &SiteTarget,
    expected: &[DnsRecord],
    seen: &Observed,
    push: &mut impl FnMut(Severity, VerifyCode, String, String),
) {
    let host = mta_sts_core::policy::policy_host(name);
    let cname_line = expected[1].zone_line();
    let address_fix = || {
        let list: Vec<String> = site
            .addresses
            .iter()
            .map(|ip| match ip {
                IpAddr::V4(_) => format!("{host}. IN A {ip}"),
                IpAddr::V6(_) => format!("{host}. IN AAAA {ip}"),
            })
            .collect();
        list.join(" and ")
    };
    let fix = match (&site.target, site.addresses.is_empty()) {
        (Some(_), true) => format!("publish: {cname_line}"),
        (Some(_), false) => format!(
            "publish: {cname_line} (or the site's addresses: {})",
            address_fix()
        ),
        (None, false) => format!("publish: {}", address_fix()),
        (None, true) => {
            push(
                Severity::Warning,
                VerifyCode::SiteTargetUnset,
                format!(
                    "the site has no target host name and no addresses configured: cannot tell whether {host} points at it"
                ),
                "configure the site: `mtasts domain configure --target HOST` (the name domains CNAME to) or `--address IP...` (the serving nodes), or pass --target HOST".to_owned(),
            );
            return;
        }
    };
    let address_ok = |ips: &[IpAddr]| {
        !site.addresses.is_empty()
            && !ips.is_empty()
            && ips.iter().all(|ip| site.addresses.contains(ip))
    };
    match &seen.cname {
        Err(reason) => push(
            Severity::Error,
            VerifyCode::PolicyHostTemperror,
            format!("the lookup of {host} CNAME failed: {reason}"),
            "check the domain's name servers answer for it, then run verify again".to_owned(),
        ),
        Ok(Some(alias)) => {
            if site.target.as_deref() == Some(alias.as_str()) {
                push(
                    Severity::Info,
                    VerifyCode::PolicyHostOk,
                    format!("{host} is a CNAME to {alias}, this site"),
                    String::new(),
                );
            } else if seen.ips.as_ref().is_ok_and(|ips| address_ok(ips)) {
                push(
                    Severity::Warning,
                    VerifyCode::PolicyHostCnameWrong,
                    format!(
                        "{host} is a CNAME to {alias}, not to {}; it resolves to this site's addresses today",
                        site.target.as_deref().unwrap_or("the site's target")
                    ),
                    fix,
                );
            } else {
                push(
                    Severity::Error,
                    VerifyCode::PolicyHostCnameWrong,
                    format!(
                        "{host} is a CNAME to {alias}, not to {}: senders fetch the policy from another server",
                        site.target.as_deref().unwrap_or("this site")
                    ),
                    format!("replace it: {}", fix.trim_start_matches("publish: ")),
                );
            }
        }
        Ok(None) => match &seen.ips {
            Ok(ips) if address_ok(ips) => push(
                Severity::Info,
                VerifyCode::PolicyHostOk,
                format!(
                    "{host} has this site's addresses ({})",
                    ips.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                String::new(),
            ),
            Ok(ips) => push(
                Severity::Error,
                VerifyCode::PolicyHostAddressesWrong,
                format!(
                    "{host} has no CNAME and resolves to {}, not to this site{}: senders fetch the policy from another server",
                    ips.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    if site.addresses.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({})",
                            site.addresses
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ),
                format!(
                    "replace its A/AAAA records: {}",
                    fix.trim_start_matches("publish: ")
                ),
            ),
            Err(Some(reason)) => push(
                Severity::Error,
                VerifyCode::PolicyHostTemperror,
                format!("the lookup of {host} A/AAAA failed: {reason}"),
                "check the domain's name servers answer for it, then run verify again".to_owned(),
            ),
            Err(None) => push(
                Severity::Error,
                VerifyCode::PolicyHostAbsent,
                format!("{host} has no CNAME and no address: senders cannot fetch the policy"),
                fix,
            ),
        },
    }
}

/// The findings about the MX hosts.
fn mx_findings(
    d: &Domain,
    seen: &Observed,
    push: &mut impl FnMut(Severity, VerifyCode, String, String),
) {
    let name = d.name.as_str();
    let patterns: Vec<MxPattern<'static>> = d
        .settings
        .mx
        .iter()
        .filter_map(|p| MxPattern::from_user(p).ok())
        .collect();
    let mxs = match &seen.mx {
        Err(reason) => {
            push(
                Severity::Error,
                VerifyCode::MxLookup,
                format!("the MX lookup of {name} failed: {reason}"),
                "check the domain's name servers answer for it, then run verify again".to_owned(),
            );
            return;
        }
        Ok(m) if m.iter().any(|m| m.host.is_empty() || m.host == ".") => {
            push(
                Severity::Warning,
                VerifyCode::NullMx,
                format!(
                    "{name} publishes a null MX (RFC 7505): it receives no mail, so MTA-STS protects nothing"
                ),
                format!(
                    "remove the domain (`mtasts domain remove {name}`) or publish its real MX records"
                ),
            );
            return;
        }
        Ok(m) if m.is_empty() => {
            push(
                Severity::Warning,
                VerifyCode::MxImplicit,
                format!(
                    "{name} has no MX records: senders deliver to {name} itself (RFC 5321 section 5.1)"
                ),
                "publish MX records for the domain".to_owned(),
            );
            vec![name.to_owned()]
        }
        Ok(m) => m.iter().map(|m| m.host.clone()).collect(),
    };
    let mut uncovered: Vec<&str> = Vec::new();
    let mut covered = BTreeSet::new();
    for host in &mxs {
        if patterns.iter().any(|p| p.matches(host)) {
            covered.insert(host.as_str());
        } else if !uncovered.contains(&host.as_str()) {
            uncovered.push(host);
        }
    }
    if d.settings.mode == Mode::None {
        return;
    }
    for host in &uncovered {
        let mut cmd = format!("mtasts domain set {name}");
        for p in &d.settings.mx {
            cmd.push_str(&format!(" --mx {p}"));
        }
        cmd.push_str(&format!(" --mx {host}"));
        push(
            Severity::Error,
            VerifyCode::MxNotCovered,
            format!(
                "MX host {host} is not covered by the policy's mx patterns ({}): in enforce mode senders refuse to deliver to it, in testing mode they report failures",
                d.settings.mx.join(", ")
            ),
            format!(
                "add it to the policy: `{cmd}` (then publish the new _mta-sts id shown by `mtasts domain records {name}`)"
            ),
        );
    }
    if uncovered.is_empty() {
        push(
            Severity::Info,
            VerifyCode::MxOk,
            format!(
                "every MX host is covered by the policy: {}",
                covered.into_iter().collect::<Vec<_>>().join(", ")
            ),
            String::new(),
        );
    }
}
