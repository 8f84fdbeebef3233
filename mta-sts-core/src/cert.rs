//! Certificate identity and validity for an MX host (RFC 8461 section 4.2;
//! STS-CERT-*, DEC-11).
//!
//! # Boundary
//!
//! This module checks the *end-entity* certificate only: that one of its
//! `subjectAltName` dNSName entries matches the MX host name, and that `now`
//! lies inside its validity period. Building and verifying the chain to a
//! trusted root (signatures, CA constraints, revocation) is the job of the
//! TLS library (rustls/webpki, OpenSSL); when that fails, report
//! `certificate-not-trusted`. Use this module to classify an already
//! received certificate into the TLS-RPT result types and to give a precise
//! reason.

use std::time::SystemTime;

use x509_parser::prelude::*;

use crate::error::CertError;
use crate::result::ResultType;

/// Read a certificate file: PEM (the first `CERTIFICATE` block is used) or
/// DER, detected by content.
pub fn load_certificate(bytes: &[u8]) -> Result<Vec<u8>, CertError> {
    let trimmed = bytes.trim_ascii_start();
    if !trimmed.starts_with(b"-----BEGIN") {
        return Ok(bytes.to_vec());
    }
    for pem in Pem::iter_from_buffer(bytes) {
        let pem = pem.map_err(|e| CertError::Pem(e.to_string()))?;
        if pem.label == "CERTIFICATE" {
            return Ok(pem.contents);
        }
    }
    Err(CertError::NoPemCertificate)
}

/// A decoder failure as a [`CertError`] naming the `part` that failed.
fn der_error(part: &'static str, e: nom::Err<X509Error>) -> CertError {
    let source = match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => X509Error::InvalidCertificate,
    };
    CertError::Der { part, source }
}

/// The subjectAltName dNSName entries of a certificate, in order (empty
/// without the extension): the only names MTA-STS matches (no CN
/// fallback, DEC-11).
pub fn san_dns_names(cert: &X509Certificate<'_>) -> Result<Vec<String>, X509Error> {
    Ok(match cert.subject_alternative_name()? {
        Some(san) => san
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(n) => Some((*n).to_owned()),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    })
}

/// The verdict on a certificate for an MX host.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CertVerdict {
    /// Valid for the host at `now`.
    Valid {
        /// The SAN dNSName that matched.
        matched: String,
    },
    /// No SAN dNSName matches the host (the subject CN is never used,
    /// STS-CERT-05).
    HostMismatch {
        /// The SAN dNSNames present.
        dns_names: Vec<String>,
    },
    /// `now` is after `notAfter`.
    Expired {
        /// `notAfter`, seconds since the Unix epoch.
        not_after: i64,
    },
    /// `now` is before `notBefore`.
    NotYetValid {
        /// `notBefore`, seconds since the Unix epoch.
        not_before: i64,
    },
    /// The certificate cannot be read.
    Unreadable(CertError),
}

impl CertVerdict {
    /// Whether the certificate is valid for the host.
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }

    /// The TLS-RPT result type, `None` when valid.
    pub fn result_type(&self) -> Option<ResultType> {
        Some(match self {
            Self::Valid { .. } => return None,
            Self::HostMismatch { .. } => ResultType::CertificateHostMismatch,
            Self::Expired { .. } => ResultType::CertificateExpired,
            Self::NotYetValid { .. } | Self::Unreadable(_) => ResultType::ValidationFailure,
        })
    }

    /// A one-line human reason.
    pub fn reason(&self) -> String {
        match self {
            Self::Valid { matched } => {
                format!("certificate is valid for the host (SAN `{matched}`)")
            }
            Self::HostMismatch { dns_names } if dns_names.is_empty() => {
                "certificate has no subjectAltName dNSName (the subject CN is not used)".to_owned()
            }
            Self::HostMismatch { dns_names } => format!(
                "no subjectAltName dNSName matches the host (certificate names: {})",
                dns_names.join(", ")
            ),
            Self::Expired { not_after } => {
                format!("certificate expired at {} (notAfter)", fmt_time(*not_after))
            }
            Self::NotYetValid { not_before } => {
                format!(
                    "certificate is not valid before {} (notBefore)",
                    fmt_time(*not_before)
                )
            }
            Self::Unreadable(e) => match std::error::Error::source(e) {
                Some(source) => format!("{e}: {source}"),
                None => e.to_string(),
            },
        }
    }
}

fn fmt_time(t: i64) -> String {
    ASN1Time::from_timestamp(t).map_or_else(|_| format!("{t} (Unix time)"), |a| a.to_string())
}

/// Whether a SAN dNSName `pattern` matches `host` (RFC 6125 6.4 as narrowed
/// by RFC 8461 and DEC-11): ASCII case-insensitive, one trailing dot
/// ignored on both; `*` only as the entire left-most label, standing for
/// exactly one non-empty label, and only above a base of at least two
/// labels (`*.com` never matches).
///
/// ```
/// use mta_sts_core::cert::dns_name_matches;
/// assert!(dns_name_matches("*.example.com", "mx1.example.com"));
/// assert!(!dns_name_matches("*.example.com", "a.b.example.com"));
/// assert!(!dns_name_matches("*.example.com", "example.com"));
/// assert!(!dns_name_matches("m*.example.com", "mx1.example.com"));
/// assert!(!dns_name_matches("*.com", "example.com"));
/// ```
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let p = pattern.strip_suffix('.').unwrap_or(pattern);
    let Some(h) = crate::mx::normalize_host(host) else {
        return false;
    };
    let h = h.as_bytes();
    if let Some(base) = p.strip_prefix("*.") {
        let b = base.as_bytes();
        if base.contains('*')
            || !base.contains('.')
            || base.starts_with('.')
            || h.len() < b.len() + 2
        {
            return false;
        }
        let split = h.len() - b.len();
        h[split - 1] == b'.'
            && h[split..].eq_ignore_ascii_case(b)
            && !h[..split - 1].contains(&b'.')
    } else {
        !p.contains('*') && !p.is_empty() && h.eq_ignore_ascii_case(p.as_bytes())
    }
}

/// Check a DER certificate for `mx_host` at time `now`.
///
/// Order: unreadable, then the validity period (expired / not yet valid),
/// then the name. Chain validation is out of scope (see the module docs).
pub fn check_certificate(der: &[u8], mx_host: &str, now: SystemTime) -> CertVerdict {
    let cert = match X509Certificate::from_der(der) {
        Ok((rest, _)) if !rest.is_empty() => {
            return CertVerdict::Unreadable(CertError::TrailingData(rest.len()));
        }
        Ok((_, cert)) => cert,
        Err(e) => return CertVerdict::Unreadable(der_error("certificate", e)),
    };
    // Whole seconds, rounded down (as the validity bounds are).
    let t = crate::time::Timestamp::from(now).unix_secs();
    let validity = cert.validity();
    let not_after = validity.not_after.timestamp();
    let not_before = validity.not_before.timestamp();
    if t > not_after {
        return CertVerdict::Expired { not_after };
    }
    if t < not_before {
        return CertVerdict::NotYetValid { not_before };
    }
    let dns_names = match san_dns_names(&cert) {
        Ok(names) => names,
        Err(source) => {
            return CertVerdict::Unreadable(CertError::Der {
                part: "subjectAltName",
                source,
            });
        }
    };
    match dns_names.iter().find(|n| dns_name_matches(n, mx_host)) {
        Some(m) => CertVerdict::Valid { matched: m.clone() },
        None => CertVerdict::HostMismatch { dns_names },
    }
}
