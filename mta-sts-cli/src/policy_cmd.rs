//! `mtasts policy parse|lint|match|generate`.

use std::fmt::Write as _;
use std::time::SystemTime;

use anyhow::{Result, anyhow, bail};
use mta_sts_core::display::escape_controls;
use mta_sts_core::lint::{Finding, LintCode, Severity};
use mta_sts_core::policy::{self, MAX_MAX_AGE};
use mta_sts_core::{Mode, MxPattern, Policy, PolicyError, PolicyWarning, StsRecord, record};
use serde::Serialize;

use crate::input::{self, PolicyText};
use crate::{ModeArg, PolicyGenerateArgs, PolicyLintArgs, PolicyMatchArgs, PolicyParseArgs};
use crate::{output, timefmt};

/// Width of the labels in the text output of `policy parse`.
const LABEL_WIDTH: usize = 11;

/// The domain used by `policy generate` without `--domain`.
const PLACEHOLDER_DOMAIN: &str = "example.com";

/// Parse `input` with the lenient reader, or the strict one if `strict`.
/// Returns the policy and its warnings as text (`line N: ...`). The strict
/// reader reports ignored repeated fields as warnings too.
fn parse_policy(input: &PolicyText, strict: bool) -> Result<(Policy<'_>, Vec<PolicyWarning>)> {
    let at = |e| anyhow!("{}: {e}", input.name);
    if strict {
        let p = Policy::parse(&input.text).map_err(at)?;
        let warnings = p
            .ignored()
            .iter()
            .map(|f| PolicyWarning::DuplicateField {
                line: f.line,
                key: f.name.to_string(),
            })
            .collect();
        Ok((p, warnings))
    } else {
        let l = Policy::parse_lenient(&input.text).map_err(at)?;
        Ok((l.value, l.warnings))
    }
}

/// Print each warning as `warning: <input>: <warning>` on stderr.
fn print_warnings(input: &PolicyText, warnings: &[PolicyWarning]) {
    for w in warnings {
        output::warning(format_args!("{}: {w}", input.name));
    }
}

/// One extension field in JSON.
#[derive(Serialize)]
struct ExtensionJson<'a> {
    /// The key.
    name: &'a str,
    /// The value.
    value: &'a str,
}

/// The JSON output of `policy parse`.
#[derive(Serialize)]
struct ParseJson<'a> {
    /// Always `STSv1`.
    version: &'static str,
    /// The mode.
    mode: &'static str,
    /// `max_age` in force (capped by the lenient reader).
    max_age: u32,
    /// The `mx` patterns in file order.
    mx: Vec<&'a str>,
    /// Unknown fields in file order.
    extensions: Vec<ExtensionJson<'a>>,
    /// The warnings, `line N: ...`.
    warnings: Vec<String>,
}

/// `mtasts policy parse`.
pub(crate) fn parse(args: &PolicyParseArgs, json: bool) -> Result<()> {
    let input = input::read_policy(&args.file)?;
    let (p, warnings) = parse_policy(&input, args.strict)?;
    print_warnings(&input, &warnings);
    if json {
        return output::json(&ParseJson {
            version: "STSv1",
            mode: p.mode().as_str(),
            max_age: p.max_age(),
            mx: p.mx().iter().map(MxPattern::as_str).collect(),
            extensions: p
                .extensions()
                .iter()
                .map(|e| ExtensionJson {
                    name: &e.name,
                    value: &e.value,
                })
                .collect(),
            warnings: warnings.iter().map(ToString::to_string).collect(),
        });
    }
    let mut out = String::new();
    let mut line = |label: &str, value: &dyn std::fmt::Display| {
        let value = value.to_string();
        let _ = writeln!(
            out,
            "{:<LABEL_WIDTH$}{}",
            format!("{label}:"),
            escape_controls(&value)
        );
    };
    line("version", &"STSv1");
    line("mode", &p.mode());
    line("max_age", &p.max_age());
    if p.mx().is_empty() {
        line("mx", &"(none)");
    }
    for mx in p.mx() {
        line("mx", mx);
    }
    for e in p.extensions() {
        line("extension", &format_args!("{}: {}", e.name, e.value));
    }
    output::text(&out)
}

/// The JSON output of `policy lint`.
#[derive(Serialize)]
struct LintJson<'a> {
    /// The findings, errors first.
    findings: &'a [Finding],
    /// Number of error findings.
    errors: usize,
    /// Number of warning findings.
    warnings: usize,
}

/// `mtasts policy lint`.
pub(crate) fn lint(args: &PolicyLintArgs, json: bool) -> Result<()> {
    let input = input::read_policy(&args.file)?;
    let (p, warnings) = parse_policy(&input, false)?;
    // Repeated fields are reported by the lint itself (`duplicate-field`).
    // An `mx` pattern no host can match (ignored by the lenient reader) is
    // an error for the publisher, as the lint says of other such patterns.
    let mut findings: Vec<Finding> = warnings
        .iter()
        .filter(|w| !matches!(w, PolicyWarning::DuplicateField { .. }))
        .map(|w| {
            let (severity, code) = match w {
                PolicyWarning::MxTooLong { .. } => (Severity::Error, LintCode::MxNeverMatches),
                _ => (Severity::Warning, LintCode::LenientParse),
            };
            Finding {
                severity,
                code,
                message: w.to_string(),
                remediation: code.remediation().to_owned(),
            }
        })
        .chain(p.lint())
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let (errors, warns) = (count(Severity::Error), count(Severity::Warning));
    if json {
        output::json(&LintJson {
            findings: &findings,
            errors,
            warnings: warns,
        })?;
    } else {
        let mut out = String::new();
        for f in &findings {
            let _ = writeln!(
                out,
                "{} [{}]: {}",
                f.severity.as_str(),
                f.code,
                escape_controls(&f.message)
            );
        }
        if findings.is_empty() {
            out.push_str("no findings\n");
        }
        output::text(&out)?;
    }
    if errors > 0 {
        let s = if errors == 1 { "" } else { "s" };
        bail!("{}: {errors} error finding{s}", input.name);
    }
    Ok(())
}

/// One host in the JSON output of `policy match`.
#[derive(Serialize)]
struct MatchJson<'a> {
    /// The host as given.
    host: &'a str,
    /// Whether a pattern matches.
    matched: bool,
    /// The first matching pattern.
    pattern: Option<&'a str>,
}

/// `mtasts policy match`.
pub(crate) fn matches(args: &PolicyMatchArgs, json: bool) -> Result<()> {
    let input = input::read_policy(&args.file)?;
    let (p, warnings) = parse_policy(&input, false)?;
    print_warnings(&input, &warnings);
    let results: Vec<MatchJson<'_>> = args
        .hosts
        .iter()
        .map(|h| {
            let pattern = p.matching_pattern(h).map(MxPattern::as_str);
            MatchJson {
                host: h,
                matched: pattern.is_some(),
                pattern,
            }
        })
        .collect();
    if json {
        output::json(&results)?;
    } else {
        let hosts: Vec<_> = results.iter().map(|r| escape_controls(r.host)).collect();
        let width = hosts.iter().map(|h| h.chars().count()).max().unwrap_or(0);
        let mut out = String::new();
        for (r, host) in results.iter().zip(&hosts) {
            let _ = match r.pattern {
                Some(pat) => writeln!(out, "{host:<width$}  matched by {pat}"),
                None => writeln!(out, "{host:<width$}  not matched"),
            };
        }
        output::text(&out)?;
    }
    let failed = results.iter().filter(|r| !r.matched).count();
    if failed > 0 {
        bail!("{failed} of {} hosts match no mx pattern", results.len());
    }
    Ok(())
}

/// The JSON output of `policy generate`.
#[derive(Serialize)]
struct GenerateJson<'a> {
    /// The policy body.
    policy: &'a str,
    /// The TXT record value.
    txt_record: &'a str,
    /// The name of the TXT record.
    txt_name: &'a str,
    /// The host that serves the policy.
    policy_host: &'a str,
    /// The URL of the policy.
    policy_url: &'a str,
    /// The policy id.
    id: &'a str,
    /// The `_smtp._tls` record value, with `--rua`.
    #[serde(skip_serializing_if = "Option::is_none")]
    tlsrpt_record: Option<&'a str>,
    /// The name of the `_smtp._tls` record, with `--rua`.
    #[serde(skip_serializing_if = "Option::is_none")]
    tlsrpt_name: Option<&'a str>,
    /// The records in zone-file syntax (the contents of `dns.txt`).
    dns_zone: &'a str,
    /// Lint findings about the generated policy.
    warnings: &'a [Finding],
}

/// Parse `--max-age`: decimal seconds, at most [`MAX_MAX_AGE`].
fn parse_max_age(s: &str) -> Result<u64> {
    let v: u64 = s.parse().map_err(|_| {
        anyhow!("--max-age: invalid value `{s}` (expected seconds, 0 to {MAX_MAX_AGE})")
    })?;
    if v > u64::from(MAX_MAX_AGE) {
        bail!("--max-age: {v} is larger than the maximum {MAX_MAX_AGE}");
    }
    Ok(v)
}

/// Check `--domain` and return it in lower-case A-labels, without a
/// trailing dot.
fn parse_domain(d: &str) -> Result<String> {
    let bad = |why: &dyn std::fmt::Display| anyhow!("--domain: invalid domain `{d}`: {why}");
    if d.contains('*') {
        return Err(bad(&"wildcards are not allowed"));
    }
    // A domain name follows the same rules as a non-wildcard MX pattern.
    MxPattern::from_user(d)
        .map(|p| p.as_str().to_ascii_lowercase())
        .map_err(|e| bad(&e))
}

/// Quote `value` as the character-strings of a zone-file TXT record:
/// `"..."`, split into strings of at most 255 bytes (RFC 1035 3.3), with
/// `"` and `\` escaped.
fn zone_txt(value: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    out.push('"');
    for c in value.chars() {
        if len + c.len_utf8() > 255 {
            out.push_str("\" \"");
            len = 0;
        }
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
        len += c.len_utf8();
    }
    out.push('"');
    out
}

/// The `_smtp._tls` record value for `--rua`, checked by the parser.
fn tlsrpt_record(rua: &[String]) -> Result<Option<String>> {
    if rua.is_empty() {
        return Ok(None);
    }
    let text = format!("v=TLSRPTv1; rua={}", rua.join(","));
    let record = tlsrpt_core::TlsRptRecord::parse(&text).map_err(|e| anyhow!("--rua: {e}"))?;
    if let Some(bad) = record.rua().iter().find(|r| !r.is_usable()) {
        bail!(
            "--rua: `{}` is not a mailto: or https: address",
            escape_controls(&bad.uri)
        );
    }
    Ok(Some(record.to_string()))
}

/// Lint findings worth telling the author of a new policy: everything
/// but the mode they chose on purpose.
fn generate_findings(policy: &Policy<'_>) -> Vec<Finding> {
    policy
        .lint()
        .into_iter()
        .filter(|f| !matches!(f.code, LintCode::TestingMode | LintCode::NoneMode))
        .filter(|f| f.severity != Severity::Info)
        .collect()
}

/// Write `contents` to `dir/name` through a temporary file and a rename,
/// so that a reader never sees half a file.
fn write_file(dir: &std::path::Path, name: &str, contents: &str) -> Result<std::path::PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents).map_err(|e| anyhow!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(path)
}

/// `mtasts policy generate`.
pub(crate) fn generate(args: &PolicyGenerateArgs, json: bool) -> Result<()> {
    let mode = match args.mode {
        ModeArg::Enforce => Mode::Enforce,
        ModeArg::Testing => Mode::Testing,
        ModeArg::None => Mode::None,
    };
    let max_age = parse_max_age(&args.max_age)?;
    let mut builder = Policy::builder().mode(mode).max_age(max_age);
    for m in &args.mx {
        // Checked here so that the message names the option, not `line 0`.
        let p = MxPattern::from_user(m).map_err(|e| anyhow!("--mx: {e}"))?;
        builder = builder.mx(p.as_str());
    }
    let policy = builder.build().map_err(|e| match e {
        PolicyError::MissingMx(_) => anyhow!("--mx: {e}"),
        e => anyhow!(e),
    })?;
    let id = match &args.id {
        Some(id) => id.clone(),
        None => timefmt::timestamp_id(SystemTime::now()).map_err(|e| anyhow!("policy id: {e}"))?,
    };
    let txt_record = StsRecord::new(id.as_str())
        .map_err(|e| anyhow!("--id: {e}"))?
        .to_string();
    let tlsrpt = tlsrpt_record(&args.rua)?;
    let domain = match &args.domain {
        Some(d) => parse_domain(d)?,
        None => {
            output::warning(format_args!(
                "no --domain given: using the placeholder `{PLACEHOLDER_DOMAIN}`"
            ));
            PLACEHOLDER_DOMAIN.to_owned()
        }
    };
    let findings = generate_findings(&policy);
    for f in &findings {
        output::warning(format_args!(
            "policy: {} ({}); fix: {}",
            f.message, f.code, f.remediation
        ));
    }
    let body = policy.to_string();
    let txt_name = record::txt_name(&domain);
    let tlsrpt_name = format!("_smtp._tls.{domain}");
    let policy_host = policy::policy_host(&domain);
    let policy_url = policy::policy_url(&domain);
    let mut dns = format!(
        "; MTA-STS for {domain} (RFC 8461). {policy_host} must resolve (A/AAAA or CNAME) to an \
         HTTPS server with a valid certificate for that name, serving mta-sts.txt at \
         {policy_url} with Content-Type: text/plain.\n\
         ; Publish the _mta-sts record only once the policy is served (RFC 8461 8.1), and give \
         it a new id whenever the policy changes.\n\
         {txt_name}. IN TXT {}\n",
        zone_txt(&txt_record)
    );
    if let Some(t) = &tlsrpt {
        let _ = writeln!(dns, "{tlsrpt_name}. IN TXT {}", zone_txt(t));
    }
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).map_err(|e| anyhow!("--output-dir {}: {e}", dir.display()))?;
        let a = write_file(dir, "mta-sts.txt", &body)?;
        let b = write_file(dir, "dns.txt", &dns)?;
        eprintln!("wrote {} and {}", a.display(), b.display());
    }
    if json {
        return output::json(&GenerateJson {
            policy: &body,
            txt_record: &txt_record,
            txt_name: &txt_name,
            tlsrpt_record: tlsrpt.as_deref(),
            tlsrpt_name: tlsrpt.as_ref().map(|_| tlsrpt_name.as_str()),
            dns_zone: &dns,
            policy_host: &policy_host,
            policy_url: &policy_url,
            id: &id,
            warnings: &findings,
        });
    }
    if args.output_dir.is_none() {
        // stdout is the body alone (`> mta-sts.txt`); the records go to stderr.
        output::stdout(&body)?;
        eprint!("{dns}");
    }
    if args.domain.is_none() {
        eprintln!("# `{PLACEHOLDER_DOMAIN}` is a placeholder: pass --domain with your domain");
    }
    Ok(())
}
