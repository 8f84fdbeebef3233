//! `mtasts tlsrpt collect` (the TLS-RPT datagram collector for Postfix,
//! built on `mta_sts_postfix::collector`) and `mtasts report aggregate`
//! (libtlsrpt datagrams from files into one UTC day's reports).
//!
//! `tlsrpt collect` logs like `mtasts daemon` (see [`crate::logging`]):
//! `info: collecting socket=... state=... node=...` once the socket is
//! bound, `info: collector stats ...` every minute when anything changed
//! and once at the end, `info: day final day=...` when a day's partial is
//! final; `-v` adds `debug: journaled datagrams=N journaled=TOTAL` for
//! every batch made durable. SIGTERM and SIGINT stop it gracefully (the
//! socket file removed, what is queued received, journaled and
//! checkpointed) with exit status 0. A start failure (a live socket at
//! the path, another collector on the state directory, a bad node name)
//! is one `error: ...` line and status 1.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use tlsrpt_core::datagram::{self, DatagramLimits};
use tlsrpt_core::session::{AggregateLimits, DayAggregate, ReportMeta, UtcDay};

use crate::output;

/// `mtasts tlsrpt ...` (Unix only).
#[cfg(unix)]
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TlsrptCommand {
    /// Run the TLS-RPT collector: receive Postfix's libtlsrpt datagrams on
    /// an AF_UNIX datagram socket and keep each UTC day's aggregate in the
    /// state directory.
    Collect(collect::CollectArgs),
    /// Make and deliver the TLS-RPT reports of a UTC day from the state
    /// directory (yesterday by default), and retry failed deliveries.
    Send(crate::send_cmd::SendArgs),
}

/// Run `mtasts tlsrpt ...`.
#[cfg(unix)]
pub(crate) fn run(cmd: &TlsrptCommand, json: bool) -> Result<()> {
    match cmd {
        TlsrptCommand::Collect(a) => collect::collect(a),
        TlsrptCommand::Send(a) => crate::send_cmd::send(a, json),
    }
}

/// `mtasts tlsrpt collect` (Unix only).
#[cfg(unix)]
mod collect {
    use std::path::PathBuf;
    use std::time::Duration;

    use anyhow::{Context, Result};
    use clap::{ArgAction, Args};
    use mta_sts_postfix::collector::{Collector, CollectorConfig};
    use tokio::signal::unix::{SignalKind, signal};
    use tracing::info;

    use crate::logging::{self, LogFormat};

    /// Arguments of `mtasts tlsrpt collect`.
    #[derive(Debug, Args)]
    #[command(after_help = "Postfix 3.10+ main.cf:\n  \
    smtp_tlsrpt_enable = yes\n  \
    smtp_tlsrpt_socket_name = run/tlsrpt/tlsrpt.sock\n\n\
    The socket name is relative to Postfix's queue directory (so \
    --socket /var/spool/postfix/run/tlsrpt/tlsrpt.sock), which works with \
    and without chroot. Each datagram counts to the UTC day it is received \
    in. A datagram is acknowledged once it is journaled and fsync'd (every \
    50 ms or 4096 datagrams): it survives a crash or kill -9. The day's \
    partial aggregate is STATE/partials/NODE/YYYY-MM-DD.json, rewritten \
    every minute and final (YYYY-MM-DD.final) 5 minutes (--grace) after \
    the UTC day ended. SIGTERM/SIGINT stop gracefully.")]
    pub(crate) struct CollectArgs {
        /// The AF_UNIX datagram socket to receive on (a stale socket file
        /// there is replaced).
        #[arg(long, value_name = "PATH")]
        pub(crate) socket: PathBuf,
        /// The state directory (journal, partials, reports); created if
        /// missing.
        #[arg(long, value_name = "DIR")]
        pub(crate) state: PathBuf,
        /// This node's name (A-Z a-z 0-9 . _ -, at most 64) [default: the one
        /// in STATE/node, else the host name]; stored in STATE/node.
        #[arg(long, value_name = "NAME")]
        pub(crate) node: Option<String>,
        /// Permissions of the socket file, in octal: who may send.
        #[arg(long, value_name = "MODE", default_value = "0660", value_parser = parse_mode)]
        pub(crate) socket_mode: u32,
        /// Seconds a UTC day stays open after it ended, for datagrams
        /// received before midnight and still being written.
        #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
        pub(crate) grace: u64,
        /// Log more: `-v` debug events (one per journaled batch), `-vv`
        /// trace events (default: info).
        #[arg(short, long, action = ArgAction::Count)]
        pub(crate) verbose: u8,
        /// Log lines on stderr as `text` (`info: message key=value ...`) or
        /// `json` (one object per line).
        #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
        pub(crate) log_format: LogFormat,
    }

    /// An octal permission mode (`0660`, `660`, `0o660`), at most `0777`.
    fn parse_mode(s: &str) -> Result<u32, String> {
        let digits = s.strip_prefix("0o").unwrap_or(s);
        match u32::from_str_radix(digits, 8) {
            Ok(m) if m <= 0o777 && !digits.is_empty() => Ok(m),
            _ => Err(format!(
                "`{s}` is not an octal permission mode from 0000 to 0777"
            )),
        }
    }

    /// Run `mtasts tlsrpt collect` until SIGTERM or SIGINT.
    pub(crate) fn collect(args: &CollectArgs) -> Result<()> {
        logging::install(args.verbose, args.log_format)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("tokio runtime")?;
        // Signal handlers first: a SIGTERM during the start stops it cleanly.
        let (mut term, mut int) = runtime.block_on(async {
            Ok::<_, anyhow::Error>((
                signal(SignalKind::terminate()).context("SIGTERM handler")?,
                signal(SignalKind::interrupt()).context("SIGINT handler")?,
            ))
        })?;
        let mut config = CollectorConfig::new(&args.socket, &args.state);
        config.node = args.node.clone();
        config.socket_mode = args.socket_mode;
        config.grace = Duration::from_secs(args.grace);
        let handle = Collector::start(config)?;
        runtime.block_on(async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        info!("shutting down");
        let stats = handle.shutdown()?;
        info!(
            received = stats.received,
            journaled = stats.journaled,
            garbage = stats.garbage,
            dropped = stats.dropped,
            "stopped"
        );
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn modes() {
            assert_eq!(parse_mode("0660"), Ok(0o660));
            assert_eq!(parse_mode("660"), Ok(0o660));
            assert_eq!(parse_mode("0o600"), Ok(0o600));
            assert!(parse_mode("0999").is_err());
            assert!(parse_mode("01777").is_err());
            assert!(parse_mode("").is_err());
            assert!(parse_mode("0o").is_err());
        }
    }
}

// ---------------------------------------------------------------------------
// report aggregate

/// Most diagnostics of each kind (errors, warnings) printed by `report
/// aggregate`; the rest are counted in one line.
const MAX_DIAGNOSTICS: usize = 100;

/// Arguments of `mtasts report aggregate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Each input line is one libtlsrpt datagram (a JSON object, as \
    Postfix sends it to the collector); blank lines are skipped. Datagrams carry no \
    time: every one counts to --day. Output: with --json a JSON array of the finished \
    RFC 8460 reports (strict form, one per policy domain, ordered by policy domain); \
    without, one line per report (policy domain, sessions, policies, report-id) and a \
    total. A line that is not a usable datagram (not JSON, missing members, longer \
    than 65536 bytes, ...) gets one `error: FILE:LINE: ...` line on stderr and is not \
    counted; the usable lines are still counted and the reports written, and the \
    command then exits with status 1. Accepted deviations (a missing policy-domain \
    filled from the delivery domain, ...) are `warning: FILE:LINE: ...` lines. The \
    first 100 of each are printed. The same input always gives the same reports \
    (report-id `<day>.<policy domain>.<unique-id>@<submitter>`)."
)]
pub(crate) struct AggregateArgs {
    /// The UTC day the reports cover.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_utc_day)]
    pub(crate) day: UtcDay,
    /// `organization-name` of the reports.
    #[arg(long, value_name = "NAME")]
    pub(crate) org: String,
    /// `contact-info` of the reports: an e-mail address at the submitter's
    /// domain.
    #[arg(long, value_name = "ADDR")]
    pub(crate) contact: String,
    /// The submitter's domain (report-id, file names, `TLS-Report-Submitter`).
    #[arg(long, value_name = "HOST")]
    pub(crate) submitter: String,
    /// The unique part of the report ids (1 to 64 ASCII letters and digits).
    #[arg(long, value_name = "ID", default_value = "1")]
    pub(crate) unique_id: String,
    /// Files of datagrams, one per line, or `-` for stdin.
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub(crate) files: Vec<PathBuf>,
}

impl AggregateArgs {
    /// The report meta data.
    fn meta(&self) -> ReportMeta {
        ReportMeta::new(
            self.org.as_str(),
            self.contact.as_str(),
            self.submitter.as_str(),
            self.unique_id.as_str(),
        )
    }

    /// Check the meta data before reading anything: `Err` with the message
    /// of a usage error.
    pub(crate) fn check(&self) -> Result<(), String> {
        DayAggregate::new(self.day)
            .finish(&self.meta())
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// A `--day` value.
fn parse_utc_day(s: &str) -> Result<UtcDay, String> {
    UtcDay::parse(s).map_err(|e| e.to_string())
}

/// Counts and diagnostics of one `report aggregate` run.
#[derive(Default)]
struct Tally {
    lines: u64,
    counted: u64,
    unusable: u64,
    warnings: u64,
    errors_shown: usize,
    warnings_shown: usize,
}

impl Tally {
    fn error(&mut self, at: &str, msg: impl std::fmt::Display) {
        self.unusable += 1;
        if self.errors_shown < MAX_DIAGNOSTICS {
            self.errors_shown += 1;
            output::error(&anyhow::anyhow!("{at}: {msg}"));
        }
    }

    fn warning(&mut self, at: &str, msg: impl std::fmt::Display) {
        self.warnings += 1;
        if self.warnings_shown < MAX_DIAGNOSTICS {
            self.warnings_shown += 1;
            output::warning(format_args!("{at}: {msg}"));
        }
    }
}

/// Read one line of at most `max` bytes (without the line end) into
/// `buf`. Returns `None` at the end of the input, else the line's full
/// length (more than `max` when it was cut; the rest is skipped).
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<usize>> {
    buf.clear();
    let mut len = 0usize;
    let mut any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(len));
        }
        any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        let room = (max + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&part[..part.len().min(room)]);
        len = len.saturating_add(part.len());
        let used = done.unwrap_or(chunk.len());
        r.consume(used);
        if done.is_some() {
            return Ok(Some(len));
        }
    }
}

/// Run `mtasts report aggregate`.
pub(crate) fn aggregate(args: &AggregateArgs, json: bool) -> Result<()> {
    let meta = args.meta();
    let limits = DatagramLimits::default();
    // Every path must be there before anything is read.
    let mut inputs: Vec<(String, Box<dyn BufRead>)> = Vec::new();
    let mut stdin_used = false;
    for path in &args.files {
        if path.as_os_str() == "-" {
            if stdin_used {
                bail!("`-` (stdin) is given more than once");
            }
            stdin_used = true;
            inputs.push(("<stdin>".into(), Box::new(io::stdin().lock())));
            continue;
        }
        let name = path.display().to_string();
        let f = File::open(path).with_context(|| name.clone())?;
        if f.metadata().with_context(|| name.clone())?.is_dir() {
            bail!("{name}: is a directory");
        }
        inputs.push((name, Box::new(BufReader::with_capacity(1 << 16, f))));
    }
    let mut day = DayAggregate::with_limits(args.day, AggregateLimits::default());
    let mut tally = Tally::default();
    let mut line = Vec::new();
    for (name, mut reader) in inputs {
        let mut n = 0u64;
        while let Some(len) =
            read_line(&mut reader, &mut line, limits.max_bytes).with_context(|| name.clone())?
        {
            n += 1;
            if line.iter().all(u8::is_ascii_whitespace) && len <= limits.max_bytes {
                continue;
            }
            tally.lines += 1;
            let at = format!("{name}:{n}");
            if len > limits.max_bytes {
                tally.error(
                    &at,
                    datagram::DatagramError::TooLarge {
                        len,
                        limit: limits.max_bytes,
                    },
                );
                continue;
            }
            let d = match datagram::decode(&line, &limits) {
                Ok(d) => d,
                Err(e) => {
                    tally.error(&at, e);
                    continue;
                }
            };
            for w in &d.warnings {
                tally.warning(&at, w);
            }
            match day.record_datagram(&d) {
                Ok(_) => tally.counted += 1,
                Err(e) => tally.error(&at, e),
            }
        }
    }
    let hidden_errors = tally.unusable.saturating_sub(tally.errors_shown as u64);
    let hidden_warnings = tally.warnings.saturating_sub(tally.warnings_shown as u64);
    if hidden_errors > 0 || hidden_warnings > 0 {
        output::warning(format_args!(
            "{hidden_errors} more unusable lines and {hidden_warnings} more warnings not shown"
        ));
    }
    let finished = day.finish(&meta)?;
    if !finished.unreported.is_empty() {
        output::warning(format_args!(
            "{} successful and {} failed sessions are in no report: the day holds more than {} policies",
            finished.unreported.successful_sessions,
            finished.unreported.failed_sessions,
            AggregateLimits::default().max_policies
        ));
    }
    if finished.folded_failure_details > 0 {
        output::warning(format_args!(
            "{} failure details are counted in the summaries but not listed: a policy has more than {} distinct ones",
            finished.folded_failure_details,
            AggregateLimits::default().max_failure_rows
        ));
    }
    if json {
        let reports = finished
            .reports
            .iter()
            .map(|r| serde_json::from_str::<serde_json::Value>(&r.to_json(false)))
            .collect::<Result<Vec<_>, _>>()
            .context("report JSON")?;
        output::json(&reports)?;
    } else {
        let mut text = String::new();
        let (mut ok, mut failed) = (0u64, 0u64);
        for r in &finished.reports {
            let domain = r
                .policies
                .first()
                .and_then(|p| p.policy.policy_domain.as_deref())
                .unwrap_or("-");
            let (s, f) = (r.successful_sessions(), r.failed_sessions());
            ok += s;
            failed += f;
            text.push_str(&format!(
                "{domain}: {s} successful, {f} failed {}, {} {}, report-id {}\n",
                plural(f, "session", "sessions"),
                r.policies.len(),
                plural(r.policies.len() as u64, "policy", "policies"),
                r.report_id
            ));
        }
        text.push_str(&format!(
            "{} {} for {}: {ok} successful, {failed} failed {} from {} {}\n",
            finished.reports.len(),
            plural(finished.reports.len() as u64, "report", "reports"),
            args.day,
            plural(failed, "session", "sessions"),
            tally.counted,
            plural(tally.counted, "datagram", "datagrams"),
        ));
        output::text(&text)?;
    }
    if tally.unusable > 0 {
        bail!(
            "{} of {} {} could not be counted",
            tally.unusable,
            tally.lines,
            plural(tally.lines, "datagram line", "datagram lines")
        );
    }
    Ok(())
}

/// `one` or `many` by `n`.
fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let input = b"ab\r\n\nxyz-too-long\nlast";
        let mut r = BufReader::with_capacity(4, &input[..]);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        while let Some(len) = read_line(&mut r, &mut buf, 5).unwrap() {
            got.push((len, buf.clone()));
        }
        assert_eq!(
            got,
            [
                (3, b"ab\r".to_vec()),
                (0, b"".to_vec()),
                (12, b"xyz-to".to_vec()),
                (4, b"last".to_vec()),
            ]
        );
    }
}
