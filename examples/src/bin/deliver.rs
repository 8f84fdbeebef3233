//! A delivery walked through MTA-STS without any IO: discovery against
//! canned DNS and HTTPS answers, then the per-MX decisions, the way an MTA
//! drives `mta-sts-core`.
//!
//! ```text
//! cargo run -p mta-sts-examples --bin deliver
//! ```

use std::time::SystemTime;

use mta_sts_core::discovery::{CacheAction, Discovery, HttpResponse, Step, TxtAnswer};
use mta_sts_core::enforce::{Action, MxSession, TlsStatus, all_refused, decide};
use mta_sts_core::{ResultType, record::policy_domain};

fn main() {
    let domain = policy_domain("alice@example.com", None).unwrap_or_default();
    let mut d = Discovery::new(&domain, None, SystemTime::now());
    let outcome = loop {
        match d.next_step() {
            Step::LookupTxt { name } => {
                println!("DNS  TXT {name}");
                let answer = TxtAnswer::Records(vec![b"v=STSv1; id=20240101T000000".to_vec()]);
                if d.on_txt(answer).is_err() {
                    return;
                }
            }
            Step::FetchPolicy { url, .. } => {
                println!("HTTPS GET {url}");
                let body = b"version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: mx2.example.com\nmax_age: 604800\n";
                let resp = HttpResponse {
                    status: 200,
                    content_type: Some("text/plain".into()),
                    body: body.to_vec(),
                };
                if d.on_policy(Ok(resp)).is_err() {
                    return;
                }
            }
            Step::Done(o) => break o,
        }
    };
    println!("decision table row: {:?}", outcome.rule);
    if let CacheAction::Store(entry) = &outcome.cache {
        println!(
            "cache: store policy id {:?}",
            entry.policy.as_ref().map(|p| &p.id)
        );
    }
    let policy = outcome.policy();
    let candidates = [
        ("mx0.attacker.example", TlsStatus::Valid),
        (
            "mx1.example.com",
            TlsStatus::Failed {
                result_type: ResultType::CertificateExpired,
                reason: None,
            },
        ),
        ("mx2.example.com", TlsStatus::Valid),
    ];
    for (host, tls) in candidates {
        let decision = decide(policy, &MxSession::new(host, tls));
        for f in &decision.failures {
            println!(
                "TLS-RPT failure: {} on {} ({:?})",
                f.result_type, f.mx_host, f.reason
            );
        }
        match decision.action {
            Action::Deliver { require_tls } => {
                println!("deliver to {host} (TLS required: {require_tls})");
                return;
            }
            Action::TryNextMx | Action::Connect => println!("skip {host}"),
        }
    }
    println!("every MX refused: {:?}", all_refused());
}
