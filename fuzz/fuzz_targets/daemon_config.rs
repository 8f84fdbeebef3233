//! The socketmap daemon's TOML configuration.
//!
//! The body is in `targets/daemon_config.rs`, shared with the replay test
//! `examples/tests/fuzz_replay.rs` (see `fuzz/README.md`).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../targets/daemon_config.rs"]
mod daemon_config;

fuzz_target!(|input: daemon_config::Input<'_>| daemon_config::check(input));
