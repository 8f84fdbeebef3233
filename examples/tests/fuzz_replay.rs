//! The fuzz targets' stored inputs, replayed by `cargo test` on stable Rust
//! without libFuzzer (see `fuzz/README.md`).
//!
//! Each fuzz target's body is a module in `fuzz/targets/` with a
//! `run(&[u8])` function; `fuzz/fuzz_targets/<name>.rs` includes the same
//! module, so the fuzzer and this test check the same invariants. For every
//! target, every file in `fuzz/seeds/<name>/`, `fuzz/corpus/<name>/` (local
//! only, git-ignored) and `fuzz/regressions/<name>/` is run through it; a
//! panic fails the test with the target and the file named.

use std::collections::BTreeSet;
use std::panic;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};

#[path = "../../fuzz/targets/cert.rs"]
mod cert;
#[path = "../../fuzz/targets/daemon_config.rs"]
mod daemon_config;
#[path = "../../fuzz/targets/discovery.rs"]
mod discovery;
#[path = "../../fuzz/targets/mx_pattern.rs"]
mod mx_pattern;
#[path = "../../fuzz/targets/policy.rs"]
mod policy;
#[path = "../../fuzz/targets/policy_roundtrip.rs"]
mod policy_roundtrip;
#[path = "../../fuzz/targets/socketmap.rs"]
mod socketmap;
#[path = "../../fuzz/targets/sts_record.rs"]
mod sts_record;
#[path = "../../fuzz/targets/tlsrpt_differential.rs"]
mod tlsrpt_differential;
#[path = "../../fuzz/targets/tlsrpt_filename.rs"]
mod tlsrpt_filename;
#[path = "../../fuzz/targets/tlsrpt_input.rs"]
mod tlsrpt_input;
#[path = "../../fuzz/targets/tlsrpt_record.rs"]
mod tlsrpt_record;
#[path = "../../fuzz/targets/tlsrpt_report.rs"]
mod tlsrpt_report;

/// A fuzz target's body: panics when the input breaks an invariant.
type Run = fn(&[u8]);

/// Run `check` on `data` decoded as libfuzzer-sys's `fuzz_target!` decodes
/// a typed input: inputs shorter than the type's minimum size and inputs
/// that do not decode are skipped, the rest is `arbitrary_take_rest`.
fn typed<'a, T: Arbitrary<'a>>(data: &'a [u8], check: impl FnOnce(T)) {
    if data.len() < T::size_hint(0).0 {
        return;
    }
    if let Ok(input) = T::arbitrary_take_rest(Unstructured::new(data)) {
        check(input);
    }
}

/// Every fuzz target: its name (the file name in `fuzz/fuzz_targets/`) and
/// its body.
const TARGETS: &[(&str, Run)] = &[
    ("cert", cert::run),
    ("daemon_config", |data| typed(data, daemon_config::check)),
    ("discovery", |data| typed(data, discovery::check)),
    ("mx_pattern", |data| typed(data, mx_pattern::check)),
    ("policy", policy::run),
    ("policy_roundtrip", |data| {
        typed(data, policy_roundtrip::check)
    }),
    ("socketmap", socketmap::run),
    ("sts_record", sts_record::run),
    ("tlsrpt_differential", tlsrpt_differential::run),
    ("tlsrpt_filename", |data| {
        typed(data, tlsrpt_filename::check)
    }),
    ("tlsrpt_input", tlsrpt_input::run),
    ("tlsrpt_record", tlsrpt_record::run),
    ("tlsrpt_report", tlsrpt_report::run),
];

/// The folders of stored inputs, under `fuzz/`, each with one folder per
/// target: the committed seeds, the local corpus `cargo fuzz run` grows
/// (git-ignored), and the committed crash inputs.
const INPUT_DIRS: &[&str] = &["seeds", "corpus", "regressions"];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the examples crate lives inside the workspace")
        .join("fuzz")
}

fn target_names() -> BTreeSet<String> {
    TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect()
}

/// The stems of the `.rs` files in `dir`.
fn rust_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            p.file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// The stored inputs in `dir`, sorted; hidden files (`.gitkeep`) are not
/// inputs.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(panic payload is not a string)".to_owned()
    }
}

#[test]
fn every_fuzz_target_is_replayed() {
    let fuzz = fuzz_dir();
    let names = target_names();
    assert_eq!(
        names.len(),
        TARGETS.len(),
        "a target is listed twice in TARGETS"
    );
    assert_eq!(
        rust_files(&fuzz.join("fuzz_targets")),
        names,
        "fuzz/fuzz_targets/ and TARGETS in this file list different targets: add the new \
         target's body to fuzz/targets/ and its name here"
    );
    assert_eq!(
        rust_files(&fuzz.join("targets")),
        names,
        "fuzz/targets/ and TARGETS differ"
    );
    // `cargo fuzz list` lists the `[[bin]]` targets of fuzz/Cargo.toml.
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let bins: BTreeSet<String> = manifest
        .split("[[bin]]")
        .skip(1)
        .map(|bin| {
            let line = bin
                .lines()
                .find(|l| l.trim_start().starts_with("name"))
                .expect("[[bin]] without a name");
            line.split('"').nth(1).expect("quoted name").to_owned()
        })
        .collect();
    assert_eq!(
        bins, names,
        "the [[bin]] targets of fuzz/Cargo.toml and TARGETS differ"
    );
    for name in &names {
        // The fuzzer runs the body this test replays.
        let target = fuzz.join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&target).expect("fuzz target");
        let include = format!("#[path = \"../targets/{name}.rs\"]");
        assert!(
            text.contains(&include),
            "{} does not include its body with {include}",
            target.display()
        );
    }
}

#[test]
fn every_fuzz_target_has_seeds() {
    let fuzz = fuzz_dir();
    for (name, _) in TARGETS {
        let seeds = fuzz.join("seeds").join(name);
        assert!(seeds.is_dir(), "{} is missing", seeds.display());
        assert!(!inputs(&seeds).is_empty(), "{} is empty", seeds.display());
    }
    // No input folder is left over from a removed or renamed target.
    let names = target_names();
    for dir in INPUT_DIRS {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                let name = path.file_name().expect("folder name").to_string_lossy();
                assert!(
                    names.contains(&*name),
                    "{} belongs to no fuzz target",
                    path.display()
                );
            }
        }
    }
}

/// The fuzz crate and this workspace decode the typed targets' inputs with
/// the same `arbitrary`, so the replayed bytes mean what they meant to the
/// fuzzer.
#[test]
fn arbitrary_versions_agree() {
    let fuzz = fuzz_dir();
    let version = |lock: &Path| -> String {
        let text =
            std::fs::read_to_string(lock).unwrap_or_else(|e| panic!("{}: {e}", lock.display()));
        let rest = text
            .split("\nname = \"arbitrary\"\n")
            .nth(1)
            .unwrap_or_else(|| panic!("no arbitrary in {}", lock.display()));
        let line = rest.lines().next().expect("version line");
        line.split('"').nth(1).expect("quoted version").to_owned()
    };
    assert_eq!(
        version(&fuzz.join("Cargo.lock")),
        version(&fuzz.join("../Cargo.lock")),
        "`arbitrary` in fuzz/Cargo.lock and Cargo.lock: update the pin in examples/Cargo.toml"
    );
}

#[test]
fn stored_fuzz_inputs_replay() {
    let fuzz = fuzz_dir();
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    for (name, run) in TARGETS {
        // libFuzzer always tries the empty input first.
        let mut files = vec![(String::from("<empty input>"), Vec::new())];
        for dir in INPUT_DIRS {
            let dir = fuzz.join(dir).join(name);
            if dir.is_dir() {
                for path in inputs(&dir) {
                    let data =
                        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    let shown = path.strip_prefix(&fuzz).unwrap_or(&path);
                    files.push((format!("fuzz/{}", shown.display()), data));
                }
            }
        }
        counts.push(format!("{name}: {}", files.len()));
        for (file, data) in &files {
            if let Err(payload) = panic::catch_unwind(|| run(data)) {
                failures.push(format!(
                    "fuzz target {name}, input {file}: {}",
                    panic_message(&*payload)
                ));
            }
        }
    }
    eprintln!(
        "replayed inputs per target (with the empty input): {}",
        counts.join(", ")
    );
    assert!(
        failures.is_empty(),
        "{} stored fuzz inputs fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
