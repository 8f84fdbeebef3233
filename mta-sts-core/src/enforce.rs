//! Enforcement decisions per MX candidate (RFC 8461 sections 4 and 5; the
//! mode table, STS-APPLY-*, STS-CERT-10, DEC-12).
//!
//! ```
//! use mta_sts_core::{Policy, enforce::{decide, Action, MxSession, TlsStatus}};
//! let p = Policy::parse("version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 86400\n").unwrap();
//! let ok = decide(Some(&p), &MxSession::new("mx1.example.com", TlsStatus::Valid));
//! assert_eq!(ok.action, Action::Deliver { require_tls: true });
//! let bad = decide(Some(&p), &MxSession::new("mx1.example.com", TlsStatus::NoStartTls));
//! assert_eq!(bad.action, Action::TryNextMx);
//! assert_eq!(bad.failures[0].result_type.as_str(), "starttls-not-supported");
//! ```

use crate::policy::{Mode, Policy};
use crate::result::ResultType;

/// The `failure-reason-code` used when the MX host is not in the policy
/// (DEC-12).
pub const MX_NOT_IN_POLICY: &str = "mx-not-in-policy";

/// The outcome of the TLS part of an SMTP session with one MX host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsStatus {
    /// STARTTLS was offered and the certificate chain and name validated for
    /// the MX host.
    Valid,
    /// STARTTLS was not offered (or refused).
    NoStartTls,
    /// STARTTLS was offered but validation failed.
    Failed {
        /// `certificate-expired`, `certificate-not-trusted`,
        /// `certificate-host-mismatch` or `validation-failure`.
        result_type: ResultType,
        /// `failure-reason-code`, if any.
        reason: Option<String>,
    },
    /// Not known yet (the check before connecting: only the MX name is
    /// evaluated).
    NotAttempted,
}

/// DANE validation state for the MX host (STS-CERT-10: MTA-STS never
/// overrides a failing DANE validation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dane {
    /// No TLSA records apply; MTA-STS decides.
    #[default]
    NotApplicable,
    /// DANE validated the session: deliver, whatever MTA-STS says.
    Passed,
    /// DANE failed: do not deliver to this MX, whatever MTA-STS says.
    Failed,
}

/// One MX candidate and what happened when connecting to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxSession<'a> {
    /// The MX host name from DNS.
    pub host: &'a str,
    /// The TLS outcome.
    pub tls: TlsStatus,
    /// DANE state.
    pub dane: Dane,
}

impl<'a> MxSession<'a> {
    /// A session without DANE.
    pub fn new(host: &'a str, tls: TlsStatus) -> Self {
        Self {
            host,
            tls,
            dane: Dane::NotApplicable,
        }
    }
}

/// What to do with this MX host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deliver. With `require_tls`, only over the validated TLS session.
    Deliver {
        /// Whether TLS with a valid certificate is required.
        require_tls: bool,
    },
    /// Do not deliver to this MX; treat it as unreachable and try the next
    /// one (STS-APPLY-01, STS-APPLY-02).
    TryNextMx,
    /// Before connecting: go ahead and connect, then decide again with the
    /// TLS outcome.
    Connect,
}

/// A failure to record in TLS-RPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The result type.
    pub result_type: ResultType,
    /// The `failure-reason-code`, if any.
    pub reason: Option<String>,
    /// The MX host.
    pub mx_host: String,
}

/// The decision for one MX candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Failures to report (empty for a success). In `testing` mode delivery
    /// proceeds and the failures are reported (STS-APPLY-03).
    pub failures: Vec<Failure>,
    /// Whether this session counts as a TLS-RPT success for the policy
    /// (only meaningful once the TLS outcome is known).
    pub success: bool,
}

/// Decide for one MX candidate under `policy` (`None` = no policy).
///
/// Mode `none` and no policy give ordinary opportunistic delivery
/// (STS-APPLY-04). `enforce` refuses on a name mismatch, missing STARTTLS or
/// a failed certificate; `testing` delivers and reports.
pub fn decide(policy: Option<&Policy<'_>>, session: &MxSession<'_>) -> Decision {
    let mk = |action, failures: Vec<Failure>, success| Decision {
        action,
        failures,
        success,
    };
    match session.dane {
        Dane::Passed => return mk(Action::Deliver { require_tls: true }, Vec::new(), true),
        Dane::Failed => return mk(Action::TryNextMx, Vec::new(), false),
        Dane::NotApplicable => {}
    }
    let Some(policy) = policy.filter(|p| p.mode() != Mode::None) else {
        let action = if session.tls == TlsStatus::NotAttempted {
            Action::Connect
        } else {
            Action::Deliver { require_tls: false }
        };
        return mk(action, Vec::new(), session.tls == TlsStatus::Valid);
    };
    let failure = |result_type: ResultType, reason: Option<String>| Failure {
        result_type,
        reason,
        mx_host: session.host.to_owned(),
    };
    let mut failures = Vec::new();
    if !policy.matches_mx(session.host) {
        failures.push(failure(
            ResultType::ValidationFailure,
            Some(MX_NOT_IN_POLICY.to_owned()),
        ));
    }
    match &session.tls {
        TlsStatus::Valid | TlsStatus::NotAttempted => {}
        TlsStatus::NoStartTls => failures.push(failure(ResultType::StarttlsNotSupported, None)),
        TlsStatus::Failed {
            result_type,
            reason,
        } => failures.push(failure(result_type.clone(), reason.clone())),
    }
    let ok = failures.is_empty();
    let known = session.tls != TlsStatus::NotAttempted;
    let action = match policy.mode() {
        Mode::Enforce if !ok => Action::TryNextMx,
        _ if !known => Action::Connect,
        Mode::Enforce => Action::Deliver { require_tls: true },
        _ => Action::Deliver { require_tls: false },
    };
    mk(action, failures, ok && known)
}

/// What to do when every MX candidate was refused under `enforce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllRefused {
    /// Look up the `_mta-sts` TXT record again; if its id changed, fetch
    /// the new policy and retry the delivery at once; otherwise defer the
    /// message as a temporary failure and retry later per RFC 5321
    /// (STS-CACHE-09, STS-CACHE-10, STS-APPLY-05). Never bounce before that.
    RecheckTxtThenDefer,
}

/// The rule for a delivery whose every MX was refused.
pub fn all_refused() -> AllRefused {
    AllRefused::RecheckTxtThenDefer
}

/// After [`AllRefused::RecheckTxtThenDefer`]: whether the TXT id read
/// again differs from the id of the policy that refused the delivery, so
/// the policy must be fetched again and the delivery retried.
pub fn policy_changed(applied_id: &str, current_txt_id: Option<&str>) -> bool {
    current_txt_id.is_some_and(|id| id != applied_id)
}
