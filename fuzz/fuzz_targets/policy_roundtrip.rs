//! `Policy::parse(p.to_string()) == p` for every policy the lenient reader accepts.
//!
//! The body is in `targets/policy_roundtrip.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/policy_roundtrip.rs"]
mod policy_roundtrip;

fuzz_target!(|input: policy_roundtrip::Input<'_>| policy_roundtrip::check(input));
