//! End-to-end tests of the `mtasts` binary: exit status, stdout (JSON and
//! text) and the one-line `error: ...` on stderr.

mod common;

use std::process::{Command, Stdio};

use common::{Run, TempDir, data, run, run_with_stdin};
use serde_json::json;

/// A policy without lint findings.
const CLEAN: &str = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 1209600\n";

// ---------------------------------------------------------------- policy parse

#[test]
fn parse_rfc_examples() {
    for (file, mode, mx, max_age) in [
        (
            "rfc8461-appendix-a-policy.txt",
            "testing",
            json!([
                "mx1.example.com",
                "mx2.example.com",
                "mx.backup-example.com"
            ]),
            1_296_000,
        ),
        (
            "rfc8461-appendix-a-policy.crlf.txt",
            "testing",
            json!([
                "mx1.example.com",
                "mx2.example.com",
                "mx.backup-example.com"
            ]),
            1_296_000,
        ),
        (
            "rfc8461-section-3.2-policy.txt",
            "enforce",
            json!(["mail.example.com", "*.example.net", "backupmx.example.com"]),
            604_800,
        ),
    ] {
        for strict in [false, true] {
            let mut args = vec!["policy", "parse", "--json"];
            if strict {
                args.push("--strict");
            }
            let path = data(file);
            args.push(&path);
            let r = run(&args).ok();
            assert_eq!(r.stderr, "", "{file}");
            assert_eq!(
                r.json(),
                json!({
                    "version": "STSv1",
                    "mode": mode,
                    "max_age": max_age,
                    "mx": mx,
                    "extensions": [],
                    "warnings": [],
                }),
                "{file}"
            );
        }
    }
}

#[test]
fn parse_human_output() {
    let r = run(&["policy", "parse", &data("rfc8461-section-3.2-policy.txt")]).ok();
    assert_eq!(
        r.stdout,
        "version:   STSv1\nmode:      enforce\nmax_age:   604800\nmx:        mail.example.com\n\
         mx:        *.example.net\nmx:        backupmx.example.com\n"
    );
    let r = run_with_stdin(
        &["policy", "parse", "-"],
        b"version: STSv1\nmode: none\nmax_age: 86400\nfoo: bar\n",
    )
    .ok();
    assert!(r.stdout.contains("mx:        (none)\n"), "{r:#?}");
    assert!(r.stdout.contains("extension: foo: bar\n"), "{r:#?}");
}

#[test]
fn parse_stdin_and_extensions() {
    let body = b"version: STSv1\nmode: none\nmax_age: 86400\nzz: 1\naa: two words\n";
    let r = run_with_stdin(&["policy", "parse", "--json", "-"], body).ok();
    assert_eq!(
        r.json(),
        json!({
            "version": "STSv1", "mode": "none", "max_age": 86400, "mx": [],
            "extensions": [{"name": "zz", "value": "1"}, {"name": "aa", "value": "two words"}],
            "warnings": [],
        })
    );
    // `--json` is global: also accepted before the subcommand.
    let r = run_with_stdin(&["--json", "policy", "parse", "-"], body).ok();
    assert_eq!(r.json()["mode"], "none");
}

#[test]
fn parse_strict_vs_lenient_max_age() {
    let dir = TempDir::new();
    let f = dir.write(
        "p.txt",
        "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 31557601\n",
    );
    let r = run(&["policy", "parse", "--json", &f]).ok();
    let v = r.json();
    assert_eq!(v["max_age"], 31_557_600);
    let warning = "line 4: max_age 31557601 is larger than 31557600; capped to 31557600";
    assert_eq!(v["warnings"], json!([warning]));
    assert_eq!(r.stderr, format!("warning: {f}: {warning}\n"));

    let r = run(&["policy", "parse", "--strict", "--json", &f]);
    let e = r.fails_alone();
    assert_eq!(
        e,
        format!("error: {f}: line 4: max_age 31557601 is larger than the maximum 31557600")
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn parse_lenient_warnings_and_strict_duplicates() {
    let body = "\u{feff}version: STSv1\n\n  mode: enforce\nmx: a.example\nmax_age: 1\nmode: none\n";
    let r = run_with_stdin(&["policy", "parse", "--json", "-"], body.as_bytes()).ok();
    assert_eq!(
        r.json()["warnings"],
        json!([
            "byte 0: UTF-8 byte order mark ignored",
            "line 2: blank line ignored",
            "line 3: whitespace before the key ignored",
            "line 6: repeated `mode` ignored (the first one counts)",
        ])
    );
    assert_eq!(r.json()["mode"], "enforce");
    assert_eq!(r.stderr.lines().count(), 4);
    assert!(
        r.stderr
            .lines()
            .all(|l| l.starts_with("warning: <stdin>: "))
    );

    let r = run_with_stdin(
        &["policy", "parse", "--strict", "--json", "-"],
        b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nmode: none\n",
    )
    .ok();
    assert_eq!(
        r.json()["warnings"],
        json!(["line 5: repeated `mode` ignored (the first one counts)"])
    );
    let r = run_with_stdin(&["policy", "parse", "--strict", "-"], body.as_bytes());
    assert!(r.fails_alone().starts_with("error: <stdin>: "));
}

#[test]
fn parse_errors() {
    let dir = TempDir::new();
    let missing = dir.path("missing.txt");
    let r = run(&["policy", "parse", &missing]);
    assert!(r.fails_alone().starts_with(&format!("error: {missing}: ")));

    let f = dir.write("bad.txt", "version: STSv1\nmode: strict\nmax_age: 1\n");
    let r = run(&["policy", "parse", "--json", &f]);
    assert_eq!(
        r.fails_alone(),
        format!(
            "error: {f}: line 2: unknown mode `strict` (expected `enforce`, `testing` or `none`)"
        )
    );
    assert_eq!(r.stdout, "");

    let r = run_with_stdin(&["policy", "parse", "-"], b"version: STSv1\nmode: \xff\n");
    assert_eq!(
        r.fails_alone(),
        "error: <stdin>: byte 21: policy body is not valid UTF-8"
    );
    let r = run_with_stdin(&["policy", "parse", "-"], b"");
    assert_eq!(r.fails_alone(), "error: <stdin>: policy body is empty");
    let r = run(&["policy", "parse", &dir.0.to_string_lossy()]);
    r.fails_alone();
}

#[test]
fn parse_oversize() {
    let dir = TempDir::new();
    let mut body = CLEAN.to_owned();
    body.push_str(&"x".repeat(70_000 - body.len()));
    let f = dir.write("big.txt", &body);
    let r = run(&["policy", "parse", &f]);
    assert_eq!(
        r.fails_alone(),
        format!("error: {f}: policy body is 70000 bytes, larger than the 65536-byte limit")
    );
    let r = run_with_stdin(&["policy", "parse", "-"], body.as_bytes());
    assert_eq!(
        r.fails_alone(),
        "error: <stdin>: policy body is larger than the 65536-byte limit"
    );
    // Exactly at the limit: the size check passes (the content then fails).
    let f = dir.write("edge.txt", "x".repeat(65_536));
    let e = run(&["policy", "parse", &f]).fails_alone();
    assert_eq!(e, format!("error: {f}: line 1: expected `key: value`"));
}

// ---------------------------------------------------------------- policy lint

#[test]
fn lint_wildcard_tld_fails() {
    let dir = TempDir::new();
    let f = dir.write(
        "p.txt",
        "version: STSv1\nmode: enforce\nmx: *.com\nmax_age: 1209600\n",
    );
    let r = run(&["policy", "lint", "--json", &f]);
    assert_eq!(r.fails_alone(), format!("error: {f}: 1 error finding"));
    let v = r.json();
    assert_eq!(v["errors"], 1);
    assert_eq!(v["warnings"], 0);
    assert_eq!(v["findings"][0]["severity"], "error");
    assert_eq!(v["findings"][0]["code"], "wildcard-public-suffix");
    assert!(
        v["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("*.com")
    );

    let r = run(&["policy", "lint", &f]);
    r.fails_alone();
    assert!(
        r.stdout
            .starts_with("error [wildcard-public-suffix]: mx `*.com`"),
        "{r:#?}"
    );
}

#[test]
fn lint_clean_policy_passes() {
    let r = run_with_stdin(&["policy", "lint", "-"], CLEAN.as_bytes()).ok();
    assert_eq!(r.stdout, "no findings\n");
    assert_eq!(r.stderr, "");
    let r = run_with_stdin(&["policy", "lint", "--json", "-"], CLEAN.as_bytes()).ok();
    assert_eq!(
        r.json(),
        json!({"findings": [], "errors": 0, "warnings": 0})
    );
}

#[test]
fn lint_includes_lenient_parse_warnings() {
    let body =
        "version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 99999999\n\nmode: none\n";
    let r = run_with_stdin(&["policy", "lint", "--json", "-"], body.as_bytes()).ok();
    assert_eq!(r.stderr, "");
    let v = r.json();
    let findings = v["findings"].as_array().unwrap();
    let codes: Vec<&str> = findings
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "lenient-parse",
            "lenient-parse",
            "testing-mode",
            "duplicate-field"
        ]
    );
    assert_eq!(
        findings[0],
        json!({
            "severity": "warning",
            "code": "lenient-parse",
            "message": "line 4: max_age 99999999 is larger than 31557600; capped to 31557600",
            "remediation": "rewrite the line as RFC 8461 section 3.2 says (`mtasts policy parse --strict FILE` shows where)",
        })
    );
    assert_eq!(v["errors"], 0);
    assert_eq!(v["warnings"], 4);
    // A parse error is reported as such.
    let r = run_with_stdin(&["policy", "lint", "-"], b"version: STSv2\n");
    assert_eq!(
        r.fails_alone(),
        "error: <stdin>: line 1: unsupported version `STSv2` (expected `STSv1`)"
    );
}

/// Issue 15 item 8: an `mx` pattern with a 64-octet label is refused by
/// `--strict`, ignored with a warning by the lenient reader, and an error
/// finding of `policy lint`.
#[test]
fn policy_mx_label_over_63_octets() {
    let long = format!("{}.example.net", "a".repeat(64));
    let body = format!(
        "version: STSv1\nmode: enforce\nmx: {long}\nmx: mail.example.com\nmax_age: 604800\n"
    );
    let r = run_with_stdin(&["policy", "parse", "--strict", "-"], body.as_bytes());
    assert_eq!(
        r.fails_alone(),
        format!(
            "error: <stdin>: line 3: byte 0: label of 64 characters in MX pattern `{long}` (at most 63)"
        )
    );
    let warning = format!(
        "line 3: byte 0: label of 64 characters in MX pattern `{long}` (at most 63); \
         pattern ignored (no host name can match it)"
    );
    let r = run_with_stdin(&["policy", "parse", "--json", "-"], body.as_bytes()).ok();
    assert_eq!(r.stderr, format!("warning: <stdin>: {warning}\n"));
    assert_eq!(r.json()["mx"], json!(["mail.example.com"]));
    assert_eq!(r.json()["warnings"], json!([warning]));
    let r = run_with_stdin(&["policy", "lint", "--json", "-"], body.as_bytes());
    r.fails_alone();
    let v = r.json();
    assert_eq!(v["errors"], 1);
    assert_eq!(
        v["findings"][0],
        json!({
            "severity": "error",
            "code": "mx-never-matches",
            "message": warning,
            "remediation": v["findings"][0]["remediation"],
        })
    );
}

// ---------------------------------------------------------------- policy match

#[test]
fn match_order_and_null_pattern() {
    let f = data("rfc8461-section-3.2-policy.txt");
    let r = run(&[
        "policy",
        "match",
        "--json",
        &f,
        "MX1.Example.NET.",
        "evil.example.org",
        "mail.example.com",
        "a.b.example.net",
    ]);
    assert_eq!(r.fails_alone(), "error: 2 of 4 hosts match no mx pattern");
    assert_eq!(
        r.json(),
        json!([
            {"host": "MX1.Example.NET.", "matched": true, "pattern": "*.example.net"},
            {"host": "evil.example.org", "matched": false, "pattern": null},
            {"host": "mail.example.com", "matched": true, "pattern": "mail.example.com"},
            {"host": "a.b.example.net", "matched": false, "pattern": null},
        ])
    );
}

#[test]
fn match_all_hosts() {
    let f = data("rfc8461-section-3.2-policy.txt");
    let r = run(&[
        "policy",
        "match",
        &f,
        "mx1.example.net",
        "backupmx.example.com",
    ])
    .ok();
    assert_eq!(
        r.stdout,
        "mx1.example.net       matched by *.example.net\n\
         backupmx.example.com  matched by backupmx.example.com\n"
    );
    let r = run(&["policy", "match", &f, "x.example.org"]);
    r.fails_alone();
    assert_eq!(r.stdout, "x.example.org  not matched\n");
    // From stdin.
    let r = run_with_stdin(
        &["policy", "match", "-", "mail.example.com"],
        CLEAN.as_bytes(),
    )
    .ok();
    assert_eq!(r.stdout, "mail.example.com  matched by mail.example.com\n");
}

#[test]
fn match_needs_a_host() {
    run(&["policy", "match", &data("rfc8461-section-3.2-policy.txt")]).usage_error();
}

// ---------------------------------------------------------------- policy generate

#[test]
fn generate_json_default_id() {
    let r = run(&[
        "policy",
        "generate",
        "--json",
        "--mode",
        "enforce",
        "--mx",
        "mail.example.com",
        "--mx",
        "*.bücher.example",
        "--max-age",
        "1209600",
    ])
    .ok();
    assert!(r.stderr.starts_with("warning: no --domain given"), "{r:#?}");
    let v = r.json();
    let id = v["id"].as_str().unwrap();
    assert_eq!(id.len(), 14, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    assert!(id.as_bytes()[0] == b'2', "{id}");
    assert_eq!(
        v,
        json!({
            "policy": "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.xn--bcher-kva.example\nmax_age: 1209600\n",
            "txt_record": format!("v=STSv1; id={id}"),
            "txt_name": "_mta-sts.example.com",
            "policy_host": "mta-sts.example.com",
            "policy_url": "https://mta-sts.example.com/.well-known/mta-sts.txt",
            "id": id,
            "dns_zone": format!("{}_mta-sts.example.com. IN TXT \"v=STSv1; id={id}\"\n", dns_preamble("example.com")),
            "warnings": [],
        })
    );
}

/// The comment lines `policy generate` writes before the records.
fn dns_preamble(domain: &str) -> String {
    format!(
        "; MTA-STS for {domain} (RFC 8461). mta-sts.{domain} must resolve (A/AAAA or CNAME) to an \
         HTTPS server with a valid certificate for that name, serving mta-sts.txt at \
         https://mta-sts.{domain}/.well-known/mta-sts.txt with Content-Type: text/plain.\n\
         ; Publish the _mta-sts record only once the policy is served (RFC 8461 8.1), and give \
         it a new id whenever the policy changes.\n"
    )
}

#[test]
fn generate_round_trip() {
    let r = run(&[
        "policy",
        "generate",
        "--json",
        "--mode",
        "testing",
        "--mx",
        "mx1.example.org",
        "*.example.net",
        "--max-age",
        "86400",
        "--id",
        "2024abc",
        "--domain",
        "Example.ORG.",
    ])
    .ok();
    assert_eq!(r.stderr, "");
    let v = r.json();
    assert_eq!(v["id"], "2024abc");
    assert_eq!(v["txt_record"], "v=STSv1; id=2024abc");
    assert_eq!(v["txt_name"], "_mta-sts.example.org");
    assert_eq!(
        v["policy_url"],
        "https://mta-sts.example.org/.well-known/mta-sts.txt"
    );
    assert_eq!(v["policy_host"], "mta-sts.example.org");

    let body = v["policy"].as_str().unwrap();
    let parsed = run_with_stdin(
        &["policy", "parse", "--strict", "--json", "-"],
        body.as_bytes(),
    )
    .ok()
    .json();
    assert_eq!(parsed["mode"], "testing");
    assert_eq!(parsed["mx"], json!(["mx1.example.org", "*.example.net"]));
    assert_eq!(parsed["max_age"], 86400);
    assert_eq!(parsed["warnings"], json!([]));

    let rec = run(&[
        "record",
        "parse",
        "--json",
        v["txt_record"].as_str().unwrap(),
    ])
    .ok()
    .json();
    assert_eq!(rec["id"], v["id"]);
    assert_eq!(rec["kind"], "sts");
}

#[test]
fn generate_human_output_sts_cache_12_body_on_stdout_records_on_stderr() {
    let r = run(&[
        "policy",
        "generate",
        "--mode",
        "none",
        "--max-age",
        "86400",
        "--id",
        "1",
        "--domain",
        "example.org",
    ])
    .ok();
    // stdout is the body alone, so `> mta-sts.txt` writes a valid policy.
    assert_eq!(r.stdout, "version: STSv1\nmode: none\nmax_age: 86400\n");
    assert_eq!(
        r.stderr,
        format!(
            "{}_mta-sts.example.org. IN TXT \"v=STSv1; id=1\"\n",
            dns_preamble("example.org")
        )
    );

    let r = run(&["policy", "generate", "--mode", "none", "--max-age", "0"]).ok();
    assert_eq!(r.stdout, "version: STSv1\nmode: none\nmax_age: 0\n");
    assert!(r.stderr.starts_with("warning: no --domain given"), "{r:#?}");
    assert!(
        r.stderr.contains("\nwarning: policy: max_age is 0: "),
        "{r:#?}"
    );
    assert!(
        r.stderr.contains("(zero-max-age); fix: raise max_age"),
        "{r:#?}"
    );
    assert!(
        r.stderr
            .contains("\n_mta-sts.example.com. IN TXT \"v=STSv1; id="),
        "{r:#?}"
    );
    assert!(
        r.stderr
            .ends_with("is a placeholder: pass --domain with your domain\n")
    );
}

#[test]
fn generate_defaults_max_age_to_a_week_and_warns_under_a_day() {
    let r = run(&[
        "policy",
        "generate",
        "--mode",
        "enforce",
        "--mx",
        "mx.example.org",
        "--id",
        "7",
        "--domain",
        "example.org",
    ])
    .ok();
    assert_eq!(
        r.stdout,
        "version: STSv1\nmode: enforce\nmx: mx.example.org\nmax_age: 604800\n"
    );
    assert!(!r.stderr.contains("warning"), "{r:#?}");
    let r = run(&[
        "policy",
        "generate",
        "--json",
        "--mode",
        "testing",
        "--mx",
        "mx.example.org",
        "--max-age",
        "86399",
        "--id",
        "7",
        "--domain",
        "example.org",
    ])
    .ok();
    let v = r.json();
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1, "{v:#}");
    assert_eq!(v["warnings"][0]["code"], "short-max-age");
    assert_eq!(v["warnings"][0]["severity"], "warning");
    assert!(
        r.stderr
            .starts_with("warning: policy: max_age 86399 is under a day"),
        "{r:#?}"
    );
}

#[test]
fn generate_output_dir_writes_policy_and_zone_lines_with_tlsrpt() {
    let dir = TempDir::new();
    let out = std::path::PathBuf::from(dir.path("site"));
    let r = run(&[
        "policy",
        "generate",
        "--mode",
        "testing",
        "--mx",
        "mx.example.org",
        "--id",
        "20261205",
        "--domain",
        "example.org",
        "--rua",
        "mailto:tlsrpt@example.org",
        "--rua",
        "https://reports.example.org/v1",
        "--output-dir",
        out.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(r.stdout, "");
    let body = std::fs::read_to_string(out.join("mta-sts.txt")).unwrap();
    assert_eq!(
        body,
        "version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 604800\n"
    );
    let dns = std::fs::read_to_string(out.join("dns.txt")).unwrap();
    assert_eq!(
        dns,
        format!(
            "{}_mta-sts.example.org. IN TXT \"v=STSv1; id=20261205\"\n\
             _smtp._tls.example.org. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.org,https://reports.example.org/v1\"\n",
            dns_preamble("example.org")
        )
    );
    assert!(r.stderr.contains("wrote "), "{r:#?}");
    // What was written parses.
    run(&[
        "policy",
        "parse",
        "--strict",
        out.join("mta-sts.txt").to_str().unwrap(),
    ])
    .ok();
    // Overwritten on a second run; no temporary file left behind.
    run(&[
        "policy",
        "generate",
        "--mode",
        "enforce",
        "--mx",
        "mx.example.org",
        "--id",
        "2",
        "--domain",
        "example.org",
        "--output-dir",
        out.to_str().unwrap(),
    ])
    .ok();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["dns.txt", "mta-sts.txt"]);
    assert!(
        std::fs::read_to_string(out.join("mta-sts.txt"))
            .unwrap()
            .contains("mode: enforce")
    );
    assert!(
        !std::fs::read_to_string(out.join("dns.txt"))
            .unwrap()
            .contains("_smtp._tls")
    );

    let e = run(&[
        "policy",
        "generate",
        "--mode",
        "none",
        "--domain",
        "example.org",
        "--rua",
        "ftp://x.example",
    ])
    .fails_alone();
    assert!(e.starts_with("error: --rua: "), "{e}");
}

#[test]
fn generate_errors() {
    fn gen_args(extra: &[&str]) -> Run {
        let mut a = vec!["policy", "generate", "--domain", "example.com"];
        a.extend_from_slice(extra);
        run(&a)
    }
    gen_args(&["--mode", "strict", "--mx", "a.example", "--max-age", "1"]).usage_error();
    gen_args(&["--mx", "a.example", "--max-age", "1"]).usage_error();
    let e = gen_args(&["--mode", "enforce", "--max-age", "1"]).fails_alone();
    assert_eq!(
        e,
        "error: --mx: mode `enforce` requires at least one `mx` line"
    );
    let e = gen_args(&["--mode", "enforce", "--mx", "a_b.example", "--max-age", "1"]).fails_alone();
    assert_eq!(
        e,
        "error: --mx: byte 1: invalid character '_' in MX pattern `a_b.example`"
    );
    let e = gen_args(&["--mode", "enforce", "--mx", "m*.example", "--max-age", "1"]).fails_alone();
    assert!(e.starts_with("error: --mx: byte 1: `*`"), "{e}");
    let e = gen_args(&["--mode", "none", "--max-age", "31557601"]).fails_alone();
    assert_eq!(
        e,
        "error: --max-age: 31557601 is larger than the maximum 31557600"
    );
    let e = gen_args(&["--mode", "none", "--max-age", "-1"]).fails_alone();
    assert!(e.starts_with("error: --max-age: invalid value `-1`"), "{e}");
    let e = gen_args(&["--mode", "none", "--max-age", "1", "--id", "2024-01"]).fails_alone();
    assert_eq!(
        e,
        "error: --id: byte 0: invalid id `2024-01` (expected 1 to 32 letters and digits)"
    );
    let e = gen_args(&["--mode", "none", "--max-age", "1", "--id", &"1".repeat(33)]).fails_alone();
    assert!(e.starts_with("error: --id: "), "{e}");
    let e = run(&[
        "policy",
        "generate",
        "--mode",
        "none",
        "--max-age",
        "1",
        "--domain",
        "*.example.com",
    ])
    .fails_alone();
    assert!(e.starts_with("error: --domain: "), "{e}");
}

// ---------------------------------------------------------------- record parse

#[test]
fn record_parse_accepts_dig_quoted_forms_and_stdin() {
    let r = run(&[
        "record",
        "parse",
        "--json",
        "\"v=STSv1; id=20160831085700Z;\"",
    ])
    .ok();
    assert_eq!(r.json()["id"], "20160831085700Z");
    let r = run(&[
        "record",
        "parse",
        "--json",
        "\"v=TLSRPTv1; \" \"rua=mailto:tlsrpt@example.com\"",
    ])
    .ok();
    assert_eq!(r.json()["rua"][0], "mailto:tlsrpt@example.com");
    // `dig +short TXT _mta-sts.example.com | mtasts record parse -`
    let dig = "\"v=spf1 -all\"\n\"v=STSv1; \" \"id=2024\\059\"\n\n";
    let r = run_with_stdin(&["record", "parse", "-"], dig.as_bytes()).ok();
    assert_eq!(
        r.stdout,
        "kind:      sts\nversion:   STSv1\nid:        2024\n"
    );
    let e = run_with_stdin(&["record", "parse", "-"], b"\n \n").fails_alone();
    assert_eq!(e, "error: stdin: no TXT record (expected one per line)");
    let big = format!("\"v=STSv1; id=1;\"\n{}", "x".repeat(65_536));
    let e = run_with_stdin(&["record", "parse", "-"], big.as_bytes()).fails_alone();
    assert_eq!(
        e,
        "error: stdin: more than 65536 bytes; a DNS answer is smaller"
    );
    let e = run(&["record", "parse", "\"v=STSv1; id=1;"]).fails_alone();
    assert!(
        e.starts_with("error: unterminated quoted string in "),
        "{e}"
    );
}

#[test]
fn record_parse_rfc_example() {
    let rec = std::fs::read_to_string(data("rfc8461-appendix-a-txt-record.txt")).unwrap();
    let r = run(&["record", "parse", "--json", &rec]).ok();
    assert_eq!(
        r.json(),
        json!({"kind": "sts", "version": "STSv1", "id": "20160831085700Z", "extensions": {}})
    );
    let r = run(&["record", "parse", &rec]).ok();
    assert_eq!(
        r.stdout,
        "kind:      sts\nversion:   STSv1\nid:        20160831085700Z\n"
    );
}

#[test]
fn record_parse_split_answer_and_extension_order() {
    let r = run(&[
        "record",
        "parse",
        "--json",
        "v=spf1 include:_spf.example.com -all",
        "v=STSv1; id=abc; zz=1; mm=x.y; aa=2",
        "some other text",
    ])
    .ok();
    assert_eq!(r.stderr, "");
    assert_eq!(
        r.stdout,
        "{\n  \"kind\": \"sts\",\n  \"version\": \"STSv1\",\n  \"id\": \"abc\",\n  \"extensions\": {\n    \
         \"zz\": \"1\",\n    \"mm\": \"x.y\",\n    \"aa\": \"2\"\n  }\n}\n"
    );
    let v = r.json();
    let keys: Vec<&String> = v["extensions"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["zz", "mm", "aa"]);
    let r = run(&["record", "parse", "v=STSv1; id=abc; zz=1"]).ok();
    assert!(r.stdout.ends_with("extension: zz=1\n"), "{r:#?}");
}

#[test]
fn record_parse_failures() {
    let e = run(&["record", "parse", "v=STSv1; id=1", "v=STSv1; id=2"]).fails_alone();
    assert_eq!(
        e,
        "error: v=STSv1: 2 records start with the version tag (exactly one is allowed)"
    );
    let e = run(&["record", "parse", "v=STSv12; id=1"]).fails_alone();
    assert_eq!(
        e,
        "error: no record starting with v=STSv1 or v=TLSRPTv1 in the answer"
    );
    let e = run(&["record", "parse", "--json", "v=spf1 -all"]).fails_alone();
    assert_eq!(
        e,
        "error: no record starting with v=STSv1 or v=TLSRPTv1 in the answer"
    );
    let r = run(&[
        "record",
        "parse",
        "--json",
        "v=spf1 -all",
        "v=STSv1; id=a-b",
    ]);
    assert_eq!(
        r.fails_alone(),
        "error: v=STSv1: TXT record #2 of the answer is invalid: byte 12: invalid id `a-b` (expected 1 to 32 letters and digits)"
    );
    assert_eq!(r.stdout, "");
    let e = run(&["record", "parse", "v=STSv1; foo=bar"]).fails_alone();
    assert!(e.ends_with("missing required field `id`"), "{e}");
    run(&["record", "parse"]).usage_error();
}

#[test]
fn record_parse_repeated_id_warns() {
    let r = run(&["record", "parse", "--json", "v=STSv1; id=1; id=2"]).ok();
    assert_eq!(r.json()["id"], "1");
    assert_eq!(
        r.stderr,
        "warning: repeated field `id=2` ignored (the first one counts)\n"
    );
}

#[test]
fn record_parse_tlsrpt_rfc_examples() {
    for (file, uri) in [
        (
            "rfc8460-section-3.1.1-txt-record-mailto.txt",
            "mailto:reports@example.com",
        ),
        (
            "rfc8460-section-3.1.2-txt-record-https.txt",
            "https://reporting.example.com/v1/tlsrpt",
        ),
    ] {
        let rec = std::fs::read_to_string(data(file)).unwrap();
        let r = run(&["record", "parse", "--json", &rec]).ok();
        assert_eq!(r.stderr, "", "{file}");
        assert_eq!(
            r.json(),
            json!({"kind": "tlsrpt", "version": "TLSRPTv1", "rua": [uri], "extensions": {}}),
            "{file}"
        );
    }
}

#[test]
fn record_parse_tlsrpt_json_and_text() {
    let answer = [
        "v=spf1 -all",
        "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://r.example/v1 ; zz=1; aa=b",
    ];
    let mut args = vec!["record", "parse", "--json"];
    args.extend(answer);
    let r = run(&args).ok();
    assert_eq!(r.stderr, "");
    assert_eq!(
        r.stdout,
        "{\n  \"kind\": \"tlsrpt\",\n  \"version\": \"TLSRPTv1\",\n  \"rua\": [\n    \
         \"mailto:tlsrpt@example.com\",\n    \"https://r.example/v1\"\n  ],\n  \"extensions\": {\n    \
         \"zz\": \"1\",\n    \"aa\": \"b\"\n  }\n}\n"
    );
    let r = run(&["record", "parse", answer[1]]).ok();
    assert_eq!(
        r.stdout,
        "kind:      tlsrpt\nversion:   TLSRPTv1\nrua:       mailto:tlsrpt@example.com\n\
         rua:       https://r.example/v1\nextension: zz=1\nextension: aa=b\n"
    );
}

#[test]
fn record_parse_tlsrpt_unsupported_rua() {
    // One usable URI is enough; the other is listed, flagged and warned about.
    let r = run(&[
        "record",
        "parse",
        "--json",
        "v=TLSRPTv1; rua=ftp://r.example/x,mailto:a@example.com",
    ])
    .ok();
    let reason = "only `mailto:` and `https:` are defined for TLS-RPT";
    assert_eq!(
        r.json(),
        json!({
            "kind": "tlsrpt", "version": "TLSRPTv1",
            "rua": ["ftp://r.example/x", "mailto:a@example.com"],
            "extensions": {},
            "unsupported_rua": [{"uri": "ftp://r.example/x", "reason": reason}],
        })
    );
    assert_eq!(
        r.stderr,
        format!("warning: rua URI `ftp://r.example/x` cannot be used: {reason}\n")
    );
    // No usable URI: still printed, but a failure.
    let r = run(&[
        "record",
        "parse",
        "--json",
        "v=TLSRPTv1; rua=ftp://r.example/x",
    ]);
    assert_eq!(
        r.fails(),
        "error: no usable rua URI (only mailto: and https: are defined)"
    );
    assert_eq!(r.json()["rua"], json!(["ftp://r.example/x"]));
    assert_eq!(r.json()["unsupported_rua"][0]["reason"], reason);
    let r = run(&["record", "parse", "v=TLSRPTv1; rua=mailto:"]);
    r.fails();
    assert!(
        r.stdout
            .contains("rua:       mailto: (unsupported: `mailto:` without an address)\n"),
        "{r:#?}"
    );
}

#[test]
fn record_parse_tlsrpt_failures() {
    // Records of both kinds cannot be one answer.
    let e = run(&[
        "record",
        "parse",
        "v=STSv1; id=1",
        "v=TLSRPTv1; rua=mailto:a@example.com",
    ])
    .fails_alone();
    assert_eq!(
        e,
        "error: the answer mixes v=STSv1 and v=TLSRPTv1 records; give one answer at a time"
    );
    let e = run(&[
        "record",
        "parse",
        "v=TLSRPTv1; rua=mailto:a@example.com",
        "v=TLSRPTv1; rua=mailto:b@example.com",
    ])
    .fails_alone();
    assert_eq!(
        e,
        "error: v=TLSRPTv1: 2 records start with the version tag (exactly one is allowed)"
    );
    let e = run(&["record", "parse", "v=TLSRPTv1; ruf=mailto:a@example.com"]).fails_alone();
    assert_eq!(
        e,
        "error: v=TLSRPTv1: TXT record #1 of the answer is invalid: missing required field `rua`"
    );
    let e = run(&["record", "parse", "v=TLSRPTv1; rua=mailto:a@example.com!x"]).fails_alone();
    assert!(e.contains("must be percent-encoded"), "{e}");
}

/// Issue 15 item 7: record text echoed in messages (stderr) and values
/// (stdout) never reaches the terminal raw.
#[test]
fn record_parse_escapes_echoed_text() {
    let e = run(&["record", "parse", "v=STSv1; id=\x1b[2J;"]).fails_alone();
    assert_eq!(
        e,
        "error: v=STSv1: TXT record #1 of the answer is invalid: byte 12: invalid id \
         `\\u{1b}[2J` (expected 1 to 32 letters and digits)"
    );
    let r = run(&[
        "record",
        "parse",
        "v=TLSRPTv1; rua=mailto:a\x1b[31m\x07@b.example",
    ]);
    let e = r.fails_alone();
    assert!(
        e.contains("invalid rua URI `mailto:a\\u{1b}[31m\\u{7}@b.example`"),
        "{e}"
    );
    assert!(!r.stderr.contains(['\u{1b}', '\u{7}']), "{r:#?}");
}

/// Issue 15 item 8: an `https:` rua URI with a malformed authority is
/// flagged, with a warning, and is not usable.
#[test]
fn record_parse_tlsrpt_malformed_https_authority() {
    let reason = "`https:` URI with an unclosed `[` in its host";
    let r = run(&["record", "parse", "v=TLSRPTv1; rua=https://[::1"]);
    assert_eq!(
        r.fails(),
        "error: no usable rua URI (only mailto: and https: are defined)"
    );
    assert_eq!(
        r.stderr,
        format!(
            "warning: rua URI `https://[::1` cannot be used: {reason}\n\
             error: no usable rua URI (only mailto: and https: are defined)\n"
        )
    );
    assert!(
        r.stdout.contains(&format!(
            "rua:       https://[::1 (unsupported: {reason})\n"
        )),
        "{r:#?}"
    );
    let r = run(&[
        "record",
        "parse",
        "--json",
        "v=TLSRPTv1; rua=https://:443/x,https://r.example:99999/,https://[::1]:8443/ok",
    ])
    .ok();
    assert_eq!(
        r.json()["unsupported_rua"],
        json!([
            {"uri": "https://:443/x", "reason": "`https:` without a host"},
            {"uri": "https://r.example:99999/", "reason": "`https:` URI with an invalid port (expected 1 to 65535)"},
        ])
    );
}

/// Issue 15 item 7: policy values and host names given on the command
/// line are escaped in text output; JSON keeps them (JSON-escaped).
#[test]
fn policy_text_output_escapes_values() {
    let dir = TempDir::new();
    let f = dir.write(
        "p.txt",
        "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86400\nx-note: a\u{202e}b\u{9b}\n",
    );
    let r = run(&["policy", "parse", &f]).ok();
    assert!(
        r.stdout
            .ends_with("extension: x-note: a\\u{202e}b\\u{9b}\n"),
        "{r:#?}"
    );
    let r = run(&["policy", "parse", "--json", &f]).ok();
    assert_eq!(r.json()["extensions"][0]["value"], "a\u{202e}b\u{9b}");
    let r = run(&[
        "policy",
        "match",
        &f,
        "mail.example.com",
        "mx\x1b[1m\n.example.com",
    ]);
    r.fails();
    assert_eq!(
        r.stdout,
        "mail.example.com           matched by mail.example.com\n\
         mx\\u{1b}[1m\\n.example.com  not matched\n"
    );
}

// ---------------------------------------------------------------- cert check

/// A self-signed certificate: (PEM, DER).
fn make_cert(
    sans: &[&str],
    cn: Option<&str>,
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
) -> (String, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let mut dn = rcgen::DistinguishedName::new();
    if let Some(cn) = cn {
        dn.push(rcgen::DnType::CommonName, cn);
    }
    params.distinguished_name = dn;
    params.not_before = not_before;
    params.not_after = not_after;
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), cert.der().to_vec())
}

/// A certificate valid from 2020-01-01 to 2040-01-01 for `sans`.
fn cert_2020_2040(sans: &[&str]) -> (String, Vec<u8>) {
    make_cert(
        sans,
        None,
        rcgen::date_time_ymd(2020, 1, 1),
        rcgen::date_time_ymd(2040, 1, 1),
    )
}

/// Run `cert check --json --mx host --at at file`.
fn check(file: &str, host: &str, at: &str) -> Run {
    run(&["cert", "check", "--json", "--mx", host, "--at", at, file])
}

#[test]
fn cert_valid_pem_and_der() {
    let dir = TempDir::new();
    let (pem, der) = cert_2020_2040(&["mx1.example.com", "mx2.example.com"]);
    let pem_file = dir.write("c.pem", &pem);
    let der_file = dir.write("c.der", &der);
    for f in [&pem_file, &der_file] {
        let r = check(f, "MX2.example.com.", "2030-01-01T00:00:00Z").ok();
        assert_eq!(
            r.json(),
            json!({
                "valid": true,
                "result_type": null,
                "reason": "certificate is valid for the host (SAN `mx2.example.com`)",
            })
        );
        assert_eq!(r.stderr, "");
    }
    let r = run(&[
        "cert",
        "check",
        "--mx",
        "mx1.example.com",
        "--at",
        "2030-01-01T00:00:00Z",
        &pem_file,
    ])
    .ok();
    assert_eq!(
        r.stdout,
        "valid: certificate is valid for the host (SAN `mx1.example.com`)\n"
    );
    // From stdin, with the default time (now).
    let now = time::OffsetDateTime::now_utc();
    let (pem, _) = make_cert(
        &["mx.example.com"],
        None,
        now - time::Duration::days(1),
        now + time::Duration::days(1),
    );
    let r = run_with_stdin(
        &["cert", "check", "--json", "--mx", "mx.example.com", "-"],
        pem.as_bytes(),
    )
    .ok();
    assert_eq!(r.json()["valid"], true);
}

#[test]
fn cert_host_mismatch() {
    let dir = TempDir::new();
    let (pem, _) = cert_2020_2040(&["mx1.example.com", "mx2.example.com"]);
    let f = dir.write("c.pem", &pem);
    let r = check(&f, "mx3.example.com", "2030-01-01T00:00:00Z");
    assert_eq!(
        r.fails_alone(),
        format!(
            "error: {f}: certificate is not valid for `mx3.example.com` (certificate-host-mismatch)"
        )
    );
    assert_eq!(
        r.json(),
        json!({
            "valid": false,
            "result_type": "certificate-host-mismatch",
            "reason": "no subjectAltName dNSName matches the host (certificate names: mx1.example.com, mx2.example.com)",
        })
    );
    let r = run(&[
        "cert",
        "check",
        "--mx",
        "mx3.example.com",
        "--at",
        "2030-01-01T00:00:00Z",
        &f,
    ]);
    r.fails_alone();
    assert!(
        r.stdout
            .starts_with("invalid (certificate-host-mismatch): no subjectAltName"),
        "{r:#?}"
    );
}

/// Issue 15 item 7: the certificate's SAN names are untrusted: escaped in
/// the text output and in messages.
#[test]
fn cert_check_escapes_san_names() {
    let dir = TempDir::new();
    let (pem, _) = cert_2020_2040(&["mx1.example.com", "evil\x1b]0;x\x07.example.com"]);
    let f = dir.write("c.pem", &pem);
    let r = run(&[
        "cert",
        "check",
        "--mx",
        "mx3.example.com",
        "--at",
        "2030-01-01T00:00:00Z",
        &f,
    ]);
    r.fails_alone();
    assert_eq!(
        r.stdout,
        "invalid (certificate-host-mismatch): no subjectAltName dNSName matches the host \
         (certificate names: mx1.example.com, evil\\u{1b}]0;x\\u{7}.example.com)\n"
    );
    let r = check(&f, "mx3.example.com", "2030-01-01T00:00:00Z");
    assert_eq!(
        r.json()["reason"],
        "no subjectAltName dNSName matches the host (certificate names: mx1.example.com, evil\u{1b}]0;x\u{7}.example.com)"
    );
}

#[test]
fn cert_cn_only_is_a_mismatch() {
    let dir = TempDir::new();
    let (pem, _) = make_cert(
        &[],
        Some("mx1.example.com"),
        rcgen::date_time_ymd(2020, 1, 1),
        rcgen::date_time_ymd(2040, 1, 1),
    );
    let f = dir.write("cn.pem", &pem);
    let r = check(&f, "mx1.example.com", "2030-01-01T00:00:00Z");
    r.fails_alone();
    let v = r.json();
    assert_eq!(v["valid"], false);
    assert_eq!(v["result_type"], "certificate-host-mismatch");
    assert_eq!(
        v["reason"],
        "certificate has no subjectAltName dNSName (the subject CN is not used)"
    );
}

#[test]
fn cert_expired_and_not_yet_valid() {
    let dir = TempDir::new();
    let (_, der) = cert_2020_2040(&["mx1.example.com"]);
    let f = dir.write("c.der", &der);
    // The last valid second, then one second later.
    check(&f, "mx1.example.com", "2040-01-01T00:00:00Z").ok();
    check(&f, "mx1.example.com", "2040-01-01T02:00:00+02:00").ok();
    let r = check(&f, "mx1.example.com", "2040-01-01T00:00:01Z");
    assert!(r.fails_alone().ends_with("(certificate-expired)"));
    let v = r.json();
    assert_eq!(v["valid"], false);
    assert_eq!(v["result_type"], "certificate-expired");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("certificate expired at ")
    );
    let r = check(&f, "mx1.example.com", "2041-06-01T12:30:00.123-07:00");
    r.fails_alone();
    assert_eq!(r.json()["result_type"], "certificate-expired");

    let r = check(&f, "mx1.example.com", "2019-12-31T23:59:59Z");
    r.fails_alone();
    let v = r.json();
    assert_eq!(v["result_type"], "validation-failure");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("certificate is not valid before ")
    );
    // 2020-01-01T00:00:00Z written with an offset.
    check(&f, "mx1.example.com", "2019-12-31T19:00:00-05:00").ok();
}

#[test]
fn cert_wildcard_san() {
    let dir = TempDir::new();
    let (pem, _) = cert_2020_2040(&["*.example.com"]);
    let f = dir.write("w.pem", &pem);
    let r = check(&f, "mx1.example.com", "2030-01-01T00:00:00Z").ok();
    assert_eq!(
        r.json()["reason"],
        "certificate is valid for the host (SAN `*.example.com`)"
    );
    let r = check(&f, "a.b.example.com", "2030-01-01T00:00:00Z");
    r.fails_alone();
    assert_eq!(r.json()["result_type"], "certificate-host-mismatch");
    check(&f, "example.com", "2030-01-01T00:00:00Z").fails_alone();
}

#[test]
fn cert_bad_input() {
    let dir = TempDir::new();
    let garbage = dir.write("garbage.der", b"\x00\x01 this is not a certificate");
    let r = check(&garbage, "mx1.example.com", "2030-01-01T00:00:00Z");
    assert!(
        r.fails_alone()
            .starts_with(&format!("error: {garbage}: not an X.509 certificate")),
        "{r:#?}"
    );
    assert_eq!(r.stdout, "");
    let key_only = dir.write(
        "key.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let e = check(&key_only, "mx1.example.com", "2030-01-01T00:00:00Z").fails_alone();
    assert_eq!(
        e,
        format!("error: {key_only}: no `CERTIFICATE` block in PEM input")
    );
    let missing = dir.path("missing.pem");
    let e = check(&missing, "mx1.example.com", "2030-01-01T00:00:00Z").fails_alone();
    assert!(e.starts_with(&format!("error: {missing}: ")), "{e}");
    let big = dir.write("big.der", vec![0u8; 1024 * 1024 + 1]);
    let e = check(&big, "mx1.example.com", "2030-01-01T00:00:00Z").fails_alone();
    assert_eq!(
        e,
        format!(
            "error: {big}: certificate file is 1048577 bytes, larger than the 1048576-byte limit"
        )
    );
}

#[test]
fn cert_bad_at_is_a_usage_error() {
    let dir = TempDir::new();
    let (pem, _) = cert_2020_2040(&["mx1.example.com"]);
    let f = dir.write("c.pem", &pem);
    for at in [
        "2030-01-01",
        "2030-01-01 00:00:00Z",
        "2030-01-01T00:00:00",
        "2030-02-30T00:00:00Z",
        "2030-01-01T25:00:00Z",
        "2030-01-01T00:00:00+0200",
        "tomorrow",
    ] {
        let r = check(&f, "mx1.example.com", at);
        r.usage_error();
        assert!(r.stderr.contains("--at"), "{r:#?}");
    }
    run(&["cert", "check", &f]).usage_error();
}

// ---------------------------------------------------------------- general

#[test]
fn usage_errors_exit_2() {
    // Without a subcommand clap prints the help on stderr, with status 2.
    for args in [&[][..], &["policy"], &["cert"]] {
        let r = run(args);
        assert_eq!(r.code, 2, "{r:#?}");
        assert!(r.stderr.contains("Usage: mtasts"), "{r:#?}");
    }
    run(&["policy", "parse"]).usage_error();
    run(&["policy", "parse", "--bogus", "x"]).usage_error();
    run(&["frobnicate"]).usage_error();
    let r = run(&["--help"]).ok();
    assert!(r.stdout.contains("policy"));
    let r = run(&["policy", "generate", "--help"]).ok();
    assert!(r.stdout.contains("YYYYMMDDhhmmss"), "{r:#?}");
}

#[test]
fn closed_stdout_is_not_an_error() {
    let dir = TempDir::new();
    let f = dir.write("p.txt", CLEAN);
    let hosts: Vec<String> = (0..20_000).map(|i| format!("mx{i}.example.com")).collect();
    let mut args = vec!["policy", "match", &f, "mail.example.com"];
    args.extend(hosts.iter().map(String::as_str));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mtasts"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The hosts still fail to match: one error line, status 1, no panic.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr, "error: 20000 of 20001 hosts match no mx pattern\n");
}
