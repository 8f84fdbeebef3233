//! The discovery state machine fed with arbitrary TXT answers and HTTP responses.
//!
//! The body is in `targets/discovery.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/discovery.rs"]
mod discovery;

fuzz_target!(|input: discovery::Input| discovery::check(input));
