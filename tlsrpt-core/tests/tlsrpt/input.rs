//! Inputs in every shape: JSON, gzip, e-mail (RPT-DELIV-01, -06, -07,
//! -19, -20). Every `.eml` of the corpus with its key values, and
//! synthetic messages for each MIME rule and limit.

use std::borrow::Cow;
use std::io::Write;

use proptest::prelude::*;
use tlsrpt_core::filename::{FilenameError, ReportFilename, parse_subject};
use tlsrpt_core::input::{
    Extracted, InputError, InputKind, InputWarningCode, Limits, ReadOptions, decompress_gzip,
    detect, extract, read_report,
};
use tlsrpt_core::{MailInfo, Report, ReportWarning, Strictness};

use crate::{data, replaced};

type Read = (Extracted<'static>, Report<'static>, Vec<ReportWarning>);

/// `read_report` with the default options, as the tuple the tests take
/// apart.
fn read_lenient(bytes: &'static [u8]) -> Result<Read, InputError> {
    let r = read_report(bytes, &ReadOptions::default())?;
    Ok((r.value.extracted, r.value.report, r.warnings))
}

fn read(rel: &str) -> Read {
    let bytes: &'static [u8] = Box::leak(data(rel).into_boxed_slice());
    read_lenient(bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn codes(w: &[ReportWarning]) -> Vec<&'static str> {
    w.iter().map(|w| w.code.as_str()).collect()
}

fn mail<'a>(e: &'a Extracted<'_>) -> &'a MailInfo {
    e.mail.as_ref().expect("mail info")
}

const JSON: &str = r#"{"organization-name":"Org","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-22T23:59:59Z"},"contact-info":"tlsrpt@sender.example","report-id":"r-1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: mx.example.net","max_age: 86400"],"policy-domain":"example.net","mx-host":["mx.example.net"]},"summary":{"total-successful-session-count":7,"total-failure-session-count":0},"failure-details":[]}]}"#;

fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn b64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for (i, c) in b.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            s.push_str("\r\n");
        }
        let n = u32::from(c[0]) << 16
            | u32::from(*c.get(1).unwrap_or(&0)) << 8
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                s.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// A message: top-level header fields, then the body.
fn msg(headers: &str, body: &str) -> Vec<u8> {
    format!("{headers}\r\n\r\n{body}").into_bytes()
}

const TLS_HEADERS: &str = "From: tlsrpt@sender.example\r\nSubject: Report Domain: example.net Submitter: sender.example Report-ID: <r-1@sender.example>\r\nTLS-Report-Domain: example.net\r\nTLS-Report-Submitter: sender.example\r\nMIME-Version: 1.0";

/// A `multipart/report; report-type=tlsrpt` message with a text part and
/// `part` (its header fields and body).
fn report_mail(part_headers: &str, part_body: &str) -> Vec<u8> {
    msg(
        &format!(
            "{TLS_HEADERS}\r\nContent-Type: multipart/report; report-type=\"tlsrpt\";\r\n\tboundary=\"=_b\""
        ),
        &format!(
            "preamble\r\n--=_b\r\nContent-Type: text/plain\r\n\r\nThis is a TLS report.\r\n--=_b\r\n{part_headers}\r\n\r\n{part_body}\r\n--=_b--\r\n"
        ),
    )
}

fn ok(bytes: &[u8]) -> Read {
    let bytes: &'static [u8] = Box::leak(bytes.to_vec().into_boxed_slice());
    read_lenient(bytes).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------
// The corpus e-mails

#[test]
fn rpt_deliv_20_mail_auth_rpt01_decodes_to_rpt01_json() {
    let (e, r, w) = read("mail-auth/rpt01.eml");
    assert_eq!(&e.json[..], &data("mail-auth/rpt01.json")[..]);
    assert_eq!((e.kind, e.gzip), (InputKind::Email, true));
    let m = mail(&e);
    assert_eq!(
        m.subject.as_deref(),
        Some(
            "Report Domain: example.net Submitter: mail.sender.example.com Report-ID: <735ff.e317+bf22029@example.net>"
        )
    );
    assert_eq!(m.tls_report_domain.as_deref(), Some("example.net"));
    assert_eq!(
        m.tls_report_submitter.as_deref(),
        Some("mail.sender.example.com")
    );
    assert_eq!(
        m.attachment_filename.as_deref(),
        Some("mail.sender.example!example.com!1013662812!1013749130.json.gz")
    );
    assert_eq!(m.content_type.as_deref(), Some("application/tlsrpt+gzip"));
    assert_eq!(m.report_type.as_deref(), Some("tlsrpt"));
    assert_eq!(r.organization_name, "Company-X");
    assert_eq!(r.report_id, "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
    assert_eq!((r.successful_sessions(), r.failed_sessions()), (5326, 303));
    assert_eq!(
        r.policies[0].policy.policy_domain.as_deref(),
        Some("company-y.example")
    );
    assert!(w.is_empty(), "{w:?}");
    // The example's header fields disagree with its report (RPT-DELIV-08).
    assert_eq!(e.warnings.len(), 2, "{:?}", e.warnings);
    assert!(
        e.warnings[0]
            .message
            .contains("TLS-Report-Submitter `mail.sender.example.com`")
    );
    assert_eq!(e.warnings[0].code, InputWarningCode::SubmitterMismatch);
    assert!(
        e.warnings[1]
            .message
            .contains("TLS-Report-Domain `example.net`")
    );
    assert_eq!(e.warnings[1].code, InputWarningCode::DomainMismatch);
    let s = parse_subject(m.subject.as_deref().unwrap()).unwrap();
    assert_eq!(s.report_id, "735ff.e317+bf22029@example.net");
    assert!(s.rfc_form);
}

#[test]
fn rpt_deliv_06_mail_auth_rpt02_application_tlsrpt_mislabel() {
    let (e, r, w) = read("mail-auth/rpt02.eml");
    assert!(!e.gzip);
    assert!(
        matches!(e.json, Cow::Borrowed(_)),
        "a 7bit part is not copied"
    );
    assert_eq!(
        std::str::from_utf8(&e.json).unwrap().trim(),
        std::str::from_utf8(&data("mail-auth/rpt02.json"))
            .unwrap()
            .trim()
    );
    let m = mail(&e);
    assert_eq!(m.content_type.as_deref(), Some("application/tlsrpt"));
    assert_eq!(
        m.attachment_filename.as_deref(),
        Some("mail.sender.example!example.com!1013662812!1013749130.json")
    );
    assert!(
        e.warnings[0].code == InputWarningCode::MislabelledPart
            && e.warnings[0]
                .message
                .contains("part 2 is typed application/tlsrpt, without the +json or +gzip suffix"),
        "{:?}",
        e.warnings
    );
    assert_eq!(r.organization_name, "Google Inc.");
    assert_eq!(r.report_id, "2020-01-01T00:00:00Z_example.com");
    assert_eq!((r.successful_sessions(), r.failed_sessions()), (23, 1));
    assert_eq!(
        r.policies[0].policy.policy_domain.as_deref(),
        Some("example.com")
    );
    assert_eq!(codes(&w), ["mx-host-missing"]);
}

#[test]
fn rpt_deliv_06_mox_google_example() {
    let (e, r, w) = read("mox/example.eml");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    let m = mail(&e);
    assert_eq!(
        m.subject.as_deref(),
        Some(
            "Report Domain: test.xmox.nl Submitter: google.com Report-ID: <2022.09.15T00.00.00Z+test.xmox.nl@google.com>"
        )
    );
    assert_eq!(m.tls_report_domain.as_deref(), Some("test.xmox.nl"));
    assert_eq!(m.tls_report_submitter.as_deref(), Some("google.com"));
    let name = m.attachment_filename.as_deref().unwrap();
    assert_eq!(
        name,
        "google.com!test.xmox.nl!1663200000!1663286399!001.json.gz"
    );
    // report-type unquoted, after boundary.
    assert_eq!(m.report_type.as_deref(), Some("tlsrpt"));
    assert_eq!(r.organization_name, "Google Inc.");
    assert_eq!(r.report_id, "2022-09-15T00:00:00Z_test.xmox.nl");
    assert_eq!((r.successful_sessions(), r.failed_sessions()), (3, 0));
    assert_eq!(
        r.policies[0].policy.policy_domain.as_deref(),
        Some("test.xmox.nl")
    );
    assert_eq!(codes(&w), ["failure-details-missing"]);
    // The attachment's name agrees with the report (RPT-DELIV-02, -05).
    let f = ReportFilename::parse(name).unwrap();
    assert_eq!(f.begin as i64, r.date_range.start.secs);
    assert_eq!(f.end as i64, r.date_range.end.secs);
    assert_eq!(
        f,
        ReportFilename::for_report(&r, "google.com", Some("001"), true).unwrap()
    );
}

#[test]
fn rpt_deliv_06_mox_microsoft_folded_subject_and_zoneless_dates() {
    let (e, r, w) = read("mox/microsoft.eml");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    let m = mail(&e);
    assert_eq!(
        m.subject.as_deref(),
        Some(
            "Report Domain: test.xmox.nl Submitter: microsoft.com Report-ID: 133198585438131172+test.xmox.nl"
        )
    );
    assert_eq!(m.tls_report_submitter.as_deref(), Some("microsoft.com"));
    assert_eq!(
        m.attachment_filename.as_deref(),
        Some("microsoft.com!test.xmox.nl!1673308800!1673395199!133198585438131172.json.gz")
    );
    assert_eq!(m.report_type.as_deref(), Some("tlsrpt"));
    assert_eq!(r.organization_name, "Microsoft Corporation");
    assert_eq!(r.report_id, "133198585438131172+test.xmox.nl");
    assert_eq!((r.successful_sessions(), r.failed_sessions()), (2, 0));
    assert_eq!(
        r.policies[0].policy.policy_domain.as_deref(),
        Some("test.xmox.nl")
    );
    assert_eq!(
        codes(&w),
        [
            "date-time-not-rfc3339",
            "date-time-not-rfc3339",
            "mx-host-missing",
            "failure-details-missing"
        ]
    );
    assert!(w[0].message.contains("has no zone offset"));
    let s = parse_subject(m.subject.as_deref().unwrap()).unwrap();
    assert_eq!(s.report_id, "133198585438131172+test.xmox.nl");
    assert!(!s.rfc_form);
    // The strict reader refuses the zone-less dates.
    let bytes = data("mox/microsoft.eml");
    assert!(matches!(
        read_report(&bytes, &ReadOptions::new(Strictness::Strict)),
        Err(InputError::Report(_))
    ));
}

fn digest(rel: &str, id: &str, ok: u64, failed: u64, details: usize) -> Read {
    let got = read(rel);
    let (e, r, _) = &got;
    assert!(e.warnings.is_empty(), "{rel}: {:?}", e.warnings);
    let m = mail(e);
    assert_eq!(m.tls_report_domain.as_deref(), Some("example.com"), "{rel}");
    assert_eq!(r.report_id, id, "{rel}");
    assert_eq!(
        (r.successful_sessions(), r.failed_sessions()),
        (ok, failed),
        "{rel}"
    );
    assert_eq!(r.policies.len(), 1);
    assert_eq!(
        r.policies[0].policy.policy_domain.as_deref(),
        Some("example.com")
    );
    assert_eq!(r.policies[0].failure_details.len(), details, "{rel}");
    got
}

#[test]
fn rpt_deliv_20_tlsrpt_digest_google() {
    for (rel, id, ok, failed, details, date) in [
        (
            "tlsrpt-digest/tlsrpt_failure.eml",
            "2026-02-08T00:00:00Z_example.com",
            4523,
            2,
            1,
            "2026.05.12",
        ),
        (
            "tlsrpt-digest/tlsrpt_success_google_1.eml",
            "2026-05-11T00:00:00Z_example.com",
            1,
            0,
            0,
            "2026.05.11",
        ),
        (
            "tlsrpt-digest/tlsrpt_success_google_2.eml",
            "2026-05-12T00:00:00Z_example.com",
            4,
            0,
            0,
            "2026.05.12",
        ),
    ] {
        let (e, r, w) = digest(rel, id, ok, failed, details);
        let m = mail(&e);
        assert_eq!(r.organization_name, "Google Inc.");
        assert_eq!(m.tls_report_submitter.as_deref(), Some("google.com"));
        assert_eq!(
            m.subject.as_deref().unwrap(),
            format!(
                "Report Domain: example.com Submitter: google.com Report-ID: <{date}T00.00.00Z+example.com@google.com>"
            )
        );
        let name = m.attachment_filename.as_deref().unwrap();
        assert!(name.starts_with("google.com!example.com!") && name.ends_with("!001.json.gz"));
        assert!(ReportFilename::parse(name).is_ok());
        assert!(!codes(&w).contains(&"date-time-not-rfc3339"));
    }
}

#[test]
fn rpt_deliv_20_tlsrpt_digest_microsoft_html_text_part() {
    let (e, r, w) = digest(
        "tlsrpt-digest/tlsrpt_success_microsoft.eml",
        "134232617934286362+example.com",
        2,
        0,
        0,
    );
    let m = mail(&e);
    assert_eq!(r.organization_name, "Microsoft Corporation");
    assert_eq!(
        m.subject.as_deref(),
        Some(
            "Report Domain: example.com Submitter: microsoft.com Report-ID: 134232617934286362+example.com"
        )
    );
    assert_eq!(
        m.attachment_filename.as_deref(),
        Some("microsoft.com!example.com!1778630400!1778716799!134232617934286362.json.gz")
    );
    assert_eq!(codes(&w), ["mx-host-missing", "failure-details-missing"]);
}

#[test]
fn rpt_deliv_20_parsedmarc_google_no_policy_found() {
    let (e, r, w) = read("parsedmarc/google.com_smtp_tls_report.eml");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    let m = mail(&e);
    assert_eq!(m.tls_report_domain.as_deref(), Some("cardinalhealth.ca"));
    assert_eq!(m.tls_report_submitter.as_deref(), Some("google.com"));
    assert_eq!(
        m.subject.as_deref(),
        Some(
            "Report Domain: cardinalhealth.ca Submitter: google.com Report-ID: <2024.09.03T00.00.00Z+cardinalhealth.ca@google.com>"
        )
    );
    assert_eq!(
        m.attachment_filename.as_deref(),
        Some("google.com!cardinalhealth.ca!1725321600!1725407999!001.json.gz")
    );
    assert_eq!(r.organization_name, "Google Inc.");
    assert_eq!(r.report_id, "2024-09-03T00:00:00Z_cardinalhealth.ca");
    assert_eq!((r.successful_sessions(), r.failed_sessions()), (48, 0));
    assert_eq!(
        r.policies[0].policy.policy_type,
        tlsrpt_core::PolicyType::NoPolicyFound
    );
    assert_eq!(codes(&w), ["failure-details-missing"]);
}

#[test]
fn rpt_deliv_06_rfc_example_mail_placeholder_is_a_gzip_error() {
    let bytes = data("rfc/rfc8460-section-5.3.1-report-email.as-printed.eml");
    let err = extract(&bytes, &Limits::default()).unwrap_err();
    let InputError::Gzip(m) = &err else {
        panic!("{err:?}")
    };
    assert!(m.starts_with("part 2 (application/tlsrpt+gzip"), "{m}");
    assert!(m.contains("is not gzip data"), "{m}");
    assert!(m.contains("2 characters outside the alphabet"), "{m}");
    // The file name is folded inside its quoted string: unfolded, it has a
    // space, so it is not a valid file name.
    assert!(err.to_string().contains("example.com! 1013662812!"));
    assert_eq!(
        ReportFilename::parse("mail.sender.example!example.com! 1013662812!1013749130.json.gz"),
        Err(FilenameError::Syntax {
            field: "begin-timestamp",
            offset: 32,
            reason: "expected a digit"
        })
    );
}

// ---------------------------------------------------------------------------
// Detection, JSON and gzip

#[test]
fn detect_by_content() {
    assert_eq!(detect(JSON.as_bytes()), Some(InputKind::Json));
    assert_eq!(detect(b"\xef\xbb\xbf\r\n\t {"), Some(InputKind::Json));
    assert_eq!(detect(&gz(b"{}")), Some(InputKind::Gzip));
    assert_eq!(
        detect(b"Received: from x\r\n by y\r\n\r\n"),
        Some(InputKind::Email)
    );
    assert_eq!(
        detect(b"From sender@example.com Mon Jan  1 00:00:00 2024\nSubject: x\n\n"),
        Some(InputKind::Email)
    );
    assert_eq!(
        detect(b"X-Mox-Reason: no-bad-signals\r\n"),
        Some(InputKind::Email)
    );
    for bad in [
        &b""[..],
        b"[1]",
        b"  \n",
        b"<xml/>",
        b"no colon here",
        b": empty name",
        b"PK\x03\x04",
    ] {
        assert_eq!(detect(bad), None, "{bad:?}");
    }
    let err = extract(b"PK\x03\x04zip", &Limits::default()).unwrap_err();
    let InputError::Unrecognised { start } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(start, "50 4b 03 04 7a 69 70");
    assert_eq!(
        err.to_string(),
        "not a TLS-RPT report (neither JSON, gzip nor an e-mail)"
    );
    assert!(err.is_not_a_report());
    let err = extract(b"hello, this is no report\n", &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        InputError::Unrecognised {
            start: "`hello, this is n`".to_owned()
        }
    );
}

/// Two report e-mails in one mbox: `split_mbox` gives both, each read to
/// its own report; `read_report` on the whole mbox reads the first and
/// says that there are more. A mailbox's ordinary mail is "not a report".
#[test]
fn mbox_of_two_reports_is_split_into_both() {
    let first = report_mail(
        "Content-Type: application/tlsrpt+json",
        &JSON.replace("r-1", "r-first"),
    );
    let second = report_mail(
        "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64",
        &b64(&gz(JSON.replace("r-1", "r-second").as_bytes())),
    );
    let lunch = msg("From: a@example.com\r\nSubject: lunch?", "At noon.\r\n");
    let mut mbox = Vec::new();
    for m in [&first, &lunch, &second] {
        mbox.extend_from_slice(b"From tlsrpt@sender.example Thu Feb 22 00:00:00 2024\n");
        mbox.extend_from_slice(m);
        mbox.extend_from_slice(b"\n");
    }
    let messages = tlsrpt_core::input::split_mbox(&mbox);
    assert_eq!(messages.len(), 3);
    assert!(messages.iter().all(|m| m.starts_with(b"From tlsrpt@")));
    assert_eq!(messages.concat(), mbox);
    let o = ReadOptions::default();
    let ids: Vec<String> = messages
        .iter()
        .filter_map(|m| match read_report(m, &o) {
            Ok(r) => Some(r.value.report.report_id.to_string()),
            Err(e) => {
                assert!(e.is_not_a_report(), "{e}");
                assert!(matches!(e, InputError::NoReportPart { .. }), "{e}");
                None
            }
        })
        .collect();
    assert_eq!(ids, ["r-first", "r-second"]);

    let whole = read_report(&mbox, &o).unwrap();
    assert_eq!(whole.value.report.report_id, "r-first");
    let w = &whole.value.extracted.warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].code, InputWarningCode::SeveralMessages);
    assert_eq!(
        w[0],
        "the input is an mbox of 3 messages; only the first was read"
    );

    // One message, with or without a `From ` line: no warning, no split.
    let one = read_report(messages[0], &o).unwrap();
    assert!(one.value.extracted.warnings.is_empty());
    assert_eq!(tlsrpt_core::input::split_mbox(&first), [&first[..]]);
    // `From ` followed by no header line is no mbox.
    assert_eq!(
        tlsrpt_core::input::split_mbox(b"From here\nto there\nFrom x\n").len(),
        1
    );
}

#[test]
fn json_input_is_borrowed_and_bounded() {
    let e = extract(JSON.as_bytes(), &Limits::default()).unwrap();
    assert!(matches!(e.json, Cow::Borrowed(_)));
    assert_eq!((e.kind, e.gzip, e.mail), (InputKind::Json, false, None));
    let small = Limits {
        max_decompressed: 10,
        ..Limits::default()
    };
    assert_eq!(
        extract(JSON.as_bytes(), &small).unwrap_err(),
        InputError::TooLarge {
            what: "report JSON",
            limit: 10
        }
    );
}

#[test]
fn rpt_deliv_01_gzip_input() {
    let (e, r, w) = ok(&gz(JSON.as_bytes()));
    assert_eq!((e.kind, e.gzip), (InputKind::Gzip, true));
    assert_eq!(&e.json[..], JSON.as_bytes());
    assert_eq!(r.report_id, "r-1");
    assert!(w.is_empty());
    assert_eq!(
        e.into_owned().json,
        Cow::<'static, [u8]>::Owned(JSON.as_bytes().to_vec())
    );
}

#[test]
fn multi_member_gzip_is_concatenated() {
    let (a, b) = JSON.split_at(100);
    let mut two = gz(a.as_bytes());
    two.extend(gz(b.as_bytes()));
    assert_eq!(decompress_gzip(&two, 1 << 20).unwrap(), JSON.as_bytes());
    assert_eq!(
        decompress_gzip(&two, JSON.len() - 1).unwrap_err(),
        InputError::TooLarge {
            what: "decompressed report",
            limit: JSON.len() - 1
        }
    );
}

#[test]
fn truncated_and_corrupt_gzip_are_gzip_errors() {
    let full = gz(JSON.as_bytes());
    for cut in [3, 10, full.len() / 2, full.len() - 4, full.len() - 1] {
        let err = decompress_gzip(&full[..cut], 1 << 20).unwrap_err();
        assert!(matches!(err, InputError::Gzip(_)), "cut {cut}: {err:?}");
    }
    let err = decompress_gzip(&full[..full.len() / 2], 1 << 20).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid gzip data: truncated gzip data (after"),
        "{err}"
    );
    let mut bad = full.clone();
    bad[12] ^= 0xff;
    bad[13] ^= 0x55;
    assert!(matches!(
        decompress_gzip(&bad, 1 << 20),
        Err(InputError::Gzip(_))
    ));
    let mut crc = full.clone();
    let n = crc.len();
    crc[n - 8] ^= 1;
    assert!(matches!(
        decompress_gzip(&crc, 1 << 20),
        Err(InputError::Gzip(_))
    ));
    // Through extract and inside a message.
    assert!(matches!(
        extract(&full[..40], &Limits::default()),
        Err(InputError::Gzip(_))
    ));
    let m = report_mail(
        "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64",
        &b64(&full[..full.len() / 2]),
    );
    let err = extract(&m, &Limits::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid gzip data: part 2 (application/tlsrpt+gzip): truncated"),
        "{err}"
    );
}

/// A single-member gzip stream of `mib` MiB of zeros, built from one
/// full-flushed deflate block repeated (compressing 200 MiB in a debug
/// build would take most of a minute).
fn gzip_bomb(mib: u32) -> Vec<u8> {
    let chunk = vec![0u8; 1 << 20];
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut block = Vec::with_capacity(8192);
    c.compress_vec(&chunk, &mut block, flate2::FlushCompress::Full)
        .unwrap();
    assert_eq!(c.total_in(), 1 << 20);
    let mut one = flate2::Crc::new();
    one.update(&chunk);
    let mut crc = flate2::Crc::new();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for _ in 0..mib {
        out.extend_from_slice(&block);
        crc.combine(&one);
    }
    out.extend_from_slice(&[0x03, 0x00]); // final empty block
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(mib << 20).to_le_bytes());
    out
}

#[test]
fn rpt_deliv_19_gzip_bomb_is_refused_at_the_limit() {
    let bomb = gzip_bomb(200);
    assert!(bomb.len() < 300_000, "{}", bomb.len());
    // The stream is valid: a bigger limit inflates the first MiBs fine
    // (checked on a small bomb to stay fast).
    assert_eq!(
        decompress_gzip(&gzip_bomb(2), 2 << 20).unwrap().len(),
        2 << 20
    );
    let start = std::time::Instant::now();
    let limits = Limits {
        max_decompressed: 1 << 20,
        ..Limits::default()
    };
    let too_large = InputError::TooLarge {
        what: "decompressed report",
        limit: 1 << 20,
    };
    assert_eq!(decompress_gzip(&bomb, 1 << 20).unwrap_err(), too_large);
    assert_eq!(extract(&bomb, &limits).unwrap_err(), too_large);
    // The same bomb as an e-mail attachment.
    let m = report_mail(
        "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64",
        &b64(&bomb),
    );
    assert_eq!(extract(&m, &limits).unwrap_err(), too_large);
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
}

// ---------------------------------------------------------------------------
// E-mail structure

#[test]
fn rpt_deliv_06_multipart_report_json_and_gzip_parts() {
    let (e, r, _) = ok(&report_mail(
        "Content-Type: application/tlsrpt+json\r\nContent-Disposition: attachment; filename=\"sender.example!example.net!1708560000!1708646399.json\"",
        JSON,
    ));
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(&e.json[..], JSON.as_bytes());
    assert_eq!(r.report_id, "r-1");
    let m = mail(&e);
    assert_eq!(m.content_type.as_deref(), Some("application/tlsrpt+json"));
    assert_eq!(
        m.attachment_filename.as_deref(),
        Some("sender.example!example.net!1708560000!1708646399.json")
    );
    let (e, _, _) = ok(&report_mail(
        "Content-Type: application/tlsrpt+gzip; name=\"r.json.gz\"\r\nContent-Transfer-Encoding: BASE64",
        &b64(&gz(JSON.as_bytes())),
    ));
    assert!(e.gzip && e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(mail(&e).attachment_filename.as_deref(), Some("r.json.gz"));
}

#[test]
fn rpt_deliv_20_report_type_unquoted_after_boundary_any_case() {
    let m = msg(
        "TLS-Report-Domain: example.net\r\nTLS-Report-Submitter: sender.example\r\nContent-Type: Multipart/Report;\r\n boundary=XyZ;  Report-Type=TLSRPT",
        &format!(
            "--XyZ\r\nContent-Type: text/plain\r\n\r\nhi\r\n--XyZ\r\nContent-Type: Application/TLSRPT+JSON\r\n\r\n{JSON}\r\n--XyZ--"
        ),
    );
    let (e, _, _) = ok(&m);
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(mail(&e).report_type.as_deref(), Some("TLSRPT"));
    assert_eq!(
        mail(&e).content_type.as_deref(),
        Some("application/tlsrpt+json")
    );
}

#[test]
fn rpt_deliv_20_nested_multipart_mixed_inside_report() {
    let inner = format!(
        "--inner\r\nContent-Type: text/html\r\n\r\n<p>report</p>\r\n--inner\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n filename*0=\"sender.example!example.net!\";\r\n filename*1=\"1708560000!1708646399.json.gz\"\r\n\r\n{}\r\n--inner--\r\n",
        b64(&gz(JSON.as_bytes()))
    );
    let m = msg(
        &format!(
            "{TLS_HEADERS}\r\nContent-Type: multipart/report; boundary=outer; report-type=tlsrpt"
        ),
        &format!(
            "--outer\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--outer\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n{inner}\r\n--outer--\r\n"
        ),
    );
    let (e, r, _) = ok(&m);
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(r.report_id, "r-1");
    let mi = mail(&e);
    assert_eq!(
        mi.attachment_filename.as_deref(),
        Some("sender.example!example.net!1708560000!1708646399.json.gz")
    );
    assert_eq!(mi.report_type.as_deref(), Some("tlsrpt"));
}

#[test]
fn quoted_printable_json_part() {
    // An `=` in the report, for the encoder to write as `=3D` (JSON has none).
    let json = replaced(
        JSON,
        r#""organization-name":"Org""#,
        r#""organization-name":"Org=Inc""#,
    );
    let qp = replaced(
        &replaced(
            &replaced(&json, "=", "=3D"),
            "\"report-id\"",
            "=22report-id=22",
        ),
        ",",
        ",=\r\n",
    );
    let (e, r, _) = ok(&report_mail(
        "Content-Type: application/tlsrpt+json; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable",
        &qp,
    ));
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(&e.json[..], json.as_bytes());
    assert_eq!(r.report_id, "r-1");
    assert_eq!(r.organization_name, "Org=Inc");
}

#[test]
fn rpt_deliv_06_non_multipart_message_body_is_the_report() {
    let (e, r, _) = ok(&msg(
        &format!("{TLS_HEADERS}\r\nContent-Type: application/tlsrpt+json"),
        JSON,
    ));
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert!(matches!(e.json, Cow::Borrowed(_)));
    assert_eq!(r.report_id, "r-1");
    assert_eq!(mail(&e).report_type, None);
    // Untyped (text/plain by default) but with TLS-Report-* header fields.
    let (e, _, _) = ok(&msg(TLS_HEADERS, JSON));
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    assert!(e.warnings[0].message.contains("part 1 is typed text/plain"));
    assert!(e.warnings[0].message.contains("whole body"));
    // Without them, nothing says it is a report.
    let err = extract(&msg("Subject: hello", JSON), &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        InputError::NoReportPart {
            parts: vec!["1 text/plain".to_owned()]
        }
    );
}

#[test]
fn rpt_deliv_06_mislabelled_parts_are_read_with_a_warning() {
    let gzb = b64(&gz(JSON.as_bytes()));
    let cases: [(&str, String, bool); 9] = [
        ("Content-Type: application/gzip", gzb.clone(), true),
        ("Content-Type: application/x-gzip", gzb.clone(), true),
        ("Content-Type: application/octet-stream", gzb.clone(), true),
        (
            "Content-Type: application/octet-stream",
            b64(JSON.as_bytes()),
            false,
        ),
        (
            "Content-Type: application/json",
            b64(JSON.as_bytes()),
            false,
        ),
        ("Content-Type: application/tlsrpt", gzb.clone(), true),
        (
            "Content-Type: text/plain; name=r.json",
            b64(JSON.as_bytes()),
            false,
        ),
        (
            "Content-Type: text/plain\r\nContent-Disposition: attachment; filename=R.JSON.GZ",
            gzb.clone(),
            true,
        ),
        (
            "Content-Type: text/plain; name=report.gz",
            gzb.clone(),
            true,
        ),
    ];
    for (headers, body, gzip) in cases {
        let m = report_mail(
            &format!("{headers}\r\nContent-Transfer-Encoding: base64"),
            &body,
        );
        let (e, r, _) = ok(&m);
        assert_eq!(r.report_id, "r-1", "{headers}");
        assert_eq!(e.gzip, gzip, "{headers}");
        let media = mail(&e).content_type.clone().unwrap();
        assert!(headers.to_ascii_lowercase().contains(&media), "{headers}");
        assert!(
            e.warnings
                .iter()
                .any(|w| w.message.starts_with(&format!("part 2 is typed {media}"))),
            "{headers}: {:?}",
            e.warnings
        );
    }
}

#[test]
fn rpt_deliv_06_content_is_checked_by_magic_bytes() {
    // +json holding gzip: decompressed.
    let (e, r, _) = ok(&report_mail(
        "Content-Type: application/tlsrpt+json\r\nContent-Transfer-Encoding: base64",
        &b64(&gz(JSON.as_bytes())),
    ));
    assert!(e.gzip);
    assert_eq!(r.report_id, "r-1");
    assert_eq!(
        e.warnings,
        ["part 2 is typed application/tlsrpt+json but holds gzip data; decompressed"]
    );
    // +gzip holding JSON: read as is.
    let (e, _, _) = ok(&report_mail("Content-Type: application/tlsrpt+gzip", JSON));
    assert!(!e.gzip);
    assert_eq!(
        e.warnings,
        ["part 2 is typed application/tlsrpt+gzip but holds uncompressed JSON; read as is"]
    );
    // A mislabelled part that is not JSON is passed over.
    let m = report_mail(
        "Content-Type: application/octet-stream; name=x.gz\r\nContent-Transfer-Encoding: base64",
        &b64(&gz(b"<feedback/>")),
    );
    let err = extract(&m, &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        InputError::NoReportPart {
            parts: vec![
                "message multipart/report".to_owned(),
                "1 text/plain".to_owned(),
                "2 application/octet-stream \"x.gz\" (not JSON, passed over)".to_owned(),
            ]
        }
    );
}

#[test]
fn rpt_deliv_20_no_report_part_lists_the_parts_seen() {
    let m = msg(
        "Subject: hello\r\nContent-Type: multipart/mixed; boundary=b",
        "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: image/png; name=\"logo.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n",
    );
    let err = extract(&m, &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no tls-rpt report part in the e-mail (parts seen: message multipart/mixed, 1 text/plain, 2 image/png \"logo.png\")"
    );
}

#[test]
fn multipart_related_with_only_application_json_is_not_a_report() {
    // mox: ErrNoReport. The same part with a second hint is read.
    let body = format!(
        "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/json\r\n\r\n{JSON}\r\n--b--\r\n"
    );
    let m = msg(
        "Subject: x\r\nContent-Type: multipart/related; boundary=b",
        &body,
    );
    assert!(matches!(
        extract(&m, &Limits::default()),
        Err(InputError::NoReportPart { .. })
    ));
    let m = msg(
        "Subject: x\r\nContent-Type: multipart/report; report-type=tlsrpt; boundary=b",
        &body,
    );
    let e = extract(&m, &Limits::default()).unwrap();
    assert!(
        e.warnings[0]
            .message
            .contains("because it is inside multipart/report; report-type=tlsrpt")
    );
    assert!(
        e.warnings[1]
            .message
            .contains("no TLS-Report-Domain header field")
    );
    assert!(
        e.warnings[2]
            .message
            .contains("no TLS-Report-Submitter header field")
    );
    // A correctly typed part inside multipart/related is read.
    let m = msg(
        "Subject: x\r\nContent-Type: multipart/related; boundary=b",
        &replaced(&body, "application/json", "application/tlsrpt+json"),
    );
    assert!(extract(&m, &Limits::default()).is_ok());
}

#[test]
fn several_report_parts_first_typed_part_wins() {
    let other = replaced(JSON, "r-1", "r-2");
    let m = msg(
        "TLS-Report-Domain: example.net\r\nTLS-Report-Submitter: sender.example\r\nContent-Type: multipart/mixed; boundary=b",
        &format!(
            "--b\r\nContent-Type: application/json\r\n\r\n{other}\r\n--b\r\nContent-Type: application/tlsrpt+json\r\n\r\n{JSON}\r\n--b\r\nContent-Type: application/tlsrpt+json\r\n\r\n{other}\r\n--b--"
        ),
    );
    let (e, r, _) = ok(&m);
    assert_eq!(r.report_id, "r-1");
    assert_eq!(
        e.warnings,
        ["the message has 2 report parts; only part 2 was read"]
    );
}

#[test]
fn forwarded_report_in_message_rfc822() {
    let inner =
        String::from_utf8(report_mail("Content-Type: application/tlsrpt+json", JSON)).unwrap();
    let m = msg(
        "Subject: Fwd: report\r\nContent-Type: multipart/mixed; boundary=fwd",
        &format!(
            "--fwd\r\nContent-Type: text/plain\r\n\r\nFYI\r\n--fwd\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--fwd--\r\n"
        ),
    );
    let (e, r, _) = ok(&m);
    assert_eq!(r.report_id, "r-1");
    let mi = mail(&e);
    assert_eq!(mi.tls_report_domain.as_deref(), Some("example.net"));
    assert!(mi.subject.as_deref().unwrap().starts_with("Report Domain:"));
    assert_eq!(
        e.warnings,
        ["the report is in an attached message (part 2, message/rfc822)"]
    );
}

#[test]
fn encoded_words_and_rfc2231_names_are_decoded() {
    let m = msg(
        "Subject: =?utf-8?Q?Report_Domain:_example.net?=\r\n =?us-ascii?B?IFN1Ym1pdHRlcjogc2VuZGVyLmV4YW1wbGU=?=\r\nTLS-Report-Domain: example.net\r\nTLS-Report-Submitter: sender.example\r\nContent-Type: application/tlsrpt+json\r\nContent-Disposition: attachment; filename*=UTF-8''r%C3%A9port.json",
        JSON,
    );
    let (e, _, _) = ok(&m);
    let mi = mail(&e);
    assert_eq!(
        mi.subject.as_deref(),
        Some("Report Domain: example.net Submitter: sender.example")
    );
    assert_eq!(mi.attachment_filename.as_deref(), Some("réport.json"));
}

#[test]
fn rpt_deliv_19_limits_on_messages_and_parts() {
    // A base64 part larger than max_attachment is refused before decoding.
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(10_000));
    let m = report_mail(
        "Content-Type: application/tlsrpt+json\r\nContent-Transfer-Encoding: base64",
        &b64(big.as_bytes()),
    );
    let limits = Limits {
        max_attachment: 1024,
        ..Limits::default()
    };
    let part_too_large = InputError::TooLarge {
        what: "decoded e-mail part",
        limit: 1024,
    };
    assert_eq!(extract(&m, &limits).unwrap_err(), part_too_large);
    assert_eq!(
        extract(
            &m,
            &Limits {
                max_attachment: big.len(),
                ..limits
            }
        )
        .unwrap()
        .json
        .len(),
        big.len()
    );
    // Quoted-printable and 7bit parts too.
    let qp = report_mail(
        "Content-Type: application/tlsrpt+json\r\nContent-Transfer-Encoding: quoted-printable",
        &big,
    );
    assert_eq!(extract(&qp, &limits).unwrap_err(), part_too_large);
    let plain = report_mail("Content-Type: application/tlsrpt+json", &big);
    assert_eq!(extract(&plain, &limits).unwrap_err(), part_too_large);
    // The whole message.
    let limits = Limits {
        max_message: 1000,
        ..Limits::default()
    };
    assert_eq!(
        extract(&m, &limits).unwrap_err(),
        InputError::TooLarge {
            what: "e-mail message",
            limit: 1000
        }
    );
    // Uncompressed JSON in a part is bounded like a plain JSON input.
    let limits = Limits {
        max_decompressed: 100,
        ..Limits::default()
    };
    assert_eq!(
        extract(&plain, &limits).unwrap_err(),
        InputError::TooLarge {
            what: "report JSON",
            limit: 100
        }
    );
}

#[test]
fn malformed_mime_is_a_mail_error() {
    let no_boundary = msg("Content-Type: multipart/report; report-type=tlsrpt", JSON);
    let err = extract(&no_boundary, &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed e-mail: the message: multipart/report has no boundary parameter"
    );
    let missing = msg("Content-Type: multipart/mixed; boundary=zz", JSON);
    assert!(matches!(
        extract(&missing, &Limits::default()),
        Err(InputError::Mail(m)) if m.contains("`zz`")
    ));
    let uu = report_mail(
        "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: x-uuencode",
        "begin 644 r.json.gz",
    );
    assert_eq!(
        extract(&uu, &Limits::default()).unwrap_err(),
        InputError::Mail("part 2: unsupported Content-Transfer-Encoding `x-uuencode`".to_owned())
    );
    // Nesting deeper than the limit.
    let mut body = format!("Content-Type: application/tlsrpt+json\r\n\r\n{JSON}");
    for i in 0..20 {
        body = format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n{body}\r\n--b{i}--"
        );
    }
    assert!(matches!(
        extract(body.as_bytes(), &Limits::default()),
        Err(InputError::Mail(m)) if m.contains("nested deeper than 16")
    ));
}

#[test]
fn unclosed_multipart_is_read_with_a_warning() {
    let mut m = report_mail("Content-Type: application/tlsrpt+json", JSON);
    let n = m.len();
    m.truncate(n - "\r\n--=_b--\r\n".len());
    let (e, r, _) = ok(&m);
    assert_eq!(r.report_id, "r-1");
    assert_eq!(
        e.warnings,
        ["the message: multipart/report has no closing boundary; read to the end"]
    );
}

#[test]
fn lf_only_message() {
    let m = replaced(
        &String::from_utf8(report_mail(
            "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64",
            &b64(&gz(JSON.as_bytes())),
        ))
        .unwrap(),
        "\r\n",
        "\n",
    );
    let (e, r, _) = ok(m.as_bytes());
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(r.report_id, "r-1");
    assert_eq!(
        mail(&e).subject.as_deref(),
        Some(
            "Report Domain: example.net Submitter: sender.example Report-ID: <r-1@sender.example>"
        )
    );
}

#[test]
fn input_error_messages_name_what_and_where() {
    let e = InputError::TooLarge {
        what: "decompressed report",
        limit: 5,
    };
    assert_eq!(
        e.to_string(),
        "decompressed report is larger than the limit of 5 bytes"
    );
    let e = InputError::NoReportPart { parts: vec![] };
    assert_eq!(
        e.to_string(),
        "no tls-rpt report part in the e-mail (parts seen: none)"
    );
    let err = read_report(b"{\"organization-name\":1}", &ReadOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid report: byte 21, at /organization-name"),
        "{err}"
    );
    assert_eq!(Limits::default().max_decompressed, 32 << 20);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn extract_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = extract(&bytes, &Limits::default());
        let _ = read_report(&bytes, &ReadOptions::new(Strictness::Strict));
    }

    #[test]
    fn extract_never_panics_on_mime_like_input(
        ct in prop::sample::select(vec![
            "multipart/report; report-type=tlsrpt; boundary=b",
            "multipart/mixed; boundary=\"b\"",
            "application/tlsrpt+gzip",
            "application/tlsrpt+json",
            "message/rfc822",
            "text/plain; name*0*=utf-8''%; name*1=x",
        ]),
        cte in prop::sample::select(vec!["base64", "quoted-printable", "7bit", ""]),
        body in "[-=b \r\n\t:;\"{}A-Za-z0-9+/%?_]{0,300}",
    ) {
        let m = format!(
            "Subject: =?utf-8?B?{body}?=\r\nContent-Type: {ct}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n--b\r\nContent-Type: {ct}\r\n\r\n{body}\r\n--b--"
        );
        let _ = extract(m.as_bytes(), &Limits::default());
        let small = Limits { max_decompressed: 16, max_attachment: 16, max_message: 4096 };
        let _ = extract(m.as_bytes(), &small);
    }

    #[test]
    fn gzip_round_trips_within_limits(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let z = gz(&data);
        prop_assert_eq!(decompress_gzip(&z, data.len()).unwrap(), data.clone());
        if !data.is_empty() {
            let too_large = InputError::TooLarge { what: "decompressed report", limit: data.len() - 1 };
            prop_assert_eq!(decompress_gzip(&z, data.len() - 1).unwrap_err(), too_large);
        }
    }
}

// ---------------------------------------------------------------------------
// Memory amplification (issue 15 item 5): what the reader keeps is bounded
// by what it uses, not by the input's shape.

fn mail_error(bytes: Vec<u8>) -> String {
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    match read_lenient(bytes) {
        Err(InputError::Mail(m)) => m,
        other => panic!("expected a mail error, got {:?}", other.map(|r| r.1)),
    }
}

#[test]
fn header_bombs_cost_nothing_or_are_refused() {
    let part = "Content-Type: application/tlsrpt+json\r\nContent-Disposition: attachment; filename=\"r.json\"";
    // 200,000 header fields the reader does not use, many folded: skipped
    // without being kept; the report is read.
    let mut junk = String::new();
    for i in 0..100_000 {
        junk.push_str(&format!("X-Junk-{i}: a\r\n\tb\r\nReceived: c\r\n"));
    }
    let bomb = msg(
        &format!(
            "{junk}{TLS_HEADERS}\r\nContent-Type: multipart/report; report-type=tlsrpt; boundary=\"=_b\""
        ),
        &format!("--=_b\r\n{part}\r\n\r\n{JSON}\r\n--=_b--\r\n"),
    );
    let (_, r, _) = ok(&bomb);
    assert_eq!(r.report_id, "r-1");

    // A used field folded past 64 KiB: refused, naming it.
    let mut long = String::from("Subject: s");
    for _ in 0..7000 {
        long.push_str("\r\n 0123456789");
    }
    let e = mail_error(msg(
        &format!("{long}\r\nContent-Type: application/tlsrpt+json"),
        JSON,
    ));
    assert_eq!(
        e,
        "the message: the Subject header field is longer than 65536 bytes"
    );

    // A Content-Type with 1,000 parameters (16 million fit in a 64 MB
    // message, but not in one 64 KiB field): refused at the 65th.
    let mut params = String::from("Content-Type: application/tlsrpt+json");
    for i in 0..1000 {
        params.push_str(&format!(";\r\n p{i}=v"));
    }
    let e = mail_error(msg(&params, JSON));
    assert_eq!(
        e,
        "the message: the Content-Type header field has more than 64 parameters"
    );
    let e = mail_error(report_mail(
        "Content-Type: application/tlsrpt+json\r\nContent-Disposition: attachment; a=1; b=2; c=3; d=4; e=5; f=6; g=7; h=8; i=9; j=10; k=11; l=12; m=13; n=14; o=15; p=16; q=17; r=18; s=19; t=20; u=21; v=22; w=23; x=24; y=25; z=26; aa=1; ab=2; ac=3; ad=4; ae=5; af=6; ag=7; ah=8; ai=9; aj=10; ak=11; al=12; am=13; an=14; ao=15; ap=16; aq=17; ar=18; as=19; at=20; au=21; av=22; aw=23; ax=24; ay=25; az=26; ba=1; bb=2; bc=3; bd=4; be=5; bf=6; bg=7; bh=8; bi=9; bj=10; bk=11; bl=12; bm=13",
        JSON,
    ));
    assert_eq!(
        e,
        "part 2: the Content-Disposition header field has more than 64 parameters"
    );

    // A million boundaries: refused at the part limit, not collected.
    let mut parts = String::new();
    for _ in 0..1_000_000 {
        parts.push_str("--=_b\r\n");
    }
    let e = mail_error(msg(
        "Content-Type: multipart/mixed; boundary=\"=_b\"",
        &parts,
    ));
    assert_eq!(e, "more than 1000 MIME parts (in the message)");
}

#[test]
fn string_lists_are_bounded() {
    let lines: Vec<String> = (0..=tlsrpt_core::parse::MAX_STRINGS)
        .map(|i| format!("\"mx: m{i}.example\""))
        .collect();
    let json = JSON.replace(
        r#""policy-string":["version: STSv1","mode: enforce","mx: mx.example.net","max_age: 86400"]"#,
        &format!(r#""policy-string":[{}]"#, lines.join(",")),
    );
    let err = Report::parse(json.as_bytes(), Strictness::Lenient).unwrap_err();
    assert_eq!(err.path, "/policies/0/policy/policy-string/16384");
    assert_eq!(err.kind.to_string(), "more than 16384 strings in one list");
    // One fewer is read.
    let json = json.replace(
        &format!(",\"mx: m{}.example\"", tlsrpt_core::parse::MAX_STRINGS),
        "",
    );
    let r = Report::parse(json.as_bytes(), Strictness::Lenient).unwrap();
    assert_eq!(
        r.value.policies[0].policy.policy_string.len(),
        tlsrpt_core::parse::MAX_STRINGS
    );
}
