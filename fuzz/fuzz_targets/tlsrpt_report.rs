//! Report JSON: strict and lenient readers, and the writer's round trip.
//!
//! The body is in `targets/tlsrpt_report.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/tlsrpt_report.rs"]
mod tlsrpt_report;

fuzz_target!(|data: &[u8]| tlsrpt_report::run(data));
