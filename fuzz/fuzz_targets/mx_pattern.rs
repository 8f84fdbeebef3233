//! MX pattern validation and matching against the RFC 8461 Appendix B reference.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mta_sts_core::MxPattern;

fuzz_target!(|input: (&str, &str)| {
    let (pattern, host) = input;
    let _ = MxPattern::from_user(pattern);
    let Ok(p) = MxPattern::parse(pattern) else { return };
    let got = p.matches(host);
    if host.is_ascii() {
        let h = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let pat = pattern.to_ascii_lowercase();
        let want = match pat.strip_prefix("*.") {
            Some(base) => h.split_once('.').is_some_and(|(first, rest)| !first.is_empty() && rest == base),
            None => pat == h,
        };
        assert_eq!(got, want, "{pattern} vs {host}");
    }
});
