//! `mtasts report ingest`: store reports in the site store (the TLS-RPT
//! inbox), and the `--state`/`--database` side of `report summarize` and
//! `report export`.
//!
//! Each input (a file: JSON, gzip or e-mail; or `-`, one e-mail on stdin,
//! so a mail alias can pipe into it) goes through
//! [`mtasts_site::inbox::Inbox::ingest`]: read, DKIM-checked when it is
//! mail, stored once by (organization-name, report-id). One line per
//! input on stdout: `stored: ORG report-id ID (NAME)` or `duplicate: ...`;
//! a rejected input gets one `error: NAME: rejected: WHY` line on stderr.
//!
//! Exit status: 0 every input stored or a duplicate; 1 an input was
//! rejected (not a report, too large, DKIM with `--require-dkim`); 75
//! (`EX_TEMPFAIL`) when the store is unavailable (cannot be opened, or a
//! write failed) or, with `--require-dkim`, a signing key could not be
//! fetched for now (DNS timeout, SERVFAIL), so an MTA keeps the message
//! and retries instead of bouncing it; 75 wins over 1.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use mta_sts_core::display::escape_controls;
use mtasts_site::inbox::store::InboxStats;
use mtasts_site::inbox::summary::{self, SummaryOptions};
use mtasts_site::inbox::{
    DEFAULT_RETAIN_DAYS, Inbox, InboxOptions, IngestError, IngestOutcome, Source,
};
use mtasts_site::store::{self, SiteStore, StoreLocation};
use serde::Serialize;
use tlsrpt_core::summary::{Filter, Summary};

use crate::report_cmd::Writer;
use crate::{ReportLimitArgs, ReportStoreArgs, input as cli_input, output};

/// The exit status when the store is unavailable (`EX_TEMPFAIL`).
pub(crate) const EXIT_TEMPFAIL: i32 = 75;

/// Arguments of `mtasts report ingest`.
#[derive(Debug, Args)]
#[command(
    after_help = "Each FILE is JSON, gzip or a whole e-mail message (detected from the \
                  content); `-` reads one input from stdin, for a mail alias: \
                  tlsrpt: \"|mtasts report ingest --state /var/lib/mtasts -\". A report is \
                  stored once by organization-name and report-id, across inputs and nodes \
                  sharing a --database; a duplicate is counted and reported. Mail is \
                  DKIM-verified (RFC 8460 3) and the result kept (pass, fail or none with \
                  the signing domain); --require-dkim rejects fail and none. Reports received \
                  more than --retain-days days ago are pruned, at most once an hour.\n\n\
                  Exit status: 0 every input stored or a duplicate; 1 an input was rejected \
                  (the reason on stderr); 2 usage error; 75 (EX_TEMPFAIL) the store is \
                  unavailable (or, with --require-dkim, a DKIM key could not be fetched \
                  for now): the MTA retries later."
)]
pub(crate) struct IngestArgs {
    /// The directory of the embedded site store (`DIR/site.sqlite3`).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "database",
        required_unless_present = "database"
    )]
    pub(crate) state: Option<PathBuf>,
    /// A PostgreSQL connection string shared by several ingest nodes
    /// (postgres://user@host/db).
    #[arg(long, value_name = "URL")]
    pub(crate) database: Option<String>,
    /// Reject mail whose DKIM result is fail or none (default: accept and
    /// record).
    #[arg(long)]
    pub(crate) require_dkim: bool,
    /// The only DNS server asked for DKIM keys (IP:PORT); default: the
    /// system's resolvers.
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) dkim_resolver: Option<SocketAddr>,
    /// Keep reports received at most N days ago (pruned at most once an
    /// hour); 0 keeps everything.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RETAIN_DAYS)]
    pub(crate) retain_days: u32,
    /// Alerts: every stored report with failed sessions raises them (kept
    /// in the store, listed by `mtasts alerts`); these options deliver
    /// them at once, `mtasts alerts deliver` or `mtasts serve` later.
    #[command(flatten)]
    pub(crate) alerts: crate::alerts_cmd::AlertChannelArgs,
    /// Prune now (reports received more than --retain-days days ago),
    /// whenever the last prune was; FILEs are optional with it.
    #[arg(long)]
    pub(crate) prune: bool,
    /// Input limits.
    #[command(flatten)]
    pub(crate) limits: ReportLimitArgs,
    /// Report files, or `-` for one input on stdin.
    #[arg(
        value_name = "FILE",
        required_unless_present_any = ["prune", "maildir", "imap"],
        conflicts_with = "mailbox",
        num_args = 1..
    )]
    pub(crate) files: Vec<PathBuf>,
    /// Ingest the unprocessed messages of this Maildir (those in new/,
    /// and in cur/ without the S flag): stored or duplicate ones are moved
    /// to cur/ flagged S, rejected ones to DIR/.rejected; with the store
    /// unavailable they stay (exit 75).
    #[arg(long, value_name = "DIR", group = "mailbox")]
    pub(crate) maildir: Option<PathBuf>,
    /// Ingest the messages of an IMAP mailbox (implicit TLS):
    /// imaps://USER@HOST[:PORT]/MAILBOX; processed ones are moved to
    /// --imap-done-folder, rejected ones to TLSRPT-Rejected.
    #[arg(
        long,
        value_name = "imaps://USER@HOST[:PORT]/MAILBOX",
        group = "mailbox",
        requires = "password_file"
    )]
    pub(crate) imap: Option<String>,
    /// The IMAP password: the first line of this file.
    #[arg(long, value_name = "FILE", requires = "imap")]
    pub(crate) password_file: Option<PathBuf>,
    /// The IMAP folder stored and duplicate reports are moved to (created
    /// when missing) [default: TLSRPT-Done].
    #[arg(long, value_name = "NAME", requires = "imap")]
    pub(crate) imap_done_folder: Option<String>,
    /// Trust only the CA certificates of this PEM file for the IMAP
    /// server (default: the system's roots).
    #[arg(long, value_name = "PEMFILE", requires = "imap")]
    pub(crate) imap_root: Option<PathBuf>,
    /// With --maildir or --imap: keep going (inotify, IMAP IDLE) until
    /// SIGINT or SIGTERM.
    #[arg(long, requires = "mailbox")]
    pub(crate) watch: bool,
}

/// One input's outcome, for `--json`.
#[derive(Debug, Serialize)]
struct Line {
    /// The input: its path or `<stdin>`.
    input: String,
    /// `stored`, `duplicate`, `rejected`, `too-large` or `unavailable`.
    outcome: &'static str,
    /// `organization-name`, when read.
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<String>,
    /// `report-id`, when read.
    #[serde(skip_serializing_if = "Option::is_none")]
    report_id: Option<String>,
    /// Why it was not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Print `message` as an `error:` line and exit with [`EXIT_TEMPFAIL`].
fn tempfail(message: &anyhow::Error) -> ! {
    output::error(message);
    output::warning(format_args!(
        "not stored for now: try again later (exit status {EXIT_TEMPFAIL})"
    ));
    std::process::exit(EXIT_TEMPFAIL);
}

/// `mtasts report ingest`.
pub(crate) fn run(args: &IngestArgs, json: bool) -> Result<()> {
    if args.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(anyhow!("`-` (stdin) may be given once"));
    }
    let location = match (&args.state, &args.database) {
        (_, Some(url)) => StoreLocation::Database(url.clone()),
        (Some(dir), None) => StoreLocation::State(dir.clone()),
        (None, None) => return Err(anyhow!("give --state DIR or --database URL")),
    };
    let store: Arc<dyn SiteStore> = match store::open(&location) {
        Ok(s) => s,
        Err(e) => tempfail(&anyhow!(e).context("the site store cannot be opened")),
    };
    if args.prune && args.retain_days > 0 {
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| {
                i64::try_from(d.as_secs() / 86_400).unwrap_or(i64::MAX)
            });
        match store.inbox().prune(today - i64::from(args.retain_days)) {
            Ok(n) if !json => output::stdout(&format!(
                "pruned: {n} report(s) received more than {} day(s) ago\n",
                args.retain_days
            ))?,
            Ok(_) => {}
            Err(e) => tempfail(&anyhow!(e).context("prune")),
        }
    }
    if args.files.is_empty() && args.maildir.is_none() && args.imap.is_none() {
        return Ok(());
    }
    let limits = crate::report_cmd::limits(&args.limits);
    let options = InboxOptions {
        limits,
        require_dkim: args.require_dkim,
        dkim_resolver: args.dkim_resolver,
        retain_days: (args.retain_days > 0).then_some(args.retain_days),
        alerter: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let mut options = options;
    options.alerter = Some(Arc::new(
        runtime
            .block_on(async {
                mtasts_site::alerts::Alerter::new(Arc::clone(&store), args.alerts.config(None))
            })
            .context("alert channels")?,
    ));
    let inbox = Inbox::new(store, options);
    if args.maildir.is_some() || args.imap.is_some() {
        return mailbox(args, json, &inbox, &runtime);
    }
    let mut lines = Vec::new();
    let (mut rejected, mut unavailable) = (0usize, 0usize);
    for file in &args.files {
        let input = match cli_input::read_capped(file, limits.max_message) {
            Ok(i) => i,
            Err(e) => {
                output::error(&e);
                rejected += 1;
                lines.push(Line {
                    input: file.display().to_string(),
                    outcome: "rejected",
                    organization: None,
                    report_id: None,
                    error: Some(e.to_string()),
                });
                continue;
            }
        };
        let source = if file.as_os_str() == "-" {
            Source::Stdin
        } else {
            Source::File(file.clone())
        };
        let name = escape_controls(&input.name).into_owned();
        let line = if input.bytes.len() > limits.max_message {
            Err(IngestError::TooLarge(format!(
                "the input is larger than the limit of {} bytes",
                limits.max_message
            )))
        } else {
            runtime.block_on(inbox.ingest(&input.bytes, &source))
        };
        let line = match line {
            Ok(IngestOutcome::Stored {
                organization,
                report_id,
            }) => {
                if !json {
                    output::stdout(&format!(
                        "stored: {} report-id {} ({name})\n",
                        escape_controls(&organization),
                        escape_controls(&report_id)
                    ))?;
                }
                Line {
                    input: input.name.clone(),
                    outcome: "stored",
                    organization: Some(organization),
                    report_id: Some(report_id),
                    error: None,
                }
            }
            Ok(IngestOutcome::Duplicate {
                organization,
                report_id,
            }) => {
                if !json {
                    output::stdout(&format!(
                        "duplicate: {} report-id {} ({name}; already stored, counted once)\n",
                        escape_controls(&organization),
                        escape_controls(&report_id)
                    ))?;
                }
                Line {
                    input: input.name.clone(),
                    outcome: "duplicate",
                    organization: Some(organization),
                    report_id: Some(report_id),
                    error: None,
                }
            }
            Err(e) => {
                output::error(&anyhow!("{name}: {e}"));
                let outcome = if e.is_temporary() {
                    unavailable += 1;
                    "unavailable"
                } else {
                    rejected += 1;
                    if matches!(e, IngestError::TooLarge(_)) {
                        "too-large"
                    } else {
                        "rejected"
                    }
                };
                Line {
                    input: input.name.clone(),
                    outcome,
                    organization: None,
                    report_id: None,
                    error: Some(e.to_string()),
                }
            }
        };
        lines.push(line);
    }
    drop(inbox);
    drop(runtime);
    if json {
        output::json(&lines)?;
    }
    if unavailable > 0 {
        tempfail(&anyhow!(
            "{unavailable} input(s) not stored for now (store or DKIM key unavailable)"
        ));
    }
    if rejected > 0 {
        return Err(anyhow!(
            "{rejected} of {} input(s) rejected",
            args.files.len()
        ));
    }
    Ok(())
}

/// The store of `--state`/`--database`, when given.
pub(crate) fn location(args: &ReportStoreArgs) -> Option<StoreLocation> {
    match (&args.state, &args.database) {
        (_, Some(url)) => Some(StoreLocation::Database(url.clone())),
        (Some(dir), None) => Some(StoreLocation::State(dir.clone())),
        (None, None) => None,
    }
}

/// Open a store to read from it: the SQLite file must exist (reading a
/// store that was never written is a mistake, not an empty summary).
fn open_for_reading(location: &StoreLocation) -> Result<Arc<dyn SiteStore>> {
    if let StoreLocation::State(dir) = location {
        let path = store::sqlite_path(dir);
        if !path.is_file() {
            return Err(anyhow!(
                "{}: no site store here (run `mtasts report ingest --state {}` first)",
                path.display(),
                dir.display()
            ));
        }
    }
    store::open(location).map_err(|e| anyhow!(e).context("the site store cannot be opened"))
}

/// `report summarize --state|--database`: the summary of the stored
/// reports, and the store's counts.
pub(crate) fn store_summary(
    location: &StoreLocation,
    filter: &Filter,
    max_groups: usize,
    readiness_days: u32,
) -> Result<(Summary, InboxStats)> {
    let store = open_for_reading(location)?;
    let options = SummaryOptions {
        filter: filter.clone(),
        max_groups,
        readiness_days,
        readiness_end: None,
    };
    let s = summary::summarize(store.inbox(), &options).context("summary from the store")?;
    let stats = store.inbox().inbox_stats().context("store counts")?;
    Ok((s, stats))
}

/// `report export --state|--database`: the stored reports (each once, in
/// the order first received), as `writer` writes them; NDJSON's `source`
/// is the input a report was first received from.
pub(crate) fn store_export(
    location: &StoreLocation,
    filter: &Filter,
    mut writer: Writer,
) -> Result<()> {
    let store = open_for_reading(location)?;
    let mut seen = std::collections::HashSet::new();
    let mut open = true;
    let mut failure: Option<anyhow::Error> = None;
    store
        .inbox()
        .for_each_receipt(&summary::query_of(filter), &mut |receipt| {
            let report = summary::parse_stored(&receipt.json)?;
            let Some(report) = filter.apply(&report) else {
                return Ok(true);
            };
            if !seen.insert((
                report.organization_name.to_string(),
                report.report_id.to_string(),
            )) {
                return Ok(true);
            }
            let text = match &mut writer {
                Writer::Csv(w) => {
                    w.write_report(&report);
                    w.take()
                }
                Writer::Ndjson(w) => {
                    w.write_report(&report, Some(&receipt.source));
                    w.take()
                }
            };
            match output::stdout_open(&text) {
                Ok(o) => open = o,
                Err(e) => {
                    failure = Some(e);
                    open = false;
                }
            }
            Ok(open)
        })
        .context("export from the store")?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let (true, Writer::Csv(w)) = (open, &mut writer) {
        output::stdout(&w.take())?;
    }
    Ok(())
}

/// What `report ingest --maildir|--imap` did, for `--json`.
#[derive(Debug, Serialize)]
struct MailboxLine {
    /// `maildir DIR` or `imaps://USER@HOST:PORT/MAILBOX`.
    input: String,
    /// Stored for the first time.
    stored: u64,
    /// Already stored (counted once).
    duplicates: u64,
    /// Rejected (moved to the rejected folder).
    rejected: u64,
    /// Left in place: the store was unavailable.
    deferred: u64,
    /// Maildir messages that could not be read or moved (left in place).
    failed: u64,
}

/// Until SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `report ingest --maildir DIR` or `--imap URL`: one pass (exit 0; 75
/// when the store was unavailable; 1 when a Maildir message could not be
/// read or moved), or with `--watch` until SIGINT/SIGTERM. Each message
/// is logged on stderr (stored, duplicate, rejected with why).
fn mailbox(
    args: &IngestArgs,
    json: bool,
    inbox: &Inbox,
    runtime: &tokio::runtime::Runtime,
) -> Result<()> {
    use mtasts_site::inbox::{imap, maildir};
    // Per-message lines on stderr; a subscriber set already stays.
    let _ = crate::logging::install(0, crate::logging::LogFormat::Text);
    let (tx, rx) = tokio::sync::watch::channel(false);
    if args.watch {
        runtime.spawn(async move {
            shutdown_signal().await;
            let _ = tx.send(true);
        });
    }
    let max_message = crate::report_cmd::limits(&args.limits).max_message;
    let line = if let Some(dir) = &args.maildir {
        let options = maildir::MaildirOptions {
            max_message,
            ..maildir::MaildirOptions::default()
        };
        let c = runtime.block_on(maildir::ingest_maildir_with(
            inbox, dir, &options, args.watch, rx,
        ))?;
        MailboxLine {
            input: format!("maildir {}", dir.display()),
            stored: c.stored,
            duplicates: c.duplicates,
            rejected: c.rejected,
            deferred: c.deferred,
            failed: c.failed,
        }
    } else if let Some(url) = &args.imap {
        let url: imap::ImapUrl = url.parse()?;
        let file = args
            .password_file
            .as_ref()
            .ok_or_else(|| anyhow!("--imap needs --password-file FILE"))?;
        let password = imap::read_password_file(file)?;
        let mut options = imap::ImapOptions {
            max_message,
            ..imap::ImapOptions::default()
        };
        if let Some(folder) = &args.imap_done_folder {
            options.done_folder.clone_from(folder);
        }
        if let Some(pem) = &args.imap_root {
            let mut roots = policy_fetch::Roots::empty();
            roots.add_pem_file(pem)?;
            options.roots = roots;
        }
        let c = runtime.block_on(imap::ingest_imap(
            inbox, &url, &password, &options, args.watch, rx,
        ))?;
        MailboxLine {
            input: url.to_string(),
            stored: c.stored,
            duplicates: c.duplicates,
            rejected: c.rejected,
            deferred: c.deferred,
            failed: 0,
        }
    } else {
        return Err(anyhow!("give --maildir DIR or --imap URL"));
    };
    if json {
        output::json(&line)?;
    } else {
        output::stdout(&format!(
            "{}: {} stored, {} duplicate(s), {} rejected, {} deferred, {} failed\n",
            escape_controls(&line.input),
            line.stored,
            line.duplicates,
            line.rejected,
            line.deferred,
            line.failed
        ))?;
    }
    if line.deferred > 0 {
        tempfail(&anyhow!(
            "{} message(s) left in place: the store is unavailable",
            line.deferred
        ));
    }
    if line.failed > 0 {
        return Err(anyhow!(
            "{} message(s) could not be read or moved (left in place; see the log)",
            line.failed
        ));
    }
    Ok(())
}
