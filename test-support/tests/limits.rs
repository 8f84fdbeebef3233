//! The test servers' size bounds: an SMTP message of [`MAX_MESSAGE`]
//! bytes is taken and one byte more is answered `552` (and not kept);
//! an HTTPS request body of [`MAX_REQUEST_BODY`] bytes is kept whole and
//! a longer one is cut there with `body_truncated` set.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use test_support::read_reply;
use test_support::{
    MAX_MESSAGE, MAX_REQUEST_BODY, Response, Routes, SmtpOptions, SmtpServer, TestCa,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Send `line` (CRLF added) and return the reply's lines.
async fn say(c: &mut BufReader<TcpStream>, line: &str) -> Vec<String> {
    c.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .unwrap();
    read_reply(c).await
}

/// A message of exactly `len` bytes (lines of at most 1,024 bytes with
/// CRLF, none starting with a dot), `len` >= 2.
fn message(len: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(len);
    while m.len() < len {
        let left = len - m.len();
        // The last line takes at least 2 bytes (its CRLF).
        let line = match left {
            ..=1024 => left,
            1025..=1026 => 1000,
            _ => 1024,
        };
        m.extend(std::iter::repeat_n(b'x', line - 2));
        m.extend_from_slice(b"\r\n");
    }
    assert_eq!(m.len(), len);
    m
}

/// One transaction with `data`; the reply to the end of the data.
async fn submit(c: &mut BufReader<TcpStream>, data: &[u8]) -> Vec<String> {
    assert!(say(c, "MAIL FROM:<a@client.test>").await[0].starts_with("250 "));
    assert!(say(c, "RCPT TO:<b@x.test>").await[0].starts_with("250 "));
    assert!(say(c, "DATA").await[0].starts_with("354 "));
    c.get_mut().write_all(data).await.unwrap();
    say(c, ".").await
}

#[tokio::test]
async fn smtp_takes_max_message_and_refuses_one_byte_more() {
    assert_eq!(MAX_MESSAGE, 32 * 1024 * 1024);
    let server = SmtpServer::start(SmtpOptions::plain("relay.test"))
        .await
        .unwrap();
    let mut c = BufReader::new(TcpStream::connect(server.addr()).await.unwrap());
    read_reply(&mut c).await;
    assert!(say(&mut c, "EHLO client.test").await[0].starts_with("250"));

    let at_limit = message(MAX_MESSAGE);
    assert_eq!(
        submit(&mut c, &at_limit).await,
        ["250 2.0.0 OK queued as 1"]
    );
    let over = message(MAX_MESSAGE + 1);
    assert_eq!(submit(&mut c, &over).await, ["552 5.3.4 Message too big"]);
    // The session goes on: a small message after the refused one.
    assert_eq!(
        submit(&mut c, b"Subject: t\r\n\r\nsmall\r\n").await,
        ["250 2.0.0 OK queued as 2"]
    );
    assert!(say(&mut c, "QUIT").await[0].starts_with("221 "));

    let messages = server.messages();
    assert_eq!(messages.len(), 2, "the refused message is not kept");
    assert_eq!(messages[0].data.len(), MAX_MESSAGE);
    assert!(messages[0].data == at_limit);
    assert_eq!(messages[1].data, b"Subject: t\r\n\r\nsmall\r\n");
}

/// POST `len` bytes to `/post` over a fresh TLS connection; the status
/// line.
async fn post(addr: std::net::SocketAddr, ca: &TestCa, len: usize) -> String {
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(ca.root_store())
            .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("r.test").unwrap(), tcp)
        .await
        .unwrap();
    let head = format!(
        "POST /post HTTP/1.1\r\nHost: r.test\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'b'; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        tls.write_all(&chunk[..n]).await.unwrap();
        left -= n;
    }
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await.unwrap();
    String::from_utf8_lossy(&raw[..raw.len().min(12)]).into_owned()
}

#[tokio::test]
async fn https_keeps_max_request_body_and_flags_a_longer_one() {
    assert_eq!(MAX_REQUEST_BODY, 32 * 1024 * 1024);
    let ca = TestCa::new();
    let server = test_support::HttpsServer::start(
        &ca.issue(&["r.test"]),
        Routes::new().route("r.test", "/post", Response::with_status(204, None, "")),
    )
    .await
    .unwrap();
    assert_eq!(
        post(server.addr(), &ca, MAX_REQUEST_BODY).await,
        "HTTP/1.1 204"
    );
    assert_eq!(
        post(server.addr(), &ca, MAX_REQUEST_BODY + 1).await,
        "HTTP/1.1 204"
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    // At the limit: kept whole.
    assert_eq!(reqs[0].body.len(), MAX_REQUEST_BODY);
    assert!(reqs[0].body.iter().all(|&b| b == b'b'));
    assert!(!reqs[0].body_truncated);
    // One byte more: cut at the limit and flagged, not silently.
    assert_eq!(reqs[1].body.len(), MAX_REQUEST_BODY);
    assert!(reqs[1].body_truncated);
    assert_eq!(
        reqs[1].header("content-length"),
        Some(&*(MAX_REQUEST_BODY + 1).to_string())
    );
}
