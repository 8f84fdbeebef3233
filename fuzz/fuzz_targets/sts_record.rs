//! `_mta-sts` TXT record parsing and RRset selection.
//!
//! The body is in `targets/sts_record.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/sts_record.rs"]
mod sts_record;

fuzz_target!(|data: &[u8]| sts_record::run(data));
