//! MX pattern validation and matching against the RFC 8461 Appendix B reference.
use arbitrary::{Arbitrary, Unstructured};
use mta_sts_core::MxPattern;

/// The fuzzer's structured input: pattern, host.
pub(crate) type Input<'a> = (&'a str, &'a str);

/// Runs the target on the bytes libFuzzer stores: decoded as
/// `fuzz_target!` decodes a typed input, skipped when that fails.
#[allow(dead_code)] // The fuzz target calls `check`, the replay test `run`.
pub(crate) fn run(data: &[u8]) {
    if data.len() < <Input<'_>>::size_hint(0).0 {
        return;
    }
    if let Ok(input) = <Input<'_>>::arbitrary_take_rest(Unstructured::new(data)) {
        check(input);
    }
}

/// Runs the target on one decoded input.
pub(crate) fn check(input: Input<'_>) {
    let (pattern, host) = input;
    let _ = MxPattern::from_user(pattern);
    let Ok(p) = MxPattern::parse(pattern) else {
        return;
    };
    let got = p.matches(host);
    if host.is_ascii() {
        let h = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let pat = pattern.to_ascii_lowercase();
        let want = match pat.strip_prefix("*.") {
            Some(base) => h
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == base),
            None => pat == h,
        };
        assert_eq!(got, want, "{pattern} vs {host}");
    }
}
