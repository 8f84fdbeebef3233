//! `mtasts check DOMAIN`: the end-to-end check a domain owner runs (TXT
//! record, policy fetch, lint, MX coverage, SMTP STARTTLS probe of every
//! MX host, TLS-RPT record), with remediation for every finding.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use mta_sts_check::check::{Applied, CheckReport, MxReport, PolicyStatus, RecordStatus, Severity};
use mta_sts_check::smtp::CertStatus;
use mta_sts_check::{CheckOptions, check_domain};
use mta_sts_core::display::escape_controls;

use crate::{NetArgs, output};

/// Arguments of `mtasts check`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when nothing would make senders fail or skip the policy \
                  (warnings allowed), 1 when a finding is an error, 2 for usage errors. \
                  MX hosts are probed on port 25 (--smtp-port), which some networks block \
                  outbound; an unreachable MX host is a warning, no reachable MX host an error."
)]
pub(crate) struct CheckArgs {
    /// The Policy Domain to check (e.g. `example.com`).
    #[arg(value_name = "DOMAIN", value_parser = parse_domain)]
    pub(crate) domain: String,
    /// Timeout in seconds of the policy fetch and of each MX probe.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) timeout: u64,
    /// Network overrides for tests and private deployments.
    #[command(flatten)]
    pub(crate) net: NetArgs,
}

fn parse_domain(s: &str) -> Result<String, mta_sts_core::domain::DomainError> {
    mta_sts_core::domain::normalize(s)
}

/// `mtasts check`.
pub(crate) fn check(args: &CheckArgs, json: bool) -> Result<()> {
    let options = CheckOptions {
        fetch_timeout: Duration::from_secs(args.timeout),
        probe_timeout: Duration::from_secs(args.timeout),
        connect_timeout: Duration::from_secs(args.timeout.min(10)),
        ..CheckOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("async runtime")?;
    let overrides = args.net.overrides();
    let report = runtime.block_on(check_domain(&args.domain, &overrides, &options))?;
    if json {
        output::json(&report)?;
    } else {
        output::text(&render(&report))?;
    }
    if report.exit_failed() {
        let n = report.count(Severity::Error);
        bail!(
            "{}: {n} error{}: senders would fail or skip the MTA-STS policy",
            report.domain,
            if n == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

fn mx_marker(m: &MxReport) -> &'static str {
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

    use super::render;

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
