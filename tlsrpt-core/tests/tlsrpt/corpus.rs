//! Every JSON report of the corpus and the RFC examples, with key values.

use std::net::IpAddr;

use tlsrpt_core::report::{Ip, PolicyType};
use tlsrpt_core::{Parsed, Report, ReportErrorKind, ResultType};

use crate::{assert_deviation, data};

fn lenient(rel: &str) -> Parsed<'static> {
    let bytes: &'static [u8] = Box::leak(data(rel).into_boxed_slice());
    Report::parse_lenient(bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn codes(p: &Parsed<'_>) -> Vec<&'static str> {
    p.warnings.iter().map(|w| w.code.as_str()).collect()
}

fn ip(s: &str) -> Option<Ip<'static>> {
    Some(Ip::Addr(s.parse::<IpAddr>().unwrap()))
}

#[test]
fn rfc8460_appendix_b_corrected() {
    let bytes = data("rfc/rfc8460-appendix-b-report.corrected.json");
    let p = Report::parse_strict(&bytes).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let r = p.value;
    assert_eq!(r.organization_name, "Company-X");
    assert_eq!(r.date_range.start.to_string(), "2016-04-01T00:00:00Z");
    assert_eq!(r.date_range.end.to_string(), "2016-04-01T23:59:59Z");
    assert_eq!(
        r.contact_info.as_deref(),
        Some("sts-reporting@company-x.example")
    );
    let pol = &r.policies[0];
    assert_eq!(pol.policy.policy_type, PolicyType::Sts);
    assert_eq!(
        pol.policy.policy_domain.as_deref(),
        Some("company-y.example")
    );
    assert_eq!(pol.policy.mx_host, ["*.mail.company-y.example"]);
    assert_eq!(pol.summary.total_successful_session_count, 5326);
    assert_eq!(pol.summary.total_failure_session_count, 303);
    let d = &pol.failure_details;
    assert_eq!(d.len(), 3);
    assert_eq!(d[0].result_type, ResultType::CertificateExpired);
    assert_eq!(d[0].sending_mta_ip, ip("2001:db8:abcd:12::1"));
    assert_eq!(d[0].receiving_ip, None);
    assert_eq!(d[0].failed_session_count, 100);
    assert_eq!(d[1].result_type, ResultType::StarttlsNotSupported);
    assert_eq!(d[1].receiving_ip, ip("203.0.113.56"));
    assert_eq!(d[1].failed_session_count, 200);
    assert!(
        d[1].additional_information
            .as_deref()
            .unwrap()
            .ends_with("#StarttlsNotSupported")
    );
    assert_eq!(d[2].result_type, ResultType::ValidationFailure);
    assert_eq!(d[2].receiving_ip, ip("203.0.113.58"));
    assert_eq!(
        d[2].failure_reason_code.as_deref(),
        Some("X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED")
    );
    // RPT-JSON-12: the writer emits the RFC 5952 form.
    assert!(
        r.to_json(false)
            .contains("\"sending-mta-ip\":\"2001:db8:abcd:12::1\"")
    );
}

#[test]
fn rfc8460_appendix_b_as_printed_is_rejected_clearly() {
    let bytes = data("rfc/rfc8460-appendix-b-report.as-printed.json");
    // Strict stops at the first deviation: `mx-host` as a string (erratum 6241).
    let e = Report::parse_strict(&bytes).unwrap_err();
    assert_eq!(e.path, "/policies/0/policy/mx-host", "{e}");
    // Lenient reads past it and stops at the raw line break inside a string.
    let e = Report::parse_lenient(&bytes).unwrap_err();
    assert_eq!(
        e.path, "/policies/0/failure-details/1/additional-information",
        "{e}"
    );
    assert!(matches!(e.kind, ReportErrorKind::Syntax(_)), "{e}");
    assert!(e.to_string().contains("control characters"), "{e}");
}

#[test]
fn rfc8460_section_4_5_policy_strings() {
    let bytes = data("rfc/rfc8460-section-4.5-policy-strings.json");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let sts: Vec<&str> = v["sts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let text = sts.join("\n");
    let policy = mta_sts_core::Policy::parse(&text).unwrap();
    assert_eq!(policy.policy_string(), sts);
    assert_eq!(v["tlsa"][0].as_str().unwrap().split(' ').count(), 4);
}

#[test]
fn mail_auth_rpt01_rpt02_rpt03() {
    let p = lenient("mail-auth/rpt01.json");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.value.policies[0].failure_details.len(), 3);
    assert_eq!(p.value.failed_sessions(), 303);

    let p = lenient("mail-auth/rpt02.json");
    assert_eq!(codes(&p), ["mx-host-missing"]);
    assert_eq!(
        p.value.date_range.end.secs - p.value.date_range.start.secs,
        7 * 86_400 - 1
    );
    assert_eq!(
        p.value.policies[0].failure_details[0].result_type,
        ResultType::CertificateHostMismatch
    );

    let p = lenient("mail-auth/rpt03.json");
    let r = &p.value;
    assert_eq!(r.policies.len(), 2);
    assert_eq!(r.policies[0].policy.policy_type, PolicyType::NoPolicyFound);
    assert_eq!(
        r.policies[1].policy.policy_type,
        PolicyType::Other("invalid-policy-type".into())
    );
    assert!(codes(&p).contains(&"count-missing"));
    assert!(codes(&p).contains(&"failure-details-missing"));
    assert_eq!(r.policies[0].summary.total_failure_session_count, 0);
    // Strict stops at the first deviation: the first policy has no
    // `policy-domain`.
    let e = assert_deviation(
        &data("mail-auth/rpt03.json"),
        "policy-domain-missing",
        "/policies/0/policy",
    );
    assert_eq!(e.kind, ReportErrorKind::MissingMember("policy-domain"));
}

#[test]
fn dmarc_report_viewer_google_microsoft() {
    let p = lenient("dmarc-report-viewer/google.json");
    assert_eq!(codes(&p), ["failure-details-missing"]);
    assert!(!p.value.policies[0].policy.mx_host.is_empty());

    // DEC-24: Microsoft's double-encoded TLSA policy-string.
    let p = lenient("dmarc-report-viewer/microsoft.json");
    let tlsa = &p.value.policies[1].policy;
    assert_eq!(tlsa.policy_type, PolicyType::Tlsa);
    assert_eq!(tlsa.policy_string.len(), 2);
    assert!(tlsa.policy_string[0].starts_with("3 1 1 6007EEE5"));
    assert!(codes(&p).contains(&"policy-string-double-encoded"));
    assert!(codes(&p).contains(&"mx-host-missing"));
    assert_eq!(p.value.report_id, "133925885310113267+random.net");
}

#[test]
fn dmarc_report_viewer_oddities() {
    // DEC-20, DEC-16: contact-info null, `mx: ` prefixes, next-day end.
    let p = lenient("dmarc-report-viewer/no-contact.json");
    assert_eq!(p.value.contact_info, None);
    assert_eq!(p.value.policies[0].policy.mx_host, ["mx.server.com"]);
    assert_eq!(codes(&p), ["contact-info-null", "mx-host-prefix"]);
    assert_eq!(p.value.date_range.end.to_string(), "2026-01-12T00:00:00Z");

    let p = lenient("dmarc-report-viewer/no-policy.json");
    assert_eq!(
        p.value.policies[0].policy.policy_type,
        PolicyType::NoPolicyFound
    );
    assert!(p.value.policies[0].policy.policy_string.is_empty());

    // No sending-mta-ip / receiving-mx-hostname for a fetch error.
    let p = lenient("dmarc-report-viewer/no_ip_and_mx.json");
    let d = &p.value.policies[0].failure_details[0];
    assert_eq!(d.result_type, ResultType::StsPolicyFetchError);
    assert_eq!(
        (d.sending_mta_ip.as_ref(), d.receiving_mx_hostname.as_ref()),
        (None, None)
    );
    assert!(p.value.report_id.ends_with('+'));

    let p = lenient("dmarc-report-viewer/rfc-example.json");
    assert_eq!(p.value.failed_sessions(), 303);
}

#[test]
fn parsedmarc_samples() {
    // The RFC example with `mx-host` as a string (erratum 6241).
    let p = lenient("parsedmarc/rfc8460.json");
    assert_eq!(p.value.policies[0].policy.mx_host.len(), 1);
    assert!(codes(&p).contains(&"mx-host-string"));
    let e = assert_deviation(
        &data("parsedmarc/rfc8460.json"),
        "mx-host-string",
        "/policies/0/policy/mx-host",
    );
    assert!(matches!(e.kind, ReportErrorKind::WrongType(_)), "{e}");

    // Mail.ru: no policy-string, free-text reason codes, totals that do not add up.
    let p = lenient("parsedmarc/mail.ru.json");
    let pol = &p.value.policies[0];
    assert_eq!(pol.summary.total_failure_session_count, 1);
    assert_eq!(pol.failure_details.len(), 2);
    assert_eq!(
        pol.failure_details[0].failure_reason_code.as_deref(),
        Some("bad https response code: 404")
    );
    assert!(codes(&p).contains(&"failure-count-mismatch"));
    assert!(codes(&p).contains(&"policy-string-missing"));
    assert_eq!(p.value.date_range.end.to_string(), "2024-02-23T00:00:00Z");

    let p = lenient("parsedmarc/smtp_tls.json");
    let pol = &p.value.policies[0];
    assert_eq!(pol.failure_details.len(), 2);
    assert!(
        pol.failure_details
            .iter()
            .all(|d| d.result_type == ResultType::ValidationFailure)
    );
}
