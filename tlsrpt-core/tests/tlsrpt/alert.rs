//! Alerts with remediation and the enforce-readiness verdict.

use tlsrpt_core::Report;
use tlsrpt_core::alert::{Alert, Alerts, Severity, blocks_enforce, enforce_readiness, findings};
use tlsrpt_core::time::Timestamp;
use tlsrpt_core::{ResultType, time::days_from_civil};

use crate::data;

/// Read a corpus file with the lenient reader.
pub(crate) fn corpus(rel: &str) -> Report<'static> {
    Report::parse_lenient(&data(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .value
        .into_owned()
}

/// A report of `org`/`id` for the UTC day `day` (`YYYY-MM-DD`) with the
/// given `policies` JSON array elements.
pub(crate) fn report(org: &str, id: &str, day: &str, policies: &[String]) -> Report<'static> {
    let json = format!(
        r#"{{"organization-name":"{org}","date-range":{{"start-datetime":"{day}T00:00:00Z","end-datetime":"{day}T23:59:59Z"}},"contact-info":"tlsrpt@{org}.example","report-id":"{id}","policies":[{}]}}"#,
        policies.join(",")
    );
    Report::parse_lenient(json.as_bytes())
        .unwrap_or_else(|e| panic!("{json}: {e}"))
        .value
        .into_owned()
}

/// An `sts` policy element for `domain` in `mode` with `mx` patterns.
pub(crate) fn sts(
    domain: &str,
    mode: &str,
    mx: &[&str],
    ok: u64,
    failed: u64,
    details: &[String],
) -> String {
    let mut strings = vec!["\"version: STSv1\"".to_owned(), format!("\"mode: {mode}\"")];
    strings.extend(mx.iter().map(|m| format!("\"mx: {m}\"")));
    strings.push("\"max_age: 86400\"".to_owned());
    let hosts: Vec<String> = mx.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        r#"{{"policy":{{"policy-type":"sts","policy-string":[{}],"policy-domain":"{domain}","mx-host":[{}]}},"summary":{{"total-successful-session-count":{ok},"total-failure-session-count":{failed}}},"failure-details":[{}]}}"#,
        strings.join(","),
        hosts.join(","),
        details.join(",")
    )
}

/// A failure detail.
pub(crate) fn detail(rt: &str, mx: Option<&str>, n: u64, reason: Option<&str>) -> String {
    let mut s = format!(r#"{{"result-type":"{rt}","sending-mta-ip":"192.0.2.1""#);
    if let Some(m) = mx {
        s.push_str(&format!(
            r#","receiving-mx-hostname":"{m}","receiving-ip":"198.51.100.7""#
        ));
    }
    s.push_str(&format!(r#","failed-session-count":{n}"#));
    if let Some(r) = reason {
        s.push_str(&format!(r#","failure-reason-code":"{r}""#));
    }
    s.push('}');
    s
}

fn day_number(day: &str) -> i64 {
    let (t, _) = Timestamp::parse_rfc3339(&format!("{day}T00:00:00Z"), false).unwrap();
    t.day()
}

fn find<'f>(f: &'f [Alert], code: &str) -> &'f Alert {
    f.iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} in {f:#?}"))
}

#[test]
fn rfc_example_findings_per_class_mx_and_sessions() {
    let r = corpus("rfc/rfc8460-appendix-b-report.corrected.json");
    let f = findings([&r]);
    let got: Vec<(&str, Severity, Option<&str>, u64)> = f
        .iter()
        .map(|f| {
            (
                f.code.as_str(),
                f.severity,
                f.where_.mx_host.as_deref(),
                f.where_.sessions_affected,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "starttls-not-supported",
                Severity::Error,
                Some("mx2.mail.company-y.example"),
                200
            ),
            (
                "certificate-expired",
                Severity::Error,
                Some("mx1.mail.company-y.example"),
                100
            ),
            (
                "validation-failure",
                Severity::Warning,
                Some("mx-backup.mail.company-y.example"),
                3
            ),
        ]
    );
    for x in &f {
        assert_eq!(x.where_.policy_domain.as_deref(), Some("company-y.example"));
        assert_eq!(x.where_.sending_organizations, ["Company-X"]);
        assert_eq!(x.where_.policy_types, ["sts"]);
        assert!(
            x.what_happened.contains("policy mode: testing"),
            "{}",
            x.what_happened
        );
    }
    let st = find(&f, "starttls-not-supported");
    assert_eq!(st.where_.receiving_ips, ["203.0.113.56"]);
    assert!(
        st.remediation
            .iter()
            .any(|s| s.contains("Enable STARTTLS on mx2.mail.company-y.example"))
    );
    let ce = find(&f, "certificate-expired");
    assert!(ce.title.contains("mx1.mail.company-y.example"));
    assert!(
        ce.remediation
            .iter()
            .any(|s| s.contains("certbot") && s.contains("backup MX"))
    );
    let vf = find(&f, "validation-failure");
    assert_eq!(
        vf.failure_reason_codes,
        ["X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"]
    );
    assert!(
        vf.remediation
            .iter()
            .any(|s| s.contains("X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"))
    );
    assert!(
        vf.remediation
            .iter()
            .any(|s| s.contains("X.509 certificate problem"))
    );
}

#[test]
fn same_class_domain_and_mx_aggregate_across_reports() {
    let p = |n| {
        sts(
            "example.com",
            "testing",
            &["*.example.com"],
            5,
            n,
            &[detail(
                "certificate-expired",
                Some("MX1.example.com."),
                n,
                None,
            )],
        )
    };
    let a = report("Alpha", "1", "2024-03-01", &[p(2)]);
    let b = report("Beta", "2", "2024-03-02", &[p(3)]);
    let other_mx = report(
        "Alpha",
        "3",
        "2024-03-02",
        &[sts(
            "example.com",
            "testing",
            &["*.example.com"],
            5,
            1,
            &[detail(
                "certificate-expired",
                Some("mx2.example.com"),
                1,
                None,
            )],
        )],
    );
    let mut alerts = Alerts::new();
    for r in [&a, &b, &other_mx] {
        alerts.add(r);
    }
    let f = alerts.findings();
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].where_.mx_host.as_deref(), Some("mx1.example.com"));
    assert_eq!(f[0].where_.sessions_affected, 5);
    assert_eq!(f[0].where_.sending_organizations, ["Alpha", "Beta"]);
    assert_eq!(f[1].where_.mx_host.as_deref(), Some("mx2.example.com"));
    assert_eq!(f[1].where_.sessions_affected, 1);
}

/// Every registered result type gets a finding with specific advice.
#[test]
fn rpt_json_18_every_result_type_has_specific_advice() {
    let cases: [(&str, &str, Severity, &str); 12] = [
        (
            "certificate-expired",
            "certificate-expired",
            Severity::Error,
            "Renew the certificate served by mx.example.com",
        ),
        (
            "certificate-host-mismatch",
            "certificate-host-mismatch",
            Severity::Error,
            "exactly one left-most label",
        ),
        (
            "certificate-not-trusted",
            "certificate-not-trusted",
            Severity::Error,
            "intermediate certificates",
        ),
        (
            "starttls-not-supported",
            "starttls-not-supported",
            Severity::Error,
            "Enable STARTTLS",
        ),
        (
            "validation-failure",
            "validation-failure",
            Severity::Warning,
            "failure-reason-code",
        ),
        (
            "sts-policy-fetch-error",
            "sts-policy-fetch-error",
            Severity::Error,
            "https://mta-sts.example.com/.well-known/mta-sts.txt",
        ),
        (
            "sts-policy-invalid",
            "sts-policy-invalid",
            Severity::Error,
            "mtasts policy lint",
        ),
        (
            "sts-webpki-invalid",
            "sts-webpki-invalid",
            Severity::Error,
            "mta-sts.example.com must be valid for exactly that name",
        ),
        (
            "tlsa-invalid",
            "tlsa-invalid",
            Severity::Error,
            "_25._tcp.mx.example.com",
        ),
        (
            "dnssec-invalid",
            "dnssec-invalid",
            Severity::Error,
            "DNSSEC",
        ),
        ("dane-required", "dane-required", Severity::Warning, "TLSA"),
        (
            "brand-new-type",
            "unregistered-result-type",
            Severity::Info,
            "registry",
        ),
    ];
    for (rt, code, sev, needle) in cases {
        let r = report(
            "Org",
            rt,
            "2024-03-01",
            &[sts(
                "example.com",
                "enforce",
                &["mx.example.com"],
                1,
                4,
                &[detail(rt, Some("mx.example.com"), 4, None)],
            )],
        );
        let f = findings([&r]);
        assert_eq!(f.len(), 1, "{rt}");
        let f = &f[0];
        assert_eq!((f.code.as_str(), f.severity), (code, sev), "{rt}");
        assert_eq!(f.result_type, rt);
        assert_eq!(f.where_.sessions_affected, 4);
        assert_eq!(f.where_.mx_host.as_deref(), Some("mx.example.com"));
        assert_eq!(f.where_.receiving_ips, ["198.51.100.7"]);
        assert!(!f.meaning.is_empty() && !f.title.is_empty());
        let all = f.remediation.join("\n");
        assert!(all.contains(needle), "{rt}: {all}");
        if code == "unregistered-result-type" {
            assert!(f.title.contains("brand-new-type"));
        }
    }
    assert_eq!(
        ResultType::REGISTERED
            .iter()
            .filter(|r| blocks_enforce(r))
            .count(),
        8
    );
}

#[test]
fn certificate_host_mismatch_names_the_mx_not_the_pattern() {
    let r = corpus("mail-auth/rpt02.json");
    let f = findings([&r]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code, "certificate-host-mismatch");
    assert_eq!(f[0].where_.mx_host.as_deref(), Some("demo.example.com"));
    assert_eq!(f[0].where_.receiving_ips, ["234.234.234.234"]);
    let all = f[0].remediation.join("\n");
    assert!(all.contains("subject alternative names"));
    assert!(all.contains("include the MX host name demo.example.com"));
    assert!(all.contains("`mx` pattern do not count"));
    // demo.example.com is in the policy: no extra policy advice.
    assert!(!all.contains("not matched by the policy"));
}

#[test]
fn validation_failure_mx_not_in_policy_by_reason_code_or_pattern() {
    // Reason code names the mismatch.
    let r = report(
        "Org",
        "1",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            1,
            2,
            &[detail(
                "validation-failure",
                Some("mx.example.com"),
                2,
                Some("mtasts-policy-mx-mismatch"),
            )],
        )],
    );
    let f = findings([&r]);
    assert_eq!(
        (f[0].code.as_str(), f[0].severity),
        ("mx-not-in-policy", Severity::Error)
    );
    assert_eq!(f[0].result_type, "validation-failure");
    // The MX host matches no pattern of the reported policy.
    let r = report(
        "Org",
        "2",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["*.mail.example.com"],
            1,
            2,
            &[detail(
                "validation-failure",
                Some("backup.example.net"),
                2,
                None,
            )],
        )],
    );
    let f = findings([&r]);
    assert_eq!(f[0].code, "mx-not-in-policy");
    let all = f[0].remediation.join("\n");
    assert!(all.contains("mx: backup.example.net"), "{all}");
    assert!(all.contains("*.mail.example.com"));
    assert!(all.contains("fix the MX records"));
    // A wildcard covers one label only.
    let r = report(
        "Org",
        "3",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["*.example.com"],
            1,
            2,
            &[detail(
                "validation-failure",
                Some("a.b.example.com"),
                2,
                None,
            )],
        )],
    );
    assert_eq!(findings([&r])[0].code, "mx-not-in-policy");
    // smtp_tls.json: MX `example.com` is in the policy -> generic.
    let f = findings([&corpus("parsedmarc/smtp_tls.json")]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code, "validation-failure");
    assert_eq!(f[0].where_.sessions_affected, 3);
    assert_eq!(f[0].where_.mx_host.as_deref(), Some("example.com"));
}

#[test]
fn sts_policy_fetch_error_uses_http_status_codes() {
    // mail.ru: two details, 404 and 500, no MX host.
    let f = findings([&corpus("parsedmarc/mail.ru.json")]);
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(f.code, "sts-policy-fetch-error");
    assert_eq!(f.where_.mx_host, None);
    assert_eq!(f.where_.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(f.where_.sessions_affected, 2);
    assert_eq!(f.where_.sending_organizations, ["Mail.ru"]);
    assert_eq!(
        f.failure_reason_codes,
        [
            "bad https response code: 404",
            "bad https response code: 500"
        ]
    );
    let all = f.remediation.join("\n");
    assert!(all.contains("curl -sv https://mta-sts.example.com/.well-known/mta-sts.txt"));
    assert!(all.contains("HTTP 404: the policy file is missing"));
    assert!(all.contains("HTTP 500: the server of mta-sts.example.com failed"));
    assert!(!all.contains("HTTP 3"));

    // Microsoft: no reason code, no MX.
    let f = findings([&corpus("dmarc-report-viewer/no_ip_and_mx.json")]);
    assert_eq!(f[0].code, "sts-policy-fetch-error");
    assert_eq!(f[0].where_.sessions_affected, 3);
    assert!(f[0].remediation[0].contains("https://mta-sts.xxxxxxxx.xx/.well-known/mta-sts.txt"));

    // Redirects and timeouts.
    let r = report(
        "Org",
        "1",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            0,
            2,
            &[
                detail("sts-policy-fetch-error", None, 1, Some("HTTP status 301")),
                detail("sts-policy-fetch-error", None, 1, Some("connect timeout")),
            ],
        )],
    );
    let all = findings([&r])[0].remediation.join("\n");
    assert!(all.contains("HTTP 301: senders do not follow redirects"));
    assert!(all.contains("port 443"));
}

#[test]
fn sts_policy_invalid_html_and_webpki() {
    let r = report(
        "Org",
        "1",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            0,
            1,
            &[detail(
                "sts-policy-invalid",
                None,
                1,
                Some("unexpected content-type text/html"),
            )],
        )],
    );
    let f = &findings([&r])[0];
    let all = f.remediation.join("\n");
    assert!(all.contains("Content-Type: text/plain"));
    assert!(all.contains("mtasts policy lint"));
    assert!(all.contains("new `id` in the `_mta-sts.example.com` TXT record"));

    let r = report(
        "Org",
        "2",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            0,
            1,
            &[detail("sts-webpki-invalid", None, 1, None)],
        )],
    );
    let f = &findings([&r])[0];
    assert_eq!(
        f.title,
        "HTTPS certificate of mta-sts.example.com failed validation"
    );
    assert!(f.remediation[0].contains("publicly trusted CA"));
}

#[test]
fn finding_serialises_with_readable_names() {
    let f = findings([&corpus("rfc/rfc8460-appendix-b-report.corrected.json")]);
    let v = serde_json::to_value(&f[0]).unwrap();
    assert_eq!(v["severity"], "error");
    assert_eq!(v["code"], "starttls-not-supported");
    assert_eq!(v["where"]["mx_host"], "mx2.mail.company-y.example");
    assert_eq!(v["where"]["sessions_affected"], 200);
    assert_eq!(v["where"]["sending_organizations"][0], "Company-X");
    assert!(v["remediation"].is_array());
    for k in [
        "title",
        "what_happened",
        "meaning",
        "failure_reason_codes",
        "result_type",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
}

// ---- enforce readiness ----

fn ok_day(day: &str, id: &str) -> Report<'static> {
    report(
        "Google Inc.",
        id,
        day,
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            10,
            0,
            &[],
        )],
    )
}

#[test]
fn readiness_ready_with_full_coverage_and_no_own_failures() {
    let days = ["2024-03-01", "2024-03-02", "2024-03-03"];
    let mut reports: Vec<Report<'static>> = days.iter().map(|d| ok_day(d, d)).collect();
    // A DANE failure and an unregistered one do not block; another
    // domain's failures do not count; a duplicate is ignored.
    reports.push(report(
        "Microsoft",
        "m1",
        "2024-03-02",
        &[
            sts(
                "EXAMPLE.com.",
                "testing",
                &["mx.example.com"],
                3,
                2,
                &[
                    detail("dane-required", Some("mx.example.com"), 1, None),
                    detail("brand-new-type", Some("mx.example.com"), 1, None),
                ],
            ),
            sts(
                "other.example",
                "testing",
                &["mx.other.example"],
                0,
                9,
                &[detail(
                    "certificate-expired",
                    Some("mx.other.example"),
                    9,
                    None,
                )],
            ),
        ],
    ));
    reports.push(ok_day("2024-03-03", "2024-03-03"));
    let v = enforce_readiness(&reports, "example.com", 3, day_number("2024-03-03"));
    assert!(v.ready, "{:?}", v.blocking);
    assert_eq!(v.policy_domain, "example.com");
    assert_eq!((v.days_covered, v.days_required), (3, 3));
    assert_eq!(v.sessions_seen, 35);
    assert_eq!(v.successful_sessions, 33);
    assert_eq!(v.failures_attributable, 0);
    assert_eq!(v.failures_other, 2);
    assert!(v.blocking.is_empty());
    assert_eq!(v.notes.len(), 3, "{:?}", v.notes);
    assert!(v.notes.iter().any(|n| n.contains("1 duplicate")));
}

#[test]
fn readiness_not_ready_missing_days() {
    let reports = [ok_day("2024-03-01", "a"), ok_day("2024-03-03", "c")];
    let v = enforce_readiness(&reports, "example.com", 3, day_number("2024-03-03"));
    assert!(!v.ready);
    assert_eq!((v.days_covered, v.days_required), (2, 3));
    assert_eq!(v.blocking.len(), 1);
    assert!(
        v.blocking[0].contains("missing: 2024-03-02"),
        "{}",
        v.blocking[0]
    );
    // Reports before the window do not cover it.
    let v = enforce_readiness(&reports, "example.com", 3, day_number("2024-03-10"));
    assert_eq!(v.days_covered, 0);
    assert_eq!(v.sessions_seen, 0);
    // days = 0 is never ready.
    let v = enforce_readiness(&reports, "example.com", 0, day_number("2024-03-03"));
    assert!(!v.ready);
}

#[test]
fn readiness_not_ready_own_failures() {
    let mut reports = vec![ok_day("2024-03-01", "a"), ok_day("2024-03-02", "b")];
    reports.push(report(
        "Org",
        "x",
        "2024-03-02",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            5,
            7,
            &[
                detail("certificate-expired", Some("mx.example.com"), 4, None),
                detail(
                    "sts-policy-fetch-error",
                    None,
                    1,
                    Some("bad https response code: 404"),
                ),
            ],
        )],
    ));
    let v = enforce_readiness(&reports, "example.com", 2, day_number("2024-03-02"));
    assert!(!v.ready);
    assert_eq!(v.days_covered, 2);
    // 4 + 1 from details, 2 counted in the summary without details.
    assert_eq!(v.failures_attributable, 7);
    assert_eq!(v.blocking.len(), 3, "{:?}", v.blocking);
    assert!(
        v.blocking
            .iter()
            .any(|b| b.starts_with("4 failed session(s) with result type certificate-expired"))
    );
    assert!(
        v.blocking
            .iter()
            .any(|b| b.contains("sts-policy-fetch-error"))
    );
    assert!(
        v.blocking
            .iter()
            .any(|b| b.contains("without failure details"))
    );
    // Outside the window, the failure no longer blocks.
    let later = [ok_day("2024-03-03", "c"), ok_day("2024-03-04", "d")];
    let all: Vec<&Report<'_>> = reports.iter().chain(later.iter()).collect();
    let v = enforce_readiness(all, "example.com", 2, day_number("2024-03-04"));
    assert!(v.ready, "{:?}", v.blocking);
}

#[test]
fn readiness_covers_days_from_json_dates() {
    // rpt02: 7-day report (2020-01-01 .. 2020-01-07T23:59:59Z) with a
    // certificate-host-mismatch failure.
    let r = corpus("mail-auth/rpt02.json");
    let v = enforce_readiness([&r], "example.com", 7, day_number("2020-01-07"));
    assert_eq!(v.days_covered, 7);
    assert!(!v.ready);
    assert_eq!(v.failures_attributable, 1);
    assert!(v.notes.iter().any(|n| n.contains("enforce")));
    // A next-day 00:00:00Z end covers one day (mail.ru style).
    let json = br#"{"organization-name":"Mail.ru","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-23T00:00:00Z"},"contact-info":"a@mail.ru","report-id":"x","policies":[{"policy":{"policy-type":"sts","policy-domain":"example.com"},"summary":{"total-successful-session-count":3,"total-failure-session-count":0}}]}"#;
    let r = Report::parse_lenient(json).unwrap().value;
    let d = days_from_civil(2024, 2, 22);
    let v = enforce_readiness([&r], "example.com", 1, d);
    assert!(v.ready, "{:?}", v.blocking);
    let v = enforce_readiness([&r], "example.com", 1, d + 1);
    assert_eq!(v.days_covered, 0);
}

/// The tracker gives the same verdicts as `enforce_readiness`, for every
/// domain at once, and counts a window's missing days from merged ranges
/// (a report covering a whole year is no year of loop iterations).
#[test]
fn readiness_tracker_matches_enforce_readiness() {
    use tlsrpt_core::alert::ReadinessTracker;
    let mut reports = vec![
        ok_day("2024-03-01", "a"),
        ok_day("2024-03-03", "c"),
        ok_day("2024-03-03", "c"),
    ];
    reports.push(report(
        "Org",
        "x",
        "2024-03-02",
        &[sts(
            "other.example",
            "enforce",
            &["mx.other.example"],
            5,
            4,
            &[detail(
                "certificate-expired",
                Some("mx.other.example"),
                4,
                None,
            )],
        )],
    ));
    let mut t = ReadinessTracker::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in &reports {
        if seen.insert((r.organization_name.to_string(), r.report_id.to_string())) {
            t.add(r);
        } else {
            t.add_duplicate(r);
        }
    }
    assert_eq!(t.domains(), ["example.com", "other.example"]);
    assert_eq!(t.last_day(), Some(day_number("2024-03-03")));
    let now = day_number("2024-03-03");
    let verdicts = t.verdicts(3, now);
    for v in &verdicts {
        assert_eq!(
            *v,
            enforce_readiness(&reports, &v.policy_domain, 3, now),
            "{}",
            v.policy_domain
        );
        assert_eq!(
            (v.window_start.as_str(), v.window_end.as_str()),
            ("2024-03-01", "2024-03-03")
        );
    }
    let (a, b) = (&verdicts[0], &verdicts[1]);
    assert_eq!((a.ready, a.days_covered, a.reports), (false, 2, 2));
    assert!(
        a.blocking[0].ends_with("missing: 2024-03-02"),
        "{:?}",
        a.blocking
    );
    assert!(a.notes.iter().any(|n| n == "1 duplicate report(s) ignored"));
    assert_eq!(
        (b.ready, b.days_covered, b.failures_attributable),
        (false, 1, 4)
    );
    assert!(b.notes.iter().any(|n| n.contains("mode: enforce")));

    // A year-long report: 366 days covered, the first 10 missing listed.
    let json = br#"{"organization-name":"Y","date-range":{"start-datetime":"2024-01-01T00:00:00Z","end-datetime":"2024-12-31T23:59:59Z"},"contact-info":"a@y.example","report-id":"y","policies":[{"policy":{"policy-type":"sts","policy-domain":"example.com"},"summary":{"total-successful-session-count":3,"total-failure-session-count":0}}]}"#;
    let year = Report::parse_lenient(json).unwrap().value;
    let end = day_number("2025-01-20");
    let v = enforce_readiness([&year], "example.com", 400, end);
    assert_eq!(v.days_covered, 366);
    assert!(
        v.blocking[0].contains("missing: 2023-12-18, 2023-12-19,"),
        "{:?}",
        v.blocking
    );
    assert!(v.blocking[0].ends_with(", …"), "{:?}", v.blocking);

    // The bound: a tracker of one record judges one range and blocks.
    let mut t = ReadinessTracker::with_max_keys(1);
    t.add(&reports[0]);
    t.add(&reports[1]);
    assert_eq!(t.folded(), 1);
    let v = t.verdict("example.com", 1, day_number("2024-03-01"));
    assert!(!v.ready);
    assert!(
        v.blocking[0].starts_with("1 report(s) were not judged"),
        "{:?}",
        v.blocking
    );
}

// ---- remediation texts ----

/// Every command of this tool quoted in a remediation step is a complete
/// command line in the real syntax (the CLI's tests run each through its
/// argument parser); the known ones are all there.
#[test]
fn all_remediations_quote_real_commands() {
    use tlsrpt_core::alert::{all_remediations, mtasts_commands};
    let steps = all_remediations();
    assert!(steps.len() > 40, "{}", steps.len());
    let mut unique = steps.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), steps.len());
    let mut commands: Vec<&str> = steps.iter().flat_map(|s| mtasts_commands(s)).collect();
    commands.sort_unstable();
    commands.dedup();
    assert_eq!(
        commands,
        [
            "mtasts cert check --mx MX-HOST cert.pem",
            "mtasts cert check --mx mx1.example.com cert.pem",
            "mtasts check DOMAIN",
            "mtasts check example.com",
            "mtasts policy lint mta-sts.txt",
            "mtasts policy match mta-sts.txt MX-HOST",
            "mtasts policy match mta-sts.txt mx1.example.com",
        ]
    );
    for s in &steps {
        assert_eq!(s.matches('`').count() % 2, 0, "unbalanced backticks: {s}");
        assert!(!s.contains("mtasts cert check mx"), "{s}");
        assert!(!s.contains("<cert.pem>"), "{s}");
    }
    // Every refinement is there: HTTP statuses, reason-code hints.
    for needle in [
        "HTTP 404: the policy file is missing",
        "HTTP 301: senders do not follow redirects",
        "HTTP 403: access to the policy is denied",
        "HTTP 500: the server of mta-sts.example.com failed",
        "HTTP 418: the answer must be 200",
        "The reason codes say the certificate is self-signed",
        "The reason codes point at a missing intermediate certificate",
        "The reason codes name an X.509 certificate problem",
        "Connections failed: mta-sts.example.com must accept HTTPS",
        "Name resolution failed",
        "The reason codes point at a web page instead of the policy",
        "Serve the policy with `Content-Type: text/plain` (not text/html).",
        "The reports carry no failure-reason-code",
        "Also: mx1.example.com is not matched by the policy's `mx` patterns",
    ] {
        assert!(
            steps.iter().any(|s| s.contains(needle)),
            "no step with `{needle}`"
        );
    }
}

/// Names from reports that cannot stand as one word of a command line
/// (white space, a backtick, a leading `-`) are replaced by the
/// placeholder in commands, and kept in the prose.
#[test]
fn remediation_commands_never_carry_unsafe_names() {
    use tlsrpt_core::alert::mtasts_commands;
    for (mx, want) in [
        ("mx1.example.com", "mx1.example.com"),
        ("-rf.example.com", "MX-HOST"),
        ("mx `x` y.example.com", "MX-HOST"),
        ("(other)", "MX-HOST"),
    ] {
        let r = report(
            "Org",
            "1",
            "2024-03-01",
            &[sts(
                "example.com",
                "testing",
                &["mx1.example.com"],
                1,
                1,
                &[detail("certificate-expired", Some(mx), 1, None)],
            )],
        );
        let f = &findings([&r])[0];
        let commands: Vec<&str> = f
            .remediation
            .iter()
            .flat_map(|s| mtasts_commands(s))
            .collect();
        assert_eq!(
            commands,
            [format!("mtasts cert check --mx {want} cert.pem")],
            "{mx}"
        );
        assert!(f.remediation[0].contains(mx), "{:?}", f.remediation);
    }
}

/// A reason code naming `x509` is no HTTP status 509.
#[test]
fn http_status_is_a_separate_number() {
    let r = report(
        "Org",
        "1",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx1.example.com"],
            1,
            2,
            &[
                detail("sts-policy-fetch-error", None, 1, Some("x509: bad cert")),
                detail("sts-policy-fetch-error", None, 1, Some("status=503")),
            ],
        )],
    );
    let f = &findings([&r])[0];
    let http: Vec<&String> = f
        .remediation
        .iter()
        .filter(|s| s.starts_with("HTTP "))
        .collect();
    assert_eq!(http.len(), 1, "{:?}", f.remediation);
    assert!(http[0].starts_with("HTTP 503: "), "{http:?}");
}
