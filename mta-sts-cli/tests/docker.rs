//! The repository's `Dockerfile`: its rules are checked on every run
//! (multi-stage, locked build, slim runtime, non-root user, the daemon as
//! the default command); where a Docker daemon answers, the image is built
//! and run too. Where none answers, that part prints why it did not run.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dockerfile() -> String {
    std::fs::read_to_string(root().join("Dockerfile")).unwrap()
}

/// The instructions of the Dockerfile (comments dropped, continuation
/// lines joined), each as (keyword, arguments).
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(cont) = t.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (k, v) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((k.to_ascii_uppercase(), v.trim().to_owned()));
        current.clear();
    }
    out
}

#[test]
fn dockerfile_is_multi_stage_locked_slim_and_non_root() {
    let ins = instructions(&dockerfile());
    let froms: Vec<&String> = ins
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(
        froms[0].starts_with("rust:") && froms[0].ends_with(" AS build"),
        "{froms:?}"
    );
    assert!(
        froms[1].starts_with("debian:") && froms[1].contains("-slim"),
        "{froms:?}"
    );
    let runtime_start = ins.iter().rposition(|(k, _)| k == "FROM").unwrap();
    let runtime = &ins[runtime_start..];
    let build = &ins[..runtime_start];
    assert!(
        build
            .iter()
            .any(|(k, v)| k == "RUN" && v.contains("cargo build --release --locked -p mta-sts-cli")),
        "{build:?}"
    );
    // The runtime stage runs as a numeric non-root user, set once.
    let users: Vec<&String> = runtime
        .iter()
        .filter(|(k, _)| k == "USER")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(users.len(), 1, "{users:?}");
    let uid: u32 = users[0].split(':').next().unwrap().parse().unwrap();
    assert!(uid >= 1000, "USER {uid}");
    // No compiler or cargo in the runtime stage: only the binary is copied.
    assert!(
        runtime
            .iter()
            .any(|(k, v)| k == "COPY" && v == "--from=build /out/mtasts /usr/local/bin/mtasts")
    );
    assert!(
        !runtime
            .iter()
            .any(|(k, v)| k == "RUN" && v.contains("cargo"))
    );
    let get = |key: &str| {
        runtime
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("ENTRYPOINT"), Some(r#"["/usr/local/bin/mtasts"]"#));
    assert_eq!(
        get("CMD"),
        Some(r#"["daemon", "--listen", "0.0.0.0:8461", "--state", "/var/lib/mtasts"]"#)
    );
    assert_eq!(get("EXPOSE"), Some("8461"));
    // The build context leaves out build output and the fuzz corpora.
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    for entry in ["target", "fuzz/target", "fuzz/corpus", ".git"] {
        assert!(
            ignore.lines().any(|l| l.trim() == entry),
            "{entry} not in .dockerignore"
        );
    }
}

/// Whether a Docker daemon answers; `None` when it does, else why not.
fn docker_unavailable() -> Option<String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Err(e) => Some(format!("`docker` cannot be run: {e}")),
        Ok(o) if !o.status.success() => Some(format!(
            "no Docker daemon answers: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => None,
    }
}

#[test]
fn docker_image_builds_and_runs_as_non_root() {
    if let Some(why) = docker_unavailable() {
        eprintln!("skipped: the Docker image is not built here: {why}");
        return;
    }
    let tag = format!("mtasts-test:{}", std::process::id());
    let st = Command::new("docker")
        .args(["build", "-t", &tag, "."])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(st.success(), "docker build failed");
    let run = |args: &[&str]| {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(args);
        Command::new("docker").args(&a).output().unwrap()
    };
    let v = run(&[&tag, "--version"]);
    assert!(v.status.success());
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("mtasts {}", env!("CARGO_PKG_VERSION"))
    );
    let id = run(&["--entrypoint", "id", &tag, "-u"]);
    assert_eq!(String::from_utf8_lossy(&id.stdout).trim(), "10001");
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
}
