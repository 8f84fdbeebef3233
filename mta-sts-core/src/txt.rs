//! The `tag=value` TXT record syntax shared by `_mta-sts` (RFC 8461 section
//! 3.1) and `_smtp._tls` (RFC 8460 section 3) records.
//!
//! Both grammars have the same shape:
//!
//! ```text
//! record      = version 1*(field-delim field) [field-delim]
//! field-delim = *WSP ";" *WSP
//! field       = name "=" value
//! ```
//!
//! This module splits a record into its fields and selects the one record
//! of a DNS answer (RRset). Field *values* are validated by the record type
//! that owns them ([`crate::StsRecord`], or `tlsrpt-core`'s record type).

use std::fmt;

use crate::display::Escaped;

/// Join the character-strings of one TXT resource record with nothing in
/// between (RFC 8461 3.1, RFC 8460 3, citing RFC 7208 3.3; STS-TXT-11).
///
/// ```
/// let joined = mta_sts_core::txt::join_character_strings(&["v=STSv1; i", "d=abc"]);
/// assert_eq!(joined, b"v=STSv1; id=abc");
/// ```
pub fn join_character_strings<S: AsRef<[u8]>>(strings: &[S]) -> Vec<u8> {
    let len = strings.iter().map(|s| s.as_ref().len()).sum();
    let mut out = Vec::with_capacity(len);
    for s in strings {
        out.extend_from_slice(s.as_ref());
    }
    out
}

/// Whether a (joined) TXT record is a candidate for `version` (for example
/// `v=STSv1`): it starts with the version tag, followed by the end of the
/// record or optional WSP and a `;` (DEC-02: the ABNF, not a byte-prefix
/// test, decides; `v=STSv12;` is not a candidate).
///
/// ```
/// use mta_sts_core::txt::is_candidate;
/// assert!(is_candidate(b"v=STSv1; id=1", "v=STSv1"));
/// assert!(is_candidate(b"v=STSv1 ; id=1", "v=STSv1"));
/// assert!(!is_candidate(b"v=STSv12; id=1", "v=STSv1"));
/// assert!(!is_candidate(b"v=spf1 -all", "v=STSv1"));
/// ```
pub fn is_candidate(record: &[u8], version: &str) -> bool {
    let Some(rest) = record.strip_prefix(version.as_bytes()) else {
        return false;
    };
    let rest = trim_wsp_start(rest);
    rest.is_empty() || rest[0] == b';'
}

fn trim_wsp_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| is_wsp(**c)).count();
    &b[n..]
}

#[inline]
pub(crate) fn is_wsp(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// The outcome of picking the one record of a version out of a DNS answer
/// (STS-TXT-10, RPT-TXT-08).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection<'a> {
    /// No RR of the answer is a candidate: the domain publishes no record.
    None,
    /// Exactly one candidate: its index in the answer and its bytes (not yet
    /// validated).
    One {
        /// Index of the RR in the answer.
        index: usize,
        /// The joined record.
        record: &'a [u8],
    },
    /// More than one candidate: the domain must be treated as having no
    /// record.
    Multiple {
        /// How many candidates there were.
        count: usize,
    },
}

/// Select the one candidate record for `version` from the RRs of a DNS
/// answer, each already joined with [`join_character_strings`].
///
/// ```
/// use mta_sts_core::txt::{select, Selection};
/// let answer = [b"v=spf1 -all".to_vec(), b"v=STSv1; id=1".to_vec()];
/// assert!(matches!(select(&answer, "v=STSv1"), Selection::One { index: 1, .. }));
/// ```
pub fn select<'a, R: AsRef<[u8]>>(answer: &'a [R], version: &str) -> Selection<'a> {
    let mut found = Selection::None;
    let mut count = 0;
    for (index, rr) in answer.iter().enumerate() {
        let record = rr.as_ref();
        if is_candidate(record, version) {
            count += 1;
            if count == 1 {
                found = Selection::One { index, record };
            }
        }
    }
    if count > 1 {
        Selection::Multiple { count }
    } else {
        found
    }
}

/// Select the one candidate for `version` from a DNS answer and parse it
/// with `parse` (STS-TXT-10, RPT-TXT-08): no candidate, several, or one
/// that is not valid text are errors, as is whatever `parse` rejects.
///
/// ```
/// use mta_sts_core::{StsRecord, txt::select_one};
/// let answer = [b"v=spf1 -all".to_vec(), b"v=STSv1; id=7".to_vec()];
/// let r = select_one(&answer, "v=STSv1", StsRecord::parse).unwrap();
/// assert_eq!(r.id(), "7");
/// ```
pub fn select_one<'a, R, T, E>(
    answer: &'a [R],
    version: &str,
    parse: impl FnOnce(&'a str) -> Result<T, E>,
) -> Result<T, crate::error::SelectErrorOf<E>>
where
    R: AsRef<[u8]>,
    E: From<SyntaxError>,
{
    use crate::error::SelectErrorOf;
    match select(answer, version) {
        Selection::None => Err(SelectErrorOf::NoRecord),
        Selection::Multiple { count } => Err(SelectErrorOf::Multiple { count }),
        Selection::One { index, record } => {
            let text = std::str::from_utf8(record).map_err(|e| SelectErrorOf::Invalid {
                index,
                error: E::from(SyntaxError::NotAscii {
                    offset: e.valid_up_to(),
                    byte: record[e.valid_up_to()],
                }),
            })?;
            parse(text).map_err(|error| SelectErrorOf::Invalid { index, error })
        }
    }
}

/// One `name=value` field of a record, borrowed from the record text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field name, as written.
    pub name: &'a str,
    /// The raw value: everything after `=` up to the next `;`, without the
    /// WSP that belongs to the delimiter. Not yet validated.
    pub value: &'a str,
    /// Byte offset of the name in the record.
    pub name_offset: usize,
    /// Byte offset of the value in the record.
    pub value_offset: usize,
}

/// A syntax error in the shared field structure of a TXT record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxError {
    /// A byte outside US-ASCII (STS-TXT-02).
    #[error("byte {offset}: non-ASCII byte 0x{byte:02x} (records are US-ASCII)")]
    NotAscii {
        /// Byte offset.
        offset: usize,
        /// The byte found.
        byte: u8,
    },
    /// The record does not begin with the version tag.
    #[error("byte 0: record does not begin with `{expected}`")]
    MissingVersion {
        /// The version tag that was expected.
        expected: &'static str,
    },
    /// Something other than the expected token was found.
    #[error("byte {offset}: expected {expected}, found {found}")]
    Expected {
        /// Byte offset.
        offset: usize,
        /// What the grammar allows here.
        expected: &'static str,
        /// What was found (a quoted character, or `end of record`).
        found: Found,
    },
    /// A field name longer than 32 characters.
    #[error("byte {offset}: field name `{}` is longer than 32 characters", Escaped(.name))]
    NameTooLong {
        /// Byte offset of the name.
        offset: usize,
        /// The name.
        name: String,
    },
    /// An extension field with an empty value or a character outside
    /// `%x21-3A / %x3C / %x3E-7E`.
    #[error("byte {offset}: invalid value for field `{}`: {reason}", Escaped(.name))]
    InvalidValue {
        /// Byte offset of the value.
        offset: usize,
        /// Field name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// What a parser found where it expected something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A character.
    Char(char),
    /// The end of the input.
    End,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Char(c) if c.is_ascii_graphic() => write!(f, "`{c}`"),
            Self::Char(c) => write!(f, "{:?}", c),
            Self::End => f.write_str("end of record"),
        }
    }
}

fn found_at(text: &str, offset: usize) -> Found {
    text[offset..]
        .chars()
        .next()
        .map_or(Found::End, Found::Char)
}

/// Whether `name` is a valid field name: `(ALPHA / DIGIT) *31(ALPHA / DIGIT
/// / "_" / "-" / ".")` (the same rule for both TXT records and for policy
/// extension keys).
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

/// Check an extension value: `1*(%x21-3A / %x3C / %x3E-7E)`.
pub fn check_extension_value(field: &Field<'_>) -> Result<(), SyntaxError> {
    if field.value.is_empty() {
        return Err(SyntaxError::InvalidValue {
            offset: field.value_offset,
            name: field.name.to_owned(),
            reason: "the value is empty",
        });
    }
    if let Some(pos) = field
        .value
        .bytes()
        .position(|c| !(0x21..=0x7e).contains(&c) || c == b'=' || c == b';')
    {
        return Err(SyntaxError::InvalidValue {
            offset: field.value_offset + pos,
            name: field.name.to_owned(),
            reason: "values may not contain `=`, `;`, spaces or control characters",
        });
    }
    Ok(())
}

/// Split a record into its fields after checking the version tag and the
/// delimiters.
///
/// The value of a field runs to the next `;` (or the end); WSP before the
/// `;` belongs to the delimiter. Field names are checked; values are not
/// (use [`check_extension_value`] or a field-specific rule).
///
/// ```
/// use mta_sts_core::txt::parse_fields;
/// let fields = parse_fields("v=STSv1; id=20160831085700Z;", "v=STSv1").unwrap();
/// assert_eq!(fields.len(), 1);
/// assert_eq!((fields[0].name, fields[0].value), ("id", "20160831085700Z"));
/// ```
pub fn parse_fields<'a>(
    text: &'a str,
    version: &'static str,
) -> Result<Vec<Field<'a>>, SyntaxError> {
    if let Some(offset) = text.bytes().position(|b| !b.is_ascii()) {
        return Err(SyntaxError::NotAscii {
            offset,
            byte: text.as_bytes()[offset],
        });
    }
    if !text.starts_with(version) {
        return Err(SyntaxError::MissingVersion { expected: version });
    }
    let b = text.as_bytes();
    let mut pos = version.len();
    let mut fields = Vec::new();
    loop {
        // field-delim = *WSP ";" *WSP
        let delim_start = pos;
        while pos < b.len() && is_wsp(b[pos]) {
            pos += 1;
        }
        if pos == b.len() {
            if fields.is_empty() || pos != delim_start {
                // "v=STSv1" with no field, or trailing WSP without `;`.
                return Err(SyntaxError::Expected {
                    offset: pos,
                    expected: "`;`",
                    found: Found::End,
                });
            }
            return Ok(fields);
        }
        if b[pos] != b';' {
            return Err(SyntaxError::Expected {
                offset: pos,
                expected: "`;`",
                found: found_at(text, pos),
            });
        }
        pos += 1;
        while pos < b.len() && is_wsp(b[pos]) {
            pos += 1;
        }
        if pos == b.len() {
            if fields.is_empty() {
                return Err(SyntaxError::Expected {
                    offset: pos,
                    expected: "a field",
                    found: Found::End,
                });
            }
            return Ok(fields); // optional trailing delimiter
        }
        // field = name "=" value
        let name_offset = pos;
        while pos < b.len()
            && (b[pos].is_ascii_alphanumeric() || matches!(b[pos], b'_' | b'-' | b'.'))
        {
            pos += 1;
        }
        let name = &text[name_offset..pos];
        if name.is_empty() || !name.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(SyntaxError::Expected {
                offset: name_offset,
                expected: "a field name (a letter or digit)",
                found: found_at(text, name_offset),
            });
        }
        if name.len() > 32 {
            return Err(SyntaxError::NameTooLong {
                offset: name_offset,
                name: name.to_owned(),
            });
        }
        if pos == b.len() || b[pos] != b'=' {
            return Err(SyntaxError::Expected {
                offset: pos,
                expected: "`=`",
                found: found_at(text, pos),
            });
        }
        pos += 1;
        let value_offset = pos;
        let end = text[pos..].find(';').map_or(b.len(), |i| pos + i);
        let mut value_end = end;
        while value_end > value_offset && is_wsp(b[value_end - 1]) {
            value_end -= 1;
        }
        fields.push(Field {
            name,
            value: &text[value_offset..value_end],
            name_offset,
            value_offset,
        });
        pos = value_end;
    }
}
