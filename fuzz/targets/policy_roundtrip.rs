//! `Policy::parse(p.to_string()) == p` for every policy the lenient reader accepts.
use arbitrary::{Arbitrary, Unstructured};
use mta_sts_core::Policy;
use mta_sts_core::policy::LineEnding;

/// The fuzzer's structured input (`fuzz_target!(|text: &str| ...)`).
pub(crate) type Input<'a> = &'a str;

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
pub(crate) fn check(text: Input<'_>) {
    let Ok(l) = Policy::parse_lenient(text) else {
        return;
    };
    let p = l.value;
    for ending in [LineEnding::Lf, LineEnding::CrLf] {
        let canonical = p.to_string_with(ending);
        let back = Policy::parse(&canonical).expect("canonical text is strictly valid");
        assert_eq!(back, p);
    }
}
