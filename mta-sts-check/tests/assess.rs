//! `assess` judged on observations built by hand: no DNS, HTTPS or SMTP
//! server involved. Each test asserts the verdicts and the exact finding
//! codes with their severities.

use mta_sts_check::check::{
    MxHostObservation, MxObservation, PolicyStatus, RecordStatus, Severity,
};
use mta_sts_check::smtp::{CertStatus, ProbeResult, TlsOutcome};
use mta_sts_check::{Applied, CheckReport, Observations, assess};
use mta_sts_core::ResultType;
use mta_sts_core::discovery::{FetchFailure, HttpResponse, TxtAnswer};

const ENFORCE: &str =
    "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n";

fn txt(record: &str) -> TxtAnswer {
    TxtAnswer::Records(vec![record.as_bytes().to_vec()])
}

fn served(body: &str) -> Result<HttpResponse, FetchFailure> {
    Ok(HttpResponse {
        status: 200,
        content_type: Some("text/plain".into()),
        body: body.as_bytes().to_vec(),
    })
}

fn tls(status: CertStatus) -> ProbeResult {
    ProbeResult {
        banner: Some("mx ESMTP".into()),
        ehlo: Some(vec!["mx".into(), "STARTTLS".into()]),
        ehlo_starttls: true,
        starttls_reply: Some("220 2.0.0 Ready".into()),
        starttls_accepted: Some(true),
        tls: Some(TlsOutcome {
            completed: true,
            version: Some("TLSv1.3".into()),
            cipher: Some("TLS13_AES_256_GCM_SHA384".into()),
            chain: Vec::new(),
            leaf: None,
            status,
            reason: status.as_str().into(),
        }),
        ..ProbeResult::default()
    }
}

fn host(pref: u16, name: &str, probe: ProbeResult) -> MxHostObservation {
    let mut probe = probe;
    probe.host = name.into();
    MxHostObservation::new(
        pref,
        name,
        Ok(vec!["192.0.2.1".parse().unwrap()]),
        Some(probe),
    )
}

/// A fully working deployment, with `mx` hosts replaced.
fn deployment(mx: MxObservation) -> Observations {
    Observations::new("example.com")
        .with_sts_txt(txt("v=STSv1; id=20240101T000000;"))
        .with_policy(served(ENFORCE))
        .with_mx(mx)
        .with_tlsrpt_txt(txt("v=TLSRPTv1; rua=mailto:tlsrpt@example.com"))
}

fn codes(r: &CheckReport) -> Vec<(Severity, &str)> {
    r.findings
        .iter()
        .map(|f| (f.severity, f.code.as_str()))
        .collect()
}

#[test]
fn a_good_deployment_passes_without_findings() {
    let r = assess(deployment(MxObservation::hosts(vec![
        host(10, "mail.example.com", tls(CertStatus::Valid)),
        host(20, "mx2.example.net", tls(CertStatus::Valid)),
    ])));
    assert_eq!(codes(&r), []);
    assert!(r.passed && !r.exit_failed());
    assert_eq!(r.sts_record.status, RecordStatus::Valid);
    assert_eq!(r.sts_record.id.as_deref(), Some("20240101T000000"));
    assert_eq!(r.policy.status, PolicyStatus::Ok);
    assert_eq!(r.applied, Applied::Enforce);
    assert_eq!(r.mx.len(), 2);
    assert_eq!(r.mx[1].pattern.as_deref(), Some("*.example.net"));
    assert_eq!(r.mx[0].in_policy, Some(true));
    assert_eq!(r.tlsrpt_record.rua, ["mailto:tlsrpt@example.com"]);
}

#[test]
fn an_mx_outside_the_policy_is_an_error() {
    let r = assess(deployment(MxObservation::hosts(vec![
        host(10, "mail.example.com", tls(CertStatus::Valid)),
        host(20, "backup.example.org", tls(CertStatus::Valid)),
    ])));
    assert_eq!(codes(&r), [(Severity::Error, "mx-not-in-policy")]);
    assert_eq!(r.mx[1].in_policy, Some(false));
    assert_eq!(r.mx[1].failures, [ResultType::ValidationFailure]);
    assert!(r.exit_failed());
}

#[test]
fn an_expired_mx_certificate_fails_an_enforce_policy() {
    let r = assess(deployment(MxObservation::hosts(vec![host(
        10,
        "mail.example.com",
        tls(CertStatus::CertificateExpired),
    )])));
    assert!(r.exit_failed());
    assert_eq!(r.mx[0].certificate, Some(CertStatus::CertificateExpired));
    assert!(r.mx[0].failures.contains(&ResultType::CertificateExpired));
    let f = r
        .findings
        .iter()
        .find(|f| f.severity == Severity::Error)
        .unwrap();
    assert!(f.message.contains("mail.example.com"), "{}", f.message);
}

#[test]
fn a_missing_policy_file_is_an_error_with_the_status() {
    let r = assess(
        deployment(MxObservation::hosts(vec![host(
            10,
            "mail.example.com",
            tls(CertStatus::Valid),
        )]))
        .with_policy(Ok(HttpResponse {
            status: 404,
            content_type: Some("text/html".into()),
            body: b"not found".to_vec(),
        })),
    );
    assert_eq!(codes(&r), [(Severity::Error, "policy-http-status")]);
    assert_eq!(r.policy.http_status, Some(404));
    assert_eq!(r.applied, Applied::NoPolicy);
}

#[test]
fn a_certificate_problem_on_the_policy_host_is_classified() {
    let r = assess(
        deployment(MxObservation::default()).with_policy(Err(FetchFailure {
            result_type: ResultType::StsWebpkiInvalid,
            reason: "certificate not valid for mta-sts.example.com".into(),
        })),
    );
    assert!(
        codes(&r).contains(&(Severity::Error, "policy-certificate")),
        "{:?}",
        codes(&r)
    );
    assert_eq!(r.applied, Applied::NoPolicy);
}

#[test]
fn record_problems_are_told_apart() {
    let with = |answer| assess(deployment(MxObservation::default()).with_sts_txt(answer));
    assert_eq!(
        with(TxtAnswer::NoRecord).sts_record.status,
        RecordStatus::Absent
    );
    assert_eq!(
        with(TxtAnswer::TempFail("SERVFAIL".into()))
            .sts_record
            .status,
        RecordStatus::Temperror
    );
    let two = TxtAnswer::Records(vec![b"v=STSv1; id=1;".to_vec(), b"v=STSv1; id=2;".to_vec()]);
    assert_eq!(with(two).sts_record.status, RecordStatus::Multiple);
    let bad = with(txt("v=STSv1; id=not_valid!;"));
    assert_eq!(bad.sts_record.status, RecordStatus::Invalid);
    // Without a valid record senders apply no policy, even though one is served.
    assert_eq!(bad.applied, Applied::NoPolicy);
    assert!(codes(&bad).contains(&(Severity::Error, "sts-record-invalid")));
}

#[test]
fn null_mx_and_failed_mx_lookup() {
    let null = MxObservation::null_mx();
    let r = assess(deployment(null));
    assert!(
        codes(&r).contains(&(Severity::Info, "null-mx")),
        "{:?}",
        codes(&r)
    );
    assert!(r.mx.is_empty());

    let r = assess(deployment(MxObservation::failed("SERVFAIL")));
    assert!(
        codes(&r).contains(&(Severity::Error, "mx-lookup")),
        "{:?}",
        codes(&r)
    );
}

#[test]
fn tlsrpt_record_problems_are_warnings() {
    let r = assess(
        deployment(MxObservation::hosts(vec![host(
            10,
            "mail.example.com",
            tls(CertStatus::Valid),
        )]))
        .with_tlsrpt_txt(TxtAnswer::NoRecord),
    );
    assert_eq!(codes(&r), [(Severity::Warning, "tlsrpt-absent")]);
    assert!(!r.exit_failed());
}

#[test]
fn testing_mode_is_applied_and_reported() {
    let body = ENFORCE.replace("mode: enforce", "mode: testing");
    assert_ne!(body, ENFORCE);
    let r = assess(
        deployment(MxObservation::hosts(vec![host(
            10,
            "mail.example.com",
            tls(CertStatus::Valid),
        )]))
        .with_policy(served(&body)),
    );
    assert_eq!(r.applied, Applied::Testing);
    assert_eq!(
        r.policy.mode.map(|m| m.to_string()).as_deref(),
        Some("testing")
    );
}

#[test]
fn no_sts_record_means_not_deployed_not_failed() {
    let r = assess(
        deployment(MxObservation::hosts(vec![host(
            10,
            "mail.example.com",
            tls(CertStatus::Valid),
        )]))
        .with_sts_txt(TxtAnswer::NoRecord)
        .with_policy(Err(FetchFailure {
            result_type: ResultType::StsPolicyFetchError,
            reason: "connection refused".into(),
        })),
    );
    assert_eq!(codes(&r), [(Severity::Warning, "sts-record-absent")]);
    assert!(
        r.findings[0].message.contains("not deployed"),
        "{}",
        r.findings[0].message
    );
    assert!(r.passed && !r.exit_failed());
    assert_eq!(r.applied, Applied::NoPolicy);
    // An SPF record alone is no MTA-STS record either.
    let r = assess(deployment(MxObservation::default()).with_sts_txt(txt("v=spf1 -all")));
    assert!(
        codes(&r).contains(&(Severity::Warning, "sts-record-absent")),
        "{:?}",
        codes(&r)
    );
}

#[test]
fn under_mode_none_no_mx_is_in_or_out_of_the_policy() {
    let body = ENFORCE.replace("mode: enforce", "mode: none");
    assert_ne!(body, ENFORCE);
    let r = assess(
        deployment(MxObservation::hosts(vec![
            host(10, "mail.example.com", tls(CertStatus::Valid)),
            host(20, "backup.example.org", tls(CertStatus::Valid)),
        ]))
        .with_policy(served(&body)),
    );
    assert_eq!(r.applied, Applied::None);
    for m in &r.mx {
        assert_eq!(
            (m.in_policy, m.pattern.as_deref()),
            (None, None),
            "{}",
            m.host
        );
    }
    assert!(
        !codes(&r).iter().any(|(_, c)| *c == "mx-not-in-policy"),
        "{:?}",
        codes(&r)
    );
    assert!(!r.exit_failed());
}

// ------------------------------------------------ certificate expiry, --no-smtp, DANE

use std::time::{Duration, SystemTime};

use mta_sts_check::check::{CertificatesSummary, DaneSummary, ProbeState};
use mta_sts_check::smtp::LeafInfo;
use policy_fetch::dns::{Tlsa, TlsaAnswer};

/// The fixed "now" of these tests: 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
}

/// A valid TLS outcome whose leaf expires `secs` seconds after [`NOW`].
fn valid_until(secs: i64) -> TlsOutcome {
    let not_after_unix = i64::try_from(NOW).unwrap() + secs;
    TlsOutcome {
        leaf: Some(LeafInfo {
            subject: "CN=host".into(),
            issuer: "CN=CA".into(),
            dns_names: vec!["host".into()],
            not_before: "2025-01-01T00:00:00Z".into(),
            not_after: format!("T+{secs}"),
            not_after_unix,
        }),
        ..tls(CertStatus::Valid).tls.unwrap()
    }
}

fn mx_until(secs: i64) -> ProbeResult {
    ProbeResult {
        tls: Some(valid_until(secs)),
        ..tls(CertStatus::Valid)
    }
}

const DAY: i64 = 86_400;

#[test]
fn mx_certificate_expiry_thresholds() {
    let one = |secs: i64, body: &str, now: Option<SystemTime>| {
        let mut seen = deployment(MxObservation::hosts(vec![host(
            10,
            "mail.example.com",
            mx_until(secs),
        )]))
        .with_policy(served(body));
        if let Some(n) = now {
            seen = seen.with_now(n);
        }
        assess(seen)
    };
    let expiring = |secs, body| {
        let r = one(secs, body, Some(now()));
        codes(&r)
            .into_iter()
            .filter(|(_, c)| *c == "mx-certificate-expiring")
            .map(|(s, _)| s)
            .collect::<Vec<_>>()
    };
    // enforce: 2 days (and exactly 3) error, 10 (and exactly 14) warning, 60 and 14 days + 1 s nothing.
    assert_eq!(expiring(2 * DAY, ENFORCE), [Severity::Error]);
    assert_eq!(expiring(3 * DAY, ENFORCE), [Severity::Error]);
    assert_eq!(expiring(3 * DAY + 1, ENFORCE), [Severity::Warning]);
    assert_eq!(expiring(10 * DAY, ENFORCE), [Severity::Warning]);
    assert_eq!(expiring(14 * DAY, ENFORCE), [Severity::Warning]);
    assert_eq!(expiring(14 * DAY + 1, ENFORCE), []);
    assert_eq!(expiring(60 * DAY, ENFORCE), []);
    // Under mode none senders do not rely on it: a warning.
    let none = ENFORCE.replace("mode: enforce", "mode: none");
    assert_eq!(expiring(2 * DAY, &none), [Severity::Warning]);
    // Without a time, no expiry is judged.
    assert_eq!(codes(&one(2 * DAY, ENFORCE, None)), []);

    let r = one(2 * DAY, ENFORCE, Some(now()));
    assert_eq!(
        r.findings[0].message,
        "the certificate of MX mail.example.com expires at T+172800, in 2 days: senders applying the policy refuse it (enforce) or report it (testing) once it has expired"
    );
    assert_eq!(r.summary.certificates, CertificatesSummary::Expiring);
    let r = one(3600, ENFORCE, Some(now()));
    assert!(
        r.findings[0].message.ends_with("expires at T+3600, in less than a day: senders applying the policy refuse it (enforce) or report it (testing) once it has expired"),
        "{}",
        r.findings[0].message
    );
    let r = one(DAY, ENFORCE, Some(now()));
    assert!(
        r.findings[0].message.contains(", in 1 day: "),
        "{}",
        r.findings[0].message
    );
    // A certificate the probe found valid but that is past its notAfter
    // at `now` (the clocks differ) reads "expired", an error.
    let r = one(-60, ENFORCE, Some(now()));
    assert_eq!(codes(&r), [(Severity::Error, "mx-certificate-expiring")]);
    assert!(
        r.findings[0].message.contains("expired at T+-60"),
        "{}",
        r.findings[0].message
    );
    // An invalid certificate is not judged for expiry (it already fails).
    let mut bad = mx_until(2 * DAY);
    bad.tls.as_mut().unwrap().status = CertStatus::CertificateHostMismatch;
    let r = assess(
        deployment(MxObservation::hosts(vec![host(
            10,
            "mail.example.com",
            bad,
        )]))
        .with_now(now()),
    );
    assert_eq!(
        codes(&r),
        [(Severity::Error, "mx-certificate-host-mismatch")]
    );
    assert_eq!(r.summary.certificates, CertificatesSummary::Invalid);
}

#[test]
fn policy_host_certificate_expiry() {
    let good = || MxObservation::hosts(vec![host(10, "mail.example.com", tls(CertStatus::Valid))]);
    let with = |secs: i64| {
        assess(
            deployment(good())
                .with_policy_tls(valid_until(secs))
                .with_now(now()),
        )
    };
    assert_eq!(
        codes(&with(2 * DAY)),
        [(Severity::Error, "policy-certificate-expiring")]
    );
    assert_eq!(
        codes(&with(10 * DAY)),
        [(Severity::Warning, "policy-certificate-expiring")]
    );
    assert_eq!(codes(&with(60 * DAY)), []);
    let r = with(60 * DAY);
    assert_eq!(r.policy.certificate_not_after.as_deref(), Some("T+5184000"));
    assert_eq!(r.summary.certificates, CertificatesSummary::Ok);
    let r = with(2 * DAY);
    assert_eq!(
        r.findings[0].message,
        "the certificate of mta-sts.example.com expires at T+172800, in 2 days: senders cannot fetch or refresh the policy once it has expired"
    );
    assert_eq!(
        r.findings[0].remediation,
        "renew the certificate of mta-sts.example.com now (and automate its renewal)"
    );
    // Without a valid record the policy is not in use: a warning.
    let r = assess(
        deployment(good())
            .with_sts_txt(TxtAnswer::NoRecord)
            .with_policy_tls(valid_until(2 * DAY))
            .with_now(now()),
    );
    assert!(
        codes(&r).contains(&(Severity::Warning, "policy-certificate-expiring")),
        "{:?}",
        codes(&r)
    );
}

#[test]
fn mx_hosts_not_probed() {
    let hosts = vec![
        MxHostObservation::new(
            10,
            "mail.example.com",
            Ok(vec!["192.0.2.1".parse().unwrap()]),
            None,
        ),
        MxHostObservation::new(20, "mx2.example.net", Err("no A/AAAA records".into()), None),
    ];
    let r = assess(deployment(MxObservation::hosts(hosts).without_probes()).with_now(now()));
    assert_eq!(
        codes(&r),
        [
            (Severity::Info, "mx-not-probed"),
            (Severity::Warning, "mx-no-address")
        ]
    );
    assert!(r.passed);
    assert_eq!(r.mx[0].probe, ProbeState::NotProbed);
    assert_eq!(r.mx[1].probe, ProbeState::NoAddress);
    assert_eq!(r.summary.certificates, CertificatesSummary::NotProbed);
    assert_eq!(r.summary.mx_covered, Some(2));
    assert_eq!(r.summary.mx_total, 2);
    // The same hosts probed but unreachable: the error stays.
    let unreachable = ProbeResult {
        error: Some("cannot connect".into()),
        ..ProbeResult::default()
    };
    let r = assess(deployment(MxObservation::hosts(vec![host(
        10,
        "mail.example.com",
        unreachable,
    )])));
    assert_eq!(r.mx[0].probe, ProbeState::Failed);
    assert_eq!(
        codes(&r),
        [
            (Severity::Warning, "mx-unreachable"),
            (Severity::Error, "mx-none-probed")
        ]
    );
}

#[test]
fn dane_summary_and_findings() {
    let tlsa = |n: usize, ad: bool| TlsaAnswer {
        records: (0..n)
            .map(|i| Tlsa {
                usage: 3,
                selector: 1,
                matching: 1,
                data: vec![u8::try_from(i).unwrap(); 2],
            })
            .collect(),
        authentic_data: ad,
    };
    let with = |a: Result<TlsaAnswer, String>, b: Result<TlsaAnswer, String>| {
        assess(deployment(MxObservation::hosts(vec![
            host(10, "mail.example.com", tls(CertStatus::Valid)).with_tlsa(a),
            host(20, "mx2.example.net", tls(CertStatus::Valid)).with_tlsa(b),
        ])))
    };
    let r = with(Ok(tlsa(0, false)), Ok(tlsa(0, false)));
    assert_eq!(codes(&r), []);
    assert_eq!(r.summary.dane, DaneSummary::None);
    let r = with(Ok(tlsa(2, true)), Ok(tlsa(0, false)));
    assert_eq!(codes(&r), [(Severity::Info, "dane-tlsa")]);
    assert_eq!(r.summary.dane, DaneSummary::Validated);
    assert_eq!(
        r.mx[0].dane.as_ref().unwrap().records,
        ["3 1 1 0000", "3 1 1 0101"]
    );
    let r = with(Ok(tlsa(1, true)), Ok(tlsa(1, false)));
    assert_eq!(r.summary.dane, DaneSummary::Present);
    let r = with(
        Ok(tlsa(1, true)),
        Err("temporary DNS failure: SERVFAIL".into()),
    );
    assert_eq!(
        codes(&r),
        [
            (Severity::Warning, "dane-lookup"),
            (Severity::Info, "dane-tlsa")
        ]
    );
    assert_eq!(r.summary.dane, DaneSummary::Error);
    assert!(r.passed);
    // Not looked up: no DANE report.
    let r = assess(deployment(MxObservation::hosts(vec![host(
        10,
        "mail.example.com",
        tls(CertStatus::Valid),
    )])));
    assert!(r.mx[0].dane.is_none());
    assert_eq!(r.summary.dane, DaneSummary::None);
}
