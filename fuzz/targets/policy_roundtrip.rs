//! `Policy::parse(p.to_string()) == p` for every policy the lenient reader accepts.
use mta_sts_core::Policy;
use mta_sts_core::policy::LineEnding;

/// The fuzzer's structured input (`fuzz_target!(|text: &str| ...)`).
pub(crate) type Input<'a> = &'a str;

/// Runs the target on one decoded input (the replay test decodes stored
/// bytes as `fuzz_target!` does: `examples/tests/fuzz_replay.rs` `typed`).
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
