//! Report JSON: the fast reader against the reference reader
//! (`tlsrpt_core::reference`), in strict and lenient mode. Any difference
//! in acceptance, report, warnings or error path is a bug in one of them.
//!
//! The body is in `targets/tlsrpt_differential.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/tlsrpt_differential.rs"]
mod tlsrpt_differential;

fuzz_target!(|data: &[u8]| tlsrpt_differential::run(data));
