//! Policies, `_mta-sts` and `_smtp._tls` records, MX matching.

use std::ffi::c_char;
use std::sync::Arc;

use mta_sts_core::discovery::CachedPolicy;
use mta_sts_core::{Mode, Policy, StsRecord};
use tlsrpt_core::TlsRptRecord;
use tlsrpt_core::record::RuaKind;

use crate::{
    Error, Result, at, bytes_arg, free_box, guard, guard_value, handle, mtasts_result, mtasts_str,
    out, str_arg,
};

/// A policy mode (RFC 8461 3.2).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mtasts_mode {
    /// `enforce`: refuse MX hosts that fail validation.
    Enforce = 1,
    /// `testing`: deliver anyway, report failures.
    Testing = 2,
    /// `none`: behave as without a policy.
    None = 3,
}

impl From<Mode> for mtasts_mode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Enforce => Self::Enforce,
            Mode::Testing => Self::Testing,
            Mode::None => Self::None,
        }
    }
}

/// Where a policy handle's policy lives.
#[derive(Debug, Clone)]
enum Source {
    /// Parsed from a body given by the caller.
    Parsed(Box<Policy<'static>>),
    /// From the policy service's cache, with its TXT id.
    Cached(Arc<CachedPolicy>),
}

/// A warning of the lenient reader: its stable code and its message.
#[derive(Debug, Clone)]
pub(crate) struct Warning {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// An MTA-STS policy: parsed ([`mtasts_policy_parse`]) or looked up
/// ([`mtasts_lookup_policy`](crate::mtasts_lookup_policy)). Immutable:
/// `Send` and `Sync`. Free with [`mtasts_policy_free`].
#[derive(Debug, Clone)]
pub struct mtasts_policy {
    source: Source,
    warnings: Vec<Warning>,
}

impl mtasts_policy {
    /// The policy.
    pub fn policy(&self) -> &Policy<'static> {
        match &self.source {
            Source::Parsed(p) => p,
            Source::Cached(c) => &c.policy,
        }
    }

    /// The handle of a cached policy.
    pub(crate) fn cached(policy: Arc<CachedPolicy>) -> Self {
        Self {
            source: Source::Cached(policy),
            warnings: Vec::new(),
        }
    }

    fn id(&self) -> Option<&str> {
        match &self.source {
            Source::Parsed(_) => None,
            Source::Cached(c) => Some(&c.id),
        }
    }
}

fn parse_policy(body: &[u8], strict: bool) -> Result<mtasts_policy> {
    let invalid = |e: &mta_sts_core::PolicyError| Error::chain(mtasts_result::PolicyInvalid, e);
    let text = Policy::body_text(body).map_err(|e| invalid(&e))?;
    let (policy, warnings) = if strict {
        (Policy::parse(text).map_err(|e| invalid(&e))?, Vec::new())
    } else {
        let read = Policy::parse_lenient(text).map_err(|e| invalid(&e))?;
        let warnings = read
            .warnings
            .iter()
            .map(|w| Warning {
                code: w.code().as_str().to_owned(),
                message: w.to_string(),
            })
            .collect();
        (read.value, warnings)
    };
    Ok(mtasts_policy {
        source: Source::Parsed(Box::new(policy.into_owned())),
        warnings,
    })
}

/// Parse a policy body (the bytes served at
/// `https://mta-sts.<domain>/.well-known/mta-sts.txt`) with the lenient
/// reader a sending MTA should use: it accepts what real servers send
/// where it can be read without guessing (a byte order mark, blank lines,
/// `max_age` above one year, capped) and lists every such acceptance as a
/// warning ([`mtasts_policy_warning_count`]).
///
/// On success `*out` is a new policy; free it with [`mtasts_policy_free`].
/// Errors: [`mtasts_result::PolicyInvalid`] (the detail names the line),
/// [`mtasts_result::NullParameter`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_parse(
    body: *const u8,
    body_len: usize,
    out_policy: *mut *mut mtasts_policy,
) -> mtasts_result {
    guard(|| {
        let o = out(out_policy, "out_policy")?;
        // SAFETY: the caller's promise for `body` and `body_len`.
        let body = unsafe { bytes_arg(body, body_len, "body") }?;
        let p = parse_policy(body, false)?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(p))) };
        Ok(())
    })
}

/// Parse a policy body with the strict reader (the RFC 8461 grammar, for
/// validators and publishers): any deviation is
/// [`mtasts_result::PolicyInvalid`]; the policy has no warnings. Otherwise
/// as [`mtasts_policy_parse`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_parse_strict(
    body: *const u8,
    body_len: usize,
    out_policy: *mut *mut mtasts_policy,
) -> mtasts_result {
    guard(|| {
        let o = out(out_policy, "out_policy")?;
        // SAFETY: the caller's promise for `body` and `body_len`.
        let body = unsafe { bytes_arg(body, body_len, "body") }?;
        let p = parse_policy(body, true)?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(p))) };
        Ok(())
    })
}

/// A new handle for the same policy (free both). Cheap for looked-up
/// policies (shared), a copy for parsed ones.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_clone(
    policy: *const mtasts_policy,
    out_policy: *mut *mut mtasts_policy,
) -> mtasts_result {
    guard(|| {
        let o = out(out_policy, "out_policy")?;
        // SAFETY: the caller's promise: NULL or a live policy.
        let p = unsafe { handle(policy, "policy") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(p.clone()))) };
        Ok(())
    })
}

/// The policy's mode.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_mode(
    policy: *const mtasts_policy,
    out_mode: *mut mtasts_mode,
) -> mtasts_result {
    guard(|| {
        let o = out(out_mode, "out_mode")?;
        // SAFETY: the caller's promise: NULL or a live policy.
        let p = unsafe { handle(policy, "policy") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(p.policy().mode().into()) };
        Ok(())
    })
}

/// The policy's `max_age` in seconds (as in force: capped at 31557600 by
/// the lenient reader).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_max_age(
    policy: *const mtasts_policy,
    out_max_age: *mut u32,
) -> mtasts_result {
    guard(|| {
        let o = out(out_max_age, "out_max_age")?;
        // SAFETY: the caller's promise: NULL or a live policy.
        let p = unsafe { handle(policy, "policy") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(p.policy().max_age()) };
        Ok(())
    })
}

/// The number of `mx` patterns (0 for a NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_mx_count(policy: *const mtasts_policy) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live policy.
        unsafe { policy.as_ref() }.map_or(0, |p| p.policy().mx().len())
    })
}

/// The `mx` pattern at `index` (file order), borrowed from the policy.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_mx_at(
    policy: *const mtasts_policy,
    index: usize,
    out_pattern: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_pattern, "out_pattern")?;
        // SAFETY: the caller's promise: NULL or a live policy.
        let p = unsafe { handle(policy, "policy") }?;
        let m = at(p.policy().mx(), index, "mx pattern")?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(m.as_str())) };
        Ok(())
    })
}

/// The `_mta-sts` TXT id the policy was fetched for, borrowed from the
/// policy. [`mtasts_result::NotFound`] for a policy that was parsed rather
/// than looked up.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_id(
    policy: *const mtasts_policy,
    out_id: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_id, "out_id")?;
        // SAFETY: the caller's promise: NULL or a live policy.
        let p = unsafe { handle(policy, "policy") }?;
        let id = p.id().ok_or_else(|| {
            Error::new(
                mtasts_result::NotFound,
                "the policy was parsed, not looked up: it has no TXT id",
            )
        })?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(id)) };
        Ok(())
    })
}

/// The number of lenient-reader warnings (0 for a NULL handle, a strict
/// parse or a looked-up policy, whose warnings are the lookup's).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_warning_count(policy: *const mtasts_policy) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live policy.
        unsafe { policy.as_ref() }.map_or(0, |p| p.warnings.len())
    })
}

/// The warning at `index`: its stable code (`blank-line`,
/// `max-age-capped`, ...) and its message naming the line, both borrowed
/// from the policy. `out_code` is optional (NULL: not wanted).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_warning_at(
    policy: *const mtasts_policy,
    index: usize,
    out_code: *mut mtasts_str,
    out_message: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_message, "out_message")?;
        let code = crate::OptOut::new(out_code);
        // SAFETY: the caller's promise: NULL or a live policy.
        let p = unsafe { handle(policy, "policy") }?;
        let w = at(&p.warnings, index, "warning")?;
        // SAFETY: `code` is NULL or writable, `o` checked and writable, by
        // the caller's promise.
        unsafe {
            code.put(mtasts_str::borrowed(&w.code));
        }
        // SAFETY: as above.
        unsafe { o.put(mtasts_str::borrowed(&w.message)) };
        Ok(())
    })
}

/// Whether the MX host `host` (as found in DNS; case and one trailing dot
/// do not matter, U-labels are converted) matches one of the policy's `mx`
/// patterns (RFC 8461 4.1). `false` for a NULL policy or host, or a host
/// that is not UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_matches_mx(
    policy: *const mtasts_policy,
    host: *const c_char,
    host_len: usize,
) -> bool {
    guard_value(false, || {
        // SAFETY: the caller's promise: NULL or a live policy.
        let Some(p) = (unsafe { policy.as_ref() }) else {
            return false;
        };
        // SAFETY: the caller's promise for `host` and `host_len`.
        match unsafe { str_arg(host, host_len, "host") } {
            Ok(h) => p.policy().matches_mx(h),
            Err(_) => false,
        }
    })
}

/// Free a policy (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_policy_free(policy: *mut mtasts_policy) {
    // SAFETY: the caller's promise: NULL or a policy not yet freed.
    unsafe { free_box(policy) }
}

// ---------------------------------------------------------------------------
// `_mta-sts` records

/// A parsed `_mta-sts` TXT record (`v=STSv1; id=...;`). Immutable: `Send`
/// and `Sync`. Free with [`mtasts_sts_record_free`].
#[derive(Debug)]
pub struct mtasts_sts_record {
    record: StsRecord<'static>,
}

/// Parse one `_mta-sts` TXT record (its character-strings joined) per RFC
/// 8461 3.1. Errors: [`mtasts_result::StsRecordInvalid`] (the detail names
/// the offset), [`mtasts_result::InvalidUtf8`],
/// [`mtasts_result::NullParameter`]. Free `*out_record` with
/// [`mtasts_sts_record_free`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_sts_record_parse(
    txt: *const c_char,
    txt_len: usize,
    out_record: *mut *mut mtasts_sts_record,
) -> mtasts_result {
    guard(|| {
        let o = out(out_record, "out_record")?;
        // SAFETY: the caller's promise for `txt` and `txt_len`.
        let text = unsafe { str_arg(txt, txt_len, "txt") }?;
        let record = StsRecord::parse(text)
            .map_err(|e| Error::chain(mtasts_result::StsRecordInvalid, &e))?
            .into_owned();
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(mtasts_sts_record { record }))) };
        Ok(())
    })
}

/// The record's `id`, borrowed from the record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_sts_record_id(
    record: *const mtasts_sts_record,
    out_id: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_id, "out_id")?;
        // SAFETY: the caller's promise: NULL or a live record.
        let r = unsafe { handle(record, "record") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(r.record.id())) };
        Ok(())
    })
}

/// The number of extension fields (0 for a NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_sts_record_extension_count(
    record: *const mtasts_sts_record,
) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live record.
        unsafe { record.as_ref() }.map_or(0, |r| r.record.extensions().len())
    })
}

/// The extension field at `index` (record order): name and value,
/// borrowed from the record.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_sts_record_extension_at(
    record: *const mtasts_sts_record,
    index: usize,
    out_name: *mut mtasts_str,
    out_value: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let n = out(out_name, "out_name")?;
        let v = out(out_value, "out_value")?;
        // SAFETY: the caller's promise: NULL or a live record.
        let r = unsafe { handle(record, "record") }?;
        let e = at(r.record.extensions(), index, "extension")?;
        // SAFETY: both were checked and are writable by the caller's promise.
        unsafe { n.put(mtasts_str::borrowed(&e.name)) };
        // SAFETY: as above.
        unsafe { v.put(mtasts_str::borrowed(&e.value)) };
        Ok(())
    })
}

/// Free a record (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_sts_record_free(record: *mut mtasts_sts_record) {
    // SAFETY: the caller's promise: NULL or a record not yet freed.
    unsafe { free_box(record) }
}

// ---------------------------------------------------------------------------
// `_smtp._tls` records

/// What kind of destination a `rua` URI is.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mtasts_rua_kind {
    /// `mailto:`: reports go by e-mail.
    Mailto = 1,
    /// `https:`: reports are POSTed.
    Https = 2,
    /// Another scheme or a malformed URI: kept, not usable.
    Unsupported = 3,
}

/// A parsed `_smtp._tls` TXT record (`v=TLSRPTv1; rua=...`). Immutable:
/// `Send` and `Sync`. Free with [`mtasts_tlsrpt_record_free`].
#[derive(Debug)]
pub struct mtasts_tlsrpt_record {
    record: TlsRptRecord<'static>,
}

/// Parse one `_smtp._tls` TXT record (RFC 8460 3). Several `rua=` fields
/// are merged; unusable URIs are kept and flagged
/// ([`mtasts_tlsrpt_record_rua_at`]). Errors:
/// [`mtasts_result::TlsrptRecordInvalid`], [`mtasts_result::InvalidUtf8`],
/// [`mtasts_result::NullParameter`]. Free `*out_record` with
/// [`mtasts_tlsrpt_record_free`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_tlsrpt_record_parse(
    txt: *const c_char,
    txt_len: usize,
    out_record: *mut *mut mtasts_tlsrpt_record,
) -> mtasts_result {
    guard(|| {
        let o = out(out_record, "out_record")?;
        // SAFETY: the caller's promise for `txt` and `txt_len`.
        let text = unsafe { str_arg(txt, txt_len, "txt") }?;
        let record = TlsRptRecord::parse(text)
            .map_err(|e| Error::chain(mtasts_result::TlsrptRecordInvalid, &e))?
            .into_owned();
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(mtasts_tlsrpt_record { record }))) };
        Ok(())
    })
}

/// Whether at least one `rua` URI is usable (`mailto:` or `https:`);
/// `false` for a NULL handle. A record without one means the domain does
/// not take TLS reports.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_tlsrpt_record_is_usable(
    record: *const mtasts_tlsrpt_record,
) -> bool {
    guard_value(false, || {
        // SAFETY: the caller's promise: NULL or a live record.
        unsafe { record.as_ref() }.is_some_and(|r| r.record.is_usable())
    })
}

/// The number of `rua` URIs, usable or not (0 for a NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_tlsrpt_record_rua_count(
    record: *const mtasts_tlsrpt_record,
) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live record.
        unsafe { record.as_ref() }.map_or(0, |r| r.record.rua().len())
    })
}

/// The `rua` URI at `index` as written, borrowed from the record, and its
/// kind. For `mailto:` URIs `out_address` (optional, NULL: not wanted) is
/// the decoded address; for the others it is `{NULL, 0}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_tlsrpt_record_rua_at(
    record: *const mtasts_tlsrpt_record,
    index: usize,
    out_uri: *mut mtasts_str,
    out_kind: *mut mtasts_rua_kind,
    out_address: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let u = out(out_uri, "out_uri")?;
        let k = out(out_kind, "out_kind")?;
        let a = crate::OptOut::new(out_address);
        // SAFETY: the caller's promise: NULL or a live record.
        let r = unsafe { handle(record, "record") }?;
        let rua = at(r.record.rua(), index, "rua")?;
        let (kind, address) = match &rua.kind {
            RuaKind::Mailto { address } => (mtasts_rua_kind::Mailto, Some(&**address)),
            RuaKind::Https => (mtasts_rua_kind::Https, None),
            RuaKind::Unsupported { .. } => (mtasts_rua_kind::Unsupported, None),
        };
        // SAFETY: `u`, `k` checked, `a` NULL or writable, by the caller's
        // promise.
        unsafe { u.put(mtasts_str::borrowed(&rua.uri)) };
        // SAFETY: as above.
        unsafe { k.put(kind) };
        // SAFETY: as above.
        unsafe { a.put(mtasts_str::from_opt(address)) };
        Ok(())
    })
}

/// Free a record (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_tlsrpt_record_free(record: *mut mtasts_tlsrpt_record) {
    // SAFETY: the caller's promise: NULL or a record not yet freed.
    unsafe { free_box(record) }
}
