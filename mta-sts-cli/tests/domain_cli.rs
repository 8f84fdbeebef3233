//! `mtasts domain add|set|remove|list|show|records|configure`, run as
//! the real binary against a site store in a temporary directory, and
//! once against PostgreSQL at 127.0.0.1:5432.

mod common;

use common::{Run, TempDir, run};
use serde_json::{Value, json};

/// `mtasts [--json] domain <args> --state DIR`.
fn domain(state: &str, json_out: bool, args: &[&str]) -> Run {
    let mut v: Vec<&str> = Vec::new();
    if json_out {
        v.push("--json");
    }
    v.push("domain");
    v.extend_from_slice(args);
    v.extend_from_slice(&["--state", state]);
    run(&v)
}

fn ids_of(history: &Value) -> Vec<String> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["policy_id"].as_str().unwrap().to_owned())
        .collect()
}

fn is_id(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn add_show_records_list() {
    let dir = TempDir::new();
    let state = dir.path("state");
    let add = domain(
        &state,
        true,
        &[
            "add",
            "Example.COM.",
            "--mx",
            "mx1.example.com",
            "*.example.net",
        ],
    )
    .ok();
    let j = add.json();
    assert_eq!(j["domain"], "example.com");
    assert_eq!(j["mode"], "testing");
    assert_eq!(j["max_age"], 604_800);
    assert_eq!(j["rua"], json!(["mailto:tlsrpt@example.com"]));
    assert_eq!(j["mx"], json!(["mx1.example.com", "*.example.net"]));
    assert_eq!(j["version"], 1);
    assert_eq!(
        j["body"],
        "version: STSv1\r\nmode: testing\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"
    );
    assert_eq!(j["warnings"], json!([]));
    let id = j["policy_id"].as_str().unwrap().to_owned();
    assert!(is_id(&id), "{id}");
    assert!(id.ends_with("000001"), "{id}");
    assert!(add.stderr.is_empty(), "{add:#?}");

    // No target yet: a clear error.
    let e = domain(&state, false, &["records", "example.com"]).fails_alone();
    assert!(e.contains("no CNAME target"), "{e}");
    assert!(e.contains("--target"), "{e}");

    // With --target.
    let r = domain(
        &state,
        true,
        &["records", "example.com", "--target", "sts.host.example.net"],
    )
    .ok();
    assert_eq!(
        r.json(),
        json!({
            "domain": "example.com",
            "records": [
                {"name": "_mta-sts.example.com.", "type": "TXT", "value": format!("v=STSv1; id={id}")},
                {"name": "mta-sts.example.com.", "type": "CNAME", "value": "sts.host.example.net."},
                {"name": "_smtp._tls.example.com.", "type": "TXT", "value": "v=TLSRPTv1; rua=mailto:tlsrpt@example.com"},
            ],
            "policy_id": id,
        })
    );

    // Configured target; zone-file lines.
    let c = domain(
        &state,
        true,
        &[
            "configure",
            "--target",
            "STS.Host.Example.NET",
            "--address",
            "192.0.2.7",
            "2001:db8::7",
        ],
    )
    .ok();
    assert_eq!(
        c.json(),
        json!({"target": "sts.host.example.net", "addresses": ["192.0.2.7", "2001:db8::7"]})
    );
    let c = domain(&state, false, &["configure"]).ok();
    assert_eq!(
        c.stdout,
        "target: sts.host.example.net\naddresses: 192.0.2.7, 2001:db8::7\n"
    );
    let r = domain(&state, false, &["records", "example.com"]).ok();
    assert_eq!(
        r.stdout,
        format!(
            "_mta-sts.example.com. IN TXT \"v=STSv1; id={id}\"\n\
             mta-sts.example.com. IN CNAME sts.host.example.net.\n\
             _smtp._tls.example.com. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\"\n"
        )
    );
    assert!(r.stderr.is_empty(), "{r:#?}");

    // A second domain with its own settings; a max_age warning.
    let a2 = domain(
        &state,
        true,
        &[
            "add",
            "b.example",
            "--mx",
            "mx.b.example",
            "--mode",
            "enforce",
            "--max-age",
            "3600",
            "--rua",
            "mailto:rep@b.example",
            "https://r.example.net/v1/tlsrpt",
        ],
    )
    .ok();
    let j2 = a2.json();
    assert_eq!(j2["mode"], "enforce");
    assert_eq!(j2["max_age"], 3600);
    assert_eq!(j2["warnings"][0]["code"], "short-max-age");
    assert!(a2.stderr.starts_with("warning: max_age 3600"), "{a2:#?}");

    let l = domain(&state, true, &["list"]).ok().json();
    let names: Vec<&str> = l
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b.example", "example.com"]);
    assert_eq!(l[1]["policy_id"], id.as_str());
    assert_eq!(l[0]["mode"], "enforce");
    let l = domain(&state, false, &["list"]).ok();
    assert_eq!(l.stdout.lines().count(), 2);
    assert!(l.stdout.starts_with("b.example  enforce  "), "{l:#?}");

    let s = domain(&state, true, &["show", "example.com"]).ok().json();
    assert_eq!(s["domain"], "example.com");
    assert_eq!(s["policy_id"], id.as_str());
    assert_eq!(s["days_in_mode"], 0);
    assert_eq!(s["pending"], Value::Null);
    assert_eq!(s["removing_until"], Value::Null);
    assert_eq!(ids_of(&s["history"]), std::slice::from_ref(&id));
    assert_eq!(s["history"][0]["mode"], "testing");
    let t = domain(&state, false, &["show", "example.com"]).ok().stdout;
    assert!(t.contains(&format!("policy id: {id}\n")), "{t}");
    assert!(t.contains("mode: testing for 0 days"), "{t}");
    assert!(t.contains("  mx: *.example.net\n"), "{t}");
}

#[test]
fn set_rotates_the_id_only_on_change_and_waits() {
    let dir = TempDir::new();
    let state = dir.path("state");
    let id1 = domain(
        &state,
        true,
        &["add", "example.com", "--mx", "mx1.example.com"],
    )
    .ok()
    .json()["policy_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Only the rua changes: same body, same id, nothing to wait for.
    let started = std::time::Instant::now();
    let s = domain(
        &state,
        true,
        &["set", "example.com", "--rua", "mailto:other@example.com"],
    )
    .ok()
    .json();
    assert!(started.elapsed().as_secs() < 4);
    assert_eq!(s["changed"], false);
    assert_eq!(s["policy_id"], id1.as_str());
    assert_eq!(s["rua"], json!(["mailto:other@example.com"]));
    assert_eq!(s["pending"], Value::Null);

    // A body change without waiting: the new id is pending.
    let s = domain(
        &state,
        true,
        &["set", "example.com", "--mx", "mx2.example.com", "--no-wait"],
    )
    .ok()
    .json();
    assert_eq!(s["changed"], true);
    let id2 = s["pending"]["policy_id"].as_str().unwrap().to_owned();
    assert!(is_id(&id2) && id2 > id1, "{id2} after {id1}");
    assert_eq!(s["pending"]["version"], 2);
    assert!(
        s["pending"]["publish_from"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    // The published id is still the first one; records says the same,
    // with a note on stderr.
    assert_eq!(s["policy_id"], id1.as_str());
    let r = domain(
        &state,
        true,
        &["records", "example.com", "--target", "sts.example.net"],
    )
    .ok();
    assert_eq!(r.json()["policy_id"], id1.as_str());
    assert!(r.stderr.starts_with("warning: a new policy id"), "{r:#?}");
    assert!(r.stderr.contains(&id2), "{r:#?}");

    // A change with the default wait: the id printed is served.
    let started = std::time::Instant::now();
    let s = domain(&state, true, &["set", "example.com", "--mode", "enforce"])
        .ok()
        .json();
    assert!(
        started.elapsed().as_secs() >= 4,
        "set waits out the propagation"
    );
    assert_eq!(s["changed"], true);
    assert_eq!(s["mode"], "enforce");
    assert_eq!(s["pending"], Value::Null);
    let id3 = s["policy_id"].as_str().unwrap().to_owned();
    assert!(id3 > id2, "{id3} after {id2}");
    assert_eq!(s["version"], 3);
    let r = domain(
        &state,
        true,
        &["records", "example.com", "--target", "sts.example.net"],
    )
    .ok();
    assert_eq!(r.json()["policy_id"], id3.as_str());
    assert!(r.stderr.is_empty(), "{r:#?}");

    let show = domain(&state, true, &["show", "example.com"]).ok().json();
    assert_eq!(ids_of(&show["history"]), [id1, id2, id3.clone()]);
    assert_eq!(show["mode"], "enforce");
    assert_eq!(
        show["body"],
        "version: STSv1\r\nmode: enforce\r\nmx: mx2.example.com\r\nmax_age: 604800\r\n"
    );

    // Setting what is already there: no new id.
    let s = domain(&state, true, &["set", "example.com", "--mode", "enforce"])
        .ok()
        .json();
    assert_eq!(s["changed"], false);
    assert_eq!(s["policy_id"], id3.as_str());
    let t = domain(&state, false, &["set", "example.com", "--mode", "enforce"]).ok();
    assert!(t.stdout.contains("unchanged; the id stays"), "{t:#?}");
}

#[test]
fn remove_serves_mode_none_then_now_deletes() {
    let dir = TempDir::new();
    let state = dir.path("state");
    domain(
        &state,
        false,
        &[
            "add",
            "example.com",
            "--mx",
            "mx.example.com",
            "--max-age",
            "86400",
        ],
    )
    .ok();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let r = domain(&state, true, &["remove", "example.com"]).ok().json();
    assert_eq!(r["domain"], "example.com");
    assert_eq!(r["removed"], false);
    assert_eq!(r["mode"], "none");
    let until = r["serving_until_unix"].as_i64().unwrap();
    // The old max_age plus the propagation grace.
    assert!(
        (before + 86_400 + 5..=before + 86_400 + 5 + 3).contains(&until),
        "{until} vs {before}"
    );
    let show = domain(&state, true, &["show", "example.com"]).ok().json();
    assert_eq!(show["mode"], "none");
    assert_eq!(show["removing_until"], r["serving_until"]);
    assert_eq!(
        show["body"],
        "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n"
    );
    assert_eq!(show["history"].as_array().unwrap().len(), 2);
    // Removing again keeps the deadline.
    let again = domain(&state, true, &["remove", "example.com"]).ok().json();
    assert_eq!(again["serving_until_unix"], until);
    let t = domain(&state, false, &["list"]).ok().stdout;
    assert!(t.contains("removing until"), "{t}");
    let txt = domain(&state, false, &["remove", "example.com"])
        .ok()
        .stdout;
    assert!(txt.contains("now serving mode none"), "{txt}");

    let r = domain(&state, true, &["remove", "example.com", "--now"])
        .ok()
        .json();
    assert_eq!(r, json!({"domain": "example.com", "removed": true}));
    assert_eq!(domain(&state, true, &["list"]).ok().json(), json!([]));
    let e = domain(&state, false, &["remove", "example.com", "--now"]).fails_alone();
    assert!(e.contains("example.com is not hosted here"), "{e}");
}

#[test]
fn refusals_exit_1_and_usage_exit_2() {
    let dir = TempDir::new();
    let state = dir.path("state");
    // Bad pattern.
    let e = domain(
        &state,
        false,
        &["add", "example.com", "--mx", "mx..example.com"],
    )
    .fails_alone();
    assert!(e.contains("domain add example.com: refused"), "{e}");
    assert!(e.contains("invalid mx pattern `mx..example.com`"), "{e}");
    // A policy that would not work (lint error), with its fix.
    let e = domain(&state, false, &["add", "example.com", "--mx", "*.com"]).fails_alone();
    assert!(e.contains("wildcard-public-suffix"), "{e}");
    assert!(e.contains("fix:"), "{e}");
    // Bad name, bad rua.
    let e = domain(
        &state,
        false,
        &["add", "exa mple.com", "--mx", "mx.example.com"],
    )
    .fails_alone();
    assert!(e.contains("invalid domain"), "{e}");
    let e = domain(
        &state,
        false,
        &[
            "add",
            "example.com",
            "--mx",
            "mx.example.com",
            "--rua",
            "ftp://x.example",
        ],
    )
    .fails_alone();
    assert!(e.contains("rua `ftp://x.example`"), "{e}");
    // Too large a max_age.
    let e = domain(
        &state,
        false,
        &[
            "add",
            "example.com",
            "--mx",
            "mx.example.com",
            "--max-age",
            "99999999",
        ],
    )
    .fails_alone();
    assert!(e.contains("max_age 99999999"), "{e}");
    // Nothing was stored by the refusals.
    assert_eq!(domain(&state, true, &["list"]).ok().json(), json!([]));
    // Duplicate add.
    domain(
        &state,
        false,
        &["add", "example.com", "--mx", "mx.example.com"],
    )
    .ok();
    let e = domain(
        &state,
        false,
        &["add", "example.com", "--mx", "mx.example.com"],
    )
    .fails_alone();
    assert!(e.contains("example.com is already hosted"), "{e}");
    assert!(e.contains(&state), "says where: {e}");
    // Unknown domain.
    for args in [
        &["show", "nope.example"][..],
        &["set", "nope.example", "--mode", "enforce"],
        &["remove", "nope.example"],
        &["records", "nope.example", "--target", "t.example"],
    ] {
        let e = domain(&state, false, args).fails_alone();
        assert!(
            e.contains("nope.example is not hosted here"),
            "{args:?}: {e}"
        );
    }
    // A bad target.
    let e = domain(
        &state,
        false,
        &["records", "example.com", "--target", "a b"],
    )
    .fails_alone();
    assert!(e.contains("invalid target `a b`"), "{e}");
    // Usage errors.
    run(&["domain", "add", "example.com", "--mx", "mx.example.com"]).usage_error();
    domain(&state, false, &["add", "example.com"]).usage_error();
    domain(
        &state,
        false,
        &[
            "add",
            "example.com",
            "--mx",
            "m.example",
            "--mode",
            "strict",
        ],
    )
    .usage_error();
    domain(&state, false, &["set", "example.com", "--max-age", "x"]).usage_error();
    domain(&state, false, &["configure", "--address", "not-an-ip"]).usage_error();
    run(&[
        "domain",
        "list",
        "--state",
        &state,
        "--database",
        "postgres://127.0.0.1/x",
    ])
    .usage_error();
    // An unusable store: a file where the directory should be.
    let file = dir.write("plain-file", "x");
    let e = domain(&file, false, &["list"]).fails_alone();
    assert!(e.contains("opening the site store in"), "{e}");
    assert!(e.contains("plain-file"), "{e}");
}

#[test]
fn postgres_store() {
    let Some(db) = test_support::pg::TestDb::create() else {
        return;
    };
    let url = db.url("domain-cli");
    let pg = |json_out: bool, args: &[&str]| {
        let mut v: Vec<&str> = Vec::new();
        if json_out {
            v.push("--json");
        }
        v.push("domain");
        v.extend_from_slice(args);
        v.extend_from_slice(&["--database", &url]);
        run(&v)
    };
    let id1 = pg(true, &["add", "example.com", "--mx", "mx.example.com"])
        .ok()
        .json()["policy_id"]
        .as_str()
        .unwrap()
        .to_owned();
    pg(false, &["configure", "--target", "sts.example.net"]).ok();
    let s = pg(true, &["set", "example.com", "--mode", "enforce"])
        .ok()
        .json();
    let id2 = s["policy_id"].as_str().unwrap().to_owned();
    assert!(id2 > id1);
    let r = pg(true, &["records", "example.com"]).ok().json();
    assert_eq!(r["policy_id"], id2.as_str());
    assert_eq!(r["records"][1]["value"], "sts.example.net.");
    let e = pg(false, &["add", "example.com", "--mx", "mx.example.com"]).fails_alone();
    assert!(e.contains("already hosted"), "{e}");
    assert!(e.contains("the site database (--database)"), "{e}");
    assert!(!e.contains("postgres@"), "no URL in messages: {e}");
    assert_eq!(
        db.value("SELECT count(*) FROM policy_versions WHERE domain = 'example.com'")
            .as_deref(),
        Some("2")
    );
    let l = pg(true, &["list"]).ok().json();
    assert_eq!(l[0]["domain"], "example.com");
    assert_eq!(l[0]["mode"], "enforce");
    pg(false, &["remove", "example.com", "--now"]).ok();
    assert_eq!(pg(true, &["list"]).ok().json(), json!([]));
    // An unreachable server: exit 1, says where.
    let e = run(&[
        "domain",
        "list",
        "--database",
        "postgresql://postgres@127.0.0.1:9/x?connect_timeout=2",
    ])
    .fails_alone();
    assert!(e.contains("opening the site database"), "{e}");
}
