//! `_smtp._tls` TXT record parsing and RRset selection.
//!
//! The body is in `targets/tlsrpt_record.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/tlsrpt_record.rs"]
mod tlsrpt_record;

fuzz_target!(|data: &[u8]| tlsrpt_record::run(data));
