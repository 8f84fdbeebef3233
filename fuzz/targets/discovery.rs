//! The discovery state machine fed with arbitrary TXT answers and HTTP responses.
use std::time::{Duration, SystemTime};

use mta_sts_core::discovery::{CacheAction, Discovery, HttpResponse, Options, Step, TxtAnswer};

/// The fuzzer's structured input: TXT RRs, HTTP status, Content-Type, body,
/// seconds between the two rounds, strict mode.
pub(crate) type Input = (Vec<Vec<u8>>, u16, Option<String>, Vec<u8>, u32, bool);

/// Runs the target on one decoded input (the replay test decodes stored
/// bytes as `fuzz_target!` does: `examples/tests/fuzz_replay.rs` `typed`).
pub(crate) fn check(input: Input) {
    let (rrs, status, content_type, body, dt, strict) = input;
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut cache = None;
    // Two rounds: the second one starts from what the first stored.
    for round in 0..2u64 {
        let at = now + Duration::from_secs(u64::from(dt) * round);
        let mut d = Discovery::with_options("example.com", cache.as_ref(), at, Options { strict });
        let outcome = loop {
            match d.next_step() {
                Step::LookupTxt { .. } => d
                    .on_txt(TxtAnswer::Records(rrs.clone()))
                    .expect("txt expected"),
                Step::FetchPolicy { .. } => d
                    .on_policy(Ok(HttpResponse {
                        status,
                        content_type: content_type.clone(),
                        body: body.clone(),
                    }))
                    .expect("policy expected"),
                Step::Done(o) => break o,
            }
        };
        if let CacheAction::Store(e) = outcome.cache {
            cache = Some(*e);
        }
    }
}
