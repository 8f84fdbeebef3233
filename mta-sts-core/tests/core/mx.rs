use mta_sts_core::{MxError, MxPattern, Policy};

fn pat(s: &str) -> MxPattern<'_> {
    MxPattern::parse(s).unwrap()
}

#[test]
fn sts_mx_01_host_must_match_a_pattern() {
    let p =
        Policy::parse("version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 1").unwrap();
    assert!(!p.matches_mx("mx9.other.example"));
    assert_eq!(
        p.matching_pattern("mx1.example.com").map(|m| m.as_str()),
        Some("mx1.example.com")
    );
    assert_eq!(p.matching_pattern("mx9.other.example"), None);
}

#[test]
fn sts_mx_02_case_insensitive_exact() {
    assert!(pat("mx1.example.com").matches("MX1.Example.COM"));
    assert!(pat("MX1.EXAMPLE.COM").matches("mx1.example.com"));
    assert!(!pat("mx1.example.com").matches("mx1.example.co"));
    assert!(!pat("mx1.example.com").matches("xmx1.example.com"));
    assert!(!pat("mx1.example.com").matches(""));
}

#[test]
fn sts_mx_03_04_wildcard_one_label() {
    let w = pat("*.example.com");
    assert!(w.matches("mail.example.com"));
    assert!(!w.matches("example.com"));
    assert!(!w.matches("foo.bar.example.com"));
    assert!(!w.matches(".example.com"));
    assert!(!w.matches("evil-mail.example.com.evil"));
    assert!(!w.matches("mailexample.com"));
    assert!(!w.matches("x.notexample.com"));
    assert!(w.matches("without-dots.example.com"));
    // *.*.com and other forms never validate as patterns.
    assert!(matches!(
        MxPattern::parse("*.*.com"),
        Err(MxError::Wildcard { offset: 2, .. })
    ));
    assert!(matches!(
        MxPattern::parse("abc.*.com"),
        Err(MxError::Wildcard { offset: 4, .. })
    ));
    assert!(matches!(
        MxPattern::parse(".aa.b.cc.com"),
        Err(MxError::EmptyLabel { offset: 0, .. })
    ));
}

#[test]
fn sts_mx_05_a_labels() {
    let p = pat("xn--bcher-kva.example");
    assert!(p.matches("xn--bcher-kva.example"));
    assert!(p.matches("bücher.example"));
    assert!(p.matches("BÜCHER.example"));
    // chasquid/go-mtasts cases: x.ñaca.com vs x.xn--aca-6ma.com
    assert!(pat("x.xn--aca-6ma.com").matches("x.ñaca.com"));
    assert!(!pat("x.xn--aca-6ma.com").matches("x.naca.com"));
    // An unconvertible name matches nothing.
    let huge = format!("{}\u{ff00}", "x".repeat(65536));
    assert!(!pat("x.com").matches(&huge));
}

#[test]
fn sts_mx_06_trailing_dot_dec_10() {
    assert!(pat("mail.example.com").matches("mail.example.com."));
    assert!(pat("*.example.com").matches("mail.example.com."));
    assert!(!pat("mail.example.com").matches("mail.example.com.."));
}

/// STS-MX-08: the RFC 8461 Appendix B reference algorithm, as a property.
mod reference {
    use super::*;
    use proptest::prelude::*;

    fn reference(pattern: &str, host: &str) -> bool {
        let pattern = pattern.to_ascii_lowercase();
        let host = host.to_ascii_lowercase();
        let host = host.strip_suffix('.').unwrap_or(&host); // DEC-10
        if let Some(base) = pattern.strip_prefix("*.") {
            match host.split_once('.') {
                Some((first, rest)) => !first.is_empty() && rest == base,
                None => false,
            }
        } else {
            pattern == host
        }
    }

    proptest! {
        #[test]
        fn sts_mx_08_matches_reference(
            wild in any::<bool>(),
            labels in proptest::collection::vec("[a-cA-C0-1]([a-c-]{0,2}[a-c])?", 1..4),
            host in proptest::collection::vec("[a-cA-C0-1]{0,3}", 1..5),
        ) {
            let pattern = format!("{}{}", if wild { "*." } else { "" }, labels.join("."));
            let host = host.join(".");
            let p = MxPattern::parse(&pattern).unwrap();
            prop_assert_eq!(p.matches(&host), reference(&pattern, &host), "{} vs {}", pattern, host);
        }
    }
}

#[test]
fn from_user_converts_and_errors() {
    assert_eq!(
        MxPattern::from_user("Bücher.example.").unwrap().as_str(),
        "xn--bcher-kva.example"
    );
    assert!(matches!(
        MxPattern::from_user("a\u{0}b.example"),
        Err(MxError::Idna { .. }) | Err(MxError::InvalidChar { .. })
    ));
    assert_eq!(MxPattern::from_user(""), Err(MxError::Empty));
}
