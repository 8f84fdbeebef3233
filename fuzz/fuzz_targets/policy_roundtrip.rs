//! `Policy::parse(p.to_string()) == p` for every policy the lenient reader accepts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mta_sts_core::Policy;
use mta_sts_core::policy::LineEnding;

fuzz_target!(|text: &str| {
    let Ok(l) = Policy::parse_lenient(text) else { return };
    let p = l.value;
    for ending in [LineEnding::Lf, LineEnding::CrLf] {
        let canonical = p.to_string_with(ending);
        let back = Policy::parse(&canonical).expect("canonical text is strictly valid");
        assert_eq!(back, p);
    }
});
