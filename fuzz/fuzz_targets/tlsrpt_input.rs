//! Report inputs: content detection, gzip, e-mail (MIME, base64,
//! quoted-printable) with small limits, then the readers.
//!
//! The body is in `targets/tlsrpt_input.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/tlsrpt_input.rs"]
mod tlsrpt_input;

fuzz_target!(|data: &[u8]| tlsrpt_input::run(data));
