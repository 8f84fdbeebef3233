//! The alert tables of the site store: `alerts` (one row per alert, with
//! the counts folded into it during its quiet period) and
//! `alert_deliveries` (one row per delivery attempt). The same schema and
//! behaviour in both backends ([`crate::alerts::sqlite`],
//! [`crate::alerts::pg`]).
//!
//! Alert writes do not bump the store's generation (the serving nodes
//! poll it to reload domains; alerts do not change what is served).

use crate::store::StoreError;

/// An alert to raise (what [`crate::alerts::Alerter`] computed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// `report` (from a TLS-RPT report) or `probe` (a scheduled probe).
    pub source: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// The policy domain (lower case).
    pub domain: String,
    /// The result type (`certificate-expired`, ...) or the probe's code
    /// (`mx-certificate-expiring`, `mx-not-covered`, `sts-id-stale`).
    pub result_type: String,
    /// The receiving MX host, when there is one.
    pub mx_host: Option<String>,
    /// Failed sessions (0 for probes).
    pub failed_sessions: u64,
    /// When the failure was first seen (Unix seconds).
    pub first_seen: i64,
    /// Reporting organizations (sorted, at most [`MAX_LIST`]).
    pub reporting_organizations: Vec<String>,
    /// Sending MTA IPs (sorted, at most [`MAX_LIST`]).
    pub sending_mta_ips: Vec<String>,
    /// Report ids (at most [`MAX_LIST`]).
    pub report_ids: Vec<String>,
    /// A one-line title.
    pub title: String,
    /// What to do, one step per line.
    pub remediation: String,
    /// The alert in one readable paragraph.
    pub text: String,
}

/// At most this many organizations, IPs and report ids are kept per
/// alert (reports are untrusted input); the first ones seen.
pub const MAX_LIST: usize = 50;

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredAlert {
    /// The alert's number (unique in the store).
    pub id: i64,
    /// See [`NewAlert::source`].
    pub source: String,
    /// See [`NewAlert::severity`].
    pub severity: String,
    /// See [`NewAlert::domain`].
    pub domain: String,
    /// See [`NewAlert::result_type`].
    pub result_type: String,
    /// See [`NewAlert::mx_host`].
    pub mx_host: Option<String>,
    /// Failed sessions, summed over the raise and its repeats.
    pub failed_sessions: u64,
    /// The earliest `first_seen` of the raise and its repeats.
    pub first_seen: i64,
    /// When it was raised (Unix seconds): the quiet period starts here.
    pub raised_at: i64,
    /// When it was last raised again (a repeat within the quiet period).
    pub last_seen: i64,
    /// Repeats folded into it within the quiet period.
    pub repeats: u64,
    /// Reporting organizations (merged over repeats).
    pub reporting_organizations: Vec<String>,
    /// Sending MTA IPs (merged over repeats).
    pub sending_mta_ips: Vec<String>,
    /// Report ids (merged over repeats).
    pub report_ids: Vec<String>,
    /// A one-line title.
    pub title: String,
    /// What to do, one step per line.
    pub remediation: String,
    /// The alert in one paragraph (as first raised).
    pub text: String,
}

/// One delivery attempt of an alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryAttempt {
    /// The alert.
    pub alert_id: i64,
    /// The webhook URL, or `mailto:ADDRESS`.
    pub destination: String,
    /// When it was made (Unix seconds).
    pub at: i64,
    /// `delivered`, `temporary` or `permanent`.
    pub result: String,
    /// What the receiver or relay said, or the error.
    pub detail: String,
}

/// What [`AlertStore::raise`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// A new alert with this id.
    New(i64),
    /// Folded into the alert with this id, raised within the quiet
    /// period (its counts were updated).
    Repeat(i64),
}

impl Raised {
    /// The alert's id.
    #[must_use]
    pub fn id(self) -> i64 {
        match self {
            Self::New(id) | Self::Repeat(id) => id,
        }
    }
}

/// The alert tables (blocking, like [`crate::store::SiteStore`]).
pub trait AlertStore: Send + Sync {
    /// In one transaction: when an alert with the same (domain, result
    /// type, MX host) was raised after `now - quiet_secs`, fold `alert`
    /// into the newest such one (sessions added, lists merged,
    /// `first_seen` the earlier, `last_seen = now`, `repeats + 1`);
    /// otherwise store it as a new alert raised at `now`. Across nodes
    /// sharing a PostgreSQL store, two raises of one key at once make one
    /// alert.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn raise(&self, alert: &NewAlert, quiet_secs: i64, now: i64) -> Result<Raised, StoreError>;

    /// Alerts, newest first, of `domain` (all when `None`), at most
    /// `limit`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn list_alerts(
        &self,
        domain: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StoreError>;

    /// The alerts raised at or after `since`, oldest first (the ones
    /// delivery looks at).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn alerts_since(&self, since: i64) -> Result<Vec<StoredAlert>, StoreError>;

    /// The delivery attempts of an alert, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn attempts(&self, alert_id: i64) -> Result<Vec<DeliveryAttempt>, StoreError>;

    /// Claim the right to deliver alert `id` until `until`: true when no
    /// unexpired claim was held (so two nodes do not send it twice).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn claim_delivery(&self, id: i64, now: i64, until: i64) -> Result<bool, StoreError>;

    /// Store attempts of alert `id` and give up the claim.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails.
    fn finish_delivery(&self, id: i64, attempts: &[DeliveryAttempt]) -> Result<(), StoreError>;
}

/// `list` as the JSON array stored in a text column.
pub(crate) fn list_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

/// A stored JSON array back as a list.
pub(crate) fn parse_list(what: &'static str, json: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

/// `a` with the values of `b` it lacks, sorted, at most [`MAX_LIST`].
pub(crate) fn merge(a: &[String], b: &[String]) -> Vec<String> {
    let mut set: std::collections::BTreeSet<String> = a.iter().cloned().collect();
    for v in b {
        if set.len() >= MAX_LIST {
            break;
        }
        set.insert(v.clone());
    }
    set.into_iter().take(MAX_LIST).collect()
}

/// A count read from a signed column.
pub(crate) fn count_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A count for a signed column.
pub(crate) fn count_to(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
