//! DKIM signing of report mail (feature `dkim`; RFC 8460 3, RPT-DELIV-09
//! and -11), checked by two verifiers that share no code with the signer:
//! dkimpy (Python, run as a subprocess: `test-support/scripts/dkim_verify.py`) and
//! mail-auth's. Both read the key record from the loopback DNS server.
//!
//! dkimpy needs `python3 -m pip install dkimpy dnspython pynacl`. Without
//! them the dkimpy checks print why and return, unless
//! `MTASTS_REQUIRE_DKIMPY=1` (CI sets it), which makes them fail.

#![cfg(feature = "dkim")]

use std::net::SocketAddr;
use std::num::NonZeroU64;
use std::time::Duration;

use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};
use rustls_pki_types::pem::PemObject as _;
use test_support::{DnsServer, Zones};
use tlsrpt_core::dkim::{
    Algorithm, DkimError, KeyService, MAX_KEY_PEM_BYTES, MAX_MESSAGE_BYTES, Signer, SigningKey,
};
use tlsrpt_core::time::Timestamp;

const DOMAIN: &str = "mail.sender.example";
/// 2024-05-02T00:00:00Z.
const T: i64 = 1_714_608_000;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/dkim/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn key(name: &str) -> SigningKey {
    SigningKey::from_pem(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A fresh Ed25519 key (PKCS#8 v2, as rcgen and *ring* write it).
fn ed25519_generated() -> SigningKey {
    let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .unwrap()
        .serialize_pem();
    SigningKey::from_pem(&pem).unwrap()
}

/// A TLS-RPT report mail as RFC 8460 5.3 lays it out (the report part is
/// not a real gzip: only the signature matters here).
fn report_mail() -> Vec<u8> {
    [
        "From: TLS reporting <tlsrpt@mail.sender.example>",
        "To: tls-reports@example.org",
        "Date: Thu, 02 May 2024 00:00:00 +0000",
        "Subject: Report Domain: example.org Submitter: mail.sender.example",
        " Report-ID: <2024-05-01.n1@mail.sender.example>",
        "Message-ID: <n1.1714521600.example.org@mail.sender.example>",
        "MIME-Version: 1.0",
        "TLS-Report-Domain: example.org",
        "TLS-Report-Submitter: mail.sender.example",
        "TLS-Required: No",
        "Auto-Submitted: auto-generated",
        "Content-Type: multipart/report; report-type=\"tlsrpt\";",
        " boundary=\"b1\"",
        "",
        "--b1",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "This is an aggregate TLS report from mail.sender.example",
        "for example.org, 2024-05-01.   ",
        "",
        "--b1",
        "Content-Type: application/tlsrpt+gzip",
        "Content-Transfer-Encoding: base64",
        "Content-Disposition: attachment;",
        " filename=\"mail.sender.example!example.org!1714521600!1714607999!n1.json.gz\"",
        "",
        "H4sIAAAAAAAA/6tWSs7PS8tMT1WyUlBKSSxJVKoFAHu3nKwVAAAA",
        "",
        "--b1--",
        "",
    ]
    .join("\r\n")
    .into_bytes()
}

/// The tags of the topmost `DKIM-Signature`, unfolded, in order.
fn tags(signed: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(signed).unwrap();
    let rest = text.strip_prefix("DKIM-Signature:").unwrap();
    let mut end = 0;
    // The field ends at the first CRLF not followed by WSP.
    while let Some(i) = rest[end..].find("\r\n") {
        end += i + 2;
        if !rest[end..].starts_with([' ', '\t']) {
            end -= 2;
            break;
        }
    }
    let value: String = rest[..end]
        .replace("\r\n", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    value
        .split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (k, v) = t.split_once('=').unwrap();
            (k.trim().to_owned(), v.replace(' ', ""))
        })
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Replaces the first occurrence of `from` in the message.
fn replace(message: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(message).unwrap();
    assert!(text.contains(from), "{from:?} not in the message");
    text.replacen(from, to, 1).into_bytes()
}

// ------------------------------------------------------------ verifiers

fn dkimpy_available() -> bool {
    test_support::dkimpy::available()
}

/// dkimpy's verdict on the topmost signature: `Ok(())` or its log.
async fn dkimpy(dns: SocketAddr, mode: &str, message: &[u8]) -> Result<(), String> {
    test_support::dkimpy::verify(dns, mode, message).await
}

/// mail-auth's verdict on the message's signatures, its resolver asking
/// the loopback DNS server.
async fn mail_auth(dns: SocketAddr, message: &[u8]) -> Vec<DkimResult> {
    let mut udp = ConnectionConfig::udp();
    udp.port = dns.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = dns.port();
    let ns = NameServerConfig::new(dns.ip(), true, vec![udp, tcp]);
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_secs(2);
    opts.attempts = 1;
    let auth = MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![ns]), opts)
        .expect("mail-auth resolver");
    let parsed = AuthenticatedMessage::parse(message).expect("mail-auth parses the message");
    auth.verify_dkim(&parsed)
        .await
        .iter()
        .map(|o| o.result().clone())
        .collect()
}

/// The loopback DNS server publishing each signer's key record: with
/// `s=tlsrpt`, except at selector `all`.
async fn dns_for(signers: &[&Signer]) -> DnsServer {
    let mut zones = Zones::new();
    for s in signers {
        let service = if s.selector() == "all" {
            KeyService::All
        } else {
            KeyService::Tlsrpt
        };
        zones = zones.txt(&s.record_name(), &s.key().txt_record_strings(service));
    }
    DnsServer::start(zones).await.unwrap()
}

fn signer(key: SigningKey, selector: &str) -> Signer {
    Signer::new(key, DOMAIN, selector).unwrap()
}

// ------------------------------------------------------------ tests

#[test]
fn public_keys_match_openssl() {
    // The key record's p= equals what `openssl pkey -pubout` gives.
    let rsa8 = key("rsa2048.pkcs8.pem");
    let rsa1 = key("rsa2048.pkcs1.pem");
    assert_eq!(rsa8.algorithm(), Algorithm::RsaSha256);
    assert_eq!(rsa1.algorithm(), Algorithm::RsaSha256);
    assert_eq!(rsa8.public_key_base64(), data("rsa2048.p.b64").trim());
    assert_eq!(rsa1.public_key_base64(), data("rsa2048.p.b64").trim());
    let ed = key("ed25519.pkcs8v1.pem");
    assert_eq!(ed.algorithm(), Algorithm::Ed25519Sha256);
    assert_eq!(ed.public_key_base64(), data("ed25519.p.b64").trim());

    assert_eq!(
        ed.txt_record(KeyService::Tlsrpt),
        format!(
            "v=DKIM1; k=ed25519; s=tlsrpt; p={}",
            data("ed25519.p.b64").trim()
        )
    );
    assert_eq!(
        rsa8.txt_record(KeyService::All),
        format!("v=DKIM1; k=rsa; p={}", data("rsa2048.p.b64").trim())
    );
    // 2048-bit RSA: two character-strings of at most 255 bytes.
    let strings = rsa8.txt_record_strings(KeyService::Tlsrpt);
    assert_eq!(strings.len(), 2);
    assert_eq!(strings[0].len(), 255);
    assert_eq!(strings.concat(), rsa8.txt_record(KeyService::Tlsrpt));
    // Debug shows the public key, not the private one.
    let debug = format!("{rsa8:?}");
    assert!(debug.contains("RsaSha256") && debug.contains(&data("rsa2048.p.b64")[..40]));
}

#[test]
fn signature_tags() {
    let s = signer(key("rsa2048.pkcs8.pem"), "rsa");
    let message = report_mail();
    let signed = s.sign(&message, Timestamp::from_unix(T)).unwrap();
    assert!(signed.ends_with(&message));
    let field_len = signed.len() - message.len();
    let field = std::str::from_utf8(&signed[..field_len]).unwrap();
    assert!(field.ends_with("\r\n"));
    assert_eq!(
        field,
        s.signature_field(&message, Timestamp::from_unix(T))
            .unwrap()
    );
    for line in field.split("\r\n") {
        assert!(line.len() <= 78, "line over 78 columns: {line:?}");
    }

    let t = tags(&signed);
    let names: Vec<&str> = t.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["v", "a", "c", "d", "s", "t", "h", "bh", "b"]);
    assert_eq!(tag(&t, "v"), Some("1"));
    assert_eq!(tag(&t, "a"), Some("rsa-sha256"));
    assert_eq!(tag(&t, "c"), Some("relaxed/relaxed"));
    assert_eq!(tag(&t, "d"), Some(DOMAIN));
    assert_eq!(tag(&t, "s"), Some("rsa"));
    assert_eq!(tag(&t, "t"), Some("1714608000"));
    // RPT-DELIV-11: never l=; no x= unless asked.
    assert_eq!(tag(&t, "l"), None);
    assert_eq!(tag(&t, "x"), None);
    // RPT-DELIV-09: h= covers both TLS-Report fields (over-signed), and
    // every other signed field the message has.
    let h: Vec<&str> = tag(&t, "h").unwrap().split(':').collect();
    assert_eq!(
        h,
        [
            "from",
            "from",
            "to",
            "to",
            "subject",
            "subject",
            "date",
            "date",
            "message-id",
            "message-id",
            "mime-version",
            "mime-version",
            "content-type",
            "content-type",
            "tls-report-domain",
            "tls-report-domain",
            "tls-report-submitter",
            "tls-report-submitter",
            "tls-required",
            "tls-required",
            "auto-submitted",
            "auto-submitted",
        ]
    );
    assert_eq!(tag(&t, "bh").unwrap().len(), 44);
    // 2048 bits = 256 bytes = 344 base64 characters.
    assert_eq!(tag(&t, "b").unwrap().len(), 344);

    // RSA PKCS#1 v1.5 and Ed25519 are deterministic: the same input gives
    // the same bytes, whichever encoding the key was read from.
    let again = signer(key("rsa2048.pkcs1.pem"), "rsa");
    assert_eq!(
        again.sign(&message, Timestamp::from_unix(T)).unwrap(),
        signed
    );
    let ed = signer(key("ed25519.pkcs8v1.pem"), "ed");
    assert_eq!(
        ed.sign(&message, Timestamp::from_unix(T)).unwrap(),
        ed.sign(&message, Timestamp::from_unix(T)).unwrap()
    );
    let ed_tags = tags(&ed.sign(&message, Timestamp::from_unix(T)).unwrap());
    assert_eq!(tag(&ed_tags, "a"), Some("ed25519-sha256"));
    assert_eq!(tag(&ed_tags, "b").unwrap().len(), 88);

    // x= when asked: t + the expiry.
    let expiring =
        signer(key("ed25519.pkcs8v1.pem"), "ed").expire_after(NonZeroU64::new(86_400).unwrap());
    let x_tags = tags(&expiring.sign(&message, Timestamp::from_unix(T)).unwrap());
    assert_eq!(tag(&x_tags, "x"), Some("1714694400"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkimpy_verifies_rsa_and_ed25519_signatures() {
    if !dkimpy_available() {
        return;
    }
    let signers = [
        signer(key("rsa2048.pkcs8.pem"), "rsa8"),
        signer(key("rsa2048.pkcs1.pem"), "rsa1"),
        signer(key("ed25519.pkcs8v1.pem"), "ed1"),
        signer(ed25519_generated(), "ed2"),
    ];
    let dns = dns_for(&signers.iter().collect::<Vec<_>>()).await;
    let message = report_mail();
    for s in &signers {
        let sel = s.selector();
        let signed = s.sign(&message, Timestamp::from_unix(T)).unwrap();
        // As a TLS-RPT report whose key record must say s=tlsrpt.
        assert_eq!(dkimpy(dns.addr(), "strict", &signed).await, Ok(()), "{sel}");

        // A header-only message (no body) signs too.
        let header_only =
            &message[..message.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2];
        let signed = s.sign(header_only, Timestamp::from_unix(T)).unwrap();
        assert_eq!(dkimpy(dns.addr(), "strict", &signed).await, Ok(()), "{sel}");
    }
    // Signed with an expiry a day after now: valid now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiring =
        signer(key("ed25519.pkcs8v1.pem"), "ed1").expire_after(NonZeroU64::new(86_400).unwrap());
    let signed = expiring
        .sign(&message, Timestamp::from_unix(i64::try_from(now).unwrap()))
        .unwrap();
    assert!(tag(&tags(&signed), "x").is_some());
    assert_eq!(dkimpy(dns.addr(), "strict", &signed).await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkimpy_rejects_tampered_reports() {
    if !dkimpy_available() {
        return;
    }
    let signers = [
        signer(key("rsa2048.pkcs8.pem"), "rsa"),
        signer(ed25519_generated(), "ed"),
    ];
    let dns = dns_for(&signers.iter().collect::<Vec<_>>()).await;
    for s in &signers {
        let sel = s.selector();
        let signed = s.sign(&report_mail(), Timestamp::from_unix(T)).unwrap();
        assert_eq!(dkimpy(dns.addr(), "strict", &signed).await, Ok(()), "{sel}");

        // A changed TLS-Report-Domain or TLS-Report-Submitter: the header
        // hash differs.
        for (from, to) in [
            (
                "TLS-Report-Domain: example.org",
                "TLS-Report-Domain: example.net",
            ),
            (
                "TLS-Report-Submitter: mail.sender.example",
                "TLS-Report-Submitter: evil.example",
            ),
        ] {
            let err = dkimpy(dns.addr(), "strict", &replace(&signed, from, to))
                .await
                .unwrap_err();
            assert!(err.starts_with("fail"), "{sel} {to}: {err}");
        }
        // A second TLS-Report-Domain added below the first: over-signing
        // makes this fail too.
        let added = replace(
            &signed,
            "TLS-Report-Domain: example.org\r\n",
            "TLS-Report-Domain: example.org\r\nTLS-Report-Domain: example.net\r\n",
        );
        assert!(dkimpy(dns.addr(), "strict", &added).await.is_err(), "{sel}");
        // A changed body: the body hash differs.
        let err = dkimpy(
            dns.addr(),
            "strict",
            &replace(
                &signed,
                "for example.org, 2024-05-01.",
                "for example.org, 2024-05-02.",
            ),
        )
        .await
        .unwrap_err();
        assert!(err.contains("body hash mismatch"), "{sel}: {err}");
        // A changed attachment, too.
        let err = dkimpy(
            dns.addr(),
            "strict",
            &replace(&signed, "H4sIAAAAAAAA/6tW", "H4sIAAAAAAAA/6tX"),
        )
        .await
        .unwrap_err();
        assert!(err.contains("body hash mismatch"), "{sel}: {err}");

        // What relaxed/relaxed allows still verifies: refolded and
        // re-spaced headers, trailing blanks, an unsigned field added on
        // the way (a relay's Received).
        let relaxed = replace(
            &signed,
            "TLS-Report-Domain: example.org\r\n",
            "TLS-Report-Domain:\texample.org \r\n",
        );
        let relaxed = replace(
            &relaxed,
            "Subject: Report Domain: example.org Submitter:",
            "Subject: Report Domain:  example.org\r\n\tSubmitter:",
        );
        let relaxed = replace(
            &relaxed,
            "for example.org, 2024-05-01.   ",
            "for example.org,\t2024-05-01.",
        );
        let mut relayed = b"Received: from a by b; Thu, 02 May 2024 00:00:01 +0000\r\n".to_vec();
        relayed.extend_from_slice(&relaxed);
        relayed.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            dkimpy(dns.addr(), "strict", &relayed).await,
            Ok(()),
            "{sel}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkimpy_and_the_key_service_type() {
    if !dkimpy_available() {
        return;
    }
    // `all` is published without s=tlsrpt (see `dns_for`).
    let tlsrpt = signer(key("rsa2048.pkcs8.pem"), "rsa");
    let all = signer(key("rsa2048.pkcs8.pem"), "all");
    let dns = dns_for(&[&tlsrpt, &all]).await;
    let message = report_mail();
    let by_tlsrpt = tlsrpt.sign(&message, Timestamp::from_unix(T)).unwrap();
    let by_all = all.sign(&message, Timestamp::from_unix(T)).unwrap();

    // A receiver that insists on s=tlsrpt (RFC 8460 3 lets it).
    assert_eq!(dkimpy(dns.addr(), "strict", &by_tlsrpt).await, Ok(()));
    let err = dkimpy(dns.addr(), "strict", &by_all).await.unwrap_err();
    assert!(err.contains("Service Type is not tlsrpt"), "{err}");
    // A receiver that does not.
    assert_eq!(dkimpy(dns.addr(), "yes", &by_all).await, Ok(()));
    // An s=tlsrpt key does not vouch for other mail.
    assert!(dkimpy(dns.addr(), "no", &by_tlsrpt).await.is_err());
    assert_eq!(dkimpy(dns.addr(), "no", &by_all).await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_auth_verifies_and_rejects() {
    let signers = [
        signer(key("rsa2048.pkcs1.pem"), "rsa"),
        signer(key("ed25519.pkcs8v1.pem"), "ed1"),
        signer(ed25519_generated(), "ed2"),
    ];
    let dns = dns_for(&signers.iter().collect::<Vec<_>>()).await;
    for s in &signers {
        let sel = s.selector();
        let signed = s.sign(&report_mail(), Timestamp::from_unix(T)).unwrap();
        assert_eq!(
            mail_auth(dns.addr(), &signed).await,
            [DkimResult::Pass],
            "{sel}"
        );

        let changed = replace(
            &signed,
            "TLS-Report-Domain: example.org",
            "TLS-Report-Domain: example.net",
        );
        let results = mail_auth(dns.addr(), &changed).await;
        assert!(
            matches!(results.as_slice(), [DkimResult::Fail(_)]),
            "{sel}: {results:?}"
        );
        let changed = replace(&signed, "H4sIAAAAAAAA/6tW", "H4sIAAAAAAAA/6tX");
        let results = mail_auth(dns.addr(), &changed).await;
        assert!(
            matches!(
                results.as_slice(),
                [DkimResult::Fail(_) | DkimResult::Neutral(_)]
            ),
            "{sel}: {results:?}"
        );
    }
}

#[test]
fn key_errors() {
    let err = SigningKey::from_pem(&data("rsa1024.pkcs8.pem")).unwrap_err();
    assert_eq!(
        err,
        DkimError::KeyRejected {
            format: "PKCS#8",
            reason: "RSA: TooSmall".to_owned()
        }
    );
    assert_eq!(
        err.to_string(),
        "DKIM key: PKCS#8 key rejected: RSA: TooSmall"
    );
    assert_eq!(
        SigningKey::from_pem(&data("ed25519.encrypted.pem")).unwrap_err(),
        DkimError::EncryptedKey
    );
    assert_eq!(
        SigningKey::from_pem(&data("p256.sec1.pem")).unwrap_err(),
        DkimError::UnsupportedKey { kind: "SEC1 EC" }
    );
    assert_eq!(
        SigningKey::from_pem(&data("p256.pkcs8.pem")).unwrap_err(),
        DkimError::KeyRejected {
            format: "PKCS#8",
            reason: "neither an RSA nor an Ed25519 key (WrongAlgorithm)".to_owned()
        }
    );
    // DER, as well as PEM.
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    assert_eq!(
        SigningKey::from_pkcs8_der(&pair.serialize_der())
            .unwrap()
            .public_key_base64(),
        SigningKey::from_pem(&pair.serialize_pem())
            .unwrap()
            .public_key_base64()
    );
    let pkcs1 =
        rustls_pki_types::PrivatePkcs1KeyDer::from_pem_slice(data("rsa2048.pkcs1.pem").as_bytes())
            .unwrap();
    assert_eq!(
        SigningKey::from_pkcs1_der(pkcs1.secret_pkcs1_der())
            .unwrap()
            .public_key_base64(),
        data("rsa2048.p.b64").trim()
    );
    assert!(matches!(
        SigningKey::from_pkcs1_der(b"\x30\x00").unwrap_err(),
        DkimError::KeyRejected {
            format: "PKCS#1 RSA",
            ..
        }
    ));
    assert_eq!(
        SigningKey::from_pem("hello").unwrap_err(),
        DkimError::NoPrivateKey
    );
    assert_eq!(
        SigningKey::from_pem("").unwrap_err(),
        DkimError::NoPrivateKey
    );
    // A PKCS#8 section that holds garbage.
    let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(matches!(
        SigningKey::from_pem(garbage).unwrap_err(),
        DkimError::KeyRejected {
            format: "PKCS#8",
            ..
        }
    ));
    // The same for PKCS#1.
    let garbage = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert!(matches!(
        SigningKey::from_pem(garbage).unwrap_err(),
        DkimError::KeyRejected {
            format: "PKCS#1 RSA",
            ..
        }
    ));
    // An unterminated section.
    let cut = "-----BEGIN PRIVATE KEY-----\nAAAA\n";
    assert!(matches!(
        SigningKey::from_pem(cut).unwrap_err(),
        DkimError::Pem { .. }
    ));
    // A certificate first, then the key: the key is found.
    let both = format!(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n{}",
        data("ed25519.pkcs8v1.pem")
    );
    assert_eq!(
        SigningKey::from_pem(&both).unwrap().public_key_base64(),
        data("ed25519.p.b64").trim()
    );
    // Bounded.
    let big = " ".repeat(MAX_KEY_PEM_BYTES + 1);
    assert_eq!(
        SigningKey::from_pem(&big).unwrap_err(),
        DkimError::KeyTooLarge {
            len: MAX_KEY_PEM_BYTES + 1,
            max: MAX_KEY_PEM_BYTES
        }
    );
}

#[test]
fn signer_names() {
    let s = Signer::new(
        key("ed25519.pkcs8v1.pem"),
        "Mail.Sender.EXAMPLE.",
        "tlsrpt-2024",
    )
    .unwrap();
    assert_eq!(s.domain(), "mail.sender.example");
    assert_eq!(
        s.record_name(),
        "tlsrpt-2024._domainkey.mail.sender.example"
    );
    let s = Signer::new(key("ed25519.pkcs8v1.pem"), "bücher.example", "a.b").unwrap();
    assert_eq!(s.record_name(), "a.b._domainkey.xn--bcher-kva.example");

    for bad in [
        "example",
        "",
        "a..example",
        "-a.example",
        "a b.example",
        "a;b.example",
    ] {
        assert!(
            matches!(
                Signer::new(key("ed25519.pkcs8v1.pem"), bad, "s"),
                Err(DkimError::InvalidDomain { .. })
            ),
            "{bad:?}"
        );
    }
    for bad in ["", "a;b", "a=b", "a..b", "_s", "s-", &"s".repeat(64)] {
        assert!(
            matches!(
                Signer::new(key("ed25519.pkcs8v1.pem"), DOMAIN, bad),
                Err(DkimError::InvalidSelector { .. })
            ),
            "{bad:?}"
        );
    }
    // The record name must fit in 253 characters.
    let long = [
        "s".repeat(63),
        "s".repeat(63),
        "s".repeat(63),
        "s".repeat(40),
    ]
    .join(".");
    let err = Signer::new(key("ed25519.pkcs8v1.pem"), DOMAIN, &long).unwrap_err();
    assert!(err.to_string().contains("over 253 characters"), "{err}");
}

#[test]
fn message_errors() {
    let s = signer(key("ed25519.pkcs8v1.pem"), "ed");
    let t = Timestamp::from_unix(T);
    let message = report_mail();

    for (field, name) in [
        (
            "From: TLS reporting <tlsrpt@mail.sender.example>\r\n",
            "From",
        ),
        ("TLS-Report-Domain: example.org\r\n", "TLS-Report-Domain"),
        (
            "TLS-Report-Submitter: mail.sender.example\r\n",
            "TLS-Report-Submitter",
        ),
    ] {
        let err = s.sign(&replace(&message, field, ""), t).unwrap_err();
        assert!(
            matches!(err, DkimError::MissingHeader { name: n } if n == name),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("no `{name}` header field")),
            "{err}"
        );
    }
    // Field names match in any case.
    let lower = replace(&message, "TLS-Report-Domain:", "tls-report-DOMAIN:");
    assert!(s.sign(&lower, t).is_ok());

    let twice = replace(
        &message,
        "To: tls-reports@example.org\r\n",
        "To: tls-reports@example.org\r\nTO: other@example.org\r\n",
    );
    assert_eq!(
        s.sign(&twice, t).unwrap_err(),
        DkimError::DuplicateHeader {
            name: "To",
            count: 2
        }
    );

    let bare_lf = replace(&message, "MIME-Version: 1.0\r\n", "MIME-Version: 1.0\n");
    let offset = bare_lf.windows(5).position(|w| w == b"1.0\nT").unwrap() + 3;
    assert_eq!(
        s.sign(&bare_lf, t).unwrap_err(),
        DkimError::BareLineEnd {
            line: 7,
            offset,
            what: "LF"
        }
    );
    let bare_cr = replace(&message, "--b1--", "--b1--\r");
    assert!(matches!(
        s.sign(&bare_cr, t).unwrap_err(),
        DkimError::BareLineEnd { what: "CR", .. }
    ));
    assert!(matches!(
        s.sign(b"", t).unwrap_err(),
        DkimError::Truncated { .. }
    ));
    assert!(matches!(
        s.sign(b"\r\nbody\r\n", t).unwrap_err(),
        DkimError::Truncated { .. }
    ));
    assert!(matches!(
        s.sign(b"From: a@b.example", t).unwrap_err(),
        DkimError::Truncated { .. }
    ));
    let mbox = [
        b"From a@b.example Thu May  2 00:00:00 2024\r\n".as_slice(),
        &message,
    ]
    .concat();
    assert_eq!(
        s.sign(&mbox, t).unwrap_err(),
        DkimError::MalformedHeader {
            line: 1,
            reason: "the field name has a space, a control or a non-ASCII character"
        }
    );

    assert_eq!(
        s.sign(&message, Timestamp::from_unix(-1)).unwrap_err(),
        DkimError::TimeBeforeEpoch { secs: -1 }
    );
    let expiring = signer(key("ed25519.pkcs8v1.pem"), "ed").expire_after(NonZeroU64::MAX);
    assert_eq!(
        expiring.sign(&message, t).unwrap_err(),
        DkimError::ExpiryOverflow {
            t: T as u64,
            after: u64::MAX
        }
    );

    let mut huge = message.clone();
    huge.resize(MAX_MESSAGE_BYTES + 1, b'a');
    assert_eq!(
        s.sign(&huge, t).unwrap_err(),
        DkimError::MessageTooLarge {
            len: MAX_MESSAGE_BYTES + 1,
            max: MAX_MESSAGE_BYTES
        }
    );
}
