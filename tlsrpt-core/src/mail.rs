//! Extracting a report from an e-mail message (RFC 8460 5.3; RPT-DELIV-06,
//! -07, -10, -20).
//!
//! A small MIME reader (RFC 2045, 2046, 2047, 2231, 5322) written for this
//! one job: find the report part, decode only that part, within limits.
//! Header fields are unfolded (each line break with the white space after
//! it becomes one space); `Subject` and file names have their RFC 2047
//! encoded words and RFC 2231 parameter encodings decoded.
//!
//! ## Charsets
//!
//! Encoded words, RFC 2231 values and a `text/*` report part with a
//! `charset` parameter are decoded with the WHATWG Encoding Standard's
//! labels and decoders (`encoding_rs`): `windows-1252` (and `iso-8859-1`,
//! which the standard reads as windows-1252), `iso-8859-15`, `koi8-r`,
//! `shift_jis`, `utf-16`, and so on. `us-ascii` is read as UTF-8, its
//! superset. Adjacent encoded words in the same charset are decoded
//! together, so a character split between two of them (as some senders
//! write Japanese subjects) is kept whole. An unknown label (or one the
//! standard maps to its `replacement` decoder) is read as UTF-8, and bytes
//! that are not valid in the charset become U+FFFD; both give a warning
//! when they touch the subject, the report part's file name or the report
//! part itself. A report part in UTF-8 (or without a charset) is passed to
//! the report reader as it is.
//!
//! ## Which part is the report
//!
//! Every part of the message is visited: nested `multipart/*` parts of any
//! subtype (up to 16 levels), `message/rfc822` attachments (a forwarded
//! report), and a non-multipart message whose body is the report. Parts are
//! numbered as IMAP does (`1`, `2`, `2.1`).
//!
//! | part type | read as the report | warning |
//! |---|---|---|
//! | `application/tlsrpt+gzip`, `application/tlsrpt+json` | always | no |
//! | `application/tlsrpt` (no suffix) | always | yes |
//! | `application/gzip`, `application/x-gzip`, `application/octet-stream`, `application/json` | with a second hint: a `multipart/report; report-type=tlsrpt` around it, a `TLS-Report-Domain` or `TLS-Report-Submitter` header field, or a file name ending in `.json`, `.json.gz` or `.gz` | yes |
//! | `text/plain` | with a file name ending in `.json`, `.json.gz` or `.gz`; or when it is the whole body of a message with a `TLS-Report-*` header field | yes |
//! | anything else | never | |
//!
//! So a `multipart/related` message whose only hint is a part typed
//! `application/json` has no report part (as mox decides), while the same
//! part inside `multipart/report; report-type=tlsrpt` is read with a
//! warning. The correctly typed parts are preferred over mislabelled ones;
//! among equals the first wins, with a warning when there are several.
//! `report-type` is matched in any case, quoted or not, before or after
//! `boundary`.
//!
//! The content of the chosen part is always checked by its magic bytes:
//! gzip data (`1f 8b`) is inflated whatever the label says (a `+json` part
//! holding gzip gives a warning), JSON in a part labelled gzip is read as is
//! (with a warning), and a `+gzip` part holding neither is
//! [`InputError::Gzip`]; a `+json` part holding something else goes to the
//! report reader, whose error says where the JSON breaks. A mislabelled
//! part whose content is not JSON (after any decompression) is passed over. A message with no part read as the
//! report is [`InputError::NoReportPart`], which lists the parts seen.
//!
//! Transfer encodings: `base64` (characters outside the alphabet are
//! ignored as RFC 2045 6.8 says, with a warning), `quoted-printable`, and
//! `7bit`, `8bit`, `binary` or none (the part is used in place, not copied).
//! Others are [`InputError::Mail`].
//!
//! ## Limits
//!
//! - the message must be at most [`Limits::max_message`] bytes, checked
//!   before anything is parsed;
//! - at most 1000 MIME parts are visited;
//! - the chosen part is decoded into at most [`Limits::max_attachment`]
//!   bytes: the size of base64 output is counted, without decoding, before
//!   any memory is allocated, and quoted-printable decoding stops as soon
//!   as it would pass the limit;
//! - gzip is inflated into at most [`Limits::max_decompressed`] bytes
//!   ([`crate::input::decompress_gzip`]).
//!
//! Missing `TLS-Report-Domain` / `TLS-Report-Submitter` header fields
//! (RPT-DELIV-07) and a `report-type` other than `tlsrpt` are reported as
//! warnings, never errors.
//!
//! ```
//! use tlsrpt_core::input::Limits;
//!
//! let mail = b"Subject: Report Domain: example.net\r\n Submitter: sender.example\r\n Report-ID: <1@sender.example>\r\n\
//! TLS-Report-Domain: example.net\r\nTLS-Report-Submitter: sender.example\r\n\
//! Content-Type: multipart/report; boundary=b; report-type=tlsrpt\r\n\r\n\
//! --b\r\nContent-Type: text/plain\r\n\r\nThis is a TLS report.\r\n\
//! --b\r\nContent-Type: application/tlsrpt+json\r\nContent-Disposition: attachment; filename=\"r.json\"\r\n\r\n\
//! {\"report-id\": \"1\"}\r\n--b--\r\n";
//! let e = tlsrpt_core::mail::extract(mail, &Limits::default())?;
//! assert_eq!(&e.json[..], b"{\"report-id\": \"1\"}");
//! let info = e.mail.unwrap();
//! assert_eq!(info.subject.as_deref(), Some("Report Domain: example.net Submitter: sender.example Report-ID: <1@sender.example>"));
//! assert_eq!(info.attachment_filename.as_deref(), Some("r.json"));
//! assert_eq!(info.report_type.as_deref(), Some("tlsrpt"));
//! assert!(e.warnings.is_empty());
//! # Ok::<(), tlsrpt_core::input::InputError>(())
//! ```

use std::borrow::Cow;

use encoding_rs::{Encoding, REPLACEMENT, UTF_8};

use crate::filename::{MEDIA_TYPE_GZIP, MEDIA_TYPE_JSON, TLS_REPORT_DOMAIN, TLS_REPORT_SUBMITTER};
use crate::input::{
    Extracted, InputError, InputKind, InputWarning, InputWarningCode, Limits, decompress_gzip,
    describe_start, is_gzip, is_header_line, looks_like_json,
};

/// Nesting limit for multiparts and attached messages.
const MAX_DEPTH: usize = 16;
/// Limit on the number of MIME parts visited.
const MAX_PARTS: usize = 1000;
/// Longest unfolded value of a header field the reader keeps.
pub const MAX_FIELD: usize = 64 * 1024;
/// Most parameters read from one `Content-Type` or `Content-Disposition`.
pub const MAX_PARAMS: usize = 64;
/// The header fields the reader uses; the others are skipped without being
/// stored, so a message with millions of header lines costs no memory.
const KEPT_FIELDS: [&str; 6] = [
    "Subject",
    TLS_REPORT_DOMAIN,
    TLS_REPORT_SUBMITTER,
    "Content-Type",
    "Content-Disposition",
    "Content-Transfer-Encoding",
];

/// What the e-mail says about the report: header fields of the message
/// that carries it and the labels of the report part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MailInfo {
    /// `Subject`, unfolded, encoded words decoded (RPT-DELIV-10; see
    /// [`crate::filename::parse_subject`]).
    pub subject: Option<String>,
    /// `TLS-Report-Domain` (RPT-DELIV-07): the policy domain.
    pub tls_report_domain: Option<String>,
    /// `TLS-Report-Submitter` (RPT-DELIV-07): the sender's domain.
    pub tls_report_submitter: Option<String>,
    /// The report part's file name (`Content-Disposition` `filename`, else
    /// `Content-Type` `name`); see [`crate::filename::ReportFilename`].
    pub attachment_filename: Option<String>,
    /// The report part's media type, lower case, without parameters.
    pub content_type: Option<String>,
    /// The `report-type` parameter of the `multipart/report` around the
    /// report part, as written.
    pub report_type: Option<String>,
}

/// Extract the report from an e-mail message: find the report part,
/// decode it and inflate it (see the module documentation for the rules
/// and limits). [`crate::input::extract`] calls this for inputs detected as
/// e-mail.
pub fn extract<'a>(message: &'a [u8], limits: &Limits) -> Result<Extracted<'a>, InputError> {
    if message.len() > limits.max_message {
        return Err(InputError::TooLarge {
            what: "e-mail message",
            limit: limits.max_message,
        });
    }
    let root = parse_entity(message, "the message")?;
    let mut w = Walker {
        messages: Vec::new(),
        leaves: Vec::new(),
        seen: Vec::new(),
        warnings: Vec::new(),
        count: 0,
    };
    w.message(root, "", 0)?;
    w.choose(limits)
}

// ---------------------------------------------------------------------------
// Header fields

struct Entity<'a> {
    /// The first occurrence of each of [`KEPT_FIELDS`] present.
    fields: Vec<(String, String)>,
    body: &'a [u8],
}

impl Entity<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The line at `pos` without its line break, and where the next begins.
fn line_at(b: &[u8], pos: usize) -> (&[u8], usize) {
    let rest = &b[pos..];
    match rest.iter().position(|&c| c == b'\n') {
        Some(i) => {
            let line = &rest[..i];
            (line.strip_suffix(b"\r").unwrap_or(line), pos + i + 1)
        }
        None => (rest, b.len()),
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// Split an entity into its header fields (unfolded; only the first of
/// each of [`KEPT_FIELDS`] is kept) and body. The header block ends at an
/// empty line, or at the first line that is neither a field nor a
/// continuation (lenient). A kept field longer than [`MAX_FIELD`] is an
/// error naming `where_`.
fn parse_entity<'a>(b: &'a [u8], where_: &str) -> Result<Entity<'a>, InputError> {
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    // Whether the field being read (and its continuation lines) is kept.
    let mut keeping = false;
    let mut in_field = false;
    let mut pos = 0;
    let body_start = loop {
        if pos >= b.len() {
            break b.len();
        }
        let (line, next) = line_at(b, pos);
        if pos == 0 && line.starts_with(b"From ") && !is_header_line(line) {
            pos = next; // mbox separator line
            continue;
        }
        if line.is_empty() {
            break next;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if !in_field {
                break pos;
            }
            if keeping && let Some((name, v)) = fields.last_mut() {
                let t = trim(line);
                if !t.is_empty() {
                    if v.len() + 1 + t.len() > MAX_FIELD {
                        return Err(too_long(name, where_));
                    }
                    if !v.is_empty() {
                        v.push(b' ');
                    }
                    v.extend_from_slice(t);
                }
            }
            pos = next;
            continue;
        }
        if !is_header_line(line) {
            break pos;
        }
        in_field = true;
        let colon = line.iter().position(|&c| c == b':').unwrap_or(0);
        let name = trim(&line[..colon]);
        let kept = KEPT_FIELDS
            .iter()
            .find(|k| k.as_bytes().eq_ignore_ascii_case(name));
        keeping = kept.is_some_and(|k| !fields.iter().any(|(n, _)| n == k));
        if let (true, Some(k)) = (keeping, kept) {
            let value = trim(&line[colon + 1..]);
            if value.len() > MAX_FIELD {
                return Err(too_long(k, where_));
            }
            fields.push(((*k).to_owned(), value.to_vec()));
        }
        pos = next;
    };
    Ok(Entity {
        fields: fields
            .into_iter()
            .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
            .collect(),
        body: &b[body_start.min(b.len())..],
    })
}

fn too_long(field: &str, where_: &str) -> InputError {
    InputError::Mail(format!(
        "{where_}: the {field} header field is longer than {MAX_FIELD} bytes"
    ))
}

/// A `Content-Type` or `Content-Disposition` value.
struct Params {
    /// The value before the first `;`, trimmed, lower case.
    value: String,
    /// Parameters, names lower case, values unquoted; at most
    /// [`MAX_PARAMS`].
    params: Vec<(String, String)>,
    /// More than [`MAX_PARAMS`] parameters were present.
    too_many: bool,
}

fn parse_params(s: &str) -> Params {
    let (value, rest) = s.split_once(';').unwrap_or((s, ""));
    let b = rest.as_bytes();
    let mut i = 0;
    let mut params = Vec::new();
    let mut too_many = false;
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b';') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let name_start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b';' {
            i += 1;
        }
        let name = rest[name_start..i].trim().to_ascii_lowercase();
        if i >= b.len() || b[i] == b';' {
            continue; // a parameter without a value
        }
        i += 1;
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        let val = if b.get(i) == Some(&b'"') {
            let base = i + 1;
            let mut v = String::new();
            let mut chars = rest[base..].char_indices();
            i = b.len();
            while let Some((j, c)) = chars.next() {
                match c {
                    '"' => {
                        i = base + j + 1;
                        break;
                    }
                    '\\' => {
                        if let Some((_, c)) = chars.next() {
                            v.push(c);
                        }
                    }
                    c => v.push(c),
                }
            }
            while i < b.len() && b[i] != b';' {
                i += 1;
            }
            v
        } else {
            let start = i;
            while i < b.len() && b[i] != b';' {
                i += 1;
            }
            rest[start..i].trim().to_owned()
        };
        if !name.is_empty() {
            if params.len() == MAX_PARAMS {
                too_many = true;
                break;
            }
            params.push((name, val));
        }
    }
    Params {
        value: value.trim().to_ascii_lowercase(),
        params,
        too_many,
    }
}

/// [`parse_params`] of header field `field`, an error with more than
/// [`MAX_PARAMS`] parameters.
fn params_of(s: &str, field: &str, where_: &str) -> Result<Params, InputError> {
    let p = parse_params(s);
    if p.too_many {
        return Err(InputError::Mail(format!(
            "{where_}: the {field} header field has more than {MAX_PARAMS} parameters"
        )));
    }
    Ok(p)
}

impl Params {
    /// A parameter, with RFC 2231 extended values and continuations and
    /// RFC 2047 encoded words decoded.
    fn get(&self, name: &str) -> Option<String> {
        self.get_noted(name).map(|(v, _)| v)
    }

    /// [`Params::get`], with the charset problems met on the way.
    fn get_noted(&self, name: &str) -> Option<(String, Vec<CharsetProblem>)> {
        let ext = format!("{name}*");
        if let Some((_, v)) = self.params.iter().find(|(k, _)| *k == ext) {
            let (text, problem) = decode_2231(v);
            return Some((text, problem.into_iter().collect()));
        }
        let mut segs: Vec<(u32, bool, &str)> = Vec::new();
        for (k, v) in &self.params {
            if let Some(rest) = k.strip_prefix(&ext) {
                let (num, encoded) = match rest.strip_suffix('*') {
                    Some(n) => (n, true),
                    None => (rest, false),
                };
                if let Ok(n) = num.parse::<u32>() {
                    segs.push((n, encoded, v));
                }
            }
        }
        if !segs.is_empty() {
            segs.sort_by_key(|s| s.0);
            let mut charset = "utf-8";
            let mut bytes = Vec::new();
            for (i, (_, encoded, v)) in segs.iter().enumerate() {
                if *encoded {
                    let mut v: &str = v;
                    if i == 0
                        && let Some((cs, rest)) = v.split_once('\'')
                    {
                        charset = cs;
                        v = rest.split_once('\'').map_or(rest, |(_, r)| r);
                    }
                    percent_decode(v, &mut bytes);
                } else {
                    bytes.extend_from_slice(v.as_bytes());
                }
            }
            let (text, problem) = charset_decode(&bytes, charset);
            return Some((text, problem.into_iter().collect()));
        }
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| decode_words(v))
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// The byte written as two hex digits at `b[i..i + 2]`.
fn hex_pair(b: &[u8], i: usize) -> Option<u8> {
    let h = hex(*b.get(i)?)?;
    let l = hex(*b.get(i + 1)?)?;
    Some(h << 4 | l)
}

fn percent_decode(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(c) = hex_pair(b, i + 1)
        {
            out.push(c);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
}

/// An RFC 2231 extended value `charset'language'percent-encoded`.
fn decode_2231(v: &str) -> (String, Option<CharsetProblem>) {
    let (charset, text) = match v.split_once('\'') {
        Some((cs, rest)) => (cs, rest.split_once('\'').map_or(rest, |(_, t)| t)),
        None => ("utf-8", v),
    };
    let mut bytes = Vec::new();
    percent_decode(text, &mut bytes);
    charset_decode(&bytes, charset)
}

/// What went wrong reading text in a declared charset.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CharsetProblem {
    /// A label the Encoding Standard does not know (or maps to its
    /// `replacement` decoder): the text was read as UTF-8.
    Unknown(String),
    /// Bytes not valid in the named encoding, replaced with U+FFFD.
    Malformed(&'static str),
}

impl CharsetProblem {
    /// The warning, for the text described by `what` (e.g. `Subject`).
    fn describe(&self, what: &str) -> InputWarning {
        match self {
            Self::Unknown(label) => {
                let shown: String = label.chars().take(40).collect();
                let more = if shown.len() < label.len() { "..." } else { "" };
                InputWarning::new(
                    InputWarningCode::CharsetUnknown,
                    format!("{what}: unknown charset `{shown}{more}`; read as UTF-8"),
                )
            }
            Self::Malformed(name) => InputWarning::new(
                InputWarningCode::CharsetMalformed,
                format!("{what}: bytes not valid in {name} replaced with U+FFFD"),
            ),
        }
    }
}

/// The decoder for a MIME charset label: the Encoding Standard's, except
/// that an empty label (RFC 2231 allows one) and US-ASCII are read as
/// UTF-8 (the standard reads US-ASCII as windows-1252; mail that labels
/// 8-bit text US-ASCII most often holds UTF-8).
fn encoding_for(label: &str) -> Result<&'static Encoding, CharsetProblem> {
    let label = label.trim();
    if label.is_empty()
        || ["us-ascii", "ascii", "ansi_x3.4-1968"]
            .iter()
            .any(|a| label.eq_ignore_ascii_case(a))
    {
        return Ok(UTF_8);
    }
    match Encoding::for_label(label.as_bytes()) {
        Some(e) if e != REPLACEMENT => Ok(e),
        _ => Err(CharsetProblem::Unknown(label.to_owned())),
    }
}

/// Bytes in a charset as text (see the module documentation, "Charsets"),
/// and what went wrong, if anything.
fn charset_decode(b: &[u8], charset: &str) -> (String, Option<CharsetProblem>) {
    let (encoding, mut problem) = match encoding_for(charset) {
        Ok(e) => (e, None),
        Err(p) => (UTF_8, Some(p)),
    };
    let (text, malformed) = encoding.decode_without_bom_handling(b);
    if malformed && problem.is_none() {
        problem = Some(CharsetProblem::Malformed(encoding.name()));
    }
    (text.into_owned(), problem)
}

/// The content of a `text/*` report part declared in `charset`, as UTF-8;
/// problems are added to `notes`. UTF-8 content, or content without a
/// charset, is returned as it is (the report reader checks it).
fn text_to_utf8<'a>(
    content: Cow<'a, [u8]>,
    charset: Option<&str>,
    part: &str,
    notes: &mut Vec<InputWarning>,
) -> Cow<'a, [u8]> {
    let Some(label) = charset else {
        return content;
    };
    let encoding = match encoding_for(label) {
        Ok(e) if e == UTF_8 => return content,
        Ok(e) => e,
        Err(problem) => {
            notes.push(problem.describe(&format!("part {part}")));
            return content;
        }
    };
    let converted = {
        let (text, malformed) = encoding.decode_with_bom_removal(&content);
        if malformed {
            notes
                .push(CharsetProblem::Malformed(encoding.name()).describe(&format!("part {part}")));
        }
        match text {
            // ASCII in an ASCII-compatible charset: the same bytes.
            Cow::Borrowed(t) if t.len() == content.len() => None,
            t => Some(t.into_owned().into_bytes()),
        }
    };
    converted.map_or(content, Cow::Owned)
}

/// Decode RFC 2047 encoded words (`=?charset?B|Q?text?=`); white space
/// between two encoded words is dropped, and the bytes of adjacent words in
/// the same charset are decoded together. Words that cannot be decoded are
/// kept as written. Also the charset problems met (each once).
fn decode_words(s: &str) -> (String, Vec<CharsetProblem>) {
    if !s.contains("=?") {
        return (s.to_owned(), Vec::new());
    }
    let mut out = String::new();
    let mut problems = Vec::new();
    // The charset and bytes of the run of adjacent words not yet decoded.
    let mut pending: Option<(&str, Vec<u8>)> = None;
    let flush = |pending: &mut Option<(&str, Vec<u8>)>,
                 out: &mut String,
                 problems: &mut Vec<CharsetProblem>| {
        if let Some((charset, bytes)) = pending.take() {
            let (text, problem) = charset_decode(&bytes, charset);
            out.push_str(&text);
            // Each once, and a few at most: a header of words in many
            // made-up charsets stays linear.
            if let Some(p) = problem
                && problems.len() < MAX_PROBLEMS
                && !problems.contains(&p)
            {
                problems.push(p);
            }
        }
    };
    let mut rest = s;
    while let Some(start) = rest.find("=?") {
        let (before, from) = rest.split_at(start);
        if let Some((charset, bytes, len)) = decode_word(from) {
            let adjacent = pending.is_some() && before.trim().is_empty();
            match &mut pending {
                Some((run, run_bytes)) if adjacent && run.eq_ignore_ascii_case(charset) => {
                    run_bytes.extend_from_slice(&bytes);
                }
                _ => {
                    flush(&mut pending, &mut out, &mut problems);
                    if !adjacent {
                        out.push_str(before);
                    }
                    pending = Some((charset, bytes));
                }
            }
            rest = &from[len..];
        } else {
            flush(&mut pending, &mut out, &mut problems);
            out.push_str(before);
            out.push_str("=?");
            rest = &from[2..];
        }
    }
    flush(&mut pending, &mut out, &mut problems);
    out.push_str(rest);
    (out, problems)
}

/// Most charset problems recorded for one header field.
const MAX_PROBLEMS: usize = 4;

/// Longest encoded word considered (RFC 2047 says 75; some senders write
/// longer ones). Bounds the search, so a header full of `=?` stays linear.
const MAX_WORD: usize = 1024;

/// One encoded word at the start of `s` (which starts with `=?`): its
/// charset label, its bytes and the length of the word.
fn decode_word(s: &str) -> Option<(&str, Vec<u8>, usize)> {
    let b = s.as_bytes();
    let max = b.len().min(MAX_WORD);
    let q1 = 2 + b.get(2..max)?.iter().position(|&c| c == b'?')?;
    let charset = s[2..q1].split('*').next().unwrap_or("");
    let enc = *b.get(q1 + 1)?;
    if b.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    let mut end = None;
    for (i, w) in b.get(text_start..max)?.windows(2).enumerate() {
        if w[0] == b' ' || w[0] == b'\t' {
            return None;
        }
        if w == b"?=" {
            end = Some(text_start + i);
            break;
        }
    }
    let end = end?;
    let text = &s[text_start..end];
    let bytes = match enc {
        b'B' | b'b' => base64_decode(text.as_bytes(), usize::MAX).ok()?.0,
        b'Q' | b'q' => {
            let b = text.as_bytes();
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'_' => out.push(b' '),
                    b'=' => {
                        if let Some(c) = hex_pair(b, i + 1) {
                            out.push(c);
                            i += 3;
                            continue;
                        }
                        out.push(b'=');
                    }
                    c => out.push(c),
                }
                i += 1;
            }
            out
        }
        _ => return None,
    };
    Some((charset, bytes, end + 2))
}

// ---------------------------------------------------------------------------
// Transfer encodings

fn b64(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Decode base64, ignoring white space and (RFC 2045 6.8) any other
/// character outside the alphabet; `=` ends a group. The exact output size
/// is counted first, without decoding: past `limit` nothing is allocated
/// and `Err(size)` is returned. On success, the bytes and the number of
/// ignored characters other than white space.
fn base64_decode(input: &[u8], limit: usize) -> Result<(Vec<u8>, usize), usize> {
    let mut size = 0usize;
    let mut n = 0;
    for &c in input {
        if b64(c).is_some() {
            n += 1;
            if n == 4 {
                size += 3;
                n = 0;
            }
        } else if c == b'=' {
            size += [0, 0, 1, 2][n];
            n = 0;
        }
    }
    size += [0, 0, 1, 2][n];
    if size > limit {
        return Err(size);
    }
    let mut out = Vec::with_capacity(size);
    let (mut acc, mut n, mut ignored) = (0u32, 0, 0usize);
    for &c in input {
        if let Some(v) = b64(c) {
            acc = acc << 6 | v;
            n += 1;
            if n == 4 {
                out.extend_from_slice(&acc.to_be_bytes()[1..]);
                acc = 0;
                n = 0;
            }
        } else if c == b'=' {
            flush_b64(&mut out, acc, n);
            acc = 0;
            n = 0;
        } else if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            ignored += 1;
        }
    }
    flush_b64(&mut out, acc, n);
    Ok((out, ignored))
}

fn flush_b64(out: &mut Vec<u8>, acc: u32, n: usize) {
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&((acc >> 2) as u16).to_be_bytes()),
        _ => {}
    }
}

/// Decode quoted-printable (RFC 2045 6.7): `=XX` escapes (either case),
/// soft line breaks, trailing white space removed; a malformed `=` is kept.
/// Stops with `Err(())` as soon as the output would pass `limit`.
fn qp_decode(input: &[u8], limit: usize) -> Result<Vec<u8>, ()> {
    let mut out = Vec::with_capacity(input.len().min(limit));
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        let (line, eol, next) = match rest.iter().position(|&c| c == b'\n') {
            Some(i) => {
                let crlf = i > 0 && rest[i - 1] == b'\r';
                let line = &rest[..if crlf { i - 1 } else { i }];
                (
                    line,
                    if crlf { &b"\r\n"[..] } else { &b"\n"[..] },
                    pos + i + 1,
                )
            }
            None => (rest, &b""[..], input.len()),
        };
        let end = line
            .iter()
            .rposition(|&c| c != b' ' && c != b'\t')
            .map_or(0, |e| e + 1);
        let mut line = &line[..end];
        let soft = line.last() == Some(&b'=');
        if soft {
            line = &line[..line.len() - 1];
        }
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'='
                && let Some(c) = hex_pair(line, i + 1)
            {
                out.push(c);
                i += 3;
                if out.len() > limit {
                    return Err(());
                }
                continue;
            }
            out.push(line[i]);
            i += 1;
            if out.len() > limit {
                return Err(());
            }
        }
        if !soft {
            out.extend_from_slice(eol);
        }
        if out.len() > limit {
            return Err(());
        }
        pos = next;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// The MIME tree

/// The header fields of a message (the outer one, or an attached one).
struct Message {
    subject: Option<String>,
    /// Charset problems of the subject, as warnings.
    subject_notes: Vec<InputWarning>,
    domain: Option<String>,
    submitter: Option<String>,
    /// Part number of the `message/rfc822` part; `None` for the outer.
    attached_at: Option<String>,
}

struct Leaf<'a> {
    path: String,
    media: String,
    filename: Option<String>,
    /// Charset problems of the file name, as warnings.
    filename_notes: Vec<InputWarning>,
    /// The `charset` parameter of a `text/*` part.
    charset: Option<String>,
    encoding: String,
    raw: &'a [u8],
    /// Index in `Walker::messages`.
    message: usize,
    /// `report-type` of the nearest `multipart/report` around the part.
    report_type: Option<String>,
    /// The part is the whole body of its message.
    whole_body: bool,
    /// Index in `Walker::seen`.
    seen: usize,
}

struct Walker<'a> {
    messages: Vec<Message>,
    leaves: Vec<Leaf<'a>>,
    seen: Vec<String>,
    warnings: Vec<InputWarning>,
    count: usize,
}

fn part_name(path: &str) -> String {
    if path.is_empty() {
        "the message".to_owned()
    } else {
        format!("part {path}")
    }
}

fn child_path(path: &str, i: usize) -> String {
    if path.is_empty() {
        (i + 1).to_string()
    } else {
        format!("{path}.{}", i + 1)
    }
}

impl<'a> Walker<'a> {
    /// A message (the outer one, or an attached one at `path`).
    fn message(&mut self, e: Entity<'a>, path: &str, depth: usize) -> Result<(), InputError> {
        let field = |name: &str| e.get(name).map(str::to_owned);
        let (subject, problems) = e.get("Subject").map(decode_words).unzip();
        self.messages.push(Message {
            subject,
            subject_notes: problems
                .unwrap_or_default()
                .iter()
                .map(|p| p.describe("Subject"))
                .collect(),
            domain: field(TLS_REPORT_DOMAIN),
            submitter: field(TLS_REPORT_SUBMITTER),
            attached_at: (!path.is_empty()).then(|| path.to_owned()),
        });
        let msg = self.messages.len() - 1;
        self.entity(e, path, depth, msg, None, true)
    }

    fn entity(
        &mut self,
        e: Entity<'a>,
        path: &str,
        depth: usize,
        msg: usize,
        report_type: Option<&str>,
        message_root: bool,
    ) -> Result<(), InputError> {
        self.count += 1;
        if self.count > MAX_PARTS {
            return Err(InputError::Mail(format!(
                "more than {MAX_PARTS} MIME parts (at part {path})"
            )));
        }
        if depth > MAX_DEPTH {
            return Err(InputError::Mail(format!(
                "MIME parts nested deeper than {MAX_DEPTH} levels (at part {path})"
            )));
        }
        let ct = params_of(
            e.get("Content-Type").unwrap_or("text/plain"),
            "Content-Type",
            &part_name(path),
        )?;
        let media = if ct.value.contains('/') {
            ct.value.clone()
        } else {
            "text/plain".to_owned() // RFC 2045 5.2: an invalid type is text/plain
        };
        if let Some(sub) = media.strip_prefix("multipart/") {
            let where_ = part_name(path);
            let boundary = ct
                .get("boundary")
                .filter(|b| !b.is_empty())
                .ok_or_else(|| {
                    InputError::Mail(format!("{where_}: {media} has no boundary parameter"))
                })?;
            self.seen.push(format!(
                "{} {media}",
                if path.is_empty() { "message" } else { path }
            ));
            let (parts, closed) = split_multipart(e.body, boundary.as_bytes());
            if self.count + parts.len() > MAX_PARTS {
                return Err(InputError::Mail(format!(
                    "more than {MAX_PARTS} MIME parts (in {where_})"
                )));
            }
            if parts.is_empty() {
                return Err(InputError::Mail(format!(
                    "{where_}: the boundary `{boundary}` of its {media} never appears"
                )));
            }
            if !closed {
                self.warnings.push(InputWarning::new(
                    InputWarningCode::UnclosedMultipart,
                    format!("{where_}: {media} has no closing boundary; read to the end"),
                ));
            }
            let rt = if sub == "report" {
                Some(ct.get("report-type").unwrap_or_default())
            } else {
                report_type.map(str::to_owned)
            };
            for (i, part) in parts.into_iter().enumerate() {
                let child = child_path(path, i);
                self.entity(
                    parse_entity(part, &part_name(&child))?,
                    &child,
                    depth + 1,
                    msg,
                    rt.as_deref(),
                    false,
                )?;
            }
            return Ok(());
        }
        let path = if message_root {
            child_path(path, 0)
        } else {
            path.to_owned()
        };
        let disposition = e
            .get("Content-Disposition")
            .map(|d| params_of(d, "Content-Disposition", &part_name(&path)))
            .transpose()?;
        let (filename, filename_problems) = disposition
            .and_then(|d| d.get_noted("filename"))
            .or_else(|| ct.get_noted("name"))
            .filter(|(f, _)| !f.is_empty())
            .unzip();
        let filename_notes = filename_problems
            .unwrap_or_default()
            .iter()
            .map(|p| p.describe(&format!("part {path} file name")))
            .collect();
        let charset = if media.starts_with("text/") {
            ct.get("charset")
        } else {
            None
        };
        let mut desc = format!("{path} {media}");
        if let Some(f) = &filename {
            desc.push_str(&format!(" {f:?}"));
        }
        self.seen.push(desc);
        let encoding = e
            .get("Content-Transfer-Encoding")
            .unwrap_or("")
            .split([';', ' ', '\t'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if media == "message/rfc822" && matches!(encoding.as_str(), "" | "7bit" | "8bit" | "binary")
        {
            let inner = parse_entity(e.body, &part_name(&path))?;
            return self.message(inner, &path, depth + 1);
        }
        self.leaves.push(Leaf {
            path,
            media,
            filename,
            filename_notes,
            charset,
            encoding,
            raw: e.body,
            message: msg,
            report_type: report_type.map(str::to_owned),
            whole_body: message_root,
            seen: self.seen.len() - 1,
        });
        Ok(())
    }

    /// How a part qualifies: `(rank, warning)`; lower ranks are preferred.
    fn classify(&self, leaf: &Leaf<'_>) -> Option<(u8, Option<String>)> {
        let m = &self.messages[leaf.message];
        let in_report = leaf
            .report_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("tlsrpt"));
        let headers = m.domain.is_some() || m.submitter.is_some();
        let named = leaf.filename.as_deref().is_some_and(|f| {
            let f = f.to_ascii_lowercase();
            f.ends_with(".json") || f.ends_with(".gz")
        });
        let p = &leaf.path;
        let media = &leaf.media;
        match media.as_str() {
            MEDIA_TYPE_GZIP | MEDIA_TYPE_JSON => Some((0, None)),
            "application/tlsrpt" => Some((
                1,
                Some(format!(
                    "part {p} is typed application/tlsrpt, without the +json or +gzip suffix; read by its content"
                )),
            )),
            "application/gzip"
            | "application/x-gzip"
            | "application/octet-stream"
            | "application/json"
                if in_report || headers || named =>
            {
                let why = if in_report {
                    "it is inside multipart/report; report-type=tlsrpt"
                } else if headers {
                    "the message has TLS-Report-* header fields"
                } else {
                    "of its file name"
                };
                Some((
                    1,
                    Some(format!(
                        "part {p} is typed {media}, not {MEDIA_TYPE_JSON} or {MEDIA_TYPE_GZIP}; read as the report because {why}"
                    )),
                ))
            }
            "text/plain" if named || (leaf.whole_body && headers) => {
                let why = if named {
                    "of its file name"
                } else {
                    "it is the whole body of a message with TLS-Report-* header fields"
                };
                Some((
                    2,
                    Some(format!(
                        "part {p} is typed text/plain, not {MEDIA_TYPE_JSON} or {MEDIA_TYPE_GZIP}; read as the report because {why}"
                    )),
                ))
            }
            _ => None,
        }
    }

    fn choose(mut self, limits: &Limits) -> Result<Extracted<'a>, InputError> {
        let mut cands: Vec<(u8, Option<String>, usize)> = Vec::new();
        for (i, leaf) in self.leaves.iter().enumerate() {
            if let Some((rank, warning)) = self.classify(leaf) {
                cands.push((rank, warning, i));
            }
        }
        cands.sort_by_key(|c| c.0);
        let exact = cands.iter().filter(|c| c.0 == 0).count();
        for (rank, mislabel, i) in cands {
            let leaf = &self.leaves[i];
            let p = &leaf.path;
            let media = &leaf.media;
            let (decoded, ignored) = decode_part(leaf, limits.max_attachment)?;
            let declared_gzip = media.ends_with("gzip");
            let mut notes = Vec::new();
            let foreign = if ignored > 0 {
                notes.push(InputWarning::new(
                    InputWarningCode::Base64ForeignCharacters,
                    format!(
                        "part {p}: {ignored} characters outside the base64 alphabet ignored (RFC 2045 6.8)"
                    ),
                ));
                format!("; its base64 had {ignored} characters outside the alphabet")
            } else {
                String::new()
            };
            let (json, gzip): (Cow<'a, [u8]>, bool) = if is_gzip(&decoded) {
                if rank == 0 && !declared_gzip {
                    notes.push(InputWarning::new(
                        InputWarningCode::MislabelledPart,
                        format!("part {p} is typed {media} but holds gzip data; decompressed"),
                    ));
                }
                let inflated =
                    decompress_gzip(&decoded, limits.max_decompressed).map_err(|e| match e {
                        InputError::Gzip(m) => InputError::Gzip(format!("part {p} ({media}): {m}")),
                        other => other,
                    })?;
                (Cow::Owned(inflated), true)
            } else {
                let json_like = looks_like_json(&decoded);
                if declared_gzip && rank == 0 && !json_like {
                    let name = leaf
                        .filename
                        .as_ref()
                        .map(|f| format!(", {f:?}"))
                        .unwrap_or_default();
                    return Err(InputError::Gzip(format!(
                        "part {p} ({media}{name}) is not gzip data: it starts with {}{foreign}",
                        describe_start(&decoded)
                    )));
                }
                if declared_gzip && json_like {
                    notes.push(InputWarning::new(
                        InputWarningCode::MislabelledPart,
                        format!(
                            "part {p} is typed {media} but holds uncompressed JSON; read as is"
                        ),
                    ));
                }
                let text = text_to_utf8(decoded, leaf.charset.as_deref(), p, &mut notes);
                if text.len() > limits.max_decompressed {
                    return Err(InputError::TooLarge {
                        what: "report JSON",
                        limit: limits.max_decompressed,
                    });
                }
                (text, false)
            };
            if rank > 0 && !looks_like_json(&json) {
                self.seen[leaf.seen].push_str(" (not JSON, passed over)");
                continue;
            }
            let m = &self.messages[leaf.message];
            let mut warnings = std::mem::take(&mut self.warnings);
            warnings
                .extend(mislabel.map(|m| InputWarning::new(InputWarningCode::MislabelledPart, m)));
            warnings.extend(notes);
            warnings.extend(m.subject_notes.iter().cloned());
            warnings.extend(leaf.filename_notes.iter().cloned());
            if exact > 1 {
                warnings.push(InputWarning::new(
                    InputWarningCode::SeveralReportParts,
                    format!("the message has {exact} report parts; only part {p} was read"),
                ));
            }
            if let Some(at) = &m.attached_at {
                warnings.push(InputWarning::new(
                    InputWarningCode::AttachedMessage,
                    format!("the report is in an attached message (part {at}, message/rfc822)"),
                ));
            }
            for (v, name) in [
                (&m.domain, TLS_REPORT_DOMAIN),
                (&m.submitter, TLS_REPORT_SUBMITTER),
            ] {
                if v.is_none() {
                    warnings.push(InputWarning::new(
                        InputWarningCode::MissingHeaderField,
                        format!("the message has no {name} header field (RFC 8460 5.3)"),
                    ));
                }
            }
            match leaf.report_type.as_deref() {
                Some("") => warnings.push(InputWarning::new(
                    InputWarningCode::ReportTypeMissing,
                    "the multipart/report around the report has no report-type parameter"
                        .to_owned(),
                )),
                Some(t) if !t.eq_ignore_ascii_case("tlsrpt") => warnings.push(InputWarning::new(
                    InputWarningCode::ReportTypeNotTlsrpt,
                    format!(
                        "the multipart/report around the report has report-type `{t}`, not `tlsrpt`"
                    ),
                )),
                _ => {}
            }
            return Ok(Extracted {
                json,
                kind: InputKind::Email,
                gzip,
                mail: Some(MailInfo {
                    subject: m.subject.clone(),
                    tls_report_domain: m.domain.clone(),
                    tls_report_submitter: m.submitter.clone(),
                    attachment_filename: leaf.filename.clone(),
                    content_type: Some(leaf.media.clone()),
                    report_type: leaf.report_type.clone(),
                }),
                warnings,
            });
        }
        Err(InputError::NoReportPart { parts: self.seen })
    }
}

/// Decode a part's transfer encoding into at most `limit` bytes; the
/// number of foreign base64 characters ignored.
fn decode_part<'a>(leaf: &Leaf<'a>, limit: usize) -> Result<(Cow<'a, [u8]>, usize), InputError> {
    let too_large = || InputError::TooLarge {
        what: "decoded e-mail part",
        limit,
    };
    match leaf.encoding.as_str() {
        "" | "7bit" | "8bit" | "binary" => {
            if leaf.raw.len() > limit {
                return Err(too_large());
            }
            Ok((Cow::Borrowed(leaf.raw), 0))
        }
        "base64" => {
            let (b, ignored) = base64_decode(leaf.raw, limit).map_err(|_| too_large())?;
            Ok((Cow::Owned(b), ignored))
        }
        "quoted-printable" => Ok((
            Cow::Owned(qp_decode(leaf.raw, limit).map_err(|()| too_large())?),
            0,
        )),
        other => Err(InputError::Mail(format!(
            "part {}: unsupported Content-Transfer-Encoding `{other}`",
            leaf.path
        ))),
    }
}

/// The parts of a multipart body (RFC 2046 5.1.1): the content between
/// delimiter lines `--boundary` (trailing white space allowed), without
/// the line break before each delimiter; the preamble and epilogue are
/// dropped. Also whether the close delimiter `--boundary--` was found.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> (Vec<&'a [u8]>, bool) {
    let mut parts = Vec::new();
    // More than the whole message may hold is an error for the caller;
    // collecting further slices would only cost memory.
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let (line, next) = line_at(body, pos);
        if let Some(rest) = line
            .strip_prefix(b"--")
            .and_then(|l| l.strip_prefix(boundary))
        {
            let close = rest.starts_with(b"--");
            let tail = if close { &rest[2..] } else { rest };
            if tail.iter().all(|&c| c == b' ' || c == b'\t') {
                if let Some(s) = start {
                    let mut end = pos;
                    if end > s && body[end - 1] == b'\n' {
                        end -= 1;
                        if end > s && body[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                    parts.push(&body[s..end]);
                    if parts.len() > MAX_PARTS {
                        return (parts, false);
                    }
                }
                if close {
                    return (parts, true);
                }
                start = Some(next);
            }
        }
        pos = next;
    }
    if let Some(s) = start {
        parts.push(&body[s.min(body.len())..]);
    }
    (parts, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_counts_before_decoding() {
        assert_eq!(base64_decode(b"aGVsbG8=", 5).unwrap().0, b"hello");
        assert_eq!(base64_decode(b"aGVsbG8=", 4), Err(5));
        assert_eq!(base64_decode(b"aGVs\r\nbG8", 100).unwrap().0, b"hello");
        assert_eq!(
            base64_decode(b"aG<V>sbG8=", 100).unwrap(),
            (b"hello".to_vec(), 2)
        );
        assert_eq!(base64_decode(b"aQ==aQ==", 100).unwrap().0, b"ii");
    }

    #[test]
    fn quoted_printable() {
        assert_eq!(
            qp_decode(b"{\"a\"=3A =\r\n1}  \r\nx=zz", 100).unwrap(),
            b"{\"a\": 1}\r\nx=zz"
        );
        assert!(qp_decode(b"=41=41=41", 2).is_err());
        assert_eq!(qp_decode(b"=41=41", 2).unwrap(), b"AA");
    }

    #[test]
    fn params_2231_and_2047() {
        let p = parse_params(
            "attachment; filename*0*=utf-8''r%C3%A9; filename*1=\"port.json\"; x=\"a\\\"b;c\"",
        );
        assert_eq!(p.value, "attachment");
        assert_eq!(p.get("filename").as_deref(), Some("réport.json"));
        assert_eq!(p.get("x").as_deref(), Some("a\"b;c"));
        let p = parse_params("a/b; name=\"=?utf-8?B?csOpLmpzb24=?= =?ISO-8859-1?Q?_x=E9?=\"");
        assert_eq!(p.get("name").as_deref(), Some("ré.json xé"));
        assert_eq!(decode_words("=?bogus"), ("=?bogus".to_owned(), vec![]));
        assert_eq!(
            decode_words("=?utf-8?Q?a b?="),
            ("=?utf-8?Q?a b?=".to_owned(), vec![])
        );
        // Linear on a header full of unfinished words.
        let junk = "=?a?b?x".repeat(20_000);
        assert_eq!(decode_words(&junk), (junk, vec![]));
        // And on one full of words in made-up charsets: a few problems.
        let many: String = (0..20_000).map(|i| format!("=?x-{i}?Q?a?= ")).collect();
        let (text, problems) = decode_words(&many);
        assert_eq!(text, "a".repeat(20_000) + " ");
        assert_eq!(problems.len(), MAX_PROBLEMS);
        assert_eq!(problems[0], CharsetProblem::Unknown("x-0".to_owned()));
    }

    /// The text and problems of a header value with encoded words.
    fn words(s: &str) -> (String, Vec<CharsetProblem>) {
        decode_words(s)
    }

    #[test]
    fn windows_1252_is_not_latin_1() {
        // 0x80 is the euro sign and 0x93/0x94 curly quotes in windows-1252
        // (C1 controls in ISO-8859-1 as written).
        assert_eq!(
            words("=?windows-1252?Q?=80_5_=93TLS=94?="),
            ("€ 5 \u{201c}TLS\u{201d}".to_owned(), vec![])
        );
        assert_eq!(
            words("=?cp1252?B?gJOUhA==?="),
            ("€\u{201c}\u{201d}\u{201e}".to_owned(), vec![])
        );
        // The Encoding Standard reads ISO-8859-1 labels as windows-1252.
        assert_eq!(words("=?ISO-8859-1?Q?=E9=80?=").0, "é€");
        // RFC 2231 values go through the same decoders.
        assert_eq!(
            decode_2231("windows-1252'en'%93r%E9port%94.json"),
            ("\u{201c}réport\u{201d}.json".to_owned(), None)
        );
    }

    #[test]
    fn other_charsets() {
        // ISO-8859-15: 0xA4 is the euro sign (the currency sign ¤ in -1).
        assert_eq!(words("=?ISO-8859-15?Q?=A4?=").0, "€");
        assert_eq!(words("=?iso-8859-1?Q?=A4?=").0, "¤");
        assert_eq!(
            words("Re: =?KOI8-R?B?8NLJ18XU?= world"),
            ("Re: Привет world".to_owned(), vec![])
        );
        assert_eq!(
            words("=?Shift_JIS?B?g2WDWINn?="),
            ("テスト".to_owned(), vec![])
        );
        // A character split between two adjacent words is kept whole.
        assert_eq!(
            words("=?shift_jis?B?g4yD?=\r\n =?SHIFT_JIS?B?fIFbg2c=?= x"),
            ("レポート x".to_owned(), vec![])
        );
        assert_eq!(words("=?utf-16le?B?QgA=?=").0, "B");
        // US-ASCII is read as UTF-8, its superset.
        assert_eq!(words("=?us-ascii?Q?caf=C3=A9?=").0, "café");
    }

    #[test]
    fn charset_problems() {
        // Unknown label: read as UTF-8 (lossy), with a problem.
        assert_eq!(
            words("=?x-unknown?Q?caf=C3=A9_=FF?="),
            (
                "café \u{fffd}".to_owned(),
                vec![CharsetProblem::Unknown("x-unknown".to_owned())]
            )
        );
        // A label the standard maps to its replacement decoder is unknown
        // here too (the replacement decoder would drop the whole text).
        assert_eq!(
            words("=?iso-2022-kr?Q?abc?="),
            (
                "abc".to_owned(),
                vec![CharsetProblem::Unknown("iso-2022-kr".to_owned())]
            )
        );
        // Malformed bytes: U+FFFD, one problem however many words.
        assert_eq!(
            words("=?shift_jis?B?gw==?= x =?shift_jis?B?gw==?="),
            (
                "\u{fffd} x \u{fffd}".to_owned(),
                vec![CharsetProblem::Malformed("Shift_JIS")]
            )
        );
        assert_eq!(
            words("=?utf-8?Q?=FF?="),
            (
                "\u{fffd}".to_owned(),
                vec![CharsetProblem::Malformed("UTF-8")]
            )
        );
        let w = CharsetProblem::Unknown("x".repeat(50)).describe("Subject");
        assert_eq!(w.code, InputWarningCode::CharsetUnknown);
        assert_eq!(
            w.message,
            format!(
                "Subject: unknown charset `{}...`; read as UTF-8",
                "x".repeat(40)
            )
        );
        assert_eq!(
            CharsetProblem::Malformed("Shift_JIS").describe("part 2"),
            "part 2: bytes not valid in Shift_JIS replaced with U+FFFD"
        );
    }

    /// A message whose subject is `subject` and whose only part is a
    /// `text/plain` report part with the given `Content-Type` parameters
    /// and body.
    fn text_report(subject: &str, params: &str, body: &[u8]) -> Vec<u8> {
        let mut m = format!(
            "Subject: {subject}\r\nTLS-Report-Domain: example.net\r\n\
             TLS-Report-Submitter: sender.example\r\n\
             Content-Type: multipart/report; report-type=tlsrpt; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain{params}\r\n\
             Content-Disposition: attachment; filename=r.json\r\n\r\n"
        )
        .into_bytes();
        m.extend_from_slice(body);
        m.extend_from_slice(b"\r\n--b--\r\n");
        m
    }

    const MISLABEL: &str = "part 1 is typed text/plain, not application/tlsrpt+json or \
                            application/tlsrpt+gzip; read as the report because of its file name";

    #[test]
    fn text_part_charsets() {
        // windows-1252 text becomes UTF-8.
        let m = text_report(
            "r",
            "; charset=windows-1252",
            b"{\"a\": \"\x93x\x94 \x80\"}",
        );
        let e = extract(&m, &Limits::default()).unwrap();
        assert_eq!(
            std::str::from_utf8(&e.json),
            Ok("{\"a\": \"\u{201c}x\u{201d} €\"}")
        );
        assert_eq!(e.warnings, [MISLABEL]);
        // UTF-16 is recognised as JSON once decoded.
        let body = b"{\0\"\0a\0\"\0:\0\"\0\xe9\0\"\0}\0";
        let m = text_report("r", "; charset=\"UTF-16LE\"", body);
        let e = extract(&m, &Limits::default()).unwrap();
        assert_eq!(std::str::from_utf8(&e.json), Ok("{\"a\":\"é\"}"));
        // ASCII in an ASCII-compatible charset is used in place.
        let m = text_report("r", "; charset=iso-8859-15", b"{\"a\": 1}");
        let e = extract(&m, &Limits::default()).unwrap();
        assert!(
            matches!(e.json, Cow::Borrowed(b"{\"a\": 1}")),
            "{:?}",
            e.json
        );
        // UTF-8 is passed on as it is, even when broken (the report reader
        // says where).
        let m = text_report("r", "; charset=utf-8", b"{\"a\": \"\xff\"}");
        let e = extract(&m, &Limits::default()).unwrap();
        assert_eq!(&e.json[..], b"{\"a\": \"\xff\"}");
        assert_eq!(e.warnings, [MISLABEL]);
        // An unknown charset: the bytes as they are, with a warning.
        let m = text_report("r", "; charset=x-klingon", b"{\"a\": 1}");
        let e = extract(&m, &Limits::default()).unwrap();
        assert_eq!(&e.json[..], b"{\"a\": 1}");
        assert_eq!(
            e.warnings,
            [
                MISLABEL,
                "part 1: unknown charset `x-klingon`; read as UTF-8"
            ]
        );
        // Malformed bytes in a known charset: U+FFFD, with a warning.
        let m = text_report("r", "; charset=shift_jis", b"{\"a\": \"\x83\"}");
        let e = extract(&m, &Limits::default()).unwrap();
        assert_eq!(std::str::from_utf8(&e.json), Ok("{\"a\": \"\u{fffd}\"}"));
        assert_eq!(
            e.warnings,
            [
                MISLABEL,
                "part 1: bytes not valid in Shift_JIS replaced with U+FFFD"
            ]
        );
    }

    #[test]
    fn header_charset_warnings() {
        let m = text_report(
            "=?x-unknown?Q?Report_=FF?= =?Shift_JIS?B?g2WDWINn?=",
            "; name*=x-unknown''r%FF.json",
            b"{}",
        );
        // The Content-Disposition file name wins over the `name` parameter;
        // give the part only a `name`.
        let m = String::from_utf8_lossy(&m)
            .replace("Content-Disposition: attachment; filename=r.json\r\n", "")
            .into_bytes();
        let e = extract(&m, &Limits::default()).unwrap();
        let info = e.mail.unwrap();
        assert_eq!(info.subject.as_deref(), Some("Report \u{fffd}テスト"));
        assert_eq!(info.attachment_filename.as_deref(), Some("r\u{fffd}.json"));
        assert_eq!(
            e.warnings,
            [
                "part 1 is typed text/plain, not application/tlsrpt+json or \
                 application/tlsrpt+gzip; read as the report because of its file name",
                "Subject: unknown charset `x-unknown`; read as UTF-8",
                "part 1 file name: unknown charset `x-unknown`; read as UTF-8",
            ]
        );
    }

    #[test]
    fn multipart_split() {
        let (parts, closed) = split_multipart(
            b"pre\r\n--b\r\none\r\n--b \r\ntwo\n--bb\n--b--\r\nepi",
            b"b",
        );
        assert_eq!(parts, [&b"one"[..], &b"two\n--bb"[..]]);
        assert!(closed);
        let (parts, closed) = split_multipart(b"--b\n--b\nx", b"b");
        assert_eq!(parts, [&b""[..], &b"x"[..]]);
        assert!(!closed);
    }

    #[test]
    fn encoded_words_are_searched_over_max_word_bytes() {
        // `=?utf-8?q?` + text + `?=`: 12 bytes around the text.
        let word = |len: usize| format!("=?utf-8?q?{}?=", "a".repeat(len - 12));
        assert_eq!(word(MAX_WORD).len(), MAX_WORD);
        let (s, problems) = words(&word(MAX_WORD));
        assert_eq!(s, "a".repeat(MAX_WORD - 12));
        assert!(problems.is_empty());
        // One byte longer: not decoded, kept as written.
        let long = word(MAX_WORD + 1);
        assert_eq!(words(&long).0, long);
    }
}
