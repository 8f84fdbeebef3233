//! What each page shows, computed from the store: the functions the
//! pages and the JSON API share, so both show the same numbers.
//!
//! - Sessions per day and failures by result type, MX host, organization
//!   and sending IP ([`domain_stats`]) come from the inbox's index rows
//!   ([`InboxStore::policy_counts`], and [`InboxStore::failure_sums`]:
//!   the failure details pre-summed per day and key when stored), which
//!   hold, per stored report (each counted once), the same policy
//!   summaries and failure details that `mtasts report summarize` adds
//!   up: the totals equal the summary's `by_day`, `by_result_type` and
//!   `by_mx_host` for the same days and domain (tested in
//!   `tests/web_pages.rs`).
//! - Enforce readiness ([`readiness`]) is [`promote::evaluate`] over the
//!   stored reports fed to [`promote::report_aggregator`], without the
//!   live MX probe (not run on a page view).
//! - The overview ([`overview`]) is one row per visible domain with the
//!   sessions of the last [`OVERVIEW_DAYS`] days and the alerts seen in
//!   them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use mta_sts_core::Mode;
use mta_sts_core::hosting;
use tlsrpt_core::summary::UNKNOWN;

use crate::alerts::store::{DeliveryAttempt, StoredAlert};
use crate::inbox::store::{FailureKind, InboxStore, ReportQuery};
use crate::promote::{self, PromoteDecision};
use crate::store::{Domain, SiteStore, StoreError};
use crate::web::Account;

/// The windows the domain page offers (`?days=`).
pub const WINDOWS: [u32; 3] = [7, 30, 90];

/// The overview's window in days (failure rate, open alerts).
pub const OVERVIEW_DAYS: u32 = 7;

/// Overview rows per page.
pub const PER_PAGE: usize = 100;

/// At most this many reports are listed on a domain page.
pub const MAX_REPORTS_LISTED: usize = 200;

/// At most this many alerts are read for a page.
pub const MAX_ALERTS: usize = 500;

/// A failure rate at or above this (in per mille) makes a domain red.
pub const RED_PER_MILLE: u64 = 50;

/// The UTC day number of `now` (Unix seconds).
#[must_use]
pub fn day_of(now: i64) -> i64 {
    now.div_euclid(86_400)
}

pub use mta_sts_core::time::day_string;

/// The days `[since, until]` of a window of `days` days ending with the
/// day of `now`.
#[must_use]
pub fn window(now: i64, days: u32) -> (i64, i64) {
    let until = day_of(now);
    (until - i64::from(days.max(1)) + 1, until)
}

/// Sessions of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DaySessions {
    /// The day number.
    pub day: i64,
    /// Successful sessions (policy summaries).
    pub successful: u64,
    /// Failed sessions (policy summaries).
    pub failed: u64,
}

/// A domain's sessions and failures over a range of days.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DomainStats {
    /// The domain.
    pub domain: String,
    /// First day (day number).
    pub since: i64,
    /// Last day.
    pub until: i64,
    /// Every day of the range, oldest first (days without reports are 0).
    pub days: Vec<DaySessions>,
    /// Successful sessions, summed.
    pub successful: u64,
    /// Failed sessions (from the policy summaries), summed.
    pub failed: u64,
    /// Result type → failed sessions (failure details), most first.
    pub by_result_type: Vec<(String, u64)>,
    /// Receiving MX host (or `(unknown)`) → failed sessions, most first.
    pub by_mx_host: Vec<(String, u64)>,
    /// Reporting organization → failed sessions, most first.
    pub by_organization: Vec<(String, u64)>,
    /// Sending MTA IP (or `(unknown)`) → failed sessions, most first.
    pub by_sending_ip: Vec<(String, u64)>,
}

impl DomainStats {
    /// Failed sessions per 1000 sessions (`None` without sessions).
    #[must_use]
    pub fn failure_per_mille(&self) -> Option<u64> {
        per_mille(self.successful, self.failed)
    }
}

/// `failed` per 1000 of all sessions, rounded; `None` without sessions.
#[must_use]
pub fn per_mille(successful: u64, failed: u64) -> Option<u64> {
    let total = u128::from(successful) + u128::from(failed);
    if total == 0 {
        return None;
    }
    let pm = (u128::from(failed) * 1000 + total / 2) / total;
    Some(u64::try_from(pm).unwrap_or(1000))
}

/// `12.3%` of a per-mille value.
#[must_use]
pub fn percent(pm: Option<u64>) -> String {
    pm.map_or_else(|| "–".to_owned(), |p| format!("{}.{}%", p / 10, p % 10))
}

/// A map's entries, most first, then by key.
fn ranked(map: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// The sessions and failures of `domain` (normalized) on the days
/// `since..=until`, from the index (see the module docs).
///
/// # Errors
///
/// [`StoreError`] when the store fails.
pub fn domain_stats(
    inbox: &dyn InboxStore,
    domain: &str,
    since: i64,
    until: i64,
) -> Result<DomainStats, StoreError> {
    let q = ReportQuery {
        since: Some(since),
        until: Some(until),
        domains: Vec::new(),
    };
    let mut per_day: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let (mut successful, mut failed) = (0u64, 0u64);
    for p in inbox.policy_counts(domain, &q)? {
        let e = per_day.entry(p.day).or_default();
        e.0 = e.0.saturating_add(p.successful);
        e.1 = e.1.saturating_add(p.failed);
        successful = successful.saturating_add(p.successful);
        failed = failed.saturating_add(p.failed);
    }
    let mut rt: BTreeMap<String, u64> = BTreeMap::new();
    let mut mx: BTreeMap<String, u64> = BTreeMap::new();
    let mut org: BTreeMap<String, u64> = BTreeMap::new();
    let mut ip: BTreeMap<String, u64> = BTreeMap::new();
    for f in inbox.failure_sums(domain, &q)? {
        let m = match f.kind {
            FailureKind::ResultType => &mut rt,
            FailureKind::MxHost => &mut mx,
            FailureKind::Organization => &mut org,
            FailureKind::SendingIp => &mut ip,
        };
        let e = m.entry(f.key).or_default();
        *e = e.saturating_add(f.failed);
    }
    let span = usize::try_from(until.saturating_sub(since).saturating_add(1)).unwrap_or(0);
    let mut days = Vec::with_capacity(span.min(10_000));
    let mut d = since;
    while d <= until && days.len() < 10_000 {
        let (s, f) = per_day.get(&d).copied().unwrap_or_default();
        days.push(DaySessions {
            day: d,
            successful: s,
            failed: f,
        });
        d += 1;
    }
    Ok(DomainStats {
        domain: domain.to_owned(),
        since,
        until,
        days,
        successful,
        failed,
        by_result_type: ranked(rt),
        by_mx_host: ranked(mx),
        by_organization: ranked(org),
        by_sending_ip: ranked(ip),
    })
}

/// The cached readiness summaries: (store, domain, mode since, today,
/// policies, successful, failed sessions of the domain since then).
type ReadinessKey = (usize, String, i64, i64, u64, u64, u64);

/// At most this many readiness summaries are cached (then all dropped).
const READINESS_CACHE_MAX: usize = 4096;

static READINESS_CACHE: std::sync::LazyLock<
    std::sync::Mutex<HashMap<ReadinessKey, Arc<tlsrpt_core::summary::Summary>>>,
> = std::sync::LazyLock::new(|| std::sync::Mutex::new(HashMap::new()));

/// The enforce readiness of `d` at `now` from the stored reports (the
/// conditions of `mtasts domain promote`, see [`promote::evaluate`]);
/// the live MX probe is not run (`mx-certificates` says so).
///
/// The summary of the reports (every stored report since the domain
/// entered its mode, parsed) is kept in memory until a report of the
/// domain arrives or is pruned, the day changes or the mode changes: the
/// domain's policy counts since then (one indexed query) are part of the
/// key.
///
/// # Errors
///
/// [`StoreError`] when the store fails or holds an unreadable report.
pub fn readiness(
    store: &dyn SiteStore,
    d: &Domain,
    now: i64,
) -> Result<PromoteDecision, StoreError> {
    let since = d.mode_since.div_euclid(86_400);
    let today = day_of(now).max(since);
    let (mut policies, mut ok, mut failed) = (0u64, 0u64, 0u64);
    for p in store.inbox().policy_counts(
        &d.name,
        &ReportQuery {
            since: Some(since),
            until: None,
            domains: Vec::new(),
        },
    )? {
        policies = policies.saturating_add(p.policies);
        ok = ok.saturating_add(p.successful);
        failed = failed.saturating_add(p.failed);
    }
    let key: ReadinessKey = (
        std::ptr::from_ref(store).cast::<()>() as usize,
        d.name.clone(),
        d.mode_since,
        today,
        policies,
        ok,
        failed,
    );
    let cached = READINESS_CACHE
        .lock()
        .ok()
        .and_then(|c| c.get(&key).cloned());
    let summary = match cached {
        Some(s) => s,
        None => {
            let s = Arc::new(promote::stored_reports_summary(store, d, now)?);
            if let Ok(mut c) = READINESS_CACHE.lock() {
                if c.len() >= READINESS_CACHE_MAX {
                    c.clear();
                }
                c.insert(key, Arc::clone(&s));
            }
            s
        }
    };
    Ok(promote::evaluate(
        d,
        now,
        hosting::DEFAULT_PROMOTE_DAYS,
        Some(&summary),
        None,
    ))
}

/// One stored report as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReportListItem {
    /// The page key ([`report_key`]).
    pub key: String,
    /// `organization-name`.
    pub organization: String,
    /// `report-id`.
    pub report_id: String,
    /// `start-datetime` (RFC 3339).
    pub start: String,
    /// `end-datetime` (RFC 3339).
    pub end: String,
    /// Successful sessions of the listed domain's policies.
    pub successful: u64,
    /// Failed sessions of the listed domain's policies.
    pub failed: u64,
}

/// The stored reports with a policy of `domain` on the days
/// `since..=until`, in the order received, each once, at most `max`
/// (from the report list index: no report is parsed).
///
/// # Errors
///
/// [`StoreError`] when the store fails.
pub fn reports_of(
    inbox: &dyn InboxStore,
    domain: &str,
    since: i64,
    until: i64,
    max: usize,
) -> Result<Vec<ReportListItem>, StoreError> {
    reports_page(inbox, domain, since, until, 0, max)
}

/// [`reports_of`] from the `offset`-th report on (for pagination).
///
/// # Errors
///
/// [`StoreError`] when the store fails.
pub fn reports_page(
    inbox: &dyn InboxStore,
    domain: &str,
    since: i64,
    until: i64,
    offset: usize,
    max: usize,
) -> Result<Vec<ReportListItem>, StoreError> {
    // A policy without `policy-domain` matches no domain filter.
    if domain == UNKNOWN || max == 0 {
        return Ok(Vec::new());
    }
    let q = ReportQuery {
        since: Some(since),
        until: Some(until),
        domains: Vec::new(),
    };
    let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    Ok(inbox
        .report_list(domain, &q, n(offset), n(max))?
        .into_iter()
        .map(|r| ReportListItem {
            key: report_key(&r.organization, &r.report_id),
            organization: r.organization,
            report_id: r.report_id,
            start: r.start,
            end: r.end,
            successful: r.successful,
            failed: r.failed,
        })
        .collect())
}

/// A stored report's JSON as `account` may see it: a report can cover
/// several policy domains, and an account other than an admin sees the
/// policies of its own domains only (the page and the API show the
/// same).
///
/// # Errors
///
/// [`StoreError::Corrupt`] when the stored JSON does not parse.
pub fn visible_report_json(json: &str, account: &Account) -> Result<serde_json::Value, StoreError> {
    let mut report: serde_json::Value =
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
            what: "report JSON",
            detail: e.to_string(),
        })?;
    if !account.admin
        && let Some(serde_json::Value::Array(policies)) = report.get_mut("policies")
    {
        policies.retain(|p| {
            p.pointer("/policy/policy-domain")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|d| account.can_see(&mta_sts_core::domain::fold(d)))
        });
    }
    Ok(report)
}

/// The key of a stored report in `/reports/{key}` (the router's
/// [`crate::web::report_url_id`]).
#[must_use]
pub fn report_key(organization: &str, report_id: &str) -> String {
    crate::web::report_url_id(organization, report_id)
}

/// The organization and report id of a [`report_key`].
#[must_use]
pub fn parse_report_key(key: &str) -> Option<(String, String)> {
    crate::web::parse_report_url_id(key)
}

/// A domain's status light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Failed sessions at or above [`RED_PER_MILLE`], or an open alert of
    /// severity `error`.
    Red,
    /// Some failed sessions or an open alert.
    Amber,
    /// No report in the window: nothing to judge.
    Grey,
    /// Sessions reported, none failed, no open alert.
    Green,
}

impl Status {
    /// `red`, `amber`, `grey`, `green`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Red => "red",
            Self::Amber => "amber",
            Self::Grey => "grey",
            Self::Green => "green",
        }
    }

    /// What it means, in words.
    #[must_use]
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Red => "failing: 5% or more of sessions failed, or an error alert is open",
            Self::Amber => "some failed sessions or an open alert",
            Self::Grey => "no TLS-RPT report in the last 7 days",
            Self::Green => "sessions reported, none failed, no open alert",
        }
    }
}

/// The status of a domain from its sessions and open alerts.
#[must_use]
pub fn status_of(successful: u64, failed: u64, open_alerts: &[&StoredAlert]) -> Status {
    let pm = per_mille(successful, failed);
    if pm.is_some_and(|p| p >= RED_PER_MILLE) || open_alerts.iter().any(|a| a.severity == "error") {
        Status::Red
    } else if failed > 0 || !open_alerts.is_empty() {
        Status::Amber
    } else if pm.is_none() {
        Status::Grey
    } else {
        Status::Green
    }
}

/// One overview row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OverviewRow {
    /// The domain.
    pub domain: String,
    /// Its mode.
    pub mode: Mode,
    /// The current policy id.
    pub policy_id: String,
    /// Whole days in the current mode.
    pub days_in_mode: u64,
    /// Successful sessions in the last [`OVERVIEW_DAYS`] days.
    pub successful: u64,
    /// Failed sessions in the last [`OVERVIEW_DAYS`] days.
    pub failed: u64,
    /// Failed per 1000 sessions (`None` without sessions).
    pub failure_per_mille: Option<u64>,
    /// Alerts seen (last raised or repeated) in the last
    /// [`OVERVIEW_DAYS`] days.
    pub open_alerts: u64,
    /// The status light.
    pub status: Status,
    /// Being removed.
    pub removing: bool,
}

/// The overview's sort orders (`?sort=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// By domain name (default).
    #[default]
    Domain,
    /// Worst status first.
    Status,
    /// By mode.
    Mode,
    /// By failure rate.
    Failures,
    /// By open alerts.
    Alerts,
    /// By days in mode.
    Days,
}

impl SortKey {
    /// The query value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Status => "status",
            Self::Mode => "mode",
            Self::Failures => "failures",
            Self::Alerts => "alerts",
            Self::Days => "days",
        }
    }

    /// The key of a query value.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "domain" => Self::Domain,
            "status" => Self::Status,
            "mode" => Self::Mode,
            "failures" => Self::Failures,
            "alerts" => Self::Alerts,
            "days" => Self::Days,
            _ => return None,
        })
    }
}

/// How the overview is sorted and which page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OverviewQuery {
    /// The sort key.
    pub sort: SortKey,
    /// Descending.
    pub desc: bool,
    /// The page, from 1.
    pub page: usize,
}

/// One page of the overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// The rows of this page.
    pub rows: Vec<OverviewRow>,
    /// Visible domains in all.
    pub total: usize,
    /// Domains per status.
    pub by_status: BTreeMap<Status, usize>,
    /// This page (from 1).
    pub page: usize,
    /// Pages in all (at least 1).
    pub pages: usize,
}

/// The overview rows of every domain `account` sees, sorted, and the
/// requested page of them.
///
/// # Errors
///
/// [`StoreError`] when the store fails.
pub fn overview(
    store: &dyn SiteStore,
    account: &Account,
    now: i64,
    query: &OverviewQuery,
) -> Result<Overview, StoreError> {
    let (since, until) = window(now, OVERVIEW_DAYS);
    let seen_since = now - i64::from(OVERVIEW_DAYS) * 86_400;
    // Alerts repeat within their quiet period (a day by default) only, so
    // every alert seen in the window was raised at most a few days before.
    let alerts = store.alerts().alerts_since(seen_since - 30 * 86_400)?;
    let mut open: HashMap<&str, Vec<&StoredAlert>> = HashMap::new();
    for a in &alerts {
        if a.last_seen.max(a.raised_at) >= seen_since {
            open.entry(a.domain.as_str()).or_default().push(a);
        }
    }
    let q = ReportQuery {
        since: Some(since),
        until: Some(until),
        domains: Vec::new(),
    };
    let totals = store.inbox().session_totals(&q)?;
    let mut rows = Vec::new();
    let mut by_status = BTreeMap::new();
    for d in store.domains()? {
        if !account.can_see(&d.name) {
            continue;
        }
        let (ok, failed) = totals.get(&d.name).copied().unwrap_or_default();
        let alerts = open.get(d.name.as_str()).map_or(&[][..], Vec::as_slice);
        let status = status_of(ok, failed, alerts);
        *by_status.entry(status).or_insert(0) += 1;
        rows.push(OverviewRow {
            days_in_mode: hosting::days_between(d.mode_since, now),
            policy_id: d.current.id.clone(),
            mode: d.settings.mode,
            successful: ok,
            failed,
            failure_per_mille: per_mille(ok, failed),
            open_alerts: u64::try_from(alerts.len()).unwrap_or(u64::MAX),
            status,
            removing: d.removing_until.is_some(),
            domain: d.name,
        });
    }
    let mode_rank = |m: Mode| match m {
        Mode::None => 0,
        Mode::Testing => 1,
        Mode::Enforce => 2,
    };
    rows.sort_by(|a, b| {
        let o = match query.sort {
            SortKey::Domain => std::cmp::Ordering::Equal,
            SortKey::Status => a.status.cmp(&b.status),
            SortKey::Mode => mode_rank(a.mode).cmp(&mode_rank(b.mode)),
            SortKey::Failures => a.failure_per_mille.cmp(&b.failure_per_mille),
            SortKey::Alerts => a.open_alerts.cmp(&b.open_alerts),
            SortKey::Days => a.days_in_mode.cmp(&b.days_in_mode),
        };
        let o = if query.desc { o.reverse() } else { o };
        o.then_with(|| {
            if query.desc && query.sort == SortKey::Domain {
                b.domain.cmp(&a.domain)
            } else {
                a.domain.cmp(&b.domain)
            }
        })
    });
    let total = rows.len();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page = query.page.clamp(1, pages);
    let rows: Vec<OverviewRow> = rows
        .into_iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .collect();
    Ok(Overview {
        rows,
        total,
        by_status,
        page,
        pages,
    })
}

/// The alerts of the domains `account` sees (of `domain` only when
/// given), newest first, at most `limit`, each with its delivery
/// attempts.
///
/// # Errors
///
/// [`StoreError`] when the store fails.
pub fn alerts_of(
    store: &dyn SiteStore,
    account: &Account,
    domain: Option<&str>,
    limit: usize,
) -> Result<Vec<(StoredAlert, Vec<DeliveryAttempt>)>, StoreError> {
    let s = store.alerts();
    let mut out = Vec::new();
    // Read more than `limit` when some alerts are of domains the account
    // does not see.
    let read = if account.admin || domain.is_some() {
        limit
    } else {
        limit.saturating_mul(4).max(MAX_ALERTS)
    };
    for a in s.list_alerts(domain, read)? {
        if out.len() >= limit {
            break;
        }
        if !account.can_see(&a.domain) {
            continue;
        }
        let attempts = s.attempts(a.id)?;
        out.push((a, attempts));
    }
    Ok(out)
}

/// The delivery state of each destination of an alert (`delivered`,
/// `retrying`, `failed`, `gave-up`, `pending`), as `mtasts alerts` shows
/// it.
#[must_use]
pub fn deliveries(
    alert: &StoredAlert,
    attempts: &[DeliveryAttempt],
) -> Vec<(String, &'static str)> {
    let retry = crate::alerts::AlertConfig::default().retry;
    let dests: std::collections::BTreeSet<&str> =
        attempts.iter().map(|a| a.destination.as_str()).collect();
    dests
        .into_iter()
        .map(|d| {
            (
                d.to_owned(),
                crate::alerts::delivery_state(&retry, alert.id, d, attempts),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_keys_round_trip() {
        for (o, r) in [
            ("Company-X", "5065427c-23d3-47ca-b6e0-946ea0e8c4be"),
            ("a:b/c d", "<id>%"),
            ("", ""),
        ] {
            let k = report_key(o, r);
            assert!(!k.contains('/') && !k.contains(' '));
            assert_eq!(parse_report_key(&k), Some((o.to_owned(), r.to_owned())));
        }
        assert_eq!(parse_report_key("nocolon"), None);
    }

    #[test]
    fn rates_and_days() {
        assert_eq!(per_mille(0, 0), None);
        assert_eq!(per_mille(5326, 303), Some(54));
        assert_eq!(percent(Some(54)), "5.4%");
        assert_eq!(day_string(16_892), "2016-04-01");
        assert_eq!(window(16_892 * 86_400 + 5, 7), (16_886, 16_892));
    }
}
