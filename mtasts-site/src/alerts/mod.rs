//! Alerts: failures seen in stored reports and in scheduled probes,
//! raised once per (policy domain, result type, MX host) within a quiet
//! period, delivered by webhook and e-mail with retries, and kept in the
//! store.
//!
//! # Raising
//!
//! [`Alerter::on_report`] (called by the inbox after a report was stored
//! the first time) groups the report's failure details by (policy
//! domain, result type, receiving MX host) and raises one alert per
//! group, with the severity, title and remediation steps of
//! [`tlsrpt_core::alert`]. [`Alerter::raise_probe_alert`] raises the
//! findings of the scheduled probes ([`probe`]).
//!
//! Within the quiet period ([`AlertConfig::quiet`], `--alert-quiet
//! HOURS`, default 24 h) after an alert was raised, the same key raises
//! no new alert: the existing one is updated instead (failed sessions
//! added, organizations, sending IPs and report ids merged, `first_seen`
//! the earlier, `last_seen` now, `repeats` + 1) and nothing is sent
//! again. After the quiet period the next occurrence is a new alert.
//!
//! # Delivery
//!
//! Every new alert goes to every configured destination: the webhook
//! (`--alert-webhook URL`: an HTTPS POST of [`deliver::WebhookBody`] as
//! `application/json`, through `policy-fetch`'s
//! [`ReportPoster`], certificates always verified) and each e-mail
//! recipient (`--alert-to`, through the SMTP relay `--alert-smtp URL`
//! with `policy-fetch`'s [`MailRelay`], lettre on rustls). Each attempt is
//! kept in the store (`alert_deliveries`). A temporary failure (network,
//! timeout, HTTP 408/429/5xx, SMTP 4xx) is retried on `policy-fetch`'s
//! [`RetrySchedule`]: 5 min, 15 min, 45 min, 2 h 15, then every 6 h
//! (each plus up to 20 % jitter), for at most 24 h after the first
//! attempt; a permanent failure (other HTTP 4xx, SMTP 5xx) is not
//! retried. [`Alerter::deliver_pending`] sends what is due: after each
//! raise (unless [`AlertConfig::deliver_on_raise`] is off), every minute
//! under `mtasts serve` ([`spawn_delivery`]), or from cron with `mtasts
//! alerts deliver`. A delivery claims the alert in the store for
//! [`CLAIM_SECS`], so nodes sharing a PostgreSQL store do not send it
//! twice.
//!
//! The store is blocking; every store call here runs on the blocking
//! pool ([`tokio::task::spawn_blocking`]).

pub mod deliver;
pub mod pg;
pub mod probe;
pub mod sqlite;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mta_sts_core::time::Timestamp;
use policy_fetch::Overrides;
use policy_fetch::report_delivery::{
    AttemptResult, InvalidCertificates, MailRelay, PostSettings, ReportPoster, RetrySchedule,
    jitter_seed,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::{SiteStore, StoreError};
use deliver::{RelayUrlError, WebhookBody};
use store::{AlertStore, DeliveryAttempt, MAX_LIST, NewAlert, Raised, StoredAlert};

/// The default quiet period (`--alert-quiet 24`).
pub const DEFAULT_QUIET: Duration = Duration::from_secs(24 * 3600);

/// How long a delivery claims an alert (longer than any delivery takes).
pub const CLAIM_SECS: i64 = 600;

/// How often [`spawn_delivery`] looks for due deliveries by default.
pub const DELIVERY_INTERVAL: Duration = Duration::from_secs(60);

/// E-mail delivery of alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// `--alert-smtp URL` (see [`deliver::relay_settings`]).
    pub relay: String,
    /// `--alert-to ADDR` (one or more).
    pub to: Vec<String>,
    /// `--alert-from ADDR`: the `From:` and envelope sender.
    pub from: String,
    /// Trust anchors (PEM) for the relay's certificate instead of the
    /// system's.
    pub ca_file: Option<PathBuf>,
}

/// How alerts are raised and delivered.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// The quiet period (see the module docs).
    pub quiet: Duration,
    /// `--alert-webhook URL` (`https:` only).
    pub webhook: Option<String>,
    /// E-mail through an SMTP relay.
    pub mail: Option<MailConfig>,
    /// The resolver and trust anchors used for the webhook (`ca_file`
    /// replaces the system's roots, as for `mtasts check`).
    pub overrides: Overrides,
    /// The retry schedule (see the module docs).
    pub retry: RetrySchedule,
    /// Webhook timeouts (connect 10 s, whole POST 30 s by default).
    pub post: PostSettings,
    /// Whether [`Alerter::on_report`] and [`Alerter::raise_probe_alert`]
    /// deliver new alerts at once (default true; a process that only
    /// ingests can leave it to `mtasts alerts deliver`).
    pub deliver_on_raise: bool,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            quiet: DEFAULT_QUIET,
            webhook: None,
            mail: None,
            overrides: Overrides::default(),
            retry: RetrySchedule::default(),
            post: PostSettings {
                total_timeout: Duration::from_secs(30),
                invalid_certificates: InvalidCertificates::Refuse,
                ..PostSettings::default()
            },
            deliver_on_raise: true,
        }
    }
}

/// Why alerts could not be set up, raised or delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlertError {
    /// The webhook URL is not an `https:` URL.
    #[error("--alert-webhook `{0}`: only https:// URLs are supported")]
    WebhookUrl(String),
    /// The relay URL is not usable.
    #[error(transparent)]
    RelayUrl(#[from] RelayUrlError),
    /// E-mail is configured without a recipient.
    #[error("--alert-smtp needs at least one --alert-to address")]
    NoRecipient,
    /// The SMTP relay client could not be set up.
    #[error("alert mail: {0}")]
    Relay(#[source] policy_fetch::report_delivery::DeliveryError),
    /// The resolver or the trust anchors of the webhook could not be set
    /// up.
    #[error("alert webhook: {0}")]
    Webhook(#[source] policy_fetch::FetchError),
    /// The store failed.
    #[error("alerts: {0}")]
    Store(#[from] StoreError),
    /// A blocking store task ended abnormally.
    #[error("alerts: the store task stopped: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// What [`Alerter::deliver_pending`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliverySummary {
    /// Attempts that delivered.
    pub delivered: usize,
    /// Attempts that failed and will be retried.
    pub temporary: usize,
    /// Attempts that failed for good.
    pub permanent: usize,
}

/// A finding of a scheduled probe, raised as an alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProbeFinding {
    /// The hosted domain.
    pub domain: String,
    /// `mx-certificate-expiring`, `mx-certificate-expired`,
    /// `mx-not-covered` or `sts-id-stale` (the alert's result type).
    pub code: String,
    /// The MX host concerned, when one is.
    pub mx_host: Option<String>,
    /// `error` or `warning`.
    pub severity: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

/// Raises and delivers alerts.
pub struct Alerter {
    store: Arc<dyn SiteStore>,
    config: AlertConfig,
    poster: Option<ReportPoster>,
    relay: Option<MailRelay>,
}

impl fmt::Debug for Alerter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alerter")
            .field("store", &self.store)
            .field("destinations", &self.destinations())
            .finish_non_exhaustive()
    }
}

/// Unix seconds now.
fn unix_now() -> i64 {
    Timestamp::from_system_time(std::time::SystemTime::now()).secs
}

/// Keep the first [`MAX_LIST`] values of a sorted set.
fn capped(set: BTreeSet<String>) -> Vec<String> {
    set.into_iter().take(MAX_LIST).collect()
}

impl Alerter {
    /// An alerter storing alerts in `store` and delivering them as
    /// `config` says.
    ///
    /// # Errors
    ///
    /// [`AlertError`] when the webhook URL or the relay settings are not
    /// usable, or the resolver or trust anchors cannot be set up.
    pub fn new(store: Arc<dyn SiteStore>, config: AlertConfig) -> Result<Self, AlertError> {
        let poster = match &config.webhook {
            None => None,
            Some(url) => {
                if !url
                    .get(..8)
                    .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
                {
                    return Err(AlertError::WebhookUrl(url.clone()));
                }
                let dns = config.overrides.dns().map_err(AlertError::Webhook)?;
                let roots = config.overrides.roots().map_err(AlertError::Webhook)?;
                Some(
                    ReportPoster::new(dns, &roots, config.post.clone())
                        .map_err(AlertError::Webhook)?,
                )
            }
        };
        let relay = match &config.mail {
            None => None,
            Some(m) => {
                if m.to.is_empty() {
                    return Err(AlertError::NoRecipient);
                }
                let settings = deliver::relay_settings(&m.relay, &m.from, m.ca_file.clone())?;
                Some(MailRelay::new(&settings).map_err(AlertError::Relay)?)
            }
        };
        Ok(Self {
            store,
            config,
            poster,
            relay,
        })
    }

    /// An alerter that stores alerts and delivers nothing (the default
    /// quiet period).
    #[must_use]
    pub fn store_only(store: Arc<dyn SiteStore>) -> Self {
        Self {
            store,
            config: AlertConfig::default(),
            poster: None,
            relay: None,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn SiteStore> {
        &self.store
    }

    /// Where new alerts go: the webhook URL and `mailto:` each recipient.
    #[must_use]
    pub fn destinations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(w) = &self.config.webhook {
            out.push(w.clone());
        }
        if let Some(m) = &self.config.mail {
            out.extend(m.to.iter().map(|t| format!("mailto:{t}")));
        }
        out
    }

    /// Run `f` with the alert store on the blocking pool.
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn AlertStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, AlertError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.alerts()))
            .await
            .map_err(AlertError::Task)?
            .map_err(AlertError::Store)
    }

    fn quiet_secs(&self) -> i64 {
        i64::try_from(self.config.quiet.as_secs()).unwrap_or(i64::MAX)
    }

    /// Called by the inbox after a report was stored for the first time:
    /// raise an alert per (policy domain, result type, receiving MX host)
    /// with failed sessions, unless the same one was raised within the
    /// quiet period. Never fails the ingest: problems are logged, and
    /// delivery failures are kept in the store and retried.
    pub async fn on_report(&self, report: &tlsrpt_core::Report<'_>, now: i64) {
        if let Err(e) = self.raise_report(report, now).await {
            tracing::warn!(
                error = %crate::Chain(&e),
                organization = %report.organization_name,
                report_id = %report.report_id,
                "alerts of a report could not be raised"
            );
        }
    }

    /// The alerts of a report (see [`Alerter::on_report`]), raised and,
    /// when [`AlertConfig::deliver_on_raise`], delivered; returns what
    /// each group did.
    ///
    /// # Errors
    ///
    /// [`AlertError`] when the store fails.
    pub async fn raise_report(
        &self,
        report: &tlsrpt_core::Report<'_>,
        now: i64,
    ) -> Result<Vec<Raised>, AlertError> {
        let alerts: Vec<NewAlert> = report_alerts(report).into_iter().map(without_nul).collect();
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let quiet = self.quiet_secs();
        let raised = self
            .with_store(move |s| {
                alerts
                    .iter()
                    .map(|a| s.raise(a, quiet, now))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        self.after_raise(&raised, now).await;
        Ok(raised)
    }

    /// Raise the finding of a scheduled probe (quiet period as for
    /// reports) and deliver it when new.
    ///
    /// # Errors
    ///
    /// [`AlertError`] when the store fails.
    pub async fn raise_probe_alert(
        &self,
        finding: &ProbeFinding,
        now: i64,
    ) -> Result<Raised, AlertError> {
        let alert = without_nul(probe_alert(finding, now));
        let quiet = self.quiet_secs();
        let raised = self
            .with_store(move |s| s.raise(&alert, quiet, now))
            .await?;
        self.after_raise(&[raised], now).await;
        Ok(raised)
    }

    async fn after_raise(&self, raised: &[Raised], now: i64) {
        if self.config.deliver_on_raise
            && raised.iter().any(|r| matches!(r, Raised::New(_)))
            && let Err(e) = self.deliver_pending(now).await
        {
            tracing::warn!(error = %crate::Chain(&e), "alert delivery failed; it is retried later");
        }
    }

    /// Send every delivery that is due at `now`: for each alert raised
    /// within the retry window and each destination, the first attempt,
    /// or the next one when the retry schedule says so. Every attempt is
    /// stored.
    ///
    /// # Errors
    ///
    /// [`AlertError`] when the store fails (sending failures are
    /// attempts, not errors).
    pub async fn deliver_pending(&self, now: i64) -> Result<DeliverySummary, AlertError> {
        let destinations = self.destinations();
        let mut summary = DeliverySummary::default();
        if destinations.is_empty() {
            return Ok(summary);
        }
        let window = i64::try_from(self.config.retry.window.as_secs()).unwrap_or(i64::MAX);
        let since = now.saturating_sub(window);
        let alerts = self.with_store(move |s| s.alerts_since(since)).await?;
        for alert in alerts {
            let id = alert.id;
            let attempts = self.with_store(move |s| s.attempts(id)).await?;
            let due: Vec<&String> = destinations
                .iter()
                .filter(|d| {
                    let tries = attempts
                        .iter()
                        .filter(|a| &a.destination == *d)
                        .filter_map(|a| {
                            AttemptResult::from_name(&a.result)
                                .map(|r| (Timestamp::from_unix(a.at), r))
                        });
                    self.config
                        .retry
                        .next(tries, jitter_seed(&id.to_string(), d))
                        .is_due(Timestamp::from_unix(now))
                })
                .collect();
            if due.is_empty() {
                continue;
            }
            let claimed = self
                .with_store(move |s| s.claim_delivery(id, now, now.saturating_add(CLAIM_SECS)))
                .await?;
            if !claimed {
                continue;
            }
            let mut done = Vec::new();
            for d in due {
                let a = self.send(&alert, d, now).await;
                match a.result.as_str() {
                    "delivered" => summary.delivered += 1,
                    "permanent" => summary.permanent += 1,
                    _ => summary.temporary += 1,
                }
                tracing::info!(
                    alert = id,
                    destination = %a.destination,
                    result = %a.result,
                    detail = %a.detail,
                    "alert delivery attempt"
                );
                done.push(a);
            }
            self.with_store(move |s| s.finish_delivery(id, &done))
                .await?;
        }
        Ok(summary)
    }

    /// One attempt to send `alert` to `destination`.
    async fn send(&self, alert: &StoredAlert, destination: &str, now: i64) -> DeliveryAttempt {
        let at = Timestamp::from_unix(now);
        let attempt = if let Some(to) = destination.strip_prefix("mailto:") {
            match (&self.relay, &self.config.mail) {
                (Some(relay), Some(m)) => {
                    let msg = deliver::email(alert, &m.from, to, now);
                    Some(relay.send(to, &msg, at).await)
                }
                _ => None,
            }
        } else {
            match &self.poster {
                Some(p) => {
                    let body = WebhookBody::of(alert).to_bytes();
                    Some(p.post_as(destination, "application/json", &body, at).await)
                }
                None => None,
            }
        };
        match attempt {
            Some(a) => DeliveryAttempt {
                alert_id: alert.id,
                destination: destination.to_owned(),
                at: now,
                result: a.result.as_str().to_owned(),
                detail: a.detail,
            },
            None => DeliveryAttempt {
                alert_id: alert.id,
                destination: destination.to_owned(),
                at: now,
                result: AttemptResult::Permanent.as_str().to_owned(),
                detail: "no client for this destination is configured".to_owned(),
            },
        }
    }

    /// Alerts, newest first (of `domain` when given), at most `limit`,
    /// each with its delivery attempts.
    ///
    /// # Errors
    ///
    /// [`AlertError`] when the store fails.
    pub async fn list(
        &self,
        domain: Option<String>,
        limit: usize,
    ) -> Result<Vec<(StoredAlert, Vec<DeliveryAttempt>)>, AlertError> {
        self.with_store(move |s| list_with_attempts(s, domain.as_deref(), limit))
            .await
    }
}

/// Alerts, newest first, each with its delivery attempts (blocking).
///
/// # Errors
///
/// [`StoreError`] when the store fails.
pub fn list_with_attempts(
    s: &dyn AlertStore,
    domain: Option<&str>,
    limit: usize,
) -> Result<Vec<(StoredAlert, Vec<DeliveryAttempt>)>, StoreError> {
    s.list_alerts(domain, limit)?
        .into_iter()
        .map(|a| {
            let attempts = s.attempts(a.id)?;
            Ok((a, attempts))
        })
        .collect()
}

/// The delivery state of an alert for one destination, from its
/// attempts: `pending`, `delivered`, `retrying`, `failed` or `gave-up`.
#[must_use]
pub fn delivery_state(
    retry: &RetrySchedule,
    alert_id: i64,
    destination: &str,
    attempts: &[DeliveryAttempt],
) -> &'static str {
    use policy_fetch::report_delivery::NextAttempt;
    let tries = attempts
        .iter()
        .filter(|a| a.destination == destination)
        .filter_map(|a| {
            AttemptResult::from_name(&a.result).map(|r| (Timestamp::from_unix(a.at), r))
        });
    match retry.next(tries, jitter_seed(&alert_id.to_string(), destination)) {
        NextAttempt::Now => "pending",
        NextAttempt::At(_) => "retrying",
        NextAttempt::Delivered => "delivered",
        NextAttempt::Failed => "failed",
        NextAttempt::GaveUp => "gave-up",
    }
}

/// Run [`Alerter::deliver_pending`] every `every` until `shutdown` turns
/// true (or its sender is dropped). Errors are logged.
pub fn spawn_delivery(
    alerter: Arc<Alerter>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = every.max(Duration::from_secs(1));
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = alerter.deliver_pending(unix_now()).await {
                tracing::warn!(error = %crate::Chain(&e), "alert delivery run failed");
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                r = shutdown.changed() => if r.is_err() { return },
            }
        }
    })
}

/// `alert` with every NUL character replaced by U+FFFD (PostgreSQL text
/// cannot hold NUL; both backends store the same).
fn without_nul(mut a: NewAlert) -> NewAlert {
    fn fix(s: &mut String) {
        if s.contains('\0') {
            *s = s.replace('\0', "\u{fffd}");
        }
    }
    for s in [
        &mut a.source,
        &mut a.severity,
        &mut a.domain,
        &mut a.result_type,
        &mut a.title,
        &mut a.remediation,
        &mut a.text,
    ] {
        fix(s);
    }
    if let Some(m) = a.mx_host.as_mut() {
        fix(m);
    }
    for v in [
        &mut a.reporting_organizations,
        &mut a.sending_mta_ips,
        &mut a.report_ids,
    ] {
        v.iter_mut().for_each(fix);
    }
    a
}

/// A group of failure details of one report.
#[derive(Default)]
struct Group {
    sessions: u64,
    orgs: BTreeSet<String>,
    ips: BTreeSet<String>,
}

/// The alerts of one report: one per (policy domain, result type, MX
/// host) with failed sessions (pure).
fn report_alerts(report: &tlsrpt_core::Report<'_>) -> Vec<NewAlert> {
    use tlsrpt_core::alert::{Alert, Alerts};
    type Key = (String, String, Option<String>);
    let fold = |s: &str| mta_sts_core::domain::fold(s).into_owned();
    let mut groups: BTreeMap<Key, Group> = BTreeMap::new();
    for p in &report.policies {
        let domain = p
            .policy
            .policy_domain
            .as_deref()
            .map_or_else(String::new, fold);
        for d in &p.failure_details {
            if d.failed_session_count == 0 {
                continue;
            }
            let key = (
                domain.clone(),
                d.result_type.as_str().to_owned(),
                d.receiving_mx_hostname.as_deref().map(fold),
            );
            if !groups.contains_key(&key) && groups.len() >= tlsrpt_core::summary::MAX_GROUPS {
                continue;
            }
            let g = groups.entry(key).or_default();
            g.sessions = g.sessions.saturating_add(d.failed_session_count);
            if g.orgs.len() < MAX_LIST {
                g.orgs.insert(report.organization_name.to_string());
            }
            if let Some(ip) = &d.sending_mta_ip
                && g.ips.len() < MAX_LIST
            {
                g.ips.insert(ip.to_string());
            }
        }
    }
    if groups.is_empty() {
        return Vec::new();
    }
    // The severity, title and remediation of tlsrpt-core's alert rules;
    // a key with two classes (validation-failure with and without an MX
    // mismatch) takes the most severe first and the steps of both.
    let mut rules = Alerts::new();
    rules.add(report);
    let mut by_key: BTreeMap<Key, Vec<Alert>> = BTreeMap::new();
    for f in rules.findings() {
        let key = (
            f.where_.policy_domain.clone().unwrap_or_default(),
            f.result_type.clone(),
            f.where_.mx_host.clone(),
        );
        by_key.entry(key).or_default().push(f);
    }
    let first_seen = report.date_range.start.secs;
    groups
        .into_iter()
        .map(|(key, g)| {
            let found = by_key.get(&key).map(Vec::as_slice).unwrap_or_default();
            let (domain, result_type, mx_host) = key;
            let severity = found
                .first()
                .map_or("warning", |f| f.severity.as_str())
                .to_owned();
            let title = found.first().map_or_else(
                || format!("TLS failures ({result_type}) for {domain}"),
                |f| f.title.clone(),
            );
            let mut steps: Vec<String> = Vec::new();
            for f in found {
                for s in &f.remediation {
                    if !steps.contains(s) {
                        steps.push(s.clone());
                    }
                }
            }
            let orgs = capped(g.orgs);
            let ips = capped(g.ips);
            let text = report_text(&ReportText {
                severity: &severity,
                title: &title,
                domain: &domain,
                result_type: &result_type,
                mx_host: mx_host.as_deref(),
                sessions: g.sessions,
                first_seen,
                orgs: &orgs,
                ips: &ips,
                steps: &steps,
            });
            NewAlert {
                source: "report".to_owned(),
                severity,
                domain,
                result_type,
                mx_host,
                failed_sessions: g.sessions,
                first_seen,
                reporting_organizations: orgs,
                sending_mta_ips: ips,
                report_ids: vec![report.report_id.to_string()],
                title,
                remediation: steps.join("\n"),
                text,
            }
        })
        .collect()
}

struct ReportText<'a> {
    severity: &'a str,
    title: &'a str,
    domain: &'a str,
    result_type: &'a str,
    mx_host: Option<&'a str>,
    sessions: u64,
    first_seen: i64,
    orgs: &'a [String],
    ips: &'a [String],
    steps: &'a [String],
}

/// One paragraph: what, where, who saw it, and the fix.
fn report_text(t: &ReportText<'_>) -> String {
    let at = match t.mx_host {
        Some(mx) => format!(" at MX host {mx}"),
        None => String::new(),
    };
    let domain = if t.domain.is_empty() {
        "an unnamed policy domain"
    } else {
        t.domain
    };
    let mut s = format!(
        "{}: {}. {} failed session{} with result type {}{at} for {domain}, first seen {}, reported by {}",
        t.severity.to_ascii_uppercase(),
        t.title,
        t.sessions,
        if t.sessions == 1 { "" } else { "s" },
        t.result_type,
        Timestamp::from_unix(t.first_seen),
        t.orgs.join(", "),
    );
    if !t.ips.is_empty() {
        s.push_str(&format!(" (sending MTAs {})", t.ips.join(", ")));
    }
    s.push('.');
    if !t.steps.is_empty() {
        s.push_str(" Fix: ");
        s.push_str(&t.steps.join(" "));
    }
    mta_sts_core::display::escape_controls(&s).into_owned()
}

/// The alert of a probe finding.
fn probe_alert(f: &ProbeFinding, now: i64) -> NewAlert {
    let text = mta_sts_core::display::escape_controls(&format!(
        "{}: {} (scheduled probe of {}). Fix: {}",
        f.severity.to_ascii_uppercase(),
        f.message,
        f.domain,
        f.fix
    ))
    .into_owned();
    NewAlert {
        source: "probe".to_owned(),
        severity: f.severity.clone(),
        domain: f.domain.clone(),
        result_type: f.code.clone(),
        mx_host: f.mx_host.clone(),
        failed_sessions: 0,
        first_seen: now,
        reporting_organizations: Vec::new(),
        sending_mta_ips: Vec::new(),
        report_ids: Vec::new(),
        title: f.message.clone(),
        remediation: f.fix.clone(),
        text,
    }
}
