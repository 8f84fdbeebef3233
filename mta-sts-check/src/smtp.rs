//! An SMTP STARTTLS probe of one MX host (RFC 8461 section 4.2;
//! STS-CERT-01..05, STS-CERT-07, STS-CERT-09), as `mtasts check` runs it.
//!
//! The probe connects to the host's addresses in turn, reads the 220
//! greeting, sends `EHLO`, looks for `STARTTLS` in the reply, sends
//! `STARTTLS` and performs the TLS handshake (TLS 1.2 or 1.3, ring
//! provider) with SNI = the MX host name. It then sends `EHLO` again and
//! `QUIT`.
//!
//! [`probe_tls`] performs the same TLS handshake without SMTP (implicit
//! TLS): `mtasts check` reads the policy host's certificate with it.
//!
//! # Certificates
//!
//! The probe **accepts every certificate and records it**: a custom
//! rustls verifier captures the end-entity certificate and intermediates,
//! asks rustls's `WebPkiServerVerifier` (chain to the trust anchors,
//! validity, name) for its verdict, remembers it and lets the handshake go
//! on, so that the TLS version, cipher suite and chain are known even for a
//! bad certificate. Nothing but `EHLO` and `QUIT` is ever sent over such a
//! session. The handshake signature itself is always verified. The verdict
//! is then classified ([`classify_certificate`]): unknown issuer or a bad
//! chain signature is `certificate-not-trusted`, an expired certificate
//! `certificate-expired`, a name mismatch `certificate-host-mismatch`,
//! anything else `validation-failure`; when WebPKI accepts the chain, the
//! leaf is checked again with `mta_sts_core::cert::check_certificate`
//! (DEC-11 wildcards, no CN fallback).
//!
//! # Limits
//!
//! Every reply line is at most [`MAX_LINE`] bytes, a reply at most
//! [`MAX_REPLY_LINES`] lines, each connect attempt is bounded by
//! [`ProbeConfig::connect_timeout`] and the whole probe by
//! [`ProbeConfig::timeout`]. A hostile server can make the probe fail, not
//! hang or panic.
//!
//! # Errors
//!
//! What stopped a probe is a [`ProbeError`] (the stage, the reply or the
//! IO or TLS error it comes from, kept as its
//! [`source`](std::error::Error::source)); [`ProbeResult::error`] holds it
//! rendered on one line with its sources (`what: why: deeper why`).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use mta_sts_core::ResultType;
use mta_sts_core::cert::{CertVerdict, check_certificate};
use mta_sts_core::enforce::TlsStatus;
use policy_fetch::error::Chain;
use policy_fetch::https::AcceptAnyCertificate;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, InvalidDnsNameError, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Longest reply line read, CRLF included (RFC 5321 4.5.3.1.6 text line).
pub const MAX_LINE: usize = 1000;
/// Most lines read in one reply (a multi-line EHLO reply included).
pub const MAX_REPLY_LINES: usize = 100;

/// The step of the SMTP session a probe was at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProbeStage {
    /// Connecting to the host's addresses.
    Connect,
    /// Waiting for the 220 greeting.
    Greeting,
    /// `EHLO` and its reply, before TLS.
    Ehlo,
    /// `STARTTLS` and its reply.
    StartTls,
    /// The TLS handshake.
    TlsHandshake,
    /// `EHLO` and its reply over TLS.
    EhloAfterTls,
    /// `QUIT` and its reply over TLS.
    QuitAfterTls,
    /// `QUIT` and its reply without TLS (STARTTLS not offered or refused).
    Quit,
}

impl ProbeStage {
    /// A short name, as used in messages: `connect`, `greeting`, `EHLO`,
    /// `STARTTLS`, `TLS handshake`, `after TLS: EHLO`, `after TLS: QUIT`,
    /// `QUIT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Greeting => "greeting",
            Self::Ehlo => "EHLO",
            Self::StartTls => "STARTTLS",
            Self::TlsHandshake => "TLS handshake",
            Self::EhloAfterTls => "after TLS: EHLO",
            Self::QuitAfterTls => "after TLS: QUIT",
            Self::Quit => "QUIT",
        }
    }

    /// How an unexpected reply code reads at this stage.
    fn refusal(self) -> &'static str {
        match self {
            Self::Greeting => "is not 220",
            _ => "refused",
        }
    }
}

impl std::fmt::Display for ProbeStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a probe stopped before the end of the SMTP session.
///
/// A failed TLS handshake or a bad certificate is not an error: it is the
/// [`TlsOutcome`] of the probe. Neither is a refused `STARTTLS`
/// ([`ProbeResult::starttls_accepted`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The host has no address to connect to.
    #[error("no addresses to connect to")]
    NoAddresses,
    /// Connecting to one address failed (an entry of
    /// [`ProbeError::Unreachable`]).
    #[error("{addr}")]
    Connect {
        /// The address and port tried.
        addr: SocketAddr,
        /// Why the connection failed.
        #[source]
        source: io::Error,
    },
    /// Connecting to one address took longer than
    /// [`ProbeConfig::connect_timeout`] (an entry of
    /// [`ProbeError::Unreachable`]).
    #[error("{addr}: connect timed out")]
    ConnectTimeout {
        /// The address and port tried.
        addr: SocketAddr,
        /// The time allowed.
        after: Duration,
    },
    /// Every address failed. The message lists each attempt with its
    /// cause; `attempts` keeps them ([`ProbeError::Connect`] and
    /// [`ProbeError::ConnectTimeout`], in the order tried), each with its
    /// own source.
    #[error("cannot connect: {}", join_attempts(attempts))]
    Unreachable {
        /// One error per address tried.
        attempts: Vec<Self>,
    },
    /// The whole probe took longer than [`ProbeConfig::timeout`].
    #[error("probe timed out after {} s (stage: {stage})", after.as_secs_f64())]
    Timeout {
        /// Where the probe was when time ran out.
        stage: ProbeStage,
        /// The time allowed.
        after: Duration,
    },
    /// Reading from the server failed.
    #[error("{stage}: read")]
    Read {
        /// What was being read.
        stage: ProbeStage,
        /// The IO error.
        #[source]
        source: io::Error,
    },
    /// Writing a command failed.
    #[error("{stage}: write")]
    Write {
        /// What was being sent.
        stage: ProbeStage,
        /// The IO error.
        #[source]
        source: io::Error,
    },
    /// The server closed the connection before a reply.
    #[error("{stage}: connection closed by the server")]
    Closed {
        /// Whose reply was awaited.
        stage: ProbeStage,
    },
    /// The server closed the connection within a reply line.
    #[error("{stage}: connection closed in the middle of a reply line")]
    TruncatedLine {
        /// Whose reply was being read.
        stage: ProbeStage,
    },
    /// A reply line is longer than [`MAX_LINE`] bytes.
    #[error("{stage}: reply line longer than {MAX_LINE} bytes")]
    LineTooLong {
        /// Whose reply was being read.
        stage: ProbeStage,
    },
    /// A reply has more than [`MAX_REPLY_LINES`] lines.
    #[error("{stage}: reply longer than {MAX_REPLY_LINES} lines")]
    TooManyLines {
        /// Whose reply was being read.
        stage: ProbeStage,
    },
    /// A reply line does not start with a code `2xx`..`5xx` followed by
    /// a space, a hyphen or its end.
    #[error("{stage}: malformed reply line `{line}`")]
    MalformedLine {
        /// Whose reply was being read.
        stage: ProbeStage,
        /// The line's first 80 bytes (lossy UTF-8, without the line break).
        line: String,
    },
    /// The lines of one reply carry different codes.
    #[error("{stage}: reply codes differ within one reply ({code} after {first})")]
    MixedCodes {
        /// Whose reply was being read.
        stage: ProbeStage,
        /// The code of the reply's first line.
        first: u16,
        /// The different code of a later line.
        code: u16,
    },
    /// The server answered with a code the probe cannot go on with (not
    /// 220 to the connection, not 250 to `EHLO`).
    #[error("{stage} {}: {reply}", stage.refusal())]
    UnexpectedReply {
        /// Whose reply it is.
        stage: ProbeStage,
        /// The reply code.
        code: u16,
        /// The code and first line of the reply (at most 200 bytes).
        reply: String,
    },
    /// The MX host name cannot be sent as SNI.
    #[error("invalid MX host name `{host}`")]
    InvalidHostName {
        /// The name.
        host: String,
        /// Why rustls refused it.
        #[source]
        source: InvalidDnsNameError,
    },
    /// The TLS client configuration could not be built.
    #[error("TLS configuration")]
    TlsConfig(#[source] rustls::Error),
}

impl ProbeError {
    /// The stage the probe was at, when the error has one.
    pub fn stage(&self) -> Option<ProbeStage> {
        match self {
            Self::NoAddresses
            | Self::Connect { .. }
            | Self::ConnectTimeout { .. }
            | Self::Unreachable { .. } => Some(ProbeStage::Connect),
            Self::Timeout { stage, .. }
            | Self::Read { stage, .. }
            | Self::Write { stage, .. }
            | Self::Closed { stage }
            | Self::TruncatedLine { stage }
            | Self::LineTooLong { stage }
            | Self::TooManyLines { stage }
            | Self::MalformedLine { stage, .. }
            | Self::MixedCodes { stage, .. }
            | Self::UnexpectedReply { stage, .. } => Some(*stage),
            Self::InvalidHostName { .. } | Self::TlsConfig(_) => Some(ProbeStage::TlsHandshake),
        }
    }
}

/// `a: why; b: why` for [`ProbeError::Unreachable`].
fn join_attempts(attempts: &[ProbeError]) -> String {
    attempts
        .iter()
        .map(|e| Chain(e).to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Settings of a probe.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The SMTP port (25; tests and private deployments override it).
    pub port: u16,
    /// Timeout of each TCP connect attempt.
    pub connect_timeout: Duration,
    /// Timeout of the whole probe, all addresses included.
    pub timeout: Duration,
    /// The name sent in `EHLO`; default: the local address as an address
    /// literal (`[192.0.2.1]`, RFC 5321 4.1.4).
    pub ehlo_name: Option<String>,
    /// The trust anchors certificates must chain to.
    pub roots: Arc<RootCertStore>,
}

impl ProbeConfig {
    /// Port 25, 10 s per connect, 60 s in all, trusting `roots`.
    pub fn new(roots: RootCertStore) -> Self {
        Self {
            port: 25,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            ehlo_name: None,
            roots: Arc::new(roots),
        }
    }
}

/// The verdict on the certificate an MX host presented, as a TLS-RPT
/// result type or `valid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertStatus {
    /// Chains to a trust anchor, unexpired, valid for the MX host.
    Valid,
    /// `certificate-expired`.
    CertificateExpired,
    /// `certificate-host-mismatch`.
    CertificateHostMismatch,
    /// `certificate-not-trusted`: unknown issuer or a bad chain.
    CertificateNotTrusted,
    /// `validation-failure`: anything else (not yet valid, unreadable,
    /// wrong key usage, TLS handshake failure, ...).
    ValidationFailure,
}

impl CertStatus {
    /// `valid` or the result type string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::CertificateExpired => "certificate-expired",
            Self::CertificateHostMismatch => "certificate-host-mismatch",
            Self::CertificateNotTrusted => "certificate-not-trusted",
            Self::ValidationFailure => "validation-failure",
        }
    }

    /// The TLS-RPT result type; `None` when valid.
    pub fn result_type(self) -> Option<ResultType> {
        Some(match self {
            Self::Valid => return None,
            Self::CertificateExpired => ResultType::CertificateExpired,
            Self::CertificateHostMismatch => ResultType::CertificateHostMismatch,
            Self::CertificateNotTrusted => ResultType::CertificateNotTrusted,
            Self::ValidationFailure => ResultType::ValidationFailure,
        })
    }
}

impl std::fmt::Display for CertStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the end-entity certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeafInfo {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// subjectAltName dNSName entries.
    pub dns_names: Vec<String>,
    /// `notBefore`, RFC 3339.
    pub not_before: String,
    /// `notAfter`, RFC 3339.
    pub not_after: String,
    /// `notAfter` in Unix seconds (for expiry warnings).
    pub not_after_unix: i64,
}

impl LeafInfo {
    /// Read a DER certificate; `None` when it does not parse.
    pub fn parse(der: &[u8]) -> Option<Self> {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        // An unreadable subjectAltName shows as no names.
        let dns_names = mta_sts_core::cert::san_dns_names(&cert).unwrap_or_default();
        let v = cert.validity();
        Some(Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            dns_names,
            not_before: rfc3339(v.not_before.timestamp()),
            not_after: rfc3339(v.not_after.timestamp()),
            not_after_unix: v.not_after.timestamp(),
        })
    }
}

/// Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (proleptic Gregorian, UTC), by
/// the shared [`mta_sts_core::time::Timestamp`].
pub(crate) fn rfc3339(secs: i64) -> String {
    mta_sts_core::time::Timestamp::from_unix(secs).to_string()
}

/// The TLS part of a probe.
#[derive(Debug, Clone)]
pub struct TlsOutcome {
    /// Whether the handshake completed.
    pub completed: bool,
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: Option<String>,
    /// The negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: Option<String>,
    /// The certificates the server sent, end-entity first (empty when none
    /// arrived).
    pub chain: Vec<CertificateDer<'static>>,
    /// The end-entity certificate's names and validity, when readable.
    pub leaf: Option<LeafInfo>,
    /// The verdict.
    pub status: CertStatus,
    /// Why, in one line.
    pub reason: String,
}

/// The result of probing one MX host.
#[derive(Debug, Clone, Default)]
pub struct ProbeResult {
    /// The MX host name.
    pub host: String,
    /// The address the SMTP session ran on.
    pub addr: Option<SocketAddr>,
    /// The 220 greeting (first line's text).
    pub banner: Option<String>,
    /// The EHLO reply lines' text (before TLS), once a 250 reply arrived.
    pub ehlo: Option<Vec<String>>,
    /// Whether the EHLO reply listed `STARTTLS`.
    pub ehlo_starttls: bool,
    /// The reply to the `STARTTLS` command, e.g. `220 2.0.0 Ready`.
    pub starttls_reply: Option<String>,
    /// Whether the server answered `STARTTLS` with 220.
    pub starttls_accepted: Option<bool>,
    /// The TLS handshake and certificate, once STARTTLS was accepted.
    pub tls: Option<TlsOutcome>,
    /// What went wrong, if anything (connect, protocol, timeout, or a
    /// problem after TLS).
    pub error: Option<String>,
}

impl ProbeResult {
    /// Whether STARTTLS works: `Some(false)` when not offered or refused,
    /// `Some(true)` when the server agreed to start TLS, `None` when the
    /// probe ended before that was known.
    pub fn starttls(&self) -> Option<bool> {
        if self.tls.is_some() {
            return Some(true);
        }
        self.ehlo.as_ref()?;
        if !self.ehlo_starttls {
            return Some(false);
        }
        self.starttls_accepted
    }

    /// The TLS outcome for `mta_sts_core::enforce::decide`; `None` when
    /// the probe ended before it was known (connection failure, timeout).
    pub fn tls_status(&self) -> Option<TlsStatus> {
        match (self.starttls(), &self.tls) {
            (Some(false), _) => Some(TlsStatus::NoStartTls),
            (_, Some(t)) => Some(match t.status.result_type() {
                None => TlsStatus::Valid,
                Some(result_type) => TlsStatus::Failed {
                    result_type,
                    reason: None,
                },
            }),
            _ => None,
        }
    }
}

/// Classify a WebPKI verdict on `leaf` for `host` (see the module docs).
///
/// `webpki` is the result of rustls's `WebPkiServerVerifier`; when it
/// accepted the chain, `leaf` is checked again with
/// `mta_sts_core::cert::check_certificate` at `now`.
pub fn classify_certificate(
    webpki: Result<(), &rustls::Error>,
    leaf: Option<&CertificateDer<'_>>,
    host: &str,
    now: SystemTime,
) -> (CertStatus, String) {
    let own = leaf.map(|l| check_certificate(l, host, now));
    match webpki {
        Err(rustls::Error::InvalidCertificate(c)) => {
            let status = match c {
                CertificateError::UnknownIssuer
                | CertificateError::BadSignature
                | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
                | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                    CertStatus::CertificateNotTrusted
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    CertStatus::CertificateExpired
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    CertStatus::CertificateHostMismatch
                }
                _ => CertStatus::ValidationFailure,
            };
            let mut reason = policy_fetch::https::describe_cert_error(c);
            if let Some(v) = own.as_ref().filter(|v| !v.is_valid()) {
                let extra = v.reason();
                reason = match (status, v) {
                    // The leaf's own, more precise account of the same problem.
                    (CertStatus::CertificateExpired, CertVerdict::Expired { .. })
                    | (CertStatus::CertificateHostMismatch, CertVerdict::HostMismatch { .. }) => {
                        extra
                    }
                    // Its other problems, when WebPKI stopped at the chain.
                    _ => format!("{reason}; also: {extra}"),
                };
            }
            (status, reason)
        }
        Err(other) => (CertStatus::ValidationFailure, format!("TLS: {other}")),
        Ok(()) => match own {
            None => (
                CertStatus::ValidationFailure,
                "no certificate received".to_owned(),
            ),
            Some(v) => {
                let status = match &v {
                    CertVerdict::Valid { .. } => CertStatus::Valid,
                    CertVerdict::Expired { .. } => CertStatus::CertificateExpired,
                    CertVerdict::HostMismatch { .. } => CertStatus::CertificateHostMismatch,
                    _ => CertStatus::ValidationFailure,
                };
                (status, v.reason())
            }
        },
    }
}

/// One line of a reply to `stage`: code, whether it is the last line,
/// text.
pub(crate) fn parse_reply_line(
    line: &[u8],
    stage: ProbeStage,
) -> Result<(u16, bool, String), ProbeError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let malformed = || ProbeError::MalformedLine {
        stage,
        line: String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned(),
    };
    let digits = line
        .get(..3)
        .filter(|d| d.iter().all(u8::is_ascii_digit) && (b'2'..=b'5').contains(&d[0]))
        .ok_or_else(malformed)?;
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let (last, text) = match line.get(3) {
        None => (true, &[][..]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return Err(malformed()),
    };
    Ok((code, last, String::from_utf8_lossy(text).into_owned()))
}

/// Whether EHLO reply lines (their text, the greeting line first) list the
/// `STARTTLS` keyword (RFC 3207), ASCII case-insensitively.
pub fn ehlo_offers_starttls(lines: &[String]) -> bool {
    lines.iter().skip(1).any(|l| {
        l.split_ascii_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
    })
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) lines: Vec<String>,
}

impl Reply {
    /// The code and first line, for messages.
    fn summary(&self) -> String {
        let first = self.lines.first().map_or("", String::as_str);
        let mut s = format!("{} {first}", self.code);
        // At most 200 bytes, cut on a character boundary (never panics).
        let mut end = s.len().min(200);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s
    }

    /// The error for this reply when `stage` cannot go on with its code.
    fn unexpected(&self, stage: ProbeStage) -> ProbeError {
        ProbeError::UnexpectedReply {
            stage,
            code: self.code,
            reply: self.summary(),
        }
    }
}

/// Read one line of at most [`MAX_LINE`] bytes of the reply to `stage`.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    stage: ProbeStage,
) -> Result<Vec<u8>, ProbeError> {
    let mut buf = Vec::new();
    let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX);
    let n = (&mut *r)
        .take(limit)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|source| ProbeError::Read { stage, source })?;
    if n == 0 {
        return Err(ProbeError::Closed { stage });
    }
    if buf.last() != Some(&b'\n') {
        return Err(if n >= MAX_LINE {
            ProbeError::LineTooLong { stage }
        } else {
            ProbeError::TruncatedLine { stage }
        });
    }
    Ok(buf)
}

/// Read the (multi-line) reply to `stage`, of at most [`MAX_REPLY_LINES`]
/// lines.
pub(crate) async fn read_reply<R: AsyncBufRead + Unpin>(
    r: &mut R,
    stage: ProbeStage,
) -> Result<Reply, ProbeError> {
    let mut lines = Vec::new();
    let mut code = None;
    while lines.len() < MAX_REPLY_LINES {
        let raw = read_line(r, stage).await?;
        let (c, last, text) = parse_reply_line(&raw, stage)?;
        let first = *code.get_or_insert(c);
        if first != c {
            return Err(ProbeError::MixedCodes {
                stage,
                first,
                code: c,
            });
        }
        lines.push(text);
        if last {
            return Ok(Reply { code: c, lines });
        }
    }
    Err(ProbeError::TooManyLines { stage })
}

/// Send the command `line` of `stage`.
async fn send<S: AsyncWrite + Unpin>(
    s: &mut S,
    line: &str,
    stage: ProbeStage,
) -> Result<(), ProbeError> {
    let write = |source| ProbeError::Write { stage, source };
    s.write_all(format!("{line}\r\n").as_bytes())
        .await
        .map_err(write)?;
    s.flush().await.map_err(write)
}

/// What the recording verifier saw.
#[derive(Debug, Default)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    webpki: Option<Result<(), rustls::Error>>,
}

/// A client configuration (ring, TLS 1.2 and 1.3 only) whose verifier
/// records into `seen`.
fn client_config(
    roots: &Arc<RootCertStore>,
    seen: Arc<Mutex<Seen>>,
) -> Result<ClientConfig, ProbeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // An empty store cannot build a verifier: every certificate is then
    // untrusted.
    let inner = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .ok();
    // Every certificate is accepted, recorded with WebPKI's verdict (see
    // the module docs); handshake signatures are verified for real.
    let verifier = AcceptAnyCertificate::observing(
        provider.clone(),
        Box::new(move |end_entity, intermediates, server_name, ocsp, now| {
            let verdict = match &inner {
                Some(v) => v
                    .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
                    .map(drop),
                None => Err(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer,
                )),
            };
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            seen.chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
            seen.webpki = Some(verdict);
        }),
    );
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ProbeError::TlsConfig)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

fn tls_version(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        other => format!("{other:?}"),
    }
}

/// The TLS outcome from what the verifier saw and how the handshake ended.
fn outcome(
    seen: &Mutex<Seen>,
    host: &str,
    handshake: Result<(String, String), String>,
) -> TlsOutcome {
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    let chain = seen.chain.clone();
    let leaf = chain.first().and_then(|c| LeafInfo::parse(c));
    let (completed, version, cipher, handshake_error) = match handshake {
        Ok((v, c)) => (true, Some(v), Some(c), None),
        Err(e) => (false, None, None, Some(e)),
    };
    let (status, reason) = match (&seen.webpki, handshake_error) {
        (Some(w), None) => classify_certificate(
            w.as_ref().map(|_| ()),
            chain.first(),
            host,
            SystemTime::now(),
        ),
        (Some(w), Some(e)) => {
            let (s, r) = classify_certificate(
                w.as_ref().map(|_| ()),
                chain.first(),
                host,
                SystemTime::now(),
            );
            if s == CertStatus::Valid {
                (
                    CertStatus::ValidationFailure,
                    format!("TLS handshake failed: {e}"),
                )
            } else {
                (s, format!("{r}; TLS handshake failed: {e}"))
            }
        }
        (None, Some(e)) => (
            CertStatus::ValidationFailure,
            format!("TLS handshake failed: {e}"),
        ),
        (None, None) => (
            CertStatus::ValidationFailure,
            "no certificate received".into(),
        ),
    };
    TlsOutcome {
        completed,
        version,
        cipher,
        chain,
        leaf,
        status,
        reason,
    }
}

/// Probe `host` at `addrs` (tried in order) on `config.port`. Never
/// fails: what went wrong is in [`ProbeResult::error`].
pub async fn probe(host: &str, addrs: &[IpAddr], config: &ProbeConfig) -> ProbeResult {
    let mut r = ProbeResult {
        host: host.to_owned(),
        ..ProbeResult::default()
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut stage = ProbeStage::Connect;
    let result = tokio::time::timeout(
        config.timeout,
        run(&mut r, &mut stage, host, addrs, config, &seen),
    )
    .await;
    let error = match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(ProbeError::Timeout {
            stage,
            after: config.timeout,
        }),
    };
    if let Some(e) = error {
        let e = Chain(&e).to_string();
        // STARTTLS accepted but the handshake never finished (timeout).
        if r.starttls_accepted == Some(true) && r.tls.is_none() {
            r.tls = Some(outcome(&seen, host, Err(e.clone())));
        }
        r.error = Some(e);
    }
    r
}

/// Connect to `host` at `addrs` (tried in order) on `config.port` and
/// perform a TLS handshake at once (implicit TLS, no SMTP) with SNI =
/// `host`, recording the certificate chain like [`probe`] does; then close.
/// `mtasts check` uses it for the policy host (`mta-sts.<domain>`, HTTPS),
/// whose certificate expiry the policy fetch does not report. Errors are
/// the connect or setup failures, and [`ProbeError::Timeout`] when the
/// whole exchange takes longer than [`ProbeConfig::timeout`]; a failed
/// handshake is a [`TlsOutcome`] that says so.
pub async fn probe_tls(
    host: &str,
    addrs: &[IpAddr],
    config: &ProbeConfig,
) -> Result<TlsOutcome, ProbeError> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let run = async {
        let tcp = connect(addrs, config).await?;
        let tls_config = client_config(&config.roots, seen.clone())?;
        let name = ServerName::try_from(host.to_owned()).map_err(|source| {
            ProbeError::InvalidHostName {
                host: host.to_owned(),
                source,
            }
        })?;
        let (outcome, stream) = handshake(tls_config, name, tcp, &seen, host).await;
        if let Some(mut stream) = stream {
            let _ = stream.shutdown().await;
        }
        Ok(outcome)
    };
    match tokio::time::timeout(config.timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::Timeout {
            stage: ProbeStage::TlsHandshake,
            after: config.timeout,
        }),
    }
}

/// The TLS handshake over `tcp`; the outcome and, when it completed, the
/// stream.
async fn handshake(
    tls_config: ClientConfig,
    name: ServerName<'static>,
    tcp: TcpStream,
    seen: &Arc<Mutex<Seen>>,
    host: &str,
) -> (
    TlsOutcome,
    Option<tokio_rustls::client::TlsStream<TcpStream>>,
) {
    match TlsConnector::from(Arc::new(tls_config))
        .connect(name, tcp)
        .await
    {
        Ok(stream) => {
            let (_, session) = stream.get_ref();
            let version = session
                .protocol_version()
                .map_or_else(|| "unknown".to_owned(), tls_version);
            let cipher = session
                .negotiated_cipher_suite()
                .map_or_else(|| "unknown".to_owned(), |s| format!("{:?}", s.suite()));
            (outcome(seen, host, Ok((version, cipher))), Some(stream))
        }
        Err(e) => {
            let e = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(t) => t.to_string(),
                None => e.to_string(),
            };
            (outcome(seen, host, Err(e)), None)
        }
    }
}

async fn connect(addrs: &[IpAddr], config: &ProbeConfig) -> Result<TcpStream, ProbeError> {
    if addrs.is_empty() {
        return Err(ProbeError::NoAddresses);
    }
    let mut attempts = Vec::new();
    for ip in addrs {
        let addr = SocketAddr::new(*ip, config.port);
        match tokio::time::timeout(config.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(source)) => attempts.push(ProbeError::Connect { addr, source }),
            Err(_) => attempts.push(ProbeError::ConnectTimeout {
                addr,
                after: config.connect_timeout,
            }),
        }
    }
    Err(ProbeError::Unreachable { attempts })
}

fn address_literal(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(a) => format!("[{a}]"),
        IpAddr::V6(a) => format!("[IPv6:{a}]"),
    }
}

/// The SMTP session; `stage` follows its progress, for the error of a
/// timeout.
async fn run(
    r: &mut ProbeResult,
    stage: &mut ProbeStage,
    host: &str,
    addrs: &[IpAddr],
    config: &ProbeConfig,
    seen: &Arc<Mutex<Seen>>,
) -> Result<(), ProbeError> {
    let tcp = connect(addrs, config).await?;
    r.addr = tcp.peer_addr().ok();
    let ehlo_name = match &config.ehlo_name {
        Some(n) => n.clone(),
        None => tcp
            .local_addr()
            .map_or_else(|_| "[127.0.0.1]".to_owned(), address_literal),
    };
    let mut conn = BufReader::new(tcp);
    *stage = ProbeStage::Greeting;
    let greeting = read_reply(&mut conn, ProbeStage::Greeting).await?;
    r.banner = greeting.lines.first().cloned();
    if greeting.code != 220 {
        return Err(greeting.unexpected(ProbeStage::Greeting));
    }
    *stage = ProbeStage::Ehlo;
    send(
        conn.get_mut(),
        &format!("EHLO {ehlo_name}"),
        ProbeStage::Ehlo,
    )
    .await?;
    let ehlo = read_reply(&mut conn, ProbeStage::Ehlo).await?;
    if ehlo.code != 250 {
        r.ehlo = Some(Vec::new());
        *stage = ProbeStage::Quit;
        let _ = quit(&mut conn, ProbeStage::Quit).await;
        return Err(ehlo.unexpected(ProbeStage::Ehlo));
    }
    r.ehlo_starttls = ehlo_offers_starttls(&ehlo.lines);
    r.ehlo = Some(ehlo.lines);
    if !r.ehlo_starttls {
        *stage = ProbeStage::Quit;
        let _ = quit(&mut conn, ProbeStage::Quit).await;
        return Ok(());
    }
    *stage = ProbeStage::StartTls;
    send(conn.get_mut(), "STARTTLS", ProbeStage::StartTls).await?;
    let reply = read_reply(&mut conn, ProbeStage::StartTls).await?;
    r.starttls_reply = Some(reply.summary());
    r.starttls_accepted = Some(reply.code == 220);
    if reply.code != 220 {
        *stage = ProbeStage::Quit;
        let _ = quit(&mut conn, ProbeStage::Quit).await;
        return Ok(());
    }
    // Anything the server sent after its 220 is discarded with the buffer
    // (no STARTTLS command injection).
    *stage = ProbeStage::TlsHandshake;
    let tcp = conn.into_inner();
    let tls_config = client_config(&config.roots, seen.clone())?;
    let name =
        ServerName::try_from(host.to_owned()).map_err(|source| ProbeError::InvalidHostName {
            host: host.to_owned(),
            source,
        })?;
    let (tls, stream) = handshake(tls_config, name, tcp, seen, host).await;
    r.tls = Some(tls);
    let Some(stream) = stream else {
        return Ok(());
    };
    let mut secure = BufReader::new(stream);
    *stage = ProbeStage::EhloAfterTls;
    send(
        secure.get_mut(),
        &format!("EHLO {ehlo_name}"),
        ProbeStage::EhloAfterTls,
    )
    .await?;
    let again = read_reply(&mut secure, ProbeStage::EhloAfterTls).await?;
    *stage = ProbeStage::QuitAfterTls;
    let quit_result = quit(&mut secure, ProbeStage::QuitAfterTls).await;
    let _ = secure.get_mut().shutdown().await;
    if again.code != 250 {
        return Err(again.unexpected(ProbeStage::EhloAfterTls));
    }
    quit_result
}

/// Send `QUIT` and read the reply (whatever its code).
async fn quit<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BufReader<S>,
    stage: ProbeStage,
) -> Result<(), ProbeError> {
    send(conn.get_mut(), "QUIT", stage).await?;
    read_reply(conn, stage).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reply_lines() {
        let parse = |line: &[u8]| parse_reply_line(line, ProbeStage::Ehlo);
        assert_eq!(
            parse(b"250-mx.example.com\r\n").unwrap(),
            (250, false, "mx.example.com".into())
        );
        assert_eq!(
            parse(b"250 STARTTLS\r\n").unwrap(),
            (250, true, "STARTTLS".into())
        );
        assert_eq!(parse(b"220\r\n").unwrap(), (220, true, String::new()));
        assert_eq!(parse(b"220 x\n").unwrap(), (220, true, "x".into()));
        // The line is shown without its line break, cut at 80 bytes.
        let long = format!("2{}\r\n", "x".repeat(200));
        for (bad, shown) in [
            (&b"25\r\n"[..], "25"),
            (b"abc def\r\n", "abc def"),
            (b"650 nope\r\n", "650 nope"),
            (b"250+x\r\n", "250+x"),
            (b"", ""),
            (long.as_bytes(), &long[..80]),
        ] {
            match parse(bad) {
                Err(ProbeError::MalformedLine { stage, line }) => {
                    assert_eq!(stage, ProbeStage::Ehlo);
                    assert_eq!(line, shown);
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_line_error() {
        use std::error::Error as _;
        let e = parse_reply_line(b"hello\r\n", ProbeStage::Ehlo).unwrap_err();
        assert!(
            matches!(&e, ProbeError::MalformedLine { stage: ProbeStage::Ehlo, line } if line == "hello"),
            "{e:?}"
        );
        assert!(e.source().is_none());
        assert_eq!(e.to_string(), "EHLO: malformed reply line `hello`");
        assert_eq!(e.stage(), Some(ProbeStage::Ehlo));
    }

    /// A connection whose every read and write fails.
    struct Broken;

    impl AsyncWrite for Broken {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            std::task::Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "broken pipe",
            )))
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    impl AsyncRead for Broken {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "reset by peer",
            )))
        }
    }

    #[tokio::test]
    async fn read_error_keeps_the_io_error() {
        use std::error::Error as _;
        let e = read_reply(&mut BufReader::new(Broken), ProbeStage::Greeting)
            .await
            .unwrap_err();
        let ProbeError::Read { stage, source } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(*stage, ProbeStage::Greeting);
        assert_eq!(source.kind(), io::ErrorKind::ConnectionReset);
        let inner = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            inner.map(io::Error::kind),
            Some(io::ErrorKind::ConnectionReset)
        );
        assert_eq!(e.to_string(), "greeting: read");
        assert_eq!(Chain(&e).to_string(), "greeting: read: reset by peer");
    }

    #[tokio::test]
    async fn write_error_keeps_the_io_error() {
        use std::error::Error as _;
        let e = send(&mut Broken, "STARTTLS", ProbeStage::StartTls)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ProbeError::Write { stage: ProbeStage::StartTls, source } if source.kind() == io::ErrorKind::BrokenPipe),
            "{e:?}"
        );
        assert!(e.source().is_some_and(|s| s.is::<io::Error>()));
        assert_eq!(Chain(&e).to_string(), "STARTTLS: write: broken pipe");
    }

    /// A loopback server that writes `bytes` to its first client and waits
    /// for it to close; the probe's configuration for it.
    async fn one_shot(bytes: &'static [u8]) -> (IpAddr, ProbeConfig) {
        use tokio::io::AsyncWriteExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            tcp.write_all(bytes).await.unwrap();
            let mut sink = Vec::new();
            let _ = tcp.read_to_end(&mut sink).await;
        });
        let mut config = ProbeConfig::new(RootCertStore::empty());
        config.port = addr.port();
        config.timeout = Duration::from_secs(10);
        (addr.ip(), config)
    }

    #[tokio::test]
    async fn greeting_not_220() {
        use std::error::Error as _;
        let (ip, config) = one_shot(b"554 5.7.1 go away\r\n").await;
        let mut r = ProbeResult::default();
        let mut stage = ProbeStage::Connect;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let e = run(&mut r, &mut stage, "mx.example.com", &[ip], &config, &seen)
            .await
            .unwrap_err();
        let ProbeError::UnexpectedReply {
            stage: s,
            code,
            reply,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!((*s, *code), (ProbeStage::Greeting, 554));
        assert_eq!(reply, "554 5.7.1 go away");
        assert!(e.source().is_none());
        assert_eq!(e.to_string(), "greeting is not 220: 554 5.7.1 go away");
        assert_eq!(stage, ProbeStage::Greeting);
        assert_eq!(r.banner.as_deref(), Some("5.7.1 go away"));

        // The same through `probe`: the message is the error's chain.
        let (ip, config) = one_shot(b"554 5.7.1 go away\r\n").await;
        let r = probe("mx.example.com", &[ip], &config).await;
        assert_eq!(
            r.error.as_deref(),
            Some("greeting is not 220: 554 5.7.1 go away")
        );
        assert_eq!(r.tls_status(), None);
    }

    #[tokio::test]
    async fn connect_errors_per_address() {
        use std::error::Error as _;
        // A port nobody listens on (bound, then closed).
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let mut config = ProbeConfig::new(RootCertStore::empty());
        config.port = port;
        let ip = IpAddr::from([127, 0, 0, 1]);
        let e = connect(&[ip, ip], &config).await.unwrap_err();
        let ProbeError::Unreachable { attempts } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(attempts.len(), 2);
        for a in attempts {
            let ProbeError::Connect { addr, source } = a else {
                panic!("{a:?}");
            };
            assert_eq!(*addr, SocketAddr::new(ip, port));
            assert_eq!(source.kind(), io::ErrorKind::ConnectionRefused);
            assert!(a.source().is_some_and(|s| s.is::<io::Error>()));
        }
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("cannot connect: 127.0.0.1:{port}: ")),
            "{text}"
        );
        assert_eq!(text.matches("; 127.0.0.1:").count(), 1, "{text}");
        assert_eq!(e.stage(), Some(ProbeStage::Connect));
        assert!(matches!(
            connect(&[], &config).await,
            Err(ProbeError::NoAddresses)
        ));
    }

    #[test]
    fn other_error_texts() {
        use std::error::Error as _;
        let e = ProbeError::Timeout {
            stage: ProbeStage::TlsHandshake,
            after: Duration::from_millis(800),
        };
        assert_eq!(
            e.to_string(),
            "probe timed out after 0.8 s (stage: TLS handshake)"
        );
        let e = Reply {
            code: 554,
            lines: vec!["no".into()],
        }
        .unexpected(ProbeStage::EhloAfterTls);
        assert_eq!(e.to_string(), "after TLS: EHLO refused: 554 no");
        let source = ServerName::try_from("not a name!").unwrap_err();
        let why = source.to_string();
        let e = ProbeError::InvalidHostName {
            host: "not a name!".into(),
            source,
        };
        assert!(e.source().is_some_and(|s| s.is::<InvalidDnsNameError>()));
        assert_eq!(
            Chain(&e).to_string(),
            format!("invalid MX host name `not a name!`: {why}")
        );
        let e = ProbeError::TlsConfig(rustls::Error::General("x".into()));
        assert!(e.source().is_some_and(|s| s.is::<rustls::Error>()));
        assert_eq!(e.to_string(), "TLS configuration");
    }

    #[test]
    fn reply_summary_cuts_on_a_char_boundary() {
        let r = Reply {
            code: 220,
            lines: vec![format!("x{}", "\u{e9}".repeat(150))],
        };
        // Byte 200 falls inside the 98th `é`: cut before it.
        let s = r.summary();
        assert_eq!(s.len(), 199);
        assert_eq!(s, format!("220 x{}", "\u{e9}".repeat(97)));
    }

    #[test]
    fn ehlo_keywords() {
        assert!(ehlo_offers_starttls(&lines(&[
            "mx.example.com",
            "PIPELINING",
            "STARTTLS"
        ])));
        assert!(ehlo_offers_starttls(&lines(&[
            "mx", "starttls", "8BITMIME"
        ])));
        assert!(ehlo_offers_starttls(&lines(&["mx", "STARTTLS extra"])));
        // The greeting line is not a keyword line.
        assert!(!ehlo_offers_starttls(&lines(&["STARTTLS"])));
        assert!(!ehlo_offers_starttls(&lines(&[
            "mx",
            "XSTARTTLS",
            "STARTTLSX",
            "AUTH STARTTLS"
        ])));
        assert!(!ehlo_offers_starttls(&[]));
    }

    #[tokio::test]
    async fn multi_line_replies() {
        let mut input: &[u8] = b"250-mx.example.com hello\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
        const S: ProbeStage = ProbeStage::Ehlo;
        let r = read_reply(&mut input, S).await.unwrap();
        assert_eq!(r.code, 250);
        assert!(ehlo_offers_starttls(&r.lines));
        let mut mixed: &[u8] = b"250-a\r\n251 b\r\n";
        let e = read_reply(&mut mixed, S).await.unwrap_err();
        assert!(
            matches!(
                e,
                ProbeError::MixedCodes {
                    stage: S,
                    first: 250,
                    code: 251
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "EHLO: reply codes differ within one reply (251 after 250)"
        );
        let long = format!("250 {}\r\n", "x".repeat(MAX_LINE));
        let e = read_reply(&mut long.as_bytes(), S).await.unwrap_err();
        assert!(matches!(e, ProbeError::LineTooLong { stage: S }), "{e:?}");
        assert_eq!(e.to_string(), "EHLO: reply line longer than 1000 bytes");
        let many = "250-x\r\n".repeat(MAX_REPLY_LINES + 1);
        let e = read_reply(&mut many.as_bytes(), S).await.unwrap_err();
        assert!(matches!(e, ProbeError::TooManyLines { stage: S }), "{e:?}");
        assert_eq!(e.to_string(), "EHLO: reply longer than 100 lines");
        let mut cut: &[u8] = b"250-a\r\n250 b";
        let e = read_reply(&mut cut, S).await.unwrap_err();
        assert!(matches!(e, ProbeError::TruncatedLine { stage: S }), "{e:?}");
        let mut empty: &[u8] = b"";
        let e = read_reply(&mut empty, S).await.unwrap_err();
        assert!(matches!(e, ProbeError::Closed { stage: S }), "{e:?}");
        assert_eq!(e.to_string(), "EHLO: connection closed by the server");
    }

    #[test]
    fn time_format() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn chain_classification() {
        use rustls::Error::InvalidCertificate as Bad;
        let ca = test_support::TestCa::new();
        let good = ca.issue(&["mx1.example.com"]);
        let other = ca.issue(&["mx1.example.com"]);
        let now = SystemTime::now();
        let host = "mx1.example.com";
        let c = |e: rustls::Error, leaf: &CertificateDer<'_>, host: &str| {
            classify_certificate(Err(&e), Some(leaf), host, now).0
        };
        assert_eq!(
            c(Bad(CertificateError::UnknownIssuer), &good.cert_der, host),
            CertStatus::CertificateNotTrusted
        );
        assert_eq!(
            c(Bad(CertificateError::BadSignature), &good.cert_der, host),
            CertStatus::CertificateNotTrusted
        );
        assert_eq!(
            c(Bad(CertificateError::Expired), &good.cert_der, host),
            CertStatus::CertificateExpired
        );
        assert_eq!(
            c(
                Bad(CertificateError::NotValidForName),
                &good.cert_der,
                "mx2.example.com"
            ),
            CertStatus::CertificateHostMismatch
        );
        assert_eq!(
            c(Bad(CertificateError::NotValidYet), &good.cert_der, host),
            CertStatus::ValidationFailure
        );
        assert_eq!(
            c(Bad(CertificateError::InvalidPurpose), &good.cert_der, host),
            CertStatus::ValidationFailure
        );
        assert_eq!(
            c(rustls::Error::General("x".into()), &good.cert_der, host),
            CertStatus::ValidationFailure
        );
        // Untrusted and for another name: the reason names both.
        let (s, reason) = classify_certificate(
            Err(&Bad(CertificateError::UnknownIssuer)),
            Some(&other.cert_der),
            "mx9.example.com",
            now,
        );
        assert_eq!(s, CertStatus::CertificateNotTrusted);
        assert!(
            reason.contains("unknown issuer") && reason.contains("mx1.example.com"),
            "{reason}"
        );
        // WebPKI accepted: the leaf is checked again (DEC-11).
        assert_eq!(
            classify_certificate(Ok(()), Some(&good.cert_der), host, now).0,
            CertStatus::Valid
        );
        assert_eq!(
            classify_certificate(Ok(()), Some(&good.cert_der), "mx2.example.com", now).0,
            CertStatus::CertificateHostMismatch
        );
        let later = now + Duration::from_secs(2 * 365 * 86_400);
        assert_eq!(
            classify_certificate(Ok(()), Some(&good.cert_der), host, later).0,
            CertStatus::CertificateExpired
        );
        let wild = ca.issue(&["*.example.com"]);
        assert_eq!(
            classify_certificate(Ok(()), Some(&wild.cert_der), "a.b.example.com", now).0,
            CertStatus::CertificateHostMismatch
        );
        assert_eq!(
            classify_certificate(Ok(()), None, host, now).0,
            CertStatus::ValidationFailure
        );
        let garbage = CertificateDer::from(vec![1u8, 2, 3]);
        assert_eq!(
            classify_certificate(Ok(()), Some(&garbage), host, now).0,
            CertStatus::ValidationFailure
        );
    }

    #[test]
    fn leaf_info() {
        let ca = test_support::TestCa::new();
        let leaf = ca.issue(&["mx1.example.com", "*.example.net"]);
        let info = LeafInfo::parse(&leaf.cert_der).unwrap();
        assert_eq!(info.dns_names, ["mx1.example.com", "*.example.net"]);
        assert!(info.issuer.contains("test-support CA"), "{}", info.issuer);
        assert!(info.not_after.ends_with('Z'));
        assert!(LeafInfo::parse(b"nope").is_none());
    }

    #[test]
    fn tls_status_mapping() {
        let mut r = ProbeResult::default();
        assert_eq!(r.starttls(), None);
        assert_eq!(r.tls_status(), None);
        r.ehlo = Some(lines(&["mx"]));
        assert_eq!(r.tls_status(), Some(TlsStatus::NoStartTls));
        r.ehlo_starttls = true;
        assert_eq!(r.starttls(), None);
        r.starttls_accepted = Some(false);
        assert_eq!(r.tls_status(), Some(TlsStatus::NoStartTls));
        r.starttls_accepted = Some(true);
        r.tls = Some(TlsOutcome {
            completed: true,
            version: None,
            cipher: None,
            chain: Vec::new(),
            leaf: None,
            status: CertStatus::CertificateExpired,
            reason: String::new(),
        });
        assert_eq!(
            r.tls_status(),
            Some(TlsStatus::Failed {
                result_type: ResultType::CertificateExpired,
                reason: None
            })
        );
    }
}
