//! `outgoing`: the JSON, gzip, file name and e-mail of a report, read
//! back by this crate's own readers.

use tlsrpt_core::filename::{ReportFilename, parse_subject};
use tlsrpt_core::input::{ReadOptions, decompress_gzip, read_report};
use tlsrpt_core::outgoing::{
    MailMeta, OutgoingError, RenderedReport, render, render_email, rfc5322_date,
};
use tlsrpt_core::session::{DayAggregate, Failure, Outcome, PolicyKey, ReportMeta};
use tlsrpt_core::time::Timestamp;
use tlsrpt_core::{FilenameError, Report, ResultType, Strictness};

use crate::{day, expired, meta, sts_key, successes};

fn report_with(meta: &ReportMeta) -> Report<'static> {
    let mut d = DayAggregate::new(day());
    let key = sts_key();
    successes(&mut d, &key, 10);
    d.record(
        &key,
        &Outcome::Failure(expired("mx1.mail.company-y.example", "192.0.2.1")),
    )
    .unwrap();
    d.record(
        &key,
        &Outcome::Failure(
            Failure::new(ResultType::ValidationFailure)
                .receiving_mx_hostname("mx0.attacker.example")
                .sending_mta_ip("192.0.2.1".parse().unwrap())
                .failure_reason_code("mx-not-in-policy"),
        ),
    )
    .unwrap();
    d.finish(meta).unwrap().reports.remove(0)
}

fn report() -> Report<'static> {
    report_with(&meta())
}

fn mail_meta() -> MailMeta {
    MailMeta::new(
        "TLS reports <tlsrpt-noreply@company-x.example>",
        ["tlsrpt@company-y.example", "reports@collector.example"],
        Timestamp::from_unix(1_459_560_896), // 2016-04-02T01:34:56Z
        "m42",
    )
}

fn rendered(r: &Report<'_>) -> RenderedReport {
    render(r, "company-x.example", "u1").unwrap()
}

/// The message's header fields, unfolded, in order.
fn headers(mail: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(mail).unwrap();
    let head = &text[..text.find("\r\n\r\n").unwrap()];
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = out.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim_start());
        } else {
            let (n, v) = line.split_once(": ").unwrap();
            out.push((n.to_owned(), v.to_owned()));
        }
    }
    out
}

#[test]
fn rpt_deliv_01_to_05_json_gzip_and_file_name() {
    let r = report();
    let out = rendered(&r);
    assert!(out.gzip.starts_with(&[0x1f, 0x8b]));
    assert_eq!(
        decompress_gzip(&out.gzip, 1 << 20).unwrap(),
        out.json.as_bytes()
    );
    assert_eq!(out.json, r.to_json(false));
    assert_eq!(Report::parse_strict(out.json.as_bytes()).unwrap().value, r);
    let name = out.filename.to_string();
    assert_eq!(
        name,
        "company-x.example!company-y.example!1459468800!1459555199!u1.json.gz"
    );
    assert_eq!(ReportFilename::parse(&name).unwrap(), out.filename);
    assert_eq!(out.filename.media_type(), "application/tlsrpt+gzip");
    assert!(!out.exceeds_common_cap());
    // The same report gives the same bytes.
    assert_eq!(rendered(&r), out);
}

#[test]
fn rpt_deliv_08_render_refuses_another_submitter() {
    assert_eq!(
        render(&report(), "mail.company-x.example", "u1").unwrap_err(),
        OutgoingError::Filename(FilenameError::SubmitterMismatch {
            contact_info: "sts-reporting@company-x.example".into(),
            submitter: "mail.company-x.example".into(),
        })
    );
    assert!(matches!(
        render(&report(), "company-x.example", "not-alnum"),
        Err(OutgoingError::Filename(FilenameError::Syntax {
            field: "unique-id",
            ..
        }))
    ));
}

#[test]
fn rpt_deliv_06_07_10_email_reads_back_into_the_same_report() {
    let r = report();
    let out = rendered(&r);
    let mail = render_email(&r, &out, &mail_meta()).unwrap();
    for strictness in [Strictness::Strict, Strictness::Lenient] {
        let read = read_report(&mail, &ReadOptions::new(strictness)).unwrap();
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
        let input = read.value;
        assert!(
            input.extracted.warnings.is_empty(),
            "{:?}",
            input.extracted.warnings
        );
        assert!(input.extracted.gzip);
        assert_eq!(input.report, r);
        let info = input.extracted.mail.unwrap();
        assert_eq!(info.tls_report_domain.as_deref(), Some("company-y.example"));
        assert_eq!(
            info.tls_report_submitter.as_deref(),
            Some("company-x.example")
        );
        assert_eq!(
            info.content_type.as_deref(),
            Some("application/tlsrpt+gzip")
        );
        assert_eq!(info.report_type.as_deref(), Some("tlsrpt"));
        assert_eq!(
            info.attachment_filename.as_deref(),
            Some(&*out.filename.to_string())
        );
        let subject = parse_subject(info.subject.as_deref().unwrap()).unwrap();
        assert!(subject.rfc_form);
        assert_eq!(subject.policy_domain, "company-y.example");
        assert_eq!(subject.submitter, "company-x.example");
        assert_eq!(subject.report_id, r.report_id);
    }
}

#[test]
fn email_header_fields_by_value() {
    let r = report();
    let mail = render_email(&r, &rendered(&r), &mail_meta()).unwrap();
    let h = headers(&mail);
    let names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "From",
            "To",
            "Date",
            "Subject",
            "Message-ID",
            "MIME-Version",
            "TLS-Report-Domain",
            "TLS-Report-Submitter",
            "TLS-Required",
            "Auto-Submitted",
            "Content-Type"
        ]
    );
    let get = |n: &str| {
        h.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .unwrap()
    };
    assert_eq!(
        get("From"),
        "TLS reports <tlsrpt-noreply@company-x.example>"
    );
    assert_eq!(
        get("To"),
        "tlsrpt@company-y.example, reports@collector.example"
    );
    assert_eq!(get("Date"), "Sat, 02 Apr 2016 01:34:56 +0000");
    assert_eq!(
        get("Subject"),
        "Report Domain: company-y.example Submitter: company-x.example Report-ID: <2016-04-01.company-y.example.u1@company-x.example>"
    );
    assert_eq!(
        get("Message-ID"),
        "<m42.1459468800.company-y.example@company-x.example>"
    );
    assert_eq!(get("MIME-Version"), "1.0");
    assert_eq!(get("TLS-Report-Domain"), "company-y.example");
    assert_eq!(get("TLS-Report-Submitter"), "company-x.example");
    assert_eq!(get("TLS-Required"), "No");
    assert_eq!(get("Auto-Submitted"), "auto-generated");
    assert_eq!(
        get("Content-Type"),
        "multipart/report; report-type=\"tlsrpt\"; boundary=\"=_tlsrpt_m42\""
    );

    // CRLF everywhere, lines within RFC 5322's limits, base64 lines of 76.
    let text = std::str::from_utf8(&mail).unwrap();
    assert!(text.ends_with("\r\n--=_tlsrpt_m42--\r\n"));
    assert!(!text.replace("\r\n", "").contains('\n'));
    assert!(!text.replace("\r\n", "").contains('\r'));
    for line in text.split("\r\n") {
        assert!(line.len() <= 998, "{line}");
        // Long domains make longer lines where folding is not allowed: the
        // Report-ID and the quoted file name.
        let unfoldable = [" Report-ID:", " name=", " filename="];
        if !unfoldable.iter().any(|p| line.starts_with(p)) {
            assert!(line.len() <= 78, "{line}");
        }
    }
    let attachment = &text[text
        .find("Content-Transfer-Encoding: base64\r\n\r\n")
        .unwrap()
        + 37..];
    let lines: Vec<&str> = attachment
        .split("\r\n")
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(lines.len() > 1 || lines[0].len() <= 76);
    assert!(lines[..lines.len() - 1].iter().all(|l| l.len() == 76));
    // The human-readable part says what the report holds.
    assert!(text.contains(
        "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n"
    ));
    assert!(text.contains("This is an aggregate TLS report from Company-X.\r\n"));
    assert!(text.contains("Successful sessions: 10\r\nFailed sessions: 2\r\n"));
    assert!(text.contains("Period: 2016-04-01T00:00:00Z to 2016-04-01T23:59:59Z\r\n"));
    // Same input, same bytes.
    assert_eq!(render_email(&r, &rendered(&r), &mail_meta()).unwrap(), mail);
}

#[test]
fn utf8_organization_name_gets_a_base64_text_part() {
    let m = ReportMeta::new(
        "Bücher & Söhne",
        "tlsrpt@company-x.example",
        "company-x.example",
        "u1",
    );
    let r = report_with(&m);
    let mail = render_email(&r, &rendered(&r), &mail_meta()).unwrap();
    let text = String::from_utf8(mail.clone()).unwrap();
    assert!(text.contains(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
    ));
    assert!(text.is_ascii());
    let read = read_report(&mail, &ReadOptions::new(Strictness::Strict)).unwrap();
    assert_eq!(read.value.report.organization_name, "Bücher & Söhne");
}

#[test]
fn rfc_5322_dates() {
    let d = |s: i64| rfc5322_date(Timestamp::from_unix(s)).unwrap();
    assert_eq!(d(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    assert_eq!(d(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    assert_eq!(d(1_714_608_000), "Thu, 02 May 2024 00:00:00 +0000");
    assert_eq!(d(253_402_300_799), "Fri, 31 Dec 9999 23:59:59 +0000");
    assert_eq!(
        rfc5322_date(Timestamp::from_unix(-1))
            .unwrap_err()
            .to_string(),
        "e-mail Date: -1 s after 1970-01-01T00:00:00Z is outside the years 1970 to 9999"
    );
}

#[test]
fn header_injection_and_bad_meta_are_refused() {
    let r = report();
    let out = rendered(&r);
    let with = |f: &dyn Fn(&mut MailMeta)| {
        let mut m = mail_meta();
        f(&mut m);
        render_email(&r, &out, &m).unwrap_err()
    };
    assert!(matches!(
        with(&|m| m.from = "a@b.example\r\nBcc: victim@example.org".into()),
        OutgoingError::Header { field: "From", .. }
    ));
    assert!(matches!(
        with(&|m| m.to.clear()),
        OutgoingError::Header { field: "To", .. }
    ));
    assert!(matches!(
        with(&|m| m.to = vec!["a@b.example, c@d.example".into()]),
        OutgoingError::Header { field: "To", .. }
    ));
    assert!(matches!(
        with(&|m| m.to = vec!["nobody".into()]),
        OutgoingError::Header { field: "To", .. }
    ));
    assert!(matches!(
        with(&|m| m.message_id_unique = "a b".into()),
        OutgoingError::Header {
            field: "Message-ID",
            ..
        }
    ));
    assert!(matches!(
        with(&|m| m.date = Timestamp::from_unix(-86_400)),
        OutgoingError::Date { secs: -86_400 }
    ));
    // A report id that cannot be a msg-id.
    let mut odd = r.clone();
    odd.report_id = "a<b>@c".into();
    assert!(matches!(
        render_email(&odd, &out, &mail_meta()).unwrap_err(),
        OutgoingError::Header {
            field: "Report-ID",
            ..
        }
    ));
    // A report id without `@` gets the submitter.
    odd.report_id = "133198585438131172+company-y.example".into();
    let mail = render_email(&odd, &out, &mail_meta()).unwrap();
    let subject = headers(&mail)
        .into_iter()
        .find(|(n, _)| n == "Subject")
        .unwrap()
        .1;
    assert_eq!(
        parse_subject(&subject).unwrap().report_id,
        "133198585438131172+company-y.example@company-x.example"
    );
}

#[test]
fn every_report_of_a_day_renders() {
    let mut d = DayAggregate::new(day());
    for n in 0..5 {
        successes(
            &mut d,
            &PolicyKey::no_policy_found(&format!("d{n}.example")).unwrap(),
            n + 1,
        );
    }
    let m = meta();
    let fin = d.finish(&m).unwrap();
    let mut names = Vec::new();
    for r in &fin.reports {
        let out = render(r, &m.submitter, &m.unique_id).unwrap();
        let mail = render_email(r, &out, &mail_meta()).unwrap();
        let read = read_report(&mail, &ReadOptions::new(Strictness::Strict)).unwrap();
        assert_eq!(read.value.report, *r);
        names.push(out.filename.to_string());
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 5);
}
