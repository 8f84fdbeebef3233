//! Report file names (RFC 8460 5.1) and the e-mail conventions of 5.3
//! (RPT-DELIV-02 to -05, -07, -08, -10).
//!
//! ```text
//! filename = sender "!" policy-domain "!" begin-timestamp
//!            "!" end-timestamp [ "!" unique-id ] "." extension
//! ```
//!
//! [`ReportFilename::parse`] reads a file name: the extension in any case
//! (`json` or `json.gz` only), `sender` and `policy-domain` as RFC 5321
//! domains in A-labels (U-labels are an error, RPT-DELIV-04; `xn--` labels
//! must be valid Punycode), timestamps as `1*DIGIT` fitting `u64`, and
//! `unique-id` as `1*(ALPHA / DIGIT)`. Errors name the field and the byte
//! offset. [`ReportFilename`]'s `Display` writes the canonical form: domains
//! and extension in lower case. [`ReportFilename::for_report`] builds the
//! name of a report, converting U-labels to A-labels.
//!
//! [`subject`] writes the RFC 5.3 `Subject`; [`parse_subject`] reads one,
//! folded or not, including the Microsoft form of the Report-ID
//! (`<digits>+<domain>` without `@` or angle brackets).
//!
//! ```
//! use tlsrpt_core::filename::ReportFilename;
//!
//! let f: ReportFilename = "mail.sndr.example.com!example.net!1470013207!1470186007!001.json.gz".parse()?;
//! assert_eq!(f.sender, "mail.sndr.example.com");
//! assert_eq!(f.policy_domain, "example.net");
//! assert_eq!((f.begin, f.end), (1_470_013_207, 1_470_186_007));
//! assert_eq!(f.unique_id.as_deref(), Some("001"));
//! assert!(f.gzip);
//! assert_eq!(f.to_string(), "mail.sndr.example.com!example.net!1470013207!1470186007!001.json.gz");
//! # Ok::<(), tlsrpt_core::filename::FilenameError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use mta_sts_core::display::Escaped;

use crate::report::Report;

/// Header field naming the policy domain (RFC 8460 5.3, RPT-DELIV-07).
pub const TLS_REPORT_DOMAIN: &str = "TLS-Report-Domain";
/// Header field naming the sender's domain (RFC 8460 5.3, RPT-DELIV-07).
pub const TLS_REPORT_SUBMITTER: &str = "TLS-Report-Submitter";
/// Media type of an uncompressed report (RFC 8460 6.4).
pub const MEDIA_TYPE_JSON: &str = "application/tlsrpt+json";
/// Media type of a gzip-compressed report (RFC 8460 6.5).
pub const MEDIA_TYPE_GZIP: &str = "application/tlsrpt+gzip";
/// `report-type` of the `multipart/report` carrying a report (RFC 8460
/// 5.3, 6.6).
pub const REPORT_TYPE: &str = "tlsrpt";

/// An invalid file name or Subject, or a report that cannot be named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilenameError {
    /// A field does not follow its grammar.
    #[error("byte {offset}: invalid {field}: {reason}")]
    Syntax {
        /// The field, e.g. `policy-domain`.
        field: &'static str,
        /// Byte offset in the input.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A domain that cannot be converted to A-labels.
    #[error("{field} `{}` cannot be converted to A-labels: {reason}", Escaped(.value))]
    Idna {
        /// The field.
        field: &'static str,
        /// The domain as given.
        value: String,
        /// Why.
        reason: String,
    },
    /// The report has no `policy-domain` to name the file after.
    #[error("the report has no policy-domain")]
    NoPolicyDomain,
    /// The report's policies name different policy domains.
    #[error(
        "the report's policies name different policy domains: `{}` and `{}`",
        Escaped(.first),
        Escaped(.other)
    )]
    MixedPolicyDomains {
        /// The first policy domain.
        first: String,
        /// A different one.
        other: String,
    },
    /// A date before 1970, which a file name timestamp cannot hold.
    #[error("{field} ({secs} s) is before 1970-01-01 and cannot be a file name timestamp")]
    NegativeTimestamp {
        /// `start-datetime` or `end-datetime`.
        field: &'static str,
        /// Unix seconds.
        secs: i64,
    },
    /// `TLS-Report-Submitter` is not the domain of `contact-info`
    /// (RPT-DELIV-08).
    #[error(
        "TLS-Report-Submitter `{submitter}` is not the domain of contact-info `{contact_info}`"
    )]
    SubmitterMismatch {
        /// The report's `contact-info`.
        contact_info: String,
        /// The submitter domain.
        submitter: String,
    },
}

type R<T> = Result<T, FilenameError>;

fn syntax(field: &'static str, offset: usize, reason: &'static str) -> FilenameError {
    FilenameError::Syntax {
        field,
        offset,
        reason,
    }
}

/// Check an RFC 5321 `Domain` in A-labels (`sub-domain *("." sub-domain)`,
/// labels of letters, digits and inner hyphens, at most 63 octets, at
/// most 255 in all); `xn--` labels must be valid Punycode. `base` is the
/// offset of `s` in the input, for errors.
fn check_domain(s: &str, field: &'static str, base: usize, min_labels: usize) -> R<()> {
    if s.is_empty() {
        return Err(syntax(field, base, "empty domain"));
    }
    if s.len() > 255 {
        return Err(syntax(field, base, "longer than 255 octets"));
    }
    let mut off = 0;
    let mut labels = 0;
    for label in s.split('.') {
        let at = base + off;
        let b = label.as_bytes();
        if b.is_empty() {
            return Err(syntax(field, at, "empty label"));
        }
        if b.len() > 63 {
            return Err(syntax(field, at, "label longer than 63 octets"));
        }
        for (i, &c) in b.iter().enumerate() {
            if !c.is_ascii() {
                return Err(syntax(
                    field,
                    at + i,
                    "not ASCII: internationalized names must be written as A-labels (xn--)",
                ));
            }
            if !(c.is_ascii_alphanumeric() || c == b'-') {
                return Err(syntax(
                    field,
                    at + i,
                    "only letters, digits and `-` are allowed in a label",
                ));
            }
        }
        if b[0] == b'-' {
            return Err(syntax(field, at, "label starts with `-`"));
        }
        if b[b.len() - 1] == b'-' {
            return Err(syntax(field, at + b.len() - 1, "label ends with `-`"));
        }
        if b.len() > 4
            && b[..4].eq_ignore_ascii_case(b"xn--")
            && idna::punycode::decode(&label[4..]).is_none()
        {
            return Err(syntax(field, at, "invalid A-label (bad Punycode)"));
        }
        labels += 1;
        off += b.len() + 1;
    }
    if labels < min_labels {
        return Err(syntax(field, base, "expected at least two labels"));
    }
    Ok(())
}

/// A domain in lower-case A-labels: U-labels converted (UTS 46), one
/// trailing dot removed, then checked as an RFC 5321 domain.
fn to_a_labels(d: &str, field: &'static str) -> R<String> {
    let trimmed = d.strip_suffix('.').unwrap_or(d);
    let a = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_strict(trimmed).map_err(|e| FilenameError::Idna {
            field,
            value: d.to_owned(),
            reason: e.to_string(),
        })?
    };
    check_domain(&a, field, 0, 1)?;
    Ok(a)
}

fn check_unique_id(u: &str, base: usize) -> R<()> {
    if u.is_empty() {
        return Err(syntax(
            "unique-id",
            base,
            "empty (expected letters and digits)",
        ));
    }
    match u.bytes().position(|c| !c.is_ascii_alphanumeric()) {
        Some(i) => Err(syntax(
            "unique-id",
            base + i,
            "only letters and digits are allowed",
        )),
        None => Ok(()),
    }
}

fn parse_timestamp(s: &str, field: &'static str, base: usize) -> R<u64> {
    if s.is_empty() {
        return Err(syntax(field, base, "expected digits"));
    }
    let mut v: u64 = 0;
    for (i, c) in s.bytes().enumerate() {
        if !c.is_ascii_digit() {
            return Err(syntax(field, base + i, "expected a digit"));
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or_else(|| syntax(field, base, "larger than 18446744073709551615"))?;
    }
    Ok(v)
}

/// A report file name (RFC 8460 5.1; RPT-DELIV-02, -03).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportFilename {
    /// The sender's domain (the domain of `contact-info`, RPT-DELIV-05),
    /// A-labels, lower case.
    pub sender: String,
    /// The policy domain, A-labels, lower case.
    pub policy_domain: String,
    /// Start of the report period, Unix seconds.
    pub begin: u64,
    /// End of the report period, Unix seconds.
    pub end: u64,
    /// Distinguishes simultaneous reports (`1*(ALPHA / DIGIT)`).
    pub unique_id: Option<String>,
    /// `.json.gz` when true, `.json` otherwise (RPT-DELIV-03).
    pub gzip: bool,
}

impl ReportFilename {
    /// Parse a file name (see the module documentation). Domains are
    /// lower-cased; `unique-id` is kept as written.
    ///
    /// ```
    /// use tlsrpt_core::filename::{FilenameError, ReportFilename};
    /// let f = ReportFilename::parse("Google.com!Example.com!1778544000!1778630399!001.JSON.GZ")?;
    /// assert_eq!((f.sender.as_str(), f.gzip), ("google.com", true));
    /// let e = ReportFilename::parse("google.com!example.com!17785x!1778630399.json").unwrap_err();
    /// assert_eq!(e, FilenameError::Syntax { field: "begin-timestamp", offset: 28, reason: "expected a digit" });
    /// # Ok::<(), FilenameError>(())
    /// ```
    pub fn parse(s: &str) -> R<Self> {
        let lower = s.to_ascii_lowercase();
        let (stem_len, gzip) = if lower.ends_with(".json.gz") {
            (s.len() - 8, true)
        } else if lower.ends_with(".json") {
            (s.len() - 5, false)
        } else {
            // The extension begins after the first `.` of the last field.
            let last = s.rfind('!').map_or(0, |i| i + 1);
            let at = s[last..].find('.').map_or(s.len(), |i| last + i + 1);
            return Err(syntax("extension", at, "expected `.json` or `.json.gz`"));
        };
        let stem = &s[..stem_len];
        let mut fields: Vec<(usize, &str)> = Vec::with_capacity(5);
        let mut off = 0;
        for f in stem.split('!') {
            fields.push((off, f));
            off += f.len() + 1;
        }
        const NAMES: [&str; 4] = [
            "sender",
            "policy-domain",
            "begin-timestamp",
            "end-timestamp",
        ];
        if let Some(missing) = NAMES.get(fields.len()) {
            return Err(syntax(
                missing,
                stem_len,
                "missing (expected `!` before it)",
            ));
        }
        if let Some((at, _)) = fields.get(5) {
            return Err(syntax(
                "unique-id",
                at - 1,
                "unexpected `!` (at most five fields)",
            ));
        }
        let (o0, sender) = fields[0];
        let (o1, policy) = fields[1];
        check_domain(sender, "sender", o0, 1)?;
        check_domain(policy, "policy-domain", o1, 1)?;
        let begin = parse_timestamp(fields[2].1, "begin-timestamp", fields[2].0)?;
        let end = parse_timestamp(fields[3].1, "end-timestamp", fields[3].0)?;
        let unique_id = match fields.get(4) {
            Some(&(o, u)) => {
                check_unique_id(u, o)?;
                Some(u.to_owned())
            }
            None => None,
        };
        Ok(Self {
            sender: sender.to_ascii_lowercase(),
            policy_domain: policy.to_ascii_lowercase(),
            begin,
            end,
            unique_id,
            gzip,
        })
    }

    /// The file name of `report` (RPT-DELIV-02 to -05): `policy-domain`
    /// from the report's policies (they must agree), `begin`/`end` from its
    /// date range (Unix seconds), `sender` as given (the domain of
    /// `contact-info`); U-labels are converted to A-labels.
    ///
    /// ```
    /// use tlsrpt_core::{filename::ReportFilename, Report};
    /// let json = r#"{"organization-name":"Org","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"tlsrpt@bücher.example","report-id":"1","policies":[{"policy":{"policy-type":"no-policy-found","policy-domain":"Bücher.example"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0},"failure-details":[]}]}"#;
    /// let r = Report::parse_strict(json.as_bytes()).unwrap().value;
    /// let f = ReportFilename::for_report(&r, "mail.bücher.example", Some("1"), true)?;
    /// assert_eq!(f.to_string(), "mail.xn--bcher-kva.example!xn--bcher-kva.example!1459468800!1459555199!1.json.gz");
    /// # Ok::<(), tlsrpt_core::filename::FilenameError>(())
    /// ```
    pub fn for_report(
        report: &Report<'_>,
        sender: &str,
        unique_id: Option<&str>,
        gzip: bool,
    ) -> R<Self> {
        let sender = to_a_labels(sender, "sender")?;
        let mut policy: Option<String> = None;
        for p in &report.policies {
            if let Some(d) = &p.policy.policy_domain {
                let a = to_a_labels(d, "policy-domain")?;
                match &policy {
                    None => policy = Some(a),
                    Some(first) if *first != a => {
                        return Err(FilenameError::MixedPolicyDomains {
                            first: first.clone(),
                            other: a,
                        });
                    }
                    Some(_) => {}
                }
            }
        }
        let policy_domain = policy.ok_or(FilenameError::NoPolicyDomain)?;
        let secs = |field, secs: i64| {
            u64::try_from(secs).map_err(|_| FilenameError::NegativeTimestamp { field, secs })
        };
        let begin = secs("start-datetime", report.date_range.start.secs)?;
        let end = secs("end-datetime", report.date_range.end.secs)?;
        if let Some(u) = unique_id {
            check_unique_id(u, 0)?;
        }
        Ok(Self {
            sender,
            policy_domain,
            begin,
            end,
            unique_id: unique_id.map(str::to_owned),
            gzip,
        })
    }

    /// `json.gz` or `json`.
    pub fn extension(&self) -> &'static str {
        if self.gzip { "json.gz" } else { "json" }
    }

    /// The media type of the file: [`MEDIA_TYPE_GZIP`] or
    /// [`MEDIA_TYPE_JSON`] (RPT-DELIV-06, -14).
    pub fn media_type(&self) -> &'static str {
        if self.gzip {
            MEDIA_TYPE_GZIP
        } else {
            MEDIA_TYPE_JSON
        }
    }
}

impl fmt::Display for ReportFilename {
    /// The canonical form: domains and extension in lower case.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}!{}!{}!{}",
            self.sender.to_ascii_lowercase(),
            self.policy_domain.to_ascii_lowercase(),
            self.begin,
            self.end
        )?;
        if let Some(u) = &self.unique_id {
            write!(f, "!{u}")?;
        }
        write!(f, ".{}", self.extension())
    }
}

impl FromStr for ReportFilename {
    type Err = FilenameError;

    fn from_str(s: &str) -> R<Self> {
        Self::parse(s)
    }
}

/// The RFC 8460 5.3 Subject (RPT-DELIV-10): `Report Domain: <d>
/// Submitter: <s> Report-ID: <left@right>`, on one line (folding is the
/// message writer's job).
///
/// ```
/// assert_eq!(
///     tlsrpt_core::filename::subject("example.net", "mail.sender.example.com", "735ff.e317+bf22029", "mailexample.net"),
///     "Report Domain: example.net Submitter: mail.sender.example.com Report-ID: <735ff.e317+bf22029@mailexample.net>"
/// );
/// ```
pub fn subject(
    policy_domain: &str,
    submitter: &str,
    report_id_left: &str,
    report_id_right: &str,
) -> String {
    format!(
        "Report Domain: {policy_domain} Submitter: {submitter} Report-ID: <{report_id_left}@{report_id_right}>"
    )
}

/// What an RFC 8460 5.3 Subject says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectInfo {
    /// After `Domain:`: the policy domain.
    pub policy_domain: String,
    /// After `Submitter:`: the sender's domain.
    pub submitter: String,
    /// After `Report-ID:`, without the angle brackets: `left@right`, or
    /// the whole id when it has no `@` (Microsoft: `<digits>+<domain>`).
    pub report_id: String,
    /// Whether the Subject follows the RFC's ABNF exactly (keywords in
    /// their case, id as `<left@right>`).
    pub rfc_form: bool,
}

impl SubjectInfo {
    /// The id's `id-left` and `id-right`, when it has an `@`.
    pub fn report_id_parts(&self) -> Option<(&str, &str)> {
        self.report_id.split_once('@')
    }
}

/// Read an RFC 8460 5.3 Subject (RPT-DELIV-10), unfolded or not: any run
/// of spaces, tabs and folding line breaks (CRLF or LF followed by white
/// space) separates the words. Keywords are matched in any case;
/// `rfc_form` says whether they were written as the RFC does. The
/// Report-ID may lack angle brackets and `@` (Microsoft). Domains are
/// checked as RFC 6376 domain names (at least two labels).
///
/// ```
/// use tlsrpt_core::filename::parse_subject;
/// let s = parse_subject("Report Domain: example.net\r\n    Submitter: mail.sender.example.com\r\n    Report-ID: <735ff.e317+bf22029@mailexample.net>")?;
/// assert_eq!(s.policy_domain, "example.net");
/// assert_eq!(s.report_id_parts(), Some(("735ff.e317+bf22029", "mailexample.net")));
/// let ms = parse_subject("Report Domain: test.xmox.nl Submitter: microsoft.com Report-ID:\r\n 133198585438131172+test.xmox.nl")?;
/// assert_eq!((ms.report_id.as_str(), ms.rfc_form), ("133198585438131172+test.xmox.nl", false));
/// # Ok::<(), tlsrpt_core::filename::FilenameError>(())
/// ```
pub fn parse_subject(s: &str) -> R<SubjectInfo> {
    let b = s.as_bytes();
    let mut words: Vec<(usize, &str)> = Vec::with_capacity(8);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'\r' | b'\n' => {
                let at = i;
                if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                i += 1;
                if i < b.len() && !matches!(b[i], b' ' | b'\t') {
                    return Err(syntax(
                        "subject",
                        at,
                        "line break not followed by white space (not a folded line)",
                    ));
                }
            }
            _ => {
                let start = i;
                while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                    i += 1;
                }
                words.push((start, &s[start..i]));
            }
        }
    }
    let mut exact = true;
    let mut keyword = |n: usize, kw: &'static str| -> R<()> {
        match words.get(n) {
            Some((_, w)) if *w == kw => Ok(()),
            Some((_, w)) if w.eq_ignore_ascii_case(kw) => {
                exact = false;
                Ok(())
            }
            Some(&(at, _)) => Err(syntax("subject", at, kw_reason(kw))),
            None => Err(syntax("subject", s.len(), kw_reason(kw))),
        }
    };
    let domain = |n: usize, field: &'static str| -> R<String> {
        let &(at, w) = words
            .get(n)
            .ok_or_else(|| syntax(field, s.len(), "expected a domain name"))?;
        check_domain(w, field, at, 2)?;
        Ok(w.to_owned())
    };
    keyword(0, "Report")?;
    keyword(1, "Domain:")?;
    let policy_domain = domain(2, "subject Domain")?;
    keyword(3, "Submitter:")?;
    let submitter = domain(4, "subject Submitter")?;
    keyword(5, "Report-ID:")?;
    let &(at, id) = words.get(6).ok_or_else(|| {
        syntax(
            "subject Report-ID",
            s.len(),
            "expected `<id-left@id-right>`",
        )
    })?;
    if let Some(&(extra, _)) = words.get(7) {
        // [CFWS]: only a comment may follow.
        let rest = s[extra..].trim_end();
        if !(rest.starts_with('(') && rest.ends_with(')')) {
            return Err(syntax(
                "subject",
                extra,
                "unexpected text after the Report-ID",
            ));
        }
    }
    let (report_id, bracketed) = match id.strip_prefix('<') {
        Some(inner) => match inner.strip_suffix('>') {
            Some(inner) => (inner, true),
            None => {
                return Err(syntax("subject Report-ID", at + id.len(), "expected `>`"));
            }
        },
        None => (id, false),
    };
    let base = at + usize::from(bracketed);
    if report_id.is_empty() {
        return Err(syntax("subject Report-ID", base, "empty id"));
    }
    let mut ats = 0;
    for (i, c) in report_id.bytes().enumerate() {
        if c == b'@' {
            ats += 1;
        }
        if !c.is_ascii_graphic() || c == b'<' || c == b'>' || ats > 1 {
            return Err(syntax(
                "subject Report-ID",
                base + i,
                "expected `id-left@id-right` (RFC 5322 msg-id)",
            ));
        }
    }
    if ats == 1 && (report_id.starts_with('@') || report_id.ends_with('@')) {
        return Err(syntax(
            "subject Report-ID",
            base,
            "empty id-left or id-right",
        ));
    }
    Ok(SubjectInfo {
        policy_domain,
        submitter,
        report_id: report_id.to_owned(),
        rfc_form: exact && bracketed && ats == 1,
    })
}

fn kw_reason(kw: &'static str) -> &'static str {
    match kw {
        "Report" => "expected `Report`",
        "Domain:" => "expected `Domain:`",
        "Submitter:" => "expected `Submitter:`",
        _ => "expected `Report-ID:`",
    }
}

/// Check RPT-DELIV-08: the domain part of `contact_info` (after the last
/// `@`; a `mailto:` prefix is ignored) must equal `submitter`, compared
/// case-insensitively, as A-labels, without a trailing dot.
///
/// ```
/// use tlsrpt_core::filename::check_submitter;
/// assert!(check_submitter("smtp-tls-reporting@google.com", "Google.COM").is_ok());
/// assert!(check_submitter("sts-reporting@company-x.example", "mail.sender.example.com").is_err());
/// ```
pub fn check_submitter(contact_info: &str, submitter: &str) -> R<()> {
    let ci = contact_info.trim();
    let ci = match ci.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => &ci[7..],
        _ => ci,
    };
    let (_, domain) = ci.rsplit_once('@').ok_or_else(|| {
        syntax(
            "contact-info",
            contact_info.len(),
            "no `@` (not an e-mail address)",
        )
    })?;
    let domain = domain.trim_end_matches('>');
    let norm = |d: &str| -> String {
        let d = d.trim().strip_suffix('.').unwrap_or(d.trim());
        if d.is_ascii() {
            d.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(d).unwrap_or_else(|_| d.to_lowercase())
        }
    };
    if norm(domain) == norm(submitter) {
        Ok(())
    } else {
        Err(FilenameError::SubmitterMismatch {
            contact_info: contact_info.to_owned(),
            submitter: submitter.to_owned(),
        })
    }
}
