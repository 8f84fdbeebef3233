use tlsrpt_core::{Ip, Report, ReportErrorKind as K, ResultType};

use crate::{assert_deviation, assert_rejected, replaced, replaced_once};

fn doc(policies: &str) -> String {
    format!(
        r#"{{"organization-name":"Org","date-range":{{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"}},"contact-info":"r@org.example","report-id":"id-1","policies":{policies}}}"#
    )
}

fn policy(failure_details: &str, failed: u64) -> String {
    format!(
        r#"[{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1"],"policy-domain":"example.com","mx-host":["mx.example.com"]}},"summary":{{"total-successful-session-count":1,"total-failure-session-count":{failed}}},"failure-details":{failure_details}}}]"#
    )
}

fn detail(extra: &str) -> String {
    format!(
        r#"[{{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx.example.com","failed-session-count":2{extra}}}]"#
    )
}

#[test]
fn rpt_json_01_duplicates_and_i_json_numbers() {
    let dup = replaced_once(
        &doc(&policy("[]", 0)),
        r#""report-id":"id-1""#,
        r#""report-id":"id-1","report-id":"id-2""#,
    );
    for r in [
        Report::parse_strict(dup.as_bytes()),
        Report::parse_lenient(dup.as_bytes()),
    ] {
        let e = r.unwrap_err();
        assert_eq!(e.kind, K::DuplicateMember("report-id".into()));
    }
    let big = doc(&policy(
        &replaced(&detail(""), ":2", ":1152921504606846976"),
        1152921504606846976,
    ));
    assert!(matches!(
        Report::parse_strict(big.as_bytes()).unwrap_err().kind,
        K::InvalidCount(_)
    ));
    let p = Report::parse_lenient(big.as_bytes()).unwrap();
    assert!(p.warnings.iter().any(|w| w.code == "count-above-i-json"));
    let overflow = replaced(
        &doc(&policy("[]", 0)),
        r#""total-successful-session-count":1"#,
        r#""total-successful-session-count":18446744073709551616"#,
    );
    let e = Report::parse_lenient(overflow.as_bytes()).unwrap_err();
    assert!(
        e.to_string()
            .contains("/policies/0/summary/total-successful-session-count"),
        "{e}"
    );
    // u64::MAX itself (20 digits) is read exactly; a 21st digit overflows.
    let max = replaced(&overflow, "18446744073709551616", "18446744073709551615");
    let p = Report::parse_lenient(max.as_bytes()).unwrap();
    assert_eq!(
        p.value.policies[0].summary.total_successful_session_count,
        u64::MAX
    );
    assert!(p.warnings.iter().any(|w| w.code == "count-above-i-json"));
    for (long, syntax) in [
        ("184467440737095516150", false),
        ("99999999999999999999", false),
        ("00", true),
    ] {
        let doc = replaced(&overflow, "18446744073709551616", long);
        let e = assert_rejected(
            doc.as_bytes(),
            "/policies/0/summary/total-successful-session-count",
            |k| {
                if syntax {
                    matches!(k, K::Syntax(_))
                } else {
                    matches!(k, K::InvalidCount(_))
                }
            },
        );
        // The error points at the number.
        let member = r#""total-successful-session-count":"#;
        let at = doc.find(member).map(|i| i + member.len());
        assert_eq!(Some(e.offset), at, "{long}: {e}");
    }
    let nineteen = replaced(&overflow, "18446744073709551616", "9999999999999999999");
    let p = Report::parse_lenient(nineteen.as_bytes()).unwrap();
    assert_eq!(
        p.value.policies[0].summary.total_successful_session_count,
        9_999_999_999_999_999_999
    );
}

#[test]
fn rpt_json_02_required_members() {
    let no_policies = r#"{"organization-name":"Org","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"r@org.example","report-id":"x"}"#;
    let e = Report::parse_lenient(no_policies.as_bytes()).unwrap_err();
    assert_eq!(e.kind, K::MissingMember("policies"));
    assert_eq!(e.offset, no_policies.len());
}

#[test]
fn rpt_json_03_dec_19_policies_must_be_an_array() {
    let one = policy("[]", 0);
    let obj = doc(&one[1..one.len() - 1]);
    assert!(matches!(
        Report::parse_strict(obj.as_bytes()).unwrap_err().kind,
        K::WrongType(_)
    ));
    let p = Report::parse_lenient(obj.as_bytes()).unwrap();
    assert_eq!(p.value.policies.len(), 1);
    assert_eq!(p.warnings[0].code, "policies-object");
    assert_deviation(obj.as_bytes(), "policies-object", "/policies");
    assert!(p.value.to_json(false).contains(r#""policies":[{"#));
}

#[test]
fn rpt_json_04_18_dec_18_unknown_values_preserved() {
    let j = replaced(
        &doc(&policy(
            &replaced(&detail(""), "certificate-expired", "x-new-result"),
            2,
        )),
        r#""policy-type":"sts""#,
        r#""policy-type":"future""#,
    );
    let p = Report::parse_strict(j.as_bytes()).unwrap();
    let pol = &p.value.policies[0];
    assert_eq!(pol.policy.policy_type.as_str(), "future");
    assert_eq!(
        pol.failure_details[0].result_type,
        ResultType::Other("x-new-result".into())
    );
    let out = p.value.to_json(false);
    assert!(
        out.contains(r#""result-type":"x-new-result""#)
            && out.contains(r#""policy-type":"future""#)
    );
}

#[test]
fn dec_04_result_type_case() {
    let j = doc(&policy(
        &replaced(&detail(""), "certificate-expired", "Certificate-Expired"),
        2,
    ));
    let p = Report::parse_lenient(j.as_bytes()).unwrap();
    assert_eq!(
        p.value.policies[0].failure_details[0].result_type,
        ResultType::CertificateExpired
    );
    assert_eq!(p.warnings[0].code, "result-type-case");
    assert_deviation(
        j.as_bytes(),
        "result-type-case",
        "/policies/0/failure-details/0/result-type",
    );
}

#[test]
fn rpt_json_08_dec_17_dates() {
    let j = replaced(
        &doc(&policy("[]", 0)),
        "2016-04-01T00:00:00Z",
        "2016-04-01T00:00:00",
    );
    assert!(matches!(
        Report::parse_strict(j.as_bytes()).unwrap_err().kind,
        K::InvalidDate { .. }
    ));
    let p = Report::parse_lenient(j.as_bytes()).unwrap();
    assert_eq!(p.value.date_range.start.secs, 1_459_468_800);
    assert_eq!(p.warnings[0].code, "date-time-not-rfc3339");
    assert_deviation(
        j.as_bytes(),
        "date-time-not-rfc3339",
        "/date-range/start-datetime",
    );
    let j = replaced(
        &doc(&policy("[]", 0)),
        "2016-04-01T00:00:00Z",
        "2016-04-01t02:00:00.25+02:00",
    );
    let p = Report::parse_strict(j.as_bytes()).unwrap();
    assert_eq!(
        p.value.date_range.start.to_string(),
        "2016-04-01T00:00:00.25Z"
    );
    for bad in [
        "2016-04-01T24:00:00Z",
        "2016-02-30T00:00:00Z",
        "yesterday",
        "2016-04-01T00:00:00+2",
    ] {
        let j = replaced(&doc(&policy("[]", 0)), "2016-04-01T00:00:00Z", bad);
        let e = Report::parse_lenient(j.as_bytes()).unwrap_err();
        assert_eq!(e.path, "/date-range/start-datetime", "{bad}: {e}");
    }
}

#[test]
fn dates_moved_out_of_four_digit_years_by_the_offset() {
    // Found by the `tlsrpt_report` fuzz target: these were read, then
    // written as `-001-12-31T23:00:00Z` / `10000-01-01T00:00:59Z`, which
    // no reader accepts.
    for bad in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-00:01"] {
        let j = replaced(&doc(&policy("[]", 0)), "2016-04-01T00:00:00Z", bad);
        for r in [
            Report::parse_strict(j.as_bytes()),
            Report::parse_lenient(j.as_bytes()),
        ] {
            let e = r.unwrap_err();
            assert!(matches!(e.kind, K::InvalidDate { .. }), "{bad}: {e}");
            assert_eq!(e.path, "/date-range/start-datetime", "{bad}: {e}");
        }
    }
    // The extremes themselves are fine and written back unchanged.
    for ok in [
        "0000-01-01T00:00:00Z",
        "0000-01-01T01:00:00+01:00",
        "9999-12-31T23:59:59Z",
    ] {
        let j = replaced(&doc(&policy("[]", 0)), "2016-04-01T00:00:00Z", ok);
        let p = Report::parse_strict(j.as_bytes()).unwrap();
        let out = p.value.to_json(false);
        let back = Report::parse_strict(out.as_bytes()).unwrap();
        assert_eq!(back.value, p.value, "{ok}");
    }
}

#[test]
fn rpt_json_09_dec_20_contact_info() {
    let j = replaced(&doc(&policy("[]", 0)), r#""r@org.example""#, "null");
    assert_deviation(j.as_bytes(), "contact-info-null", "/contact-info");
    let p = Report::parse_lenient(j.as_bytes()).unwrap();
    assert_eq!(p.value.contact_info, None);
    assert!(
        !p.value.to_json(false).contains("null"),
        "the writer never emits null"
    );
    let j = replaced(
        &doc(&policy("[]", 0)),
        r#""r@org.example""#,
        r#""not an address""#,
    );
    assert_deviation(j.as_bytes(), "contact-info-invalid", "/contact-info");
    assert_eq!(
        Report::parse_lenient(j.as_bytes()).unwrap().warnings[0].code,
        "contact-info-invalid"
    );
}

#[test]
fn rpt_json_10_dec_21_counts() {
    for bad in [r#""5""#, "5.0", "-1", "1e3", "true", "05"] {
        let j = doc(&policy(&replaced(&detail(""), ":2", &format!(":{bad}")), 2));
        for r in [
            Report::parse_strict(j.as_bytes()),
            Report::parse_lenient(j.as_bytes()),
        ] {
            let e = r.unwrap_err();
            assert_eq!(
                e.path, "/policies/0/failure-details/0/failed-session-count",
                "{bad}: {e}"
            );
        }
    }
}

#[test]
fn rpt_json_11_all_fields_round_trip() {
    let j = doc(&policy(
        &detail(
            r#","receiving-mx-helo":"mx.example.com","receiving-ip":"2001:db8::1","additional-information":"https://r.example/x","failure-reason-code":"X\"y\\z\u00e9","x-vendor":{"a":[1,2.5,null,true]}"#,
        ),
        2,
    ));
    let p = Report::parse_strict(j.as_bytes()).unwrap();
    let d = &p.value.policies[0].failure_details[0];
    assert_eq!(d.receiving_mx_helo.as_deref(), Some("mx.example.com"));
    assert_eq!(d.failure_reason_code.as_deref(), Some("X\"y\\z\u{e9}"));
    assert_eq!(d.extensions[0].raw_json, r#"{"a":[1,2.5,null,true]}"#);
    let out = p.value.to_json(false);
    let again = Report::parse_strict(out.as_bytes()).unwrap().value;
    assert_eq!(again, p.value);
    let pretty = p.value.to_json(true);
    assert_eq!(
        Report::parse_strict(pretty.as_bytes()).unwrap().value,
        p.value
    );
    assert!(pretty.contains("\n  \"organization-name\": \"Org\""));
}

#[test]
fn rpt_json_12_ip_addresses() {
    let j = doc(&policy(
        &replaced(&detail(""), "192.0.2.1", "2001:db8:abcd:0012::1"),
        2,
    ));
    let p = Report::parse_strict(j.as_bytes()).unwrap();
    assert!(p.value.to_json(false).contains("2001:db8:abcd:12::1"));
    let j = doc(&policy(&replaced(&detail(""), "192.0.2.1", "999.1.1.1"), 2));
    assert_deviation(
        j.as_bytes(),
        "ip-invalid",
        "/policies/0/failure-details/0/sending-mta-ip",
    );
    let p = Report::parse_lenient(j.as_bytes()).unwrap();
    assert_eq!(p.warnings[0].code, "ip-invalid");
    assert!(p.value.to_json(false).contains("999.1.1.1"));
}

#[test]
fn invalid_ip_kept_verbatim_is_written_escaped() {
    // Found by the `tlsrpt_report` fuzz target: an invalid address holding
    // an escape was written back raw, giving invalid JSON.
    let j = doc(&policy(
        &replaced(
            &detail(r#","receiving-ip":"a\"b\\c\bd""#),
            "192.0.2.1",
            r"x\u0001y",
        ),
        2,
    ));
    let p = Report::parse_lenient(j.as_bytes()).unwrap();
    let d = &p.value.policies[0].failure_details[0];
    assert_eq!(d.sending_mta_ip, Some(Ip::Invalid("x\u{1}y".into())));
    assert_eq!(d.receiving_ip, Some(Ip::Invalid("a\"b\\c\u{8}d".into())));
    for pretty in [false, true] {
        let out = p.value.to_json(pretty);
        assert!(out.contains(r#""x\u0001y""#), "{out}");
        // U+0008 as `\b`, the short form serde_json writes too.
        assert!(out.contains(r#""a\"b\\c\bd""#), "{out}");
        let back = Report::parse_lenient(out.as_bytes()).unwrap();
        assert_eq!(back.value, p.value);
    }
}

#[test]
fn unknown_members_written_back_as_kept_hand_built_non_json_as_a_string() {
    let j = replaced_once(
        &doc(&policy("[]", 0)),
        "{",
        r#"{"x-raw":[1e400, {"n" : -0.0}],"#,
    );
    let p = Report::parse_strict(j.as_bytes()).unwrap();
    let out = p.value.to_json(false);
    assert!(out.ends_with(r#","x-raw":[1e400, {"n" : -0.0}]}"#), "{out}");
    assert_eq!(serde_json::to_string(&p.value).ok(), Some(out));
    // Only a hand-built extension can hold text that is not JSON: it is
    // written as a string, so that the output stays JSON.
    let mut r = p.value;
    r.extensions[0].raw_json = "not \"json\"".into();
    let out = r.to_json(false);
    assert!(out.ends_with(r#","x-raw":"not \"json\""}"#), "{out}");
    assert_eq!(serde_json::to_string(&r).ok(), Some(out.clone()));
    let back = Report::parse_strict(out.as_bytes()).unwrap().value;
    assert_eq!(back.extensions[0].raw_json, r#""not \"json\"""#);
}

#[test]
fn rpt_json_16_17_overlap_and_several_policies() {
    let mut j = doc(&policy(&detail(""), 1));
    let p = Report::parse_strict(j.as_bytes()).unwrap();
    assert_eq!(p.warnings[0].code, "failure-count-mismatch");
    j = doc(&replaced_once(
        &format!("[{0},{0}]", &policy("[]", 0)[1..policy("[]", 0).len() - 1]),
        "sts",
        "tlsa",
    ));
    let p = Report::parse_lenient(j.as_bytes()).unwrap();
    assert_eq!(p.value.policies.len(), 2);
}

#[test]
fn rpt_json_19_hostile_input() {
    let deep = format!(r#"{{"x":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
    let e = Report::parse_lenient(deep.as_bytes()).unwrap_err();
    assert!(matches!(e.kind, K::TooDeep(_)));
    let e = assert_rejected(b"", "", |k| matches!(k, K::WrongType(_)));
    assert_eq!(e.offset, 0);
    assert!(Report::parse_lenient(b"\xff").unwrap_err().kind == K::NotUtf8);
    let trailing = format!("{} x", doc(&policy("[]", 0)));
    assert_eq!(
        Report::parse_lenient(trailing.as_bytes()).unwrap_err().kind,
        K::TrailingData
    );
    let lone = replaced(&doc(&policy("[]", 0)), "Org", r"\ud800");
    assert_rejected(lone.as_bytes(), "/organization-name", |k| {
        matches!(k, K::Syntax(_))
    });
    let pair = replaced(&doc(&policy("[]", 0)), "Org", r"\ud83d\ude00");
    assert_eq!(
        Report::parse_lenient(pair.as_bytes())
            .unwrap()
            .value
            .organization_name,
        "\u{1f600}"
    );
}

#[test]
fn dec_25_no_policy_found_written_without_policy_string_and_mx() {
    let j = doc(
        r#"[{"policy":{"policy-type":"no-policy-found","policy-domain":"example.com","mx-host":["x"]},"summary":{"total-successful-session-count":3,"total-failure-session-count":0},"failure-details":[]}]"#,
    );
    let p = Report::parse_strict(j.as_bytes()).unwrap();
    let out = p.value.to_json(false);
    assert!(
        !out.contains("mx-host") && !out.contains("policy-string"),
        "{out}"
    );
}

#[test]
fn bom_and_unknown_top_level_members() {
    let j = format!(
        "\u{feff}{}",
        replaced_once(&doc(&policy("[]", 0)), "{", r#"{"x-note":"kept","#)
    );
    assert_deviation(j.as_bytes(), "byte-order-mark", "");
    let p = Report::parse_lenient(j.as_bytes()).unwrap();
    assert_eq!(p.warnings[0].code, "byte-order-mark");
    assert_eq!(p.value.extensions[0].name, "x-note");
    assert!(p.value.to_json(false).ends_with(r#","x-note":"kept"}"#));
}

#[test]
fn many_unknown_members_are_not_quadratic_and_duplicates_still_found() {
    let mut members = String::new();
    for i in 0..40_000 {
        members.push_str(&format!(r#""x-{i}":{i},"#));
    }
    let j = replaced_once(&doc(&policy("[]", 0)), "{", &format!("{{{members}"));
    let p = Report::parse_lenient(j.as_bytes()).unwrap();
    assert_eq!(p.value.extensions.len(), 40_000);
    let dup = replaced_once(&j, r#""x-39999":39999,"#, r#""x-39999":39999,"x-17":1,"#);
    let e = Report::parse_lenient(dup.as_bytes()).unwrap_err();
    assert_eq!(e.kind, K::DuplicateMember("x-17".into()));
    // Inside an unknown member's value too.
    let nested = replaced_once(
        &doc(&policy("[]", 0)),
        "{",
        &format!(r#"{{"x":{{{members}"x-5":0}},"#),
    );
    let e = Report::parse_lenient(nested.as_bytes()).unwrap_err();
    assert_eq!(e.kind, K::DuplicateMember("x-5".into()));
}

#[test]
fn dec_16_repeated_mx_prefixes_are_all_removed() {
    let j = replaced(
        &doc(&policy("[]", 0)),
        r#""mx-host":["mx.example.com"]"#,
        r#""mx-host":["mx: mx:a.example.com"]"#,
    );
    let p = Report::parse_lenient(j.as_bytes()).unwrap();
    assert_eq!(p.value.policies[0].policy.mx_host, ["a.example.com"]);
    let out = p.value.to_json(false);
    let again = Report::parse_lenient(out.as_bytes()).unwrap();
    assert_eq!(again.value, p.value);
    assert!(again.warnings.is_empty());
}

#[test]
fn unknown_members_of_date_range_and_summary() {
    let j = replaced(
        &replaced(
            &doc(&policy("[]", 0)),
            r#""end-datetime":"2016-04-01T23:59:59Z""#,
            r#""end-datetime":"2016-04-01T23:59:59Z","tz":"UTC""#,
        ),
        r#""total-failure-session-count":0"#,
        r#""total-failure-session-count":0,"x":1"#,
    );
    let e = Report::parse_strict(j.as_bytes()).unwrap_err();
    assert_eq!(e.path, "/date-range", "{e}");
    assert!(
        e.to_string().contains("unknown member of date-range"),
        "{e}"
    );
    let p = Report::parse_lenient(j.as_bytes()).unwrap();
    let w: Vec<(String, &str)> = p
        .warnings
        .iter()
        .map(|w| (w.path.to_string(), w.message.as_ref()))
        .collect();
    assert_eq!(
        w,
        [
            (
                "/date-range".to_owned(),
                "unknown date-range members ignored: tz"
            ),
            (
                "/policies/0/summary".to_owned(),
                "unknown summary members ignored: x"
            )
        ]
    );
}

/// Found by the `tlsrpt_report` fuzz target: a strict report whose
/// `policy-string` (or, for `sts`, `mx-host`) is an empty array was written
/// without the member, and the strict reader refused the written form.
#[test]
fn rpt_json_02_required_empty_arrays_survive_the_writer() {
    for (policy_type, extra) in [
        ("sts", r#","mx-host":[]"#),
        ("tlsa", ""),
        ("=stWWWfailed", ""),
    ] {
        let json = format!(
            r#"{{"organization-name":"Org","date-range":{{"start-datetime":"2024-01-09T00:00:00Z","end-datetime":"2024-01-09T23:59:59Z"}},"contact-info":"a@b.example","report-id":"r","policies":[{{"policy":{{"policy-type":"{policy_type}","policy-string":[],"policy-domain":"example.com"{extra}}},"summary":{{"total-successful-session-count":0,"total-failure-session-count":0}},"failure-details":[]}}]}}"#
        );
        let strict = Report::parse_strict(json.as_bytes()).unwrap().value;
        for pretty in [false, true] {
            let written = strict.to_json(pretty);
            let back = Report::parse_strict(written.as_bytes())
                .unwrap_or_else(|e| panic!("{e}\n{written}"))
                .value;
            assert_eq!(back, strict, "{written}");
            assert!(written.contains("\"policy-string\""), "{written}");
        }
        if !extra.is_empty() {
            assert_eq!(strict.to_json(false), json);
        }
    }
    // no-policy-found: both left out when empty (DEC-25).
    let npf = r#"{"organization-name":"Org","date-range":{"start-datetime":"2024-01-09T00:00:00Z","end-datetime":"2024-01-09T23:59:59Z"},"contact-info":"a@b.example","report-id":"r","policies":[{"policy":{"policy-type":"no-policy-found","policy-domain":"example.com"},"summary":{"total-successful-session-count":0,"total-failure-session-count":0},"failure-details":[]}]}"#;
    let r = Report::parse_strict(npf.as_bytes()).unwrap().value;
    assert_eq!(r.to_json(false), npf);
}
