//! An authoritative DNS server on 127.0.0.1 (UDP and TCP on the same port), built on
//! hickory-server.

use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::NetError;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, MX, SOA, TLSA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AxfrPolicy, Catalog, MessageResponse, MessageResponseBuilder, ZoneType,
};
use tokio::net::{TcpListener, UdpSocket};

/// TTL of every record served.
pub const TTL: u32 = 60;

/// The records a [`DnsServer`] serves, plus names that fail.
///
/// All names live in a single zone with origin `.` (the root), so any name can be used.
/// Names are parsed as ASCII and always treated as absolute (`"example.test"` and
/// `"example.test."` are the same). A name with no records answers NXDOMAIN; a name with
/// records but none of the queried type answers NOERROR with no answers (NODATA); both
/// carry the root SOA in the authority section.
#[derive(Debug, Clone, Default)]
pub struct Zones {
    records: Vec<Record>,
    servfail: Vec<Name>,
    timeout: Vec<Name>,
    timeout_below: Vec<Name>,
    authentic: Vec<Name>,
}

fn parse_name(name: &str) -> Name {
    let mut n = Name::from_ascii(name).unwrap_or_else(|e| panic!("bad DNS name {name:?}: {e}"));
    n.set_fqdn(true);
    n
}

impl Zones {
    /// An empty set of records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one TXT RR at `name` whose character-strings are `strings` (in order).
    ///
    /// Call it again for a second RR at the same name. Several strings in one call
    /// give one RR split across strings (resolvers join them).
    /// Each string must be at most 255 bytes.
    pub fn txt<S: AsRef<[u8]>>(mut self, name: &str, strings: &[S]) -> Self {
        let parts: Vec<&[u8]> = strings.iter().map(AsRef::as_ref).collect();
        assert!(
            parts.iter().all(|p| p.len() <= 255),
            "TXT character-strings are at most 255 bytes"
        );
        self.records.push(Record::from_rdata(
            parse_name(name),
            TTL,
            RData::TXT(TXT::from_bytes(parts)),
        ));
        self
    }

    /// Adds an MX RR: `domain` → (`preference`, `host`).
    pub fn mx(mut self, domain: &str, preference: u16, host: &str) -> Self {
        self.records.push(Record::from_rdata(
            parse_name(domain),
            TTL,
            RData::MX(MX::new(preference, parse_name(host))),
        ));
        self
    }

    /// Adds an A RR.
    pub fn a(mut self, name: &str, addr: Ipv4Addr) -> Self {
        self.records
            .push(Record::from_rdata(parse_name(name), TTL, RData::A(A(addr))));
        self
    }

    /// Adds an AAAA RR.
    pub fn aaaa(mut self, name: &str, addr: Ipv6Addr) -> Self {
        self.records.push(Record::from_rdata(
            parse_name(name),
            TTL,
            RData::AAAA(AAAA(addr)),
        ));
        self
    }

    /// Adds a CNAME RR: `name` is an alias for `target`.
    pub fn cname(mut self, name: &str, target: &str) -> Self {
        self.records.push(Record::from_rdata(
            parse_name(name),
            TTL,
            RData::CNAME(CNAME(parse_name(target))),
        ));
        self
    }

    /// Adds a TLSA RR (RFC 6698) at `name`, e.g. `_25._tcp.mx1.example.test`:
    /// certificate usage, selector, matching type and association data.
    pub fn tlsa(mut self, name: &str, usage: u8, selector: u8, matching: u8, data: &[u8]) -> Self {
        self.records.push(Record::from_rdata(
            parse_name(name),
            TTL,
            RData::TLSA(TLSA::new(
                CertUsage::from(usage),
                Selector::from(selector),
                Matching::from(matching),
                data.to_vec(),
            )),
        ));
        self
    }

    /// Responses to queries for exactly `name` (any type) carry the AD
    /// (authentic data) bit, as a validating resolver sets it for data it
    /// validated with DNSSEC. Nothing is signed: this only sets the bit.
    pub fn authentic(mut self, name: &str) -> Self {
        self.authentic.push(parse_name(name));
        self
    }

    /// Adds an arbitrary hickory record (escape hatch for other types).
    pub fn record(mut self, record: Record) -> Self {
        self.records.push(record);
        self
    }

    /// Every query for exactly `name` (any type) is answered with RCODE SERVFAIL and no
    /// records. Subdomains of `name` are not affected.
    pub fn servfail(mut self, name: &str) -> Self {
        self.servfail.push(parse_name(name));
        self
    }

    /// Every query for exactly `name` (any type) is silently dropped: no response at all,
    /// over UDP or TCP, so the client times out.
    pub fn timeout(mut self, name: &str) -> Self {
        self.timeout.push(parse_name(name));
        self
    }

    /// Every query for `name` or any name below it is silently dropped, like
    /// [`Zones::timeout`] for a whole subtree (a zone whose servers never answer).
    pub fn timeout_below(mut self, name: &str) -> Self {
        self.timeout_below.push(parse_name(name));
        self
    }
}

/// One query received by a [`DnsServer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    /// The queried name, lower-cased, absolute (with the trailing dot).
    pub name: String,
    /// The query type, e.g. `"TXT"`, `"MX"`, `"A"`.
    pub rtype: String,
}

/// Wraps the [`Catalog`]: answers SERVFAIL / drops queries for configured names, records
/// every query, and hands everything else to the catalog.
struct Handler {
    catalog: Catalog,
    servfail: HashSet<LowerName>,
    timeout: HashSet<LowerName>,
    timeout_below: Vec<LowerName>,
    authentic: HashSet<LowerName>,
    log: Arc<Mutex<Vec<DnsQuery>>>,
}

/// Sets the AD bit on every response it sends for the wrapped handler.
#[derive(Clone)]
struct SetAuthentic<R>(R);

#[async_trait::async_trait]
impl<R: ResponseHandler> ResponseHandler for SetAuthentic<R> {
    async fn send_response<'a>(
        &mut self,
        mut response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        response.metadata_mut().authentic_data = true;
        self.0.send_response(response).await
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let first = request.queries.queries().first();
        if let Some(q) = first {
            let mut name = q.name().to_string();
            if !name.ends_with('.') {
                name.push('.');
            }
            self.log.lock().unwrap().push(DnsQuery {
                name,
                rtype: q.query_type().to_string(),
            });
        }
        let name = first.map(|q| q.name().clone());
        if let Some(name) = &name {
            let below = self.timeout_below.iter().any(|z| z.zone_of(name));
            if below || self.timeout.contains(name) {
                // Send nothing; report a SERVFAIL header to the server's logging only.
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                return ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                });
            }
            if self.servfail.contains(name) {
                let response = MessageResponseBuilder::from_message_request(request)
                    .error_msg(&request.metadata, ResponseCode::ServFail);
                return match response_handle.send_response(response).await {
                    Ok(info) => info,
                    Err(_) => {
                        let mut metadata = Metadata::response_from_request(&request.metadata);
                        metadata.response_code = ResponseCode::ServFail;
                        ResponseInfo::from(Header {
                            metadata,
                            counts: HeaderCounts::default(),
                        })
                    }
                };
            }
        }
        if name.is_some_and(|n| self.authentic.contains(&n)) {
            return self
                .catalog
                .handle_request::<SetAuthentic<R>, T>(request, SetAuthentic(response_handle))
                .await;
        }
        self.catalog
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

/// An authoritative DNS server for [`Zones`] on 127.0.0.1, UDP and TCP on the same
/// random port. It runs on the current tokio runtime until dropped.
pub struct DnsServer {
    addr: SocketAddr,
    server: Server<Handler>,
    log: Arc<Mutex<Vec<DnsQuery>>>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

async fn bind_pair() -> io::Result<(UdpSocket, TcpListener)> {
    let mut last_err = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("could not bind UDP+TCP pair")))
}

impl DnsServer {
    /// Starts serving `zones`. Must be called within a tokio runtime.
    pub async fn start(zones: Zones) -> io::Result<Self> {
        let origin = Name::root();
        let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
            origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
        );
        let serial = 1;
        let soa = SOA::new(
            parse_name("ns.test-support.invalid."),
            parse_name("hostmaster.test-support.invalid."),
            serial,
            3600,
            600,
            86400,
            TTL,
        );
        zone.upsert_mut(
            Record::from_rdata(origin.clone(), TTL, RData::SOA(soa)),
            serial,
        );
        for record in zones.records {
            zone.upsert_mut(record, serial);
        }
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);

        let log = Arc::new(Mutex::new(Vec::new()));
        let handler = Handler {
            catalog,
            servfail: zones.servfail.iter().map(LowerName::new).collect(),
            timeout: zones.timeout.iter().map(LowerName::new).collect(),
            timeout_below: zones.timeout_below.iter().map(LowerName::new).collect(),
            authentic: zones.authentic.iter().map(LowerName::new).collect(),
            log: log.clone(),
        };

        let (udp, tcp) = bind_pair().await?;
        let addr = udp.local_addr()?;
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(10), 65535);
        Ok(Self { addr, server, log })
    }

    /// The address (127.0.0.1:port) the server answers on, over both UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every query received so far (first question of each message), in arrival order.
    pub fn queries(&self) -> Vec<DnsQuery> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        // Cancelling stops the accept loops; dropping `server` (its JoinSet) aborts all tasks.
        self.server.shutdown_token().cancel();
    }
}
