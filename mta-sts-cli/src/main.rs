//! `mtasts`: parse, lint, match and generate MTA-STS policies, parse
//! `_mta-sts` and `_smtp._tls` TXT records, check MX host certificates,
//! and read, summarize and export TLS-RPT reports. `mtasts completions`
//! and `mtasts man` print shell completion scripts and man pages
//! generated from the definitions below.
//!
//! Exit status: 0 when the input is valid or the check passed, 1 when the
//! input is invalid or a check failed (with one `error: ...` line on
//! stderr), 2 for usage errors (reported by clap); `report summarize`
//! exits 3 when it found alerts of severity error, `tlsrpt send` 75 when
//! deliveries wait for a retry.

// The doc comments of the clap argument structs are the `--help` text,
// shown verbatim: `smtp://HOST[:PORT]`, `[default: ...]`, `DIR/<host>/`
// and bare URLs there are meant for the terminal, not links or HTML.
#![allow(
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[cfg(unix)]
mod alerts_cmd;
mod cert_cmd;
mod check_cmd;
#[cfg(unix)]
mod daemon_cmd;
#[cfg(unix)]
mod domain_cmd;
mod gen_cmd;
mod ingest_cmd;
mod input;
mod logging;
mod output;
mod policy_cmd;
mod record_cmd;
mod report_cmd;
#[cfg(unix)]
mod send_cmd;
#[cfg(unix)]
mod serve_cmd;
#[cfg(unix)]
mod site_check_cmd;
mod timefmt;
mod tlsrpt_cmd;
#[cfg(unix)]
mod user_cmd;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "mtasts",
    version,
    about = "Parse, lint, match and generate MTA-STS policies (RFC 8461), parse _mta-sts and _smtp._tls TXT records, check MX certificates, read, summarize and export TLS-RPT reports (RFC 8460)",
    after_help = "Exit status: 0 valid/passed, 1 invalid input or failed check, 2 usage error; \
                  3 `report summarize` found alerts of severity error; 75 `tlsrpt send` has \
                  deliveries waiting for a retry, or `report ingest` found the store \
                  unavailable."
)]
struct Cli {
    /// Print JSON on stdout instead of text (accepted by every command).
    #[arg(long, global = true)]
    json: bool,
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Work with policy files (`/.well-known/mta-sts.txt`).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Work with `_mta-sts` and `_smtp._tls` TXT records.
    #[command(subcommand)]
    Record(RecordCommand),
    /// Work with TLS-RPT reports (JSON, gzip or e-mail).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Check MX host certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Check a domain end to end: TXT record, policy fetch, MX hosts (SMTP STARTTLS probe), TLS-RPT record.
    Check(check_cmd::CheckArgs),
    /// Run the MTA-STS policy daemon for Postfix (socketmap for smtp_tls_policy_maps).
    #[cfg(unix)]
    Daemon(daemon_cmd::DaemonArgs),
    /// TLS-RPT for Postfix: collect its libtlsrpt datagrams, send the daily reports.
    #[cfg(unix)]
    #[command(subcommand)]
    Tlsrpt(tlsrpt_cmd::TlsrptCommand),
    /// Host MTA-STS for your domains: add, change, remove them, the DNS records to publish, verify, promote to enforce.
    #[cfg(unix)]
    #[command(subcommand)]
    Domain(domain_cmd::DomainCommand),
    /// Serve the policies of every hosted domain over HTTPS (SNI, ACME certificates).
    #[cfg(unix)]
    Serve(serve_cmd::ServeArgs),
    /// List the alerts of the site store with their delivery state; run the probes or deliver once.
    #[cfg(unix)]
    Alerts(alerts_cmd::AlertsArgs),
    /// Accounts of the dashboards and the JSON API of `mtasts serve`: add, list, remove, new token.
    #[cfg(unix)]
    #[command(subcommand)]
    User(user_cmd::UserCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(gen_cmd::CompletionsArgs),
    /// Print the man page of mtasts, or write one page per command with --out DIR.
    Man(gen_cmd::ManArgs),
}

/// Network overrides shared by `mtasts check` and `mtasts daemon` (see
/// `policy_fetch::Overrides`).
#[derive(Debug, Clone, Args)]
pub(crate) struct NetArgs {
    /// The only DNS server to use (IP:PORT); default: the system's resolvers.
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) resolver: Option<std::net::SocketAddr>,
    /// Trust anchors (PEM) used instead of the system's, for policy hosts and MX certificates.
    #[arg(long, value_name = "PEM")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Extra trust anchors (PEM) added to the system's (ignored with --ca-file).
    #[arg(long, value_name = "PEM")]
    pub(crate) extra_ca_file: Option<PathBuf>,
    /// Port for every `https://mta-sts.<domain>/` fetch (SNI and Host unchanged).
    #[arg(long, value_name = "N")]
    pub(crate) https_port: Option<u16>,
    /// Port for every MX probe (each MX is still reached at its A/AAAA addresses).
    #[arg(long, value_name = "N")]
    pub(crate) smtp_port: Option<u16>,
}

impl NetArgs {
    /// As library overrides.
    pub(crate) fn overrides(&self) -> policy_fetch::Overrides {
        policy_fetch::Overrides {
            resolver: self.resolver,
            ca_file: self.ca_file.clone(),
            extra_ca_file: self.extra_ca_file.clone(),
            https_port: self.https_port,
            smtp_port: self.smtp_port,
        }
    }
}

/// `mtasts policy ...`.
#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Parse a policy file and print its fields (lenient reader by default).
    Parse(PolicyParseArgs),
    /// Parse a policy file leniently and give advice; exit 1 on any error finding.
    Lint(PolicyLintArgs),
    /// Show which `mx` pattern matches each MX host; exit 1 unless all match.
    Match(PolicyMatchArgs),
    /// Write a new policy and the matching TXT record.
    Generate(PolicyGenerateArgs),
}

/// Arguments of `mtasts policy parse`.
#[derive(Debug, Args)]
pub(crate) struct PolicyParseArgs {
    /// Use the strict RFC 8461 grammar instead of the lenient reader.
    #[arg(long)]
    pub(crate) strict: bool,
    /// The policy file, or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

/// Arguments of `mtasts policy lint`.
#[derive(Debug, Args)]
pub(crate) struct PolicyLintArgs {
    /// The policy file, or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

/// Arguments of `mtasts policy match`.
#[derive(Debug, Args)]
pub(crate) struct PolicyMatchArgs {
    /// The policy file, or `-` for stdin.
    #[arg(value_name = "POLICY_FILE")]
    pub(crate) file: PathBuf,
    /// MX host names to match against the policy's `mx` patterns.
    #[arg(value_name = "HOST", required = true, num_args = 1..)]
    pub(crate) hosts: Vec<String>,
}

/// Arguments of `mtasts policy generate`.
#[derive(Debug, Args)]
#[command(
    after_help = "The policy id defaults to the current UTC time as YYYYMMDDhhmmss (14 digits, \
                  e.g. 20250131235959); publish a new id whenever the policy changes. \
                  --id overrides it (1 to 32 letters and digits).\n\n\
                  Without --json, stdout is the policy body alone (so `> mta-sts.txt` writes a \
                  valid policy file) and the DNS records and instructions go to stderr. \
                  --output-dir DIR writes DIR/mta-sts.txt (the body) and DIR/dns.txt (zone-file \
                  lines: the _mta-sts TXT record, and the _smtp._tls record when --rua is given)."
)]
pub(crate) struct PolicyGenerateArgs {
    /// The policy mode.
    #[arg(long, value_enum)]
    pub(crate) mode: ModeArg,
    /// An MX host pattern (`mail.example.com`, `*.example.net`; U-labels are
    /// converted to A-labels). Repeat for several; required unless the mode
    /// is `none`.
    #[arg(long = "mx", value_name = "PATTERN", num_args = 1..)]
    pub(crate) mx: Vec<String>,
    /// How long senders may cache the policy, in seconds (0 to 31557600;
    /// under 86400 draws the lint warning).
    #[arg(
        long,
        value_name = "SECONDS",
        allow_hyphen_values = true,
        default_value = "604800"
    )]
    pub(crate) max_age: String,
    /// The policy id for the TXT record [default: current UTC time as YYYYMMDDhhmmss].
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// The Policy Domain [default: the placeholder `example.com`].
    #[arg(long)]
    pub(crate) domain: Option<String>,
    /// A TLS-RPT reporting address (`mailto:` or `https:`) for the
    /// `_smtp._tls` record; repeat for several.
    #[arg(long, value_name = "URI")]
    pub(crate) rua: Vec<String>,
    /// Write `mta-sts.txt` (the policy body) and `dns.txt` (the DNS records
    /// in zone-file syntax) into DIR (created if missing) instead of
    /// printing them.
    #[arg(long, value_name = "DIR")]
    pub(crate) output_dir: Option<PathBuf>,
}

/// The `--mode` values of `policy generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModeArg {
    /// Refuse delivery to MX hosts that fail validation.
    Enforce,
    /// Deliver anyway, report failures.
    Testing,
    /// Withdraw the policy.
    None,
}

/// `mtasts record ...`.
#[derive(Debug, Subcommand)]
enum RecordCommand {
    /// Select and parse the record of a DNS TXT answer (one argument per
    /// RR); the kind (`v=STSv1` or `v=TLSRPTv1`) is detected.
    Parse(RecordParseArgs),
}

/// Arguments of `mtasts record parse`.
#[derive(Debug, Args)]
#[command(
    after_help = "A TLS-RPT record without a usable rua URI (only mailto: and https: are \
                  defined) is printed, but the command exits with status 1."
)]
pub(crate) struct RecordParseArgs {
    /// The TXT RRs of one DNS answer, one argument each: the text
    /// (`'v=STSv1; id=20160831085700Z;'`), or as `dig +short` prints it,
    /// quoted and possibly split into several strings
    /// (`'"v=TLSRPTv1; " "rua=mailto:tlsrpt@example.com"'`). `-` reads
    /// the answer from stdin, one RR per line (`dig +short TXT
    /// _mta-sts.example.com | mtasts record parse -`).
    #[arg(value_name = "RECORD", required = true, num_args = 1..)]
    pub(crate) records: Vec<String>,
}

/// `mtasts report ...`.
#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Read one report and print it in the strict RFC 8460 JSON form.
    Parse(ReportParseArgs),
    /// Summarize reports: totals, per domain, MX host, result type,
    /// organisation and day, duplicates and alerts.
    Summarize(ReportSummarizeArgs),
    /// Export reports as flat rows (parsedmarc-compatible CSV, or NDJSON).
    Export(ReportExportArgs),
    /// Store reports (files, or one e-mail on stdin for a mail alias pipe)
    /// in the site store, once each, with their DKIM result.
    Ingest(ingest_cmd::IngestArgs),
    /// Count libtlsrpt datagrams (one JSON object per line) under one UTC
    /// day and write that day's reports, one per policy domain.
    Aggregate(tlsrpt_cmd::AggregateArgs),
}

/// Input limits shared by the `report` commands.
#[derive(Debug, Args)]
pub(crate) struct ReportLimitArgs {
    /// Largest report JSON (after gzip decompression) and largest decoded
    /// e-mail part, in bytes [default: 33554432 (32 MiB)]. An e-mail
    /// message may be twice this size, at least 64 MiB.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_size: Option<u64>,
}

/// Arguments of `mtasts report parse`.
#[derive(Debug, Args)]
#[command(
    after_help = "The input is plain JSON, gzip (detected by its magic bytes) or a whole \
                  e-mail message carrying the report. stdout is the report in the strict \
                  RFC 8460 JSON form, with or without --json. Deviations that the reader \
                  accepted are printed on stderr as `warning: FILE: ...` lines."
)]
pub(crate) struct ReportParseArgs {
    /// Use the strict RFC 8460 JSON reader instead of the lenient one.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Input limits.
    #[command(flatten)]
    pub(crate) limits: ReportLimitArgs,
    /// The report file, or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

/// Which files to read, for `report summarize` and `report export`.
#[derive(Debug, Args)]
pub(crate) struct ReportFilesArgs {
    /// List every reader warning per input (`warning: NAME: ...`) instead
    /// of one line counting them.
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Fail on inputs that are no report at all (mail without a report
    /// part, files that are neither JSON, gzip nor e-mail, empty files)
    /// found in a directory or an mbox, instead of skipping them with a
    /// warning.
    #[arg(long)]
    pub(crate) strict_inputs: bool,
    /// Input limits.
    #[command(flatten)]
    pub(crate) limits: ReportLimitArgs,
    /// Report files, directories (read recursively, in sorted order; a
    /// Maildir too), mbox files (every message), or `-` for one input on
    /// stdin. Every path must exist.
    #[arg(value_name = "PATH", required_unless_present_any = ["state", "database"], num_args = 1..)]
    pub(crate) paths: Vec<PathBuf>,
}

/// The site store to read instead of files, for `report summarize` and
/// `report export` (what `report ingest` stored).
#[derive(Debug, Args)]
pub(crate) struct ReportStoreArgs {
    /// Read the reports stored in the embedded site store under DIR
    /// (`report ingest --state DIR`) instead of files.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["paths", "database"])]
    pub(crate) state: Option<PathBuf>,
    /// Read the reports stored in this PostgreSQL site database instead
    /// of files.
    #[arg(long, value_name = "URL", conflicts_with = "paths")]
    pub(crate) database: Option<String>,
}

/// Which reports count, for `report summarize` and `report export`.
#[derive(Debug, Args)]
pub(crate) struct ReportFilterArgs {
    /// Only reports whose date range starts on DATE (UTC) or later.
    #[arg(long, visible_alias = "from", value_name = "DATE", value_parser = report_cmd::parse_day)]
    pub(crate) since: Option<i64>,
    /// Only reports whose date range starts on DATE (UTC) or earlier; also
    /// the last day of the readiness window.
    #[arg(long, visible_alias = "to", value_name = "DATE", value_parser = report_cmd::parse_day)]
    pub(crate) until: Option<i64>,
    /// Only the policies of this policy domain (repeat for several);
    /// reports without one are left out.
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub(crate) domains: Vec<String>,
}

/// Arguments of `mtasts report summarize`.
#[derive(Debug, Args)]
#[command(
    after_help = "Every regular file under the given directories is read (JSON, gzip or \
                  e-mail, detected from the content); an mbox file gives every message \
                  (named PATH#N). A missing path fails the command before anything is read. \
                  An input that is no report at all (mail without a report part, a file \
                  that is neither JSON, gzip nor e-mail) found in a directory or an mbox is \
                  skipped with a warning (--strict-inputs: an error); named on the command \
                  line it is an error. An input that is not a readable report gets one \
                  `error: NAME: ...` line on stderr; the others are still summarized and \
                  the command exits with status 1. The same report (organization-name and \
                  report-id) seen twice is counted once. Inside directories, FIFOs, \
                  sockets, devices, symbolic links to directories and other file systems \
                  are skipped with a warning; the walk stops at 32 levels and 1000000 \
                  files. Control characters in names and values are printed escaped \
                  (`\\u{1b}`).\n\n\
                  With --state DIR or --database URL instead of paths, the reports stored \
                  by `report ingest` are summarized (the same JSON, with `store` counts \
                  instead of `inputs`), selected through the store's (domain, day) index.\n\n\
                  --since and --until (--from, --to) count a report by the UTC day its date range starts \
                  on (both inclusive). The readiness verdict (testing -> enforce) of each \
                  policy domain covers the --readiness-days UTC days ending with --until, \
                  or with the last day a report covers. Text output lists what to do for \
                  each alert; --json adds `readiness`, `filter` and `inputs` (errors, \
                  warnings and skipped inputs).\n\n\
                  Exit status: 0 every input read and no alert of severity error; 1 an \
                  input could not be read or a path is missing; 2 usage error; 3 every \
                  input read, but an alert has severity error (a broken MX host or \
                  policy; for cron jobs), unless --no-fail-on-alerts."
)]
pub(crate) struct ReportSummarizeArgs {
    /// Which files.
    #[command(flatten)]
    pub(crate) files: ReportFilesArgs,
    /// Or which store.
    #[command(flatten)]
    pub(crate) store: ReportStoreArgs,
    /// Which reports count.
    #[command(flatten)]
    pub(crate) filter: ReportFilterArgs,
    /// Show at most N rows per table (text output; the most recent days
    /// in the table by day; --json lists everything).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) top: Option<u64>,
    /// The length of the readiness window, in UTC days.
    #[arg(long, value_name = "DAYS", default_value_t = tlsrpt_core::alert::READINESS_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub(crate) readiness_days: u32,
    /// Exit 0 even when an alert has severity error (default: status 3).
    #[arg(long)]
    pub(crate) no_fail_on_alerts: bool,
    /// Distinct keys kept per grouping (MX hosts, policy domains,
    /// organisations, days, result types, alerts); later new keys are
    /// counted under `(other)`, with a warning. Bounds memory whatever the
    /// input.
    #[arg(long, value_name = "N", default_value_t = tlsrpt_core::summary::MAX_GROUPS as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_groups: u64,
}

/// Arguments of `mtasts report export`.
#[derive(Debug, Args)]
#[command(
    after_help = "One summary row per policy, then one row per failure detail \
                  (parsedmarc's 17 columns; NDJSON adds `source`, the input). Inputs are \
                  read as for `report summarize` (mbox messages, skipped non-reports, \
                  --strict-inputs, --since/--until/--domain); a report seen again (same \
                  organization-name and report-id) is not exported twice. --json is \
                  ignored: --format decides."
)]
pub(crate) struct ReportExportArgs {
    /// The output format.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub(crate) format: ExportFormat,
    /// Prefix `'` to CSV text values that start with `=`, `+`, `-` or `@`,
    /// so spreadsheets do not run them as formulas (alters the data; CSV
    /// only). Control characters in values are always escaped.
    #[arg(long)]
    pub(crate) formula_guard: bool,
    /// Which files.
    #[command(flatten)]
    pub(crate) files: ReportFilesArgs,
    /// Or which store.
    #[command(flatten)]
    pub(crate) store: ReportStoreArgs,
    /// Which reports count.
    #[command(flatten)]
    pub(crate) filter: ReportFilterArgs,
}

/// The `--format` values of `report export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// RFC 4180 CSV with a header row (CRLF line ends; control characters
    /// in values escaped, `\u{1b}` style).
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// `mtasts cert ...`.
#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Check that a certificate is valid for an MX host (names and validity
    /// period only; chain validation is the TLS library's job).
    Check(CertCheckArgs),
}

/// Arguments of `mtasts cert check`.
#[derive(Debug, Args)]
pub(crate) struct CertCheckArgs {
    /// The MX host name the certificate must be valid for.
    #[arg(long = "mx", value_name = "HOST")]
    pub(crate) mx: String,
    /// Check at this time instead of now (RFC 3339, e.g. `2030-01-01T00:00:00Z`).
    #[arg(long, value_name = "RFC3339", value_parser = timefmt::parse_rfc3339)]
    pub(crate) at: Option<SystemTime>,
    /// The certificate: PEM (the first `CERTIFICATE` block) or DER, or `-` for stdin.
    #[arg(value_name = "CERT")]
    pub(crate) cert: PathBuf,
}

/// Run the parsed command line.
fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Policy(PolicyCommand::Parse(a)) => policy_cmd::parse(&a, json),
        Command::Policy(PolicyCommand::Lint(a)) => policy_cmd::lint(&a, json),
        Command::Policy(PolicyCommand::Match(a)) => policy_cmd::matches(&a, json),
        Command::Policy(PolicyCommand::Generate(a)) => policy_cmd::generate(&a, json),
        Command::Record(RecordCommand::Parse(a)) => record_cmd::parse(&a, json),
        Command::Report(ReportCommand::Parse(a)) => report_cmd::parse(&a),
        Command::Report(ReportCommand::Summarize(a)) => report_cmd::summarize(&a, json),
        Command::Report(ReportCommand::Export(a)) => report_cmd::export(&a),
        Command::Report(ReportCommand::Ingest(a)) => ingest_cmd::run(&a, json),
        Command::Report(ReportCommand::Aggregate(a)) => tlsrpt_cmd::aggregate(&a, json),
        Command::Cert(CertCommand::Check(a)) => cert_cmd::check(&a, json),
        Command::Check(a) => check_cmd::check(&a, json),
        #[cfg(unix)]
        Command::Daemon(a) => daemon_cmd::run(&a, json),
        #[cfg(unix)]
        Command::Tlsrpt(c) => tlsrpt_cmd::run(&c, json),
        #[cfg(unix)]
        Command::Domain(c) => domain_cmd::run(&c, json),
        #[cfg(unix)]
        Command::Serve(a) => serve_cmd::run(&a, json),
        #[cfg(unix)]
        Command::Alerts(a) => alerts_cmd::run(&a, json),
        #[cfg(unix)]
        Command::User(c) => user_cmd::run(&c, json),
        Command::Completions(a) => gen_cmd::completions(&a),
        Command::Man(a) => gen_cmd::man(&a),
    }
}

/// Usage rules clap cannot express: a usage error (status 2) when broken.
fn check_usage(cli: Cli) -> Result<Cli, clap::Error> {
    if let Command::Report(ReportCommand::Export(a)) = &cli.command
        && a.formula_guard
        && a.format != ExportFormat::Csv
    {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        cmd.build();
        let export = cmd
            .find_subcommand_mut("report")
            .and_then(|c| c.find_subcommand_mut("export"));
        let cmd = match export {
            Some(c) => c,
            None => &mut cmd,
        };
        return Err(cmd.error(
            clap::error::ErrorKind::ArgumentConflict,
            "--formula-guard applies to --format csv only",
        ));
    }
    if let Command::Report(ReportCommand::Aggregate(a)) = &cli.command
        && let Err(msg) = a.check()
    {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        cmd.build();
        let sub = cmd
            .find_subcommand_mut("report")
            .and_then(|c| c.find_subcommand_mut("aggregate"));
        let cmd = match sub {
            Some(c) => c,
            None => &mut cmd,
        };
        return Err(cmd.error(clap::error::ErrorKind::ValueValidation, msg));
    }
    let (name, filter) = match &cli.command {
        Command::Report(ReportCommand::Summarize(a)) => ("summarize", &a.filter),
        Command::Report(ReportCommand::Export(a)) => ("export", &a.filter),
        _ => return Ok(cli),
    };
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since > until
    {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        cmd.build();
        let sub = cmd
            .find_subcommand_mut("report")
            .and_then(|c| c.find_subcommand_mut(name));
        let cmd = match sub {
            Some(c) => c,
            None => &mut cmd,
        };
        return Err(cmd.error(
            clap::error::ErrorKind::ArgumentConflict,
            "--since is after --until",
        ));
    }
    Ok(cli)
}

fn main() -> ExitCode {
    output::install_panic_hook();
    let cli = match Cli::try_parse().and_then(check_usage) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to
            // stderr with status 2. A closed pipe is not an error.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli))) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            output::error(&e);
            ExitCode::FAILURE
        }
        // The panic hook has already printed one `error:` line.
        Err(_) => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{Cli, check_usage};

    /// The source files whose remediation texts quote `mtasts` commands.
    const REMEDIATION_SOURCES: &[&str] = &[
        "../mta-sts-core/src/lint.rs",
        "../tlsrpt-core/src/alert.rs",
        "../mta-sts-check/src/check.rs",
    ];

    /// Every backtick-quoted `mtasts ...` command in `source`, with
    /// `{placeholder}` format arguments and `<placeholder>` words
    /// replaced by sample values.
    /// Comment lines (rustdoc included) are left out: they describe
    /// commands, they are not remediation texts.
    fn quoted_commands(source: &str) -> Vec<String> {
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut out = Vec::new();
        for (i, part) in code.split('`').enumerate() {
            // Odd parts are inside backticks.
            if i % 2 == 1 && part.starts_with("mtasts ") {
                let mut cmd = String::new();
                let mut chars = part.chars().peekable();
                while let Some(c) = chars.next() {
                    match c {
                        '{' => {
                            for c in chars.by_ref() {
                                if c == '}' {
                                    break;
                                }
                            }
                            cmd.push_str("mx1.example.com");
                        }
                        '<' | '>' => {}
                        c => cmd.push(c),
                    }
                }
                out.push(cmd);
            }
        }
        out
    }

    #[test]
    fn every_command_quoted_in_a_remediation_text_parses() {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut seen = 0;
        for file in REMEDIATION_SOURCES {
            let path = format!("{root}/{file}");
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            for cmd in quoted_commands(&source) {
                let args = cmd.split_whitespace();
                let parsed = Cli::try_parse_from(args).and_then(check_usage);
                assert!(
                    parsed.is_ok(),
                    "{file}: `{cmd}` does not parse: {}",
                    parsed.err().map(|e| e.to_string()).unwrap_or_default()
                );
                seen += 1;
            }
        }
        // lint.rs, alert.rs and check.rs each quote at least one command.
        assert!(seen >= 3, "only {seen} quoted commands found");
    }

    #[test]
    fn quoted_commands_are_extracted_with_samples() {
        let src = r#""run `mtasts cert check --mx {mx} <cert.pem>` or `openssl x`, then `mtasts policy lint FILE`""#;
        assert_eq!(
            quoted_commands(src),
            [
                "mtasts cert check --mx mx1.example.com cert.pem",
                "mtasts policy lint FILE"
            ]
        );
    }
}
