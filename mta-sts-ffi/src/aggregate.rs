//! Recording TLS sessions for TLS-RPT: policy keys, failure details, the
//! day aggregate, the finished day's reports (JSON, gzip, e-mail) and
//! DKIM signing.

use std::ffi::c_char;
use std::net::IpAddr;

use mta_sts_core::ResultType;
use tlsrpt_core::dkim::{Signer, SigningKey};
use tlsrpt_core::outgoing::{MailMeta, RenderedReport, render, render_email};
use tlsrpt_core::report::PolicyType;
use tlsrpt_core::session::{
    AggregateError, DayAggregate, Failure, PolicyKey, Recorded, ReportMeta, SessionResult, UtcDay,
};
use tlsrpt_core::time::Timestamp;
use tlsrpt_core::{Report, session::Unreported};

use crate::enforce::status_failure;
use crate::{
    Error, OptOut, Result, at, bytes_arg, enum_arg, free_box, guard, guard_value, handle,
    handle_mut, mtasts_buffer, mtasts_bytes, mtasts_decision, mtasts_policy, mtasts_result,
    mtasts_str, opt_str_arg, out, str_arg, str_array_arg,
};

fn aggregate_error(e: &AggregateError) -> Error {
    let code = match e {
        AggregateError::Day { .. } => mtasts_result::DayInvalid,
        AggregateError::PolicyDomain(_) => mtasts_result::DomainInvalid,
        _ => mtasts_result::AggregateInvalid,
    };
    Error::chain(code, e)
}

/// The policy type of a [`mtasts_policy_key`] (the numbers libtlsrpt
/// uses). Passed to functions as a `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mtasts_policy_type {
    /// `tlsa` (DANE).
    Tlsa = 1,
    /// `sts` (MTA-STS).
    Sts = 2,
    /// `no-policy-found`.
    NoPolicyFound = 9,
}

/// The policy a session is recorded under: policy domain, type,
/// `policy-string` lines and `mx-host` patterns. Build one per policy the
/// MTA holds and keep it with the policy. Immutable: `Send` and `Sync`.
/// Free with [`mtasts_policy_key_free`].
#[derive(Debug, Clone)]
pub struct mtasts_policy_key {
    key: PolicyKey,
}

fn key_out(o: *mut *mut mtasts_policy_key, key: Result<PolicyKey, AggregateError>) -> Result<()> {
    let o = out(o, "out_key")?;
    let key = key.map_err(|e| aggregate_error(&e))?;
    // SAFETY: `o` was checked and is writable by the caller's promise.
    unsafe { o.put(Box::into_raw(Box::new(mtasts_policy_key { key }))) };
    Ok(())
}

/// The key of an MTA-STS policy as applied for the policy domain `domain`:
/// `sts` with the policy's lines and `mx` patterns, or `no-policy-found`
/// for a policy in mode `none`. Errors: [`mtasts_result::DomainInvalid`],
/// [`mtasts_result::AggregateInvalid`] (over 64 KiB of text),
/// [`mtasts_result::InvalidUtf8`], [`mtasts_result::NullParameter`]. Free
/// `*out_key` with [`mtasts_policy_key_free`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_key_for_policy(
    domain: *const c_char,
    domain_len: usize,
    policy: *const mtasts_policy,
    out_key: *mut *mut mtasts_policy_key,
) -> mtasts_result {
    guard(|| {
        out(out_key, "out_key")?;
        // SAFETY: the caller's promise for `domain` and its length.
        let d = unsafe { str_arg(domain, domain_len, "domain") }?;
        // SAFETY: the caller's promise: NULL or a live policy.
        let p = unsafe { handle(policy, "policy") }?;
        key_out(out_key, PolicyKey::for_policy(d, p.policy()))
    })
}

/// The key of a delivery to `domain` where no policy applies
/// (`no-policy-found`). Errors as [`mtasts_policy_key_for_policy`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_key_no_policy_found(
    domain: *const c_char,
    domain_len: usize,
    out_key: *mut *mut mtasts_policy_key,
) -> mtasts_result {
    guard(|| {
        out(out_key, "out_key")?;
        // SAFETY: the caller's promise for `domain` and its length.
        let d = unsafe { str_arg(domain, domain_len, "domain") }?;
        key_out(out_key, PolicyKey::no_policy_found(d))
    })
}

/// A key of any type (`policy_type`, an [`mtasts_policy_type`]): for
/// `tlsa`, the TLSA records (`"3 1 1 0123..."`) as `policy_strings` and
/// the MX host(s) they are for as `mx_hosts`; for `sts`, the policy's
/// lines and patterns. Arrays may be NULL when their count is 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_key_new(
    policy_type: u32,
    domain: *const c_char,
    domain_len: usize,
    policy_strings: *const mtasts_str,
    policy_string_count: usize,
    mx_hosts: *const mtasts_str,
    mx_host_count: usize,
    out_key: *mut *mut mtasts_policy_key,
) -> mtasts_result {
    guard(|| {
        out(out_key, "out_key")?;
        let t = enum_arg(policy_type, "policy_type", |n| match n {
            1 => Some(PolicyType::Tlsa),
            2 => Some(PolicyType::Sts),
            9 => Some(PolicyType::NoPolicyFound),
            _ => None,
        })?;
        // SAFETY: the caller's promise for the strings and arrays.
        let d = unsafe { str_arg(domain, domain_len, "domain") }?;
        // SAFETY: as above.
        let ps = unsafe { str_array_arg(policy_strings, policy_string_count, "policy_strings") }?;
        // SAFETY: as above.
        let mx = unsafe { str_array_arg(mx_hosts, mx_host_count, "mx_hosts") }?;
        key_out(out_key, PolicyKey::new(t, d, ps, mx))
    })
}

/// The key's policy domain (normalised: lower-case A-labels), borrowed
/// from the key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_key_domain(
    key: *const mtasts_policy_key,
    out_domain: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_domain, "out_domain")?;
        // SAFETY: the caller's promise: NULL or a live key.
        let k = unsafe { handle(key, "key") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(k.key.domain())) };
        Ok(())
    })
}

/// Free a key (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_key_free(key: *mut mtasts_policy_key) {
    // SAFETY: the caller's promise: NULL or a key not yet freed.
    unsafe { free_box(key) }
}

// ---------------------------------------------------------------------------
// Failure details

/// A failure detail being built: a result type and optional fields. Give
/// every failure `sending-mta-ip` and `receiving-mx-hostname` where known
/// (strict readers refuse reports without them). Mutable: `Send`, not
/// `Sync`. Free with [`mtasts_failure_free`].
#[derive(Debug)]
pub struct mtasts_failure {
    failure: Failure,
}

/// A failure of the TLS-RPT result type `result_type`
/// (`"certificate-expired"`, ...; an unregistered value is kept as
/// written). Free `*out_failure` with [`mtasts_failure_free`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_failure_new(
    result_type: *const c_char,
    result_type_len: usize,
    out_failure: *mut *mut mtasts_failure,
) -> mtasts_result {
    guard(|| {
        let o = out(out_failure, "out_failure")?;
        // SAFETY: the caller's promise for the string and its length.
        let t = unsafe { str_arg(result_type, result_type_len, "result_type") }?;
        if t.is_empty() {
            return Err(Error::new(
                mtasts_result::InvalidArgument,
                "`result_type` is empty",
            ));
        }
        let Ok(rt) = t.parse::<ResultType>();
        let f = mtasts_failure {
            failure: Failure::new(rt),
        };
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(f))) };
        Ok(())
    })
}

/// Which text field of a failure to set.
#[derive(Clone, Copy)]
enum Field {
    Hostname,
    Helo,
    Reason,
    Info,
}

/// Set a text field.
///
/// # Safety
/// As the public setters.
unsafe fn set_text(
    failure: *mut mtasts_failure,
    value: *const c_char,
    len: usize,
    field: Field,
) -> mtasts_result {
    guard(|| {
        // SAFETY: the caller's promise: NULL or a live failure used by one
        // thread.
        let f = unsafe { handle_mut(failure, "failure") }?;
        // SAFETY: the caller's promise for the string and its length.
        let v = unsafe { str_arg(value, len, "value") }?.to_owned();
        let slot = match field {
            Field::Hostname => &mut f.failure.receiving_mx_hostname,
            Field::Helo => &mut f.failure.receiving_mx_helo,
            Field::Reason => &mut f.failure.failure_reason_code,
            Field::Info => &mut f.failure.additional_information,
        };
        *slot = Some(v);
        Ok(())
    })
}

/// Set an IP field.
///
/// # Safety
/// As the public setters.
unsafe fn set_ip(
    failure: *mut mtasts_failure,
    value: *const c_char,
    len: usize,
    receiving: bool,
) -> mtasts_result {
    guard(|| {
        // SAFETY: the caller's promise: NULL or a live failure used by one
        // thread.
        let f = unsafe { handle_mut(failure, "failure") }?;
        // SAFETY: the caller's promise for the string and its length.
        let v = unsafe { str_arg(value, len, "ip") }?;
        let ip = parse_ip(v)?;
        if receiving {
            f.failure.receiving_ip = Some(ip);
        } else {
            f.failure.sending_mta_ip = Some(ip);
        }
        Ok(())
    })
}

fn parse_ip(v: &str) -> Result<IpAddr> {
    v.parse().map_err(|_| {
        Error::new(
            mtasts_result::IpInvalid,
            format!(
                "`{}` is not an IPv4 or IPv6 address",
                mta_sts_core::display::Escaped(v)
            ),
        )
    })
}

/// Set `receiving-mx-hostname` (the MX host name as in DNS). Fields longer
/// than 2048 bytes are refused when the failure is recorded.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_failure_set_receiving_mx_hostname(
    failure: *mut mtasts_failure,
    value: *const c_char,
    len: usize,
) -> mtasts_result {
    // SAFETY: the caller's promise, passed on.
    unsafe { set_text(failure, value, len, Field::Hostname) }
}

/// Set `receiving-mx-helo` (the name in the MX host's greeting).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_failure_set_receiving_mx_helo(
    failure: *mut mtasts_failure,
    value: *const c_char,
    len: usize,
) -> mtasts_result {
    // SAFETY: the caller's promise, passed on.
    unsafe { set_text(failure, value, len, Field::Helo) }
}

/// Set `failure-reason-code` (free text, e.g. the TLS alert).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_failure_set_failure_reason_code(
    failure: *mut mtasts_failure,
    value: *const c_char,
    len: usize,
) -> mtasts_result {
    // SAFETY: the caller's promise, passed on.
    unsafe { set_text(failure, value, len, Field::Reason) }
}

/// Set `additional-information` (a URI with more about the failure).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_failure_set_additional_information(
    failure: *mut mtasts_failure,
    value: *const c_char,
    len: usize,
) -> mtasts_result {
    // SAFETY: the caller's promise, passed on.
    unsafe { set_text(failure, value, len, Field::Info) }
}

/// Set `receiving-ip` (IPv4 or IPv6 text; [`mtasts_result::IpInvalid`]
/// otherwise).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_failure_set_receiving_ip(
    failure: *mut mtasts_failure,
    ip: *const c_char,
    len: usize,
) -> mtasts_result {
    // SAFETY: the caller's promise, passed on.
    unsafe { set_ip(failure, ip, len, true) }
}

/// Set `sending-mta-ip` (IPv4 or IPv6 text; [`mtasts_result::IpInvalid`]
/// otherwise).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_failure_set_sending_mta_ip(
    failure: *mut mtasts_failure,
    ip: *const c_char,
    len: usize,
) -> mtasts_result {
    // SAFETY: the caller's promise, passed on.
    unsafe { set_ip(failure, ip, len, false) }
}

/// Free a failure (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_failure_free(failure: *mut mtasts_failure) {
    // SAFETY: the caller's promise: NULL or a failure not yet freed.
    unsafe { free_box(failure) }
}

// ---------------------------------------------------------------------------
// The day aggregate

/// What a record call counted.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mtasts_recorded {
    /// The session and its failure details are in the aggregate.
    Counted = 0,
    /// The session is counted, but a failure detail was folded into a
    /// count per result type (the policy already holds 1,000 distinct
    /// rows): it will not be a `failure-details` row.
    FoldedDetails = 1,
    /// The day already holds 100,000 other policies: the session is only
    /// counted as unreported ([`mtasts_finished_day_unreported`]).
    Unreported = 2,
}

impl From<Recorded> for mtasts_recorded {
    fn from(r: Recorded) -> Self {
        match r {
            Recorded::Counted => Self::Counted,
            Recorded::FoldedDetails => Self::FoldedDetails,
            Recorded::Unreported => Self::Unreported,
        }
    }
}

/// One UTC day of TLS sessions, per policy: successes, failures, and
/// identical failure details merged with a count (RFC 8460). Memory is
/// bounded (100,000 policies, 1,000 failure rows per policy); nothing
/// beyond is dropped silently ([`mtasts_recorded`]). Mutable: `Send`, not
/// `Sync` (one thread at a time, or lock it). Free with
/// [`mtasts_day_aggregate_free`].
#[derive(Debug)]
pub struct mtasts_day_aggregate {
    day: DayAggregate,
    day_text: String,
}

fn new_aggregate(day: Result<UtcDay, AggregateError>) -> Result<mtasts_day_aggregate> {
    let day = day.map_err(|e| aggregate_error(&e))?;
    Ok(mtasts_day_aggregate {
        day_text: day.to_string(),
        day: DayAggregate::new(day),
    })
}

/// An empty aggregate of the UTC day `day` (`"YYYY-MM-DD"`, 1970-01-01 to
/// 9999-12-31). Errors: [`mtasts_result::DayInvalid`],
/// [`mtasts_result::InvalidUtf8`], [`mtasts_result::NullParameter`]. Free
/// `*out_aggregate` with [`mtasts_day_aggregate_free`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_day_aggregate_new(
    day: *const c_char,
    day_len: usize,
    out_aggregate: *mut *mut mtasts_day_aggregate,
) -> mtasts_result {
    guard(|| {
        let o = out(out_aggregate, "out_aggregate")?;
        // SAFETY: the caller's promise for the string and its length.
        let d = unsafe { str_arg(day, day_len, "day") }?;
        let a = new_aggregate(UtcDay::parse(d))?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(a))) };
        Ok(())
    })
}

/// An empty aggregate of the UTC day containing `unix_secs` (for example
/// `time(NULL)`). Errors: [`mtasts_result::DayInvalid`] before 1970 or
/// after 9999, [`mtasts_result::NullParameter`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_day_aggregate_new_containing(
    unix_secs: i64,
    out_aggregate: *mut *mut mtasts_day_aggregate,
) -> mtasts_result {
    guard(|| {
        let o = out(out_aggregate, "out_aggregate")?;
        let a = new_aggregate(UtcDay::containing(Timestamp::from_unix(unix_secs)))?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(a))) };
        Ok(())
    })
}

/// The aggregate's day, `"YYYY-MM-DD"`, borrowed from the aggregate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_day_aggregate_day(
    aggregate: *const mtasts_day_aggregate,
    out_day: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_day, "out_day")?;
        // SAFETY: the caller's promise: NULL or a live aggregate.
        let a = unsafe { handle(aggregate, "aggregate") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(&a.day_text)) };
        Ok(())
    })
}

/// Record a session (with its failure details) and report what was
/// counted.
///
/// # Safety
/// `aggregate`, `key` and `recorded` as the public functions say.
unsafe fn record(
    aggregate: *mut mtasts_day_aggregate,
    key: *const mtasts_policy_key,
    out_recorded: *mut mtasts_recorded,
    session: impl FnOnce() -> Result<(SessionResult, Vec<Failure>)>,
) -> mtasts_result {
    guard(|| {
        let r = OptOut::new(out_recorded);
        // SAFETY: the caller's promise: NULL or a live aggregate used by
        // one thread.
        let a = unsafe { handle_mut(aggregate, "aggregate") }?;
        // SAFETY: the caller's promise: NULL or a live key.
        let k = unsafe { handle(key, "key") }?;
        let (result, failures) = session()?;
        let recorded = a
            .day
            .record_session(&k.key, result, &failures)
            .map_err(|e| aggregate_error(&e))?;
        // SAFETY: NULL or writable by the caller's promise.
        unsafe { r.put(recorded.into()) };
        Ok(())
    })
}

/// Record a successful (policy-compliant) TLS session under `key`.
/// `out_recorded` is optional (NULL: not wanted). Errors:
/// [`mtasts_result::AggregateInvalid`] (a count would pass 2^53 - 1),
/// [`mtasts_result::NullParameter`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_day_aggregate_record_success(
    aggregate: *mut mtasts_day_aggregate,
    key: *const mtasts_policy_key,
    out_recorded: *mut mtasts_recorded,
) -> mtasts_result {
    // SAFETY: the caller's promise, passed on.
    unsafe {
        record(aggregate, key, out_recorded, || {
            Ok((SessionResult::Successful, Vec::new()))
        })
    }
}

/// Record a failed session under `key` with one failure detail (copied:
/// the failure handle stays the caller's). Errors:
/// [`mtasts_result::AggregateInvalid`] (a field over 2048 bytes, a count
/// over 2^53 - 1), [`mtasts_result::NullParameter`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_day_aggregate_record_failure(
    aggregate: *mut mtasts_day_aggregate,
    key: *const mtasts_policy_key,
    failure: *const mtasts_failure,
    out_recorded: *mut mtasts_recorded,
) -> mtasts_result {
    let session = || {
        // SAFETY: the caller's promise: NULL or a live failure.
        let f = unsafe { handle(failure, "failure") }?;
        Ok((SessionResult::Failed, vec![f.failure.clone()]))
    };
    // SAFETY: the caller's promise, passed on.
    unsafe { record(aggregate, key, out_recorded, session) }
}

/// Record the session a decision ([`mtasts_decide`](crate::mtasts_decide),
/// made with a known TLS outcome) describes, under `key`: a success when
/// [`mtasts_decision_success`](crate::mtasts_decision_success), otherwise
/// a failure with the decision's failures (or, when it has none because
/// no policy applied, the failed TLS outcome itself), each with
/// `receiving-mx-hostname` = the decision's MX host and the optional IP
/// addresses (NULL: absent). Errors: [`mtasts_result::InvalidArgument`]
/// for a decision made before connecting ([`mtasts_tls_outcome::NotAttempted`](crate::mtasts_tls_outcome::NotAttempted)),
/// [`mtasts_result::IpInvalid`], [`mtasts_result::AggregateInvalid`],
/// [`mtasts_result::NullParameter`].
#[unsafe(no_mangle)]
#[allow(
    clippy::too_many_arguments,
    reason = "a C function: each string is a pointer and a length"
)]
pub unsafe extern "C" fn mtasts_day_aggregate_record_decision(
    aggregate: *mut mtasts_day_aggregate,
    key: *const mtasts_policy_key,
    decision: *const mtasts_decision,
    sending_mta_ip: *const c_char,
    sending_mta_ip_len: usize,
    receiving_ip: *const c_char,
    receiving_ip_len: usize,
    out_recorded: *mut mtasts_recorded,
) -> mtasts_result {
    let session = || -> Result<(SessionResult, Vec<Failure>)> {
        // SAFETY: the caller's promise: NULL or a live decision.
        let d = unsafe { handle(decision, "decision") }?;
        // SAFETY: the caller's promise for the optional strings.
        let sending = unsafe { opt_str_arg(sending_mta_ip, sending_mta_ip_len, "sending_mta_ip") }?
            .map(parse_ip)
            .transpose()?;
        // SAFETY: as above.
        let receiving = unsafe { opt_str_arg(receiving_ip, receiving_ip_len, "receiving_ip") }?
            .map(parse_ip)
            .transpose()?;
        if d.tls == mta_sts_core::enforce::TlsStatus::NotAttempted {
            return Err(Error::new(
                mtasts_result::InvalidArgument,
                "the decision was made before connecting (NOT_ATTEMPTED): decide again with the TLS outcome, then record",
            ));
        }
        if d.decision.success {
            return Ok((SessionResult::Successful, Vec::new()));
        }
        let mut details: Vec<(ResultType, Option<String>)> = d
            .decision
            .failures
            .iter()
            .map(|f| (f.result_type.clone(), f.reason.clone()))
            .collect();
        if details.is_empty() {
            details.extend(status_failure(&d.tls));
        }
        let failures = details
            .into_iter()
            .map(|(rt, reason)| {
                let mut f = Failure::new(rt).receiving_mx_hostname(d.host.clone());
                f.failure_reason_code = reason;
                f.sending_mta_ip = sending;
                f.receiving_ip = receiving;
                f
            })
            .collect();
        Ok((SessionResult::Failed, failures))
    };
    // SAFETY: the caller's promise, passed on.
    unsafe { record(aggregate, key, out_recorded, session) }
}

/// The successful and failed sessions in the aggregate's kept policies.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_day_aggregate_totals(
    aggregate: *const mtasts_day_aggregate,
    out_successful: *mut u64,
    out_failed: *mut u64,
) -> mtasts_result {
    guard(|| {
        let s = out(out_successful, "out_successful")?;
        let f = out(out_failed, "out_failed")?;
        // SAFETY: the caller's promise: NULL or a live aggregate.
        let a = unsafe { handle(aggregate, "aggregate") }?;
        let t = a.day.totals();
        // SAFETY: both checked and writable by the caller's promise.
        unsafe { s.put(t.successful_sessions) };
        // SAFETY: as above.
        unsafe { f.put(t.failed_sessions) };
        Ok(())
    })
}

/// The number of distinct policies recorded (0 for a NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_day_aggregate_policy_count(
    aggregate: *const mtasts_day_aggregate,
) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live aggregate.
        unsafe { aggregate.as_ref() }.map_or(0, |a| a.day.policies())
    })
}

/// Free an aggregate (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_day_aggregate_free(aggregate: *mut mtasts_day_aggregate) {
    // SAFETY: the caller's promise: NULL or an aggregate not yet freed.
    unsafe { free_box(aggregate) }
}

// ---------------------------------------------------------------------------
// The finished day

/// One report of a finished day, rendered.
#[derive(Debug)]
struct Finished {
    report: Report<'static>,
    rendered: RenderedReport,
    filename: String,
}

/// The reports of a finished day ([`mtasts_day_aggregate_finish`]): one per
/// policy domain, each as strict JSON, gzip and file name, and as an
/// e-mail on request. Immutable: `Send` and `Sync`. Free with
/// [`mtasts_finished_day_free`].
#[derive(Debug)]
pub struct mtasts_finished_day {
    reports: Vec<Finished>,
    unreported: Unreported,
    folded: u64,
}

/// Finish the day into RFC 8460 reports, one per policy domain (ordered by
/// domain): `organization-name` `org`, `contact-info` `contact` (an e-mail
/// address whose domain is `submitter`), `report-id`
/// `<day>.<policy domain>.<unique_id>@<submitter>`, `date-range` the whole
/// UTC day. `unique_id` is 1 to 64 ASCII letters and digits, different
/// for every day and node (a sequence number kept across restarts). The
/// aggregate is not changed (finish it again with the same meta data for
/// the same reports).
///
/// On success `*out_finished` is new; free it with
/// [`mtasts_finished_day_free`]. Errors: [`mtasts_result::AggregateInvalid`]
/// (invalid meta data), [`mtasts_result::RenderFailed`],
/// [`mtasts_result::InvalidUtf8`], [`mtasts_result::NullParameter`].
#[unsafe(no_mangle)]
#[allow(
    clippy::too_many_arguments,
    reason = "a C function: each string is a pointer and a length"
)]
pub unsafe extern "C" fn mtasts_day_aggregate_finish(
    aggregate: *const mtasts_day_aggregate,
    org: *const c_char,
    org_len: usize,
    contact: *const c_char,
    contact_len: usize,
    submitter: *const c_char,
    submitter_len: usize,
    unique_id: *const c_char,
    unique_id_len: usize,
    out_finished: *mut *mut mtasts_finished_day,
) -> mtasts_result {
    guard(|| {
        let o = out(out_finished, "out_finished")?;
        // SAFETY: the caller's promise: NULL or a live aggregate.
        let a = unsafe { handle(aggregate, "aggregate") }?;
        // SAFETY: the caller's promise for the strings and their lengths.
        let org = unsafe { str_arg(org, org_len, "org") }?;
        // SAFETY: as above.
        let contact = unsafe { str_arg(contact, contact_len, "contact") }?;
        // SAFETY: as above.
        let submitter = unsafe { str_arg(submitter, submitter_len, "submitter") }?;
        // SAFETY: as above.
        let unique = unsafe { str_arg(unique_id, unique_id_len, "unique_id") }?;
        let meta = ReportMeta::new(org, contact, submitter, unique);
        let day = a.day.finish(&meta).map_err(|e| aggregate_error(&e))?;
        let reports = day
            .reports
            .into_iter()
            .map(|report| {
                let rendered = render(&report, &meta.submitter, &meta.unique_id)
                    .map_err(|e| Error::chain(mtasts_result::RenderFailed, &e))?;
                let filename = rendered.filename.to_string();
                Ok(Finished {
                    report,
                    rendered,
                    filename,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let f = mtasts_finished_day {
            reports,
            unreported: day.unreported,
            folded: day.folded_failure_details,
        };
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(f))) };
        Ok(())
    })
}

/// The number of reports (0 for a NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_finished_day_report_count(
    finished: *const mtasts_finished_day,
) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live finished day.
        unsafe { finished.as_ref() }.map_or(0, |f| f.reports.len())
    })
}

/// The report at `index`.
///
/// # Safety
/// `finished` is NULL or a live finished day.
unsafe fn report_at<'a>(
    finished: *const mtasts_finished_day,
    index: usize,
) -> Result<&'a Finished> {
    // SAFETY: the caller's promise: NULL or a live finished day.
    let f = unsafe { handle(finished, "finished") }?;
    at(&f.reports, index, "report")
}

/// The report at `index` as strict RFC 8460 JSON, borrowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_finished_day_report_json(
    finished: *const mtasts_finished_day,
    index: usize,
    out_json: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_json, "out_json")?;
        // SAFETY: the caller's promise, passed on.
        let r = unsafe { report_at(finished, index) }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(&r.rendered.json)) };
        Ok(())
    })
}

/// The report at `index` gzip-compressed (what an `https:` rua receives as
/// `application/tlsrpt+gzip`), borrowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_finished_day_report_gzip(
    finished: *const mtasts_finished_day,
    index: usize,
    out_gzip: *mut mtasts_bytes,
) -> mtasts_result {
    guard(|| {
        let o = out(out_gzip, "out_gzip")?;
        // SAFETY: the caller's promise, passed on.
        let r = unsafe { report_at(finished, index) }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_bytes::from_slice(&r.rendered.gzip)) };
        Ok(())
    })
}

/// The file name of the report at `index`
/// (`submitter!policy-domain!begin!end!unique-id.json.gz`), borrowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_finished_day_report_filename(
    finished: *const mtasts_finished_day,
    index: usize,
    out_filename: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_filename, "out_filename")?;
        // SAFETY: the caller's promise, passed on.
        let r = unsafe { report_at(finished, index) }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(&r.filename)) };
        Ok(())
    })
}

/// The policy domain of the report at `index` (where to look up the
/// `_smtp._tls` record), borrowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_finished_day_report_policy_domain(
    finished: *const mtasts_finished_day,
    index: usize,
    out_domain: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_domain, "out_domain")?;
        // SAFETY: the caller's promise, passed on.
        let r = unsafe { report_at(finished, index) }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(&r.rendered.filename.policy_domain)) };
        Ok(())
    })
}

/// The successful and failed sessions of the report at `index`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_finished_day_report_sessions(
    finished: *const mtasts_finished_day,
    index: usize,
    out_successful: *mut u64,
    out_failed: *mut u64,
) -> mtasts_result {
    guard(|| {
        let s = out(out_successful, "out_successful")?;
        let f = out(out_failed, "out_failed")?;
        // SAFETY: the caller's promise, passed on.
        let r = unsafe { report_at(finished, index) }?;
        // SAFETY: both checked and writable by the caller's promise.
        unsafe { s.put(r.report.successful_sessions()) };
        // SAFETY: as above.
        unsafe { f.put(r.report.failed_sessions()) };
        Ok(())
    })
}

/// The e-mail (RFC 5322, CRLF) that delivers the report at `index` to the
/// `mailto:` addresses `to` (`to_count` of them): `From` `from`, `Date`
/// `date_unix`, a Message-ID made unique by `message_id_unique` (1 to 64
/// ASCII letters and digits, different for every message), the gzip
/// attached as RFC 8460 5.3 says. Sign it ([`mtasts_dkim_sign`]) before
/// sending. On success `*out_message` is a new buffer; free it with
/// [`mtasts_buffer_free`](crate::mtasts_buffer_free). Errors:
/// [`mtasts_result::RenderFailed`] (the detail names the header field),
/// [`mtasts_result::IndexOutOfRange`], [`mtasts_result::InvalidUtf8`],
/// [`mtasts_result::NullParameter`].
#[unsafe(no_mangle)]
#[allow(
    clippy::too_many_arguments,
    reason = "a C function: each string is a pointer and a length"
)]
pub unsafe extern "C" fn mtasts_finished_day_report_email(
    finished: *const mtasts_finished_day,
    index: usize,
    from: *const c_char,
    from_len: usize,
    to: *const mtasts_str,
    to_count: usize,
    date_unix: i64,
    message_id_unique: *const c_char,
    message_id_unique_len: usize,
    out_message: *mut *mut mtasts_buffer,
) -> mtasts_result {
    guard(|| {
        let o = out(out_message, "out_message")?;
        // SAFETY: the caller's promise, passed on.
        let r = unsafe { report_at(finished, index) }?;
        // SAFETY: the caller's promise for the strings and the array.
        let from = unsafe { str_arg(from, from_len, "from") }?;
        // SAFETY: as above.
        let to = unsafe { str_array_arg(to, to_count, "to") }?;
        // SAFETY: as above.
        let unique = unsafe {
            str_arg(
                message_id_unique,
                message_id_unique_len,
                "message_id_unique",
            )
        }?;
        let meta = MailMeta::new(from, to, Timestamp::from_unix(date_unix), unique);
        let mail = render_email(&r.report, &r.rendered, &meta)
            .map_err(|e| Error::chain(mtasts_result::RenderFailed, &e))?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_buffer::into_raw(mail)) };
        Ok(())
    })
}

/// Sessions that are in no report because their policy was over the
/// aggregate's limit (log them).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_finished_day_unreported(
    finished: *const mtasts_finished_day,
    out_successful: *mut u64,
    out_failed: *mut u64,
) -> mtasts_result {
    guard(|| {
        let s = out(out_successful, "out_successful")?;
        let f = out(out_failed, "out_failed")?;
        // SAFETY: the caller's promise: NULL or a live finished day.
        let d = unsafe { handle(finished, "finished") }?;
        // SAFETY: both checked and writable by the caller's promise.
        unsafe { s.put(d.unreported.successful_sessions) };
        // SAFETY: as above.
        unsafe { f.put(d.unreported.failed_sessions) };
        Ok(())
    })
}

/// Failure details that were folded (counted in the summaries, not
/// written as rows; log them). 0 for a NULL handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_finished_day_folded_failure_details(
    finished: *const mtasts_finished_day,
) -> u64 {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live finished day.
        unsafe { finished.as_ref() }.map_or(0, |f| f.folded)
    })
}

/// Free a finished day (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_finished_day_free(finished: *mut mtasts_finished_day) {
    // SAFETY: the caller's promise: NULL or a finished day not yet freed.
    unsafe { free_box(finished) }
}

/// DKIM-sign a message (RFC 6376; `rsa-sha256` or `ed25519-sha256` by the
/// key; `relaxed/relaxed`, no `l=`, covering `TLS-Report-Domain` and
/// `TLS-Report-Submitter` as RFC 8460 3 asks) for `domain` with
/// `selector`, at `now_unix`. `key_pem` is the private key in PEM (PKCS#1
/// RSA, or PKCS#8 RSA or Ed25519). On success `*out_signed` is a new
/// buffer: the message with the `DKIM-Signature` field prepended; free it
/// with [`mtasts_buffer_free`](crate::mtasts_buffer_free). Errors:
/// [`mtasts_result::DkimFailed`] (the detail says why),
/// [`mtasts_result::InvalidUtf8`], [`mtasts_result::NullParameter`].
#[unsafe(no_mangle)]
#[allow(
    clippy::too_many_arguments,
    reason = "a C function: each string is a pointer and a length"
)]
pub unsafe extern "C" fn mtasts_dkim_sign(
    key_pem: *const c_char,
    key_pem_len: usize,
    domain: *const c_char,
    domain_len: usize,
    selector: *const c_char,
    selector_len: usize,
    message: *const u8,
    message_len: usize,
    now_unix: i64,
    out_signed: *mut *mut mtasts_buffer,
) -> mtasts_result {
    guard(|| {
        let o = out(out_signed, "out_signed")?;
        // SAFETY: the caller's promise for the strings and their lengths.
        let pem = unsafe { str_arg(key_pem, key_pem_len, "key_pem") }?;
        // SAFETY: as above.
        let domain = unsafe { str_arg(domain, domain_len, "domain") }?;
        // SAFETY: as above.
        let selector = unsafe { str_arg(selector, selector_len, "selector") }?;
        // SAFETY: as above.
        let message = unsafe { bytes_arg(message, message_len, "message") }?;
        let dkim = |e: tlsrpt_core::dkim::DkimError| Error::chain(mtasts_result::DkimFailed, &e);
        let key = SigningKey::from_pem(pem).map_err(dkim)?;
        let signer = Signer::new(key, domain, selector).map_err(dkim)?;
        let signed = signer
            .sign(message, Timestamp::from_unix(now_unix))
            .map_err(dkim)?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_buffer::into_raw(signed)) };
        Ok(())
    })
}
