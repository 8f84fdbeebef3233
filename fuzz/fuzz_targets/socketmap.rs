//! Postfix socketmap: netstring framing, requests, key normalisation and replies.
//!
//! The body is in `targets/socketmap.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/socketmap.rs"]
mod socketmap;

fuzz_target!(|data: &[u8]| socketmap::run(data));
