//! The committed header `include/mtasts.h` is what cbindgen generates from
//! the crate now (with `cbindgen.toml`), and its version macros are
//! Cargo.toml's version. Regenerate it with:
//!
//! ```text
//! MTASTS_REGENERATE_HEADER=1 cargo test -p mta-sts-ffi --test header
//! ```

use std::path::{Path, PathBuf};

const REGENERATE: &str = "MTASTS_REGENERATE_HEADER=1 cargo test -p mta-sts-ffi --test header";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn header_path() -> PathBuf {
    crate_dir().join("include").join("mtasts.h")
}

/// The version macros, from this crate's version.
fn version_macros() -> String {
    let v = env!("CARGO_PKG_VERSION");
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let minor = env!("CARGO_PKG_VERSION_MINOR");
    let patch = env!("CARGO_PKG_VERSION_PATCH");
    format!(
        "\n/** The version of the library this header belongs to (mtasts_version() returns the library's). */\n\
         #define MTASTS_VERSION \"{v}\"\n\
         #define MTASTS_VERSION_MAJOR {major}\n\
         #define MTASTS_VERSION_MINOR {minor}\n\
         #define MTASTS_VERSION_PATCH {patch}\n"
    )
}

/// The header as cbindgen generates it now.
fn generate(dir: &Path) -> String {
    let mut config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    config.after_includes = Some(version_macros());
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    c_doc_links(&String::from_utf8(out).expect("the header is UTF-8"))
}

/// The rustdoc links of the doc comments as C readers know the names:
/// ``[`mtasts_result::NotYet`]`` becomes `` `MTASTS_RESULT_NOT_YET` ``,
/// ``[`mtasts_lookup_free`](crate::mtasts_lookup_free)`` becomes
/// `` `mtasts_lookup_free` ``.
fn c_doc_links(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut rest = header;
    while let Some(i) = rest.find("[`") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("`]") else {
            break;
        };
        out.push_str(&rest[..i]);
        let name = &after[..j];
        let mut tail = &after[j + 2..];
        if let Some(target) = tail.strip_prefix('(')
            && let Some(k) = target.find(')')
            && !target[..k].contains('\n')
        {
            tail = &target[k + 1..];
        }
        out.push('`');
        out.push_str(&c_name(name));
        out.push('`');
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// `mtasts_mode::Enforce` → `MTASTS_MODE_ENFORCE` (cbindgen's names for
/// enum variants); other names as they are.
fn c_name(name: &str) -> String {
    match name.rsplit_once("::") {
        Some((ty, variant)) if ty.starts_with("mtasts_") => {
            let mut c = ty.to_ascii_uppercase();
            for (k, ch) in variant.chars().enumerate() {
                if k == 0 || ch.is_ascii_uppercase() {
                    c.push('_');
                }
                c.push(ch.to_ascii_uppercase());
            }
            c
        }
        _ => name.trim_start_matches("crate::").to_owned(),
    }
}

#[test]
fn committed_header_is_current() {
    let generated = generate(&crate_dir());
    let path = header_path();
    if std::env::var_os("MTASTS_REGENERATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/mtasts.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} is stale (first difference at line {}: committed {:?}, generated {:?}).\n\
             Regenerate it with:\n    {REGENERATE}",
            path.display(),
            first + 1,
            committed.lines().nth(first).unwrap_or("<end>"),
            generated.lines().nth(first).unwrap_or("<end>"),
        );
    }
}

#[test]
fn header_version_macros_match_cargo_toml() {
    let header = std::fs::read_to_string(header_path()).expect("read include/mtasts.h");
    for line in version_macros()
        .lines()
        .filter(|l| l.starts_with("#define"))
    {
        assert!(
            header.contains(line),
            "the header lacks `{line}`; run {REGENERATE}"
        );
    }
    // And the library says the same.
    // SAFETY: mtasts_version returns a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(mtasts::mtasts_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn every_exported_function_is_in_the_header() {
    let header = std::fs::read_to_string(header_path()).expect("read include/mtasts.h");
    let mut sources = String::new();
    for entry in std::fs::read_dir(crate_dir().join("src")).unwrap() {
        let path = entry.unwrap().path();
        // The libtlsrpt-compatible API is declared in include/tlsrpt.h
        // (checked by tests/tlsrpt_header.rs), not in mtasts.h.
        if path.file_name().is_some_and(|n| n == "tlsrpt_compat.rs") {
            continue;
        }
        sources.push_str(&std::fs::read_to_string(path).unwrap());
    }
    let mut n = 0;
    for line in sources.lines() {
        let line = line.trim_start();
        let Some(rest) = line
            .strip_prefix("pub unsafe extern \"C\" fn ")
            .or_else(|| line.strip_prefix("pub extern \"C\" fn "))
        else {
            continue;
        };
        let name = rest.split('(').next().unwrap();
        n += 1;
        assert!(
            header.contains(&format!(" {name}(")) || header.contains(&format!("*{name}(")),
            "{name} is not declared in include/mtasts.h; run {REGENERATE}"
        );
    }
    assert!(n > 80, "only {n} exported functions found");
}
