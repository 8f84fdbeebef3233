//! The hand-written `include/tlsrpt.h` (the libtlsrpt-compatible API)
//! is consistent with the library: every function it declares is
//! exported by `libmtasts.so` and has the signature of its Rust
//! definition in `src/tlsrpt_compat.rs` (and the other way round), and
//! every number it defines (version, error codes, enum values) is the
//! library's. The header is not generated (cbindgen cannot produce its
//! shape: tag-named opaque structs, typedef'd enums, the error macros),
//! so this test is what keeps it current.

mod common;

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::process::Command;

use mtasts::tlsrpt_compat as t;

fn header() -> String {
    std::fs::read_to_string(common::crate_dir().join("include/tlsrpt.h")).expect("read tlsrpt.h")
}

/// The header without comments.
fn header_code() -> String {
    let h = header();
    let mut out = String::new();
    let mut rest = h.as_str();
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("*/").expect("closed comment") + i + 2;
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The function declarations of the header: name → whitespace-free
/// `ret|param,param`.
fn header_functions() -> BTreeMap<String, String> {
    let code = header_code();
    let mut out = BTreeMap::new();
    for decl in code.split(';') {
        let decl = decl.trim();
        let Some(open) = decl.find("tlsrpt_").filter(|_| decl.ends_with(')')) else {
            continue;
        };
        if decl.starts_with("typedef") || decl.starts_with("struct") || decl.contains('{') {
            continue;
        }
        // The name is the identifier right before the first '('.
        let paren = decl.find('(').unwrap();
        let before = &decl[..paren];
        let name_start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        assert!(name_start >= open.min(name_start));
        let name = &before[name_start..];
        let ret = &before[..name_start];
        let params = &decl[paren + 1..decl.len() - 1];
        out.insert(
            name.to_owned(),
            format!("{}|{}", squash(ret), squash(params)),
        );
    }
    out
}

/// Split at top-level commas (`->` is not a bracket).
fn split_params(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.replace("->", "→").chars() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The C spelling of a Rust parameter type. `c_int` parameters named
/// like libtlsrpt's enum parameters are that enum (an `int`-sized C
/// enum: the ABI is the same, and the Rust side checks the value).
fn c_type(name: &str, ty: &str) -> String {
    let ty = ty.replace(char::is_whitespace, "").replace('→', "->");
    match (name, ty.as_str()) {
        ("policy_type", "c_int") => "tlsrpt_policy_type_t policy_type".into(),
        ("failure_code", "c_int") => "tlsrpt_failure_t failure_code".into(),
        ("final_result", "c_int") => "tlsrpt_final_result_t final_result".into(),
        (_, "c_int") => format!("int {name}"),
        (_, "*constc_char") => format!("const char *{name}"),
        (_, "*mut*muttlsrpt_connection_t") => format!("struct tlsrpt_connection_t **{name}"),
        (_, "*muttlsrpt_connection_t") => format!("struct tlsrpt_connection_t *{name}"),
        (_, "*mut*muttlsrpt_dr_t") => format!("struct tlsrpt_dr_t **{name}"),
        (_, "*muttlsrpt_dr_t") => format!("struct tlsrpt_dr_t *{name}"),
        (_, "Option<unsafeextern\"C\"fn(usize)->*mutc_void>") => {
            format!("void *(*{name})(size_t)")
        }
        (_, "Option<unsafeextern\"C\"fn(*mutc_void)>") => format!("void (*{name})(void *)"),
        _ => panic!("no C spelling for the Rust parameter `{name}: {ty}`"),
    }
}

fn c_ret(ty: &str) -> &'static str {
    match ty.trim() {
        "" => "void",
        "c_int" => "int",
        "*const c_char" => "const char *",
        other => panic!("no C spelling for the Rust return type `{other}`"),
    }
}

/// The `extern "C"` functions of `src/tlsrpt_compat.rs`, in the header's
/// notation.
fn rust_functions() -> BTreeMap<String, String> {
    let src = std::fs::read_to_string(common::crate_dir().join("src/tlsrpt_compat.rs")).unwrap();
    let mut out = BTreeMap::new();
    let mut rest = src.as_str();
    while let Some(i) = rest.find("extern \"C\" fn tlsrpt_") {
        let after = &rest[i + "extern \"C\" fn ".len()..];
        let paren = after.find('(').unwrap();
        let name = &after[..paren];
        // The parameter list ends at the matching ')'.
        let mut depth = 0;
        let mut end = paren;
        for (k, c) in after[paren..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = paren + k;
                        break;
                    }
                }
                _ => {}
            }
        }
        let params = &after[paren + 1..end];
        let tail = &after[end + 1..];
        let ret = tail[..tail.find('{').unwrap()]
            .trim()
            .strip_prefix("->")
            .unwrap_or("");
        let c_params: Vec<String> = split_params(params)
            .iter()
            .map(|p| {
                let (n, ty) = p.split_once(':').unwrap();
                c_type(n.trim(), ty.trim())
            })
            .collect();
        let c_params = if c_params.is_empty() {
            "void".to_owned()
        } else {
            c_params.join(", ")
        };
        out.insert(
            name.to_owned(),
            format!("{}|{}", squash(c_ret(ret)), squash(&c_params)),
        );
        rest = &after[end..];
    }
    out
}

#[test]
fn every_header_function_matches_its_rust_definition() {
    let h = header_functions();
    let r = rust_functions();
    assert_eq!(h.len(), 19, "{h:#?}");
    for (name, sig) in &h {
        assert_eq!(
            r.get(name),
            Some(sig),
            "include/tlsrpt.h declares {name} as {sig}; src/tlsrpt_compat.rs has {:?}",
            r.get(name)
        );
    }
    for name in r.keys() {
        assert!(
            h.contains_key(name),
            "{name} is exported but not declared in tlsrpt.h"
        );
    }
}

#[test]
fn every_header_function_is_exported_by_the_shared_library() {
    let so = common::lib_dir().join("libmtasts.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
        .expect("nm (binutils) is installed");
    assert!(out.status.success());
    let symbols = String::from_utf8_lossy(&out.stdout);
    let exported: Vec<&str> = symbols
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, kind, name) = (f.next()?, f.next()?, f.next()?);
            (kind == "T").then_some(name)
        })
        .collect();
    for name in header_functions().keys() {
        assert!(
            exported.contains(&name.as_str()),
            "{name} is not exported by {}",
            so.display()
        );
    }
}

/// `#define NAME VALUE` and `NAME = VALUE` enum constants of the header.
fn header_numbers() -> BTreeMap<String, String> {
    let code = header_code();
    let mut out = BTreeMap::new();
    for line in code.lines() {
        let line = line.trim().trim_end_matches(',');
        if let Some(rest) = line.strip_prefix("#define ") {
            if let Some((n, v)) = rest.split_once(' ') {
                out.insert(n.to_owned(), v.trim().to_owned());
            }
        } else if line.starts_with("TLSRPT_")
            && let Some((n, v)) = line.split_once(" = ")
        {
            out.insert(n.to_owned(), v.to_owned());
        }
    }
    out
}

#[test]
fn every_header_number_is_the_librarys() {
    let h = header_numbers();
    let mut want: Vec<(&str, String)> = vec![
        ("TLSRPT_VERSION_MAJOR", t::TLSRPT_VERSION_MAJOR.to_string()),
        ("TLSRPT_VERSION_MINOR", t::TLSRPT_VERSION_MINOR.to_string()),
        ("TLSRPT_VERSION_PATCH", t::TLSRPT_VERSION_PATCH.to_string()),
        (
            "TLSRPT_VERSION_STRING",
            format!("\"{}\"", t::TLSRPT_VERSION_STRING),
        ),
        (
            "TLSRPT_MAXDOMAINNAMELEN",
            t::TLSRPT_MAXDOMAINNAMELEN.to_string(),
        ),
        ("TLSRPT_ERR_TLSRPT", t::TLSRPT_ERR_TLSRPT.to_string()),
        ("TLSRPT_ERR_SOCKET", t::TLSRPT_ERR_SOCKET.to_string()),
        ("TLSRPT_ERR_CLOSE", t::TLSRPT_ERR_CLOSE.to_string()),
        ("TLSRPT_ERR_SENDTO", t::TLSRPT_ERR_SENDTO.to_string()),
        ("TLSRPT_ERR_TLSRPT_CANCELLED", "10703".into()),
        ("TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG", "10711".into()),
        ("TLSRPT_ERR_TLSRPT_UNFINISHEDPOLICY", "10712".into()),
        ("TLSRPT_ERR_TLSRPT_NOCONNECTION", "10713".into()),
        ("TLSRPT_ERR_TLSRPT_NESTEDPOLICY", "10731".into()),
        ("TLSRPT_ERR_TLSRPT_NOPOLICIES", "10732".into()),
        (
            "TLSRPT_ERR_MTASTS_NULL",
            t::TLSRPT_ERR_MTASTS_NULL.to_string(),
        ),
        (
            "TLSRPT_ERR_MTASTS_INVALID_UTF8",
            t::TLSRPT_ERR_MTASTS_INVALID_UTF8.to_string(),
        ),
        (
            "TLSRPT_ERR_MTASTS_FIELD_TOO_LONG",
            t::TLSRPT_ERR_MTASTS_FIELD_TOO_LONG.to_string(),
        ),
        (
            "TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG",
            t::TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG.to_string(),
        ),
        (
            "TLSRPT_ERR_MTASTS_INVALID_ARGUMENT",
            t::TLSRPT_ERR_MTASTS_INVALID_ARGUMENT.to_string(),
        ),
        (
            "TLSRPT_ERR_MTASTS_TOO_MANY",
            t::TLSRPT_ERR_MTASTS_TOO_MANY.to_string(),
        ),
        (
            "TLSRPT_ERR_MTASTS_NO_OPEN_POLICY",
            t::TLSRPT_ERR_MTASTS_NO_OPEN_POLICY.to_string(),
        ),
        (
            "TLSRPT_ERR_MTASTS_PANIC",
            t::TLSRPT_ERR_MTASTS_PANIC.to_string(),
        ),
        ("TLSRPT_POLICY_TLSA", t::TLSRPT_POLICY_TLSA.to_string()),
        ("TLSRPT_POLICY_STS", t::TLSRPT_POLICY_STS.to_string()),
        (
            "TLSRPT_NO_POLICY_FOUND",
            t::TLSRPT_NO_POLICY_FOUND.to_string(),
        ),
        ("TLSRPT_FINAL_SUCCESS", t::TLSRPT_FINAL_SUCCESS.to_string()),
        ("TLSRPT_FINAL_FAILURE", t::TLSRPT_FINAL_FAILURE.to_string()),
    ];
    // The interop facts' numbers for libtlsrpt's own codes.
    assert_eq!(t::TLSRPT_ERR_TLSRPT_CANCELLED, 10703);
    assert_eq!(t::TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG, 10711);
    assert_eq!(t::TLSRPT_ERR_TLSRPT_UNFINISHEDPOLICY, 10712);
    assert_eq!(t::TLSRPT_ERR_TLSRPT_NOCONNECTION, 10713);
    assert_eq!(t::TLSRPT_ERR_TLSRPT_NESTEDPOLICY, 10731);
    assert_eq!(t::TLSRPT_ERR_TLSRPT_NOPOLICIES, 10732);
    for (name, code) in t::TLSRPT_FAILURES {
        want.push((name, code.to_string()));
    }
    for (name, value) in &want {
        assert_eq!(
            h.get(*name),
            Some(value),
            "{name} in include/tlsrpt.h is {:?}, the library's is {value}",
            h.get(*name)
        );
    }
    // Nothing in the header that is not checked here.
    let checked: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    for name in h.keys() {
        assert!(
            checked.contains(&name.as_str()) || name == "TLSRPT_H",
            "{name} in the header is not checked against the library"
        );
    }
    // SAFETY: tlsrpt_version returns a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(t::tlsrpt_version()) };
    assert_eq!(v.to_str().unwrap(), t::TLSRPT_VERSION_STRING);
}

#[test]
fn every_error_code_has_a_distinct_text() {
    let mut seen = std::collections::HashSet::new();
    for (code, text) in t::ERROR_TEXTS {
        // SAFETY: tlsrpt_strerror returns a static NUL-terminated string.
        let got = unsafe { CStr::from_ptr(t::tlsrpt_strerror(code)) };
        assert_eq!(got.to_str().unwrap(), text);
        assert!(seen.insert(text), "{text} twice");
        assert_eq!(t::tlsrpt_error_code_is_internal(code), i32::from(code != 0));
    }
}

/// The install shape the README documents for programs written for
/// libtlsrpt: `libtlsrpt.so` a symlink to `libmtasts.so`, `tlsrpt.h`, and
/// `libtlsrpt.pc` filled from `pkgconfig/libtlsrpt.pc.in`. The libtlsrpt
/// program `tests/c/tlsrpt_postfix.c` builds with `pkg-config --cflags
/// --libs libtlsrpt` alone (no mention of libmtasts), links, and its
/// datagrams arrive and decode. Without a SONAME in `libmtasts.so`, the
/// program records `NEEDED libtlsrpt.so` (the link name): what the README
/// says about keeping that name at run time.
#[test]
fn a_libtlsrpt_program_builds_with_pkg_config_and_links_with_ltlsrpt() {
    let dir = common::scratch("tlsrpt-install");
    let (lib, include) = (dir.join("lib"), dir.join("include"));
    std::fs::create_dir_all(lib.join("pkgconfig")).unwrap();
    std::fs::create_dir_all(&include).unwrap();
    std::os::unix::fs::symlink(
        common::lib_dir().join("libmtasts.so"),
        lib.join("libtlsrpt.so"),
    )
    .unwrap();
    std::fs::copy(
        common::crate_dir().join("include/tlsrpt.h"),
        include.join("tlsrpt.h"),
    )
    .unwrap();
    let pc = std::fs::read_to_string(common::crate_dir().join("pkgconfig/libtlsrpt.pc.in"))
        .unwrap()
        .replace("@PREFIX@", dir.to_str().unwrap())
        .replace("@LIBDIR@", lib.to_str().unwrap())
        .replace("@INCLUDEDIR@", include.to_str().unwrap());
    std::fs::write(lib.join("pkgconfig/libtlsrpt.pc"), pc).unwrap();

    let flags = common::run_ok(
        Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
            .args(["--cflags", "--libs", "libtlsrpt"]),
    );
    let flags = String::from_utf8(flags.stdout).unwrap();
    assert!(flags.contains("-ltlsrpt"), "{flags}");
    let version = common::run_ok(
        Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
            .args(["--modversion", "libtlsrpt"]),
    );
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        t::TLSRPT_VERSION_STRING
    );

    let exe = dir.join("tlsrpt_postfix");
    common::run_ok(
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
            .arg("-o")
            .arg(&exe)
            .arg(common::crate_dir().join("tests/c/tlsrpt_postfix.c"))
            .args(flags.split_whitespace())
            .arg("-Wl,--disable-new-dtags")
            .arg(format!("-Wl,-rpath,{}", lib.display())),
    );
    let elf = common::run_ok(Command::new("readelf").arg("-d").arg(&exe));
    let elf = String::from_utf8_lossy(&elf.stdout);
    assert!(elf.contains("Shared library: [libtlsrpt.so]"), "{elf}");

    let socket = dir.join("s.sock");
    let rx = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    rx.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let receiver = std::thread::spawn(move || {
        let mut buf = vec![0u8; 70_000];
        let mut domains = Vec::new();
        while domains.len() < 5 {
            let Ok(n) = rx.recv(&mut buf) else { break };
            let d = tlsrpt_core::datagram::decode(&buf[..n], &Default::default()).unwrap();
            domains.push(d.domain);
        }
        domains
    });
    common::run_ok(Command::new(&exe).arg(&socket).arg("3"));
    assert_eq!(
        receiver.join().unwrap(),
        [
            "example.com",
            "example.com",
            "example.com",
            "example.org",
            "example.net"
        ]
    );
}
