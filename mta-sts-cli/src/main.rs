//! `mtasts`: parse, lint, match and generate MTA-STS policies, parse
//! `_mta-sts` and `_smtp._tls` TXT records, check MX host certificates,
//! and read, summarize and export TLS-RPT reports. `mtasts completions`
//! and `mtasts man` print shell completion scripts and man pages
//! generated from the definitions below.
//!
//! Exit status: 0 when the input is valid or the check passed, 1 when the
//! input is invalid or a check failed (with one `error: ...` line on
//! stderr), 2 for usage errors (reported by clap).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod cert_cmd;
mod check_cmd;
#[cfg(unix)]
mod daemon_cmd;
mod gen_cmd;
mod input;
mod output;
mod policy_cmd;
mod record_cmd;
mod report_cmd;
mod timefmt;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "mtasts",
    version,
    about = "Parse, lint, match and generate MTA-STS policies (RFC 8461), parse _mta-sts and _smtp._tls TXT records, check MX certificates, read, summarize and export TLS-RPT reports (RFC 8460)",
    after_help = "Exit status: 0 valid/passed, 1 invalid input or failed check, 2 usage error."
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
                  --id overrides it (1 to 32 letters and digits)."
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
    /// How long senders may cache the policy, in seconds (0 to 31557600).
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    pub(crate) max_age: String,
    /// The policy id for the TXT record [default: current UTC time as YYYYMMDDhhmmss].
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// The Policy Domain [default: the placeholder `example.com`].
    #[arg(long)]
    pub(crate) domain: Option<String>,
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
    /// The TXT RRs of one DNS answer, each with its character-strings
    /// already joined (e.g. `'v=STSv1; id=20160831085700Z;'` or
    /// `'v=TLSRPTv1; rua=mailto:tlsrpt@example.com'`).
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
    /// List every reader warning per file (`warning: FILE: ...`) instead of
    /// one line counting them.
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Input limits.
    #[command(flatten)]
    pub(crate) limits: ReportLimitArgs,
    /// Report files or directories (read recursively, in sorted order).
    #[arg(value_name = "PATH", required = true, num_args = 1..)]
    pub(crate) paths: Vec<PathBuf>,
}

/// Arguments of `mtasts report summarize`.
#[derive(Debug, Args)]
#[command(
    after_help = "Every regular file under the given directories is read (JSON, gzip or \
                  e-mail, detected from the content). A file that is not a readable report \
                  gets one `error: PATH: ...` line on stderr; the others are still \
                  summarized and the command exits with status 1. The same report \
                  (organization-name and report-id) seen twice is counted once. Inside \
                  directories, FIFOs, sockets, devices, symbolic links to directories and \
                  other file systems are skipped with a warning; the walk stops at 32 \
                  levels and 1000000 files. Control characters in names and values are \
                  printed escaped (`\\u{1b}`)."
)]
pub(crate) struct ReportSummarizeArgs {
    /// Which files.
    #[command(flatten)]
    pub(crate) files: ReportFilesArgs,
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
                  (parsedmarc's 17 columns; NDJSON adds `source`, the file). Files are read \
                  as for `report summarize`; a report seen again (same organization-name \
                  and report-id) is not exported twice. --json is ignored: --format decides."
)]
pub(crate) struct ReportExportArgs {
    /// The output format.
    #[arg(long, value_enum)]
    pub(crate) format: ExportFormat,
    /// Prefix `'` to CSV text values that start with `=`, `+`, `-` or `@`,
    /// so spreadsheets do not run them as formulas (alters the data; CSV
    /// only). Control characters in values are always escaped.
    #[arg(long)]
    pub(crate) formula_guard: bool,
    /// Which files.
    #[command(flatten)]
    pub(crate) files: ReportFilesArgs,
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
        Command::Cert(CertCommand::Check(a)) => cert_cmd::check(&a, json),
        Command::Check(a) => check_cmd::check(&a, json),
        #[cfg(unix)]
        Command::Daemon(a) => daemon_cmd::run(&a),
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
