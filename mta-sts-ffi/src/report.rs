//! Reading a TLS-RPT report (JSON, gzip or e-mail) into a summary.

use tlsrpt_core::input::{InputKind, ReadOptions, read_report};
use tlsrpt_core::summary::Aggregator;
use tlsrpt_core::{Report, Strictness};

use crate::{
    Error, Result, at, bytes_arg, free_box, guard, guard_value, handle, mtasts_result, mtasts_str,
    out,
};

/// The shape a report arrived in (detected from its content).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum mtasts_input_kind {
    /// Plain JSON.
    Json = 1,
    /// gzip-compressed JSON.
    Gzip = 2,
    /// An e-mail message carrying the report.
    Email = 3,
}

/// One report read and summarised ([`mtasts_report_read`]): its fields,
/// totals, sessions per policy domain, failed sessions per result type,
/// the reader's warnings and the report in the strict RFC 8460 JSON form.
/// Immutable: `Send` and `Sync`. Free with [`mtasts_report_summary_free`].
#[derive(Debug)]
pub struct mtasts_report_summary {
    kind: mtasts_input_kind,
    report: Report<'static>,
    json: String,
    successful: u64,
    failed: u64,
    /// Policy domain (lower case, or `(unknown)`) → successful, failed.
    domains: Vec<(String, u64, u64)>,
    /// Result type → failed sessions (from the failure details).
    result_types: Vec<(String, u64)>,
    /// Input warnings, then the report reader's.
    warnings: Vec<String>,
}

fn read(bytes: &[u8], strictness: Strictness) -> Result<mtasts_report_summary> {
    let read = read_report(bytes, &ReadOptions::new(strictness))
        .map_err(|e| Error::chain(mtasts_result::ReportInvalid, &e))?;
    let input = read.value;
    let kind = match input.extracted.kind {
        InputKind::Json => mtasts_input_kind::Json,
        InputKind::Gzip => mtasts_input_kind::Gzip,
        InputKind::Email => mtasts_input_kind::Email,
    };
    let mut warnings: Vec<String> = input
        .extracted
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    warnings.extend(read.warnings.iter().map(ToString::to_string));
    let report = input.report;
    let mut agg = Aggregator::new();
    agg.add(&report, "input");
    let s = agg.into_summary();
    Ok(mtasts_report_summary {
        kind,
        json: report.to_json(false),
        successful: s.successful_sessions,
        failed: s.failed_sessions,
        domains: s
            .by_policy_domain
            .into_iter()
            .map(|(d, c)| (d, c.successful_sessions, c.failed_sessions))
            .collect(),
        result_types: s.by_result_type.into_iter().collect(),
        warnings,
        report,
    })
}

/// Read a TLS-RPT report given as plain JSON, gzip, or a whole e-mail
/// message (the shape is detected from the content), with the lenient
/// reader a report receiver should use (deviations real senders make are
/// accepted and listed as warnings). Sizes are bounded (32 MiB of JSON
/// after decompression, 64 MiB of e-mail).
///
/// On success `*out_summary` is a new summary; free it with
/// [`mtasts_report_summary_free`]. Errors: [`mtasts_result::ReportInvalid`]
/// (the detail names the byte offset and JSON path, or the e-mail part),
/// [`mtasts_result::NullParameter`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_read(
    bytes: *const u8,
    len: usize,
    out_summary: *mut *mut mtasts_report_summary,
) -> mtasts_result {
    guard(|| {
        let o = out(out_summary, "out_summary")?;
        // SAFETY: the caller's promise for `bytes` and `len`.
        let b = unsafe { bytes_arg(bytes, len, "bytes") }?;
        let s = read(b, Strictness::Lenient)?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(s))) };
        Ok(())
    })
}

/// As [`mtasts_report_read`] with the strict reader (the RFC 8460 schema:
/// any deviation is [`mtasts_result::ReportInvalid`]).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_read_strict(
    bytes: *const u8,
    len: usize,
    out_summary: *mut *mut mtasts_report_summary,
) -> mtasts_result {
    guard(|| {
        let o = out(out_summary, "out_summary")?;
        // SAFETY: the caller's promise for `bytes` and `len`.
        let b = unsafe { bytes_arg(bytes, len, "bytes") }?;
        let s = read(b, Strictness::Strict)?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(Box::into_raw(Box::new(s))) };
        Ok(())
    })
}

/// The shape the report arrived in.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_input_kind(
    summary: *const mtasts_report_summary,
    out_kind: *mut mtasts_input_kind,
) -> mtasts_result {
    guard(|| {
        let o = out(out_kind, "out_kind")?;
        // SAFETY: the caller's promise: NULL or a live summary.
        let s = unsafe { handle(summary, "summary") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(s.kind) };
        Ok(())
    })
}

/// `organization-name`, borrowed from the summary.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_organization_name(
    summary: *const mtasts_report_summary,
    out_name: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_name, "out_name")?;
        // SAFETY: the caller's promise: NULL or a live summary.
        let s = unsafe { handle(summary, "summary") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(&s.report.organization_name)) };
        Ok(())
    })
}

/// `report-id`, borrowed from the summary.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_report_id(
    summary: *const mtasts_report_summary,
    out_id: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_id, "out_id")?;
        // SAFETY: the caller's promise: NULL or a live summary.
        let s = unsafe { handle(summary, "summary") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(&s.report.report_id)) };
        Ok(())
    })
}

/// `date-range`: start and end, in seconds since 1970 (UTC).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_date_range(
    summary: *const mtasts_report_summary,
    out_start: *mut i64,
    out_end: *mut i64,
) -> mtasts_result {
    guard(|| {
        let a = out(out_start, "out_start")?;
        let b = out(out_end, "out_end")?;
        // SAFETY: the caller's promise: NULL or a live summary.
        let s = unsafe { handle(summary, "summary") }?;
        // SAFETY: both checked and writable by the caller's promise.
        unsafe { a.put(s.report.date_range.start.unix_secs()) };
        // SAFETY: as above.
        unsafe { b.put(s.report.date_range.end.unix_secs()) };
        Ok(())
    })
}

/// `total-successful-session-count` summed over the policies (0 for a
/// NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_successful_sessions(
    summary: *const mtasts_report_summary,
) -> u64 {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live summary.
        unsafe { summary.as_ref() }.map_or(0, |s| s.successful)
    })
}

/// `total-failure-session-count` summed over the policies (0 for a NULL
/// handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_failed_sessions(
    summary: *const mtasts_report_summary,
) -> u64 {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live summary.
        unsafe { summary.as_ref() }.map_or(0, |s| s.failed)
    })
}

/// The number of policy domains (0 for a NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_policy_domain_count(
    summary: *const mtasts_report_summary,
) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live summary.
        unsafe { summary.as_ref() }.map_or(0, |s| s.domains.len())
    })
}

/// The policy domain at `index` (sorted; lower case without a trailing
/// dot, `(unknown)` for policies without one), borrowed from the summary,
/// with its successful and failed sessions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_policy_domain_at(
    summary: *const mtasts_report_summary,
    index: usize,
    out_domain: *mut mtasts_str,
    out_successful: *mut u64,
    out_failed: *mut u64,
) -> mtasts_result {
    guard(|| {
        let d = out(out_domain, "out_domain")?;
        let ok = out(out_successful, "out_successful")?;
        let bad = out(out_failed, "out_failed")?;
        // SAFETY: the caller's promise: NULL or a live summary.
        let s = unsafe { handle(summary, "summary") }?;
        let (domain, n_ok, n_bad) = at(&s.domains, index, "policy domain")?;
        // SAFETY: all three checked and writable by the caller's promise.
        unsafe { d.put(mtasts_str::borrowed(domain)) };
        // SAFETY: as above.
        unsafe { ok.put(*n_ok) };
        // SAFETY: as above.
        unsafe { bad.put(*n_bad) };
        Ok(())
    })
}

/// The number of distinct result types in the failure details (0 for a
/// NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_result_type_count(
    summary: *const mtasts_report_summary,
) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live summary.
        unsafe { summary.as_ref() }.map_or(0, |s| s.result_types.len())
    })
}

/// The result type at `index` (sorted), borrowed from the summary, with
/// the failed sessions its failure details count.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_result_type_at(
    summary: *const mtasts_report_summary,
    index: usize,
    out_result_type: *mut mtasts_str,
    out_failed: *mut u64,
) -> mtasts_result {
    guard(|| {
        let t = out(out_result_type, "out_result_type")?;
        let n = out(out_failed, "out_failed")?;
        // SAFETY: the caller's promise: NULL or a live summary.
        let s = unsafe { handle(summary, "summary") }?;
        let (rt, count) = at(&s.result_types, index, "result type")?;
        // SAFETY: both checked and writable by the caller's promise.
        unsafe { t.put(mtasts_str::borrowed(rt)) };
        // SAFETY: as above.
        unsafe { n.put(*count) };
        Ok(())
    })
}

/// The number of warnings: about the input (e-mail parts, header fields)
/// and from the lenient reader (0 for a NULL handle).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_warning_count(
    summary: *const mtasts_report_summary,
) -> usize {
    guard_value(0, || {
        // SAFETY: the caller's promise: NULL or a live summary.
        unsafe { summary.as_ref() }.map_or(0, |s| s.warnings.len())
    })
}

/// The warning at `index` (input warnings first), borrowed from the
/// summary.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_warning_at(
    summary: *const mtasts_report_summary,
    index: usize,
    out_message: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_message, "out_message")?;
        // SAFETY: the caller's promise: NULL or a live summary.
        let s = unsafe { handle(summary, "summary") }?;
        let w = at(&s.warnings, index, "warning")?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(w)) };
        Ok(())
    })
}

/// The report in the strict RFC 8460 JSON form (compact, normalised:
/// dates in UTC, IP addresses in RFC 5952 form, absent members omitted),
/// borrowed from the summary.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_json(
    summary: *const mtasts_report_summary,
    out_json: *mut mtasts_str,
) -> mtasts_result {
    guard(|| {
        let o = out(out_json, "out_json")?;
        // SAFETY: the caller's promise: NULL or a live summary.
        let s = unsafe { handle(summary, "summary") }?;
        // SAFETY: `o` was checked and is writable by the caller's promise.
        unsafe { o.put(mtasts_str::borrowed(&s.json)) };
        Ok(())
    })
}

/// Free a summary (NULL: nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtasts_report_summary_free(summary: *mut mtasts_report_summary) {
    // SAFETY: the caller's promise: NULL or a summary not yet freed.
    unsafe { free_box(summary) }
}
