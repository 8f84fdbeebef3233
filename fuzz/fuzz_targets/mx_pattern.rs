//! MX pattern validation and matching against the RFC 8461 Appendix B reference.
//!
//! The body is in `targets/mx_pattern.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/mx_pattern.rs"]
mod mx_pattern;

fuzz_target!(|input: mx_pattern::Input<'_>| mx_pattern::check(input));
