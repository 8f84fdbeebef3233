//! The dashboard pages: server-rendered HTML with charts as inline SVG.
//!
//! - `/` ([`PageRoute::Overview`]): every domain the account sees with
//!   its status light, mode, failure rate of the last 7 days, open alerts
//!   and days in mode; sorted by `?sort=domain|status|mode|failures|alerts|days`
//!   and `&order=desc`, [`data::PER_PAGE`] rows per `?page=N`.
//! - `/domains/{domain}?days=7|30|90` ([`PageRoute::Domain`]): sessions
//!   per UTC day (stacked bars, failures dark and hatched), failures by
//!   result type, receiving MX host, reporting organization and sending
//!   MTA IP, the policy and its three DNS records with copy buttons,
//!   enforce readiness (the conditions of `mtasts domain promote` from
//!   the stored reports), the reports of the window and recent alerts.
//! - `/reports/{key}` ([`PageRoute::Report`], key from
//!   [`data::report_key`]): one stored report and its normalized JSON.
//! - `/alerts` ([`PageRoute::Alerts`]): alerts, newest first, with their
//!   fix and delivery state.
//! - the login form ([`login_page`]).
//!
//! The pages work without JavaScript (a small inline script only adds
//! copy buttons), read on a phone (one column under 760 px, tables
//! scroll inside their box), print (navigation and buttons hidden;
//! failures hatched for greyscale), and load nothing: one inline
//! `<style>` and one inline `<script>` whose hashes are in
//! [`content_security_policy`]. Every value is escaped (maud templates;
//! the SVG writer escapes its own text).
//!
//! Elements that carry numbers have ids and `data-*` attributes
//! (`#total-successful`, `#total-failed`, `#day-bars g[data-day]`,
//! `#by-result-type tr[data-key]`, `#overview tr[data-domain]`, ...), for
//! the tests and for scraping.

pub mod data;
pub mod html;
pub mod svg;

use std::sync::Arc;

use base64::Engine as _;
use maud::{Markup, PreEscaped, html};
use mta_sts_core::Mode;

use crate::domains;
use crate::store::{SiteStore, StoreError};
use crate::web::Account;
use data::{OverviewQuery, SortKey};

/// A page request, as the router resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRoute {
    /// `/` — every domain the account sees (first page, by name).
    Overview,
    /// `/?sort=KEY&order=asc|desc&page=N` — the overview sorted and paged.
    OverviewPage {
        /// Sort key, order and page.
        query: OverviewQuery,
    },
    /// `/domains/{domain}?days=7|30|90`.
    Domain {
        /// The domain.
        domain: String,
        /// The window in days.
        days: u32,
    },
    /// `/reports/{id}` — one stored report.
    Report {
        /// The stored report's key ([`data::report_key`]).
        id: String,
    },
    /// `/alerts` — alerts of the account's domains.
    Alerts,
}

impl PageRoute {
    /// The page of a request path and query string (`None` for paths
    /// that are no page). Unknown query values fall back to defaults
    /// (`days` not 7, 30 or 90 is 7).
    #[must_use]
    pub fn parse(path: &str, query: Option<&str>) -> Option<Self> {
        let param = |name: &str| -> Option<&str> {
            query?
                .split('&')
                .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
        };
        if path == "/" {
            if query.is_none_or(str::is_empty) {
                return Some(Self::Overview);
            }
            return Some(Self::OverviewPage {
                query: OverviewQuery {
                    sort: param("sort").and_then(SortKey::parse).unwrap_or_default(),
                    desc: param("order") == Some("desc"),
                    page: param("page").and_then(|p| p.parse().ok()).unwrap_or(1),
                },
            });
        }
        if path == "/alerts" {
            return Some(Self::Alerts);
        }
        if let Some(d) = path.strip_prefix("/domains/") {
            if d.is_empty() || d.contains('/') {
                return None;
            }
            let days = param("days")
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|v| data::WINDOWS.contains(v))
                .unwrap_or(7);
            return Some(Self::Domain {
                domain: d.to_owned(),
                days,
            });
        }
        if let Some(id) = path.strip_prefix("/reports/") {
            if id.is_empty() || id.contains('/') {
                return None;
            }
            return Some(Self::Report { id: id.to_owned() });
        }
        None
    }
}

/// What a page needs besides its route.
#[derive(Debug)]
pub struct PageContext<'a> {
    /// The site store.
    pub store: &'a Arc<dyn SiteStore>,
    /// Who is asking.
    pub account: &'a Account,
    /// The session's CSRF token, put in every form.
    pub csrf_token: &'a str,
    /// Now (Unix seconds).
    pub now: i64,
}

/// Why a page could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// Nothing there, or not visible to this account (both answer 404).
    #[error("not found")]
    NotFound,
    /// The store failed (503).
    #[error("site store unavailable")]
    Store(#[source] StoreError),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// `sha256-BASE64` of an inline element's text, for a CSP.
fn csp_hash(text: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(d.as_ref())
    )
}

/// The `Content-Security-Policy` header value for the pages: nothing
/// loaded from anywhere, the one inline style and script allowed by
/// hash, forms posting to this site only, no framing.
#[must_use]
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        csp_hash(html::STYLE),
        csp_hash(html::COPY_SCRIPT)
    )
}

/// Render `route` as a complete HTML document. Blocking (reads the
/// store): call it from `spawn_blocking`.
///
/// # Errors
///
/// [`PageError`].
pub fn render(route: &PageRoute, ctx: &PageContext<'_>) -> Result<String, PageError> {
    match route {
        PageRoute::Overview => overview_page(ctx, &OverviewQuery::default()),
        PageRoute::OverviewPage { query } => overview_page(ctx, query),
        PageRoute::Domain { domain, days } => domain_page(ctx, domain, *days),
        PageRoute::Report { id } => report_page(ctx, id),
        PageRoute::Alerts => alerts_page(ctx),
    }
}

/// The login form (`POST /login` with `token` and `csrf`), with an error
/// line when the last attempt failed.
#[must_use]
pub fn login_page(error: Option<&str>, csrf_token: &str) -> String {
    let body = html! {
        h1 { "Log in" }
        @if let Some(e) = error { p.error id="login-error" role="alert" { (e) } }
        form.login method="post" action="/login" {
            input type="hidden" name="csrf" value=(csrf_token);
            label for="token" { "Login token (from " code { "mtasts user add" } ")" }
            input #token type="password" name="token" autocomplete="current-password" required;
            button type="submit" { "Log in" }
        }
    };
    html::page("Log in", None, csrf_token, &body)
}

/// A sort link of the overview's header.
fn sort_link(label: &str, key: SortKey, q: &OverviewQuery) -> Markup {
    let desc = q.sort == key && !q.desc;
    let arrow = if q.sort == key {
        if q.desc { " ▼" } else { " ▲" }
    } else {
        ""
    };
    let href = format!(
        "/?sort={}&order={}&page=1",
        key.as_str(),
        if desc { "desc" } else { "asc" }
    );
    html! { a href=(href) { (label) (arrow) } }
}

fn overview_page(ctx: &PageContext<'_>, q: &OverviewQuery) -> Result<String, PageError> {
    let ov = data::overview(&**ctx.store, ctx.account, ctx.now, q)?;
    let page_href = |p: usize| {
        format!(
            "/?sort={}&order={}&page={p}",
            q.sort.as_str(),
            if q.desc { "desc" } else { "asc" }
        )
    };
    let body = html! {
        h1 { "Domains" }
        div.cards {
            div.card { span.v #domains-total { (ov.total) } span.k { "domains" } }
            @for (status, n) in &ov.by_status {
                div.card { span.v data-status-count=(status.as_str()) { (n) } span.k { (html::light(*status)) " " (status.meaning()) } }
            }
        }
        p.muted { "Failure rate and open alerts over the last " (data::OVERVIEW_DAYS) " UTC days (up to " (data::day_string(data::day_of(ctx.now))) ")." }
        @if ov.total == 0 {
            p { "No domains yet. Add one with " code { "mtasts domain add DOMAIN --mx HOST" } "." }
        } @else {
            div.tablewrap {
                table #overview {
                    thead { tr {
                        th { (sort_link("Status", SortKey::Status, q)) }
                        th { (sort_link("Domain", SortKey::Domain, q)) }
                        th { (sort_link("Mode", SortKey::Mode, q)) }
                        th.n { (sort_link("Failures (7 d)", SortKey::Failures, q)) }
                        th.n { "Failed / sessions (7 d)" }
                        th.n { (sort_link("Open alerts", SortKey::Alerts, q)) }
                        th.n { (sort_link("Days in mode", SortKey::Days, q)) }
                    } }
                    tbody {
                        @for r in &ov.rows {
                            tr data-domain=(r.domain) data-failed=(r.failed) data-successful=(r.successful) data-alerts=(r.open_alerts) {
                                td { (html::light(r.status)) }
                                td { a href={ "/domains/" (r.domain) "?days=7" } { (r.domain) } @if r.removing { " " span.tag { "being removed" } } }
                                td { (html::mode_tag(r.mode)) }
                                td.n.rate { (data::percent(r.failure_per_mille)) }
                                td.n { (r.failed) " / " (r.successful.saturating_add(r.failed)) }
                                td.n.alerts { (r.open_alerts) }
                                td.n.days { (r.days_in_mode) }
                            }
                        }
                    }
                }
            }
            @if ov.pages > 1 {
                nav.pager aria-label="pages" {
                    @if ov.page > 1 { a href=(page_href(ov.page - 1)) rel="prev" { "← previous" } }
                    span #page-of { "page " (ov.page) " of " (ov.pages) }
                    @if ov.page < ov.pages { a href=(page_href(ov.page + 1)) rel="next" { "next →" } }
                }
            }
        }
    };
    Ok(html::page(
        "Domains",
        Some(ctx.account),
        ctx.csrf_token,
        &body,
    ))
}

/// A table of (key, failed sessions) with a chart above.
fn breakdown(id: &str, title: &str, key_name: &str, rows: &[(String, u64)]) -> Markup {
    const MAX_ROWS: usize = 20;
    let shown: Vec<(String, u64)> = rows.iter().take(MAX_ROWS).cloned().collect();
    html! {
        section aria-labelledby={ (id) "-h" } {
            h3 id={ (id) "-h" } { (title) }
            (PreEscaped(svg::hbars(&format!("{id}-chart"), title, &shown)))
            details {
                summary { "Table (" (rows.len()) ")" }
                div.tablewrap { table id=(id) {
                    thead { tr { th { (key_name) } th.n { "Failed sessions" } } }
                    tbody { @for (k, n) in rows {
                        tr data-key=(k) data-failed=(n) { td { (k) } td.n { (n) } }
                    } }
                } }
            }
        }
    }
}

fn domain_page(ctx: &PageContext<'_>, domain: &str, days: u32) -> Result<String, PageError> {
    let Ok(name) = mta_sts_core::domain::normalize(domain) else {
        return Err(PageError::NotFound);
    };
    if !ctx.account.can_see(&name) {
        return Err(PageError::NotFound);
    }
    let store = &**ctx.store;
    let Some(d) = store.domain(&name)? else {
        return Err(PageError::NotFound);
    };
    let days = if data::WINDOWS.contains(&days) {
        days
    } else {
        7
    };
    let (since, until) = data::window(ctx.now, days);
    let stats = data::domain_stats(store.inbox(), &name, since, until)?;
    let records = match domains::records(store, &name, None, ctx.now) {
        Ok(r) => Some(r),
        Err(domains::DomainError::Store(e)) => return Err(PageError::Store(e)),
        Err(_) => None,
    };
    let decision = data::readiness(store, &d, ctx.now)?;
    let reports = data::reports_of(store.inbox(), &name, since, until, data::MAX_REPORTS_LISTED)?;
    let alerts = data::alerts_of(store, ctx.account, Some(&name), 10)?;
    let day_bars: Vec<svg::DayBar> = stats
        .days
        .iter()
        .map(|s| svg::DayBar {
            date: data::day_string(s.day),
            successful: s.successful,
            failed: s.failed,
        })
        .collect();
    let chart_title = format!(
        "Sessions per UTC day for {name}, {} to {}: successful and failed",
        data::day_string(since),
        data::day_string(until)
    );
    let body = html! {
        h1 { (name) " " (html::mode_tag(d.settings.mode)) }
        p.windows {
            "Window: "
            @for w in data::WINDOWS {
                @if w == days { strong aria-current="page" { (w) " days" } }
                @else { a href={ "/domains/" (name) "?days=" (w) } { (w) " days" } }
            }
            span.muted #window { (data::day_string(since)) " to " (data::day_string(until)) " (UTC)" }
        }
        div.cards {
            div.card { span.v #total-successful data-value=(stats.successful) { (stats.successful) } span.k { "successful sessions" } }
            div.card { span.v #total-failed data-value=(stats.failed) { (stats.failed) } span.k { "failed sessions" } }
            div.card { span.v #failure-rate { (data::percent(stats.failure_per_mille())) } span.k { "failure rate" } }
            div.card { span.v #days-in-mode { (decision.days_in_mode) } span.k { "days in mode " (d.settings.mode.as_str()) } }
            div.card { span.v #reports-count { (reports.len()) @if reports.len() >= data::MAX_REPORTS_LISTED { "+" } } span.k { "reports" } }
        }
        h2 { "Sessions per day" }
        (PreEscaped(svg::day_bars("day-bars", &chart_title, &day_bars)))
        details.noprint {
            summary { "Table" }
            div.tablewrap { table #by-day {
                thead { tr { th { "Day (UTC)" } th.n { "Successful" } th.n { "Failed" } } }
                tbody { @for s in &stats.days { @if s.successful > 0 || s.failed > 0 {
                    tr data-day=(data::day_string(s.day)) data-successful=(s.successful) data-failed=(s.failed) {
                        td { (data::day_string(s.day)) } td.n { (s.successful) } td.n { (s.failed) }
                    }
                } } }
            } }
        }
        h2 { "Failures" }
        p.muted { "From the reports' failure details (one session may be described by several details)." }
        div.grid2 {
            (breakdown("by-result-type", "By result type", "Result type", &stats.by_result_type))
            (breakdown("by-mx-host", "By receiving MX host", "MX host", &stats.by_mx_host))
            (breakdown("by-organization", "By reporting organization", "Organization", &stats.by_organization))
            (breakdown("by-sending-ip", "By sending MTA IP", "Sending IP", &stats.by_sending_ip))
        }
        h2 { "Enforce readiness" }
        p #readiness-verdict data-ready=(decision.conditions.iter().filter(|c| c.name != crate::promote::COND_MX).all(|c| c.ok)) {
            @if d.settings.mode == Mode::Enforce { "Already in mode enforce." }
            @else {
                (decision.days_in_mode) " of " (decision.days_required) " days in mode " (d.settings.mode.as_str()) ". "
                "The conditions of " code { "mtasts domain promote " (name) } " from the stored reports:"
            }
        }
        ul.conds #readiness {
            @for c in &decision.conditions {
                @if c.name == crate::promote::COND_MX {
                    li.unchecked data-condition=(c.name) data-ok="unchecked" {
                        strong { (c.name) } ": not checked here — the live STARTTLS probe of the MX hosts runs with "
                        code { "mtasts domain promote " (name) }
                    }
                } @else {
                    li class=(if c.ok { "ok" } else { "fail" }) data-condition=(c.name) data-ok=(c.ok) {
                        strong { (c.name) } " " (if c.ok { "✓ holds" } else { "✗ missing" }) ": " (c.detail)
                        @if !c.fix.is_empty() { div.fix { "Fix: " (c.fix) } }
                    }
                }
            }
        }
        h2 { "Policy" }
        p.muted { "Served at " code { "https://mta-sts." (name) "/.well-known/mta-sts.txt" } ", id " code #policy-id { (d.current.id) } "." }
        (html::copyable("policy-body", &d.current.body.replace("\r\n", "\n")))
        h2 { "DNS records" }
        @if let Some(r) = &records {
            @for (i, rec) in r.records.iter().enumerate() {
                (html::copyable(&format!("record-{i}"), &rec.zone_line()))
            }
            @if let Some(p) = &r.pending {
                p.muted { "A newer policy id " code { (p.policy_id) } " is served from " (html::time(p.publish_from)) "; publish it then." }
            }
        } @else {
            p.muted { "The hosting target is not configured: " code { "mtasts domain config --target HOST" } "." }
        }
        h2 { "Reports" }
        @if reports.is_empty() {
            p.muted { "No report for " (name) " in this window." }
        } @else {
            @let newest: Vec<&data::ReportListItem> = {
                let mut v: Vec<&data::ReportListItem> = reports.iter().collect();
                v.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| a.key.cmp(&b.key)));
                v
            };
            (reports_table("reports", &newest[..newest.len().min(10)]))
            @if newest.len() > 10 {
                details.noprint {
                    summary { "Older reports (" (newest.len() - 10) ")" }
                    (reports_table("reports-older", &newest[10..]))
                }
            }
        }
        h2 { "Recent alerts" }
        (alerts_list(&alerts, false))
        p { a href="/alerts" { "All alerts" } }
    };
    Ok(html::page(&name, Some(ctx.account), ctx.csrf_token, &body))
}

/// A table of listed reports.
fn reports_table(id: &str, reports: &[&data::ReportListItem]) -> Markup {
    html! {
        div.tablewrap { table id=(id) {
            thead { tr { th { "Start (UTC)" } th { "Organization" } th { "Report id" } th.n { "Successful" } th.n { "Failed" } } }
            tbody { @for r in reports {
                tr data-failed=(r.failed) {
                    td { (r.start) } td { (r.organization) }
                    td { a href={ "/reports/" (r.key) } { (r.report_id) } }
                    td.n { (r.successful) } td.n { (r.failed) }
                }
            } }
        } }
    }
}

/// A list of alerts with their fixes and delivery states.
fn alerts_list(
    alerts: &[(
        crate::alerts::store::StoredAlert,
        Vec<crate::alerts::store::DeliveryAttempt>,
    )],
    with_domain: bool,
) -> Markup {
    html! {
        @if alerts.is_empty() { p.muted #no-alerts { "No alerts." } }
        @for (a, attempts) in alerts {
            article.card.alert data-alert-id=(a.id) data-domain=(a.domain) data-severity=(a.severity) {
                h3 {
                    span class={ "tag " (a.severity) } { (a.severity) } " " (a.title)
                }
                p.muted {
                    @if with_domain { a href={ "/domains/" (a.domain) "?days=7" } { (a.domain) } " · " }
                    "raised " (html::time(a.raised_at))
                    @if a.repeats > 0 { " · repeated " (a.repeats) " times, last " (html::time(a.last_seen)) }
                    " · " (a.failed_sessions) " failed sessions"
                    @if let Some(mx) = &a.mx_host { " · MX " (mx) }
                }
                @if !a.remediation.is_empty() {
                    div.fix { strong { "Fix: " } (a.remediation) }
                }
                details {
                    summary { "The whole alert" }
                    p { (a.text) }
                    @if !a.reporting_organizations.is_empty() { p { "Reported by: " (a.reporting_organizations.join(", ")) } }
                    @if !a.sending_mta_ips.is_empty() { p { "Sending MTAs: " (a.sending_mta_ips.join(", ")) } }
                }
                @let deliveries = data::deliveries(a, attempts);
                p.muted.delivery {
                    "Delivery: "
                    @if deliveries.is_empty() { "not sent (no destination configured, or not yet due)" }
                    @for (i, (dest, state)) in deliveries.iter().enumerate() {
                        @if i > 0 { "; " }
                        (dest) " " span.tag data-delivery=(state) { (state) }
                    }
                }
            }
        }
    }
}

fn alerts_page(ctx: &PageContext<'_>) -> Result<String, PageError> {
    let alerts = data::alerts_of(&**ctx.store, ctx.account, None, data::MAX_ALERTS)?;
    let body = html! {
        h1 { "Alerts" }
        p.muted { "Newest first, at most " (data::MAX_ALERTS) "." }
        div #alerts { (alerts_list(&alerts, true)) }
    };
    Ok(html::page(
        "Alerts",
        Some(ctx.account),
        ctx.csrf_token,
        &body,
    ))
}

fn report_page(ctx: &PageContext<'_>, key: &str) -> Result<String, PageError> {
    let (org, id) = data::parse_report_key(key).ok_or(PageError::NotFound)?;
    let store = &**ctx.store;
    let Some(stored) = store.inbox().stored_report(&org, &id)? else {
        return Err(PageError::NotFound);
    };
    let report = crate::inbox::summary::parse_stored(&stored.json)?;
    // Visible when one of its policies is of a domain the account sees.
    let domains: Vec<String> = report
        .policies
        .iter()
        .filter_map(|p| p.policy.policy_domain.as_deref())
        .map(|d| mta_sts_core::domain::fold(d).into_owned())
        .collect();
    if !ctx.account.admin && !domains.iter().any(|d| ctx.account.can_see(d)) {
        return Err(PageError::NotFound);
    }
    let visible = data::visible_report_json(&stored.json, ctx.account)?;
    let pretty = serde_json::to_string_pretty(&visible).unwrap_or_else(|_| visible.to_string());
    let body = html! {
        h1 { "Report " (report.report_id.as_ref()) }
        div.tablewrap { table #report-meta {
            tbody {
                tr { th { "Organization" } td #report-org { (report.organization_name.as_ref()) } }
                tr { th { "Report id" } td { (report.report_id.as_ref()) } }
                tr { th { "Date range (UTC)" } td { (report.date_range.start.to_string()) " to " (report.date_range.end.to_string()) } }
                tr { th { "Contact" } td { (report.contact_info.as_deref().unwrap_or("–")) } }
                tr { th { "DKIM" } td { (stored.dkim.status.as_str()) @if let Some(dd) = &stored.dkim.domain { " (d=" (dd) ")" } } }
                tr { th { "Received" } td { (html::time(stored.received_at)) " from " (stored.source) @if stored.receipts > 1 { " (" (stored.receipts) " receipts)" } } }
            }
        } }
        @for (i, p) in report.policies.iter().enumerate() {
            @let pd = p.policy.policy_domain.as_deref().unwrap_or(tlsrpt_core::summary::UNKNOWN);
            @if ctx.account.admin || ctx.account.can_see(pd) {
                section.policy data-policy-domain=(pd) {
                    h2 { "Policy " (i + 1) ": " (pd) " (" (p.policy.policy_type.as_str()) ")" }
                    p {
                        span data-successful=(p.summary.total_successful_session_count) { (p.summary.total_successful_session_count) " successful" }
                        ", "
                        span data-failed=(p.summary.total_failure_session_count) { (p.summary.total_failure_session_count) " failed sessions" }
                    }
                    @if !p.policy.policy_string.is_empty() {
                        pre { @for l in &p.policy.policy_string { (l.as_ref()) "\n" } }
                    }
                    @if !p.failure_details.is_empty() {
                        div.tablewrap { table.failures {
                            thead { tr { th { "Result type" } th { "Receiving MX" } th { "Sending IP" } th { "Receiving IP" } th.n { "Failed" } th { "Reason" } } }
                            tbody { @for f in &p.failure_details {
                                tr data-failed=(f.failed_session_count) {
                                    td { (f.result_type.as_str()) }
                                    td { (f.receiving_mx_hostname.as_deref().unwrap_or("–")) }
                                    td { (f.sending_mta_ip.as_ref().map_or_else(|| "–".to_owned(), ToString::to_string)) }
                                    td { (f.receiving_ip.as_ref().map_or_else(|| "–".to_owned(), ToString::to_string)) }
                                    td.n { (f.failed_session_count) }
                                    td { (f.failure_reason_code.as_deref().unwrap_or("")) }
                                }
                            } }
                        } }
                    }
                }
            }
        }
        h2 { "Normalized JSON" }
        (html::copyable("report-json", &pretty))
    };
    Ok(html::page(
        &format!("Report {}", report.report_id.as_ref()),
        Some(ctx.account),
        ctx.csrf_token,
        &body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse() {
        assert_eq!(PageRoute::parse("/", None), Some(PageRoute::Overview));
        assert_eq!(
            PageRoute::parse("/", Some("sort=failures&order=desc&page=3")),
            Some(PageRoute::OverviewPage {
                query: OverviewQuery {
                    sort: SortKey::Failures,
                    desc: true,
                    page: 3
                }
            })
        );
        assert_eq!(
            PageRoute::parse("/domains/example.com", Some("days=90")),
            Some(PageRoute::Domain {
                domain: "example.com".into(),
                days: 90
            })
        );
        assert_eq!(
            PageRoute::parse("/domains/example.com", Some("days=12")),
            Some(PageRoute::Domain {
                domain: "example.com".into(),
                days: 7
            })
        );
        assert_eq!(PageRoute::parse("/alerts", None), Some(PageRoute::Alerts));
        assert_eq!(PageRoute::parse("/reports/", None), None);
        assert_eq!(PageRoute::parse("/nope", None), None);
    }

    #[test]
    fn csp_hashes_the_inline_parts() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(!csp.contains("unsafe-inline"));
    }

    #[test]
    fn login_page_escapes() {
        let p = login_page(Some("<b>bad</b>"), "tok\"en");
        assert!(p.contains("&lt;b&gt;bad&lt;/b&gt;"));
        assert!(p.contains("value=\"tok&quot;en\""));
        assert!(p.contains("name=\"viewport\""));
    }
}
