//! Talks to each server with plain clients to prove it works.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RData;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use test_support::read_reply;
use test_support::{
    CertSet, DnsServer, Handshake, HttpsServer, POLICY_PATH, Response, Routes, SmtpOptions,
    SmtpServer, TestCa, Zones,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

// ---------------------------------------------------------------- DNS

fn resolver(addr: SocketAddr) -> Resolver<TokioRuntimeProvider> {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
    let cfg = ResolverConfig::from_name_servers(vec![ns]);
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_millis(500);
    opts.attempts = 1;
    Resolver::builder_with_config(cfg, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .unwrap()
}

fn txt_strings(lookup: &hickory_resolver::lookup::Lookup) -> Vec<Vec<Vec<u8>>> {
    lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn dns_answers_records_and_failures() {
    let zones = Zones::new()
        .txt("_mta-sts.example.test", &["v=STSv1; id=20260101T000000;"])
        .txt("_mta-sts.split.test.", &["v=STSv1; ", "id=split1;"])
        .txt("_mta-sts.two.test", &["v=STSv1; id=a;"])
        .txt("_mta-sts.two.test", &[b"v=STSv1; id=b;".as_slice()])
        .mx("example.test", 10, "mx1.example.test")
        .mx("example.test", 20, "mx2.example.test.")
        .a("mta-sts.example.test", Ipv4Addr::LOCALHOST)
        .aaaa("mta-sts.example.test", Ipv6Addr::LOCALHOST)
        .cname("_mta-sts.alias.test", "_mta-sts.example.test")
        .servfail("_mta-sts.broken.test")
        .timeout("_mta-sts.slow.test");
    let server = DnsServer::start(zones).await.unwrap();
    assert!(server.addr().ip().is_loopback());
    let r = resolver(server.addr());

    let txt = r.txt_lookup("_mta-sts.example.test.").await.unwrap();
    assert_eq!(
        txt_strings(&txt),
        vec![vec![b"v=STSv1; id=20260101T000000;".to_vec()]]
    );

    let split = r.txt_lookup("_mta-sts.split.test.").await.unwrap();
    assert_eq!(
        txt_strings(&split),
        vec![vec![b"v=STSv1; ".to_vec(), b"id=split1;".to_vec()]]
    );
    assert_eq!(txt_strings(&split)[0].concat(), b"v=STSv1; id=split1;");

    let two = r.txt_lookup("_mta-sts.two.test.").await.unwrap();
    assert_eq!(txt_strings(&two).len(), 2);

    let mx = r.mx_lookup("example.test.").await.unwrap();
    let mut mxs: Vec<(u16, String)> = mx
        .answers()
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::MX(mx) => Some((mx.preference, mx.exchange.to_string())),
            _ => None,
        })
        .collect();
    mxs.sort();
    assert_eq!(
        mxs,
        vec![
            (10, "mx1.example.test.".to_owned()),
            (20, "mx2.example.test.".to_owned())
        ]
    );

    let ips = r.lookup_ip("mta-sts.example.test.").await.unwrap();
    let ips: Vec<IpAddr> = ips.iter().collect();
    assert!(ips.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{ips:?}");
    assert!(ips.contains(&IpAddr::V6(Ipv6Addr::LOCALHOST)), "{ips:?}");

    // CNAME followed to the TXT.
    let via = r.txt_lookup("_mta-sts.alias.test.").await.unwrap();
    assert!(
        via.answers()
            .iter()
            .any(|rec| matches!(rec.data, RData::CNAME(_)))
    );
    assert_eq!(
        txt_strings(&via),
        vec![vec![b"v=STSv1; id=20260101T000000;".to_vec()]]
    );

    // NXDOMAIN: no such name.
    let nx = r.txt_lookup("_mta-sts.missing.test.").await.unwrap_err();
    assert!(nx.is_nx_domain(), "{nx:?}");
    assert!(matches!(
        &nx,
        NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code: ResponseCode::NXDomain,
            ..
        }))
    ));

    // NODATA: the name exists (it has A/AAAA) but no TXT.
    let nodata = r.txt_lookup("mta-sts.example.test.").await.unwrap_err();
    assert!(!nodata.is_nx_domain(), "{nodata:?}");
    assert!(matches!(
        &nodata,
        NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code: ResponseCode::NoError,
            ..
        }))
    ));

    // SERVFAIL is a plain response-code error, not NoRecordsFound.
    let sf = r.txt_lookup("_mta-sts.broken.test.").await.unwrap_err();
    assert!(!sf.is_nx_domain() && !sf.is_no_records_found(), "{sf:?}");
    assert!(
        matches!(
            &sf,
            NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail))
        ),
        "{sf:?}"
    );

    // No answer at all: the resolver times out.
    let started = Instant::now();
    let slow = r.txt_lookup("_mta-sts.slow.test.").await.unwrap_err();
    assert!(matches!(slow, NetError::Timeout), "{slow:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    let queries = server.queries();
    assert!(
        queries
            .iter()
            .any(|q| q.name == "_mta-sts.example.test." && q.rtype == "TXT"),
        "{queries:?}"
    );
}

#[tokio::test]
async fn dns_tlsa_records_and_the_ad_bit() {
    let zones = Zones::new()
        .tlsa("_25._tcp.mx1.example.test", 3, 1, 1, &[0xab; 32])
        .tlsa("_25._tcp.mx1.example.test", 2, 0, 2, &[0x01, 0x02])
        .tlsa("_25._tcp.mx2.example.test", 3, 1, 1, &[0xcd; 32])
        .authentic("_25._tcp.mx2.example.test");
    let server = DnsServer::start(zones).await.unwrap();
    let r = resolver(server.addr());

    let plain = r.tlsa_lookup("_25._tcp.mx1.example.test.").await.unwrap();
    let mut got: Vec<(u8, u8, u8, Vec<u8>)> = plain
        .answers()
        .iter()
        .filter_map(|rr| match &rr.data {
            RData::TLSA(t) => Some((
                t.cert_usage.into(),
                t.selector.into(),
                t.matching.into(),
                t.cert_data.clone(),
            )),
            _ => None,
        })
        .collect();
    got.sort();
    assert_eq!(got, [(2, 0, 2, vec![1, 2]), (3, 1, 1, vec![0xab; 32])]);
    assert!(!plain.message().metadata.authentic_data);

    let vouched = r.tlsa_lookup("_25._tcp.mx2.example.test.").await.unwrap();
    assert_eq!(vouched.answers().len(), 1);
    assert!(vouched.message().metadata.authentic_data);

    let none = r
        .tlsa_lookup("_25._tcp.mx3.example.test.")
        .await
        .unwrap_err();
    assert!(none.is_nx_domain(), "{none:?}");
}

// ---------------------------------------------------------------- TLS clients

fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    ca: &TestCa,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = TlsConnector::from(client_config(ca.root_store()));
    connector
        .connect(ServerName::try_from(sni.to_owned()).unwrap(), tcp)
        .await
}

/// GET over a fresh TLS connection; returns (head, body-bytes-as-sent).
async fn get(
    addr: SocketAddr,
    sni: &str,
    path: &str,
    ca: &TestCa,
) -> std::io::Result<(String, Vec<u8>)> {
    let mut tls = tls_connect(addr, sni, ca).await?;
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: {sni}\r\nUser-Agent: t\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    Ok((head, raw[split + 4..].to_vec()))
}

fn is_cert_error(e: &std::io::Error, want: &str) -> bool {
    let s = format!("{e:?}");
    s.contains(want)
}

// ---------------------------------------------------------------- HTTPS

#[tokio::test]
async fn https_serves_routes_and_records_requests() {
    let ca = TestCa::new();
    let leaf = ca.issue(&["mta-sts.example.test"]);
    let routes = Routes::new()
        .policy("example.test", "version: STSv1\r\nmode: enforce\r\n")
        .route(
            "mta-sts.example.test",
            "/redirect",
            Response::Redirect {
                status: 301,
                location: "https://elsewhere.test/".into(),
            },
        )
        .route(
            "*",
            "/big",
            Response::Chunked {
                body: vec![b'x'; 100_000],
            },
        )
        .route("*", "/close", Response::Close)
        .route(
            "*",
            "/trickle",
            Response::Trickle {
                chunk: b"ab".to_vec(),
                interval: Duration::from_millis(100),
                count: 3,
            },
        );
    let server = HttpsServer::start(&leaf, routes).await.unwrap();
    assert!(server.addr().ip().is_loopback());

    let (head, body) = get(server.addr(), "mta-sts.example.test", POLICY_PATH, &ca)
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain")
    );
    assert_eq!(body, b"version: STSv1\r\nmode: enforce\r\n");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].sni.as_deref(), Some("mta-sts.example.test"));
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, POLICY_PATH);
    assert_eq!(reqs[0].host.as_deref(), Some("mta-sts.example.test"));
    assert_eq!(reqs[0].header("user-agent"), Some("t"));
    assert!(reqs[0].header("if-none-match").is_none());
    assert_eq!(
        server.handshakes(),
        vec![Handshake {
            sni: Some("mta-sts.example.test".into()),
            completed: true
        }]
    );

    let (head, _) = get(server.addr(), "mta-sts.example.test", "/redirect", &ca)
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 301"), "{head}");
    assert!(head.contains("location: https://elsewhere.test/"), "{head}");

    let (head, _) = get(server.addr(), "mta-sts.example.test", "/nope", &ca)
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    let (head, body) = get(server.addr(), "mta-sts.example.test", "/big", &ca)
        .await
        .unwrap();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert!(body.len() > 100_000);

    let started = Instant::now();
    let (head, body) = get(server.addr(), "mta-sts.example.test", "/trickle", &ca)
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(body, b"2\r\nab\r\n2\r\nab\r\n2\r\nab\r\n0\r\n\r\n");

    // Close: no response bytes at all (EOF without close_notify is an error in rustls).
    let mut tls = tls_connect(server.addr(), "mta-sts.example.test", &ca)
        .await
        .unwrap();
    tls.write_all(b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let res = tls.read_to_end(&mut raw).await;
    assert!(raw.is_empty(), "{raw:?}");
    assert!(res.is_err() || res.unwrap() == 0);
    assert!(server.requests().iter().any(|r| r.path == "/close"));
}

#[tokio::test]
async fn https_picks_certificate_by_sni() {
    let ca = TestCa::new();
    let good = ca.issue(&["mta-sts.good.test"]);
    let wrong = ca.issue(&["other.test"]);
    let untrusted = TestCa::self_signed(&["mta-sts.untrusted.test"]);
    let cn_only = ca.issue_cn_only("mta-sts.cn.test");
    let expired = ca.issue_with(
        &["mta-sts.expired.test"],
        time::OffsetDateTime::now_utc() - time::Duration::days(30),
        time::OffsetDateTime::now_utc() - time::Duration::days(1),
    );
    let default = ca.issue(&["mta-sts.default.test"]);
    let routes = Routes::new().route("*", POLICY_PATH, Response::policy("ok"));
    let server = HttpsServer::start_multi(
        vec![
            ("mta-sts.good.test".into(), good),
            ("mta-sts.wrong.test".into(), wrong),
            ("mta-sts.untrusted.test".into(), untrusted),
            ("mta-sts.cn.test".into(), cn_only),
            ("mta-sts.expired.test".into(), expired),
        ],
        default,
        routes,
    )
    .await
    .unwrap();

    let (head, body) = get(server.addr(), "mta-sts.good.test", POLICY_PATH, &ca)
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"));
    assert_eq!(body, b"ok");
    // Unknown SNI gets the default certificate, valid for its own name.
    get(server.addr(), "mta-sts.default.test", POLICY_PATH, &ca)
        .await
        .unwrap();

    let e = get(server.addr(), "mta-sts.wrong.test", POLICY_PATH, &ca)
        .await
        .unwrap_err();
    assert!(is_cert_error(&e, "NotValidForName"), "{e:?}");
    let e = get(server.addr(), "mta-sts.untrusted.test", POLICY_PATH, &ca)
        .await
        .unwrap_err();
    assert!(is_cert_error(&e, "UnknownIssuer"), "{e:?}");
    let e = get(server.addr(), "mta-sts.cn.test", POLICY_PATH, &ca)
        .await
        .unwrap_err();
    assert!(is_cert_error(&e, "NotValidForName"), "{e:?}");
    let e = get(server.addr(), "mta-sts.expired.test", POLICY_PATH, &ca)
        .await
        .unwrap_err();
    assert!(is_cert_error(&e, "Expired"), "{e:?}");

    // Failed handshakes are visible too (the server sees the client's alert).
    let hs = server.handshakes();
    assert!(hs.contains(&Handshake {
        sni: Some("mta-sts.wrong.test".into()),
        completed: false
    }));
    assert_eq!(server.requests().len(), 2);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.sni.as_deref() != Some("mta-sts.wrong.test"))
    );
}

#[test]
fn leaf_material_is_consistent() {
    let ca = TestCa::new();
    let leaf = ca.issue(&["a.test", "b.test"]);
    assert_eq!(leaf.chain.len(), 2);
    assert_eq!(leaf.chain[0], leaf.cert_der);
    assert_eq!(leaf.chain[1], ca.ca_cert_der());
    assert!(leaf.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(leaf.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(ca.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(TestCa::self_signed(&["x.test"]).chain.len(), 1);
}

// ---------------------------------------------------------------- SMTP

#[tokio::test]
async fn smtp_starttls_dialogue_sts_cert_08_sni_not_required() {
    let ca = TestCa::new();
    let certs = CertSet::new(ca.issue(&["mx1.example.test"]))
        .with_sni("mx2.example.test", ca.issue(&["mx2.example.test"]));
    let server = SmtpServer::start(SmtpOptions::starttls("mx1.example.test", certs))
        .await
        .unwrap();
    assert!(server.addr().ip().is_loopback());

    for (sni, name) in [
        (Some("mx2.example.test"), "mx2.example.test"),
        // No SNI: the default certificate (valid for mx1) is presented.
        (None, "mx1.example.test"),
    ] {
        let tcp = TcpStream::connect(server.addr()).await.unwrap();
        let mut conn = BufReader::new(tcp);
        assert!(read_reply(&mut conn).await[0].starts_with("220 mx1.example.test"));
        conn.write_all(b"EHLO client.test\r\n").await.unwrap();
        let ehlo = read_reply(&mut conn).await;
        assert_eq!(ehlo[0], "250-mx1.example.test");
        assert!(ehlo.iter().any(|l| &l[4..] == "STARTTLS"), "{ehlo:?}");
        conn.write_all(b"STARTTLS\r\n").await.unwrap();
        assert!(read_reply(&mut conn).await[0].starts_with("220 "));

        let mut cfg = (*client_config(ca.root_store())).clone();
        cfg.enable_sni = sni.is_some();
        let tls = TlsConnector::from(Arc::new(cfg))
            .connect(
                ServerName::try_from(name.to_owned()).unwrap(),
                conn.into_inner(),
            )
            .await
            .unwrap();
        let mut tls = BufReader::new(tls);
        tls.write_all(b"EHLO client.test\r\n").await.unwrap();
        let ehlo = read_reply(&mut tls).await;
        assert!(!ehlo.iter().any(|l| l.ends_with("STARTTLS")), "{ehlo:?}");
        tls.write_all(b"QUIT\r\n").await.unwrap();
        assert!(read_reply(&mut tls).await[0].starts_with("221 "));
    }

    // A client that does not trust the certificate: SNI recorded, TLS not completed.
    let mut conn = BufReader::new(TcpStream::connect(server.addr()).await.unwrap());
    read_reply(&mut conn).await;
    conn.write_all(b"EHLO c\r\nSTARTTLS\r\n").await.unwrap();
    read_reply(&mut conn).await;
    assert!(read_reply(&mut conn).await[0].starts_with("220 "));
    let other_ca = TestCa::new();
    let err = TlsConnector::from(client_config(other_ca.root_store()))
        .connect(
            ServerName::try_from("mx1.example.test").unwrap(),
            conn.into_inner(),
        )
        .await
        .unwrap_err();
    assert!(is_cert_error(&err, "UnknownIssuer"), "{err:?}");
    let failed = server.sessions().pop().unwrap();
    assert_eq!(failed.sni.as_deref(), Some("mx1.example.test"));
    assert!(!failed.tls);
    assert_eq!(failed.commands, ["EHLO c", "STARTTLS"]);

    let sessions = &server.sessions()[..2];
    assert_eq!(sessions[0].sni.as_deref(), Some("mx2.example.test"));
    assert_eq!(sessions[1].sni, None);
    for s in sessions {
        assert!(s.tls);
        assert_eq!(
            s.commands,
            ["EHLO client.test", "STARTTLS", "EHLO client.test", "QUIT"]
        );
    }
}

#[tokio::test]
async fn smtp_without_or_with_broken_starttls() {
    let plain = SmtpServer::start(SmtpOptions::plain("mx.plain.test"))
        .await
        .unwrap();
    let mut broken = SmtpOptions::plain("mx.broken.test");
    broken.advertise_starttls = true;
    let broken = SmtpServer::start(broken).await.unwrap();

    for (server, advertised) in [(&plain, false), (&broken, true)] {
        let mut conn = BufReader::new(TcpStream::connect(server.addr()).await.unwrap());
        read_reply(&mut conn).await;
        conn.write_all(b"EHLO c\r\n").await.unwrap();
        let ehlo = read_reply(&mut conn).await;
        assert_eq!(
            ehlo.iter().any(|l| l.ends_with("STARTTLS")),
            advertised,
            "{ehlo:?}"
        );
        conn.write_all(b"STARTTLS\r\n").await.unwrap();
        assert!(read_reply(&mut conn).await[0].starts_with("454 "));
        conn.write_all(b"QUIT\r\n").await.unwrap();
        assert!(read_reply(&mut conn).await[0].starts_with("221 "));
        let s = &server.sessions()[0];
        assert!(!s.tls);
        assert_eq!(s.sni, None);
    }
}

#[tokio::test]
async fn many_concurrent_smtp_connections() {
    let ca = TestCa::new();
    let server = SmtpServer::start(SmtpOptions::starttls(
        "mx.example.test",
        ca.issue(&["mx.example.test"]),
    ))
    .await
    .unwrap();
    // Hold many connections open at once; each must get its banner.
    let mut conns = Vec::new();
    for _ in 0..32 {
        let mut c = BufReader::new(TcpStream::connect(server.addr()).await.unwrap());
        assert!(read_reply(&mut c).await[0].starts_with("220 "));
        conns.push(c);
    }
    for c in &mut conns {
        c.write_all(b"QUIT\r\n").await.unwrap();
        assert!(read_reply(c).await[0].starts_with("221 "));
    }
    assert_eq!(server.sessions().len(), 32);
    assert_eq!(server.max_concurrent(), 32);
}

#[tokio::test]
async fn smtp_greeting_delay() {
    let server = SmtpServer::start(
        SmtpOptions::plain("mx.slow.test").with_greeting_delay(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut c = BufReader::new(TcpStream::connect(server.addr()).await.unwrap());
    assert!(read_reply(&mut c).await[0].starts_with("220 "));
    assert!(started.elapsed() >= Duration::from_millis(300));
    c.write_all(b"QUIT\r\n").await.unwrap();
    assert!(read_reply(&mut c).await[0].starts_with("221 "));
    assert_eq!(server.max_concurrent(), 1);
}

/// Send `line` (CRLF added) and return the reply's lines.
async fn say<S>(c: &mut BufReader<S>, line: &str) -> Vec<String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    c.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .unwrap();
    read_reply(c).await
}

#[tokio::test]
async fn smtp_receives_mail_unstuffs_dots_and_checks_auth() {
    let server = SmtpServer::start(
        SmtpOptions::plain("relay.test")
            .with_rcpt_reply("full@x.test", "452 4.2.2 Mailbox full")
            .with_auth("user", "pw"),
    )
    .await
    .unwrap();
    let mut c = BufReader::new(TcpStream::connect(server.addr()).await.unwrap());
    read_reply(&mut c).await;
    let ehlo = say(&mut c, "EHLO client.test").await;
    assert!(ehlo.iter().any(|l| &l[4..] == "AUTH PLAIN"), "{ehlo:?}");
    assert!(say(&mut c, "MAIL FROM:<a@client.test>").await[0].starts_with("530 "));
    // "\0user\0wrong" and "\0user\0pw" in base64.
    assert!(say(&mut c, "AUTH PLAIN AHVzZXIAd3Jvbmc=").await[0].starts_with("535 "));
    assert!(say(&mut c, "AUTH PLAIN").await[0].starts_with("334"));
    assert!(say(&mut c, "AHVzZXIAcHc=").await[0].starts_with("235 "));
    assert!(say(&mut c, "RCPT TO:<b@x.test>").await[0].starts_with("503 "));
    assert!(say(&mut c, "DATA").await[0].starts_with("503 "));
    assert!(say(&mut c, "MAIL FROM:<a@client.test> SIZE=100").await[0].starts_with("250 "));
    assert!(say(&mut c, "RCPT TO:<full@x.test>").await[0].starts_with("452 4.2.2"));
    assert!(say(&mut c, "RCPT TO:<b@x.test>").await[0].starts_with("250 "));
    assert!(say(&mut c, "rcpt to:<c@x.test>").await[0].starts_with("250 "));
    assert!(say(&mut c, "DATA").await[0].starts_with("354 "));
    let reply = say(&mut c, "Subject: t\r\n\r\n..leading dot\r\nend\r\n.").await;
    assert_eq!(reply, ["250 2.0.0 OK queued as 1"]);
    assert!(say(&mut c, "QUIT").await[0].starts_with("221 "));

    let m = &server.messages()[0];
    assert_eq!(m.mail_from, "a@client.test");
    assert_eq!(m.rcpt_to, ["b@x.test", "c@x.test"]);
    assert_eq!(m.data, b"Subject: t\r\n\r\n.leading dot\r\nend\r\n");
    assert_eq!(m.auth_user.as_deref(), Some("user"));
    assert!(!m.tls);
    assert_eq!(m.session, 0);
    // The credentials line is recorded like a command; the data is not.
    assert!(
        server.sessions()[0]
            .commands
            .contains(&"AHVzZXIAcHc=".to_owned())
    );
    assert!(
        !server.sessions()[0]
            .commands
            .iter()
            .any(|c| c.contains("leading dot"))
    );
}

#[tokio::test]
async fn smtp_mail_after_starttls_is_marked_tls() {
    let ca = TestCa::new();
    let server = SmtpServer::start(
        SmtpOptions::starttls("relay.test", ca.issue(&["relay.test"])).with_auth("u", "p"),
    )
    .await
    .unwrap();
    let mut c = BufReader::new(TcpStream::connect(server.addr()).await.unwrap());
    read_reply(&mut c).await;
    // AUTH is offered only after STARTTLS.
    let ehlo = say(&mut c, "EHLO c").await;
    assert!(!ehlo.iter().any(|l| l.contains("AUTH")), "{ehlo:?}");
    assert!(say(&mut c, "STARTTLS").await[0].starts_with("220 "));
    let tls = TlsConnector::from(client_config(ca.root_store()))
        .connect(ServerName::try_from("relay.test").unwrap(), c.into_inner())
        .await
        .unwrap();
    let mut t = BufReader::new(tls);
    let ehlo = say(&mut t, "EHLO c").await;
    assert!(ehlo.iter().any(|l| &l[4..] == "AUTH PLAIN"), "{ehlo:?}");
    assert!(say(&mut t, "AUTH PLAIN AHUAcA==").await[0].starts_with("235 "));
    say(&mut t, "MAIL FROM:<>").await;
    say(&mut t, "RCPT TO:<r@x.test>").await;
    assert!(say(&mut t, "DATA").await[0].starts_with("354 "));
    assert!(say(&mut t, "x\r\n.").await[0].starts_with("250 "));
    let m = &server.messages()[0];
    assert!(m.tls);
    assert_eq!(m.mail_from, "");
    assert_eq!(m.data, b"x\r\n");
}

#[tokio::test]
async fn https_records_post_bodies_and_plays_sequences() {
    let ca = TestCa::new();
    let server = HttpsServer::start(
        &ca.issue(&["r.test"]),
        Routes::new().route(
            "r.test",
            "/post",
            Response::Sequence(vec![
                Response::with_status(500, None, "later"),
                Response::with_status(201, None, "ok"),
            ]),
        ),
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for body in [&b"first"[..], b"second", b"third"] {
        let mut tls = tls_connect(server.addr(), "r.test", &ca).await.unwrap();
        let head = format!(
            "POST /post HTTP/1.1\r\nHost: r.test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(body).await.unwrap();
        let mut raw = Vec::new();
        tls.read_to_end(&mut raw).await.unwrap();
        statuses.push(String::from_utf8_lossy(&raw[..12]).into_owned());
    }
    assert_eq!(statuses, ["HTTP/1.1 500", "HTTP/1.1 201", "HTTP/1.1 201"]);
    let reqs = server.requests();
    let bodies: Vec<&[u8]> = reqs.iter().map(|r| r.body.as_slice()).collect();
    assert_eq!(bodies, [&b"first"[..], b"second", b"third"]);
    assert!(reqs.iter().all(|r| r.method == "POST" && !r.body_truncated));
}
