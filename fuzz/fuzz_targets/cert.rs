//! Certificate loading (PEM/DER) and the MX identity/validity check.
//!
//! The body is in `targets/cert.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/cert.rs"]
mod cert;

fuzz_target!(|data: &[u8]| cert::run(data));
