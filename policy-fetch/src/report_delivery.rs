//! Delivering TLS-RPT reports (RFC 8460 sections 3 and 5): where a report
//! goes, the HTTPS POST, the mail through an SMTP relay, and when to try
//! again. Feature `report-delivery` (on by default).
//!
//! ```text
//!  RenderedReport (tlsrpt-core) ─► report_domain ─► lookup_destinations: TXT _smtp._tls.<domain>
//!                                                      │ every usable rua URI, in record order
//!                         ┌────────────────────────────┴──────────────────────────┐
//!          https:  ReportPoster::post                         mailto:  MailRelay::send
//!          POST application/tlsrpt+gzip                       the (DKIM-signed) message,
//!          (DEC-22 on certificate errors)                     RCPT TO = the rua address
//!                         └──────────────────► Attempt ◄──────────────────────────┘
//!                                 delivered | temporary failure | permanent failure
//!                                                │
//!                            RetrySchedule::next (pure: the attempts so far)
//! ```
//!
//! Rendering, gzip and DKIM signing happen before, without IO, in
//! `tlsrpt-core` (`outgoing::render`, `outgoing::render_email`,
//! `dkim::Signer`). This module does the network part and keeps nothing:
//! the caller stores the [`Attempt`]s (the `mtasts tlsrpt send` reporter
//! keeps them in `delivery.json`) and asks [`RetrySchedule::next`] when to
//! try a destination again.
//!
//! # Which record
//!
//! A report goes to the `rua` URIs of the `_smtp._tls` TXT record of its
//! policy domain ([`report_domain`]: the `policy-domain` every policy of
//! the report shares, as A-labels). For MTA-STS and `no-policy-found`
//! results that is the recipient domain's record. For DANE (`tlsa`)
//! results RFC 8460 names the TLSA base domain, the MX host, as the policy
//! domain, and so the record of the MX host (DEC-15); `tlsrpt-core`'s
//! aggregate keys `tlsa` results by that base domain (Postfix's libtlsrpt
//! datagrams carry it as their `policy-domain` too), so every report holds
//! the results of one record's owner. A report that mixes `tlsa` with
//! `sts` or `no-policy-found` policies exists only when one name is both a
//! recipient domain and a TLSA base domain (a domain that is its own MX
//! host); both rules then name the same record, and the report goes there
//! once.
//!
//! No record, several records (RPT-TXT-08), an invalid record or one
//! without a usable URI (DEC-14: only `mailto:` and `https:`) means the
//! domain does not ask for reports: [`DestinationLookup::None`], nothing
//! is sent. A temporary DNS failure is [`DestinationLookup::TempFail`]:
//! look up again later, on the same schedule as a failed delivery.
//!
//! # Every destination
//!
//! RFC 8460 lets a reporter try the URIs one by one and stop at the first
//! that accepts (RPT-DELIV-18). Here every usable URI gets the report, each
//! with its own attempts and retries: a receiver that is down does not
//! cost the others their report, and one that accepted is never sent it
//! again. Unusable URIs ([`UnusableRua`]) are listed, never tried.
//!
//! # HTTPS
//!
//! [`ReportPoster::post`]: `POST` of the gzip (`Content-Type:
//! application/tlsrpt+gzip`, RPT-DELIV-14) over HTTP/1.1 and rustls (*ring*
//! provider, TLS 1.2 and 1.3), SNI and certificate name = the URI's host,
//! trust anchors = the [`Roots`] policy fetching uses (so the same
//! [`Overrides`](crate::Overrides) `ca_file` applies). The port is the
//! URI's (443 by default); a URI with user information is refused.
//!
//! - Certificates (DEC-22, RPT-DELIV-15): verified first; when the
//!   certificate is the problem (expired, untrusted, wrong name), the same
//!   POST is sent once more without verification and, if it is accepted,
//!   the attempt counts as delivered with a note saying so. RFC 8460 allows
//!   this so that a misconfigured receiver still gets its reports.
//!   [`InvalidCertificates::Refuse`] turns it off (then a certificate error
//!   is a temporary failure). Handshake signatures are always verified.
//! - Redirects: `307` and `308` (which keep the method and the body) are
//!   followed to `https:` URIs only, at most [`PostSettings::max_redirects`]
//!   times; `301`, `302` and `303` (which turn a POST into a GET), a
//!   redirect to `http:` and too many redirects are permanent failures.
//! - Time: [`PostSettings::connect_timeout`] per connection attempt,
//!   [`PostSettings::total_timeout`] for the whole POST, redirects and the
//!   unverified retry included. At most [`MAX_RESPONSE_SNIPPET`] bytes of
//!   the answer are read, for the attempt's detail text.
//! - Outcome ([`classify_http_status`], RPT-DELIV-16): any `2xx` is
//!   delivered; `408` and `429` are temporary, every other `4xx` (and
//!   `1xx`, other `3xx`) permanent; `5xx` temporary; a network, DNS or TLS
//!   failure, or a timeout, temporary.
//!
//! # Mail
//!
//! [`MailRelay::send`] hands the message to the configured SMTP relay with
//! lettre (rustls on *ring*; STARTTLS required, opportunistic, implicit TLS
//! or none; optional `AUTH` after TLS), envelope `RCPT TO` = the `mailto:`
//! address, `MAIL FROM` = [`RelaySettings::envelope_from`]. The message is
//! sent as given, byte for byte, so a DKIM signature made before still
//! verifies (RFC 8460 3 requires one: RPT-DELIV-11). A `5xx` reply or a
//! recipient address lettre refuses is permanent; a `4xx` reply, a
//! network or TLS failure, a timeout and a relay that lacks what is needed
//! (STARTTLS when it is required, an `AUTH` mechanism in common) are
//! temporary.
//!
//! The relay, not this library, delivers the mail to the receiver's MX.
//! RFC 8460 5.3.1 asks that report mail be delivered despite TLS failures
//! and that its SMTP sessions not be counted in the next report, so that
//! reports do not beget reports. For an MTA that embeds the aggregation
//! (`tlsrpt_core::session`): do not record the sessions that deliver
//! report mail, and let report mail through whatever MTA-STS or DANE says
//! (RPT-DELIV-13); the message carries `TLS-Required: No` (RFC 8689) to
//! ask relays for the same. The submission to the relay itself is not an
//! MX delivery and is never a TLS-RPT session.
//!
//! # Retries
//!
//! [`RetrySchedule`] is a pure function of the attempts made so far and a
//! per-destination seed: after the n-th temporary failure the next attempt
//! is due [`RetrySchedule::delay`] later (5 min, 15 min, 45 min, 2 h 15,
//! then every 6 h by default, each lengthened by up to 20 % of jitter, so
//! that reporters do not all come back at the same moment), and no attempt
//! is made more than [`RetrySchedule::window`] (24 h, RPT-DELIV-17) after
//! the first. A delivered destination, or one that failed permanently, is
//! done.
//!
//! ```
//! use std::time::Duration;
//! use policy_fetch::report_delivery::{AttemptResult, NextAttempt, RetrySchedule};
//! use tlsrpt_core::time::Timestamp;
//!
//! let s = RetrySchedule::default();
//! let t0 = Timestamp::from_unix(1_714_608_300); // 2024-05-02T00:05:00Z
//! assert_eq!(s.next([], 7), NextAttempt::Now);
//! match s.next([(t0, AttemptResult::Temporary)], 7) {
//!     // 5 minutes, plus up to 20 % jitter.
//!     NextAttempt::At(t) => assert!((300..=360).contains(&(t.secs - t0.secs))),
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(s.next([(t0, AttemptResult::Delivered)], 7), NextAttempt::Delivered);
//! assert_eq!(s.next([(t0, AttemptResult::Permanent)], 7), NextAttempt::Failed);
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use hyper_util::rt::TokioIo;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use mta_sts_core::discovery::TxtAnswer;
use mta_sts_core::display::{Escaped, escape_controls};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tlsrpt_core::TlsRptRecord;
use tlsrpt_core::filename::MEDIA_TYPE_GZIP;
use tlsrpt_core::outgoing::RenderedReport;
use tlsrpt_core::record::{RuaKind, txt_name};
use tlsrpt_core::time::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::dns::Dns;
use crate::error::{BoxError, Chain, FetchError};
use crate::https::AcceptAnyCertificate;
use crate::https::{Roots, classify_tls};

/// The most bytes of an HTTPS receiver's answer that are read (and quoted,
/// escaped, in the attempt's detail).
pub const MAX_RESPONSE_SNIPPET: usize = 512;

// ---------------------------------------------------------------------------
// Where a report goes

/// The domain whose `_smtp._tls` record lists the report's destinations:
/// its policy domain, as the file name has it (A-labels, lower case; see
/// the module documentation, "Which record").
///
/// ```
/// use tlsrpt_core::outgoing::render;
/// use tlsrpt_core::session::{DayAggregate, Outcome, PolicyKey, ReportMeta, UtcDay};
///
/// let mut day = DayAggregate::new(UtcDay::parse("2024-05-01")?);
/// // A DANE result is keyed by the TLSA base domain, the MX host.
/// day.record(&PolicyKey::tlsa("MX1.Example.net", ["3 1 1 0123ABCD"], ["mx1.example.net"])?, &Outcome::Success)?;
/// let meta = ReportMeta::new("Example Mail", "tlsrpt@mail.example.com", "mail.example.com", "1");
/// let report = &day.finish(&meta)?.reports[0];
/// let rendered = render(report, &meta.submitter, &meta.unique_id)?;
/// assert_eq!(policy_fetch::report_delivery::report_domain(&rendered), "mx1.example.net");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn report_domain(rendered: &RenderedReport) -> &str {
    &rendered.filename.policy_domain
}

/// A place a report can be delivered to: a usable `rua` URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// `https:`: POST the gzip there.
    Https {
        /// The URI as written in the record.
        uri: String,
    },
    /// `mailto:`: mail the report to the address.
    Mailto {
        /// The URI as written in the record.
        uri: String,
        /// The address (percent-decoded, `?` header fields dropped).
        address: String,
    },
}

impl Destination {
    /// The URI as written in the record.
    pub fn uri(&self) -> &str {
        match self {
            Self::Https { uri } | Self::Mailto { uri, .. } => uri,
        }
    }

    /// `https` or `mailto`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Https { .. } => "https",
            Self::Mailto { .. } => "mailto",
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

/// A `rua` URI that cannot be used (DEC-14): listed, never tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableRua {
    /// The URI as written.
    pub uri: String,
    /// Why it cannot be used.
    pub reason: &'static str,
}

/// The usable destinations of a record, in record order, and the unusable
/// URIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinations {
    /// The record as found (its canonical text).
    pub record: String,
    /// Every usable URI, in record order (at least one).
    pub usable: Vec<Destination>,
    /// The URIs that cannot be used.
    pub unusable: Vec<UnusableRua>,
}

impl Destinations {
    /// The destinations of a parsed record.
    ///
    /// ```
    /// use policy_fetch::report_delivery::{Destination, Destinations};
    /// use tlsrpt_core::TlsRptRecord;
    ///
    /// let record = TlsRptRecord::parse("v=TLSRPTv1; rua=https://r.example/v1,ftp://x.example/,mailto:tls@example.com")?;
    /// let d = Destinations::of(&record);
    /// assert_eq!(d.usable, [
    ///     Destination::Https { uri: "https://r.example/v1".into() },
    ///     Destination::Mailto { uri: "mailto:tls@example.com".into(), address: "tls@example.com".into() },
    /// ]);
    /// assert_eq!(d.unusable[0].uri, "ftp://x.example/");
    /// # Ok::<(), tlsrpt_core::RecordError>(())
    /// ```
    pub fn of(record: &TlsRptRecord<'_>) -> Self {
        let mut usable = Vec::new();
        let mut unusable = Vec::new();
        for rua in record.rua() {
            let uri = rua.uri.to_string();
            match &rua.kind {
                RuaKind::Https => usable.push(Destination::Https { uri }),
                RuaKind::Mailto { address } => usable.push(Destination::Mailto {
                    uri,
                    address: address.to_string(),
                }),
                RuaKind::Unsupported { reason } => unusable.push(UnusableRua { uri, reason }),
            }
        }
        Self {
            record: record.to_string(),
            usable,
            unusable,
        }
    }
}

/// Why a domain has no destination for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoDestination {
    /// No TXT record at `_smtp._tls.<domain>` starts with `v=TLSRPTv1`.
    NoRecord,
    /// Several records, or an invalid one (RPT-TXT-08, -09).
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// A record whose URIs are all unusable (DEC-14).
    NoUsableUri {
        /// The record.
        record: String,
        /// Its URIs.
        unusable: Vec<UnusableRua>,
    },
}

impl fmt::Display for NoDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRecord => f.write_str("no TLS-RPT record"),
            Self::Invalid { reason } => write!(f, "no usable TLS-RPT record: {reason}"),
            Self::NoUsableUri { unusable, .. } => {
                f.write_str("the TLS-RPT record has no mailto: or https: URI")?;
                for u in unusable {
                    write!(f, "; {}: {}", Escaped(&u.uri), u.reason)?;
                }
                Ok(())
            }
        }
    }
}

/// What the `_smtp._tls` lookup of a domain gave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DestinationLookup {
    /// The record and its destinations.
    Found(Destinations),
    /// The domain does not ask for reports: nothing to send.
    None(NoDestination),
    /// A temporary DNS failure: look up again later.
    TempFail {
        /// The resolver's error.
        reason: String,
    },
}

/// Look up the destinations of `domain`'s reports: the `_smtp._tls` TXT
/// record (see the module documentation).
pub async fn lookup_destinations(dns: &Dns, domain: &str) -> DestinationLookup {
    let name = txt_name(domain);
    let answer = match dns.txt(&name).await {
        TxtAnswer::Records(rrs) => rrs,
        TxtAnswer::NoRecord => return DestinationLookup::None(NoDestination::NoRecord),
        TxtAnswer::TempFail(reason) => {
            return DestinationLookup::TempFail {
                reason: format!("{name}: {reason}"),
            };
        }
    };
    match TlsRptRecord::select(&answer) {
        Ok(record) => {
            let d = Destinations::of(&record);
            if d.usable.is_empty() {
                DestinationLookup::None(NoDestination::NoUsableUri {
                    record: d.record,
                    unusable: d.unusable,
                })
            } else {
                DestinationLookup::Found(d)
            }
        }
        Err(tlsrpt_core::SelectError::NoRecord) => DestinationLookup::None(NoDestination::NoRecord),
        Err(e) => DestinationLookup::None(NoDestination::Invalid {
            reason: format!("{name}: {e}"),
        }),
    }
}

// ---------------------------------------------------------------------------
// Attempts

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptResult {
    /// The receiver took the report.
    Delivered,
    /// It did not, but may later: try again ([`RetrySchedule`]).
    Temporary,
    /// It did not and will not: do not try this destination again.
    Permanent,
}

impl AttemptResult {
    /// `delivered`, `temporary` or `permanent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Temporary => "temporary",
            Self::Permanent => "permanent",
        }
    }

    /// The result named by [`AttemptResult::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "delivered" => Some(Self::Delivered),
            "temporary" => Some(Self::Temporary),
            "permanent" => Some(Self::Permanent),
            _ => None,
        }
    }
}

impl fmt::Display for AttemptResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One delivery attempt: where, when, how it ended and what was said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The destination (the `rua` URI, or `mailto:<address>`).
    pub destination: String,
    /// When it started (the time the caller passed).
    pub at: Timestamp,
    /// How it ended.
    pub result: AttemptResult,
    /// What happened, on one line: the receiver's answer (`HTTP 201`, `250
    /// 2.0.0 queued as ...`), or the error with its causes.
    pub detail: String,
}

/// The outcome of an HTTPS POST by status code (RPT-DELIV-16; see the
/// module documentation).
///
/// ```
/// use policy_fetch::report_delivery::{AttemptResult, classify_http_status};
/// assert_eq!(classify_http_status(201), AttemptResult::Delivered);
/// assert_eq!(classify_http_status(429), AttemptResult::Temporary);
/// assert_eq!(classify_http_status(404), AttemptResult::Permanent);
/// assert_eq!(classify_http_status(503), AttemptResult::Temporary);
/// ```
pub fn classify_http_status(status: u16) -> AttemptResult {
    match status {
        200..=299 => AttemptResult::Delivered,
        408 | 429 | 500..=599 => AttemptResult::Temporary,
        _ => AttemptResult::Permanent,
    }
}

/// An attempt that did not deliver, before it gets its destination and time.
struct Failed {
    result: AttemptResult,
    detail: String,
}

fn temporary(detail: impl Into<String>) -> Failed {
    Failed {
        result: AttemptResult::Temporary,
        detail: detail.into(),
    }
}

fn permanent(detail: impl Into<String>) -> Failed {
    Failed {
        result: AttemptResult::Permanent,
        detail: detail.into(),
    }
}

// ---------------------------------------------------------------------------
// HTTPS

/// What to do when an HTTPS receiver's certificate does not verify
/// (DEC-22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidCertificates {
    /// Send the same POST once more without verifying the certificate
    /// (the default; RFC 8460 3 allows it).
    #[default]
    RetryUnverified,
    /// Do not: the attempt is a temporary failure.
    Refuse,
}

/// Settings of [`ReportPoster`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostSettings {
    /// Timeout of each TCP connect (default 10 s).
    pub connect_timeout: Duration,
    /// Timeout of a whole POST, redirects and the unverified retry
    /// included (default 60 s).
    pub total_timeout: Duration,
    /// `307`/`308` redirects followed at most (default 3).
    pub max_redirects: u8,
    /// Certificate errors (DEC-22).
    pub invalid_certificates: InvalidCertificates,
}

impl Default for PostSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(60),
            max_redirects: 3,
            invalid_certificates: InvalidCertificates::RetryUnverified,
        }
    }
}

/// Posts reports to `https:` destinations (see the module documentation).
#[derive(Clone)]
pub struct ReportPoster {
    dns: Dns,
    verified: TlsConnector,
    unverified: TlsConnector,
    settings: PostSettings,
}

impl fmt::Debug for ReportPoster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportPoster")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// An `https:` URI taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpsUrl {
    /// The host: a domain name (lower case) or an IP address (no brackets).
    host: String,
    /// The host as an address, when it is one.
    ip: Option<IpAddr>,
    /// The port (443 when the URI has none).
    port: u16,
    /// The authority without user information, as written: the `Host` header.
    authority: String,
    /// Path and query (`/` when empty), without the fragment.
    path: String,
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://{}{}", self.authority, self.path)
    }
}

impl HttpsUrl {
    fn parse(uri: &str) -> Result<Self, String> {
        let Some((scheme, rest)) = uri.split_once(':') else {
            return Err("not an https: URI".into());
        };
        if scheme.eq_ignore_ascii_case("http") {
            return Err("plain http: is refused (reports go over https: only)".into());
        }
        if !scheme.eq_ignore_ascii_case("https") {
            return Err("not an https: URI".into());
        }
        let Some(rest) = rest.strip_prefix("//") else {
            return Err("no `//` authority".into());
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err("user information in the URI is not supported".into());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((h, after)) = v6.split_once(']') else {
                return Err("unclosed `[` in the host".into());
            };
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or("junk after `]`")?),
            };
            (h, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            None | Some("") => 443,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("invalid port `{}`", Escaped(p)))?,
        };
        if host.is_empty() {
            return Err("no host".into());
        }
        let ip = host.parse::<IpAddr>().ok();
        if authority.starts_with('[') && !matches!(ip, Some(IpAddr::V6(_))) {
            return Err("invalid IPv6 address".into());
        }
        let path = tail.split('#').next().unwrap_or("");
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(Self {
            host: host.to_ascii_lowercase(),
            ip,
            port,
            authority: authority.to_owned(),
            path,
        })
    }

    /// The URL a `Location` header points to, from this one.
    fn join(&self, location: &str) -> Result<Self, String> {
        let location = location.trim();
        if location.starts_with("//") {
            return Self::parse(&format!("https:{location}"));
        }
        if location.contains("://")
            || location
                .split_once(':')
                .is_some_and(|(s, _)| !s.contains('/'))
        {
            return Self::parse(location);
        }
        let path = location.split('#').next().unwrap_or("");
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            let base = self.path.split('?').next().unwrap_or("/");
            let dir = base.rfind('/').map_or("/", |i| &base[..=i]);
            format!("{dir}{path}")
        };
        Ok(Self {
            path,
            ..self.clone()
        })
    }
}

/// What a POST got back.
struct PostResponse {
    status: u16,
    location: Option<String>,
    snippet: String,
}

impl ReportPoster {
    /// A poster resolving receivers with `dns` and verifying their
    /// certificates against `roots`.
    pub fn new(dns: Dns, roots: &Roots, settings: PostSettings) -> Result<Self, FetchError> {
        let verified = TlsConnector::from(Arc::new(roots.client_config()?));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let unverified = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(FetchError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate::new(provider)))
            .with_no_client_auth();
        Ok(Self {
            dns,
            verified,
            unverified: TlsConnector::from(Arc::new(unverified)),
            settings,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &PostSettings {
        &self.settings
    }

    /// POST `gzip` (a gzip-compressed report) to the `https:` URI `uri`;
    /// `at` is the attempt's time as the caller's clock has it.
    pub async fn post(&self, uri: &str, gzip: &[u8], at: Timestamp) -> Attempt {
        self.post_as(uri, MEDIA_TYPE_GZIP, gzip, at).await
    }

    /// POST `body` with `Content-Type: content_type` to the `https:` URI
    /// `uri`, with the same rules as [`ReportPoster::post`] (redirects,
    /// timeouts, certificate handling, outcome by status). Used for JSON
    /// webhooks (`application/json`).
    pub async fn post_as(
        &self,
        uri: &str,
        content_type: &'static str,
        body: &[u8],
        at: Timestamp,
    ) -> Attempt {
        let total = self.settings.total_timeout;
        let (result, detail) =
            match tokio::time::timeout(total, self.post_following(uri, content_type, body)).await {
                Ok(Ok(detail)) => (AttemptResult::Delivered, detail),
                Ok(Err(f)) => (f.result, f.detail),
                Err(_) => (
                    AttemptResult::Temporary,
                    format!("timed out after {} s", total.as_secs()),
                ),
            };
        Attempt {
            destination: uri.to_owned(),
            at,
            result,
            detail,
        }
    }

    /// The POST with its redirects; the detail of a delivery, or why not.
    async fn post_following(
        &self,
        uri: &str,
        content_type: &'static str,
        body: &[u8],
    ) -> Result<String, Failed> {
        let mut url = HttpsUrl::parse(uri).map_err(permanent)?;
        let body = Bytes::copy_from_slice(body);
        let mut redirects = 0u8;
        loop {
            let (resp, unverified) = self.post_once(&url, content_type, body.clone()).await?;
            let note = unverified
                .map(|why| format!(" (delivered without certificate verification: {why})"))
                .unwrap_or_default();
            let status = resp.status;
            if matches!(status, 307 | 308) {
                if redirects >= self.settings.max_redirects {
                    return Err(permanent(format!(
                        "{url}: HTTP {status}: more than {} redirects",
                        self.settings.max_redirects
                    )));
                }
                let Some(location) = resp.location else {
                    return Err(permanent(format!(
                        "{url}: HTTP {status} without a Location header"
                    )));
                };
                url = url.join(&location).map_err(|e| {
                    permanent(format!(
                        "{url}: HTTP {status} to `{}`: {e}",
                        Escaped(&location)
                    ))
                })?;
                redirects += 1;
                continue;
            }
            let answer = if resp.snippet.is_empty() {
                String::new()
            } else {
                format!(": {}", resp.snippet)
            };
            let detail = format!("{url}: HTTP {status}{answer}{note}");
            return match classify_http_status(status) {
                AttemptResult::Delivered => Ok(detail),
                result => Err(Failed {
                    result,
                    detail: if matches!(status, 301..=303) {
                        format!("{detail} (a redirect that would turn the POST into a GET)")
                    } else {
                        detail
                    },
                }),
            };
        }
    }

    /// One POST to `url`: verified, then (DEC-22) once more unverified when
    /// the certificate was the problem. The second value is why the
    /// certificate did not verify, when the unverified retry was used.
    async fn post_once(
        &self,
        url: &HttpsUrl,
        content_type: &'static str,
        body: Bytes,
    ) -> Result<(PostResponse, Option<String>), Failed> {
        let name = ServerName::try_from(url.host.clone())
            .map_err(|e| permanent(format!("{url}: invalid host name: {e}")))?;
        let tcp = self.connect(url).await?;
        match self.verified.connect(name.clone(), tcp).await {
            Ok(tls) => Ok((exchange(tls, url, content_type, body).await?, None)),
            Err(e) => {
                let (certificate, reason) = classify_tls(&e);
                if !certificate || self.settings.invalid_certificates == InvalidCertificates::Refuse
                {
                    return Err(temporary(format!("{url}: {reason}")));
                }
                let tcp = self.connect(url).await?;
                let tls = self.unverified.connect(name, tcp).await.map_err(|e| {
                    temporary(format!(
                        "{url}: {reason}; without verification: {}",
                        classify_tls(&e).1
                    ))
                })?;
                Ok((exchange(tls, url, content_type, body).await?, Some(reason)))
            }
        }
    }

    async fn connect(&self, url: &HttpsUrl) -> Result<TcpStream, Failed> {
        let ips = match url.ip {
            Some(ip) => vec![ip],
            None => self
                .dns
                .ips(&url.host)
                .await
                .map_err(|e| temporary(format!("{url}: {}: {e}", url.host)))?,
        };
        let mut last = String::new();
        for ip in ips {
            let addr = SocketAddr::new(ip, url.port);
            match tokio::time::timeout(self.settings.connect_timeout, TcpStream::connect(addr))
                .await
            {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = format!("connect to {addr}: {e}"),
                Err(_) => last = format!("connect to {addr}: timed out"),
            }
        }
        Err(temporary(format!("{url}: {last}")))
    }
}

/// The HTTP/1.1 POST over an established TLS stream.
async fn exchange<S>(
    io: S,
    url: &HttpsUrl,
    content_type: &'static str,
    body: Bytes,
) -> Result<PostResponse, Failed>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http = |e: hyper::Error| temporary(format!("{url}: HTTP: {}", Chain(&e)));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(http)?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = async {
        let req = hyper::Request::post(url.path.as_str())
            .header(HOST, url.authority.as_str())
            .header(
                USER_AGENT,
                concat!("mta-sts-rs/", env!("CARGO_PKG_VERSION")),
            )
            .header(CONTENT_TYPE, content_type)
            .body(Full::new(body))
            .map_err(|e| permanent(format!("{url}: HTTP request: {e}")))?;
        let resp = sender.send_request(req).await.map_err(http)?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(LOCATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        while buf.len() < MAX_RESPONSE_SNIPPET {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        let room = MAX_RESPONSE_SNIPPET - buf.len();
                        buf.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                // The status is what counts; a broken body after it is not.
                Some(Err(_)) | None => break,
            }
        }
        let text = String::from_utf8_lossy(&buf);
        Ok(PostResponse {
            status,
            location,
            snippet: escape_controls(text.trim()).into_owned(),
        })
    }
    .await;
    driver.abort();
    result
}

// ---------------------------------------------------------------------------
// Mail

/// How the connection to the SMTP relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelaySecurity {
    /// STARTTLS, required (the default): no mail goes out without TLS
    /// and a valid certificate for the relay's host name.
    #[default]
    StartTls,
    /// STARTTLS when the relay offers it, plain text otherwise (a relay on
    /// a trusted network only).
    Opportunistic,
    /// TLS from the first byte (submissions, port 465).
    ImplicitTls,
    /// No TLS (a relay on the same host, e.g. Postfix on 127.0.0.1:25).
    None,
}

/// The SMTP relay reports are mailed through.
#[derive(Clone, PartialEq, Eq)]
pub struct RelaySettings {
    /// The relay's host name or address; also the name its certificate
    /// must be valid for.
    pub host: String,
    /// Its port (25, 587 or 465).
    pub port: u16,
    /// TLS.
    pub security: RelaySecurity,
    /// Trust anchors (PEM) used instead of the system's for the relay's
    /// certificate.
    pub ca_file: Option<PathBuf>,
    /// `AUTH` user name and password (sent only over TLS, unless
    /// `security` is [`RelaySecurity::None`]).
    pub credentials: Option<(String, String)>,
    /// The name sent in `EHLO`.
    pub hello_name: String,
    /// `MAIL FROM` of report mail (where bounces go).
    pub envelope_from: String,
    /// Timeout of the connection and of each command; the whole
    /// submission gets at most ten times this (default 60 s).
    pub timeout: Duration,
}

impl RelaySettings {
    /// A relay at `host:port` with STARTTLS required, the system's trust
    /// anchors, no `AUTH`, `EHLO hello_name`, bounces to `envelope_from`
    /// and a 60 s timeout.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        hello_name: impl Into<String>,
        envelope_from: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            security: RelaySecurity::StartTls,
            ca_file: None,
            credentials: None,
            hello_name: hello_name.into(),
            envelope_from: envelope_from.into(),
            timeout: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for RelaySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelaySettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("ca_file", &self.ca_file)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(user, _)| (user, "<password>")),
            )
            .field("hello_name", &self.hello_name)
            .field("envelope_from", &self.envelope_from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why a [`MailRelay`] or [`ReportPoster`] could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The relay's trust anchor file could not be read or holds no
    /// certificate.
    #[error("SMTP relay {relay}: trust anchors {}", path.display())]
    RelayCaFile {
        /// `host:port`.
        relay: String,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// lettre refused the TLS settings.
    #[error("SMTP relay {relay}: TLS settings")]
    RelayTls {
        /// `host:port`.
        relay: String,
        /// lettre's error.
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The envelope sender is not an e-mail address.
    #[error("SMTP relay: envelope sender `{}` is not an e-mail address", Escaped(.address))]
    EnvelopeFrom {
        /// The address as given.
        address: String,
        /// lettre's error.
        #[source]
        source: lettre::address::AddressError,
    },
    /// The `EHLO` name is not a domain name or address literal.
    #[error("SMTP relay: EHLO name `{}` is not a host name", Escaped(.name))]
    HelloName {
        /// The name as given.
        name: String,
    },
}

/// Mails reports through an SMTP relay (see the module documentation).
#[derive(Clone)]
pub struct MailRelay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    envelope_from: lettre::Address,
    relay: String,
    total_timeout: Duration,
}

impl fmt::Debug for MailRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailRelay")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl MailRelay {
    /// A relay client with `settings` (nothing is connected yet).
    pub fn new(settings: &RelaySettings) -> Result<Self, DeliveryError> {
        let relay = match settings.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]:{}", settings.port),
            _ => format!("{}:{}", settings.host, settings.port),
        };
        let envelope_from =
            lettre::Address::from_str(&settings.envelope_from).map_err(|source| {
                DeliveryError::EnvelopeFrom {
                    address: settings.envelope_from.clone(),
                    source,
                }
            })?;
        let hello = &settings.hello_name;
        let hello_ok = !hello.is_empty()
            && hello.len() <= 255
            && hello.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
            });
        if !hello_ok {
            return Err(DeliveryError::HelloName {
                name: hello.clone(),
            });
        }
        let tls = match settings.security {
            RelaySecurity::None => Tls::None,
            security => {
                let mut params = TlsParameters::builder(settings.host.clone());
                if let Some(path) = &settings.ca_file {
                    let ca_err = |source: BoxError| DeliveryError::RelayCaFile {
                        relay: relay.clone(),
                        path: path.clone(),
                        source,
                    };
                    let pem = std::fs::read(path).map_err(|e| ca_err(e.into()))?;
                    if !pem.windows(17).any(|w| w == b"BEGIN CERTIFICATE") {
                        return Err(ca_err("no CERTIFICATE in the file".into()));
                    }
                    let cert = Certificate::from_pem(&pem).map_err(|e| ca_err(e.into()))?;
                    params = params
                        .certificate_store(CertificateStore::None)
                        .add_root_certificate(cert);
                }
                let params = params
                    .build_rustls()
                    .map_err(|source| DeliveryError::RelayTls {
                        relay: relay.clone(),
                        source,
                    })?;
                match security {
                    RelaySecurity::Opportunistic => Tls::Opportunistic(params),
                    RelaySecurity::ImplicitTls => Tls::Wrapper(params),
                    _ => Tls::Required(params),
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .hello_name(ClientId::Domain(hello.clone()))
            .timeout(Some(settings.timeout));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            envelope_from,
            relay,
            total_timeout: settings.timeout.saturating_mul(10),
        })
    }

    /// `host:port` of the relay.
    pub fn relay(&self) -> &str {
        &self.relay
    }

    /// Submit `message` (the complete report mail, CRLF line ends, as
    /// signed) for the recipient `to`; `at` is the attempt's time.
    pub async fn send(&self, to: &str, message: &[u8], at: Timestamp) -> Attempt {
        let destination = format!("mailto:{to}");
        let (result, detail) = match self.send_inner(to, message).await {
            Ok(detail) => (AttemptResult::Delivered, detail),
            Err(f) => (f.result, f.detail),
        };
        Attempt {
            destination,
            at,
            result,
            detail,
        }
    }

    async fn send_inner(&self, to: &str, message: &[u8]) -> Result<String, Failed> {
        let relay = &self.relay;
        let rcpt = lettre::Address::from_str(to).map_err(|e| {
            permanent(format!(
                "`{}` is not an address the relay can be given: {e}",
                Escaped(to)
            ))
        })?;
        let envelope = lettre::address::Envelope::new(Some(self.envelope_from.clone()), vec![rcpt])
            .map_err(|e| permanent(format!("envelope: {e}")))?;
        // lettre ends the data with CRLF "." CRLF, its own CRLF included:
        // a message that already ends in CRLF would get an empty line more.
        let data = message.strip_suffix(b"\r\n").unwrap_or(message);
        let sent =
            tokio::time::timeout(self.total_timeout, self.transport.send_raw(&envelope, data))
                .await;
        match sent {
            Err(_) => Err(temporary(format!(
                "relay {relay}: timed out after {} s",
                self.total_timeout.as_secs()
            ))),
            Ok(Ok(response)) => {
                let text: Vec<&str> = response.message().collect();
                Ok(format!(
                    "relay {relay}: {} {}",
                    response.code(),
                    escape_controls(&text.join(" "))
                ))
            }
            Ok(Err(e)) => {
                // Client-side refusals (no STARTTLS, no AUTH mechanism in
                // common, no SMTPUTF8) are about the relay, not the
                // destination: temporary, as a relay can be fixed.
                let result = if e.is_permanent() {
                    AttemptResult::Permanent
                } else {
                    AttemptResult::Temporary
                };
                // lettre's Display already includes its first source.
                let mut detail = format!("relay {relay}: {e}");
                let mut next = std::error::Error::source(&e).and_then(std::error::Error::source);
                while let Some(cause) = next {
                    detail.push_str(": ");
                    detail.push_str(&cause.to_string());
                    next = cause.source();
                }
                Err(Failed {
                    result,
                    detail: escape_controls(&detail).into_owned(),
                })
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Both kinds

/// What is delivered: the gzip for `https:`, the message for `mailto:`.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    /// The gzip-compressed report ([`RenderedReport::gzip`]).
    pub gzip: &'a [u8],
    /// The report mail, signed (`None`: there is none, and `mailto:`
    /// destinations fail temporarily, saying so).
    pub mail: Option<&'a [u8]>,
}

/// Delivers to either kind of destination.
#[derive(Debug, Clone)]
pub struct Deliverer {
    poster: ReportPoster,
    relay: Option<MailRelay>,
}

impl Deliverer {
    /// `relay`: `None` when no SMTP relay is configured (then `mailto:`
    /// destinations fail temporarily, saying so).
    pub fn new(poster: ReportPoster, relay: Option<MailRelay>) -> Self {
        Self { poster, relay }
    }

    /// One attempt to deliver `payload` to `destination` at `at`. The
    /// attempt's `destination` is the URI as the record has it.
    pub async fn deliver(
        &self,
        destination: &Destination,
        payload: Payload<'_>,
        at: Timestamp,
    ) -> Attempt {
        let mut attempt = match destination {
            Destination::Https { uri } => self.poster.post(uri, payload.gzip, at).await,
            Destination::Mailto { address, .. } => match (&self.relay, payload.mail) {
                (Some(relay), Some(mail)) => relay.send(address, mail, at).await,
                (None, _) => Attempt {
                    destination: String::new(),
                    at,
                    result: AttemptResult::Temporary,
                    detail: "no SMTP relay is configured for mailto: destinations".into(),
                },
                (Some(_), None) => Attempt {
                    destination: String::new(),
                    at,
                    result: AttemptResult::Temporary,
                    detail: "no report e-mail to send (is DKIM signing configured?)".into(),
                },
            },
        };
        attempt.destination = destination.uri().to_owned();
        attempt
    }
}

// ---------------------------------------------------------------------------
// Retries

/// When to try a destination again (see the module documentation). Pure:
/// the same attempts and seed always give the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait after the first temporary failure (default 5 min).
    pub first_delay: Duration,
    /// Each wait is this many times the one before (default 3).
    pub factor: u32,
    /// No wait is longer than this, before jitter (default 6 h).
    pub max_delay: Duration,
    /// No attempt is made later than this after the first one (default
    /// 24 h, RPT-DELIV-17).
    pub window: Duration,
    /// Each wait is lengthened by a pseudo-random 0 to this many percent
    /// (default 20).
    pub jitter_percent: u32,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_secs(300),
            factor: 3,
            max_delay: Duration::from_secs(6 * 3600),
            window: Duration::from_secs(24 * 3600),
            jitter_percent: 20,
        }
    }
}

/// What to do next for one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// Nothing was tried yet: now.
    Now,
    /// Try again at this time (or later).
    At(Timestamp),
    /// Done: delivered.
    Delivered,
    /// Done: failed permanently.
    Failed,
    /// Done: the last allowed attempt failed temporarily.
    GaveUp,
}

impl NextAttempt {
    /// Whether an attempt is due at `now`.
    pub fn is_due(self, now: Timestamp) -> bool {
        match self {
            Self::Now => true,
            Self::At(t) => t <= now,
            Self::Delivered | Self::Failed | Self::GaveUp => false,
        }
    }

    /// Whether nothing more will be tried.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Failed | Self::GaveUp)
    }
}

/// SplitMix64: a fixed pseudo-random function of the seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seed for [`RetrySchedule::next`] that differs between reports and
/// destinations (FNV-1a of both), so that retries spread out.
///
/// ```
/// use policy_fetch::report_delivery::jitter_seed;
/// assert_eq!(jitter_seed("r1", "https://a.example/"), jitter_seed("r1", "https://a.example/"));
/// assert_ne!(jitter_seed("r1", "https://a.example/"), jitter_seed("r1", "https://b.example/"));
/// ```
pub fn jitter_seed(report_id: &str, destination: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in report_id
        .bytes()
        .chain(std::iter::once(0))
        .chain(destination.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn plus(t: Timestamp, d: Duration) -> Timestamp {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    Timestamp::from_unix(t.secs.saturating_add(secs))
}

impl RetrySchedule {
    /// The wait after the `failures`-th temporary failure (1 for the
    /// first), jitter included.
    ///
    /// ```
    /// use std::time::Duration;
    /// use policy_fetch::report_delivery::RetrySchedule;
    /// let s = RetrySchedule { jitter_percent: 0, ..RetrySchedule::default() };
    /// let waits: Vec<u64> = (1..=6).map(|n| s.delay(n, 0).as_secs() / 60).collect();
    /// assert_eq!(waits, [5, 15, 45, 135, 360, 360]);
    /// ```
    pub fn delay(&self, failures: u32, seed: u64) -> Duration {
        let mut base = self.first_delay.as_secs();
        for _ in 1..failures {
            base = base.saturating_mul(u64::from(self.factor));
            if base >= self.max_delay.as_secs() {
                break;
            }
        }
        let base = base.min(self.max_delay.as_secs());
        let r = mix(seed ^ u64::from(failures)) % 10_000;
        let extra = u128::from(base) * u128::from(self.jitter_percent) * u128::from(r) / 1_000_000;
        Duration::from_secs(base.saturating_add(u64::try_from(extra).unwrap_or(u64::MAX)))
    }

    /// What comes next for a destination whose attempts so far (in the
    /// order they were made) are `attempts`; `seed` from [`jitter_seed`].
    pub fn next<I>(&self, attempts: I, seed: u64) -> NextAttempt
    where
        I: IntoIterator<Item = (Timestamp, AttemptResult)>,
    {
        let mut first: Option<Timestamp> = None;
        let mut last: Option<Timestamp> = None;
        let mut failures = 0u32;
        for (at, result) in attempts {
            first.get_or_insert(at);
            match result {
                AttemptResult::Delivered => return NextAttempt::Delivered,
                AttemptResult::Permanent => return NextAttempt::Failed,
                AttemptResult::Temporary => {
                    failures = failures.saturating_add(1);
                    last = Some(at);
                }
            }
        }
        let (Some(first), Some(last)) = (first, last) else {
            return NextAttempt::Now;
        };
        let deadline = plus(first, self.window);
        if last >= deadline {
            return NextAttempt::GaveUp;
        }
        NextAttempt::At(plus(last, self.delay(failures, seed)).min(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_are_taken_apart() {
        let u = HttpsUrl::parse("HTTPS://Reports.Example:8443/v1/tlsrpt?x=1#frag").unwrap();
        assert_eq!(
            (
                u.host.as_str(),
                u.port,
                u.authority.as_str(),
                u.path.as_str()
            ),
            (
                "reports.example",
                8443,
                "Reports.Example:8443",
                "/v1/tlsrpt?x=1"
            )
        );
        assert_eq!(u.ip, None);
        let u = HttpsUrl::parse("https://[2001:db8::1]/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::1", 443));
        assert_eq!(u.ip, Some("2001:db8::1".parse().unwrap()));
        let u = HttpsUrl::parse("https://192.0.2.1:444").unwrap();
        assert_eq!((u.path.as_str(), u.port), ("/", 444));
        for bad in [
            "http://r.example/",
            "mailto:x@example.com",
            "https:r.example",
            "https://user:pw@r.example/",
            "https://r.example:0/",
            "https://r.example:99999/",
            "https://[zz]/",
            "https://[2001:db8::1/",
            "https:///path",
        ] {
            assert!(HttpsUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_resolve() {
        let u = HttpsUrl::parse("https://r.example:8443/a/b?q").unwrap();
        assert_eq!(
            u.join("/c").unwrap().to_string(),
            "https://r.example:8443/c"
        );
        assert_eq!(
            u.join("d").unwrap().to_string(),
            "https://r.example:8443/a/d"
        );
        assert_eq!(
            u.join("https://other.example/x").unwrap().to_string(),
            "https://other.example/x"
        );
        assert_eq!(
            u.join("//third.example/y").unwrap().to_string(),
            "https://third.example/y"
        );
        assert!(u.join("http://r.example/").is_err());
    }

    #[test]
    fn schedule_grows_and_ends_within_the_window() {
        let s = RetrySchedule::default();
        let t0 = Timestamp::from_unix(1_714_608_300);
        for seed in [0, 1, 42, u64::MAX] {
            let mut attempts = vec![(t0, AttemptResult::Temporary)];
            let mut waits = Vec::new();
            loop {
                match s.next(attempts.iter().copied(), seed) {
                    NextAttempt::At(t) => {
                        let last = attempts.last().unwrap().0;
                        assert!(t > last);
                        waits.push(t.secs - last.secs);
                        attempts.push((t, AttemptResult::Temporary));
                    }
                    NextAttempt::GaveUp => break,
                    other => panic!("{other:?}"),
                }
                assert!(attempts.len() < 50);
            }
            let end = attempts.last().unwrap().0;
            assert_eq!(
                end.secs - t0.secs,
                24 * 3600,
                "the last try is at the deadline"
            );
            // 5, 15, 45, 135 minutes (with jitter), then at most 6 h + 20 %.
            for (w, base) in waits.iter().zip([300, 900, 2700, 8100]) {
                assert!((base..=base * 6 / 5).contains(w), "{waits:?}");
            }
            assert!(waits.windows(2).take(4).all(|p| p[0] < p[1]), "{waits:?}");
            assert!(waits.iter().all(|&w| w <= 6 * 3600 * 6 / 5), "{waits:?}");
        }
    }

    #[test]
    fn schedule_final_states() {
        let s = RetrySchedule::default();
        let t0 = Timestamp::from_unix(1_000_000);
        let t1 = Timestamp::from_unix(1_000_400);
        use AttemptResult::*;
        assert_eq!(
            s.next([(t0, Temporary), (t1, Delivered)], 1),
            NextAttempt::Delivered
        );
        assert_eq!(
            s.next([(t0, Temporary), (t1, Permanent)], 1),
            NextAttempt::Failed
        );
        assert!(NextAttempt::Now.is_due(t0));
        assert!(!NextAttempt::At(t1).is_due(t0));
        assert!(NextAttempt::At(t0).is_due(t1));
        assert!(NextAttempt::GaveUp.is_final() && !NextAttempt::GaveUp.is_due(t1));
        // The same attempts and seed: the same answer; another seed: jitter differs.
        let a = s.next([(t0, Temporary), (t1, Temporary)], 1);
        assert_eq!(a, s.next([(t0, Temporary), (t1, Temporary)], 1));
        let spread: std::collections::BTreeSet<_> = (0..20u64)
            .map(|seed| s.next([(t0, Temporary)], seed))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|n| format!("{n:?}"))
            .collect();
        assert!(spread.len() > 10, "{spread:?}");
    }

    #[test]
    fn http_statuses() {
        use AttemptResult::*;
        for (status, want) in [
            (200, Delivered),
            (201, Delivered),
            (204, Delivered),
            (100, Permanent),
            (301, Permanent),
            (400, Permanent),
            (404, Permanent),
            (408, Temporary),
            (413, Permanent),
            (429, Temporary),
            (500, Temporary),
            (503, Temporary),
        ] {
            assert_eq!(classify_http_status(status), want, "{status}");
        }
    }

    #[test]
    fn attempt_results_round_trip_by_name() {
        for r in [
            AttemptResult::Delivered,
            AttemptResult::Temporary,
            AttemptResult::Permanent,
        ] {
            assert_eq!(AttemptResult::from_name(r.as_str()), Some(r));
        }
        assert_eq!(AttemptResult::from_name("ok"), None);
    }
}
