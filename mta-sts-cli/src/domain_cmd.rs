//! `mtasts domain ...`: manage the domains of a hosted MTA-STS site
//! (add, set, remove, list, show, records, configure; verify and promote
//! are in `site_check_cmd`).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use mta_sts_core::display::escape_controls;
use mta_sts_core::lint::Finding;
use mta_sts_core::time::Timestamp;
use mta_sts_core::{Mode, hosting};
use mtasts_site::domains::{self, AddOptions, Changes, PROPAGATION_SECS, Pending};
use mtasts_site::store::{Domain, PolicyVersion, SiteStore};
use serde_json::json;

use crate::{output, site_check_cmd};

/// Where the site store is: exactly one of `--state DIR` or
/// `--database URL`.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct StoreArgs {
    /// The directory of the embedded site store (`DIR/site.sqlite3`).
    #[arg(long, value_name = "DIR")]
    pub(crate) state: Option<PathBuf>,
    /// A PostgreSQL connection string shared by several hosting nodes
    /// (postgres://user@host/db).
    #[arg(long, value_name = "URL")]
    pub(crate) database: Option<String>,
}

impl StoreArgs {
    /// The store location.
    pub(crate) fn location(&self) -> mtasts_site::store::StoreLocation {
        use mtasts_site::store::StoreLocation;
        match (&self.state, &self.database) {
            (_, Some(url)) => StoreLocation::Database(url.clone()),
            (Some(dir), None) => StoreLocation::State(dir.clone()),
            (None, None) => StoreLocation::State(PathBuf::from(".")),
        }
    }
}

/// A policy mode on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModeArg {
    /// Report failures, deliver anyway.
    Testing,
    /// Refuse delivery to MX hosts that fail validation.
    Enforce,
    /// Senders ignore the policy.
    None,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Testing => Self::Testing,
            ModeArg::Enforce => Self::Enforce,
            ModeArg::None => Self::None,
        }
    }
}

/// Arguments of `mtasts domain add`.
#[derive(Debug, Args)]
#[command(
    after_help = "Stores the domain and its first policy (version 1). Defaults: mode testing, \
                  max_age 604800 (7 days), rua mailto:tlsrpt@DOMAIN. Then publish the records \
                  printed by `mtasts domain records DOMAIN`.\n\n\
                  Exit status: 0 when added, 1 when refused (invalid name, pattern or rua, a \
                  policy that would not work, already hosted) or the store failed, 2 for usage \
                  errors."
)]
pub(crate) struct AddArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The domain to host (the part after `@` in addresses).
    pub(crate) domain: String,
    /// The MX host patterns (`mx1.example.com`, `*.example.net`).
    #[arg(long, value_name = "PATTERN", num_args = 1.., required = true)]
    pub(crate) mx: Vec<String>,
    /// The policy mode.
    #[arg(long, value_enum, default_value_t = ModeArg::Testing)]
    pub(crate) mode: ModeArg,
    /// The policy's max_age in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = hosting::DEFAULT_MAX_AGE)]
    pub(crate) max_age: u64,
    /// TLS-RPT report addresses (mailto: or https: URIs) [default:
    /// mailto:tlsrpt@DOMAIN].
    #[arg(long, value_name = "URI", num_args = 1..)]
    pub(crate) rua: Vec<String>,
}

/// Arguments of `mtasts domain set`.
#[derive(Debug, Args)]
#[command(
    after_help = "Changes the given settings; the others stay. A change of the policy body \
                  gives a new policy id; a change that leaves the body as it was (e.g. only \
                  --rua) keeps the id. Every serving node serves the new body within 5 seconds; \
                  set waits that long before printing the new id, so that the id printed is \
                  served everywhere (--no-wait prints it at once, as pending, with the time from \
                  which to publish it). Setting mode testing or enforce on a domain being \
                  removed cancels the removal.\n\n\
                  Exit status: 0 when changed (or nothing to change), 1 when refused or the \
                  domain is not hosted, 2 for usage errors."
)]
pub(crate) struct SetArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The hosted domain.
    pub(crate) domain: String,
    /// A new mode.
    #[arg(long, value_enum)]
    pub(crate) mode: Option<ModeArg>,
    /// New MX host patterns (replacing all).
    #[arg(long, value_name = "PATTERN", num_args = 1..)]
    pub(crate) mx: Option<Vec<String>>,
    /// A new max_age in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) max_age: Option<u64>,
    /// New TLS-RPT report addresses (replacing all).
    #[arg(long, value_name = "URI", num_args = 1..)]
    pub(crate) rua: Option<Vec<String>>,
    /// Print the new id at once (as pending) instead of waiting until
    /// every node serves the new body.
    #[arg(long)]
    pub(crate) no_wait: bool,
}

/// Arguments of `mtasts domain remove`.
#[derive(Debug, Args)]
#[command(
    after_help = "RFC 8461 section 8.3: the domain first serves mode none with its old max_age, \
                  until every sender's cached copy of the old policy has expired (the time is \
                  printed); it is deleted after that. Meanwhile publish the new _mta-sts id \
                  (`mtasts domain records`), and remove the DNS records once the time has \
                  passed. --now deletes the domain at once (senders that cached an enforce \
                  policy may then refuse mail until it expires).\n\n\
                  Exit status: 0 when done, 1 when the domain is not hosted or the store \
                  failed, 2 for usage errors."
)]
pub(crate) struct RemoveArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The hosted domain.
    pub(crate) domain: String,
    /// Delete at once instead of serving mode none first.
    #[arg(long)]
    pub(crate) now: bool,
}

/// Arguments of `mtasts domain list` and `mtasts domain configure`
/// without options.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Arguments of `mtasts domain show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The hosted domain.
    pub(crate) domain: String,
}

/// Arguments of `mtasts domain records`.
#[derive(Debug, Args)]
#[command(
    after_help = "Prints the three records the domain owner publishes, as zone-file lines: \
                  _mta-sts TXT with the id of the policy being served, the mta-sts CNAME to \
                  the site's hosting name, _smtp._tls TXT with the rua. A newer id not yet \
                  served everywhere is mentioned on stderr with the time from which to publish \
                  it.\n\n\
                  Exit status: 0 ok, 1 when the domain is not hosted or no target is given or \
                  configured, 2 for usage errors."
)]
pub(crate) struct RecordsArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The hosted domain.
    pub(crate) domain: String,
    /// The hosting name for the CNAME [default: the configured target].
    #[arg(long, value_name = "HOST")]
    pub(crate) target: Option<String>,
}

/// Arguments of `mtasts domain configure`.
#[derive(Debug, Args)]
#[command(
    after_help = "Without options, prints the site settings. --target is the host name every \
                  mta-sts.DOMAIN CNAME points at; --address lists the IP addresses of the \
                  serving nodes (checked by `mtasts domain verify` when a domain uses A/AAAA \
                  records instead of a CNAME)."
)]
pub(crate) struct ConfigureArgs {
    /// The site store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The hosting name the mta-sts CNAMEs point at.
    #[arg(long, value_name = "HOST")]
    pub(crate) target: Option<String>,
    /// The IP addresses of the serving nodes (replacing all).
    #[arg(long = "address", value_name = "IP", num_args = 1.., conflicts_with = "no_addresses")]
    pub(crate) addresses: Option<Vec<IpAddr>>,
    /// Remove the addresses setting.
    #[arg(long)]
    pub(crate) no_addresses: bool,
}

/// `mtasts domain` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DomainCommand {
    /// Host a new domain: its policy, served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt.
    Add(AddArgs),
    /// Change a hosted domain's mode, mx patterns, max_age or rua (a new policy id when the body changes).
    Set(SetArgs),
    /// Stop hosting a domain: serve mode none until cached policies expire, then delete it.
    Remove(RemoveArgs),
    /// List the hosted domains.
    List(ListArgs),
    /// Show a hosted domain: policy body, id, history of ids, days in the current mode.
    Show(ShowArgs),
    /// Print the DNS records to publish for a hosted domain.
    Records(RecordsArgs),
    /// Show or change the site settings (CNAME target, serving addresses).
    Configure(ConfigureArgs),
    /// Check the live DNS of a hosted domain against the site: _mta-sts id, mta-sts CNAME, _smtp._tls rua, MX coverage.
    Verify(site_check_cmd::VerifyArgs),
    /// Move a hosted domain from testing to enforce when it is safe.
    Promote(site_check_cmd::PromoteArgs),
}

/// Run a `mtasts domain` subcommand.
pub(crate) fn run(cmd: &DomainCommand, json: bool) -> Result<()> {
    match cmd {
        DomainCommand::Add(a) => add(a, json),
        DomainCommand::Set(a) => set(a, json),
        DomainCommand::Remove(a) => remove(a, json),
        DomainCommand::List(a) => list(a, json),
        DomainCommand::Show(a) => show(a, json),
        DomainCommand::Records(a) => records(a, json),
        DomainCommand::Configure(a) => configure(a, json),
        DomainCommand::Verify(a) => site_check_cmd::verify(a, json),
        DomainCommand::Promote(a) => site_check_cmd::promote(a, json),
    }
}

/// The time now, in Unix seconds.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A Unix time as RFC 3339 (UTC).
fn rfc3339(t: i64) -> String {
    Timestamp::from_unix(t).to_string()
}

/// Where the store is, for messages (no password).
fn describe(args: &StoreArgs) -> String {
    match (&args.state, &args.database) {
        (_, Some(_)) => "the site database (--database)".to_owned(),
        (Some(dir), None) => format!("the site store in {}", dir.display()),
        (None, None) => "the site store".to_owned(),
    }
}

/// Open the site store.
fn open(args: &StoreArgs) -> Result<Arc<dyn SiteStore>> {
    mtasts_site::store::open(&args.location())
        .with_context(|| format!("opening {}", describe(args)))
}

fn warn_findings(findings: &[Finding]) {
    for f in findings {
        output::warning(format!("{} (fix: {})", f.message, f.remediation));
    }
}

fn finding_json(findings: &[Finding]) -> serde_json::Value {
    serde_json::to_value(findings).unwrap_or(serde_json::Value::Null)
}

fn pending_json(p: Option<&Pending>) -> serde_json::Value {
    match p {
        None => serde_json::Value::Null,
        Some(p) => json!({
            "policy_id": p.policy_id,
            "version": p.version,
            "publish_from": rfc3339(p.publish_from),
        }),
    }
}

fn add(a: &AddArgs, json: bool) -> Result<()> {
    let store = open(&a.store)?;
    let opts = AddOptions {
        mx: a.mx.clone(),
        mode: Some(a.mode.into()),
        max_age: Some(a.max_age),
        rua: a.rua.clone(),
    };
    let out = domains::add(&*store, &a.domain, &opts, now())
        .with_context(|| format!("domain add {}: refused ({})", a.domain, describe(&a.store)))?;
    let d = &out.domain;
    if json {
        warn_findings(&out.warnings);
        return output::json(&json!({
            "domain": d.name,
            "policy_id": d.current.id,
            "version": d.current.version,
            "mode": d.settings.mode,
            "mx": d.settings.mx,
            "max_age": d.settings.max_age,
            "rua": d.settings.rua,
            "body": d.current.body,
            "warnings": finding_json(&out.warnings),
        }));
    }
    warn_findings(&out.warnings);
    let mut s = format!(
        "added {} (mode {}, policy id {})\n",
        escape_controls(&d.name),
        d.settings.mode,
        d.current.id
    );
    let _ = writeln!(
        s,
        "next: publish the records of `mtasts domain records {}`",
        escape_controls(&d.name)
    );
    output::text(&s)
}

fn set(a: &SetArgs, json: bool) -> Result<()> {
    let store = open(&a.store)?;
    let changes = Changes {
        mode: a.mode.map(Mode::from),
        mx: a.mx.clone(),
        max_age: a.max_age,
        rua: a.rua.clone(),
    };
    let out = domains::set(&*store, &a.domain, &changes, now())
        .with_context(|| format!("domain set {}: refused ({})", a.domain, describe(&a.store)))?;
    warn_findings(&out.warnings);
    let name = out.domain.name.clone();
    let mut shown = domains::show(&*store, &name, now())
        .with_context(|| format!("domain set {name}: reading it back"))?;
    if out.changed
        && !a.no_wait
        && let Some(p) = &shown.pending
    {
        let wait = p
            .publish_from
            .saturating_sub(now())
            .clamp(0, PROPAGATION_SECS);
        std::thread::sleep(Duration::from_secs(u64::try_from(wait).unwrap_or(0)));
        shown = domains::show(&*store, &name, now().max(p.publish_from))
            .with_context(|| format!("domain set {name}: reading it back"))?;
    }
    let d = &shown.domain;
    if json {
        return output::json(&json!({
            "domain": d.name,
            "changed": out.changed,
            "policy_id": shown.published.id,
            "version": shown.published.version,
            "pending": pending_json(shown.pending.as_ref()),
            "mode": d.settings.mode,
            "mx": d.settings.mx,
            "max_age": d.settings.max_age,
            "rua": d.settings.rua,
            "removing_until": d.removing_until.map(rfc3339),
            "cancelled_removal": out.cancelled_removal,
            "warnings": finding_json(&out.warnings),
        }));
    }
    let mut s = String::new();
    if out.changed {
        let _ = writeln!(s, "{}: the policy changed", escape_controls(&d.name));
    } else {
        let _ = writeln!(
            s,
            "{}: the policy body is unchanged; the id stays",
            escape_controls(&d.name)
        );
    }
    if out.cancelled_removal {
        let _ = writeln!(s, "the removal in progress is cancelled");
    }
    match &shown.pending {
        None => {
            let _ = writeln!(s, "policy id {} (served by every node)", shown.published.id);
            if out.changed {
                let _ = writeln!(
                    s,
                    "next: publish _mta-sts.{}. TXT \"v=STSv1; id={}\"",
                    escape_controls(&d.name),
                    shown.published.id
                );
            }
        }
        Some(p) => {
            let _ = writeln!(
                s,
                "new policy id {} is pending: publish it from {} (until then keep id {})",
                p.policy_id,
                rfc3339(p.publish_from),
                shown.published.id
            );
        }
    }
    output::text(&s)
}

fn remove(a: &RemoveArgs, json: bool) -> Result<()> {
    let store = open(&a.store)?;
    if a.now {
        domains::remove_now(&*store, &a.domain)
            .with_context(|| format!("domain remove {} ({})", a.domain, describe(&a.store)))?;
        if json {
            return output::json(&json!({"domain": a.domain, "removed": true}));
        }
        return output::text(&format!(
            "removed {} (no longer served)\n",
            escape_controls(&a.domain)
        ));
    }
    let r = domains::remove(&*store, &a.domain, now(), PROPAGATION_SECS.unsigned_abs())
        .with_context(|| format!("domain remove {} ({})", a.domain, describe(&a.store)))?;
    let d = &r.domain;
    if json {
        return output::json(&json!({
            "domain": d.name,
            "removed": false,
            "mode": d.settings.mode,
            "policy_id": d.current.id,
            "serving_until": rfc3339(r.until),
            "serving_until_unix": r.until,
        }));
    }
    output::text(&format!(
        "{name}: now serving mode none (policy id {id}) until {until}; it is deleted after that.\n\
         next: publish _mta-sts.{name}. TXT \"v=STSv1; id={id}\" (from {from}); after {until} remove \
         the _mta-sts, mta-sts and _smtp._tls records\n",
        name = escape_controls(&d.name),
        id = d.current.id,
        until = rfc3339(r.until),
        from = rfc3339(d.current.created_at.saturating_add(PROPAGATION_SECS)),
    ))
}

fn list(a: &ListArgs, json: bool) -> Result<()> {
    let store = open(&a.store)?;
    let all = store
        .domains()
        .with_context(|| format!("domain list ({})", describe(&a.store)))?;
    if json {
        let v: Vec<_> = all
            .iter()
            .map(|d| {
                json!({
                    "domain": d.name,
                    "mode": d.settings.mode,
                    "policy_id": d.current.id,
                    "version": d.current.version,
                    "mode_since": rfc3339(d.mode_since),
                    "removing_until": d.removing_until.map(rfc3339),
                })
            })
            .collect();
        return output::json(&v);
    }
    let mut s = String::new();
    for d in &all {
        let _ = write!(
            s,
            "{}  {}  {}",
            escape_controls(&d.name),
            d.settings.mode,
            d.current.id
        );
        if let Some(u) = d.removing_until {
            let _ = write!(s, "  removing until {}", rfc3339(u));
        }
        s.push('\n');
    }
    if all.is_empty() {
        s.push_str("no domains hosted\n");
    }
    output::text(&s)
}

fn version_json(v: &PolicyVersion) -> serde_json::Value {
    json!({
        "version": v.version,
        "policy_id": v.id,
        "mode": v.mode,
        "created_at": rfc3339(v.created_at),
    })
}

fn show(a: &ShowArgs, json: bool) -> Result<()> {
    let store = open(&a.store)?;
    let t = now();
    let shown = domains::show(&*store, &a.domain, t)
        .with_context(|| format!("domain show {} ({})", a.domain, describe(&a.store)))?;
    let d: &Domain = &shown.domain;
    if json {
        return output::json(&json!({
            "domain": d.name,
            "mode": d.settings.mode,
            "mx": d.settings.mx,
            "max_age": d.settings.max_age,
            "rua": d.settings.rua,
            "policy_id": shown.published.id,
            "version": shown.published.version,
            "body": d.current.body,
            "pending": pending_json(shown.pending.as_ref()),
            "mode_since": rfc3339(d.mode_since),
            "days_in_mode": shown.days_in_mode,
            "created_at": rfc3339(d.created_at),
            "removing_until": d.removing_until.map(rfc3339),
            "history": shown.history.iter().map(version_json).collect::<Vec<_>>(),
        }));
    }
    let mut s = String::new();
    let _ = writeln!(s, "domain: {}", escape_controls(&d.name));
    let _ = writeln!(
        s,
        "mode: {} for {} days (since {})",
        d.settings.mode,
        shown.days_in_mode,
        rfc3339(d.mode_since)
    );
    let _ = writeln!(s, "policy id: {}", shown.published.id);
    if let Some(p) = &shown.pending {
        let _ = writeln!(
            s,
            "pending id: {} (publish from {})",
            p.policy_id,
            rfc3339(p.publish_from)
        );
    }
    if let Some(u) = d.removing_until {
        let _ = writeln!(s, "removing: serving mode none until {}", rfc3339(u));
    }
    let _ = writeln!(s, "rua: {}", escape_controls(&d.settings.rua.join(",")));
    let _ = writeln!(
        s,
        "policy (https://mta-sts.{}/.well-known/mta-sts.txt):",
        escape_controls(&d.name)
    );
    for line in d.current.body.lines() {
        let _ = writeln!(s, "  {}", escape_controls(line));
    }
    let _ = writeln!(s, "history:");
    for v in &shown.history {
        let _ = writeln!(
            s,
            "  {}  {}  {}  {}",
            v.version,
            v.id,
            v.mode,
            rfc3339(v.created_at)
        );
    }
    output::text(&s)
}

fn records(a: &RecordsArgs, json: bool) -> Result<()> {
    let store = open(&a.store)?;
    let r = domains::records(&*store, &a.domain, a.target.as_deref(), now())
        .with_context(|| format!("domain records {} ({})", a.domain, describe(&a.store)))?;
    if let Some(p) = &r.pending {
        output::warning(format!(
            "a new policy id {} is being rolled out: publish it from {} (the id shown is served until then)",
            p.policy_id,
            rfc3339(p.publish_from)
        ));
    }
    if json {
        return output::json(&json!({
            "domain": r.domain,
            "records": r.records,
            "policy_id": r.policy_id,
        }));
    }
    let mut s = String::new();
    for rec in &r.records {
        s.push_str(&rec.zone_line());
        s.push('\n');
    }
    output::text(&s)
}

fn configure(a: &ConfigureArgs, json: bool) -> Result<()> {
    let store = open(&a.store)?;
    let addresses: Option<&[IpAddr]> = if a.no_addresses {
        Some(&[])
    } else {
        a.addresses.as_deref()
    };
    let cfg = domains::configure(&*store, a.target.as_deref(), addresses)
        .with_context(|| format!("domain configure ({})", describe(&a.store)))?;
    if json {
        return output::json(&cfg);
    }
    let addrs = cfg
        .addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    output::text(&format!(
        "target: {}\naddresses: {}\n",
        cfg.target
            .as_deref()
            .map_or("(none)".into(), escape_controls),
        if addrs.is_empty() { "(none)" } else { &addrs }
    ))
}
