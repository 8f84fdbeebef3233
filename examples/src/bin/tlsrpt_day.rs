//! An MTA's day of TLS-RPT, without any IO: record every TLS session
//! under the policy that applied, take in a second node's partial
//! aggregate and a Postfix (libtlsrpt) datagram, then finish the UTC day
//! into one RFC 8460 report per policy domain, each with its gzip, file
//! name and e-mail, ready to deliver.
//!
//! ```text
//! cargo run -p mta-sts-examples --bin tlsrpt_day
//! ```

use std::error::Error;
use std::io::Write as _;

use mta_sts_core::{Policy, ResultType};
use tlsrpt_core::datagram::{self, DatagramLimits};
use tlsrpt_core::outgoing::{MailMeta, render, render_email};
use tlsrpt_core::session::{
    AggregateLimits, DayAggregate, Failure, Outcome, PolicyKey, ReportMeta, UtcDay,
};
use tlsrpt_core::time::Timestamp;

fn main() -> Result<(), Box<dyn Error>> {
    // writeln! rather than println!: a closed pipe (`| head`) is an error, not a panic.
    let mut out = std::io::stdout().lock();
    // The day is the UTC day of the session's time (passed in, never read
    // from a clock here).
    let now = Timestamp::from_unix(1_714_557_600); // 2024-05-01T10:00:00Z
    let mut day = DayAggregate::new(UtcDay::containing(now)?);

    // One key per policy the MTA holds (build it when the policy is
    // fetched, keep it with the cached policy); intern it for the hot path.
    let policy = Policy::parse(
        "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.backup.example.com\nmax_age: 604800\n",
    )?;
    let example_com = day.intern(&PolicyKey::for_policy("example.com", &policy)?);
    let no_policy = PolicyKey::no_policy_found("example.org")?;

    // Sessions as they happen.
    for _ in 0..950 {
        day.record_by(example_com, &Outcome::Success)?;
    }
    let expired = Failure::new(ResultType::CertificateExpired)
        .receiving_mx_hostname("mx1.example.com")
        .receiving_ip("198.51.100.25".parse()?)
        .sending_mta_ip("192.0.2.10".parse()?)
        .failure_reason_code("certificate has expired");
    for _ in 0..50 {
        day.record_by(example_com, &Outcome::Failure(expired.clone()))?;
    }
    for _ in 0..120 {
        day.record(&no_policy, &Outcome::Success)?;
    }

    // Postfix reports through libtlsrpt: one datagram per delivery.
    let dg = br#"{"dpv":"1","d":"example.net","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@example.net","policies":[{"policy-type":9,"policy-domain":"example.net","t":0,"f":0}]}"#;
    let decoded = datagram::decode(dg, &DatagramLimits::default())?;
    for w in &decoded.warnings {
        writeln!(out, "datagram warning: {w}")?;
    }
    day.record_datagram(&decoded)?;

    // Another node of the same site aggregated its own sessions; its
    // partial arrives as JSON (a file, a database row) and merges in.
    let mut node2 = DayAggregate::new(day.day());
    for _ in 0..30 {
        node2.record(&no_policy, &Outcome::Success)?;
    }
    let partial = node2.to_json();
    day.merge(&DayAggregate::from_json(
        partial.as_bytes(),
        AggregateLimits::default(),
    )?)?;

    // After UTC midnight: the reports.
    let meta = ReportMeta::new(
        "Example Mail",
        "tlsrpt@mail.example.com",
        "mail.example.com",
        "n1",
    );
    let finished = day.finish(&meta)?;
    if !finished.unreported.is_empty() || finished.folded_failure_details > 0 {
        writeln!(
            out,
            "over the limits: {:?} unreported, {} failure details folded",
            finished.unreported, finished.folded_failure_details
        )?;
    }
    let sent_at = Timestamp::from_unix(day.day().end().unix_secs() + 3_600);
    for (n, report) in finished.reports.iter().enumerate() {
        let r = render(report, &meta.submitter, &meta.unique_id)?;
        let mail = render_email(
            report,
            &r,
            &MailMeta::new(
                "TLS reports <tlsrpt-noreply@mail.example.com>",
                [format!(
                    "tlsrpt@{}",
                    report.policies[0]
                        .policy
                        .policy_domain
                        .as_deref()
                        .unwrap_or("")
                )],
                sent_at,
                format!("m{n}"),
            ),
        )?;
        writeln!(
            out,
            "{}: {} ok / {} failed; {} bytes JSON, {} bytes gzip, {} bytes e-mail",
            r.filename,
            report.successful_sessions(),
            report.failed_sessions(),
            r.json.len(),
            r.gzip.len(),
            mail.len()
        )?;
    }
    if let Some(first) = finished.reports.first() {
        writeln!(out, "\n{}", first.to_json(true))?;
    }
    Ok(())
}
