//! `mtasts tlsrpt send`: make and deliver the TLS-RPT reports of a UTC
//! day from the state directory (`mta_sts_postfix::reporter`), and retry
//! what failed.
//!
//! With `--day`, that day only (an error before it can be reported: its
//! end plus the grace period). Without, what an hourly timer wants:
//! yesterday (UTC) once it can be reported, and every earlier day whose
//! deliveries still wait for a retry.
//!
//! Exit status: 0 when every report went to every destination (or there
//! was nothing to send), [`EXIT_PENDING`] (75, `EX_TEMPFAIL`) when some
//! deliveries wait for a retry and none failed for good (run it again
//! later: the timer does), 1 when a delivery failed for good, the run
//! met an error, or the input is bad; 2 for usage errors.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use mta_sts_postfix::reporter::{
    DayOutcome, DaySummary, Progress, Reporter, ReporterConfig, SendOptions,
};
use mta_sts_postfix::tlsrpt_state::StateDir;
use serde::Serialize;
use tlsrpt_core::session::UtcDay;
use tlsrpt_core::time::Timestamp;

use crate::output;

/// The exit status when deliveries wait for a retry (`EX_TEMPFAIL` of
/// sysexits.h).
pub(crate) const EXIT_PENDING: i32 = 75;

/// The configuration file read when `--config` is not given.
pub(crate) const DEFAULT_CONFIG: &str = "/etc/mtasts/tlsrpt.toml";

/// Arguments of `mtasts tlsrpt send`.
#[derive(Debug, Args)]
#[command(
    after_help = "Without --day: yesterday (UTC) once its end plus the grace period \
    ([report] grace_secs, 10 minutes) is over, and every earlier day whose deliveries wait for \
    a retry; run it hourly (examples/systemd/mtasts-tlsrpt-send.timer). The partials of every \
    node (STATE/partials/*/DAY.json; copy other nodes' there) are merged into one report per \
    policy domain, written to STATE/reports/DAY/ with the signed e-mail, and delivered to \
    every mailto: and https: URI of the domain's _smtp._tls record. A re-run never sends a \
    report twice to the same destination; it retries failed deliveries when their time has \
    come (5 min, 15 min, 45 min, ... for 24 hours).\n\n\
    Exit status: 0 everything delivered (or nothing to send), 75 deliveries wait for a \
    retry, 1 a delivery failed for good or an error, 2 usage error."
)]
pub(crate) struct SendArgs {
    /// The state directory the collector writes (partials, reports).
    #[arg(long, value_name = "DIR")]
    pub(crate) state: PathBuf,
    /// The UTC day to report (YYYY-MM-DD) [default: yesterday, and the
    /// days waiting for a retry].
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub(crate) day: Option<UtcDay>,
    /// The reporter's configuration (TOML: `[report]`, `[dkim]`, `[smtp]`,
    /// `[https]`).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub(crate) config: PathBuf,
    /// Render and write the .json.gz and .eml files into --out DIR; deliver
    /// nothing (the _smtp._tls records are still looked up, to address the
    /// mail).
    #[arg(long, requires = "out")]
    pub(crate) dry_run: bool,
    /// Where --dry-run writes (created if missing).
    #[arg(long, value_name = "DIR", requires = "dry_run")]
    pub(crate) out: Option<PathBuf>,
    /// Send report mail without a DKIM signature (tests only: receivers
    /// must ignore unsigned reports, RFC 8460 section 3).
    #[arg(long)]
    pub(crate) no_dkim: bool,
    /// Report a day even when some of its partials cannot be read
    /// (leaving them out, and exiting 1).
    #[arg(long)]
    pub(crate) skip_unreadable: bool,
}

fn parse_day(s: &str) -> Result<UtcDay, String> {
    UtcDay::parse(s).map_err(|e| e.to_string())
}

/// The JSON output.
#[derive(Serialize)]
struct JsonOutput<'a> {
    /// `complete`, `pending` or `failed`.
    outcome: DayOutcome,
    /// Each day worked on.
    days: &'a [DaySummary],
    /// Notes on days not worked on (yesterday not ready yet).
    notes: &'a [String],
}

/// `mtasts tlsrpt send`.
pub(crate) fn send(args: &SendArgs, json: bool) -> Result<()> {
    let config = ReporterConfig::load(&args.config)?;
    if args.no_dkim {
        output::warning(
            "--no-dkim: report mail goes out unsigned, and receivers must ignore it (RFC 8460 section 3)",
        );
    }
    let state = StateDir::open(&args.state)
        .with_context(|| format!("state directory {}", args.state.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let (summaries, notes) = runtime.block_on(async {
        let reporter = Reporter::new(config, args.no_dkim)?;
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        let mut notes = Vec::new();
        let days = match args.day {
            Some(day) => vec![day],
            None => {
                let yesterday = UtcDay::from_day_number(now.day() - 1)?;
                let mut days = reporter.pending_days(&state)?;
                if now >= reporter.ready_at(yesterday) {
                    days.push(yesterday);
                } else {
                    notes.push(format!(
                        "{yesterday} can be reported from {} on",
                        reporter.ready_at(yesterday)
                    ));
                }
                days.sort();
                days.dedup();
                days
            }
        };
        let options = SendOptions {
            dry_run: if args.dry_run { args.out.clone() } else { None },
            skip_unreadable: args.skip_unreadable,
            ..SendOptions::at(now)
        };
        let mut summaries = Vec::new();
        for day in days {
            summaries.push(reporter.send_day(&state, day, &options).await?);
        }
        anyhow::Ok((summaries, notes))
    })?;

    let outcome = summaries
        .iter()
        .map(DaySummary::outcome)
        .fold(DayOutcome::Complete, worse);
    for s in &summaries {
        for w in &s.warnings {
            output::warning(format!("{}: {w}", s.day));
        }
    }
    if json {
        output::json(&JsonOutput {
            outcome,
            days: &summaries,
            notes: &notes,
        })?;
    } else {
        let mut text = String::new();
        for n in &notes {
            text.push_str(&format!("{n}\n"));
        }
        for s in &summaries {
            text.push_str(&render_text(s));
        }
        if summaries.is_empty() && notes.is_empty() {
            text.push_str("nothing to send\n");
        }
        output::text(&text)?;
    }
    let errors: Vec<String> = summaries
        .iter()
        .flat_map(|s| s.errors.iter().map(move |e| format!("{}: {e}", s.day)))
        .collect();
    match outcome {
        DayOutcome::Complete => Ok(()),
        DayOutcome::Pending => {
            output::warning(format!(
                "deliveries wait for a retry: run `mtasts tlsrpt send` again later (exit status {EXIT_PENDING})"
            ));
            // stdout is flushed; nothing else is left to do or to drop.
            std::process::exit(EXIT_PENDING);
        }
        DayOutcome::Failed if errors.is_empty() => {
            bail!("some reports could not be delivered (see above)")
        }
        DayOutcome::Failed => Err(anyhow!("{}", errors.join("; "))),
    }
}

/// The worse of two outcomes: failed, then pending, then complete.
fn worse(a: DayOutcome, b: DayOutcome) -> DayOutcome {
    match (a, b) {
        (DayOutcome::Failed, _) | (_, DayOutcome::Failed) => DayOutcome::Failed,
        (DayOutcome::Pending, _) | (_, DayOutcome::Pending) => DayOutcome::Pending,
        _ => DayOutcome::Complete,
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The text output of one day.
fn render_text(s: &DaySummary) -> String {
    let outcome = match s.outcome() {
        DayOutcome::Complete if s.dry_run => "dry run",
        DayOutcome::Complete => "complete",
        DayOutcome::Pending => "pending",
        DayOutcome::Failed => "failed",
    };
    let mut out = format!(
        "{}: {outcome}, {} in {}\n",
        s.day,
        plural(s.reports.len() as u64, "report", "reports"),
        s.dir.display()
    );
    for r in &s.reports {
        out.push_str(&format!(
            "  {}: {} successful, {}",
            r.policy_domain,
            r.successful_sessions,
            plural(r.failed_sessions, "failed session", "failed sessions")
        ));
        match (r.lookup, &r.lookup_detail) {
            (Progress::Delivered, _) => out.push('\n'),
            (Progress::Pending, Some(d)) => {
                out.push_str(&format!("; record lookup pending: {d}\n"))
            }
            (Progress::GaveUp, Some(d)) => out.push_str(&format!("; record lookup gave up: {d}\n")),
            (_, Some(d)) => out.push_str(&format!("; not sent: {d}\n")),
            (_, None) => out.push('\n'),
        }
        for d in &r.destinations {
            let state = match (d.progress, &d.next_attempt) {
                (Progress::Pending, Some(next)) => format!("pending, next attempt {next}"),
                (p, _) => p.to_string(),
            };
            let attempts = match d.attempts {
                0 => String::new(),
                n => format!(" ({})", plural(n as u64, "attempt", "attempts")),
            };
            let detail = d
                .last
                .as_ref()
                .map(|a| format!(": {}", a.detail))
                .unwrap_or_default();
            out.push_str(&format!("    {}: {state}{attempts}{detail}\n", d.uri));
        }
        for u in &r.unusable {
            out.push_str(&format!("    unusable {u}\n"));
        }
    }
    out
}
