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
//! | `inbox_state` | `last_prune` (Unix seconds) | key |
//!
//! Every write is one transaction. A report whose (organization,
//! report-id) is already stored is a duplicate: only its receipt is
//! added, whichever node or input it came from (the `UNIQUE` constraint
//! decides, so two nodes storing the same report at once store it once).
//! Reports do not bump the store's generation (no serving node needs to
//! know).

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
        })
    }
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
    /// is stored; add its receipt either way. One transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn put_report(&self, report: &NewReport) -> Result<PutOutcome, StoreError>;

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
