//! Property tests: the strict writer's output reads back identically, and
//! no input panics the readers.

use proptest::prelude::*;
use tlsrpt_core::input::{ReadOptions, read_report};
use tlsrpt_core::{Report, TlsRptRecord};

use crate::{CORPUS, data, data_files};

/// `Report`'s serde `Serialize` gives exactly the bytes of
/// `Report::to_json(false)`, and `to_string_pretty` those of
/// `to_json(true)`.
fn assert_serde_writes_to_json(what: &str, r: &Report<'_>) {
    let compact = r.to_json(false);
    assert_eq!(
        serde_json::to_string(r).map_err(|e| e.to_string()),
        Ok(compact.clone()),
        "{what}"
    );
    assert_eq!(
        serde_json::to_string_pretty(r).map_err(|e| e.to_string()),
        Ok(r.to_json(true)),
        "{what}"
    );
    // And serde_json's own tree of it is the tree of the written text.
    assert_eq!(
        serde_json::to_value(r).ok(),
        serde_json::from_str::<serde_json::Value>(&compact).ok(),
        "{what}"
    );
}

/// Every report of the corpus: the JSON files ([`CORPUS`]) and the reports
/// inside its e-mails, as the lenient reader reads them (unknown members,
/// `no-policy-found`, odd values kept), and their strict form read back.
#[test]
fn serialize_equals_to_json_on_every_corpus_report() {
    let mut checked = 0;
    for rel in CORPUS {
        let bytes = data(rel);
        let r = Report::parse_lenient(&bytes)
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .value;
        assert_serde_writes_to_json(rel, &r);
        let written = r.to_json(false);
        let back = Report::parse_lenient(written.as_bytes())
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .value;
        assert_serde_writes_to_json(rel, &back);
        checked += 1;
    }
    let mails = data_files("eml");
    for path in &mails {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The RFC's example mail has a placeholder instead of gzip data.
        if let Ok(p) = read_report(&bytes, &ReadOptions::default()) {
            assert_serde_writes_to_json(&path.display().to_string(), &p.value.report);
            checked += 1;
        }
    }
    assert!(mails.len() >= 10, "{mails:?}");
    assert_eq!(checked, CORPUS.len() + mails.len() - 1);
}

fn json_string() -> impl Strategy<Value = String> {
    "[ -~\u{e9}\u{4e2d}\u{1f600}\"\\\\\n\t]{0,16}"
}

proptest! {
    #[test]
    fn written_report_reads_back(
        org in json_string(),
        id in json_string(),
        start in 0i64..4_000_000_000,
        len in 0i64..1_000_000,
        counts in proptest::collection::vec((0u64..(1 << 53), 0u64..(1 << 53)), 1..4),
        details in proptest::collection::vec((0u64..(1 << 53), any::<[u8; 4]>(), any::<[u16; 8]>(), json_string()), 0..4),
        rt in prop_oneof![Just("starttls-not-supported".to_owned()), Just("validation-failure".to_owned()), "[a-z-]{1,20}"],
    ) {
        use std::fmt::Write;
        let fmt_t = |s: i64| tlsrpt_core::time::Timestamp::from_unix(s).to_string();
        let mut policies = String::new();
        for (i, (ok, failed)) in counts.iter().enumerate() {
            if i > 0 { policies.push(','); }
            let mut d = String::new();
            for (j, (n, v4, v6, reason)) in details.iter().enumerate() {
                if j > 0 { d.push(','); }
                let mut r = String::new();
                tlsrpt_core::report::write_json_string(&mut r, reason);
                let _ = write!(d, r#"{{"result-type":"{rt}","sending-mta-ip":"{}","receiving-mx-hostname":"mx.example","receiving-ip":"{}","failed-session-count":{n},"failure-reason-code":{r}}}"#,
                    std::net::Ipv4Addr::from(*v4), std::net::Ipv6Addr::from(*v6));
            }
            let _ = write!(policies, r#"{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1"],"policy-domain":"example.com","mx-host":["*.example.com"]}},"summary":{{"total-successful-session-count":{ok},"total-failure-session-count":{failed}}},"failure-details":[{d}]}}"#);
        }
        let (mut o, mut i) = (String::new(), String::new());
        tlsrpt_core::report::write_json_string(&mut o, &org);
        tlsrpt_core::report::write_json_string(&mut i, &id);
        let json = format!(r#"{{"organization-name":{o},"date-range":{{"start-datetime":"{}","end-datetime":"{}"}},"contact-info":"a@b.example","report-id":{i},"policies":[{policies}]}}"#, fmt_t(start), fmt_t(start + len));
        let parsed = Report::parse_strict(json.as_bytes()).unwrap();
        prop_assert_eq!(parsed.value.organization_name.as_ref(), org.as_str());
        let written = parsed.value.to_json(false);
        let back = Report::parse_strict(written.as_bytes()).unwrap();
        prop_assert_eq!(&back.value, &parsed.value);
        prop_assert_eq!(&back.value.to_json(false), &written);
        prop_assert_eq!(serde_json::to_string(&parsed.value).ok(), Some(written));
        prop_assert_eq!(serde_json::to_string_pretty(&parsed.value).ok(), Some(parsed.value.to_json(true)));
        // And serde_json agrees that it is valid JSON.
        prop_assert!(serde_json::from_str::<serde_json::Value>(&parsed.value.to_json(true)).is_ok());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = Report::parse_lenient(&bytes);
        let _ = Report::parse_strict(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = TlsRptRecord::parse(&text);
        let _ = TlsRptRecord::select(std::slice::from_ref(&bytes));
    }

    #[test]
    fn json_like_input_never_panics(s in r#"[{}\[\]":,0-9a-z\\ -]{0,200}"#) {
        let _ = Report::parse_lenient(s.as_bytes());
        let wrapped = format!(r#"{{"organization-name":"o","policies":[{s}]}}"#);
        let _ = Report::parse_lenient(wrapped.as_bytes());
    }
}
