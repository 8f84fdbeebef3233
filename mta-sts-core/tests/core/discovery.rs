use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mta_sts_core::discovery::*;
use mta_sts_core::{Mode, Policy, ResultType};

const T0: u64 = 1_700_000_000;
const ENFORCE: &[u8] = b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";
const TESTING: &[u8] = b"version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 604800\n";

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn ok(body: &[u8]) -> Result<HttpResponse, FetchFailure> {
    Ok(HttpResponse {
        status: 200,
        content_type: Some("text/plain; charset=utf-8".into()),
        body: body.to_vec(),
    })
}

fn record(id: &str) -> TxtAnswer {
    TxtAnswer::Records(vec![
        b"v=spf1 -all".to_vec(),
        format!("v=STSv1; id={id}").into_bytes(),
    ])
}

fn entry(id: &str, body: &[u8], fetched_at: u64) -> CacheEntry {
    CacheEntry {
        domain: "example.com".into(),
        policy: Some(CachedPolicy {
            id: id.into(),
            policy: Policy::parse(std::str::from_utf8(body).unwrap())
                .unwrap()
                .into_owned(),
            fetched_at,
        }),
        last_failure: None,
        last_used: fetched_at,
    }
}

/// Drive a discovery; returns the outcome and the number of fetches made.
fn run(
    mut d: Discovery,
    txt: TxtAnswer,
    fetch: Option<Result<HttpResponse, FetchFailure>>,
) -> (Outcome, usize) {
    let mut fetches = 0;
    let mut txt = Some(txt);
    let mut fetch = fetch;
    loop {
        match d.next_step() {
            Step::LookupTxt { name } => {
                assert_eq!(name, "_mta-sts.example.com");
                d.on_txt(txt.take().expect("one TXT lookup")).unwrap();
            }
            Step::FetchPolicy { url, host, .. } => {
                assert_eq!(url, "https://mta-sts.example.com/.well-known/mta-sts.txt");
                assert_eq!(host, "mta-sts.example.com");
                fetches += 1;
                d.on_policy(fetch.take().expect("a fetch result was expected"))
                    .unwrap();
            }
            Step::Done(o) => return (*o, fetches),
        }
    }
}

fn fail(rt: ResultType) -> Result<HttpResponse, FetchFailure> {
    Err(FetchFailure {
        result_type: rt,
        reason: "connection refused".into(),
    })
}

#[test]
fn d1_sts_cache_03_same_id_no_fetch() {
    let c = entry("1", ENFORCE, T0);
    let (o, fetches) = run(
        Discovery::new("example.com", Some(&c), t(T0 + 10)),
        record("1"),
        None,
    );
    assert_eq!((o.rule, fetches), (Rule::D1CachedCurrent, 0));
    assert_eq!(o.cache, CacheAction::Keep);
    assert_eq!(o.applied.as_ref().unwrap().1, Source::Cached);
    assert_eq!(o.mode(), Some(Mode::Enforce));
}

#[test]
fn d2_sts_txt_05_sts_cache_08_new_id_replaces() {
    let c = entry("2", ENFORCE, T0);
    // A *lower* id still counts as a change (no ordering).
    let body = b"version: STSv1\nmode: none\nmax_age: 86400\n";
    let (o, fetches) = run(
        Discovery::new("example.com", Some(&c), t(T0 + 10)),
        record("1"),
        Some(ok(body)),
    );
    assert_eq!((o.rule, fetches), (Rule::D2FetchedReplaced, 1));
    assert_eq!(o.mode(), Some(Mode::None));
    let CacheAction::Store(e) = o.cache else {
        panic!("store expected")
    };
    let p = e.policy.unwrap();
    assert_eq!((p.id.as_str(), p.fetched_at), ("1", T0 + 10));
    assert_eq!(p.policy.mode(), Mode::None);
}

#[test]
fn d3_sts_fetch_14_sts_cache_11_failed_fetch_keeps_cache() {
    let c = entry("1", ENFORCE, T0);
    let (o, _) = run(
        Discovery::new("example.com", Some(&c), t(T0 + 10)),
        record("2"),
        Some(fail(ResultType::StsWebpkiInvalid)),
    );
    assert_eq!(o.rule, Rule::D3FetchFailedUseCached);
    assert_eq!(o.policy().unwrap().mode(), Mode::Enforce);
    // STS-RPT-02: reported, with an admin warning.
    assert_eq!(
        o.failure.as_ref().unwrap().result_type,
        ResultType::StsWebpkiInvalid
    );
    assert_eq!(o.warnings.len(), 1);
    let CacheAction::Store(e) = o.cache else {
        panic!()
    };
    assert_eq!(e.policy, c.policy, "the cached policy is unchanged");
    assert_eq!(e.last_failure.as_ref().unwrap().id, "2");
}

#[test]
fn sts_rpt_02_cached_none_mode_failure_not_reported() {
    let c = entry("1", b"version: STSv1\nmode: none\nmax_age: 86400\n", T0);
    let (o, _) = run(
        Discovery::new("example.com", Some(&c), t(T0 + 10)),
        record("2"),
        Some(fail(ResultType::StsPolicyFetchError)),
    );
    assert_eq!(o.rule, Rule::D3FetchFailedUseCached);
    assert_eq!(o.failure, None);
    assert!(o.warnings.is_empty());
}

#[test]
fn d4_new_policy() {
    let (o, fetches) = run(
        Discovery::new("Example.COM.", None, t(T0)),
        record("1"),
        Some(ok(TESTING)),
    );
    assert_eq!((o.rule, fetches), (Rule::D4FetchedNew, 1));
    let CacheAction::Store(e) = o.cache else {
        panic!()
    };
    assert_eq!(e.domain, "example.com");
    assert_eq!(e.policy.unwrap().policy.max_age(), 604800);
}

#[test]
fn d5_sts_fetch_13_16_failure_without_cache() {
    for (resp, rt) in [
        (
            fail(ResultType::StsPolicyFetchError),
            ResultType::StsPolicyFetchError,
        ),
        (
            Ok(HttpResponse {
                status: 404,
                content_type: Some("text/plain".into()),
                body: ENFORCE.to_vec(),
            }),
            ResultType::StsPolicyFetchError,
        ),
        (
            Ok(HttpResponse {
                status: 204,
                content_type: Some("text/plain".into()),
                body: ENFORCE.to_vec(),
            }),
            ResultType::StsPolicyFetchError,
        ),
        (
            Ok(HttpResponse {
                status: 200,
                content_type: Some("text/html".into()),
                body: ENFORCE.to_vec(),
            }),
            ResultType::StsPolicyInvalid,
        ),
        (ok(b"garbage"), ResultType::StsPolicyInvalid),
        (ok(&[b'a'; 70_000]), ResultType::StsPolicyInvalid),
    ] {
        let (o, _) = run(
            Discovery::new("example.com", None, t(T0)),
            record("1"),
            Some(resp),
        );
        assert_eq!(o.rule, Rule::D5FetchFailedNoPolicy);
        assert_eq!(o.policy(), None);
        assert_eq!(o.failure.unwrap().result_type, rt);
    }
}

/// Issue 15 item 8: the Content-Type rule in both modes, as DEC-07 says
/// (and `examples/daemon.toml`, `docs/conformance.md` and the README):
/// `text/plain` (any case, any parameters) is accepted by both; a missing
/// header only by the lenient reader, with a note; every other media
/// type, `text/html` first, is `sts-policy-invalid` in both.
#[test]
fn sts_fetch_08_dec_07_content_type_in_both_modes() {
    let strict = Options { strict: true };
    let lenient = Options::default();
    let resp = |ct: Option<&str>| HttpResponse {
        status: 200,
        content_type: ct.map(str::to_owned),
        body: ENFORCE.to_vec(),
    };
    for ct in [
        "text/plain",
        "Text/Plain",
        "text/plain;charset=us-ascii",
        " text/plain ; format=flowed",
    ] {
        for options in [strict, lenient] {
            let (_, _, notes) = Discovery::check_response(&resp(Some(ct)), options)
                .unwrap_or_else(|e| panic!("{ct} {options:?}: {e:?}"));
            assert!(notes.is_empty(), "{ct}");
        }
    }
    for ct in [
        "text/html",
        "text/html; charset=utf-8",
        "application/octet-stream",
        "",
        "text/plain-x",
    ] {
        for options in [strict, lenient] {
            assert_eq!(
                Discovery::check_response(&resp(Some(ct)), options),
                Err(PolicyFailure {
                    result_type: ResultType::StsPolicyInvalid,
                    reason: format!("Content-Type `{ct}` (text/plain is required)"),
                }),
                "{ct} {options:?}"
            );
        }
    }
    assert_eq!(
        Discovery::check_response(&resp(None), strict)
            .unwrap_err()
            .reason,
        "no Content-Type (text/plain is required)"
    );
    let (policy, warnings, notes) = Discovery::check_response(&resp(None), lenient).unwrap();
    assert_eq!(policy.mode(), Mode::Enforce);
    assert!(warnings.is_empty());
    assert_eq!(
        notes,
        ["no Content-Type header (text/plain expected); accepted"]
    );
}

#[test]
fn sts_fetch_05_08_response_checks_dec_07() {
    let strict = Options { strict: true };
    let lenient = Options::default();
    let resp = |ct: Option<&str>| HttpResponse {
        status: 200,
        content_type: ct.map(str::to_owned),
        body: ENFORCE.to_vec(),
    };
    assert!(
        Discovery::check_response(
            &resp(Some("text/plain; charset=utf-8; format=flowed")),
            strict
        )
        .is_ok()
    );
    assert!(Discovery::check_response(&resp(Some("TEXT/Plain")), strict).is_ok());
    assert_eq!(
        Discovery::check_response(&resp(None), strict).unwrap_err(),
        PolicyFailure {
            result_type: ResultType::StsPolicyInvalid,
            reason: "no Content-Type (text/plain is required)".to_owned()
        }
    );
    let (_, _, notes) = Discovery::check_response(&resp(None), lenient).unwrap();
    assert_eq!(
        notes.len(),
        1,
        "a missing Content-Type is accepted with a note"
    );
    for ct in ["text/html", "image/png", "application/json", "text/plainx"] {
        let e = Discovery::check_response(&resp(Some(ct)), lenient).unwrap_err();
        assert_eq!(e.result_type, ResultType::StsPolicyInvalid, "{ct}");
    }
    let mut r = resp(Some("text/plain"));
    r.status = 301;
    assert_eq!(
        Discovery::check_response(&r, lenient).unwrap_err().reason,
        "HTTP status 301 (only 200 is accepted)"
    );
    // Strict reader rejects what the lenient one caps.
    r = HttpResponse {
        status: 200,
        content_type: Some("text/plain".into()),
        body: b"version: STSv1\nmode: none\nmax_age: 31557601".to_vec(),
    };
    assert_eq!(
        Discovery::check_response(&r, strict).unwrap_err(),
        PolicyFailure {
            result_type: ResultType::StsPolicyInvalid,
            reason: "line 3: max_age 31557601 is larger than the maximum 31557600".to_owned()
        }
    );
    let (p, warnings, _) = Discovery::check_response(&r, lenient).unwrap();
    assert_eq!((p.max_age(), warnings.len()), (31_557_600, 1));
}

#[test]
fn d6_sts_txt_13_sts_cache_07_record_gone_keeps_cache() {
    let c = entry("1", ENFORCE, T0);
    for txt in [
        TxtAnswer::NoRecord,
        TxtAnswer::Records(vec![b"v=STSv1; bogus".to_vec()]),
        TxtAnswer::Records(vec![b"v=STSv1; id=1".to_vec(), b"v=STSv1; id=2".to_vec()]),
    ] {
        let (o, fetches) = run(
            Discovery::new("example.com", Some(&c), t(T0 + 10)),
            txt,
            None,
        );
        assert_eq!((o.rule, fetches), (Rule::D6NoRecordUseCached, 0));
        assert_eq!(o.mode(), Some(Mode::Enforce));
        assert_eq!(o.warnings.len(), 1, "possible attack is logged");
        assert!(o.txt_problem.is_some());
    }
}

#[test]
fn d7_sts_cache_02_no_record_no_valid_cache() {
    let expired = entry("1", ENFORCE, T0);
    let (o, _) = run(
        Discovery::new("example.com", Some(&expired), t(T0 + 86_400)),
        TxtAnswer::NoRecord,
        None,
    );
    assert_eq!(o.rule, Rule::D7NoRecordNoPolicy);
    assert_eq!(o.policy(), None);
    assert_eq!(o.txt_problem, Some(TxtProblem::NoRecord));
}

#[test]
fn d8_d9_temporary_dns_failure_dec_09() {
    let c = entry("1", ENFORCE, T0);
    let (o, _) = run(
        Discovery::new("example.com", Some(&c), t(T0 + 1)),
        TxtAnswer::TempFail("SERVFAIL".into()),
        None,
    );
    assert_eq!(o.rule, Rule::D8TempFailUseCached);
    assert_eq!(o.cache, CacheAction::Keep);
    let (o, _) = run(
        Discovery::new("example.com", None, t(T0 + 1)),
        TxtAnswer::TempFail("timeout".into()),
        None,
    );
    assert_eq!(o.rule, Rule::D9TempFailNoPolicy);
    assert_eq!(o.cache, CacheAction::Keep, "no negative cache entry");
    assert!(o.warnings[0].message.contains("timeout"));
    assert_eq!(
        o.warnings[0].code,
        DiscoveryWarningCode::TxtTemporaryFailure
    );
}

#[test]
fn d10_sts_fetch_09_retry_limit_per_id() {
    let (o, _) = run(
        Discovery::new("example.com", None, t(T0)),
        record("7"),
        Some(fail(ResultType::StsPolicyFetchError)),
    );
    let CacheAction::Store(e) = o.cache else {
        panic!()
    };
    // Within 5 minutes: no new request for the same id.
    let (o, fetches) = run(
        Discovery::new("example.com", Some(&e), t(T0 + 299)),
        record("7"),
        None,
    );
    assert_eq!((o.rule, fetches), (Rule::D10RetryLimited, 0));
    assert_eq!(
        o.failure.unwrap().result_type,
        ResultType::StsPolicyFetchError
    );
    // A different id is fetched at once; the same id after 5 minutes too.
    let (_, fetches) = run(
        Discovery::new("example.com", Some(&e), t(T0 + 10)),
        record("8"),
        Some(ok(ENFORCE)),
    );
    assert_eq!(fetches, 1);
    let (o, fetches) = run(
        Discovery::new("example.com", Some(&e), t(T0 + 300)),
        record("7"),
        Some(ok(ENFORCE)),
    );
    assert_eq!((o.rule, fetches), (Rule::D4FetchedNew, 1));
    let CacheAction::Store(e) = o.cache else {
        panic!()
    };
    assert_eq!(e.last_failure, None);
}

#[test]
fn d11_d12_sts_cache_05_06_background_refresh() {
    let c = entry("1", ENFORCE, T0);
    // Same id, refresh fetches anyway and restarts the clock.
    let (o, fetches) = run(
        Discovery::refresh("example.com", &c, t(T0 + 80_000), Options::default()),
        record("1"),
        Some(ok(ENFORCE)),
    );
    assert_eq!((o.rule, fetches), (Rule::D11RefreshOk, 1));
    let CacheAction::Store(e) = o.cache else {
        panic!()
    };
    let p = e.policy.unwrap();
    assert_eq!(p.fetched_at, T0 + 80_000);
    assert!(p.is_valid(t(T0 + 86_400 + 1000)));
    // Regardless of TXT: with the record gone, the cached id is refetched.
    let (o, fetches) = run(
        Discovery::refresh("example.com", &c, t(T0 + 80_000), Options::default()),
        TxtAnswer::NoRecord,
        Some(ok(ENFORCE)),
    );
    assert_eq!((o.rule, fetches), (Rule::D11RefreshOk, 1));
    // Failure: cache unchanged, warning (enforce), no TLS-RPT failure from a background job.
    let (o, _) = run(
        Discovery::refresh("example.com", &c, t(T0 + 80_000), Options::default()),
        record("1"),
        Some(fail(ResultType::StsPolicyFetchError)),
    );
    assert_eq!(o.rule, Rule::D12RefreshFailed);
    assert_eq!(o.warnings.len(), 1);
    assert_eq!(o.failure, None);
    let CacheAction::Store(e) = o.cache else {
        panic!()
    };
    assert_eq!(e.policy, c.policy);
    // No warning for mode none.
    let none = entry("1", b"version: STSv1\nmode: none\nmax_age: 86400\n", T0);
    let (o, _) = run(
        Discovery::refresh("example.com", &none, t(T0 + 10), Options::default()),
        record("1"),
        Some(fail(ResultType::StsPolicyFetchError)),
    );
    assert!(o.warnings.is_empty());
}

#[test]
fn sts_cache_01_expiry_boundary_dec_08() {
    let c = entry("1", ENFORCE, T0);
    let p = c.policy.as_ref().unwrap();
    assert!(p.is_valid(t(T0 + 86_399)));
    assert!(!p.is_valid(t(T0 + 86_400)));
    assert!(c.valid_policy(t(T0 + 86_400)).is_none());
    // max_age 0 expires immediately.
    let zero = entry("1", b"version: STSv1\nmode: none\nmax_age: 0\n", T0);
    assert!(zero.valid_policy(t(T0)).is_none());
}

#[test]
fn sts_cache_04_refresh_schedule() {
    let week = entry("1", TESTING, T0);
    assert_eq!(week.next_refresh(Duration::ZERO), Some(t(T0 + 86_400)));
    assert!(!week.refresh_due(t(T0 + 86_399), Duration::ZERO));
    assert!(week.refresh_due(t(T0 + 86_400), Duration::ZERO));
    assert_eq!(
        week.next_refresh(Duration::from_secs(600)),
        Some(t(T0 + 87_000))
    );
    // A one-day policy is refreshed half a day before it expires.
    let day = entry("1", ENFORCE, T0);
    assert_eq!(day.next_refresh(Duration::ZERO), Some(t(T0 + 43_200)));
    // Jitter never pushes the refresh past expiry.
    let hour = entry(
        "1",
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 3600\n",
        T0,
    );
    assert_eq!(
        hour.next_refresh(Duration::from_secs(99_999)),
        Some(t(T0 + 1800 + 900))
    );
    assert_eq!(CacheEntry::default().next_refresh(Duration::ZERO), None);
}

#[test]
fn eviction_and_serde() {
    let mut c = entry("1", ENFORCE, T0);
    c.last_used = T0 + 100;
    let month = Duration::from_secs(30 * 86_400);
    assert!(!c.should_evict(t(T0 + 100 + 29 * 86_400), month));
    assert!(c.should_evict(t(T0 + 100 + 30 * 86_400), month));
    c.last_failure = Some(FailedFetch {
        id: "2".into(),
        at: T0,
        result_type: ResultType::Other("x-new".into()),
        reason: "r".into(),
    });
    let json = serde_json::to_string(&c).unwrap();
    let back: CacheEntry = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
    assert!(json.contains("\"result_type\":\"x-new\""), "{json}");
}

#[test]
fn out_of_order_input_is_an_error() {
    let mut d = Discovery::new("example.com", None, t(T0));
    assert_eq!(d.on_policy(ok(ENFORCE)), Err(UnexpectedInput));
    d.on_txt(TxtAnswer::NoRecord).unwrap();
    assert_eq!(d.on_txt(TxtAnswer::NoRecord), Err(UnexpectedInput));
    assert!(matches!(d.next_step(), Step::Done(_)));
}

#[test]
fn hostile_stored_times_do_not_overflow() {
    let mut c = entry("1", ENFORCE, u64::MAX);
    c.last_used = u64::MAX;
    c.last_failure = Some(FailedFetch {
        id: "1".into(),
        at: u64::MAX,
        result_type: ResultType::StsPolicyFetchError,
        reason: String::new(),
    });
    let now = t(T0);
    assert!(
        c.valid_policy(now).is_some(),
        "a far-future fetch time stays valid, without panicking"
    );
    assert!(c.retry_blocked("1", now));
    assert!(!c.should_evict(now, Duration::from_secs(1)));
    assert!(c.next_refresh(Duration::MAX).is_some());
    let (o, _) = run(
        Discovery::new("example.com", Some(&c), now),
        record("1"),
        None,
    );
    assert_eq!(o.rule, Rule::D1CachedCurrent);
}
