//! The enforcement decision for one MX host, and the certificate check.

use std::ffi::c_char;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mta_sts_core::ResultType;
use mta_sts_core::cert::{CertVerdict, check_certificate};
use mta_sts_core::enforce::{Action, Dane, Decision, MxSession, TlsStatus, decide};

use crate::{
    OptOut, at, bytes_arg, enum_arg, free_box, guard, guard_value, handle, mtasts_policy,
    mtasts_result, mtasts_str, opt_str_arg, out, str_arg,
};

/// The TLS outcome of an SMTP session with one MX host, as the decision
/// and TLS-RPT see it. Passed to functions as a `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mtasts_tls_outcome {
    /// STARTTLS was offered, and the certificate chain and name validated.
    Valid = 0,
    /// Not connected yet: only the MX name is judged (the answer is
    /// "connect", or "try the next MX" when the name is not in the
    /// policy).
    NotAttempted = 1,
    /// STARTTLS was not offered, or refused (`starttls-not-supported`).
    StarttlsNotSupported = 2,
    /// No subjectAltName of the certificate matches the MX host
    /// (`certificate-host-mismatch`).
    CertificateHostMismatch = 3,
    /// The certificate has expired (`certificate-expired`).
    CertificateExpired = 4,
    /// The chain does not lead to a trusted root
    /// (`certificate-not-trusted`).
    CertificateNotTrusted = 5,
    /// Any other validation failure (`validation-failure`).
    ValidationFailure = 6,
}

impl mtasts_tls_outcome {
    fn from_u32(n: u32) -> Option<Self> {
        Some(match n {
            0 => Self::Valid,
            1 => Self::NotAttempted,
            2 => Self::StarttlsNotSupported,
            3 => Self::CertificateHostMismatch,
            4 => Self::CertificateExpired,
            5 => Self::CertificateNotTrusted,
            6 => Self::ValidationFailure,
            _ => return None,
        })
    }

    fn status(self, reason: Option<String>) -> TlsStatus {
        let failed = |result_type| TlsStatus::Failed {
            result_type,
            reason: reason.clone(),
        };
        match self {
            Self::Valid => TlsStatus::Valid,
            Self::NotAttempted => TlsStatus::NotAttempted,
            Self::StarttlsNotSupported => TlsStatus::NoStartTls,
            Self::CertificateHostMismatch => failed(ResultType::CertificateHostMismatch),
            Self::CertificateExpired => failed(ResultType::CertificateExpired),
            Self::CertificateNotTrusted => failed(ResultType::CertificateNotTrusted),
            Self::ValidationFailure => failed(ResultType::ValidationFailure),
        }
    }
}

/// The DANE state of the MX host (RFC 8461 2: MTA-STS never overrides
/// DANE). Passed to functions as a `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mtasts_dane {
    /// No TLSA records apply: MTA-STS decides.
    NotApplicable = 0,
    /// DANE validated the session: deliver.
    Passed = 1,
    /// DANE failed: do not deliver to this MX.
    Failed = 2,
}

/// What to do with an MX host.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mtasts_action {
    /// Deliver; TLS is not required (no policy, `none` or `testing`).
    Deliver = 1,
    /// Deliver, only over the validated TLS session (`enforce`).
    DeliverRequireTls = 2,
    /// Do not deliver to this MX: treat it as unreachable, try the next
    /// one. When every MX is refused, look the `_mta-sts` record up again,
    /// and defer the message unless its id changed (RFC 8461 5.1).
    TryNextMx = 3,
    /// Before connecting: connect, then decide again with the TLS outcome.
    Connect = 4,
}

/// The decision for one MX host ([`mtasts_decide`]): the action, whether
/// the session counts as a TLS-RPT success, and the failures to report.
/// Immutable: `Send` and `Sync`. Free with [`mtasts_decision_free`].
#[derive(Debug)]
pub struct mtasts_decision {
    pub(crate) decision: Decision,
    pub(crate) host: String,
    pub(crate) tls: TlsStatus,
}

/// Decide what to do with the MX host `mx_host` under `policy` (NULL = no
/// policy applies: opportunistic delivery) given the TLS outcome `tls` (an
/// [`mtasts_tls_outcome`]), an optional `failure-reason-code` text
/// (`reason`, NULL = none) and the DANE state `dane` (an
/// [`mtasts_dane`]). RFC 8461 4 and 5: `enforce` refuses a host that is
/// not in the policy, without STARTTLS or with a failed certificate;
/// `testing` delivers and reports; `none` and no policy deliver.
///
/// On success `*out_decision` is a new decision; free it with
/// [`mtasts_decision_free`]. Errors: [`mtasts_result::InvalidArgument`]
/// for an unknown `tls` or `dane` value, [`mtasts_result::InvalidUtf8`],
/// [`mtasts_result::NullParameter`] (for `mx_host` and `out_decision`;
/// `policy` and `reason` may be NULL).
#[unsafe(no_mangle)]
#[allow(
    clippy::too_many_arguments,
    reason = "a C function: each string is a pointer and a length"
)]
pub unsafe extern "C" fn mtasts_decide(
    policy: *const mtasts_policy,
    mx_host: *const c_char,
    mx_host_len: usize,
    tls: u32,
    reason: *const c_char,
    reason_len: usize,
    dane: u32,
    out_decision: *mut *mut mtasts_decision,
) -> mtasts_result {
    guard(|| {
        let o = out(out_decision, "out_decision")?;
        // SAFETY: the caller's promise: NULL (no policy) or a live policy.
        let policy = unsafe { policy.as_ref() }.map(mtasts_policy::policy);
        // SAFETY: the caller's promise for the strings and their lengths.
        let host = unsafe { str_arg(mx_host, mx_host_len, "mx_host") }?;
        // SAFETY: as above; `reason` may be NULL.
        let reason = unsafe { opt_str_arg(reason, reason_len, "reason") }?;
        let tls = enum_arg(tls, "tls", mtasts_tls_outcome::from_u32)?;
        let dane = enum_arg(dane, "dane", |n| match n {
            0 => Some(Dane::NotApplicable),
            1 => Some(Dane::Passed),
            2 => Some(Dane::Failed),
            _ => None,
        })?;
        let status = tls.status(reason.map(str::to_owned));
        let session = MxSession {
            host,
            tls: status.clone(),
            dane,
        };
        let decision = decide(policy, &session);
        let d = mtasts_decision {
            decision,
            host: host.to_owned(),
            tls: status,
        };
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(d))) };
        Ok(())
    })
}

/// The decision's action.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_decision_action(
    decision: *const mtasts_decision,
    out_action: *mut mtasts_action,
) -> mtasts_result {
    guard(|| {
        let o = out(out_action, "out_action")?;
        // SAFETY: the caller's promise: NULL or a live decision.
        let d = unsafe { handle(decision, "decision") }?;
        let a = match d.decision.action {
            Action::Deliver { require_tls: true } => mtasts_action::DeliverRequireTls,
            Action::Deliver { require_tls: false } => mtasts_action::Deliver,
            Action::TryNextMx => mtasts_action::TryNextMx,
            Action::Connect => mtasts_action::Connect,
        };
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(a) };
        Ok(())
    })
}

/// Whether the session counts as a TLS-RPT success for the policy (only
/// meaningful once the TLS outcome is known); `false` for a NULL handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_decision_success(decision: *const mtasts_decision) -> bool {
    guard_value(false, || {
        // SAFETY: the caller's promise: NULL or a live decision.
        unsafe { decision.as_ref() }.is_some_and(|d| d.decision.success)
    })
}

/// The number of failures to report through TLS-RPT (0 for a NULL
/// handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_decision_failure_count(decision: *const mtasts_decision) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live decision.
        unsafe { decision.as_ref() }.map_or(0, |d| d.decision.failures.len())
    })
}

/// The failure at `index`: its TLS-RPT result type (`certificate-expired`,
/// `validation-failure`, ...) and `failure-reason-code` (`{NULL, 0}` when
/// none; `mx-not-in-policy` for a host the policy does not list), both
/// borrowed from the decision. `out_reason` is optional.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_decision_failure_at(
    decision: *const mtasts_decision,
    index: usize,
    out_result_type: *mut mtasts_str,
    out_reason: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let t = out(out_result_type, "out_result_type")?;
        let r = OptOut::new(out_reason);
        // SAFETY: the caller's promise: NULL or a live decision.
        let d = unsafe { handle(decision, "decision") }?;
        let f = at(&d.decision.failures, index, "failure")?;
        // SAFETY: `t` checked, `r` NULL or writable, by the caller's
        // promise.
        unsafe { t.put(mtasts_str::borrowed(f.result_type.as_str())) };
        // SAFETY: as above.
        unsafe { r.put(mtasts_str::from_opt(f.reason.as_deref())) };
        Ok(())
    })
}

/// Free a decision (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_decision_free(decision: *mut mtasts_decision) {
    // SAFETY: the caller's promise: NULL or a decision not yet freed.
    unsafe { free_box(decision) }
}

// ---------------------------------------------------------------------------
// Certificates

fn system_time(unix_secs: i64) -> SystemTime {
    if unix_secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix_secs.unsigned_abs())
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(unix_secs.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    }
}

fn cert_outcome(v: &CertVerdict) -> mtasts_tls_outcome {
    match v.result_type() {
        None => mtasts_tls_outcome::Valid,
        Some(ResultType::CertificateHostMismatch) => mtasts_tls_outcome::CertificateHostMismatch,
        Some(ResultType::CertificateExpired) => mtasts_tls_outcome::CertificateExpired,
        Some(_) => mtasts_tls_outcome::ValidationFailure,
    }
}

/// Check the MX host's end-entity certificate (DER) for the name
/// `mx_host` at `now_unix` (seconds since 1970; RFC 8461 4.2): the time
/// first (expired, not yet valid), then the subjectAltName dNSNames
/// (wildcards as RFC 6125 narrowed by RFC 8461; the subject CN is never
/// used). Chain validation is the TLS library's job (report a failure
/// there as [`mtasts_tls_outcome::CertificateNotTrusted`]).
///
/// `*out_outcome` is the result as an [`mtasts_tls_outcome`] for
/// [`mtasts_decide`]: `VALID`, `CERTIFICATE_HOST_MISMATCH`,
/// `CERTIFICATE_EXPIRED`, or `VALIDATION_FAILURE` (not yet valid, or not a
/// readable certificate: that is a verdict, not an error). When
/// `reason_buf` is not NULL, a one-line reason is copied into it as
/// [`mtasts_result_message`](crate::mtasts_result_message) does (cut to
/// `reason_len` bytes, NUL-terminated; `*out_reason_n`, optional, gets
/// the bytes written). Errors: [`mtasts_result::NullParameter`],
/// [`mtasts_result::InvalidUtf8`].
#[unsafe(no_mangle)]
#[allow(
    clippy::too_many_arguments,
    reason = "a C function: each string is a pointer and a length"
)]
pub unsafe extern "C" fn mtasts_cert_check(
    der: *const u8,
    der_len: usize,
    mx_host: *const c_char,
    mx_host_len: usize,
    now_unix: i64,
    out_outcome: *mut mtasts_tls_outcome,
    reason_buf: *mut c_char,
    reason_len: usize,
    out_reason_n: *mut usize,
) -> mtasts_result {
    guard(|| {
        let o = out(out_outcome, "out_outcome")?;
        // SAFETY: the caller's promise for the inputs and their lengths.
        let der = unsafe { bytes_arg(der, der_len, "der") }?;
        // SAFETY: as above.
        let host = unsafe { str_arg(mx_host, mx_host_len, "mx_host") }?;
        let verdict = check_certificate(der, host, system_time(now_unix));
        let outcome = cert_outcome(&verdict);
        let n = if !reason_buf.is_null() && reason_len > 0 {
            // SAFETY: non-NULL, `reason_len` > 0, writable by the caller's
            // promise.
            unsafe { crate::copy_into(&verdict.reason(), reason_buf, reason_len) }?
        } else {
            0
        };
        // SAFETY: NULL or writable by the caller's promise.
        unsafe { OptOut::new(out_reason_n).put(n) };
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(outcome) };
        Ok(())
    })
}

/// The TLS-RPT result type string of an outcome (`"starttls-not-supported"`,
/// ...; `{NULL, 0}` for `VALID` and `NOT_ATTEMPTED`), static.
/// [`mtasts_result::InvalidArgument`] for an unknown value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_tls_outcome_result_type(
    outcome: u32,
    out_result_type: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_result_type, "out_result_type")?;
        let t = enum_arg(outcome, "outcome", mtasts_tls_outcome::from_u32)?;
        let s = match t {
            mtasts_tls_outcome::Valid | mtasts_tls_outcome::NotAttempted => None,
            mtasts_tls_outcome::StarttlsNotSupported => Some("starttls-not-supported"),
            mtasts_tls_outcome::CertificateHostMismatch => Some("certificate-host-mismatch"),
            mtasts_tls_outcome::CertificateExpired => Some("certificate-expired"),
            mtasts_tls_outcome::CertificateNotTrusted => Some("certificate-not-trusted"),
            mtasts_tls_outcome::ValidationFailure => Some("validation-failure"),
        };
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::from_opt(s)) };
        Ok(())
    })
}

/// A TLS status as the failure detail of a session that failed without a
/// policy failure (no policy, or DANE): `None` when there is none.
pub(crate) fn status_failure(tls: &TlsStatus) -> Option<(ResultType, Option<String>)> {
    match tls {
        TlsStatus::NoStartTls => Some((ResultType::StarttlsNotSupported, None)),
        TlsStatus::Failed {
            result_type,
            reason,
        } => Some((result_type.clone(), reason.clone())),
        TlsStatus::Valid | TlsStatus::NotAttempted => None,
    }
}
