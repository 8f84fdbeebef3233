//! Report file names and e-mail Subjects (RFC 8460 5.1, 5.3).
//!
//! The body is in `targets/tlsrpt_filename.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/tlsrpt_filename.rs"]
mod tlsrpt_filename;

fuzz_target!(|input: tlsrpt_filename::Input<'_>| tlsrpt_filename::check(input));
