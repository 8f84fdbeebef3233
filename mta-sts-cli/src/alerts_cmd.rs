//! `mtasts alerts`: list the alerts of the site store with their delivery
//! state; `mtasts alerts probe` runs the scheduled probes once;
//! `mtasts alerts deliver` sends the deliveries that are due (for cron).
//! [`AlertChannelArgs`] and [`ProbeEveryArgs`] are the options `mtasts
//! serve` shares.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use mta_sts_check::CheckOptions;
use mta_sts_core::display::escape_controls;
use mta_sts_core::time::Timestamp;
use mtasts_site::alerts::probe::{self, ProbeConfig};
use mtasts_site::alerts::store::{DeliveryAttempt, StoredAlert};
use mtasts_site::alerts::{AlertConfig, Alerter, MailConfig, delivery_state};
use mtasts_site::store::SiteStore;
use serde_json::{Value, json};

use crate::domain_cmd::StoreArgs;
use crate::{NetArgs, output};

/// Where alerts are delivered (shared with `mtasts serve`).
#[derive(Debug, Clone, Args)]
pub(crate) struct AlertChannelArgs {
    /// POST each new alert as JSON to this https:// URL (Slack and
    /// Mattermost show its `text`).
    #[arg(long, value_name = "URL")]
    pub(crate) alert_webhook: Option<String>,
    /// Mail each new alert through this SMTP relay: smtp://HOST[:PORT]
    /// (STARTTLS required; `?tls=opportunistic` or `?tls=none` for a
    /// local relay) or smtps://HOST[:PORT].
    #[arg(long, value_name = "URL", requires_all = ["alert_to", "alert_from"])]
    pub(crate) alert_smtp: Option<String>,
    /// A recipient of alert mail (repeat for several).
    #[arg(long, value_name = "ADDR", requires = "alert_smtp")]
    pub(crate) alert_to: Vec<String>,
    /// The sender of alert mail (From: and envelope).
    #[arg(long, value_name = "ADDR", requires = "alert_smtp")]
    pub(crate) alert_from: Option<String>,
    /// Trust anchors (PEM) for the relay's certificate instead of the system's.
    #[arg(long, value_name = "PEM", requires = "alert_smtp")]
    pub(crate) alert_smtp_ca_file: Option<PathBuf>,
    /// The same alert (domain, result type, MX host) is raised at most once
    /// in this many hours; repeats update its counts.
    #[arg(long, value_name = "HOURS", default_value_t = 24,
          value_parser = clap::value_parser!(u64).range(1..=8784))]
    pub(crate) alert_quiet: u64,
}

impl AlertChannelArgs {
    /// The alert configuration; `net` gives the resolver and trust
    /// anchors for the webhook.
    pub(crate) fn config(&self, net: Option<&NetArgs>) -> AlertConfig {
        AlertConfig {
            quiet: Duration::from_secs(self.alert_quiet.saturating_mul(3600)),
            webhook: self.alert_webhook.clone(),
            mail: self.alert_smtp.as_ref().map(|relay| MailConfig {
                relay: relay.clone(),
                to: self.alert_to.clone(),
                from: self.alert_from.clone().unwrap_or_default(),
                ca_file: self.alert_smtp_ca_file.clone(),
            }),
            overrides: net.map(NetArgs::overrides).unwrap_or_default(),
            ..AlertConfig::default()
        }
    }
}

/// `--probe-every HOURS` (shared with `mtasts serve`).
#[derive(Debug, Clone, Args)]
pub(crate) struct ProbeEveryArgs {
    /// Probe every hosted domain (MX certificates expiring within 14 days,
    /// MX hosts the policy does not cover, a stale _mta-sts id) this often,
    /// in hours; 0 turns the probes off.
    #[arg(long, value_name = "HOURS", default_value_t = 6,
          value_parser = clap::value_parser!(u64).range(0..=8784))]
    pub(crate) probe_every: u64,
}

impl ProbeEveryArgs {
    /// The interval, `None` when off.
    pub(crate) fn every(&self) -> Option<Duration> {
        (self.probe_every > 0).then(|| Duration::from_secs(self.probe_every * 3600))
    }
}

/// Arguments of `mtasts alerts`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Lists the alerts of the site store, newest first, with the state of each \
                  delivery (pending, delivered, retrying, failed, gave-up) and its attempts. \
                  Alerts are raised when a stored TLS-RPT report has failed sessions (one per \
                  policy domain, result type and MX host within --alert-quiet) and by the \
                  scheduled probes.\n\n\
                  Exit status: 0 listed, 1 the store failed, 2 usage errors."
)]
pub(crate) struct AlertsArgs {
    /// Run the probes or deliver.
    #[command(subcommand)]
    pub(crate) command: Option<AlertsCommand>,
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Only the alerts of this domain.
    #[arg(long, value_name = "DOMAIN")]
    pub(crate) domain: Option<String>,
    /// At most this many alerts.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) limit: usize,
}

/// `mtasts alerts probe|deliver`.
#[derive(Debug, Subcommand)]
pub(crate) enum AlertsCommand {
    /// Probe every hosted domain once and raise alerts for what is found.
    Probe(ProbeArgs),
    /// Send the alert deliveries that are due (first attempts and retries).
    Deliver(DeliverArgs),
}

/// Arguments of `mtasts alerts probe`.
#[derive(Debug, Args)]
#[command(
    after_help = "Checks each hosted domain as `mtasts check` does (MX lookup, STARTTLS probe \
                  of every MX host) and its DNS as `mtasts domain verify` does; raises an alert \
                  with its fix for an MX certificate expiring within 14 days (or expired), an MX \
                  host the policy does not cover, and an _mta-sts id that is not the served \
                  policy's. New alerts are delivered at once to the configured channels.\n\n\
                  Exit status: 0 when every domain was probed (whatever was found), 1 when a \
                  probe could not run or the store failed, 2 usage errors."
)]
pub(crate) struct ProbeArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Resolver, trust anchors and ports.
    #[command(flatten)]
    pub(crate) net: NetArgs,
    /// Where new alerts go.
    #[command(flatten)]
    pub(crate) channels: AlertChannelArgs,
}

/// Arguments of `mtasts alerts deliver`.
#[derive(Debug, Args)]
#[command(
    after_help = "Sends every delivery that is due: alerts raised in the last 24 hours not yet \
                  sent to a configured channel, and retries of temporary failures (after 5 min, \
                  15 min, 45 min, 2 h 15, then every 6 h, plus up to 20 % jitter). Every attempt \
                  is kept in the store.\n\n\
                  Exit status: 0 done (failed attempts included: they are retried), 1 the store \
                  failed or a channel is misconfigured, 2 usage errors."
)]
pub(crate) struct DeliverArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Where alerts go.
    #[command(flatten)]
    pub(crate) channels: AlertChannelArgs,
    /// The only DNS server to use for the webhook host (IP:PORT).
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) resolver: Option<std::net::SocketAddr>,
    /// Trust anchors (PEM) for the webhook's certificate instead of the system's.
    #[arg(long, value_name = "PEM")]
    pub(crate) ca_file: Option<PathBuf>,
}

/// The time now, in Unix seconds.
fn now() -> i64 {
    Timestamp::from_system_time(SystemTime::now()).secs
}

fn rfc3339(t: i64) -> String {
    Timestamp::from_unix(t).to_string()
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("async runtime")
}

fn open_store(args: &StoreArgs) -> Result<Arc<dyn SiteStore>> {
    mtasts_site::store::open(&args.location()).context("site store")
}

/// `mtasts alerts ...`.
pub(crate) fn run(args: &AlertsArgs, json: bool) -> Result<()> {
    match &args.command {
        Some(AlertsCommand::Probe(a)) => probe_cmd(a, json),
        Some(AlertsCommand::Deliver(a)) => deliver_cmd(a, json),
        None => list(&args.store, args.domain.as_deref(), args.limit, json),
    }
}

/// Each destination of an alert's attempts with its state and attempts.
fn deliveries(alert: &StoredAlert, attempts: &[DeliveryAttempt]) -> Vec<(String, &'static str)> {
    let retry = AlertConfig::default().retry;
    let dests: BTreeSet<&str> = attempts.iter().map(|a| a.destination.as_str()).collect();
    dests
        .into_iter()
        .map(|d| (d.to_owned(), delivery_state(&retry, alert.id, d, attempts)))
        .collect()
}

fn alert_json(alert: &StoredAlert, attempts: &[DeliveryAttempt]) -> Value {
    let deliveries: Vec<Value> = deliveries(alert, attempts)
        .into_iter()
        .map(|(d, state)| {
            let tries: Vec<Value> = attempts
                .iter()
                .filter(|a| a.destination == d)
                .map(|a| json!({"at": rfc3339(a.at), "result": a.result, "detail": a.detail}))
                .collect();
            json!({"destination": d, "state": state, "attempts": tries})
        })
        .collect();
    json!({
        "id": alert.id,
        "source": alert.source,
        "severity": alert.severity,
        "domain": alert.domain,
        "result_type": alert.result_type,
        "mx_host": alert.mx_host,
        "failed_sessions": alert.failed_sessions,
        "first_seen": rfc3339(alert.first_seen),
        "raised_at": rfc3339(alert.raised_at),
        "last_seen": rfc3339(alert.last_seen),
        "repeats": alert.repeats,
        "reporting_organizations": alert.reporting_organizations,
        "sending_mta_ips": alert.sending_mta_ips,
        "report_ids": alert.report_ids,
        "title": alert.title,
        "remediation": alert.remediation,
        "text": alert.text,
        "deliveries": deliveries,
    })
}

fn render(list: &[(StoredAlert, Vec<DeliveryAttempt>)]) -> String {
    let mut out = String::new();
    if list.is_empty() {
        out.push_str("No alerts.\n");
    }
    for (a, attempts) in list {
        let _ = writeln!(
            out,
            "#{} {} {} {} {}{}: {} failed session{}{}",
            a.id,
            rfc3339(a.raised_at),
            a.severity,
            escape_controls(&a.domain),
            escape_controls(&a.result_type),
            a.mx_host
                .as_deref()
                .map(|m| format!(" {}", escape_controls(m)))
                .unwrap_or_default(),
            a.failed_sessions,
            if a.failed_sessions == 1 { "" } else { "s" },
            match a.repeats {
                0 => String::new(),
                1 => " (1 repeat)".to_owned(),
                n => format!(" ({n} repeats)"),
            }
        );
        let _ = writeln!(out, "    {}", escape_controls(&a.title));
        for step in a.remediation.lines() {
            let _ = writeln!(out, "    fix: {}", escape_controls(step));
        }
        let ds = deliveries(a, attempts);
        if ds.is_empty() {
            out.push_str("    delivery: none attempted\n");
        }
        for (d, state) in ds {
            let tries: Vec<&DeliveryAttempt> =
                attempts.iter().filter(|x| x.destination == d).collect();
            let last = tries
                .last()
                .map(|x| format!(", last: {}", escape_controls(&x.detail)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    delivery: {} {state} ({} attempt{}{last})",
                escape_controls(&d),
                tries.len(),
                if tries.len() == 1 { "" } else { "s" }
            );
        }
    }
    out
}

/// `mtasts alerts`.
fn list(store: &StoreArgs, domain: Option<&str>, limit: usize, json: bool) -> Result<()> {
    let store = open_store(store)?;
    let domain = domain
        .map(|d| mta_sts_core::domain::normalize(d).with_context(|| format!("--domain {d}")))
        .transpose()?;
    let list = mtasts_site::alerts::list_with_attempts(store.alerts(), domain.as_deref(), limit)
        .context("reading the alerts")?;
    if json {
        let v: Vec<Value> = list.iter().map(|(a, t)| alert_json(a, t)).collect();
        output::json(&v)
    } else {
        output::text(&render(&list))
    }
}

/// `mtasts alerts probe`.
fn probe_cmd(args: &ProbeArgs, json: bool) -> Result<()> {
    let store = open_store(&args.store)?;
    let rt = runtime()?;
    let run = rt.block_on(async {
        let alerter = Alerter::new(store.clone(), args.channels.config(Some(&args.net)))
            .context("alert channels")?;
        let config = ProbeConfig {
            overrides: args.net.overrides(),
            check: CheckOptions::default(),
        };
        probe::probe_once(&store, &config, &alerter, now())
            .await
            .map_err(anyhow::Error::from)
    })?;
    drop(rt);
    if json {
        output::json(&run)?;
    } else {
        let mut out = format!(
            "Probed {} domain{}.\n",
            run.domains,
            if run.domains == 1 { "" } else { "s" }
        );
        for r in &run.findings {
            let f = &r.finding;
            let what = if r.repeat {
                format!("alert #{}, repeat", r.alert_id)
            } else {
                format!("alert #{}", r.alert_id)
            };
            let _ = writeln!(
                out,
                "{} {} {}{} ({what}): {}\n    fix: {}",
                f.severity,
                escape_controls(&f.domain),
                f.code,
                f.mx_host
                    .as_deref()
                    .map(|m| format!(" {}", escape_controls(m)))
                    .unwrap_or_default(),
                escape_controls(&f.message),
                escape_controls(&f.fix)
            );
        }
        output::text(&out)?;
    }
    if !run.errors.is_empty() {
        let names: Vec<String> = run
            .errors
            .iter()
            .map(|(d, e)| format!("{d}: {e}"))
            .collect();
        bail!("probe failed for {}", names.join("; "));
    }
    Ok(())
}

/// `mtasts alerts deliver`.
fn deliver_cmd(args: &DeliverArgs, json: bool) -> Result<()> {
    let store = open_store(&args.store)?;
    let mut config = args.channels.config(None);
    config.overrides.resolver = args.resolver;
    config.overrides.ca_file.clone_from(&args.ca_file);
    let rt = runtime()?;
    let summary = rt.block_on(async {
        let alerter = Alerter::new(store.clone(), config).context("alert channels")?;
        alerter
            .deliver_pending(now())
            .await
            .map_err(anyhow::Error::from)
    })?;
    drop(rt);
    if json {
        output::json(&summary)
    } else {
        output::text(&format!(
            "{} delivered, {} failed (retried later), {} failed for good\n",
            summary.delivered, summary.temporary, summary.permanent
        ))
    }
}
