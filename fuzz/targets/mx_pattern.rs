//! MX pattern validation and matching against the RFC 8461 Appendix B reference.
use mta_sts_core::MxPattern;

/// The fuzzer's structured input: pattern, host.
pub(crate) type Input<'a> = (&'a str, &'a str);

/// Runs the target on one decoded input (the replay test decodes stored
/// bytes as `fuzz_target!` does: `examples/tests/fuzz_replay.rs` `typed`).
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
