//! The inbox tables of the site store: every report stored once, every
//! receipt of it kept, and the index rows summaries and dashboards read.
//!
//! Both backends ([`crate::sqlite::SqliteStore`],
//! [`crate::pg::PgSiteStore`]) have the same tables:
//!
//! | table | what | key / indexes |
//! |---|---|---|
//! | `inbox_reports` | one row per report: the raw input gzip-compressed, the normalized report JSON (strict RFC form), the DKIM result and signing domain, the first source, `received_at`, the UTC day of `start-datetime` | `UNIQUE (organization, report_id)`; `(start_day)` |
//! | `inbox_receipts` | one row per input that carried a report (the first and every duplicate), with its source and DKIM result | `(report_ref)` |
//! | `inbox_policies` | per report and policy: policy domain, UTC day, policy type, successful and failed sessions | `(domain, day)` |
//! | `inbox_failures` | per failure detail: policy domain, UTC day, result type, receiving MX host, sending MTA IP, reporting organization, failed sessions | `(domain, day)` |
//! | `inbox_failure_sums` | per policy domain, UTC day, [`FailureKind`] and key (`(unknown)` for a missing MX host or IP): failed sessions and failure details summed (what the dashboards rank, without reading the detail rows) | `PRIMARY KEY (domain, kind, day, key)` |
//! | `inbox_report_list` | per report and policy domain: organization, report id, `start-datetime`, `end-datetime`, the domain's successful and failed sessions, `received_at` (the report lists, without parsing the JSON) | `(domain, day, report_ref)` |
//! | `inbox_state` | `last_prune` (Unix seconds) | key |
//!
//! Every write is one transaction. A report whose (organization,
//! report-id) is already stored is a duplicate: only its receipt is
//! added, whichever node or input it came from (the `UNIQUE` constraint
//! decides, so two nodes storing the same report at once store it once).
//! Reports do not bump the store's generation (no serving node needs to
//! know).
//!
//! The two pre-aggregated tables are written in the same transaction as
//! the report (a duplicate adds nothing to them) and lowered by
//! [`InboxStore::prune`]. A store created before they existed gets them
//! filled from the stored rows when it is opened (once: while they are
//! empty and the rows they sum are not).

use std::io::Write as _;

use tlsrpt_core::Report;

use crate::store::StoreError;

/// The group key of a policy without `policy-domain` (as in the summaries).
pub const UNKNOWN_DOMAIN: &str = tlsrpt_core::summary::UNKNOWN;

/// A DKIM verdict on a mail input (RFC 8460 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DkimStatus {
    /// A signature verified.
    Pass,
    /// Signatures, none of which verified.
    Fail,
    /// No signature, or not a mail input (JSON, gzip, HTTPS).
    None,
}

impl DkimStatus {
    /// `pass`, `fail` or `none`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::None => "none",
        }
    }

    /// The status written by [`DkimStatus::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pass" => Some(Self::Pass),
            "fail" => Some(Self::Fail),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

impl std::fmt::Display for DkimStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The DKIM result kept with a report and each receipt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DkimVerdict {
    /// pass, fail or none.
    pub status: DkimStatus,
    /// The `d=` domain of the passing signature (or, on `fail`, of the
    /// first signature); `None` without signatures.
    pub domain: Option<String>,
}

impl DkimVerdict {
    /// No signature (or not a mail input).
    #[must_use]
    pub fn none() -> Self {
        Self {
            status: DkimStatus::None,
            domain: None,
        }
    }
}

/// One `inbox_policies` row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyRow {
    /// The policy domain (lower case, no trailing dot) or [`UNKNOWN_DOMAIN`].
    pub domain: String,
    /// The UTC day number of the report's `start-datetime`.
    pub day: i64,
    /// `policy-type` (`sts`, `tlsa`, `no-policy-found`, or as written).
    pub policy_type: String,
    /// `total-successful-session-count`.
    pub successful: u64,
    /// `total-failure-session-count`.
    pub failed: u64,
}

/// One `inbox_failures` row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailureRow {
    /// The policy domain (lower case, no trailing dot) or [`UNKNOWN_DOMAIN`].
    pub domain: String,
    /// The UTC day number of the report's `start-datetime`.
    pub day: i64,
    /// `result-type`.
    pub result_type: String,
    /// `receiving-mx-hostname` (lower case, no trailing dot).
    pub mx_host: Option<String>,
    /// `sending-mta-ip` as written back (RFC 5952 form when valid).
    pub sending_ip: Option<String>,
    /// `organization-name` of the report.
    pub organization: String,
    /// `failed-session-count`.
    pub failed: u64,
}

/// A report to store (see [`InboxStore::put_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    /// `organization-name`.
    pub organization: String,
    /// `report-id`.
    pub report_id: String,
    /// The UTC day number of `start-datetime`.
    pub start_day: i64,
    /// The input as received, gzip-compressed.
    pub raw_gz: Vec<u8>,
    /// The report in the strict RFC form ([`Report::to_json`]).
    pub json: String,
    /// The DKIM result of this input.
    pub dkim: DkimVerdict,
    /// Where this input came from (a path, `<stdin>`, `imap:...`, `https:...`).
    pub source: String,
    /// When it was received (Unix seconds).
    pub received_at: i64,
    /// The per-policy index rows.
    pub policies: Vec<PolicyRow>,
    /// The per-failure-detail index rows.
    pub failures: Vec<FailureRow>,
    /// `start-datetime` (RFC 3339, as listed).
    pub start: String,
    /// `end-datetime` (RFC 3339, as listed).
    pub end: String,
    /// What the report adds to the summary parts of its (policy domain,
    /// day) pairs ([`super::summary::parts_of`]).
    pub parts: Vec<PartDelta>,
}

/// What one report (or a batch) adds to the stored summary part of one
/// (policy domain, UTC day): `inbox_summary_parts`, which
/// [`super::summary::summarize`] merges instead of re-reading reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartDelta {
    /// The policy domain (lower case, no trailing dot) or [`UNKNOWN_DOMAIN`].
    pub domain: String,
    /// The UTC day number of the reports' `start-datetime`.
    pub day: i64,
    /// The policies of that domain in the reports, summed.
    pub part: tlsrpt_core::summary::SummaryPart,
}

/// The parts of `reports` merged per (domain, day), in a fixed order (so
/// concurrent writers lock the rows in the same order).
pub(crate) fn batch_parts<'a>(reports: impl Iterator<Item = &'a NewReport>) -> Vec<PartDelta> {
    let mut by: std::collections::BTreeMap<(&'a str, i64), PartDelta> =
        std::collections::BTreeMap::new();
    for p in reports.flat_map(|r| &r.parts) {
        match by.entry((&p.domain, p.day)) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(p.clone());
            }
            std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().part.merge(&p.part),
        }
    }
    by.into_values().collect()
}

/// A stored part merged with `delta`, as JSON; `None` when the stored
/// part does not read (damaged, or written by a build with another
/// [`tlsrpt_core::summary::PART_VERSION`]): the caller rebuilds it from
/// the stored reports instead.
pub(crate) fn merged_part(stored: Option<&str>, delta: &PartDelta) -> Option<String> {
    match stored.map(tlsrpt_core::summary::SummaryPart::from_json) {
        None => Some(delta.part.to_json()),
        Some(Ok(mut part)) => {
            part.merge(&delta.part);
            Some(part.to_json())
        }
        Some(Err(e)) => {
            tracing::warn!(
                domain = %delta.domain,
                day = delta.day,
                error = %e,
                "stored summary part unreadable; rebuilt from the stored reports"
            );
            None
        }
    }
}

/// What [`InboxStore::summary_inputs`] reads for a summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SummaryInputs {
    /// The stored summary parts of the selected (domain, day) pairs:
    /// (domain, day, JSON).
    pub parts: Vec<(String, i64, String)>,
    /// The reports of each selected (domain, day) pair in the report
    /// index: what each part must hold.
    pub report_counts: Vec<(String, i64, u64)>,
    /// The selected reports counted by (organization, UTC day number).
    pub report_groups: Vec<(String, i64, u64)>,
    /// The selected reports received more than once.
    pub duplicates: Vec<DuplicateRow>,
    /// Receipts in the whole store (for [`tlsrpt_core::summary::Summary::left_out`]).
    pub receipts: u64,
}

/// A report received more than once ([`SummaryInputs::duplicates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateRow {
    /// `organization-name`.
    pub organization: String,
    /// `report-id`.
    pub report_id: String,
    /// The stored report JSON.
    pub json: String,
    /// The sources of its receipts, in the order received.
    pub sources: Vec<String>,
}

/// The name grouping of the summaries: lower case, no trailing dot.
fn fold(s: &str) -> String {
    mta_sts_core::domain::fold(s).into_owned()
}

/// `raw` gzip-compressed (fast level: the store keeps, it does not archive).
///
/// # Errors
///
/// Never in practice (writing to memory); an I/O error of the encoder is
/// passed on.
pub fn gzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(raw)?;
    enc.finish()
}

impl NewReport {
    /// The row and index rows of `report`, read from the input `raw`.
    ///
    /// # Errors
    ///
    /// The compression of `raw` failed (it does not in practice).
    pub fn new(
        report: &Report<'_>,
        raw: &[u8],
        dkim: DkimVerdict,
        source: String,
        received_at: i64,
    ) -> std::io::Result<Self> {
        let day = report.date_range.start.day();
        let organization = report.organization_name.to_string();
        let mut policies = Vec::with_capacity(report.policies.len());
        let mut failures = Vec::new();
        for p in &report.policies {
            let domain = p
                .policy
                .policy_domain
                .as_deref()
                .map_or_else(|| UNKNOWN_DOMAIN.to_owned(), fold);
            policies.push(PolicyRow {
                domain: domain.clone(),
                day,
                policy_type: p.policy.policy_type.as_str().to_owned(),
                successful: p.summary.total_successful_session_count,
                failed: p.summary.total_failure_session_count,
            });
            for f in &p.failure_details {
                failures.push(FailureRow {
                    domain: domain.clone(),
                    day,
                    result_type: f.result_type.as_str().to_owned(),
                    mx_host: f.receiving_mx_hostname.as_deref().map(fold),
                    sending_ip: f.sending_mta_ip.as_ref().map(ToString::to_string),
                    organization: organization.clone(),
                    failed: f.failed_session_count,
                });
            }
        }
        Ok(Self {
            organization,
            report_id: report.report_id.to_string(),
            start_day: day,
            raw_gz: gzip(raw)?,
            json: report.to_json(false),
            dkim,
            source,
            received_at,
            policies,
            failures,
            start: report.date_range.start.to_string(),
            end: report.date_range.end.to_string(),
            parts: super::summary::parts_of(report),
        })
    }

    /// The `inbox_failure_sums` additions of this report.
    #[must_use]
    pub fn failure_sums(&self) -> Vec<FailureSumDelta> {
        batch_failure_sums(std::iter::once(self))
    }

    /// The `inbox_report_list` rows of this report: one per policy domain
    /// (its policies' sessions summed), by domain.
    #[must_use]
    pub fn list_rows(&self) -> Vec<ListRow> {
        list_rows_of(
            self.policies
                .iter()
                .map(|p| (p.domain.as_str(), p.day, p.successful, p.failed)),
        )
    }
}

/// The `inbox_failure_sums` additions of `reports` together, in one
/// fixed order (a transaction storing several reports takes the row
/// locks in that order, so concurrent writers do not deadlock on them).
pub fn batch_failure_sums<'a>(
    reports: impl Iterator<Item = &'a NewReport>,
) -> Vec<FailureSumDelta> {
    sum_deltas(reports.flat_map(|r| {
        r.failures.iter().map(|f| {
            (
                FailureKeys {
                    domain: &f.domain,
                    day: f.day,
                    result_type: &f.result_type,
                    mx_host: f.mx_host.as_deref(),
                    sending_ip: f.sending_ip.as_deref(),
                    organization: &f.organization,
                },
                to_i64(f.failed),
                1,
            )
        })
    }))
}

/// What a failure row is summed by in `inbox_failure_sums`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// `result-type`.
    ResultType,
    /// Receiving MX host (`(unknown)` when missing).
    MxHost,
    /// Reporting organization.
    Organization,
    /// Sending MTA IP (`(unknown)` when missing).
    SendingIp,
}

impl FailureKind {
    /// All kinds.
    pub const ALL: [Self; 4] = [
        Self::ResultType,
        Self::MxHost,
        Self::Organization,
        Self::SendingIp,
    ];

    /// The stored name: `result_type`, `mx_host`, `organization`,
    /// `sending_ip`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResultType => "result_type",
            Self::MxHost => "mx_host",
            Self::Organization => "organization",
            Self::SendingIp => "sending_ip",
        }
    }

    /// The kind of a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The columns of one failure row that `inbox_failure_sums` groups by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailureKeys<'a> {
    pub(crate) domain: &'a str,
    pub(crate) day: i64,
    pub(crate) result_type: &'a str,
    pub(crate) mx_host: Option<&'a str>,
    pub(crate) sending_ip: Option<&'a str>,
    pub(crate) organization: &'a str,
}

/// A change of one `inbox_failure_sums` row (negative when pruning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureSumDelta {
    /// Policy domain.
    pub domain: String,
    /// UTC day number.
    pub day: i64,
    /// What `key` is.
    pub kind: FailureKind,
    /// The result type, MX host, organization or IP (`(unknown)` for none).
    pub key: String,
    /// Failed sessions added.
    pub failed: i64,
    /// Failure details added.
    pub details: i64,
}

/// The sum rows of failure rows given as (keys, failed sessions, detail
/// rows), in a fixed order (so concurrent writers lock rows in the same
/// order).
pub(crate) fn sum_deltas<'a>(
    rows: impl Iterator<Item = (FailureKeys<'a>, i64, i64)>,
) -> Vec<FailureSumDelta> {
    let mut sums: std::collections::BTreeMap<(&'a str, FailureKind, i64, &'a str), (i64, i64)> =
        std::collections::BTreeMap::new();
    for (k, failed, details) in rows {
        for (kind, key) in [
            (FailureKind::ResultType, k.result_type),
            (FailureKind::MxHost, k.mx_host.unwrap_or(UNKNOWN_DOMAIN)),
            (FailureKind::Organization, k.organization),
            (
                FailureKind::SendingIp,
                k.sending_ip.unwrap_or(UNKNOWN_DOMAIN),
            ),
        ] {
            let e = sums.entry((k.domain, kind, k.day, key)).or_default();
            e.0 = e.0.saturating_add(failed);
            e.1 = e.1.saturating_add(details);
        }
    }
    sums.into_iter()
        .map(
            |((domain, kind, day, key), (failed, details))| FailureSumDelta {
                domain: domain.to_owned(),
                day,
                kind,
                key: key.to_owned(),
                failed,
                details,
            },
        )
        .collect()
}

/// The failure rows of pruned reports grouped by every column: domain,
/// day, result type, MX host, sending IP, organization, failed sessions,
/// detail rows.
pub(crate) type PrunedGroup = (
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
);

/// The (negative) `inbox_failure_sums` changes of pruned failure rows.
pub(crate) fn prune_deltas(pruned: &[PrunedGroup]) -> Vec<FailureSumDelta> {
    sum_deltas(pruned.iter().map(|p| {
        (
            FailureKeys {
                domain: &p.0,
                day: p.1,
                result_type: &p.2,
                mx_host: p.3.as_deref(),
                sending_ip: p.4.as_deref(),
                organization: &p.5,
            },
            p.6.saturating_neg(),
            p.7.saturating_neg(),
        )
    }))
}

/// One `inbox_report_list` row without the report's columns: a policy
/// domain of a report with its sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    /// Policy domain.
    pub domain: String,
    /// UTC day number of `start-datetime`.
    pub day: i64,
    /// Successful sessions of the domain's policies.
    pub successful: u64,
    /// Failed sessions of the domain's policies.
    pub failed: u64,
}

/// The list rows of (domain, day, successful, failed) policy rows.
pub(crate) fn list_rows_of<'a>(
    policies: impl Iterator<Item = (&'a str, i64, u64, u64)>,
) -> Vec<ListRow> {
    let mut by: std::collections::BTreeMap<&'a str, (i64, u64, u64)> =
        std::collections::BTreeMap::new();
    for (domain, day, ok, failed) in policies {
        let e = by.entry(domain).or_insert((day, 0, 0));
        e.1 = e.1.saturating_add(ok);
        e.2 = e.2.saturating_add(failed);
    }
    by.into_iter()
        .map(|(domain, (day, successful, failed))| ListRow {
            domain: domain.to_owned(),
            day,
            successful,
            failed,
        })
        .collect()
}

/// The index rows of a stored report's JSON (for filling the
/// pre-aggregated tables of a store created before them).
pub(crate) fn rows_of_stored(json: &str) -> Result<(String, String, Vec<ListRow>), StoreError> {
    let report = super::summary::parse_stored(json)?;
    let day = report.date_range.start.day();
    let domains: Vec<(String, u64, u64)> = report
        .policies
        .iter()
        .map(|p| {
            (
                p.policy
                    .policy_domain
                    .as_deref()
                    .map_or_else(|| UNKNOWN_DOMAIN.to_owned(), fold),
                p.summary.total_successful_session_count,
                p.summary.total_failure_session_count,
            )
        })
        .collect();
    let rows = list_rows_of(domains.iter().map(|(d, ok, f)| (d.as_str(), day, *ok, *f)));
    Ok((
        report.date_range.start.to_string(),
        report.date_range.end.to_string(),
        rows,
    ))
}

/// One listed report of a domain ([`InboxStore::report_list`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListedReport {
    /// `organization-name`.
    pub organization: String,
    /// `report-id`.
    pub report_id: String,
    /// `start-datetime` (RFC 3339).
    pub start: String,
    /// `end-datetime` (RFC 3339).
    pub end: String,
    /// Successful sessions of the domain's policies.
    pub successful: u64,
    /// Failed sessions of the domain's policies.
    pub failed: u64,
    /// When the report was first received (Unix seconds).
    pub received_at: i64,
}

/// Failed sessions of one key of a [`FailureKind`], summed over days.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailureSum {
    /// What `key` is.
    pub kind: FailureKind,
    /// The result type, MX host, organization or IP (`(unknown)` for none).
    pub key: String,
    /// Failed sessions, summed.
    pub failed: u64,
}

/// What [`InboxStore::put_report`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored for the first time.
    Stored,
    /// Already stored: only the receipt was added.
    Duplicate,
}

/// One receipt, with the stored report's JSON (for summaries and exports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The source of this input.
    pub source: String,
    /// The stored report's normalized JSON.
    pub json: String,
}

/// A stored report as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    /// `organization-name`.
    pub organization: String,
    /// `report-id`.
    pub report_id: String,
    /// The UTC day number of `start-datetime`.
    pub start_day: i64,
    /// The first input, gzip-compressed.
    pub raw_gz: Vec<u8>,
    /// The normalized report JSON.
    pub json: String,
    /// The DKIM result of the first input.
    pub dkim: DkimVerdict,
    /// The first input's source.
    pub source: String,
    /// When the first input was received.
    pub received_at: i64,
    /// Inputs that carried it (1 + duplicates).
    pub receipts: u64,
}

/// Counts of the inbox tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct InboxStats {
    /// Stored reports.
    pub reports: u64,
    /// Receipts (inputs stored or found duplicate).
    pub receipts: u64,
    /// `inbox_policies` rows.
    pub policy_rows: u64,
    /// `inbox_failures` rows.
    pub failure_rows: u64,
}

/// Which reports a query selects: by the UTC day of `start-datetime`
/// (inclusive) and by policy domain (any policy of one of them; empty
/// for all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// First day (day number), inclusive.
    pub since: Option<i64>,
    /// Last day, inclusive.
    pub until: Option<i64>,
    /// Policy domains (lower case, no trailing dot).
    pub domains: Vec<String>,
}

impl ReportQuery {
    /// The day bounds, open ends as the extreme day numbers.
    #[must_use]
    pub fn days(&self) -> (i64, i64) {
        (
            self.since.unwrap_or(i64::MIN),
            self.until.unwrap_or(i64::MAX),
        )
    }
}

/// Failed sessions of one (day, result type, MX host, sending IP,
/// organization) of a domain, from the index: what dashboards show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailureCount {
    /// The UTC day number.
    pub day: i64,
    /// `result-type`.
    pub result_type: String,
    /// Receiving MX host.
    pub mx_host: Option<String>,
    /// Sending MTA IP.
    pub sending_ip: Option<String>,
    /// Reporting organization.
    pub organization: String,
    /// Failed sessions, summed.
    pub failed: u64,
}

/// Sessions of one (day, policy type) of a domain, from the index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyCount {
    /// The UTC day number.
    pub day: i64,
    /// `policy-type`.
    pub policy_type: String,
    /// Policies counted (one per report and policy).
    pub policies: u64,
    /// Successful sessions, summed.
    pub successful: u64,
    /// Failed sessions, summed.
    pub failed: u64,
}

/// The inbox tables of a site store (both backends; blocking, like
/// [`crate::store::SiteStore`]: the PostgreSQL backend must not be
/// called on a Tokio runtime thread).
pub trait InboxStore: Send + Sync {
    /// Store `report` unless a report with its (organization, report-id)
    /// is stored; add its receipt either way. One transaction (provided:
    /// [`InboxStore::put_reports`] of one).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn put_report(&self, report: &NewReport) -> Result<PutOutcome, StoreError> {
        let mut out = self.put_reports(std::slice::from_ref(report))?;
        out.pop().ok_or_else(|| StoreError::Corrupt {
            what: "inbox write",
            detail: "no outcome".to_owned(),
        })
    }

    /// [`InboxStore::put_report`] for each of `reports`, in one
    /// transaction (one disk sync for the lot: batch imports and
    /// benchmarks); the outcomes in order. All or nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails (nothing is stored).
    fn put_reports(&self, reports: &[NewReport]) -> Result<Vec<PutOutcome>, StoreError>;

    /// Every receipt of the reports `query` selects, in the order they
    /// were received, with the report's JSON, given to `f` one by one
    /// until it returns `false`. One read transaction (a consistent
    /// snapshot); `f` must not call the store (the embedded store's
    /// connection is held meanwhile). The PostgreSQL backend reads the
    /// selected rows into memory before calling `f`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails, or `f`'s error.
    fn for_each_receipt(
        &self,
        query: &ReportQuery,
        f: &mut dyn FnMut(Receipt) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError>;

    /// What [`super::summary::summarize`] needs of the reports `query`
    /// selects, read in one transaction: the summary parts of the
    /// selected (domain, day) pairs, the reports counted per organization
    /// and day, the duplicates with their sources, and the receipts in
    /// the store. Indexed reads: neither the reports nor their failure
    /// rows are read, only duplicates' JSON.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn summary_inputs(&self, query: &ReportQuery) -> Result<SummaryInputs, StoreError>;

    /// Rebuild the summary parts of these (domain, day) pairs from the
    /// stored reports (one transaction): for parts found out of date by
    /// [`super::summary::summarize`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails or holds an unreadable report.
    fn repair_parts(&self, keys: &[(String, i64)]) -> Result<(), StoreError>;

    /// One stored report.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn stored_report(
        &self,
        organization: &str,
        report_id: &str,
    ) -> Result<Option<StoredReport>, StoreError>;

    /// Counts of the inbox tables.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn inbox_stats(&self) -> Result<InboxStats, StoreError>;

    /// Delete the reports (with their receipts and index rows) first
    /// received on a UTC day before `before_day` (a day number); returns
    /// how many reports were deleted. One transaction. (By the day of
    /// receipt, not the report's own dates: an old report received today
    /// is kept, and is not stored again and again when it is re-sent.)
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn prune(&self, before_day: i64) -> Result<u64, StoreError>;

    /// Whether a prune is due: true (and `now` recorded as the last
    /// prune) when the last one is `every` seconds or more before `now`.
    /// Across nodes at most one caller gets true per period.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn claim_prune(&self, now: i64, every: i64) -> Result<bool, StoreError>;

    /// Failed sessions of `domain` by (day, result type, MX host, sending
    /// IP, organization) over the days of `query` (its domains are
    /// ignored), from the `(domain, day)` index.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn failure_counts(
        &self,
        domain: &str,
        query: &ReportQuery,
    ) -> Result<Vec<FailureCount>, StoreError>;

    /// Successful and failed sessions of every policy domain over the
    /// days of `query` (its `domains` ignored), in one grouped query: the
    /// overview of all domains.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn session_totals(
        &self,
        query: &ReportQuery,
    ) -> Result<std::collections::HashMap<String, (u64, u64)>, StoreError>;

    /// Sessions of `domain` by (day, policy type) over the days of
    /// `query`, from the `(domain, day)` index.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn policy_counts(
        &self,
        domain: &str,
        query: &ReportQuery,
    ) -> Result<Vec<PolicyCount>, StoreError>;

    /// Failed sessions of `domain` by [`FailureKind`] and key over the
    /// days of `query` (its domains are ignored), from
    /// `inbox_failure_sums` (the detail rows are not read); by kind, then
    /// key.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn failure_sums(
        &self,
        domain: &str,
        query: &ReportQuery,
    ) -> Result<Vec<FailureSum>, StoreError>;

    /// The stored reports with a policy of `domain` on the days of
    /// `query` (its domains are ignored), in the order they were stored,
    /// `offset` skipped, at most `limit`, from `inbox_report_list`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn report_list(
        &self,
        domain: &str,
        query: &ReportQuery,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<ListedReport>, StoreError>;
}

/// A stored failure kind read back.
pub(crate) fn kind_of(s: &str) -> Result<FailureKind, StoreError> {
    FailureKind::parse(s).ok_or_else(|| StoreError::Corrupt {
        what: "failure sum kind",
        detail: format!("`{s}` is not a failure kind"),
    })
}

/// A count as stored (the databases have signed 64-bit integers).
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count read back (negative values, which are never written,
/// read as 0).
pub(crate) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A stored DKIM status read back.
pub(crate) fn dkim_of(status: &str, domain: Option<String>) -> Result<DkimVerdict, StoreError> {
    let status = DkimStatus::parse(status).ok_or_else(|| StoreError::Corrupt {
        what: "DKIM status",
        detail: format!("`{status}` is not pass, fail or none"),
    })?;
    Ok(DkimVerdict { status, domain })
}
