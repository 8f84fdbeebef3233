//! parsedmarc-compatible CSV and NDJSON exports.

use tlsrpt_core::Report;
use tlsrpt_core::export::{COLUMNS, CsvWriter, NdjsonWriter, rows};

use crate::alert::{corpus, detail, report, sts};

const HEADER: &str = "organization_name,begin_date,end_date,report_id,result_type,successful_session_count,failed_session_count,policy_domain,policy_type,policy_strings,mx_host_patterns,sending_mta_ip,receiving_ip,receiving_mx_hostname,receiving_mx_helo,additional_info_uri,failure_reason_code";

/// A small RFC 4180 reader (CRLF records) for checking the writer.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "bare CR");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("bare LF outside quotes"),
            c => field.push(c),
        }
    }
    assert!(field.is_empty() && record.is_empty(), "unterminated record");
    records
}

#[test]
fn csv_header_is_exactly_parsedmarcs() {
    assert_eq!(COLUMNS.join(","), HEADER);
    let w = CsvWriter::new();
    assert_eq!(w.into_string(), format!("{HEADER}\r\n"));
}

#[test]
fn rfc_example_rows_exact() {
    let r = corpus("rfc/rfc8460-appendix-b-report.corrected.json");
    let mut w = CsvWriter::new();
    w.write_report(&r);
    assert_eq!(w.rows_written(), 4);
    let text = w.into_string();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    let pol = "company-y.example,sts,version: STSv1|mode: testing|mx: *.mail.company-y.example|max_age: 86400,*.mail.company-y.example";
    let head =
        "Company-X,2016-04-01T00:00:00Z,2016-04-01T23:59:59Z,5065427c-23d3-47ca-b6e0-946ea0e8c4be";
    assert_eq!(
        lines,
        [
            HEADER.to_owned(),
            format!("{head},,5326,303,{pol},,,,,,"),
            format!(
                "{head},certificate-expired,,100,{pol},2001:db8:abcd:12::1,,mx1.mail.company-y.example,,,"
            ),
            format!(
                "{head},starttls-not-supported,,200,{pol},2001:db8:abcd:13::1,203.0.113.56,mx2.mail.company-y.example,,https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported,"
            ),
            format!(
                "{head},validation-failure,,3,{pol},198.51.100.62,203.0.113.58,mx-backup.mail.company-y.example,,,X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"
            ),
        ]
    );
}

#[test]
fn row_count_is_policies_plus_failure_details() {
    let mut w = CsvWriter::new();
    let mut expected = 0u64;
    for rel in crate::CORPUS {
        let r = corpus(rel);
        expected += r
            .policies
            .iter()
            .map(|p| 1 + p.failure_details.len() as u64)
            .sum::<u64>();
        w.write_report(&r);
    }
    // 13 files: 15 policies, 18 failure details.
    assert_eq!(expected, 33);
    assert_eq!(w.rows_written(), expected);
    let records = parse_csv(&w.into_string());
    assert_eq!(records.len() as u64, expected + 1);
    assert!(records.iter().all(|r| r.len() == 17));
    // The header appears once.
    assert_eq!(
        records
            .iter()
            .filter(|r| r[0] == "organization_name")
            .count(),
        1
    );
}

#[test]
fn rfc4180_quoting() {
    let mut r = report(
        "Org",
        "1",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            1,
            1,
            &[detail(
                "validation-failure",
                Some("mx.example.com"),
                1,
                Some("line one"),
            )],
        )],
    );
    r.organization_name = "Big, \"Quoted\" Org".into();
    r.policies[0].failure_details[0].failure_reason_code = Some("first\r\nsecond\nthird".into());
    let mut w = CsvWriter::new();
    w.write_report(&r);
    let text = w.into_string();
    assert!(text.contains("\r\n\"Big, \"\"Quoted\"\" Org\",2024-03-01T00:00:00Z,"));
    // Line breaks inside a value are escaped (issue 15): one line per record.
    assert!(text.ends_with(",first\\r\\nsecond\\nthird\r\n"));
    assert_eq!(text.matches("\r\n").count(), 3);
    let records = parse_csv(&text);
    assert_eq!(records.len(), 3);
    assert_eq!(records[1][0], "Big, \"Quoted\" Org");
    assert_eq!(records[2][16], "first\\r\\nsecond\\nthird");
}

/// Issue 15 item 7: control characters, C1 controls, the Unicode line
/// separators and bidi overrides inside CSV values are written as escapes
/// (`mta_sts_core::display::escape_controls`), so that a CSV file shown in
/// a terminal cannot drive it; quoting still applies to the escaped value.
#[test]
fn csv_fields_escape_control_characters() {
    let mut r = report(
        "Org",
        "1",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            1,
            1,
            &[detail(
                "validation-failure",
                Some("mx.example.com"),
                1,
                None,
            )],
        )],
    );
    // Set after reading: the JSON helper of these tests does not escape.
    r.organization_name = "\u{1b}]0;title\u{7}Org".into();
    let d = &mut r.policies[0].failure_details[0];
    d.receiving_mx_hostname = Some("mx\u{1b}[2J.example.com".into());
    d.failure_reason_code = Some("a,\u{202e}b\u{9b}\tc\u{7f}\u{2029}".into());
    for mut w in [CsvWriter::new(), CsvWriter::with_formula_guard()] {
        w.write_report(&r);
        let text = w.into_string();
        assert!(
            !text.contains(|c: char| {
                (c.is_control() && c != '\r' && c != '\n')
                    || matches!(c, '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            }),
            "{text:?}"
        );
        let records = parse_csv(&text);
        assert_eq!(records.len(), 3);
        assert_eq!(records[1][0], "\\u{1b}]0;title\\u{7}Org");
        assert_eq!(records[2][13], "mx\\u{1b}[2J.example.com");
        assert_eq!(records[2][16], "a,\\u{202e}b\\u{9b}\\tc\\u{7f}\\u{2029}");
        assert!(text.contains(",\"a,\\u{202e}b\\u{9b}\\tc\\u{7f}\\u{2029}\"\r\n"));
    }
    // NDJSON is left to JSON escaping.
    let mut nd = NdjsonWriter::new();
    nd.write_report(&r, None);
    let first: serde_json::Value =
        serde_json::from_str(nd.into_string().lines().next().unwrap_or("")).unwrap();
    assert_eq!(first["organization_name"], "\u{1b}]0;title\u{7}Org");
}

#[test]
fn formula_guard_is_opt_in() {
    let mut r = report(
        "Org",
        "1",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            1,
            1,
            &[detail(
                "validation-failure",
                Some("mx.example.com"),
                1,
                Some("=HYPERLINK(\\\"http://x\\\",\\\"y\\\")"),
            )],
        )],
    );
    r.organization_name = "@Org".into();
    let mut plain = CsvWriter::new();
    plain.write_report(&r);
    let plain = parse_csv(&plain.into_string());
    assert_eq!(plain[1][0], "@Org");
    assert_eq!(plain[2][16], "=HYPERLINK(\"http://x\",\"y\")");
    let mut guarded = CsvWriter::with_formula_guard();
    guarded.write_report(&r);
    let guarded = parse_csv(&guarded.into_string());
    assert_eq!(guarded[1][0], "'@Org");
    assert_eq!(guarded[2][16], "'=HYPERLINK(\"http://x\",\"y\")");
    // Other values unchanged.
    assert_eq!(guarded[2][1..16], plain[2][1..16]);
}

/// Every row carries its own policy's domain, type, strings and patterns
/// (parsedmarc's leak must not happen).
#[test]
fn rpt_json_17_every_row_filled_from_its_own_policy() {
    let tlsa = r#"{"policy":{"policy-type":"tlsa","policy-string":["3 1 1 AABB","3 1 1 CCDD"],"policy-domain":"mx.other.example"},"summary":{"total-successful-session-count":0,"total-failure-session-count":2},"failure-details":[{"result-type":"tlsa-invalid","sending-mta-ip":"192.0.2.9","receiving-mx-hostname":"mx.other.example","failed-session-count":2}]}"#;
    let r = report(
        "Org",
        "1",
        "2024-03-01",
        &[
            sts(
                "example.com",
                "testing",
                &["mx1.example.com", "mx2.example.com"],
                5,
                1,
                &[detail(
                    "certificate-expired",
                    Some("mx1.example.com"),
                    1,
                    None,
                )],
            ),
            tlsa.to_owned(),
        ],
    );
    let all: Vec<_> = rows(&r).collect();
    assert_eq!(all.len(), 4);
    for row in &all[..2] {
        assert_eq!(row.policy_domain, Some("example.com"));
        assert_eq!(row.policy_type, "sts");
        assert_eq!(row.policy_strings.len(), 5);
        assert_eq!(row.mx_host_patterns, ["mx1.example.com", "mx2.example.com"]);
    }
    for row in &all[2..] {
        assert_eq!(row.policy_domain, Some("mx.other.example"));
        assert_eq!(row.policy_type, "tlsa");
        assert_eq!(row.policy_strings, ["3 1 1 AABB", "3 1 1 CCDD"]);
        assert!(row.mx_host_patterns.is_empty());
    }
    let mut w = CsvWriter::new();
    w.write_report(&r);
    let records = parse_csv(&w.into_string());
    let cols = |r: &Vec<String>| {
        (
            r[4].clone(),
            r[7].clone(),
            r[8].clone(),
            r[9].clone(),
            r[10].clone(),
        )
    };
    assert_eq!(
        records[1..].iter().map(cols).collect::<Vec<_>>(),
        [
            (String::new(), "example.com".into(), "sts".into(), "version: STSv1|mode: testing|mx: mx1.example.com|mx: mx2.example.com|max_age: 86400".into(), "mx1.example.com|mx2.example.com".into()),
            ("certificate-expired".into(), "example.com".into(), "sts".into(), "version: STSv1|mode: testing|mx: mx1.example.com|mx: mx2.example.com|max_age: 86400".into(), "mx1.example.com|mx2.example.com".into()),
            (String::new(), "mx.other.example".into(), "tlsa".into(), "3 1 1 AABB|3 1 1 CCDD".into(), String::new()),
            ("tlsa-invalid".into(), "mx.other.example".into(), "tlsa".into(), "3 1 1 AABB|3 1 1 CCDD".into(), String::new()),
        ]
    );
    // Summary rows: counts from the summary; detail rows: from the detail.
    assert_eq!((records[1][5].as_str(), records[1][6].as_str()), ("5", "1"));
    assert_eq!((records[4][5].as_str(), records[4][6].as_str()), ("", "2"));
}

/// RPT-GEN-06: dates are the JSON dates, in UTC with `Z`.
#[test]
fn rpt_gen_06_dates_from_json_in_utc() {
    let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-03-01T02:00:00+02:00","end-datetime":"2024-03-02T01:59:59+02:00"},"contact-info":"a@b.example","report-id":"1","policies":[{"policy":{"policy-type":"no-policy-found"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0}}]}"#;
    let r = Report::parse_lenient(json).unwrap().value;
    let mut w = CsvWriter::new();
    w.write_report(&r);
    let records = parse_csv(&w.into_string());
    assert_eq!(records[1][1], "2024-03-01T00:00:00Z");
    assert_eq!(records[1][2], "2024-03-01T23:59:59Z");
    assert_eq!(records[1][7], ""); // no policy-domain
    assert_eq!(records[1][8], "no-policy-found");
}

#[test]
fn ndjson_lines_parse_and_match_csv() {
    let mut csv = CsvWriter::new();
    let mut nd = NdjsonWriter::new();
    for rel in crate::CORPUS {
        let r = corpus(rel);
        csv.write_report(&r);
        nd.write_report(&r, Some(rel));
    }
    let records = parse_csv(&csv.into_string());
    let text = nd.into_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(text.ends_with('\n'));
    assert_eq!(lines.len(), records.len() - 1);
    for (line, rec) in lines.iter().zip(&records[1..]) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = v.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = COLUMNS.to_vec();
        expected.push("source");
        let mut sorted_keys = keys.clone();
        sorted_keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(sorted_keys, expected);
        assert!(line.starts_with("{\"organization_name\":"));
        for (i, col) in COLUMNS.iter().enumerate() {
            let csv_value = &rec[i];
            match &v[*col] {
                serde_json::Value::Null => assert_eq!(csv_value, "", "{col}"),
                serde_json::Value::Number(n) => {
                    assert!(col.ends_with("_count"), "{col}");
                    assert_eq!(&n.to_string(), csv_value, "{col}");
                }
                serde_json::Value::String(s) => assert_eq!(s, csv_value, "{col}"),
                other => panic!("{col}: {other}"),
            }
        }
    }
    // Numbers are numbers, absent values null.
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["successful_session_count"], 5326);
    assert_eq!(first["result_type"], serde_json::Value::Null);
    assert_eq!(first["source"], "mail-auth/rpt01.json");
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["successful_session_count"], serde_json::Value::Null);
    assert_eq!(second["failed_session_count"], 100);
}

#[test]
fn ndjson_without_source_equals_row_serialisation() {
    let r = corpus("parsedmarc/mail.ru.json");
    let mut nd = NdjsonWriter::new();
    nd.write_report(&r, None);
    assert_eq!(nd.rows_written(), 3);
    let text = nd.take();
    assert!(nd.take().is_empty());
    for (line, row) in text.lines().zip(rows(&r)) {
        assert_eq!(line, serde_json::to_string(&row).unwrap());
        assert!(!line.contains("\"source\""));
    }
    let v: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(v["policy_domain"], "example.com");
    assert_eq!(v["policy_type"], "sts");
    assert_eq!(v["policy_strings"], serde_json::Value::Null);
    assert_eq!(v["failure_reason_code"], "bad https response code: 404");
    assert_eq!(v["receiving_mx_hostname"], serde_json::Value::Null);
}

#[test]
fn csv_take_streams_header_once() {
    let r = corpus("mail-auth/rpt02.json");
    let mut w = CsvWriter::new();
    w.write_report(&r);
    let first = w.take();
    w.write_report(&r);
    let second = w.take();
    assert!(first.starts_with(HEADER));
    assert!(!second.contains("organization_name"));
    assert_eq!(parse_csv(&second).len(), 2);
}
