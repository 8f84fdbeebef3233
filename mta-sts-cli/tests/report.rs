//! End-to-end tests of `mtasts report parse|summarize|export` on the
//! sample reports of `examples/data/reports` and `testdata/reports` (see
//! `testdata/README.md`).

mod common;

use std::io::Write as _;

use common::{TempDir, report, run, run_with_stdin};
use serde_json::{Value, json};

/// The bytes of a corpus report.
fn report_bytes(name: &str) -> Vec<u8> {
    std::fs::read(report(name)).unwrap()
}

/// `bytes` gzip-compressed.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// parsedmarc's CSV header.
const CSV_HEADER: &str = "organization_name,begin_date,end_date,report_id,result_type,\
    successful_session_count,failed_session_count,policy_domain,policy_type,policy_strings,\
    mx_host_patterns,sending_mta_ip,receiving_ip,receiving_mx_hostname,receiving_mx_helo,\
    additional_info_uri,failure_reason_code";

// ---------------------------------------------------------------- report parse

#[test]
fn parse_json_report() {
    for json_flag in [false, true] {
        let f = report("mail-auth/rpt01.json");
        let mut args = vec!["report", "parse", &f];
        if json_flag {
            args.push("--json");
        }
        let r = run(&args).ok();
        assert_eq!(r.stderr, "");
        let v = r.json();
        assert_eq!(v["organization-name"], "Company-X");
        assert_eq!(v["report-id"], "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
        let p = &v["policies"][0];
        assert_eq!(p["summary"]["total-successful-session-count"], 5326);
        assert_eq!(p["summary"]["total-failure-session-count"], 303);
        assert_eq!(p["failure-details"].as_array().unwrap().len(), 3);
        // The strict RFC form: dates in UTC with `Z`, RFC 5952 addresses.
        assert_eq!(
            p["failure-details"][0]["sending-mta-ip"],
            "2001:db8:abcd:12::1"
        );
        assert!(
            r.stdout.starts_with("{\n  \"organization-name\": "),
            "{r:#?}"
        );
        assert!(r.stdout.ends_with("}\n"), "{r:#?}");
    }
}

#[test]
fn parse_gzip_and_email_give_the_same_report() {
    let plain = run(&["report", "parse", &report("mail-auth/rpt01.json")]).ok();
    let dir = TempDir::new();
    // Detected by its magic bytes, whatever the name says.
    let gz = dir.write("report.json", gzip(&report_bytes("mail-auth/rpt01.json")));
    let r = run(&["report", "parse", &gz]).ok();
    assert_eq!(r.stderr, "");
    assert_eq!(r.stdout, plain.stdout);
    // The same report in an e-mail, as a base64 gzip attachment.
    let eml = report("mail-auth/rpt01.eml");
    let r = run(&["report", "parse", &eml]).ok();
    assert_eq!(r.stdout, plain.stdout);
    assert_eq!(
        r.stderr,
        format!(
            "warning: {eml}: TLS-Report-Submitter `mail.sender.example.com` is not the domain of \
             contact-info `sts-reporting@company-x.example` (RFC 8460 5.3)\n\
             warning: {eml}: TLS-Report-Domain `example.net` is not a policy-domain of the report \
             (company-y.example)\n"
        )
    );
    // stdin.
    let r = run_with_stdin(
        &["report", "parse", "-"],
        &report_bytes("mail-auth/rpt01.eml"),
    )
    .ok();
    assert_eq!(r.stdout, plain.stdout);
    assert!(r.stderr.starts_with("warning: <stdin>: "), "{r:#?}");
}

#[test]
fn parse_warnings_on_stderr() {
    // A part typed `application/tlsrpt` (no suffix) is read by its content.
    let eml = report("mail-auth/rpt02.eml");
    let r = run(&["report", "parse", &eml]).ok();
    assert_eq!(r.json()["report-id"], "2020-01-01T00:00:00Z_example.com");
    assert!(
        r.stderr.contains(&format!(
            "warning: {eml}: part 2 is typed application/tlsrpt, without the +json or +gzip \
             suffix; read by its content\n"
        )),
        "{r:#?}"
    );
    assert!(
        r.stderr.lines().all(|l| l.starts_with("warning: ")),
        "{r:#?}"
    );
    // A TLSA policy-string holding a JSON-encoded array: read as its records.
    let f = report("dmarc-report-viewer/microsoft.json");
    let r = run(&["report", "parse", &f]).ok();
    assert_eq!(
        r.json()["policies"][1]["policy"]["policy-string"],
        json!([
            "3 1 1 6007EEE553E85D8DF007A845D19EC343283D4E416E9A33F9EF3040C8B7C285BC",
            "3 1 1 837C773D54C2E2BD71871A3FC352BE8214D5646CBAE5E3091401A7274717998B"
        ])
    );
    assert!(
        r.stderr.contains(&format!(
            "warning: {f}: /policies/1/policy/policy-string: tlsa policy-string holds a \
             JSON-encoded array; read as its 2 records\n"
        )),
        "{r:#?}"
    );
}

#[test]
fn parse_strict_rejects_what_lenient_accepts() {
    let f = report("mail-auth/rpt01.json");
    run(&["report", "parse", "--strict", &f]).ok();
    for name in ["dmarc-report-viewer/microsoft.json", "mail-auth/rpt02.json"] {
        let f = report(name);
        let r = run(&["report", "parse", "--strict", &f]);
        let e = r.fails_alone();
        assert!(
            e.starts_with(&format!("error: {f}: invalid report: byte ")),
            "{e}"
        );
        assert!(
            e.ends_with("at /policies/0/policy: missing member `mx-host`"),
            "{e}"
        );
        assert_eq!(r.stdout, "");
    }
}

#[test]
fn parse_errors() {
    let dir = TempDir::new();
    let f = dir.write("notes.txt", "hello, this is no report\n");
    let e = run(&["report", "parse", &f]).fails_alone();
    assert_eq!(
        e,
        format!("error: {f}: not a TLS-RPT report (neither JSON, gzip nor an e-mail)")
    );
    // Mail without a report part is no report either.
    let f = dir.write(
        "hi.eml",
        "From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n",
    );
    let e = run(&["report", "parse", &f]).fails_alone();
    assert_eq!(
        e,
        format!("error: {f}: no tls-rpt report part in the e-mail (parts seen: 1 text/plain)")
    );
    let f = dir.write("bad.json", "{\"organization-name\": 1}");
    let e = run(&["report", "parse", &f]).fails_alone();
    assert!(
        e.starts_with(&format!("error: {f}: invalid report: ")),
        "{e}"
    );
    let mut gz = gzip(&report_bytes("mail-auth/rpt01.json"));
    gz.truncate(gz.len() - 8);
    let f = dir.write("cut.gz", &gz);
    let e = run(&["report", "parse", &f]).fails_alone();
    assert!(
        e.starts_with(&format!("error: {f}: invalid gzip data: ")),
        "{e}"
    );
    let e = run(&["report", "parse", &dir.path("missing.json")]).fails_alone();
    assert!(e.starts_with("error: "), "{e}");
    let e = run(&["report", "parse", &dir.0.to_string_lossy()]).fails_alone();
    assert!(e.ends_with(": is a directory"), "{e}");
}

#[test]
fn parse_max_size() {
    let f = report("mail-auth/rpt01.json");
    let e = run(&["report", "parse", "--max-size", "1000", &f]).fails_alone();
    assert_eq!(
        e,
        format!("error: {f}: report JSON is larger than the limit of 1000 bytes")
    );
    let dir = TempDir::new();
    let gz = dir.write("r.gz", gzip(&report_bytes("mail-auth/rpt01.json")));
    let e = run(&["report", "parse", "--max-size", "1000", &gz]).fails_alone();
    assert_eq!(
        e,
        format!("error: {gz}: decompressed report is larger than the limit of 1000 bytes")
    );
    run(&["report", "parse", "--max-size", "1000000", &f]).ok();
    run(&["report", "parse", "--max-size", "0", &f]).usage_error();
    run(&["report", "parse", "--max-size", "lots", &f]).usage_error();
}

// ---------------------------------------------------------------- summarize / export

/// A directory with three reports, one of them twice (JSON and e-mail),
/// one in a subdirectory, a file that is no report (skipped) and a broken
/// report (a failure).
fn corpus_dir() -> TempDir {
    let dir = TempDir::new();
    dir.write("a-rpt01.json", report_bytes("mail-auth/rpt01.json"));
    dir.write("b-rpt01.eml", report_bytes("mail-auth/rpt01.eml"));
    dir.write("c-garbage.txt", "not a report at all\n");
    dir.write("d-broken.json", "{\"organization-name\": 1}");
    dir.write("rpt02.json.gz", gzip(&report_bytes("mail-auth/rpt02.json")));
    std::fs::create_dir(dir.0.join("sub")).unwrap();
    dir.write(
        "sub/microsoft.json",
        report_bytes("dmarc-report-viewer/microsoft.json"),
    );
    dir
}

/// stderr of a batch run over [`corpus_dir`]: the skipped file's warning,
/// the broken file's `error:` line, the warning count, the closing
/// `error:` line.
fn assert_batch_stderr(stderr: &str, dir: &TempDir, verbose: bool) {
    let lines: Vec<&str> = stderr.lines().collect();
    let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 2, "{stderr}");
    assert!(
        errors[0].starts_with(&format!(
            "error: {}: invalid report: ",
            dir.path("d-broken.json")
        )),
        "{stderr}"
    );
    assert_eq!(
        *lines.last().unwrap(),
        "error: 1 of 6 inputs could not be read as reports"
    );
    let warnings: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len() + 2, lines.len(), "{stderr}");
    let skipped = format!(
        "warning: {}: not a TLS-RPT report (neither JSON, gzip nor an e-mail); skipped",
        dir.path("c-garbage.txt")
    );
    assert!(warnings.iter().any(|w| **w == skipped), "{stderr}");
    if verbose {
        assert!(warnings.len() > 2, "{stderr}");
        assert!(
            warnings.iter().any(|w| w.contains("tlsa policy-string")),
            "{stderr}"
        );
    } else {
        // rpt01.eml: 2, rpt02.json: 1, microsoft.json: 4.
        assert_eq!(
            warnings[1..],
            [&"warning: 3 inputs had 7 warnings (use -v)"],
            "{stderr}"
        );
    }
}

#[test]
fn summarize_json_with_duplicate_and_garbage() {
    let dir = corpus_dir();
    let d = dir.0.to_str().unwrap();
    let r = run(&["report", "summarize", "--json", d]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert_batch_stderr(&r.stderr, &dir, false);
    let v = r.json();
    assert_eq!(v["reports"], 3);
    assert_eq!(v["duplicates"], 1);
    assert_eq!(
        v["duplicate_reports"],
        json!([{
            "organization_name": "Company-X",
            "report_id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
            "sources": [dir.path("a-rpt01.json"), dir.path("b-rpt01.eml")],
        }])
    );
    assert_eq!(v["successful_sessions"], 5326 + 23 + 4);
    assert_eq!(v["failed_sessions"], 303 + 1);
    assert_eq!(
        v["by_result_type"],
        json!({
            "certificate-expired": 100, "starttls-not-supported": 200,
            "validation-failure": 3, "certificate-host-mismatch": 1,
        })
    );
    assert_eq!(
        v["by_policy_domain"],
        json!({
            "company-y.example": {"successful_sessions": 5326, "failed_sessions": 303},
            "example.com": {"successful_sessions": 23, "failed_sessions": 1},
            "random.net": {"successful_sessions": 4, "failed_sessions": 0},
        })
    );
    let alerts = v["alerts"].as_array().unwrap();
    assert!(
        alerts.iter().any(|a| a["code"] == "starttls-not-supported"),
        "{v:#}"
    );
    // Per-input errors, warnings and skipped inputs, and the filter.
    let inputs = &v["inputs"];
    assert_eq!(
        (
            &inputs["reports_read"],
            &inputs["failed"],
            &inputs["skipped"],
            &inputs["omitted"]
        ),
        (&json!(4), &json!(1), &json!(1), &json!(0))
    );
    assert_eq!(inputs["errors"].as_array().unwrap().len(), 1);
    assert_eq!(inputs["errors"][0]["source"], dir.path("d-broken.json"));
    assert!(
        inputs["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid report: "),
        "{inputs:#}"
    );
    assert_eq!(
        inputs["skipped_inputs"],
        json!([{
            "source": dir.path("c-garbage.txt"),
            "message": "not a TLS-RPT report (neither JSON, gzip nor an e-mail)",
        }])
    );
    let warnings = inputs["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 7, "{inputs:#}");
    assert!(warnings.contains(&json!({
        "source": dir.path("b-rpt01.eml"),
        "code": "domain-mismatch",
        "path": null,
        "message": "TLS-Report-Domain `example.net` is not a policy-domain of the report (company-y.example)",
    })));
    assert!(warnings.contains(&json!({
        "source": dir.path("sub/microsoft.json"),
        "code": "policy-string-double-encoded",
        "path": "/policies/1/policy/policy-string",
        "message": "tlsa policy-string holds a JSON-encoded array; read as its 2 records",
    })));
    assert_eq!(
        v["filter"],
        json!({"since": null, "until": null, "domains": []})
    );
    assert_eq!(v["left_out"], 0);
    // The readiness verdict of every policy domain, each over the days up
    // to its own last report.
    let readiness = v["readiness"].as_array().unwrap();
    let domains: Vec<&str> = readiness
        .iter()
        .map(|r| r["policy_domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, ["company-y.example", "example.com", "random.net"]);
    assert_eq!(readiness[0]["ready"], false);
    assert_eq!(readiness[0]["window_end"], "2016-04-01");
    assert_eq!(readiness[0]["days_required"], 14);
    assert_eq!(readiness[0]["failures_attributable"], 303);
}

#[test]
fn summarize_text_and_verbose() {
    let dir = corpus_dir();
    let d = dir.0.to_str().unwrap();
    let r = run(&["report", "summarize", "-v", d]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert_batch_stderr(&r.stderr, &dir, true);
    assert!(
        r.stdout.starts_with(
            "TLS-RPT summary: 3 report(s), 1 duplicate(s) ignored, 5353 successful session(s), \
             304 failed session(s)\n"
        ),
        "{r:#?}"
    );
    assert!(r.stdout.contains("\nBy policy domain\n"), "{r:#?}");
    assert!(r.stdout.contains("\nAlerts\n"), "{r:#?}");
    // What to do about each alert, with the real command syntax.
    let what = r.stdout.split("\nWhat to do\n").nth(1).expect("What to do");
    assert!(
        what.starts_with(
            "[error] mx2.mail.company-y.example does not offer STARTTLS\n  - Enable STARTTLS on \
             mx2.mail.company-y.example"
        ),
        "{what}"
    );
    assert!(
        what.contains(
            "or `mtasts cert check --mx mx1.mail.company-y.example cert.pem` on the certificate \
             file (PEM) the server serves.\n"
        ),
        "{what}"
    );
    assert!(
        r.stdout.contains(
            "\nEnforce readiness (testing -> enforce)\n\
             Policy domain      Verdict    Window (UTC)              Days covered  Blocking failures\n\
             company-y.example  not ready  2016-03-19 to 2016-04-01          1/14                303\n"
        ),
        "{r:#?}"
    );
}

/// Status 3 when every input was read but an alert has severity error
/// (`--no-fail-on-alerts`: 0); warnings alone give 0; a failed input
/// gives 1 whatever the alerts.
#[test]
fn summarize_exit_3_on_error_alerts() {
    let a = report("mail-auth/rpt01.json");
    let r = run(&["report", "summarize", &a]);
    assert_eq!(r.code, 3, "{r:#?}");
    assert_eq!(
        r.stderr,
        "error: 2 alerts of severity error (exit status 3; --no-fail-on-alerts for 0)\n"
    );
    assert!(r.stdout.contains("\nWhat to do\n"), "{r:#?}");
    let r = run(&["report", "summarize", "--json", &a]);
    assert_eq!(r.code, 3, "{r:#?}");
    assert_eq!(r.json()["reports"], 1);
    let r = run(&["report", "summarize", "--no-fail-on-alerts", &a]).ok();
    assert_eq!(r.stderr, "");
    assert!(r.stdout.contains("\nAlerts\n"), "{r:#?}");
    // Only a warning alert (validation-failure): 0.
    let dir = TempDir::new();
    let json = String::from_utf8(report_bytes("mail-auth/rpt01.json")).unwrap();
    let start = json.find("\"failure-details\"").unwrap();
    let warning_only = format!(
        "{}\"failure-details\": [{{\"result-type\": \"validation-failure\", \
         \"sending-mta-ip\": \"192.0.2.1\", \"receiving-mx-hostname\": \"mx1.mail.company-y.example\", \
         \"failed-session-count\": 303}}]}}]}}\n",
        &json[..start]
    );
    let f = dir.write("warning-only.json", warning_only);
    let r = run(&["report", "summarize", "--json", &f]).ok();
    assert_eq!(r.json()["alerts"][0]["severity"], "warning");
    // A failed input: 1, even with error alerts.
    let bad = dir.write("bad.json", "{\"organization-name\": 1}");
    let r = run(&["report", "summarize", &a, &bad]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr
            .ends_with("\nerror: 1 of 2 inputs could not be read as reports\n"),
        "{r:#?}"
    );
    // Documented in the help.
    let help = run(&["report", "summarize", "--help"]).ok().stdout;
    assert!(help.contains("--no-fail-on-alerts"), "{help}");
    assert!(
        help.contains("3 every input read, but an alert has severity error"),
        "{help}"
    );
}

#[test]
fn summarize_files_only_exit_0() {
    let a = report("mail-auth/rpt01.json");
    let b = report("mail-auth/rpt02.json");
    let r = run(&[
        "report",
        "summarize",
        "--json",
        "--no-fail-on-alerts",
        &a,
        &b,
    ])
    .ok();
    assert_eq!(r.json()["reports"], 2);
    assert_eq!(r.stderr, "warning: 1 input had 1 warning (use -v)\n");
    let r = run(&["report", "summarize", "--json", "--no-fail-on-alerts", &a]).ok();
    assert_eq!(r.stderr, "");
    // An empty directory: an empty summary, with a warning.
    let dir = TempDir::new();
    let empty = dir.0.to_str().unwrap();
    let r = run(&["report", "summarize", "--json", empty]).ok();
    assert_eq!(r.json()["reports"], 0);
    assert_eq!(
        r.stderr,
        format!("warning: {empty}: no files in this directory\n")
    );
}

/// A missing path fails the command before anything is read or printed.
#[test]
fn summarize_and_export_fail_first_on_a_missing_path() {
    let a = report("mail-auth/rpt01.json");
    let dir = TempDir::new();
    let missing = dir.path("missing");
    for command in ["summarize", "export"] {
        for json_flag in [false, true] {
            let mut args = vec!["report", command, &a, &missing];
            if json_flag {
                args.push("--json");
            }
            let r = run(&args);
            assert_eq!(
                r.fails_alone(),
                format!("error: {missing}: No such file or directory (os error 2)")
            );
            assert_eq!(r.stdout, "", "{r:#?}");
        }
    }
    // `-` twice: stdin is read once.
    let e = run(&["report", "summarize", "-", "-"]).fails_alone();
    assert_eq!(e, "error: -: stdin can be read only once");
}

/// `-` reads one input from stdin, alone or next to files.
#[test]
fn summarize_and_export_read_stdin() {
    let eml = report_bytes("mail-auth/rpt01.eml");
    let r = run_with_stdin(
        &[
            "report",
            "summarize",
            "--json",
            "--no-fail-on-alerts",
            "-v",
            "-",
        ],
        &eml,
    )
    .ok();
    let v = r.json();
    assert_eq!(v["reports"], 1);
    assert_eq!(v["inputs"]["warnings"][0]["source"], "<stdin>");
    assert!(
        r.stderr
            .starts_with("warning: <stdin>: TLS-Report-Submitter "),
        "{r:#?}"
    );
    let b = report("mail-auth/rpt02.json");
    let r = run_with_stdin(&["report", "export", &b, "-"], &eml).ok();
    let sources: Vec<String> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["source"].to_string())
        .collect();
    assert_eq!(sources.first().unwrap(), &format!("\"{b}\""));
    assert_eq!(sources.last().unwrap(), "\"<stdin>\"");
    // stdin that is no report: named on the command line, so an error.
    let r = run_with_stdin(&["report", "summarize", "-"], b"hello\n");
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.starts_with(
            "error: <stdin>: not a TLS-RPT report (neither JSON, gzip nor an e-mail)\n"
        ),
        "{r:#?}"
    );
}

/// An mbox of two report e-mails and ordinary mail: both reports are read
/// (`PATH#N`), the ordinary mail is skipped with a warning, or with
/// `--strict-inputs` is an error.
#[test]
fn mbox_yields_every_report() {
    let dir = TempDir::new();
    let eml1 = report_bytes("mail-auth/rpt01.eml");
    let eml2 = String::from_utf8(report_bytes("mail-auth/rpt02.eml")).unwrap();
    let lunch = "From: a@example.com\nTo: b@example.com\nSubject: lunch?\n\nAt noon.\n";
    let mut mbox = Vec::new();
    for m in [&eml1[..], lunch.as_bytes(), eml2.as_bytes()] {
        mbox.extend_from_slice(b"From MAILER-DAEMON Thu Feb 22 00:00:00 2024\n");
        mbox.extend_from_slice(m);
        mbox.extend_from_slice(b"\n");
    }
    let f = dir.write("reports.mbox", &mbox);
    let r = run(&["report", "summarize", "--json", "--no-fail-on-alerts", &f]).ok();
    let v = r.json();
    assert_eq!(v["reports"], 2, "{r:#?}");
    assert_eq!(v["successful_sessions"], 5326 + 23);
    assert_eq!(v["inputs"]["skipped"], 1);
    assert_eq!(v["inputs"]["skipped_inputs"][0]["source"], format!("{f}#2"));
    let skipped = format!(
        "warning: {f}#2: no tls-rpt report part in the e-mail (parts seen: 1 text/plain); skipped"
    );
    assert!(r.stderr.lines().any(|l| l == skipped), "{r:#?}");
    // Export: rows from both messages, named by message.
    let r = run(&["report", "export", &f]).ok();
    let sources: std::collections::BTreeSet<String> = r
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["source"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        sources.into_iter().collect::<Vec<_>>(),
        [format!("{f}#1"), format!("{f}#3")]
    );
    // `report parse` reads one report: the first message, and says so.
    let r = run(&["report", "parse", &f]).ok();
    assert_eq!(r.json()["organization-name"], "Company-X");
    assert!(
        r.stderr.lines().any(|l| l
            == format!(
                "warning: {f}: the input is an mbox of 3 messages; only the first was read"
            )),
        "{r:#?}"
    );
    // --strict-inputs: the ordinary mail is an error.
    let r = run(&["report", "summarize", "--strict-inputs", "--json", &f]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert_eq!(r.json()["reports"], 2);
    assert!(
        r.stderr.lines().any(|l| l
            == format!(
                "error: {f}#2: no tls-rpt report part in the e-mail (parts seen: 1 text/plain)"
            )),
        "{r:#?}"
    );
    assert!(
        r.stderr
            .ends_with("\nerror: 1 of 3 inputs could not be read as reports\n"),
        "{r:#?}"
    );
}

/// A Maildir: report mails are read, other mail is skipped with a warning
/// (`--strict-inputs`: an error); a file that is no report named on the
/// command line is an error.
#[test]
fn maildir_skips_mail_that_is_no_report() {
    let dir = TempDir::new();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir(dir.0.join(sub)).unwrap();
    }
    dir.write(
        "cur/1708560000.1.host:2,S",
        report_bytes("mail-auth/rpt01.eml"),
    );
    let other = dir.write(
        "new/1708560001.2.host",
        "From: a@example.com\r\nSubject: hi\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n",
    );
    let d = dir.0.to_str().unwrap();
    let r = run(&["report", "summarize", "--json", "--no-fail-on-alerts", d]).ok();
    assert_eq!(r.json()["reports"], 1);
    assert_eq!(
        r.stderr,
        format!(
            "warning: {other}: no tls-rpt report part in the e-mail (parts seen: 1 text/html); \
             skipped\nwarning: 1 input had 2 warnings (use -v)\n"
        )
    );
    let r = run(&["report", "export", "--strict-inputs", d]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stdout.starts_with("{\"organization_name\":\"Company-X\""),
        "{r:#?}"
    );
    assert!(
        r.stderr.starts_with(&format!(
            "error: {other}: no tls-rpt report part in the e-mail"
        )),
        "{r:#?}"
    );
    let r = run(&["report", "summarize", &other]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert_eq!(
        r.stderr,
        format!(
            "error: {other}: no tls-rpt report part in the e-mail (parts seen: 1 text/html)\n\
             error: 1 of 1 input could not be read as reports\n"
        )
    );
}

/// `--since`/`--until` (the UTC day a report starts on, inclusive),
/// `--domain` and `--top` narrow the tables; the JSON says what was left
/// out.
#[test]
fn summarize_filters_and_top() {
    let dir = TempDir::new();
    let template = String::from_utf8(report_bytes("mail-auth/rpt01.json")).unwrap();
    for (day, id) in [
        ("2024-03-01", "a"),
        ("2024-03-02", "b"),
        ("2024-03-03", "c"),
    ] {
        let json = template
            .replace("2016-04-01T00:00:00Z", &format!("{day}T00:00:00Z"))
            .replace("2016-04-01T23:59:59Z", &format!("{day}T23:59:59Z"))
            .replace("5065427c-23d3-47ca-b6e0-946ea0e8c4be", id);
        assert_ne!(json, template);
        dir.write(&format!("{id}.json"), json);
    }
    dir.write("other.json", report_bytes("mail-auth/rpt02.json"));
    let d = dir.0.to_str().unwrap();
    let base = ["report", "summarize", "--no-fail-on-alerts", "--json"];
    let summarize = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args.push(d);
        run(&args).ok().json()
    };
    let v = summarize(&["--since", "2024-03-02", "--until", "2024-03-03"]);
    assert_eq!(
        (v["reports"].clone(), v["left_out"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(
        v["by_day"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["2024-03-02", "2024-03-03"]
    );
    assert_eq!(
        v["filter"],
        json!({"since": "2024-03-02", "until": "2024-03-03", "domains": []})
    );
    // --until also ends the readiness window.
    assert_eq!(v["readiness"][0]["window_end"], "2024-03-03");
    let v = summarize(&["--domain", "EXAMPLE.COM."]);
    assert_eq!(
        (v["reports"].clone(), v["left_out"].clone()),
        (json!(1), json!(3))
    );
    assert_eq!(v["filter"]["domains"], json!(["example.com"]));
    assert_eq!(
        v["by_policy_domain"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["example.com"]
    );
    let v = summarize(&["--domain", "example.com", "--domain", "company-y.example"]);
    assert_eq!(v["reports"], 4);
    // --top: at most N rows per text table; JSON lists everything.
    let r = run(&[
        "report",
        "summarize",
        "--no-fail-on-alerts",
        "--top",
        "1",
        d,
    ])
    .ok();
    assert!(r.stdout.contains(
        "\nBy day (UTC)\nDay         Reports  Successful  Failed\n2024-03-03        1        5326     303\n(3 more not shown)\n"
    ), "{r:#?}");
    assert!(r.stdout.contains(
        "\nFailures by result type\nResult type             Failed\nstarttls-not-supported     600\n(3 more not shown)\n"
    ), "{r:#?}");
    let v = summarize(&["--top", "1"]);
    assert_eq!(v["by_day"].as_object().unwrap().len(), 4);
    // Usage errors.
    for bad in [
        &["--since", "2024-3-1"][..],
        &["--until", "2024-02-30"],
        &["--since", "2024-03-02", "--until", "2024-03-01"],
        &["--top", "0"],
        &["--readiness-days", "0"],
    ] {
        let mut args = vec!["report", "summarize"];
        args.extend_from_slice(bad);
        args.push(d);
        run(&args).usage_error();
    }
    let mut args = vec![
        "report",
        "export",
        "--since",
        "2024-03-02",
        "--until",
        "2024-03-01",
    ];
    args.push(d);
    run(&args).usage_error();
    // export narrows the same way.
    let r = run(&[
        "report",
        "export",
        "--since",
        "2024-03-03",
        "--domain",
        "company-y.example",
        d,
    ])
    .ok();
    let rows: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4, "{r:#?}");
    assert!(rows.iter().all(|r| r["report_id"] == "c"), "{r:#?}");
}

#[test]
fn export_csv() {
    let dir = corpus_dir();
    let d = dir.0.to_str().unwrap();
    let r = run(&["report", "export", "--format", "csv", d]);
    assert_eq!(r.code, 1, "{r:#?}");
    let lines: Vec<&str> = r.stdout.split_terminator("\r\n").collect();
    assert!(r.stdout.ends_with("\r\n"));
    assert_eq!(lines[0], CSV_HEADER);
    // rpt01: 1 policy + 3 failure details; rpt02: 1 + 1; microsoft: 2 + 0;
    // the e-mail copy of rpt01 is not exported again.
    assert_eq!(lines.len(), 1 + 4 + 2 + 2, "{r:#?}");
    assert!(
        lines[1].starts_with("Company-X,2016-04-01T00:00:00Z,"),
        "{r:#?}"
    );
    assert!(lines[8].starts_with("Microsoft Corporation,"), "{r:#?}");
    let dup = format!(
        "warning: {}: same report as {} (organization-name and report-id); not exported again",
        dir.path("b-rpt01.eml"),
        dir.path("a-rpt01.json")
    );
    assert!(r.stderr.lines().any(|l| l == dup), "{r:#?}");
    assert!(
        r.stderr
            .ends_with("\nerror: 1 of 6 inputs could not be read as reports\n"),
        "{r:#?}"
    );
    // Only the header when there is nothing to export.
    let empty = TempDir::new();
    let r = run(&[
        "report",
        "export",
        "--format",
        "csv",
        &empty.0.to_string_lossy(),
    ])
    .ok();
    assert_eq!(r.stdout, format!("{CSV_HEADER}\r\n"));
}

#[test]
fn export_csv_formula_guard() {
    let dir = TempDir::new();
    let json = String::from_utf8(report_bytes("mail-auth/rpt02.json"))
        .unwrap()
        .replace("\"Google Inc.\"", "\"=HYPERLINK(1)\"");
    let f = dir.write("evil.json", json);
    let r = run(&["report", "export", "--format", "csv", &f]).ok();
    assert!(r.stdout.contains("\r\n=HYPERLINK(1),"), "{r:#?}");
    let r = run(&["report", "export", "--format", "csv", "--formula-guard", &f]).ok();
    assert!(r.stdout.contains("\r\n'=HYPERLINK(1),"), "{r:#?}");
    assert!(!r.stdout.contains("\r\n=HYPERLINK"), "{r:#?}");
}

#[test]
fn export_ndjson() {
    let dir = corpus_dir();
    let d = dir.0.to_str().unwrap();
    let r = run(&["--json", "report", "export", "--format", "ndjson", d]);
    assert_eq!(r.code, 1, "{r:#?}");
    // NDJSON is the default format.
    let default = run(&["report", "export", d]);
    assert_eq!(default.stdout, r.stdout);
    let rows: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(rows.len(), 8, "{r:#?}");
    for row in &rows {
        assert_eq!(row.as_object().unwrap().len(), 18, "{row}");
    }
    assert_eq!(rows[0]["source"], dir.path("a-rpt01.json"));
    assert_eq!(rows[0]["successful_session_count"], 5326);
    assert_eq!(rows[1]["result_type"], "certificate-expired");
    assert_eq!(rows[1]["successful_session_count"], Value::Null);
    assert_eq!(rows[4]["source"], dir.path("rpt02.json.gz"));
    assert_eq!(rows[7]["source"], dir.path("sub/microsoft.json"));
    assert_eq!(rows[7]["policy_type"], "tlsa");
}

#[test]
fn report_usage_errors_exit_2() {
    let f = report("mail-auth/rpt01.json");
    run(&["report", "export", "--format", "xml", &f]).usage_error();
    run(&["report", "export", "--format", "csv"]).usage_error();
    for args in [
        &[
            "report",
            "export",
            "--format",
            "ndjson",
            "--formula-guard",
            &f,
        ][..],
        &["report", "export", "--formula-guard", &f],
    ] {
        let r = run(args);
        r.usage_error();
        assert!(r.stderr.contains("--formula-guard"), "{r:#?}");
    }
    run(&["report", "summarize"]).usage_error();
    run(&["report", "parse"]).usage_error();
    run(&["report", "parse", &f, &f]).usage_error();
    let r = run(&["report"]);
    assert_eq!(r.code, 2, "{r:#?}");
    let r = run(&["report", "export", "--help"]).ok();
    assert!(r.stdout.contains("--formula-guard"), "{r:#?}");
    assert!(r.stdout.contains("[default: ndjson]"), "{r:#?}");
}

#[test]
fn export_stops_when_stdout_closes() {
    let dir = TempDir::new();
    let json = String::from_utf8(report_bytes("mail-auth/rpt01.json")).unwrap();
    for i in 0..300 {
        let id = format!("\"report-id\": \"r{i}\"");
        let text = json.replace(
            "\"report-id\": \"5065427c-23d3-47ca-b6e0-946ea0e8c4be\"",
            &id,
        );
        assert_ne!(text, json);
        dir.write(&format!("r{i:03}.json"), text);
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mtasts"))
        .args([
            "report",
            "export",
            "--format",
            "ndjson",
            dir.0.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

// ---------------------------------------------------------------- hardening (issue 15)

/// Run `mtasts` with `args`, killing it (and failing the test) if it has
/// not finished within 60 seconds: the walk must never block.
#[cfg(unix)]
fn run_bounded(args: &[&str]) -> common::Run {
    use std::time::{Duration, Instant};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mtasts"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mtasts {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    common::Run {
        code: out.status.code().expect("killed by a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Issue 15 item 7: a directory holding a FIFO, links to directories (one
/// of them a loop back to the directory), a symbolic link loop and a file
/// whose name carries a terminal escape: the command finishes, reports
/// each of them, follows nothing and escapes the name.
#[cfg(unix)]
#[test]
fn summarize_walk_reports_fifo_and_link_loops_and_finishes() {
    use std::os::unix::fs::symlink;
    let dir = TempDir::new();
    dir.write("a-rpt01.json", report_bytes("mail-auth/rpt01.json"));
    dir.write("evil\x1b[2J\u{202e}.txt", "not a report\n");
    dir.write("empty.json", "");
    let fifo = dir.path("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    symlink(&dir.0, dir.0.join("loop")).unwrap();
    symlink("l2", dir.0.join("l1")).unwrap();
    symlink("l1", dir.0.join("l2")).unwrap();
    let d = dir.0.to_str().unwrap();
    for command in [
        vec!["report", "summarize", "--json", d],
        vec!["report", "export", "--format", "csv", d],
    ] {
        let r = run_bounded(&command);
        assert_eq!(r.code, 1, "{r:#?}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(
            lines[..2],
            [
                format!("warning: {fifo}: a FIFO, not a regular file; skipped"),
                format!("warning: {d}/loop: symbolic link to a directory; not followed"),
            ],
            "{r:#?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("error: {d}/l1: "))
                && l.contains("symbolic links")),
            "{r:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("error: {d}/l2: "))),
            "{r:#?}"
        );
        // Found in a directory, an empty file and a file that is no
        // report are skipped with a warning.
        let not_a_report = "not a TLS-RPT report (neither JSON, gzip nor an e-mail); skipped";
        assert!(
            lines
                .iter()
                .any(|l| *l == format!("warning: {d}/empty.json: {not_a_report}")),
            "{r:#?}"
        );
        // The name is escaped; no raw ESC or bidi override reaches stderr.
        assert!(
            lines
                .iter()
                .any(|l| *l
                    == format!("warning: {d}/evil\\u{{1b}}[2J\\u{{202e}}.txt: {not_a_report}")),
            "{r:#?}"
        );
        assert!(!r.stderr.contains(['\u{1b}', '\u{202e}']), "{r:#?}");
        assert_eq!(
            *lines.last().unwrap(),
            "error: 2 of 5 inputs could not be read as reports",
            "{r:#?}"
        );
    }
    let r = run_bounded(&["report", "summarize", "--json", d]);
    assert_eq!(r.json()["reports"], 1);
    // A link on the command line is followed once: the same result.
    let via_link = dir.path("loop");
    let r = run_bounded(&["report", "summarize", "--json", &via_link]);
    assert_eq!(r.json()["reports"], 1, "{r:#?}");
    assert!(
        r.stderr.lines().any(|l| l
            == format!("warning: {via_link}/loop: symbolic link to a directory; not followed")),
        "{r:#?}"
    );
}

/// Issue 15 item 7: values of a report reach the text summary and the CSV
/// export escaped, so the output cannot drive a terminal.
#[test]
fn summary_text_and_csv_escape_report_values() {
    let dir = TempDir::new();
    let json = String::from_utf8(report_bytes("mail-auth/rpt02.json"))
        .unwrap()
        .replace(
            "\"Google Inc.\"",
            "\"Google\\u001b]0;owned\\u0007 \\u202eInc.\\r\\nX\"",
        );
    let f = dir.write("evil.json", json);
    let r = run(&["report", "summarize", "--no-fail-on-alerts", &f]).ok();
    assert!(
        !r.stdout.contains(['\u{1b}', '\u{7}', '\u{202e}', '\r']),
        "{r:#?}"
    );
    assert!(
        r.stdout
            .contains("Google\\u{1b}]0;owned\\u{7} \\u{202e}Inc.\\r\\nX"),
        "{r:#?}"
    );
    let r = run(&["report", "export", "--format", "csv", &f]).ok();
    assert!(
        r.stdout
            .contains("\r\nGoogle\\u{1b}]0;owned\\u{7} \\u{202e}Inc.\\r\\nX,"),
        "{r:#?}"
    );
    assert!(
        !r.stdout.contains(['\u{1b}', '\u{7}', '\u{202e}']),
        "{r:#?}"
    );
    // JSON keeps the value (escaped by JSON itself).
    let r = run(&["report", "summarize", "--json", "--no-fail-on-alerts", &f]).ok();
    assert!(
        r.json()["by_organization"]
            .as_object()
            .unwrap()
            .contains_key("Google\u{1b}]0;owned\u{7} \u{202e}Inc.\r\nX"),
        "{r:#?}"
    );
}

/// Issue 15 item 4: distinct MX host names across files do not grow the
/// summary without bound; `--max-groups` keeps the first N and counts the
/// rest under `(other)`, with a warning.
#[test]
fn summarize_max_groups_folds_distinct_hosts() {
    let dir = TempDir::new();
    for f in 0..3 {
        let details: Vec<String> = (0..50)
            .map(|i| {
                format!(
                    r#"{{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"mx{f}-{i}.example.com","failed-session-count":1}}"#
                )
            })
            .collect();
        dir.write(
            &format!("r{f}.json"),
            format!(
                r#"{{"organization-name":"org","date-range":{{"start-datetime":"2024-01-01T00:00:00Z","end-datetime":"2024-01-01T23:59:59Z"}},"contact-info":"a@org.example","report-id":"r{f}","policies":[{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: *.example.com","max_age: 86400"],"policy-domain":"example.com","mx-host":["*.example.com"]}},"summary":{{"total-successful-session-count":0,"total-failure-session-count":50}},"failure-details":[{}]}}]}}"#,
                details.join(",")
            ),
        );
    }
    let d = dir.0.to_str().unwrap();
    let r = run(&["report", "summarize", "--json", "--max-groups", "10", d]);
    assert_eq!(r.code, 3, "{r:#?}");
    let v = r.json();
    let hosts = v["by_mx_host"].as_object().unwrap();
    assert_eq!(hosts.len(), 11);
    assert_eq!(hosts["(other)"]["failed_sessions"], 140);
    assert_eq!(v["folded"]["by_mx_host"], 140);
    assert_eq!(v["failed_sessions"], 150);
    assert!(
        r.stderr.contains(
            "warning: by_mx_host: more than 10 distinct keys; 140 addition(s) counted under (other) (--max-groups)"
        ),
        "{}",
        r.stderr
    );
    let r = run(&["report", "summarize", "--max-groups", "0", d]);
    assert_eq!(r.code, 2, "{r:#?}");
}

/// A file larger than the read cap (the e-mail limit, 64 MiB by default)
/// is refused without being read whole (docs/limits.md).
#[test]
fn parse_input_larger_than_the_read_cap() {
    let dir = TempDir::new();
    let big = dir.write("big.json", vec![b' '; (64 << 20) + 1]);
    let e = run(&["report", "parse", &big]).fails_alone();
    assert_eq!(
        e,
        format!("error: {big}: input is larger than the limit of 67108864 bytes")
    );
}
