//! `datagram`: libtlsrpt datagrams, in the byte forms libtlsrpt writes
//! (no corpus holds captured ones: the reference library's writer puts
//! `": "` after the short keys and, in its newer layout, a line break
//! before `,"policies"`), and what is refused.

use proptest::prelude::*;
use tlsrpt_core::datagram::{
    Datagram, DatagramError, DatagramLimits, DatagramWarningCode, decode, result_type_for_code,
};
use tlsrpt_core::session::{DayAggregate, Recorded, SessionResult};
use tlsrpt_core::{PolicyType, Report, ResultType};

use crate::{day, meta, round_trip};

fn limits() -> DatagramLimits {
    DatagramLimits::default()
}

fn ok(text: &str) -> Datagram {
    decode(text.as_bytes(), &limits()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> DatagramError {
    decode(text.as_bytes(), &limits()).unwrap_err()
}

fn codes(d: &Datagram) -> Vec<DatagramWarningCode> {
    d.warnings.iter().map(|w| w.code).collect()
}

/// The shape of interop.md section 2, every member present.
const FULL: &str = r#"{"dpv":"1","d":"example.com","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@example.com","policies":[{"policy-type":2,"policy-domain":"example.com","policy-string":["version: STSv1","mode: enforce","mx: mx1.example.com","max_age: 604800"],"mx-host":["mx1.example.com"],"failure-details":[{"c":202,"s":"192.0.2.10","n":"mx1.example.com","h":"mx1.example.com","r":"198.51.100.25","a":"https://example.com/tls","f":"hostname mismatch"}],"t":1,"f":1}]}"#;

#[test]
fn interop_form_maps_short_keys_to_rfc_members() {
    let d = ok(FULL);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(d.version.as_deref(), Some("1"));
    assert_eq!(d.domain, "example.com");
    assert_eq!(
        d.tlsrpt_record.as_deref(),
        Some("v=TLSRPTv1; rua=mailto:tlsrpt@example.com")
    );
    let p = &d.policies[0];
    assert_eq!(*p.key.policy_type(), PolicyType::Sts);
    assert_eq!(p.key.domain(), "example.com");
    assert_eq!(p.key.mx_host(), ["mx1.example.com"]);
    assert_eq!(p.key.policy_string().len(), 4);
    assert_eq!(p.result, SessionResult::Failed);
    let f = &p.failures[0];
    assert_eq!(f.result_type, ResultType::CertificateHostMismatch);
    assert_eq!(f.sending_mta_ip, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(f.receiving_mx_hostname.as_deref(), Some("mx1.example.com"));
    assert_eq!(f.receiving_mx_helo.as_deref(), Some("mx1.example.com"));
    assert_eq!(f.receiving_ip, Some("198.51.100.25".parse().unwrap()));
    assert_eq!(
        f.additional_information.as_deref(),
        Some("https://example.com/tls")
    );
    assert_eq!(f.failure_reason_code.as_deref(), Some("hostname mismatch"));

    // Into the aggregator and out as an RFC 8460 report.
    let mut agg = DayAggregate::new(day());
    assert_eq!(agg.record_datagram(&d).unwrap(), Recorded::Counted);
    agg.record_datagram(&d).unwrap();
    let r = &agg.finish(&meta()).unwrap().reports[0];
    let json = r.to_json(false);
    assert!(
        json.contains(r#""failure-details":[{"result-type":"certificate-host-mismatch","sending-mta-ip":"192.0.2.10","receiving-mx-hostname":"mx1.example.com","receiving-mx-helo":"mx1.example.com","receiving-ip":"198.51.100.25","failed-session-count":2,"additional-information":"https://example.com/tls","failure-reason-code":"hostname mismatch"}]"#),
        "{json}"
    );
    assert_eq!((r.successful_sessions(), r.failed_sessions()), (0, 2));
    round_trip(r);
}

#[test]
fn libtlsrpt_writer_forms_without_dpv_and_pr() {
    // libtlsrpt 0.x: `": "` after keys, no `dpv`.
    let old = r#"{"d": "example.com","pr": "v=TLSRPTv1;rua=mailto:tlsrpt@example.com","policies":[{"policy-type":2,"policy-domain": "example.com","policy-string":["version: STSv1","mode: testing","mx: *.example.com","max_age: 86400"],"mx-host":["*.example.com"],"failure-details":[{"c":204,"s": "2001:db8::25","n": "mx2.example.com","r": "2001:db8::1"}],"t":1,"f":1},{"policy-type":9,"policy-domain": "example.com","t":0,"f":0}]}"#;
    let d = ok(old);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(d.version, None);
    assert_eq!(d.policies.len(), 2);
    assert_eq!(
        d.policies[0].failures[0].result_type,
        ResultType::CertificateExpired
    );
    assert_eq!(*d.policies[1].key.policy_type(), PolicyType::NoPolicyFound);
    assert_eq!(d.policies[1].result, SessionResult::Successful);
    // The library's other layout: no `pr`, a line break before each policy.
    let newer = "{\"d\": \"Example.COM.\"\n,\"policies\":[{\"policy-type\":1,\"policy-domain\": \"mx.example.com\",\"policy-string\":[\"3 1 1 0123abcd\"],\"mx-host\":[\"mx.example.com\"],\"t\":0,\"f\":0}\n,{\"policy-type\":9,\"policy-domain\": \"example.com\",\"t\":0,\"f\":1}]}";
    let d = ok(newer);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(d.domain, "example.com");
    assert_eq!(d.tlsrpt_record, None);
    assert_eq!(*d.policies[0].key.policy_type(), PolicyType::Tlsa);
    assert_eq!(d.policies[0].key.domain(), "mx.example.com");
    assert_eq!(d.policies[1].result, SessionResult::Failed);
}

#[test]
fn every_failure_code_maps_to_its_result_type() {
    let table = [
        (201, "starttls-not-supported"),
        (202, "certificate-host-mismatch"),
        (203, "certificate-not-trusted"),
        (204, "certificate-expired"),
        (205, "validation-failure"),
        (301, "sts-policy-fetch-error"),
        (302, "sts-policy-invalid"),
        (303, "sts-webpki-invalid"),
        (304, "tlsa-invalid"),
        (305, "dnssec-invalid"),
        (306, "dane-required"),
    ];
    for (code, name) in table {
        assert_eq!(result_type_for_code(code).unwrap().as_str(), name);
        let text = format!(
            r#"{{"d":"example.com","policies":[{{"policy-type":2,"policy-domain":"example.com","failure-details":[{{"c":{code}}}],"t":1,"f":1}}]}}"#
        );
        let d = ok(&text);
        assert!(d.warnings.is_empty());
        assert_eq!(d.policies[0].failures[0].result_type.as_str(), name);
        // And back: the same datagram, in libtlsrpt's member order.
        let again = decode(d.to_libtlsrpt_json().as_bytes(), &limits()).unwrap();
        assert_eq!(again.version.as_deref(), Some("1"));
        assert_eq!(again.policies, d.policies);
    }
    for n in [0, 200, 206, 300, 307, 900, 999] {
        assert_eq!(result_type_for_code(n), None);
    }
}

#[test]
fn unfinished_policy_and_unknown_codes_become_validation_failure() {
    let d = ok(
        r#"{"d":"example.com","policies":[{"policy-type":2,"policy-domain":"example.com","failure-details":[{"c":901},{"c":777,"f":"own reason"},{"c":555}],"t":3,"f":1}]}"#,
    );
    assert_eq!(
        codes(&d),
        [
            DatagramWarningCode::UnfinishedPolicy,
            DatagramWarningCode::UnknownFailureCode,
            DatagramWarningCode::UnknownFailureCode
        ]
    );
    assert_eq!(d.warnings[0].member, "/policies/0/failure-details/0/c");
    let f = &d.policies[0].failures;
    assert!(
        f.iter()
            .all(|f| f.result_type == ResultType::ValidationFailure)
    );
    assert_eq!(
        f[0].failure_reason_code.as_deref(),
        Some("unfinished-policy")
    );
    assert_eq!(f[1].failure_reason_code.as_deref(), Some("own reason"));
    assert_eq!(
        f[2].failure_reason_code.as_deref(),
        Some("libtlsrpt failure code 555")
    );
    // libtlsrpt finishes an unfinished policy with final result 901.
    let d = ok(
        r#"{"d":"example.com","policies":[{"policy-type":9,"policy-domain":"example.com","t":0,"f":901}]}"#,
    );
    assert_eq!(codes(&d), [DatagramWarningCode::UnfinishedPolicy]);
    assert_eq!(d.warnings[0].member, "/policies/0/f");
    assert_eq!(d.policies[0].result, SessionResult::Failed);
}

#[test]
fn tolerated_deviations_are_warnings() {
    // No policy-domain: the delivery domain (as the reference reporter
    // should have done; its reports then lack the member).
    let d = ok(
        r#"{"dpv":"1","d":"example.com","policies":[{"policy-type":2,"policy-string":["version: STSv1"],"mx-host":["mx.example.com"],"t":0,"f":0},{"policy-type":9,"policy-domain":"","t":0,"f":0}]}"#,
    );
    assert_eq!(
        codes(&d),
        [
            DatagramWarningCode::PolicyDomainFromDelivery,
            DatagramWarningCode::PolicyDomainFromDelivery
        ]
    );
    assert_eq!(d.policies[0].key.domain(), "example.com");
    assert_eq!(
        d.warnings[0].to_string(),
        "/policies/0/policy-domain: no policy-domain; the delivery domain `example.com` is used"
    );
    // Another protocol version, `t` that disagrees, `f` as a boolean.
    let d = ok(
        r#"{"dpv":"2","d":"example.com","policies":[{"policy-type":9,"policy-domain":"example.com","failure-details":[{"c":201}],"t":5,"f":true}]}"#,
    );
    assert_eq!(
        codes(&d),
        [
            DatagramWarningCode::UnknownVersion,
            DatagramWarningCode::FailureCountMismatch
        ]
    );
    assert_eq!(d.policies[0].result, SessionResult::Failed);
    // `dpv` as the number 1 is version 1.
    let d = ok(
        r#"{"dpv":1,"d":"example.com","policies":[{"policy-type":9,"policy-domain":"example.com","f":false}]}"#,
    );
    assert!(d.warnings.is_empty());
    assert_eq!(d.policies[0].result, SessionResult::Successful);
    // Not an IP address: the field is left out.
    let d = ok(
        r#"{"d":"example.com","policies":[{"policy-type":2,"policy-domain":"example.com","failure-details":[{"c":201,"s":"unknown","r":"198.51.100.300"}],"t":1,"f":1}]}"#,
    );
    assert_eq!(
        codes(&d),
        [
            DatagramWarningCode::InvalidIp,
            DatagramWarningCode::InvalidIp
        ]
    );
    assert_eq!(d.policies[0].failures[0].sending_mta_ip, None);
    assert_eq!(d.policies[0].failures[0].receiving_ip, None);
    // A very long field is cut, at a character boundary.
    let long = "é".repeat(1500);
    let d = ok(&format!(
        r#"{{"d":"example.com","policies":[{{"policy-type":2,"policy-domain":"example.com","failure-details":[{{"c":205,"f":"{long}"}}],"t":1,"f":1}}]}}"#
    ));
    assert_eq!(codes(&d), [DatagramWarningCode::FieldTruncated]);
    assert_eq!(
        d.policies[0].failures[0]
            .failure_reason_code
            .as_ref()
            .unwrap()
            .len(),
        2048
    );
    // Unknown members are ignored.
    let d = ok(
        r#"{"d":"example.com","x":[1],"policies":[{"policy-type":9,"policy-domain":"example.com","f":0,"y":{}}]}"#,
    );
    assert!(d.warnings.is_empty());
}

#[test]
fn bytes_that_are_not_utf8_keep_the_session() {
    // libtlsrpt copies bytes above 0x7F as they are: a Latin-1 HELO.
    let mut bytes = br#"{"d":"example.com","policies":[{"policy-type":2,"policy-domain":"example.com","failure-details":[{"c":201,"s":"192.0.2.1","n":"mx.example.com","h":"caf"#.to_vec();
    let at = bytes.len();
    bytes.push(0xe9);
    bytes.extend_from_slice(br#".example"}],"t":1,"f":1}]}"#);
    let d = decode(&bytes, &limits()).unwrap();
    assert_eq!(codes(&d), [DatagramWarningCode::InvalidUtf8]);
    assert_eq!(
        d.warnings[0].message,
        format!("bytes that are not UTF-8 (the first at byte {at}) were replaced by U+FFFD")
    );
    assert_eq!(
        d.policies[0].failures[0].receiving_mx_helo.as_deref(),
        Some("caf\u{fffd}.example")
    );
    let mut agg = DayAggregate::new(day());
    agg.record_datagram(&d).unwrap();
    let r = &agg.finish(&meta()).unwrap().reports[0];
    round_trip(r);
}

#[test]
fn garbage_is_refused_with_what_and_where() {
    assert_eq!(
        decode(&vec![b' '; 65_537], &limits()).unwrap_err(),
        DatagramError::TooLarge {
            len: 65_537,
            limit: 65_536
        }
    );
    assert_eq!(
        err("hello").to_string(),
        "datagram is not valid: expected a JSON object at line 1 column 1"
    );
    assert_eq!(
        err("\n  [{\"d\":\"example.com\"}]"),
        DatagramError::Json {
            message: "expected a JSON object".into(),
            line: 2,
            column: 3
        }
    );
    assert!(matches!(
        err(""),
        DatagramError::Json {
            line: 1,
            column: 1,
            ..
        }
    ));
    assert!(matches!(
        err(r#"{"d":"a.example","d":"b.example","policies":[]}"#),
        DatagramError::Json { .. }
    ));
    assert!(matches!(
        err(r#"{"d":"example.com","policies":[{"policy-type":2,"f":0,"mx-host":"mx"}]}"#),
        DatagramError::Json { line: 1, .. }
    ));
    assert_eq!(
        err(r#"{"d":"example.com","policies":[{"policy-type":2,"f":0}"#).to_string(),
        "datagram is not valid: EOF while parsing a list at line 1 column 54"
    );
    let missing = |text: &str| match err(text) {
        DatagramError::Missing { member } => member,
        other => panic!("{other}"),
    };
    assert_eq!(missing(r#"{"policies":[]}"#), "/d");
    assert_eq!(missing(r#"{"d":"example.com"}"#), "/policies");
    assert_eq!(
        missing(r#"{"d":"example.com","policies":[{"policy-type":2}]}"#),
        "/policies/0/f"
    );
    assert_eq!(
        missing(r#"{"d":"example.com","policies":[{"f":0}]}"#),
        "/policies/0/policy-type"
    );
    assert_eq!(
        missing(
            r#"{"d":"example.com","policies":[{"policy-type":2,"f":1,"failure-details":[{"s":"192.0.2.1"}]}]}"#
        ),
        "/policies/0/failure-details/0/c"
    );
    assert_eq!(
        err(r#"{"d":"example.com","policies":[]}"#).to_string(),
        "datagram: /policies has 0 policies; 1 to 16 are allowed"
    );
    let seventeen = vec![r#"{"policy-type":9,"f":0}"#; 17].join(",");
    assert!(matches!(
        err(&format!(
            r#"{{"d":"example.com","policies":[{seventeen}]}}"#
        )),
        DatagramError::Count { count: 17, .. }
    ));
    let many = vec![r#"{"c":201}"#; 257].join(",");
    assert_eq!(
        err(&format!(r#"{{"d":"example.com","policies":[{{"policy-type":2,"f":1,"failure-details":[{many}]}}]}}"#)).to_string(),
        "datagram: /policies/0/failure-details has 257 failure details; at most 256 are allowed"
    );
    assert_eq!(
        err(r#"{"d":"example.com","policies":[{"policy-type":3,"f":0}]}"#).to_string(),
        "datagram: /policies/0/policy-type: 3 is not a policy type (1 tlsa, 2 sts, 9 no-policy-found)"
    );
    assert_eq!(
        err(r#"{"d":"example.com","policies":[{"policy-type":9,"f":2}]}"#).to_string(),
        "datagram: /policies/0/f: 2 is not a final result (0 success, 1 failure)"
    );
    assert_eq!(
        err(r#"{"d":"example.com","policies":[{"policy-type":2,"f":1,"failure-details":[{"c":"201"}]}]}"#).to_string(),
        "datagram: /policies/0/failure-details/0/c: \"201\" is not a failure code (an integer)"
    );
    assert!(
        matches!(err(r#"{"d":"192.0.2.1","policies":[{"policy-type":9,"f":0}]}"#), DatagramError::Invalid { member, .. } if member == "/d")
    );
    assert!(matches!(
        err(r#"{"d":"example.com","policies":[{"policy-type":9,"policy-domain":"a..b","f":0}]}"#),
        DatagramError::Invalid { member, .. } if member == "/policies/0/policy-domain"
    ));
    // Smaller limits are honoured.
    let tight = DatagramLimits {
        max_bytes: 10,
        ..limits()
    };
    assert!(matches!(
        decode(FULL.as_bytes(), &tight),
        Err(DatagramError::TooLarge { .. })
    ));
}

#[test]
fn a_refused_datagram_records_nothing() {
    let mut agg = DayAggregate::new(day());
    let bad =
        br#"{"d":"example.com","policies":[{"policy-type":9,"f":0},{"policy-type":4,"f":0}]}"#;
    assert!(decode(bad, &limits()).is_err());
    assert!(agg.is_empty());
    agg.record_datagram(&ok(FULL)).unwrap();
    let d9 = ok(
        r#"{"d":"other.example","policies":[{"policy-type":9,"policy-domain":"other.example","t":0,"f":0}]}"#,
    );
    for _ in 0..3 {
        agg.record_datagram(&d9).unwrap();
    }
    let fin = agg.finish(&meta()).unwrap();
    let per: Vec<(String, u64, u64)> = fin
        .reports
        .iter()
        .map(|r: &Report<'_>| {
            (
                r.policies[0]
                    .policy
                    .policy_domain
                    .as_deref()
                    .unwrap()
                    .to_owned(),
                r.successful_sessions(),
                r.failed_sessions(),
            )
        })
        .collect();
    assert_eq!(
        per,
        [
            ("example.com".to_owned(), 0, 1),
            ("other.example".to_owned(), 3, 0)
        ]
    );
}

fn arb_datagram_text() -> impl Strategy<Value = String> {
    let failure = (
        prop::sample::select(vec![
            201u16, 202, 203, 204, 205, 301, 302, 303, 304, 305, 306,
        ]),
        proptest::option::of(any::<[u8; 4]>()),
        proptest::option::of("[a-z]{1,8}\\.example"),
        proptest::option::of("[ -~]{0,12}"),
    );
    let policy = (
        prop::sample::select(vec![1u8, 2, 9]),
        "[a-z]{1,6}\\.example",
        proptest::collection::vec("[ -~]{0,16}", 0..4),
        proptest::collection::vec(failure, 0..3),
        any::<bool>(),
    );
    proptest::collection::vec(policy, 1..4).prop_map(|policies| {
        let mut s = String::from(r#"{"dpv":"1","d":"delivery.example","policies":["#);
        for (i, (t, dom, lines, fails, failed)) in policies.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&format!(r#"{{"policy-type":{t},"policy-domain":"{dom}""#));
            if !lines.is_empty() {
                let l: Vec<String> = lines
                    .iter()
                    .map(|l| serde_json::to_string(l).unwrap())
                    .collect();
                s.push_str(&format!(r#","policy-string":[{}]"#, l.join(",")));
            }
            if !fails.is_empty() {
                let f: Vec<String> = fails
                    .iter()
                    .map(|(c, ip, n, reason)| {
                        let mut o = format!(r#"{{"c":{c}"#);
                        if let Some(ip) = ip {
                            o.push_str(&format!(
                                r#","s":"{}.{}.{}.{}""#,
                                ip[0], ip[1], ip[2], ip[3]
                            ));
                        }
                        if let Some(n) = n {
                            o.push_str(&format!(r#","n":"{n}""#));
                        }
                        if let Some(r) = reason {
                            o.push_str(&format!(r#","f":{}"#, serde_json::to_string(r).unwrap()));
                        }
                        o.push('}');
                        o
                    })
                    .collect();
                s.push_str(&format!(r#","failure-details":[{}]"#, f.join(",")));
            }
            s.push_str(&format!(
                r#","t":{},"f":{}}}"#,
                fails.len(),
                u8::from(*failed)
            ));
        }
        s.push_str("]}");
        s
    })
}

proptest! {
    #[test]
    fn well_formed_datagrams_decode_and_encode_back(text in arb_datagram_text()) {
        let d = decode(text.as_bytes(), &limits()).unwrap();
        prop_assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        let again = decode(d.to_libtlsrpt_json().as_bytes(), &limits()).unwrap();
        prop_assert_eq!(&again, &d);
        let mut agg = DayAggregate::new(day());
        agg.record_datagram(&d).unwrap();
        let failed = d.policies.iter().filter(|p| p.result == SessionResult::Failed).count() as u64;
        prop_assert_eq!(agg.totals().failed_sessions, failed);
        prop_assert_eq!(agg.totals().successful_sessions, d.policies.len() as u64 - failed);
        for r in &agg.finish(&meta()).unwrap().reports {
            let json = r.to_json(false);
            let read = Report::parse_lenient(json.as_bytes()).unwrap();
            prop_assert_eq!(&read.value, r);
            // Strict readers want both members in every failure detail.
            let complete = r.policies.iter().flat_map(|p| &p.failure_details).all(|f| {
                f.sending_mta_ip.is_some() && f.receiving_mx_hostname.is_some()
            });
            if complete {
                let read = Report::parse_strict(json.as_bytes()).unwrap();
                prop_assert_eq!(&read.value, r);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes, &limits());
    }

    #[test]
    fn mutated_datagrams_never_panic(text in arb_datagram_text(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut b = text.into_bytes();
        let i = at.index(b.len());
        b[i] = byte;
        if let Ok(d) = decode(&b, &limits()) {
            let mut agg = DayAggregate::new(day());
            agg.record_datagram(&d).unwrap();
            let _ = agg.finish(&meta()).unwrap();
        }
    }
}
