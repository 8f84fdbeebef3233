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
