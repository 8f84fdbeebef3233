//! The generated files kept in the repository — man pages in
//! `mta-sts-cli/man/` and completion scripts in `mta-sts-cli/completions/`
//! — are what the current `mtasts` generates; a failure prints the command
//! that refreshes them. Also the usage rules of `mtasts completions` and
//! `mtasts man`.
//!
//! Unix only: the committed files include `mtasts daemon`, which exists
//! on Unix only.
#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{TempDir, run};

/// The crate directory (`mta-sts-cli/`).
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file of `dir` by name, with its content.
fn files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let text = std::fs::read_to_string(e.path()).unwrap();
            (name, text)
        })
        .collect()
}

/// The committed completion scripts: file name and shell.
const COMPLETIONS: [(&str, &str); 3] = [
    ("mtasts.bash", "bash"),
    ("_mtasts", "zsh"),
    ("mtasts.fish", "fish"),
];

#[test]
fn committed_man_pages_are_current() {
    let tmp = TempDir::new();
    let out = tmp.path("man");
    let r = run(&["man", "--out", &out]).ok();
    assert_eq!(r.stdout, "", "{r:#?}");
    assert_eq!(r.stderr, "", "{r:#?}");
    let fresh = files(Path::new(&out));
    let committed = files(&crate_dir().join("man"));
    assert!(fresh.contains_key("mtasts.1"), "{:?}", fresh.keys());
    assert!(
        fresh.contains_key("mtasts-report-summarize.1"),
        "{:?}",
        fresh.keys()
    );
    let stale: BTreeSet<&String> = fresh
        .keys()
        .chain(committed.keys())
        .filter(|name| fresh.get(*name) != committed.get(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "mta-sts-cli/man/ is stale ({stale:?} differ, are missing or are extra). \
         Refresh it from the repository root with:\n  \
         rm -f mta-sts-cli/man/*.1 && cargo run -p mta-sts-cli -- man --out mta-sts-cli/man"
    );
}

#[test]
fn committed_completions_are_current() {
    let dir = crate_dir().join("completions");
    let mut stale = Vec::new();
    for (file, shell) in COMPLETIONS {
        let r = run(&["completions", shell]).ok();
        assert_eq!(r.stderr, "", "{r:#?}");
        assert!(r.stdout.contains("mtasts"), "{r:#?}");
        let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if committed != r.stdout {
            stale.push(format!(
                "cargo run -p mta-sts-cli -- completions {shell} > mta-sts-cli/completions/{file}"
            ));
        }
    }
    // No other file: each one committed is checked above.
    let extra: Vec<String> = files(&dir)
        .into_keys()
        .filter(|name| !COMPLETIONS.iter().any(|(f, _)| f == name))
        .collect();
    assert!(
        extra.is_empty(),
        "unchecked files in mta-sts-cli/completions/: {extra:?}"
    );
    assert!(
        stale.is_empty(),
        "mta-sts-cli/completions/ is stale. Refresh it from the repository root with:\n  {}",
        stale.join("\n  ")
    );
}

#[test]
fn man_prints_the_top_level_page() {
    let r = run(&["man"]).ok();
    assert_eq!(r.stderr, "");
    assert!(r.stdout.starts_with(".ie \\n(.g"), "{r:#?}");
    assert!(r.stdout.contains(".TH mtasts 1"), "{r:#?}");
    assert!(r.stdout.contains("mtasts\\-report(1)"), "{r:#?}");
    let committed = std::fs::read_to_string(crate_dir().join("man/mtasts.1")).unwrap();
    assert_eq!(
        r.stdout, committed,
        "stdout is the page written as mtasts.1"
    );
}

#[test]
fn every_shell_is_offered_and_others_are_usage_errors() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = run(&["completions", shell]).ok();
        assert!(r.stdout.contains("mtasts"), "{shell}: {r:#?}");
        // Every command is in the script.
        for cmd in ["policy", "report", "summarize", "daemon", "completions"] {
            assert!(r.stdout.contains(cmd), "{shell} lacks {cmd}");
        }
    }
    run(&["completions", "nosuchshell"]).usage_error();
    run(&["completions"]).usage_error();
    run(&["man", "--out"]).usage_error();
    run(&["man", "extra"]).usage_error();
}

#[test]
fn man_out_creates_the_directory_and_fails_on_a_file() {
    let tmp = TempDir::new();
    let nested = tmp.path("a/b");
    run(&["man", "--out", &nested]).ok();
    assert!(Path::new(&nested).join("mtasts-daemon.1").is_file());
    let file = tmp.write("file", "x");
    let e = run(&["man", "--out", &file]).fails_alone();
    assert!(e.contains(&file), "{e}");
}
