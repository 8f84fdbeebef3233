//! Every command of the README's "30-second tour" runs as written, from a
//! directory that looks like the repository root, with the built `mtasts`
//! first on `PATH`: the tour cannot silently rot.

mod common;

use std::path::Path;
use std::process::Command;

use common::TempDir;

/// The shell lines of the first `sh` block after the tour's heading,
/// without comments and blank lines.
fn tour_commands(readme: &str) -> Vec<String> {
    let start = readme
        .find("## The 30-second tour")
        .expect("README has the tour heading");
    let rest = &readme[start..];
    let block = rest
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the tour has a ```sh block");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The exit status a tour command is expected to end with: `policy match`
/// names `evil.example.org` on purpose (1: not every host matches);
/// `report summarize` over all the sample reports finds alerts of
/// severity error (3), unless `--no-fail-on-alerts` is given or the days
/// are narrowed to May 2025 (one clean report); the rest succeed.
fn expected_status(cmd: &str) -> i32 {
    if cmd.starts_with("mtasts policy match ") {
        1
    } else if cmd.starts_with("mtasts report summarize ")
        && !cmd.contains("--no-fail-on-alerts")
        && !cmd.contains("--since 2025-05-01 --until 2025-05-31")
    {
        3
    } else {
        0
    }
}

#[test]
fn every_tour_command_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let commands = tour_commands(&readme);
    assert!(commands.len() >= 12, "{commands:#?}");
    assert!(
        commands.iter().all(|c| c.starts_with("mtasts ")),
        "{commands:#?}"
    );

    // A directory like the repository root: `examples/` and nothing else,
    // so that `> tlsrpt.csv` writes into the temporary directory.
    let dir = TempDir::new();
    std::os::unix::fs::symlink(
        root.join("examples").canonicalize().unwrap(),
        dir.0.join("examples"),
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_mtasts"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for cmd in &commands {
        let out = Command::new("sh")
            .args(["-c", cmd])
            .current_dir(&dir.0)
            .env("PATH", &path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(expected_status(cmd)),
            "`{cmd}`\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "`{cmd}`: {stderr}");
        if !cmd.contains('>') {
            assert!(!stdout.is_empty(), "`{cmd}` printed nothing on stdout");
        }
    }
    // The redirected export wrote its CSV: a header and one row per policy.
    let csv = std::fs::read_to_string(dir.0.join("tlsrpt.csv")).unwrap();
    assert!(csv.lines().count() > 1, "{csv}");
    assert!(csv.starts_with("organization_name,"), "{csv}");
}

#[test]
fn tour_commands_are_found() {
    let readme = "x\n## The 30-second tour\n\n```sh\n# c\nmtasts a\n\nmtasts b > f\n```\n```sh\nmtasts c\n```\n";
    assert_eq!(tour_commands(readme), ["mtasts a", "mtasts b > f"]);
}
