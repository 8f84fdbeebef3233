//! `mtasts domain verify` (the live DNS of a hosted domain against the
//! site) and `mtasts domain promote` (from `testing` to `enforce`, only
//! when it is safe).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use clap::Args;
use mta_sts_check::CheckOptions;
use mta_sts_core::display::escape_controls;
use mta_sts_core::finding::Severity;
use mta_sts_core::hosting::DEFAULT_PROMOTE_DAYS;
use mtasts_site::promote::{self, PromoteOptions, PromoteOutcome};
use mtasts_site::store::SiteStore;
use mtasts_site::verify::{self, VerifyReport};

use crate::domain_cmd::StoreArgs;
use crate::report_cmd::Batch;
use crate::{NetArgs, ReportFilesArgs, ReportLimitArgs, output};

/// Arguments of `mtasts domain verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "Looks up, through the system's resolvers or --resolver: _mta-sts.DOMAIN TXT \
                  (exactly one v=STSv1 record naming the id of the policy being served), \
                  mta-sts.DOMAIN (a CNAME to the site's target, or A/AAAA records that are the \
                  site's addresses), _smtp._tls.DOMAIN TXT (naming the configured rua) and the \
                  MX records (every MX host covered by the policy's mx patterns). Every finding \
                  comes with its fix; checks that passed are shown as ok (severity info in \
                  JSON).\n\n\
                  Exit status: 0 when no finding is an error (warnings allowed), 1 when one is \
                  or the domain is not hosted, 2 for usage errors."
)]
pub(crate) struct VerifyArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The hosted domain.
    pub(crate) domain: String,
    /// The only DNS server to use (IP:PORT); default: the system's resolvers.
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) resolver: Option<std::net::SocketAddr>,
    /// The host name mta-sts.DOMAIN should be a CNAME to [default: the
    /// site's configured target].
    #[arg(long, value_name = "HOST")]
    pub(crate) target: Option<String>,
}

/// Arguments of `mtasts domain promote`.
#[derive(Debug, Args)]
#[command(
    after_help = "Conditions: (1) mode testing; (2) at least --days whole days in testing; \
                  (3) TLS-RPT reports for the domain (from --reports) whose date range starts \
                  on or after the day it entered testing, with no failed session against an \
                  MX host the policy covers (nor a policy failure) of a result type that enforce \
                  would turn into refused mail; (4) every current MX host covered by the \
                  policy and presenting a valid certificate over STARTTLS (the live probe of \
                  `mtasts check`, on port 25 unless --smtp-port). When all hold the domain is \
                  set to mode enforce, which gives the policy a new id: publish the _mta-sts \
                  record printed. --force promotes although conditions fail, and says so. The \
                  BIMI line says whether the domain has what BIMI asks for (enforce and a \
                  TLS-RPT record).\n\n\
                  Exit status: 0 when promoted (or already in enforce), 1 when a condition \
                  fails (nothing changed) or the domain is not hosted, 2 for usage errors."
)]
pub(crate) struct PromoteArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The hosted domain.
    pub(crate) domain: String,
    /// Days the domain must have been in testing.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PROMOTE_DAYS, value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub(crate) days: u32,
    /// Promote even when conditions fail.
    #[arg(long)]
    pub(crate) force: bool,
    /// TLS-RPT reports received for the domain: files, directories
    /// (read recursively), mbox files, or `-` for stdin (as `mtasts
    /// report summarize` reads them).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub(crate) reports: Vec<PathBuf>,
    /// Largest report JSON (after gzip decompression) and decoded e-mail
    /// part, in bytes [default: 33554432 (32 MiB)].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_size: Option<u64>,
    /// Timeout in seconds of each MX probe.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) timeout: u64,
    /// Network overrides for tests and private deployments.
    #[command(flatten)]
    pub(crate) net: NetArgs,
}

/// The time now, in Unix seconds.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Open the site store (blocking; before any runtime starts).
fn open_store(args: &StoreArgs) -> Result<Arc<dyn SiteStore>> {
    mtasts_site::store::open(&args.location()).context("site store")
}

/// A runtime for one command.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("async runtime")
}

/// `ok`, `warn` or `FAIL` for a finding's severity.
fn mark(s: Severity) -> &'static str {
    match s {
        Severity::Info => "ok",
        Severity::Warning => "warn",
        Severity::Error => "FAIL",
    }
}

/// The text of a verify report.
fn render_verify(r: &VerifyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Verify of {} (policy id {}, mode {})\n",
        escape_controls(&r.domain),
        r.policy_id,
        r.mode
    );
    for f in &r.findings {
        let _ = writeln!(
            out,
            "{:<5} {:<28} {}",
            mark(f.severity),
            f.code.as_str(),
            escape_controls(&f.message)
        );
        if !f.remediation.is_empty() {
            let _ = writeln!(
                out,
                "{:<5} {:<28} fix: {}",
                "",
                "",
                escape_controls(&f.remediation)
            );
        }
    }
    if !r.records.is_empty() {
        out.push_str("\nRecords to publish:\n");
        for rec in &r.records {
            let _ = writeln!(out, "  {}", escape_controls(&rec.zone_line()));
        }
    }
    let (e, w) = (r.count(Severity::Error), r.count(Severity::Warning));
    let _ = writeln!(
        out,
        "\n{}: {e} error{}, {w} warning{}",
        if r.passed { "PASSED" } else { "FAILED" },
        if e == 1 { "" } else { "s" },
        if w == 1 { "" } else { "s" }
    );
    out
}

/// `mtasts domain verify`.
pub(crate) fn verify(args: &VerifyArgs, json: bool) -> Result<()> {
    let store = open_store(&args.store)?;
    let overrides = policy_fetch::Overrides {
        resolver: args.resolver,
        ..policy_fetch::Overrides::default()
    };
    let rt = runtime()?;
    let report = rt.block_on(async {
        let dns = overrides.dns().context("DNS resolver")?;
        verify::verify(&store, &args.domain, &dns, args.target.as_deref(), now())
            .await
            .map_err(anyhow::Error::from)
    })?;
    drop(rt);
    if json {
        output::json(&report)?;
    } else {
        output::text(&render_verify(&report))?;
    }
    if !report.passed {
        let n = report.count(Severity::Error);
        bail!(
            "{}: {n} error{} in the DNS records (see the fixes above)",
            report.domain,
            if n == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// The TLS-RPT reports of `--reports`, or without it those the site's
/// report inbox holds (`mtasts report ingest`, `POST /v1/tlsrpt`),
/// summarized for `domain` as `promote` judges them.
fn read_reports(
    args: &PromoteArgs,
    store: &Arc<dyn SiteStore>,
) -> Result<Option<tlsrpt_core::summary::Summary>> {
    let name = mta_sts_core::domain::normalize(&args.domain)?;
    let d = store
        .domain(&name)
        .context("site store")?
        .ok_or_else(|| anyhow::anyhow!("{name} is not hosted here (see `mtasts domain list`)"))?;
    if args.reports.is_empty() {
        let summary = promote::stored_reports_summary(store.as_ref(), &d, now())
            .context("the site's report inbox")?;
        return Ok(Some(summary));
    }
    let files = ReportFilesArgs {
        verbose: false,
        strict_inputs: false,
        limits: ReportLimitArgs {
            max_size: args.max_size,
        },
        paths: args.reports.clone(),
    };
    let mut batch = Batch::new(&files)?;
    let mut agg = promote::report_aggregator(&d, now());
    batch.run(|_, source, report| {
        agg.add(report, source);
        Ok(true)
    })?;
    batch.finish()?;
    Ok(Some(agg.into_summary()))
}

/// The text of a promote outcome.
fn render_promote(o: &PromoteOutcome) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Promote {} from testing to enforce ({} of {} days in testing)\n",
        escape_controls(&o.domain),
        o.days_in_testing,
        o.days_required
    );
    for c in &o.conditions {
        let _ = writeln!(
            out,
            "{:<5} {:<18} {}",
            if c.ok { "ok" } else { "FAIL" },
            c.name,
            escape_controls(&c.detail)
        );
        if !c.fix.is_empty() {
            let _ = writeln!(out, "{:<5} {:<18} fix: {}", "", "", escape_controls(&c.fix));
        }
    }
    out.push('\n');
    if o.already_enforce {
        let _ = writeln!(
            out,
            "{} is already in mode enforce: nothing to do.",
            o.domain
        );
    } else if o.promoted {
        if o.forced {
            let failed: Vec<&str> = o
                .conditions
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.name)
                .collect();
            let _ = writeln!(
                out,
                "FORCED: promoted with --force although {} failed: senders will refuse mail where the failing conditions bite.",
                failed.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "Promoted {} to mode enforce; new policy id {}.",
            o.domain, o.policy_id
        );
        if let Some(rec) = &o.publish {
            let _ = writeln!(
                out,
                "Publish (replacing the old record) from {}:\n  {}",
                o.publish_from
                    .map(|t| mta_sts_core::time::Timestamp::from_unix(t).to_string())
                    .unwrap_or_default(),
                escape_controls(&rec.zone_line())
            );
        }
    } else {
        let _ = writeln!(
            out,
            "Not promoted: {} stays in mode {} (policy id {}).",
            o.domain, o.mode, o.policy_id
        );
    }
    let _ = writeln!(out, "{}", o.bimi);
    out
}

/// `mtasts domain promote`.
pub(crate) fn promote(args: &PromoteArgs, json: bool) -> Result<()> {
    let store = open_store(&args.store)?;
    let reports = read_reports(args, &store)?;
    let options = PromoteOptions {
        days: args.days,
        force: args.force,
        overrides: args.net.overrides(),
        check: CheckOptions {
            fetch_timeout: Duration::from_secs(args.timeout),
            probe_timeout: Duration::from_secs(args.timeout),
            connect_timeout: Duration::from_secs(args.timeout.min(10)),
            ..CheckOptions::default()
        },
    };
    let rt = runtime()?;
    let outcome = rt.block_on(async {
        promote::promote(&store, &args.domain, reports.as_ref(), &options, now())
            .await
            .map_err(anyhow::Error::from)
    })?;
    drop(rt);
    if outcome.forced {
        output::warning(format_args!(
            "{}: promoted to enforce with --force although conditions fail",
            outcome.domain
        ));
    }
    if json {
        output::json(&outcome)?;
    } else {
        output::text(&render_promote(&outcome))?;
    }
    if !outcome.promoted && !outcome.already_enforce {
        let failed: Vec<&str> = outcome
            .conditions
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect();
        bail!(
            "{}: not promoted: {} failed (--force overrides)",
            outcome.domain,
            failed.join(", ")
        );
    }
    Ok(())
}
