//! Policy body reading: size/UTF-8 check, strict and lenient readers, lint.
//!
//! The body is in `targets/policy.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/policy.rs"]
mod policy;

fuzz_target!(|data: &[u8]| policy::run(data));
