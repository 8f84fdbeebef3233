use mta_sts_core::error::SelectError;
use mta_sts_core::record::{policy_domain, txt_name};
use mta_sts_core::txt::{Found, SyntaxError, join_character_strings};
use mta_sts_core::{RecordError, StsRecord};

/// The error of a record with a broken `v=...; name=value` syntax.
fn syntax(e: SyntaxError) -> Result<StsRecord<'static>, RecordError> {
    Err(RecordError::Syntax(e))
}

/// `expected` missing at `offset`, where `found` is.
fn expected(offset: usize, expected: &'static str, found: Found) -> SyntaxError {
    SyntaxError::Expected {
        offset,
        expected,
        found,
    }
}

/// An invalid value of field `name` at `offset`.
fn bad_value(offset: usize, name: &str, reason: &'static str) -> SyntaxError {
    SyntaxError::InvalidValue {
        offset,
        name: name.to_owned(),
        reason,
    }
}

const NO_VERSION: SyntaxError = SyntaxError::MissingVersion {
    expected: "v=STSv1",
};

const FIELD_NAME: &str = "a field name (a letter or digit)";

fn ok(s: &str) -> StsRecord<'_> {
    StsRecord::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

#[test]
fn sts_txt_01_lookup_name() {
    assert_eq!(txt_name("example.com"), "_mta-sts.example.com");
    assert_eq!(txt_name("example.com."), "_mta-sts.example.com");
}

#[test]
fn sts_txt_02_non_ascii_rejected_with_offset() {
    let e = StsRecord::parse("v=STSv1; id=caf\u{e9}").unwrap_err();
    assert_eq!(
        e,
        RecordError::Syntax(SyntaxError::NotAscii {
            offset: 15,
            byte: 0xc3
        })
    );
    assert!(e.to_string().contains("byte 15"), "{e}");
}

#[test]
fn sts_txt_03_version_first_and_case_sensitive() {
    for bad in [
        "id=1; v=STSv1",
        "V=STSv1; id=1",
        "v=stsv1; id=1",
        " v=STSv1; id=1",
    ] {
        assert!(
            matches!(
                StsRecord::parse(bad),
                Err(RecordError::Syntax(SyntaxError::MissingVersion { .. }))
            ),
            "{bad}"
        );
    }
    let r = ok("v=STSv1; ext=x; id=1");
    assert_eq!(r.id(), "1");
    assert_eq!(r.extensions()[0].name, "ext");
    // v=STSv0 / v=STSv10 / v=STSv2 (mox TestRecord)
    for (bad, error) in [
        ("v=STSv0; id=1", NO_VERSION),
        ("v=STSv10; id=1", expected(7, "`;`", Found::Char('0'))),
        ("v=STSv2; id=1", NO_VERSION),
    ] {
        assert_eq!(StsRecord::parse(bad), syntax(error), "{bad}");
    }
}

#[test]
fn sts_txt_04_id_rules_dec_03() {
    assert_eq!(
        StsRecord::parse("v=STSv1;"),
        Err(RecordError::Syntax(SyntaxError::Expected {
            offset: 8,
            expected: "a field",
            found: Found::End
        }))
    );
    assert_eq!(
        StsRecord::parse("v=STSv1; ext=1"),
        Err(RecordError::MissingId)
    );
    assert!(matches!(
        StsRecord::parse("v=STSv1"),
        Err(RecordError::Syntax(SyntaxError::Expected { offset: 7, .. }))
    ));
    let thirty_three = "1".repeat(33);
    for bad in [
        "v=STSv1; id=".to_owned(),
        format!("v=STSv1; id={thirty_three}"),
        "v=STSv1; id=abc+1".to_owned(),
        "v=STSv1; id=test-123".to_owned(),
    ] {
        match StsRecord::parse(&bad) {
            Err(RecordError::InvalidId { offset: 12, .. }) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert_eq!(
        ok(&format!("v=STSv1; id={}", "a".repeat(32))).id().len(),
        32
    );
    // `ID=b` is an extension, not the id (keys are case-sensitive).
    let r = ok("v=STSv1; id=a; ID=b");
    assert_eq!(r.id(), "a");
    assert_eq!(r.extensions()[0].name, "ID");
}

#[test]
fn sts_txt_05_ids_compare_for_equality_only() {
    let a = ok("v=STSv1; id=2");
    let b = ok("v=STSv1; id=1");
    assert_ne!(a.id(), b.id());
}

#[test]
fn sts_txt_06_delimiters_dec_02() {
    for s in [
        "v=STSv1;id=a",
        "v=STSv1 ;id=a",
        "v=STSv1; id=a;",
        "v=STSv1; \t id=a  \t;",
        "v=STSv1  ;    id=a",
    ] {
        assert_eq!(ok(s).id(), "a", "{s}");
    }
    for (bad, error) in [
        (
            "v=STSv1; id=a;;",
            expected(14, FIELD_NAME, Found::Char(';')),
        ),
        ("v=STSv1; id=a ", expected(14, "`;`", Found::End)),
        ("v=STSv1 id=a", expected(8, "`;`", Found::Char('i'))),
        ("v=STSv1;; id=a", expected(8, FIELD_NAME, Found::Char(';'))),
    ] {
        assert_eq!(StsRecord::parse(bad), syntax(error), "{bad}");
    }
}

#[test]
fn sts_txt_07_extension_syntax() {
    let r = ok("v=STSv1; id=a; foo_bar=baz; more=a; ext=2");
    let names: Vec<&str> = r.extensions().iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(names, ["foo_bar", "more", "ext"]);
    let not_allowed = "values may not contain `=`, `;`, spaces or control characters";
    for (bad, error) in [
        ("v=STSv1; id=a; foo=a b", bad_value(20, "foo", not_allowed)),
        (
            "v=STSv1; id=a; more=",
            bad_value(20, "more", "the value is empty"),
        ),
        ("v=STSv1; id=a; 1%=a", expected(16, "`=`", Found::Char('%'))),
        ("v=STSv1; id=a; test==", bad_value(20, "test", not_allowed)),
        (
            "v=STSv1; id=a; _x=1",
            expected(15, FIELD_NAME, Found::Char('_')),
        ),
    ] {
        assert_eq!(StsRecord::parse(bad), syntax(error), "{bad}");
    }
    let long = format!("v=STSv1; id=a; a{}=1", "b".repeat(32));
    assert!(matches!(
        StsRecord::parse(&long),
        Err(RecordError::Syntax(SyntaxError::NameTooLong {
            offset: 15,
            ..
        }))
    ));
    assert!(StsRecord::parse(&format!("v=STSv1; id=a; a{}=1", "b".repeat(31))).is_ok());
}

#[test]
fn sts_txt_08_unknown_fields_kept() {
    let r = ok("v=STSv1; id=a; include=x.example");
    assert_eq!(r.extensions()[0].value, "x.example");
    assert_eq!(r.to_string(), "v=STSv1; id=a; include=x.example");
}

#[test]
fn sts_txt_09_first_id_wins() {
    let r = ok("v=STSv1; id=a; id=b");
    assert_eq!(r.id(), "a");
    assert_eq!(r.ignored().len(), 1);
    assert_eq!(r.ignored()[0].value, "b");
    // A second `v` is ignored too.
    let r = ok("v=STSv1; id=a; v=STSv2");
    assert_eq!(r.ignored()[0].name, "v");
    assert!(r.extensions().is_empty());
}

#[test]
fn sts_txt_10_selection_from_answer() {
    let spf_and_sts = [b"v=spf1 -all".to_vec(), b"v=STSv1; id=1".to_vec()];
    assert_eq!(StsRecord::select(&spf_and_sts).unwrap().id(), "1");
    let two = [b"v=STSv1; id=1".to_vec(), b"v=STSv1; id=2".to_vec()];
    assert_eq!(
        StsRecord::select(&two),
        Err(SelectError::Multiple { count: 2 })
    );
    let broken = [b"v=STSv1; bogus".to_vec()];
    assert!(matches!(
        StsRecord::select(&broken),
        Err(SelectError::Invalid { index: 0, .. })
    ));
    let none: [Vec<u8>; 2] = [b"bogus".to_vec(), b"v=STSv12; id=1".to_vec()];
    assert_eq!(StsRecord::select(&none), Err(SelectError::NoRecord));
    let empty: [Vec<u8>; 0] = [];
    assert_eq!(StsRecord::select(&empty), Err(SelectError::NoRecord));
    // DEC-02: WSP before `;` still makes a candidate.
    let ws = [b"v=STSv1 ; id=1".to_vec(), b"v=STSv1; id=2".to_vec()];
    assert_eq!(
        StsRecord::select(&ws),
        Err(SelectError::Multiple { count: 2 })
    );
    // A candidate with non-UTF-8 bytes is invalid, with its offset.
    let bin = [b"v=STSv1; id=\xff".to_vec()];
    match StsRecord::select(&bin) {
        Err(SelectError::Invalid {
            error:
                RecordError::Syntax(SyntaxError::NotAscii {
                    offset: 12,
                    byte: 0xff,
                }),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn sts_txt_11_character_strings_joined() {
    let rr = join_character_strings(&["v=STSv1; i", "d=abc"]);
    let answer = [rr];
    assert_eq!(StsRecord::select(&answer).unwrap().id(), "abc");
}

#[test]
fn sts_txt_14_15_16_17_policy_domain() {
    assert_eq!(
        policy_domain("alice@example.com", None).as_deref(),
        Some("example.com")
    );
    // No fallback to the parent zone.
    assert_eq!(
        policy_domain("u@mail.example.com", None).as_deref(),
        Some("mail.example.com")
    );
    assert_eq!(
        policy_domain("u@example.com", Some("relay.example.net.")).as_deref(),
        Some("relay.example.net")
    );
    assert_eq!(policy_domain("u@[192.0.2.1]", None), None);
    assert_eq!(policy_domain("u@[IPv6:2001:db8::1]", None), None);
    assert_eq!(policy_domain("no-at-sign", None), None);
}

#[test]
fn record_display_and_from_str() {
    let r: StsRecord<'static> = "v=STSv1 ;id=20160831085700Z;ext=1;".parse().unwrap();
    assert_eq!(r.to_string(), "v=STSv1; id=20160831085700Z; ext=1");
    assert_eq!(
        StsRecord::new("bad+id"),
        Err(RecordError::InvalidId {
            offset: 0,
            found: "bad+id".to_owned()
        })
    );
    assert_eq!(
        StsRecord::new("20260101000000").unwrap().to_string(),
        "v=STSv1; id=20260101000000"
    );
}

#[test]
fn record_errors_name_position() {
    let e = StsRecord::parse("v=STSv1; id=a; foo").unwrap_err();
    assert_eq!(e.to_string(), "byte 18: expected `=`, found end of record");
    let e = StsRecord::parse("v=STSv1; id=a; foo=a b").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("byte 20: invalid value for field `foo`"),
        "{e}"
    );
}
