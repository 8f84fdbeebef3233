//! Writing a report for delivery (RFC 8460 5; RPT-DELIV-01 to -08, -10,
//! -19): the strict JSON, its gzip, the file name, and the e-mail that
//! carries it. No IO: the caller passes the time and the unique parts and
//! sends the bytes.
//!
//! [`render`] gives the JSON ([`Report::to_json`], the strict form), the
//! gzip of it (RFC 1952, no file name, modification time 0, so the same
//! report always gives the same bytes) and the file name
//! `submitter!policy-domain!begin!end!unique-id.json.gz`
//! ([`ReportFilename::for_report`]). The HTTPS delivery posts
//! [`RenderedReport::gzip`] with `Content-Type:
//! application/tlsrpt+gzip`.
//!
//! [`render_email`] writes the mail delivery's message (RFC 5322, CRLF
//! line ends, lines of at most 78 characters except a long `Subject`):
//!
//! ```text
//! From: <MailMeta::from>
//! To: <MailMeta::to, comma-separated>
//! Date: <MailMeta::date, RFC 5322, +0000>
//! Subject: Report Domain: <policy domain>
//!  Submitter: <submitter>
//!  Report-ID: <report-id>
//! Message-ID: <unique.begin.policy-domain@submitter>
//! MIME-Version: 1.0
//! TLS-Report-Domain: <policy domain>
//! TLS-Report-Submitter: <submitter>
//! TLS-Required: No
//! Auto-Submitted: auto-generated
//! Content-Type: multipart/report; report-type="tlsrpt";
//!  boundary="..."
//!
//! text/plain part: who reports what, the totals, the attachment's name
//! application/tlsrpt+gzip part: the gzip in base64, 76-character lines,
//!   named by Content-Disposition filename (and Content-Type name)
//! ```
//!
//! `TLS-Required: No` (RFC 8689) asks relays to deliver the report even
//! without TLS (RFC 8460 5.3.1); `Auto-Submitted: auto-generated` (RFC
//! 3834) keeps auto-responders quiet. The report mail needs a DKIM
//! signature (RFC 8460 3) covering `TLS-Report-Domain` and
//! `TLS-Report-Submitter`; signing is the caller's step, after this one.
//!
//! ```
//! use tlsrpt_core::outgoing::{render, render_email, MailMeta};
//! use tlsrpt_core::session::{DayAggregate, Outcome, PolicyKey, ReportMeta, UtcDay};
//! use tlsrpt_core::time::Timestamp;
//!
//! let mut day = DayAggregate::new(UtcDay::parse("2024-05-01")?);
//! day.record(&PolicyKey::no_policy_found("example.org")?, &Outcome::Success)?;
//! let meta = ReportMeta::new("Example Mail", "tlsrpt@mail.example.com", "mail.example.com", "n1");
//! let report = &day.finish(&meta)?.reports[0];
//!
//! let r = render(report, &meta.submitter, &meta.unique_id)?;
//! assert_eq!(r.filename.to_string(), "mail.example.com!example.org!1714521600!1714607999!n1.json.gz");
//! assert!(r.gzip.starts_with(&[0x1f, 0x8b]));
//!
//! let mail = render_email(report, &r, &MailMeta::new(
//!     "tlsrpt@mail.example.com",
//!     ["tls-reports@example.org"],
//!     Timestamp::from_unix(1_714_608_000),
//!     "m1",
//! ))?;
//! let read = tlsrpt_core::input::read_report(&mail, &Default::default())?;
//! assert_eq!(read.value.report, *report);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::filename::{
    FilenameError, MEDIA_TYPE_GZIP, REPORT_TYPE, ReportFilename, TLS_REPORT_DOMAIN,
    TLS_REPORT_SUBMITTER, check_submitter, subject,
};
use crate::report::Report;
use crate::time::{Timestamp, civil_from_days};

/// Reports larger than this are refused by many receivers (RFC 8460 5.2
/// says they commonly cap around 10 MB): see
/// [`RenderedReport::exceeds_common_cap`].
pub const COMMON_RECEIVER_CAP: usize = 10_000_000;

/// Longest caller-supplied unique part of a Message-ID
/// ([`MailMeta::message_id_unique`]).
pub const MAX_UNIQUE: usize = 64;

/// Longest `From` or `To` address.
pub const MAX_ADDRESS: usize = 512;

/// Why a report could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutgoingError {
    /// The report cannot be named (no or mixed policy domains, a bad
    /// submitter or unique-id), or its submitter is not the domain of its
    /// `contact-info`.
    #[error(transparent)]
    Filename(#[from] FilenameError),
    /// Compression failed.
    #[error("gzip: {0}")]
    Gzip(String),
    /// A [`MailMeta`] field or the report's id cannot be written into the
    /// message.
    #[error("e-mail {field}: {reason}")]
    Header {
        /// The field: `From`, `To`, `Message-ID`, `Report-ID`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The date is outside the years 1970 to 9999.
    #[error("e-mail Date: {secs} s after 1970-01-01T00:00:00Z is outside the years 1970 to 9999")]
    Date {
        /// The Unix seconds given.
        secs: i64,
    },
}

/// A report ready to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenderedReport {
    /// The report in the strict RFC form.
    pub json: String,
    /// `json`, gzip-compressed (RFC 1952).
    pub gzip: Vec<u8>,
    /// `submitter!policy-domain!begin!end!unique-id.json.gz`.
    pub filename: ReportFilename,
}

impl RenderedReport {
    /// Whether the compressed report is larger than
    /// [`COMMON_RECEIVER_CAP`] (RPT-DELIV-19): deliver it, but say so.
    pub fn exceeds_common_cap(&self) -> bool {
        self.gzip.len() > COMMON_RECEIVER_CAP
    }
}

/// gzip `bytes` (RFC 1952; default level, modification time 0, no file
/// name: the same input always gives the same output).
///
/// ```
/// let z = tlsrpt_core::outgoing::gzip(b"{}")?;
/// assert_eq!(&z[..4], &[0x1f, 0x8b, 8, 0]);
/// assert_eq!(tlsrpt_core::input::decompress_gzip(&z, 100).unwrap(), b"{}");
/// # Ok::<(), tlsrpt_core::outgoing::OutgoingError>(())
/// ```
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>, OutgoingError> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        Compression::default(),
    );
    enc.write_all(bytes)
        .map_err(|e| OutgoingError::Gzip(e.to_string()))?;
    enc.finish().map_err(|e| OutgoingError::Gzip(e.to_string()))
}

/// The report's JSON (strict form), gzip and file name; `submitter` is
/// the domain of `contact-info` (checked, RFC 8460 5.3), `unique_id` the
/// file name's `unique-id` (1 or more ASCII letters and digits).
pub fn render(
    report: &Report<'_>,
    submitter: &str,
    unique_id: &str,
) -> Result<RenderedReport, OutgoingError> {
    if let Some(ci) = &report.contact_info {
        check_submitter(ci, submitter)?;
    }
    let filename = ReportFilename::for_report(report, submitter, Some(unique_id), true)?;
    let json = report.to_json(false);
    let gzip = gzip(json.as_bytes())?;
    Ok(RenderedReport {
        json,
        gzip,
        filename,
    })
}

/// Who sends the report mail, to whom, when, and its unique part.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailMeta {
    /// `From`: an address (`addr-spec` or `Name <addr-spec>`), printable
    /// ASCII.
    pub from: String,
    /// `To`: one or more addresses, printable ASCII (the `mailto:` URIs'
    /// addresses).
    pub to: Vec<String>,
    /// `Date`.
    pub date: Timestamp,
    /// Makes the `Message-ID` unique: 1 to [`MAX_UNIQUE`] ASCII letters
    /// and digits, different for every message sent (a random value or a
    /// sequence number kept across restarts).
    pub message_id_unique: String,
}

impl MailMeta {
    /// The message's sender, recipients, date and unique part.
    pub fn new<I, S>(
        from: impl Into<String>,
        to: I,
        date: Timestamp,
        message_id_unique: impl Into<String>,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            from: from.into(),
            to: to.into_iter().map(Into::into).collect(),
            date,
            message_id_unique: message_id_unique.into(),
        }
    }
}

fn header_err(field: &'static str, reason: impl Into<String>) -> OutgoingError {
    OutgoingError::Header {
        field,
        reason: reason.into(),
    }
}

/// An address for `From` or `To`: printable ASCII and spaces, with an `@`.
fn check_address(field: &'static str, a: &str) -> Result<(), OutgoingError> {
    if a.is_empty() || a.len() > MAX_ADDRESS {
        return Err(header_err(
            field,
            format!("expected 1 to {MAX_ADDRESS} characters"),
        ));
    }
    if !a.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(header_err(
            field,
            "only printable ASCII is allowed (no line breaks, no UTF-8)",
        ));
    }
    if !a.contains('@') || a.contains(',') {
        return Err(header_err(
            field,
            "expected one e-mail address (local-part@domain)",
        ));
    }
    Ok(())
}

/// RFC 5322 `date-time` in UTC: `Wed, 01 May 2024 00:00:00 +0000`.
///
/// ```
/// use tlsrpt_core::outgoing::rfc5322_date;
/// use tlsrpt_core::time::Timestamp;
/// assert_eq!(rfc5322_date(Timestamp::from_unix(1_459_468_800)).unwrap(), "Fri, 01 Apr 2016 00:00:00 +0000");
/// ```
pub fn rfc5322_date(t: Timestamp) -> Result<String, OutgoingError> {
    // 1970-01-01 to 9999-12-31.
    if !(0..=253_402_300_799).contains(&t.secs) {
        return Err(OutgoingError::Date { secs: t.secs });
    }
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = t.day();
    let (y, m, d) = civil_from_days(day);
    let c = t.civil();
    let wd = DAYS[day.rem_euclid(7) as usize];
    let mon = MONTHS[(m as usize).saturating_sub(1).min(11)];
    Ok(format!(
        "{wd}, {d:02} {mon} {y:04} {:02}:{:02}:{:02} +0000",
        c.hour, c.minute, c.second
    ))
}

/// Standard base64 (RFC 4648) in lines of 76 characters, each ended by
/// CRLF (RFC 2045 6.8).
fn base64_lines(bytes: &[u8], out: &mut String) {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.reserve(bytes.len() / 3 * 4 + bytes.len() / 57 * 2 + 8);
    for line in bytes.chunks(57) {
        for chunk in line.chunks(3) {
            let b0 = chunk[0];
            let b1 = chunk.get(1).copied().unwrap_or(0);
            let b2 = chunk.get(2).copied().unwrap_or(0);
            let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
            for k in 0..4 {
                if k <= chunk.len() {
                    out.push(char::from(A[((n >> (18 - 6 * k)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out.push_str("\r\n");
    }
}

/// The message of the mail delivery of `report` (see the module
/// documentation): `rendered` from [`render`] of the same report.
///
/// The `Report-ID` in the Subject is the report's `report-id` in angle
/// brackets; an id without `@` gets `@submitter` appended there. The
/// text part is 7bit when it is short printable ASCII lines, base64
/// otherwise (an `organization-name` in UTF-8).
pub fn render_email(
    report: &Report<'_>,
    rendered: &RenderedReport,
    meta: &MailMeta,
) -> Result<Vec<u8>, OutgoingError> {
    check_address("From", &meta.from)?;
    if meta.to.is_empty() {
        return Err(header_err("To", "no recipient"));
    }
    for t in &meta.to {
        check_address("To", t)?;
    }
    let u = &meta.message_id_unique;
    if u.is_empty() || u.len() > MAX_UNIQUE || !u.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(header_err(
            "Message-ID",
            "the unique part must be 1 to 64 ASCII letters and digits",
        ));
    }
    let date = rfc5322_date(meta.date)?;
    let f = &rendered.filename;
    let (domain, submitter) = (&f.policy_domain, &f.sender);
    let id = &*report.report_id;
    let (left, right) = match id.rsplit_once('@') {
        Some((l, r)) => (l, r),
        None => (id, submitter.as_str()),
    };
    let msg_id_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'@' | b'"' | b'\\'))
    };
    if !msg_id_ok(left) || !msg_id_ok(right) {
        return Err(header_err(
            "Report-ID",
            format!(
                "report-id `{}` cannot be written as <id-left@id-right>",
                mta_sts_core::display::Escaped(id)
            ),
        ));
    }
    let subj = subject(domain, submitter, left, right);
    // Fold before `Submitter:` and `Report-ID:` (as RFC 8460 5.3.1 shows).
    let subj = subj
        .replacen(" Submitter: ", "\r\n Submitter: ", 1)
        .replacen(" Report-ID: ", "\r\n Report-ID: ", 1);
    let boundary = format!("=_tlsrpt_{u}");
    let name = f.to_string();

    let mut m = String::with_capacity(rendered.gzip.len() * 4 / 3 + 2048);
    let mut h = |name: &str, value: &str| {
        m.push_str(name);
        m.push_str(": ");
        m.push_str(value);
        m.push_str("\r\n");
    };
    h("From", &meta.from);
    h("To", &meta.to.join(",\r\n "));
    h("Date", &date);
    h("Subject", &subj);
    h(
        "Message-ID",
        &format!("<{u}.{}.{domain}@{submitter}>", f.begin),
    );
    h("MIME-Version", "1.0");
    h(TLS_REPORT_DOMAIN, domain);
    h(TLS_REPORT_SUBMITTER, submitter);
    h("TLS-Required", "No");
    h("Auto-Submitted", "auto-generated");
    h(
        "Content-Type",
        &format!("multipart/report; report-type=\"{REPORT_TYPE}\";\r\n boundary=\"{boundary}\""),
    );
    m.push_str("\r\nThis is a TLS report (RFC 8460) in MIME format.\r\n");

    // The human-readable part.
    let text = format!(
        "This is an aggregate TLS report from {org}.\r\n\
         \r\n\
         Policy domain: {domain}\r\n\
         Submitter: {submitter}\r\n\
         Report-ID: {id}\r\n\
         Period: {start} to {end}\r\n\
         Successful sessions: {ok}\r\n\
         Failed sessions: {failed}\r\n\
         \r\n\
         The report is attached (application/tlsrpt+gzip, RFC 8460) as\r\n\
         {name}\r\n",
        org = report.organization_name,
        start = report.date_range.start,
        end = report.date_range.end,
        ok = report.successful_sessions(),
        failed = report.failed_sessions(),
    );
    let plain = text
        .split("\r\n")
        .all(|l| l.len() <= 76 && l.bytes().all(|b| (0x20..0x7f).contains(&b)))
        && !text.contains(&boundary);
    m.push_str("\r\n--");
    m.push_str(&boundary);
    m.push_str("\r\n");
    if plain {
        m.push_str(
            "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
        );
        m.push_str(&text);
    } else {
        m.push_str(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        );
        base64_lines(text.as_bytes(), &mut m);
    }

    // The report.
    m.push_str("\r\n--");
    m.push_str(&boundary);
    m.push_str("\r\n");
    m.push_str(&format!(
        "Content-Type: {MEDIA_TYPE_GZIP};\r\n name=\"{name}\"\r\n\
         Content-Disposition: attachment;\r\n filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    ));
    base64_lines(&rendered.gzip, &mut m);
    m.push_str("\r\n--");
    m.push_str(&boundary);
    m.push_str("--\r\n");
    Ok(m.into_bytes())
}
