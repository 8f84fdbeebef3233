//! Every test fixture has one copy in the repository: no file under
//! `examples/data/`, `testdata/` or a crate's `tests/data/` has the same
//! bytes as another, except the kinds listed in [`allowed`]. Tests and
//! benchmarks read a shared fixture through a path to its one copy (see
//! `testdata/README.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the examples crate lives inside the workspace")
        .to_path_buf()
}

/// The fixture folders, relative to the workspace root.
fn fixture_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.join("examples/data"), root.join("testdata")];
    for entry in std::fs::read_dir(root).expect("workspace root").flatten() {
        let data = entry.path().join("tests/data");
        if data.is_dir() {
            dirs.push(data);
        }
    }
    dirs.sort();
    dirs
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("fixture folder").flatten() {
        let p = entry.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Whether a group of identical files (paths relative to the root, `/`
/// separated) may stay as it is.
fn allowed(group: &[String]) -> bool {
    let name = |p: &String| p.rsplit('/').next().unwrap_or("").to_owned();
    // A licence text sits beside each folder of an upstream project's
    // files, as the licence asks.
    group.iter().all(|p| name(p).starts_with("LICENSE"))
        // One policy body per test host of the postfix-mta-sts-resolver
        // fixture, as its web server serves them; several hosts serve the
        // same body.
        || group
            .iter()
            .all(|p| p.starts_with("mta-sts-core/tests/data/resolver/"))
}

#[test]
fn every_fixture_has_one_copy() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in fixture_dirs(&root) {
        files_under(&dir, &mut files);
    }
    assert!(files.len() > 50, "{files:?}");
    let mut by_content: BTreeMap<Vec<u8>, Vec<String>> = BTreeMap::new();
    for f in files {
        let bytes = std::fs::read(&f).expect("readable fixture");
        let rel = f
            .strip_prefix(&root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        by_content.entry(bytes).or_default().push(rel);
    }
    let copies: Vec<Vec<String>> = by_content
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort();
            g
        })
        .filter(|g| !allowed(g))
        .collect();
    assert!(
        copies.is_empty(),
        "fixtures with the same bytes (keep one copy, see testdata/README.md): {copies:#?}"
    );
}

#[test]
fn allowed_groups() {
    let g = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(allowed(&g(&[
        "examples/data/reports-provenance/LICENSE-mox",
        "tlsrpt-core/tests/data/mox/LICENSE"
    ])));
    assert!(!allowed(&g(&[
        "examples/data/reports/mail-auth/rpt02.json",
        "tlsrpt-core/tests/data/mail-auth/rpt02.json"
    ])));
    assert!(!allowed(&g(&[
        "examples/data/mta-sts.txt",
        "mta-sts-core/tests/data/rfc/policy.txt"
    ])));
    assert!(!allowed(&g(&[
        "examples/data/reports/mail-auth/rpt02.json",
        "mta-sts-cli/tests/data/rpt02.json",
        "tlsrpt-core/tests/data/mail-auth/rpt02.json"
    ])));
}
