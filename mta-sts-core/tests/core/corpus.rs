//! Every MTA-STS policy body and TXT record of the RFC examples (in
//! `testdata/rfc/`) and of the postfix-mta-sts-resolver fixtures (see
//! `tests/data/README.md`), with the expected verdict for each.

use std::path::Path;

use mta_sts_core::discovery::{Discovery, HttpResponse, Options};
use mta_sts_core::error::SelectError;
use mta_sts_core::{Mode, Policy, PolicyError, ResultType, StsRecord};

/// A file of `tests/data`, or for `rfc/...` the RFC example's one copy in
/// the repository (`testdata/rfc/`, and `examples/data/mta-sts.txt` for the
/// section 3.2 policy; see `testdata/README.md`).
fn data(rel: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = match rel {
        "rfc/rfc8461-section-3.2-policy.txt" => root.join("../examples/data/mta-sts.txt"),
        _ if rel.starts_with("rfc/") => root.join("../testdata").join(rel),
        _ => root.join("tests/data").join(rel),
    };
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn text(rel: &str) -> String {
    String::from_utf8(data(rel)).unwrap()
}

#[test]
fn sts_pol_15_rfc8461_examples() {
    let a = text("rfc/rfc8461-appendix-a-policy.txt");
    let a_crlf = text("rfc/rfc8461-appendix-a-policy.crlf.txt");
    assert!(a_crlf.contains("\r\n"));
    for body in [&a, &a_crlf] {
        let p = Policy::parse(body).unwrap();
        assert_eq!(p.mode(), Mode::Testing);
        assert_eq!(p.max_age(), 1_296_000);
        let mx: Vec<&str> = p.mx().iter().map(|m| m.as_str()).collect();
        assert_eq!(
            mx,
            [
                "mx1.example.com",
                "mx2.example.com",
                "mx.backup-example.com"
            ]
        );
    }
    let s_text = text("rfc/rfc8461-section-3.2-policy.txt");
    let s = Policy::parse(&s_text).unwrap();
    assert_eq!(s.mode(), Mode::Enforce);
    assert_eq!(s.max_age(), 604_800);
    let mx: Vec<&str> = s.mx().iter().map(|m| m.as_str()).collect();
    assert_eq!(
        mx,
        ["mail.example.com", "*.example.net", "backupmx.example.com"]
    );
    let r = text("rfc/rfc8461-appendix-a-txt-record.txt");
    assert_eq!(StsRecord::parse(&r).unwrap().id(), "20160831085700Z");
}

/// Expected verdict per postfix-mta-sts-resolver domain:
/// `Ok((mode, max_age, mx))` for a usable policy, `Err(result type)` otherwise.
fn expected(domain: &str) -> Result<(Mode, u32, &'static [&'static str]), ResultType> {
    use ResultType::*;
    Ok(match domain {
        "good.loc" | "bad-cert1.loc" | "bad-cert2.loc" => (Mode::Enforce, 86400, &["mail.loc"]),
        "valid-none.loc" => (Mode::None, 86400, &[]),
        "testing.loc" => (Mode::Testing, 86400, &["mail.loc"]),
        "fast-expire.loc" => (Mode::Enforce, 1, &["mail.loc"]),
        // garbage, missing mx, text/html, non-numeric max_age, missing mode, mode "doubt", > 64 KiB
        "bad-policy1.loc"
        | "bad-policy2.loc"
        | "bad-policy3.loc"
        | "bad-policy5.loc"
        | "bad-policy7.loc"
        | "bad-policy8.loc"
        | "chunked-overlength.loc"
        | "static-overlength.loc" => return Err(StsPolicyInvalid),
        // HTTP 404
        "bad-policy4.loc" => return Err(StsPolicyFetchError),
        // max_age 31557601: invalid for the strict reader (the resolver's own verdict)
        "bad-policy6.loc" => return Err(StsPolicyInvalid),
        other => panic!("no expectation for {other}"),
    })
}

#[test]
fn postfix_mta_sts_resolver_policies() {
    let index = text("resolver/policies.tsv");
    let mut seen = 0;
    for line in index.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let (domain, status, ct, file) = (f[0], f[1].parse().unwrap(), f[2], f[3]);
        let resp = HttpResponse {
            status,
            content_type: Some(ct.to_owned()),
            body: data(file),
        };
        let got = Discovery::check_response(&resp, Options { strict: true });
        match (expected(domain), got) {
            (Ok((mode, max_age, mx)), Ok((p, warnings, _))) => {
                assert_eq!((p.mode(), p.max_age()), (mode, max_age), "{domain}");
                let got_mx: Vec<&str> = p.mx().iter().map(|m| m.as_str()).collect();
                assert_eq!(got_mx, mx, "{domain}");
                assert!(warnings.is_empty());
            }
            (Err(rt), Err(failure)) => {
                assert_eq!(failure.result_type, rt, "{domain}: {}", failure.reason)
            }
            (want, got) => panic!("{domain}: expected {want:?}, got {got:?}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 16);
}

#[test]
fn postfix_mta_sts_resolver_lenient_differences() {
    // DEC-05: the lenient reader caps max_age 31557601 with a warning.
    let b6 = text("resolver/bad-policy6.loc.policy.txt");
    let l = Policy::parse_lenient(&b6).unwrap();
    assert_eq!(l.value.max_age(), 31_557_600);
    assert_eq!(l.warnings.len(), 1);
    // The over-long bodies are refused before parsing (DEC-28).
    let big = data("resolver/static-overlength.loc.policy.txt");
    assert_eq!(big.len(), 131_193);
    assert!(matches!(
        Policy::body_text(&big),
        Err(PolicyError::TooLarge { size: 131_193, .. })
    ));
    // The first lines of the body alone would be a fine policy.
    let head: String = text("resolver/chunked-overlength.loc.policy.txt")
        .lines()
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(Policy::parse(&head).unwrap().max_age(), 86400);
    // Exact error messages for two of them.
    assert_eq!(
        Policy::parse(&text("resolver/bad-policy8.loc.policy.txt"))
            .unwrap_err()
            .to_string(),
        "line 2: unknown mode `doubt` (expected `enforce`, `testing` or `none`)"
    );
    assert_eq!(
        Policy::parse(&text("resolver/bad-policy1.loc.policy.txt"))
            .unwrap_err()
            .to_string(),
        "line 1: expected `key: value`"
    );
}

#[test]
fn postfix_mta_sts_resolver_txt_records() {
    let index = text("resolver/txt-records.tsv");
    let mut seen = 0;
    for line in index.lines().filter(|l| !l.starts_with('#')) {
        let (name, record) = line.split_once('\t').unwrap();
        let answer = [record.as_bytes().to_vec()];
        let got = StsRecord::select(&answer);
        match name {
            // `id=...; v=STSv1;` (v not first), garbage, `v=STSv12;`: not a candidate.
            "_mta-sts.bad-record1.loc"
            | "_mta-sts.bad-record2.loc"
            | "_mta-sts.bad-record3.loc" => {
                assert_eq!(got, Err(SelectError::NoRecord), "{name}");
            }
            _ => assert_eq!(got.unwrap().id(), "20180907T090909", "{name}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 19);
}
