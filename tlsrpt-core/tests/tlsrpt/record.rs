use mta_sts_core::txt::{Found, SyntaxError};
use tlsrpt_core::error::SelectError;
use tlsrpt_core::record::{RuaKind, txt_name};
use tlsrpt_core::{RecordError, TlsRptRecord};

use crate::data;

fn ok(s: &str) -> TlsRptRecord<'_> {
    TlsRptRecord::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The error of a record with a broken `v=...; name=value` syntax.
fn syntax(e: SyntaxError) -> Result<TlsRptRecord<'static>, RecordError> {
    Err(RecordError::Syntax(e))
}

/// The error of a record whose `rua` holds an invalid URI at `offset`.
fn invalid_uri(
    offset: usize,
    uri: &str,
    reason: &'static str,
) -> Result<TlsRptRecord<'static>, RecordError> {
    Err(RecordError::InvalidUri {
        offset,
        uri: uri.to_owned(),
        reason,
    })
}

/// `expected` missing at `offset`, where `found` is.
fn expected(offset: usize, expected: &'static str, found: Found) -> SyntaxError {
    SyntaxError::Expected {
        offset,
        expected,
        found,
    }
}

const NO_VERSION: SyntaxError = SyntaxError::MissingVersion {
    expected: "v=TLSRPTv1",
};

fn uris<'a>(r: &'a TlsRptRecord<'_>) -> Vec<&'a str> {
    r.rua().iter().map(|u| u.uri.as_ref()).collect()
}

#[test]
fn rpt_txt_01_name() {
    assert_eq!(txt_name("example.com"), "_smtp._tls.example.com");
}

#[test]
fn rpt_txt_02_version_case_sensitive() {
    assert_eq!(
        TlsRptRecord::parse("v=tlsrptv1; rua=mailto:a@x.example"),
        syntax(NO_VERSION)
    );
    for (bad, error) in [
        ("v=TLSRPTv0; rua=mailto:a@x.example", NO_VERSION),
        (
            "v=TLSRPTv10; rua=mailto:a@x.example",
            expected(10, "`;`", Found::Char('0')),
        ),
        ("v=TLSRPTv2; rua=mailto:a@x.example", NO_VERSION),
    ] {
        assert_eq!(TlsRptRecord::parse(bad), syntax(error), "{bad}");
    }
}

#[test]
fn rpt_txt_03_rua_list() {
    let r = ok("v=TLSRPTv1; rua=mailto:a@x.example, \thttps://r.example/p  ;");
    assert_eq!(uris(&r), ["mailto:a@x.example", "https://r.example/p"]);
    assert_eq!(r.rua()[1].kind, RuaKind::Https);
    assert_eq!(
        TlsRptRecord::parse("v=TLSRPTv1"),
        syntax(expected(10, "`;`", Found::End))
    );
    assert_eq!(
        TlsRptRecord::parse("v=TLSRPTv1;"),
        syntax(expected(11, "a field", Found::End))
    );
    assert_eq!(
        TlsRptRecord::parse("v=TLSRPTv1; ext=1"),
        Err(RecordError::MissingRua)
    );
    for (bad, error) in [
        ("v=TLSRPTv1; rua=", invalid_uri(16, "", "empty URI")),
        ("v=TLSRPTv1; rua=,, ,", invalid_uri(16, "", "empty URI")),
        (
            "v=TLSRPTv1; rua=mailto:a@x.example other",
            invalid_uri(
                34,
                "mailto:a@x.example other",
                "character not allowed in a URI",
            ),
        ),
    ] {
        assert_eq!(TlsRptRecord::parse(bad), error, "{bad}");
    }
}

#[test]
fn rpt_txt_04_encoded_characters() {
    let r = ok("v=TLSRPTv1; rua=mailto:a%2Cb@x.example");
    assert_eq!(r.rua().len(), 1);
    assert_eq!(
        r.rua()[0].kind,
        RuaKind::Mailto {
            address: "a,b@x.example".into()
        }
    );
    let e = TlsRptRecord::parse("v=TLSRPTv1; rua=mailto:a!b@x.example").unwrap_err();
    assert!(
        matches!(e, RecordError::InvalidUri { offset: 24, .. }),
        "{e:?}"
    );
    for uri in ["http://bad/%", "http://bad/%zz"] {
        assert_eq!(
            TlsRptRecord::parse(&format!("v=TLSRPTv1; rua={uri}")),
            invalid_uri(27, uri, "`%` must be followed by two hex digits"),
            "{uri}"
        );
    }
}

#[test]
fn rpt_txt_05_dec_14_unusable_schemes_kept() {
    let r = ok("v=TLSRPTv1; rua=http://r.example/p,postmaster@example.com");
    assert_eq!(r.rua().len(), 2);
    assert!(!r.is_usable());
    assert!(matches!(r.rua()[1].kind, RuaKind::Unsupported { .. }));
    let r = ok("v=TLSRPTv1; rua=MAILTO:x@y.example?subject=hi,HTTPS://r.example/");
    assert_eq!(r.usable_rua().count(), 2);
    assert_eq!(
        r.rua()[0].kind,
        RuaKind::Mailto {
            address: "x@y.example".into()
        }
    );
}

#[test]
fn rpt_txt_06_07_delimiters_and_extensions() {
    let r = ok("v=TLSRPTv1;rua=mailto:a@x.example;ext=yes;");
    assert_eq!(r.extensions()[0].name, "ext");
    assert_eq!(r.to_string(), "v=TLSRPTv1; rua=mailto:a@x.example; ext=yes");
    let bad_value = |offset, name: &str, reason| SyntaxError::InvalidValue {
        offset,
        name: name.to_owned(),
        reason,
    };
    for (bad, error) in [
        (
            "v=TLSRPTv1; rua=mailto:a@x.example; ext=",
            bad_value(40, "ext", "the value is empty"),
        ),
        (
            "v=TLSRPTv1; rua=mailto:a@x.example;;",
            expected(35, "a field name (a letter or digit)", Found::Char(';')),
        ),
        (
            "v=TLSRPTv1; rua=mailto:a@x.example; 1%=a",
            expected(37, "`=`", Found::Char('%')),
        ),
        (
            "v=TLSRPTv1; rua=mailto:a@x.example; test==",
            bad_value(
                41,
                "test",
                "values may not contain `=`, `;`, spaces or control characters",
            ),
        ),
    ] {
        assert_eq!(TlsRptRecord::parse(bad), syntax(error), "{bad}");
    }
}

#[test]
fn rpt_txt_08_09_selection() {
    let one = [
        b"v=spf1 -all".to_vec(),
        b"v=TLSRPTv1; rua=mailto:a@x.example".to_vec(),
    ];
    assert_eq!(TlsRptRecord::select(&one).unwrap().rua().len(), 1);
    let two = [
        b"v=TLSRPTv1; rua=mailto:a@x.example".to_vec(),
        b"v=TLSRPTv1; rua=mailto:b@x.example".to_vec(),
    ];
    assert_eq!(
        TlsRptRecord::select(&two),
        Err(SelectError::Multiple { count: 2 })
    );
    let none = [b"v=STSv1; id=1".to_vec()];
    assert_eq!(TlsRptRecord::select(&none), Err(SelectError::NoRecord));
    let bad = [b"v=TLSRPTv1; bad".to_vec()];
    assert!(matches!(
        TlsRptRecord::select(&bad),
        Err(SelectError::Invalid { index: 0, .. })
    ));
    let split = [mta_sts_core::txt::join_character_strings(&[
        "v=TLSRPTv1; rua=mai",
        "lto:a@x.example",
    ])];
    assert_eq!(
        TlsRptRecord::select(&split).unwrap().rua()[0].uri,
        "mailto:a@x.example"
    );
}

#[test]
fn rpt_txt_10_dec_13_several_rua_fields() {
    let r = ok("v=TLSRPTv1 ; rua=mailto:a@x.example; rua=https://r.example/,mailto:a@x.example");
    assert_eq!(uris(&r), ["mailto:a@x.example", "https://r.example/"]);
}

#[test]
fn rfc_examples() {
    let m = String::from_utf8(data("rfc/rfc8460-section-3.1.1-txt-record-mailto.txt")).unwrap();
    assert_eq!(uris(&ok(&m)), ["mailto:reports@example.com"]);
    let h = String::from_utf8(data("rfc/rfc8460-section-3.1.2-txt-record-https.txt")).unwrap();
    assert_eq!(uris(&ok(&h)), ["https://reporting.example.com/v1/tlsrpt"]);
}
