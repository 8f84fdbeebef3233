//! Policy body reading: size/UTF-8 check, strict and lenient readers, lint.
use mta_sts_core::Policy;

/// Runs the target on one input.
pub(crate) fn run(data: &[u8]) {
    let Ok(text) = Policy::body_text(data) else {
        return;
    };
    let strict = Policy::parse(text);
    let lenient = Policy::parse_lenient(text);
    if let Ok(p) = &strict {
        // Whatever the strict reader accepts, the lenient one accepts identically.
        assert_eq!(
            &lenient
                .as_ref()
                .expect("lenient accepts strict input")
                .value,
            p
        );
    }
    if let Ok(l) = lenient {
        let _ = l.value.lint();
        let _ = l.value.policy_string();
        let _ = l.value.matches_mx("mx.example.com");
    }
}
