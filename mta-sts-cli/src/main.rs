//! `mtasts`: parse, lint, match and generate MTA-STS policies, parse
//! `_mta-sts` TXT records and check MX host certificates.
//!
//! Exit status: 0 when the input is valid or the check passed, 1 when the
//! input is invalid or a check failed (with one `error: ...` line on
//! stderr), 2 for usage errors (reported by clap).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod cert_cmd;
mod input;
mod output;
mod policy_cmd;
mod record_cmd;
mod timefmt;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "mtasts",
    version,
    about = "Parse, lint, match and generate MTA-STS policies (RFC 8461), parse _mta-sts TXT records, check MX certificates",
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
    /// Work with `_mta-sts` TXT records.
    #[command(subcommand)]
    Record(RecordCommand),
    /// Check MX host certificates.
    #[command(subcommand)]
    Cert(CertCommand),
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
    /// Select and parse the record of a DNS TXT answer (one argument per RR).
    Parse(RecordParseArgs),
}

/// Arguments of `mtasts record parse`.
#[derive(Debug, Args)]
pub(crate) struct RecordParseArgs {
    /// The TXT RRs of one DNS answer, each with its character-strings
    /// already joined (e.g. `'v=STSv1; id=20160831085700Z;'`).
    #[arg(value_name = "RECORD", required = true, num_args = 1..)]
    pub(crate) records: Vec<String>,
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
        Command::Cert(CertCommand::Check(a)) => cert_cmd::check(&a, json),
    }
}

fn main() -> ExitCode {
    output::install_panic_hook();
    let cli = match Cli::try_parse() {
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
