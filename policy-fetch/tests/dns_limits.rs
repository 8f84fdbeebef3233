//! The bounds on DNS answers (docs/limits.md), against a real loopback
//! DNS server: TXT records per answer, MX records kept, addresses kept.

use std::net::{IpAddr, Ipv4Addr};

use mta_sts_core::discovery::TxtAnswer;
use policy_fetch::Dns;
use policy_fetch::dns::{MAX_MX_RECORDS, MAX_TXT_RECORDS};
use test_support::{DnsServer, Zones};

#[tokio::test]
async fn txt_mx_and_address_answers_are_bounded() {
    let mut z = Zones::new();
    for i in 0..=MAX_TXT_RECORDS {
        z = z.txt("_mta-sts.many.test", &[format!("v=STSv1; id={i};")]);
    }
    for i in 0..MAX_TXT_RECORDS {
        z = z.txt("_mta-sts.full.test", &[format!("v=STSv1; id={i};")]);
    }
    for i in 0..(MAX_MX_RECORDS + 6) {
        z = z.mx(
            "mx.test",
            u16::try_from(i).unwrap(),
            &format!("mx{i:02}.mx.test"),
        );
    }
    for i in 0..40u8 {
        z = z.a("hosts.test", Ipv4Addr::new(127, 0, 1, i));
    }
    let server = DnsServer::start(z).await.unwrap();
    let dns = Dns::with_server(server.addr()).unwrap();

    // One record more than the limit: a temporary failure, not a choice
    // among the first ones.
    match dns.txt("_mta-sts.many.test").await {
        TxtAnswer::TempFail(why) => assert_eq!(
            why,
            "TXT answer for _mta-sts.many.test is larger than 64 records or 65536 bytes"
        ),
        other => panic!("{other:?}"),
    }
    // Exactly the limit is read.
    match dns.txt("_mta-sts.full.test").await {
        TxtAnswer::Records(rrs) => assert_eq!(rrs.len(), MAX_TXT_RECORDS),
        other => panic!("{other:?}"),
    }
    // MX: the first 64 of the answer, sorted by preference.
    let mx = dns.mx("mx.test").await.unwrap();
    assert_eq!(mx.len(), MAX_MX_RECORDS);
    assert!(mx.windows(2).all(|w| w[0] <= w[1]));
    // Addresses: the first 32.
    let ips = dns.ips("hosts.test").await.unwrap();
    assert_eq!(ips.len(), 32);
    assert!(
        ips.iter()
            .all(|ip| matches!(ip, IpAddr::V4(a) if a.octets()[..3] == [127, 0, 1]))
    );
}

/// A DNS server that never answers: the lookup gives up as a temporary
/// failure after the resolver's timeout (5 s per attempt, 2 attempts).
#[tokio::test]
async fn a_silent_dns_server_is_a_temporary_failure_in_bounded_time() {
    let server = DnsServer::start(Zones::new().timeout_below("silent.test"))
        .await
        .unwrap();
    let dns = Dns::with_server(server.addr()).unwrap();
    let t = std::time::Instant::now();
    let answer = dns.txt("_mta-sts.silent.test").await;
    let took = t.elapsed();
    assert!(matches!(answer, TxtAnswer::TempFail(_)), "{answer:?}");
    assert!(
        took >= std::time::Duration::from_secs(4) && took < std::time::Duration::from_secs(25),
        "{took:?}"
    );
}
