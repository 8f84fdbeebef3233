//! `mtasts record parse`: select and parse the record of a DNS TXT answer.
//!
//! The kind of record is detected from the version tags present in the
//! answer. Each kind is one entry of [`KINDS`]; a new one (for example
//! `v=TLSRPTv1`, kind `tlsrpt`) is added there with its own parse function.

use std::fmt::Write as _;

use anyhow::{Result, anyhow, bail};
use mta_sts_core::error::SelectError;
use mta_sts_core::record::STS_VERSION_TAG;
use mta_sts_core::{StsRecord, txt};
use serde_json::{Map, Value};

use crate::RecordParseArgs;
use crate::output;

/// Width of the labels in the text output.
const LABEL_WIDTH: usize = 11;

/// A parsed record, ready to print.
struct Parsed {
    /// The JSON object (keys in output order).
    json: Map<String, Value>,
    /// The text output, one `(label, value)` per line.
    lines: Vec<(&'static str, String)>,
    /// Warnings for stderr.
    warnings: Vec<String>,
}

/// A record kind, recognised by its version tag.
struct Kind {
    /// The version tag, e.g. `v=STSv1`.
    tag: &'static str,
    /// Select and parse the one record of this kind from the answer.
    parse: fn(&[&[u8]]) -> Result<Parsed>,
}

/// The record kinds this command knows, in detection order.
const KINDS: &[Kind] = &[Kind {
    tag: STS_VERSION_TAG,
    parse: parse_sts,
}];

/// A [`SelectError`] as a message that names the version tag.
fn select_error(tag: &str, e: &SelectError) -> anyhow::Error {
    match e {
        SelectError::NoRecord => anyhow!("no record starting with {tag} in the answer"),
        e => anyhow!("{tag}: {e}"),
    }
}

/// Select and parse the `_mta-sts` record (kind `sts`).
fn parse_sts(answer: &[&[u8]]) -> Result<Parsed> {
    let r = StsRecord::select(answer).map_err(|e| select_error(STS_VERSION_TAG, &e))?;
    let extensions: Map<String, Value> = r
        .extensions()
        .iter()
        .map(|e| (e.name.to_string(), Value::from(e.value.as_ref())))
        .collect();
    let mut json = Map::new();
    json.insert("kind".into(), "sts".into());
    json.insert("version".into(), "STSv1".into());
    json.insert("id".into(), r.id().into());
    json.insert("extensions".into(), Value::Object(extensions));
    let mut lines = vec![
        ("kind", "sts".to_owned()),
        ("version", "STSv1".to_owned()),
        ("id", r.id().to_owned()),
    ];
    lines.extend(
        r.extensions()
            .iter()
            .map(|e| ("extension", format!("{}={}", e.name, e.value))),
    );
    let warnings = r
        .ignored()
        .iter()
        .map(|f| {
            format!(
                "repeated field `{}={}` ignored (the first one counts)",
                f.name, f.value
            )
        })
        .collect();
    Ok(Parsed {
        json,
        lines,
        warnings,
    })
}

/// `mtasts record parse`: all arguments together are one DNS answer.
pub(crate) fn parse(args: &RecordParseArgs, json: bool) -> Result<()> {
    let answer: Vec<&[u8]> = args.records.iter().map(|r| r.as_bytes()).collect();
    let present: Vec<&Kind> = KINDS
        .iter()
        .filter(|k| answer.iter().any(|rr| txt::is_candidate(rr, k.tag)))
        .collect();
    let tags = |kinds: &mut dyn Iterator<Item = &Kind>| {
        kinds.map(|k| k.tag).collect::<Vec<_>>().join(" or ")
    };
    let kind = match present.as_slice() {
        [] => bail!(
            "no record starting with {} in the answer",
            tags(&mut KINDS.iter())
        ),
        [one] => one,
        many => bail!(
            "the answer mixes {} records; give one answer at a time",
            tags(&mut many.iter().copied())
        ),
    };
    let parsed = (kind.parse)(&answer)?;
    for w in &parsed.warnings {
        output::warning(w);
    }
    if json {
        return output::json(&parsed.json);
    }
    let mut out = String::new();
    for (label, value) in &parsed.lines {
        let _ = writeln!(out, "{:<LABEL_WIDTH$}{value}", format!("{label}:"));
    }
    output::stdout(&out)
}
