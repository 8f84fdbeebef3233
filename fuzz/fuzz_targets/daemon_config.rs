//! The socketmap daemon's TOML configuration.
#![no_main]
use libfuzzer_sys::fuzz_target;
use policy_fetch::Config;

fuzz_target!(|text: &str| {
    match Config::from_toml(text) {
        Ok(c) => {
            c.validate().expect("from_toml returns only valid configurations");
            assert!(!c.tcp_listeners().is_empty() || !c.unix.is_empty());
            let _ = (c.zone("postfix"), c.overrides(), c.service_settings(), c.store_path());
            let _ = (c.limits.idle_timeout(), c.limits.lookup_timeout(), c.limits.shutdown_timeout());
            let _ = c.cache.refresh_scan();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
