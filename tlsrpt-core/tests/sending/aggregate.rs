//! `session`: recording, limits, finishing a day, the JSON form.

use std::collections::HashSet;

use tlsrpt_core::filename::FilenameError;
use tlsrpt_core::session::{
    AggregateError, AggregateLimits, DayAggregate, Failure, MAX_COUNT, MAX_FIELD_LEN,
    MAX_KEY_BYTES, Outcome, PolicyKey, Recorded, ReportMeta, SessionResult, Unreported, UtcDay,
};
use tlsrpt_core::time::Timestamp;
use tlsrpt_core::{PolicyType, ResultType};

use crate::{day, expired, meta, round_trip, sts_key, successes};

#[test]
fn rpt_gen_05_three_ok_two_failed_and_identical_rows_merge() {
    let mut d = DayAggregate::new(day());
    let key = sts_key();
    successes(&mut d, &key, 3);
    let f = expired("mx1.mail.company-y.example", "2001:db8:abcd:13::1");
    assert_eq!(
        d.record(&key, &Outcome::Failure(f.clone())).unwrap(),
        Recorded::Counted
    );
    // The same failure with the host name in another case and a trailing
    // dot is the same row.
    let same = Failure {
        receiving_mx_hostname: Some("MX1.mail.Company-Y.example.".into()),
        ..f.clone()
    };
    d.record(&key, &Outcome::Failure(same)).unwrap();
    let other = expired("mx2.mail.company-y.example", "2001:db8:abcd:13::1");
    d.record_session(&key, SessionResult::Failed, std::slice::from_ref(&other))
        .unwrap();
    assert_eq!(d.totals().successful_sessions, 3);
    assert_eq!(d.totals().failed_sessions, 3);

    let fin = d.finish(&meta()).unwrap();
    assert_eq!(fin.reports.len(), 1);
    let r = &fin.reports[0];
    let p = &r.policies[0];
    assert_eq!(p.summary.total_successful_session_count, 3);
    assert_eq!(p.summary.total_failure_session_count, 3);
    assert_eq!(p.failure_details.len(), 2);
    assert_eq!(
        p.failure_details[0].receiving_mx_hostname.as_deref(),
        Some("mx1.mail.company-y.example")
    );
    assert_eq!(p.failure_details[0].failed_session_count, 2);
    assert_eq!(p.failure_details[1].failed_session_count, 1);
    assert_eq!(
        p.failure_details[0]
            .receiving_ip
            .as_ref()
            .unwrap()
            .to_string(),
        "2001:db8:abcd:12::1"
    );
    assert_eq!(fin.unreported, Unreported::default());
    assert_eq!(fin.folded_failure_details, 0);
    round_trip(r);
}

#[test]
fn rpt_json_16_one_session_several_failure_details() {
    let mut d = DayAggregate::new(day());
    let key = sts_key();
    let a = expired("mx1.mail.company-y.example", "192.0.2.1");
    let b = Failure::new(ResultType::StarttlsNotSupported)
        .receiving_mx_hostname("mx2.mail.company-y.example")
        .sending_mta_ip("192.0.2.1".parse().unwrap());
    d.record_session(&key, SessionResult::Failed, &[a, b])
        .unwrap();
    // A successful session after a failed attempt at another MX.
    let c = Failure::new(ResultType::StarttlsNotSupported)
        .receiving_mx_hostname("mx2.mail.company-y.example")
        .sending_mta_ip("192.0.2.1".parse().unwrap());
    d.record_session(&key, SessionResult::Successful, &[c])
        .unwrap();
    let r = &d.finish(&meta()).unwrap().reports[0];
    let p = &r.policies[0];
    assert_eq!(
        (
            p.summary.total_successful_session_count,
            p.summary.total_failure_session_count
        ),
        (1, 1)
    );
    let counts: Vec<(&str, u64)> = p
        .failure_details
        .iter()
        .map(|f| (f.result_type.as_str(), f.failed_session_count))
        .collect();
    // Rows sort by result type first (the enum's order).
    assert_eq!(
        counts,
        [("starttls-not-supported", 2), ("certificate-expired", 1)]
    );
    round_trip(r);
}

#[test]
fn rpt_gen_01_dec_17_report_shape() {
    let mut d = DayAggregate::new(day());
    successes(&mut d, &sts_key(), 5326);
    let fin = d.finish(&meta()).unwrap();
    let r = &fin.reports[0];
    assert_eq!(r.organization_name, "Company-X");
    assert_eq!(
        r.contact_info.as_deref(),
        Some("sts-reporting@company-x.example")
    );
    assert_eq!(
        r.report_id,
        "2016-04-01.company-y.example.u1@company-x.example"
    );
    assert_eq!(r.date_range.start, Timestamp::from_unix(1_459_468_800));
    assert_eq!(r.date_range.end, Timestamp::from_unix(1_459_555_199));
    // Byte for byte the RFC 8460 4.5 example's policy, in the strict form.
    assert_eq!(
        r.to_json(false),
        r#"{"organization-name":"Company-X","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"sts-reporting@company-x.example","report-id":"2016-04-01.company-y.example.u1@company-x.example","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: *.mail.company-y.example","max_age: 86400"],"policy-domain":"company-y.example","mx-host":["*.mail.company-y.example"]},"summary":{"total-successful-session-count":5326,"total-failure-session-count":0},"failure-details":[]}]}"#
    );
    round_trip(r);
}

#[test]
fn one_report_per_policy_domain_with_all_its_policies_in_order() {
    let mut d = DayAggregate::new(day());
    let sts = PolicyKey::sts(
        "b.example",
        [
            "version: STSv1",
            "mode: enforce",
            "mx: mx.b.example",
            "max_age: 86400",
        ],
        ["mx.b.example"],
    )
    .unwrap();
    let tlsa = PolicyKey::tlsa("b.example", ["3 1 1 0123456789abcdef"], ["mx.b.example"]).unwrap();
    let none_a = PolicyKey::no_policy_found("a.example").unwrap();
    // Recorded in reverse of the expected order.
    d.record(&sts, &Outcome::Success).unwrap();
    d.record(&tlsa, &Outcome::Success).unwrap();
    d.record(&none_a, &Outcome::Success).unwrap();
    let fin = d.finish(&meta()).unwrap();
    let domains: Vec<&str> = fin
        .reports
        .iter()
        .map(|r| r.policies[0].policy.policy_domain.as_deref().unwrap())
        .collect();
    assert_eq!(domains, ["a.example", "b.example"]);
    let types: Vec<&str> = fin.reports[1]
        .policies
        .iter()
        .map(|p| p.policy.policy_type.as_str())
        .collect();
    assert_eq!(types, ["tlsa", "sts"]);
    let ids: HashSet<&str> = fin.reports.iter().map(|r| &*r.report_id).collect();
    assert_eq!(ids.len(), 2);
    for r in &fin.reports {
        round_trip(r);
    }
}

#[test]
fn dec_23_dec_25_mode_none_and_no_policy_are_no_policy_found() {
    let mut d = DayAggregate::new(day());
    let none = PolicyKey::sts(
        "example.net",
        ["version: STSv1", "mode : none ", "max_age: 86400"],
        ["mx.example.net"],
    )
    .unwrap();
    let absent = PolicyKey::no_policy_found("EXAMPLE.net.").unwrap();
    assert_eq!(none, absent);
    let parsed =
        mta_sts_core::Policy::parse("version: STSv1\nmode: none\nmax_age: 86400\n").unwrap();
    assert_eq!(
        PolicyKey::for_policy("example.net", &parsed).unwrap(),
        absent
    );
    d.record(&none, &Outcome::Success).unwrap();
    d.record(&absent, &Outcome::Success).unwrap();
    let r = &d.finish(&meta()).unwrap().reports[0];
    assert_eq!(r.policies.len(), 1);
    assert_eq!(r.policies[0].policy.policy_type, PolicyType::NoPolicyFound);
    assert_eq!(r.successful_sessions(), 2);
    let json = r.to_json(false);
    assert!(
        json.contains(
            r#""policy":{"policy-type":"no-policy-found","policy-domain":"example.net"}"#
        ),
        "{json}"
    );
    round_trip(r);
}

#[test]
fn rpt_json_06_u_labels_become_a_labels() {
    let k = PolicyKey::sts(
        "Bücher.example",
        ["version: STSv1"],
        ["*.MX.bücher.example."],
    )
    .unwrap();
    assert_eq!(k.domain(), "xn--bcher-kva.example");
    assert_eq!(k.mx_host(), ["*.mx.xn--bcher-kva.example"]);
    assert_eq!(
        k,
        PolicyKey::sts(
            "xn--bcher-kva.example",
            ["version: STSv1"],
            ["*.mx.xn--bcher-kva.example"]
        )
        .unwrap()
    );
}

#[test]
fn output_is_byte_for_byte_deterministic_whatever_the_order() {
    let keys = [
        sts_key(),
        PolicyKey::no_policy_found("a.example").unwrap(),
        PolicyKey::tlsa("mx.z.example", ["3 1 1 aa"], ["mx.z.example"]).unwrap(),
    ];
    let outcomes = [
        Outcome::Success,
        Outcome::Failure(expired("mx1.mail.company-y.example", "192.0.2.1")),
        Outcome::Failure(
            Failure::new(ResultType::DaneRequired)
                .receiving_mx_hostname("mx.z.example")
                .sending_mta_ip("192.0.2.3".parse().unwrap()),
        ),
        Outcome::Failure(expired("mx2.mail.company-y.example", "192.0.2.2")),
    ];
    let mut seq = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        for (j, o) in outcomes.iter().enumerate() {
            for _ in 0..=(i + j) {
                seq.push((k, o));
            }
        }
    }
    let mut a = DayAggregate::new(day());
    for (k, o) in &seq {
        a.record(k, o).unwrap();
    }
    let mut b = DayAggregate::new(day());
    for (k, o) in seq.iter().rev() {
        b.record(k, o).unwrap();
    }
    assert_eq!(a, b);
    assert_eq!(a.to_json(), b.to_json());
    let ra = a.finish(&meta()).unwrap();
    let rb = b.finish(&meta()).unwrap();
    let ja: Vec<String> = ra.reports.iter().map(|r| r.to_json(true)).collect();
    let jb: Vec<String> = rb.reports.iter().map(|r| r.to_json(true)).collect();
    assert_eq!(ja, jb);
    assert_eq!(ra.reports.len(), 3);
    for r in &ra.reports {
        round_trip(r);
    }
}

#[test]
fn rpt_gen_03_report_ids_are_unique() {
    let mut d = DayAggregate::new(day());
    for n in 0..10 {
        successes(
            &mut d,
            &PolicyKey::no_policy_found(&format!("d{n}.example")).unwrap(),
            1,
        );
    }
    let mut ids = HashSet::new();
    for u in 0..100 {
        let m = ReportMeta::new(
            "Org",
            "r@company-x.example",
            "company-x.example",
            format!("n{u}"),
        );
        for r in d.finish(&m).unwrap().reports {
            ids.insert(r.report_id.into_owned());
        }
    }
    assert_eq!(ids.len(), 1000);
}

#[test]
fn policies_over_the_limit_are_counted_as_unreported() {
    let limits = AggregateLimits {
        max_policies: 2,
        ..Default::default()
    };
    let mut d = DayAggregate::with_limits(day(), limits);
    let k: Vec<PolicyKey> = (0..3)
        .map(|i| PolicyKey::no_policy_found(&format!("d{i}.example")).unwrap())
        .collect();
    assert_eq!(
        d.record(&k[0], &Outcome::Success).unwrap(),
        Recorded::Counted
    );
    assert_eq!(
        d.record(&k[1], &Outcome::Success).unwrap(),
        Recorded::Counted
    );
    assert_eq!(
        d.record(&k[2], &Outcome::Success).unwrap(),
        Recorded::Unreported
    );
    let f = Outcome::Failure(Failure::new(ResultType::StarttlsNotSupported));
    assert_eq!(d.record(&k[2], &f).unwrap(), Recorded::Unreported);
    let h = d.intern(&k[2]);
    assert!(h.is_unreported());
    assert_eq!(
        d.record_by(h, &Outcome::Success).unwrap(),
        Recorded::Unreported
    );
    // Known policies still count.
    assert_eq!(
        d.record(&k[0], &Outcome::Success).unwrap(),
        Recorded::Counted
    );
    let want = Unreported {
        successful_sessions: 2,
        failed_sessions: 1,
    };
    assert_eq!(d.unreported(), want);
    assert_eq!(d.policies(), 2);
    let fin = d.finish(&meta()).unwrap();
    assert_eq!(fin.unreported, want);
    assert_eq!(fin.reports.len(), 2);
    // The JSON form keeps the unreported counts.
    let back = DayAggregate::from_json(d.to_json().as_bytes(), limits).unwrap();
    assert_eq!(back.unreported(), want);
    assert_eq!(back, d);
}

#[test]
fn failure_rows_over_the_limit_fold_into_other_rows_order_independently() {
    let limits = AggregateLimits {
        max_failure_rows: 2,
        ..Default::default()
    };
    let key = sts_key();
    let rows: Vec<Failure> = (1..=4)
        .map(|i| expired(&format!("mx{i}.mail.company-y.example"), "192.0.2.1"))
        .collect();
    let unknown =
        Failure::new(ResultType::Other("new-thing".into())).receiving_mx_hostname("mx9.example");
    let record_all = |order: &[usize]| {
        let mut d = DayAggregate::with_limits(day(), limits);
        let mut folded = 0;
        for &i in order {
            let r = d.record(&key, &Outcome::Failure(rows[i].clone())).unwrap();
            folded += usize::from(r == Recorded::FoldedDetails);
        }
        d.record(&key, &Outcome::Failure(unknown.clone())).unwrap();
        (d, folded)
    };
    let (a, folded_a) = record_all(&[0, 1, 2, 3, 0]);
    let (b, folded_b) = record_all(&[3, 2, 1, 0, 0]);
    assert_eq!((folded_a, folded_b), (2, 2));
    assert_eq!(a, b);
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(a.folded_failure_details(), 3);
    let fin = a.finish(&meta()).unwrap();
    assert_eq!(fin.folded_failure_details, 3);
    let p = &fin.reports[0].policies[0];
    assert_eq!(p.summary.total_failure_session_count, 6);
    let rows: Vec<(String, Option<&str>, u64)> = p
        .failure_details
        .iter()
        .map(|f| {
            (
                f.result_type.to_string(),
                f.receiving_mx_hostname.as_deref(),
                f.failed_session_count,
            )
        })
        .collect();
    // Kept: the first two rows in row order (mx1 twice, mx2); folded, and
    // left out of the report: mx3, mx4 and the unregistered type.
    assert_eq!(
        rows,
        [
            (
                "certificate-expired".to_owned(),
                Some("mx1.mail.company-y.example"),
                2
            ),
            (
                "certificate-expired".to_owned(),
                Some("mx2.mail.company-y.example"),
                1
            ),
        ]
    );
    // The folded counts survive the JSON form and merges.
    let json = a.to_json();
    assert!(
        json.contains(r#""other-failure-details":[{"result-type":"certificate-expired","count":2},{"result-type":"validation-failure","count":1}]"#),
        "{json}"
    );
    let mut m = DayAggregate::from_json(json.as_bytes(), limits).unwrap();
    m.merge(&b).unwrap();
    assert_eq!(m.folded_failure_details(), 6);
    // The lenient reader says the details do not add up; nothing else.
    let report_json = fin.reports[0].to_json(false);
    let read = tlsrpt_core::Report::parse_lenient(report_json.as_bytes()).unwrap();
    assert_eq!(read.value, fin.reports[0]);
    round_trip(&fin.reports[0]);
}

#[test]
fn failure_details_are_written_as_given_never_invented() {
    // A policy-level failure has no MX host; the writer leaves both members
    // out, which the lenient reader accepts and the strict one refuses.
    let mut d = DayAggregate::new(day());
    d.record(
        &sts_key(),
        &Outcome::Failure(
            Failure::new(ResultType::StsPolicyFetchError).failure_reason_code("HTTP 404"),
        ),
    )
    .unwrap();
    let r = &d.finish(&meta()).unwrap().reports[0];
    let json = r.to_json(false);
    assert!(json.contains(r#""failure-details":[{"result-type":"sts-policy-fetch-error","failed-session-count":1,"failure-reason-code":"HTTP 404"}]"#), "{json}");
    let lenient = tlsrpt_core::Report::parse_lenient(json.as_bytes()).unwrap();
    assert_eq!(lenient.value, *r);
    let codes: Vec<String> = lenient
        .warnings
        .iter()
        .map(|w| w.code.to_string())
        .collect();
    assert_eq!(
        codes,
        [
            "failure-detail-member-missing",
            "failure-detail-member-missing"
        ]
    );
    assert!(tlsrpt_core::Report::parse_strict(json.as_bytes()).is_err());
}

#[test]
fn counts_never_pass_2_pow_53_minus_1() {
    // A partial whose policy is one count short of the limit.
    let json = format!(
        r#"{{"format":"tlsrpt-day-aggregate","version":1,"day":"2016-04-01","unreported-successful-sessions":0,"unreported-failed-sessions":0,"policies":[{{"policy-type":"no-policy-found","policy-domain":"example.net","successful":{},"failed":0}}]}}"#,
        MAX_COUNT - 1
    );
    let key = PolicyKey::no_policy_found("example.net").unwrap();
    let mut d = DayAggregate::from_json(json.as_bytes(), AggregateLimits::default()).unwrap();
    assert_eq!(
        d.record(&key, &Outcome::Success).unwrap(),
        Recorded::Counted
    );
    let before = d.to_json();
    let e = d.record(&key, &Outcome::Success).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the session counts of no-policy-found example.net would pass 9007199254740991 (2^53 - 1)"
    );
    // A failure with a detail adds two counts: refused as a whole.
    let f = Outcome::Failure(Failure::new(ResultType::DaneRequired));
    assert!(matches!(
        d.record(&key, &f),
        Err(AggregateError::CountOverflow { .. })
    ));
    assert_eq!(d.to_json(), before);
    // Merging two full aggregates is refused, and changes nothing.
    let other = d.clone();
    assert!(matches!(
        d.merge(&other),
        Err(AggregateError::CountOverflow { .. })
    ));
    assert_eq!(d.to_json(), before);
    // The strict reader reads the largest count written.
    let r = &d.finish(&meta()).unwrap().reports[0];
    assert_eq!(r.successful_sessions(), MAX_COUNT);
    round_trip(r);
    // A partial over the limit is refused.
    let over = json.replace(&(MAX_COUNT - 1).to_string(), &(MAX_COUNT + 1).to_string());
    assert!(matches!(
        DayAggregate::from_json(over.as_bytes(), AggregateLimits::default()),
        Err(AggregateError::CountOverflow { .. })
    ));
    // Unreported counts too.
    let unrep = json.replace(
        r#""unreported-successful-sessions":0"#,
        &format!(r#""unreported-successful-sessions":{MAX_COUNT}"#),
    );
    let mut u = DayAggregate::from_json(
        unrep.as_bytes(),
        AggregateLimits {
            max_policies: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let new = PolicyKey::no_policy_found("other.example").unwrap();
    assert_eq!(
        u.record(&new, &Outcome::Success).unwrap_err().to_string(),
        "the session counts of unreported sessions would pass 9007199254740991 (2^53 - 1)"
    );
}

#[test]
fn handles_record_without_lookup_and_belong_to_their_aggregate() {
    let mut a = DayAggregate::new(day());
    let mut b = DayAggregate::new(day());
    let key = sts_key();
    let h = a.intern(&key);
    assert!(!h.is_unreported());
    assert_eq!(h, a.intern(&key));
    a.record_by(h, &Outcome::Success).unwrap();
    a.record_session_by(
        h,
        SessionResult::Failed,
        &[Failure::new(ResultType::StsPolicyInvalid)],
    )
    .unwrap();
    assert_eq!(a.totals().successful_sessions, 1);
    assert_eq!(a.totals().failed_sessions, 1);
    assert_eq!(
        b.record_by(h, &Outcome::Success),
        Err(AggregateError::ForeignHandle)
    );
    // A clone accepts the handle.
    let mut c = a.clone();
    c.record_by(h, &Outcome::Success).unwrap();
    assert_eq!(c.totals().successful_sessions, 2);
    // An interned policy without sessions is in no report and not compared.
    let empty = DayAggregate::new(day());
    b.intern(&key);
    assert_eq!(b, empty);
    assert!(b.finish(&meta()).unwrap().reports.is_empty());
}

#[test]
fn a_merge_that_leaves_a_policy_out_sends_its_handle_to_unreported() {
    let limits = AggregateLimits {
        max_policies: 1,
        ..Default::default()
    };
    let small = PolicyKey::no_policy_found("a.example").unwrap();
    let large = PolicyKey::no_policy_found("z.example").unwrap();
    let mut a = DayAggregate::with_limits(day(), limits);
    let h = a.intern(&large);
    a.record_by(h, &Outcome::Success).unwrap();
    let mut b = DayAggregate::with_limits(day(), limits);
    b.record(&small, &Outcome::Success).unwrap();
    a.merge(&b).unwrap();
    // The first policy in key order is kept.
    let r = &a.finish(&meta()).unwrap().reports;
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].policies[0].policy.policy_domain.as_deref(),
        Some("a.example")
    );
    assert_eq!(a.unreported().successful_sessions, 1);
    assert_eq!(
        a.record_by(h, &Outcome::Success).unwrap(),
        Recorded::Unreported
    );
    assert_eq!(a.unreported().successful_sessions, 2);
}

#[test]
fn days() {
    let d = UtcDay::containing(Timestamp::from_unix(1_459_555_199)).unwrap();
    assert_eq!(d.to_string(), "2016-04-01");
    assert_eq!(
        UtcDay::containing(Timestamp::from_unix(1_459_555_200))
            .unwrap()
            .to_string(),
        "2016-04-02"
    );
    assert_eq!(UtcDay::parse("1970-01-01").unwrap().day_number(), 0);
    assert_eq!(
        UtcDay::parse("9999-12-31").unwrap().end().to_string(),
        "9999-12-31T23:59:59Z"
    );
    for bad in [
        "1969-12-31",
        "2016-4-01",
        "2016-04-01T00:00:00Z",
        "",
        "2016-13-01",
    ] {
        assert_eq!(
            UtcDay::parse(bad).unwrap_err().to_string(),
            format!("`{bad}` is not a UTC day YYYY-MM-DD from 1970-01-01 to 9999-12-31")
        );
    }
    assert!(UtcDay::containing(Timestamp::from_unix(-1)).is_err());
    assert!(UtcDay::from_day_number(2_932_897).is_err());
}

#[test]
fn invalid_keys_and_fields_are_typed_errors_and_count_nothing() {
    assert!(matches!(
        PolicyKey::no_policy_found("192.0.2.1"),
        Err(AggregateError::PolicyDomain(_))
    ));
    assert!(matches!(
        PolicyKey::no_policy_found(""),
        Err(AggregateError::PolicyDomain(_))
    ));
    assert!(matches!(
        PolicyKey::new(PolicyType::Other("x".into()), "example.com", ["a"], ["b"]),
        Err(AggregateError::PolicyType { .. })
    ));
    let big = vec!["x".repeat(1000); MAX_KEY_BYTES / 1000 + 1];
    assert!(matches!(
        PolicyKey::sts("example.com", &big, None::<&str>),
        Err(AggregateError::KeyTooLarge { what: "bytes", .. })
    ));
    let many = vec!["x"; 20_000];
    assert!(matches!(
        PolicyKey::sts("example.com", &many, None::<&str>),
        Err(AggregateError::KeyTooLarge {
            what: "strings",
            ..
        })
    ));
    assert!(matches!(
        PolicyKey::sts("example.com", ["version: STSv1"], ["*.bad..名"]),
        Err(AggregateError::MxHost { .. })
    ));

    let mut d = DayAggregate::new(day());
    let long = Failure::new(ResultType::ValidationFailure)
        .failure_reason_code("x".repeat(MAX_FIELD_LEN + 1));
    assert_eq!(
        d.record(&sts_key(), &Outcome::Failure(long)),
        Err(AggregateError::FieldTooLong {
            field: "failure-reason-code",
            len: MAX_FIELD_LEN + 1
        })
    );
    assert_eq!(d.totals().failed_sessions, 0);
    assert!(d.finish(&meta()).unwrap().reports.is_empty());
}

#[test]
fn rpt_deliv_08_report_meta_is_checked() {
    let mut d = DayAggregate::new(day());
    successes(&mut d, &sts_key(), 1);
    let bad = |org: &str, contact: &str, submitter: &str, unique: &str| {
        d.finish(&ReportMeta::new(org, contact, submitter, unique))
            .unwrap_err()
    };
    assert_eq!(
        bad(" ", "a@company-x.example", "company-x.example", "1").to_string(),
        "report organization-name: empty"
    );
    assert!(matches!(
        bad("Org", "no address", "company-x.example", "1"),
        AggregateError::Meta {
            field: "contact-info",
            ..
        }
    ));
    assert_eq!(
        bad("Org", "a@company-x.example", "mail.company-x.example", "1"),
        AggregateError::Submitter(FilenameError::SubmitterMismatch {
            contact_info: "a@company-x.example".into(),
            submitter: "mail.company-x.example".into(),
        })
    );
    assert!(matches!(
        bad("Org", "a@company-x.example", "company-x.example", "a-b"),
        AggregateError::Meta {
            field: "unique-id",
            ..
        }
    ));
    assert!(matches!(
        bad(
            "Org",
            "a@company-x.example",
            "company-x.example",
            &"1".repeat(65)
        ),
        AggregateError::Meta {
            field: "unique-id",
            ..
        }
    ));
    // U-labels in the submitter are written as A-labels in the report id.
    let ok = d
        .finish(&ReportMeta::new(
            "Org",
            "a@bücher.example",
            "Bücher.example",
            "7",
        ))
        .unwrap();
    assert_eq!(
        ok.reports[0].report_id,
        "2016-04-01.company-y.example.7@xn--bcher-kva.example"
    );
}

#[test]
fn partial_json_round_trips_and_is_checked() {
    let mut d = DayAggregate::new(day());
    let key = sts_key();
    successes(&mut d, &key, 2);
    d.record(
        &key,
        &Outcome::Failure(
            expired("mx1.mail.company-y.example", "192.0.2.1")
                .failure_reason_code("X509_V_ERR_CERT_HAS_EXPIRED")
                .receiving_mx_helo("mx1")
                .additional_information("https://example.com/why"),
        ),
    )
    .unwrap();
    d.record(
        &PolicyKey::tlsa("mx.b.example", ["3 1 1 aa"], ["mx.b.example"]).unwrap(),
        &Outcome::Success,
    )
    .unwrap();
    let json = d.to_json();
    let back = DayAggregate::from_json(json.as_bytes(), AggregateLimits::default()).unwrap();
    assert_eq!(back, d);
    assert_eq!(back.to_json(), json);
    assert_eq!(back.day(), day());
    assert!(json.contains(r#""failure-details":[{"result-type":"certificate-expired","receiving-mx-hostname":"mx1.mail.company-y.example","receiving-ip":"2001:db8:abcd:12::1","sending-mta-ip":"192.0.2.1","receiving-mx-helo":"mx1","failure-reason-code":"X509_V_ERR_CERT_HAS_EXPIRED","additional-information":"https://example.com/why","count":1}]"#), "{json}");

    let err = |text: &str| {
        DayAggregate::from_json(text.as_bytes(), AggregateLimits::default()).unwrap_err()
    };
    assert_eq!(
        err(&json.replace(r#""version":1"#, r#""version":2"#)),
        AggregateError::PartialVersion {
            format: "tlsrpt-day-aggregate".into(),
            version: 2
        }
    );
    assert!(matches!(err("[]"), AggregateError::Partial { .. }));
    assert!(matches!(
        err(&json.replace(r#""successful":2"#, r#""successful":2,"extra":1"#)),
        AggregateError::Partial { .. }
    ));
    assert!(matches!(
        err(&json.replace("192.0.2.1", "192.0.2.999")),
        AggregateError::Partial { .. }
    ));
    assert!(matches!(
        err(&json.replace("2016-04-01", "2016-04-31")),
        AggregateError::Day { .. }
    ));
    let one = r#"{"policy-type":"no-policy-found","policy-domain":"x.example","successful":1,"failed":0}"#;
    let twice = format!(
        r#"{{"format":"tlsrpt-day-aggregate","version":1,"day":"2016-04-01","unreported-successful-sessions":0,"unreported-failed-sessions":0,"policies":[{one},{one}]}}"#
    );
    assert_eq!(
        err(&twice).to_string(),
        "partial aggregate: policies[1]: no-policy-found x.example is listed twice"
    );
    assert_eq!(
        err(&json.replace(r#""count":1}"#, r#""count":0}"#)).to_string(),
        "partial aggregate: policies[0]: failure-details[0]: count is 0"
    );
}

#[test]
fn merge_refuses_another_day() {
    let mut a = DayAggregate::new(day());
    let b = DayAggregate::new(UtcDay::parse("2016-04-02").unwrap());
    assert_eq!(
        a.merge(&b).unwrap_err().to_string(),
        "cannot merge the aggregate of 2016-04-02 into the aggregate of 2016-04-01"
    );
}

#[test]
fn merged_partials_equal_one_aggregate_of_everything() {
    let keys = [sts_key(), PolicyKey::no_policy_found("a.example").unwrap()];
    let outcomes = [
        Outcome::Success,
        Outcome::Failure(expired("mx1.mail.company-y.example", "192.0.2.1")),
    ];
    let mut whole = DayAggregate::new(day());
    let mut parts = [
        DayAggregate::new(day()),
        DayAggregate::new(day()),
        DayAggregate::new(day()),
    ];
    for i in 0..60 {
        let (k, o) = (&keys[i % 2], &outcomes[(i / 2) % 2]);
        whole.record(k, o).unwrap();
        parts[i % 3].record(k, o).unwrap();
    }
    let mut merged = DayAggregate::new(day());
    for p in &parts {
        let read =
            DayAggregate::from_json(p.to_json().as_bytes(), AggregateLimits::default()).unwrap();
        merged.merge(&read).unwrap();
    }
    assert_eq!(merged, whole);
    assert_eq!(
        merged.finish(&meta()).unwrap(),
        whole.finish(&meta()).unwrap()
    );
}

/// The root README's example of the sending side.
#[test]
fn readme_example() -> Result<(), Box<dyn std::error::Error>> {
    let mut day = DayAggregate::new(UtcDay::parse("2024-05-01")?);
    let policy = PolicyKey::sts(
        "example.com",
        [
            "version: STSv1",
            "mode: enforce",
            "mx: mx1.example.com",
            "max_age: 604800",
        ],
        ["mx1.example.com"],
    )?;
    day.record(&policy, &Outcome::Success)?;
    day.record(
        &policy,
        &Outcome::Failure(
            Failure::new(ResultType::CertificateExpired)
                .receiving_mx_hostname("mx1.example.com")
                .sending_mta_ip("192.0.2.10".parse()?),
        ),
    )?;
    let finished = day.finish(&ReportMeta::new(
        "Example Mail",
        "tlsrpt@mail.example.com",
        "mail.example.com",
        "n1",
    ))?;
    assert_eq!(
        finished.reports[0].report_id,
        "2024-05-01.example.com.n1@mail.example.com"
    );
    round_trip(&finished.reports[0]);
    Ok(())
}
