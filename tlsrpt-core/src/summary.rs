//! Summaries for operators receiving reports.
//!
//! Feed reports one by one to an [`Aggregator`]; [`Aggregator::summary`]
//! gives a [`Summary`] that serialises to JSON (serde) and renders as
//! aligned text tables ([`Summary::render_text`]).
//!
//! Rules:
//!
//! - A report is identified by `organization-name` and `report-id` (exact
//!   strings). The same report seen again (for example received both as a
//!   JSON file and by mail) is counted once and listed in
//!   [`Summary::duplicate_reports`] with every source it came from.
//! - Session totals come from the policies' `summary` members;
//!   [`Summary::by_result_type`] and [`Summary::by_mx_host`] come from the
//!   failure details, so their sums may differ from the totals (one session
//!   may produce several failure details, RPT-JSON-16; reporters' sums do
//!   not always agree).
//! - Policy domains and MX host names are grouped lower case without a
//!   trailing dot; a policy without `policy-domain`, or a failure detail
//!   without `receiving-mx-hostname`, is grouped under [`UNKNOWN`].
//!   Several policies of one report for the same domain (`sts` and `tlsa`,
//!   RPT-JSON-17) add up.
//! - [`Summary::by_day`] uses the UTC day of the report's `start-datetime`
//!   from the JSON, never a file name or subject (RPT-GEN-06); a report
//!   spanning several days is counted on its first day.
//! - A [`Filter`] narrows what is counted: reports by the UTC day of
//!   their `start-datetime` (`since` and `until` inclusive), and policies by
//!   policy domain (a report without a policy of those domains is left
//!   out; one with several keeps only theirs). Reports left out are counted
//!   in [`Summary::left_out`], before duplicate detection.
//! - [`Summary::readiness`] holds the `testing` → `enforce` verdict of every
//!   policy domain ([`crate::alert::enforce_readiness`]'s rule) over a
//!   window of [`Aggregator::readiness_window`] UTC days (default
//!   [`crate::alert::READINESS_DAYS`]) ending with the given day, or, by
//!   default, with the last day the domain's own counted reports cover.
//! - All additions saturate at `u64::MAX`.
//! - Memory is bounded whatever the input: each grouping keeps at most
//!   [`Aggregator::max_groups`] distinct keys (default [`MAX_GROUPS`]), the
//!   first ones seen; later new keys are counted under [`OTHER`], and
//!   [`Summary::folded`] says how many additions each grouping folded (the
//!   text rendering shows it as a warning). Each MX host keeps at most
//!   [`MAX_RESULT_TYPES_PER_HOST`] result types. Alerts are bounded the
//!   same way ([`crate::alert::Alerts`]); each lists at most
//!   [`crate::alert::MAX_LISTED`] organisations, IPs, reasons, policy
//!   types, modes and patterns.
//!
//! ```
//! use tlsrpt_core::Report;
//! use tlsrpt_core::summary::Aggregator;
//!
//! let json = br#"{"organization-name":"Company-X","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"a@x.example","report-id":"r1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["mx.example.com"]},"summary":{"total-successful-session-count":10,"total-failure-session-count":2},"failure-details":[{"result-type":"starttls-not-supported","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx.example.com","failed-session-count":2}]}]}"#;
//! let report = Report::parse_lenient(json)?.value;
//! let mut agg = Aggregator::new();
//! assert!(agg.add(&report, "report.json"));
//! assert!(!agg.add(&report, "mail.eml")); // the same report again
//! let s = agg.summary();
//! assert_eq!((s.reports, s.duplicates), (1, 1));
//! assert_eq!((s.successful_sessions, s.failed_sessions), (10, 2));
//! assert_eq!(s.by_result_type["starttls-not-supported"], 2);
//! assert_eq!(s.by_day["2016-04-01"].failed_sessions, 2);
//! assert_eq!(s.duplicate_reports[0].sources, ["report.json", "mail.eml"]);
//! assert_eq!(s.alerts[0].code, "starttls-not-supported");
//! let json = serde_json::to_string(&s)?;
//! assert!(json.contains(r#""by_policy_domain":{"example.com":{"successful_sessions":10,"failed_sessions":2}}"#));
//! assert!(s.render_text().contains("mx.example.com"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use mta_sts_core::display::escape_controls;

use crate::alert::{Alert, Alerts, READINESS_DAYS, Readiness, ReadinessTracker, normalize_name};
use crate::report::Report;

/// The group key for a missing policy domain or MX host name.
pub const UNKNOWN: &str = "(unknown)";

/// The group key that collects what did not fit (see the module docs).
pub const OTHER: &str = "(other)";

/// Default bound on the distinct keys of each grouping of a [`Summary`].
pub const MAX_GROUPS: usize = 10_000;

/// Bound on the result types kept per MX host (within
/// [`Aggregator::max_groups`]); the registered ones are a dozen.
pub const MAX_RESULT_TYPES_PER_HOST: usize = 64;

/// Successful and failed sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionCounts {
    /// `total-successful-session-count`, summed.
    pub successful_sessions: u64,
    /// `total-failure-session-count`, summed.
    pub failed_sessions: u64,
}

/// Failures at one receiving MX host.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MxHostStats {
    /// `failed-session-count`, summed over the failure details.
    pub failed_sessions: u64,
    /// The same, per result type.
    pub by_result_type: BTreeMap<String, u64>,
}

/// Reports and sessions of one reporting organisation or one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReportCounts {
    /// Unique reports.
    pub reports: u64,
    /// Successful sessions (from the policies' summaries).
    pub successful_sessions: u64,
    /// Failed sessions (from the policies' summaries).
    pub failed_sessions: u64,
}

/// A report seen more than once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DuplicateReport {
    /// `organization-name`
    pub organization_name: String,
    /// `report-id`
    pub report_id: String,
    /// Every source it was added from, first (the counted one) first.
    pub sources: Vec<String>,
}

/// The summary of the reports added to an [`Aggregator`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Unique reports counted.
    pub reports: u64,
    /// Reports added again (same `organization-name` and `report-id`) and
    /// not counted.
    pub duplicates: u64,
    /// The reports seen more than once, with their sources.
    pub duplicate_reports: Vec<DuplicateReport>,
    /// Successful sessions, from the policies' summaries.
    pub successful_sessions: u64,
    /// Failed sessions, from the policies' summaries.
    pub failed_sessions: u64,
    /// Result type → failed sessions, from the failure details.
    pub by_result_type: BTreeMap<String, u64>,
    /// Policy domain (or [`UNKNOWN`]) → sessions.
    pub by_policy_domain: BTreeMap<String, SessionCounts>,
    /// Receiving MX host (or [`UNKNOWN`]) → failures.
    pub by_mx_host: BTreeMap<String, MxHostStats>,
    /// Reporting organisation → reports and sessions.
    pub by_organization: BTreeMap<String, ReportCounts>,
    /// UTC day (`YYYY-MM-DD`) of the report's start → reports and sessions.
    pub by_day: BTreeMap<String, ReportCounts>,
    /// Alerts with remediation (see [`crate::alert`]).
    pub alerts: Vec<Alert>,
    /// The `testing` → `enforce` readiness verdict of every policy domain
    /// with counted reports, sorted by domain (see the module docs for the
    /// window).
    pub readiness: Vec<Readiness>,
    /// Reports left out by the [`Filter`] (outside the days, or without a
    /// policy of the domains).
    pub left_out: u64,
    /// Grouping (`by_mx_host`, ...) → additions counted under [`OTHER`]
    /// because the grouping already had its maximum of distinct keys.
    /// Empty when nothing was folded.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub folded: BTreeMap<String, u64>,
}

/// Which reports, and which of their policies, an [`Aggregator`] counts:
/// by the UTC day of a report's `start-datetime` (so a report spanning
/// several days counts by its first, as in [`Summary::by_day`]), and by
/// policy domain. The empty filter (the default) keeps everything.
///
/// ```
/// use tlsrpt_core::Report;
/// use tlsrpt_core::summary::Filter;
/// use tlsrpt_core::time::canonical_day;
///
/// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-03-01T00:00:00Z","end-datetime":"2024-03-01T23:59:59Z"},"contact-info":"a@org.example","report-id":"1","policies":[
///   {"policy":{"policy-type":"no-policy-found","policy-domain":"example.com"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0}},
///   {"policy":{"policy-type":"no-policy-found","policy-domain":"example.net"},"summary":{"total-successful-session-count":2,"total-failure-session-count":0}}]}"#;
/// let r = Report::parse_lenient(json)?.value;
/// let day = canonical_day(b"2024-03-01").unwrap();
/// assert!(Filter::new().since(day).until(day).apply(&r).is_some());
/// assert!(Filter::new().since(day + 1).apply(&r).is_none());
/// let only = Filter::new().policy_domain("Example.NET.");
/// assert_eq!(only.apply(&r).unwrap().successful_sessions(), 2);
/// assert!(Filter::new().policy_domain("example.org").apply(&r).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filter {
    /// The first UTC day counted (day number since 1970-01-01, as
    /// [`crate::time::Timestamp::day`]).
    pub since: Option<i64>,
    /// The last UTC day counted.
    pub until: Option<i64>,
    /// The policy domains counted (lower case, no trailing dot); empty for
    /// all.
    pub policy_domains: Vec<String>,
}

impl Filter {
    /// The empty filter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Count reports that start on `day` or later.
    #[must_use]
    pub fn since(mut self, day: i64) -> Self {
        self.since = Some(day);
        self
    }

    /// Count reports that start on `day` or earlier.
    #[must_use]
    pub fn until(mut self, day: i64) -> Self {
        self.until = Some(day);
        self
    }

    /// Count the policies of `domain` too (ASCII case-insensitive, one
    /// trailing dot ignored); once any is given, only the policies of the
    /// domains given.
    #[must_use]
    pub fn policy_domain(mut self, domain: &str) -> Self {
        let d = normalize_name(domain);
        if !self.policy_domains.contains(&d) {
            self.policy_domains.push(d);
        }
        self
    }

    /// Whether the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        self.since.is_none() && self.until.is_none() && self.policy_domains.is_empty()
    }

    /// The report as counted: borrowed when kept whole, a copy without the
    /// other domains' policies, or `None` when left out.
    pub fn apply<'r, 'a>(&self, report: &'r Report<'a>) -> Option<Cow<'r, Report<'a>>> {
        let day = report.date_range.start.day();
        if self.since.is_some_and(|d| day < d) || self.until.is_some_and(|d| day > d) {
            return None;
        }
        if self.policy_domains.is_empty() {
            return Some(Cow::Borrowed(report));
        }
        let wanted = |p: &crate::report::PolicyResult<'_>| {
            p.policy
                .policy_domain
                .as_deref()
                .is_some_and(|d| self.policy_domains.contains(&normalize_name(d)))
        };
        let kept = report.policies.iter().filter(|p| wanted(p)).count();
        if kept == 0 {
            None
        } else if kept == report.policies.len() {
            Some(Cow::Borrowed(report))
        } else {
            let mut r = report.clone();
            r.policies.retain(wanted);
            Some(Cow::Owned(r))
        }
    }
}

/// The version of [`SummaryPart`]'s serialized form
/// ([`SummaryPart::to_json`]); a stored part of another version must be
/// rebuilt from its reports.
pub const PART_VERSION: u32 = 1;

/// What a [`Summary`] adds up over the policies of counted reports: every
/// figure except those that count reports themselves (which do not add up
/// across parts holding different policies of one report: see
/// [`ReportTotals`]).
///
/// A part serializes ([`SummaryPart::to_json`], [`SummaryPart::from_json`])
/// and merges ([`SummaryPart::merge`]), so a store can keep one part per
/// policy domain and UTC day, updated as reports arrive, and build the
/// summary of any days and domains by merging a few parts instead of
/// reading every report again. Merging gives exactly what adding the
/// reports to one part would have given as long as no grouping reached
/// its bound ([`SummaryPart::max_groups`]); past it, each part's key that
/// no longer fits is counted under [`OTHER`] and in [`Summary::folded`].
/// [`Aggregator`] keeps one part for its counted reports.
///
/// ```
/// use tlsrpt_core::Report;
/// use tlsrpt_core::summary::{Aggregator, ReportTotals, SummaryPart};
///
/// let json = |id: &str, day: &str| format!(r#"{{"organization-name":"Org","date-range":{{"start-datetime":"{day}T00:00:00Z","end-datetime":"{day}T23:59:59Z"}},"contact-info":"a@org.example","report-id":"{id}","policies":[{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["mx.example.com"]}},"summary":{{"total-successful-session-count":5,"total-failure-session-count":1}},"failure-details":[{{"result-type":"certificate-expired","receiving-mx-hostname":"mx.example.com","failed-session-count":1}}]}}]}}"#);
/// let (a, b) = (json("1", "2024-03-01"), json("2", "2024-03-02"));
/// let (a, b) = (Report::parse_lenient(a.as_bytes())?.value, Report::parse_lenient(b.as_bytes())?.value);
/// // One part per day, stored as JSON and merged later.
/// let mut day1 = SummaryPart::new();
/// day1.add(&a);
/// let mut day2 = SummaryPart::new();
/// day2.add(&b);
/// let mut merged = SummaryPart::from_json(&day1.to_json())?;
/// merged.merge(&SummaryPart::from_json(&day2.to_json())?);
/// let totals = ReportTotals {
///     reports: 2,
///     by_organization: [("Org".to_owned(), 2)].into(),
///     by_day: [("2024-03-01".to_owned(), 1), ("2024-03-02".to_owned(), 1)].into(),
///     ..ReportTotals::default()
/// };
/// let from_parts = merged.summary(totals, 14, None);
/// // The same as adding both reports to one aggregator.
/// let mut agg = Aggregator::new();
/// agg.add(&a, "a");
/// agg.add(&b, "b");
/// assert_eq!(from_parts, agg.summary());
/// assert_eq!(from_parts.alerts[0].where_.sessions_affected, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SummaryPart {
    /// [`PART_VERSION`].
    v: u32,
    max_groups: usize,
    /// Reports added ([`SummaryPart::reports`]).
    #[serde(default)]
    reports: u64,
    successful_sessions: u64,
    failed_sessions: u64,
    by_result_type: BTreeMap<String, u64>,
    by_policy_domain: BTreeMap<String, SessionCounts>,
    by_mx_host: BTreeMap<String, MxHostStats>,
    /// Sessions only; the reports come from [`ReportTotals`].
    by_organization: BTreeMap<String, SessionCounts>,
    /// Sessions only, as `by_organization`.
    by_day: BTreeMap<String, SessionCounts>,
    folded: BTreeMap<String, u64>,
    alerts: Alerts,
    readiness: ReadinessTracker,
}

/// The figures of a [`Summary`] that count reports: they do not add up
/// over [`SummaryPart`]s (one report with policies of two domains is in
/// two parts), so whoever merges parts counts them separately (a store:
/// from its report index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportTotals {
    /// Unique reports counted ([`Summary::reports`]).
    pub reports: u64,
    /// Receipts of them beyond the first ([`Summary::duplicates`]).
    pub duplicates: u64,
    /// The reports seen more than once ([`Summary::duplicate_reports`]).
    pub duplicate_reports: Vec<DuplicateReport>,
    /// Reporting organisation → unique reports.
    pub by_organization: BTreeMap<String, u64>,
    /// UTC day (`YYYY-MM-DD`) of the report's start → unique reports.
    pub by_day: BTreeMap<String, u64>,
    /// Reports left out by the filter ([`Summary::left_out`]).
    pub left_out: u64,
}

impl Default for SummaryPart {
    fn default() -> Self {
        Self::with_max_groups(MAX_GROUPS)
    }
}

/// The error of [`SummaryPart::from_json`].
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    /// Not a part's JSON.
    #[error("summary part: {0}")]
    Json(#[from] serde_json::Error),
    /// A part of another version ([`PART_VERSION`]).
    #[error("summary part of version {found}, this build reads version {PART_VERSION}")]
    Version {
        /// The version found.
        found: u32,
    },
}

fn add(a: &mut u64, n: u64) {
    *a = a.saturating_add(n);
}

/// The entry of `key` in `map`, or of [`OTHER`] when `map` already has
/// `max` keys and not this one (counted in `folded` under `name`).
fn group<'m, T: Default>(
    map: &'m mut BTreeMap<String, T>,
    key: String,
    max: usize,
    folded: &mut BTreeMap<String, u64>,
    name: &str,
) -> &'m mut T {
    if map.len() >= max && !map.contains_key(&key) {
        add(folded.entry(name.to_owned()).or_default(), 1);
        return map.entry(OTHER.to_owned()).or_default();
    }
    map.entry(key).or_default()
}

impl SessionCounts {
    fn add(&mut self, ok: u64, failed: u64) {
        add(&mut self.successful_sessions, ok);
        add(&mut self.failed_sessions, failed);
    }
}

impl SummaryPart {
    /// An empty part with the default bound ([`MAX_GROUPS`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty part keeping at most `max` distinct keys per grouping (at
    /// least 1; see the module docs).
    pub fn with_max_groups(max: usize) -> Self {
        let max = max.max(1);
        Self {
            v: PART_VERSION,
            max_groups: max,
            reports: 0,
            successful_sessions: 0,
            failed_sessions: 0,
            by_result_type: BTreeMap::new(),
            by_policy_domain: BTreeMap::new(),
            by_mx_host: BTreeMap::new(),
            by_organization: BTreeMap::new(),
            by_day: BTreeMap::new(),
            folded: BTreeMap::new(),
            alerts: Alerts::with_max_keys(max),
            readiness: ReadinessTracker::with_max_keys(max),
        }
    }

    /// The bound on distinct keys per grouping.
    pub fn max_groups(&self) -> usize {
        self.max_groups
    }

    /// Whether no report was added.
    pub fn is_empty(&self) -> bool {
        self.reports == 0
    }

    /// How many reports were added ([`SummaryPart::add`], merged parts
    /// summed): what a store compares with its report index to find a
    /// part that missed reports (stored by a program that did not keep
    /// parts).
    pub fn reports(&self) -> u64 {
        self.reports
    }

    /// Add the policies of a report counted for the first time (the
    /// caller filters and detects duplicates, as [`Aggregator::add`]).
    pub fn add(&mut self, report: &Report<'_>) {
        let max = self.max_groups;
        add(&mut self.reports, 1);
        let ok = report.successful_sessions();
        let failed = report.failed_sessions();
        add(&mut self.successful_sessions, ok);
        add(&mut self.failed_sessions, failed);
        group(
            &mut self.by_organization,
            report.organization_name.to_string(),
            max,
            &mut self.folded,
            "by_organization",
        )
        .add(ok, failed);
        group(
            &mut self.by_day,
            report.date_range.start.date_string(),
            max,
            &mut self.folded,
            "by_day",
        )
        .add(ok, failed);
        for p in &report.policies {
            let domain = p
                .policy
                .policy_domain
                .as_deref()
                .map_or_else(|| UNKNOWN.to_owned(), normalize_name);
            group(
                &mut self.by_policy_domain,
                domain,
                max,
                &mut self.folded,
                "by_policy_domain",
            )
            .add(
                p.summary.total_successful_session_count,
                p.summary.total_failure_session_count,
            );
            for f in &p.failure_details {
                let mx = f
                    .receiving_mx_hostname
                    .as_deref()
                    .map_or_else(|| UNKNOWN.to_owned(), normalize_name);
                self.add_failure(f.result_type.as_str(), &mx, f.failed_session_count);
            }
        }
        self.alerts.add(report);
        self.readiness.add(report);
    }

    /// `n` failed sessions of result type `rt` at MX host `mx`.
    fn add_failure(&mut self, rt: &str, mx: &str, n: u64) {
        let max = self.max_groups;
        let folded = &mut self.folded;
        add(
            group(
                &mut self.by_result_type,
                rt.to_owned(),
                max,
                folded,
                "by_result_type",
            ),
            n,
        );
        let m = group(
            &mut self.by_mx_host,
            mx.to_owned(),
            max,
            folded,
            "by_mx_host",
        );
        add(&mut m.failed_sessions, n);
        add(
            group(
                &mut m.by_result_type,
                rt.to_owned(),
                max.min(MAX_RESULT_TYPES_PER_HOST),
                folded,
                "by_mx_host.by_result_type",
            ),
            n,
        );
    }

    /// Note a report seen again: only the readiness verdicts mention it.
    pub fn add_duplicate(&mut self, report: &Report<'_>) {
        self.readiness.add_duplicate(report);
    }

    /// Add what `other` holds (see the type's docs).
    pub fn merge(&mut self, other: &Self) {
        let max = self.max_groups;
        add(&mut self.reports, other.reports);
        add(&mut self.successful_sessions, other.successful_sessions);
        add(&mut self.failed_sessions, other.failed_sessions);
        for (name, n) in &other.folded {
            add(self.folded.entry(name.clone()).or_default(), *n);
        }
        let folded = &mut self.folded;
        for (into, from, name) in [
            (
                &mut self.by_policy_domain,
                &other.by_policy_domain,
                "by_policy_domain",
            ),
            (
                &mut self.by_organization,
                &other.by_organization,
                "by_organization",
            ),
            (&mut self.by_day, &other.by_day, "by_day"),
        ] {
            for (k, c) in from {
                group(into, k.clone(), max, folded, name)
                    .add(c.successful_sessions, c.failed_sessions);
            }
        }
        for (rt, n) in &other.by_result_type {
            add(
                group(
                    &mut self.by_result_type,
                    rt.clone(),
                    max,
                    folded,
                    "by_result_type",
                ),
                *n,
            );
        }
        for (mx, stats) in &other.by_mx_host {
            let m = group(&mut self.by_mx_host, mx.clone(), max, folded, "by_mx_host");
            add(&mut m.failed_sessions, stats.failed_sessions);
            for (rt, n) in &stats.by_result_type {
                add(
                    group(
                        &mut m.by_result_type,
                        rt.clone(),
                        max.min(MAX_RESULT_TYPES_PER_HOST),
                        folded,
                        "by_mx_host.by_result_type",
                    ),
                    *n,
                );
            }
        }
        self.alerts.merge(&other.alerts);
        self.readiness.merge(&other.readiness);
    }

    /// The part as JSON (the form [`SummaryPart::from_json`] reads).
    pub fn to_json(&self) -> String {
        // Maps with string keys, lists and numbers: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A part written by [`SummaryPart::to_json`].
    ///
    /// # Errors
    ///
    /// [`PartError`] when `json` is not a part of [`PART_VERSION`].
    pub fn from_json(json: &str) -> Result<Self, PartError> {
        #[derive(serde::Deserialize)]
        struct Version {
            v: u32,
        }
        let Version { v } = serde_json::from_str(json)?;
        if v != PART_VERSION {
            return Err(PartError::Version { found: v });
        }
        Ok(serde_json::from_str(json)?)
    }

    /// The summary of this part's reports, with the report counts of
    /// `totals`, and readiness verdicts over `readiness_days` UTC days
    /// ending with `readiness_end` (or each domain's last day, as
    /// [`Aggregator::readiness_window`]).
    pub fn summary(
        &self,
        totals: ReportTotals,
        readiness_days: u32,
        readiness_end: Option<i64>,
    ) -> Summary {
        let max = self.max_groups;
        let mut folded = self.folded.clone();
        let by = |sessions: &BTreeMap<String, SessionCounts>,
                  reports: BTreeMap<String, u64>,
                  name: &str| {
            let mut out: BTreeMap<String, ReportCounts> = sessions
                .iter()
                .map(|(k, c)| {
                    let counts = ReportCounts {
                        reports: 0,
                        successful_sessions: c.successful_sessions,
                        failed_sessions: c.failed_sessions,
                    };
                    (k.clone(), counts)
                })
                .collect();
            for (k, n) in reports {
                // A key the part folded was counted in `folded` there.
                add(
                    &mut group(&mut out, k, max, &mut BTreeMap::new(), name).reports,
                    n,
                );
            }
            out
        };
        let by_organization = by(
            &self.by_organization,
            totals.by_organization,
            "by_organization",
        );
        let by_day = by(&self.by_day, totals.by_day, "by_day");
        if self.alerts.folded() > 0 {
            folded.insert("alerts".to_owned(), self.alerts.folded());
        }
        if self.readiness.folded() > 0 {
            folded.insert("readiness".to_owned(), self.readiness.folded());
        }
        Summary {
            reports: totals.reports,
            duplicates: totals.duplicates,
            duplicate_reports: totals.duplicate_reports,
            successful_sessions: self.successful_sessions,
            failed_sessions: self.failed_sessions,
            by_result_type: self.by_result_type.clone(),
            by_policy_domain: self.by_policy_domain.clone(),
            by_mx_host: self.by_mx_host.clone(),
            by_organization,
            by_day,
            alerts: self.alerts.findings(),
            readiness: match readiness_end {
                Some(end) => self.readiness.verdicts(readiness_days, end),
                None => self.readiness.latest_verdicts(readiness_days),
            },
            left_out: totals.left_out,
            folded,
        }
    }
}

/// Builds a [`Summary`] from reports added one by one.
#[derive(Debug, Clone)]
pub struct Aggregator {
    /// (organization-name, report-id) → sources.
    seen: BTreeMap<(String, String), Vec<String>>,
    /// The report counts (`duplicate_reports` is made at the end).
    totals: ReportTotals,
    /// The policies of the counted reports.
    part: SummaryPart,
    readiness_days: u32,
    readiness_end: Option<i64>,
    filter: Filter,
}

impl Default for Aggregator {
    fn default() -> Self {
        Self::with_max_groups(MAX_GROUPS)
    }
}

impl Aggregator {
    /// An empty aggregator.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty aggregator keeping at most `max` distinct keys per
    /// grouping (at least 1; see the module docs).
    pub fn with_max_groups(max: usize) -> Self {
        Self {
            seen: BTreeMap::new(),
            totals: ReportTotals::default(),
            part: SummaryPart::with_max_groups(max),
            readiness_days: READINESS_DAYS,
            readiness_end: None,
            filter: Filter::default(),
        }
    }

    /// Count only what `filter` keeps (see [`Filter`]).
    #[must_use]
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Judge readiness over `days` UTC days ending with `end_day` (a day
    /// number, as [`crate::time::Timestamp::day`]), or, when `None`, for
    /// each policy domain with the last day its counted reports cover. The
    /// default is [`READINESS_DAYS`] days and `None`.
    #[must_use]
    pub fn readiness_window(mut self, days: u32, end_day: Option<i64>) -> Self {
        self.readiness_days = days;
        self.readiness_end = end_day;
        self
    }

    /// The bound on distinct keys per grouping.
    pub fn max_groups(&self) -> usize {
        self.part.max_groups
    }

    /// Add a report that came from `source` (a file name, a message id:
    /// anything that helps find it again). Returns `false`, and counts
    /// nothing else, when the [`Filter`] leaves it out (counted in
    /// [`Summary::left_out`]) or when the report was already added (same
    /// `organization-name` and `report-id`).
    pub fn add(&mut self, report: &Report<'_>, source: &str) -> bool {
        let Some(report) = self.filter.apply(report) else {
            add(&mut self.totals.left_out, 1);
            return false;
        };
        let report = &*report;
        let key = (
            report.organization_name.to_string(),
            report.report_id.to_string(),
        );
        if let Some(sources) = self.seen.get_mut(&key) {
            sources.push(source.to_owned());
            add(&mut self.totals.duplicates, 1);
            self.part.add_duplicate(report);
            return false;
        }
        self.seen.insert(key, vec![source.to_owned()]);
        add(&mut self.totals.reports, 1);
        // The part folds the same keys (it sees them in the same order)
        // and counts them in `folded`.
        let (t, max, scratch) = (&mut self.totals, self.part.max_groups, &mut BTreeMap::new());
        let org = report.organization_name.to_string();
        add(group(&mut t.by_organization, org, max, scratch, ""), 1);
        let day = report.date_range.start.date_string();
        add(group(&mut t.by_day, day, max, scratch, ""), 1);
        self.part.add(report);
        true
    }

    /// The summary so far.
    pub fn summary(&self) -> Summary {
        let mut totals = self.totals.clone();
        totals.duplicate_reports = duplicate_reports(&self.seen);
        self.part
            .summary(totals, self.readiness_days, self.readiness_end)
    }

    /// The summary, consuming the aggregator.
    pub fn into_summary(self) -> Summary {
        self.summary()
    }
}

fn duplicate_reports(seen: &BTreeMap<(String, String), Vec<String>>) -> Vec<DuplicateReport> {
    seen.iter()
        .filter(|(_, sources)| sources.len() > 1)
        .map(|((org, id), sources)| DuplicateReport {
            organization_name: org.clone(),
            report_id: id.clone(),
            sources: sources.clone(),
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// How [`Summary::render_text_with`] renders a summary.
///
/// ```
/// let o = tlsrpt_core::summary::TextOptions::new().top(5);
/// assert_eq!(o.top, Some(5));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextOptions {
    /// At most this many rows per table (and alerts with their steps):
    /// the first ones in each table's order, the most recent days of the
    /// table by day; a line says how many more there are. `None` for all.
    pub top: Option<usize>,
}

impl TextOptions {
    /// Every row.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `n` rows per table.
    #[must_use]
    pub fn top(mut self, n: usize) -> Self {
        self.top = Some(n);
        self
    }
}

/// The first (or, `from_end`, the last) `top` of `rows`, and how many were
/// left out.
fn limit<T>(mut rows: Vec<T>, top: Option<usize>, from_end: bool) -> (Vec<T>, usize) {
    let n = top.unwrap_or(usize::MAX);
    if rows.len() <= n {
        return (rows, 0);
    }
    let hidden = rows.len() - n;
    if from_end {
        rows.drain(..hidden);
    } else {
        rows.truncate(n);
    }
    (rows, hidden)
}

/// Append an aligned table of `rows` (already sorted and limited) and a
/// line counting the `hidden` rows.
fn table(
    out: &mut String,
    title: &str,
    head: &[(&str, Align)],
    (rows, hidden): (Vec<Vec<String>>, usize),
) {
    let rows = rows.as_slice();
    let _ = writeln!(out, "\n{title}");
    let mut widths: Vec<usize> = head.iter().map(|(h, _)| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, (c, ((_, align), w))) in cells.zip(head.iter().zip(&widths)).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let pad = w.saturating_sub(c.chars().count());
            match align {
                Align::Left => {
                    l.push_str(c);
                    l.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    l.extend(std::iter::repeat_n(' ', pad));
                    l.push_str(c);
                }
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(out, &mut head.iter().map(|(h, _)| *h));
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    for r in rows {
        line(out, &mut r.iter().map(String::as_str));
    }
    if hidden > 0 {
        let _ = writeln!(out, "({hidden} more not shown)");
    }
}

/// Sort by failures (descending), then name.
fn by_failures<T>(map: &BTreeMap<String, T>, failed: impl Fn(&T) -> u64) -> Vec<(&String, &T)> {
    let mut v: Vec<_> = map.iter().collect();
    v.sort_by(|a, b| failed(b.1).cmp(&failed(a.1)).then(a.0.cmp(b.0)));
    v
}

impl Summary {
    /// Human-readable text: totals, then aligned tables per policy domain,
    /// MX host, result type and organisation (sorted by failed sessions,
    /// descending, then name), per day (chronological), duplicates and
    /// alerts, what to do about each alert (its remediation steps), and
    /// the enforce readiness of each policy domain. Control characters
    /// from reports are shown escaped. Every row; see
    /// [`Summary::render_text_with`].
    pub fn render_text(&self) -> String {
        self.render_text_with(&TextOptions::default())
    }

    /// [`Summary::render_text`] with `options` (at most
    /// [`TextOptions::top`] rows per table).
    pub fn render_text_with(&self, options: &TextOptions) -> String {
        let top = options.top;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "TLS-RPT summary: {} report(s), {} duplicate(s) ignored, {} successful session(s), {} failed session(s)",
            self.reports, self.duplicates, self.successful_sessions, self.failed_sessions
        );
        if self.left_out > 0 {
            let _ = writeln!(
                out,
                "{} report(s) left out by the filter (days or policy domains)",
                self.left_out
            );
        }
        for (name, n) in &self.folded {
            let _ = writeln!(
                out,
                "warning: {name} reached its limit of distinct keys; {n} addition(s) counted under {OTHER}"
            );
        }
        let rows: Vec<Vec<String>> = by_failures(&self.by_policy_domain, |c| c.failed_sessions)
            .into_iter()
            .map(|(k, c)| {
                vec![
                    escape_controls(k).into_owned(),
                    c.successful_sessions.to_string(),
                    c.failed_sessions.to_string(),
                ]
            })
            .collect();
        table(
            &mut out,
            "By policy domain",
            &[
                ("Policy domain", Align::Left),
                ("Successful", Align::Right),
                ("Failed", Align::Right),
            ],
            limit(rows, top, false),
        );
        let rows: Vec<Vec<String>> = by_failures(&self.by_mx_host, |m| m.failed_sessions)
            .into_iter()
            .map(|(k, m)| {
                let types: Vec<String> = by_failures(&m.by_result_type, |n| *n)
                    .into_iter()
                    .map(|(t, n)| format!("{} {n}", escape_controls(t)))
                    .collect();
                vec![
                    escape_controls(k).into_owned(),
                    m.failed_sessions.to_string(),
                    types.join(", "),
                ]
            })
            .collect();
        table(
            &mut out,
            "Failures by receiving MX host",
            &[
                ("MX host", Align::Left),
                ("Failed", Align::Right),
                ("Result types", Align::Left),
            ],
            limit(rows, top, false),
        );
        let rows: Vec<Vec<String>> = by_failures(&self.by_result_type, |n| *n)
            .into_iter()
            .map(|(k, n)| vec![escape_controls(k).into_owned(), n.to_string()])
            .collect();
        table(
            &mut out,
            "Failures by result type",
            &[("Result type", Align::Left), ("Failed", Align::Right)],
            limit(rows, top, false),
        );
        let counts = |c: &ReportCounts| {
            [
                c.reports.to_string(),
                c.successful_sessions.to_string(),
                c.failed_sessions.to_string(),
            ]
        };
        let head = |first| {
            [
                (first, Align::Left),
                ("Reports", Align::Right),
                ("Successful", Align::Right),
                ("Failed", Align::Right),
            ]
        };
        let rows: Vec<Vec<String>> = by_failures(&self.by_organization, |c| c.failed_sessions)
            .into_iter()
            .map(|(k, c)| {
                let mut r = vec![escape_controls(k).into_owned()];
                r.extend(counts(c));
                r
            })
            .collect();
        table(
            &mut out,
            "By reporting organisation",
            &head("Organisation"),
            limit(rows, top, false),
        );
        let rows: Vec<Vec<String>> = self
            .by_day
            .iter()
            .map(|(k, c)| {
                let mut r = vec![k.clone()];
                r.extend(counts(c));
                r
            })
            .collect();
        table(
            &mut out,
            "By day (UTC)",
            &head("Day"),
            limit(rows, top, true),
        );
        if !self.duplicate_reports.is_empty() {
            let rows: Vec<Vec<String>> = self
                .duplicate_reports
                .iter()
                .map(|d| {
                    vec![
                        escape_controls(&d.organization_name).into_owned(),
                        escape_controls(&d.report_id).into_owned(),
                        escape_controls(&d.sources.join(", ")).into_owned(),
                    ]
                })
                .collect();
            table(
                &mut out,
                "Duplicate reports (counted once)",
                &[
                    ("Organisation", Align::Left),
                    ("Report id", Align::Left),
                    ("Sources", Align::Left),
                ],
                limit(rows, top, false),
            );
        }
        let (alerts, hidden_alerts) = limit(self.alerts.iter().collect(), top, false);
        let rows: Vec<Vec<String>> = alerts
            .iter()
            .map(|f| {
                vec![
                    f.severity.to_string(),
                    f.code.as_str().to_owned(),
                    escape_controls(f.where_.policy_domain.as_deref().unwrap_or(UNKNOWN))
                        .into_owned(),
                    escape_controls(f.where_.mx_host.as_deref().unwrap_or("-")).into_owned(),
                    f.where_.sessions_affected.to_string(),
                    escape_controls(&f.title).into_owned(),
                ]
            })
            .collect();
        table(
            &mut out,
            "Alerts",
            &[
                ("Severity", Align::Left),
                ("Code", Align::Left),
                ("Policy domain", Align::Left),
                ("MX host", Align::Left),
                ("Sessions", Align::Right),
                ("Title", Align::Left),
            ],
            (rows, hidden_alerts),
        );
        if !alerts.is_empty() {
            out.push_str("\nWhat to do\n");
            for f in &alerts {
                let _ = writeln!(out, "[{}] {}", f.severity, escape_controls(&f.title));
                for step in &f.remediation {
                    let _ = writeln!(out, "  - {}", escape_controls(step));
                }
            }
            if hidden_alerts > 0 {
                let _ = writeln!(out, "({hidden_alerts} more not shown)");
            }
        }
        self.render_readiness(&mut out, top);
        out
    }

    /// The readiness table and the reasons of each verdict.
    fn render_readiness(&self, out: &mut String, top: Option<usize>) {
        let (verdicts, hidden) = limit(self.readiness.iter().collect(), top, false);
        let rows: Vec<Vec<String>> = verdicts
            .iter()
            .map(|r| {
                vec![
                    escape_controls(&r.policy_domain).into_owned(),
                    if r.ready { "ready" } else { "not ready" }.to_owned(),
                    format!("{} to {}", r.window_start, r.window_end),
                    format!("{}/{}", r.days_covered, r.days_required),
                    r.failures_attributable.to_string(),
                ]
            })
            .collect();
        table(
            out,
            "Enforce readiness (testing -> enforce)",
            &[
                ("Policy domain", Align::Left),
                ("Verdict", Align::Left),
                ("Window (UTC)", Align::Left),
                ("Days covered", Align::Right),
                ("Blocking failures", Align::Right),
            ],
            (rows, hidden),
        );
        for r in &verdicts {
            let domain = escape_controls(&r.policy_domain);
            for b in &r.blocking {
                let _ = writeln!(out, "  {domain}: {}", escape_controls(b));
            }
            for n in &r.notes {
                let _ = writeln!(out, "  {domain} (note): {}", escape_controls(n));
            }
        }
    }
}
