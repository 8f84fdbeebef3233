//! DKIM signing of report e-mail (RFC 6376, RFC 8463; RFC 8460 3,
//! RPT-DELIV-09 and -11). Feature `dkim`.
//!
//! RFC 8460 section 3: a report sent by mail MUST carry a valid DKIM
//! signature of the reporting domain, without `l=`, and the signature
//! SHOULD cover `TLS-Report-Domain` and `TLS-Report-Submitter`. A
//! [`Signer`] does exactly that, and nothing that needs IO: the caller
//! reads the key file, passes the signing time and publishes the key
//! record.
//!
//! - Algorithms: `rsa-sha256` (RSA keys of 2048 to 4096 bits, a multiple
//!   of 512; RFC 8301 asks for at least 1024 and recommends 2048) and
//!   `ed25519-sha256` (RFC 8463). Keys are read from PEM: RSA as PKCS#1
//!   (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`), Ed25519 as PKCS#8 (v1,
//!   as `openssl genpkey -algorithm ed25519` writes it, or v2).
//! - Canonicalization `relaxed/relaxed`; no `l=` (the whole body is
//!   signed); `t=` is the time passed to [`Signer::sign`], `x=` only when
//!   [`Signer::expire_after`] asks for it.
//! - `h=`: each of [`SIGNED_FIELDS`] that the message has, and each of them
//!   a second time ("over-signing", RFC 6376 8.15): a copy of, say,
//!   `TLS-Report-Domain` added after signing then breaks the signature.
//!   The message must have `From`, `TLS-Report-Domain` and
//!   `TLS-Report-Submitter` ([`REQUIRED_FIELDS`]) and at most one of each
//!   signed field; anything else is a [`DkimError`], never a signature
//!   that covers less.
//! - The message is the wire form: CRLF line ends (a bare CR or LF is an
//!   error), at most [`MAX_MESSAGE_BYTES`]. The result is the same bytes
//!   with the `DKIM-Signature` field prepended, folded at 78 columns.
//!
//! The key record to publish at `<selector>._domainkey.<domain>` comes from
//! [`SigningKey::txt_record`]: `v=DKIM1; k=rsa; s=tlsrpt; p=...` (the
//! `s=tlsrpt` service type that RFC 8460 3 asks publishers to set, and
//! that receivers may require, RPT-DELIV-12; such a key signs nothing but
//! reports), or without `s=` for a key shared with other mail.
//!
//! ```
//! use tlsrpt_core::dkim::{KeyService, Signer, SigningKey};
//! use tlsrpt_core::time::Timestamp;
//!
//! // An Ed25519 key in PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).
//! let pem = "-----BEGIN PRIVATE KEY-----\n\
//!            MC4CAQAwBQYDK2VwBCIEIEFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n\
//!            -----END PRIVATE KEY-----\n";
//! let key = SigningKey::from_pem(pem)?;
//! assert!(key.txt_record(KeyService::Tlsrpt).starts_with("v=DKIM1; k=ed25519; s=tlsrpt; p="));
//!
//! let signer = Signer::new(key, "mail.example.com", "tlsrpt2024")?;
//! let message = b"From: tlsrpt@mail.example.com\r\n\
//!                 To: tls-reports@example.org\r\n\
//!                 Subject: Report Domain: example.org Submitter: mail.example.com\r\n \
//!                 Report-ID: <r1@mail.example.com>\r\n\
//!                 TLS-Report-Domain: example.org\r\n\
//!                 TLS-Report-Submitter: mail.example.com\r\n\
//!                 \r\n\
//!                 body\r\n";
//! let signed = signer.sign(message, Timestamp::from_unix(1_714_608_000))?;
//! let text = String::from_utf8(signed)?;
//! assert!(text.starts_with("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;"));
//! assert!(text.contains("tls-report-domain:tls-report-domain:"));
//! assert!(text.ends_with("\r\n\r\nbody\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The crypto is *ring*'s (the workspace's one crypto provider, also under
//! rustls), PEM decoding is `rustls-pki-types`'. RSA signing asks the
//! operating system for random numbers (*ring* blinds the private-key
//! operation); the signature itself is deterministic for both algorithms.

use std::fmt;
use std::num::NonZeroU64;

use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::{self, PemObject as _};

use crate::filename::{TLS_REPORT_DOMAIN, TLS_REPORT_SUBMITTER};
use crate::time::Timestamp;

/// Largest message [`Signer::sign`] accepts, in bytes (64 MiB; RFC 8460
/// 5.2 notes that receivers commonly cap reports near 10 MB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Largest PEM text [`SigningKey::from_pem`] accepts, in bytes (a 4096-bit
/// RSA key is about 3.3 KB of PEM).
pub const MAX_KEY_PEM_BYTES: usize = 64 * 1024;

/// Header fields signed when present, in the order they are listed in
/// `h=` (each twice: the second entry signs the field's absence, so that
/// none can be added after signing).
pub const SIGNED_FIELDS: [&str; 17] = [
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    TLS_REPORT_DOMAIN,
    TLS_REPORT_SUBMITTER,
    "TLS-Required",
    "Auto-Submitted",
];

/// Header fields a message must have to be signed: the author, and the two
/// fields RFC 8460 5.3 requires and section 3 wants signed.
pub const REQUIRED_FIELDS: [&str; 3] = ["From", TLS_REPORT_DOMAIN, TLS_REPORT_SUBMITTER];

/// Why a key could not be read or a message could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DkimError {
    /// The PEM text is longer than [`MAX_KEY_PEM_BYTES`].
    #[error("DKIM key: the PEM text is {len} bytes, over the {max}-byte limit")]
    KeyTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The PEM text is not valid PEM.
    #[error("DKIM key: invalid PEM: {reason}")]
    Pem {
        /// What the PEM decoder reported.
        reason: String,
    },
    /// The PEM text holds no private key section.
    #[error("DKIM key: no `RSA PRIVATE KEY` or `PRIVATE KEY` section found in the PEM text")]
    NoPrivateKey,
    /// The private key is encrypted with a passphrase.
    #[error(
        "DKIM key: the private key is encrypted (`ENCRYPTED PRIVATE KEY`); \
         store it decrypted, readable only by the signer"
    )]
    EncryptedKey,
    /// A key of a type DKIM does not sign with (an EC key, say).
    #[error(
        "DKIM key: {kind} keys cannot sign DKIM; use an RSA (2048 to 4096 bits) or Ed25519 key"
    )]
    UnsupportedKey {
        /// The key type found, e.g. `"SEC1 EC"`.
        kind: &'static str,
    },
    /// *ring* refused the key.
    #[error("DKIM key: {format} key rejected: {reason}")]
    KeyRejected {
        /// The key's encoding: `"PKCS#1 RSA"` or `"PKCS#8"`.
        format: &'static str,
        /// *ring*'s reason, e.g. `TooSmall` (RSA keys must have 2048 to
        /// 4096 bits, a multiple of 512), `InvalidEncoding`.
        reason: String,
    },
    /// The signing domain (`d=`) is not a valid domain name.
    #[error("DKIM signing domain `{value}`: {reason}")]
    InvalidDomain {
        /// The domain as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The selector (`s=`) is not a valid DNS name.
    #[error("DKIM selector `{value}`: {reason}")]
    InvalidSelector {
        /// The selector as given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The message is longer than [`MAX_MESSAGE_BYTES`].
    #[error("message to sign is {len} bytes, over the {max}-byte limit")]
    MessageTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A line of the message does not end in CRLF.
    #[error(
        "message to sign, line {line} (byte {offset}): bare {what}; \
         DKIM signs the CRLF wire form"
    )]
    BareLineEnd {
        /// 1-based line number.
        line: usize,
        /// Byte offset of the CR or LF.
        offset: usize,
        /// `"CR"` or `"LF"`.
        what: &'static str,
    },
    /// The message ends without a line end, or without a header section.
    #[error("message to sign: {reason}")]
    Truncated {
        /// What is missing.
        reason: &'static str,
    },
    /// A header line is not `name: value` or a continuation line.
    #[error("message to sign, header line {line}: {reason}")]
    MalformedHeader {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A header field in [`REQUIRED_FIELDS`] is missing.
    #[error(
        "message to sign has no `{name}` header field (RFC 8460 3 and 5.3: report mail \
         must carry it and its DKIM signature must cover it)"
    )]
    MissingHeader {
        /// The field.
        name: &'static str,
    },
    /// A field of [`SIGNED_FIELDS`] occurs more than once.
    #[error("message to sign has {count} `{name}` header fields; at most one is allowed")]
    DuplicateHeader {
        /// The field.
        name: &'static str,
        /// How often it occurs.
        count: usize,
    },
    /// The signing time is before 1970.
    #[error("signing time {secs} is before 1970-01-01 (DKIM `t=` counts seconds from then)")]
    TimeBeforeEpoch {
        /// The time, in seconds since the epoch.
        secs: i64,
    },
    /// The signing time plus the expiry overflows.
    #[error("signing time {t} plus an expiry of {after} s overflows")]
    ExpiryOverflow {
        /// The signing time.
        t: u64,
        /// The expiry.
        after: u64,
    },
    /// *ring* failed to sign (the operating system's random number
    /// generator failed, for RSA).
    #[error("{algorithm} signing failed in the crypto library")]
    Signing {
        /// The algorithm.
        algorithm: Algorithm,
    },
}

/// A DKIM signing algorithm (`a=` of the signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `rsa-sha256` (RFC 6376 3.3.1).
    RsaSha256,
    /// `ed25519-sha256` (RFC 8463).
    Ed25519Sha256,
}

impl Algorithm {
    /// The `a=` value: `rsa-sha256` or `ed25519-sha256`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RsaSha256 => "rsa-sha256",
            Self::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The key type of the key record (`k=`): `rsa` or `ed25519`.
    pub const fn key_type(self) -> &'static str {
        match self {
            Self::RsaSha256 => "rsa",
            Self::Ed25519Sha256 => "ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The service types (`s=`) a key record declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyService {
    /// `s=tlsrpt`: the key signs TLS-RPT reports only (RFC 8460 3: the
    /// record SHOULD say so; receivers may ignore reports signed by other
    /// keys, and verifiers refuse such a key on other mail).
    Tlsrpt,
    /// No `s=` tag (all service types, `*`): for a key that also signs
    /// other mail.
    All,
}

enum KeyInner {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A DKIM private key: RSA or Ed25519.
pub struct SigningKey {
    inner: KeyInner,
}

impl fmt::Debug for SigningKey {
    /// Names the algorithm and the public key; never the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("public_key", &self.public_key_base64())
            .finish()
    }
}

impl SigningKey {
    /// Reads a private key from PEM text: the first `RSA PRIVATE KEY`
    /// (PKCS#1) or `PRIVATE KEY` (PKCS#8, RSA or Ed25519) section. Other
    /// sections (certificates, say) before it are skipped.
    pub fn from_pem(pem_text: &str) -> Result<Self, DkimError> {
        if pem_text.len() > MAX_KEY_PEM_BYTES {
            return Err(DkimError::KeyTooLarge {
                len: pem_text.len(),
                max: MAX_KEY_PEM_BYTES,
            });
        }
        match PrivateKeyDer::from_pem_slice(pem_text.as_bytes()) {
            Ok(der) => Self::from_der(&der),
            Err(pem::Error::NoItemsFound) => {
                if pem_text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
                    Err(DkimError::EncryptedKey)
                } else {
                    Err(DkimError::NoPrivateKey)
                }
            }
            Err(e) => Err(DkimError::Pem {
                reason: e.to_string(),
            }),
        }
    }

    /// Reads an RSA private key from DER PKCS#1 (`RSAPrivateKey`).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, DkimError> {
        Self::from_der(&PrivateKeyDer::Pkcs1(der.into()))
    }

    /// Reads an RSA or Ed25519 private key from DER PKCS#8
    /// (`PrivateKeyInfo` or `OneAsymmetricKey`).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, DkimError> {
        Self::from_der(&PrivateKeyDer::Pkcs8(der.into()))
    }

    fn from_der(der: &PrivateKeyDer<'_>) -> Result<Self, DkimError> {
        let inner = match der {
            PrivateKeyDer::Pkcs1(k) => {
                KeyInner::Rsa(RsaKeyPair::from_der(k.secret_pkcs1_der()).map_err(|e| {
                    DkimError::KeyRejected {
                        format: "PKCS#1 RSA",
                        reason: e.to_string(),
                    }
                })?)
            }
            PrivateKeyDer::Pkcs8(k) => {
                let bytes = k.secret_pkcs8_der();
                match RsaKeyPair::from_pkcs8(bytes) {
                    Ok(rsa) => KeyInner::Rsa(rsa),
                    Err(rsa_err) => match Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes) {
                        Ok(ed) => KeyInner::Ed25519(ed),
                        Err(ed_err) => {
                            // Report the error of the algorithm the key is
                            // for: the other one says `WrongAlgorithm`.
                            let reason = if rsa_err.to_string() == "WrongAlgorithm" {
                                if ed_err.to_string() == "WrongAlgorithm" {
                                    "neither an RSA nor an Ed25519 key (WrongAlgorithm)".to_owned()
                                } else {
                                    format!("Ed25519: {ed_err}")
                                }
                            } else {
                                format!("RSA: {rsa_err}")
                            };
                            return Err(DkimError::KeyRejected {
                                format: "PKCS#8",
                                reason,
                            });
                        }
                    },
                }
            }
            PrivateKeyDer::Sec1(_) => return Err(DkimError::UnsupportedKey { kind: "SEC1 EC" }),
            _ => return Err(DkimError::UnsupportedKey { kind: "unknown" }),
        };
        Ok(Self { inner })
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            KeyInner::Rsa(_) => Algorithm::RsaSha256,
            KeyInner::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }

    /// The public key as the key record's `p=` value, base64: for RSA the
    /// DER `SubjectPublicKeyInfo` (what `openssl pkey -pubout` writes and
    /// every verifier reads), for Ed25519 the 32 raw bytes (RFC 8463 4).
    pub fn public_key_base64(&self) -> String {
        match &self.inner {
            KeyInner::Rsa(k) => base64(&rsa_spki(k.public_key().as_ref())),
            KeyInner::Ed25519(k) => base64(k.public_key().as_ref()),
        }
    }

    /// The TXT record to publish at `<selector>._domainkey.<domain>`:
    /// `v=DKIM1; k=rsa; s=tlsrpt; p=<base64>` (or `k=ed25519`; no `s=`
    /// with [`KeyService::All`]).
    pub fn txt_record(&self, service: KeyService) -> String {
        let s = match service {
            KeyService::Tlsrpt => " s=tlsrpt;",
            KeyService::All => "",
        };
        format!(
            "v=DKIM1; k={};{s} p={}",
            self.algorithm().key_type(),
            self.public_key_base64()
        )
    }

    /// [`txt_record`](Self::txt_record) cut into DNS character-strings of
    /// at most 255 bytes, in order (a 2048-bit RSA record needs two):
    /// zone files write them side by side in quotes, and resolvers join
    /// them.
    pub fn txt_record_strings(&self, service: KeyService) -> Vec<String> {
        // The record is ASCII, so any byte offset is a char boundary.
        let record = self.txt_record(service);
        record
            .as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, DkimError> {
        match &self.inner {
            KeyInner::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
                    .map_err(|_| DkimError::Signing {
                        algorithm: Algorithm::RsaSha256,
                    })?;
                Ok(sig)
            }
            // RFC 8463 3: Ed25519 (pure) signs the SHA-256 hash.
            KeyInner::Ed25519(k) => Ok(k
                .sign(digest::digest(&digest::SHA256, data).as_ref())
                .as_ref()
                .to_vec()),
        }
    }
}

/// Signs report e-mail with one key for one domain and selector.
#[derive(Debug)]
pub struct Signer {
    key: SigningKey,
    domain: String,
    selector: String,
    expire_after: Option<NonZeroU64>,
}

impl Signer {
    /// A signer for `d=domain` and `s=selector`, the key record being at
    /// `<selector>._domainkey.<domain>`. The domain may be given in
    /// U-labels (it is converted to A-labels, lower case, one trailing dot
    /// removed); the selector must be ASCII letters, digits and `-` in
    /// dot-separated labels.
    pub fn new(key: SigningKey, domain: &str, selector: &str) -> Result<Self, DkimError> {
        let domain = check_domain(domain)?;
        check_selector(selector)?;
        let name_len = selector.len() + "._domainkey.".len() + domain.len();
        if name_len > 253 {
            return Err(DkimError::InvalidSelector {
                value: selector.to_owned(),
                reason: "the key record's name <selector>._domainkey.<domain> \
                         is over 253 characters",
            });
        }
        Ok(Self {
            key,
            domain,
            selector: selector.to_owned(),
            expire_after: None,
        })
    }

    /// Adds `x=` (signature expiry) to signatures: the signing time plus
    /// `secs`. Without it signatures do not expire.
    pub fn expire_after(mut self, secs: NonZeroU64) -> Self {
        self.expire_after = Some(secs);
        self
    }

    /// The key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The signing domain (`d=`), in A-labels.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The selector (`s=`).
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The name the key record is published at:
    /// `<selector>._domainkey.<domain>`.
    pub fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// Signs `message` (CRLF line ends) at time `now`: returns the message
    /// with a `DKIM-Signature` header field prepended.
    pub fn sign(&self, message: &[u8], now: Timestamp) -> Result<Vec<u8>, DkimError> {
        let field = self.signature_field(message, now)?;
        let mut out = Vec::with_capacity(field.len() + message.len());
        out.extend_from_slice(field.as_bytes());
        out.extend_from_slice(message);
        Ok(out)
    }

    /// The `DKIM-Signature` header field (folded, ending in CRLF) that
    /// [`sign`](Self::sign) prepends.
    pub fn signature_field(&self, message: &[u8], now: Timestamp) -> Result<String, DkimError> {
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(DkimError::MessageTooLarge {
                len: message.len(),
                max: MAX_MESSAGE_BYTES,
            });
        }
        check_line_ends(message)?;
        let t = u64::try_from(now.unix_secs()).map_err(|_| DkimError::TimeBeforeEpoch {
            secs: now.unix_secs(),
        })?;
        let x = match self.expire_after {
            Some(after) => Some(
                t.checked_add(after.get())
                    .ok_or(DkimError::ExpiryOverflow {
                        t,
                        after: after.get(),
                    })?,
            ),
            None => None,
        };

        let (header, body) = split_message(message)?;
        let fields = parse_header(header)?;

        // Which fields to sign, and the canonical form of each.
        let mut h_names: Vec<&'static str> = Vec::new();
        let mut signed = Vec::new();
        for name in SIGNED_FIELDS {
            let found: Vec<&Field<'_>> = fields
                .iter()
                .filter(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
                .collect();
            match found.as_slice() {
                [] => {
                    if REQUIRED_FIELDS.contains(&name) {
                        return Err(DkimError::MissingHeader { name });
                    }
                }
                [f] => {
                    relaxed_header(f.name, f.value, &mut signed);
                    signed.extend_from_slice(b"\r\n");
                    // Listed twice: the second signs the field's absence.
                    h_names.push(name);
                    h_names.push(name);
                }
                more => {
                    return Err(DkimError::DuplicateHeader {
                        name,
                        count: more.len(),
                    });
                }
            }
        }

        let body_hash = digest::digest(&digest::SHA256, &relaxed_body(body));
        let mut fold = Folder::new("DKIM-Signature:");
        fold.word(" ", "v=1;");
        fold.word(" ", &format!("a={};", self.key.algorithm()));
        fold.word(" ", "c=relaxed/relaxed;");
        fold.word(" ", &format!("d={};", self.domain));
        fold.word(" ", &format!("s={};", self.selector));
        fold.word(" ", &format!("t={t};"));
        if let Some(x) = x {
            fold.word(" ", &format!("x={x};"));
        }
        for (i, name) in h_names.iter().enumerate() {
            let lower = name.to_ascii_lowercase();
            let word = match (i, i + 1 == h_names.len()) {
                (0, true) => format!("h={lower};"),
                (0, false) => format!("h={lower}:"),
                (_, true) => format!("{lower};"),
                (_, false) => format!("{lower}:"),
            };
            fold.word(if i == 0 { " " } else { "" }, &word);
        }
        fold.word(" ", &format!("bh={};", base64(body_hash.as_ref())));
        fold.word(" ", "b=");

        // RFC 6376 3.7: the signed fields, then this one with an empty b=
        // and no trailing CRLF, all in relaxed canonical form.
        let unsigned = fold.text.clone();
        let value = unsigned
            .strip_prefix("DKIM-Signature:")
            .unwrap_or(&unsigned)
            .as_bytes();
        relaxed_header(b"DKIM-Signature", value, &mut signed);
        let signature = self.key.sign(&signed)?;

        // The b= value: after "b=", in pieces that fill lines; the
        // verifier removes all of it (FWS included) before checking.
        let b = base64(&signature);
        let mut rest = b.as_str();
        let mut first = true;
        while !rest.is_empty() {
            let room = 78usize.saturating_sub(fold.col).max(1);
            let room = if first { room } else { 72 };
            let take = room.min(rest.len());
            let (piece, tail) = rest.split_at(take);
            if !first {
                fold.text.push_str("\r\n ");
                fold.col = 1;
            }
            fold.text.push_str(piece);
            fold.col += piece.len();
            rest = tail;
            first = false;
        }
        fold.text.push_str("\r\n");
        Ok(fold.text)
    }
}

/// Writes a header field folded at 78 columns, between words.
struct Folder {
    text: String,
    col: usize,
}

impl Folder {
    fn new(name: &str) -> Self {
        Self {
            text: name.to_owned(),
            col: name.len(),
        }
    }

    /// Appends `word` after `sep`, or on a continuation line when it would
    /// pass column 78 (the continuation's leading space is FWS, allowed
    /// before each tag and around each `:` of `h=`).
    fn word(&mut self, sep: &str, word: &str) {
        if self.col + sep.len() + word.len() > 78 {
            self.text.push_str("\r\n ");
            self.col = 1;
        } else {
            self.text.push_str(sep);
            self.col += sep.len();
        }
        self.text.push_str(word);
        self.col += word.len();
    }
}

/// One header field: its name and its value (after the colon, folding
/// CRLFs included, final CRLF excluded).
struct Field<'a> {
    name: &'a [u8],
    value: &'a [u8],
}

/// Every line must end in CRLF: no bare CR or LF anywhere.
fn check_line_ends(message: &[u8]) -> Result<(), DkimError> {
    let mut line = 1;
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' if message.get(i + 1) == Some(&b'\n') => {
                line += 1;
                i += 2;
            }
            b'\r' => {
                return Err(DkimError::BareLineEnd {
                    line,
                    offset: i,
                    what: "CR",
                });
            }
            b'\n' => {
                return Err(DkimError::BareLineEnd {
                    line,
                    offset: i,
                    what: "LF",
                });
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// The header section (each line with its CRLF) and the body (after the
/// empty line; empty when the message has none).
fn split_message(message: &[u8]) -> Result<(&[u8], &[u8]), DkimError> {
    if message.is_empty() || message.starts_with(b"\r\n") {
        return Err(DkimError::Truncated {
            reason: "no header section",
        });
    }
    match find(message, b"\r\n\r\n") {
        Some(at) => Ok((&message[..at + 2], &message[at + 4..])),
        None if message.ends_with(b"\r\n") => Ok((message, &[])),
        None => Err(DkimError::Truncated {
            reason: "the header section does not end in CRLF",
        }),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits the header section (CRLF-terminated lines) into fields.
fn parse_header(header: &[u8]) -> Result<Vec<Field<'_>>, DkimError> {
    // (name, value start, value end) in `header`.
    let mut spans: Vec<(&[u8], usize, usize)> = Vec::new();
    let mut pos = 0;
    let mut line_no = 0;
    while pos < header.len() {
        line_no += 1;
        let end = match find(&header[pos..], b"\r\n") {
            Some(e) => pos + e,
            None => {
                return Err(DkimError::Truncated {
                    reason: "the header section does not end in CRLF",
                });
            }
        };
        let line = &header[pos..end];
        if line.first().is_some_and(|&c| c == b' ' || c == b'\t') {
            // A continuation: the value grows to the end of this line.
            let Some(last) = spans.last_mut() else {
                return Err(DkimError::MalformedHeader {
                    line: line_no,
                    reason: "continuation line before any header field",
                });
            };
            last.2 = end;
        } else {
            let colon = line
                .iter()
                .position(|&c| c == b':')
                .ok_or(DkimError::MalformedHeader {
                    line: line_no,
                    reason: "no `:` after the field name",
                })?;
            // RFC 5322 2.2: ftext, then optional WSP (RFC 822 style).
            let name_part = &line[..colon];
            let name_len = name_part
                .iter()
                .rposition(|&c| c != b' ' && c != b'\t')
                .map_or(0, |p| p + 1);
            let name = &name_part[..name_len];
            if name.is_empty() {
                return Err(DkimError::MalformedHeader {
                    line: line_no,
                    reason: "empty field name",
                });
            }
            if !name.iter().all(|&c| (33..=126).contains(&c)) {
                return Err(DkimError::MalformedHeader {
                    line: line_no,
                    reason: "the field name has a space, a control or a non-ASCII character",
                });
            }
            spans.push((name, pos + colon + 1, end));
        }
        pos = end + 2;
    }
    Ok(spans
        .into_iter()
        .map(|(name, start, end)| Field {
            name,
            value: &header[start..end],
        })
        .collect())
}

/// RFC 6376 3.4.2, without the final CRLF: the name in lower case, `:`,
/// the value unfolded, WSP runs as one SP, no WSP at either end.
fn relaxed_header(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend(name.iter().map(u8::to_ascii_lowercase));
    out.push(b':');
    let mut pending_space = false;
    let mut started = false;
    for &c in value {
        match c {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => pending_space = started,
            _ => {
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                out.push(c);
                started = true;
            }
        }
    }
}

/// RFC 6376 3.4.4: WSP runs as one SP, no WSP at line ends, no empty lines
/// at the end; a non-empty body ends in CRLF. `body` has CRLF line ends.
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut empty_lines = 0usize;
    let mut lines = body.split(|&c| c == b'\n').peekable();
    while let Some(raw) = lines.next() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if lines.peek().is_none() && line.is_empty() {
            // After the final CRLF.
            break;
        }
        let mut canon = Vec::with_capacity(line.len());
        let mut pending_space = false;
        for &c in line {
            if c == b' ' || c == b'\t' {
                pending_space = true;
            } else {
                if pending_space {
                    canon.push(b' ');
                    pending_space = false;
                }
                canon.push(c);
            }
        }
        if canon.is_empty() {
            empty_lines += 1;
        } else {
            for _ in 0..empty_lines {
                out.extend_from_slice(b"\r\n");
            }
            empty_lines = 0;
            out.extend_from_slice(&canon);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// The signing domain in lower-case A-labels, checked as an RFC 5321
/// domain of at least two labels.
fn check_domain(d: &str) -> Result<String, DkimError> {
    let bad = |reason: &str| DkimError::InvalidDomain {
        value: d.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = d.strip_suffix('.').unwrap_or(d);
    let a = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_strict(trimmed).map_err(|e| DkimError::InvalidDomain {
            value: d.to_owned(),
            reason: format!("cannot be converted to A-labels: {e}"),
        })?
    };
    if a.len() > 253 {
        return Err(bad("longer than 253 characters"));
    }
    let mut labels = 0;
    for label in a.split('.') {
        check_label(label).map_err(bad)?;
        labels += 1;
    }
    if labels < 2 {
        return Err(bad("expected at least two labels"));
    }
    Ok(a)
}

fn check_selector(s: &str) -> Result<(), DkimError> {
    for label in s.split('.') {
        check_label(label).map_err(|reason| DkimError::InvalidSelector {
            value: s.to_owned(),
            reason,
        })?;
    }
    Ok(())
}

fn check_label(label: &str) -> Result<(), &'static str> {
    let b = label.as_bytes();
    if b.is_empty() {
        return Err("empty label");
    }
    if b.len() > 63 {
        return Err("a label is longer than 63 characters");
    }
    if !b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-') {
        return Err("only ASCII letters, digits and `-` are allowed in a label");
    }
    if b[0] == b'-' || b[b.len() - 1] == b'-' {
        return Err("a label starts or ends with `-`");
    }
    Ok(())
}

/// Standard base64 (RFC 4648 4) with padding, on one line.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// DER `SubjectPublicKeyInfo` around a DER `RSAPublicKey` (RFC 5280 4.1,
/// RFC 8017 A.1): algorithm rsaEncryption with NULL parameters.
fn rsa_spki(rsa_public_key: &[u8]) -> Vec<u8> {
    const ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0x03];
    der_len(rsa_public_key.len() + 1, &mut bit_string);
    bit_string.push(0); // no unused bits
    bit_string.extend_from_slice(rsa_public_key);
    let mut out = vec![0x30];
    der_len(ALGORITHM.len() + bit_string.len(), &mut out);
    out.extend_from_slice(&ALGORITHM);
    out.extend_from_slice(&bit_string);
    out
}

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_canonicalization_rfc6376_example() {
        // RFC 6376 3.4.5.
        let message = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
        let (header, body) = split_message(message).unwrap();
        let fields = parse_header(header).unwrap();
        let mut out = Vec::new();
        for f in &fields {
            relaxed_header(f.name, f.value, &mut out);
            out.extend_from_slice(b"\r\n");
        }
        assert_eq!(out, b"a:X\r\nb:Y Z\r\n");
        assert_eq!(relaxed_body(body), b" C\r\nD E\r\n");
    }

    #[test]
    fn relaxed_body_edge_cases() {
        assert_eq!(relaxed_body(b""), b"");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(relaxed_body(b"x"), b"x\r\n");
        assert_eq!(relaxed_body(b"\r\nx \r\n \r\n"), b"\r\nx\r\n");
        assert_eq!(relaxed_body(b"a\r\n\r\nb\r\n"), b"a\r\n\r\nb\r\n");
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input), want);
        }
    }

    #[test]
    fn der_lengths() {
        let mut v = Vec::new();
        der_len(0x7f, &mut v);
        der_len(0x80, &mut v);
        der_len(0x10e, &mut v);
        assert_eq!(v, [0x7f, 0x81, 0x80, 0x82, 0x01, 0x0e]);
    }

    #[test]
    fn header_errors_name_the_line() {
        assert_eq!(
            parse_header(b"From: a\r\n bad\r\nnot a header\r\n").err(),
            Some(DkimError::MalformedHeader {
                line: 3,
                reason: "no `:` after the field name"
            })
        );
        assert_eq!(
            parse_header(b" x\r\n").err(),
            Some(DkimError::MalformedHeader {
                line: 1,
                reason: "continuation line before any header field"
            })
        );
        let f = parse_header(b"Subject : a\r\n b\r\nTo:c\r\n").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].name, f[0].value), (&b"Subject"[..], &b" a\r\n b"[..]));
        assert_eq!((f[1].name, f[1].value), (&b"To"[..], &b"c"[..]));
    }

    #[test]
    fn domains_and_selectors() {
        assert_eq!(
            check_domain("Mail.Example.COM.").unwrap(),
            "mail.example.com"
        );
        assert_eq!(
            check_domain("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert!(matches!(
            check_domain("localhost"),
            Err(DkimError::InvalidDomain { .. })
        ));
        assert!(matches!(
            check_domain("a..b"),
            Err(DkimError::InvalidDomain { .. })
        ));
        assert!(matches!(
            check_domain("a_b.example"),
            Err(DkimError::InvalidDomain { .. })
        ));
        assert!(check_selector("tlsrpt-2024.a").is_ok());
        assert!(check_selector("").is_err());
        assert!(check_selector("a;b").is_err());
    }
}
