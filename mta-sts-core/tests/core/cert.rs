use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mta_sts_core::cert::{CertVerdict, check_certificate, dns_name_matches, load_certificate};
use mta_sts_core::{CertError, ResultType};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use time::OffsetDateTime;

const NOT_BEFORE: i64 = 1_700_000_000; // 2023-11-14
const NOT_AFTER: i64 = 1_800_000_000; // 2027-01-15

fn cert(sans: &[&str], cn: Option<&str>) -> rcgen::Certificate {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let mut dn = DistinguishedName::new();
    if let Some(cn) = cn {
        dn.push(DnType::CommonName, cn);
    }
    params.distinguished_name = dn;
    params.not_before = OffsetDateTime::from_unix_timestamp(NOT_BEFORE).unwrap();
    params.not_after = OffsetDateTime::from_unix_timestamp(NOT_AFTER).unwrap();
    params.self_signed(&key).unwrap()
}

fn t(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

const MID: i64 = 1_750_000_000;

#[test]
fn sts_cert_03_san_must_match_mx_host() {
    let c = cert(&["mx1.example.com", "mx2.example.com"], None);
    let v = check_certificate(c.der(), "MX2.example.com.", t(MID));
    assert_eq!(
        v,
        CertVerdict::Valid {
            matched: "mx2.example.com".into()
        }
    );
    assert!(v.is_valid());
    assert_eq!(v.result_type(), None);
    // Pattern `*.example.com` allowed mx1, but the certificate only names mx2.
    let c = cert(&["mx2.example.com"], None);
    let v = check_certificate(c.der(), "mx1.example.com", t(MID));
    assert_eq!(
        v,
        CertVerdict::HostMismatch {
            dns_names: vec!["mx2.example.com".into()]
        }
    );
    assert_eq!(v.result_type(), Some(ResultType::CertificateHostMismatch));
    assert!(v.reason().contains("mx2.example.com"));
}

#[test]
fn sts_cert_04_wildcard_san_dec_11() {
    let c = cert(&["*.example.com"], None);
    assert!(check_certificate(c.der(), "mx1.example.com", t(MID)).is_valid());
    assert!(!check_certificate(c.der(), "a.b.example.com", t(MID)).is_valid());
    assert!(!check_certificate(c.der(), "example.com", t(MID)).is_valid());
    assert!(!dns_name_matches("m*.example.com", "mx1.example.com"));
    assert!(!dns_name_matches("*x.example.com", "mx.example.com"));
    assert!(!dns_name_matches("mx.*.com", "mx.example.com"));
    assert!(!dns_name_matches("*.com", "example.com"));
    assert!(dns_name_matches("*.Example.COM.", "mx.example.com"));
    assert!(dns_name_matches(
        "*.xn--bcher-kva.example",
        "mx.bücher.example"
    ));
    assert!(!dns_name_matches("", ""));
}

#[test]
fn sts_cert_05_no_cn_fallback() {
    let c = cert(&[], Some("mx1.example.com"));
    let v = check_certificate(c.der(), "mx1.example.com", t(MID));
    assert_eq!(v, CertVerdict::HostMismatch { dns_names: vec![] });
    assert!(v.reason().contains("CN is not used"));
}

#[test]
fn sts_cert_02_validity_period() {
    let c = cert(&["mx1.example.com"], None);
    let v = check_certificate(c.der(), "mx1.example.com", t(NOT_AFTER + 1));
    assert_eq!(
        v,
        CertVerdict::Expired {
            not_after: NOT_AFTER
        }
    );
    assert_eq!(v.result_type(), Some(ResultType::CertificateExpired));
    assert!(check_certificate(c.der(), "mx1.example.com", t(NOT_AFTER)).is_valid());
    let v = check_certificate(c.der(), "mx1.example.com", t(NOT_BEFORE - 1));
    assert_eq!(
        v,
        CertVerdict::NotYetValid {
            not_before: NOT_BEFORE
        }
    );
    assert_eq!(v.result_type(), Some(ResultType::ValidationFailure));
    assert!(v.reason().contains("2023"), "{}", v.reason());
}

#[test]
fn unreadable_and_pem() {
    let v = check_certificate(b"garbage", "mx", t(MID));
    assert!(matches!(
        v,
        CertVerdict::Unreadable(CertError::Der {
            part: "certificate",
            ..
        })
    ));
    let CertVerdict::Unreadable(e) = &v else {
        unreachable!()
    };
    assert!(
        std::error::Error::source(e).is_some(),
        "the decoder's error is kept"
    );
    assert_eq!(v.result_type(), Some(ResultType::ValidationFailure));
    let c = cert(&["mx1.example.com"], None);
    let mut der = c.der().to_vec();
    der.push(0);
    assert!(matches!(
        check_certificate(&der, "mx1.example.com", t(MID)),
        CertVerdict::Unreadable(_)
    ));
    let key = KeyPair::generate().unwrap();
    let pem = format!("{}{}", key.serialize_pem(), c.pem());
    assert_eq!(load_certificate(pem.as_bytes()).unwrap(), c.der().to_vec());
    assert_eq!(load_certificate(c.der()).unwrap(), c.der().to_vec());
    assert_eq!(
        load_certificate(key.serialize_pem().as_bytes()),
        Err(CertError::NoPemCertificate)
    );
    assert!(matches!(
        load_certificate(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"),
        Err(CertError::Pem(_))
    ));
}
