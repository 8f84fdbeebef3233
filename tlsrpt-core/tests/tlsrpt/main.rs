//! Integration tests for tlsrpt-core. Test names carry the checklist IDs
//! (RPT-*) and decision IDs (DEC-*) they cover.

mod alert;
mod corpus;
mod export;
mod filename;
mod input;
mod record;
mod report;
mod roundtrip;
mod summary;
mod time_conversions;

use std::path::Path;

use tlsrpt_core::{Report, ReportError, ReportErrorKind};

/// Every JSON report of the corpus, in this order.
pub(crate) const CORPUS: [&str; 13] = [
    "mail-auth/rpt01.json",
    "mail-auth/rpt02.json",
    "mail-auth/rpt03.json",
    "dmarc-report-viewer/google.json",
    "dmarc-report-viewer/microsoft.json",
    "dmarc-report-viewer/no-contact.json",
    "dmarc-report-viewer/no-policy.json",
    "dmarc-report-viewer/no_ip_and_mx.json",
    "dmarc-report-viewer/rfc-example.json",
    "parsedmarc/mail.ru.json",
    "parsedmarc/rfc8460.json",
    "parsedmarc/smtp_tls.json",
    "rfc/rfc8460-appendix-b-report.corrected.json",
];

/// Where the corpus files are, in the order they are looked up: each file
/// has one copy in the repository (see `testdata/README.md`), under the
/// same path below one of these folders (`mail-auth/rpt01.json`,
/// `rfc/rfc8460-section-5.1-filename.txt`).
const DATA_ROOTS: [&str; 4] = [
    // The README's sample reports.
    "../examples/data/reports",
    // Reports and RFC examples that other crates' tests also read.
    "../testdata/reports",
    "../testdata",
    // The rest of this crate's corpus.
    "tests/data",
];

/// Read a corpus file by its path below one of [`DATA_ROOTS`].
pub(crate) fn data(rel: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = DATA_ROOTS
        .iter()
        .map(|r| root.join(r).join(rel))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{rel}: in none of {DATA_ROOTS:?}"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every file below [`DATA_ROOTS`] whose name ends in `.{extension}`, as its
/// full path, each file once (`../testdata` and `../testdata/reports`
/// overlap), sorted.
pub(crate) fn data_files(extension: &str) -> Vec<std::path::PathBuf> {
    fn visit(dir: &Path, extension: &str, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            if p.is_dir() {
                visit(&p, extension, out);
            } else if p.extension().is_some_and(|x| x == extension) {
                out.push(
                    p.canonicalize()
                        .unwrap_or_else(|e| panic!("{}: {e}", p.display())),
                );
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for r in DATA_ROOTS {
        visit(&root.join(r), extension, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// `template` with every `from` replaced by `to`, after checking that
/// there is a `from` to replace: a fixture whose replacement did nothing
/// would silently test the template instead.
#[track_caller]
pub(crate) fn replaced(template: &str, from: &str, to: &str) -> String {
    assert!(
        template.contains(from),
        "fixture: `{from}` is not in the template:\n{template}"
    );
    template.replace(from, to)
}

/// [`replaced`] for the first `from` only.
#[track_caller]
pub(crate) fn replaced_once(template: &str, from: &str, to: &str) -> String {
    assert!(
        template.contains(from),
        "fixture: `{from}` is not in the template:\n{template}"
    );
    template.replacen(from, to, 1)
}

/// `json` deviates from RFC 8460 in a way the lenient reader tolerates: the
/// lenient reader reads it with a warning `code` at the JSON Pointer
/// `path`, and the strict reader refuses it with its error at the same
/// `path`. Returns the strict reader's error, for checks on its kind.
#[track_caller]
pub(crate) fn assert_deviation(json: &[u8], code: &str, path: &str) -> ReportError {
    let lenient = Report::parse_lenient(json)
        .unwrap_or_else(|e| panic!("the lenient reader refuses (`{code}` at `{path}`): {e}"));
    assert!(
        lenient
            .warnings
            .iter()
            .any(|w| w.code == code && w.path == path),
        "no `{code}` warning at `{path}`: {:?}",
        lenient.warnings
    );
    let Err(e) = Report::parse_strict(json) else {
        panic!("the strict reader accepts (`{code}` at `{path}`)")
    };
    assert_eq!(e.path, path, "the strict reader's error: {e}");
    e
}

/// Both readers refuse `json`, each with its error at the JSON Pointer
/// `path` and of a kind `kind` accepts. Returns the lenient reader's error.
#[track_caller]
pub(crate) fn assert_rejected(
    json: &[u8],
    path: &str,
    kind: impl Fn(&ReportErrorKind) -> bool,
) -> ReportError {
    let Err(strict) = Report::parse_strict(json) else {
        panic!("the strict reader accepts (expected an error at `{path}`)")
    };
    let Err(lenient) = Report::parse_lenient(json) else {
        panic!("the lenient reader accepts (expected an error at `{path}`)")
    };
    for (reader, e) in [("strict", &strict), ("lenient", &lenient)] {
        assert_eq!(e.path, path, "the {reader} reader's error: {e}");
        assert!(
            kind(&e.kind),
            "the {reader} reader's error: {e} ({:?})",
            e.kind
        );
    }
    lenient
}
