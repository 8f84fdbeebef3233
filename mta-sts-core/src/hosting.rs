//! Hosting MTA-STS for a domain: the policy id scheme, the DNS records a
//! domain owner publishes, the removal timeline of RFC 8461 section 8.3
//! and the conditions for moving from `testing` to `enforce`.
//!
//! Everything here is pure: times are passed in as Unix seconds (UTC).
//! The hosted site (`mtasts-site`) keeps the state and does the IO.
//!
//! # Policy ids
//!
//! [`policy_id`] makes the id of a domain's `version`-th policy body,
//! published at `created` (Unix seconds): the UTC time as
//! `YYYYMMDDhhmmss` followed by the version number as six or more
//! digits, for example `20261205160312000007`. Ids are made only of
//! digits (RFC 8461 allows 1 to 32 ALPHA/DIGIT), are 20 characters for
//! the first million versions, and are unique and increasing per domain
//! as long as the caller never passes a `created` earlier than the
//! previous version's (the site store passes the later of the clock and
//! the previous version's time, so a clock stepping back cannot reuse an
//! id). A new id is made only when the served body changes.
//!
//! ```
//! use mta_sts_core::hosting::{DnsRecordType, policy_id, records};
//!
//! let id = policy_id(1_796_428_800, 7);
//! assert_eq!(id, "20261205000000000007");
//! let recs = records("example.com", &id, "mta-sts.host.example.net", &["mailto:tlsrpt@example.com".into()]);
//! assert_eq!(recs[0].name, "_mta-sts.example.com.");
//! assert_eq!(recs[0].value, "v=STSv1; id=20261205000000000007");
//! assert_eq!(recs[1].rtype, DnsRecordType::Cname);
//! assert_eq!(recs[1].zone_line(), "mta-sts.example.com. IN CNAME mta-sts.host.example.net.");
//! ```

use crate::time::civil_from_days;

/// Largest policy id length RFC 8461 allows.
pub const MAX_POLICY_ID_LEN: usize = 32;

/// The default `max_age` of a hosted policy: 7 days.
pub const DEFAULT_MAX_AGE: u64 = 604_800;

/// Below this `max_age` the lint warns (one day).
pub const MIN_RECOMMENDED_MAX_AGE: u64 = 86_400;

/// Days a domain stays in `testing` before `promote` allows `enforce`,
/// unless configured otherwise.
pub const DEFAULT_PROMOTE_DAYS: u32 = 7;

/// The id of a domain's `version`-th policy body published at `created`
/// (Unix seconds, UTC); see the module docs for the scheme. Times before
/// 1970 are taken as 1970.
#[must_use]
pub fn policy_id(created: i64, version: u64) -> String {
    let t = created.max(0);
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let secs = t.rem_euclid(86_400);
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{version:06}")
}

/// The `rua` a hosted domain gets when none is given:
/// `mailto:tlsrpt@DOMAIN`.
#[must_use]
pub fn default_rua(domain: &str) -> String {
    format!("mailto:tlsrpt@{domain}")
}

/// The type of a [`DnsRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsRecordType {
    /// A TXT record (its value is one string of at most 255 bytes here).
    Txt,
    /// A CNAME record (its value is a host name without the final dot).
    Cname,
}

impl DnsRecordType {
    /// `TXT` or `CNAME`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Txt => "TXT",
            Self::Cname => "CNAME",
        }
    }
}

/// One DNS record a domain owner publishes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DnsRecord {
    /// The owner name, fully qualified with the final dot.
    pub name: String,
    /// TXT or CNAME.
    #[serde(rename = "type")]
    pub rtype: DnsRecordType,
    /// The TXT string (unquoted), or the CNAME target with the final dot.
    pub value: String,
}

impl DnsRecord {
    /// The record as a zone-file line: TXT values quoted (with `"` and
    /// `\` escaped), CNAME targets as they are.
    #[must_use]
    pub fn zone_line(&self) -> String {
        match self.rtype {
            DnsRecordType::Txt => {
                let escaped = self.value.replace('\\', "\\\\").replace('"', "\\\"");
                format!("{} IN TXT \"{escaped}\"", self.name)
            }
            DnsRecordType::Cname => format!("{} IN CNAME {}", self.name, self.value),
        }
    }
}

/// `name` with one final dot.
fn fqdn(name: &str) -> String {
    let name = name.trim_end_matches('.');
    format!("{name}.")
}

/// The three records for a hosted `domain`: `_mta-sts` TXT with
/// `policy_id`, the `mta-sts` CNAME to `target` (the hosting service's
/// name) and `_smtp._tls` TXT naming `rua` (joined with `,`).
#[must_use]
pub fn records(domain: &str, policy_id: &str, target: &str, rua: &[String]) -> Vec<DnsRecord> {
    let domain = domain.trim_end_matches('.');
    vec![
        DnsRecord {
            name: fqdn(&format!("_mta-sts.{domain}")),
            rtype: DnsRecordType::Txt,
            value: format!("v=STSv1; id={policy_id}"),
        },
        DnsRecord {
            name: fqdn(&format!("mta-sts.{domain}")),
            rtype: DnsRecordType::Cname,
            value: fqdn(target),
        },
        DnsRecord {
            name: fqdn(&format!("_smtp._tls.{domain}")),
            rtype: DnsRecordType::Txt,
            value: format!("v=TLSRPTv1; rua={}", rua.join(",")),
        },
    ]
}

/// When a domain removed at `now` whose policy had `max_age` may stop
/// being served (RFC 8461 section 8.3): senders that cached the old
/// policy re-fetch within `max_age` and find `mode: none`; `grace`
/// seconds are added for the change to reach every serving node.
#[must_use]
pub fn removal_deadline(now: i64, max_age: u64, grace: u64) -> i64 {
    let age = i64::try_from(max_age.saturating_add(grace)).unwrap_or(i64::MAX);
    now.saturating_add(age)
}

/// Whole days from `since` to `now` (Unix seconds), 0 when `now` is
/// earlier.
#[must_use]
pub fn days_between(since: i64, now: i64) -> u64 {
    u64::try_from(now.saturating_sub(since).max(0) / 86_400).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_fit() {
        let a = policy_id(1_796_428_800, 1);
        let b = policy_id(1_796_428_800, 2);
        let c = policy_id(1_796_428_801, 3);
        assert_eq!(a, "20261205000000000001");
        assert!(a < b && b < c);
        assert!(a.len() <= MAX_POLICY_ID_LEN);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        let big = policy_id(253_402_300_799, 999_999_999_999);
        assert_eq!(big, "99991231235959999999999999");
        assert!(big.len() <= MAX_POLICY_ID_LEN);
        assert_eq!(policy_id(-5, 1), "19700101000000000001");
    }

    #[test]
    fn record_lines() {
        let r = records(
            "example.com.",
            "1",
            "sts.host.net",
            &[
                "mailto:a@example.com".into(),
                "https://r.example.net/v1/tlsrpt".into(),
            ],
        );
        let lines: Vec<String> = r.iter().map(DnsRecord::zone_line).collect();
        assert_eq!(
            lines,
            [
                "_mta-sts.example.com. IN TXT \"v=STSv1; id=1\"",
                "mta-sts.example.com. IN CNAME sts.host.net.",
                "_smtp._tls.example.com. IN TXT \"v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.net/v1/tlsrpt\"",
            ]
        );
        let json = serde_json::to_value(&r[1]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name":"mta-sts.example.com.","type":"CNAME","value":"sts.host.net."})
        );
    }

    #[test]
    fn deadlines() {
        assert_eq!(removal_deadline(100, 604_800, 5), 604_905);
        assert_eq!(removal_deadline(i64::MAX - 1, u64::MAX, 5), i64::MAX);
        assert_eq!(days_between(0, 86_399), 0);
        assert_eq!(days_between(0, 7 * 86_400), 7);
        assert_eq!(days_between(10, 0), 0);
    }
}
