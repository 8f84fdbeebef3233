//! Flat exports: parsedmarc-compatible CSV and NDJSON.
//!
//! [`rows`] flattens a report into [`Row`]s, the way parsedmarc does
//! (interop section 3): for each policy one summary row (`result_type`
//! empty, counts from the policy's `summary`), then one row per failure
//! detail (`result_type` and `failed_session_count` from the detail,
//! `successful_session_count` empty). Unlike parsedmarc, **every** row is
//! filled from its own policy (`policy_domain`, `policy_type`,
//! `policy_strings`, `mx_host_patterns`): nothing leaks from one policy
//! into the next, and failure rows are not left without their domain.
//! Both writers use these rows, so CSV and NDJSON always agree.
//!
//! Values: dates are the JSON dates of the report (RPT-GEN-06) written as
//! RFC 3339 in UTC with `Z`; lists are joined with `|`; IP addresses in
//! RFC 5952 form (or as written when they are not addresses).
//!
//! - [`CsvWriter`]: exactly parsedmarc's 17 columns ([`COLUMNS`]), header
//!   row once, RFC 4180 (fields with `,` or `"` quoted, inner `"` doubled,
//!   CRLF line ends). An absent value is an empty field. Reports are
//!   untrusted and CSV files end up in terminals (`cat`, `less`) and
//!   pagers: control characters inside a value (C0 including TAB, CR and
//!   LF, DEL, C1) and the Unicode line separators and bidirectional
//!   overrides are written as escapes, `\t`, `\r`, `\n` or `\u{1b}`
//!   style, as [`mta_sts_core::display::escape_controls`] does. So every
//!   record is one line and a field never holds a raw line break; the
//!   escaping is not reversed on reading (a backslash in a value is kept
//!   as it is). Otherwise values are written as they are by default; for
//!   files that people open in a spreadsheet use
//!   [`CsvWriter::with_formula_guard`], which prefixes `'` to text fields
//!   starting with `=`, `+`, `-` or `@` (CSV formula injection, OWASP;
//!   TAB and CR, which OWASP lists too, are escaped anyway). That alters
//!   the data, which is why it is not the default. Numeric columns never
//!   need it (counts are unsigned).
//!
//!   NDJSON needs no such escaping: JSON strings escape control
//!   characters (the bidirectional overrides are kept as they are, as in
//!   every JSON output).
//! - [`NdjsonWriter`]: one JSON object per line with the same keys, in the
//!   same order, plus `source` when given; counts are JSON numbers; an
//!   absent value is `null` (every line has every key, which suits
//!   ClickHouse `JSONEachRow` with `Nullable` columns and
//!   Elasticsearch/OpenSearch bulk loads alike). An empty list
//!   (`policy_strings`, `mx_host_patterns`) is `null` too, and an empty
//!   field in CSV.
//!
//! ```
//! use tlsrpt_core::Report;
//! use tlsrpt_core::export::{CsvWriter, NdjsonWriter, rows};
//!
//! let json = br#"{"organization-name":"Org, Inc.","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"a@org.example","report-id":"r1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing"],"policy-domain":"example.com","mx-host":["mx.example.com"]},"summary":{"total-successful-session-count":10,"total-failure-session-count":2},"failure-details":[{"result-type":"starttls-not-supported","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx.example.com","failed-session-count":2}]}]}"#;
//! let report = Report::parse_lenient(json)?.value;
//! assert_eq!(rows(&report).count(), 2);
//!
//! let mut csv = CsvWriter::new();
//! csv.write_report(&report);
//! let text = csv.into_string();
//! let lines: Vec<&str> = text.split("\r\n").collect();
//! assert!(lines[0].starts_with("organization_name,begin_date,end_date,report_id,result_type,"));
//! assert_eq!(lines[1], r#""Org, Inc.",2016-04-01T00:00:00Z,2016-04-01T23:59:59Z,r1,,10,2,example.com,sts,version: STSv1|mode: testing,mx.example.com,,,,,,"#);
//! assert_eq!(lines[2], r#""Org, Inc.",2016-04-01T00:00:00Z,2016-04-01T23:59:59Z,r1,starttls-not-supported,,2,example.com,sts,version: STSv1|mode: testing,mx.example.com,192.0.2.1,,mx.example.com,,,"#);
//!
//! let mut nd = NdjsonWriter::new();
//! nd.write_report(&report, Some("r1.json"));
//! let text = nd.into_string();
//! let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap_or(""))?;
//! assert_eq!(second["failed_session_count"], 2);
//! assert_eq!(second["successful_session_count"], serde_json::Value::Null);
//! assert_eq!(second["source"], "r1.json");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

use mta_sts_core::display::escape_controls;

use crate::report::{Ip, Report, write_json_string};
use crate::time::Timestamp;

/// parsedmarc's column names, in its order.
pub const COLUMNS: [&str; 17] = [
    "organization_name",
    "begin_date",
    "end_date",
    "report_id",
    "result_type",
    "successful_session_count",
    "failed_session_count",
    "policy_domain",
    "policy_type",
    "policy_strings",
    "mx_host_patterns",
    "sending_mta_ip",
    "receiving_ip",
    "receiving_mx_hostname",
    "receiving_mx_helo",
    "additional_info_uri",
    "failure_reason_code",
];

/// One flat row (see the [module documentation](self)). Fields follow
/// [`COLUMNS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'r> {
    /// `organization-name`
    pub organization_name: &'r str,
    /// `start-datetime`
    pub begin_date: Timestamp,
    /// `end-datetime`
    pub end_date: Timestamp,
    /// `report-id`
    pub report_id: &'r str,
    /// The detail's `result-type`; `None` on the summary row.
    pub result_type: Option<&'r str>,
    /// The policy's `total-successful-session-count`; `None` on detail rows.
    pub successful_session_count: Option<u64>,
    /// The policy's `total-failure-session-count` (summary row) or the
    /// detail's `failed-session-count`.
    pub failed_session_count: u64,
    /// The policy's `policy-domain`.
    pub policy_domain: Option<&'r str>,
    /// The policy's `policy-type`.
    pub policy_type: &'r str,
    /// The policy's `policy-string` elements.
    pub policy_strings: &'r [Cow<'r, str>],
    /// The policy's `mx-host` elements.
    pub mx_host_patterns: &'r [Cow<'r, str>],
    /// `sending-mta-ip`
    pub sending_mta_ip: Option<&'r Ip<'r>>,
    /// `receiving-ip`
    pub receiving_ip: Option<&'r Ip<'r>>,
    /// `receiving-mx-hostname`
    pub receiving_mx_hostname: Option<&'r str>,
    /// `receiving-mx-helo`
    pub receiving_mx_helo: Option<&'r str>,
    /// `additional-information`
    pub additional_info_uri: Option<&'r str>,
    /// `failure-reason-code`
    pub failure_reason_code: Option<&'r str>,
}

/// One value of a row, as both writers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'r> {
    /// Absent: an empty CSV field, JSON `null`.
    Null,
    /// Text.
    Text(Cow<'r, str>),
    /// A count.
    Number(u64),
}

fn text(s: Option<&str>) -> Value<'_> {
    s.map_or(Value::Null, |s| Value::Text(Cow::Borrowed(s)))
}

fn joined<'r>(items: &'r [Cow<'r, str>]) -> Value<'r> {
    match items {
        [] => Value::Null,
        [one] => Value::Text(Cow::Borrowed(one.as_ref())),
        many => Value::Text(Cow::Owned(
            many.iter()
                .map(AsRef::as_ref)
                .collect::<Vec<&str>>()
                .join("|"),
        )),
    }
}

fn ip(i: Option<&Ip<'_>>) -> Value<'static> {
    i.map_or(Value::Null, |i| Value::Text(Cow::Owned(i.to_string())))
}

impl<'r> Row<'r> {
    /// The values, in [`COLUMNS`] order.
    pub fn values(&self) -> [Value<'r>; 17] {
        [
            Value::Text(Cow::Borrowed(self.organization_name)),
            Value::Text(Cow::Owned(self.begin_date.to_string())),
            Value::Text(Cow::Owned(self.end_date.to_string())),
            Value::Text(Cow::Borrowed(self.report_id)),
            text(self.result_type),
            self.successful_session_count
                .map_or(Value::Null, Value::Number),
            Value::Number(self.failed_session_count),
            text(self.policy_domain),
            Value::Text(Cow::Borrowed(self.policy_type)),
            joined(self.policy_strings),
            joined(self.mx_host_patterns),
            ip(self.sending_mta_ip),
            ip(self.receiving_ip),
            text(self.receiving_mx_hostname),
            text(self.receiving_mx_helo),
            text(self.additional_info_uri),
            text(self.failure_reason_code),
        ]
    }
}

impl serde::Serialize for Row<'_> {
    /// A map with the [`COLUMNS`] keys (the NDJSON object without
    /// `source`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut m = s.serialize_map(Some(COLUMNS.len()))?;
        for (k, v) in COLUMNS.iter().zip(self.values()) {
            match v {
                Value::Null => m.serialize_entry(k, &Option::<u64>::None)?,
                Value::Text(t) => m.serialize_entry(k, t.as_ref())?,
                Value::Number(n) => m.serialize_entry(k, &n)?,
            }
        }
        m.end()
    }
}

/// The rows of a report: per policy, its summary row followed by one row
/// per failure detail.
pub fn rows<'r>(report: &'r Report<'r>) -> impl Iterator<Item = Row<'r>> + 'r {
    report.policies.iter().flat_map(move |p| {
        let base = Row {
            organization_name: &report.organization_name,
            begin_date: report.date_range.start,
            end_date: report.date_range.end,
            report_id: &report.report_id,
            result_type: None,
            successful_session_count: Some(p.summary.total_successful_session_count),
            failed_session_count: p.summary.total_failure_session_count,
            policy_domain: p.policy.policy_domain.as_deref(),
            policy_type: p.policy.policy_type.as_str(),
            policy_strings: &p.policy.policy_string,
            mx_host_patterns: &p.policy.mx_host,
            sending_mta_ip: None,
            receiving_ip: None,
            receiving_mx_hostname: None,
            receiving_mx_helo: None,
            additional_info_uri: None,
            failure_reason_code: None,
        };
        let details = p.failure_details.iter().map({
            let base = base.clone();
            move |d| Row {
                result_type: Some(d.result_type.as_str()),
                successful_session_count: None,
                failed_session_count: d.failed_session_count,
                sending_mta_ip: d.sending_mta_ip.as_ref(),
                receiving_ip: d.receiving_ip.as_ref(),
                receiving_mx_hostname: d.receiving_mx_hostname.as_deref(),
                receiving_mx_helo: d.receiving_mx_helo.as_deref(),
                additional_info_uri: d.additional_information.as_deref(),
                failure_reason_code: d.failure_reason_code.as_deref(),
                ..base.clone()
            }
        });
        std::iter::once(base).chain(details)
    })
}

/// Whether a text value could start a spreadsheet formula.
fn formula_like(s: &str) -> bool {
    matches!(
        s.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// Append one RFC 4180 field to `out`: control characters escaped first,
/// then quoted (inner `"` doubled) when it holds `,`, `"` or a line break,
/// and with `formula_guard` a `'` put before a value that could start a
/// spreadsheet formula (see the [module documentation](self)). For other
/// tables that follow the same rules (`mtasts check --format csv`).
///
/// ```
/// let mut row = String::new();
/// tlsrpt_core::export::csv_field(&mut row, "a,\"b\"", false);
/// row.push(',');
/// tlsrpt_core::export::csv_field(&mut row, "=1+1", true);
/// assert_eq!(row, "\"a,\"\"b\"\"\",'=1+1");
/// ```
pub fn csv_field(out: &mut String, s: &str, formula_guard: bool) {
    let guard = formula_guard;
    let s = escape_controls(s);
    let prefix = if guard && formula_like(&s) { "'" } else { "" };
    if s.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(prefix);
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(prefix);
        out.push_str(&s);
    }
}

/// Writes parsedmarc-compatible CSV into a buffer: the header row (see
/// [`COLUMNS`]) once, then the rows of every report written. Take the text
/// with [`take`](Self::take) (as often as you like, for streaming) or
/// [`into_string`](Self::into_string).
#[derive(Debug, Clone)]
pub struct CsvWriter {
    out: String,
    formula_guard: bool,
    rows: u64,
}

impl Default for CsvWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvWriter {
    /// A writer whose buffer holds the header row; values are written as
    /// they are, but for their control characters, which are escaped (see
    /// the [module documentation](self)).
    pub fn new() -> Self {
        let mut out = COLUMNS.join(",");
        out.push_str("\r\n");
        Self {
            out,
            formula_guard: false,
            rows: 0,
        }
    }

    /// A writer that prefixes `'` to text values starting with `=`, `+`,
    /// `-` or `@` (after escaping control characters, so TAB and CR never
    /// start a value), so that spreadsheets do not evaluate them.
    pub fn with_formula_guard() -> Self {
        Self {
            formula_guard: true,
            ..Self::new()
        }
    }

    /// Append the rows of `report`.
    pub fn write_report(&mut self, report: &Report<'_>) {
        for row in rows(report) {
            self.write_row(&row);
        }
    }

    /// Append one row.
    pub fn write_row(&mut self, row: &Row<'_>) {
        for (i, v) in row.values().iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            match v {
                Value::Null => {}
                Value::Number(n) => {
                    let _ = write!(self.out, "{n}");
                }
                Value::Text(t) => csv_field(&mut self.out, t, self.formula_guard),
            }
        }
        self.out.push_str("\r\n");
        self.rows = self.rows.saturating_add(1);
    }

    /// Data rows written so far (the header not counted).
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// The text written since the last call (the header the first time).
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    /// The remaining text.
    pub fn into_string(self) -> String {
        self.out
    }
}

/// Writes NDJSON into a buffer: one JSON object per row and line, keys as
/// [`COLUMNS`], then `source` when one is given.
#[derive(Debug, Clone, Default)]
pub struct NdjsonWriter {
    out: String,
    rows: u64,
}

impl NdjsonWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append the rows of `report`; `source` (a file name, a message id)
    /// is added to every line as `"source"` when given.
    pub fn write_report(&mut self, report: &Report<'_>, source: Option<&str>) {
        for row in rows(report) {
            self.write_row(&row, source);
        }
    }

    /// Append one row.
    pub fn write_row(&mut self, row: &Row<'_>, source: Option<&str>) {
        self.out.push('{');
        for (i, (k, v)) in COLUMNS.iter().zip(row.values()).enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_json_string(&mut self.out, k);
            self.out.push(':');
            match v {
                Value::Null => self.out.push_str("null"),
                Value::Number(n) => {
                    let _ = write!(self.out, "{n}");
                }
                Value::Text(t) => write_json_string(&mut self.out, &t),
            }
        }
        if let Some(s) = source {
            self.out.push_str(",\"source\":");
            write_json_string(&mut self.out, s);
        }
        self.out.push_str("}\n");
        self.rows = self.rows.saturating_add(1);
    }

    /// Rows (lines) written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// The text written since the last call.
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    /// The remaining text.
    pub fn into_string(self) -> String {
        self.out
    }
}
