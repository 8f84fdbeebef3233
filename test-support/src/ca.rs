//! A throw-away certificate authority and the leaf certificates it issues.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// The subject common name of every [`TestCa`].
pub const CA_NAME: &str = "test-support CA";

/// A self-signed certificate authority, generated fresh for each [`TestCa::new`].
///
/// Clients under test trust it by adding [`TestCa::ca_cert_der`] to their root store.
/// Cloning is cheap and yields the same CA.
#[derive(Clone)]
pub struct TestCa {
    inner: Arc<CaInner>,
}

struct CaInner {
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("name", &CA_NAME)
            .finish_non_exhaustive()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// A leaf (end-entity) certificate with its private key.
///
/// `chain` is what a server should present: the leaf followed by the issuing CA
/// (for [`TestCa::self_signed`] it is just the leaf).
#[derive(Debug)]
pub struct Leaf {
    /// The leaf certificate, DER.
    pub cert_der: CertificateDer<'static>,
    /// The leaf's private key (PKCS#8), DER.
    pub key_der: PrivateKeyDer<'static>,
    /// The chain to present: leaf first, then the CA certificate (if any).
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf certificate, PEM.
    pub cert_pem: String,
    /// The leaf's private key (PKCS#8), PEM.
    pub key_pem: String,
}

impl Clone for Leaf {
    fn clone(&self) -> Self {
        Self {
            cert_der: self.cert_der.clone(),
            key_der: self.key_der.clone_key(),
            chain: self.chain.clone(),
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }
}

fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}-{n}", std::process::id())
}

/// Default validity of issued leaves: from one day ago to one year ahead.
fn default_validity() -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (now - Duration::days(1), now + Duration::days(365))
}

/// Leaf parameters: dNSName SANs for `names` (IP literals become iPAddress SANs),
/// CN = first name, serverAuth EKU.
fn leaf_params(
    names: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let sans: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(sans).expect("valid SAN names");
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(first) = names.first() {
        params
            .distinguished_name
            .push(DnType::CommonName, (*first).to_owned());
    }
    params.not_before = not_before;
    params.not_after = not_after;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params
}

fn make_leaf(
    cert: &rcgen::Certificate,
    key: &KeyPair,
    ca: Option<&CertificateDer<'static>>,
) -> Leaf {
    let cert_der = cert.der().clone();
    let mut chain = vec![cert_der.clone()];
    chain.extend(ca.cloned());
    Leaf {
        cert_der,
        key_der: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        chain,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

impl TestCa {
    /// Generates a new CA (ECDSA P-256, CN "test-support CA" plus a unique OU, valid from a
    /// day ago for ten years).
    pub fn new() -> Self {
        let key = KeyPair::generate().expect("generate CA key");
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, CA_NAME);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "test-support");
        // A unique OU keeps distinct CAs' subject names distinct, so a client trusting
        // another TestCa reports UnknownIssuer rather than BadSignature.
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, unique_id());
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key).expect("self-sign CA");
        Self {
            inner: Arc::new(CaInner {
                cert_der: cert.der().clone(),
                cert_pem: cert.pem(),
                issuer: Issuer::new(params, key),
            }),
        }
    }

    /// The CA certificate, DER (add this to a client's root store).
    pub fn ca_cert_der(&self) -> CertificateDer<'static> {
        self.inner.cert_der.clone()
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.inner.cert_pem.clone()
    }

    /// A `rustls::RootCertStore` holding only this CA.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_cert_der()).expect("add CA to root store");
        roots
    }

    /// Issues a leaf valid now (from a day ago to a year ahead) for `names`
    /// (subjectAltName dNSNames; CN is the first name).
    pub fn issue(&self, names: &[&str]) -> Leaf {
        let (nb, na) = default_validity();
        self.issue_with(names, nb, na)
    }

    /// Issues a leaf for `names` with an explicit validity window, e.g. for expired
    /// (`not_after` in the past) or not-yet-valid (`not_before` in the future) certificates.
    pub fn issue_with(
        &self,
        names: &[&str],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Leaf {
        let params = leaf_params(names, not_before, not_after);
        self.sign(&params)
    }

    /// Issues a leaf whose subject CN is `cn` and which has **no** subjectAltName
    /// extension (RFC 6125 clients, and webpki, must reject it for `cn`).
    pub fn issue_cn_only(&self, cn: &str) -> Leaf {
        let (nb, na) = default_validity();
        let mut params = leaf_params(&[], nb, na);
        params.distinguished_name.push(DnType::CommonName, cn);
        self.sign(&params)
    }

    fn sign(&self, params: &CertificateParams) -> Leaf {
        let key = KeyPair::generate().expect("generate leaf key");
        let cert = params
            .signed_by(&key, &self.inner.issuer)
            .expect("sign leaf");
        make_leaf(&cert, &key, Some(&self.inner.cert_der))
    }

    /// A self-signed leaf for `names`, not issued by any [`TestCa`]: clients must
    /// reject it as untrusted. Its `chain` is just the leaf.
    pub fn self_signed(names: &[&str]) -> Leaf {
        let (nb, na) = default_validity();
        let params = leaf_params(names, nb, na);
        let key = KeyPair::generate().expect("generate leaf key");
        let cert = params.self_signed(&key).expect("self-sign leaf");
        make_leaf(&cert, &key, None)
    }
}
