//! A reference report reader, for differential testing of [`crate::parse`].
//!
//! [`Report::parse_strict`] and [`Report::parse_lenient`] are a hand-tuned
//! one-pass JSON reader. This module reads the same reports the slow and
//! plain way, so that the two can be compared on any input ([`compare`]):
//!
//! 1. serde_json reads the bytes into a small tree of our own that keeps
//!    object members in input order, duplicates included, every number as
//!    the text it was written as, and every value's raw JSON text;
//! 2. a straightforward walk over that tree checks the RFC 8460 schema,
//!    one `match` on member names per object, and builds the same
//!    [`Report`] (owned) and the same warnings (code, JSON Pointer path and
//!    message, in document order) as the fast reader, in strict and in
//!    lenient mode.
//!
//! Only scalar helpers that know nothing of the fast reader's lexer are
//! shared with it: [`Timestamp::parse_rfc3339`], [`ResultType`]'s and
//! [`PolicyType`]'s string mappings, and the standard library's IP address
//! parser. Everything else (JSON syntax, member lookup, duplicates, types,
//! counts, nesting, the lenient deviations DEC-16 to DEC-25) is written
//! again here.
//!
//! The reference reader is **not fast**: it copies every string and, to
//! keep numbers as written, reads each nested value's text once more per
//! level of nesting. It is compiled for the crate's tests and with the
//! `reference` feature (for the `tlsrpt_differential` fuzz target); use the
//! fast reader for anything else.
//!
//! It also keeps the report writer that was written by hand before
//! [`Report::to_json`] became serde_json on the model's `Serialize`
//! ([`write_json`]), as the reference the serde writer must match byte for
//! byte.
//!
//! # Where serde_json alone would differ, and what the reference does
//!
//! - **Numbers.** Without its `arbitrary_precision` feature serde_json
//!   turns numbers into `u64`/`i64`/`f64` and refuses those beyond `f64`'s
//!   range (`1e400`), which RFC 8259 allows and the fast reader keeps
//!   verbatim in unknown members. The tree therefore takes every value as
//!   a [`RawValue`] first (serde_json checks the syntax of raw values
//!   without converting numbers) and keeps numbers as their text; a count
//!   is then a number whose text is all digits and fits `u64`.
//! - **Nesting.** serde_json stops at 128 levels; the fast reader stops at
//!   [`MAX_DEPTH`] (64) levels inside an unknown member's value, counting
//!   the value itself as level 1 and every value as a level (a number
//!   inside 64 nested arrays is at level 65, too deep). The walk checks
//!   that limit explicitly (`unknown_value`); the tree
//!   refuses anything deeper than 128 levels ([`TREE_DEPTH`]), which the
//!   fast reader refuses as well (its schema nests five levels, plus 64
//!   inside unknown members).
//! - **Duplicate members** are no error for serde_json; the tree keeps
//!   them and the walk refuses them, in schema objects and inside unknown
//!   members alike (I-JSON, RPT-JSON-01).
//! - **Lone surrogates** (`"\ud800"`): serde_json refuses them when it
//!   reads a string, as the fast reader does; the tree reads every string
//!   (member names included) as a Rust `String`, so no extra check is
//!   needed (see the `lone_surrogates` test).
//! - **Byte order mark**: serde_json refuses it; the reference handles it
//!   before serde_json sees the text (an error in strict mode, a
//!   `byte-order-mark` warning in lenient mode).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use mta_sts_core::ResultType;
use serde::de::{self, DeserializeSeed, Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::ReportErrorKind;
use crate::error::ReportErrorKind as K;
use crate::parse::MAX_DEPTH;
use crate::report::{
    DateRange, Extension, FailureDetail, Ip, PolicyInfo, PolicyResult, PolicyType, Report, Summary,
};
use crate::time::{Leniency, Timestamp};

/// Nesting limit of the tree (serde_json's own default). Anything the fast
/// reader accepts nests far less deeply.
pub const TREE_DEPTH: usize = 128;

/// Largest integer I-JSON represents exactly (2^53 - 1).
const I_JSON_MAX: u64 = (1 << 53) - 1;

/// A report read by the reference reader, with its warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceParsed {
    /// The report.
    pub report: Report<'static>,
    /// Warnings, in document order.
    pub warnings: Vec<ReferenceWarning>,
}

/// A warning of the reference reader; the fields mean what they mean in
/// [`crate::ReportWarning`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceWarning {
    /// JSON Pointer of the member concerned (empty for the root).
    pub path: String,
    /// The warning code, e.g. `mx-host-string`.
    pub code: &'static str,
    /// What was found and what was done.
    pub message: String,
}

/// Why the reference reader refused a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceError {
    /// JSON Pointer of the value concerned, named as the fast reader names
    /// it; `None` when the JSON text itself is broken (serde_json's error,
    /// which the reference does not locate).
    pub path: Option<String>,
    /// What is wrong, as the fast reader would say it (for broken JSON,
    /// always `Syntax`; the details are in `message`).
    pub kind: ReportErrorKind,
    /// What is wrong, for people.
    pub message: String,
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) if p.is_empty() => write!(f, "at /: {}", self.message),
            Some(p) => write!(f, "at {p}: {}", self.message),
            None => write!(f, "JSON: {}", self.message),
        }
    }
}

impl std::error::Error for ReferenceError {}

/// Read a report with the reference reader: `strict` as
/// [`Report::parse_strict`], otherwise as [`Report::parse_lenient`].
///
/// ```
/// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-23T00:00:00Z"},"report-id":"r1","policies":[]}"#;
/// let parsed = tlsrpt_core::reference::parse(json, false).unwrap();
/// assert_eq!(parsed.warnings[0].code, "contact-info-missing");
/// assert!(tlsrpt_core::reference::parse(json, true).is_err());
/// ```
pub fn parse(json: &[u8], strict: bool) -> Result<ReferenceParsed, ReferenceError> {
    let mut walker = Walker {
        strict,
        warnings: Vec::new(),
    };
    let mut body = json;
    if let Some(rest) = json.strip_prefix(b"\xef\xbb\xbf") {
        if strict {
            return Err(fail(
                "",
                K::Syntax("`{` (a byte order mark is not allowed)"),
            ));
        }
        walker.warn("", "byte-order-mark", "UTF-8 byte order mark ignored");
        body = rest;
    }
    let text = std::str::from_utf8(body).map_err(|_| fail("", K::NotUtf8))?;
    let tree = read_json(text).map_err(|e| ReferenceError {
        path: None,
        kind: K::Syntax("valid JSON"),
        message: e.to_string(),
    })?;
    let report = walker.report(&tree)?;
    Ok(ReferenceParsed {
        report,
        warnings: walker.warnings,
    })
}

/// Run the fast reader and the reference reader on `json`, in strict and in
/// lenient mode, and describe the first difference:
///
/// - both accept: the reports must be equal (unknown members' raw JSON text
///   included) and so must the warnings (code, path, message, order);
/// - one accepts and the other refuses: a difference;
/// - both refuse: fine, unless the reference names the path of a schema
///   error (it does for all but broken JSON) and the fast reader names
///   another path, or another kind of error (the variant of
///   [`ReportErrorKind`], and the member name of a duplicate or missing
///   member).
///
/// ```
/// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-23T00:00:00Z"},"report-id":"r1","policies":[]}"#;
/// assert_eq!(tlsrpt_core::reference::compare(json), Ok(()));
/// ```
pub fn compare(json: &[u8]) -> Result<(), String> {
    for strict in [true, false] {
        let mode = if strict { "strict" } else { "lenient" };
        let fast = if strict {
            Report::parse_strict(json)
        } else {
            Report::parse_lenient(json)
        };
        match (fast, parse(json, strict)) {
            (Ok(f), Ok(r)) => {
                if f.value != r.report {
                    return Err(format!(
                        "{mode}: the reports differ\nfast:      {:?}\nreference: {:?}",
                        f.value, r.report
                    ));
                }
                let fast_warnings: Vec<(&str, String, &str)> = f
                    .warnings
                    .iter()
                    .map(|w| (w.code.as_str(), w.path.to_string(), w.message.as_ref()))
                    .collect();
                let reference_warnings: Vec<(&str, String, &str)> = r
                    .warnings
                    .iter()
                    .map(|w| (w.code, w.path.clone(), w.message.as_str()))
                    .collect();
                if fast_warnings != reference_warnings {
                    return Err(format!(
                        "{mode}: the warnings differ\nfast:      {fast_warnings:?}\nreference: {reference_warnings:?}"
                    ));
                }
            }
            (Ok(f), Err(e)) => {
                return Err(format!(
                    "{mode}: the fast reader accepts (warnings {:?}), the reference refuses: {e}",
                    f.warnings
                ));
            }
            (Err(e), Ok(r)) => {
                return Err(format!(
                    "{mode}: the reference accepts (warnings {:?}), the fast reader refuses: {e}",
                    r.warnings
                ));
            }
            (Err(f), Err(r)) => {
                if let Some(path) = &r.path {
                    let same_kind = match (&f.kind, &r.kind) {
                        (K::DuplicateMember(a), K::DuplicateMember(b)) => a == b,
                        (K::MissingMember(a), K::MissingMember(b)) => a == b,
                        (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
                    };
                    if *path != f.path || !same_kind {
                        return Err(format!(
                            "{mode}: both refuse, but differently\nfast:      {f} ({:?})\nreference: {r} ({:?})",
                            f.kind, r.kind
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The JSON tree.

/// A JSON value and the text it was read from.
#[derive(Debug)]
struct Value<'a> {
    /// The value as written (without the whitespace around it).
    raw: &'a str,
    json: Json<'a>,
}

#[derive(Debug)]
enum Json<'a> {
    Null,
    True,
    False,
    /// A number as written (serde_json has checked its syntax).
    Number(&'a str),
    String(String),
    Array(Vec<Value<'a>>),
    /// Members in input order, duplicates included.
    Object(Vec<(String, Value<'a>)>),
}

/// Read one JSON text (whitespace around it allowed, nothing else).
fn read_json(text: &str) -> Result<Value<'_>, serde_json::Error> {
    let mut d = serde_json::Deserializer::from_str(text);
    let value = ValueSeed { depth: 1 }.deserialize(&mut d)?;
    d.end()?;
    Ok(value)
}

/// Reads one value at nesting level `depth` (the document is level 1).
struct ValueSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        // serde_json checks the syntax of the whole value (numbers are not
        // converted) and hands over its text.
        let raw: &'de RawValue = serde::Deserialize::deserialize(d)?;
        let raw = raw.get();
        if self.depth > TREE_DEPTH {
            return Err(de::Error::custom(format!(
                "nested deeper than {TREE_DEPTH} levels"
            )));
        }
        let json = match raw.as_bytes().first() {
            Some(b'{' | b'[') => serde_json::Deserializer::from_str(raw)
                .deserialize_any(ContainerVisitor { depth: self.depth })
                .map_err(de::Error::custom)?,
            Some(b'"') => Json::String(serde_json::from_str(raw).map_err(de::Error::custom)?),
            Some(b't') => Json::True,
            Some(b'f') => Json::False,
            Some(b'n') => Json::Null,
            // `-` or a digit: a number, kept as written.
            _ => Json::Number(raw),
        };
        Ok(Value { raw, json })
    }
}

/// The members or elements of an object or array at level `depth`.
struct ContainerVisitor {
    depth: usize,
}

impl<'de> Visitor<'de> for ContainerVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed {
            depth: self.depth + 1,
        })? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(ValueSeed {
                depth: self.depth + 1,
            })?;
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

// ---------------------------------------------------------------------------
// The schema walk.

fn fail(path: &str, kind: ReportErrorKind) -> ReferenceError {
    ReferenceError {
        path: Some(path.to_owned()),
        message: kind.to_string(),
        kind,
    }
}

/// `path` extended by a member name or an array index.
fn child(path: &str, segment: impl fmt::Display) -> String {
    format!("{path}/{segment}")
}

/// The members of an object, or an error naming what was expected.
fn object<'v, 'a>(
    v: &'v Value<'a>,
    path: &str,
    what: &'static str,
) -> Result<&'v [(String, Value<'a>)], ReferenceError> {
    match &v.json {
        Json::Object(members) => Ok(members),
        _ => Err(fail(path, K::WrongType(what))),
    }
}

/// The elements of an array.
fn array<'v, 'a>(v: &'v Value<'a>, path: &str) -> Result<&'v [Value<'a>], ReferenceError> {
    match &v.json {
        Json::Array(items) => Ok(items),
        _ => Err(fail(path, K::WrongType("an array"))),
    }
}

fn string(v: &Value<'_>, path: &str) -> Result<String, ReferenceError> {
    match &v.json {
        Json::String(s) => Ok(s.clone()),
        _ => Err(fail(path, K::WrongType("a string"))),
    }
}

fn string_array(v: &Value<'_>, path: &str) -> Result<Vec<Cow<'static, str>>, ReferenceError> {
    let mut out = Vec::new();
    for (i, item) in array(v, path)?.iter().enumerate() {
        out.push(Cow::Owned(string(item, &child(path, i))?));
    }
    Ok(out)
}

/// Names of one object's members seen so far: a repeated name is an error,
/// whether the schema knows it or not (I-JSON).
struct Seen<'v>(HashSet<&'v str>);

impl<'v> Seen<'v> {
    fn new() -> Self {
        Self(HashSet::new())
    }

    fn check(&mut self, name: &'v str, object_path: &str) -> Result<(), ReferenceError> {
        if self.0.insert(name) {
            Ok(())
        } else {
            Err(fail(object_path, K::DuplicateMember(name.to_owned())))
        }
    }
}

/// The value of an unknown member: any JSON at most [`MAX_DEPTH`] levels
/// deep (the member's value being level 1) and without duplicate members.
/// Errors name the path of the object holding the unknown member, as the
/// fast reader does.
fn unknown_value(v: &Value<'_>, depth: usize, object_path: &str) -> Result<(), ReferenceError> {
    if depth > MAX_DEPTH {
        return Err(fail(object_path, K::TooDeep(MAX_DEPTH)));
    }
    match &v.json {
        Json::Array(items) => {
            for item in items {
                unknown_value(item, depth + 1, object_path)?;
            }
        }
        Json::Object(members) => {
            let mut seen = Seen::new();
            for (name, value) in members {
                seen.check(name, object_path)?;
                unknown_value(value, depth + 1, object_path)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// An unknown member kept in the model.
fn extension(
    name: &str,
    v: &Value<'_>,
    object_path: &str,
) -> Result<Extension<'static>, ReferenceError> {
    unknown_value(v, 1, object_path)?;
    Ok(Extension {
        name: Cow::Owned(name.to_owned()),
        raw_json: Cow::Owned(v.raw.to_owned()),
    })
}

/// A plausible e-mail address for `contact-info`: something before the last
/// `@`, a dotted domain after it, no white space anywhere.
fn plausible_email(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// DEC-24: a `policy-string` line that is itself a JSON array of strings,
/// read as those strings; `None` when it is anything else.
fn double_encoded(line: &str) -> Option<Vec<Cow<'static, str>>> {
    let tree = read_json(line).ok()?;
    let Json::Array(items) = tree.json else {
        return None;
    };
    items
        .into_iter()
        .map(|item| match item.json {
            Json::String(s) => Some(Cow::Owned(s)),
            _ => None,
        })
        .collect()
}

struct Walker {
    strict: bool,
    warnings: Vec<ReferenceWarning>,
}

impl Walker {
    fn warn(&mut self, path: &str, code: &'static str, message: impl Into<String>) {
        self.warnings.push(ReferenceWarning {
            path: path.to_owned(),
            code,
            message: message.into(),
        });
    }

    /// Something only the lenient reader accepts: the error `strict` in
    /// strict mode, a warning in lenient mode.
    fn deviation(
        &mut self,
        path: &str,
        strict: ReportErrorKind,
        code: &'static str,
        message: impl Into<String>,
    ) -> Result<(), ReferenceError> {
        if self.strict {
            Err(fail(path, strict))
        } else {
            self.warn(path, code, message);
            Ok(())
        }
    }

    /// A member that only the lenient reader lets go missing.
    fn missing(
        &mut self,
        path: &str,
        name: &'static str,
        code: &'static str,
        message: &str,
    ) -> Result<(), ReferenceError> {
        if self.strict {
            Err(fail(path, K::MissingMember(name)))
        } else {
            self.warn(path, code, message);
            Ok(())
        }
    }

    fn report(&mut self, v: &Value<'_>) -> Result<Report<'static>, ReferenceError> {
        let path = "";
        let mut organization_name = None;
        let mut date_range = None;
        let mut contact_info: Option<Option<String>> = None;
        let mut report_id = None;
        let mut policies = None;
        let mut extensions = Vec::new();
        let mut seen = Seen::new();
        for (name, value) in object(v, path, "an object (the report)")? {
            seen.check(name, path)?;
            let here = child(path, name);
            match name.as_str() {
                "organization-name" => organization_name = Some(string(value, &here)?),
                "date-range" => date_range = Some(self.date_range(value, &here)?),
                "contact-info" => {
                    if let Json::Null = value.json {
                        // DEC-20
                        self.deviation(
                            &here,
                            K::WrongType("a string (an e-mail address), not null"),
                            "contact-info-null",
                            "contact-info is null; read as unknown",
                        )?;
                        contact_info = Some(None);
                    } else {
                        let s = string(value, &here)?;
                        if !plausible_email(&s) {
                            self.deviation(
                                &here,
                                K::InvalidValue {
                                    value: s.clone(),
                                    reason: "not an e-mail address (RFC 5322 addr-spec)",
                                },
                                "contact-info-invalid",
                                format!(
                                    "contact-info `{s}` is not an e-mail address; kept as written"
                                ),
                            )?;
                        }
                        contact_info = Some(Some(s));
                    }
                }
                "report-id" => report_id = Some(string(value, &here)?),
                "policies" => policies = Some(self.policies(value, &here)?),
                _ => extensions.push(extension(name, value, path)?),
            }
        }
        let missing = |name: &'static str| fail(path, K::MissingMember(name));
        let organization_name = organization_name.ok_or_else(|| missing("organization-name"))?;
        let date_range: DateRange = date_range.ok_or_else(|| missing("date-range"))?;
        let report_id = report_id.ok_or_else(|| missing("report-id"))?;
        let policies = policies.ok_or_else(|| missing("policies"))?;
        let contact_info = match contact_info {
            Some(c) => c,
            None => {
                self.missing(
                    path,
                    "contact-info",
                    "contact-info-missing",
                    "contact-info is missing; read as unknown",
                )?;
                None
            }
        };
        if date_range.end < date_range.start {
            self.warn(
                path,
                "date-range-reversed",
                "end-datetime is before start-datetime",
            );
        }
        Ok(Report {
            organization_name: Cow::Owned(organization_name),
            date_range,
            contact_info: contact_info.map(Cow::Owned),
            report_id: Cow::Owned(report_id),
            policies,
            extensions,
        })
    }

    fn date_range(&mut self, v: &Value<'_>, path: &str) -> Result<DateRange, ReferenceError> {
        let (mut start, mut end) = (None, None);
        let mut unknown = Vec::new();
        let mut seen = Seen::new();
        for (name, value) in object(v, path, "an object (date-range)")? {
            seen.check(name, path)?;
            let here = child(path, name);
            match name.as_str() {
                "start-datetime" => start = Some(self.date(value, &here)?),
                "end-datetime" => end = Some(self.date(value, &here)?),
                _ => {
                    unknown_value(value, 1, path)?;
                    unknown.push(name.as_str());
                }
            }
        }
        if !unknown.is_empty() {
            // The model has no room for them.
            self.deviation(
                path,
                K::InvalidValue {
                    value: unknown.join(", "),
                    reason: "unknown member of date-range",
                },
                "unknown-member-dropped",
                format!("unknown date-range members ignored: {}", unknown.join(", ")),
            )?;
        }
        Ok(DateRange {
            start: start.ok_or_else(|| fail(path, K::MissingMember("start-datetime")))?,
            end: end.ok_or_else(|| fail(path, K::MissingMember("end-datetime")))?,
        })
    }

    /// A date-time (DEC-17).
    fn date(&mut self, v: &Value<'_>, path: &str) -> Result<Timestamp, ReferenceError> {
        let s = string(v, path)?;
        match Timestamp::parse_rfc3339(&s, !self.strict) {
            Ok((t, Leniency::None)) => Ok(t),
            Ok((t, Leniency::NoOffset)) => {
                self.warn(
                    path,
                    "date-time-not-rfc3339",
                    format!("date-time `{s}` has no zone offset; read as UTC"),
                );
                Ok(t)
            }
            Ok((t, Leniency::SpaceSeparator)) => {
                self.warn(
                    path,
                    "date-time-not-rfc3339",
                    format!("date-time `{s}` uses a space instead of `T`"),
                );
                Ok(t)
            }
            Err(error) => Err(fail(path, K::InvalidDate { value: s, error })),
        }
    }

    fn policies(
        &mut self,
        v: &Value<'_>,
        path: &str,
    ) -> Result<Vec<PolicyResult<'static>>, ReferenceError> {
        if let Json::Object(_) = v.json {
            // DEC-19
            self.deviation(
                path,
                K::WrongType("an array (RPT-JSON-03)"),
                "policies-object",
                "policies is an object, not an array; read as a one-element array",
            )?;
            return Ok(vec![self.policy_result(v, &child(path, 0))?]);
        }
        let mut out = Vec::new();
        for (i, item) in array(v, path)?.iter().enumerate() {
            out.push(self.policy_result(item, &child(path, i))?);
        }
        Ok(out)
    }

    fn policy_result(
        &mut self,
        v: &Value<'_>,
        path: &str,
    ) -> Result<PolicyResult<'static>, ReferenceError> {
        let (mut policy, mut summary, mut details) = (None, None, None);
        let mut extensions = Vec::new();
        let mut seen = Seen::new();
        for (name, value) in object(v, path, "an object (policies element)")? {
            seen.check(name, path)?;
            let here = child(path, name);
            match name.as_str() {
                "policy" => policy = Some(self.policy_info(value, &here)?),
                "summary" => summary = Some(self.summary(value, &here)?),
                "failure-details" => {
                    let mut list = Vec::new();
                    for (i, item) in array(value, &here)?.iter().enumerate() {
                        list.push(self.failure_detail(item, &child(&here, i))?);
                    }
                    details = Some(list);
                }
                _ => extensions.push(extension(name, value, path)?),
            }
        }
        let policy = policy.ok_or_else(|| fail(path, K::MissingMember("policy")))?;
        let summary: Summary = summary.ok_or_else(|| fail(path, K::MissingMember("summary")))?;
        let failure_details = match details {
            Some(d) => d,
            None => {
                self.missing(
                    path,
                    "failure-details",
                    "failure-details-missing",
                    "failure-details is missing; read as no failure details",
                )?;
                Vec::new()
            }
        };
        let mut sum: u64 = 0;
        for d in &failure_details {
            sum = sum.saturating_add(d.failed_session_count);
        }
        if sum != summary.total_failure_session_count {
            self.warn(
                path,
                "failure-count-mismatch",
                format!(
                    "total-failure-session-count is {} but the failure details add up to {sum} (RFC 8460 allows overlapping failure types)",
                    summary.total_failure_session_count
                ),
            );
        }
        Ok(PolicyResult {
            policy,
            summary,
            failure_details,
            extensions,
        })
    }

    fn policy_info(
        &mut self,
        v: &Value<'_>,
        path: &str,
    ) -> Result<PolicyInfo<'static>, ReferenceError> {
        let (mut policy_type, mut policy_string, mut domain, mut mx_host) =
            (None, None, None, None);
        let mut extensions = Vec::new();
        let mut seen = Seen::new();
        for (name, value) in object(v, path, "an object (policy)")? {
            seen.check(name, path)?;
            let here = child(path, name);
            match name.as_str() {
                "policy-type" => {
                    let s = string(value, &here)?;
                    let lower = s.to_ascii_lowercase();
                    let known = ["tlsa", "sts", "no-policy-found"].contains(&lower.as_str());
                    if known && lower != s {
                        self.deviation(
                            &here,
                            K::InvalidValue {
                                value: s.clone(),
                                reason: "policy types are lower case",
                            },
                            "policy-type-case",
                            format!("policy-type `{s}` read as `{lower}`"),
                        )?;
                        policy_type = Some(PolicyType::from_json(&lower));
                    } else {
                        policy_type = Some(PolicyType::from_json(&s));
                    }
                }
                "policy-string" => {
                    if let Json::String(s) = &value.json {
                        self.deviation(
                            &here,
                            K::WrongType("an array of strings"),
                            "policy-string-string",
                            "policy-string is a string, not an array; read as one line",
                        )?;
                        policy_string = Some(vec![Cow::Owned(s.clone())]);
                    } else {
                        policy_string = Some(string_array(value, &here)?);
                    }
                }
                "policy-domain" => domain = Some(string(value, &here)?),
                "mx-host" => mx_host = Some(self.mx_host(value, &here)?),
                _ => extensions.push(extension(name, value, path)?),
            }
        }
        let policy_type = policy_type.ok_or_else(|| fail(path, K::MissingMember("policy-type")))?;
        let mut policy_string = match policy_string {
            Some(s) => s,
            // DEC-25: no policy, no policy string.
            None if policy_type == PolicyType::NoPolicyFound => Vec::new(),
            None => {
                self.missing(
                    path,
                    "policy-string",
                    "policy-string-missing",
                    "policy-string is missing",
                )?;
                Vec::new()
            }
        };
        if domain.is_none() {
            self.missing(
                path,
                "policy-domain",
                "policy-domain-missing",
                "policy-domain is missing",
            )?;
        }
        let mx_host = match mx_host {
            Some(m) => m,
            None if policy_type == PolicyType::Sts => {
                self.missing(
                    path,
                    "mx-host",
                    "mx-host-missing",
                    "mx-host is missing for an sts policy",
                )?;
                Vec::new()
            }
            None => Vec::new(),
        };
        // DEC-24: Microsoft writes a tlsa policy-string as one string that
        // holds a JSON array of the records.
        if policy_type == PolicyType::Tlsa
            && policy_string.len() == 1
            && policy_string[0].trim_start().starts_with('[')
            && let Some(records) = double_encoded(&policy_string[0])
        {
            self.deviation(
                &child(path, "policy-string"),
                K::InvalidValue {
                    value: policy_string[0].to_string(),
                    reason: "a JSON-encoded array inside one string",
                },
                "policy-string-double-encoded",
                format!(
                    "tlsa policy-string holds a JSON-encoded array; read as its {} records",
                    records.len()
                ),
            )?;
            policy_string = records;
        }
        Ok(PolicyInfo {
            policy_type,
            policy_string,
            policy_domain: domain.map(Cow::Owned),
            mx_host,
            extensions,
        })
    }

    /// `mx-host`: an array of strings; lenient also reads one string
    /// (DEC-16, erratum 6241) and drops `mx:` prefixes.
    fn mx_host(
        &mut self,
        v: &Value<'_>,
        path: &str,
    ) -> Result<Vec<Cow<'static, str>>, ReferenceError> {
        let mut hosts = if let Json::String(s) = &v.json {
            self.deviation(
                path,
                K::WrongType("an array of strings (erratum 6241)"),
                "mx-host-string",
                "mx-host is a string, not an array (RFC 8460 erratum 6241); read as a one-element array",
            )?;
            vec![Cow::Owned(s.clone())]
        } else {
            string_array(v, path)?
        };
        for (i, host) in hosts.iter_mut().enumerate() {
            if host.starts_with("mx:") {
                let mut rest: &str = host;
                while let Some(r) = rest.strip_prefix("mx:") {
                    rest = r.trim_start();
                }
                let rest = rest.to_owned();
                self.deviation(
                    &child(path, i),
                    K::InvalidValue {
                        value: host.to_string(),
                        reason: "an `mx: ` prefix in mx-host",
                    },
                    "mx-host-prefix",
                    format!("mx-host `{host}` carries an `mx:` prefix; read as `{rest}`"),
                )?;
                *host = Cow::Owned(rest);
            }
        }
        Ok(hosts)
    }

    fn summary(&mut self, v: &Value<'_>, path: &str) -> Result<Summary, ReferenceError> {
        let (mut ok, mut failed) = (None, None);
        let mut unknown = Vec::new();
        let mut seen = Seen::new();
        for (name, value) in object(v, path, "an object (summary)")? {
            seen.check(name, path)?;
            let here = child(path, name);
            match name.as_str() {
                "total-successful-session-count" => ok = Some(self.count(value, &here)?),
                "total-failure-session-count" => failed = Some(self.count(value, &here)?),
                _ => {
                    unknown_value(value, 1, path)?;
                    unknown.push(name.as_str());
                }
            }
        }
        if !unknown.is_empty() {
            self.deviation(
                path,
                K::InvalidValue {
                    value: unknown.join(", "),
                    reason: "unknown member of summary",
                },
                "unknown-member-dropped",
                format!("unknown summary members ignored: {}", unknown.join(", ")),
            )?;
        }
        let mut get = |count: Option<u64>, name: &'static str| -> Result<u64, ReferenceError> {
            match count {
                Some(n) => Ok(n),
                None => {
                    let message = format!("{name} is missing; read as 0");
                    self.missing(path, name, "count-missing", &message)?;
                    Ok(0)
                }
            }
        };
        Ok(Summary {
            total_successful_session_count: get(ok, "total-successful-session-count")?,
            total_failure_session_count: get(failed, "total-failure-session-count")?,
        })
    }

    /// A count: a JSON number written as digits only that fits `u64`
    /// (DEC-21); above 2^53-1 only the lenient reader takes it.
    fn count(&mut self, v: &Value<'_>, path: &str) -> Result<u64, ReferenceError> {
        let Json::Number(text) = v.json else {
            return Err(fail(path, K::InvalidCount("not a number")));
        };
        if !text.bytes().all(|c| c.is_ascii_digit()) {
            return Err(fail(path, K::InvalidCount("not a non-negative integer")));
        }
        let n: u64 = text
            .parse()
            .map_err(|_| fail(path, K::InvalidCount("larger than 18446744073709551615")))?;
        if n > I_JSON_MAX {
            self.deviation(
                path,
                K::InvalidCount("larger than 2^53-1 (I-JSON)"),
                "count-above-i-json",
                format!(
                    "count {n} is above 2^53-1, which I-JSON (RFC 7493) does not represent exactly"
                ),
            )?;
        }
        Ok(n)
    }

    fn ip(&mut self, v: &Value<'_>, path: &str) -> Result<Ip<'static>, ReferenceError> {
        let s = string(v, path)?;
        match s.parse::<IpAddr>() {
            Ok(addr) => Ok(Ip::Addr(addr)),
            Err(_) if self.strict => Err(fail(
                path,
                K::InvalidValue {
                    value: s,
                    reason: "not an IPv4 or IPv6 address",
                },
            )),
            Err(_) => {
                self.warn(
                    path,
                    "ip-invalid",
                    format!("`{s}` is not an IP address; kept as written"),
                );
                Ok(Ip::Invalid(Cow::Owned(s)))
            }
        }
    }

    fn failure_detail(
        &mut self,
        v: &Value<'_>,
        path: &str,
    ) -> Result<FailureDetail<'static>, ReferenceError> {
        let mut result_type = None;
        let (mut sending_mta_ip, mut receiving_mx_hostname, mut helo, mut receiving_ip) =
            (None, None, None, None);
        let (mut count, mut info, mut code) = (None, None, None);
        let mut extensions = Vec::new();
        let mut seen = Seen::new();
        for (name, value) in object(v, path, "an object (failure-details element)")? {
            seen.check(name, path)?;
            let here = child(path, name);
            match name.as_str() {
                "result-type" => {
                    let s = string(value, &here)?;
                    let lower = s.to_ascii_lowercase();
                    let Ok(known) = lower.parse::<ResultType>();
                    if known.is_registered() && lower != s {
                        // DEC-04
                        self.deviation(
                            &here,
                            K::InvalidValue {
                                value: s.clone(),
                                reason: "result types are lower case",
                            },
                            "result-type-case",
                            format!("result-type `{s}` read as `{lower}`"),
                        )?;
                        result_type = Some(known);
                    } else {
                        let Ok(t) = s.parse::<ResultType>();
                        result_type = Some(t);
                    }
                }
                "sending-mta-ip" => sending_mta_ip = Some(self.ip(value, &here)?),
                "receiving-mx-hostname" => receiving_mx_hostname = Some(string(value, &here)?),
                "receiving-mx-helo" => helo = Some(string(value, &here)?),
                "receiving-ip" => receiving_ip = Some(self.ip(value, &here)?),
                "failed-session-count" => count = Some(self.count(value, &here)?),
                "additional-information" => info = Some(string(value, &here)?),
                "failure-reason-code" => code = Some(string(value, &here)?),
                _ => extensions.push(extension(name, value, path)?),
            }
        }
        let result_type = result_type.ok_or_else(|| fail(path, K::MissingMember("result-type")))?;
        let failed_session_count =
            count.ok_or_else(|| fail(path, K::MissingMember("failed-session-count")))?;
        if sending_mta_ip.is_none() {
            self.missing(
                path,
                "sending-mta-ip",
                "failure-detail-member-missing",
                "sending-mta-ip is missing",
            )?;
        }
        if receiving_mx_hostname.is_none() {
            self.missing(
                path,
                "receiving-mx-hostname",
                "failure-detail-member-missing",
                "receiving-mx-hostname is missing",
            )?;
        }
        Ok(FailureDetail {
            result_type,
            sending_mta_ip,
            receiving_mx_hostname: receiving_mx_hostname.map(Cow::Owned),
            receiving_mx_helo: helo.map(Cow::Owned),
            receiving_ip,
            failed_session_count,
            additional_information: info.map(Cow::Owned),
            failure_reason_code: code.map(Cow::Owned),
            extensions,
        })
    }
}

// ---------------------------------------------------------------------------
// The reference writer.

pub use writer::write_json;

mod writer {
    use std::borrow::Cow;
    use std::fmt::{self, Write as _};

    use crate::report::{Extension, Ip, PolicyType, Report, write_json_string};

    /// The strict writer as it was written by hand before [`Report::to_json`]
    /// became serde_json on the model's `Serialize`: the reference that the
    /// serde writer must match byte for byte (`pretty` indents with two
    /// spaces). It shares only [`write_json_string`] (string escaping), the
    /// `Display` of time stamps and IP addresses, and the string mappings of
    /// the policy and result types with the model.
    ///
    /// ```
    /// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-23T00:00:00Z"},"report-id":"r1","policies":[],"x":[1e400, {}]}"#;
    /// let r = tlsrpt_core::Report::parse_lenient(json).unwrap().value;
    /// assert_eq!(tlsrpt_core::reference::write_json(&r, false).as_bytes(), json);
    /// assert_eq!(tlsrpt_core::reference::write_json(&r, false), r.to_json(false));
    /// ```
    pub fn write_json(report: &Report<'_>, pretty: bool) -> String {
        let mut w = Writer {
            out: String::with_capacity(1024),
            pretty,
            depth: 0,
            first: vec![true],
        };
        w.open('{');
        w.key("organization-name");
        w.string(&report.organization_name);
        w.key("date-range");
        w.open('{');
        w.key("start-datetime");
        w.display(&report.date_range.start);
        w.key("end-datetime");
        w.display(&report.date_range.end);
        w.close('}');
        if let Some(c) = &report.contact_info {
            w.key("contact-info");
            w.string(c);
        }
        w.key("report-id");
        w.string(&report.report_id);
        w.key("policies");
        w.open('[');
        for p in &report.policies {
            w.item();
            w.open('{');
            w.key("policy");
            w.open('{');
            w.key("policy-type");
            w.string(p.policy.policy_type.as_str());
            let no_policy = p.policy.policy_type == PolicyType::NoPolicyFound;
            // Required members are written even when empty, so that the
            // strict reader reads the strict form back (DEC-25 spares
            // `no-policy-found` both; `mx-host` is required for `sts`).
            if !no_policy || !p.policy.policy_string.is_empty() {
                w.key("policy-string");
                w.string_array(&p.policy.policy_string);
            }
            if let Some(d) = &p.policy.policy_domain {
                w.key("policy-domain");
                w.string(d);
            }
            if !no_policy
                && (!p.policy.mx_host.is_empty() || p.policy.policy_type == PolicyType::Sts)
            {
                w.key("mx-host");
                w.string_array(&p.policy.mx_host);
            }
            w.extensions(&p.policy.extensions);
            w.close('}');
            w.key("summary");
            w.open('{');
            w.key("total-successful-session-count");
            w.number(p.summary.total_successful_session_count);
            w.key("total-failure-session-count");
            w.number(p.summary.total_failure_session_count);
            w.close('}');
            w.key("failure-details");
            w.open('[');
            for f in &p.failure_details {
                w.item();
                w.open('{');
                w.key("result-type");
                w.string(f.result_type.as_str());
                if let Some(ip) = &f.sending_mta_ip {
                    w.key("sending-mta-ip");
                    w.ip(ip);
                }
                if let Some(h) = &f.receiving_mx_hostname {
                    w.key("receiving-mx-hostname");
                    w.string(h);
                }
                if let Some(h) = &f.receiving_mx_helo {
                    w.key("receiving-mx-helo");
                    w.string(h);
                }
                if let Some(ip) = &f.receiving_ip {
                    w.key("receiving-ip");
                    w.ip(ip);
                }
                w.key("failed-session-count");
                w.number(f.failed_session_count);
                if let Some(a) = &f.additional_information {
                    w.key("additional-information");
                    w.string(a);
                }
                if let Some(c) = &f.failure_reason_code {
                    w.key("failure-reason-code");
                    w.string(c);
                }
                w.extensions(&f.extensions);
                w.close('}');
            }
            w.close(']');
            w.extensions(&p.extensions);
            w.close('}');
        }
        w.close(']');
        w.extensions(&report.extensions);
        w.close('}');
        w.out
    }

    struct Writer {
        out: String,
        pretty: bool,
        depth: usize,
        first: Vec<bool>,
    }

    impl Writer {
        fn newline(&mut self) {
            if self.pretty {
                self.out.push('\n');
                for _ in 0..self.depth {
                    self.out.push_str("  ");
                }
            }
        }

        fn sep(&mut self) {
            if let Some(first) = self.first.last_mut() {
                if !*first {
                    self.out.push(',');
                }
                *first = false;
            }
            self.newline();
        }

        fn open(&mut self, c: char) {
            self.out.push(c);
            self.depth += 1;
            self.first.push(true);
        }

        fn close(&mut self, c: char) {
            self.depth -= 1;
            let empty = self.first.pop().unwrap_or(true);
            if !empty {
                self.newline();
            }
            self.out.push(c);
        }

        fn item(&mut self) {
            self.sep();
        }

        fn key(&mut self, k: &str) {
            self.sep();
            write_json_string(&mut self.out, k);
            self.out.push(':');
            if self.pretty {
                self.out.push(' ');
            }
        }

        fn string(&mut self, s: &str) {
            write_json_string(&mut self.out, s);
        }

        fn display(&mut self, d: &dyn fmt::Display) {
            self.out.push('"');
            let _ = write!(self.out, "{d}");
            self.out.push('"');
        }

        /// An address in RFC 5952 form; a kept invalid value is escaped like
        /// any string (it may hold `"`, `\` or control characters).
        fn ip(&mut self, ip: &Ip<'_>) {
            match ip {
                Ip::Addr(_) => self.display(ip),
                Ip::Invalid(s) => self.string(s),
            }
        }

        fn number(&mut self, n: u64) {
            let _ = write!(self.out, "{n}");
        }

        fn string_array(&mut self, items: &[Cow<'_, str>]) {
            self.open('[');
            for s in items {
                self.item();
                self.string(s);
            }
            self.close(']');
        }

        fn extensions(&mut self, ext: &[Extension<'_>]) {
            for e in ext {
                self.key(&e.name);
                self.out.push_str(&e.raw_json);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Json, Value, compare, parse, read_json};
    use crate::Report;
    use crate::report::write_json_string;
    use proptest::prelude::*;
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    /// Where the crate's test reports are (the workspace keeps each corpus
    /// file once; `tests/tlsrpt/main.rs` looks in the same folders).
    const DATA_ROOTS: [&str; 3] = ["tests/data", "../testdata", "../examples/data/reports"];

    /// Every `*.json` file below the data roots, with its bytes.
    fn json_files() -> Vec<(PathBuf, Vec<u8>)> {
        fn visit(dir: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            let mut paths: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
            paths.sort();
            for p in paths {
                if p.is_dir() {
                    visit(&p, files);
                } else if p.extension().is_some_and(|e| e == "json") {
                    let bytes = std::fs::read(&p).expect("readable");
                    files.push((p, bytes));
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in DATA_ROOTS {
            visit(&root.join(dir), &mut files);
        }
        files
    }

    /// The corpus reports the property test starts from: every JSON file
    /// of the test data that is an object with `policies`.
    fn seeds() -> &'static [J] {
        static SEEDS: OnceLock<Vec<J>> = OnceLock::new();
        SEEDS.get_or_init(|| {
            let seeds: Vec<J> = json_files()
                .iter()
                .filter_map(|(_, bytes)| {
                    let text = std::str::from_utf8(bytes).ok()?;
                    let tree = owned(&read_json(text).ok()?);
                    let J::Obj(members) = &tree else { return None };
                    members.iter().any(|m| m.name == "policies").then_some(tree)
                })
                .collect();
            assert!(
                seeds.len() >= 10,
                "only {} corpus reports found",
                seeds.len()
            );
            seeds
        })
    }

    /// An owned JSON tree for the mutations: members in order, duplicates
    /// allowed, and raw tokens (possibly broken on purpose).
    #[derive(Clone, Debug)]
    enum J {
        Null,
        Bool(bool),
        Num(String),
        Str(String),
        /// JSON text written as is.
        Raw(String),
        Arr(Vec<Self>),
        Obj(Vec<Member>),
    }

    #[derive(Clone, Debug)]
    struct Member {
        name: String,
        /// The name as written, when it is not the plain JSON string.
        raw_name: Option<String>,
        value: J,
    }

    fn member(name: &str, value: J) -> Member {
        Member {
            name: name.to_owned(),
            raw_name: None,
            value,
        }
    }

    fn owned(v: &Value<'_>) -> J {
        match &v.json {
            Json::Null => J::Null,
            Json::True => J::Bool(true),
            Json::False => J::Bool(false),
            Json::Number(n) => J::Num((*n).to_owned()),
            Json::String(s) => J::Str(s.clone()),
            Json::Array(items) => J::Arr(items.iter().map(owned).collect()),
            Json::Object(members) => J::Obj(
                members
                    .iter()
                    .map(|(name, value)| member(name, owned(value)))
                    .collect(),
            ),
        }
    }

    /// How a document is laid out: compact, pretty (two-space indents) or
    /// with odd white space (runs of spaces, tabs, CR, LF, also before `:`)
    /// drawn from a pseudo-random state.
    enum Layout {
        Compact,
        Pretty,
        Odd(u64),
    }

    impl Layout {
        /// White space between tokens (`indent` levels deep).
        fn space(&mut self, out: &mut String, indent: usize, line: bool) {
            match self {
                Self::Compact => {}
                Self::Pretty => {
                    if line {
                        out.push('\n');
                        out.push_str(&"  ".repeat(indent));
                    }
                }
                Self::Odd(state) => {
                    *state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let r = *state >> 33;
                    let n = match r % 8 {
                        0..=3 => 0,
                        4 | 5 => 1,
                        6 => (r >> 3) % 8,
                        _ => 14 + (r >> 3) % 24,
                    };
                    for k in 0..n {
                        out.push(match (r >> (6 + k % 24)) % 8 {
                            0 => '\t',
                            1 => '\n',
                            2 => '\r',
                            _ => ' ',
                        });
                    }
                }
            }
        }
    }

    fn write(j: &J, layout: &mut Layout, indent: usize, out: &mut String) {
        match j {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) | J::Raw(n) => out.push_str(n),
            J::Str(s) => write_json_string(out, s),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        layout.space(out, indent + 1, false);
                        out.push(',');
                    }
                    layout.space(out, indent + 1, true);
                    write(item, layout, indent + 1, out);
                }
                layout.space(out, indent, !items.is_empty());
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        layout.space(out, indent + 1, false);
                        out.push(',');
                    }
                    layout.space(out, indent + 1, true);
                    match &m.raw_name {
                        Some(raw) => out.push_str(raw),
                        None => write_json_string(out, &m.name),
                    }
                    layout.space(out, indent + 1, false);
                    out.push(':');
                    if let Layout::Pretty = layout {
                        out.push(' ');
                    }
                    layout.space(out, indent + 1, false);
                    write(&m.value, layout, indent + 1, out);
                }
                layout.space(out, indent, !members.is_empty());
                out.push('}');
            }
        }
    }

    /// The index paths of the nodes that `want` accepts, given the node and
    /// the name of the member it is in (array elements: the array's).
    fn nodes(
        j: &J,
        key: &str,
        want: &dyn Fn(&J, &str) -> bool,
        path: &mut Vec<usize>,
        out: &mut Vec<Vec<usize>>,
    ) {
        if want(j, key) {
            out.push(path.clone());
        }
        match j {
            J::Arr(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i);
                    nodes(item, key, want, path, out);
                    path.pop();
                }
            }
            J::Obj(members) => {
                for (i, m) in members.iter().enumerate() {
                    path.push(i);
                    nodes(&m.value, &m.name, want, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    fn node_mut<'j>(j: &'j mut J, path: &[usize]) -> &'j mut J {
        match path.split_first() {
            None => j,
            Some((&i, rest)) => match j {
                J::Arr(items) => node_mut(&mut items[i], rest),
                J::Obj(members) => node_mut(&mut members[i].value, rest),
                _ => unreachable!("paths come from `nodes`"),
            },
        }
    }

    /// The `a`-th node (modulo) among those `want` accepts, for changing.
    fn pick(doc: &mut J, a: u64, want: impl Fn(&J, &str) -> bool) -> Option<&mut J> {
        let mut fits = Vec::new();
        nodes(doc, "", &want, &mut Vec::new(), &mut fits);
        if fits.is_empty() {
            return None;
        }
        let p = &fits[(a % fits.len() as u64) as usize];
        Some(node_mut(doc, p))
    }

    fn choose<T: Clone>(list: &[T], b: u64) -> T {
        list[(b % list.len() as u64) as usize].clone()
    }

    fn set_member(obj: &mut J, name: &str, value: J) {
        if let J::Obj(members) = obj {
            match members.iter_mut().find(|m| m.name == name) {
                Some(m) => m.value = value,
                None => members.push(member(name, value)),
            }
        }
    }

    fn is_obj(j: &J) -> bool {
        matches!(j, J::Obj(m) if !m.is_empty())
    }

    const SCALARS: [&str; 14] = [
        "null",
        "true",
        "false",
        "0",
        "1.5",
        "-1",
        "\"x\"",
        "[]",
        "{}",
        "[\"x\"]",
        "{\"a\":1}",
        "1e400",
        "\"\"",
        "[1,[2,{\"b\":null}]]",
    ];

    const NAMES: [&str; 16] = [
        "x-ext",
        "",
        "policy-type",
        "summary",
        "policies",
        "organization-name",
        "result-type",
        "mx-host",
        "start-datetime",
        "total-failure-session-count",
        "x\"q",
        "\u{e9}t\u{e9}",
        "policy",
        "failure-details",
        "contact-info",
        "failed-session-count",
    ];

    const VALUES: [&str; 14] = [
        "1",
        "-0",
        "1e400",
        "-1.5e+10",
        "1E-400",
        "{\"a\":1,\"a\":2}",
        "{\"a\":{\"b\":[],\"b\":0}}",
        "[null,true,false,\"s\",{}]",
        "\"\\u00e9\\n\\/\\\"\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud800\"",
        "\"\\uDC00x\"",
        "  {  \"k\" :\t[ 1 , 2 ]\n}  ",
        "\"\\x\"",
    ];

    const COUNTS: [&str; 22] = [
        "0",
        "1",
        "303",
        "9007199254740991",
        "9007199254740992",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999",
        "-1",
        "-0",
        "0.0",
        "1.0",
        "1e3",
        "1E400",
        "-1e400",
        "00",
        "\"5\"",
        "null",
        "true",
        "[]",
        "1e-400",
        "123456789012345678901234567890",
    ];

    const TYPES: [&str; 18] = [
        "sts",
        "STS",
        "Sts",
        "tlsa",
        "TLSA",
        "no-policy-found",
        "No-Policy-Found",
        "future",
        "starttls-not-supported",
        "STARTTLS-NOT-SUPPORTED",
        "Certificate-Expired",
        "validation-failure",
        "sts-webpki-invalid",
        "x-new",
        "",
        "\u{17f}ts",
        "Validation-Failure ",
        "DNSSEC-invalid",
    ];

    const IPS: [&str; 24] = [
        "192.0.2.1",
        "203.0.113.56",
        "2001:db8:abcd:0012::1",
        "2001:DB8::1",
        "::",
        "::1",
        "::ffff:192.0.2.1",
        "1:2:3:4:5:6:7:8",
        "1::2::3",
        "01.2.3.4",
        "256.1.1.1",
        "1.2.3",
        "fe80::1%eth0",
        " 192.0.2.1",
        "192.0.2.1 ",
        "",
        "1:2:3:4:5:6:1.2.3.4",
        "::1.2.3.4",
        "1.2.3.04",
        "0.0.0.0",
        "[::1]",
        "x\u{1}y",
        "1:2:3:4:5:6:7::",
        "::0:0:0:0:0:0:0",
    ];

    const CONTACTS: [&str; 14] = [
        "a@b.c",
        "nobody",
        "a b@c.d",
        "a@b.c\n",
        "x@y@mail.example",
        "caf\u{e9}@\u{fc}ber.example",
        "a@.b.c",
        "a@b.c.",
        "@b.c",
        "reports@exam\u{a0}ple.com",
        "a\u{1}b@example.com",
        "a@b",
        "a\u{85}@b.c",
        "a\u{b}@b.c",
    ];

    const ENCODED: [&str; 12] = [
        r#"["3 1 1 AB","3 1 1 CD"]"#,
        r#" [ "x" ] "#,
        "[]",
        "[1]",
        "[",
        r#"["a"] x"#,
        "\u{a0}[\"a\"]",
        r#"["a\u00e9"]"#,
        r#"[["a"]]"#,
        "\t[\"a\"]\n",
        r#"["\ud800"]"#,
        r#"["a","a"]"#,
    ];

    const MX_PREFIXES: [&str; 6] = ["mx:", "mx: ", "mx: mx:", "MX:", " mx:", "mx:\u{a0}"];

    /// A date-time in one of many forms, valid or not, chosen by `b`.
    fn date_form(b: u64) -> String {
        let odd = [
            "yesterday",
            "",
            "2016-04-01",
            "2016-04-01T00:00:00Z",
            "0000-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-00:01",
        ];
        if b.is_multiple_of(8) {
            return choose(&odd, b / 8).to_owned();
        }
        let dates = [
            "2016-04-01",
            "2024-02-29",
            "2023-02-29",
            "0000-01-01",
            "9999-12-31",
            "2016-13-01",
            "2016-04-00",
            "2016-4-01",
        ];
        let times = [
            "00:00:00", "23:59:59", "23:59:60", "24:00:00", "12:60:00", "1:00:00",
        ];
        let seps = ["T", "t", " ", "x", ""];
        let fracs = ["", "", ".5", ".123456789", ".1234567891", ".", ".0"];
        let zones = [
            "Z", "z", "+00:00", "-00:01", "+01:00", "+23:59", "+24:00", "", "+0100", "Z ", "+01",
        ];
        let mut b = b / 8;
        let mut next = |n: usize| {
            let i = (b % n as u64) as usize;
            b /= n as u64;
            i
        };
        format!(
            "{}{}{}{}{}",
            dates[next(dates.len())],
            seps[next(seps.len())],
            times[next(times.len())],
            fracs[next(fracs.len())],
            zones[next(zones.len())]
        )
    }

    /// `s` as a JSON string literal with escape sequences chosen by `b`
    /// (now and then a broken one).
    fn escaped(s: &str, b: u64) -> String {
        let mut out = String::from("\"");
        for (i, c) in s.chars().enumerate() {
            let bit = (b >> (i % 48)) & 1 == 1;
            let upper = (b >> ((i + 7) % 48)) & 1 == 1;
            if bit || c == '"' || c == '\\' || (c as u32) < 0x20 {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    if upper {
                        out.push_str(&format!("\\u{u:04X}"));
                    } else {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
            } else if c == '/' && upper {
                out.push_str("\\/");
            } else {
                out.push(c);
            }
        }
        match b % 23 {
            0 => out.push_str("\\ud800"),
            1 => out.push_str("\\udc00\\ud800"),
            2 => out.push_str("\\x"),
            3 => out.push_str("\\u12"),
            4 => out.push_str("\\ud83d\\ude00\\b\\f\\r\\t\\n"),
            _ => {}
        }
        out.push('"');
        out
    }

    /// Arrays and objects nested `n` deep around a number or an empty array.
    fn nested(b: u64) -> J {
        let n = choose(&[1usize, 2, 62, 63, 64, 65, 66, 127, 128, 129, 200], b);
        let mut j = if (b >> 8) & 1 == 0 {
            J::Num("1".into())
        } else {
            J::Arr(Vec::new())
        };
        for level in 0..n {
            j = if (b >> (12 + level % 40)) & 1 == 0 {
                J::Arr(vec![j])
            } else {
                J::Obj(vec![member("k", j)])
            };
        }
        j
    }

    /// A string of characters that matter to the readers.
    fn odd_string(a: u64, b: u64) -> String {
        let pool = [
            'a',
            'Z',
            '0',
            '-',
            '.',
            '@',
            ' ',
            '\t',
            '\n',
            '\u{a0}',
            '\u{2003}',
            '\u{1}',
            '"',
            '\\',
            '\u{e9}',
            '\u{4e2d}',
            '\u{1f600}',
            'm',
            'x',
            ':',
            '[',
            ']',
            '\u{7f}',
            '/',
        ];
        let len = b % 12;
        let mut a = a;
        (0..len)
            .map(|_| {
                let c = pool[(a % pool.len() as u64) as usize];
                a /= pool.len() as u64;
                if a == 0 {
                    a = b.rotate_left(17) | 1;
                }
                c
            })
            .collect()
    }

    fn key_in(names: &'static [&'static str]) -> impl Fn(&J, &str) -> bool {
        move |_, key| names.contains(&key)
    }

    /// Apply mutation `kind` at a node chosen by `a`, with details from `b`.
    fn mutate(doc: &mut J, kind: u8, a: u64, b: u64) {
        match kind {
            // Remove a member.
            0 => {
                if let Some(J::Obj(members)) = pick(doc, a, |j, _| is_obj(j)) {
                    members.remove((b % members.len() as u64) as usize);
                }
            }
            // Duplicate a member.
            1 => {
                if let Some(J::Obj(members)) = pick(doc, a, |j, _| is_obj(j)) {
                    let m = members[(b % members.len() as u64) as usize].clone();
                    let at = ((b >> 8) % (members.len() as u64 + 1)) as usize;
                    members.insert(at, m);
                }
            }
            // Another JSON type.
            2 => {
                if let Some(j) = pick(doc, a, |_, _| true) {
                    *j = J::Raw(choose(&SCALARS, b).to_owned());
                }
            }
            // Change the case of a string.
            3 => {
                if let Some(J::Str(s)) = pick(doc, a, |j, _| matches!(j, J::Str(_))) {
                    *s = match b % 4 {
                        0 => s.to_uppercase(),
                        1 => {
                            let mut c = s.chars();
                            c.next()
                                .map(|f| f.to_uppercase().chain(c).collect())
                                .unwrap_or_default()
                        }
                        2 => s
                            .chars()
                            .enumerate()
                            .map(|(i, c)| {
                                if i % 2 == 0 {
                                    c.to_ascii_uppercase()
                                } else {
                                    c
                                }
                            })
                            .collect(),
                        _ => s
                            .chars()
                            .map(|c| {
                                if c.is_ascii_uppercase() {
                                    c.to_ascii_lowercase()
                                } else {
                                    c.to_ascii_uppercase()
                                }
                            })
                            .collect(),
                    };
                }
            }
            // Arrays to strings or their one element, and back.
            4 => {
                if let Some(j) = pick(doc, a, |_, _| true) {
                    *j = match std::mem::replace(j, J::Null) {
                        J::Arr(mut items) if !items.is_empty() && b.is_multiple_of(2) => {
                            items.remove(0)
                        }
                        J::Arr(items) => {
                            let text: Vec<String> = items
                                .iter()
                                .map(|i| match i {
                                    J::Str(s) => s.clone(),
                                    _ => String::new(),
                                })
                                .collect();
                            J::Str(text.join(" "))
                        }
                        other => J::Arr(vec![other]),
                    };
                }
            }
            // An unknown (or misplaced) member.
            5 => {
                if let Some(J::Obj(members)) = pick(doc, a, |j, _| matches!(j, J::Obj(_))) {
                    let name = choose(&NAMES, b);
                    let value = match (b >> 8) % 3 {
                        0 => J::Raw(choose(&SCALARS, b >> 12).to_owned()),
                        1 => J::Raw(choose(&VALUES, b >> 12).to_owned()),
                        _ => J::Str(odd_string(a, b >> 12)),
                    };
                    let at = ((b >> 20) % (members.len() as u64 + 1)) as usize;
                    members.insert(at, member(name, value));
                }
            }
            // Date-times.
            6 => {
                let want = key_in(&["start-datetime", "end-datetime"]);
                if let Some(j) = pick(doc, a, want) {
                    *j = J::Str(date_form(b));
                }
            }
            // Counts.
            7 => {
                let want = key_in(&[
                    "total-successful-session-count",
                    "total-failure-session-count",
                    "failed-session-count",
                ]);
                if let Some(j) = pick(doc, a, want) {
                    *j = J::Raw(choose(&COUNTS, b).to_owned());
                }
            }
            // Escape sequences, in a value or a member name.
            8 => {
                if b.is_multiple_of(3) {
                    if let Some(J::Obj(members)) = pick(doc, a, |j, _| is_obj(j)) {
                        let i = ((b >> 8) % members.len() as u64) as usize;
                        members[i].raw_name = Some(escaped(&members[i].name, b >> 3));
                    }
                } else if let Some(j) = pick(doc, a, |j, _| matches!(j, J::Str(_)))
                    && let J::Str(s) = j
                {
                    *j = J::Raw(escaped(s, b));
                }
            }
            // Deep nesting in an unknown member.
            9 => {
                if let Some(J::Obj(members)) = pick(doc, a, |j, _| matches!(j, J::Obj(_))) {
                    let at = (b % (members.len() as u64 + 1)) as usize;
                    members.insert(at, member("x-deep", nested(b >> 4)));
                }
            }
            // `mx:` prefixes.
            10 => {
                if let Some(J::Str(s)) =
                    pick(doc, a, |j, key| matches!(j, J::Str(_)) && key == "mx-host")
                {
                    *s = format!("{}{s}", choose(&MX_PREFIXES, b));
                }
            }
            // A double-encoded tlsa policy-string (DEC-24).
            11 => {
                if let Some(policy) = pick(doc, a, |j, key| key == "policy" && is_obj(j)) {
                    set_member(policy, "policy-type", J::Str("tlsa".into()));
                    let line = J::Str(choose(&ENCODED, b).to_owned());
                    let value = if b >> 8 & 3 == 0 {
                        line
                    } else {
                        J::Arr(vec![line])
                    };
                    set_member(policy, "policy-string", value);
                }
            }
            // contact-info.
            12 => {
                let value = match b % 16 {
                    0 => J::Null,
                    1 => J::Num("1".into()),
                    _ => J::Str(choose(&CONTACTS, b / 16).to_owned()),
                };
                set_member(doc, "contact-info", value);
            }
            // IP addresses.
            13 => {
                let want = key_in(&["sending-mta-ip", "receiving-ip"]);
                if let Some(j) = pick(doc, a, want) {
                    *j = J::Str(choose(&IPS, b).to_owned());
                }
            }
            // Policy and result types.
            14 => {
                let want = key_in(&["policy-type", "result-type"]);
                if let Some(j) = pick(doc, a, want) {
                    *j = J::Str(choose(&TYPES, b).to_owned());
                }
            }
            // Any string to an odd one.
            _ => {
                if let Some(j) = pick(doc, a, |j, _| matches!(j, J::Str(_))) {
                    *j = J::Str(odd_string(a, b));
                }
            }
        }
    }

    fn seed_tree(i: usize) -> J {
        let seeds = seeds();
        seeds[i % seeds.len()].clone()
    }

    /// The document as bytes, in the layout `flags` chooses (`spaces`
    /// drives the odd white space).
    fn render(doc: &J, flags: u8, spaces: u64) -> Vec<u8> {
        let mut text = String::new();
        if flags & 0x70 == 0x70 {
            text.push('\u{feff}');
        }
        if flags & 0x02 != 0 {
            text.push_str(" \n\t");
        }
        let mut layout = match flags & 0x09 {
            0 => Layout::Compact,
            1 => Layout::Pretty,
            _ => Layout::Odd(spaces),
        };
        write(doc, &mut layout, 0, &mut text);
        if flags & 0x04 != 0 {
            text.push_str("\r\n ");
        }
        if flags == 0xff {
            text.push('x');
        }
        text.into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Mutated corpus reports: the fast reader and the reference agree.
        #[test]
        fn fast_reader_matches_reference(
            seed in 0..64usize,
            ops in proptest::collection::vec((0u8..16, any::<u64>(), any::<u64>()), 0..6),
            flags in any::<u8>(),
            spaces in any::<u64>(),
        ) {
            let mut doc = seed_tree(seed);
            for &(kind, a, b) in &ops {
                mutate(&mut doc, kind, a, b);
            }
            let bytes = render(&doc, flags, spaces);
            if let Err(diff) = compare(&bytes) {
                prop_assert!(false, "{}\ninput: {}", diff, String::from_utf8_lossy(&bytes));
            }
        }
    }

    /// `Report`'s serde `Serialize` and `Report::to_json` write what the
    /// reference writer (the former hand-written `to_json`) writes, compact
    /// and pretty; `false` when the lenient reader refuses `bytes` (nothing
    /// to write).
    fn serde_matches_to_json(bytes: &[u8]) -> Result<bool, String> {
        let Ok(p) = Report::parse_lenient(bytes) else {
            return Ok(false);
        };
        for pretty in [false, true] {
            let serde = if pretty {
                serde_json::to_string_pretty(&p.value)
            } else {
                serde_json::to_string(&p.value)
            };
            let to_json = p.value.to_json(pretty);
            let reference = super::write_json(&p.value, pretty);
            if serde.as_ref().ok() != Some(&reference) || to_json != reference {
                return Err(format!(
                    "serde:     {serde:?}\nto_json:   {to_json}\nreference: {reference}"
                ));
            }
        }
        Ok(true)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Mutated corpus reports that the lenient reader accepts: serde
        /// and `to_json` write them as the reference writer does.
        #[test]
        fn serialize_matches_to_json_on_mutated_reports(
            seed in 0..64usize,
            ops in proptest::collection::vec((0u8..16, any::<u64>(), any::<u64>()), 0..6),
            flags in any::<u8>(),
            spaces in any::<u64>(),
        ) {
            let mut doc = seed_tree(seed);
            for &(kind, a, b) in &ops {
                mutate(&mut doc, kind, a, b);
            }
            let bytes = render(&doc, flags, spaces);
            if let Err(diff) = serde_matches_to_json(&bytes) {
                prop_assert!(false, "{}\ninput: {}", diff, String::from_utf8_lossy(&bytes));
            }
        }
    }

    /// Every mutation kind on every seed, as in
    /// `every_mutation_on_every_seed`: serde and `to_json` write what the
    /// reference writer writes.
    #[test]
    fn serialize_matches_to_json_after_every_mutation() {
        let mut written = 0;
        for seed in 0..seeds().len() {
            for kind in 0..16u8 {
                for k in 0..4u64 {
                    let mut doc = seed_tree(seed);
                    let (a, b) = (k.wrapping_mul(0x9e37_79b9_7f4a_7c15), k * 7919 + 3);
                    mutate(&mut doc, kind, a, b);
                    let bytes = render(&doc, [0, 1, 8, 9][k as usize % 4], a);
                    match serde_matches_to_json(&bytes) {
                        Ok(accepted) => written += usize::from(accepted),
                        Err(diff) => panic!("{diff}\ninput: {}", String::from_utf8_lossy(&bytes)),
                    }
                }
            }
        }
        // Most mutations leave a readable report.
        assert!(written >= seeds().len() * 16, "{written} written");
    }

    /// Every JSON file of the test data.
    #[test]
    fn every_json_file_of_the_test_data() {
        let files = json_files();
        assert!(files.len() >= 13, "{} files", files.len());
        for (path, bytes) in files {
            if let Err(diff) = compare(&bytes) {
                panic!("{}: {diff}", path.display());
            }
        }
    }

    /// The corpus, pretty and compact, each with every mutation applied once
    /// at a few places: a quick sweep of every mutation kind.
    #[test]
    fn every_mutation_on_every_seed() {
        for seed in 0..seeds().len() {
            for kind in 0..16u8 {
                for k in 0..4u64 {
                    let mut doc = seed_tree(seed);
                    let (a, b) = (k.wrapping_mul(0x9e37_79b9_7f4a_7c15), k * 7919 + 3);
                    mutate(&mut doc, kind, a, b);
                    let bytes = render(&doc, [0, 1, 8, 9][k as usize % 4], a);
                    if let Err(diff) = compare(&bytes) {
                        panic!("{diff}\ninput: {}", String::from_utf8_lossy(&bytes));
                    }
                }
            }
        }
    }

    const DOC: &str = r#"{"organization-name":"Org","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"r@org.example","report-id":"id-1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1"],"policy-domain":"example.com","mx-host":["mx.example.com"]},"summary":{"total-successful-session-count":1,"total-failure-session-count":0},"failure-details":[]}]}"#;

    /// `DOC` with an unknown top-level member `"x":<value>`.
    fn with_unknown(value: &str) -> String {
        DOC.replacen('{', &format!(r#"{{"x":{value},"#), 1)
    }

    #[test]
    fn numbers_beyond_f64_are_kept_as_written() {
        for n in ["1e400", "-1E+400", "123456789012345678901234567890e300"] {
            let json = with_unknown(&format!("[{n}, {{\"n\": {n}}}]"));
            assert_eq!(compare(json.as_bytes()), Ok(()), "{n}");
            let r = parse(json.as_bytes(), true).unwrap();
            assert_eq!(
                r.report.extensions[0].raw_json,
                format!("[{n}, {{\"n\": {n}}}]")
            );
        }
        // Not a count, though.
        let json = DOC.replace(
            r#""total-failure-session-count":0"#,
            r#""total-failure-session-count":1e400"#,
        );
        assert!(parse(json.as_bytes(), false).is_err());
        assert_eq!(compare(json.as_bytes()), Ok(()));
    }

    #[test]
    fn unknown_members_nest_at_most_max_depth_levels() {
        // The member's value is level 1: 63 arrays around a number put the
        // number at level 64, 64 arrays put it at level 65.
        for (arrays, ok) in [(63, true), (64, false)] {
            let json = with_unknown(&format!("{}1{}", "[".repeat(arrays), "]".repeat(arrays)));
            assert_eq!(parse(json.as_bytes(), true).is_ok(), ok, "{arrays}");
            assert_eq!(
                Report::parse_strict(json.as_bytes()).is_ok(),
                ok,
                "{arrays}"
            );
            assert_eq!(compare(json.as_bytes()), Ok(()), "{arrays}");
        }
        // Beyond the tree's own limit (and serde_json's) both refuse too.
        let json = with_unknown(&format!("{}{}", "[".repeat(500), "]".repeat(500)));
        assert_eq!(parse(json.as_bytes(), false).unwrap_err().path, None);
        assert_eq!(compare(json.as_bytes()), Ok(()));
    }

    #[test]
    fn lone_surrogates() {
        for s in [r"\ud800", r"\udc00", r"\ud800\u0041", r"\ud800x"] {
            let json = DOC.replace("Org", s);
            assert!(parse(json.as_bytes(), false).is_err(), "{s}");
            assert_eq!(compare(json.as_bytes()), Ok(()), "{s}");
            let json = with_unknown(&format!("\"{s}\""));
            assert!(parse(json.as_bytes(), false).is_err(), "{s}");
            assert_eq!(compare(json.as_bytes()), Ok(()), "{s}");
        }
        let json = DOC.replace("Org", r"\ud83d\ude00");
        assert_eq!(
            parse(json.as_bytes(), true)
                .unwrap()
                .report
                .organization_name,
            "\u{1f600}"
        );
    }

    #[test]
    fn duplicates_and_byte_order_mark() {
        let json = with_unknown(r#"{"a":1,"b":{"c":1,"c":2}}"#);
        let e = parse(json.as_bytes(), false).unwrap_err();
        assert_eq!(e.path.as_deref(), Some(""));
        assert_eq!(compare(json.as_bytes()), Ok(()));
        let json = DOC.replacen(
            r#""report-id":"id-1""#,
            r#""report-id":"id-1","report\u002did":"2""#,
            1,
        );
        assert!(parse(json.as_bytes(), false).is_err());
        assert_eq!(compare(json.as_bytes()), Ok(()));
        let json = format!("\u{feff}{DOC}");
        assert!(parse(json.as_bytes(), true).is_err());
        assert_eq!(
            parse(json.as_bytes(), false).unwrap().warnings[0].code,
            "byte-order-mark"
        );
        assert_eq!(compare(json.as_bytes()), Ok(()));
    }

    /// Long `failure-details` arrays (the fast reader reuses a scratch
    /// vector from 256 elements on) and objects with many unknown members
    /// (its duplicate check switches to a hash set beyond 16).
    #[test]
    fn long_arrays_and_many_members() {
        let detail = |i: usize| {
            format!(
                r#"{{"result-type":"starttls-not-supported","sending-mta-ip":"192.0.2.{}","receiving-mx-hostname":"mx{i}.example","failed-session-count":{i}}}"#,
                i % 256
            )
        };
        let pol = |n: usize, dup: bool| {
            let d: Vec<String> = (0..n).map(detail).collect();
            let mut ext = String::new();
            for k in 0..20 {
                ext.push_str(&format!(r#""x-{k}":{k},"#));
            }
            if dup {
                ext.push_str(r#""x-3":1,"#);
            }
            format!(
                r#"{{{ext}"policy":{{"policy-type":"sts","policy-string":[],"policy-domain":"d","mx-host":[]}},"summary":{{"total-successful-session-count":1,"total-failure-session-count":5}},"failure-details":[{}]}}"#,
                d.join(",")
            )
        };
        for sizes in [
            vec![300, 5, 300],
            vec![5, 300, 2, 400],
            vec![256, 255, 257],
            vec![0, 300, 0],
        ] {
            for dup in [false, true] {
                let p: Vec<String> = sizes.iter().map(|&n| pol(n, dup)).collect();
                let json = format!(
                    r#"{{"organization-name":"o","date-range":{{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T00:00:00Z"}},"contact-info":"a@b.c","report-id":"r","policies":[{}]}}"#,
                    p.join(",")
                );
                assert_eq!(compare(json.as_bytes()), Ok(()));
            }
        }
    }

    /// A valid report with one failure detail; `IPADDR` is replaced.
    const DETAIL_DOC: &str = r#"{"organization-name":"Org","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"r@org.example","report-id":"id-1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1"],"policy-domain":"example.com","mx-host":["mx.example.com"]},"summary":{"total-successful-session-count":1,"total-failure-session-count":2},"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"IPADDR","receiving-mx-hostname":"mx.example.com","failed-session-count":2}]}]}"#;
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Scalars of many forms, one at a time, in an otherwise valid
        /// report: IP addresses, contacts, escapes, numbers, date-times,
        /// member names close to the schema's.
        #[test]
        fn ips(s in "[0-9a-fA-F:.]{0,40}|(([0-9a-f]{1,4}|0{1,5}|:)[:.]){0,10}([0-9]{1,3}\\.){0,4}[0-9]{0,3}") {
            let json = DETAIL_DOC.replace("IPADDR", &s);
            prop_assert_eq!(compare(json.as_bytes()), Ok(()), "{}", s);
        }
        #[test]
        fn contacts(s in "[a-z@. \t\u{a0}\u{1}\u{85}\u{2028}\u{3000}\u{b}\u{c}\u{1c}-\u{1f}\u{7f}\u{80}-\u{ff}-]{0,30}") {
            let mut lit = String::new();
            write_json_string(&mut lit, &s);
            let json = DETAIL_DOC.replace("\"r@org.example\"", &lit);
            prop_assert_eq!(compare(json.as_bytes()), Ok(()), "{:?}", s);
        }
        #[test]
        fn strings(s in "([a-z\"/\u{e9}\u{1f600}]|\\\\[\"\\\\/bfnrtuxU]|\\\\u[0-9a-fA-FdD]{0,4}|\\\\u[dD][89abAB][0-9a-f]{2}(\\\\u[dD][c-fC-F][0-9a-f]{2})?){0,12}") {
            let json = DETAIL_DOC.replace("id-1", &s);
            prop_assert_eq!(compare(json.as_bytes()), Ok(()), "{:?}", s);
            let json = DETAIL_DOC.replace("\"id-1\"", &format!("\"id-1\",\"{s}\":1"));
            prop_assert_eq!(compare(json.as_bytes()), Ok(()), "{:?}", s);
        }
        #[test]
        fn numbers(s in "-?(0|[1-9][0-9]{0,25}|0[0-9]{0,3})(\\.[0-9]{0,3})?([eE][+-]?[0-9]{0,4})?") {
            let json = DETAIL_DOC.replace(r#""failed-session-count":2"#, &format!(r#""failed-session-count":{s}"#));
            prop_assert_eq!(compare(json.as_bytes()), Ok(()), "{}", s);
            let json = DETAIL_DOC.replace(r#""id-1""#, &format!(r#""id-1","x":[{s}]"#));
            prop_assert_eq!(compare(json.as_bytes()), Ok(()), "{}", s);
        }
        #[test]
        fn dates(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt x][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,10})?([Zz]|[+-][0-9]{2}:[0-9]{2}|[+-][0-9]{0,4})?") {
            let json = DETAIL_DOC.replace("2016-04-01T00:00:00Z", &s);
            prop_assert_eq!(compare(json.as_bytes()), Ok(()), "{}", s);
        }
        #[test]
        fn names(s in "(policy|policy-type|policy-string|mx-host|summary|total-failure-session-count|receiving-ip|receiving-mx-helo|receiving-mx-hostname|failure-reason-code|failed-session-count|result-type)[\"a-z-]{0,2}") {
            let json = DETAIL_DOC.replace(r#""mx.example.com"]"#, &format!(r#""mx.example.com"],"{s}":"x""#));
            prop_assert_eq!(compare(json.as_bytes()), Ok(()), "{}", s);
            let json = DETAIL_DOC.replace(r#""failed-session-count":2"#, &format!(r#""failed-session-count":2,"{s}":"x""#));
            prop_assert_eq!(compare(json.as_bytes()), Ok(()), "{}", s);
        }
    }
}
