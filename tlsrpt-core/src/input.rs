//! Reading a report in the shapes it arrives in: plain JSON, gzip
//! (RFC 1952, RPT-DELIV-01) or a whole e-mail message (RPT-DELIV-06).
//!
//! The shape is detected from the content, never from a file name
//! ([`detect`]):
//!
//! | first bytes | kind |
//! |---|---|
//! | `1f 8b` (gzip magic) | [`InputKind::Gzip`] |
//! | `{` after an optional UTF-8 byte order mark and white space | [`InputKind::Json`] |
//! | a `Name: value` header line (optionally after an mbox `From ` line) | [`InputKind::Email`] |
//!
//! Anything else is [`InputError::Unrecognised`]. [`extract`] returns the
//! report's JSON text; [`read_report`] also parses it.
//!
//! An mbox file (messages each starting with a `From ` line) holds one
//! report per message: [`split_mbox`] cuts it into its messages, to be
//! read one by one. [`read_report`] given a whole mbox reads its first
//! message, with a [`InputWarningCode::SeveralMessages`] warning when there
//! are more.
//!
//! ## Limits
//!
//! Every size is bounded before the work that could exceed it
//! ([`Limits`]; RPT-DELIV-19):
//!
//! - `max_message`: an e-mail larger than this is refused before it is
//!   parsed;
//! - `max_attachment`: a MIME part is decoded (base64, quoted-printable)
//!   into at most this many bytes; decoding stops and fails as soon as the
//!   output would grow past it;
//! - `max_decompressed`: gzip data is inflated through a reader capped at
//!   `max_decompressed + 1` bytes, so a gzip bomb is never inflated into
//!   memory beyond the limit; the same limit bounds a plain JSON input, so
//!   the report reader never sees more.
//!
//! E-mail rules (which parts are read, which mislabels are accepted) are
//! documented in [`crate::mail`].
//!
//! ```
//! use tlsrpt_core::input::{self, InputKind};
//!
//! let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-22T23:59:59Z"},"contact-info":"tlsrpt@org.example","report-id":"r1","policies":[]}"#;
//! assert_eq!(input::detect(json), Some(InputKind::Json));
//! let read = input::read_report(json, &input::ReadOptions::default())?;
//! let (extracted, report, warnings) = (read.value.extracted, read.value.report, read.warnings);
//! assert_eq!(extracted.kind, InputKind::Json);
//! assert_eq!(report.report_id, "r1");
//! assert!(warnings.is_empty());
//! # Ok::<(), tlsrpt_core::input::InputError>(())
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Read;

use crate::error::ReportError;
use crate::mail::MailInfo;
use crate::parse::ReportWarning;
use crate::report::Report;
use mta_sts_core::{Parsed, Strictness};

/// Size limits for [`extract`] and [`read_report`].
///
/// The defaults are well above real reports (receivers commonly cap them
/// around 10 MB, RFC 8460 5.2) while keeping memory use bounded:
///
/// | field | default |
/// |---|---|
/// | `max_decompressed` | 32 MiB |
/// | `max_attachment` | 32 MiB |
/// | `max_message` | 64 MiB |
///
/// ```
/// let l = tlsrpt_core::input::Limits { max_decompressed: 1 << 20, ..Default::default() };
/// assert_eq!(l.max_message, 64 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest report JSON text, in bytes, after gzip decompression; also
    /// bounds a plain JSON input.
    pub max_decompressed: usize,
    /// Largest decoded (base64, quoted-printable or as-is) e-mail part, in
    /// bytes.
    pub max_attachment: usize,
    /// Largest e-mail message, in bytes, as given.
    pub max_message: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_decompressed: 32 << 20,
            max_attachment: 32 << 20,
            max_message: 64 << 20,
        }
    }
}

/// The shape of an input, detected from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// A JSON report.
    Json,
    /// A gzip-compressed report.
    Gzip,
    /// An e-mail message (RFC 5322) carrying the report.
    Email,
}

/// Why an input could not be turned into report JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Something is larger than its limit.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was too large, e.g. `decompressed report`.
        what: &'static str,
        /// The limit, in bytes.
        limit: usize,
    },
    /// Truncated or corrupt gzip data, or a part declared gzip that is not.
    #[error("invalid gzip data: {0}")]
    Gzip(String),
    /// A malformed e-mail message.
    #[error("malformed e-mail: {0}")]
    Mail(String),
    /// An e-mail without a TLS-RPT report part.
    #[error("no tls-rpt report part in the e-mail (parts seen: {})", seen(parts))]
    NoReportPart {
        /// The parts seen, each as `<part number> <media type>` plus its
        /// file name and why it was not read where that applies.
        parts: Vec<String>,
    },
    /// The report JSON is invalid.
    #[error("invalid report: {0}")]
    Report(#[from] ReportError),
    /// Neither JSON, gzip nor an e-mail: JSON starts with `{` (after an
    /// optional byte order mark and white space), gzip with `1f 8b`, an
    /// e-mail with a header line.
    #[error("not a TLS-RPT report (neither JSON, gzip nor an e-mail)")]
    Unrecognised {
        /// The first bytes: printable ASCII as text in backticks, anything
        /// else as hex bytes (`nothing (empty input)` when empty).
        start: String,
    },
}

impl InputError {
    /// Whether the input is no report at all, rather than a broken one:
    /// [`InputError::Unrecognised`] (neither JSON, gzip nor an e-mail) or
    /// [`InputError::NoReportPart`] (an e-mail without a report part, such
    /// as ordinary mail in a mailbox). A tool reading a whole mailbox or
    /// directory may skip these with a warning while still failing on
    /// broken reports.
    ///
    /// ```
    /// use tlsrpt_core::input::{read_report, ReadOptions};
    /// let o = ReadOptions::default();
    /// assert!(read_report(b"hello", &o).unwrap_err().is_not_a_report());
    /// let mail = b"From: a@example.com\r\nSubject: lunch?\r\n\r\nAt noon.\r\n";
    /// assert!(read_report(mail, &o).unwrap_err().is_not_a_report());
    /// assert!(!read_report(b"{\"organization-name\": 1}", &o).unwrap_err().is_not_a_report());
    /// ```
    pub fn is_not_a_report(&self) -> bool {
        matches!(self, Self::Unrecognised { .. } | Self::NoReportPart { .. })
    }
}

fn seen(parts: &[String]) -> String {
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

/// A report's JSON text, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extracted<'a> {
    /// The JSON text (borrowed from the input when it was not encoded).
    pub json: Cow<'a, [u8]>,
    /// The shape of the input.
    pub kind: InputKind,
    /// Whether the report was gzip-compressed (the input, or the e-mail
    /// part).
    pub gzip: bool,
    /// For an e-mail: its header fields and the report part's labels.
    pub mail: Option<MailInfo>,
    /// Deviations met on the way (mislabelled parts, missing header
    /// fields, charsets), each with its code; empty for a well-formed
    /// input.
    pub warnings: Vec<InputWarning>,
}

mta_sts_core::code_enum! {
    /// What an [`InputWarning`] is about.
    pub enum InputWarningCode {
        /// A part typed other than `application/tlsrpt+json` or
        /// `application/tlsrpt+gzip` was read as the report, or its content
        /// did not match its type (gzip data typed as JSON or the reverse).
        MislabelledPart => "mislabelled-part",
        /// A multipart body has no closing boundary; it was read to the end.
        UnclosedMultipart => "unclosed-multipart",
        /// Characters outside the base64 alphabet were ignored.
        Base64ForeignCharacters => "base64-foreign-characters",
        /// A charset label the Encoding Standard does not know; read as
        /// UTF-8.
        CharsetUnknown => "charset-unknown",
        /// Bytes not valid in the declared charset, replaced with U+FFFD.
        CharsetMalformed => "charset-malformed",
        /// The message has several report parts; only the first was read.
        SeveralReportParts => "several-report-parts",
        /// The report is in an attached `message/rfc822`.
        AttachedMessage => "attached-message",
        /// `TLS-Report-Domain` or `TLS-Report-Submitter` is missing
        /// (RFC 8460 5.3).
        MissingHeaderField => "missing-header-field",
        /// The `multipart/report` has no `report-type` parameter.
        ReportTypeMissing => "report-type-missing",
        /// The `multipart/report` has a `report-type` other than `tlsrpt`.
        ReportTypeNotTlsrpt => "report-type-not-tlsrpt",
        /// `TLS-Report-Submitter` is not the domain of `contact-info`
        /// (RFC 8460 5.3).
        SubmitterMismatch => "submitter-mismatch",
        /// `TLS-Report-Domain` is not a `policy-domain` of the report.
        DomainMismatch => "domain-mismatch",
        /// The input is an mbox holding several messages; only the first
        /// was read (see [`split_mbox`]).
        SeveralMessages => "several-messages",
    }
}

/// A deviation of a report input (not of the report's JSON, whose
/// warnings are [`ReportWarning`]s): its code and what happened, in plain
/// words. Displays as the message; compares equal to a `&str` holding the
/// message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct InputWarning {
    /// What kind of deviation.
    pub code: InputWarningCode,
    /// What happened, naming the part or header field.
    pub message: String,
}

impl InputWarning {
    /// A warning of `code` saying `message`.
    pub fn new(code: InputWarningCode, message: String) -> Self {
        Self { code, message }
    }
}

impl std::fmt::Display for InputWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl PartialEq<&str> for InputWarning {
    fn eq(&self, other: &&str) -> bool {
        self.message == *other
    }
}

impl Extracted<'_> {
    /// An owned copy.
    pub fn into_owned(self) -> Extracted<'static> {
        Extracted {
            json: Cow::Owned(self.json.into_owned()),
            kind: self.kind,
            gzip: self.gzip,
            mail: self.mail,
            warnings: self.warnings,
        }
    }
}

const BOM: &[u8] = b"\xef\xbb\xbf";

/// Whether `bytes` start with the gzip magic bytes `1f 8b`.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Whether the first non-white-space byte (after an optional byte order
/// mark) is `{`.
pub(crate) fn looks_like_json(bytes: &[u8]) -> bool {
    let b = bytes.strip_prefix(BOM).unwrap_or(bytes);
    b.iter()
        .find(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        .is_some_and(|&c| c == b'{')
}

/// Whether `line` is an RFC 5322 header field line: a non-empty name of
/// printable ASCII other than `:`, optional white space, then `:`.
pub(crate) fn is_header_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&c| c == b':') else {
        return false;
    };
    let name = &line[..colon];
    let name = match name.iter().rposition(|&c| c != b' ' && c != b'\t') {
        Some(end) => &name[..=end],
        None => return false,
    };
    name.iter().all(|&c| (33..=126).contains(&c))
}

fn first_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&c| c == b'\n') {
        Some(i) => {
            let line = &bytes[..i];
            (line.strip_suffix(b"\r").unwrap_or(line), &bytes[i + 1..])
        }
        None => (bytes, &[]),
    }
}

/// Detect the shape of an input from its first bytes (see the module
/// documentation); `None` when it is none of them.
///
/// ```
/// use tlsrpt_core::input::{detect, InputKind};
/// assert_eq!(detect(b"\xef\xbb\xbf \n{}"), Some(InputKind::Json));
/// assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Some(InputKind::Gzip));
/// assert_eq!(detect(b"From: a@example.com\r\nSubject: x\r\n\r\nbody"), Some(InputKind::Email));
/// assert_eq!(detect(b"<?xml version=\"1.0\"?>"), None);
/// ```
pub fn detect(bytes: &[u8]) -> Option<InputKind> {
    if is_gzip(bytes) {
        return Some(InputKind::Gzip);
    }
    if looks_like_json(bytes) {
        return Some(InputKind::Json);
    }
    let (line, rest) = first_line(bytes);
    let line = if line.starts_with(b"From ") {
        first_line(rest).0
    } else {
        line
    };
    is_header_line(line).then_some(InputKind::Email)
}

/// The messages of an mbox file: the input cut before every line that
/// starts with `From ` (the separator line, kept at the start of its
/// message), as mbox readers such as Python's `mailbox` cut it. An input
/// that does not start with a `From ` line followed by a header line is
/// no mbox: it is returned whole, as the only message.
///
/// `>From ` lines (mboxrd/mboxo quoting of body lines) are left as they
/// are: report parts (JSON, base64) never hold such lines, and the e-mail
/// reader does not need them unquoted. No copy is made.
///
/// ```
/// use tlsrpt_core::input::split_mbox;
/// let mbox = b"From a@example.com Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n>From here\n\n\
/// From b@example.com Tue Jan  2 00:00:00 2024\nSubject: two\n\nbody\n";
/// let m = split_mbox(mbox);
/// assert_eq!(m.len(), 2);
/// assert!(m[0].ends_with(b">From here\n\n"));
/// assert!(m[1].starts_with(b"From b@example.com"));
/// assert_eq!(split_mbox(b"{}"), [b"{}"]);
/// ```
pub fn split_mbox(bytes: &[u8]) -> Vec<&[u8]> {
    let (first, rest) = first_line(bytes);
    if !first.starts_with(b"From ") || !is_header_line(first_line(rest).0) {
        return vec![bytes];
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        let next = bytes[pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(bytes.len(), |i| pos + i + 1);
        if pos > start && bytes[pos..].starts_with(b"From ") {
            out.push(&bytes[start..pos]);
            start = pos;
        }
        pos = next;
    }
    out.push(&bytes[start..]);
    out
}

/// Inflate gzip data (one or more members, RFC 1952 2.2) into at most
/// `limit` bytes.
///
/// Decompression reads through a reader capped at `limit + 1` bytes and
/// fails with [`InputError::TooLarge`] (`what` = `decompressed report`) as
/// soon as the output passes `limit`, so a gzip bomb is never inflated
/// further. Truncated or corrupt data is [`InputError::Gzip`].
///
/// ```
/// use std::io::Write;
/// use tlsrpt_core::input::{decompress_gzip, InputError};
///
/// let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
/// enc.write_all(&[b' '; 4096])?;
/// let gz = enc.finish()?;
/// assert_eq!(decompress_gzip(&gz, 4096)?.len(), 4096);
/// assert!(matches!(decompress_gzip(&gz, 4095), Err(InputError::TooLarge { limit: 4095, .. })));
/// assert!(matches!(decompress_gzip(&gz[..gz.len() - 4], 4096), Err(InputError::Gzip(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decompress_gzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, InputError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(limit).min(1 << 20));
    let mut reader = flate2::read::MultiGzDecoder::new(bytes).take(cap);
    if let Err(e) = reader.read_to_end(&mut out) {
        // A bomb that is also corrupt past the limit is still too large.
        if out.len() > limit {
            return Err(InputError::TooLarge {
                what: "decompressed report",
                limit,
            });
        }
        let what = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "truncated gzip data".to_owned()
        } else {
            e.to_string()
        };
        return Err(InputError::Gzip(format!(
            "{what} (after {} decompressed bytes of {} compressed)",
            out.len(),
            bytes.len()
        )));
    }
    if out.len() > limit {
        return Err(InputError::TooLarge {
            what: "decompressed report",
            limit,
        });
    }
    Ok(out)
}

/// The first bytes of `b`, for messages: printable ASCII as text, others
/// as hex.
pub(crate) fn describe_start(b: &[u8]) -> String {
    if b.is_empty() {
        return "nothing (empty input)".to_owned();
    }
    let head = &b[..b.len().min(16)];
    if head
        .iter()
        .all(|&c| c.is_ascii_graphic() || c == b' ' || c == b'\t')
    {
        format!("`{}`", String::from_utf8_lossy(head))
    } else {
        let mut s = String::new();
        for (i, c) in head.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{c:02x}");
        }
        s
    }
}

/// Extract the report JSON from an input of any shape: JSON as is, gzip
/// inflated, an e-mail's report part decoded and inflated (see
/// [`crate::mail`]). Every size is bounded by `limits`.
///
/// ```
/// use tlsrpt_core::input::{extract, InputKind, Limits};
/// let mail = b"TLS-Report-Domain: example.net\r\nTLS-Report-Submitter: sender.example\r\n\
/// Content-Type: application/tlsrpt+json\r\n\r\n{\"report-id\":\"x\"}\r\n";
/// let e = extract(mail, &Limits::default())?;
/// assert_eq!(e.kind, InputKind::Email);
/// assert!(e.json.starts_with(b"{\"report-id\""));
/// assert_eq!(e.mail.unwrap().tls_report_domain.as_deref(), Some("example.net"));
/// # Ok::<(), tlsrpt_core::input::InputError>(())
/// ```
pub fn extract<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Extracted<'a>, InputError> {
    match detect(bytes) {
        Some(InputKind::Json) => {
            if bytes.len() > limits.max_decompressed {
                return Err(InputError::TooLarge {
                    what: "report JSON",
                    limit: limits.max_decompressed,
                });
            }
            Ok(Extracted {
                json: Cow::Borrowed(bytes),
                kind: InputKind::Json,
                gzip: false,
                mail: None,
                warnings: Vec::new(),
            })
        }
        Some(InputKind::Gzip) => Ok(Extracted {
            json: Cow::Owned(decompress_gzip(bytes, limits.max_decompressed)?),
            kind: InputKind::Gzip,
            gzip: true,
            mail: None,
            warnings: Vec::new(),
        }),
        Some(InputKind::Email) => crate::mail::extract(bytes, limits),
        None => Err(InputError::Unrecognised {
            start: describe_start(bytes),
        }),
    }
}

/// How [`read_report`] reads an input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Size limits of the input, its decompression and its e-mail parts.
    pub limits: Limits,
    /// The JSON reader: strict or lenient (the e-mail rules are lenient in
    /// both).
    pub strictness: Strictness,
}

impl ReadOptions {
    /// Default limits with this reader.
    pub fn new(strictness: Strictness) -> Self {
        Self {
            limits: Limits::default(),
            strictness,
        }
    }
}

/// What [`read_report`] read: the input's shape and e-mail details, and
/// the report (owned).
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// The input: JSON text, kind, gzip, e-mail header fields, and the
    /// warnings about the input itself (mislabelled parts, header fields
    /// that disagree with the report).
    pub extracted: Extracted<'a>,
    /// The report.
    pub report: Report<'static>,
}

/// [`extract`] and parse: the strict or lenient reader
/// ([`Report::parse`]) on the JSON, the report converted to owned; the
/// reader's warnings are the [`Parsed::warnings`], the input's own are in
/// [`Extracted::warnings`].
///
/// For an e-mail, the header fields are also checked against the report
/// and any mismatch added to [`Extracted::warnings`]: `TLS-Report-Submitter`
/// must be the domain of `contact-info` (RPT-DELIV-08) and
/// `TLS-Report-Domain` a `policy-domain` of the report (RPT-DELIV-07).
/// An mbox of several messages is read as its first message, with a
/// [`InputWarningCode::SeveralMessages`] warning (use [`split_mbox`] to
/// read them all).
///
/// ```
/// use tlsrpt_core::input::{read_report, InputError, ReadOptions};
/// let err = read_report(b"{\"organization-name\": 1}", &ReadOptions::default()).unwrap_err();
/// assert!(matches!(err, InputError::Report(_)));
/// ```
pub fn read_report<'a>(
    bytes: &'a [u8],
    options: &ReadOptions,
) -> Result<Parsed<ReportInput<'a>, ReportWarning>, InputError> {
    let messages = split_mbox(bytes);
    let first = messages.first().copied().unwrap_or(bytes);
    let mut extracted = extract(first, &options.limits)?;
    if messages.len() > 1 {
        extracted.warnings.push(InputWarning::new(
            InputWarningCode::SeveralMessages,
            format!(
                "the input is an mbox of {} messages; only the first was read",
                messages.len()
            ),
        ));
    }
    let parsed = Report::parse(&extracted.json, options.strictness)?;
    let report = parsed.value.into_owned();
    let warnings = parsed.warnings;
    if let Some(info) = &extracted.mail {
        let mut notes = Vec::new();
        if let (Some(sub), Some(contact)) = (&info.tls_report_submitter, &report.contact_info)
            && crate::filename::check_submitter(contact, sub).is_err()
        {
            notes.push(InputWarning::new(
                InputWarningCode::SubmitterMismatch,
                format!(
                    "TLS-Report-Submitter `{sub}` is not the domain of contact-info `{contact}` (RFC 8460 5.3)"
                ),
            ));
        }
        if let Some(dom) = &info.tls_report_domain {
            let want = dom.trim_end_matches('.');
            let domains: Vec<&str> = report
                .policies
                .iter()
                .filter_map(|p| p.policy.policy_domain.as_deref())
                .collect();
            if !domains.is_empty()
                && !domains
                    .iter()
                    .any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(want))
            {
                notes.push(InputWarning::new(
                    InputWarningCode::DomainMismatch,
                    format!(
                        "TLS-Report-Domain `{dom}` is not a policy-domain of the report ({})",
                        domains.join(", ")
                    ),
                ));
            }
        }
        extracted.warnings.extend(notes);
    }
    Ok(Parsed {
        value: ReportInput { extracted, report },
        warnings,
    })
}
