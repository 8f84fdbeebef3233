//! Operator summaries over the corpus.

use std::collections::BTreeMap;

use tlsrpt_core::Report;
use tlsrpt_core::summary::{Aggregator, MxHostStats, OTHER, ReportCounts, SessionCounts, UNKNOWN};

use crate::alert::{corpus, detail, report, sts};

fn counts(ok: u64, failed: u64) -> SessionCounts {
    SessionCounts {
        successful_sessions: ok,
        failed_sessions: failed,
    }
}

fn rc(reports: u64, ok: u64, failed: u64) -> ReportCounts {
    ReportCounts {
        reports,
        successful_sessions: ok,
        failed_sessions: failed,
    }
}

fn mx(failed: u64, types: &[(&str, u64)]) -> MxHostStats {
    MxHostStats {
        failed_sessions: failed,
        by_result_type: types.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect(),
    }
}

fn map<V: Clone>(items: &[(&str, V)]) -> BTreeMap<String, V> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn corpus_totals_groupings_and_duplicates() {
    let mut agg = Aggregator::new();
    for rel in crate::CORPUS {
        agg.add(&corpus(rel), rel);
    }
    let s = agg.summary();
    // rpt01.json, dmarc-report-viewer/rfc-example.json,
    // parsedmarc/rfc8460.json and the corrected RFC example all carry
    // Company-X / 5065427c-23d3-47ca-b6e0-946ea0e8c4be: one report.
    assert_eq!(s.reports, 10);
    assert_eq!(s.duplicates, 3);
    assert_eq!(s.duplicate_reports.len(), 1);
    let d = &s.duplicate_reports[0];
    assert_eq!(
        (d.organization_name.as_str(), d.report_id.as_str()),
        ("Company-X", "5065427c-23d3-47ca-b6e0-946ea0e8c4be")
    );
    assert_eq!(
        d.sources,
        [
            "mail-auth/rpt01.json",
            "dmarc-report-viewer/rfc-example.json",
            "parsedmarc/rfc8460.json",
            "rfc/rfc8460-appendix-b-report.corrected.json"
        ]
    );
    assert_eq!(s.successful_sessions, 5358);
    assert_eq!(s.failed_sessions, 311);
    assert_eq!(
        s.by_result_type,
        map(&[
            ("certificate-expired", 100),
            ("certificate-host-mismatch", 1),
            ("starttls-not-supported", 200),
            ("sts-policy-fetch-error", 5),
            ("validation-failure", 6),
        ])
    );
    assert_eq!(
        s.by_policy_domain,
        map(&[
            (UNKNOWN, counts(2, 0)),
            ("company-y.example", counts(5326, 303)),
            ("example.com", counts(23, 5)),
            ("foo-bar.io", counts(2, 0)),
            ("random.net", counts(4, 0)),
            ("server.com", counts(1, 0)),
            ("xxxxxxxx.xx", counts(0, 3)),
        ])
    );
    assert_eq!(
        s.by_mx_host,
        map(&[
            (UNKNOWN, mx(5, &[("sts-policy-fetch-error", 5)])),
            (
                "demo.example.com",
                mx(1, &[("certificate-host-mismatch", 1)])
            ),
            ("example.com", mx(3, &[("validation-failure", 3)])),
            (
                "mx-backup.mail.company-y.example",
                mx(3, &[("validation-failure", 3)])
            ),
            (
                "mx1.mail.company-y.example",
                mx(100, &[("certificate-expired", 100)])
            ),
            (
                "mx2.mail.company-y.example",
                mx(200, &[("starttls-not-supported", 200)])
            ),
        ])
    );
    assert_eq!(
        s.by_organization,
        map(&[
            ("Company-X", rc(1, 5326, 303)),
            ("Example Inc.", rc(1, 0, 3)),
            ("Google Inc.", rc(4, 27, 1)),
            ("Mail.ru", rc(1, 0, 1)),
            ("Microsoft Corporation", rc(2, 4, 3)),
            ("server.com", rc(1, 1, 0)),
        ])
    );
    assert_eq!(
        s.by_day,
        map(&[
            ("2016-04-01", rc(1, 5326, 303)),
            ("2019-04-14", rc(1, 2, 0)),
            ("2020-01-01", rc(1, 23, 1)),
            ("2024-01-09", rc(1, 0, 3)),
            ("2024-02-22", rc(1, 0, 1)),
            ("2025-03-27", rc(1, 1, 0)),
            ("2025-05-22", rc(1, 1, 0)),
            ("2025-05-23", rc(1, 4, 0)),
            ("2025-06-14", rc(1, 0, 3)),
            ("2026-01-11", rc(1, 1, 0)),
        ])
    );
    // Alerts: one per class/domain/MX, not doubled by the duplicates.
    let alerts: Vec<(&str, Option<&str>, u64)> = s
        .alerts
        .iter()
        .map(|f| {
            (
                f.code.as_str(),
                f.where_.mx_host.as_deref(),
                f.where_.sessions_affected,
            )
        })
        .collect();
    assert_eq!(
        alerts,
        [
            (
                "starttls-not-supported",
                Some("mx2.mail.company-y.example"),
                200
            ),
            (
                "certificate-expired",
                Some("mx1.mail.company-y.example"),
                100
            ),
            ("sts-policy-fetch-error", None, 3),
            ("sts-policy-fetch-error", None, 2),
            ("certificate-host-mismatch", Some("demo.example.com"), 1),
            // Ties: by code, then policy domain (company-y.example first).
            (
                "validation-failure",
                Some("mx-backup.mail.company-y.example"),
                3
            ),
            ("validation-failure", Some("example.com"), 3),
        ]
    );
}

#[test]
fn same_report_as_json_and_by_mail_is_counted_once() {
    let r = corpus("mail-auth/rpt01.json");
    let mut agg = Aggregator::new();
    assert!(agg.add(&r, "rpt01.json"));
    assert!(!agg.add(&r, "rpt01.eml"));
    let s = agg.into_summary();
    assert_eq!((s.reports, s.duplicates), (1, 1));
    assert_eq!((s.successful_sessions, s.failed_sessions), (5326, 303));
    assert_eq!(s.duplicate_reports[0].sources, ["rpt01.json", "rpt01.eml"]);
    assert_eq!(s.by_organization["Company-X"].reports, 1);
    assert_eq!(s.by_result_type["certificate-expired"], 100);
    assert_eq!(s.alerts.len(), 3);
    // Same report-id from another organisation is another report.
    let mut other = r.clone();
    other.organization_name = "Company-Z".into();
    let mut agg = Aggregator::new();
    agg.add(&r, "a");
    assert!(agg.add(&other, "b"));
    assert_eq!(agg.summary().reports, 2);
}

#[test]
fn rfc_example_by_result_type() {
    let mut agg = Aggregator::new();
    agg.add(
        &corpus("rfc/rfc8460-appendix-b-report.corrected.json"),
        "rfc",
    );
    let s = agg.summary();
    assert_eq!(
        s.by_result_type,
        map(&[
            ("certificate-expired", 100),
            ("starttls-not-supported", 200),
            ("validation-failure", 3),
        ])
    );
    assert_eq!((s.successful_sessions, s.failed_sessions), (5326, 303));
}

/// RPT-JSON-16: failure details may add up to more than the summary.
#[test]
fn rpt_json_16_details_may_exceed_summary_failures() {
    let mut agg = Aggregator::new();
    agg.add(&corpus("parsedmarc/mail.ru.json"), "mail.ru");
    let s = agg.summary();
    assert_eq!(s.failed_sessions, 1);
    assert_eq!(s.by_result_type["sts-policy-fetch-error"], 2);
    assert_eq!(s.by_mx_host[UNKNOWN].failed_sessions, 2);
}

/// RPT-JSON-17: an sts and a tlsa policy for the same domain add up.
#[test]
fn rpt_json_17_policies_for_the_same_domain_add_up() {
    let mut agg = Aggregator::new();
    agg.add(&corpus("dmarc-report-viewer/microsoft.json"), "ms");
    let s = agg.summary();
    assert_eq!(s.by_policy_domain.len(), 1);
    assert_eq!(s.by_policy_domain["random.net"], counts(4, 0));
}

/// RPT-GEN-06: the day comes from the JSON dates, not from the file name.
#[test]
fn rpt_gen_06_by_day_uses_json_dates_not_file_name() {
    let r = report(
        "Org",
        "1",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            4,
            0,
            &[],
        )],
    );
    let mut agg = Aggregator::new();
    agg.add(&r, "org!example.com!1735689600!1735775999.json");
    let s = agg.summary();
    assert_eq!(s.by_day.keys().collect::<Vec<_>>(), ["2024-03-01"]);
}

#[test]
fn grouping_is_case_insensitive_and_counts_saturate() {
    let a = report(
        "Org",
        "1",
        "2024-03-01",
        &[sts(
            "Example.COM.",
            "testing",
            &["mx.example.com"],
            1,
            1,
            &[detail(
                "starttls-not-supported",
                Some("MX.Example.com."),
                1,
                None,
            )],
        )],
    );
    let mut b = report(
        "Org",
        "2",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            1,
            1,
            &[detail(
                "starttls-not-supported",
                Some("mx.example.com"),
                1,
                None,
            )],
        )],
    );
    b.policies[0].summary.total_successful_session_count = u64::MAX;
    b.policies[0].failure_details[0].failed_session_count = u64::MAX;
    let mut agg = Aggregator::new();
    agg.add(&a, "a");
    agg.add(&b, "b");
    let s = agg.summary();
    assert_eq!(
        s.by_policy_domain.keys().collect::<Vec<_>>(),
        ["example.com"]
    );
    assert_eq!(s.by_mx_host.keys().collect::<Vec<_>>(), ["mx.example.com"]);
    assert_eq!(s.successful_sessions, u64::MAX);
    assert_eq!(
        s.by_policy_domain["example.com"].successful_sessions,
        u64::MAX
    );
    assert_eq!(s.by_result_type["starttls-not-supported"], u64::MAX);
    assert_eq!(s.alerts[0].where_.sessions_affected, u64::MAX);
    assert_eq!(s.failed_sessions, 2);
}

#[test]
fn summary_serialises_with_every_section() {
    let mut agg = Aggregator::new();
    agg.add(&corpus("mail-auth/rpt01.json"), "a");
    agg.add(&corpus("mail-auth/rpt01.json"), "b");
    let v = serde_json::to_value(agg.summary()).unwrap();
    for k in [
        "reports",
        "duplicates",
        "duplicate_reports",
        "successful_sessions",
        "failed_sessions",
        "by_result_type",
        "by_policy_domain",
        "by_mx_host",
        "by_organization",
        "by_day",
        "alerts",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
    assert_eq!(v["reports"], 1);
    assert_eq!(
        v["by_policy_domain"]["company-y.example"]["failed_sessions"],
        303
    );
    assert_eq!(
        v["by_mx_host"]["mx2.mail.company-y.example"]["by_result_type"]["starttls-not-supported"],
        200
    );
    assert_eq!(v["by_day"]["2016-04-01"]["reports"], 1);
    assert_eq!(v["duplicate_reports"][0]["sources"][1], "b");
    assert_eq!(v["alerts"][0]["where"]["sessions_affected"], 200);
}

#[test]
fn render_text_aligned_and_sorted_by_failures() {
    let mut agg = Aggregator::new();
    for rel in crate::CORPUS {
        agg.add(&corpus(rel), rel);
    }
    let text = agg.summary().render_text();
    assert!(text.starts_with(
        "TLS-RPT summary: 10 report(s), 3 duplicate(s) ignored, 5358 successful session(s), 311 failed session(s)\n"
    ));
    let section = |title: &str| -> Vec<String> {
        text.split(&format!("\n{title}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("{title}"))
            .split("\n\n")
            .next()
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let mx = section("Failures by receiving MX host");
    assert_eq!(
        mx[0],
        "MX host                           Failed  Result types"
    );
    let names: Vec<&str> = mx[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "mx2.mail.company-y.example",
            "mx1.mail.company-y.example",
            UNKNOWN,
            "example.com",
            "mx-backup.mail.company-y.example",
            "demo.example.com"
        ]
    );
    assert_eq!(
        mx[1],
        "mx2.mail.company-y.example           200  starttls-not-supported 200"
    );
    assert_eq!(
        mx[6],
        "demo.example.com                       1  certificate-host-mismatch 1"
    );
    let domains = section("By policy domain");
    assert_eq!(domains[0], "Policy domain      Successful  Failed");
    assert_eq!(domains[1], "company-y.example        5326     303");
    assert_eq!(domains[2], "example.com                23       5");
    assert_eq!(domains[3], "xxxxxxxx.xx                 0       3");
    // Zero failures: by name.
    assert_eq!(domains[4], "(unknown)                   2       0");
    // Right-aligned numbers end in the same column as their header.
    let orgs = section("By reporting organisation");
    let width = orgs[0].len();
    assert!(orgs.iter().all(|l| l.len() == width), "{orgs:#?}");
    let days = section("By day (UTC)");
    assert_eq!(days[1], "2016-04-01        1        5326     303");
    assert!(text.contains("Duplicate reports (counted once)"));
    let alerts = section("Alerts");
    assert!(
        alerts[1].starts_with("error     starttls-not-supported"),
        "{}",
        alerts[1]
    );
}

/// The text summary of one report whose organisation is `name`.
fn text_with_organization(name: &str) -> String {
    let mut r: Report<'static> = report(
        "Org",
        "1",
        "2024-03-01",
        &[sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            1,
            0,
            &[],
        )],
    );
    r.organization_name = name.to_owned().into();
    let mut agg = Aggregator::new();
    agg.add(&r, "x");
    agg.summary().render_text()
}

#[test]
fn render_text_escapes_control_characters() {
    let text = text_with_organization("Evil\u{1b}[2J");
    assert!(!text.contains('\u{1b}'));
    assert!(text.contains("Evil\\u{1b}[2J"));
}

/// Issue 15 item 7: bidi overrides, the Unicode line separator and C1
/// controls are escaped too (the shared `mta_sts_core::display` rules),
/// and a line break in a value cannot add a line.
#[test]
fn render_text_escapes_bidi_overrides_and_c1() {
    let text = text_with_organization("moc.\u{202e}elpmaxe\u{2028}x\u{9b}31m\nFAKE LINE");
    for c in ['\u{202e}', '\u{2028}', '\u{9b}'] {
        assert!(!text.contains(c), "{c:?}");
    }
    assert!(text.contains("moc.\\u{202e}elpmaxe\\u{2028}x\\u{9b}31m\\nFAKE LINE"));
    assert!(!text.lines().any(|l| l.starts_with("FAKE LINE")));
}

/// Issue 15 item 4: distinct MX host names (and the other groupings) do
/// not grow the summary without bound: past the limit they are counted
/// under `(other)`, with a warning, and the totals stay exact.
#[test]
fn groupings_are_bounded_and_fold_into_other() {
    let details: Vec<String> = (0..10)
        .map(|i| {
            detail(
                "certificate-expired",
                Some(&format!("mx{i}.example.com")),
                2,
                None,
            )
        })
        .collect();
    let mut agg = Aggregator::with_max_groups(3);
    assert_eq!(agg.max_groups(), 3);
    for (k, day) in ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
        .iter()
        .enumerate()
    {
        let pol = sts(
            &format!("d{k}.example.com"),
            "enforce",
            &["*.example.com"],
            5,
            20,
            &details,
        );
        assert!(agg.add(&report(&format!("org{k}"), "r", day, &[pol]), "src"));
    }
    let s = agg.summary();
    assert_eq!(
        (s.reports, s.successful_sessions, s.failed_sessions),
        (4, 20, 80)
    );
    // 3 hosts kept exactly, the 7 others under (other): 4 reports x 7.
    assert_eq!(s.by_mx_host.len(), 4);
    assert_eq!(s.by_mx_host["mx0.example.com"].failed_sessions, 8);
    assert_eq!(s.by_mx_host[OTHER].failed_sessions, 4 * 7 * 2);
    let sum: u64 = s.by_mx_host.values().map(|m| m.failed_sessions).sum();
    assert_eq!(sum, 80);
    assert_eq!(s.folded["by_mx_host"], 28);
    // Four days, organisations and domains with room for three.
    assert_eq!(s.by_day[OTHER], rc(1, 5, 20));
    assert_eq!(s.folded["by_day"], 1);
    assert_eq!(s.folded["by_organization"], 1);
    assert_eq!(s.by_policy_domain[OTHER], counts(5, 20));
    assert_eq!(s.folded["by_policy_domain"], 1);
    assert!(!s.folded.contains_key("by_result_type"));
    // Alerts: 3 groups kept, the rest in one folded group per code.
    assert_eq!(s.alerts.len(), 4, "{:#?}", s.alerts);
    assert_eq!(s.folded["alerts"], 4 * 10 - 3);
    let text = s.render_text();
    assert!(
        text.contains(
            "warning: by_mx_host reached its limit of distinct keys; 28 addition(s) counted under (other)"
        ),
        "{text}"
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["folded"]["by_mx_host"], 28);
    // Nothing folded: no `folded` member at all.
    let mut small = Aggregator::new();
    small.add(
        &report(
            "o",
            "r",
            "2024-01-01",
            &[sts("a.example", "enforce", &["mx.a.example"], 1, 0, &[])],
        ),
        "s",
    );
    assert!(
        serde_json::to_value(small.summary())
            .unwrap()
            .get("folded")
            .is_none()
    );
}

/// The nested and listed values are bounded too: result types per MX host
/// (`MAX_RESULT_TYPES_PER_HOST`) and the organisations an alert lists
/// (`MAX_LISTED`).
#[test]
fn result_types_per_host_and_alert_lists_are_bounded() {
    use tlsrpt_core::alert::MAX_LISTED;
    use tlsrpt_core::summary::MAX_RESULT_TYPES_PER_HOST;
    let details: Vec<String> = (0..100)
        .map(|i| {
            detail(
                &format!("x-unregistered-{i}"),
                Some("mx.example.com"),
                1,
                None,
            )
        })
        .collect();
    let mut agg = Aggregator::new();
    for k in 0..60 {
        let pol = sts(
            "example.com",
            "enforce",
            &["mx.example.com"],
            0,
            100,
            &details,
        );
        agg.add(&report(&format!("org{k}"), "r", "2024-01-01", &[pol]), "s");
    }
    let s = agg.summary();
    let host = &s.by_mx_host["mx.example.com"];
    assert_eq!(host.by_result_type.len(), MAX_RESULT_TYPES_PER_HOST + 1);
    assert_eq!(
        host.by_result_type[OTHER],
        60 * (100 - MAX_RESULT_TYPES_PER_HOST as u64)
    );
    assert_eq!(host.failed_sessions, 6000);
    assert_eq!(s.folded["by_mx_host.by_result_type"], 60 * 36);
    assert!(
        s.alerts
            .iter()
            .all(|a| a.where_.sending_organizations.len() <= MAX_LISTED)
    );
    assert_eq!(s.alerts[0].where_.sending_organizations.len(), MAX_LISTED);
}

/// A week of reports for two domains: example.com every day with one
/// certificate-expired failure on the 3rd, example.net on two days only.
fn week() -> Vec<Report<'static>> {
    let mut out = Vec::new();
    for d in 1..=7 {
        let day = format!("2024-03-0{d}");
        let details = if d == 3 {
            vec![detail(
                "certificate-expired",
                Some("mx.example.com"),
                2,
                None,
            )]
        } else {
            vec![]
        };
        let mut policies = vec![sts(
            "example.com",
            "testing",
            &["mx.example.com"],
            10,
            details.len() as u64 * 2,
            &details,
        )];
        if d == 2 || d == 6 {
            policies.push(sts(
                "example.net",
                "testing",
                &["mx.example.net"],
                5,
                0,
                &[],
            ));
        }
        out.push(report("Org", &day, &day, &policies));
    }
    out
}

/// `--since`/`--until` by the report's start day (inclusive) and
/// `--domain` narrow what is counted; what is left out is counted.
#[test]
fn filter_narrows_days_and_domains() {
    use tlsrpt_core::summary::Filter;
    use tlsrpt_core::time::canonical_day;
    let day = |s: &str| canonical_day(s.as_bytes().try_into().unwrap()).unwrap();
    let f = Filter::new()
        .since(day("2024-03-02"))
        .until(day("2024-03-06"))
        .policy_domain("EXAMPLE.NET.");
    assert_eq!(f.policy_domains, ["example.net"]);
    let mut agg = Aggregator::new().filter(f);
    let mut counted = 0;
    for r in week() {
        counted += usize::from(agg.add(&r, "x"));
    }
    assert_eq!(counted, 2);
    let s = agg.summary();
    assert_eq!((s.reports, s.left_out), (2, 5));
    assert_eq!((s.successful_sessions, s.failed_sessions), (10, 0));
    assert_eq!(s.by_policy_domain, map(&[("example.net", counts(10, 0))]));
    assert_eq!(
        s.by_day.keys().collect::<Vec<_>>(),
        ["2024-03-02", "2024-03-06"]
    );
    assert!(s.alerts.is_empty());
    // Days only: the whole report, every policy.
    let mut agg = Aggregator::new().filter(Filter::new().until(day("2024-03-03")));
    for r in week() {
        agg.add(&r, "x");
    }
    let s = agg.summary();
    assert_eq!((s.reports, s.left_out), (3, 4));
    assert_eq!(s.by_result_type, map(&[("certificate-expired", 2)]));
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["left_out"], 4);
    // No filter: nothing left out.
    assert!(Filter::new().is_empty());
    let mut agg = Aggregator::new();
    week().iter().for_each(|r| {
        agg.add(r, "x");
    });
    assert_eq!(agg.summary().left_out, 0);
}

/// The summary judges every domain's readiness over the window ending
/// with the last day reported (or the day given), in JSON and text.
#[test]
fn summary_carries_readiness_per_domain() {
    let mut agg = Aggregator::new().readiness_window(7, None);
    for r in week() {
        agg.add(&r, "x");
    }
    let s = agg.summary();
    let v: Vec<(&str, bool, u32, u64)> = s
        .readiness
        .iter()
        .map(|r| {
            (
                r.policy_domain.as_str(),
                r.ready,
                r.days_covered,
                r.failures_attributable,
            )
        })
        .collect();
    assert_eq!(
        v,
        [("example.com", false, 7, 2), ("example.net", false, 2, 0)]
    );
    // Each domain over the days up to its own last report.
    assert_eq!(s.readiness[0].window_start, "2024-03-01");
    assert_eq!(s.readiness[0].window_end, "2024-03-07");
    assert_eq!(s.readiness[1].window_start, "2024-02-29");
    assert_eq!(s.readiness[1].window_end, "2024-03-06");
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["readiness"][0]["policy_domain"], "example.com");
    assert_eq!(json["readiness"][0]["ready"], false);
    assert_eq!(json["readiness"][1]["days_covered"], 2);
    // A window after the failure: example.com is ready.
    let end = s.readiness[0].days_required; // 7
    assert_eq!(end, 7);
    let mut agg =
        Aggregator::new().readiness_window(3, Some(tlsrpt_core::time::days_from_civil(2024, 3, 7)));
    for r in week() {
        agg.add(&r, "x");
    }
    let s = agg.summary();
    assert!(s.readiness[0].ready, "{:?}", s.readiness[0].blocking);
    assert_eq!(s.readiness[0].window_start, "2024-03-05");
    let text = s.render_text();
    assert!(
        text.contains(
            "\nEnforce readiness (testing -> enforce)\n\
             Policy domain  Verdict    Window (UTC)              Days covered  Blocking failures\n\
             example.com    ready      2024-03-05 to 2024-03-07           3/3                  0\n\
             example.net    not ready  2024-03-05 to 2024-03-07           1/3                  0\n\
             \x20 example.net: only 1 of the last 3 UTC days have reports with successful sessions for example.net; missing: 2024-03-05, 2024-03-07\n"
        ),
        "{text}"
    );
    // No report, no verdict.
    assert!(Aggregator::new().summary().readiness.is_empty());
}

/// The text shows what to do about each alert, and `top` limits every
/// table (the most recent days of the table by day).
#[test]
fn render_text_with_remediation_and_top() {
    use tlsrpt_core::summary::TextOptions;
    let mut agg = Aggregator::new();
    for r in week() {
        agg.add(&r, "x");
    }
    let s = agg.summary();
    let text = s.render_text();
    let what = text.split("\nWhat to do\n").nth(1).expect(&text);
    assert!(
        what.starts_with(
            "[error] Expired TLS certificate on mx.example.com\n  - Renew the certificate"
        ),
        "{what}"
    );
    assert!(
        what.contains("  - Verify: `openssl s_client -starttls smtp -connect mx.example.com:25 -servername mx.example.com </dev/null | openssl x509 -noout -enddate`, or `mtasts cert check --mx mx.example.com cert.pem` on the certificate file (PEM) the server serves.\n"),
        "{what}"
    );
    let top = s.render_text_with(&TextOptions::new().top(1));
    let days = top.split("\nBy day (UTC)\n").nth(1).unwrap();
    assert!(
        days.starts_with(
            "Day         Reports  Successful  Failed\n\
             2024-03-07        1          10       0\n\
             (6 more not shown)\n"
        ),
        "{days}"
    );
    let domains = top.split("\nBy policy domain\n").nth(1).unwrap();
    assert!(
        domains.starts_with(
            "Policy domain  Successful  Failed\n\
             example.com            70       2\n\
             (1 more not shown)\n"
        ),
        "{domains}"
    );
    let ready = top.split("\nEnforce readiness (").nth(1).unwrap();
    assert!(ready.contains("\n(1 more not shown)\n"), "{ready}");
    assert!(!ready.contains("example.net"), "{ready}");
    assert_eq!(s.render_text(), s.render_text_with(&TextOptions::new()));
}

/// Parts of the week's reports, one per day (serialized and read back),
/// merged in any order: the same summary as one aggregator, given the
/// report counts. The alert lists keep the smallest values, whatever the
/// order the reports come in.
#[test]
fn parts_merge_to_the_aggregators_summary() {
    use tlsrpt_core::summary::{PART_VERSION, PartError, ReportTotals, SummaryPart};
    let reports = week();
    let mut agg = Aggregator::new();
    let mut parts = Vec::new();
    let mut totals = ReportTotals::default();
    for (i, r) in reports.iter().enumerate() {
        assert!(agg.add(r, &format!("r{i}")));
        let mut p = SummaryPart::new();
        p.add(r);
        parts.push(SummaryPart::from_json(&p.to_json()).unwrap());
        totals.reports += 1;
        *totals
            .by_organization
            .entry(r.organization_name.to_string())
            .or_default() += 1;
        *totals
            .by_day
            .entry(r.date_range.start.date_string())
            .or_default() += 1;
    }
    let want = agg.summary();
    for order in [false, true] {
        let mut merged = SummaryPart::new();
        let mut list: Vec<&SummaryPart> = parts.iter().collect();
        if order {
            list.reverse();
        }
        for p in list {
            merged.merge(p);
        }
        assert_eq!(merged.summary(totals.clone(), 14, None), want);
    }
    // Another version, or no part at all, is refused.
    assert!(matches!(
        SummaryPart::from_json(&format!(r#"{{"v":{}}}"#, PART_VERSION + 1)),
        Err(PartError::Version { .. })
    ));
    assert!(matches!(
        SummaryPart::from_json("[]"),
        Err(PartError::Json(_))
    ));

    // 60 organisations in one alert, added forwards and backwards: the
    // same 50 listed, the smallest.
    let pol = sts(
        "example.com",
        "enforce",
        &["mx.example.com"],
        0,
        1,
        &[detail(
            "certificate-expired",
            Some("mx.example.com"),
            1,
            None,
        )],
    );
    let many: Vec<Report<'static>> = (0..60)
        .map(|k| {
            report(
                &format!("org{k:02}"),
                "r",
                "2024-01-01",
                std::slice::from_ref(&pol),
            )
        })
        .collect();
    let lists = |rs: &mut dyn Iterator<Item = &Report<'static>>| {
        let mut a = Aggregator::new();
        for r in rs {
            a.add(r, "s");
        }
        a.summary().alerts[0].where_.sending_organizations.clone()
    };
    let forwards = lists(&mut many.iter());
    assert_eq!(forwards, lists(&mut many.iter().rev()));
    assert_eq!(forwards.len(), tlsrpt_core::alert::MAX_LISTED);
    assert_eq!(forwards.last().map(String::as_str), Some("org49"));
}
