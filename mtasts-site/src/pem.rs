//! A rustls [`CertifiedKey`] from PEM text: a certificate chain (leaf
//! first, as certbot's `fullchain.pem` and ACME servers give it) and its
//! private key (PKCS#8, PKCS#1 or SEC1, as `privkey.pem`), for the
//! `--cert-dir` files and for certificates kept in the site store.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// The largest chain accepted (PEM text): a leaf and a few intermediates
/// take well under 16 KiB.
pub const MAX_CHAIN_PEM: usize = 256 * 1024;

/// The largest private key accepted (PEM text).
pub const MAX_KEY_PEM: usize = 64 * 1024;

/// The most certificates accepted in one chain.
pub const MAX_CHAIN_LEN: usize = 10;

/// Why PEM text does not make a usable certificate and key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// The text is larger than [`MAX_CHAIN_PEM`] or [`MAX_KEY_PEM`].
    #[error("the {what} PEM is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// `certificate chain` or `private key`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The chain holds no certificate, or more than [`MAX_CHAIN_LEN`].
    #[error("the certificate chain holds {0} certificates (1 to {MAX_CHAIN_LEN} accepted)")]
    ChainLength(usize),
    /// A certificate block could not be decoded.
    #[error("the certificate chain is not valid PEM")]
    Chain(#[source] rustls::pki_types::pem::Error),
    /// The key text holds no private key or is not valid PEM.
    #[error("the private key PEM holds no usable key")]
    Key(#[source] rustls::pki_types::pem::Error),
    /// The key is of an unsupported type, or does not belong to the leaf.
    #[error("the private key cannot sign for the certificate")]
    Unusable(#[source] rustls::Error),
}

/// The certificate chain and key in `chain_pem` and `key_pem` as a
/// rustls [`CertifiedKey`] (signing with *ring*), after checking that the
/// key belongs to the leaf (the first certificate).
///
/// # Errors
///
/// [`PemError`] when either text is too large, holds no certificate or no
/// key, or the key does not match the leaf.
pub fn certified_key_from_pem(
    chain_pem: &str,
    key_pem: &str,
) -> Result<Arc<CertifiedKey>, PemError> {
    if chain_pem.len() > MAX_CHAIN_PEM {
        return Err(PemError::TooLarge {
            what: "certificate chain",
            len: chain_pem.len(),
            max: MAX_CHAIN_PEM,
        });
    }
    if key_pem.len() > MAX_KEY_PEM {
        return Err(PemError::TooLarge {
            what: "private key",
            len: key_pem.len(),
            max: MAX_KEY_PEM,
        });
    }
    let chain = chain_from_pem(chain_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(PemError::Key)?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key, &provider)
        .map(Arc::new)
        .map_err(PemError::Unusable)
}

/// The certificates of `chain_pem`, in order (1 to [`MAX_CHAIN_LEN`]).
///
/// # Errors
///
/// [`PemError`] when the text is too large, not PEM, or holds no
/// certificate or too many.
pub fn chain_from_pem(chain_pem: &str) -> Result<Vec<CertificateDer<'static>>, PemError> {
    if chain_pem.len() > MAX_CHAIN_PEM {
        return Err(PemError::TooLarge {
            what: "certificate chain",
            len: chain_pem.len(),
            max: MAX_CHAIN_PEM,
        });
    }
    let mut chain = Vec::new();
    for cert in CertificateDer::pem_slice_iter(chain_pem.as_bytes()) {
        chain.push(cert.map_err(PemError::Chain)?);
        if chain.len() > MAX_CHAIN_LEN {
            return Err(PemError::ChainLength(chain.len()));
        }
    }
    if chain.is_empty() {
        return Err(PemError::ChainLength(0));
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::TestCa;

    /// `text` ending in a newline.
    fn nl(text: &str) -> String {
        let mut s = text.to_owned();
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s
    }

    /// `text` followed by comment lines outside any PEM block, `len`
    /// bytes in all (`len` is more than the text's length).
    fn pad(text: &str, len: usize) -> String {
        let mut s = nl(text);
        assert!(s.len() < len);
        while s.len() < len {
            s.push(if s.len() % 64 == 63 { '\n' } else { '#' });
        }
        s.truncate(len);
        s
    }

    #[test]
    fn chains_of_1_to_10_certificates_are_accepted() {
        let ca = TestCa::new();
        let leaf = ca.issue(&["a.test"]);
        let chain = |n: usize| format!("{}{}", nl(&leaf.cert_pem), ca.ca_pem().repeat(n - 1));
        assert_eq!(MAX_CHAIN_LEN, 10);
        for n in [1, MAX_CHAIN_LEN] {
            assert_eq!(chain_from_pem(&chain(n)).unwrap().len(), n);
            let key = certified_key_from_pem(&chain(n), &leaf.key_pem).unwrap();
            assert_eq!(key.cert.len(), n);
        }
        let e = chain_from_pem(&chain(MAX_CHAIN_LEN + 1)).unwrap_err();
        assert!(matches!(e, PemError::ChainLength(11)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "the certificate chain holds 11 certificates (1 to 10 accepted)"
        );
        assert!(matches!(
            certified_key_from_pem(&chain(MAX_CHAIN_LEN + 1), &leaf.key_pem),
            Err(PemError::ChainLength(11))
        ));
        // Far more: refused at the 11th, the rest not decoded.
        assert!(matches!(
            chain_from_pem(&chain(100)),
            Err(PemError::ChainLength(11))
        ));
        let e = chain_from_pem("# no certificate\n").unwrap_err();
        assert!(matches!(e, PemError::ChainLength(0)), "{e:?}");
    }

    #[test]
    fn chain_and_key_pem_sizes_are_bounded() {
        let ca = TestCa::new();
        let leaf = ca.issue(&["a.test"]);
        let chain = format!("{}{}", nl(&leaf.cert_pem), ca.ca_pem());
        assert_eq!(MAX_CHAIN_PEM, 256 * 1024);
        assert_eq!(MAX_KEY_PEM, 64 * 1024);
        // At the limits: accepted.
        let chain_at = pad(&chain, MAX_CHAIN_PEM);
        let key_at = pad(&leaf.key_pem, MAX_KEY_PEM);
        assert_eq!(chain_from_pem(&chain_at).unwrap().len(), 2);
        let key = certified_key_from_pem(&chain_at, &key_at).unwrap();
        assert_eq!(key.cert.len(), 2);
        // One byte more: refused before decoding.
        let chain_over = pad(&chain, MAX_CHAIN_PEM + 1);
        let e = chain_from_pem(&chain_over).unwrap_err();
        assert!(
            matches!(
                e,
                PemError::TooLarge {
                    what: "certificate chain",
                    len: 262_145,
                    max: 262_144
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "the certificate chain PEM is 262145 bytes, more than the 262144 accepted"
        );
        assert!(matches!(
            certified_key_from_pem(&chain_over, &leaf.key_pem),
            Err(PemError::TooLarge {
                what: "certificate chain",
                ..
            })
        ));
        let key_over = pad(&leaf.key_pem, MAX_KEY_PEM + 1);
        let e = certified_key_from_pem(&chain, &key_over).unwrap_err();
        assert!(
            matches!(
                e,
                PemError::TooLarge {
                    what: "private key",
                    len: 65_537,
                    max: 65_536
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "the private key PEM is 65537 bytes, more than the 65536 accepted"
        );
    }
}
