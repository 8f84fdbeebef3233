//! Recording TLS sessions and turning a UTC day of them into RFC 8460
//! reports (the sending side: RPT-GEN-01, -03, -05; DEC-17, DEC-23, DEC-25).
//!
//! An MTA records the outcome of every TLS session it attempts — success,
//! or failure with its result type and details — under the policy that
//! applied ([`PolicyKey`]: policy domain, type, `policy-string` lines,
//! `mx-host` patterns). A [`DayAggregate`] holds one UTC day of them:
//! successes and failures are counted per policy, identical failure
//! details are merged into one row with a count. When the day is over,
//! [`DayAggregate::finish`] gives one report per policy domain holding all
//! of that domain's policies.
//!
//! ```
//! use tlsrpt_core::session::{DayAggregate, Failure, Outcome, PolicyKey, ReportMeta, UtcDay};
//! use tlsrpt_core::ResultType;
//!
//! let mut day = DayAggregate::new(UtcDay::parse("2016-04-01")?);
//! let policy = PolicyKey::sts(
//!     "company-y.example",
//!     ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"],
//!     ["*.mail.company-y.example"],
//! )?;
//! day.record(&policy, &Outcome::Success)?;
//! day.record(&policy, &Outcome::Success)?;
//! let expired = Failure::new(ResultType::CertificateExpired)
//!     .receiving_mx_hostname("mx2.mail.company-y.example")
//!     .receiving_ip("2001:db8:abcd:12::1".parse()?)
//!     .sending_mta_ip("2001:db8:abcd:13::1".parse()?);
//! day.record(&policy, &Outcome::Failure(expired.clone()))?;
//! day.record(&policy, &Outcome::Failure(expired))?;
//! // A domain without a policy (or with `mode: none`) is `no-policy-found`.
//! day.record(&PolicyKey::no_policy_found("example.net")?, &Outcome::Success)?;
//!
//! let finished = day.finish(&ReportMeta::new(
//!     "Company-X",
//!     "sts-reporting@company-x.example",
//!     "company-x.example",
//!     "1",
//! ))?;
//! assert_eq!(finished.reports.len(), 2); // one per policy domain, ordered by domain
//! let r = &finished.reports[0];
//! assert_eq!(r.report_id, "2016-04-01.company-y.example.1@company-x.example");
//! assert_eq!(r.date_range.start.to_string(), "2016-04-01T00:00:00Z");
//! assert_eq!(r.date_range.end.to_string(), "2016-04-01T23:59:59Z");
//! assert_eq!((r.successful_sessions(), r.failed_sessions()), (2, 2));
//! assert_eq!(r.policies[0].failure_details[0].failed_session_count, 2);
//! assert_eq!(finished.reports[1].policies[0].policy.policy_type.as_str(), "no-policy-found");
//! // The strict reader accepts what the writer wrote.
//! let json = r.to_json(false);
//! assert_eq!(tlsrpt_core::Report::parse_strict(json.as_bytes())?.value, *r);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Hot path
//!
//! [`DayAggregate::record`] looks the key up in a hash map whose hash was
//! computed once, when the [`PolicyKey`] was built; the map holds a clone
//! that shares the key's content, so an MTA that keeps its keys (one per
//! cached policy) pays one probe and one pointer comparison per session. [`DayAggregate::intern`] goes further: it returns a
//! [`PolicyHandle`], and [`DayAggregate::record_by`] counts a session by
//! handle without any lookup. Handles belong to the aggregate that issued
//! them (and its clones); another aggregate refuses them with
//! [`AggregateError::ForeignHandle`].
//!
//! ## Bounds
//!
//! Memory is bounded by [`AggregateLimits`]: at most `max_policies`
//! distinct policies per day and `max_failure_rows` distinct failure
//! details per policy. Nothing beyond them is dropped silently:
//!
//! - a session under a new policy when the day already holds
//!   `max_policies` is counted in [`Unreported`] (it can be in no report,
//!   since its policy is not kept; [`DayAggregate::unreported`] and
//!   [`FinishedDay::unreported`] say how many), and `record` returns
//!   [`Recorded::Unreported`];
//! - a failure detail beyond `max_failure_rows` is folded into a count
//!   per result type (kept in the aggregate, its JSON form and merges),
//!   and `record` returns [`Recorded::FoldedDetails`]. The session is
//!   still in the report's `summary`, but the folded details are not
//!   written as `failure-details` rows: a row without `sending-mta-ip`
//!   and `receiving-mx-hostname` makes strict readers refuse the whole
//!   report, and the RFC lets the rows sum to less than
//!   `total-failure-session-count`. [`DayAggregate::folded_failure_details`]
//!   and [`FinishedDay::folded_failure_details`] say how many were folded.
//!   The rows kept are the first `max_failure_rows` in the report's sort
//!   order, whatever order they came in.
//!
//! Strict readers (this crate's among them) also refuse a failure detail
//! without `sending-mta-ip` or `receiving-mx-hostname`, which RFC 8460
//! does not mark optional: give every [`Failure`] both where they are
//! known. The writer never invents them.
//!
//! A [`PolicyKey`] is at most [`MAX_KEY_BYTES`] of text in at most
//! [`MAX_KEY_STRINGS`] strings, and each failure detail field at most
//! [`MAX_FIELD_LEN`] bytes. Counts are `u64` kept at most [`MAX_COUNT`]
//! (2^53 - 1, the largest integer I-JSON represents exactly, so every
//! report written is one the strict reader accepts): the sum of all counts
//! of one policy, and each unreported count, may not pass it; a call that
//! would pass it is [`AggregateError::CountOverflow`] and counts nothing.
//!
//! ## Several nodes
//!
//! [`DayAggregate::to_json`] writes a partial aggregate in a stable,
//! versioned JSON form, [`DayAggregate::from_json`] reads it back, and
//! [`DayAggregate::merge`] adds one aggregate into another. Merging is
//! commutative and associative (as state: the kept policies are the first
//! `max_policies` in key order, the kept failure rows per policy the first
//! `max_failure_rows`), so each MTA node can aggregate locally and one
//! reporter combines the partials in any order.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use mta_sts_core::ResultType;
use mta_sts_core::display::Escaped;
use mta_sts_core::domain::{self, DomainError};
use serde::{Deserialize, Serialize};

use crate::filename::FilenameError;
use crate::report::{
    DateRange, FailureDetail, Ip, PolicyInfo, PolicyResult, PolicyType, Report, Summary,
};
use crate::time::{Timestamp, civil_from_days, days_from_civil};

/// Most bytes of text in one [`PolicyKey`] (domain, `policy-string` lines
/// and `mx-host` patterns together): an MTA-STS policy body is at most
/// 64 KiB.
pub const MAX_KEY_BYTES: usize = 65_536;

/// Most `policy-string` lines plus `mx-host` patterns in one
/// [`PolicyKey`] (the report reader's `MAX_STRINGS` per list).
pub const MAX_KEY_STRINGS: usize = crate::parse::MAX_STRINGS;

/// Largest count an aggregate holds (2^53 - 1): the sum of all counts of
/// one policy, and each [`Unreported`] count (see the module
/// documentation).
pub const MAX_COUNT: u64 = (1 << 53) - 1;

/// Longest failure detail field ([`Failure`]'s strings), in bytes.
pub const MAX_FIELD_LEN: usize = 2048;

/// Longest `organization-name` and `contact-info` in [`ReportMeta`].
pub const MAX_META_LEN: usize = 1024;

/// Longest caller-supplied unique part ([`ReportMeta::unique_id`]).
pub const MAX_UNIQUE_ID: usize = 64;

/// `format` of the JSON form of a partial aggregate.
pub const PARTIAL_FORMAT: &str = "tlsrpt-day-aggregate";

/// `version` of the JSON form written by [`DayAggregate::to_json`].
pub const PARTIAL_VERSION: u32 = 1;

/// The first day a report can cover (file name timestamps are unsigned).
const MIN_DAY: i64 = 0;
/// 9999-12-31, the last day an RFC 3339 date can name.
const MAX_DAY: i64 = 2_932_896;

/// Why a session could not be recorded, a partial aggregate read or a day
/// finished.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AggregateError {
    /// Not a UTC day `YYYY-MM-DD` from 1970-01-01 to 9999-12-31.
    #[error("`{}` is not a UTC day YYYY-MM-DD from 1970-01-01 to 9999-12-31", Escaped(.input))]
    Day {
        /// The input (a date, or a day number or instant as text).
        input: String,
    },
    /// The policy domain is not a valid domain name.
    #[error("policy-domain: {0}")]
    PolicyDomain(#[source] DomainError),
    /// An `mx-host` pattern that cannot be converted to A-labels.
    #[error("mx-host `{}` cannot be converted to A-labels", Escaped(.pattern))]
    MxHost {
        /// The pattern as given.
        pattern: String,
    },
    /// A policy type the aggregate does not report (only `tlsa`, `sts`
    /// and `no-policy-found` are defined).
    #[error("policy-type `{}` is not tlsa, sts or no-policy-found", Escaped(.found))]
    PolicyType {
        /// The type as given.
        found: String,
    },
    /// A [`PolicyKey`] larger than [`MAX_KEY_BYTES`] or with more than
    /// [`MAX_KEY_STRINGS`] strings.
    #[error("policy of {domain} is too large: {what} is {found}, the limit is {limit}")]
    KeyTooLarge {
        /// The policy domain.
        domain: String,
        /// `bytes` or `strings`.
        what: &'static str,
        /// The size found.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// A failure detail field longer than [`MAX_FIELD_LEN`].
    #[error("failure detail {field} is {len} bytes long, the limit is {MAX_FIELD_LEN}")]
    FieldTooLong {
        /// The field, e.g. `additional-information`.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A count would pass [`MAX_COUNT`]; nothing of the call was counted.
    #[error("the session counts of {what} would pass {MAX_COUNT} (2^53 - 1)")]
    CountOverflow {
        /// What: the policy (`sts company-y.example`) or `unreported
        /// sessions`.
        what: String,
    },
    /// [`DayAggregate::merge`] of aggregates of different days.
    #[error("cannot merge the aggregate of {theirs} into the aggregate of {ours}")]
    DayMismatch {
        /// The day of the aggregate merged into.
        ours: UtcDay,
        /// The day of the other one.
        theirs: UtcDay,
    },
    /// A [`PolicyHandle`] issued by another aggregate.
    #[error("the policy handle was issued by another aggregate")]
    ForeignHandle,
    /// An invalid [`ReportMeta`] field.
    #[error("report {field}: {reason}")]
    Meta {
        /// The field: `organization-name`, `contact-info`, `submitter` or
        /// `unique-id`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The submitter is not the domain of `contact-info` (RFC 8460 5.3).
    #[error(transparent)]
    Submitter(#[from] FilenameError),
    /// The JSON form of a partial aggregate does not parse.
    #[error("partial aggregate: {message}")]
    Partial {
        /// What and where (serde_json's message, with line and column, or
        /// the policy at fault).
        message: String,
    },
    /// The JSON form has another `format` or `version`.
    #[error(
        "partial aggregate: format `{}` version {version} is not {PARTIAL_FORMAT} version {PARTIAL_VERSION}",
        Escaped(.format)
    )]
    PartialVersion {
        /// `format` as found.
        format: String,
        /// `version` as found.
        version: u64,
    },
}

type Result<T, E = AggregateError> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------
// UtcDay

/// A UTC day, from 1970-01-01 to 9999-12-31: the period of one report
/// (RFC 8460 4.1).
///
/// ```
/// use tlsrpt_core::session::UtcDay;
/// use tlsrpt_core::time::Timestamp;
/// let d = UtcDay::containing(Timestamp::from_unix(1_459_500_000))?;
/// assert_eq!(d.to_string(), "2016-04-01");
/// assert_eq!(d, "2016-04-01".parse()?);
/// assert_eq!((d.start().unix_secs(), d.end().unix_secs()), (1_459_468_800, 1_459_555_199));
/// assert!(UtcDay::parse("2016-02-30").is_err());
/// # Ok::<(), tlsrpt_core::session::AggregateError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcDay(i64);

impl UtcDay {
    /// The day with this number (days since 1970-01-01).
    pub fn from_day_number(n: i64) -> Result<Self> {
        if (MIN_DAY..=MAX_DAY).contains(&n) {
            Ok(Self(n))
        } else {
            Err(AggregateError::Day {
                input: format!("day number {n}"),
            })
        }
    }

    /// The UTC day of the instant `t`.
    pub fn containing(t: Timestamp) -> Result<Self> {
        Self::from_day_number(t.day()).map_err(|_| AggregateError::Day {
            input: format!("{} s after 1970-01-01T00:00:00Z", t.secs),
        })
    }

    /// Read `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Self> {
        let err = || AggregateError::Day {
            input: s.to_owned(),
        };
        let b: &[u8; 10] = s.as_bytes().try_into().map_err(|_| err())?;
        let n = mta_sts_core::time::canonical_day(b).ok_or_else(err)?;
        Self::from_day_number(n).map_err(|_| err())
    }

    /// The day `year-month-day` (a date the month has).
    ///
    /// ```
    /// use tlsrpt_core::session::UtcDay;
    /// assert_eq!(UtcDay::from_ymd(2016, 4, 1)?.to_string(), "2016-04-01");
    /// assert!(UtcDay::from_ymd(2016, 2, 30).is_err());
    /// # Ok::<(), tlsrpt_core::session::AggregateError>(())
    /// ```
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Result<Self> {
        let err = || AggregateError::Day {
            input: format!("{year:04}-{month:02}-{day:02}"),
        };
        if !(1..=12).contains(&month)
            || day == 0
            || day > mta_sts_core::time::days_in_month(year, month)
        {
            return Err(err());
        }
        Self::from_day_number(days_from_civil(year, month, day)).map_err(|_| err())
    }

    /// Days since 1970-01-01.
    pub fn day_number(self) -> i64 {
        self.0
    }

    /// `DT00:00:00Z`, the report's `start-datetime` (DEC-17).
    pub fn start(self) -> Timestamp {
        Timestamp::from_unix(self.0 * 86_400)
    }

    /// `DT23:59:59Z`, the report's `end-datetime` (DEC-17).
    pub fn end(self) -> Timestamp {
        Timestamp::from_unix(self.0 * 86_400 + 86_399)
    }
}

impl fmt::Display for UtcDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for UtcDay {
    type Err = AggregateError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------
// PolicyKey

/// The process-wide random hash keys of [`PolicyKey`]s (a key's hash is
/// computed once, when it is built, so it cannot depend on the map).
fn hash_state() -> &'static RandomState {
    static STATE: OnceLock<RandomState> = OnceLock::new();
    STATE.get_or_init(RandomState::new)
}

/// A hasher for maps keyed by [`PolicyKey`]: the key writes its stored
/// hash, which this passes through.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by `PolicyKey`; FNV-1a so the hasher stays a hasher.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
}

type KeyMap<V> = HashMap<PolicyKey, V, BuildHasherDefault<KeyHasher>>;

/// The policy a session was under: policy domain, `policy-type`,
/// `policy-string` and `mx-host` (RFC 8460 4.4). Built once per policy and
/// reused for every session; the hash is computed at construction, and
/// clones share the content (cloning is cheap, and a clone of the key an
/// aggregate holds is found by pointer, without comparing strings).
///
/// Normalised on construction: the policy domain and the `mx-host`
/// patterns in lower-case A-labels without a trailing dot (RPT-JSON-06);
/// an `sts` policy whose `policy-string` has `mode: none` becomes
/// `no-policy-found` (DEC-23); a `no-policy-found` key has neither
/// `policy-string` nor `mx-host` (DEC-25).
///
/// Keys order by domain, then type (`tlsa`, `sts`, `no-policy-found`),
/// then `policy-string`, then `mx-host`: the order of the reports and of
/// the policies in them.
///
/// ```
/// use tlsrpt_core::session::PolicyKey;
/// use tlsrpt_core::PolicyType;
/// let k = PolicyKey::sts("Bücher.Example.", ["version: STSv1", "mode: none", "max_age: 86400"], ["*.MX.bücher.example"])?;
/// assert_eq!(k.domain(), "xn--bcher-kva.example");
/// assert_eq!(*k.policy_type(), PolicyType::NoPolicyFound);
/// assert!(k.policy_string().is_empty() && k.mx_host().is_empty());
/// let t = PolicyKey::tlsa("mx.example.net", ["3 1 1 0123abcd"], ["mx.example.net"])?;
/// assert_eq!(t.policy_string(), ["3 1 1 0123abcd"]);
/// # Ok::<(), tlsrpt_core::session::AggregateError>(())
/// ```
#[derive(Clone)]
pub struct PolicyKey(Arc<KeyInner>);

/// A [`PolicyKey`]'s content, shared by its clones (the aggregate's index
/// holds a clone, so the caller's key is found by pointer).
struct KeyInner {
    domain: String,
    policy_type: PolicyType,
    policy_string: Vec<String>,
    mx_host: Vec<String>,
    hash: u64,
}

impl PolicyKey {
    /// An `sts` policy: its `policy-string` (the policy's lines, see
    /// [`mta_sts_core::Policy::policy_string`]) and its `mx` patterns. A
    /// `mode: none` line makes it `no-policy-found` (DEC-23).
    pub fn sts<I, S, J, T>(domain: &str, policy_string: I, mx_host: J) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        J: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        Self::new(PolicyType::Sts, domain, policy_string, mx_host)
    }

    /// A `tlsa` policy: its TLSA records (`u s m hex`, one per string) and
    /// the MX host(s) they are for; `domain` is the TLSA base domain
    /// (DEC-15).
    pub fn tlsa<I, S, J, T>(domain: &str, records: I, mx_host: J) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        J: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        Self::new(PolicyType::Tlsa, domain, records, mx_host)
    }

    /// No policy (or an MTA-STS policy in `mode: none`, DEC-23) for the
    /// domain.
    pub fn no_policy_found(domain: &str) -> Result<Self> {
        Self::new(
            PolicyType::NoPolicyFound,
            domain,
            None::<&str>,
            None::<&str>,
        )
    }

    /// The key of an MTA-STS policy as the MTA applied it: `sts` with the
    /// policy's lines and `mx` patterns, or `no-policy-found` for `mode:
    /// none`.
    ///
    /// ```
    /// use tlsrpt_core::session::PolicyKey;
    /// let p = mta_sts_core::Policy::parse("version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n").unwrap();
    /// let k = PolicyKey::for_policy("example.com", &p)?;
    /// assert_eq!(k.mx_host(), ["mx.example.com"]);
    /// assert_eq!(k.policy_string().len(), 4);
    /// # Ok::<(), tlsrpt_core::session::AggregateError>(())
    /// ```
    pub fn for_policy(domain: &str, policy: &mta_sts_core::Policy<'_>) -> Result<Self> {
        if policy.mode() == mta_sts_core::Mode::None {
            return Self::no_policy_found(domain);
        }
        Self::sts(
            domain,
            policy.policy_string(),
            policy.mx().iter().map(|p| p.as_str()),
        )
    }

    /// A key of any reported type (`tlsa`, `sts`, `no-policy-found`; an
    /// [`PolicyType::Other`] is [`AggregateError::PolicyType`]), normalised
    /// as the type documentation says.
    pub fn new<I, S, J, T>(
        policy_type: PolicyType,
        domain: &str,
        policy_string: I,
        mx_host: J,
    ) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
        J: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        if let PolicyType::Other(found) = &policy_type {
            return Err(AggregateError::PolicyType {
                found: found.clone(),
            });
        }
        let domain = domain::normalize(domain).map_err(AggregateError::PolicyDomain)?;
        let mut bytes = domain.len();
        let mut strings = 0usize;
        let mut too_large = |len: usize| -> Result<()> {
            bytes = bytes.saturating_add(len);
            strings += 1;
            if strings > MAX_KEY_STRINGS {
                return Err(AggregateError::KeyTooLarge {
                    domain: domain.clone(),
                    what: "strings",
                    found: strings,
                    limit: MAX_KEY_STRINGS,
                });
            }
            if bytes > MAX_KEY_BYTES {
                return Err(AggregateError::KeyTooLarge {
                    domain: domain.clone(),
                    what: "bytes",
                    found: bytes,
                    limit: MAX_KEY_BYTES,
                });
            }
            Ok(())
        };
        let mut lines = Vec::new();
        for l in policy_string {
            let l = l.as_ref();
            too_large(l.len())?;
            lines.push(l.to_owned());
        }
        let mut mx = Vec::new();
        for p in mx_host {
            let p = p.as_ref();
            too_large(p.len())?;
            mx.push(normalize_mx(p)?);
        }
        let policy_type = if policy_type == PolicyType::Sts && lines.iter().any(|l| is_mode_none(l))
        {
            PolicyType::NoPolicyFound
        } else {
            policy_type
        };
        if policy_type == PolicyType::NoPolicyFound {
            lines.clear();
            mx.clear();
        }
        let hash = hash_state().hash_one((&domain, &policy_type, &lines, &mx));
        Ok(Self(Arc::new(KeyInner {
            domain,
            policy_type,
            policy_string: lines,
            mx_host: mx,
            hash,
        })))
    }

    /// The policy domain (lower-case A-labels).
    pub fn domain(&self) -> &str {
        &self.0.domain
    }

    /// `policy-type`.
    pub fn policy_type(&self) -> &PolicyType {
        &self.0.policy_type
    }

    /// `policy-string` (empty for `no-policy-found`).
    pub fn policy_string(&self) -> &[String] {
        &self.0.policy_string
    }

    /// `mx-host` (empty for `no-policy-found`).
    pub fn mx_host(&self) -> &[String] {
        &self.0.mx_host
    }

    /// The report's `policy` object for this key.
    pub fn policy_info(&self) -> PolicyInfo<'static> {
        PolicyInfo {
            policy_type: self.0.policy_type.clone(),
            policy_string: self
                .0
                .policy_string
                .iter()
                .map(|s| Cow::Owned(s.clone()))
                .collect(),
            policy_domain: Some(Cow::Owned(self.0.domain.clone())),
            mx_host: self
                .0
                .mx_host
                .iter()
                .map(|s| Cow::Owned(s.clone()))
                .collect(),
            extensions: Vec::new(),
        }
    }

    /// `sts example.com`, for messages.
    fn describe(&self) -> String {
        format!("{} {}", self.0.policy_type, self.0.domain)
    }
}

/// Whether a `policy-string` line is `mode: none` (white space around the
/// key and value ignored).
fn is_mode_none(line: &str) -> bool {
    line.split_once(':')
        .is_some_and(|(k, v)| k.trim() == "mode" && v.trim() == "none")
}

/// An `mx-host` pattern in lower-case A-labels without a trailing dot.
fn normalize_mx(p: &str) -> Result<String> {
    let t = p.trim();
    if t.is_ascii() {
        return Ok(domain::fold(t).into_owned());
    }
    mta_sts_core::MxPattern::from_user(t)
        .map(|m| m.as_str().to_owned())
        .map_err(|_| AggregateError::MxHost {
            pattern: p.to_owned(),
        })
}

impl PartialEq for PolicyKey {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&*self.0, &*other.0);
        Arc::ptr_eq(&self.0, &other.0)
            || (a.hash == b.hash
                && a.domain == b.domain
                && a.policy_type == b.policy_type
                && a.policy_string == b.policy_string
                && a.mx_host == b.mx_host)
    }
}

impl Eq for PolicyKey {}

impl Hash for PolicyKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl Ord for PolicyKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (&*self.0, &*other.0);
        (&a.domain, &a.policy_type, &a.policy_string, &a.mx_host).cmp(&(
            &b.domain,
            &b.policy_type,
            &b.policy_string,
            &b.mx_host,
        ))
    }
}

impl PartialOrd for PolicyKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for PolicyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyKey")
            .field("domain", &self.0.domain)
            .field("policy_type", &self.0.policy_type)
            .field("policy_string", &self.0.policy_string)
            .field("mx_host", &self.0.mx_host)
            .finish()
    }
}

// ---------------------------------------------------------------------------
// Outcomes

/// One failure detail of a session (RFC 8460 4.4 `failure-details`):
/// identical ones are merged into one row with a count. The fields are
/// the report's; absent ones are left out of it. `receiving_mx_hostname`
/// is compared in lower case without a trailing dot.
///
/// Rows sort by these fields in declaration order (result type first);
/// that is their order in the report.
///
/// ```
/// use tlsrpt_core::session::Failure;
/// use tlsrpt_core::ResultType;
/// let f = Failure::new(ResultType::ValidationFailure)
///     .receiving_mx_hostname("mx.example.com")
///     .failure_reason_code("mx-not-in-policy");
/// assert_eq!(f.failure_reason_code.as_deref(), Some("mx-not-in-policy"));
/// assert_eq!(f.sending_mta_ip, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Failure {
    /// `result-type`.
    pub result_type: ResultType,
    /// `receiving-mx-hostname`.
    pub receiving_mx_hostname: Option<String>,
    /// `receiving-ip`.
    pub receiving_ip: Option<IpAddr>,
    /// `sending-mta-ip`.
    pub sending_mta_ip: Option<IpAddr>,
    /// `receiving-mx-helo`.
    pub receiving_mx_helo: Option<String>,
    /// `failure-reason-code` (free text, e.g. a TLS alert).
    pub failure_reason_code: Option<String>,
    /// `additional-information` (a URI with more about the failure).
    pub additional_information: Option<String>,
}

impl Failure {
    /// A failure of type `result_type` without details.
    pub fn new(result_type: ResultType) -> Self {
        Self {
            result_type,
            receiving_mx_hostname: None,
            receiving_ip: None,
            sending_mta_ip: None,
            receiving_mx_helo: None,
            failure_reason_code: None,
            additional_information: None,
        }
    }

    /// With `receiving-mx-hostname`.
    pub fn receiving_mx_hostname(mut self, host: impl Into<String>) -> Self {
        self.receiving_mx_hostname = Some(host.into());
        self
    }

    /// With `receiving-ip`.
    pub fn receiving_ip(mut self, ip: IpAddr) -> Self {
        self.receiving_ip = Some(ip);
        self
    }

    /// With `sending-mta-ip`.
    pub fn sending_mta_ip(mut self, ip: IpAddr) -> Self {
        self.sending_mta_ip = Some(ip);
        self
    }

    /// With `receiving-mx-helo`.
    pub fn receiving_mx_helo(mut self, helo: impl Into<String>) -> Self {
        self.receiving_mx_helo = Some(helo.into());
        self
    }

    /// With `failure-reason-code`.
    pub fn failure_reason_code(mut self, code: impl Into<String>) -> Self {
        self.failure_reason_code = Some(code.into());
        self
    }

    /// With `additional-information`.
    pub fn additional_information(mut self, info: impl Into<String>) -> Self {
        self.additional_information = Some(info.into());
        self
    }

    /// [`AggregateError::FieldTooLong`] for a field over [`MAX_FIELD_LEN`].
    fn check(&self) -> Result<()> {
        let fields = [
            ("receiving-mx-hostname", &self.receiving_mx_hostname),
            ("receiving-mx-helo", &self.receiving_mx_helo),
            ("failure-reason-code", &self.failure_reason_code),
            ("additional-information", &self.additional_information),
        ];
        for (field, v) in fields {
            if let Some(v) = v
                && v.len() > MAX_FIELD_LEN
            {
                return Err(AggregateError::FieldTooLong {
                    field,
                    len: v.len(),
                });
            }
        }
        if let ResultType::Other(s) = &self.result_type
            && s.len() > MAX_FIELD_LEN
        {
            return Err(AggregateError::FieldTooLong {
                field: "result-type",
                len: s.len(),
            });
        }
        Ok(())
    }

    /// The row this failure is counted under: the host name folded.
    fn row(&self) -> Cow<'_, Self> {
        match &self.receiving_mx_hostname {
            Some(h) if matches!(domain::fold(h), Cow::Owned(_)) => {
                let mut r = self.clone();
                r.receiving_mx_hostname = Some(domain::fold(h).into_owned());
                Cow::Owned(r)
            }
            _ => Cow::Borrowed(self),
        }
    }

    fn detail(&self, count: u64) -> FailureDetail<'static> {
        FailureDetail {
            result_type: self.result_type.clone(),
            sending_mta_ip: self.sending_mta_ip.map(Ip::Addr),
            receiving_mx_hostname: self.receiving_mx_hostname.clone().map(Cow::Owned),
            receiving_mx_helo: self.receiving_mx_helo.clone().map(Cow::Owned),
            receiving_ip: self.receiving_ip.map(Ip::Addr),
            failed_session_count: count,
            additional_information: self.additional_information.clone().map(Cow::Owned),
            failure_reason_code: self.failure_reason_code.clone().map(Cow::Owned),
            extensions: Vec::new(),
        }
    }
}

/// The outcome of one session under one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A policy-compliant TLS session (`total-successful-session-count`).
    Success,
    /// A failed session with its failure detail.
    Failure(Failure),
}

/// Whether a session succeeded, for [`DayAggregate::record_session`]
/// (which takes the failure details separately: a session can have
/// several, RPT-JSON-16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionResult {
    /// Counted in `total-successful-session-count`.
    Successful,
    /// Counted in `total-failure-session-count`.
    Failed,
}

/// What a record call counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recorded {
    /// The session and its failure details are in the aggregate.
    Counted,
    /// The session is in the aggregate, but a failure detail was folded
    /// into (or pushed another into) its result type's count of folded
    /// details: the policy holds `max_failure_rows` distinct rows.
    FoldedDetails,
    /// The day holds `max_policies` other policies: the session is only
    /// counted in [`Unreported`].
    Unreported,
}

/// Sessions that are in no report because their policy was not kept (the
/// day held `max_policies` others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize)]
pub struct Unreported {
    /// Successful sessions.
    pub successful_sessions: u64,
    /// Failed sessions.
    pub failed_sessions: u64,
}

impl Unreported {
    /// Whether nothing was left out.
    pub fn is_empty(&self) -> bool {
        self.successful_sessions == 0 && self.failed_sessions == 0
    }

    fn add(&mut self, successful: u64, failed: u64) -> Result<()> {
        let over = || AggregateError::CountOverflow {
            what: "unreported sessions".to_owned(),
        };
        let fits = |t: u64| (t <= MAX_COUNT).then_some(t);
        let s = self
            .successful_sessions
            .checked_add(successful)
            .and_then(fits);
        let f = self.failed_sessions.checked_add(failed).and_then(fits);
        match (s, f) {
            (Some(s), Some(f)) => {
                self.successful_sessions = s;
                self.failed_sessions = f;
                Ok(())
            }
            _ => Err(over()),
        }
    }
}

/// Session totals of an aggregate ([`DayAggregate::totals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct SessionTotals {
    /// Successful sessions in the kept policies.
    pub successful_sessions: u64,
    /// Failed sessions in the kept policies.
    pub failed_sessions: u64,
}

// ---------------------------------------------------------------------------
// Limits and handles

/// Bounds of a [`DayAggregate`] (see the module documentation).
///
/// | field | default |
/// |---|---|
/// | `max_policies` | 100,000 distinct policies per day |
/// | `max_failure_rows` | 1,000 distinct failure details per policy |
///
/// ```
/// use tlsrpt_core::session::AggregateLimits;
/// let l = AggregateLimits { max_policies: 10, ..Default::default() };
/// assert_eq!(l.max_failure_rows, 1_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AggregateLimits {
    /// Most distinct policies (keys) per day.
    pub max_policies: usize,
    /// Most distinct failure detail rows per policy; the rest are folded
    /// into one count per result type, which is not written into reports.
    pub max_failure_rows: usize,
}

impl Default for AggregateLimits {
    fn default() -> Self {
        Self {
            max_policies: 100_000,
            max_failure_rows: 1_000,
        }
    }
}

/// A policy interned in a [`DayAggregate`] ([`DayAggregate::intern`]), to
/// record sessions without a lookup ([`DayAggregate::record_by`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicyHandle {
    aggregate: u32,
    index: u32,
}

impl PolicyHandle {
    /// Whether sessions recorded by this handle go to [`Unreported`] (the
    /// day held `max_policies` other policies when it was interned, or a
    /// merge left its policy out).
    pub fn is_unreported(&self) -> bool {
        self.index == UNREPORTED
    }
}

/// The index of the handle that counts into [`Unreported`].
const UNREPORTED: u32 = u32::MAX;

fn next_aggregate_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// Counters of one policy

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Counters {
    successful: u64,
    failed: u64,
    /// Kept failure rows and their counts.
    rows: BTreeMap<Failure, u64>,
    /// Folded rows: counts by result type (unregistered types as
    /// `validation-failure`).
    other: BTreeMap<ResultType, u64>,
    /// The sum of every count above, at most [`MAX_COUNT`]: every count is
    /// at most this, so a call that adds `n` counts cannot pass
    /// `MAX_COUNT` (nor overflow) once `total + n` does not.
    total: u64,
    /// Left out by a merge: the handles of this entry count into
    /// [`Unreported`].
    evicted: bool,
}

impl Counters {
    fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Keep at most `cap` rows: the first in row order; fold the rest.
    /// Returns whether anything was folded.
    fn trim(&mut self, cap: usize) -> bool {
        let mut folded = false;
        while self.rows.len() > cap {
            let Some((row, n)) = self.rows.pop_last() else {
                break;
            };
            let t = if row.result_type.is_registered() {
                row.result_type
            } else {
                ResultType::ValidationFailure
            };
            let o = self.other.entry(t).or_insert(0);
            // Cannot saturate: `n` and `o` are parts of `total`.
            *o = o.saturating_add(n);
            folded = true;
        }
        folded
    }

    /// Add `other`'s counts (both are live, non-empty entries).
    fn absorb(&mut self, other: &Self, cap: usize, what: impl FnOnce() -> String) -> Result<()> {
        let total = self
            .total
            .checked_add(other.total)
            .filter(|&t| t <= MAX_COUNT)
            .ok_or_else(|| AggregateError::CountOverflow { what: what() })?;
        self.total = total;
        // None of these can saturate: each sum is part of `total`.
        self.successful = self.successful.saturating_add(other.successful);
        self.failed = self.failed.saturating_add(other.failed);
        for (row, &n) in &other.rows {
            match self.rows.get_mut(row) {
                Some(c) => *c = c.saturating_add(n),
                None => {
                    self.rows.insert(row.clone(), n);
                }
            }
        }
        for (t, &n) in &other.other {
            let o = self.other.entry(t.clone()).or_insert(0);
            *o = o.saturating_add(n);
        }
        self.trim(cap);
        Ok(())
    }

    fn folded(&self) -> u64 {
        self.other.values().fold(0, |a, &n| a.saturating_add(n))
    }
}

// ---------------------------------------------------------------------------
// DayAggregate

/// One UTC day of recorded sessions (see the module documentation).
#[derive(Debug, Clone)]
pub struct DayAggregate {
    day: UtcDay,
    limits: AggregateLimits,
    id: u32,
    index: KeyMap<u32>,
    entries: Vec<Counters>,
    unreported: Unreported,
}

impl PartialEq for DayAggregate {
    /// Same day, same unreported counts, and the same policies with the
    /// same counts (interned policies without sessions, handle numbers and
    /// limits are not compared).
    fn eq(&self, other: &Self) -> bool {
        self.day == other.day && self.unreported == other.unreported && self.live().eq(other.live())
    }
}

impl Eq for DayAggregate {}

/// What a record call adds.
struct Session<'a> {
    result: SessionResult,
    failures: &'a [Failure],
}

impl DayAggregate {
    /// An empty aggregate of `day` with the default limits.
    pub fn new(day: UtcDay) -> Self {
        Self::with_limits(day, AggregateLimits::default())
    }

    /// An empty aggregate of `day` with `limits`.
    pub fn with_limits(day: UtcDay, limits: AggregateLimits) -> Self {
        Self {
            day,
            limits,
            id: next_aggregate_id(),
            index: KeyMap::default(),
            entries: Vec::new(),
            unreported: Unreported::default(),
        }
    }

    /// The day.
    pub fn day(&self) -> UtcDay {
        self.day
    }

    /// The limits.
    pub fn limits(&self) -> AggregateLimits {
        self.limits
    }

    /// Sessions in no report (their policy was not kept).
    pub fn unreported(&self) -> Unreported {
        self.unreported
    }

    /// Failure details folded (not kept as rows) over all kept policies:
    /// their sessions are in the reports' summaries, the details are not.
    pub fn folded_failure_details(&self) -> u64 {
        self.live_unsorted()
            .map(Counters::folded)
            .fold(0, u64::saturating_add)
    }

    /// The number of kept policies with at least one session.
    pub fn policies(&self) -> usize {
        self.live_unsorted().count()
    }

    /// Whether nothing was recorded (not even unreported sessions).
    pub fn is_empty(&self) -> bool {
        self.policies() == 0 && self.unreported.is_empty()
    }

    /// Session totals over the kept policies.
    pub fn totals(&self) -> SessionTotals {
        self.live_unsorted()
            .fold(SessionTotals::default(), |t, c| SessionTotals {
                successful_sessions: t.successful_sessions.saturating_add(c.successful),
                failed_sessions: t.failed_sessions.saturating_add(c.failed),
            })
    }

    /// The counters of the kept, non-empty policies, in no order.
    fn live_unsorted(&self) -> impl Iterator<Item = &Counters> {
        self.index
            .values()
            .filter_map(|&i| self.entries.get(i as usize))
            .filter(|c| !c.is_empty())
    }

    /// The kept, non-empty policies, in key order.
    fn live(&self) -> impl Iterator<Item = (&PolicyKey, &Counters)> {
        let mut v: Vec<(&PolicyKey, &Counters)> = self
            .index
            .iter()
            .filter_map(|(k, &i)| {
                let c = self.entries.get(i as usize)?;
                (!c.is_empty()).then_some((k, c))
            })
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v.into_iter()
    }

    /// The handle of `key`, adding the policy (without sessions) when it
    /// is new. When the day already holds `max_policies` policies, the
    /// handle counts into [`Unreported`]
    /// ([`PolicyHandle::is_unreported`]).
    ///
    /// ```
    /// use tlsrpt_core::session::{DayAggregate, Outcome, PolicyKey, UtcDay};
    /// let mut day = DayAggregate::new(UtcDay::parse("2024-05-01")?);
    /// let h = day.intern(&PolicyKey::no_policy_found("example.org")?);
    /// for _ in 0..3 {
    ///     day.record_by(h, &Outcome::Success)?;
    /// }
    /// assert_eq!(day.totals().successful_sessions, 3);
    /// # Ok::<(), tlsrpt_core::session::AggregateError>(())
    /// ```
    pub fn intern(&mut self, key: &PolicyKey) -> PolicyHandle {
        let index = self.index_of(key);
        PolicyHandle {
            aggregate: self.id,
            index,
        }
    }

    fn index_of(&mut self, key: &PolicyKey) -> u32 {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        if self.index.len() >= self.limits.max_policies {
            return UNREPORTED;
        }
        let Ok(i) = u32::try_from(self.entries.len()) else {
            return UNREPORTED;
        };
        if i == UNREPORTED {
            return UNREPORTED;
        }
        self.entries.push(Counters::default());
        self.index.insert(key.clone(), i);
        i
    }

    /// Record one session under `key`.
    pub fn record(&mut self, key: &PolicyKey, outcome: &Outcome) -> Result<Recorded> {
        let i = self.index_of(key);
        self.record_at(i, outcome_session(outcome), || key.describe())
    }

    /// Record one session by handle (see [`DayAggregate::intern`]).
    pub fn record_by(&mut self, handle: PolicyHandle, outcome: &Outcome) -> Result<Recorded> {
        let i = self.handle_index(handle)?;
        self.record_at(i, outcome_session(outcome), || "the policy".to_owned())
    }

    /// Record one session under `key` with any number of failure details
    /// (RPT-JSON-16: one session can fail in several ways; a successful
    /// session can carry details of earlier failed attempts).
    pub fn record_session(
        &mut self,
        key: &PolicyKey,
        result: SessionResult,
        failures: &[Failure],
    ) -> Result<Recorded> {
        let i = self.index_of(key);
        self.record_at(i, Session { result, failures }, || key.describe())
    }

    /// [`DayAggregate::record_session`] by handle.
    pub fn record_session_by(
        &mut self,
        handle: PolicyHandle,
        result: SessionResult,
        failures: &[Failure],
    ) -> Result<Recorded> {
        let i = self.handle_index(handle)?;
        self.record_at(i, Session { result, failures }, || "the policy".to_owned())
    }

    fn handle_index(&self, h: PolicyHandle) -> Result<u32> {
        if h.aggregate != self.id {
            return Err(AggregateError::ForeignHandle);
        }
        Ok(h.index)
    }

    fn record_at(
        &mut self,
        i: u32,
        s: Session<'_>,
        what: impl FnOnce() -> String,
    ) -> Result<Recorded> {
        for f in s.failures {
            f.check()?;
        }
        let (ok, failed) = match s.result {
            SessionResult::Successful => (1, 0),
            SessionResult::Failed => (0, 1),
        };
        let cap = self.limits.max_failure_rows;
        let entry = match self.entries.get_mut(i as usize) {
            Some(e) if !e.evicted => e,
            Some(_) => {
                self.unreported.add(ok, failed)?;
                return Ok(Recorded::Unreported);
            }
            None if i == UNREPORTED => {
                self.unreported.add(ok, failed)?;
                return Ok(Recorded::Unreported);
            }
            None => return Err(AggregateError::ForeignHandle),
        };
        let adds = u64::try_from(s.failures.len())
            .ok()
            .and_then(|n| n.checked_add(1))
            .and_then(|n| entry.total.checked_add(n))
            .filter(|&t| t <= MAX_COUNT);
        let Some(total) = adds else {
            return Err(AggregateError::CountOverflow { what: what() });
        };
        entry.total = total;
        // None of these can saturate: each is part of `total`.
        entry.successful = entry.successful.saturating_add(ok);
        entry.failed = entry.failed.saturating_add(failed);
        let mut folded = false;
        for f in s.failures {
            let row = f.row();
            match entry.rows.get_mut(&*row) {
                Some(c) => *c = c.saturating_add(1),
                None => {
                    entry.rows.insert(row.into_owned(), 1);
                    folded |= entry.trim(cap);
                }
            }
        }
        Ok(if folded {
            Recorded::FoldedDetails
        } else {
            Recorded::Counted
        })
    }

    /// Add `other`'s sessions to this aggregate (same day; this
    /// aggregate's limits apply). Commutative and associative: the kept
    /// policies are the first `max_policies` in key order (the sessions of
    /// the others go to [`Unreported`], and their handles count there from
    /// now on), the kept rows of each policy the first `max_failure_rows`.
    /// On error nothing is changed.
    ///
    /// ```
    /// use tlsrpt_core::session::{DayAggregate, Outcome, PolicyKey, UtcDay};
    /// let day = UtcDay::parse("2024-05-01")?;
    /// let key = PolicyKey::no_policy_found("example.org")?;
    /// let (mut a, mut b) = (DayAggregate::new(day), DayAggregate::new(day));
    /// a.record(&key, &Outcome::Success)?;
    /// b.record(&key, &Outcome::Success)?;
    /// let b = DayAggregate::from_json(b.to_json().as_bytes(), Default::default())?;
    /// a.merge(&b)?;
    /// assert_eq!(a.totals().successful_sessions, 2);
    /// # Ok::<(), tlsrpt_core::session::AggregateError>(())
    /// ```
    pub fn merge(&mut self, other: &Self) -> Result<()> {
        if self.day != other.day {
            return Err(AggregateError::DayMismatch {
                ours: self.day,
                theirs: other.day,
            });
        }
        let mut next = self.clone();
        next.unreported.add(
            other.unreported.successful_sessions,
            other.unreported.failed_sessions,
        )?;
        let cap = next.limits.max_failure_rows;
        for (key, c) in other.live() {
            match next.index.get(key).copied() {
                Some(i) => {
                    if let Some(e) = next.entries.get_mut(i as usize) {
                        e.absorb(c, cap, || key.describe())?;
                    }
                }
                None => {
                    let Ok(i) = u32::try_from(next.entries.len()) else {
                        next.unreported.add(c.successful, c.failed)?;
                        continue;
                    };
                    let mut copy = c.clone();
                    copy.evicted = false;
                    copy.trim(cap);
                    next.entries.push(copy);
                    next.index.insert(key.clone(), i);
                }
            }
        }
        next.enforce_policy_cap()?;
        *self = next;
        Ok(())
    }

    /// Keep the first `max_policies` non-empty policies in key order
    /// (empty ones only while there is room); move the sessions of the
    /// rest to `unreported`.
    fn enforce_policy_cap(&mut self) -> Result<()> {
        let max = self.limits.max_policies;
        if self.index.len() <= max {
            return Ok(());
        }
        let mut keys: Vec<(bool, PolicyKey, u32)> = self
            .index
            .iter()
            .map(|(k, &i)| {
                let empty = self.entries.get(i as usize).is_none_or(Counters::is_empty);
                (empty, k.clone(), i)
            })
            .collect();
        keys.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        for (_, key, i) in keys.into_iter().skip(max) {
            self.index.remove(&key);
            if let Some(e) = self.entries.get_mut(i as usize) {
                self.unreported.add(e.successful, e.failed)?;
                *e = Counters {
                    evicted: true,
                    ..Counters::default()
                };
            }
        }
        Ok(())
    }

    /// The aggregate in its stable JSON form (version
    /// [`PARTIAL_VERSION`]): policies in key order, failure rows in row
    /// order, no white space; policies without sessions left out. The same
    /// state always gives the same bytes.
    ///
    /// ```
    /// use tlsrpt_core::session::{DayAggregate, Outcome, PolicyKey, UtcDay};
    /// let mut day = DayAggregate::new(UtcDay::parse("2024-05-01")?);
    /// day.record(&PolicyKey::no_policy_found("Example.org")?, &Outcome::Success)?;
    /// assert_eq!(day.to_json(), r#"{"format":"tlsrpt-day-aggregate","version":1,"day":"2024-05-01","unreported-successful-sessions":0,"unreported-failed-sessions":0,"policies":[{"policy-type":"no-policy-found","policy-domain":"example.org","successful":1,"failed":0}]}"#);
    /// # Ok::<(), tlsrpt_core::session::AggregateError>(())
    /// ```
    pub fn to_json(&self) -> String {
        let day = self.day.to_string();
        let wire = WireDay {
            format: Cow::Borrowed(PARTIAL_FORMAT),
            version: u64::from(PARTIAL_VERSION),
            day: Cow::Borrowed(&day),
            unreported_successful_sessions: self.unreported.successful_sessions,
            unreported_failed_sessions: self.unreported.failed_sessions,
            policies: self.live().map(|(k, c)| WirePolicy::of(k, c)).collect(),
        };
        // Never an error: plain strings and integers.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Read the JSON form written by [`DayAggregate::to_json`], applying
    /// `limits` (policies and rows beyond them are treated as in
    /// [`DayAggregate::merge`]). Every key and row is validated as when
    /// recording; a policy or row listed twice is an error.
    pub fn from_json(json: &[u8], limits: AggregateLimits) -> Result<Self> {
        let partial = |message: String| AggregateError::Partial { message };
        let head: WireHead<'_> =
            serde_json::from_slice(json).map_err(|e| partial(e.to_string()))?;
        if head.format != PARTIAL_FORMAT || head.version != u64::from(PARTIAL_VERSION) {
            return Err(AggregateError::PartialVersion {
                format: head.format.into_owned(),
                version: head.version,
            });
        }
        let wire: WireDay<'_> = serde_json::from_slice(json).map_err(|e| partial(e.to_string()))?;
        let day = UtcDay::parse(&wire.day)?;
        let mut agg = Self::with_limits(day, limits);
        agg.unreported.add(
            wire.unreported_successful_sessions,
            wire.unreported_failed_sessions,
        )?;
        for (n, p) in wire.policies.into_iter().enumerate() {
            let at = |m: String| partial(format!("policies[{n}]: {m}"));
            let policy_type = PolicyType::from_json(&p.policy_type);
            let key = PolicyKey::new(policy_type, &p.policy_domain, &p.policy_string, &p.mx_host)
                .map_err(|e| at(e.to_string()))?;
            if agg.index.contains_key(&key) {
                return Err(at(format!("{} is listed twice", key.describe())));
            }
            let mut c = Counters {
                successful: p.successful,
                failed: p.failed,
                ..Counters::default()
            };
            let mut total = p.successful.checked_add(p.failed);
            for (m, r) in p.failure_details.into_iter().enumerate() {
                let (row, count) = r
                    .into_failure()
                    .map_err(|e| at(format!("failure-details[{m}]: {e}")))?;
                if count == 0 {
                    return Err(at(format!("failure-details[{m}]: count is 0")));
                }
                total = total.and_then(|t| t.checked_add(count));
                if c.rows.insert(row, count).is_some() {
                    return Err(at(format!("failure-details[{m}] is listed twice")));
                }
            }
            for (m, o) in p.other_failure_details.into_iter().enumerate() {
                let t: ResultType = o
                    .result_type
                    .parse()
                    .unwrap_or(ResultType::ValidationFailure);
                let t = if t.is_registered() {
                    t
                } else {
                    ResultType::ValidationFailure
                };
                if o.count == 0 {
                    return Err(at(format!("other-failure-details[{m}]: count is 0")));
                }
                total = total.and_then(|x| x.checked_add(o.count));
                if c.other.insert(t, o.count).is_some() {
                    return Err(at(format!("other-failure-details[{m}] is listed twice")));
                }
            }
            c.total =
                total
                    .filter(|&t| t <= MAX_COUNT)
                    .ok_or_else(|| AggregateError::CountOverflow {
                        what: key.describe(),
                    })?;
            if c.is_empty() {
                continue;
            }
            c.trim(limits.max_failure_rows);
            let Ok(i) = u32::try_from(agg.entries.len()) else {
                agg.unreported.add(c.successful, c.failed)?;
                continue;
            };
            agg.entries.push(c);
            agg.index.insert(key, i);
        }
        agg.enforce_policy_cap()?;
        Ok(agg)
    }

    /// The day's reports, one per policy domain (ordered by domain), each
    /// with all of that domain's policies (in key order) and their failure
    /// details (in row order; folded details are left out). `report-id` is
    /// `<day>.<policy domain>.<unique-id>@<submitter>`; `date-range` is
    /// `DT00:00:00Z` to `DT23:59:59Z` (DEC-17). The same aggregate and meta
    /// always give the same reports.
    ///
    /// Errors: an invalid [`ReportMeta`], or a submitter that is not the
    /// domain of `contact-info` (RFC 8460 5.3).
    pub fn finish(&self, meta: &ReportMeta) -> Result<FinishedDay> {
        let submitter = meta.validate()?;
        let day = self.day.to_string();
        let mut reports: Vec<Report<'static>> = Vec::new();
        let mut current: Option<(&str, Vec<PolicyResult<'static>>)> = None;
        let mut flush = |domain: &str, policies: Vec<PolicyResult<'static>>| {
            reports.push(Report {
                organization_name: Cow::Owned(meta.organization_name.clone()),
                date_range: DateRange {
                    start: self.day.start(),
                    end: self.day.end(),
                },
                contact_info: Some(Cow::Owned(meta.contact_info.clone())),
                report_id: Cow::Owned(format!("{day}.{domain}.{}@{submitter}", meta.unique_id)),
                policies,
                extensions: Vec::new(),
            });
        };
        for (key, c) in self.live() {
            let failure_details: Vec<FailureDetail<'static>> =
                c.rows.iter().map(|(row, &n)| row.detail(n)).collect();
            let result = PolicyResult {
                policy: key.policy_info(),
                summary: Summary {
                    total_successful_session_count: c.successful,
                    total_failure_session_count: c.failed,
                },
                failure_details,
                extensions: Vec::new(),
            };
            match &mut current {
                Some((d, list)) if *d == key.domain() => list.push(result),
                _ => {
                    if let Some((d, list)) = current.take() {
                        flush(d, list);
                    }
                    current = Some((key.domain(), vec![result]));
                }
            }
        }
        if let Some((d, list)) = current.take() {
            flush(d, list);
        }
        Ok(FinishedDay {
            reports,
            unreported: self.unreported,
            folded_failure_details: self.folded_failure_details(),
        })
    }
}

fn outcome_session(o: &Outcome) -> Session<'_> {
    match o {
        Outcome::Success => Session {
            result: SessionResult::Successful,
            failures: &[],
        },
        Outcome::Failure(f) => Session {
            result: SessionResult::Failed,
            failures: std::slice::from_ref(f),
        },
    }
}

// ---------------------------------------------------------------------------
// Finishing

/// Who writes the reports, from configuration, and the caller's unique
/// part of their ids.
///
/// ```
/// use tlsrpt_core::session::ReportMeta;
/// let m = ReportMeta::new("Example Mail", "tlsrpt@mail.example.com", "mail.example.com", "20240501n1");
/// assert_eq!(m.submitter, "mail.example.com");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportMeta {
    /// `organization-name` (1 to [`MAX_META_LEN`] bytes).
    pub organization_name: String,
    /// `contact-info`: an e-mail address (RFC 5322 addr-spec) whose domain
    /// is `submitter`.
    pub contact_info: String,
    /// The submitter's domain (`TLS-Report-Submitter`, the file name's
    /// `sender`, the right side of `report-id`).
    pub submitter: String,
    /// Makes the report ids unique: 1 to [`MAX_UNIQUE_ID`] ASCII letters
    /// and digits (it is also the file name's `unique-id`). Use a random
    /// value or a sequence number kept across restarts; the same value
    /// gives the same ids.
    pub unique_id: String,
}

impl ReportMeta {
    /// The meta data of reports.
    pub fn new(
        organization_name: impl Into<String>,
        contact_info: impl Into<String>,
        submitter: impl Into<String>,
        unique_id: impl Into<String>,
    ) -> Self {
        Self {
            organization_name: organization_name.into(),
            contact_info: contact_info.into(),
            submitter: submitter.into(),
            unique_id: unique_id.into(),
        }
    }

    /// Check the fields; return the submitter in lower-case A-labels.
    fn validate(&self) -> Result<String> {
        let meta = |field: &'static str, reason: &str| AggregateError::Meta {
            field,
            reason: reason.to_owned(),
        };
        let org = &self.organization_name;
        if org.trim().is_empty() {
            return Err(meta("organization-name", "empty"));
        }
        if org.len() > MAX_META_LEN {
            return Err(meta("organization-name", "longer than 1024 bytes"));
        }
        let ci = &self.contact_info;
        if ci.len() > MAX_META_LEN {
            return Err(meta("contact-info", "longer than 1024 bytes"));
        }
        if ci.is_empty()
            || !ci.contains('@')
            || ci.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(meta(
                "contact-info",
                "not an e-mail address (local-part@domain, no white space)",
            ));
        }
        let submitter = domain::normalize(&self.submitter).map_err(|e| AggregateError::Meta {
            field: "submitter",
            reason: e.to_string(),
        })?;
        crate::filename::check_submitter(ci, &submitter)?;
        let u = &self.unique_id;
        if u.is_empty() || u.len() > MAX_UNIQUE_ID || !u.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(meta(
                "unique-id",
                "expected 1 to 64 ASCII letters and digits",
            ));
        }
        Ok(submitter)
    }
}

/// What [`DayAggregate::finish`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FinishedDay {
    /// One report per policy domain, ordered by domain.
    pub reports: Vec<Report<'static>>,
    /// Sessions in no report (their policies were over `max_policies`):
    /// log them.
    pub unreported: Unreported,
    /// Failure details that were folded, so are in no report's
    /// `failure-details` (their sessions are in the summaries): log them.
    pub folded_failure_details: u64,
}

// ---------------------------------------------------------------------------
// The JSON form of a partial aggregate

#[derive(Deserialize)]
struct WireHead<'a> {
    #[serde(borrow)]
    format: Cow<'a, str>,
    version: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDay<'a> {
    #[serde(borrow)]
    format: Cow<'a, str>,
    version: u64,
    #[serde(borrow)]
    day: Cow<'a, str>,
    #[serde(rename = "unreported-successful-sessions")]
    unreported_successful_sessions: u64,
    #[serde(rename = "unreported-failed-sessions")]
    unreported_failed_sessions: u64,
    #[serde(borrow)]
    policies: Vec<WirePolicy<'a>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WirePolicy<'a> {
    #[serde(rename = "policy-type", borrow)]
    policy_type: Cow<'a, str>,
    #[serde(rename = "policy-domain", borrow)]
    policy_domain: Cow<'a, str>,
    #[serde(
        rename = "policy-string",
        borrow,
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    policy_string: Vec<Cow<'a, str>>,
    #[serde(
        rename = "mx-host",
        borrow,
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    mx_host: Vec<Cow<'a, str>>,
    successful: u64,
    failed: u64,
    #[serde(
        rename = "failure-details",
        borrow,
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    failure_details: Vec<WireRow<'a>>,
    #[serde(
        rename = "other-failure-details",
        borrow,
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    other_failure_details: Vec<WireOther<'a>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRow<'a> {
    #[serde(rename = "result-type", borrow)]
    result_type: Cow<'a, str>,
    #[serde(
        rename = "receiving-mx-hostname",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    receiving_mx_hostname: Option<Cow<'a, str>>,
    #[serde(
        rename = "receiving-ip",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    receiving_ip: Option<Cow<'a, str>>,
    #[serde(
        rename = "sending-mta-ip",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    sending_mta_ip: Option<Cow<'a, str>>,
    #[serde(
        rename = "receiving-mx-helo",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    receiving_mx_helo: Option<Cow<'a, str>>,
    #[serde(
        rename = "failure-reason-code",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    failure_reason_code: Option<Cow<'a, str>>,
    #[serde(
        rename = "additional-information",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    additional_information: Option<Cow<'a, str>>,
    count: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOther<'a> {
    #[serde(rename = "result-type", borrow)]
    result_type: Cow<'a, str>,
    count: u64,
}

impl<'a> WirePolicy<'a> {
    fn of(k: &'a PolicyKey, c: &'a Counters) -> Self {
        Self {
            policy_type: Cow::Borrowed(k.0.policy_type.as_str()),
            policy_domain: Cow::Borrowed(&k.0.domain),
            policy_string: k
                .0
                .policy_string
                .iter()
                .map(|s| Cow::Borrowed(&**s))
                .collect(),
            mx_host: k.0.mx_host.iter().map(|s| Cow::Borrowed(&**s)).collect(),
            successful: c.successful,
            failed: c.failed,
            failure_details: c
                .rows
                .iter()
                .map(|(r, &count)| WireRow {
                    result_type: Cow::Borrowed(r.result_type.as_str()),
                    receiving_mx_hostname: r.receiving_mx_hostname.as_deref().map(Cow::Borrowed),
                    receiving_ip: r.receiving_ip.map(|ip| Cow::Owned(ip.to_string())),
                    sending_mta_ip: r.sending_mta_ip.map(|ip| Cow::Owned(ip.to_string())),
                    receiving_mx_helo: r.receiving_mx_helo.as_deref().map(Cow::Borrowed),
                    failure_reason_code: r.failure_reason_code.as_deref().map(Cow::Borrowed),
                    additional_information: r.additional_information.as_deref().map(Cow::Borrowed),
                    count,
                })
                .collect(),
            other_failure_details: c
                .other
                .iter()
                .map(|(t, &count)| WireOther {
                    result_type: Cow::Borrowed(t.as_str()),
                    count,
                })
                .collect(),
        }
    }
}

impl WireRow<'_> {
    fn into_failure(self) -> Result<(Failure, u64), String> {
        let ip = |field: &str, v: Option<Cow<'_, str>>| -> Result<Option<IpAddr>, String> {
            v.map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|_| format!("{field} `{}` is not an IP address", Escaped(&s)))
            })
            .transpose()
        };
        let Ok(result_type) = self.result_type.parse::<ResultType>();
        let f = Failure {
            result_type,
            receiving_mx_hostname: self.receiving_mx_hostname.map(Cow::into_owned),
            receiving_ip: ip("receiving-ip", self.receiving_ip)?,
            sending_mta_ip: ip("sending-mta-ip", self.sending_mta_ip)?,
            receiving_mx_helo: self.receiving_mx_helo.map(Cow::into_owned),
            failure_reason_code: self.failure_reason_code.map(Cow::into_owned),
            additional_information: self.additional_information.map(Cow::into_owned),
        };
        f.check().map_err(|e| e.to_string())?;
        let row = f.row().into_owned();
        Ok((row, self.count))
    }
}
