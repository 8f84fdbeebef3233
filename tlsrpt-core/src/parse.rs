//! The report reader: a JSON parser specialised for the RFC 8460 schema.
//!
//! It borrows every string that has no escape sequence, parses counts
//! straight to `u64`, and checks the schema while it reads, so a report is
//! read in one pass. Two modes (DEC-01):
//!
//! - **strict**: the RFC 8460 schema; any deviation is a [`ReportError`]
//!   naming the byte offset and the JSON Pointer path.
//! - **lenient** (the default for reading what others send): the deviations
//!   real senders make are accepted and each is reported as a
//!   [`ReportWarning`] with a [`WarningCode`] (DEC-16 to DEC-21, DEC-24,
//!   DEC-25).
//!
//! Both modes reject what cannot be read without guessing: broken JSON,
//! duplicate members (I-JSON), counts that are not non-negative integers
//! within `u64`, and values of the wrong JSON type.
//!
//! # Layout
//!
//! The reader is one `Parser` (this file: its state, errors and the entry
//! points) with its methods spread over submodules:
//!
//! - `lex`: whitespace, strings, literals, numbers, skipping any value
//!   (unknown members), the SWAR helpers;
//! - `names`: the member enums of the schema's objects and their tables,
//!   declared by the `members!` macro, and the perfect hash;
//! - `pointer`: [`JsonPointer`], and the only code that changes the
//!   current path: `Parser::with_segment` (array elements) and
//!   `Parser::with_members` (an object's member loop), each restoring the
//!   depth it found;
//! - `scalar`: counts, IP addresses, date-times, `contact-info`;
//! - `schema`: the walk over report, `date-range`, `policies` elements,
//!   `policy`, `summary` and `failure-details` elements;
//! - `warning`: [`WarningCode`], [`ReportWarning`] and the two ways of
//!   making one (a warning, or a deviation: an error in strict mode).
//!
//! # How it stays fast
//!
//! See `benches/README.md` for the figures, and `.ci/instructions`, which
//! guards the instruction count. UTF-8 is validated once for the whole
//! input (simdutf8), so strings are borrowed without further checks;
//! strings and whitespace are scanned eight or sixteen bytes at a time in
//! ordinary `u64` arithmetic (SWAR, no `unsafe`); a member name is
//! recognised by a perfect hash of its first eight bytes and a few word
//! compares of `name":`, with a byte-wise fallback for anything unusual
//! (escapes, space before the colon, the end of the input), and arrives at
//! its object's `match` as an enum variant; the common forms of counts, IP
//! addresses and date-times are read by straight-line code, anything else
//! by the general paths; warnings carry their JSON Pointer as segments and
//! a one-byte code, and cost no allocation; policies and failure details
//! are built in place in their vectors; error paths, and member names
//! that miss the fast path, are out of line. `object`, the path helpers
//! and the name lookup are `#[inline(always)]` and take closures, so each
//! object's walk compiles to one monomorphic loop with its `match` inside:
//! keep them that way (no `dyn`, no boxed callbacks). In that loop a
//! member costs one segment store for the path (`name_member`), not a
//! push and a pop: a push/pop per member (`with_segment`) measured about
//! 2% more instructions on both benchmark workloads. Small changes there
//! move LLVM's register
//! allocation; check `.ci/instructions` and the callgrind counts of
//! `benches/examples/profile_parse.rs` (`benches/README.md`) after any.
//!
//! # Adding a member to an object of the schema
//!
//! 1. Add one line to the `members!` invocation in `parse/names.rs`, e.g.
//!    `NewThing = "new-thing",` under `PolicyMember`. The enum variant and
//!    the table entry come from that one line. The build fails, naming the
//!    reason, for more than eight members in an object, a name shorter
//!    than six bytes (the hash reads eight bytes of `name":`), a name given
//!    twice, or a hash with no collision-free multiplier among the
//!    `MAX_TRIES` candidates (the search is bounded, never a hang).
//! 2. Add its arm to that object's `match` in `parse/schema.rs`
//!    (`PolicyMember::NewThing => thing = Some(p.string()?),`): the `match`
//!    is exhaustive, so the build fails until the arm is there. The path
//!    of errors and warnings inside the arm already names the member.
//! 3. Give the model a field for it (`crate::report`), the writer and the
//!    reference reader (`crate::reference`) the same member, so that the
//!    differential tests keep agreeing.
//!
//! A new warning is a new [`WarningCode`] variant (in `parse/warning.rs`)
//! and a call of `Parser::warn` or `Parser::deviation`, mirrored in the
//! reference reader.

use std::borrow::Cow;

use mta_sts_core::Strictness;

use crate::error::{ReportError, ReportErrorKind as K};
use crate::report::{DateRange, FailureDetail, Report};

mod lex;
mod names;
mod pointer;
mod scalar;
mod schema;
mod warning;

pub use pointer::JsonPointer;
pub use warning::{ReportWarning, WarningCode};

/// Most strings in one `policy-string` or `mx-host` list (a policy body
/// is at most 64 KiB, so about 11,000 lines). Each kept string costs more
/// memory than its few bytes of JSON; this bounds what a small input can
/// make the reader allocate.
pub const MAX_STRINGS: usize = 16_384;

/// Nesting limit for unknown members.
pub const MAX_DEPTH: usize = 64;

/// A report (`value`) with the warnings of its reading, in document order:
/// the workspace-wide [`mta_sts_core::Parsed`] shape.
pub type Parsed<'a> = mta_sts_core::Parsed<Report<'a>, ReportWarning>;

impl Report<'_> {
    /// Read a report with the reader `strictness` selects.
    ///
    /// ```
    /// use tlsrpt_core::{Report, Strictness};
    /// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-23T00:00:00Z"},"report-id":"r1","policies":[]}"#;
    /// let read = Report::parse(json, Strictness::Lenient)?;
    /// assert_eq!(read.value.report_id, "r1");
    /// assert_eq!(read.warnings[0].code, "contact-info-missing");
    /// assert!(Report::parse(json, Strictness::Strict).is_err());
    /// # Ok::<(), tlsrpt_core::ReportError>(())
    /// ```
    pub fn parse(json: &[u8], strictness: Strictness) -> Result<Parsed<'_>, ReportError> {
        Parser::read(json, strictness.is_strict())
    }

    /// Read a report with the strict reader.
    pub fn parse_strict(json: &[u8]) -> Result<Parsed<'_>, ReportError> {
        Parser::read(json, true)
    }

    /// Read a report with the lenient reader (DEC-01).
    ///
    /// ```
    /// let json = br#"{"organization-name":"Org","date-range":{"start-datetime":"2024-02-22T00:00:00Z","end-datetime":"2024-02-23T00:00:00Z"},"contact-info":null,"report-id":"r1","policies":[{"policy":{"policy-type":"sts","policy-domain":"example.com","mx-host":"mx.example.com"},"summary":{"total-successful-session-count":5,"total-failure-session-count":0}}]}"#;
    /// let parsed = tlsrpt_core::Report::parse_lenient(json).unwrap();
    /// assert_eq!(parsed.value.policies[0].policy.mx_host, ["mx.example.com"]);
    /// assert!(parsed.warnings.iter().any(|w| w.code == "mx-host-string"));
    /// assert!(tlsrpt_core::Report::parse_strict(json).is_err());
    /// ```
    pub fn parse_lenient(json: &[u8]) -> Result<Parsed<'_>, ReportError> {
        Parser::read(json, false)
    }
}

/// The reader's state for one report; its methods live in the
/// submodules (see the module documentation).
struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    strict: bool,
    /// The JSON Pointer of the current value; changed only by the path
    /// helpers of `pointer.rs` (`with_segment`, `with_members`).
    path: JsonPointer,
    /// The last `YYYY-MM-DD` read in canonical form and its day number.
    last_day: Option<([u8; 10], i64)>,
    warnings: Vec<ReportWarning>,
    /// Reused for the `failure-details` arrays after a large first one:
    /// it grows once per report, and each array is then moved out into an
    /// exact-size `Vec` (no repeated reallocation of large element arrays).
    /// Small reports never allocate it.
    scratch: Vec<FailureDetail<'a>>,
}

/// Internal result: the error is boxed so that the happy path returns
/// small values in registers.
type R<T> = Result<T, Box<ReportError>>;

impl<'a> Parser<'a> {
    fn new(b: &'a [u8], strict: bool) -> Self {
        Self {
            src: "",
            b,
            pos: 0,
            strict,
            path: JsonPointer::ROOT,
            last_day: None,
            warnings: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// An error at the current position and path.
    #[cold]
    #[inline(never)]
    fn err(&self, kind: K) -> Box<ReportError> {
        Box::new(ReportError {
            offset: self.pos,
            path: self.path.to_string(),
            kind,
        })
    }

    /// An error at `offset` and the current path.
    #[cold]
    #[inline(never)]
    fn err_at(&self, offset: usize, kind: K) -> Box<ReportError> {
        Box::new(ReportError {
            offset,
            path: self.path.to_string(),
            kind,
        })
    }

    /// Read one report, with the error unboxed for the public API.
    #[inline(always)]
    fn read(json: &'a [u8], strict: bool) -> Result<Parsed<'a>, ReportError> {
        let mut p = Parser::new(json, strict);
        // The report is written into its final place (no moves of the
        // large value through return slots).
        let mut parsed = Parsed {
            value: Report {
                organization_name: Cow::Borrowed(""),
                date_range: DateRange::default(),
                contact_info: None,
                report_id: Cow::Borrowed(""),
                policies: Vec::new(),
                extensions: Vec::new(),
            },
            warnings: Vec::new(),
        };
        match p.report(&mut parsed.value) {
            Ok(()) => {
                parsed.warnings = std::mem::take(&mut p.warnings);
                Ok(parsed)
            }
            Err(e) => Err(*e),
        }
    }

    fn report(&mut self, out: &mut Report<'a>) -> R<()> {
        let mut start = 0;
        if self.b.starts_with(b"\xef\xbb\xbf") {
            if self.strict {
                return Err(self.err(K::Syntax("`{` (a byte order mark is not allowed)")));
            }
            self.warn(WarningCode::ByteOrderMark, "UTF-8 byte order mark ignored");
            start = 3;
        }
        // simdutf8 validates with SIMD (chosen at run time); on invalid
        // input the standard library names the offset.
        self.src = match simdutf8::basic::from_utf8(&self.b[start..]) {
            Ok(text) => text,
            Err(_) => std::str::from_utf8(&self.b[start..]).map_err(|e| ReportError {
                offset: start + e.valid_up_to(),
                path: String::new(),
                kind: K::NotUtf8,
            })?,
        };
        // Work on the text after the BOM; offsets stay those of the input.
        self.pos = start;
        self.top(out)?;
        self.ws();
        if self.pos != self.b.len() {
            return Err(self.err(K::TrailingData));
        }
        Ok(())
    }
}
