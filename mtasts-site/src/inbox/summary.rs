//! Summaries and exports from the store: the same
//! [`tlsrpt_core::summary::Summary`] as `mtasts report summarize PATH...`
//! over the same reports.
//!
//! The reports a filter selects are found through the `(domain, day)`
//! index of `inbox_policies` (or the `start_day` index of
//! `inbox_reports` without a domain), and their stored normalized JSON is
//! given to a [`tlsrpt_core::Aggregator`] receipt by receipt, in the
//! order received (so duplicates list their sources as the file-based
//! summary does). The summary cannot be built from the index rows alone:
//! its alerts list, per (domain, result type, MX host), the reporting
//! organizations, sending IPs, failure reasons, policy types, modes and
//! `mx` patterns, and its readiness verdicts need each report's policy
//! strings; these are in the report JSON, not in the index. The index
//! rows serve the dashboard queries ([`InboxStore::failure_counts`],
//! [`InboxStore::policy_counts`]), which are single indexed `GROUP BY`s.

use tlsrpt_core::summary::{Filter, Summary};
use tlsrpt_core::{Aggregator, Report};

use super::store::{InboxStore, ReportQuery};
use crate::store::StoreError;

/// How [`summarize`] counts.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// Which reports and policies count (days, policy domains).
    pub filter: Filter,
    /// Distinct keys per grouping ([`Aggregator::with_max_groups`]).
    pub max_groups: usize,
    /// The readiness window in UTC days, ending with the filter's
    /// `until` (or each domain's last day), as `report summarize` does.
    pub readiness_days: u32,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        Self {
            filter: Filter::new(),
            max_groups: tlsrpt_core::summary::MAX_GROUPS,
            readiness_days: tlsrpt_core::alert::READINESS_DAYS,
        }
    }
}

/// The store query that selects what `filter` keeps.
#[must_use]
pub fn query_of(filter: &Filter) -> ReportQuery {
    ReportQuery {
        since: filter.since,
        until: filter.until,
        domains: filter.policy_domains.clone(),
    }
}

/// A stored report JSON read back.
///
/// # Errors
///
/// [`StoreError::Corrupt`] when it does not parse.
pub fn parse_stored(json: &str) -> Result<Report<'_>, StoreError> {
    Report::parse_lenient(json.as_bytes())
        .map(|p| p.value)
        .map_err(|e| StoreError::Corrupt {
            what: "report JSON",
            detail: e.to_string(),
        })
}

/// The summary of the stored reports (see the module docs).
///
/// # Errors
///
/// [`StoreError`] when the store fails or holds an unreadable report.
pub fn summarize(store: &dyn InboxStore, options: &SummaryOptions) -> Result<Summary, StoreError> {
    let mut agg = Aggregator::with_max_groups(options.max_groups)
        .filter(options.filter.clone())
        .readiness_window(options.readiness_days, options.filter.until);
    let mut fed: u64 = 0;
    store.for_each_receipt(&query_of(&options.filter), &mut |receipt| {
        let report = parse_stored(&receipt.json)?;
        agg.add(&report, &receipt.source);
        fed += 1;
        Ok(true)
    })?;
    let total = store.inbox_stats()?.receipts;
    let mut summary = agg.into_summary();
    // The receipts the index query did not select are the ones the filter
    // leaves out.
    summary.left_out = summary.left_out.saturating_add(total.saturating_sub(fed));
    Ok(summary)
}
