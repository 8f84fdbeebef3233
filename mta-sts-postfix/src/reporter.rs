//! The TLS-RPT reporter (`mtasts tlsrpt send`): finish a UTC day from the
//! partial aggregates in the state directory, render one report per
//! policy domain, sign the report mail, and deliver every report to every
//! destination its `_smtp._tls` record lists, keeping each attempt so that
//! a re-run retries what failed and never repeats what succeeded.
//!
//! ```text
//!  partials/*/<day>.json ─► StateDir::read_day (merge) ─► DayAggregate::finish (ReportMeta)
//!                                                              │ one report per policy domain
//!                         outgoing::render ─► reports/<day>/<name>.json.gz
//!                                                              │
//!          report_delivery::lookup_destinations (_smtp._tls.<policy domain>)
//!                                                              │ mailto: destinations?
//!                         outgoing::render_email + dkim::Signer ─► reports/<day>/<name>.eml
//!                                                              │
//!          report_delivery::Deliverer, per destination, when RetrySchedule says so
//!                                                              ▼
//!                         reports/<day>/delivery.json (every attempt)
//! ```
//!
//! # The first run of a day
//!
//! [`Reporter::send_day`] refuses a day that has not ended (UTC) plus
//! [`ReportSection::grace_secs`], and a day whose partials cannot all be
//! read ([`ReporterError::UnreadablePartials`]; with
//! [`SendOptions::skip_unreadable`] they are left out and listed as
//! errors). A partial without its `.final` marker draws a warning: its
//! node may still be writing it. A day without sessions has nothing to
//! report: no files are written.
//!
//! Each report gets the id `<day>.<policy domain>.<YYYYMMDD>@<submitter>`
//! and the file name `<submitter>!<policy domain>!<begin>!<end>!<YYYYMMDD>.json.gz`:
//! the same day always gives the same ids, so a re-rendered report (after
//! `reports/<day>/` was removed) is recognisably the same one. The
//! `.json.gz` of every report and `delivery.json` are written (atomically:
//! temporary file, fsync, rename, fsync of the directory) before the
//! first delivery attempt.
//!
//! # Destinations and attempts
//!
//! The destinations come from the `_smtp._tls` record of the report's
//! policy domain (`policy_fetch::report_delivery`, which also says why
//! that is the right record for DANE results). A temporary DNS failure
//! is retried like a failed delivery. When the record has `mailto:` URIs
//! the report mail is rendered once, addressed (`To`) to all of them,
//! DKIM-signed with `[dkim]` and kept as `<name>.eml`; each `mailto:`
//! destination is a submission of those same bytes to the `[smtp]` relay
//! with its own envelope recipient. Every `https:` and `mailto:` URI is a
//! destination of its own, with its own attempts and retry times
//! (`policy_fetch::report_delivery::RetrySchedule`): a re-run (`mtasts
//! tlsrpt send` again for the same day) skips destinations that were
//! delivered or failed permanently, and tries the others whose next
//! attempt time has come. Once rendered, a report is not rendered again:
//! partials that changed since draw a warning (delete `reports/<day>/`
//! to start the day over, at the price of sending the reports again).
//!
//! Report mail must never be counted as a TLS-RPT session itself (RFC
//! 8460 5.3.1): see the module documentation of
//! `policy_fetch::report_delivery`, and the `mtasts-tlsrpt-send` notes in
//! `examples/systemd/README.md` for Postfix as the relay.
//!
//! `delivery.json`, version 1:
//!
//! ```json
//! {"format": "mtasts-tlsrpt-delivery", "version": 1, "day": "2024-05-01",
//!  "rendered-at": "2024-05-02T00:30:00Z", "aggregate-fingerprint": "5d1c0e9a7f1b2c3d",
//!  "reports": [{
//!    "policy-domain": "example.org", "report-id": "2024-05-01.example.org.20240501@mail.example.com",
//!    "file": "mail.example.com!example.org!1714521600!1714607999!20240501.json.gz",
//!    "eml": "mail.example.com!example.org!1714521600!1714607999!20240501.eml",
//!    "successful-sessions": 5, "failed-sessions": 1,
//!    "lookup": {"status": "found", "record": "v=TLSRPTv1; rua=...", "unusable": [], "attempts": [
//!      {"at": "2024-05-02T00:30:00Z", "result": "found", "detail": ""}]},
//!    "destinations": [{"uri": "https://reports.example.org/v1", "scheme": "https", "address": null,
//!      "next": "delivered",
//!      "attempts": [{"at": "2024-05-02T00:30:01Z", "result": "delivered", "detail": "... HTTP 201"}]}]}]}
//! ```
//!
//! # Configuration
//!
//! A TOML file ([`ReporterConfig`]); unknown keys are refused:
//!
//! ```toml
//! # resolver = "127.0.0.1:53"            # the only DNS server (default: the system's)
//!
//! [report]
//! organization_name = "Example Mail"
//! contact_info = "tlsrpt@mail.example.com"  # its domain must be the submitter
//! submitter = "mail.example.com"
//! from = "TLS reports <tlsrpt-noreply@mail.example.com>"  # default: contact_info
//! grace_secs = 600                      # wait this long after the day's end (UTC)
//!
//! [dkim]                                # required for mail (RFC 8460 3)
//! key_file = "/etc/mtasts/dkim-tlsrpt.pem"  # RSA or Ed25519, PEM
//! selector = "tlsrpt"
//! domain = "mail.example.com"
//!
//! [smtp]                                # for mailto: destinations
//! relay = "127.0.0.1:25"                # host:port
//! starttls = "none"                     # required (default) | opportunistic | none
//! # tls = true                          # implicit TLS (port 465) instead of STARTTLS
//! # username = "tlsrpt"
//! # password_file = "/etc/mtasts/relay-password"
//! # ca_file = "/etc/mtasts/relay-ca.pem"  # trust anchors for the relay's certificate
//! # envelope_from = "bounces@mail.example.com"  # MAIL FROM (default: the From address)
//! # helo = "mail.example.com"           # EHLO name (default: the submitter)
//! timeout_secs = 60
//!
//! [https]
//! # ca_file = "/etc/mtasts/ca.pem"      # trust anchors instead of the system's
//! timeout_secs = 60
//! retry_unverified = true               # DEC-22: retry a certificate failure unverified
//! ```

use std::fmt;
use std::fs;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mta_sts_core::display::Escaped;
use policy_fetch::report_delivery::{
    AttemptResult, Deliverer, DeliveryError, Destination, DestinationLookup, InvalidCertificates,
    MailRelay, NextAttempt, NoDestination, Payload, PostSettings, RelaySecurity, RelaySettings,
    ReportPoster, RetrySchedule, jitter_seed, lookup_destinations, report_domain,
};
use policy_fetch::{Dns, FetchError, Roots};
use serde::{Deserialize, Serialize};
use tlsrpt_core::dkim::{DkimError, Signer, SigningKey};
use tlsrpt_core::outgoing::{MailMeta, OutgoingError, RenderedReport, render, render_email};
use tlsrpt_core::report::Report;
use tlsrpt_core::session::{AggregateError, AggregateLimits, DayAggregate, ReportMeta, UtcDay};
use tlsrpt_core::time::Timestamp;

use crate::config::ConfigError;
use crate::tlsrpt_state::{StateDir, StateError, write_atomic};

/// The delivery state file in `reports/<day>/`.
pub const DELIVERY_FILE: &str = "delivery.json";

/// `format` of [`DELIVERY_FILE`].
pub const DELIVERY_FORMAT: &str = "mtasts-tlsrpt-delivery";

/// `version` of [`DELIVERY_FILE`] written and read.
pub const DELIVERY_VERSION: u32 = 1;

/// Largest [`DELIVERY_FILE`], `.json.gz` or `.eml` read back, in bytes.
pub const MAX_STATE_FILE: u64 = 64 * 1024 * 1024;

/// Most entries of `reports/` [`Reporter::pending_days`] looks at.
pub const MAX_REPORT_DAYS: usize = 10_000;

/// Largest DKIM key or password file read, in bytes.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Default of [`ReportSection::grace_secs`]: ten minutes, twice the
/// collector's default grace period for late datagrams.
pub const DEFAULT_GRACE_SECS: u64 = 600;

// ---------------------------------------------------------------------------
// Configuration

/// The reporter's configuration file (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReporterConfig {
    /// Who writes the reports.
    pub report: ReportSection,
    /// The DKIM key report mail is signed with (required to send mail,
    /// unless signing is turned off for tests).
    #[serde(default)]
    pub dkim: Option<DkimSection>,
    /// The SMTP relay for `mailto:` destinations.
    #[serde(default)]
    pub smtp: Option<SmtpSection>,
    /// `https:` destinations.
    #[serde(default)]
    pub https: HttpsSection,
    /// The only DNS server to use (`IP:PORT`); default: the system's.
    #[serde(default)]
    pub resolver: Option<SocketAddr>,
}

/// `[report]`: the reporting organisation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    /// `organization-name`.
    pub organization_name: String,
    /// `contact-info`: an e-mail address whose domain is `submitter`.
    pub contact_info: String,
    /// The submitter's domain (`TLS-Report-Submitter`, the file name's
    /// first part, the right side of the report ids).
    pub submitter: String,
    /// `From` of report mail (default: `contact_info`).
    #[serde(default)]
    pub from: Option<String>,
    /// Seconds after the end of the UTC day before its reports are made
    /// (default [`DEFAULT_GRACE_SECS`]).
    #[serde(default = "default_grace")]
    pub grace_secs: u64,
}

fn default_grace() -> u64 {
    DEFAULT_GRACE_SECS
}

/// `[dkim]`: the signing key of report mail (RFC 8460 3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSection {
    /// The private key, PEM (RSA 2048 to 4096 bits, or Ed25519).
    pub key_file: PathBuf,
    /// The selector (`s=`): the key record is at
    /// `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The signing domain (`d=`).
    pub domain: String,
}

/// `starttls` of `[smtp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartTls {
    /// STARTTLS with a valid certificate, or no mail (the default).
    #[default]
    Required,
    /// STARTTLS when offered.
    Opportunistic,
    /// No TLS.
    None,
}

/// `[smtp]`: the relay report mail is submitted to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    /// `host:port` (`[v6]:port` for an IPv6 address; port 25 when left out).
    pub relay: String,
    /// STARTTLS.
    #[serde(default)]
    pub starttls: StartTls,
    /// Implicit TLS (port 465) instead of STARTTLS.
    #[serde(default)]
    pub tls: bool,
    /// `AUTH` user name (needs `password_file`).
    #[serde(default)]
    pub username: Option<String>,
    /// A file holding the `AUTH` password (its first line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Trust anchors (PEM) for the relay's certificate instead of the
    /// system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// `MAIL FROM` (default: the address of `[report] from`).
    #[serde(default)]
    pub envelope_from: Option<String>,
    /// The `EHLO` name (default: the submitter).
    #[serde(default)]
    pub helo: Option<String>,
    /// Timeout of the connection and of each command, in seconds
    /// (default 60).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    60
}

fn default_true() -> bool {
    true
}

/// `[https]`: posting to `https:` destinations.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpsSection {
    /// Trust anchors (PEM) instead of the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Timeout of one POST, in seconds (default 60).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// DEC-22: after a certificate failure, post once more without
    /// verification (default true).
    #[serde(default = "default_true")]
    pub retry_unverified: bool,
}

impl Default for HttpsSection {
    fn default() -> Self {
        Self {
            ca_file: None,
            timeout_secs: default_timeout(),
            retry_unverified: true,
        }
    }
}

/// The line and column of byte `offset` in `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: None,
        position: None,
        message: message.into(),
    }
}

/// `host:port` (or `[v6]:port`, or a host alone for port 25).
fn split_relay(relay: &str) -> Result<(String, u16), ConfigError> {
    let bad = || {
        invalid(format!(
            "[smtp] relay `{}` is not host:port",
            Escaped(relay)
        ))
    };
    let (host, port) = if let Some(rest) = relay.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match relay.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return Err(bad()),
            None => (relay, None),
        }
    };
    let port = match port {
        None => 25,
        Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(bad)?,
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// The address of a `From` value: inside `<...>` when there, else all.
fn address_of(from: &str) -> &str {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => &from[a + 1..b],
        _ => from.trim(),
    }
}

impl ReporterConfig {
    /// Parse and check TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let mut config: Self = toml::from_str(text).map_err(|e| ConfigError {
            file: None,
            position: e.span().map(|s| position(text, s.start)),
            message: e.message().trim_end().to_owned(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Read, parse and check the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let with_file = |mut e: ConfigError| {
            e.file = Some(path.to_owned());
            e
        };
        let text = fs::read_to_string(path).map_err(|e| with_file(invalid(e.to_string())))?;
        Self::from_toml(&text).map_err(with_file)
    }

    /// Check what parses but cannot work; the submitter is normalised to
    /// lower-case A-labels.
    fn validate(&mut self) -> Result<(), ConfigError> {
        let r = &mut self.report;
        r.submitter = mta_sts_core::domain::normalize(&r.submitter)
            .map_err(|e| invalid(format!("[report] submitter: {e}")))?;
        // The rest of [report] as finishing a day checks it (an empty
        // day gives no report, only the checks).
        let meta = ReportMeta::new(
            r.organization_name.clone(),
            r.contact_info.clone(),
            r.submitter.clone(),
            "1",
        );
        UtcDay::from_day_number(0)
            .and_then(|day| DayAggregate::new(day).finish(&meta))
            .map_err(|e| invalid(format!("[report] {e}")))?;
        if r.grace_secs > 7 * 86_400 {
            return Err(invalid(
                "[report] grace_secs must be at most 604800 (a week)",
            ));
        }
        if let Some(smtp) = &self.smtp {
            split_relay(&smtp.relay)?;
            if smtp.tls && smtp.starttls != StartTls::Required {
                return Err(invalid(
                    "[smtp] tls = true (implicit TLS) cannot be combined with starttls",
                ));
            }
            if smtp.username.is_some() != smtp.password_file.is_some() {
                return Err(invalid("[smtp] username and password_file go together"));
            }
            if smtp.timeout_secs == 0 || smtp.timeout_secs > 3600 {
                return Err(invalid("[smtp] timeout_secs must be 1 to 3600"));
            }
        }
        if self.https.timeout_secs == 0 || self.https.timeout_secs > 3600 {
            return Err(invalid("[https] timeout_secs must be 1 to 3600"));
        }
        Ok(())
    }

    /// `From` of report mail.
    pub fn from_header(&self) -> &str {
        self.report
            .from
            .as_deref()
            .unwrap_or(&self.report.contact_info)
    }
}

// ---------------------------------------------------------------------------
// Errors

/// Why a day could not be reported (failed deliveries are not errors:
/// they are in the [`DaySummary`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReporterError {
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A key or password file could not be read.
    #[error("{}: cannot read: {source}", .path.display())]
    ReadSecret {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key or password file is larger than the most read (64 KiB); it
    /// is refused, not cut.
    #[error("{}: larger than the limit of {limit} bytes", .path.display())]
    SecretTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The DKIM key or signing settings are unusable.
    #[error("[dkim] {}: {source}", .path.display())]
    DkimKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: DkimError,
    },
    /// Report mail needs a DKIM signature (RFC 8460 3).
    #[error(
        "report mail must be DKIM-signed (RFC 8460 3): configure [dkim], or turn signing off for tests only"
    )]
    NoDkim,
    /// The DNS resolver or HTTPS client could not be set up.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The SMTP relay client could not be set up.
    #[error(transparent)]
    Relay(#[from] DeliveryError),
    /// The state directory failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The day is not over yet (plus the grace period).
    #[error(
        "the reports of {day} can be made from {ready} on (the end of the UTC day plus {grace} s of grace)"
    )]
    DayNotOver {
        /// The day.
        day: UtcDay,
        /// When it can be reported.
        ready: Timestamp,
        /// The grace period, in seconds.
        grace: u64,
    },
    /// Some partials of the day cannot be read.
    #[error("{} unreadable partial(s) of {day}; fix or remove them, or skip them explicitly: {}", .errors.len(), .errors.join("; "))]
    UnreadablePartials {
        /// The day.
        day: UtcDay,
        /// Each one: `node: error`.
        errors: Vec<String>,
    },
    /// Finishing the day failed.
    #[error("finishing {day}: {source}")]
    Finish {
        /// The day.
        day: UtcDay,
        /// Why.
        #[source]
        source: AggregateError,
    },
    /// A report could not be rendered.
    #[error("report for {domain}: {source}")]
    Render {
        /// Its policy domain.
        domain: String,
        /// Why.
        #[source]
        source: OutgoingError,
    },
    /// The report mail could not be signed.
    #[error("report mail for {domain}: DKIM: {source}")]
    Sign {
        /// Its policy domain.
        domain: String,
        /// Why.
        #[source]
        source: DkimError,
    },
    /// The delivery state or a report file of the day is unusable.
    #[error("{}: {reason}", .path.display())]
    DeliveryState {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another reporter works on the same day.
    #[error("{}: another `mtasts tlsrpt send` is working on this day", .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
}

// ---------------------------------------------------------------------------
// The delivery state file

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DeliveryFile {
    format: String,
    version: u32,
    day: String,
    rendered_at: String,
    aggregate_fingerprint: String,
    reports: Vec<ReportState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ReportState {
    policy_domain: String,
    report_id: String,
    file: String,
    eml: Option<String>,
    successful_sessions: u64,
    failed_sessions: u64,
    lookup: LookupState,
    destinations: Vec<DestinationState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LookupState {
    /// `pending` (not found yet), `found`, `none`.
    status: String,
    record: Option<String>,
    detail: Option<String>,
    unusable: Vec<UnusableState>,
    attempts: Vec<AttemptState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct UnusableState {
    uri: String,
    reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DestinationState {
    uri: String,
    scheme: String,
    address: Option<String>,
    /// Informational: `delivered`, `failed`, `gave-up` or the next time.
    next: String,
    attempts: Vec<AttemptState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AttemptState {
    at: String,
    result: String,
    detail: String,
}

const LOOKUP_PENDING: &str = "pending";
/// The jitter seed's second part for record lookups.
const LOOKUP_SEED: &str = "_smtp._tls";
const LOOKUP_FOUND: &str = "found";
const LOOKUP_NONE: &str = "none";

fn parse_time(s: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(s, false).ok().map(|(t, _)| t)
}

impl DestinationState {
    fn destination(&self) -> Destination {
        match &self.address {
            Some(address) => Destination::Mailto {
                uri: self.uri.clone(),
                address: address.clone(),
            },
            None => Destination::Https {
                uri: self.uri.clone(),
            },
        }
    }

    fn attempts(&self) -> Vec<(Timestamp, AttemptResult)> {
        self.attempts
            .iter()
            .filter_map(|a| Some((parse_time(&a.at)?, AttemptResult::from_name(&a.result)?)))
            .collect()
    }
}

impl LookupState {
    /// Not looked up yet.
    fn pending() -> Self {
        Self {
            status: LOOKUP_PENDING.into(),
            record: None,
            detail: None,
            unusable: Vec::new(),
            attempts: Vec::new(),
        }
    }

    /// Lookup attempts in the schedule's terms: a temporary failure is
    /// `pending`, the others are final.
    fn attempts(&self) -> Vec<(Timestamp, AttemptResult)> {
        self.attempts
            .iter()
            .filter_map(|a| {
                let result = match a.result.as_str() {
                    LOOKUP_PENDING => AttemptResult::Temporary,
                    LOOKUP_FOUND => AttemptResult::Delivered,
                    _ => AttemptResult::Permanent,
                };
                Some((parse_time(&a.at)?, result))
            })
            .collect()
    }
}

impl DeliveryFile {
    /// Check what serde cannot: format, version, day, times, results.
    fn check(&self, day: UtcDay) -> Result<(), String> {
        if self.format != DELIVERY_FORMAT || self.version != DELIVERY_VERSION {
            return Err(format!(
                "format `{}` version {} is not {DELIVERY_FORMAT} version {DELIVERY_VERSION}",
                Escaped(&self.format),
                self.version
            ));
        }
        if self.day != day.to_string() {
            return Err(format!("holds the day {}, not {day}", Escaped(&self.day)));
        }
        for r in &self.reports {
            let attempts = r
                .destinations
                .iter()
                .flat_map(|d| &d.attempts)
                .chain(&r.lookup.attempts);
            for a in attempts {
                if parse_time(&a.at).is_none() {
                    return Err(format!(
                        "{}: bad time `{}`",
                        r.policy_domain,
                        Escaped(&a.at)
                    ));
                }
            }
            for d in &r.destinations {
                if let Some(a) = d
                    .attempts
                    .iter()
                    .find(|a| AttemptResult::from_name(&a.result).is_none())
                {
                    return Err(format!("{}: bad result `{}`", d.uri, Escaped(&a.result)));
                }
            }
            for name in std::iter::once(&r.file).chain(&r.eml) {
                if name.contains(['/', '\\']) || name.starts_with('.') {
                    return Err(format!("bad file name `{}`", Escaped(name)));
                }
            }
        }
        Ok(())
    }
}

/// FNV-1a of `bytes`, as 16 hex digits.
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn read_limited(path: &Path) -> Result<Vec<u8>, ReporterError> {
    let err = |reason: String| ReporterError::DeliveryState {
        path: path.to_owned(),
        reason,
    };
    let f = fs::File::open(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let mut buf = Vec::new();
    f.take(MAX_STATE_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| err(format!("cannot read: {e}")))?;
    if buf.len() as u64 > MAX_STATE_FILE {
        return Err(err(format!("larger than {MAX_STATE_FILE} bytes")));
    }
    Ok(buf)
}

/// The text of a key or password file: at most [`MAX_SECRET_FILE`]
/// bytes; a larger file is refused whole, never cut.
fn read_secret(path: &Path) -> Result<String, ReporterError> {
    let read_err = |source| ReporterError::ReadSecret {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_SECRET_FILE + 1).read_to_end(&mut bytes))
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(ReporterError::SecretTooLarge {
            path: path.to_owned(),
            limit: MAX_SECRET_FILE,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        read_err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        ))
    })
}

// ---------------------------------------------------------------------------
// What a run did

/// Where a destination (or a report's record lookup) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Progress {
    /// Delivered (the lookup: the record was found).
    Delivered,
    /// Waiting for its next attempt.
    Pending,
    /// Failed permanently (the lookup: no usable record, nothing to send).
    Failed,
    /// The last attempt allowed failed.
    GaveUp,
    /// Nothing was attempted (`--dry-run`).
    NotAttempted,
}

/// One attempt, for the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptSummary {
    /// When (RFC 3339).
    pub at: String,
    /// `delivered`, `temporary` or `permanent`.
    pub result: String,
    /// What happened.
    pub detail: String,
}

/// One destination of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationSummary {
    /// The `rua` URI.
    pub uri: String,
    /// Where it stands after this run.
    pub progress: Progress,
    /// When it is tried next (RFC 3339), while [`Progress::Pending`].
    pub next_attempt: Option<String>,
    /// Attempts so far.
    pub attempts: usize,
    /// The attempt made by this run, if one was.
    pub this_run: Option<AttemptSummary>,
    /// The latest attempt (this run's or an earlier one).
    pub last: Option<AttemptSummary>,
}

/// One report of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    /// Its policy domain.
    pub policy_domain: String,
    /// Its `report-id`.
    pub report_id: String,
    /// The `.json.gz` file.
    pub file: PathBuf,
    /// The `.eml` file (when the record has `mailto:` destinations).
    pub eml: Option<PathBuf>,
    /// Successful sessions in the report.
    pub successful_sessions: u64,
    /// Failed sessions in the report.
    pub failed_sessions: u64,
    /// The `_smtp._tls` record lookup: [`Progress::Delivered`] found,
    /// [`Progress::Failed`] no usable record (nothing to send),
    /// [`Progress::Pending`] a temporary DNS failure.
    pub lookup: Progress,
    /// The record, when found.
    pub record: Option<String>,
    /// Why there is no destination, or the lookup's error.
    pub lookup_detail: Option<String>,
    /// URIs of the record that cannot be used (`uri: reason`).
    pub unusable: Vec<String>,
    /// Every usable destination.
    pub destinations: Vec<DestinationSummary>,
}

/// How a day stands after a run (the exit status of `mtasts tlsrpt send`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DayOutcome {
    /// Every destination was delivered to (or there was nothing to send).
    Complete,
    /// Some deliveries (or record lookups) wait for a retry; none failed
    /// for good.
    Pending,
    /// Some delivery failed for good, or the run met errors.
    Failed,
}

/// What [`Reporter::send_day`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaySummary {
    /// The day (`YYYY-MM-DD`).
    pub day: String,
    /// Whether this was a dry run (files only).
    pub dry_run: bool,
    /// Where the day's files are.
    pub dir: PathBuf,
    /// The reports, ordered by policy domain.
    pub reports: Vec<ReportSummary>,
    /// Things an operator should know (partials not final, unsigned mail,
    /// sessions over the aggregate's limits, ...).
    pub warnings: Vec<String>,
    /// Errors that did not stop the run (partials skipped).
    pub errors: Vec<String>,
}

impl DaySummary {
    /// How the day stands.
    pub fn outcome(&self) -> DayOutcome {
        let progress = self.reports.iter().flat_map(|r| {
            std::iter::once(r.lookup).chain(r.destinations.iter().map(|d| d.progress))
        });
        let mut pending = false;
        for p in progress {
            match p {
                Progress::GaveUp => return DayOutcome::Failed,
                Progress::Pending => pending = true,
                Progress::Delivered | Progress::Failed | Progress::NotAttempted => {}
            }
        }
        let failed_destination = self
            .reports
            .iter()
            .flat_map(|r| &r.destinations)
            .any(|d| d.progress == Progress::Failed);
        if failed_destination || !self.errors.is_empty() {
            DayOutcome::Failed
        } else if pending {
            DayOutcome::Pending
        } else {
            DayOutcome::Complete
        }
    }
}

// ---------------------------------------------------------------------------
// The reporter

/// How [`Reporter::send_day`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOptions {
    /// The time (the clock, or a test's).
    pub now: Timestamp,
    /// Render into this directory instead of `reports/<day>/`, and
    /// deliver nothing (the record lookups are still made, to address the
    /// mail).
    pub dry_run: Option<PathBuf>,
    /// Report without the partials that cannot be read (they are listed as
    /// errors) instead of refusing.
    pub skip_unreadable: bool,
}

impl SendOptions {
    /// A real run at `now`.
    pub fn at(now: Timestamp) -> Self {
        Self {
            now,
            dry_run: None,
            skip_unreadable: false,
        }
    }
}

/// Finishes, renders, signs and delivers days of reports (see the module
/// documentation).
#[derive(Debug)]
pub struct Reporter {
    config: ReporterConfig,
    signer: Option<Signer>,
    dns: Dns,
    deliverer: Deliverer,
    schedule: RetrySchedule,
    limits: AggregateLimits,
}

/// A report of the day, rendered.
struct Rendered {
    report: Report<'static>,
    rendered: RenderedReport,
}

/// `YYYYMMDD` of `day`: the unique part of its report ids and file names.
fn compact(day: UtcDay) -> String {
    day.to_string().replace('-', "")
}

fn plus_secs(t: Timestamp, secs: u64) -> Timestamp {
    Timestamp::from_unix(
        t.secs
            .saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)),
    )
}

impl Reporter {
    /// A reporter with `config`. Without `[dkim]`, `no_dkim` must be true
    /// (tests only: receivers must ignore unsigned report mail).
    pub fn new(config: ReporterConfig, no_dkim: bool) -> Result<Self, ReporterError> {
        let signer = match (&config.dkim, no_dkim) {
            (_, true) => None,
            (None, false) => return Err(ReporterError::NoDkim),
            (Some(d), false) => {
                let pem = read_secret(&d.key_file)?;
                let key_err = |source| ReporterError::DkimKey {
                    path: d.key_file.clone(),
                    source,
                };
                let key = SigningKey::from_pem(&pem).map_err(key_err)?;
                Some(Signer::new(key, &d.domain, &d.selector).map_err(key_err)?)
            }
        };
        let dns = match config.resolver {
            Some(addr) => Dns::with_server(addr)?,
            None => Dns::system()?,
        };
        let roots = match &config.https.ca_file {
            Some(path) => {
                let mut r = Roots::empty();
                r.add_pem_file(path)?;
                r
            }
            None => Roots::system(),
        };
        let post = PostSettings {
            total_timeout: Duration::from_secs(config.https.timeout_secs),
            invalid_certificates: if config.https.retry_unverified {
                InvalidCertificates::RetryUnverified
            } else {
                InvalidCertificates::Refuse
            },
            ..PostSettings::default()
        };
        let poster = ReportPoster::new(dns.clone(), &roots, post)?;
        let relay = match &config.smtp {
            None => None,
            Some(s) => {
                let (host, port) = split_relay(&s.relay)?;
                let mut settings = RelaySettings::new(
                    host,
                    port,
                    s.helo
                        .clone()
                        .unwrap_or_else(|| config.report.submitter.clone()),
                    s.envelope_from
                        .clone()
                        .unwrap_or_else(|| address_of(config.from_header()).to_owned()),
                );
                settings.security = match (s.tls, s.starttls) {
                    (true, _) => RelaySecurity::ImplicitTls,
                    (false, StartTls::Required) => RelaySecurity::StartTls,
                    (false, StartTls::Opportunistic) => RelaySecurity::Opportunistic,
                    (false, StartTls::None) => RelaySecurity::None,
                };
                settings.ca_file = s.ca_file.clone();
                settings.timeout = Duration::from_secs(s.timeout_secs);
                if let (Some(user), Some(file)) = (&s.username, &s.password_file) {
                    let password = read_secret(file)?;
                    let password = password.lines().next().unwrap_or("").to_owned();
                    settings.credentials = Some((user.clone(), password));
                }
                Some(MailRelay::new(&settings)?)
            }
        };
        Ok(Self {
            config,
            signer,
            dns,
            deliverer: Deliverer::new(poster, relay),
            schedule: RetrySchedule::default(),
            limits: AggregateLimits::default(),
        })
    }

    /// The same reporter with another retry schedule.
    pub fn with_schedule(mut self, schedule: RetrySchedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ReporterConfig {
        &self.config
    }

    fn meta(&self, day: UtcDay) -> ReportMeta {
        let r = &self.config.report;
        ReportMeta::new(
            r.organization_name.clone(),
            r.contact_info.clone(),
            r.submitter.clone(),
            compact(day),
        )
    }

    /// When `day` can be reported: the end of the UTC day plus
    /// [`ReportSection::grace_secs`].
    pub fn ready_at(&self, day: UtcDay) -> Timestamp {
        plus_secs(day.end(), self.config.report.grace_secs.saturating_add(1))
    }

    /// The days in `state`'s `reports/` whose delivery is not over: a
    /// destination or a record lookup still waits for a retry (or the
    /// delivery state cannot be read, which [`Reporter::send_day`] then
    /// reports). Sorted, oldest first. More than [`MAX_REPORT_DAYS`]
    /// entries in `reports/` are an error (remove old days).
    pub fn pending_days(&self, state: &StateDir) -> Result<Vec<UtcDay>, ReporterError> {
        let root = state.path().join("reports");
        let entries = match fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(ReporterError::State(StateError::Io {
                    action: "list",
                    path: root,
                    source,
                }));
            }
        };
        let mut days = Vec::new();
        for (n, entry) in entries.enumerate() {
            if n >= MAX_REPORT_DAYS {
                return Err(ReporterError::State(StateError::TooMany {
                    path: root,
                    what: "entries",
                    limit: MAX_REPORT_DAYS,
                }));
            }
            let entry = entry.map_err(|source| {
                ReporterError::State(StateError::Io {
                    action: "list",
                    path: root.clone(),
                    source,
                })
            })?;
            let Some(day) = entry
                .file_name()
                .to_str()
                .and_then(|name| UtcDay::parse(name).ok())
            else {
                continue;
            };
            let path = entry.path().join(DELIVERY_FILE);
            if !path.is_file() {
                continue;
            }
            let pending = match self.load_state(&path, day) {
                Err(_) => true,
                Ok(f) => f.reports.iter().any(|r| {
                    let lookup = r.lookup.status == LOOKUP_PENDING
                        && !self
                            .schedule
                            .next(r.lookup.attempts(), jitter_seed(&r.report_id, LOOKUP_SEED))
                            .is_final();
                    lookup
                        || r.destinations.iter().any(|d| {
                            !self
                                .schedule
                                .next(d.attempts(), jitter_seed(&r.report_id, &d.uri))
                                .is_final()
                        })
                }),
            };
            if pending {
                days.push(day);
            }
        }
        days.sort();
        Ok(days)
    }

    /// Report `day` from `state` (see the module documentation): the
    /// first run renders and delivers, later runs retry what is due.
    pub async fn send_day(
        &self,
        state: &StateDir,
        day: UtcDay,
        options: &SendOptions,
    ) -> Result<DaySummary, ReporterError> {
        let now = options.now;
        let grace = self.config.report.grace_secs;
        let ready = self.ready_at(day);
        if now < ready {
            return Err(ReporterError::DayNotOver { day, ready, grace });
        }
        let mut summary = DaySummary {
            day: day.to_string(),
            dry_run: options.dry_run.is_some(),
            dir: options
                .dry_run
                .clone()
                .unwrap_or_else(|| state.reports_dir(day)),
            reports: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        };
        let (aggregate, unreadable) = state.read_day(day, self.limits)?;
        let unreadable: Vec<String> = unreadable
            .iter()
            .map(|(node, e)| format!("{node}: {e}"))
            .collect();
        for (node, path) in state.partials_for(day)? {
            if !state.is_final(&node, day) {
                summary.warnings.push(format!(
                    "{} is not marked final: node {node} may still be writing it",
                    path.display()
                ));
            }
        }
        if self.signer.is_none() {
            summary.warnings.push(
                "report mail is not DKIM-signed (signing turned off): receivers must ignore it (RFC 8460 3)"
                    .into(),
            );
        }
        let print = fingerprint(aggregate.to_json().as_bytes());

        if let Some(out) = &options.dry_run {
            self.check_unreadable(day, unreadable, options, &mut summary)?;
            fs::create_dir_all(out).map_err(|e| ReporterError::DeliveryState {
                path: out.clone(),
                reason: format!("cannot create: {e}"),
            })?;
            for r in self.render_day(&aggregate, day, &mut summary)? {
                let report = self.dry_run_report(out, &r, day, now).await?;
                summary.reports.push(report);
            }
            return Ok(summary);
        }

        let state_path = summary.dir.join(DELIVERY_FILE);
        if !state_path.is_file() && aggregate.is_empty() && unreadable.is_empty() {
            summary.warnings.push(format!(
                "no sessions were recorded for {day}: nothing to report"
            ));
            return Ok(summary);
        }
        let dir = state.create_reports_dir(day)?;
        let _lock = lock(&dir)?;
        // Looked at again under the lock: another run may have just written it.
        let mut file = if state_path.is_file() {
            let f = self.load_state(&state_path, day)?;
            if f.aggregate_fingerprint != print {
                summary.warnings.push(format!(
                    "the partials of {day} changed since its reports were rendered at {}; \
                     they are not rendered again (remove {} to start the day over)",
                    f.rendered_at,
                    dir.display()
                ));
            }
            summary.warnings.extend(
                unreadable
                    .iter()
                    .map(|e| format!("unreadable partial: {e}")),
            );
            f
        } else {
            self.check_unreadable(day, unreadable, options, &mut summary)?;
            if aggregate.is_empty() {
                summary.warnings.push(format!(
                    "no sessions were recorded for {day}: nothing to report"
                ));
                return Ok(summary);
            }
            let rendered = self.render_day(&aggregate, day, &mut summary)?;
            let mut reports = Vec::new();
            for r in &rendered {
                let name = r.rendered.filename.to_string();
                write_atomic(&dir.join(&name), &r.rendered.gzip)?;
                reports.push(ReportState {
                    policy_domain: report_domain(&r.rendered).to_owned(),
                    report_id: r.report.report_id.to_string(),
                    file: name,
                    eml: None,
                    successful_sessions: r.report.successful_sessions(),
                    failed_sessions: r.report.failed_sessions(),
                    lookup: LookupState::pending(),
                    destinations: Vec::new(),
                });
            }
            let f = DeliveryFile {
                format: DELIVERY_FORMAT.into(),
                version: DELIVERY_VERSION,
                day: day.to_string(),
                rendered_at: now.to_string(),
                aggregate_fingerprint: print,
                reports,
            };
            save(&state_path, &f)?;
            f
        };

        for i in 0..file.reports.len() {
            self.advance_report(&dir, &state_path, &mut file, i, day, now)
                .await?;
            summary
                .reports
                .push(self.report_summary(&dir, &file.reports[i], now));
        }
        Ok(summary)
    }

    fn check_unreadable(
        &self,
        day: UtcDay,
        unreadable: Vec<String>,
        options: &SendOptions,
        summary: &mut DaySummary,
    ) -> Result<(), ReporterError> {
        if unreadable.is_empty() {
            return Ok(());
        }
        if !options.skip_unreadable {
            return Err(ReporterError::UnreadablePartials {
                day,
                errors: unreadable,
            });
        }
        summary.errors.extend(
            unreadable
                .into_iter()
                .map(|e| format!("partial left out: {e}")),
        );
        Ok(())
    }

    fn load_state(&self, path: &Path, day: UtcDay) -> Result<DeliveryFile, ReporterError> {
        let bytes = read_limited(path)?;
        let err = |reason: String| ReporterError::DeliveryState {
            path: path.to_owned(),
            reason,
        };
        let f: DeliveryFile = serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
        f.check(day).map_err(err)?;
        Ok(f)
    }

    /// Finish the day and render its reports.
    fn render_day(
        &self,
        aggregate: &DayAggregate,
        day: UtcDay,
        summary: &mut DaySummary,
    ) -> Result<Vec<Rendered>, ReporterError> {
        let meta = self.meta(day);
        let finished = aggregate
            .finish(&meta)
            .map_err(|source| ReporterError::Finish { day, source })?;
        let u = finished.unreported;
        if !u.is_empty() {
            summary.warnings.push(format!(
                "{} successful and {} failed sessions are in no report (over the aggregate's policy limit)",
                u.successful_sessions, u.failed_sessions
            ));
        }
        if finished.folded_failure_details > 0 {
            summary.warnings.push(format!(
                "{} failure details were folded (over the aggregate's row limit): their sessions are counted, their details left out",
                finished.folded_failure_details
            ));
        }
        let mut out = Vec::new();
        for report in finished.reports {
            let rendered = render(&report, &meta.submitter, &meta.unique_id).map_err(|source| {
                ReporterError::Render {
                    domain: report
                        .policies
                        .first()
                        .and_then(|p| p.policy.policy_domain.as_deref())
                        .unwrap_or("")
                        .to_owned(),
                    source,
                }
            })?;
            if rendered.exceeds_common_cap() {
                summary.warnings.push(format!(
                    "{}: {} bytes compressed, over the 10 MB that receivers commonly accept",
                    rendered.filename,
                    rendered.gzip.len()
                ));
            }
            out.push(Rendered { report, rendered });
        }
        Ok(out)
    }

    /// The report mail of `r` (a report of `day`) to `to`, signed at
    /// `now`. Its Message-ID is unique by the day, the sending time and
    /// the policy domain.
    fn mail(
        &self,
        r: &Rendered,
        to: &[String],
        day: UtcDay,
        now: Timestamp,
    ) -> Result<Vec<u8>, ReporterError> {
        let domain = report_domain(&r.rendered).to_owned();
        let unique = format!("{}{}", compact(day), now.secs.max(0));
        let meta = MailMeta::new(self.config.from_header(), to.iter().cloned(), now, unique);
        let mail = render_email(&r.report, &r.rendered, &meta).map_err(|source| {
            ReporterError::Render {
                domain: domain.clone(),
                source,
            }
        })?;
        match &self.signer {
            None => Ok(mail),
            Some(s) => s
                .sign(&mail, now)
                .map_err(|source| ReporterError::Sign { domain, source }),
        }
    }

    /// `--dry-run`: the record lookup, the files in `out`, no delivery.
    async fn dry_run_report(
        &self,
        out: &Path,
        r: &Rendered,
        day: UtcDay,
        now: Timestamp,
    ) -> Result<ReportSummary, ReporterError> {
        let name = r.rendered.filename.to_string();
        let file = out.join(&name);
        write_atomic(&file, &r.rendered.gzip)?;
        let domain = report_domain(&r.rendered).to_owned();
        let mut summary = ReportSummary {
            policy_domain: domain.clone(),
            report_id: r.report.report_id.to_string(),
            file,
            eml: None,
            successful_sessions: r.report.successful_sessions(),
            failed_sessions: r.report.failed_sessions(),
            lookup: Progress::Pending,
            record: None,
            lookup_detail: None,
            unusable: Vec::new(),
            destinations: Vec::new(),
        };
        match lookup_destinations(&self.dns, &domain).await {
            DestinationLookup::Found(d) => {
                summary.lookup = Progress::Delivered;
                summary.record = Some(d.record.clone());
                summary.unusable = d
                    .unusable
                    .iter()
                    .map(|u| format!("{}: {}", u.uri, u.reason))
                    .collect();
                let to = mailto_addresses(&d.usable);
                if !to.is_empty() {
                    let eml = out.join(eml_name(&name));
                    write_atomic(&eml, &self.mail(r, &to, day, now)?)?;
                    summary.eml = Some(eml);
                }
                summary.destinations = d
                    .usable
                    .iter()
                    .map(|d| DestinationSummary {
                        uri: d.uri().to_owned(),
                        progress: Progress::NotAttempted,
                        next_attempt: None,
                        attempts: 0,
                        this_run: None,
                        last: None,
                    })
                    .collect();
            }
            DestinationLookup::None(why) => {
                summary.lookup = Progress::Failed;
                summary.lookup_detail = Some(why.to_string());
            }
            DestinationLookup::TempFail { reason } => {
                summary.lookup_detail = Some(reason);
            }
            other => summary.lookup_detail = Some(format!("{other:?}")),
        }
        Ok(summary)
    }

    /// Read a report's `.json.gz` back (the bytes delivered) and render
    /// it again (for the mail; rendering is deterministic).
    fn load_report(
        &self,
        dir: &Path,
        state: &ReportState,
        day: UtcDay,
    ) -> Result<(Vec<u8>, Rendered), ReporterError> {
        let path = dir.join(&state.file);
        let gzip = read_limited(&path)?;
        let err = |reason: String| ReporterError::DeliveryState {
            path: path.clone(),
            reason,
        };
        let json = tlsrpt_core::input::decompress_gzip(&gzip, MAX_STATE_FILE as usize)
            .map_err(|e| err(e.to_string()))?;
        let report = Report::parse_strict(&json)
            .map_err(|e| err(e.to_string()))?
            .value
            .into_owned();
        let meta = self.meta(day);
        let rendered =
            render(&report, &meta.submitter, &meta.unique_id).map_err(|e| err(e.to_string()))?;
        Ok((gzip, Rendered { report, rendered }))
    }

    /// Look up (when due) and deliver (what is due) for report `i`,
    /// saving the state after each step.
    async fn advance_report(
        &self,
        dir: &Path,
        state_path: &Path,
        file: &mut DeliveryFile,
        i: usize,
        day: UtcDay,
        now: Timestamp,
    ) -> Result<(), ReporterError> {
        let (gzip, rendered) = self.load_report(dir, &file.reports[i], day)?;
        let seed = jitter_seed(&file.reports[i].report_id, LOOKUP_SEED);
        let lookup_next = self.schedule.next(file.reports[i].lookup.attempts(), seed);
        if file.reports[i].lookup.status == LOOKUP_PENDING && lookup_next.is_due(now) {
            let domain = file.reports[i].policy_domain.clone();
            let found = lookup_destinations(&self.dns, &domain).await;
            let report = &mut file.reports[i];
            let (result, detail) = match found {
                DestinationLookup::Found(d) => {
                    report.lookup.status = LOOKUP_FOUND.into();
                    report.lookup.record = Some(d.record.clone());
                    report.lookup.unusable = d
                        .unusable
                        .iter()
                        .map(|u| UnusableState {
                            uri: u.uri.clone(),
                            reason: u.reason.to_owned(),
                        })
                        .collect();
                    report.destinations = d
                        .usable
                        .iter()
                        .map(|dest| DestinationState {
                            uri: dest.uri().to_owned(),
                            scheme: dest.scheme().to_owned(),
                            address: match dest {
                                Destination::Mailto { address, .. } => Some(address.clone()),
                                Destination::Https { .. } => None,
                            },
                            next: "now".into(),
                            attempts: Vec::new(),
                        })
                        .collect();
                    let to = mailto_addresses(&d.usable);
                    if !to.is_empty() {
                        let name = eml_name(&report.file);
                        write_atomic(&dir.join(&name), &self.mail(&rendered, &to, day, now)?)?;
                        report.eml = Some(name);
                    }
                    (LOOKUP_FOUND, String::new())
                }
                DestinationLookup::None(why) => {
                    report.lookup.status = LOOKUP_NONE.into();
                    report.lookup.detail = Some(why.to_string());
                    if let NoDestination::NoUsableUri { record, unusable } = &why {
                        report.lookup.record = Some(record.clone());
                        report.lookup.unusable = unusable
                            .iter()
                            .map(|u| UnusableState {
                                uri: u.uri.clone(),
                                reason: u.reason.to_owned(),
                            })
                            .collect();
                    }
                    (LOOKUP_NONE, why.to_string())
                }
                DestinationLookup::TempFail { reason } => {
                    report.lookup.detail = Some(reason.clone());
                    (LOOKUP_PENDING, reason)
                }
                other => (LOOKUP_PENDING, format!("{other:?}")),
            };
            report.lookup.attempts.push(AttemptState {
                at: now.to_string(),
                result: result.into(),
                detail,
            });
            save(state_path, file)?;
        }
        let report = &file.reports[i];
        let mail = match &report.eml {
            Some(name) => Some(read_limited(&dir.join(name))?),
            None => None,
        };
        for j in 0..file.reports[i].destinations.len() {
            let d = &file.reports[i].destinations[j];
            let seed = jitter_seed(&file.reports[i].report_id, &d.uri);
            if !self.schedule.next(d.attempts(), seed).is_due(now) {
                continue;
            }
            let destination = d.destination();
            let attempt = self
                .deliverer
                .deliver(
                    &destination,
                    Payload {
                        gzip: &gzip,
                        mail: mail.as_deref(),
                    },
                    now,
                )
                .await;
            let d = &mut file.reports[i].destinations[j];
            d.attempts.push(AttemptState {
                at: attempt.at.to_string(),
                result: attempt.result.as_str().into(),
                detail: attempt.detail,
            });
            d.next = describe_next(self.schedule.next(d.attempts(), seed));
            save(state_path, file)?;
        }
        Ok(())
    }

    fn report_summary(&self, dir: &Path, r: &ReportState, now: Timestamp) -> ReportSummary {
        let lookup_seed = jitter_seed(&r.report_id, LOOKUP_SEED);
        let lookup = match r.lookup.status.as_str() {
            LOOKUP_FOUND => Progress::Delivered,
            LOOKUP_NONE => Progress::Failed,
            _ => match self.schedule.next(r.lookup.attempts(), lookup_seed) {
                NextAttempt::GaveUp => Progress::GaveUp,
                _ => Progress::Pending,
            },
        };
        let summary_of = |a: &AttemptState| AttemptSummary {
            at: a.at.clone(),
            result: a.result.clone(),
            detail: a.detail.clone(),
        };
        let destinations = r
            .destinations
            .iter()
            .map(|d| {
                let next = self
                    .schedule
                    .next(d.attempts(), jitter_seed(&r.report_id, &d.uri));
                let (progress, next_attempt) = match next {
                    NextAttempt::Delivered => (Progress::Delivered, None),
                    NextAttempt::Failed => (Progress::Failed, None),
                    NextAttempt::GaveUp => (Progress::GaveUp, None),
                    NextAttempt::At(t) => (Progress::Pending, Some(t.to_string())),
                    NextAttempt::Now => (Progress::Pending, Some(now.to_string())),
                };
                let this_run = d
                    .attempts
                    .last()
                    .filter(|a| parse_time(&a.at) == Some(now))
                    .map(summary_of);
                DestinationSummary {
                    uri: d.uri.clone(),
                    progress,
                    next_attempt,
                    attempts: d.attempts.len(),
                    this_run,
                    last: d.attempts.last().map(summary_of),
                }
            })
            .collect();
        ReportSummary {
            policy_domain: r.policy_domain.clone(),
            report_id: r.report_id.clone(),
            file: dir.join(&r.file),
            eml: r.eml.as_ref().map(|e| dir.join(e)),
            successful_sessions: r.successful_sessions,
            failed_sessions: r.failed_sessions,
            lookup,
            record: r.lookup.record.clone(),
            lookup_detail: r.lookup.detail.clone(),
            unusable: r
                .lookup
                .unusable
                .iter()
                .map(|u| format!("{}: {}", u.uri, u.reason))
                .collect(),
            destinations,
        }
    }
}

fn describe_next(next: NextAttempt) -> String {
    match next {
        NextAttempt::Now => "now".into(),
        NextAttempt::At(t) => t.to_string(),
        NextAttempt::Delivered => "delivered".into(),
        NextAttempt::Failed => "failed".into(),
        NextAttempt::GaveUp => "gave-up".into(),
    }
}

/// The `mailto:` addresses among `destinations`, each once, in order.
fn mailto_addresses(destinations: &[Destination]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in destinations {
        if let Destination::Mailto { address, .. } = d
            && !out.iter().any(|a| a.eq_ignore_ascii_case(address))
        {
            out.push(address.clone());
        }
    }
    out
}

/// `<name>.eml` for `<name>.json.gz`.
fn eml_name(json_gz: &str) -> String {
    let base = json_gz.strip_suffix(".json.gz").unwrap_or(json_gz);
    format!("{base}.eml")
}

fn save(path: &Path, file: &DeliveryFile) -> Result<(), ReporterError> {
    let mut json = serde_json::to_vec_pretty(file).map_err(|e| ReporterError::DeliveryState {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    json.push(b'\n');
    write_atomic(path, &json)?;
    Ok(())
}

/// The day's lock (`reports/<day>/.lock`), held while the value lives.
#[cfg(unix)]
fn lock(dir: &Path) -> Result<fs::File, ReporterError> {
    let path = dir.join(".lock");
    let io = |e: std::io::Error| {
        ReporterError::State(StateError::Io {
            action: "lock",
            path: path.clone(),
            source: e,
        })
    };
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(f),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(ReporterError::Locked { path }),
        Err(e) => Err(io(e.into())),
    }
}

/// No lock where `flock` does not exist.
#[cfg(not(unix))]
fn lock(_dir: &Path) -> Result<(), ReporterError> {
    Ok(())
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Delivered => "delivered",
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::GaveUp => "gave up",
            Self::NotAttempted => "not attempted",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[report]
organization_name = "Example Mail"
contact_info = "tlsrpt@mail.example.com"
submitter = "Mail.Example.com."
"#;

    #[test]
    fn minimal_config_and_defaults() {
        let c = ReporterConfig::from_toml(MINIMAL).unwrap();
        assert_eq!(c.report.submitter, "mail.example.com");
        assert_eq!(c.report.grace_secs, DEFAULT_GRACE_SECS);
        assert_eq!(c.from_header(), "tlsrpt@mail.example.com");
        assert_eq!(c.https, HttpsSection::default());
        assert!(c.dkim.is_none() && c.smtp.is_none());
    }

    #[test]
    fn config_errors_say_where_and_what() {
        let e = ReporterConfig::from_toml("[report]\norganization_name = \"x\"\nbogus = 1\n")
            .unwrap_err();
        assert_eq!(e.position, Some((3, 1)), "{e}");
        assert!(e.message.contains("unknown field `bogus`"), "{e}");
        for (extra, want) in [
            (
                "[smtp]\nrelay = \"a b:25\"\n",
                "[smtp] relay `a b:25` is not host:port",
            ),
            (
                "[smtp]\nrelay = \"x:0\"\n",
                "[smtp] relay `x:0` is not host:port",
            ),
            (
                "[smtp]\nrelay = \"x\"\ntls = true\nstarttls = \"none\"\n",
                "[smtp] tls = true (implicit TLS) cannot be combined with starttls",
            ),
            (
                "[smtp]\nrelay = \"x\"\nusername = \"u\"\n",
                "[smtp] username and password_file go together",
            ),
            (
                "[https]\ntimeout_secs = 0\n",
                "[https] timeout_secs must be 1 to 3600",
            ),
        ] {
            let e = ReporterConfig::from_toml(&format!("{MINIMAL}{extra}")).unwrap_err();
            assert_eq!(e.to_string(), want);
        }
        let e = ReporterConfig::from_toml(
            "[report]\norganization_name = \"x\"\ncontact_info = \"a@other.example\"\nsubmitter = \"mail.example.com\"\n",
        )
        .unwrap_err();
        assert!(e.message.starts_with("[report] "), "{e}");
        assert!(e.message.contains("other.example"), "{e}");
    }

    #[test]
    fn relays_and_addresses() {
        assert_eq!(
            split_relay("smtp.example:587").unwrap(),
            ("smtp.example".into(), 587)
        );
        assert_eq!(split_relay("127.0.0.1").unwrap(), ("127.0.0.1".into(), 25));
        assert_eq!(split_relay("[::1]:2525").unwrap(), ("::1".into(), 2525));
        assert!(split_relay("::1:25").is_err());
        assert!(split_relay(":25").is_err());
        assert_eq!(address_of("TLS reports <r@x.example>"), "r@x.example");
        assert_eq!(address_of(" r@x.example "), "r@x.example");
        assert_eq!(eml_name("a!b!1!2!u.json.gz"), "a!b!1!2!u.eml");
    }

    /// A fresh directory under the system's temporary directory.
    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "mtasts-reporter-limits-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// A reporter without DKIM whose DNS server is a closed loopback
    /// port (nothing here looks anything up); `extra` is more TOML.
    fn reporter(extra: &str) -> Result<Reporter, ReporterError> {
        let text = format!("resolver = \"127.0.0.1:9\"\n{MINIMAL}{extra}");
        Reporter::new(ReporterConfig::from_toml(&text).unwrap(), true)
    }

    /// `len` bytes: `first` as the first line, then lines of `x`.
    fn padded(first: &str, len: usize) -> Vec<u8> {
        let mut b = format!("{first}\n").into_bytes();
        while b.len() < len {
            b.push(if b.len() % 64 == 63 { b'\n' } else { b'x' });
        }
        b.truncate(len);
        b
    }

    #[test]
    fn secret_files_over_64_kib_are_refused_not_cut() {
        let dir = tmp("secret");
        let limit = usize::try_from(MAX_SECRET_FILE).unwrap();
        assert_eq!(limit, 64 * 1024);
        let file = dir.join("password");
        // At the limit: read whole.
        fs::write(&file, padded("s3cret", limit)).unwrap();
        let text = read_secret(&file).unwrap();
        assert_eq!(text.len(), limit);
        assert_eq!(text.lines().next(), Some("s3cret"));
        let smtp = format!(
            "[smtp]\nrelay = \"127.0.0.1:9\"\nusername = \"u\"\npassword_file = \"{}\"\n",
            file.display()
        );
        assert!(reporter(&smtp).is_ok());
        // One byte more: refused, naming the file and the limit (before,
        // the first 64 KiB were used as if they were the whole file).
        fs::write(&file, padded("s3cret", limit + 1)).unwrap();
        let e = read_secret(&file).unwrap_err();
        assert!(
            matches!(&e, ReporterError::SecretTooLarge { path, limit: 65_536 } if *path == file),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("{}: larger than the limit of 65536 bytes", file.display())
        );
        let e = reporter(&smtp).map(|_| ()).unwrap_err();
        assert!(
            matches!(&e, ReporterError::SecretTooLarge { path, .. } if *path == file),
            "{e:?}"
        );
        // A DKIM key file the same way, before the key is parsed.
        let key = dir.join("dkim.pem");
        fs::write(&key, padded("-----BEGIN PRIVATE KEY-----", limit + 1)).unwrap();
        let text = format!(
            "{MINIMAL}[dkim]\nkey_file = \"{}\"\nselector = \"s\"\ndomain = \"mail.example.com\"\n",
            key.display()
        );
        let e = Reporter::new(ReporterConfig::from_toml(&text).unwrap(), false)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: larger than the limit of 65536 bytes", key.display())
        );
        // A huge sparse file is refused after reading 64 KiB + 1.
        let f = fs::File::create(&file).unwrap();
        f.set_len(1 << 40).unwrap();
        assert!(matches!(
            read_secret(&file),
            Err(ReporterError::SecretTooLarge { .. })
        ));
        // Not UTF-8: an error naming the file, not a panic.
        fs::write(&file, b"pass\xffword").unwrap();
        let e = read_secret(&file).unwrap_err();
        assert!(matches!(e, ReporterError::ReadSecret { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("{}: cannot read: not UTF-8 text (byte 4)", file.display())
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn state_files_over_64_mib_are_refused() {
        let dir = tmp("state");
        let limit = MAX_STATE_FILE;
        assert_eq!(limit, 64 * 1024 * 1024);
        let file = dir.join("big.json.gz");
        // Sparse files: nothing is written to the disk.
        fs::File::create(&file).unwrap().set_len(limit).unwrap();
        assert_eq!(read_limited(&file).unwrap().len() as u64, limit);
        fs::File::create(&file).unwrap().set_len(limit + 1).unwrap();
        let e = read_limited(&file).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: larger than 67108864 bytes", file.display())
        );

        // A day whose delivery.json is over the limit: refused by a run,
        // naming the file, and listed as pending (so a run reports it).
        let state = StateDir::open_as(dir.join("state"), "mx1").unwrap();
        let day = UtcDay::parse("2024-05-01").unwrap();
        let reports = state.create_reports_dir(day).unwrap();
        let delivery = reports.join(DELIVERY_FILE);
        fs::File::create(&delivery)
            .unwrap()
            .set_len(limit + 1)
            .unwrap();
        let r = reporter("").unwrap();
        assert_eq!(r.pending_days(&state).unwrap(), [day]);
        let now = Timestamp::from_unix(day.end().secs + 86_400);
        let e = r
            .send_day(&state, day, &SendOptions::at(now))
            .await
            .unwrap_err();
        match &e {
            ReporterError::DeliveryState { path, reason } => {
                assert_eq!(*path, delivery);
                assert_eq!(reason, "larger than 67108864 bytes");
            }
            other => panic!("{other:?}"),
        }
        // The file is left as it was.
        assert_eq!(fs::metadata(&delivery).unwrap().len(), limit + 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A gzip member of `len` spaces, made by hand (one fixed-Huffman
    /// block: a literal, then back-references of 258 bytes at distance
    /// 1): a few hundred KiB for 64 MiB, at once, where a real
    /// compressor takes many seconds in a debug build.
    fn gzip_of_spaces(len: usize) -> Vec<u8> {
        struct Bits {
            out: Vec<u8>,
            acc: u64,
            n: u32,
        }
        impl Bits {
            /// `n` bits of `v`, least significant first.
            fn put(&mut self, v: u32, n: u32) {
                self.acc |= u64::from(v) << self.n;
                self.n += n;
                while self.n >= 8 {
                    self.out.push((self.acc & 0xff) as u8);
                    self.acc >>= 8;
                    self.n -= 8;
                }
            }
            /// A Huffman code of `n` bits, most significant first.
            fn code(&mut self, c: u32, n: u32) {
                self.put(c.reverse_bits() >> (32 - n), n);
            }
        }
        let mut b = Bits {
            out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
            acc: 0,
            n: 0,
        };
        b.put(1, 1); // BFINAL
        b.put(1, 2); // BTYPE 01: fixed Huffman codes
        let space = 0x30 + u32::from(b' '); // literals 0-143: 8 bits from 0x30
        let mut left = len;
        if left > 0 {
            b.code(space, 8);
            left -= 1;
        }
        while left >= 258 {
            b.code(0b1100_0101, 8); // length code 285: 258 bytes
            b.code(0, 5); // distance code 0: distance 1
            left -= 258;
        }
        for _ in 0..left {
            b.code(space, 8);
        }
        b.code(0, 7); // end of block (256)
        b.put(0, 7); // to a byte boundary
        let mut out = b.out;
        let mut crc = crc32fast::Hasher::new();
        let chunk = [b' '; 4096];
        let mut rest = len;
        while rest > 0 {
            let n = rest.min(chunk.len());
            crc.update(&chunk[..n]);
            rest -= n;
        }
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out
    }

    #[test]
    fn hand_made_gzip_inflates_to_its_length() {
        for len in [0, 1, 2, 258, 259, 1000, 70_000] {
            let gz = gzip_of_spaces(len);
            let back = tlsrpt_core::input::decompress_gzip(&gz, len).unwrap();
            assert_eq!(back, vec![b' '; len], "{len}");
        }
    }

    #[test]
    fn a_report_inflating_past_64_mib_is_refused() {
        let dir = tmp("inflate");
        let r = reporter("").unwrap();
        let day = UtcDay::parse("2024-05-01").unwrap();
        let state = ReportState {
            policy_domain: "example.com".into(),
            report_id: "r".into(),
            file: "r.json.gz".into(),
            eml: None,
            successful_sessions: 0,
            failed_sessions: 0,
            lookup: LookupState::pending(),
            destinations: Vec::new(),
        };
        let path = dir.join(&state.file);
        let limit = usize::try_from(MAX_STATE_FILE).unwrap();
        // Inflating to exactly 64 MiB: read (and then refused as JSON).
        fs::write(&path, gzip_of_spaces(limit)).unwrap();
        let e = r.load_report(&dir, &state, day).map(|_| ()).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{}: ", path.display())) && !text.contains("larger than"),
            "{e}"
        );
        assert!(!text.contains("gzip"), "the gzip itself is sound: {e}");
        // One byte more: refused by size, naming the file.
        let bomb = gzip_of_spaces(limit + 1);
        assert!(bomb.len() < 512 * 1024, "{}", bomb.len());
        fs::write(&path, bomb).unwrap();
        let e = r.load_report(&dir, &state, day).map(|_| ()).unwrap_err();
        assert!(
            matches!(&e, ReporterError::DeliveryState { path: p, .. } if *p == path),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "{}: decompressed report is larger than the limit of 67108864 bytes",
                path.display()
            )
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn more_than_10000_report_days_are_an_error() {
        let dir = tmp("days");
        let state = StateDir::open_as(dir.join("state"), "mx1").unwrap();
        let day = UtcDay::parse("2024-05-01").unwrap();
        let reports = state.create_reports_dir(day).unwrap();
        // A damaged delivery state: the day is pending.
        fs::write(reports.join(DELIVERY_FILE), "{\"format\": 1").unwrap();
        let root = state.path().join("reports");
        // Every entry counts, day or not: 10,000 in all.
        for n in 1..MAX_REPORT_DAYS {
            fs::create_dir(root.join(format!("old-{n:05}"))).unwrap();
        }
        assert_eq!(fs::read_dir(&root).unwrap().count(), MAX_REPORT_DAYS);
        let r = reporter("").unwrap();
        assert_eq!(r.pending_days(&state).unwrap(), [day]);
        // One more: an error naming the directory and the limit.
        fs::create_dir(root.join("old-10000")).unwrap();
        let e = r.pending_days(&state).unwrap_err();
        assert!(
            matches!(
                &e,
                ReporterError::State(StateError::TooMany { path, what: "entries", limit: 10_000 })
                    if *path == root
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("{}: more than 10000 entries", root.display())
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
