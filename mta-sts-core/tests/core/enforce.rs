use mta_sts_core::enforce::*;
use mta_sts_core::{Policy, ResultType};

fn policy(mode: &str) -> Policy<'static> {
    format!(
        "version: STSv1\nmode: {mode}\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 86400\n"
    )
    .parse()
    .unwrap()
}

fn expired() -> TlsStatus {
    TlsStatus::Failed {
        result_type: ResultType::CertificateExpired,
        reason: None,
    }
}

fn kinds(d: &Decision) -> Vec<&str> {
    d.failures.iter().map(|f| f.result_type.as_str()).collect()
}

#[test]
fn sts_apply_01_07_enforce_truth_table() {
    let p = policy("enforce");
    // match × STARTTLS × certificate
    let cases = [
        (
            "mx1.example.com",
            TlsStatus::Valid,
            Action::Deliver { require_tls: true },
            vec![],
        ),
        (
            "mx1.example.com",
            TlsStatus::NoStartTls,
            Action::TryNextMx,
            vec!["starttls-not-supported"],
        ),
        (
            "mx1.example.com",
            expired(),
            Action::TryNextMx,
            vec!["certificate-expired"],
        ),
        (
            "other.example.org",
            TlsStatus::Valid,
            Action::TryNextMx,
            vec!["validation-failure"],
        ),
        (
            "other.example.org",
            expired(),
            Action::TryNextMx,
            vec!["validation-failure", "certificate-expired"],
        ),
        (
            "a.example.net",
            TlsStatus::Valid,
            Action::Deliver { require_tls: true },
            vec![],
        ),
    ];
    for (host, tls, action, failures) in cases {
        let d = decide(Some(&p), &MxSession::new(host, tls.clone()));
        assert_eq!(d.action, action, "{host} {tls:?}");
        assert_eq!(kinds(&d), failures, "{host} {tls:?}");
        assert_eq!(d.success, failures.is_empty());
    }
}

#[test]
fn dec_12_mx_not_in_policy_reason() {
    let d = decide(
        Some(&policy("enforce")),
        &MxSession::new("evil.example.org", TlsStatus::Valid),
    );
    assert_eq!(d.failures[0].reason.as_deref(), Some(MX_NOT_IN_POLICY));
    assert_eq!(d.failures[0].mx_host, "evil.example.org");
}

#[test]
fn sts_apply_02_sts_mx_07_precheck_before_connecting() {
    let p = policy("enforce");
    // Walk MX candidates in preference order: a non-matching one is skipped like an unreachable host.
    let first = decide(
        Some(&p),
        &MxSession::new("mx9.other.example", TlsStatus::NotAttempted),
    );
    assert_eq!(first.action, Action::TryNextMx);
    let second = decide(
        Some(&p),
        &MxSession::new("mx1.example.com", TlsStatus::NotAttempted),
    );
    assert_eq!(second.action, Action::Connect);
    assert!(
        !second.success,
        "not a success before the TLS outcome is known"
    );
}

#[test]
fn sts_apply_03_sts_rpt_03_testing_delivers_and_reports() {
    let p = policy("testing");
    for (host, tls, kind) in [
        (
            "mx1.example.com",
            TlsStatus::NoStartTls,
            "starttls-not-supported",
        ),
        ("mx1.example.com", expired(), "certificate-expired"),
        (
            "nomatch.example.org",
            TlsStatus::Valid,
            "validation-failure",
        ),
    ] {
        let d = decide(Some(&p), &MxSession::new(host, tls));
        assert_eq!(d.action, Action::Deliver { require_tls: false });
        assert_eq!(kinds(&d), [kind]);
    }
    let d = decide(
        Some(&p),
        &MxSession::new("mx1.example.com", TlsStatus::Valid),
    );
    assert_eq!(
        (d.action, d.success),
        (Action::Deliver { require_tls: false }, true)
    );
    assert_eq!(
        decide(
            Some(&p),
            &MxSession::new("x.example.org", TlsStatus::NotAttempted)
        )
        .action,
        Action::Connect
    );
}

#[test]
fn sts_apply_04_none_mode_is_no_policy() {
    let none = policy("none");
    for tls in [TlsStatus::Valid, TlsStatus::NoStartTls, expired()] {
        let a = decide(
            Some(&none),
            &MxSession::new("evil.example.org", tls.clone()),
        );
        let b = decide(None, &MxSession::new("evil.example.org", tls.clone()));
        assert_eq!(a, b);
        assert_eq!(a.action, Action::Deliver { require_tls: false });
        assert!(a.failures.is_empty());
    }
    assert_eq!(
        decide(None, &MxSession::new("x", TlsStatus::NotAttempted)).action,
        Action::Connect
    );
}

#[test]
fn sts_cert_01_02_failures_map_to_result_types() {
    let p = policy("enforce");
    let d = decide(
        Some(&p),
        &MxSession::new("mx1.example.com", TlsStatus::NoStartTls),
    );
    assert_eq!(d.failures[0].result_type, ResultType::StarttlsNotSupported);
    let nt = TlsStatus::Failed {
        result_type: ResultType::CertificateNotTrusted,
        reason: Some("unknown-ca".into()),
    };
    let d = decide(Some(&p), &MxSession::new("mx1.example.com", nt));
    assert_eq!(d.failures[0].reason.as_deref(), Some("unknown-ca"));
}

#[test]
fn sts_cert_10_dane_is_never_overridden() {
    let p = policy("enforce");
    let mut s = MxSession::new("mx1.example.com", TlsStatus::Valid);
    s.dane = Dane::Failed;
    assert_eq!(decide(Some(&p), &s).action, Action::TryNextMx);
    assert_eq!(decide(None, &s).action, Action::TryNextMx);
    let mut s = MxSession::new("not-in-policy.example.org", TlsStatus::Valid);
    s.dane = Dane::Passed;
    assert_eq!(
        decide(Some(&p), &s).action,
        Action::Deliver { require_tls: true }
    );
}

#[test]
fn sts_cache_09_10_sts_apply_05_recheck_before_bounce() {
    assert_eq!(all_refused(), AllRefused::RecheckTxtThenDefer);
    assert!(policy_changed("1", Some("2")));
    assert!(!policy_changed("1", Some("1")));
    assert!(!policy_changed("1", None));
}
