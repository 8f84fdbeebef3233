//! Property tests: `parse(display(x)) == x`, and no input panics.

#[cfg(feature = "cert")]
use mta_sts_core::cert::check_certificate;
use mta_sts_core::{Mode, MxPattern, Policy, StsRecord};
use proptest::prelude::*;

/// An LDH label that is not reserved (hyphens in the third and fourth
/// places mark A-labels such as `xn--`, which must be valid Punycode).
fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?".prop_filter("reserved: ??--", |l| l.get(2..4) != Some("--"))
}

fn domain() -> impl Strategy<Value = String> {
    proptest::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
}

fn pattern() -> impl Strategy<Value = String> {
    (any::<bool>(), domain()).prop_map(|(w, d)| if w { format!("*.{d}") } else { d })
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Enforce), Just(Mode::Testing), Just(Mode::None)]
}

fn ext_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}".prop_filter("not a known key", |n| {
        !matches!(n.as_str(), "version" | "mode" | "max_age" | "mx")
    })
}

proptest! {
    #[test]
    fn policy_display_parses_back(
        mode in mode(),
        max_age in 0u64..=31_557_600,
        mx in proptest::collection::vec(pattern(), 1..5),
        ext in proptest::collection::vec((ext_name(), "[!-~]([ !-~\u{e9}\u{4e2d}]{0,10}[!-~])?"), 0..3),
        crlf in any::<bool>(),
    ) {
        let mut b = Policy::builder().mode(mode).max_age(max_age);
        for m in &mx { b = b.mx(m.clone()); }
        for (k, v) in &ext { b = b.extension(k.clone(), v.clone()); }
        let p = b.build().unwrap();
        let text = if crlf { p.to_string_with(mta_sts_core::policy::LineEnding::CrLf) } else { p.to_string() };
        let back = Policy::parse(&text).unwrap();
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.policy_string().len(), 3 + mx.len() + ext.len());
    }

    #[test]
    fn record_display_parses_back(
        id in "[a-zA-Z0-9]{1,32}",
        ext in proptest::collection::vec(
            ("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}".prop_filter("not v/id", |n| n != "v" && n != "id"), "[!-:<>-~]{1,12}"),
            0..4,
        ),
    ) {
        let text = ext.iter().fold(format!("v=STSv1; id={id}"), |s, (k, v)| {
            format!("{s}; {k}={v}")
        });
        let r = StsRecord::parse(&text).unwrap();
        prop_assert_eq!(r.id(), id.as_str());
        let again = r.to_string();
        prop_assert_eq!(StsRecord::parse(&again).unwrap(), r);
    }

    #[test]
    fn mx_pattern_display_parses_back(p in pattern()) {
        let m = MxPattern::parse(&p).unwrap();
        prop_assert_eq!(m.to_string(), p);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Policy::parse(&text);
        let _ = Policy::parse_lenient(&text);
        let _ = StsRecord::parse(&text);
        let _ = StsRecord::select(std::slice::from_ref(&bytes));
        let _ = MxPattern::parse(&text);
        let _ = MxPattern::from_user(&text);
        #[cfg(feature = "cert")]
        let _ = check_certificate(&bytes, &text, std::time::SystemTime::UNIX_EPOCH);
    }

    #[test]
    fn policy_like_text_never_panics(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("version: STSv1".to_owned()),
                "mode: [a-z]{0,8}",
                "max_age: [0-9 ]{0,12}",
                "mx: [a-z.*-]{0,12}",
                "[ \t]*[a-z_]{0,6}[ \t]*:[ \t\u{e9}]*[ -~]{0,10}",
                Just(String::new()),
            ],
            0..8,
        ),
        sep in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
    ) {
        let text = lines.join(sep);
        if let Ok(p) = Policy::parse(&text) {
            // Whatever the strict reader accepts, the lenient reader accepts identically.
            prop_assert_eq!(Policy::parse_lenient(&text).unwrap().value, p.clone());
            let canonical = p.to_string();
            prop_assert_eq!(Policy::parse(&canonical).unwrap(), p);
        }
    }
}
