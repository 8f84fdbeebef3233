use mta_sts_core::policy::{LineEnding, MAX_MAX_AGE, MAX_POLICY_BODY, policy_url};
use mta_sts_core::{Mode, MxError, MxPattern, Policy, PolicyError, PolicyWarning};

use crate::replaced;

const RFC_A: &str = "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: mx2.example.com\nmx: mx.backup-example.com\nmax_age: 1296000\n";

fn strict(s: &str) -> Result<Policy<'_>, PolicyError> {
    Policy::parse(s)
}

fn mx_of(p: &Policy<'_>) -> Vec<String> {
    p.mx().iter().map(|m| m.to_string()).collect()
}

#[test]
fn sts_pol_01_required_fields() {
    assert_eq!(
        strict("version: STSv1\nmode: enforce\nmx: a.example\n"),
        Err(PolicyError::MissingField("max_age"))
    );
    assert_eq!(
        strict("mode: enforce\nmx: a.example\nmax_age: 1\n"),
        Err(PolicyError::MissingField("version"))
    );
    assert_eq!(
        strict("version: STSv1\nmx: a.example\nmax_age: 1\n"),
        Err(PolicyError::MissingField("mode"))
    );
    assert_eq!(
        strict("version: STSv1\nmode: enforce\nmax_age: 1\n"),
        Err(PolicyError::MissingMx("enforce"))
    );
    assert_eq!(
        strict("version: STSv1\nmode: testing\nmax_age: 1\n"),
        Err(PolicyError::MissingMx("testing"))
    );
    let none = strict("version: STSv1\nmode: none\nmax_age: 86400").unwrap();
    assert_eq!(none.mode(), Mode::None);
    assert!(none.mx().is_empty());
    assert_eq!(strict(""), Err(PolicyError::Empty));
}

#[test]
fn html_body_is_named_as_html() {
    let page = "<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n";
    assert_eq!(strict(page), Err(PolicyError::LooksLikeHtml));
    assert_eq!(
        Policy::parse_lenient(&format!("\u{feff}\n  {page}")).map(|l| l.value),
        Err(PolicyError::LooksLikeHtml)
    );
    assert!(
        PolicyError::LooksLikeHtml
            .to_string()
            .contains("looks like HTML")
    );
    // `<` later in the body is an ordinary malformed line.
    let later = strict("version: STSv1\n<p>\n").unwrap_err();
    assert_ne!(later, PolicyError::LooksLikeHtml);
    assert!(later.to_string().starts_with("line 2: "), "{later}");
}

#[test]
fn sts_pol_02_version_exact() {
    for v in ["STSv2", "stsv1", "STSv0", "STSv10", ""] {
        let body = format!("version: {v}\nmode: none\nmax_age: 1\n");
        assert!(
            matches!(
                strict(&body),
                Err(PolicyError::UnsupportedVersion { line: 1, .. })
            ),
            "{v}"
        );
    }
}

#[test]
fn sts_pol_03_mode_values_case_sensitive() {
    for m in ["Enforce", "report", "bad", "doubt", ""] {
        let body = format!("version: STSv1\nmode: {m}\nmx: a.example\nmax_age: 1\n");
        assert_eq!(
            strict(&body),
            Err(PolicyError::UnknownMode {
                line: 2,
                found: m.to_owned()
            }),
            "{m}"
        );
    }
}

#[test]
fn sts_pol_04_max_age_dec_05() {
    let body = |v: &str| format!("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: {v}\n");
    assert_eq!(strict(&body("31557600")).unwrap().max_age(), MAX_MAX_AGE);
    assert_eq!(strict(&body("0")).unwrap().max_age(), 0);
    assert_eq!(strict(&body("0000086400")).unwrap().max_age(), 86400);
    assert_eq!(
        strict(&body("31557601")),
        Err(PolicyError::MaxAgeTooLarge {
            line: Some(4),
            value: 31557601
        })
    );
    let big = body("9999999999");
    let lenient = Policy::parse_lenient(&big).unwrap();
    assert_eq!(lenient.value.max_age(), MAX_MAX_AGE);
    assert_eq!(
        lenient.warnings,
        [PolicyWarning::MaxAgeCapped {
            line: 4,
            value: 9_999_999_999
        }]
    );
    for bad in ["-1", "1e6", "01234567890", "xxx", "", "1 2", "+5"] {
        assert!(
            matches!(
                strict(&body(bad)),
                Err(PolicyError::InvalidMaxAge { line: 4, .. })
            ),
            "{bad}"
        );
        assert!(
            matches!(
                Policy::parse_lenient(&body(bad)),
                Err(PolicyError::InvalidMaxAge { line: 4, ref found }) if found == bad
            ),
            "lenient {bad}"
        );
    }
}

#[test]
fn sts_pol_05_mx_syntax() {
    let body = |m: &str| format!("version: STSv1\nmode: enforce\nmx: {m}\nmax_age: 1\n");
    assert_eq!(
        mx_of(&strict(&body("*.example.com")).unwrap()),
        ["*.example.com"]
    );
    for bad in [
        ".example.com",
        "mail.*.example.com",
        "*example.com",
        "mx_1.example.com",
        "example.com.",
        "*.*.example",
        "**.example",
        "test.example-",
        "-a.example",
        "a..example",
        "*",
        "*.",
    ] {
        assert!(
            matches!(
                strict(&body(bad)),
                Err(PolicyError::InvalidMx { line: Some(3), .. })
            ),
            "{bad}"
        );
    }
    assert_eq!(
        strict("version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n"),
        Err(PolicyError::InvalidMx {
            line: Some(3),
            error: MxError::Empty
        })
    );
}

/// Issue 15 item 8: a label of 64 octets, or a pattern of more than 253
/// characters, can match no DNS name. The strict reader refuses it like
/// any other invalid `mx`; the lenient reader ignores it with a warning
/// (the other patterns still protect the domain, as in DEC-05), so that
/// the policy written back is strictly valid (DEC-01).
#[test]
fn sts_pol_05_mx_dns_length_limits() {
    let body = |m: &str| {
        format!("version: STSv1\nmode: enforce\nmx: {m}\nmx: mx.example.net\nmax_age: 1\n")
    };
    let l63 = "a".repeat(63);
    let l64 = "a".repeat(64);
    // The limits themselves are fine.
    let at_limit = format!("{l63}.example.net");
    assert_eq!(
        mx_of(&strict(&body(&at_limit)).unwrap()),
        [at_limit.as_str(), "mx.example.net"]
    );
    let name_253 = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
    assert_eq!(name_253.len(), 253);
    assert!(strict(&body(&name_253)).is_ok());
    let wild_253 = format!("*.{l63}.{l63}.{l63}.{}", "b".repeat(59));
    assert_eq!(wild_253.len(), 253);
    assert!(strict(&body(&wild_253)).is_ok());

    // One more octet: strict error with the place and the length.
    let long_label = format!("mx.{l64}.example");
    assert_eq!(
        strict(&body(&long_label)),
        Err(PolicyError::InvalidMx {
            line: Some(3),
            error: MxError::LabelTooLong {
                pattern: long_label.clone(),
                offset: 3,
                length: 64
            }
        })
    );
    assert_eq!(
        strict(&body(&long_label)).unwrap_err().to_string(),
        format!("line 3: byte 3: label of 64 characters in MX pattern `{long_label}` (at most 63)")
    );
    let name_254 = format!("{name_253}b");
    assert_eq!(
        strict(&body(&name_254)),
        Err(PolicyError::InvalidMx {
            line: Some(3),
            error: MxError::TooLong {
                pattern: name_254.clone(),
                length: 254
            }
        })
    );
    let wild_254 = format!("{wild_253}b");
    assert!(matches!(
        strict(&body(&wild_254)),
        Err(PolicyError::InvalidMx {
            error: MxError::TooLong { length: 254, .. },
            ..
        })
    ));
    assert!(matches!(
        MxPattern::parse(&format!("*.{l64}.example")),
        Err(MxError::LabelTooLong {
            offset: 2,
            length: 64,
            ..
        })
    ));
    assert!(
        MxPattern::from_user(&long_label).is_err(),
        "the builder applies the limits too"
    );

    // Lenient: ignored, one warning naming the line and the problem; the
    // other pattern still works, and the canonical form is strictly valid.
    for (pattern, reason_part) in [
        (long_label.as_str(), "label of 64 characters"),
        (
            name_254.as_str(),
            "MX pattern of 254 characters (at most 253)",
        ),
    ] {
        let text = body(pattern);
        let r = Policy::parse_lenient(&text).unwrap();
        assert_eq!(mx_of(&r.value), ["mx.example.net"]);
        assert_eq!(r.warnings.len(), 1, "{pattern}");
        assert_eq!(r.warnings[0].code().as_str(), "mx-too-long");
        let PolicyWarning::MxTooLong { line, reason } = &r.warnings[0] else {
            panic!("{:?}", r.warnings[0]);
        };
        assert_eq!(*line, 3);
        assert!(reason.contains(reason_part), "{reason}");
        assert!(
            r.warnings[0]
                .to_string()
                .ends_with("; pattern ignored (no host name can match it)"),
        );
        assert!(r.value.matches_mx("mx.example.net"));
        let canonical = r.value.to_string();
        assert_eq!(Policy::parse(&canonical).unwrap(), r.value);
        // The policy string (TLS-RPT) still shows what was served.
        let served = format!("mx: {pattern}");
        assert!(r.value.policy_string().contains(&served.as_str()));
    }
    // Nothing else left: the lenient reader refuses the policy too, with
    // the reason rather than "missing mx".
    let only = format!("version: STSv1\nmode: enforce\nmx: {long_label}\nmax_age: 1\n");
    assert_eq!(
        Policy::parse_lenient(&only).unwrap_err(),
        strict(&only).unwrap_err()
    );
    assert!(matches!(
        Policy::parse_lenient(&only),
        Err(PolicyError::InvalidMx {
            line: Some(3),
            error: MxError::LabelTooLong { .. }
        })
    ));
    let none = format!("version: STSv1\nmode: none\nmx: {long_label}\nmax_age: 1\n");
    assert!(Policy::parse_lenient(&none).unwrap().value.mx().is_empty());
}

#[test]
fn sts_pol_06_u_labels_rejected() {
    let e = strict("version: STSv1\nmode: enforce\nmx: bücher.example\nmax_age: 1\n").unwrap_err();
    assert!(matches!(
        e,
        PolicyError::InvalidMx {
            line: Some(3),
            error: MxError::NotAscii { .. }
        }
    ));
    assert!(e.to_string().contains("A-labels"));
    let p =
        strict("version: STSv1\nmode: enforce\nmx: xn--bcher-kva.example\nmax_age: 1\n").unwrap();
    assert!(p.matches_mx("bücher.example"));
}

#[test]
fn sts_pol_07_one_pattern_per_line() {
    let e = strict("version: STSv1\nmode: enforce\nmx: a.example, b.example\nmax_age: 1\n")
        .unwrap_err();
    assert!(matches!(
        e,
        PolicyError::InvalidMx {
            line: Some(3),
            error: MxError::InvalidChar { found: ',', .. }
        }
    ));
}

#[test]
fn sts_pol_08_line_endings() {
    let lf = strict(RFC_A).unwrap();
    let crlf = replaced(RFC_A, "\n", "\r\n");
    let mixed = "version: STSv1\r\nmode: testing\nmx: mx1.example.com\r\nmx: mx2.example.com\nmx: mx.backup-example.com\nmax_age: 1296000";
    let no_final = RFC_A.trim_end();
    for v in [crlf.as_str(), mixed, no_final] {
        assert_eq!(strict(v).unwrap(), lf);
    }
    // DEC-06: a bare CR is an error.
    assert_eq!(
        strict("version: STSv1\rmode: none\nmax_age: 1\n"),
        Err(PolicyError::BareCr { line: 1 })
    );
}

#[test]
fn sts_pol_09_colon_and_whitespace() {
    for ok in [
        "version:STSv1\nmode:enforce\nmx:a.example\nmax_age:1",
        "version: STSv1\nmode:\tenforce\nmx:  \t\t a.example\nmax_age: 1  ",
        "version: STSv1\nmode: enforce\t\nmx: a.example \nmax_age: 0 \n",
    ] {
        assert_eq!(strict(ok).unwrap().mode(), Mode::Enforce, "{ok:?}");
    }
    assert_eq!(
        strict("version: STSv1\nmode : enforce\nmx: a.example\nmax_age: 1\n"),
        Err(PolicyError::MalformedLine {
            line: 2,
            reason: "whitespace before `:`"
        })
    );
    assert_eq!(
        strict("version: STSv1\nmode none\nmax_age: 1\n"),
        Err(PolicyError::MalformedLine {
            line: 2,
            reason: "expected `key: value`"
        })
    );
    assert!(matches!(
        strict(": 8600\nversion: STSv1\n"),
        Err(PolicyError::InvalidKey { line: 1, .. })
    ));
}

#[test]
fn sts_pol_10_keys_case_sensitive() {
    let e = strict("Version: STSv1\nmode: none\nmax_age: 1\n").unwrap_err();
    assert_eq!(e, PolicyError::MissingField("version"));
    let e = strict("version: STSv1\nmode: enforce\nMX: a.example\nmax_age: 1\n").unwrap_err();
    assert_eq!(e, PolicyError::MissingMx("enforce"));
}

#[test]
fn sts_pol_11_12_extensions_kept_in_order() {
    let p = strict("version: STSv1\nfoo: bar baz\nmode: none\nmore:ext e  ns ion\nx.y-z_1: caf\u{e9}: ok\nmax_age: 1\n").unwrap();
    let ext: Vec<(&str, &str)> = p
        .extensions()
        .iter()
        .map(|e| (e.name.as_ref(), e.value.as_ref()))
        .collect();
    assert_eq!(
        ext,
        [
            ("foo", "bar baz"),
            ("more", "ext e  ns ion"),
            ("x.y-z_1", "caf\u{e9}: ok")
        ]
    );
    assert!(
        p.to_string()
            .ends_with("max_age: 1\nfoo: bar baz\nmore: ext e  ns ion\nx.y-z_1: caf\u{e9}: ok\n")
    );
    let control = |reason| PolicyError::InvalidValue {
        line: 4,
        key: "ext".to_owned(),
        reason,
    };
    let control_char = control("control character (tabs are allowed only around the value)");
    let key = |key: &str| PolicyError::InvalidKey {
        line: 4,
        key: key.to_owned(),
    };
    for (bad, error) in [
        ("ext: a\u{7}b", control_char.clone()),
        ("ext: a\tb", control_char.clone()),
        ("ext: a\u{0}", control_char),
        ("ext:", control("the value is empty")),
        ("_bad: test", key("_bad")),
        (
            "# comment",
            PolicyError::MalformedLine {
                line: 4,
                reason: "expected `key: value`",
            },
        ),
        ("-x: y", key("-x")),
        ("x+y: z", key("x+y")),
    ] {
        let body = format!("version: STSv1\nmode: none\nmax_age: 1\n{bad}\n");
        assert_eq!(strict(&body), Err(error), "{bad:?}");
    }
    let long = format!(
        "version: STSv1\nmode: none\nmax_age: 1\na{}: v\n",
        "b".repeat(32)
    );
    assert!(matches!(
        strict(&long),
        Err(PolicyError::InvalidKey { line: 4, .. })
    ));
}

#[test]
fn sts_pol_13_duplicates() {
    let body = "version: STSv1\nmode: enforce\nmode: testing\nmode: bogus\nmx: a.example\nmx: b.example\nmx: c.example\nmax_age: 1\nmax_age: xx\n";
    let p = strict(body).unwrap();
    assert_eq!(p.mode(), Mode::Enforce);
    assert_eq!(p.max_age(), 1);
    assert_eq!(mx_of(&p), ["a.example", "b.example", "c.example"]);
    let ignored: Vec<(usize, &str)> = p
        .ignored()
        .iter()
        .map(|i| (i.line, i.value.as_ref()))
        .collect();
    assert_eq!(ignored, [(3, "testing"), (4, "bogus"), (9, "xx")]);
    let l = Policy::parse_lenient(body).unwrap();
    assert_eq!(l.warnings.len(), 3);
    assert_eq!(
        l.warnings[0],
        PolicyWarning::DuplicateField {
            line: 3,
            key: "mode".into()
        }
    );
}

#[test]
fn sts_pol_14_field_order_free() {
    let p = strict("max_age: 5\nmx: a.example\nmode: testing\nversion: STSv1").unwrap();
    assert_eq!((p.mode(), p.max_age()), (Mode::Testing, 5));
}

#[test]
fn sts_pol_15_rfc_examples() {
    let p = strict(RFC_A).unwrap();
    assert_eq!(p.mode(), Mode::Testing);
    assert_eq!(p.max_age(), 1_296_000);
    assert_eq!(
        mx_of(&p),
        [
            "mx1.example.com",
            "mx2.example.com",
            "mx.backup-example.com"
        ]
    );
}

#[test]
fn dec_06_blank_lines_and_bom() {
    let body = "\u{feff}version: STSv1\n\nmode: none\n  \n max_age: 1\n\n";
    assert!(matches!(
        strict(body),
        Err(PolicyError::InvalidKey { line: 1, .. })
    ));
    assert_eq!(
        strict("version: STSv1\n\nmode: none\nmax_age: 1\n"),
        Err(PolicyError::BlankLine { line: 2 })
    );
    assert_eq!(
        strict("version: STSv1\nmode: none\nmax_age: 1\n\n"),
        Err(PolicyError::BlankLine { line: 4 })
    );
    let l = Policy::parse_lenient(body).unwrap();
    assert_eq!(l.value.max_age(), 1);
    assert_eq!(
        l.warnings,
        [
            PolicyWarning::ByteOrderMark,
            PolicyWarning::BlankLine { line: 2 },
            PolicyWarning::BlankLine { line: 4 },
            PolicyWarning::LeadingWhitespace { line: 5 },
            PolicyWarning::BlankLine { line: 6 },
        ]
    );
    assert_eq!(
        l.value.policy_string(),
        ["version: STSv1", "mode: none", " max_age: 1"]
    );
}

#[test]
fn body_limits_and_encoding_dec_27_dec_28() {
    let big = vec![b'a'; MAX_POLICY_BODY + 1];
    assert_eq!(
        Policy::body_text(&big),
        Err(PolicyError::TooLarge {
            size: MAX_POLICY_BODY + 1,
            limit: MAX_POLICY_BODY
        })
    );
    assert!(Policy::body_text(&big[..MAX_POLICY_BODY]).is_ok());
    assert_eq!(
        Policy::body_text(b"version: STSv1\n\xff"),
        Err(PolicyError::NotUtf8 { offset: 15 })
    );
}

#[test]
fn display_crlf_and_policy_string() {
    let p = strict(RFC_A).unwrap();
    assert_eq!(p.to_string(), RFC_A);
    let crlf = p.to_string_with(LineEnding::CrLf);
    assert_eq!(crlf, replaced(RFC_A, "\n", "\r\n"));
    assert_eq!(strict(&crlf).unwrap(), p);
    assert_eq!(
        p.policy_string(),
        [
            "version: STSv1",
            "mode: testing",
            "mx: mx1.example.com",
            "mx: mx2.example.com",
            "mx: mx.backup-example.com",
            "max_age: 1296000"
        ]
    );
    assert_eq!(
        policy_url("example.com"),
        "https://mta-sts.example.com/.well-known/mta-sts.txt"
    );
}

#[test]
fn builder_applies_parser_rules() {
    let p = Policy::builder()
        .mode(Mode::Testing)
        .mx("MX.Example.com.")
        .max_age(86400)
        .extension("note", "hi there")
        .build()
        .unwrap();
    assert_eq!(
        p.to_string(),
        "version: STSv1\nmode: testing\nmx: MX.Example.com\nmax_age: 86400\nnote: hi there\n"
    );
    assert_eq!(p.raw(), p.to_string());
    assert_eq!(strict(&p.to_string()).unwrap(), p);
    assert_eq!(
        Policy::builder().mode(Mode::Enforce).max_age(1).build(),
        Err(PolicyError::MissingMx("enforce"))
    );
    assert_eq!(
        Policy::builder().mx("a.example").max_age(1).build(),
        Err(PolicyError::MissingField("mode"))
    );
    assert_eq!(
        Policy::builder()
            .mode(Mode::None)
            .max_age(31_557_601)
            .build(),
        Err(PolicyError::MaxAgeTooLarge {
            line: None,
            value: 31_557_601
        })
    );
    assert!(matches!(
        Policy::builder()
            .mode(Mode::Enforce)
            .mx("bad_name.example")
            .max_age(1)
            .build(),
        Err(PolicyError::InvalidMx { line: None, .. })
    ));
    assert!(matches!(
        Policy::builder()
            .mode(Mode::Enforce)
            .mx("xn--.example\u{ff00}")
            .max_age(1)
            .build(),
        Err(PolicyError::InvalidMx {
            line: None,
            error: MxError::Idna { .. }
        })
    ));
    assert!(matches!(
        Policy::builder()
            .mode(Mode::None)
            .max_age(1)
            .extension("mode", "x")
            .build(),
        Err(PolicyError::InvalidExtension { .. })
    ));
    assert_eq!(
        Policy::builder()
            .mode(Mode::None)
            .max_age(1)
            .extension("x", "a\u{1}")
            .build(),
        Err(PolicyError::InvalidExtension {
            name: "x".to_owned(),
            reason: "values are non-empty and without control characters"
        })
    );
}

#[test]
fn serde_round_trip_revalidates() {
    let p = strict(RFC_A).unwrap().into_owned();
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(json, serde_json::to_string(RFC_A).unwrap());
    let back: Policy<'static> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let e = serde_json::from_str::<Policy<'static>>("\"garbage\"").unwrap_err();
    assert!(e.is_data(), "{e}");
    assert_eq!(e.to_string(), "line 1: expected `key: value`");
}

#[test]
fn errors_name_the_line() {
    let e = strict("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1e6\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 4: invalid max_age `1e6` (expected 1 to 10 digits)"
    );
    let e = strict("version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3: byte 2: empty label in MX pattern `a..example`"
    );
}

#[test]
fn lint_findings_sts_cache_13_removal_advice() {
    use mta_sts_core::lint::Severity;
    let codes = |s: &str| -> Vec<(Severity, &'static str)> {
        Policy::parse_lenient(s)
            .unwrap()
            .value
            .lint()
            .iter()
            .map(|f| (f.severity, f.code.as_str()))
            .collect()
    };
    assert_eq!(
        codes("version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 1209600\n"),
        []
    );
    let c = codes(
        "version: STSv1\nmode: testing\nmx: *.com\nmx: mx.example.com\nmx: MX.example.com\nmx: 192.0.2.1\nmax_age: 3600\nfoo: bar\nmode: enforce\n",
    );
    assert_eq!(c[0].0, Severity::Error);
    for code in [
        "testing-mode",
        "short-max-age",
        "wildcard-public-suffix",
        "duplicate-mx",
        "mx-never-matches",
        "unknown-field",
        "duplicate-field",
    ] {
        assert!(
            c.iter().any(|(_, k)| *k == code),
            "{code} missing from {c:?}"
        );
    }
    let c = codes(
        "version: STSv1\nmode: enforce\nmx: *.co.uk\nmx: a.example.com\nmx: *.example.com\nmax_age: 0\n",
    );
    assert!(c.contains(&(Severity::Warning, "wildcard-public-suffix")));
    assert!(c.contains(&(Severity::Info, "mx-covered-by-wildcard")));
    assert!(c.contains(&(Severity::Warning, "zero-max-age")));
    // A pattern no host can match is ignored by the lenient reader (with
    // an `mx-too-long` warning, which `mtasts policy lint` reports as an
    // `mx-never-matches` error), so the lint does not see it.
    let long_label = format!(
        "version: STSv1\nmode: enforce\nmx: {}.example\nmx: mx.example\nmax_age: 604800\n",
        "a".repeat(64)
    );
    assert!(!codes(&long_label).contains(&(Severity::Error, "mx-never-matches")));
    let c = codes("version: STSv1\nmode: none\nmax_age: 31557600\nmx: a.example\n");
    assert!(c.contains(&(Severity::Warning, "none-long-max-age")));
    assert!(c.contains(&(Severity::Info, "none-with-mx")));
}

/// Issue 15 item 7: error messages that echo the input show control
/// characters, C1 controls and bidi overrides as escapes, so that printing
/// an error cannot drive a terminal.
#[test]
fn errors_escape_echoed_input() {
    let policy_error = |s: &str| Policy::parse(s).unwrap_err().to_string();
    assert_eq!(
        policy_error("version: STSv1\nmode: \u{9b}31m\nmax_age: 1\n"),
        "line 2: unknown mode `\\u{9b}31m` (expected `enforce`, `testing` or `none`)"
    );
    assert_eq!(
        policy_error("version: ST\u{202e}Sv1\nmode: none\nmax_age: 1\n"),
        "line 1: unsupported version `ST\\u{202e}Sv1` (expected `STSv1`)"
    );
    assert!(
        policy_error("version: STSv1\nmode: none\nmax_age: 1\nk\x1b[2Jey: v\n")
            .starts_with("line 4: invalid key `k\\u{1b}[2Jey` ")
    );
    assert_eq!(
        mta_sts_core::StsRecord::parse("v=STSv1; id=\x1b[2J;")
            .unwrap_err()
            .to_string(),
        "byte 12: invalid id `\\u{1b}[2J` (expected 1 to 32 letters and digits)"
    );
    assert_eq!(
        mta_sts_core::domain::normalize("a\u{1b}b.example")
            .unwrap_err()
            .to_string(),
        "invalid domain `a\\u{1b}b.example`: label 0 has `\\u{1b}`; only letters, digits, `-` and `_` are allowed"
    );
    // The unescaped value is still there for programs.
    assert!(matches!(
        Policy::parse("version: STSv1\nmode: \u{9b}\nmax_age: 1\n"),
        Err(PolicyError::UnknownMode { found, .. }) if found == "\u{9b}"
    ));
}
