//! `mtasts domain promote`: move a hosted domain from `testing` to
//! `enforce` only when it is safe.
//!
//! [`evaluate`] is the pure judgement (no IO, no clock): given the domain
//! as stored, the time, the TLS-RPT [`Summary`] of the reports received
//! for it and the live check of its MX hosts ([`CheckReport`], as
//! `mtasts check` makes it), it says which [`Condition`]s hold:
//!
//! 1. `mode`: the domain is in `testing` (and not being removed).
//! 2. `days-in-testing`: at least `days` whole days in `testing`
//!    (default [`DEFAULT_PROMOTE_DAYS`]).
//! 3. `tlsrpt-reports`: at least one TLS-RPT report for the domain whose
//!    date range starts on or after the day it entered `testing`, and no
//!    failed session in them against an MX host the policy covers (nor a
//!    policy failure without an MX host) with a result type that would
//!    fail delivery under `enforce` ([`tlsrpt_core::alert::blocks_enforce`]).
//!    Failures against hosts the policy does not cover are shown, and do
//!    not count here: condition 4 catches a current MX outside the policy.
//! 4. `mx-certificates`: every current MX host is covered by the policy's
//!    patterns and presents a valid certificate over STARTTLS (the live
//!    probe of `mtasts check`).
//!
//! [`promote`] does the IO: it reads the domain (on the blocking pool),
//! runs the check with a [`Checker`], evaluates, and when every condition
//! holds (or `force` is set) stores the domain with `mode: enforce`
//! through [`crate::domains`], which gives the body a new policy id.
//!
//! The BIMI line: mailbox providers that show BIMI logos ask for
//! MTA-STS in `enforce` and a TLS-RPT record; [`PromoteOutcome::bimi_ready`]
//! says whether both hold after the command.

use std::sync::Arc;

use mta_sts_check::check::{CheckReport, ProbeState, RecordStatus};
use mta_sts_check::smtp::CertStatus;
use mta_sts_check::{CheckOptions, Checker};
use mta_sts_core::hosting::{self, DEFAULT_PROMOTE_DAYS, DnsRecord};
use mta_sts_core::{Mode, MxPattern, ResultType};
use policy_fetch::Overrides;
use tlsrpt_core::Aggregator;
use tlsrpt_core::alert::blocks_enforce;
use tlsrpt_core::summary::{Filter, Summary, UNKNOWN};

use crate::store::{Domain, SiteStore};
use crate::verify::rfc3339;

/// The name of condition 1.
pub const COND_MODE: &str = "mode";
/// The name of condition 2.
pub const COND_DAYS: &str = "days-in-testing";
/// The name of condition 3.
pub const COND_REPORTS: &str = "tlsrpt-reports";
/// The name of condition 4.
pub const COND_MX: &str = "mx-certificates";

/// At most this many MX hosts are named in one condition's detail.
const MAX_NAMED: usize = 10;

/// One condition of the promotion, with what was found and the fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Condition {
    /// [`COND_MODE`], [`COND_DAYS`], [`COND_REPORTS`] or [`COND_MX`].
    pub name: &'static str,
    /// Whether it holds.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// How to make it hold (empty when it holds).
    pub fix: String,
}

/// The verdict of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PromoteDecision {
    /// The domain.
    pub domain: String,
    /// Its current mode.
    pub mode: Mode,
    /// Whole days in the current mode.
    pub days_in_mode: u64,
    /// Days required in `testing`.
    pub days_required: u32,
    /// The four conditions, in order.
    pub conditions: Vec<Condition>,
    /// Whether every condition holds.
    pub ready: bool,
}

impl PromoteDecision {
    /// The conditions that do not hold.
    pub fn failed(&self) -> impl Iterator<Item = &Condition> {
        self.conditions.iter().filter(|c| !c.ok)
    }
}

/// The [`Aggregator`] that the TLS-RPT reports of `d` are fed to for
/// [`evaluate`]: only the policies of `d`, only reports whose date range
/// starts on or after the UTC day `d` entered its current mode, with the
/// readiness window from that day to the day of `now`.
#[must_use]
pub fn report_aggregator(d: &Domain, now: i64) -> Aggregator {
    let (filter, days, today) = report_window(d, now);
    Aggregator::new()
        .filter(filter)
        .readiness_window(days, Some(today))
}

/// The reports [`report_aggregator`] counts (since the day `d` entered
/// its mode, of its policy domain), and its readiness window: days, and
/// the last day (today).
fn report_window(d: &Domain, now: i64) -> (Filter, u32, i64) {
    let since = d.mode_since.div_euclid(86_400);
    let today = now.div_euclid(86_400).max(since);
    let days = u32::try_from(today.saturating_sub(since).saturating_add(1)).unwrap_or(u32::MAX);
    (
        Filter::new().since(since).policy_domain(&d.name),
        days,
        today,
    )
}

/// The summary [`evaluate`] judges, of the reports the site's inbox
/// holds for `d` (see [`report_aggregator`]): what `mtasts domain
/// promote` and the readiness API use when no report files are given.
/// Blocking (reads the store).
///
/// # Errors
///
/// [`crate::store::StoreError`] when the store fails or holds an
/// unreadable report.
pub fn stored_reports_summary(
    store: &dyn SiteStore,
    d: &Domain,
    now: i64,
) -> Result<Summary, crate::store::StoreError> {
    let (filter, days, today) = report_window(d, now);
    let options = crate::inbox::summary::SummaryOptions {
        filter,
        readiness_days: days,
        readiness_end: Some(today),
        ..crate::inbox::summary::SummaryOptions::default()
    };
    crate::inbox::summary::summarize(store.inbox(), &options)
}

/// The policy's `mx` patterns of `d` (invalid ones, which the store
/// never holds, left out).
fn patterns(d: &Domain) -> Vec<MxPattern<'static>> {
    d.settings
        .mx
        .iter()
        .filter_map(|p| MxPattern::from_user(p).ok())
        .collect()
}

/// `mtasts domain set D --mx P... --mx HOST...`.
fn set_mx_command(d: &Domain, add: &[&str]) -> String {
    let mut cmd = format!("mtasts domain set {}", d.name);
    for p in d
        .settings
        .mx
        .iter()
        .map(String::as_str)
        .chain(add.iter().copied())
    {
        cmd.push_str(" --mx ");
        cmd.push_str(p);
    }
    cmd
}

/// `a, b, c` of at most [`MAX_NAMED`] items, then `and N more`.
fn named(items: &[String]) -> String {
    let mut s = items
        .iter()
        .take(MAX_NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > MAX_NAMED {
        s.push_str(&format!("; and {} more", items.len() - MAX_NAMED));
    }
    s
}

/// Judge whether `d` may move to `enforce` at `now` (Unix seconds) after
/// `days` days in `testing`, from the TLS-RPT `reports` (a summary made
/// with [`report_aggregator`]; `None` when no reports were given) and the
/// live `check` of the domain (`None` when it could not run). Pure.
#[must_use]
pub fn evaluate(
    d: &Domain,
    now: i64,
    days: u32,
    reports: Option<&Summary>,
    check: Option<&CheckReport>,
) -> PromoteDecision {
    let name = d.name.as_str();
    let mode = d.settings.mode;
    let days_in_mode = hosting::days_between(d.mode_since, now);
    let patterns = patterns(d);
    let mut conditions = Vec::new();

    // 1. The mode.
    conditions.push(match (mode, d.removing_until) {
        (_, Some(until)) => Condition {
            name: COND_MODE,
            ok: false,
            detail: format!("{name} is being removed (serves mode none until {})", rfc3339(until)),
            fix: format!("add the domain again when the removal is done (`mtasts domain add {name} --mx ...`), then start in testing"),
        },
        (Mode::Testing, None) => Condition {
            name: COND_MODE,
            ok: true,
            detail: "mode testing".to_owned(),
            fix: String::new(),
        },
        (Mode::Enforce, None) => Condition {
            name: COND_MODE,
            ok: false,
            detail: "already in mode enforce".to_owned(),
            fix: String::new(),
        },
        (Mode::None, None) => Condition {
            name: COND_MODE,
            ok: false,
            detail: "mode none: senders apply no policy, so nothing was tested".to_owned(),
            fix: format!("`mtasts domain set {name} --mode testing`, then wait {days} days with TLS-RPT reports"),
        },
    });

    // 2. Days in testing.
    let ok = mode == Mode::Testing && days_in_mode >= u64::from(days);
    let due = d
        .mode_since
        .saturating_add(i64::from(days).saturating_mul(86_400));
    conditions.push(Condition {
        name: COND_DAYS,
        ok,
        detail: format!(
            "{days_in_mode} of {days} days in mode {mode} (since {})",
            rfc3339(d.mode_since)
        ),
        fix: if ok {
            String::new()
        } else if mode == Mode::Testing {
            format!(
                "wait until {} ({} more days), or pass --days N",
                rfc3339(due),
                u64::from(days).saturating_sub(days_in_mode)
            )
        } else {
            format!("`mtasts domain set {name} --mode testing` and wait {days} days")
        },
    });

    // 3. TLS-RPT reports.
    conditions.push(reports_condition(d, &patterns, reports));

    // 4. MX hosts: covered, valid certificates.
    conditions.push(mx_condition(d, &patterns, check));

    let ready = conditions.iter().all(|c| c.ok);
    PromoteDecision {
        domain: name.to_owned(),
        mode,
        days_in_mode,
        days_required: days,
        conditions,
        ready,
    }
}

/// Condition 3.
fn reports_condition(
    d: &Domain,
    patterns: &[MxPattern<'static>],
    reports: Option<&Summary>,
) -> Condition {
    let name = d.name.as_str();
    let rua = d.settings.rua.join(",");
    let since = rfc3339(d.mode_since);
    let wait_fix = format!(
        "point rua at the site's report inbox or at an address whose reports you ingest (`_smtp._tls.{name}. IN TXT \"v=TLSRPTv1; rua={rua}\"`, `mtasts report ingest`) and wait for reports, or pass --reports PATH with the reports received"
    );
    let Some(summary) = reports else {
        return Condition {
            name: COND_REPORTS,
            ok: false,
            detail: format!("no TLS-RPT reports read for {name}"),
            fix: wait_fix,
        };
    };
    let readiness = summary.readiness.iter().find(|r| r.policy_domain == name);
    let counted = readiness.map_or(0, |r| r.reports);
    if counted == 0 {
        return Condition {
            name: COND_REPORTS,
            ok: false,
            detail: format!(
                "no TLS-RPT report for {name} with a date range starting on or after {since}"
            ),
            fix: wait_fix,
        };
    }
    let mut blocking = Vec::new();
    let mut elsewhere = Vec::new();
    for (host, stats) in &summary.by_mx_host {
        let bad: Vec<String> = stats
            .by_result_type
            .iter()
            .filter(|(rt, n)| {
                **n > 0
                    && blocks_enforce(
                        &rt.parse::<ResultType>()
                            .unwrap_or(ResultType::Other(String::new())),
                    )
            })
            .map(|(rt, n)| format!("{n} {rt}"))
            .collect();
        if bad.is_empty() {
            continue;
        }
        let line = format!("{host}: {}", bad.join(", "));
        if host == UNKNOWN || patterns.iter().any(|p| p.matches(host)) {
            blocking.push(line);
        } else {
            elsewhere.push(line);
        }
    }
    let (ok_sessions, reports_n) = readiness.map_or((0, 0), |r| (r.successful_sessions, r.reports));
    let mut detail =
        format!("{reports_n} report(s) since {since}, {ok_sessions} successful session(s)");
    if !elsewhere.is_empty() {
        detail.push_str(&format!(
            "; failures against hosts the policy does not cover (not counted here): {}",
            named(&elsewhere)
        ));
    }
    if blocking.is_empty() {
        Condition {
            name: COND_REPORTS,
            ok: true,
            detail: format!("{detail}; no failed session against the policy's MX hosts"),
            fix: String::new(),
        }
    } else {
        Condition {
            name: COND_REPORTS,
            ok: false,
            detail: format!(
                "{detail}; failed sessions that enforce would turn into refused mail: {}",
                named(&blocking)
            ),
            fix: "fix the MX hosts named (certificates, STARTTLS; `mtasts report summarize PATH` explains each failure), then wait for reports without failures".to_owned(),
        }
    }
}

/// Condition 4.
fn mx_condition(
    d: &Domain,
    patterns: &[MxPattern<'static>],
    check: Option<&CheckReport>,
) -> Condition {
    let name = d.name.as_str();
    let Some(report) = check else {
        return Condition {
            name: COND_MX,
            ok: false,
            detail: "the MX hosts could not be checked".to_owned(),
            fix: format!("run `mtasts check {name}` to see why"),
        };
    };
    if report.mx.is_empty() {
        let why = report
            .findings
            .iter()
            .find(|f| matches!(f.code.as_str(), "mx-lookup" | "null-mx"))
            .map_or_else(|| "no MX host found".to_owned(), |f| f.message.clone());
        return Condition {
            name: COND_MX,
            ok: false,
            detail: why,
            fix: format!("publish the domain's MX records, then check with `mtasts check {name}`"),
        };
    }
    let mut uncovered: Vec<&str> = Vec::new();
    let mut bad = Vec::new();
    let mut unreachable = Vec::new();
    let mut good = Vec::new();
    for m in &report.mx {
        if !patterns.iter().any(|p| p.matches(&m.host)) {
            uncovered.push(&m.host);
        }
        match (m.probe, m.starttls, m.certificate) {
            (ProbeState::Done, Some(true), Some(CertStatus::Valid)) => good.push(m.host.clone()),
            (ProbeState::Done, Some(false), _) => bad.push(format!("{}: no STARTTLS", m.host)),
            (ProbeState::Done, _, Some(status)) => bad.push(format!(
                "{}: {}{}",
                m.host,
                status.as_str(),
                m.certificate_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )),
            (state, _, _) => unreachable.push(format!(
                "{}: {}{}",
                m.host,
                state.as_str(),
                m.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )),
        }
    }
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    if !uncovered.is_empty() {
        problems.push(format!(
            "not covered by the policy's mx patterns ({}): {}",
            d.settings.mx.join(", "),
            uncovered.join(", ")
        ));
        fixes.push(format!("cover them: `{}`", set_mx_command(d, &uncovered)));
    }
    if !bad.is_empty() {
        problems.push(format!("no valid certificate: {}", named(&bad)));
        fixes.push(format!(
            "install certificates from a public CA for the host names, then check with `mtasts check {name}`"
        ));
    }
    if !unreachable.is_empty() {
        problems.push(format!("not probed over SMTP: {}", named(&unreachable)));
        fixes.push(
            "run promote where outbound port 25 reaches the MX hosts (or make them reachable)"
                .to_owned(),
        );
    }
    if problems.is_empty() {
        Condition {
            name: COND_MX,
            ok: true,
            detail: format!(
                "every MX host is covered and presents a valid certificate: {}",
                good.join(", ")
            ),
            fix: String::new(),
        }
    } else {
        Condition {
            name: COND_MX,
            ok: false,
            detail: problems.join("; "),
            fix: fixes.join("; "),
        }
    }
}

/// What [`promote`] needs besides the domain.
#[derive(Debug, Clone)]
pub struct PromoteOptions {
    /// Days required in `testing` (default [`DEFAULT_PROMOTE_DAYS`]).
    pub days: u32,
    /// Promote even when conditions fail.
    pub force: bool,
    /// Resolver, trust anchors and ports of the live check.
    pub overrides: Overrides,
    /// Timeouts of the live check.
    pub check: CheckOptions,
}

impl Default for PromoteOptions {
    fn default() -> Self {
        Self {
            days: DEFAULT_PROMOTE_DAYS,
            force: false,
            overrides: Overrides::default(),
            check: CheckOptions::default(),
        }
    }
}

/// The result of [`promote`] (the JSON of `mtasts domain promote --json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PromoteOutcome {
    /// The domain.
    pub domain: String,
    /// Whether the domain was moved to `enforce` by this call.
    pub promoted: bool,
    /// Whether it was moved although conditions failed (`--force`).
    pub forced: bool,
    /// Whether it was in `enforce` already (nothing done).
    pub already_enforce: bool,
    /// The mode after the call.
    pub mode: Mode,
    /// The policy id served after the call.
    pub policy_id: String,
    /// The id before the call.
    pub previous_id: String,
    /// The `_mta-sts` record to publish when the id changed.
    pub publish: Option<DnsRecord>,
    /// From when to publish it (Unix seconds): once every serving node
    /// serves the new body ([`crate::domains::PROPAGATION_SECS`]).
    pub publish_from: Option<i64>,
    /// Whole days in `testing` before the call.
    pub days_in_testing: u64,
    /// Days required.
    pub days_required: u32,
    /// The conditions, in order.
    pub conditions: Vec<Condition>,
    /// Mode `enforce` and a valid TLS-RPT record (what BIMI needs).
    pub bimi_ready: bool,
    /// The BIMI-readiness line.
    pub bimi: String,
}

/// Why [`promote`] could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromoteError {
    /// The domain is not hosted by this site.
    #[error("{0} is not hosted here (see `mtasts domain list`)")]
    NotHosted(String),
    /// The domain is being removed: never promoted, not even forced.
    #[error("{domain} is being removed (mode none until {until}); it cannot be promoted")]
    Removing {
        /// The domain.
        domain: String,
        /// RFC 3339.
        until: String,
    },
    /// The change of mode was refused, or the store failed.
    #[error(transparent)]
    Domain(#[from] crate::domains::DomainError),
    /// The live check could not be set up (resolver, trust anchors).
    #[error("the check of {domain} could not run: {source}")]
    Check {
        /// The domain.
        domain: String,
        /// Why.
        #[source]
        source: mta_sts_check::CheckError,
    },
    /// A blocking store task ended abnormally.
    #[error("the site store task of {domain} stopped")]
    Task {
        /// The domain.
        domain: String,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// Run `f` with the store on the blocking pool.
async fn blocking<T: Send + 'static>(
    store: &Arc<dyn SiteStore>,
    domain: &str,
    f: impl FnOnce(&dyn SiteStore) -> Result<T, PromoteError> + Send + 'static,
) -> Result<T, PromoteError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&*store))
        .await
        .map_err(|source| PromoteError::Task {
            domain: domain.to_owned(),
            source,
        })?
}

/// Read the hosted domain `name` (blocking pool).
///
/// # Errors
///
/// [`PromoteError::NotHosted`], [`PromoteError::Domain`] when the store fails.
pub async fn load_domain(store: &Arc<dyn SiteStore>, name: &str) -> Result<Domain, PromoteError> {
    let owned = name.to_owned();
    blocking(store, name, move |s| {
        s.domain(&owned)
            .map_err(crate::domains::DomainError::from)?
            .ok_or_else(|| PromoteError::NotHosted(owned.clone()))
    })
    .await
}

/// Promote the hosted `domain` to `enforce` when [`evaluate`] finds every
/// condition holds, or `options.force` is set; `reports` is the summary
/// of its TLS-RPT reports (see [`report_aggregator`]), `now` the time
/// (Unix seconds).
///
/// # Errors
///
/// [`PromoteError`] when the domain is not hosted or being removed, the
/// store fails, or the check cannot be set up. Failed conditions are not
/// errors: they are in the outcome, with `promoted: false`.
pub async fn promote(
    store: &Arc<dyn SiteStore>,
    domain: &str,
    reports: Option<&Summary>,
    options: &PromoteOptions,
    now: i64,
) -> Result<PromoteOutcome, PromoteError> {
    let name = mta_sts_core::domain::normalize(domain)
        .map_err(|_| PromoteError::NotHosted(domain.to_owned()))?;
    let d = load_domain(store, &name).await?;
    if let Some(until) = d.removing_until {
        return Err(PromoteError::Removing {
            domain: name,
            until: rfc3339(until),
        });
    }
    let checker =
        Checker::new(&options.overrides, &options.check).map_err(|source| PromoteError::Check {
            domain: name.clone(),
            source,
        })?;
    let check = checker
        .check(&name)
        .await
        .map_err(|source| PromoteError::Check {
            domain: name.clone(),
            source,
        })?;
    let decision = evaluate(&d, now, options.days, reports, Some(&check));
    let tlsrpt_record = check.tlsrpt_record.status == RecordStatus::Valid;
    let previous_id = d.current.id.clone();
    let already = d.settings.mode == Mode::Enforce;
    let act = !already && (decision.ready || options.force);
    let (mode, policy_id) = if act {
        let updated = set_enforce(store, &d, now).await?;
        (updated.settings.mode, updated.current.id)
    } else {
        (d.settings.mode, previous_id.clone())
    };
    let publish = (policy_id != previous_id).then(|| {
        hosting::records(&name, &policy_id, "", &d.settings.rua)
            .into_iter()
            .next()
    });
    let bimi_ready = mode == Mode::Enforce && tlsrpt_record;
    let bimi = match (mode == Mode::Enforce, tlsrpt_record) {
        (true, true) => "BIMI: ready (MTA-STS in enforce and a TLS-RPT record)".to_owned(),
        (true, false) => format!(
            "BIMI: not ready: no valid TLS-RPT record at _smtp._tls.{name} (see `mtasts domain records {name}`)"
        ),
        (false, true) => format!("BIMI: not ready: MTA-STS is in mode {mode}, not enforce"),
        (false, false) => format!(
            "BIMI: not ready: MTA-STS is in mode {mode}, not enforce, and there is no valid TLS-RPT record at _smtp._tls.{name}"
        ),
    };
    Ok(PromoteOutcome {
        domain: name,
        promoted: act,
        forced: act && !decision.ready,
        already_enforce: already,
        mode,
        policy_id,
        previous_id,
        publish_from: publish
            .is_some()
            .then(|| now.saturating_add(crate::domains::PROPAGATION_SECS)),
        publish: publish.flatten(),
        days_in_testing: if d.settings.mode == Mode::Testing {
            decision.days_in_mode
        } else {
            0
        },
        days_required: options.days,
        conditions: decision.conditions,
        bimi_ready,
        bimi,
    })
}

/// Store `d` with `mode: enforce` through [`crate::domains::set`] (a new
/// body, so a new id).
async fn set_enforce(
    store: &Arc<dyn SiteStore>,
    d: &Domain,
    now: i64,
) -> Result<Domain, PromoteError> {
    let name = d.name.clone();
    blocking(store, &d.name, move |s| {
        let changes = crate::domains::Changes {
            mode: Some(Mode::Enforce),
            ..crate::domains::Changes::default()
        };
        Ok(crate::domains::set(s, &name, &changes, now)?.domain)
    })
    .await
}
