//! Summaries and exports from the store: the same
//! [`tlsrpt_core::summary::Summary`] as `mtasts report summarize PATH...`
//! over the same reports.
//!
//! The store keeps a [`SummaryPart`] per (policy domain, UTC day of
//! `start-datetime`) — `inbox_summary_parts`, updated in the transaction
//! that stores a report, rebuilt from the remaining reports when pruning
//! removes some, and built from all stored reports when a store made
//! before the table (or with another [`PART_VERSION`]) is opened. A part
//! holds what the summary adds up over policies: sessions per result
//! type, MX host, organization and day, the alerts with their
//! organizations, IPs, reasons, modes and patterns, and what the
//! readiness verdict needs. [`summarize`] merges the parts of the
//! selected days and domains and takes what counts reports (unique
//! reports per organization and day, duplicates with their sources) from
//! the report index ([`InboxStore::summary_inputs`]), so its cost depends
//! on the number of days and domains, not on the number of reports or
//! failure rows. The result equals [`summarize_by_replay`] — every
//! selected receipt's stored JSON given to a [`tlsrpt_core::Aggregator`]
//! in the order received — as long as no grouping reaches
//! [`SummaryOptions::max_groups`]; past it the two may fold different keys
//! under `(other)` (both say how many in `folded`). A `max_groups` other
//! than the parts' own ([`tlsrpt_core::summary::MAX_GROUPS`]) is
//! summarized by replay.

use std::borrow::Cow;
use std::collections::BTreeMap;

use tlsrpt_core::summary::{
    DuplicateReport, Filter, MAX_GROUPS, PART_VERSION, ReportTotals, Summary, SummaryPart,
};
use tlsrpt_core::{Aggregator, Report};

use super::store::{InboxStore, PartDelta, ReportQuery, SummaryInputs, UNKNOWN_DOMAIN};
use crate::store::StoreError;

/// How [`summarize`] counts.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// Which reports and policies count (days, policy domains).
    pub filter: Filter,
    /// Distinct keys per grouping ([`Aggregator::with_max_groups`]).
    pub max_groups: usize,
    /// The readiness window in UTC days.
    pub readiness_days: u32,
    /// The last day of the readiness window; `None`: the filter's `until`,
    /// or else each domain's last day, as `report summarize` does.
    pub readiness_end: Option<i64>,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        Self {
            filter: Filter::new(),
            max_groups: MAX_GROUPS,
            readiness_days: tlsrpt_core::alert::READINESS_DAYS,
            readiness_end: None,
        }
    }
}

impl SummaryOptions {
    fn readiness_end(&self) -> Option<i64> {
        self.readiness_end.or(self.filter.until)
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

/// The index's name of a policy's domain: folded, or [`UNKNOWN_DOMAIN`].
fn domain_key(p: &tlsrpt_core::report::PolicyResult<'_>) -> String {
    p.policy.policy_domain.as_deref().map_or_else(
        || UNKNOWN_DOMAIN.to_owned(),
        |d| mta_sts_core::domain::fold(d).into_owned(),
    )
}

/// `report` with only the policies of `domain` (an index domain name).
fn only_domain<'r, 'a>(report: &'r Report<'a>, domain: &str) -> Cow<'r, Report<'a>> {
    if report.policies.iter().all(|p| domain_key(p) == domain) {
        Cow::Borrowed(report)
    } else {
        let mut r = report.clone();
        r.policies.retain(|p| domain_key(p) == domain);
        Cow::Owned(r)
    }
}

/// What `report` adds to the summary parts: one part per policy domain of
/// its policies (by the UTC day of `start-datetime`), holding that
/// domain's policies. A report without policies adds to none.
#[must_use]
pub fn parts_of(report: &Report<'_>) -> Vec<PartDelta> {
    let day = report.date_range.start.day();
    domains_of(report)
        .into_iter()
        .map(|domain| {
            let mut part = SummaryPart::new();
            part.add(&only_domain(report, &domain));
            PartDelta { domain, day, part }
        })
        .collect()
}

/// The index domain names of `report`'s policies, sorted, each once.
fn domains_of(report: &Report<'_>) -> Vec<String> {
    let mut domains: Vec<String> = report.policies.iter().map(domain_key).collect();
    domains.sort_unstable();
    domains.dedup();
    domains
}

/// Parts rebuilt from stored reports (the backfill and pruning): feed
/// each report's JSON with [`PartBuilder::add`], then take the parts.
#[derive(Debug, Default)]
pub(crate) struct PartBuilder {
    parts: BTreeMap<(String, i64), SummaryPart>,
}

impl PartBuilder {
    /// Add a stored report to its parts (all of them, or only
    /// `domain`'s), as [`parts_of`] divides it.
    pub(crate) fn add(&mut self, json: &str, domain: Option<&str>) -> Result<(), StoreError> {
        let report = parse_stored(json)?;
        let day = report.date_range.start.day();
        for d in domains_of(&report) {
            if domain.is_some_and(|only| only != d) {
                continue;
            }
            let only = only_domain(&report, &d);
            self.parts.entry((d, day)).or_default().add(&only);
        }
        Ok(())
    }

    /// The parts built, as ((domain, day), JSON), and the builder emptied.
    pub(crate) fn take(&mut self) -> Vec<((String, i64), String)> {
        std::mem::take(&mut self.parts)
            .into_iter()
            .map(|(k, p)| (k, p.to_json()))
            .collect()
    }
}

/// The `inbox_state` key holding the [`PART_VERSION`] of the stored parts.
pub(crate) const PARTS_STATE_KEY: &str = "summary_parts_version";

/// The version the stored parts must have.
pub(crate) fn parts_version() -> i64 {
    i64::from(PART_VERSION)
}

/// The selected parts merged, and the (domain, day) pairs whose part is
/// unreadable, missing or holds another number of reports than the
/// index.
fn merged_parts(inputs: &SummaryInputs, max_groups: usize) -> (SummaryPart, Vec<(String, i64)>) {
    let mut expected: BTreeMap<(&str, i64), u64> = inputs
        .report_counts
        .iter()
        .map(|(d, day, n)| ((d.as_str(), *day), *n))
        .collect();
    let mut part = SummaryPart::with_max_groups(max_groups);
    let mut stale = Vec::new();
    for (domain, day, json) in &inputs.parts {
        let want = expected.remove(&(domain.as_str(), *day)).unwrap_or(0);
        match SummaryPart::from_json(json) {
            Ok(p) if p.reports() == want => part.merge(&p),
            _ => stale.push((domain.clone(), *day)),
        }
    }
    // Reports without a part.
    stale.extend(expected.into_keys().map(|(d, day)| (d.to_owned(), day)));
    (part, stale)
}

/// The summary of the stored reports (see the module docs).
///
/// # Errors
///
/// [`StoreError`] when the store fails or holds an unreadable report.
pub fn summarize(store: &dyn InboxStore, options: &SummaryOptions) -> Result<Summary, StoreError> {
    if options.max_groups != MAX_GROUPS {
        return summarize_by_replay(store, options);
    }
    let query = query_of(&options.filter);
    let mut repaired = false;
    let (mut part, inputs) = loop {
        let inputs = store.summary_inputs(&query)?;
        let (part, stale) = merged_parts(&inputs, options.max_groups);
        if stale.is_empty() {
            break (part, inputs);
        }
        if repaired {
            // Still out of date (another program storing reports without
            // parts meanwhile): count from the reports themselves.
            tracing::warn!(
                parts = stale.len(),
                "stored summary parts still out of date; summarizing by replay"
            );
            return summarize_by_replay(store, options);
        }
        // Reports stored by a program that kept no parts (an older node of
        // a shared database), or a damaged part: rebuilt from the reports.
        tracing::warn!(
            parts = stale.len(),
            "stored summary parts out of date or unreadable; rebuilding them"
        );
        store.repair_parts(&stale)?;
        repaired = true;
    };
    let mut totals = ReportTotals::default();
    for (organization, day, n) in inputs.report_groups {
        totals.reports = totals.reports.saturating_add(n);
        let o = totals.by_organization.entry(organization).or_default();
        *o = o.saturating_add(n);
        let d = totals
            .by_day
            .entry(mta_sts_core::time::day_string(day))
            .or_default();
        *d = d.saturating_add(n);
    }
    let mut duplicates = inputs.duplicates;
    duplicates
        .sort_by(|a, b| (&a.organization, &a.report_id).cmp(&(&b.organization, &b.report_id)));
    for d in duplicates {
        let again = u64::try_from(d.sources.len().saturating_sub(1)).unwrap_or(u64::MAX);
        if again == 0 {
            continue;
        }
        let report = parse_stored(&d.json)?;
        if let Some(r) = options.filter.apply(&report) {
            for _ in 0..again {
                part.add_duplicate(&r);
            }
        }
        totals.duplicates = totals.duplicates.saturating_add(again);
        totals.duplicate_reports.push(DuplicateReport {
            organization_name: d.organization,
            report_id: d.report_id,
            sources: d.sources,
        });
    }
    let selected = totals.reports.saturating_add(totals.duplicates);
    // The receipts the selection left out are the ones the filter leaves
    // out.
    totals.left_out = inputs.receipts.saturating_sub(selected);
    Ok(part.summary(totals, options.readiness_days, options.readiness_end()))
}

/// The summary of the stored reports computed by replaying every selected
/// receipt's stored JSON through an [`Aggregator`], in the order
/// received: what [`summarize`] does for a `max_groups` other than the
/// parts' own, and what it is tested against.
///
/// # Errors
///
/// [`StoreError`] when the store fails or holds an unreadable report.
pub fn summarize_by_replay(
    store: &dyn InboxStore,
    options: &SummaryOptions,
) -> Result<Summary, StoreError> {
    let mut agg = Aggregator::with_max_groups(options.max_groups)
        .filter(options.filter.clone())
        .readiness_window(options.readiness_days, options.readiness_end());
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
