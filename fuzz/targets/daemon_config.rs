//! The socketmap daemon's TOML configuration.
use std::time::{Duration, Instant, SystemTime};

use mta_sts_postfix::Config;

/// The fuzzer's structured input (`fuzz_target!(|text: &str| ...)`).
pub(crate) type Input<'a> = &'a str;

/// Runs the target on one decoded input (the replay test decodes stored
/// bytes as `fuzz_target!` does: `examples/tests/fuzz_replay.rs` `typed`).
pub(crate) fn check(text: Input<'_>) {
    match Config::from_toml(text) {
        Ok(c) => {
            c.validate()
                .expect("from_toml returns only valid configurations");
            assert!(!c.tcp_listeners().is_empty() || !c.unix.is_empty());
            let _ = (c.zone("postfix"), c.overrides(), c.store_path());
            // The daemon adds the durations of a valid configuration to the
            // current time (request deadlines, shutdown grace, eviction of
            // cache entries whose times are clamped to 2^40 s): that must
            // not overflow.
            let now = Instant::now();
            for d in [
                c.limits.idle_timeout(),
                c.limits.lookup_timeout(),
                c.limits.shutdown_timeout(),
                c.cache.refresh_scan(),
            ] {
                assert!(now.checked_add(d).is_some(), "{d:?}");
            }
            let latest_entry = SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40);
            let s = c.service_settings();
            for d in [s.txt_check_interval, s.refresh_jitter, s.evict_after] {
                assert!(latest_entry.checked_add(d).is_some(), "{d:?}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
