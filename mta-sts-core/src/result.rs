//! TLS-RPT result types (RFC 8460 section 4.3, IANA "STARTTLS Validation
//! Result Types" registry). Shared by MTA-STS decisions and `tlsrpt-core`.

use std::fmt;
use std::str::FromStr;

/// A result type. The registry can grow (Expert Review), so unknown values
/// are kept as [`ResultType::Other`] (DEC-18).
///
/// ```
/// use mta_sts_core::ResultType;
/// assert_eq!("certificate-expired".parse::<ResultType>().unwrap(), ResultType::CertificateExpired);
/// assert_eq!(ResultType::StsWebpkiInvalid.as_str(), "sts-webpki-invalid");
/// assert_eq!("new-thing".parse::<ResultType>().unwrap(), ResultType::Other("new-thing".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ResultType {
    /// `starttls-not-supported`
    StarttlsNotSupported,
    /// `certificate-host-mismatch`
    CertificateHostMismatch,
    /// `certificate-expired`
    CertificateExpired,
    /// `tlsa-invalid`
    TlsaInvalid,
    /// `dnssec-invalid`
    DnssecInvalid,
    /// `dane-required`
    DaneRequired,
    /// `certificate-not-trusted`
    CertificateNotTrusted,
    /// `sts-policy-invalid`
    StsPolicyInvalid,
    /// `sts-webpki-invalid`
    StsWebpkiInvalid,
    /// `validation-failure`
    ValidationFailure,
    /// `sts-policy-fetch-error`
    StsPolicyFetchError,
    /// A value not (yet) in the registry, as written.
    Other(String),
}

impl ResultType {
    /// All registered values, in registry order.
    pub const REGISTERED: [Self; 11] = [
        Self::StarttlsNotSupported,
        Self::CertificateHostMismatch,
        Self::CertificateExpired,
        Self::TlsaInvalid,
        Self::DnssecInvalid,
        Self::DaneRequired,
        Self::CertificateNotTrusted,
        Self::StsPolicyInvalid,
        Self::StsWebpkiInvalid,
        Self::ValidationFailure,
        Self::StsPolicyFetchError,
    ];

    /// The registry string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::StarttlsNotSupported => "starttls-not-supported",
            Self::CertificateHostMismatch => "certificate-host-mismatch",
            Self::CertificateExpired => "certificate-expired",
            Self::TlsaInvalid => "tlsa-invalid",
            Self::DnssecInvalid => "dnssec-invalid",
            Self::DaneRequired => "dane-required",
            Self::CertificateNotTrusted => "certificate-not-trusted",
            Self::StsPolicyInvalid => "sts-policy-invalid",
            Self::StsWebpkiInvalid => "sts-webpki-invalid",
            Self::ValidationFailure => "validation-failure",
            Self::StsPolicyFetchError => "sts-policy-fetch-error",
            Self::Other(s) => s,
        }
    }

    /// Whether the value is one of the registered ones.
    pub fn is_registered(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

impl FromStr for ResultType {
    type Err = std::convert::Infallible;
    /// Exact (lower-case) registry strings map to their variant; anything
    /// else is kept as [`ResultType::Other`].
    #[inline]
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "starttls-not-supported" => Self::StarttlsNotSupported,
            "certificate-host-mismatch" => Self::CertificateHostMismatch,
            "certificate-expired" => Self::CertificateExpired,
            "tlsa-invalid" => Self::TlsaInvalid,
            "dnssec-invalid" => Self::DnssecInvalid,
            "dane-required" => Self::DaneRequired,
            "certificate-not-trusted" => Self::CertificateNotTrusted,
            "sts-policy-invalid" => Self::StsPolicyInvalid,
            "sts-webpki-invalid" => Self::StsWebpkiInvalid,
            "validation-failure" => Self::ValidationFailure,
            "sts-policy-fetch-error" => Self::StsPolicyFetchError,
            other => Self::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for ResultType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ResultType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ResultType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        let Ok(r) = s.parse();
        Ok(r)
    }
}
