//! `mtasts report aggregate` prints the first 100 errors and the first
//! 100 warnings, then one line counting the rest: the diagnostics of a
//! large bad input stay bounded, and nothing is dropped without being
//! counted.

mod common;

use common::{TempDir, aggregate_args, run};

const STS: &str = r#""policy-type":2,"policy-domain":"example.com","policy-string":["version: STSv1","mode: enforce","mx: mx.example.com","max_age: 86400"],"mx-host":["mx.example.com"]"#;

/// A successful `sts` session for example.com.
fn success() -> String {
    format!(
        r#"{{"dpv":"1","d":"example.com","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@example.com","policies":[{{{STS},"t":0,"f":0}}]}}"#
    )
}

/// A usable datagram with one warning (no policy-domain: taken from `d`).
const WARNS: &str = r#"{"dpv":"1","d":"example.net","policies":[{"policy-type":9,"t":0,"f":0}]}"#;

/// An unusable line.
const GARBAGE: &str = "garbage";

fn args(file: &str) -> Vec<&str> {
    aggregate_args(&["--json", file])
}

/// Run over `errors` unusable lines, then `warnings` lines with a
/// warning, then one clean line; the stderr lines and the reports' total
/// successful sessions.
fn aggregate(errors: usize, warnings: usize) -> (String, Vec<String>, u64) {
    let tmp = TempDir::new();
    let mut lines = vec![GARBAGE.to_owned(); errors];
    lines.extend(std::iter::repeat_n(WARNS.to_owned(), warnings));
    lines.push(success());
    let file = tmp.write("datagrams.ndjson", lines.join("\n") + "\n");
    let r = run(&args(&file));
    assert_eq!(r.code, 1, "{r:#?}");
    let sessions = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|report| report["policies"].as_array().unwrap().clone())
        .map(|p| {
            p["summary"]["total-successful-session-count"]
                .as_u64()
                .unwrap()
        })
        .sum();
    let stderr = r.stderr.lines().map(str::to_owned).collect();
    (file, stderr, sessions)
}

#[test]
fn one_hundred_errors_and_warnings_are_all_shown() {
    let (file, stderr, sessions) = aggregate(100, 100);
    assert_eq!(stderr.len(), 201, "{stderr:#?}");
    for (i, l) in stderr[..100].iter().enumerate() {
        assert!(
            l.starts_with(&format!("error: {file}:{}: datagram is not valid: ", i + 1)),
            "{l}"
        );
    }
    for (i, l) in stderr[100..200].iter().enumerate() {
        assert!(
            l.starts_with(&format!(
                "warning: {file}:{}: /policies/0/policy-domain: ",
                i + 101
            )),
            "{l}"
        );
    }
    assert!(!stderr.iter().any(|l| l.contains("not shown")));
    assert_eq!(
        stderr[200],
        "error: 100 of 201 datagram lines could not be counted"
    );
    // The lines with warnings and the clean line are counted.
    assert_eq!(sessions, 101);
}

#[test]
fn beyond_one_hundred_the_rest_are_counted_in_one_line() {
    let (file, stderr, sessions) = aggregate(150, 120);
    assert_eq!(stderr.len(), 202, "{stderr:#?}");
    // The first 100 unusable lines (1 to 100) ...
    let errors: Vec<&String> = stderr.iter().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 101);
    for (i, l) in errors[..100].iter().enumerate() {
        assert!(
            l.starts_with(&format!("error: {file}:{}: datagram is not valid: ", i + 1)),
            "{l}"
        );
    }
    // ... and the first 100 warnings (lines 151 to 250) ...
    let warnings: Vec<&String> = stderr
        .iter()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 101);
    for (i, l) in warnings[..100].iter().enumerate() {
        assert!(
            l.starts_with(&format!(
                "warning: {file}:{}: /policies/0/policy-domain: ",
                i + 151
            )),
            "{l}"
        );
    }
    // ... then one line counting the rest, then the status line.
    assert_eq!(
        stderr[200],
        "warning: 50 more unusable lines and 20 more warnings not shown"
    );
    assert_eq!(
        stderr[201],
        "error: 150 of 271 datagram lines could not be counted"
    );
    // Every usable line is counted, shown or not.
    assert_eq!(sessions, 121);
}
