//! Scheduled probes: every `--probe-every` (default 6 h) each hosted
//! domain is checked as `mtasts check` does ([`Checker`]: the MX lookup
//! and an SMTP STARTTLS probe of every MX host) and its live DNS against
//! the site as `mtasts domain verify` does ([`crate::verify`]), and three
//! things raise an alert with their fix ([`Alerter::raise_probe_alert`],
//! quiet period as for reports):
//!
//! - `mx-certificate-expiring` / `mx-certificate-expired`: the
//!   certificate an MX host presents expires within [`EXPIRY_WINDOW`]
//!   (14 days) or has expired — caught before senders report it;
//! - `mx-not-covered`: an MX host that the served policy's `mx` patterns
//!   do not cover;
//! - `sts-id-stale`: the `_mta-sts` TXT id is not the id of the served
//!   policy ([`crate::domains::published`]).
//!
//! Domains being removed are not probed. Domains are probed one after
//! the other.

use std::sync::Arc;
use std::time::Duration;

use mta_sts_check::check::CheckCode;
use mta_sts_check::{CheckOptions, CheckReport, Checker};
use mta_sts_core::time::Timestamp;
use policy_fetch::Overrides;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::store::Raised;
use super::{AlertError, Alerter, ProbeFinding};
use crate::store::SiteStore;
use crate::verify::{self, VerifyCode};

/// Certificates expiring within this are alerted on.
pub const EXPIRY_WINDOW: Duration = Duration::from_secs(14 * 86_400);

/// The default `--probe-every`.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(6 * 3600);

/// How the probes look (the settings of `mtasts check`).
#[derive(Debug, Clone, Default)]
pub struct ProbeConfig {
    /// Resolver, trust anchors and ports (`--resolver`, `--ca-file`,
    /// `--smtp-port`, ...).
    pub overrides: Overrides,
    /// Timeouts and probe settings.
    pub check: CheckOptions,
}

/// Why a probe run could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The checker (resolver, trust anchors) could not be set up.
    #[error("probes: {0}")]
    Setup(#[source] mta_sts_check::CheckError),
    /// The resolver could not be set up.
    #[error("probes: {0}")]
    Dns(#[source] policy_fetch::FetchError),
    /// The store failed.
    #[error(transparent)]
    Alert(#[from] AlertError),
}

/// What one run found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProbeRun {
    /// Domains probed.
    pub domains: usize,
    /// Every finding, with the alert it raised or updated.
    pub findings: Vec<RaisedFinding>,
    /// Domains whose probe failed, with why.
    pub errors: Vec<(String, String)>,
}

/// A finding and what raising it did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RaisedFinding {
    /// The finding.
    #[serde(flatten)]
    pub finding: ProbeFinding,
    /// The alert raised, or updated when `repeat`.
    pub alert_id: i64,
    /// Whether an alert of the same key was raised within the quiet
    /// period (and was updated instead of a new one).
    pub repeat: bool,
}

/// Unix seconds now.
fn unix_now() -> i64 {
    Timestamp::from_system_time(std::time::SystemTime::now()).secs
}

/// The leaf's notAfter (Unix seconds) of a DER chain.
fn not_after(chain: &[rustls_pki_types::CertificateDer<'static>]) -> Option<i64> {
    let leaf = chain.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// The certificate findings of a check report.
fn certificate_findings(report: &CheckReport, now: i64) -> Vec<ProbeFinding> {
    let window = i64::try_from(EXPIRY_WINDOW.as_secs()).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    for mx in &report.mx {
        let Some(end) = not_after(&mx.chain) else {
            continue;
        };
        let left = end.saturating_sub(now);
        if left > window {
            continue;
        }
        let host = &mx.host;
        let when = Timestamp::from_unix(end);
        let (code, message) = if left <= 0 {
            (
                "mx-certificate-expired",
                format!(
                    "the certificate of MX {host} expired at {when}: senders applying the policy refuse it (enforce) or report it (testing)"
                ),
            )
        } else {
            let days = (left + 43_200) / 86_400;
            (
                "mx-certificate-expiring",
                format!(
                    "the certificate of MX {host} expires at {when}, in {days} day{}: senders applying the policy refuse it (enforce) or report it (testing) once it has expired",
                    if days == 1 { "" } else { "s" }
                ),
            )
        };
        // The check's own fix for this host, when it made a finding.
        let check_fix = report
            .findings
            .iter()
            .find(|f| {
                matches!(
                    f.code,
                    CheckCode::MxCertificateExpiring | CheckCode::MxCertificateExpired
                ) && f.message.contains(host.as_str())
            })
            .map(|f| f.remediation.clone());
        let fix = format!(
            "{}; check the renewal automation on {host} (certbot or acme.sh timer, and the deploy hook that reloads the SMTP server); verify with `openssl s_client -starttls smtp -connect {host}:25 -servername {host} </dev/null | openssl x509 -noout -enddate`",
            check_fix.unwrap_or_else(|| format!(
                "renew the certificate of {host} now (and automate its renewal)"
            ))
        );
        out.push(ProbeFinding {
            domain: report.domain.clone(),
            code: code.to_owned(),
            mx_host: Some(host.clone()),
            severity: if left <= 3 * 86_400 {
                "error"
            } else {
                "warning"
            }
            .to_owned(),
            message,
            fix,
        });
    }
    out
}

/// The host named by a `mx-not-covered` finding of `verify`.
fn uncovered_host(message: &str) -> Option<String> {
    let rest = message.strip_prefix("MX host ")?;
    let (host, _) = rest.split_once(' ')?;
    Some(host.to_owned())
}

/// Probe one hosted domain (no alert raised).
///
/// # Errors
///
/// A description of what failed (not hosted, store, invalid name).
pub async fn probe_domain(
    store: &Arc<dyn SiteStore>,
    checker: &Checker,
    dns: &policy_fetch::Dns,
    domain: &str,
    now: i64,
) -> Result<Vec<ProbeFinding>, String> {
    let (check, verified) = tokio::join!(
        checker.check(domain),
        verify::verify(store, domain, dns, None, now)
    );
    let check = check.map_err(|e| e.to_string())?;
    let verified = verified.map_err(|e| e.to_string())?;
    let mut out = certificate_findings(&check, now);
    for f in &verified.findings {
        let (code, mx_host) = match f.code {
            VerifyCode::MxNotCovered => ("mx-not-covered", uncovered_host(&f.message)),
            VerifyCode::StsIdStale => ("sts-id-stale", None),
            _ => continue,
        };
        out.push(ProbeFinding {
            domain: verified.domain.clone(),
            code: code.to_owned(),
            mx_host,
            severity: f.severity.as_str().to_owned(),
            message: f.message.clone(),
            fix: f.remediation.clone(),
        });
    }
    Ok(out)
}

/// Probe every hosted domain once and raise an alert for each finding.
///
/// # Errors
///
/// [`ProbeError`] when the checker cannot be set up or the store fails;
/// a domain whose probe fails is listed in [`ProbeRun::errors`].
pub async fn probe_once(
    store: &Arc<dyn SiteStore>,
    config: &ProbeConfig,
    alerter: &Alerter,
    now: i64,
) -> Result<ProbeRun, ProbeError> {
    let checker = Checker::new(&config.overrides, &config.check).map_err(ProbeError::Setup)?;
    let dns = config.overrides.dns().map_err(ProbeError::Dns)?;
    let s = store.clone();
    let domains = tokio::task::spawn_blocking(move || s.domains())
        .await
        .map_err(|e| ProbeError::Alert(AlertError::Task(e)))?
        .map_err(|e| ProbeError::Alert(AlertError::Store(e)))?;
    let mut run = ProbeRun::default();
    for d in domains.iter().filter(|d| d.removing_until.is_none()) {
        run.domains += 1;
        match probe_domain(store, &checker, &dns, &d.name, now).await {
            Ok(findings) => {
                for f in findings {
                    let raised = alerter.raise_probe_alert(&f, now).await?;
                    run.findings.push(RaisedFinding {
                        finding: f,
                        alert_id: raised.id(),
                        repeat: matches!(raised, Raised::Repeat(_)),
                    });
                }
            }
            Err(e) => {
                tracing::warn!(domain = %d.name, error = %e, "probe failed");
                run.errors.push((d.name.clone(), e));
            }
        }
    }
    Ok(run)
}

/// Run [`probe_once`] every `every` (at least a minute; the first run at
/// once) until `shutdown` changes (to true) or its sender is dropped; a
/// run under way is abandoned then. Failures are logged.
pub fn spawn(
    store: Arc<dyn SiteStore>,
    config: ProbeConfig,
    alerter: Arc<Alerter>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = every.max(Duration::from_secs(60));
        loop {
            if *shutdown.borrow() {
                return;
            }
            // A run is abandoned on shutdown (each raise is one
            // transaction: nothing is left half-written).
            let result = tokio::select! {
                r = probe_once(&store, &config, &alerter, unix_now()) => r,
                _ = shutdown.changed() => return,
            };
            match result {
                Ok(run) => tracing::info!(
                    domains = run.domains,
                    findings = run.findings.len(),
                    errors = run.errors.len(),
                    "scheduled probes done"
                ),
                Err(e) => tracing::warn!(error = %crate::Chain(&e), "scheduled probes failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                r = shutdown.changed() => if r.is_err() { return },
            }
        }
    })
}
