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

/// Issue 15 item 8: an `https:` URI whose authority is malformed is kept
/// but flagged unusable, with the reason (a warning in `mtasts record
/// parse`, and no report is sent to it), like other unusable URIs.
#[test]
fn rpt_txt_05_dec_14_https_authority_checked() {
    let kind = |uri: &str| {
        let text = format!("v=TLSRPTv1; rua={uri}");
        let r = ok(&text);
        assert_eq!(r.rua().len(), 1, "{uri}");
        assert_eq!(r.rua()[0].uri, uri);
        match r.rua()[0].kind {
            RuaKind::Https => Ok(()),
            RuaKind::Unsupported { reason } => Err(reason),
            ref other => panic!("{uri}: {other:?}"),
        }
    };
    for good in [
        "https://reports.example.com/v1",
        "https://reports.example.com",
        "HTTPS://Reports.Example.COM./x?y#z",
        "https://reports.example.com:8443/tlsrpt",
        "https://reports.example.com:/tlsrpt",
        "https://user:pw@reports.example.com/",
        "https://[::1]/tlsrpt",
        "https://[2001:db8::1]:443",
        "https://192.0.2.1:443/r",
        &format!("https://{}.example/", "a".repeat(63)),
    ] {
        assert_eq!(kind(good), Ok(()), "{good}");
    }
    for (bad, reason) in [
        (
            "https://[::1",
            "`https:` URI with an unclosed `[` in its host",
        ),
        (
            "https://[::1/x]",
            "`https:` URI with an unclosed `[` in its host",
        ),
        (
            "https://[not-an-ip]/",
            "`https:` URI with an invalid IPv6 address in `[...]`",
        ),
        (
            "https://[::1]x/",
            "`https:` URI with characters after the `]` of its host",
        ),
        ("https://", "`https:` without a host"),
        ("https:///path", "`https:` without a host"),
        ("https://:443/path", "`https:` without a host"),
        ("https://user@/path", "`https:` without a host"),
        ("https:reports.example.com", "`https:` without a host"),
        (
            "https://a]b.example/",
            "`https:` URI with `[` or `]` outside an IPv6 address",
        ),
        (
            "https://a@b@c.example/",
            "`https:` URI with `@`, `[` or `]` in its user information",
        ),
        (
            "https://reports..example/",
            "`https:` URI whose host is not a valid domain name",
        ),
        (
            "https://r*.example/",
            "`https:` URI whose host is not a valid domain name",
        ),
        (
            "https://reports.example.com:https/",
            "`https:` URI with an invalid port (expected 1 to 65535)",
        ),
        (
            "https://reports.example.com:65536/",
            "`https:` URI with an invalid port (expected 1 to 65535)",
        ),
        (
            "https://reports.example.com:0/",
            "`https:` URI with an invalid port (expected 1 to 65535)",
        ),
        (
            "https://reports.example.com:443:1/",
            "`https:` URI with an invalid port (expected 1 to 65535)",
        ),
        (
            "https://[::1]:x/",
            "`https:` URI with an invalid port (expected 1 to 65535)",
        ),
    ] {
        assert_eq!(kind(bad), Err(reason), "{bad}");
    }
    let long = format!("https://{}.example/", "a".repeat(64));
    assert_eq!(
        kind(&long),
        Err("`https:` URI whose host is not a valid domain name")
    );
    // The record itself still parses; a usable URI beside it is kept.
    let r = ok("v=TLSRPTv1; rua=https://[::1,mailto:tlsrpt@example.com");
    assert!(r.is_usable());
    assert_eq!(r.usable_rua().count(), 1);
    let r = ok("v=TLSRPTv1; rua=https://[::1");
    assert!(!r.is_usable());
}
