//! `docs/conformance.md` against the workspace: every requirement or
//! decision ID cited in the code and docs has exactly one row there, and
//! every row names tests that exist or says why it is not tested.
//!
//! IDs are cited in upper case anywhere in `.rs` and `.md` files
//! (`STS-POL-03`, `RPT-JSON-07`, `DEC-05`) and in lower snake case in
//! function names (`fn sts_txt_11_12_...` cites STS-TXT-11 and STS-TXT-12,
//! `fn d10_sts_fetch_09_...` cites D10 and STS-FETCH-09; the discovery
//! table rows `dN` only at the start of a name).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The checklist, relative to the workspace root.
const CHECKLIST: &str = "docs/conformance.md";

/// What a row's "covered by" cell says when no test covers the rule.
const NOT_TESTED: &str = "not tested:";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the examples crate lives inside the workspace")
        .to_path_buf()
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Length of the upper-case ID (`STS-XXX-nn`, `RPT-XXX-nn`, `DEC-nn`) at
/// the start of `b`, if there is one that ends at a word boundary.
fn upper_id_at(b: &[u8]) -> Option<usize> {
    let mut i = 4;
    if b.starts_with(b"STS-") || b.starts_with(b"RPT-") {
        while b.get(i).is_some_and(u8::is_ascii_uppercase) {
            i += 1;
        }
        if i == 4 || b.get(i) != Some(&b'-') {
            return None;
        }
        i += 1;
    } else if !b.starts_with(b"DEC-") {
        return None;
    }
    let digits = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == digits || b.get(i).is_some_and(|&c| is_word(c)) {
        return None;
    }
    Some(i)
}

/// The upper-case IDs cited in `line`. Discovery table rows (`D1`) are
/// not collected in this form: too many other things are called `D2`.
fn upper_ids(line: &str) -> Vec<&str> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let at_boundary = i == 0 || !(is_word(b[i - 1]) || b[i - 1] == b'-');
        match upper_id_at(&b[i..]).filter(|_| at_boundary) {
            Some(len) => {
                out.push(&line[i..i + len]);
                i += len;
            }
            None => i += 1,
        }
    }
    out
}

/// Whether `s` is a whole ID as written in the first cell of a row.
fn is_id(s: &str) -> bool {
    let b = s.as_bytes();
    let d_row = b.len() > 1 && b[0] == b'D' && b[1..].iter().all(u8::is_ascii_digit);
    d_row || upper_id_at(b) == Some(b.len())
}

/// The IDs a function name cites: `sts_txt_11_12_x` gives STS-TXT-11 and
/// STS-TXT-12, `dec_27_dec_28` gives DEC-27 and DEC-28, and `d8_d9_x`
/// gives D8 and D9 (`dN_` counts only at the start of the name).
fn snake_ids(name: &str) -> Vec<String> {
    let t: Vec<&str> = name.split('_').collect();
    let number = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < t.len() && t[i].len() > 1 && t[i].starts_with('d') && number(&t[i][1..]) {
        out.push(format!("D{}", &t[i][1..]));
        i += 1;
    }
    while i < t.len() {
        let head = match t[i] {
            "dec" => Some(("DEC".to_owned(), i + 1)),
            "sts" | "rpt" => t
                .get(i + 1)
                .filter(|g| !g.is_empty() && g.bytes().all(|c| c.is_ascii_lowercase()))
                .map(|g| {
                    let group = g.to_ascii_uppercase();
                    (format!("{}-{group}", t[i].to_ascii_uppercase()), i + 2)
                }),
            _ => None,
        };
        let Some((head, first)) = head else {
            i += 1;
            continue;
        };
        let mut j = first;
        while j < t.len() && number(t[j]) {
            out.push(format!("{head}-{}", t[j]));
            j += 1;
        }
        i = if j == first { i + 1 } else { j };
    }
    out
}

/// The names after each `fn` keyword of `line`.
fn fn_names(line: &str) -> Vec<&str> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = line[from..].find("fn") {
        let at = from + p;
        from = at + 2;
        if at > 0 && is_word(b[at - 1]) {
            continue;
        }
        let rest = &line[at + 2..];
        let name = rest.trim_start_matches([' ', '\t']);
        if name.len() == rest.len() {
            continue;
        }
        let len = name.bytes().take_while(|&c| is_word(c)).count();
        if len > 0 && !name.as_bytes()[0].is_ascii_digit() {
            out.push(&name[..len]);
        }
    }
    out
}

/// The cells of a Markdown table row, or `None` for any other line.
fn table_cells(line: &str) -> Option<Vec<&str>> {
    let line = line.trim();
    if line.len() < 2 || !line.starts_with('|') || !line.ends_with('|') {
        return None;
    }
    Some(line[1..line.len() - 1].split('|').map(str::trim).collect())
}

/// The test names (backticked) of a "covered by" cell, and the reason
/// after `not tested:` if there is one.
fn covered_by(cell: &str) -> (Vec<&str>, Option<&str>) {
    let (tests, reason) = match cell.find(NOT_TESTED) {
        Some(p) => (&cell[..p], Some(cell[p + NOT_TESTED.len()..].trim())),
        None => (cell, None),
    };
    (tests.split('`').skip(1).step_by(2).collect(), reason)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && !s.as_bytes()[0].is_ascii_digit() && s.bytes().all(is_word)
}

/// A row of the checklist.
#[derive(Debug)]
struct Row {
    id: String,
    line: usize,
    tests: Vec<String>,
    reason: Option<String>,
}

/// Read the checklist; returns its rows and the problems found in the
/// rows themselves (shape, duplicates).
fn parse_checklist(text: &str) -> (Vec<Row>, Vec<String>) {
    let mut rows: Vec<Row> = Vec::new();
    let mut problems = Vec::new();
    let mut first_row: BTreeMap<String, usize> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let Some(cells) = table_cells(line) else {
            continue;
        };
        let id = cells[0];
        if !is_id(id) {
            continue;
        }
        let at = format!("{CHECKLIST}:{line_no}");
        if let Some(first) = first_row.get(id) {
            problems.push(format!(
                "{at}: {id} has a second row (the first is at line {first})"
            ));
            continue;
        }
        first_row.insert(id.to_owned(), line_no);
        if cells.len() != 4 {
            problems.push(format!(
                "{at}: the row of {id} has {} cells, expected 4 (ID, level, rule, covered by)",
                cells.len()
            ));
            continue;
        }
        for (cell, what) in [(cells[1], "level"), (cells[2], "rule")] {
            if cell.is_empty() {
                problems.push(format!("{at}: the row of {id} has an empty {what} cell"));
            }
        }
        let (tests, reason) = covered_by(cells[3]);
        for t in &tests {
            if !is_identifier(t) {
                problems.push(format!(
                    "{at}: {id}: `{t}` in the covered-by column is not a test function name"
                ));
            }
        }
        if reason == Some("") {
            problems.push(format!("{at}: {id} says `{NOT_TESTED}` without a reason"));
        }
        rows.push(Row {
            id: id.to_owned(),
            line: line_no,
            tests: tests.into_iter().map(str::to_owned).collect(),
            reason: reason.map(str::to_owned),
        });
    }
    (rows, problems)
}

/// Every `.rs` and `.md` file under `dir`, sorted, without build output,
/// fuzzing corpora, Git data and the checklist itself.
fn source_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .collect();
    entries.sort();
    for path in entries {
        let rel = relative(root, &path);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            let skipped = ["target", ".git"].contains(&name)
                || ["fuzz/target", "fuzz/corpus"].contains(&rel.as_str());
            if !skipped {
                source_files(root, &path, out);
            }
        } else if (name.ends_with(".rs") || name.ends_with(".md")) && rel != CHECKLIST {
            out.push(path);
        }
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// An ID cited outside the checklist.
struct Citation {
    id: String,
    at: String,
    how: String,
}

#[test]
fn checklist_rows_match_the_workspace() {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join(CHECKLIST))
        .unwrap_or_else(|e| panic!("{CHECKLIST}: {e}"));
    let (rows, mut problems) = parse_checklist(&text);
    assert!(
        !rows.is_empty(),
        "{CHECKLIST}: no `| ID | ... |` rows found"
    );

    let mut files = Vec::new();
    source_files(&root, &root, &mut files);
    let mut defined: BTreeSet<String> = BTreeSet::new();
    let mut citations: Vec<Citation> = Vec::new();
    for path in &files {
        let rel = relative(&root, path);
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            let at = format!("{rel}:{}", n + 1);
            for id in upper_ids(line) {
                citations.push(Citation {
                    id: id.to_owned(),
                    at: at.clone(),
                    how: format!("as {id}"),
                });
            }
            for name in fn_names(line) {
                if rel.ends_with(".rs") {
                    defined.insert(name.to_owned());
                }
                for id in snake_ids(name) {
                    citations.push(Citation {
                        id,
                        at: at.clone(),
                        how: format!("in `fn {name}`"),
                    });
                }
            }
        }
    }
    assert!(
        !citations.is_empty() && !defined.is_empty(),
        "no IDs or functions found under {}",
        root.display()
    );

    let listed: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    for c in &citations {
        if !listed.contains(c.id.as_str()) {
            problems.push(format!(
                "{}: cites {} ({}), which has no row in {CHECKLIST}",
                c.at, c.id, c.how
            ));
        }
    }
    for row in &rows {
        let at = format!("{CHECKLIST}:{}", row.line);
        let mut existing = 0;
        for t in &row.tests {
            if defined.contains(t) {
                existing += 1;
            } else if is_identifier(t) {
                problems.push(format!(
                    "{at}: {} names `{t}`, but there is no `fn {t}` in the workspace (renamed or removed?)",
                    row.id
                ));
            }
        }
        if existing == 0 && row.reason.is_none() {
            problems.push(format!(
                "{at}: {} names no existing test and gives no `{NOT_TESTED} <reason>`",
                row.id
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) between {CHECKLIST} and the workspace:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn snake_case_ids_in_function_names() {
    assert_eq!(
        snake_ids("sts_txt_11_12_dns_answers"),
        ["STS-TXT-11", "STS-TXT-12"]
    );
    assert_eq!(
        snake_ids("d10_sts_fetch_09_retry_limit_per_id"),
        ["D10", "STS-FETCH-09"]
    );
    assert_eq!(
        snake_ids("d8_d9_temporary_dns_failure_dec_09"),
        ["D8", "D9", "DEC-09"]
    );
    assert_eq!(
        snake_ids("d11_d12_sts_cache_05_06_background_refresh"),
        ["D11", "D12", "STS-CACHE-05", "STS-CACHE-06"]
    );
    assert_eq!(
        snake_ids("sts_apply_02_sts_mx_07_precheck_before_connecting"),
        ["STS-APPLY-02", "STS-MX-07"]
    );
    assert_eq!(
        snake_ids("rpt_json_04_18_dec_18_unknown_values_preserved"),
        ["RPT-JSON-04", "RPT-JSON-18", "DEC-18"]
    );
    assert_eq!(
        snake_ids("body_limits_and_encoding_dec_27_dec_28"),
        ["DEC-27", "DEC-28"]
    );
    assert_eq!(
        snake_ids("generate_human_output_sts_cache_12_body_on_stdout_records_on_stderr"),
        ["STS-CACHE-12"]
    );
    // Not IDs: `rpt01` is a file name, `dN` counts only at the start and
    // with an underscore after it, a group needs a number.
    for none in [
        "rpt_deliv_x_mail_auth_rpt01",
        "days_from_civil",
        "readiness_d1_window",
        "d2",
        "d_1_x",
        "sts_record_parse",
        "dec_is_decimal",
        "",
    ] {
        assert_eq!(snake_ids(none), Vec::<String>::new(), "{none}");
    }
    // A typo still yields an ID (which then has no row).
    assert_eq!(
        snake_ids(&format!("sts_txt_{}_x", 4)),
        [format!("STS-TXT-{}", 4)]
    );
}

#[test]
fn upper_case_ids_in_text() {
    assert_eq!(
        upper_ids("decision table D1-D12, D1 inside DEC-10 and D12"),
        ["DEC-10"]
    );
    assert_eq!(
        upper_ids("(STS-TXT-02..09, DEC-02, DEC-03)."),
        ["STS-TXT-02", "DEC-02", "DEC-03"]
    );
    assert_eq!(
        upper_ids("RPT-DELIV-02 to -05; DEC-27/28"),
        ["RPT-DELIV-02", "DEC-27"]
    );
    for none in [
        "v=STSv1; v=TLSRPTv1",
        "STS-MX-* and RPT-* and DEC-nn",
        "XSTS-TXT-01 A_DEC-01 STS-TXT-01a DEC-1x",
        "sts-txt-01 dec-01 STS_TXT_01",
        "STS-TXT-",
    ] {
        assert_eq!(upper_ids(none), Vec::<&str>::new(), "{none}");
    }
    let typo = format!("STS-TXT-{}", 99);
    assert_eq!(upper_ids(&format!("see {typo}.")), [typo.as_str()]);
}

#[test]
fn ids_in_the_first_cell() {
    for id in ["D1", "D12", "DEC-10", "STS-TXT-04", "RPT-DELIV-21"] {
        assert!(is_id(id), "{id}");
    }
    for not in [
        "ID", "D", "D1x", "DEC-", "STS-TXT", "STS--01", "Level", "---",
    ] {
        assert!(!is_id(not), "{not}");
    }
}

#[test]
fn function_names() {
    assert_eq!(
        fn_names("pub(crate) async fn d10_sts_fetch_09_x() -> Result<(), E> {"),
        ["d10_sts_fetch_09_x"]
    );
    assert_eq!(fn_names("    fn  main()"), ["main"]);
    for none in [
        "let fn_ptr = 1; // the fn",
        "defn foo()",
        "fn(u8) -> u8",
        "fn",
    ] {
        assert_eq!(fn_names(none), Vec::<&str>::new(), "{none}");
    }
}

#[test]
fn covered_by_cells() {
    assert_eq!(
        covered_by("`sts_txt_04_id_rules_dec_03` (mta-sts-core), `b` (tlsrpt-core)"),
        (vec!["sts_txt_04_id_rules_dec_03", "b"], None)
    );
    assert_eq!(
        covered_by("not tested: revocation (MAY) is not implemented"),
        (vec![], Some("revocation (MAY) is not implemented"))
    );
    assert_eq!(covered_by("not tested:  "), (vec![], Some("")));
}

#[test]
fn checklist_problems_are_reported_with_their_line() {
    let doc = "\
# Title

| ID | Level | Rule | Covered by |
|---|---|---|---|
| D1 | info | one | `d1_sts_cache_03_same_id_no_fetch` (mta-sts-core) |
| D12 | SHOULD | twelve | not tested: a reason |
| DEC-10 | DECISION | ten | |
| DEC-10 | DECISION | again | not tested: x |
| DEC-11 | DECISION | eleven | not tested: |
| DEC-12 | DECISION | `a b` (x) |
| DEC-13 | DECISION | thirteen | `not a name` (x) |
";
    let (rows, problems) = parse_checklist(doc);
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["D1", "D12", "DEC-10", "DEC-11", "DEC-13"]);
    assert_eq!(rows[0].tests, ["d1_sts_cache_03_same_id_no_fetch"]);
    assert_eq!((rows[0].line, rows[1].line), (5, 6));
    assert_eq!(rows[1].reason.as_deref(), Some("a reason"));
    assert_eq!(
        problems,
        [
            "docs/conformance.md:8: DEC-10 has a second row (the first is at line 7)",
            "docs/conformance.md:9: DEC-11 says `not tested:` without a reason",
            "docs/conformance.md:10: the row of DEC-12 has 3 cells, expected 4 (ID, level, rule, covered by)",
            "docs/conformance.md:11: DEC-13: `not a name` in the covered-by column is not a test function name",
        ]
    );
}
