//! Report file names (RFC 8460 5.1) and mail conventions (5.3):
//! RPT-DELIV-02 to -05, -07, -08, -10.

use proptest::prelude::*;
use tlsrpt_core::Report;
use tlsrpt_core::filename::{
    FilenameError, MEDIA_TYPE_GZIP, MEDIA_TYPE_JSON, REPORT_TYPE, ReportFilename, SubjectInfo,
    TLS_REPORT_DOMAIN, TLS_REPORT_SUBMITTER, check_submitter, parse_subject, subject,
};

use crate::data;

fn syntax(field: &'static str, offset: usize, reason: &'static str) -> FilenameError {
    FilenameError::Syntax {
        field,
        offset,
        reason,
    }
}

fn report(policy_domains: &[&str], start: &str, end: &str) -> Report<'static> {
    let policies: Vec<String> = policy_domains
        .iter()
        .map(|d| {
            format!(
                r#"{{"policy":{{"policy-type":"no-policy-found","policy-domain":"{d}"}},"summary":{{"total-successful-session-count":1,"total-failure-session-count":0}},"failure-details":[]}}"#
            )
        })
        .collect();
    let json = format!(
        r#"{{"organization-name":"Org","date-range":{{"start-datetime":"{start}","end-datetime":"{end}"}},"contact-info":"tlsrpt@sender.example","report-id":"1","policies":[{}]}}"#,
        policies.join(",")
    );
    Report::parse_lenient(json.as_bytes())
        .unwrap()
        .value
        .into_owned()
}

#[test]
fn rpt_deliv_02_filename_round_trip_rfc_example() {
    let text = String::from_utf8(data("rfc/rfc8460-section-5.1-filename.txt")).unwrap();
    let f = ReportFilename::parse(text.trim()).unwrap();
    assert_eq!(
        f,
        ReportFilename {
            sender: "mail.sndr.example.com".to_owned(),
            policy_domain: "example.net".to_owned(),
            begin: 1_470_013_207,
            end: 1_470_186_007,
            unique_id: Some("001".to_owned()),
            gzip: true,
        }
    );
    assert_eq!(f.to_string(), text.trim());
    assert_eq!(text.trim().parse::<ReportFilename>(), Ok(f.clone()));
    assert_eq!(f.extension(), "json.gz");
    assert_eq!(f.media_type(), MEDIA_TYPE_GZIP);
}

#[test]
fn rpt_deliv_02_real_filenames() {
    let f = ReportFilename::parse(
        "microsoft.com!test.xmox.nl!1673308800!1673395199!133198585438131172.json.gz",
    )
    .unwrap();
    assert_eq!(f.unique_id.as_deref(), Some("133198585438131172"));
    assert_eq!((f.begin, f.end), (1_673_308_800, 1_673_395_199));
    let f = ReportFilename::parse("mail.sender.example!example.com!1013662812!1013749130.json")
        .unwrap();
    assert_eq!((f.unique_id.as_deref(), f.gzip), (None, false));
    assert_eq!(f.media_type(), MEDIA_TYPE_JSON);
}

#[test]
fn rpt_deliv_03_extension_json_or_json_gz_any_case() {
    let f = ReportFilename::parse("Sender.Example!EXAMPLE.net!1!2!AbC.JSON.Gz").unwrap();
    assert!(f.gzip);
    assert_eq!(
        f.unique_id.as_deref(),
        Some("AbC"),
        "unique-id is kept as written"
    );
    assert_eq!(f.to_string(), "sender.example!example.net!1!2!AbC.json.gz");
    assert!(
        !ReportFilename::parse("a.example!b.example!1!2.Json")
            .unwrap()
            .gzip
    );
    for (name, offset) in [
        ("a.example!b.example!1!2.json.gzip", 24),
        ("a.example!b.example!1!2.gz", 24),
        ("a.example!b.example!1!2.xml.gz", 24),
        ("a.example!b.example!1!2!x.JSONX", 26),
        ("a.example!b.example!1!2", 23),
        ("", 0),
    ] {
        assert_eq!(
            ReportFilename::parse(name),
            Err(syntax(
                "extension",
                offset,
                "expected `.json` or `.json.gz`"
            )),
            "{name}"
        );
    }
}

#[test]
fn rpt_deliv_02_filename_syntax_errors_name_field_and_offset() {
    let cases: [(&str, FilenameError); 14] = [
        (
            "a.example!b.example!1.json",
            syntax("end-timestamp", 21, "missing (expected `!` before it)"),
        ),
        (
            "a.example.json",
            syntax("policy-domain", 9, "missing (expected `!` before it)"),
        ),
        (
            "a.example!b.example!1!2!x!y.json",
            syntax("unique-id", 25, "unexpected `!` (at most five fields)"),
        ),
        (
            "a.example!b.example!1!2!.json",
            syntax("unique-id", 24, "empty (expected letters and digits)"),
        ),
        (
            "a.example!b.example!1!2!a-b.json",
            syntax("unique-id", 25, "only letters and digits are allowed"),
        ),
        (
            "a.example!b.example!!2.json",
            syntax("begin-timestamp", 20, "expected digits"),
        ),
        (
            "a.example!b.example!1!-2.json",
            syntax("end-timestamp", 22, "expected a digit"),
        ),
        (
            "a.example!b.example!18446744073709551616!2.json",
            syntax("begin-timestamp", 20, "larger than 18446744073709551615"),
        ),
        ("!b.example!1!2.json", syntax("sender", 0, "empty domain")),
        (
            "a..example!b.example!1!2.json",
            syntax("sender", 2, "empty label"),
        ),
        (
            "a.example!-b.example!1!2.json",
            syntax("policy-domain", 10, "label starts with `-`"),
        ),
        (
            "a.example!b-.example!1!2.json",
            syntax("policy-domain", 11, "label ends with `-`"),
        ),
        (
            "a_b.example!b.example!1!2.json",
            syntax(
                "sender",
                1,
                "only letters, digits and `-` are allowed in a label",
            ),
        ),
        (
            "a.example.!b.example!1!2.json",
            syntax("sender", 10, "empty label"),
        ),
    ];
    for (name, err) in cases {
        assert_eq!(ReportFilename::parse(name), Err(err), "{name}");
    }
    let long = format!("{}.example!b.example!1!2.json", "a".repeat(64));
    assert_eq!(
        ReportFilename::parse(&long),
        Err(syntax("sender", 0, "label longer than 63 octets"))
    );
    // u64::MAX itself fits.
    let max = ReportFilename::parse("a!b!18446744073709551615!0.json").unwrap();
    assert_eq!(max.begin, u64::MAX);
    let e = ReportFilename::parse("a.example!b.example!1!2!x!y.json").unwrap_err();
    assert_eq!(
        e.to_string(),
        "byte 25: invalid unique-id: unexpected `!` (at most five fields)"
    );
}

#[test]
fn rpt_deliv_04_u_labels_are_refused_and_converted() {
    assert_eq!(
        ReportFilename::parse("mail.bücher.example!example.net!1!2.json"),
        Err(syntax(
            "sender",
            6,
            "not ASCII: internationalized names must be written as A-labels (xn--)"
        ))
    );
    assert_eq!(
        ReportFilename::parse("a.example!xn--a-.example!1!2.json"),
        Err(syntax("policy-domain", 15, "label ends with `-`"))
    );
    assert_eq!(
        ReportFilename::parse("a.example!xn--99999999999.example!1!2.json"),
        Err(syntax(
            "policy-domain",
            10,
            "invalid A-label (bad Punycode)"
        ))
    );
    let f =
        ReportFilename::parse("mail.xn--bcher-kva.example!XN--BCHER-KVA.example!1!2.json").unwrap();
    assert_eq!(f.policy_domain, "xn--bcher-kva.example");
    let r = report(
        &["Bücher.example."],
        "2016-04-01T00:00:00Z",
        "2016-04-01T23:59:59Z",
    );
    let f = ReportFilename::for_report(&r, "MAIL.bücher.example", None, false).unwrap();
    assert_eq!(
        f.to_string(),
        "mail.xn--bcher-kva.example!xn--bcher-kva.example!1459468800!1459555199.json"
    );
    assert!(matches!(
        ReportFilename::for_report(&r, "bad..bücher.example", None, false),
        Err(FilenameError::Idna {
            field: "sender",
            ..
        })
    ));
}

#[test]
fn rpt_deliv_05_for_report_takes_policy_domain_and_date_range() {
    let bytes = data("rfc/rfc8460-appendix-b-report.corrected.json");
    let r = Report::parse_strict(&bytes).unwrap().value;
    let sender = r
        .contact_info
        .as_deref()
        .unwrap()
        .rsplit_once('@')
        .unwrap()
        .1;
    let f = ReportFilename::for_report(&r, sender, Some("001"), true).unwrap();
    assert_eq!(
        f.to_string(),
        "company-x.example!company-y.example!1459468800!1459555199!001.json.gz"
    );
    assert_eq!(ReportFilename::parse(&f.to_string()), Ok(f));

    let same = report(
        &["example.net", "EXAMPLE.NET"],
        "2024-01-01T00:00:00Z",
        "2024-01-02T00:00:00Z",
    );
    assert_eq!(
        ReportFilename::for_report(&same, "s.example", None, false)
            .unwrap()
            .policy_domain,
        "example.net"
    );
    let mixed = report(
        &["a.example", "b.example"],
        "2024-01-01T00:00:00Z",
        "2024-01-02T00:00:00Z",
    );
    assert_eq!(
        ReportFilename::for_report(&mixed, "s.example", None, false),
        Err(FilenameError::MixedPolicyDomains {
            first: "a.example".to_owned(),
            other: "b.example".to_owned()
        })
    );
    let none = report(&[], "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z");
    assert_eq!(
        ReportFilename::for_report(&none, "s.example", None, false),
        Err(FilenameError::NoPolicyDomain)
    );
    let old = report(
        &["a.example"],
        "1969-12-31T00:00:00Z",
        "1970-01-01T00:00:00Z",
    );
    assert_eq!(
        ReportFilename::for_report(&old, "s.example", None, false),
        Err(FilenameError::NegativeTimestamp {
            field: "start-datetime",
            secs: -86_400
        })
    );
    let ok = report(
        &["a.example"],
        "2024-01-01T00:00:00Z",
        "2024-01-02T00:00:00Z",
    );
    assert_eq!(
        ReportFilename::for_report(&ok, "s.example", Some("a_1"), false),
        Err(syntax(
            "unique-id",
            1,
            "only letters and digits are allowed"
        ))
    );
    assert_eq!(
        ReportFilename::for_report(&ok, "s_x.example", None, false),
        Err(syntax(
            "sender",
            1,
            "only letters, digits and `-` are allowed in a label"
        ))
    );
}

#[test]
fn rpt_deliv_07_header_field_names_and_media_types() {
    assert_eq!(TLS_REPORT_DOMAIN, "TLS-Report-Domain");
    assert_eq!(TLS_REPORT_SUBMITTER, "TLS-Report-Submitter");
    assert_eq!(MEDIA_TYPE_JSON, "application/tlsrpt+json");
    assert_eq!(MEDIA_TYPE_GZIP, "application/tlsrpt+gzip");
    assert_eq!(REPORT_TYPE, "tlsrpt");
}

#[test]
fn rpt_deliv_08_submitter_is_the_contact_info_domain() {
    assert_eq!(
        check_submitter("smtp-tls-reporting@google.com", "google.com"),
        Ok(())
    );
    assert_eq!(
        check_submitter(" mailto:a@Sender.Example ", "sender.example."),
        Ok(())
    );
    assert_eq!(
        check_submitter("tlsrpt@bücher.example", "xn--bcher-kva.example"),
        Ok(())
    );
    assert_eq!(
        check_submitter("sts-reporting@company-x.example", "mail.sender.example.com"),
        Err(FilenameError::SubmitterMismatch {
            contact_info: "sts-reporting@company-x.example".to_owned(),
            submitter: "mail.sender.example.com".to_owned()
        })
    );
    // A sub-domain is not the same domain.
    assert_eq!(
        check_submitter("a@mail.google.com", "google.com"),
        Err(FilenameError::SubmitterMismatch {
            contact_info: "a@mail.google.com".to_owned(),
            submitter: "google.com".to_owned()
        })
    );
    assert_eq!(
        check_submitter("reports", "google.com"),
        Err(syntax("contact-info", 7, "no `@` (not an e-mail address)"))
    );
}

#[test]
fn rpt_deliv_10_subject_written_and_read() {
    let s = subject(
        "example.net",
        "mail.sender.example.com",
        "735ff.e317+bf22029",
        "mailexample.net",
    );
    assert_eq!(
        s,
        "Report Domain: example.net Submitter: mail.sender.example.com Report-ID: <735ff.e317+bf22029@mailexample.net>"
    );
    let info = parse_subject(&s).unwrap();
    assert_eq!(
        info,
        SubjectInfo {
            policy_domain: "example.net".to_owned(),
            submitter: "mail.sender.example.com".to_owned(),
            report_id: "735ff.e317+bf22029@mailexample.net".to_owned(),
            rfc_form: true,
        }
    );
    assert_eq!(
        info.report_id_parts(),
        Some(("735ff.e317+bf22029", "mailexample.net"))
    );
}

#[test]
fn rpt_deliv_10_rfc_subject_example_folded() {
    // RFC 8460 5.3, as printed: folded across three lines.
    for folded in [
        "Report Domain: example.net\r\n    Submitter: mail.sender.example.com\r\n    Report-ID: <735ff.e317+bf22029@mailexample.net>",
        "Report Domain: example.net\n\tSubmitter: mail.sender.example.com\n Report-ID:  <735ff.e317+bf22029@mailexample.net>\r\n ",
    ] {
        let info = parse_subject(folded).unwrap();
        assert_eq!(info.policy_domain, "example.net");
        assert_eq!(info.submitter, "mail.sender.example.com");
        assert_eq!(info.report_id, "735ff.e317+bf22029@mailexample.net");
        assert!(info.rfc_form);
    }
}

#[test]
fn rpt_deliv_10_microsoft_and_lenient_subjects() {
    let info = parse_subject(
        "Report Domain: test.xmox.nl Submitter: microsoft.com Report-ID:\r\n 133198585438131172+test.xmox.nl",
    )
    .unwrap();
    assert_eq!(info.report_id, "133198585438131172+test.xmox.nl");
    assert_eq!(info.report_id_parts(), None);
    assert!(!info.rfc_form);
    let info =
        parse_subject("Report Domain: example.com Submitter: microsoft.com Report-ID: <134232617934286362+example.com>")
            .unwrap();
    assert_eq!(info.report_id, "134232617934286362+example.com");
    assert!(!info.rfc_form);
    let info =
        parse_subject("report domain: a.example SUBMITTER: b.example report-id: <x@y> (comment)")
            .unwrap();
    assert_eq!((info.report_id.as_str(), info.rfc_form), ("x@y", false));
}

#[test]
fn rpt_deliv_10_subject_errors() {
    let cases: [(&str, FilenameError); 9] = [
        ("", syntax("subject", 0, "expected `Report`")),
        (
            "Fwd: Report Domain: a.example",
            syntax("subject", 0, "expected `Report`"),
        ),
        (
            "Report Domain: example Submitter: b.example Report-ID: <x@y>",
            syntax("subject Domain", 15, "expected at least two labels"),
        ),
        (
            "Report Domain: a.example Sender: b.example Report-ID: <x@y>",
            syntax("subject", 25, "expected `Submitter:`"),
        ),
        (
            "Report Domain: a.example Submitter: b.example",
            syntax("subject", 45, "expected `Report-ID:`"),
        ),
        (
            "Report Domain: a.example Submitter: b.example Report-ID: <x@y",
            syntax("subject Report-ID", 61, "expected `>`"),
        ),
        (
            "Report Domain: a.example Submitter: b.example Report-ID: <x@y> trailing",
            syntax("subject", 63, "unexpected text after the Report-ID"),
        ),
        (
            "Report Domain: a.example\r\nSubmitter: b.example Report-ID: <x@y>",
            syntax(
                "subject",
                24,
                "line break not followed by white space (not a folded line)",
            ),
        ),
        (
            "Report Domain: a.example Submitter: b.example Report-ID: <x@y@z>",
            syntax(
                "subject Report-ID",
                61,
                "expected `id-left@id-right` (RFC 5322 msg-id)",
            ),
        ),
    ];
    for (s, err) in cases {
        assert_eq!(parse_subject(s), Err(err), "{s:?}");
    }
    assert_eq!(
        parse_subject("Report Domain: a.example Submitter: b.example Report-ID: <@y>"),
        Err(syntax("subject Report-ID", 58, "empty id-left or id-right"))
    );
}

/// An LDH label that is not reserved: hyphens in the third and fourth
/// places (`xn--`, `ab--`) mark A-labels and reserved labels, which the
/// parser checks (a random `xn--0` is bad Punycode).
fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
        .prop_filter("reserved: ??--", |l| l.get(2..4) != Some("--"))
}

fn domain() -> impl Strategy<Value = String> {
    proptest::collection::vec(label(), 1..5).prop_map(|l| l.join("."))
}

proptest! {
    #[test]
    fn filename_display_parse_round_trip(
        sender in domain(),
        policy_domain in domain(),
        begin in any::<u64>(),
        end in any::<u64>(),
        unique_id in proptest::option::of("[A-Za-z0-9]{1,20}"),
        gzip in any::<bool>(),
    ) {
        let f = ReportFilename { sender, policy_domain, begin, end, unique_id, gzip };
        let text = f.to_string();
        prop_assert_eq!(ReportFilename::parse(&text), Ok(f.clone()));
        let upper = ReportFilename::parse(&text.to_ascii_uppercase()).unwrap();
        prop_assert_eq!(upper, ReportFilename { unique_id: f.unique_id.as_ref().map(|u| u.to_ascii_uppercase()), ..f });
    }

    #[test]
    fn subject_write_parse_round_trip(d in domain(), s in domain(), l in "[a-z0-9.+]{0,10}[a-z0-9]", r in domain()) {
        let d = format!("{d}.example");
        let s = format!("{s}.example");
        let text = subject(&d, &s, &l, &r);
        let info = parse_subject(&text).unwrap();
        prop_assert_eq!(info.policy_domain, d);
        prop_assert_eq!(info.submitter, s);
        prop_assert_eq!(info.report_id, format!("{l}@{r}"));
        prop_assert!(info.rfc_form);
    }

    #[test]
    fn filename_parse_never_panics(s in "\\PC{0,80}") {
        let _ = ReportFilename::parse(&s);
        let _ = parse_subject(&s);
        let _ = check_submitter(&s, &s);
    }
}
