//! DNS lookups through hickory-resolver: the `_mta-sts` TXT record, MX
//! records, host addresses and TLSA records (for the DANE line of
//! `mtasts check`), with NXDOMAIN / no data kept apart from temporary
//! failures, and answers bounded in size.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RData;
use mta_sts_core::discovery::TxtAnswer;

use crate::error::FetchError;

/// At most this many TXT RRs are considered in one answer.
pub const MAX_TXT_RECORDS: usize = 64;
/// At most this many bytes of TXT data (all RRs joined) are considered.
pub const MAX_TXT_BYTES: usize = 64 * 1024;
/// At most this many MX records are considered.
pub const MAX_MX_RECORDS: usize = 64;
/// At most this many TLSA records are accepted in one answer; a larger
/// answer is a [`DnsFailure::Temporary`] (nothing is silently dropped).
pub const MAX_TLSA_RECORDS: usize = 64;

/// Why a lookup gave no data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsFailure {
    /// NXDOMAIN, or the name exists without data of that type.
    #[error("no {0} records")]
    NoRecords(&'static str),
    /// SERVFAIL, timeout, refused, network error.
    #[error("temporary DNS failure: {0}")]
    Temporary(String),
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Mx {
    /// Preference (lower first).
    pub preference: u16,
    /// Exchange host name, without the trailing dot.
    pub host: String,
}

/// One TLSA record (RFC 6698 section 2.1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tlsa {
    /// Certificate usage (0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE).
    pub usage: u8,
    /// Selector (0 full certificate, 1 SubjectPublicKeyInfo).
    pub selector: u8,
    /// Matching type (0 exact, 1 SHA-256, 2 SHA-512).
    pub matching: u8,
    /// The certificate association data.
    pub data: Vec<u8>,
}

impl std::fmt::Display for Tlsa {
    /// The presentation form: `3 1 1 0123abcd...` (data in lower-case hex).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {} ", self.usage, self.selector, self.matching)?;
        for b in &self.data {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The TLSA records at a name, and whether the resolver said it validated
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsaAnswer {
    /// The TLSA records (none: NXDOMAIN or no TLSA data).
    pub records: Vec<Tlsa>,
    /// The AD (authentic data) bit of the response: the resolver says it
    /// validated the answer with DNSSEC. This crate does not validate; a
    /// clear bit means nothing more than "not vouched for" (the resolver
    /// may not validate at all). Always `false` for an answer without
    /// records (the negative response's header is not kept).
    pub authentic_data: bool,
}

/// A DNS resolver for MTA-STS lookups.
#[derive(Clone)]
pub struct Dns {
    resolver: TokioResolver,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns").finish_non_exhaustive()
    }
}

fn options() -> ResolverOpts {
    let mut o = ResolverOpts::default();
    o.timeout = Duration::from_secs(5);
    o.attempts = 2;
    o.ndots = 0;
    o
}

fn classify(e: &NetError, what: &'static str) -> DnsFailure {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr))
            if matches!(
                nr.response_code,
                ResponseCode::NXDomain | ResponseCode::NoError
            ) =>
        {
            DnsFailure::NoRecords(what)
        }
        other => DnsFailure::Temporary(other.to_string()),
    }
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

impl Dns {
    /// The system's resolvers (`/etc/resolv.conf`).
    pub fn system() -> Result<Self, FetchError> {
        let mut b = TokioResolver::builder_tokio().map_err(|e| FetchError::DnsConfig(e.into()))?;
        let opts = b.options_mut();
        opts.timeout = Duration::from_secs(5);
        opts.attempts = 2;
        opts.ndots = 0;
        let resolver = b.build().map_err(|e| FetchError::Resolver(e.into()))?;
        Ok(Self { resolver })
    }

    /// Use a resolver the caller already has (an MTA sharing its own
    /// resolver and its cache). Lookups honour its options; note that
    /// `ndots` should be 0 so that policy domains are never searched under
    /// local suffixes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use policy_fetch::Dns;
    /// use policy_fetch::hickory_resolver::{TokioResolver, config::ResolverConfig};
    /// use policy_fetch::hickory_resolver::net::runtime::TokioRuntimeProvider;
    ///
    /// let resolver = TokioResolver::builder_with_config(
    ///     ResolverConfig::from_name_servers(Vec::new()),
    ///     TokioRuntimeProvider::default(),
    /// )
    /// .build()?;
    /// let dns = Dns::from_resolver(resolver.clone());
    /// assert!(std::ptr::eq(dns.resolver(), dns.resolver()));
    /// # Ok(()) }
    /// ```
    pub fn from_resolver(resolver: TokioResolver) -> Self {
        Self { resolver }
    }

    /// The hickory resolver behind this `Dns`.
    pub fn resolver(&self) -> &TokioResolver {
        &self.resolver
    }

    /// Use only the DNS server at `addr` (UDP, with TCP for truncated answers).
    pub fn with_server(addr: SocketAddr) -> Result<Self, FetchError> {
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = addr.port();
        let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
        let cfg = ResolverConfig::from_name_servers(vec![ns]);
        let resolver = TokioResolver::builder_with_config(cfg, TokioRuntimeProvider::default())
            .with_options(options())
            .build()
            .map_err(|e| FetchError::Resolver(e.into()))?;
        Ok(Self { resolver })
    }

    /// The TXT RRs at `name` (CNAMEs followed), each RR's character-strings
    /// joined (STS-TXT-11, STS-TXT-12).
    pub async fn txt(&self, name: &str) -> TxtAnswer {
        match self.resolver.txt_lookup(fqdn(name)).await {
            Ok(lookup) => {
                let mut rrs = Vec::new();
                let mut bytes = 0;
                for r in lookup.answers() {
                    if let RData::TXT(txt) = &r.data {
                        let joined = mta_sts_core::txt::join_character_strings(&txt.txt_data);
                        bytes += joined.len();
                        if rrs.len() == MAX_TXT_RECORDS || bytes > MAX_TXT_BYTES {
                            return TxtAnswer::TempFail(format!(
                                "TXT answer for {name} is larger than {MAX_TXT_RECORDS} records or {MAX_TXT_BYTES} bytes"
                            ));
                        }
                        rrs.push(joined);
                    }
                }
                if rrs.is_empty() {
                    TxtAnswer::NoRecord
                } else {
                    TxtAnswer::Records(rrs)
                }
            }
            Err(e) => match classify(&e, "TXT") {
                DnsFailure::NoRecords(_) => TxtAnswer::NoRecord,
                DnsFailure::Temporary(r) => TxtAnswer::TempFail(r),
            },
        }
    }

    /// The MX records of `domain`, sorted by preference then name. An empty
    /// list when the domain has none (the caller then uses the implicit MX,
    /// RFC 5321 5.1).
    pub async fn mx(&self, domain: &str) -> Result<Vec<Mx>, DnsFailure> {
        match self.resolver.mx_lookup(fqdn(domain)).await {
            Ok(lookup) => {
                let mut out: Vec<Mx> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => {
                            let host = mx.exchange.to_ascii();
                            Some(Mx {
                                preference: mx.preference,
                                host: host.strip_suffix('.').unwrap_or(&host).to_ascii_lowercase(),
                            })
                        }
                        _ => None,
                    })
                    .take(MAX_MX_RECORDS)
                    .collect();
                out.sort();
                Ok(out)
            }
            Err(e) => match classify(&e, "MX") {
                DnsFailure::NoRecords(_) => Ok(Vec::new()),
                t => Err(t),
            },
        }
    }

    /// The TLSA records at `name` (e.g. `_25._tcp.mx1.example.com`, RFC
    /// 7672 section 2.2), CNAMEs followed, with the response's AD bit.
    /// NXDOMAIN and no data give no records; more than
    /// [`MAX_TLSA_RECORDS`] records are a temporary failure.
    pub async fn tlsa(&self, name: &str) -> Result<TlsaAnswer, DnsFailure> {
        match self.resolver.tlsa_lookup(fqdn(name)).await {
            Ok(lookup) => {
                let mut records = Vec::new();
                for r in lookup.answers() {
                    if let RData::TLSA(t) = &r.data {
                        if records.len() == MAX_TLSA_RECORDS {
                            return Err(DnsFailure::Temporary(format!(
                                "TLSA answer for {name} has more than {MAX_TLSA_RECORDS} records"
                            )));
                        }
                        records.push(Tlsa {
                            usage: t.cert_usage.into(),
                            selector: t.selector.into(),
                            matching: t.matching.into(),
                            data: t.cert_data.clone(),
                        });
                    }
                }
                let authentic_data =
                    !records.is_empty() && lookup.message().metadata.authentic_data;
                Ok(TlsaAnswer {
                    records,
                    authentic_data,
                })
            }
            Err(e) => match classify(&e, "TLSA") {
                DnsFailure::NoRecords(_) => Ok(TlsaAnswer::default()),
                t => Err(t),
            },
        }
    }

    /// The IPv4 and IPv6 addresses of `host`.
    pub async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, DnsFailure> {
        match self.resolver.lookup_ip(fqdn(host)).await {
            Ok(l) => {
                let v: Vec<IpAddr> = l.iter().take(32).collect();
                if v.is_empty() {
                    Err(DnsFailure::NoRecords("A/AAAA"))
                } else {
                    Ok(v)
                }
            }
            Err(e) => Err(classify(&e, "A/AAAA")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tlsa;

    #[test]
    fn tlsa_presentation_form() {
        let t = Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: vec![0x00, 0xab, 0x0f],
        };
        assert_eq!(t.to_string(), "3 1 1 00ab0f");
    }
}
