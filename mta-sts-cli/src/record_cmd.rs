//! `mtasts record parse`: select and parse the record of a DNS TXT answer.
//!
//! The kind of record is detected from the version tags present in the
//! answer. Each kind is one entry of [`KINDS`] with its own parse function:
//! `v=STSv1` (kind `sts`, the `_mta-sts` record) and `v=TLSRPTv1` (kind
//! `tlsrpt`, the `_smtp._tls` record). An answer holding records of both
//! kinds is refused: it cannot be the answer to one query.
use std::fmt::Write as _;

use anyhow::{Result, anyhow, bail};
use mta_sts_core::display::escape_controls;
use mta_sts_core::error::SelectErrorOf;
use mta_sts_core::record::STS_VERSION_TAG;
use mta_sts_core::{StsRecord, txt};
use serde_json::{Map, Value};
use tlsrpt_core::TlsRptRecord;
use tlsrpt_core::record::{RuaKind, TLSRPT_VERSION_TAG};

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
    /// Why the record, although printed, is not usable (exit status 1).
    unusable: Option<String>,
}

/// A record kind, recognised by its version tag.
struct Kind {
    /// The version tag, e.g. `v=STSv1`.
    tag: &'static str,
    /// Select and parse the one record of this kind from the answer.
    parse: fn(&[&[u8]]) -> Result<Parsed>,
}

/// The record kinds this command knows, in detection order.
const KINDS: &[Kind] = &[
    Kind {
        tag: STS_VERSION_TAG,
        parse: parse_sts,
    },
    Kind {
        tag: TLSRPT_VERSION_TAG,
        parse: parse_tlsrpt,
    },
];

/// A selection error as a message that names the version tag.
fn select_error<E>(tag: &str, e: &SelectErrorOf<E>) -> anyhow::Error
where
    SelectErrorOf<E>: std::fmt::Display,
{
    match e {
        SelectErrorOf::NoRecord => anyhow!("no record starting with {tag} in the answer"),
        e => anyhow!("{tag}: {e}"),
    }
}

/// The warning for a repeated field that the parser ignored.
fn repeated_field(name: &str, value: &str) -> String {
    format!("repeated field `{name}={value}` ignored (the first one counts)")
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
        .map(|f| repeated_field(&f.name, &f.value))
        .collect();
    Ok(Parsed {
        json,
        lines,
        warnings,
        unusable: None,
    })
}

/// Select and parse the `_smtp._tls` record (kind `tlsrpt`).
///
/// Every `rua` URI is listed in record order, unusable ones too (also
/// under `unsupported_rua` with the reason, and as a warning); a record
/// without a usable URI is printed but makes the command fail (DEC-14).
fn parse_tlsrpt(answer: &[&[u8]]) -> Result<Parsed> {
    let r = TlsRptRecord::select(answer).map_err(|e| select_error(TLSRPT_VERSION_TAG, &e))?;
    let extensions: Map<String, Value> = r
        .extensions()
        .iter()
        .map(|e| (e.name.to_string(), Value::from(e.value.as_ref())))
        .collect();
    let unsupported: Vec<(&str, &str)> = r
        .rua()
        .iter()
        .filter_map(|u| match u.kind {
            RuaKind::Unsupported { reason } => Some((u.uri.as_ref(), reason)),
            _ => None,
        })
        .collect();
    let mut json = Map::new();
    json.insert("kind".into(), "tlsrpt".into());
    json.insert("version".into(), "TLSRPTv1".into());
    json.insert(
        "rua".into(),
        r.rua()
            .iter()
            .map(|u| Value::from(u.uri.as_ref()))
            .collect(),
    );
    json.insert("extensions".into(), Value::Object(extensions));
    if !unsupported.is_empty() {
        json.insert(
            "unsupported_rua".into(),
            unsupported
                .iter()
                .map(|(uri, reason)| serde_json::json!({"uri": uri, "reason": reason}))
                .collect(),
        );
    }
    let mut lines = vec![
        ("kind", "tlsrpt".to_owned()),
        ("version", "TLSRPTv1".to_owned()),
    ];
    lines.extend(r.rua().iter().map(|u| match u.kind {
        RuaKind::Unsupported { reason } => ("rua", format!("{} (unsupported: {reason})", u.uri)),
        _ => ("rua", u.uri.to_string()),
    }));
    lines.extend(
        r.extensions()
            .iter()
            .map(|e| ("extension", format!("{}={}", e.name, e.value))),
    );
    let mut warnings: Vec<String> = r
        .ignored()
        .iter()
        .map(|f| repeated_field(&f.name, &f.value))
        .collect();
    warnings.extend(
        unsupported
            .iter()
            .map(|(uri, reason)| format!("rua URI `{uri}` cannot be used: {reason}")),
    );
    let unusable = (!r.is_usable())
        .then(|| "no usable rua URI (only mailto: and https: are defined)".to_owned());
    Ok(Parsed {
        json,
        lines,
        warnings,
        unusable,
    })
}

/// The most bytes `record parse -` reads from stdin (a DNS message is at
/// most 64 KiB).
const MAX_STDIN: u64 = 64 * 1024;

/// Undo the presentation format `dig` and zone files use for a TXT RR:
/// `"a" "b"` becomes `ab`, with `\"`, `\\` and `\DDD` (a decimal byte)
/// decoded. Text that does not start with `"` is taken as it is.
fn unquote(rr: &str) -> Result<Vec<u8>> {
    let t = rr.trim();
    if !t.starts_with('"') {
        return Ok(rr.as_bytes().to_vec());
    }
    let b = t.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => bail!("unterminated quoted string in `{}`", escape_controls(rr)),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let digits = b
                                .get(i + 1..i + 4)
                                .filter(|d| d.iter().all(u8::is_ascii_digit));
                            if let Some(d) = digits {
                                let v = d.iter().fold(0u32, |v, c| v * 10 + u32::from(c - b'0'));
                                let byte = u8::try_from(v).map_err(|_| {
                                    anyhow!(
                                        "escape `\\{}` is not a byte in `{}`",
                                        String::from_utf8_lossy(d),
                                        escape_controls(rr)
                                    )
                                })?;
                                out.push(byte);
                                i += 4;
                            } else if let Some(&c) = b.get(i + 1) {
                                out.push(c);
                                i += 2;
                            } else {
                                bail!("unterminated quoted string in `{}`", escape_controls(rr));
                            }
                        }
                        Some(&c) => {
                            out.push(c);
                            i += 1;
                        }
                    }
                }
            }
            _ => bail!(
                "text between quoted strings in `{}` (quote the whole record, or none of it)",
                escape_controls(rr)
            ),
        }
    }
    Ok(out)
}

/// The RRs of the answer: the arguments, or stdin's lines for `-`.
fn answer_rrs(args: &RecordParseArgs) -> Result<Vec<Vec<u8>>> {
    if args.records.len() == 1 && args.records[0] == "-" {
        use std::io::Read as _;
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_STDIN + 1)
            .read_to_string(&mut text)
            .map_err(|e| anyhow!("stdin: {e}"))?;
        if text.len() as u64 > MAX_STDIN {
            bail!("stdin: more than {MAX_STDIN} bytes; a DNS answer is smaller");
        }
        let rrs: Vec<Vec<u8>> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(unquote)
            .collect::<Result<_>>()?;
        if rrs.is_empty() {
            bail!("stdin: no TXT record (expected one per line)");
        }
        return Ok(rrs);
    }
    args.records.iter().map(|r| unquote(r)).collect()
}

/// `mtasts record parse`: all arguments together are one DNS answer.
pub(crate) fn parse(args: &RecordParseArgs, json: bool) -> Result<()> {
    let rrs = answer_rrs(args)?;
    let answer: Vec<&[u8]> = rrs.iter().map(Vec::as_slice).collect();
    let present: Vec<&Kind> = KINDS
        .iter()
        .filter(|k| answer.iter().any(|rr| txt::is_candidate(rr, k.tag)))
        .collect();
    let tags = |kinds: &mut dyn Iterator<Item = &Kind>, sep: &str| {
        kinds.map(|k| k.tag).collect::<Vec<_>>().join(sep)
    };
    let kind = match present.as_slice() {
        [] => bail!(
            "no record starting with {} in the answer",
            tags(&mut KINDS.iter(), " or ")
        ),
        [one] => one,
        many => bail!(
            "the answer mixes {} records; give one answer at a time",
            tags(&mut many.iter().copied(), " and ")
        ),
    };
    let parsed = (kind.parse)(&answer)?;
    for w in &parsed.warnings {
        output::warning(w);
    }
    if json {
        output::json(&parsed.json)?;
    } else {
        // Record text is untrusted: each value on one line, escaped.
        let mut out = String::new();
        for (label, value) in &parsed.lines {
            let _ = writeln!(
                out,
                "{:<LABEL_WIDTH$}{}",
                format!("{label}:"),
                escape_controls(value)
            );
        }
        output::text(&out)?;
    }
    match parsed.unusable {
        Some(why) => bail!("{why}"),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::unquote;

    #[test]
    fn unquote_reads_dig_presentation_format() {
        assert_eq!(unquote("v=STSv1; id=1;").unwrap(), b"v=STSv1; id=1;");
        assert_eq!(unquote("\"v=STSv1; id=1;\"").unwrap(), b"v=STSv1; id=1;");
        assert_eq!(
            unquote(" \"v=TLSRPTv1; \" \"rua=mailto:a@example.com\" ").unwrap(),
            b"v=TLSRPTv1; rua=mailto:a@example.com"
        );
        assert_eq!(unquote(r#""a\"b\\c\059d""#).unwrap(), b"a\"b\\c;d");
        assert_eq!(unquote(r#""caf\195\169""#).unwrap(), "café".as_bytes());
    }

    #[test]
    fn unquote_rejects_broken_quoting() {
        let e = unquote("\"v=STSv1; id=1;").unwrap_err().to_string();
        assert!(e.contains("unterminated quoted string"), "{e}");
        let e = unquote("\"a\" b").unwrap_err().to_string();
        assert!(e.contains("text between quoted strings"), "{e}");
        let e = unquote(r#""\999""#).unwrap_err().to_string();
        assert!(e.contains("not a byte"), "{e}");
        let e = unquote("\"a\\").unwrap_err().to_string();
        assert!(e.contains("unterminated"), "{e}");
    }
}
