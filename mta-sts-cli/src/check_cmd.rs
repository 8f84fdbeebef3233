//! `mtasts check DOMAIN...`: the end-to-end check a domain owner runs
//! (TXT record, policy fetch, lint, MX coverage, SMTP STARTTLS probe of
//! every MX host, certificate expiry, DANE, TLS-RPT record), with
//! remediation for every finding; for one domain or many (arguments and
//! `--domains-file`), with bounded concurrency, as text, JSON or CSV.
//!
//! The CSV writer here is a minimal one of its own (RFC 4180 quoting,
//! control characters escaped, formula guard always on), because
//! `tlsrpt_core::CsvWriter` writes the report export's fixed columns only.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use mta_sts_check::check::{
    Applied, CheckReport, DaneStatus, MxReport, PolicyStatus, ProbeState, RecordStatus, Severity,
    Summary,
};
use mta_sts_check::smtp::CertStatus;
use mta_sts_check::{CheckOptions, Checker};
use mta_sts_core::display::{escape_controls, escape_controls_multiline};

use crate::{NetArgs, input, output};

/// Largest `--domains-file` read, in bytes (10 MiB).
pub(crate) const MAX_DOMAINS_FILE: usize = 10 * 1024 * 1024;
/// Most domains one call checks, after duplicates are removed (100,000).
pub(crate) const MAX_DOMAINS: usize = 100_000;
/// Most domain names listed in the closing `error:` line.
const MAX_NAMED_FAILURES: usize = 10;

/// Arguments of `mtasts check`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when nothing would make senders fail or skip the policy \
                  (warnings allowed), 1 when a finding of any domain is an error or a domain \
                  could not be checked (an invalid name in --domains-file), 2 for usage errors. \
                  MX hosts are probed on port 25 (--smtp-port), which some networks block \
                  outbound; an unreachable MX host is a warning, no reachable MX host an error; \
                  --no-smtp skips the probes (the MX hosts are then reported as not probed, \
                  an info finding).\n\n\
                  Several domains (arguments and --domains-file, duplicates removed, at most \
                  100000) are checked --concurrency at a time and reported in input order: \
                  text gives one block per domain, then one summary line per domain. \
                  --format json (or --json) prints a single object for exactly one DOMAIN \
                  argument, and an array of objects when more than one DOMAIN or \
                  --domains-file is given; a domain that could not be checked is \
                  {\"domain\", \"passed\": false, \"error\"}. --format csv prints a header \
                  and one row per domain: domain, passed, record, policy, mode, mx \
                  (covered/total under an enforce or testing policy), certificates \
                  (ok/expiring/invalid/none/not-probed), tlsrpt, dane \
                  (none/present/validated/error), errors, warnings (counts of findings), \
                  error (why a domain could not be checked); values that could start a \
                  spreadsheet formula get a leading '.\n\n\
                  Certificates (MX hosts and mta-sts.DOMAIN) that expire within 14 days draw a \
                  warning, within 3 days an error where senders rely on them. DANE: the TLSA \
                  records at _25._tcp.MX are shown; DNSSEC is \"validated\" only when the \
                  resolver set the AD bit (this check does not validate DNSSEC itself)."
)]
pub(crate) struct CheckArgs {
    /// The Policy Domains to check (e.g. `example.com`).
    #[arg(value_name = "DOMAIN", value_parser = parse_domain, required_unless_present = "domains_file")]
    pub(crate) domains: Vec<String>,
    /// Also check the domains listed in FILE (`-` for stdin): one per
    /// line, blank lines and `#` comments ignored, at most 10 MiB; an
    /// invalid name is reported as that domain's error.
    #[arg(long, value_name = "FILE")]
    pub(crate) domains_file: Option<PathBuf>,
    /// Check at most N domains at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) concurrency: u16,
    /// Output format (`--json` is `--format json`).
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
    pub(crate) format: Option<CheckFormat>,
    /// Do not probe the MX hosts over SMTP (outbound port 25 blocked):
    /// they are looked up and matched, and reported as not probed
    /// (--smtp-port is then unused).
    #[arg(long)]
    pub(crate) no_smtp: bool,
    /// Timeout in seconds of the policy fetch and of each MX probe.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) timeout: u64,
    /// Network overrides for tests and private deployments.
    #[command(flatten)]
    pub(crate) net: NetArgs,
}

/// The `--format` values of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckFormat {
    /// One readable block per domain, then a summary line per domain.
    Text,
    /// The report object (one domain) or an array of them.
    Json,
    /// A header and one row per domain.
    Csv,
}

fn parse_domain(s: &str) -> Result<String, mta_sts_core::domain::DomainError> {
    mta_sts_core::domain::normalize(s)
}

/// One domain to report on, in input order.
enum Entry {
    /// A valid name (normalised), to check.
    Domain(String),
    /// A line of the domains file that is not a domain name.
    Invalid {
        /// The line as given (without its comment and blanks).
        given: String,
        /// Why, with the file and line.
        reason: String,
    },
}

/// The domains to check: the arguments, then the file's, each once.
fn entries(args: &CheckArgs) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut invalid_seen = HashSet::new();
    let too_many =
        || anyhow::anyhow!("more than {MAX_DOMAINS} domains to check (the limit of one call)");
    for d in &args.domains {
        if seen.insert(d.clone()) {
            out.push(Entry::Domain(d.clone()));
        }
    }
    let Some(path) = &args.domains_file else {
        return Ok(out);
    };
    let file = input::read_capped(path, MAX_DOMAINS_FILE)?;
    let name = &file.name;
    if file.bytes.len() > MAX_DOMAINS_FILE {
        bail!("{name}: larger than {MAX_DOMAINS_FILE} bytes (10 MiB, the limit of --domains-file)");
    }
    for (n, raw) in file.bytes.split(|b| *b == b'\n').enumerate() {
        let line = n + 1;
        let content = raw.split(|b| *b == b'#').next().unwrap_or_default();
        let content = content.trim_ascii();
        if content.is_empty() {
            continue;
        }
        let entry = match std::str::from_utf8(content) {
            Err(_) => Entry::Invalid {
                given: String::from_utf8_lossy(content).into_owned(),
                reason: format!("{name} line {line}: not UTF-8"),
            },
            Ok(text) => match mta_sts_core::domain::normalize(text) {
                Ok(d) => Entry::Domain(d),
                Err(e) => Entry::Invalid {
                    given: text.to_owned(),
                    reason: format!("{name} line {line}: {e}"),
                },
            },
        };
        let new = match &entry {
            Entry::Domain(d) => seen.insert(d.clone()),
            Entry::Invalid { given, .. } => invalid_seen.insert(given.clone()),
        };
        if new {
            if out.len() == MAX_DOMAINS {
                return Err(too_many()).with_context(|| name.clone());
            }
            out.push(entry);
        }
    }
    if out.is_empty() {
        bail!("{name}: no domain to check");
    }
    Ok(out)
}

/// What one domain came to.
enum Outcome {
    /// Checked.
    Report(Box<CheckReport>),
    /// Not checked.
    Error {
        /// The domain as given.
        domain: String,
        /// Why.
        reason: String,
    },
}

/// The one-line account of a domain kept for the closing summary.
struct Line {
    domain: String,
    passed: bool,
    summary: Option<Summary>,
    error: Option<String>,
}

/// Writes each outcome as it comes, in the chosen format.
struct Writer {
    format: CheckFormat,
    /// JSON: an array (several domains or a file) rather than one object.
    array: bool,
    /// Nothing written yet.
    first: bool,
    /// stdout is still open.
    open: bool,
    lines: Vec<Line>,
}

impl Writer {
    fn write(&mut self, text: &str) -> Result<()> {
        if self.open {
            self.open = output::stdout_open(text)?;
        }
        Ok(())
    }

    fn add(&mut self, outcome: Outcome) -> Result<ControlFlow<()>> {
        let mut text = String::new();
        match self.format {
            CheckFormat::Text => {
                if !self.first {
                    text.push('\n');
                }
                match &outcome {
                    Outcome::Report(r) => text.push_str(&render(r)),
                    Outcome::Error { domain, reason } => {
                        let _ = writeln!(
                            text,
                            "MTA-STS check of {}\n\nFAIL  {}",
                            escape_controls(domain),
                            escape_controls(reason)
                        );
                    }
                }
                text = escape_controls_multiline(&text).into_owned();
            }
            CheckFormat::Json => {
                let value = match &outcome {
                    Outcome::Report(r) => serde_json::to_value(r).context("JSON output")?,
                    Outcome::Error { domain, reason } => serde_json::json!({
                        "domain": domain,
                        "passed": false,
                        "error": reason,
                    }),
                };
                let pretty = serde_json::to_string_pretty(&value).context("JSON output")?;
                if self.array {
                    text.push_str(if self.first { "[\n" } else { ",\n" });
                    // JSON strings hold no raw line breaks: indenting every
                    // line keeps the document valid.
                    let indented: Vec<String> = pretty.lines().map(|l| format!("  {l}")).collect();
                    text.push_str(&indented.join("\n"));
                } else {
                    text.push_str(&pretty);
                    text.push('\n');
                }
            }
            CheckFormat::Csv => {
                if self.first {
                    csv_row(&mut text, &CSV_COLUMNS.map(str::to_owned));
                }
                csv_row(&mut text, &csv_values(&outcome));
            }
        }
        self.first = false;
        self.lines.push(match outcome {
            Outcome::Report(r) => Line {
                passed: !r.exit_failed(),
                domain: r.domain,
                summary: Some(r.summary),
                error: None,
            },
            Outcome::Error { domain, reason } => Line {
                domain,
                passed: false,
                summary: None,
                error: Some(reason),
            },
        });
        self.write(&text)?;
        Ok(if self.open {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        })
    }

    /// The end of the output: the JSON array's close, the text summary.
    fn finish(&mut self) -> Result<()> {
        match self.format {
            CheckFormat::Json if self.array => {
                let text = if self.first { "[]\n" } else { "\n]\n" };
                self.write(text)
            }
            CheckFormat::Text if self.lines.len() > 1 => {
                let text = summary_text(&self.lines);
                self.write(&escape_controls_multiline(&text))
            }
            _ => Ok(()),
        }
    }
}

/// `mtasts check`.
pub(crate) fn check(args: &CheckArgs, json: bool) -> Result<()> {
    let format = match (args.format, json) {
        (Some(f), _) => f,
        (None, true) => CheckFormat::Json,
        (None, false) => CheckFormat::Text,
    };
    let entries = entries(args)?;
    let options = CheckOptions {
        fetch_timeout: Duration::from_secs(args.timeout),
        probe_timeout: Duration::from_secs(args.timeout),
        connect_timeout: Duration::from_secs(args.timeout.min(10)),
        probe_smtp: !args.no_smtp,
        ..CheckOptions::default()
    };
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("async runtime")?;
    let overrides = args.net.overrides();
    let mut writer = Writer {
        format,
        array: args.domains_file.is_some() || args.domains.len() > 1,
        first: true,
        open: true,
        lines: Vec::new(),
    };
    runtime.block_on(run(
        &entries,
        &overrides,
        &options,
        args.concurrency,
        &mut writer,
    ))?;
    writer.finish()?;
    drop(runtime);

    let failed: Vec<&Line> = writer.lines.iter().filter(|l| !l.passed).collect();
    if failed.is_empty() || !writer.open {
        return Ok(());
    }
    if let [only] = &writer.lines[..]
        && let Some(s) = &only.summary
    {
        let n = s.errors;
        bail!(
            "{}: {n} error{}: senders would fail or skip the MTA-STS policy",
            only.domain,
            if n == 1 { "" } else { "s" }
        );
    }
    if let [only] = &writer.lines[..]
        && let Some(e) = &only.error
    {
        bail!("{}: {e}", only.domain);
    }
    let names: Vec<&str> = failed
        .iter()
        .take(MAX_NAMED_FAILURES)
        .map(|l| l.domain.as_str())
        .collect();
    let more = failed.len().saturating_sub(MAX_NAMED_FAILURES);
    let more = if more > 0 {
        format!(", and {more} more")
    } else {
        String::new()
    };
    bail!(
        "{} of {} domains failed: {}{more}",
        failed.len(),
        writer.lines.len(),
        names.join(", ")
    )
}

/// Check the domains of `entries` and write each outcome, in input order.
async fn run(
    entries: &[Entry],
    overrides: &policy_fetch::Overrides,
    options: &CheckOptions,
    concurrency: u16,
    writer: &mut Writer,
) -> Result<()> {
    let checker = Checker::new(overrides, options)?;
    let domains: Vec<String> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Domain(d) => Some(d.clone()),
            Entry::Invalid { .. } => None,
        })
        .collect();
    // Invalid entries are written in their place, between the checked ones.
    let mut next = 0;
    let mut failure = None;
    let mut flush_invalid = |writer: &mut Writer, upto_domain: bool| -> Result<ControlFlow<()>> {
        while let Some(e) = entries.get(next) {
            match e {
                Entry::Invalid { given, reason } => {
                    next += 1;
                    let outcome = Outcome::Error {
                        domain: given.clone(),
                        reason: reason.clone(),
                    };
                    if writer.add(outcome)?.is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
                Entry::Domain(_) if upto_domain => {
                    next += 1;
                    break;
                }
                Entry::Domain(_) => break,
            }
        }
        Ok(ControlFlow::Continue(()))
    };
    let mut stopped = false;
    checker
        .check_each(domains, usize::from(concurrency), |_, domain, result| {
            let step = (|| -> Result<ControlFlow<()>> {
                if flush_invalid(writer, true)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
                let outcome = match result {
                    Ok(r) => Outcome::Report(Box::new(r)),
                    Err(e) => Outcome::Error {
                        domain: domain.to_owned(),
                        reason: format!("{:#}", anyhow::Error::new(e)),
                    },
                };
                writer.add(outcome)
            })();
            match step {
                Ok(flow) => {
                    stopped = flow.is_break();
                    flow
                }
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        })
        .await;
    if let Some(e) = failure {
        return Err(e);
    }
    if !stopped {
        // Invalid entries after the last domain checked.
        let _ = flush_invalid(writer, false)?;
    }
    Ok(())
}

/// The columns of `--format csv`.
const CSV_COLUMNS: [&str; 12] = [
    "domain",
    "passed",
    "record",
    "policy",
    "mode",
    "mx",
    "certificates",
    "tlsrpt",
    "dane",
    "errors",
    "warnings",
    "error",
];

fn csv_values(outcome: &Outcome) -> [String; 12] {
    match outcome {
        Outcome::Report(r) => {
            let s = &r.summary;
            [
                r.domain.clone(),
                (!r.exit_failed()).to_string(),
                s.record.as_str().to_owned(),
                s.policy.as_str().to_owned(),
                s.mode.map(|m| m.as_str().to_owned()).unwrap_or_default(),
                s.mx_covered
                    .map(|c| format!("{c}/{}", s.mx_total))
                    .unwrap_or_default(),
                s.certificates.as_str().to_owned(),
                s.tlsrpt.as_str().to_owned(),
                s.dane.as_str().to_owned(),
                s.errors.to_string(),
                s.warnings.to_string(),
                String::new(),
            ]
        }
        Outcome::Error { domain, reason } => {
            let mut v: [String; 12] = Default::default();
            v[0].clone_from(domain);
            v[1] = "false".into();
            v[11].clone_from(reason);
            v
        }
    }
}

/// Append one CSV record (RFC 4180, CRLF) with the rules of
/// `mtasts report export --format csv --formula-guard`: control characters
/// escaped, `'` before a value that could start a formula, fields with
/// `,` or `"` quoted and inner `"` doubled.
fn csv_row(out: &mut String, values: &[String]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        tlsrpt_core::export::csv_field(out, v, true);
    }
    out.push_str("\r\n");
}

/// One summary line per domain, then the totals.
fn summary_text(lines: &[Line]) -> String {
    let mut out = String::from("\nSummary:\n");
    let width = lines
        .iter()
        .map(|l| escape_controls(&l.domain).chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    for l in lines {
        let mark = if l.passed { "PASS" } else { "FAIL" };
        let domain = escape_controls(&l.domain);
        let detail = match (&l.summary, &l.error) {
            (Some(s), _) => {
                let mx = match s.mx_covered {
                    Some(c) => format!("{c}/{}", s.mx_total),
                    None => format!("{} (no policy applies)", s.mx_total),
                };
                format!(
                    "record {}, policy {}, mode {}, MX {mx}, certificates {}, TLS-RPT {}, DANE {}: {} error{}, {} warning{}",
                    s.record.as_str(),
                    s.policy.as_str(),
                    s.mode.map_or("-", |m| m.as_str()),
                    s.certificates.as_str(),
                    s.tlsrpt.as_str(),
                    s.dane.as_str(),
                    s.errors,
                    if s.errors == 1 { "" } else { "s" },
                    s.warnings,
                    if s.warnings == 1 { "" } else { "s" },
                )
            }
            (None, Some(e)) => format!("not checked: {e}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "{mark:<5} {domain:<width$}  {}",
            escape_controls(&detail)
        );
    }
    let failed = lines.iter().filter(|l| !l.passed).count();
    let _ = writeln!(
        out,
        "\n{} domains: {} passed, {failed} failed",
        lines.len(),
        lines.len() - failed
    );
    out
}

fn mx_marker(m: &MxReport) -> &'static str {
    if m.probe == ProbeState::NotProbed {
        return "skip";
    }
    let failed = m.result.as_deref().is_some_and(|r| r != "success");
    let problem = m.starttls != Some(true)
        || m.certificate.is_some_and(|c| c != CertStatus::Valid)
        || m.in_policy == Some(false);
    if failed {
        "FAIL"
    } else if problem {
        "warn"
    } else {
        "ok"
    }
}

fn mx_line(m: &MxReport) -> String {
    let mut parts = Vec::new();
    if let Some(a) = m.address {
        parts.push(a.to_string());
    }
    match m.starttls {
        Some(true) => {
            let mut s = "STARTTLS".to_owned();
            if let Some(v) = &m.tls_version {
                let _ = write!(s, " {v}");
            }
            parts.push(s);
        }
        Some(false) => parts.push("no STARTTLS".into()),
        None if m.probe == ProbeState::NotProbed => {
            parts.push("not probed (SMTP probes turned off)".into());
        }
        None => parts.push(format!(
            "not probed ({})",
            m.error.as_deref().unwrap_or("unknown error")
        )),
    }
    if let Some(c) = m.certificate {
        parts.push(match c {
            CertStatus::Valid => "certificate valid".to_owned(),
            other => other.to_string(),
        });
    }
    match (m.in_policy, &m.pattern) {
        (Some(true), Some(p)) => parts.push(format!("matches `{p}`")),
        (Some(false), _) => parts.push("not in policy".into()),
        _ => {}
    }
    if let Some(r) = &m.result {
        parts.push(format!("result {r}"));
    }
    parts.join(", ")
}

/// The DANE lines: one per MX host with TLSA records or a failed lookup,
/// or one saying there are none.
fn dane_rows(out: &mut String, mx: &[MxReport], row: &impl Fn(&mut String, &str, &str, &str)) {
    let mut any = false;
    for m in mx {
        let Some(d) = &m.dane else { continue };
        let what = format!("DANE {}", m.host);
        match d.status {
            DaneStatus::Present => {
                let n = d.records.len();
                row(
                    out,
                    "info",
                    &what,
                    &format!(
                        "TLSA present ({n} record{}), DNSSEC {}",
                        if n == 1 { "" } else { "s" },
                        match d.dnssec.as_str() {
                            "validated" => "validated",
                            _ => "unknown (no AD bit)",
                        }
                    ),
                );
                any = true;
            }
            DaneStatus::Error => {
                row(
                    out,
                    "warn",
                    &what,
                    &format!(
                        "TLSA lookup failed: {}",
                        d.error.as_deref().unwrap_or("unknown error")
                    ),
                );
                any = true;
            }
            DaneStatus::Absent => {}
        }
    }
    if !any && mx.iter().any(|m| m.dane.is_some()) {
        row(out, "--", "DANE", "no TLSA records for the MX hosts");
    }
}

/// The human-readable report. DNS answers, the policy, SMTP replies and
/// certificate names are untrusted: every value is escaped on its line.
fn render(r: &CheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "MTA-STS check of {}\n", escape_controls(&r.domain));
    let row = |out: &mut String, mark: &str, what: &str, detail: &str| {
        let (what, detail) = (escape_controls(what), escape_controls(detail));
        let _ = writeln!(out, "{mark:<5} {what:<26} {detail}");
    };

    let s = &r.sts_record;
    let (mark, detail) = match s.status {
        RecordStatus::Valid => ("ok", format!("id {}", s.id.as_deref().unwrap_or(""))),
        _ => (
            "FAIL",
            format!(
                "{}: {}",
                s.status.as_str(),
                s.reason.as_deref().unwrap_or("")
            ),
        ),
    };
    row(&mut out, mark, &format!("TXT {}", s.name), &detail);

    let p = &r.policy;
    let (mark, detail) = match &p.status {
        PolicyStatus::Ok => (
            "ok",
            format!(
                "mode {}, max_age {}, mx: {}",
                p.mode.map_or("?", |m| m.as_str()),
                p.max_age.unwrap_or(0),
                if p.mx.is_empty() {
                    "(none)".to_owned()
                } else {
                    p.mx.join(", ")
                }
            ),
        ),
        PolicyStatus::NotAttempted => ("skip", p.reason.clone().unwrap_or_default()),
        PolicyStatus::Failed(t) => (
            "FAIL",
            format!("{t}: {}", p.reason.as_deref().unwrap_or("")),
        ),
    };
    row(&mut out, mark, "policy", &detail);
    let _ = writeln!(out, "{:<5} {:<26} {}", "", "  url", escape_controls(&p.url));
    let applied_mark = match r.applied {
        Applied::Enforce => "ok",
        Applied::Testing | Applied::None => "warn",
        Applied::NoPolicy => "FAIL",
    };
    row(&mut out, applied_mark, "applied", r.applied.as_str());

    if r.mx.is_empty() {
        row(&mut out, "--", "MX", "no MX host to probe");
    }
    for m in &r.mx {
        row(
            &mut out,
            mx_marker(m),
            &format!("MX {} {}", m.preference, m.host),
            &mx_line(m),
        );
    }
    dane_rows(&mut out, &r.mx, &row);

    let t = &r.tlsrpt_record;
    let (mark, detail) = match t.status {
        RecordStatus::Valid => ("ok", format!("rua {}", t.rua.join(", "))),
        _ => (
            "warn",
            format!(
                "{}: {}",
                t.status.as_str(),
                t.reason.as_deref().unwrap_or("")
            ),
        ),
    };
    row(&mut out, mark, &format!("TXT {}", t.name), &detail);

    if !r.findings.is_empty() {
        out.push_str("\nFindings:\n");
        for f in &r.findings {
            let mark = match f.severity.as_str() {
                "error" => "FAIL",
                "warning" => "warn",
                _ => "info",
            };
            let _ = writeln!(out, "{mark:<5} {}", escape_controls(&f.message));
            let _ = writeln!(out, "{:<5} fix: {}", "", escape_controls(&f.remediation));
        }
    }
    let (e, w, i) = (
        r.count(Severity::Error),
        r.count(Severity::Warning),
        r.count(Severity::Info),
    );
    let _ = writeln!(
        out,
        "\n{}: {e} error{}, {w} warning{}, {i} info",
        if r.exit_failed() { "FAIL" } else { "PASS" },
        if e == 1 { "" } else { "s" },
        if w == 1 { "" } else { "s" },
    );
    out
}

#[cfg(test)]
mod tests {
    use mta_sts_check::{Observations, assess};
    use mta_sts_core::discovery::{HttpResponse, TxtAnswer};

    use super::{csv_row, render};

    /// The CSV writer: RFC 4180 quoting, control characters escaped, the
    /// formula guard on text that could start a formula.
    #[test]
    fn csv_fields() {
        let mut out = String::new();
        let row = [
            "plain",
            "a,b",
            "say \"hi\"",
            "=1+1",
            "-x",
            "@sum",
            "+1",
            "line\nbreak\u{1b}",
            "",
        ];
        csv_row(&mut out, &row.map(str::to_owned));
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\",'=1+1,'-x,'@sum,'+1,line\\nbreak\\u{1b},\r\n"
        );
    }

    /// Issue 15 item 7: what DNS and HTTPS returned is escaped in the text
    /// report (a TXT record and a Content-Type with terminal escapes).
    #[test]
    fn render_escapes_what_the_network_returned() {
        let seen = Observations::new("example.com")
            .with_sts_txt(TxtAnswer::Records(vec![b"v=STSv1; id=\x1b[2J;".to_vec()]));
        let text = render(&assess(seen));
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("invalid id `\\u{1b}[2J`"), "{text}");
        let seen = Observations::new("example.com")
            .with_sts_txt(TxtAnswer::Records(vec![b"v=STSv1; id=1;".to_vec()]))
            .with_policy(Ok(HttpResponse {
                status: 200,
                content_type: Some("text/html\u{1b}]0;x\u{7}\u{202e}\nFAKE".into()),
                body: b"version: STSv1\nmode: none\nmax_age: 1\n".to_vec(),
            }));
        let text = render(&assess(seen));
        assert!(!text.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("FAKE")), "{text}");
        assert!(
            text.contains(
                "policy served with Content-Type text/html\\u{1b}]0;x\\u{7}\\u{202e}\\nFAKE"
            ),
            "{text}"
        );
    }
}
